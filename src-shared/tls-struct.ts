// The struct codec machinery shared by the MIMI bodies (mimi-protocol.ts) and the room state
// (room-state.ts): TLS-presentation-language structures read and written field by field, with every
// failure attributed to the innermost structure and field and a `path` leading to it from the top.
//
// A field callback throws Bad (or a TlsError / MlsWireError from the reader) for a value-level
// problem; the field scope (In.get, Out.put, ...) turns it into a MimiWireError. A subclass of Bad
// may override `at` to produce a subclass of MimiWireError (room-state's rule errors do).

import { fromUtf8, utf8 } from './bytes.js';
import { StructReader, type Fields } from './mls-structs.js';
import { MlsWireError } from './mls-wire.js';
import { TlsError, TlsWriter } from './tls.js';

export class MimiWireError extends Error {
  constructor(
    /** The structure whose field failed (the innermost one). */
    readonly structure: string,
    readonly field: string,
    readonly detail: string,
    /** From the outermost structure down, e.g. "FanoutMessage.ratchetTreeOption > RatchetTreeOption.ratchet_tree". */
    readonly path: string = `${structure}.${field}`,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'MimiWireError';
  }
}

type WireErrorClass = new (structure: string, field: string, detail: string, path?: string) => MimiWireError;

/** A value-level problem inside a field; the field scope turns it into a MimiWireError. */
export class Bad extends Error {
  /** The error this problem becomes when attributed to `structure`.`field`. */
  at(structure: string, field: string): MimiWireError {
    return new MimiWireError(structure, field, this.message);
  }
}

/** Attributes `e` to `structure`.`field`; a MimiWireError (of any subclass) keeps its class and gains a path prefix. */
export function nest(e: unknown, structure: string, field: string): MimiWireError {
  if (e instanceof MimiWireError) {
    const Ctor = e.constructor as WireErrorClass;
    return new Ctor(e.structure, e.field, e.detail, `${structure}.${field} > ${e.path}`);
  }
  if (e instanceof Bad) return e.at(structure, field);
  const known = e instanceof TlsError || e instanceof MlsWireError;
  const detail = known ? (e as Error).message : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new MimiWireError(structure, field, detail);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Reads the fields of one structure, attributing failures to the field being read. */
export class In {
  constructor(
    readonly r: StructReader,
    private readonly struct: string,
  ) {}

  get<T>(field: string, read: (r: StructReader) => T): T {
    try {
      return read(this.r);
    } catch (e) {
      throw nest(e, this.struct, field);
    }
  }

  list<T>(field: string, read: (r: StructReader) => T): T[] {
    const body = this.get(field, (r) => r.opaqueV());
    const sub = new StructReader(body);
    const items: T[] = [];
    while (sub.remaining > 0) {
      const before = sub.remaining;
      try {
        items.push(read(sub));
        if (sub.remaining === before) throw new Bad('vector item consumed no bytes');
      } catch (e) {
        throw nest(e, this.struct, `${field}[${items.length}]`);
      }
    }
    return items;
  }

  opt<T>(field: string, read: (r: StructReader) => T): T | undefined {
    return this.get(field, (r) => r.opt(read));
  }

  enum<T extends string>(field: string, def: EnumDef<T>): T {
    return this.get(field, (r) => readEnum(r, def));
  }

  /** Runs a rule over already-read values. */
  check(field: string, rule: () => void): void {
    this.get(field, rule);
  }
}

/** Writes the fields of one structure, attributing failures to the field being written. */
export class Out {
  constructor(
    readonly w: TlsWriter,
    private readonly struct: string,
  ) {}

  put(field: string, write: (w: TlsWriter) => void): void {
    try {
      write(this.w);
    } catch (e) {
      throw nest(e, this.struct, field);
    }
  }

  list<T>(field: string, items: readonly T[], write: (w: TlsWriter, item: T) => void): void {
    if (!Array.isArray(items)) throw nest(new Bad('must be an array'), this.struct, field);
    const inner = new TlsWriter();
    items.forEach((item, i) => {
      try {
        write(inner, item);
      } catch (e) {
        throw nest(e, this.struct, `${field}[${i}]`);
      }
    });
    this.put(field, (w) => w.opaqueV(inner.finish()));
  }

  opt<T>(field: string, value: T | undefined, write: (w: TlsWriter, v: T) => void): void {
    this.put(field, (w) => w.optional(value ?? undefined, write));
  }

  enum<T extends string>(field: string, def: EnumDef<T>, value: T): void {
    this.put(field, (w) => writeEnum(w, def, value));
  }

  /** Runs a rule over the values being written. */
  check(field: string, rule: () => void): void {
    this.put(field, rule);
  }
}

export interface Codec<T> {
  readonly name: string;
  read(r: StructReader): T;
  write(w: TlsWriter, value: Fields<T>): void;
}

export function struct<T>(name: string, read: (s: In) => T, write: (o: Out, v: Fields<T>) => void): Codec<T> {
  return {
    name,
    read: (r) => read(new In(r, name)),
    write: (w, v) => {
      if (!isObject(v)) throw nest(new Bad('must be an object'), name, '(value)');
      write(new Out(w, name), v);
    },
  };
}

/** Decodes exactly one `c` from `bytes` (trailing bytes are an error). */
export function decodeWith<T>(c: Codec<T>, bytes: Uint8Array): T {
  if (!(bytes instanceof Uint8Array)) throw new MimiWireError(c.name, '(input)', 'must be a Uint8Array');
  const r = new StructReader(bytes);
  let value: T;
  try {
    value = c.read(r);
  } catch (e) {
    throw e instanceof MimiWireError ? e : nest(e, c.name, '(value)');
  }
  if (r.remaining !== 0) throw new MimiWireError(c.name, '(end)', `${r.remaining} trailing bytes`);
  return value;
}

export function encodeWith<T>(c: Codec<T>, value: Fields<T>): Uint8Array {
  const w = new TlsWriter();
  try {
    c.write(w, value);
  } catch (e) {
    throw e instanceof MimiWireError ? e : nest(e, c.name, '(value)');
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Text

// ignoreBOM keeps a leading U+FEFF in the string, so re-encoding is byte-exact.
const UTF8_KEEP_BOM = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode (throws Bad). With `keepBom`, a leading U+FEFF stays in the string. */
export function decodeText(b: Uint8Array, opts: { keepBom?: boolean } = {}): string {
  try {
    return opts.keepBom ? UTF8_KEEP_BOM.decode(b) : fromUtf8(b);
  } catch {
    throw new Bad('is not valid UTF-8');
  }
}

/** `opaque x<V>` holding UTF-8 text. */
export function readText(r: StructReader, opts: { keepBom?: boolean } = {}): string {
  return decodeText(r.opaqueV(), opts);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The UTF-8 encoding of a string field value (throws Bad for a non-string or a lone surrogate). */
export function textBytes(v: unknown): Uint8Array {
  if (typeof v !== 'string') throw new Bad('must be a string');
  // TextEncoder would silently turn a lone surrogate into U+FFFD; refuse instead.
  if (LONE_SURROGATE.test(v)) throw new Bad('is not well-formed Unicode (lone surrogate)');
  return utf8(v);
}

// ---------------------------------------------------------------------------------------------
// Enums (uint8 on the wire)

export interface EnumDef<T extends string> {
  readonly name: string;
  readonly values: Readonly<Record<T, number>>;
  readonly names: ReadonlyMap<number, T>;
}

export function enumDef<T extends string>(name: string, values: Record<T, number>): EnumDef<T> {
  return { name, values, names: new Map(Object.entries(values).map(([k, v]) => [v as number, k as T])) };
}

export function readEnum<T extends string>(r: StructReader, def: EnumDef<T>): T {
  const v = r.u8();
  const name = def.names.get(v);
  if (name === undefined) throw new Bad(`unknown ${def.name} value ${v}`);
  return name;
}

export function enumNumber<T extends string>(def: EnumDef<T>, value: T): number {
  if (typeof value !== 'string' || !Object.prototype.hasOwnProperty.call(def.values, value)) {
    throw new Bad(`unknown ${def.name} '${String(value)}'`);
  }
  return def.values[value];
}

export function writeEnum<T extends string>(w: TlsWriter, def: EnumDef<T>, value: T): void {
  w.u8(enumNumber(def, value));
}
