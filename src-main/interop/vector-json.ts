// The JSON form of a structure's value in the published MIMI vectors (docs/interop-vectors.md).
//
// JSON has no bytes and no 64-bit integers, so both are tagged objects another implementation can
// read without knowing our types: `{"hex": "0a1b"}` for an opaque value and `{"uint64": "123"}`
// for a uint64 (as a decimal string, since JSON numbers lose precision past 2^53). Everything else
// is plain JSON. `raw` fields (the original bytes our decoders keep next to an embedded RFC 9420
// struct, so signatures can be checked over them) are left out: a vector's value is the fields,
// and its `encoded` is the bytes those fields encode to.
//
// Pure: no I/O.

import { fromHex, toHex } from '../../src-shared/bytes.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class VectorJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VectorJsonError';
  }
}

/** A value as the vectors write it. */
export function toVectorJson(v: unknown, path = '$'): Json {
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (typeof v === 'bigint') return { uint64: v.toString() };
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new VectorJsonError(`${path}: ${v} is not a number JSON can carry`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => toVectorJson(x, `${path}[${i}]`));
  if (typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'raw' || x === undefined) continue;
      out[k] = toVectorJson(x, `${path}.${k}`);
    }
    return out;
  }
  throw new VectorJsonError(`${path}: a ${typeof v} has no JSON form`);
}

/** The value back, with bytes and uint64s as the encoders take them. */
export function fromVectorJson(j: Json, path = '$'): unknown {
  if (Array.isArray(j)) return j.map((x, i) => fromVectorJson(x, `${path}[${i}]`));
  if (j === null || typeof j !== 'object') return j;
  const keys = Object.keys(j);
  if (keys.length === 1 && keys[0] === 'hex') {
    if (typeof j.hex !== 'string' || !/^([0-9a-f]{2})*$/.test(j.hex)) throw new VectorJsonError(`${path}: "hex" must be lower-case hex of whole bytes`);
    return fromHex(j.hex);
  }
  if (keys.length === 1 && keys[0] === 'uint64') {
    if (typeof j.uint64 !== 'string' || !/^(0|[1-9][0-9]*)$/.test(j.uint64) || BigInt(j.uint64) >= 1n << 64n) throw new VectorJsonError(`${path}: "uint64" must be a decimal string below 2^64`);
    return BigInt(j.uint64);
  }
  return Object.fromEntries(keys.map((k) => [k, fromVectorJson(j[k], `${path}.${k}`)]));
}

/** Canonical text of a JSON value (keys sorted), to compare two values whatever their key order. */
export function canonicalJson(j: Json): string {
  if (Array.isArray(j)) return `[${j.map(canonicalJson).join(',')}]`;
  if (j !== null && typeof j === 'object') {
    return `{${Object.keys(j)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(j[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(j);
}
