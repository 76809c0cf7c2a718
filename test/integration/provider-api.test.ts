// Every client API route against a real provider (HTTPS + WebSocket on 127.0.0.1, dev CA pinned,
// SQLite in a temp dir) through the app's ProviderClient, with real MLS objects from the engine.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { fromB64, toB64, toHex, utf8, fromUtf8, bytesEqual } from '../../src-shared/bytes.js';
import { peekMlsMessage } from '../../src-shared/mls-wire.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { PushConnection, type PushState } from '../../src-main/net/push-connection.js';
import { keyPackageRef } from '../../src-provider/key-packages.js';
import { providerStorageBytes } from '../helpers/provider-db.js';
import {
  PASSWORD,
  RawPush,
  loginDevice,
  newRoomUri,
  ownKeyPackage,
  publishKeyPackages,
  registerDevice,
  requestId,
  startTestProvider,
  uniqueHandle,
  waitUntil,
  type TestDevice,
  type TestProvider,
} from '../helpers/provider-fixture.js';

let tp: TestProvider;
let engine: MlsEngine;

before(async () => {
  engine = await createMlsEngine();
  // Small push batches and buffer so backlog flushes really pause and interleave with new events.
  tp = await startTestProvider('a.example', { pingIntervalMs: 200, pushBatchSize: 50, pushHighWaterBytes: 4096 });
});
after(async () => {
  await tp?.stop();
});

async function rejects(p: Promise<unknown>, status: number, code: string): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected ProviderError, got ${e}`);
    assert.equal(e.code, code, `code (message: ${e.message})`);
    assert.equal(e.status, status, `status (message: ${e.message})`);
    return e;
  }
  assert.fail(`expected ${status} ${code}, but the call succeeded`);
}

/** Room with `owner` as only member, published to the hub with an initial empty commit (epoch 1). */
async function roomOf(owner: TestDevice): Promise<{ roomUri: string; session: GroupSession }> {
  const roomUri = newRoomUri();
  await owner.client.createRoom({ roomUri });
  let session = await engine.createGroup(owner.keys, roomUri);
  const out = await session.update();
  await owner.client.commit(roomUri, {
    commit: toB64(out.commit),
    groupInfo: toB64(out.groupInfo),
    ratchetTree: toB64(out.ratchetTree),
    requestId: requestId(),
  });
  session = out.pending;
  return { roomUri, session };
}

/** Claim KeyPackages of `users` and commit their addition; returns the adder's new session. */
async function addUsers(adder: TestDevice, roomUri: string, session: GroupSession, users: string[]) {
  const claim = await adder.client.claim({ roomUri, users });
  const kps = claim.results.flatMap((r) => r.clients.filter((c) => c.keyPackage).map((c) => fromB64(c.keyPackage!)));
  const out = await session.add(kps);
  const res = await adder.client.commit(roomUri, {
    commit: toB64(out.commit),
    welcome: toB64(out.welcome!),
    groupInfo: toB64(out.groupInfo),
    ratchetTree: toB64(out.ratchetTree),
    addUsers: users.filter((u) => u !== adder.session.userUri),
    requestId: requestId(),
  });
  assert.equal(res.epoch, String(out.newEpoch));
  return { session: out.pending, out };
}

/** Join from the welcome event in a push stream. */
async function joinFrom(dev: TestDevice, ev: PushEvent): Promise<GroupSession> {
  assert.equal(ev.kind, 'welcome');
  const welcome = fromB64(ev.payload);
  // Find which of this device's KeyPackages the Welcome is for.
  const { welcomeRecipients } = await import('../../src-shared/mls-wire.js');
  const ref = welcomeRecipients(welcome).map(toHex).find((r) => dev.keyPackages.has(r));
  assert.ok(ref, 'welcome is addressed to one of this device\'s KeyPackages');
  return engine.joinFromWelcome(dev.keys, welcome, dev.keyPackages.get(ref)!, fromB64(ev.ratchetTree!));
}

describe('accounts', () => {
  test('health and directory need no token', async () => {
    const c = tp.client();
    assert.deepEqual(await c.health(), { ok: true });
    const dir = await c.directory();
    const base = `${tp.p.url}/mimi/v1`;
    assert.equal(dir.keyMaterial, `${base}/keyMaterial/{targetUser}`);
    assert.equal(dir.update, `${base}/update/{roomId}`);
    assert.equal(dir.notify, `${base}/notify/{roomId}`);
    assert.equal(dir.submitMessage, `${base}/submitMessage/{roomId}`);
    assert.equal(dir.groupInfo, `${base}/groupInfo/{roomId}`);
    assert.equal(dir.requestConsent, `${base}/requestConsent/{targetDomain}`);
    assert.equal(dir.updateConsent, `${base}/updateConsent/{requesterDomain}`);
    assert.equal(dir.identifierQuery, `${base}/identifierQuery/{domain}`);
    assert.equal(dir.reportAbuse, `${base}/reportAbuse/{roomId}`);
    // The hub's asset proxy (docs/attachments.md).
    assert.equal(dir.proxyDownload, `${base}/proxyDownload/{downloadUrl}`);
    // Private use (docs/join-links.md): a join link's code traded for the hub's admission ticket,
    // and a follower's member managing a hosted room's links.
    assert.equal(dir.joinTicket, `${base}/joinTicket/{roomId}`);
    assert.equal(dir.joinLinks, `${base}/joinLinks/{roomId}`);
    assert.equal(dir.ohttpKeys, `${base}/ohttpKeys/{domain}`);
    assert.equal(dir.ohttpGateway, `${base}/ohttpGateway/{domain}`);
    assert.deepEqual(Object.keys(dir).sort(), ['groupInfo', 'identifierQuery', 'joinLinks', 'joinTicket', 'keyMaterial', 'notify', 'ohttpGateway', 'ohttpKeys', 'proxyDownload', 'reportAbuse', 'requestConsent', 'submitMessage', 'update', 'updateConsent']);
    // The endpoints it names are for peer providers only: without a client certificate, 401.
    const res = await fetchRaw('POST', '/mimi/v1/update/x', '{}');
    assert.equal(res.status, 401);
    assert.equal(res.json.error.code, 'unauthorized');
  });

  test('register, then login creates a second device; me lists both', async () => {
    const handle = uniqueHandle('ada');
    const c1 = tp.client();
    const s1 = await c1.register({ handle, password: PASSWORD, deviceName: 'laptop' });
    assert.equal(s1.userUri, `mimi://a.example/u/${handle}`);
    assert.equal(s1.domain, 'a.example');
    assert.match(s1.deviceId, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(s1.deviceUri, `mimi://a.example/d/${handle}/${s1.deviceId}`);
    assert.equal(c1.token, s1.token);

    const c2 = tp.client();
    const s2 = await c2.login({ handle, password: PASSWORD, deviceName: 'phone' });
    assert.equal(s2.userUri, s1.userUri);
    assert.notEqual(s2.deviceUri, s1.deviceUri);
    assert.notEqual(s2.token, s1.token);

    const me1 = await c1.me();
    const me2 = await c2.me();
    assert.equal(me1.deviceUri, s1.deviceUri);
    assert.equal(me2.deviceUri, s2.deviceUri);
    assert.deepEqual(
      me1.devices.map((d) => [d.deviceUri, d.name]),
      [
        [s1.deviceUri, 'laptop'],
        [s2.deviceUri, 'phone'],
      ],
    );
    assert.ok(me1.devices.every((d) => typeof d.createdAt === 'number'));
  });

  test('taken handle, bad handle, short password', async () => {
    const handle = uniqueHandle('bea');
    await tp.client().register({ handle, password: PASSWORD, deviceName: 'x' });
    await rejects(tp.client().register({ handle, password: PASSWORD, deviceName: 'x' }), 409, 'handleTaken');
    await rejects(tp.client().register({ handle: 'Bad Handle', password: PASSWORD, deviceName: 'x' }), 400, 'badRequest');
    await rejects(tp.client().register({ handle: uniqueHandle('cy'), password: 'short', deviceName: 'x' }), 400, 'badRequest');
    await rejects(tp.client().register({ handle: uniqueHandle('cy'), password: PASSWORD, deviceName: '  ' }), 400, 'badRequest');
  });

  test('wrong password and unknown handle get the same 401; failed logins are throttled', async () => {
    const handle = uniqueHandle('dee');
    await tp.client().register({ handle, password: PASSWORD, deviceName: 'x' });
    const devicesBefore = tp.counts().devices;
    const wrong = await rejects(tp.client().login({ handle, password: 'not the password', deviceName: 'x' }), 401, 'wrongPassword');
    const unknown = await rejects(
      tp.client().login({ handle: uniqueHandle('nobody'), password: 'not the password', deviceName: 'x' }),
      401,
      'wrongPassword',
    );
    assert.equal(wrong.message, unknown.message);
    // 4 more failures reach the limit of 5 per minute; then even the right password is refused.
    for (let i = 0; i < 4; i++) await rejects(tp.client().login({ handle, password: `nope-${i}-xxxx`, deviceName: 'x' }), 401, 'wrongPassword');
    await rejects(tp.client().login({ handle, password: PASSWORD, deviceName: 'x' }), 429, 'rateLimited');
    assert.equal(tp.counts().devices, devicesBefore);
  });

  test('a missing or unknown token is 401 unauthorized', async () => {
    await rejects(tp.client().me(), 401, 'unauthorized');
    await rejects(tp.client('A'.repeat(43)).me(), 401, 'unauthorized');
    await rejects(tp.client('not a token').listRooms(), 401, 'unauthorized');
  });
});

describe('key packages', () => {
  test('upload, count, last resort; the server-side KeyPackageRef matches the engine', async () => {
    const dev = await registerDevice(tp, engine, uniqueHandle('kp'));
    assert.deepEqual(await dev.client.keyPackageCount(), { available: 0, lastResort: false });
    assert.deepEqual(await publishKeyPackages(engine, dev, 3, true), { available: 3 });
    assert.deepEqual(await dev.client.keyPackageCount(), { available: 3, lastResort: true });
    for (const kp of dev.keyPackages.values()) assert.deepEqual(keyPackageRef(kp.publicMessage), kp.ref);
    // Re-uploading the same packages (a retried upload) does not duplicate them.
    const again = [...dev.keyPackages.values()].slice(0, 3).map((k) => toB64(k.publicMessage));
    assert.deepEqual(await dev.client.uploadKeyPackages({ keyPackages: again }), { available: 3 });
  });

  test('concurrent claims never hand out a single-use package twice; then last resort, then exhausted', async () => {
    const owner = await registerDevice(tp, engine, uniqueHandle('claimer'));
    const { roomUri } = await roomOf(owner);
    const target = await registerDevice(tp, engine, uniqueHandle('target'));
    const target2 = await loginDevice(tp, engine, target.session.userUri.split('/u/')[1]);
    await publishKeyPackages(engine, target, 5, true);
    await publishKeyPackages(engine, target2, 2, false);

    const claims = await Promise.all(
      Array.from({ length: 8 }, () => owner.client.claim({ roomUri, users: [target.session.userUri] })),
    );
    const byDevice = (uri: string) =>
      claims.map((c) => c.results[0].clients.find((x) => x.deviceUri === uri)!);
    const t1 = byDevice(target.session.deviceUri);
    const t2 = byDevice(target2.session.deviceUri);
    const singleUse = [...target.keyPackages.values()].slice(0, 5).map((k) => toB64(k.publicMessage));
    const lastResort = toB64([...target.keyPackages.values()][5].publicMessage);
    const handed = t1.map((c) => c.keyPackage!);
    assert.ok(t1.every((c) => c.status === 'success'));
    assert.deepEqual(new Set(handed.filter((k) => k !== lastResort)), new Set(singleUse), 'each single-use package exactly once');
    assert.equal(handed.filter((k) => k !== lastResort).length, 5);
    assert.equal(handed.filter((k) => k === lastResort).length, 3, 'last resort reused once they run out');
    assert.equal(t2.filter((c) => c.status === 'success').length, 2);
    assert.equal(t2.filter((c) => c.status === 'keyMaterialExhausted' && c.keyPackage === undefined).length, 6);
    const statuses = claims.map((c) => c.results[0].status).sort();
    assert.deepEqual(statuses, ['partialSuccess', 'partialSuccess', 'partialSuccess', 'partialSuccess', 'partialSuccess', 'partialSuccess', 'success', 'success']);
    assert.deepEqual(await target.client.keyPackageCount(), { available: 0, lastResort: true });
    assert.deepEqual(await target2.client.keyPackageCount(), { available: 0, lastResort: false });

    // A device with nothing left: noCompatibleMaterial for the user with the client listed.
    const lonely = await registerDevice(tp, engine, uniqueHandle('lonely'));
    const none = await owner.client.claim({ roomUri, users: [lonely.session.userUri] });
    assert.deepEqual(none.results[0], {
      userUri: lonely.session.userUri,
      status: 'noCompatibleMaterial',
      clients: [{ deviceUri: lonely.session.deviceUri, status: 'keyMaterialExhausted' }],
    });
  });

  test('claim: unknown users, own other devices only, member-only; a remote user\'s unreachable provider spends nothing', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('own'));
    const a2 = await loginDevice(tp, engine, a.session.userUri.split('/u/')[1]);
    await publishKeyPackages(engine, a, 2);
    await publishKeyPackages(engine, a2, 2);
    const { roomUri } = await roomOf(a);
    // b.example is not a peer of this provider: the whole claim fails and no local package is spent.
    const spent = tp.counts();
    await rejects(a.client.claim({ roomUri, users: [a.session.userUri, 'mimi://b.example/u/bob'] }), 502, 'peerUnreachable');
    assert.deepEqual(tp.counts(), spent);
    const res = await a.client.claim({
      roomUri,
      users: [a.session.userUri, 'mimi://a.example/u/doesnotexist', 'not a uri'],
    });
    assert.equal(res.results.length, 3);
    assert.equal(res.results[0].status, 'success');
    assert.deepEqual(
      res.results[0].clients.map((c) => c.deviceUri),
      [a2.session.deviceUri],
      'the requesting device itself is not claimed',
    );
    for (const r of res.results.slice(1)) assert.deepEqual([r.status, r.clients], ['userUnknown', []]);
    // Non-members cannot drain KeyPackages through someone else's room.
    const stranger = await registerDevice(tp, engine, uniqueHandle('stranger'));
    await rejects(stranger.client.claim({ roomUri, users: [a.session.userUri] }), 403, 'notMember');
    await rejects(stranger.client.claim({ roomUri: newRoomUri(), users: [a.session.userUri] }), 404, 'roomUnknown');
  });
});

describe('rooms, commits and messages', () => {
  test('create, list, get; duplicates and foreign room URIs are refused', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('rooms'));
    const roomUri = newRoomUri();
    const info = await a.client.createRoom({ roomUri });
    assert.equal(info.roomUri, roomUri);
    assert.equal(info.hubDomain, 'a.example');
    assert.equal(info.epoch, '0');
    assert.deepEqual(info.participants, [a.session.userUri]);
    assert.ok(Math.abs(info.createdAt - Date.now()) < 60_000);
    assert.deepEqual(await a.client.getRoom(roomUri), info);
    assert.deepEqual(await a.client.listRooms(), [info]);
    await rejects(a.client.createRoom({ roomUri }), 409, 'badRequest');
    await rejects(a.client.createRoom({ roomUri: 'mimi://b.example/r/elsewhere' }), 400, 'badRequest');
    await rejects(a.client.createRoom({ roomUri: 'https://a.example/r/x' }), 400, 'badRequest');
    await rejects(a.client.getRoom(newRoomUri()), 404, 'roomUnknown');
    await rejects(a.client.groupInfo(roomUri), 404, 'notFound');
    const b = await registerDevice(tp, engine, uniqueHandle('outsider'));
    await rejects(b.client.getRoom(roomUri), 403, 'notMember');
    await rejects(b.client.groupInfo(roomUri), 403, 'notMember');
    assert.deepEqual(await b.client.listRooms(), []);
  });

  test('add a user and a second device, exchange messages, remove; fanout per device', async () => {
    const alice = await registerDevice(tp, engine, uniqueHandle('alice'));
    const aliceHandle = alice.session.userUri.split('/u/')[1];
    const alice2 = await loginDevice(tp, engine, aliceHandle);
    const bob = await registerDevice(tp, engine, uniqueHandle('bob'));
    await publishKeyPackages(engine, bob, 2);
    await publishKeyPackages(engine, alice2, 2);
    const pushBob = new RawPush(tp, bob.session.token, 0);
    const pushAlice = new RawPush(tp, alice.session.token, 0);
    const pushAlice2 = new RawPush(tp, alice2.session.token, 0);
    await Promise.all([pushBob.opened, pushAlice.opened, pushAlice2.opened]);

    let { roomUri, session: aSess } = await roomOf(alice);
    ({ session: aSess } = await addUsers(alice, roomUri, aSess, [bob.session.userUri, alice.session.userUri]));
    assert.equal(aSess.epoch, 2n);
    const room = await bob.client.getRoom(roomUri);
    assert.deepEqual(room.participants, [alice.session.userUri, bob.session.userUri]);
    assert.equal(room.epoch, '2');
    assert.deepEqual((await bob.client.listRooms()).map((r) => r.roomUri), [roomUri]);

    await pushBob.waitFor((p) => p.events().length === 1, 'welcome at bob');
    await pushAlice2.waitFor((p) => p.events().length === 1, 'welcome at alice2');
    const [wb] = pushBob.events();
    assert.equal(wb.kind, 'welcome');
    assert.equal(wb.epoch, '2');
    assert.equal(wb.roomUri, roomUri);
    assert.equal(wb.senderDevice, alice.session.deviceUri);
    let bSess = await joinFrom(bob, wb);
    let a2Sess = await joinFrom(alice2, pushAlice2.events()[0]);
    assert.equal(bSess.epoch, 2n);
    assert.equal(a2Sess.epoch, 2n);
    // The welcome's ref matches the KeyPackage handed out by the claim (server computed it).
    assert.equal(pushAlice.events().length, 0, 'the committer gets nothing back');

    // alice -> everyone else; bob -> everyone else (including alice's other device).
    const m1 = await aSess.encrypt(utf8('hello from alice'));
    aSess = m1.session;
    const r1 = await alice.client.sendMessage(roomUri, { message: toB64(m1.message), requestId: requestId() });
    assert.equal(r1.duplicate, false);
    const m2 = await bSess.encrypt(utf8('hi alice, bob here'));
    bSess = m2.session;
    await bob.client.sendMessage(roomUri, { message: toB64(m2.message), requestId: requestId() });

    await pushBob.waitFor((p) => p.events().length === 2, 'message at bob');
    await pushAlice.waitFor((p) => p.events().length === 1, 'message at alice');
    await pushAlice2.waitFor((p) => p.events().length === 3, 'two messages at alice2');
    const decrypt = async (s: GroupSession, ev: PushEvent) => {
      const r = await s.process(fromB64(ev.payload));
      assert.equal(r.result.kind, 'application');
      return r.result.kind === 'application' ? fromUtf8(r.result.plaintext) : '';
    };
    assert.equal(await decrypt(bSess, pushBob.events()[1]), 'hello from alice');
    assert.equal(await decrypt(aSess, pushAlice.events()[0]), 'hi alice, bob here');
    assert.equal(pushAlice.events()[0].senderDevice, bob.session.deviceUri);
    assert.equal(await decrypt(a2Sess, pushAlice2.events()[1]), 'hello from alice');
    assert.equal(await decrypt(a2Sess, pushAlice2.events()[2]), 'hi alice, bob here');
    assert.equal(pushAlice2.events()[1].kind, 'message');
    assert.equal(pushAlice2.events()[1].epoch, '2');

    // groupInfo is served to participants: it is the one the last commit carried.
    const gi = await bob.client.groupInfo(roomUri);
    assert.equal(gi.epoch, '2');
    assert.equal(peekMlsMessage(fromB64(gi.groupInfo)).epoch, 2n);

    // alice removes bob: bob still hears of it (the commit), then he is out.
    const rm = await aSess.remove([bob.session.deviceUri]);
    await alice.client.commit(roomUri, {
      commit: toB64(rm.commit),
      groupInfo: toB64(rm.groupInfo),
      ratchetTree: toB64(rm.ratchetTree),
      removeUsers: [bob.session.userUri],
      removeDevices: [bob.session.deviceUri],
      requestId: requestId(),
    });
    aSess = rm.pending;
    await pushBob.waitFor((p) => p.events().length === 3, 'removal commit at bob');
    const removal = pushBob.events()[2];
    assert.equal(removal.kind, 'commit');
    assert.equal(removal.epoch, '2');
    // bob wrote this before learning of the removal; its epoch (2) would still be accepted from a member.
    const late = await bSess.encrypt(utf8('am I still here?'));
    const processed = await bSess.process(fromB64(removal.payload));
    assert.equal(processed.result.kind === 'commit' && processed.result.selfRemoved, true);
    await pushAlice2.waitFor((p) => p.events().length === 4, 'removal commit at alice2');
    a2Sess = (await a2Sess.process(fromB64(pushAlice2.events()[3].payload))).session;
    assert.equal(a2Sess.epoch, 3n);

    await rejects(bob.client.sendMessage(roomUri, { message: toB64(late.message), requestId: requestId() }), 403, 'notMember');
    await rejects(bob.client.getRoom(roomUri), 403, 'notMember');
    await rejects(bob.client.groupInfo(roomUri), 403, 'notMember');
    assert.deepEqual((await alice.client.getRoom(roomUri)).participants, [alice.session.userUri]);
    // bob is gone from fanout: alice's next message reaches only her other device.
    const m3 = await aSess.encrypt(utf8('just us now'));
    await alice.client.sendMessage(roomUri, { message: toB64(m3.message), requestId: requestId() });
    await pushAlice2.waitFor((p) => p.events().length === 5, 'message at alice2');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pushBob.events().length, 3);
    await Promise.all([pushBob.close(), pushAlice.close(), pushAlice2.close()]);
  });

  test('two commits for one epoch posted concurrently: exactly one wins, the other gets 409 wrongEpoch', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('racer'));
    const b = await registerDevice(tp, engine, uniqueHandle('racer'));
    await publishKeyPackages(engine, b, 1);
    const pushB = new RawPush(tp, b.session.token, 0);
    await pushB.opened;
    let { roomUri, session: aSess } = await roomOf(a);
    ({ session: aSess } = await addUsers(a, roomUri, aSess, [b.session.userUri]));
    await pushB.waitFor((p) => p.events().length === 1, 'welcome');
    const bSess = await joinFrom(b, pushB.events()[0]);

    const c1 = await aSess.update();
    const c2 = await bSess.update();
    const post = (dev: TestDevice, out: typeof c1) =>
      dev.client.commit(roomUri, {
        commit: toB64(out.commit),
        groupInfo: toB64(out.groupInfo),
        ratchetTree: toB64(out.ratchetTree),
        requestId: requestId(),
      });
    const results = await Promise.allSettled([post(a, c1), post(b, c2)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    const err = lost[0].reason as ProviderError;
    assert.equal(err.status, 409);
    assert.equal(err.code, 'wrongEpoch');
    assert.equal(err.currentEpoch, 3n);
    assert.equal((await a.client.getRoom(roomUri)).epoch, '3');
    assert.equal(tp.query<{ n: number }>("SELECT count(*) AS n FROM events WHERE room_uri = ? AND kind = 'commit' AND epoch = 2", roomUri)[0].n, 1);
    // A stale commit posted later is also refused with the current epoch.
    const stale = await rejects(post(a, await aSess.update()), 409, 'wrongEpoch');
    assert.equal(stale.currentEpoch, 3n);
    await pushB.close();
  });

  test('retries with the same requestId are answered once and delivered once', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('retry'));
    const b = await registerDevice(tp, engine, uniqueHandle('retry'));
    await publishKeyPackages(engine, b, 1);
    let { roomUri, session: aSess } = await roomOf(a);
    const claim = await a.client.claim({ roomUri, users: [b.session.userUri] });
    const out = await aSess.add([fromB64(claim.results[0].clients[0].keyPackage!)]);
    const req = {
      commit: toB64(out.commit),
      welcome: toB64(out.welcome!),
      groupInfo: toB64(out.groupInfo),
      ratchetTree: toB64(out.ratchetTree),
      addUsers: [b.session.userUri],
      requestId: requestId(),
    };
    const first = await a.client.commit(roomUri, req);
    const eventsAfterFirst = tp.counts().events;
    const second = await a.client.commit(roomUri, req);
    assert.deepEqual(second, first);
    assert.equal(tp.counts().events, eventsAfterFirst);
    aSess = out.pending;

    const m = await aSess.encrypt(utf8('once'));
    const msgReq = { message: toB64(m.message), requestId: requestId() };
    const results = await Promise.all([a.client.sendMessage(roomUri, msgReq), a.client.sendMessage(roomUri, msgReq)]);
    assert.deepEqual(results.map((r) => r.duplicate).sort(), [false, true]);
    assert.equal(results[0].acceptedTimestamp, results[1].acceptedTimestamp);
    const again = await a.client.sendMessage(roomUri, msgReq);
    assert.equal(again.duplicate, true);

    const push = new RawPush(tp, b.session.token, 0);
    await push.waitFor((p) => p.frames.some((f) => f.type === 'caughtUp'), 'caughtUp');
    assert.deepEqual(push.events().map((e) => e.kind), ['welcome', 'message']);
    await push.close();
  });

  test('message epochs: current and previous accepted, older 409 epochTooOld, newer 400 notAllowed', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('epochs'));
    let { roomUri, session: s1 } = await roomOf(a); // epoch 1
    const old = await s1.encrypt(utf8('from epoch 1'));
    s1 = old.session;
    const u2 = await s1.update();
    await a.client.commit(roomUri, { commit: toB64(u2.commit), groupInfo: toB64(u2.groupInfo), ratchetTree: toB64(u2.ratchetTree), requestId: requestId() });
    const s2 = u2.pending; // epoch 2
    // epoch 1 is the previous epoch: accepted
    await a.client.sendMessage(roomUri, { message: toB64(old.message), requestId: requestId() });
    const older = await s2.encrypt(utf8('from epoch 2'));
    const u3 = await older.session.update();
    await a.client.commit(roomUri, { commit: toB64(u3.commit), groupInfo: toB64(u3.groupInfo), ratchetTree: toB64(u3.ratchetTree), requestId: requestId() });
    const s3 = u3.pending; // epoch 3; a message from epoch 1 is now too old
    const tooOld = await rejects(a.client.sendMessage(roomUri, { message: toB64(old.message), requestId: requestId() }), 409, 'epochTooOld');
    assert.equal(tooOld.currentEpoch, 3n);
    await a.client.sendMessage(roomUri, { message: toB64(older.message), requestId: requestId() });
    // A message from an epoch the hub has not reached yet (a commit that was never accepted).
    const ahead = await (await s3.update()).pending.encrypt(utf8('from the future'));
    await rejects(a.client.sendMessage(roomUri, { message: toB64(ahead.message), requestId: requestId() }), 400, 'notAllowed');
    const current = await s3.encrypt(utf8('now'));
    assert.equal((await a.client.sendMessage(roomUri, { message: toB64(current.message), requestId: requestId() })).duplicate, false);
  });

  test('external commit: a new device of a participant joins from the hub\'s GroupInfo; outsiders cannot', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('ext'));
    const { roomUri } = await roomOf(a);
    const a2 = await loginDevice(tp, engine, a.session.userUri.split('/u/')[1]);
    const gi = await a2.client.groupInfo(roomUri);
    const joined = await engine.joinExternal(a2.keys, fromB64(gi.groupInfo), fromB64(gi.ratchetTree));
    const info = peekMlsMessage(joined.commit);
    assert.equal(info.senderType, 'new_member_commit');
    // The external joiner publishes the new GroupInfo of its epoch.
    const after = await joined.pending.groupInfo();
    const pushA = new RawPush(tp, a.session.token, 0);
    await pushA.opened;
    await a2.client.commit(roomUri, { commit: toB64(joined.commit), groupInfo: toB64(after.groupInfo), ratchetTree: toB64(after.ratchetTree), requestId: requestId() });
    await pushA.waitFor((p) => p.events().length === 1, 'external commit at the existing device');
    assert.equal(pushA.events()[0].kind, 'commit');
    // Now a member device: it can send.
    const m = await joined.pending.encrypt(utf8('joined by myself'));
    await a2.client.sendMessage(roomUri, { message: toB64(m.message), requestId: requestId() });
    await pushA.waitFor((p) => p.events().length === 2, 'message from the joined device');
    await pushA.close();

    const outsider = await registerDevice(tp, engine, uniqueHandle('ext-out'));
    const gi2 = await a.client.groupInfo(roomUri);
    const sneaky = await engine.joinExternal(outsider.keys, fromB64(gi2.groupInfo), fromB64(gi2.ratchetTree));
    const sneakyGi = await sneaky.pending.groupInfo();
    const before = tp.counts();
    await rejects(
      outsider.client.commit(roomUri, { commit: toB64(sneaky.commit), groupInfo: toB64(sneakyGi.groupInfo), ratchetTree: toB64(sneakyGi.ratchetTree), requestId: requestId() }),
      403,
      'notMember',
    );
    assert.deepEqual(tp.counts(), before);
  });

  test('commit checks: non-member, unclaimed welcome, unknown addUsers, welcome to a non-participant', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('chk'));
    const b = await registerDevice(tp, engine, uniqueHandle('chk'));
    await publishKeyPackages(engine, b, 2);
    const { roomUri, session } = await roomOf(a);
    const claim = await a.client.claim({ roomUri, users: [b.session.userUri] });
    const out = await session.add([fromB64(claim.results[0].clients[0].keyPackage!)]);
    const base = { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree) };
    const before = tp.counts();
    // b is not a member device: it cannot post a member commit.
    await rejects(b.client.commit(roomUri, { ...base, welcome: toB64(out.welcome!), addUsers: [b.session.userUri], requestId: requestId() }), 403, 'notMember');
    // welcome to a device whose user is not being added
    await rejects(a.client.commit(roomUri, { ...base, welcome: toB64(out.welcome!), requestId: requestId() }), 400, 'badRequest');
    // unknown user in addUsers
    await rejects(
      a.client.commit(roomUri, { ...base, welcome: toB64(out.welcome!), addUsers: [b.session.userUri, 'mimi://a.example/u/ghost'], requestId: requestId() }),
      400,
      'userUnknown',
    );
    // A welcome whose KeyPackage was never claimed for this room (b's other package, generated locally).
    const unclaimed = [...b.keyPackages.values()].find((k) => k.publicMessage && toB64(k.publicMessage) !== claim.results[0].clients[0].keyPackage)!;
    const out2 = await session.add([unclaimed.publicMessage]);
    await rejects(
      a.client.commit(roomUri, { commit: toB64(out2.commit), welcome: toB64(out2.welcome!), groupInfo: toB64(out2.groupInfo), ratchetTree: toB64(out2.ratchetTree), addUsers: [b.session.userUri], requestId: requestId() }),
      400,
      'badRequest',
    );
    // removing a device that is not in the room
    await rejects(a.client.commit(roomUri, { ...base, removeDevices: [b.session.deviceUri], requestId: requestId() }), 400, 'badRequest');
    assert.deepEqual(tp.counts(), before);
    // And the valid one still goes through afterwards.
    await a.client.commit(roomUri, { ...base, welcome: toB64(out.welcome!), addUsers: [b.session.userUri], requestId: requestId() });
  });
});

describe('push stream', () => {
  test('resume from a cursor: no gap, no duplicate, even with events accepted during the backlog flush', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('pusher'));
    const b = await registerDevice(tp, engine, uniqueHandle('pushee'));
    await publishKeyPackages(engine, b, 1);
    let { roomUri, session } = await roomOf(a);
    ({ session } = await addUsers(a, roomUri, session, [b.session.userUri]));
    const encrypt = async (n: number, label: string) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const m = await session.encrypt(utf8(`${label} ${i}`));
        session = m.session;
        out.push(toB64(m.message));
      }
      return out;
    };
    const post = (message: string) => a.client.sendMessage(roomUri, { message, requestId: requestId() });
    // A backlog of many read batches (50 here), so it is flushed in several steps.
    for (const m of await encrypt(450, 'backlog')) await post(m);

    // First connection: read all, take the 100th seq as "stored", drop the connection.
    const p1 = new RawPush(tp, b.session.token, 0);
    await p1.waitFor((p) => p.frames.some((f) => f.type === 'caughtUp'), 'first caughtUp');
    const seqs1 = p1.events().map((e) => e.seq);
    assert.equal(seqs1.length, 451); // welcome + 450 messages
    assert.ok(seqs1.every((s, i) => i === 0 || s > seqs1[i - 1]), 'seq strictly increasing');
    await p1.close();
    const cursor = seqs1[99];

    // More messages while offline; then reconnect while more are being accepted concurrently.
    for (const m of await encrypt(10, 'offline')) await post(m);
    const live = await encrypt(40, 'during');
    const p2 = new RawPush(tp, b.session.token, cursor);
    await Promise.all(live.map(post));
    const expected = 451 - 100 + 10 + 40;
    await p2.waitFor((p) => p.events().length >= expected, 'all events after the cursor');
    await new Promise((r) => setTimeout(r, 100));
    const events = p2.events();
    const seqs2 = events.map((e) => e.seq);
    assert.equal(seqs2.length, expected, 'nothing extra arrived');
    assert.equal(new Set(seqs2).size, seqs2.length, 'no duplicates');
    assert.ok(seqs2.every((s, i) => (i === 0 ? s > cursor : s > seqs2[i - 1])), 'in order, after the cursor');
    assert.deepEqual(seqs2.slice(0, 351), seqs1.slice(100), 'backlog resumes exactly after the cursor');
    assert.deepEqual(new Set(events.slice(361).map((e) => e.payload)), new Set(live), 'every concurrently accepted message, once');
    assert.equal(p2.frames.filter((f) => f.type === 'caughtUp').length, 1);
    await p2.close();
  });

  test('ack deletes inbox rows and the events nobody needs any more; acks beyond what was sent are clamped', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('acker'));
    const b = await registerDevice(tp, engine, uniqueHandle('ackee'));
    const a2 = await loginDevice(tp, engine, a.session.userUri.split('/u/')[1]);
    await publishKeyPackages(engine, b, 1);
    await publishKeyPackages(engine, a2, 1);
    let { roomUri, session } = await roomOf(a);
    ({ session } = await addUsers(a, roomUri, session, [b.session.userUri, a.session.userUri]));
    for (let i = 0; i < 5; i++) {
      const m = await session.encrypt(utf8(`m${i}`));
      session = m.session;
      await a.client.sendMessage(roomUri, { message: toB64(m.message), requestId: requestId() });
    }
    const inboxOf = (d: TestDevice) => tp.query<{ seq: number; event_id: number }>('SELECT seq, event_id FROM inbox WHERE device_uri = ? ORDER BY seq', d.session.deviceUri);
    const eventExists = (id: number) => tp.query('SELECT 1 FROM events WHERE id = ?', id).length === 1;
    assert.equal(inboxOf(b).length, 6);
    const sharedEvent = inboxOf(b)[1].event_id; // message 0, also queued for a2

    const pb = new RawPush(tp, b.session.token, 0);
    await pb.waitFor((p) => p.events().length === 6, 'b backlog');
    const seqs = pb.events().map((e) => e.seq);
    pb.ack(seqs[2]);
    await waitUntil(() => inboxOf(b).length === 3, 'b inbox trimmed');
    assert.deepEqual(inboxOf(b).map((r) => r.seq), seqs.slice(3));
    assert.ok(eventExists(sharedEvent), 'still queued for a2, so kept');

    const pa2 = new RawPush(tp, a2.session.token, 0);
    await pa2.waitFor((p) => p.events().length === 6, 'a2 backlog');
    pa2.ack(pa2.events()[5].seq);
    await waitUntil(() => inboxOf(a2).length === 0, 'a2 inbox emptied');
    assert.ok(!eventExists(sharedEvent), 'no inbox references it any more: deleted');

    // An ack for seqs the session never sent cannot delete them.
    await pb.close();
    const m = await session.encrypt(utf8('not yet seen'));
    await a.client.sendMessage(roomUri, { message: toB64(m.message), requestId: requestId() });
    const pb2 = new RawPush(tp, b.session.token, seqs[5]);
    await pb2.waitFor((p) => p.frames.some((f) => f.type === 'caughtUp'), 'caughtUp');
    const lastSent = pb2.events().at(-1)!.seq;
    pb2.ack(lastSent + 1000);
    await waitUntil(() => inboxOf(b).length === 0, 'acked up to what was sent');
    const m2 = await m.session.encrypt(utf8('after the bogus ack'));
    await a.client.sendMessage(roomUri, { message: toB64(m2.message), requestId: requestId() });
    await pb2.waitFor((p) => p.events().length === 2, 'the next event still arrives');
    assert.equal(inboxOf(b).length, 1);
    await pb2.close();
  });

  test('upgrade with a missing or unknown token is refused with 401; a bad cursor with 400', async () => {
    const noToken = new RawPush(tp, undefined, 0);
    await assert.rejects(noToken.opened, (e: { status?: number }) => e.status === 401);
    const badToken = new RawPush(tp, 'B'.repeat(43), 0);
    await assert.rejects(badToken.opened, (e: { status?: number }) => e.status === 401);
    const dev = await registerDevice(tp, engine, uniqueHandle('cursor'));
    const badCursor = new RawPush(tp, dev.session.token, -1 as number);
    await assert.rejects(badCursor.opened, (e: { status?: number }) => e.status === 400);
    // A malformed frame from the client closes the stream with a policy error.
    const p = new RawPush(tp, dev.session.token, 0);
    await p.opened;
    p.ws.send('{"type":"nonsense"}');
    assert.equal((await p.closed).code, 1008);
  });

  test('keepalive: the server pings; a client that never answers is dropped, one that does stays', async () => {
    const dev = await registerDevice(tp, engine, uniqueHandle('pong'));
    const url = `${tp.p.url.replace('https', 'wss')}/v1/events?cursor=0`;
    const open = (autoPong: boolean) => {
      const ws = new WebSocket(url, { ca: tp.p.caPem, headers: { authorization: `Bearer ${dev.session.token}` }, autoPong });
      let pings = 0;
      ws.on('ping', () => pings++);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      return { ws, closed, pings: () => pings };
    };
    const silent = open(false);
    const polite = open(true);
    // pingIntervalMs is 200 in this file: dropped after the second unanswered round.
    const code = await silent.closed;
    assert.equal(code, 1006, 'terminated without a close frame');
    assert.ok(silent.pings() >= 1);
    assert.equal(polite.ws.readyState, WebSocket.OPEN);
    assert.ok(polite.pings() >= 1);
    polite.ws.close();
    await polite.closed;
  });

  test('PushConnection: emits events, acks confirmed seqs, reconnects after a provider restart and resumes', async () => {
    const a = await registerDevice(tp, engine, uniqueHandle('pc'));
    const b = await registerDevice(tp, engine, uniqueHandle('pc'));
    await publishKeyPackages(engine, b, 1);
    let { roomUri, session } = await roomOf(a);
    ({ session } = await addUsers(a, roomUri, session, [b.session.userUri]));
    const send = async (text: string) => {
      const m = await session.encrypt(utf8(text));
      session = m.session;
      await a.client.sendMessage(roomUri, { message: toB64(m.message), requestId: requestId() });
    };

    const conn = new PushConnection({ baseUrl: tp.p.url, caPem: tp.p.caPem, token: b.session.token, backoffBaseMs: 50, backoffCapMs: 200 });
    const got: PushEvent[] = [];
    const states: PushState[] = [];
    let caughtUp = 0;
    conn.on('event', (e) => {
      got.push(e);
      conn.confirm(e.seq); // "stored"
    });
    conn.on('state', (s) => states.push(s));
    conn.on('caughtUp', () => caughtUp++);
    conn.start(0);
    await waitUntil(() => caughtUp === 1 && got.length === 1, 'welcome + caughtUp');
    assert.equal(conn.state, 'online');
    await send('one');
    await waitUntil(() => got.length === 2, 'live event');
    await waitUntil(() => tp.query('SELECT 1 FROM inbox WHERE device_uri = ?', b.session.deviceUri).length === 0, 'acks delete the inbox');

    await tp.restart();
    await waitUntil(() => states.includes('offline'), 'offline after restart');
    // The old client has pooled connections to the stopped server; a fresh one sends.
    a.client = tp.client(a.session.token);
    await send('two');
    await send('three');
    await waitUntil(() => got.length === 4 && caughtUp === 2, 'resumed after reconnect', 15_000);
    assert.deepEqual(
      got.map((e) => e.kind),
      ['welcome', 'message', 'message', 'message'],
    );
    assert.equal(new Set(got.map((e) => e.seq)).size, 4);
    assert.deepEqual(states.slice(0, 2), ['connecting', 'online']);
    assert.equal(states.at(-1), 'online');
    conn.stop();
    assert.equal(conn.state, 'offline');

    // An unknown token is not retried forever: one error, then the connection stops.
    const bad = new PushConnection({ baseUrl: tp.p.url, caPem: tp.p.caPem, token: 'C'.repeat(43), backoffBaseMs: 10 });
    const errors: ProviderError[] = [];
    bad.on('error', (e) => errors.push(e));
    bad.start(0);
    await waitUntil(() => errors.length === 1, 'unauthorized error');
    assert.equal(errors[0].code, 'unauthorized');
    assert.equal(bad.state, 'offline');
  });
});

describe('client transport', () => {
  test('an unreachable provider, and a provider whose certificate is not from the pinned CA, give code unreachable', async () => {
    const port = tp.p.port;
    const dead = new ProviderClient({ baseUrl: 'https://127.0.0.1:1', caPem: tp.p.caPem });
    const e1 = await rejects(dead.health(), 0, 'unreachable');
    assert.match(e1.message, /https:\/\/127\.0\.0\.1:1 can't be reached/);
    // Another data dir = another CA: the pinned CA does not vouch for this server.
    const other = await startTestProvider('b.example');
    try {
      const wrongCa = new ProviderClient({ baseUrl: `https://127.0.0.1:${port}`, caPem: other.p.caPem });
      await rejects(wrongCa.health(), 0, 'unreachable');
      wrongCa.close();
    } finally {
      await other.stop();
    }
    dead.close();
  });

  test('the dev CA and server certificate are created once, reused on restart, keys 0600', async () => {
    const files = ['ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem'].map((f) => path.join(tp.dataDir, f));
    const before = files.map((f) => fs.readFileSync(f, 'utf8'));
    assert.equal(before[0], tp.p.caPem);
    assert.equal(fs.statSync(files[1]).mode & 0o777, 0o600);
    assert.equal(fs.statSync(files[3]).mode & 0o777, 0o600);
    const { X509Certificate } = await import('node:crypto');
    const cert = new X509Certificate(before[2]);
    assert.ok(cert.checkIssued(new X509Certificate(before[0])));
    assert.equal(cert.subjectAltName, 'DNS:a.example, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    await tp.restart();
    assert.deepEqual(files.map((f) => fs.readFileSync(f, 'utf8')), before);
    assert.deepEqual(await tp.client().health(), { ok: true });
  });

  test('the database holds no password and no token', async () => {
    const handle = uniqueHandle('secret');
    const password = `pw-${handle}-unguessable-${Date.now()}`;
    const s = await tp.client().register({ handle, password, deviceName: 'x' });
    const s2 = await tp.client().login({ handle, password, deviceName: 'y' });
    // The database file and its WAL on SQLite, every stored row on PostgreSQL.
    const bytes = providerStorageBytes(tp.dataDir);
    assert.ok(bytes.length > 0);
    for (const secret of [password, s.token, s2.token]) {
      assert.equal(bytes.indexOf(Buffer.from(secret, 'utf8')), -1, `${secret.slice(0, 6)}... found in the provider database`);
    }
    const row = tp.query<{ pw_hash: string }>('SELECT pw_hash FROM users WHERE handle = ?', handle)[0];
    assert.match(row.pw_hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.ok(!bytesEqual(utf8(row.pw_hash), utf8(password)));
  });
});

async function fetchRaw(method: string, p: string, body?: string): Promise<{ status: number; json: any }> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(`${tp.p.url}${p}`, { method, ca: tp.p.caPem }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
