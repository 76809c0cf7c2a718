// The relay's per-message shortcuts (issue 13, second pass): an event's push frame is made from
// the row the store just committed instead of reading it back (Store.freshEvents), acks of all
// push sessions go into one group-commit job with one sweep for unreferenced events
// (PushHub.queueAck, Store.ackAll), and base64url fields are decoded natively (http.ts b64). None
// of them may change what is sent, kept or refused.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { openStore, type Store } from '../../src-provider/store.js';
import { PushHub, toPushEvent } from '../../src-provider/push.js';
import { WriteBatch } from '../../src-provider/write-batch.js';
import { b64 } from '../../src-provider/http.js';
import { ApiFailure } from '../../src-provider/errors.js';
import { fromB64, toB64 } from '../../src-shared/bytes.js';

const dirs: string[] = [];
const closers: (() => void)[] = [];
after(() => {
  for (const c of closers) c();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ROOM = 'mimi://a.example/r/hot';
const dev = (h: string) => `mimi://a.example/d/${h}/1`;
const user = (h: string) => `mimi://a.example/u/${h}`;

function freshStore(handles: string[]): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-relay-hot-'));
  dirs.push(dir);
  const store = openStore(dir);
  closers.push(() => store.close());
  store.tx(() => {
    store.insertRoom(ROOM, 0);
    for (const h of handles) {
      const userId = store.insertUser(h, user(h), 'x', 0)!;
      store.insertDevice({ deviceUri: dev(h), userId, deviceId: '1', name: h, tokenHash: Buffer.from(h), now: 0 });
    }
  });
  return store;
}

const message = (store: Store, payload: Uint8Array, extra: { frank?: Uint8Array; ts?: number } = {}) =>
  store.insertEvent({ room_uri: ROOM, kind: 'message', epoch: 7n, sender_device: dev('a'), payload, accepted_ts: extra.ts ?? 1000, frank: extra.frank });

test('a push frame made from the committed row is the frame read back from the database', () => {
  const store = freshStore(['a', 'b']);
  const payload = randomBytes(301);
  const frank = randomBytes(40);
  const id = store.tx(() => {
    const id = message(store, payload, { frank, ts: 1234 });
    store.enqueueExisting([dev('b')], id);
    return id;
  });
  const fromDb = JSON.stringify(toPushEvent(store.inboxAfter(dev('b'), 0, 10)[0]));
  const [ref] = store.inboxRefsAfter(dev('b'), 0, 10);
  const hub = new PushHub(store);
  closers.push(() => hub.close());
  assert.equal(hub.frame(ref.seq, id), fromDb);
  // Same text as the JS encoder the client decodes with.
  assert.equal(JSON.parse(fromDb).payload, toB64(payload));
  assert.equal(JSON.parse(fromDb).frank, toB64(frank));
});

test('an event of a rolled-back savepoint is never served, even when its id is given again', () => {
  const store = freshStore(['a', 'b']);
  const first = new Uint8Array([1, 1, 1]);
  const second = new Uint8Array([2, 2, 2]);
  const ids = store.tx(() => {
    let rolledBack = 0;
    assert.throws(() =>
      store.tx(() => {
        rolledBack = message(store, first);
        throw new Error('refused');
      }),
    );
    const kept = message(store, second);
    store.enqueueExisting([dev('b')], kept);
    return { rolledBack, kept };
  });
  // AUTOINCREMENT hands the rolled-back id out again: the event behind it is the second one.
  assert.equal(ids.kept, ids.rolledBack);
  assert.deepEqual([...store.eventForPush(ids.kept)!.payload], [...second]);
  // And a transaction that rolls back entirely leaves nothing to serve either.
  let lost = 0;
  assert.throws(() =>
    store.tx(() => {
      lost = message(store, first);
      throw new Error('refused');
    }),
  );
  assert.equal(store.eventForPush(lost), undefined);
});

/** A WebSocket that records the frames sent to it and lets the test send frames from the client. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  send(text: string, cb?: () => void): void {
    this.sent.push(text);
    cb?.();
  }
  ping(): void {}
  close(): void {
    this.readyState = 3;
    this.emit('close');
  }
  terminate(): void {
    this.close();
  }
  ack(seq: number): void {
    this.emit('message', Buffer.from(JSON.stringify({ type: 'ack', seq })), false);
  }
  events(): { seq: number; payload: string }[] {
    return this.sent.map((t) => JSON.parse(t)).filter((f) => f.type === 'event');
  }
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test("the acks of several devices' sessions are one job of one group commit, and drop each event once nobody holds it", async () => {
  const store = freshStore(['a', 'b', 'c', 'd']);
  const writes = new WriteBatch(store);
  const hub = new PushHub(store, { writes });
  closers.push(() => hub.close());
  const devices = ['b', 'c', 'd'].map(dev);
  const sockets = devices.map((d) => {
    const ws = new FakeSocket();
    hub.attach(ws as unknown as WebSocket, d, 0);
    return ws;
  });
  const ids = store.tx(() =>
    [1, 2, 3].map((i) => {
      const id = message(store, new Uint8Array([i]));
      store.enqueueExisting(devices, id);
      return id;
    }),
  );
  hub.notify(devices);
  await settle();
  for (const ws of sockets) assert.deepEqual(ws.events().map((e) => e.payload), ['AQ', 'Ag', 'Aw']);
  const before = writes.stats();
  // b and c ack everything, d only the first event, all in the same turn.
  sockets[0].ack(sockets[0].events()[2].seq);
  sockets[1].ack(sockets[1].events()[0].seq);
  sockets[1].ack(sockets[1].events()[2].seq); // a later ack of the same session raises it
  sockets[2].ack(sockets[2].events()[0].seq);
  await settle();
  const after = writes.stats();
  assert.equal(after.jobs - before.jobs, 1, 'one job for all acks');
  assert.equal(after.transactions - before.transactions, 1);
  assert.equal(store.inboxRefsAfter(dev('b'), 0, 10).length, 0);
  assert.equal(store.inboxRefsAfter(dev('c'), 0, 10).length, 0);
  assert.deepEqual(store.inboxRefsAfter(dev('d'), 0, 10).map((r) => r.event_id), [ids[1], ids[2]]);
  // The first event nobody holds: gone. The others d still holds.
  assert.equal(store.inboxAfter(dev('d'), 0, 10).length, 2);
  assert.equal(store.tx(() => store.ackAll(new Map([[dev('d'), Number.MAX_SAFE_INTEGER]]))), 2);
  for (const id of ids) assert.equal(store.eventForPush(id), undefined, `event ${id} deleted`);
});

test('ackAll: rows up to each seq, an event shared by the devices swept once, nothing twice', () => {
  const store = freshStore(['a', 'b', 'c']);
  const devices = [dev('b'), dev('c')];
  const ids = store.tx(() =>
    [1, 2].map((i) => {
      const id = message(store, new Uint8Array([i]));
      store.enqueueExisting(devices, id);
      return id;
    }),
  );
  const seqB = store.inboxRefsAfter(dev('b'), 0, 10).map((r) => r.seq);
  const seqC = store.inboxRefsAfter(dev('c'), 0, 10).map((r) => r.seq);
  assert.equal(store.tx(() => store.ackAll(new Map([[dev('b'), seqB[1]], [dev('c'), seqC[0]]]))), 3);
  assert.equal(store.eventForPush(ids[0]), undefined);
  assert.ok(store.eventForPush(ids[1]), 'c still holds the second');
  assert.equal(store.tx(() => store.ackAll(new Map([[dev('b'), seqB[1]], [dev('c'), seqC[1]]]))), 1);
  assert.equal(store.eventForPush(ids[1]), undefined);
  assert.equal(store.tx(() => store.ackAll(new Map())), 0);
});

test('enqueueExisting without RETURNING still names the devices that got a row', () => {
  const store = freshStore(['a', 'b', 'c']);
  const id = store.tx(() => message(store, new Uint8Array([9])));
  const got = store.tx(() => store.enqueueExisting([dev('c'), dev('gone'), dev('b')], id));
  assert.deepEqual(got, [dev('c'), dev('b')]);
  const all = store.tx(() => store.enqueueExisting([dev('a'), dev('b')], message(store, new Uint8Array([8]))));
  assert.deepEqual(all, [dev('a'), dev('b')]);
});

test('b64 (native decoding) accepts, refuses and decodes exactly as fromB64', () => {
  for (let len = 0; len < 130; len++) {
    for (let k = 0; k < 4; k++) {
      const s = toB64(randomBytes(len));
      const got = b64({ f: s }, 'f');
      assert.deepEqual([...got], [...fromB64(s)], s);
      assert.equal(got.byteOffset, 0, 'a buffer of its own');
      assert.equal(got.buffer.byteLength >= got.length, true);
      // Stray low bits in the last character are ignored by both.
      if (s.length % 4 > 1) {
        const odd = s.slice(0, -1) + (s.endsWith('_') ? '-' : '_');
        assert.deepEqual([...b64({ f: odd }, 'f')], [...fromB64(odd)], odd);
      }
    }
  }
  for (const bad of ['a', 'abcde', 'ab==', 'ab+c', 'ab/c', 'ab c', 'abc=', 'é', '\u0000abc']) {
    assert.throws(() => fromB64(bad));
    assert.throws(() => b64({ f: bad }, 'f'), (e) => e instanceof ApiFailure && /not valid base64url/.test(e.message), bad);
  }
  assert.throws(() => b64({ f: 12 }, 'f'), ApiFailure);
});

test("savepoint journals stay in memory, and a savepoint's rollback larger than SQLite's 64 KB spill still undoes only its own rows", () => {
  const store = freshStore(['a', 'b']);
  // 2 = MEMORY: the journals of the group commit's per-request savepoints never go through temporary files.
  assert.equal(store.db.pragma('temp_store', { simple: true }), 2);
  const big = randomBytes(30_000);
  const kept = store.tx(() => {
    const kept = message(store, big);
    assert.throws(() =>
      store.tx(() => {
        // ~40 pages changed inside the savepoint: well past the in-memory journal's spill size.
        for (let i = 0; i < 5; i++) store.enqueueExisting([dev('b')], message(store, randomBytes(30_000)));
        throw new Error('refused');
      }),
    );
    store.enqueueExisting([dev('b')], kept);
    return kept;
  });
  assert.deepEqual(store.inboxRefsAfter(dev('b'), 0, 10).map((r) => r.event_id), [kept]);
  assert.deepEqual([...store.inboxAfter(dev('b'), 0, 10)[0].payload], [...big]);
});
