// Oblivious HTTP (RFC 9458) for one suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM,
// on @hpke/core (with this project's X25519 KEM, hpke-x25519.ts, since Electron's WebCrypto has no
// X25519). The client encapsulates a binary HTTP request (bhttp.ts) to a gateway's key; a relay in
// between sees only ciphertext and the gateway's address; the gateway answers through the same
// HPKE context. Used for KeyPackage requests to other providers (the seed-001 document), so that
// a user's own provider does not learn whom they contact. Pure: the caller moves the bytes.

import { Aes128Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { gcm } from '@noble/ciphers/aes.js';
import { randomBytes } from '@noble/ciphers/utils.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.js';
import { NobleX25519Kem } from './hpke-x25519.js';

export const KEM_X25519 = 0x0020;
export const KDF_HKDF_SHA256 = 0x0001;
export const AEAD_AES_128_GCM = 0x0001;
const NPK = 32;
const NK = 16;
const NN = 12;
/** max(Nn, Nk): the response nonce and exported secret length (RFC 9458 §4.4). */
const RESPONSE_NONCE = Math.max(NN, NK);
export const REQUEST_MEDIA_TYPE = 'message/ohttp-req';
export const RESPONSE_MEDIA_TYPE = 'message/ohttp-res';
export const KEYS_MEDIA_TYPE = 'application/ohttp-keys';
const REQUEST_LABEL = utf8('message/bhttp request');
const RESPONSE_LABEL = utf8('message/bhttp response');

export class OhttpError extends Error {
  constructor(
    readonly reason: 'malformed' | 'unknownKey' | 'unsupportedSuite' | 'decrypt',
    message: string,
  ) {
    super(message);
    this.name = 'OhttpError';
  }
}

export interface SymmetricSuite {
  kdfId: number;
  aeadId: number;
}

/** A gateway's key configuration (RFC 9458 §3). */
export interface KeyConfig {
  keyId: number;
  kemId: number;
  publicKey: Uint8Array;
  suites: SymmetricSuite[];
}

const u16 = (n: number) => new Uint8Array([n >> 8, n & 0xff]);
const readU16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];

export function encodeKeyConfig(c: KeyConfig): Uint8Array {
  if (!Number.isInteger(c.keyId) || c.keyId < 0 || c.keyId > 255) throw new OhttpError('malformed', 'a key id is one byte');
  if (c.kemId !== KEM_X25519 || c.publicKey.length !== NPK) throw new OhttpError('unsupportedSuite', 'only DHKEM(X25519, HKDF-SHA256) keys are supported');
  if (c.suites.length === 0) throw new OhttpError('malformed', 'a key configuration lists at least one KDF and AEAD');
  return concatBytes(new Uint8Array([c.keyId]), u16(c.kemId), c.publicKey, u16(c.suites.length * 4), ...c.suites.flatMap((s) => [u16(s.kdfId), u16(s.aeadId)]));
}

/** One key configuration; `end` is where it stops (for lists). */
function readKeyConfig(b: Uint8Array, at: number): { config: KeyConfig; end: number } {
  if (b.length < at + 3) throw new OhttpError('malformed', 'a key configuration is cut short');
  const keyId = b[at];
  const kemId = readU16(b, at + 1);
  if (kemId !== KEM_X25519) throw new OhttpError('unsupportedSuite', `KEM 0x${kemId.toString(16).padStart(4, '0')} is not supported (only X25519)`);
  const keyEnd = at + 3 + NPK;
  if (b.length < keyEnd + 2) throw new OhttpError('malformed', 'a key configuration is cut short');
  const publicKey = b.slice(at + 3, keyEnd);
  const suitesLength = readU16(b, keyEnd);
  if (suitesLength === 0 || suitesLength % 4 !== 0 || b.length < keyEnd + 2 + suitesLength) throw new OhttpError('malformed', 'the list of KDF and AEAD pairs is malformed');
  const suites: SymmetricSuite[] = [];
  for (let i = keyEnd + 2; i < keyEnd + 2 + suitesLength; i += 4) suites.push({ kdfId: readU16(b, i), aeadId: readU16(b, i + 2) });
  return { config: { keyId, kemId, publicKey, suites }, end: keyEnd + 2 + suitesLength };
}

export function decodeKeyConfig(b: Uint8Array): KeyConfig {
  const { config, end } = readKeyConfig(b, 0);
  if (end !== b.length) throw new OhttpError('malformed', 'bytes after the key configuration');
  return config;
}

/** `application/ohttp-keys`: each configuration with a 2-byte length in front (RFC 9458 §3.2). */
export function encodeKeyConfigs(configs: KeyConfig[]): Uint8Array {
  return concatBytes(...configs.map((c) => encodeKeyConfig(c)).flatMap((e) => [u16(e.length), e]));
}

export function decodeKeyConfigs(b: Uint8Array): KeyConfig[] {
  const out: KeyConfig[] = [];
  let at = 0;
  while (at < b.length) {
    if (b.length < at + 2) throw new OhttpError('malformed', 'a key configuration length is cut short');
    const len = readU16(b, at);
    out.push(decodeKeyConfig(b.slice(at + 2, at + 2 + len)));
    if (b.length < at + 2 + len) throw new OhttpError('malformed', 'a key configuration is cut short');
    at += 2 + len;
  }
  return out;
}

function suite(): CipherSuite {
  return new CipherSuite({ kem: new NobleX25519Kem() as never, kdf: new HkdfSha256(), aead: new Aes128Gcm() });
}

function header(keyId: number): Uint8Array {
  return concatBytes(new Uint8Array([keyId]), u16(KEM_X25519), u16(KDF_HKDF_SHA256), u16(AEAD_AES_128_GCM));
}

/** What answers a request: the request's `enc` and the secret exported from its HPKE context. */
export interface ResponseContext {
  enc: Uint8Array;
  secret: Uint8Array;
}

/**
 * The client's Encapsulated Request for `request` (a binary HTTP message) to the gateway's key.
 * `ephemeralSecret` fixes the HPKE ephemeral key: only for known-answer tests.
 */
export async function encapsulateRequest(config: KeyConfig, request: Uint8Array, ephemeralSecret?: Uint8Array): Promise<{ encapsulated: Uint8Array; context: ResponseContext }> {
  if (!config.suites.some((s) => s.kdfId === KDF_HKDF_SHA256 && s.aeadId === AEAD_AES_128_GCM)) {
    throw new OhttpError('unsupportedSuite', 'the gateway offers no HKDF-SHA256 with AES-128-GCM');
  }
  const cs = suite();
  const hdr = header(config.keyId);
  const recipientPublicKey = await cs.kem.deserializePublicKey(config.publicKey);
  const ekm = ephemeralSecret ? { privateKey: await cs.kem.deserializePrivateKey(ephemeralSecret), publicKey: recipientPublicKey } : undefined;
  const sender = await cs.createSenderContext({ recipientPublicKey, info: concatBytes(REQUEST_LABEL, new Uint8Array([0]), hdr), ...(ekm ? { ekm } : {}) });
  const ct = new Uint8Array(await sender.seal(request));
  const enc = new Uint8Array(sender.enc);
  const secret = new Uint8Array(await sender.export(RESPONSE_LABEL, NK));
  return { encapsulated: concatBytes(hdr, enc, ct), context: { enc, secret } };
}

/** A gateway key: its configuration and X25519 private key. */
export interface GatewayKey {
  config: KeyConfig;
  privateKey: Uint8Array;
}

/** The gateway opens an Encapsulated Request with whichever of its keys it names. */
export async function decapsulateRequest(keys: GatewayKey[], encapsulated: Uint8Array): Promise<{ request: Uint8Array; context: ResponseContext; keyId: number }> {
  if (encapsulated.length < 7 + NPK + 16) throw new OhttpError('malformed', 'the encapsulated request is too short');
  const keyId = encapsulated[0];
  const key = keys.find((k) => k.config.keyId === keyId);
  if (!key) throw new OhttpError('unknownKey', `no gateway key with id ${keyId}: fetch the key configuration again`);
  if (readU16(encapsulated, 1) !== KEM_X25519 || readU16(encapsulated, 3) !== KDF_HKDF_SHA256 || readU16(encapsulated, 5) !== AEAD_AES_128_GCM) {
    throw new OhttpError('unsupportedSuite', 'the request uses a KEM, KDF or AEAD this gateway does not offer');
  }
  const hdr = encapsulated.slice(0, 7);
  const enc = encapsulated.slice(7, 7 + NPK);
  const cs = suite();
  let recipient;
  let request: Uint8Array;
  try {
    recipient = await cs.createRecipientContext({ recipientKey: await cs.kem.deserializePrivateKey(key.privateKey), enc, info: concatBytes(REQUEST_LABEL, new Uint8Array([0]), hdr) });
    request = new Uint8Array(await recipient.open(encapsulated.slice(7 + NPK)));
  } catch {
    throw new OhttpError('decrypt', 'the encapsulated request does not open with this key');
  }
  return { request, context: { enc, secret: new Uint8Array(await recipient.export(RESPONSE_LABEL, NK)) }, keyId };
}

function responseKeys(ctx: ResponseContext, nonce: Uint8Array): { key: Uint8Array; iv: Uint8Array } {
  const prk = extract(sha256, ctx.secret, concatBytes(ctx.enc, nonce));
  return { key: expand(sha256, prk, utf8('key'), NK), iv: expand(sha256, prk, utf8('nonce'), NN) };
}

/** The gateway's Encapsulated Response. `nonce` fixes the response nonce: only for known-answer tests. */
export function encapsulateResponse(ctx: ResponseContext, response: Uint8Array, nonce: Uint8Array = randomBytes(RESPONSE_NONCE)): Uint8Array {
  if (nonce.length !== RESPONSE_NONCE) throw new OhttpError('malformed', `the response nonce is ${RESPONSE_NONCE} bytes`);
  const { key, iv } = responseKeys(ctx, nonce);
  return concatBytes(nonce, gcm(key, iv).encrypt(response));
}

/** The client opens the gateway's answer with the context of its own request. */
export function decapsulateResponse(ctx: ResponseContext, encapsulated: Uint8Array): Uint8Array {
  if (encapsulated.length < RESPONSE_NONCE + 16) throw new OhttpError('malformed', 'the encapsulated response is too short');
  const nonce = encapsulated.slice(0, RESPONSE_NONCE);
  const { key, iv } = responseKeys(ctx, nonce);
  try {
    return gcm(key, iv).decrypt(encapsulated.slice(RESPONSE_NONCE));
  } catch {
    throw new OhttpError('decrypt', 'the encapsulated response does not open: it was changed on the way or answers another request');
  }
}
