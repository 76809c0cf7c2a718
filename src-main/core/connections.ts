// The connection flow of draft-mahy-mimi-pseudonyms (section 4.1), docs/pseudonyms.md:
//
// Alice (connect): under a fresh pseudonym P1 she creates a bootstrap room, adds Bob's real
// devices (claimed as P1: Bob's provider learns only that some pseudonym asks), and sends in it a
// connection request: her real identity signed by her real device key and bound to this room, a
// second pseudonym P2, and connection-only KeyPackages of P2.
// Bob (incoming): his app verifies the request and shows "Alice wants to connect". Accept: he
// creates a minimal-metadata room as his own pseudonym Q1 and adds P2 with those KeyPackages; the
// hub of that room sees two pseudonyms and nothing else. Decline: he leaves the bootstrap room.
// Alice: when P2 is welcomed into the new room the request is accepted; when Bob has left the
// bootstrap room it was declined. Either way her client destroys the bootstrap room (the hub
// deletes everything of it) after a random delay, so no provider keeps Bob's real identity and
// her pseudonym together, and the timing of the two rooms is hard to correlate.

import { CoreError, type ConnectionView, type ConnectionsView } from '../../src-shared/contract.js';
import { fromB64, fromUtf8, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import {
  DEFAULT_MAX_AGE_MS,
  connectionRequestContent,
  createConnectionRequest,
  decodeConnectionRequest,
  findConnectionRequest,
  verifyConnectionRequest,
} from '../../src-shared/connection-request.js';
import type { MimiContent } from '../../src-shared/content.js';
import { displayHandle, parseMimiUri, parseMimiUriAs } from '../../src-shared/identifiers.js';
import type { DeviceKeys, GroupSession } from '../mls/engine.js';
import type { ConnectionRow } from '../db/profile-db.js';
import { ProviderError } from '../net/provider-client.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import { deviceKeyCheck, devicesOf } from './group-sessions.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';
import type { PseudonymPool } from './pseudonym-pool.js';
import { userArg } from './user-args.js';

/** How long after the outcome the bootstrap room is destroyed: a random time in this range (ms). */
export const DEFAULT_DESTROY_DELAY_MS: readonly [number, number] = [60_000, 600_000];

/** What a connection row keeps besides its columns (sealed in the database). */
interface Details {
  /** Outgoing: the bootstrap pseudonym and the second pseudonym offered for the connection room. */
  bootstrapPseudonym?: string;
  connectionPseudonym?: string;
  /** Outgoing: the invitee is in the bootstrap room (from then on, their absence means "declined"). */
  added?: boolean;
  /** When the bootstrap room is to be destroyed, and whether it was. */
  destroyAt?: number;
  destroyed?: boolean;
  /** Incoming: the encoded ConnectionRequest (base64). */
  request?: string;
}

const details = (c: ConnectionRow): Details => (c.details ? (JSON.parse(fromUtf8(c.details)) as Details) : {});
const packDetails = (d: Details): Uint8Array => utf8(JSON.stringify(d));

/** Why a request that is no longer pending cannot be answered, by what became of it. */
const ANSWERED: Record<Exclude<ConnectionView['state'], 'pending'>, string> = {
  accepted: 'errors.connection.alreadyAccepted',
  declined: 'errors.connection.alreadyDeclined',
  failed: 'errors.connection.alreadyFailed',
};

export class Connections {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly ctx: ProfileContext,
    private readonly pool: PseudonymPool,
    private readonly membership: Membership,
    private readonly outbox: Outbox,
    private readonly destroyDelayMs: readonly [number, number] = DEFAULT_DESTROY_DELAY_MS,
  ) {}

  /** Bootstrap rooms are the connection flow's plumbing, not rooms to show. */
  bootstrapRooms(): Set<string> {
    return this.ctx.db.connectionIds();
  }

  list(): ConnectionsView {
    const view = ({ details: _secret, ...c }: ConnectionRow): ConnectionView => c;
    const all = this.ctx.db.connections();
    return { incoming: all.filter((c) => c.direction === 'incoming').map(view), outgoing: all.filter((c) => c.direction === 'outgoing').map(view) };
  }

  private put(c: ConnectionRow): void {
    this.ctx.db.putConnection(c);
    this.ctx.emit('connections', this.list());
  }

  // ---- Alice ----

  async connect(user: string): Promise<ConnectionsView> {
    const { config, keys, engine, db } = this.ctx;
    const userUri = userArg(config.domain, user);
    if (parseMimiUriAs('pseudonym', userUri)) throw coreError('invalidArgument', 'errors.connection.notPseudonym');
    if (userUri === config.userUri) throw coreError('invalidArgument', 'errors.connection.self');
    const boot = await this.pool.takeOrRefill();
    // Moderated: its creator is super_admin, the one role with canDestroyRoom (the cooperative
    // creator, group_admin, lacks it), which the hub checks when the room is destroyed.
    const room = await this.membership.createRoom('', 'moderated', { keys: boot.keys, userPseudonym: boot.row.userPseudonym }, `Connecting with ${displayHandle(userUri)}`);
    const id = room.roomUri;
    this.pool.noteRoom(boot.row.userPseudonym, id);
    const second = await this.pool.takeOrRefill();
    this.pool.noteRoom(second.row.userPseudonym, id); // reserved for the connection room
    const d: Details = { bootstrapPseudonym: boot.row.userPseudonym, connectionPseudonym: second.row.userPseudonym };
    const row: ConnectionRow = { id, direction: 'outgoing', peer: userUri, verified: true, state: 'pending', at: Date.now(), details: packDetails(d) };
    this.put(row);
    try {
      await this.membership.addMember(id, userUri);
      d.added = true;
      // KeyPackages of the second pseudonym travel only inside this request (end to end).
      const kps = await engine.generateKeyPackages(second.keys, 1, { connectionOnly: true });
      db.tx(() => {
        for (const kp of kps) db.saveKeyPackage(toHex(kp.ref), kp.publicMessage, kp.privateState, false, second.row.clientPseudonym);
      });
      // Published to our own provider too (never handed out there): that is how the hubs vouch
      // for it and how the Welcome that answers the request finds this device.
      await this.ctx.client.uploadPseudonymKeyPackages({ clientPseudonym: second.row.clientPseudonym, keyPackages: kps.map((k) => toB64(k.publicMessage)), connectionOnly: true });
      const request = createConnectionRequest({
        bootstrapRoom: id,
        bootstrapPseudonym: boot.row.userPseudonym,
        connectionPseudonym: second.row.userPseudonym,
        device: { identity: keys.identity, signaturePublicKey: keys.signaturePublicKey, signaturePrivateKey: keys.signaturePrivateKey },
        keyPackages: kps.map((k) => k.publicMessage),
      });
      // Unanswered, the request expires when receivers stop accepting it (its maximum age), and the
      // bootstrap room goes then; an answer brings that forward (settle()).
      d.destroyAt = Date.now() + DEFAULT_MAX_AGE_MS;
      this.put({ ...row, details: packDetails(d) });
      await this.outbox.sendContent(id, (me) => connectionRequestContent({ senderUri: me, roomUri: id, request }));
    } catch (e) {
      const cause = toCoreError(e, { key: 'errors.what.askToConnect', params: { user: displayHandle(userUri) } });
      // Their provider decides by their setting for connection requests, not by consent to adds.
      const err =
        cause instanceof CoreError && cause.code === 'noConsent'
          ? coreError('noConsent', 'errors.connection.refused', { user: displayHandle(userUri), domain: parseMimiUri(userUri).domain })
          : cause;
      // Nothing links anyone yet: the bootstrap room goes at once.
      this.put({ ...row, state: 'failed', problem: err.message, details: packDetails({ ...d, destroyAt: Date.now() }) });
      void this.runDue();
      throw err;
    }
    return this.list();
  }

  /**
   * An outgoing request still open to an answer: pending, or declined. "Declined" is only inferred
   * (the invitee left the bootstrap room), and an invitee who accepts leaves it too, right after
   * sending the Welcome: the Welcome comes from the connection room's hub and the departure from
   * the bootstrap room's, two paths nothing orders, so the departure may be seen first (it is, on
   * a slower hub such as one on PostgreSQL). The Welcome then still answers the request.
   */
  private answerable(c: ConnectionRow): boolean {
    return c.direction === 'outgoing' && (c.state === 'pending' || c.state === 'declined');
  }

  /** A request of ours open to an answer offered these pseudonymous keys' user for the connection room. */
  expects(keys: DeviceKeys): boolean {
    const user = keys.pseudonymous?.userPseudonym;
    return this.ctx.db.connections().some((c) => this.answerable(c) && details(c).connectionPseudonym === user);
  }

  /** One of our pseudonyms was welcomed into a room: is it the answer to one of our requests? */
  onJoined(roomUri: string, keys: DeviceKeys): void {
    const user = keys.pseudonymous?.userPseudonym;
    if (!user) return;
    for (const c of this.ctx.db.connections()) {
      const d = details(c);
      if (!this.answerable(c) || d.connectionPseudonym !== user) continue;
      this.ctx.db.renameRoom(roomUri, displayHandle(c.peer));
      this.settle(c, 'accepted', roomUri);
    }
  }

  /** After any epoch: an invitee who left a pending request's bootstrap room declined it. */
  checkDeclines(): void {
    for (const c of this.ctx.db.connections()) {
      const d = details(c);
      if (c.direction !== 'outgoing' || c.state !== 'pending' || !d.added) continue;
      const room = this.ctx.db.getRoom(c.id);
      if (!room || room.left) continue;
      let session: GroupSession;
      try {
        session = this.ctx.sessions.get(c.id);
      } catch {
        continue;
      }
      // Gone, or leaving: all of their clients are out or proposed out by their own user.
      const leaving = new Set(session.pendingRemovals().filter((r) => r.departed).map((r) => r.identity));
      if (devicesOf(session, c.peer).every((d) => leaving.has(d))) this.settle(c, 'declined');
    }
  }

  private settle(c: ConnectionRow, state: 'accepted' | 'declined', roomUri?: string): void {
    const [min, max] = this.destroyDelayMs;
    const destroyAt = Date.now() + min + Math.floor(Math.random() * Math.max(0, max - min));
    this.put({ ...c, state, ...(roomUri ? { roomUri } : {}), details: packDetails({ ...details(c), destroyAt }) });
    this.schedule(c.id, destroyAt);
  }

  private schedule(id: string, at: number): void {
    clearTimeout(this.timers.get(id));
    const t = setTimeout(() => void this.runDue(), Math.max(0, at - Date.now()));
    t.unref?.();
    this.timers.set(id, t);
  }

  /** Destroy every bootstrap room whose time has come; schedule the others. */
  async runDue(): Promise<void> {
    if (this.ctx.closed) return; // e.g. after the account was deleted
    const { db, client } = this.ctx;
    for (const c of db.connections()) {
      const d = details(c);
      if (c.direction !== 'outgoing' || d.destroyAt === undefined || d.destroyed) continue;
      if (d.destroyAt > Date.now()) {
        this.schedule(c.id, d.destroyAt);
        continue;
      }
      if (this.ctx.closed) return;
      try {
        await client.destroyRoom(c.id, { asPseudonym: d.bootstrapPseudonym });
      } catch (e) {
        // Gone already is done; anything else is tried again on the next start.
        if (!(e instanceof ProviderError && e.code === 'roomUnknown')) continue;
      }
      const expired = c.state === 'pending' ? { state: 'failed' as const, problem: 'No answer in time: the request expired, and its room is gone.' } : {};
      db.tx(() => {
        if (db.getRoom(c.id)) db.markLeft(c.id);
        db.putConnection({ ...c, ...expired, details: packDetails({ ...d, destroyed: true }) });
      });
      this.ctx.emit('connections', this.list());
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ---- Bob ----

  /** An incoming message: a connection request is taken here, checked, and never shown as text. */
  onMessage(roomUri: string, sender: string, content: MimiContent): 'timeline' | 'consumed' {
    const encoded = findConnectionRequest(content);
    if (!encoded) return 'timeline';
    const { db } = this.ctx;
    const known = db.connection(roomUri);
    if (known && known.state !== 'pending') return 'consumed'; // answered already: a repeat changes nothing
    const check = verifyConnectionRequest(encoded, {
      roomUri,
      senderUserPseudonym: sender,
      seen: (id) => db.getMeta(`connection-request:${toHex(id)}`) !== undefined,
    });
    // The disclosure is only as good as the device key behind it (trust on first use, as for links).
    const keyOk = check.ok && deviceKeyCheck(db, this.ctx.keys)(check.senderDevice, check.request.senderSignatureKey);
    if (check.ok && !keyOk) {
      db.putConnection({
        id: roomUri,
        direction: 'incoming',
        peer: check.senderUser,
        verified: false,
        problem: `${check.senderDevice} signed with a key other than the one this device saw for it before`,
        state: 'pending',
        at: Date.now(),
      });
    } else if (check.ok) {
      db.tx(() => {
        db.setMeta(`connection-request:${toHex(check.id)}`, roomUri);
        db.putConnection({ id: roomUri, direction: 'incoming', peer: check.senderUser, verified: true, state: 'pending', at: Date.now(), details: packDetails({ request: toB64(encoded) }) });
      });
    } else if (!check.ok && !known) {
      // Shown, but as what it is: nobody is vouched for, and it cannot be accepted.
      db.putConnection({ id: roomUri, direction: 'incoming', peer: sender, verified: false, problem: `${check.reason}: ${check.detail}`, state: 'pending', at: Date.now() });
    }
    this.ctx.emit('connections', this.list());
    // The bootstrap room came with its Welcome, so it may be in a room list already: it is plumbing
    // from now on, and the list is sent again without it.
    this.ctx.emit('rooms');
    return 'consumed';
  }

  async accept(id: string): Promise<ConnectionsView> {
    const c = this.incomingPending(id);
    if (!c.verified) throw coreError('notAllowed', 'errors.connection.unverified', { reason: c.problem ?? '' });
    const request = decodeConnectionRequest(fromB64(details(c).request!));
    const mine = await this.pool.takeOrRefill();
    // The shared room name stays empty: the hub reads the room state. The name is ours alone.
    const room = await this.membership.createRoom('', 'cooperative', { keys: mine.keys, userPseudonym: mine.row.userPseudonym, minimalMetadata: true }, displayHandle(c.peer));
    this.pool.noteRoom(mine.row.userPseudonym, room.roomUri);
    try {
      await this.membership.addClients(room.roomUri, request.connectionPseudonym, request.keyPackages);
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.connect', params: { user: displayHandle(c.peer) } });
    }
    this.put({ ...c, state: 'accepted', roomUri: room.roomUri });
    await this.leaveBootstrap(id);
    return this.list();
  }

  async decline(id: string): Promise<ConnectionsView> {
    const c = this.incomingPending(id);
    this.put({ ...c, state: 'declined' });
    await this.leaveBootstrap(id);
    return this.list();
  }

  private incomingPending(id: string): ConnectionRow {
    const c = this.ctx.db.connection(id);
    if (!c || c.direction !== 'incoming') throw coreError('invalidArgument', 'errors.connection.noSuch', { id });
    if (c.state !== 'pending') throw coreError('invalidArgument', ANSWERED[c.state]);
    return c;
  }

  /** Bob leaves the bootstrap room; its creator destroys it later. Best effort: it goes either way. */
  private async leaveBootstrap(id: string): Promise<void> {
    const room = this.ctx.db.getRoom(id);
    if (!room || room.left) return;
    await this.membership.leaveRoom(id).catch((e: unknown) => {
      const err = toCoreError(e, { key: 'errors.what.leaveConnectionRoom' });
      this.ctx.emit('error', err.message, err);
    });
  }
}
