// Consent to be added to rooms (draft-ietf-mimi-protocol-06 "Consent" and "Convey explicit
// consent"), both sides, and the check the key-material service runs before it spends anything.
//
// Policy (docs/decisions.md "Consent"):
// - Users of the same provider need no consent; nothing here is about them (a request for one is
//   answered `notNeeded`, a grant/block of one is refused).
// - A user of another provider may fetch a local user's KeyPackages (add them to a room) only when
//   that user granted it, for every room or for that room. Otherwise /keyMaterial answers
//   noConsent (no grant at all, or a block) or noConsentForThisRoom (grants for other rooms only).
// - A target may block a requester: grants and pending requests from them go, later requests are
//   accepted with 201 and dropped, and the requester is not told.
// - With `mode: 'open'` (provider flag --consent open) the check always passes; requests and
//   decisions are still recorded and conveyed.
// - A pseudonym fetching a local user's KeyPackages is a connection request (the connection
//   flow's bootstrap room, docs/pseudonyms.md). Consent cannot apply (nobody can grant or block a
//   pseudonym: it names no one), so the user's connection request setting decides alone, in both
//   modes and for pseudonyms of this provider too: anyone (the default), pseudonyms of listed
//   domains, or nobody. A refusal is the ordinary noConsent answer, so the requester learns no
//   more than from any refused add.
//
// Decisions are stored at the TARGET's provider (it is the one that enforces them). The requester's
// provider keeps its users' requests with the outcome the target's provider reports through
// /updateConsent, for display only. Grants and refusals (decline, revoke) are conveyed with
// /updateConsent `grant` / `revoke`; a block conveys nothing. Grants carry no KeyPackages (see
// docs/decisions.md for why); received ones are decoded (so a malformed grant is refused) and
// dropped.
//
// Devices are told of a change by a push notice (not stored; clients fetch the list on connect).
//
// A request for one room may name it (PROJECT EXTENSION, a consent_extensions component): the
// target sees "alice wants to add you to “Team”" rather than a room URI. The name is the
// requester's word for it, shown as such, checked like any text from a peer (UTF-8, 1-128
// characters, no control characters) and refused with a 400 otherwise. It tells the target's
// provider the room's name: the requester's app sends it only for rooms whose metadata is not kept
// from providers (not for minimal-metadata rooms).
//
// Incoming requests expire after REQUEST_TTL_MS unanswered: they are no longer listed (nor counted),
// and the same request made again is a new one.

import type Database from 'better-sqlite3';
import {
  allowsConnectionRequestFrom,
  connectionRequestPolicyProblem,
  DEFAULT_CONNECTION_REQUEST_POLICY,
  type ConnectionRequestMode,
  type ConnectionRequestPolicy,
} from '../src-shared/connection-request-policy.js';
import { parseMimiUri, type ParsedMimiUri } from '../src-shared/identifiers.js';
import { fromUtf8, utf8 } from '../src-shared/bytes.js';
import { decodeConsentEntry, encodeConsentEntry, type ComponentData, type ConsentEntry, type Fields } from '../src-shared/mimi-protocol.js';
import type { ConsentActionResponse, ConsentListResponse, ConsentOutcome } from '../src-shared/provider-api.js';
import type { Actor } from './accounts.js';
import { ApiFailure, badRequest, decodeStrict } from './errors.js';
import type { ConsentDecision } from './federation/key-material.js';
import { PeerError, peerFailure, type PeerClient } from './federation/peer-client.js';
import type { S2sReply } from './federation/s2s-handler.js';
import type { Store } from './store.js';

export type ConsentMode = 'required' | 'open';

/** A ConsentEntry is a few URIs; anything near this size is not one. */
export const MAX_CONSENT_BODY_BYTES = 16 * 1024;
/** Pending requests one local user may have waiting; more are refused with 429 until they decide. */
export const MAX_PENDING_REQUESTS_PER_USER = 1000;

/** consent_extensions component with the room's name (UTF-8); private use range, like 0xF0D1. */
export const CONSENT_ROOM_NAME_COMPONENT_ID = 0xf0d3;
export const MAX_ROOM_NAME_CHARS = 128;
/** An unanswered incoming request is dropped after this long (30 days). */
export const REQUEST_TTL_MS = 30 * 24 * 3600 * 1000;

/** '' stands for "every room" in the tables. */
const ALL = '';

export interface ConsentServiceOptions {
  domain: string;
  store: Store;
  peerClient: Pick<PeerClient, 'post'>;
  mode?: ConsentMode;
  /** Tell these devices that their user's consent list changed (push notice). */
  notify?: (deviceUris: string[]) => void;
  /**
   * `targetUser` withdrew something (a grant, by a block, or by a stricter connection-request
   * setting): KeyPackage tokens issued for them before must stop working (ohttp-service.ts).
   */
  onWithdrawn?: (targetUser: string) => void;
  log?: (msg: string) => void;
  now?: () => number;
}

function parseAs(kind: ParsedMimiUri['kind'], uri: unknown): ParsedMimiUri | undefined {
  if (typeof uri !== 'string') return undefined;
  try {
    const p = parseMimiUri(uri);
    return p.kind === kind ? p : undefined;
  } catch {
    return undefined;
  }
}

function prepare(db: Database.Database) {
  return {
    decisions: db.prepare<[string, string], { room_uri: string; decision: 'grant' | 'block' }>(
      'SELECT room_uri, decision FROM consent_decisions WHERE target_uri = ? AND requester_uri = ?',
    ),
    putDecision: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO consent_decisions (target_uri, requester_uri, room_uri, decision, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target_uri, requester_uri, room_uri) DO UPDATE SET decision = excluded.decision, updated_at = excluded.updated_at`,
    ),
    deleteGrants: db.prepare<[string, string]>("DELETE FROM consent_decisions WHERE target_uri = ? AND requester_uri = ? AND decision = 'grant'"),
    deleteGrant: db.prepare<[string, string, string]>(
      "DELETE FROM consent_decisions WHERE target_uri = ? AND requester_uri = ? AND room_uri = ? AND decision = 'grant'",
    ),
    deleteBlock: db.prepare<[string, string]>("DELETE FROM consent_decisions WHERE target_uri = ? AND requester_uri = ? AND decision = 'block'"),
    decisionsOf: db.prepare<[string], { requester_uri: string; room_uri: string; decision: 'grant' | 'block'; updated_at: number }>(
      'SELECT requester_uri, room_uri, decision, updated_at FROM consent_decisions WHERE target_uri = ? ORDER BY updated_at, requester_uri, room_uri',
    ),

    putIncoming: db.prepare<[string, string, string, number, string | null]>(
      'INSERT OR IGNORE INTO consent_requests_in (target_uri, requester_uri, room_uri, requested_at, room_name) VALUES (?, ?, ?, ?, ?)',
    ),
    expireIncoming: db.prepare<[string, number]>('DELETE FROM consent_requests_in WHERE target_uri = ? AND requested_at < ?'),
    deleteIncoming: db.prepare<[string, string, string]>('DELETE FROM consent_requests_in WHERE target_uri = ? AND requester_uri = ? AND room_uri = ?'),
    incomingFrom: db.prepare<[string, string], { room_uri: string }>(
      'SELECT room_uri FROM consent_requests_in WHERE target_uri = ? AND requester_uri = ? ORDER BY room_uri',
    ),
    deleteIncomingFrom: db.prepare<[string, string]>('DELETE FROM consent_requests_in WHERE target_uri = ? AND requester_uri = ?'),
    countIncoming: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM consent_requests_in WHERE target_uri = ?'),
    incomingOf: db.prepare<[string], { requester_uri: string; room_uri: string; requested_at: number; room_name: string | null }>(
      'SELECT requester_uri, room_uri, requested_at, room_name FROM consent_requests_in WHERE target_uri = ? ORDER BY requested_at, requester_uri, room_uri',
    ),

    outgoing: db.prepare<[string, string, string], { status: ConsentOutcome }>(
      'SELECT status FROM consent_requests_out WHERE requester_uri = ? AND target_uri = ? AND room_uri = ?',
    ),
    putOutgoing: db.prepare<[string, string, string, string, number]>(
      `INSERT INTO consent_requests_out (requester_uri, target_uri, room_uri, status, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (requester_uri, target_uri, room_uri) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
    ),
    setOutgoingAll: db.prepare<[string, number, string, string]>(
      'UPDATE consent_requests_out SET status = ?, updated_at = ? WHERE requester_uri = ? AND target_uri = ?',
    ),
    deleteOutgoing: db.prepare<[string, string, string]>('DELETE FROM consent_requests_out WHERE requester_uri = ? AND target_uri = ? AND room_uri = ?'),
    outgoingOf: db.prepare<[string], { target_uri: string; room_uri: string; status: ConsentOutcome; updated_at: number }>(
      'SELECT target_uri, room_uri, status, updated_at FROM consent_requests_out WHERE requester_uri = ? ORDER BY updated_at, target_uri, room_uri',
    ),

    policy: db.prepare<[string], { mode: ConnectionRequestMode; domains: string }>('SELECT mode, domains FROM connection_request_policies WHERE user_uri = ?'),
    putPolicy: db.prepare<[string, string, string, number]>(
      `INSERT INTO connection_request_policies (user_uri, mode, domains, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_uri) DO UPDATE SET mode = excluded.mode, domains = excluded.domains, updated_at = excluded.updated_at`,
    ),
  };
}

const withRoom = <T extends object>(o: T, room: string): T & { roomUri?: string } => (room === ALL ? o : { ...o, roomUri: room });

export class ConsentService {
  readonly domain: string;
  readonly mode: ConsentMode;
  private readonly store: Store;
  private readonly peerClient: Pick<PeerClient, 'post'>;
  private readonly notifyDevices: (deviceUris: string[]) => void;
  private readonly log: (msg: string) => void;
  private readonly now: () => number;
  private readonly s: ReturnType<typeof prepare>;
  private readonly onWithdrawn: (targetUser: string) => void;

  constructor(opts: ConsentServiceOptions) {
    this.domain = opts.domain;
    this.mode = opts.mode ?? 'required';
    this.store = opts.store;
    this.peerClient = opts.peerClient;
    this.notifyDevices = opts.notify ?? (() => {});
    this.onWithdrawn = opts.onWithdrawn ?? (() => {});
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    this.s = prepare(opts.store.db);
  }

  // ---------------------------------------------------------------------------------------------
  // The check (KeyMaterialService `consent` hook; runs inside its store transaction)

  decide(requestingUser: string, targetUser: string, roomId: string): ConsentDecision {
    const connection = this.connectionRequestDecision(requestingUser, targetUser);
    if (connection) return connection;
    if (this.mode === 'open') return 'ok';
    const requester = parseAs('user', requestingUser);
    const target = parseAs('user', targetUser);
    if (!requester || !target) return 'noConsent';
    if (requester.domain === target.domain) return 'ok';
    const rows = this.s.decisions.all(targetUser, requestingUser);
    if (rows.some((r) => r.decision === 'block')) return 'noConsent';
    if (rows.some((r) => r.room_uri === ALL || r.room_uri === roomId)) return 'ok';
    return rows.length > 0 ? 'noConsentForThisRoom' : 'noConsent';
  }

  /**
   * For a claim of the real user `targetUser` by a pseudonym (a connection request): whether the
   * user's setting lets a pseudonym of that domain through. Undefined for any other claim. Blocks
   * are not consulted: they name real users, and a pseudonym is none of them.
   */
  connectionRequestDecision(requestingUser: string, targetUser: string): ConsentDecision | undefined {
    const pseudonym = parseAs('pseudonym', requestingUser);
    if (!pseudonym || !parseAs('user', targetUser)) return undefined;
    return allowsConnectionRequestFrom(this.policyOf(targetUser), pseudonym.domain) ? 'ok' : 'noConsent';
  }

  // ---------------------------------------------------------------------------------------------
  // Client API (the actor is a local user)

  connectionRequestPolicy(actor: Actor): ConnectionRequestPolicy {
    return this.policyOf(actor.userUri);
  }

  /** Replaces the actor's setting with `body` ({ mode, domains }); anything else is refused whole. */
  setConnectionRequestPolicy(actor: Actor, body: Record<string, unknown>): ConnectionRequestPolicy {
    const problem = connectionRequestPolicyProblem(body);
    if (problem) throw badRequest(`the connection request setting ${problem}`);
    const policy: ConnectionRequestPolicy = { mode: body.mode as ConnectionRequestMode, domains: [...(body.domains as string[])] };
    this.store.tx(() => this.s.putPolicy.run(actor.userUri, policy.mode, JSON.stringify(policy.domains), this.now()));
    this.onWithdrawn(actor.userUri);
    return policy;
  }

  private policyOf(userUri: string): ConnectionRequestPolicy {
    const row = this.s.policy.get(userUri);
    return row ? { mode: row.mode, domains: JSON.parse(row.domains) as string[] } : { ...DEFAULT_CONNECTION_REQUEST_POLICY, domains: [] };
  }

  list(actor: Actor): ConsentListResponse {
    // Expired requests go before anything is read, so nothing lists or counts one.
    this.store.tx(() => this.s.expireIncoming.run(actor.userUri, this.now() - REQUEST_TTL_MS));
    const decisions = this.s.decisionsOf.all(actor.userUri);
    return {
      incoming: this.s.incomingOf
        .all(actor.userUri)
        .map((r) => withRoom({ user: r.requester_uri, ...(r.room_name !== null && r.room_uri !== ALL ? { roomName: r.room_name } : {}), at: r.requested_at }, r.room_uri)),
      granted: decisions.filter((d) => d.decision === 'grant').map((d) => withRoom({ user: d.requester_uri, at: d.updated_at }, d.room_uri)),
      blocked: decisions.filter((d) => d.decision === 'block').map((d) => ({ user: d.requester_uri, at: d.updated_at })),
      outgoing: this.s.outgoingOf.all(actor.userUri).map((r) => withRoom({ user: r.target_uri, status: r.status, at: r.updated_at }, r.room_uri)),
    };
  }

  /** Asks `targetUser`'s provider for consent; resolves once it accepted the request (201). */
  async request(actor: Actor, targetUser: string, roomUri?: string, roomName?: string): Promise<ConsentActionResponse> {
    const target = this.otherUser(targetUser, 'user');
    const room = this.room(roomUri);
    let name: string | undefined;
    if (roomName !== undefined) {
      if (room === ALL) throw badRequest('roomName names the room of a request for one room: give roomUri with it');
      name = cleanRoomName(roomName);
      if (name === undefined) throw badRequest(`roomName must be 1-${MAX_ROOM_NAME_CHARS} characters of text without control characters`);
    }
    if (!target) return { outcome: 'notNeeded', changed: 0, notified: false };
    const extensions: ComponentData[] = name === undefined ? [] : [{ componentId: CONSENT_ROOM_NAME_COMPONENT_ID, data: utf8(name) }];
    await this.send(target.domain, 'requestConsent', { consentOperation: 'request', requesterUri: actor.userUri, targetUri: targetUser, ...scopeRoom(room) }, extensions);
    const changed = this.store.tx(() => {
      if (this.s.outgoing.get(actor.userUri, targetUser, room)?.status === 'granted') return 0;
      this.s.putOutgoing.run(actor.userUri, targetUser, room, 'pending', this.now());
      return 1;
    });
    this.notifyUsers([actor.userUri]);
    return { outcome: 'requested', changed, notified: true };
  }

  /** Withdraws a request (same scope); the target's provider is told first. */
  async cancel(actor: Actor, targetUser: string, roomUri?: string): Promise<ConsentActionResponse> {
    const target = this.otherUser(targetUser, 'user');
    if (!target) return { outcome: 'notNeeded', changed: 0, notified: false };
    const room = this.room(roomUri);
    await this.send(target.domain, 'requestConsent', { consentOperation: 'cancel', requesterUri: actor.userUri, targetUri: targetUser, ...scopeRoom(room) });
    const changed = this.store.tx(() => this.s.deleteOutgoing.run(actor.userUri, targetUser, room).changes);
    if (changed) this.notifyUsers([actor.userUri]);
    return { outcome: 'done', changed, notified: true };
  }

  /** `requesterUser` may add the actor to any room (no roomUri) or to `roomUri`. Unblocks them. */
  async grant(actor: Actor, requesterUser: string, roomUri?: string): Promise<ConsentActionResponse> {
    const requester = this.mustBeOther(requesterUser);
    const room = this.room(roomUri);
    const changed = this.store.tx(() => {
      this.s.deleteBlock.run(actor.userUri, requesterUser);
      this.s.putDecision.run(actor.userUri, requesterUser, room, 'grant', this.now());
      // A grant for every room answers every pending request of theirs; one for a room, that one.
      if (room === ALL) this.s.deleteIncomingFrom.run(actor.userUri, requesterUser);
      else this.s.deleteIncoming.run(actor.userUri, requesterUser, room);
      return 1;
    });
    this.notifyUsers([actor.userUri]);
    const notified = await this.tell(requester.domain, 'grant', requesterUser, actor.userUri, room);
    return { outcome: 'done', changed, notified };
  }

  /** Drops the pending requests of `requesterUser`, telling their provider (`revoke`). */
  async decline(actor: Actor, requesterUser: string): Promise<ConsentActionResponse> {
    const requester = this.mustBeOther(requesterUser);
    const rooms = this.store.tx(() => {
      const pending = this.s.incomingFrom.all(actor.userUri, requesterUser).map((r) => r.room_uri);
      this.s.deleteIncomingFrom.run(actor.userUri, requesterUser);
      return pending;
    });
    if (rooms.length) this.notifyUsers([actor.userUri]);
    let notified = rooms.length > 0;
    for (const room of rooms) notified = (await this.tell(requester.domain, 'revoke', requesterUser, actor.userUri, room)) && notified;
    return { outcome: 'done', changed: rooms.length, notified };
  }

  /** Withdraws grants: every one to `requesterUser` (no roomUri) or the one for `roomUri`. */
  async revoke(actor: Actor, requesterUser: string, roomUri?: string): Promise<ConsentActionResponse> {
    const requester = this.mustBeOther(requesterUser);
    const room = this.room(roomUri);
    const changed = this.store.tx(() =>
      room === ALL ? this.s.deleteGrants.run(actor.userUri, requesterUser).changes : this.s.deleteGrant.run(actor.userUri, requesterUser, room).changes,
    );
    if (changed) {
      this.onWithdrawn(actor.userUri);
      this.notifyUsers([actor.userUri]);
    }
    const notified = changed > 0 && (await this.tell(requester.domain, 'revoke', requesterUser, actor.userUri, room));
    return { outcome: 'done', changed, notified };
  }

  /** Refuses `requesterUser` everything, silently: grants and requests go, nothing is conveyed. */
  block(actor: Actor, requesterUser: string): ConsentActionResponse {
    this.mustBeOther(requesterUser);
    const changed = this.store.tx(() => {
      this.s.deleteGrants.run(actor.userUri, requesterUser);
      this.s.deleteIncomingFrom.run(actor.userUri, requesterUser);
      return this.s.putDecision.run(actor.userUri, requesterUser, ALL, 'block', this.now()).changes;
    });
    this.onWithdrawn(actor.userUri);
    this.notifyUsers([actor.userUri]);
    return { outcome: 'done', changed, notified: false };
  }

  unblock(actor: Actor, requesterUser: string): ConsentActionResponse {
    this.mustBeOther(requesterUser);
    const changed = this.store.tx(() => this.s.deleteBlock.run(actor.userUri, requesterUser).changes);
    if (changed) this.notifyUsers([actor.userUri]);
    return { outcome: 'done', changed, notified: false };
  }

  // ---------------------------------------------------------------------------------------------
  // MIMI endpoints (the peer is authenticated by mutual TLS)

  /** POST /requestConsent/{targetDomain}: `request` or `cancel` from a requester at `peer`. */
  serveRequest(peer: string, param: string, body: Uint8Array): S2sReply {
    const entry = this.incoming(peer, param, body, 'requestConsent', 'targetDomain');
    if (entry.consentOperation !== 'request' && entry.consentOperation !== 'cancel') {
      throw badRequest(`requestConsent carries request or cancel, not ${entry.consentOperation} (that goes to /updateConsent)`);
    }
    this.checkParties(peer, entry.requesterUri, entry.targetUri, 'requesterUri', 'targetUri');
    const room = entry.roomId ?? ALL;
    const { targetUri, requesterUri } = entry;
    const roomName = roomNameOf(entry.consentExtensions, room);
    if (entry.consentOperation === 'cancel') {
      const changed = this.store.tx(() => this.s.deleteIncoming.run(targetUri, requesterUri, room).changes);
      if (changed) this.notifyUsers([targetUri]);
      return { status: 201 };
    }
    const answer = this.store.tx((): 'blocked' | 'granted' | 'stored' | 'known' => {
      const decisions = this.s.decisions.all(targetUri, requesterUri);
      if (decisions.some((d) => d.decision === 'block')) return 'blocked';
      if (decisions.some((d) => d.room_uri === ALL || d.room_uri === room)) return 'granted';
      // An expired request is as good as none: asking again makes a new one.
      this.s.expireIncoming.run(targetUri, this.now() - REQUEST_TTL_MS);
      if (this.s.incomingFrom.all(targetUri, requesterUri).some((r) => r.room_uri === room)) return 'known';
      if (this.s.countIncoming.get(targetUri)!.n >= MAX_PENDING_REQUESTS_PER_USER) {
        throw new ApiFailure('rateLimited', `${targetUri} has too many consent requests waiting; try again later`);
      }
      this.s.putIncoming.run(targetUri, requesterUri, room, this.now(), roomName ?? null);
      return 'stored';
    });
    if (answer === 'stored') this.notifyUsers([targetUri]);
    if (answer === 'granted') {
      // Already granted: say so again (the requester's provider may have missed it). After the 201.
      const covering = this.s.decisions.all(targetUri, requesterUri).some((d) => d.room_uri === ALL) ? ALL : room;
      setImmediate(() => void this.tell(peer, 'grant', requesterUri, targetUri, covering));
    }
    return { status: 201 };
  }

  /** POST /updateConsent/{requesterDomain}: `grant` or `revoke` from a target at `peer`. */
  serveUpdate(peer: string, param: string, body: Uint8Array): S2sReply {
    const entry = this.incoming(peer, param, body, 'updateConsent', 'requesterDomain');
    if (entry.consentOperation !== 'grant' && entry.consentOperation !== 'revoke') {
      throw badRequest(`updateConsent carries grant or revoke, not ${entry.consentOperation} (that goes to /requestConsent)`);
    }
    this.checkParties(peer, entry.targetUri, entry.requesterUri, 'targetUri', 'requesterUri');
    const room = entry.roomId ?? ALL;
    const status: ConsentOutcome = entry.consentOperation === 'grant' ? 'granted' : 'revoked';
    this.store.tx(() => {
      const now = this.now();
      // An answer for every room settles each of our requests to that user.
      if (room === ALL) this.s.setOutgoingAll.run(status, now, entry.requesterUri, entry.targetUri);
      this.s.putOutgoing.run(entry.requesterUri, entry.targetUri, room, status, now);
    });
    this.notifyUsers([entry.requesterUri]);
    return { status: 201 };
  }

  // ---------------------------------------------------------------------------------------------

  /** The common checks of both endpoints, before anything is looked up. */
  private incoming(peer: string, param: string, body: Uint8Array, endpoint: string, what: string): ConsentEntry {
    if (body.length > MAX_CONSENT_BODY_BYTES) throw new ApiFailure('tooLarge', `a ConsentEntry is at most ${MAX_CONSENT_BODY_BYTES} bytes`);
    if (param !== this.domain) throw badRequest(`${endpoint}/{${what}} names ${JSON.stringify(param)}, but this provider is ${this.domain}`);
    return decodeStrict(decodeConsentEntry, body, 'ConsentEntry');
  }

  /** `remote` must be a user of the peer, `local` an existing user here; a roomId a room URI. */
  private checkParties(peer: string, remote: string, local: string, remoteField: string, localField: string): void {
    const r = parseAs('user', remote);
    const l = parseAs('user', local);
    if (!r) throw badRequest(`${remoteField} ${JSON.stringify(remote)} is not a user URI`);
    if (!l) throw badRequest(`${localField} ${JSON.stringify(local)} is not a user URI`);
    if (r.domain !== peer) throw new ApiFailure('notAllowed', `${peer} may convey consent only for its own users, not ${remote}`);
    if (l.domain !== this.domain) throw badRequest(`${localField} ${local} is not a user of ${this.domain}`);
    if (!this.store.userByUri(local)) throw new ApiFailure('userUnknown', `no user ${local} on ${this.domain}`);
  }

  private room(roomUri: string | undefined): string {
    if (roomUri === undefined) return ALL;
    if (!parseAs('room', roomUri)) throw badRequest(`roomUri ${JSON.stringify(roomUri)} is not a room URI`);
    return roomUri;
  }

  /** The parsed URI of a user of ANOTHER provider, or undefined for one of ours. */
  private otherUser(uri: string, what: string): ParsedMimiUri | undefined {
    const p = parseAs('user', uri);
    if (!p) throw badRequest(`${what} ${JSON.stringify(uri)} is not a user URI`);
    return p.domain === this.domain ? undefined : p;
  }

  private mustBeOther(uri: string): ParsedMimiUri {
    const p = this.otherUser(uri, 'user');
    if (!p) throw new ApiFailure('notAllowed', `${uri} is a user of this provider; users of one provider need no consent`);
    return p;
  }

  private async send(
    domain: string,
    endpoint: 'requestConsent' | 'updateConsent',
    entry: Omit<Fields<ConsentEntry>, 'consentExtensions'>,
    consentExtensions: ComponentData[] = [],
  ): Promise<void> {
    const body = encodeConsentEntry({ consentExtensions, ...entry } as Fields<ConsentEntry>);
    try {
      await this.peerClient.post(domain, endpoint, domain, body);
    } catch (e) {
      throw relayPeerFailure(e, `${endpoint} (${entry.consentOperation})`);
    }
  }

  /** Conveys a grant or revoke to the requester's provider; false (logged) when it failed. */
  private async tell(domain: string, op: 'grant' | 'revoke', requesterUri: string, targetUri: string, room: string): Promise<boolean> {
    const entry =
      op === 'grant'
        ? { consentOperation: op, requesterUri, targetUri, ...scopeRoom(room), clientKeyPackages: [] }
        : { consentOperation: op, requesterUri, targetUri, ...scopeRoom(room) };
    try {
      await this.send(domain, 'updateConsent', entry);
      return true;
    } catch (e) {
      this.log(`could not tell ${domain} of a consent ${op} for ${requesterUri}: ${(e as Error).message}`);
      return false;
    }
  }

  private notifyUsers(userUris: string[]): void {
    const devices: string[] = [];
    for (const uri of userUris) {
      const user = this.store.userByUri(uri);
      if (user) devices.push(...this.store.devicesOfUser(user.id).map((d) => d.device_uri));
    }
    if (devices.length) this.notifyDevices(devices);
  }
}

/** peerFailure, except that a peer's 429 reaches our client as rateLimited (not "unreachable"). */
export function relayPeerFailure(e: unknown, what: string): ApiFailure {
  if (e instanceof PeerError && e.code === 'rejected' && e.status === 429) {
    const after = e.retryAfterMs !== undefined ? `; try again in ${Math.ceil(e.retryAfterMs / 1000)} s` : '';
    return new ApiFailure('rateLimited', `${e.domain} is rate limiting ${what}${after}`);
  }
  return peerFailure(e, what);
}

/** A room name as shown: NFC, trimmed, 1-128 characters, no control characters; else undefined. */
export function cleanRoomName(raw: string): string | undefined {
  const t = raw.normalize('NFC').trim();
  if (t.length === 0 || [...t].length > MAX_ROOM_NAME_CHARS || /\p{Cc}/u.test(t)) return undefined;
  return t;
}

/** The room name component of a request from a peer (400 when it is not a name); only with a room. */
function roomNameOf(extensions: ComponentData[], room: string): string | undefined {
  const c = extensions.find((e) => e.componentId === CONSENT_ROOM_NAME_COMPONENT_ID);
  if (!c) return undefined;
  if (room === ALL) throw badRequest('a room name component needs a roomId: the request is for every room');
  let text: string;
  try {
    text = fromUtf8(c.data);
  } catch {
    throw badRequest('the room name component is not UTF-8');
  }
  const name = cleanRoomName(text);
  if (name === undefined) throw badRequest(`the room name component must be 1-${MAX_ROOM_NAME_CHARS} characters of text without control characters`);
  return name;
}

function scopeRoom(room: string): { roomId?: string } {
  return room === ALL ? {} : { roomId: room };
}
