// Knocks across two real provider processes (a.example hosts the rooms and their knock rooms,
// b.example follows): a knock room made by an admin; a user of the follower knocks with a note and
// leaves; the admin sees the knock and admits him (his app then has the room); a declined knock
// adds nobody; a pseudonym knocks with KeyPackages of its own and is admitted as the pseudonym; a
// knocker's second message is refused by the hub; a knocker who stays is removed by the hub after
// the time limit (--knock-ttl 4).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { toB64 } from '../../src-shared/bytes.js';
import { CoreError, type KnocksView } from '../../src-shared/contract.js';
import { decodeContent, encodeContent } from '../../src-shared/content.js';
import { frankAad, frankingTag } from '../../src-shared/franking.js';
import { parseJoinLink } from '../../src-shared/join-link.js';
import { knockContent } from '../../src-shared/knock.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { ProviderError, type ProviderClient } from '../../src-main/net/provider-client.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const keep: Profile[] = [];
let alice: Profile; // a.example: the room's admin
let dave: Profile; // b.example: knocks, admitted
let erin: Profile; // b.example: knocks, declined
let carol: Profile; // a.example: knocks as a pseudonym
let mallory: Profile; // a.example: knocks twice, stays
let room: string;
let knockLink: string;
let knockRoom: string;

interface Inside {
  client: ProviderClient;
  session(roomUri: string): GroupSession;
  joinLinkActions: { enter(link: ReturnType<typeof parseJoinLink>, o: object): Promise<unknown> };
}
const inside = (p: Profile): Inside => p as unknown as Inside;
/** Background errors each device reported (a knocker removed by the hub hears of it this way). */
const errors: string[] = [];
const user = (p: FederatedProvider, handle: string) => testProfile(p, handle, { engine, keep, dirPrefix: 'knocks', onError: (m) => errors.push(`${handle}: ${m}`) });
const incoming = (p: Profile, from: string) => p.knockList().incoming.find((k) => k.from === from);
const listedRole = (p: Profile, r: string, u: string) => p.roomSettings(r).participants.find((x) => x.user === u)?.roleIndex;

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example'], {}, { args: ['--knock-ttl', '4'] });
  A = f['a.example'];
  B = f['b.example'];
  [alice, carol, mallory] = await Promise.all(['alice', 'carol', 'mallory'].map((h) => user(A, h)));
  [dave, erin] = await Promise.all(['dave', 'erin'].map((h) => user(B, h)));
  room = (await alice.createRoom('Quiet reading room', 'administered')).roomUri;
  const kr = await alice.knockRoom(room);
  assert.equal(kr.roomUri, room);
  knockLink = kr.link;
  knockRoom = kr.knockRoomUri;
  assert.deepEqual(parseJoinLink(knockLink).knock, true);
  // Asking again gives the same knock room.
  assert.deepEqual(await alice.knockRoom(room), kr);
});

after(async () => {
  for (const p of keep) await p.close();
  await Promise.all([A?.stop(), B?.stop()]);
});

test('a user of the follower knocks with a note and leaves; the admin admits him and his app has the room', async () => {
  const sent: KnocksView = await dave.knock(knockLink, 'Hi, I am dave from the library meetup');
  assert.deepEqual(
    sent.outgoing.map((k) => [k.roomUri, k.state, k.as]),
    [[room, 'waiting', dave.config.userUri]],
  );
  await waitFor(() => incoming(alice, dave.config.userUri) !== undefined, 'alice sees the knock');
  const k = incoming(alice, dave.config.userUri)!;
  assert.deepEqual([k.roomUri, k.roomName, k.note, k.state], [room, 'Quiet reading room', 'Hi, I am dave from the library meetup', 'pending']);
  // The knock is nowhere in the knock room's timeline, and dave has left it.
  assert.equal(alice.page(knockRoom, null, 50).length, 0);
  await waitFor(() => !inside(alice).session(knockRoom).members().some((m) => m.identity.includes('/d/dave/')), "dave's leaf is gone from the knock room");
  assert.equal(dave.rooms().some((r) => r.roomUri === knockRoom), false, 'the knock room is not in the knocker’s room list');

  await alice.admitKnock(k.id);
  await waitFor(() => dave.rooms().some((r) => r.roomUri === room), 'dave has the room (the Welcome came)');
  assert.equal(dave.knockList().outgoing[0].state, 'admitted');
  assert.equal(alice.knockList().incoming.find((x) => x.id === k.id)!.state, 'admitted');
  assert.equal(listedRole(alice, room, dave.config.userUri), 2);
  await dave.send(room, 'thank you');
  await waitFor(() => alice.page(room, null, 20).some((m) => m.text === 'thank you'), 'alice reads dave');
  // Answered knocks are not answered twice.
  await assert.rejects(alice.declineKnock(k.id), (e: unknown) => e instanceof CoreError && /admitted already/.test(e.message));
});

test('a declined knock adds nobody, and the knocker hears nothing further', async () => {
  await erin.knock(knockLink, 'let me in?');
  await waitFor(() => incoming(alice, erin.config.userUri) !== undefined, 'alice sees erin’s knock');
  const k = incoming(alice, erin.config.userUri)!;
  await alice.declineKnock(k.id);
  assert.equal(alice.knockList().incoming.find((x) => x.id === k.id)!.state, 'declined');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(erin.rooms().some((r) => r.roomUri === room), false);
  assert.equal(erin.knockList().outgoing[0].state, 'waiting');
  assert.equal(listedRole(alice, room, erin.config.userUri), undefined);
});

test('a pseudonym knocks with KeyPackages of its own and is admitted as that pseudonym', async () => {
  await carol.refillPseudonyms(2);
  const sent = await carol.knock(knockLink, 'a reader who keeps to herself', { asPseudonym: true });
  const as = sent.outgoing[0].as;
  assert.match(as, /^mimi:\/\/a\.example\/p\//);
  await waitFor(() => incoming(alice, as) !== undefined, 'alice sees the pseudonymous knock');
  await alice.admitKnock(incoming(alice, as)!.id);
  await waitFor(() => carol.rooms().some((r) => r.roomUri === room), 'carol has the room');
  assert.equal(listedRole(alice, room, as), 2);
  assert.equal(alice.roomSettings(room).participants.some((p) => p.user === carol.config.userUri), false, 'the room names only the pseudonym');
});

test("a knocker's second message is refused by the hub, and a knocker who stays is removed after the time limit", async () => {
  await inside(mallory).joinLinkActions.enter(parseJoinLink(knockLink), {});
  const client = inside(mallory).client;
  const send = async (text: string) => {
    const s = inside(mallory).session(knockRoom);
    const content = encodeContent(knockContent({ senderUri: mallory.config.userUri, roomUri: knockRoom, knock: { targetRoom: room, knocker: mallory.config.userUri, note: text, keyPackages: [] } }));
    // The knock room is franked: the tag over the content goes in the authenticated data.
    const { message } = await s.encrypt(content, frankAad(frankingTag(decodeContent(content).salt, content)));
    return client.sendMessage(knockRoom, { message: toB64(message), requestId: toB64(randomBytes(8)) });
  };
  await send('first');
  await assert.rejects(send('second'), (e: unknown) => e instanceof ProviderError && e.code === 'notAllowed' && /one knock/.test(e.message));
  await waitFor(() => incoming(alice, mallory.config.userUri) !== undefined, 'the first knock arrived');
  // mallory does not leave: the hub proposes her removal after 4 s, and alice's client commits it.
  await waitFor(() => !inside(alice).session(knockRoom).members().some((m) => m.identity.includes('/d/mallory/')), 'mallory removed by the hub', 20_000);
});
