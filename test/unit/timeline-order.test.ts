// The timeline's order: the hub's acceptance order (its timestamp, then message ID), pending
// messages last in the order they were written. The same order from the pure comparator (what the
// renderer merges with) and from the profile database's pages (a real SQLite file), including
// pages fetched with a cursor.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ProfileDb, type MessageStatus } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { compareTimeline } from '../../src-shared/timeline-order.js';
import { encodeContent, textMessage } from '../../src-shared/content.js';
import { tempDir } from '../helpers/provider-process.js';

const ROOM = 'mimi://a.example/r/order';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

const view = (seq: number, messageId: string, status: MessageStatus, timestamp: number) => ({ seq, messageId, status, timestamp });

test('compareTimeline: accepted by hub time then message ID, failed by the time written, pending last in seq order', () => {
  const list = [
    view(1, 'ee', 'pending', 500),
    view(2, 'aa', 'sent', 300),
    view(3, 'bb', 'received', 100),
    view(4, 'cc', 'pending', 50),
    view(5, '01', 'received', 300),
    view(6, 'dd', 'failed', 200),
  ];
  assert.deepEqual(
    [...list].sort(compareTimeline).map((m) => m.seq),
    [3, 6, 5, 2, 1, 4],
  );
});

test('ProfileDb pages come in timeline order, and paging by cursor follows it', async () => {
  const db = new ProfileDb(path.join(tempDir('order-db'), 'mimi.db'), await Vault.open(memoryStore()));
  try {
    db.insertRoom({ roomUri: ROOM, name: 'order', hubDomain: 'a.example', epoch: 1n, groupState: new Uint8Array([1]) });
    const add = (id: string, status: MessageStatus, timestamp: number) =>
      db.insertMessage({ roomUri: ROOM, messageId: id, sender: 'mimi://a.example/u/alice', content: encodeContent(textMessage({ senderUri: 'mimi://a.example/u/alice', roomUri: ROOM, text: id })), timestamp, status }, false)!;
    // Our own three, written while the hub was down (pending), then two from bob that the hub
    // accepted in between once it was back.
    const a1 = add('a1', 'pending', 1000);
    const a2 = add('a2', 'pending', 1001);
    const a3 = add('a3', 'pending', 1002);
    add('b1', 'received', 5000);
    add('b2', 'received', 5002);
    const ids = () => db.pageMessages(ROOM, null, 50).reverse().map((m) => m.messageId);
    assert.deepEqual(ids(), ['b1', 'b2', 'a1', 'a2', 'a3'], 'pending messages stay at the end');
    // The hub accepts ours: a1 before b1, a2 between, a3 at the same millisecond as b2.
    db.setMessageStatus(a1.seq, 'sent', 4999);
    db.setMessageStatus(a2.seq, 'sent', 5001);
    assert.deepEqual(ids(), ['a1', 'b1', 'a2', 'b2', 'a3']);
    db.setMessageStatus(a3.seq, 'sent', 5002);
    assert.deepEqual(ids(), ['a1', 'b1', 'a2', 'a3', 'b2'], 'a tie is broken by message ID');
    // Pages by cursor (the oldest seq shown) walk back through the same order.
    const newest = db.pageMessages(ROOM, null, 2);
    assert.deepEqual(newest.map((m) => m.messageId), ['b2', 'a3']);
    const older = db.pageMessages(ROOM, newest[1].seq, 2);
    assert.deepEqual(older.map((m) => m.messageId), ['a2', 'b1']);
    assert.deepEqual(db.pageMessages(ROOM, older[1].seq, 2).map((m) => m.messageId), ['a1']);
    // The SQL order is the comparator's.
    const rows = db.pageMessages(ROOM, null, 50);
    assert.deepEqual(rows.map((m) => m.seq), [...rows].sort(compareTimeline).reverse().map((m) => m.seq));
  } finally {
    db.close();
  }
});
