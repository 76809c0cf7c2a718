// Fetch Key Material and Claim group key information between real in-process providers
// (a.example, b.example, c.example: own data dirs, dev CAs and ports on 127.0.0.1, trusting each
// other through federation.trustPem), with real KeyPackages, rooms and commits from the app's MLS
// engine. Each provider's s2s handler routes 'keyMaterial' to KeyMaterialService.serve and
// 'groupInfo' to GroupInfoService.serve and records every call, so tests can count requests.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytesEqual, fromB64, fromUtf8, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { deviceUri as mkDeviceUri, userUri as mkUserUri } from '../../src-shared/identifiers.js';
import { generateHpkeKeyPair, signWithLabel } from '../../src-shared/mls-crypto.js';
import { basicCredential } from '../../src-shared/mls-structs.js';
import {
  decodeGroupInfoResponse,
  decodeKeyMaterialResponse,
  encodeBulkKeyMaterialRequest,
  encodeGroupInfoRequest,
  encodeKeyMaterialRequest,
  groupInfoRequestTbs,
  keyMaterialRequestTbs,
  type KeyMaterialRequest,
} from '../../src-shared/mimi-protocol.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { ensureDevCa, type DevCaFiles } from '../../src-provider/dev-ca.js';
import { ApiFailure } from '../../src-provider/errors.js';
import { GroupInfoService } from '../../src-provider/federation/group-info.js';
import { KeyMaterialService, providerUri, type ClaimResult } from '../../src-provider/federation/key-material.js';
import { PeerError } from '../../src-provider/federation/peer-client.js';
import { ensureProviderIdentity, type ProviderIdentity } from '../../src-provider/federation/provider-identity.js';
import type { S2sDeps, S2sReply } from '../../src-provider/federation/s2s-handler.js';
import { KeyPackages } from '../../src-provider/key-packages.js';
import { startProvider, type RunningProvider } from '../../src-provider/server.js';
import type { Store } from '../../src-provider/store.js';
import { freePort, testDatabase } from '../helpers/provider-process.js';

const PASSWORD = 'correct horse battery staple';


interface Call {
  peer: string;
  endpoint: string;
  param: string;
}

type Intercept = (endpoint: string, peer: string, param: string, body: Uint8Array, reply: S2sReply) => Promise<S2sReply> | S2sReply;

class Provider {
  p?: RunningProvider;
  deps?: S2sDeps;
  km!: KeyMaterialService;
  gi!: GroupInfoService;
  kp!: KeyPackages;
  identity!: ProviderIdentity;
  calls: Call[] = [];
  logs: string[] = [];
  intercept?: Intercept;

  private constructor(
    readonly domain: string,
    readonly dataDir: string,
    readonly ca: DevCaFiles,
    readonly port: number,
  ) {}

  static async prepare(domain: string): Promise<Provider> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mimi-km-${domain}-`));
    return new Provider(domain, dataDir, await ensureDevCa(dataDir, domain), await freePort());
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get store(): Store {
    assert.ok(this.deps, `${this.domain} is not running`);
    return this.deps.store;
  }

  async start(others: Provider[], extraPeers: Record<string, string> = {}): Promise<void> {
    this.p = await startProvider({
      database: await testDatabase(this.dataDir),
      domain: this.domain,
      port: this.port,
      dataDir: this.dataDir,
      log: (m) => this.logs.push(m),
      federation: {
        peers: { ...Object.fromEntries(others.map((n) => [n.domain, n.url])), ...extraPeers },
        trustPem: others.map((n) => n.ca.caPem),
      },
      peerTimeoutMs: 3000,
      s2s: (deps) => {
        this.deps = deps;
        this.identity = ensureProviderIdentity(this.dataDir, deps.domain);
        this.kp = new KeyPackages(deps.store, deps.domain);
        this.km = new KeyMaterialService({
          domain: deps.domain,
          store: deps.store,
          keyPackages: this.kp,
          peerClient: deps.peerClient,
          identity: this.identity,
        });
        this.gi = new GroupInfoService({ domain: deps.domain, store: deps.store, peerClient: deps.peerClient, identity: this.identity });
        return {
          handle: async (peer, endpoint, param, body) => {
            this.calls.push({ peer, endpoint, param });
            let reply: S2sReply;
            if (endpoint === 'keyMaterial') reply = await this.km.serve(peer, param, body);
            else if (endpoint === 'groupInfo') reply = await this.gi.serve(peer, param, body);
            else throw new ApiFailure('notFound', `${endpoint} is not implemented in this test`, { status: 501 });
            return this.intercept ? this.intercept(endpoint, peer, param, body, reply) : reply;
          },
        };
      },
    });
  }

  async destroy(): Promise<void> {
    await this.p?.close();
    assert.ok(!this.logs.some((l) => l.includes('internal error')), `${this.domain} logged internal errors:\n${this.logs.join('\n')}`);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  client(): ProviderClient {
    return new ProviderClient({ baseUrl: this.url, caPem: this.ca.caPem });
  }

  callsTo(endpoint: string): Call[] {
    return this.calls.filter((c) => c.endpoint === endpoint);
  }

  /** Single-use KeyPackages not handed out yet, and recorded claims. */
  spendable(): { unclaimed: number; claims: number } {
    const one = (sql: string) => (this.store.db.prepare(sql).get() as { n: number }).n;
    return {
      unclaimed: one('SELECT count(*) AS n FROM key_packages WHERE claimed = 0 AND last_resort = 0'),
      claims: one('SELECT count(*) AS n FROM key_package_claims'),
    };
  }

  claim(ref: Uint8Array, room: string): { device_uri: string; claimed_by: string } | undefined {
    return this.store.db
      .prepare('SELECT device_uri, claimed_by FROM key_package_claims WHERE ref = ? AND room_uri = ?')
      .get(Buffer.from(ref), room) as { device_uri: string; claimed_by: string } | undefined;
  }
}

let engine: MlsEngine;
let A: Provider;
let B: Provider;
let C: Provider;

interface Dev {
  userUri: string;
  deviceUri: string;
  client: ProviderClient;
  keys: Awaited<ReturnType<MlsEngine['newDeviceKeys']>>;
  /** hex KeyPackageRef -> MLSMessage(key_package) this device generated */
  kps: Map<string, Uint8Array>;
}

/** Registers through the client API (first device) or logs in (another device of `handle`). */
async function device(on: Provider, handle: string, login = false): Promise<Dev> {
  const client = on.client();
  const s = login
    ? await client.login({ handle, password: PASSWORD, deviceName: `${handle} phone` })
    : await client.register({ handle, password: PASSWORD, deviceName: `${handle} laptop` });
  return { userUri: s.userUri, deviceUri: s.deviceUri, client, keys: await engine.newDeviceKeys(s.deviceUri), kps: new Map() };
}

/** Engine-made KeyPackages uploaded through the client API. */
async function publish(dev: Dev, single: number, lastResort = false): Promise<Uint8Array[]> {
  const made = await engine.generateKeyPackages(dev.keys, single + (lastResort ? 1 : 0));
  for (const k of made) dev.kps.set(toHex(k.ref), k.publicMessage);
  await dev.client.uploadKeyPackages({
    keyPackages: made.slice(0, single).map((k) => toB64(k.publicMessage)),
    ...(lastResort ? { lastResort: toB64(made[single].publicMessage) } : {}),
  });
  return made.map((k) => k.ref);
}

/**
 * `n` users of `on`, one device each with `kpsEach` engine-made KeyPackages, written straight into
 * the store (a client-API registration costs a 32 MiB scrypt each).
 */
async function seedUsers(on: Provider, prefix: string, n: number, kpsEach: number): Promise<string[]> {
  const users: string[] = [];
  for (let i = 0; i < n; i++) {
    const handle = `${prefix}${i}`;
    const userUri = mkUserUri(on.domain, handle);
    const id = on.store.insertUser(handle, userUri, 'scrypt$disabled', Date.now());
    assert.ok(id !== null);
    const deviceUri = mkDeviceUri(on.domain, handle, 'dev1');
    on.store.insertDevice({ deviceUri, userId: id, deviceId: 'dev1', name: 'seeded', tokenHash: randomBytes(32), now: Date.now() });
    const keys = await engine.newDeviceKeys(deviceUri);
    on.kp.upload(deviceUri, (await engine.generateKeyPackages(keys, kpsEach)).map((k) => k.publicMessage));
    users.push(userUri);
  }
  return users;
}

let roomCounter = 0;
/** A room at A with `owner` as its only member, published with an initial commit (epoch 1). */
async function roomAtA(owner: Dev): Promise<{ room: string; session: GroupSession }> {
  const room = `mimi://a.example/r/km-${process.pid}-${++roomCounter}`;
  await owner.client.createRoom({ roomUri: room });
  const out = await (await engine.createGroup(owner.keys, room)).update();
  await owner.client.commit(room, {
    commit: toB64(out.commit),
    groupInfo: toB64(out.groupInfo),
    ratchetTree: toB64(out.ratchetTree),
    requestId: `req-${room}`,
  });
  return { room, session: out.pending };
}

async function rejects(p: Promise<unknown>, check: (e: unknown) => boolean, what: string): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(check(e), `${what}: unexpected ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return true;
  });
}

const peerRejected = (status: number, code: string) => (e: unknown) => {
  if (!(e instanceof PeerError) || e.code !== 'rejected' || e.status !== status || !e.body) return false;
  return (JSON.parse(fromUtf8(e.body)) as { error: { code: string } }).error.code === code;
};
const apiFailure = (code: string, status?: number, message?: RegExp) => (e: unknown) =>
  e instanceof ApiFailure && e.code === code && (status === undefined || e.status === status) && (message === undefined || message.test(e.message));

const kpOf = (r: ClaimResult, deviceUri: string): Uint8Array => {
  const c = r.clients.find((x) => x.deviceUri === deviceUri);
  assert.ok(c?.keyPackage, `a KeyPackage for ${deviceUri}: ${JSON.stringify(r)}`);
  return fromB64(c.keyPackage);
};

// ---------------------------------------------------------------------------------------------

describe('federated key material and group info', () => {
  let alice: Dev; // a.example, owns the room
  let bob: Dev; // b.example, 2 single-use + last resort
  let bobPhone: Dev; // b.example, second device of bob with nothing uploaded
  let dave: Dev; // b.example, one device with nothing uploaded
  let carol: Dev; // c.example, participant of the room (follower user)
  let room: string;
  let session: GroupSession;
  let bobRefs: Uint8Array[];
  let deadPort: number;

  before(async () => {
    engine = await createMlsEngine();
    [A, B, C] = await Promise.all(['a.example', 'b.example', 'c.example'].map((d) => Provider.prepare(d)));
    deadPort = await freePort(); // nobody listens here: d.example is unreachable
    await A.start([B, C], { 'd.example': `https://127.0.0.1:${deadPort}` });
    await B.start([A, C]);
    await C.start([A, B]);
    alice = await device(A, 'alice');
    bob = await device(B, 'bob');
    bobPhone = await device(B, 'bob', true);
    dave = await device(B, 'dave');
    carol = await device(C, 'carol');
    bobRefs = await publish(bob, 2, true);
    ({ room, session } = await roomAtA(alice));
    A.store.addParticipant(room, carol.userUri);
  });

  after(async () => {
    for (const p of [A, B, C]) await p?.destroy();
  });

  test('a room at A claims bob@b: refs recorded at A and B, single-use once each, then the last resort', async () => {
    const [r1, d1] = await A.km.claimForRoom(alice.userUri, room, [bob.userUri, dave.userUri]);
    // Two users of one domain: ONE bulk request to b.example.
    assert.deepEqual(B.callsTo('keyMaterial'), [{ peer: 'a.example', endpoint: 'keyMaterial', param: providerUri('b.example') }]);
    assert.equal(r1.userUri, bob.userUri);
    assert.equal(r1.status, 'partialSuccess', 'bob\'s phone has nothing');
    assert.deepEqual(
      r1.clients.map((c) => [c.deviceUri, c.status]),
      [
        [bob.deviceUri, 'success'],
        [bobPhone.deviceUri, 'keyMaterialExhausted'],
      ],
    );
    assert.deepEqual(d1, { userUri: dave.userUri, status: 'noCompatibleMaterial', clients: [{ deviceUri: dave.deviceUri, status: 'keyMaterialExhausted' }] });

    const kp1 = kpOf(r1, bob.deviceUri);
    const ref1 = await engine.keyPackageRef(kp1);
    assert.ok(bytesEqual(ref1, bobRefs[0]), 'oldest single-use KeyPackage first, byte-exact');
    assert.ok(bob.kps.has(toHex(ref1)));
    assert.deepEqual(A.claim(ref1, room), { device_uri: bob.deviceUri, claimed_by: alice.userUri }, 'the hub knows where the Welcome goes');
    assert.deepEqual(B.claim(ref1, room), { device_uri: bob.deviceUri, claimed_by: alice.userUri }, 'B routes the Welcome to the device');
    assert.equal(A.store.claimedDevice(ref1, room), bob.deviceUri);

    // The KeyPackage is a real one: alice's group can add bob with it.
    const added = await session.add([kp1]);
    assert.ok(added.welcome, 'a Welcome for bob');

    const [r2] = await A.km.claimForRoom(alice.userUri, room, [bob.userUri]);
    assert.equal(B.callsTo('keyMaterial').at(-1)!.param, bob.userUri, 'one user: a plain KeyMaterialRequest');
    const ref2 = await engine.keyPackageRef(kpOf(r2, bob.deviceUri));
    assert.ok(bytesEqual(ref2, bobRefs[1]), 'the second claim gets the other single-use KeyPackage');
    assert.equal(B.kp.count(bob.deviceUri).available, 0);

    const [r3] = await A.km.claimForRoom(alice.userUri, room, [bob.userUri]);
    const [r4] = await A.km.claimForRoom(alice.userUri, room, [bob.userUri]);
    const ref3 = await engine.keyPackageRef(kpOf(r3, bob.deviceUri));
    const ref4 = await engine.keyPackageRef(kpOf(r4, bob.deviceUri));
    assert.ok(bytesEqual(ref3, bobRefs[2]) && bytesEqual(ref4, bobRefs[2]), 'then the last-resort KeyPackage, reused');
    assert.equal(A.store.claimedDevice(ref3, room), bob.deviceUri);
  });

  test('bulk: 100 users of b.example in ONE request, and the same as 100 single requests', async () => {
    const bulkUsers = await seedUsers(B, 'bulk', 100, 1);
    const singleUsers = await seedUsers(B, 'single', 100, 1);
    const before = B.callsTo('keyMaterial').length;
    const claimsBefore = A.spendable().claims;

    let t = performance.now();
    const bulk = await A.km.claimForRoom(alice.userUri, room, bulkUsers);
    const bulkMs = performance.now() - t;
    assert.equal(B.callsTo('keyMaterial').length, before + 1, 'one request');
    assert.equal(B.callsTo('keyMaterial').at(-1)!.param, 'mimi://b.example');

    t = performance.now();
    const singles: ClaimResult[] = [];
    for (const u of singleUsers) singles.push(...(await A.km.claimForRoom(alice.userUri, room, [u])));
    const singleMs = performance.now() - t;
    assert.equal(B.callsTo('keyMaterial').length, before + 101, '100 more requests');
    console.log(`# 100 users: one bulk request ${bulkMs.toFixed(0)} ms, 100 single requests ${singleMs.toFixed(0)} ms`);

    for (const [users, results] of [
      [bulkUsers, bulk],
      [singleUsers, singles],
    ] as const) {
      assert.deepEqual(results.map((r) => r.userUri), users, 'results in request order');
      assert.ok(results.every((r) => r.status === 'success' && r.clients.length === 1 && r.clients[0].status === 'success'));
    }
    const refs = new Set<string>();
    for (const r of [...bulk, ...singles]) {
      const ref = await engine.keyPackageRef(fromB64(r.clients[0].keyPackage!));
      refs.add(toHex(ref));
      assert.equal(A.store.claimedDevice(ref, room), r.clients[0].deviceUri);
    }
    assert.equal(refs.size, 200, 'every KeyPackage distinct');
    assert.equal(A.spendable().claims, claimsBefore + 200);
    // Nothing left: a second bulk says so per user, still in one request.
    const again = await A.km.claimForRoom(alice.userUri, room, bulkUsers.slice(0, 3));
    assert.deepEqual(again.map((r) => r.status), ['noCompatibleMaterial', 'noCompatibleMaterial', 'noCompatibleMaterial']);
    assert.ok(again.every((r) => r.clients[0].status === 'keyMaterialExhausted'));
  });

  test('through the hub: follower C claims for users of B and C via A; A records ref -> device', async () => {
    const [erin, frank] = await seedUsers(B, 'erin', 2, 2);
    const carol2 = (await seedUsers(C, 'carolmate', 1, 1))[0];
    const aBefore = A.callsTo('keyMaterial').length;
    const bBefore = B.callsTo('keyMaterial').length;

    const [e1] = await C.km.claimForRoom(carol.userUri, room, [erin]);
    assert.deepEqual(A.callsTo('keyMaterial').slice(aBefore), [{ peer: 'c.example', endpoint: 'keyMaterial', param: erin }]);
    assert.deepEqual(B.callsTo('keyMaterial').slice(bBefore), [{ peer: 'a.example', endpoint: 'keyMaterial', param: erin }], 'the hub forwards');
    assert.equal(e1.status, 'success');
    const erinDevice = e1.clients[0].deviceUri;
    assert.equal(erinDevice, mkDeviceUri('b.example', 'erin0', 'dev1'));
    const ref = await engine.keyPackageRef(kpOf(e1, erinDevice));
    assert.deepEqual(A.claim(ref, room), { device_uri: erinDevice, claimed_by: carol.userUri }, 'the hub can route the Welcome to b.example');
    assert.deepEqual(B.claim(ref, room), { device_uri: erinDevice, claimed_by: carol.userUri });
    assert.equal(C.claim(ref, room), undefined, 'the follower records nothing');

    // Several targets: one request per target domain, all to the hub; our own user comes back to us.
    const cBefore = C.callsTo('keyMaterial').length;
    const results = await C.km.claimForRoom(carol.userUri, room, [erin, carol2, frank]);
    assert.deepEqual(results.map((r) => [r.userUri, r.status]), [
      [erin, 'success'],
      [carol2, 'success'],
      [frank, 'success'],
    ]);
    const toHub = A.callsTo('keyMaterial').slice(aBefore + 1).map((c) => c.param).sort();
    assert.deepEqual(toHub, [carol2, providerUri('b.example')].sort());
    assert.deepEqual(B.callsTo('keyMaterial').slice(bBefore + 1).map((c) => c.param), [providerUri('b.example')], 'the bulk is forwarded whole');
    assert.deepEqual(C.callsTo('keyMaterial').slice(cBefore), [{ peer: 'a.example', endpoint: 'keyMaterial', param: carol2 }]);
    const carol2Ref = await engine.keyPackageRef(fromB64(results[1].clients[0].keyPackage!));
    assert.equal(A.store.claimedDevice(carol2Ref, room), mkDeviceUri('c.example', 'carolmate0', 'dev1'));
    assert.equal(C.store.claimedDevice(carol2Ref, room), mkDeviceUri('c.example', 'carolmate0', 'dev1'));

    // Someone at C who is not in the room cannot use the hub to drain KeyPackages.
    const spent = B.spendable();
    await rejects(
      C.km.claimForRoom(mkUserUri('c.example', 'mallory'), room, [frank]),
      apiFailure('notAllowed', 403, /a\.example refused .*not a participant/),
      'non-participant via the hub',
    );
    assert.deepEqual(B.spendable(), spent);
  });

  test('refused requests are clear 4xx and spend nothing', async () => {
    const [target] = await seedUsers(B, 'victim', 1, 3);
    const spentB = B.spendable();
    const claimsA = A.spendable().claims;
    const post = (param: string, body: Uint8Array, from: Provider = A) => from.deps!.peerClient.post('b.example', 'keyMaterial', param, body);
    const good = A.km.buildRequest(alice.userUri, target, room);
    const goodBytes = encodeKeyMaterialRequest(good);

    const badSig = goodBytes.slice();
    badSig[badSig.length - 1] ^= 1;
    await rejects(post(target, badSig), peerRejected(403, 'notAllowed'), 'bad signature');
    await rejects(post(dave.userUri, goodBytes), peerRejected(400, 'badRequest'), 'path names another user');
    await rejects(post(target, goodBytes.subarray(0, goodBytes.length - 7)), peerRejected(400, 'badRequest'), 'truncated');
    await rejects(post(target, new Uint8Array([...goodBytes, 0])), peerRejected(400, 'badRequest'), 'trailing byte');
    await rejects(post(target, new Uint8Array()), peerRejected(400, 'badRequest'), 'empty');
    await rejects(post('mimi://b.example/r/x', goodBytes), peerRejected(400, 'badRequest'), 'param is neither user nor provider');

    // A provider may speak only for its own users (or rooms it hosts).
    const foreign = A.km.buildRequest(mkUserUri('c.example', 'eve'), target, 'mimi://c.example/r/x');
    await rejects(post(target, encodeKeyMaterialRequest(foreign)), peerRejected(403, 'notAllowed'), 'requestingUser of another domain');
    // ... and C cannot pretend to be A's user in A's room.
    const spoof = C.km.buildRequest(alice.userUri, target, room);
    await rejects(post(target, encodeKeyMaterialRequest(spoof), C), peerRejected(403, 'notAllowed'), 'spoofed requester');
    // The credential must name the requesting user.
    const other = { ...good, requesterCredential: basicCredential(mkUserUri('a.example', 'someoneelse')) };
    await rejects(post(target, encodeKeyMaterialRequest({ ...other, signature: signAs(A, other) })), peerRejected(403, 'notAllowed'), 'credential of another user');

    // Bulk: a target of another domain, or one bad entry, refuses the whole bulk.
    const stranger = A.km.buildRequest(alice.userUri, carol.userUri, room);
    await rejects(post(providerUri('b.example'), encodeBulkKeyMaterialRequest({ requests: [good, stranger] })), peerRejected(400, 'badRequest'), 'bulk target of c.example');
    const tampered = { ...good, signature: badSig.subarray(badSig.length - 64) };
    await rejects(post(providerUri('b.example'), encodeBulkKeyMaterialRequest({ requests: [good, tampered] })), peerRejected(403, 'notAllowed'), 'bulk with a bad signature');
    await rejects(post(providerUri('b.example'), encodeBulkKeyMaterialRequest({ requests: [] })), peerRejected(400, 'badRequest'), 'empty bulk');

    assert.deepEqual(B.spendable(), spentB, 'no KeyPackage spent, no claim recorded');
    assert.equal(A.spendable().claims, claimsA);

    // The same request, untouched, works: it was only the tampering.
    const res = decodeKeyMaterialResponse((await post(target, goodBytes)).body);
    assert.equal(res.userStatus, 'success');
    assert.equal(B.spendable().unclaimed, spentB.unclaimed - 1);
  });

  test('user codes: unknown user, incompatible ciphersuite or capabilities, consent, and requester-side errors', async () => {
    const [u] = await seedUsers(B, 'picky', 1, 2);
    const spent = B.spendable();
    const nobody = mkUserUri('b.example', 'nobody');
    assert.deepEqual(await A.km.claimForRoom(alice.userUri, room, [nobody]), [{ userUri: nobody, status: 'userUnknown', clients: [] }]);

    const post = (req: KeyMaterialRequest) => A.deps!.peerClient.post('b.example', 'keyMaterial', req.targetUser, encodeKeyMaterialRequest(req));
    const suite2 = decodeKeyMaterialResponse((await post(A.km.buildRequest(alice.userUri, u, room, { acceptableCiphersuites: [2] }))).body);
    assert.deepEqual([suite2.userStatus, suite2.clients], ['incompatibleProtocol', []]);

    const x509 = await A.km.claimForRoom(alice.userUri, room, [u], { requiredCapabilities: { extensionTypes: [], proposalTypes: [], credentialTypes: [2] } });
    assert.deepEqual(x509, [{ userUri: u, status: 'noCompatibleMaterial', clients: [{ deviceUri: mkDeviceUri('b.example', 'picky0', 'dev1'), status: 'nothingCompatible' }] }]);
    const unknownExt = await A.km.claimForRoom(alice.userUri, room, [u], { requiredCapabilities: { extensionTypes: [0xff00], proposalTypes: [], credentialTypes: [] } });
    assert.equal(unknownExt[0].clients[0].status, 'nothingCompatible');

    B.km.consent = (requester, target, r) => (requester === alice.userUri && target === u && r === room ? 'noConsentForThisRoom' : 'ok');
    try {
      assert.deepEqual(await A.km.claimForRoom(alice.userUri, room, [u]), [{ userUri: u, status: 'noConsentForThisRoom', clients: [] }]);
    } finally {
      B.km.consent = () => 'ok';
    }
    assert.deepEqual(B.spendable(), spent, 'none of these spent a KeyPackage');

    // Default extension types need not be listed; basic credentials are.
    const fine = await A.km.claimForRoom(alice.userUri, room, [u], { requiredCapabilities: { extensionTypes: [2, 5], proposalTypes: [1, 7], credentialTypes: [1] } });
    assert.equal(fine[0].status, 'success');

    await rejects(A.km.claimForRoom(alice.userUri, 'mimi://a.example/r/nope', [u]), apiFailure('roomUnknown'), 'unknown room');
    await rejects(A.km.claimForRoom(mkUserUri('a.example', 'outsider'), room, [u]), apiFailure('notMember'), 'not a participant');
    await rejects(A.km.claimForRoom(alice.userUri, room, ['bob@b.example']), apiFailure('badRequest'), 'not a URI');
    await rejects(
      A.km.claimForRoom(alice.userUri, room, [mkUserUri('d.example', 'zed')]),
      apiFailure('peerUnreachable', 502, /d\.example is unreachable/),
      'unreachable provider',
    );
    // Users of our own domain in our own room are the caller's business.
    assert.deepEqual(await A.km.claimForRoom(alice.userUri, room, [alice.userUri]), []);
  });

  test('groupInfo: a participant\'s device at B gets the GroupInfo of A\'s room and can join with it', async () => {
    A.store.addParticipant(room, bob.userUri);
    const row = A.store.room(room)!;
    const got = await B.gi.fetch(room, bob.deviceUri);
    assert.deepEqual(A.callsTo('groupInfo').at(-1), { peer: 'b.example', endpoint: 'groupInfo', param: room });
    assert.equal(got.epoch, String(row.epoch));
    assert.equal(got.epoch, String(session.epoch));
    assert.ok(bytesEqual(got.groupInfo, row.group_info!), 'the MLSMessage(group_info) the hub holds');
    assert.ok(bytesEqual(got.ratchetTree, row.ratchet_tree!), 'and its ratchet tree');

    // Real enough for MLS: bob's device joins externally and alice's group accepts the commit.
    const joined = await engine.joinExternal(bob.keys, got.groupInfo, got.ratchetTree);
    const processed = await session.process(joined.commit);
    assert.equal(processed.result.kind, 'commit');
    assert.ok(processed.result.kind === 'commit' && processed.result.added.includes(bob.deviceUri));

    // By user URI as well, and A answers its own room without the network.
    assert.equal((await B.gi.fetch(room, bob.userUri)).epoch, got.epoch);
    const calls = A.calls.length;
    assert.equal((await A.gi.fetch(room, alice.deviceUri)).epoch, got.epoch);
    assert.equal(A.calls.length, calls);
  });

  test('groupInfo refusals: non-participant, unknown room, no GroupInfo yet, wrong domain, joining codes', async () => {
    await rejects(B.gi.fetch(room, dave.deviceUri), apiFailure('notMember'), 'non-participant');
    await rejects(B.gi.fetch('mimi://a.example/r/nope', bob.deviceUri), apiFailure('roomUnknown'), 'unknown room');
    const bare = `mimi://a.example/r/bare-${process.pid}`;
    await alice.client.createRoom({ roomUri: bare });
    A.store.addParticipant(bare, bob.userUri);
    await rejects(B.gi.fetch(bare, bob.deviceUri), apiFailure('roomUnknown', 404, /no GroupInfo/), 'no commit yet');
    await rejects(B.gi.fetch(room, carol.userUri), apiFailure('badRequest'), 'B cannot ask for a user of C');

    // Server side: B asks with a credential of c.example (carol IS a participant): notAuthorized.
    const hpke = generateHpkeKeyPair();
    const tbs = {
      protocol: 'mls10' as const,
      cipherSuite: 1,
      requestingSignatureKey: B.identity.signaturePublicKey,
      requestingCredential: basicCredential(carol.deviceUri),
      groupInfoPublicKey: hpke.publicKey,
    };
    const signed = encodeGroupInfoRequest({ ...tbs, signature: signWithLabel(B.identity.signaturePrivateKey, 'GroupInfoRequestTBS', groupInfoRequestTbs(tbs)) });
    const postGi = (body: Uint8Array, r = room) => B.deps!.peerClient.post('a.example', 'groupInfo', r, body);
    const res = decodeGroupInfoResponse((await postGi(signed)).body);
    assert.deepEqual(res, { protocol: 'mls10', roomId: room, status: 'notAuthorized' });
    const unknown = decodeGroupInfoResponse((await postGi(signed, 'mimi://a.example/r/nope')).body);
    assert.equal(unknown.status, 'noSuchRoom');
    const forged = signed.slice();
    forged[forged.length - 1] ^= 1;
    await rejects(postGi(forged), peerRejected(403, 'notAllowed'), 'bad request signature');
    await rejects(postGi(signed.subarray(0, 10)), peerRejected(400, 'badRequest'), 'truncated');

    // Joining codes: refused by default; accepted once the hook says so.
    await rejects(B.gi.fetch(room, dave.deviceUri, { joiningCode: utf8('open sesame') }), apiFailure('notMember'), 'code refused by default');
    A.gi.joiningCode = (r, code) => r === room && fromUtf8(code) === 'open sesame';
    try {
      assert.equal((await B.gi.fetch(room, dave.deviceUri, { joiningCode: utf8('open sesame') })).epoch, String(A.store.room(room)!.epoch));
      await rejects(B.gi.fetch(room, dave.deviceUri, { joiningCode: utf8('wrong') }), apiFailure('notMember'), 'wrong code');
    } finally {
      A.gi.joiningCode = () => false;
    }
  });

  test('groupInfo: the requester rejects a tampered response and a hub_sender key that changed', async () => {
    await B.gi.fetch(room, bob.deviceUri); // pins A's key for this room (if not already)
    A.intercept = (endpoint, _peer, _param, _body, reply) => {
      if (endpoint !== 'groupInfo' || !reply.body) return reply;
      const body = reply.body.slice();
      body[body.length - 1] ^= 1; // last byte of the signature
      return { ...reply, body };
    };
    try {
      await rejects(B.gi.fetch(room, bob.deviceUri), apiFailure('internal', 502, /signature does not verify/), 'tampered signature');
      A.intercept = (endpoint, _peer, _param, _body, reply) => {
        if (endpoint !== 'groupInfo' || !reply.body) return reply;
        const body = reply.body.slice();
        body[body.length - 80] ^= 1; // inside the ciphertext, covered by the signature
        return { ...reply, body };
      };
      await rejects(B.gi.fetch(room, bob.deviceUri), apiFailure('internal', 502), 'tampered ciphertext');

      // A different, validly signing key for the same room: refused once the first one is pinned.
      const impostorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-km-impostor-'));
      try {
        const impostor = new GroupInfoService({
          domain: 'a.example',
          store: A.store,
          peerClient: A.deps!.peerClient,
          identity: ensureProviderIdentity(impostorDir, 'a.example'),
        });
        A.intercept = (endpoint, peer, param, body, reply) => (endpoint === 'groupInfo' ? impostor.serve(peer, param, body) : reply);
        await rejects(B.gi.fetch(room, bob.deviceUri), apiFailure('internal', 502, /not the key this hub used/), 'hub key changed');
        // A room B never fetched before is trusted on first use, whatever the key.
        const { room: fresh } = await roomAtA(alice);
        A.store.addParticipant(fresh, bob.userUri);
        assert.equal((await B.gi.fetch(fresh, bob.deviceUri)).epoch, '1');
      } finally {
        fs.rmSync(impostorDir, { recursive: true, force: true });
      }
    } finally {
      A.intercept = undefined;
    }
    assert.equal((await B.gi.fetch(room, bob.deviceUri)).epoch, String(A.store.room(room)!.epoch), 'the genuine hub still works');
  });
});

/** Re-signs a (modified) request with `as`'s provider key. */
function signAs(as: Provider, req: KeyMaterialRequest): Uint8Array {
  return signWithLabel(as.identity.signaturePrivateKey, 'KeyMaterialRequestTBS', keyMaterialRequestTbs(req));
}
