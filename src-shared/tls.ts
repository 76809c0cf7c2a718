// TLS presentation language primitives as profiled by MLS (RFC 9420 §2.1.2).
//
// Variable-size vectors `<V>` carry a QUIC-style varint length prefix: the top two bits of the first
// byte select 1, 2 or 4 bytes (the 8-byte form is invalid in MLS), and the shortest form is mandatory.
// Fixed-width integers are big-endian. Readers never read past their bounds: a vector's body is parsed
// by a sub-reader limited to the declared length, so an item that overruns it is an error.

export class TlsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsError';
  }
}

/** Largest length a `<V>` prefix can express (30 bits). */
export const MAX_VARINT = 0x3fffffff;

export function encodeVarint(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VARINT) throw new TlsError(`varint out of range: ${n}`);
  if (n < 0x40) return Uint8Array.of(n);
  if (n < 0x4000) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  return Uint8Array.of(0x80 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Decodes a varint at `offset`; returns its value and encoded size. */
export function decodeVarint(bytes: Uint8Array, offset = 0): { value: number; length: number } {
  if (offset >= bytes.length) throw new TlsError('truncated varint');
  const first = bytes[offset];
  const prefix = first >> 6;
  if (prefix === 3) throw new TlsError('8-byte varint length is not allowed in MLS');
  const length = 1 << prefix;
  if (offset + length > bytes.length) throw new TlsError('truncated varint');
  let value = first & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + bytes[offset + i];
  const minimal = length === 1 || (length === 2 ? value >= 0x40 : value >= 0x4000);
  if (!minimal) throw new TlsError(`non-minimal varint encoding of ${value}`);
  return { value, length };
}

export class TlsWriter {
  private buf = new Uint8Array(128);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private uint(n: number, width: number, name: string): this {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** (8 * width)) throw new TlsError(`${name} out of range: ${n}`);
    this.reserve(width);
    for (let i = width - 1; i >= 0; i--) {
      this.buf[this.len + i] = n & 0xff;
      n = Math.floor(n / 256);
    }
    this.len += width;
    return this;
  }

  u8(n: number): this {
    return this.uint(n, 1, 'uint8');
  }

  u16(n: number): this {
    return this.uint(n, 2, 'uint16');
  }

  u32(n: number): this {
    return this.uint(n, 4, 'uint32');
  }

  u64(n: bigint): this {
    if (typeof n !== 'bigint' || n < 0n || n >= 1n << 64n) throw new TlsError(`uint64 out of range: ${n}`);
    this.uint(Number(n >> 32n), 4, 'uint64');
    return this.uint(Number(n & 0xffffffffn), 4, 'uint64');
  }

  /** Raw bytes with no length prefix (fixed-size fields, or pre-encoded structs). */
  bytes(raw: Uint8Array): this {
    this.reserve(raw.length);
    this.buf.set(raw, this.len);
    this.len += raw.length;
    return this;
  }

  /** `opaque data<V>`. */
  opaqueV(data: Uint8Array): this {
    return this.bytes(encodeVarint(data.length)).bytes(data);
  }

  /** `T items<V>`: the prefix is the total byte length of the encoded items, not their count. */
  vector<T>(items: readonly T[], writeItem: (w: TlsWriter, item: T) => void): this {
    const inner = new TlsWriter();
    for (const item of items) writeItem(inner, item);
    return this.opaqueV(inner.finish());
  }

  /** `optional<T>`: a presence octet (0 or 1) followed by the value when present. */
  optional<T>(value: T | undefined, write: (w: TlsWriter, value: T) => void): this {
    if (value === undefined) return this.u8(0);
    this.u8(1);
    write(this, value);
    return this;
  }

  get length(): number {
    return this.len;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class TlsReader {
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Offset within the underlying buffer, for error messages. */
  get offset(): number {
    return this.pos;
  }

  private take(n: number, what: string): number {
    if (n > this.end - this.pos) {
      throw new TlsError(`truncated input: ${what} needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private uint(width: number, what: string): number {
    const at = this.take(width, what);
    let v = 0;
    for (let i = 0; i < width; i++) v = v * 256 + this.buf[at + i];
    return v;
  }

  u8(): number {
    return this.uint(1, 'uint8');
  }

  u16(): number {
    return this.uint(2, 'uint16');
  }

  u32(): number {
    return this.uint(4, 'uint32');
  }

  u64(): bigint {
    const hi = this.uint(4, 'uint64');
    const lo = this.uint(4, 'uint64');
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** `n` raw bytes (a copy, so callers may keep it after the input buffer is reused). */
  bytes(n: number): Uint8Array {
    const at = this.take(n, 'fixed-size field');
    return this.buf.slice(at, at + n);
  }

  /** Consumes `n` raw bytes exactly as bytes(n) does (same check, same error) without copying them. */
  skip(n: number): void {
    this.take(n, 'fixed-size field');
  }

  private varintLength(): number {
    // decodeVarint bounded by `end`, inlined: it runs for every vector of every message a provider
    // routes, and a subarray (to bound it) per vector was a measurable share of /notify decoding.
    const pos = this.pos;
    if (pos >= this.end) throw new TlsError(`truncated input: missing vector length at offset ${pos}`);
    const buf = this.buf;
    const first = buf[pos];
    const prefix = first >> 6;
    if (prefix === 0) {
      this.pos = pos + 1;
      return first;
    }
    if (prefix === 3) throw new TlsError('8-byte varint length is not allowed in MLS');
    const length = 1 << prefix;
    if (pos + length > this.end) throw new TlsError('truncated varint');
    let value = first & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + buf[pos + i];
    if (length === 2 ? value < 0x40 : value < 0x4000) throw new TlsError(`non-minimal varint encoding of ${value}`);
    this.pos = pos + length;
    return value;
  }

  opaqueV(): Uint8Array {
    const n = this.varintLength();
    const at = this.take(n, 'vector body');
    return this.buf.slice(at, at + n);
  }

  /** Consumes `opaque data<V>` exactly as opaqueV does (same checks, same errors) without copying it. */
  skipV(): void {
    this.take(this.varintLength(), 'vector body');
  }

  /**
   * `opaque data<V>` as a view into the input (no copy): only for bytes the caller does not keep
   * past the input's lifetime, or keeps knowing they alias it.
   */
  viewV(): Uint8Array {
    const n = this.varintLength();
    const at = this.take(n, 'vector body');
    return this.buf.subarray(at, at + n);
  }

  /** Reads `T items<V>`, parsing items with `readItem` until the declared length is used up exactly. */
  vector<T>(readItem: (r: TlsReader) => T): T[] {
    const n = this.varintLength();
    const at = this.take(n, 'vector body');
    return this.readItems(new TlsReader(this.buf, at, at + n), readItem);
  }

  /** Parses items from `sub` (a vector body) with `readItem` until it is used up exactly. */
  protected readItems<R extends TlsReader, T>(sub: R, readItem: (r: R) => T): T[] {
    const items: T[] = [];
    while (sub.remaining > 0) {
      const before = sub.remaining;
      items.push(readItem(sub));
      // A reader that consumes nothing would loop forever on a non-empty vector.
      if (sub.remaining === before) throw new TlsError('vector item reader consumed no bytes');
    }
    return items;
  }

  optional<T>(read: (r: TlsReader) => T): T | undefined {
    const present = this.u8();
    if (present === 0) return undefined;
    if (present !== 1) throw new TlsError(`invalid optional presence octet ${present} at offset ${this.pos - 1}`);
    return read(this);
  }

  /** Asserts the input has been fully consumed. */
  done(): void {
    if (this.pos !== this.end) throw new TlsError(`${this.end - this.pos} unexpected trailing bytes at offset ${this.pos}`);
  }
}

/** Parses `bytes` with `read` and requires that nothing is left over. */
export function decodeTls<T>(bytes: Uint8Array, read: (r: TlsReader) => T): T {
  const r = new TlsReader(bytes);
  const value = read(r);
  r.done();
  return value;
}

/** Builds a byte string with a fresh writer. */
export function encodeTls(write: (w: TlsWriter) => void): Uint8Array {
  const w = new TlsWriter();
  write(w);
  return w.finish();
}
