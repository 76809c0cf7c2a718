import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMlsEngine } from '../helpers/mls-engine.js';
import { ciphersuiteFor, selectProvider } from '../../src-main/mls/crypto-selftest.js';
import { benchMls } from '../../src-main/mls/bench-mls.js';
import { MlsError, splitSessionState, type CommitOutput, type DeviceKeys, type GroupSession, type MlsEngine } from '../../src-main/mls/engine.js';
import { bytesEqual, fromUtf8, toHex, utf8 } from '../../src-shared/bytes.js';
import { legacySessionEncoding } from '../helpers/mls-legacy-state.js';

const ALICE = 'mimi://a.example/d/alice/laptop';
const BOB = 'mimi://b.example/d/bob/phone';
const CAROL = 'mimi://c.example/d/carol/desk';
const DAVE = 'mimi://d.example/d/dave/tablet';
const ROOM = 'mimi://a.example/r/lunch';

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: MlsError['code']): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (err: unknown) => {
      assert.ok(err instanceof MlsError, `expected MlsError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      return true;
    },
  );
}

async function send(from: GroupSession, to: GroupSession, text: string) {
  const { session: sender, message } = await from.encrypt(utf8(text));
  const { session: receiver, result } = await to.process(message);
  assert.equal(result.kind, 'application');
  if (result.kind !== 'application') throw new Error('unreachable');
  assert.equal(fromUtf8(result.plaintext), text);
  return { sender, receiver, result };
}

/** Commits `add` of fresh KeyPackages of `joiners`; returns the adder's new session and the joiners' sessions. */
async function addMembers(engine: MlsEngine, adder: GroupSession, joiners: DeviceKeys[]) {
  const kps = await Promise.all(joiners.map(async (k) => (await engine.generateKeyPackages(k, 1))[0]));
  const out = await adder.add(kps.map((k) => k.publicMessage));
  assert.ok(out.welcome, 'add produces a Welcome');
  const sessions = await Promise.all(joiners.map((k, i) => engine.joinFromWelcome(k, out.welcome!, kps[i], out.ratchetTree)));
  return { out, adder: out.pending, sessions };
}

async function expectCommit(session: GroupSession, out: CommitOutput) {
  const { session: next, result } = await session.process(out.commit);
  assert.equal(result.kind, 'commit');
  if (result.kind !== 'commit') throw new Error('unreachable');
  assert.equal(result.epoch, out.newEpoch);
  return { next, result };
}

for (const provider of ['webcrypto', 'noble'] as const) {
  test(`[${provider}] three devices: add, talk, add, remove`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    assert.equal(engine.provider, provider);
    const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
    assert.equal(alice.signaturePrivateKey.length, 32, 'private key stored as Ed25519 seed');

    let a = await engine.createGroup(alice, ROOM);
    assert.equal(a.groupId, ROOM);
    assert.equal(a.epoch, 0n);
    assert.deepEqual(
      a.members().map(({ leafIndex, identity, extensions }) => ({ leafIndex, identity, extensions })),
      [{ leafIndex: 0, identity: ALICE, extensions: [] }],
    );
    assert.deepEqual(a.members()[0].signatureKey, alice.signaturePublicKey, "members() gives each leaf's signature key");

    const addBob = await addMembers(engine, a, [bob]);
    a = addBob.adder;
    let b = addBob.sessions[0];
    assert.equal(addBob.out.newEpoch, 1n);
    assert.equal(a.epoch, 1n);
    assert.equal(b.epoch, 1n);
    assert.equal(b.ownLeafIndex, 1);
    assert.deepEqual(b.members(), a.members());
    assert.deepEqual(
      b.members().map((m) => m.identity),
      [ALICE, BOB],
    );

    let r = await send(a, b, 'hi bob');
    a = r.sender;
    b = r.receiver;
    assert.equal(r.result.kind === 'application' && r.result.senderIdentity, ALICE);
    r = await send(b, a, 'hi alice');
    b = r.sender;
    a = r.receiver;
    assert.equal(r.result.kind === 'application' && r.result.senderIdentity, BOB);
    r = await send(b, a, 'second from bob');
    b = r.sender;
    a = r.receiver;

    const addCarol = await addMembers(engine, a, [carol]);
    a = addCarol.adder;
    let c = addCarol.sessions[0];
    const bobSeesCarol = await expectCommit(b, addCarol.out);
    b = bobSeesCarol.next;
    assert.deepEqual(bobSeesCarol.result, { kind: 'commit', epoch: 2n, added: [CAROL], removed: [], committer: ALICE, departed: [], removedByHub: [], selfRemoved: false });
    r = await send(c, b, 'carol here');
    c = r.sender;
    b = r.receiver;
    assert.equal(r.result.kind === 'application' && r.result.senderIdentity, CAROL);

    // Carol removes Bob; Alice and Bob process the commit.
    const rm = await c.remove([BOB]);
    assert.equal(rm.welcome, undefined);
    c = rm.pending;
    const aliceSees = await expectCommit(a, rm);
    a = aliceSees.next;
    assert.deepEqual(aliceSees.result, { kind: 'commit', epoch: 3n, added: [], removed: [BOB], committer: CAROL, departed: [], removedByHub: [], selfRemoved: false });
    const bobSees = await expectCommit(b, rm);
    assert.deepEqual(bobSees.result, { kind: 'commit', epoch: 3n, added: [], removed: [BOB], committer: CAROL, departed: [], removedByHub: [], selfRemoved: true });
    assert.deepEqual(
      a.members().map((m) => m.identity),
      [ALICE, CAROL],
    );
    assert.deepEqual(c.members(), a.members());

    // The removed device can no longer send, and Alice and Carol still talk.
    await rejectsWith(bobSees.next.encrypt(utf8('still here?')), 'notMember');
    r = await send(a, c, 'just us');
    r = await send(r.receiver, r.sender, 'yes');
  });

  test(`[${provider}] external join from groupInfo + ratchet tree`, async () => {
    const engine = await createMlsEngine({ forceProvider: provider });
    const [alice, bob, dave] = await Promise.all([ALICE, BOB, DAVE].map((id) => engine.newDeviceKeys(id)));
    const added = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
    let a = added.adder;
    let b = added.sessions[0];

    const { groupInfo, ratchetTree } = await a.groupInfo();
    const joined = await engine.joinExternal(dave, groupInfo, ratchetTree);
    assert.equal(joined.newEpoch, 2n);
    let d = joined.pending;
    for (const s of [a, b]) {
      const { result } = await s.process(joined.commit);
      assert.deepEqual(result, { kind: 'commit', epoch: 2n, added: [DAVE], removed: [], committer: DAVE, departed: [], removedByHub: [], selfRemoved: false });
    }
    a = (await a.process(joined.commit)).session;
    b = (await b.process(joined.commit)).session;
    assert.deepEqual(
      d.members().map((m) => m.identity),
      [ALICE, BOB, DAVE],
    );
    let r = await send(d, a, 'dave says hi');
    d = r.sender;
    r = await send(b, d, 'welcome dave');
    assert.equal(r.result.kind === 'application' && r.result.senderIdentity, BOB);
  });
}

test('the commit output GroupInfo also supports an external join', async () => {
  const engine = await createMlsEngine();
  const [alice, bob, dave] = await Promise.all([ALICE, BOB, DAVE].map((id) => engine.newDeviceKeys(id)));
  const { out, adder } = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  const joined = await engine.joinExternal(dave, out.groupInfo, out.ratchetTree);
  const { result } = await adder.process(joined.commit);
  assert.equal(result.kind === 'commit' && result.added[0], DAVE);
});

test('a device that lost its state rejoins externally and replaces its old leaf', async () => {
  const engine = await createMlsEngine();
  const [alice, bob] = await Promise.all([ALICE, BOB].map((id) => engine.newDeviceKeys(id)));
  const { adder } = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  const { groupInfo, ratchetTree } = await adder.groupInfo();
  const rejoin = await engine.joinExternal(bob, groupInfo, ratchetTree);
  const { session: a, result } = await adder.process(rejoin.commit);
  assert.deepEqual(result, { kind: 'commit', epoch: 2n, added: [BOB], removed: [BOB], committer: BOB, departed: [BOB], removedByHub: [], selfRemoved: false });
  assert.deepEqual(
    a.members().map((m) => m.identity),
    [ALICE, BOB],
  );
  await send(rejoin.pending, a, 'back again');
});

test('sessions survive encode/restore mid-conversation', async () => {
  const engine = await createMlsEngine();
  const [alice, bob] = await Promise.all([ALICE, BOB].map((id) => engine.newDeviceKeys(id)));
  const added = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  let r = await send(added.adder, added.sessions[0], 'before save');
  r = await send(r.sender, r.receiver, 'and again');
  const bytesA = r.sender.encode();
  const bytesB = r.receiver.encode();

  // A restart: a fresh engine instance restores both.
  const engine2 = await createMlsEngine();
  let a = engine2.restore(bytesA);
  let b = engine2.restore(bytesB);
  assert.equal(a.epoch, 1n);
  assert.equal(a.groupId, ROOM);
  assert.equal(b.ownLeafIndex, 1);
  assert.deepEqual(b.members(), r.receiver.members());
  assert.deepEqual(a.encode(), bytesA, 'restore then encode is lossless');

  r = await send(a, b, 'after restore');
  r = await send(r.receiver, r.sender, 'reply after restore');
  a = r.receiver;
  b = r.sender;
  const upd = await b.update();
  b = upd.pending;
  a = (await expectCommit(a, upd)).next;
  r = await send(engine2.restore(a.encode()), engine2.restore(b.encode()), 'new epoch after restore');
  assert.equal(r.result.kind === 'application' && r.result.epoch, 2n);
});

test('KeyPackage private state round-trips through bytes', async () => {
  const engine = await createMlsEngine();
  const [alice, bob] = await Promise.all([ALICE, BOB].map((id) => engine.newDeviceKeys(id)));
  const [kp] = await engine.generateKeyPackages(bob, 1);
  // What the app would keep on disk: three independent byte strings.
  const stored = { publicMessage: kp.publicMessage.slice(), ref: kp.ref.slice(), privateState: kp.privateState.slice() };
  const out = await (await engine.createGroup(alice, ROOM)).add([kp.publicMessage]);
  const b = await engine.joinFromWelcome(bob, out.welcome!, stored, out.ratchetTree);
  await send(out.pending, b, 'hello');
  await rejectsWith(engine.joinFromWelcome(bob, out.welcome!, { ...stored, privateState: stored.privateState.subarray(0, 10) }, out.ratchetTree), 'malformed');
});

test('an application message from the previous epoch still decrypts after the next commit', async () => {
  const engine = await createMlsEngine();
  const [alice, bob] = await Promise.all([ALICE, BOB].map((id) => engine.newDeviceKeys(id)));
  const added = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  let a = added.adder;
  let b = added.sessions[0];

  // Bob sends in epoch 1 while Alice's update commit is being accepted by the hub.
  const old = await b.encrypt(utf8('sent in epoch 1'));
  b = old.session;
  const upd = await a.update();
  a = upd.pending;
  assert.equal(a.epoch, 2n);
  b = (await expectCommit(b, upd)).next;

  const { session: a2, result } = await a.process(old.message);
  assert.deepEqual(result, { kind: 'application', plaintext: utf8('sent in epoch 1'), senderIdentity: BOB, epoch: 1n });
  // Also after a restart.
  const again = await engine.restore(a.encode()).process(old.message);
  assert.equal(again.result.kind, 'application');
  // A replay of the same generation has no key left.
  await rejectsWith(a2.process(old.message), 'decryptFailed');

  // Retention is bounded: after enough further epochs the keys are gone.
  for (let i = 0; i < 5; i++) {
    const u = await a.update();
    a = u.pending;
  }
  await rejectsWith(a.process(old.message), 'wrongEpoch');
});

test('bad input gets a typed error and leaves the session unchanged', async () => {
  const engine = await createMlsEngine();
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
  const added = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  const a = added.adder;
  const b = added.sessions[0];
  const before = b.encode();
  const { message } = await a.encrypt(utf8('real'));

  await rejectsWith(b.process(new Uint8Array([1, 2, 3, 4, 5])), 'malformed');
  await rejectsWith(b.process(message.subarray(0, message.length - 7)), 'malformed');
  await rejectsWith(b.process(new Uint8Array([...message, 0])), 'malformed');
  await rejectsWith(b.process(new Uint8Array()), 'malformed');
  const tampered = message.slice();
  tampered[tampered.length - 1] ^= 0xff; // inside the AEAD tag of the content ciphertext
  await rejectsWith(b.process(tampered), 'decryptFailed');
  // A Welcome is a valid MLSMessage but not something process() accepts.
  await rejectsWith(b.process(added.out.welcome!), 'invalid');

  assert.deepEqual(b.encode(), before);
  const ok = await b.process(message);
  assert.equal(ok.result.kind === 'application' && fromUtf8(ok.result.plaintext), 'real');

  await rejectsWith(() => engine.restore(new Uint8Array([0x4d, 0x4c, 0x53, 0x01, 9, 9, 9])), 'malformed');
  await rejectsWith(() => engine.restore(utf8('hello')), 'malformed');
  await rejectsWith(() => engine.keyPackageIdentity(new Uint8Array([0, 1, 0, 5])), 'malformed');
  await rejectsWith(engine.keyPackageRef(message), 'malformed');
  await rejectsWith(engine.joinFromWelcome(carol, utf8('nope'), (await engine.generateKeyPackages(carol, 1))[0]), 'malformed');
  await rejectsWith(engine.joinExternal(carol, message, (await a.groupInfo()).ratchetTree), 'malformed');
  await rejectsWith(a.add([utf8('not a key package')]), 'malformed');
  await rejectsWith(a.remove([CAROL]), 'notMember');
  await rejectsWith(a.remove([ALICE]), 'invalid');
});

test('messages for another group or another epoch are told apart', async () => {
  const engine = await createMlsEngine();
  const [alice, bob] = await Promise.all([ALICE, BOB].map((id) => engine.newDeviceKeys(id)));
  const added = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  const other = await addMembers(engine, await engine.createGroup(alice, 'mimi://a.example/r/other'), [bob]);

  const fromOther = await other.adder.encrypt(utf8('wrong room'));
  await rejectsWith(added.sessions[0].process(fromOther.message), 'wrongGroup');
  const otherCommit = await other.adder.update();
  await rejectsWith(added.sessions[0].process(otherCommit.commit), 'wrongGroup');

  // Alice's next epoch is not yet known to Bob.
  const upd = await added.adder.update();
  const future = await upd.pending.encrypt(utf8('from epoch 2'));
  await rejectsWith(added.sessions[0].process(future.message), 'wrongEpoch');
  // And a commit Bob already applied is stale.
  const bAfter = (await expectCommit(added.sessions[0], upd)).next;
  await rejectsWith(bAfter.process(upd.commit), 'wrongEpoch');
  // Own commit echoed back before the pending session was adopted.
  await rejectsWith(added.adder.process(upd.commit), 'invalid');
});

test('KeyPackages carry the device identity and its long-term signature key', async () => {
  const engine = await createMlsEngine();
  const bob = await engine.newDeviceKeys(BOB);
  const kps = await engine.generateKeyPackages(bob, 3);
  assert.equal(kps.length, 3);
  const refs = new Set(kps.map((k) => toHex(k.ref)));
  assert.equal(refs.size, 3);
  const pub = toHex(bob.signaturePublicKey);
  for (const kp of kps) {
    assert.equal(engine.keyPackageIdentity(kp.publicMessage), BOB);
    assert.ok(bytesEqual(await engine.keyPackageRef(kp.publicMessage), kp.ref));
    assert.ok(toHex(kp.publicMessage).includes(pub), 'KeyPackage leaf uses the device signature key');
  }
  // Two KeyPackages of one device are one client: adding both at once is refused.
  const alice = await engine.newDeviceKeys(ALICE);
  const g = await engine.createGroup(alice, ROOM);
  await rejectsWith(g.add([kps[0].publicMessage, kps[1].publicMessage]), 'invalid');

  const mismatched: DeviceKeys = { ...bob, signaturePublicKey: alice.signaturePublicKey };
  await rejectsWith(engine.generateKeyPackages(mismatched, 1), 'invalid');
  await rejectsWith(engine.generateKeyPackages(bob, 0), 'invalid');
  await rejectsWith(engine.newDeviceKeys(''), 'invalid');
});

test('a Welcome for someone else is refused', async () => {
  const engine = await createMlsEngine();
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
  const [bobKp] = await engine.generateKeyPackages(bob, 1);
  const [carolKp] = await engine.generateKeyPackages(carol, 1);
  const out = await (await engine.createGroup(alice, ROOM)).add([bobKp.publicMessage]);
  await rejectsWith(engine.joinFromWelcome(carol, out.welcome!, carolKp, out.ratchetTree), 'notMember');
  await rejectsWith(engine.joinFromWelcome(carol, out.welcome!, bobKp, out.ratchetTree), 'invalid');
});

test('the two crypto providers interoperate and share the state format', async () => {
  const web = await createMlsEngine({ forceProvider: 'webcrypto' });
  const noble = await createMlsEngine({ forceProvider: 'noble' });
  const alice = await web.newDeviceKeys(ALICE);
  const bob = await noble.newDeviceKeys(BOB);
  const [bobKp] = await noble.generateKeyPackages(bob, 1);
  const out = await (await web.createGroup(alice, ROOM)).add([bobKp.publicMessage]);
  let b = await noble.joinFromWelcome(bob, out.welcome!, bobKp, out.ratchetTree);
  let r = await send(out.pending, b, 'web to noble');
  r = await send(r.receiver, r.sender, 'noble to web');
  // Bob's path update is HPKE-encrypted to Alice with the pure-JS KEM and decrypted by WebCrypto.
  b = r.sender;
  const upd = await b.update();
  const a = (await expectCommit(r.receiver, upd)).next;
  // State written under one provider restores under the other.
  await send(noble.restore(a.encode()), web.restore(upd.pending.encode()), 'swapped providers');
});

test('a session saved in the form of builds before stop 30 (whole state) restores and carries on; its next state is in the split form', async () => {
  const engine = await createMlsEngine();
  const [alice, bob] = await Promise.all([ALICE, BOB].map((id) => engine.newDeviceKeys(id)));
  const { adder, sessions } = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
  let r = await send(adder, sessions[0], 'before');
  const legacy = legacySessionEncoding(r.sender.encode());
  assert.deepEqual([...legacy.subarray(0, 4)], [0x4d, 0x4c, 0x53, 0x01]);
  const restored = engine.restore(legacy);
  assert.deepEqual(restored.members(), r.sender.members());
  r = await send(restored, r.receiver, 'after');
  await send(r.receiver, r.sender, 'and back');
  assert.ok(splitSessionState(r.sender.encode()), 'its next state is saved in the split form');
});

test('the default engine picks a provider that passed the self test', async () => {
  const engine = await createMlsEngine();
  // Node 20's node:crypto has X25519 and Ed25519, so there is no reason to fall back.
  assert.equal(engine.provider, 'node');
});

test('a node:crypto backend that fails the self test is replaced by WebCrypto, then noble', async () => {
  const brokenNode = async (p: 'node' | 'webcrypto' | 'noble') => {
    const impl = await ciphersuiteFor(p);
    return p === 'node' ? { ...impl, signature: { ...impl.signature, verify: async () => true } } : impl;
  };
  const picked = await selectProvider(undefined, brokenNode);
  assert.equal(picked.provider, 'webcrypto');
  assert.match(picked.failures.node ?? '', /bad signature/);
  const bothBroken = await selectProvider(undefined, async (p) => {
    const impl = await brokenNode(p);
    return p === 'webcrypto' ? { ...impl, hpke: { ...impl.hpke, deriveKeyPair: () => impl.hpke.generateKeyPair() } } : impl;
  });
  assert.equal(bothBroken.provider, 'noble');
  assert.deepEqual(Object.keys(bothBroken.failures).sort(), ['node', 'webcrypto']);
});

type Impl = Awaited<ReturnType<typeof ciphersuiteFor>>;

/** Builds real providers, except that `breakWeb` damages the WebCrypto one like a faulty backend would. */
function withBrokenWebCrypto(breakWeb: (impl: Impl) => Impl) {
  return async (p: 'node' | 'webcrypto' | 'noble') => (p === 'webcrypto' ? breakWeb(await ciphersuiteFor(p)) : ciphersuiteFor(p));
}
/** These tests are about WebCrypto falling back to noble (Electron's case when node:crypto also lacks the curves). */
const WEB_THEN_NOBLE = ['webcrypto', 'noble'] as const;

test('a WebCrypto backend that fails the self test is replaced by the noble provider', async () => {
  const missingX25519 = await selectProvider(
    undefined,
    withBrokenWebCrypto((impl) => ({
      ...impl,
      hpke: {
        ...impl.hpke,
        importPublicKey: () => Promise.reject(new DOMException('Unrecognized key type', 'NotSupportedError')),
      },
    })),
    WEB_THEN_NOBLE,
  );
  assert.equal(missingX25519.provider, 'noble');
  assert.match(missingX25519.webcryptoFailure ?? '', /Unrecognized key type/);

  const wrongCurveMath = await selectProvider(
    undefined,
    withBrokenWebCrypto((impl) => ({ ...impl, hpke: { ...impl.hpke, deriveKeyPair: () => impl.hpke.generateKeyPair() } })),
    WEB_THEN_NOBLE,
  );
  assert.equal(wrongCurveMath.provider, 'noble');
  assert.match(wrongCurveMath.webcryptoFailure ?? '', /known-answer/);

  const lenientVerify = await selectProvider(
    undefined,
    withBrokenWebCrypto((impl) => ({ ...impl, signature: { ...impl.signature, verify: async () => true } })),
    WEB_THEN_NOBLE,
  );
  assert.equal(lenientVerify.provider, 'noble');

  const healthy = await selectProvider(undefined, withBrokenWebCrypto((impl) => impl), WEB_THEN_NOBLE);
  assert.equal(healthy.provider, 'webcrypto');
  assert.equal(healthy.webcryptoFailure, undefined);

  // A forced provider is not silently replaced.
  await assert.rejects(
    selectProvider(
      'webcrypto',
      withBrokenWebCrypto((impl) => ({ ...impl, signature: { ...impl.signature, verify: async () => true } })),
    ),
    /bad signature/,
  );
});

test('with WebCrypto lacking X25519 and Ed25519 (BoringSSL gaps) the engine falls back and still works', async () => {
  // Simulate the backend at its true edge: SubtleCrypto refuses the two curve algorithms.
  const subtle = globalThis.crypto.subtle as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const algName = (a: unknown) => String(typeof a === 'string' ? a : ((a as { name?: string } | undefined)?.name ?? ''));
  const isCurve = (a: unknown) => /^(x25519|ed25519)$/i.test(algName(a));
  const methods = ['importKey', 'generateKey', 'exportKey', 'deriveBits', 'deriveKey', 'sign', 'verify'] as const;
  let refused = 0;
  for (const m of methods) {
    const original = subtle[m].bind(globalThis.crypto.subtle);
    subtle[m] = (...args: unknown[]) => {
      const algs = [args[0], args[2], (args[1] as { algorithm?: unknown } | undefined)?.algorithm];
      if (algs.some(isCurve)) {
        refused++;
        return Promise.reject(new DOMException('Algorithm: Unrecognized name', 'NotSupportedError'));
      }
      return original(...args);
    };
  }
  try {
    // node:crypto is not WebCrypto and is unaffected: leave it out to see WebCrypto's fallback.
    const engine = await createMlsEngine({ order: WEB_THEN_NOBLE });
    assert.equal(engine.provider, 'noble');
    const refusedAtSelection = refused;
    assert.ok(refusedAtSelection > 0, 'the WebCrypto self test did hit the gap');
    const [alice, bob, dave] = await Promise.all([ALICE, BOB, DAVE].map((id) => engine.newDeviceKeys(id)));
    const { adder, sessions } = await addMembers(engine, await engine.createGroup(alice, ROOM), [bob]);
    const r = await send(adder, sessions[0], 'no curves in WebCrypto');
    const upd = await r.receiver.update();
    const a = (await expectCommit(r.sender, upd)).next;
    const { groupInfo, ratchetTree } = await a.groupInfo();
    const joined = await engine.joinExternal(dave, groupInfo, ratchetTree);
    await expectCommit(a, { ...upd, commit: joined.commit, newEpoch: joined.newEpoch });
    assert.equal(refused, refusedAtSelection, 'the fallback provider never asked WebCrypto for X25519/Ed25519');
  } finally {
    for (const m of methods) delete subtle[m];
  }
  assert.equal((await createMlsEngine({ order: WEB_THEN_NOBLE })).provider, 'webcrypto', 'SubtleCrypto restored');
});

test('benchMls reports the cost of a large add', async () => {
  const r = await benchMls(3);
  for (const v of [r.addMs, r.processMs, r.joinMs]) assert.ok(Number.isFinite(v) && v > 0);
  // The commit carries three KeyPackages, the Welcome three encrypted group secrets.
  assert.ok(r.commitBytes > 3 * 200, `commit ${r.commitBytes} bytes`);
  assert.ok(r.welcomeBytes > 3 * 80, `welcome ${r.welcomeBytes} bytes`);
  await assert.rejects(benchMls(0), RangeError);
});
