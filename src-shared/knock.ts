// A knock (draft-mahy-mimi-pseudonyms 4.3, docs/join-links.md): the one message a knocker sends in
// a room's knock room, a mimi-content part of media type KNOCK_MEDIA_TYPE whose content is
//
//   struct {
//     opaque target_room<V>;      /* the room the knocker asks to join (the ticket's knock_for) */
//     opaque knocker<V>;          /* who to add: the knocker's user URI, or its user pseudonym */
//     opaque note<V>;             /* UTF-8, at most 1000 characters: who they are, why */
//     MLSMessage key_packages<V>; /* KeyPackages to add a pseudonymous knocker with; a real user's
//                                    are claimed from their provider instead, so this may be empty */
//   } Knock;
//
// Who knocks is not taken from the message: the receiver checks `knocker` against the MLS sender
// (the leaf's user), so a knock cannot name someone else.

import { fromUtf8, utf8 } from './bytes.js';
import type { MimiContent } from './content.js';
import { findPart, singlePartContent } from './content-parts.js';
import { TlsReader, TlsWriter } from './tls.js';

export const KNOCK_MEDIA_TYPE = 'application/vnd.mimi-desktop.knock';
export const MAX_KNOCK_NOTE = 1000;
const MAX_KEY_PACKAGES = 8;

export interface Knock {
  targetRoom: string;
  knocker: string;
  note: string;
  keyPackages: Uint8Array[];
}

export class KnockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnockError';
  }
}

export function encodeKnock(k: Knock): Uint8Array {
  if ([...k.note].length > MAX_KNOCK_NOTE) throw new KnockError(`a knock's note has at most ${MAX_KNOCK_NOTE} characters`);
  if (k.keyPackages.length > MAX_KEY_PACKAGES) throw new KnockError(`a knock carries at most ${MAX_KEY_PACKAGES} KeyPackages`);
  const kps = new TlsWriter();
  for (const kp of k.keyPackages) kps.opaqueV(kp);
  return new TlsWriter().opaqueV(utf8(k.targetRoom)).opaqueV(utf8(k.knocker)).opaqueV(utf8(k.note)).opaqueV(kps.finish()).finish();
}

export function decodeKnock(b: Uint8Array): Knock {
  try {
    const r = new TlsReader(b);
    const targetRoom = fromUtf8(r.opaqueV());
    const knocker = fromUtf8(r.opaqueV());
    const note = fromUtf8(r.opaqueV());
    const list = new TlsReader(r.opaqueV());
    r.done();
    const keyPackages: Uint8Array[] = [];
    while (list.remaining > 0) keyPackages.push(list.opaqueV());
    if ([...note].length > MAX_KNOCK_NOTE) throw new Error('note too long');
    if (keyPackages.length > MAX_KEY_PACKAGES) throw new Error('too many KeyPackages');
    return { targetRoom, knocker, note, keyPackages };
  } catch (e) {
    throw new KnockError(`malformed knock: ${(e as Error).message}`);
  }
}

export function knockContent(o: { senderUri: string; roomUri: string; knock: Knock }): MimiContent {
  return singlePartContent({ senderUri: o.senderUri, roomUri: o.roomUri, contentType: KNOCK_MEDIA_TYPE, content: encodeKnock(o.knock) });
}

/** The knock a message carries, if any (KnockError if malformed). */
export function findKnock(content: MimiContent): Knock | undefined {
  const part = findPart(content, KNOCK_MEDIA_TYPE);
  return part === undefined ? undefined : decodeKnock(part);
}
