// DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 4.1) in pure JS on @noble/curves + @noble/hashes.
//
// Electron's WebCrypto (BoringSSL) has no X25519, so every HPKE operation the project does with
// X25519 goes through here: the MLS engine's @hpke/core suite (as `NobleX25519Kem`) and the
// standalone EncryptWithLabel in mls-crypto.ts (as the `encap` / `decap` functions).

import { KemId } from '@hpke/core';
import { x25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes as concat, utf8 } from './bytes.js';

export const KEM_ID = KemId.DhkemX25519HkdfSha256; // 0x0020
const KEM_SUITE_ID = new Uint8Array([0x4b, 0x45, 0x4d, KEM_ID >> 8, KEM_ID & 0xff]); // "KEM" || I2OSP(kem_id, 2)
const HPKE_V1 = utf8('HPKE-v1');
/** Nsecret = Nenc = Npk = Nsk for X25519. */
export const X25519_KEY_SIZE = 32;
const N = X25519_KEY_SIZE;

function labeledExtract(label: string, ikm: Uint8Array): Uint8Array {
  // RFC 9180 5.1: LabeledExtract(salt = "", label, ikm)
  return extract(sha256, concat(HPKE_V1, KEM_SUITE_ID, utf8(label), ikm), new Uint8Array());
}

function labeledExpand(prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  const lengthPrefix = new Uint8Array([length >> 8, length & 0xff]);
  return expand(sha256, prk, concat(lengthPrefix, HPKE_V1, KEM_SUITE_ID, utf8(label), info), length);
}

function extractAndExpand(dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
  return labeledExpand(labeledExtract('eae_prk', dh), 'shared_secret', kemContext, N);
}

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== N) {
    throw new Error(`X25519 ${what} must be ${N} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
  }
}

/** RFC 9180 7.1.3 for X25519: the expanded bytes are the private key as-is. */
export function deriveKeyPair(ikm: Uint8Array): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const sk = labeledExpand(labeledExtract('dkp_prk', ikm), 'sk', new Uint8Array(), N);
  return { privateKey: sk, publicKey: x25519.getPublicKey(sk) };
}

export function generateKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const sk = x25519.utils.randomSecretKey();
  return { privateKey: sk, publicKey: x25519.getPublicKey(sk) };
}

/**
 * Encap(pkR): a fresh ephemeral key (or `skE`, only for known-answer tests); throws on a
 * small-order recipient key (all-zero DH).
 */
export function encap(pkR: Uint8Array, skE: Uint8Array = x25519.utils.randomSecretKey()): { sharedSecret: Uint8Array; enc: Uint8Array } {
  checkKey(pkR, 'public key');
  const enc = x25519.getPublicKey(skE);
  const dh = x25519.getSharedSecret(skE, pkR);
  return { sharedSecret: extractAndExpand(dh, concat(enc, pkR)), enc };
}

/** Decap(enc, skR). */
export function decap(enc: Uint8Array, skR: Uint8Array): Uint8Array {
  checkKey(enc, 'encapsulated key');
  checkKey(skR, 'private key');
  const dh = x25519.getSharedSecret(skR, enc);
  return extractAndExpand(dh, concat(enc, x25519.getPublicKey(skR)));
}

// ---------------------------------------------------------------------------------------------
// The same KEM shaped as an @hpke/core KEM, for ts-mls's HPKE suite.

/** Stands in for a CryptoKey: @hpke/core and ts-mls only pass keys back to the KEM that made them. */
class RawX25519Key {
  readonly algorithm = { name: 'X25519' };
  readonly extractable = true;
  readonly usages: KeyUsage[];
  constructor(
    readonly type: 'public' | 'private',
    readonly raw: Uint8Array,
  ) {
    if (raw.length !== N) throw new Error(`X25519 ${type} key must be ${N} bytes, got ${raw.length}`);
    this.usages = type === 'private' ? ['deriveBits'] : [];
  }
}

function asRaw(key: unknown, type: 'public' | 'private'): Uint8Array {
  const k = key instanceof RawX25519Key ? key : (key as { privateKey?: unknown })?.privateKey;
  if (k instanceof RawX25519Key && k.type === type) return k.raw;
  throw new Error(`expected an X25519 ${type} key made by this KEM`);
}

function cryptoKey(type: 'public' | 'private', raw: Uint8Array): CryptoKey {
  return new RawX25519Key(type, raw) as unknown as CryptoKey;
}

function keyPair(sk: Uint8Array): CryptoKeyPair {
  return { privateKey: cryptoKey('private', sk), publicKey: cryptoKey('public', x25519.getPublicKey(sk)) };
}

function bytesOf(b: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice() : new Uint8Array(b).slice();
}

function buffer(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer as ArrayBuffer;
}

export class NobleX25519Kem {
  readonly id = KEM_ID;
  readonly secretSize = N;
  readonly encSize = N;
  readonly publicKeySize = N;
  readonly privateKeySize = N;

  async serializePublicKey(key: CryptoKey): Promise<ArrayBuffer> {
    return buffer(asRaw(key, 'public'));
  }
  async deserializePublicKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    return cryptoKey('public', bytesOf(key));
  }
  async serializePrivateKey(key: CryptoKey): Promise<ArrayBuffer> {
    return buffer(asRaw(key, 'private'));
  }
  async deserializePrivateKey(key: ArrayBufferLike | ArrayBufferView): Promise<CryptoKey> {
    return cryptoKey('private', bytesOf(key));
  }
  async importKey(format: 'raw' | 'jwk', key: ArrayBuffer | JsonWebKey, isPublic = true): Promise<CryptoKey> {
    if (format !== 'raw' || !(key instanceof ArrayBuffer)) throw new Error('only raw X25519 keys are supported');
    return cryptoKey(isPublic ? 'public' : 'private', bytesOf(key));
  }
  async generateKeyPair(): Promise<CryptoKeyPair> {
    return keyPair(x25519.utils.randomSecretKey());
  }
  async deriveKeyPair(ikm: ArrayBufferLike | ArrayBufferView): Promise<CryptoKeyPair> {
    return keyPair(deriveKeyPair(bytesOf(ikm)).privateKey);
  }
  async encap(params: { recipientPublicKey: CryptoKey; ekm?: unknown }): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    // `ekm` (a key pair of this KEM) fixes the ephemeral key: published examples need it.
    const skE = params.ekm === undefined ? undefined : asRaw(params.ekm, 'private');
    const { sharedSecret, enc } = encap(asRaw(params.recipientPublicKey, 'public'), skE);
    return { sharedSecret: buffer(sharedSecret), enc: buffer(enc) };
  }
  async decap(params: { recipientKey: CryptoKey | CryptoKeyPair; enc: ArrayBufferLike | ArrayBufferView }): Promise<ArrayBuffer> {
    return buffer(decap(bytesOf(params.enc), asRaw(params.recipientKey, 'private')));
  }
}
