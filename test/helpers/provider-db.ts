// Reading a test provider's storage from a test, on either engine (issue 17): the provider suite
// runs once on SQLite (provider.sqlite in the data folder) and once on PostgreSQL (MIMI_TEST_POSTGRES:
// a fresh database per data folder, see provider-process.ts testDatabase). Tests look at the rows
// the provider stored; they do it through these helpers so the same assertions hold on both.

import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { PgSyncDb } from '../../src-provider/pg/sync-db.js';
import { openDatabase } from '../../src-provider/database.js';
import { DB_FILE, type Store } from '../../src-provider/store.js';
import { knownTestDatabase, testDatabase } from './provider-process.js';

/** True in the suite's PostgreSQL pass. */
export const onPostgres = (): boolean => !!process.env.MIMI_TEST_POSTGRES;

/** For `{ skip: sqliteOnly('why') }` on a test that makes sense on the SQLite file alone. */
export const sqliteOnly = (why: string): string | false => (onPostgres() ? why : false);

/**
 * The PostgreSQL database of the provider on `dataDir` in the PostgreSQL pass, undefined on SQLite.
 * A provider on PostgreSQL still has its data folder (TLS identity, attachments), so the folder
 * alone does not say which engine holds its rows: the database remembered for it does.
 */
function pgUrl(dataDir: string): string | undefined {
  if (!onPostgres()) return undefined;
  const url = knownTestDatabase(path.resolve(dataDir)) ?? knownTestDatabase(dataDir);
  if (!url) throw new Error(`no PostgreSQL test database is known for ${dataDir}: was its provider started through testDatabase()?`);
  return url;
}

/**
 * One PostgreSQL connection per database for the whole test process, never closed: a libpq
 * connection finished and then garbage-collected while the process runs has aborted the test
 * process at exit (libuv: "uv__finish_close: Assertion `handle->flags & UV_HANDLE_CLOSING'
 * failed", seen in attachments.test.ts after it passed). An idle synchronous connection does not
 * keep the process alive, and reusing it saves a connection per read.
 */
const pgConnections = new Map<string, PgSyncDb>();

function sharedPg(url: string): Database.Database {
  let db = pgConnections.get(url);
  if (!db) {
    db = new PgSyncDb(url);
    Object.defineProperty(db, 'close', { value: () => undefined });
    pgConnections.set(url, db);
  }
  return db as unknown as Database.Database;
}

/**
 * A better-sqlite3-compatible handle on the provider's database. On PostgreSQL it is PgSyncDb, the
 * provider's own adapter, so the tests' SQLite-flavoured statements are rewritten by the same
 * dialect layer as the provider's (what it does not rewrite, tests write per engine; parameters
 * are positional), shared for the test process (close() leaves it open, see pgConnections).
 * `readonly` (the default) matters on SQLite: a test that only reads must not take a write lock on
 * the running provider's file.
 */
export function openProviderDb(dataDir: string, opts: { readonly?: boolean } = {}): Database.Database {
  const url = pgUrl(dataDir);
  if (url) return sharedPg(url);
  return new Database(path.join(dataDir, DB_FILE), { readonly: opts.readonly ?? true, fileMustExist: true });
}

/** Runs `fn` on openProviderDb(dataDir) and closes it. */
export function withProviderDb<T>(dataDir: string, fn: (db: Database.Database) => T, opts: { readonly?: boolean } = {}): T {
  const db = openProviderDb(dataDir, opts);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const isPg = (db: Database.Database): boolean => (db as unknown as { dialect?: string }).dialect === 'postgres';

/** The provider's tables (sqlite_master on SQLite, information_schema on PostgreSQL). */
export function tableNames(db: Database.Database): string[] {
  const sql = isPg(db)
    ? "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
    : "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
  return db.prepare(sql).pluck().all() as string[];
}

/**
 * A table's contents for a before/after comparison, each row as JSON, sorted: PostgreSQL has no
 * rowid on most tables (and returns rows in no set order), and an unchanged table is the same
 * set of rows on either engine.
 */
export function tableSnapshot(db: Database.Database, table: string): string[] {
  return (db.prepare(`SELECT * FROM ${table}`).all() as unknown[]).map((r) => JSON.stringify(r)).sort();
}

/**
 * Everything the provider keeps in its database, as bytes, for privacy scans that look for
 * plaintext: on SQLite the file itself with its -wal and -shm (pages not yet checkpointed hold
 * rows too); on PostgreSQL every value of every row of every table (text as UTF-8, BYTEA raw),
 * so a search for plaintext bytes finds what a search of the file would. The data folder's other
 * files (attachments, identity) are not included: scan them as before.
 */
export function providerStorageBytes(dataDir: string): Buffer {
  const url = pgUrl(dataDir);
  if (!url) {
    const file = path.join(dataDir, DB_FILE);
    return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
  }
  const parts: Buffer[] = [];
  for (const { bytes } of pgRows(url)) parts.push(bytes, Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Every non-null value of every row of every table of the database at `url`, named table[row].column. */
function pgRows(url: string): { where: string; bytes: Buffer }[] {
  const db = sharedPg(url);
  const out: { where: string; bytes: Buffer }[] = [];
  for (const t of tableNames(db)) {
    for (const [i, row] of (db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[]).entries()) {
      for (const [c, v] of Object.entries(row)) {
        if (v !== null && v !== undefined) out.push({ where: `${t}[${i}].${c}`, bytes: Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8') });
      }
    }
  }
  return out;
}

/**
 * The provider's Store on `dataDir` for a test that writes rows before the provider starts (or
 * after it stopped): on SQLite its file, on PostgreSQL the folder's test database (made now if
 * the provider has not started yet, and migrated as the provider would).
 */
export async function openTestStore(dataDir: string): Promise<Store> {
  const url = await testDatabase(dataDir);
  return openDatabase(url ? { kind: 'postgres', url } : { kind: 'sqlite', dir: dataDir });
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

/**
 * Everything a provider keeps, for a scan that looks for plaintext anywhere: every file under the
 * data folder (on SQLite that includes provider.sqlite and its WAL, attachments, backup chunks,
 * the identity) and, on PostgreSQL, every value of every row of every table (BYTEA raw, the rest as
 * UTF-8), each named `table[row].column`.
 */
export function providerStorageParts(dataDir: string): { where: string; bytes: Buffer }[] {
  const parts = filesUnder(dataDir).map((f) => ({ where: f, bytes: fs.readFileSync(f) }));
  const url = pgUrl(dataDir);
  return url ? [...parts, ...pgRows(url)] : parts;
}
