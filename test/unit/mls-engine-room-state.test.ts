// The real MLS engine carrying the room state: GroupContext extensions in order, a commit that
// removes a member AND replaces the extensions (it has an UpdatePath: the case
// scripts/patch-ts-mls.mjs fixes), who committed, which removals were departures (own Remove
// proposal, the hub's external Remove) and what pendingRemovals() reports before the commit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMlsMessage,
  defaultAuthenticationService,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetime,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  encodeMlsMessage,
  generateKeyPackage,
  joinGroupExternal,
  type ClientConfig,
} from 'ts-mls';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { createMlsEngine } from '../helpers/mls-engine.js';
import { ciphersuiteFor } from '../../src-main/mls/crypto-selftest.js';
import { MlsError, type CommitOutput, type GroupSession, type Incoming, type MlsEngine } from '../../src-main/mls/engine.js';
import { roomStateExtension, withMetadata, withoutParticipants, withRoomState, readRoomState } from '../../src-main/core/room-view.js';
import { initialRoomState, ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import { externalRemoveProposal } from '../../src-shared/external-proposal.js';
import { basicCredential } from '../../src-shared/mls-structs.js';
import { encodeExternalSenders } from '../../src-shared/mls-extensions.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { fromUtf8, utf8 } from '../../src-shared/bytes.js';

const ROOM = 'mimi://a.example/r/lunch';
const ALICE = 'mimi://a.example/d/alice/1';
const BOB = 'mimi://b.example/d/bob/1';
const CAROL = 'mimi://a.example/d/carol/1';
const ERIN = 'mimi://a.example/d/erin/1';
const EXTERNAL_SENDERS = 5;

type Ext = { type: number; data: Uint8Array };
type Commit = Extract<Incoming, { kind: 'commit' }>;

const baseState: RoomState = {
  ...initialRoomState({ roomUri: ROOM, creator: 'mimi://a.example/u/alice', roomName: 'Lunch' }),
};
baseState.participants = [
  { user: 'mimi://a.example/u/alice', roleIndex: 3 },
  { user: 'mimi://b.example/u/bob', roleIndex: 2 },
  { user: 'mimi://a.example/u/carol', roleIndex: 2 },
];

/** alice, bob and carol in a group whose context is [external_senders (the hub), room state]. */
async function groupOfThree(engine: MlsEngine) {
  const hub = generateSignatureKeyPair();
  // RFC 9420 form (external_senders<V>), what the engine writes for a new group.
  const senders: Ext = { type: EXTERNAL_SENDERS, data: encodeExternalSenders([{ signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') }]) };
  const extensions = [senders, roomStateExtension(baseState)];
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
  const a0 = await engine.createGroup(alice, ROOM, extensions);
  const kps = await Promise.all([bob, carol].map(async (k) => (await engine.generateKeyPackages(k, 1))[0]));
  const out = await a0.add(kps.map((k) => k.publicMessage));
  const b = await engine.joinFromWelcome(bob, out.welcome!, kps[0], out.ratchetTree);
  const c = await engine.joinFromWelcome(carol, out.welcome!, kps[1], out.ratchetTree);
  return { a: out.pending, b, c, hub, extensions };
}

async function processCommit(s: GroupSession, out: CommitOutput): Promise<{ session: GroupSession; result: Commit }> {
  const { session, result } = await s.process(out.commit);
  assert.equal(result.kind, 'commit');
  return { session, result: result as Commit };
}

async function processProposals(s: GroupSession, proposals: Uint8Array[]): Promise<GroupSession> {
  for (const p of proposals) {
    const r = await s.process(p);
    assert.equal(r.result.kind, 'proposal');
    s = r.session;
  }
  return s;
}

/** Both directions of an application message: the two sessions share the new epoch's keys. */
async function talk(x: GroupSession, y: GroupSession): Promise<void> {
  const m1 = await x.encrypt(utf8('ping'));
  const r1 = await y.process(m1.message);
  assert.equal(r1.result.kind === 'application' && fromUtf8(r1.result.plaintext), 'ping');
  const m2 = await r1.session.encrypt(utf8('pong'));
  const r2 = await m1.session.process(m2.message);
  assert.equal(r2.result.kind === 'application' && fromUtf8(r2.result.plaintext), 'pong');
}

const CAPABILITIES_WITH_ROOM_STATE = {
  versions: ['mls10' as const],
  ciphersuites: ['MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const],
  extensions: [ROOM_STATE_EXTENSION_TYPE],
  proposals: [],
  credentials: ['basic' as const],
};

/**
 * An external commit by `joiner` whose "resync" Remove takes out the leaf of `victim` instead of
 * the joiner's own: ts-mls picks the leaf with the key-package comparison we hand it, and its
 * receivers do not tie that Remove to the joiner's identity.
 */
async function externalCommitRemoving(provider: 'webcrypto' | 'noble', member: GroupSession, joiner: string, victim: string): Promise<Uint8Array> {
  const impl = await ciphersuiteFor(provider);
  const { groupInfo, ratchetTree } = await member.groupInfo();
  const gi = decodeMlsMessage(groupInfo, 0)![0];
  assert.ok(gi.wireformat === 'mls_group_info');
  const tree = decodeRatchetTree(ratchetTree, 0)![0];
  const victimLeaf = member.members().find((m) => m.identity === victim)!.leafIndex;
  const victimNode = tree[victimLeaf * 2];
  assert.ok(victimNode?.nodeType === 'leaf');
  const victimKey = victimNode.leaf.signaturePublicKey;
  const config: ClientConfig = {
    keyRetentionConfig: defaultKeyRetentionConfig,
    lifetimeConfig: defaultLifetimeConfig,
    paddingConfig: defaultPaddingConfig,
    authService: defaultAuthenticationService,
    keyPackageEqualityConfig: {
      ...defaultKeyPackageEqualityConfig,
      compareKeyPackageToLeafNode: (_kp, leaf) => leaf.signaturePublicKey.length === victimKey.length && leaf.signaturePublicKey.every((b, i) => b === victimKey[i]),
    },
  };
  const kp = await generateKeyPackage({ credentialType: 'basic', identity: utf8(joiner) }, CAPABILITIES_WITH_ROOM_STATE, defaultLifetime, [], impl);
  const { publicMessage } = await joinGroupExternal(gi.groupInfo, kp.publicPackage, kp.privatePackage, true, impl, tree, config);
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage });
}

const carolGone = (exts: Ext[]): Ext[] => withRoomState(exts, withoutParticipants(baseState, new Set(['mimi://a.example/u/carol'])));

for (const provider of ['webcrypto', 'noble'] as const) {
  test(`[${provider}] extensions() returns the GroupContext extensions in order, for creator and joiners`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    const { a, b, c, extensions } = await groupOfThree(engine);
    for (const s of [a, b, c]) assert.deepEqual(s.extensions(), extensions);
    assert.deepEqual(readRoomState(b.extensions()), baseState);
  });

  test(`[${provider}] a Remove together with new extensions (UpdatePath + GCE) is processed by the others`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    const { a, b, c, extensions } = await groupOfThree(engine);
    const changed = withRoomState(extensions, withMetadata(withoutParticipants(baseState, new Set(['mimi://a.example/u/carol'])), { name: 'Dinner' }));
    const out = await a.commitChanges({ remove: [CAROL], extensions: changed });
    // The commit has an UpdatePath (a Remove requires one): without the ts-mls patch bob could not decrypt it.
    const wire = decodeMlsMessage(out.commit, 0)![0];
    assert.ok(wire.wireformat === 'mls_public_message' && wire.publicMessage.content.contentType === 'commit');
    assert.ok(wire.publicMessage.content.commit.path, 'the commit carries an UpdatePath');

    const bob = await processCommit(b, out);
    assert.equal(bob.result.epoch, out.newEpoch);
    assert.equal(bob.session.epoch, out.pending.epoch);
    assert.deepEqual(bob.result.removed, [CAROL]);
    assert.equal(bob.result.committer, ALICE);
    assert.deepEqual(bob.result.departed, [], 'a by-value Remove is not a departure');
    assert.deepEqual(bob.session.extensions(), changed);
    assert.deepEqual(out.pending.extensions(), changed);
    assert.equal(readRoomState(bob.session.extensions())!.metadata.roomName, 'Dinner');
    assert.equal(bob.session.extensions()[0].type, EXTERNAL_SENDERS, 'external_senders stays first');
    await talk(out.pending, bob.session);

    const carol = await processCommit(c, out);
    assert.equal(carol.result.selfRemoved, true);
    assert.equal(carol.result.committer, ALICE);
  });

  test(`[${provider}] a member's own Remove proposal is a departure`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    let { a, b, c, extensions } = await groupOfThree(engine);
    const left = await c.proposeRemove([CAROL]);
    assert.equal(left.proposals.length, 1);
    assert.equal(left.session.pendingRemovesSelf(), true);
    a = await processProposals(a, left.proposals);
    b = await processProposals(b, left.proposals);
    assert.deepEqual(a.pendingRemovals(), [{ identity: CAROL, departed: true, byHub: false }]);
    assert.deepEqual(b.pendingRemovals(), [{ identity: CAROL, departed: true, byHub: false }]);

    // Naming carol in `remove` too must not add a second Remove of her leaf.
    const changed = carolGone(extensions);
    const out = await a.commitChanges({ remove: [CAROL], extensions: changed });
    const bob = await processCommit(b, out);
    assert.deepEqual(bob.result.removed, [CAROL]);
    assert.deepEqual(bob.result.departed, [CAROL]);
    assert.deepEqual(bob.result.removedByHub, []);
    assert.equal(bob.result.committer, ALICE);
    assert.deepEqual(bob.session.extensions(), changed);
    assert.deepEqual(bob.session.pendingRemovals(), []);
    await talk(out.pending, bob.session);
  });

  test(`[${provider}] a Remove proposed by another user is not a departure`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    let { a, b } = await groupOfThree(engine);
    const proposed = await b.proposeRemove([CAROL]);
    a = await processProposals(a, proposed.proposals);
    assert.deepEqual(a.pendingRemovals(), [{ identity: CAROL, departed: false, byHub: false }]);
    const out = await a.update();
    const bob = await processCommit(proposed.session, out);
    assert.deepEqual(bob.result.removed, [CAROL]);
    assert.deepEqual(bob.result.departed, []);
  });

  test(`[${provider}] the hub's external Remove proposal is a departure`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    let { a, b, hub, extensions } = await groupOfThree(engine);
    const carolLeaf = a.members().find((m) => m.identity === CAROL)!.leafIndex;
    const proposal = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: carolLeaf, signingKey: hub.privateKey });
    a = await processProposals(a, [proposal]);
    b = await processProposals(b, [proposal]);
    assert.deepEqual(a.pendingRemovals(), [{ identity: CAROL, departed: true, byHub: true }]);

    // Bob commits this time, so `committer` is not just "the group's creator".
    const changed = carolGone(extensions);
    const out = await b.commitChanges({ extensions: changed });
    const alice = await processCommit(a, out);
    assert.equal(alice.result.committer, BOB);
    assert.deepEqual(alice.result.removed, [CAROL]);
    assert.deepEqual(alice.result.departed, [CAROL]);
    assert.deepEqual(alice.result.removedByHub, [CAROL]);
    assert.deepEqual(alice.session.extensions(), changed);
    assert.deepEqual(alice.session.members().map((m) => m.identity), [ALICE, BOB]);
  });

  test(`[${provider}] a KeyPackage whose capabilities lack 0xF006 cannot be added`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    const { a } = await groupOfThree(engine);
    const impl = await ciphersuiteFor(provider);
    // ts-mls's own defaults: a valid KeyPackage that lists no private-use extension.
    const kp = await generateKeyPackage(
      { credentialType: 'basic', identity: utf8(ERIN) },
      { versions: ['mls10'], ciphersuites: ['MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'], extensions: [], proposals: [], credentials: ['basic'] },
      defaultLifetime,
      [],
      impl,
    );
    const message = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: kp.publicPackage });
    assert.equal(engine.keyPackageIdentity(message), ERIN);
    await assert.rejects(a.add([message]), (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /extension/.test(e.message));
    await assert.rejects(
      a.commitChanges({ add: [message], extensions: a.extensions() }),
      (e: unknown) => e instanceof MlsError && e.code === 'invalid',
    );
    // The same KeyPackage is fine in a group without the room state: 0xF006 is what it lacks.
    const plain = await engine.createGroup(await engine.newDeviceKeys(ALICE), 'mimi://a.example/r/plain', [a.extensions()[0]]);
    const ok = await plain.add([message]);
    assert.deepEqual(ok.pending.members().map((m) => m.identity), [ALICE, ERIN]);
    // An engine KeyPackage lists 0xF006.
    const own = (await engine.generateKeyPackages(await engine.newDeviceKeys(ERIN), 1))[0];
    const decoded = decodeMlsMessage(own.publicMessage, 0)![0];
    assert.ok(decoded.wireformat === 'mls_key_package' && decoded.keyPackage.leafNode.capabilities.extensions.includes(ROOM_STATE_EXTENSION_TYPE));
  });

  test(`[${provider}] an external commit's Remove is the joiner's: its own old device departs, another user's does not`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    const { a } = await groupOfThree(engine);

    // bob's new device replaces his old one in its external commit, as a resync would.
    const resync = await externalCommitRemoving(provider, a, 'mimi://b.example/d/bob/2', BOB);
    const own = (await a.process(resync)).result as Commit;
    assert.equal(own.kind, 'commit');
    assert.equal(own.committer, 'mimi://b.example/d/bob/2');
    assert.deepEqual(own.removed, [BOB]);
    assert.deepEqual(own.departed, [BOB], "bob's new device removing bob's old one: bob's own departure");

    // The same construction aimed at carol's leaf: removed, but not a departure (it would be a kick).
    const hostile = await externalCommitRemoving(provider, a, 'mimi://b.example/d/bob/2', CAROL);
    const other = (await a.process(hostile)).result as Commit;
    assert.equal(other.kind, 'commit');
    assert.deepEqual(other.removed, [CAROL]);
    assert.deepEqual(other.departed, [], "an external joiner cannot make another user's removal a departure");
  });
}
