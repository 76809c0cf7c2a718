// The issue-13 patches of ts-mls (scripts/patch-ts-mls.mjs, patches 6-10) and the adapter code
// that uses them (src-main/mls/decode-ahead.ts): each must leave what ts-mls computes unchanged.
// Nothing here is timed; speed is in the bench.
//
// 6  kept encodings: a decoded KeyPackage / LeafNode / FramedContent re-encodes to the bytes it
//    came from, by copy, and only if those bytes are the canonical encoding;
// 7  processPrivateMessage reports the sender's leaf index;
// 8  enum decoding with the reverse map built once;
// 9  the Add checks by key refuse exactly what the pairwise comparisons refused;
// 10 a commit's proposals decoded ahead give the same message as one-piece decoding;
// 11 a commit's Adds land where ts-mls's addLeafNode, one by one, put them;
// 13 KDFLabel written directly is byte for byte what ts-mls's encoder combinators wrote.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMlsMessage, encodeMlsMessage } from 'ts-mls/message.js';
import { encodeKeyPackage, keyPackageEncoder, keyPackageTBSEncoder, encodeKeyPackageTBS } from 'ts-mls/keyPackage.js';
import { encodeLeafNode, leafNodeEncoder } from 'ts-mls/leafNode.js';
import { encodeFramedContent, framedContentEncoder } from 'ts-mls/framedContent.js';
import { decodeProposalOrRef, mimiDecodedAhead } from 'ts-mls/proposalOrRefType.js';
import { decodeCredentialType } from 'ts-mls/credentialType.js';
import { decodeContentType } from 'ts-mls/contentType.js';
import { addLeafNode, decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { createMlsEngine, encodeRatchetTreeCooperatively } from '../../src-main/mls/ts-mls-engine.js';
import { MlsError, type MlsEngine } from '../../src-main/mls/engine.js';
import { commitProposalsSpan, decodeCooperatively, decodeProposalsAhead } from '../../src-main/mls/decode-ahead.js';
import { DEFAULT_YIELD_BUDGET_MS, setYieldBudget, yieldCount } from '../../src-main/mls/cooperative.js';
import { keyPackageEquality } from '../../src-main/mls/key-package-equality.js';
import { bytesEqual, concatBytes, utf8 } from '../../src-shared/bytes.js';
import * as kdf from 'ts-mls/crypto/kdf.js';
import { composeBufferEncoders, encode } from 'ts-mls/codec/tlsEncoder.js';
import { uint16Encoder } from 'ts-mls/codec/number.js';
import { varLenDataEncoder } from 'ts-mls/codec/variableLength.js';

afterEach(() => setYieldBudget(DEFAULT_YIELD_BUDGET_MS));

type Kept = { mimiKept: WeakMap<object, Uint8Array> };
const kept = (encoder: unknown) => (encoder as Kept).mimiKept;

async function keyPackageMessage(engine: MlsEngine, name: string): Promise<Uint8Array> {
  const keys = await engine.newDeviceKeys(`mimi://a.example/d/${name}/1`);
  return (await engine.generateKeyPackages(keys, 1))[0].publicMessage;
}

function decodeKeyPackageOf(bytes: Uint8Array) {
  const decoded = decodeMlsMessage(bytes, 0);
  assert.ok(decoded !== undefined && decoded[1] === bytes.length);
  const msg = decoded[0];
  assert.equal(msg.wireformat, 'mls_key_package');
  if (msg.wireformat !== 'mls_key_package') throw new Error('unreachable');
  return msg.keyPackage;
}

test('patch 6: a decoded KeyPackage and its LeafNode keep their bytes, and re-encode to them', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const bytes = await keyPackageMessage(engine, 'kept');
  const kp = decodeKeyPackageOf(bytes);
  // The KeyPackage is everything after version and wireformat (2 + 2 bytes).
  const kpBytes = bytes.subarray(4);
  assert.ok(kept(keyPackageEncoder).has(kp));
  assert.ok(kept(keyPackageTBSEncoder).has(kp));
  assert.ok(kept(leafNodeEncoder).has(kp.leafNode));
  assert.deepEqual(encodeKeyPackage(kp), new Uint8Array(kpBytes));
  // The TBS is the KeyPackage without its signature<V> (64 bytes for Ed25519, a 2-byte length).
  assert.equal(kp.signature.length, 64);
  assert.deepEqual(encodeKeyPackageTBS(kp), new Uint8Array(kpBytes.subarray(0, kpBytes.length - 66)));
  // The same encodings as a fresh walk of a copy (which keeps nothing).
  const copy = { ...kp, leafNode: { ...kp.leafNode } };
  assert.ok(!kept(keyPackageEncoder).has(copy));
  assert.deepEqual(encodeKeyPackage(copy), encodeKeyPackage(kp));
  assert.deepEqual(encodeKeyPackageTBS(copy), encodeKeyPackageTBS(kp));
  assert.deepEqual(encodeLeafNode(copy.leafNode), encodeLeafNode(kp.leafNode));
});

test('patch 6: a non-canonical encoding decodes but is not kept: re-encoding gives the canonical bytes', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const bytes = await keyPackageMessage(engine, 'noncanonical');
  // version (2), wireformat (2), KeyPackage version (2), cipher_suite (2), init_key<V>: 0x20 || 32 bytes.
  assert.equal(bytes[8], 0x20);
  const stretched = concatBytes(bytes.subarray(0, 8), new Uint8Array([0x40, 0x20]), bytes.subarray(9));
  const kp = decodeKeyPackageOf(stretched);
  assert.ok(!kept(keyPackageEncoder).has(kp), 'a two-byte length for 32 is not the canonical encoding');
  assert.ok(!kept(keyPackageTBSEncoder).has(kp));
  assert.deepEqual(encodeKeyPackage(kp), new Uint8Array(bytes.subarray(4)));
  // Its LeafNode's own span is canonical, so that one is kept.
  assert.ok(kept(leafNodeEncoder).has(kp.leafNode));
});

test('patch 6: a commit keeps its FramedContent encoding on both sides, and the group stays in sync', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const peer = await engine.newDeviceKeys('mimi://a.example/d/peer/1');
  const peerKp = (await engine.generateKeyPackages(peer, 1))[0];
  const first = await (await engine.createGroup(owner, 'mimi://a.example/r/kept')).add([peerKp.publicMessage]);
  const peerSession = await engine.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);
  const kps = await Promise.all([0, 1, 2].map((i) => keyPackageMessage(engine, `k${i}`)));
  const out = await first.pending.add(kps);
  const [msg] = decodeMlsMessage(out.commit, 0)!;
  assert.equal(msg.wireformat, 'mls_public_message');
  if (msg.wireformat !== 'mls_public_message') return;
  const content = msg.publicMessage.content;
  assert.ok(kept(framedContentEncoder).has(content));
  const fresh = encodeFramedContent({ ...content });
  assert.deepEqual(encodeFramedContent(content), fresh);
  assert.ok(bytesEqual(out.commit.subarray(4, 4 + fresh.length), fresh), 'the message carries exactly that encoding');
  // Signature, membership tag and transcript hash over the kept bytes: the peer accepts the commit
  // and lands in the same epoch with the same members.
  const processed = await peerSession.process(out.commit);
  assert.equal(processed.session.epoch, out.pending.epoch);
  assert.deepEqual(processed.session.members().map((m) => m.identity), out.pending.members().map((m) => m.identity));
  // And the group keeps working: an application message in the new epoch.
  const sent = await out.pending.encrypt(utf8('after'));
  const got = await processed.session.process(sent.message);
  assert.equal(got.result.kind === 'application' && got.result.senderIdentity, 'mimi://a.example/d/owner/1');
});

test('patch 7: the sender of application messages is the authenticated leaf, for either member', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const alice = await engine.newDeviceKeys('mimi://a.example/d/alice/1');
  const bob = await engine.newDeviceKeys('mimi://a.example/d/bob/1');
  const bobKp = (await engine.generateKeyPackages(bob, 1))[0];
  const added = await (await engine.createGroup(alice, 'mimi://a.example/r/sender')).add([bobKp.publicMessage]);
  let a = added.pending;
  let b = await engine.joinFromWelcome(bob, added.welcome!, bobKp, added.ratchetTree);
  for (let i = 0; i < 3; i++) {
    const fromA = await a.encrypt(utf8(`a${i}`));
    a = fromA.session;
    const atB = await b.process(fromA.message);
    b = atB.session;
    assert.equal(atB.result.kind === 'application' && atB.result.senderIdentity, 'mimi://a.example/d/alice/1');
    const fromB = await b.encrypt(utf8(`b${i}`));
    b = fromB.session;
    const atA = await a.process(fromB.message);
    a = atA.session;
    assert.equal(atA.result.kind === 'application' && atA.result.senderIdentity, 'mimi://a.example/d/bob/1');
  }
  // A flipped bit in the encrypted sender data is still refused as undecryptable.
  const last = await a.encrypt(utf8('tampered'));
  const tampered = new Uint8Array(last.message);
  tampered[tampered.length - 20] ^= 1;
  await assert.rejects(b.process(tampered), (e: unknown) => e instanceof MlsError);
});

test('patch 8: enum decoding is unchanged (known names, unknown numbers)', () => {
  assert.deepEqual(decodeContentType(new Uint8Array([1]), 0), ['application', 1]);
  assert.deepEqual(decodeContentType(new Uint8Array([3]), 0), ['commit', 1]);
  assert.equal(decodeContentType(new Uint8Array([9]), 0), undefined);
  assert.deepEqual(decodeCredentialType(new Uint8Array([0, 1]), 0), ['basic', 2]);
  assert.deepEqual(decodeCredentialType(new Uint8Array([0xf0, 0x01]), 0), ['61441', 2]);
});

test('patch 9: the Add checks by key agree with the comparisons, and refuse duplicates and members', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const k = (fill: number, len = 32) => ({ leafNode: { signaturePublicKey: new Uint8Array(len).fill(fill) } }) as never;
  const l = (fill: number, len = 32) => ({ signaturePublicKey: new Uint8Array(len).fill(fill) }) as never;
  const { mimiKeyPackageKey: kpKey, mimiLeafNodeKey: leafKey } = keyPackageEquality as Required<typeof keyPackageEquality>;
  for (const [a, b] of [[1, 1], [1, 2]] as const) {
    assert.equal(kpKey(k(a)) === kpKey(k(b)), keyPackageEquality.compareKeyPackages(k(a), k(b)));
    assert.equal(kpKey(k(a)) === leafKey(l(b)), keyPackageEquality.compareKeyPackageToLeafNode(k(a), l(b)));
  }
  assert.notEqual(kpKey(k(1, 32)), leafKey(l(1, 31)));

  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const bob = await engine.newDeviceKeys('mimi://a.example/d/bob/1');
  const [b1, b2] = await engine.generateKeyPackages(bob, 2);
  const c1 = await keyPackageMessage(engine, 'carol');
  const group = await engine.createGroup(owner, 'mimi://a.example/r/bykey');
  await assert.rejects(group.add([b1.publicMessage, c1, b2.publicMessage]), (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /same client/.test(e.message));
  const ok = await group.add([b1.publicMessage, c1]);
  await assert.rejects(ok.pending.add([b2.publicMessage]), (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /already in the group/.test(e.message));
  // Removing bob and adding him back in the same commit is allowed.
  const again = await ok.pending.commitChanges({ remove: ['mimi://a.example/d/bob/1'], add: [b2.publicMessage] });
  assert.ok(again.pending.members().some((m) => m.identity === 'mimi://a.example/d/bob/1'));
});

test('patch 10: a big commit decoded ahead in slices is the message one-piece decoding gives', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const peer = await engine.newDeviceKeys('mimi://a.example/d/peer/1');
  const peerKp = (await engine.generateKeyPackages(peer, 1))[0];
  const first = await (await engine.createGroup(owner, 'mimi://a.example/r/ahead')).add([peerKp.publicMessage]);
  const peerSession = await engine.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);
  const n = 70;
  const kps: Uint8Array[] = [];
  for (let i = 0; i < n; i++) kps.push(await keyPackageMessage(engine, `m${i}`));
  const out = await first.pending.add(kps);
  assert.ok(out.commit.length > 16 * 1024, `a commit above the threshold (${out.commit.length} bytes)`);

  const span = commitProposalsSpan(out.commit);
  assert.ok(span !== undefined && span.end < out.commit.length);
  setYieldBudget(0);
  const yieldsBefore = yieldCount();
  const ahead = await decodeProposalsAhead(out.commit);
  assert.equal(ahead?.size, n);
  assert.ok(yieldCount() - yieldsBefore >= n - 1, 'a yield point between proposals');
  setYieldBudget(DEFAULT_YIELD_BUDGET_MS);

  const plain = decodeMlsMessage(new Uint8Array(out.commit), 0)![0];
  const sliced = await decodeCooperatively(out.commit, (b) => decodeMlsMessage(b, 0)![0]);
  assert.deepEqual(sliced, plain);
  assert.deepEqual(encodeMlsMessage(sliced), out.commit);
  assert.equal(mimiDecodedAhead.get(out.commit.buffer), undefined, 'the lent results are taken back');
  // The engine path: the peer processes it (decoding ahead) into the committer's epoch.
  const processed = await peerSession.process(out.commit);
  assert.equal(processed.session.epoch, out.pending.epoch);
  assert.equal(processed.session.members().length, n + 2);

  // Not a commit PublicMessage, or too small: no span / nothing decoded ahead.
  assert.equal(commitProposalsSpan(kps[0]), undefined);
  assert.equal(await decodeProposalsAhead(kps[0]), undefined);
  // Truncated: decoding ahead stops, and the one-piece decoder refuses it as before.
  const truncated = out.commit.subarray(0, out.commit.length - 100);
  await assert.rejects(peerSession.process(truncated), (e: unknown) => e instanceof MlsError && e.code === 'malformed');
});

test('patch 10: a lent result is used only where it fits the view being decoded', () => {
  // A reference ProposalOrRef: type 2, reference<V> of 3 bytes.
  const bytes = new Uint8Array([9, 9, 2, 3, 7, 7, 7, 9]);
  const real = decodeProposalOrRef(bytes, 2)!;
  assert.deepEqual(real[0], { proposalOrRefType: 'reference', reference: new Uint8Array([7, 7, 7]) });
  const marker = { proposalOrRefType: 'reference', reference: new Uint8Array([1]) } as never;
  // Lent with a length of 6: fits the whole buffer from offset 2, not a 5-byte view of the item.
  mimiDecodedAhead.set(bytes.buffer, new Map([[bytes.byteOffset + 2, [marker, 6]]]));
  try {
    assert.equal(decodeProposalOrRef(bytes, 2)![0], marker, 'lent and fits: used');
    assert.deepEqual(decodeProposalOrRef(bytes.subarray(2, 7), 0), real, 'does not fit the shorter view: decoded afresh');
  } finally {
    mimiDecodedAhead.delete(bytes.buffer);
  }
  assert.deepEqual(decodeProposalOrRef(bytes, 2), real);
});

test('patch 11: the Adds of a commit land where addLeafNode one by one puts them (blanks, unmerged leaves, extension)', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const first = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => keyPackageMessage(engine, `first${i}`)));
  const grown = await (await engine.createGroup(owner, 'mimi://a.example/r/leaves')).add(first);
  // Two blanks in the middle, and parent nodes set by the remove's UpdatePath.
  const removed = await grown.pending.remove(['mimi://a.example/d/first1/1', 'mimi://a.example/d/first3/1']);
  const before = decodeRatchetTree(removed.ratchetTree, 0)![0];
  assert.ok(before.some((n) => n?.nodeType === 'parent'), 'parents to carry unmerged leaves');
  // Five Adds: two blanks, the last leaf of width 8, then the tree doubles for the other two.
  const more = await Promise.all([0, 1, 2, 3, 4].map((i) => keyPackageMessage(engine, `more${i}`)));
  const added = await removed.pending.add(more);
  let expected = before;
  for (const m of more) expected = addLeafNode(expected, decodeKeyPackageOf(m).leafNode)[0];
  assert.deepEqual(added.ratchetTree, encodeRatchetTree(expected));
  assert.deepEqual(
    added.pending.members().map((m) => [m.leafIndex, m.identity]),
    [[0, 'owner'], [1, 'first0'], [2, 'more0'], [3, 'first2'], [4, 'more1'], [5, 'first4'], [6, 'first5'], [7, 'more2'], [8, 'more3'], [9, 'more4']].map(([i, n]) => [i, `mimi://a.example/d/${n}/1`]),
  );
});

test('the ratchet tree encoded in slices is encodeRatchetTree\'s encoding', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const kps = await Promise.all([0, 1, 2].map((i) => keyPackageMessage(engine, `t${i}`)));
  const grown = await (await engine.createGroup(owner, 'mimi://a.example/r/tree')).add(kps);
  // An UpdatePath fills the parents on the committer's direct path.
  const updated = await grown.pending.update();
  const small = decodeRatchetTree(updated.ratchetTree, 0)![0];
  const leaf = small.find((n) => n?.nodeType === 'leaf');
  const parent = small.find((n) => n?.nodeType === 'parent');
  assert.ok(leaf !== undefined && parent !== undefined, 'a leaf and a parent node to tile');
  // 1,023 nodes (512 leaves): leaves, some parents, blanks, and trailing blanks to strip.
  const big = Array.from({ length: 1023 }, (_, i) => (i % 2 === 0 ? (i % 6 === 0 ? undefined : leaf) : i % 4 === 1 ? parent : undefined));
  for (let i = 900; i < big.length; i++) big[i] = undefined;
  setYieldBudget(0);
  const sliced = await encodeRatchetTreeCooperatively(big as never);
  assert.deepEqual(sliced, encodeRatchetTree(big as never));
  assert.deepEqual(await encodeRatchetTreeCooperatively(small), encodeRatchetTree(small));
});

test('13: KDFLabel written directly is the bytes ts-mls\'s encoders write, at every length-prefix size', () => {
  const mimiKdfLabel = (kdf as unknown as { mimiKdfLabel: (label: string, context: Uint8Array, length: number) => Uint8Array }).mimiKdfLabel;
  assert.equal(typeof mimiKdfLabel, 'function', 'patch 13 is applied');
  const reference = encode(composeBufferEncoders([uint16Encoder, varLenDataEncoder, varLenDataEncoder]));
  // Label lengths around the one-byte varint limit (the "MLS 1.0 " prefix is 8 bytes), contexts
  // around the 1-, 2- and 4-byte limits, key/nonce/secret lengths and the uint16 edge.
  const labels = ['key', 'nonce', 'secret', 'application', '', 'x'.repeat(55), 'x'.repeat(56), 'ü'.repeat(40)];
  const contexts = [0, 1, 4, 63, 64, 100, 16383, 16384, 70_000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff));
  let checked = 0;
  for (const label of labels) {
    for (const context of contexts) {
      for (const length of [0, 12, 16, 32, 255, 256, 65535]) {
        const ours = mimiKdfLabel(label, context, length);
        assert.ok(bytesEqual(ours, reference([length, utf8(`MLS 1.0 ${label}`), context])), `label "${label.slice(0, 8)}…" (${label.length}), context ${context.length}, length ${length}`);
        checked++;
      }
    }
    // The second call of a label comes from the cache: still the same bytes.
    assert.ok(bytesEqual(mimiKdfLabel(label, contexts[2], 16), reference([16, utf8(`MLS 1.0 ${label}`), contexts[2]])));
  }
  assert.equal(checked, labels.length * contexts.length * 7);
});
