// The official RFC 9420 tree vectors (../shared/vectors/mls): tree-math, deserialization (varint
// headers), tree-validation (resolutions, every node's tree hash, parent hashes, leaf signatures)
// and tree-operations (Add/Update/Remove applied to a tree), run through the patched ts-mls (what
// the engine uses) and, where the provider verifies trees itself, through src-shared/mls-verify.ts.
// Ciphersuite 1 only (the one we support); other suites' entries are counted and skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRatchetTree as tsDecodeTree, encodeRatchetTree as tsEncodeTree, resolution as tsResolution, addLeafNode, removeLeafNode, updateLeafNode } from 'ts-mls/ratchetTree.js';
import { left, parent, right, root, sibling, toLeafIndex, toNodeIndex } from 'ts-mls/treemath.js';
import { treeHash as tsTreeHash, treeHashRoot } from 'ts-mls/treeHash.js';
import { verifyParentHashes as tsVerifyParentHashes } from 'ts-mls/parentHash.js';
import { verifyLeafNodeSignature as tsVerifyLeafNodeSignature, verifyLeafNodeSignatureKeyPackage as tsVerifyLeafNodeSignatureKeyPackage } from 'ts-mls/leafNode.js';
import { decodeProposal } from 'ts-mls/proposal.js';
import { determineLength } from 'ts-mls/codec/variableLength.js';
import { ciphersuiteFor } from '../../src-main/mls/crypto-selftest.js';
import { decodeRatchetTree, encodeRatchetTree } from '../../src-shared/mls-structs.js';
import { nodeTreeHash, resolution, rootOf, suiteHash, treeHash, verifyLeafNodeSignature, verifyParentHashes, MlsVerifyError } from '../../src-shared/mls-verify.js';
import { decodeVarint, encodeVarint } from '../../src-shared/tls.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mls');
const read = <T>(name: string): T[] => JSON.parse(readFileSync(path.join(VECTORS, name), 'utf8')) as T[];
function suite1<T extends { cipher_suite: number }>(name: string): { run: T[]; skipped: number } {
  const all = read<T>(name);
  const run = all.filter((v) => v.cipher_suite === 1);
  return { run, skipped: all.length - run.length };
}

interface TreeMath {
  n_leaves: number;
  n_nodes: number;
  root: number;
  left: (number | null)[];
  right: (number | null)[];
  parent: (number | null)[];
  sibling: (number | null)[];
}

test('tree-math.json: root, left, right, parent, sibling of every node (ts-mls), root (mls-verify)', () => {
  const vectors = read<TreeMath>('tree-math.json');
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    assert.equal(root(v.n_leaves), v.root);
    assert.equal(rootOf(v.n_nodes), v.root, 'mls-verify rootOf');
    for (let i = 0; i < v.n_nodes; i++) {
      const x = toNodeIndex(i);
      const isLeaf = i % 2 === 0;
      // RFC 9420 tree math is undefined (null in the vectors) for leaves' children and the root's parent.
      if (v.left[i] !== null) assert.equal(left(x), v.left[i]);
      else assert.ok(isLeaf);
      if (v.right[i] !== null) assert.equal(right(x), v.right[i]);
      else assert.ok(isLeaf);
      if (v.parent[i] !== null) assert.equal(parent(x, v.n_leaves), v.parent[i]);
      else assert.equal(i, v.root);
      if (v.sibling[i] !== null) assert.equal(sibling(x, v.n_leaves), v.sibling[i]);
      else assert.equal(i, v.root);
    }
  }
});

test('deserialization.json: variable-length vector headers (tls.ts and ts-mls)', () => {
  const vectors = read<{ vlbytes_header: string; length: number }>('deserialization.json');
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    const header = fromHex(v.vlbytes_header);
    assert.deepEqual(decodeVarint(header), { value: v.length, length: header.length });
    assert.equal(toHex(encodeVarint(v.length)), v.vlbytes_header, 'minimal encoding, as RFC 9420 requires');
    assert.deepEqual(determineLength(header, 0), { length: v.length, lengthFieldSize: header.length });
  }
});

interface TreeValidation {
  cipher_suite: number;
  tree: string;
  group_id: string;
  resolutions: number[][];
  tree_hashes: string[];
}

test('tree-validation.json (suite 1): resolutions, tree hashes, parent hashes, leaf signatures', async () => {
  const { run, skipped } = suite1<TreeValidation>('tree-validation.json');
  assert.ok(run.length > 0);
  const cs = await ciphersuiteFor('noble');
  const hash = suiteHash(1);
  for (const v of run) {
    const bytes = fromHex(v.tree);
    const ts = tsDecodeTree(bytes, 0)![0];
    const ours = decodeRatchetTree(bytes);
    assert.equal(toHex(tsEncodeTree(ts)), v.tree);
    assert.equal(toHex(encodeRatchetTree(ours)), v.tree);
    assert.equal(v.tree_hashes.length, ts.length);
    for (let i = 0; i < v.tree_hashes.length; i++) {
      assert.deepEqual(tsResolution(ts, toNodeIndex(i)), v.resolutions[i], `ts-mls resolution of node ${i}`);
      assert.deepEqual(resolution(ours, i), v.resolutions[i], `mls-verify resolution of node ${i}`);
      assert.equal(toHex(await tsTreeHash(ts, toNodeIndex(i), cs.hash)), v.tree_hashes[i], `ts-mls tree hash of node ${i}`);
      assert.equal(toHex(nodeTreeHash(ours, i, hash)), v.tree_hashes[i], `mls-verify tree hash of node ${i}`);
    }
    assert.equal(toHex(treeHash(ours, 1)), v.tree_hashes[rootOf(ts.length)]);
    assert.equal(await tsVerifyParentHashes(ts, cs.hash), true, 'ts-mls parent hashes');
    verifyParentHashes(ours, 1);
    const groupId = fromHex(v.group_id);
    for (let i = 0; i < ts.length; i += 2) {
      const n = ts[i];
      if (n === undefined || n.nodeType !== 'leaf') continue;
      // A key_package leaf is signed without group_id and leaf index (RFC 9420 7.2, LeafNodeTBS).
      const tsOk =
        n.leaf.leafNodeSource === 'key_package'
          ? await tsVerifyLeafNodeSignatureKeyPackage(n.leaf, cs.signature)
          : await tsVerifyLeafNodeSignature(n.leaf, groupId, i / 2, cs.signature);
      assert.equal(tsOk, true, `ts-mls leaf ${i / 2} signature`);
      const leaf = ours.nodes[i];
      assert.ok(leaf && leaf.nodeType === 'leaf');
      verifyLeafNodeSignature(leaf.leaf, groupId, i / 2);
    }
    // And the checks can fail: a damaged leaf signature (the last byte of the first leaf's signature).
    const firstLeaf = ours.nodes[0];
    if (firstLeaf?.nodeType === 'leaf') {
      const sig = firstLeaf.leaf.signature.slice();
      sig[sig.length - 1] ^= 1;
      assert.throws(() => verifyLeafNodeSignature({ ...firstLeaf.leaf, signature: sig }, groupId, 0), MlsVerifyError);
    }
  }
  if (skipped > 0) console.log(`tree-validation: ${run.length} suite-1 trees verified, ${skipped} entries of other suites skipped`);
});

interface TreeOperation {
  cipher_suite: number;
  tree_before: string;
  proposal: string;
  proposal_sender: number;
  tree_hash_before: string;
  tree_after: string;
  tree_hash_after: string;
}

test('tree-operations.json (suite 1): Add, Update and Remove applied to the tree (ts-mls), tree hashes', async () => {
  const { run, skipped } = suite1<TreeOperation>('tree-operations.json');
  assert.ok(run.length > 0);
  const cs = await ciphersuiteFor('noble');
  const kinds = new Set<string>();
  for (const v of run) {
    const before = tsDecodeTree(fromHex(v.tree_before), 0)![0];
    assert.equal(toHex(await treeHashRoot(before, cs.hash)), v.tree_hash_before);
    assert.equal(toHex(treeHash(decodeRatchetTree(fromHex(v.tree_before)), 1)), v.tree_hash_before, 'mls-verify');
    const p = decodeProposal(fromHex(v.proposal), 0)![0];
    kinds.add(String(p.proposalType));
    let after;
    if (p.proposalType === 'add') after = addLeafNode(before, p.add.keyPackage.leafNode)[0];
    else if (p.proposalType === 'remove') after = removeLeafNode(before, toLeafIndex(p.remove.removed));
    else if (p.proposalType === 'update') after = updateLeafNode(before, p.update.leafNode, toLeafIndex(v.proposal_sender));
    else throw new Error(`unexpected proposal ${p.proposalType} in tree-operations.json`);
    assert.equal(toHex(tsEncodeTree(after)), v.tree_after, `tree after ${p.proposalType}`);
    assert.equal(toHex(await treeHashRoot(after, cs.hash)), v.tree_hash_after);
  }
  assert.deepEqual([...kinds].sort(), ['add', 'remove', 'update']);
  assert.equal(skipped, 0);
});
