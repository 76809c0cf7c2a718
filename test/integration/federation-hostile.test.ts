// A hostile or buggy peer against real providers. a.example (the hub of the room) and b.example (a
// follower: bob's provider) run in-process with their real MIMI endpoints, trusting each other and
// c.example (a trusted provider identity that is no member of anything). The test then speaks raw
// mutual TLS to them as b.example, c.example, a.example or an untrusted evil.example, with real MLS
// material from the app's engine (commits, PrivateMessages, GroupInfo, trees), and checks that
// every malformed, misaddressed, replayed, stale or unauthorized request gets the right answer and
// leaves the providers' databases exactly as they were, and that the providers still work after.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { fromB64, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import { basicCredential, decodeGroupInfo, decodePublicMessage, decodeRatchetTree, encodeRatchetTree, treeLeaves, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { generateSignatureKeyPair, signWithLabel } from '../../src-shared/mls-crypto.js';
import { framedContentTbs } from '../../src-shared/mls-verify.js';
import { peekMlsMessage, welcomeRecipients } from '../../src-shared/mls-wire.js';
import {
  decodeSubmitMessageResponse,
  decodeUpdateRoomResponse,
  encodeFanoutList,
  encodeGroupInfoRequest,
  encodeKeyMaterialRequest,
  encodeSubmitMessageRequest,
  type FanoutMessage,
  type Fields,
  type SubmitMessageResponse,
  type UpdateRoomResponse,
} from '../../src-shared/mimi-protocol.js';
import { MAX_BODY_BYTES, MAX_MESSAGE_BYTES } from '../../src-shared/provider-api.js';
import type { CommitOutput, DeviceKeys, GeneratedKeyPackage, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import {
  apiError,
  count,
  mimiPost,
  PeerNode,
  peerIdentity,
  rawRequest,
  targetOf,
  updateBody,
  withDb,
  type PeerIdentity,
  type RawResponse,
} from '../helpers/mimi-peer.js';

const PASSWORD = 'correct horse battery staple';

let engine: MlsEngine;
let A: PeerNode; // a.example: hosts the rooms
let B: PeerNode; // b.example: bob's provider, a follower of the room
let C: PeerIdentity; // c.example: trusted by both, in no room
let EVIL: PeerIdentity; // evil.example: trusted by nobody

interface Dev {
  userUri: string;
  deviceUri: string;
  client: ProviderClient;
  keys: DeviceKeys;
  kps: Map<string, GeneratedKeyPackage>;
}

let alice: Dev; // a.example
let bob: Dev; // b.example
let room: string; // at A: alice and bob
let other: string; // at A: alice only
let aliceS: GroupSession;
let bobS: GroupSession;
let otherS: GroupSession;
const clients: ProviderClient[] = [];

async function register(on: PeerNode, handle: string): Promise<Dev> {
  const client = new ProviderClient({ baseUrl: on.url, caPem: on.id.ca.caPem });
  clients.push(client);
  const s = await client.register({ handle, password: PASSWORD, deviceName: `${handle} laptop` });
  return { userUri: s.userUri, deviceUri: s.deviceUri, client, keys: await engine.newDeviceKeys(s.deviceUri), kps: new Map() };
}

let reqCounter = 0;
const requestId = () => `hostile-${process.pid}-${++reqCounter}`;

async function commitVia(dev: Dev, roomUri: string, out: CommitOutput, addUsers?: string[]): Promise<void> {
  await dev.client.commit(roomUri, {
    commit: toB64(out.commit),
    ...(out.welcome ? { welcome: toB64(out.welcome) } : {}),
    groupInfo: toB64(out.groupInfo),
    ratchetTree: toB64(out.ratchetTree),
    ...(addUsers ? { addUsers } : {}),
    requestId: requestId(),
  });
}

/** A room at A with `owner` alone, published with an initial commit (epoch 1). */
async function roomAtA(owner: Dev, name: string): Promise<{ roomUri: string; session: GroupSession }> {
  const roomUri = `mimi://a.example/r/${name}-${process.pid}`;
  await owner.client.createRoom({ roomUri });
  const out = await (await engine.createGroup(owner.keys, roomUri)).update();
  await commitVia(owner, roomUri, out);
  return { roomUri, session: out.pending };
}

const drained = () => A.running.federation.outbox.drained();

/** Alice commits an empty update through her provider; bob processes it. */
async function aliceAdvances(): Promise<void> {
  const out = await aliceS.update();
  await commitVia(alice, room, out);
  aliceS = out.pending;
  bobS = (await bobS.process(out.commit)).session;
  await drained();
}

// ---- request bodies, as a follower provider builds them ----

const submitBody = (message: Uint8Array, sendingUri: string): Uint8Array => encodeSubmitMessageRequest({ protocol: 'mls10', appMessage: message, sendingUri });

const appFanout = (message: Uint8Array, timestamp = BigInt(Date.now())): Fields<FanoutMessage> => ({ timestamp, message, kind: 'application' });

async function encrypt(session: GroupSession, text: string): Promise<{ session: GroupSession; message: Uint8Array }> {
  return session.encrypt(utf8(text));
}

/** `message` (an MLSMessage PublicMessage or PrivateMessage) with its header epoch replaced. */
function withEpoch(message: Uint8Array, epoch: bigint): Uint8Array {
  const gidLen = message[4] >> 6 === 0 ? message[4] : ((message[4] & 0x3f) << 8) | message[5];
  const at = 4 + (message[4] >> 6 === 0 ? 1 : 2) + gidLen;
  const out = message.slice();
  new DataView(out.buffer, out.byteOffset).setBigUint64(at, epoch);
  assert.equal(peekMlsMessage(out).epoch, epoch);
  return out;
}

// ---- answers ----

function updateAnswer(r: RawResponse): UpdateRoomResponse {
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(r.headers['content-type'], 'application/mimi');
  return decodeUpdateRoomResponse(new Uint8Array(r.body));
}

function submitAnswer(r: RawResponse): SubmitMessageResponse {
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(r.headers['content-type'], 'application/mimi');
  return decodeSubmitMessageResponse(new Uint8Array(r.body));
}

function refused(r: RawResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(r.status, status, `HTTP ${r.status}: ${r.body.toString()}`);
  const e = apiError(r);
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
}

/** A PublicMessage with its signature replaced by `signature` (of the same length: the framing stays intact). */
function withSignature(message: Uint8Array, signature: Uint8Array): Uint8Array {
  const old = decodePublicMessage(message).signature;
  assert.equal(signature.length, old.length);
  const at = Buffer.from(message).indexOf(Buffer.from(old), 4 + decodePublicMessage(message).content.raw.length);
  assert.ok(at > 0);
  const out = new Uint8Array(message);
  out.set(signature, at);
  return out;
}

// ---- "changes nothing" ----

const TABLES = ['events', 'inbox', 'fed_outbox', 'fed_seen', 'room_devices', 'room_participants', 'accepted', 'forwarded', 'key_package_claims', 'idempotency'];

function snapshot(n: PeerNode): Record<string, unknown> {
  return withDb(n.dbFile, (db) => ({
    rooms: db.prepare('SELECT room_uri, epoch, hub_domain, length(group_info) AS gi, length(ratchet_tree) AS tree FROM rooms ORDER BY room_uri').all(),
    ...Object.fromEntries(TABLES.map((t) => [t, count(db, `SELECT count(*) AS n FROM ${t}`)])),
  }));
}

async function stillServing(n: PeerNode): Promise<void> {
  const r = await rawRequest(targetOf(n), { method: 'GET', path: '/v1/health' });
  assert.equal(r.status, 200, `${n.domain} still answers`);
}

/** Runs `fn` (the hostile requests) and asserts neither provider's database changed. */
async function changesNothing(fn: () => Promise<void>, except: Partial<Record<'A' | 'B', Record<string, number>>> = {}): Promise<void> {
  await drained();
  const before = { A: snapshot(A), B: snapshot(B) };
  await fn();
  for (const [name, n] of [['A', A], ['B', B]] as const) {
    const expected = { ...before[name] };
    for (const [t, d] of Object.entries(except[name] ?? {})) expected[t] = (expected[t] as number) + d;
    assert.deepEqual(snapshot(n), expected, `${n.domain}'s database`);
    await stillServing(n);
  }
  assert.equal(A.running.federation.outbox.stats().pending, 0, 'no fanout was queued');
}

/** Every prefix of `body` at the first 48 offsets, then every `step`-th, and the body plus a byte. */
function cuts(body: Uint8Array, step = 13): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = 0; n < body.length; n += n < 48 ? 1 : step) out.push(body.subarray(0, n));
  out.push(body.subarray(0, body.length - 1));
  out.push(new Uint8Array([...body, 0]));
  return out;
}

const garbage = (): Uint8Array[] => [new Uint8Array(0), randomBytes(3), randomBytes(200), new Uint8Array(64).fill(0xff), utf8('{"commit":"not TLS-PL"}')];

/** Posts every body and expects 400 badRequest naming `what`. */
async function allMalformed(post: (body: Uint8Array) => Promise<RawResponse>, bodies: Uint8Array[], what: RegExp): Promise<void> {
  for (const body of bodies) {
    const r = await post(body);
    assert.equal(r.status, 400, `${body.length}-byte body: HTTP ${r.status} ${r.body.toString()}`);
    const e = apiError(r);
    assert.equal(e.code, 'badRequest');
    assert.match(e.message, what, `${body.length}-byte body`);
  }
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  engine = await createMlsEngine();
  [A, B, C, EVIL] = await Promise.all([PeerNode.prepare('a.example'), PeerNode.prepare('b.example'), peerIdentity('c.example'), peerIdentity('evil.example')]);
  // Consent to being added is not what this file is about: bob's provider lets alice add him.
  await A.start({ peers: [B], trust: [B, C] });
  await B.start({ peers: [A], trust: [A, C], extra: { consent: 'open' } });
  [alice, bob] = await Promise.all([register(A, 'alice'), register(B, 'bob')]);
  const made = await engine.generateKeyPackages(bob.keys, 2);
  for (const k of made) bob.kps.set(toHex(k.ref), k);
  await bob.client.uploadKeyPackages({ keyPackages: made.map((k) => toB64(k.publicMessage)) });

  ({ roomUri: room, session: aliceS } = await roomAtA(alice, 'hostile'));
  ({ roomUri: other, session: otherS } = await roomAtA(alice, 'other'));
  const claim = await alice.client.claim({ roomUri: room, users: [bob.userUri] });
  const kp = fromB64(claim.results[0].clients[0].keyPackage!);
  const added = await aliceS.add([kp]);
  await commitVia(alice, room, added, [bob.userUri]);
  aliceS = added.pending;
  await drained();
  // Bob joins from the Welcome b.example queued for his device.
  const [welcome] = withDb(B.dbFile, (db) => db.prepare("SELECT payload, ratchet_tree FROM events WHERE room_uri = ? AND kind = 'welcome'").all(room)) as {
    payload: Buffer;
    ratchet_tree: Buffer;
  }[];
  const ref = welcomeRecipients(new Uint8Array(welcome.payload)).map(toHex).find((r) => bob.kps.has(r))!;
  bobS = await engine.joinFromWelcome(bob.keys, new Uint8Array(welcome.payload), bob.kps.get(ref)!, new Uint8Array(welcome.ratchet_tree));
  assert.equal(bobS.epoch, 2n);
});

after(async () => {
  for (const c of clients) c.close();
  const errors: unknown[] = [];
  for (const n of [A, B]) await n?.destroy().catch((e) => errors.push(e));
  for (const id of [C, EVIL]) if (id) fs.rmSync(id.dataDir, { recursive: true, force: true });
  if (errors.length) throw errors[0];
});

const toA = (as: Pick<PeerIdentity, 'domain' | 'cert' | 'key'>, endpoint: string, param: string, body: Uint8Array) => mimiPost(targetOf(A), as, endpoint, param, body);
const toB = (as: Pick<PeerIdentity, 'domain' | 'cert' | 'key'>, endpoint: string, param: string, body: Uint8Array) => mimiPost(targetOf(B), as, endpoint, param, body);

describe('a hostile peer', () => {
  test('a peer with an untrusted certificate is refused at TLS, before any HTTP', async () => {
    const out = await bobS.update();
    await changesNothing(async () => {
      await assert.rejects(toA(EVIL, 'update', room, updateBody(out)), (e: NodeJS.ErrnoException) => {
        assert.match(`${e.code} ${e.message}`, /ECONNRESET|socket hang up|EPIPE/);
        return true;
      });
    });
    assert.ok(A.logs.some((l) => l.startsWith('refused TLS connection') && l.includes('evil.example')), A.logs.join('\n'));
  });

  test('/update: malformed, truncated or padded bodies are 400 naming the UpdateRequest', async () => {
    const out = await bobS.update();
    const body = updateBody(out);
    await changesNothing(() => allMalformed((b) => toA(B.id, 'update', room, b), [...garbage(), ...cuts(body, 37)], /UpdateRequest is malformed/));
    // The untouched body is a valid commit of bob's: accepted (the cuts were refused for being cut).
    assert.equal(updateAnswer(await toA(B.id, 'update', room, body)).responseCode, 'success');
    bobS = out.pending;
    aliceS = (await aliceS.process(out.commit)).session;
    assert.equal(BigInt(A.running.federation.db.prepare('SELECT epoch FROM rooms WHERE room_uri = ?').pluck().get(room) as number), bobS.epoch);
  });

  test('/update and /submitMessage for a room this provider does not host: 404 roomUnknown', async () => {
    const commit = updateBody(await bobS.update());
    const { message } = await encrypt(bobS, 'to nowhere');
    const msg = submitBody(message, bob.userUri);
    await changesNothing(async () => {
      for (const param of [`mimi://a.example/r/nope-${process.pid}`, 'mimi://c.example/r/elsewhere']) {
        refused(await toA(B.id, 'update', param, commit), 404, 'roomUnknown', /nope|not hosted/);
        refused(await toA(B.id, 'submitMessage', param, msg), 404, 'roomUnknown', /nope|not hosted/);
      }
      // b.example only follows the room: it is not the place to update it.
      refused(await toB(A.id, 'update', room, commit), 404, 'roomUnknown', /not hosted by b\.example/);
      refused(await toB(A.id, 'submitMessage', room, msg), 404, 'roomUnknown', /not hosted by b\.example/);
      // Not a room URI at all.
      refused(await toA(B.id, 'update', bob.userUri, commit), 400, 'badRequest', /not a room URI/);
      refused(await toA(B.id, 'submitMessage', 'room-1', msg), 400, 'badRequest', /not a room URI/);
    });
  });

  test('/update and /submitMessage whose MLS group is another hosted room than the roomId', async () => {
    const out = await bobS.update();
    const { message } = await encrypt(bobS, 'wrong room');
    await changesNothing(async () => {
      const u = updateAnswer(await toA(B.id, 'update', other, updateBody(out)));
      assert.equal(u.responseCode, 'invalidProposal');
      assert.match(u.errorDescription, /belongs to group .*hostile.*not to room .*other/);
      refused(await toA(B.id, 'submitMessage', other, submitBody(message, bob.userUri)), 400, 'badRequest', /belongs to group .*hostile.*not to room .*other/);
    });
  });

  test('/update: a Commit for a past epoch gets wrongEpoch with the current epoch', async () => {
    const stale = await bobS.update();
    await aliceAdvances();
    const current = aliceS.epoch;
    assert.equal(stale.newEpoch, current, 'bob built on the epoch alice just left');
    await changesNothing(async () => {
      const r = updateAnswer(await toA(B.id, 'update', room, updateBody(stale)));
      assert.equal(r.responseCode, 'wrongEpoch');
      assert.ok(r.responseCode === 'wrongEpoch' && r.currentEpoch === current, JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
      assert.match(r.errorDescription, new RegExp(`epoch ${current - 1n}.*epoch ${current}`));
    });
  });

  test('/update: a bundle whose GroupInfo does not fit its commit is invalidProposal', async () => {
    const out = await bobS.update();
    const otherGi = await otherS.groupInfo(); // another room's
    const currentGi = await bobS.groupInfo(); // this room's, but for the epoch the commit leaves
    await changesNothing(async () => {
      for (const [groupInfo, why] of [
        [otherGi.groupInfo, /groupInfo belongs to group .*other/],
        [currentGi.groupInfo, new RegExp(`groupInfo is for epoch ${bobS.epoch}, the commit creates epoch ${bobS.epoch + 1n}`)],
      ] as const) {
        const r = updateAnswer(await toA(B.id, 'update', room, updateBody({ ...out, groupInfo })));
        assert.equal(r.responseCode, 'invalidProposal');
        assert.match(r.errorDescription, why);
      }
      // A commit whose header claims an epoch no room can have.
      const r = updateAnswer(await toA(B.id, 'update', room, updateBody({ ...out, commit: withEpoch(out.commit, 2n ** 64n - 1n) })));
      assert.equal(r.responseCode, 'invalidProposal', r.errorDescription);
    });
  });

  test('/update: a commit signed by a device of another provider than the sending peer is notAllowed', async () => {
    const byAlice = await aliceS.update(); // alice's, never sent by her
    const byBob = await bobS.update();
    // An external commit for dave@b.example, who is not a participant.
    const gi = A.running.federation.db.prepare('SELECT group_info, ratchet_tree FROM rooms WHERE room_uri = ?').get(room) as { group_info: Buffer; ratchet_tree: Buffer };
    const dave = await engine.newDeviceKeys(mkDeviceUri('b.example', 'dave', 'dev1'));
    const joined = await engine.joinExternal(dave, new Uint8Array(gi.group_info), new Uint8Array(gi.ratchet_tree));
    const daveOut = { commit: joined.commit, ...(await joined.pending.groupInfo()) };
    await changesNothing(async () => {
      const cases: [PeerIdentity, Uint8Array, RegExp][] = [
        [B.id, updateBody(byAlice), /b\.example cannot submit a commit signed by mimi:\/\/a\.example\/d\/alice\//],
        [C, updateBody(byBob), /c\.example cannot submit a commit signed by mimi:\/\/b\.example\/d\/bob\//],
        [B.id, updateBody(daveOut), /dave is not a participant/],
      ];
      for (const [as, body, why] of cases) {
        const r = updateAnswer(await toA(as, 'update', room, body));
        assert.equal(r.responseCode, 'notAllowed', `${as.domain}: ${r.errorDescription}`);
        assert.match(r.errorDescription, why);
      }
    });
  });

  test('/update: a forged commit signature or GroupInfo signature is notAllowed; nothing is stored', async () => {
    const out = await bobS.update(); // bob's real commit
    const stored = A.running.federation.db.prepare('SELECT group_info FROM rooms WHERE room_uri = ?').get(room) as { group_info: Buffer };
    const context = decodeGroupInfo(unwrapMlsMessage(new Uint8Array(stored.group_info)).body).groupContext;
    const message = decodePublicMessage(out.commit);
    // The signature with one bit flipped, the framing intact.
    const flipped = withSignature(out.commit, message.signature.map((b, i) => (i === 7 ? b ^ 1 : b)));
    // The right FramedContentTBS (content and this epoch's GroupContext) signed by a key not in the tree.
    const intruder = generateSignatureKeyPair();
    const resigned = withSignature(out.commit, signWithLabel(intruder.privateKey, 'FramedContentTBS', framedContentTbs(message, context)));
    // A GroupInfo whose signature does not verify (its last byte flipped).
    const badGi = out.groupInfo.map((b, i, a) => (i === a.length - 1 ? b ^ 1 : b));
    await changesNothing(async () => {
      for (const [body, why] of [
        [updateBody({ ...out, commit: flipped }), /commit: the commit signature does not verify with the signature key of leaf 1/],
        [updateBody({ ...out, commit: resigned }), /commit: the commit signature does not verify/],
        [updateBody({ ...out, groupInfo: badGi }), /groupInfo: the GroupInfo signature does not verify/],
      ] as const) {
        const r = updateAnswer(await toA(B.id, 'update', room, body));
        assert.equal(r.responseCode, 'notAllowed', r.errorDescription);
        assert.match(r.errorDescription, why);
      }
    });
  });

  test('/update: a replayed accepted commit is not accepted again', async () => {
    const out = await bobS.update();
    const body = updateBody(out);
    const first = updateAnswer(await toA(B.id, 'update', room, body));
    assert.equal(first.responseCode, 'success');
    bobS = out.pending;
    aliceS = (await aliceS.process(out.commit)).session;
    await changesNothing(async () => {
      // The same peer retrying after a lost answer gets the same answer, and nothing happens twice.
      const again = updateAnswer(await toA(B.id, 'update', room, body));
      assert.deepEqual(again, first);
      // Another provider replaying it gets the recorded answer too (the hub records accepted
      // commits by digest, not by who submitted them; for a member commit the signer's leaf may
      // be gone from the current tree). Nothing happens either way.
      assert.deepEqual(updateAnswer(await toA(C, 'update', room, body)), first);
    });
  });

  test('/submitMessage: malformed, truncated or padded bodies, or a handshake message, are 400', async () => {
    const { message } = await encrypt(bobS, 'cut me');
    const body = submitBody(message, bob.userUri);
    const commit = (await bobS.update()).commit;
    // The same request with a PublicMessage commit where the PrivateMessage was.
    const at = Buffer.from(body).indexOf(Buffer.from(message));
    assert.ok(at > 0);
    const asCommit = new Uint8Array([...body.subarray(0, at), ...commit, ...body.subarray(at + message.length)]);
    await changesNothing(() =>
      allMalformed((b) => toA(B.id, 'submitMessage', room, b), [...garbage(), ...cuts(body), asCommit], /SubmitMessageRequest is malformed/),
    );
    assert.equal(submitAnswer(await toA(B.id, 'submitMessage', room, body)).statusCode, 'success', 'the uncut body is fine');
    await drained();
  });

  test('/submitMessage: a sendingUri that is no participant, or not of the peer\'s domain, is notAllowed', async () => {
    const { message } = await encrypt(bobS, 'who am I');
    // Alice's session one epoch ahead of the hub (her commit never sent): a message from the future.
    const ahead = await encrypt((await aliceS.update()).pending, 'from the future');
    await changesNothing(async () => {
      const cases: [PeerIdentity, string, Uint8Array][] = [
        [B.id, mkUserUri('b.example', 'mallory'), message], // not a participant
        [B.id, alice.userUri, message], // a participant of another domain
        [C, mkUserUri('c.example', 'carol'), message], // a provider with nobody in the room
        [C, bob.userUri, message], // someone else's user
        [B.id, bob.deviceUri, message], // a device URI, not a user
        [B.id, bob.userUri, ahead.message], // an epoch the room has not reached
        [B.id, bob.userUri, withEpoch(message, 2n ** 64n - 1n)], // nor ever will
      ];
      for (const [as, sendingUri, m] of cases) {
        assert.deepEqual(submitAnswer(await toA(as, 'submitMessage', room, submitBody(m, sendingUri))), { protocol: 'mls10', statusCode: 'notAllowed' }, `${as.domain} as ${sendingUri}`);
      }
    });
  });

  test('/submitMessage: from two epochs back it is epochTooOld with the current epoch; from one back, delivered once however often it is sent', async () => {
    const old = await encrypt(bobS, 'two epochs old');
    bobS = old.session;
    await aliceAdvances();
    const prev = await encrypt(bobS, 'one epoch old');
    bobS = prev.session;
    await aliceAdvances();
    await changesNothing(async () => {
      const r = submitAnswer(await toA(B.id, 'submitMessage', room, submitBody(old.message, bob.userUri)));
      assert.deepEqual(r, { protocol: 'mls10', statusCode: 'epochTooOld', currentEpoch: aliceS.epoch });
    });
    const aliceInbox = () => withDb(A.dbFile, (db) => count(db, 'SELECT count(*) AS n FROM inbox WHERE device_uri = ?', alice.deviceUri));
    const before = aliceInbox();
    const body = submitBody(prev.message, bob.userUri);
    const first = submitAnswer(await toA(B.id, 'submitMessage', room, body));
    assert.equal(first.statusCode, 'success');
    await changesNothing(async () => {
      for (let i = 0; i < 3; i++) assert.deepEqual(submitAnswer(await toA(B.id, 'submitMessage', room, body)), first, 'a replay is answered like the first');
      // Another provider replaying it on behalf of bob is not answered as if it could have sent it.
      assert.deepEqual(submitAnswer(await toA(C, 'submitMessage', room, body)), { protocol: 'mls10', statusCode: 'notAllowed' });
    });
    assert.equal(aliceInbox(), before + 1, 'alice got it once');
    const [payload] = withDb(A.dbFile, (db) => db.prepare("SELECT payload FROM events WHERE room_uri = ? AND kind = 'message' ORDER BY id DESC LIMIT 1").pluck().all(room)) as Buffer[];
    const got = await aliceS.process(new Uint8Array(payload));
    aliceS = got.session;
    assert.ok(got.result.kind === 'application' && Buffer.from(got.result.plaintext).toString() === 'one epoch old');
  });

  test('/notify: malformed, truncated or padded bodies are 400; a FanoutMessage of another group is 400', async () => {
    const { message } = await encrypt(aliceS, 'cut me');
    const body = encodeFanoutList([appFanout(message)]);
    const foreign = await encrypt(otherS, 'for the other room');
    await changesNothing(async () => {
      await allMalformed((b) => toB(A.id, 'notify', room, b), [...garbage(), ...cuts(body)], /notify body is not a list of FanoutMessages/);
      // One good message followed by a cut one: the whole request is refused, the good one too.
      await allMalformed((b) => toB(A.id, 'notify', room, b), [new Uint8Array([...body, ...body.subarray(0, 30)])], /FanoutMessage/);
      await allMalformed((b) => toB(A.id, 'notify', room, b), [encodeFanoutList([appFanout(message), appFanout(foreign.message)])], /belongs to group .*other.*not .*hostile/);
    });
  });

  test('/notify: an MLS epoch out of any room\'s range is 400, not an internal error', async () => {
    const { message } = await encrypt(aliceS, 'far future');
    const commit = (await aliceS.update()).commit;
    await changesNothing(async () => {
      for (const m of [withEpoch(message, 2n ** 64n - 1n), withEpoch(message, 2n ** 63n)]) {
        await allMalformed((b) => toB(A.id, 'notify', room, b), [encodeFanoutList([appFanout(m)])], /epoch/);
      }
      const c: Fields<FanoutMessage> = { timestamp: BigInt(Date.now()), message: withEpoch(commit, 2n ** 63n - 1n), kind: 'commit', externalProposals: [] };
      await allMalformed((b) => toB(A.id, 'notify', room, b), [encodeFanoutList([c])], /epoch/);
    });
  });

  test('/notify from a peer that is not the room\'s hub is 403 notAllowed', async () => {
    const { message } = await encrypt(aliceS, 'forged fanout');
    const body = encodeFanoutList([appFanout(message)]);
    await changesNothing(async () => {
      refused(await toB(C, 'notify', room, body), 403, 'notAllowed', /c\.example is not the hub of .*a\.example is/);
      // Nor may the hub of one room notify for a room hosted at b.example itself.
      refused(await toB(A.id, 'notify', 'mimi://b.example/r/mine', body), 403, 'notAllowed', /a\.example is not the hub/);
      // a.example may not notify a.example (itself hosting the room) through b's certificate either.
      refused(await toA(B.id, 'notify', room, body), 403, 'notAllowed', /b\.example is not the hub/);
    });
  });

  test('/notify replayed: 201 every time, delivered to bob\'s device once', async () => {
    const bobInbox = () => withDb(B.dbFile, (db) => count(db, 'SELECT count(*) AS n FROM inbox WHERE device_uri = ?', bob.deviceUri));
    // A real fanout: alice sends through her provider, a.example notifies b.example.
    const sent = await encrypt(aliceS, 'fanned out');
    aliceS = sent.session;
    const inbox0 = bobInbox();
    await alice.client.sendMessage(room, { message: toB64(sent.message), requestId: requestId() });
    await drained();
    assert.equal(bobInbox(), inbox0 + 1, 'the real notify arrived');
    // The same FanoutMessage again, byte for byte (the hub's acceptance time from its own events).
    const ts = A.running.federation.db.prepare("SELECT accepted_ts FROM events WHERE room_uri = ? AND kind = 'message' ORDER BY id DESC LIMIT 1").pluck().get(room) as number;
    const replay = encodeFanoutList([appFanout(sent.message, BigInt(ts))]);
    await changesNothing(async () => {
      for (let i = 0; i < 2; i++) {
        const r = await toB(A.id, 'notify', room, replay);
        assert.equal(r.status, 201, r.body.toString());
        assert.equal(r.body.length, 0);
      }
    });

    // A notify that was never seen, sent twice, and then in a batch with one new message.
    const m1 = await encrypt(aliceS, 'first');
    const m2 = await encrypt(m1.session, 'second');
    aliceS = m2.session;
    const f1 = appFanout(m1.message);
    const once = encodeFanoutList([f1]);
    assert.equal((await toB(A.id, 'notify', room, once)).status, 201);
    await changesNothing(async () => assert.equal((await toB(A.id, 'notify', room, once)).status, 201));
    assert.equal((await toB(A.id, 'notify', room, encodeFanoutList([f1, appFanout(m2.message)]))).status, 201);
    assert.equal(bobInbox(), inbox0 + 3, 'fanned out, first, second: each once');
    const payloads = withDb(B.dbFile, (db) =>
      db.prepare('SELECT e.payload FROM inbox i JOIN events e ON e.id = i.event_id WHERE i.device_uri = ? ORDER BY i.seq DESC LIMIT 3').pluck().all(bob.deviceUri),
    ) as Buffer[];
    const texts: string[] = [];
    for (const p of payloads.reverse()) {
      const got = await bobS.process(new Uint8Array(p));
      bobS = got.session;
      if (got.result.kind === 'application') texts.push(Buffer.from(got.result.plaintext).toString());
    }
    assert.deepEqual(texts, ['fanned out', 'first', 'second']);
  });

  test('/notify for a room b.example does not follow: 201, nothing stored but the seen entry', async () => {
    const stray = `mimi://a.example/r/stray-${process.pid}`;
    // The message's group must match the roomId; a group b.example has no row for.
    const strayRoom = await engine.createGroup(alice.keys, stray);
    const m = await encrypt(strayRoom, 'nobody here');
    await changesNothing(
      async () => {
        assert.equal((await toB(A.id, 'notify', stray, encodeFanoutList([appFanout(m.message)]))).status, 201);
      },
      { B: { fed_seen: 1 } },
    );
  });

  test('oversize bodies are 413 on every MIMI endpoint; an oversize MLS message is 413 too', async () => {
    const huge = new Uint8Array(MAX_BODY_BYTES + 1);
    const big = await encrypt(bobS, 'x'.repeat(MAX_MESSAGE_BYTES + 16));
    const bigBody = submitBody(big.message, bob.userUri);
    assert.ok(bigBody.length < MAX_BODY_BYTES, 'under the body limit, over the message limit');
    await changesNothing(async () => {
      for (const [to, as, endpoint, param] of [
        [toA, B.id, 'update', room],
        [toA, B.id, 'submitMessage', room],
        [toB, A.id, 'notify', room],
        [toB, A.id, 'keyMaterial', bob.userUri],
        [toA, B.id, 'groupInfo', room],
      ] as const) {
        refused(await to(as, endpoint, param, huge), 413, 'tooLarge');
      }
      refused(await toA(B.id, 'submitMessage', room, bigBody), 413, 'tooLarge', new RegExp(`limit is ${MAX_MESSAGE_BYTES}`));
    });
  });

  test('/keyMaterial and /groupInfo: malformed or truncated bodies are 400', async () => {
    const kmr = encodeKeyMaterialRequest({
      protocol: 'mls10',
      requestingUser: alice.userUri,
      targetUser: bob.userUri,
      roomId: room,
      acceptableCiphersuites: [1],
      requiredCapabilities: { extensionTypes: [], proposalTypes: [], credentialTypes: [] },
      requesterSignatureKey: new Uint8Array(32),
      requesterCredential: basicCredential(alice.userUri),
      signature: new Uint8Array(64),
    });
    const gir = encodeGroupInfoRequest({
      protocol: 'mls10',
      cipherSuite: 1,
      requestingSignatureKey: new Uint8Array(32),
      requestingCredential: basicCredential(bob.deviceUri),
      groupInfoPublicKey: new Uint8Array(32),
      signature: new Uint8Array(64),
    });
    await changesNothing(async () => {
      await allMalformed((b) => toB(A.id, 'keyMaterial', bob.userUri, b), [...garbage(), ...cuts(kmr, 29)], /malformed KeyMaterialRequest/);
      await allMalformed((b) => toA(B.id, 'groupInfo', room, b), [...garbage(), ...cuts(gir, 7)], /malformed GroupInfoRequest/);
      // Well-formed but not signed by the requesting provider: refused, nothing spent.
      refused(await toB(A.id, 'keyMaterial', bob.userUri, kmr), 403, 'notAllowed');
      refused(await toA(B.id, 'groupInfo', room, gir), 403, 'notAllowed');
    });
  });

  test('/update: a tree that drops or moves another provider\'s devices is refused; the room is unchanged', async () => {
    const out = await bobS.update(); // bob's real, empty commit
    const tree = decodeRatchetTree(out.ratchetTree);
    assert.deepEqual(treeLeaves(tree).map((l) => l.identity), [alice.deviceUri, bob.deviceUri]);
    // 1. alice's leaf (node 0) blanked, bob where he was.
    const blanked = encodeRatchetTree({ nodes: tree.nodes.map((n, i) => (i === 0 ? null : n)) });
    // 2. a tree of bob alone (bob moved to leaf 0).
    const lonely = (await (await engine.createGroup(bob.keys, room)).groupInfo()).ratchetTree;
    // 3. bob's real commit removing alice: signed, its tree the GroupInfo's, and still not b.example's to make.
    const removing = await bobS.commitChanges({ remove: [alice.deviceUri] });
    await changesNothing(async () => {
      // A tree that is not the one the GroupInfo's tree_hash commits to is refused before anything else.
      for (const ratchetTree of [blanked, lonely]) {
        const forged = updateAnswer(await toA(B.id, 'update', room, updateBody({ ...out, ratchetTree })));
        assert.equal(forged.responseCode, 'invalidProposal');
        assert.match(forged.errorDescription, /tree hash is not the GroupContext's tree_hash/);
      }
      const drop = updateAnswer(await toA(B.id, 'update', room, updateBody(removing)));
      assert.equal(drop.responseCode, 'notAllowed');
      assert.match(drop.errorDescription, /b\.example cannot remove mimi:\/\/a\.example\/d\/alice\/.*another provider/);
    });
    // Alice is still a participant and can still send.
    const m = await encrypt(aliceS, 'not evicted');
    aliceS = m.session;
    await alice.client.sendMessage(room, { message: toB64(m.message), requestId: requestId() });
    await drained();
    const last = withDb(B.dbFile, (db) =>
      db.prepare('SELECT e.payload FROM inbox i JOIN events e ON e.id = i.event_id WHERE i.device_uri = ? ORDER BY i.seq DESC LIMIT 1').pluck().get(bob.deviceUri),
    ) as Buffer;
    const got = await bobS.process(new Uint8Array(last));
    bobS = got.session;
    assert.ok(got.result.kind === 'application' && Buffer.from(got.result.plaintext).toString() === 'not evicted');
  });

  test('a signed-in user\'s external commits for made-up rooms elsewhere are refused and leave no row on the follower', async () => {
    // An external commit (new_member_commit) for a group nobody hosts: a.example is up and answers
    // roomUnknown; c.example has no address at all (down). Either way b.example must keep nothing:
    // no rooms row, no room_devices / room_participants, no forwarded entry, and GET answers 404.
    const madeUp = async (domain: string) => {
      const roomUri = `mimi://${domain}/r/made-up-${toHex(randomBytes(8))}`;
      const owner = await engine.newDeviceKeys(mkDeviceUri(domain, 'mallory', 'phone'));
      const info = await (await engine.createGroup(owner, roomUri)).groupInfo();
      const { pending, commit } = await engine.joinExternal(bob.keys, info.groupInfo, info.ratchetTree);
      assert.equal(peekMlsMessage(commit).senderType, 'new_member_commit');
      const gi = await pending.groupInfo();
      return { roomUri, req: { commit: toB64(commit), groupInfo: toB64(gi.groupInfo), ratchetTree: toB64(gi.ratchetTree), requestId: requestId() } };
    };
    const attempts = await Promise.all(Array.from({ length: 12 }, (_, i) => madeUp(i % 2 ? 'a.example' : 'c.example')));
    await changesNothing(async () => {
      for (const { roomUri, req } of attempts) {
        const hubUp = roomUri.startsWith('mimi://a.example/');
        await assert.rejects(bob.client.commit(roomUri, req), (e: ProviderError) => {
          assert.ok(e instanceof ProviderError, String(e));
          assert.deepEqual([e.status, e.code], hubUp ? [404, 'roomUnknown'] : [502, 'peerUnreachable'], e.message);
          return true;
        });
        await assert.rejects(bob.client.getRoom(roomUri), (e: ProviderError) => {
          assert.deepEqual([e.status, e.code], [404, 'roomUnknown'], e.message);
          return true;
        });
      }
    });
    withDb(B.dbFile, (db) => assert.equal(count(db, "SELECT count(*) AS n FROM rooms WHERE room_uri LIKE '%made-up-%'"), 0));
  });

  test('after all that, both providers still carry the room: messages both ways and a commit from b.example', async () => {
    // bob -> alice through b.example's client API (the follower forwards to /submitMessage).
    const fromBob = await encrypt(bobS, 'still here');
    bobS = fromBob.session;
    await bob.client.sendMessage(room, { message: toB64(fromBob.message), requestId: requestId() });
    const [p] = withDb(A.dbFile, (db) => db.prepare("SELECT payload FROM events WHERE room_uri = ? AND kind = 'message' ORDER BY id DESC LIMIT 1").pluck().all(room)) as Buffer[];
    const got = await aliceS.process(new Uint8Array(p));
    aliceS = got.session;
    assert.ok(got.result.kind === 'application' && Buffer.from(got.result.plaintext).toString() === 'still here');
    // A commit of bob's through b.example (the follower forwards to /update), then alice's.
    const out = await bobS.update();
    await commitVia(bob, room, out);
    bobS = out.pending;
    aliceS = (await aliceS.process(out.commit)).session;
    await aliceAdvances();
    assert.equal(bobS.epoch, aliceS.epoch);
    assert.equal(BigInt(A.running.federation.db.prepare('SELECT epoch FROM rooms WHERE room_uri = ?').pluck().get(room) as number), aliceS.epoch);
  });

});
