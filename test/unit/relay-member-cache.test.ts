// The relay's store shortcuts (issue 13): a room's members are read once and kept until they change
// (store.cachedRoomMembers, room-members.ts storedMembers), inbox rows for a message's recipients
// go in with one statement that skips deleted devices (enqueueExisting), and an ack drops its
// rows and the events they leave unreferenced in bulk. The cache must never serve a member that a
// commit removed, nor one that a rolled-back savepoint added, nor miss a change made by another
// connection.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src-provider/store.js';
import { storedMembers } from '../../src-provider/room-members.js';

const dirs: string[] = [];
const stores: Store[] = [];
after(() => {
  for (const s of stores) s.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ROOM = 'mimi://a.example/r/cache';
const dev = (h: string) => `mimi://a.example/d/${h}/1`;
const user = (h: string) => `mimi://a.example/u/${h}`;

function freshStore(): { store: Store; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-relay-cache-'));
  dirs.push(dir);
  const store = openStore(dir);
  stores.push(store);
  store.tx(() => store.insertRoom(ROOM, 0));
  return { store, dir };
}

const identities = (store: Store) => store.tx(() => storedMembers(store, ROOM).map((m) => m.identity));

test('a member removed by a committed transaction is never served again', () => {
  const { store } = freshStore();
  store.tx(() => {
    store.addRoomDevice(ROOM, dev('alice'), user('alice'));
    store.addRoomDevice(ROOM, dev('bob'), user('bob'));
  });
  assert.deepEqual(identities(store), [dev('alice'), dev('bob')]);
  // Read again inside the same transaction that removes: before and after the removal.
  store.tx(() => {
    assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('alice'), dev('bob')]);
    store.removeRoomDevice(ROOM, dev('bob'));
    assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('alice')]);
  });
  assert.deepEqual(identities(store), [dev('alice')]);
});

test('a savepoint that rolls back leaves no trace in the cache (added, removed, or read inside it)', () => {
  const { store } = freshStore();
  store.tx(() => {
    store.addRoomDevice(ROOM, dev('alice'), user('alice'));
    store.addRoomDevice(ROOM, dev('bob'), user('bob'));
  });
  assert.deepEqual(identities(store), [dev('alice'), dev('bob')]);
  store.tx(() => {
    // A savepoint adds carol, removes bob, fills the cache with that, then fails.
    assert.throws(() =>
      store.tx(() => {
        store.addRoomDevice(ROOM, dev('carol'), user('carol'));
        store.removeRoomDevice(ROOM, dev('bob'));
        assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('alice'), dev('carol')]);
        throw new Error('job failed');
      }),
    );
    // The enclosing transaction goes on and sees the rows as they are.
    assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('alice'), dev('bob')]);
    // A later savepoint that commits a removal is seen, even though the earlier one was cached.
    store.tx(() => store.removeRoomDevice(ROOM, dev('alice')));
    assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('bob')]);
  });
  assert.deepEqual(identities(store), [dev('bob')]);
});

test('a whole transaction that rolls back after filling the cache leaves it as committed', () => {
  const { store } = freshStore();
  store.tx(() => store.addRoomDevice(ROOM, dev('alice'), user('alice')));
  assert.throws(() =>
    store.tx(() => {
      store.removeRoomDevice(ROOM, dev('alice'));
      store.addRoomDevice(ROOM, dev('mallory'), user('mallory'));
      assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('mallory')]);
      throw new Error('request failed');
    }),
  );
  assert.deepEqual(identities(store), [dev('alice')]);
});

test('a change committed by another connection is seen at the next transaction', () => {
  const { store, dir } = freshStore();
  store.tx(() => {
    store.addRoomDevice(ROOM, dev('alice'), user('alice'));
    store.addRoomDevice(ROOM, dev('bob'), user('bob'));
  });
  assert.deepEqual(identities(store), [dev('alice'), dev('bob')]);
  const other = openStore(dir); // e.g. the admin CLI on the same file
  stores.push(other);
  other.tx(() => other.removeRoomDevice(ROOM, dev('bob')));
  assert.deepEqual(identities(store), [dev('alice')]);
  // Outside a transaction too.
  other.tx(() => other.addRoomDevice(ROOM, dev('carol'), user('carol')));
  assert.deepEqual(storedMembers(store, ROOM).map((m) => m.identity), [dev('alice'), dev('carol')]);
});

test('a destroyed room has no members when it is made again; members come decoded and shared', () => {
  const { store } = freshStore();
  store.tx(() => store.addRoomDevice(ROOM, 'mimi://a.example/p/abc', 'mimi://a.example/p/def'));
  const [m] = store.tx(() => storedMembers(store, ROOM));
  assert.equal(m.pseudonymous, true);
  assert.ok(Object.isFrozen(m), 'shared member objects are frozen');
  // The array handed out is the caller's own.
  const list = store.tx(() => storedMembers(store, ROOM));
  list.pop();
  assert.equal(identities(store).length, 1);
  store.tx(() => store.destroyHostedRoom(ROOM, 1));
  assert.deepEqual(identities(store), []);
});

function withDevices(store: Store, handles: string[]): void {
  store.tx(() => {
    for (const h of handles) {
      const userId = store.insertUser(h, user(h), 'x', 0)!;
      store.insertDevice({ deviceUri: dev(h), userId, deviceId: '1', name: h, tokenHash: Buffer.from(h), now: 0 });
    }
  });
}

test('enqueueExisting: one row per existing device in the order given, deleted ones skipped; ack drops events in bulk', () => {
  const { store } = freshStore();
  withDevices(store, ['a', 'b', 'c']);
  const newEvent = () => store.insertEvent({ room_uri: ROOM, kind: 'message', epoch: 0n, sender_device: dev('a'), payload: new Uint8Array([1]), accepted_ts: 1 });
  const events = store.tx(() =>
    Array.from({ length: 3 }, () => {
      const id = newEvent();
      assert.deepEqual(store.enqueueExisting([dev('c'), dev('gone'), dev('b')], id), [dev('c'), dev('b')]);
      return id;
    }),
  );
  const refs = store.inboxRefsAfter(dev('b'), 0, 10);
  assert.deepEqual(refs.map((r) => r.event_id), events);
  assert.deepEqual(store.inboxRefsAfter(dev('c'), 0, 10).map((r) => r.event_id), events);
  const seqC = store.inboxRefsAfter(dev('c'), 0, 10).map((r) => r.seq);
  assert.ok(seqC[0] < refs[0].seq, 'seqs follow the order given');
  // b acks two: c still holds them, so the events stay.
  assert.equal(store.tx(() => store.ack(dev('b'), refs[1].seq)), 2);
  for (const id of events) assert.ok(store.eventForPush(id));
  // c acks all: the two events nobody holds any more go, the third (b still holds it) stays.
  assert.equal(store.tx(() => store.ack(dev('c'), seqC[2])), 3);
  assert.equal(store.eventForPush(events[0]), undefined);
  assert.equal(store.eventForPush(events[1]), undefined);
  assert.ok(store.eventForPush(events[2]));
  assert.equal(store.tx(() => store.ack(dev('b'), refs[2].seq)), 1);
  assert.equal(store.eventForPush(events[2]), undefined);
  assert.equal(store.tx(() => store.ack(dev('b'), refs[2].seq)), 0);
});
