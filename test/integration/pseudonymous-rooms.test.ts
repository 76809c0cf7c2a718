// Rooms with pseudonymous members (draft-ietf-mimi-protocol-06 "Minimal metadata rooms", and the
// connection flow of draft-mahy-mimi-pseudonyms) between two real in-process providers on loopback:
// a.example hosts the rooms, b.example follows them. Members are made by the app's MLS engine
// (newPseudonymousKeys: PseudonymousCredential leaves), requests go through the client API
// (ProviderClient), pseudonyms are issued by the providers themselves.
//
// - An MMR created by a pseudonym of alice@a, with a pseudonym of bob@b added by a claim of one of
//   its ordinary KeyPackages over /keyMaterial, one of ann@a claimed locally, and a second device
//   of bob joining by external commit under bob's user pseudonym: every Welcome, commit and message
//   reaches exactly the devices behind the pseudonyms, through their inboxes. A claim is never
//   served a connection-only KeyPackage (the connection flow carries those in the request): while a
//   pseudonym holds only those, a claim for it gets no KeyPackage, remotely and locally.
// - Hostile requests (a client pseudonym not issued to the device, a retired one, another account's
//   user pseudonym, a pseudonym put on the list without a client, a KeyPackage not claimed) are
//   refused with clear errors at the hub or the follower, and no row changes at either provider.
// - A mixed room (the connection flow's bootstrap room: a pseudonym and a real user), destroyed by
//   its creator: nothing of it stays at the hub, not even in the SQLite files' free pages, and its
//   members then find it unknown.
// - Scans: each provider's rows for the MMR name only pseudonyms, the other provider's files never
//   contain the accounts behind them, and no log line names anyone.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { fromB64, fromUtf8, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { newPseudonymUri, newRoomUri } from '../../src-shared/identifiers.js';
import { welcomeRecipients } from '../../src-shared/mls-wire.js';
import { initialRoomState, type RoomState } from '../../src-shared/room-state.js';
import type { CommitOutput, DeviceKeys, GeneratedKeyPackage, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { withParticipant, withRole } from '../../src-main/core/room-view.js';
import { PeerNode, withDb } from '../helpers/mimi-peer.js';
import { providerStorageBytes, tableNames } from '../helpers/provider-db.js';
import { roomExtensions, withStateData, type Ext } from '../helpers/room-state-fixture.js';

const PASSWORD = 'correct horse battery staple';

let engine: MlsEngine;
let A: PeerNode; // a.example: hosts every room
let B: PeerNode; // b.example: a follower
let hubSender: Uint8Array;
const clients: ProviderClient[] = [];

interface Dev {
  handle: string;
  userUri: string;
  deviceUri: string;
  client: ProviderClient;
  node: PeerNode;
  keys: DeviceKeys;
}

/** A pseudonymous client of a device: its client pseudonym, the user pseudonym it names, its keys. */
interface Pseud {
  dev: Dev;
  client: string;
  user: string;
  /** The user pseudonym issued with `client` (retiring it retires the pair). */
  issuedUser: string;
  keys: DeviceKeys;
  kps: Map<string, GeneratedKeyPackage>;
}

/** Handles unique to this run, so a scan for them finds nothing by chance. */
const handle = (base: string) => `${base}-${toHex(randomBytes(4))}`;

async function register(node: PeerNode, h: string, login = false): Promise<Dev> {
  const client = new ProviderClient({ baseUrl: node.url, caPem: node.id.ca.caPem });
  clients.push(client);
  const s = login ? await client.login({ handle: h, password: PASSWORD, deviceName: 'phone' }) : await client.register({ handle: h, password: PASSWORD, deviceName: 'laptop' });
  return { handle: h, userUri: s.userUri, deviceUri: s.deviceUri, client, node, keys: await engine.newDeviceKeys(s.deviceUri) };
}

/** A pseudonym pair issued to `dev`; its keys name `user` (another user pseudonym of the account) when given. */
async function pseudonym(dev: Dev, user?: string): Promise<Pseud> {
  const [issued] = (await dev.client.issuePseudonyms(1)).issued;
  const p = { client: issued.clientPseudonym, user: user ?? issued.userPseudonym };
  return { dev, ...p, issuedUser: issued.userPseudonym, keys: await engine.newPseudonymousKeys(dev.keys, p), kps: new Map() };
}

/**
 * KeyPackages of `p`, uploaded for its client pseudonym: ordinary ones (what a claim is served), or
 * connection-only ones (never served to a claim). Their hex refs; the counts the provider answers.
 */
async function pseudonymKeyPackages(p: Pseud, n: number, connectionOnly = false): Promise<{ refs: string[]; counts: { connectionOnly: number; other: number } }> {
  const made = await engine.generateKeyPackages(p.keys, n, connectionOnly ? { connectionOnly: true } : undefined);
  for (const k of made) p.kps.set(toHex(k.ref), k);
  const counts = await p.dev.client.uploadPseudonymKeyPackages({ clientPseudonym: p.client, keyPackages: made.map((k) => toB64(k.publicMessage)), connectionOnly });
  return { refs: made.map((k) => toHex(k.ref)), counts };
}

/** The provider's counts of `p`'s unclaimed KeyPackages, as its account lists them. */
async function countsOf(p: Pseud): Promise<{ connectionOnly: number; other: number }> {
  const listed = (await p.dev.client.pseudonyms()).pseudonyms.find((x) => x.clientPseudonym === p.client);
  assert.ok(listed, `${p.client} is listed`);
  return listed.keyPackages;
}

/** The answer to a claim for `p` when it has no KeyPackage a claim may be served. */
const exhausted = (p: Pseud) => ({ userUri: p.issuedUser, status: 'noCompatibleMaterial', clients: [{ deviceUri: p.client, status: 'keyMaterialExhausted' }] });

let counter = 0;
const requestId = () => `pr-${process.pid}-${++counter}`;

const postCommit = (dev: Dev, roomUri: string, out: Pick<CommitOutput, 'commit' | 'groupInfo' | 'ratchetTree' | 'welcome'>) =>
  dev.client.commit(roomUri, {
    commit: toB64(out.commit),
    ...(out.welcome ? { welcome: toB64(out.welcome) } : {}),
    groupInfo: toB64(out.groupInfo),
    ratchetTree: toB64(out.ratchetTree),
    requestId: requestId(),
  });

const send = async (dev: Dev, roomUri: string, session: GroupSession, text: string, asPseudonym?: string) => {
  const { session: next, message } = await session.encrypt(utf8(text));
  await dev.client.sendMessage(roomUri, { message: toB64(message), requestId: requestId(), ...(asPseudonym ? { asPseudonym } : {}) });
  return { session: next, message };
};

async function drained(): Promise<void> {
  await A.running.federation.outbox.drained();
  await B.running.federation.outbox.drained();
}

async function rejects(p: Promise<unknown>, status: number, code: string, message: RegExp): Promise<void> {
  let caught: unknown;
  await assert.rejects(p, (e) => ((caught = e), true));
  assert.ok(caught instanceof ProviderError, String(caught));
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.status, status, caught.message);
  assert.match(caught.message, message);
}

/** What a device's inbox holds for a room: kind, the event's sender, the payload (hex). */
function inbox(dev: Dev, roomUri: string): { kind: string; sender: string; payload: string; tree: Buffer | null }[] {
  return withDb(dev.node.dbFile, (db) =>
    (db
      .prepare(
        `SELECT e.kind, e.sender_device AS sender, e.payload, e.ratchet_tree AS tree FROM inbox i JOIN events e ON e.id = i.event_id
          WHERE i.device_uri = ? AND e.room_uri = ? ORDER BY i.seq`,
      )
      .all(dev.deviceUri, roomUri) as { kind: string; sender: string; payload: Buffer; tree: Buffer | null }[]).map((r) => ({ ...r, payload: r.payload.toString('hex') })),
  );
}

const got = (dev: Dev, roomUri: string, bytes: Uint8Array): boolean => inbox(dev, roomUri).some((e) => e.payload === toHex(bytes));

/** Joins from the newest Welcome in the device's own inbox, with the KeyPackage it is addressed to. */
async function joinFromInbox(p: Pseud | { dev: Dev; keys: DeviceKeys; kps: Map<string, GeneratedKeyPackage> }, roomUri: string): Promise<GroupSession> {
  const w = inbox(p.dev, roomUri).filter((e) => e.kind === 'welcome').at(-1);
  assert.ok(w, `no Welcome for ${p.dev.deviceUri} in ${roomUri}`);
  const welcome = new Uint8Array(Buffer.from(w.payload, 'hex'));
  const ref = welcomeRecipients(welcome).map(toHex).find((r) => p.kps.has(r));
  assert.ok(ref, 'the Welcome is addressed to one of its KeyPackages');
  return engine.joinFromWelcome(p.keys, welcome, p.kps.get(ref)!, new Uint8Array(w.tree!));
}

/** Rows of a provider a test must leave as they were (hostile requests). */
const TABLES = [
  'rooms',
  'room_devices',
  'room_participants',
  'events',
  'inbox',
  'accepted',
  'forwarded',
  'idempotency',
  'key_package_claims',
  'pending_removals',
  'fed_outbox',
  'destroyed_rooms',
  'pseudonyms',
  'pseudonym_key_packages',
];
const snapshot = (node: PeerNode): string =>
  withDb(node.dbFile, (db) => JSON.stringify(TABLES.map((t) => db.prepare(`SELECT * FROM ${t}`).all().map((r) => JSON.stringify(r)).sort())));

async function unchanged(fn: () => Promise<void>): Promise<void> {
  await drained();
  const before = [snapshot(A), snapshot(B)];
  await fn();
  await drained();
  assert.deepEqual([snapshot(A), snapshot(B)], before, 'no row changed at either provider');
}

/** A room and its members' sessions, by member identity. */
interface Room {
  uri: string;
  exts: Ext[];
  state: RoomState;
  sessions: Map<string, GroupSession>;
}

/** An accepted commit: its author moves on to the pending session, the others process it. */
async function adopt(room: Room, by: string, out: CommitOutput): Promise<void> {
  for (const [id, s] of room.sessions) room.sessions.set(id, id === by ? out.pending : (await s.process(out.commit)).session);
}

/** A managed room at a.example whose creator is `creator` (a pseudonym, or a device as `{ keys }`). */
async function createRoom(dev: Dev, creator: { keys: DeviceKeys }, user: string, name: string, role?: number): Promise<Room> {
  const uri = newRoomUri('a.example');
  let state = initialRoomState({ roomUri: uri, creator: user, roomName: name });
  if (role !== undefined) state = withRole(state, user, role);
  const exts = roomExtensions(hubSender, state);
  const session = await engine.createGroup(creator.keys, uri, exts);
  const gi = await session.groupInfo();
  const info = await dev.client.createRoom({ roomUri: uri, groupInfo: toB64(gi.groupInfo), ratchetTree: toB64(gi.ratchetTree) });
  assert.deepEqual(info.participants, [user]);
  return { uri, exts, state, sessions: new Map([[creator.keys.identity, session]]) };
}

/** `by` adds `kp` (claimed) and puts `user` on the list as an ordinary user. */
async function addMember(room: Room, by: { dev: Dev; keys: DeviceKeys }, kp: Uint8Array, user: string): Promise<CommitOutput> {
  const state = withParticipant(room.state, user, 2);
  const exts = withStateData(room.exts, state);
  const out = await room.sessions.get(by.keys.identity)!.commitChanges({ add: [kp], extensions: exts });
  await postCommit(by.dev, room.uri, out);
  await adopt(room, by.keys.identity, out);
  room.state = state;
  room.exts = exts;
  await drained();
  return out;
}

function membersAt(node: PeerNode, roomUri: string) {
  return withDb(node.dbFile, (db) => ({
    devices: db.prepare('SELECT device_uri, user_uri FROM room_devices WHERE room_uri = ? ORDER BY rowid').all(roomUri) as { device_uri: string; user_uri: string }[],
    participants: db.prepare('SELECT user_uri FROM room_participants WHERE room_uri = ? ORDER BY rowid').pluck().all(roomUri) as string[],
  }));
}

before(async () => {
  engine = await createMlsEngine();
  [A, B] = await Promise.all([PeerNode.prepare('a.example'), PeerNode.prepare('b.example')]);
  // Consent is not what this file is about: a pseudonym may add carol@b (a real user) at once.
  await A.start({ peers: [B], trust: [B], extra: { consent: 'open' } });
  await B.start({ peers: [A], trust: [A], extra: { consent: 'open' } });
});

after(async () => {
  for (const c of clients) c.close();
  const errors: unknown[] = [];
  for (const n of [A, B]) await n?.destroy().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

describe('rooms with pseudonymous members', () => {
  let alice: Dev; // a.example
  let ann: Dev; // a.example
  let mallory: Dev; // a.example, hostile
  let bob: Dev; // b.example, laptop
  let bobPhone: Dev; // b.example, bob's second device
  let carol: Dev; // b.example, a real user in the bootstrap room
  let dora: Dev; // b.example, hostile
  let aP: Pseud; // alice in the MMR
  let bP: Pseud; // bob (laptop) in the MMR
  let nP: Pseud; // ann in the MMR
  let phoneP: Pseud; // bob's phone in the MMR, under bob's user pseudonym
  let bP2: Pseud; // another pseudonym of bob's laptop, never in the MMR
  let mmr: Room;

  before(async () => {
    [alice, ann, mallory, bob, carol, dora] = await Promise.all([
      register(A, handle('alice')),
      register(A, handle('ann')),
      register(A, handle('mallory')),
      register(B, handle('bob')),
      register(B, handle('carol')),
      register(B, handle('dora')),
    ]);
    bobPhone = await register(B, bob.handle, true);
    hubSender = fromB64((await alice.client.hubSender()).externalSender);
  });

  test('an MMR at a.example: created by a pseudonym, a pseudonym of b.example added by a claim of its ordinary KeyPackage (never a connection-only one), welcomed on the device behind it', async () => {
    aP = await pseudonym(alice);
    bP = await pseudonym(bob);
    const connRefs = (await pseudonymKeyPackages(bP, 2, true)).refs;
    mmr = await createRoom(alice, aP, aP.user, 'MMR');
    // Listed for alice's account (as her pseudonym), nowhere else.
    assert.deepEqual((await alice.client.listRooms()).map((r) => r.roomUri), [mmr.uri]);
    assert.deepEqual(await alice.client.getRoom(mmr.uri).then((r) => r.participants), [aP.user]);
    assert.deepEqual(await ann.client.listRooms(), []);

    // While bob's pseudonym holds only connection-only KeyPackages, a claim over /keyMaterial gets
    // none of them: no KeyPackage at all, and nothing is claimed or recorded.
    const claimedAt = (node: PeerNode) => withDb(node.dbFile, (db) => db.prepare('SELECT device_uri, claimed_by FROM key_package_claims WHERE room_uri = ?').all(mmr.uri));
    await unchanged(async () => {
      assert.deepEqual((await alice.client.claim({ roomUri: mmr.uri, users: [bP.user], asPseudonym: aP.user })).results, [exhausted(bP)]);
    });
    assert.deepEqual(await countsOf(bP), { connectionOnly: 2, other: 0 });
    assert.deepEqual([claimedAt(A), claimedAt(B)], [[], []]);

    // With ordinary ones too (newer than the connection-only ones), b.example serves an ordinary one.
    const { refs: otherRefs, counts } = await pseudonymKeyPackages(bP, 2);
    assert.deepEqual(counts, { connectionOnly: 2, other: 2 });
    const claim = await alice.client.claim({ roomUri: mmr.uri, users: [bP.user], asPseudonym: aP.user });
    const [c] = claim.results[0].clients;
    assert.deepEqual([claim.results[0].status, claim.results[0].clients.length, c.deviceUri, c.status], ['success', 1, bP.client, 'success']);
    const ref = toHex(await engine.keyPackageRef(fromB64(c.keyPackage!)));
    assert.equal(ref, otherRefs[0], 'the oldest ordinary KeyPackage');
    assert.ok(!connRefs.includes(ref));
    assert.deepEqual(await countsOf(bP), { connectionOnly: 2, other: 1 }, 'the connection-only ones untouched');
    assert.deepEqual(claimedAt(A), [{ device_uri: bP.client, claimed_by: aP.user }]);
    assert.deepEqual(claimedAt(B), [{ device_uri: bP.client, claimed_by: aP.user }], 'b.example too records the client pseudonym, not the device');

    const add = await addMember(mmr, aP, fromB64(c.keyPackage!), bP.user);
    // The Welcome went to b.example, which queued it for bob's laptop and nobody else.
    assert.deepEqual(inbox(bob, mmr.uri).map((e) => e.kind), ['welcome']);
    assert.ok(got(bob, mmr.uri, add.welcome!));
    assert.deepEqual(inbox(bobPhone, mmr.uri), []);
    mmr.sessions.set(bP.client, await joinFromInbox(bP, mmr.uri));
    assert.deepEqual(mmr.sessions.get(bP.client)!.members().map((m) => m.identity), [aP.client, bP.client]);

    // Each provider keeps the members as pseudonyms: the hub all of them, the follower its own.
    assert.deepEqual(membersAt(A, mmr.uri), {
      devices: [
        { device_uri: aP.client, user_uri: aP.user },
        { device_uri: bP.client, user_uri: bP.user },
      ],
      participants: [aP.user, bP.user],
    });
    assert.deepEqual(membersAt(B, mmr.uri), { devices: [{ device_uri: bP.client, user_uri: bP.user }], participants: [bP.user] });
    assert.deepEqual((await bob.client.listRooms()).map((r) => r.roomUri), [mmr.uri], "bob's account lists it (his pseudonym is in it)");
  });

  test("a commit by the b.example member (publishing its identity link) reaches alice's device; messages both ways name the user pseudonym sent as", async () => {
    const pub = await mmr.sessions.get(bP.client)!.publishIdentityLink(bP.keys);
    await postCommit(bob, mmr.uri, pub);
    await adopt(mmr, bP.client, pub);
    await drained();
    const commitAtA = inbox(alice, mmr.uri).find((e) => e.payload === toHex(pub.commit));
    assert.equal(commitAtA?.sender, bP.client, 'the hub names the committing client pseudonym');
    assert.equal(mmr.sessions.get(aP.client)!.identityLinks().find((l) => l.identity === bP.client)?.status, 'verified');

    // A device that is in the room as a pseudonym must say which user pseudonym it sends as.
    const { message: unnamed } = await mmr.sessions.get(aP.client)!.encrypt(utf8('who am I?'));
    await unchanged(() =>
      rejects(alice.client.sendMessage(mmr.uri, { message: toB64(unnamed), requestId: requestId() }), 400, 'badRequest', /as a pseudonym: name the user pseudonym it acts as \(asPseudonym\)/),
    );
    await unchanged(() =>
      rejects(bob.client.sendMessage(mmr.uri, { message: toB64(unnamed), requestId: requestId() }), 400, 'badRequest', /as a pseudonym: name the user pseudonym/),
    );

    let s = await send(alice, mmr.uri, mmr.sessions.get(aP.client)!, 'hello pseudonym', aP.user);
    mmr.sessions.set(aP.client, s.session);
    await drained();
    assert.ok(got(bob, mmr.uri, s.message), "alice's message reached bob's laptop");
    assert.ok(!got(alice, mmr.uri, s.message), 'not echoed to alice');
    let r = await mmr.sessions.get(bP.client)!.process(s.message);
    mmr.sessions.set(bP.client, r.session);
    assert.ok(r.result.kind === 'application' && fromUtf8(r.result.plaintext) === 'hello pseudonym' && r.result.senderIdentity === aP.client);

    s = await send(bob, mmr.uri, mmr.sessions.get(bP.client)!, 'hi from b', bP.user);
    mmr.sessions.set(bP.client, s.session);
    await drained();
    assert.ok(got(alice, mmr.uri, s.message), "bob's message reached alice's device");
    assert.ok(!got(bob, mmr.uri, s.message), 'the follower does not hand it back to bob');
    r = await mmr.sessions.get(aP.client)!.process(s.message);
    mmr.sessions.set(aP.client, r.session);
    assert.ok(r.result.kind === 'application' && fromUtf8(r.result.plaintext) === 'hi from b' && r.result.senderIdentity === bP.client);
    // The hub took bob's user pseudonym as the sender (SubmitMessageRequest.sendingUri).
    const senderAtHub = withDb(A.dbFile, (db) => db.prepare("SELECT sender_device FROM events WHERE room_uri = ? AND kind = 'message' AND payload = ?").pluck().get(mmr.uri, Buffer.from(s.message)));
    assert.equal(senderAtHub, bP.user);
  });

  test('a pseudonym of a.example claimed locally: the Welcome reaches the device it was issued to', async () => {
    nP = await pseudonym(ann);
    // In claim order: claimed_at (key_package_claims has no insertion order on PostgreSQL, and the
    // claims compared here are made in separate steps, milliseconds apart at least).
    const claimsAtA = () => withDb(A.dbFile, (db) => db.prepare('SELECT device_uri, claimed_by FROM key_package_claims WHERE room_uri = ? ORDER BY claimed_at').all(mmr.uri));
    // Only a connection-only KeyPackage: the local claim gets no KeyPackage, nothing is recorded.
    const connRefs = (await pseudonymKeyPackages(nP, 1, true)).refs;
    await unchanged(async () => {
      assert.deepEqual((await alice.client.claim({ roomUri: mmr.uri, users: [nP.user], asPseudonym: aP.user })).results, [exhausted(nP)]);
    });
    assert.deepEqual(await countsOf(nP), { connectionOnly: 1, other: 0 });

    // With an ordinary one too: that one is served, the connection-only one stays.
    const { refs: otherRefs } = await pseudonymKeyPackages(nP, 1);
    const claim = await alice.client.claim({ roomUri: mmr.uri, users: [nP.user], asPseudonym: aP.user });
    const [c] = claim.results[0].clients;
    assert.deepEqual([claim.results[0].status, claim.results[0].clients.length, c.deviceUri, c.status], ['success', 1, nP.client, 'success']);
    const ref = toHex(await engine.keyPackageRef(fromB64(c.keyPackage!)));
    assert.deepEqual([ref, connRefs.includes(ref)], [otherRefs[0], false]);
    assert.deepEqual(await countsOf(nP), { connectionOnly: 1, other: 0 });
    assert.deepEqual(claimsAtA().at(-1), { device_uri: nP.client, claimed_by: aP.user });
    const add = await addMember(mmr, aP, fromB64(c.keyPackage!), nP.user);
    assert.ok(got(ann, mmr.uri, add.welcome!), "the Welcome is in ann's device's inbox");
    assert.ok(got(bob, mmr.uri, add.commit), 'the commit reached bob');
    mmr.sessions.set(nP.client, await joinFromInbox(nP, mmr.uri));

    const s = await send(ann, mmr.uri, mmr.sessions.get(nP.client)!, 'ann here', nP.user);
    mmr.sessions.set(nP.client, s.session);
    await drained();
    assert.ok(got(alice, mmr.uri, s.message) && got(bob, mmr.uri, s.message) && !got(ann, mmr.uri, s.message));
    assert.deepEqual(membersAt(A, mmr.uri).participants, [aP.user, bP.user, nP.user]);
  });

  test("bob's second device joins by external commit as a client pseudonym of its own under bob's user pseudonym; the follower refuses identities that are not the device's", async () => {
    // The GroupInfo, fetched through b.example as bob's user pseudonym (the hub authorizes it as a participant).
    const gi = await bobPhone.client.groupInfo(mmr.uri, { asPseudonym: bP.user });
    const external = async (keys: DeviceKeys) => {
      const j = await engine.joinExternal(keys, fromB64(gi.groupInfo), fromB64(gi.ratchetTree));
      return { ...j, ...(await j.pending.groupInfo()) };
    };
    const post = (dev: Dev, j: Awaited<ReturnType<typeof external>>) => postCommit(dev, mmr.uri, { commit: j.commit, groupInfo: j.groupInfo, ratchetTree: j.ratchetTree });

    // A client pseudonym of bob's laptop, used by the phone.
    bP2 = await pseudonym(bob);
    const laptops = await external(await engine.newPseudonymousKeys(bobPhone.keys, { client: bP2.client, user: bP.user }));
    // The phone's own, retired.
    const retired = await pseudonym(bobPhone, bP.user);
    await bobPhone.client.retirePseudonym(retired.issuedUser);
    const retiredJoin = await external(retired.keys);
    // dora's own client pseudonym under bob's user pseudonym.
    const doraP = await pseudonym(dora, bP.user);
    const doraJoin = await external(doraP.keys);
    await unchanged(async () => {
      await rejects(post(bobPhone, laptops), 403, 'notAllowed', /adds exactly one member that is this device or a client pseudonym issued to it; this one adds 0/);
      await rejects(post(bobPhone, retiredJoin), 403, 'notAllowed', new RegExp(`${retired.client} is retired`));
      await rejects(post(dora, doraJoin), 403, 'notAllowed', new RegExp(`${bP.user} is not one of your user pseudonyms`));
      await rejects(dora.client.groupInfo(mmr.uri, { asPseudonym: bP.user }), 400, 'badRequest', /is not one of your user pseudonyms/);
    });

    phoneP = await pseudonym(bobPhone, bP.user);
    const join = await external(phoneP.keys);
    await post(bobPhone, join);
    for (const [id, s] of mmr.sessions) mmr.sessions.set(id, (await s.process(join.commit)).session);
    mmr.sessions.set(phoneP.client, join.pending);
    await drained();
    assert.deepEqual(membersAt(B, mmr.uri), {
      devices: [
        { device_uri: bP.client, user_uri: bP.user },
        { device_uri: phoneP.client, user_uri: bP.user },
      ],
      participants: [bP.user],
    });
    assert.deepEqual(membersAt(A, mmr.uri).participants, [aP.user, bP.user, nP.user], 'one user, two clients');

    const s = await send(alice, mmr.uri, mmr.sessions.get(aP.client)!, 'to both of bob', aP.user);
    mmr.sessions.set(aP.client, s.session);
    await drained();
    assert.ok(got(bob, mmr.uri, s.message) && got(bobPhone, mmr.uri, s.message) && got(ann, mmr.uri, s.message));
    const fromPhone = await send(bobPhone, mmr.uri, (await mmr.sessions.get(phoneP.client)!.process(s.message)).session, 'phone too', bP.user);
    mmr.sessions.set(phoneP.client, fromPhone.session);
    await drained();
    assert.ok(got(bob, mmr.uri, fromPhone.message), "the phone's message reaches bob's laptop (the follower fans out locally)");
    assert.ok(got(alice, mmr.uri, fromPhone.message) && !got(bobPhone, mmr.uri, fromPhone.message));
  });

  test('abuse reports name pseudonyms: the reporter as the user pseudonym it is in the room as, checked by its own provider', async () => {
    const reports = () => withDb(A.dbFile, (db) => db.prepare('SELECT reporter, alleged, via_domain AS via FROM abuse_reports WHERE room_uri = ? ORDER BY id').all(mmr.uri));
    await bob.client.reportAbuse(mmr.uri, { user: nP.user, note: 'spam', asPseudonym: bP.user });
    await ann.client.reportAbuse(mmr.uri, { user: bP.user, note: '', asPseudonym: nP.user });
    assert.deepEqual(reports(), [
      { reporter: bP.user, alleged: nP.user, via: 'b.example' },
      { reporter: nP.user, alleged: bP.user, via: null },
    ]);
    await unchanged(async () => {
      await rejects(dora.client.reportAbuse(mmr.uri, { user: nP.user, note: '', asPseudonym: bP.user }), 400, 'badRequest', /is not one of your user pseudonyms/);
      await rejects(ann.client.reportAbuse(mmr.uri, { user: bP.user, note: '' }), 403, 'notMember', new RegExp(`${ann.userUri} is not a participant`));
    });
    assert.equal(reports().length, 2);
  });

  test('hostile requests to the hub: identities not issued to the device, retired ones, a pseudonym listed without a client, KeyPackages not claimed, someone else\'s asPseudonym; nothing changes', async () => {
    const create = (dev: Dev, keys: DeviceKeys, user: string) => createRoom(dev, { keys }, user, 'hostile');
    // mallory uses alice's client pseudonym; then her own client pseudonym under alice's user pseudonym.
    const malloryP = await pseudonym(mallory);
    const aliceRetired = await pseudonym(alice);
    await alice.client.retirePseudonym(aliceRetired.user);
    const foreign = newPseudonymUri('b.example');
    const adding = withParticipant(mmr.state, foreign, 2);
    const planted = await mmr.sessions.get(aP.client)!.commitChanges({ extensions: withStateData(mmr.exts, adding) });

    // A leaf under a pseudonym of b.example with keys of alice's own making, and a Welcome for it.
    await pseudonymKeyPackages(bP2, 1);
    const made = await engine.generateKeyPackages(await engine.newPseudonymousKeys(alice.keys, { client: bP2.client, user: bP2.user }), 1);
    const forged = await mmr.sessions.get(aP.client)!.commitChanges({ add: [made[0].publicMessage], extensions: withStateData(mmr.exts, withParticipant(mmr.state, bP2.user, 2)) });
    // The same forged leaf with the Welcome of bP2's KeyPackage, claimed for the room.
    const claimed = (await alice.client.claim({ roomUri: mmr.uri, users: [bP2.user], asPseudonym: aP.user })).results[0].clients[0];
    const honest = await mmr.sessions.get(aP.client)!.commitChanges({ add: [fromB64(claimed.keyPackage!)], extensions: withStateData(mmr.exts, withParticipant(mmr.state, bP2.user, 2)) });
    const [malloryMsg, aliceMsg] = [await mmr.sessions.get(aP.client)!.encrypt(utf8('x')), await mmr.sessions.get(aP.client)!.encrypt(utf8('y'))];
    const aliceP2 = await pseudonym(alice);

    await unchanged(async () => {
      await rejects(create(mallory, await engine.newPseudonymousKeys(mallory.keys, { client: aP.client, user: aP.user }), aP.user), 403, 'notAllowed', new RegExp(`${aP.client} is not a client pseudonym issued to this device`));
      await rejects(create(mallory, await engine.newPseudonymousKeys(mallory.keys, { client: malloryP.client, user: aP.user }), aP.user), 403, 'notAllowed', new RegExp(`${aP.user} is not one of your user pseudonyms`));
      await rejects(create(alice, aliceRetired.keys, aliceRetired.user), 403, 'notAllowed', new RegExp(`${aliceRetired.client} is retired`));
      // A room state naming someone other than the creating pseudonym's user.
      await rejects(create(alice, aP.keys, alice.userUri), 400, 'badRequest', /participant list holds exactly its creator/);
      await rejects(postCommit(alice, mmr.uri, planted), 403, 'notAllowed', new RegExp(`${foreign} is a pseudonym: it joins the participant list only together with a client of its own`));
      await rejects(postCommit(alice, mmr.uri, forged), 400, 'badRequest', /welcome is addressed to a KeyPackage that was not claimed for this room/);
      await rejects(postCommit(alice, mmr.uri, { ...forged, welcome: honest.welcome }), 400, 'badRequest', new RegExp(`the commit adds ${bP2.client} with a KeyPackage that was not claimed for this room`));
      await rejects(mallory.client.sendMessage(mmr.uri, { message: toB64(malloryMsg.message), requestId: requestId(), asPseudonym: aP.user }), 400, 'badRequest', new RegExp(`${aP.user} is not one of your user pseudonyms`));
      await rejects(alice.client.sendMessage(mmr.uri, { message: toB64(aliceMsg.message), requestId: requestId(), asPseudonym: malloryP.user }), 400, 'badRequest', new RegExp(`${malloryP.user} is not one of your user pseudonyms`));
      await rejects(alice.client.sendMessage(mmr.uri, { message: toB64(aliceMsg.message), requestId: requestId(), asPseudonym: aliceP2.user }), 403, 'notMember', /is not a member device of .* as /);
      await rejects(alice.client.sendMessage(mmr.uri, { message: toB64(aliceMsg.message), requestId: requestId(), asPseudonym: aliceRetired.user }), 400, 'badRequest', /is retired/);
      await rejects(mallory.client.getRoom(mmr.uri), 403, 'notMember', /not a participant/);
      // The creator of a cooperative room is its group_admin, which lacks canDestroyRoom.
      await rejects(alice.client.destroyRoom(mmr.uri, { asPseudonym: aP.user }), 403, 'notAllowed', /\(group_admin\) does not have canDestroyRoom/);
    });
    // A room without room state has no policy to say who may destroy it.
    const plain = newRoomUri('a.example');
    await alice.client.createRoom({ roomUri: plain });
    await rejects(alice.client.destroyRoom(plain), 403, 'notAllowed', /no room state: no room policy says who may destroy it/);
  });

  test('the connection flow\'s bootstrap room: a pseudonym and a real user; destroyed by its creator, nothing of it stays at the hub and its members find it unknown', async () => {
    const boot = await pseudonym(alice);
    // super_admin: the cooperative role with canDestroyRoom.
    const room = await createRoom(alice, boot, boot.user, 'bootstrap', 4);
    const carolKps = await engine.generateKeyPackages(carol.keys, 1);
    await carol.client.uploadKeyPackages({ keyPackages: carolKps.map((k) => toB64(k.publicMessage)) });
    const claim = await alice.client.claim({ roomUri: room.uri, users: [carol.userUri], asPseudonym: boot.user });
    const [c] = claim.results[0].clients;
    assert.deepEqual([c.deviceUri, c.status], [carol.deviceUri, 'success']);
    await addMember(room, boot, fromB64(c.keyPackage!), carol.userUri);
    room.sessions.set(carol.deviceUri, await joinFromInbox({ dev: carol, keys: carol.keys, kps: new Map(carolKps.map((k) => [toHex(k.ref), k])) }, room.uri));
    assert.deepEqual(membersAt(A, room.uri).participants, [boot.user, carol.userUri]);

    let s = await send(alice, room.uri, room.sessions.get(boot.client)!, 'it is me, alice', boot.user);
    room.sessions.set(boot.client, s.session);
    await drained();
    assert.ok(got(carol, room.uri, s.message));
    s = await send(carol, room.uri, (await room.sessions.get(carol.deviceUri)!.process(s.message)).session, 'hello alice');
    room.sessions.set(carol.deviceUri, s.session);
    await drained();
    assert.ok(got(alice, room.uri, s.message));
    const last = await room.sessions.get(carol.deviceUri)!.encrypt(utf8('still there?'));

    await unchanged(async () => {
      await rejects(carol.client.destroyRoom(room.uri), 403, 'notAllowed', /hosted by a\.example: only users of that provider can destroy it/);
      await rejects(alice.client.destroyRoom(room.uri), 403, 'notMember', new RegExp(`${alice.userUri} is not a participant`));
      await rejects(ann.client.destroyRoom(room.uri, { asPseudonym: boot.user }), 400, 'badRequest', /is not one of your user pseudonyms/);
    });
    assert.deepEqual(await alice.client.destroyRoom(room.uri, { asPseudonym: boot.user }), { destroyed: true });

    // Every table of the hub: no row names the room but its tombstone.
    const rowsNaming = (node: PeerNode, needle: string) =>
      withDb(node.dbFile, (db) => {
        const tables = tableNames(db);
        return tables.flatMap((t) => (db.prepare(`SELECT * FROM ${t}`).all() as Record<string, unknown>[]).filter((row) => rowText(row).includes(needle)).map(() => t));
      });
    assert.deepEqual(rowsNaming(A, room.uri), ['destroyed_rooms']);
    assert.equal(withDb(A.dbFile, (db) => db.prepare('SELECT count(*) FROM inbox WHERE event_id NOT IN (SELECT id FROM events)').pluck().get()), 0);
    // Nor do the hub's files hold carol (who was only ever in this room there), not even in free
    // pages or the WAL; alice's pseudonym is left only where it was issued.
    scanFiles(A, [carol.userUri, carol.deviceUri, carol.handle]);
    assert.deepEqual(rowsNaming(A, boot.user), ['pseudonyms']);

    await rejects(alice.client.getRoom(room.uri), 404, 'roomUnknown', /no room/);
    await rejects(alice.client.sendMessage(room.uri, { message: toB64(last.message), requestId: requestId(), asPseudonym: boot.user }), 404, 'roomUnknown', /no room/);
    await rejects(alice.client.createRoom({ roomUri: room.uri }), 409, 'badRequest', /existed and was destroyed/);
    // carol's provider learns it from the hub's answer and forgets the room too.
    assert.ok(membersAt(B, room.uri).devices.length === 1);
    await rejects(carol.client.sendMessage(room.uri, { message: toB64(last.message), requestId: requestId() }), 404, 'roomUnknown', /is not hosted by a\.example/);
    assert.deepEqual(membersAt(B, room.uri), { devices: [], participants: [] });
    await rejects(carol.client.getRoom(room.uri), 404, 'roomUnknown', /no room/);
    assert.deepEqual(await carol.client.listRooms(), []);
  });

  test('a retired pseudonym cannot commit or send any more, and may still leave', async () => {
    assert.equal(bP.issuedUser, bP.user);
    await bob.client.retirePseudonym(bP.user);
    const update = await mmr.sessions.get(bP.client)!.update();
    const msg = await mmr.sessions.get(bP.client)!.encrypt(utf8('after retiring'));
    const phoneMsg = await mmr.sessions.get(phoneP.client)!.encrypt(utf8('phone after retiring'));
    await unchanged(async () => {
      await rejects(postCommit(bob, mmr.uri, update), 403, 'notAllowed', new RegExp(`${bP.client} is retired`));
      await rejects(bob.client.sendMessage(mmr.uri, { message: toB64(msg.message), requestId: requestId(), asPseudonym: bP.user }), 400, 'badRequest', new RegExp(`${bP.user} is retired`));
      // The phone's own client pseudonym is active, but the user pseudonym it names is retired.
      await rejects(bobPhone.client.sendMessage(mmr.uri, { message: toB64(phoneMsg.message), requestId: requestId(), asPseudonym: bP.user }), 400, 'badRequest', /is retired/);
    });
    // Leaving: the laptop proposes its own removal; alice commits it.
    const { session, proposals } = await mmr.sessions.get(bP.client)!.proposeRemove([bP.client]);
    mmr.sessions.set(bP.client, session);
    await bob.client.proposals(mmr.uri, { proposals: proposals.map(toB64) });
    await drained();
    for (const id of [aP.client, nP.client, phoneP.client]) mmr.sessions.set(id, (await mmr.sessions.get(id)!.process(proposals[0])).session);
    const out = await mmr.sessions.get(aP.client)!.update();
    await postCommit(alice, mmr.uri, out);
    mmr.sessions.delete(bP.client);
    await adopt(mmr, aP.client, out);
    await drained();
    assert.deepEqual(membersAt(A, mmr.uri).devices.map((d) => d.device_uri), [aP.client, nP.client, phoneP.client]);
    assert.ok(got(bob, mmr.uri, out.commit), 'the leaving laptop hears of its removal');
  });

  test("each provider's rows for the MMR name only pseudonyms; the other provider's files never hold the accounts behind them; no log names anyone", async () => {
    await drained();
    const aliceReal = [alice.userUri, alice.deviceUri, alice.handle];
    const annReal = [ann.userUri, ann.deviceUri, ann.handle];
    const bobReal = [bob.userUri, bob.deviceUri, bobPhone.deviceUri, bob.handle];
    // The MMR's rows at each provider, its own pseudonyms' accounts included.
    for (const node of [A, B]) {
      const rows = withDb(node.dbFile, (db) => mmrRows(db, mmr.uri));
      assert.ok(rows.length > 10, `${node.domain} keeps rows for the MMR`);
      for (const row of rows) for (const n of [...aliceReal, ...annReal, ...bobReal]) assert.ok(!row.includes(n), `${node.domain}: ${n} in ${row.slice(0, 200)}`);
    }
    // The pseudonyms' own providers deliver through device inboxes: the only rows naming the device.
    const inboxDevices = withDb(B.dbFile, (db) =>
      db.prepare('SELECT DISTINCT i.device_uri FROM inbox i JOIN events e ON e.id = i.event_id WHERE e.room_uri = ? ORDER BY i.device_uri').pluck().all(mmr.uri),
    );
    assert.deepEqual(inboxDevices, [bob.deviceUri, bobPhone.deviceUri].sort());
    // Whole files: a.example never learned bob's account, b.example never alice's or ann's.
    scanFiles(A, bobReal);
    scanFiles(B, [...aliceReal, ...annReal]);
    const uriRe = /mimi:\/\/[a-z.]+\/[pud]\//;
    for (const node of [A, B]) assert.deepEqual(node.logs.filter((l) => uriRe.test(l)), [], `${node.domain} logged a user, device or pseudonym`);
  });
});

/** A row as text: strings as they are, blobs as UTF-8 (MLS messages carry URIs as UTF-8). */
function rowText(row: Record<string, unknown>): string {
  return Object.values(row)
    .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
    .join('\u0000');
}

/** Every row a provider keeps for a room (the tables the MMR's privacy argument is about), as text. */
function mmrRows(db: Database.Database, roomUri: string): string[] {
  const q = (sql: string, ...params: unknown[]) => (db.prepare(sql).all(...params) as Record<string, unknown>[]).map(rowText);
  return [
    ...q('SELECT * FROM rooms WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM room_devices WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM room_participants WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM events WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM accepted WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM key_package_claims WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM pending_removals WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM fed_outbox WHERE room_uri = ?', roomUri),
    ...q('SELECT * FROM forwarded'),
  ];
}

/** The provider's storage (the database file and its WAL on SQLite, every row on PostgreSQL) contains none of `needles`. */
function scanFiles(node: PeerNode, needles: string[]): void {
  const bytes = providerStorageBytes(node.id.dataDir);
  for (const n of needles) assert.equal(bytes.indexOf(Buffer.from(n, 'utf8')), -1, `${n} found in ${node.domain}'s storage`);
}
