// Message acceptance times across the nodes of one provider on PostgreSQL (hub/messages.ts
// acceptanceTime, issue 17): members order a room's timeline by acceptance time, so a node whose
// clock is behind must still give a message a later time than the one another node (clock ahead)
// gave the message before it. Two Hubs, each on its own connection to one database as two nodes
// are, with clocks a minute apart; the node behind has never seen the room before (nothing in its
// memory), so only the room's latest stored time can put its message after the other's.
// PostgreSQL: the suite's server (MIMI_TEST_POSTGRES) or a throwaway one of its own.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { openDatabase } from '../../src-provider/database.js';
import { Hub } from '../../src-provider/hub.js';
import type { Store } from '../../src-provider/store.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { tempDir, testDatabase } from '../helpers/provider-process.js';

const DOMAIN = 'a.example';
const ROOM = `mimi://${DOMAIN}/r/clocks`;
const ALICE = { userUri: `mimi://${DOMAIN}/u/alice`, deviceUri: `mimi://${DOMAIN}/d/alice/1` };
const BOB = { userUri: `mimi://${DOMAIN}/u/bob`, deviceUri: `mimi://${DOMAIN}/d/bob/1` };

let server: PostgresServer | undefined;
let url: string;
const stores: Store[] = [];

before(async () => {
  const dir = tempDir('acceptance-time');
  const suite = await testDatabase(dir);
  fs.rmSync(dir, { recursive: true, force: true }); // only named the database
  if (suite) url = suite;
  else {
    server = await startPostgres();
    url = server.url;
  }
});
after(async () => {
  for (const s of stores) s.close();
  await server?.stop();
});

/** A PrivateMessage framing (application content) of the room's group at epoch 0: what the hub checks. */
function privateMessage(text: string): Uint8Array {
  return new TlsWriter().u16(1).u16(2).opaqueV(Buffer.from(ROOM)).u64(0n).u8(1).opaqueV(new Uint8Array(0)).opaqueV(randomBytes(8)).opaqueV(Buffer.from(text)).finish();
}

async function node(now: () => number): Promise<{ store: Store; hub: Hub }> {
  const store = await openDatabase({ kind: 'postgres', url });
  stores.push(store);
  return { store, hub: new Hub({ store, domain: DOMAIN, now }) };
}

test('a node whose clock is behind accepts a message after one whose clock is ahead: the later message still gets the later time', async () => {
  const T = 1_900_000_000_000;
  const ahead = await node(() => T + 60_000);
  ahead.store.tx(() => {
    ahead.store.insertRoom(ROOM, T);
    for (const [i, who] of [ALICE, BOB].entries()) {
      const id = ahead.store.insertUser(`u${i}`, who.userUri, 'x', T)!;
      ahead.store.insertDevice({ deviceUri: who.deviceUri, userId: id, deviceId: '1', name: 'laptop', tokenHash: randomBytes(32), now: T });
      ahead.store.addParticipant(ROOM, who.userUri);
      ahead.store.addRoomDevice(ROOM, who.deviceUri, who.userUri);
    }
  });

  const first = ahead.hub.sendMessage(ALICE, ROOM, { message: privateMessage('first, on the node ahead') });
  assert.equal(first.acceptedTimestamp, T + 60_000, "the node ahead gives its clock's time");

  // The node behind: a minute slow, and a Hub that never accepted anything in this room.
  const behind = await node(() => T);
  const second = behind.hub.sendMessage(BOB, ROOM, { message: privateMessage('second, on the node behind') });
  assert.ok(second.acceptedTimestamp > first.acceptedTimestamp, `${second.acceptedTimestamp} after ${first.acceptedTimestamp}`);
  assert.equal(second.acceptedTimestamp, first.acceptedTimestamp + 1, 'just past the latest, not its own clock');
  const third = behind.hub.sendMessage(ALICE, ROOM, { message: privateMessage('third, on the node behind') });
  assert.equal(third.acceptedTimestamp, first.acceptedTimestamp + 2);
  // And the node ahead, whose memory says T + 60 s, follows what the other stored since.
  const fourth = ahead.hub.sendMessage(BOB, ROOM, { message: privateMessage('fourth, on the node ahead') });
  assert.equal(fourth.acceptedTimestamp, first.acceptedTimestamp + 3);

  // What members see: the stored events in acceptance order are the order they were sent in.
  const rows = ahead.store.db.prepare("SELECT accepted_ts FROM events WHERE room_uri = ? AND kind = 'message' ORDER BY id").pluck().all(ROOM) as number[];
  assert.deepEqual(rows, [first, second, third, fourth].map((r) => r.acceptedTimestamp));
  assert.equal(ahead.store.latestAcceptedTs(ROOM), fourth.acceptedTimestamp);
  assert.equal(ahead.store.latestAcceptedTs(`mimi://${DOMAIN}/r/none`), undefined);
});
