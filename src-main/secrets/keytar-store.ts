// Secrets in the OS keychain through keytar (libsecret / Secret Service on Linux).
//
// keytar is an optional native dependency, so it is imported lazily: a missing module, a missing
// Secret Service or a locked keyring all surface as "unavailable" with the reason, never as a crash
// at import time.

import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { assertKey, assertNamespace, assertValue, SecretStoreError, type SecretStore } from './secret-store.js';

export const KEYCHAIN_SERVICE = 'mimi-desktop';

/** The part of keytar's API we use. */
interface Keytar {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
}

/** A locked keyring may wait on an unlock prompt; past this we report it rather than hang. */
const DEFAULT_PROBE_TIMEOUT_MS = 60_000;

/** Reserved: user keys are printable ASCII without spaces, so this account suffix never clashes. */
const PROBE_KEY = ' probe';

/** `missing`: keytar (a native module) is not installed or does not load; `refused`: no keyring answered or accepted an entry. */
export type KeychainProbe = { ok: true; store: KeytarStore } | { ok: false; trouble: 'missing' | 'refused'; reason: string };

export class KeytarStore implements SecretStore {
  readonly mode = 'keychain' as const;

  private constructor(
    private readonly keytar: Keytar,
    readonly namespace: string,
  ) {}

  /**
   * Opens the keychain for `namespace` after proving it works (write, read back, delete a probe
   * entry): a reachable Secret Service with no usable collection only fails on write.
   */
  static async tryOpen(namespace: string, opts: { probeTimeoutMs?: number } = {}): Promise<KeychainProbe> {
    assertNamespace(namespace);
    let keytar: Keytar;
    try {
      const mod = (await import('keytar')) as Keytar & { default?: Keytar };
      keytar = mod.default ?? mod;
    } catch (e) {
      return { ok: false, trouble: 'missing', reason: `the keytar module could not be loaded (${errText(e)})` };
    }
    const store = new KeytarStore(keytar, namespace);
    const account = store.account(PROBE_KEY);
    const token = `probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    try {
      await withTimeout(
        (async () => {
          await keytar.setPassword(KEYCHAIN_SERVICE, account, token);
          const back = await keytar.getPassword(KEYCHAIN_SERVICE, account);
          await keytar.deletePassword(KEYCHAIN_SERVICE, account);
          if (back !== token) throw new Error('a probe entry written to the keychain did not read back');
        })(),
        opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      );
    } catch (e) {
      return { ok: false, trouble: 'refused', reason: `the Secret Service did not accept a test entry (${errText(e)})` };
    }
    return { ok: true, store };
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertKey(key);
    const stored = await this.call(() => this.keytar.getPassword(KEYCHAIN_SERVICE, this.account(key)));
    if (stored === null) return null;
    try {
      return fromB64(stored);
    } catch {
      throw new SecretStoreError('corrupt', `keychain entry ${KEYCHAIN_SERVICE} / ${this.account(key)} is not base64url`);
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertKey(key);
    assertValue(value);
    await this.call(() => this.keytar.setPassword(KEYCHAIN_SERVICE, this.account(key), toB64(value)));
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    await this.call(() => this.keytar.deletePassword(KEYCHAIN_SERVICE, this.account(key)));
  }

  /** The namespace is percent-encoded so it never contains '/', keeping `<namespace>/<key>` unambiguous. */
  private account(key: string): string {
    return `${encodeURIComponent(this.namespace)}/${key}`;
  }

  /** The keyring can go away (locked, daemon stopped) after open; say so in our own terms. */
  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new SecretStoreError(
        'unavailable',
        `the OS keychain failed (${errText(e)}). Unlock your keyring or make sure a Secret Service provider ` +
          '(GNOME Keyring, KWallet) is running, then try again.',
      );
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms; is the keyring locked and waiting for an unlock prompt?`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
