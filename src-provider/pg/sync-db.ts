// PostgreSQL behind the part of better-sqlite3's API the provider uses (issue 17), so one provider
// code path (store.ts and every module's statements, their transactions and savepoints) runs on
// either engine. Synchronous, through libpq (the `libpq` package, an optional native dependency
// built against Debian's libpq-dev): each statement is one round trip on the node's own
// connection, ~45-60 µs on loopback here, the same order as a better-sqlite3 statement that
// touches the disk. docs/scale-out.md says why synchronous, and what it costs.
//
// Semantics kept from SQLite:
//   - prepare() checks the statement at once (PostgreSQL prepares it on this connection), so every
//     statement a module prepares at start-up is checked when the node starts;
//   - transaction(fn) nests as savepoints; the outermost is SERIALIZABLE, PostgreSQL's counterpart
//     of SQLite's one writer at a time: with several nodes, a transaction that would see another
//     node's concurrent writes fails with a serialization failure (SQLSTATE 40001) and the Store
//     runs it again (store.ts tx);
//   - run() reports `changes`; results read as better-sqlite3 reads them: integers as numbers,
//     BYTEA as Buffers, booleans as 1/0.
// Not kept: a failing statement inside a transaction aborts the whole transaction on PostgreSQL
// (SQLite undoes only that statement). The provider's statements inside transactions do not fail
// by design (conflicts are written as ON CONFLICT); a savepoint (nested transaction) is the way
// to try one that may.

import { createRequire } from 'node:module';
import { identityColumns, toPostgres } from './dialect.js';
import { PG_MIGRATIONS } from './schema.js';

/** The part of libpq's binding (node_modules/libpq) used here. */
interface PQ {
  connectSync(params: string): void;
  errorMessage(): string;
  finish(): void;
  exec(text: string): void;
  prepare(name: string, text: string, nParams: number): void;
  execPrepared(name: string, params: (string | null)[]): void;
  resultStatus(): string;
  resultErrorMessage(): string;
  resultErrorFields(): { sqlState?: string } | undefined;
  ntuples(): number;
  nfields(): number;
  fname(i: number): string;
  ftype(i: number): number;
  getvalue(row: number, col: number): string;
  getisnull(row: number, col: number): boolean;
  cmdTuples(): string;
  transactionStatus(): string;
}

/** An error PostgreSQL answered with; `code` is its SQLSTATE (e.g. 40001, 23505). */
export class PgError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'PgError';
  }
}

/** SQLSTATEs after which the whole transaction may simply run again. */
export function isRetryable(e: unknown): boolean {
  return e instanceof PgError && (e.code === '40001' || e.code === '40P01');
}

let libpq: (new () => PQ) | undefined;

/** Connections finished in the last second (see PgSyncDb.close). */
const closing = new Set<PQ>();

function loadLibpq(): new () => PQ {
  if (libpq) return libpq;
  try {
    libpq = createRequire(import.meta.url)('libpq') as new () => PQ;
    return libpq;
  } catch (e) {
    throw new Error(
      `PostgreSQL storage needs the libpq module, which did not load (${(e as Error).message.split('\n')[0]}). ` +
        "Install Debian's libpq-dev (scripts/ensure-system-deps.sh does) and run npm ci again, or use --database sqlite:DIR.",
    );
  }
}

const NUMERIC = new Set([20, 21, 23, 26, 700, 701, 1700]);
const BOOL = 16;
const BYTEA = 17;

function readValue(raw: string, type: number): unknown {
  if (type === BYTEA) return Buffer.from(raw.slice(2), 'hex'); // text form: \x<hex>
  if (NUMERIC.has(type)) return Number(raw);
  if (type === BOOL) return raw === 't' ? 1 : 0;
  return raw;
}

function param(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`cannot bind ${v} to a PostgreSQL parameter`);
    return String(v);
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  throw new TypeError(`cannot bind a ${typeof v} (${Object.prototype.toString.call(v)}) to a PostgreSQL parameter: pass values positionally`);
}

export interface RunResult {
  changes: number;
  lastInsertRowid: number;
}

export class PgStatement<P extends unknown[] = unknown[], R = unknown> {
  private plucking = false;

  constructor(
    private readonly db: PgSyncDb,
    private readonly name: string,
    readonly source: string,
    private readonly nParams: number,
    /** An INSERT the rewrite gave RETURNING <identity>: run() reports the new id. */
    private readonly returnsId: boolean,
  ) {}

  /** Like better-sqlite3: later calls return the first column only. */
  pluck(on = true): this {
    this.plucking = on;
    return this;
  }

  run(...params: P): RunResult {
    this.db.execute(this.name, this.bind(params), this.source);
    const changes = this.db.changes();
    return { changes, lastInsertRowid: this.returnsId && changes > 0 ? (this.db.rows<number>(true).at(-1) ?? 0) : 0 };
  }

  get(...params: P): R | undefined {
    this.db.execute(this.name, this.bind(params), this.source);
    return this.db.rows<R>(this.plucking, 1)[0];
  }

  all(...params: P): R[] {
    this.db.execute(this.name, this.bind(params), this.source);
    return this.db.rows<R>(this.plucking);
  }

  iterate(...params: P): IterableIterator<R> {
    return this.all(...params)[Symbol.iterator]();
  }

  private bind(params: unknown[]): (string | null)[] {
    // better-sqlite3 spreads an array given as a parameter (notify-store.ts passes each multi-row
    // INSERT's values as one array): do the same. Buffers are not arrays.
    if (params.some(Array.isArray)) params = params.flat(1);
    if (params.length !== this.nParams) throw new RangeError(`the statement takes ${this.nParams} parameters, got ${params.length}: ${this.source.slice(0, 120)}`);
    return params.map(param);
  }
}

type TxFn<F extends (...a: never[]) => unknown> = F & { deferred: F; immediate: F; exclusive: F };

export class PgSyncDb {
  readonly dialect = 'postgres' as const;
  private readonly pq: PQ;
  private statements = 0;
  private depth = 0;
  private isOpen = true;
  private readonly identities = identityColumns(PG_MIGRATIONS);
  /** Server-side prepared statements by their SQLite text. */
  private readonly prepared = new Map<string, { name: string; params: number; returnsId: boolean }>();

  constructor(url: string) {
    const PQ = loadLibpq();
    this.pq = new PQ();
    try {
      this.pq.connectSync(url);
    } catch {
      // connectSync throws a bare Error; libpq's own message says why.
    }
    const why = this.pq.errorMessage();
    if (why) {
      this.pq.finish();
      throw new Error(`could not connect to PostgreSQL (${why.trim()}): check the --database URL and that the server runs`);
    }
    // Messages read the same whatever the server's locale; times are the provider's numbers, not timestamps.
    this.exec("SET client_min_messages = warning; SET lc_messages = 'C'");
  }

  get open(): boolean {
    return this.isOpen;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): PgStatement<P, R> {
    // Some modules prepare a statement at each call (better-sqlite3 frees it with the object); a
    // server-side prepared statement lives as long as the connection, so each text is prepared
    // once and shared (a PgStatement keeps no state but its pluck flag).
    let p = this.prepared.get(sql);
    if (!p) {
      const { text, params, returnsId } = toPostgres(sql, this.identities);
      const name = `s${++this.statements}`;
      this.pq.prepare(name, text, params);
      this.check(text);
      p = { name, params, returnsId };
      this.prepared.set(sql, p);
    }
    return new PgStatement<P, R>(this, p.name, sql, p.params, p.returnsId);
  }

  /** Runs one or more statements without parameters (no rewrite: written for PostgreSQL). */
  exec(sql: string): this {
    this.pq.exec(sql);
    this.check(sql);
    return this;
  }

  pragma(): never {
    throw new Error('PRAGMA is SQLite only: this statement needs a PostgreSQL form (store.ts dialect)');
  }

  transaction<F extends (...a: never[]) => unknown>(fn: F): TxFn<F> {
    const run = ((...args: Parameters<F>) => {
      const level = this.depth;
      this.exec(level === 0 ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : `SAVEPOINT sp${level}`);
      this.depth++;
      let result: unknown;
      try {
        result = fn(...args);
      } catch (e) {
        this.depth--;
        if (level === 0) this.rollbackQuietly('ROLLBACK');
        else this.rollbackQuietly(`ROLLBACK TO SAVEPOINT sp${level}; RELEASE SAVEPOINT sp${level}`);
        throw e;
      }
      this.depth--;
      if (level === 0) {
        // A COMMIT that fails (a serialization failure found at commit) has rolled back already.
        this.exec('COMMIT');
      } else this.exec(`RELEASE SAVEPOINT sp${level}`);
      return result;
    }) as TxFn<F>;
    run.deferred = run;
    run.immediate = run;
    run.exclusive = run;
    return run;
  }

  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    const pq = this.pq;
    pq.finish();
    // finish() starts closing libuv's poll handle, which lives inside the native object, and lets
    // the object be garbage collected: were it freed before the loop completes that close, libuv
    // would abort (uv__finish_close assertion). Held here until well after that.
    closing.add(pq);
    setTimeout(() => closing.delete(pq), 1000).unref();
  }

  // ---- for PgStatement ----

  execute(name: string, params: (string | null)[], source: string): void {
    if (!this.isOpen) throw new Error('the PostgreSQL connection is closed');
    this.pq.execPrepared(name, params);
    this.check(source);
  }

  changes(): number {
    return Number(this.pq.cmdTuples() || 0);
  }

  rows<R>(pluck: boolean, limit = Infinity): R[] {
    const pq = this.pq;
    const n = Math.min(pq.ntuples(), limit);
    const cols = pq.nfields();
    const names: string[] = [];
    const types: number[] = [];
    for (let c = 0; c < cols; c++) {
      names.push(pq.fname(c));
      types.push(pq.ftype(c));
    }
    const out: R[] = [];
    for (let r = 0; r < n; r++) {
      if (pluck) {
        out.push((pq.getisnull(r, 0) ? null : readValue(pq.getvalue(r, 0), types[0])) as R);
        continue;
      }
      const row: Record<string, unknown> = {};
      for (let c = 0; c < cols; c++) row[names[c]] = pq.getisnull(r, c) ? null : readValue(pq.getvalue(r, c), types[c]);
      out.push(row as R);
    }
    return out;
  }

  private check(what: string): void {
    const status = this.pq.resultStatus();
    if (status === 'PGRES_COMMAND_OK' || status === 'PGRES_TUPLES_OK' || status === 'PGRES_EMPTY_QUERY') return;
    const message = (this.pq.resultErrorMessage() || this.pq.errorMessage() || status).trim();
    const code = this.pq.resultErrorFields()?.sqlState;
    throw new PgError(`${message} (in: ${what.replace(/\s+/g, ' ').slice(0, 160)})`, code);
  }

  private rollbackQuietly(sql: string): void {
    try {
      this.exec(sql);
    } catch {
      // The connection is gone or the transaction already ended: nothing left to undo here.
    }
  }
}
