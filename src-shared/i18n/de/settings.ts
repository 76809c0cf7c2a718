import type { Shape } from '../catalogue.js';
import type { settings as en } from '../en/settings.js';

export const settings: Shape<typeof en> = {};
