// Franking on the real core across two real provider processes (a.example hosts, b.example
// follows): a room made by the app names its hub as franking agent; the hub franks every message
// (its frank travels in the push event to local devices and in the FanoutMessage to followers);
// receivers verify it and keep it with the message; a message whose franking tag does not match
// its content, or whose frank was altered on the way, is dropped by the receiver; a message
// without a tag is refused by the hub.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fromB64, toB64, utf8 } from '../../src-shared/bytes.js';
import { decodeContent, encodeContent, textMessage } from '../../src-shared/content.js';
import { decodeFrankingAgentData, frankAad, frankingTag, frankProblem } from '../../src-shared/franking.js';
import { decodeFrank, encodeFrank } from '../../src-shared/mimi-protocol.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { ProviderError, type ProviderClient } from '../../src-main/net/provider-client.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { ProfileDb } from '../../src-main/db/profile-db.js';
import { DB_FILE } from '../../src-provider/store.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { withDb } from '../helpers/mimi-peer.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';
import path from 'node:path';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const keep: Profile[] = [];
const errors: string[] = [];
let alice: Profile;
let bob: Profile;
let room: string;

interface Inside {
  client: ProviderClient;
  ctx: { db: ProfileDb; sessions: { save(roomUri: string, s: GroupSession): void } };
  session(roomUri: string): GroupSession;
  onGroupMessage(ev: PushEvent): Promise<void>;
}
const inside = (p: Profile): Inside => p as unknown as Inside;
/** Encrypt as alice's device outside the core (a tampered client), keeping the core's ratchet in step. */
async function rawEncrypt(content: Uint8Array, aad?: Uint8Array): Promise<{ message: Uint8Array; epoch: bigint }> {
  const s = inside(alice).session(room);
  const { session, message } = await s.encrypt(content, aad);
  inside(alice).ctx.sessions.save(room, session);
  return { message, epoch: s.epoch };
}
const user = (p: FederatedProvider, handle: string) => testProfile(p, handle, { engine, keep, dirPrefix: 'frank', onError: (m) => errors.push(`${handle}: ${m}`) });

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  A = f['a.example'];
  B = f['b.example'];
  alice = await user(A, 'alice');
  bob = await user(B, 'bob');
  room = (await alice.createRoom('Franked')).roomUri;
  await alice.addMember(room, bob.config.userUri);
  await waitFor(() => bob.rooms().some((r) => r.roomUri === room), 'bob joins');
});

after(async () => {
  for (const p of keep) await p.close();
  await Promise.all([A?.stop(), B?.stop()]);
});

test("the room names its hub as franking agent; a message is franked by the hub and its frank verifies and is kept by the receiver at the follower", async () => {
  const state = inside(alice).session(room).extensions();
  assert.ok(state.length > 0);
  const agent = decodeFrankingAgentData(fromB64((await inside(alice).client.hubSender()).externalSender));
  await alice.send(room, 'franked hello');
  await waitFor(() => bob.page(room, null, 10).some((m) => m.text === 'franked hello'), 'bob reads it');
  const got = bob.page(room, null, 10).find((m) => m.text === 'franked hello')!;
  const kept = inside(bob).ctx.db.messageFrank(room, got.messageId);
  assert.ok(kept, 'bob keeps the frank with the message');
  const frank = decodeFrank(kept);
  // It verifies, independently of the core's own check, with the hub's key from the room state.
  const row = inside(bob).ctx.db.pageMessages(room, null, 10).find((m) => m.messageId === got.messageId)!;
  const content = decodeContent(row.content);
  const tag = frankingTag(content.salt, row.content);
  assert.equal(
    frankProblem({
      frank,
      context: { senderUri: alice.config.userUri, roomUri: room, acceptedTimestamp: BigInt(got.timestamp) },
      groupCiphersuite: 1,
      agent,
      hubDomain: 'a.example',
      authenticatedData: frankAad(tag),
      applicationData: row.content,
      salt: content.salt,
      sender: alice.config.userUri,
      contentSender: alice.config.userUri,
      contentRoom: room,
      roomUri: room,
    }),
    undefined,
  );
  // Both providers hold the frank with the event, and the follower got it in the FanoutMessage.
  for (const p of [A, B]) {
    const franks = withDb(path.join(p.dataDir, DB_FILE), (db) => db.prepare("SELECT frank FROM events WHERE room_uri = ? AND kind = 'message' AND frank IS NOT NULL").all(room) as { frank: Buffer }[]);
    assert.ok(franks.some((f) => Buffer.from(f.frank).equals(Buffer.from(encodeFrank(frank)))), `${p.domain} keeps the frank`);
  }
});

test('a message whose franking tag does not match its content is dropped by the receiver; one without a tag is refused by the hub', async () => {
  const salt = new Uint8Array(randomBytes(16));
  const content = encodeContent(textMessage({ senderUri: alice.config.userUri, roomUri: room, salt, text: 'what alice really said' }));
  const other = encodeContent(textMessage({ senderUri: alice.config.userUri, roomUri: room, salt, text: 'what a report would claim' }));
  // A tampered client: the tag of other content.
  const bad = await rawEncrypt(content, frankAad(frankingTag(salt, other)));
  await inside(alice).client.sendMessage(room, { message: toB64(bad.message), requestId: toB64(randomBytes(8)) });
  await waitFor(() => errors.some((e) => e.startsWith('bob:') && /dropped: its franking does not verify \(the franking_tag is not the HMAC/.test(e)), 'bob drops it');
  assert.equal(bob.page(room, null, 20).some((m) => m.text === 'what alice really said'), false);

  const untagged = await rawEncrypt(utf8('no tag'));
  await assert.rejects(
    inside(alice).client.sendMessage(room, { message: toB64(untagged.message), requestId: toB64(randomBytes(8)) }),
    (e: unknown) => e instanceof ProviderError && e.code === 'badRequest' && /must carry a franking tag/.test(e.message),
  );
});

test('a frank altered on the way (a follower changing the accepted time) makes the receiver drop the message', async () => {
  await alice.send(room, 'second franked');
  await waitFor(() => bob.page(room, null, 20).some((m) => m.text === 'second franked'), 'bob reads it');
  // Replay the same kind of event into a fresh session copy of bob's with the timestamp moved: the
  // hub's signature covers the context, so the message is dropped, not stored.
  const content = encodeContent(textMessage({ senderUri: alice.config.userUri, roomUri: room, salt: new Uint8Array(randomBytes(16)), text: 'shifted in time' }));
  const enc = await rawEncrypt(content, frankAad(frankingTag(decodeContent(content).salt, content)));
  const res = await inside(alice).client.sendMessage(room, { message: toB64(enc.message), requestId: toB64(randomBytes(8)) });
  assert.ok(res.frank, 'the hub answers with the frank');
  const before = errors.length;
  await inside(bob).onGroupMessage({
    type: 'event',
    seq: 1e9,
    kind: 'message',
    roomUri: room,
    epoch: enc.epoch.toString(),
    senderDevice: 'x',
    acceptedTimestamp: res.acceptedTimestamp + 1,
    payload: toB64(enc.message),
    frank: res.frank,
  });
  assert.ok(errors.slice(before).some((e) => /dropped: its franking does not verify \(the frank's integrity signature/.test(e)), errors.slice(before).join('\n'));
  assert.equal(bob.page(room, null, 30).filter((m) => m.text === 'shifted in time').length, 0);
});
