// The official RFC 9420 treekem.json vectors (../shared/vectors/mls), ciphersuite 1, through the
// patched ts-mls: every UpdatePath is merged into the tree (parent-hash checked by ts-mls's
// applyUpdatePath) to the vector's tree hash, every other leaf holding private keys decrypts the
// vector's path secret and derives its commit secret; then each sender makes a new UpdatePath of
// its own and every other leaf derives the same commit secret from it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GroupContext } from 'ts-mls';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { applyUpdatePath, createUpdatePath, decodeUpdatePath } from 'ts-mls/updatePath.js';
import { applyUpdatePathSecret } from 'ts-mls/createCommit.js';
import { getCommitSecret } from 'ts-mls/pathSecrets.js';
import { toPrivateKeyPath, type PrivateKeyPath } from 'ts-mls/privateKeyPath.js';
import { treeHashRoot } from 'ts-mls/treeHash.js';
import { verifyParentHashes } from 'ts-mls/parentHash.js';
import { root, leafWidth, toLeafIndex, toNodeIndex } from 'ts-mls/treemath.js';
import { deriveSecret } from 'ts-mls/crypto/kdf.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { ciphersuiteFor } from '../../src-main/mls/crypto-selftest.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mls');

interface TreeKem {
  cipher_suite: number;
  group_id: string;
  epoch: number;
  confirmed_transcript_hash: string;
  ratchet_tree: string;
  leaves_private: { index: number; encryption_priv: string; signature_priv: string; path_secrets: { node: number; path_secret: string }[] }[];
  update_paths: { sender: number; update_path: string; path_secrets: (string | null)[]; commit_secret: string; tree_hash_after: string }[];
}

test('treekem.json (suite 1): UpdatePaths merge to the vector tree hash; every receiver gets the path and commit secrets', async () => {
  const all = JSON.parse(readFileSync(path.join(VECTORS, 'treekem.json'), 'utf8')) as TreeKem[];
  const run = all.filter((v) => v.cipher_suite === 1);
  assert.ok(run.length > 0);
  const cs = await ciphersuiteFor('node');
  let receivers = 0;
  for (const v of run) {
    const tree = decodeRatchetTree(fromHex(v.ratchet_tree), 0)![0];
    const context = (treeHash: Uint8Array, epoch = BigInt(v.epoch)): GroupContext => ({
      version: 'mls10',
      cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
      groupId: fromHex(v.group_id),
      epoch,
      treeHash,
      confirmedTranscriptHash: fromHex(v.confirmed_transcript_hash),
      extensions: [],
    });
    // Each leaf's private state: its leaf key plus the node keys of its path secrets.
    const privates = new Map<number, PrivateKeyPath>();
    for (const l of v.leaves_private) {
      const secrets = Object.fromEntries(l.path_secrets.map((p) => [p.node, fromHex(p.path_secret)]));
      const fromSecrets = await toPrivateKeyPath(secrets, l.index, cs);
      privates.set(l.index, { leafIndex: l.index, privateKeys: { ...fromSecrets.privateKeys, [2 * l.index]: fromHex(l.encryption_priv) } });
      // Consistent with the tree: every private node key matches the public key there.
      for (const [node, priv] of Object.entries(privates.get(l.index)!.privateKeys)) {
        const n = tree[Number(node)];
        assert.ok(n !== undefined, `node ${node} of leaf ${l.index}'s private state is not blank`);
        const expected = n.nodeType === 'leaf' ? n.leaf.hpkePublicKey : n.parent.hpkePublicKey;
        assert.equal(toHex(x25519.getPublicKey(priv)), toHex(expected), `leaf ${l.index}'s key for node ${node}`);
      }
    }

    for (const up of v.update_paths) {
      const sender = toLeafIndex(up.sender);
      const updatePath = decodeUpdatePath(fromHex(up.update_path), 0)![0];
      const after = await applyUpdatePath(tree, sender, updatePath, cs.hash);
      assert.equal(toHex(await treeHashRoot(after, cs.hash)), up.tree_hash_after);
      assert.equal(await verifyParentHashes(after, cs.hash), true);
      const gc = context(fromHex(up.tree_hash_after));
      for (const [j, priv] of privates) {
        if (j === up.sender || up.path_secrets[j] === null || up.path_secrets[j] === undefined) continue;
        const got = await applyUpdatePathSecret(after, priv, sender, gc, updatePath, [], cs);
        assert.equal(toHex(got.pathSecret), up.path_secrets[j], `path secret of leaf ${j} from sender ${up.sender}`);
        assert.equal(toHex(await getCommitSecret(after, toNodeIndex(got.nodeIndex), got.pathSecret, cs.kdf)), up.commit_secret);
        receivers++;
      }

      // A new UpdatePath from the same sender: everyone derives the sender's commit secret.
      const signer = v.leaves_private.find((l) => l.index === up.sender);
      if (signer === undefined) continue;
      const [mine, newPath, pathSecrets] = await createUpdatePath(tree, sender, context(await treeHashRoot(tree, cs.hash)), fromHex(signer.signature_priv), cs);
      const rootIndex = root(leafWidth(mine.length));
      const rootSecret = pathSecrets.find((p) => p.nodeIndex === rootIndex)?.secret;
      assert.ok(rootSecret, 'the new path reaches the root');
      const newCommitSecret = await deriveSecret(rootSecret, 'path', cs.kdf);
      const merged = await applyUpdatePath(tree, sender, newPath, cs.hash);
      assert.equal(toHex(await treeHashRoot(merged, cs.hash)), toHex(await treeHashRoot(mine, cs.hash)));
      // createUpdatePath encrypts under the next epoch's GroupContext (ts-mls's convention).
      const gcNew = context(await treeHashRoot(merged, cs.hash), BigInt(v.epoch) + 1n);
      for (const [j, priv] of privates) {
        if (j === up.sender || tree[2 * j] === undefined) continue;
        const got = await applyUpdatePathSecret(merged, priv, sender, gcNew, newPath, [], cs);
        assert.equal(toHex(await getCommitSecret(merged, toNodeIndex(got.nodeIndex), got.pathSecret, cs.kdf)), toHex(newCommitSecret));
      }
    }
  }
  assert.ok(receivers > 0);
  console.log(`treekem: ${run.length} suite-1 trees, ${receivers} receiver checks, ${all.length - run.length} entries of other suites skipped`);

});
