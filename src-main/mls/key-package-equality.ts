// ts-mls's KeyPackage equality (ClientConfig.keyPackageEqualityConfig), made cheap for big commits.
//
// Why: validating a commit, ts-mls compares every added KeyPackage with every other one (a
// `some` inside a `some`: a million calls for a 1,000-member add, on the committer and again on
// every receiver) in one synchronous stretch. Its default compares the signature keys in constant
// time; following a.leafNode.signaturePublicKey and b's for scattered objects made each call
// ~200-400 ns, 250-650 ms per 1,000-member commit, measured with --cpu-prof, and an event-loop
// stall of that length. The adapter tags the KeyPackages of a commit it is about to make or process
// (indexKeyPackages, O(n)), and two tagged in the same batch compare by their tag: ~20 ns.
// Anything else (untagged, or from different batches) compares the key bytes. Signature keys are
// public, so an early exit leaks nothing.
//
// Since scripts/patch-ts-mls.mjs patch 9, ts-mls does not compare pairs for those checks at all when
// the config also gives keys (mimiKeyPackageKey / mimiLeafNodeKey below: the signature key, so equal
// keys exactly when the comparisons say equal): a set lookup per Add, O(n). The comparisons (and the
// tags) stay for ts-mls's other uses and for an unpatched ts-mls.

import type { KeyPackage, KeyPackageEqualityConfig, LeafNode } from 'ts-mls';

/** Tags are `batch * BATCH_SPAN + id`, where equal signature keys in one batch share the id. */
const BATCH_SPAN = 2 ** 24;
const tags = new WeakMap<KeyPackage, number>();
let batch = 0;

/** Tags `keyPackages` (one commit's Adds) so the equality checks of that commit are cheap. */
export function indexKeyPackages(keyPackages: readonly KeyPackage[]): void {
  if (keyPackages.length < 2 || keyPackages.length >= BATCH_SPAN) return;
  batch++;
  const ids = new Map<string, number>();
  for (const kp of keyPackages) {
    const key = Buffer.from(kp.leafNode.signaturePublicKey).toString('base64');
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    tags.set(kp, batch * BATCH_SPAN + id);
  }
}

export function publicBytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const keyPackageEquality: KeyPackageEqualityConfig = {
  compareKeyPackages(a: KeyPackage, b: KeyPackage): boolean {
    const x = tags.get(a);
    const y = tags.get(b);
    if (x !== undefined && y !== undefined && x - (x % BATCH_SPAN) === y - (y % BATCH_SPAN)) return x === y;
    return publicBytesEqual(a.leafNode.signaturePublicKey, b.leafNode.signaturePublicKey);
  },
  compareKeyPackageToLeafNode(a: KeyPackage, b: LeafNode): boolean {
    return publicBytesEqual(a.leafNode.signaturePublicKey, b.signaturePublicKey);
  },
  // With scripts/patch-ts-mls.mjs (patch 9) ts-mls checks a commit's Adds by these keys, O(n), and
  // calls neither comparison above for them: equal keys exactly when the signature keys are equal.
  mimiKeyPackageKey(a: KeyPackage): string {
    return keyString(a.leafNode.signaturePublicKey);
  },
  mimiLeafNodeKey(b: LeafNode): string {
    return keyString(b.signaturePublicKey);
  },
};

/** The key's bytes as a string, one char per byte: equal strings exactly for equal bytes. */
function keyString(key: Uint8Array): string {
  return String.fromCharCode.apply(null, key as unknown as number[]);
}
