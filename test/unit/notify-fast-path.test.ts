// The follower's fast path for bulk /notify (notify-decode.ts, notify-store.ts): a body of
// application messages is read without copies and stored with multi-row statements. The fast
// decoder must accept nothing the general decoder (decodeFanoutListRaw + the follower's group and
// epoch checks) refuses and yield the same values; the bulk writes must leave exactly the rows the
// per-message path leaves (events, inbox order per device, the sender left out, franks).

import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { decodeFanoutListRaw, encodeFanoutList, encodeFrank, type FanoutMessage } from '../../src-shared/mimi-protocol.js';
import { peekMlsMessage } from '../../src-shared/mls-wire.js';
import { decodeVarint, TlsReader, TlsWriter } from '../../src-shared/tls.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import { encodeIdRanges, FANOUT_HEADERS } from '../../src-provider/federation/fanout-outbox.js';
import { Follower } from '../../src-provider/federation/follower.js';
import { decodeApplicationRun } from '../../src-provider/federation/notify-decode.js';
import { EVENT_ROWS, FORWARDED_KEYS, INBOX_ROWS } from '../../src-provider/federation/notify-store.js';
import { SeenLog } from '../../src-provider/federation/seen-log.js';
import { openStore, type Store } from '../../src-provider/store.js';

const HUB = 'a.example';
const ROOM = 'mimi://a.example/r/fast-path';
const ROOM_ID = Buffer.from(ROOM);
const MAX_EPOCH = 2n ** 63n - 2n;

function privateMessage(room: string, text: string, epoch = 1n, contentType = 1): Uint8Array {
  return new TlsWriter()
    .u16(1)
    .u16(2)
    .opaqueV(Buffer.from(room))
    .u64(epoch)
    .u8(contentType)
    .opaqueV(new Uint8Array(0))
    .opaqueV(randomBytes(8))
    .opaqueV(Buffer.from(text))
    .finish();
}

function frank(i: number) {
  return { serverFrank: new Uint8Array(32).fill(i & 0xff), frankingSignatureCiphersuite: 1, frankingIntegritySignature: randomBytes(64) };
}

function applications(n: number, opts: { room?: string; frankEvery?: number; t0?: number } = {}): FanoutMessage[] {
  const out: FanoutMessage[] = [];
  for (let i = 0; i < n; i++) {
    const m: FanoutMessage = { kind: 'application', timestamp: BigInt((opts.t0 ?? 1_700_000_000_000) + i), message: privateMessage(opts.room ?? ROOM, `m${i}`, BigInt(1 + (i % 3))) };
    if (opts.frankEvery && i % opts.frankEvery === 0) (m as { frank?: unknown }).frank = frank(i);
    out.push(m);
  }
  return out;
}

/** What the general path makes of a body (throws where it refuses), in the fast path's terms. */
function general(body: Uint8Array) {
  return decodeFanoutListRaw(body).map(({ message: m, raw }) => {
    if (m.kind !== 'application') throw new Error(`not an application message: ${m.kind}`);
    const info = peekMlsMessage(m.message);
    if (Buffer.from(info.groupId!).toString('utf8') !== ROOM) throw new Error('another group');
    if (info.epoch! > MAX_EPOCH) throw new Error('epoch too large');
    return { timestamp: m.timestamp, message: Buffer.from(m.message), raw: Buffer.from(raw), epoch: info.epoch, frank: m.frank ? Buffer.from(encodeFrank(m.frank)) : null };
  });
}

function fast(body: Uint8Array) {
  return decodeApplicationRun(body, ROOM_ID, MAX_EPOCH)?.map((it) => ({
    timestamp: it.message.timestamp,
    message: Buffer.from(it.message.message),
    raw: Buffer.from(it.raw),
    epoch: it.epoch,
    frank: it.frank ? Buffer.from(it.frank) : null,
  }));
}

test('the fast decoder yields what the general decoder yields for application bodies, with and without franks', () => {
  for (const frankEvery of [0, 1, 3]) {
    const body = Buffer.from(encodeFanoutList(applications(40, { frankEvery })));
    const got = fast(body);
    assert.ok(got, `frankEvery ${frankEvery}: taken by the fast path`);
    assert.deepEqual(got, general(body));
  }
});

test('the fast decoder gives up on everything else: other kinds, another group, a huge epoch, other wire formats', () => {
  const proposalLike = privateMessage(ROOM, 'p', 1n, 2); // a PrivateMessage carrying a proposal
  const cases: [string, Uint8Array][] = [
    ['a proposal among application messages', Buffer.concat([encodeFanoutList(applications(2)), encodeFanoutList([{ kind: 'proposal', timestamp: 5n, message: proposalLike, moreProposals: [] }])])],
    ['another group', encodeFanoutList(applications(3, { room: 'mimi://a.example/r/other' }))],
    ['an epoch beyond any room', encodeFanoutList([{ kind: 'application', timestamp: 1n, message: privateMessage(ROOM, 'x', MAX_EPOCH + 1n) }])],
    ['an empty body', new Uint8Array(0)],
    ['trailing garbage', Buffer.concat([encodeFanoutList(applications(2)), Uint8Array.of(0, 0, 0)])],
  ];
  for (const [what, body] of cases) assert.equal(decodeApplicationRun(body, ROOM_ID, MAX_EPOCH), undefined, what);
  // The last application message's epoch exactly at the limit is still taken.
  assert.ok(decodeApplicationRun(encodeFanoutList([{ kind: 'application', timestamp: 1n, message: privateMessage(ROOM, 'x', MAX_EPOCH) }]), ROOM_ID, MAX_EPOCH));
});

test('on any truncation or changed byte the fast decoder either gives up or agrees with the general decoder', () => {
  const body = Buffer.from(encodeFanoutList(applications(3, { frankEvery: 2 })));
  let taken = 0;
  let refusedByBoth = 0;
  const check = (b: Buffer, what: string) => {
    const f = fast(b);
    let g: ReturnType<typeof general> | undefined;
    try {
      g = general(b);
    } catch {
      g = undefined;
    }
    if (f === undefined) {
      if (g === undefined) refusedByBoth++;
      return;
    }
    taken++;
    assert.ok(g, `${what}: the fast path took a body the general path refuses`);
    assert.deepEqual(f, g, what);
  };
  for (let n = 0; n < body.length; n++) check(body.subarray(0, n), `truncated to ${n}`);
  for (let i = 0; i < body.length; i++) {
    for (const v of [0x00, 0x01, 0x03, 0x40, 0x7f, 0x80, 0xc0, 0xff, body[i] ^ 0x01]) {
      if (v === body[i]) continue;
      const b = Buffer.from(body);
      b[i] = v;
      check(b, `byte ${i} = ${v}`);
    }
  }
  // Both outcomes occur, so the loop above compared something.
  assert.ok(taken > 100 && refusedByBoth > 100, `taken ${taken}, refused by both ${refusedByBoth}`);
});

test('TlsReader.skipV, viewV and skip consume and refuse exactly as opaqueV and bytes do', () => {
  const outcome = (f: () => unknown, r: TlsReader) => {
    try {
      const v = f();
      return { ok: v instanceof Uint8Array ? Buffer.from(v).toString('hex') : null, offset: r.offset };
    } catch (e) {
      return { error: (e as Error).message, offset: r.offset };
    }
  };
  // skip and skipV return nothing: what they must share with the copying readers is the error or the new offset.
  const noValue = ({ ok: _ok, ...rest }: { ok?: unknown; error?: string; offset: number }) => rest;
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    Uint8Array.of(0),
    Uint8Array.of(3, 1, 2, 3, 9),
    Uint8Array.of(3, 1, 2),
    Uint8Array.of(0x40, 0x3f), // non-minimal 2-byte
    Uint8Array.of(0x40, 0x40, ...new Uint8Array(64)),
    Uint8Array.of(0x80, 0, 0x3f, 0xff), // non-minimal 4-byte
    Uint8Array.of(0x80, 0, 0x40, 0), // needs 16,384 bytes, truncated
    Uint8Array.of(0xc0, 0, 0, 0, 0, 0, 0, 1), // 8-byte form
    Uint8Array.of(0x41), // truncated prefix
  ];
  for (const b of inputs) {
    for (const start of [0, 1]) {
      for (const end of [b.length, Math.max(start, b.length - 1)]) {
        const ref = new TlsReader(b, start, end);
        const want = outcome(() => ref.opaqueV(), ref);
        // The reader's own varint decoding refuses what decodeVarint refuses, in its words.
        if (start < end) {
          let varintError: string | undefined;
          try {
            decodeVarint(b.subarray(start, end));
          } catch (e) {
            varintError = (e as Error).message;
          }
          if (varintError !== undefined) assert.equal(want.error, varintError, `varint ${Buffer.from(b).toString('hex')} [${start}, ${end})`);
        }
        const skip = new TlsReader(b, start, end);
        assert.deepEqual(noValue(outcome(() => skip.skipV(), skip)), noValue(want), `skipV ${Buffer.from(b).toString('hex')} [${start}, ${end})`);
        const view = new TlsReader(b, start, end);
        assert.deepEqual(outcome(() => view.viewV(), view), want, `viewV ${Buffer.from(b).toString('hex')} [${start}, ${end})`);
        for (const n of [0, 1, 2, 5]) {
          const a = new TlsReader(b, start, end);
          const wantFixed = outcome(() => a.bytes(n), a);
          const c = new TlsReader(b, start, end);
          assert.deepEqual(noValue(outcome(() => c.skip(n), c)), noValue(wantFixed), `skip(${n})`);
        }
      }
    }
  }
});

// ---- the bulk writes, against the per-message path ----

interface Side {
  store: Store;
  follower: Follower;
  devices: string[];
  close(): void;
}

function side(reuseMemberLookup: boolean): Side {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-notify-fast-'));
  const store = openStore(dir);
  const user = mkUserUri('b.example', 'bob');
  const uid = store.insertUser('bob', user, 'scrypt$disabled', Date.now())!;
  const devices = ['dev1', 'dev2'].map((d) => {
    const uri = mkDeviceUri('b.example', 'bob', d);
    store.insertDevice({ deviceUri: uri, userId: uid, deviceId: d, name: 'test', tokenHash: randomBytes(32), now: Date.now() });
    return uri;
  });
  store.ensureFollowerRoom(ROOM, HUB, Date.now());
  for (const d of devices) store.addRoomDevice(ROOM, d, user);
  store.addParticipant(ROOM, user);
  const seenLog = new SeenLog(store.db);
  const follower = new Follower({ domain: 'b.example', store, seenLog, peerClient: { post: () => Promise.reject(new Error('no hub in this test')) }, reuseMemberLookup });
  return { store, follower, devices, close: () => (store.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

/** Every device's inbox, in seq order, as the rows a client would get. */
function inboxes(s: Side) {
  return s.devices.map((d) =>
    s.store.db
      .prepare(
        `SELECT e.kind, e.room_uri, e.epoch, e.sender_device, hex(e.payload) AS payload, e.ratchet_tree, e.accepted_ts, CASE WHEN e.frank IS NULL THEN NULL ELSE hex(e.frank) END AS frank
           FROM inbox i JOIN events e ON e.id = i.event_id WHERE i.device_uri = ? ORDER BY i.seq`,
      )
      .all(d),
  );
}

test('a bulk run stores exactly what the per-message path stores: order, franks, the sender left out', async () => {
  const bulk = side(true);
  const single = side(false);
  try {
    // More messages than one multi-row statement of each kind holds, and not a multiple of either.
    const n = Math.max(EVENT_ROWS, INBOX_ROWS, FORWARDED_KEYS) * 2 + 7;
    const msgs = applications(n, { frankEvery: 5 });
    // Two of them were sent by our dev1 (forwarded to the hub): they must not come back to dev1.
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();
    for (const s of [bulk, single]) for (const i of [3, FORWARDED_KEYS + 1]) s.store.recordForwarded(sha(msgs[i].message), s.devices[0], Date.now());
    const bodies = [msgs.slice(0, 100), msgs.slice(100)].map((part) => Buffer.from(encodeFanoutList(part)));
    let first = 1;
    for (const [i, body] of bodies.entries()) {
      const count = i === 0 ? 100 : n - 100;
      const ids = Array.from({ length: count }, (_, k) => first + k);
      first += count;
      const headers = { [FANOUT_HEADERS.stream]: 's1', [FANOUT_HEADERS.ids]: encodeIdRanges(ids) };
      for (const s of [bulk, single]) assert.equal((await s.follower.notify(HUB, ROOM, body, headers)).status, 201);
    }
    const got = inboxes(bulk);
    assert.deepEqual(got, inboxes(single));
    assert.equal(got[0].length, n - 2);
    assert.equal(got[1].length, n);
    // dev2 gets dev1's messages as dev1's, everything else as the hub's; franks as sent.
    const rows = got[1] as { sender_device: string; frank: string | null; accepted_ts: number; payload: string }[];
    rows.forEach((r, i) => {
      assert.equal(r.sender_device, i === 3 || i === FORWARDED_KEYS + 1 ? bulk.devices[0] : HUB, `sender of ${i}`);
      assert.equal(r.frank, msgs[i].kind === 'application' && msgs[i].frank ? Buffer.from(encodeFrank(msgs[i].frank!)).toString('hex').toUpperCase() : null, `frank of ${i}`);
      assert.equal(r.accepted_ts, Number(msgs[i].timestamp));
      assert.equal(r.payload, Buffer.from(msgs[i].message).toString('hex').toUpperCase());
    });
    // The same bodies again (a resend): nothing more.
    for (const s of [bulk, single]) {
      assert.equal((await s.follower.notify(HUB, ROOM, bodies[1], { [FANOUT_HEADERS.stream]: 's1', [FANOUT_HEADERS.ids]: encodeIdRanges(Array.from({ length: n - 100 }, (_, k) => 101 + k)) })).status, 201);
    }
    assert.deepEqual(inboxes(bulk), got);
  } finally {
    bulk.close();
    single.close();
  }
});

test('the general path still refuses what it refused, with the same words, when the fast path gives up', async () => {
  const s = side(true);
  try {
    const other = Buffer.from(encodeFanoutList(applications(2, { room: 'mimi://a.example/r/other' })));
    assert.throws(() => s.follower.notify(HUB, ROOM, other), /FanoutMessage 0 belongs to group "mimi:\/\/a.example\/r\/other"/);
    const truncated = Buffer.from(encodeFanoutList(applications(2))).subarray(0, 30);
    assert.throws(() => s.follower.notify(HUB, ROOM, truncated), /notify body is not a list of FanoutMessages/);
    const two = Buffer.from(encodeFanoutList(applications(2)));
    assert.throws(() => s.follower.notify(HUB, ROOM, two, { [FANOUT_HEADERS.stream]: 's1', [FANOUT_HEADERS.ids]: '1-3' }), /names 3 messages, the body holds 2/);
    assert.equal((s.store.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 0);
  } finally {
    s.close();
  }
});
