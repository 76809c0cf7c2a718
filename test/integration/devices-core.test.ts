// The account's devices from the app's core (core/devices.ts), against real provider processes
// federating on loopback: alice has a laptop and a phone (each an AppCore with its own data dir),
// bob is on another provider. The laptop lists, renames and removes the phone; the phone's leaves
// leave a room hosted by alice's provider (its hub proposes them) and one hosted by bob's (the
// laptop proposes and commits them), and the phone's core says it was removed instead of retrying.
// Then the two ways to sign out: keeping the data (signing in again opens the same history, the
// same device) and removing this device (it leaves every room, its folder is deleted).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError, validateCall, type AccountView, type CoreEvent } from '../../src-shared/contract.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { SIGNED_OUT_FILE } from '../../src-main/core/devices.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';

const PASSWORD = 'pw-alice-secret';

let engine: MlsEngine;
let a: FederatedProvider;
let b: FederatedProvider;
const links: Link[] = [];
const cores: AppCore[] = [];
const profiles: Profile[] = [];
const dirs: string[] = [];

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  a = f['a.example'];
  b = f['b.example'];
  links.push(f.links['a.example'], f.links['b.example']);
});
after(async () => {
  for (const c of cores) await c.close().catch(() => undefined);
  for (const p of profiles) await p.close().catch(() => undefined);
  await a?.stop();
  await b?.stop();
  for (const l of links) await l.close();
  assert.doesNotMatch(a.output() + b.output(), /internal error/, 'no provider logged an internal error');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** An app core with its own data dir, and every event it emits. */
async function appCore(name: string): Promise<{ core: AppCore; events: CoreEvent[]; dataDir: string }> {
  const dataDir = tempDir(`devices-${name}`);
  dirs.push(dataDir);
  const core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext' });
  cores.push(core);
  const events: CoreEvent[] = [];
  core.onEvent((e) => events.push(e));
  return { core, events, dataDir };
}

/** The Profile behind an account (AppCore's test hook). */
const profileOf = (core: AppCore, id: string): Profile => (core as unknown as { profileOf(id: string): Profile }).profileOf(id);
const session = (p: Profile, room: string): GroupSession => (p as unknown as { session(r: string): GroupSession }).session(room);
const leaves = (p: Profile, room: string): string[] => session(p, room).members().map((m) => m.identity).sort();

async function fails(p: Promise<unknown>): Promise<CoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CoreError, `expected a CoreError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

test('two devices of one account: list, rename, notices, remove from the other device (leaves go everywhere), the removed one says so', async () => {
  const laptop = await appCore('laptop');
  const phone = await appCore('phone');
  const bob = await testProfile(b, 'bob', { engine, keep: profiles, dirPrefix: 'devices', onError: () => undefined });
  const login = (how: 'register' | 'login', deviceName: string, core: AppCore) =>
    core.accounts[how]({ providerUrl: a.url, caPem: a.caPem, handle: 'alice', password: PASSWORD, deviceName });
  const l = await login('register', 'Laptop', laptop.core);
  const lp = profileOf(laptop.core, l.id);
  // A room hosted by alice's provider, made before the phone signs in (it joins it by external commit).
  const home = await laptop.core.rooms.create(l.id, 'Home', null);
  await laptop.core.rooms.addMember(l.id, home.roomUri, 'bob@b.example');
  const ph = await login('login', 'Phone', phone.core);
  const pp = profileOf(phone.core, ph.id);
  await waitFor(() => lp.connection === 'online' && pp.connection === 'online', 'both devices online');

  // The list, oldest first, each device marking itself.
  const list = await laptop.core.accounts.devices(l.id);
  assert.deepEqual(list.map((d) => [d.name, d.current]), [['Laptop', true], ['Phone', false]]);
  assert.ok(list.every((d) => d.createdAt > 0 && (d.lastSeenAt === null || d.lastSeenAt >= d.createdAt)));
  assert.deepEqual((await phone.core.accounts.devices(ph.id)).map((d) => [d.name, d.current]), [['Laptop', false], ['Phone', true]]);
  const phoneId = list[1].deviceId;

  // A room hosted by bob's provider, with both of alice's devices.
  const remote = await bob.createRoom('Remote');
  await bob.addMember(remote.roomUri, 'alice@a.example');
  await waitFor(() => pp.rooms().some((r) => r.roomUri === remote.roomUri) && lp.rooms().some((r) => r.roomUri === remote.roomUri), 'both devices in the remote room');
  await waitFor(() => pp.rooms().some((r) => r.roomUri === home.roomUri) && bob.rooms().some((r) => r.roomUri === home.roomUri), 'phone and bob in the home room');
  const phoneUri = pp.config.deviceUri;
  await waitFor(() => leaves(bob, remote.roomUri).includes(phoneUri) && leaves(bob, home.roomUri).includes(phoneUri), 'bob sees the phone in both rooms');

  // Renaming: the list says it, and the other device hears of it.
  const renamed = await laptop.core.accounts.renameDevice(l.id, phoneId, '  Alice’s phone ');
  assert.equal(renamed.find((d) => d.deviceId === phoneId)?.name, 'Alice’s phone', 'trimmed');
  await waitFor(() => phone.events.some((e) => e.type === 'devices' && e.change === 'renamed' && e.device.name === 'Alice’s phone' && e.device.current), 'the phone hears it was renamed');

  // Bad input changes nothing, and says what to do.
  const tooLong = await fails(laptop.core.accounts.renameDevice(l.id, phoneId, 'x'.repeat(65)));
  assert.equal(tooLong.code, 'invalidArgument');
  assert.match(tooLong.message, /64/);
  const bidi = await fails(laptop.core.accounts.renameDevice(l.id, phoneId, 'phone\u202Eevil'));
  assert.equal(bidi.key, 'devices.errors.badName');
  assert.match(bidi.message, /printable/);
  const self = await fails(laptop.core.accounts.removeDevice(l.id, list[0].deviceId));
  assert.equal(self.key, 'devices.errors.isThisDevice');
  assert.match(self.message, /sign out/i);
  const unknown = await fails(laptop.core.accounts.removeDevice(l.id, 'AAAAAAAAAAAAAAAAAAAAAA'));
  assert.equal(unknown.key, 'devices.errors.notFound');
  assert.throws(() => validateCall('accounts.renameDevice', [l.id, phoneId, '   ']), /must not be empty/);
  assert.throws(() => validateCall('accounts.removeDevice', [l.id, '../me']), /device id/);
  assert.equal((await laptop.core.accounts.devices(l.id)).length, 2, 'still two devices');

  // A third sign-in: both devices are told (the banner's event), with its name.
  const third = new ProviderClient({ baseUrl: a.url, caPem: a.caPem });
  await third.login({ handle: 'alice', password: PASSWORD, deviceName: 'Unknown tablet' });
  await waitFor(() => laptop.events.some((e) => e.type === 'devices' && e.change === 'added' && e.device.name === 'Unknown tablet' && !e.device.current), 'the laptop hears of the new device');
  await laptop.core.accounts.removeDevice(l.id, (await third.listDevices()).find((d) => d.current)!.deviceId);
  third.close();

  // The laptop removes the phone.
  const after = await laptop.core.accounts.removeDevice(l.id, phoneId);
  assert.deepEqual(after.map((d) => d.name), ['Laptop']);
  // Its leaves go in the room hosted by alice's provider (its hub's Removes) and in bob's (the laptop's).
  await waitFor(() => !leaves(bob, remote.roomUri).includes(phoneUri), 'the phone leaves the room hosted on b.example', 20000);
  await waitFor(() => !leaves(bob, home.roomUri).includes(phoneUri), 'the phone leaves the room hosted on a.example', 20000);
  await waitFor(() => !leaves(lp, remote.roomUri).includes(phoneUri) && !leaves(lp, home.roomUri).includes(phoneUri), 'the laptop agrees');
  assert.ok(leaves(bob, remote.roomUri).includes(lp.config.deviceUri), 'the laptop stays in the remote room');
  // The phone's core says what happened and stops, instead of retrying.
  await waitFor(() => phone.events.some((e) => e.type === 'accounts' && e.accounts.some((x: AccountView) => x.id === ph.id && x.deviceRemoved)), 'the phone shows as removed');
  const said = phone.events.find((e) => e.type === 'error' && e.key === 'devices.errors.removedHere');
  assert.ok(said && said.type === 'error');
  assert.match(said.message, /removed from your account on another device; sign in again/);
  const refused = await fails(phone.core.accounts.devices(ph.id));
  assert.equal(refused.key, 'devices.errors.removedHere');

  // The laptop and bob still talk in both rooms.
  await laptop.core.messages.send(l.id, remote.roomUri, 'still here');
  await waitFor(() => bob.page(remote.roomUri, null, 50).some((m) => m.text === 'still here'), 'bob gets the laptop’s message');
});

test('sign out keeping the data, then sign in again: the same device and history; a wrong password changes nothing', async () => {
  const { core, dataDir, events } = await appCore('keep');
  const acct = await core.accounts.register({ providerUrl: a.url, caPem: a.caPem, handle: 'carol', password: 'pw-carol-secret', deviceName: 'Desk' });
  const p = profileOf(core, acct.id);
  await waitFor(() => p.connection === 'online', 'online');
  const room = await core.rooms.create(acct.id, 'Notes', null);
  await core.messages.send(acct.id, room.roomUri, 'remember the milk');
  await p.flushOutbox();
  const deviceUri = p.config.deviceUri;

  assert.deepEqual(await core.accounts.signOut(acct.id), []);
  const folder = path.join(dataDir, 'accounts', acct.id);
  assert.ok(fs.existsSync(path.join(folder, 'mimi.db')), 'the folder stays');
  assert.ok(fs.existsSync(path.join(folder, SIGNED_OUT_FILE)), 'marked signed out');

  // A device signs in while this one is signed out: told at the next sign-in (notices are not replayed).
  const meanwhile = new ProviderClient({ baseUrl: a.url, caPem: a.caPem });
  await meanwhile.login({ handle: 'carol', password: 'pw-carol-secret', deviceName: 'Signed in meanwhile' });
  meanwhile.close();

  const wrong = await fails(core.accounts.login({ providerUrl: a.url, caPem: a.caPem, handle: 'carol', password: 'not her password' }));
  assert.equal(wrong.code, 'wrongPassword');
  assert.deepEqual(await core.accounts.list(), [], 'nothing signed in');
  assert.ok(fs.existsSync(path.join(folder, SIGNED_OUT_FILE)), 'still signed out');

  const again = await core.accounts.login({ providerUrl: a.url, caPem: a.caPem, handle: 'Carol', password: 'pw-carol-secret' });
  assert.equal(again.id, acct.id, 'the same folder');
  assert.equal(again.deviceUri, deviceUri, 'the same device');
  assert.ok(!fs.existsSync(path.join(folder, SIGNED_OUT_FILE)));
  const texts = (await core.messages.page(again.id, room.roomUri, null, 50)).map((m) => m.text);
  assert.ok(texts.includes('remember the milk'), `the old history is there: ${JSON.stringify(texts)}`);
  await waitFor(() => events.some((e) => e.type === 'devices' && e.accountId === acct.id && e.change === 'added' && e.device.name === 'Signed in meanwhile'), 'told of the device added meanwhile');
  const devices = await core.accounts.devices(again.id);
  assert.deepEqual(devices.map((d) => d.name), ['Desk', 'Signed in meanwhile'], 'no new device was made here');
  // And it works: a new message goes out.
  await core.messages.send(again.id, room.roomUri, 'and the bread');
  await profileOf(core, again.id).flushOutbox();
});

test('remove this device: it leaves every room (also one hosted elsewhere) and its folder is deleted', async () => {
  const { core, dataDir } = await appCore('remove');
  const dave = await testProfile(b, 'dave', { engine, keep: profiles, dirPrefix: 'devices', onError: () => undefined });
  const acct = await core.accounts.register({ providerUrl: a.url, caPem: a.caPem, handle: 'erin', password: 'pw-erin-secret', deviceName: 'Old laptop' });
  const other = await testProfile(a, 'erin', { engine, keep: profiles, dirPrefix: 'devices', how: 'login', deviceName: 'New laptop', onError: () => undefined });
  const p = profileOf(core, acct.id);
  const deviceUri = p.config.deviceUri;
  const remote = await dave.createRoom('Dave’s room');
  await dave.addMember(remote.roomUri, 'erin@a.example');
  await waitFor(() => p.rooms().some((r) => r.roomUri === remote.roomUri), 'this device joined');
  await waitFor(() => leaves(dave, remote.roomUri).includes(deviceUri), 'dave sees it');

  const views = await core.accounts.removeThisDevice(acct.id);
  assert.deepEqual(views, []);
  assert.ok(!fs.existsSync(path.join(dataDir, 'accounts', acct.id)), 'the folder is gone');
  assert.deepEqual((await other.devices.list()).map((d) => d.name), ['New laptop'], 'the provider no longer has it');
  await waitFor(() => !leaves(dave, remote.roomUri).includes(deviceUri), 'it left the room hosted on b.example', 20000);
  assert.ok(leaves(dave, remote.roomUri).includes(other.config.deviceUri), 'the other device stays');
  await waitFor(() => !leaves(other, remote.roomUri).includes(deviceUri), 'the account’s other device agrees', 20000);
  const gone = await fails(core.accounts.devices(acct.id));
  assert.equal(gone.code, 'noAccount');
});
