// Who a room's tree admits by join ticket (docs/join-links.md): the users not on the participant
// list whose leaf carries a valid ticket of the room's hub, with the ticket's role. Every member
// computes it from the same tree and the same hub key (the group's first external sender), so the
// commit checks of every member and the hub agree.

import { admittedByTickets, hubKeyOfExternalSenders, joinTicketOfLeaf, joinTicketProblem, type JoinTicket } from '../../src-shared/join-ticket.js';
import type { RoomState } from '../../src-shared/room-state.js';
import type { GroupSession } from '../mls/engine.js';

const EXTERNAL_SENDERS = 5;

/** The hub's signature key in `s`'s external_senders, if the group has one. */
export function hubKeyOf(s: GroupSession): Uint8Array | undefined {
  const ext = s.extensions().find((e) => e.type === EXTERNAL_SENDERS);
  if (!ext) return undefined;
  try {
    return hubKeyOfExternalSenders(ext.data);
  } catch {
    return undefined;
  }
}

/**
 * CommitFacts.admitted for a commit into the tree of `tree`: tickets judged against the list of
 * `listedBefore` (users already listed need none), with the hub key of `keySource`.
 */
export function admittedIn(tree: GroupSession, listedBefore: RoomState, userOf: (identity: string) => string, keySource: GroupSession = tree): Map<string, number> {
  return admittedByTickets(
    tree.members().map((m) => ({ user: userOf(m.identity), signatureKey: m.signatureKey, extensions: m.extensions })),
    tree.groupId,
    hubKeyOf(keySource),
    new Set(listedBefore.participants.map((p) => p.user)),
  );
}

/**
 * The hub-signed knock ticket (a join ticket with knock_for) of `user`'s leaf in `s`: that user
 * came into this knock room by its knock link and may send its one knock, though not on the list.
 */
export function knockTicketOf(s: GroupSession, user: string, userOf: (identity: string) => string): JoinTicket | undefined {
  const hubKey = hubKeyOf(s);
  if (!hubKey) return undefined;
  for (const m of s.members()) {
    if (userOf(m.identity) !== user) continue;
    let t: JoinTicket | undefined;
    try {
      t = joinTicketOfLeaf(m.extensions);
    } catch {
      continue;
    }
    if (t?.knockFor && joinTicketProblem(t, { roomUri: s.groupId, joiner: user, leafSignatureKey: m.signatureKey, hubKey }) === undefined) return t;
  }
  return undefined;
}
