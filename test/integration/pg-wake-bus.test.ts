// The cross-node push wake over PostgreSQL LISTEN/NOTIFY (src-provider/pg/wake-bus.ts), on a real
// throwaway PostgreSQL server: two buses stand for two provider nodes, a pool for the node that
// stores inbox rows. A wake arrives only after the storing transaction commits and never for a
// rollback; long device lists are split under PostgreSQL's payload limit; a killed listening
// connection comes back by itself and says 'resync' (wakes may have been missed meanwhile).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { announceWake, parseWake, WAKE_CHANNEL, WakeBus, wakePayloads } from '../../src-provider/pg/wake-bus.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { waitFor } from '../helpers/provider-process.js';

let server: PostgresServer;
let pool: pg.Pool;
const buses: WakeBus[] = [];

before(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
});
after(async () => {
  for (const b of buses) await b.close();
  await pool?.end();
  await server?.stop();
});

/** A bus that records what it hears. */
async function node(name: string) {
  const heard = { wakes: [] as string[][], resyncs: 0, logs: [] as string[] };
  const bus = new WakeBus({ url: server.url, name, retryMs: 50, log: (l) => heard.logs.push(l) });
  bus.on('wake', (d) => heard.wakes.push(d));
  bus.on('resync', () => heard.resyncs++);
  buses.push(bus);
  await bus.start();
  return { bus, heard, devices: () => heard.wakes.flat() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a wake reaches every node after COMMIT, not before; a rollback wakes nobody', async () => {
  const a = await node('node-a');
  const b = await node('node-b');
  assert.equal(a.heard.resyncs, 1, 'listening for the first time counts as a resync');
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    await announceWake(tx, ['mimi://x.example/d/alice/1', 'mimi://x.example/d/bob/1']);
    await sleep(200);
    assert.deepEqual([a.devices(), b.devices()], [[], []], 'nothing before the commit');
    await tx.query('COMMIT');
    await waitFor(() => a.devices().length === 2 && b.devices().length === 2, 'the wake on both nodes', 5_000);
    assert.deepEqual(b.heard.wakes, [['mimi://x.example/d/alice/1', 'mimi://x.example/d/bob/1']]);

    await tx.query('BEGIN');
    await announceWake(tx, ['mimi://x.example/d/carol/1']);
    await tx.query('ROLLBACK');
    // A committed wake after it: once that one is heard, the rolled-back one would have been too.
    await announceWake(pool, ['mimi://x.example/d/dave/1']);
    await waitFor(() => b.devices().includes('mimi://x.example/d/dave/1'), 'the later wake', 5_000);
    assert.ok(!b.devices().includes('mimi://x.example/d/carol/1') && !a.devices().includes('mimi://x.example/d/carol/1'), 'no wake for a rolled-back transaction');
  } finally {
    tx.release();
  }
});

test('a long device list is split under the payload limit, each device in exactly one wake', async () => {
  const devices = Array.from({ length: 600 }, (_, i) => `mimi://provider-${i % 7}.example/d/${'u'.repeat(20)}${i}/${'c'.repeat(22)}`);
  const payloads = wakePayloads([...devices, devices[0]]);
  assert.ok(payloads.length > 1, 'split');
  assert.ok(payloads.every((p) => Buffer.byteLength(p) < 8000), 'every payload under 8,000 bytes');
  assert.deepEqual(payloads.flatMap((p) => parseWake(p)!), devices, 'all, once, in order');
  assert.throws(() => wakePayloads(['x'.repeat(9000)]), /too long/);

  const c = await node('node-c');
  await announceWake(pool, devices);
  await waitFor(() => c.devices().length === devices.length, 'every device woken', 5_000);
  assert.deepEqual(c.devices(), devices);
});

test('garbage on the channel is ignored and logged', async () => {
  const d = await node('node-d');
  await pool.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, 'not json']);
  await pool.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, '[1,2]']);
  await announceWake(pool, ['mimi://x.example/d/erin/1']);
  await waitFor(() => d.devices().includes('mimi://x.example/d/erin/1'), 'the good wake', 5_000);
  assert.deepEqual(d.heard.wakes, [['mimi://x.example/d/erin/1']]);
  assert.equal(d.heard.logs.filter((l) => /not a device list/.test(l)).length, 2);
});

test('a terminated listening connection reconnects by itself, resyncs, and hears later wakes', async () => {
  const e = await node('node-e');
  const before = e.heard.resyncs;
  const killed = await pool.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'node-e' AND datname = current_database()");
  assert.equal(killed.rowCount, 1);
  await waitFor(() => e.heard.resyncs === before + 1 && e.bus.listening, 'listening again', 10_000);
  assert.ok(e.heard.logs.some((l) => /connection lost/.test(l)), e.heard.logs.join('\n'));
  await announceWake(pool, ['mimi://x.example/d/frank/1']);
  await waitFor(() => e.devices().includes('mimi://x.example/d/frank/1'), 'a wake after the reconnect', 5_000);
});
