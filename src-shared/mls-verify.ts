// What a party without group keys can verify of an MLS commit bundle (RFC 9420): the signatures of
// PublicMessages (6.1, FramedContentTBS), GroupInfo (12.4.3, GroupInfoTBS), LeafNodes (7.2,
// LeafNodeTBS) and KeyPackages (10, KeyPackageTBS), the tree hash of a
// ratchet tree against a GroupContext (7.8), and its parent hashes (7.9.2). The hub runs these before
// it stores or relays anything, so a forged commit no longer reaches the members to be caught there.
//
// Pure functions over the structures of mls-structs.ts. Every check hashes or verifies the exact
// bytes a structure was decoded from (`raw`), never a re-encoding, so what ts-mls produced with its
// quirks (e.g. its external_senders encoding inside a GroupContext) verifies as it was signed.
// What is not checkable without group secrets is not attempted: membership_tag, confirmation_tag,
// the UpdatePath's ciphertexts. Only the ciphersuites with SHA-256 and Ed25519 (1 and 3) are known.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual } from './bytes.js';
import { verifyWithLabel } from './mls-crypto.js';
import { MLS10 } from './mls-wire.js';
import {
  readExtensions,
  readGroupContext,
  StructReader,
  WIRE_FORMATS,
  writeParentNode,
  type GroupContext,
  type GroupInfo,
  type KeyPackage,
  type LeafNode,
  type Node,
  type ParentNode,
  type PublicMessage,
  type RatchetTree,
} from './mls-structs.js';
import { TlsWriter } from './tls.js';

export class MlsVerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MlsVerifyError';
  }
}

type Hash = (data: Uint8Array) => Uint8Array;

/** The hash of a ciphersuite this module knows: 1 and 3 (both SHA-256 and Ed25519). */
export function suiteHash(cipherSuite: number): Hash {
  if (cipherSuite === 1 || cipherSuite === 3) return sha256;
  throw new MlsVerifyError(`cipher suite ${cipherSuite} is not supported (only 1 and 3)`);
}

// ---------------------------------------------------------------------------------------------
// Tree math (RFC 9420 Appendix C) over the array form of a ratchet tree

/** The level of node x: the number of trailing 1 bits (leaves are level 0). */
function level(x: number): number {
  let k = 0;
  while ((x >> k) & 1) k++;
  return k;
}

const leftChild = (x: number): number => x ^ (1 << (level(x) - 1));
const rightChild = (x: number): number => x ^ (3 << (level(x) - 1));

/** The root of the smallest full tree (a power of two leaves) that holds `nodeCount` nodes. */
export function rootOf(nodeCount: number): number {
  if (nodeCount <= 0) throw new MlsVerifyError('the ratchet tree is empty');
  const leaves = Math.ceil(nodeCount / 2);
  let width = 1;
  while (width < leaves) width *= 2;
  return width - 1;
}

/** The nodes of the subtree under x are [first, last]. */
function subtreeRange(x: number): [number, number] {
  const half = (1 << level(x)) - 1;
  return [x - half, x + half];
}

const nodeAt = (tree: RatchetTree, x: number): Node | null => tree.nodes[x] ?? null;

// ---------------------------------------------------------------------------------------------
// Resolution (4.1.1), tree hash (7.8)

/** The resolution of node x: its non-blank nodes covering the subtree, unmerged leaves included (node indices). */
export function resolution(tree: RatchetTree, x: number): number[] {
  const node = nodeAt(tree, x);
  if (node) return node.nodeType === 'parent' ? [x, ...node.parent.unmergedLeaves.map((l) => 2 * l)] : [x];
  if (level(x) === 0) return [];
  return [...resolution(tree, leftChild(x)), ...resolution(tree, rightChild(x))];
}

/**
 * The tree hash of node x (RFC 9420 7.8). `removed`: leaf indices to treat as blank and to drop
 * from every unmerged_leaves list (how an original sibling tree hash is taken, 7.9). `memo` caches
 * the hashes of the tree as it is (only used when nothing is removed).
 */
export function nodeTreeHash(tree: RatchetTree, x: number, hash: Hash, removed?: ReadonlySet<number>, memo?: Map<number, Uint8Array>): Uint8Array {
  const plain = !removed || removed.size === 0;
  if (plain && memo?.has(x)) return memo.get(x)!;
  const node = nodeAt(tree, x);
  const w = new TlsWriter();
  if (level(x) === 0) {
    if (node && node.nodeType !== 'leaf') throw new MlsVerifyError(`ratchet tree node ${x} is not a leaf`);
    const leaf = node && !removed?.has(x / 2) ? node.leaf : undefined;
    w.u8(1).u32(x / 2);
    if (leaf) w.u8(1).bytes(leaf.raw);
    else w.u8(0);
  } else {
    if (node && node.nodeType !== 'parent') throw new MlsVerifyError(`ratchet tree node ${x} is not a parent`);
    w.u8(2);
    if (node) w.u8(1).bytes(parentNodeBytes(node.parent, removed));
    else w.u8(0);
    w.opaqueV(nodeTreeHash(tree, leftChild(x), hash, removed, memo));
    w.opaqueV(nodeTreeHash(tree, rightChild(x), hash, removed, memo));
  }
  const h = hash(w.finish());
  if (plain) memo?.set(x, h);
  return h;
}

function parentNodeBytes(p: ParentNode, removed?: ReadonlySet<number>): Uint8Array {
  if (!removed || !p.unmergedLeaves.some((l) => removed.has(l))) return p.raw;
  const w = new TlsWriter();
  writeParentNode(w, { encryptionKey: p.encryptionKey, parentHash: p.parentHash, unmergedLeaves: p.unmergedLeaves.filter((l) => !removed.has(l)) });
  return w.finish();
}

/** The tree hash of the whole tree: its root's (the GroupContext's tree_hash). */
export function treeHash(tree: RatchetTree, cipherSuite: number): Uint8Array {
  return nodeTreeHash(tree, rootOf(tree.nodes.length), suiteHash(cipherSuite), undefined, new Map());
}

// ---------------------------------------------------------------------------------------------
// Parent hashes (7.9)

/** The parent_hash a node carries: a parent node's, or a leaf's whose source is a commit. */
function carriedParentHash(node: Node | null): Uint8Array | undefined {
  if (!node) return undefined;
  if (node.nodeType === 'parent') return node.parent.parentHash;
  return node.leaf.source.type === 'commit' ? node.leaf.source.parentHash : undefined;
}

/** The parent hash of parent node p with co-path child s (ParentHashInput, 7.9). */
export function parentHashOf(tree: RatchetTree, p: number, s: number, hash: Hash, memo?: Map<number, Uint8Array>): Uint8Array {
  const node = nodeAt(tree, p);
  if (!node || node.nodeType !== 'parent') throw new MlsVerifyError(`ratchet tree node ${p} is not a parent node`);
  const removed = new Set(node.parent.unmergedLeaves);
  const originalSiblingTreeHash = nodeTreeHash(tree, s, hash, removed, memo);
  const input = new TlsWriter().opaqueV(node.parent.encryptionKey).opaqueV(node.parent.parentHash).opaqueV(originalSiblingTreeHash).finish();
  return hash(input);
}

/**
 * Verifies that every non-blank parent node is parent-hash valid (RFC 9420 7.9.2): for one of its
 * children C (S the other one) some D in C's resolution carries the parent hash of P with co-path
 * child S, and P's unmerged leaves under C are exactly the rest of that resolution.
 */
export function verifyParentHashes(tree: RatchetTree, cipherSuite: number): void {
  const hash = suiteHash(cipherSuite);
  const memo = new Map<number, Uint8Array>();
  const count = 2 * (rootOf(tree.nodes.length) + 1) - 1;
  for (let p = 1; p < Math.min(count, tree.nodes.length); p += 2) {
    const node = nodeAt(tree, p);
    if (!node) continue;
    if (node.nodeType !== 'parent') throw new MlsVerifyError(`ratchet tree node ${p} is not a parent node`);
    const [l, r] = [leftChild(p), rightChild(p)];
    const valid = [
      [l, r],
      [r, l],
    ].some(([c, s]) => {
      const expected = parentHashOf(tree, p, s, hash, memo);
      const res = resolution(tree, c);
      const [first, last] = subtreeRange(c);
      const unmergedUnderC = new Set(node.parent.unmergedLeaves.map((u) => 2 * u).filter((n) => n >= first && n <= last));
      return res.some((d) => {
        const carried = carriedParentHash(nodeAt(tree, d));
        if (!carried || !bytesEqual(carried, expected)) return false;
        const rest = res.filter((n) => n !== d);
        return rest.length === unmergedUnderC.size && rest.every((n) => unmergedUnderC.has(n));
      });
    });
    if (!valid) throw new MlsVerifyError(`ratchet tree node ${p} is not parent-hash valid`);
  }
}

/** The submitted tree is the one the GroupContext commits to (tree hash), and its parent hashes hold. */
export function verifyTree(tree: RatchetTree, groupContext: GroupContext): void {
  if (!bytesEqual(treeHash(tree, groupContext.cipherSuite), groupContext.treeHash)) {
    throw new MlsVerifyError("the ratchet tree's tree hash is not the GroupContext's tree_hash");
  }
  verifyParentHashes(tree, groupContext.cipherSuite);
}

// ---------------------------------------------------------------------------------------------
// Signatures (5.1.2): GroupInfo (12.4.3), PublicMessage (6.1)

/** The non-blank leaf `leafIndex` of a tree. */
export function leafAt(tree: RatchetTree, leafIndex: number, what: string): LeafNode {
  const node = Number.isInteger(leafIndex) && leafIndex >= 0 ? nodeAt(tree, 2 * leafIndex) : null;
  if (!node || node.nodeType !== 'leaf') throw new MlsVerifyError(`${what}: leaf ${leafIndex} is blank or outside the ratchet tree`);
  return node.leaf;
}

/** GroupInfoTBS: the GroupInfo's fields before its signature, as encoded. */
export function groupInfoTbs(groupInfo: GroupInfo): Uint8Array {
  const r = new StructReader(groupInfo.raw);
  readGroupContext(r);
  readExtensions(r);
  r.opaqueV(); // confirmation_tag
  r.u32(); // signer
  return r.rawSince(0);
}

/** The GroupInfo is signed by its signer's leaf in `tree` (the tree of the GroupInfo's epoch). */
export function verifyGroupInfoSignature(groupInfo: GroupInfo, tree: RatchetTree): void {
  verifyGroupInfoSignatureWith(groupInfo, leafAt(tree, groupInfo.signer, 'GroupInfo signer').signatureKey);
}

/** The GroupInfo is signed with `signatureKey` (its signer's, found by the caller). */
export function verifyGroupInfoSignatureWith(groupInfo: GroupInfo, signatureKey: Uint8Array): void {
  suiteHash(groupInfo.groupContext.cipherSuite);
  if (!verifyWithLabel(signatureKey, 'GroupInfoTBS', groupInfoTbs(groupInfo), groupInfo.signature)) {
    throw new MlsVerifyError(`the GroupInfo signature does not verify with the signature key of leaf ${groupInfo.signer}`);
  }
}

/** A signed structure's bytes before its trailing `opaque signature<V>`: what was signed. */
function withoutSignature(raw: Uint8Array, signature: Uint8Array): Uint8Array {
  const tail = new TlsWriter().opaqueV(signature).finish().length;
  if (tail > raw.length || !bytesEqual(raw.subarray(raw.length - tail), new TlsWriter().opaqueV(signature).finish())) {
    throw new MlsVerifyError('the structure does not end with its signature');
  }
  return raw.subarray(0, raw.length - tail);
}

/**
 * LeafNodeTBS (7.2): the leaf's fields before its signature, and for a leaf made by an Update or a
 * Commit also the group and its leaf index (a KeyPackage's leaf is signed for any group).
 */
export function leafNodeTbs(leaf: LeafNode, groupId: Uint8Array, leafIndex: number): Uint8Array {
  const w = new TlsWriter().bytes(withoutSignature(leaf.raw, leaf.signature));
  if (leaf.source.type !== 'key_package') w.opaqueV(groupId).u32(leafIndex);
  return w.finish();
}

/** The leaf is signed with its own signature key (as leaf `leafIndex` of group `groupId`). */
export function verifyLeafNodeSignature(leaf: LeafNode, groupId: Uint8Array, leafIndex: number): void {
  if (!verifyWithLabel(leaf.signatureKey, 'LeafNodeTBS', leafNodeTbs(leaf, groupId, leafIndex), leaf.signature)) {
    throw new MlsVerifyError(`the LeafNode signature of leaf ${leafIndex} does not verify with its own signature key`);
  }
}

/**
 * Every leaf of `tree` that is not the same as in `before` (the previous epoch's tree: new members,
 * the committer's new leaf, updated ones) carries a valid signature. Unchanged leaves were checked
 * when they came in. Without `before`, every leaf is checked.
 */
export function verifyChangedLeaves(tree: RatchetTree, groupId: Uint8Array, before?: RatchetTree): void {
  for (let i = 0; 2 * i < tree.nodes.length; i++) {
    const node = tree.nodes[2 * i];
    if (node?.nodeType !== 'leaf') continue;
    const old = before?.nodes[2 * i];
    if (old?.nodeType === 'leaf' && bytesEqual(old.leaf.raw, node.leaf.raw)) continue;
    verifyLeafNodeSignature(node.leaf, groupId, i);
  }
}

/** A KeyPackage (10) is signed with its leaf's signature key, and its leaf is validly signed too. */
export function verifyKeyPackageSignature(kp: KeyPackage): void {
  if (kp.leafNode.source.type !== 'key_package') throw new MlsVerifyError("a KeyPackage's leaf must have the key_package source");
  if (!verifyWithLabel(kp.leafNode.signatureKey, 'KeyPackageTBS', withoutSignature(kp.raw, kp.signature), kp.signature)) {
    throw new MlsVerifyError('the KeyPackage signature does not verify with its leaf signature key');
  }
  verifyLeafNodeSignature(kp.leafNode, new Uint8Array(0), 0);
}

/** FramedContentTBS (6.1): member and new-member commit senders also sign the epoch's GroupContext. */
export function framedContentTbs(message: PublicMessage, groupContext?: GroupContext): Uint8Array {
  const w = new TlsWriter().u16(MLS10).u16(WIRE_FORMATS.public).bytes(message.content.raw);
  const type = message.content.sender.senderType;
  if (type === 'member' || type === 'new_member_commit') {
    if (!groupContext) throw new MlsVerifyError(`a ${type} sender's signature covers the GroupContext, none given`);
    w.bytes(groupContext.raw);
  }
  return w.finish();
}

/**
 * The key a PublicMessage must be signed with: a member's leaf in the current epoch's tree, or for
 * an external commit the joiner's new leaf, in its UpdatePath. External senders are named by the
 * GroupContext's external_senders and new-member proposals by their KeyPackage: not handled here.
 */
export function messageSignatureKey(message: PublicMessage, currentTree: RatchetTree): Uint8Array {
  const { sender, contentType, path } = message.content;
  if (sender.senderType === 'member') return leafAt(currentTree, sender.index!, 'message sender').signatureKey;
  if (sender.senderType === 'new_member_commit') {
    if (contentType !== 'commit') throw new MlsVerifyError('a new_member_commit sender sends only commits');
    if (!path) throw new MlsVerifyError('an external commit must carry an UpdatePath');
    return path.leafNode.signatureKey;
  }
  throw new MlsVerifyError(`cannot verify a message from a ${sender.senderType} sender`);
}

/**
 * Verifies a PublicMessage's signature against the current epoch (its GroupContext and tree). The
 * message must be for that epoch and group: a signature over another context proves nothing here.
 */
export function verifyPublicMessage(message: PublicMessage, currentTree: RatchetTree, groupContext: GroupContext): void {
  suiteHash(groupContext.cipherSuite);
  const c = message.content;
  if (!bytesEqual(c.groupId, groupContext.groupId)) throw new MlsVerifyError('the message is for another group than the GroupContext');
  if (c.epoch !== groupContext.epoch) throw new MlsVerifyError(`the message is for epoch ${c.epoch}, the GroupContext is of epoch ${groupContext.epoch}`);
  const key = messageSignatureKey(message, currentTree);
  if (!verifyWithLabel(key, 'FramedContentTBS', framedContentTbs(message, groupContext), message.signature)) {
    const who = c.sender.senderType === 'member' ? `leaf ${c.sender.index}` : 'the joiner\'s UpdatePath leaf';
    throw new MlsVerifyError(`the ${c.contentType} signature does not verify with the signature key of ${who}`);
  }
}
