// Secrets encrypted under a key derived from a passphrase the person chooses, for machines with no
// usable OS keychain (no Secret Service, keytar missing) where they still do not want secrets on
// disk in the clear. The passphrase is asked for at account creation and at every start.
//
// Two files in the profile folder:
//   passphrase-kdf.json     - written once: the scrypt parameters, a random per-profile salt, and a
//                             check value (a fixed label sealed under the derived key), so a wrong
//                             passphrase is told apart from a damaged entry before anything is read
//   secrets.passphrase.json - a SecretFile: each entry AES-256-GCM under the derived key with a
//                             fresh nonce, the entry's name as AAD (an entry moved under another
//                             name does not open)
//
// scrypt N=2^17, r=8, p=1 (128 MiB, ~0.3-1 s) follows current guidance for interactive logins
// (OWASP password storage cheat sheet); the parameters are stored per profile so they can be raised
// later without breaking old profiles, and are bounded on read so a tampered file cannot make the
// app allocate without limit. The derivation runs on libuv's thread pool (async scrypt), so the
// process keeps answering the UI, which shows progress meanwhile.
//
// Changing the passphrase rewrites both files, and no filesystem renames two files at once. So the
// change is first written whole (new KDF record and every entry re-encrypted) to
// passphrase-change.json, atomically; that rename is the commit point. Then the two files are
// replaced from it and it is removed. Whoever opens the folder next (or the running store, at its
// next access) finishes a change it finds, which needs no passphrase: the files it copies are
// ciphertext. A crash before the commit leaves the old passphrase working, after it the new one.

import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { assertKey, assertValue, SecretFile, SecretStoreError, writeFileAtomic, type SecretStore } from './secret-store.js';

export const PASSPHRASE_KDF_FILE = 'passphrase-kdf.json';
export const PASSPHRASE_SECRETS_FILE = 'secrets.passphrase.json';
export const PASSPHRASE_CHANGE_FILE = 'passphrase-change.json';
/** Shorter ones are refused when a profile is created; any non-empty one is tried at unlock. */
export const MIN_PASSPHRASE_LENGTH = 8;
const MAX_PASSPHRASE_LENGTH = 1024;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const SALT_LEN = 32;
const KEY_LEN = 32;
const NONCE_LEN = 12;
const TAG_LEN = 16;
/** scrypt needs 128·N·r bytes; above this a stored parameter set is treated as tampered. */
const MAX_SCRYPT_MEMORY = 512 * 1024 * 1024;
const CHECK_LABEL = 'mimi passphrase check v1';

interface KdfRecord {
  version: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  check: string;
}

/** A passphrase, or a way to ask for it only when the profile turns out to need one (CLI prompt). */
export type PassphraseSource = string | (() => Promise<string>);

/** The steps of a passphrase change, for tests that stop it in between (as a crash would). */
export type PassphraseChangeStep = 'committed' | 'secrets-replaced' | 'kdf-replaced';

export interface PassphraseChangeOptions {
  /** The new record's scrypt parameters (tests use cheap ones). */
  params?: ScryptParams;
  /** Called after each step; a throw there stops the change as a crash at that point would. */
  afterStep?: (step: PassphraseChangeStep) => void;
}

interface PendingChange {
  version: 1;
  kdf: KdfRecord;
  entries: Record<string, string>;
}

export class PassphraseStore implements SecretStore {
  readonly mode = 'passphrase' as const;
  private readonly file: SecretFile;
  private readonly profileDir: string;
  // Replaced when the passphrase changes: the entries are then sealed under the new key.
  #key: Buffer;
  /** A change is deriving its keys: a second one would re-encrypt entries it cannot open. */
  #changing = false;

  private constructor(profileDir: string, key: Buffer) {
    this.profileDir = profileDir;
    this.file = new SecretFile(path.join(profileDir, PASSPHRASE_SECRETS_FILE));
    this.#key = key;
  }

  /**
   * Re-encrypts every entry under a key derived from `next` with a fresh salt. `current` must unlock
   * the profile (wrong-passphrase otherwise, and nothing is written). See the header for why an
   * interruption leaves one of the two passphrases working.
   */
  async changePassphrase(current: string, next: string, opts: PassphraseChangeOptions = {}): Promise<void> {
    if (this.#changing) throw new SecretStoreError('invalid-argument', 'The passphrase is being changed already; wait until that is done.');
    this.#changing = true;
    try {
      await this.change(current, next, opts);
    } finally {
      this.#changing = false;
    }
  }

  private async change(current: string, next: string, opts: PassphraseChangeOptions): Promise<void> {
    finishPassphraseChange(this.profileDir);
    const rec = readKdfRecord(this.profileDir);
    const oldKey = await deriveKey(await resolvePassphrase(current), Buffer.from(fromB64(rec.salt)), rec);
    if (!checks(oldKey, rec)) throw wrongPassphrase('That is not the current passphrase, so nothing was changed. Check it (passphrases are case-sensitive) and try again.');
    const newPassphrase = await resolvePassphrase(next);
    if (newPassphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new SecretStoreError('invalid-argument', `Choose a new passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters; nothing was changed.`);
    }
    const params = opts.params ?? DEFAULT_SCRYPT;
    checkParams(params, 'requested');
    const salt = randomBytes(SALT_LEN);
    const newKey = await deriveKey(newPassphrase, salt, params);
    // From here on synchronous: no get/set of this process can slip in between reading the entries
    // and swapping the key.
    finishPassphraseChange(this.profileDir);
    const entries: Record<string, string> = {};
    for (const [name, stored] of this.file.read()) {
      let plain: Buffer;
      try {
        plain = open(oldKey, Buffer.from(fromB64(stored)), entryAad(name));
      } catch {
        throw new SecretStoreError('decrypt-failed', `${this.file.file}: entry "${name}" does not decrypt (the file was altered); nothing was changed.`);
      }
      entries[name] = toB64(seal(newKey, plain, entryAad(name)));
      plain.fill(0);
    }
    const kdf: KdfRecord = { version: 1, kdf: 'scrypt', ...params, salt: toB64(salt), check: toB64(seal(newKey, Buffer.from(CHECK_LABEL), CHECK_LABEL)) };
    const pending: PendingChange = { version: 1, kdf, entries };
    writeFileAtomic(path.join(this.profileDir, PASSPHRASE_CHANGE_FILE), JSON.stringify(pending, null, 2) + '\n');
    // Committed: whatever happens next, the files end up under the new key.
    this.#key = newKey;
    oldKey.fill(0);
    opts.afterStep?.('committed');
    finishPassphraseChange(this.profileDir, opts.afterStep);
  }

  /**
   * A new profile: checks the passphrase, derives its key under a fresh salt and writes the KDF
   * record. Refuses a folder that already has one (that profile's passphrase would be lost).
   */
  static async create(profileDir: string, source: PassphraseSource | undefined, params: ScryptParams = DEFAULT_SCRYPT): Promise<PassphraseStore> {
    const passphrase = await resolvePassphrase(source);
    if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
      throw new SecretStoreError('invalid-argument', `Choose a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters.`);
    }
    checkParams(params, 'requested');
    const kdfFile = path.join(profileDir, PASSPHRASE_KDF_FILE);
    if (fs.existsSync(kdfFile)) {
      throw new SecretStoreError('corrupt', `${kdfFile} already exists (left by an interrupted sign-in?); refusing to replace it, since the secrets it protects would be lost. Use another profile folder.`);
    }
    const salt = randomBytes(SALT_LEN);
    const key = await deriveKey(passphrase, salt, params);
    const rec: KdfRecord = { version: 1, kdf: 'scrypt', ...params, salt: toB64(salt), check: toB64(seal(key, Buffer.from(CHECK_LABEL), CHECK_LABEL)) };
    fs.mkdirSync(profileDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(kdfFile, JSON.stringify(rec, null, 2) + '\n');
    return new PassphraseStore(profileDir, key);
  }

  /** An existing profile: derives the key with the stored parameters and checks it before use. */
  static async unlock(profileDir: string, source: PassphraseSource | undefined): Promise<PassphraseStore> {
    finishPassphraseChange(profileDir);
    const rec = readKdfRecord(profileDir);
    const passphrase = await resolvePassphrase(source);
    const key = await deriveKey(passphrase, Buffer.from(fromB64(rec.salt)), rec);
    if (!checks(key, rec)) throw wrongPassphrase('That passphrase does not unlock this profile. Check it (passphrases are case-sensitive) and try again.');
    return new PassphraseStore(profileDir, key);
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertKey(key);
    finishPassphraseChange(this.profileDir);
    const stored = this.file.read().get(key);
    if (stored === undefined) return null;
    let blob: Uint8Array;
    try {
      blob = fromB64(stored);
    } catch {
      throw new SecretStoreError('corrupt', `${this.file.file}: entry "${key}" is not base64url`);
    }
    try {
      return new Uint8Array(open(this.#key, Buffer.from(blob), entryAad(key)));
    } catch {
      // The passphrase was checked at unlock, so this entry itself was altered or moved.
      throw new SecretStoreError('decrypt-failed', `${this.file.file}: entry "${key}" does not decrypt (the file was altered); leaving it untouched.`);
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertKey(key);
    assertValue(value);
    const blob = toB64(seal(this.#key, Buffer.from(value), entryAad(key)));
    finishPassphraseChange(this.profileDir);
    this.file.update((entries) => {
      entries.set(key, blob);
      return true;
    });
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    finishPassphraseChange(this.profileDir);
    this.file.update((entries) => entries.delete(key));
  }
}

/**
 * Completes a passphrase change that was committed but not finished (the process stopped, or a
 * write failed): both files are replaced from the change file, which then goes. Nothing to do
 * without one. Idempotent, so a crash in here is finished by the next call.
 */
export function finishPassphraseChange(profileDir: string, afterStep?: (step: PassphraseChangeStep) => void): void {
  const file = path.join(profileDir, PASSPHRASE_CHANGE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  let pending: Partial<PendingChange> | undefined;
  try {
    pending = JSON.parse(text) as Partial<PendingChange>;
  } catch {
    pending = undefined;
  }
  const entries = pending?.entries;
  if (
    !pending || pending.version !== 1 || !pending.kdf || pending.kdf.version !== 1 || typeof pending.kdf.salt !== 'string' || typeof pending.kdf.check !== 'string' ||
    typeof entries !== 'object' || entries === null || !Object.values(entries).every((v) => typeof v === 'string')
  ) {
    // Written atomically, so this is damage, not an interrupted write: guessing could lose the keys.
    throw new SecretStoreError('corrupt', `${file} is not a valid passphrase change; leaving it and the secrets untouched. Sign in again as a new device if the account no longer opens.`);
  }
  writeFileAtomic(path.join(profileDir, PASSPHRASE_SECRETS_FILE), JSON.stringify({ version: 1, entries }, null, 2) + '\n');
  afterStep?.('secrets-replaced');
  writeFileAtomic(path.join(profileDir, PASSPHRASE_KDF_FILE), JSON.stringify(pending.kdf, null, 2) + '\n');
  afterStep?.('kdf-replaced');
  fs.rmSync(file, { force: true });
}

/** Whether `profileDir` has a passphrase KDF record (a passphrase profile, or a half-created one). */
export function hasPassphraseRecord(profileDir: string): boolean {
  return fs.existsSync(path.join(profileDir, PASSPHRASE_KDF_FILE));
}

/** Whether `key` opens the record's check value (the passphrase is right). */
function checks(key: Buffer, rec: KdfRecord): boolean {
  let check: Buffer;
  try {
    check = open(key, Buffer.from(fromB64(rec.check)), CHECK_LABEL);
  } catch {
    return false;
  }
  if (check.toString('utf8') !== CHECK_LABEL) throw new SecretStoreError('corrupt', `the passphrase record holds an unexpected check value.`);
  return true;
}

function wrongPassphrase(message: string): SecretStoreError {
  return new SecretStoreError('wrong-passphrase', message);
}

async function resolvePassphrase(source: PassphraseSource | undefined): Promise<string> {
  if (source === undefined) {
    throw new SecretStoreError('locked', "This profile's secrets are protected by a passphrase; enter it to unlock them.");
  }
  const p = typeof source === 'string' ? source : await source();
  if (typeof p !== 'string' || p.length === 0) throw new SecretStoreError('locked', "This profile's secrets are protected by a passphrase; enter it to unlock them.");
  if (p.length > MAX_PASSPHRASE_LENGTH) throw new SecretStoreError('invalid-argument', `A passphrase is at most ${MAX_PASSPHRASE_LENGTH} characters.`);
  return p;
}

function checkParams(x: { N: unknown; r: unknown; p: unknown }, what: string): asserts x is ScryptParams {
  const { N, r, p } = x;
  const ok =
    Number.isInteger(N) && (N as number) >= 2 ** 14 && (N as number) <= 2 ** 22 && ((N as number) & ((N as number) - 1)) === 0 &&
    Number.isInteger(r) && (r as number) >= 8 && (r as number) <= 32 &&
    Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 16 &&
    128 * (N as number) * (r as number) <= MAX_SCRYPT_MEMORY;
  if (!ok) throw new SecretStoreError(what === 'requested' ? 'invalid-argument' : 'corrupt', `${what} scrypt parameters N=${String(N)} r=${String(r)} p=${String(p)} are outside the accepted range`);
}

function readKdfRecord(profileDir: string): KdfRecord {
  const file = path.join(profileDir, PASSPHRASE_KDF_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SecretStoreError('corrupt', `${file} is missing, so this profile's secrets cannot be unlocked; sign in again as a new device.`);
    }
    throw e;
  }
  let rec: Partial<KdfRecord> | undefined;
  try {
    rec = JSON.parse(text) as Partial<KdfRecord>;
  } catch {
    rec = undefined;
  }
  if (!rec || rec.version !== 1 || rec.kdf !== 'scrypt' || typeof rec.salt !== 'string' || typeof rec.check !== 'string') {
    throw new SecretStoreError('corrupt', `${file} is not a valid passphrase record; leaving it untouched.`);
  }
  checkParams(rec as { N: unknown; r: unknown; p: unknown }, `${file}:`);
  let salt: Uint8Array;
  try {
    salt = fromB64(rec.salt);
  } catch {
    salt = new Uint8Array(0);
  }
  if (salt.length < 16) throw new SecretStoreError('corrupt', `${file} has no usable salt; leaving it untouched.`);
  return rec as KdfRecord;
}

function deriveKey(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // NFC: the same passphrase typed on another keyboard or OS (composed vs decomposed accents) unlocks.
  const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * params.p + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LEN, opts, (err, key) => {
      secret.fill(0);
      if (err) reject(new SecretStoreError('unavailable', `could not derive the key from the passphrase (${err.message}); is the machine out of memory?`));
      else resolve(key);
    });
  });
}

const entryAad = (key: string): string => `mimi secret entry v1:${key}`;

/** nonce (12) || ciphertext || tag (16) */
function seal(key: Buffer, plain: Buffer, aad: string): Buffer {
  const nonce = randomBytes(NONCE_LEN);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

function open(key: Buffer, blob: Buffer, aad: string): Buffer {
  if (blob.length < NONCE_LEN + TAG_LEN) throw new Error('too short');
  const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, NONCE_LEN), { authTagLength: TAG_LEN });
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(blob.subarray(blob.length - TAG_LEN));
  return Buffer.concat([d.update(blob.subarray(NONCE_LEN, blob.length - TAG_LEN)), d.final()]);
}
