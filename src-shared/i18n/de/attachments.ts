import type { Shape } from '../catalogue.js';
import type { attachments as en } from '../en/attachments.js';

export const attachments: Shape<typeof en> = {};
