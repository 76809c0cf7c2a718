// The room settings screen's pure logic: member groups, role choices, what a row offers (Report
// included), which metadata fields are sent, which report notes can be sent, when a room list update means the settings are stale, and that a
// policy refusal keeps its code across Electron's contextBridge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoomMemberView, RoomSettingsView, RoomView } from '../../src-shared/contract.js';
import { groupMembers, memberActions, metadataChanges, metadataProblem, REPORT_NOTE_MAX, reportNoteProblem, roleName, roleTargets, roomStamp } from '../../src-renderer/src/lib/room-settings.js';
import { errorAcrossBridge, toCoreError } from '../../src-renderer/src/lib/coded-error.js';

const ME = 'mimi://a.example/u/alice';
const BOB = 'mimi://a.example/u/bob';
const CARL = 'mimi://b.example/u/carl';
const ERIN = 'mimi://a.example/u/erin';
const DAVE = 'mimi://a.example/u/dave';
const ROOM = 'mimi://a.example/r/r1';

const none = { kick: false, remove: false, ban: false, unban: false, roles: [] as number[] };
const member = (user: string, roleIndex: number, roleName: string, over: Partial<RoomMemberView> = {}): RoomMemberView => ({ user, roleIndex, roleName, active: true, can: none, ...over });

function view(participants: RoomMemberView[], over: Partial<RoomSettingsView> = {}): RoomSettingsView {
  return {
    roomUri: ROOM,
    managed: true,
    metadata: { name: 'Lunch', description: 'Where to eat', avatar: '', subject: 'Tacos?' },
    participants,
    roles: [
      { roleIndex: 0, roleName: 'no_role', capabilities: [] },
      { roleIndex: 1, roleName: 'banned', capabilities: [] },
      { roleIndex: 2, roleName: 'ordinary_user', capabilities: ['canSendMessage'] },
      { roleIndex: 3, roleName: 'group_admin', capabilities: ['canBan', 'canKick'] },
    ],
    myRoleIndex: 3,
    myRoleName: 'group_admin',
    canEdit: { name: true, description: false, avatar: true, subject: true },
    canAddParticipant: true,
    canSendMessage: true,
    canReportAbuse: false,
    links: { canCreate: false, roles: [] },
    ...over,
  };
}

const label = (u: string) => u.split('/u/')[1];

test('groupMembers: banned users in their own group, the viewer first, then by label', () => {
  const v = view([member(CARL, 2, 'ordinary_user'), member(ERIN, 1, 'banned', { active: false }), member(BOB, 2, 'ordinary_user'), member(ME, 3, 'group_admin')]);
  const g = groupMembers(v, ME, label);
  assert.deepEqual(
    g.members.map((m) => m.user),
    [ME, BOB, CARL],
  );
  assert.deepEqual(
    g.banned.map((m) => m.user),
    [ERIN],
  );
  // The view itself is not reordered (it is the store's state).
  assert.equal(v.participants[0].user, CARL);
});

test('roleName: from the room roles, and a readable fallback for a role the list lacks', () => {
  const v = view([]);
  assert.equal(roleName(v.roles, 3), 'group_admin');
  assert.equal(roleName(v.roles, 9), 'role 9');
});

test('roleTargets: only the roles the core allows, without the current one and without 0/1 (kick and ban are their own actions)', () => {
  const v = view([]);
  const bob = member(BOB, 2, 'ordinary_user', { can: { ...none, roles: [0, 1, 2, 3] } });
  assert.deepEqual(roleTargets(v, bob), [{ roleIndex: 3, roleName: 'group_admin' }]);
  assert.deepEqual(roleTargets(v, member(BOB, 2, 'ordinary_user')), []);
});

test('memberActions: nothing the can flags do not allow; no kick for a member already out of the group', () => {
  const v = view([]);
  assert.deepEqual(memberActions(v, member(ME, 3, 'group_admin'), true), { kick: false, remove: false, ban: false, unban: false, roles: [], report: false, any: false });
  const bob = memberActions(v, member(BOB, 2, 'ordinary_user', { can: { kick: true, remove: false, ban: true, unban: false, roles: [] } }), false);
  assert.deepEqual([bob.kick, bob.remove, bob.ban, bob.unban, bob.any], [true, false, true, false, true]);
  const kicked = memberActions(v, member(BOB, 2, 'ordinary_user', { active: false, can: { kick: true, remove: false, ban: false, unban: false, roles: [] } }), false);
  assert.deepEqual([kicked.kick, kicked.any], [false, false]);
  const erin = memberActions(v, member(ERIN, 1, 'banned', { active: false, can: { ...none, unban: true } }), false);
  assert.deepEqual([erin.unban, erin.ban, erin.remove, erin.any], [true, false, false, true]);
});

test('memberActions.remove: offered exactly where can.remove is, with or without clients in the room', () => {
  const v = view([]);
  const carl = memberActions(v, member(CARL, 2, 'ordinary_user', { can: { ...none, remove: true } }), false);
  assert.deepEqual(carl, { kick: false, remove: true, ban: false, unban: false, roles: [], report: false, any: true }, 'remove alone is enough for the row to offer something');
  // Kicked (no clients): nothing to kick, but they are still on the list, so they can be removed.
  const kicked = memberActions(v, member(CARL, 2, 'ordinary_user', { active: false, can: { ...none, kick: true, remove: true } }), false);
  assert.deepEqual([kicked.kick, kicked.remove, kicked.any], [false, true, true]);
  // Allowed to kick but not to remove: kick only.
  const kickOnly = memberActions(v, member(CARL, 2, 'ordinary_user', { can: { ...none, kick: true } }), false);
  assert.deepEqual([kickOnly.kick, kickOnly.remove], [true, false]);
  // A banned user where the core allows removing them (off the list, so no longer banned).
  const erin = memberActions(v, member(ERIN, 1, 'banned', { active: false, can: { ...none, remove: true, unban: true } }), false);
  assert.deepEqual([erin.remove, erin.unban, erin.ban], [true, true, false]);
});

test('memberActions.report: everyone but yourself when the role may report, nobody when it may not', () => {
  const may = view([], { canReportAbuse: true });
  // Reporting needs nothing from `can`: a member this role may do nothing else to can be reported.
  const dave = memberActions(may, member(DAVE, 4, 'super_admin'), false);
  assert.deepEqual(dave, { kick: false, remove: false, ban: false, unban: false, roles: [], report: true, any: true });
  assert.equal(memberActions(may, member(ERIN, 1, 'banned', { active: false }), false).report, true, 'a banned user can be reported too');
  assert.equal(memberActions(may, member(CARL, 2, 'ordinary_user', { active: false }), false).report, true, 'and one with no devices in the room');
  const me = memberActions(may, member(ME, 3, 'group_admin'), true);
  assert.deepEqual([me.report, me.any], [false, false], 'never on yourself');
  // Without canReportAbuse: not offered, and it does not change what else is offered.
  const mayNot = view([]);
  assert.deepEqual([memberActions(mayNot, member(DAVE, 4, 'super_admin'), false).report, memberActions(mayNot, member(DAVE, 4, 'super_admin'), false).any], [false, false]);
  const bob = memberActions(mayNot, member(BOB, 2, 'ordinary_user', { can: { ...none, ban: true } }), false);
  assert.deepEqual([bob.report, bob.ban, bob.any], [false, true, true]);
});

test('reportNoteProblem: an empty or ordinary note is fine; too long or control characters are said before sending', () => {
  assert.equal(REPORT_NOTE_MAX, 2000);
  assert.equal(reportNoteProblem(''), undefined, 'the note may be empty');
  assert.equal(reportNoteProblem('  spam links,\n\tover and over  '), undefined, 'newlines, tabs and spacing are fine');
  assert.equal(reportNoteProblem('x'.repeat(2000)), undefined);
  assert.match(reportNoteProblem('x'.repeat(2001)) ?? '', /2,000 characters/);
  assert.match(reportNoteProblem('bell\u0007') ?? '', /control characters/);
  // 2000 characters, but more bytes than the core sends.
  assert.equal(reportNoteProblem('é'.repeat(2000)), undefined, '4000 bytes still fit');
  assert.match(reportNoteProblem('語'.repeat(1500)) ?? '', /too long/);
});

test('metadataChanges: only edited, editable, really changed fields; single-line fields trimmed', () => {
  const v = view([]);
  assert.deepEqual(metadataChanges(v.metadata, {}, v.canEdit), {});
  assert.deepEqual(metadataChanges(v.metadata, { name: 'Lunch club' }, v.canEdit), { name: 'Lunch club' });
  // Typed and typed back, or only whitespace added: nothing to commit.
  assert.deepEqual(metadataChanges(v.metadata, { name: ' Lunch ', subject: 'Tacos?' }, v.canEdit), {});
  // description is not editable for this role: never sent, even if a draft has it.
  assert.deepEqual(metadataChanges(v.metadata, { description: 'x', avatar: 'https://img.example/a.png' }, v.canEdit), { avatar: 'https://img.example/a.png' });
  // Clearing a field is a change; a description keeps its spacing.
  assert.deepEqual(metadataChanges(v.metadata, { subject: '' }, v.canEdit), { subject: '' });
  assert.deepEqual(metadataChanges(v.metadata, { description: ' two\n lines ' }, { ...v.canEdit, description: true }), { description: ' two\n lines ' });
});

test('metadataProblem: says what the core would refuse', () => {
  assert.equal(metadataProblem({ name: 'ok', avatar: '' }), undefined);
  assert.equal(metadataProblem({ avatar: 'https://img.example/a.png' }), undefined);
  assert.match(metadataProblem({ avatar: 'http://img.example/a.png' }) ?? '', /https/);
  assert.match(metadataProblem({ avatar: 'not a url' }) ?? '', /https/);
  assert.match(metadataProblem({ name: 'x'.repeat(101) }) ?? '', /100/);
  assert.match(metadataProblem({ subject: 'x'.repeat(201) }) ?? '', /200/);
});

test('roomStamp: moves with the epoch or the members, not with unread counts or previews', () => {
  const r: RoomView = { roomUri: ROOM, name: 'Lunch', hubDomain: 'a.example', members: [ME, BOB], unread: 0, epoch: '4' };
  const s = roomStamp(r);
  assert.equal(roomStamp({ ...r, unread: 3, lastMessage: { sender: BOB, text: 'hi', timestamp: 1 }, name: 'other' }), s);
  assert.equal(roomStamp({ ...r, members: [BOB, ME] }), s, 'order of the member list does not matter');
  assert.notEqual(roomStamp({ ...r, epoch: '5' }), s);
  assert.notEqual(roomStamp({ ...r, members: [ME] }), s);
});

test('a notAllowed refusal keeps its code and message across the Electron bridge', () => {
  const e = toCoreError(errorAcrossBridge({ code: 'notAllowed', message: 'Your role ordinary_user lacks canBan' }));
  assert.equal(e.code, 'notAllowed');
  assert.equal(e.message, 'Your role ordinary_user lacks canBan');
});
