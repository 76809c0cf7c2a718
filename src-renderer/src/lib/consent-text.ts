// How consent entries read on screen.

import type { RoomView } from '../../../src-shared/contract.js';
import { domainOf } from '../../../src-shared/identifiers.js';
import { personName } from './identity.js';

/** "bob@b.example" for a user URI (handle alone on the viewer's own provider). */
export function who(userUri: string, viewerDomain: string): string {
  return personName(userUri, viewerDomain).label;
}

/**
 * A room as people read it: its name here, else the name the requester gave it (a request names
 * its room), else which provider hosts it; never a bare room URI.
 */
export function roomLabel(roomUri: string | undefined, rooms: RoomView[], namedAs?: string): string {
  if (!roomUri) return 'any room';
  const r = rooms.find((x) => x.roomUri === roomUri);
  if (r) return `“${r.name}”`;
  if (namedAs) return `“${namedAs}”`;
  try {
    return `a room on ${domainOf(roomUri)}`;
  } catch {
    return 'a room';
  }
}

export const OUTCOME_TEXT = {
  pending: 'waiting for an answer',
  granted: 'accepted — you can add them now',
  revoked: 'declined or withdrawn',
} as const;
