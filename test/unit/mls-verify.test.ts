// src-shared/mls-verify.ts: tree hashes, resolutions and parent hashes against the RFC 9420 test
// vectors (tree-validation.json); GroupInfo, tree and PublicMessage signatures against the vectors
// of a real group (welcome.json, passive-client-*.json: the Welcome decrypted here to reach the
// GroupInfo); then the same checks on what the app's engine (ts-mls) produces, accepted as made
// and refused with one bit flipped in the signature, the signed content, or the tree.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gcm } from '@noble/ciphers/aes.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex, utf8 } from '../../src-shared/bytes.js';
import { decryptWithLabel } from '../../src-shared/mls-crypto.js';
import {
  decodeGroupInfo,
  decodePublicMessage,
  decodeRatchetTree,
  decodeWelcome,
  encodeRatchetTree,
  keyPackageRef,
  StructReader,
  unwrapMlsMessage,
  type GroupInfo,
  type RatchetTree,
} from '../../src-shared/mls-structs.js';
import {
  framedContentTbs,
  MlsVerifyError,
  nodeTreeHash,
  resolution,
  rootOf,
  suiteHash,
  treeHash,
  verifyGroupInfoSignature,
  verifyGroupInfoSignatureWith,
  verifyParentHashes,
  verifyPublicMessage,
  verifyTree,
} from '../../src-shared/mls-verify.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';

const VECTORS = '/work/shared/vectors/mls';
const haveVectors = fs.existsSync(path.join(VECTORS, 'tree-validation.json'));
const vectors = <T>(file: string): T[] => JSON.parse(fs.readFileSync(path.join(VECTORS, file), 'utf8')) as T[];
/** The ciphersuites this module knows (SHA-256, Ed25519; X25519 and AES-128-GCM for the Welcome below: 1). */
const known = (suite: number) => suite === 1 || suite === 3;

const flip = (bytes: Uint8Array, at: number): Uint8Array => bytes.map((b, i) => (i === at ? b ^ 1 : b));
const verifyError = (re: RegExp) => (e: unknown) => e instanceof MlsVerifyError && re.test(e.message);

describe('RFC 9420 vectors: tree-validation.json', { skip: !haveVectors && 'no vectors' }, () => {
  const cases = haveVectors ? vectors<{ cipher_suite: number; tree: string; tree_hashes: string[]; resolutions: number[][] }>('tree-validation.json').filter((v) => known(v.cipher_suite)) : [];

  test('the tree hash and resolution of every node, and the parent hashes of every tree, are the vectors\'', () => {
    assert.ok(cases.length >= 20, `${cases.length} vectors`);
    for (const [n, v] of cases.entries()) {
      const tree = decodeRatchetTree(fromHex(v.tree));
      v.tree_hashes.forEach((h, i) => assert.equal(toHex(nodeTreeHash(tree, i, suiteHash(v.cipher_suite))), h, `vector ${n}, node ${i}`));
      v.resolutions.forEach((r, i) => assert.deepEqual(resolution(tree, i), r, `vector ${n}, node ${i}`));
      assert.equal(toHex(treeHash(tree, v.cipher_suite)), v.tree_hashes[rootOf(tree.nodes.length)]);
      verifyParentHashes(tree, v.cipher_suite);
    }
  });

  test('a parent node or committed leaf with one bit flipped breaks the parent hashes', () => {
    let broken = 0;
    for (const v of cases) {
      const tree = decodeRatchetTree(fromHex(v.tree));
      // Each non-blank parent node: a bit of its encryption key (which its children's parent hashes cover).
      for (const [i, node] of tree.nodes.entries()) {
        if (node?.nodeType !== 'parent') continue;
        const bad: RatchetTree = { ...tree, nodes: tree.nodes.map((n, j) => (j === i && n?.nodeType === 'parent' ? { ...n, parent: { ...n.parent, encryptionKey: flip(n.parent.encryptionKey, 0) } } : n)) };
        const reencoded = decodeRatchetTree(encodeRatchetTree(bad));
        assert.throws(() => verifyParentHashes(reencoded, v.cipher_suite), verifyError(/not parent-hash valid/));
        broken++;
      }
    }
    assert.ok(broken > 50, `${broken} trees broken`);
  });
});

// ---- The Welcome, decrypted (RFC 9420 8, 12.4.3.1), to reach a real GroupInfo ----

/** ExpandWithLabel (RFC 9420 8) with HKDF-SHA256. */
const expandWithLabel = (secret: Uint8Array, label: string, context: Uint8Array, length: number) =>
  expand(sha256, secret, new TlsWriter().u16(length).opaqueV(utf8('MLS 1.0 ' + label)).opaqueV(context).finish(), length);

/** The GroupInfo in a Welcome for `keyPackage`, or undefined when the Welcome needs PSKs. */
function openWelcome(welcomeMessage: Uint8Array, keyPackageMessage: Uint8Array, initPriv: Uint8Array): GroupInfo | undefined {
  const welcome = decodeWelcome(unwrapMlsMessage(welcomeMessage).body);
  const ref = toHex(keyPackageRef(unwrapMlsMessage(keyPackageMessage).body));
  const mine = welcome.secrets.find((s) => toHex(s.newMember) === ref)!;
  const secrets = decryptWithLabel(initPriv, 'Welcome', welcome.encryptedGroupInfo, mine.encryptedGroupSecrets.kemOutput, mine.encryptedGroupSecrets.ciphertext);
  const r = new StructReader(secrets);
  const joinerSecret = r.opaqueV();
  r.opt((s) => s.opaqueV()); // path_secret
  const psks = r.opaqueV();
  if (psks.length > 0) return undefined;
  const memberSecret = extract(sha256, new Uint8Array(32), joinerSecret); // psk_secret: zeros
  const welcomeSecret = expandWithLabel(memberSecret, 'welcome', new Uint8Array(), 32);
  const key = expandWithLabel(welcomeSecret, 'key', new Uint8Array(), 16);
  const nonce = expandWithLabel(welcomeSecret, 'nonce', new Uint8Array(), 12);
  return decodeGroupInfo(gcm(key, nonce, new Uint8Array()).decrypt(welcome.encryptedGroupInfo));
}

const RATCHET_TREE_EXTENSION = 2;

describe('RFC 9420 vectors: a real group\'s GroupInfo, tree and handshake messages', { skip: !haveVectors && 'no vectors' }, () => {
  test('welcome.json: the GroupInfo signature verifies with signer_pub, and not with one bit flipped', () => {
    const v = vectors<{ cipher_suite: number; init_priv: string; key_package: string; signer_pub: string; welcome: string }>('welcome.json').find((x) => x.cipher_suite === 1)!;
    const gi = openWelcome(fromHex(v.welcome), fromHex(v.key_package), fromHex(v.init_priv))!;
    verifyGroupInfoSignatureWith(gi, fromHex(v.signer_pub));
    assert.throws(() => verifyGroupInfoSignatureWith({ ...gi, signature: flip(gi.signature, 5) }, fromHex(v.signer_pub)), verifyError(/GroupInfo signature does not verify/));
    assert.throws(() => verifyGroupInfoSignatureWith(decodeGroupInfo(flip(gi.raw, 20)), fromHex(v.signer_pub)), verifyError(/GroupInfo signature does not verify/));
  });

  test('passive-client-*.json: the GroupInfo\'s tree matches its tree hash, its signature verifies, and so do the first epoch\'s PublicMessages', () => {
    type Passive = { cipher_suite: number; key_package: string; init_priv: string; welcome: string; ratchet_tree: string | null; epochs: { proposals: string[]; commit: string }[] };
    let groups = 0;
    let messages = 0;
    for (const file of ['passive-client-welcome.json', 'passive-client-handling-commit.json', 'passive-client-random.json']) {
      for (const v of vectors<Passive>(file).filter((x) => x.cipher_suite === 1)) {
        const gi = openWelcome(fromHex(v.welcome), fromHex(v.key_package), fromHex(v.init_priv));
        if (!gi) continue; // a Welcome that needs PSKs: its key schedule is not this test's
        const inGi = gi.extensions.find((e) => e.extensionType === RATCHET_TREE_EXTENSION)?.extensionData;
        const tree = decodeRatchetTree(v.ratchet_tree ? fromHex(v.ratchet_tree) : inGi!);
        verifyTree(tree, gi.groupContext);
        verifyGroupInfoSignature(gi, tree);
        groups++;
        const first = v.epochs[0];
        for (const m of first ? [...first.proposals, first.commit] : []) {
          const bytes = fromHex(m);
          if (unwrapMlsMessage(bytes).wireFormat !== 'public') continue;
          const message = decodePublicMessage(bytes);
          const type = message.content.sender.senderType;
          if (type !== 'member' && type !== 'new_member_commit') continue;
          verifyPublicMessage(message, tree, gi.groupContext);
          assert.throws(() => verifyPublicMessage({ ...message, signature: flip(message.signature, 9) }, tree, gi.groupContext), verifyError(/signature does not verify/));
          messages++;
        }
      }
    }
    assert.ok(groups >= 5, `${groups} groups`);
    assert.ok(messages >= 1, `${messages} messages`);
    console.log(`passive-client vectors: ${groups} groups, ${messages} PublicMessages verified`);
  });
});

// ---- What the app's engine produces ----

describe('the engine\'s groups (ts-mls)', () => {
  const ROOM = 'mimi://a.example/r/verify';
  const ALICE = 'mimi://a.example/d/alice/laptop';
  const BOB = 'mimi://b.example/d/bob/phone';
  const CAROL = 'mimi://a.example/d/carol/desk';

  const gi = (message: Uint8Array) => decodeGroupInfo(unwrapMlsMessage(message).body);

  test('GroupInfo and tree of a new group, of a two-member group, and after each kind of commit verify; one bit flipped does not', async () => {
    const engine = await createMlsEngine();
    const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((u) => engine.newDeviceKeys(u)));
    const g0 = await engine.createGroup(alice, ROOM);
    const epoch0 = await g0.groupInfo();
    const check = (out: { groupInfo: Uint8Array; ratchetTree: Uint8Array }) => {
      const info = gi(out.groupInfo);
      const tree = decodeRatchetTree(out.ratchetTree);
      verifyTree(tree, info.groupContext);
      verifyGroupInfoSignature(info, tree);
      return { info, tree };
    };
    const s0 = check(epoch0);

    // alice adds bob: alice's commit is signed over epoch 0.
    const [bobKp] = await engine.generateKeyPackages(bob, 1);
    const added = await g0.add([bobKp.publicMessage]);
    const addMessage = decodePublicMessage(added.commit);
    verifyPublicMessage(addMessage, s0.tree, s0.info.groupContext);
    const s1 = check(added);
    const bobS = await engine.joinFromWelcome(bob, added.welcome!, bobKp, added.ratchetTree);

    // bob (leaf 1) commits a path update in epoch 1; carol joins by external commit from epoch 2.
    const update = await bobS.update();
    const upd = decodePublicMessage(update.commit);
    assert.equal(upd.content.sender.index, 1);
    verifyPublicMessage(upd, s1.tree, s1.info.groupContext);
    const s2 = check(update);
    const joined = await engine.joinExternal(carol, update.groupInfo, update.ratchetTree);
    const ext = decodePublicMessage(joined.commit);
    assert.equal(ext.content.sender.senderType, 'new_member_commit');
    verifyPublicMessage(ext, s2.tree, s2.info.groupContext);
    check(await joined.pending.groupInfo());

    // A proposal (bob's own Remove) is signed over its epoch's GroupContext.
    const { proposals } = await bobS.proposeRemove([BOB]);
    verifyPublicMessage(decodePublicMessage(proposals[0]), s1.tree, s1.info.groupContext);

    // Refusals: the signature, the signed content, the GroupContext, the sender's key, the epoch.
    const bad = /signature does not verify/;
    assert.throws(() => verifyPublicMessage({ ...upd, signature: flip(upd.signature, 0) }, s1.tree, s1.info.groupContext), verifyError(bad));
    const contentFlipped = decodePublicMessage(flip(update.commit, 4 + upd.content.raw.length - 1));
    assert.throws(() => verifyPublicMessage(contentFlipped, s1.tree, s1.info.groupContext), verifyError(bad));
    assert.throws(() => verifyPublicMessage(addMessage, s0.tree, { ...s0.info.groupContext, raw: flip(s0.info.groupContext.raw, s0.info.groupContext.raw.length - 3) }), verifyError(bad));
    assert.throws(() => verifyPublicMessage({ ...upd, content: { ...upd.content, sender: { senderType: 'member', index: 0 } } }, s1.tree, s1.info.groupContext), verifyError(bad));
    assert.throws(() => verifyPublicMessage(upd, s2.tree, s2.info.groupContext), verifyError(/epoch 1, the GroupContext is of epoch 2/));
    assert.throws(() => verifyPublicMessage({ ...upd, content: { ...upd.content, sender: { senderType: 'member', index: 5 } } }, s1.tree, s1.info.groupContext), verifyError(/leaf 5 is blank or outside/));
    assert.throws(() => verifyPublicMessage(upd, s1.tree, { ...s1.info.groupContext, cipherSuite: 2 }), verifyError(/cipher suite 2 is not supported/));
    // The external commit's key is its UpdatePath leaf's: another leaf there is another signer.
    assert.throws(() => verifyPublicMessage({ ...ext, content: { ...ext.content, path: { ...ext.content.path!, leafNode: upd.content.path!.leafNode } } }, s2.tree, s2.info.groupContext), verifyError(bad));

    // The GroupInfo: its signature, its content, its signer.
    assert.throws(() => verifyGroupInfoSignature({ ...s1.info, signature: flip(s1.info.signature, 63) }, s1.tree), verifyError(/GroupInfo signature does not verify/));
    assert.throws(() => verifyGroupInfoSignature(gi(flip(added.groupInfo, 30)), s1.tree), verifyError(/GroupInfo signature does not verify/));
    assert.throws(() => verifyGroupInfoSignature({ ...s1.info, signer: 1 }, s1.tree), verifyError(/GroupInfo signature does not verify with the signature key of leaf 1/));
    assert.throws(() => verifyGroupInfoSignature({ ...s1.info, signer: 7 }, s1.tree), verifyError(/leaf 7 is blank or outside/));

    // The tree: another epoch's, and one bit flipped in a leaf (its signature is not this module's
    // to check, but the tree hash covers every byte).
    assert.throws(() => verifyTree(s2.tree, s1.info.groupContext), verifyError(/tree hash is not the GroupContext's tree_hash/));
    const leafFlipped = decodeRatchetTree(flip(added.ratchetTree, 20));
    assert.throws(() => verifyTree(leafFlipped, s1.info.groupContext), verifyError(/tree hash/));
  });

  test('the FramedContentTBS of a member covers the GroupContext; an external sender\'s does not', async () => {
    const engine = await createMlsEngine();
    const alice = await engine.newDeviceKeys(ALICE);
    const g = await engine.createGroup(alice, ROOM);
    const out = await g.update();
    const m = decodePublicMessage(out.commit);
    const context = gi((await g.groupInfo()).groupInfo).groupContext;
    const tbs = framedContentTbs(m, context);
    assert.equal(tbs.length, 4 + m.content.raw.length + context.raw.length);
    assert.throws(() => framedContentTbs(m), verifyError(/covers the GroupContext/));
    const external = { ...m, content: { ...m.content, sender: { senderType: 'external' as const, index: 0 } } };
    assert.equal(framedContentTbs(external).length, 4 + m.content.raw.length);
  });
});
