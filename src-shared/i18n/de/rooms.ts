import type { Shape } from '../catalogue.js';
import type { rooms as en } from '../en/rooms.js';

export const rooms: Shape<typeof en> = {};
