// How consent entries read on screen, in the window's language.

import type { ConsentStatus, RoomView } from '../../../src-shared/contract.js';
import { domainOf } from '../../../src-shared/identifiers.js';
import { t } from '../i18n.js';
import { personName } from './identity.js';

/** "bob@b.example" for a user URI (handle alone on the viewer's own provider). */
export function who(userUri: string, viewerDomain: string): string {
  return personName(userUri, viewerDomain).label;
}

/** A name set off as a name (“Lunch”), with the language's quotation marks. */
export function quoted(text: string): string {
  return t('people.quoted', { text });
}

/**
 * A room as people read it: its name here, else the name the requester gave it (a request names
 * its room), else which provider hosts it; never a bare room URI.
 */
export function roomLabel(roomUri: string | undefined, rooms: RoomView[], namedAs?: string): string {
  if (!roomUri) return t('people.room.any');
  const r = rooms.find((x) => x.roomUri === roomUri);
  if (r) return quoted(r.name);
  if (namedAs) return quoted(namedAs);
  try {
    return t('people.room.onProvider', { domain: domainOf(roomUri) });
  } catch {
    return t('people.room.unknown');
  }
}

/** What became of one of our own requests. */
export function outcomeText(status: ConsentStatus): string {
  return t(`people.consent.outcome.${status}`);
}
