// The room state as the app reads, shows and edits it (src-main/core/room-view.ts): what the
// settings view offers to whom, the role "add" gives, role names, the extension list a commit
// carries, the plain-text description, and the document `mimi room-state` prints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addedRole,
  descriptionText,
  presetOf,
  readRoomState,
  resolveRole,
  roomSettingsView,
  roomStateDocument,
  withMetadata,
  withRoomState,
  type GroupExtension,
} from '../../src-main/core/room-view.js';
import {
  decodeParticipantListData,
  decodeRoleData,
  decodeRoomMetaData,
  decodeRoomStateExtension,
  encodeRoomStateExtension,
  initialRoomState,
  ROOM_STATE_EXTENSION_TYPE,
  type RoomState,
} from '../../src-shared/room-state.js';
import type { PolicyPresetName } from '../../src-shared/room-policy.js';
import type { RoomMemberView } from '../../src-shared/contract.js';
import { fromHex, utf8 } from '../../src-shared/bytes.js';

const ROOM = 'mimi://a.example/r/lunch';
const user = (h: string): string => `mimi://a.example/u/${h}`;
const ALICE = user('alice');
const BOB = user('bob');
const CAROL = user('carol');
const DAVE = user('dave');
const ERIN = user('erin');

function room(preset: PolicyPresetName, list: [string, number][]): RoomState {
  const s = initialRoomState({ roomUri: ROOM, creator: list[0][0], roomName: 'Lunch', preset });
  return { ...s, participants: list.map(([u, roleIndex]) => ({ user: u, roleIndex })) };
}

// alice and erin are group_admins, bob and carol ordinary (carol was kicked: no clients), dave banned.
const coop = room('cooperative', [
  [ALICE, 3],
  [BOB, 2],
  [CAROL, 2],
  [DAVE, 1],
  [ERIN, 3],
]);
const active = new Set([ALICE, BOB, ERIN]);

// The actions this file is about; `can` may offer more (e.g. removal), which is not checked here.
const actions = (m: RoomMemberView) => ({ kick: m.can.kick, ban: m.can.ban, unban: m.can.unban, roles: m.can.roles });

const row = (rows: RoomMemberView[], u: string): RoomMemberView => {
  const r = rows.find((x) => x.user === u);
  assert.ok(r, `no row for ${u}`);
  return r;
};

// ---------------------------------------------------------------------------------------------
// roomSettingsView

test('settings view of a group_admin: kick only the active, ban the unbanned, unban the banned, roles it may give', () => {
  const v = roomSettingsView(ROOM, coop, ALICE, active);
  assert.equal(v.managed, true);
  assert.equal(v.myRoleIndex, 3);
  assert.equal(v.myRoleName, 'group_admin');
  assert.deepEqual(
    v.participants.map((p) => [p.user, p.roleName, p.active]),
    [
      [ALICE, 'group_admin', true],
      [BOB, 'ordinary_user', true],
      [CAROL, 'ordinary_user', false],
      [DAVE, 'banned', false],
      [ERIN, 'group_admin', true],
    ],
  );
  assert.deepEqual(actions(row(v.participants, ALICE)), { kick: false, ban: false, unban: false, roles: [] }, 'nothing to oneself');
  // group_admin's authorized_role_changes reach roles 0..3 only: no super_admin (4) or policy_enforcer (5).
  assert.deepEqual(actions(row(v.participants, BOB)), { kick: true, ban: true, unban: false, roles: [3] });
  assert.deepEqual(actions(row(v.participants, CAROL)), { kick: false, ban: true, unban: false, roles: [3] }, 'no clients, nothing to kick');
  assert.deepEqual(actions(row(v.participants, DAVE)), { kick: false, ban: false, unban: true, roles: [] });
  assert.deepEqual(actions(row(v.participants, ERIN)), { kick: true, ban: true, unban: false, roles: [2] });
  assert.deepEqual(v.canEdit, { name: true, description: true, avatar: true, subject: true });
  assert.equal(v.canAddParticipant, true);
  assert.equal(v.canSendMessage, true);
  assert.deepEqual(
    v.roles.map((r) => r.roleName),
    ['no_role', 'banned', 'ordinary_user', 'group_admin', 'super_admin', 'policy_enforcer'],
  );
  assert.ok(v.roles[3].capabilities.includes('canKick'));
});

test('settings view of an ordinary user offers no kick, ban, unban or role change', () => {
  const v = roomSettingsView(ROOM, coop, BOB, active);
  assert.equal(v.myRoleName, 'ordinary_user');
  for (const p of v.participants) assert.deepEqual(actions(p), { kick: false, ban: false, unban: false, roles: [] }, p.user);
  // Ordinary users may not change the description (canChangeRoomDescription is group_admin's).
  assert.deepEqual(v.canEdit, { name: true, description: false, avatar: true, subject: true });
  assert.equal(v.canAddParticipant, true, 'cooperative: ordinary users add ordinary users');
});

test('a role\'s minimum limits the bans and demotions offered', () => {
  // Two admins: demoting erin leaves alice in role 3.
  const two = room('cooperative', [
    [ALICE, 3],
    [ERIN, 3],
  ]);
  assert.deepEqual(row(roomSettingsView(ROOM, two, ALICE, new Set([ALICE, ERIN])).participants, ERIN).can.roles, [2]);
  // A super_admin viewing the only group_admin: demoting it would leave role 3 below its minimum of 1.
  const sup = room('cooperative', [
    [ALICE, 4],
    [ERIN, 3],
  ]);
  const erin = row(roomSettingsView(ROOM, sup, ALICE, new Set([ALICE, ERIN])).participants, ERIN).can;
  assert.equal(erin.ban, false);
  assert.deepEqual(erin.roles, [], 'role 3 needs at least one participant');
  assert.equal(erin.kick, true, 'a kick keeps erin on the list');
});

test('moderated: speakers cannot add or rename; attendees cannot send; a moderator manages speakers', () => {
  const mod = room('moderated', [
    [ALICE, 6],
    [BOB, 4],
    [CAROL, 3],
    [DAVE, 5],
  ]);
  const act = new Set([ALICE, BOB, CAROL, DAVE]);
  const speaker = roomSettingsView(ROOM, mod, BOB, act);
  assert.equal(speaker.canAddParticipant, false);
  assert.equal(speaker.canSendMessage, true);
  assert.deepEqual(speaker.canEdit, { name: false, description: false, avatar: false, subject: false });
  assert.equal(roomSettingsView(ROOM, mod, CAROL, act).canSendMessage, false);
  const moderator = roomSettingsView(ROOM, mod, DAVE, act);
  assert.deepEqual(moderator.canEdit, { name: true, description: false, avatar: true, subject: true });
  assert.deepEqual(actions(row(moderator.participants, BOB)), { kick: true, ban: true, unban: false, roles: [2, 3, 5] });
  // The super_admin is beyond a moderator's authorized_role_changes.
  assert.deepEqual(actions(row(moderator.participants, ALICE)), { kick: true, ban: false, unban: false, roles: [] });
});

test('settings view of a room without room state: unmanaged, nothing offered, sending allowed', () => {
  const v = roomSettingsView(ROOM, undefined, ALICE, new Set([ALICE, BOB]));
  assert.equal(v.managed, false);
  assert.deepEqual(v.roles, []);
  assert.deepEqual(
    v.participants.map((p) => [p.user, p.roleIndex, actions(p)]),
    [
      [ALICE, 0, { kick: false, ban: false, unban: false, roles: [] }],
      [BOB, 0, { kick: false, ban: false, unban: false, roles: [] }],
    ],
  );
  assert.deepEqual(v.canEdit, { name: false, description: false, avatar: false, subject: false });
  assert.equal(v.canSendMessage, true);
});

// ---------------------------------------------------------------------------------------------
// presetOf, addedRole, resolveRole

/** The moderated preset with `edit` applied to a copy of its roles (so it is no longer the preset). */
function modifiedModerated(edit: (s: RoomState) => void): RoomState {
  const s = structuredClone(room('moderated', [[ALICE, 6], [BOB, 5], [CAROL, 1]]));
  edit(s);
  return s;
}
const role = (s: RoomState, i: number) => s.policy.roles.find((r) => r.roleIndex === i)!;

test('presetOf recognizes an unchanged preset and nothing else', () => {
  assert.equal(presetOf(coop), 'cooperative');
  assert.equal(presetOf(room('moderated', [[ALICE, 6]])), 'moderated');
  assert.equal(presetOf(modifiedModerated((s) => (role(s, 4).roleDescription = 'may speak'))), undefined);
});

test('addedRole: the preset\'s role, else the lowest active-capable role the actor may add into', () => {
  assert.equal(addedRole(coop, ALICE), 2);
  assert.equal(addedRole(coop, BOB), 2);
  assert.equal(addedRole(room('moderated', [[ALICE, 6]]), ALICE), 4);

  // Only the description differs: the fallback picks guest (2), not the preset's speaker (4).
  const described = modifiedModerated((s) => (role(s, 4).roleDescription = 'may speak'));
  assert.equal(addedRole(described, ALICE), 2);
  // The moderator may add into 4 and 5 only.
  const narrow = modifiedModerated((s) => {
    role(s, 5).authorizedRoleChanges.find((c) => c.fromRoleIndex === 0)!.targetRoleIndexes = [5, 4];
  });
  assert.equal(addedRole(narrow, BOB), 4);
  // A target that allows no active participants (policy_enforcer) is skipped.
  const enforcer = modifiedModerated((s) => {
    role(s, 6).authorizedRoleChanges.find((c) => c.fromRoleIndex === 0)!.targetRoleIndexes = [7, 5];
  });
  assert.equal(addedRole(enforcer, ALICE), 5);
  // So is a lower role once it allows no active participants.
  const silentGuests = modifiedModerated((s) => (role(s, 2).maximumActiveParticipantsConstraint = 0));
  assert.equal(addedRole(silentGuests, ALICE), 3);
  // An actor with no entry from role 0 (banned carol) gets the first role above "banned".
  assert.equal(addedRole(described, CAROL), 2);
});

test('resolveRole takes a name, an index or a decimal string', () => {
  assert.equal(resolveRole(coop, 'group_admin'), 3);
  assert.equal(resolveRole(coop, 'banned'), 1);
  assert.equal(resolveRole(coop, 3), 3);
  assert.equal(resolveRole(coop, '3'), 3);
  assert.equal(resolveRole(coop, 'speaker'), undefined);
  assert.equal(resolveRole(coop, 9), undefined);
  assert.equal(resolveRole(coop, '9'), undefined);
  assert.equal(resolveRole(coop, ''), undefined);
  assert.equal(resolveRole(room('moderated', [[ALICE, 6]]), 'speaker'), 4);
});

// ---------------------------------------------------------------------------------------------
// Extensions

test('withRoomState replaces 0xF006 in place and keeps the other extensions, in order', () => {
  const senders: GroupExtension = { type: 5, data: utf8('hub') };
  const other: GroupExtension = { type: 0xf00a, data: utf8('x') };
  const old: GroupExtension = { type: ROOM_STATE_EXTENSION_TYPE, data: encodeRoomStateExtension(coop) };
  const input = [senders, old, other];
  const next = withMetadata(coop, { name: 'Dinner' });
  const out = withRoomState(input, next);
  assert.deepEqual(
    out.map((e) => e.type),
    [5, ROOM_STATE_EXTENSION_TYPE, 0xf00a],
  );
  assert.deepEqual(out[0], senders);
  assert.deepEqual(out[2], other);
  assert.deepEqual(decodeRoomStateExtension(out[1].data), next);
  assert.deepEqual(readRoomState(out), next);
  assert.deepEqual(input[1], old, 'the input list is not changed');
  assert.deepEqual(readRoomState(input), coop);

  const appended = withRoomState([senders], next);
  assert.deepEqual(
    appended.map((e) => e.type),
    [5, ROOM_STATE_EXTENSION_TYPE],
  );
  assert.equal(readRoomState([senders]), undefined);
  // An invalid state is refused rather than written into the group.
  assert.throws(() => withRoomState(input, { ...coop, participants: [{ user: BOB, roleIndex: 0 }] }));
});

// ---------------------------------------------------------------------------------------------
// Metadata

test('withMetadata and descriptionText round-trip through the extension encoding', () => {
  const text = 'Lunch at noon \u2600, caf\u00e9 "Zur Post"';
  const s = withMetadata(coop, { description: text, subject: 'Tacos?', avatar: 'https://a.example/r.png' });
  assert.equal(descriptionText(s), text);
  assert.deepEqual(s.metadata.roomDescriptions, [{ mediaType: '', languageTag: '', descriptionContent: utf8(text) }]);
  const decoded = decodeRoomStateExtension(encodeRoomStateExtension(s));
  assert.equal(descriptionText(decoded), text);
  assert.equal(decoded.metadata.roomSubject, 'Tacos?');
  assert.equal(decoded.metadata.roomAvatar, 'https://a.example/r.png');
  assert.equal(decoded.metadata.roomName, 'Lunch', 'absent fields stay');
  assert.equal(descriptionText(coop), '', 'the original is unchanged');

  // A name change keeps the description; an empty description removes it.
  assert.equal(descriptionText(withMetadata(s, { name: 'Dinner' })), text);
  const cleared = withMetadata(s, { description: '' });
  assert.deepEqual(cleared.metadata.roomDescriptions, []);
  assert.equal(descriptionText(cleared), '');
  // withMetadata does not validate; the encoder refuses a non-https avatar.
  assert.throws(() => encodeRoomStateExtension(withMetadata(coop, { avatar: 'http://a.example/r.png' })));
});

test('descriptionText reads the first plain-text description, ignoring rich ones', () => {
  const withDescriptions = (ds: { mediaType: string; text: string }[]): RoomState => ({
    ...coop,
    metadata: { ...coop.metadata, roomDescriptions: ds.map((d) => ({ mediaType: d.mediaType, languageTag: 'en', descriptionContent: utf8(d.text) })) },
  });
  assert.equal(descriptionText(withDescriptions([{ mediaType: 'text/html', text: '<b>hi</b>' }])), '');
  assert.equal(
    descriptionText(withDescriptions([{ mediaType: 'text/html', text: '<b>hi</b>' }, { mediaType: 'text/plain;charset=utf-8', text: 'hi' }])),
    'hi',
  );
  const latin1: RoomState = {
    ...coop,
    metadata: { ...coop.metadata, roomDescriptions: [{ mediaType: 'text/plain;charset=iso-8859-1', languageTag: '', descriptionContent: new Uint8Array([0x63, 0x61, 0x66, 0xe9]) }] },
  };
  assert.equal(descriptionText(latin1), '', 'bytes that are not UTF-8 are not shown as text');
});

// ---------------------------------------------------------------------------------------------
// roomStateDocument

test('roomStateDocument: components as hex that decode back to the state', () => {
  const s = withMetadata(coop, { description: 'Where to eat', subject: 'Tacos?' });
  const doc = roomStateDocument(ROOM, s, active);
  assert.equal(doc.managed, true);
  assert.ok(doc.encoded);
  for (const h of Object.values(doc.encoded)) assert.match(h, /^(?:[0-9a-f]{2})+$/);
  assert.deepEqual(decodeParticipantListData(fromHex(doc.encoded.participantList)).participants, s.participants);
  assert.deepEqual(decodeRoomMetaData(fromHex(doc.encoded.roomMetadata)), s.metadata);
  assert.deepEqual(decodeRoleData(fromHex(doc.encoded.rolesList)), s.policy);

  assert.deepEqual(doc.metadata, { name: 'Lunch', description: 'Where to eat', avatar: '', subject: 'Tacos?' });
  assert.deepEqual(doc.participants[2], { user: CAROL, roleIndex: 2, roleName: 'ordinary_user', active: false });
  assert.deepEqual(doc.participants[0], { user: ALICE, roleIndex: 3, roleName: 'group_admin', active: true });
  const enforcer = doc.roles.find((r) => r.roleName === 'policy_enforcer')!;
  assert.equal(enforcer.maximumParticipants, 2);
  assert.equal(enforcer.maximumActiveParticipants, 0);
  assert.equal(enforcer.minimumParticipants, 1);
  const admin = doc.roles.find((r) => r.roleIndex === 3)!;
  assert.equal(admin.maximumParticipants, null);
  assert.deepEqual(admin.authorizedRoleChanges[0], { from: 0, to: [1, 2, 3] });
  // It is printed as JSON: nothing in it may be lost on the way.
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
});

test('roomStateDocument of an unmanaged room lists the active users and no encoding', () => {
  const doc = roomStateDocument(ROOM, undefined, new Set([ALICE]));
  assert.deepEqual(doc, {
    roomUri: ROOM,
    managed: false,
    metadata: null,
    participants: [{ user: ALICE, roleIndex: 0, roleName: '', active: true }],
    roles: [],
    encoded: null,
  });
});
