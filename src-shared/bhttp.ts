// Binary HTTP messages (RFC 9292), known-length form: what an Oblivious HTTP request carries
// (RFC 9458). Only what OHTTP needs: requests and final responses with header fields, content and
// trailers; informational (1xx) responses are skipped on decode, never produced. Decoding takes a
// message truncated after any complete section as empty from there on (RFC 9292 §3.8); encoding
// leaves off empty trailing sections, as the RFC 9458 example does. Pure.

import { concatBytes, utf8 } from './bytes.js';

export class BhttpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BhttpError';
  }
}

export type Field = [name: string, value: string];

export interface BhttpRequest {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  headers: Field[];
  content: Uint8Array;
  trailers: Field[];
}

export interface BhttpResponse {
  status: number;
  headers: Field[];
  content: Uint8Array;
  trailers: Field[];
}

/** Bounds so a hostile message costs linear time and bounded memory. */
const MAX_FIELDS = 256;
const MAX_MESSAGE = 16 * 1024 * 1024;

// ---- QUIC variable-length integers (RFC 9000 §16), as RFC 9292 uses them ----

export function encodeVarint(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new BhttpError(`not a length: ${n}`);
  if (n < 0x40) return new Uint8Array([n]);
  if (n < 0x4000) return new Uint8Array([0x40 | (n >> 8), n & 0xff]);
  if (n < 0x40000000) return new Uint8Array([0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  throw new BhttpError('lengths over 2^30 are not supported');
}

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.b.length;
  }
  varint(): number {
    if (this.done) throw new BhttpError('message ends inside a length');
    const first = this.b[this.pos];
    const len = 1 << (first >> 6);
    if (this.pos + len > this.b.length) throw new BhttpError('message ends inside a length');
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + this.b[this.pos + i];
    this.pos += len;
    if (!Number.isSafeInteger(v)) throw new BhttpError('a length is too large');
    return v;
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.b.length) throw new BhttpError(`message ends inside a ${n}-byte value`);
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  text(what: string): string {
    const raw = this.bytes();
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new BhttpError(`${what} is not UTF-8`);
    }
  }
}

const lengthPrefixed = (b: Uint8Array) => concatBytes(encodeVarint(b.length), b);

function fieldSection(fields: Field[]): Uint8Array {
  const body = concatBytes(...fields.flatMap(([n, v]) => [lengthPrefixed(utf8(n.toLowerCase())), lengthPrefixed(utf8(v))]));
  return lengthPrefixed(body);
}

function readFields(r: Reader): Field[] {
  if (r.done) return [];
  const section = new Reader(r.bytes());
  const out: Field[] = [];
  while (!section.done) {
    if (out.length >= MAX_FIELDS) throw new BhttpError(`more than ${MAX_FIELDS} fields`);
    const name = section.text('a field name');
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw new BhttpError(`field name ${JSON.stringify(name.slice(0, 40))} is not a lowercase token`);
    out.push([name, section.text('a field value')]);
  }
  return out;
}

/** Encodes [fields, content, trailers], leaving off empty sections at the end. */
function tail(headers: Field[], content: Uint8Array, trailers: Field[]): Uint8Array {
  const parts = [fieldSection(headers), lengthPrefixed(content), fieldSection(trailers)];
  const empty = [headers.length === 0, content.length === 0, trailers.length === 0];
  let keep = 3;
  while (keep > 0 && empty[keep - 1]) keep--;
  return concatBytes(...parts.slice(0, keep));
}

export function encodeRequest(req: BhttpRequest): Uint8Array {
  return concatBytes(
    encodeVarint(0), // known-length request
    lengthPrefixed(utf8(req.method)),
    lengthPrefixed(utf8(req.scheme)),
    lengthPrefixed(utf8(req.authority)),
    lengthPrefixed(utf8(req.path)),
    tail(req.headers, req.content, req.trailers),
  );
}

export function decodeRequest(bytes: Uint8Array): BhttpRequest {
  if (bytes.length > MAX_MESSAGE) throw new BhttpError('message too large');
  const r = new Reader(bytes);
  const framing = r.varint();
  if (framing === 2) throw new BhttpError('indeterminate-length messages are not supported; send a known-length request');
  if (framing !== 0) throw new BhttpError(`framing indicator ${framing} is not a request`);
  const method = r.text('the method');
  const scheme = r.text('the scheme');
  const authority = r.text('the authority');
  const path = r.text('the path');
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) throw new BhttpError('the method is not a token');
  const headers = readFields(r);
  const content = r.done ? new Uint8Array() : r.bytes();
  const trailers = readFields(r);
  // RFC 9292 §3.8: anything left must be zero padding.
  for (let i = r.pos; i < bytes.length; i++) if (bytes[i] !== 0) throw new BhttpError('bytes after the message that are not padding');
  return { method, scheme, authority, path, headers, content, trailers };
}

export function encodeResponse(res: BhttpResponse): Uint8Array {
  if (!Number.isInteger(res.status) || res.status < 200 || res.status > 599) throw new BhttpError(`a final status is 200-599, not ${res.status}`);
  return concatBytes(encodeVarint(1), encodeVarint(res.status), tail(res.headers, res.content, res.trailers));
}

export function decodeResponse(bytes: Uint8Array): BhttpResponse {
  if (bytes.length > MAX_MESSAGE) throw new BhttpError('message too large');
  const r = new Reader(bytes);
  const framing = r.varint();
  if (framing === 3) throw new BhttpError('indeterminate-length messages are not supported');
  if (framing !== 1) throw new BhttpError(`framing indicator ${framing} is not a response`);
  let status = r.varint();
  let informational = 0;
  // Informational responses come first, each with its own fields; they are skipped.
  while (status >= 100 && status < 200) {
    if (++informational > 16) throw new BhttpError('too many informational responses');
    readFields(r);
    status = r.varint();
  }
  if (status < 200 || status > 599) throw new BhttpError(`status ${status} is not an HTTP status`);
  const headers = readFields(r);
  const content = r.done ? new Uint8Array() : r.bytes();
  const trailers = readFields(r);
  for (let i = r.pos; i < bytes.length; i++) if (bytes[i] !== 0) throw new BhttpError('bytes after the message that are not padding');
  return { status, headers, content, trailers };
}

/** A header's value (first match, case-insensitive name). */
export function header(fields: Field[], name: string): string | undefined {
  const n = name.toLowerCase();
  return fields.find(([k]) => k === n)?.[1];
}
