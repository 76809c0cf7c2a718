// The provider's rate limits in its database (src-provider/rate-limits.ts) on a real SQLite file,
// with the clock in the test's hand: the token bucket's arithmetic (burst, continuous refill, the
// wait it answers, never more than the burst), buckets by name and key, keys stored only hashed,
// the state surviving a reopen of the file, a node whose clock is behind, the sweep of refilled
// rows (bounded per run, and a swept bucket answering as a new one), and the failed-login throttle
// built on it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoginThrottle } from '../../src-provider/accounts.js';
import { RateLimiter, rateKeyHash } from '../../src-provider/rate-limits.js';
import { SCHEMA_VERSION, Store } from '../../src-provider/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-rate-limits-'));
const file = path.join(dir, 'provider.sqlite');
let store = new Store(file);
after(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let now = 1_800_000_000_000;
const clock = () => now;
const rows = (bucket?: string): number =>
  bucket === undefined
    ? (store.db.prepare('SELECT count(*) AS n FROM rate_buckets').get() as { n: number }).n
    : (store.db.prepare('SELECT count(*) AS n FROM rate_buckets WHERE bucket = ?').get(bucket) as { n: number }).n;

test('the migration made the table at the newest schema version', () => {
  assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  const cols = (store.db.prepare("SELECT name FROM pragma_table_info('rate_buckets')").pluck().all() as string[]).sort();
  assert.deepEqual(cols, ['bucket', 'full_at', 'key_hash', 'tokens', 'updated_at']);
});

test('a bucket: the burst at once, then one token per 60 000 / rate ms; the wait is exact; never above the burst', () => {
  // 3 at once, 6 a minute: one token every 10 s.
  const l = new RateLimiter(store, 'arith', 6, clock, 3);
  assert.equal(l.ratePerMinute, 6);
  for (let i = 0; i < 3; i++) assert.equal(l.take('k'), 0, `token ${i + 1} of the burst`);
  assert.equal(l.take('k'), 10_000, 'empty: the next token in 10 s');
  assert.equal(l.take('k'), 10_000, 'a refused take spends nothing');
  now += 4_000;
  assert.equal(l.take('k'), 6_000);
  now += 6_000;
  assert.equal(l.take('k'), 0, 'one token back after 10 s');
  assert.equal(l.take('k'), 10_000);
  // An hour idle refills to the burst, not to 360 tokens.
  now += 3_600_000;
  for (let i = 0; i < 3; i++) assert.equal(l.take('k'), 0);
  assert.ok(l.take('k') > 0, 'the burst, no more');
  // Without a burst given, the burst is the rate.
  const plain = new RateLimiter(store, 'arith-plain', 2, clock);
  assert.deepEqual([plain.take('k'), plain.take('k'), plain.take('k')], [0, 0, 30_000]);
});

test('buckets are per key and per bucket name; keys are stored only as SHA-256 of name and key', () => {
  const a = new RateLimiter(store, 'names-a', 1, clock, 1);
  const b = new RateLimiter(store, 'names-b', 1, clock, 1);
  const key = 'mimi://a.example/u/secret-handle-zq';
  assert.equal(a.take(key), 0);
  assert.ok(a.take(key) > 0);
  assert.equal(a.take('mimi://a.example/u/someone-else'), 0, 'another key: its own bucket');
  assert.equal(b.take(key), 0, 'the same key under another name: its own bucket');
  const stored = store.db.prepare('SELECT bucket, key_hash FROM rate_buckets WHERE bucket IN (?, ?) ORDER BY bucket').all('names-a', 'names-b') as { bucket: string; key_hash: Buffer }[];
  assert.equal(stored.length, 3);
  assert.ok(stored.some((r) => r.bucket === 'names-a' && r.key_hash.equals(rateKeyHash('names-a', key))));
  assert.ok(stored.some((r) => r.bucket === 'names-b' && r.key_hash.equals(rateKeyHash('names-b', key))));
  assert.ok(!rateKeyHash('names-a', key).equals(rateKeyHash('names-b', key)));
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  for (const f of fs.readdirSync(dir)) assert.equal(fs.readFileSync(path.join(dir, f)).includes(Buffer.from('secret-handle-zq')), false, `${f} names the key`);
});

test('the state survives reopening the file (a restart), and clear() fills a bucket again', () => {
  const before = new RateLimiter(store, 'restart', 1, clock, 2);
  assert.equal(before.take('k'), 0);
  assert.equal(before.take('k'), 0);
  store.close();
  store = new Store(file);
  const afterRestart = new RateLimiter(store, 'restart', 1, clock, 2);
  assert.equal(afterRestart.take('k'), 60_000, 'still empty after the restart');
  afterRestart.clear('k');
  assert.equal(rows('restart'), 0);
  assert.equal(afterRestart.take('k'), 0);
  assert.equal(afterRestart.take('k'), 0);
  assert.ok(afterRestart.take('k') > 0);
});

test('a node whose clock is behind gets no refill, and does not move the stored time back', () => {
  let t = now;
  const ahead = new RateLimiter(store, 'skew', 6, () => t, 1);
  let behindAt = now - 30_000;
  const behind = new RateLimiter(store, 'skew', 6, () => behindAt, 1);
  assert.equal(ahead.take('k'), 0);
  assert.equal(behind.take('k'), 10_000, 'no token from 30 s of negative time');
  behindAt += 10_000; // still 20 s behind
  assert.equal(behind.take('k'), 10_000);
  t += 10_000;
  assert.equal(ahead.take('k'), 0, 'the refill counts from the row’s own time');
});

test('the sweep deletes only refilled rows, at most 256 a run; a swept bucket answers as a new one', () => {
  store.db.prepare('DELETE FROM rate_buckets').run();
  const t0 = now;
  // 300 keys one token short (full again after 10 s) and 5 drained ones (full after 30 s).
  const l = new RateLimiter(store, 'sweep', 6, clock, 3);
  for (let i = 0; i < 300; i++) assert.equal(l.take(`short-${i}`), 0);
  for (let i = 0; i < 5; i++) for (let k = 0; k < 3; k++) assert.equal(l.take(`drained-${i}`), 0);
  assert.equal(rows('sweep'), 305, 'the takes’ own sweeps found nothing refilled yet');
  now = t0 + 9_999;
  assert.equal(l.sweep(), 0, 'nothing is full yet');
  now = t0 + 10_000;
  assert.equal(l.sweep(), 256, 'bounded');
  assert.equal(l.sweep(), 44);
  assert.equal(l.sweep(), 0);
  assert.equal(rows('sweep'), 5, 'the drained buckets stay');
  // A drained bucket is still empty-ish: 10 s gave it one token of three.
  assert.equal(l.take('drained-0'), 0);
  assert.ok(l.take('drained-0') > 0);
  // A swept key has its whole burst again, as it would have had.
  for (let k = 0; k < 3; k++) assert.equal(l.take('short-7'), 0);
  assert.ok(l.take('short-7') > 0);
  now = t0 + 60_000;
  assert.ok(l.sweep() >= 5);
  assert.equal(rows('sweep'), 0);
});

test('takes sweep on their own: a stream of one-off keys does not grow the table past what is still refilling', () => {
  store.db.prepare('DELETE FROM rate_buckets').run();
  // 60 a minute, burst 1: each one-off key's row is full again after 1 s.
  const l = new RateLimiter(store, 'stream', 60, clock, 1);
  for (let i = 0; i < 2_000; i++) {
    now += 100;
    assert.equal(l.take(`once-${i}`), 0);
  }
  // Rows younger than 1 s (10 of them) are still refilling; each sweep (every 64 takes) removed
  // what was full, so at most the last 64 takes' rows are left.
  assert.ok(rows('stream') <= 64, `${rows('stream')} rows left`);
});

test('the login throttle: maxFails attempts, then one per windowMs / maxFails; a success clears it; kept across a reopen', () => {
  const throttle = new LoginThrottle(store, 5, 60_000, clock);
  for (let i = 0; i < 5; i++) assert.equal(throttle.attempt('dave'), 0, `attempt ${i + 1}`);
  const wait = throttle.attempt('dave');
  assert.equal(wait, 12_000, 'one guess back every 12 s at 5 a minute');
  assert.equal(throttle.attempt('erin'), 0, 'another handle is not held up');
  now += 12_000;
  assert.equal(throttle.attempt('dave'), 0);
  assert.ok(throttle.attempt('dave') > 0);
  store.close();
  store = new Store(file);
  const again = new LoginThrottle(store, 5, 60_000, clock);
  assert.ok(again.attempt('dave') > 0, 'a restart does not reset the count');
  again.succeed('dave');
  for (let i = 0; i < 5; i++) assert.equal(again.attempt('dave'), 0, 'cleared by a success');
  assert.ok(again.attempt('dave') > 0);
});
