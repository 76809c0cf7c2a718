// SignWithLabel / VerifyWithLabel (RFC 9420 5.1.2, Ed25519) on node:crypto, for the Node-only hot
// paths: the hub signs a frank for every message it accepts in a franked room, and every member
// checks one on every message it receives (every room the app makes is franked). @noble's pure-JS
// Ed25519 takes ~1.5 ms to verify and ~0.35 ms to sign here; OpenSSL ~60 µs and ~25 µs.
//
// Same bytes as mls-crypto.ts: Ed25519 signatures are deterministic, so signing gives exactly what
// signWithLabel gives, and verification is strict RFC 8032 on both (a scalar S ≥ L is refused;
// test/unit/client-hot-path.test.ts holds both side by side on forgeries). Keys are kept as
// KeyObjects per key (an import costs more than half a verification). Where node:crypto cannot
// take an Ed25519 key (a runtime whose crypto library lacks it), the pure-JS functions answer.

import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { labelled, signWithLabel, verifyWithLabel } from './mls-crypto.js';

const MAX_KEPT = 64;
const publicKeys = new Map<string, KeyObject | null>();
const privateKeys = new Map<string, KeyObject | null>();
/** PKCS#8 header of an Ed25519 private key (RFC 8410), followed by the 32-byte seed. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

function kept(map: Map<string, KeyObject | null>, raw: Uint8Array, make: (b: Buffer) => KeyObject): KeyObject | null {
  const id = Buffer.from(raw).toString('base64');
  let k = map.get(id);
  if (k === undefined) {
    try {
      k = make(Buffer.from(raw));
    } catch {
      k = null; // node:crypto cannot: the pure-JS path from now on for this key
    }
    if (map.size >= MAX_KEPT) map.clear();
    map.set(id, k);
  }
  return k;
}

export function signWithLabelFast(privateKeySeed: Uint8Array, label: string, content: Uint8Array): Uint8Array {
  const key = privateKeySeed.length === 32 ? kept(privateKeys, privateKeySeed, (b) => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, b]), format: 'der', type: 'pkcs8' })) : null;
  if (!key) return signWithLabel(privateKeySeed, label, content); // its checks and errors
  return new Uint8Array(edSign(null, labelled(label, content), key));
}

/** False for a wrong or malformed signature or key, as verifyWithLabel. */
export function verifyWithLabelFast(publicKey: Uint8Array, label: string, content: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return verifyWithLabel(publicKey, label, content, signature);
  const key = kept(publicKeys, publicKey, (b) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b.toString('base64url') }, format: 'jwk' }));
  if (!key) return verifyWithLabel(publicKey, label, content, signature);
  try {
    return edVerify(null, labelled(label, content), key, signature);
  } catch {
    // A crypto library that took the key but cannot verify with it: the pure-JS answer.
    return verifyWithLabel(publicKey, label, content, signature);
  }
}
