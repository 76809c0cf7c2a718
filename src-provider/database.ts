// Where the provider keeps its state (issue 17): `sqlite:DIR` (the default: one file in the data
// folder, one node) or `postgres://…` (PostgreSQL, shared by any number of identical nodes). The
// same Store runs on both (pg/sync-db.ts, pg/dialect.ts); docs/scale-out.md is the design.

import path from 'node:path';
import pg from 'pg';
import { migratePg } from './pg/schema.js';
import { PgSyncDb } from './pg/sync-db.js';
import { DB_FILE, Store } from './store.js';

export type DatabaseSpec = { kind: 'sqlite'; dir: string } | { kind: 'postgres'; url: string };

/** `--database` as given (undefined: SQLite in the data folder). Throws a message for the person who typed it. */
export function parseDatabaseSpec(raw: string | undefined, dataDir: string): DatabaseSpec {
  if (raw === undefined || raw === '') return { kind: 'sqlite', dir: dataDir };
  if (raw.startsWith('sqlite:')) {
    const dir = raw.slice('sqlite:'.length);
    if (!dir) throw new Error('--database sqlite:DIR needs the folder, e.g. sqlite:/var/lib/mimi');
    return { kind: 'sqlite', dir: path.resolve(dir) };
  }
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new Error(`--database ${redact(raw)} is not a valid URL: postgres://USER@HOST:PORT/DATABASE`);
    }
    return { kind: 'postgres', url: raw };
  }
  throw new Error(`--database must be sqlite:DIR or postgres://USER@HOST:PORT/DATABASE, not ${JSON.stringify(redact(raw).slice(0, 80))}`);
}

/** A database URL fit for logs: the password, if any, left out. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/**
 * Opens the Store on `spec`. PostgreSQL: the schema is brought to this version first (several
 * nodes starting at once apply each migration once), then the node's own connection opens.
 */
export async function openDatabase(spec: DatabaseSpec): Promise<Store> {
  if (spec.kind === 'sqlite') return new Store(path.join(spec.dir, DB_FILE));
  const pool = new pg.Pool({ connectionString: spec.url, max: 1 });
  try {
    await migratePg(pool);
  } catch (e) {
    throw new Error(`PostgreSQL at ${redact(spec.url)}: ${(e as Error).message}`);
  } finally {
    await pool.end().catch(() => undefined);
  }
  return new Store(new PgSyncDb(spec.url));
}
