// Admission tickets for joining by link (docs/join-links.md). RFC 9420 lets an external Commit
// carry no GroupContextExtensions proposal, so a joiner who is not on the participant list cannot
// list itself in the commit that adds it. The hub, which checked the joining code, signs a ticket
// instead; the joiner carries it in its LeafNode (extension JOIN_TICKET_EXTENSION_TYPE), every member
// checks it with the hub's key from the group's external_senders, and the joiner's next commit
// lists it with the ticket's role.
//
//   struct {
//     opaque room_uri<V>;
//     opaque joiner<V>;          /* user URI or user pseudonym */
//     opaque signature_key<V>;   /* the joiner's leaf signature key: the ticket is for that leaf only */
//     uint16 role_index;
//     opaque code_id<V>;         /* which link (8 bytes); the code itself never appears */
//     uint64 not_after;          /* ms since 1970: the external commit must be accepted before */
//     opaque knock_for<V>;       /* a knock room's ticket: the room knocked at; empty otherwise */
//   } JoinTicketTBS;
//
//   struct {
//     JoinTicketTBS tbs;
//     /* SignWithLabel(hub external sender key, "JoinTicketTBS", tbs) */
//     opaque signature<V>;
//   } JoinTicket;

import { bytesEqual, fromUtf8, utf8 } from './bytes.js';
import { signWithLabel, verifyWithLabel } from './mls-crypto.js';
import { decodeExternalSender } from './mls-structs.js';
import { TlsReader, TlsWriter } from './tls.js';

/** LeafNode extension carrying a JoinTicket (private use range, RFC 9420 17.3). */
export const JOIN_TICKET_EXTENSION_TYPE = 0xf012;
export const JOIN_TICKET_LABEL = 'JoinTicketTBS';
/** How long a ticket is good for: fetch, join and commit in one go. */
export const JOIN_TICKET_LIFETIME_MS = 10 * 60 * 1000;

export interface JoinTicketTbs {
  roomUri: string;
  joiner: string;
  signatureKey: Uint8Array;
  roleIndex: number;
  codeId: Uint8Array;
  notAfter: number;
  /** Set on a knock room's tickets: the room the joiner knocks at. */
  knockFor?: string;
}

export interface JoinTicket extends JoinTicketTbs {
  signature: Uint8Array;
}

export class JoinTicketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JoinTicketError';
  }
}

function writeTbs(w: TlsWriter, t: JoinTicketTbs): void {
  w.opaqueV(utf8(t.roomUri)).opaqueV(utf8(t.joiner)).opaqueV(t.signatureKey).u16(t.roleIndex).opaqueV(t.codeId).u64(BigInt(t.notAfter)).opaqueV(utf8(t.knockFor ?? ''));
}

export function joinTicketTbs(t: JoinTicketTbs): Uint8Array {
  const w = new TlsWriter();
  writeTbs(w, t);
  return w.finish();
}

export function signJoinTicket(hubKeySeed: Uint8Array, tbs: JoinTicketTbs): JoinTicket {
  return { ...tbs, signature: signWithLabel(hubKeySeed, JOIN_TICKET_LABEL, joinTicketTbs(tbs)) };
}

export function encodeJoinTicket(t: JoinTicket): Uint8Array {
  const w = new TlsWriter();
  writeTbs(w, t);
  return w.opaqueV(t.signature).finish();
}

export function decodeJoinTicket(b: Uint8Array): JoinTicket {
  try {
    const r = new TlsReader(b);
    const roomUri = fromUtf8(r.opaqueV());
    const joiner = fromUtf8(r.opaqueV());
    const signatureKey = r.opaqueV();
    const roleIndex = r.u16();
    const codeId = r.opaqueV();
    const notAfter = r.u64();
    const knockFor = fromUtf8(r.opaqueV());
    const signature = r.opaqueV();
    r.done();
    if (notAfter > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('not_after out of range');
    return { roomUri, joiner, signatureKey, roleIndex, codeId, notAfter: Number(notAfter), ...(knockFor ? { knockFor } : {}), signature };
  } catch (e) {
    throw new JoinTicketError(`malformed join ticket: ${(e as Error).message}`);
  }
}

/** The signature key of the group's first external sender (the hub's): external_senders extension data. */
export function hubKeyOfExternalSenders(data: Uint8Array): Uint8Array {
  // RFC 9420 encodes ExternalSender external_senders<V>; ts-mls 1.6.4 writes one bare ExternalSender.
  // Accept both: a vector starts with its length prefix, which a bare ExternalSender would read as
  // the signature key's length followed by the key.
  try {
    return decodeExternalSender(data).signatureKey;
  } catch {
    const r = new TlsReader(data);
    const list = r.opaqueV();
    return new TlsReader(list).opaqueV();
  }
}

/**
 * Why `ticket` does not admit the member with `leaf` into `roomUri`, or undefined when it does.
 * `now`: when the external commit was accepted (omit after the join, when only the signature and
 * binding still matter).
 */
export function joinTicketProblem(
  ticket: JoinTicket,
  p: { roomUri: string; joiner: string; leafSignatureKey: Uint8Array; hubKey: Uint8Array; now?: number },
): string | undefined {
  if (!verifyWithLabel(p.hubKey, JOIN_TICKET_LABEL, joinTicketTbs(ticket), ticket.signature)) return "its signature is not the hub's";
  if (ticket.roomUri !== p.roomUri) return `it is for ${ticket.roomUri}, not ${p.roomUri}`;
  if (ticket.joiner !== p.joiner) return `it admits ${ticket.joiner}, not ${p.joiner}`;
  if (!bytesEqual(ticket.signatureKey, p.leafSignatureKey)) return 'it is for another leaf (signature key)';
  if (p.now !== undefined && p.now > ticket.notAfter) return `it expired at ${new Date(ticket.notAfter).toISOString()}`;
  return undefined;
}

/** The ticket among a LeafNode's extensions, if any (JoinTicketError when malformed or repeated). */
export function joinTicketOfLeaf(extensions: readonly { type: number; data: Uint8Array }[]): JoinTicket | undefined {
  const found = extensions.filter((e) => e.type === JOIN_TICKET_EXTENSION_TYPE);
  if (found.length > 1) throw new JoinTicketError('a leaf carries more than one join ticket');
  return found.length ? decodeJoinTicket(found[0].data) : undefined;
}

/** A member as the tree shows it, enough to judge its ticket. */
export interface TicketLeaf {
  user: string;
  signatureKey: Uint8Array;
  extensions: readonly { type: number; data: Uint8Array }[];
}

/**
 * The users admitted by a valid ticket of the hub (`hubKey`) in `roomUri` who are not on the list
 * (`listed`), with the ticket's role: the CommitFacts.admitted of the tree `leaves`. A leaf whose
 * ticket does not verify admits nobody; it is the caller's rules that then refuse it.
 */
export function admittedByTickets(leaves: readonly TicketLeaf[], roomUri: string, hubKey: Uint8Array | undefined, listed: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  if (!hubKey) return out;
  for (const l of leaves) {
    if (listed.has(l.user)) continue;
    let ticket: JoinTicket | undefined;
    try {
      ticket = joinTicketOfLeaf(l.extensions);
    } catch {
      continue;
    }
    if (ticket && joinTicketProblem(ticket, { roomUri, joiner: l.user, leafSignatureKey: l.signatureKey, hubKey }) === undefined) out.set(l.user, ticket.roleIndex);
  }
  return out;
}
