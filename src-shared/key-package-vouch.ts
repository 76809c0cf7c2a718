// What lets a KeyPackage fetched over Oblivious HTTP into a room (docs/ohttp-key-packages.md).
//
// A hub adds a client only with a KeyPackage its own provider handed out: normally the hub sees
// that happen, because the claim goes through it (/keyMaterial). A KeyPackage fetched over OHTTP
// never passes the hub, so the provider that handed it out signs a vouch with its provider key
// (federation/provider-identity.ts), and the adding client puts the vouches in its commit's
// authenticated_data (a SafeAAD item), which every provider the commit passes can read. The hub
// checks each vouch against the key the vouching provider publishes at its ohttpKeys endpoint
// (fetched over mutual TLS, so authenticated as that provider).
//
//   struct { opaque key_package_ref<V>; IdentifierUri client; uint64 not_after; opaque signature<V>; } KeyPackageVouch;
//   struct { KeyPackageVouch vouches<V>; } KeyPackageVouches;       SafeAAD component 0xF0B3
//   signature = SignWithLabel(provider key, "MIMI KeyPackage vouch", key_package_ref || client || not_after)
//     (the first three fields encoded as in the struct)
//
// The gateway's key configuration is published with the same key:
//
//   struct { opaque key_configs<V>; opaque provider_key<V>; opaque signature<V>; } OhttpKeysEntry;
//   signature = SignWithLabel(provider_key, "MIMI OHTTP key configs", key_configs)
//   key_configs: RFC 9458 §3.2 application/ohttp-keys
//
// Pure: codecs and signatures.

import { bytesEqual } from './bytes.js';
import { decodeSafeAad, encodeSafeAad, type SafeAadItem } from './franking.js';
import { signWithLabel, verifyWithLabel } from './mls-crypto.js';
import { decodeTls, encodeTls, TlsReader, TlsWriter } from './tls.js';

export const KEY_PACKAGE_VOUCHES_COMPONENT_ID = 0xf0b3;
/** The gateway's binary HTTP response header with base64url KeyPackageVouches for what it handed out. */
export const VOUCHES_HEADER = 'mimi-key-package-vouches';
export const VOUCH_LABEL = 'MIMI KeyPackage vouch';
export const KEY_CONFIGS_LABEL = 'MIMI OHTTP key configs';
/** How long a vouch is good for: the adding client commits within seconds of the fetch. */
export const VOUCH_LIFETIME_MS = 15 * 60_000;
/** At most this many vouches in one commit (a user's devices, a few users). */
export const MAX_VOUCHES = 256;

export class VouchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VouchError';
  }
}

export interface KeyPackageVouch {
  keyPackageRef: Uint8Array;
  client: string;
  notAfter: number;
  signature: Uint8Array;
}

function writeTbs(w: TlsWriter, v: Omit<KeyPackageVouch, 'signature'>): void {
  if (!Number.isSafeInteger(v.notAfter) || v.notAfter < 0) throw new VouchError('not_after must be a non-negative integer (ms)');
  w.opaqueV(v.keyPackageRef).opaqueV(new TextEncoder().encode(v.client)).u64(BigInt(v.notAfter));
}

function readVouch(r: TlsReader): KeyPackageVouch {
  const keyPackageRef = r.opaqueV();
  const client = new TextDecoder('utf-8', { fatal: true }).decode(r.opaqueV());
  const notAfter = Number(r.u64());
  const signature = r.opaqueV();
  return { keyPackageRef, client, notAfter, signature };
}

/** The provider's vouch that it handed out the KeyPackage with this ref, of this client. */
export function signVouch(providerKeySeed: Uint8Array, v: Omit<KeyPackageVouch, 'signature'>): KeyPackageVouch {
  return { ...v, signature: signWithLabel(providerKeySeed, VOUCH_LABEL, encodeTls((w) => writeTbs(w, v))) };
}

/** Whether `v` is a good vouch under `providerKey` at `now`: signature, lifetime. */
export function vouchHolds(providerKey: Uint8Array, v: KeyPackageVouch, now: number): boolean {
  if (v.notAfter < now) return false;
  try {
    return verifyWithLabel(providerKey, VOUCH_LABEL, encodeTls((w) => writeTbs(w, v)), v.signature);
  } catch {
    return false;
  }
}

export function encodeVouches(vouches: readonly KeyPackageVouch[]): Uint8Array {
  if (vouches.length > MAX_VOUCHES) throw new VouchError(`at most ${MAX_VOUCHES} vouches`);
  const list = new TlsWriter();
  for (const v of vouches) {
    writeTbs(list, v);
    list.opaqueV(v.signature);
  }
  return new TlsWriter().opaqueV(list.finish()).finish();
}

export function decodeVouches(b: Uint8Array): KeyPackageVouch[] {
  try {
    const out = decodeTls(b, (r) => r.vector(readVouch));
    if (out.length > MAX_VOUCHES) throw new Error(`more than ${MAX_VOUCHES} vouches`);
    return out;
  } catch (e) {
    throw new VouchError(`malformed KeyPackageVouches: ${(e as Error).message}`);
  }
}

/** A commit's authenticated_data carrying these vouches (empty when there are none). */
export function vouchesAad(vouches: readonly KeyPackageVouch[]): Uint8Array {
  return vouches.length ? encodeSafeAad([{ componentId: KEY_PACKAGE_VOUCHES_COMPONENT_ID, data: encodeVouches(vouches) }]) : new Uint8Array();
}

/** The vouches a commit's authenticated_data carries; [] when none. Throws VouchError when malformed. */
export function vouchesOf(authenticatedData: Uint8Array | undefined): KeyPackageVouch[] {
  if (!authenticatedData || authenticatedData.length === 0) return [];
  let items: SafeAadItem[];
  try {
    items = decodeSafeAad(authenticatedData);
  } catch (e) {
    throw new VouchError((e as Error).message);
  }
  // An item we do not know is ignored (SafeAAD's rule).
  const item = items.find((i) => i.componentId === KEY_PACKAGE_VOUCHES_COMPONENT_ID);
  return item ? decodeVouches(item.data) : [];
}

/** The vouch for a KeyPackage ref among `vouches`, if any. */
export function vouchFor(vouches: readonly KeyPackageVouch[], ref: Uint8Array): KeyPackageVouch | undefined {
  return vouches.find((v) => bytesEqual(v.keyPackageRef, ref));
}

// ---- the published gateway keys ----

export interface OhttpKeysEntry {
  keyConfigs: Uint8Array;
  providerKey: Uint8Array;
  signature: Uint8Array;
}

export function signOhttpKeys(providerKeySeed: Uint8Array, providerKey: Uint8Array, keyConfigs: Uint8Array): OhttpKeysEntry {
  return { keyConfigs, providerKey, signature: signWithLabel(providerKeySeed, KEY_CONFIGS_LABEL, keyConfigs) };
}

export function encodeOhttpKeysEntry(e: OhttpKeysEntry): Uint8Array {
  return encodeTls((w) => w.opaqueV(e.keyConfigs).opaqueV(e.providerKey).opaqueV(e.signature));
}

/** Decodes and checks the signature (under the key it carries); throws VouchError otherwise. */
export function decodeOhttpKeysEntry(b: Uint8Array): OhttpKeysEntry {
  let e: OhttpKeysEntry;
  try {
    e = decodeTls(b, (r) => ({ keyConfigs: r.opaqueV(), providerKey: r.opaqueV(), signature: r.opaqueV() }));
  } catch (err) {
    throw new VouchError(`malformed OhttpKeysEntry: ${(err as Error).message}`);
  }
  let ok = false;
  try {
    ok = verifyWithLabel(e.providerKey, KEY_CONFIGS_LABEL, e.keyConfigs, e.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new VouchError('the OHTTP key configuration is not signed by the key it names');
  return e;
}
