// Group commit at the hub (src-provider/write-batch.ts), end to end on a real provider process:
// two senders in two rooms, each with several lanes of requests in flight at once (so batches mix
// rooms, senders and lanes), some requests sent twice at once with the same requestId, some
// malformed. The provider is SIGKILLed the moment the last 201 arrived, restarted on the same data
// dir, and the recipient's push stream from cursor 0 must hold every answered message exactly once,
// each lane's messages in the order that lane sent them, seqs strictly increasing.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import WebSocket from 'ws';
import { fromB64, toB64, utf8 } from '../../src-shared/bytes.js';
import type { PushEvent, PushFrame, SendMessageResponse } from '../../src-shared/provider-api.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { restartablePort, startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

const PER_ROOM = 240;
const LANES = 12;

let provider: ProviderProcess | undefined;
const dirs: string[] = [];
after(async () => {
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

interface Sender {
  client: ProviderClient;
  roomUri: string;
  messages: string[];
}

/** `handle` creates a room, adds bob, and encrypts `PER_ROOM` messages (sent later, all at once). */
async function sender(engine: MlsEngine, p: ProviderProcess, handle: string, bobUser: string): Promise<Sender> {
  const client = new ProviderClient({ baseUrl: p.url, caPem: p.caPem, timeoutMs: 20_000 });
  const s = await client.register({ handle, password: `${handle} password 1`, deviceName: 'd' });
  const roomUri = `mimi://a.example/r/${handle}-room`;
  await client.createRoom({ roomUri });
  const claim = await client.claim({ roomUri, users: [bobUser] });
  const add = await (await engine.createGroup(await engine.newDeviceKeys(s.deviceUri), roomUri)).add([fromB64(claim.results[0].clients[0].keyPackage!)]);
  await client.commit(roomUri, { commit: toB64(add.commit), welcome: toB64(add.welcome!), groupInfo: toB64(add.groupInfo), ratchetTree: toB64(add.ratchetTree), addUsers: [bobUser], requestId: 'add-bob' });
  let group = add.pending;
  const messages: string[] = [];
  for (let i = 0; i < PER_ROOM; i++) {
    const m = await group.encrypt(utf8(`${handle} ${i}`));
    group = m.session;
    messages.push(toB64(m.message));
  }
  return { client, roomUri, messages };
}

test('group commit: concurrent messages each accepted once, in lane order, all kept across kill -9 right after the 201s', async () => {
  const engine = await createMlsEngine();
  const dataDir = tempDir('group-commit');
  dirs.push(dataDir);
  provider = await startProviderProcess({ domain: 'a.example', dataDir, port: await restartablePort() });
  const port = provider.port;

  const bob = new ProviderClient({ baseUrl: provider.url, caPem: provider.caPem });
  const bSession = await bob.register({ handle: 'bob', password: 'bob password 12', deviceName: 'b' });
  const bKeys = await engine.newDeviceKeys(bSession.deviceUri);
  await bob.uploadKeyPackages({ keyPackages: (await engine.generateKeyPackages(bKeys, 2)).map((k) => toB64(k.publicMessage)) });
  bob.close();
  const senders = [await sender(engine, provider, 'alice', bSession.userUri), await sender(engine, provider, 'carol', bSession.userUri)];

  // Lane k of a sender sends its messages k, k+LANES, ... one after the other; all lanes of both
  // senders run at once. Every 10th message goes twice at once (same requestId); every 25th is
  // accompanied by a malformed request, refused without disturbing its batch.
  const answered = new Map<string, SendMessageResponse[]>();
  const refused: unknown[] = [];
  const lanes = senders.flatMap((s, si) =>
    Array.from({ length: LANES }, async (_, lane) => {
      for (let i = lane; i < PER_ROOM; i += LANES) {
        const req = { message: s.messages[i], requestId: `m-${i}` };
        const sends = [s.client.sendMessage(s.roomUri, req)];
        if (i % 10 === 0) sends.push(s.client.sendMessage(s.roomUri, req));
        if (i % 25 === 0) s.client.sendMessage(s.roomUri, { message: toB64(utf8('not an MLS message')), requestId: `bad-${i}` }).catch((e) => refused.push(e));
        answered.set(`${si}/${i}`, await Promise.all(sends));
      }
    }),
  );
  await Promise.all(lanes);
  await provider.kill9(); // at once: nothing answered may depend on anything after its 201
  for (const s of senders) s.client.close();

  assert.equal(answered.size, 2 * PER_ROOM);
  for (const [key, responses] of answered) {
    // A request sent twice at once: accepted once, the other answer says so with the same time.
    assert.equal(responses.filter((r) => !r.duplicate).length, 1, `${key}: accepted exactly once`);
    assert.ok(responses.every((r) => r.acceptedTimestamp === responses[0].acceptedTimestamp), `${key}: one acceptance`);
  }
  assert.ok(refused.length > 0 && refused.every((e) => e instanceof ProviderError && e.status === 400), 'malformed requests refused with 400');

  provider = await startProviderProcess({ domain: 'a.example', dataDir, port });
  const events = (await drainPush(provider, bSession.token)).filter((e) => e.kind === 'message');
  assert.equal(events.length, 2 * PER_ROOM, 'every answered message kept, none twice');
  const seqs = events.map((e) => e.seq);
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'seq strictly increasing');
  senders.forEach((s, si) => {
    const mine = events.filter((e) => e.roomUri === s.roomUri);
    const index = new Map(s.messages.map((m, i) => [m, i]));
    const order: number[] = mine.map((e) => index.get(e.payload) ?? -1);
    assert.ok(order.every((i) => i >= 0), `room ${si}: only messages that were sent`);
    assert.equal(new Set(order).size, PER_ROOM, `room ${si}: each message exactly once`);
    for (let lane = 0; lane < LANES; lane++) {
      const laneOrder: number[] = order.filter((i) => i % LANES === lane);
      assert.deepEqual(laneOrder, [...laneOrder].sort((x, y) => x - y), `room ${si} lane ${lane}: in the order sent`);
    }
    const ts = mine.map((e) => e.acceptedTimestamp);
    assert.ok(ts.every((t, i) => i === 0 || t >= ts[i - 1]), `room ${si}: acceptance times follow the order`);
  });
});
