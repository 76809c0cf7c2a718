// Timeline events in the profile database (migration 9), on a real SQLite file: stored sealed,
// once per id, with seqs that never meet a message's; pages of messages and events together in
// timeline order (the hub's time, then id; pending messages last), by any item's seq as cursor;
// message pages, counts and lookups see no event.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ProfileDb, type MessageStatus } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { encodeContent, textMessage } from '../../src-shared/content.js';
import { utf8 } from '../../src-shared/bytes.js';
import { eventItemView, storeTimelineEvents, timelineEventId } from '../../src-main/core/timeline-events.js';
import { tempDir } from '../helpers/provider-process.js';

const ROOM = 'mimi://a.example/r/events';
const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

test('events and messages page together in timeline order; message reads see no event', async () => {
  const file = path.join(tempDir('events-db'), 'mimi.db');
  const db = new ProfileDb(file, await Vault.open(memoryStore()));
  try {
    db.insertRoom({ roomUri: ROOM, name: 'events', hubDomain: 'a.example', epoch: 1n, groupState: new Uint8Array([1]) });
    const say = (id: string, status: MessageStatus, timestamp: number) =>
      db.insertMessage({ roomUri: ROOM, messageId: id, sender: ALICE, content: encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, text: id })), timestamp, status }, false)!;
    // An event before any message: the counter starts with it.
    const [added] = db.tx(() => storeTimelineEvents(db, ROOM, 1n, 100, [{ kind: 'added', by: ALICE, user: BOB }]));
    const m1 = say('a1'.padEnd(64, '0'), 'received', 200);
    const evs = db.tx(() => storeTimelineEvents(db, ROOM, 2n, 300, [{ kind: 'renamed', by: BOB, name: 'Dinner' }, { kind: 'roleChanged', by: BOB, user: ALICE, from: 'group_admin', to: 'ordinary_user' }]));
    const pending = say('ff'.padEnd(64, '0'), 'pending', 50);
    const m2 = say('b2'.padEnd(64, '0'), 'sent', 300); // the same millisecond as the events: hex ids sort first
    // Seqs never meet: one counter for both.
    const seqs = [added.seq, m1.seq, ...evs.map((e) => e.seq), pending.seq, m2.seq];
    assert.equal(new Set(seqs).size, seqs.length, `distinct seqs ${seqs}`);
    assert.ok(m1.seq > added.seq && evs[0].seq > m1.seq && pending.seq > evs[1].seq);

    const all = db.pageTimeline(ROOM, null, 50).reverse();
    assert.deepEqual(
      all.map((i) => (i.kind === 'event' ? i.row.eventId : i.row.messageId.slice(0, 2))),
      [timelineEventId(1n, 0), 'a1', 'b2', timelineEventId(2n, 0), timelineEventId(2n, 1), 'ff'],
    );
    // Paging back from any item, an event included, continues in the same order.
    const newest3 = db.pageTimeline(ROOM, null, 3);
    const rest = db.pageTimeline(ROOM, newest3[2].row.seq, 10);
    assert.deepEqual([...newest3, ...rest].map((i) => i.row.seq), db.pageTimeline(ROOM, null, 50).map((i) => i.row.seq));
    assert.equal(newest3[2].kind, 'event');

    // The same commit's events stored again: nothing new.
    assert.deepEqual(db.tx(() => storeTimelineEvents(db, ROOM, 2n, 300, [{ kind: 'renamed', by: BOB, name: 'Dinner' }])), []);
    // Messages alone, as message reads see them.
    assert.deepEqual(db.pageMessages(ROOM, null, 50).map((m) => m.messageId.slice(0, 2)), ['ff', 'b2', 'a1']);
    assert.equal(db.countMessages(ROOM), 3);
    assert.equal(db.messageById(ROOM, timelineEventId(1n, 0)), undefined, 'no message by an event id: nothing to report');
    assert.equal(db.getRoom(ROOM)!.unread, 0);

    // The view the app gets: no sender, the sentence, the event.
    const v = eventItemView(evs[1]);
    assert.equal(v.sender, '');
    assert.equal(v.text, 'bob@b.example changed alice@a.example’s role from Admin to Member');
    assert.deepEqual(v.event, { kind: 'roleChanged', by: BOB, user: ALICE, from: 'group_admin', to: 'ordinary_user' });
    // A damaged row is refused when read back, not shown half.
    assert.throws(() => eventItemView({ ...evs[1], content: utf8('{"kind":"added"}') }), /lacks/);
  } finally {
    db.close();
  }
  // Sealed on disk: the file holds no name or text of an event.
  const raw = new Database(file, { readonly: true });
  try {
    assert.ok((raw.pragma('user_version', { simple: true }) as number) >= 9, 'migration 9 ran');
    for (const r of raw.prepare('SELECT content FROM timeline_events').all() as { content: Buffer }[]) assert.doesNotMatch(r.content.toString('latin1'), /bob|alice|Dinner|renamed|group_admin/);
  } finally {
    raw.close();
  }
  assert.ok(fs.statSync(file).size > 0);
});
