// The desktop app's core: several accounts side by side, each a Profile in its own folder under
// <dataDir>/accounts/, and (by default) an embedded local provider under <dataDir>/provider so a
// newcomer can try the app with no server. Implements the renderer contract (MimiApi); the
// Electron IPC handlers and the browser bridge both call exactly this object.

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CoreError,
  type AccountView,
  type AppInfo,
  type ConsentGrantedView,
  type ConsentListView,
  type ConnectionRequestPolicyView,
  type ConnectionsView,
  type JoinLinkArgs,
  type KnocksView,
  type PseudonymPoolView,
  type FindArgs,
  type ProfileField,
  type ProfileFieldsArgs,
  type CoreEvent,
  type DeviceChangeView,
  type DeviceVerificationAnswer,
  type MessageView,
  type PrivacyView,
  type ReceiptPolicyView,
  type FileArgs,
  type OpenedAttachmentView,
  type MimiApi,
  type RoomMetadataArgs,
  type RoomPreset,
  type RoomSettingsView,
  type RoomView,
  type SignInArgs,
  type LockedAccountView,
  type SecretStorageView,
  type AccountSecretMode,
  type BackupCreateArgs,
  type ProviderKeyView,
} from '../../src-shared/contract.js';
import { toB64 } from '../../src-shared/bytes.js';
import { isPreviewableImage } from '../../src-shared/attachment.js';
import { createMlsEngine } from '../mls/ts-mls-engine.js';
import { createSplitMlsEngine } from '../mls/split-engine.js';
import type { MlsEngine } from '../mls/engine.js';
import { detectSecureStorage, recordedSecretMode, SecretStoreError, type SafeStorageLike, type SecretMode } from '../secrets/secret-store.js';
import { readAccountConfig, type ProfileConfig } from './account-files.js';
import { startProvider, type RunningProvider } from '../../src-provider/server.js';
import { coreError } from './errors.js';
import { translate } from '../../src-shared/i18n/index.js';
import { Profile } from './profile.js';
import { keptAccountFolders, markSignedOut, reopenKept } from './devices.js';
import { AppBackups } from './backup-app.js';

export interface AppCoreOptions {
  dataDir: string;
  mode: 'electron' | 'browser';
  /** Start a local provider in <dataDir>/provider (default true). */
  embeddedProvider?: boolean;
  secretMode?: SecretMode;
  safeStorage?: SafeStorageLike;
  version?: string;
  /**
   * When a connection's bootstrap room is destroyed once its request is answered, as [min, max]
   * ms (connections.ts; default 1 to 10 minutes). Unset: MIMI_BOOTSTRAP_DESTROY_DELAY_MS=MIN-MAX,
   * as for the `mimi` command, so tests and demos need not wait minutes.
   */
  bootstrapDestroyDelayMs?: readonly [number, number];
  /** Where room exports go, one new folder each (default <dataDir>/exports); the window never names a path. */
  exportsDir?: string;
}

export interface AppCore extends MimiApi {
  close(): Promise<void>;
  /** The computer woke up or its network changed: every open account reconnects now (Profile.networkResumed). */
  networkResumed(): void;
  /** The embedded provider, when running (tests point a second core at it). */
  readonly embedded?: { url: string; caPem: string };
}

const EMBEDDED_DOMAIN = 'localhost';

interface AccountsIndex {
  active?: string;
  order: string[];
}

/** MIMI_BOOTSTRAP_DESTROY_DELAY_MS=MIN-MAX (ms), or undefined when unset; a malformed value is refused. */
export function bootstrapDestroyDelayFromEnv(v = process.env.MIMI_BOOTSTRAP_DESTROY_DELAY_MS): readonly [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,9})-(\d{1,9})$/.exec(v);
  if (!m || Number(m[1]) > Number(m[2])) throw new Error('MIMI_BOOTSTRAP_DESTROY_DELAY_MS must be MIN-MAX in milliseconds, e.g. 60000-600000');
  return [Number(m[1]), Number(m[2])];
}

export async function createAppCore(opts: AppCoreOptions): Promise<AppCore> {
  opts = { ...opts, bootstrapDestroyDelayMs: opts.bootstrapDestroyDelayMs ?? bootstrapDestroyDelayFromEnv() };
  fs.mkdirSync(path.join(opts.dataDir, 'accounts'), { recursive: true, mode: 0o700 });
  // Large groups' MLS runs in a worker thread, small ones' here (split-engine.ts says why);
  // MIMI_MLS_WORKER=0 keeps all of it in this thread, yielding every few ms (cooperative.ts).
  const engine = process.env.MIMI_MLS_WORKER === '0' ? await createMlsEngine() : await createSplitMlsEngine();
  let provider: RunningProvider | undefined;
  if (opts.embeddedProvider !== false) provider = await startEmbeddedProvider(opts.dataDir);
  const core = new Core(opts, engine, provider);
  await core.openAll();
  return core;
}

/** Reuse the port of the last run when free, so URLs in logs stay meaningful; else any free port. */
async function startEmbeddedProvider(dataDir: string): Promise<RunningProvider> {
  const dir = path.join(dataDir, 'provider');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const portFile = path.join(dir, 'port');
  const lastPort = fs.existsSync(portFile) ? Number(fs.readFileSync(portFile, 'utf8')) : 0;
  let p: RunningProvider;
  try {
    p = await startProvider({ domain: EMBEDDED_DOMAIN, port: lastPort, host: '127.0.0.1', dataDir: dir });
  } catch {
    p = await startProvider({ domain: EMBEDDED_DOMAIN, port: 0, host: '127.0.0.1', dataDir: dir });
  }
  fs.writeFileSync(portFile, String(p.port));
  return p;
}

class Core implements AppCore {
  private readonly profiles = new Map<string, Profile>();
  /** Passphrase accounts not unlocked yet in this run: their config, readable without the secrets. */
  private readonly locked = new Map<string, ProfileConfig>();
  private readonly unlocking = new Set<string>();
  private readonly listeners = new Set<(e: CoreEvent) => void>();
  private index: AccountsIndex;
  private readonly backups: AppBackups;

  constructor(
    private readonly opts: AppCoreOptions,
    private readonly engine: MlsEngine,
    private readonly provider?: RunningProvider,
  ) {
    this.index = this.readIndex();
    this.backups = new AppBackups({ profile: (id) => this.profile(id), emit: (e) => this.emit(e), exportsDir: opts.exportsDir ?? path.join(opts.dataDir, 'exports') });
  }

  get embedded() {
    return this.provider ? { url: this.provider.url, caPem: this.provider.caPem } : undefined;
  }

  private get indexFile(): string {
    return path.join(this.opts.dataDir, 'accounts.json');
  }

  private readIndex(): AccountsIndex {
    try {
      return JSON.parse(fs.readFileSync(this.indexFile, 'utf8')) as AccountsIndex;
    } catch {
      return { order: [] };
    }
  }

  private writeIndex(): void {
    const tmp = `${this.indexFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.index, null, 2));
    fs.renameSync(tmp, this.indexFile);
  }

  private profileOptions(embedded: boolean, secrets?: { mode: SecretMode; passphrase?: string }) {
    return {
      engine: this.engine,
      secretMode: secrets?.mode ?? this.opts.secretMode,
      passphrase: secrets?.passphrase,
      safeStorage: this.opts.safeStorage,
      keepPseudonymPool: true,
      bootstrapDestroyDelayMs: this.opts.bootstrapDestroyDelayMs,
      ...(embedded && this.provider ? { providerUrl: this.provider.url, caPem: this.provider.caPem } : {}),
    };
  }

  async openAll(): Promise<void> {
    for (const id of this.index.order) {
      const dir = path.join(this.opts.dataDir, 'accounts', id);
      try {
        const cfg = readAccountConfig(dir);
        if (cfg.embedded && !this.provider) continue; // its provider is not running in this mode
        if (recordedSecretMode(dir) === 'passphrase') {
          // Waits for its passphrase (accounts.unlock); the UI asks for it.
          this.locked.set(id, cfg);
          continue;
        }
        this.attach(await Profile.open(dir, this.profileOptions(!!cfg.embedded)));
      } catch (e) {
        const err = coreError('internal', 'errors.background.accountNotOpened', { id, reason: (e as Error).message });
        this.emit({ type: 'error', accountId: id, message: err.message, key: err.key, params: err.params });
      }
    }
  }

  private attach(p: Profile): void {
    this.profiles.set(p.id, p);
    p.on('message', (message: MessageView) => this.emit({ type: 'message', accountId: p.id, message }));
    p.on('timelineEvent', (item: MessageView) => this.emit({ type: 'timeline', accountId: p.id, item }));
    p.on('rooms', () => this.emitRooms(p));
    p.on('connection', () => this.emit({ type: 'accounts', accounts: this.accountViews() }));
    p.on('error', (message: string, error?: Error) =>
      this.emit({ type: 'error', accountId: p.id, message, ...(error instanceof CoreError && error.key ? { key: error.key, params: error.params ?? {} } : {}) }),
    );
    // Listening makes the Profile fetch the list on connect and on each 'consent' push notice.
    p.on('consent', (consent: ConsentListView) => this.emit({ type: 'consent', accountId: p.id, consent }));
    p.on('consentGranted', (grant: ConsentGrantedView) => this.emit({ type: 'consentGranted', accountId: p.id, grant }));
    p.on('pseudonyms', (pool: PseudonymPoolView) => this.emit({ type: 'pseudonyms', accountId: p.id, pool }));
    p.on('connections', (connections: ConnectionsView) => this.emit({ type: 'connections', accountId: p.id, connections }));
    p.on('knocks', (knocks: KnocksView) => this.emit({ type: 'knocks', accountId: p.id, knocks }));
    p.on('typing', (roomUri: string, users: string[]) => this.emit({ type: 'typing', accountId: p.id, roomUri, users }));
    p.on('devices', (c: DeviceChangeView) => this.emit({ type: 'devices', accountId: p.id, ...c }));
    p.on('providerKeys', (keys: ProviderKeyView[]) => this.emit({ type: 'providerKeys', accountId: p.id, keys }));
    p.deviceLink.on('verification', (v) => this.emit({ type: 'deviceVerification', accountId: p.id, ...v }));
    p.deviceLink.on('history', (h) => this.emit({ type: 'historyTransfer', accountId: p.id, ...h }));
    // Removed by another device: the account list says so (deviceRemoved), the 'error' event why.
    p.on('deviceRemoved', () => this.emit({ type: 'accounts', accounts: this.accountViews() }));
    p.on('profiles', (roomUri: string) => {
      if (this.profiles.has(p.id)) this.emit({ type: 'profiles', accountId: p.id, roomUri, profiles: p.memberProfiles.view(roomUri) });
    });
    // Connect in the background: the UI shows "connecting" and the outbox waits meanwhile.
    p.start().catch(() => undefined);
  }

  private roomsTimer = new Map<string, NodeJS.Timeout>();
  /** Coalesce room-list refreshes: a burst of 100 messages should not rebuild the list 100 times. */
  private emitRooms(p: Profile): void {
    if (this.roomsTimer.has(p.id)) return;
    this.roomsTimer.set(
      p.id,
      setTimeout(() => {
        this.roomsTimer.delete(p.id);
        if (!this.profiles.has(p.id)) return;
        this.emit({ type: 'rooms', accountId: p.id, rooms: p.rooms() });
        this.emit({ type: 'accounts', accounts: this.accountViews() });
      }, 30),
    );
  }

  private emit(e: CoreEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a broken listener must not stop the others */
      }
    }
  }

  private profile(accountId: string): Profile {
    const p = this.profiles.get(accountId);
    if (!p) throw coreError('noAccount', 'errors.account.notSignedIn', { id: accountId });
    return p;
  }

  private accountViews(): AccountView[] {
    return this.index.order
      .filter((id) => this.profiles.has(id))
      .map((id) => {
        const p = this.profiles.get(id)!;
        return {
          id,
          userUri: p.config.userUri,
          handle: p.config.handle,
          domain: p.config.domain,
          providerUrl: p.config.embedded && this.provider ? this.provider.url : p.config.providerUrl,
          deviceUri: p.config.deviceUri,
          connection: p.connection,
          active: this.index.active === id,
          unreadTotal: p.unreadTotal(),
          ...(p.devices.removed ? { deviceRemoved: true } : {}),
        };
      });
  }

  // ---- MimiApi ----

  app = {
    info: async (): Promise<AppInfo> => ({ mode: this.opts.mode, version: this.opts.version ?? '0.1.0', embeddedProviderUrl: this.provider?.url }),
  };

  accounts = {
    list: async (): Promise<AccountView[]> => this.accountViews(),
    register: (args: SignInArgs) => this.signIn(args, 'register'),
    login: (args: SignInArgs) => this.signIn(args, 'login'),
    switchTo: async (accountId: string): Promise<AccountView[]> => {
      this.profile(accountId);
      this.index.active = accountId;
      this.writeIndex();
      const views = this.accountViews();
      this.emit({ type: 'accounts', accounts: views });
      return views;
    },
    signOut: async (accountId: string): Promise<AccountView[]> => {
      if (this.locked.has(accountId)) {
        // A locked account (its passphrase forgotten, say) leaves the app's list like any other.
        this.locked.delete(accountId);
        this.forget(accountId);
        return this.accountViews();
      }
      const p = this.profile(accountId);
      await p.close();
      // The device stays registered: signing in again with the account reopens this folder (devices.ts).
      markSignedOut(p.dir);
      this.profiles.delete(accountId);
      this.forget(accountId);
      const views = this.accountViews();
      this.emit({ type: 'accounts', accounts: views });
      return views;
    },
    // The account's devices (core/devices.ts, docs/devices.md).
    devices: async (accountId: string) => {
      const p = this.profile(accountId);
      return p.deviceLink.mark(await p.devices.list());
    },
    renameDevice: async (accountId: string, deviceId: string, name: string) => {
      const p = this.profile(accountId);
      return p.deviceLink.mark(await p.devices.rename(deviceId, name));
    },
    removeDevice: async (accountId: string, deviceId: string) => {
      const p = this.profile(accountId);
      return p.deviceLink.mark(await p.devices.remove(deviceId));
    },
    // Verifying the account's own devices and the history transfer (core/device-link.ts, docs/device-transfer.md).
    verifyDevice: async (accountId: string, deviceId: string) => this.profile(accountId).deviceLink.start(deviceId, 'verify'),
    answerDeviceVerification: async (accountId: string, attemptId: string, answer: DeviceVerificationAnswer) => this.profile(accountId).deviceLink.answer(attemptId, answer),
    requestHistory: async (accountId: string, deviceId: string) => this.profile(accountId).deviceLink.start(deviceId, 'history'),
    answerHistoryRequest: async (accountId: string, attemptId: string, send: boolean) => this.profile(accountId).deviceLink.answerHistory(attemptId, send),
    removeThisDevice: async (accountId: string): Promise<AccountView[]> => {
      const p = this.profile(accountId);
      // The provider first: a failure there changes nothing here (the error says so).
      await p.devices.signOut();
      // Off the lists before it closes (a closing profile's events rebuild the account list).
      this.profiles.delete(accountId);
      this.forget(accountId);
      try {
        await p.deleteLocalData();
      } finally {
        this.emit({ type: 'accounts', accounts: this.accountViews() });
      }
      return this.accountViews();
    },
    secretStorage: async (): Promise<SecretStorageView> => {
      const configured = this.opts.secretMode;
      const because = (key: string): SecretStorageView => ({ automatic: null, problem: translate(key), problemKey: key });
      if (configured === 'passphrase') return because('signIn.secrets.problems.configured');
      if (configured !== undefined) return { automatic: configured };
      const probe = await detectSecureStorage(this.opts.safeStorage);
      if (probe.ok) return { automatic: probe.mode };
      return because(probe.keychain === 'missing' ? 'signIn.secrets.problems.keytarMissing' : 'signIn.secrets.problems.keychainRefused');
    },
    locked: async (): Promise<LockedAccountView[]> =>
      this.index.order.flatMap((id) => {
        const c = this.locked.get(id);
        return c ? [{ id, userUri: c.userUri, handle: c.handle, domain: c.domain }] : [];
      }),
    unlock: (accountId: string, passphrase: string) => this.unlock(accountId, passphrase),
    secretMode: async (accountId: string): Promise<AccountSecretMode> => this.profile(accountId).secretMode,
    changePassword: (accountId: string, oldPassword: string, newPassword: string) => this.profile(accountId).changePassword(oldPassword, newPassword),
    changePassphrase: (accountId: string, current: string, next: string) => this.changePassphrase(accountId, current, next),
    // Receipts and typing (core/receipts.ts): kept in the account's profile database.
    privacy: async (accountId: string): Promise<PrivacyView> => this.profile(accountId).privacy(),
    setPrivacy: async (accountId: string, changes: Partial<PrivacyView>): Promise<PrivacyView> => this.profile(accountId).setPrivacy(changes),
    deleteAccount: async (accountId: string): Promise<AccountView[]> => {
      // The provider deletes it first (a failure there changes nothing here); then it leaves this
      // app like a signed-out one. Its folder stays, as after signing out: the history is the user's.
      await this.profile(accountId).deleteAccount();
      this.profiles.delete(accountId);
      this.forget(accountId);
      const views = this.accountViews();
      this.emit({ type: 'accounts', accounts: views });
      return views;
    },
  };

  /** Off the app's list; the folder stays (history is the user's), signing in again creates a new device. */
  private forget(accountId: string): void {
    this.backups.abandon(accountId);
    this.index.order = this.index.order.filter((id) => id !== accountId);
    if (this.index.active === accountId) this.index.active = this.index.order.find((id) => this.profiles.has(id)) ?? this.index.order[0];
    this.writeIndex();
  }

  private async changePassphrase(accountId: string, current: string, next: string): Promise<void> {
    const p = this.profile(accountId);
    if (p.secretMode !== 'passphrase') throw coreError('invalidArgument', 'settings.errors.notPassphraseMode');
    try {
      await p.changePassphrase(current, next);
    } catch (e) {
      if (e instanceof SecretStoreError && e.code === 'wrong-passphrase') throw coreError('wrongPassphrase', 'settings.errors.wrongCurrentPassphrase');
      if (e instanceof SecretStoreError) throw coreError('secretStorage', 'settings.errors.passphraseChangeFailed', { reason: e.message });
      throw e;
    }
  }

  private async unlock(accountId: string, passphrase: string): Promise<AccountView[]> {
    const cfg = this.locked.get(accountId);
    if (!cfg) throw this.profiles.has(accountId) ? coreError('noAccount', 'errors.account.unlockedAlready') : coreError('noAccount', 'errors.account.noLocked', { id: accountId });
    // Deriving the key takes a moment; a second click meanwhile must not open the profile twice.
    if (this.unlocking.has(accountId)) throw coreError('invalidArgument', 'errors.account.unlocking');
    this.unlocking.add(accountId);
    let p: Profile;
    try {
      // Its recorded mode, whatever new accounts get (MIMI_SECRETS): the record decides, never a default.
      p = await Profile.open(path.join(this.opts.dataDir, 'accounts', accountId), this.profileOptions(!!cfg.embedded, { mode: 'passphrase', passphrase }));
    } catch (e) {
      if (e instanceof SecretStoreError && e.code === 'wrong-passphrase') {
        throw coreError('wrongPassphrase', 'errors.account.wrongPassphrase', { account: `${cfg.handle}@${cfg.domain}` });
      }
      if (e instanceof SecretStoreError) throw coreError('secretStorage', 'errors.account.unlockFailed', { account: `${cfg.handle}@${cfg.domain}`, reason: e.message });
      throw e;
    } finally {
      this.unlocking.delete(accountId);
    }
    this.locked.delete(accountId);
    if (!this.index.active || !this.profiles.has(this.index.active)) {
      this.index.active = accountId;
      this.writeIndex();
    }
    this.attach(p);
    const views = this.accountViews();
    this.emit({ type: 'accounts', accounts: views });
    return views;
  }

  private async signIn(args: SignInArgs, how: 'register' | 'login'): Promise<AccountView> {
    const embedded = !args.providerUrl;
    if (embedded && !this.provider) throw coreError('invalidArgument', 'errors.account.noProvider');
    const id = toB64(randomBytes(9));
    const dir = path.join(this.opts.dataDir, 'accounts', id);
    const details = {
      providerUrl: args.providerUrl ?? this.provider!.url,
      caPem: args.caPem ?? (embedded ? this.provider!.caPem : undefined),
      handle: args.handle,
      password: args.password,
      deviceName: args.deviceName ?? `${this.opts.mode === 'electron' ? 'Desktop' : 'Browser'} ${new Date().toISOString().slice(0, 10)}`,
      embedded,
    };
    const opts = this.profileOptions(embedded, args.secrets);
    let p: Profile | undefined;
    if (how === 'login') {
      // Signed out here before, keeping the data: the same device, rooms and history come back.
      const listed = new Set([...this.index.order, ...this.profiles.keys(), ...this.locked.keys()]);
      for (const kept of keptAccountFolders(path.join(this.opts.dataDir, 'accounts'), listed, args.handle, args.providerUrl)) {
        p = await reopenKept(kept, args.password, (d) => Profile.open(d, opts));
        if (p) break;
      }
    }
    if (p) return this.added(p);
    try {
      p = how === 'register' ? await Profile.register(dir, details, opts) : await Profile.login(dir, details, opts);
    } catch (e) {
      // Nothing secure is available and the person has not chosen yet: a short answer the sign-in
      // form turns into the choice (the long explanation with every backend's reason is for the CLI).
      if (e instanceof CoreError && e.code === 'secretStorage' && !args.secrets && this.opts.secretMode === undefined) {
        throw coreError('secretStorage', 'errors.account.noKeychain');
      }
      throw e;
    }
    return this.added(p);
  }

  /** A profile just signed in (new, or a kept folder opened again) joins the list as the active account. */
  private added(p: Profile): AccountView {
    const id = p.id;
    this.index.order.push(id);
    this.index.active = id;
    this.writeIndex();
    this.attach(p);
    const views = this.accountViews();
    this.emit({ type: 'accounts', accounts: views });
    return views.find((a) => a.id === id)!;
  }

  rooms = {
    list: async (accountId: string): Promise<RoomView[]> => this.profile(accountId).rooms(),
    create: (accountId: string, name: string, preset: RoomPreset | null) => this.profile(accountId).createRoom(name, preset ?? undefined),
    createMinimalMetadata: (accountId: string, name: string, preset: RoomPreset | null) => this.profile(accountId).createMinimalMetadataRoom(name, preset ?? undefined),
    addMember: (accountId: string, roomUri: string, user: string) => this.profile(accountId).addMember(roomUri, user),
    leave: (accountId: string, roomUri: string) => this.profile(accountId).leaveRoom(roomUri),
    join: (accountId: string, roomUri: string) => this.profile(accountId).joinRoom(roomUri),
    markRead: async (accountId: string, roomUri: string): Promise<void> => this.profile(accountId).markRead(roomUri),
    direct: (accountId: string, user: string) => this.profile(accountId).openDirect(user),
    setMuted: async (accountId: string, roomUri: string, muted: boolean): Promise<RoomView> => this.profile(accountId).setRoomMuted(roomUri, muted),
    profiles: async (accountId: string, roomUri: string) => this.profile(accountId).roomProfiles(roomUri),
    setReceiptPolicy: (accountId: string, roomUri: string, policy: ReceiptPolicyView) => this.profile(accountId).setReceiptPolicy(roomUri, policy),
    settings: async (accountId: string, roomUri: string): Promise<RoomSettingsView> => this.profile(accountId).roomSettings(roomUri),
    setMetadata: (accountId: string, roomUri: string, metadata: RoomMetadataArgs) => this.profile(accountId).setRoomMetadata(roomUri, metadata),
    setRole: (accountId: string, roomUri: string, user: string, roleIndex: number) => this.profile(accountId).setRole(roomUri, user, roleIndex),
    kick: (accountId: string, roomUri: string, user: string) => this.profile(accountId).kick(roomUri, user),
    removeMember: (accountId: string, roomUri: string, user: string) => this.profile(accountId).removeMember(roomUri, user),
    ban: (accountId: string, roomUri: string, user: string) => this.profile(accountId).ban(roomUri, user),
    unban: (accountId: string, roomUri: string, user: string) => this.profile(accountId).unban(roomUri, user),
    reportAbuse: (accountId: string, roomUri: string, user: string, note: string) => this.profile(accountId).reportAbuse(roomUri, user, note),
  };

  // Other providers' keys recorded for private KeyPackage requests (core/provider-keys.ts); the
  // profile DB alone, as `mimi ohttp forget`. A forget is also told as a 'providerKeys' event.
  providerKeys = {
    list: async (accountId: string): Promise<ProviderKeyView[]> => this.profile(accountId).providerKeys.list(),
    forget: async (accountId: string, domain: string): Promise<ProviderKeyView[]> => this.profile(accountId).providerKeys.forget(domain),
  };

  // The encrypted backup (core/backup-app.ts over backup.ts).
  backup = {
    status: (accountId: string) => this.backups.status(accountId),
    create: (accountId: string, args: BackupCreateArgs) => this.backups.create(accountId, args),
    pendingRecoveryKey: async (accountId: string) => this.backups.pendingRecoveryKey(accountId),
    confirmRecoveryKeySaved: async (accountId: string) => this.backups.confirmRecoveryKeySaved(accountId),
    restore: (accountId: string, recoveryKey: string) => this.backups.restore(accountId, recoveryKey),
    exportHistory: (accountId: string, roomUri: string) => this.backups.exportHistory(accountId, roomUri),
  };

  messages = {
    // The app's timeline: messages with the room's events among them (timeline-events.ts).
    page: async (accountId: string, roomUri: string, beforeSeq: number | null, limit: number): Promise<MessageView[]> =>
      this.profile(accountId).timeline(roomUri, beforeSeq, limit),
    send: (accountId: string, roomUri: string, text: string) => this.profile(accountId).send(roomUri, text),
    report: (accountId: string, roomUri: string, messageIds: string[], reason: number, note: string) => this.profile(accountId).reportMessages(roomUri, messageIds, reason, note),
    reply: (accountId: string, roomUri: string, messageId: string, text: string) => this.profile(accountId).messageActions.reply(roomUri, messageId, text),
    react: (accountId: string, roomUri: string, messageId: string, emoji: string, remove: boolean) =>
      this.profile(accountId).messageActions.react(roomUri, messageId, emoji, remove),
    edit: (accountId: string, roomUri: string, messageId: string, text: string) => this.profile(accountId).messageActions.edit(roomUri, messageId, text),
    delete: (accountId: string, roomUri: string, messageId: string) => this.profile(accountId).messageActions.delete(roomUri, messageId),
    history: async (accountId: string, roomUri: string, messageId: string) => this.profile(accountId).messageActions.history(roomUri, messageId),
    search: async (accountId: string, query: string, roomUri: string | null, limit: number) => this.profile(accountId).searchMessages(query, roomUri, limit),
    // Attachments (core/attachments.ts): the bytes cross the contract as base64 / a data: URL; the
    // renderer never sees a key, a URL of the provider, or ciphertext.
    sendFile: (accountId: string, roomUri: string, file: FileArgs) => {
      const bytes = Buffer.from(file.data, 'base64');
      const thumb = file.thumbnail === undefined ? undefined : Buffer.from(file.thumbnail, 'base64');
      const thumbnail = thumb && new Uint8Array(thumb.buffer, thumb.byteOffset, thumb.byteLength);
      return this.profile(accountId).sendFile(roomUri, { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), thumbnail, filename: file.name, contentType: file.type }, (p) =>
        this.emit({ type: 'transfer', accountId, transfer: { roomUri, phase: 'upload', filename: file.name, done: p.done, total: p.total } }),
      );
    },
    openAttachment: async (accountId: string, roomUri: string, messageId: string): Promise<OpenedAttachmentView> => {
      let filename = '';
      const a = await this.profile(accountId).openAttachment(roomUri, messageId, (p) =>
        this.emit({ type: 'transfer', accountId, transfer: { roomUri, phase: 'download', messageId, filename, done: p.done, total: p.total } }),
      );
      filename = a.filename;
      // Only the image types the app previews keep their type; anything else is handed over as
      // octet-stream, so no data: URL can ever be a document (HTML, SVG) the page would render.
      const type = isPreviewableImage(a.contentType) ? a.contentType.split(';')[0].trim().toLowerCase() : 'application/octet-stream';
      return { filename: a.filename, contentType: a.contentType, size: a.size, dataUrl: `data:${type};base64,${Buffer.from(a.bytes).toString('base64')}` };
    },
    typing: (accountId: string, roomUri: string, typing: boolean) => this.profile(accountId).typing(roomUri, typing),
  };

  consent = {
    list: (accountId: string) => this.profile(accountId).consentList(),
    request: (accountId: string, user: string, roomUri: string | null) => this.profile(accountId).requestConsent(user, roomUri ?? undefined),
    cancel: (accountId: string, user: string, roomUri: string | null) => this.profile(accountId).cancelConsentRequest(user, roomUri ?? undefined),
    grant: (accountId: string, user: string, roomUri: string | null) => this.profile(accountId).grantConsent(user, roomUri ?? undefined),
    decline: (accountId: string, user: string) => this.profile(accountId).declineConsent(user),
    revoke: (accountId: string, user: string, roomUri: string | null) => this.profile(accountId).revokeConsent(user, roomUri ?? undefined),
    block: (accountId: string, user: string) => this.profile(accountId).blockUser(user),
    unblock: (accountId: string, user: string) => this.profile(accountId).unblockUser(user),
  };

  connections = {
    list: async (accountId: string): Promise<ConnectionsView> => this.profile(accountId).connectionList(),
    connect: (accountId: string, user: string) => this.profile(accountId).connect(user),
    accept: (accountId: string, id: string) => this.profile(accountId).acceptConnection(id),
    decline: (accountId: string, id: string) => this.profile(accountId).declineConnection(id),
    policy: (accountId: string) => this.profile(accountId).connectionRequestPolicy(),
    setPolicy: (accountId: string, policy: ConnectionRequestPolicyView) => this.profile(accountId).setConnectionRequestPolicy(policy),
  };

  links = {
    create: (accountId: string, roomUri: string, args: JoinLinkArgs) => this.profile(accountId).createJoinLink(roomUri, args),
    list: (accountId: string, roomUri: string) => this.profile(accountId).joinLinks(roomUri),
    revoke: (accountId: string, roomUri: string, id: string) => this.profile(accountId).revokeJoinLink(roomUri, id),
    join: (accountId: string, link: string, passphrase: string | null, asPseudonym: boolean) =>
      this.profile(accountId).joinByLink(link, { passphrase: passphrase ?? undefined, asPseudonym }),
  };

  knocks = {
    list: async (accountId: string): Promise<KnocksView> => this.profile(accountId).knockList(),
    knockRoom: (accountId: string, roomUri: string) => this.profile(accountId).knockRoom(roomUri),
    knock: (accountId: string, link: string, note: string, asPseudonym: boolean) => this.profile(accountId).knock(link, note, { asPseudonym }),
    admit: (accountId: string, id: string) => this.profile(accountId).admitKnock(id),
    decline: (accountId: string, id: string) => this.profile(accountId).declineKnock(id),
  };

  pseudonyms = {
    list: async (accountId: string): Promise<PseudonymPoolView> => this.profile(accountId).pseudonymPool(),
    refill: (accountId: string, count: number) => this.profile(accountId).refillPseudonyms(count),
    retire: (accountId: string, userPseudonym: string) => this.profile(accountId).retirePseudonym(userPseudonym),
  };

  people = {
    find: (accountId: string, query: FindArgs) => {
      // Absent and null mean the same here; the provider API only knows absent.
      const q = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== null)) as FindArgs;
      return this.profile(accountId).find(q);
    },
    myProfile: (accountId: string) => this.profile(accountId).myProfile(),
    setProfileFields: (accountId: string, fields: ProfileFieldsArgs) => this.profile(accountId).setProfileFields(fields),
    setSearchable: (accountId: string, field: ProfileField, on: boolean) => this.profile(accountId).setSearchable(field, on),
    avatar: async (accountId: string) => this.profile(accountId).avatar(),
    setAvatar: async (accountId: string, avatar: string | null) => this.profile(accountId).setAvatar(avatar),
    safetyNumber: async (accountId: string, user: string) => this.profile(accountId).safetyNumber(user),
    setVerified: async (accountId: string, user: string, verified: boolean) => this.profile(accountId).setVerified(user, verified),
    compareSafetyNumberQr: async (accountId: string, user: string, scanned: string) => this.profile(accountId).compareSafetyNumberQr(user, scanned),
  };

  onEvent(listener: (e: CoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  networkResumed(): void {
    for (const p of this.profiles.values()) p.networkResumed();
  }

  /** Test and bench hook: the Profile behind an account. */
  profileOf(accountId: string): Profile {
    return this.profile(accountId);
  }

  async close(): Promise<void> {
    for (const t of this.roomsTimer.values()) clearTimeout(t);
    this.backups.abandon();
    // Out of the map first: a profile that closes says it went offline, and the account list that
    // event rebuilds must not read a profile closed before it.
    const profiles = [...this.profiles.values()];
    this.profiles.clear();
    for (const p of profiles) await p.close();
    await this.provider?.close();
    await this.engine.close?.();
  }
}
