// Upload staging folders (src-provider/staging.ts) on real folders: one process on SQLite empties
// its folder at start; nodes sharing a data folder over PostgreSQL each empty only their own, and
// sweep another node's only of files untouched for a day.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareStaging, STALE_STAGING_MS, stagedPath, stagingName } from '../../src-provider/staging.js';

function parentDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-staging-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const put = (file: string, ageMs = 0) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'partial upload');
  const at = (Date.now() - ageMs) / 1000;
  fs.utimesSync(file, at, at);
};

test('one process (SQLite): incoming/ is made, then emptied at every start, folders left by nodes included', (t) => {
  const parent = parentDir(t);
  const dir = prepareStaging(parent, undefined);
  assert.equal(dir, path.join(parent, 'incoming'));
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  put(path.join(dir, 'a.part'));
  put(path.join(dir, 'n1', 'b.part'));
  assert.equal(prepareStaging(parent, undefined), dir);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('nodes sharing the folder: a starting node empties its own staging, keeps uploads other nodes stream now, sweeps day-old ones', (t) => {
  const parent = parentDir(t);
  const n1 = prepareStaging(parent, 'n1');
  assert.equal(n1, path.join(parent, 'incoming', 'n1'));
  put(path.join(n1, 'streaming.part')); // n1 is receiving this now
  put(path.join(parent, 'incoming', 'gone-node', 'old.part'), STALE_STAGING_MS + 60_000); // a node that stopped for good
  const old = (Date.now() - STALE_STAGING_MS - 60_000) / 1000;
  fs.utimesSync(path.join(parent, 'incoming', 'gone-node'), old, old);
  fs.mkdirSync(path.join(parent, 'incoming', 'idle-node')); // running, nothing uploaded yet
  put(path.join(parent, 'incoming', 'n3', 'old.part'), STALE_STAGING_MS + 60_000);
  put(path.join(parent, 'incoming', 'n3', 'fresh.part'));
  put(path.join(parent, 'incoming', 'loose.part')); // from a single-process run before
  const n2 = prepareStaging(parent, 'n2');
  put(path.join(n2, 'mine.part'));
  assert.ok(fs.existsSync(path.join(n1, 'streaming.part')), "another node's upload in progress is kept");
  assert.equal(fs.existsSync(path.join(parent, 'incoming', 'gone-node')), false, 'a folder untouched for a day, with only day-old files, goes');
  assert.ok(fs.existsSync(path.join(parent, 'incoming', 'idle-node')), "a running node's empty folder stays");
  assert.deepEqual(fs.readdirSync(path.join(parent, 'incoming', 'n3')), ['fresh.part']);
  assert.equal(fs.existsSync(path.join(parent, 'incoming', 'loose.part')), false);
  // n2 restarts: its own leftovers go, n1's upload stays.
  prepareStaging(parent, 'n2');
  assert.deepEqual(fs.readdirSync(n2), []);
  assert.ok(fs.existsSync(path.join(n1, 'streaming.part')));
});

test('stagedPath makes the folder again when it was removed', (t) => {
  const dir = prepareStaging(parentDir(t), 'n1');
  fs.rmdirSync(dir);
  const file = stagedPath(dir, 'upload');
  fs.writeFileSync(file, 'x');
  assert.equal(path.dirname(file), dir);
});

test('a node name becomes one safe path segment', () => {
  assert.equal(stagingName('n1'), 'n1');
  assert.equal(stagingName('host-1234'), 'host-1234');
  assert.equal(stagingName('../../etc'), '__.._etc');
  assert.equal(stagingName('a/b c'), 'a_b_c');
  assert.equal(stagingName('..'), '_');
  assert.equal(stagingName(''), '_');
  assert.equal(stagingName('x'.repeat(300)).length, 100);
});
