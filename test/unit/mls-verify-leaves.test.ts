// LeafNode and KeyPackage signatures as the hub checks them (src-shared/mls-verify.ts): every leaf
// of the RFC 9420 tree-validation vectors verifies under its group id (commit- and update-made
// leaves sign the group and their index, KeyPackage leaves do not), and a flipped bit, another
// group or another index is refused; KeyPackages made by our MLS engine verify, altered ones do not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fromHex } from '../../src-shared/bytes.js';
import { decodeKeyPackage, decodeRatchetTree, encodeRatchetTree, unwrapMlsMessage, type RatchetTree } from '../../src-shared/mls-structs.js';
import { MlsVerifyError, verifyChangedLeaves, verifyKeyPackageSignature, verifyLeafNodeSignature } from '../../src-shared/mls-verify.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';

const VECTORS = '/work/shared/vectors/mls/tree-validation.json';
const haveVectors = fs.existsSync(VECTORS);
const flip = (bytes: Uint8Array, at: number): Uint8Array => bytes.map((b, i) => (i === at ? b ^ 1 : b));
const refused = (re: RegExp) => (e: unknown) => e instanceof MlsVerifyError && re.test(e.message);

test('every leaf of the tree-validation vectors verifies; a flipped signature, another group or index does not', { skip: !haveVectors && 'no vectors' }, () => {
  const cases = (JSON.parse(fs.readFileSync(VECTORS, 'utf8')) as { cipher_suite: number; tree: string; group_id: string }[]).filter((v) => v.cipher_suite === 1 || v.cipher_suite === 3);
  assert.ok(cases.length >= 20);
  let leaves = 0;
  let bound = 0;
  for (const v of cases) {
    const tree = decodeRatchetTree(fromHex(v.tree));
    const groupId = fromHex(v.group_id);
    verifyChangedLeaves(tree, groupId);
    for (let i = 0; 2 * i < tree.nodes.length; i++) {
      const node = tree.nodes[2 * i];
      if (node?.nodeType !== 'leaf') continue;
      leaves++;
      const leaf = node.leaf;
      const bad: RatchetTree = { ...tree, nodes: tree.nodes.map((n, j) => (j === 2 * i && n?.nodeType === 'leaf' ? { ...n, leaf: { ...n.leaf, signature: flip(n.leaf.signature, 3) } } : n)) };
      const reencoded = decodeRatchetTree(encodeRatchetTree(bad));
      assert.throws(() => verifyChangedLeaves(reencoded, groupId), refused(new RegExp(`leaf ${i} does not verify`)));
      // Unchanged against the tree before: not checked again (the hub checks what a commit changes).
      verifyChangedLeaves(reencoded, groupId, reencoded);
      if (leaf.source.type !== 'key_package') {
        bound++;
        assert.throws(() => verifyLeafNodeSignature(leaf, flip(groupId, 0), i), refused(/does not verify/));
        assert.throws(() => verifyLeafNodeSignature(leaf, groupId, i + 1), refused(/does not verify/));
      }
    }
  }
  assert.ok(leaves > 100 && bound > 20, `${leaves} leaves, ${bound} bound to their group`);
});

test("a KeyPackage of our engine verifies; an altered one or one whose leaf is altered does not", async () => {
  const engine = await createMlsEngine();
  const keys = await engine.newDeviceKeys('mimi://a.example/d/alice/1');
  const [kp] = await engine.generateKeyPackages(keys, 1);
  const raw = unwrapMlsMessage(kp.publicMessage).body;
  verifyKeyPackageSignature(decodeKeyPackage(raw));
  // The init key's first byte (after version u16, suite u16, the init key's length byte).
  assert.throws(() => verifyKeyPackageSignature(decodeKeyPackage(flip(raw, 5))), refused(/KeyPackage signature does not verify/));
  // The leaf's encryption key (after the init key and the key's own length byte): covered too.
  const k = decodeKeyPackage(raw);
  assert.equal(k.initKey.length, 32);
  assert.deepEqual([...raw.subarray(37, 37 + k.leafNode.raw.length)], [...k.leafNode.raw]);
  assert.throws(() => verifyKeyPackageSignature(decodeKeyPackage(flip(raw, 38))), refused(/does not verify/));
});
