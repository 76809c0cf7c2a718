// The hub's hand-built external Remove proposal (src-shared/external-proposal.ts) against the real
// MLS engine: a group that lists the hub in external_senders accepts it, a member's next commit
// applies it, and a proposal signed by any other key is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { DeviceKeys, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { externalRemoveProposal } from '../../src-shared/external-proposal.js';
import { basicCredential, encodeExternalSender } from '../../src-shared/mls-structs.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { peekMlsMessage } from '../../src-shared/mls-wire.js';

const ROOM = 'mimi://a.example/r/ext';
const EXTERNAL_SENDERS = 5;

async function groupOfThree(engine: MlsEngine, hubKey: Uint8Array) {
  const [alice, bob, carol] = await Promise.all(
    ['mimi://a.example/d/alice/1', 'mimi://b.example/d/bob/1', 'mimi://a.example/d/carol/1'].map((id) => engine.newDeviceKeys(id)),
  );
  // ts-mls form of external_senders: one bare ExternalSender (see ts-mls-engine.ts), first extension.
  const es = encodeExternalSender({ signatureKey: hubKey, credential: basicCredential('mimi://a.example') });
  let a: GroupSession = await (engine as MlsEngine & { createGroup(k: DeviceKeys, g: string, e: { type: number; data: Uint8Array }[]): Promise<GroupSession> }).createGroup(alice, ROOM, [{ type: EXTERNAL_SENDERS, data: es }]);
  const kps = await Promise.all([bob, carol].map(async (k) => (await engine.generateKeyPackages(k, 1))[0]));
  const out = await a.add(kps.map((k) => k.publicMessage));
  a = out.pending;
  const b = await engine.joinFromWelcome(bob, out.welcome!, kps[0], out.ratchetTree);
  const c = await engine.joinFromWelcome(carol, out.welcome!, kps[1], out.ratchetTree);
  return { a, b, c };
}

test('a Remove proposal from the hub as external sender is accepted and committed', async () => {
  const engine = await createMlsEngine();
  const hub = generateSignatureKeyPair();
  let { a, b, c } = await groupOfThree(engine, hub.publicKey);
  const carolLeaf = a.members().find((m) => m.identity.includes('/carol/'))!.leafIndex;
  const proposal = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: carolLeaf, signingKey: hub.privateKey });
  const info = peekMlsMessage(proposal);
  assert.equal(info.wireFormat, 'public');
  assert.equal(info.contentType, 'proposal');
  assert.equal(info.senderType, 'external');
  const pa = await a.process(proposal);
  assert.equal(pa.result.kind, 'proposal');
  const pb = await b.process(proposal);
  // bob commits the pending proposal; alice and carol process the commit.
  const out = await pb.session.update();
  b = out.pending;
  const ra = await pa.session.process(out.commit);
  assert.equal(ra.result.kind, 'commit');
  assert.deepEqual(ra.result.kind === 'commit' && ra.result.removed, ['mimi://a.example/d/carol/1']);
  const rc = await (await c.process(proposal)).session.process(out.commit);
  assert.equal(rc.result.kind === 'commit' && rc.result.selfRemoved, true);
  assert.deepEqual(b.members().map((m) => m.identity).sort(), ['mimi://a.example/d/alice/1', 'mimi://b.example/d/bob/1']);
});

test('a proposal signed by a key that is not the external sender is refused', async () => {
  const engine = await createMlsEngine();
  const hub = generateSignatureKeyPair();
  const { a } = await groupOfThree(engine, hub.publicKey);
  const forged = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: 1, signingKey: generateSignatureKeyPair().privateKey });
  await assert.rejects(a.process(forged));
});
