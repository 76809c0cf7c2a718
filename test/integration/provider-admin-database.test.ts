// `provider-admin --database` (src-provider/admin-cli.ts, issue 17): the operator's commands on a
// provider's database as the provider names it, `postgres://…` (shared by every node: no data
// folder needed) or `sqlite:DIR`. Each command works there and the process exits 0 after closing
// its connection; a database of another schema version (newer, or not yet migrated by a provider
// of this version) is refused with exit 1 and a message saying what to do, and nothing in it
// changes; remove and ban, which go through the running provider's files, ask for --data.
// PostgreSQL: the suite's server (MIMI_TEST_POSTGRES) or a throwaway one of its own.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openDatabase, type DatabaseSpec } from '../../src-provider/database.js';
import { ensureOhttpSecrets } from '../../src-provider/ohttp-keys.js';
import { PG_SCHEMA_VERSION } from '../../src-provider/pg/schema.js';
import { DB_FILE, SCHEMA_VERSION, type Store } from '../../src-provider/store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { newDatabase, providerAdmin as cli, tempDir as makeTempDir, testDatabase } from '../helpers/provider-process.js';

const DOMAIN = 'a.example';
const ROOM = `mimi://${DOMAIN}/r/admin-db`;
let server: PostgresServer | undefined;
let pgUrl: string;
const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
};

before(async () => {
  const url = await testDatabase(tempDir('admin-db'));
  if (url) pgUrl = url;
  else {
    server = await startPostgres();
    pgUrl = server.url;
  }
});
after(async () => {
  await server?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A provider's database as the provider leaves it: migrated, with OHTTP secrets and two reports. */
async function providerDatabase(spec: DatabaseSpec): Promise<{ store: Store; ids: number[] }> {
  const store = await openDatabase(spec);
  ensureOhttpSecrets(store, tempDir('admin-db-data'), DOMAIN);
  const ids = store.tx(() => {
    store.insertRoom(ROOM, 1);
    return ['spam', 'rude'].map((note, i) =>
      store.addAbuseReport({ room_uri: ROOM, reporter: `mimi://${DOMAIN}/u/alice`, alleged: `mimi://${DOMAIN}/u/bob${i}`, reason: 1, note, messages: 0, report: new Uint8Array([1, 2, 3]), via_domain: null, received_at: 1_700_000_000_000 + i }),
    );
  });
  return { store, ids };
}

/** What the commands can change: report states, franking keys, the token epoch. */
function state(store: Store) {
  const reportStates = store.db.prepare('SELECT report_id, state FROM admin_report_states ORDER BY report_id').all();
  return { reportStates, frankingKeys: store.frankingKeys().length, epoch: store.ohttpTokenEpoch(DOMAIN) };
}

/** Every command that works on the database alone, through `--database db` (and no --data). */
async function commandsWork(db: string, store: Store, ids: number[]): Promise<void> {
  const list = await cli(['--database', db, '--json', 'reports']);
  assert.deepEqual([list.code, list.signal], [0, null], list.stderr);
  assert.deepEqual((JSON.parse(list.stdout).reports as { id: number; note: string }[]).map((r) => [r.id, r.note]).sort(), [
    [ids[0], 'spam'],
    [ids[1], 'rude'],
  ]);
  const text = await cli(['--database', db, 'reports', '--state', 'open']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^#${ids[0]} +open .*bob0`, 'm'));

  const show = await cli(['--database', db, 'show', String(ids[1])]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`report #${ids[1]} \\(open\\)`));
  const dismissed = await cli(['--database', db, 'dismiss', String(ids[1])]);
  assert.equal(dismissed.code, 0, dismissed.stderr);
  const before = state(store);
  assert.deepEqual(before.reportStates, [{ report_id: ids[1], state: 'dismissed' }], 'written where the provider reads it');

  const rotated = await cli(['--database', db, 'rotate-franking-key']);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.equal(store.frankingKeys().length, before.frankingKeys + 1);

  const invalidated = await cli(['--database', db, '--json', 'invalidate-key-package-tokens']);
  assert.deepEqual([invalidated.code, invalidated.signal], [0, null], invalidated.stderr);
  assert.deepEqual(JSON.parse(invalidated.stdout), { invalidated: true, epoch: 2, domains: [{ domain: DOMAIN, epoch: 2 }] });
  assert.equal(store.ohttpTokenEpoch(DOMAIN), 2);

  // remove and ban go through the running provider's files: they need --data.
  for (const command of ['remove', 'ban']) {
    const r = await cli(['--database', db, command, String(ids[0])]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${command} needs --data <dir>: it asks the running provider`));
  }
}

/** Every command refused on a database of another version, with `message`; nothing changes. */
async function refusedAll(db: string, store: Store, ids: number[], message: RegExp): Promise<void> {
  const before = state(store);
  for (const args of [['reports'], ['show', String(ids[0])], ['dismiss', String(ids[0])], ['rotate-franking-key'], ['invalidate-key-package-tokens']]) {
    const r = await cli(['--database', db, ...args]);
    assert.deepEqual([r.code, r.stdout], [1, ''], `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, message, args[0]);
  }
  assert.deepEqual(state(store), before, 'nothing changed');
}

test('provider-admin --database postgres://…: every database command, no data folder', async () => {
  const url = await newDatabase(pgUrl, 'admin_pg');
  const { store, ids } = await providerDatabase({ kind: 'postgres', url });
  try {
    await commandsWork(url, store, ids);
  } finally {
    store.close();
  }
});

test('provider-admin --database postgres://… of another schema version: refused, saying what to do, nothing changed', async () => {
  const url = await newDatabase(pgUrl, 'admin_pg_version');
  const { store, ids } = await providerDatabase({ kind: 'postgres', url });
  const direct = new pg.Client({ connectionString: url });
  await direct.connect();
  try {
    // Newer: a provider of a later version migrated it.
    await direct.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [PG_SCHEMA_VERSION + 1]);
    await refusedAll(url, store, ids, new RegExp(`is at schema version ${PG_SCHEMA_VERSION + 1}, newer than this tool \\(${PG_SCHEMA_VERSION}\\): use the provider-admin of the provider version`));
    // Older: no provider of this version has run on it yet.
    await direct.query('DELETE FROM schema_migrations WHERE version >= $1', [PG_SCHEMA_VERSION]);
    await refusedAll(url, store, ids, new RegExp(`is at schema version ${PG_SCHEMA_VERSION - 1}, this tool expects ${PG_SCHEMA_VERSION}: start a provider node of this version on it first`));
    // Never migrated, and no server at all.
    const empty = await newDatabase(pgUrl, 'admin_pg_empty');
    const r = await cli(['--database', empty, 'reports']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds no provider schema \(has a provider been started on it once\?\)/);
    const emptyClient = new pg.Client({ connectionString: empty });
    await emptyClient.connect();
    assert.equal((await emptyClient.query("SELECT to_regclass('schema_migrations')::text AS t")).rows[0].t, null, 'not migrated by provider-admin');
    await emptyClient.end();
    const down = await cli(['--database', 'postgres://nobody:secret@127.0.0.1:1/none', 'reports']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot read the PostgreSQL database postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none/);
    assert.ok(!down.stderr.includes('secret'), 'the password stays out of the message');
  } finally {
    await direct.end();
    store.close();
  }
});

test('provider-admin --database sqlite:DIR: the same commands; another schema version refused with nothing changed', async () => {
  const dir = tempDir('admin-db-sqlite');
  const { store, ids } = await providerDatabase({ kind: 'sqlite', dir });
  try {
    await commandsWork(`sqlite:${dir}`, store, ids);
  } finally {
    store.close();
  }
  const file = path.join(dir, DB_FILE);
  const setVersion = (v: number) => {
    const db = new Database(file);
    db.pragma(`user_version = ${v}`);
    db.close();
  };
  setVersion(SCHEMA_VERSION + 1);
  const reopened = new Database(file, { readonly: true });
  const snapshot = () => ({
    states: reopened.prepare('SELECT report_id, state FROM admin_report_states ORDER BY report_id').all(),
    keys: reopened.prepare('SELECT count(*) AS n FROM franking_keys').get(),
    epoch: reopened.prepare('SELECT token_epoch FROM ohttp_gateway_secrets').get(),
  });
  const before = snapshot();
  for (const args of [['reports'], ['dismiss', String(ids[0])], ['rotate-franking-key'], ['invalidate-key-package-tokens']]) {
    const r = await cli(['--database', `sqlite:${dir}`, ...args]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`is at schema version ${SCHEMA_VERSION + 1}, this tool expects ${SCHEMA_VERSION}`));
  }
  assert.deepEqual(snapshot(), before);
  reopened.close();
  // A folder with no provider database, and a bad --database.
  const none = await cli(['--database', `sqlite:${tempDir('admin-db-none')}`, 'reports']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no provider database at .*provider\.sqlite/);
  for (const bad of ['mysql://x', 'sqlite:']) {
    const r = await cli(['--database', bad, 'reports']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--database .*\n.*usage: provider-admin/s);
  }
  const neither = await cli(['reports']);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /--data or --database is required/);
});

