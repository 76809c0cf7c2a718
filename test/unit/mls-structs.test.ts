import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPub,
  createProposal,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroupExternal,
  proposeAddExternal,
  type Proposal,
} from 'ts-mls';
import { encodeCapabilities as tsEncodeCapabilities } from 'ts-mls/capabilities.js';
import { encodeCredential as tsEncodeCredential } from 'ts-mls/credential.js';
import { encodeExternalSender as tsEncodeExternalSender } from 'ts-mls/externalSender.js';
import { encodeGroupContext as tsEncodeGroupContext } from 'ts-mls/groupContext.js';
import { encodeKeyPackage as tsEncodeKeyPackage, makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { encodeLeafNode as tsEncodeLeafNode } from 'ts-mls/leafNode.js';
import { encodeLifetime as tsEncodeLifetime } from 'ts-mls/lifetime.js';
import { encodeRequiredCapabilities as tsEncodeRequiredCapabilities } from 'ts-mls/requiredCapabilities.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import {
  basicCredential,
  checkMlsMessage,
  decodeCapabilities,
  decodeCredential,
  decodeExtension,
  decodeExternalSender,
  decodeGroupContext,
  decodeGroupInfo,
  decodeHpkeCiphertext,
  decodeKeyPackage,
  decodeLeafNode,
  decodeLifetime,
  decodeParentNode,
  decodeRatchetTree,
  decodeRequiredCapabilities,
  decodeWelcome,
  encodeCapabilities,
  encodeCredential,
  encodeExtension,
  encodeExternalSender,
  encodeGroupContext,
  encodeGroupInfo,
  encodeHpkeCiphertext,
  encodeKeyPackage,
  encodeLeafNode,
  encodeLifetime,
  encodeParentNode,
  encodeRatchetTree,
  encodeRequiredCapabilities,
  encodeWelcome,
  keyPackageRef,
  readMlsMessage,
  StructReader,
  treeLeaves,
  unwrapMlsMessage,
  wrapMlsMessage,
  type LeafNode,
} from '../../src-shared/mls-structs.js';
import { MlsWireError } from '../../src-shared/mls-wire.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { bytesEqual, concatBytes, fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;
const impl = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE));
const ALICE = 'mimi://a.example/d/alice/laptop';
const BOB = 'mimi://b.example/d/bob/phone';
const CAROL = 'mimi://c.example/d/carol/desk';
const ROOM = 'mimi://a.example/r/structs';

const isWireError = (pattern?: RegExp) => (e: unknown) => e instanceof MlsWireError && (!pattern || pattern.test(e.message));

/** Every proper prefix must fail with MlsWireError (never another error, never success). */
function assertTruncationsFail(bytes: Uint8Array, decode: (b: Uint8Array) => unknown, label: string): void {
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(() => decode(bytes.subarray(0, cut)), isWireError(), `${label}: cut at ${cut} of ${bytes.length}`);
  }
  assert.throws(() => decode(concatBytes(bytes, Uint8Array.of(0))), isWireError(/trailing/), `${label}: trailing byte`);
}

const tsKeyPackage = (name: string) =>
  generateKeyPackage({ credentialType: 'basic', identity: utf8(name) }, defaultCapabilities(), defaultLifetime, [], impl);

// ---------------------------------------------------------------------------------------------

test('a real ts-mls KeyPackage: fields, byte-exact re-encoding, KeyPackageRef, framing', async () => {
  const { publicPackage } = await tsKeyPackage(BOB);
  const message = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: publicPackage });
  const { wireFormat, body } = unwrapMlsMessage(message);
  assert.equal(wireFormat, 'keyPackage');
  assert.deepStrictEqual(body, tsEncodeKeyPackage(publicPackage));
  assert.deepStrictEqual(wrapMlsMessage('keyPackage', body), message);

  const kp = decodeKeyPackage(body);
  assert.deepStrictEqual(kp.raw, body);
  assert.equal(kp.version, 1);
  assert.equal(kp.cipherSuite, 1);
  assert.deepStrictEqual(kp.initKey, publicPackage.initKey);
  assert.deepStrictEqual(kp.signature, publicPackage.signature);
  assert.deepStrictEqual(kp.extensions, []);
  const leaf = kp.leafNode;
  assert.deepStrictEqual(leaf.raw, tsEncodeLeafNode(publicPackage.leafNode));
  assert.deepStrictEqual(leaf.encryptionKey, publicPackage.leafNode.hpkePublicKey);
  assert.deepStrictEqual(leaf.signatureKey, publicPackage.leafNode.signaturePublicKey);
  assert.deepStrictEqual(leaf.signature, publicPackage.leafNode.signature);
  assert.equal(leaf.credential.credentialType, 'basic');
  assert.deepStrictEqual(leaf.credential.raw, tsEncodeCredential(publicPackage.leafNode.credential));
  if (leaf.credential.credentialType === 'basic') assert.deepStrictEqual(leaf.credential.identity, utf8(BOB));
  assert.deepStrictEqual(leaf.capabilities.raw, tsEncodeCapabilities(publicPackage.leafNode.capabilities));
  assert.deepStrictEqual(leaf.capabilities.versions.filter((v) => v === 1), [1]);
  assert.ok(leaf.capabilities.cipherSuites.includes(1));
  assert.ok(leaf.capabilities.credentials.includes(1) && leaf.capabilities.credentials.includes(2));
  assert.equal(leaf.source.type, 'key_package');
  const tsLeaf = publicPackage.leafNode;
  assert.equal(tsLeaf.leafNodeSource, 'key_package');
  if (leaf.source.type === 'key_package' && tsLeaf.leafNodeSource === 'key_package') {
    assert.equal(leaf.source.lifetime.notBefore, tsLeaf.lifetime.notBefore);
    assert.equal(leaf.source.lifetime.notAfter, tsLeaf.lifetime.notAfter);
    assert.deepStrictEqual(leaf.source.lifetime.raw, tsEncodeLifetime(tsLeaf.lifetime));
  }

  // Field encoders reproduce every sub-structure exactly.
  assert.deepStrictEqual(encodeKeyPackage(kp), body);
  assert.deepStrictEqual(encodeLeafNode(leaf), leaf.raw);
  assert.deepStrictEqual(encodeCredential(leaf.credential), leaf.credential.raw);
  assert.deepStrictEqual(encodeCapabilities(leaf.capabilities), leaf.capabilities.raw);
  if (leaf.source.type === 'key_package') assert.deepStrictEqual(encodeLifetime(leaf.source.lifetime), leaf.source.lifetime.raw);
  assert.deepStrictEqual(decodeLeafNode(leaf.raw), leaf);

  assert.deepStrictEqual(keyPackageRef(body), await makeKeyPackageRef(publicPackage, impl.hash));
  assert.equal(keyPackageRef(body).length, 32);
  assertTruncationsFail(body, decodeKeyPackage, 'KeyPackage');
});

test('engine objects: Welcome recipients, GroupInfo, ratchet tree members, KeyPackageRefs', async () => {
  const engine = await createMlsEngine();
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
  const session = await engine.createGroup(alice, ROOM);
  const kps = [(await engine.generateKeyPackages(bob, 1))[0], (await engine.generateKeyPackages(carol, 1))[0]];
  for (const k of kps) {
    const { wireFormat, body } = unwrapMlsMessage(k.publicMessage);
    assert.equal(wireFormat, 'keyPackage');
    assert.deepStrictEqual(keyPackageRef(body), k.ref);
    assert.deepStrictEqual(keyPackageRef(body), await engine.keyPackageRef(k.publicMessage));
    const kp = decodeKeyPackage(body);
    assert.deepStrictEqual(encodeKeyPackage(kp), body);
  }
  const out = await session.add(kps.map((k) => k.publicMessage));

  // Welcome
  const w = unwrapMlsMessage(out.welcome!);
  assert.equal(w.wireFormat, 'welcome');
  const welcome = decodeWelcome(w.body);
  assert.equal(welcome.cipherSuite, 1);
  assert.deepStrictEqual(welcome.secrets.map((s) => toHex(s.newMember)).sort(), kps.map((k) => toHex(k.ref)).sort());
  for (const s of welcome.secrets) {
    assert.equal(s.encryptedGroupSecrets.kemOutput.length, 32);
    assert.ok(s.encryptedGroupSecrets.ciphertext.length > 16);
  }
  assert.deepStrictEqual(encodeWelcome(welcome), w.body);
  assertTruncationsFail(w.body, decodeWelcome, 'Welcome');

  // GroupInfo
  const g = unwrapMlsMessage(out.groupInfo);
  assert.equal(g.wireFormat, 'groupInfo');
  const gi = decodeGroupInfo(g.body);
  assert.deepStrictEqual(gi.raw, g.body);
  assert.deepStrictEqual(gi.groupContext.groupId, utf8(ROOM));
  assert.equal(gi.groupContext.epoch, out.newEpoch);
  assert.equal(gi.groupContext.cipherSuite, 1);
  assert.equal(gi.groupContext.treeHash.length, 32);
  assert.equal(gi.signer, 0);
  assert.ok(gi.extensions.some((e) => e.extensionType === 4), 'external_pub extension present');
  assert.deepStrictEqual(encodeGroupInfo(gi), g.body);
  assert.deepStrictEqual(encodeGroupContext(gi.groupContext), gi.groupContext.raw);
  assert.deepStrictEqual(decodeGroupContext(gi.groupContext.raw), gi.groupContext);
  for (const e of gi.extensions) assert.deepStrictEqual(decodeExtension(encodeExtension(e)), e);
  assertTruncationsFail(g.body, decodeGroupInfo, 'GroupInfo');

  // Ratchet tree
  const tree = decodeRatchetTree(out.ratchetTree);
  assert.deepStrictEqual(tree.raw, out.ratchetTree);
  assert.deepStrictEqual(encodeRatchetTree(tree), out.ratchetTree);
  const members = out.pending.members();
  const leaves = treeLeaves(tree);
  assert.deepStrictEqual(
    leaves.map(({ leafIndex, identity }) => ({ leafIndex, identity })),
    members.map(({ leafIndex, identity }) => ({ leafIndex, identity })),
  );
  assert.deepStrictEqual(
    leaves.map((l) => toHex(l.signatureKey)),
    [alice, bob, carol].map((k) => toHex(k.signaturePublicKey)),
  );
  assertTruncationsFail(out.ratchetTree, decodeRatchetTree, 'ratchet_tree');

  // After a path update Alice's leaf is a commit leaf and her direct path has parent nodes.
  const updated = decodeRatchetTree((await out.pending.update()).ratchetTree);
  assert.deepStrictEqual(encodeRatchetTree(updated), updated.raw);
  const aliceLeaf = updated.nodes[0];
  assert.ok(aliceLeaf?.nodeType === 'leaf');
  assert.equal((aliceLeaf.leaf as LeafNode).source.type, 'commit');
  const parents = updated.nodes.filter((n) => n?.nodeType === 'parent');
  assert.ok(parents.length > 0, 'tree has parent nodes');
  for (const p of parents) {
    if (p?.nodeType !== 'parent') continue;
    assert.deepStrictEqual(encodeParentNode(p.parent), p.parent.raw);
    assert.deepStrictEqual(decodeParentNode(p.parent.raw), p.parent);
  }

  // Removing Bob blanks leaf 1; treeLeaves skips it.
  const removal = await out.pending.remove([BOB]);
  const after = decodeRatchetTree(removal.ratchetTree);
  assert.equal(after.nodes[2], null);
  assert.deepStrictEqual(
    treeLeaves(after).map((l) => [l.leafIndex, l.identity]),
    [
      [0, ALICE],
      [2, CAROL],
    ],
  );
  assert.deepStrictEqual(encodeRatchetTree(after), removal.ratchetTree);
});

test('MLSMessage delimiting: real commits, proposals, application messages, welcome, group info, key package', async () => {
  const [alice, bob, carol, dave, erin] = await Promise.all([ALICE, BOB, CAROL, 'dave', 'erin'].map(tsKeyPackage));
  let state = await createGroup(utf8(ROOM), alice.publicPackage, alice.privatePackage, [], impl);
  const messages: Uint8Array[] = [];
  const commit = await createCommit(
    { state, cipherSuite: impl },
    {
      wireAsPublicMessage: true,
      extraProposals: [
        { proposalType: 'add', add: { keyPackage: bob.publicPackage } },
        { proposalType: 'add', add: { keyPackage: carol.publicPackage } },
      ],
    },
  );
  state = commit.newState;
  messages.push(encodeMlsMessage(commit.commit));
  messages.push(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: commit.welcome! }));
  const app = await createApplicationMessage(state, utf8('hello'), impl, utf8('aad'));
  state = app.newState;
  messages.push(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: app.privateMessage }));
  const proposals: Proposal[] = [
    { proposalType: 'add', add: { keyPackage: dave.publicPackage } },
    { proposalType: 'remove', remove: { removed: 2 } },
    { proposalType: 'group_context_extensions', groupContextExtensions: { extensions: [] } },
    { proposalType: 'reinit', reinit: { groupId: utf8('next'), version: 'mls10', cipherSuite: SUITE, extensions: [] } },
  ];
  for (const p of proposals) {
    const made = await createProposal(state, true, p, impl);
    messages.push(encodeMlsMessage(made.message));
  }
  const gi = await createGroupInfoWithExternalPub(state, [], impl);
  messages.push(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: gi }));
  messages.push(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: erin.publicPackage }));
  const ext = await joinGroupExternal(gi, erin.publicPackage, erin.privatePackage, false, impl, state.ratchetTree);
  messages.push(encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage: ext.publicMessage }));
  messages.push(encodeMlsMessage(await proposeAddExternal(gi, dave.publicPackage, dave.privatePackage, impl)));
  // A commit with proposals by reference and no path: ts-mls commits the pending proposals.
  const byRef = await createCommit({ state, cipherSuite: impl }, { wireAsPublicMessage: true });
  messages.push(encodeMlsMessage(byRef.commit));

  // Concatenated without prefixes, each message is delimited exactly.
  const all = concatBytes(...messages);
  const r = new StructReader(all);
  const split: Uint8Array[] = [];
  while (r.remaining > 0) split.push(readMlsMessage(r));
  assert.deepStrictEqual(split.map(toHex), messages.map(toHex));

  for (const [i, m] of messages.entries()) {
    assert.deepStrictEqual(checkMlsMessage(m), m);
    const { wireFormat, body } = unwrapMlsMessage(m);
    assert.deepStrictEqual(wrapMlsMessage(wireFormat, body), m);
    assertTruncationsFail(m, checkMlsMessage, `message ${i}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Hand-built structures for cases ts-mls does not produce

function publicProposal(body: (w: TlsWriter) => void): Uint8Array {
  const w = new TlsWriter().u16(1).u16(1);
  w.opaqueV(utf8(ROOM)).u64(3n).u8(1).u32(0).opaqueV(new Uint8Array()).u8(2);
  body(w);
  w.opaqueV(new Uint8Array(64).fill(5)); // signature
  w.opaqueV(new Uint8Array(32).fill(6)); // membership_tag
  return w.finish();
}

test('proposal framing: PSK, external init and the draft-ietf-mls-extensions proposal types', () => {
  const cases: [string, (w: TlsWriter) => void][] = [
    ['psk external', (w) => w.u16(4).u8(1).opaqueV(utf8('psk-id')).opaqueV(new Uint8Array(32))],
    ['psk resumption', (w) => w.u16(4).u8(2).u8(1).opaqueV(utf8('group')).u64(9n).opaqueV(new Uint8Array(32))],
    ['external_init', (w) => w.u16(6).opaqueV(new Uint8Array(32).fill(7))],
    ['app_data_update update', (w) => w.u16(8).u16(0x8001).u8(1).opaqueV(utf8('participants'))],
    ['app_data_update remove', (w) => w.u16(8).u16(0x8001).u8(2)],
    ['app_ephemeral', (w) => w.u16(9).u16(0x8002).opaqueV(utf8('typing'))],
    ['self_remove', (w) => w.u16(10)],
  ];
  const msgs = cases.map(([, body]) => publicProposal(body));
  const r = new StructReader(concatBytes(...msgs));
  for (const [i, m] of msgs.entries()) assert.deepStrictEqual(readMlsMessage(r), m, cases[i][0]);
  assert.equal(r.remaining, 0);
  for (const m of msgs) assertTruncationsFail(m, checkMlsMessage, 'proposal');

  assert.throws(() => checkMlsMessage(publicProposal((w) => w.u16(0x0b0b).opaqueV(new Uint8Array(3)))), isWireError(/proposal type 2827/));
  assert.throws(() => checkMlsMessage(publicProposal((w) => w.u16(8).u16(1).u8(0))), isWireError(/AppDataUpdateOperation/));
  assert.throws(() => checkMlsMessage(publicProposal((w) => w.u16(4).u8(3))), isWireError(/PSKType/));
  assert.throws(() => checkMlsMessage(publicProposal((w) => w.u16(4).u8(2).u8(4))), isWireError(/ResumptionPSKUsage/));
});

test('credentials: x509 and basic agree with ts-mls; unknown types are rejected', () => {
  const x509 = { credentialType: 'x509' as const, certificates: [fromHex('3082aa'), new Uint8Array(300).fill(9)] };
  const enc = encodeCredential(x509);
  assert.deepStrictEqual(enc, tsEncodeCredential(x509));
  const dec = decodeCredential(enc);
  assert.equal(dec.credentialType, 'x509');
  if (dec.credentialType === 'x509') assert.deepStrictEqual(dec.certificates, x509.certificates);
  assert.deepStrictEqual(dec.raw, enc);
  assertTruncationsFail(enc, decodeCredential, 'x509 credential');

  const basic = basicCredential(ALICE);
  assert.deepStrictEqual(basic.raw, tsEncodeCredential({ credentialType: 'basic', identity: utf8(ALICE) }));
  assert.throws(() => decodeCredential(fromHex('0003' + '00')), isWireError(/credential_type 3/));
  assert.throws(() => decodeCredential(fromHex('0000' + '00')), isWireError(/credential_type 0/));
  assert.throws(() => encodeCredential({ credentialType: 'other' } as never), isWireError(/credential_type/));
});

test('ExternalSender, RequiredCapabilities, Capabilities agree with ts-mls', async () => {
  const keys = await impl.signature.keygen();
  const es = { signaturePublicKey: keys.publicKey, credential: { credentialType: 'basic' as const, identity: utf8('mimi://hub.example') } };
  const esBytes = tsEncodeExternalSender(es);
  const decoded = decodeExternalSender(esBytes);
  assert.deepStrictEqual(decoded.signatureKey, keys.publicKey);
  assert.deepStrictEqual(encodeExternalSender(decoded), esBytes);
  assertTruncationsFail(esBytes, decodeExternalSender, 'ExternalSender');

  const rc = { extensionTypes: [5, 0xf000], proposalTypes: [8], credentialTypes: ['basic' as const, 'x509' as const] };
  const rcBytes = tsEncodeRequiredCapabilities(rc);
  const rcDecoded = decodeRequiredCapabilities(rcBytes);
  assert.deepStrictEqual(rcDecoded, { raw: rcBytes, extensionTypes: [5, 0xf000], proposalTypes: [8], credentialTypes: [1, 2] });
  assert.deepStrictEqual(encodeRequiredCapabilities(rcDecoded), rcBytes);

  const caps = defaultCapabilities();
  const capsBytes = tsEncodeCapabilities(caps);
  assert.deepStrictEqual(encodeCapabilities(decodeCapabilities(capsBytes)), capsBytes);
  assertTruncationsFail(capsBytes, decodeCapabilities, 'Capabilities');
});

test('leaf node sources update and commit, lifetimes and HPKECiphertext round-trip', () => {
  const base = {
    encryptionKey: new Uint8Array(32).fill(1),
    signatureKey: new Uint8Array(32).fill(2),
    credential: { credentialType: 'basic' as const, identity: utf8(BOB) },
    capabilities: { versions: [1], cipherSuites: [1], extensions: [0x0a0a], proposals: [], credentials: [1] },
    extensions: [{ extensionType: 0xf000, extensionData: utf8('ext') }],
    signature: new Uint8Array(64).fill(3),
  };
  for (const source of [{ type: 'update' as const }, { type: 'commit' as const, parentHash: new Uint8Array(32).fill(4) }]) {
    const bytes = encodeLeafNode({ ...base, source });
    const leaf = decodeLeafNode(bytes);
    assert.deepStrictEqual(leaf.source, source);
    assert.deepStrictEqual(encodeLeafNode(leaf), bytes);
    assertTruncationsFail(bytes, decodeLeafNode, `leaf ${source.type}`);
  }
  const bad = encodeLeafNode({ ...base, source: { type: 'update' } });
  const at = bad.length - 1 - 64 - 1 - 7 - 1; // leaf_node_source octet: before extensions<V> and signature<V>
  assert.equal(bad[at], 2);
  bad[at] = 4;
  assert.throws(() => decodeLeafNode(bad), isWireError(/leaf_node_source 4/));

  const lt = encodeLifetime({ notBefore: 0n, notAfter: 2n ** 64n - 1n });
  assert.equal(decodeLifetime(lt).notAfter, 2n ** 64n - 1n);
  const ct = { kemOutput: new Uint8Array(32).fill(8), ciphertext: new Uint8Array(100).fill(9) };
  assert.deepStrictEqual(decodeHpkeCiphertext(encodeHpkeCiphertext(ct)), ct);
});

test('ratchet tree shape and bad framing are MlsWireErrors', () => {
  const parent = { encryptionKey: new Uint8Array(32), parentHash: new Uint8Array(0), unmergedLeaves: [1, 2] };
  // A parent at an even (leaf) position
  const misplaced = new TlsWriter().vector([parent], (w, p) => w.u8(1).u8(2).bytes(encodeParentNode(p))).finish();
  assert.throws(() => decodeRatchetTree(misplaced), isWireError(/node 0 is a parent/));
  // Unknown node type and presence octet
  assert.throws(() => decodeRatchetTree(fromHex('020103')), isWireError(/node_type 3/));
  assert.throws(() => decodeRatchetTree(fromHex('0102')), isWireError(/presence/));
  // A vector length beyond the input, and an absurd (max 4-byte) length
  assert.throws(() => decodeRatchetTree(fromHex('4100' + '00'.repeat(4))), isWireError(/truncated/));
  assert.throws(() => decodeRatchetTree(fromHex('bfffffff')), isWireError(/truncated/));
  assert.throws(() => decodeRatchetTree(fromHex('c000000000000000')), isWireError(/8-byte/));
  // Empty tree is a valid encoding (no leaves)
  assert.deepStrictEqual(treeLeaves(decodeRatchetTree(fromHex('00'))), []);

  // Framing
  assert.throws(() => unwrapMlsMessage(fromHex('00020001')), isWireError(/version 2/));
  assert.throws(() => unwrapMlsMessage(fromHex('00010006')), isWireError(/wire_format 6/));
  assert.throws(() => wrapMlsMessage('welcome', fromHex('0001')), isWireError(/truncated/));
  assert.throws(() => wrapMlsMessage('bogus' as never, new Uint8Array()), isWireError(/unknown wire format/));
  assert.throws(() => decodeKeyPackage(fromHex('0002')), isWireError(/KeyPackage version 2/));
  assert.throws(() => decodeKeyPackage(undefined as never), isWireError(/Uint8Array/));
  assert.throws(() => keyPackageRef('x' as never), isWireError(/Uint8Array/));
  assert.ok(!bytesEqual(keyPackageRef(fromHex('00')), keyPackageRef(fromHex('01'))));
});
