// Join links across two real provider processes (a.example hosts the rooms, b.example follows):
// links made by an admin and used by people of both providers; single use, N uses, passphrase,
// revocation, the role a link gives; a banned user refused with a valid link; a tampered client
// whose ticket the hub did not sign, refused by the hub and ignored by the members; link attempts
// rate-limited without slowing the admins. Expiry is judged by the hub's clock, tested in-process
// (test/unit/join-links-store.test.ts).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CoreError } from '../../src-shared/contract.js';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { parseJoinLink } from '../../src-shared/join-link.js';
import { decodeJoinTicket, encodeJoinTicket, JOIN_TICKET_EXTENSION_TYPE, signJoinTicket } from '../../src-shared/join-ticket.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import type { Profile } from '../../src-main/core/profile.js';
import { MlsError, type DeviceKeys, type GroupSession, type MlsEngine } from '../../src-main/mls/engine.js';
import type { ProviderClient } from '../../src-main/net/provider-client.js';
import { ProviderError } from '../../src-main/net/provider-client.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const keep: Profile[] = [];
let alice: Profile; // a.example, the rooms' admin
let bob: Profile; // b.example: joins through his provider (the follower)
let carol: Profile; // a.example
let dave: Profile; // b.example
let erin: Profile; // a.example, banned
let room: string; // administered, hosted at a.example

interface Inside {
  client: ProviderClient;
  keys: DeviceKeys;
  session(roomUri: string): GroupSession;
  onGroupMessage(ev: PushEvent): Promise<void>;
}
const inside = (p: Profile): Inside => p as unknown as Inside;
const user = (p: FederatedProvider, handle: string) => testProfile(p, handle, { engine, keep, dirPrefix: 'links' });
const listed = (p: Profile, roomUri: string) => p.roomSettings(roomUri).participants.map((x) => [x.user, x.roleIndex] as const).sort();
const refusedWith = (code: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CoreError, String(e));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, re);
  return true;
};
async function sees(p: Profile, roomUri: string, text: string): Promise<void> {
  await waitFor(() => p.page(roomUri, null, 50).some((m) => m.text === text), `${p.config.userUri} sees "${text}"`);
}

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  A = f['a.example'];
  B = f['b.example'];
  [alice, carol, erin] = await Promise.all(['alice', 'carol', 'erin'].map((h) => user(A, h)));
  [bob, dave] = await Promise.all(['bob', 'dave'].map((h) => user(B, h)));
  room = (await alice.createRoom('Book club', 'administered')).roomUri;
});

after(async () => {
  for (const p of keep) await p.close();
  await Promise.all([A?.stop(), B?.stop()]);
});

test('a link with N uses: a user of the follower joins through his provider, lists himself as an ordinary user, and talks', async () => {
  const made = await alice.createJoinLink(room, { uses: 2 });
  assert.equal(made.state, 'active');
  assert.equal(made.usesLeft, 2);
  assert.equal(made.roleName, 'ordinary_user');
  const link = parseJoinLink(made.link!);
  assert.equal(link.roomUri, room);
  assert.deepEqual([link.passphrase, link.knock], [false, false]);

  const joined = await bob.joinByLink(made.link!);
  assert.equal(joined.roomUri, room);
  await waitFor(() => listed(alice, room).some(([u]) => u === bob.config.userUri), 'alice sees bob on the list');
  assert.deepEqual(listed(alice, room), [
    [alice.config.userUri, 3],
    [bob.config.userUri, 2],
  ]);
  await bob.send(room, 'hello from b.example');
  await sees(alice, room, 'hello from b.example');
  await alice.send(room, 'welcome, bob');
  await sees(bob, room, 'welcome, bob');
  const [after1] = (await alice.joinLinks(room)).filter((l) => l.id === made.id);
  assert.equal(after1.usesLeft, 1);
});

test('a single-use link is used up after one join; the next person is told so and nothing changes', async () => {
  const once = await alice.createJoinLink(room, { uses: 1 });
  await carol.joinByLink(once.link!);
  await waitFor(() => listed(alice, room).some(([u]) => u === carol.config.userUri), 'carol listed');
  const epoch = alice.roomView(room).epoch;
  await assert.rejects(dave.joinByLink(once.link!), refusedWith('linkRefused', /used as often as it may be/));
  assert.equal(dave.rooms().length, 0);
  assert.equal(alice.roomView(room).epoch, epoch);
  const [l] = (await alice.joinLinks(room)).filter((x) => x.id === once.id);
  assert.deepEqual([l.state, l.usesLeft], ['usedUp', 0]);
});

test('a passphrase link: none or a wrong one is refused with passphraseRequired, the right one joins', async () => {
  const r = (await alice.createRoom('Secret garden', 'administered')).roomUri;
  const made = await alice.createJoinLink(r, { passphrase: 'open sesame' });
  assert.equal(parseJoinLink(made.link!).passphrase, true);
  await assert.rejects(dave.joinByLink(made.link!), refusedWith('passphraseRequired', /needs its passphrase/));
  await assert.rejects(dave.joinByLink(made.link!, { passphrase: 'open barley' }), refusedWith('passphraseRequired', /not the link’s/));
  await dave.joinByLink(made.link!, { passphrase: 'open sesame' });
  await waitFor(() => listed(alice, r).some(([u]) => u === dave.config.userUri), 'dave listed');
});

test('a revoked link is refused; links list with their state; only admins make links', async () => {
  const r = (await alice.createRoom('Revoked', 'administered')).roomUri;
  const made = await alice.createJoinLink(r, {});
  const after = await alice.revokeJoinLink(r, made.id);
  assert.equal(after.find((l) => l.id === made.id)!.state, 'revoked');
  await assert.rejects(carol.joinByLink(made.link!), refusedWith('linkRefused', /revoked/));
  // bob is an ordinary user of the book club: no canCreateJoinCode.
  await assert.rejects(bob.createJoinLink(room, {}), (e: unknown) => e instanceof CoreError && e.code === 'notAllowed');
  // A cooperative room lets nobody join by code.
  const coop = (await alice.createRoom('Coop')).roomUri;
  await assert.rejects(alice.createJoinLink(coop, {}), refusedWith('notAllowed', /canUseJoinCode/));
});

test("an admin at the follower makes, lists and revokes the links of the hub's room through his own provider", async () => {
  const r = (await alice.createRoom('Two homes', 'administered')).roomUri;
  await alice.addMember(r, bob.config.userUri);
  await waitFor(() => bob.rooms().some((x) => x.roomUri === r), 'bob is in');
  // An ordinary user may not make links, wherever he is.
  await assert.rejects(bob.createJoinLink(r, {}), refusedWith('notAllowed', /canCreateJoinCode/));
  await alice.setRole(r, bob.config.userUri, 3);
  await waitFor(() => bob.roomSettings(r).myRoleIndex === 3, 'bob sees himself as group_admin');
  const made = await bob.createJoinLink(r, { uses: 1 });
  assert.equal(made.createdBy, bob.config.userUri);
  assert.ok(made.link, 'the link text is on the device that made it');
  assert.deepEqual((await alice.joinLinks(r)).map((l) => [l.id, l.createdBy, l.link === undefined]), [[made.id, bob.config.userUri, true]]);
  await carol.joinByLink(made.link!);
  await waitFor(() => listed(bob, r).some(([u]) => u === carol.config.userUri), 'bob sees carol listed');
  const second = await bob.createJoinLink(r, {});
  const after = await bob.revokeJoinLink(r, second.id);
  assert.deepEqual(
    after.map((l) => [l.id, l.state]),
    [
      [made.id, 'usedUp'],
      [second.id, 'revoked'],
    ],
  );
});

test('the role a link gives: a moderated room’s link for attendees', async () => {
  const r = (await alice.createRoom('Lecture', 'moderated')).roomUri;
  const made = await alice.createJoinLink(r, { roleIndex: 3 });
  assert.equal(made.roleName, 'attendee');
  await assert.rejects(alice.createJoinLink(r, { roleIndex: 5 }), (e: unknown) => e instanceof CoreError && /role 2 or 3/.test(e.message));
  await bob.joinByLink(made.link!);
  await waitFor(() => listed(alice, r).some(([u, role]) => u === bob.config.userUri && role === 3), 'bob listed as attendee');
});

test('joining under a pseudonym: the list names only the pseudonym, and the members verify who it is', async () => {
  const r = (await alice.createRoom('Masked ball', 'administered')).roomUri;
  const made = await alice.createJoinLink(r, {});
  await dave.refillPseudonyms(2);
  await dave.joinByLink(made.link!, { asPseudonym: true });
  const mine = dave.pseudonymPool().pseudonyms.find((p) => p.rooms.some((x) => x.roomUri === r));
  assert.ok(mine, "the room is on the pseudonym's line in dave's pool");
  await waitFor(() => listed(alice, r).some(([u, role]) => u === mine.userPseudonym && role === 2), 'the pseudonym listed as ordinary user');
  assert.equal(listed(alice, r).some(([u]) => u === dave.config.userUri), false);
  // dave's identity link (published right after joining) tells alice who it is.
  await waitFor(() => alice.roomSettings(r).participants.find((p) => p.user === mine.userPseudonym)?.identity?.verified === true, 'alice verifies dave behind the pseudonym');
  assert.equal(alice.roomSettings(r).participants.find((p) => p.user === mine.userPseudonym)!.identity!.user, dave.config.userUri);
});

test('a banned user is refused even with a valid link', async () => {
  const r = (await alice.createRoom('No erin', 'administered')).roomUri;
  await alice.ban(r, erin.config.userUri);
  const made = await alice.createJoinLink(r, {});
  await assert.rejects(erin.joinByLink(made.link!), refusedWith('notAllowed', /banned/));
  assert.equal(erin.rooms().some((x) => x.roomUri === r), false);
});

test('a tampered client with a ticket the hub did not sign: the hub refuses the commit and members ignore it', async () => {
  const r = (await alice.createRoom('Guarded', 'administered')).roomUri;
  const made = await alice.createJoinLink(r, {});
  await carol.joinByLink(made.link!);
  await waitFor(() => listed(alice, r).length === 2, 'carol listed');
  // dave holds no code: he makes his own ticket with his own key, for his own leaf.
  const dk = inside(dave).keys;
  const gi = await inside(alice).session(r).groupInfo();
  const forged = signJoinTicket(generateSignatureKeyPair().privateKey, {
    roomUri: r,
    joiner: dave.config.userUri,
    signatureKey: dk.signaturePublicKey,
    roleIndex: 2,
    codeId: randomBytes(8),
    notAfter: Date.now() + 60_000,
  });
  const j = await engine.joinExternal(dk, gi.groupInfo, gi.ratchetTree, { leafExtensions: [{ type: JOIN_TICKET_EXTENSION_TYPE, data: encodeJoinTicket(forged) }] });
  const out = await j.pending.groupInfo();
  await assert.rejects(
    inside(dave).client.commit(r, { commit: toB64(j.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: 'forged-1' }),
    (e: unknown) => e instanceof ProviderError && /admission ticket is not valid: its signature is not the hub's/.test(e.message),
  );
  // Had a bad hub let it through, every member ignores it.
  const epoch = alice.roomView(r).epoch;
  for (const member of [alice, carol]) {
    await assert.rejects(
      inside(member).onGroupMessage({ seq: 1e9, kind: 'commit', roomUri: r, epoch, payload: toB64(j.commit), acceptedTimestamp: Date.now() } as PushEvent),
      (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /not on the participant list/.test(e.message),
    );
    assert.equal(member.roomView(r).epoch, epoch);
  }
  // A genuine ticket of this hub, but for carol's leaf, does not admit dave either.
  const real = decodeJoinTicket(fromB64((await inside(dave).client.joinByCode(r, { code: parseJoinLink(made.link!).code, signatureKey: toB64(generateSignatureKeyPair().publicKey) })).ticket));
  const wrongLeaf = await engine.joinExternal(dk, gi.groupInfo, gi.ratchetTree, { leafExtensions: [{ type: JOIN_TICKET_EXTENSION_TYPE, data: encodeJoinTicket(real) }] });
  const out2 = await wrongLeaf.pending.groupInfo();
  await assert.rejects(
    inside(dave).client.commit(r, { commit: toB64(wrongLeaf.commit), groupInfo: toB64(out2.groupInfo), ratchetTree: toB64(out2.ratchetTree), requestId: 'forged-2' }),
    (e: unknown) => e instanceof ProviderError && /for another leaf/.test(e.message),
  );
});

test('link attempts are rate-limited per requester, and the admins’ own traffic goes on', async () => {
  const r = (await alice.createRoom('Flooded', 'administered')).roomUri;
  const made = await alice.createJoinLink(r, { passphrase: 'right one' });
  const frank = await user(A, 'frank');
  const outcomes: string[] = [];
  for (let i = 0; i < 14; i++) {
    try {
      await frank.joinByLink(made.link!, { passphrase: `wrong ${i}` });
      outcomes.push('joined');
    } catch (e) {
      outcomes.push((e as CoreError).code);
    }
  }
  assert.deepEqual(outcomes.slice(0, 10), Array(10).fill('passphraseRequired'));
  assert.ok(outcomes.slice(10).every((o) => o === 'rateLimited'), outcomes.join(','));
  // Even the right passphrase waits now; alice is not slowed at all.
  await assert.rejects(frank.joinByLink(made.link!, { passphrase: 'right one' }), (e: unknown) => e instanceof CoreError && e.code === 'rateLimited');
  // Another requester is not held up by frank's flood.
  await carol.joinByLink(made.link!, { passphrase: 'right one' });
  await alice.send(r, 'still here');
  const more = await alice.createJoinLink(r, {});
  assert.equal(more.state, 'active');
});
