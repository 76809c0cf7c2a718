// The account's devices against a real provider process (HTTPS, its own SQLite file): the list
// with `current` and last-seen times, renaming, removing another device (its token, KeyPackages,
// inbox and push stream end at once, and the hub proposes its Removes in the rooms it hosts, which
// a remaining device commits), signing out, the push notices the other devices get, and bad input
// that changes nothing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import { welcomeRecipients } from '../../src-shared/mls-wire.js';
import type { PushDevicesNotice } from '../../src-shared/provider-api.js';
import type { DeviceKeys, GeneratedKeyPackage, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { startProviderProcess, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

const PASSWORD = 'correct horse battery staple';
const EXTERNAL_SENDERS = 5;

let prov: ProviderProcess;
let engine: MlsEngine;
const clients: ProviderClient[] = [];
const streams: Stream[] = [];

before(async () => {
  engine = await createMlsEngine();
  // Last-seen written at most once a second here (a minute by default), so a test can see both
  // the throttle and the time moving.
  prov = await startProviderProcess({ domain: 'a.example', args: ['--last-seen-interval', '1'] });
});
after(async () => {
  for (const s of streams) s.ws.terminate();
  for (const c of clients) c.close();
  await prov?.stop();
  assert.doesNotMatch(prov.output(), /internal error/, 'the provider logged no internal error');
  fs.rmSync(prov.dataDir, { recursive: true, force: true });
});

const client = (token?: string): ProviderClient => {
  const c = new ProviderClient({ baseUrl: prov.url, caPem: prov.caPem, token });
  clients.push(c);
  return c;
};

/** Every frame of a device's push stream (events and notices), unacknowledged. */
class Stream {
  readonly frames: Record<string, unknown>[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;
  constructor(token: string) {
    this.ws = new WebSocket(`${prov.url.replace('https', 'wss')}/v1/events?cursor=0`, { ca: prov.caPem, headers: { authorization: `Bearer ${token}` } });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
    this.ws.on('message', (d) => this.frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    streams.push(this);
  }
  notices(): PushDevicesNotice[] {
    return this.frames.filter((f) => f.type === 'notice' && f.topic === 'devices') as unknown as PushDevicesNotice[];
  }
  events(): { kind: string; payload: string; ratchetTree?: string; senderDevice: string; epoch: string }[] {
    return this.frames.filter((f) => f.type === 'event') as never;
  }
}

async function rejects(p: Promise<unknown>, status: number, code: string, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected ProviderError, got ${e}`);
    assert.equal(e.code, code, `code (message: ${e.message})`);
    assert.equal(e.status, status, `status (message: ${e.message})`);
    if (message) assert.match(e.message, message);
    return;
  }
  assert.fail(`expected ${status} ${code}, but the call succeeded`);
}

const db = <T>(sql: string, ...params: unknown[]): T[] => {
  return withProviderDb(prov.dataDir, (d) => d.prepare(sql).all(...params) as T[]);
};
const deviceRows = () => db<Record<string, unknown>>('SELECT device_uri, device_id, name, created_at FROM devices ORDER BY device_uri');

let n = 0;
async function account(base: string) {
  const handle = `${base}${process.pid % 1000}x${++n}`;
  const first = client();
  const s1 = await first.register({ handle, password: PASSWORD, deviceName: 'Laptop' });
  return { handle, first, s1 };
}

test('two devices: the list, current, last seen, rename; notices of the add and the rename', async () => {
  const { handle, first, s1 } = await account('dana');
  const stream1 = new Stream(s1.token);
  await stream1.opened;
  const second = client();
  const s2 = await second.login({ handle, password: PASSWORD, deviceName: 'Phone' });
  await waitFor(() => stream1.notices().length === 1, 'the first device hears of the new one');
  assert.deepEqual(stream1.notices()[0], { type: 'notice', topic: 'devices', change: 'added', deviceUri: s2.deviceUri, deviceId: s2.deviceId, name: 'Phone' });

  const fromFirst = await first.listDevices();
  assert.deepEqual(
    fromFirst.map((d) => [d.deviceUri, d.deviceId, d.name, d.current]),
    [
      [s1.deviceUri, s1.deviceId, 'Laptop', true],
      [s2.deviceUri, s2.deviceId, 'Phone', false],
    ],
  );
  assert.ok(fromFirst.every((d) => typeof d.createdAt === 'number' && d.createdAt > 0));
  assert.equal(fromFirst[1].lastSeenAt, null, 'the phone has made no authenticated request yet');
  assert.ok(typeof fromFirst[0].lastSeenAt === 'number', 'the laptop was seen asking');
  const fromSecond = await second.listDevices();
  assert.deepEqual(fromSecond.map((d) => d.current), [false, true]);
  const seen1 = fromSecond[1].lastSeenAt!;
  assert.ok(seen1 > 0);
  // Within the interval the time is not written again; after it, it moves.
  await second.keyPackageCount();
  assert.equal((await first.listDevices())[1].lastSeenAt, seen1, 'throttled: no write within the interval');
  await new Promise((r) => setTimeout(r, 1100));
  await second.keyPackageCount();
  const seen2 = (await first.listDevices())[1].lastSeenAt!;
  assert.ok(seen2 >= seen1 + 1000, `last seen moved (${seen1} -> ${seen2})`);

  const renamed = await first.renameDevice(s2.deviceId, '  Work phone \u{1F4F1} ');
  assert.equal(renamed.name, 'Work phone \u{1F4F1}');
  assert.equal(renamed.current, false);
  assert.equal((await second.listDevices())[1].name, 'Work phone \u{1F4F1}');
  await waitFor(() => stream1.notices().length === 2, 'the rename notice');
  assert.equal(stream1.notices()[1].change, 'renamed');
  assert.equal(stream1.notices()[1].name, 'Work phone \u{1F4F1}');
  // Another account sees none of them.
  const other = await account('erin');
  assert.deepEqual((await other.first.listDevices()).map((d) => d.deviceUri), [other.s1.deviceUri]);
});

test('bad input changes nothing: names, unknown and foreign devices, removing oneself', async () => {
  const { handle, first, s1 } = await account('fay');
  const second = client();
  const s2 = await second.login({ handle, password: PASSWORD, deviceName: 'Tablet' });
  const other = await account('gus');
  const before = deviceRows();
  for (const bad of ['', '    ', 'x'.repeat(65), 'a\u0007b', 'line\nbreak', 'evil\u202Egnp.exe', 'para\u2029graph']) {
    await rejects(first.renameDevice(s2.deviceId, bad), 400, 'badRequest', /device name/);
  }
  // 64 characters (code points, not UTF-16 units) is allowed; 65 is not.
  await rejects(first.renameDevice(s2.deviceId, '\u{1F600}'.repeat(65)), 400, 'badRequest', /65 characters/);
  const raw = await fetchJson('PATCH', `/v1/me/devices/${encodeURIComponent(s2.deviceId)}`, s1.token, { name: 42 });
  assert.equal(raw.status, 400);
  assert.match(raw.body.error.message, /"name" must be a string/);
  const extra = await fetchJson('PATCH', `/v1/me/devices/${encodeURIComponent(s2.deviceId)}`, s1.token, { name: 'ok', colour: 'red' });
  assert.equal(extra.status, 400);
  assert.match(extra.body.error.message, /unknown field "colour"/);
  await rejects(first.renameDevice('AAAAAAAAAAAAAAAAAAAAAA', 'Nope'), 404, 'notFound', /no device/);
  await rejects(first.renameDevice(other.s1.deviceId, 'Mine now'), 404, 'notFound', /no device/);
  await rejects(first.removeDevice(other.s1.deviceId), 404, 'notFound', /no device/);
  await rejects(first.removeDevice(s1.deviceId), 403, 'notAllowed', /sign out/);
  await rejects(client('A'.repeat(43)).listDevices(), 401, 'unauthorized');
  assert.deepEqual(deviceRows(), before, 'no device row changed');
  assert.equal((await first.listDevices()).length, 2);
  assert.equal((await other.first.listDevices()).length, 1);
  assert.equal((await first.renameDevice(s2.deviceId, '\u{1F600}'.repeat(64))).name, '\u{1F600}'.repeat(64));
});

function fetchJson(method: string, p: string, token: string, body: unknown): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    import('node:https').then(({ default: https }) => {
      const req = https.request(new URL(prov.url + p), { method, ca: prov.caPem, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(payload.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.on('error', reject);
      req.end(payload);
    }, reject);
  });
}

interface Dev {
  client: ProviderClient;
  keys: DeviceKeys;
  kps: Map<string, GeneratedKeyPackage>;
}

async function publish(dev: Dev, count: number): Promise<void> {
  const kps = await engine.generateKeyPackages(dev.keys, count);
  for (const kp of kps) dev.kps.set(toHex(kp.ref), kp);
  await dev.client.uploadKeyPackages({ keyPackages: kps.map((k) => toB64(k.publicMessage)) });
}

let req = 0;
const rid = () => `dev-test-${process.pid}-${++req}`;

test('removing the second device: token, KeyPackages, inbox and stream end; the hub proposes its Remove and the first device commits it', async () => {
  const { handle, first, s1 } = await account('hal');
  const second = client();
  const s2 = await second.login({ handle, password: PASSWORD, deviceName: 'Old phone' });
  const d1: Dev = { client: first, keys: await engine.newDeviceKeys(s1.deviceUri), kps: new Map() };
  const d2: Dev = { client: second, keys: await engine.newDeviceKeys(s2.deviceUri), kps: new Map() };
  await publish(d2, 3);
  const stream1 = new Stream(s1.token);
  const stream2 = new Stream(s2.token);
  await Promise.all([stream1.opened, stream2.opened]);

  // A room hosted here, its GroupContext naming the hub as external sender; both devices in it.
  const roomUri = `mimi://a.example/r/devices-${process.pid}-${Date.now()}`;
  const hubSender = fromB64((await first.hubSender()).externalSender);
  await first.createRoom({ roomUri });
  let session: GroupSession = await engine.createGroup(d1.keys, roomUri, [{ type: EXTERNAL_SENDERS, data: hubSender }]);
  const claim = await first.claim({ roomUri, users: [s1.userUri] });
  const kp = claim.results[0].clients.find((c) => c.deviceUri === s2.deviceUri)?.keyPackage;
  assert.ok(kp, "the second device's KeyPackage is claimable before");
  const add = await session.add([fromB64(kp)]);
  await first.commit(roomUri, { commit: toB64(add.commit), welcome: toB64(add.welcome!), groupInfo: toB64(add.groupInfo), ratchetTree: toB64(add.ratchetTree), requestId: rid() });
  session = add.pending;
  await waitFor(() => stream2.events().some((e) => e.kind === 'welcome'), 'the welcome at the second device');
  const welcome = stream2.events().find((e) => e.kind === 'welcome')!;
  const ref = welcomeRecipients(fromB64(welcome.payload)).map(toHex).find((r) => d2.kps.has(r))!;
  const session2 = await engine.joinFromWelcome(d2.keys, fromB64(welcome.payload), d2.kps.get(ref)!, fromB64(welcome.ratchetTree!));
  assert.deepEqual(session2.members().map((m) => m.identity).sort(), [s1.deviceUri, s2.deviceUri].sort());
  assert.ok(db<{ n: number }>('SELECT count(*) AS n FROM inbox WHERE device_uri = ?', s2.deviceUri)[0].n > 0, 'its inbox holds the (unacknowledged) welcome');
  assert.equal(db<{ n: number }>('SELECT count(*) AS n FROM key_packages WHERE device_uri = ? AND claimed = 0', s2.deviceUri)[0].n, 2);

  const removed = await first.removeDevice(s2.deviceId);
  assert.deepEqual(removed, { removed: true, deviceUri: s2.deviceUri, roomsProposed: [roomUri], roomsElsewhere: [] });

  // At once: the token, the open stream, the KeyPackages, the inbox.
  await rejects(second.listDevices(), 401, 'unauthorized');
  assert.equal(await stream2.closed, 4401, 'its push stream was closed');
  await assert.rejects(new Stream(s2.token).opened, (e: { status?: number }) => e.status === 401);
  const after = await first.claim({ roomUri, users: [s1.userUri] });
  assert.ok(!after.results.flatMap((r) => r.clients).some((c) => c.deviceUri === s2.deviceUri), 'no claim hands out the removed device');
  assert.equal(db<{ n: number }>('SELECT count(*) AS n FROM key_packages WHERE device_uri = ?', s2.deviceUri)[0].n, 0);
  assert.equal(db<{ n: number }>('SELECT count(*) AS n FROM inbox WHERE device_uri = ?', s2.deviceUri)[0].n, 0);
  assert.deepEqual((await first.listDevices()).map((d) => d.deviceUri), [s1.deviceUri]);

  // The first device: the notice, and the hub's Remove of the second device's leaf.
  await waitFor(() => stream1.notices().some((n2) => n2.change === 'removed'), 'the removal notice');
  assert.deepEqual(stream1.notices().find((n2) => n2.change === 'removed'), {
    type: 'notice',
    topic: 'devices',
    change: 'removed',
    deviceUri: s2.deviceUri,
    deviceId: s2.deviceId,
    name: 'Old phone',
  });
  await waitFor(() => stream1.events().some((e) => e.senderDevice === 'mimi://a.example'), "the hub's proposal at the first device");
  const proposal = stream1.events().find((e) => e.senderDevice === 'mimi://a.example')!;
  assert.equal(proposal.kind, 'commit');
  assert.equal(proposal.epoch, '1');
  session = (await session.process(fromB64(proposal.payload))).session;
  assert.deepEqual(session.pendingRemovals(), [{ identity: s2.deviceUri, departed: true, byHub: true }]);
  assert.deepEqual(db<{ device_uri: string }>('SELECT device_uri FROM pending_removals WHERE room_uri = ?', roomUri), [{ device_uri: s2.deviceUri }]);
  const commit = await session.commitChanges({});
  await first.commit(roomUri, { commit: toB64(commit.commit), groupInfo: toB64(commit.groupInfo), ratchetTree: toB64(commit.ratchetTree), removeDevices: [s2.deviceUri], requestId: rid() });
  assert.deepEqual(commit.pending.members().map((m) => m.identity), [s1.deviceUri]);
  assert.equal(db<{ n: number }>('SELECT count(*) AS n FROM pending_removals WHERE room_uri = ?', roomUri)[0].n, 0);
  assert.deepEqual(db<{ device_uri: string }>('SELECT device_uri FROM room_devices WHERE room_uri = ?', roomUri), [{ device_uri: s1.deviceUri }]);

  // Idempotent: the second time there is nothing to remove.
  await rejects(first.removeDevice(s2.deviceId), 404, 'notFound', /removed/);
});

test('signing out removes the calling device; the others hear of it', async () => {
  const { handle, first, s1 } = await account('ivy');
  const stream1 = new Stream(s1.token);
  await stream1.opened;
  const third = client();
  const s3 = await third.login({ handle, password: PASSWORD, deviceName: 'Borrowed laptop' });
  const out = await third.signOut();
  assert.equal(out.deviceUri, s3.deviceUri);
  await rejects(client(s3.token).listDevices(), 401, 'unauthorized');
  await waitFor(() => stream1.notices().length === 2, 'added and removed notices');
  assert.deepEqual(stream1.notices().map((x) => [x.change, x.deviceUri]), [
    ['added', s3.deviceUri],
    ['removed', s3.deviceUri],
  ]);
  assert.deepEqual((await first.listDevices()).map((d) => d.deviceUri), [s1.deviceUri]);
});
