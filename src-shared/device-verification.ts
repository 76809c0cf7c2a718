// Verifying one's own devices with a short code (docs/verification.md): two devices of an account
// run a short authentication string (SAS) exchange over any channel the provider relays, show the
// same 3 × 4 digits (or a QR of them), and the person confirms they match on both. Then each
// device MACs its own signature key under a key only the two of them share, so a matching code
// also proves which signature key is the other device's.
//
// The exchange (as in Matrix's SAS and ZRTP's hash commitment):
//   1. the starting device picks an ephemeral X25519 key pair and sends only a commitment
//      SHA-256(label ‖ its public key ‖ the transcript so far);
//   2. the other device answers with its own ephemeral public key;
//   3. the starting device reveals its public key, which must match the commitment.
// Because the starter committed first and the responder answered before seeing the starter's key,
// a relay in the middle gets one guess at a 40-bit code (1 in 10^12 per attempt) instead of
// being able to search for keys that give equal codes on both sides.
//
// Pure: no I/O; the caller carries the messages and shows the digits.

import { x25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/ciphers/utils.js';
import { gcm } from '@noble/ciphers/aes.js';
import { bytesEqual, concatBytes, utf8 } from './bytes.js';

export class DeviceVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceVerificationError';
  }
}

export interface Ephemeral {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** Who is verifying whom: the devices' URIs and a random id of this attempt. */
export interface Transcript {
  starter: string;
  responder: string;
  /** 16 random bytes the starter picks, so codes of two attempts never coincide. */
  nonce: Uint8Array;
}

function lp(b: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([b.length >> 8, b.length & 0xff]), b);
}

function transcriptBytes(t: Transcript): Uint8Array {
  if (t.starter === t.responder) throw new DeviceVerificationError('a device cannot verify itself');
  if (t.nonce.length !== 16) throw new DeviceVerificationError('the attempt id must be 16 bytes');
  return concatBytes(lp(utf8(t.starter)), lp(utf8(t.responder)), t.nonce);
}

export function newEphemeral(): Ephemeral {
  const privateKey = randomBytes(32);
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

export function newTranscript(starter: string, responder: string): Transcript {
  return { starter, responder, nonce: randomBytes(16) };
}

/** Step 1: what the starter sends instead of its public key. */
export function commitment(t: Transcript, starterPublic: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8('mimi device sas commit'), lp(starterPublic), transcriptBytes(t)));
}

/** Step 3, on the responder: the revealed key must be the committed one. */
export function checkReveal(t: Transcript, committed: Uint8Array, starterPublic: Uint8Array): void {
  if (!bytesEqual(commitment(t, starterPublic), committed)) {
    throw new DeviceVerificationError('The other device revealed a different key than it committed to: stop, someone may be in the middle.');
  }
}

export interface SasResult {
  /** 12 digits in three groups of four: what both screens show. */
  digits: string[];
  /** Key for the MACs of each side's signature key (step 5). */
  macKey: Uint8Array;
  /**
   * Key for what the two devices send each other sealed after a verification (the one-shot key of
   * a history transfer): only these two devices know it, the relay in between does not.
   */
  transferKey: Uint8Array;
}

/** Steps 4–5 on either side: the code both devices show, from the shared secret and everything exchanged. */
export function shortCode(t: Transcript, mine: Ephemeral, theirPublic: Uint8Array, iAmStarter: boolean): SasResult {
  if (theirPublic.length !== 32) throw new DeviceVerificationError('the other device sent a key of the wrong size');
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(mine.privateKey, theirPublic);
  } catch {
    throw new DeviceVerificationError('the other device sent an unusable key');
  }
  if (shared.every((b) => b === 0)) throw new DeviceVerificationError('the other device sent a low-order key');
  const starterPublic = iAmStarter ? mine.publicKey : theirPublic;
  const responderPublic = iAmStarter ? theirPublic : mine.publicKey;
  const prk = extract(sha256, shared, concatBytes(utf8('mimi device sas'), transcriptBytes(t), lp(starterPublic), lp(responderPublic)));
  const code = expand(sha256, prk, utf8('code'), 5);
  // 40 bits → 12 decimal digits (10^12 > 2^40): every code is as likely as any other to ±1 in 10^12/2^40.
  let n = 0n;
  for (const b of code) n = (n << 8n) | BigInt(b);
  const twelve = (n % 1_000_000_000_000n).toString().padStart(12, '0');
  return {
    digits: [twelve.slice(0, 4), twelve.slice(4, 8), twelve.slice(8, 12)],
    macKey: expand(sha256, prk, utf8('mac'), 32),
    transferKey: expand(sha256, prk, utf8('history transfer key'), 32),
  };
}

/** Step 6: after the person confirmed the digits, each device sends this for its signature key. */
export function keyMac(macKey: Uint8Array, device: string, signatureKey: Uint8Array): Uint8Array {
  return hmac(sha256, macKey, concatBytes(utf8('mimi device sas key'), lp(utf8(device)), lp(signatureKey)));
}

/** On receipt: the other device's signature key is the one it MACed; anything else is refused. */
export function checkKeyMac(macKey: Uint8Array, device: string, signatureKey: Uint8Array, mac: Uint8Array): boolean {
  const want = keyMac(macKey, device, signatureKey);
  return mac.length === want.length && bytesEqual(mac, want);
}

/**
 * Seals `plaintext` under a SasResult's transferKey for the other device; `context` (e.g. the
 * attempt id and what is sent) is bound in as associated data, so a sealed box cannot be replayed
 * as something else. Output: 12-byte random nonce ‖ AES-256-GCM ciphertext.
 */
export function sealForPeer(transferKey: Uint8Array, context: string, plaintext: Uint8Array): Uint8Array {
  if (transferKey.length !== 32) throw new DeviceVerificationError('the transfer key must be 32 bytes');
  const nonce = randomBytes(12);
  return concatBytes(nonce, gcm(transferKey, nonce, utf8(`mimi device transfer ${context}`)).encrypt(plaintext));
}

/** Opens what sealForPeer made with the same key and context; anything else is refused. */
export function openFromPeer(transferKey: Uint8Array, context: string, sealed: Uint8Array): Uint8Array {
  if (transferKey.length !== 32) throw new DeviceVerificationError('the transfer key must be 32 bytes');
  if (sealed.length < 12 + 16) throw new DeviceVerificationError('the sealed message is too short');
  try {
    return gcm(transferKey, sealed.subarray(0, 12), utf8(`mimi device transfer ${context}`)).decrypt(sealed.subarray(12));
  } catch {
    throw new DeviceVerificationError('the sealed message does not open with the key of this verification: it was altered, or is from another attempt');
  }
}
