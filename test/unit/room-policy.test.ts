import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BANNED_ROLE_INDEX,
  CAPABILITIES,
  CAPABILITY_NAMES,
  checkChange,
  COOPERATIVE_ROOM_POLICY,
  DEFAULT_ROOM_POLICY,
  METADATA_CAPABILITY,
  MODERATED_ROOM_POLICY,
  POLICY_PRESETS,
  RESERVED_CAPABILITIES,
  type CapabilityName,
  type CheckContext,
  type CheckResult,
  type MetadataField,
  type RoomChange,
} from '../../src-shared/room-policy.js';
import type { Role, RoomPolicy, UserRolePair } from '../../src-shared/room-state.js';

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/specs/draft-ietf-mimi-room-policy-03_with-04-notes.txt');

const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const CAROL = 'mimi://c.example/u/carol';
const DAVE = 'mimi://d.example/u/dave';
const ERIN = 'mimi://e.example/u/erin';

const denied = (r: CheckResult): CapabilityName | undefined => (r.ok ? undefined : r.denied);
const reason = (r: CheckResult): string => (r.ok ? '' : r.reason);

// ---------------------------------------------------------------------------------------------
// Registry

test('capabilities: the complete registry, values as the draft assigns them', (t) => {
  const names = Object.keys(CAPABILITIES) as CapabilityName[];
  assert.equal(names.length, 77);
  assert.equal(CAPABILITY_NAMES.size, 77, 'values are unique');
  for (const n of names) assert.equal(CAPABILITY_NAMES.get(CAPABILITIES[n]), n);
  assert.equal(RESERVED_CAPABILITIES.size, 18);
  if (!fs.existsSync(SPEC)) {
    t.diagnostic(`spec not found at ${SPEC}; registry table not compared`);
    return;
  }
  // Compare with every row of the "New MIMI Role Capabilities registry" table.
  const rows = [...fs.readFileSync(SPEC, 'utf8').matchAll(/^\| (0x[0-9a-f]{4}) \| (\w+)( \(reserved\))?\s*\|/gm)];
  assert.equal(rows.length, 77);
  for (const [, value, name, reserved] of rows) {
    assert.equal(CAPABILITIES[name as CapabilityName], parseInt(value, 16), name);
    assert.equal(RESERVED_CAPABILITIES.has(name as CapabilityName), reserved !== undefined, `${name} reserved`);
  }
});

// ---------------------------------------------------------------------------------------------
// Presets

function changes(r: Role): string {
  return `[${r.authorizedRoleChanges.map((e) => `(${e.fromRoleIndex},[${e.targetRoleIndexes.join(',')}])`).join(', ')}]`;
}

function byName(policy: RoomPolicy, name: string): Role {
  const r = policy.roles.find((x) => x.roleName === name);
  assert.ok(r, name);
  return r;
}

test('cooperative preset: the draft example roles, constraints and authorized_role_changes', () => {
  assert.equal(DEFAULT_ROOM_POLICY, COOPERATIVE_ROOM_POLICY);
  const p = COOPERATIVE_ROOM_POLICY;
  assert.deepStrictEqual(
    p.roles.map((r) => [r.roleIndex, r.roleName]),
    [
      [0, 'no_role'],
      [1, 'banned'],
      [2, 'ordinary_user'],
      [3, 'group_admin'],
      [4, 'super_admin'],
      [5, 'policy_enforcer'],
    ],
  );
  // authorized_role_changes exactly as the draft writes them.
  assert.equal(changes(byName(p, 'no_role')), '[]');
  assert.equal(changes(byName(p, 'banned')), '[]');
  assert.equal(changes(byName(p, 'ordinary_user')), '[(0,[2]), (2,[0])]');
  assert.equal(changes(byName(p, 'group_admin')), '[(0,[1,2,3]), (1,[0,2,3]), (2,[0,1,3]), (3,[0,1,2])]');
  assert.equal(changes(byName(p, 'super_admin')), '[(0,[1,2,3,4]), (1,[0,2,3,4]), (2,[0,1,3,4]), (3,[0,1,2,4]), (4,[0,1,2,3])]');
  assert.equal(changes(byName(p, 'policy_enforcer')), '[(0,[1]), (1,[0]), (2,[0,1]), (3,[0,1]), (4,[0,1])]');
  const limits = (r: Role) => [r.minimumParticipantsConstraint, r.maximumParticipantsConstraint ?? null, r.minimumActiveParticipantsConstraint, r.maximumActiveParticipantsConstraint ?? null];
  assert.deepStrictEqual(p.roles.map(limits), [
    [0, null, 0, 0],
    [0, null, 0, 0],
    [0, null, 0, null],
    [1, null, 0, null],
    [0, null, 0, null],
    [1, 2, 0, 0],
  ]);
  const ordinary = byName(p, 'ordinary_user').roleCapabilities;
  const admin = byName(p, 'group_admin').roleCapabilities;
  const superAdmin = byName(p, 'super_admin').roleCapabilities;
  assert.equal(ordinary.length, 37);
  assert.ok(ordinary.every((c) => admin.includes(c)) && admin.every((c) => superAdmin.includes(c)), 'each role includes the one below');
  assert.deepStrictEqual(
    admin.filter((c) => !ordinary.includes(c)),
    ['canBan', 'canUnBan', 'canKick', 'canChangeUserRole', 'canDeleteOtherMessage', 'canEditOtherTopic', 'canChangeRoomDescription'],
  );
  assert.deepStrictEqual(superAdmin.filter((c) => !admin.includes(c)), ['canChangeRoomMembershipStyle', 'canChangePreauthorizedUserList', 'canDestroyRoom']);
  assert.ok(!ordinary.includes('canChangeRoomDescription') && ordinary.includes('canChangeRoomName'));
  assert.equal(byName(p, 'policy_enforcer').roleCapabilities.length, 9);
  assert.deepStrictEqual(POLICY_PRESETS.cooperative, { policy: p, creatorRole: 3, addedRole: 2 });
});

test('moderated preset: the draft example roles 0-7', () => {
  const p = MODERATED_ROOM_POLICY;
  assert.deepStrictEqual(
    p.roles.map((r) => r.roleName),
    ['no_role', 'banned', 'guest', 'attendee', 'speaker', 'moderator', 'super_admin', 'policy_enforcer'],
  );
  assert.equal(changes(byName(p, 'no_role')), '[(0,[2,3])]');
  assert.deepStrictEqual(byName(p, 'no_role').roleCapabilities, ['canUseJoinCode']);
  assert.equal(changes(byName(p, 'speaker')), '[(0,[4]), (4,[0])]');
  assert.equal(changes(byName(p, 'moderator')), '[(0,[1,2,3,4,5]), (1,[0,2,3,4,5]), (2,[0,1,3,4,5]), (3,[0,1,2,4,5]), (4,[0,1,2,3,5]), (5,[0,1,2,3,4])]');
  assert.equal(changes(byName(p, 'policy_enforcer')), '[(0,[1]), (1,[0]), (2,[0,1]), (3,[0,1]), (4,[0,1]), (5,[0,1]), (6,[0,1])]');
  const caps = (n: string) => byName(p, n).roleCapabilities;
  const chain = ['guest', 'attendee', 'speaker', 'moderator', 'super_admin'];
  for (let i = 1; i < chain.length; i++) assert.ok(caps(chain[i - 1]).every((c) => caps(chain[i]).includes(c)), `${chain[i]} includes ${chain[i - 1]}`);
  assert.ok(!caps('attendee').includes('canSendMessage') && caps('speaker').includes('canSendMessage'));
  assert.ok(!caps('moderator').includes('canChangeRoomDescription') && caps('super_admin').includes('canChangeRoomDescription'));
  assert.deepStrictEqual(POLICY_PRESETS.moderated, { policy: p, creatorRole: 6, addedRole: 4 });
});

// ---------------------------------------------------------------------------------------------
// Every capability, allowed and denied

function probeRole(roleIndex: number, roleName: string, caps: CapabilityName[], extra: Partial<Role> = {}): Role {
  return {
    roleIndex,
    roleName,
    roleDescription: '',
    roleCapabilities: caps,
    minimumParticipantsConstraint: 0,
    minimumActiveParticipantsConstraint: 0,
    authorizedRoleChanges: [0, 1, 2, 3].map((from) => ({ fromRoleIndex: from, targetRoleIndexes: [0, 1, 2, 3].filter((to) => to !== from) })),
    ...extra,
  };
}

/** Role 2 "holder" (or role 0 for canOpenJoin/canUseJoinCode) has `cap` when `granted`; role 3 has nothing. */
function probePolicy(cap: CapabilityName, granted: boolean): RoomPolicy {
  const held = granted ? [cap] : [];
  const onRoleZero = cap === 'canOpenJoin' || cap === 'canUseJoinCode';
  return {
    roles: [
      probeRole(0, 'no_role', onRoleZero ? held : [], { authorizedRoleChanges: [{ fromRoleIndex: 0, targetRoleIndexes: [2, 3] }] }),
      probeRole(1, 'banned', [], { maximumActiveParticipantsConstraint: 0, authorizedRoleChanges: [] }),
      probeRole(2, 'holder', onRoleZero ? [] : held),
      probeRole(3, 'plain', []),
    ],
  };
}

// Alice (role 2) acts; Bob (3) and Dave (2) are ordinary active targets, Carol is banned, Erin is outside.
const PROBE_LIST: UserRolePair[] = [
  { user: ALICE, roleIndex: 2 },
  { user: BOB, roleIndex: 3 },
  { user: CAROL, roleIndex: 1 },
  { user: DAVE, roleIndex: 2 },
];

const METADATA_FIELD_OF = Object.fromEntries(Object.entries(METADATA_CAPABILITY).map(([f, c]) => [c, f])) as Record<string, MetadataField>;

function probe(cap: CapabilityName): { actor: string; change: RoomChange } {
  const table: Partial<Record<CapabilityName, { actor: string; change: RoomChange }>> = {
    canAddParticipant: { actor: ALICE, change: { kind: 'addParticipant', user: ERIN, role: 3 } },
    canRemoveParticipant: { actor: ALICE, change: { kind: 'removeParticipant', user: BOB } },
    canRemoveSelf: { actor: ALICE, change: { kind: 'removeParticipant', user: ALICE } },
    canAddOwnClient: { actor: ALICE, change: { kind: 'addOwnClient' } },
    canRemoveOwnClient: { actor: ALICE, change: { kind: 'removeOwnClient', lastClient: true } },
    canOpenJoin: { actor: ERIN, change: { kind: 'join', via: 'openJoin', role: 2 } },
    canUseJoinCode: { actor: ERIN, change: { kind: 'join', via: 'joinCode', role: 3 } },
    canJoinIfPreauthorized: { actor: ERIN, change: { kind: 'join', via: 'preauthorized', role: 2 } },
    canBan: { actor: ALICE, change: { kind: 'ban', user: BOB } },
    canUnBan: { actor: ALICE, change: { kind: 'unban', user: CAROL, role: 3 } },
    canKick: { actor: ALICE, change: { kind: 'kick', user: BOB } },
    canChangeUserRole: { actor: ALICE, change: { kind: 'changeRole', user: BOB, role: 2 } },
    canChangeOwnRole: { actor: ALICE, change: { kind: 'changeOwnRole', role: 3 } },
    canSendMessage: { actor: ALICE, change: { kind: 'sendMessage' } },
  };
  const fixed = table[cap];
  if (fixed) return fixed;
  const field = METADATA_FIELD_OF[cap];
  if (field) return { actor: ALICE, change: { kind: 'changeMetadata', fields: [field] } };
  return { actor: ALICE, change: { kind: 'use', capability: cap } };
}

test('every capability: allowed when the role holds it, denied naming it when not', () => {
  for (const cap of Object.keys(CAPABILITIES) as CapabilityName[]) {
    const { actor, change } = probe(cap);
    const allowed = checkChange(probePolicy(cap, true), PROBE_LIST, actor, change);
    assert.deepStrictEqual(allowed, { ok: true }, `${cap} allowed: ${reason(allowed)}`);
    const refused = checkChange(probePolicy(cap, false), PROBE_LIST, actor, change);
    assert.equal(denied(refused), cap, `${cap} denied`);
    assert.match(reason(refused), new RegExp(`does not have ${cap}`), cap);
  }
  // 'sendMessage' and 'use' agree.
  assert.deepStrictEqual(checkChange(probePolicy('canSendMessage', true), PROBE_LIST, ALICE, { kind: 'use', capability: 'canSendMessage' }), { ok: true });
});

test("'use' refuses membership capabilities and unknown names; changeMetadata checks every field", () => {
  assert.throws(() => checkChange(COOPERATIVE_ROOM_POLICY, [], ALICE, { kind: 'use', capability: 'canBan' }), TypeError);
  assert.throws(() => checkChange(COOPERATIVE_ROOM_POLICY, [], ALICE, { kind: 'use', capability: 'canFly' as never }), TypeError);
  assert.throws(() => checkChange(COOPERATIVE_ROOM_POLICY, [], ALICE, { kind: 'changeMetadata', fields: [] }), TypeError);
  const list = [{ user: ALICE, roleIndex: 2 }];
  const r = checkChange(COOPERATIVE_ROOM_POLICY, list, ALICE, { kind: 'changeMetadata', fields: ['roomName', 'roomDescriptions'] });
  assert.equal(denied(r), 'canChangeRoomDescription');
  assert.deepStrictEqual(checkChange(COOPERATIVE_ROOM_POLICY, list, ALICE, { kind: 'changeMetadata', fields: ['roomName', 'roomAvatar', 'roomSubject', 'roomMood'] }), { ok: true });
});

// ---------------------------------------------------------------------------------------------
// The rules around the capabilities, in the cooperative room

const COOP: UserRolePair[] = [
  { user: ALICE, roleIndex: 3 }, // group_admin
  { user: BOB, roleIndex: 2 }, // ordinary_user
  { user: CAROL, roleIndex: 1 }, // banned
];
const coop = (actor: string, change: RoomChange, list = COOP, ctx?: CheckContext) => checkChange(COOPERATIVE_ROOM_POLICY, list, actor, change, ctx);

test('adding: banned users and participants cannot be added; target roles per authorized_role_changes', () => {
  assert.deepStrictEqual(coop(BOB, { kind: 'addParticipant', user: DAVE, role: 2 }), { ok: true });
  const banned = coop(ALICE, { kind: 'addParticipant', user: CAROL, role: 2 });
  assert.equal(denied(banned), 'canAddParticipant');
  assert.match(reason(banned), /banned/);
  assert.match(reason(coop(ALICE, { kind: 'addParticipant', user: BOB, role: 2 })), /already a participant/);
  assert.match(reason(coop(BOB, { kind: 'addParticipant', user: DAVE, role: 3 })), /may not move users from role 0 to role 3/);
  assert.deepStrictEqual(coop(ALICE, { kind: 'addParticipant', user: DAVE, role: 3 }), { ok: true });
  assert.match(reason(coop(ALICE, { kind: 'addParticipant', user: DAVE, role: 1 })), /ban/);
  assert.match(reason(coop(ALICE, { kind: 'addParticipant', user: ALICE, role: 2 })), /oneself/);
  assert.match(reason(coop(ALICE, { kind: 'addParticipant', user: DAVE, role: 9 })), /not defined/);
  // Outsiders act with role 0, which has nothing here.
  assert.equal(denied(coop(DAVE, { kind: 'addParticipant', user: ERIN, role: 2 })), 'canAddParticipant');
  // A banned user cannot join either.
  const openRoom: RoomPolicy = {
    roles: COOPERATIVE_ROOM_POLICY.roles.map((r) => (r.roleIndex === 0 ? { ...r, roleCapabilities: ['canOpenJoin'], maximumActiveParticipantsConstraint: undefined, authorizedRoleChanges: [{ fromRoleIndex: 0, targetRoleIndexes: [2] }] } : r)),
  };
  assert.deepStrictEqual(checkChange(openRoom, COOP, DAVE, { kind: 'join', via: 'openJoin', role: 2 }), { ok: true });
  assert.match(reason(checkChange(openRoom, COOP, CAROL, { kind: 'join', via: 'openJoin', role: 2 })), /banned/);
  assert.match(reason(checkChange(openRoom, COOP, DAVE, { kind: 'join', via: 'openJoin', role: 3 })), /may not move/);
});

test('removing and kicking: own role entries, minimums, self rules', () => {
  // Ordinary users remove ordinary users but not admins.
  const withDave = [...COOP, { user: DAVE, roleIndex: 2 }];
  assert.deepStrictEqual(coop(BOB, { kind: 'removeParticipant', user: DAVE }, withDave), { ok: true });
  assert.equal(denied(coop(BOB, { kind: 'removeParticipant', user: ALICE })), 'canRemoveParticipant');
  // Leaving is canRemoveSelf; the last group_admin cannot leave (minimum 1), a second one can.
  assert.deepStrictEqual(coop(BOB, { kind: 'removeParticipant', user: BOB }), { ok: true });
  const last = coop(ALICE, { kind: 'removeParticipant', user: ALICE });
  assert.equal(denied(last), 'canRemoveSelf');
  assert.match(reason(last), /at least 1 participant/);
  assert.deepStrictEqual(coop(ALICE, { kind: 'removeParticipant', user: ALICE }, [...COOP, { user: DAVE, roleIndex: 3 }]), { ok: true });
  assert.match(reason(coop(ALICE, { kind: 'removeParticipant', user: ERIN })), /not in the participant list/);
  // Admins may clean up banned users (1 -> 0).
  assert.deepStrictEqual(coop(ALICE, { kind: 'removeParticipant', user: CAROL }), { ok: true });
  // Kick: other participants with clients only.
  assert.deepStrictEqual(coop(ALICE, { kind: 'kick', user: BOB }), { ok: true });
  assert.equal(denied(coop(BOB, { kind: 'kick', user: ALICE })), 'canKick');
  assert.match(reason(coop(ALICE, { kind: 'kick', user: ALICE })), /canRemoveOwnClient/);
  assert.match(reason(coop(ALICE, { kind: 'kick', user: BOB }, COOP, { activeUsers: new Set([ALICE]) })), /no clients/);
  assert.match(reason(coop(ALICE, { kind: 'kick', user: CAROL })), /no clients/, 'banned users have no clients by default');
});

test('banning and unbanning: the "banned" role, transitions, self', () => {
  assert.deepStrictEqual(coop(ALICE, { kind: 'ban', user: BOB }), { ok: true });
  assert.deepStrictEqual(coop(ALICE, { kind: 'ban', user: DAVE }), { ok: true }, 'a non-participant can be banned pre-emptively (0 -> 1)');
  assert.equal(denied(coop(BOB, { kind: 'ban', user: ALICE })), 'canBan');
  assert.match(reason(coop(ALICE, { kind: 'ban', user: CAROL })), /already banned/);
  assert.match(reason(coop(ALICE, { kind: 'ban', user: ALICE })), /itself/);
  const renamed: RoomPolicy = { roles: COOPERATIVE_ROOM_POLICY.roles.map((r) => (r.roleIndex === BANNED_ROLE_INDEX ? { ...r, roleName: 'muted' } : r)) };
  assert.match(reason(checkChange(renamed, COOP, ALICE, { kind: 'ban', user: BOB })), /no role 1 named "banned"/);
  assert.match(reason(checkChange(renamed, COOP, ALICE, { kind: 'unban', user: CAROL, role: 2 })), /no role 1 named "banned"/);
  assert.deepStrictEqual(coop(ALICE, { kind: 'unban', user: CAROL, role: 2 }), { ok: true });
  assert.equal(denied(coop(BOB, { kind: 'unban', user: CAROL, role: 2 })), 'canUnBan');
  assert.match(reason(coop(ALICE, { kind: 'unban', user: BOB, role: 3 })), /not banned/);
  assert.match(reason(coop(ALICE, { kind: 'unban', user: CAROL, role: 0 })), /non-zero/);
  // The last group_admin cannot be banned by a super_admin either.
  const withSuper = [...COOP, { user: DAVE, roleIndex: 4 }];
  assert.match(reason(checkChange(COOPERATIVE_ROOM_POLICY, withSuper, DAVE, { kind: 'ban', user: ALICE })), /at least 1 participant/);
});

test('changing roles: authorized targets, own role, banned role keeps no clients', () => {
  assert.deepStrictEqual(coop(ALICE, { kind: 'changeRole', user: BOB, role: 3 }), { ok: true });
  assert.match(reason(coop(ALICE, { kind: 'changeRole', user: BOB, role: 4 })), /may not move users from role 2 to role 4/);
  assert.equal(denied(coop(BOB, { kind: 'changeRole', user: ALICE, role: 2 })), 'canChangeUserRole');
  assert.match(reason(coop(ALICE, { kind: 'changeRole', user: ALICE, role: 2 })), /canChangeOwnRole/);
  assert.match(reason(coop(ALICE, { kind: 'changeRole', user: BOB, role: 0 })), /removal/);
  assert.match(reason(coop(ALICE, { kind: 'changeRole', user: BOB, role: 2 })), /already has role 2/);
  assert.match(reason(coop(ALICE, { kind: 'changeRole', user: DAVE, role: 2 })), /not in the participant list/);
  // Moving an active user to "banned" by a plain role change breaks its maximum of 0 active participants.
  assert.match(reason(coop(ALICE, { kind: 'changeRole', user: BOB, role: 1 })), /at most 0 active/);
  assert.deepStrictEqual(coop(ALICE, { kind: 'changeRole', user: BOB, role: 1 }, COOP, { activeUsers: new Set([ALICE]) }), { ok: true });
  // canChangeOwnRole: moderated attendees hold it (the target comes from preauthorization).
  const mod = [
    { user: ALICE, roleIndex: 3 },
    { user: BOB, roleIndex: 5 },
  ];
  assert.deepStrictEqual(checkChange(MODERATED_ROOM_POLICY, mod, ALICE, { kind: 'changeOwnRole', role: 4 }), { ok: true });
  assert.match(reason(checkChange(MODERATED_ROOM_POLICY, mod, ALICE, { kind: 'changeOwnRole', role: 1 })), /not a preauthorized target/);
  assert.equal(denied(checkChange(MODERATED_ROOM_POLICY, mod, BOB, { kind: 'changeOwnRole', role: 4 })), 'canChangeOwnRole');
});

test('maximum and minimum constraints, participants and active participants', () => {
  const policy: RoomPolicy = {
    roles: [
      probeRole(1, 'banned', [], { maximumActiveParticipantsConstraint: 0, authorizedRoleChanges: [] }),
      probeRole(2, 'member', ['canAddParticipant', 'canKick', 'canRemoveOwnClient', 'canAddOwnClient'], {
        maximumParticipantsConstraint: 3,
        minimumActiveParticipantsConstraint: 1,
        maximumActiveParticipantsConstraint: 2,
      }),
      probeRole(3, 'other', []),
    ],
  };
  const two = [
    { user: ALICE, roleIndex: 2 },
    { user: BOB, roleIndex: 2 },
  ];
  // Max 2 active: a third member may join the list only without clients.
  assert.match(reason(checkChange(policy, two, ALICE, { kind: 'addParticipant', user: CAROL, role: 2 })), /at most 2 active/);
  assert.deepStrictEqual(checkChange(policy, two, ALICE, { kind: 'addParticipant', user: CAROL, role: 2, addClients: false }), { ok: true });
  // Max 3 in the list.
  const three = [...two, { user: CAROL, roleIndex: 2 }];
  const ctx = { activeUsers: new Set([ALICE]) };
  assert.match(reason(checkChange(policy, three, ALICE, { kind: 'addParticipant', user: DAVE, role: 2, addClients: false }, ctx)), /at most 3 participant/);
  // Min 1 active: the last active member cannot be kicked or drop its last client.
  assert.match(reason(checkChange(policy, two, ALICE, { kind: 'kick', user: BOB }, { activeUsers: new Set([BOB]) })), /at least 1 active/);
  assert.match(reason(checkChange(policy, two, ALICE, { kind: 'removeOwnClient', lastClient: true }, ctx)), /at least 1 active/);
  assert.deepStrictEqual(checkChange(policy, two, ALICE, { kind: 'removeOwnClient' }, ctx), { ok: true }, 'another client remains');
  assert.deepStrictEqual(checkChange(policy, two, ALICE, { kind: 'removeOwnClient', lastClient: true }), { ok: true }, 'Bob stays active');
  // Adding an own client: fine while under the active maximum, refused at it.
  assert.deepStrictEqual(checkChange(policy, two, BOB, { kind: 'addOwnClient' }, ctx), { ok: true });
  assert.match(reason(checkChange(policy, three, CAROL, { kind: 'addOwnClient' }, { activeUsers: new Set([ALICE, BOB]) })), /at most 2 active/);
  assert.deepStrictEqual(checkChange(policy, two, ALICE, { kind: 'addOwnClient' }), { ok: true }, 'already active: no change in count');
  assert.match(reason(checkChange(policy, two, ERIN, { kind: 'addOwnClient' })), /does not have canAddOwnClient/);
});

test('a cooperative room, step by step', () => {
  let list: UserRolePair[] = [{ user: ALICE, roleIndex: POLICY_PRESETS.cooperative.creatorRole }];
  const ok = (actor: string, change: RoomChange) => assert.deepStrictEqual(coop(actor, change, list), { ok: true }, `${actor} ${change.kind}`);
  ok(ALICE, { kind: 'addParticipant', user: BOB, role: 2 });
  list = [...list, { user: BOB, roleIndex: 2 }];
  ok(BOB, { kind: 'addParticipant', user: CAROL, role: 2 });
  list = [...list, { user: CAROL, roleIndex: 2 }];
  ok(BOB, { kind: 'sendMessage' });
  ok(BOB, { kind: 'changeMetadata', fields: ['roomName'] });
  ok(ALICE, { kind: 'ban', user: CAROL });
  list = list.map((p) => (p.user === CAROL ? { ...p, roleIndex: 1 } : p));
  assert.equal(denied(coop(CAROL, { kind: 'sendMessage' }, list)), 'canSendMessage');
  assert.match(reason(coop(BOB, { kind: 'addParticipant', user: CAROL, role: 2 }, list)), /banned/);
  assert.equal(denied(coop(BOB, { kind: 'unban', user: CAROL, role: 2 }, list)), 'canUnBan');
  assert.equal(denied(coop(BOB, { kind: 'use', capability: 'canDestroyRoom' }, list)), 'canDestroyRoom');
});
