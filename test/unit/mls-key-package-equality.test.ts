// The KeyPackage equality ts-mls uses in its commit checks (src-main/mls/key-package-equality.ts):
// tagged batches compare by tag, everything else by the signature key bytes; the verdicts must be
// the same either way, and the engine must still refuse a commit adding one client twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyPackage } from 'ts-mls';
import { indexKeyPackages, keyPackageEquality } from '../../src-main/mls/key-package-equality.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { MlsError } from '../../src-main/mls/engine.js';

const kp = (fill: number) => ({ leafNode: { signaturePublicKey: new Uint8Array(32).fill(fill) } }) as unknown as KeyPackage;

test('equal signature keys are equal KeyPackages, tagged or not, within or across batches', () => {
  const [a, b, c, d] = [kp(1), kp(2), kp(1), kp(3)];
  const eq = keyPackageEquality.compareKeyPackages;
  // Untagged: by bytes.
  assert.equal(eq(a, c), true);
  assert.equal(eq(a, b), false);
  indexKeyPackages([a, b, c]);
  assert.equal(eq(a, c), true, 'same key, same batch');
  assert.equal(eq(c, a), true);
  assert.equal(eq(a, b), false, 'different keys, same batch');
  assert.equal(eq(a, d), false, 'tagged against untagged: by bytes');
  const e = kp(2);
  indexKeyPackages([d, e]);
  assert.equal(eq(b, e), true, 'same key in different batches: by bytes, not by tag');
  assert.equal(eq(a, e), false);
  assert.equal(keyPackageEquality.compareKeyPackageToLeafNode(a, { signaturePublicKey: new Uint8Array(32).fill(1) } as never), true);
  assert.equal(keyPackageEquality.compareKeyPackageToLeafNode(a, { signaturePublicKey: new Uint8Array(31).fill(1) } as never), false);
});

test('the engine still refuses a commit that adds the same client twice, or one already in the group', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const bob = await engine.newDeviceKeys('mimi://a.example/d/bob/1');
  const carol = await engine.newDeviceKeys('mimi://a.example/d/carol/1');
  const [b1, b2] = await engine.generateKeyPackages(bob, 2);
  const [c1] = await engine.generateKeyPackages(carol, 1);
  const group = await engine.createGroup(owner, 'mimi://a.example/r/twice');
  await assert.rejects(group.add([b1.publicMessage, c1.publicMessage, b2.publicMessage]), (e: unknown) => e instanceof MlsError && e.code === 'invalid');
  const ok = await group.add([b1.publicMessage, c1.publicMessage]);
  await assert.rejects(ok.pending.add([b2.publicMessage]), (e: unknown) => e instanceof MlsError && e.code === 'invalid');
});
