// MIMI content format (draft-ietf-mimi-content-08): typed model, strict codec, message IDs,
// constructors for the common message kinds, a display summary, and a lossless JSON mapping.
//
// The wire form is the deterministic CBOR of cbor.ts. Decoding checks every field against the CDDL
// (mimi-content.cddl) and the draft's data-model restrictions, so decode -> encode reproduces the
// input bytes exactly and the message ID computed from either is the same.

import { sha256 } from '@noble/hashes/sha2.js';
import { CborError, CborTag, decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { concatBytes, fromHex, toHex, utf8 } from './bytes.js';

export class ContentError extends Error {
  /** Path of the offending field, e.g. `body.parts[1].contentType`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ContentError';
    this.field = field;
  }
}

export const Disposition = {
  unspecified: 0,
  render: 1,
  reaction: 2,
  profile: 3,
  inline: 4,
  icon: 5,
  attachment: 6,
  session: 7,
  preview: 8,
} as const;

export const Cardinality = { nullpart: 0, single: 1, external: 2, multi: 3 } as const;
export const PartSemantics = { chooseOne: 0, singleUnit: 1, processAll: 2 } as const;
export type PartSemanticsValue = (typeof PartSemantics)[keyof typeof PartSemantics];

/** Extension keys registered by the draft. */
export const EXT_SENDER_URI = 1;
export const EXT_ROOM_URI = 2;

export const CONTENT_TYPE_PLAIN = 'text/plain;charset=utf-8';
export const CONTENT_TYPE_MARKDOWN = 'text/markdown;variant=GFM-MIMI';

/** Receiver sanity limits from the draft's security considerations; enforced on encode and decode. */
export const MAX_PART_DEPTH = 4;
export const MAX_PARTS = 1024;
export const MAX_TOPIC_ID = 4096;

export const SALT_LENGTH = 16;
export const MESSAGE_ID_LENGTH = 32;
/** First octet of a message ID: SHA-256 in the IANA named-information hash registry. */
export const MESSAGE_ID_SHA256 = 0x01;

interface PartBase {
  /** 0..255; see `Disposition`. Unknown values are legal and should be treated as render. */
  disposition: number;
  /** Empty, or a comma-separated list of language tags. */
  language: string;
}

export interface NullPart extends PartBase {
  cardinality: 0;
}

export interface SinglePart extends PartBase {
  cardinality: 1;
  contentType: string;
  content: Uint8Array;
}

export interface ExternalPart extends PartBase {
  cardinality: 2;
  contentType: string;
  url: string;
  /** Seconds since the UNIX epoch after which the content is invalid; 0 = never. */
  expires: number;
  /** Octets, 0 = unknown. Limited to 2^53-1 here (JS numbers). */
  size: number;
  /** IANA AEAD algorithm, 0 = not encrypted. */
  encAlg: number;
  key: Uint8Array;
  nonce: Uint8Array;
  aad: Uint8Array;
  /** IANA named-information hash algorithm, 0 = none. */
  hashAlg: number;
  contentHash: Uint8Array;
  description: string;
  filename: string;
}

export interface MultiPart extends PartBase {
  cardinality: 3;
  partSemantics: PartSemanticsValue;
  parts: NestedPart[];
}

export type NestedPart = NullPart | SinglePart | ExternalPart | MultiPart;

export interface Expiration {
  /** true: seconds after the receiver reads it; false: seconds since the UNIX epoch. */
  relative: boolean;
  time: number;
}

export interface MimiContent {
  salt: Uint8Array;
  replaces: Uint8Array | null;
  topicId: Uint8Array;
  expires: Expiration | null;
  inReplyTo: Uint8Array | null;
  /** 1 = sender URI, 2 = room URI; other integer or text keys carry any CBOR value. */
  extensions: Map<number | string, CborValue>;
  body: NestedPart;
}

// ---------------------------------------------------------------------------------------------------
// CBOR <-> model

const U32_MAX = 0xffffffff;

function isUint(v: CborValue, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

function needUint(v: CborValue, max: number, path: string): number {
  if (!isUint(v, max)) throw new ContentError(path, `must be an unsigned integer <= ${max}`);
  return v;
}

function needBytes(v: CborValue, path: string, size?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ContentError(path, 'must be a byte string');
  if (size !== undefined && v.length !== size) throw new ContentError(path, `must be ${size} bytes, got ${v.length}`);
  return v;
}

function needText(v: CborValue, path: string): string {
  if (typeof v !== 'string') throw new ContentError(path, 'must be a text string');
  return v;
}

function needMessageIdOrNull(v: CborValue, path: string): Uint8Array | null {
  return v === null ? null : needBytes(v, path, MESSAGE_ID_LENGTH);
}

function needArray(v: CborValue, path: string): CborValue[] {
  if (!Array.isArray(v)) throw new ContentError(path, 'must be an array');
  return v;
}

function utf8Length(s: string): number {
  return utf8(s).length;
}

/**
 * Values inside extensions may be any CBOR, but the draft restricts nested map keys to integers,
 * text and byte strings. Also rejects JS values that are not part of the CBOR data model.
 */
function checkExtensionValue(v: CborValue, path: string, depth: number): void {
  if (depth > 64) throw new ContentError(path, 'nested too deeply');
  if (v === null || v === undefined) return;
  switch (typeof v) {
    case 'number':
    case 'bigint':
    case 'string':
    case 'boolean':
      return;
    case 'object':
      break;
    default:
      throw new ContentError(path, `not a CBOR value (${typeof v})`);
  }
  if (v instanceof Uint8Array) return;
  if (Array.isArray(v)) {
    v.forEach((item, i) => checkExtensionValue(item, `${path}[${i}]`, depth + 1));
    return;
  }
  if (v instanceof Map) {
    for (const [k, val] of v) {
      if (!(typeof k === 'number' || typeof k === 'bigint' || typeof k === 'string' || k instanceof Uint8Array)) {
        throw new ContentError(path, 'map keys inside extensions must be integers, text or byte strings');
      }
      if (typeof k === 'bigint' || (typeof k === 'number' && !Number.isSafeInteger(k))) {
        throw new ContentError(path, 'integer map keys must be within +-(2^53-1)');
      }
      checkExtensionValue(val, `${path}[${typeof k === 'string' ? JSON.stringify(k) : String(k)}]`, depth + 1);
    }
    return;
  }
  if (v instanceof CborTag) {
    checkExtensionValue(v.value, path, depth + 1);
    return;
  }
  throw new ContentError(path, 'not a CBOR value');
}

function parseExtensions(v: CborValue): Map<number | string, CborValue> {
  if (!(v instanceof Map)) throw new ContentError('extensions', 'must be a map');
  const out = new Map<number | string, CborValue>();
  for (const [k, val] of v) {
    let key: number | string;
    if (typeof k === 'number' && Number.isSafeInteger(k)) key = k;
    else if (typeof k === 'string') {
      const n = utf8Length(k);
      if (n < 1 || n > 255) throw new ContentError('extensions', 'text keys must be 1..255 octets of UTF-8');
      key = k;
    } else throw new ContentError('extensions', 'keys must be integers within +-(2^53-1) or text strings');
    const path = `extensions[${typeof key === 'string' ? JSON.stringify(key) : key}]`;
    if (out.has(key)) throw new ContentError(path, 'duplicate key');
    if ((key === EXT_SENDER_URI || key === EXT_ROOM_URI) && typeof val !== 'string') {
      throw new ContentError(path, 'must be a text string (URI)');
    }
    checkExtensionValue(val, path, 0);
    out.set(key, val);
  }
  return out;
}

interface PartBudget {
  count: number;
}

function parsePart(v: CborValue, path: string, level: number, budget: PartBudget): NestedPart {
  if (level > MAX_PART_DEPTH) throw new ContentError(path, `body nested more than ${MAX_PART_DEPTH} levels deep`);
  if (++budget.count > MAX_PARTS) throw new ContentError(path, `body has more than ${MAX_PARTS} parts`);
  const a = needArray(v, path);
  if (a.length < 3) throw new ContentError(path, 'must be [disposition, language, cardinality, ...]');
  const disposition = needUint(a[0], 255, `${path}.disposition`);
  const language = needText(a[1], `${path}.language`);
  const cardinality = needUint(a[2], 3, `${path}.cardinality`);
  const expectLength = (n: number, what: string): void => {
    if (a.length !== n) throw new ContentError(path, `${what} must have ${n} elements, got ${a.length}`);
  };
  switch (cardinality) {
    case Cardinality.nullpart:
      expectLength(3, 'a null part');
      return { disposition, language, cardinality };
    case Cardinality.single:
      expectLength(5, 'a single part');
      return {
        disposition,
        language,
        cardinality,
        contentType: needText(a[3], `${path}.contentType`),
        content: needBytes(a[4], `${path}.content`),
      };
    case Cardinality.external: {
      expectLength(15, 'an external part');
      if (typeof a[6] === 'bigint' && a[6] > 0n) {
        throw new ContentError(`${path}.size`, 'sizes above 2^53-1 octets are not supported');
      }
      return {
        disposition,
        language,
        cardinality,
        contentType: needText(a[3], `${path}.contentType`),
        url: needText(a[4], `${path}.url`),
        expires: needUint(a[5], U32_MAX, `${path}.expires`),
        size: needUint(a[6], Number.MAX_SAFE_INTEGER, `${path}.size`),
        encAlg: needUint(a[7], 0xffff, `${path}.encAlg`),
        key: needBytes(a[8], `${path}.key`),
        nonce: needBytes(a[9], `${path}.nonce`),
        aad: needBytes(a[10], `${path}.aad`),
        hashAlg: needUint(a[11], 0xff, `${path}.hashAlg`),
        contentHash: needBytes(a[12], `${path}.contentHash`),
        description: needText(a[13], `${path}.description`),
        filename: needText(a[14], `${path}.filename`),
      };
    }
    default: {
      expectLength(5, 'a multi part');
      const partSemantics = needUint(a[3], 2, `${path}.partSemantics`) as PartSemanticsValue;
      const rawParts = needArray(a[4], `${path}.parts`);
      if (rawParts.length < 2) throw new ContentError(`${path}.parts`, 'a multi part needs at least 2 parts');
      const parts = rawParts.map((p, i) => parsePart(p, `${path}.parts[${i}]`, level + 1, budget));
      return { disposition, language, cardinality: 3, partSemantics, parts };
    }
  }
}

function parseContent(v: CborValue): MimiContent {
  const a = needArray(v, 'mimiContent');
  if (a.length !== 7) throw new ContentError('mimiContent', `must be an array of 7 elements, got ${a.length}`);
  const topicId = needBytes(a[2], 'topicId');
  if (topicId.length > MAX_TOPIC_ID) throw new ContentError('topicId', `longer than ${MAX_TOPIC_ID} bytes`);
  let expires: Expiration | null = null;
  if (a[3] !== null) {
    const e = needArray(a[3], 'expires');
    if (e.length !== 2) throw new ContentError('expires', 'must be [relative, time]');
    if (typeof e[0] !== 'boolean') throw new ContentError('expires.relative', 'must be a boolean');
    expires = { relative: e[0], time: needUint(e[1], U32_MAX, 'expires.time') };
  }
  return {
    salt: needBytes(a[0], 'salt', SALT_LENGTH),
    replaces: needMessageIdOrNull(a[1], 'replaces'),
    topicId,
    expires,
    inReplyTo: needMessageIdOrNull(a[4], 'inReplyTo'),
    extensions: parseExtensions(a[5]),
    body: parsePart(a[6], 'body', 1, { count: 0 }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

// The model -> CBOR mapping is structural only; field checks happen when the result is run back
// through parseContent, so encode and decode enforce exactly the same rules.
function partToCbor(p: NestedPart, path: string, level: number): CborValue {
  if (!isObject(p)) throw new ContentError(path, 'must be a part object');
  if (level > MAX_PART_DEPTH) throw new ContentError(path, `body nested more than ${MAX_PART_DEPTH} levels deep`);
  const head: CborValue[] = [p.disposition, p.language, p.cardinality];
  switch (p.cardinality) {
    case Cardinality.nullpart:
      return head;
    case Cardinality.single:
      return [...head, p.contentType, p.content];
    case Cardinality.external:
      return [
        ...head,
        p.contentType,
        p.url,
        p.expires,
        p.size,
        p.encAlg,
        p.key,
        p.nonce,
        p.aad,
        p.hashAlg,
        p.contentHash,
        p.description,
        p.filename,
      ];
    case Cardinality.multi:
      if (!Array.isArray(p.parts)) throw new ContentError(`${path}.parts`, 'must be an array');
      return [...head, p.partSemantics, p.parts.map((q, i) => partToCbor(q, `${path}.parts[${i}]`, level + 1))];
    default:
      throw new ContentError(`${path}.cardinality`, 'must be 0 (null), 1 (single), 2 (external) or 3 (multi)');
  }
}

function contentToCbor(c: MimiContent): CborValue {
  if (!isObject(c)) throw new ContentError('mimiContent', 'must be an object');
  if (!(c.extensions instanceof Map)) throw new ContentError('extensions', 'must be a Map');
  let expires: CborValue = null;
  if (c.expires !== null) {
    if (!isObject(c.expires)) throw new ContentError('expires', 'must be null or {relative, time}');
    expires = [c.expires.relative, c.expires.time];
  }
  return [
    c.salt,
    c.replaces,
    c.topicId,
    expires,
    c.inReplyTo,
    new Map<CborValue, CborValue>(c.extensions),
    partToCbor(c.body, 'body', 1),
  ];
}

function cborGuard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CborError) throw new ContentError('cbor', e.message);
    throw e;
  }
}

/** Encodes a content message. Throws ContentError (naming the field) if the model is invalid. */
export function encodeContent(c: MimiContent): Uint8Array {
  const v = contentToCbor(c);
  parseContent(v);
  return cborGuard(() => encodeCbor(v));
}

/** Strictly decodes a content message. Throws ContentError naming the field on any deviation. */
export function decodeContent(bytes: Uint8Array): MimiContent {
  return parseContent(cborGuard(() => decodeCbor(bytes)));
}

// ---------------------------------------------------------------------------------------------------
// Message IDs

function u16Prefixed(s: string, what: string): Uint8Array {
  const b = utf8(s);
  if (b.length > 0xffff) throw new ContentError(what, 'longer than 65535 octets');
  return concatBytes(Uint8Array.of(b.length >> 8, b.length & 0xff), b);
}

/** The -08 message ID over explicit inputs (sender/room URIs as they appear in the extensions). */
export function computeMessageId(senderUri: string, roomUri: string, contentBytes: Uint8Array, salt: Uint8Array): Uint8Array {
  const digest = sha256(
    concatBytes(u16Prefixed(senderUri, 'extensions[1]'), u16Prefixed(roomUri, 'extensions[2]'), contentBytes, salt),
  );
  const id = new Uint8Array(MESSAGE_ID_LENGTH);
  id[0] = MESSAGE_ID_SHA256;
  id.set(digest.subarray(0, MESSAGE_ID_LENGTH - 1), 1);
  return id;
}

/**
 * id = 0x01 || SHA-256(u16(len sender) || sender || u16(len room) || room || content || salt)[0..30],
 * with sender/room taken from extensions 1 and 2 and salt (by default) from the content itself.
 */
export function messageId(contentBytes: Uint8Array, salt?: Uint8Array): Uint8Array {
  const c = decodeContent(contentBytes);
  const sender = c.extensions.get(EXT_SENDER_URI);
  const room = c.extensions.get(EXT_ROOM_URI);
  if (typeof sender !== 'string') throw new ContentError('extensions[1]', 'sender URI is required for a message ID');
  if (typeof room !== 'string') throw new ContentError('extensions[2]', 'room URI is required for a message ID');
  return computeMessageId(sender, room, contentBytes, salt ?? c.salt);
}

// ---------------------------------------------------------------------------------------------------
// Constructors (shapes follow the draft's examples)

export function newSalt(): Uint8Array {
  const s = new Uint8Array(SALT_LENGTH);
  crypto.getRandomValues(s);
  return s;
}

interface Envelope {
  senderUri: string;
  roomUri: string;
  salt?: Uint8Array;
}

function envelope(e: Envelope, fields: Partial<MimiContent> & { body: NestedPart }): MimiContent {
  return {
    salt: e.salt ?? newSalt(),
    replaces: null,
    topicId: new Uint8Array(0),
    expires: null,
    inReplyTo: null,
    extensions: new Map<number | string, CborValue>([
      [EXT_SENDER_URI, e.senderUri],
      [EXT_ROOM_URI, e.roomUri],
    ]),
    ...fields,
  };
}

function textPart(text: string, markdown: boolean | undefined, disposition: number): SinglePart {
  return {
    disposition,
    language: '',
    cardinality: 1,
    contentType: markdown ? CONTENT_TYPE_MARKDOWN : CONTENT_TYPE_PLAIN,
    content: utf8(text),
  };
}

const nullPart = (disposition: number): NullPart => ({ disposition, language: '', cardinality: 0 });

/** A plain or Markdown text message (render disposition, single part); optionally a reply. */
export function textMessage(o: Envelope & { text: string; markdown?: boolean; inReplyTo?: Uint8Array | null }): MimiContent {
  return envelope(o, { inReplyTo: o.inReplyTo ?? null, body: textPart(o.text, o.markdown, Disposition.render) });
}

/** A reaction (usually one emoji) to `inReplyTo`. */
export function reactionMessage(o: Envelope & { inReplyTo: Uint8Array; reaction: string }): MimiContent {
  return envelope(o, { inReplyTo: o.inReplyTo, body: textPart(o.reaction, false, Disposition.reaction) });
}

/**
 * Replaces the text of the message whose *first* version had id `replaces`. `inReplyTo` should repeat
 * the edited message's own inReplyTo, as in the draft's example.
 */
export function editMessage(
  o: Envelope & { replaces: Uint8Array; text: string; markdown?: boolean; inReplyTo?: Uint8Array | null },
): MimiContent {
  return envelope(o, {
    replaces: o.replaces,
    inReplyTo: o.inReplyTo ?? null,
    body: textPart(o.text, o.markdown, Disposition.render),
  });
}

/** Retracts the message whose first version had id `replaces` (render disposition, null body). */
export function deleteMessage(o: Envelope & { replaces: Uint8Array; inReplyTo?: Uint8Array | null }): MimiContent {
  return envelope(o, { replaces: o.replaces, inReplyTo: o.inReplyTo ?? null, body: nullPart(Disposition.render) });
}

/** Withdraws the reaction message `replaces` (reaction disposition, null body); `inReplyTo` = reacted-to message. */
export function unlikeMessage(o: Envelope & { replaces: Uint8Array; inReplyTo?: Uint8Array | null }): MimiContent {
  return envelope(o, { replaces: o.replaces, inReplyTo: o.inReplyTo ?? null, body: nullPart(Disposition.reaction) });
}

// ---------------------------------------------------------------------------------------------------
// Display summary

export type ContentKind = 'text' | 'reaction' | 'edit' | 'delete' | 'attachment' | 'other';

export interface ContentSummary {
  kind: ContentKind;
  /** Text to show: the message text (raw Markdown/HTML per contentType), reaction, or attachment name. */
  text: string;
  /** Media type of the part `text` came from ('' if none). */
  contentType: string;
  inReplyTo?: Uint8Array;
  replaces?: Uint8Array;
  /** kind 'reaction': the first reaction; `reactions` lists all of a multi-reaction message. */
  reaction?: string;
  reactions?: string[];
  /** kind 'attachment' (and session links under 'other'): the external part. */
  external?: ExternalPart;
}

// ignoreBOM: a leading U+FEFF is part of the content and must survive the JSON round trip.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function textOf(p: SinglePart): string | null {
  if (!/^text\//i.test(p.contentType)) return null;
  try {
    return strictUtf8.decode(p.content);
  } catch {
    return null;
  }
}

/** Dispositions whose parts are shown as the message text (unknown values count as render). */
function isRenderable(disposition: number): boolean {
  return (
    disposition === Disposition.unspecified ||
    disposition === Disposition.render ||
    disposition === Disposition.inline ||
    disposition > Disposition.preview
  );
}

/** Depth-first first renderable text part; for chooseOne this honours the sender's preference order. */
function findText(p: NestedPart): SinglePart | null {
  if (!isRenderable(p.disposition)) return null;
  if (p.cardinality === 1) return textOf(p) !== null ? p : null;
  if (p.cardinality === 3) {
    for (const q of p.parts) {
      const t = findText(q);
      if (t) return t;
    }
  }
  return null;
}

function findExternal(p: NestedPart): ExternalPart | null {
  if (p.cardinality === 2) return p;
  if (p.cardinality === 3) {
    for (const q of p.parts) {
      const e = findExternal(q);
      if (e) return e;
    }
  }
  return null;
}

function collectReactions(p: NestedPart, out: string[]): void {
  if (p.cardinality === 1 && p.disposition === Disposition.reaction) {
    const t = textOf(p);
    if (t !== null) out.push(t);
  } else if (p.cardinality === 3) {
    for (const q of p.parts) collectReactions(q, out);
  }
}

/** What a message list needs to show `c`. */
export function summarize(c: MimiContent): ContentSummary {
  const base: ContentSummary = { kind: 'other', text: '', contentType: '' };
  if (c.inReplyTo) base.inReplyTo = c.inReplyTo;
  if (c.replaces) base.replaces = c.replaces;
  const body = c.body;

  if (body.cardinality === 0) return { ...base, kind: c.replaces ? 'delete' : 'other' };

  if (body.disposition === Disposition.reaction) {
    const reactions: string[] = [];
    collectReactions(body, reactions);
    if (reactions.length > 0) {
      // Joined with spaces for display only: concatenating reaction strings could fuse characters.
      return { ...base, kind: 'reaction', text: reactions.join(' '), contentType: CONTENT_TYPE_PLAIN, reaction: reactions[0], reactions };
    }
  }

  const t = findText(body);
  if (t) return { ...base, kind: c.replaces ? 'edit' : 'text', text: textOf(t)!, contentType: t.contentType };

  const ext = findExternal(body);
  if (ext) {
    const text = ext.filename || ext.description || ext.url;
    const kind = ext.disposition === Disposition.session ? 'other' : 'attachment';
    return { ...base, kind, text, contentType: ext.contentType, external: ext };
  }
  return base;
}

// ---------------------------------------------------------------------------------------------------
// JSON mapping
//
// Lossless and readable. The typed fields mirror MimiContent with byte fields as lowercase hex
// strings; `extensions` is an array of [key, value] pairs (keys may be integers or text). Extension
// values are arbitrary CBOR, mapped as:
//   text, true, false, null   -> themselves
//   number                    -> JSON number; -0, NaN, Infinity, -Infinity -> {"float": "-0" | "NaN" | ...}
//   bigint                    -> {"bigint": "<decimal>"}
//   byte string               -> {"hex": "<hex>"}
//   undefined                 -> {"undefined": true}
//   array                     -> JSON array
//   map                       -> {"map": [[key, value], ...]}
//   tag                       -> {"tag": <number, or decimal string beyond 2^53>, "value": value}
// A SinglePart with a text/* content type also gets "text" (its UTF-8 content) for reading. On the way
// back "content" is authoritative; "text" alone is accepted, and a "text" contradicting "content" is
// an error rather than silently ignored.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function floatToJson(n: number): Json {
  if (Object.is(n, -0)) return { float: '-0' };
  if (Number.isNaN(n)) return { float: 'NaN' };
  if (n === Infinity) return { float: 'Infinity' };
  if (n === -Infinity) return { float: '-Infinity' };
  return n;
}

const MAX_JSON_DEPTH = 64;

export function cborToJson(v: CborValue, depth = 0): Json {
  if (depth > MAX_JSON_DEPTH) throw new ContentError('json', `nested deeper than ${MAX_JSON_DEPTH}`);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v === undefined) return { undefined: true };
  if (typeof v === 'number') return floatToJson(v);
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (Array.isArray(v)) return v.map((x) => cborToJson(x, depth + 1));
  if (v instanceof Map) return { map: [...v].map(([k, val]) => [cborToJson(k, depth + 1), cborToJson(val, depth + 1)]) };
  if (v instanceof CborTag) {
    const tag = typeof v.tag === 'bigint' ? v.tag.toString() : v.tag;
    return { tag, value: cborToJson(v.value, depth + 1) };
  }
  throw new ContentError('json', 'not a CBOR value');
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new ContentError(path, `unexpected key "${k}"`);
}

function isPlainObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function cborFromJson(j: Json, path = 'json', depth = 0): CborValue {
  if (depth > MAX_JSON_DEPTH) throw new ContentError(path, `nested deeper than ${MAX_JSON_DEPTH}`);
  if (j === null || typeof j === 'string' || typeof j === 'boolean' || typeof j === 'number') return j;
  if (Array.isArray(j)) return j.map((x, i) => cborFromJson(x, `${path}[${i}]`, depth + 1));
  if (!isPlainObject(j)) throw new ContentError(path, 'not a JSON value');
  const keys = Object.keys(j);
  const shape = keys.length === 2 && 'tag' in j && 'value' in j ? 'tag' : keys.length === 1 ? keys[0] : '';
  switch (shape) {
    case 'hex':
      return hexField(j.hex, `${path}.hex`);
    case 'bigint':
      if (typeof j.bigint !== 'string' || !/^-?[0-9]+$/.test(j.bigint)) throw new ContentError(path, 'bigint must be a decimal string');
      return BigInt(j.bigint);
    case 'float': {
      const f = ({ '-0': -0, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity } as Record<string, number>)[String(j.float)];
      if (f === undefined || typeof j.float !== 'string') throw new ContentError(path, 'float must be "-0", "NaN", "Infinity" or "-Infinity"');
      return f;
    }
    case 'undefined':
      if (j.undefined !== true) throw new ContentError(path, 'undefined must be {"undefined": true}');
      return undefined;
    case 'map': {
      if (!Array.isArray(j.map)) throw new ContentError(path, 'map must be an array of [key, value] pairs');
      const m = new Map<CborValue, CborValue>();
      j.map.forEach((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new ContentError(`${path}.map[${i}]`, 'must be a [key, value] pair');
        m.set(cborFromJson(pair[0], `${path}.map[${i}][0]`, depth + 1), cborFromJson(pair[1], `${path}.map[${i}][1]`, depth + 1));
      });
      return m;
    }
    case 'tag': {
      const t = j.tag;
      let tag: number | bigint;
      if (typeof t === 'number' && Number.isSafeInteger(t) && t >= 0) tag = t;
      else if (typeof t === 'string' && /^[0-9]+$/.test(t)) tag = BigInt(t);
      else throw new ContentError(`${path}.tag`, 'must be a non-negative integer');
      return new CborTag(tag, cborFromJson(j.value, `${path}.value`, depth + 1));
    }
    default:
      throw new ContentError(path, `unrecognised object ${JSON.stringify(j).slice(0, 60)}`);
  }
}

function hexField(v: unknown, path: string): Uint8Array {
  if (typeof v !== 'string') throw new ContentError(path, 'must be a hex string');
  try {
    return fromHex(v);
  } catch {
    throw new ContentError(path, 'must be a hex string');
  }
}

function partToJson(p: NestedPart): Json {
  const head = { disposition: p.disposition, language: p.language, cardinality: p.cardinality };
  switch (p.cardinality) {
    case 0:
      return head;
    case 1: {
      const out: { [k: string]: Json } = { ...head, contentType: p.contentType, content: toHex(p.content) };
      const text = textOf(p);
      if (text !== null) out.text = text;
      return out;
    }
    case 2:
      return {
        ...head,
        contentType: p.contentType,
        url: p.url,
        expires: p.expires,
        size: p.size,
        encAlg: p.encAlg,
        key: toHex(p.key),
        nonce: toHex(p.nonce),
        aad: toHex(p.aad),
        hashAlg: p.hashAlg,
        contentHash: toHex(p.contentHash),
        description: p.description,
        filename: p.filename,
      };
    case 3:
      return { ...head, partSemantics: p.partSemantics, parts: p.parts.map(partToJson) };
  }
}

export function contentToJson(c: MimiContent): Json {
  encodeContent(c); // validates, so only well-formed content is mapped
  return {
    salt: toHex(c.salt),
    replaces: c.replaces ? toHex(c.replaces) : null,
    topicId: toHex(c.topicId),
    expires: c.expires ? { relative: c.expires.relative, time: c.expires.time } : null,
    inReplyTo: c.inReplyTo ? toHex(c.inReplyTo) : null,
    extensions: [...c.extensions].map(([k, v]) => [k, cborToJson(v)]),
    body: partToJson(c.body),
  };
}

const PART_KEYS: Record<number, string[]> = {
  0: [],
  1: ['contentType', 'content', 'text'],
  2: ['contentType', 'url', 'expires', 'size', 'encAlg', 'key', 'nonce', 'aad', 'hashAlg', 'contentHash', 'description', 'filename'],
  3: ['partSemantics', 'parts'],
};

// Scalar fields are passed through as-is; encodeContent's validation reports wrong types by field name.
function partFromJson(j: Json, path: string, level: number): NestedPart {
  if (!isPlainObject(j)) throw new ContentError(path, 'must be an object');
  if (level > MAX_PART_DEPTH) throw new ContentError(path, `body nested more than ${MAX_PART_DEPTH} levels deep`);
  const card = j.cardinality;
  if (typeof card !== 'number' || !(card in PART_KEYS)) {
    throw new ContentError(`${path}.cardinality`, 'must be 0 (null), 1 (single), 2 (external) or 3 (multi)');
  }
  onlyKeys(j, ['disposition', 'language', 'cardinality', ...PART_KEYS[card]], path);
  const head = { disposition: j.disposition as number, language: j.language as string };
  switch (card) {
    case 0:
      return { ...head, cardinality: 0 };
    case 1: {
      let content: Uint8Array;
      if (j.content !== undefined) {
        content = hexField(j.content, `${path}.content`);
        if (j.text !== undefined && (typeof j.text !== 'string' || toHex(utf8(j.text)) !== toHex(content))) {
          throw new ContentError(`${path}.text`, 'does not match content');
        }
      } else if (typeof j.text === 'string') content = utf8(j.text);
      else throw new ContentError(`${path}.content`, 'is required (hex), or give "text"');
      return { ...head, cardinality: 1, contentType: j.contentType as string, content };
    }
    case 2:
      return {
        ...head,
        cardinality: 2,
        contentType: j.contentType as string,
        url: j.url as string,
        expires: j.expires as number,
        size: j.size as number,
        encAlg: j.encAlg as number,
        key: hexField(j.key, `${path}.key`),
        nonce: hexField(j.nonce, `${path}.nonce`),
        aad: hexField(j.aad, `${path}.aad`),
        hashAlg: j.hashAlg as number,
        contentHash: hexField(j.contentHash, `${path}.contentHash`),
        description: j.description as string,
        filename: j.filename as string,
      };
    default: {
      if (!Array.isArray(j.parts)) throw new ContentError(`${path}.parts`, 'must be an array');
      const parts = j.parts.map((q, i) => partFromJson(q, `${path}.parts[${i}]`, level + 1));
      return { ...head, cardinality: 3, partSemantics: j.partSemantics as PartSemanticsValue, parts };
    }
  }
}

function nullableHex(v: Json | undefined, path: string): Uint8Array | null {
  return v === null ? null : hexField(v, path);
}

/** Inverse of contentToJson; the result is validated, so it always encodes. */
export function contentFromJson(json: Json): MimiContent {
  if (!isPlainObject(json)) throw new ContentError('mimiContent', 'must be a JSON object');
  onlyKeys(json, ['salt', 'replaces', 'topicId', 'expires', 'inReplyTo', 'extensions', 'body'], 'mimiContent');
  let expires: Expiration | null = null;
  if (json.expires !== null) {
    if (!isPlainObject(json.expires)) throw new ContentError('expires', 'must be null or {relative, time}');
    onlyKeys(json.expires, ['relative', 'time'], 'expires');
    expires = { relative: json.expires.relative as boolean, time: json.expires.time as number };
  }
  if (!Array.isArray(json.extensions)) throw new ContentError('extensions', 'must be an array of [key, value] pairs');
  const extensions = new Map<number | string, CborValue>();
  json.extensions.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !(typeof pair[0] === 'number' || typeof pair[0] === 'string')) {
      throw new ContentError(`extensions[${i}]`, 'must be a [key, value] pair with an integer or text key');
    }
    if (extensions.has(pair[0])) throw new ContentError(`extensions[${JSON.stringify(pair[0])}]`, 'duplicate key');
    extensions.set(pair[0], cborFromJson(pair[1], `extensions[${JSON.stringify(pair[0])}]`));
  });
  const c: MimiContent = {
    salt: hexField(json.salt, 'salt'),
    replaces: nullableHex(json.replaces, 'replaces'),
    topicId: hexField(json.topicId, 'topicId'),
    expires,
    inReplyTo: nullableHex(json.inReplyTo, 'inReplyTo'),
    extensions,
    body: partFromJson(json.body ?? null, 'body', 1),
  };
  encodeContent(c);
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Derived values (draft §"Derived Data Values"): what a receiver knows about a message besides its
// content. The draft publishes them as a CBOR array too (implied-original example).

export interface MessageDerivedValues {
  messageId: Uint8Array;
  /** Milliseconds since the UNIX epoch, or an RFC 9581 extended time (tag 1001). */
  hubAcceptedTimestamp: number | CborTag;
  mlsGroupId: Uint8Array;
  senderLeafIndex: number;
  senderClientUrl: string;
  senderUserUrl: string;
  roomUrl: string;
}

export const EXTENDED_TIME_TAG = 1001;

function parseDerived(v: CborValue): MessageDerivedValues {
  const a = needArray(v, 'derivedValues');
  if (a.length !== 7) throw new ContentError('derivedValues', `must be an array of 7 elements, got ${a.length}`);
  const ts = a[1];
  let hubAcceptedTimestamp: number | CborTag;
  if (ts instanceof CborTag) {
    if (ts.tag !== EXTENDED_TIME_TAG || !(ts.value instanceof Map)) {
      throw new ContentError('hubAcceptedTimestamp', `a tagged timestamp must be tag ${EXTENDED_TIME_TAG} over a map`);
    }
    hubAcceptedTimestamp = ts;
  } else hubAcceptedTimestamp = needUint(ts, Number.MAX_SAFE_INTEGER, 'hubAcceptedTimestamp');
  return {
    messageId: needBytes(a[0], 'messageId', MESSAGE_ID_LENGTH),
    hubAcceptedTimestamp,
    mlsGroupId: needBytes(a[2], 'mlsGroupId'),
    senderLeafIndex: needUint(a[3], U32_MAX, 'senderLeafIndex'),
    senderClientUrl: needText(a[4], 'senderClientUrl'),
    senderUserUrl: needText(a[5], 'senderUserUrl'),
    roomUrl: needText(a[6], 'roomUrl'),
  };
}

export function decodeDerivedValues(bytes: Uint8Array): MessageDerivedValues {
  return parseDerived(cborGuard(() => decodeCbor(bytes)));
}

export function encodeDerivedValues(d: MessageDerivedValues): Uint8Array {
  if (!isObject(d)) throw new ContentError('derivedValues', 'must be an object');
  const v: CborValue = [
    d.messageId,
    d.hubAcceptedTimestamp,
    d.mlsGroupId,
    d.senderLeafIndex,
    d.senderClientUrl,
    d.senderUserUrl,
    d.roomUrl,
  ];
  parseDerived(v);
  return cborGuard(() => encodeCbor(v));
}
