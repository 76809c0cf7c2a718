// Rooms and who is in them: creating a room, adding a user (all their devices), joining by link
// or by external commit (a newly signed-in device joins the account's rooms), and leaving.

import { randomBytes } from 'node:crypto';
import type { RoomPreset, RoomView } from '../../src-shared/contract.js';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { displayUser, newRoomUri, parseMimiUri, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { initialRoomState, pseudonymsAllowed, roleOf } from '../../src-shared/room-state.js';
import { isConnectionOnlyKeyPackage } from '../../src-shared/connection-request.js';
import { vouchesAad, type KeyPackageVouch } from '../../src-shared/key-package-vouch.js';
import { BANNED_ROLE_INDEX } from '../../src-shared/room-policy.js';
import { ProviderError } from '../net/provider-client.js';
import type { DeviceKeys } from '../mls/engine.js';
import type { ProfileContext } from './context.js';
import type { PseudonymDevices } from './pseudonym-devices.js';
import { coreError, toCoreError } from './errors.js';
import { devicesOf, myUser, roomStateOf } from './group-sessions.js';
import { fetchKeyPackagesOverOhttp } from './key-package-fetch.js';
import { COMMIT_ATTEMPTS, type RoomCommits } from './room-commits.js';
import type { RoomReads } from './room-reads.js';
import { addedRole, roomStateExtension, withParticipant } from './room-view.js';
import { userArg } from './user-args.js';

/** RFC 9420 extension type of external_senders. */
const EXTERNAL_SENDERS_EXTENSION = 5;

export class Membership {
  /** Our provider's ExternalSender, fetched once per session. */
  private hubSender?: Uint8Array;
  /** Joins the rooms the account is in only as another device's pseudonym (set by Profile). */
  pseudonymDevices?: PseudonymDevices;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
    private readonly reads: RoomReads,
  ) {}

  /**
   * A new room with this device as its one member. `as`: take part under a pseudonym of the pool
   * (its own keys; the room state names the user pseudonym as creator) instead of the account.
   */
  async createRoom(
    name: string,
    preset: RoomPreset = 'cooperative',
    as?: { keys: DeviceKeys; userPseudonym: string; minimalMetadata?: boolean },
    localName = name,
  ): Promise<RoomView> {
    const { config, client, engine, db, sessions } = this.ctx;
    const keys = as?.keys ?? this.ctx.keys;
    if (name.length > 100) throw coreError('invalidArgument', 'errors.room.nameTooLong', { max: 100 });
    const roomUri = newRoomUri(config.domain);
    // The room state (creator as admin, the name, the preset's roles) is in the GroupContext from
    // epoch 0, and the hub reads it from the GroupInfo it gets with the room.
    // The hub (our provider) goes first in external_senders so it can propose Removes, e.g. of a
    // deleted account's devices (ts-mls finds external senders only in that position).
    let hubSender: Uint8Array;
    try {
      hubSender = this.hubSender ??= fromB64((await client.hubSender()).externalSender);
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.createRoom' });
    }
    // The same key and credential are the room's franking agent: the hub franks every message and
    // receivers check its frank (src-shared/franking.ts; FrankingAgentData has ExternalSender's form).
    const state = initialRoomState({ roomUri, creator: as?.userPseudonym ?? config.userUri, roomName: name, preset, minimalMetadata: as?.minimalMetadata, frankingAgent: hubSender });
    await this.ctx.serial.run(async () => {
      const session = await engine.createGroup(keys, roomUri, [{ type: EXTERNAL_SENDERS_EXTENSION, data: hubSender }, roomStateExtension(state)]);
      const info = await session.groupInfo();
      try {
        await client.createRoom({ roomUri, groupInfo: toB64(info.groupInfo), ratchetTree: toB64(info.ratchetTree) });
      } catch (e) {
        throw toCoreError(e, { key: 'errors.what.createRoom' });
      }
      db.insertRoom({ roomUri, name: localName, hubDomain: config.domain, epoch: session.epoch, groupState: session.encode() });
      sessions.set(roomUri, session);
    });
    this.ctx.emit('rooms');
    return this.reads.roomView(roomUri);
  }

  /** Add a user (all their devices) to a room: claim KeyPackages, commit, hub routes the Welcome. */
  async addMember(roomUri: string, user: string): Promise<RoomView> {
    const { config, client, sessions } = this.ctx;
    const userUri = userArg(config.domain, user);
    this.reads.roomView(roomUri); // throws roomUnknown
    // Someone already here has nothing to be added with (MLS would refuse a second Add of a client).
    if (devicesOf(sessions.get(roomUri), userUri).length > 0) throw coreError('invalidArgument', 'errors.member.alreadyIn', { user: displayUser(userUri) });
    // Refuse before any KeyPackage is spent if our role may not add them.
    this.precheckAdd(roomUri, userUri);
    // Where this account is a pseudonym, it claims as that pseudonym: the target's provider
    // learns nothing of the account.
    const me = myUser(sessions.get(roomUri), config.userUri);
    const asPseudonym = parseMimiUriAs('pseudonym', me) ? me : undefined;
    // A user of another provider, added as ourselves: over Oblivious HTTP when their provider
    // offers it (key-package-fetch.ts), so our provider does not learn whom we fetch; the
    // provider's vouches go into the commit for the hub. A pseudonym keeps claiming through the hub.
    if (!asPseudonym && parseMimiUriAs('user', userUri) && parseMimiUri(userUri).domain !== config.domain) {
      let fetched;
      try {
        fetched = await fetchKeyPackagesOverOhttp({ client, store: this.ctx.db }, userUri);
      } catch (e) {
        throw toCoreError(e, { key: 'errors.what.fetchKeyMaterial', params: { user: displayUser(userUri) } });
      }
      if (fetched) {
        this.checkKeyPackages(userUri, fetched.keyPackages);
        return this.addClients(roomUri, userUri, fetched.keyPackages, fetched.vouches);
      }
    }
    let claim;
    try {
      claim = await client.claim({ roomUri, users: [userUri], ...(asPseudonym ? { asPseudonym } : {}) });
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.fetchKeyMaterial', params: { user: displayUser(userUri) } });
    }
    const result = claim.results.find((r) => r.userUri === userUri);
    if (!result || (result.status !== 'success' && result.status !== 'partialSuccess')) {
      const status = result?.status ?? 'userUnknown';
      if (status === 'userUnknown' || status === 'userDeleted') throw coreError('userUnknown', 'errors.member.unknown', { user: displayUser(userUri), domain: parseMimiUri(userUri).domain });
      if (status === 'noConsent') {
        throw coreError('noConsent', 'errors.member.noConsent', { user: displayUser(userUri) });
      }
      if (status === 'noConsentForThisRoom') {
        throw coreError('noConsent', 'errors.member.noConsentForRoom', { user: displayUser(userUri), room: roomUri });
      }
      throw coreError('noKeyMaterial', 'errors.member.noDeviceNow', { user: displayUser(userUri), status });
    }
    const keyPackages = result.clients.filter((c) => c.keyPackage).map((c) => fromB64(c.keyPackage!));
    this.checkKeyPackages(userUri, keyPackages);
    return this.addClients(roomUri, userUri, keyPackages);
  }

  /** Whether KeyPackages fetched for `userUri` can be added to a room; throws what is wrong. */
  private checkKeyPackages(userUri: string, keyPackages: Uint8Array[]): void {
    if (keyPackages.length === 0) throw coreError('noKeyMaterial', 'errors.member.noDevice', { user: displayUser(userUri) });
    // KeyPackages valid for initial connections only are for the connection flow (connections.ts), nothing else.
    if (keyPackages.some((k) => isConnectionOnlyKeyPackage(k))) {
      throw coreError('notAllowed', 'errors.member.connectionOnly', { user: displayUser(userUri) });
    }
  }

  /** Whether our role may add `userUri` here (and they are not banned); throws what is missing. */
  private precheckAdd(roomUri: string, userUri: string): void {
    const { config, sessions } = this.ctx;
    const s = sessions.get(roomUri);
    const current = roomStateOf(s);
    if (!current) return;
    if (current.minimalMetadata && !parseMimiUriAs('pseudonym', userUri)) {
      throw coreError('notAllowed', 'errors.member.pseudonymsOnly', { user: displayUser(userUri) });
    }
    if (!pseudonymsAllowed(current) && parseMimiUriAs('pseudonym', userUri)) throw coreError('notAllowed', 'errors.member.pseudonymsNotAllowed');
    if (roleOf(current, userUri) === BANNED_ROLE_INDEX) throw coreError('notAllowed', 'errors.member.bannedUnbanFirst', { user: displayUser(userUri) });
    const role = roleOf(current, userUri) || addedRole(current, myUser(s, config.userUri));
    const candidate = `${userUri}#candidate`;
    this.commits.precheck(s, roleOf(current, userUri) ? current : withParticipant(current, userUri, role), [], [candidate], { key: 'errors.action.addMember', params: { user: displayUser(userUri) } }, (d) =>
      d === candidate ? userUri : undefined,
    );
  }

  /**
   * Add `userUri`'s clients from KeyPackages already in hand (claimed, or carried in a connection
   * request): they go on the participant list in the same commit. `vouches`: the providers'
   * vouches for KeyPackages that did not come through the hub (fetched over OHTTP); the commit's
   * authenticated_data carries them.
   */
  async addClients(roomUri: string, userUri: string, keyPackages: Uint8Array[], vouches: KeyPackageVouch[] = []): Promise<RoomView> {
    const { config, engine } = this.ctx;
    this.precheckAdd(roomUri, userUri);
    const addedDevices = keyPackages.map((k) => engine.keyPackageIdentity(k));
    const authenticatedData = vouches.length ? vouchesAad(vouches) : undefined;
    await this.commits.commitWithRetry(
      roomUri,
      async (s) => {
        const state = roomStateOf(s);
        if (!state) return authenticatedData ? s.add(keyPackages, authenticatedData) : s.add(keyPackages);
        const next = roleOf(state, userUri) ? state : withParticipant(state, userUri, addedRole(state, myUser(s, config.userUri)));
        return this.commits.commitRoomChange(
          s,
          next,
          [],
          keyPackages,
          addedDevices,
          { key: 'errors.action.addMember', params: { user: displayUser(userUri) } },
          (d) => (addedDevices.includes(d) ? userUri : undefined),
          authenticatedData,
        );
      },
      { addUsers: [userUri] },
    );
    this.ctx.emit('rooms');
    return this.reads.roomView(roomUri);
  }

  /**
   * Rooms this account is in at the hub but this device is not (a newly signed-in device): join by
   * external commit. As the account: with the device's own keys. As a user pseudonym another device
   * was issued: as a client pseudonym of this device's own under it (pseudonym-devices.ts).
   */
  async joinMissingRooms(): Promise<void> {
    const rooms = await this.ctx.client.listRooms();
    for (const r of rooms) {
      // A room known here only from a backup (history only) is joined like one not known at all.
      if (this.ctx.db.getRoom(r.roomUri) && !this.ctx.db.isHistoryOnly(r.roomUri)) continue;
      if (!r.participants.includes(this.ctx.config.userUri)) continue; // as a pseudonym: below
      try {
        await this.joinExternally(r.roomUri);
      } catch (e) {
        if (e instanceof ProviderError && e.code === 'wrongEpoch') continue; // joined next time we connect
        throw e;
      }
      this.ctx.emit('rooms');
    }
    await this.pseudonymDevices?.joinMissing(rooms);
  }

  /** GroupInfo from the hub, external commit, and the room is this device's again (or for the first time). */
  private async joinExternally(roomUri: string): Promise<void> {
    const { client, engine, keys, db, sessions } = this.ctx;
    const gi = await client.groupInfo(roomUri);
    const { pending, commit } = await engine.joinExternal(keys, fromB64(gi.groupInfo), fromB64(gi.ratchetTree));
    const info = await pending.groupInfo();
    await client.commit(roomUri, { commit: toB64(commit), groupInfo: toB64(info.groupInfo), ratchetTree: toB64(info.ratchetTree), requestId: toB64(randomBytes(16)) });
    db.tx(() => {
      if (db.getRoom(roomUri)) {
        db.markRejoined(roomUri, pending.epoch);
        sessions.save(roomUri, pending);
      } else {
        db.insertRoom({ roomUri, name: '', hubDomain: parseMimiUri(roomUri).domain, epoch: pending.epoch, groupState: pending.encode() });
      }
    });
    sessions.set(roomUri, pending);
  }

  /**
   * Join a room by its link (its URI): for a participant whose clients are not in the group, e.g.
   * after a kick or after leaving from another device. Banned users and users not on the list
   * are refused by the hub.
   */
  async joinRoom(roomUri: string): Promise<RoomView> {
    try {
      if (parseMimiUri(roomUri).kind !== 'room') throw new Error('not a room');
    } catch {
      throw coreError('invalidArgument', 'errors.room.notRoomLink', { room: roomUri });
    }
    const local = this.ctx.db.getRoom(roomUri);
    if (local && !local.left && this.ctx.sessions.get(roomUri).members().some((m) => m.identity === this.ctx.config.deviceUri)) return this.reads.roomView(roomUri);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.serial.run(() => this.joinExternally(roomUri));
        break;
      } catch (e) {
        if (e instanceof ProviderError && e.code === 'wrongEpoch' && attempt < COMMIT_ATTEMPTS) continue; // someone committed first: fetch again
        if (e instanceof ProviderError && (e.code === 'notMember' || e.code === 'notAllowed')) {
          // The hub says "banned" only to its own users; other providers' users hear "not a participant".
          throw coreError('notAllowed', /\bbanned\b/.test(e.message) ? 'errors.room.banned' : 'errors.room.onlyParticipantsJoin');
        }
        throw toCoreError(e, { key: 'errors.what.joinRoom' });
      }
    }
    this.ctx.emit('rooms');
    return this.reads.roomView(roomUri);
  }

  /**
   * Leave a room: propose the removal of all of this account's devices in it; another member's
   * next commit (their clients make it on their own) carries it out. The room is read-only here
   * from now on.
   */
  async leaveRoom(roomUri: string): Promise<RoomView> {
    const view = this.reads.roomView(roomUri);
    if (view.members.length === 0) return view; // already out
    await this.ctx.serial.run(async () => {
      const { client, db, sessions, config } = this.ctx;
      const s = sessions.get(roomUri);
      const mine = devicesOf(s, myUser(s, config.userUri));
      const { session, proposals } = await s.proposeRemove(mine);
      try {
        await client.proposals(roomUri, { proposals: proposals.map(toB64) });
      } catch (e) {
        throw toCoreError(e, { key: 'errors.what.leaveRoom' });
      }
      db.tx(() => {
        sessions.save(roomUri, session);
        db.markLeft(roomUri);
      });
    });
    this.ctx.emit('rooms');
    return this.reads.roomView(roomUri);
  }
}
