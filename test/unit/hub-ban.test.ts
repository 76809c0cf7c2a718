// The hub's ban (src-provider/hub/bans.ts, src-shared/room-commit.ts `stateByHub`): the room state
// change the hub proposes as external sender, checked as made in the room's policy_enforcer role;
// and the proposal itself against the real MLS engine, committed by reference, with the
// ProposalRef the hub computes being the one the commit carries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCommit, HUB_ACTOR, type CommitFacts } from '../../src-shared/room-commit.js';
import { initialRoomState, RoomStateError, type RoomState } from '../../src-shared/room-state.js';
import { BANNED_ROLE_INDEX, type CheckResult } from '../../src-shared/room-policy.js';
import { checkHubBan, withBans } from '../../src-provider/hub/bans.js';
import { externalGroupContextExtensionsProposal, externalRemoveProposal } from '../../src-shared/external-proposal.js';
import { basicCredential, commitSummary, encodeExternalSender, proposalRef } from '../../src-shared/mls-structs.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { DeviceKeys, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { readRoomState, withRoomState, roomStateExtension } from '../../src-main/core/room-view.js';

const ROOM = 'mimi://a.example/r/ban';
const user = (h: string): string => `mimi://a.example/u/${h}`;
const dev = (h: string, n = 1): string => `mimi://a.example/d/${h}/${n}`;
const ALICE = user('alice');
const BOB = user('bob');
const CAROL = user('carol');
// Cooperative roles: 1 banned, 2 ordinary_user, 3 group_admin, 5 policy_enforcer.
const denied = (r: CheckResult): string | undefined => (r.ok ? undefined : r.denied);

function coop(list: [string, number][]): RoomState {
  const s = initialRoomState({ roomUri: ROOM, creator: ALICE, roomName: 'Ban', preset: 'cooperative' });
  return { ...s, participants: list.map(([u, roleIndex]) => ({ user: u, roleIndex })) };
}

const before = coop([
  [ALICE, 3],
  [BOB, 2],
  [CAROL, 2],
]);
const devices = [dev('alice'), dev('bob'), dev('bob', 2), dev('carol')];
const banBob: CommitFacts = {
  before,
  after: withBans(before, [BOB]),
  committer: CAROL,
  devicesBefore: devices,
  devicesAfter: [dev('alice'), dev('carol')],
  departed: new Set([dev('bob'), dev('bob', 2)]),
  removedByHub: new Set([dev('bob'), dev('bob', 2)]),
  stateByHub: true,
};

test("the hub's ban, committed by an ordinary member, passes as the policy_enforcer's", () => {
  assert.deepEqual(checkCommit(banBob), { ok: true });
  // The same list change as the committer's own is refused: an ordinary user cannot ban.
  assert.equal(denied(checkCommit({ ...banBob, stateByHub: false })), 'canBan');
  // A ban of someone not on the list (0 -> 1) too, and a ban needs no Removes when nobody has clients.
  const dave = user('dave');
  assert.deepEqual(checkCommit({ ...banBob, after: withBans(before, [dave]), devicesAfter: devices, departed: new Set(), removedByHub: new Set() }), { ok: true });
  assert.equal(withBans(before, [dave]).participants.at(-1)?.roleIndex, BANNED_ROLE_INDEX);
});

test('the hub can only ban: adding someone, changing the name or the roles is refused', () => {
  const added = { ...before, participants: [...before.participants, { user: user('eve'), roleIndex: 2 }] };
  assert.equal(denied(checkCommit({ ...banBob, after: added, devicesAfter: devices, departed: new Set(), removedByHub: new Set() })), 'canAddParticipant');
  const renamed = { ...before, metadata: { ...before.metadata, roomName: 'Hijacked' } };
  assert.throws(() => checkCommit({ ...banBob, after: renamed, devicesAfter: devices, departed: new Set(), removedByHub: new Set() }), (e) => e instanceof RoomStateError && /participant list only/.test(e.message));
  // A banned user keeping clients is refused whoever bans.
  assert.throws(() => checkCommit({ ...banBob, devicesAfter: devices, departed: new Set(), removedByHub: new Set() }), /banned and cannot have clients/);
});

test("a room without a policy_enforcer role gives the hub nothing to act in; the role's constraints hold", () => {
  const noEnforcer: RoomState = { ...before, policy: { roles: before.policy.roles.filter((r) => r.roleName !== 'policy_enforcer') } };
  assert.equal(denied(checkCommit({ ...banBob, before: noEnforcer, after: withBans(noEnforcer, [BOB]) })), 'canBan');
  assert.equal(denied(checkHubBan(noEnforcer, [BOB])), 'canBan');
  assert.deepEqual(checkHubBan(before, [BOB]), { ok: true });
  // The last group_admin cannot be banned: the role needs at least one participant.
  const r = checkHubBan(before, [ALICE]);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /at least 1/);
  assert.ok(!before.participants.some((p) => p.user === HUB_ACTOR));
});

const EXTERNAL_SENDERS = 5;

test("the hub's GroupContextExtensions proposal: accepted, committed by reference with the hub's ProposalRef, reported as the hub's", async () => {
  const engine: MlsEngine = await createMlsEngine();
  const hub = generateSignatureKeyPair();
  const [alice, bob, carol] = await Promise.all([dev('alice'), dev('bob'), dev('carol')].map((id) => engine.newDeviceKeys(id)));
  const es = encodeExternalSender({ signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') });
  const start = coop([[ALICE, 3]]);
  const create = engine as MlsEngine & { createGroup(k: DeviceKeys, g: string, e: { type: number; data: Uint8Array }[]): Promise<GroupSession> };
  let a = await create.createGroup(alice, ROOM, [{ type: EXTERNAL_SENDERS, data: es }, roomStateExtension(start)]);
  const kps = await Promise.all([bob, carol].map(async (k) => (await engine.generateKeyPackages(k, 1))[0]));
  const listed = coop([
    [ALICE, 3],
    [BOB, 2],
    [CAROL, 2],
  ]);
  const out = await a.commitChanges({ add: kps.map((k) => k.publicMessage), extensions: withRoomState(a.extensions(), listed) });
  a = out.pending;
  let c = await engine.joinFromWelcome(carol, out.welcome!, kps[1], out.ratchetTree);
  const bobLeaf = a.members().find((m) => m.identity === dev('bob'))!.leafIndex;

  const banned = withBans(listed, [BOB]);
  const gce = externalGroupContextExtensionsProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, extensions: withRoomState(a.extensions(), banned), signingKey: hub.privateKey });
  const remove = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: bobLeaf, signingKey: hub.privateKey });
  for (const p of [gce, remove]) {
    const r = await c.process(p);
    assert.equal(r.result.kind, 'proposal');
    c = r.session;
    a = (await a.process(p)).session;
  }
  assert.deepEqual(readRoomState(c.pendingHubExtensions()!), banned);
  const commit = await c.update();
  const refs = commitSummary(commit.commit).refs;
  assert.equal(refs.length, 2);
  assert.ok(refs.some((r) => Buffer.from(r).equals(Buffer.from(proposalRef(gce)))), "the commit carries the hub's ProposalRef");
  assert.ok(refs.some((r) => Buffer.from(r).equals(Buffer.from(proposalRef(remove)))));
  const got = await a.process(commit.commit);
  assert.equal(got.result.kind, 'commit');
  if (got.result.kind !== 'commit') return;
  assert.deepEqual(readRoomState(got.result.hubExtensions!), banned);
  assert.deepEqual(got.result.removedByHub, [dev('bob')]);
  assert.deepEqual(readRoomState(got.session.extensions()), banned);
  assert.equal(a.pendingHubExtensions() !== undefined, true);
  assert.equal(got.session.pendingHubExtensions(), undefined);
});


test("a member's proposal (with its membership tag) has the ProposalRef a commit names it by", async () => {
  const engine: MlsEngine = await createMlsEngine();
  const [alice, bob] = await Promise.all([dev('alice'), dev('bob')].map((id) => engine.newDeviceKeys(id)));
  const create = engine as MlsEngine & { createGroup(k: DeviceKeys, g: string, e: { type: number; data: Uint8Array }[]): Promise<GroupSession> };
  let a = await create.createGroup(alice, ROOM, []);
  const [kp] = await engine.generateKeyPackages(bob, 1);
  const out = await a.add([kp.publicMessage]);
  a = out.pending;
  const b = await engine.joinFromWelcome(bob, out.welcome!, kp, out.ratchetTree);
  const { proposals } = await b.proposeRemove([dev('bob')]);
  assert.equal(proposals.length, 1);
  a = (await a.process(proposals[0])).session;
  const commit = await a.update();
  const refs = commitSummary(commit.commit).refs;
  assert.deepEqual(refs.map((r) => Buffer.from(r).toString('hex')), [Buffer.from(proposalRef(proposals[0])).toString('hex')]);
  assert.throws(() => proposalRef(commit.commit), /ProposalRef is of a proposal/);
});
