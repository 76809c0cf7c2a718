// Group commit (src-provider/write-batch.ts) on a real provider store file: concurrent jobs share
// one transaction, each settles only after that transaction committed (its rows visible from a
// second connection), a failing job rolls back only its own writes and announcements, and a failed
// COMMIT fails every job of the batch with none of their rows kept.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DB_FILE, openStore, type Store } from '../../src-provider/store.js';
import { WriteBatch } from '../../src-provider/write-batch.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function freshStore(): { store: Store; reader: Database.Database } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-write-batch-'));
  dirs.push(dir);
  const store = openStore(dir);
  store.db.exec(`
    CREATE TABLE parent (id INTEGER PRIMARY KEY);
    CREATE TABLE t (x INTEGER NOT NULL, p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
  `);
  // A second connection: sees only what is committed.
  const reader = new Database(path.join(dir, DB_FILE), { readonly: true });
  return { store, reader };
}

const count = (db: Database.Database) => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;

test('concurrent jobs share one transaction and settle after its commit, in order', async () => {
  const { store, reader } = freshStore();
  const batch = new WriteBatch(store);
  const insert = store.db.prepare('INSERT INTO t (x) VALUES (?)');
  const settled: number[] = [];
  const jobs = Array.from({ length: 50 }, (_, i) =>
    batch
      .run(() => {
        insert.run(i);
        return i;
      })
      .then((v) => {
        // Answered only once durable: the commit happened and another connection sees every row.
        assert.equal(store.db.inTransaction, false);
        assert.equal(count(reader), 50);
        settled.push(v);
        return v;
      }),
  );
  assert.equal(count(reader), 0, 'nothing runs before the batch is flushed');
  assert.deepEqual(await Promise.all(jobs), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(settled, Array.from({ length: 50 }, (_, i) => i), 'settled in arrival order');
  assert.deepEqual(
    (reader.prepare('SELECT x FROM t ORDER BY rowid').all() as { x: number }[]).map((r) => r.x),
    Array.from({ length: 50 }, (_, i) => i),
    'written in arrival order',
  );
  assert.deepEqual(batch.stats(), { jobs: 50, transactions: 1 });
  store.close();
  reader.close();
});

test('a failing job rolls back its own writes and announcements only', async () => {
  const { store, reader } = freshStore();
  const batch = new WriteBatch(store);
  const insert = store.db.prepare('INSERT INTO t (x) VALUES (?)');
  const announced: number[] = [];
  const job = (i: number, fail: boolean) =>
    batch.run(() => {
      insert.run(i);
      store.afterCommit(() => {
        assert.equal(store.db.inTransaction, false, 'announcements wait for the commit');
        announced.push(i);
      });
      if (fail) throw new Error(`job ${i} refused`);
      return i;
    });
  const results = await Promise.allSettled([job(1, false), job(2, true), job(3, false)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.match(String((results[1] as PromiseRejectedResult).reason), /job 2 refused/);
  assert.deepEqual(
    (reader.prepare('SELECT x FROM t ORDER BY rowid').all() as { x: number }[]).map((r) => r.x),
    [1, 3],
  );
  assert.deepEqual(announced, [1, 3]);
  assert.equal(batch.stats().transactions, 1);
  store.close();
  reader.close();
});

test('a failed COMMIT fails every job of the batch and keeps none of their rows', async () => {
  const { store, reader } = freshStore();
  const batch = new WriteBatch(store);
  const announced: string[] = [];
  const good = batch.run(() => {
    store.db.prepare('INSERT INTO t (x) VALUES (1)').run();
    store.afterCommit(() => announced.push('good'));
    return 'good';
  });
  // A deferred foreign key is checked at COMMIT only: this job succeeds, the commit then fails.
  const bad = batch.run(() => store.db.prepare('INSERT INTO t (x, p) VALUES (2, 999)').run());
  const results = await Promise.allSettled([good, bad]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  assert.match(String((results[0] as PromiseRejectedResult).reason), /FOREIGN KEY/i);
  assert.equal(count(reader), 0);
  assert.deepEqual(announced, [], 'nothing announced for rows that do not exist');
  assert.equal(store.db.inTransaction, false);
  // The batch goes on working afterwards.
  assert.equal(await batch.run(() => store.db.prepare('INSERT INTO t (x) VALUES (3)').run().changes), 1);
  assert.equal(count(reader), 1);
  store.close();
  reader.close();
});

test('per-request mode (the bench baseline): one transaction per job, run at once', async () => {
  const { store, reader } = freshStore();
  const batch = new WriteBatch(store, { grouped: false });
  const insert = store.db.prepare('INSERT INTO t (x) VALUES (?)');
  const p = [1, 2, 3].map((i) => batch.run(() => insert.run(i)));
  assert.equal(count(reader), 3, 'each job committed before run() returned');
  await Promise.all(p);
  assert.deepEqual(batch.stats(), { jobs: 3, transactions: 3 });
  await assert.rejects(
    batch.run(() => {
      insert.run(4);
      throw new Error('refused');
    }),
    /refused/,
  );
  assert.equal(count(reader), 3);
  store.close();
  reader.close();
});

test('a large burst is split into bounded transactions, all committed', async () => {
  const { store, reader } = freshStore();
  const batch = new WriteBatch(store, { maxJobs: 16 });
  const insert = store.db.prepare('INSERT INTO t (x) VALUES (?)');
  await Promise.all(Array.from({ length: 100 }, (_, i) => batch.run(() => insert.run(i))));
  assert.equal(count(reader), 100);
  assert.deepEqual(batch.stats(), { jobs: 100, transactions: 7 });
  store.close();
  reader.close();
});
