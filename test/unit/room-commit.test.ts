// checkCommit / checkMessage / denialText (src-shared/room-commit.ts) on the two presets. Every
// denial is paired with the smallest change that makes the same commit pass, so a test fails if
// the check is too strict as well as too lax.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCommit, checkMessage, denialText, type CommitFacts } from '../../src-shared/room-commit.js';
import { initialRoomState, RoomStateError, type RoomState } from '../../src-shared/room-state.js';
import { POLICY_PRESETS, type CapabilityName, type CheckResult, type PolicyPresetName } from '../../src-shared/room-policy.js';
import { userOfDevice } from '../../src-shared/identifiers.js';

const ROOM = 'mimi://a.example/r/lunch';
const user = (h: string): string => `mimi://a.example/u/${h}`;
const dev = (h: string, n = 1): string => `mimi://a.example/d/${h}/${n}`;
const ALICE = user('alice');
const BOB = user('bob');
const CAROL = user('carol');
const DAVE = user('dave');

// Cooperative roles: 1 banned, 2 ordinary_user, 3 group_admin, 4 super_admin, 5 policy_enforcer.
// Moderated roles: 1 banned, 2 guest, 3 attendee, 4 speaker, 5 moderator, 6 super_admin, 7 policy_enforcer.
const C = { banned: 1, ordinary: 2, admin: 3, enforcer: 5 } as const;
const M = { banned: 1, guest: 2, attendee: 3, speaker: 4, moderator: 5, superAdmin: 6 } as const;

function room(preset: PolicyPresetName, list: [string, number][]): RoomState {
  const s = initialRoomState({ roomUri: ROOM, creator: list[0][0], roomName: 'Lunch', preset });
  return { ...s, participants: list.map(([u, roleIndex]) => ({ user: u, roleIndex })) };
}

const setRole = (s: RoomState, u: string, roleIndex: number): RoomState => ({
  ...s,
  participants: s.participants.map((p) => (p.user === u ? { user: u, roleIndex } : p)),
});
const without = (s: RoomState, u: string): RoomState => ({ ...s, participants: s.participants.filter((p) => p.user !== u) });
const plus = (s: RoomState, u: string, roleIndex: number): RoomState => ({ ...s, participants: [...s.participants, { user: u, roleIndex }] });
const minus = (devices: readonly string[], ...gone: string[]): string[] => devices.filter((d) => !gone.includes(d));

const denied = (r: CheckResult): CapabilityName | undefined => (r.ok ? undefined : r.denied);
const OK = { ok: true } as const;

function isRoomStateError(pattern?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof RoomStateError, `expected RoomStateError, got ${String(e)}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

test('the fixtures: device URIs belong to the user URIs used on the lists', () => {
  assert.equal(userOfDevice(dev('alice')), ALICE);
  assert.equal(userOfDevice(dev('bob', 2)), BOB);
  assert.equal(POLICY_PRESETS.cooperative.policy.roles.length, 6);
  assert.equal(POLICY_PRESETS.moderated.policy.roles.length, 8);
});

// ---------------------------------------------------------------------------------------------
// Adding users and clients

const coop = room('cooperative', [
  [ALICE, C.admin],
  [BOB, C.ordinary],
]);
const coopDevices = [dev('alice'), dev('bob')];

test('an admin adds a user with clients', () => {
  const f: CommitFacts = {
    before: coop,
    after: plus(coop, CAROL, C.ordinary),
    committer: ALICE,
    devicesBefore: coopDevices,
    devicesAfter: [...coopDevices, dev('carol'), dev('carol', 2)],
  };
  assert.deepEqual(checkCommit(f), OK);
  // Ordinary users may add ordinary users in the cooperative preset, but not as admins.
  assert.deepEqual(checkCommit({ ...f, committer: BOB }), OK);
  assert.equal(denied(checkCommit({ ...f, committer: BOB, after: plus(coop, CAROL, C.admin) })), 'canAddParticipant');
});

test('a client of a user who is not on the list makes the commit invalid', () => {
  const f: CommitFacts = {
    before: coop,
    after: coop,
    committer: ALICE,
    devicesBefore: coopDevices,
    devicesAfter: [...coopDevices, dev('carol')],
  };
  assert.throws(() => checkCommit(f), isRoomStateError(/carol.*not on the participant list/));
  // The same clients with carol on the list are an ordinary add.
  assert.deepEqual(checkCommit({ ...f, after: plus(coop, CAROL, C.ordinary) }), OK);
});

test('a banned user cannot have clients, whether banned before or in this commit', () => {
  const banned = plus(coop, CAROL, C.banned);
  assert.throws(
    () => checkCommit({ before: banned, after: banned, committer: ALICE, devicesBefore: coopDevices, devicesAfter: [...coopDevices, dev('carol')] }),
    isRoomStateError(/banned/),
  );
  // A ban that leaves bob's clients in the group.
  const f: CommitFacts = { before: coop, after: setRole(coop, BOB, C.banned), committer: ALICE, devicesBefore: coopDevices, devicesAfter: coopDevices };
  assert.throws(() => checkCommit(f), isRoomStateError(/banned/));
  assert.deepEqual(checkCommit({ ...f, devicesAfter: [dev('alice')] }), OK);
});

test('clients of a user in a role without active participants (policy_enforcer) are invalid', () => {
  const f: CommitFacts = { before: coop, after: setRole(coop, BOB, C.enforcer), committer: ALICE, devicesBefore: coopDevices, devicesAfter: coopDevices };
  assert.throws(() => checkCommit(f), isRoomStateError(/allows no active participants/));
});

test('adding clients of another listed user needs canAddParticipant', () => {
  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.speaker],
    [CAROL, M.moderator],
    [DAVE, M.speaker],
  ]);
  const devices = [dev('alice'), dev('bob'), dev('carol')]; // dave is listed but has no client yet
  const f = (committer: string): CommitFacts => ({ before: mod, after: mod, committer, devicesBefore: devices, devicesAfter: [...devices, dev('dave')] });
  assert.equal(denied(checkCommit(f(BOB))), 'canAddParticipant');
  assert.deepEqual(checkCommit(f(CAROL)), OK);
});

// ---------------------------------------------------------------------------------------------
// Bans, kicks, role changes

const trio = room('cooperative', [
  [ALICE, C.admin],
  [BOB, C.ordinary],
  [CAROL, C.ordinary],
]);
const trioDevices = [dev('alice'), dev('bob'), dev('carol'), dev('carol', 2)];

test('an ordinary user cannot ban; an admin can', () => {
  const f: CommitFacts = {
    before: trio,
    after: setRole(trio, CAROL, C.banned),
    committer: BOB,
    devicesBefore: trioDevices,
    devicesAfter: minus(trioDevices, dev('carol'), dev('carol', 2)),
  };
  const r = checkCommit(f);
  assert.equal(denied(r), 'canBan');
  assert.deepEqual(checkCommit({ ...f, committer: ALICE }), OK);
});

test('removing another listed user\'s clients without a list change is a kick (canKick)', () => {
  const f: CommitFacts = {
    before: trio,
    after: trio,
    committer: BOB,
    devicesBefore: trioDevices,
    devicesAfter: minus(trioDevices, dev('carol'), dev('carol', 2)),
  };
  assert.equal(denied(checkCommit(f)), 'canKick');
  assert.deepEqual(checkCommit({ ...f, committer: ALICE }), OK);
  // Removing only one of carol's two clients is a kick too.
  assert.equal(denied(checkCommit({ ...f, devicesAfter: minus(trioDevices, dev('carol', 2)) })), 'canKick');
  // Removing carol from the list along with her clients is a removal, which ordinary users may do.
  assert.deepEqual(checkCommit({ ...f, after: without(trio, CAROL) }), OK);
});

test('a kicked user stays listed and may come back with a new client (canAddOwnClient)', () => {
  const kicked = { before: trio, after: trio, devicesBefore: minus(trioDevices, dev('carol'), dev('carol', 2)) };
  assert.deepEqual(checkCommit({ ...kicked, committer: CAROL, devicesAfter: [...kicked.devicesBefore, dev('carol', 3)] }), OK);
});

test('a role change needs canChangeUserRole and an authorized transition', () => {
  const f: CommitFacts = { before: trio, after: setRole(trio, CAROL, C.admin), committer: BOB, devicesBefore: trioDevices, devicesAfter: trioDevices };
  assert.equal(denied(checkCommit(f)), 'canChangeUserRole');
  assert.deepEqual(checkCommit({ ...f, committer: ALICE }), OK);
  // group_admin's authorized_role_changes stop at role 3: it cannot make a super_admin (4).
  assert.equal(denied(checkCommit({ ...f, committer: ALICE, after: setRole(trio, CAROL, 4) })), 'canChangeUserRole');
});

test('removing a user from the list while keeping their clients is invalid', () => {
  const f: CommitFacts = { before: trio, after: without(trio, CAROL), committer: ALICE, devicesBefore: trioDevices, devicesAfter: trioDevices };
  assert.throws(() => checkCommit(f), isRoomStateError(/carol.*not on the participant list/));
  // Keeping one of the two clients is just as invalid.
  assert.throws(() => checkCommit({ ...f, devicesAfter: minus(trioDevices, dev('carol')) }), RoomStateError);
});

// ---------------------------------------------------------------------------------------------
// One's own clients

test('removing one\'s own other device is canRemoveOwnClient', () => {
  const devices = [...trioDevices, dev('bob', 2)];
  const f: CommitFacts = { before: trio, after: trio, committer: BOB, devicesBefore: devices, devicesAfter: minus(devices, dev('bob', 2)) };
  assert.deepEqual(checkCommit(f), OK);
  // A moderated guest lacks canRemoveOwnClient.
  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.guest],
  ]);
  const modDevices = [dev('alice'), dev('bob'), dev('bob', 2)];
  const g: CommitFacts = { before: mod, after: mod, committer: BOB, devicesBefore: modDevices, devicesAfter: minus(modDevices, dev('bob', 2)) };
  assert.equal(denied(checkCommit(g)), 'canRemoveOwnClient');
  // The same removal by the super_admin is a kick, which it may make.
  assert.deepEqual(checkCommit({ ...g, committer: ALICE }), OK);
});

test('an external join: a listed user\'s new device, a stranger, a banned user', () => {
  // Listed: canAddOwnClient.
  const join = (before: RoomState, after: RoomState, u: string, device: string): CommitFacts => ({
    before,
    after,
    committer: u,
    devicesBefore: trioDevices,
    devicesAfter: [...trioDevices, device],
  });
  assert.deepEqual(checkCommit(join(trio, trio, BOB, dev('bob', 2))), OK);

  // A moderated guest has no canAddOwnClient.
  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.guest],
    [CAROL, M.speaker],
  ]);
  assert.equal(denied(checkCommit(join(mod, mod, BOB, dev('bob', 2)))), 'canAddOwnClient');
  assert.deepEqual(checkCommit(join(mod, mod, CAROL, dev('carol', 3))), OK);

  // A stranger who puts itself on the list: an open join, which role 0 does not have.
  assert.equal(denied(checkCommit(join(trio, plus(trio, DAVE, C.ordinary), DAVE, dev('dave')))), 'canOpenJoin');
  // ...and one who does not is invalid.
  assert.throws(() => checkCommit(join(trio, trio, DAVE, dev('dave'))), isRoomStateError(/dave/));

  // A banned user: invalid if they stay banned, denied if they unban themselves.
  const banned = plus(trio, DAVE, C.banned);
  assert.throws(() => checkCommit(join(banned, banned, DAVE, dev('dave'))), isRoomStateError(/banned/));
  assert.equal(denied(checkCommit(join(banned, setRole(banned, DAVE, C.ordinary), DAVE, dev('dave')))), 'canUnBan');
});

// ---------------------------------------------------------------------------------------------
// Departures (own Remove proposals, or the hub's)

test('a user all of whose devices departed is taken off the list by any committer', () => {
  // Speakers have no canRemoveParticipant, so only the departure makes this commit allowed.
  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.speaker],
    [CAROL, M.speaker],
  ]);
  const devices = [dev('alice'), dev('bob'), dev('carol'), dev('carol', 2)];
  const f: CommitFacts = {
    before: mod,
    after: without(mod, CAROL),
    committer: BOB,
    devicesBefore: devices,
    devicesAfter: minus(devices, dev('carol'), dev('carol', 2)),
    departed: new Set([dev('carol'), dev('carol', 2)]),
  };
  assert.deepEqual(checkCommit(f), OK);
  assert.equal(denied(checkCommit({ ...f, departed: undefined })), 'canRemoveParticipant');
  // One departed device is not a departure of the user: the other one is removed by bob.
  assert.equal(denied(checkCommit({ ...f, departed: new Set([dev('carol')]) })), 'canRemoveParticipant');
  // The departed user may also stay on the list without clients (the committer did not take her off).
  assert.deepEqual(checkCommit({ ...f, after: mod }), OK);
  // A departure does not license other changes in the same commit.
  assert.equal(denied(checkCommit({ ...f, after: setRole(without(mod, CAROL), ALICE, M.speaker) })), 'canChangeUserRole');
});

test('departed clients of a user who stays listed need no kick', () => {
  const f: CommitFacts = {
    before: trio,
    after: trio,
    committer: BOB,
    devicesBefore: trioDevices,
    devicesAfter: minus(trioDevices, dev('carol', 2)),
    departed: new Set([dev('carol', 2)]),
  };
  assert.deepEqual(checkCommit(f), OK);
  assert.equal(denied(checkCommit({ ...f, departed: new Set() })), 'canKick');
  // One departed client does not cover the other one, removed by bob in the same commit.
  assert.equal(denied(checkCommit({ ...f, devicesAfter: minus(trioDevices, dev('carol'), dev('carol', 2)) })), 'canKick');
});

test('a departure is the user\'s own action: leaving needs canRemoveSelf, dropping some clients canRemoveOwnClient, the hub\'s needs nothing', () => {
  // A moderated guest may leave (canRemoveSelf) but not drop one of its clients (no canRemoveOwnClient).
  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.guest],
  ]);
  const devices = [dev('alice'), dev('bob'), dev('bob', 2)];
  const partial: CommitFacts = {
    before: mod,
    after: mod,
    committer: ALICE,
    devicesBefore: devices,
    devicesAfter: minus(devices, dev('bob', 2)),
    departed: new Set([dev('bob', 2)]),
  };
  assert.equal(denied(checkCommit(partial)), 'canRemoveOwnClient');
  // The same removal proposed by the hub (a deleted device) is the provider's decision.
  assert.deepEqual(checkCommit({ ...partial, removedByHub: new Set([dev('bob', 2)]) }), OK);
  // Leaving with every client is canRemoveSelf, which a guest has ...
  const leave: CommitFacts = { ...partial, after: without(mod, BOB), devicesAfter: [dev('alice')], departed: new Set([dev('bob'), dev('bob', 2)]) };
  assert.deepEqual(checkCommit(leave), OK);
  // ... and a role without it cannot leave by proposal (a custom policy: guests lose canRemoveSelf).
  const stuck: RoomState = {
    ...mod,
    policy: { roles: mod.policy.roles.map((r) => (r.roleIndex === M.guest ? { ...r, roleCapabilities: r.roleCapabilities.filter((c) => c !== 'canRemoveSelf') } : r)) },
  };
  assert.equal(denied(checkCommit({ ...leave, before: stuck, after: without(stuck, BOB) })), 'canRemoveSelf');
  assert.deepEqual(checkCommit({ ...leave, before: stuck, after: without(stuck, BOB), removedByHub: new Set([dev('bob'), dev('bob', 2)]) }), OK);
});

// ---------------------------------------------------------------------------------------------
// Metadata and messages

test('a metadata change needs the field\'s capability', () => {
  const rename = (s: RoomState, name: string): RoomState => ({ ...s, metadata: { ...s.metadata, roomName: name } });
  const describe = (s: RoomState): RoomState => ({
    ...s,
    metadata: { ...s.metadata, roomDescriptions: [{ mediaType: '', languageTag: 'en', descriptionContent: new TextEncoder().encode('Noon') }] },
  });
  const f = (after: RoomState, committer: string): CommitFacts => ({ before: trio, after, committer, devicesBefore: trioDevices, devicesAfter: trioDevices });
  assert.deepEqual(checkCommit(f(rename(trio, 'Dinner'), BOB)), OK);
  assert.equal(denied(checkCommit(f(describe(trio), BOB))), 'canChangeRoomDescription');
  assert.deepEqual(checkCommit(f(describe(trio), ALICE)), OK);
  assert.throws(() => checkCommit(f({ ...trio, metadata: { ...trio.metadata, roomUri: 'mimi://a.example/r/other' } }, ALICE)), RoomStateError);

  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.speaker],
    [CAROL, M.moderator],
  ]);
  const devices = [dev('alice'), dev('bob'), dev('carol')];
  const g = (committer: string): CommitFacts => ({ before: mod, after: rename(mod, 'Dinner'), committer, devicesBefore: devices, devicesAfter: devices });
  assert.equal(denied(checkCommit(g(BOB))), 'canChangeRoomName');
  assert.deepEqual(checkCommit(g(CAROL)), OK);
});

test('moderated: attendees cannot send, speakers can, strangers cannot', () => {
  const mod = room('moderated', [
    [ALICE, M.superAdmin],
    [BOB, M.attendee],
    [CAROL, M.speaker],
    [DAVE, M.banned],
  ]);
  const r = checkMessage(mod, BOB);
  assert.equal(denied(r), 'canSendMessage');
  assert.deepEqual(checkMessage(mod, CAROL), OK);
  assert.equal(denied(checkMessage(mod, DAVE)), 'canSendMessage');
  assert.equal(denied(checkMessage(mod, user('erin'))), 'canSendMessage');
  assert.deepEqual(checkMessage(trio, BOB), OK);
});

test('denialText names the missing capability exactly once', () => {
  const r = checkMessage(room('moderated', [[ALICE, M.superAdmin], [BOB, M.attendee]]), BOB);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(r.reason, /canSendMessage/);
  assert.equal(denialText(r), r.reason);
  const plain = denialText({ ok: false, denied: 'canKick', reason: 'role 2 (ordinary_user) may not do that' });
  assert.equal(plain, 'role 2 (ordinary_user) may not do that (canKick)');
});

test('a state that is invalid in itself throws before anything is authorized', () => {
  const bad = { ...trio, participants: [...trio.participants, { user: DAVE, roleIndex: 9 }] };
  assert.throws(() => checkCommit({ before: trio, after: bad, committer: ALICE, devicesBefore: trioDevices, devicesAfter: trioDevices }), RoomStateError);
  assert.throws(() => checkCommit({ before: bad, after: trio, committer: ALICE, devicesBefore: trioDevices, devicesAfter: trioDevices }), RoomStateError);
});
