// Safety numbers: what two people compare (by reading or by QR) to know that the devices each of
// them sees for the other are the ones the other really has (docs/verification.md).
//
// A MIMI user has no account-wide identity key: each device signs with its own MLS signature key.
// So a person's fingerprint covers the set of their devices' signature keys, and it changes when
// a device is added or removed, which is what should make people look again. Each side computes
// both fingerprints from the leaves it sees in the rooms they share; both sides see the same
// trees (MLS agrees on them), so the numbers are equal exactly when nobody was given a different
// key.
//
// Per user: SHA-512 over a labelled encoding of the user URI and their devices (sorted, so the
// order leaves happen to be in does not matter), iterated 5200 times (as Signal does) so that
// finding another key set with the same 30 digits costs an attacker 5200 hashes per try on top of
// the 10^30 space. 30 bytes of the result give 6 groups of 5 digits; the pair's number is the two
// fingerprints in the order of their user URIs, so both sides print the same 60 digits.
//
// Pure: no I/O, no MLS state.

import { sha512 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes, utf8 } from './bytes.js';
import { CborError, decodeCbor, encodeCbor } from './cbor.js';

export const SAFETY_NUMBER_VERSION = 1;
const LABEL = utf8('mimi safety number');
const ITERATIONS = 5200;
const FINGERPRINT_BYTES = 30;
const MAX_DEVICES = 1000;

export class SafetyNumberError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyNumberError';
  }
}

export interface DeviceKey {
  /** The device's URI (mimi://domain/d/user/device) as its credential names it. */
  device: string;
  /** Its MLS signature public key (Ed25519: 32 bytes). */
  signatureKey: Uint8Array;
}

export interface PersonKeys {
  /** The user URI (or a user pseudonym, for a pseudonymous member). */
  user: string;
  devices: DeviceKey[];
}

function lengthPrefixed(b: Uint8Array): Uint8Array {
  if (b.length > 0xffff) throw new SafetyNumberError('a name or key longer than 65535 bytes');
  return concatBytes(new Uint8Array([b.length >> 8, b.length & 0xff]), b);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** SHA-512; the core passes node:crypto's (about 100 times faster than the pure-JS default here). */
export type Sha512 = (data: Uint8Array) => Uint8Array;

/** The 30 bytes a person's fingerprint is made of (what the QR code carries). */
export function fingerprintBytes(person: PersonKeys, hash: Sha512 = sha512): Uint8Array {
  if (person.devices.length === 0) throw new SafetyNumberError(`${person.user} has no devices to compare`);
  if (person.devices.length > MAX_DEVICES) throw new SafetyNumberError(`${person.user} has more than ${MAX_DEVICES} devices`);
  const devices = person.devices
    .map((d) => ({ device: utf8(d.device), key: d.signatureKey }))
    .sort((x, y) => compareBytes(x.key, y.key) || compareBytes(x.device, y.device));
  for (let i = 1; i < devices.length; i++) {
    if (bytesEqual(devices[i].key, devices[i - 1].key) && bytesEqual(devices[i].device, devices[i - 1].device)) {
      throw new SafetyNumberError(`${person.user}: a device is listed twice`);
    }
  }
  const body = concatBytes(
    new Uint8Array([0, SAFETY_NUMBER_VERSION]),
    lengthPrefixed(utf8(person.user)),
    new Uint8Array([devices.length >> 8, devices.length & 0xff]),
    ...devices.flatMap((d) => [lengthPrefixed(d.device), lengthPrefixed(d.key)]),
  );
  let h = hash(concatBytes(LABEL, body));
  for (let i = 0; i < ITERATIONS; i++) h = hash(concatBytes(h, body));
  return Uint8Array.from(h.subarray(0, FINGERPRINT_BYTES));
}

/** 30 digits: each 5 bytes, big-endian, modulo 100000, as 5 digits. */
export function fingerprintDigits(bytes: Uint8Array): string {
  if (bytes.length !== FINGERPRINT_BYTES) throw new SafetyNumberError(`a fingerprint is ${FINGERPRINT_BYTES} bytes`);
  let out = '';
  for (let i = 0; i < FINGERPRINT_BYTES; i += 5) {
    let n = 0;
    for (let j = 0; j < 5; j++) n = n * 256 + bytes[i + j];
    out += String(n % 100000).padStart(5, '0');
  }
  return out;
}

function ordered(a: PersonKeys, b: PersonKeys): [PersonKeys, PersonKeys] {
  if (a.user === b.user) throw new SafetyNumberError('a safety number is between two different people');
  return a.user < b.user ? [a, b] : [b, a];
}

/** The pair's 60 digits, the same on both sides. */
export function safetyNumber(a: PersonKeys, b: PersonKeys): string {
  const [first, second] = ordered(a, b);
  return fingerprintDigits(fingerprintBytes(first)) + fingerprintDigits(fingerprintBytes(second));
}

/** 60 digits as 12 groups of 5, for reading aloud (`12345 67890 …`). */
export function groupDigits(digits: string): string[] {
  return digits.match(/\d{5}/g) ?? [];
}

/** What a QR code shows: CBOR [version, [user, fingerprint], [user, fingerprint]] in URI order. */
export function safetyNumberQr(a: PersonKeys, b: PersonKeys): Uint8Array {
  const [first, second] = ordered(a, b);
  return encodeCbor([SAFETY_NUMBER_VERSION, [first.user, fingerprintBytes(first)], [second.user, fingerprintBytes(second)]]);
}

export type QrComparison = 'match' | 'mismatch' | 'otherPeople' | 'otherVersion' | 'notASafetyNumber';

/** A scanned code against what this side computes: equal only if both fingerprints are. */
export function compareSafetyNumberQr(scanned: Uint8Array, a: PersonKeys, b: PersonKeys, hash: Sha512 = sha512): QrComparison {
  let v: unknown;
  try {
    v = decodeCbor(scanned);
  } catch (e) {
    if (e instanceof CborError) return 'notASafetyNumber';
    throw e;
  }
  if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number') return 'notASafetyNumber';
  if (v[0] !== SAFETY_NUMBER_VERSION) return 'otherVersion';
  const pairs = v.slice(1) as unknown[];
  if (!pairs.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && p[1] instanceof Uint8Array)) return 'notASafetyNumber';
  const [first, second] = ordered(a, b);
  const [[u1, f1], [u2, f2]] = pairs as [string, Uint8Array][];
  if (u1 !== first.user || u2 !== second.user) return 'otherPeople';
  return bytesEqual(f1, fingerprintBytes(first, hash)) && bytesEqual(f2, fingerprintBytes(second, hash)) ? 'match' : 'mismatch';
}
