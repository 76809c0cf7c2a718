// Issue 17: one provider as three node processes on one PostgreSQL database. Clients reach the
// nodes through TCP load balancers (each preferring another node), so a room has members on every
// node; push across nodes goes by the wake bus, a follower domain's fanout by lease. Real
// processes, real TLS, a throwaway PostgreSQL server.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { ensureDevCa } from '../../src-provider/dev-ca.js';
import { DB_FILE } from '../../src-provider/store.js';
import { holdFirstCommits, testProfile } from '../helpers/profiles.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { restartablePort, startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../helpers/provider-process.js';
import { balancer, startNodes, type Balancer, type ProviderNode } from '../helpers/nodes.js';

let pgServer: PostgresServer;
let engine: MlsEngine;
let nodes: ProviderNode[];
let follower: ProviderProcess;
let followerArgs: string[];
let aDir: string;
let caPem: string;
/** The follower's way to a.example's nodes (all of them, from the first on). */
let peerLb: Balancer;
const balancers: Balancer[] = [];
const open: Profile[] = [];

before(async () => {
  engine = await createMlsEngine();
  pgServer = await startPostgres();
  aDir = tempDir('nodes-a');
  const bDir = tempDir('nodes-b');
  await ensureDevCa(aDir, 'a.example');
  await ensureDevCa(bDir, 'b.example');
  const bPort = await restartablePort();
  // a's ports are known only once the nodes run: the balancer asks when a connection comes.
  peerLb = await balancer(() => nodes.map((n) => n.port));
  followerArgs = ['--peer', `a.example=${peerLb.url}`, '--trust', path.join(aDir, 'ca.pem'), '--consent', 'open'];
  follower = await startProviderProcess({ domain: 'b.example', dataDir: bDir, port: bPort, args: followerArgs });
  nodes = await startNodes({
    domain: 'a.example',
    dataDir: aDir,
    url: pgServer.url,
    nodeIds: ['n1', 'n2', 'n3'],
    // The default write path (group commit): a batch that loses a race with another node's is run
    // again, later if it keeps losing (write-batch.ts), so no request fails for it.
    args: ['--public-url', peerLb.url, '--peer', `b.example=${follower.url}`, '--trust', path.join(bDir, 'ca.pem'), '--consent', 'open'],
  });
  caPem = nodes[0].caPem;
});

after(async () => {
  for (const p of open) await p.close().catch(() => undefined);
  for (const n of nodes ?? []) if (n.running) await n.stop().catch(() => undefined);
  await follower?.stop().catch(() => undefined);
  for (const b of [...balancers, peerLb]) await b?.close();
  await pgServer?.stop();
});

/** A user of a.example whose connections go to node `i` first (the next live one if it is down). */
async function onNode(i: number, handle: string): Promise<Profile> {
  // A dead node refuses the connection and the balancer tries the next one.
  const lb = await balancer(() => nodes.map((n) => n.port), i);
  balancers.push(lb);
  return testProfile({ url: lb.url, caPem }, handle, { engine, keep: open, dirPrefix: 'nodes', deviceName: `${handle} on n${i + 1}` });
}

const texts = (p: Profile, room: string) =>
  p
    .page(room, null, 1000)
    .reverse()
    .map((m) => m.text);

/** The texts `p` shows from `sender` (prefix "<sender> "), in order. */
const from = (p: Profile, room: string, sender: string) => texts(p, room).filter((t) => t?.startsWith(`${sender} `));

test('the nodes share one identity and keep no SQLite file', () => {
  assert.equal(fs.existsSync(path.join(aDir, DB_FILE)), false, 'no provider.sqlite in the shared data folder');
  for (const n of nodes) assert.equal(n.caPem, caPem);
  for (const n of nodes) assert.match(n.output(), new RegExp(`node ${n.nodeId} on PostgreSQL`));
  // Each node listens on the wake bus (its own session, named after the node).
  const listening = pgServer.psql("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'mimi-wake %' AND datname = current_database() ORDER BY 1");
  assert.deepEqual(listening.trim().split('\n'), ['mimi-wake n1', 'mimi-wake n2', 'mimi-wake n3']);
});

test('clients on three nodes in one room: every message delivered once, in order', async () => {
  const alice = await onNode(0, 'alice');
  const bob = await onNode(1, 'bob');
  const carol = await onNode(2, 'carol');
  const room = await alice.createRoom('three nodes');
  await alice.addMember(room.roomUri, 'bob');
  await alice.addMember(room.roomUri, 'carol');
  await waitFor(() => bob.rooms().length === 1 && carol.rooms().length === 1, 'bob and carol join');
  await waitFor(() => [alice, bob, carol].every((p) => p.roomView(room.roomUri).epoch === '2'), 'everyone at epoch 2');
  const N = 10;
  const sent: Record<string, string[]> = { alice: [], bob: [], carol: [] };
  for (let k = 0; k < N; k++) {
    for (const [name, p] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) {
      const t = `${name} #${k}`;
      sent[name].push(t);
      await p.send(room.roomUri, t);
    }
  }
  const all = [alice, bob, carol];
  await waitFor(() => all.every((p) => texts(p, room.roomUri).length >= 3 * N), 'all messages everywhere', 30_000).catch((e: Error) => {
    const logs = nodes.map((n) => `--- ${n.nodeId}:\n${n.output().slice(-1500)}`).join('\n');
    throw new Error(`${e.message}: ${all.map((p) => `${p.config.handle}: ${JSON.stringify(texts(p, room.roomUri))}`).join('; ')}\n${logs}`);
  });
  for (const p of all) {
    for (const name of Object.keys(sent)) assert.deepEqual(from(p, room.roomUri, name), sent[name], `${p.config.handle} sees ${name}'s messages once, in order`);
    assert.equal(texts(p, room.roomUri).length, 3 * N);
  }
  // Each node served one of them.
  for (const n of nodes) assert.ok(n.running);
});

test('two Commits for one epoch on two nodes: exactly one wins', async () => {
  const fay = await onNode(0, 'fay');
  const gus = await onNode(1, 'gus');
  const hal = await onNode(2, 'hal');
  const ivy = await onNode(2, 'ivy');
  const room = await fay.createRoom('race');
  await fay.addMember(room.roomUri, 'gus');
  await waitFor(() => gus.rooms().length === 1 && gus.roomView(room.roomUri).epoch === '1', 'gus joins');
  // Both Commits are built on epoch 1 before either is posted, then posted at once: fay's to n1,
  // gus's to n2. The loser gets wrongEpoch (409) and its profile rebuilds it (commitRetry).
  let retries = 0;
  for (const p of [fay, gus]) p.on('commitRetry', () => retries++);
  holdFirstCommits([fay, gus]);
  await Promise.all([fay.addMember(room.roomUri, 'hal'), gus.addMember(room.roomUri, 'ivy')]);
  for (const p of [fay, gus, hal, ivy]) await waitFor(() => p.rooms().length === 1 && p.roomView(room.roomUri).epoch === '3', `${p.config.handle} at epoch 3`);
  assert.equal(retries, 1, 'exactly one of the two racing Commits lost the epoch');
  const members = (p: Profile) => [...p.roomView(room.roomUri).members].sort();
  for (const p of [gus, hal, ivy]) assert.deepEqual(members(p), members(fay));
  assert.equal(members(fay).length, 4);
});

test('kill -9 of a node mid-burst: its clients move to another node, nothing lost or duplicated', async () => {
  const dan = await onNode(1, 'dan'); // sender on n2
  const eve = await onNode(1, 'eve'); // receiver on n2
  const fox = await onNode(2, 'fox'); // receiver on n3
  const room = await dan.createRoom('burst');
  await dan.addMember(room.roomUri, 'eve');
  await dan.addMember(room.roomUri, 'fox');
  await waitFor(() => [dan, eve, fox].every((p) => p.rooms().length === 1 && p.roomView(room.roomUri).epoch === '2'), 'everyone at epoch 2');
  const N = 40;
  const sent: string[] = [];
  const sending = (async () => {
    for (let k = 0; k < N; k++) {
      sent.push(`dan ${k}`);
      await dan.send(room.roomUri, `dan ${k}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await waitFor(() => from(eve, room.roomUri, 'dan').length >= 10, 'the burst under way');
  await nodes[1].kill9();
  await sending;
  for (const p of [eve, fox]) {
    await waitFor(() => from(p, room.roomUri, 'dan').length >= N, `${p.config.handle} has the whole burst`, 60_000);
    assert.deepEqual(from(p, room.roomUri, 'dan'), sent, `${p.config.handle}: every message once, in order`);
  }
  // And the room goes on, from the node they moved to.
  await eve.send(room.roomUri, 'eve after the kill');
  await waitFor(() => texts(dan, room.roomUri).includes('eve after the kill'), 'dan hears eve again');
  await nodes[1].restart();
});

test('fanout to a follower domain is drained once while it is down and nodes die', async () => {
  const gil = await onNode(0, 'gil');
  const bea = await testProfile(follower, 'bea', { engine, keep: open, dirPrefix: 'nodes-b' });
  const room = await gil.createRoom('fanout');
  await gil.addMember(room.roomUri, 'bea@b.example');
  await waitFor(() => bea.rooms().length === 1, 'bea joins from b.example', 30_000);
  const N = 45;
  const sent: string[] = [];
  const send = async (k: number) => {
    sent.push(`gil ${k}`);
    await gil.send(room.roomUri, `gil ${k}`);
  };
  for (let k = 0; k < 15; k++) await send(k);
  // The follower goes away: the rows pile up in the shared outbox, one node (the lease holder)
  // retrying them with backoff. Then nodes die, among them the holder or not.
  await follower.stop();
  for (let k = 15; k < 30; k++) await send(k);
  await waitFor(() => Number(pgServer.psql('SELECT count(*) FROM fed_outbox').trim()) > 0, 'rows waiting in the outbox');
  await nodes[2].kill9();
  for (let k = 30; k < 38; k++) await send(k);
  await nodes[0].kill9();
  await nodes[2].restart();
  follower = await startProviderProcess({ domain: 'b.example', dataDir: follower.dataDir, port: follower.port, args: followerArgs });
  for (let k = 38; k < N; k++) await send(k);
  await waitFor(() => from(bea, room.roomUri, 'gil').length >= N, 'bea has every message', 60_000);
  assert.deepEqual(from(bea, room.roomUri, 'gil'), sent, 'every message at the follower once, in order');
  await waitFor(() => pgServer.psql('SELECT count(*) FROM fed_outbox').trim() === '0', 'the outbox empty');
  await nodes[0].restart();
});
