// The hub's side of pipelined fanout (fanout-outbox.ts) against a scripted transport: one request
// at a time until the follower announces that it keeps the order, then up to maxInFlight; each
// request names its ids and, when the room's previous batch is unanswered, that batch's last id;
// a failure stops new requests, and the worker starts again from the oldest row left (a batch that
// follows nothing unanswered goes without After); rows go only on 201; a follower that never
// announces ordering gets one request at a time, without losing its rows on failures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { FANOUT_HEADERS, FanoutOutbox, OUT_OF_ORDER_STATUS } from '../../src-provider/federation/fanout-outbox.js';
import { PeerError, type PeerResponse } from '../../src-provider/federation/peer-client.js';

const R1 = 'mimi://a.example/r/one';
const R2 = 'mimi://a.example/r/two';
const frame = (n: number) => new Uint8Array([0, 0, 0, 1, n]);

interface Call {
  room: string;
  ids: string | undefined;
  after: string | undefined;
  stream: string | undefined;
  answer: (r: PeerResponse | PeerError) => void;
}

/** A transport whose requests stay open until the test answers them. */
class Scripted {
  open: Call[] = [];
  all: Call[] = [];
  peak = 0;
  readonly post = (_domain: string, _endpoint: string, room: string, _body: Uint8Array, headers?: Record<string, string>): Promise<PeerResponse> =>
    new Promise((resolve, reject) => {
      const call: Call = {
        room,
        ids: headers?.[FANOUT_HEADERS.ids],
        after: headers?.[FANOUT_HEADERS.after],
        stream: headers?.[FANOUT_HEADERS.stream],
        answer: (r) => {
          this.open.splice(this.open.indexOf(call), 1);
          if (r instanceof PeerError) reject(r);
          else resolve(r);
        },
      };
      this.open.push(call);
      this.all.push(call);
      this.peak = Math.max(this.peak, this.open.length);
    });
}

const created = (ordered = true): PeerResponse => ({ status: 201, body: new Uint8Array(0), headers: ordered ? { [FANOUT_HEADERS.order]: '1' } : {} });
const tick = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !cond(); i++) await tick(1);
  assert.ok(cond(), what);
};

function setup(opts: { maxInFlight?: number; maxBatchMessages?: number } = {}) {
  const db = new Database(':memory:');
  const t = new Scripted();
  const logs: string[] = [];
  const outbox = new FanoutOutbox({ db, peers: t, baseDelayMs: 1, maxDelayMs: 2, log: (m) => logs.push(m), maxBatchMessages: 2, ...opts });
  const pending = () => (db.prepare('SELECT id FROM fed_outbox ORDER BY id').pluck().all() as number[]).join(',');
  return { db, t, outbox, logs, pending };
}

test('one request until the follower announces ordering, then up to maxInFlight, chained per room', async () => {
  const { db, t, outbox, pending } = setup({ maxInFlight: 3 });
  // ids 1-2 R1, 3-4 R1, 5-6 R2, 7-8 R1, 9-10 R1 (batches of two).
  db.transaction(() => {
    for (const [room, n] of [[R1, 4], [R2, 2], [R1, 4]] as const) for (let i = 0; i < n; i++) outbox.enqueue('b.example', room, frame(i));
  })();
  outbox.kick();
  await until(() => t.open.length === 1, 'the first request');
  await tick();
  assert.equal(t.open.length, 1, 'alone until the follower said it keeps the order');
  const first = t.open[0];
  assert.deepEqual([first.room, first.ids, first.after], [R1, '1-2', undefined]);
  assert.match(first.stream ?? '', /^[0-9a-f]{32}$/);
  first.answer(created());
  await until(() => t.open.length === 3, 'three in flight');
  assert.deepEqual(
    t.open.map((c) => [c.room, c.ids, c.after]),
    [
      [R1, '3-4', undefined], // R1's oldest row left: all before it were answered 201
      [R2, '5-6', undefined],
      [R1, '7-8', '4'], // follows 3-4, still in flight
    ],
  );
  assert.equal(pending(), '3,4,5,6,7,8,9,10');
  // Answers in any order; rows go as their 201s come.
  t.open[2].answer(created());
  await tick();
  assert.deepEqual(
    t.open.map((c) => [c.ids, c.after]),
    [
      ['3-4', undefined],
      ['5-6', undefined],
      ['9-10', '8'],
    ],
  );
  for (const c of [...t.open]) c.answer(created());
  await outbox.drained();
  assert.equal(pending(), '');
  assert.equal(t.peak, 3);
  assert.deepEqual(outbox.stats(), { sentRequests: 5, sentMessages: 10, retries: 0, pending: 0 });
  await outbox.close();
});

test('a failure stops new requests; once the others are answered, it starts again from the oldest row left', async () => {
  const { db, t, outbox, pending, logs } = setup({ maxInFlight: 4 });
  db.transaction(() => {
    for (let i = 0; i < 10; i++) outbox.enqueue('b.example', R1, frame(i));
  })();
  outbox.kick();
  await until(() => t.open.length === 1, 'first');
  t.open[0].answer(created()); // 1-2
  await until(() => t.open.length === 4, 'four in flight');
  assert.deepEqual(t.open.map((c) => [c.ids, c.after]), [
    ['3-4', undefined],
    ['5-6', '4'],
    ['7-8', '6'],
    ['9-10', '8'],
  ]);
  // 3-4 fails (503); 5-6 and 9-10 were refused as out of order; 7-8 had been applied after all.
  t.open[0].answer(new PeerError('b.example', 'rejected', 'b.example rejected notify: HTTP 503', 503));
  await tick();
  assert.equal(t.open.length, 3, 'nothing new while the others are unanswered');
  t.open[0].answer(new PeerError('b.example', 'rejected', 'out of order', OUT_OF_ORDER_STATUS, 0)); // 5-6
  t.open[0].answer(created()); // 7-8
  await tick();
  assert.equal(pending(), '3,4,5,6,9,10', 'only the 201 removed rows');
  t.open[0].answer(new PeerError('b.example', 'rejected', 'out of order', OUT_OF_ORDER_STATUS, 0)); // 9-10
  // After the backoff: from the oldest row left, without After, then chained again.
  await until(() => t.open.length >= 1, 'the retry');
  assert.deepEqual([t.open[0].ids, t.open[0].after], ['3-4', undefined]);
  await until(() => t.open.length === 3, 'pipelined again');
  assert.deepEqual(t.open.map((c) => [c.ids, c.after]), [
    ['3-4', undefined],
    ['5-6', '4'],
    ['9-10', '6'],
  ]);
  for (const c of [...t.open]) c.answer(created());
  await outbox.drained();
  assert.equal(pending(), '');
  assert.ok(logs.some((l) => /failed: .*503.*retry #1/.test(l)), logs.join('\n'));
  await outbox.close();
});

test('a follower that does not announce ordering gets one request at a time; without pipelining no sequence headers', async () => {
  for (const pipelining of [true, false]) {
    const db = new Database(':memory:');
    const t = new Scripted();
    const outbox = new FanoutOutbox({ db, peers: t, maxBatchMessages: 2, pipelining, baseDelayMs: 1, maxDelayMs: 2 });
    db.transaction(() => {
      for (let i = 0; i < 3; i++) outbox.enqueue('b.example', R1, frame(i));
      for (let i = 0; i < 3; i++) outbox.enqueue('b.example', R2, frame(i));
    })();
    outbox.kick();
    const seen: [string, string | undefined][] = [];
    while (seen.length < 4) {
      await until(() => t.open.length === 1, 'one request');
      await tick();
      assert.equal(t.open.length, 1, 'never two at once');
      seen.push([t.open[0].room, t.open[0].ids]);
      // The ordering header is ignored without pipelining.
      t.open[0].answer(created(!pipelining));
    }
    await outbox.drained();
    assert.deepEqual(
      seen,
      pipelining
        ? [
            [R1, '1-2'],
            [R1, '3'],
            [R2, '4-5'],
            [R2, '6'],
          ]
        : [
            [R1, undefined],
            [R1, undefined],
            [R2, undefined],
            [R2, undefined],
          ],
    );
    assert.ok(t.all.every((c) => c.after === undefined));
    await outbox.close();
  }
});
