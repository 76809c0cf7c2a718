// One account on one device: the profile folder, its secrets, database, MLS groups and the
// connection to the home provider. The desktop app runs several side by side (AppCore); the `mimi`
// command runs exactly one (its --profile folder).
//
// Data flow of one message: send() stores it as pending and queues it in the outbox in one
// transaction -> the outbox pump encrypts it (persisting the advanced ratchet before anything
// leaves the machine) -> POST to the hub with a stable requestId (so a retry after a lost answer
// is not delivered twice) -> the hub fans it out -> each recipient's push stream delivers it ->
// handleEvent decrypts it and stores it together with the push cursor in one transaction.

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CoreError, checkRoomMetadataArgs, type MessageView, type RoomMetadataArgs, type RoomPreset, type RoomSettingsView, type RoomView } from '../../src-shared/contract.js';
import {
  PROFILE_FIELDS,
  type ConsentActionResponse,
  type ConsentListResponse,
  type FindRequest,
  type FindResponse,
  type MyProfile,
  type ProfileFieldName,
  type PushEvent,
  type SessionResponse,
} from '../../src-shared/provider-api.js';
import { fromB64, toB64, toHex, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { decodeContent, encodeContent, messageId, summarize, textMessage } from '../../src-shared/content.js';
import { displayHandle, newRoomUri, parseMimiUri, parseUserAddress, userOfDevice } from '../../src-shared/identifiers.js';
import { welcomeRecipients } from '../../src-shared/mls-wire.js';
import { commitGroupContextExtensions } from '../../src-shared/mls-structs.js';
import type { DeviceKeys, GroupSession, MlsEngine, CommitOutput } from '../mls/engine.js';
import { MlsError } from '../mls/engine.js';
import { ProfileDb, type MessageRow } from '../db/profile-db.js';
import { openSecretStore, probeSecretStore, SecretStoreError, type SecretMode, type SecretStore, type SafeStorageLike } from '../secrets/secret-store.js';
import { Vault } from '../secrets/vault.js';
import { ProviderClient, ProviderError, PushConnection } from '../net/provider-client.js';
import { Serial } from './serial.js';
import { checkCommit, checkMessage, denialText } from '../../src-shared/room-commit.js';
import { initialRoomState, roleOf, ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import { BANNED_ROLE_INDEX, checkChange, type CheckResult } from '../../src-shared/room-policy.js';
import {
  addedRole,
  readRoomState,
  resolveRole,
  roomSettingsView,
  roomStateDocument,
  roomStateExtension,
  withMetadata,
  withoutParticipants,
  withParticipant,
  withRole,
  withRoomState,
  type RoomStateDocument,
} from './room-view.js';

/** Single-use KeyPackages kept on the provider; topped up when fewer remain. */
const KEY_PACKAGE_TARGET = 20;
const KEY_PACKAGE_LOW_WATER = 5;
const COMMIT_ATTEMPTS = 5;
/** RFC 9420 extension type of external_senders. */
const EXTERNAL_SENDERS_EXTENSION = 5;

export interface ProfileConfig {
  version: 1;
  providerUrl: string;
  /** The app's embedded provider: its URL and CA are supplied at open time, not stored. */
  embedded?: boolean;
  domain: string;
  handle: string;
  userUri: string;
  deviceUri: string;
  deviceId: string;
  deviceName: string;
  createdAt: number;
}

export interface ProfileOptions {
  engine: MlsEngine;
  secretMode?: SecretMode;
  safeStorage?: SafeStorageLike;
  /** Overrides for the embedded provider, whose port and CA are the app's to decide. */
  providerUrl?: string;
  caPem?: string;
}

export interface SignInDetails {
  providerUrl: string;
  caPem?: string;
  handle: string;
  password: string;
  deviceName: string;
  embedded?: boolean;
}

export type ConnectionState = 'online' | 'connecting' | 'offline';

const CONFIG_FILE = 'profile.json';
const CA_FILE = 'ca.pem';

function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Map provider failures to errors a person can act on. */
function toCoreError(e: unknown, what: string): Error {
  if (e instanceof CoreError) return e;
  if (e instanceof ProviderError) {
    switch (e.code) {
      case 'unreachable':
        return new CoreError('providerUnreachable', `${what}: ${e.message}. Nothing was changed; check that the provider is running and the address is right, then try again.`);
      case 'peerUnreachable':
        return new CoreError('providerUnreachable', `${what}: ${e.message}. Nothing was changed; try again when it is back (messages you send meanwhile wait in the outbox).`);
      case 'wrongPassword':
        return new CoreError('wrongPassword', 'Wrong handle or password.');
      case 'handleTaken':
        return new CoreError('handleTaken', 'That handle is taken on this provider; choose another.');
      case 'userUnknown':
        return new CoreError('userUnknown', `${what}: no such user on that provider.`);
      case 'roomUnknown':
        return new CoreError('roomUnknown', `${what}: the room no longer exists on its provider.`);
      case 'notMember':
        return new CoreError('notMember', `${what}: you are not a member of this room.`);
      case 'badRequest':
        return new CoreError('invalidArgument', `${what}: ${e.message}`);
      case 'rateLimited':
        return new CoreError('rateLimited', `${what}: ${e.message}`);
      case 'notAllowed':
        return new CoreError('notAllowed', `${what}: ${e.message}`);
      default:
        return new CoreError('internal', `${what}: ${e.message}`);
    }
  }
  if (e instanceof MlsError) return new CoreError('internal', `${what}: encryption layer error (${e.code}): ${e.message}`);
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Decoded room states by session. The app reads the state on every message, room view, send and
 * commit; a session is an immutable value, so its state never changes. Callers must not mutate
 * the returned state (the with* helpers in room-view.ts build new ones).
 */
const decodedRoomStates = new WeakMap<GroupSession, RoomState | undefined>();

export class Profile extends EventEmitter {
  private readonly sessions = new Map<string, GroupSession>();
  /** Hubs of other providers that did not answer our provider lately (shown on their rooms). */
  private readonly unreachableHubs = new Set<string>();
  /** Our provider's ExternalSender, fetched once per session. */
  private hubSender?: Uint8Array;
  private readonly serial = new Serial();
  private push?: PushConnection;
  private pumping = false;
  private pumpAgain = false;
  private retryTimer?: NodeJS.Timeout;
  private caughtUp = false;
  private closed = false;
  /** The consent list last fetched (JSON), to emit 'consent' only on change. */
  private lastConsent?: string;
  connection: ConnectionState = 'offline';

  private constructor(
    readonly dir: string,
    readonly config: ProfileConfig,
    private readonly client: ProviderClient,
    private readonly db: ProfileDb,
    private readonly keys: DeviceKeys,
    private readonly engine: MlsEngine,
    private readonly secrets: SecretStore,
    private readonly pushOptions: { baseUrl: string; token: string; caPem?: string },
  ) {
    super();
  }

  get id(): string {
    return path.basename(this.dir);
  }

  // ---- creation and opening ----

  static exists(dir: string): boolean {
    return fs.existsSync(path.join(dir, CONFIG_FILE));
  }

  static async register(dir: string, d: SignInDetails, opts: ProfileOptions): Promise<Profile> {
    return Profile.signIn(dir, d, opts, 'register');
  }

  /** Sign in as a new device of an existing account. */
  static async login(dir: string, d: SignInDetails, opts: ProfileOptions): Promise<Profile> {
    return Profile.signIn(dir, d, opts, 'login');
  }

  private static async signIn(dir: string, d: SignInDetails, opts: ProfileOptions, how: 'register' | 'login'): Promise<Profile> {
    if (Profile.exists(dir)) throw new CoreError('invalidArgument', `${dir} already holds an account; use another profile folder.`);
    // Before the handle is taken at the provider: a profile that cannot keep its secrets must not
    // leave a registered account behind.
    try {
      await probeSecretStore({ profileDir: dir, preferred: opts.secretMode, safeStorage: opts.safeStorage });
    } catch (e) {
      if (e instanceof SecretStoreError) throw new CoreError('secretStorage', e.message);
      throw e;
    }
    const client = new ProviderClient({ baseUrl: d.providerUrl, caPem: d.caPem });
    let session: SessionResponse;
    try {
      const req = { handle: d.handle, password: d.password, deviceName: d.deviceName };
      session = how === 'register' ? await client.register(req) : await client.login(req);
    } catch (e) {
      throw toCoreError(e, how === 'register' ? 'Could not create the account' : 'Could not sign in');
    }
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (d.caPem && !d.embedded) writeFileAtomic(path.join(dir, CA_FILE), d.caPem);
    const secrets = await openSecretStore({ profileDir: dir, namespace: session.deviceUri, preferred: opts.secretMode, safeStorage: opts.safeStorage });
    const keys = await opts.engine.newDeviceKeys(session.deviceUri);
    await secrets.set('token', utf8(session.token));
    await secrets.set('device-keys', utf8(JSON.stringify({ identity: keys.identity, pub: toB64(keys.signaturePublicKey), priv: toB64(keys.signaturePrivateKey) })));
    const handle = parseMimiUri(session.userUri).handle!;
    const config: ProfileConfig = {
      version: 1,
      providerUrl: d.providerUrl,
      embedded: d.embedded || undefined,
      domain: session.domain,
      handle,
      userUri: session.userUri,
      deviceUri: session.deviceUri,
      deviceId: session.deviceId,
      deviceName: d.deviceName,
      createdAt: Date.now(),
    };
    // Written last: a folder without profile.json is an unfinished sign-in and can be retried.
    writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(config, null, 2));
    const profile = await Profile.open(dir, { ...opts, providerUrl: d.providerUrl, caPem: d.caPem });
    await profile.replenishKeyPackages(true);
    return profile;
  }

  static async open(dir: string, opts: ProfileOptions): Promise<Profile> {
    let config: ProfileConfig;
    try {
      config = JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8')) as ProfileConfig;
    } catch {
      throw new CoreError('noAccount', `No account in ${dir}. Register or log in first.`);
    }
    const secrets = await openSecretStore({ profileDir: dir, namespace: config.deviceUri, preferred: opts.secretMode, safeStorage: opts.safeStorage });
    const token = await secrets.get('token');
    const rawKeys = await secrets.get('device-keys');
    if (!token || !rawKeys) throw new CoreError('noAccount', `The keys of ${config.userUri} are missing from the ${secrets.mode} store; sign in again as a new device.`);
    const k = JSON.parse(fromUtf8(rawKeys)) as { identity: string; pub: string; priv: string };
    const keys: DeviceKeys = { identity: k.identity, signaturePublicKey: fromB64(k.pub), signaturePrivateKey: fromB64(k.priv) };
    const caFile = path.join(dir, CA_FILE);
    const caPem = opts.caPem ?? (fs.existsSync(caFile) ? fs.readFileSync(caFile, 'utf8') : undefined);
    const client = new ProviderClient({ baseUrl: opts.providerUrl ?? config.providerUrl, caPem, token: fromUtf8(token) });
    const vault = await Vault.open(secrets);
    const db = new ProfileDb(path.join(dir, 'mimi.db'), vault);
    return new Profile(dir, config, client, db, keys, opts.engine, secrets, { baseUrl: client.baseUrl, token: fromUtf8(token), caPem });
  }

  // ---- connection ----

  /** Connect the push stream and start draining the outbox. Resolves once the backlog is processed. */
  start(timeoutMs = 15000): Promise<void> {
    if (this.push) return this.whenCaughtUp(timeoutMs);
    const push = new PushConnection(this.pushOptions);
    this.push = push;
    push.on('error', (e) => this.emit('error', `${e.message}. Sign in again on this device.`));
    push.on('state', (s: ConnectionState) => {
      this.connection = s;
      this.emit('connection', s);
      if (s === 'online') this.kickOutbox();
    });
    push.on('event', (ev: PushEvent) => {
      void this.serial.run(() => this.handleEvent(ev)).catch((e) => this.emit('error', toCoreError(e, 'Could not process an incoming event').message));
    });
    push.on('notice', (topic) => {
      if (topic === 'consent') void this.refreshConsent();
    });
    push.on('caughtUp', () => {
      void this.refreshConsent(); // notices sent while we were away are not replayed
      void this.serial.run(async () => {
        if (!this.caughtUp) {
          this.caughtUp = true;
          await this.joinMissingRooms().catch((e) => this.emit('error', toCoreError(e, 'Could not join rooms of this account').message));
          this.emit('caughtUp');
        }
        this.kickOutbox();
      });
    });
    push.start(Number(this.db.getMeta('cursor') ?? '0'));
    return this.whenCaughtUp(timeoutMs);
  }

  private whenCaughtUp(timeoutMs: number): Promise<void> {
    if (this.caughtUp) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('caughtUp', done);
        // Only what is true for every caller: this did not reach the provider. Whether anything
        // waits in the outbox is for the caller to say (the CLI's send queues first, then waits).
        reject(new CoreError('providerUnreachable', `The provider at ${this.client.baseUrl} did not answer within ${Math.round(timeoutMs / 1000)} s. Check that it is running and try again.`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.once('caughtUp', done);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.push?.stop();
    await this.serial.run(() => undefined);
    this.client.close();
    this.db.close();
  }

  // ---- reads ----

  private session(roomUri: string): GroupSession {
    let s = this.sessions.get(roomUri);
    if (!s) {
      const state = this.db.groupState(roomUri);
      if (!state) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
      s = this.engine.restore(state);
      this.sessions.set(roomUri, s);
    }
    return s;
  }

  private saveSession(roomUri: string, s: GroupSession): void {
    this.db.saveGroupState(roomUri, s.epoch, s.encode());
    this.sessions.set(roomUri, s);
  }

  roomView(roomUri: string): RoomView {
    const room = this.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}; it may have been removed.`);
    const members = room.left ? [] : [...new Set(this.session(roomUri).members().map((m) => userOfDevice(m.identity)))];
    const last = this.db.pageMessages(roomUri, null, 1)[0];
    const others = members.filter((m) => m !== this.config.userUri).map(displayHandle);
    // The shared name (room metadata) wins over the name this device gave the room.
    // A room this device left keeps its last group state, so the name stays the one it last saw.
    let shared: string | undefined;
    try {
      shared = this.roomStateOf(this.session(roomUri))?.metadata.roomName;
    } catch {
      shared = undefined;
    }
    return {
      roomUri,
      name: shared || room.name || (others.length ? others.join(', ') : 'Empty room'),
      hubDomain: room.hubDomain,
      ...(this.unreachableHubs.has(room.hubDomain) ? { hubUnreachable: true } : {}),
      members,
      unread: room.unread,
      epoch: room.epoch.toString(),
      lastMessage: last ? { sender: last.sender, text: messageText(last), timestamp: last.timestamp } : undefined,
    };
  }

  rooms(): RoomView[] {
    return this.db.listRooms().map((r) => this.roomView(r.roomUri));
  }

  page(roomUri: string, beforeSeq: number | null, limit: number): MessageView[] {
    if (!this.db.getRoom(roomUri)) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    return this.db.pageMessages(roomUri, beforeSeq, limit).map(toView);
  }

  unreadTotal(): number {
    return this.db.listRooms().reduce((n, r) => n + r.unread, 0);
  }

  markRead(roomUri: string): void {
    if (!this.db.getRoom(roomUri)) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    this.db.markRead(roomUri);
    this.emit('rooms');
  }

  /** Resolve a room given as URI or as its (unique) name. */
  resolveRoom(ref: string): string {
    if (this.db.getRoom(ref)) return ref;
    // The name shown (the shared room name, else the one given here), as `mimi rooms` prints it.
    const byName = this.rooms().filter((r) => r.name === ref);
    if (byName.length === 1) return byName[0].roomUri;
    throw new CoreError('roomUnknown', byName.length ? `Several rooms are named "${ref}"; use the room URI.` : `No room "${ref}". List rooms with: mimi rooms`);
  }

  // ---- rooms ----

  async createRoom(name: string, preset: RoomPreset = 'cooperative'): Promise<RoomView> {
    if (name.length > 100) throw new CoreError('invalidArgument', 'A room name has at most 100 characters.');
    const roomUri = newRoomUri(this.config.domain);
    // The room state (creator as admin, the name, the preset's roles) is in the GroupContext from
    // epoch 0, and the hub reads it from the GroupInfo it gets with the room.
    const state = initialRoomState({ roomUri, creator: this.config.userUri, roomName: name, preset });
    // The hub (our provider) goes first in external_senders so it can propose Removes, e.g. of a
    // deleted account's devices (ts-mls finds external senders only in that position).
    let hubSender: Uint8Array;
    try {
      hubSender = this.hubSender ??= fromB64((await this.client.hubSender()).externalSender);
    } catch (e) {
      throw toCoreError(e, 'Could not create the room');
    }
    await this.serial.run(async () => {
      const session = await this.engine.createGroup(this.keys, roomUri, [{ type: EXTERNAL_SENDERS_EXTENSION, data: hubSender }, roomStateExtension(state)]);
      const info = await session.groupInfo();
      try {
        await this.client.createRoom({ roomUri, groupInfo: toB64(info.groupInfo), ratchetTree: toB64(info.ratchetTree) });
      } catch (e) {
        throw toCoreError(e, 'Could not create the room');
      }
      this.db.insertRoom({ roomUri, name, hubDomain: this.config.domain, epoch: session.epoch, groupState: session.encode() });
      this.sessions.set(roomUri, session);
    });
    this.emit('rooms');
    return this.roomView(roomUri);
  }

  /** Add a user (all their devices) to a room: claim KeyPackages, commit, hub routes the Welcome. */
  async addMember(roomUri: string, user: string): Promise<RoomView> {
    const userUri = this.userArg(user);
    this.roomView(roomUri); // throws roomUnknown
    // Refuse before any KeyPackage is spent if our role may not add them.
    const current = this.roomStateOf(this.session(roomUri));
    if (current) {
      if (roleOf(current, userUri) === BANNED_ROLE_INDEX) throw new CoreError('notAllowed', `${displayHandle(userUri)} is banned from this room; unban them first.`);
      const role = roleOf(current, userUri) || addedRole(current, this.config.userUri);
      this.precheck(this.session(roomUri), roleOf(current, userUri) ? current : withParticipant(current, userUri, role), [], [`${userUri.replace('/u/', '/d/')}/candidate`], `add ${displayHandle(userUri)}`);
    }
    let claim;
    try {
      claim = await this.client.claim({ roomUri, users: [userUri] });
    } catch (e) {
      throw toCoreError(e, `Could not fetch key material for ${displayHandle(userUri)}`);
    }
    const result = claim.results.find((r) => r.userUri === userUri);
    if (!result || (result.status !== 'success' && result.status !== 'partialSuccess')) {
      const status = result?.status ?? 'userUnknown';
      if (status === 'userUnknown' || status === 'userDeleted') throw new CoreError('userUnknown', `${displayHandle(userUri)} does not exist on ${parseMimiUri(userUri).domain}.`);
      if (status === 'noConsent') {
        throw new CoreError('noConsent', `${displayHandle(userUri)} has not consented to being added by you (noConsent). Ask for consent first: mimi consent request ${displayHandle(userUri)}`);
      }
      if (status === 'noConsentForThisRoom') {
        throw new CoreError('noConsent', `${displayHandle(userUri)} has consented to other rooms, not this one (noConsentForThisRoom). Ask for consent for it: mimi consent request ${displayHandle(userUri)} --room ${roomUri}`);
      }
      throw new CoreError('noKeyMaterial', `${displayHandle(userUri)} has no device that can join right now (${status}).`);
    }
    const keyPackages = result.clients.filter((c) => c.keyPackage).map((c) => fromB64(c.keyPackage!));
    if (keyPackages.length === 0) throw new CoreError('noKeyMaterial', `${displayHandle(userUri)} has no device that can join right now.`);
    const addedDevices = keyPackages.map((k) => this.engine.keyPackageIdentity(k));
    await this.commitWithRetry(
      roomUri,
      async (s) => {
        const state = this.roomStateOf(s);
        if (!state) return s.add(keyPackages);
        // The user goes on the list in the same commit that adds their clients.
        const next = roleOf(state, userUri) ? state : withParticipant(state, userUri, addedRole(state, this.config.userUri));
        return this.commitRoomChange(s, next, [], keyPackages, addedDevices, `add ${displayHandle(userUri)}`);
      },
      { addUsers: [userUri] },
    );
    this.emit('rooms');
    return this.roomView(roomUri);
  }

  // ---- room state: roles, kick, ban, metadata ----

  /** The room state of a session, decoded once per session (sessions are immutable: one per epoch). */
  private roomStateOf(s: GroupSession): RoomState | undefined {
    if (decodedRoomStates.has(s)) return decodedRoomStates.get(s);
    const state = readRoomState(s.extensions()); // a malformed state throws each time, as before
    decodedRoomStates.set(s, state);
    return state;
  }

  /** Keep the room state of the epoch a commit leaves: messages of that epoch still arrive for a while. */
  private notePriorState(roomUri: string, before: GroupSession): void {
    const ext = before.extensions().find((e) => e.type === ROOM_STATE_EXTENSION_TYPE);
    this.db.setMeta(`prior-room-state:${roomUri}`, JSON.stringify({ epoch: before.epoch.toString(), state: ext ? toB64(ext.data) : null }));
  }

  /** The room state of `epoch` if it is the one before the current epoch, else `fallback`. */
  private priorState(roomUri: string, epoch: bigint, fallback: RoomState | undefined): RoomState | undefined {
    const raw = this.db.getMeta(`prior-room-state:${roomUri}`);
    if (!raw) return fallback;
    const prior = JSON.parse(raw) as { epoch: string; state: string | null };
    if (BigInt(prior.epoch) !== epoch) return fallback;
    return prior.state ? readRoomState([{ type: ROOM_STATE_EXTENSION_TYPE, data: fromB64(prior.state) }]) : undefined;
  }

  private activeUsers(s: GroupSession): Set<string> {
    return new Set(s.members().map((m) => userOfDevice(m.identity)));
  }

  private managedState(roomUri: string): { s: GroupSession; state: RoomState } {
    const room = this.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    if (room.left) throw new CoreError('notMember', 'You are no longer a member of this room.');
    const s = this.session(roomUri);
    const state = this.roomStateOf(s);
    if (!state) throw new CoreError('invalidArgument', 'This room has no room state (an older client created it): it has no roles to change.');
    return { s, state };
  }

  /** Participants with roles, metadata, and what this account may do. */
  roomSettings(roomUri: string): RoomSettingsView {
    const room = this.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const s = this.session(roomUri);
    return roomSettingsView(roomUri, room.left ? undefined : this.roomStateOf(s), this.config.userUri, room.left ? new Set() : this.activeUsers(s));
  }

  /** The room state as JSON (for `mimi room-state`), with the encoded components. */
  roomStateDocument(roomUri: string): RoomStateDocument {
    if (!this.db.getRoom(roomUri)) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const s = this.session(roomUri);
    return roomStateDocument(roomUri, this.roomStateOf(s), this.activeUsers(s));
  }

  async setRoomMetadata(roomUri: string, args: RoomMetadataArgs): Promise<RoomSettingsView> {
    checkRoomMetadataArgs(args);
    this.managedState(roomUri);
    return this.changeRoom(roomUri, 'change the room details', (state) => ({ state: withMetadata(state, args) }));
  }

  /** Move `user` to another role (index or name). */
  async setRole(roomUri: string, user: string, role: number | string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    const roleIndex = resolveRole(state, role);
    if (roleIndex === undefined) {
      throw new CoreError('invalidArgument', `This room has no role "${role}"; its roles are ${state.policy.roles.map((r) => `${r.roleIndex} ${r.roleName}`).join(', ')}.`);
    }
    if (roleIndex === BANNED_ROLE_INDEX) return this.ban(roomUri, user);
    if (!roleOf(state, userUri)) throw new CoreError('invalidArgument', `${displayHandle(userUri)} is not a participant of this room.`);
    return this.changeRoom(roomUri, `change the role of ${displayHandle(userUri)}`, (st) => ({ state: withRole(st, userUri, roleIndex) }));
  }

  /** Remove a participant's clients; they stay on the list (and may come back). */
  async kick(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { s } = this.managedState(roomUri);
    if (!this.activeUsers(s).has(userUri)) throw new CoreError('invalidArgument', `${displayHandle(userUri)} has no clients in this room.`);
    return this.changeRoom(roomUri, `kick ${displayHandle(userUri)}`, (st, sess) => ({ state: st, remove: this.devicesOf(sess, userUri) }));
  }

  /** Take `user` off the participant list, and their clients out of the group, in one commit. */
  async removeMember(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    if (!roleOf(state, userUri)) throw new CoreError('invalidArgument', `${displayHandle(userUri)} is not a participant of this room.`);
    if (userUri === this.config.userUri) throw new CoreError('invalidArgument', 'To remove yourself, leave the room.');
    return this.changeRoom(roomUri, `remove ${displayHandle(userUri)}`, (st, sess) => ({
      state: withoutParticipants(st, new Set([userUri])),
      remove: this.devicesOf(sess, userUri),
    }));
  }

  /** Move `user` to role 1 (banned) and remove their clients in the same commit. */
  async ban(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    this.managedState(roomUri);
    return this.changeRoom(roomUri, `ban ${displayHandle(userUri)}`, (st, sess) => ({
      state: roleOf(st, userUri) ? withRole(st, userUri, BANNED_ROLE_INDEX) : withParticipant(st, userUri, BANNED_ROLE_INDEX),
      remove: this.devicesOf(sess, userUri),
    }));
  }

  /**
   * Report `user` to the room's hub (draft-ietf-mimi-protocol-06 "Report abuse"): the hub keeps it
   * for its operator. Our role must have canReportAbuse; the hub checks that too.
   */
  async reportAbuse(roomUri: string, user: string, note: string): Promise<void> {
    const userUri = this.userArg(user);
    if (userUri === this.config.userUri) throw new CoreError('invalidArgument', 'You cannot report yourself.');
    if (utf8(note).length > 4096) throw new CoreError('invalidArgument', 'The note is too long (at most 4 KiB).');
    const room = this.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const state = this.roomStateOf(this.session(roomUri));
    if (state) {
      const may = checkChange(state.policy, state.participants, this.config.userUri, { kind: 'use', capability: 'canReportAbuse' });
      if (!may.ok) throw new CoreError('notAllowed', `Cannot report ${displayHandle(userUri)}: your ${denialText(may)}.`);
    }
    try {
      await this.client.reportAbuse(roomUri, { user: userUri, note });
    } catch (e) {
      throw toCoreError(e, `Could not report ${displayHandle(userUri)}`);
    }
  }

  /** Lift a ban: the user gets the role an added user gets, without clients; add them to bring them back. */
  async unban(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    if (roleOf(state, userUri) !== BANNED_ROLE_INDEX) throw new CoreError('invalidArgument', `${displayHandle(userUri)} is not banned from this room.`);
    return this.changeRoom(roomUri, `unban ${displayHandle(userUri)}`, (st) => ({ state: withRole(st, userUri, addedRole(st, this.config.userUri)) }));
  }

  /** A user address as typed (bob, bob@b.example, a URI) as a user URI; `forms` is the hint on failure. */
  private userArg(user: string, forms = 'bob, bob@b.example or mimi://b.example/u/bob'): string {
    try {
      return parseUserAddress(user, this.config.domain);
    } catch {
      throw new CoreError('invalidArgument', `"${user}" is not a user address; write ${forms}.`);
    }
  }

  private devicesOf(s: GroupSession, userUri: string): string[] {
    return s.members().filter((m) => userOfDevice(m.identity) === userUri).map((m) => m.identity);
  }

  /** One commit changing the room state (and removing clients), rebuilt on the state of each attempt. */
  private async changeRoom(roomUri: string, what: string, plan: (state: RoomState, s: GroupSession) => { state: RoomState; remove?: string[] }): Promise<RoomSettingsView> {
    await this.commitWithRetry(
      roomUri,
      async (s) => {
        const state = this.roomStateOf(s);
        if (!state) throw new CoreError('invalidArgument', 'This room has no room state.');
        const p = plan(state, s);
        return this.commitRoomChange(s, p.state, p.remove ?? [], [], [], what);
      },
      {},
      `Could not ${what}`,
    );
    this.emit('rooms');
    return this.roomSettings(roomUri);
  }

  /**
   * Build a commit that moves the room to `next` (plus: users whose every client is leaving by
   * pending proposal leave the list), after checking it as the hub and every member will.
   */
  private async commitRoomChange(s: GroupSession, next: RoomState, remove: string[], add: Uint8Array[], addedDevices: string[], what: string): Promise<CommitOutput> {
    const target = this.withDepartures(s, next);
    this.precheck(s, target, remove, addedDevices, what);
    return s.commitChanges({ add, remove, extensions: withRoomState(s.extensions(), target) });
  }

  /** `next` without the users all of whose clients pending Remove proposals of their own (or the hub's) take out. */
  private withDepartures(s: GroupSession, next: RoomState): RoomState {
    const departing = new Set(s.pendingRemovals().filter((r) => r.departed).map((r) => r.identity));
    if (departing.size === 0) return next;
    const gone = new Set<string>();
    for (const u of this.activeUsers(s)) if (this.devicesOf(s, u).every((d) => departing.has(d))) gone.add(u);
    return withoutParticipants(next, gone);
  }

  /** Throws CoreError('notAllowed') naming the missing capability if the commit would be refused. */
  private precheck(s: GroupSession, next: RoomState, remove: string[], addedDevices: string[], what: string): void {
    const before = this.roomStateOf(s);
    if (!before) return;
    const pending = s.pendingRemovals();
    const gone = new Set([...remove, ...pending.map((r) => r.identity)]);
    const devicesBefore = s.members().map((m) => m.identity);
    let result: CheckResult;
    try {
      result = checkCommit({
        before,
        after: next,
        committer: this.config.userUri,
        devicesBefore,
        devicesAfter: [...devicesBefore.filter((d) => !gone.has(d)), ...addedDevices],
        departed: new Set(pending.filter((r) => r.departed).map((r) => r.identity)),
        removedByHub: new Set(pending.filter((r) => r.byHub).map((r) => r.identity)),
      });
    } catch (e) {
      throw new CoreError('notAllowed', `Cannot ${what}: ${(e as Error).message}.`);
    }
    if (!result.ok) throw new CoreError('notAllowed', `Cannot ${what}: your ${denialText(result)}.`);
  }

  /**
   * Create a commit against the current epoch and submit it; adopt the new state only when the hub
   * accepts it. If another commit won the epoch, wait until the push stream brings us there, then
   * build the commit again on top of it.
   */
  private async commitWithRetry(
    roomUri: string,
    build: (s: GroupSession) => Promise<CommitOutput | undefined>,
    extra: { addUsers?: string[]; removeUsers?: string[]; removeDevices?: string[] },
    what = 'The room change was refused',
  ): Promise<void> {
    const requestId = toB64(randomBytes(16));
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.serial.run(async () => {
        const s = this.session(roomUri);
        const out = await build(s);
        if (!out) return 'done' as const; // nothing left to commit (e.g. someone else committed it)
        try {
          await this.client.commit(roomUri, {
            commit: toB64(out.commit),
            welcome: out.welcome ? toB64(out.welcome) : undefined,
            groupInfo: toB64(out.groupInfo),
            ratchetTree: toB64(out.ratchetTree),
            ...extra,
            requestId: `${requestId}-${s.epoch}`,
          });
        } catch (e) {
          if (e instanceof ProviderError && e.code === 'wrongEpoch' && e.currentEpoch !== undefined) return e.currentEpoch;
          throw toCoreError(e, what);
        }
        this.db.tx(() => {
          this.notePriorState(roomUri, s);
          this.saveSession(roomUri, out.pending);
        });
        return 'done' as const;
      });
      if (outcome === 'done') return;
      this.emit('commitRetry', roomUri, outcome);
      if (attempt >= COMMIT_ATTEMPTS) throw new CoreError('internal', 'The room kept changing while this change was being made; try again.');
      await this.waitForEpoch(roomUri, outcome);
    }
  }

  private waitForEpoch(roomUri: string, epoch: bigint, timeoutMs = 15000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.session(roomUri).epoch >= epoch) {
          clearTimeout(t);
          this.off('epoch', check);
          resolve();
        }
      };
      const t = setTimeout(() => {
        this.off('epoch', check);
        reject(new CoreError('providerUnreachable', 'The room did not catch up with its hub in time; check the connection and try again.'));
      }, timeoutMs);
      this.on('epoch', check);
      check();
    });
  }

  // ---- messages ----

  async send(roomUri: string, text: string): Promise<MessageView> {
    const room = this.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    if (room.left) throw new CoreError('notMember', 'You are no longer a member of this room.');
    if (text.trim() === '') throw new CoreError('invalidArgument', 'The message is empty.');
    const state = this.roomStateOf(this.session(roomUri));
    const may = state ? checkMessage(state, this.config.userUri) : { ok: true as const };
    if (!may.ok) throw new CoreError('notAllowed', `You cannot send messages in this room: your ${denialText(may)}.`);
    const content = encodeContent(textMessage({ senderUri: this.config.userUri, roomUri, text }));
    const id = toHex(messageId(content));
    const row = this.db.tx(() => {
      const m = this.db.insertMessage({ roomUri, messageId: id, sender: this.config.userUri, content, timestamp: Date.now(), status: 'pending' }, false)!;
      this.db.enqueue({ requestId: id, roomUri, messageSeq: m.seq, content });
      return m;
    });
    const view = toView(row);
    this.emit('message', view);
    this.kickOutbox();
    return view;
  }

  /** Messages stored on this device that the provider has not accepted yet. */
  queuedMessages(): number {
    return this.db.outbox().length;
  }

  /** Resolves when the outbox is empty (or rejects after the timeout). */
  async flushOutbox(timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.kickOutbox();
    while (this.db.outbox().length > 0) {
      if (Date.now() > deadline) throw new CoreError('providerUnreachable', `${this.db.outbox().length} message(s) still wait in the outbox; the provider did not accept them in time.`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private kickOutbox(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pumpOutbox().finally(() => {
      this.pumping = false;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.kickOutbox();
      }
    });
  }

  private async pumpOutbox(): Promise<void> {
    for (const item of this.db.outbox()) {
      if (this.closed) return;
      let epochWait: bigint | undefined;
      try {
        // Encrypt and persist the advanced ratchet before the ciphertext leaves: a generation key
        // must never be used twice, even if we crash right after sending.
        // MLS forbids application messages while proposals are pending: commit them first.
        if (this.session(item.roomUri).pendingProposals() > 0) await this.commitPendingProposals(item.roomUri);
        const message = await this.serial.run(async () => {
          const s = this.session(item.roomUri);
          const { session, message } = await s.encrypt(item.content);
          this.saveSession(item.roomUri, session);
          return message;
        });
        this.db.bumpAttempts(item.requestId);
        const res = await this.client.sendMessage(item.roomUri, { message: toB64(message), requestId: item.requestId });
        this.noteHub(item.roomUri, true);
        this.db.tx(() => {
          this.db.dequeue(item.requestId);
          this.db.setMessageStatus(item.messageSeq, 'sent', res.acceptedTimestamp);
        });
        this.emitMessage(item.messageSeq);
      } catch (e) {
        if (e instanceof ProviderError && e.code === 'epochTooOld' && e.currentEpoch !== undefined) {
          epochWait = e.currentEpoch;
        } else if (e instanceof ProviderError && (e.code === 'unreachable' || e.code === 'peerUnreachable' || e.code === 'internal' || e.code === 'rateLimited')) {
          if (e.code === 'peerUnreachable') this.noteHub(item.roomUri, false);
          this.scheduleRetry();
          return; // keep order: nothing after this one goes first
        } else {
          // A permanent refusal (not a member, room gone, malformed): tell the user, don't retry forever.
          this.db.tx(() => {
            this.db.dequeue(item.requestId);
            this.db.setMessageStatus(item.messageSeq, 'failed');
          });
          this.emitMessage(item.messageSeq);
          this.emit('error', toCoreError(e, 'A message could not be sent').message);
          continue;
        }
      }
      if (epochWait !== undefined) {
        await this.waitForEpoch(item.roomUri, epochWait).catch(() => this.scheduleRetry());
        this.pumpAgain = true;
        return;
      }
    }
  }

  /** Tracks whether a room's hub (when it is another provider) answers; the UI shows it. */
  private noteHub(roomUri: string, reachable: boolean): void {
    const hub = parseMimiUri(roomUri).domain;
    if (hub === this.config.domain || reachable !== this.unreachableHubs.has(hub)) return;
    if (reachable) this.unreachableHubs.delete(hub);
    else this.unreachableHubs.add(hub);
    this.emit('rooms');
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.kickOutbox(), 2000);
    this.retryTimer.unref?.();
  }

  private emitMessage(seq: number): void {
    const row = this.db.getMessage(seq);
    if (row) this.emit('message', toView(row));
  }

  // ---- incoming ----

  private async handleEvent(ev: PushEvent): Promise<void> {
    try {
      if (ev.kind === 'welcome') await this.onWelcome(ev);
      else if (ev.kind === 'commit' || ev.kind === 'message') await this.onGroupMessage(ev);
    } catch (e) {
      // One undecryptable or stale event must not stall the stream: report it and move on.
      this.emit('error', toCoreError(e, `Could not process a ${ev.kind} in ${ev.roomUri}`).message);
    }
    this.db.setMeta('cursor', String(ev.seq));
    this.push?.confirm(ev.seq);
  }

  private async onWelcome(ev: PushEvent): Promise<void> {
    const welcome = fromB64(ev.payload);
    for (const ref of welcomeRecipients(welcome)) {
      const refHex = toHex(ref);
      const kp = this.db.getKeyPackage(refHex);
      if (!kp) continue;
      const session = await this.engine.joinFromWelcome(this.keys, welcome, { publicMessage: kp.publicMessage, ref, privateState: kp.privateState }, ev.ratchetTree ? fromB64(ev.ratchetTree) : undefined);
      this.db.tx(() => {
        if (!kp.lastResort) this.db.deleteKeyPackage(refHex);
        if (this.db.getRoom(ev.roomUri)) {
          // Added again after being removed (kicked, banned and unbanned, or left): a member again.
          this.db.markRejoined(ev.roomUri);
          this.saveSession(ev.roomUri, session);
        } else this.db.insertRoom({ roomUri: ev.roomUri, name: '', hubDomain: parseMimiUri(ev.roomUri).domain, epoch: session.epoch, groupState: session.encode() });
        this.db.setMeta('cursor', String(ev.seq));
      });
      this.sessions.set(ev.roomUri, session);
      this.emit('rooms');
      this.emit('epoch');
      void this.replenishKeyPackages(false).catch(() => undefined);
      return;
    }
    throw new MlsError('notMember', 'a Welcome arrived for none of our KeyPackages');
  }

  private async onGroupMessage(ev: PushEvent): Promise<void> {
    const room = this.db.getRoom(ev.roomUri);
    if (!room) throw new CoreError('roomUnknown', 'event for a room we are not in');
    const s = this.session(ev.roomUri);
    const msgEpoch = BigInt(ev.epoch);
    // Our own commits come back to no one; a commit for an epoch we already left is stale.
    if (ev.kind === 'commit' && msgEpoch < s.epoch) return;
    const payload = fromB64(ev.payload);
    const { session, result } = await s.process(payload);
    const state = this.roomStateOf(s);
    if (result.kind === 'commit' && state) this.verifyCommit(s, session, state, result, payload);
    if (result.kind === 'application') {
      const sender = userOfDevice(result.senderIdentity);
      // Judged by the state of the epoch it was sent in, as the hub judged it.
      const then = result.epoch < s.epoch ? this.priorState(ev.roomUri, result.epoch, state) : state;
      const may = then ? checkMessage(then, sender) : { ok: true as const };
      if (!may.ok) {
        // A muted or banned sender's message got past the hub: keep the ratchet, hide the message.
        this.db.tx(() => {
          this.saveSession(ev.roomUri, session);
          this.db.setMeta('cursor', String(ev.seq));
        });
        this.emit('error', `A message from ${displayHandle(sender)} was hidden: the room policy does not let them send (${may.denied}).`);
        return;
      }
      const content = result.plaintext;
      const c = decodeContent(content); // throws on malformed content; nothing stored
      const senderExt = c.extensions.get(1);
      if (typeof senderExt === 'string' && senderExt !== sender) throw new MlsError('invalid', 'content sender does not match the MLS sender');
      const own = sender === this.config.userUri;
      const row = this.db.tx(() => {
        this.saveSession(ev.roomUri, session);
        this.db.setMeta('cursor', String(ev.seq));
        return this.db.insertMessage(
          { roomUri: ev.roomUri, messageId: toHex(messageId(content)), sender, content, timestamp: ev.acceptedTimestamp, status: own ? 'sent' : 'received' },
          !own,
        );
      });
      if (row) {
        this.emit('message', toView(row));
        this.emit('rooms');
      }
      return;
    }
    if (result.kind === 'proposal') void this.commitPendingProposals(ev.roomUri).catch((e) => this.emit('error', toCoreError(e, 'Could not apply a change the room\'s hub asked for').message));
    this.db.tx(() => {
      if (result.kind === 'commit') this.notePriorState(ev.roomUri, s);
      this.saveSession(ev.roomUri, session);
      if (result.kind === 'commit' && result.selfRemoved) this.db.markLeft(ev.roomUri);
      this.db.setMeta('cursor', String(ev.seq));
    });
    this.emit('epoch');
    this.emit('rooms');
  }

  /**
   * Every member checks a commit as the hub does and does not adopt one the room policy forbids:
   * the group then stays at the old epoch here, which is what "ignored" costs.
   */
  private verifyCommit(
    before: GroupSession,
    after: GroupSession,
    state: RoomState,
    result: Extract<Awaited<ReturnType<GroupSession['process']>>['result'], { kind: 'commit' }>,
    commit: Uint8Array,
  ): void {
    // The new state is what the commit's GroupContextExtensions proposal sets (read from the
    // PublicMessage: a member the commit removes gets no new GroupContext from ts-mls, and must be
    // able to refuse its own unauthorized removal too).
    let next: RoomState | undefined;
    let extensionsAfter: { type: number; data: Uint8Array }[] | undefined;
    try {
      const proposed = commitGroupContextExtensions(commit);
      extensionsAfter = proposed ? proposed.map((e) => ({ type: e.extensionType, data: e.extensionData })) : before.extensions();
      next = readRoomState(extensionsAfter);
    } catch {
      next = result.selfRemoved ? undefined : this.roomStateOf(after);
      extensionsAfter = result.selfRemoved ? undefined : after.extensions();
    }
    const who = (() => {
      try {
        return userOfDevice(result.committer);
      } catch {
        return '';
      }
    })();
    let verdict: CheckResult;
    try {
      if (!next) throw new Error('the commit drops the room state');
      verdict = checkCommit({
        before: state,
        after: next,
        committer: who,
        devicesBefore: before.members().map((m) => m.identity),
        devicesAfter: after.members().map((m) => m.identity),
        departed: new Set(result.departed),
        removedByHub: new Set(result.removedByHub),
        extensionsBefore: before.extensions(),
        extensionsAfter,
      });
    } catch (e) {
      throw new MlsError('invalid', `ignored a commit by ${who ? displayHandle(who) : 'an unknown device'} that breaks the room state rules: ${(e as Error).message}`);
    }
    if (!verdict.ok) throw new MlsError('invalid', `ignored a commit by ${displayHandle(who)} that the room policy forbids: ${denialText(verdict)}`);
  }

  /** Rooms this account is in at the hub but this device is not (a newly signed-in device): join by external commit. */
  private async joinMissingRooms(): Promise<void> {
    const rooms = await this.client.listRooms();
    for (const r of rooms) {
      if (this.db.getRoom(r.roomUri)) continue;
      try {
        await this.joinExternally(r.roomUri);
      } catch (e) {
        if (e instanceof ProviderError && e.code === 'wrongEpoch') continue; // joined next time we connect
        throw e;
      }
      this.emit('rooms');
    }
  }

  /** GroupInfo from the hub, external commit, and the room is this device's again (or for the first time). */
  private async joinExternally(roomUri: string): Promise<void> {
    const gi = await this.client.groupInfo(roomUri);
    const { pending, commit } = await this.engine.joinExternal(this.keys, fromB64(gi.groupInfo), fromB64(gi.ratchetTree));
    const info = await pending.groupInfo();
    await this.client.commit(roomUri, { commit: toB64(commit), groupInfo: toB64(info.groupInfo), ratchetTree: toB64(info.ratchetTree), requestId: toB64(randomBytes(16)) });
    this.db.tx(() => {
      if (this.db.getRoom(roomUri)) {
        this.db.markRejoined(roomUri);
        this.saveSession(roomUri, pending);
      } else {
        this.db.insertRoom({ roomUri, name: '', hubDomain: parseMimiUri(roomUri).domain, epoch: pending.epoch, groupState: pending.encode() });
      }
    });
    this.sessions.set(roomUri, pending);
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
      throw new CoreError('invalidArgument', `"${roomUri}" is not a room link; it looks like mimi://a.example/r/…`);
    }
    const local = this.db.getRoom(roomUri);
    if (local && !local.left && this.session(roomUri).members().some((m) => m.identity === this.config.deviceUri)) return this.roomView(roomUri);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.serial.run(() => this.joinExternally(roomUri));
        break;
      } catch (e) {
        if (e instanceof ProviderError && e.code === 'wrongEpoch' && attempt < COMMIT_ATTEMPTS) continue; // someone committed first: fetch again
        if (e instanceof ProviderError && (e.code === 'notMember' || e.code === 'notAllowed')) {
          // The hub says "banned" only to its own users; other providers' users hear "not a participant".
          throw new CoreError(
            'notAllowed',
            /\bbanned\b/.test(e.message)
              ? 'You are banned from this room. A member has to unban you and add you again.'
              : 'Only participants can join a room by its link; ask a member to add you.',
          );
        }
        throw toCoreError(e, 'Could not join the room');
      }
    }
    this.emit('rooms');
    return this.roomView(roomUri);
  }

  /**
   * Commit the proposals this device holds (the hub's Removes): every member tries, the hub takes
   * the first commit, and the others find nothing left to commit once they have caught up.
   */
  private async commitPendingProposals(roomUri: string): Promise<void> {
    // A proposal removing this device is committed by someone else (MLS forbids doing it oneself).
    await this.commitWithRetry(
      roomUri,
      async (s) => {
        if (s.pendingProposals() === 0 || s.pendingRemovesSelf()) return undefined;
        const state = this.roomStateOf(s);
        // Users leaving (or deleted) also leave the participant list, in the same commit.
        return state ? this.commitRoomChange(s, state, [], [], [], 'apply the pending changes') : s.update();
      },
      {},
    );
  }

  /**
   * Leave a room: propose the removal of all of this account's devices in it; another member's
   * next commit (their clients make it on their own) carries it out. The room is read-only here
   * from now on.
   */
  async leaveRoom(roomUri: string): Promise<RoomView> {
    const view = this.roomView(roomUri);
    if (view.members.length === 0) return view; // already out
    await this.serial.run(async () => {
      const s = this.session(roomUri);
      const mine = s.members().filter((m) => userOfDevice(m.identity) === this.config.userUri).map((m) => m.identity);
      const { session, proposals } = await s.proposeRemove(mine);
      try {
        await this.client.proposals(roomUri, { proposals: proposals.map(toB64) });
      } catch (e) {
        throw toCoreError(e, 'Could not leave the room');
      }
      this.db.tx(() => {
        this.saveSession(roomUri, session);
        this.db.markLeft(roomUri);
      });
    });
    this.emit('rooms');
    return this.roomView(roomUri);
  }

  /** Delete this account at the provider (all its devices); hubs then remove its devices from rooms. */
  async deleteAccount(): Promise<void> {
    try {
      await this.client.deleteAccount();
    } catch (e) {
      throw toCoreError(e, 'Could not delete the account');
    }
    await this.close();
  }

  // ---- consent (users of other providers; users of our provider need none) ----

  /** Incoming requests, my grants and blocks, my requests with their outcome. */
  async consentList(): Promise<ConsentListResponse> {
    try {
      return await this.client.consents();
    } catch (e) {
      throw toCoreError(e, 'Could not list consents');
    }
  }

  /** Ask `user` for consent to add them to any room, or to `room` (URI or local room name). */
  requestConsent(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consentAction('requestConsent', user, room, `Could not ask ${user} for consent`);
  }

  /** Withdraw a request made with the same user and room. */
  cancelConsentRequest(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consentAction('cancelConsent', user, room, 'Could not cancel the consent request');
  }

  /** Let `user` add me to any room, or only to `room`. */
  grantConsent(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consentAction('grantConsent', user, room, `Could not grant consent to ${user}`);
  }

  /** Turn down the pending requests of `user`. */
  declineConsent(user: string): Promise<ConsentActionResponse> {
    return this.consentAction('declineConsent', user, undefined, `Could not decline ${user}`);
  }

  /** Withdraw my grants to `user` (all of them, or the one for `room`). */
  revokeConsent(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consentAction('revokeConsent', user, room, `Could not revoke consent for ${user}`);
  }

  /** Refuse `user` silently: no grant, no requests. */
  blockUser(user: string): Promise<ConsentActionResponse> {
    return this.consentAction('blockUser', user, undefined, `Could not block ${user}`);
  }

  unblockUser(user: string): Promise<ConsentActionResponse> {
    return this.consentAction('unblockUser', user, undefined, `Could not unblock ${user}`);
  }

  private async consentAction(
    action: 'requestConsent' | 'cancelConsent' | 'grantConsent' | 'declineConsent' | 'revokeConsent' | 'blockUser' | 'unblockUser',
    user: string,
    room: string | undefined,
    what: string,
  ): Promise<ConsentActionResponse> {
    // Consent concerns users of other providers, so the hint leaves out the bare handle.
    const userUri = this.userArg(user, 'bob@b.example or mimi://b.example/u/bob');
    const roomUri = room === undefined ? undefined : this.roomArg(room);
    let res: ConsentActionResponse;
    try {
      res = await this.client.consentAction(action, { user: userUri, ...(roomUri ? { roomUri } : {}) });
    } catch (e) {
      throw toCoreError(e, what);
    }
    await this.refreshConsent();
    return res;
  }

  /** A room URI as given (it may be a room we are not in), else a local room's unique name. */
  private roomArg(room: string): string {
    try {
      if (parseMimiUri(room).kind === 'room') return room;
    } catch {
      // not a URI: a name
    }
    return this.resolveRoom(room);
  }

  /** Fetch the consent list and emit 'consent' (with it) if it changed; only while someone listens. */
  private async refreshConsent(): Promise<void> {
    if (this.closed || this.listenerCount('consent') === 0) return;
    try {
      const list = await this.client.consents();
      const json = JSON.stringify(list);
      if (json === this.lastConsent) return;
      this.lastConsent = json;
      this.emit('consent', list);
    } catch {
      // a provider without consent support, or offline: the next notice or connect fetches again
    }
  }

  // ---- discovery ----

  /** My profile fields and which of them are searchable. */
  async myProfile(): Promise<MyProfile> {
    try {
      return await this.client.myProfile();
    } catch (e) {
      throw toCoreError(e, 'Could not read the profile');
    }
  }

  /** Set (string) or clear (null) profile fields; absent ones stay. */
  async setProfileFields(fields: { nick?: string | null; email?: string | null; phone?: string | null; displayName?: string | null }): Promise<MyProfile> {
    try {
      return await this.client.setMyProfile(fields);
    } catch (e) {
      throw toCoreError(e, 'Could not update the profile');
    }
  }

  /** Whether others may find me by `field` (handle, nick, email, phone, name). */
  async setSearchable(field: ProfileFieldName, on: boolean): Promise<MyProfile> {
    if (!(PROFILE_FIELDS as readonly string[]).includes(field)) {
      throw new CoreError('invalidArgument', `"${field}" is not a profile field; use one of ${PROFILE_FIELDS.join(', ')}.`);
    }
    try {
      return await this.client.setMyProfile({ searchable: { [field]: on } });
    } catch (e) {
      throw toCoreError(e, 'Could not change what is searchable');
    }
  }

  /** Search a provider (default: the handle's, else mine) for users; fields are ANDed. */
  async find(query: FindRequest): Promise<FindResponse> {
    try {
      return await this.client.find(query);
    } catch (e) {
      throw toCoreError(e, 'The search failed');
    }
  }

  // ---- key material ----

  /** Keep KEY_PACKAGE_TARGET single-use KeyPackages on the provider, plus a last-resort one. */
  async replenishKeyPackages(initial: boolean): Promise<void> {
    const { available } = initial ? { available: 0 } : await this.client.keyPackageCount();
    if (!initial && available >= KEY_PACKAGE_LOW_WATER) return;
    const fresh = await this.engine.generateKeyPackages(this.keys, KEY_PACKAGE_TARGET - available + (initial ? 1 : 0));
    const lastResort = initial ? fresh.pop() : undefined;
    this.db.tx(() => {
      for (const kp of fresh) this.db.saveKeyPackage(toHex(kp.ref), kp.publicMessage, kp.privateState, false);
      if (lastResort) this.db.saveKeyPackage(toHex(lastResort.ref), lastResort.publicMessage, lastResort.privateState, true);
    });
    await this.client.uploadKeyPackages({ keyPackages: fresh.map((k) => toB64(k.publicMessage)), lastResort: lastResort ? toB64(lastResort.publicMessage) : undefined });
    if (lastResort) this.db.deleteLastResortExcept(toHex(lastResort.ref));
  }

  /** The secret storage mode this profile uses (shown in account settings). */
  get secretMode(): SecretMode {
    return this.secrets.mode;
  }
}

function messageText(m: MessageRow): string {
  try {
    return summarize(decodeContent(m.content)).text;
  } catch {
    return '';
  }
}

function toView(m: MessageRow): MessageView {
  const s = summarize(decodeContent(m.content));
  return {
    seq: m.seq,
    messageId: m.messageId,
    roomUri: m.roomUri,
    sender: m.sender,
    text: s.text,
    contentType: s.contentType,
    timestamp: m.timestamp,
    status: m.status,
    inReplyTo: s.inReplyTo ? toHex(s.inReplyTo) : undefined,
    replaces: s.replaces ? toHex(s.replaces) : undefined,
    reaction: s.reaction,
    deleted: s.kind === 'delete' || undefined,
  };
}
