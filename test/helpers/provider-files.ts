// What a test provider keeps of attachments and backup chunks, on either engine (issue 17): on
// SQLite the files DATA/assets/<id> and DATA/backups/<file>; on PostgreSQL the rows of
// asset_contents and backup_chunk_contents (src-provider/pg/schema.ts v3), pieces per object.
// The attachment and backup tests check what is stored, what is gone and that no plaintext is
// anywhere through these, so the same assertions hold in the suite's SQLite and PostgreSQL passes.

import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { PgSyncDb } from '../../src-provider/pg/sync-db.js';
import { DB_FILE } from '../../src-provider/store.js';
import { knownTestDatabase } from './provider-process.js';

/** The PostgreSQL database of the provider on `dataDir` (the suite's PostgreSQL pass), else undefined. */
export function pgDatabaseOf(dataDir: string): string | undefined {
  if (!process.env.MIMI_TEST_POSTGRES) return undefined;
  const url = knownTestDatabase(dataDir);
  if (!url) throw new Error(`no PostgreSQL test database is known for ${dataDir}`);
  return url;
}

/**
 * One PostgreSQL connection per database for the whole test process, never closed: a libpq
 * connection finished and then garbage-collected while the process runs has aborted the test
 * process at exit (libuv: "uv__finish_close: Assertion `handle->flags & UV_HANDLE_CLOSING'
 * failed", seen in attachments.test.ts after it passed). An idle synchronous connection does not
 * keep the process alive.
 */
const pgConnections = new Map<string, PgSyncDb>();

/** A better-sqlite3-shaped handle on the provider's database (PgSyncDb on PostgreSQL: pass parameters positionally). */
export function openDb(dataDir: string, opts: { write?: boolean } = {}): Database.Database {
  const url = pgDatabaseOf(dataDir);
  if (!url) return new Database(path.join(dataDir, DB_FILE), { readonly: !opts.write });
  let db = pgConnections.get(url);
  if (!db) {
    db = new PgSyncDb(url);
    // Shared: close() leaves it open (see pgConnections).
    Object.defineProperty(db, 'close', { value: () => undefined });
    pgConnections.set(url, db);
  }
  return db as unknown as Database.Database;
}

/** openDb, closed after `fn`. */
export function withDb<T>(dataDir: string, fn: (db: Database.Database) => T, opts: { write?: boolean } = {}): T {
  const db = openDb(dataDir, opts);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

/** Objects stored from pieces: name → the pieces joined in order. */
function fromPieces(db: Database.Database, table: string, key: string): Map<string, Buffer> {
  const out = new Map<string, Buffer[]>();
  for (const r of db.prepare(`SELECT ${key} AS k, data FROM ${table} ORDER BY ${key}, seq`).all() as { k: string; data: Buffer }[]) {
    out.set(r.k, [...(out.get(r.k) ?? []), r.data]);
  }
  return new Map([...out].map(([k, v]) => [k, Buffer.concat(v)]));
}

/** The provider's stored attachments: id → ciphertext (uploads still arriving are not included). */
export function storedAssets(dataDir: string): Map<string, Buffer> {
  if (pgDatabaseOf(dataDir)) return withDb(dataDir, (db) => fromPieces(db, 'asset_contents', 'asset_id'));
  const dir = path.join(dataDir, 'assets');
  return new Map(filesUnder(dir).filter((f) => path.dirname(f) === dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
}

/** The provider's stored backup chunks: file name (backup_chunks.file) → ciphertext. */
export function storedBackupChunks(dataDir: string): Map<string, Buffer> {
  if (pgDatabaseOf(dataDir)) return withDb(dataDir, (db) => fromPieces(db, 'backup_chunk_contents', 'file'));
  const dir = path.join(dataDir, 'backups');
  return new Map(filesUnder(dir).filter((f) => path.dirname(f) === dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
}

/** Replaces the stored bytes of backup chunk `file` (a test damaging what the provider holds). */
export function overwriteBackupChunk(dataDir: string, file: string, bytes: Buffer): void {
  if (!pgDatabaseOf(dataDir)) return fs.writeFileSync(path.join(dataDir, 'backups', file), bytes);
  withDb(dataDir, (db) =>
    db.transaction(() => {
      db.prepare('DELETE FROM backup_chunk_contents WHERE file = ?').run(file);
      db.prepare('INSERT INTO backup_chunk_contents (file, seq, data) VALUES (?, 0, ?)').run(file, bytes);
    })(),
  );
}

/**
 * Everything the provider keeps, as byte strings to search for plaintext: every file under its
 * data folder (the SQLite file, its WAL, attachments, chunks, identity) and, on PostgreSQL, every
 * value of every row of every table (BYTEA raw, the rest as UTF-8).
 */
export function everythingStored(dataDir: string): { where: string; bytes: Buffer }[] {
  const out: { where: string; bytes: Buffer }[] = filesUnder(dataDir).map((f) => ({ where: f, bytes: fs.readFileSync(f) }));
  if (!pgDatabaseOf(dataDir)) return out;
  withDb(dataDir, (db) => {
    const tables = db.prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'").pluck().all() as string[];
    for (const t of tables) {
      for (const [i, row] of (db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[]).entries()) {
        for (const [c, v] of Object.entries(row)) {
          if (v !== null && v !== undefined) out.push({ where: `${t}[${i}].${c}`, bytes: Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8') });
        }
      }
    }
  });
  return out;
}

/**
 * Takes every stored attachment's contents away (the rows stay: a provider that lost the files);
 * returns the function that puts them back.
 */
export function hideStoredAssets(dataDir: string, aside: string): () => void {
  if (!pgDatabaseOf(dataDir)) {
    const assets = path.join(dataDir, 'assets');
    fs.renameSync(assets, aside);
    fs.mkdirSync(assets);
    return () => {
      fs.rmSync(assets, { recursive: true });
      fs.renameSync(aside, assets);
    };
  }
  const rows = withDb(dataDir, (db) => db.prepare('SELECT asset_id, seq, data FROM asset_contents').all() as { asset_id: string; seq: number; data: Buffer }[]);
  withDb(dataDir, (db) => db.prepare('DELETE FROM asset_contents').run());
  return () =>
    withDb(dataDir, (db) => {
      const put = db.prepare('INSERT INTO asset_contents (asset_id, seq, data) VALUES (?, ?, ?)');
      db.transaction(() => rows.forEach((r) => put.run(r.asset_id, r.seq, r.data)))();
    });
}
