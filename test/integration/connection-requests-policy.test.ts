// Who may send a user connection requests, at the user's provider, between two real in-process
// providers on loopback (a.example and b.example, trusting each other, consent REQUIRED):
//
// - A claim of bob@b's KeyPackages by a pseudonym is a connection request. By default anyone may
//   send one: a pseudonym of a.example (over /keyMaterial) and one of b.example (the local claim
//   path) both get bob's KeyPackages although bob granted no consent; bob's blocks of real users
//   do not reach a pseudonym.
// - 'nobody' refuses both with exactly the answer of an ordinary add without consent (client API
//   and on the wire, byte for byte), and spends nothing; 'domains' lets through pseudonyms of the
//   listed domains only.
// - Real users are decided by consent as before, whatever the setting; users of b.example need none.
// - GET/PUT /v1/connection-requests: defaults, strict validation (400 and nothing changes), per
//   account, gone with the account; kept across a restart, and applied in consent mode 'open' too.
// - `mimi connection-requests` across two provider processes: show and set it; `mimi connect` to
//   someone who takes requests from nobody fails naming their setting, and works once they list
//   the asker's provider.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fromB64, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { newRoomUri } from '../../src-shared/identifiers.js';
import { encodeKeyMaterialRequest, encodeKeyMaterialResponse } from '../../src-shared/mimi-protocol.js';
import type { ApiError, ClaimResponse } from '../../src-shared/provider-api.js';
import type { ConnectionRequestPolicy } from '../../src-shared/connection-request-policy.js';
import { initialRoomState } from '../../src-shared/room-state.js';
import type { DeviceKeys, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { KeyMaterialService } from '../../src-provider/federation/key-material.js';
import { ensureProviderIdentity } from '../../src-provider/federation/provider-identity.js';
import { mimiPost, PeerNode, rawRequest, targetOf, withDb, type RawResponse } from '../helpers/mimi-peer.js';
import { roomExtensions } from '../helpers/room-state-fixture.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { mimi, register as registerCli, type Run } from '../helpers/mimi-cli.js';
import { tempDir } from '../helpers/provider-process.js';

const PASSWORD = 'correct horse battery staple';

let engine: MlsEngine;
let A: PeerNode;
let B: PeerNode;
const clients: ProviderClient[] = [];

interface Dev {
  userUri: string;
  deviceUri: string;
  token: string;
  client: ProviderClient;
  node: PeerNode;
  keys: DeviceKeys;
}

const handle = (base: string) => `${base}-${toHex(randomBytes(4))}`;

function clientOf(node: PeerNode, token?: string): ProviderClient {
  const c = new ProviderClient({ baseUrl: node.url, caPem: node.id.ca.caPem, token });
  clients.push(c);
  return c;
}

async function register(node: PeerNode, base: string): Promise<Dev> {
  const c = clientOf(node);
  const s = await c.register({ handle: handle(base), password: PASSWORD, deviceName: 'laptop' });
  return { userUri: s.userUri, deviceUri: s.deviceUri, token: s.token, client: c, node, keys: await engine.newDeviceKeys(s.deviceUri) };
}

/** A request to the client API as is: status and JSON body. */
async function api(dev: Dev, method: string, path: string, body?: unknown): Promise<RawResponse & { json: ApiError & Record<string, unknown> }> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? utf8(body) : utf8(JSON.stringify(body));
  const r = await rawRequest(targetOf(dev.node), { method, path, headers: { authorization: `Bearer ${dev.token}`, 'content-type': 'application/json' }, body: payload });
  return { ...r, json: JSON.parse(r.body.toString('utf8')) };
}

/** A room at the dev's provider created by one of its pseudonyms (as the connection flow's bootstrap room is). */
async function roomAsPseudonym(dev: Dev): Promise<{ roomUri: string; pseudonym: string }> {
  const [issued] = (await dev.client.issuePseudonyms(1)).issued;
  const keys = await engine.newPseudonymousKeys(dev.keys, { client: issued.clientPseudonym, user: issued.userPseudonym });
  const roomUri = newRoomUri(dev.node.domain);
  const hubSender = fromB64((await dev.client.hubSender()).externalSender);
  const session = await engine.createGroup(keys, roomUri, roomExtensions(hubSender, initialRoomState({ roomUri, creator: issued.userPseudonym, roomName: 'bootstrap' })));
  const gi = await session.groupInfo();
  const info = await dev.client.createRoom({ roomUri, groupInfo: toB64(gi.groupInfo), ratchetTree: toB64(gi.ratchetTree) });
  assert.deepEqual(info.participants, [issued.userPseudonym]);
  return { roomUri, pseudonym: issued.userPseudonym };
}

/** A KeyMaterialRequest signed the way a.example signs them. */
function signedByA(requestingUser: string, targetUser: string, roomId: string): Uint8Array {
  const identity = ensureProviderIdentity(A.id.dataDir, 'a.example');
  const km = new KeyMaterialService({ domain: 'a.example', identity, store: undefined as never, keyPackages: undefined as never, peerClient: { post: () => Promise.reject(new Error('unused')) } });
  return encodeKeyMaterialRequest(km.buildRequest(requestingUser, targetUser, roomId));
}

const noConsent = (userUri: string): ClaimResponse['results'][number] => ({ userUri, status: 'noConsent', clients: [] });

/** Every row that says what b.example's users decided or what was handed out. */
const decisions = (node: PeerNode): string =>
  withDb(node.dbFile, (db) =>
    JSON.stringify(['connection_request_policies', 'consent_decisions', 'key_packages', 'key_package_claims'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all())),
  );

before(async () => {
  engine = await createMlsEngine();
  [A, B] = await Promise.all([PeerNode.prepare('a.example'), PeerNode.prepare('b.example')]);
  await A.start({ peers: [B], trust: [B] });
  await B.start({ peers: [A], trust: [A] });
});

after(async () => {
  for (const c of clients) c.close();
  const errors: unknown[] = [];
  for (const n of [A, B]) await n?.destroy().catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

describe('connection request setting', () => {
  let bob: Dev; // b.example: the one asked
  let dora: Dev; // b.example: asks as a pseudonym of bob's own provider, and as herself
  let alice: Dev; // a.example: asks as a pseudonym
  let carl: Dev; // a.example: a real user, decided by consent
  let aliceRoom: { roomUri: string; pseudonym: string };
  let doraRoom: { roomUri: string; pseudonym: string };
  let carlRoom: string;
  let doraOwnRoom: string;

  const asAlice = () => alice.client.claim({ roomUri: aliceRoom.roomUri, users: [bob.userUri], asPseudonym: aliceRoom.pseudonym });
  const asDora = () => dora.client.claim({ roomUri: doraRoom.roomUri, users: [bob.userUri], asPseudonym: doraRoom.pseudonym });
  const asCarl = () => carl.client.claim({ roomUri: carlRoom, users: [bob.userUri] });
  const asDoraHerself = () => dora.client.claim({ roomUri: doraOwnRoom, users: [bob.userUri] });
  const served = async (claim: Promise<ClaimResponse>, what: string) => {
    const [r] = (await claim).results;
    assert.deepEqual([r.userUri, r.status, r.clients.map((c) => [c.deviceUri, c.status])], [bob.userUri, 'success', [[bob.deviceUri, 'success']]], what);
  };
  const refused = async (claim: Promise<ClaimResponse>, what: string) => assert.deepEqual((await claim).results, [noConsent(bob.userUri)], what);
  const setBob = async (policy: ConnectionRequestPolicy) => assert.deepEqual(await bob.client.setConnectionRequestPolicy(policy), policy);
  const available = async () => (await bob.client.keyPackageCount()).available;

  before(async () => {
    [bob, dora, alice, carl] = await Promise.all([register(B, 'bob'), register(B, 'dora'), register(A, 'alice'), register(A, 'carl')]);
    const kps = await engine.generateKeyPackages(bob.keys, 30);
    await bob.client.uploadKeyPackages({ keyPackages: kps.map((k) => toB64(k.publicMessage)) });
    [aliceRoom, doraRoom] = await Promise.all([roomAsPseudonym(alice), roomAsPseudonym(dora)]);
    carlRoom = newRoomUri('a.example');
    await carl.client.createRoom({ roomUri: carlRoom });
    doraOwnRoom = newRoomUri('b.example');
    await dora.client.createRoom({ roomUri: doraOwnRoom });
  });

  test('by default anyone may send a request: pseudonyms of either provider get KeyPackages without consent; a block of the real user does not reach them', async () => {
    assert.deepEqual(await bob.client.connectionRequestPolicy(), { mode: 'anyone', domains: [] });
    await served(asAlice(), 'a pseudonym of a.example, over /keyMaterial');
    await served(asDora(), 'a pseudonym of b.example, through the local claim path');
    // carl is a real user: consent is required and bob gave none.
    await refused(asCarl(), 'a real user of a.example without consent');
    // bob blocks alice's real account; her pseudonym names no one, so nothing ties the two.
    await bob.client.consentAction('blockUser', { user: alice.userUri });
    await served(asAlice(), 'the block names the real user only');
    assert.equal(withDb(B.dbFile, (db) => db.prepare('SELECT count(*) FROM connection_request_policies').pluck().get()), 0, 'the default is no row');
  });

  test("'nobody' refuses every pseudonym with the ordinary noConsent answer, in the client API and byte for byte on the wire, and spends nothing", async () => {
    await setBob({ mode: 'nobody', domains: [] });
    assert.deepEqual(await bob.client.connectionRequestPolicy(), { mode: 'nobody', domains: [] });
    const before = await available();
    const [fromAlice, fromDora, fromCarl] = [await asAlice(), await asDora(), await asCarl()];
    assert.deepEqual(fromAlice, fromCarl, 'the same answer as a real user without consent gets');
    assert.deepEqual(fromDora, fromCarl, 'locally too');
    assert.deepEqual(fromCarl.results, [noConsent(bob.userUri)]);
    assert.equal(await available(), before, 'no KeyPackage of bob was spent');

    // On the wire, as a.example asks b.example: status, type and body the same as for carl.
    const wire = async (requester: string, room: string) => {
      const res = await mimiPost(targetOf(B), A.id, 'keyMaterial', bob.userUri, signedByA(requester, bob.userUri, room));
      return { status: res.status, type: res.headers['content-type'], body: toHex(res.body) };
    };
    const ordinary = await wire(carl.userUri, carlRoom);
    assert.deepEqual(ordinary, { status: 200, type: 'application/mimi', body: toHex(encodeKeyMaterialResponse({ protocol: 'mls10', userStatus: 'noConsent', userUri: bob.userUri, clients: [] })) });
    assert.deepEqual(await wire(aliceRoom.pseudonym, aliceRoom.roomUri), ordinary);
    assert.equal(await available(), before);

    // Real users stay decided by consent alone: a grant lets carl add bob; dora needs none.
    await bob.client.consentAction('grantConsent', { user: carl.userUri });
    await served(asCarl(), 'a real user with consent, whatever the setting');
    await served(asDoraHerself(), 'a real user of b.example needs no consent');
    await refused(asAlice(), 'the grant is carl\'s, not a pseudonym\'s');
  });

  test("'domains' lets through pseudonyms of the listed providers only, b.example's own included only when listed", async () => {
    await setBob({ mode: 'domains', domains: ['a.example'] });
    await served(asAlice(), 'a.example is listed');
    await refused(asDora(), 'b.example is not');
    await setBob({ mode: 'domains', domains: ['c.example', 'b.example'] });
    await refused(asAlice(), 'a.example is no longer listed');
    await served(asDora(), 'b.example is listed now');
    // anyone keeps the list (the app offers it again), and uses none of it.
    await setBob({ mode: 'anyone', domains: ['c.example', 'b.example'] });
    await served(asAlice(), 'anyone again');
    await served(asDora(), 'anyone again, locally');
  });

  test('PUT refuses anything but { mode, domains } with valid lowercase domains (400, nothing changed); GET and PUT are per account', async () => {
    const stored = await bob.client.connectionRequestPolicy();
    const rows = decisions(B);
    const many = Array.from({ length: 101 }, (_, i) => `p${i}.example`);
    const bad: [unknown, RegExp][] = [
      [{}, /mode must be one of anyone, domains, nobody/],
      [{ mode: 'anyone' }, /domains must be an array/],
      [{ mode: 'everyone', domains: [] }, /mode must be one of/],
      [{ mode: 'Anyone', domains: [] }, /mode must be one of/],
      [{ mode: 'domains', domains: [] }, /at least one domain/],
      [{ mode: 'domains', domains: 'a.example' }, /domains must be an array/],
      [{ mode: 'domains', domains: ['A.example'] }, /"A\.example" is not a lowercase domain/],
      [{ mode: 'domains', domains: ['a.example:8443'] }, /not a lowercase domain/],
      [{ mode: 'domains', domains: ['mimi://a.example'] }, /not a lowercase domain/],
      [{ mode: 'domains', domains: ['127.0.0.1'] }, /not a lowercase domain/],
      [{ mode: 'domains', domains: [null] }, /not a lowercase domain/],
      [{ mode: 'domains', domains: ['a.example', 'a.example'] }, /a\.example is listed twice/],
      [{ mode: 'domains', domains: many }, /at most 100 providers/],
      [{ mode: 'nobody', domains: [], note: 'hi' }, /unknown field "note"/],
      [[], /JSON object/],
      ['{"mode": "nobody", "domains": [', /not valid JSON/],
    ];
    for (const [body, message] of bad) {
      const r = await api(bob, 'PUT', '/v1/connection-requests', body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(r.json.error.code, 'badRequest');
      assert.match(r.json.error.message, message);
    }
    assert.equal((await api({ ...bob, token: 'nope' }, 'GET', '/v1/connection-requests')).status, 401);
    assert.equal((await api(bob, 'POST', '/v1/connection-requests', { mode: 'nobody', domains: [] })).status, 405);
    assert.deepEqual(await bob.client.connectionRequestPolicy(), stored, 'the setting is as it was');
    assert.equal(decisions(B), rows, 'no row changed');

    // Exactly 100 is fine; each account has its own setting.
    const hundred = many.slice(0, 100);
    const put = await api(dora, 'PUT', '/v1/connection-requests', { mode: 'domains', domains: hundred });
    assert.deepEqual([put.status, put.json], [200, { mode: 'domains', domains: hundred }]);
    assert.deepEqual(await dora.client.connectionRequestPolicy(), { mode: 'domains', domains: hundred });
    assert.deepEqual(await bob.client.connectionRequestPolicy(), stored);
    assert.deepEqual(await alice.client.connectionRequestPolicy(), { mode: 'anyone', domains: [] });
  });

  test('the setting goes with the account', async () => {
    const erin = await register(B, 'erin');
    await erin.client.setConnectionRequestPolicy({ mode: 'nobody', domains: ['a.example'] });
    const rowsOf = () => withDb(B.dbFile, (db) => db.prepare('SELECT mode, domains FROM connection_request_policies WHERE user_uri = ?').all(erin.userUri));
    assert.deepEqual(rowsOf(), [{ mode: 'nobody', domains: '["a.example"]' }]);
    await erin.client.deleteAccount();
    assert.deepEqual(rowsOf(), []);
  });

  test("kept across a restart, and applied when b.example runs with consent 'open' too", async () => {
    await setBob({ mode: 'nobody', domains: ['c.example', 'b.example'] });
    await B.running.close();
    B.p = undefined;
    await B.start({ peers: [A], trust: [A], consent: 'open' });
    // The old clients' kept-alive connections went with the old server.
    for (const dev of [bob, dora]) {
      dev.client.close();
      dev.client = clientOf(B, dev.token);
    }
    assert.deepEqual(await bob.client.connectionRequestPolicy(), { mode: 'nobody', domains: ['c.example', 'b.example'] });
    await refused(asAlice(), 'nobody, in open mode');
    await refused(asDora(), 'nobody, in open mode, locally');
    // Open mode drops consent for real users, as before: bob's block of alice does not count either.
    const asAliceHerself = async () => {
      const room = newRoomUri('a.example');
      await alice.client.createRoom({ roomUri: room });
      return alice.client.claim({ roomUri: room, users: [bob.userUri] });
    };
    await served(asAliceHerself(), 'a real user in open mode');
    await setBob({ mode: 'domains', domains: ['a.example'] });
    await served(asAlice(), 'a listed domain, in open mode');
    await refused(asDora(), 'an unlisted one, in open mode');
  });
});

describe('connection requests are rate-limited per account', () => {
  test('an account starts at most 10 at once (429 with Retry-After); its other claims and the other accounts are not held up', async () => {
    const eve = await register(A, 'eve');
    const other = await register(A, 'otto');
    const eveRoom = await roomAsPseudonym(eve);
    const otherRoom = await roomAsPseudonym(other);
    // Unknown users of b.example: each claim still starts a connection request (no probing for free).
    const target = (i: number) => `mimi://b.example/u/nobody-${i}-${toHex(randomBytes(3))}`;
    for (let i = 0; i < 10; i++) {
      const r = await eve.client.claim({ roomUri: eveRoom.roomUri, users: [target(i)], asPseudonym: eveRoom.pseudonym });
      assert.equal(r.results[0].status, 'userUnknown');
    }
    const over = await api(eve, 'POST', '/v1/keyPackages/claim', { roomUri: eveRoom.roomUri, users: [target(10)], asPseudonym: eveRoom.pseudonym });
    assert.equal(over.status, 429, over.body.toString());
    assert.equal(over.json.error.code, 'rateLimited');
    assert.match(over.json.error.message, /connection requests/);
    assert.ok(Number(over.headers['retry-after']) >= 1, 'Retry-After says when');
    // Not a connection request: eve claiming as herself, and another account's requests, go through.
    const own = newRoomUri('a.example');
    await eve.client.createRoom({ roomUri: own });
    assert.equal((await eve.client.claim({ roomUri: own, users: [target(11)] })).results[0].status, 'userUnknown');
    assert.equal((await other.client.claim({ roomUri: otherRoom.roomUri, users: [target(12)], asPseudonym: otherRoom.pseudonym })).results[0].status, 'userUnknown');
  });
});

describe('mimi connection-requests', () => {
  const stops: (FederatedProvider | Link)[] = [];
  const alice = path.join(tempDir('crp-alice'), 'p');
  const bob = path.join(tempDir('crp-bob'), 'p');
  // The bootstrap room of a request goes soon after its outcome (the app's default is minutes).
  const run = (profile: string, ...args: string[]) => mimi(['--profile', profile, ...args], { MIMI_BOOTSTRAP_DESTROY_DELAY_MS: '500-1000' });
  const ok = (r: Run, what: string): unknown => {
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
    stops.push(f['a.example'], f['b.example'], f.links['a.example'], f.links['b.example']);
    for (const [dir, p, h] of [[alice, f['a.example'], 'alice'], [bob, f['b.example'], 'bob']] as const) {
      const r = await registerCli(dir, p, h);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    for (const s of stops) await ('stop' in s ? s.stop() : s.close()).catch(() => undefined);
  });

  test('shows and sets the setting; a refused connect names it; a listed provider gets through', async () => {
    assert.deepEqual(ok(await run(bob, 'connection-requests'), 'show'), { mode: 'anyone', domains: [] });
    assert.deepEqual(ok(await run(bob, 'connection-requests', 'nobody'), 'nobody'), { mode: 'nobody', domains: [] });

    const refused = await run(alice, 'connect', 'bob@b.example');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bob@b\.example does not take connection requests from you \(their setting at b\.example\)/);

    // Typed any way, listed once; anyone and nobody keep the list.
    assert.deepEqual(ok(await run(bob, 'connection-requests', 'from', 'B.example,', 'a.example', 'b.example'), 'from'), { mode: 'domains', domains: ['b.example', 'a.example'] });
    assert.deepEqual(ok(await run(bob, 'connection-requests', 'nobody'), 'nobody again'), { mode: 'nobody', domains: ['b.example', 'a.example'] });
    assert.deepEqual(ok(await run(bob, 'connection-requests', 'from', 'a.example'), 'from a.example'), { mode: 'domains', domains: ['a.example'] });

    for (const args of [['from'], ['sometimes'], ['anyone', 'a.example']]) {
      const r = await run(bob, 'connection-requests', ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /connection-requests/);
    }
    const bad = await run(bob, 'connection-requests', 'from', 'not_a_domain');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"not_a_domain" is not a lowercase domain/);
    assert.deepEqual(ok(await run(bob, 'connection-requests'), 'unchanged'), { mode: 'domains', domains: ['a.example'] });

    const asked = await run(alice, 'connect', 'bob@b.example');
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stdout.trim(), /^mimi:\/\/a\.example\/r\//);
  });
});
