// Several messages in one request (ROUTES.sendMessageBatch, src-provider/message-batch.ts), end to
// end on a real provider process (real TLS, real SQLite):
//   - a batch across two rooms reaches every recipient exactly once, in batch order; a retried batch
//     (same requestIds) is answered "duplicate" and delivered no second time; a bad entry fails alone
//     with its own error; a malformed body is a 400 that stores nothing;
//   - the provider is SIGKILLed the moment a batch's answer arrived: after a restart on the same
//     data dir every answered entry is there, once, in order;
//   - after a retryable failure (epochTooOld) the later entries of that room are not tried, so a
//     retry keeps the room's order, while other rooms' entries go on;
//   - WriteBatch.runAll keeps a batch in one transaction even past maxJobs (in process, real SQLite);
//   - the outbox (src-main/core/outbox.ts) of a Profile that was offline sends its backlog as one
//     batch, and falls back to single sends against a provider that answers the batch route 404.
// The Profile talks to the provider through a TLS-terminating proxy here, which counts the requests
// that reach the provider, can drop every connection (offline), and can play a provider older than
// the batch route.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { fromB64, toB64, utf8 } from '../../src-shared/bytes.js';
import { MAX_BATCH_MESSAGES, ROUTES, type PushEvent, type PushFrame, type SendMessageBatchEntry, type SendMessageBatchResult, type SendMessageResponse } from '../../src-shared/provider-api.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { Profile } from '../../src-main/core/profile.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { ensureDevCa } from '../../src-provider/dev-ca.js';
import { openStore } from '../../src-provider/store.js';
import { WriteBatch } from '../../src-provider/write-batch.js';
import { testProfile } from '../helpers/profiles.js';
import { restartablePort, startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

const BATCH_PATH = ROUTES.sendMessageBatch.split(' ')[1];

let provider: ProviderProcess | undefined;
const dirs: string[] = [];
const clients: ProviderClient[] = [];
const profiles: Profile[] = [];
const closers: (() => unknown)[] = [];
after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const c of closers) await c();
  for (const c of clients) c.close();
  await provider?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function drainPush(p: ProviderProcess, token: string): Promise<PushEvent[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${p.url.replace('https', 'wss')}/v1/events?cursor=0`, { ca: p.caPem, headers: { authorization: `Bearer ${token}` } });
    const events: PushEvent[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as PushFrame;
      if (f.type === 'event') events.push(f);
      else if (f.type === 'caughtUp') {
        ws.close();
        resolve(events);
      }
    });
    ws.on('error', reject);
    setTimeout(() => reject(new Error('push stream did not catch up')), 30_000).unref();
  });
}

/** A raw POST (for bodies the typed client would never send). */
function post(p: ProviderProcess, path: string, token: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${p.url}${path}`, { method: 'POST', ca: p.caPem, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function device(engine: MlsEngine, p: ProviderProcess, handle: string) {
  const client = new ProviderClient({ baseUrl: p.url, caPem: p.caPem, timeoutMs: 20_000 });
  clients.push(client);
  const s = await client.register({ handle, password: `${handle} password 1`, deviceName: 'd' });
  const keys = await engine.newDeviceKeys(s.deviceUri);
  return {
    client,
    keys,
    token: s.token,
    userUri: s.userUri,
    keyPackage: async () => void (await client.uploadKeyPackages({ keyPackages: (await engine.generateKeyPackages(keys, 1)).map((k) => toB64(k.publicMessage)) })),
  };
}

/** alice's room with `members`, and a function encrypting its next message. */
async function room(engine: MlsEngine, alice: Awaited<ReturnType<typeof device>>, name: string, members: string[]) {
  const roomUri = `mimi://a.example/r/${name}`;
  await alice.client.createRoom({ roomUri });
  const claim = await alice.client.claim({ roomUri, users: members });
  const add = await (await engine.createGroup(alice.keys, roomUri)).add(claim.results.flatMap((r) => r.clients.map((c) => fromB64(c.keyPackage!))));
  await alice.client.commit(roomUri, { commit: toB64(add.commit), welcome: toB64(add.welcome!), groupInfo: toB64(add.groupInfo), ratchetTree: toB64(add.ratchetTree), addUsers: members, requestId: `add-${name}` });
  let group = add.pending;
  return {
    roomUri,
    async next(text: string): Promise<string> {
      const m = await group.encrypt(utf8(text));
      group = m.session;
      return toB64(m.message);
    },
    /** A path update by alice, accepted by the hub: the room's next epoch. */
    async update(requestId: string): Promise<void> {
      const out = await group.update();
      await alice.client.commit(roomUri, { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId });
      group = out.pending;
    },
  };
}

const accepted = (r: SendMessageBatchResult): SendMessageResponse => {
  assert.ok(!('error' in r), `accepted, got ${JSON.stringify(r)}`);
  return r as SendMessageResponse;
};

test('message batches: across two rooms, exactly once and in batch order, bad entries alone, all kept across kill -9 right after the answer', async () => {
  const engine = await createMlsEngine();
  const dataDir = tempDir('message-batch');
  dirs.push(dataDir);
  provider = await startProviderProcess({ domain: 'a.example', dataDir, port: await restartablePort() });
  const port = provider.port;

  const bob = await device(engine, provider, 'bob');
  const dave = await device(engine, provider, 'dave');
  await bob.keyPackage();
  await bob.keyPackage();
  await dave.keyPackage();
  const alice = await device(engine, provider, 'alice');
  const r1 = await room(engine, alice, 'one', [bob.userUri]);
  const r2 = await room(engine, alice, 'two', [bob.userUri, dave.userUri]);

  // Batch 1: 40 entries alternating between the rooms, with three bad ones among them: garbage
  // instead of an MLS message, a room that does not exist, and a message for room one sent to room two.
  const sent = new Map<string, string[]>([
    [r1.roomUri, []],
    [r2.roomUri, []],
  ]);
  const entries: SendMessageBatchEntry[] = [];
  for (let i = 0; i < 40; i++) {
    const r = i % 2 === 0 ? r1 : r2;
    const message = await r.next(`batch1 ${i}`);
    sent.get(r.roomUri)!.push(message);
    entries.push({ roomId: r.roomUri, message, requestId: `b1-${i}` });
  }
  const wrongRoom = await r1.next('never delivered');
  // Messages of groups alice made only on her side: for a room that does not exist, and for bob's room she is not in.
  const localMessage = async (roomUri: string) => toB64((await (await engine.createGroup(alice.keys, roomUri)).encrypt(utf8('nobody reads this'))).message);
  const bobsRoom = 'mimi://a.example/r/bobs';
  await bob.client.createRoom({ roomUri: bobsRoom });
  const bad: SendMessageBatchEntry[] = [
    { roomId: r1.roomUri, message: toB64(utf8('not an MLS message')), requestId: 'bad-garbage' },
    { roomId: 'mimi://a.example/r/nowhere', message: await localMessage('mimi://a.example/r/nowhere'), requestId: 'bad-room' },
    { roomId: r2.roomUri, message: wrongRoom, requestId: 'bad-wrong-room' },
    { roomId: bobsRoom, message: await localMessage(bobsRoom), requestId: 'bad-not-member' },
  ];
  const batch1 = [...entries.slice(0, 7), bad[0], ...entries.slice(7, 20), bad[1], ...entries.slice(20, 33), bad[2], ...entries.slice(33, 38), bad[3], ...entries.slice(38)];
  const first = await alice.client.sendMessageBatch({ messages: batch1 });
  assert.equal(first.results.length, batch1.length);
  const badAt = new Map(bad.map((b) => [batch1.indexOf(b), b]));
  first.results.forEach((r, i) => {
    if (!badAt.has(i)) assert.equal(accepted(r).duplicate, false, `entry ${i} accepted once`);
  });
  const errorOf = (i: number) => {
    const r = first.results[i];
    assert.ok('error' in r, `entry ${i} refused`);
    return r;
  };
  assert.equal(errorOf(batch1.indexOf(bad[0])).status, 400);
  assert.equal(errorOf(batch1.indexOf(bad[0])).error.code, 'badRequest');
  assert.equal(errorOf(batch1.indexOf(bad[1])).error.code, 'roomUnknown');
  assert.equal(errorOf(batch1.indexOf(bad[1])).status, 404);
  assert.equal(errorOf(batch1.indexOf(bad[2])).status, 400, 'a message of another group');
  assert.equal(errorOf(batch1.indexOf(bad[3])).error.code, 'notMember', 'a room alice is not in');
  assert.equal(errorOf(batch1.indexOf(bad[3])).status, 403);
  // Acceptance times follow the batch, strictly within a room (members order a timeline by them).
  for (const r of [r1, r2]) {
    const ts = first.results.filter((x, i) => batch1[i].roomId === r.roomUri && !('error' in x)).map((x) => (x as SendMessageResponse).acceptedTimestamp);
    assert.ok(ts.every((t, i) => i === 0 || t > ts[i - 1]), `${r.roomUri}: acceptance times strictly increase in batch order`);
  }

  // The same batch again (a retry after a lost answer): every entry a duplicate with its first answer.
  const again = await alice.client.sendMessageBatch({ messages: batch1 });
  again.results.forEach((r, i) => {
    if (badAt.has(i)) return assert.ok('error' in r, `entry ${i} still refused`);
    assert.equal(accepted(r).duplicate, true, `entry ${i} is a duplicate`);
    assert.equal(accepted(r).acceptedTimestamp, accepted(first.results[i]).acceptedTimestamp);
  });

  // Malformed bodies are 400s that accept nothing, not even their well-formed entries.
  const pending = [
    { roomId: r1.roomUri, message: await r1.next('after the malformed ones 0'), requestId: 'b2-0' },
    { roomId: r2.roomUri, message: await r2.next('after the malformed ones 1'), requestId: 'b2-1' },
  ];
  const malformed = [
    JSON.stringify({ messages: [...pending, { roomId: r1.roomUri, message: '***', requestId: 'x' }] }), // bad base64
    JSON.stringify({ messages: [...pending, { roomId: r1.roomUri, message: pending[0].message }] }), // no requestId
    JSON.stringify({ messages: [...pending, 'not an object'] }),
    JSON.stringify({ messages: pending, extra: true }),
    JSON.stringify({ messages: [] }),
    JSON.stringify({ messages: Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, i) => ({ ...pending[0], requestId: `many-${i}` })) }),
    `{"messages": [${JSON.stringify(pending[0])}`, // not JSON
  ];
  for (const body of malformed) {
    const res = await post(provider, BATCH_PATH, alice.token, body);
    assert.equal(res.status, 400, body.slice(0, 80));
    assert.equal((res.json as { error: { code: string } }).error.code, 'badRequest');
  }
  assert.equal((await post(provider, BATCH_PATH, 'nobody', JSON.stringify({ messages: pending }))).status, 401, 'unauthenticated');

  // Batch 2: the two entries the malformed requests carried (never accepted so far) and 60 more,
  // then kill -9 the moment the answer is in.
  const batch2: SendMessageBatchEntry[] = [...pending];
  for (let i = 2; i < MAX_BATCH_MESSAGES; i++) {
    const r = i % 3 === 0 ? r1 : r2;
    batch2.push({ roomId: r.roomUri, message: await r.next(`batch2 ${i}`), requestId: `b2-${i}` });
  }
  const second = await alice.client.sendMessageBatch({ messages: batch2 });
  await provider.kill9();
  second.results.forEach((r, i) => assert.equal(accepted(r).duplicate, false, `batch 2 entry ${i}: first accepted now`));
  for (const e of batch2) sent.get(e.roomId)!.push(e.message);

  provider = await startProviderProcess({ domain: 'a.example', dataDir, port });
  const order = [...batch1.filter((e) => !bad.includes(e)), ...batch2].map((e) => e.message);
  for (const [who, rooms] of [
    [bob, [r1.roomUri, r2.roomUri]],
    [dave, [r2.roomUri]],
  ] as const) {
    const events: PushEvent[] = (await drainPush(provider, who.token)).filter((e) => e.kind === 'message');
    const expected = order.filter((m) => rooms.some((r) => sent.get(r)!.includes(m)));
    assert.deepEqual(
      events.map((e) => e.payload),
      expected,
      `${who.userUri}: every answered message once, in batch order`,
    );
    const seqs = events.map((e) => e.seq);
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'seq strictly increasing');
  }
});

test('message batches: after a retryable failure the later entries of that room are not tried, other rooms go on', async () => {
  const engine = await createMlsEngine();
  const p = await startProviderProcess({ domain: 'a.example' });
  dirs.push(p.dataDir);
  closers.push(() => p.stop());
  const bob = await device(engine, p, 'bob');
  await bob.keyPackage();
  await bob.keyPackage();
  const alice = await device(engine, p, 'alice');
  const r1 = await room(engine, alice, 'one', [bob.userUri]);
  const r2 = await room(engine, alice, 'two', [bob.userUri]);
  // Two messages of epoch 1, then the room moves to epoch 3: they are too old (one epoch of grace).
  const stale = [await r1.next('stale 0'), await r1.next('stale 1')];
  await r1.update('u1');
  await r1.update('u2');
  const fresh = await r1.next('fresh');
  const other = await r2.next('other room');
  const batch: SendMessageBatchEntry[] = [
    { roomId: r1.roomUri, message: stale[0], requestId: 's0' },
    { roomId: r2.roomUri, message: other, requestId: 'o0' },
    { roomId: r1.roomUri, message: fresh, requestId: 'f0' },
    { roomId: r1.roomUri, message: stale[1], requestId: 's1' },
  ];
  const { results } = await alice.client.sendMessageBatch({ messages: batch });
  const err = (i: number) => {
    const r = results[i];
    assert.ok('error' in r, `entry ${i} refused`);
    return r;
  };
  assert.equal(err(0).error.code, 'epochTooOld');
  assert.equal(err(0).status, 409);
  assert.equal(err(0).error.currentEpoch, '3');
  assert.equal(accepted(results[1]).duplicate, false, 'the other room is unaffected');
  // Not tried, though it would be accepted: the client retries from the stale one, in order.
  for (const i of [2, 3]) {
    assert.equal(err(i).error.code, 'epochTooOld');
    assert.equal(err(i).error.currentEpoch, '3');
    assert.match(err(i).error.message, /not tried/);
  }
  // The retry (the stale ones re-encrypted by a real client; here dropped) goes through.
  const retry = await alice.client.sendMessageBatch({ messages: [batch[2]] });
  assert.equal(accepted(retry.results[0]).duplicate, false, 'first accepted by the retry: nothing of it was kept before');
  const events: PushEvent[] = (await drainPush(p, bob.token)).filter((e) => e.kind === 'message');
  assert.deepEqual(
    events.map((e) => e.payload),
    [other, fresh],
  );
});

test('WriteBatch.runAll: a batch is never split between transactions, even past maxJobs; a failing entry alone', async () => {
  const dir = tempDir('runall');
  dirs.push(dir);
  const store = openStore(dir);
  store.db.exec('CREATE TABLE t (x INTEGER NOT NULL)');
  const batch = new WriteBatch(store, { maxJobs: 4 });
  const insert = store.db.prepare('INSERT INTO t (x) VALUES (?)');
  const before = batch.stats();
  // Two single jobs, then a group of 6 across the maxJobs cut (4), then another single job.
  const singles = [batch.run(() => insert.run(-1).changes), batch.run(() => insert.run(-2).changes)];
  const group = batch.runAll(
    Array.from({ length: 6 }, (_, i) => () => {
      insert.run(i);
      if (i === 3) throw new Error('entry 3 fails');
      return i;
    }),
  );
  const last = batch.run(() => insert.run(-3).changes);
  const outcomes = await group;
  await Promise.all([...singles, last]);
  assert.deepEqual(
    outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
    [0, 1, 2, 'entry 3 fails', 4, 5],
  );
  const after = batch.stats();
  assert.equal(after.jobs - before.jobs, 9);
  // The first flush took the two singles and the whole group (8 > maxJobs), the second the last one.
  assert.equal(after.transactions - before.transactions, 2);
  assert.deepEqual(
    (store.db.prepare('SELECT x FROM t ORDER BY rowid').all() as { x: number }[]).map((r) => r.x),
    [-1, -2, 0, 1, 2, 4, 5, -3],
    'in order, the failed entry rolled back alone',
  );
  store.close?.();
});

/**
 * A TLS-terminating proxy in front of `target`: counts what it forwards, drops every connection
 * while `offline`, and answers the batch route 404 while `old` (a provider before the route).
 */
async function proxy(target: ProviderProcess) {
  const ca = await ensureDevCa(target.dataDir, target.domain);
  const upstream = new URL(target.url);
  const state = { offline: false, old: false };
  const forwarded: { route: string; status: number; entries?: number }[] = [];
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    if (sockets.has(s)) return; // a kept-alive upstream socket, again
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = https.createServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const route = `${req.method} ${req.url}`;
      if (state.old && req.method === 'POST' && req.url === BATCH_PATH) {
        // What a provider without the route answers (src-provider/http.ts Router.resolve).
        const payload = JSON.stringify({ error: { code: 'notFound', message: `no route for POST ${BATCH_PATH}` } });
        forwarded.push({ route, status: 404 });
        res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(payload)) });
        res.end(payload);
        return;
      }
      const up = https.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, ca: target.caPem }, (ur) => {
        const entries = req.url === BATCH_PATH ? (JSON.parse(body.toString()) as { messages: unknown[] }).messages.length : undefined;
        forwarded.push({ route, status: ur.statusCode ?? 0, entries });
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('socket', track);
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  server.on('secureConnection', (s) => (state.offline ? s.destroy() : track(s)));
  // The push stream (a WebSocket): the upgrade request is replayed on a TLS connection to the provider.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const up = tls.connect({ host: upstream.hostname, port: Number(upstream.port), ca: target.caPem, servername: upstream.hostname === '127.0.0.1' ? undefined : upstream.hostname }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i].toLowerCase() === 'host' ? upstream.host : req.rawHeaders[i + 1]}`);
      up.write(lines.join('\r\n') + '\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    track(up);
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `https://${upstream.hostname}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    forwarded,
    setOffline(offline: boolean) {
      state.offline = offline;
      if (offline) for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

test('the outbox sends a backlog as one batch, and one by one to a provider without the batch route', async () => {
  const engine = await createMlsEngine();
  const target = await startProviderProcess({ domain: 'a.example' });
  dirs.push(target.dataDir);
  const front = await proxy(target);
  closers.push(() => target.stop());
  closers.push(() => front.close());
  const errors: string[] = [];
  const aliceDir = path.join(tempDir('batch-olive'), 'profile');
  dirs.push(path.dirname(aliceDir));
  let alice = await testProfile({ url: front.url, caPem: target.caPem }, 'olive', { engine, keep: profiles, dirPrefix: 'batch', dir: aliceDir, onError: (m) => errors.push(m) });
  /**
   * Offline: `texts` are written and wait in the outbox (every attempt fails); the app is closed
   * (no attempt is left in flight) and opened again once the provider can be reached.
   */
  const writeOffline = async (texts: string[]) => {
    front.setOffline(true);
    for (const t of texts) await alice.send(roomUri, t);
    assert.equal(alice.queuedMessages(), texts.length);
    await alice.close();
    front.setOffline(false);
    alice = await Profile.open(aliceDir, { engine, secretMode: 'plaintext' });
    profiles.push(alice);
    alice.on('error', (m: string) => errors.push(m));
  };
  const bob = await testProfile(target, 'pat', { engine, keep: profiles, dirPrefix: 'batch' });
  const { roomUri } = await alice.createRoom('backlog');
  await alice.addMember(roomUri, 'pat');
  await waitFor(() => bob.rooms().length === 1, 'pat joins');
  const texts = () =>
    bob
      .page(roomUri, null, 500)
      .reverse()
      .map((m) => m.text);
  const singles = () => front.forwarded.filter((f) => f.route === `POST /v1/rooms/${encodeURIComponent(roomUri)}/messages`);
  const batches = () => front.forwarded.filter((f) => f.route === `POST ${BATCH_PATH}`);

  // Offline: five messages wait in the outbox; back online, they go in one batch request.
  const backlog = Array.from({ length: 5 }, (_, i) => `offline ${i}`);
  await writeOffline(backlog);
  const before = { singles: singles().length, batches: batches().length };
  await alice.start();
  await alice.flushOutbox(30_000);
  await waitFor(() => texts().length === backlog.length, 'the backlog at pat');
  assert.deepEqual(texts(), backlog, 'each once, in the order written');
  assert.deepEqual(
    batches().slice(before.batches).map((b) => [b.status, b.entries]),
    [[200, 5]],
    'one batch request with all five',
  );
  assert.equal(singles().length, before.singles, 'no single sends for them');
  assert.ok(alice.page(roomUri, null, 50).every((m) => m.status === 'sent'));

  // A provider older than the batch route: the batch is answered 404, the messages go one by one.
  const more = Array.from({ length: 3 }, (_, i) => `to an older provider ${i}`);
  await writeOffline(more);
  front.state.old = true;
  const mark = { singles: singles().length, batches: batches().length };
  await alice.start();
  await alice.flushOutbox(30_000);
  await waitFor(() => texts().length === backlog.length + more.length, 'the rest at pat');
  assert.deepEqual(texts(), [...backlog, ...more], 'each once, in the order written');
  assert.deepEqual(
    batches().slice(mark.batches).map((b) => b.status),
    [404],
    'the batch was tried once',
  );
  assert.deepEqual(
    singles().slice(mark.singles).map((s) => s.status),
    [200, 200, 200],
    'then one single send each',
  );
  assert.ok(alice.page(roomUri, null, 50).every((m) => m.status === 'sent'));
  assert.deepEqual(errors, [], 'no error shown');
});
