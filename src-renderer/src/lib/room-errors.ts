// What to tell the reader when the core refuses an action on a room. The core's own messages name
// the room by URI and the failing step; these say what it means and what still works.

import type { CoreError } from '../../../src-shared/contract.js';
import { t } from '../i18n.js';

/** Functions, not constants: read on each render, they follow a change of language. */
export const roomGoneText = (): string => t('rooms.errors.gone');
export const notMemberText = (): string => t('rooms.errors.notMember');

/** A sentence for room-level refusals, or undefined when the core's message is already the right one. */
export function explainRoomError(e: CoreError): string | undefined {
  switch (e.code) {
    case 'roomUnknown':
      return roomGoneText();
    case 'notMember':
      return notMemberText();
    default:
      return undefined;
  }
}
