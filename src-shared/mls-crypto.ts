// RFC 9420 labelled signing and public-key encryption (5.1.2, 5.1.3) for ciphersuite 0x0001
// (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519), outside any MLS group.
//
// MIMI needs these where there is no group state: KeyMaterialRequest and GroupInfoRequest are
// signed with the requester's MLS signature key, and the hub encrypts GroupInfo + ratchet tree to
// the requester's HPKE key. Everything is pure JS (@noble/*), so it behaves the same in Node and in
// Electron, whose BoringSSL WebCrypto lacks X25519.
//
// HPKE (RFC 9180) is used in base mode, single shot (sequence number 0), which is all MLS uses:
// DHKEM(X25519, HKDF-SHA256) from hpke-x25519.ts, HKDF-SHA256, AES-128-GCM.

import { gcm } from '@noble/ciphers/aes.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.js';
import { decap, encap, generateKeyPair, KEM_ID, X25519_KEY_SIZE } from './hpke-x25519.js';
import type { HPKECiphertext } from './mls-structs.js';
import { TlsWriter } from './tls.js';

export class MlsCryptoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MlsCryptoError';
  }
}

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

const ED25519_SEED_SIZE = 32;
const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;

function checkBytes(v: unknown, what: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new MlsCryptoError(`${what} must be a Uint8Array`);
  if (length !== undefined && v.length !== length) throw new MlsCryptoError(`${what} must be ${length} bytes, got ${v.length}`);
  return v;
}

function checkLabel(label: unknown): string {
  if (typeof label !== 'string') throw new MlsCryptoError('label must be a string');
  return label;
}

/** struct { opaque label<V> = "MLS 1.0 " + Label; opaque content<V>; } (SignContent / EncryptContext) */
export function labelled(label: string, content: Uint8Array): Uint8Array {
  return new TlsWriter()
    .opaqueV(utf8('MLS 1.0 ' + label))
    .opaqueV(content)
    .finish();
}

// ---------------------------------------------------------------------------------------------
// Ed25519 SignWithLabel / VerifyWithLabel

/** A fresh Ed25519 key pair; the private key is the 32-byte seed (the engine's DeviceKeys form). */
export function generateSignatureKeyPair(): KeyPair {
  const privateKey = ed25519.utils.randomSecretKey();
  return { privateKey, publicKey: ed25519.getPublicKey(privateKey) };
}

export function signWithLabel(privateKeySeed: Uint8Array, label: string, content: Uint8Array): Uint8Array {
  checkBytes(privateKeySeed, 'Ed25519 private key seed', ED25519_SEED_SIZE);
  checkBytes(content, 'content');
  return ed25519.sign(labelled(checkLabel(label), content), privateKeySeed);
}

/** False for a wrong or malformed signature or key; throws only for arguments of the wrong type. */
export function verifyWithLabel(publicKey: Uint8Array, label: string, content: Uint8Array, signature: Uint8Array): boolean {
  checkBytes(publicKey, 'Ed25519 public key');
  checkBytes(content, 'content');
  checkBytes(signature, 'signature');
  const message = labelled(checkLabel(label), content);
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE || signature.length !== ED25519_SIGNATURE_SIZE) return false;
  try {
    // Strict RFC 8032 verification, as in the MLS engine, so every party accepts the same signatures.
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// HPKE base mode (RFC 9180 5.1, 5.2), ciphersuite DHKEM(X25519) / HKDF-SHA256 / AES-128-GCM

const KDF_ID = 0x0001; // HKDF-SHA256
const AEAD_ID = 0x0001; // AES-128-GCM
const NK = 16;
const NN = 12;
const HPKE_V1 = utf8('HPKE-v1');
const SUITE_ID = concatBytes(
  utf8('HPKE'),
  Uint8Array.of(KEM_ID >> 8, KEM_ID & 0xff, KDF_ID >> 8, KDF_ID & 0xff, AEAD_ID >> 8, AEAD_ID & 0xff),
);
const MODE_BASE = 0x00;

function labeledExtract(salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(sha256, concatBytes(HPKE_V1, SUITE_ID, utf8(label), ikm), salt);
}

function labeledExpand(prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  return expand(sha256, prk, concatBytes(Uint8Array.of(length >> 8, length & 0xff), HPKE_V1, SUITE_ID, utf8(label), info), length);
}

/** KeySchedule(mode_base, shared_secret, info, default_psk, default_psk_id): the AEAD key and base nonce. */
function keySchedule(sharedSecret: Uint8Array, info: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const empty = new Uint8Array();
  const context = concatBytes(
    Uint8Array.of(MODE_BASE),
    labeledExtract(empty, 'psk_id_hash', empty),
    labeledExtract(empty, 'info_hash', info),
  );
  const secret = labeledExtract(sharedSecret, 'secret', empty);
  return { key: labeledExpand(secret, 'key', context, NK), nonce: labeledExpand(secret, 'base_nonce', context, NN) };
}

/** A fresh X25519 key pair (raw 32-byte keys, as in LeafNode.encryption_key / init_key). */
export function generateHpkeKeyPair(): KeyPair {
  return generateKeyPair();
}

/** EncryptWithLabel: SealBase(pk, info = EncryptContext(label, context), aad = "", plaintext). */
export function encryptWithLabel(publicKey: Uint8Array, label: string, context: Uint8Array, plaintext: Uint8Array): HPKECiphertext {
  checkBytes(publicKey, 'HPKE public key', X25519_KEY_SIZE);
  checkBytes(context, 'context');
  checkBytes(plaintext, 'plaintext');
  const info = labelled(checkLabel(label), context);
  let encapsulated: { sharedSecret: Uint8Array; enc: Uint8Array };
  try {
    encapsulated = encap(publicKey);
  } catch (e) {
    throw new MlsCryptoError(`HPKE encapsulation failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { key, nonce } = keySchedule(encapsulated.sharedSecret, info);
  return { kemOutput: encapsulated.enc, ciphertext: gcm(key, nonce, new Uint8Array()).encrypt(plaintext) };
}

/** DecryptWithLabel: OpenBase; any failure (wrong key, label, context, tampering) is an MlsCryptoError. */
export function decryptWithLabel(
  privateKey: Uint8Array,
  label: string,
  context: Uint8Array,
  kemOutput: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  checkBytes(privateKey, 'HPKE private key', X25519_KEY_SIZE);
  checkBytes(context, 'context');
  checkBytes(kemOutput, 'kem_output');
  checkBytes(ciphertext, 'ciphertext');
  const info = labelled(checkLabel(label), context);
  try {
    const { key, nonce } = keySchedule(decap(kemOutput, privateKey), info);
    return gcm(key, nonce, new Uint8Array()).decrypt(ciphertext);
  } catch (e) {
    throw new MlsCryptoError(`HPKE decryption failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
