// An account's other devices in its pseudonymous rooms (docs/pseudonyms.md "How it is wired").
//
// A minimal-metadata room (a connection room, or one a member added a pseudonym of ours to) names
// the account only by a user pseudonym, and that pseudonym was issued to one device: nobody can add
// the account's other devices, since nobody there may know them. So each of them joins on its own,
// by external commit, as a client pseudonym of its own under that same user pseudonym (the draft:
// a user's clients share one user pseudonym in a room). The client pseudonym is an unused one of
// this device's pool (PseudonymPool.actAs), with keys of its own naming that user pseudonym; its
// provider checks that the client was issued to this device and the user pseudonym is the
// account's. Right after joining, the device publishes its identity link, as after a Welcome.
//
// Such a joiner gets no Welcome, so it holds only the identity link key (ILK) of the epoch it
// joined at, and sees the links of older members as `unknownKey`. One member, the same one by
// every member's reckoning, sends it the older keys in an application message that no device
// shows (Outbox.sendControl; the receiver takes it in incoming.ts).
//
// When: after each start (Membership.joinMissingRooms), and every RECHECK_MS while running, since
// nothing tells a device that another device of its account is in a new room.

import { randomBytes } from 'node:crypto';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { parseMimiUri, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { identityLinkKeysContent } from '../../src-shared/identity-link.js';
import { decodeGroupInfo, decodeRatchetTree, treeLeaves, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import type { RoomInfo } from '../../src-shared/provider-api.js';
import { checkMessage } from '../../src-shared/room-commit.js';
import type { DeviceKeys, GroupSession, Incoming } from '../mls/engine.js';
import { ProviderError } from '../net/provider-client.js';
import type { ProfileContext } from './context.js';
import { toCoreError } from './errors.js';
import { roomStateOf, userOfMember } from './group-sessions.js';
import type { Outbox } from './outbox.js';
import type { PseudonymPool } from './pseudonym-pool.js';
import type { RoomCommits } from './room-commits.js';
import { readRoomState } from './room-view.js';

/** How often a running device looks for pseudonymous rooms of its account it is missing. */
export const RECHECK_MS = 60_000;

export class PseudonymDevices {
  /** The interval of watch() (a test shortens it before the profile starts). */
  recheckMs = RECHECK_MS;
  private timer?: NodeJS.Timeout;
  /** Rooms whose join failed in this run: told to the user once, tried again at every check. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly ctx: ProfileContext,
    private readonly pool: PseudonymPool,
    private readonly commits: RoomCommits,
    private readonly outbox: Outbox,
  ) {}

  /**
   * Join the account's rooms (`rooms`: its listRooms, fetched when not given) that it is in only
   * as a user pseudonym issued to another of its devices, and this device is not in yet. Call it
   * in the serial queue.
   */
  async joinMissing(rooms?: RoomInfo[]): Promise<void> {
    const { client, db, config } = this.ctx;
    rooms ??= await client.listRooms();
    const missing = rooms.filter((r) => !db.getRoom(r.roomUri) && !r.participants.includes(config.userUri) && r.participants.some((p) => parseMimiUriAs('pseudonym', p)));
    if (missing.length === 0) return;
    const { pseudonyms } = await client.pseudonyms();
    const elsewhere = new Set(pseudonyms.filter((p) => p.state === 'active' && p.deviceUri !== config.deviceUri).map((p) => p.userPseudonym));
    const here = new Set(pseudonyms.filter((p) => p.deviceUri === config.deviceUri).map((p) => p.userPseudonym));
    for (const r of missing) {
      // A room with one of this device's own pseudonyms is joined by Welcome (it may be on its way).
      if (r.participants.some((p) => here.has(p))) continue;
      const as = r.participants.find((p) => elsewhere.has(p));
      if (!as) continue;
      // Its client here was retired on this device: this device is done with that pseudonym.
      if (db.pseudonym(as)?.retiredAt !== undefined) continue;
      try {
        if (await this.join(r.roomUri, as)) this.ctx.emit('rooms');
        this.reported.delete(r.roomUri);
      } catch (e) {
        if (this.ctx.closed) return;
        if (e instanceof ProviderError && e.code === 'wrongEpoch') continue; // the room moved on meanwhile: next check
        if (this.reported.has(r.roomUri)) continue;
        this.reported.add(r.roomUri);
        const err = toCoreError(e, { key: 'errors.what.joinAsPseudonym' });
        this.ctx.emit('error', err.message, err);
      }
    }
  }

  /** Look for such rooms now, besides the timer (a test that needs to know when the device joins). */
  async checkNow(): Promise<void> {
    const rooms = await this.ctx.client.listRooms();
    await this.ctx.serial.run(() => this.joinMissing(rooms));
  }

  /** Check again every `recheckMs` while the profile is open (from the first connection on). */
  watch(): void {
    if (this.timer || this.ctx.closed) return;
    this.timer = setInterval(() => {
      if (this.ctx.closed) {
        clearInterval(this.timer);
        return;
      }
      // Offline or refused: the next check tries again; a room that keeps failing was reported.
      void this.ctx.serial.run(() => (this.ctx.closed ? undefined : this.joinMissing())).catch(() => undefined);
    }, this.recheckMs);
    this.timer.unref?.();
  }

  /**
   * External commit into `roomUri` as this device's client under `userPseudonym`. False when the
   * room is not one to follow the account into (see worthJoining): nothing is taken or sent then.
   */
  private async join(roomUri: string, userPseudonym: string): Promise<boolean> {
    const { client, engine, db, sessions } = this.ctx;
    const gi = await client.groupInfo(roomUri, { asPseudonym: userPseudonym });
    const groupInfo = fromB64(gi.groupInfo);
    const ratchetTree = fromB64(gi.ratchetTree);
    if (!worthJoining(groupInfo, ratchetTree, userPseudonym)) return false;
    const { row, keys } = await this.pool.actAs(userPseudonym);
    const { pending, commit } = await engine.joinExternal(keys, groupInfo, ratchetTree);
    const info = await pending.groupInfo();
    // The provider takes the committer from the leaf: a client pseudonym issued to this device,
    // naming a user pseudonym of the account that is on the room's list already.
    await client.commit(roomUri, { commit: toB64(commit), groupInfo: toB64(info.groupInfo), ratchetTree: toB64(info.ratchetTree), requestId: toB64(randomBytes(16)) });
    db.tx(() => {
      db.insertRoom({ roomUri, name: '', hubDomain: parseMimiUri(roomUri).domain, epoch: pending.epoch, groupState: pending.encode() });
      db.notePseudonymRoom(row.userPseudonym, roomUri);
    });
    sessions.set(roomUri, pending);
    this.pool.noteRoom(row.userPseudonym, roomUri); // noted already; tells the manager
    this.ctx.emit('epoch');
    // Not awaited: the commit queues behind the serial task this join runs in.
    void this.publishLink(roomUri, keys);
    return true;
  }

  /** The joiner's leaf carries the link sealed at the join; publish it under the newest key (a commit). */
  private async publishLink(roomUri: string, keys: DeviceKeys): Promise<void> {
    try {
      await this.commits.commitWithRetry(roomUri, (s) => s.publishIdentityLink(keys), {}, { key: 'errors.what.publishIdentity' });
    } catch (e) {
      const err = toCoreError(e, { key: 'errors.what.publishIdentity' });
      if (!this.ctx.closed) this.ctx.emit('error', err.message, err);
    }
  }

  /**
   * After a commit was adopted: when a client joined by it by external commit into a room with
   * identity link keys, the member chosen by keysSender sends the joiner the keys of the epochs
   * before its join (it holds the one of its join epoch).
   */
  committed(roomUri: string, s: GroupSession, result: Extract<Incoming, { kind: 'commit' }>): void {
    if (!result.added.includes(result.committer)) return; // a member's commit: joiners by Welcome got the keys in it
    const keys = s.identityLinkKeys().filter((k) => k.epoch < result.epoch);
    if (keys.length === 0 || keysSender(s, result.committer) !== s.ownLeafIndex) return;
    void this.outbox
      .sendControl(roomUri, (me) => identityLinkKeysContent({ senderUri: me, roomUri, keys }))
      .catch((e: unknown) => {
        const err = toCoreError(e, { key: 'errors.what.sendIdentityKeys' });
        this.ctx.emit('error', err.message, err);
      });
  }
}

/**
 * The one member that sends an external joiner the identity link keys: the lowest leaf other than
 * the joiner's whose user may send messages. Every member computes the same from the same epoch,
 * so exactly one sends (undefined: nobody can).
 */
export function keysSender(s: GroupSession, joiner: string): number | undefined {
  const state = roomStateOf(s);
  const leaves = s.members().filter((m) => m.identity !== joiner && (!state || checkMessage(state, userOfMember(m)).ok)).map((m) => m.leafIndex);
  return leaves.length ? Math.min(...leaves) : undefined;
}

/**
 * Whether to follow the account into a room as `userPseudonym`: a minimal-metadata room (in a mixed
 * room, such as a connection request's bootstrap room, the pseudonym is plumbing of the device that
 * made it), in which some client is active as that pseudonym (when all were kicked, the account was
 * put out of the room, not left out of it).
 */
function worthJoining(groupInfo: Uint8Array, ratchetTree: Uint8Array, userPseudonym: string): boolean {
  const gi = decodeGroupInfo(unwrapMlsMessage(groupInfo).body);
  const state = readRoomState(gi.groupContext.extensions.map((e) => ({ type: e.extensionType, data: e.extensionData })));
  if (!state?.minimalMetadata) return false;
  return treeLeaves(decodeRatchetTree(ratchetTree)).some((l) => l.userPseudonym === userPseudonym);
}
