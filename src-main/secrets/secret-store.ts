// Where a profile keeps its secrets (the database key, device signing keys).
//
// Four backends, chosen once per profile and recorded in `<profileDir>/secret-mode.json`:
//   keychain    - the OS keychain via keytar (Secret Service on Linux, Keychain on macOS, ...)
//   safeStorage - Electron's safeStorage, encrypted blobs in a file in the profile folder
//   passphrase  - a file in the profile folder encrypted under a key derived (scrypt) from a
//                 passphrase the person sets and enters at each start; only when chosen
//   plaintext   - a 0600 file; only when explicitly asked for (tests, `--secrets plaintext`, or
//                 the person choosing it in the app after a warning)
//
// The recorded mode is never silently downgraded: a keychain profile whose keychain is gone fails
// with instructions instead of quietly writing secrets to disk, and neither passphrase nor
// plaintext is picked unless asked for: without a keychain the app asks the person to choose.
// (Same policy as Element Desktop's secret storage.)

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeytarStore } from './keytar-store.js';
import { SafeStorageStore, safeStorageUnavailableReason, type SafeStorageLike } from './safe-storage-store.js';
import { PlaintextStore } from './plaintext-store.js';
import { MIN_PASSPHRASE_LENGTH, PassphraseStore, type PassphraseSource } from './passphrase-store.js';

export type { SafeStorageLike } from './safe-storage-store.js';

export type SecretMode = 'keychain' | 'safeStorage' | 'passphrase' | 'plaintext';
export const SECRET_MODES: readonly SecretMode[] = ['keychain', 'safeStorage', 'passphrase', 'plaintext'];
export type { PassphraseSource } from './passphrase-store.js';

export interface SecretStore {
  readonly mode: SecretMode;
  /** The stored bytes, or null when nothing is stored under `key`. */
  get(key: string): Promise<Uint8Array | null>;
  set(key: string, value: Uint8Array): Promise<void>;
  /** Removing a key that is not there is not an error. */
  delete(key: string): Promise<void>;
}

export type SecretStoreErrorCode =
  | 'invalid-argument' // bad key, namespace, value or mode string
  | 'unavailable' // the backend the profile needs cannot be used right now
  | 'no-secure-storage' // new profile, nothing secure available, plaintext not asked for
  | 'mode-mismatch' // a different mode was asked for than the profile records
  | 'namespace-mismatch' // the profile belongs to another namespace
  | 'corrupt' // a file in the profile folder (or a keychain entry) is not what we wrote
  | 'decrypt-failed' // safeStorage (or the passphrase key) could not decrypt an entry
  | 'locked' // a passphrase profile was opened without its passphrase
  | 'wrong-passphrase'; // the passphrase given does not unlock the profile

export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
  constructor(
    readonly code: SecretStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const MODE_FILE = 'secret-mode.json';

/** What a user can do when no secure storage works; shared by the messages below. */
const HOW_TO_FIX_KEYCHAIN =
  'Unlock your keyring (log into your desktop session, or run `gnome-keyring-daemon --unlock`) ' +
  'or start a Secret Service provider such as GNOME Keyring or KWallet, then try again.';

export interface OpenSecretStoreOptions {
  /** The profile folder; created (0700) if missing. */
  profileDir: string;
  /** Identifies the profile inside shared backends (the OS keychain), so profiles never collide. */
  namespace: string;
  /** For a new profile: the mode to use (no fallback). For an existing one: must match the record. */
  preferred?: SecretMode;
  /** Electron's `safeStorage` (passed in by the Electron adapter; absent in the CLI and tests). */
  safeStorage?: SafeStorageLike;
  /**
   * For passphrase profiles: set for a new one, asked at each open. A function is called only when
   * the profile turns out to need it (the CLI prompts then).
   */
  passphrase?: PassphraseSource;
}

export async function openSecretStore(opts: OpenSecretStoreOptions): Promise<SecretStore> {
  const { profileDir, namespace, preferred, safeStorage } = opts;
  assertNamespace(namespace);
  if (preferred !== undefined) parseSecretMode(preferred);
  if (typeof profileDir !== 'string' || profileDir === '') {
    throw new SecretStoreError('invalid-argument', 'profileDir must be a non-empty path');
  }

  const recorded = readModeRecord(profileDir);
  if (recorded) return openRecorded(recorded, opts);

  const store = preferred !== undefined ? await openMode(preferred, opts, 'new') : await openBestSecure(opts);
  fs.mkdirSync(profileDir, { recursive: true, mode: 0o700 });
  const won = recordModeOnce(profileDir, { version: 1, mode: store.mode, namespace, createdAt: new Date().toISOString() });
  // Another process created the profile between our read and write: its choice stands.
  return won ? store : openRecorded(readModeRecord(profileDir)!, opts);

  async function openBestSecure(o: OpenSecretStoreOptions): Promise<SecretStore> {
    const keychain = await KeytarStore.tryOpen(namespace);
    if (keychain.ok) return keychain.store;
    const safeReason = safeStorageUnavailableReason(safeStorage);
    if (safeReason === null) return SafeStorageStore.open(o.profileDir, safeStorage!);
    throw noSecureStorage(keychain.reason, safeReason);
  }
}

/**
 * Fails, with the same actionable message openSecretStore would give, when a new profile could not
 * keep its secrets: called before anything irreversible (registering a handle at the provider).
 */
export async function probeSecretStore(opts: Omit<OpenSecretStoreOptions, 'namespace'>): Promise<void> {
  if (opts.preferred !== undefined) parseSecretMode(opts.preferred);
  if (opts.preferred === 'plaintext' || readModeRecord(opts.profileDir)) return;
  if (opts.preferred === 'passphrase') {
    // Nothing external to probe; a passphrase that would be refused must be refused now, before
    // the handle is taken at the provider.
    const p = typeof opts.passphrase === 'string' ? opts.passphrase : undefined;
    if (typeof opts.passphrase !== 'function' && (p === undefined || p.length < MIN_PASSPHRASE_LENGTH)) {
      throw new SecretStoreError('invalid-argument', `Choose a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters to protect this profile's secrets.`);
    }
    return;
  }
  if (opts.preferred === 'safeStorage' || (opts.preferred === undefined && safeStorageUnavailableReason(opts.safeStorage) === null)) {
    const reason = safeStorageUnavailableReason(opts.safeStorage);
    if (reason === null) return;
    throw new SecretStoreError('unavailable', `Requested secret storage: Electron safeStorage, which is not available: ${reason}`);
  }
  const keychain = await KeytarStore.tryOpen('mimi-probe');
  if (keychain.ok) return;
  if (opts.preferred === 'keychain') {
    throw new SecretStoreError('unavailable', `Requested secret storage: the OS keychain, which is not available: ${keychain.reason}\n${HOW_TO_FIX_KEYCHAIN}`);
  }
  throw noSecureStorage(keychain.reason, safeStorageUnavailableReason(opts.safeStorage));
}

/** Neither the keychain nor safeStorage can be used: what is wrong with each, and the ways out. */
function noSecureStorage(keychainReason: string, safeStorageReason: string | null): SecretStoreError {
  return new SecretStoreError(
    'no-secure-storage',
    'No secure place to keep this profile\'s secrets was found.\n' +
      `  - OS keychain: ${keychainReason}\n` +
      `  - Electron safeStorage: ${safeStorageReason}\n` +
      `${HOW_TO_FIX_KEYCHAIN}\n` +
      'Alternatively protect them with a passphrase (`--secrets passphrase`, asked for at each start ' +
      'or read from MIMI_PASSPHRASE), or explicitly accept unencrypted secrets on disk with ' +
      '`--secrets plaintext` or MIMI_SECRETS=plaintext.',
  );
}

/** Where a new profile's secrets would go without asking, or why nowhere secure is available. */
export type SecureStorageProbe = { ok: true; mode: 'keychain' | 'safeStorage' } | { ok: false; keychain: KeychainTrouble; reason: string };
export type KeychainTrouble = 'missing' | 'refused';

/** For the app's first start: whether to ask the person where secrets go (nothing secure works). */
export async function detectSecureStorage(safeStorage?: SafeStorageLike): Promise<SecureStorageProbe> {
  const keychain = await KeytarStore.tryOpen('mimi-probe');
  if (keychain.ok) return { ok: true, mode: 'keychain' };
  if (safeStorageUnavailableReason(safeStorage) === null) return { ok: true, mode: 'safeStorage' };
  return { ok: false, keychain: keychain.trouble, reason: keychain.reason };
}

/** The mode recorded for an existing profile, or null for a new one (throws on a corrupt record). */
export function recordedSecretMode(profileDir: string): SecretMode | null {
  return readModeRecord(profileDir)?.mode ?? null;
}

async function openRecorded(rec: ModeRecord, opts: OpenSecretStoreOptions): Promise<SecretStore> {
  if (rec.namespace !== opts.namespace) {
    throw new SecretStoreError(
      'namespace-mismatch',
      `Profile ${opts.profileDir} belongs to secret namespace "${rec.namespace}", not "${opts.namespace}".`,
    );
  }
  if (opts.preferred !== undefined && opts.preferred !== rec.mode) {
    throw new SecretStoreError(
      'mode-mismatch',
      `Profile ${opts.profileDir} keeps its secrets in "${rec.mode}" storage; it cannot be opened with ` +
        `"${opts.preferred}" (its secrets would not be found). Drop the --secrets option / MIMI_SECRETS.`,
    );
  }
  return openMode(rec.mode, opts, 'existing');
}

async function openMode(mode: SecretMode, opts: OpenSecretStoreOptions, profile: 'new' | 'existing'): Promise<SecretStore> {
  const where = profile === 'existing' ? 'This profile keeps its secrets in' : 'Requested secret storage:';
  switch (mode) {
    case 'keychain': {
      const r = await KeytarStore.tryOpen(opts.namespace);
      if (r.ok) return r.store;
      throw new SecretStoreError(
        'unavailable',
        `${where} the OS keychain, which is not available: ${r.reason}\n${HOW_TO_FIX_KEYCHAIN}`,
      );
    }
    case 'safeStorage': {
      const reason = safeStorageUnavailableReason(opts.safeStorage);
      if (reason === null) return SafeStorageStore.open(opts.profileDir, opts.safeStorage!);
      throw new SecretStoreError(
        'unavailable',
        `${where} Electron safeStorage, which is not available: ${reason}\n` +
          'Open this profile from the desktop app; on Linux the app also needs an unlocked keyring ' +
          '(GNOME Keyring or KWallet) for safeStorage to work.',
      );
    }
    case 'passphrase':
      return profile === 'new' ? PassphraseStore.create(opts.profileDir, opts.passphrase) : PassphraseStore.unlock(opts.profileDir, opts.passphrase);
    case 'plaintext':
      return PlaintextStore.open(opts.profileDir);
  }
}

/** Parses a mode given by a user (CLI flag, environment); throws on anything else. */
export function parseSecretMode(s: unknown): SecretMode {
  if (typeof s === 'string' && (SECRET_MODES as readonly string[]).includes(s)) return s as SecretMode;
  throw new SecretStoreError('invalid-argument', `unknown secret storage mode ${JSON.stringify(s)}; expected one of ${SECRET_MODES.join(', ')}`);
}

// --- validation shared by the backends ---

/** Printable ASCII without spaces: safe as a keychain account suffix and as a JSON key. */
const KEY_RE = /^[\x21-\x7e]{1,256}$/;

/** Any printable text (typically the device URI); the keychain backend escapes it. */
export function assertNamespace(ns: unknown): asserts ns is string {
  if (typeof ns !== 'string' || ns.length === 0 || ns.length > 512 || /[\x00-\x1f\x7f]/.test(ns)) {
    throw new SecretStoreError('invalid-argument', `invalid secret namespace ${JSON.stringify(ns)}: use 1-512 characters without control characters`);
  }
}

export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new SecretStoreError('invalid-argument', `invalid secret key ${JSON.stringify(key)}: use 1-256 printable ASCII characters without spaces`);
  }
}

/** Empty values are refused everywhere because the OS keychain cannot hold an empty password. */
export function assertValue(value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new SecretStoreError('invalid-argument', 'secret value must be a Uint8Array');
  if (value.length === 0) throw new SecretStoreError('invalid-argument', 'secret value must not be empty');
}

// --- the mode record ---

interface ModeRecord {
  version: 1;
  mode: SecretMode;
  namespace: string;
  createdAt: string;
}

function readModeRecord(profileDir: string): ModeRecord | null {
  const file = path.join(profileDir, MODE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    rec = undefined;
  }
  const r = rec as Partial<ModeRecord> | undefined;
  if (!r || r.version !== 1 || !SECRET_MODES.includes(r.mode as SecretMode) || typeof r.namespace !== 'string') {
    throw new SecretStoreError('corrupt', `${file} is not a valid secret-mode record; refusing to guess where this profile's secrets are.`);
  }
  return r as ModeRecord;
}

/** Creates the record only if none exists (link() fails on an existing name). Returns false if we lost a race. */
function recordModeOnce(profileDir: string, rec: ModeRecord): boolean {
  const file = path.join(profileDir, MODE_FILE);
  const tmp = writeTempFile(file, JSON.stringify(rec, null, 2) + '\n');
  try {
    fs.linkSync(tmp, file);
    fsyncDir(profileDir);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

// --- file helpers for the file-backed stores ---

/** Writes `data` to a fresh 0600 temp file next to `file`, flushed to disk, and returns its path. */
function writeTempFile(file: string, data: string): string {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // the umask can only narrow the mode, but be explicit
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  return tmp;
}

function fsyncDir(dir: string): void {
  // Makes the rename durable; some filesystems refuse fsync on directories, which is harmless.
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

/** Replaces `file` atomically: readers see the old or the new content, never a partial write. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = writeTempFile(file, data);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(file));
}

/**
 * A JSON file mapping secret keys to strings, used by the file-backed stores. Read on every access
 * and written synchronously, so one process never interleaves two updates; a corrupt file is
 * reported and never overwritten.
 */
export class SecretFile {
  constructor(readonly file: string) {}

  read(): Map<string, string> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const p = parsed as { version?: unknown; entries?: unknown } | undefined;
    const entries = p?.entries;
    if (p?.version !== 1 || typeof entries !== 'object' || entries === null || Array.isArray(entries) ||
        !Object.values(entries).every((v) => typeof v === 'string')) {
      throw new SecretStoreError('corrupt', `${this.file} is not a valid secrets file; leaving it untouched.`);
    }
    return new Map(Object.entries(entries as Record<string, string>));
  }

  update(fn: (entries: Map<string, string>) => boolean): void {
    const entries = this.read();
    if (!fn(entries)) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify({ version: 1, entries: Object.fromEntries(entries) }, null, 2) + '\n');
  }
}
