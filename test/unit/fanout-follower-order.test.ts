// The follower's side of pipelined fanout (follower.ts, seen-log.ts): /notify requests carrying the
// hub's sequence headers (fanout-outbox.ts) are applied in the hub's order per room whatever order
// they arrive in, exactly once however they are resent or re-cut, and malformed sequence headers
// are refused before anything changes. The Follower runs over a real Store; the FanoutMessages are
// application messages with a stand-in PrivateMessage (the follower never decrypts).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { encodeFanoutList } from '../../src-shared/mimi-protocol.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import { ApiFailure } from '../../src-provider/errors.js';
import { encodeIdRanges, FANOUT_HEADERS, OUT_OF_ORDER_STATUS } from '../../src-provider/federation/fanout-outbox.js';
import { fanoutSequence, Follower } from '../../src-provider/federation/follower.js';
import type { S2sReply } from '../../src-provider/federation/s2s-handler.js';
import { SeenLog } from '../../src-provider/federation/seen-log.js';
import { openStore, type Store } from '../../src-provider/store.js';

const HUB = 'a.example';
const ROOM = 'mimi://a.example/r/fanout-order';
const ROOM2 = 'mimi://a.example/r/fanout-order-2';

/** An MLS PrivateMessage (application) of `room` whose ciphertext is `text` (stand-in: the follower only reads the header). */
function privateMessage(room: string, text: string): Uint8Array {
  return new TlsWriter()
    .u16(1) // mls10
    .u16(2) // mls_private_message
    .opaqueV(Buffer.from(room))
    .u64(1n)
    .u8(1) // application
    .opaqueV(new Uint8Array(0))
    .opaqueV(randomBytes(8))
    .opaqueV(Buffer.from(text))
    .finish();
}

/** One /notify body: the FanoutMessage of `text`, stamped `ts` (the hub's acceptance time). */
function body(room: string, text: string, ts: number): Uint8Array {
  return encodeFanoutList([{ kind: 'application' as const, timestamp: BigInt(ts), message: privateMessage(room, text) }]);
}

/** Message texts are stable per id, so a resent or re-cut batch carries the same FanoutMessage bytes. */
const messages = new Map<string, Uint8Array>();
function fanout(room: string, id: number): Uint8Array {
  const key = `${room} ${id}`;
  // Stamped in id order, as a hub stamps rows when it accepts them.
  if (!messages.has(key)) messages.set(key, body(room, `m${id}`, 1_700_000_000_000 + id));
  return messages.get(key)!;
}
function batch(room: string, ids: number[]): Uint8Array {
  return Buffer.concat(ids.map((id) => fanout(room, id)));
}
function headers(ids: number[], after?: number, stream = 'stream1'): IncomingHttpHeaders {
  return { [FANOUT_HEADERS.stream]: stream, [FANOUT_HEADERS.ids]: encodeIdRanges(ids), ...(after === undefined ? {} : { [FANOUT_HEADERS.after]: String(after) }) };
}

interface Fixture {
  store: Store;
  follower: Follower;
  device: string;
  /** The device's inbox as message texts, in inbox order. */
  inbox(room?: string): string[];
  close(): void;
}

function fixture(opts: { orderWaitMs?: number } = {}): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-fanout-order-'));
  const store = openStore(dir);
  const user = mkUserUri('b.example', 'bob');
  const device = mkDeviceUri('b.example', 'bob', 'dev1');
  const uid = store.insertUser('bob', user, 'scrypt$disabled', Date.now())!;
  store.insertDevice({ deviceUri: device, userId: uid, deviceId: 'dev1', name: 'test', tokenHash: randomBytes(32), now: Date.now() });
  for (const room of [ROOM, ROOM2]) {
    store.ensureFollowerRoom(room, HUB, Date.now());
    store.addRoomDevice(room, device, user);
    store.addParticipant(room, user);
  }
  const follower = new Follower({
    domain: 'b.example',
    store,
    peerClient: { post: () => Promise.reject(new Error('no peer calls expected')) },
    seenLog: new SeenLog(store.db),
    ...(opts.orderWaitMs === undefined ? {} : { orderWaitMs: opts.orderWaitMs }),
  });
  const inbox = (room?: string) =>
    (
      store.db
        .prepare(`SELECT e.payload, e.room_uri FROM inbox i JOIN events e ON e.id = i.event_id WHERE i.device_uri = ? ORDER BY i.seq`)
        .all(device) as { payload: Buffer; room_uri: string }[]
    )
      .filter((r) => room === undefined || r.room_uri === room)
      .map((r) => {
        // The stand-in's ciphertext (the last opaque) is the text: read it back from the end.
        const p = new Uint8Array(r.payload);
        const m = /m\d+$/.exec(Buffer.from(p).toString('latin1'));
        return m ? m[0] : '?';
      });
  return {
    store,
    follower,
    device,
    inbox,
    close: () => {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const notify = (f: Fixture, room: string, ids: number[], after?: number, stream?: string): Promise<S2sReply> =>
  Promise.resolve(f.follower.notify(HUB, room, batch(room, ids), headers(ids, after, stream)));

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('pipelined batches that arrive out of order are applied in the hub order, once each', async () => {
  const f = fixture();
  try {
    // Four batches of one room in flight at once; they arrive 3, 4, 2, 1.
    const third = notify(f, ROOM, ids(7, 9), 6);
    const fourth = notify(f, ROOM, ids(10, 12), 9);
    const second = notify(f, ROOM, ids(4, 6), 3);
    let settled = 0;
    for (const p of [third, fourth, second]) void p.then(() => settled++);
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, 0, 'nothing is answered before the batch they follow');
    assert.deepEqual(f.inbox(), [], 'nothing applied before the first batch');
    const first = await notify(f, ROOM, ids(1, 3));
    assert.equal(first.status, 201);
    assert.equal(first.headers?.[FANOUT_HEADERS.order], '1', 'the follower announces that it keeps the order');
    for (const r of await Promise.all([second, third, fourth])) assert.equal(r.status, 201);
    assert.deepEqual(f.inbox(), ids(1, 12).map((i) => `m${i}`));
  } finally {
    f.close();
  }
});

test('rooms are independent: a batch of one room does not wait for another room', async () => {
  const f = fixture();
  try {
    const waiting = notify(f, ROOM, ids(5, 6), 4); // ROOM's batch ending at 4 has not come yet
    assert.equal((await notify(f, ROOM2, [1, 3])).status, 201); // ROOM2's oldest rows (ids interleave)
    assert.deepEqual(f.inbox(ROOM2), ['m1', 'm3']);
    assert.deepEqual(f.inbox(ROOM), []);
    assert.equal((await notify(f, ROOM, [2, 4])).status, 201);
    assert.equal((await waiting).status, 201);
    assert.deepEqual(f.inbox(ROOM), ['m2', 'm4', 'm5', 'm6']);
  } finally {
    f.close();
  }
});

test('a batch whose predecessor never comes is refused as out of order (retryable), and changes nothing', async () => {
  const f = fixture({ orderWaitMs: 50 });
  try {
    assert.equal((await notify(f, ROOM, ids(1, 2))).status, 201);
    const r = await notify(f, ROOM, ids(6, 7), 5); // the batch ending at 5 was lost
    assert.equal(r.status, OUT_OF_ORDER_STATUS);
    assert.deepEqual(f.inbox(), ['m1', 'm2']);
    // The hub starts again from its oldest row: 3..7 without After, then all is there once.
    assert.equal((await notify(f, ROOM, ids(3, 7))).status, 201);
    assert.deepEqual(f.inbox(), ids(1, 7).map((i) => `m${i}`));
  } finally {
    f.close();
  }
});

test('resent, re-cut and replayed batches are applied exactly once (by id; digests for the first batch; timestamps without ids)', async () => {
  const f = fixture();
  try {
    assert.equal((await notify(f, ROOM, ids(1, 4))).status, 201);
    // The answer was lost: the same batch again, then re-cut shorter and longer, with and without After.
    assert.equal((await notify(f, ROOM, ids(1, 4))).status, 201);
    assert.equal((await notify(f, ROOM, ids(1, 2))).status, 201);
    assert.equal((await notify(f, ROOM, ids(3, 8))).status, 201);
    assert.equal((await notify(f, ROOM, ids(5, 10), 4)).status, 201);
    assert.equal((await notify(f, ROOM, ids(1, 10))).status, 201);
    assert.deepEqual(f.inbox(), ids(1, 10).map((i) => `m${i}`));
    // Without sequence headers (a replay, or a hub that stopped sending them): the digests recognise
    // what the first, digest-checked batch of the room brought, the timestamps what came by id.
    assert.equal((await f.follower.notify(HUB, ROOM, batch(ROOM, ids(1, 2)))).status, 201);
    assert.equal((await f.follower.notify(HUB, ROOM, batch(ROOM, ids(5, 10)))).status, 201);
    assert.equal((await f.follower.notify(HUB, ROOM, batch(ROOM, [10]))).status, 201);
    assert.deepEqual(f.inbox(), ids(1, 10).map((i) => `m${i}`));
    // A message the hub stamped later is new, and is then recorded by its digest.
    const later = encodeFanoutList([{ kind: 'application', timestamp: BigInt(2_000_000_000_000), message: privateMessage(ROOM, 'm11') }]);
    assert.equal((await f.follower.notify(HUB, ROOM, later)).status, 201);
    assert.equal((await f.follower.notify(HUB, ROOM, later)).status, 201);
    assert.deepEqual(f.inbox(), ids(1, 11).map((i) => `m${i}`));
    // A recreated hub outbox (a new stream) starts afresh, with the digests: old messages stay once.
    assert.equal((await notify(f, ROOM, [1, 2, 3], undefined, 'stream2')).status, 201);
    assert.deepEqual(f.inbox(), ids(1, 11).map((i) => `m${i}`));
  } finally {
    f.close();
  }
});

test('the position survives a restart of the follower (it is in the database, not in memory)', async () => {
  const f = fixture();
  try {
    assert.equal((await notify(f, ROOM, ids(1, 3))).status, 201);
    const again = new Follower({ domain: 'b.example', store: f.store, peerClient: { post: () => Promise.reject(new Error('none')) }, seenLog: new SeenLog(f.store.db) });
    const r = await Promise.resolve(again.notify(HUB, ROOM, batch(ROOM, ids(4, 5)), headers(ids(4, 5), 3)));
    assert.equal(r.status, 201, 'in turn at once');
    assert.equal((await Promise.resolve(again.notify(HUB, ROOM, batch(ROOM, ids(2, 5)), headers(ids(2, 5))))).status, 201);
    assert.deepEqual(f.inbox(), ids(1, 5).map((i) => `m${i}`));
  } finally {
    f.close();
  }
});

test('malformed sequence headers are 400 and change nothing', async () => {
  const f = fixture();
  try {
    const bad: [IncomingHttpHeaders, RegExp][] = [
      [{ [FANOUT_HEADERS.ids]: '1-2' }, /stream/],
      [{ [FANOUT_HEADERS.stream]: 'bad stream!', [FANOUT_HEADERS.ids]: '1-2' }, /stream/],
      [{ [FANOUT_HEADERS.stream]: 's' }, /ids/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '2,1' }, /ascending/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '1-1,1' }, /ascending/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '0-1' }, /positive integer/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '1-x' }, /positive integer/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '1-3' }, /names 3 messages, the body holds 2/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '5-6', [FANOUT_HEADERS.after]: '5' }, /below/],
      [{ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '1-2', [FANOUT_HEADERS.after]: '-1' }, /positive integer/],
    ];
    for (const [h, re] of bad) {
      assert.throws(
        () => f.follower.notify(HUB, ROOM, batch(ROOM, [1, 2]), h),
        (e: unknown) => e instanceof ApiFailure && e.status === 400 && re.test(e.message),
        JSON.stringify(h),
      );
    }
    assert.deepEqual(f.inbox(), []);
    assert.equal(fanoutSequence(undefined), undefined);
    assert.equal(fanoutSequence({}), undefined);
    assert.deepEqual(fanoutSequence({ [FANOUT_HEADERS.stream]: 's', [FANOUT_HEADERS.ids]: '3-5,9,11-12' })?.ids, [3, 4, 5, 9, 11, 12]);
    assert.equal(encodeIdRanges([3, 4, 5, 9, 11, 12]), '3-5,9,11-12');
  } finally {
    f.close();
  }
});
