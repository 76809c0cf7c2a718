// Secrets encrypted with Electron's safeStorage, kept as blobs in a file in the profile folder.
//
// Electron is not imported here: the Electron adapter passes `electron.safeStorage` in, so this
// module (and the CLI that shares it) loads in plain Node.

import path from 'node:path';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { assertKey, assertValue, SecretFile, SecretStoreError, type SecretStore } from './secret-store.js';

/** The subset of Electron's `safeStorage` we rely on. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only in Electron; lets us refuse the 'basic_text' backend, which is not real encryption. */
  getSelectedStorageBackend?(): string;
}

export const SAFE_STORAGE_FILE = 'secrets.safe-storage.json';

/** Why `s` cannot be used, or null when it can. */
export function safeStorageUnavailableReason(s: SafeStorageLike | undefined): string | null {
  if (!s) return 'not running inside the desktop app';
  try {
    if (!s.isEncryptionAvailable()) return 'Electron reports that encryption is not available';
    const backend = s.getSelectedStorageBackend?.();
    // 'basic_text' encrypts with a key hard-coded in Chromium: no better than plaintext, and picking
    // it silently would break the "plaintext only when asked" rule.
    if (backend === 'basic_text') return "no OS password manager was found (Electron fell back to 'basic_text')";
    if (backend === 'unknown') return 'Electron has not finished starting (storage backend unknown)';
  } catch (e) {
    return `Electron safeStorage failed (${e instanceof Error ? e.message : String(e)})`;
  }
  return null;
}

export class SafeStorageStore implements SecretStore {
  readonly mode = 'safeStorage' as const;
  private readonly file: SecretFile;

  private constructor(
    profileDir: string,
    private readonly safeStorage: SafeStorageLike,
  ) {
    this.file = new SecretFile(path.join(profileDir, SAFE_STORAGE_FILE));
  }

  /** Callers check `safeStorageUnavailableReason` first; this only refuses an unusable object. */
  static open(profileDir: string, safeStorage: SafeStorageLike): SafeStorageStore {
    const reason = safeStorageUnavailableReason(safeStorage);
    if (reason !== null) throw new SecretStoreError('unavailable', `Electron safeStorage is not available: ${reason}`);
    return new SafeStorageStore(profileDir, safeStorage);
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertKey(key);
    const blob = this.file.read().get(key);
    if (blob === undefined) return null;
    let plain: string;
    try {
      plain = this.safeStorage.decryptString(Buffer.from(fromB64(blob)));
    } catch (e) {
      throw new SecretStoreError(
        'decrypt-failed',
        `could not decrypt secret "${key}" with Electron safeStorage (${e instanceof Error ? e.message : String(e)}); ` +
          'was the OS keyring reset or the profile copied from another machine?',
      );
    }
    try {
      return fromB64(plain);
    } catch {
      throw new SecretStoreError('corrupt', `secret "${key}" decrypted to something that is not base64url`);
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertKey(key);
    assertValue(value);
    // safeStorage encrypts strings, so the bytes travel as base64url inside the ciphertext.
    const blob = toB64(new Uint8Array(this.safeStorage.encryptString(toB64(value))));
    this.file.update((entries) => {
      entries.set(key, blob);
      return true;
    });
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    this.file.update((entries) => entries.delete(key));
  }
}
