// One account on one device: the profile folder, its secrets, database, MLS groups and the
// connection to the home provider. The desktop app runs several side by side (AppCore); the `mimi`
// command runs exactly one (its --profile folder).
//
// Profile is the account's facade: its methods and events are what the app core, the CLI and the
// tests use, and each concern lives in a module of its own that gets the shared parts (database,
// provider client, MLS engine, device keys, serial queue, sessions, events) from one
// ProfileContext (context.ts):
//   account-files.ts       sign-in and opening the profile folder
//   connection.ts          the push stream and what its events set off
//   room-reads.ts          room list, room views, message pages, unread counts
//   membership.ts          create, add, join, leave rooms
//   room-state-actions.ts  roles, kick, remove, ban, unban, metadata, abuse reports
//   room-commits.ts        building, checking and submitting commits (with retry)
//   outbox.ts              send, and the pump that encrypts and posts queued messages
//   incoming.ts            Welcomes, commits (checked against the room policy) and messages
//   consent-actions.ts     consent requests, grants and blocks
//   discovery.ts           profile fields and searching for users
//   key-packages.ts        this device's KeyPackages on the provider
//   pseudonym-pool.ts      the account's pseudonyms, their keys and KeyPackages
//   connections.ts         the connection flow (requests under pseudonyms, accept, decline)
//   connection-request-policy.ts  who may send this account connection requests (kept at the provider)
//   join-links.ts          making, listing and revoking a room's join links, and joining by one
//   knocks.ts              knock rooms, knocking, and admitting or declining knocks
//   receipts.ts            delivery and read receipts, and the privacy switches
//   typing.ts              typing indicators (never stored)
//   backup.ts              the encrypted backup at the provider, and restoring it
//   export.ts              a room's history as JSON, HTML and attachments
//   devices.ts             the account's devices, their notices, this one removed, signing out
//
// Data flow of one message: send() stores it as pending and queues it in the outbox in one
// transaction -> the outbox pump encrypts it (persisting the advanced ratchet before anything
// leaves the machine) -> POST to the hub with a stable requestId (so a retry after a lost answer
// is not delivered twice) -> the hub fans it out -> each recipient's push stream delivers it ->
// handleEvent decrypts it and stores it together with the push cursor in one transaction.

import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { ConnectionRequestPolicyView, ConnectionsView, JoinLinkArgs, JoinLinkView, KnockRoomView, KnocksView, MemberProfileView, MessageView, PrivacyView, PseudonymPoolView, ReceiptPolicyView, ReceiptsView, RoomMetadataArgs, RoomPreset, RoomSettingsView, RoomView, SafetyNumberComparison, SafetyNumberView, SearchResponse } from '../../src-shared/contract.js';
import { MessageSearch } from './search.js';
import { findPart } from '../../src-shared/content-parts.js';
import { MESSAGE_STATUS_MEDIA_TYPE } from '../../src-shared/message-status.js';
import { decodeTypingIndicator, TYPING_MEDIA_TYPE } from '../../src-shared/typing-indicator.js';
import { Receipts } from './receipts.js';
import { Typing } from './typing.js';
import { toView, toViews, viewSource } from './message-view.js';
import type { BackupsResponse, ConsentActionResponse, ConsentListResponse, FindRequest, FindResponse, MyProfile, ProfileFieldName, PushEvent } from '../../src-shared/provider-api.js';
import type { DeviceKeys, GroupSession, MlsEngine } from '../mls/engine.js';
import { SecretStoreError, type SecretMode, type SecretStore } from '../secrets/secret-store.js';
import { PassphraseStore } from '../secrets/passphrase-store.js';
import { ProviderError, type ProviderClient } from '../net/provider-client.js';
import { accountExists, createAccount, openAccount, type OpenedAccount, type ProfileConfig, type ProfileOptions, type SignInDetails } from './account-files.js';
import { Attachments, type FileToSend, type OpenedAttachment, type TransferProgress } from './attachments.js';
import { decodeAssetPolicy } from '../../src-shared/asset-policy.js';
import { roomStateOf } from './group-sessions.js';
import { ConsentActions } from './consent-actions.js';
import type { ConnectionState, ProfileContext } from './context.js';
import { ProviderConnection } from './connection.js';
import { Discovery, type ProfileFieldChanges } from './discovery.js';
import { coreError, toCoreError } from './errors.js';
import { GroupSessions } from './group-sessions.js';
import { IncomingEvents } from './incoming.js';
import { KeyPackages } from './key-packages.js';
import { Membership } from './membership.js';
import { Outbox } from './outbox.js';
import { MessageActions } from './message-actions.js';
import { MemberProfiles } from './member-profiles.js';
import { PseudonymPool } from './pseudonym-pool.js';
import { PseudonymDevices } from './pseudonym-devices.js';
import { Connections } from './connections.js';
import { ConnectionRequestSetting } from './connection-request-policy.js';
import { JoinLinks } from './join-links.js';
import { Knocks } from './knocks.js';
import { DirectChats } from './direct-chats.js';
import { setLocalCommitEvents, timelinePage } from './timeline-events.js';
import { Verification } from './verification.js';
import { RoomCommits } from './room-commits.js';
import { RoomReads } from './room-reads.js';
import { RoomStateActions } from './room-state-actions.js';
import type { RoomStateDocument } from './room-view.js';
import { Serial } from './serial.js';
import { Backups, RECOVERY_KEY_SECRET, backupChunkBytes, type BackupProgress, type BackupResult, type BackupStatus, type RestoreResult } from './backup.js';
import { exportRoom, type ExportResult } from './export.js';
import { Devices, deleteAccountData } from './devices.js';
import { DeviceLink } from './device-link.js';
import { ProviderKeys } from './provider-keys.js';

export type { ProfileConfig, ProfileOptions, SignInDetails } from './account-files.js';
export type { ConnectionState, ProfileEventMap } from './context.js';

export class Profile extends EventEmitter {
  readonly config: ProfileConfig;
  connection: ConnectionState = 'offline';
  private closed = false;

  // The modules, one per concern (see the list above).
  private readonly ctx: ProfileContext;
  private readonly reads: RoomReads;
  private readonly membership: Membership;
  private readonly roomState: RoomStateActions;
  private readonly outbox: Outbox;
  /** Reply, react, edit, delete (message-actions.ts). */
  readonly messageActions: MessageActions;
  /** The account's devices: list, rename, remove, their notices (devices.ts). */
  readonly devices: Devices;
  /** Verifying the account's own devices and the history transfer (device-link.ts); its events are its own. */
  readonly deviceLink: DeviceLink;
  private readonly incoming: IncomingEvents;
  private readonly consent: ConsentActions;
  private readonly discovery: Discovery;
  /** Display names and pictures shared in rooms (member-profiles.ts). */
  readonly memberProfiles: MemberProfiles;
  /** Other providers' keys recorded for private KeyPackage requests (provider-keys.ts); changes as 'providerKeys'. */
  readonly providerKeys: ProviderKeys;
  private readonly keyPackages: KeyPackages;
  private readonly pool: PseudonymPool;
  private readonly connections: Connections;
  private readonly connectionRequests: ConnectionRequestSetting;
  private readonly joinLinkActions: JoinLinks;
  private readonly knockActions: Knocks;
  private readonly directChats: DirectChats;
  private readonly search: MessageSearch;
  /** Files sent and opened (attachments.ts). */
  private readonly attachments: Attachments;
  private readonly receipts: Receipts;
  private readonly typingIndicators: Typing;
  /** The encrypted backup at the provider (backup.ts). */
  private readonly backups: Backups;
  private readonly link: ProviderConnection;
  private readonly commits: RoomCommits;
  /** Safety numbers and whom this account verified (verification.ts). */
  private readonly verification: Verification;
  private readonly secrets: SecretStore;
  // Also in ctx, and kept here because tests reach them (as they do session() and onGroupMessage()).
  private readonly client: ProviderClient;
  private readonly keys: DeviceKeys;

  private constructor(
    readonly dir: string,
    account: OpenedAccount,
    engine: MlsEngine,
    opts: Pick<ProfileOptions, 'keepPseudonymPool' | 'bootstrapDestroyDelayMs'> = {},
  ) {
    super();
    const { config, client, db, keys } = account;
    this.config = config;
    this.client = client;
    this.keys = keys;
    this.secrets = account.secrets;
    const isClosed = () => this.closed;
    this.ctx = {
      config,
      client,
      db,
      keys,
      engine,
      serial: new Serial(),
      sessions: new GroupSessions(db, engine),
      unreachableHubs: new Set(),
      get closed() {
        return isClosed();
      },
      emit: (event, ...args) => void this.emit(event, ...args),
      on: (event, listener) => void this.on(event, listener),
      once: (event, listener) => void this.once(event, listener),
      off: (event, listener) => void this.off(event, listener),
      listenerCount: (event) => this.listenerCount(event),
    };
    const commits = new RoomCommits(this.ctx);
    this.commits = commits;
    this.verification = new Verification(this.ctx);
    setLocalCommitEvents(db, (roomUri) => this.verification.commitEvents(roomUri));
    this.devices = new Devices(this.ctx, commits);
    this.reads = new RoomReads(this.ctx);
    this.membership = new Membership(this.ctx, commits, this.reads);
    this.roomState = new RoomStateActions(this.ctx, commits);
    this.outbox = new Outbox(this.ctx, commits);
    this.messageActions = new MessageActions(this.ctx, this.outbox);
    this.receipts = new Receipts(
      this.ctx,
      this.outbox,
      (roomUri, messageId) => {
        const row = this.ctx.db.messageById(roomUri, messageId);
        return row ? toView(viewSource(this.ctx), row) : undefined;
      },
      // One query for the actions and one for the receipts of all of them (toViews).
      (roomUri, messageIds) => {
        const rows = messageIds.flatMap((id) => this.ctx.db.messageById(roomUri, id) ?? []);
        return toViews(viewSource(this.ctx), rows);
      },
    );
    this.typingIndicators = new Typing(this.ctx, this.outbox);
    this.attachments = new Attachments(this.ctx, this.outbox, { baseUrl: client.baseUrl, caPem: account.pushOptions.caPem, token: () => client.token }, (roomUri) => {
      const session = this.ctx.sessions.get(roomUri);
      const bytes = session ? roomStateOf(session)?.assetPolicy : undefined;
      return bytes ? decodeAssetPolicy(bytes) : undefined;
    });
    this.keyPackages = new KeyPackages(this.ctx);
    this.incoming = new IncomingEvents(this.ctx, commits, this.keyPackages);
    this.consent = new ConsentActions(this.ctx, this.reads);
    this.discovery = new Discovery(this.ctx);
    this.memberProfiles = new MemberProfiles(this.ctx, this.outbox);
    this.providerKeys = new ProviderKeys(db, (keys) => this.ctx.emit('providerKeys', keys));
    this.discovery.displayName = this.memberProfiles;
    this.incoming.memberProfiles = this.memberProfiles;
    this.pool = new PseudonymPool(this.ctx, () => this.id);
    const devices = (this.membership.pseudonymDevices = new PseudonymDevices(this.ctx, this.pool, commits, this.outbox));
    this.on('caughtUp', () => devices.watch());
    if (opts.keepPseudonymPool) {
      this.on('caughtUp', () => {
        this.pool.maintain();
        void this.pool.syncCounts();
      });
    }
    this.connections = new Connections(this.ctx, this.pool, this.membership, this.outbox, opts.bootstrapDestroyDelayMs);
    this.connectionRequests = new ConnectionRequestSetting(this.ctx);
    this.joinLinkActions = new JoinLinks(this.ctx, commits, this.reads, this.pool);
    this.joinLinkActions.onJoinedAsPseudonym = (roomUri, keys) => void this.publishIdentityLink(roomUri, keys);
    this.knockActions = new Knocks(this.ctx, this.joinLinkActions, this.membership, this.outbox);
    this.directChats = new DirectChats(this.ctx, this.membership, this.reads);
    this.incoming.hooks = {
      pseudonymKeys: (clientPseudonym) => this.pool.keysOf(clientPseudonym),
      expectsConnection: (keys) => this.connections.expects(keys) || this.knockActions.expects(keys),
      joinedAsPseudonym: (roomUri, keys) => {
        this.pool.noteRoom(keys.pseudonymous!.userPseudonym, roomUri);
        this.connections.onJoined(roomUri, keys);
        // The KeyPackage's leaf carried no identity link (no room key existed yet): publish it now.
        void this.publishIdentityLink(roomUri, keys);
      },
      message: (roomUri, sender, content, session) =>
        this.knockActions.onMessage(roomUri, sender, content, session) === 'consumed' ? 'consumed' : this.connections.onMessage(roomUri, sender, content),
      committed: (roomUri, session, result) => devices.committed(roomUri, session, result),
      ephemeral: (roomUri, sender, own, content, acceptedAt) => {
        const report = findPart(content, MESSAGE_STATUS_MEDIA_TYPE);
        if (report) return () => (own ? undefined : this.receipts.onReport(roomUri, sender, report, acceptedAt));
        const typing = findPart(content, TYPING_MEDIA_TYPE);
        if (!typing) return undefined;
        return () => {
          if (own) return undefined;
          let t: ReturnType<typeof decodeTypingIndicator>;
          try {
            t = decodeTypingIndicator(typing);
          } catch {
            return undefined; // a malformed indicator shows nothing
          }
          return () => this.typingIndicators.onIndicator(roomUri, sender, t, acceptedAt);
        };
      },
      stored: (roomUri, sender, messageId, action) => {
        this.typingIndicators.onMessage(roomUri, sender);
        if (!action) this.receipts.delivered(roomUri, messageId);
      },
    };
    this.on('epoch', () => this.connections.checkDeclines());
    // The search index follows the history in the background: after the backlog, then as messages come.
    this.search = new MessageSearch(this.ctx, dir, (roomUri) => {
      try {
        return this.roomView(roomUri).name;
      } catch {
        return '';
      }
    });
    this.on('caughtUp', () => void this.search.catchUpInBackground());
    this.on('message', () => void this.search.catchUpInBackground());
    this.on('caughtUp', () => void this.connections.runDue());
    this.backups = new Backups({
      db,
      client,
      secrets: this.secrets,
      rooms: () => this.rooms(),
      // MIMI_BACKUP_CHUNK_BYTES: smaller chunks, for tests that need many of them.
      chunkBytes: backupChunkBytes(process.env.MIMI_BACKUP_CHUNK_BYTES),
    });
    this.deviceLink = new DeviceLink(this.ctx, this.backups, () => {
      this.emit('rooms');
      void this.search.catchUpInBackground();
    });
    // Messages from the account's other devices: on their notice, and on every connect for those sent meanwhile.
    this.on('connection', (s: ConnectionState) => {
      if (s === 'online') void this.deviceLink.poll();
    });
    this.link = new ProviderConnection(this.ctx, {
      pushOptions: { ...account.pushOptions, onNotice: (topic) => this.deviceLink.notice(topic) },
      incoming: this.incoming,
      outbox: this.outbox,
      consent: this.consent,
      membership: this.membership,
      setState: (s) => {
        this.connection = s;
      },
      devices: this.devices,
    });
    // Removed by another device: its token is void, so nothing is sent or retried any more.
    this.on('deviceRemoved', () => {
      this.outbox.stop();
      this.link.stop();
    });
  }

  get id(): string {
    return path.basename(this.dir);
  }

  /** The secret storage mode this profile uses (shown in account settings). */
  get secretMode(): SecretMode {
    return this.secrets.mode;
  }

  // ---- creation and opening ----

  static exists(dir: string): boolean {
    return accountExists(dir);
  }

  static async register(dir: string, d: SignInDetails, opts: ProfileOptions): Promise<Profile> {
    return Profile.signIn(dir, d, opts, 'register');
  }

  /** Sign in as a new device of an existing account. */
  static async login(dir: string, d: SignInDetails, opts: ProfileOptions): Promise<Profile> {
    return Profile.signIn(dir, d, opts, 'login');
  }

  private static async signIn(dir: string, d: SignInDetails, opts: ProfileOptions, how: 'register' | 'login'): Promise<Profile> {
    await createAccount(dir, d, opts, how);
    const profile = await Profile.open(dir, { ...opts, providerUrl: d.providerUrl, caPem: d.caPem });
    await profile.replenishKeyPackages(true);
    return profile;
  }

  static async open(dir: string, opts: ProfileOptions): Promise<Profile> {
    return new Profile(dir, await openAccount(dir, opts), opts.engine, opts);
  }

  // ---- connection ----

  /** Connect the push stream and start draining the outbox. Resolves once the backlog is processed. */
  async start(timeoutMs = 15000): Promise<void> {
    // Big rooms' sessions restored in the MLS worker first: the backlog would otherwise restore
    // them here, blocking this thread for each (group-sessions.ts).
    await this.ctx.sessions.warm(() => this.closed);
    return this.link.start(timeoutMs);
  }

  /**
   * The computer woke up (or its network changed): connections kept from before may lead nowhere.
   * The push stream starts again at once, pooled HTTPS connections are dropped, and queued messages
   * are tried now rather than at their next retry.
   */
  networkResumed(): void {
    if (this.closed) return;
    this.ctx.client.dropIdleConnections();
    this.attachments.dropIdleConnections();
    this.link.reconnectNow();
    this.outbox.kick();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.typingIndicators.stop();
    this.deviceLink.stop();
    // Delivery reports still gathering go into the outbox (sent at the next start if not now).
    await this.receipts.flush().catch(() => undefined);
    this.receipts.stop();
    this.outbox.stop();
    this.memberProfiles.stop();
    this.link.stop();
    this.connections.stop();
    await this.pool.settled();
    await this.ctx.serial.run(() => undefined);
    this.search.close();
    this.attachments.close();
    this.client.close();
    this.ctx.db.close();
  }

  /** Messages matching `query` in every room or one (search.ts): newest first, with snippets. */
  searchMessages(query: string, roomUri: string | null, limit = 50): SearchResponse {
    if (typeof query !== 'string' || query.trim().length === 0) throw coreError('invalidArgument', 'errors.search.empty');
    return this.search.query(query, roomUri === null ? null : this.resolveRoom(roomUri), limit);
  }

  /**
   * A new password for signing in new devices (the provider checks the old one; this and the
   * other devices stay signed in). Wrong old password: wrongPassword, nothing changed.
   */
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    try {
      await this.client.changePassword(oldPassword, newPassword);
    } catch (e) {
      if (e instanceof ProviderError && e.code === 'wrongPassword')
        throw coreError('wrongPassword', 'errors.account.wrongPassword');
      throw toCoreError(e, { key: 'errors.what.changePassword' });
    }
  }

  /**
   * A new passphrase for a passphrase profile's secrets (re-encrypted, see passphrase-store.ts).
   * Throws SecretStoreError: mode-mismatch for another kind of profile, wrong-passphrase, ...
   */
  async changePassphrase(current: string, next: string): Promise<void> {
    if (!(this.secrets instanceof PassphraseStore)) throw new SecretStoreError('mode-mismatch', `This profile keeps its secrets in "${this.secrets.mode}" storage, which has no passphrase.`);
    await this.secrets.changePassphrase(current, next);
  }

  /** Delete this account at the provider (all its devices); hubs then remove its devices from rooms. */
  async deleteAccount(): Promise<void> {
    try {
      await this.client.deleteAccount();
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.deleteAccount' });
    }
    await this.close();
  }

  /**
   * Remove this device from the account (it leaves every room, devices.ts), then close the profile
   * and delete its secrets and folder: nothing of the account is left on this computer.
   */
  async removeThisDevice(): Promise<void> {
    await this.devices.signOut();
    await this.deleteLocalData();
  }

  /** Close, then delete the account's secrets and folder on this computer (after its device was removed). */
  async deleteLocalData(): Promise<void> {
    await this.close();
    await deleteAccountData(this.dir, this.secrets);
  }

  // ---- reads ----

  roomView(roomUri: string): RoomView {
    return this.reads.roomView(roomUri);
  }

  /** The rooms to show (a connection request's bootstrap room is plumbing: see connections()). */
  rooms(): RoomView[] {
    const hidden = this.connections.bootstrapRooms();
    return this.reads.rooms().filter((r) => !hidden.has(r.roomUri));
  }

  page(roomUri: string, beforeSeq: number | null, limit: number): MessageView[] {
    return this.reads.page(roomUri, beforeSeq, limit);
  }

  /** The timeline: messages and the room's events ("alice added bob", `event` set), newest first. */
  timeline(roomUri: string, beforeSeq: number | null, limit: number): MessageView[] {
    return timelinePage(this.ctx, roomUri, beforeSeq, limit);
  }

  /** The direct chat with `user`: the existing one, or a new room with the two of you (direct-chats.ts). */
  openDirect(user: string): Promise<RoomView> {
    return this.directChats.open(user);
  }

  unreadTotal(): number {
    return this.reads.unreadTotal();
  }

  /** The room is on screen: nothing unread, and read receipts for what arrived since (receipts.ts). */
  async markRead(roomUri: string): Promise<void> {
    this.reads.markRead(roomUri);
    try {
      await this.receipts.read(roomUri);
    } catch (e) {
      this.emit('error', toCoreError(e, { key: 'receipts.what.sendRead' }).message);
    }
  }

  // ---- receipts and typing ----

  /** This account's privacy switches (receipts.ts). */
  privacy(): PrivacyView {
    return this.receipts.privacy();
  }

  setPrivacy(changes: Partial<PrivacyView>): PrivacyView {
    const view = this.receipts.setPrivacy(changes);
    if (!view.typing) this.typingIndicators.clear();
    return view;
  }

  /** This account is typing in the room, or stopped (typing.ts). */
  typing(roomUri: string, typing: boolean): Promise<void> {
    return this.typingIndicators.set(this.resolveRoom(roomUri), typing);
  }

  /** Others typing in the room now. */
  typingIn(roomUri: string): string[] {
    return this.typingIndicators.typingIn(roomUri);
  }

  /** Who reported one of our messages delivered or read; undefined while neither kind is shown here. */
  messageReceipts(roomUri: string, messageId: string): ReceiptsView | undefined {
    return this.receipts.of(roomUri, messageId);
  }

  /** True once close() has begun (deleteAccount closes the profile too). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Delivery reports gathered but not yet queued go now (`mimi` before it exits; tests). */
  flushReceipts(): Promise<void> {
    return this.receipts.flush();
  }

  /** Set the room's status_notification_policy (a room state change, room-state-actions.ts). */
  setReceiptPolicy(roomUri: string, policy: ReceiptPolicyView): Promise<RoomSettingsView> {
    return this.roomState.setReceiptPolicy(roomUri, policy).then((v) => this.withVerification(v));
  }

  setRoomMuted(roomUri: string, muted: boolean): RoomView {
    return this.reads.setMuted(roomUri, muted);
  }

  /** Resolve a room given as URI or as its (unique) name. */
  resolveRoom(ref: string): string {
    return this.reads.resolveRoom(ref);
  }

  // ---- rooms and membership ----

  createRoom(name: string, preset: RoomPreset = 'cooperative'): Promise<RoomView> {
    return this.membership.createRoom(name, preset);
  }

  /**
   * A minimal-metadata room (draft-ietf-mimi-protocol-06): this account takes part as an unused
   * pseudonym of its pool, so the room, its tree and the hub name only pseudonyms; each member's
   * real identity travels sealed in their leaf (docs/pseudonyms.md).
   */
  async createMinimalMetadataRoom(name: string, preset: RoomPreset = 'cooperative'): Promise<RoomView> {
    const { row, keys } = await this.pool.takeOrRefill();
    const view = await this.membership.createRoom(name, preset, { keys, userPseudonym: row.userPseudonym, minimalMetadata: true });
    this.pool.noteRoom(row.userPseudonym, view.roomUri);
    return view;
  }

  /** Add a user (all their devices) to a room: claim KeyPackages, commit, hub routes the Welcome. */
  addMember(roomUri: string, user: string): Promise<RoomView> {
    return this.membership.addMember(roomUri, user);
  }

  /** Join a room by its link (its URI), e.g. after a kick or after leaving from another device. */
  joinRoom(roomUri: string): Promise<RoomView> {
    return this.membership.joinRoom(roomUri);
  }

  /** Propose the removal of this account's devices; the room is read-only here from now on. */
  leaveRoom(roomUri: string): Promise<RoomView> {
    return this.membership.leaveRoom(roomUri);
  }

  // ---- room state: roles, kick, ban, metadata ----

  /** Participants with roles, metadata, and what this account may do. */
  roomSettings(roomUri: string): RoomSettingsView {
    return this.withVerification(this.roomState.roomSettings(roomUri));
  }

  /** The member views marked with whom this account verified (verification.ts). */
  private withVerification(view: RoomSettingsView): RoomSettingsView {
    const marks = this.verification.statesOf(view.participants.map((p) => p.user));
    if (marks.size === 0) return view;
    return { ...view, participants: view.participants.map((p) => (marks.has(p.user) ? { ...p, verification: marks.get(p.user) } : p)) };
  }

  /** The room state as JSON (for `mimi room-state`), with the encoded components. */
  roomStateDocument(roomUri: string): RoomStateDocument {
    return this.roomState.roomStateDocument(roomUri);
  }

  setRoomMetadata(roomUri: string, args: RoomMetadataArgs): Promise<RoomSettingsView> {
    return this.roomState.setRoomMetadata(roomUri, args).then((v) => this.withVerification(v));
  }

  /** Move `user` to another role (index or name). */
  setRole(roomUri: string, user: string, role: number | string): Promise<RoomSettingsView> {
    return this.roomState.setRole(roomUri, user, role).then((v) => this.withVerification(v));
  }

  /** Remove a participant's clients; they stay on the list (and may come back). */
  kick(roomUri: string, user: string): Promise<RoomSettingsView> {
    return this.roomState.kick(roomUri, user).then((v) => this.withVerification(v));
  }

  /** Take `user` off the participant list, and their clients out of the group, in one commit. */
  removeMember(roomUri: string, user: string): Promise<RoomSettingsView> {
    return this.roomState.removeMember(roomUri, user).then((v) => this.withVerification(v));
  }

  /** Move `user` to role 1 (banned) and remove their clients in the same commit. */
  ban(roomUri: string, user: string): Promise<RoomSettingsView> {
    return this.roomState.ban(roomUri, user).then((v) => this.withVerification(v));
  }

  /** Report `user` to the room's hub, which keeps it for its operator. */
  /** Report messages of one sender, with the hub's franks of them (the hub verifies them). */
  reportMessages(roomUri: string, messageIds: string[], reason: number, note: string): Promise<void> {
    return this.roomState.reportMessages(roomUri, messageIds, reason, note);
  }

  reportAbuse(roomUri: string, user: string, note: string): Promise<void> {
    return this.roomState.reportAbuse(roomUri, user, note);
  }

  /** Lift a ban: the user gets the role an added user gets, without clients; add them to bring them back. */
  unban(roomUri: string, user: string): Promise<RoomSettingsView> {
    return this.roomState.unban(roomUri, user).then((v) => this.withVerification(v));
  }

  // ---- messages ----

  send(roomUri: string, text: string): Promise<MessageView> {
    return this.outbox.send(roomUri, text);
  }

  /** Encrypts `file`, uploads it to this account's provider and sends it as an attachment (attachments.ts). */
  sendFile(roomUri: string, file: FileToSend, onProgress?: (p: TransferProgress) => void): Promise<MessageView> {
    return this.attachments.send(roomUri, file, onProgress);
  }

  /** The attachment of a message, fetched through this account's provider, checked and decrypted. */
  openAttachment(roomUri: string, messageId: string, onProgress?: (p: TransferProgress) => void): Promise<OpenedAttachment> {
    return this.attachments.open(roomUri, messageId, onProgress);
  }

  // ---- backup and export (backup.ts, export.ts) ----

  /** What the last backup from this device holds. */
  backupStatus(): BackupStatus {
    return this.backups.status();
  }

  /** Back up what is new (or everything, into a new generation); `onNewKey` shows a new recovery key once. */
  createBackup(opts: { full?: boolean; onNewKey?: (text: string) => void | Promise<void>; onProgress?: (p: BackupProgress) => void } = {}): Promise<BackupResult> {
    return this.backups.create(opts);
  }

  /** Rooms and messages from the backup the recovery key opens; all checked before any is stored. */
  async restoreBackup(recoveryKey: string, onProgress?: (p: BackupProgress) => void): Promise<RestoreResult> {
    const result = await this.backups.restore(recoveryKey, onProgress);
    this.emit('rooms');
    // The restored messages are found by search once the index has caught up with them.
    void this.search.catchUpInBackground();
    return result;
  }

  /** Whether this device keeps the backup's recovery key (made here, or kept from a restore). */
  async hasRecoveryKey(): Promise<boolean> {
    return (await this.secrets.get(RECOVERY_KEY_SECRET)) !== null;
  }

  /** The account's backups at its provider, whichever device wrote them (a fresh device offers to restore). */
  providerBackups(): Promise<BackupsResponse> {
    return this.client.listBackups();
  }

  /** A room's history as messages.json, messages.html and attachments/ in `dir` (new or empty). */
  exportRoom(roomUri: string, dir: string): Promise<ExportResult> {
    return exportRoom({ roomView: (r) => this.roomView(r), timeline: (r, b, l) => this.timeline(r, b, l), openAttachment: (r, m) => this.openAttachment(r, m) }, this.resolveRoom(roomUri), dir);
  }

  /** Messages stored on this device that the provider has not accepted yet. */
  queuedMessages(): number {
    return this.outbox.queued();
  }

  /** Resolves when the outbox is empty (or rejects after the timeout). */
  flushOutbox(timeoutMs = 15000): Promise<void> {
    return this.outbox.flush(timeoutMs);
  }

  // ---- consent (users of other providers; users of our provider need none) ----

  /** Incoming requests, my grants and blocks, my requests with their outcome. */
  consentList(): Promise<ConsentListResponse> {
    return this.consent.list();
  }

  /** Ask `user` for consent to add them to any room, or to `room` (URI or local room name). */
  requestConsent(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consent.act('requestConsent', user, room, { key: 'errors.what.askConsent', params: { user } });
  }

  /** Withdraw a request made with the same user and room. */
  cancelConsentRequest(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consent.act('cancelConsent', user, room, { key: 'errors.what.cancelConsent' });
  }

  /** Let `user` add me to any room, or only to `room`. */
  grantConsent(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consent.act('grantConsent', user, room, { key: 'errors.what.grantConsent', params: { user } });
  }

  /** Turn down the pending requests of `user`. */
  declineConsent(user: string): Promise<ConsentActionResponse> {
    return this.consent.act('declineConsent', user, undefined, { key: 'errors.what.declineConsent', params: { user } });
  }

  /** Withdraw my grants to `user` (all of them, or the one for `room`). */
  revokeConsent(user: string, room?: string): Promise<ConsentActionResponse> {
    return this.consent.act('revokeConsent', user, room, { key: 'errors.what.revokeConsent', params: { user } });
  }

  /** Refuse `user` silently: no grant, no requests. */
  blockUser(user: string): Promise<ConsentActionResponse> {
    return this.consent.act('blockUser', user, undefined, { key: 'errors.what.blockUser', params: { user } });
  }

  unblockUser(user: string): Promise<ConsentActionResponse> {
    return this.consent.act('unblockUser', user, undefined, { key: 'errors.what.unblockUser', params: { user } });
  }

  // ---- discovery ----

  /** My profile fields and which of them are searchable. */
  myProfile(): Promise<MyProfile> {
    return this.discovery.myProfile();
  }

  /** Set (string) or clear (null) profile fields; absent ones stay. */
  setProfileFields(fields: ProfileFieldChanges): Promise<MyProfile> {
    return this.discovery.setProfileFields(fields);
  }

  /** Whether others may find me by `field` (handle, nick, email, phone, name). */
  setSearchable(field: ProfileFieldName, on: boolean): Promise<MyProfile> {
    return this.discovery.setSearchable(field, on);
  }

  /** Search a provider (default: the handle's, else mine) for users; fields are ANDed. */
  find(query: FindRequest): Promise<FindResponse> {
    return this.discovery.find(query);
  }

  // ---- profiles in rooms ----

  /** What each member shares of themselves in the room (display name, picture), by user. */
  roomProfiles(roomUri: string): Record<string, MemberProfileView> {
    return this.memberProfiles.view(this.resolveRoom(roomUri));
  }

  /** This account's picture (a data:image/png URL), or null. */
  avatar(): string | null {
    return this.memberProfiles.avatar();
  }

  /** A new picture (PNG ≤ 96×96, ≤ 48 KiB, as a data: URL) or none; shared in every room it is in as itself. */
  setAvatar(dataUrl: string | null): string | null {
    return this.memberProfiles.setAvatar(dataUrl);
  }

  // ---- verification (verification.ts, docs/verification.md) ----

  /** The safety number with `user`, from the rooms both share; fails when they share none. */
  safetyNumber(user: string): SafetyNumberView {
    return this.verification.safetyNumber(user);
  }

  /** Mark `user` verified at their devices now, or clear the mark. */
  setVerified(user: string, verified: boolean): SafetyNumberView {
    return this.verification.setVerified(user, verified);
  }

  /** A code scanned from `user`'s screen (base64) against ours; a match marks them verified. */
  compareSafetyNumberQr(user: string, scanned: string): SafetyNumberComparison {
    return this.verification.compareQr(user, scanned);
  }

  /** Share the profile now where it is due (instead of after the debounce); how many rooms got it. */
  shareProfile(): number {
    return this.memberProfiles.share();
  }

  // ---- pseudonyms ----

  /** The pool: each pseudonym's state and rooms, the refill settings and any problem. */
  pseudonymPool(): PseudonymPoolView {
    return this.pool.view();
  }

  /** Ask the provider for `count` more pseudonyms now. */
  refillPseudonyms(count: number): Promise<PseudonymPoolView> {
    return this.pool.refill(count);
  }

  /** Retire a pseudonym: withdrawn at the provider, its rooms left, never used again. */
  retirePseudonym(userPseudonym: string): Promise<PseudonymPoolView> {
    return this.pool.retire(userPseudonym, (roomUri) => this.membership.leaveRoom(roomUri));
  }

  /** Seal this client's identity link under the room's newest key and publish it (a commit). */
  private async publishIdentityLink(roomUri: string, keys: DeviceKeys): Promise<void> {
    try {
      await this.commits.commitWithRetry(roomUri, (s) => s.publishIdentityLink(keys), {}, { key: 'errors.what.publishIdentity' });
    } catch (e) {
      const err = toCoreError(e, { key: 'errors.what.publishIdentity' });
      this.emit('error', err.message, err);
    }
  }

  // ---- connections ----

  /** Work that waits for a time and this profile being open (destroying bootstrap rooms). */
  runDueWork(): Promise<void> {
    return this.connections.runDue();
  }

  /** Incoming and outgoing connection requests with their state. */
  connectionList(): ConnectionsView {
    return this.connections.list();
  }

  /** Start the connection flow with `user` (draft-mahy-mimi-pseudonyms 4.1). */
  connect(user: string): Promise<ConnectionsView> {
    return this.connections.connect(user);
  }

  acceptConnection(id: string): Promise<ConnectionsView> {
    return this.connections.accept(id);
  }

  declineConnection(id: string): Promise<ConnectionsView> {
    return this.connections.decline(id);
  }

  /** Who may send this account connection requests: anyone (default), some provider domains, or nobody. */
  connectionRequestPolicy(): Promise<ConnectionRequestPolicyView> {
    return this.connectionRequests.get();
  }

  setConnectionRequestPolicy(policy: ConnectionRequestPolicyView): Promise<ConnectionRequestPolicyView> {
    return this.connectionRequests.set(policy);
  }

  // ---- join links and knocks ----

  createJoinLink(roomUri: string, args: Partial<JoinLinkArgs>): Promise<JoinLinkView> {
    return this.joinLinkActions.create(roomUri, args);
  }

  joinLinks(roomUri: string): Promise<JoinLinkView[]> {
    return this.joinLinkActions.list(roomUri);
  }

  revokeJoinLink(roomUri: string, id: string): Promise<JoinLinkView[]> {
    return this.joinLinkActions.revoke(roomUri, id);
  }

  /** Join a room by a join link (the hub checks the code; members check the hub's admission ticket). */
  joinByLink(link: string, opts: { passphrase?: string; asPseudonym?: boolean } = {}): Promise<RoomView> {
    return this.joinLinkActions.join(link, opts);
  }

  knockList(): KnocksView {
    return this.knockActions.list();
  }

  knockRoom(roomUri: string): Promise<KnockRoomView> {
    return this.knockActions.knockRoom(roomUri);
  }

  knock(link: string, note: string, opts: { asPseudonym?: boolean } = {}): Promise<KnocksView> {
    return this.knockActions.knock(link, note, opts);
  }

  admitKnock(id: string): Promise<KnocksView> {
    return this.knockActions.admit(id);
  }

  declineKnock(id: string): Promise<KnocksView> {
    return this.knockActions.decline(id);
  }

  // ---- key material ----

  /** Keep enough single-use KeyPackages on the provider (key-packages.ts), plus a last-resort one. */
  replenishKeyPackages(initial: boolean): Promise<void> {
    return this.keyPackages.replenish(initial);
  }

  // ---- for tests that reach inside (test/integration/room-state.test.ts) ----

  private session(roomUri: string): GroupSession {
    return this.ctx.sessions.get(roomUri);
  }

  private onGroupMessage(ev: PushEvent): Promise<void> {
    return this.incoming.onGroupMessage(ev);
  }
}
