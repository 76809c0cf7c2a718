// At-rest encryption of sensitive database columns.
//
// One random 256-bit data key per profile lives in the profile's SecretStore; the database file
// holds only sealed blobs. Each blob is AES-256-GCM with a fresh random nonce, and its AAD names
// the table and row it belongs to, so a blob copied into another row fails to open.
//
// Sealed format:  version (1 byte, = 1) || nonce (12) || ciphertext || tag (16)
// The version byte is authenticated too (it is prefixed to the AAD).

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { utf8 } from '../../src-shared/bytes.js';
import type { SecretStore } from './secret-store.js';

export const VAULT_KEY_NAME = 'db-key';
const VERSION = 1;
const KEY_LEN = 32;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 1 + NONCE_LEN;

export type VaultErrorCode = 'invalid-argument' | 'bad-key' | 'malformed' | 'unsupported-version' | 'auth-failed';

export class VaultError extends Error {
  override readonly name = 'VaultError';
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class Vault {
  readonly #key: Buffer;

  private constructor(key: Uint8Array) {
    this.#key = Buffer.from(key);
  }

  /** Loads the profile's data key, creating it on first use. */
  static async open(store: SecretStore): Promise<Vault> {
    let key = await store.get(VAULT_KEY_NAME);
    if (key === null) {
      await store.set(VAULT_KEY_NAME, randomBytes(KEY_LEN));
      // Read back rather than trust our copy: if another opener raced us, both end up on the key
      // that was actually stored.
      key = await store.get(VAULT_KEY_NAME);
      if (key === null) throw new VaultError('bad-key', `the secret store lost "${VAULT_KEY_NAME}" right after it was written`);
    }
    if (key.length !== KEY_LEN) {
      // Never replace it: data sealed under the old key would become unreadable.
      throw new VaultError('bad-key', `stored "${VAULT_KEY_NAME}" is ${key.length} bytes, expected ${KEY_LEN}; refusing to use or replace it`);
    }
    return new Vault(key);
  }

  /**
   * A 32-byte key for another purpose, derived from the data key (HKDF-SHA256, `purpose` as info):
   * it lives and dies with the data key, and reveals nothing about it.
   */
  deriveKey(purpose: string): Uint8Array {
    if (typeof purpose !== 'string' || purpose.length === 0) throw new VaultError('invalid-argument', 'purpose must be a non-empty string');
    return new Uint8Array(hkdfSync('sha256', this.#key, new Uint8Array(0), utf8(`mimi vault: ${purpose}`), KEY_LEN));
  }

  seal(plaintext: Uint8Array, aad: string): Uint8Array {
    if (!(plaintext instanceof Uint8Array)) throw new VaultError('invalid-argument', 'plaintext must be a Uint8Array');
    const aadBytes = encodeAad(aad);
    const nonce = randomBytes(NONCE_LEN);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_LEN });
    cipher.setAAD(aadBytes);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const out = new Uint8Array(HEADER_LEN + body.length + TAG_LEN);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(body, HEADER_LEN);
    out.set(cipher.getAuthTag(), HEADER_LEN + body.length);
    return out;
  }

  open(sealed: Uint8Array, aad: string): Uint8Array {
    if (!(sealed instanceof Uint8Array)) throw new VaultError('invalid-argument', 'sealed data must be a Uint8Array');
    const aadBytes = encodeAad(aad);
    if (sealed.length < HEADER_LEN + TAG_LEN) {
      throw new VaultError('malformed', `sealed data is ${sealed.length} bytes, shorter than the ${HEADER_LEN + TAG_LEN}-byte minimum`);
    }
    if (sealed[0] !== VERSION) throw new VaultError('unsupported-version', `sealed data has format version ${sealed[0]}, expected ${VERSION}`);
    const nonce = sealed.subarray(1, HEADER_LEN);
    const body = sealed.subarray(HEADER_LEN, sealed.length - TAG_LEN);
    const tag = sealed.subarray(sealed.length - TAG_LEN);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_LEN });
    decipher.setAAD(aadBytes);
    decipher.setAuthTag(tag);
    try {
      return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
    } catch {
      throw new VaultError('auth-failed', `sealed data does not authenticate for "${aad}" (wrong row, tampered bytes or another profile's key)`);
    }
  }
}

/** The AAD actually authenticated: version byte || UTF-8 of the caller's binding string. */
function encodeAad(aad: string): Uint8Array {
  if (typeof aad !== 'string' || aad === '') throw new VaultError('invalid-argument', 'aad must be a non-empty string naming the table and row');
  const text = utf8(aad);
  const out = new Uint8Array(1 + text.length);
  out[0] = VERSION;
  out.set(text, 1);
  return out;
}
