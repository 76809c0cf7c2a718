import type { Shape } from '../catalogue.js';
import type { app as en } from '../en/app.js';

export const app: Shape<typeof en> = {};
