// Pseudonyms on the provider side, between two real in-process providers on loopback (a.example and
// b.example, each with its own data dir, dev CA and port, trusting each other; consent REQUIRED):
// issuance and listing, the per-account rate limit (429 + Retry-After, nothing else of the account
// affected, kept across a restart), KeyPackages only from the owning device, retiring, ownership
// and bad-input errors that change nothing, claims (a pseudonym's ordinary KeyPackages go only to
// pseudonyms, without consent; its connection-only ones go to nobody, since the connection flow
// carries them in the request: a pseudonym holding only those answers a claim with no KeyPackage;
// everyone else, and a retired or unknown pseudonym, gets the unknown user's answer), discovery that
// never finds a pseudonym, and scans of the other provider's SQLite file and logs for the account.
//
// The hub side of rooms between pseudonyms is not built yet (the hub puts the creating account on a
// room's participant list), so the test itself puts the requesting pseudonym on its room's list.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { fromB64, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { newPseudonymUri, newRoomUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import { decodeKeyMaterialResponse, encodeConsentEntry, encodeKeyMaterialRequest, encodeKeyMaterialResponse } from '../../src-shared/mimi-protocol.js';
import type { ApiError, ClaimResponse, FindRequest, PseudonymInfo } from '../../src-shared/provider-api.js';
import type { DeviceKeys, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { KeyMaterialService } from '../../src-provider/federation/key-material.js';
import { ensureProviderIdentity } from '../../src-provider/federation/provider-identity.js';
import { mimiPost, PeerNode, rawRequest, targetOf, withDb, type RawResponse } from '../helpers/mimi-peer.js';
import { providerStorageBytes, tableSnapshot } from '../helpers/provider-db.js';

const PASSWORD = 'correct horse battery staple';
/** a.example's bucket: 4 at once, one more every 2 s, 8 active at most. */
const A_LIMITS = { burst: 4, perHour: 1800, maxActive: 8 };
const PSEUDONYM_TABLES = ['pseudonyms', 'pseudonym_key_packages', 'pseudonym_quota', 'key_packages', 'key_package_claims'];

let engine: MlsEngine;
let A: PeerNode;
let B: PeerNode;
const clients: ProviderClient[] = [];

interface Dev {
  handle: string;
  userUri: string;
  deviceUri: string;
  deviceId: string;
  token: string;
  client: ProviderClient;
  node: PeerNode;
}

/** Handles unique to this run, so a scan for them finds nothing by chance. */
const handle = (base: string) => `${base}-${toHex(randomBytes(4))}`;

function client(node: PeerNode, token?: string): ProviderClient {
  const c = new ProviderClient({ baseUrl: node.url, caPem: node.id.ca.caPem, token });
  clients.push(c);
  return c;
}

async function register(node: PeerNode, h: string, login = false): Promise<Dev> {
  const c = client(node);
  const s = login
    ? await c.login({ handle: h, password: PASSWORD, deviceName: `${h} phone` })
    : await c.register({ handle: h, password: PASSWORD, deviceName: `${h} laptop` });
  return { handle: h, userUri: s.userUri, deviceUri: s.deviceUri, deviceId: s.deviceId, token: s.token, client: c, node };
}

/** A client-API request as is (status, headers and JSON body), for what the typed client hides. */
async function api(dev: Dev, method: string, path: string, body?: unknown): Promise<RawResponse & { json: ApiError & Record<string, unknown> }> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? utf8(body) : utf8(JSON.stringify(body));
  const r = await rawRequest(targetOf(dev.node), {
    method,
    path,
    headers: { authorization: `Bearer ${dev.token}`, 'content-type': 'application/json' },
    body: payload,
  });
  return { ...r, json: JSON.parse(r.body.toString('utf8')) };
}

/** Engine-made KeyPackages whose BasicCredential names `identity` (a client pseudonym, here). */
async function keyPackages(identity: string, n: number, keys?: DeviceKeys): Promise<Uint8Array[]> {
  return (await engine.generateKeyPackages(keys ?? (await engine.newDeviceKeys(identity)), n)).map((k) => k.publicMessage);
}

const refHex = async (kp: Uint8Array | string) => toHex(await engine.keyPackageRef(typeof kp === 'string' ? fromB64(kp) : kp));

async function rejects(p: Promise<unknown>, status: number, code: string, message?: RegExp): Promise<ProviderError> {
  let caught: unknown;
  await assert.rejects(p, (e) => ((caught = e), true));
  assert.ok(caught instanceof ProviderError, String(caught));
  assert.equal(caught.status, status, caught.message);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Every row of the tables pseudonyms touch, as JSON. */
const snapshot = (node: PeerNode): string =>
  withDb(node.dbFile, (db) => JSON.stringify(PSEUDONYM_TABLES.map((t) => tableSnapshot(db, t))));

const unknownUser = (userUri: string): ClaimResponse['results'][number] => ({ userUri, status: 'userUnknown', clients: [] });

/** A KeyMaterialRequest signed the way a.example signs them (only buildRequest of the service is used). */
function signedByA(requestingUser: string, targetUser: string, roomId: string) {
  const identity = ensureProviderIdentity(A.id.dataDir, 'a.example');
  const km = new KeyMaterialService({ domain: 'a.example', identity, store: undefined as never, keyPackages: undefined as never, peerClient: { post: () => Promise.reject(new Error('unused')) } });
  return encodeKeyMaterialRequest(km.buildRequest(requestingUser, targetUser, roomId));
}

/** Puts a pseudonym on a room's participant list at `node` (the hub cannot do that yet). */
function addParticipant(node: PeerNode, roomUri: string, user: string): void {
  node.running.federation.db.prepare('INSERT INTO room_participants (room_uri, user_uri) VALUES (?, ?)').run(roomUri, user);
}

async function roomOf(dev: Dev): Promise<string> {
  const roomUri = newRoomUri(dev.node.domain);
  await dev.client.createRoom({ roomUri });
  return roomUri;
}

const findPseudonym = (list: PseudonymInfo[], userPseudonym: string) => list.find((p) => p.userPseudonym === userPseudonym)!;

describe('pseudonyms', () => {
  // b.example: bob (laptop + phone) owns the pseudonyms claimed across providers; dora is another
  // account; erin has real and pseudonym KeyPackages side by side.
  let bob: Dev;
  let bobPhone: Dev;
  let dora: Dev;
  let erin: Dev;
  // a.example: alice claims as her pseudonym; carl is a real user who claims.
  let alice: Dev;
  let carl: Dev;
  let bobIssued: PseudonymInfo[];
  /** bob's pseudonym with KeyPackages: hex refs by kind. */
  let pB: PseudonymInfo;
  const connectionRefs: string[] = [];
  const otherRefs: string[] = [];
  /** bob's pseudonym with connection-only KeyPackages and nothing else. */
  let pOnlyConn: PseudonymInfo;
  /** Refs of pB's KeyPackages handed out to alice's pseudonym, in order. */
  const claimedByAlice: string[] = [];
  let aliceP: string;
  let aliceRoom: string;
  let carlRoom: string;

  before(async () => {
    engine = await createMlsEngine();
    [A, B] = await Promise.all([PeerNode.prepare('a.example'), PeerNode.prepare('b.example')]);
    await A.start({ peers: [B], trust: [B], pseudonymLimits: A_LIMITS });
    await B.start({ peers: [A], trust: [A] });
    bob = await register(B, handle('bob'));
    bobPhone = await register(B, bob.handle, true);
    dora = await register(B, handle('dora'));
    erin = await register(B, handle('erin'));
    alice = await register(A, handle('alice'));
    carl = await register(A, handle('carl'));
  });

  after(async () => {
    for (const c of clients) c.close();
    await A?.destroy();
    await B?.destroy();
  });

  test('issuance: each entry a user and a client pseudonym of the device, unrelated; listed with state and counts', async () => {
    const r = await api(bob, 'POST', '/v1/pseudonyms', { count: 3 });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const issued = r.json.issued as PseudonymInfo[];
    assert.equal(issued.length, 3);
    const all = issued.flatMap((p) => [p.userPseudonym, p.clientPseudonym]);
    assert.equal(new Set(all).size, 6, 'every pseudonym distinct');
    for (const uri of all) {
      assert.match(uri, /^mimi:\/\/b\.example\/p\/[A-Za-z0-9_-]{22}$/);
      assert.ok(!uri.includes(bob.handle) && !uri.includes(bob.deviceId), 'nothing of the account in it');
    }
    for (const p of issued) {
      assert.deepEqual({ ...p, userPseudonym: '', clientPseudonym: '', issuedAt: 0 }, {
        userPseudonym: '',
        clientPseudonym: '',
        deviceUri: bob.deviceUri,
        state: 'active',
        issuedAt: 0,
        keyPackages: { connectionOnly: 0, other: 0 },
      });
    }
    assert.deepEqual(r.json.quota, { available: 47, burst: 50, perHour: 20, active: 3, maxActive: 500 });

    const phone = await bobPhone.client.issuePseudonyms(1);
    assert.equal(phone.issued[0].deviceUri, bobPhone.deviceUri, 'the client pseudonym is the asking device\'s');
    bobIssued = [...issued, ...phone.issued];

    // Either device lists the account's pseudonyms, oldest first; another account sees none of them.
    const listed = await bob.client.pseudonyms();
    assert.deepEqual(listed.pseudonyms, bobIssued);
    assert.deepEqual((await bobPhone.client.pseudonyms()).pseudonyms, bobIssued);
    assert.equal(listed.quota.available, 46);
    assert.deepEqual(await dora.client.pseudonyms(), { pseudonyms: [], quota: { available: 50, burst: 50, perHour: 20, active: 0, maxActive: 500 } });
    // Stored with the account and device (the provider routes with it), never exposed elsewhere.
    const rows = withDb(B.dbFile, (db) => db.prepare('SELECT user_pseudonym, device_uri FROM pseudonyms ORDER BY rowid').all());
    assert.deepEqual(rows, bobIssued.map((p) => ({ user_pseudonym: p.userPseudonym, device_uri: p.deviceUri })));
  });

  test('KeyPackages: only the owning device uploads them; the listing counts them by kind', async () => {
    pB = bobIssued[0];
    const keys = await engine.newDeviceKeys(pB.clientPseudonym); // the pseudonym's own signature key
    const conn = await keyPackages(pB.clientPseudonym, 3, keys);
    const other = await keyPackages(pB.clientPseudonym, 2, keys);
    for (const kp of conn) connectionRefs.push(await refHex(kp));
    for (const kp of other) otherRefs.push(await refHex(kp));
    assert.deepEqual(
      await bob.client.uploadPseudonymKeyPackages({ clientPseudonym: pB.clientPseudonym, keyPackages: conn.map(toB64), connectionOnly: true }),
      { connectionOnly: 3, other: 0 },
    );
    assert.deepEqual(
      await bob.client.uploadPseudonymKeyPackages({ clientPseudonym: pB.clientPseudonym, keyPackages: other.map(toB64), connectionOnly: false }),
      { connectionOnly: 3, other: 2 },
    );
    // A retried upload stores nothing twice.
    assert.deepEqual(
      await bob.client.uploadPseudonymKeyPackages({ clientPseudonym: pB.clientPseudonym, keyPackages: conn.slice(0, 1).map(toB64), connectionOnly: true }),
      { connectionOnly: 3, other: 2 },
    );
    assert.deepEqual(findPseudonym((await bobPhone.client.pseudonyms()).pseudonyms, pB.userPseudonym).keyPackages, { connectionOnly: 3, other: 2 });
    // Bob's other pseudonyms get connection-only KeyPackages and nothing else (no claim may be
    // served them: below).
    for (const p of bobIssued.slice(1, 3)) {
      assert.deepEqual(
        await bob.client.uploadPseudonymKeyPackages({ clientPseudonym: p.clientPseudonym, keyPackages: (await keyPackages(p.clientPseudonym, 2)).map(toB64), connectionOnly: true }),
        { connectionOnly: 2, other: 0 },
      );
    }
    pOnlyConn = bobIssued[2];
  });

  test('bad input and ownership errors: a clear 400, the same for someone else\'s as for an unknown one, and nothing changes', async () => {
    const [doraP] = (await dora.client.issuePseudonyms(1)).issued;
    // A KeyPackage dora published for her device (its credential names a pseudonym-looking URI).
    const doraDeviceKp = (await keyPackages(newPseudonymUri('b.example'), 1))[0];
    await dora.client.uploadKeyPackages({ keyPackages: [toB64(doraDeviceKp)] });
    const before = snapshot(B);
    const unknown = newPseudonymUri('b.example');
    const expect400 = async (dev: Dev, path: string, body: unknown, message?: RegExp): Promise<string> => {
      const r = await api(dev, 'POST', path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.code, 'badRequest');
      assert.deepEqual(Object.keys(r.json), ['error']);
      if (message) assert.match(r.json.error.message, message);
      return r.json.error.message;
    };

    // Issuance: wrong types, out of range, huge, unknown fields, not an object.
    for (const body of [{ count: '3' }, { count: 2.5 }, { count: 0 }, { count: -1 }, { count: 51 }, { count: 1e12 }, { count: null }, {}, { count: 1, device: 'x' }, [1], 'count=1']) {
      await expect400(bob, '/v1/pseudonyms', body);
    }
    // Retiring: not a pseudonym, another provider's, someone else's (answered like an unknown one).
    for (const userPseudonym of [42, bob.userUri, bob.deviceUri, 'mimi://a.example/p/abc', 'mimi://b.example/p/a/b', '']) {
      await expect400(bob, '/v1/pseudonyms/retire', { userPseudonym }, /pseudonym of this provider|must be a string/);
    }
    const unknownMsg = await expect400(bob, '/v1/pseudonyms/retire', { userPseudonym: unknown });
    const othersMsg = await expect400(bob, '/v1/pseudonyms/retire', { userPseudonym: doraP.userPseudonym });
    assert.equal(othersMsg.replace(doraP.userPseudonym, 'P'), unknownMsg.replace(unknown, 'P'), 'someone else\'s pseudonym looks unknown');
    assert.equal(
      (await expect400(dora, '/v1/pseudonyms/retire', { userPseudonym: pB.userPseudonym })).replace(pB.userPseudonym, 'P'),
      unknownMsg.replace(unknown, 'P'),
    );
    await expect400(bob, '/v1/pseudonyms/retire', { userPseudonym: pB.clientPseudonym }, /client pseudonym; retire its user pseudonym/);

    // KeyPackages: another device's client pseudonym, someone else's, a user pseudonym, bad fields.
    const good = (await keyPackages(pB.clientPseudonym, 1)).map(toB64);
    const upload = (clientPseudonym: string, extra: Record<string, unknown> = {}) => ({ clientPseudonym, keyPackages: good, connectionOnly: true, ...extra });
    await expect400(bobPhone, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym), /issued to another device of this account/);
    const uMsg = await expect400(bob, '/v1/pseudonyms/keyPackages', upload(unknown));
    const oMsg = await expect400(bob, '/v1/pseudonyms/keyPackages', upload(doraP.clientPseudonym));
    assert.equal(oMsg.replace(doraP.clientPseudonym, 'P'), uMsg.replace(unknown, 'P'));
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.userPseudonym), /is a user pseudonym/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(bob.deviceUri), /pseudonym of this provider/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { connectionOnly: 'yes' }), /connectionOnly/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', { clientPseudonym: pB.clientPseudonym, keyPackages: good }, /connectionOnly/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: [] }), /empty/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: ['***'] }), /base64/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: [toB64(randomBytes(40))] }), /MLSMessage/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: Array(101).fill(good[0]) }), /at most 100/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: [good[0], 7] }), /base64url/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { extra: 1 }), /unknown field "extra"/);
    // KeyPackages that would tie the pseudonym to a person: naming a device, or published elsewhere.
    const naming = (await keyPackages(bob.deviceUri, 1)).map(toB64);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: naming }), /must not name a user or device/);
    await expect400(bob, '/v1/pseudonyms/keyPackages', upload(pB.clientPseudonym, { keyPackages: [...good, toB64(doraDeviceKp)] }), /already published for another identity/);
    // Claiming as someone else's, or an unknown, pseudonym.
    const room = await roomOf(dora);
    const asOthers = await expect400(dora, '/v1/keyPackages/claim', { roomUri: room, users: [erin.userUri], asPseudonym: pB.userPseudonym });
    const asUnknown = await expect400(dora, '/v1/keyPackages/claim', { roomUri: room, users: [erin.userUri], asPseudonym: unknown });
    assert.equal(asOthers.replace(pB.userPseudonym, 'P'), asUnknown.replace(unknown, 'P'));
    await expect400(dora, '/v1/keyPackages/claim', { roomUri: room, users: [erin.userUri], asPseudonym: 7 }, /asPseudonym/);

    assert.equal(snapshot(B), before, 'no pseudonym, KeyPackage, claim or quota row changed');
    assert.equal((await bob.client.health()).ok, true);
  });

  test('a device KeyPackage cannot be one published for a pseudonym, and the other way round', async () => {
    const kp = (await keyPackages(bobIssued[1].clientPseudonym, 1))[0];
    await bob.client.uploadPseudonymKeyPackages({ clientPseudonym: bobIssued[1].clientPseudonym, keyPackages: [toB64(kp)], connectionOnly: true });
    const before = snapshot(B);
    await rejects(bob.client.uploadKeyPackages({ keyPackages: [toB64(kp)] }), 400, 'badRequest', /published for a pseudonym/);
    await rejects(
      bob.client.uploadPseudonymKeyPackages({ clientPseudonym: bobIssued[2].clientPseudonym, keyPackages: [toB64(kp)], connectionOnly: true }),
      400,
      'badRequest',
      /already published for another identity/,
    );
    assert.equal(snapshot(B), before);
  });

  test('across providers: a pseudonym claims a pseudonym\'s ordinary KeyPackages without consent, never a connection-only one; a real user gets the unknown user\'s answer', async () => {
    aliceP = (await alice.client.issuePseudonyms(1)).issued[0].userPseudonym;
    aliceRoom = await roomOf(alice);
    addParticipant(A, aliceRoom, aliceP);
    carlRoom = await roomOf(carl);

    // b.example requires consent and bob granted nothing: the pseudonym URI is the capability.
    const got = await alice.client.claim({ roomUri: aliceRoom, users: [pB.userPseudonym], asPseudonym: aliceP });
    assert.equal(got.results.length, 1);
    const [r] = got.results;
    assert.deepEqual({ ...r, clients: r.clients.map((c) => ({ ...c, keyPackage: undefined })) }, {
      userUri: pB.userPseudonym,
      status: 'success',
      clients: [{ deviceUri: pB.clientPseudonym, status: 'success', keyPackage: undefined }],
    });
    const ref = await refHex(r.clients[0].keyPackage!);
    assert.equal(ref, otherRefs[0], 'the oldest ordinary KeyPackage, byte-exact (the connection-only ones are older, and not served)');
    claimedByAlice.push(ref);
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pB.userPseudonym).keyPackages, { connectionOnly: 3, other: 1 });
    // The hub routes the Welcome to b.example by the client pseudonym; b.example to bob's device,
    // through its pseudonyms table: neither claim names the device.
    const claimAt = (node: PeerNode) =>
      withDb(node.dbFile, (db) => db.prepare('SELECT device_uri, claimed_by FROM key_package_claims WHERE ref = ? AND room_uri = ?').get(Buffer.from(ref, 'hex'), aliceRoom));
    assert.deepEqual(claimAt(A), { device_uri: pB.clientPseudonym, claimed_by: aliceP });
    assert.deepEqual(claimAt(B), { device_uri: pB.clientPseudonym, claimed_by: aliceP });

    // A real user asking for the same pseudonym: exactly the unknown user's answer, nothing spent.
    const nobody = mkUserUri('b.example', handle('nobody'));
    const unknownP = newPseudonymUri('b.example');
    const real = await carl.client.claim({ roomUri: carlRoom, users: [pB.userPseudonym, unknownP, nobody] });
    assert.deepEqual(real.results, [unknownUser(pB.userPseudonym), unknownUser(unknownP), unknownUser(nobody)]);
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pB.userPseudonym).keyPackages, { connectionOnly: 3, other: 1 });

    // On the wire: the same HTTP answer, byte for byte but the URI, for each of these.
    const asked = [
      [carl.userUri, pB.userPseudonym, carlRoom],
      [carl.userUri, nobody, carlRoom],
      [aliceP, unknownP, aliceRoom],
      [aliceP, nobody, aliceRoom],
    ] as const;
    for (const [requester, target, room] of asked) {
      const res = await mimiPost(targetOf(B), A.id, 'keyMaterial', target, signedByA(requester, target, room));
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['content-type'], 'application/mimi');
      assert.deepEqual(new Uint8Array(res.body), encodeKeyMaterialResponse({ protocol: 'mls10', userStatus: 'userUnknown', userUri: target, clients: [] }), `${requester} -> ${target}`);
    }

    // With both kinds stored, claims get the ordinary ones until none is left, then nothing: the
    // connection-only ones are never handed out.
    const second = await alice.client.claim({ roomUri: aliceRoom, users: [pB.userPseudonym], asPseudonym: aliceP });
    assert.deepEqual([second.results[0].status, second.results[0].clients.length, second.results[0].clients[0].deviceUri, second.results[0].clients[0].status], ['success', 1, pB.clientPseudonym, 'success']);
    const secondRef = await refHex(second.results[0].clients[0].keyPackage!);
    assert.equal(secondRef, otherRefs[1], 'the next ordinary KeyPackage');
    claimedByAlice.push(secondRef);
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pB.userPseudonym).keyPackages, { connectionOnly: 3, other: 0 });
    const exhausted = (p: PseudonymInfo): ClaimResponse['results'][number] => ({
      userUri: p.userPseudonym,
      status: 'noCompatibleMaterial',
      clients: [{ deviceUri: p.clientPseudonym, status: 'keyMaterialExhausted' }],
    });
    const exhaustedOnWire = (p: PseudonymInfo) =>
      encodeKeyMaterialResponse({ protocol: 'mls10', userStatus: 'noCompatibleMaterial', userUri: p.userPseudonym, clients: [{ clientStatus: 'keyMaterialExhausted', clientUri: p.clientPseudonym }] });
    // Only connection-only ones left (pB), or never anything else (pOnlyConn): no KeyPackage, through
    // the client API and on the wire, and nothing claimed, recorded or counted differently anywhere.
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pOnlyConn.userPseudonym).keyPackages, { connectionOnly: 2, other: 0 });
    const [beforeA, beforeB] = [snapshot(A), snapshot(B)];
    for (const p of [pB, pOnlyConn]) {
      const viaApi = await alice.client.claim({ roomUri: aliceRoom, users: [p.userPseudonym], asPseudonym: aliceP });
      assert.deepEqual(viaApi.results, [exhausted(p)], p.userPseudonym);
      const res = await mimiPost(targetOf(B), A.id, 'keyMaterial', p.userPseudonym, signedByA(aliceP, p.userPseudonym, aliceRoom));
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['content-type'], 'application/mimi');
      assert.deepEqual(new Uint8Array(res.body), exhaustedOnWire(p), p.userPseudonym);
    }
    assert.equal(snapshot(A), beforeA, 'a.example recorded no claim');
    assert.equal(snapshot(B), beforeB, 'b.example claimed and recorded nothing');
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pB.userPseudonym).keyPackages, { connectionOnly: 3, other: 0 });
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pOnlyConn.userPseudonym).keyPackages, { connectionOnly: 2, other: 0 });
  });

  test('real users never get a pseudonym\'s KeyPackages, pseudonyms never its connection-only ones; the local claim path follows the same rules', async () => {
    // erin: one KeyPackage for her device; for her pseudonym two connection-only ones, then (newer)
    // an ordinary one.
    const [erinP] = (await erin.client.issuePseudonyms(1)).issued;
    const deviceKp = (await keyPackages(erin.deviceUri, 1))[0];
    await erin.client.uploadKeyPackages({ keyPackages: [toB64(deviceKp)] });
    const erinKeys = await engine.newDeviceKeys(erinP.clientPseudonym);
    const erinConn = await keyPackages(erinP.clientPseudonym, 2, erinKeys);
    const [erinOther] = await keyPackages(erinP.clientPseudonym, 1, erinKeys);
    await erin.client.uploadPseudonymKeyPackages({ clientPseudonym: erinP.clientPseudonym, keyPackages: erinConn.map(toB64), connectionOnly: true });
    assert.deepEqual(
      await erin.client.uploadPseudonymKeyPackages({ clientPseudonym: erinP.clientPseudonym, keyPackages: [toB64(erinOther)], connectionOnly: false }),
      { connectionOnly: 2, other: 1 },
    );
    const erinConnRefs = await Promise.all(erinConn.map((k) => refHex(k)));
    const erinOtherRef = await refHex(erinOther);
    await erin.client.consentAction('grantConsent', { user: carl.userUri });

    const first = await carl.client.claim({ roomUri: carlRoom, users: [erin.userUri] });
    assert.equal(first.results[0].status, 'success');
    assert.equal(await refHex(first.results[0].clients[0].keyPackage!), await refHex(deviceKp));
    // Her device's KeyPackages are gone: exhausted, and still none of the pseudonym's.
    assert.deepEqual((await carl.client.claim({ roomUri: carlRoom, users: [erin.userUri] })).results, [
      { userUri: erin.userUri, status: 'noCompatibleMaterial', clients: [{ deviceUri: erin.deviceUri, status: 'keyMaterialExhausted' }] },
    ]);
    // The local path at b.example: a real user of the same provider, no consent needed, same outcome.
    const doraRoom = await roomOf(dora);
    const local = await dora.client.claim({ roomUri: doraRoom, users: [erin.userUri, pB.userPseudonym, erinP.userPseudonym] });
    assert.deepEqual(local.results, [
      { userUri: erin.userUri, status: 'noCompatibleMaterial', clients: [{ deviceUri: erin.deviceUri, status: 'keyMaterialExhausted' }] },
      unknownUser(pB.userPseudonym),
      unknownUser(erinP.userPseudonym),
    ]);
    assert.deepEqual(findPseudonym((await erin.client.pseudonyms()).pseudonyms, erinP.userPseudonym).keyPackages, { connectionOnly: 2, other: 1 });

    // Dora as her pseudonym, locally: erin's pseudonym is served, by its client pseudonym, its
    // ordinary KeyPackage (the connection-only ones are older, and not served).
    const [doraP] = (await dora.client.pseudonyms()).pseudonyms;
    const asPseudonym = await dora.client.claim({ roomUri: doraRoom, users: [erinP.userPseudonym], asPseudonym: doraP.userPseudonym });
    const [c] = asPseudonym.results[0].clients;
    assert.deepEqual([asPseudonym.results[0].status, asPseudonym.results[0].clients.length, c.deviceUri, c.status], ['success', 1, erinP.clientPseudonym, 'success']);
    assert.equal(await refHex(c.keyPackage!), erinOtherRef);
    assert.deepEqual(findPseudonym((await erin.client.pseudonyms()).pseudonyms, erinP.userPseudonym).keyPackages, { connectionOnly: 2, other: 0 });
    // Only connection-only ones left (erin's), or never anything else (bob's pOnlyConn): no
    // KeyPackage for a pseudonym either, and nothing claimed or recorded.
    const beforeB = snapshot(B);
    const again = await dora.client.claim({ roomUri: doraRoom, users: [erinP.userPseudonym, pOnlyConn.userPseudonym], asPseudonym: doraP.userPseudonym });
    assert.deepEqual(again.results, [
      { userUri: erinP.userPseudonym, status: 'noCompatibleMaterial', clients: [{ deviceUri: erinP.clientPseudonym, status: 'keyMaterialExhausted' }] },
      { userUri: pOnlyConn.userPseudonym, status: 'noCompatibleMaterial', clients: [{ deviceUri: pOnlyConn.clientPseudonym, status: 'keyMaterialExhausted' }] },
    ]);
    assert.equal(snapshot(B), beforeB, 'nothing claimed, nothing recorded');
    assert.deepEqual(findPseudonym((await erin.client.pseudonyms()).pseudonyms, erinP.userPseudonym).keyPackages, { connectionOnly: 2, other: 0 });
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pOnlyConn.userPseudonym).keyPackages, { connectionOnly: 2, other: 0 });

    // What was ever handed out of the pseudonyms' KeyPackages: the ordinary ones, each to a
    // pseudonym's claim (never to a real user); no connection-only one.
    type Stored = { claimed: number; connection_only: number; ref: Buffer };
    const stored = (clientPseudonym: string) =>
      withDb(B.dbFile, (db) => db.prepare('SELECT claimed, connection_only, ref FROM pseudonym_key_packages WHERE client_pseudonym = ? ORDER BY id').all(clientPseudonym)) as Stored[];
    const claimedRefs = (rows: Stored[]) => rows.filter((k) => k.claimed).map((k) => k.ref.toString('hex'));
    const bobs = stored(pB.clientPseudonym);
    assert.deepEqual(claimedRefs(bobs), claimedByAlice, "only the ordinary KeyPackages claimed by alice's pseudonym were ever handed out");
    assert.deepEqual(claimedByAlice, otherRefs);
    assert.ok(bobs.filter((k) => k.claimed).every((k) => k.connection_only === 0));
    assert.ok(connectionRefs.every((ref) => bobs.some((k) => k.ref.toString('hex') === ref && k.connection_only === 1 && !k.claimed)), 'every connection-only one unclaimed');
    const erins = stored(erinP.clientPseudonym);
    assert.deepEqual(claimedRefs(erins), [erinOtherRef]);
    assert.ok(erinConnRefs.every((ref) => erins.some((k) => k.ref.toString('hex') === ref && k.connection_only === 1 && !k.claimed)));
    assert.ok(stored(pOnlyConn.clientPseudonym).every((k) => k.connection_only === 1 && !k.claimed));
    // The claims recorded at b.example for the pseudonyms' clients: each by a pseudonym.
    // Compared as sets of rows: key_package_claims has no insertion order on PostgreSQL.
    const bySerialized = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();
    const claimsAtB = withDb(B.dbFile, (db) =>
      db.prepare('SELECT device_uri, claimed_by FROM key_package_claims WHERE device_uri IN (?, ?, ?)').all(pB.clientPseudonym, erinP.clientPseudonym, pOnlyConn.clientPseudonym),
    );
    assert.deepEqual(bySerialized(claimsAtB), bySerialized([
      { device_uri: pB.clientPseudonym, claimed_by: aliceP },
      { device_uri: pB.clientPseudonym, claimed_by: aliceP },
      { device_uri: erinP.clientPseudonym, claimed_by: doraP.userPseudonym },
    ]));
  });

  test('retiring withdraws the KeyPackages; the pseudonym then answers like an unknown user everywhere', async () => {
    // One more ordinary KeyPackage, so that both kinds are unclaimed when it retires.
    assert.deepEqual(
      await bob.client.uploadPseudonymKeyPackages({ clientPseudonym: pB.clientPseudonym, keyPackages: (await keyPackages(pB.clientPseudonym, 1)).map(toB64), connectionOnly: false }),
      { connectionOnly: 3, other: 1 },
    );
    const before = findPseudonym((await bob.client.pseudonyms()).pseudonyms, pB.userPseudonym);
    assert.deepEqual(before.keyPackages, { connectionOnly: 3, other: 1 });
    const retired = await bobPhone.client.retirePseudonym(pB.userPseudonym); // any device of the account
    assert.equal(retired.withdrawnKeyPackages, 4);
    assert.equal(retired.pseudonym.state, 'retired');
    assert.ok(typeof retired.pseudonym.retiredAt === 'number' && retired.pseudonym.retiredAt >= before.issuedAt);
    assert.deepEqual(findPseudonym((await bob.client.pseudonyms()).pseudonyms, pB.userPseudonym), retired.pseudonym);
    assert.equal(
      withDb(B.dbFile, (db) => (db.prepare('SELECT count(*) AS n FROM pseudonym_key_packages WHERE client_pseudonym = ?').get(pB.clientPseudonym) as { n: number }).n),
      0,
      'withdrawn (deleted), claimed ones too',
    );
    // Again: nothing more to do, same state.
    assert.deepEqual(await bob.client.retirePseudonym(pB.userPseudonym), { pseudonym: retired.pseudonym, withdrawnKeyPackages: 0 });
    await rejects(
      bob.client.uploadPseudonymKeyPackages({ clientPseudonym: pB.clientPseudonym, keyPackages: (await keyPackages(pB.clientPseudonym, 1)).map(toB64), connectionOnly: true }),
      400,
      'badRequest',
      /retired/,
    );

    // From a pseudonym at a.example, over MIMI and through the client API: the unknown user's answer.
    assert.deepEqual((await alice.client.claim({ roomUri: aliceRoom, users: [pB.userPseudonym], asPseudonym: aliceP })).results, [unknownUser(pB.userPseudonym)]);
    const res = await mimiPost(targetOf(B), A.id, 'keyMaterial', pB.userPseudonym, signedByA(aliceP, pB.userPseudonym, aliceRoom));
    assert.equal(res.status, 200);
    assert.deepEqual(decodeKeyMaterialResponse(new Uint8Array(res.body)), decodeKeyMaterialResponse(encodeKeyMaterialResponse({ protocol: 'mls10', userStatus: 'userUnknown', userUri: pB.userPseudonym, clients: [] })));
    // Locally too.
    const [doraP] = (await dora.client.pseudonyms()).pseudonyms;
    const doraRoom = await roomOf(dora);
    assert.deepEqual((await dora.client.claim({ roomUri: doraRoom, users: [pB.userPseudonym], asPseudonym: doraP.userPseudonym })).results, [unknownUser(pB.userPseudonym)]);
    // bob cannot claim as it either.
    await rejects(bob.client.claim({ roomUri: await roomOf(bob), users: [erin.userUri], asPseudonym: pB.userPseudonym }), 400, 'badRequest', /retired/);
  });

  test('consent and discovery know no pseudonyms: the same answers for an active, a retired and an unknown one', async () => {
    const active = bobIssued[1].userPseudonym;
    const answers: string[] = [];
    for (const target of [active, pB.userPseudonym, newPseudonymUri('b.example')]) {
      const entry = encodeConsentEntry({ consentOperation: 'request', requesterUri: carl.userUri, targetUri: target, consentExtensions: [] });
      const res = await mimiPost(targetOf(B), A.id, 'requestConsent', 'b.example', entry);
      answers.push(`${res.status} ${res.body.toString('utf8').replace(target, 'P')}`);
      for (const field of ['handle', 'nick', 'name'] as const) {
        // From a.example (identifierQuery at b.example) and at b.example itself.
        const query = { [field]: target } as FindRequest;
        const remote = await carl.client.find({ ...query, domain: 'b.example' });
        const local = await dora.client.find(query);
        assert.deepEqual([remote.status, remote.results, local.status, local.results], ['notFound', [], 'notFound', []], `${field} = ${target}`);
      }
    }
    assert.equal(new Set(answers).size, 1, answers.join('\n'));
    assert.match(answers[0], /^400 /);
    // Nobody can make a pseudonym findable through their profile either.
    await rejects(bob.client.setMyProfile({ nick: active }), 400, 'badRequest', /pseudonym/);
    await rejects(bob.client.setMyProfile({ displayName: `Bob (${active.toUpperCase()})` }), 400, 'badRequest', /pseudonym/);
    // A pseudonym is no consent party at its own provider either.
    await rejects(dora.client.consentAction('requestConsent', { user: active }), 400, 'badRequest');
  });

  test('rate limit: 429 with Retry-After over the bucket, kept across a restart; the account\'s messages and other accounts unaffected', async () => {
    const rita = await register(A, handle('rita'));
    const r1 = await rita.client.issuePseudonyms(4);
    assert.equal(r1.issued.length, 4);
    assert.equal(r1.quota.available, 0);
    const over = await api(rita, 'POST', '/v1/pseudonyms', { count: 3 });
    assert.equal(over.status, 429, JSON.stringify(over.json));
    assert.equal(over.json.error.code, 'rateLimited');
    const retryAfter = Number(over.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 6, `Retry-After ${over.headers['retry-after']}`);
    assert.match(over.json.error.message, /try again in \d+ s/);
    await rejects(rita.client.issuePseudonyms(3), 429, 'rateLimited');
    await rejects(rita.client.issuePseudonyms(5), 400, 'badRequest', /1-4/);
    assert.equal((await rita.client.pseudonyms()).pseudonyms.length, 4, 'a refusal issues nothing');

    // Meanwhile the same account creates a room and sends a message, and carl gets his pseudonym.
    const keys = await engine.newDeviceKeys(rita.deviceUri);
    const room = await roomOf(rita);
    const out = await (await engine.createGroup(keys, room)).update();
    await rita.client.commit(room, { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: `c-${room}` });
    const msg = await out.pending.encrypt(utf8('still here'));
    const sent = await rita.client.sendMessage(room, { message: toB64(msg.message), requestId: `m-${room}` });
    assert.equal(sent.duplicate, false);
    assert.equal((await carl.client.issuePseudonyms(1)).issued.length, 1, 'another account has its own bucket');

    // The bucket is in the database: a restart does not refill it (4 take 8 s to come back).
    const before = snapshot(A);
    await A.running.close();
    await A.start({ peers: [B], trust: [B], pseudonymLimits: A_LIMITS });
    assert.equal(snapshot(A), before);
    rita.client = client(A, rita.token); // the old one's pooled connections died with the old server
    await rejects(rita.client.issuePseudonyms(4), 429, 'rateLimited');

    // One comes back every 2 s.
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await rita.client.issuePseudonyms(1)).issued.length, 1);
    // The cap on active ones comes first: 5 held, 8 at most. Retiring one makes room (then it is
    // the bucket again that refuses).
    await rejects(rita.client.issuePseudonyms(4), 403, 'notAllowed', /holds 5 active pseudonyms and may hold 8; retire some/);
    await rita.client.retirePseudonym(r1.issued[0].userPseudonym);
    assert.equal((await rita.client.pseudonyms()).quota.active, 4);
    await rejects(rita.client.issuePseudonyms(4), 429, 'rateLimited');
  });

  test('the other provider keeps nothing of the pseudonym\'s account, and no log pairs a pseudonym with an account', async () => {
    const scan = (node: PeerNode, needles: string[]) => {
      const bytes = providerStorageBytes(node.id.dataDir);
      assert.ok(bytes.length > 0);
      for (const n of needles) assert.equal(bytes.indexOf(Buffer.from(n, 'utf8')), -1, `${n} found in ${node.domain}'s storage`);
      for (const line of node.logs) for (const n of needles) assert.ok(!line.includes(n), `${node.domain} logged ${n}: ${line}`);
    };
    // a.example claimed bob's pseudonym's KeyPackage and recorded where its Welcome goes.
    assert.ok(withDb(A.dbFile, (db) => db.prepare('SELECT 1 FROM key_package_claims WHERE device_uri = ?').get(pB.clientPseudonym)));
    scan(A, [bob.handle, bob.userUri, bob.deviceUri, bobPhone.deviceUri, bob.deviceId, bobPhone.deviceId]);
    // b.example served alice's pseudonym and never learned who she is.
    assert.ok(withDb(B.dbFile, (db) => db.prepare('SELECT 1 FROM key_package_claims WHERE claimed_by = ?').get(aliceP)));
    scan(B, [alice.handle, alice.userUri, alice.deviceUri, alice.deviceId]);
    // No log line of either provider names a pseudonym at all.
    const pseudonymRe = /mimi:\/\/[a-z.]+\/p\//;
    for (const node of [A, B]) assert.deepEqual(node.logs.filter((l) => pseudonymRe.test(l)), []);
  });
});
