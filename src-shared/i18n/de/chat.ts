import type { Shape } from '../catalogue.js';
import type { chat as en } from '../en/chat.js';

export const chat: Shape<typeof en> = {};
