// Ciphersuite 0x0001 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519) on synchronous node:crypto.
//
// Why: profiling the engine on ts-mls's WebCrypto provider showed a third of a large commit spent
// with the thread idle while WebCrypto jobs queued on the thread pool, and ~170 ms in key imports
// (WebCrypto re-imports a key for every call). The same primitives called synchronously take
// tens of microseconds. So everything here is a direct node:crypto call, and the KeyObjects of
// keys used more than once (own signature key, leaf and path HPKE keys, members' public keys)
// are cached by their bytes. Keys cross into OpenSSL as JWK, not DER (10-40x cheaper, see below),
// and Ed25519 verification runs on the thread pool (verifyOffThread). The event loop is kept free
// between calls by cooperative.ts, which crypto-selftest.ts wraps around this suite.
//
// HPKE (RFC 9180, base mode, single shot as MLS uses it) is written out on these primitives:
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM. Key formats are the other providers'
// (raw 32-byte X25519 keys, 32-byte Ed25519 seeds, PKCS#8 accepted), so state written by one
// provider restores with another. Correctness: the RFC 9420 test vectors for every provider the
// engine can select (test/unit/mls-vectors-*.test.ts), and seals compared byte for byte with
// @hpke/core's for a given ephemeral key (test/unit/mls-keygen.test.ts).

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  randomBytes,
  randomFillSync,
  sign as edSign,
  timingSafeEqual,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import type { CiphersuiteImpl, PrivateKey, PublicKey } from 'ts-mls';
import { CryptoError } from 'ts-mls/mlsError.js';
import { concatBytes, utf8 } from '../../src-shared/bytes.js';
import { ed25519Seed, SUITE_NAME } from './crypto-selftest.js';

// Keys go in and out of OpenSSL as JWK, never as DER: on Node 20 (OpenSSL 3) importing a PKCS#8
// X25519 key costs ~400 us and an SPKI Ed25519 key ~200 us (the generic OSSL_DECODER path), a JWK
// ~10-40 us (EVP_PKEY_new_raw_*). Exporting is ~50-75 us as DER, 1-2 us as JWK. With one HPKE
// seal per added member, the DER imports were half of a 1,000-member commit (CPU profile).
const b64u = (raw: Uint8Array) => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');
const fromB64u = (s: string | undefined): Uint8Array => {
  if (typeof s !== 'string') throw new CryptoError('key export without raw key material');
  return u8(Buffer.from(s, 'base64url'));
};

/** A bounded map: keys seen again hit, a flood of one-off keys cannot grow memory without end. */
class KeyCache {
  private readonly map = new Map<string, KeyObject>();
  constructor(private readonly max: number) {}
  get(raw: Uint8Array, make: (id: string) => KeyObject): KeyObject {
    const id = b64u(raw);
    let k = this.map.get(id);
    if (k) {
      // Refresh its place so often-used keys stay.
      this.map.delete(id);
      this.map.set(id, k);
      return k;
    }
    k = make(id);
    this.map.set(id, k);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return k;
  }
}

const edPrivate = new KeyCache(256);
const edPublic = new KeyCache(4096);
const xPrivate = new KeyCache(1024);
const xPublic = new KeyCache(4096);

// Node's JWK import of an OKP private key reads only `d` (the public half is derived), but insists
// that `x` be a string.
function edPrivateKey(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new CryptoError(`an Ed25519 seed is 32 bytes, got ${seed.length}`);
  return edPrivate.get(seed, (d) => createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: '' }, format: 'jwk' }));
}
function edPublicKey(raw: Uint8Array): KeyObject {
  return edPublic.get(raw, (x) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }));
}
function xPrivateKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new CryptoError(`an X25519 private key is 32 bytes, got ${raw.length}`);
  return xPrivate.get(raw, (d) => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' }));
}
function xPublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new CryptoError(`an X25519 public key is 32 bytes, got ${raw.length}`);
  return xPublic.get(raw, (x) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }));
}
const rawPublic = (k: KeyObject) => fromB64u(k.export({ format: 'jwk' }).x);

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
const COUNTER_1 = new Uint8Array([1]);

function expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * 32) throw new CryptoError('HKDF-Expand length too large');
  // One block (every expand of a message: keys, nonces, secrets) is T(1) = HMAC(PRK, info | 0x01):
  // no empty T(0) to hash, no copy into a second buffer. Ten of these per encrypt + decrypt pair.
  if (length <= 32) {
    const t1 = u8(createHmac('sha256', prk).update(info).update(COUNTER_1).digest());
    return length === 32 ? t1 : t1.slice(0, length);
  }
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

/**
 * Our key handles: the raw bytes, plus the KeyObject when we made the key (generated or derived), so
 * a fresh key is not imported again for its first use. ts-mls treats them as opaque.
 */
interface XKey {
  type: 'private' | 'public';
  raw: Uint8Array;
  obj?: KeyObject;
}
const asPrivate = (raw: Uint8Array, obj?: KeyObject) => ({ type: 'private', raw, obj }) as XKey as unknown as PrivateKey;
const asPublic = (raw: Uint8Array) => ({ type: 'public', raw }) as XKey as unknown as PublicKey;
function xKeyOf(k: PrivateKey | PublicKey, type: XKey['type']): XKey {
  const x = k as unknown as XKey;
  if (!x || x.type !== type || !(x.raw instanceof Uint8Array)) throw new CryptoError(`not an X25519 ${type} key of this provider`);
  return x;
}
const rawOf = (k: PrivateKey | PublicKey, type: XKey['type']) => xKeyOf(k, type).raw;
const privateObjOf = (k: PrivateKey) => {
  const x = xKeyOf(k, 'private');
  return x.obj ?? xPrivateKey(x.raw);
};

/** Public halves of private KeyObjects, so a receiver's own public key is derived once. */
const publicOfPrivate = new WeakMap<KeyObject, Uint8Array>();
function x25519Public(priv: KeyObject): Uint8Array {
  let pub = publicOfPrivate.get(priv);
  if (!pub) publicOfPrivate.set(priv, (pub = rawPublic(createPublicKey(priv))));
  return pub;
}

function dh(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = u8(diffieHellman({ privateKey, publicKey }));
  } catch (e) {
    throw new CryptoError(`X25519 failed: ${(e as Error).message}`);
  }
  // RFC 7748 §6.1: an all-zero result means a low-order point; RFC 9180 says abort.
  if (shared.every((b) => b === 0)) throw new CryptoError('X25519 produced the all-zero value');
  return shared;
}

/** A one-off public key (an HPKE enc): not worth a cache slot. */
function xPublicOnce(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new CryptoError('HPKE enc must be 32 bytes');
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' });
  } catch (e) {
    throw new CryptoError(`bad X25519 public key: ${(e as Error).message}`);
  }
}

interface Ephemeral {
  priv: KeyObject;
  pub: Uint8Array;
}

// Keys are made from random bytes and imported, never with generateKeyPair(Sync): Node 20 can
// deadlock when the garbage collector destroys a key-generation job while a key it made is being
// exported (the export holds the key's mutex while it allocates; the collection runs inside that
// allocation and the job's destructor waits for the same mutex). The test suite caught `mimi
// register` hung so: ExportJWKEdKey -> GC -> ~KeyGenJob -> pthread_mutex_lock. An import makes no
// job. Any 32 bytes are an X25519 private key (RFC 7748 clamps them at use) and an Ed25519 seed
// (RFC 8032), so nothing is lost; it costs about what generation did (~40 µs), on this thread.

// Random bytes for HPKE ephemeral keys, drawn from the CSPRNG 1 KiB at a time: a randomBytes call
// per Welcome seal was ~4% of a 100-member add (CPU profile), mostly the call's own overhead. Each
// 32 bytes are handed out once and wiped from the pool as they go.
const RANDOM_POOL = Buffer.alloc(1024);
let randomAt = RANDOM_POOL.length;
function random32(): Buffer {
  if (randomAt + 32 > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomAt = 0;
  }
  const out = Buffer.from(RANDOM_POOL.subarray(randomAt, randomAt + 32));
  RANDOM_POOL.fill(0, randomAt, randomAt + 32);
  randomAt += 32;
  return out;
}

/** A fresh X25519 key pair: the private key object and the raw public key. */
function generateX25519(): Ephemeral {
  const seed = random32();
  const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: seed.toString('base64url'), x: '' }, format: 'jwk' });
  seed.fill(0);
  return { priv, pub: rawPublic(createPublicKey(priv)) };
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

// RFC 9180 base mode has no PSK: psk_id_hash is a constant of the suite.
const PSK_ID_HASH = labeledExtract(HPKE_SUITE, new Uint8Array(), 'psk_id_hash', new Uint8Array());

// A Welcome seals the same info (its encrypted GroupInfo, ~1 KB and more) once per added member:
// the last info's hash is kept, so it is hashed once per Welcome rather than per seal.
let lastInfo: Buffer | undefined;
let lastInfoHash: Uint8Array | undefined;
function infoHashOf(info: Uint8Array): Uint8Array {
  const b = Buffer.from(info.buffer, info.byteOffset, info.byteLength);
  if (lastInfo !== undefined && lastInfoHash !== undefined && lastInfo.equals(b)) return lastInfoHash;
  const h = labeledExtract(HPKE_SUITE, new Uint8Array(), 'info_hash', info);
  lastInfo = Buffer.from(b);
  lastInfoHash = h;
  return h;
}

/** `exporter`: also the exporter secret (only exportSecret/importSecret use it; a seal does not). */
function keySchedule(shared: Uint8Array, info: Uint8Array, exporter = true): HpkeContext {
  const context = concatBytes(new Uint8Array([0]), PSK_ID_HASH, infoHashOf(info));
  const secret = labeledExtract(HPKE_SUITE, shared, 'secret', new Uint8Array());
  return {
    key: labeledExpand(HPKE_SUITE, secret, 'key', context, 16),
    nonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, 12),
    exporter: exporter ? labeledExpand(HPKE_SUITE, secret, 'exp', context, 32) : new Uint8Array(),
  };
}

function setupSender(pkR: Uint8Array, info: Uint8Array, ephemeral: Ephemeral = generateX25519(), exporter = true): { enc: Uint8Array; ctx: HpkeContext } {
  const enc = ephemeral.pub;
  return { enc, ctx: keySchedule(sharedSecret(dh(ephemeral.priv, xPublicKey(pkR)), enc, pkR), info, exporter) };
}

function setupReceiver(skR: KeyObject, enc: Uint8Array, info: Uint8Array): HpkeContext {
  return keySchedule(sharedSecret(dh(skR, xPublicOnce(enc)), enc, x25519Public(skR)), info);
}

const exportFrom = (ctx: HpkeContext, exporterContext: Uint8Array, length: number) => labeledExpand(HPKE_SUITE, ctx.exporter, 'sec', exporterContext, length);

/** For tests against another HPKE implementation: a seal from a given ephemeral key. */
export function hpkeSealWithEphemeral(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, pt: Uint8Array, skE: Uint8Array): { enc: Uint8Array; ct: Uint8Array; exporter: Uint8Array } {
  const priv = xPrivateKey(skE);
  const { enc, ctx } = setupSender(pkR, info, { priv, pub: x25519Public(priv) });
  return { enc, ct: aeadSeal(ctx.key, ctx.nonce, aad, pt), exporter: ctx.exporter };
}

/**
 * Ed25519 verification on libuv's thread pool (node:crypto's callback form). Verifying is the
 * largest share of a big commit on both sides (two signatures per added KeyPackage, ~140 us each
 * here); ts-mls starts those checks side by side (Promise.all), so off the thread they run in
 * parallel on every core and leave the event loop free meanwhile. Signing stays synchronous: it
 * comes one at a time.
 */
function verifyOffThread(message: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  return onPool((resolve) => {
    try {
      edVerify(null, message, key, signature, (err, ok) => resolve(err === null && ok));
    } catch {
      resolve(false);
    }
  });
}

/**
 * An application message's one signature check runs here, synchronously. Why: sent to the thread
 * pool (~100 us of work), it left the event loop idle for the whole hop there and back: ~40% of
 * the time of an encrypt + decrypt pair (CPU profile of the message bench), and part of every
 * received message's latency. Only inside verifyingInPlace (the engine's processing of an
 * application message), and only a verification started alone: "alone" is decided one microtask
 * later, when callers side by side have all asked. Commits keep the pool, where their many checks
 * (started together, or one after another by chains that ts-mls runs side by side) run in parallel
 * on every core. A check started by other work while a message is processed may run here too: the
 * same answer, only not in parallel.
 */
interface VerifyJob {
  message: Uint8Array;
  key: KeyObject;
  signature: Uint8Array;
  resolve: (ok: boolean) => void;
}
let verifyBatch: VerifyJob[] = [];
let inPlaceDepth = 0;
let syncVerifies = 0;

/** Runs `work` (processing one application message) with its lone signature check done in place. */
export async function verifyingInPlace<T>(work: () => Promise<T>): Promise<T> {
  inPlaceDepth++;
  try {
    return await work();
  } finally {
    inPlaceDepth--;
  }
}

function verifySoon(message: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  if (inPlaceDepth === 0) return verifyOffThread(message, key, signature);
  return new Promise<boolean>((resolve) => {
    verifyBatch.push({ message, key, signature, resolve });
    if (verifyBatch.length === 1) queueMicrotask(startVerifies);
  });
}

function startVerifies(): void {
  const jobs = verifyBatch;
  verifyBatch = [];
  if (jobs.length === 1) {
    const [j] = jobs;
    syncVerifies++;
    let ok = false;
    try {
      ok = edVerify(null, j.message, j.key, j.signature);
    } catch {
      ok = false;
    }
    j.resolve(ok);
    return;
  }
  for (const j of jobs) void verifyOffThread(j.message, j.key, j.signature).then(j.resolve);
}

/** Verifications run synchronously so far (a lone one each; for tests). */
export function syncVerifyCount(): number {
  return syncVerifies;
}

/**
 * At most this many of our jobs on libuv's thread pool at once (4 threads by default). Why: libuv
 * runs the callbacks of all finished jobs in one go, each with its own trip into JavaScript; a
 * thousand verifications started side by side came back as one 60-70 ms stretch of completions
 * (CPU profile of a 1,000-member commit: job.ondone), which no yield point can split. With a bounded
 * number in flight, each poll phase sees only a few completions, and the next job starts as one ends.
 */
export const POOL_IN_FLIGHT = 16;
let poolInFlight = 0;
const poolWaiting: (() => void)[] = [];

function onPool<T>(start: (resolve: (value: T) => void, reject: (err: unknown) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const run = () => {
      poolInFlight++;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        poolInFlight--;
        poolWaiting.shift()?.();
      };
      try {
        start(
          (value) => {
            end();
            resolve(value);
          },
          (err) => {
            end();
            reject(err);
          },
        );
      } catch (err) {
        end();
        reject(err);
      }
    };
    if (poolInFlight < POOL_IN_FLIGHT) run();
    else poolWaiting.push(run);
  });
}

/** Jobs of ours on the thread pool now, and waiting for a place (for tests). */
export function poolLoad(): { inFlight: number; waiting: number } {
  return { inFlight: poolInFlight, waiting: poolWaiting.length };
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
        let key: KeyObject;
        try {
          key = edPublicKey(publicKey);
        } catch {
          return false;
        }
        return verifySoon(message, key, signature);
      },
      async keygen() {
        // From random bytes, not generateKeyPairSync: see generateX25519.
        const seed = u8(randomBytes(32));
        return { signKey: seed, publicKey: rawPublic(createPublicKey(edPrivateKey(seed))) };
      },
    },
    hpke: {
      async seal(publicKey, plaintext, info, aad) {
        // On this thread (see generateX25519); a Welcome's thousand seals are each a crypto call,
        // so cooperative.ts yields between them.
        const { enc, ctx } = setupSender(rawOf(publicKey, 'public'), info, generateX25519(), false);
        return { enc, ct: aeadSeal(ctx.key, ctx.nonce, aad ?? new Uint8Array(), plaintext) };
      },
      async open(privateKey, kemOutput, ciphertext, info, aad) {
        const ctx = setupReceiver(privateObjOf(privateKey), kemOutput, info);
        return aeadOpen(ctx.key, ctx.nonce, aad ?? new Uint8Array(), ciphertext);
      },
      async exportSecret(publicKey, exporterContext, length, info) {
        const { enc, ctx } = setupSender(rawOf(publicKey, 'public'), info);
        return { enc, secret: exportFrom(ctx, exporterContext, length) };
      },
      async importSecret(privateKey, exporterContext, kemOutput, length, info) {
        return exportFrom(setupReceiver(privateObjOf(privateKey), kemOutput, info), exporterContext, length);
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
        const obj = xPrivateKey(priv);
        return { privateKey: asPrivate(priv, obj), publicKey: asPublic(x25519Public(obj)) };
      },
      async generateKeyPair() {
        const raw = u8(randomBytes(32)); // see generateX25519
        const obj = xPrivateKey(raw);
        return { privateKey: asPrivate(raw, obj), publicKey: asPublic(x25519Public(obj)) };
      },
      keyLength: 16,
      nonceLength: 12,
    },
  };
}

