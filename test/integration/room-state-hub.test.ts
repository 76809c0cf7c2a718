// The hub's side of room state, fed input a correct client never sends. a.example hosts the rooms
// and b.example follows them (bob's provider), both in-process with their real client API and MIMI
// endpoints. Requests are raw (client-API JSON, or MIMI bodies over mutual TLS as b.example) and
// carry real MLS objects from the app's engine: GroupInfos and trees whose 0xF006 room state is
// wrong for a new room, commits whose GroupInfo disagrees with their GroupContextExtensions
// proposal, commits the room policy forbids, messages from muted users. Every refusal is checked
// for its answer and for having left the hub's database as it was; the accepted counterparts show
// each refusal is about the one thing wrong. The last part drives a Hub in-process, to give it an
// admitJoiner hook that admits everyone and see a banned user's external commit still refused.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { bytesEqual, fromB64, fromHex, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { encodeJoinTicket, JOIN_TICKET_EXTENSION_TYPE, signJoinTicket } from '../../src-shared/join-ticket.js';
import { JoinLinks } from '../../src-provider/join-links.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import {
  decodeSubmitMessageResponse,
  decodeUpdateRoomResponse,
  encodeSubmitMessageRequest,
} from '../../src-shared/mimi-protocol.js';
import { roomPath } from '../../src-shared/provider-api.js';
import {
  decodeRoomStateExtension,
  encodeAppDataDictionary,
  decodeAppDataDictionary,
  encodeParticipantListData,
  encodeRoomStateExtension,
  initialRoomState,
  PARTICIPANT_LIST_COMPONENT_ID,
  ROOM_STATE_EXTENSION_TYPE,
  type RoomState,
  type UserRolePair,
} from '../../src-shared/room-state.js';
import type { CommitOutput, DeviceKeys, GeneratedKeyPackage, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { decodeGroupInfo, decodePublicMessage, decodeRatchetTree, encodeGroupInfo, encodeRatchetTree, unwrapMlsMessage, wrapMlsMessage } from '../../src-shared/mls-structs.js';
import { generateSignatureKeyPair, signWithLabel } from '../../src-shared/mls-crypto.js';
import { framedContentTbs, groupInfoTbs, treeHash } from '../../src-shared/mls-verify.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { withMetadata, withParticipant, withRole, withoutParticipants } from '../../src-main/core/room-view.js';
import { Hub } from '../../src-provider/hub.js';
import { ApiFailure } from '../../src-provider/errors.js';
import { Store } from '../../src-provider/store.js';
import { ensureProviderIdentity } from '../../src-provider/federation/provider-identity.js';
import { mimiPost, PeerNode, targetOf, updateBody, withDb, type RawResponse } from '../helpers/mimi-peer.js';
import {
  clientCall,
  EXTERNAL_SENDERS_EXTENSION,
  roomExtensions,
  roomSnapshot,
  storedRoomState,
  welcomeFor,
  withStateData,
  type Ext,
  type JsonReply,
} from '../helpers/room-state-fixture.js';

const PASSWORD = 'correct horse battery staple';

let engine: MlsEngine;
let A: PeerNode; // a.example: the hub
let B: PeerNode; // b.example: a follower (bob's provider)
let hubSender: Uint8Array; // a.example's ExternalSender, first in every room's external_senders
const clients: ProviderClient[] = [];

interface Dev {
  userUri: string;
  deviceUri: string;
  token: string;
  node: PeerNode;
  client: ProviderClient;
  keys: DeviceKeys;
  kps: Map<string, GeneratedKeyPackage>;
}

let alice: Dev; // a.example, creates every room
let carol: Dev; // a.example
let bob: Dev; // b.example

async function register(on: PeerNode, handle: string, keyPackages = 0): Promise<Dev> {
  const client = new ProviderClient({ baseUrl: on.url, caPem: on.id.ca.caPem });
  clients.push(client);
  const s = await client.register({ handle, password: PASSWORD, deviceName: `${handle} laptop` });
  const dev: Dev = { userUri: s.userUri, deviceUri: s.deviceUri, token: s.token, node: on, client, keys: await engine.newDeviceKeys(s.deviceUri), kps: new Map() };
  if (keyPackages) {
    const made = await engine.generateKeyPackages(dev.keys, keyPackages);
    for (const k of made) dev.kps.set(toHex(k.ref), k);
    await client.uploadKeyPackages({ keyPackages: made.map((k) => toB64(k.publicMessage)) });
  }
  return dev;
}

const call = (dev: Dev, method: string, p: string, body?: unknown): Promise<JsonReply> => clientCall({ url: dev.node.url, caPem: dev.node.id.ca.caPem }, dev.token, method, p, body);

let reqCounter = 0;
const requestId = () => `rs-hub-${process.pid}-${++reqCounter}`;

let roomCounter = 0;
const newRoom = (label: string) => `mimi://a.example/r/rs-${label}-${process.pid}-${++roomCounter}`;

const createRoom = (dev: Dev, roomUri: string, initial: { groupInfo?: Uint8Array; ratchetTree?: Uint8Array }) =>
  call(dev, 'POST', '/v1/rooms', {
    roomUri,
    ...(initial.groupInfo ? { groupInfo: toB64(initial.groupInfo) } : {}),
    ...(initial.ratchetTree ? { ratchetTree: toB64(initial.ratchetTree) } : {}),
  });

const postCommit = (dev: Dev, roomUri: string, out: Pick<CommitOutput, 'commit' | 'groupInfo' | 'ratchetTree' | 'welcome'>) =>
  call(dev, 'POST', roomPath(roomUri, '/commit'), {
    commit: toB64(out.commit),
    ...(out.welcome ? { welcome: toB64(out.welcome) } : {}),
    groupInfo: toB64(out.groupInfo),
    ratchetTree: toB64(out.ratchetTree),
    requestId: requestId(),
  });

const postMessage = (dev: Dev, roomUri: string, message: Uint8Array) => call(dev, 'POST', roomPath(roomUri, '/messages'), { message: toB64(message), requestId: requestId() });

function refused(r: JsonReply, status: number, code: string, message: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error?.code, code, JSON.stringify(r.body));
  assert.match(r.body.error.message, message);
}

function accepted(r: JsonReply, status = 200): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
}

/** A room state's bytes with another participant list, past the encoder's own rule checks. */
const withParticipantsData = (encoded: Uint8Array, participants: UserRolePair[]): Uint8Array =>
  encodeAppDataDictionary(
    decodeAppDataDictionary(encoded).map((c) => (c.componentId === PARTICIPANT_LIST_COMPONENT_ID ? { ...c, data: encodeParticipantListData({ participants }) } : c)),
  );

const drained = () => A.running.federation.outbox.drained();

/** The bytes with one bit flipped at `at`. */
const flipAt = (bytes: Uint8Array, at: number): Uint8Array => bytes.map((b, i) => (i === at ? b ^ 1 : b));

/** A PublicMessage with its signature replaced by `signature` (of the same length: the framing stays intact). */
function withSignature(message: Uint8Array, signature: Uint8Array): Uint8Array {
  const m = decodePublicMessage(message);
  assert.equal(signature.length, m.signature.length);
  const at = Buffer.from(message).indexOf(Buffer.from(m.signature), 4 + m.content.raw.length);
  assert.ok(at > 0);
  const out = new Uint8Array(message);
  out.set(signature, at);
  return out;
}

/** A GroupInfo (its fields) signed by `signer`, as an MLSMessage. */
function resign(gi: Parameters<typeof encodeGroupInfo>[0], signer: Dev): Uint8Array {
  const unsigned = decodeGroupInfo(encodeGroupInfo({ ...gi, signature: new Uint8Array(64) }));
  return wrapMlsMessage('groupInfo', encodeGroupInfo({ ...unsigned, signature: signWithLabel(signer.keys.signaturePrivateKey, 'GroupInfoTBS', groupInfoTbs(unsigned)) }));
}

/** The hub's rooms row. */
const roomRow = (roomUri: string) => {
  return withDb(A.dbFile, (db) => db.prepare('SELECT group_info, ratchet_tree FROM rooms WHERE room_uri = ?').get(roomUri) as { group_info: Buffer; ratchet_tree: Buffer });
};

/**
 * `out`'s GroupInfo with the GroupContext extensions of another GroupInfo, re-signed by `signer`: a
 * committer lying about its own commit with a GroupInfo that is signed and fits the tree.
 */
function restated(out: Pick<CommitOutput, 'groupInfo'>, from: Uint8Array, signer: Dev): Uint8Array {
  const gi = decodeGroupInfo(unwrapMlsMessage(out.groupInfo).body);
  const extensions = decodeGroupInfo(unwrapMlsMessage(from).body).groupContext.extensions;
  return resign({ ...gi, groupContext: { ...gi.groupContext, extensions } }, signer);
}

/** Runs the refused requests of `fn` and asserts the hub stored nothing about `roomUri` (or at all). */
async function unchanged(roomUri: string, fn: () => Promise<void>): Promise<void> {
  // Fanout of earlier accepted commits must not be mistaken for a change made by `fn`.
  await drained();
  const before = roomSnapshot(A.dbFile, roomUri);
  await fn();
  await drained();
  assert.deepEqual(roomSnapshot(A.dbFile, roomUri), before, `${roomUri}: the hub's database changed`);
}

// ---- a room and the sessions of its members ----

interface Room {
  uri: string;
  sessions: Map<Dev, GroupSession>;
}

const sessionOf = (room: Room, dev: Dev): GroupSession => room.sessions.get(dev)!;
const stateOf = (room: Room): RoomState => decodeRoomStateExtension(sessionOf(room, alice).extensions().find((e) => e.type === ROOM_STATE_EXTENSION_TYPE)!.data);
const extsOf = (room: Room, dev = alice): Ext[] => sessionOf(room, dev).extensions();

/** An accepted commit: its author moves on to the pending session, the other members process it. */
async function adopt(room: Room, by: Dev, out: CommitOutput): Promise<void> {
  for (const [dev, s] of room.sessions) {
    room.sessions.set(dev, dev === by ? out.pending : (await s.process(out.commit)).session);
  }
}

/** A managed room at a.example created by alice with `preset` (epoch 0). */
async function managedRoom(label: string, preset: 'cooperative' | 'moderated' = 'cooperative'): Promise<Room> {
  const uri = newRoom(label);
  const session = await engine.createGroup(alice.keys, uri, roomExtensions(hubSender, initialRoomState({ roomUri: uri, creator: alice.userUri, roomName: label, preset })));
  accepted(await createRoom(alice, uri, await session.groupInfo()), 201);
  return { uri, sessions: new Map([[alice, session]]) };
}

/** alice adds `dev` in `role`, listing them in the same commit; they join from the Welcome their provider stored. */
async function addMember(room: Room, dev: Dev, role: number): Promise<void> {
  const claim = await alice.client.claim({ roomUri: room.uri, users: [dev.userUri] });
  const kp = fromB64(claim.results[0].clients[0].keyPackage!);
  const out = await sessionOf(room, alice).commitChanges({ add: [kp], extensions: withStateData(extsOf(room), withParticipant(stateOf(room), dev.userUri, role)) });
  accepted(await postCommit(alice, room.uri, out));
  await adopt(room, alice, out);
  await drained();
  const w = welcomeFor(dev.node.dbFile, room.uri, dev.kps);
  room.sessions.set(dev, await engine.joinFromWelcome(dev.keys, w.welcome, w.keyPackage, w.ratchetTree));
}

// ---- MIMI bodies, as b.example would send them ----

const asB = (endpoint: string, roomUri: string, body: Uint8Array): Promise<RawResponse> => mimiPost(targetOf(A), B.id, endpoint, roomUri, body);

function updateAnswer(r: RawResponse) {
  assert.equal(r.status, 200, r.body.toString());
  return decodeUpdateRoomResponse(new Uint8Array(r.body));
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  engine = await createMlsEngine();
  [A, B] = await Promise.all([PeerNode.prepare('a.example'), PeerNode.prepare('b.example')]);
  // Consent is not what this file is about: bob's provider lets alice add him.
  await A.start({ peers: [B], trust: [B] });
  await B.start({ peers: [A], trust: [A], extra: { consent: 'open' } });
  [alice, carol, bob] = await Promise.all([register(A, 'alice'), register(A, 'carol', 4), register(B, 'bob', 4)]);
  hubSender = fromB64((await alice.client.hubSender()).externalSender);
});

after(async () => {
  for (const c of clients) c.close();
  const errors: unknown[] = [];
  for (const n of [A, B]) await n?.destroy().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

describe('POST /v1/rooms: the epoch-0 GroupInfo and tree', () => {
  test('a GroupInfo, tree or room state that does not describe this new room of this creator alone is refused, and no room is created', async () => {
    const roomUri = newRoom('create');
    const state = initialRoomState({ roomUri, creator: alice.userUri, roomName: 'Create' });
    const group = (keys: DeviceKeys, gid: string, s: RoomState | Uint8Array, more: Ext[] = []) => engine.createGroup(keys, gid, [...roomExtensions(hubSender, s), ...more]);
    const own = await group(alice.keys, roomUri, state);
    const gi0 = await own.groupInfo();
    const encoded = encodeRoomStateExtension(state);

    // Each case differs from the valid request below in one respect.
    const carolKp = (await engine.generateKeyPackages(carol.keys, 1))[0];
    const twoDevices = await own.add([carolKp.publicMessage]);
    const cases: [string, { groupInfo?: Uint8Array; ratchetTree?: Uint8Array }, number, string, RegExp][] = [
      ['a groupInfo without its ratchetTree', { groupInfo: gi0.groupInfo }, 400, 'badRequest', /groupInfo and ratchetTree come together/],
      ['a ratchetTree without its groupInfo', { ratchetTree: gi0.ratchetTree }, 400, 'badRequest', /groupInfo and ratchetTree come together/],
      ['bytes that are no MLSMessage', { groupInfo: randomBytes(64), ratchetTree: gi0.ratchetTree }, 400, 'badRequest', /groupInfo is not a valid MLSMessage/],
      ['a KeyPackage in place of the GroupInfo', { groupInfo: carolKp.publicMessage, ratchetTree: gi0.ratchetTree }, 400, 'badRequest', /not a GroupInfo/],
      ['the GroupInfo of another room', await (await group(alice.keys, newRoom('elsewhere'), state)).groupInfo(), 400, 'badRequest', /belongs to group .*elsewhere.*not to room/],
      ['a GroupInfo for epoch 1', await (await own.update()).pending.groupInfo(), 400, 'badRequest', /epoch 0, not 1/],
      ['a tree with a second device', { groupInfo: gi0.groupInfo, ratchetTree: twoDevices.ratchetTree }, 400, 'badRequest', /exactly the creating device/],
      ["a tree of carol's device", await (await group(carol.keys, roomUri, state)).groupInfo(), 400, 'badRequest', /exactly the creating device/],
      ['a tree that is no ratchet tree', { groupInfo: gi0.groupInfo, ratchetTree: randomBytes(40) }, 400, 'badRequest', /ratchetTree is not a valid ratchet tree/],
      // The creator alone, but not the tree the GroupInfo names; a GroupInfo whose signature is broken.
      ["the creator's tree of another group", { groupInfo: gi0.groupInfo, ratchetTree: (await (await group(alice.keys, roomUri, state)).groupInfo()).ratchetTree }, 400, 'badRequest', /ratchetTree does not match the groupInfo: .*tree_hash/],
      ['a GroupInfo whose signature does not verify', { groupInfo: gi0.groupInfo.map((b, i, a) => (i === a.length - 1 ? b ^ 1 : b)), ratchetTree: gi0.ratchetTree }, 403, 'notAllowed', /GroupInfo signature does not verify/],
      ['a room state listing carol instead', await (await group(alice.keys, roomUri, initialRoomState({ roomUri, creator: carol.userUri }))).groupInfo(), 400, 'badRequest', /exactly its creator/],
      ['a room state listing alice and carol', await (await group(alice.keys, roomUri, withParticipant(state, carol.userUri, 2))).groupInfo(), 400, 'badRequest', /exactly its creator/],
      ['a room state with the creator banned', await (await group(alice.keys, roomUri, withRole(state, alice.userUri, 1))).groupInfo(), 400, 'badRequest', /exactly its creator/],
      // policy_enforcer allows no active participants: such a room could never take a commit.
      ['a room state with the creator in a role without clients', await (await group(alice.keys, roomUri, withRole(state, alice.userUri, 5))).groupInfo(), 400, 'badRequest', /not valid for a new room: .*allows no active participants/],
      ['a room state naming another room', await (await group(alice.keys, roomUri, initialRoomState({ roomUri: newRoom('named'), creator: alice.userUri }))).groupInfo(), 400, 'badRequest', /names room .*named.*not /],
      ['two room state extensions', await (await group(alice.keys, roomUri, state, [{ type: ROOM_STATE_EXTENSION_TYPE, data: encoded }])).groupInfo(), 400, 'badRequest', /two room state extensions/],
    ];
    // Malformed 0xF006 data: the hub cannot check a state it cannot read, so it is refused as the
    // draft's invalid change (notAllowed), like inside a commit.
    const components = decodeAppDataDictionary(encoded);
    const malformed: [string, Uint8Array][] = [
      ['random bytes', randomBytes(48)],
      ['empty', new Uint8Array(0)],
      ['truncated to half', encoded.subarray(0, encoded.length >> 1)],
      ['one byte short', encoded.subarray(0, encoded.length - 1)],
      ['a trailing byte', new Uint8Array([...encoded, 0])],
      ['without the roles_list component', encodeAppDataDictionary(components.slice(0, 2))],
      ['with an unknown component', encodeAppDataDictionary([...components, { componentId: 0x0030, data: new Uint8Array([1]) }])],
    ];
    for (const [what, data] of malformed) {
      cases.push([`room state ${what}`, await (await group(alice.keys, roomUri, data)).groupInfo(), 403, 'notAllowed', /groupInfo: invalid room state/]);
    }

    await unchanged(roomUri, async () => {
      for (const [what, initial, status, code, message] of cases) {
        const r = await createRoom(alice, roomUri, initial);
        assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, code, `${what}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error.message, message, what);
      }
    });
    assert.equal(storedRoomState(A.dbFile, roomUri), undefined, 'no room row');

    // The request the cases were cut from creates a managed room holding exactly this state.
    const made = await createRoom(alice, roomUri, gi0);
    accepted(made, 201);
    assert.deepEqual(made.body.participants, [alice.userUri]);
    const snap = roomSnapshot(A.dbFile, roomUri) as { room: { epoch: number; roomState: string; groupInfo: string }; participants: string[]; devices: string[]; events: unknown[] };
    assert.deepEqual(snap.room, { epoch: 0, roomState: toHex(encoded), groupInfo: toHex(gi0.groupInfo), ratchetTree: toHex(gi0.ratchetTree) });
    assert.deepEqual(snap.participants, [alice.userUri]);
    assert.deepEqual(snap.devices, [alice.deviceUri]);
    assert.deepEqual(snap.events, []);

    // Once it exists, another creation (another state) changes nothing.
    const renamed = await (await group(alice.keys, roomUri, withMetadata(state, { name: 'Taken over' }))).groupInfo();
    await unchanged(roomUri, async () => refused(await createRoom(alice, roomUri, renamed), 409, 'badRequest', /already exists/));
    assert.ok(bytesEqual(storedRoomState(A.dbFile, roomUri)!, encoded));
  });

  test('a room created without a room state stays unmanaged: no commit can add one', async () => {
    const bare = newRoom('bare');
    accepted(await createRoom(alice, bare, {}), 201);
    assert.equal(storedRoomState(A.dbFile, bare), null);

    const roomUri = newRoom('plain');
    const g0 = await engine.createGroup(alice.keys, roomUri, [{ type: EXTERNAL_SENDERS_EXTENSION, data: hubSender }]);
    accepted(await createRoom(alice, roomUri, await g0.groupInfo()), 201);
    assert.equal(storedRoomState(A.dbFile, roomUri), null);
    const adding = await g0.commitChanges({ extensions: roomExtensions(hubSender, initialRoomState({ roomUri, creator: alice.userUri })) });
    const noGce = await g0.update();
    await unchanged(roomUri, async () => {
      refused(await postCommit(alice, roomUri, adding), 403, 'notAllowed', /has no room state; a commit cannot add one/);
      // Another commit's GroupInfo does not fit this commit's tree (tree hash); restated and re-signed by the committer, it still states a room state.
      refused(await postCommit(alice, roomUri, { ...noGce, groupInfo: adding.groupInfo }), 400, 'badRequest', /tree hash is not the GroupContext's tree_hash/);
      refused(await postCommit(alice, roomUri, { ...noGce, groupInfo: restated(noGce, adding.groupInfo, alice) }), 403, 'notAllowed', /has no room state; a commit cannot add one/);
    });
    accepted(await postCommit(alice, roomUri, noGce));
    assert.equal(storedRoomState(A.dbFile, roomUri), null);
  });
});

describe('commits to a managed room', () => {
  let room: Room; // cooperative: alice group_admin, carol and bob ordinary_user

  before(async () => {
    room = await managedRoom('coop');
    await addMember(room, carol, 2);
    await addMember(room, bob, 2);
    assert.deepEqual(stateOf(room).participants, [
      { user: alice.userUri, roleIndex: 3 },
      { user: carol.userUri, roleIndex: 2 },
      { user: bob.userUri, roleIndex: 2 },
    ]);
  });

  const devicesOf = (dev: Dev) => sessionOf(room, carol).members().filter((m) => m.identity === dev.deviceUri).map((m) => m.identity);

  test("a GroupInfo that does not state what the commit's GroupContextExtensions proposal sets is 400", async () => {
    const s = sessionOf(room, alice);
    const honest = await s.commitChanges({ extensions: withStateData(extsOf(room), withMetadata(stateOf(room), { name: 'honest' })) });
    const lying = await s.commitChanges({ extensions: withStateData(extsOf(room), withMetadata(stateOf(room), { name: 'lying' })) });
    const reordered = await s.commitChanges({ extensions: [...extsOf(room)].reverse() });
    const noGce = await s.update();
    const twice = await s.commitChanges({ extensions: [...extsOf(room), ...extsOf(room).filter((e) => e.type === ROOM_STATE_EXTENSION_TYPE)] });
    await unchanged(room.uri, async () => {
      refused(await postCommit(alice, room.uri, { ...honest, groupInfo: lying.groupInfo }), 400, 'badRequest', /GroupContext extensions are not the ones the commit's GroupContextExtensions proposal sets/);
      // The same extensions in another order are another GroupContext.
      refused(await postCommit(alice, room.uri, { ...reordered, groupInfo: honest.groupInfo }), 400, 'badRequest', /GroupContextExtensions proposal sets/);
      // No GroupContextExtensions proposal: the GroupInfo must keep the state the room has.
      refused(await postCommit(alice, room.uri, { ...noGce, groupInfo: honest.groupInfo }), 400, 'badRequest', /tree hash is not the GroupContext's tree_hash/);
      refused(await postCommit(alice, room.uri, { ...noGce, groupInfo: restated(noGce, honest.groupInfo, alice) }), 400, 'badRequest', /room state differs from the current one, but the commit does not change the GroupContext extensions/);
      // Two room states in one GroupContext: which one would the hub check?
      refused(await postCommit(alice, room.uri, twice), 400, 'badRequest', /two room state extensions/);
    });
  });

  test("the hub's external_senders cannot be dropped, and other extensions change only with canChangeMlsOperationalPolicies", async () => {
    const s = sessionOf(room, alice);
    const noHub = await s.commitChanges({ extensions: extsOf(room).filter((e) => e.type !== EXTERNAL_SENDERS_EXTENSION) });
    const moved = await s.commitChanges({ extensions: [...extsOf(room)].reverse() });
    await unchanged(room.uri, async () => {
      refused(await postCommit(alice, room.uri, noHub), 403, 'notAllowed', /external_senders/);
      refused(await postCommit(alice, room.uri, moved), 403, 'notAllowed', /external_senders/);
    });
    // Another extension added by a group_admin, whose role lacks canChangeMlsOperationalPolicies.
    const extra = await s.commitChanges({ extensions: [...extsOf(room), { type: 0xf0aa, data: new Uint8Array([1]) }] });
    await unchanged(room.uri, async () => {
      refused(await postCommit(alice, room.uri, extra), 403, 'notAllowed', /canChangeMlsOperationalPolicies/);
    });
  });

  test('dropping the room state is refused, with or without a GroupContextExtensions proposal', async () => {
    const s = sessionOf(room, alice);
    const dropped = await s.commitChanges({ extensions: extsOf(room).filter((e) => e.type === EXTERNAL_SENDERS_EXTENSION) });
    const noGce = await s.update();
    await unchanged(room.uri, async () => {
      refused(await postCommit(alice, room.uri, dropped), 403, 'notAllowed', /cannot drop the room state/);
      refused(await postCommit(alice, room.uri, { ...noGce, groupInfo: dropped.groupInfo }), 400, 'badRequest', /tree hash is not the GroupContext's tree_hash/);
      refused(await postCommit(alice, room.uri, { ...noGce, groupInfo: restated(noGce, dropped.groupInfo, alice) }), 403, 'notAllowed', /cannot drop the room state/);
    });
  });

  test('changes the committer\'s role lacks are notAllowed naming the capability', async () => {
    const state = stateOf(room);
    const c = sessionOf(room, carol);
    const a = sessionOf(room, alice);
    const forbidden: [string, Dev, Promise<CommitOutput>, RegExp][] = [
      ['carol bans alice', carol, c.commitChanges({ remove: devicesOf(alice), extensions: withStateData(extsOf(room, carol), withRole(state, alice.userUri, 1)) }), /canBan/],
      ['carol demotes alice', carol, c.commitChanges({ extensions: withStateData(extsOf(room, carol), withRole(state, alice.userUri, 2)) }), /canChangeUserRole/],
      ['carol promotes herself', carol, c.commitChanges({ extensions: withStateData(extsOf(room, carol), withRole(state, carol.userUri, 3)) }), /canChangeOwnRole|canChangeUserRole/],
      ["carol kicks alice (removes her device, keeps her listed)", carol, c.commitChanges({ remove: devicesOf(alice) }), /canKick/],
      ['carol sets the description', carol, c.commitChanges({ extensions: withStateData(extsOf(room, carol), withMetadata(state, { description: 'mine' })) }), /canChangeRoomDescription/],
      ['alice (group_admin) makes carol super_admin', alice, a.commitChanges({ extensions: withStateData(extsOf(room), withRole(state, carol.userUri, 4)) }), /canChangeUserRole/],
    ];
    await unchanged(room.uri, async () => {
      for (const [what, by, out, capability] of forbidden) {
        const r = await postCommit(by, room.uri, await out);
        assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'notAllowed', what);
        assert.match(r.body.error.message, /the room policy forbids this commit/, what);
        assert.match(r.body.error.message, capability, what);
      }
    });
  });

  test('a malformed or rule-breaking room state inside a GroupContextExtensions proposal is notAllowed', async () => {
    const state = stateOf(room);
    const encoded = encodeRoomStateExtension(state);
    const a = sessionOf(room, alice);
    const cases: [string, Uint8Array | RoomState, RegExp][] = [
      ['random bytes', randomBytes(64), /groupInfo: invalid room state/],
      ['truncated', encoded.subarray(0, encoded.length - 3), /groupInfo: invalid room state/],
      ['a trailing byte', new Uint8Array([...encoded, 7]), /groupInfo: invalid room state/],
      // A role the policy does not define (the decoder's cross-check).
      ['carol in role 9', withParticipantsData(encoded, withRole(state, carol.userUri, 9).participants), /groupInfo: invalid room state: .*role 9/],
      // No capability can change the room's identity.
      ['another room URI', { ...state, metadata: { ...state.metadata, roomUri: newRoom('renamed') } }, /breaks the room state rules: .*room URI cannot change/],
      // Off the list while her device stays: the list no longer says who is in the room.
      ['carol off the list, her device kept', withoutParticipants(state, new Set([carol.userUri])), /breaks the room state rules: .*carol.*not on the participant list/],
    ];
    await unchanged(room.uri, async () => {
      for (const [what, data, message] of cases) {
        const r = await postCommit(alice, room.uri, await a.commitChanges({ extensions: withStateData(extsOf(room), data) }));
        assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'notAllowed', what);
        assert.match(r.body.error.message, message, what);
      }
    });
  });

  test('an allowed change is accepted and the stored room state becomes the new one', async () => {
    const before = roomSnapshot(A.dbFile, room.uri) as { room: { epoch: number }; events: unknown[] };
    const next = withMetadata(stateOf(room), { name: 'Renamed by carol' }); // canChangeRoomName: ordinary_user
    const out = await sessionOf(room, carol).commitChanges({ extensions: withStateData(extsOf(room, carol), next) });
    accepted(await postCommit(carol, room.uri, out));
    await adopt(room, carol, out);
    const after = roomSnapshot(A.dbFile, room.uri) as typeof before;
    assert.equal(after.room.epoch, before.room.epoch + 1);
    assert.equal(after.events.length, before.events.length + 1);
    assert.ok(bytesEqual(storedRoomState(A.dbFile, room.uri)!, encodeRoomStateExtension(next)));
    assert.equal(stateOf(room).metadata.roomName, 'Renamed by carol');
  });

  test('over /update from b.example: a forbidden commit of bob is notAllowed naming the capability; an allowed one is accepted', async () => {
    const state = stateOf(room);
    const s = sessionOf(room, bob);
    const ban = await s.commitChanges({ remove: devicesOf(alice), extensions: withStateData(extsOf(room, bob), withRole(state, alice.userUri, 1)) });
    const kick = await s.commitChanges({ remove: devicesOf(carol) });
    const honest = await s.commitChanges({ extensions: withStateData(extsOf(room, bob), withMetadata(state, { name: 'bob was here' })) });
    const lying = await s.commitChanges({ extensions: withStateData(extsOf(room, bob), withMetadata(state, { name: 'bob lies' })) });
    const dropped = await s.commitChanges({ extensions: extsOf(room, bob).filter((e) => e.type !== ROOM_STATE_EXTENSION_TYPE) });
    await unchanged(room.uri, async () => {
      for (const [out, code, message] of [
        [ban, 'notAllowed', /the room policy forbids this commit: .*canBan/],
        [kick, 'notAllowed', /the room policy forbids this commit: .*canKick/],
        [dropped, 'notAllowed', /cannot drop the room state/],
        [{ ...honest, groupInfo: lying.groupInfo }, 'invalidProposal', /GroupContextExtensions proposal sets/],
      ] as const) {
        const r = updateAnswer(await asB('update', room.uri, updateBody(out)));
        assert.equal(r.responseCode, code, r.errorDescription);
        assert.match(r.errorDescription, message);
      }
    });
    const ok = updateAnswer(await asB('update', room.uri, updateBody(honest)));
    assert.equal(ok.responseCode, 'success', ok.errorDescription);
    await adopt(room, bob, honest);
    assert.equal(decodeRoomStateExtension(storedRoomState(A.dbFile, room.uri)!).metadata.roomName, 'bob was here');
  });
});

describe('messages in a managed room', () => {
  test("a sender whose role lacks canSendMessage is notAllowed, over the client API and over /submitMessage; nothing is stored", async () => {
    const room = await managedRoom('town-hall', 'moderated'); // alice super_admin
    await addMember(room, carol, 4); // speaker
    await addMember(room, bob, 3); // attendee: no canSendMessage from the start
    const spoken = await sessionOf(room, carol).encrypt(utf8('before the mute'));
    room.sessions.set(carol, spoken.session);
    accepted(await postMessage(carol, room.uri, spoken.message));

    // Kept from before the mute, and sent after it.
    const early = await sessionOf(room, carol).encrypt(utf8('queued before the mute'));
    room.sessions.set(carol, early.session);
    const mute = await sessionOf(room, alice).commitChanges({ extensions: withStateData(extsOf(room), withRole(stateOf(room), carol.userUri, 3)) });
    accepted(await postCommit(alice, room.uri, mute));
    await adopt(room, alice, mute);
    const late = await sessionOf(room, carol).encrypt(utf8('after the mute'));
    const fromBob = await sessionOf(room, bob).encrypt(utf8('an attendee speaks'));

    await unchanged(room.uri, async () => {
      refused(await postMessage(carol, room.uri, late.message), 403, 'notAllowed', /the room policy forbids this message: .*canSendMessage/);
      const r = await asB('submitMessage', room.uri, encodeSubmitMessageRequest({ protocol: 'mls10', appMessage: fromBob.message, sendingUri: bob.userUri }));
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(decodeSubmitMessageResponse(new Uint8Array(r.body)).statusCode, 'notAllowed');
    });
    // A message is judged against the fork it names: one from the epoch before the mute, when carol
    // could still speak, is accepted (within the hub's one epoch of grace).
    accepted(await postMessage(carol, room.uri, early.message));
    // alice (super_admin) still speaks.
    accepted(await postMessage(alice, room.uri, (await sessionOf(room, alice).encrypt(utf8('the chair speaks'))).message));
  });
});

describe('signatures and the tree: the hub verifies what it relays', () => {
  let room: Room; // cooperative: alice group_admin, carol ordinary_user

  before(async () => {
    room = await managedRoom('verify');
    await addMember(room, carol, 2);
  });

  const storedContext = () => decodeGroupInfo(unwrapMlsMessage(new Uint8Array(roomRow(room.uri).group_info)).body).groupContext;

  test('a commit whose signature was forged is notAllowed and nothing is stored; the genuine one is accepted', async () => {
    const out = await sessionOf(room, alice).update();
    const message = decodePublicMessage(out.commit);
    const intruder = generateSignatureKeyPair();
    const forged: [string, Uint8Array][] = [
      ['a bit of the signature flipped', withSignature(out.commit, message.signature.map((b, i) => (i === 0 ? b ^ 0x80 : b)))],
      // The FramedContent's last byte (in the UpdatePath's ciphertexts) flipped, the signature kept.
      ['a bit of the content flipped', flipAt(out.commit, 4 + message.content.raw.length - 1)],
      ["the right FramedContentTBS signed by a key that is not alice's leaf's", withSignature(out.commit, signWithLabel(intruder.privateKey, 'FramedContentTBS', framedContentTbs(message, storedContext())))],
      // carol's key over alice's commit: a member's real key, but not the sender leaf's.
      ["signed by carol's key, naming alice's leaf", withSignature(out.commit, signWithLabel(carol.keys.signaturePrivateKey, 'FramedContentTBS', framedContentTbs(message, storedContext())))],
    ];
    await unchanged(room.uri, async () => {
      for (const [what, commit] of forged) {
        const r = await postCommit(alice, room.uri, { ...out, commit });
        assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'notAllowed', what);
        assert.match(r.body.error.message, /commit: the commit signature does not verify with the signature key of leaf 0/, what);
      }
      // Over /update as well (b.example may not submit alice's commit anyway: the signature is checked first).
      const r = updateAnswer(await asB('update', room.uri, updateBody({ ...out, commit: forged[0][1] })));
      assert.equal(r.responseCode, 'notAllowed');
    });
    accepted(await postCommit(alice, room.uri, out));
    await adopt(room, alice, out);
  });

  test('a GroupInfo whose signature does not verify is notAllowed; nothing is stored', async () => {
    const out = await sessionOf(room, alice).update();
    const gi = decodeGroupInfo(unwrapMlsMessage(out.groupInfo).body);
    const bySomeoneElse = wrapMlsMessage('groupInfo', encodeGroupInfo({ ...gi, signature: signWithLabel(carol.keys.signaturePrivateKey, 'GroupInfoTBS', groupInfoTbs(gi)) }));
    await unchanged(room.uri, async () => {
      refused(await postCommit(alice, room.uri, { ...out, groupInfo: flipAt(out.groupInfo, out.groupInfo.length - 1) }), 403, 'notAllowed', /groupInfo: the GroupInfo signature does not verify with the signature key of leaf 0/);
      refused(await postCommit(alice, room.uri, { ...out, groupInfo: bySomeoneElse }), 403, 'notAllowed', /groupInfo: the GroupInfo signature does not verify/);
    });
  });

  test("a ratchet tree that is not the GroupInfo's (tree hash), or whose parent hashes do not hold, is badRequest; nothing is stored", async () => {
    const out = await sessionOf(room, alice).update();
    const other = await sessionOf(room, alice).update(); // the same commit again: other path keys, so another tree
    // The parent node's encryption key changed, and a GroupInfo re-signed by alice whose tree_hash is that tree's:
    // only the parent hashes can tell.
    const tree = decodeRatchetTree(out.ratchetTree);
    const p = tree.nodes[1]!;
    assert.equal(p.nodeType, 'parent');
    const tampered = encodeRatchetTree({
      nodes: tree.nodes.map((n, i) => (i === 1 && n?.nodeType === 'parent' ? { nodeType: 'parent', parent: { ...n.parent, encryptionKey: n.parent.encryptionKey.map((b, j) => (j === 0 ? b ^ 1 : b)) } } : n)),
    });
    const gi = decodeGroupInfo(unwrapMlsMessage(out.groupInfo).body);
    const rehashed = resign({ ...gi, groupContext: { ...gi.groupContext, treeHash: treeHash(decodeRatchetTree(tampered), 1) } }, alice);
    await unchanged(room.uri, async () => {
      refused(await postCommit(alice, room.uri, { ...out, ratchetTree: other.ratchetTree }), 400, 'badRequest', /ratchetTree does not match the groupInfo: .*tree hash is not the GroupContext's tree_hash/);
      refused(await postCommit(alice, room.uri, { ...out, ratchetTree: tampered }), 400, 'badRequest', /tree hash is not the GroupContext's tree_hash/);
      refused(await postCommit(alice, room.uri, { ...out, ratchetTree: tampered, groupInfo: rehashed }), 400, 'badRequest', /ratchet tree node 1 is not parent-hash valid/);
    });
  });

  test("a Remove proposal whose signature was forged is notAllowed; nothing is stored", async () => {
    const { proposals } = await sessionOf(room, carol).proposeRemove([carol.deviceUri]);
    const [proposal] = proposals;
    const message = decodePublicMessage(proposal);
    const forged = withSignature(proposal, message.signature.map((b, i) => (i === 63 ? b ^ 1 : b)));
    const byAlice = withSignature(proposal, signWithLabel(alice.keys.signaturePrivateKey, 'FramedContentTBS', framedContentTbs(message, storedContext())));
    await unchanged(room.uri, async () => {
      for (const p of [forged, byAlice]) {
        refused(await call(carol, 'POST', roomPath(room.uri, '/proposals'), { proposals: [toB64(p)] }), 403, 'notAllowed', /proposals\[0\]: the proposal signature does not verify with the signature key of leaf 1/);
      }
    });
  });
});

describe('a Hub in-process with join links: tickets signed by the hub itself', () => {
  test("a banned user's external commit is refused as banned without spending a use; a ticket for a role the policy does not allow is refused and spends nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-rs-hub-'));
    const store = new Store(path.join(dir, 'provider.sqlite'));
    try {
      const identity = ensureProviderIdentity(dir, 'a.example');
      const joinLinks = new JoinLinks({ store, domain: 'a.example', hubKeySeed: identity.signaturePrivateKey, hubPublicKey: identity.signaturePublicKey });
      const hub = new Hub({ store, domain: 'a.example', externalSenderKey: identity.signaturePrivateKey, joinLinks });
      const actor = (domain: string, handle: string) => ({ userUri: mkUserUri(domain, handle), deviceUri: mkDeviceUri(domain, handle, 'd1') });
      const owner = actor('a.example', 'alice');
      const dave = actor('a.example', 'dave'); // local, banned
      const frank = actor('b.example', 'frank'); // a follower's user, banned
      const erin = actor('a.example', 'erin'); // never listed
      // A managed room's list change makes the hub look local users up.
      for (const u of [owner, dave, erin]) store.insertUser(u.userUri.split('/u/')[1], u.userUri, 'x', Date.now());

      const roomUri = 'mimi://a.example/r/in-process';
      const state0 = initialRoomState({ roomUri, creator: owner.userUri, roomName: 'In process', preset: 'administered' });
      const exts = roomExtensions(identity.externalSender.raw, state0);
      const g0 = await engine.createGroup(await engine.newDeviceKeys(owner.deviceUri), roomUri, exts);
      hub.createRoom(owner, roomUri, await g0.groupInfo());
      // Pre-emptive bans (0 -> banned), which group_admin may make.
      const banned = withParticipant(withParticipant(state0, dave.userUri, 1), frank.userUri, 1);
      const banCommit = await g0.commitChanges({ extensions: withStateData(exts, banned) });
      hub.commit(owner, roomUri, { ...banCommit, requestId: requestId() });
      const code = randomBytes(16);
      const link = joinLinks.create(owner.userUri, roomUri, { codeHash: new Uint8Array(createHash('sha256').update(code).digest()) });
      const uses = () => joinLinks.list(owner.userUri, roomUri)[0].uses;

      // Tickets as the hub signs them, for each joiner's own leaf (a banned user gets none from
      // the link, so these are minted directly: the commit check must stand on its own).
      const rejoin = async (who: { userUri: string; deviceUri: string }, roleIndex = 2) => {
        const keys = await engine.newDeviceKeys(who.deviceUri);
        const ticket = signJoinTicket(identity.signaturePrivateKey, {
          roomUri,
          joiner: who.userUri,
          signatureKey: keys.signaturePublicKey,
          roleIndex,
          codeId: fromHex(link.id),
          notAfter: Date.now() + 60_000,
        });
        const gi = await banCommit.pending.groupInfo();
        const { pending, commit } = await engine.joinExternal(keys, gi.groupInfo, gi.ratchetTree, { leafExtensions: [{ type: JOIN_TICKET_EXTENSION_TYPE, data: encodeJoinTicket(ticket) }] });
        return { commit, ...(await pending.groupInfo()) };
      };
      // An in-process Store on its own SQLite file, whichever engine the suite's providers use:
      // this checks the Hub's logic, not the storage (hex() below is SQLite's).
      const snapshot = () => {
        const db = new Database(store.file, { readonly: true });
        try {
          return {
            room: db.prepare('SELECT epoch, hex(room_state) AS s, hex(group_info) AS gi FROM rooms').all(),
            participants: db.prepare('SELECT user_uri FROM room_participants ORDER BY user_uri').pluck().all(),
            devices: db.prepare('SELECT device_uri FROM room_devices ORDER BY device_uri').pluck().all(),
            events: db.prepare('SELECT count(*) FROM events').pluck().get(),
            accepted: db.prepare('SELECT count(*) FROM accepted').pluck().get(),
          };
        } finally {
          db.close();
        }
      };
      const refusedWith = (fn: () => unknown, code: string, message: RegExp) =>
        assert.throws(fn, (e: unknown) => {
          assert.ok(e instanceof ApiFailure, String(e));
          assert.equal(e.code, code, e.message);
          assert.match(e.message, message);
          return true;
        });

      const before = snapshot();
      const daveJoin = await rejoin(dave);
      const frankJoin = await rejoin(frank);
      const erinJoin = await rejoin(erin, 3);
      refusedWith(() => hub.commit(dave, roomUri, { ...daveJoin, requestId: requestId() }), 'notAllowed', /mimi:\/\/a\.example\/u\/dave is banned/);
      refusedWith(() => hub.commitFromPeer('b.example', roomUri, daveJoin), 'notAllowed', /dave is banned/);
      refusedWith(() => hub.commitFromPeer('b.example', roomUri, frankJoin), 'notAllowed', /frank is banned/);
      // A link's use must not be spent on a banned user's attempt.
      assert.equal(uses(), 0);
      // Not banned but not listed either, with a hub-signed ticket for a role a code may not give
      // (no_role may only move to 2): admitted past the membership check, refused by the policy,
      // and the use that admitting counted is undone with the rest of the transaction.
      refusedWith(() => hub.commit(erin, roomUri, { ...erinJoin, requestId: requestId() }), 'notAllowed', /canUseJoinCode/);
      assert.equal(uses(), 0);
      assert.deepEqual(snapshot(), before, 'nothing stored');


      // Unbanned, dave is an ordinary participant and the same kind of external commit is accepted.
      const unban = await banCommit.pending.commitChanges({ extensions: withStateData(exts, withRole(banned, dave.userUri, 2)) });
      hub.commit(owner, roomUri, { ...unban, requestId: requestId() });
      const gi = await unban.pending.groupInfo();
      const back = await engine.joinExternal(await engine.newDeviceKeys(dave.deviceUri), gi.groupInfo, gi.ratchetTree);
      const next = await back.pending.groupInfo();
      assert.equal(hub.commit(dave, roomUri, { commit: back.commit, ...next, requestId: requestId() }).epoch, '3');
      assert.deepEqual(store.roomDevices(roomUri).sort(), [owner.deviceUri, dave.deviceUri].sort());
    } finally {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
