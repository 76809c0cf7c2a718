// Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding) and a strict decoder.
//
// The decoder accepts exactly the byte strings the encoder produces, so decode -> encode is byte-exact.
// That matters because MIMI message IDs hash the content bytes: a lenient decoder would let two
// different encodings of "the same" message carry different IDs.
//
// Data model (JS <-> CBOR):
//   number        safe integer (and not -0)  <-> major type 0/1 integer
//   bigint        any integer in [-2^64, 2^64-1]; decoded as bigint only when outside the safe range.
//                 Beyond 64 bits: tag 2/3 bignums (minimal, no leading zero bytes).
//   number        non-integer, -0, NaN, +-Infinity, or an integer outside the safe range <-> float
//                 (the shortest of f16/f32/f64 that holds it exactly; NaN is always f97e00).
//                 Because safe integers always encode as CBOR integers, the decoder rejects floats with a
//                 safe-integer value (e.g. f93c00 = 1.0): JS could not re-encode them as floats.
//   string        text string (strict UTF-8, lone surrogates rejected)
//   Uint8Array    byte string
//   Array         array
//   Map           map (keys sorted by the bytewise order of their encodings; duplicates rejected)
//   CborTag       any other tag
//   false/true/null/undefined  simple values 20..23 (other simple values are rejected)

export class CborError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CborError';
  }
}

export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: CborValue,
  ) {}
}

export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | Map<CborValue, CborValue>
  | CborTag;

/** Containers (arrays, maps, tags) nested deeper than this are rejected on both encode and decode. */
export const MAX_CBOR_DEPTH = 64;

const TWO_64 = 1n << 64n;
const MAX_U64 = TWO_64 - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------------------------------------------
// Encoder

class ByteSink {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Writes a major type with its argument in the shortest form (§4.2.1 first bullet). */
function writeHead(out: ByteSink, major: number, arg: number | bigint): void {
  const mt = major << 5;
  const n = typeof arg === 'bigint' ? arg : BigInt(arg);
  if (n < 0n || n > MAX_U64) throw new CborError(`argument out of range: ${n}`);
  if (n < 24n) out.byte(mt | Number(n));
  else if (n <= 0xffn) {
    out.byte(mt | 24);
    out.byte(Number(n));
  } else if (n <= 0xffffn) {
    out.byte(mt | 25);
    out.bytes(beBytes(n, 2));
  } else if (n <= 0xffffffffn) {
    out.byte(mt | 26);
    out.bytes(beBytes(n, 4));
  } else {
    out.byte(mt | 27);
    out.bytes(beBytes(n, 8));
  }
}

function beBytes(n: bigint, width: number): Uint8Array {
  const b = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    b[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return b;
}

function writeInteger(out: ByteSink, n: bigint): void {
  if (n >= 0n) {
    if (n <= MAX_U64) writeHead(out, 0, n);
    else writeBignum(out, 2, n);
  } else {
    const m = -1n - n;
    if (m <= MAX_U64) writeHead(out, 1, m);
    else writeBignum(out, 3, m);
  }
}

function writeBignum(out: ByteSink, tag: 2 | 3, magnitude: bigint): void {
  let hex = magnitude.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const b = new Uint8Array(hex.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  writeHead(out, 6, tag);
  writeHead(out, 2, b.length);
  out.bytes(b);
}

/** Shortest IEEE 754 form that represents `v` exactly (§4.2.1 / §4.2.2 "preferred serialization"). */
function writeFloat(out: ByteSink, v: number): void {
  if (Number.isNaN(v)) {
    out.bytes(Uint8Array.of(0xf9, 0x7e, 0x00));
    return;
  }
  const half = toHalfExact(v);
  if (half !== null) {
    out.byte(0xf9);
    out.byte(half >> 8);
    out.byte(half & 0xff);
    return;
  }
  if (Math.fround(v) === v) {
    const b = new Uint8Array(5);
    b[0] = 0xfa;
    new DataView(b.buffer).setFloat32(1, v);
    out.bytes(b);
    return;
  }
  const b = new Uint8Array(9);
  b[0] = 0xfb;
  new DataView(b.buffer).setFloat64(1, v);
  out.bytes(b);
}

/** Half-precision bits for `v` if it is exactly representable as a (non-NaN) f16, else null. */
function toHalfExact(v: number): number | null {
  if (Math.fround(v) !== v) return null;
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, v);
  const bits = dv.getUint32(0);
  const sign = (bits >>> 31) << 15;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00; // infinity (NaN handled by the caller)
  if (exp === 0 && mant === 0) return sign; // +-0
  if (exp === 0) return null; // f32 subnormals are far below the f16 range
  const e = exp - 127;
  if (e > 15) return null;
  if (e >= -14) {
    if (mant & 0x1fff) return null;
    return sign | ((e + 15) << 10) | (mant >> 13);
  }
  if (e < -24) return null;
  // f16 subnormal: value = m * 2^-24 with the implicit leading bit made explicit.
  const significand = mant | 0x800000;
  const shift = -e - 1;
  if (significand & ((1 << shift) - 1)) return null;
  return sign | (significand >>> shift);
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the string so that re-encoding reproduces it.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function encodeText(s: string): Uint8Array {
  // TextEncoder would silently turn a lone surrogate into U+FFFD; refuse instead of altering data.
  if (LONE_SURROGATE.test(s)) throw new CborError('text string contains a lone UTF-16 surrogate');
  return textEncoder.encode(s);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function writeValue(out: ByteSink, v: CborValue, depth: number): void {
  switch (typeof v) {
    case 'number':
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) writeInteger(out, BigInt(v));
      else writeFloat(out, v);
      return;
    case 'bigint':
      writeInteger(out, v);
      return;
    case 'string': {
      const b = encodeText(v);
      writeHead(out, 3, b.length);
      out.bytes(b);
      return;
    }
    case 'boolean':
      out.byte(v ? 0xf5 : 0xf4);
      return;
    case 'undefined':
      out.byte(0xf7);
      return;
    case 'object':
      break;
    default:
      throw new CborError(`cannot encode a ${typeof v}`);
  }
  if (v === null) {
    out.byte(0xf6);
    return;
  }
  if (v instanceof Uint8Array) {
    writeHead(out, 2, v.length);
    out.bytes(v);
    return;
  }
  if (depth >= MAX_CBOR_DEPTH) throw new CborError(`nesting deeper than ${MAX_CBOR_DEPTH}`);
  if (Array.isArray(v)) {
    writeHead(out, 4, v.length);
    for (const item of v) writeValue(out, item, depth + 1);
    return;
  }
  if (v instanceof Map) {
    const entries: { key: Uint8Array; value: CborValue }[] = [];
    for (const [k, val] of v) entries.push({ key: encodeAt(k, depth + 1), value: val });
    entries.sort((a, b) => compareBytes(a.key, b.key));
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1].key, entries[i].key) === 0) throw new CborError('duplicate map key');
    }
    writeHead(out, 5, entries.length);
    for (const e of entries) {
      out.bytes(e.key);
      writeValue(out, e.value, depth + 1);
    }
    return;
  }
  if (v instanceof CborTag) {
    if (typeof v.tag === 'number' && !Number.isSafeInteger(v.tag)) throw new CborError('tag number must be an integer');
    const t = typeof v.tag === 'bigint' ? v.tag : BigInt(v.tag);
    if (t === 2n || t === 3n) throw new CborError('tags 2/3 are produced from bigint values; pass a bigint instead');
    writeHead(out, 6, t);
    writeValue(out, v.value, depth + 1);
    return;
  }
  throw new CborError(`cannot encode object of type ${Object.prototype.toString.call(v)}`);
}

function encodeAt(v: CborValue, depth: number): Uint8Array {
  const out = new ByteSink();
  writeValue(out, v, depth);
  return out.result();
}

/** Deterministically encodes `v`. Throws CborError for values outside the data model. */
export function encodeCbor(v: CborValue): Uint8Array {
  return encodeAt(v, 0);
}

// ---------------------------------------------------------------------------------------------------
// Decoder

class Cursor {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  need(n: number | bigint, what: string): number {
    const remaining = this.buf.length - this.pos;
    if (BigInt(n) > BigInt(remaining)) {
      throw new CborError(`truncated input: ${what} needs ${n} bytes at offset ${this.pos}, ${remaining} left`);
    }
    return Number(n);
  }

  take(n: number | bigint, what: string): Uint8Array {
    const len = this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
}

interface Head {
  major: number;
  info: number;
  arg: bigint;
  offset: number;
}

function readHead(c: Cursor): Head {
  const offset = c.pos;
  const first = c.take(1, 'initial byte')[0];
  const major = first >> 5;
  const info = first & 0x1f;
  if (info < 24) return { major, info, arg: BigInt(info), offset };
  if (info === 31) throw new CborError(`indefinite-length or break item at offset ${offset}`);
  if (info > 27) throw new CborError(`reserved additional information ${info} at offset ${offset}`);
  const width = 1 << (info - 24);
  const bytes = c.take(width, 'argument');
  let arg = 0n;
  for (const b of bytes) arg = (arg << 8n) | BigInt(b);
  // Floats (major 7, info 25..27) carry bit patterns, not integers: minimality is checked separately.
  if (major !== 7) {
    const minimum = info === 24 ? 24n : info === 25 ? 0x100n : info === 26 ? 0x10000n : 0x100000000n;
    if (arg < minimum) throw new CborError(`non-shortest integer or length encoding at offset ${offset}`);
  }
  return { major, info, arg, offset };
}

function toNumberIfSafe(n: bigint): number | bigint {
  return n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

function readValue(c: Cursor, depth: number): CborValue {
  const h = readHead(c);
  switch (h.major) {
    case 0:
      return toNumberIfSafe(h.arg);
    case 1:
      return toNumberIfSafe(-1n - h.arg);
    case 2:
      return c.take(h.arg, 'byte string').slice();
    case 3: {
      const raw = c.take(h.arg, 'text string');
      try {
        return textDecoder.decode(raw);
      } catch {
        throw new CborError(`invalid UTF-8 in text string at offset ${h.offset}`);
      }
    }
    case 4: {
      if (depth >= MAX_CBOR_DEPTH) throw new CborError(`nesting deeper than ${MAX_CBOR_DEPTH}`);
      // Every item takes at least one byte: reject absurd declared counts before allocating.
      const n = c.need(h.arg, 'array items');
      const items: CborValue[] = [];
      for (let i = 0; i < n; i++) items.push(readValue(c, depth + 1));
      return items;
    }
    case 5: {
      if (depth >= MAX_CBOR_DEPTH) throw new CborError(`nesting deeper than ${MAX_CBOR_DEPTH}`);
      const n = c.need(h.arg * 2n, 'map entries') / 2;
      const map = new Map<CborValue, CborValue>();
      let prevKey: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const keyStart = c.pos;
        const key = readValue(c, depth + 1);
        const keyBytes = c.buf.subarray(keyStart, c.pos);
        if (prevKey) {
          const cmp = compareBytes(prevKey, keyBytes);
          if (cmp === 0) throw new CborError(`duplicate map key at offset ${keyStart}`);
          if (cmp > 0) throw new CborError(`map keys not in deterministic order at offset ${keyStart}`);
        }
        prevKey = keyBytes;
        // A JS Map stores a -0 key as +0, which would re-encode as the integer 0.
        if (Object.is(key, -0)) throw new CborError(`map key -0.0 cannot be represented (offset ${keyStart})`);
        map.set(key, readValue(c, depth + 1));
      }
      return map;
    }
    case 6: {
      if (depth >= MAX_CBOR_DEPTH) throw new CborError(`nesting deeper than ${MAX_CBOR_DEPTH}`);
      if (h.arg === 2n || h.arg === 3n) return readBignum(c, h);
      const value = readValue(c, depth + 1);
      return new CborTag(toNumberIfSafe(h.arg), value);
    }
    default:
      return readSimpleOrFloat(c, h);
  }
}

function readBignum(c: Cursor, h: Head): bigint {
  const inner = readHead(c);
  if (inner.major !== 2) throw new CborError(`bignum tag ${h.arg} must wrap a byte string (offset ${h.offset})`);
  const b = c.take(inner.arg, 'bignum');
  if (b.length === 0 || b[0] === 0) throw new CborError(`bignum with leading zero bytes at offset ${h.offset}`);
  let m = 0n;
  for (const x of b) m = (m << 8n) | BigInt(x);
  if (m <= MAX_U64) throw new CborError(`bignum that fits a plain integer at offset ${h.offset}`);
  return h.arg === 2n ? m : -1n - m;
}

function readSimpleOrFloat(c: Cursor, h: Head): CborValue {
  switch (h.info) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 23:
      return undefined;
    case 25:
    case 26:
    case 27:
      return checkedFloat(h);
    default:
      throw new CborError(`unsupported simple value at offset ${h.offset}`);
  }
}

function checkedFloat(h: Head): number {
  let v: number;
  if (h.info === 25) {
    v = halfToNumber(Number(h.arg));
    if (Number.isNaN(v) && h.arg !== 0x7e00n) throw new CborError(`non-canonical NaN at offset ${h.offset}`);
  } else {
    const dv = new DataView(new ArrayBuffer(8));
    if (h.info === 26) {
      dv.setUint32(0, Number(h.arg));
      v = dv.getFloat32(0);
    } else {
      dv.setBigUint64(0, h.arg);
      v = dv.getFloat64(0);
    }
    if (Number.isNaN(v)) throw new CborError(`non-canonical NaN at offset ${h.offset}`);
    if (toHalfExact(v) !== null || (h.info === 27 && Math.fround(v) === v)) {
      throw new CborError(`non-shortest float encoding at offset ${h.offset}`);
    }
  }
  if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
    throw new CborError(`float with integer value at offset ${h.offset} (must be encoded as an integer)`);
  }
  return v;
}

/** Strictly decodes exactly one deterministic CBOR item filling all of `bytes`. */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const c = new Cursor(bytes);
  const v = readValue(c, 0);
  if (c.pos !== bytes.length) throw new CborError(`${bytes.length - c.pos} trailing bytes after CBOR item`);
  return v;
}

/** Structural equality of two CBOR values, defined as equality of their deterministic encodings. */
export function cborEqual(a: CborValue, b: CborValue): boolean {
  return compareBytes(encodeCbor(a), encodeCbor(b)) === 0;
}
