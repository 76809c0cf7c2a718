// Secrets in a plain 0600 file in the profile folder. Never chosen implicitly: only tests, the
// CLI flag `--secrets plaintext` or MIMI_SECRETS=plaintext select it (see openSecretStore).

import path from 'node:path';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { assertKey, assertValue, SecretFile, SecretStoreError, type SecretStore } from './secret-store.js';

export const PLAINTEXT_FILE = 'secrets.plaintext.json';

export class PlaintextStore implements SecretStore {
  readonly mode = 'plaintext' as const;
  private readonly file: SecretFile;

  private constructor(profileDir: string) {
    this.file = new SecretFile(path.join(profileDir, PLAINTEXT_FILE));
  }

  static open(profileDir: string): PlaintextStore {
    return new PlaintextStore(profileDir);
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertKey(key);
    const stored = this.file.read().get(key);
    if (stored === undefined) return null;
    try {
      return fromB64(stored);
    } catch {
      throw new SecretStoreError('corrupt', `${this.file.file}: entry "${key}" is not base64url`);
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertKey(key);
    assertValue(value);
    this.file.update((entries) => {
      entries.set(key, toB64(value));
      return true;
    });
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    this.file.update((entries) => entries.delete(key));
  }
}
