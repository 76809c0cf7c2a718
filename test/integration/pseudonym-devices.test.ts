// An account's other devices in its pseudonymous rooms, on the real core with two real provider
// processes: bob has a laptop and a phone (signed in with login). A room names bob only by a user
// pseudonym of his laptop's; his phone joins it on its own, by external commit, as a client
// pseudonym of its own pool under that user pseudonym:
// - a connection room (alice connects, the laptop accepts), joined while the phone runs;
// - a minimal-metadata room of alice's to which she adds one of the laptop's pseudonyms, joined
//   when the phone is opened again.
// Messages flow between all three devices; every device verifies every other member's identity,
// the phone too, which holds only its join epoch's identity link key until exactly one member (the
// lowest leaf) sends it the older ones; that message shows nowhere, on no device.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { IDENTITY_LINK_KEYS_MEDIA_TYPE, findIdentityLinkKeys } from '../../src-shared/identity-link.js';
import type { MimiContent } from '../../src-shared/content.js';
import type { MessageView } from '../../src-shared/contract.js';
import { Profile } from '../../src-main/core/profile.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const links: Link[] = [];
const keep: Profile[] = [];
let alice: Profile;
let laptop: Profile; // bob's first device: his pseudonyms are issued to it
let phone: Profile; // bob's second device
/** Every 'message' event of every device, and the identity-link-keys messages each one queued. */
const events: { who: string; view: MessageView }[] = [];
const keySends: { who: string; roomUri: string }[] = [];
const errors: string[] = [];

/** The core's insides this test looks at (sessions, the outbox, the membership's timer). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const inside = (p: Profile): any => p as any;
const session = (p: Profile, roomUri: string): GroupSession => inside(p).session(roomUri);

/**
 * Watch a device: its events, its errors, and every identity-link-keys message its outbox queues.
 * Only those: delivery receipts go through sendControl too, one DELIVERY_BATCH_MS (1 s) after a
 * message arrives, and counting them made the assertions below depend on how fast the steps run.
 */
function observe(p: Profile, who: string): void {
  p.on('message', (view) => events.push({ who, view }));
  p.on('error', (m) => errors.push(`${who}: ${m}`));
  const outbox = inside(p).outbox;
  const sendControl = outbox.sendControl.bind(outbox);
  outbox.sendControl = (roomUri: string, build: (me: string) => MimiContent) => {
    if (findIdentityLinkKeys(build(p.config.userUri))) keySends.push({ who, roomUri });
    return sendControl(roomUri, build);
  };
}

const texts = (p: Profile, roomUri: string) => p.page(roomUri, null, 100).map((m) => m.text).sort();
const hasRoom = (p: Profile, roomUri: string) => p.rooms().some((r) => r.roomUri === roomUri);

/** bob's user pseudonym in a room, as his laptop's pool says. */
const laptopPseudonym = (roomUri: string) => laptop.pseudonymPool().pseudonyms.find((p) => p.rooms.some((r) => r.roomUri === roomUri))!;

/** Every participant of the room, as `p` sees it, has a verified identity; the real users behind them. */
function verifiedUsers(p: Profile, roomUri: string): string[] | undefined {
  const participants = p.roomSettings(roomUri).participants;
  if (!participants.every((m) => m.identity?.verified)) return undefined;
  return participants.map((m) => m.identity!.user!).sort();
}

async function openPhone(dir: string): Promise<Profile> {
  const p = await Profile.open(dir, { engine, secretMode: 'plaintext' });
  keep.push(p);
  observe(p, 'phone');
  return p;
}

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  A = f['a.example'];
  B = f['b.example'];
  links.push(f.links['a.example'], f.links['b.example']);
  const o = { engine, keep, dirPrefix: 'pdev' };
  [alice, laptop] = await Promise.all([testProfile(A, 'alice', o), testProfile(B, 'bob', o)]);
  // The phone looks for rooms of its account only when the test says so (checkNow): it must join the connection room only after alice and the
  // laptop published their identity links, or it could read theirs with its own key (the test
  // below proves it got the older keys from the laptop's message).
  phone = await testProfile(B, 'bob', { ...o, dirPrefix: 'pdev-phone', how: 'login', deviceName: "bob's phone", start: false });
  inside(phone).membership.pseudonymDevices.recheckMs = 24 * 3600_000;
  await phone.start();
  observe(alice, 'alice');
  observe(laptop, 'laptop');
  observe(phone, 'phone');
});
after(async () => {
  for (const p of keep) await p.close().catch(() => undefined);
  await A?.stop();
  await B?.stop();
  for (const l of links) await l.close();
});

let connectionRoom = '';

test("a connection room: bob's phone joins it on its own as a client pseudonym of its own under his laptop's user pseudonym", async () => {
  const id = (await alice.connect('bob@b.example')).outgoing.at(-1)!.id;
  await waitFor(() => laptop.connectionList().incoming.some((c) => c.id === id && c.verified), 'the request at the laptop', 30000);
  connectionRoom = (await laptop.acceptConnection(id)).incoming.find((c) => c.id === id)!.roomUri!;
  await waitFor(() => hasRoom(alice, connectionRoom), 'alice welcomed', 30000);
  const both = [alice.config.userUri, laptop.config.userUri].sort();
  await waitFor(() => [alice, laptop].every((p) => JSON.stringify(verifiedUsers(p, connectionRoom)) === JSON.stringify(both)), 'both links published', 30000);
  await inside(phone).membership.pseudonymDevices.checkNow();
  await waitFor(() => hasRoom(phone, connectionRoom), 'the phone in the connection room', 30000);

  const bobAs = laptopPseudonym(connectionRoom);
  // Two clients of bob's under the one user pseudonym: the laptop's and the phone's own.
  await waitFor(() => session(alice, connectionRoom).members().length === 3, 'alice sees the phone join');
  const members = session(alice, connectionRoom).members();
  const bobs = members.filter((m) => m.pseudonym?.userPseudonym === bobAs.userPseudonym);
  assert.equal(bobs.length, 2);
  const phoneClient = bobs.find((m) => m.identity !== bobAs.clientPseudonym)!.identity;
  const phonePool = phone.pseudonymPool().pseudonyms;
  // The manager shows it as bob's pseudonym in use in that room (the app recognises itself by it).
  assert.deepEqual(
    phonePool.filter((p) => p.clientPseudonym === phoneClient).map((p) => ({ user: p.userPseudonym, state: p.state, rooms: p.rooms.map((r) => r.roomUri) })),
    [{ user: bobAs.userPseudonym, state: 'inUse', rooms: [connectionRoom] }],
  );
  // It came from the phone's own pool, and is never handed out again.
  const issued = (await inside(phone).ctx.client.pseudonyms()).pseudonyms as { clientPseudonym: string; deviceUri: string }[];
  assert.equal(issued.find((p) => p.clientPseudonym === phoneClient)?.deviceUri, phone.config.deviceUri);
  assert.ok(!phonePool.some((p) => p.state === 'unused' && p.clientPseudonym === phoneClient));
  assert.equal(session(phone, connectionRoom).members().find((m) => m.leafIndex === session(phone, connectionRoom).ownLeafIndex)?.identity, phoneClient);
  // The hub (b.example) keeps the phone as a client pseudonym of bob's user pseudonym, nothing more.
  const rows = withProviderDb(B.dataDir, (db) => db.prepare('SELECT device_uri, user_uri FROM room_devices WHERE room_uri = ? ORDER BY device_uri').all(connectionRoom));
  assert.ok(JSON.stringify(rows).includes(JSON.stringify({ device_uri: phoneClient, user_uri: bobAs.userPseudonym })), JSON.stringify(rows));
  assert.ok(!JSON.stringify(rows).includes('/d/'), 'no real device in the room rows');
});

test('messages flow both ways between all three devices', async () => {
  await alice.send(connectionRoom, 'hello bob');
  await waitFor(() => texts(laptop, connectionRoom).includes('hello bob') && texts(phone, connectionRoom).includes('hello bob'), "alice's message on both of bob's devices", 20000);
  await phone.send(connectionRoom, 'from the phone');
  await waitFor(() => texts(alice, connectionRoom).includes('from the phone') && texts(laptop, connectionRoom).includes('from the phone'), "the phone's message at alice and on the laptop", 20000);
  await laptop.send(connectionRoom, 'from the laptop');
  await waitFor(() => texts(alice, connectionRoom).includes('from the laptop') && texts(phone, connectionRoom).includes('from the laptop'), "the laptop's message at alice and on the phone", 20000);
  const all = ['from the laptop', 'from the phone', 'hello bob'];
  for (const p of [alice, laptop, phone]) assert.deepEqual(texts(p, connectionRoom), all, `${p.dir}: exactly the three messages`);
  // Both of bob's devices send as his user pseudonym: one sender, seen as bob by alice.
  const senders = new Set(alice.page(connectionRoom, null, 10).filter((m) => m.text !== 'hello bob').map((m) => m.sender));
  assert.deepEqual([...senders], [laptopPseudonym(connectionRoom).userPseudonym]);
});

test('every device verifies every member; the phone reads older links with the keys the laptop (the lowest leaf) sent it', async () => {
  const people = [alice.config.userUri, laptop.config.userUri].sort();
  await waitFor(() => [alice, laptop, phone].every((p) => JSON.stringify(verifiedUsers(p, connectionRoom)) === JSON.stringify(people)), 'every identity verified on every device', 30000);

  // Every link in the phone's tree opens and verifies, alice's and the laptop's sealed under keys of
  // epochs before the phone joined: it could only have them from the message.
  const links = session(phone, connectionRoom).identityLinks();
  assert.equal(links.length, 3);
  const byClient = new Map(links.map((l) => [l.identity, l]));
  const own = byClient.get(session(phone, connectionRoom).members().find((m) => m.leafIndex === session(phone, connectionRoom).ownLeafIndex)!.identity)!;
  assert.ok(own.status === 'verified');
  for (const l of links) {
    assert.equal(l.status, 'verified', `${l.identity}: ${l.status === 'invalid' ? l.reason : l.status}`);
    if (l.status !== 'verified') continue;
    if (l !== own) assert.ok(l.ilkEpoch < own.ilkEpoch, `${l.identity} is sealed under epoch ${l.ilkEpoch}, before the phone's join (${own.ilkEpoch})`);
  }
  // Alice verifies both of bob's clients, each signed by its own device.
  const aliceSees = session(alice, connectionRoom).identityLinks().filter((l) => l.userPseudonym === laptopPseudonym(connectionRoom).userPseudonym);
  assert.deepEqual(aliceSees.map((l) => (l.status === 'verified' ? l.deviceUri : l.status)).sort(), [laptop.config.deviceUri, phone.config.deviceUri].sort());

  // One member sent the keys: the laptop, leaf 0 (the room's creator).
  assert.deepEqual(keySends.filter((s) => s.roomUri === connectionRoom), [{ who: 'laptop', roomUri: connectionRoom }]);
});

test('the identity-link-keys message is in no timeline, preview, unread count or message event', () => {
  for (const [who, p] of [['alice', alice], ['laptop', laptop], ['phone', phone]] as const) {
    const page = p.page(connectionRoom, null, 100);
    assert.ok(page.every((m) => m.contentType !== IDENTITY_LINK_KEYS_MEDIA_TYPE), `${who}'s timeline`);
    const view = p.roomView(connectionRoom);
    assert.ok(['hello bob', 'from the phone', 'from the laptop'].includes(view.lastMessage!.text), `${who}'s preview: ${view.lastMessage?.text}`);
    assert.equal(view.unread, page.filter((m) => m.status === 'received').length, `${who}'s unread count counts only messages shown`);
  }
  const shown = events.filter((e) => e.view.roomUri === connectionRoom);
  assert.ok(shown.length > 0);
  for (const e of shown) {
    assert.notEqual(e.view.contentType, IDENTITY_LINK_KEYS_MEDIA_TYPE, `${e.who} emitted it`);
    assert.ok(['hello bob', 'from the phone', 'from the laptop'].includes(e.view.text), `${e.who} emitted "${e.view.text}"`);
  }
});

test("a minimal-metadata room alice adds bob's pseudonym to: the phone, opened again, joins it at start; alice sends it the keys", async () => {
  const phoneDir = phone.dir;
  await phone.close();
  const room = (await alice.createMinimalMetadataRoom('quiet')).roomUri;
  const bobAs = laptop.pseudonymPool().pseudonyms.find((p) => p.state === 'unused')!;
  await alice.addMember(room, bobAs.userPseudonym);
  await waitFor(() => hasRoom(laptop, room), 'the laptop welcomed', 30000);
  await alice.send(room, 'before the phone');
  await waitFor(() => texts(laptop, room).includes('before the phone'), 'the laptop reads it', 20000);
  // The laptop's delivery receipt for it (sent DELIVERY_BATCH_MS later) is in before the phone
  // joins: encrypted in an epoch before the join and accepted in the hub's one epoch of grace, it
  // would be fanned out to the phone too, which has no keys for that epoch (an error on the phone).
  await waitFor(() => alice.page(room, null, 10).find((m) => m.text === 'before the phone')?.receipts?.delivered.includes(bobAs.userPseudonym) === true, "the laptop's delivery receipt at alice", 20000);

  phone = await openPhone(phoneDir);
  await phone.start(30000);
  // Joined while starting (before start() resolved), as the account's other rooms are.
  assert.ok(hasRoom(phone, room), 'the phone joined at start');
  assert.equal(phone.roomView(room).members.length, 2, 'two participants: alice and bob, both as pseudonyms');
  const acting = phone.pseudonymPool().pseudonyms.filter((p) => p.userPseudonym === bobAs.userPseudonym);
  assert.equal(acting.length, 1);
  assert.deepEqual(acting[0].rooms.map((r) => r.roomUri), [room]);
  // A pseudonym of its own pool per user pseudonym: another one than in the connection room.
  assert.notEqual(acting[0].clientPseudonym, phone.pseudonymPool().pseudonyms.find((p) => p.rooms.some((r) => r.roomUri === connectionRoom))!.clientPseudonym);

  const people = [alice.config.userUri, laptop.config.userUri].sort();
  await waitFor(() => [alice, laptop, phone].every((p) => JSON.stringify(verifiedUsers(p, room)) === JSON.stringify(people)), 'every identity verified on every device', 30000);
  // alice created the room (leaf 0): she sent the keys, and nobody else did.
  assert.deepEqual(keySends.filter((s) => s.roomUri === room), [{ who: 'alice', roomUri: room }]);

  // History before joining stays unreadable (no Welcome, no history), the rest flows.
  assert.deepEqual(texts(phone, room), []);
  await phone.send(room, 'phone here');
  await waitFor(() => texts(alice, room).includes('phone here') && texts(laptop, room).includes('phone here'), "the phone's message", 20000);
  await alice.send(room, 'welcome, phone');
  await waitFor(() => texts(phone, room).includes('welcome, phone') && texts(laptop, room).includes('welcome, phone'), "alice's answer on both devices", 20000);
  for (const [who, p] of [['alice', alice], ['laptop', laptop], ['phone', phone]] as const) {
    assert.ok(p.page(room, null, 100).every((m) => m.contentType !== IDENTITY_LINK_KEYS_MEDIA_TYPE), `${who}'s timeline`);
  }
  assert.ok(events.filter((e) => e.view.roomUri === room).every((e) => e.view.contentType !== IDENTITY_LINK_KEYS_MEDIA_TYPE));
});

test('no device reported an error', () => {
  assert.deepEqual(errors, []);
});
