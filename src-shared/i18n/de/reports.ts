import type { Shape } from '../catalogue.js';
import type { reports as en } from '../en/reports.js';

export const reports: Shape<typeof en> = {};
