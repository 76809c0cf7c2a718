// external_senders (RFC 9420 12.1.8.1) and external_pub (12.4.3.2) byte for byte: expected bytes are
// built by hand from the RFC's struct definitions, then checked against our codecs
// (src-shared/mls-extensions.ts) and the patched ts-mls (scripts/patch-ts-mls.mjs). And rooms from
// before the fix: a group whose GroupContext carries ts-mls 1.6.4's bare ExternalSender, and a
// GroupInfo with a raw external_pub key, still work through the engine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createGroup as tsCreateGroup,
  decodeMlsMessage,
  defaultCapabilities,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type Extension,
} from 'ts-mls';
import { decodeExternalSenders as tsDecodeExternalSenders, encodeExternalSenders as tsEncodeExternalSenders } from 'ts-mls/externalSender.js';
import { signGroupInfo } from 'ts-mls/groupInfo.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ciphersuiteFor, ed25519Seed } from '../../src-main/mls/crypto-selftest.js';
import type { DeviceKeys, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import {
  decodeExternalPub,
  decodeExternalSenders,
  encodeExternalPub,
  encodeExternalSenders,
  externalSendersOf,
  rfcExternalSenders,
} from '../../src-shared/mls-extensions.js';
import { basicCredential, decodeExternalSender, encodeExternalSender } from '../../src-shared/mls-structs.js';
import { externalRemoveProposal } from '../../src-shared/external-proposal.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { MlsWireError } from '../../src-shared/mls-wire.js';
import { concatBytes, fromUtf8, utf8 } from '../../src-shared/bytes.js';

const hex = (s: string) => Uint8Array.from((s.match(/../g) ?? []).map((b) => parseInt(b, 16)));
const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

// ExternalSender { SignaturePublicKey signature_key; Credential credential; } with a basic
// credential: varint(32) || key || credential_type basic (0x0001) || identity<V>.
function senderBytes(key: Uint8Array, identity: string): Uint8Array {
  const id = utf8(identity);
  assert.ok(key.length < 64 && id.length < 64, 'one-byte varints in this helper');
  return concatBytes(new Uint8Array([key.length]), key, hex('0001'), new Uint8Array([id.length]), id);
}

const HUB_KEY = filled(32, 0x11);
const OTHER_KEY = filled(32, 0x22);
const HUB = senderBytes(HUB_KEY, 'hub.example'); // 1 + 32 + 2 + 1 + 11 = 47 bytes
const OTHER = senderBytes(OTHER_KEY, 'other.example'); // 49 bytes

test('external_senders: RFC 9420 extension_data is ExternalSender external_senders<V>', () => {
  assert.equal(HUB.length, 47);
  // One sender: a one-byte varint prefix 0x2f (47).
  const one = concatBytes(hex('2f'), HUB);
  const hubFields = { signatureKey: HUB_KEY, credential: basicCredential('hub.example') };
  assert.deepEqual(encodeExternalSender(hubFields), HUB, 'the ExternalSender struct itself');
  assert.deepEqual(encodeExternalSenders([hubFields]), one);
  // Two senders, 96 bytes: a two-byte varint 0x4060 (01 prefix, value 0x60).
  const two = concatBytes(hex('4060'), HUB, OTHER);
  assert.deepEqual(encodeExternalSenders([hubFields, { signatureKey: OTHER_KEY, credential: basicCredential('other.example') }]), two);
  assert.deepEqual(encodeExternalSenders([]), hex('00'));

  const d = decodeExternalSenders(two);
  assert.equal(d.form, 'rfc9420');
  assert.deepEqual(d.senders.map((s) => s.signatureKey), [HUB_KEY, OTHER_KEY]);
  assert.deepEqual(d.senders.map((s) => s.raw), [HUB, OTHER]);
  assert.deepEqual(d.senders[1]!.credential.credentialType === 'basic' && fromUtf8(d.senders[1]!.credential.identity), 'other.example');

  // The patched ts-mls writes and reads the same bytes.
  const tsSender = { signaturePublicKey: HUB_KEY, credential: { credentialType: 'basic' as const, identity: utf8('hub.example') } };
  assert.deepEqual(tsEncodeExternalSenders([tsSender]), one);
  assert.deepEqual(tsDecodeExternalSenders(two)!.map((s) => s.signaturePublicKey), [HUB_KEY, OTHER_KEY]);
});

test('external_senders: the legacy bare ExternalSender still decodes, and is rewritten only on request', () => {
  const legacy = decodeExternalSenders(HUB);
  assert.equal(legacy.form, 'legacy-ts-mls');
  assert.deepEqual(legacy.senders.map((s) => s.signatureKey), [HUB_KEY]);
  assert.deepEqual(rfcExternalSenders(HUB), concatBytes(hex('2f'), HUB));
  const rfc = concatBytes(hex('2f'), HUB);
  assert.equal(rfcExternalSenders(rfc), rfc, 'RFC data is kept as it is');
  assert.deepEqual(tsDecodeExternalSenders(HUB)!.map((s) => s.signaturePublicKey), [HUB_KEY]);
  // sender_index space: the senders of every external_senders extension in order.
  assert.deepEqual(
    externalSendersOf([{ type: 5, data: concatBytes(hex('4060'), HUB, OTHER) }, { type: 0xf006, data: hex('00') }]).map((s) => s.signatureKey),
    [HUB_KEY, OTHER_KEY],
  );
});

test('external_senders: no data parses both ways, and malformed data is refused', () => {
  // A vector's prefix spans everything after it; a bare sender's first prefix (signature_key) must
  // leave a Credential after it. Check both readings over keys and identities of many sizes.
  for (const keyLen of [0, 1, 31, 32, 33, 62, 63]) {
    for (const idLen of [0, 1, 20, 40]) {
      const s = senderBytes(filled(keyLen, 0x40 + keyLen), 'x'.repeat(idLen));
      const asRfc = encodeExternalSenders([decodeExternalSender(s)]);
      assert.equal(decodeExternalSenders(s).form, 'legacy-ts-mls');
      assert.equal(decodeExternalSenders(asRfc).form, 'rfc9420');
      assert.throws(() => decodeExternalSender(asRfc), MlsWireError, 'RFC data is not one bare ExternalSender');
    }
  }
  const rfc = concatBytes(hex('2f'), HUB);
  for (const bad of [rfc.subarray(0, 20), concatBytes(rfc, hex('00')), hex(''), hex('30') /* length 48, nothing after */, concatBytes(hex('2f'), HUB.subarray(0, 35), hex('0c'), HUB.subarray(36)) /* identity<V> says 12 bytes, 11 follow */]) {
    assert.throws(() => decodeExternalSenders(bad), MlsWireError);
    assert.equal(tsDecodeExternalSenders(bad), undefined);
  }
  // A credential type nobody knows (0x7777) cannot be read either way.
  const unknown = concatBytes(hex('20'), HUB_KEY, hex('7777'), hex('00'));
  assert.throws(() => decodeExternalSenders(concatBytes(new Uint8Array([unknown.length]), unknown)), MlsWireError);
});

test('external_pub: RFC 9420 extension_data is HPKEPublicKey external_pub, i.e. varint(len) || key', () => {
  const key = filled(32, 0xab);
  assert.deepEqual(encodeExternalPub(key), concatBytes(hex('20'), key));
  assert.deepEqual(decodeExternalPub(concatBytes(hex('20'), key), 32), { key, form: 'rfc9420' });
  assert.deepEqual(decodeExternalPub(key, 32), { key, form: 'legacy-ts-mls' });
  // A raw key whose first byte is a valid one-byte prefix (0x1f = 31) reads as a 31-byte key, not 32.
  const tricky = concatBytes(hex('1f'), filled(31, 0xcd));
  assert.deepEqual(decodeExternalPub(tricky, 32), { key: tricky, form: 'legacy-ts-mls' });
  // P-256 uncompressed keys (65 bytes) take a one-byte prefix 0x41? No: 65 >= 64, two bytes 0x4041.
  const p256 = concatBytes(hex('04'), filled(64, 1));
  assert.deepEqual(encodeExternalPub(p256).subarray(0, 2), hex('4041'));
  assert.deepEqual(decodeExternalPub(encodeExternalPub(p256), 65).key, p256);
  for (const bad of [hex(''), hex('20'), filled(31, 1), concatBytes(hex('20'), key, hex('00')), filled(33, 0x21)]) {
    assert.throws(() => decodeExternalPub(bad, 32), MlsWireError);
  }
});

// ---------------------------------------------------------------------------------------------
// Through the engine

const ROOM = 'mimi://a.example/r/encodings';
const ALICE = 'mimi://a.example/d/alice/1';
const BOB = 'mimi://b.example/d/bob/1';
const CAROL = 'mimi://a.example/d/carol/1';
const DAVE = 'mimi://a.example/d/dave/1';
type WithExtensions = MlsEngine & { createGroup(k: DeviceKeys, g: string, e: { type: number; data: Uint8Array }[]): Promise<GroupSession> };

async function addAll(engine: MlsEngine, a: GroupSession, joiners: DeviceKeys[]) {
  const kps = await Promise.all(joiners.map(async (k) => (await engine.generateKeyPackages(k, 1))[0]!));
  const out = await a.add(kps.map((k) => k.publicMessage));
  const others = await Promise.all(joiners.map((k, i) => engine.joinFromWelcome(k, out.welcome!, kps[i]!, out.ratchetTree)));
  return { a: out.pending, others };
}

async function talk(from: GroupSession, to: GroupSession, text: string): Promise<{ from: GroupSession; to: GroupSession }> {
  const sent = await from.encrypt(utf8(text));
  const got = await to.process(sent.message);
  assert.equal(got.result.kind, 'application');
  assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), text);
  return { from: sent.session, to: got.session };
}

test('engine: a new group gets external_senders in RFC form, and the hub (sender_index into the vector) is heard', async () => {
  const engine = (await createMlsEngine({ forceProvider: 'noble' })) as WithExtensions;
  const hub = generateSignatureKeyPair();
  const other = generateSignatureKeyPair();
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
  // Two external senders in one RFC vector: the hub second, so sender_index 1 must mean "the hub".
  const senders = encodeExternalSenders([
    { signatureKey: other.publicKey, credential: basicCredential('mimi://other.example') },
    { signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') },
  ]);
  const a0 = await engine.createGroup(alice, ROOM, [{ type: 5, data: senders }]);
  assert.deepEqual(a0.extensions()[0]!.data, senders);
  const { a, others } = await addAll(engine, a0, [bob, carol]);
  const b = others[0]!;
  const carolLeaf = a.members().find((m) => m.identity === CAROL)!.leafIndex;
  // The hub's key at index 0 (the other sender's slot) is refused; at index 1 it is accepted.
  const wrongIndex = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: carolLeaf, signingKey: hub.privateKey });
  await assert.rejects(a.process(wrongIndex));
  const proposal = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 1, removed: carolLeaf, signingKey: hub.privateKey });
  const pa = await a.process(proposal);
  assert.equal(pa.result.kind, 'proposal');
  const pb = await b.process(proposal);
  const out = await pb.session.update();
  const ra = await pa.session.process(out.commit);
  assert.deepEqual(ra.result.kind === 'commit' && ra.result.removed, [CAROL]);
  await talk(ra.session, out.pending, 'after the hub removed carol');

  // A bare ExternalSender handed to createGroup (what GET /v1/hubSender returns) is written in RFC form.
  const bare = encodeExternalSender({ signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') });
  const g = await engine.createGroup(alice, `${ROOM}2`, [{ type: 5, data: bare }]);
  assert.deepEqual(g.extensions()[0]!.data, concatBytes(new Uint8Array([bare.length]), bare));
  await assert.rejects(engine.createGroup(alice, `${ROOM}3`, [{ type: 5, data: hex('0102') }]), /external_senders/);
});

test('engine: a room created before the fix (bare ExternalSender, raw external_pub GroupInfo) keeps working', async () => {
  const engine = (await createMlsEngine({ forceProvider: 'noble' })) as WithExtensions;
  const cs = await ciphersuiteFor('noble');
  const hub = generateSignatureKeyPair();
  const [alice, bob, carol, dave] = await Promise.all([ALICE, BOB, CAROL, DAVE].map((id) => engine.newDeviceKeys(id)));
  const bare = encodeExternalSender({ signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') });

  // What the engine did before the fix: hand ts-mls the bare ExternalSender as extension data.
  const now = BigInt(Math.floor(Date.now() / 1000));
  const kp = await generateKeyPackageWithKey(
    { credentialType: 'basic', identity: utf8(ALICE) },
    defaultCapabilities(),
    { notBefore: now - 60n, notAfter: now + 86400n },
    [],
    { signKey: ed25519Seed(alice.signaturePrivateKey), publicKey: alice.signaturePublicKey },
    cs,
  );
  const legacyExt: Extension = { extensionType: 'external_senders', extensionData: bare };
  const state = await tsCreateGroup(utf8(ROOM), kp.publicPackage, kp.privatePackage, [legacyExt], cs);
  // Saved in the whole-state form ("MLS" 0x01 || GroupState) of the builds of that time.
  const a0 = engine.restore(concatBytes(new Uint8Array([0x4d, 0x4c, 0x53, 0x01]), encodeGroupState(state)));
  assert.deepEqual(a0.extensions()[0]!.data, bare, 'the room carries the legacy form');
  assert.equal(decodeExternalSenders(a0.extensions()[0]!.data).form, 'legacy-ts-mls');

  const added = await addAll(engine, a0, [bob, carol]);
  let a = added.a;
  let b = added.others[0]!;
  assert.deepEqual(b.extensions()[0]!.data, bare);
  // The hub's Remove as external sender 0 (the first external_senders extension's sender).
  const carolLeaf = a.members().find((m) => m.identity === CAROL)!.leafIndex;
  const proposal = externalRemoveProposal({ groupId: ROOM, epoch: a.epoch, senderIndex: 0, removed: carolLeaf, signingKey: hub.privateKey });
  const pa = await a.process(proposal);
  const pb = await b.process(proposal);
  const removal = await pb.session.update();
  const ra = await pa.session.process(removal.commit);
  assert.deepEqual(ra.result.kind === 'commit' && ra.result.removed, [CAROL]);
  a = ra.session;
  b = removal.pending;

  // A GroupContextExtensions commit naming the same sender in RFC form keeps the room's bytes (the
  // hub refuses any change to external_senders). (Only default extensions here: alice's leaf from
  // ts-mls's defaultCapabilities() lists none of ours.)
  const rfcSame = encodeExternalSenders([decodeExternalSender(bare)]);
  const gce = await a.commitChanges({ extensions: [{ type: 5, data: rfcSame }, { type: 1, data: utf8('application id') }] });
  assert.deepEqual(gce.pending.extensions()[0]!.data, bare);
  const rb = await b.process(gce.commit);
  assert.equal(rb.result.kind, 'commit');
  ({ from: a, to: b } = await talk(gce.pending, rb.session, 'still talking in a legacy room'));
  assert.deepEqual(b.extensions()[0]!.data, bare);

  // The GroupInfo now has external_pub in RFC form: varint(32) || the key from external_secret.
  const { groupInfo, ratchetTree } = await a.groupInfo();
  const gi = decodeMlsMessage(groupInfo, 0)![0];
  assert.ok(gi.wireformat === 'mls_group_info');
  const pub = gi.groupInfo.extensions.find((e) => e.extensionType === 'external_pub')!.extensionData;
  assert.equal(pub.length, 33);
  assert.equal(pub[0], 0x20);

  // A GroupInfo signed before the fix carried the raw key: re-sign one like that (alice signed it).
  const raw = decodeExternalPub(pub, 32).key;
  const { signature: _, ...tbs } = gi.groupInfo;
  const legacyGi = await signGroupInfo(
    { ...tbs, extensions: gi.groupInfo.extensions.map((e) => (e.extensionType === 'external_pub' ? { ...e, extensionData: raw } : e)) },
    ed25519Seed(alice.signaturePrivateKey),
    cs.signature,
  );
  assert.equal(legacyGi.signer, a.ownLeafIndex);
  const legacyBytes = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: legacyGi });
  for (const info of [legacyBytes, groupInfo]) {
    const joined = await engine.joinExternal(dave, info, ratchetTree);
    const seen = await a.process(joined.commit);
    assert.equal(seen.result.kind, 'commit');
    assert.ok(seen.session.members().some((m) => m.identity === DAVE));
    await talk(joined.pending, seen.session, 'dave joined by external commit');
  }
  // Damaged external_pub data (neither form) is refused with a clear error.
  const broken = await signGroupInfo(
    { ...tbs, extensions: gi.groupInfo.extensions.map((e) => (e.extensionType === 'external_pub' ? { ...e, extensionData: raw.subarray(1) } : e)) },
    ed25519Seed(alice.signaturePrivateKey),
    cs.signature,
  );
  await assert.rejects(
    engine.joinExternal(dave, encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: broken }), ratchetTree),
    /external_pub/,
  );
});
