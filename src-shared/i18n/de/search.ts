import type { Shape } from '../catalogue.js';
import type { search as en } from '../en/search.js';

export const search: Shape<typeof en> = {};
