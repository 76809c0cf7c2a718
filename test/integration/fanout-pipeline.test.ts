// Pipelined hub -> follower fanout end to end (fanout-outbox.ts with follower.ts): several /notify
// requests in flight per follower, arriving at the follower's Follower in a shuffled order (each
// request is held a random few milliseconds before it is handled), still land in every room in the
// hub's order and exactly once; a hub killed with kill -9 in the middle of it loses nothing when it
// starts again. The follower is a real provider (in process, with the default Follower); the hub
// is in process for the first test and a provider process for the kill -9.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encodeFanoutList } from '../../src-shared/mimi-protocol.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import { ensureDevCa } from '../../src-provider/dev-ca.js';
import { mimiEndpoints } from '../../src-provider/federation/endpoints.js';
import { FanoutOutbox } from '../../src-provider/federation/fanout-outbox.js';
import { Follower } from '../../src-provider/federation/follower.js';
import type { S2sFactory } from '../../src-provider/federation/s2s-handler.js';
import { startProvider, type RunningProvider } from '../../src-provider/server.js';
import { openTestStore, withProviderDb } from '../helpers/provider-db.js';
import { freePort, startProviderProcess, testDatabase, type ProviderProcess } from '../helpers/provider-process.js';
import { waitUntil } from '../helpers/provider-fixture.js';

const ROOMS = ['mimi://a.example/r/pipe-1', 'mimi://a.example/r/pipe-2', 'mimi://a.example/r/pipe-3'];
const BOB_USER = mkUserUri('b.example', 'bob');
const BOB = mkDeviceUri('b.example', 'bob', 'dev1');

/** One FanoutMessage (application) of `room` whose stand-in PrivateMessage ends with `text`. */
function fanoutMessage(room: string, text: string): Uint8Array {
  const pm = new TlsWriter().u16(1).u16(2).opaqueV(Buffer.from(room)).u64(1n).u8(1).opaqueV(new Uint8Array(0)).opaqueV(randomBytes(8)).opaqueV(Buffer.from(text)).finish();
  return encodeFanoutList([{ kind: 'application', timestamp: BigInt(Date.now()), message: pm }]);
}

/** `count` messages spread over the rooms in runs of 1 to 7 (so batches of one room interleave with others'). */
function plan(count: number): { room: string; text: string }[] {
  const out: { room: string; text: string }[] = [];
  const next = new Map<string, number>();
  while (out.length < count) {
    const room = ROOMS[Math.floor(Math.random() * ROOMS.length)];
    for (let run = 1 + Math.floor(Math.random() * 7); run > 0 && out.length < count; run--) {
      const n = next.get(room) ?? 0;
      next.set(room, n + 1);
      out.push({ room, text: `#${n}` });
    }
  }
  return out;
}

interface Dir {
  domain: string;
  dataDir: string;
  caPem: string;
  caFile: string;
  port: number;
}
async function prepare(domain: string): Promise<Dir> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mimi-fanout-${domain}-`));
  const ca = await ensureDevCa(dataDir, domain);
  return { domain, dataDir, caPem: ca.caPem, caFile: path.join(dataDir, 'ca.pem'), port: await freePort() };
}

/** bob@b.example with one device, in every room (followed rooms of a.example), written before b.example starts. */
async function seedFollower(b: Dir): Promise<void> {
  const store = await openTestStore(b.dataDir);
  try {
    const uid = store.insertUser('bob', BOB_USER, 'scrypt$disabled', Date.now())!;
    store.insertDevice({ deviceUri: BOB, userId: uid, deviceId: 'dev1', name: 'test', tokenHash: randomBytes(32), now: Date.now() });
    for (const room of ROOMS) {
      store.ensureFollowerRoom(room, 'a.example', Date.now());
      store.addRoomDevice(room, BOB, BOB_USER);
      store.addParticipant(room, BOB_USER);
    }
  } finally {
    store.close();
  }
}

interface FollowerNode {
  running: RunningProvider;
  /** Most /notify requests being handled at once, and how many were handled. */
  peak: number;
  requests: number;
  /** bob's inbox as [room, text], in inbox order. */
  inbox(): [string, string][];
}

/** b.example with the default Follower behind a handler that holds each /notify 0-15 ms (shuffling arrivals). */
async function startFollower(b: Dir, a: Dir): Promise<FollowerNode> {
  const node = { peak: 0, requests: 0 } as FollowerNode;
  let now = 0;
  const factory: S2sFactory = (deps) => {
    const follower = new Follower({ domain: deps.domain, store: deps.store, peerClient: deps.peerClient, seenLog: deps.seenLog });
    const inner = mimiEndpoints({ domain: deps.domain, hub: deps.hub, follower });
    return {
      endpoints: inner.endpoints,
      async handle(peer, endpoint, param, body, headers) {
        if (endpoint !== 'notify') return inner.handle(peer, endpoint, param, body, headers);
        node.peak = Math.max(node.peak, ++now);
        node.requests++;
        try {
          await new Promise((r) => setTimeout(r, Math.random() * 15));
          return await inner.handle(peer, endpoint, param, body, headers);
        } finally {
          now--;
        }
      },
    };
  };
  node.running = await startProvider({
    database: await testDatabase(b.dataDir),
    domain: b.domain,
    port: b.port,
    dataDir: b.dataDir,
    log: () => {},
    federation: { peers: { [a.domain]: `https://127.0.0.1:${a.port}` }, trustPem: [a.caPem] },
    s2s: factory,
  });
  node.inbox = () =>
    (
      node.running.federation.db
        .prepare('SELECT e.room_uri, e.payload FROM inbox i JOIN events e ON e.id = i.event_id WHERE i.device_uri = ? ORDER BY i.seq')
        .all(BOB) as { room_uri: string; payload: Buffer }[]
    ).map((r) => [r.room_uri, /#\d+$/.exec(r.payload.toString('latin1'))?.[0] ?? '?']);
  return node;
}

/** Each room's messages arrived in the order they were sent, each exactly once, and nothing else. */
function assertDelivered(inbox: [string, string][], sent: { room: string; text: string }[]): void {
  for (const room of ROOMS) {
    assert.deepEqual(
      inbox.filter(([r]) => r === room).map(([, t]) => t),
      sent.filter((m) => m.room === room).map((m) => m.text),
      `${room}: in order, once each`,
    );
  }
  assert.equal(inbox.length, sent.length);
}

test('several requests in flight, shuffled on arrival: every room in the hub order, exactly once', async () => {
  const a = await prepare('a.example');
  const b = await prepare('b.example');
  await seedFollower(b);
  const follower = await startFollower(b, a);
  let hub: RunningProvider | undefined;
  try {
    hub = await startProvider({
      database: await testDatabase(a.dataDir),
      domain: a.domain,
      port: a.port,
      dataDir: a.dataDir,
      log: () => {},
      federation: { peers: { [b.domain]: `https://127.0.0.1:${b.port}` }, trustPem: [b.caPem] },
      fanout: { maxInFlight: 4, maxBatchMessages: 4, baseDelayMs: 20, maxDelayMs: 200 },
    });
    const { outbox, db } = hub.federation;
    const sent = plan(400);
    // Enqueued in a few transactions while delivery runs, as a hub accepting messages does.
    for (let i = 0; i < sent.length; i += 100) {
      db.transaction(() => {
        for (const m of sent.slice(i, i + 100)) outbox.enqueue(b.domain, m.room, fanoutMessage(m.room, m.text));
      })();
      outbox.kick();
      await new Promise((r) => setTimeout(r, 5));
    }
    await outbox.drained();
    assertDelivered(follower.inbox(), sent);
    assert.ok(follower.peak > 1, `requests were pipelined (at most ${follower.peak} at once)`);
    const stats = outbox.stats();
    assert.equal(stats.pending, 0);
    assert.equal(stats.sentMessages, sent.length);
  } finally {
    await hub?.close();
    await follower.running.close();
  }
});

test('the hub killed with kill -9 in the middle of a pipelined fanout resumes it: nothing lost, nothing twice, in order', async () => {
  const a = await prepare('a.example');
  const b = await prepare('b.example');
  await seedFollower(b);
  // The hub's outbox holds the rows before it starts (as after a crash); start() resumes them.
  const sent = plan(4000);
  {
    const store = await openTestStore(a.dataDir);
    try {
      const outbox = new FanoutOutbox({ db: store.db, peers: { post: () => Promise.reject(new Error('not started')) } });
      store.tx(() => {
        for (const m of sent) outbox.enqueue(b.domain, m.room, fanoutMessage(m.room, m.text));
      });
    } finally {
      store.close();
    }
  }
  const pending = () => {
    return withProviderDb(a.dataDir, (db) => (db.prepare('SELECT count(*) AS n FROM fed_outbox').get() as { n: number }).n);
  };
  const follower = await startFollower(b, a);
  let hub: ProviderProcess | undefined;
  const startHub = () =>
    startProviderProcess({ domain: a.domain, dataDir: a.dataDir, port: a.port, args: ['--peer', `b.example=https://127.0.0.1:${b.port}`, '--trust', b.caFile] });
  try {
    hub = await startHub();
    // Killed once some batches are in and others still in flight.
    await waitUntil(() => follower.requests >= 4, 'the first batches reach the follower', 30_000);
    await hub.kill9();
    const left = pending();
    assert.ok(left > 0 && left < sent.length, `killed in the middle (${left} of ${sent.length} rows left)`);
    hub = await startHub();
    await waitUntil(() => pending() === 0, 'the restarted hub delivers the rest', 60_000);
    assertDelivered(follower.inbox(), sent);
    assert.ok(follower.peak > 1, `requests were pipelined (at most ${follower.peak} at once)`);
  } finally {
    await hub?.stop();
    await follower.running.close();
  }
});
