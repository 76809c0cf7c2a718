// Leases over PostgreSQL advisory locks (src-provider/pg/leases.ts), on a real throwaway server:
// three managers stand for three provider nodes. One node at a time holds a name; a release or the
// holder's death (its backend terminated, as a kill -9 of the node would end it) frees it for the
// others at once, and the dead holder is told it lost everything it held.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { leaseKey, LeaseManager } from '../../src-provider/pg/leases.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { waitFor } from '../helpers/provider-process.js';

let server: PostgresServer;
let admin: pg.Pool;
const managers: LeaseManager[] = [];

before(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.url, max: 2 });
});
after(async () => {
  for (const m of managers) await m.close();
  await admin?.end();
  await server?.stop();
});

function node(name: string, namespace = 'fanout'): LeaseManager {
  const m = new LeaseManager({ url: server.url, namespace, name });
  managers.push(m);
  return m;
}

test('lease keys: the same for the same purpose and name on every node, different otherwise', () => {
  assert.equal(leaseKey('fanout', 'b.example'), leaseKey('fanout', 'b.example'));
  assert.notEqual(leaseKey('fanout', 'b.example'), leaseKey('fanout', 'c.example'));
  assert.notEqual(leaseKey('a', 'b\0c'), leaseKey('a\0b', 'c'), 'namespace and name cannot run into each other');
  assert.notEqual(leaseKey('fanout', 'b.example'), leaseKey('fanoutb', '.example'));
  const k = leaseKey('fanout', 'x');
  assert.ok(k >= -(2n ** 63n) && k < 2n ** 63n);
});

test('one node at a time: racing tries give each name to exactly one; a release hands it on', async () => {
  const [a, b, c] = [node('lease-a'), node('lease-b'), node('lease-c')];
  const domains = ['b.example', 'c.example', 'd.example', 'e.example'];
  const tries = await Promise.all(domains.flatMap((d) => [a, b, c].map(async (m) => ({ d, m, ok: await m.tryAcquire(d) }))));
  for (const d of domains) assert.equal(tries.filter((t) => t.d === d && t.ok).length, 1, `exactly one holder of ${d}`);
  const holder = tries.find((t) => t.d === 'b.example' && t.ok)!.m;
  assert.equal(await holder.tryAcquire('b.example'), true, 'holding it already');
  const other = [a, b, c].find((m) => m !== holder)!;
  assert.equal(await other.tryAcquire('b.example'), false);
  await holder.release('b.example');
  assert.equal(holder.holds('b.example'), false);
  assert.equal(await other.tryAcquire('b.example'), true, 'free once released');
  // Other namespaces do not share locks.
  assert.equal(await node('lease-d', 'knock-sweep').tryAcquire('b.example'), true);
  for (const m of [a, b, c]) for (const d of m.names) await m.release(d);
});

test('a holder that dies frees its leases at once, and is told it lost them', async () => {
  const a = node('lease-dying');
  const b = node('lease-survivor');
  assert.equal(await a.tryAcquire('f.example'), true);
  assert.equal(await a.tryAcquire('g.example'), true);
  assert.equal(await b.tryAcquire('f.example'), false);
  const lost: string[][] = [];
  a.on('lost', (names) => lost.push(names));
  const r = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lease-dying' AND datname = current_database()");
  assert.equal(r.rowCount, 1);
  await waitFor(() => lost.length === 1, 'the dying node told', 10_000);
  assert.deepEqual(lost[0].sort(), ['f.example', 'g.example']);
  assert.deepEqual(a.names, []);
  await waitFor(async () => await b.tryAcquire('f.example'), 'the survivor takes over', 10_000);
  // The node that lost its connection can work again on a new one, for what is free.
  assert.equal(await a.tryAcquire('f.example'), false, 'not what the survivor holds now');
  assert.equal(await a.tryAcquire('g.example'), true);
});
