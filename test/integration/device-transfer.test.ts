// Verifying one's own devices and moving the history to a new one (core/device-link.ts,
// src-provider/device-messages.ts, docs/device-transfer.md), against a real provider process:
// alice's laptop and phone are two profiles of one account; bob is another account.
//
//   - the relay takes messages only between two devices of one account (404 for anyone else);
//   - a relay that swaps the revealed key, or the responder's key, ends both sides with nothing
//     verified (the tests wrap a device's relay calls: the messages still go through the provider);
//   - an honest exchange shows the same 12 digits on both devices and marks each verified;
//   - a fresh third device gets a few hundred messages in several rooms from the laptop, with
//     progress on both sides; afterwards the snapshot is gone from the provider, and neither the
//     provider's data directory nor its log holds any message text.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { toB64 } from '../../src-shared/bytes.js';
import { newEphemeral } from '../../src-shared/device-verification.js';
import type { DeviceVerificationView, HistoryTransferView } from '../../src-shared/contract.js';
import { encodeWire, parseWire } from '../../src-main/core/device-link-machine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { ProviderError, type ProviderClient } from '../../src-main/net/provider-client.js';
import { testProfile } from '../helpers/profiles.js';
import { startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../helpers/provider-process.js';
import { onPostgres, providerStorageBytes, withProviderDb } from '../helpers/provider-db.js';
import { mimi, register } from '../helpers/mimi-cli.js';

// Small chunks: a few hundred messages make many of them, so progress has steps to show.
process.env.MIMI_BACKUP_CHUNK_BYTES = '4096';

let engine: MlsEngine;
let provider: ProviderProcess;
const profiles: Profile[] = [];
let laptop: Profile;
let phone: Profile;
let bob: Profile;

before(async () => {
  engine = await createMlsEngine();
  provider = await startProviderProcess({ domain: 'a.example' });
  laptop = await testProfile(provider, 'alice', { engine, keep: profiles, dirPrefix: 'xfer', deviceName: 'Laptop' });
  phone = await testProfile(provider, 'alice', { engine, keep: profiles, dirPrefix: 'xfer-phone', how: 'login', deviceName: 'Phone' });
  bob = await testProfile(provider, 'bob', { engine, keep: profiles, dirPrefix: 'xfer' });
});
after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  await provider?.stop();
});

const clientOf = (p: Profile): ProviderClient => (p as unknown as { client: ProviderClient }).client;
const deviceIdOf = (p: Profile): string => p.config.deviceId;

function providerDb<T>(fn: (db: Database.Database) => T): T {
  return withProviderDb(provider.dataDir, fn);
}

async function refused(p: Promise<unknown>, status: number): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.status, status, e.message);
    return e;
  }
  assert.fail(`expected ${status}`);
}

/**
 * Answers for a device's person: accept requests, and the digits "match" (or what `answer` says).
 * Records every view.
 */
function person(p: Profile, answer: (v: DeviceVerificationView) => 'match' | 'mismatch' = () => 'match') {
  const views: DeviceVerificationView[] = [];
  const history: HistoryTransferView[] = [];
  const onView = (v: DeviceVerificationView) => {
    views.push(v);
    if (v.stage === 'incoming') void p.deviceLink.answer(v.attemptId, 'accept').catch(() => undefined);
    if (v.stage === 'compare') void p.deviceLink.answer(v.attemptId, answer(v)).catch(() => undefined);
  };
  const onHistory = (h: HistoryTransferView) => {
    history.push(h);
    if (h.stage === 'confirm') void p.deviceLink.answerHistory(h.attemptId, true).catch(() => undefined);
  };
  p.deviceLink.on('verification', onView);
  p.deviceLink.on('history', onHistory);
  return {
    views,
    history,
    last: () => views[views.length - 1],
    stop: () => {
      p.deviceLink.off('verification', onView);
      p.deviceLink.off('history', onHistory);
    },
  };
}

const ended = (x: { last(): DeviceVerificationView | undefined }) => () => ['verified', 'failed'].includes(x.last()?.stage ?? '');

test('the relay carries messages only between two devices of one account', async () => {
  const body = new TextEncoder().encode('hello other device');
  // bob cannot reach alice's device, nor can alice's phone message itself, nor an unknown id.
  await refused(clientOf(bob).sendDeviceMessage(deviceIdOf(laptop), body), 404);
  await refused(clientOf(phone).sendDeviceMessage(deviceIdOf(phone), body), 404);
  await refused(clientOf(phone).sendDeviceMessage('no-such-device', body), 404);
  await refused(clientOf(phone).sendDeviceMessage(deviceIdOf(laptop), new Uint8Array(64 * 1024 + 1)), 413);
  assert.equal(providerDb((db) => (db.prepare('SELECT COUNT(*) AS n FROM device_messages').get() as { n: number }).n), 0, 'nothing refused was stored');

  // Between alice's devices: stored, fetched by the addressee only, deleted on ack. (The laptop's
  // link would fetch it on the notice; its relay fetch is paused for this check.)
  const relay = laptop.deviceLink.relay;
  laptop.deviceLink.relay = { ...relay, fetch: async () => [] };
  try {
    const sent = await clientOf(phone).sendDeviceMessage(deviceIdOf(laptop), body);
    assert.ok(sent.expiresAt > Date.now() + 9 * 60_000, 'kept for 10 minutes');
    assert.deepEqual(await clientOf(bob).deviceMessages(), [], 'bob sees none of it');
    assert.deepEqual(await clientOf(phone).deviceMessages(), [], 'not the sender’s');
    const got = await clientOf(laptop).deviceMessages();
    assert.equal(got.length, 1);
    assert.equal(got[0].fromDeviceId, deviceIdOf(phone));
    assert.equal(got[0].body, toB64(body));
    assert.deepEqual(await clientOf(bob).ackDeviceMessages([got[0].id]), { deleted: 0 }, 'bob cannot delete it');
    assert.deepEqual(await clientOf(laptop).ackDeviceMessages([got[0].id]), { deleted: 1 });
    assert.deepEqual(await clientOf(laptop).deviceMessages(), []);
  } finally {
    laptop.deviceLink.relay = relay;
  }
});

test('a relay that swaps the revealed key: both sides end "tampered", nothing is verified', async () => {
  const a = person(laptop);
  const b = person(phone);
  const evil = newEphemeral();
  const relay = phone.deviceLink.relay;
  // The phone starts, so its reveal is what a relay in the middle would swap.
  phone.deviceLink.relay = {
    ...relay,
    send: (id, body) => {
      const w = parseWire(body);
      return relay.send(id, w?.t === 'reveal' ? encodeWire({ ...w, key: toB64(evil.publicKey) }) : body);
    },
  };
  try {
    await phone.deviceLink.start(deviceIdOf(laptop));
    await waitFor(() => ended(a)() && ended(b)(), 'both sides ended', 30_000);
  } finally {
    phone.deviceLink.relay = relay;
    a.stop();
    b.stop();
  }
  assert.equal(a.last().stage, 'failed');
  assert.equal(a.last().reason, 'tampered');
  assert.equal(b.last().stage, 'failed');
  assert.equal(b.last().reason, 'tampered');
  assert.ok(!a.views.some((v) => v.digits), 'the laptop never showed digits');
  assert.equal(laptop.deviceLink.verifiedIds().size, 0);
  assert.equal(phone.deviceLink.verifiedIds().size, 0);
});

test('a relay that swaps the responder’s key: the digits differ, "they don’t match" ends both, nothing verified', async () => {
  const a = person(laptop);
  const b = person(phone, () => 'mismatch');
  const evil = newEphemeral();
  const relay = laptop.deviceLink.relay;
  laptop.deviceLink.relay = {
    ...relay,
    send: (id, body) => {
      const w = parseWire(body);
      return relay.send(id, w?.t === 'accept' ? encodeWire({ ...w, key: toB64(evil.publicKey) }) : body);
    },
  };
  // The laptop's person does not answer the digits: the phone's "they don't match" comes first.
  const hold = (v: DeviceVerificationView) => v.stage === 'compare';
  laptop.deviceLink.removeAllListeners('verification');
  const laptopViews: DeviceVerificationView[] = [];
  laptop.deviceLink.on('verification', (v) => {
    laptopViews.push(v);
    if (v.stage === 'incoming') void laptop.deviceLink.answer(v.attemptId, 'accept');
  });
  try {
    await phone.deviceLink.start(deviceIdOf(laptop));
    await waitFor(() => laptopViews.some(hold) && b.views.some(hold), 'both show digits', 30_000);
    const digitsLaptop = laptopViews.find(hold)!.digits!;
    const digitsPhone = b.views.find(hold)!.digits!;
    assert.notDeepEqual(digitsLaptop, digitsPhone, 'a swapped key gives different digits');
    await waitFor(() => ended(b)() && laptopViews.at(-1)!.stage === 'failed', 'both sides ended', 30_000);
  } finally {
    laptop.deviceLink.relay = relay;
    laptop.deviceLink.removeAllListeners('verification');
    a.stop();
    b.stop();
  }
  assert.equal(b.last().reason, 'mismatch');
  assert.equal(laptopViews.at(-1)!.reason, 'mismatch');
  assert.equal(laptop.deviceLink.verifiedIds().size, 0);
  assert.equal(phone.deviceLink.verifiedIds().size, 0);
});

test('two devices of one account: the same 12 digits on both, each marks the other verified; a second attempt meanwhile is refused', async () => {
  const a = person(laptop);
  const b = person(phone);
  try {
    const started = await phone.deviceLink.start(deviceIdOf(laptop));
    assert.equal(started.stage, 'waiting');
    await assert.rejects(phone.deviceLink.start(deviceIdOf(laptop)), /running already/);
    await waitFor(() => ended(a)() && ended(b)(), 'both verified', 30_000);
  } finally {
    a.stop();
    b.stop();
  }
  const da = a.views.find((v) => v.stage === 'compare')!.digits!;
  const db = b.views.find((v) => v.stage === 'compare')!.digits!;
  assert.deepEqual(da, db);
  assert.match(da.join(' '), /^\d{4} \d{4} \d{4}$/);
  assert.equal(a.last().stage, 'verified');
  assert.equal(b.last().stage, 'verified');
  assert.equal(a.last().otherDevice.name, 'Phone');
  assert.equal(b.last().otherDevice.name, 'Laptop');
  const listed = phone.deviceLink.mark(await phone.devices.list());
  assert.equal(listed.find((d) => d.deviceId === deviceIdOf(laptop))?.verified, true);
  assert.equal(laptop.deviceLink.mark(await laptop.devices.list()).find((d) => d.deviceId === deviceIdOf(phone))?.verified, true);
  // What is remembered is each device's MLS credential signature key, as the other device MACed it.
  const keyOf = (p: Profile) => (p as unknown as { keys: { signaturePublicKey: Uint8Array } }).keys.signaturePublicKey;
  const remembered = (p: Profile) => (p as unknown as { ctx: { db: { verifiedDevices(): { deviceUri: string; signatureKey: Uint8Array }[] } } }).ctx.db.verifiedDevices();
  assert.deepEqual(remembered(laptop).map((d) => [d.deviceUri, Buffer.from(d.signatureKey).toString('hex')]), [[phone.config.deviceUri, Buffer.from(keyOf(phone)).toString('hex')]]);
  assert.deepEqual(remembered(phone).map((d) => [d.deviceUri, Buffer.from(d.signatureKey).toString('hex')]), [[laptop.config.deviceUri, Buffer.from(keyOf(laptop)).toString('hex')]]);
  assert.deepEqual(providerDb((d) => (d.prepare('SELECT COUNT(*) AS n FROM device_messages').get() as { n: number }).n), 0, 'every relayed message was fetched and deleted');
});

test('history from the laptop to a fresh device: every message of several rooms, progress on both, nothing readable at the provider', async (t) => {
  const marker = `xfer-${randomBytes(6).toString('hex')}`;
  const rooms: { uri: string; texts: string[] }[] = [];
  const N = 3;
  const PER = 100;
  for (let r = 0; r < N; r++) {
    const room = await laptop.createRoom(`Room ${r}`);
    rooms.push({ uri: room.roomUri, texts: [] });
  }
  await laptop.addMember(rooms[0].uri, 'bob');
  await waitFor(() => bob.rooms().some((r) => r.roomUri === rooms[0].uri), 'bob joined', 30_000);
  for (let i = 0; i < PER; i++) {
    for (let r = 0; r < N; r++) {
      const text = `${marker} room ${r} note ${i}`;
      rooms[r].texts.push(text);
      await laptop.send(rooms[r].uri, text);
    }
  }
  for (let i = 0; i < 20; i++) {
    const text = `${marker} from bob ${i}`;
    rooms[0].texts.push(text);
    await bob.send(rooms[0].uri, text);
  }
  await laptop.flushOutbox(180_000);
  await bob.flushOutbox(60_000);
  const have = (p: Profile, uri: string) => new Set(p.timeline(uri, null, 1000).map((m) => m.text));
  await waitFor(() => rooms[0].texts.every((t) => have(laptop, rooms[0].uri).has(t)), 'the laptop has bob’s messages', 60_000);

  // A new device of alice's: it joins the rooms, but their past is not readable to it.
  const fresh = await testProfile(provider, 'alice', { engine, keep: profiles, dirPrefix: 'xfer-new', how: 'login', deviceName: 'New tablet' });
  await waitFor(() => rooms.every((r) => fresh.rooms().some((x) => x.roomUri === r.uri)), 'the new device is in the rooms', 60_000);
  const before = rooms.reduce((n, r) => n + r.texts.filter((t) => have(fresh, r.uri).has(t)).length, 0);
  assert.equal(before, 0, 'the new device has none of the history yet');

  const old = person(laptop);
  const neu = person(fresh);
  const began = Date.now();
  try {
    await fresh.deviceLink.start(deviceIdOf(laptop), 'history');
    await waitFor(() => ['done', 'failed'].includes(neu.history.at(-1)?.stage ?? '') && ['done', 'failed'].includes(old.history.at(-1)?.stage ?? ''), 'the transfer ended on both', 180_000);
  } finally {
    old.stop();
    neu.stop();
  }
  assert.equal(neu.history.at(-1)!.stage, 'done', JSON.stringify(neu.history.at(-1)));
  assert.equal(old.history.at(-1)!.stage, 'done', JSON.stringify(old.history.at(-1)));
  assert.ok(neu.history.at(-1)!.added! >= N * PER + 20, `added ${neu.history.at(-1)!.added}`);
  t.diagnostic(`transfer of ${neu.history.at(-1)!.added} items: ${Date.now() - began} ms from the request to done (verification included)`);

  // Progress: the old device counts chunks stored, the new one sees them relayed, then checks them.
  const up = old.history.filter((h) => h.stage === 'uploading');
  assert.ok(up.length > 3, `several upload steps (${up.length})`);
  const total = up.at(-1)!.total;
  t.diagnostic(`${total} parts (chunks of 4 KiB of records and the manifest)`);
  assert.ok(total > 3, `several chunks (${total})`);
  assert.equal(up.at(-1)!.done, total);
  for (let i = 1; i < up.length; i++) assert.ok(up[i].done >= up[i - 1].done, 'never backwards');
  assert.ok(neu.history.some((h) => h.stage === 'uploading' && h.total === total), 'the new device saw the upload progress');
  const down = neu.history.filter((h) => h.stage === 'downloading' && h.total > 0);
  assert.equal(down.at(-1)!.done, total - 1, 'every chunk checked (the manifest is the last part)');
  assert.equal(down.at(-1)!.total, total);

  for (const r of rooms) {
    const got = have(fresh, r.uri);
    const missing = r.texts.filter((t) => !got.has(t));
    assert.deepEqual(missing, [], `room ${r.uri}: every message present`);
  }
  // The laptop is now verified on the new device too (the same attempt).
  assert.ok(fresh.deviceLink.verifiedIds().has(deviceIdOf(laptop)));

  // The snapshot is gone from the provider, and nothing of the history is readable there.
  await waitFor(() => providerDb((d) => (d.prepare('SELECT COUNT(*) AS n FROM backup_chunks').get() as { n: number }).n) === 0, 'the snapshot deleted', 15_000);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(provider.dataDir);
  // The database's rows (on SQLite its file, among the folder's files) and every other file there.
  if (!onPostgres()) assert.ok(files.some((f) => f.endsWith('provider.sqlite')));
  const needle = Buffer.from(marker);
  assert.equal(providerStorageBytes(provider.dataDir).indexOf(needle), -1, 'the provider database holds no message text');
  for (const f of files) assert.equal(fs.readFileSync(f).indexOf(needle), -1, `${f} holds no message text`);
  assert.ok(!provider.output().includes(marker), 'the provider log holds no message text');
  assert.doesNotMatch(provider.output(), /internal error/);
});

test('a history transfer refused, or with its key box altered on the way, leaves the new device as it was', async () => {
  const count = () => phone.rooms().reduce((n, r) => n + phone.timeline(r.roomUri, null, 1000).length, 0);
  const before = count();
  const chunks = () => providerDb((d) => (d.prepare('SELECT COUNT(*) AS n FROM backup_chunks').get() as { n: number }).n);

  // The old device's person says no.
  const oldNo = person(laptop);
  laptop.deviceLink.removeAllListeners('history');
  const laptopHistory: HistoryTransferView[] = [];
  laptop.deviceLink.on('history', (h) => {
    laptopHistory.push(h);
    if (h.stage === 'confirm') void laptop.deviceLink.answerHistory(h.attemptId, false);
  });
  const neu = person(phone);
  try {
    await phone.deviceLink.start(deviceIdOf(laptop), 'history');
    await waitFor(() => neu.history.at(-1)?.stage === 'failed' && laptopHistory.at(-1)?.stage === 'failed', 'both ended', 60_000);
  } finally {
    oldNo.stop();
    neu.stop();
    laptop.deviceLink.removeAllListeners('history');
  }
  assert.equal(neu.history.at(-1)!.reason, 'refused');
  assert.equal(laptopHistory.at(-1)!.reason, 'refused');
  assert.equal(chunks(), 0, 'no snapshot was made');
  assert.equal(count(), before);

  // The relay alters the sealed key: the new device cannot open it and says so; the snapshot goes.
  const relay = laptop.deviceLink.relay;
  laptop.deviceLink.relay = {
    ...relay,
    send: (id, body) => {
      const w = parseWire(body);
      if (w?.t !== 'history') return relay.send(id, body);
      const box = Buffer.from(w.box, 'base64url');
      box[box.length - 1] ^= 1;
      return relay.send(id, encodeWire({ ...w, box: toB64(new Uint8Array(box)) }));
    },
  };
  const old2 = person(laptop);
  const neu2 = person(phone);
  try {
    await phone.deviceLink.start(deviceIdOf(laptop), 'history');
    await waitFor(() => neu2.history.at(-1)?.stage === 'failed' && old2.history.at(-1)?.stage === 'failed', 'both ended', 120_000);
  } finally {
    laptop.deviceLink.relay = relay;
    old2.stop();
    neu2.stop();
  }
  assert.equal(neu2.history.at(-1)!.reason, 'tampered');
  assert.match(neu2.history.at(-1)!.error ?? '', /does not open/);
  assert.equal(old2.history.at(-1)!.reason, 'tampered', 'the old device is told');
  assert.ok(old2.history.some((h) => h.stage === 'uploading' && h.total > 0 && h.done === h.total), 'the snapshot had been stored');
  await waitFor(() => chunks() === 0, 'the old device deleted the snapshot', 15_000);
  assert.equal(count(), before, 'nothing was added to the new device');
});

test('two CLI devices: `device verify` against `device verify --incoming`, then `history-from` against `send-history`', async () => {
  const dirOld = path.join(tempDir('xfer-cli-old'), 'p');
  const dirNew = path.join(tempDir('xfer-cli-new'), 'p');
  const reg = await register(dirOld, provider, 'carol');
  assert.equal(reg.code, 0, reg.stderr);
  const room = (await mimi(['--profile', dirOld, 'create-room', 'Notes'])).stdout.trim();
  const marker = `cli-${randomBytes(4).toString('hex')}`;
  for (let i = 0; i < 5; i++) assert.equal((await mimi(['--profile', dirOld, 'send', room, `${marker} ${i}`])).code, 0);
  const login = await mimi(['--profile', dirNew, 'login', '--provider', provider.url, '--ca', provider.caFile, '--handle', 'carol', '--password', 'correct horse', '--device-name', 'CLI phone']);
  assert.equal(login.code, 0, login.stderr);
  const oldId = (await mimi(['--profile', dirNew, 'devices'])).stdout.split('\n').find((l) => l.endsWith('\t-'))!.split('\t')[0];

  // The person compared the digits and answers on stdin ("y"); the other side is scripted (--yes).
  const [answerer, starter] = await Promise.all([mimi(['--profile', dirOld, 'device', 'verify', '--incoming', '--yes', '--timeout', '120']), mimi(['--profile', dirNew, 'device', 'verify', oldId], {}, 'y\n')]);
  assert.equal(starter.code, 0, starter.stderr);
  assert.equal(answerer.code, 0, answerer.stderr);
  const digits = (r: { stdout: string }) => r.stdout.split('\n').find((l) => /^\d{4} \d{4} \d{4}$/.test(l));
  assert.ok(digits(starter));
  assert.equal(digits(starter), digits(answerer), 'the same digits on both terminals');
  assert.match(starter.stdout, /^verified\t/m);
  assert.match(answerer.stdout, /^verified\t/m);

  // A "no" to the digits ends both sides with nothing more.
  const [a2, s2] = await Promise.all([mimi(['--profile', dirOld, 'device', 'verify', '--incoming', '--yes', '--timeout', '120']), mimi(['--profile', dirNew, 'device', 'verify', oldId], {}, 'n\n')]);
  assert.equal(s2.code, 1);
  assert.match(s2.stderr, /did not match/);
  assert.equal(a2.code, 1);
  assert.match(a2.stderr, /did not match/);

  const [sender, receiver] = await Promise.all([mimi(['--profile', dirOld, 'device', 'send-history', '--yes', '--timeout', '120']), mimi(['--profile', dirNew, 'device', 'history-from', oldId, '--yes'])]);
  assert.equal(sender.code, 0, sender.stderr);
  assert.equal(receiver.code, 0, receiver.stderr);
  assert.match(sender.stdout, /^history sent to CLI phone$/m);
  assert.match(receiver.stdout, /^history received: \d+ new item\(s\)$/m);
  assert.match(receiver.stderr, /part\(s\) checked/);
  const tail = await mimi(['--profile', dirNew, 'tail', room, '--count', '5', '--timeout', '10']);
  for (let i = 0; i < 5; i++) assert.ok(tail.stdout.includes(`${marker} ${i}`), `message ${i} on the new device:\n${tail.stdout}${tail.stderr}`);
});
