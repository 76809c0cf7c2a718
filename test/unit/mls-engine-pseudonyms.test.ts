// Minimal-metadata rooms in the MLS engine: groups of pseudonymous clients whose identity links every
// member can open and verify (also members who join later, by Welcome or by external commit), and
// the hub cannot; the identity link key changes when members come and go; forged links are refused;
// the hub's own decoders (mls-structs) read the tree. docs/pseudonyms.md describes the scheme.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCommit,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetime,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  makePskIndex,
  type ClientState,
  type Credential,
} from 'ts-mls';
import { decodedSessionState, legacySessionEncoding } from '../helpers/mls-legacy-state.js';
import { createMlsEngine } from '../helpers/mls-engine.js';
import { ciphersuiteFor } from '../../src-main/mls/crypto-selftest.js';
import { MlsError, type CommitOutput, type DeviceKeys, type GroupSession, type Incoming, type MlsEngine } from '../../src-main/mls/engine.js';
import { createIdentityLink, findIdentityLinkKeys, IDENTITY_LINK_KEYS_EXTENSION_TYPE, identityLinkKeysContent, openIdentityLink, sealIdentityLink } from '../../src-shared/identity-link.js';
import { isConnectionOnlyKeyPackage } from '../../src-shared/connection-request.js';
import { decodePseudonymousMlsCredential, encodePseudonymousCredential, type PseudonymousCredential } from '../../src-shared/pseudonymous-credential.js';
import { decodeGroupInfo, decodeRatchetTree, encodeRatchetTree, treeLeaves, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { decodeContent, encodeContent } from '../../src-shared/content.js';
import { domainOf, newPseudonymUri } from '../../src-shared/identifiers.js';
import { bytesEqual, fromUtf8, toHex, utf8 } from '../../src-shared/bytes.js';

const ROOM = 'mimi://hub.example/r/mmr';
type Commit = Extract<Incoming, { kind: 'commit' }>;

interface Person {
  device: DeviceKeys;
  keys: DeviceKeys;
}

/** A device and a pseudonymous client of it; `user` shares a user pseudonym between clients of one user. */
async function person(engine: MlsEngine, deviceUri: string, user?: string): Promise<Person> {
  const device = await engine.newDeviceKeys(deviceUri);
  const domain = domainOf(deviceUri);
  const keys = await engine.newPseudonymousKeys(device, { client: newPseudonymUri(domain), user: user ?? newPseudonymUri(domain) });
  return { device, keys };
}

async function keyPackage(engine: MlsEngine, p: Person, connectionOnly = false) {
  return (await engine.generateKeyPackages(p.keys, 1, { connectionOnly }))[0];
}

async function process(s: GroupSession, message: Uint8Array): Promise<{ session: GroupSession; result: Incoming }> {
  return s.process(message);
}

async function applyCommit(s: GroupSession, out: CommitOutput): Promise<{ session: GroupSession; result: Commit }> {
  const { session, result } = await process(s, out.commit);
  assert.equal(result.kind, 'commit');
  assert.equal(session.epoch, out.newEpoch);
  return { session, result: result as Commit };
}

/**
 * `adder` adds `joiner` and the members in `others` process that commit; the joiner joins from the
 * Welcome (`pending` sees its session while its link is still empty) and publishes its identity
 * link, which the adder and the others process.
 */
async function addAndPublish(engine: MlsEngine, adder: GroupSession, others: GroupSession[], joiner: Person, pending?: (s: GroupSession) => void) {
  const kp = await keyPackage(engine, joiner);
  const add = await adder.add([kp.publicMessage]);
  const joined = await engine.joinFromWelcome(joiner.keys, add.welcome!, kp, add.ratchetTree);
  pending?.(joined);
  const publish = await joined.publishIdentityLink(joiner.keys);
  const next = async (s: GroupSession) => (await applyCommit((await applyCommit(s, add)).session, publish)).session;
  return {
    adder: (await applyCommit(add.pending, publish)).session,
    others: await Promise.all(others.map(next)),
    joiner: publish.pending,
    publish,
  };
}

async function talk(from: GroupSession, to: GroupSession, text: string, sender: string) {
  const sent = await from.encrypt(utf8(text));
  const got = await to.process(sent.message);
  assert.ok(got.result.kind === 'application');
  assert.equal(fromUtf8(got.result.plaintext), text);
  assert.equal(got.result.senderIdentity, sender);
  return { from: sent.session, to: got.session };
}

/** Identity links as "client pseudonym -> device URI" (or the status when not verified). */
function linkMap(s: GroupSession, authenticate?: (deviceUri: string, key: Uint8Array) => boolean): Record<string, string> {
  return Object.fromEntries(s.identityLinks({ authenticate }).map((l) => [l.identity, l.status === 'verified' ? l.deviceUri : l.status]));
}

function expectedLinks(people: Person[], pending: Person[] = []): Record<string, string> {
  return Object.fromEntries([...people.map((p) => [p.keys.identity, p.device.identity]), ...pending.map((p) => [p.keys.identity, 'pending'])]);
}

/** Does `needle` occur in `hay`? (a key must never appear in what the hub sees) */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return toHex(hay).includes(toHex(needle));
}

test('a room of pseudonyms: create, add, a later joiner, messages; every member verifies every other', async () => {
  const engine = await createMlsEngine();
  const alice = await person(engine, 'mimi://a.example/d/alice/laptop');
  const bob = await person(engine, 'mimi://b.example/d/bob/phone');
  const carol = await person(engine, 'mimi://c.example/d/carol/desk');

  // The creator draws the first identity link key and her leaf carries her sealed link at once.
  let a = await engine.createGroup(alice.keys, ROOM);
  const [own] = a.members();
  assert.equal(own.identity, alice.keys.identity);
  assert.equal(own.pseudonym?.userPseudonym, alice.keys.pseudonymous!.userPseudonym);
  assert.deepEqual(linkMap(a), expectedLinks([alice]));
  assert.deepEqual(a.identityLinkKeys().map((k) => k.epoch), [0n]);

  // Bob's KeyPackage: made before he knows the room, so his link is empty (pending).
  const kpBob = await keyPackage(engine, bob);
  assert.equal(engine.keyPackageIdentity(kpBob.publicMessage), bob.keys.identity);
  assert.equal(isConnectionOnlyKeyPackage(kpBob.publicMessage), false);
  const addBob = await a.add([kpBob.publicMessage]);
  a = addBob.pending;
  let b = await engine.joinFromWelcome(bob.keys, addBob.welcome!, kpBob, addBob.ratchetTree);
  assert.deepEqual(linkMap(b), expectedLinks([alice], [bob]), "the joiner reads the creator's link with the key from the Welcome");
  assert.deepEqual(b.identityLinkKeys(), a.identityLinkKeys(), 'both derived the key of the join epoch');
  assert.deepEqual(a.identityLinkKeys().map((k) => k.epoch), [0n, 1n]);

  // What the hub sees never contains a key: not the GroupInfo it is given, not the tree, not the Welcome.
  const hubView = [addBob.commit, addBob.welcome!, addBob.groupInfo, addBob.ratchetTree, (await a.groupInfo()).groupInfo];
  for (const k of a.identityLinkKeys()) for (const bytes of hubView) assert.ok(!contains(bytes, k.key));
  const gi = decodeGroupInfo(unwrapMlsMessage(addBob.groupInfo).body);
  assert.ok(!gi.extensions.some((e) => e.extensionType === IDENTITY_LINK_KEYS_EXTENSION_TYPE), 'no identity link keys in the GroupInfo for the hub');

  // Bob replaces his empty link by a sealed one (a path update; credential otherwise unchanged).
  const pubBob = await b.publishIdentityLink(bob.keys);
  b = pubBob.pending;
  let r = await applyCommit(a, pubBob);
  a = r.session;
  assert.deepEqual(r.result.identityLinksChanged, [bob.keys.identity]);
  assert.deepEqual(r.result.added, []);
  assert.equal(r.result.committer, bob.keys.identity);
  assert.deepEqual(linkMap(a), expectedLinks([alice, bob]));
  assert.deepEqual(linkMap(b), expectedLinks([alice, bob]));

  // Messages name the client pseudonym as sender.
  let t = await talk(a, b, 'hello pseudonym', alice.keys.identity);
  t = await talk(t.to, t.from, 'hi back', bob.keys.identity);
  b = t.from;
  a = t.to;

  // Carol joins later: the Welcome brings the keys of the links already in the tree.
  const withCarol = await addAndPublish(engine, b, [a], carol, (joined) => assert.deepEqual(linkMap(joined), expectedLinks([alice, bob], [carol])));
  const pubCarol = withCarol.publish;
  b = withCarol.adder;
  [a] = withCarol.others;
  const c = withCarol.joiner;

  const everyone = expectedLinks([alice, bob, carol]);
  const realKeys = new Map([alice, bob, carol].map((p) => [p.device.identity, p.device.signaturePublicKey]));
  const authenticate = (uri: string, key: Uint8Array) => bytesEqual(realKeys.get(uri) ?? new Uint8Array(), key);
  for (const s of [a, b, c]) {
    assert.deepEqual(linkMap(s), everyone);
    assert.deepEqual(linkMap(s, authenticate), everyone, 'each link is signed by the real device key');
    for (const l of s.identityLinks()) assert.ok(l.status === 'verified' && l.userUri === l.deviceUri.replace('/d/', '/u/').replace(/\/[^/]+$/, ''));
  }
  t = await talk(c, a, 'three of us', carol.keys.identity);

  // members(): the client pseudonym, the user pseudonym and the raw credential for each leaf.
  for (const m of a.members()) {
    assert.ok(m.pseudonym);
    const cred = decodePseudonymousMlsCredential(m.pseudonym.credential);
    assert.equal(cred.clientPseudonym, m.identity);
    assert.equal(cred.userPseudonym, m.pseudonym.userPseudonym);
    const opened = openIdentityLink({ groupId: ROOM, keys: a.identityLinkKeys(), credential: cred });
    assert.equal(opened.status, 'verified', 'callers can open links from members() with the keys');
  }

  // The hub's decoders: pseudonymous leaves, routed by the client pseudonym's domain.
  const tree = decodeRatchetTree(pubCarol.ratchetTree);
  const leaves = treeLeaves(tree);
  assert.deepEqual(
    leaves.map((l) => [l.leafIndex, l.identity, l.credentialType, l.userPseudonym]),
    [alice, bob, carol].map((p, i) => [i, p.keys.identity, 'pseudonymous', p.keys.pseudonymous!.userPseudonym]),
  );
  assert.deepEqual(leaves.map((l) => domainOf(l.identity)), ['a.example', 'b.example', 'c.example']);
  assert.deepEqual(leaves.map((l) => toHex(l.signatureKey)), [alice, bob, carol].map((p) => toHex(p.keys.signaturePublicKey)));
  for (const l of leaves) assert.ok(!JSON.stringify(l).includes('/d/'), 'no device URI in what the hub reads');
  assert.deepEqual(encodeRatchetTree(tree), pubCarol.ratchetTree, 'the hub re-encodes pseudonymous leaves byte for byte');
  // A credential naming another key than its leaf's is refused by the hub's reader too.
  const leaf0 = tree.nodes[0]!;
  assert.ok(leaf0.nodeType === 'leaf' && leaf0.leaf.credential.credentialType === 'pseudonymous');
  const wrongKey = { ...leaf0, leaf: { ...leaf0.leaf, credential: { ...leaf0.leaf.credential, signaturePublicKey: new Uint8Array(32) } } };
  assert.throws(() => treeLeaves({ nodes: [wrongKey, ...tree.nodes.slice(1)] }), /not the leaf's signature_key/);

  // Sessions with identity link keys survive encode/restore (the keys follow the state).
  const bytes = t.to.encode();
  assert.deepEqual([...bytes.subarray(0, 4)], [0x4d, 0x4c, 0x53, 0x03]);
  const restored = engine.restore(bytes);
  assert.deepEqual(restored.identityLinkKeys(), t.to.identityLinkKeys());
  assert.deepEqual(linkMap(restored), everyone);
  assert.deepEqual(restored.encode(), bytes);
  // As builds before stop 30 saved it (its own encoding version): the same session.
  const legacy = legacySessionEncoding(bytes);
  assert.deepEqual([...legacy.subarray(0, 4)], [0x4d, 0x4c, 0x53, 0x02]);
  const fromLegacy = engine.restore(legacy);
  assert.deepEqual(fromLegacy.identityLinkKeys(), t.to.identityLinkKeys());
  assert.deepEqual(linkMap(fromLegacy), everyone);
  assert.deepEqual(fromLegacy.members(), restored.members());
});

test('two clients of one user, a removal changes the key, a removed member cannot read later links', async () => {
  const engine = await createMlsEngine();
  const userA = newPseudonymUri('a.example');
  const laptop = await person(engine, 'mimi://a.example/d/alice/laptop', userA);
  const phone = await person(engine, 'mimi://a.example/d/alice/phone', userA);
  const carol = await person(engine, 'mimi://c.example/d/carol/desk');
  const dave = await person(engine, 'mimi://d.example/d/dave/tab');

  let a = await engine.createGroup(laptop.keys, ROOM);
  const kps = [await keyPackage(engine, phone), await keyPackage(engine, carol)];
  const add = await a.add(kps.map((k) => k.publicMessage));
  a = add.pending;
  let p = await engine.joinFromWelcome(phone.keys, add.welcome!, kps[0], add.ratchetTree);
  let c = await engine.joinFromWelcome(carol.keys, add.welcome!, kps[1], add.ratchetTree);
  // Each joiner publishes its link; every other member processes the commit.
  const pubPhone = await p.publishIdentityLink(phone.keys);
  p = pubPhone.pending;
  a = (await applyCommit(a, pubPhone)).session;
  c = (await applyCommit(c, pubPhone)).session;
  const pubCarol = await c.publishIdentityLink(carol.keys);
  c = pubCarol.pending;
  a = (await applyCommit(a, pubCarol)).session;
  p = (await applyCommit(p, pubCarol)).session;
  assert.deepEqual(linkMap(a), expectedLinks([laptop, phone, carol]), 'two clients of one user pseudonym are consistent');
  assert.equal(new Set(a.members().map((m) => m.pseudonym!.userPseudonym)).size, 2);

  // Carol is removed: the commit introduces a new key that only the remaining members derive.
  const carolKeys = c.identityLinkKeys();
  const removal = await a.remove([carol.keys.identity]);
  a = removal.pending;
  p = (await applyCommit(p, removal)).session;
  const removedView = await c.process(removal.commit);
  assert.ok(removedView.result.kind === 'commit' && removedView.result.selfRemoved);
  const newest = a.identityLinkKeys().at(-1)!;
  assert.equal(newest.epoch, removal.newEpoch);
  assert.deepEqual(p.identityLinkKeys(), a.identityLinkKeys());
  assert.ok(!carolKeys.some((k) => k.epoch === newest.epoch || bytesEqual(k.key, newest.key)));

  // Dave joins and publishes under the new key: carol, even with the tree, cannot open his link.
  const withDave = await addAndPublish(engine, p, [a], dave);
  p = withDave.adder;
  [a] = withDave.others;
  const d = withDave.joiner;
  for (const s of [a, p, d]) assert.deepEqual(linkMap(s), expectedLinks([laptop, phone, dave]));
  const daveCredential = decodePseudonymousMlsCredential(a.members().find((m) => m.identity === dave.keys.identity)!.pseudonym!.credential);
  const seenByCarol = openIdentityLink({ groupId: ROOM, keys: carolKeys, credential: daveCredential });
  assert.equal(seenByCarol.status, 'unknownKey');

  // Keys no link uses any more are dropped (only the newest is kept besides the used ones).
  const used = new Set(a.identityLinks().map((l) => (l.status === 'verified' ? l.ilkEpoch : -1n)));
  const held = a.identityLinkKeys().map((k) => k.epoch);
  assert.ok(held.every((e) => used.has(e) || e === held.at(-1)), `held ${held}, used ${[...used]}`);

  // A removal proposed by the user's other client is that user's departure.
  const leave = await p.proposeRemove([laptop.keys.identity]);
  const seen = await a.process(leave.proposals[0]);
  assert.deepEqual(seen.session.pendingRemovals(), [{ identity: laptop.keys.identity, departed: true, byHub: false }]);
});

test('an external joiner gets the older keys by an in-group message', async () => {
  const engine = await createMlsEngine();
  const alice = await person(engine, 'mimi://a.example/d/alice/laptop');
  const erin = await person(engine, 'mimi://e.example/d/erin/pc');
  let a = await engine.createGroup(alice.keys, ROOM);
  const { groupInfo, ratchetTree } = await a.groupInfo();
  const joined = await engine.joinExternal(erin.keys, groupInfo, ratchetTree);
  let e = joined.pending;
  const seen = await a.process(joined.commit);
  a = seen.session;
  assert.ok(seen.result.kind === 'commit' && seen.result.committer === erin.keys.identity);
  // Both derived the key of the join epoch; erin lacks the older one alice's link is sealed under.
  assert.deepEqual(linkMap(e), { [alice.keys.identity]: 'unknownKey', [erin.keys.identity]: 'pending' });
  assert.deepEqual(e.identityLinkKeys(), a.identityLinkKeys().filter((k) => k.epoch === joined.newEpoch));

  // Alice sends the keys inside the group; the message is an ordinary (encrypted) application message.
  const content = identityLinkKeysContent({ senderUri: alice.keys.identity, roomUri: ROOM, keys: a.identityLinkKeys() });
  const sent = await a.encrypt(encodeContent(content));
  a = sent.session;
  const got = await e.process(sent.message);
  assert.ok(got.result.kind === 'application');
  const keys = findIdentityLinkKeys(decodeContent(got.result.plaintext))!;
  e = got.session.withIdentityLinkKeys(keys);
  assert.deepEqual(linkMap(e), expectedLinks([alice], [erin]));
  // Keys from an epoch that has not happened yet are ignored (they cannot be genuine).
  assert.deepEqual(e.withIdentityLinkKeys([{ epoch: 99n, key: new Uint8Array(32) }]).identityLinkKeys(), e.identityLinkKeys());

  const pub = await e.publishIdentityLink(erin.keys);
  e = pub.pending;
  a = (await applyCommit(a, pub)).session;
  assert.deepEqual(linkMap(a), expectedLinks([alice, erin]));
  assert.deepEqual(linkMap(e), expectedLinks([alice, erin]));
});

/** A KeyPackage made with ts-mls directly, whose credential carries any identity_link_ciphertext. */
async function craftedKeyPackage(p: Person, identityLinkCiphertext: Uint8Array): Promise<Uint8Array> {
  const impl = await ciphersuiteFor('noble');
  const cred: PseudonymousCredential = {
    clientPseudonym: p.keys.identity,
    userPseudonym: p.keys.pseudonymous!.userPseudonym,
    signaturePublicKey: p.keys.signaturePublicKey,
    identityLinkCiphertext,
  };
  const credential = { credentialType: String(0xf001), data: encodePseudonymousCredential(cred) } as unknown as Credential;
  const kp = await generateKeyPackageWithKey(
    credential,
    { versions: ['mls10'], ciphersuites: ['MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'], extensions: [], proposals: [], credentials: ['basic', String(0xf001)] as never },
    defaultLifetime,
    [],
    { signKey: p.keys.signaturePrivateKey, publicKey: p.keys.signaturePublicKey },
    impl,
  );
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: kp.publicPackage });
}

/**
 * A path-update commit by `session` whose own leaf carries `change(credential)`, made with ts-mls
 * directly from the session's encoding (the engine itself only ever changes the identity link).
 */
async function commitWithOwnCredential(session: GroupSession, change: (c: PseudonymousCredential) => PseudonymousCredential): Promise<Uint8Array> {
  const { state: decoded, ilks } = decodedSessionState(session.encode());
  assert.ok(ilks.length > 0, 'a session with identity link keys');
  const state: ClientState = {
    ...decoded,
    clientConfig: {
      keyRetentionConfig: defaultKeyRetentionConfig,
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: { validateCredential: async () => true },
    },
  };
  const own = state.ratchetTree[session.ownLeafIndex * 2];
  assert.ok(own?.nodeType === 'leaf');
  const current = decodePseudonymousMlsCredential(session.members().find((m) => m.leafIndex === session.ownLeafIndex)!.pseudonym!.credential);
  const credential = { credentialType: String(0xf001), data: encodePseudonymousCredential(change(current)) } as unknown as Credential;
  const tree = state.ratchetTree.slice();
  tree[session.ownLeafIndex * 2] = { nodeType: 'leaf', leaf: { ...own.leaf, credential } };
  const impl = await ciphersuiteFor('noble');
  const res = await createCommit({ state: { ...state, ratchetTree: tree }, cipherSuite: impl, pskIndex: makePskIndex(state, {}) }, { wireAsPublicMessage: true });
  return encodeMlsMessage(res.commit);
}

test('forged links and links sealed under the wrong key are refused', async () => {
  const engine = await createMlsEngine();
  const alice = await person(engine, 'mimi://a.example/d/alice/laptop');
  const bob = await person(engine, 'mimi://b.example/d/bob/phone');
  const withBob = await addAndPublish(engine, await engine.createGroup(alice.keys, ROOM), [], bob);
  let a = withBob.adder;
  let b = withBob.joiner;
  const bobCredential = decodePseudonymousMlsCredential(a.members()[1].pseudonym!.credential);

  // Mallory copies bob's sealed link into her own credential: it is bound to bob's credential.
  const copier = await person(engine, 'mimi://m.example/d/mallory/1');
  // Mallory seals her genuine link under a key she made up, named like the room's newest.
  const guesser = await person(engine, 'mimi://m.example/d/mallory/2');
  const newest = a.identityLinkKeys().at(-1)!;
  const madeUp = sealIdentityLink({
    groupId: ROOM,
    key: { epoch: newest.epoch, key: new Uint8Array(32).fill(1) },
    credential: { clientPseudonym: guesser.keys.identity, userPseudonym: guesser.keys.pseudonymous!.userPseudonym, signaturePublicKey: guesser.keys.signaturePublicKey },
    link: guesser.keys.pseudonymous!.identityLink,
  });
  // Mallory claims to be bob's device, signing with her own device key.
  const mallory = await engine.newDeviceKeys('mimi://m.example/d/mallory/3');
  const claimed = { client: newPseudonymUri('m.example'), user: newPseudonymUri('m.example') };
  const impostorKeys = await engine.newPseudonymousKeys(mallory, claimed);
  const forgedLink = createIdentityLink(
    { identity: bob.device.identity, signaturePublicKey: mallory.signaturePublicKey, signaturePrivateKey: mallory.signaturePrivateKey },
    { clientPseudonym: claimed.client, userPseudonym: claimed.user, signaturePublicKey: impostorKeys.signaturePublicKey },
  );
  const impostor: Person = { device: mallory, keys: { ...impostorKeys, pseudonymous: { userPseudonym: claimed.user, identityLink: forgedLink } } };

  const add = await a.add([await craftedKeyPackage(copier, bobCredential.identityLinkCiphertext), await craftedKeyPackage(guesser, madeUp)]);
  a = add.pending;
  b = (await applyCommit(b, add)).session;

  for (const s of [a, b]) {
    const links = new Map(s.identityLinks().map((l) => [l.identity, l]));
    const copied = links.get(copier.keys.identity)!;
    assert.ok(copied.status === 'invalid' && /does not decrypt/.test(copied.reason), JSON.stringify(copied));
    const guessed = links.get(guesser.keys.identity)!;
    assert.ok(guessed.status === 'invalid' && /does not decrypt under the identity link key of epoch/.test(guessed.reason), JSON.stringify(guessed));
    assert.equal(links.get(alice.keys.identity)!.status, 'verified');
    assert.equal(links.get(bob.keys.identity)!.status, 'verified');
  }

  // The impostor's link (published once it holds the key) verifies only as "signed by mallory's key":
  // checking that key against bob's device, as for any basic leaf, refuses it.
  const withImpostor = await addAndPublish(engine, b, [a], impostor);
  b = withImpostor.adder;
  [a] = withImpostor.others;
  const impostorCredential = decodePseudonymousMlsCredential(a.members().find((m) => m.identity === impostor.keys.identity)!.pseudonym!.credential);
  const opened = openIdentityLink({ groupId: ROOM, keys: a.identityLinkKeys(), credential: impostorCredential });
  assert.ok(opened.status === 'verified' && opened.deviceUri === bob.device.identity && bytesEqual(opened.deviceSignatureKey, mallory.signaturePublicKey));
  // Unauthenticated, bob now seems to sit behind two user pseudonyms: both are flagged.
  const unchecked = new Map(a.identityLinks().map((l) => [l.identity, l]));
  for (const who of [bob, impostor]) {
    const l = unchecked.get(who.keys.identity)!;
    assert.ok(l.status === 'invalid' && /uses 2 user pseudonyms/.test(l.reason), JSON.stringify(l));
  }
  // Authenticated, the impostor is refused and bob's real client is verified again.
  const realKeys = new Map([alice, bob].map((p) => [p.device.identity, p.device.signaturePublicKey]));
  const checked = new Map(a.identityLinks({ authenticate: (uri, key) => bytesEqual(realKeys.get(uri) ?? new Uint8Array(), key) }).map((l) => [l.identity, l]));
  const refused = checked.get(impostor.keys.identity)!;
  assert.ok(refused.status === 'invalid' && /not mimi:\/\/b\.example\/d\/bob\/phone's/.test(refused.reason), JSON.stringify(refused));
  assert.equal(checked.get(bob.keys.identity)!.status, 'verified');
  assert.equal(checked.get(alice.keys.identity)!.status, 'verified');

  // A member may change only its identity link: a commit that changes its pseudonyms is refused.
  const renamed = await commitWithOwnCredential(b, (c) => ({ ...c, clientPseudonym: newPseudonymUri('b.example') }));
  await assert.rejects(a.process(renamed), (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /the pseudonyms changed/.test(e.message));

  // The engine will not use keys whose link does not sign their credential.
  const bad = { ...copier.keys, pseudonymous: { ...copier.keys.pseudonymous!, identityLink: guesser.keys.pseudonymous!.identityLink } };
  await assert.rejects(engine.generateKeyPackages(bad, 1), (e: unknown) => e instanceof MlsError && e.code === 'invalid' && /identity link/.test(e.message));
  await assert.rejects(engine.createGroup(bad, 'mimi://hub.example/r/other'), (e: unknown) => e instanceof MlsError && e.code === 'invalid');
  await assert.rejects(b.publishIdentityLink(alice.keys), (e: unknown) => e instanceof MlsError && /not the ones of this client's leaf/.test(e.message));
  await assert.rejects(
    engine.newPseudonymousKeys(alice.keys, { client: newPseudonymUri('a.example'), user: newPseudonymUri('a.example') }),
    (e: unknown) => e instanceof MlsError && e.code === 'invalid',
  );
  await assert.rejects(
    engine.newPseudonymousKeys(alice.device, { client: 'mimi://a.example/u/alice', user: newPseudonymUri('a.example') }),
    (e: unknown) => e instanceof MlsError && e.code === 'invalid',
  );
});

test('a bootstrap room mixes a pseudonym and a real device; connection-only KeyPackages', async () => {
  const engine = await createMlsEngine();
  const alice = await person(engine, 'mimi://a.example/d/alice/laptop');
  const bobDevice = await engine.newDeviceKeys('mimi://b.example/d/bob/phone');
  const [kp] = await engine.generateKeyPackages(bobDevice, 1, { connectionOnly: true });
  assert.equal(isConnectionOnlyKeyPackage(kp.publicMessage), true);
  let a = await engine.createGroup(alice.keys, 'mimi://a.example/r/bootstrap');
  const add = await a.add([kp.publicMessage]);
  a = add.pending;
  let b = await engine.joinFromWelcome(bobDevice, add.welcome!, kp, add.ratchetTree);
  assert.deepEqual(
    b.members().map((m) => [m.identity, m.pseudonym?.userPseudonym]),
    [
      [alice.keys.identity, alice.keys.pseudonymous!.userPseudonym],
      ['mimi://b.example/d/bob/phone', undefined],
    ],
  );
  const { leafIndex, identity, pseudonym } = b.members()[1];
  assert.deepEqual({ leafIndex, identity, pseudonym }, { leafIndex: 1, identity: 'mimi://b.example/d/bob/phone', pseudonym: undefined }, 'basic leaves look as before');
  assert.deepEqual(linkMap(b), expectedLinks([alice]), "bob's real device verifies alice's link");
  const t = await talk(b, a, 'who are you?', 'mimi://b.example/d/bob/phone');
  b = t.from;
  assert.deepEqual(treeLeaves(decodeRatchetTree(add.ratchetTree)).map((l) => l.credentialType), ['pseudonymous', 'basic']);

  // Groups of basic clients hold no identity link keys: nothing follows their state.
  const plain = await engine.createGroup(bobDevice, 'mimi://b.example/r/plain');
  assert.equal(decodedSessionState(plain.encode()).ilks.length, 0);
  assert.deepEqual(plain.identityLinkKeys(), []);
  assert.deepEqual(plain.identityLinks(), []);
  await assert.rejects(plain.publishIdentityLink(bobDevice), (e: unknown) => e instanceof MlsError && e.code === 'invalid');
});
