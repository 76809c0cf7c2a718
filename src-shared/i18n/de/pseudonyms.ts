import type { Shape } from '../catalogue.js';
import type { pseudonyms as en } from '../en/pseudonyms.js';

export const pseudonyms: Shape<typeof en> = {};
