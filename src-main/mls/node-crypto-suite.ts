// Ciphersuite 0x0001 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519) on synchronous node:crypto.
//
// Why: profiling the engine on ts-mls's WebCrypto provider showed a third of a large commit spent
// with the thread idle while WebCrypto jobs queued on the thread pool, and ~170 ms in key imports
// (WebCrypto re-imports a key for every call). The same primitives called synchronously take
// tens of microseconds. So everything here is a direct node:crypto call, and the KeyObjects of
// keys used more than once (own signature key, leaf and path HPKE keys, members' public keys)
// are cached by their bytes.
//
// HPKE (RFC 9180, base mode, single shot as MLS uses it) is written out on these primitives:
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM. Key formats are the other providers'
// (raw 32-byte X25519 keys, 32-byte Ed25519 seeds, PKCS#8 accepted), so state written by one
// provider restores with another. Correctness: the RFC 9420 test vectors and RFC 9180's own
// (test/unit/mls-vectors.test.ts), for every provider the engine can select.

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  sign as edSign,
  timingSafeEqual,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import type { CiphersuiteImpl, PrivateKey, PublicKey } from 'ts-mls';
import { CryptoError } from 'ts-mls/mlsError.js';
import { concatBytes, utf8 } from '../../src-shared/bytes.js';
import { ed25519Seed, SUITE_NAME } from './crypto-selftest.js';

// RFC 8410 DER prefixes around a raw 32-byte key.
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

/** A bounded map: keys seen again hit, a flood of one-off keys cannot grow memory without end. */
class KeyCache {
  private readonly map = new Map<string, KeyObject>();
  constructor(private readonly max: number) {}
  get(raw: Uint8Array, make: () => KeyObject): KeyObject {
    const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
    let k = this.map.get(id);
    if (k) {
      // Refresh its place so often-used keys stay.
      this.map.delete(id);
      this.map.set(id, k);
      return k;
    }
    k = make();
    this.map.set(id, k);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return k;
  }
}

const edPrivate = new KeyCache(256);
const edPublic = new KeyCache(4096);
const xPrivate = new KeyCache(1024);
const xPublic = new KeyCache(4096);

function edPrivateKey(seed: Uint8Array): KeyObject {
  return edPrivate.get(seed, () => createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' }));
}
function edPublicKey(raw: Uint8Array): KeyObject {
  return edPublic.get(raw, () => createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' }));
}
function xPrivateKey(raw: Uint8Array): KeyObject {
  return xPrivate.get(raw, () => createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: 'der', type: 'pkcs8' }));
}
function xPublicKey(raw: Uint8Array): KeyObject {
  return xPublic.get(raw, () => createPublicKey({ key: Buffer.concat([X25519_SPKI, raw]), format: 'der', type: 'spki' }));
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

// ---- hash, HMAC, HKDF ----

function sha256(data: Uint8Array): Uint8Array {
  return u8(createHash('sha256').update(data).digest());
}
function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return u8(createHmac('sha256', key).update(data).digest());
}
function extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // RFC 5869: an empty salt is HashLen zero bytes.
  return hmac(salt.length ? salt : new Uint8Array(32), ikm);
}
function expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * 32) throw new CryptoError('HKDF-Expand length too large');
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 1, done = 0; done < length; i++) {
    prev = u8(createHmac('sha256', prk).update(prev).update(info).update(new Uint8Array([i])).digest());
    out.set(prev.subarray(0, Math.min(32, length - done)), done);
    done += 32;
  }
  return out;
}

// ---- AES-128-GCM ----

function aeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-gcm', key, nonce);
  c.setAAD(aad);
  return u8(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
}
function aeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.length < 16) throw new CryptoError('AEAD ciphertext shorter than its tag');
  try {
    const d = createDecipheriv('aes-128-gcm', key, nonce);
    d.setAAD(aad);
    d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    return u8(Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]));
  } catch {
    throw new CryptoError('AEAD authentication failed');
  }
}

// ---- HPKE, RFC 9180 base mode ----

const KEM_SUITE = concatBytes(utf8('KEM'), new Uint8Array([0x00, 0x20]));
const HPKE_SUITE = concatBytes(utf8('HPKE'), new Uint8Array([0x00, 0x20, 0x00, 0x01, 0x00, 0x01]));
const HPKE_V1 = utf8('HPKE-v1');

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(salt, concatBytes(HPKE_V1, suite, utf8(label), ikm));
}
function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  return expand(prk, concatBytes(new Uint8Array([length >> 8, length & 0xff]), HPKE_V1, suite, utf8(label), info), length);
}

/** Our key handles: the raw bytes, the KeyObject made once. ts-mls treats them as opaque. */
interface XKey {
  type: 'private' | 'public';
  raw: Uint8Array;
}
const asPrivate = (raw: Uint8Array) => ({ type: 'private', raw }) as XKey as unknown as PrivateKey;
const asPublic = (raw: Uint8Array) => ({ type: 'public', raw }) as XKey as unknown as PublicKey;
function rawOf(k: PrivateKey | PublicKey, type: XKey['type']): Uint8Array {
  const x = k as unknown as XKey;
  if (!x || x.type !== type || !(x.raw instanceof Uint8Array)) throw new CryptoError(`not an X25519 ${type} key of this provider`);
  return x.raw;
}

function x25519Public(priv: Uint8Array): Uint8Array {
  const spki = createPublicKey(xPrivateKey(priv)).export({ format: 'der', type: 'spki' });
  return u8(spki.subarray(spki.length - 32));
}

function dh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = u8(diffieHellman({ privateKey: xPrivateKey(priv), publicKey: xPublicKey(pub) }));
  } catch (e) {
    throw new CryptoError(`X25519 failed: ${(e as Error).message}`);
  }
  // RFC 7748 §6.1: an all-zero result means a low-order point; RFC 9180 says abort.
  if (shared.every((b) => b === 0)) throw new CryptoError('X25519 produced the all-zero value');
  return shared;
}

function generateX25519(): { priv: Uint8Array; pub: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { priv: u8(pkcs8.subarray(pkcs8.length - 32)), pub: u8(spki.subarray(spki.length - 32)) };
}

function sharedSecret(dhValue: Uint8Array, enc: Uint8Array, pkR: Uint8Array): Uint8Array {
  const eaePrk = labeledExtract(KEM_SUITE, new Uint8Array(), 'eae_prk', dhValue);
  return labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', concatBytes(enc, pkR), 32);
}

interface HpkeContext {
  key: Uint8Array;
  nonce: Uint8Array;
  exporter: Uint8Array;
}

function keySchedule(shared: Uint8Array, info: Uint8Array): HpkeContext {
  const empty = new Uint8Array();
  const pskIdHash = labeledExtract(HPKE_SUITE, empty, 'psk_id_hash', empty);
  const infoHash = labeledExtract(HPKE_SUITE, empty, 'info_hash', info);
  const context = concatBytes(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = labeledExtract(HPKE_SUITE, shared, 'secret', empty);
  return {
    key: labeledExpand(HPKE_SUITE, secret, 'key', context, 16),
    nonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12),
    exporter: labeledExpand(HPKE_SUITE, secret, 'exp', context, 32),
  };
}

function setupSender(pkR: Uint8Array, info: Uint8Array, ephemeral = generateX25519()): { enc: Uint8Array; ctx: HpkeContext } {
  const enc = ephemeral.pub;
  return { enc, ctx: keySchedule(sharedSecret(dh(ephemeral.priv, pkR), enc, pkR), info) };
}

function setupReceiver(skR: Uint8Array, enc: Uint8Array, info: Uint8Array): HpkeContext {
  if (enc.length !== 32) throw new CryptoError('HPKE enc must be 32 bytes');
  return keySchedule(sharedSecret(dh(skR, enc), enc, x25519Public(skR)), info);
}

const exportFrom = (ctx: HpkeContext, exporterContext: Uint8Array, length: number) => labeledExpand(HPKE_SUITE, ctx.exporter, 'sec', exporterContext, length);

/** For tests against RFC 9180's vectors: a sender context from a given ephemeral key. */
export function hpkeSealWithEphemeral(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, pt: Uint8Array, skE: Uint8Array): { enc: Uint8Array; ct: Uint8Array; exporter: Uint8Array } {
  const { enc, ctx } = setupSender(pkR, info, { priv: skE, pub: x25519Public(skE) });
  return { enc, ct: aeadSeal(ctx.key, ctx.nonce, aad, pt), exporter: ctx.exporter };
}

// ---- the CiphersuiteImpl ----

export function nodeCiphersuite(): CiphersuiteImpl {
  return {
    name: SUITE_NAME,
    rng: { randomBytes: (n: number) => u8(randomBytes(n)) },
    hash: {
      async digest(data) {
        return sha256(data);
      },
      async mac(key, data) {
        return hmac(key, data);
      },
      async verifyMac(key, mac, data) {
        const want = hmac(key, data);
        return mac.length === want.length && timingSafeEqual(mac, want);
      },
    },
    kdf: {
      async extract(salt, ikm) {
        return extract(salt, ikm);
      },
      async expand(prk, info, len) {
        return expand(prk, info, len);
      },
      size: 32,
    },
    signature: {
      async sign(signKey, message) {
        return u8(edSign(null, message, edPrivateKey(ed25519Seed(signKey))));
      },
      async verify(publicKey, message, signature) {
        if (publicKey.length !== 32 || signature.length !== 64) return false;
        try {
          return edVerify(null, message, edPublicKey(publicKey), signature);
        } catch {
          return false;
        }
      },
      async keygen() {
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
        const spki = publicKey.export({ format: 'der', type: 'spki' });
        return { signKey: u8(pkcs8.subarray(pkcs8.length - 32)), publicKey: u8(spki.subarray(spki.length - 32)) };
      },
    },
    hpke: {
      async seal(publicKey, plaintext, info, aad) {
        const { enc, ctx } = setupSender(rawOf(publicKey, 'public'), info);
        return { enc, ct: aeadSeal(ctx.key, ctx.nonce, aad ?? new Uint8Array(), plaintext) };
      },
      async open(privateKey, kemOutput, ciphertext, info, aad) {
        const ctx = setupReceiver(rawOf(privateKey, 'private'), kemOutput, info);
        return aeadOpen(ctx.key, ctx.nonce, aad ?? new Uint8Array(), ciphertext);
      },
      async exportSecret(publicKey, exporterContext, length, info) {
        const { enc, ctx } = setupSender(rawOf(publicKey, 'public'), info);
        return { enc, secret: exportFrom(ctx, exporterContext, length) };
      },
      async importSecret(privateKey, exporterContext, kemOutput, length, info) {
        return exportFrom(setupReceiver(rawOf(privateKey, 'private'), kemOutput, info), exporterContext, length);
      },
      async importPrivateKey(k) {
        if (k.length !== 32) throw new CryptoError(`an X25519 private key is 32 bytes, got ${k.length}`);
        return asPrivate(k.slice());
      },
      async importPublicKey(k) {
        if (k.length !== 32) throw new CryptoError(`an X25519 public key is 32 bytes, got ${k.length}`);
        return asPublic(k.slice());
      },
      async exportPublicKey(k) {
        return rawOf(k, 'public').slice();
      },
      async exportPrivateKey(k) {
        return rawOf(k, 'private').slice();
      },
      async encryptAead(key, nonce, aad, plaintext) {
        return aeadSeal(key, nonce, aad ?? new Uint8Array(), plaintext);
      },
      async decryptAead(key, nonce, aad, ciphertext) {
        return aeadOpen(key, nonce, aad ?? new Uint8Array(), ciphertext);
      },
      async deriveKeyPair(ikm) {
        const prk = labeledExtract(KEM_SUITE, new Uint8Array(), 'dkp_prk', ikm);
        const priv = labeledExpand(KEM_SUITE, prk, 'sk', new Uint8Array(), 32);
        return { privateKey: asPrivate(priv), publicKey: asPublic(x25519Public(priv)) };
      },
      async generateKeyPair() {
        const { priv, pub } = generateX25519();
        return { privateKey: asPrivate(priv), publicKey: asPublic(pub) };
      },
      keyLength: 16,
      nonceLength: 12,
    },
  };
}

