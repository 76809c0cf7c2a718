import type { Shape } from '../catalogue.js';
import type { shortcuts as en } from '../en/shortcuts.js';

export const shortcuts: Shape<typeof en> = {};
