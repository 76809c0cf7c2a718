// Issue 17: the provider's rate limits hold across nodes (src-provider/rate-limits.ts). Three node
// processes of a.example on one PostgreSQL database: password guesses spread over the nodes, one
// after another or all at once, are refused after the same number as on one node; an account's
// connection requests spread over the nodes spend one bucket; a restarted node goes on from the
// stored state; the stored keys are hashes, never the handle or URI. Then the same on one node
// over SQLite (--database sqlite:DIR), restarted on its file.
//
// PostgreSQL: the server of MIMI_TEST_POSTGRES when the test command gives one, else a throwaway
// server of this file's own.

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openDatabase } from '../../src-provider/database.js';
import { RateLimiter, rateKeyHash } from '../../src-provider/rate-limits.js';
import { DB_FILE } from '../../src-provider/store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { newDatabase, restartablePort, startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';
import { startNodes, type ProviderNode } from '../helpers/nodes.js';

const PASSWORD = 'correct horse battery staple';
/** The login throttle's defaults (accounts.ts): 5 attempts, one back every 12 s. */
const MAX_FAILS = 5;
const REFILL_MS = 12_000;
/** The connection-request defaults (client-api.ts): 10 at once, 10 an hour. */
const CONNECTION_BURST = 10;

interface Target {
  url: string;
  caPem: string;
}
interface Reply {
  status: number;
  retryAfter: string | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One client API request, as is: its status, Retry-After and JSON body. */
function call(t: Target, method: string, urlPath: string, body?: unknown, token?: string): Promise<Reply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(urlPath, t.url),
      {
        method,
        ca: t.caPem,
        agent: false,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { 'content-length': String(payload.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = { text };
          }
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const uniqueHandle = (base: string) => `${base}-${Math.random().toString(36).slice(2, 8)}`;
const register = async (t: Target, handle: string): Promise<{ token: string; userUri: string }> => {
  const r = await call(t, 'POST', '/v1/accounts', { handle, password: PASSWORD, deviceName: 'laptop' });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
};
const login = (t: Target, handle: string, password: string) => call(t, 'POST', '/v1/sessions', { handle, password, deviceName: 'guess' });

/** What an engine's run needs: the nodes (one for SQLite), a restart of node i, and the stored rows. */
interface Setup {
  nodes: () => Target[];
  restart(i: number): Promise<void>;
  rows(): Promise<{ bucket: string; key_hash: Buffer; tokens: number }[]>;
  /** Every text column of rate_buckets and its key hashes, as bytes, for the scan for names. */
  raw(): Promise<Buffer>;
}

function scenarios(name: string, setup: () => Setup): void {
  test(`${name}: sequential wrong passwords spread over the nodes are refused after ${MAX_FAILS}, like on one node; a restarted node goes on from the stored count`, async (t: TestContext) => {
    const s = setup();
    const nodes = s.nodes();
    const handle = uniqueHandle('dee');
    await register(nodes[0], handle);
    const first = Date.now();
    for (let i = 0; i < MAX_FAILS; i++) {
      const r = await login(nodes[i % nodes.length], handle, `wrong guess ${i}`);
      assert.equal(r.status, 401, `guess ${i + 1} on node ${i % nodes.length}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.code, 'wrongPassword');
    }
    // Even the right password now: the next node in turn refuses, saying when to come back.
    const over = await login(nodes[MAX_FAILS % nodes.length], handle, PASSWORD);
    assert.equal(over.status, 429, JSON.stringify(over.json));
    assert.equal(over.json.error.code, 'rateLimited');
    assert.ok(Number(over.retryAfter) >= 1 && Number(over.retryAfter) <= REFILL_MS / 1000, `Retry-After ${over.retryAfter}`);
    // The stored key is the hash of the bucket name and the handle.
    const hash = rateKeyHash('login', handle);
    assert.ok((await s.rows()).some((r) => r.bucket === 'login' && r.key_hash.equals(hash)), 'a login row under the handle’s hash');
    assert.equal((await s.raw()).includes(Buffer.from(handle)), false, 'rate_buckets names the handle');
    // A restarted node reads the same bucket. (A token comes back 12 s after the first guess: a
    // restart slower than that on a loaded machine cannot show it, and says so.)
    const k = (MAX_FAILS + 1) % nodes.length;
    await s.restart(k);
    const again = await login(s.nodes()[k], handle, PASSWORD);
    if (Date.now() - first < REFILL_MS - 500) {
      assert.equal(again.status, 429, `after restarting node ${k}: ${JSON.stringify(again.json)}`);
    } else {
      t.diagnostic(`restart took too long to check the login bucket (${Date.now() - first} ms since the first guess); answer ${again.status}`);
    }
    // A success clears the count (once a token is back: 12 s after the first guess reached a
    // node, which was a little after `first`).
    await new Promise((r) => setTimeout(r, Math.max(0, first + REFILL_MS + 1_500 - Date.now())));
    const ok = await login(s.nodes()[0], handle, PASSWORD);
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.equal((await s.rows()).some((r) => r.bucket === 'login' && r.key_hash.equals(hash)), false, 'cleared by the success');
  });

  test(`${name}: ${3 * MAX_FAILS} wrong passwords at once over the nodes: exactly ${MAX_FAILS} are checked, the rest refused`, async () => {
    const s = setup();
    const nodes = s.nodes();
    const handle = uniqueHandle('eve');
    await register(nodes[0], handle);
    const replies = await Promise.all(Array.from({ length: 3 * MAX_FAILS }, (_, i) => login(nodes[i % nodes.length], handle, `guess ${i}`)));
    const statuses = replies.map((r) => r.status);
    assert.equal(statuses.filter((x) => x === 401).length, MAX_FAILS, statuses.join(','));
    assert.equal(statuses.filter((x) => x === 429).length, 2 * MAX_FAILS, statuses.join(','));
  });

  test(`${name}: an account's connection requests spread over the nodes spend one bucket of ${CONNECTION_BURST}, kept across a restart`, async () => {
    const s = setup();
    const nodes = s.nodes();
    const me = await register(nodes[0], uniqueHandle('carl'));
    const issued = await call(nodes[0], 'POST', '/v1/pseudonyms', { count: 1 }, me.token);
    assert.equal(issued.status, 201, JSON.stringify(issued.json));
    const asPseudonym: string = issued.json.issued[0].userPseudonym;
    // A claim of a real user as a pseudonym is a connection request: its token is taken before
    // anything else is looked at (so an unknown room or user is no free probe).
    const claim = (i: number, node: Target) =>
      call(node, 'POST', '/v1/keyPackages/claim', { roomUri: `mimi://a.example/r/none-${i}`, users: [`mimi://a.example/u/nobody-${i}`], asPseudonym }, me.token);
    for (let i = 0; i < CONNECTION_BURST; i++) {
      const r = await claim(i, nodes[i % nodes.length]);
      assert.notEqual(r.status, 429, `request ${i + 1} on node ${i % nodes.length}: ${JSON.stringify(r.json)}`);
    }
    const over = await claim(CONNECTION_BURST, nodes[CONNECTION_BURST % nodes.length]);
    assert.equal(over.status, 429, JSON.stringify(over.json));
    assert.match(over.json.error.message, /connection requests/);
    assert.ok(Number(over.retryAfter) >= 1, `Retry-After ${over.retryAfter}`);
    // One token an hour comes back every 6 minutes: a restart is well inside that.
    await s.restart(0);
    const afterRestart = await claim(CONNECTION_BURST + 1, s.nodes()[0]);
    assert.equal(afterRestart.status, 429, JSON.stringify(afterRestart.json));
    // Another account is not held up.
    const other = await register(s.nodes()[0], uniqueHandle('otto'));
    const otherIssued = await call(s.nodes()[0], 'POST', '/v1/pseudonyms', { count: 1 }, other.token);
    const otherClaim = await call(s.nodes()[nodes.length - 1], 'POST', '/v1/keyPackages/claim', { roomUri: 'mimi://a.example/r/none-x', users: ['mimi://a.example/u/nobody-x'], asPseudonym: otherIssued.json.issued[0].userPseudonym }, other.token);
    assert.notEqual(otherClaim.status, 429, JSON.stringify(otherClaim.json));
    assert.equal((await s.raw()).includes(Buffer.from(me.userUri)), false, 'rate_buckets names the account');
  });
}

describe('three nodes on one PostgreSQL', () => {
  let server: PostgresServer | undefined;
  let url: string;
  let nodes: ProviderNode[] = [];
  let db: pg.Pool;

  before(async () => {
    const shared = process.env.MIMI_TEST_POSTGRES;
    if (shared) url = await newDatabase(shared, 'ratelimits');
    else {
      server = await startPostgres();
      url = server.url;
    }
    nodes = await startNodes({ domain: 'a.example', dataDir: tempDir('rl-nodes'), url, nodeIds: ['n1', 'n2', 'n3'] });
    db = new pg.Pool({ connectionString: url, max: 1 });
  });
  after(async () => {
    for (const n of nodes) if (n.running) await n.stop().catch(() => undefined);
    await db?.end();
    await server?.stop();
  });

  test('PostgreSQL, in-process: two connections (as two nodes) share a bucket with the same arithmetic; the sweep deletes refilled rows only, bounded', async () => {
    // A database of its own: the fake clock is ahead of the nodes' rows, which the sweep would take.
    const own = await newDatabase(url, 'rlsweep');
    const a = await openDatabase({ kind: 'postgres', url: own });
    const b = await openDatabase({ kind: 'postgres', url: own });
    try {
      let now = 1_900_000_000_000;
      const la = new RateLimiter(a, 'pg', 6, () => now, 3);
      const lb = new RateLimiter(b, 'pg', 6, () => now, 3);
      assert.deepEqual([la.take('k'), lb.take('k'), la.take('k'), lb.take('k')], [0, 0, 0, 10_000]);
      now += 4_000;
      assert.equal(la.take('k'), 6_000);
      now += 6_000;
      assert.deepEqual([lb.take('k'), la.take('k')], [0, 10_000]);
      const count = (bucket: string) => Number((a.db.prepare('SELECT count(*) AS n FROM rate_buckets WHERE bucket = ?').get(bucket) as { n: number }).n);
      const t0 = now;
      for (let i = 0; i < 300; i++) la.take(`short-${i}`);
      assert.equal(count('pg'), 301);
      now = t0 + 10_000;
      assert.equal(lb.sweep(), 256, 'bounded');
      assert.equal(la.sweep(), 44, 'the rest of the refilled ones');
      assert.equal(count('pg'), 1, 'the drained bucket stays');
      la.clear('k');
      assert.equal(count('pg'), 0);
    } finally {
      a.close();
      b.close();
    }
  });

  scenarios('PostgreSQL, 3 nodes', () => ({
    nodes: () => nodes,
    async restart(i) {
      await nodes[i].kill9();
      await nodes[i].restart();
    },
    rows: async () => (await db.query('SELECT bucket, key_hash, tokens FROM rate_buckets')).rows,
    raw: async () => Buffer.concat((await db.query('SELECT bucket, key_hash FROM rate_buckets')).rows.flatMap((r) => [Buffer.from(r.bucket), r.key_hash])),
  }));
});

describe('one node on SQLite', () => {
  let node: ProviderProcess;
  let dataDir: string;
  let port: number;
  const start = () => startProviderProcess({ domain: 'a.example', dataDir, port, args: ['--database', `sqlite:${dataDir}`] });
  const read = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(path.join(dataDir, DB_FILE), { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  before(async () => {
    dataDir = tempDir('rl-sqlite');
    port = await restartablePort();
    node = await start();
  });
  after(async () => {
    await node?.stop().catch(() => undefined);
  });

  scenarios('SQLite, 1 node', () => ({
    nodes: () => [node],
    async restart() {
      await node.kill9();
      node = await start();
    },
    rows: async () => read((db) => db.prepare('SELECT bucket, key_hash, tokens FROM rate_buckets').all() as { bucket: string; key_hash: Buffer; tokens: number }[]),
    raw: async () => read((db) => Buffer.concat((db.prepare('SELECT bucket, key_hash FROM rate_buckets').all() as { bucket: string; key_hash: Buffer }[]).flatMap((r) => [Buffer.from(r.bucket), r.key_hash]))),
  }));
});
