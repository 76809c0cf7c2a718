// extension_data of the two RFC 9420 extensions whose encoding ts-mls 1.6.4 got wrong, in the RFC
// form and in the legacy form of rooms created before scripts/patch-ts-mls.mjs fixed it
// (docs/mls-encodings.md):
//
// - external_senders (type 5, RFC 9420 12.1.8.1): `ExternalSender external_senders<V>`. Legacy:
//   one bare ExternalSender. The two cannot be confused: a vector's varint prefix spans all the
//   remaining bytes, while a bare ExternalSender's first varint (signature_key's length) must leave
//   room for the Credential that follows (at least its 2-byte credential_type). We write only the
//   RFC form; rooms keep the form they were created with, since a GroupContext's external_senders
//   is hashed and signed into every epoch and the hub refuses commits that change it.
// - external_pub (type 4, RFC 9420 12.4.3.2): `struct { HPKEPublicKey external_pub; }` with
//   `opaque HPKEPublicKey<V>`. Legacy: the raw key. Given the suite's HPKE public key length Npk
//   the forms are distinct: RFC data is varint(Npk) || key, legacy data is exactly Npk bytes (a raw
//   key read as RFC gives a key 1 or 2 bytes shorter than Npk, never Npk itself).

import { guarded, MlsWireError } from './mls-wire.js';
import { decodeExternalSender, readExternalSender, StructReader, writeExternalSender, type ExternalSender, type Fields } from './mls-structs.js';
import { TlsWriter } from './tls.js';

export const EXTERNAL_PUB_EXTENSION_TYPE = 4;
export const EXTERNAL_SENDERS_EXTENSION_TYPE = 5;

/** Which encoding a piece of extension data used. */
export type ExtensionForm = 'rfc9420' | 'legacy-ts-mls';

export interface DecodedExternalSenders {
  senders: ExternalSender[];
  form: ExtensionForm;
}

/** Parses `read` over the whole of `data`, or undefined if it does not (trailing bytes count as not). */
function whole<T>(data: Uint8Array, read: (r: StructReader) => T): T | undefined {
  try {
    const r = new StructReader(data);
    const value = read(r);
    r.done();
    return value;
  } catch {
    return undefined;
  }
}

/** external_senders extension_data in either form; an error if it is neither. */
export function decodeExternalSenders(data: Uint8Array): DecodedExternalSenders {
  if (!(data instanceof Uint8Array)) throw new MlsWireError('external_senders: input must be a Uint8Array');
  const list = whole(data, (r) => r.list(readExternalSender));
  if (list !== undefined) return { senders: list, form: 'rfc9420' };
  const one = whole(data, readExternalSender);
  if (one !== undefined) return { senders: [one], form: 'legacy-ts-mls' };
  throw new MlsWireError('external_senders: neither `ExternalSender external_senders<V>` nor one bare ExternalSender');
}

/** external_senders extension_data, RFC 9420 form. */
export function encodeExternalSenders(senders: readonly Fields<ExternalSender>[]): Uint8Array {
  if (!Array.isArray(senders)) throw new MlsWireError('external_senders must be an array');
  return guarded('external_senders', () => new TlsWriter().vector(senders, writeExternalSender).finish());
}

/**
 * external_senders extension_data in RFC form from data in either form, or from one encoded
 * ExternalSender (what GET /v1/hubSender returns): the data a new room's GroupContext gets.
 */
export function rfcExternalSenders(data: Uint8Array): Uint8Array {
  const { senders, form } = decodeExternalSenders(data);
  if (form === 'rfc9420') return data;
  // Legacy data is exactly one bare ExternalSender: wrap its bytes unchanged.
  return encodeExternalSenders([decodeExternalSender(senders[0]!.raw)]);
}

/**
 * The external senders of a GroupContext extension list, in order: what an external
 * Sender.sender_index indexes (RFC 9420 12.1.8.1: the vector of the one external_senders
 * extension; for legacy rooms, with one sender per extension, the n-th extension as ts-mls had it).
 */
export function externalSendersOf(extensions: readonly { type: number; data: Uint8Array }[]): ExternalSender[] {
  return extensions.filter((e) => e.type === EXTERNAL_SENDERS_EXTENSION_TYPE).flatMap((e) => decodeExternalSenders(e.data).senders);
}

/** external_pub extension_data, RFC 9420 form. */
export function encodeExternalPub(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length === 0) throw new MlsWireError('external_pub: key must be a non-empty Uint8Array');
  return new TlsWriter().opaqueV(key).finish();
}

/** The key in external_pub extension_data of either form, for a suite whose HPKE public keys are `keyLength` bytes. */
export function decodeExternalPub(data: Uint8Array, keyLength: number): { key: Uint8Array; form: ExtensionForm } {
  if (!(data instanceof Uint8Array)) throw new MlsWireError('external_pub: input must be a Uint8Array');
  if (!Number.isInteger(keyLength) || keyLength <= 0) throw new MlsWireError('external_pub: key length must be a positive integer');
  const inner = whole(data, (r) => r.opaqueV());
  if (inner !== undefined && inner.length === keyLength) return { key: inner, form: 'rfc9420' };
  if (data.length === keyLength) return { key: data.slice(), form: 'legacy-ts-mls' };
  throw new MlsWireError(`external_pub: neither HPKEPublicKey<V> nor a raw key of ${keyLength} bytes`);
}
