// The messenger end to end on one provider: a real provider process (TLS, SQLite) and several
// device cores (Profile) as users, talking over loopback.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { providerStorageBytes } from '../helpers/provider-db.js';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { Profile } from '../../src-main/core/profile.js';
import { holdFirstCommits, testProfile } from '../helpers/profiles.js';
import { restartablePort, startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
let engine: MlsEngine;
const open: Profile[] = [];

before(async () => {
  engine = await createMlsEngine();
  provider = await startProviderProcess({ domain: 'a.example', port: await restartablePort() });
});

after(async () => {
  for (const p of open) await p.close().catch(() => undefined);
  await provider?.stop();
});

function account(handle: string, how: 'register' | 'login' = 'register'): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: open, dirPrefix: 'user', how, deviceName: `${handle} test device` });
}

const texts = (p: Profile, room: string) =>
  p
    .page(room, null, 500)
    .reverse()
    .map((m) => m.text);

test('three users: messages are encrypted end to end and the provider stores no plaintext', async () => {
  const alice = await account('alice');
  const bob = await account('bob');
  const carol = await account('carol');

  const room = await alice.createRoom('Release planning');
  await alice.addMember(room.roomUri, 'bob');
  await alice.addMember(room.roomUri, 'carol@a.example');
  await waitFor(() => bob.rooms().length === 1 && carol.rooms().length === 1, 'bob and carol to join');
  await waitFor(() => bob.roomView(room.roomUri).epoch === '2', 'bob to process carol being added');

  const secret = 'the launch code is tangerine-4711';
  await alice.send(room.roomUri, secret);
  await waitFor(() => texts(bob, room.roomUri).includes(secret) && texts(carol, room.roomUri).includes(secret), 'delivery to bob and carol');
  await bob.send(room.roomUri, 'bob here: ack');
  await carol.send(room.roomUri, 'carol here: ack');
  await waitFor(() => texts(alice, room.roomUri).length === 3, 'replies at alice');
  assert.deepEqual(new Set(texts(alice, room.roomUri)), new Set([secret, 'bob here: ack', 'carol here: ack']));

  const aliceView = alice.roomView(room.roomUri);
  assert.deepEqual(new Set(aliceView.members), new Set(['mimi://a.example/u/alice', 'mimi://a.example/u/bob', 'mimi://a.example/u/carol']));
  assert.equal(alice.roomView(room.roomUri).unread, 2, 'two messages from others are unread');
  alice.markRead(room.roomUri);
  assert.equal(alice.roomView(room.roomUri).unread, 0);
  assert.equal(bob.page(room.roomUri, null, 10).find((m) => m.text === secret)?.sender, 'mimi://a.example/u/alice');

  // The provider's database (provider.sqlite and its -wal / -shm, or every row on PostgreSQL) never holds the plaintext.
  const stored = providerStorageBytes(provider.dataDir);
  assert.equal(stored.includes(Buffer.from('tangerine-4711')), false, 'the provider database contains plaintext');
  assert.equal(stored.includes(Buffer.from('pw-alice-secret')), false, 'the provider database contains a password');
  // Nor does the client's own database: contents are sealed with the keychain-held key.
  const bobDb = fs.readFileSync(path.join(bob.dir, 'mimi.db'));
  const bobWal = fs.existsSync(path.join(bob.dir, 'mimi.db-wal')) ? fs.readFileSync(path.join(bob.dir, 'mimi.db-wal')) : Buffer.alloc(0);
  assert.equal(Buffer.concat([bobDb, bobWal]).includes(Buffer.from('tangerine-4711')), false);
});

test('history and state survive a restart of the client', async () => {
  const dave = await account('dave');
  const erin = await account('erin');
  const room = await dave.createRoom('persist');
  await dave.addMember(room.roomUri, 'erin');
  await waitFor(() => erin.rooms().length === 1, 'erin joins');
  await dave.send(room.roomUri, 'before restart');
  await waitFor(() => texts(erin, room.roomUri).includes('before restart'), 'first message');

  const dir = erin.dir;
  await erin.close();
  await dave.send(room.roomUri, 'while erin was away');
  const erin2 = await Profile.open(dir, { engine, secretMode: 'plaintext' });
  open.push(erin2);
  await erin2.start();
  await waitFor(() => texts(erin2, room.roomUri).includes('while erin was away'), 'catch-up after restart');
  assert.deepEqual(texts(erin2, room.roomUri), ['before restart', 'while erin was away']);
  await erin2.send(room.roomUri, 'back again');
  await waitFor(() => texts(dave, room.roomUri).includes('back again'), 'erin can still send after restoring MLS state');
});

test("a message saves only the part of the room's MLS state it changed: the stored tree stays until the members change", async () => {
  const oli = await account('oli');
  const pia = await account('pia');
  const quin = await account('quin');
  const room = await oli.createRoom('trees');
  await oli.addMember(room.roomUri, 'pia');
  await waitFor(() => pia.rooms().length === 1, 'pia joins');
  await oli.send(room.roomUri, 'settled');
  await waitFor(() => texts(pia, room.roomUri).includes('settled'), 'first message');
  // The room's row in each profile's own database file, read beside the running profile (WAL).
  const row = (p: Profile) => {
    const db = new Database(path.join(p.dir, 'mimi.db'), { readonly: true });
    try {
      return db.prepare('SELECT epoch, group_state, group_tree FROM rooms WHERE room_uri = ?').get(room.roomUri) as { epoch: string; group_state: Buffer; group_tree: Buffer | null };
    } finally {
      db.close();
    }
  };
  const before = [row(oli), row(pia)];
  for (const r of before) assert.ok(r.group_tree, 'the tree is stored apart');
  for (let i = 0; i < 3; i++) {
    await oli.send(room.roomUri, `oli ${i}`);
    await pia.send(room.roomUri, `pia ${i}`);
  }
  await waitFor(() => texts(pia, room.roomUri).includes('oli 2') && texts(oli, room.roomUri).includes('pia 2'), 'six messages');
  [row(oli), row(pia)].forEach((r, i) => {
    assert.equal(r.epoch, before[i].epoch);
    assert.ok(r.group_tree!.equals(before[i].group_tree!), 'six messages later the sealed tree is the one stored before (a rewrite would seal it anew)');
    assert.ok(!r.group_state.equals(before[i].group_state), 'the ratchets were saved');
  });
  await oli.addMember(room.roomUri, 'quin');
  await waitFor(() => quin.rooms().length === 1 && pia.roomView(room.roomUri).epoch === oli.roomView(room.roomUri).epoch, 'quin joins');
  [row(oli), row(pia)].forEach((r, i) => assert.ok(!r.group_tree!.equals(before[i].group_tree!), 'a new member: a new tree'));
  await quin.send(room.roomUri, 'hello trees');
  await waitFor(() => texts(oli, room.roomUri).includes('hello trees') && texts(pia, room.roomUri).includes('hello trees'), 'quin is heard');
});

test('two commits racing for one epoch: one wins, the other lands next epoch', async () => {
  const fay = await account('fay');
  const gus = await account('gus');
  const hal = await account('hal');
  const ivy = await account('ivy');
  const room = await fay.createRoom('race');
  await fay.addMember(room.roomUri, 'gus');
  await waitFor(() => gus.rooms().length === 1, 'gus joins');
  // fay adds hal while gus adds ivy, both at epoch 1. Fast crypto can finish one add before the
  // other is even built (then nothing races), so each profile's first commit waits at the
  // provider's door until the other's is built on the same epoch too.
  let retries = 0;
  for (const p of [fay, gus]) p.on('commitRetry', () => retries++);
  holdFirstCommits([fay, gus]);
  await Promise.all([fay.addMember(room.roomUri, 'hal'), gus.addMember(room.roomUri, 'ivy')]);
  for (const p of [fay, gus, hal, ivy]) await waitFor(() => p.rooms().length === 1 && p.roomView(room.roomUri).epoch === '3', `${p.config.handle} at epoch 3`);
  assert.equal(retries, 1, 'exactly one of the two commits lost the epoch and was rebuilt');
  const members = (p: Profile) => [...p.roomView(room.roomUri).members].sort();
  assert.deepEqual(members(fay), members(gus));
  assert.deepEqual(members(hal), members(ivy));
  assert.equal(members(fay).length, 4);
  await ivy.send(room.roomUri, 'no fork here');
  for (const p of [fay, gus, hal]) await waitFor(() => texts(p, room.roomUri).includes('no fork here'), `${p.config.handle} decrypts after the race`);
});

test('a message written while the provider is down is sent later, exactly once', async () => {
  const jo = await account('jo');
  const kim = await account('kim');
  const room = await jo.createRoom('outbox');
  await jo.addMember(room.roomUri, 'kim');
  await waitFor(() => kim.rooms().length === 1, 'kim joins');

  await provider.stop();
  const pending = await jo.send(room.roomUri, 'written offline');
  assert.equal(pending.status, 'pending');
  await waitFor(() => jo.connection !== 'online', 'jo notices the provider is gone');
  provider = await startProviderProcess({ domain: 'a.example', dataDir: provider.dataDir, port: provider.port });
  await jo.flushOutbox(20000);
  await waitFor(() => texts(kim, room.roomUri).includes('written offline'), 'delivery after reconnect', 20000);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(texts(kim, room.roomUri).filter((t) => t === 'written offline').length, 1);
  assert.equal(jo.page(room.roomUri, null, 5)[0].status, 'sent');
});

test('a second device of the same account joins existing rooms and sees new messages', async () => {
  const lea = await account('lea');
  const max = await account('max');
  const room = await lea.createRoom('devices');
  await lea.addMember(room.roomUri, 'max');
  await waitFor(() => max.rooms().length === 1, 'max joins');
  const max2 = await account('max', 'login');
  await waitFor(() => max2.rooms().length === 1, 'second device joins by external commit');
  await waitFor(() => lea.roomView(room.roomUri).epoch === max2.roomView(room.roomUri).epoch, 'lea processes the external commit');
  await lea.send(room.roomUri, 'hello both devices');
  await waitFor(() => texts(max, room.roomUri).includes('hello both devices') && texts(max2, room.roomUri).includes('hello both devices'), 'both devices decrypt');
  await max2.send(room.roomUri, 'from the laptop');
  await waitFor(() => texts(max, room.roomUri).includes('from the laptop'), "max's first device sees his own message from the second device");
  assert.equal(max.page(room.roomUri, null, 1)[0].status, 'sent', 'own messages from another device count as sent, not unread');
});

test('bad input to the core: unknown room, bad user address, empty message', async () => {
  const ned = await account('ned');
  await assert.rejects(ned.send('mimi://a.example/r/nope', 'x'), { code: 'roomUnknown' });
  const room = await ned.createRoom('bad');
  await assert.rejects(ned.addMember(room.roomUri, 'not an address!'), { code: 'invalidArgument' });
  await assert.rejects(ned.addMember(room.roomUri, 'nobody-here'), { code: 'userUnknown' });
  await assert.rejects(ned.send(room.roomUri, '   '), { code: 'invalidArgument' });
  assert.equal(ned.page(room.roomUri, null, 10).length, 0);
  assert.equal(ned.roomView(room.roomUri).epoch, '0', 'failed adds changed nothing');
});

test('a profile that cannot keep its secrets fails before the handle is registered', async () => {
  const dir = path.join(tempDir('user-nosecrets'), 'profile');
  const details = { providerUrl: provider.url, caPem: provider.caPem, handle: 'nosecrets', password: 'pw-nosecrets-secret', deviceName: 'test' };
  // safeStorage is asked for but there is no Electron here.
  await assert.rejects(Profile.register(dir, details, { engine, secretMode: 'safeStorage' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'secretStorage');
    assert.match(e.message, /safeStorage/);
    return true;
  });
  assert.equal(fs.existsSync(path.join(dir, 'profile.json')), false);
  // The handle is still free.
  const p = await Profile.register(path.join(tempDir('user-nosecrets2'), 'profile'), details, { engine, secretMode: 'plaintext' });
  open.push(p);
  assert.equal(p.config.handle, 'nosecrets');
});
