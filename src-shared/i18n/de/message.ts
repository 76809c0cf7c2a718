import type { Shape } from '../catalogue.js';
import type { message as en } from '../en/message.js';

export const message: Shape<typeof en> = {};
