import type { Shape } from '../catalogue.js';
import type { knocks as en } from '../en/knocks.js';

export const knocks: Shape<typeof en> = {};
