// The provider's PostgreSQL schema (src-provider/pg/schema.ts) on a real throwaway server: six
// nodes migrating one empty database at once end at the same version with every table made once;
// a database newer than the code is refused with nothing changed; and the schema stays in step
// with SQLite's: every table and column of a real provider's SQLite file (store migrations and the
// tables its modules create) exists on PostgreSQL and nothing more, so a migration added on one
// side only fails here.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migratePg, PG_MIGRATIONS } from '../../src-provider/pg/schema.js';
import { startProvider } from '../../src-provider/server.js';
import { DB_FILE } from '../../src-provider/store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { tempDir } from '../helpers/provider-process.js';

let server: PostgresServer;
const pools: pg.Pool[] = [];

before(async () => {
  server = await startPostgres();
});
after(async () => {
  for (const p of pools) await p.end();
  await server?.stop();
});

function pool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 2 });
  pools.push(p);
  return p;
}

/** table → sorted column names, as the catalog of each engine says. */
async function pgColumns(p: pg.Pool): Promise<Map<string, string[]>> {
  const r = await p.query<{ t: string; c: string }>(
    "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1, 2",
  );
  const out = new Map<string, string[]>();
  // row_order is PostgreSQL's stand-in for SQLite's rowid (pg/schema.ts v2), not a column SQLite has.
  for (const { t, c } of r.rows) if (c !== 'row_order') out.set(t, [...(out.get(t) ?? []), c]);
  return out;
}

function sqliteColumns(file: string): Map<string, string[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    return new Map(tables.map((t) => [t, (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t) as string[]).sort()]));
  } finally {
    db.close();
  }
}

test('six nodes migrating one empty database at once: one schema, the newest version everywhere', async () => {
  // (Before migrating took its lock first, two nodes creating the bookkeeping table at the same
  // moment failed one of them: seen in a full run with three.)
  const url = server.createDatabase('race');
  const versions = await Promise.all(Array.from({ length: 6 }, () => migratePg(pool(url))));
  assert.deepEqual(versions, Array(6).fill(PG_MIGRATIONS.length));
  const p = pool(url);
  assert.equal((await p.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n, PG_MIGRATIONS.length, 'each version applied once');
  assert.equal(await migratePg(p), PG_MIGRATIONS.length, 'again: nothing to do');
  // The identity columns and constraints work as the code expects.
  await p.query("INSERT INTO users (handle, user_uri, pw_hash, created_at) VALUES ('alice', 'mimi://a.example/u/alice', 'x', 1)");
  await assert.rejects(p.query("INSERT INTO users (handle, user_uri, pw_hash, created_at) VALUES ('alice', 'mimi://a.example/u/alice2', 'x', 1)"), /duplicate key/);
  await assert.rejects(p.query("INSERT INTO events (room_uri, kind, epoch, sender_device, payload, accepted_ts) VALUES ('r', 'message', 1, 'd', '\\x00', 1)"), /foreign key/);
});

test('a database newer than this provider is refused, and nothing changes', async () => {
  const url = server.createDatabase('newer');
  const p = pool(url);
  await migratePg(p);
  await p.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [PG_MIGRATIONS.length + 1]);
  const before = await pgColumns(p);
  await assert.rejects(migratePg(p), new RegExp(`schema version ${PG_MIGRATIONS.length + 1}, newer than this provider knows`));
  assert.deepEqual(await pgColumns(p), before);
});

test('the same tables and columns as a real provider on SQLite', async () => {
  const dataDir = tempDir('pg-schema-sqlite');
  const running = await startProvider({ domain: 'a.example', port: 0, dataDir, log: () => undefined });
  await running.close();
  const lite = sqliteColumns(path.join(dataDir, DB_FILE));
  const url = server.createDatabase('drift');
  const p = pool(url);
  await migratePg(p);
  const pgc = await pgColumns(p);
  const onlyLite = [...lite.keys()].filter((t) => !pgc.has(t));
  // Attachment and backup contents are files in the data folder on SQLite and rows on PostgreSQL
  // (pg/schema.ts v3), where nodes share no folder: these tables exist on PostgreSQL only.
  const CONTENTS_ONLY_ON_PG = ['asset_contents', 'backup_chunk_contents'];
  for (const t of CONTENTS_ONLY_ON_PG) assert.ok(pgc.has(t), `${t} on PostgreSQL`);
  const onlyPg = [...pgc.keys()].filter((t) => !lite.has(t) && !CONTENTS_ONLY_ON_PG.includes(t));
  assert.deepEqual({ onlyLite, onlyPg }, { onlyLite: [], onlyPg: [] }, 'tables on one engine only');
  for (const [t, cols] of lite) assert.deepEqual(pgc.get(t), cols, `columns of ${t}`);
});
