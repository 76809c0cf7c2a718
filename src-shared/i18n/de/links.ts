import type { Shape } from '../catalogue.js';
import type { links as en } from '../en/links.js';

export const links: Shape<typeof en> = {};
