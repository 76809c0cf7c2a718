// What to tell the reader when the core refuses an action on a room. The core's own messages name
// the room by URI and the failing step; these say what it means and what still works.

import type { CoreError } from '../../../src-shared/contract.js';

export const ROOM_GONE = 'This room no longer exists on its provider. Its history stays readable here, but nothing new can be sent to it.';
export const NOT_MEMBER = 'You are no longer a member of this room. Its history stays readable here, but you can’t write to it.';

/** A sentence for room-level refusals, or undefined when the core's message is already the right one. */
export function explainRoomError(e: CoreError): string | undefined {
  switch (e.code) {
    case 'roomUnknown':
      return ROOM_GONE;
    case 'notMember':
      return NOT_MEMBER;
    default:
      return undefined;
  }
}
