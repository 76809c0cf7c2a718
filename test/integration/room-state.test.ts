// Room state everyone agrees on, across two real providers: roles and capabilities allowed and
// denied (by the committer's own client, and by the hub when a client is tampered with), bans that
// hold against external commits, metadata, and every member ending with the same encoded state.
// Users: alice@a (creates the rooms; the hub is a.example), bob@b, carol@a, dave@b.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { frankAad, frankingTag } from '../../src-shared/franking.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { MlsError, type DeviceKeys, type GroupSession, type MlsEngine } from '../../src-main/mls/engine.js';
import { Profile } from '../../src-main/core/profile.js';
import { readRoomState, withRole, withRoomState, withMetadata } from '../../src-main/core/room-view.js';
import { CoreError } from '../../src-shared/contract.js';
import { toB64 } from '../../src-shared/bytes.js';
import { encodeContent, textMessage, decodeContent } from '../../src-shared/content.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import { ProviderError, type ProviderClient } from '../../src-main/net/provider-client.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
const profiles: Profile[] = [];
const providers: FederatedProvider[] = [];
const links: Link[] = [];
let f: Awaited<ReturnType<typeof startFederation>>;
let alice: Profile, bob: Profile, carol: Profile, dave: Profile;

/** What a test reaches inside a Profile: its MLS session, provider client and device keys. */
interface Inside {
  session(roomUri: string): GroupSession;
  client: ProviderClient;
  keys: DeviceKeys;
  onGroupMessage(ev: PushEvent): Promise<void>;
}
const inside = (p: Profile): Inside => p as unknown as Inside;

function user(provider: FederatedProvider, handle: string, how: 'register' | 'login' = 'register'): Promise<Profile> {
  // Hidden messages and ignored commits are reported as 'error'; tests assert on state.
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'rs', how, onError: (m) => { if (process.env.RS_DEBUG) console.error(handle, m); } });
}

before(async () => {
  engine = await createMlsEngine();
  f = await startFederation(['a.example', 'b.example']);
  providers.push(f['a.example'], f['b.example']);
  links.push(f.links['a.example'], f.links['b.example']);
  [alice, bob, carol, dave] = await Promise.all([user(f['a.example'], 'alice'), user(f['b.example'], 'bob'), user(f['a.example'], 'carol'), user(f['b.example'], 'dave')]);
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of providers) await p.stop().catch(() => undefined);
  for (const l of links) await l.close();
});

const A = 'mimi://a.example/u/alice';
const B = 'mimi://b.example/u/bob';
const C = 'mimi://a.example/u/carol';
const D = 'mimi://b.example/u/dave';

const encoded = (p: Profile, room: string) => JSON.stringify(p.roomStateDocument(room).encoded);
const roleOf = (p: Profile, room: string, u: string) => p.roomStateDocument(room).participants.find((x) => x.user === u);

/** Every given member has the room at the same epoch with byte-identical state components. */
async function agree(room: string, members: Profile[], what: string): Promise<void> {
  await waitFor(
    () => members.every((m) => m.rooms().some((r) => r.roomUri === room) && m.roomView(room).epoch === members[0].roomView(room).epoch && encoded(m, room) === encoded(members[0], room)),
    `${what}: the same room state everywhere`,
    20_000,
  );
  assert.notEqual(encoded(members[0], room), 'null', 'the room is managed');
}

async function refused(p: Promise<unknown>, capability: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CoreError, String(e));
    assert.equal(e.code, 'notAllowed', e.message);
    assert.match(e.message, new RegExp(capability));
    return true;
  });
}

test('cooperative room across two providers: each capability allowed for one role and denied for another', async () => {
  const room = (await alice.createRoom('Coop')).roomUri;
  assert.equal(roleOf(alice, room, A)?.roleName, 'group_admin', 'the creator is group_admin');
  await alice.addMember(room, 'bob@b.example'); // canAddParticipant (group_admin)
  await agree(room, [alice, bob], 'bob added');
  assert.equal(roleOf(bob, room, B)?.roleName, 'ordinary_user');
  await bob.addMember(room, 'dave@b.example'); // canAddParticipant (ordinary_user)
  await agree(room, [alice, bob, dave], 'dave added by bob');
  const before = encoded(alice, room);

  // ordinary_user lacks these; nothing is committed and nothing changes anywhere.
  await refused(bob.ban(room, 'dave@b.example'), 'canBan');
  await refused(bob.kick(room, 'dave@b.example'), 'canKick');
  await refused(bob.setRole(room, 'dave@b.example', 'group_admin'), 'canChangeUserRole');
  await refused(bob.setRoomMetadata(room, { description: 'mine now' }), 'canChangeRoomDescription');
  assert.equal(encoded(bob, room), before);
  const settings = bob.roomSettings(room);
  const daveRow = settings.participants.find((p) => p.user === D)!;
  assert.deepEqual(daveRow.can, { kick: false, remove: true, ban: false, unban: false, roles: [] }, 'the app offers bob only what ordinary_user may: removing dave');
  assert.equal(settings.canEdit.name, true);
  assert.equal(settings.canEdit.description, false);

  // canChangeRoomName is an ordinary_user capability: the shared name replaces local names.
  await bob.setRoomMetadata(room, { name: 'Renamed by bob' });
  await agree(room, [alice, bob, dave], 'rename');
  assert.equal(alice.roomView(room).name, 'Renamed by bob');
  assert.equal(dave.roomSettings(room).metadata.name, 'Renamed by bob');

  // group_admin: change a role, set the description.
  assert.deepEqual(alice.roomSettings(room).participants.find((p) => p.user === B)!.can.roles.sort(), [3], 'alice may promote bob to group_admin');
  await alice.setRole(room, 'bob@b.example', 'group_admin');
  await alice.setRoomMetadata(room, { description: 'Lunch, weekly', subject: 'Friday', avatar: 'https://a.example/coop.png' });
  await agree(room, [alice, bob, dave], 'promotion and description');
  assert.equal(roleOf(dave, room, B)?.roleName, 'group_admin');
  assert.deepEqual(dave.roomSettings(room).metadata, { name: 'Renamed by bob', description: 'Lunch, weekly', avatar: 'https://a.example/coop.png', subject: 'Friday' });

  // Now bob may kick: dave's clients leave, dave stays on the list (and may be added back).
  await bob.kick(room, 'dave@b.example');
  await agree(room, [alice, bob], 'kick');
  await waitFor(() => dave.roomView(room).members.length === 0, 'dave to learn he was kicked');
  assert.deepEqual(roleOf(alice, room, D), { user: D, roleIndex: 2, roleName: 'ordinary_user', active: false });
  // A kicked user may come back by the room's link (external commit: canAddOwnClient).
  await dave.joinRoom(room);
  await agree(room, [alice, bob, dave], 'dave back by link');
  assert.equal(roleOf(bob, room, D)?.active, true);
  await dave.send(room, 'back');
  await waitFor(() => alice.page(room, null, 5).some((m) => m.text === 'back'), "dave's message after rejoining");

  // Ban and unban (canBan, canUnBan) of a user of the other provider; the banned role has no clients.
  await alice.addMember(room, 'carol');
  await agree(room, [alice, bob, carol], 'carol added');
  await bob.ban(room, 'carol@a.example');
  await agree(room, [alice, bob], 'carol banned');
  assert.deepEqual(roleOf(alice, room, C), { user: C, roleIndex: 1, roleName: 'banned', active: false });
  await refused(alice.addMember(room, 'carol'), 'banned');
  assert.equal(alice.roomSettings(room).participants.find((p) => p.user === C)!.can.unban, true);
  await alice.unban(room, 'carol');
  await agree(room, [alice, bob], 'carol unbanned');
  assert.equal(roleOf(bob, room, C)?.roleName, 'ordinary_user');
  await alice.addMember(room, 'carol');
  await agree(room, [alice, bob, carol], 'carol back');

  // Roles only move as the mover's role allows: once demoted, alice may no longer demote bob.
  await bob.setRole(room, 'alice@a.example', 'ordinary_user');
  await agree(room, [alice, bob, carol], 'alice demoted');
  await refused(alice.setRole(room, 'bob@b.example', 'ordinary_user'), 'canChangeUserRole');
  await refused(bob.ban(room, 'bob@b.example'), 'canBan');

  // canRemoveParticipant: an ordinary_user of one provider takes another provider's user off the list.
  await carol.removeMember(room, 'dave@b.example');
  await agree(room, [alice, bob, carol], 'dave removed');
  assert.equal(roleOf(alice, room, D), undefined);
  await waitFor(() => dave.roomView(room).members.length === 0, 'dave to learn he was removed');
  await refused(dave.joinRoom(room), 'Only participants can join');
});

/** A content and the authenticated data our rooms need (they are franked: docs/franking.md). */
const franked = (content: Uint8Array): [Uint8Array, Uint8Array] => [content, frankAad(frankingTag(decodeContent(content).salt, content))];

test('moderated room: a muted speaker cannot send (own client, hub, and the other members agree)', async () => {
  const room = (await alice.createRoom('Town hall', 'moderated')).roomUri;
  assert.equal(roleOf(alice, room, A)?.roleName, 'super_admin');
  await alice.addMember(room, 'bob@b.example');
  await alice.addMember(room, 'dave@b.example');
  await agree(room, [alice, bob, dave], 'speakers added');
  assert.equal(roleOf(bob, room, B)?.roleName, 'speaker');
  await bob.send(room, 'hello from the floor');
  await waitFor(() => alice.page(room, null, 10).some((m) => m.text === 'hello from the floor'), 'a speaker speaks');

  // A speaker lacks the managing capabilities the super_admin has.
  await refused(dave.setRole(room, 'bob@b.example', 'attendee'), 'canChangeUserRole');
  await refused(dave.addMember(room, 'carol@a.example'), 'canAddParticipant');
  await refused(dave.removeMember(room, 'bob@b.example'), 'canRemoveParticipant');
  await refused(dave.setRoomMetadata(room, { name: 'Dave hall' }), 'canChangeRoomName');
  await refused(dave.kick(room, 'bob@b.example'), 'canKick');
  await refused(dave.ban(room, 'bob@b.example'), 'canBan');
  await alice.setRoomMetadata(room, { name: 'Town hall, Friday' });
  await agree(room, [alice, bob, dave], 'renamed by the super_admin');
  assert.equal(dave.roomView(room).name, 'Town hall, Friday');
  // Mute bob (attendee has no canSendMessage). A message bob wrote just before is judged by the
  // epoch it names, by the hub and by the members: it arrives.
  const early = await inside(bob).session(room).encrypt(...franked(encodeContent(textMessage({ senderUri: B, roomUri: room, text: 'said before the mute' }))));
  await alice.setRole(room, 'bob@b.example', 'attendee');
  await agree(room, [alice, bob, dave], 'bob muted');
  await inside(bob).client.sendMessage(room, { message: toB64(early.message), requestId: 'before-the-mute' });
  await waitFor(() => alice.page(room, null, 10).some((m) => m.text === 'said before the mute') && dave.page(room, null, 10).some((m) => m.text === 'said before the mute'), 'the message from the epoch before the mute');
  assert.equal(bob.roomSettings(room).canSendMessage, false);
  await refused(bob.send(room, 'let me speak'), 'canSendMessage');

  // A client that ignores the rule: bob encrypts and submits anyway. The hub refuses it (over
  // /submitMessage, whose notAllowed answer carries no reason).
  const s = inside(bob).session(room);
  const { message } = await s.encrypt(...franked(encodeContent(textMessage({ senderUri: B, roomUri: room, text: 'tampered' }))));
  await assert.rejects(inside(bob).client.sendMessage(room, { message: toB64(message), requestId: 'tampered-1' }), (e: unknown) => {
    assert.ok(e instanceof ProviderError && e.code === 'notAllowed', String(e));
    return true;
  });
  // ... and a member that still gets it (as from a hub that failed to check) hides it.
  const seq = alice.page(room, null, 1)[0].seq;
  const reported: string[] = [];
  alice.on('error', (m: string) => reported.push(m));
  await inside(alice).onGroupMessage({ seq: 1e9, kind: 'message', roomUri: room, epoch: s.epoch.toString(), payload: toB64(message), acceptedTimestamp: Date.now() } as PushEvent);
  assert.equal(alice.page(room, null, 1)[0].seq, seq, 'no message stored');
  assert.equal(alice.page(room, null, 50).some((m) => m.text === 'tampered'), false);
  assert.ok(reported.some((m) => /hidden.*canSendMessage/.test(m)), reported.join('\n'));
  await agree(room, [alice, bob, dave], 'after the muted attempt');
  // canRemoveParticipant, held: the super_admin takes dave off the list.
  await alice.removeMember(room, 'dave@b.example');
  await agree(room, [alice, bob], 'dave removed');
  assert.deepEqual(alice.roomStateDocument(room).participants.map((p) => p.user).sort(), [A, B]);
});

test('a tampered client that commits a forbidden change is refused by the hub and ignored by the members', async () => {
  const room = (await alice.createRoom('Tamper')).roomUri;
  await alice.addMember(room, 'bob@b.example');
  await alice.addMember(room, 'carol');
  await agree(room, [alice, bob, carol], 'room of three');
  const before = encoded(alice, room);
  const epoch = alice.roomView(room).epoch;

  // bob (ordinary_user) bans carol and removes her device, skipping his client's own check.
  const s = inside(bob).session(room);
  const state = readRoomState(s.extensions())!;
  const carolDevices = s.members().filter((m) => m.identity.includes('/d/carol/')).map((m) => m.identity);
  const forged = await s.commitChanges({ remove: carolDevices, extensions: withRoomState(s.extensions(), withRole(state, C, 1)) });
  const submit = (out: typeof forged, requestId: string) =>
    inside(bob).client.commit(room, { commit: toB64(out.commit), welcome: out.welcome ? toB64(out.welcome) : undefined, groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId });
  await assert.rejects(submit(forged, 'forged-ban'), (e: unknown) => {
    assert.ok(e instanceof ProviderError, String(e));
    assert.equal(e.code, 'notAllowed', e.message);
    assert.match(e.message, /canBan/);
    return true;
  });
  // The same ban with the tree from before, which hides carol's removal from a hub that reads
  // membership from the tree: the hub compares the tree with the commit's proposals.
  const treeBefore = (await s.groupInfo()).ratchetTree;
  await assert.rejects(submit({ ...forged, ratchetTree: treeBefore }, 'lying-tree'), (e: unknown) => e instanceof ProviderError);
  assert.equal(alice.roomView(room).epoch, epoch);
  // The same from carol, whose provider is the hub: the refusal names the capability, and a lying
  // tree is named as such.
  const cs0 = inside(carol).session(room);
  const kickBob = await cs0.commitChanges({ remove: cs0.members().filter((m) => m.identity.includes('/d/bob/')).map((m) => m.identity) });
  await assert.rejects(
    inside(carol).client.commit(room, { commit: toB64(kickBob.commit), groupInfo: toB64(kickBob.groupInfo), ratchetTree: toB64((await cs0.groupInfo()).ratchetTree), requestId: 'lying-tree-carol' }),
    // (The tree from before is not the one the new GroupInfo's tree_hash names: refused as that first.)
    (e: unknown) => e instanceof ProviderError && e.code === 'badRequest' && /ratchetTree does not match the groupInfo/.test(e.message),
  );
  const cs = inside(carol).session(room);
  const bobDevices = cs.members().filter((m) => m.identity.includes('/d/bob/')).map((m) => m.identity);
  const forgedByCarol = await cs.commitChanges({ remove: bobDevices, extensions: withRoomState(cs.extensions(), withRole(readRoomState(cs.extensions())!, B, 1)) });
  await assert.rejects(
    inside(carol).client.commit(room, { commit: toB64(forgedByCarol.commit), groupInfo: toB64(forgedByCarol.groupInfo), ratchetTree: toB64(forgedByCarol.ratchetTree), requestId: 'forged-by-carol' }),
    (e: unknown) => e instanceof ProviderError && e.code === 'notAllowed' && /canBan/.test(e.message),
  );
  // A rename that bob may make, but whose GroupInfo claims a different state than the commit sets.
  const honest = await s.commitChanges({ extensions: withRoomState(s.extensions(), withMetadata(state, { name: 'ok' })) });
  const lying = await s.commitChanges({ extensions: withRoomState(s.extensions(), withMetadata(state, { name: 'other' })) });
  await assert.rejects(submit({ ...honest, groupInfo: lying.groupInfo }, 'lying-gi'), (e: unknown) => e instanceof ProviderError && e.code === 'badRequest' && /GroupContextExtensions/.test(e.message));

  // The members ignore the forged commit even when it reaches them: no new epoch, carol still ordinary.
  for (const member of [alice, carol]) {
    await assert.rejects(
      inside(member).onGroupMessage({ seq: 1e9, kind: 'commit', roomUri: room, epoch, payload: toB64(forged.commit), acceptedTimestamp: Date.now() } as PushEvent),
      (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /canBan/.test(e.message),
    );
    assert.equal(member.roomView(room).epoch, epoch);
    assert.equal(encoded(member, room), before);
  }
  assert.equal(roleOf(carol, room, C)?.roleName, 'ordinary_user');
  // The room still works for everyone.
  await carol.send(room, 'still here');
  await waitFor(() => bob.page(room, null, 10).some((m) => m.text === 'still here'), 'messages after the refused commit');
  await agree(room, [alice, bob, carol], 'after the forged commit');
});

test('a banned user cannot come back: no GroupInfo, and an external commit is refused', async () => {
  const room = (await alice.createRoom('No return')).roomUri;
  await alice.addMember(room, 'dave@b.example');
  await agree(room, [alice, dave], 'dave added');
  const gi = await inside(alice).session(room).groupInfo(); // what dave could have kept from before
  await alice.ban(room, 'dave@b.example');
  await agree(room, [alice], 'dave banned');
  await waitFor(() => dave.roomView(room).members.length === 0, 'dave to learn of the ban');

  // The room's link does not work for him, on this device or a new one.
  await refused(dave.joinRoom(room), 'Only participants can join');
  // A new device of dave's: the room is not among his rooms, and its GroupInfo is refused.
  const dave2 = await user(f['b.example'], 'dave', 'login');
  assert.equal(dave2.rooms().some((r) => r.roomUri === room), false);
  await assert.rejects(inside(dave2).client.groupInfo(room), (e: unknown) => e instanceof ProviderError && e.code === 'notMember');
  await refused(dave2.joinRoom(room), 'Only participants can join');
  // An external commit from a GroupInfo he still has (from before the ban, and the current one).
  const current = await inside(alice).session(room).groupInfo();
  const rejoin = async (info: { groupInfo: Uint8Array; ratchetTree: Uint8Array }, requestId: string) => {
    const { pending, commit } = await engine.joinExternal(inside(dave2).keys, info.groupInfo, info.ratchetTree);
    const next = await pending.groupInfo();
    return inside(dave2).client.commit(room, { commit: toB64(commit), groupInfo: toB64(next.groupInfo), ratchetTree: toB64(next.ratchetTree), requestId });
  };
  await assert.rejects(rejoin(gi, 'rejoin-old'), (e: unknown) => e instanceof ProviderError && e.code === 'wrongEpoch');
  // With the current epoch it is refused for the ban itself.
  await assert.rejects(rejoin(current, 'rejoin-now'), (e: unknown) => {
    assert.ok(e instanceof ProviderError, String(e));
    assert.equal(e.code, 'notAllowed', e.message);
    assert.match(e.message, /banned/);
    return true;
  });
  assert.equal(roleOf(alice, room, D)?.roleName, 'banned');
  assert.deepEqual(alice.roomView(room).members, [A]);
});

test('leaving takes the user off the participant list in the commit that removes their clients', async () => {
  const room = (await alice.createRoom('Leaving')).roomUri;
  await alice.addMember(room, 'bob@b.example');
  await alice.addMember(room, 'carol');
  await agree(room, [alice, bob, carol], 'three members');
  await bob.leaveRoom(room);
  await waitFor(() => !alice.roomView(room).members.includes(B) && !carol.roomView(room).members.includes(B), "bob's devices to leave");
  await agree(room, [alice, carol], 'bob left');
  assert.equal(roleOf(alice, room, B), undefined, 'bob is off the list');
  assert.deepEqual(alice.roomStateDocument(room).participants.map((p) => p.user).sort(), [A, C]);
});
