import type { Shape } from '../catalogue.js';
import type { receipts as en } from '../en/receipts.js';

export const receipts: Shape<typeof en> = {};
