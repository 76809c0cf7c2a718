// Join links at the hub (docs/join-links.md): the codes of the rooms hosted here (hashed), who may
// make and revoke them, and the admission tickets (src-shared/join-ticket.ts) they are exchanged
// for. A ticket is what the joiner carries into its external commit; the hub checks it again there
// and counts the link's use in the same transaction as the commit (`admit`).
//
// Codes: the member's client draws 16 random bytes and sends only their SHA-256; the link holds
// the code, and a joiner presents it to fetch a ticket. A passphrase, if any, is kept as scrypt.
// Attempts are rate-limited per requester (user or pseudonym) and per requesting provider, on
// their own buckets: nothing else a user does waits on them.

import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { bytesEqual, fromUtf8, toHex, utf8 } from '../src-shared/bytes.js';
import { parseMimiUriAs } from '../src-shared/identifiers.js';
import { JOIN_TICKET_LIFETIME_MS, signJoinTicket, encodeJoinTicket, decodeJoinTicket, joinTicketProblem, type JoinTicket } from '../src-shared/join-ticket.js';
import type { ApiErrorCode, JoinLinkInfo } from '../src-shared/provider-api.js';
import { BANNED_ROLE_INDEX, checkChange, joinCodeRoles } from '../src-shared/room-policy.js';
import { roleOf, type RoomState } from '../src-shared/room-state.js';
import { denialText } from '../src-shared/room-commit.js';
import { TlsReader, TlsWriter } from '../src-shared/tls.js';
import { RateLimiter } from './rate-limits.js';
import { ApiFailure, badRequest } from './errors.js';
import { decodeState } from './hub/mls-input.js';
import { createModuleTables, type Store } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS join_links (
  room_uri TEXT NOT NULL,
  id TEXT NOT NULL,
  code_hash BLOB NOT NULL UNIQUE,
  role_index INTEGER NOT NULL,
  max_uses INTEGER,
  uses INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER,
  pass_salt BLOB,
  pass_hash BLOB,
  knock_for TEXT,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  PRIMARY KEY (room_uri, id)
);
CREATE TABLE IF NOT EXISTS knockers (
  room_uri TEXT NOT NULL,
  identity TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  messages INTEGER NOT NULL DEFAULT 0,
  removal_proposed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_uri, identity)
);
`;

interface LinkRow {
  room_uri: string;
  id: string;
  code_hash: Buffer;
  role_index: number;
  max_uses: number | null;
  uses: number;
  expires_at: number | null;
  pass_salt: Buffer | null;
  pass_hash: Buffer | null;
  knock_for: string | null;
  created_by: string;
  created_at: number;
  revoked_at: number | null;
}

/** Why a code gives no ticket (the S2S JoinTicketResponse status, and the client API's error). */
export type TicketRefusal = 'notAuthorized' | 'noSuchRoom' | 'expired' | 'usedUp' | 'revoked' | 'passphraseRequired' | 'banned' | 'rateLimited';
const STATUS: Record<'success' | TicketRefusal, number> = {
  success: 1,
  notAuthorized: 2,
  noSuchRoom: 3,
  expired: 4,
  usedUp: 5,
  revoked: 6,
  passphraseRequired: 7,
  banned: 8,
  rateLimited: 9,
};

export const MAX_LINKS_PER_ROOM = 100;
const SCRYPT = { N: 1 << 14, r: 8, p: 1 } as const;

export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
/** A link's public id: the start of its code's hash (what listing and revoking name). */
export const linkIdOf = (codeHash: Uint8Array): string => toHex(codeHash.subarray(0, 8));

export interface JoinLinkOptions {
  store: Store;
  domain: string;
  /** The hub's external-sender key: it signs tickets, and members know its public half. */
  hubKeySeed: Uint8Array;
  hubPublicKey: Uint8Array;
  now?: () => number;
  /** Ticket attempts per requester: a bucket of `burst`, `perMinute` back. */
  attempts?: { burst: number; perMinute: number };
}

const REFUSAL_CODE: Partial<Record<TicketRefusal, ApiErrorCode>> = {
  noSuchRoom: 'roomUnknown',
  rateLimited: 'rateLimited',
  banned: 'notAllowed',
  passphraseRequired: 'passphraseRequired',
};

/** A ticket refused, with the reason the user reads (and the S2S status). */
export class TicketRefused extends ApiFailure {
  constructor(
    readonly refusal: TicketRefusal,
    message: string,
  ) {
    super(REFUSAL_CODE[refusal] ?? 'linkRefused', message);
  }
}

export class JoinLinks {
  readonly hubPublicKey: Uint8Array;
  private readonly store: Store;
  private readonly domain: string;
  private readonly hubKeySeed: Uint8Array;
  private readonly now: () => number;
  private readonly byRequester: RateLimiter;
  private readonly byProvider: RateLimiter;
  private readonly s;

  constructor(opts: JoinLinkOptions) {
    this.store = opts.store;
    this.domain = opts.domain;
    this.hubKeySeed = opts.hubKeySeed;
    this.hubPublicKey = opts.hubPublicKey;
    this.now = opts.now ?? Date.now;
    const a = opts.attempts ?? { burst: 10, perMinute: 2 };
    // In the database (rate-limits.ts): guesses at a code spread over several nodes count once.
    this.byRequester = new RateLimiter(opts.store, 'join-link-attempts', a.perMinute, this.now, a.burst);
    // A provider speaks for many users: ten of them at once.
    this.byProvider = new RateLimiter(opts.store, 'join-link-attempts-provider', a.perMinute * 10, this.now, a.burst * 10);
    createModuleTables(this.store.db, SCHEMA);
    const db = this.store.db;
    this.s = {
      insert: db.prepare(
        `INSERT INTO join_links (room_uri, id, code_hash, role_index, max_uses, expires_at, pass_salt, pass_hash, knock_for, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      ofRoom: db.prepare<[string], LinkRow>('SELECT * FROM join_links WHERE room_uri = ? ORDER BY created_at, id'),
      count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM join_links WHERE room_uri = ? AND revoked_at IS NULL'),
      byHash: db.prepare<[Buffer], LinkRow>('SELECT * FROM join_links WHERE code_hash = ?'),
      byId: db.prepare<[string, string], LinkRow>('SELECT * FROM join_links WHERE room_uri = ? AND id = ?'),
      revoke: db.prepare<[number, string, string]>('UPDATE join_links SET revoked_at = ? WHERE room_uri = ? AND id = ? AND revoked_at IS NULL'),
      use: db.prepare<[string, string]>('UPDATE join_links SET uses = uses + 1 WHERE room_uri = ? AND id = ? AND (max_uses IS NULL OR uses < max_uses)'),
      forget: db.prepare<[string]>('DELETE FROM join_links WHERE room_uri = ?'),
      forgetKnockers: db.prepare<[string]>('DELETE FROM knockers WHERE room_uri = ?'),
      knocker: db.prepare<[string, string, number]>('INSERT INTO knockers (room_uri, identity, joined_at) VALUES (?, ?, ?) ON CONFLICT (room_uri, identity) DO UPDATE SET joined_at = excluded.joined_at, messages = 0, removal_proposed = 0'),
      knockerRow: db.prepare<[string, string], { joined_at: number; messages: number }>('SELECT joined_at, messages FROM knockers WHERE room_uri = ? AND identity = ?'),
      knocked: db.prepare<[string, string]>('UPDATE knockers SET messages = messages + 1 WHERE room_uri = ? AND identity = ?'),
      overdue: db.prepare<[number], { room_uri: string; identity: string }>('SELECT room_uri, identity FROM knockers WHERE joined_at <= ? AND removal_proposed = 0'),
      proposed: db.prepare<[string, string]>('UPDATE knockers SET removal_proposed = 1 WHERE room_uri = ? AND identity = ?'),
      dropKnocker: db.prepare<[string, string]>('DELETE FROM knockers WHERE room_uri = ? AND identity = ?'),
      knockRoomOf: db.prepare<[string], { room_uri: string }>('SELECT room_uri FROM join_links WHERE knock_for = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1'),
      isKnockRoom: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM join_links WHERE room_uri = ? AND knock_for IS NOT NULL LIMIT 1'),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Making, listing, revoking (a participant of a room hosted here)

  private state(roomUri: string): RoomState {
    const row = this.store.hostedRoom(roomUri);
    if (!row) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
    if (!row.room_state) throw new ApiFailure('notAllowed', `${roomUri} has no room state: no room policy says who may make links or which role a joiner gets`);
    return decodeState(row.room_state, 'stored room state');
  }

  create(
    actingUser: string,
    roomUri: string,
    o: { codeHash: Uint8Array; roleIndex?: number; maxUses?: number; expiresInSeconds?: number; passphrase?: string; knockFor?: string },
  ): JoinLinkInfo {
    const state = this.state(roomUri);
    if (!this.store.isParticipant(roomUri, actingUser)) throw new ApiFailure('notMember', `${actingUser} is not a participant of ${roomUri}`);
    const roles = joinCodeRoles(state.policy);
    if (roles.length === 0) {
      throw new ApiFailure('notAllowed', 'this room lets nobody join with a link: its no_role lacks canUseJoinCode (the cooperative preset). Rooms made as "administered" or "moderated" can have links.');
    }
    const may = checkChange(state.policy, state.participants, actingUser, { kind: 'use', capability: 'canCreateJoinCode' });
    if (!may.ok) throw new ApiFailure('notAllowed', `the room policy does not let you make links here: ${denialText(may)}`);
    const roleIndex = o.roleIndex ?? roles[roles.length - 1];
    if (!roles.includes(roleIndex)) throw badRequest(`a link can give role ${roles.join(' or ')} in this room, not ${roleIndex}`);
    if (o.codeHash.length !== 32) throw badRequest('codeHash must be the 32-byte SHA-256 of the code');
    if (o.maxUses !== undefined && (!Number.isInteger(o.maxUses) || o.maxUses < 1 || o.maxUses > 100000)) throw badRequest('maxUses must be 1-100000');
    if (o.expiresInSeconds !== undefined && (!Number.isInteger(o.expiresInSeconds) || o.expiresInSeconds < 60 || o.expiresInSeconds > 366 * 86400)) {
      throw badRequest('expiresInSeconds must be 60 to 31622400 (a minute to a year)');
    }
    if (o.passphrase !== undefined && (o.passphrase.length < 4 || o.passphrase.length > 200)) throw badRequest('a passphrase has 4 to 200 characters');
    if (o.knockFor !== undefined && !parseMimiUriAs('room', o.knockFor)) throw badRequest('knockFor must be a room URI');
    if (this.s.count.get(roomUri)!.n >= MAX_LINKS_PER_ROOM) throw new ApiFailure('notAllowed', `a room has at most ${MAX_LINKS_PER_ROOM} links; revoke some first`);
    const now = this.now();
    const salt = o.passphrase !== undefined ? randomBytes(16) : null;
    const row: LinkRow = {
      room_uri: roomUri,
      id: linkIdOf(o.codeHash),
      code_hash: Buffer.from(o.codeHash),
      role_index: roleIndex,
      max_uses: o.maxUses ?? null,
      uses: 0,
      expires_at: o.expiresInSeconds !== undefined ? now + o.expiresInSeconds * 1000 : null,
      pass_salt: salt,
      pass_hash: salt ? scryptSync(o.passphrase!.normalize('NFC'), salt, 32, SCRYPT) : null,
      knock_for: o.knockFor ?? null,
      created_by: actingUser,
      created_at: now,
      revoked_at: null,
    };
    // Positional parameters (PostgreSQL has no named ones), and a taken code is found through
    // ON CONFLICT rather than a failing statement, which would abort a PostgreSQL transaction.
    const inserted = this.s.insert.run(
      row.room_uri, row.id, row.code_hash, row.role_index, row.max_uses, row.expires_at,
      row.pass_salt, row.pass_hash, row.knock_for, row.created_by, row.created_at,
    ).changes;
    if (inserted === 0) throw badRequest('a link with this code exists already: draw a new code');
    return this.info(row);
  }

  list(actingUser: string, roomUri: string): JoinLinkInfo[] {
    this.state(roomUri);
    if (!this.store.isParticipant(roomUri, actingUser)) throw new ApiFailure('notMember', `${actingUser} is not a participant of ${roomUri}`);
    return this.s.ofRoom.all(roomUri).map((r) => this.info(r));
  }

  /** Revoking needs canDeleteJoinCode, or being the link's maker. */
  revoke(actingUser: string, roomUri: string, id: string): JoinLinkInfo[] {
    const state = this.state(roomUri);
    if (!this.store.isParticipant(roomUri, actingUser)) throw new ApiFailure('notMember', `${actingUser} is not a participant of ${roomUri}`);
    const row = this.s.byId.get(roomUri, id);
    if (!row) throw new ApiFailure('notFound', `${roomUri} has no link ${id}`);
    if (row.created_by !== actingUser) {
      const may = checkChange(state.policy, state.participants, actingUser, { kind: 'use', capability: 'canDeleteJoinCode' });
      if (!may.ok) throw new ApiFailure('notAllowed', `only its maker or a role with canDeleteJoinCode revokes a link: ${denialText(may)}`);
    }
    this.s.revoke.run(this.now(), roomUri, id);
    return this.list(actingUser, roomUri);
  }

  private info(r: LinkRow): JoinLinkInfo {
    return {
      id: r.id,
      roomUri: r.room_uri,
      roleIndex: r.role_index,
      maxUses: r.max_uses,
      uses: r.uses,
      expiresAt: r.expires_at,
      passphrase: r.pass_hash !== null,
      ...(r.knock_for ? { knockFor: r.knock_for } : {}),
      createdBy: r.created_by,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    };
  }

  /** The room is gone: its links and knockers too. */
  forgetRoom(roomUri: string): void {
    this.s.forget.run(roomUri);
    this.s.forgetKnockers.run(roomUri);
  }

  // ---------------------------------------------------------------------------------------------
  // Tickets

  /**
   * A ticket for `joiner` (a user URI or user pseudonym, its leaf's `signatureKey`) to join
   * `roomUri` with `code`. `via`: the requesting provider, for its own rate bucket. Throws
   * TicketRefused with what is wrong.
   */
  issue(roomUri: string, joiner: string, o: { code: Uint8Array; passphrase?: string; signatureKey: Uint8Array; via?: string }): JoinTicket {
    const limited = (key: string, bucket: RateLimiter) => {
      const wait = bucket.take(key);
      if (wait > 0) throw new TicketRefused('rateLimited', `too many attempts with links; try again in ${Math.ceil(wait / 1000)} s`);
    };
    limited(joiner, this.byRequester);
    if (o.via !== undefined && o.via !== this.domain) limited(o.via, this.byProvider);
    const row = this.store.hostedRoom(roomUri);
    if (!row) throw new TicketRefused('noSuchRoom', `no room ${roomUri} on ${this.domain}`);
    if (o.signatureKey.length !== 32) throw badRequest('signatureKey must be the 32-byte Ed25519 key of the joining leaf');
    const link = o.code.length === 16 ? this.s.byHash.get(Buffer.from(sha256(o.code))) : undefined;
    if (!link || link.room_uri !== roomUri) throw new TicketRefused('notAuthorized', 'this link is not valid for this room: check that it was copied whole, or ask for a new one');
    if (link.revoked_at !== null) throw new TicketRefused('revoked', 'this link was revoked by the room; ask its admins for a new one');
    const now = this.now();
    if (link.expires_at !== null && now > link.expires_at) throw new TicketRefused('expired', `this link expired on ${new Date(link.expires_at).toISOString()}; ask for a new one`);
    if (link.max_uses !== null && link.uses >= link.max_uses) throw new TicketRefused('usedUp', 'this link has been used as often as it may be; ask for a new one');
    if (link.pass_hash) {
      if (o.passphrase === undefined) throw new TicketRefused('passphraseRequired', 'this link needs its passphrase; ask whoever gave you the link');
      const h = scryptSync(o.passphrase.normalize('NFC'), link.pass_salt!, 32, SCRYPT);
      if (!timingSafeEqual(h, link.pass_hash)) throw new TicketRefused('passphraseRequired', 'that passphrase is not the link’s; check it and try again');
    }
    if (row.room_state && roleOf(decodeState(row.room_state, 'stored room state'), joiner) === BANNED_ROLE_INDEX) {
      throw new TicketRefused('banned', `${joiner} is banned from this room: a link does not change that`);
    }
    return signJoinTicket(this.hubKeySeed, {
      roomUri,
      joiner,
      signatureKey: o.signatureKey,
      roleIndex: link.role_index,
      codeId: link.code_hash.subarray(0, 8),
      notAfter: now + JOIN_TICKET_LIFETIME_MS,
      ...(link.knock_for ? { knockFor: link.knock_for } : {}),
    });
  }

  /** Does `encoded` (a ticket as a /groupInfo joining code) let `requester` fetch the GroupInfo of `roomUri`? */
  authorizesGroupInfo(roomUri: string, encoded: Uint8Array, requester: string): boolean {
    try {
      const t = decodeJoinTicket(encoded);
      return t.roomUri === roomUri && t.joiner === requester && this.now() <= t.notAfter && joinTicketProblem(t, { roomUri, joiner: requester, leafSignatureKey: t.signatureKey, hubKey: this.hubPublicKey }) === undefined;
    } catch {
      return false;
    }
  }

  /**
   * In the hub's transaction accepting an external commit by `joiner`, not a participant: its leaf
   * must carry a valid, unexpired ticket of ours, and the link must still allow a use, which this
   * counts. Returns the ticket (its role and knock target); throws ApiFailure otherwise.
   */
  admit(roomUri: string, joiner: { identity: string; user: string; signatureKey: Uint8Array; ticket?: JoinTicket }): JoinTicket {
    const t = joiner.ticket;
    if (!t) throw new ApiFailure('notMember', `${joiner.user} is not a participant of ${roomUri} (a joiner who is not needs a join link)`);
    const problem = joinTicketProblem(t, { roomUri, joiner: joiner.user, leafSignatureKey: joiner.signatureKey, hubKey: this.hubPublicKey, now: this.now() });
    if (problem) throw new ApiFailure('notAllowed', `the joiner's admission ticket is not valid: ${problem}`);
    const link = this.s.byId.get(roomUri, toHex(t.codeId));
    if (!link || !bytesEqual(link.code_hash.subarray(0, 8), t.codeId)) throw new ApiFailure('notAllowed', 'the joiner’s link no longer exists');
    if (link.revoked_at !== null) throw new ApiFailure('linkRefused', 'the joiner’s link was revoked');
    if (this.s.use.run(roomUri, link.id).changes !== 1) throw new ApiFailure('linkRefused', 'the joiner’s link has been used as often as it may be');
    if (t.knockFor) this.s.knocker.run(roomUri, joiner.identity, this.now());
    return t;
  }

  // ---------------------------------------------------------------------------------------------
  // Knock rooms

  isKnockRoom(roomUri: string): boolean {
    return this.s.isKnockRoom.get(roomUri) !== undefined;
  }

  /** The newest knock room of `target` with a live link, if any. */
  knockRoomOf(target: string): string | undefined {
    return this.s.knockRoomOf.get(target)?.room_uri;
  }

  /** A knocker's message: the first is taken (and counted), later ones are refused. */
  acceptKnock(roomUri: string, identity: string): void {
    const row = this.s.knockerRow.get(roomUri, identity);
    if (!row) throw new ApiFailure('notAllowed', `${identity} did not join ${roomUri} by its knock link`);
    if (row.messages > 0) throw new ApiFailure('notAllowed', 'a knocker sends one knock; it was sent already');
    this.s.knocked.run(roomUri, identity);
  }

  isKnocker(roomUri: string, identity: string): boolean {
    return this.s.knockerRow.get(roomUri, identity) !== undefined;
  }

  /** Knockers who joined `maxAgeMs` ago or earlier and are still there, marked as proposed for removal. */
  overdueKnockers(maxAgeMs: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.s.overdue.all(this.now() - maxAgeMs)) {
      this.s.proposed.run(r.room_uri, r.identity);
      out.set(r.room_uri, [...(out.get(r.room_uri) ?? []), r.identity]);
    }
    return out;
  }

  /** A knocker left (its leaf is gone). */
  knockerLeft(roomUri: string, identity: string): void {
    this.s.dropKnocker.run(roomUri, identity);
  }
}

// ---------------------------------------------------------------------------------------------
// The private-use S2S endpoint /joinTicket/{roomId} (docs/join-links.md)
//
//   struct {
//     opaque joiner<V>;          /* user URI or user pseudonym of the requesting provider */
//     opaque code<V>;            /* the 16-byte code from the link */
//     opaque passphrase<V>;      /* UTF-8, empty when none */
//     opaque signature_key<V>;   /* the joiner's leaf signature key */
//   } JoinTicketRequest;
//
//   struct {
//     uint8 status;              /* 1 success, 2 notAuthorized, 3 noSuchRoom, 4 expired, 5 usedUp,
//                                   6 revoked, 7 passphraseRequired, 8 banned, 9 rateLimited */
//     opaque ticket<V>;          /* JoinTicket when success, else empty */
//     opaque reason<V>;          /* UTF-8, for the user */
//   } JoinTicketResponse;

export interface JoinTicketRequest {
  joiner: string;
  code: Uint8Array;
  passphrase?: string;
  signatureKey: Uint8Array;
}

export function encodeJoinTicketRequest(r: JoinTicketRequest): Uint8Array {
  return new TlsWriter().opaqueV(utf8(r.joiner)).opaqueV(r.code).opaqueV(utf8(r.passphrase ?? '')).opaqueV(r.signatureKey).finish();
}

export function decodeJoinTicketRequest(b: Uint8Array): JoinTicketRequest {
  const r = new TlsReader(b);
  const joiner = fromUtf8(r.opaqueV());
  const code = r.opaqueV();
  const passphrase = fromUtf8(r.opaqueV());
  const signatureKey = r.opaqueV();
  r.done();
  return { joiner, code, ...(passphrase ? { passphrase } : {}), signatureKey };
}

export function encodeJoinTicketResponse(status: 'success' | TicketRefusal, ticket: Uint8Array, reason: string): Uint8Array {
  return new TlsWriter().u8(STATUS[status]).opaqueV(ticket).opaqueV(utf8(reason)).finish();
}

export function decodeJoinTicketResponse(b: Uint8Array): { status: 'success' | TicketRefusal; ticket: Uint8Array; reason: string } {
  const r = new TlsReader(b);
  const code = r.u8();
  const ticket = r.opaqueV();
  const reason = fromUtf8(r.opaqueV());
  r.done();
  const status = (Object.entries(STATUS).find(([, v]) => v === code)?.[0] ?? 'notAuthorized') as 'success' | TicketRefusal;
  return { status, ticket, reason };
}

/** Serve /joinTicket/{roomId} for `peer`: the joiner must be one of the peer's users or pseudonyms. */
export function serveJoinTicket(links: JoinLinks, peer: string, roomId: string, body: Uint8Array): Uint8Array {
  let req: JoinTicketRequest;
  try {
    req = decodeJoinTicketRequest(body);
  } catch (e) {
    throw badRequest(`JoinTicketRequest is malformed: ${(e as Error).message}`);
  }
  const who = parseMimiUriAs('user', req.joiner) ?? parseMimiUriAs('pseudonym', req.joiner);
  if (!who || who.domain !== peer) return encodeJoinTicketResponse('notAuthorized', new Uint8Array(), `the joiner must be a user or pseudonym of ${peer}`);
  try {
    const t = links.issue(roomId, req.joiner, { code: req.code, passphrase: req.passphrase, signatureKey: req.signatureKey, via: peer });
    return encodeJoinTicketResponse('success', encodeJoinTicket(t), '');
  } catch (e) {
    if (e instanceof TicketRefused) return encodeJoinTicketResponse(e.refusal, new Uint8Array(), e.message);
    throw e;
  }
}

/** The follower side's reading of a JoinTicketResponse: the ticket, or the hub's refusal as an ApiFailure. */
export function ticketFromResponse(hub: string, body: Uint8Array): Uint8Array {
  let res;
  try {
    res = decodeJoinTicketResponse(body);
  } catch (e) {
    throw new ApiFailure('internal', `hub ${hub} sent an unusable JoinTicketResponse: ${(e as Error).message}`, { status: 502 });
  }
  if (res.status === 'success') return res.ticket;
  throw new TicketRefused(res.status, `${hub}: ${res.reason || res.status}`);
}

// ---------------------------------------------------------------------------------------------
// The private-use S2S endpoint /joinLinks/{roomId}: a follower's member makes, lists and revokes
// the links of a room hosted here (docs/join-links.md). The peer speaks for its own users only.
//
//   struct {
//     uint8 action;                   /* 1 create, 2 list, 3 revoke */
//     opaque acting_user<V>;          /* a user or user pseudonym of the requesting provider */
//     select (action) {
//       case create:
//         opaque code_hash<V>;
//         uint16 role_index;          /* 0: the room's default for links */
//         uint32 max_uses;            /* 0: any number */
//         uint32 expires_in_seconds;  /* 0: never */
//         opaque passphrase<V>;       /* UTF-8, empty when none */
//         opaque knock_for<V>;        /* empty unless a knock room's link */
//       case revoke:
//         opaque id<V>;
//       case list:
//         struct {};
//     };
//   } JoinLinksRequest;
//
//   struct {
//     opaque id<V>; uint16 role_index; uint32 max_uses; uint32 uses; uint64 expires_at;
//     uint8 passphrase; opaque knock_for<V>; opaque created_by<V>; uint64 created_at; uint64 revoked_at;
//   } JoinLinkEntry;                  /* 0 for "none" in max_uses, expires_at and revoked_at */
//
//   struct {
//     uint8 status;                   /* 1 success, 2 notAllowed, 3 noSuchRoom, 4 notMember, 5 badRequest, 6 notFound */
//     opaque reason<V>;
//     JoinLinkEntry links<V>;         /* create: the new link; list and revoke: all of the room's */
//   } JoinLinksResponse;

export type JoinLinksRequest =
  | { action: 'create'; actingUser: string; codeHash: Uint8Array; roleIndex?: number; maxUses?: number; expiresInSeconds?: number; passphrase?: string; knockFor?: string }
  | { action: 'list'; actingUser: string }
  | { action: 'revoke'; actingUser: string; id: string };

const ACTIONS = { create: 1, list: 2, revoke: 3 } as const;
const LINKS_STATUS: Record<string, number> = { success: 1, notAllowed: 2, roomUnknown: 3, notMember: 4, badRequest: 5, notFound: 6 };

export function encodeJoinLinksRequest(r: JoinLinksRequest): Uint8Array {
  const w = new TlsWriter().u8(ACTIONS[r.action]).opaqueV(utf8(r.actingUser));
  if (r.action === 'create') {
    w.opaqueV(r.codeHash).u16(r.roleIndex ?? 0).u32(r.maxUses ?? 0).u32(r.expiresInSeconds ?? 0).opaqueV(utf8(r.passphrase ?? '')).opaqueV(utf8(r.knockFor ?? ''));
  } else if (r.action === 'revoke') w.opaqueV(utf8(r.id));
  return w.finish();
}

export function decodeJoinLinksRequest(b: Uint8Array): JoinLinksRequest {
  const r = new TlsReader(b);
  const action = r.u8();
  const actingUser = fromUtf8(r.opaqueV());
  let out: JoinLinksRequest;
  if (action === ACTIONS.create) {
    const codeHash = r.opaqueV();
    const roleIndex = r.u16();
    const maxUses = r.u32();
    const expiresInSeconds = r.u32();
    const passphrase = fromUtf8(r.opaqueV());
    const knockFor = fromUtf8(r.opaqueV());
    out = {
      action: 'create',
      actingUser,
      codeHash,
      ...(roleIndex ? { roleIndex } : {}),
      ...(maxUses ? { maxUses } : {}),
      ...(expiresInSeconds ? { expiresInSeconds } : {}),
      ...(passphrase ? { passphrase } : {}),
      ...(knockFor ? { knockFor } : {}),
    };
  } else if (action === ACTIONS.list) out = { action: 'list', actingUser };
  else if (action === ACTIONS.revoke) out = { action: 'revoke', actingUser, id: fromUtf8(r.opaqueV()) };
  else throw new Error(`unknown action ${action}`);
  r.done();
  return out;
}

function writeEntry(w: TlsWriter, l: JoinLinkInfo): void {
  w.opaqueV(utf8(l.id)).u16(l.roleIndex).u32(l.maxUses ?? 0).u32(l.uses).u64(BigInt(l.expiresAt ?? 0)).u8(l.passphrase ? 1 : 0);
  w.opaqueV(utf8(l.knockFor ?? '')).opaqueV(utf8(l.createdBy)).u64(BigInt(l.createdAt)).u64(BigInt(l.revokedAt ?? 0));
}

function readEntry(r: TlsReader, roomUri: string): JoinLinkInfo {
  const id = fromUtf8(r.opaqueV());
  const roleIndex = r.u16();
  const maxUses = r.u32();
  const uses = r.u32();
  const expiresAt = Number(r.u64());
  const passphrase = r.u8() === 1;
  const knockFor = fromUtf8(r.opaqueV());
  const createdBy = fromUtf8(r.opaqueV());
  const createdAt = Number(r.u64());
  const revokedAt = Number(r.u64());
  return {
    id,
    roomUri,
    roleIndex,
    maxUses: maxUses || null,
    uses,
    expiresAt: expiresAt || null,
    passphrase,
    ...(knockFor ? { knockFor } : {}),
    createdBy,
    createdAt,
    revokedAt: revokedAt || null,
  };
}

export function encodeJoinLinksResponse(status: string, reason: string, links: readonly JoinLinkInfo[]): Uint8Array {
  const list = new TlsWriter();
  for (const l of links) writeEntry(list, l);
  return new TlsWriter().u8(LINKS_STATUS[status] ?? LINKS_STATUS.notAllowed).opaqueV(utf8(reason)).opaqueV(list.finish()).finish();
}

/** The hub's answer, or its refusal as the ApiFailure it was. */
export function decodeJoinLinksResponse(hub: string, roomUri: string, b: Uint8Array): JoinLinkInfo[] {
  let status: number;
  let reason: string;
  const links: JoinLinkInfo[] = [];
  try {
    const r = new TlsReader(b);
    status = r.u8();
    reason = fromUtf8(r.opaqueV());
    const list = new TlsReader(r.opaqueV());
    r.done();
    while (list.remaining > 0) links.push(readEntry(list, roomUri));
  } catch (e) {
    throw new ApiFailure('internal', `hub ${hub} sent an unusable JoinLinksResponse: ${(e as Error).message}`, { status: 502 });
  }
  if (status === LINKS_STATUS.success) return links;
  const code = (Object.entries(LINKS_STATUS).find(([, v]) => v === status)?.[0] ?? 'notAllowed') as ApiErrorCode;
  throw new ApiFailure(code, `${hub}: ${reason}`);
}

/** Serve /joinLinks/{roomId} for `peer`. */
export function serveJoinLinks(links: JoinLinks, peer: string, roomId: string, body: Uint8Array): Uint8Array {
  let req: JoinLinksRequest;
  try {
    req = decodeJoinLinksRequest(body);
  } catch (e) {
    throw badRequest(`JoinLinksRequest is malformed: ${(e as Error).message}`);
  }
  const who = parseMimiUriAs('user', req.actingUser) ?? parseMimiUriAs('pseudonym', req.actingUser);
  if (!who || who.domain !== peer) return encodeJoinLinksResponse('notAllowed', `the acting user must be a user or pseudonym of ${peer}`, []);
  try {
    if (req.action === 'create') {
      const { action: _a, actingUser, ...o } = req;
      return encodeJoinLinksResponse('success', '', [links.create(actingUser, roomId, o)]);
    }
    if (req.action === 'list') return encodeJoinLinksResponse('success', '', links.list(req.actingUser, roomId));
    return encodeJoinLinksResponse('success', '', links.revoke(req.actingUser, roomId, req.id));
  } catch (e) {
    if (e instanceof ApiFailure && e.code !== 'internal') return encodeJoinLinksResponse(e.code, e.message, []);
    throw e;
  }
}
