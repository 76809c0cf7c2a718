import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, fromHex, toHex, utf8 } from '../../src-shared/bytes.js';
import { MimiWireError } from '../../src-shared/mimi-protocol.js';
import { COOPERATIVE_ROOM_POLICY, MODERATED_ROOM_POLICY } from '../../src-shared/room-policy.js';
import {
  applyParticipantListUpdate,
  applyParticipantListUpdates,
  checkParticipantListUpdate,
  checkRoomStateChange,
  decodeAppDataDictionary,
  decodeParticipantListData,
  decodeParticipantListUpdate,
  decodeRoleData,
  decodeRoomMetaData,
  decodeRoomStateExtension,
  diffParticipantList,
  encodeAppDataDictionary,
  encodeParticipantListData,
  encodeParticipantListUpdate,
  encodeRoleData,
  encodeRoomMetaData,
  encodeRoomStateExtension,
  initialRoomState,
  isBanned,
  metadataChanges,
  PARTICIPANT_LIST_COMPONENT_ID,
  ROLES_LIST_COMPONENT_ID,
  ROOM_METADATA_COMPONENT_ID,
  ROOM_STATE_EXTENSION_TYPE,
  roleOf,
  RoomStateError,
  validateRoomState,
  type ParticipantListUpdate,
  type Role,
  type RoomMetaData,
  type RoomState,
} from '../../src-shared/room-state.js';
import { TlsWriter } from '../../src-shared/tls.js';

const isWire = (structure?: string, field?: string) => (e: unknown) =>
  e instanceof MimiWireError && (!structure || e.structure === structure) && (!field || e.field === field);
const isRule = (structure?: string, field?: string) => (e: unknown) => isWire(structure, field)(e) && e instanceof RoomStateError;

/**
 * Byte-exact re-encoding; every truncation and a trailing byte fail with MimiWireError; every
 * single-byte corruption either decodes or fails with MimiWireError (never another error).
 */
function checkWire<T>(name: string, bytes: Uint8Array, decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array): T {
  const value = decode(bytes);
  assert.equal(toHex(encode(value)), toHex(bytes), `${name}: re-encoding is byte-exact`);
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(() => decode(bytes.subarray(0, cut)), (e: unknown) => e instanceof MimiWireError, `${name}: cut at ${cut}/${bytes.length}`);
  }
  assert.throws(() => decode(concatBytes(bytes, Uint8Array.of(0))), isWire(undefined, '(end)'), `${name}: trailing byte`);
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = bytes.slice();
      bad[i] ^= mask;
      try {
        decode(bad);
      } catch (e) {
        assert.ok(e instanceof MimiWireError, `${name}: corrupting byte ${i} with ${mask} threw ${String(e)}`);
      }
    }
  }
  return value;
}

const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const CATHY = 'mimi://c.example/u/cathy';
const DIANA = 'mimi://d.example/u/diana';
const ERIC = 'mimi://e.example/u/eric';
const ROOM = 'mimi://a.example/r/lunch';

function cooperative(participants: RoomState['participants']): RoomState {
  return { ...initialRoomState({ roomUri: ROOM, creator: ALICE, roomName: 'lunch' }), participants };
}

// ---------------------------------------------------------------------------------------------
// Hand-computed encodings

test('ParticipantListData: hand-computed bytes', () => {
  const value = {
    participants: [
      { user: 'x:a', roleIndex: 2 },
      { user: 'x:b', roleIndex: 3 },
    ],
  };
  const hex = '10' + '03783a61' + '00000002' + '03783a62' + '00000003';
  assert.equal(toHex(encodeParticipantListData(value)), hex);
  assert.deepStrictEqual(checkWire('ParticipantListData', fromHex(hex), decodeParticipantListData, encodeParticipantListData), value);
  assert.equal(toHex(encodeParticipantListData({ participants: [] })), '00');
});

test('ParticipantListUpdate: hand-computed bytes (changed, then removed, then added)', () => {
  const value: ParticipantListUpdate = {
    changedRoleParticipants: [{ userIndex: 1, roleIndex: 1 }],
    removedIndices: [0],
    addedParticipants: [{ user: 'x:c', roleIndex: 2 }],
  };
  const hex = '08' + '00000001' + '00000001' + '04' + '00000000' + '08' + '03783a63' + '00000002';
  assert.equal(toHex(encodeParticipantListUpdate(value)), hex);
  assert.deepStrictEqual(checkWire('ParticipantListUpdate', fromHex(hex), decodeParticipantListUpdate, encodeParticipantListUpdate), value);
  assert.equal(toHex(encodeParticipantListUpdate({ changedRoleParticipants: [], removedIndices: [], addedParticipants: [] })), '000000');
});

test('RoomMetaData: hand-computed bytes, every field in the draft order', () => {
  const value: RoomMetaData = {
    roomUri: 'x:r',
    roomName: 'Lunch',
    roomDescriptions: [{ mediaType: '', languageTag: 'en', descriptionContent: utf8('hi') }],
    roomAvatar: '',
    roomSubject: 'food',
    roomMood: '',
  };
  const hex = '03783a72' + '054c756e6368' + '07' + '00' + '02656e' + '026869' + '00' + '04666f6f64' + '00';
  assert.equal(toHex(encodeRoomMetaData(value)), hex);
  assert.deepStrictEqual(checkWire('RoomMetaData', fromHex(hex), decodeRoomMetaData, encodeRoomMetaData), value);
  // An avatar is an https URI; media types other than the empty one carry any bytes.
  const rich: RoomMetaData = {
    ...value,
    roomAvatar: 'https://a.example/avatar.png',
    roomDescriptions: [
      { mediaType: 'text/markdown', languageTag: 'fr', descriptionContent: utf8('**midi**') },
      { mediaType: 'application/octet-stream', languageTag: '', descriptionContent: Uint8Array.of(0xff, 0x00) },
    ],
  };
  checkWire('RoomMetaData', encodeRoomMetaData(rich), decodeRoomMetaData, encodeRoomMetaData);
});

const SMALL_ROLE: Role = {
  roleIndex: 2,
  roleName: 'u',
  roleDescription: '',
  roleCapabilities: ['canSendMessage', 'canBan'],
  minimumParticipantsConstraint: 0,
  minimumActiveParticipantsConstraint: 1,
  maximumActiveParticipantsConstraint: 5,
  authorizedRoleChanges: [{ fromRoleIndex: 0, targetRoleIndexes: [2] }],
};

test('RoleData: hand-computed bytes (uint16 capabilities, optional<uint32> maximums)', () => {
  const roleHex =
    '00000002' + // role_index
    '0175' + // role_name "u"
    '00' + // role_description
    '04' + '0100' + '000a' + // canSendMessage, canBan
    '00000000' + // minimum_participants_constraint
    '00' + // maximum_participants_constraint absent
    '00000001' + // minimum_active_participants_constraint
    '01' + '00000005' + // maximum_active_participants_constraint = 5
    '09' + '00000000' + '04' + '00000002'; // authorized_role_changes [(0,[2])]
  const hex = '24' + roleHex;
  assert.equal(toHex(encodeRoleData({ roles: [SMALL_ROLE] })), hex);
  assert.deepStrictEqual(checkWire('RoleData', fromHex(hex), decodeRoleData, encodeRoleData), { roles: [SMALL_ROLE] });
});

const TINY_STATE: RoomState = {
  participants: [{ user: 'x:a', roleIndex: 2 }],
  metadata: { roomUri: 'x:r', roomName: '', roomDescriptions: [], roomAvatar: '', roomSubject: '', roomMood: '' },
  policy: {
    roles: [
      {
        roleIndex: 2,
        roleName: 'u',
        roleDescription: '',
        roleCapabilities: [],
        minimumParticipantsConstraint: 0,
        minimumActiveParticipantsConstraint: 0,
        authorizedRoleChanges: [],
      },
    ],
  },
};
const TINY_HEX =
  '2f' + // component_data<V>: 47 bytes
  '0022' + '09' + '08' + '03783a61' + '00000002' + // participant_list
  '0023' + '09' + '03783a72' + '0000000000' + // room_metadata
  '0025' + '14' + '13' + '00000002' + '0175' + '00' + '00' + '00000000' + '00' + '00000000' + '00' + '00'; // roles_list

test('room state extension: an AppDataDictionary of 0x0022, 0x0023, 0x0025, hand-computed', () => {
  assert.equal(ROOM_STATE_EXTENSION_TYPE, 0xf006);
  assert.deepStrictEqual([PARTICIPANT_LIST_COMPONENT_ID, ROOM_METADATA_COMPONENT_ID, ROLES_LIST_COMPONENT_ID], [0x22, 0x23, 0x25]);
  assert.equal(toHex(encodeRoomStateExtension(TINY_STATE)), TINY_HEX);
  assert.deepStrictEqual(checkWire('AppDataDictionary', fromHex(TINY_HEX), decodeRoomStateExtension, encodeRoomStateExtension), TINY_STATE);
  assert.deepStrictEqual(
    decodeAppDataDictionary(fromHex(TINY_HEX)).map((e) => e.componentId),
    [0x22, 0x23, 0x25],
  );
});

test('both presets round-trip through the extension byte-exactly', () => {
  for (const preset of ['cooperative', 'moderated'] as const) {
    const state = initialRoomState({ roomUri: ROOM, creator: ALICE, roomName: 'lunch', preset });
    const bytes = encodeRoomStateExtension(state);
    const back = decodeRoomStateExtension(bytes);
    assert.deepStrictEqual(back, state);
    assert.equal(toHex(encodeRoomStateExtension(back)), toHex(bytes));
  }
  const s = initialRoomState({ roomUri: ROOM, creator: ALICE });
  assert.deepStrictEqual(s.participants, [{ user: ALICE, roleIndex: 3 }], 'cooperative creator is the group_admin');
  assert.deepStrictEqual(s.policy, COOPERATIVE_ROOM_POLICY);
  assert.notEqual(s.policy, COOPERATIVE_ROOM_POLICY, 'the preset is copied, not shared');
  assert.equal(roleOf(initialRoomState({ roomUri: ROOM, creator: ALICE, preset: 'moderated' }), ALICE), 6);
});

// ---------------------------------------------------------------------------------------------
// Strict decoding

test('dictionary keys: unsorted, duplicate, unknown and missing components are rejected', () => {
  const entries = decodeAppDataDictionary(fromHex(TINY_HEX));
  const raw = (list: typeof entries) => new TlsWriter().vector(list, (w, e) => w.u16(e.componentId).opaqueV(e.data)).finish();
  assert.throws(() => decodeRoomStateExtension(raw([entries[1], entries[0], entries[2]])), isWire('AppDataDictionary', 'component_data'));
  assert.throws(() => decodeRoomStateExtension(raw([entries[0], entries[0], entries[1], entries[2]])), isWire('AppDataDictionary', 'component_data'));
  assert.throws(() => encodeAppDataDictionary([entries[1], entries[0]]), isWire('AppDataDictionary', 'component_data'));
  assert.throws(
    () => decodeRoomStateExtension(raw([...entries, { componentId: 0x8000, data: new Uint8Array() }])),
    isRule('AppDataDictionary', 'component_data[0x8000]'),
  );
  assert.throws(() => decodeRoomStateExtension(raw([entries[0], entries[2]])), (e: unknown) => isRule('AppDataDictionary', 'component_data')(e) && /room_metadata/.test((e as Error).message));
  assert.throws(() => decodeRoomStateExtension(raw([])), isRule('AppDataDictionary', 'component_data'));
  // A broken component is reported with the path into it.
  const badRole = { componentId: 0x25, data: fromHex('05' + '00000002' + '01') };
  assert.throws(
    () => decodeRoomStateExtension(raw([entries[0], entries[1], badRole])),
    (e: unknown) => isWire('Role', 'role_name')(e) && (e as MimiWireError).path.startsWith('AppDataDictionary.component_data[roles_list] > RoleData.roles[0] > Role.role_name'),
  );
});

test('unknown values: capability types, optional presence octets', () => {
  const role = fromHex(toHex(encodeRoleData({ roles: [SMALL_ROLE] })));
  // role_capabilities starts at offset 1 (roles<V>) + 4 + 2 + 1 + 1 (its length): 0x0100 -> 0x0012 (unassigned).
  const unknownCap = role.slice();
  unknownCap[9] = 0x00;
  unknownCap[10] = 0x12;
  assert.throws(() => decodeRoleData(unknownCap), (e: unknown) => isWire('Role', 'role_capabilities[0]')(e) && /unknown CapabilityType 0x0012/.test(String(e)));
  const privateCap = role.slice();
  privateCap[9] = 0xf0;
  privateCap[10] = 0x00;
  assert.throws(() => decodeRoleData(privateCap), isWire('Role', 'role_capabilities[0]'));
  // maximum_participants_constraint presence octet (offset 1+4+2+1+5+4 = 17) must be 0 or 1.
  const badOptional = role.slice();
  assert.equal(badOptional[17], 0);
  badOptional[17] = 2;
  assert.throws(() => decodeRoleData(badOptional), isWire('Role', 'maximum_participants_constraint'));
  assert.throws(() => encodeRoleData({ roles: [{ ...SMALL_ROLE, roleCapabilities: ['canFly' as never] }] }), isWire('Role', 'role_capabilities[0]'));
});

test('text fields: UTF-8, no NUL in UTF8String, URIs, https avatar; a BOM survives', () => {
  const meta = (m: Partial<RoomMetaData>): RoomMetaData => ({ ...TINY_STATE.metadata, ...m });
  const bad: [Partial<RoomMetaData>, string][] = [
    [{ roomName: 'a\u0000b' }, 'room_name'],
    [{ roomSubject: '\u0000' }, 'room_subject'],
    [{ roomMood: '\uD800' }, 'room_mood'],
    [{ roomUri: '' }, 'room_uri'],
    [{ roomUri: 'not a uri' }, 'room_uri'],
    [{ roomUri: 'x:%zz' }, 'room_uri'],
    [{ roomAvatar: 'http://a.example/a.png' }, 'room_avatar'],
    [{ roomAvatar: 'avatar.png' }, 'room_avatar'],
  ];
  for (const [m, field] of bad) assert.throws(() => encodeRoomMetaData(meta(m)), isWire('RoomMetaData', field), field);
  // The same failures on decode.
  const withName = (nameBytes: Uint8Array) => concatBytes(fromHex('03783a72'), new TlsWriter().opaqueV(nameBytes).finish(), fromHex('00000000'));
  assert.throws(() => decodeRoomMetaData(withName(Uint8Array.of(0x61, 0x00))), isWire('RoomMetaData', 'room_name'));
  assert.throws(() => decodeRoomMetaData(withName(Uint8Array.of(0xc3, 0x28))), isWire('RoomMetaData', 'room_name'));
  const bom = decodeRoomMetaData(withName(utf8('\uFEFFhi')));
  assert.equal(bom.roomName, '\uFEFFhi');
  assert.equal(toHex(encodeRoomMetaData(bom)), toHex(withName(utf8('\uFEFFhi'))));
  // Empty media_type means UTF-8 text.
  assert.throws(
    () => encodeRoomMetaData(meta({ roomDescriptions: [{ mediaType: '', languageTag: 'en', descriptionContent: Uint8Array.of(0xff) }] })),
    isRule('RichDescription', 'description_content'),
  );
  assert.throws(() => encodeParticipantListData({ participants: [{ user: 'bob', roleIndex: 2 }] }), isWire('UserRolePair', 'user'));
  assert.throws(() => encodeParticipantListData({ participants: [{ user: ALICE, roleIndex: 2.5 }] }), isWire('UserRolePair', 'role_index'));
});

test('rules inside a component: role 0 in the list, duplicates, role data consistency', () => {
  assert.throws(() => encodeParticipantListData({ participants: [{ user: ALICE, roleIndex: 0 }] }), isRule('UserRolePair', 'role_index'));
  assert.throws(() => decodeParticipantListData(fromHex('08' + '03783a61' + '00000000')), isRule('UserRolePair', 'role_index'));
  assert.throws(() => decodeParticipantListData(fromHex('10' + '03783a61' + '00000002' + '03783a61' + '00000003')), isRule('ParticipantListData', 'participants'));
  const role = (r: Partial<Role>): Role => ({ ...SMALL_ROLE, ...r });
  const cases: [Role[], string, string][] = [
    [[role({ roleCapabilities: ['canBan', 'canBan'] })], 'Role', '(value)'],
    [[role({ roleCapabilities: ['canOpenJoin'] })], 'Role', '(value)'],
    [[role({ minimumParticipantsConstraint: 3, maximumParticipantsConstraint: 2 })], 'Role', '(value)'],
    [[role({ minimumActiveParticipantsConstraint: 6 })], 'Role', '(value)'],
    [[role({ authorizedRoleChanges: [{ fromRoleIndex: 0, targetRoleIndexes: [2] }, { fromRoleIndex: 0, targetRoleIndexes: [] }] })], 'Role', '(value)'],
    [[role({ authorizedRoleChanges: [{ fromRoleIndex: 0, targetRoleIndexes: [2, 2] }] })], 'SingleSourceRoleChangeTargets', 'target_role_indexes'],
    [[role({}), role({})], 'RoleData', 'roles'],
    [[role({ authorizedRoleChanges: [{ fromRoleIndex: 0, targetRoleIndexes: [7] }] })], 'RoleData', 'roles'],
  ];
  for (const [roles, structure, field] of cases) {
    assert.throws(() => encodeRoleData({ roles }), isRule(structure, field), `${structure}.${field}`);
  }
  // canOpenJoin is allowed on role 0.
  encodeRoleData({ roles: [role({ roleIndex: 0, roleCapabilities: ['canOpenJoin'], authorizedRoleChanges: [] })] });
  // Across components: every participant's role must be defined.
  const undefinedRole = { ...TINY_STATE, participants: [{ user: 'x:a', roleIndex: 9 }] };
  assert.throws(() => encodeRoomStateExtension(undefinedRole), isRule('RoomState', 'participants[0]'));
  const bytes = fromHex(TINY_HEX);
  bytes[11] = 9; // participant_list role_index 2 -> 9
  assert.throws(() => decodeRoomStateExtension(bytes), isRule('RoomState', 'participants[0]'));
  assert.throws(() => validateRoomState(null as never), isWire('RoomState'));
});

test('ParticipantListUpdate: decode rejects an index both changed and removed, and duplicates', () => {
  const upd = (u: Partial<ParticipantListUpdate>): ParticipantListUpdate => ({ changedRoleParticipants: [], removedIndices: [], addedParticipants: [], ...u });
  const bad = [
    upd({ changedRoleParticipants: [{ userIndex: 0, roleIndex: 2 }], removedIndices: [0] }),
    upd({ changedRoleParticipants: [{ userIndex: 0, roleIndex: 2 }, { userIndex: 0, roleIndex: 3 }] }),
    upd({ removedIndices: [1, 1] }),
    upd({ addedParticipants: [{ user: BOB, roleIndex: 2 }, { user: BOB, roleIndex: 3 }] }),
  ];
  for (const u of bad) assert.throws(() => encodeParticipantListUpdate(u), isRule('ParticipantListUpdate', '(value)'));
  assert.throws(() => decodeParticipantListUpdate(fromHex('08' + '00000000' + '00000002' + '04' + '00000000' + '00')), isRule('ParticipantListUpdate', '(value)'));
  assert.throws(() => encodeParticipantListUpdate(upd({ changedRoleParticipants: [{ userIndex: 0, roleIndex: 0 }] })), isRule('UserindexRolePair', 'role_index'));
});

// ---------------------------------------------------------------------------------------------
// Applying updates

test('applyParticipantListUpdate: the draft example (add diana and eric, remove bob, ban cathy)', () => {
  const before = cooperative([
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 2 },
    { user: CATHY, roleIndex: 2 },
  ]);
  const update: ParticipantListUpdate = {
    changedRoleParticipants: [{ userIndex: 2, roleIndex: 1 }],
    removedIndices: [1],
    addedParticipants: [
      { user: DIANA, roleIndex: 4 },
      { user: ERIC, roleIndex: 3 },
    ],
  };
  const after = applyParticipantListUpdate(before, update);
  assert.deepStrictEqual(after.participants, [
    { user: ALICE, roleIndex: 3 },
    { user: CATHY, roleIndex: 1 },
    { user: DIANA, roleIndex: 4 },
    { user: ERIC, roleIndex: 3 },
  ]);
  assert.equal(before.participants.length, 3, 'the input is not modified');
  assert.ok(isBanned(after, CATHY));
  assert.equal(roleOf(after, BOB), 0);
  assert.deepStrictEqual(diffParticipantList(before.participants, after.participants), update);
  assert.deepStrictEqual(decodeRoomStateExtension(encodeRoomStateExtension(after)), after);
});

test('applyParticipantListUpdate: invalid updates throw RoomStateError naming the field', () => {
  const before = cooperative([
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 2 },
    { user: CATHY, roleIndex: 1 },
  ]);
  const upd = (u: Partial<ParticipantListUpdate>): ParticipantListUpdate => ({ changedRoleParticipants: [], removedIndices: [], addedParticipants: [], ...u });
  const cases: [ParticipantListUpdate, string, RegExp][] = [
    [upd({ changedRoleParticipants: [{ userIndex: 3, roleIndex: 2 }] }), 'changedRoleParticipants[0]', /out of range/],
    [upd({ removedIndices: [3] }), 'removedIndices[0]', /out of range/],
    [upd({ changedRoleParticipants: [{ userIndex: 1, roleIndex: 9 }] }), 'changedRoleParticipants[0]', /not defined/],
    [upd({ changedRoleParticipants: [{ userIndex: 1, roleIndex: 2 }] }), 'changedRoleParticipants[0]', /already has role/],
    [upd({ addedParticipants: [{ user: BOB, roleIndex: 2 }] }), 'addedParticipants[0]', /already in the participant list/],
    [upd({ addedParticipants: [{ user: CATHY, roleIndex: 2 }] }), 'addedParticipants[0]', /role 1/],
    [upd({ addedParticipants: [{ user: DIANA, roleIndex: 9 }] }), 'addedParticipants[0]', /not defined/],
    // The same user removed and added again in one commit.
    [upd({ removedIndices: [1], addedParticipants: [{ user: BOB, roleIndex: 2 }] }), 'addedParticipants[0]', /more than once/],
  ];
  for (const [u, field, message] of cases) {
    assert.throws(() => applyParticipantListUpdate(before, u), (e: unknown) => isRule('ParticipantListUpdate', field)(e) && message.test((e as Error).message), `${field} ${message}`);
  }
  assert.throws(() => applyParticipantListUpdate(before, upd({ removedIndices: [1, 1] })), isRule('ParticipantListUpdate', '(value)'));
});

test('applyParticipantListUpdates: one commit may not touch a user twice across updates', () => {
  const before = cooperative([
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 2 },
  ]);
  const upd = (u: Partial<ParticipantListUpdate>): ParticipantListUpdate => ({ changedRoleParticipants: [], removedIndices: [], addedParticipants: [], ...u });
  // Indices of the second update refer to the list the first one produced.
  const after = applyParticipantListUpdates(before, [upd({ addedParticipants: [{ user: CATHY, roleIndex: 2 }] }), upd({ removedIndices: [1] })]);
  assert.deepStrictEqual(after.participants, [
    { user: ALICE, roleIndex: 3 },
    { user: CATHY, roleIndex: 2 },
  ]);
  assert.throws(
    () => applyParticipantListUpdates(before, [upd({ addedParticipants: [{ user: CATHY, roleIndex: 2 }] }), upd({ changedRoleParticipants: [{ userIndex: 2, roleIndex: 3 }] })]),
    (e: unknown) => isRule('ParticipantListUpdate', 'changedRoleParticipants[0]')(e) && /more than once/.test((e as Error).message),
  );
  assert.throws(
    () => applyParticipantListUpdates(before, [upd({ changedRoleParticipants: [{ userIndex: 1, roleIndex: 3 }] }), upd({ removedIndices: [1] })]),
    isRule('ParticipantListUpdate', 'removedIndices[0]'),
  );
});

test('diffParticipantList: the canonical update, and lists one update cannot produce', () => {
  const before = [
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 2 },
    { user: CATHY, roleIndex: 2 },
  ];
  assert.deepStrictEqual(diffParticipantList(before, before), { changedRoleParticipants: [], removedIndices: [], addedParticipants: [] });
  assert.deepStrictEqual(diffParticipantList(before, [{ user: BOB, roleIndex: 3 }]), {
    changedRoleParticipants: [{ userIndex: 1, roleIndex: 3 }],
    removedIndices: [0, 2],
    addedParticipants: [],
  });
  assert.throws(() => diffParticipantList(before, [before[1], before[0], before[2]]), isRule('ParticipantListData', 'participants[1]'));
  assert.throws(() => diffParticipantList(before, [before[0], { user: DIANA, roleIndex: 2 }, before[1]]), isRule('ParticipantListData', 'participants[2]'));
});

// ---------------------------------------------------------------------------------------------
// Authorizing a new state

test('checkRoomStateChange: participants, metadata, roles_list', () => {
  const before = cooperative([
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 2 },
  ]);
  const withList = (participants: RoomState['participants']): RoomState => ({ ...before, participants });
  // An ordinary user adds an ordinary user; an outsider cannot.
  const added = withList([...before.participants, { user: CATHY, roleIndex: 2 }]);
  assert.deepStrictEqual(checkRoomStateChange(before, added, BOB), { ok: true });
  assert.deepEqual((checkRoomStateChange(before, added, DIANA) as { denied: string }).denied, 'canAddParticipant');
  // ... but not as group_admin.
  assert.deepEqual((checkRoomStateChange(before, withList([...before.participants, { user: CATHY, roleIndex: 3 }]), BOB) as { denied: string }).denied, 'canAddParticipant');
  // Ban by role change: the admin may (canBan), the ordinary user may not.
  const banned = withList([before.participants[0], { user: BOB, roleIndex: 1 }]);
  assert.deepStrictEqual(checkRoomStateChange(before, banned, ALICE), { ok: true });
  // Unban back to ordinary (canUnBan).
  assert.deepStrictEqual(checkRoomStateChange(banned, before, ALICE), { ok: true });
  // Pre-emptive ban of a non-participant (0 -> 1).
  assert.deepStrictEqual(checkRoomStateChange(before, withList([...before.participants, { user: CATHY, roleIndex: 1 }]), ALICE), { ok: true });
  // Metadata: the name is everyone's, the description the admin's.
  const renamed = { ...before, metadata: { ...before.metadata, roomName: 'dinner' } };
  assert.deepStrictEqual(checkRoomStateChange(before, renamed, BOB), { ok: true });
  const described = { ...before, metadata: { ...before.metadata, roomDescriptions: [{ mediaType: '', languageTag: 'en', descriptionContent: utf8('x') }] } };
  assert.deepEqual((checkRoomStateChange(before, described, BOB) as { denied: string }).denied, 'canChangeRoomDescription');
  assert.deepStrictEqual(checkRoomStateChange(before, described, ALICE), { ok: true });
  assert.deepStrictEqual(metadataChanges(before.metadata, described.metadata), ['roomDescriptions']);
  assert.throws(() => checkRoomStateChange(before, { ...before, metadata: { ...before.metadata, roomUri: 'mimi://a.example/r/other' } }, ALICE), isRule('RoomMetaData', 'room_uri'));
  // roles_list: only canChangeRoleDefinitions (the policy_enforcer in this preset), never with a list change.
  const strict = { ...before, policy: MODERATED_ROOM_POLICY, participants: before.participants.map((p) => ({ ...p })) };
  assert.deepEqual((checkRoomStateChange(before, strict, ALICE) as { denied: string }).denied, 'canChangeRoleDefinitions');
  const enforced = withList([...before.participants, { user: 'mimi://a.example/u/hub', roleIndex: 5 }]);
  assert.deepStrictEqual(checkRoomStateChange(enforced, { ...strict, participants: enforced.participants }, 'mimi://a.example/u/hub'), { ok: true });
  assert.throws(() => checkRoomStateChange(before, { ...strict, participants: [before.participants[0]] }, ALICE), isRule('RoleData', 'roles'));
  // No change at all is allowed for anyone.
  assert.deepStrictEqual(checkRoomStateChange(before, before, DIANA), { ok: true });
});

test('checkParticipantListUpdate: actions are checked in order against the evolving list', () => {
  const before = cooperative([
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 3 },
    { user: CATHY, roleIndex: 2 },
  ]);
  // Alice demotes Bob and then removes Cathy: both allowed.
  assert.deepStrictEqual(
    checkParticipantListUpdate(before, ALICE, { changedRoleParticipants: [{ userIndex: 1, roleIndex: 2 }], removedIndices: [2], addedParticipants: [] }),
    { ok: true },
  );
  // Alice demotes Bob and herself? She cannot change her own role; demoting both admins would also break group_admin's minimum of 1.
  const both = checkParticipantListUpdate(before, ALICE, { changedRoleParticipants: [{ userIndex: 1, roleIndex: 2 }], removedIndices: [0], addedParticipants: [] });
  assert.equal(both.ok, false);
  assert.equal((both as { denied: string }).denied, 'canRemoveSelf');
  assert.match((both as { reason: string }).reason, /at least 1/);
  // An ordinary user cannot ban; the first denial (canBan) is reported.
  const ban = checkParticipantListUpdate(before, CATHY, { changedRoleParticipants: [{ userIndex: 1, roleIndex: 1 }], removedIndices: [], addedParticipants: [] });
  assert.equal((ban as { denied: string }).denied, 'canBan');
  // Invalid updates throw rather than deny.
  assert.throws(() => checkParticipantListUpdate(before, ALICE, { changedRoleParticipants: [], removedIndices: [7], addedParticipants: [] }), RoomStateError);
});
