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
import { decodeFrankingAgentData, frankAad, frankingTag, frankProblem, serverFrankValid } from '../../src-shared/franking.js';
import { decodeFrank, encodeFrank } from '../../src-shared/mimi-protocol.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { ProviderError, type ProviderClient } from '../../src-main/net/provider-client.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { ProfileDb } from '../../src-main/db/profile-db.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { providerStorageBytes, withProviderDb } from '../helpers/provider-db.js';
import { testProfile } from '../helpers/profiles.js';
import { adminDataArgs, providerAdmin, waitFor } from '../helpers/provider-process.js';
import fs from 'node:fs';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const keep: Profile[] = [];
const errors: string[] = [];
let alice: Profile;
let bob: Profile;
let carol: Profile; // a.example, reports through the hub directly
let room: string;

interface Inside {
  client: ProviderClient;
  ctx: { db: ProfileDb; sessions: { save(roomUri: string, s: GroupSession): void }; serial: { run<T>(fn: () => Promise<T>): Promise<T> } };
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
  carol = await user(A, 'carol');
  room = (await alice.createRoom('Franked')).roomUri;
  await alice.addMember(room, bob.config.userUri);
  await alice.addMember(room, carol.config.userUri);
  await waitFor(() => bob.rooms().some((r) => r.roomUri === room) && carol.rooms().some((r) => r.roomUri === room), 'bob and carol join');
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
  // carol, a device of the hub's own provider, got the same frank in her push event that bob's
  // provider got in the FanoutMessage.
  await waitFor(() => carol.page(room, null, 10).some((m) => m.text === 'franked hello'), 'carol reads it');
  const carols = inside(carol).ctx.db.messageFrank(room, got.messageId);
  assert.deepEqual(carols && encodeFrank(decodeFrank(carols)), encodeFrank(frank));
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
  // Hand bob a copy of the hub's event with the accepted time moved: the hub's signature covers the
  // context, so the message is dropped, not stored. It goes through bob's serial queue while that
  // queue is held, so the copy is processed before the genuine push event (which then finds its
  // key used); run outside the queue, the two raced (a CI failure at stop 26).
  const content = encodeContent(textMessage({ senderUri: alice.config.userUri, roomUri: room, salt: new Uint8Array(randomBytes(16)), text: 'shifted in time' }));
  const enc = await rawEncrypt(content, frankAad(frankingTag(decodeContent(content).salt, content)));
  const before = errors.length;
  const bobs = inside(bob);
  await bobs.ctx.serial.run(async () => {
    const res = await inside(alice).client.sendMessage(room, { message: toB64(enc.message), requestId: toB64(randomBytes(8)) });
    assert.ok(res.frank, 'the hub answers with the frank');
    await bobs.onGroupMessage({
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
  });
  const mine = () => errors.slice(before).filter((e) => e.startsWith('bob:'));
  assert.ok(mine().some((e) => /dropped: its franking does not verify \(the frank's integrity signature/.test(e)), mine().join('\n'));
  // The genuine event comes next through the push stream and cannot be read a second time.
  await waitFor(() => mine().length >= 2, 'bob processes the genuine event');
  assert.equal(bob.page(room, null, 30).filter((m) => m.text === 'shifted in time').length, 0);
});

const reportsAt = () =>
  withProviderDb(A.dataDir, (db) => db.prepare('SELECT reporter, alleged, reason, messages, via_domain AS via FROM abuse_reports WHERE room_uri = ? ORDER BY id').all(room));

test('reports with evidence: a franked message reported from either provider is verified and kept; altered text, a swapped sender or room, a forged or replayed frank are refused', async () => {
  await alice.send(room, 'send me your password or else');
  await waitFor(() => bob.page(room, null, 30).some((m) => m.text === 'send me your password or else') && carol.page(room, null, 30).some((m) => m.text === 'send me your password or else'), 'bob and carol read it');
  const idAt = (p: Profile) => p.page(room, null, 30).find((m) => m.text === 'send me your password or else')!.messageId;
  // bob, at the follower: his provider forwards the report to the hub, which verifies the frank.
  await bob.reportMessages(room, [idAt(bob)], 0xf2, 'a threat');
  // carol, at the hub's own provider.
  await carol.reportMessages(room, [idAt(carol)], 0xf1, '');
  assert.deepEqual(reportsAt().slice(-2), [
    { reporter: bob.config.userUri, alleged: alice.config.userUri, reason: 0xf2, messages: 1, via: 'b.example' },
    { reporter: carol.config.userUri, alleged: alice.config.userUri, reason: 0xf1, messages: 1, via: null },
  ]);
  // Own messages cannot be reported, nor messages of two senders at once.
  await alice.send(room, 'mine');
  await waitFor(() => alice.page(room, null, 5).some((m) => m.text === 'mine' && m.status === 'sent'), 'sent');
  await assert.rejects(alice.reportMessages(room, [alice.page(room, null, 5).find((m) => m.text === 'mine')!.messageId], 0, ''), /your own messages/);

  // Tampered reports, straight to the client API (as a modified client would send them).
  const row = inside(carol).ctx.db.messageById(room, idAt(carol))!;
  const genuine = { content: toB64(row.content), frank: toB64(row.frank!), acceptedTimestamp: row.timestamp };
  const before = reportsAt().length;
  const refused = async (req: { user: string; messages: (typeof genuine)[] }, roomUri: string, why: RegExp) =>
    assert.rejects(inside(carol).client.reportAbuse(roomUri, { note: '', ...req }), (e: unknown) => e instanceof ProviderError && e.code === 'notAllowed' && why.test(e.message));
  const altered = encodeContent(textMessage({ senderUri: alice.config.userUri, roomUri: room, salt: decodeContent(row.content).salt, text: 'send me your photos or else' }));
  await refused({ user: alice.config.userUri, messages: [{ ...genuine, content: toB64(altered) }] }, room, /altered text, a swapped sender or room, or a forged frank/);
  // The same message pinned on bob: the content names alice.
  await refused({ user: bob.config.userUri, messages: [genuine] }, room, /names mimi:\/\/a\.example\/u\/alice sender, not the reported/);
  // A message claimed to be bob's, with content naming bob but alice's frank.
  const asBob = encodeContent(textMessage({ senderUri: bob.config.userUri, roomUri: room, salt: decodeContent(row.content).salt, text: 'send me your password or else' }));
  await refused({ user: bob.config.userUri, messages: [{ ...genuine, content: toB64(asBob) }] }, room, /forged frank/);
  // Another room of the same hub.
  const other = (await carol.createRoom('Elsewhere')).roomUri;
  await refused({ user: alice.config.userUri, messages: [genuine] }, other, /names room .* not /);
  // A forged frank, and the genuine one replayed at another time.
  const f = decodeFrank(fromB64(genuine.frank));
  await refused({ user: alice.config.userUri, messages: [{ ...genuine, frank: toB64(encodeFrank({ ...f, serverFrank: new Uint8Array(randomBytes(32)) })) }] }, room, /forged frank/);
  await refused({ user: alice.config.userUri, messages: [{ ...genuine, acceptedTimestamp: genuine.acceptedTimestamp + 1000 }] }, room, /forged frank/);
  assert.equal(reportsAt().length, before, 'nothing kept of the refused reports');

  // The hub holds the reported text (the report carries it), and no text that was not reported.
  const hubStorage = providerStorageBytes(A.dataDir);
  const inHub = (text: string) => hubStorage.includes(Buffer.from(text));
  assert.equal(inHub('send me your password or else'), true, 'the reported message is in the report');
  for (const never of ['franked hello', 'second franked', 'mine', 'what alice really said']) assert.equal(inHub(never), false, `the hub never learns "${never}"`);
});

test("after the hub's franking key is rotated (provider-admin), a report about an older message still verifies, and so does one about a newer message", async () => {
  await alice.send(room, 'before the rotation');
  await waitFor(() => carol.page(room, null, 40).some((m) => m.text === 'before the rotation'), 'carol reads it');
  const rotated = await providerAdmin([...adminDataArgs(A.dataDir), 'rotate-franking-key']);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /a new franking key is in force from .* \(2 kept\)/);
  await alice.send(room, 'after the rotation');
  await waitFor(() => carol.page(room, null, 40).some((m) => m.text === 'after the rotation'), 'carol reads it');
  const idOf = (text: string) => carol.page(room, null, 40).find((m) => m.text === text)!.messageId;
  // The two franks were made under different keys.
  const frankOf = (text: string) => decodeFrank(inside(carol).ctx.db.messageFrank(room, idOf(text))!).serverFrank;
  const before = reportsAt().length;
  await carol.reportMessages(room, [idOf('before the rotation')], 0, 'old');
  await carol.reportMessages(room, [idOf('after the rotation')], 0, 'new');
  assert.equal(reportsAt().length, before + 2);
  const keys = withProviderDb(A.dataDir, (db) => db.prepare('SELECT hub_key, from_ts FROM franking_keys ORDER BY from_ts').all() as { hub_key: Buffer; from_ts: number }[]);
  assert.equal(keys.length, 2);
  // The older message's frank is the old key's, not the new one's: the hub had to pick by time.
  const row = inside(carol).ctx.db.messageById(room, idOf('before the rotation'))!;
  const context = { senderUri: alice.config.userUri, roomUri: room, acceptedTimestamp: BigInt(row.timestamp) };
  const tag = frankingTag(decodeContent(row.content).salt, row.content);
  assert.deepEqual(
    keys.map((k) => serverFrankValid(new Uint8Array(k.hub_key), tag, context, frankOf('before the rotation'))),
    [true, false],
  );
});
