// commitGroupContextExtensions (src-shared/mls-structs.ts): what a hub without group keys reads
// from a PublicMessage Commit to hold its GroupInfo to the extensions it really sets. Real commits
// from the engine (every kind the app sends), then hand-built ones for framings the engine never
// produces, then everything that is not a commit, and every truncation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { roomStateExtension, withMetadata } from '../../src-main/core/room-view.js';
import { initialRoomState, ROOM_STATE_EXTENSION_TYPE } from '../../src-shared/room-state.js';
import { basicCredential, commitGroupContextExtensions, commitSummary, proposalRef, type Extension } from '../../src-shared/mls-structs.js';
import { encodeExternalSenders } from '../../src-shared/mls-extensions.js';
import { externalRemoveProposal } from '../../src-shared/external-proposal.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { MlsWireError } from '../../src-shared/mls-wire.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { utf8 } from '../../src-shared/bytes.js';

const ROOM = 'mimi://a.example/r/lunch';
const ALICE = 'mimi://a.example/d/alice/1';
const BOB = 'mimi://b.example/d/bob/1';
const CAROL = 'mimi://a.example/d/carol/1';
const DAVE = 'mimi://a.example/d/dave/1';

type Ext = { type: number; data: Uint8Array };

const state = initialRoomState({ roomUri: ROOM, creator: 'mimi://a.example/u/alice', roomName: 'Lunch' });
const hub = generateSignatureKeyPair();
// RFC 9420 form (external_senders<V>), what the engine writes for a new group.
const senders: Ext = { type: 5, data: encodeExternalSenders([{ signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') }]) };
const initial: Ext[] = [senders, roomStateExtension(state)];
const renamed: Ext[] = [senders, roomStateExtension(withMetadata(state, { name: 'Dinner' }))];

const plain = (list: Extension[] | undefined): Ext[] | undefined => list?.map((e) => ({ type: e.extensionType, data: e.extensionData }));

function isWireError(e: unknown): boolean {
  assert.ok(e instanceof MlsWireError, `expected MlsWireError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  return true;
}

/** Every proper prefix, and one byte too many, is refused with MlsWireError (never a RangeError). */
function assertStrictFraming(message: Uint8Array, what: string): void {
  for (let n = 0; n < message.length; n++) {
    assert.throws(() => commitGroupContextExtensions(message.slice(0, n)), isWireError, `${what} cut to ${n} of ${message.length} bytes`);
  }
  const longer = new Uint8Array(message.length + 1);
  longer.set(message);
  assert.throws(() => commitGroupContextExtensions(longer), isWireError, `${what} with a trailing byte`);
}

interface Fixture {
  engine: MlsEngine;
  a: GroupSession;
  b: GroupSession;
  c: GroupSession;
  welcome: Uint8Array;
  keyPackage: Uint8Array;
}

let fixture: Promise<Fixture> | undefined;
/** One group of three for the whole file (commits are built from it without adopting them). */
function group(): Promise<Fixture> {
  fixture ??= (async () => {
    const engine = await createMlsEngine();
    const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
    const a0 = await engine.createGroup(alice, ROOM, initial);
    const kps = await Promise.all([bob, carol].map(async (k) => (await engine.generateKeyPackages(k, 1))[0]));
    const out = await a0.add(kps.map((k) => k.publicMessage));
    const b = await engine.joinFromWelcome(bob, out.welcome!, kps[0], out.ratchetTree);
    const c = await engine.joinFromWelcome(carol, out.welcome!, kps[1], out.ratchetTree);
    const dave = (await engine.generateKeyPackages(await engine.newDeviceKeys(DAVE), 1))[0];
    return { engine, a: out.pending, b, c, welcome: out.welcome!, keyPackage: dave.publicMessage };
  })();
  return fixture;
}

// ---------------------------------------------------------------------------------------------
// Real commits

test('commitSummary: by-value Removes (leaf indexes), Adds (KeyPackages), the GCE, and references', async () => {
  const { a, c, keyPackage } = await group();
  const carolLeaf = a.members().find((m) => m.identity === CAROL)!.leafIndex;
  const both = await a.commitChanges({ add: [keyPackage], remove: [CAROL], extensions: renamed });
  const summary = commitSummary(both.commit);
  assert.equal(summary.senderType, 1);
  assert.deepEqual(summary.removes, [carolLeaf]);
  assert.deepEqual(
    summary.adds.map((k) => (k.leafNode.credential.credentialType === 'basic' ? new TextDecoder().decode(k.leafNode.credential.identity) : '')),
    [DAVE],
  );
  assert.deepEqual(plain(summary.groupContextExtensions), renamed);
  assert.equal(summary.references, 0);
  // Carol's own Remove proposal, committed by alice by reference.
  const left = await c.proposeRemove([CAROL]);
  const withRef = await (await a.process(left.proposals[0])).session.update();
  assert.deepEqual(commitSummary(withRef.commit), { senderType: 1, removes: [], adds: [], references: 1, refs: [proposalRef(left.proposals[0])] });
});

test('commits without a GroupContextExtensions proposal: undefined', async () => {
  const { a, keyPackage } = await group();
  const cases: [string, Uint8Array][] = [
    ['empty commit (path only)', (await a.update()).commit],
    ['Add (a KeyPackage by value)', (await a.add([keyPackage])).commit],
    ['Remove', (await a.remove([CAROL])).commit],
    ['Add + Remove through commitChanges', (await a.commitChanges({ add: [keyPackage], remove: [CAROL] })).commit],
  ];
  for (const [what, commit] of cases) assert.equal(commitGroupContextExtensions(commit), undefined, what);
});

test('a commit with a GroupContextExtensions proposal: its extension list, in order', async () => {
  const { a, keyPackage } = await group();
  const only = await a.commitChanges({ extensions: renamed });
  const found = commitGroupContextExtensions(only.commit);
  assert.deepEqual(plain(found), renamed);
  assert.deepEqual(only.pending.extensions(), renamed, 'what the parser reads is what the group adopts');
  // Each Extension keeps the bytes it was read from (type, length, data).
  for (const e of found!) assert.deepEqual(e.raw, new TlsWriter().u16(e.extensionType).opaqueV(e.extensionData).finish());

  const all = await a.commitChanges({ add: [keyPackage], remove: [CAROL], extensions: renamed });
  assert.deepEqual(plain(commitGroupContextExtensions(all.commit)), renamed);

  // An empty list is a proposal too, and different from none.
  const empty = commitGroupContextExtensions((await a.commitChanges({ extensions: [] })).commit);
  assert.deepEqual(empty, []);
});

test('proposals by reference are skipped; a GCE by value next to them is still found', async () => {
  const { a, c } = await group();
  const left = await c.proposeRemove([CAROL]);
  let withRef = a;
  for (const p of left.proposals) withRef = (await withRef.process(p)).session;
  assert.equal(withRef.pendingProposals(), 1);
  const refOnly = await withRef.update();
  assert.equal(commitGroupContextExtensions(refOnly.commit), undefined);
  const refAndGce = await withRef.commitChanges({ extensions: renamed });
  assert.deepEqual(plain(commitGroupContextExtensions(refAndGce.commit)), renamed);
  assertStrictFraming(refAndGce.commit, 'commit with a proposal reference and a GCE');
});

test('an external commit (new_member_commit sender, ExternalInit, no membership tag): undefined', async () => {
  const { engine, a } = await group();
  const { groupInfo, ratchetTree } = await a.groupInfo();
  const joined = await engine.joinExternal(await engine.newDeviceKeys(DAVE), groupInfo, ratchetTree);
  assert.equal(commitGroupContextExtensions(joined.commit), undefined);
  assertStrictFraming(joined.commit, 'external commit');
});

test('real commits: every truncation and a trailing byte are refused', async () => {
  const { a, keyPackage } = await group();
  assertStrictFraming((await a.commitChanges({ add: [keyPackage], remove: [CAROL], extensions: renamed })).commit, 'Add + Remove + GCE');
  assertStrictFraming((await a.update()).commit, 'empty commit');
});

// ---------------------------------------------------------------------------------------------
// Not a commit

test('messages that are not a PublicMessage Commit are refused', async () => {
  const { a, c, welcome, keyPackage } = await group();
  const { groupInfo } = await a.groupInfo();
  const application = (await a.encrypt(utf8('hello'))).message;
  const ownRemove = (await c.proposeRemove([CAROL])).proposals[0];
  const hubRemove = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: 2, signingKey: hub.privateKey });
  const cases: [string, Uint8Array, RegExp][] = [
    ['application PrivateMessage', application, /PublicMessage/],
    ['member proposal', ownRemove, /does not carry a Commit/],
    ['external proposal', hubRemove, /does not carry a Commit/],
    ['Welcome', welcome, /PublicMessage/],
    ['GroupInfo', groupInfo, /PublicMessage/],
    ['KeyPackage', keyPackage, /PublicMessage/],
    ['empty', new Uint8Array(0), /./],
  ];
  for (const [what, bytes, pattern] of cases) {
    assert.throws(
      () => commitGroupContextExtensions(bytes),
      (e: unknown) => isWireError(e) && pattern.test((e as Error).message),
      what,
    );
  }
  assert.throws(() => commitGroupContextExtensions('not bytes' as unknown as Uint8Array), isWireError);
});

// ---------------------------------------------------------------------------------------------
// Hand-built framings

const ext = (type: number, data: Uint8Array): Uint8Array => new TlsWriter().u16(type).opaqueV(data).finish();
const gceByValue = (...exts: Uint8Array[]): Uint8Array => new TlsWriter().u8(1).u16(7).opaqueV(concat(exts)).finish();
const removeByValue = (leaf: number): Uint8Array => new TlsWriter().u8(1).u16(3).u32(leaf).finish();
const byReference = (ref: Uint8Array): Uint8Array => new TlsWriter().u8(2).opaqueV(ref).finish();

function concat(parts: Uint8Array[]): Uint8Array {
  const w = new TlsWriter();
  for (const p of parts) w.bytes(p);
  return w.finish();
}

/** MLSMessage(PublicMessage) with a Commit of `items` (ProposalOrRef encodings) and no UpdatePath. */
function handCommit(items: Uint8Array[], opts: { senderType?: number; version?: number } = {}): Uint8Array {
  const senderType = opts.senderType ?? 1;
  const w = new TlsWriter().u16(opts.version ?? 1).u16(1).opaqueV(utf8(ROOM)).u64(7n).u8(senderType);
  if (senderType === 1 || senderType === 2) w.u32(0);
  w.opaqueV(new Uint8Array(0)).u8(3).opaqueV(concat(items)).u8(0);
  w.opaqueV(new Uint8Array(64)).opaqueV(new Uint8Array(32));
  if (senderType === 1) w.opaqueV(new Uint8Array(32));
  return w.finish();
}

test('hand-built: GCE among other proposals, sender types with and without membership tag', () => {
  const a = ext(0xf006, utf8('state'));
  const b = ext(0x000a, new Uint8Array([1, 2, 3]));
  const items = [removeByValue(2), byReference(new Uint8Array(32).fill(9)), gceByValue(a, b), removeByValue(3)];
  const expected: Ext[] = [
    { type: ROOM_STATE_EXTENSION_TYPE, data: utf8('state') },
    { type: 0x000a, data: new Uint8Array([1, 2, 3]) },
  ];
  for (const senderType of [1, 2, 4]) {
    const m = handCommit(items, { senderType });
    assert.deepEqual(plain(commitGroupContextExtensions(m)), expected, `sender_type ${senderType}`);
    assertStrictFraming(m, `hand-built commit, sender_type ${senderType}`);
  }
  assert.equal(commitGroupContextExtensions(handCommit([])), undefined, 'no proposals at all');
  assert.equal(commitGroupContextExtensions(handCommit([removeByValue(1)])), undefined);
});

test('hand-built: malformed commits are refused', () => {
  const a = ext(0xf006, utf8('state'));
  const cases: [string, Uint8Array, RegExp][] = [
    ['two GCE proposals', handCommit([gceByValue(a), gceByValue(a)]), /two GroupContextExtensions/],
    ['unknown ProposalOrRefType', handCommit([new TlsWriter().u8(3).u16(7).finish()]), /ProposalOrRefType/],
    ['proposal type without known framing', handCommit([new TlsWriter().u8(1).u16(0x0b0b).finish()]), /no known framing/],
    ['unknown sender_type', handCommit([gceByValue(a)], { senderType: 5 }), /sender_type/],
    ['MLS version 2', handCommit([gceByValue(a)], { version: 2 }), /version/],
  ];
  for (const [what, bytes, pattern] of cases) {
    assert.throws(() => commitGroupContextExtensions(bytes), (e: unknown) => isWireError(e) && pattern.test((e as Error).message), what);
  }
  // An Extension that overruns its proposal's list is a framing error, not an extension list.
  const overrun = new TlsWriter().u8(1).u16(7).opaqueV(new TlsWriter().u16(0xf006).u8(10).finish()).finish();
  assert.throws(() => commitGroupContextExtensions(handCommit([overrun])), isWireError);
});
