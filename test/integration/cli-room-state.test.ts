// The `mimi` room state commands across two provider processes (consent required): alice@a's
// room with bob@b; what one may do follows the roles in the room's policy, a refusal names the
// missing capability, and both members print the same room state once bob has caught up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { startFederation } from '../helpers/federation.js';
import { mimi, register, type Run } from '../helpers/mimi-cli.js';
import { tempDir } from '../helpers/provider-process.js';

interface Participant {
  user: string;
  roleIndex: number;
  roleName: string;
  active: boolean;
}
interface StateDoc {
  roomUri: string;
  managed: boolean;
  metadata: { name: string; description: string; avatar: string; subject: string };
  participants: Participant[];
  roles: { roleIndex: number; roleName: string; capabilities: string[] }[];
  encoded: { participantList: string; roomMetadata: string; rolesList: string } | null;
}

const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const COOPERATIVE_ROLES = ['no_role', 'banned', 'ordinary_user', 'group_admin', 'super_admin', 'policy_enforcer'];

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c().catch(() => undefined);
});

const ok = (r: Run, what: string): Run => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r;
};

let alice: string;
let bob: string;
let room: string;

const as = (dir: string, ...args: string[]) => mimi(['--profile', dir, ...args]);

async function roomState(dir: string, ref = room): Promise<StateDoc> {
  return JSON.parse(ok(await as(dir, 'room-state', ref), `room-state ${path.basename(path.dirname(dir))}`).stdout) as StateDoc;
}

/** What every member derives from the group context (no per-device view). */
const agreed = (d: StateDoc) => ({ metadata: d.metadata, participants: d.participants, roles: d.roles, encoded: d.encoded });

/**
 * bob's client processes alice's commits when it next runs after they reached b.example, which
 * the hub forwards asynchronously: run room-state until bob's equals alice's.
 */
async function bobAgrees(what: string): Promise<StateDoc> {
  const want = agreed(await roomState(alice));
  return until(bob, (d) => isDeepStrictEqual(agreed(d), want), `${what}: bob's room-state equals alice's`);
}

async function until(dir: string, pred: (d: StateDoc) => boolean, what: string): Promise<StateDoc> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await as(dir, 'room-state', room);
    // Until its Welcome has been processed the room is unknown there: keep asking.
    const got = r.code === 0 ? (JSON.parse(r.stdout) as StateDoc) : undefined;
    if (got && pred(got)) return got;
    if (Date.now() > deadline) assert.fail(`${what}: not within 30 s; last: ${r.code === 0 ? r.stdout : r.stderr}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

const member = (d: StateDoc, user: string) => {
  const p = d.participants.find((x) => x.user === user);
  assert.ok(p, `${user} on the participant list of ${JSON.stringify(d.participants)}`);
  return { roleIndex: p.roleIndex, roleName: p.roleName, active: p.active };
};

before(async () => {
  const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  closers.push(() => f['a.example'].stop(), () => f['b.example'].stop(), () => f.links['a.example'].close(), () => f.links['b.example'].close());
  alice = path.join(tempDir('cli-rs-a'), 'p');
  bob = path.join(tempDir('cli-rs-b'), 'p');
  ok(await register(alice, f['a.example'], 'alice'), 'register alice');
  ok(await register(bob, f['b.example'], 'bob'), 'register bob');
  // For every room: the test adds bob again after kick and unban.
  ok(await as(bob, 'consent', 'grant', 'alice@a.example'), 'grant');
  room = ok(await as(alice, 'create-room', 'state'), 'create-room').stdout.trim();
  ok(await as(alice, 'add', room, 'bob@b.example'), 'add bob');
});

test('a cooperative room by default: creator group_admin, added user ordinary_user, same state on both sides', async () => {
  const b = await bobAgrees('after add');
  assert.equal(b.roomUri, room);
  assert.equal(b.managed, true);
  assert.equal(b.metadata.name, 'state');
  assert.deepEqual(b.roles.map((r) => r.roleName), COOPERATIVE_ROLES);
  assert.deepEqual(b.roles.map((r) => r.roleIndex), [0, 1, 2, 3, 4, 5]);
  assert.ok(b.roles[3].capabilities.includes('canBan'));
  assert.ok(!b.roles[2].capabilities.includes('canBan'));
  assert.deepEqual(member(b, ALICE), { roleIndex: 3, roleName: 'group_admin', active: true });
  assert.deepEqual(member(b, BOB), { roleIndex: 2, roleName: 'ordinary_user', active: true });
  assert.ok(b.encoded);
  for (const hex of Object.values(b.encoded)) assert.match(hex, /^([0-9a-f]{2})+$/);
});

test('an ordinary_user is refused what the role lacks, naming the capability; nothing changes', async () => {
  const before = agreed(await roomState(alice));
  const ban = await as(bob, 'ban', room, 'alice@a.example');
  assert.equal(ban.code, 1, ban.stderr);
  assert.match(ban.stderr, /canBan/);
  assert.equal(ban.stdout, '');
  const describe = await as(bob, 'room-set', room, '--description', 'mine now');
  assert.equal(describe.code, 1, describe.stderr);
  assert.match(describe.stderr, /canChangeRoomDescription/);
  assert.deepEqual(agreed(await roomState(alice)), before);
  assert.deepEqual(agreed(await roomState(bob)), before);
});

test('role by name and by index, USER as address or URI; the new role takes effect for bob', async () => {
  ok(await as(alice, 'role', room, 'bob@b.example', 'group_admin'), 'role by name');
  assert.deepEqual(member(await bobAgrees('after role by name'), BOB), { roleIndex: 3, roleName: 'group_admin', active: true });
  ok(await as(alice, 'role', room, BOB, '2'), 'role by index');
  assert.deepEqual(member(await bobAgrees('after role by index'), BOB), { roleIndex: 2, roleName: 'ordinary_user', active: true });
  const unknownRole = await as(alice, 'role', room, BOB, 'emperor');
  assert.equal(unknownRole.code, 1);
  assert.match(unknownRole.stderr, /emperor/);
  ok(await as(alice, 'role', room, BOB, 'group_admin'), 'role back to group_admin');
  await bobAgrees('after role back');
  // As group_admin bob has canChangeRoomDescription, which he was refused above.
  ok(await as(bob, 'room-set', room, '--description', 'where we agree'), 'room-set by bob');
  await until(alice, (d) => d.metadata.description === 'where we agree', "bob's description at alice's");
});

test('room-set changes only the fields given, and bob sees them', async () => {
  ok(await as(alice, 'room-set', room, '--name', 'renamed', '--subject', 'lunch', '--avatar', 'https://a.example/r.png'), 'room-set');
  const b = await bobAgrees('after room-set');
  assert.deepEqual(b.metadata, { name: 'renamed', description: 'where we agree', avatar: 'https://a.example/r.png', subject: 'lunch' });
  ok(await as(alice, 'room-set', room, '--avatar', ''), 'clear avatar');
  assert.equal((await bobAgrees('after clearing the avatar')).metadata.avatar, '');
  const usage = await as(alice, 'room-set', room);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--name/);
  const http = await as(alice, 'room-set', room, '--avatar', 'http://a.example/r.png');
  assert.equal(http.code, 2);
  assert.match(http.stderr, /https/);
});

test('kick removes the clients but keeps the role; the user can be added back', async () => {
  ok(await as(alice, 'kick', room, 'bob@b.example'), 'kick');
  const a = await roomState(alice);
  assert.deepEqual(member(a, BOB), { roleIndex: 3, roleName: 'group_admin', active: false });
  assert.deepEqual(member(a, ALICE), { roleIndex: 3, roleName: 'group_admin', active: true });
  ok(await as(alice, 'add', room, 'bob@b.example'), 'add after kick');
  assert.equal(member(await bobAgrees('after add after kick'), BOB).active, true);
});

test('ban: role 1 "banned", no clients, cannot be added; unban lets alice add him again', async () => {
  ok(await as(alice, 'ban', room, BOB), 'ban');
  const banned = await roomState(alice);
  assert.deepEqual(member(banned, BOB), { roleIndex: 1, roleName: 'banned', active: false });
  const readd = await as(alice, 'add', room, 'bob@b.example');
  assert.equal(readd.code, 1, 'a banned user cannot be added');
  assert.match(readd.stderr, /banned.*unban/);
  assert.deepEqual(agreed(await roomState(alice)), agreed(banned));
  ok(await as(alice, 'unban', room, 'bob@b.example'), 'unban');
  const unbanned = member(await roomState(alice), BOB);
  assert.notEqual(unbanned.roleIndex, 1);
  assert.equal(unbanned.active, false);
  ok(await as(alice, 'add', room, 'bob@b.example'), 'add after unban');
  const b = await bobAgrees('after add after unban');
  assert.deepEqual(member(b, BOB), { roleIndex: 2, roleName: 'ordinary_user', active: true });
});

test('join by the room link after a kick; remove takes bob off the list, and then the link is refused', async () => {
  ok(await as(alice, 'kick', room, 'bob@b.example'), 'kick');
  await until(bob, (d) => !member(d, BOB).active, 'bob sees the kick');
  assert.equal(ok(await as(bob, 'join', room), 'join after kick').stdout.trim(), room);
  assert.equal(member(await bobAgrees('after join'), BOB).active, true);

  ok(await as(alice, 'remove', room, 'bob@b.example'), 'remove');
  const a = await roomState(alice);
  assert.equal(a.participants.some((p) => p.user === BOB), false, 'bob is off the list');
  const refused = await as(bob, 'join', room);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Only participants can join/);
  ok(await as(alice, 'add', room, 'bob@b.example'), 'add after remove');
  assert.equal(member(await bobAgrees('after add after remove'), BOB).active, true);
});

test('create-room --preset moderated: the moderated roles, creator super_admin', async () => {
  const stage = ok(await as(alice, 'create-room', 'stage', '--preset', 'moderated'), 'create moderated').stdout.trim();
  const s = await roomState(alice, stage);
  assert.deepEqual(s.roles.map((r) => r.roleName), ['no_role', 'banned', 'guest', 'attendee', 'speaker', 'moderator', 'super_admin', 'policy_enforcer']);
  assert.deepEqual(s.participants, [{ user: ALICE, roleIndex: 6, roleName: 'super_admin', active: true }]);
  // By name, like every ROOM argument.
  assert.deepEqual(await roomState(alice, 'stage'), s);
  assert.deepEqual((await roomState(alice)).roles.map((r) => r.roleName), COOPERATIVE_ROLES);
  const bad = await as(alice, 'create-room', 'nope', '--preset', 'anarchy');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--preset must be one of cooperative, moderated/);
});
