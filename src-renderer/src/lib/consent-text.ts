// How consent entries read on screen.

import type { RoomView } from '../../../src-shared/contract.js';
import { personName } from './identity.js';

/** "bob@b.example" for a user URI (handle alone on the viewer's own provider). */
export function who(userUri: string, viewerDomain: string): string {
  return personName(userUri, viewerDomain).label;
}

/** A room known here by its name, else its address. */
export function roomLabel(roomUri: string | undefined, rooms: RoomView[]): string {
  if (!roomUri) return 'any room';
  const r = rooms.find((x) => x.roomUri === roomUri);
  return r ? `“${r.name}”` : roomUri;
}

export const OUTCOME_TEXT = {
  pending: 'waiting for an answer',
  granted: 'accepted — you can add them now',
  revoked: 'declined or withdrawn',
} as const;
