// `mimi devices`, `mimi device rename|remove`, `mimi logout --keep-data|--remove-device`, as a
// script runs them: a real provider process, two profile folders of one account (two devices),
// the real command. Bad input is a clear error that changes nothing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { mimi } from '../helpers/mimi-cli.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
let root: string;
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
  root = tempDir('cli-devices');
});
after(async () => {
  await provider?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

const signIn = (dir: string, how: 'register' | 'login', name: string, password = 'correct horse') =>
  mimi(['--profile', dir, how, '--provider', provider.url, '--ca', provider.caFile, '--handle', 'alice', '--password', password, '--device-name', name]);

/** `mimi devices` as rows: [id, name, added, last seen, this]. */
async function devices(dir: string): Promise<string[][]> {
  const r = await mimi(['--profile', dir, 'devices']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => l.split('\t'));
}

test('list, rename and remove devices; log out keeping the data and log in again; log out removing the device', async () => {
  const laptop = path.join(root, 'laptop');
  const phone = path.join(root, 'phone');
  assert.equal((await signIn(laptop, 'register', 'Laptop')).code, 0);
  assert.equal((await signIn(phone, 'login', 'Phone')).code, 0);

  const rows = await devices(laptop);
  assert.deepEqual(rows.map((r) => [r[1], r[4]]), [['Laptop', 'this'], ['Phone', '-']]);
  for (const r of rows) {
    assert.match(r[0], /^[A-Za-z0-9_-]{22}$/, 'the id');
    assert.ok(!Number.isNaN(Date.parse(r[2])), 'added is a time');
    assert.ok(r[3] === '-' || !Number.isNaN(Date.parse(r[3])), 'last seen is a time or -');
  }
  const phoneId = rows[1][0];

  const renamed = await mimi(['--profile', laptop, 'device', 'rename', phoneId, 'Old phone']);
  assert.equal(renamed.code, 0, renamed.stderr);
  assert.equal(renamed.stdout.split('\t')[1], 'Old phone');
  assert.deepEqual((await devices(phone)).map((r) => [r[1], r[4]]), [['Laptop', '-'], ['Old phone', 'this']]);

  // Refusals say what to do and change nothing.
  const empty = await mimi(['--profile', laptop, 'device', 'rename', phoneId, '   ']);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /name.*1-64|1–64/);
  const self = await mimi(['--profile', laptop, 'device', 'remove', rows[0][0]]);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /That is this device: .*sign out/);
  const usage = await mimi(['--profile', laptop, 'device', 'remove']);
  assert.equal(usage.code, 2);
  const both = await mimi(['--profile', laptop, 'logout', '--keep-data', '--remove-device']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--keep-data .* or --remove-device/);
  assert.equal((await devices(laptop)).length, 2);

  const removed = await mimi(['--profile', laptop, 'device', 'remove', phoneId]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, `removed\t${phoneId}\tOld phone\n`);
  assert.deepEqual((await devices(laptop)).map((r) => r[1]), ['Laptop']);
  const dead = await mimi(['--profile', phone, 'devices']);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /removed from your account on another device; sign in again/);

  // Log out keeping the data: commands refuse until a login with the same account opens it again.
  const room = await mimi(['--profile', laptop, 'create-room', 'Notes']);
  assert.equal(room.code, 0, room.stderr);
  assert.equal((await mimi(['--profile', laptop, 'send', 'Notes', 'kept message'])).code, 0);
  const out = await mimi(['--profile', laptop, 'logout', '--keep-data']);
  assert.equal(out.code, 0, out.stderr);
  const refused = await mimi(['--profile', laptop, 'rooms']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /signed out, its data kept.*login --provider URL --handle alice/);
  const wrong = await signIn(laptop, 'login', 'Laptop', 'not the password');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /password is wrong/);
  const back = await signIn(laptop, 'login', 'Laptop');
  assert.equal(back.code, 0, back.stderr);
  const tail = await mimi(['--profile', laptop, 'tail', 'Notes', '--count', '1', '--timeout', '5']);
  assert.equal(tail.code, 0, tail.stderr);
  assert.match(tail.stdout, /kept message/);
  assert.deepEqual((await devices(laptop)).map((r) => r[1]), ['Laptop'], 'the same device, no new one');

  // Log out removing the device: the folder goes, the account has no device left.
  const gone = await mimi(['--profile', laptop, 'logout', '--remove-device']);
  assert.equal(gone.code, 0, gone.stderr);
  assert.ok(!fs.existsSync(laptop), 'the folder is deleted');
  // Only a fresh sign-in is left on the account (the removed laptop is not listed).
  const desk = new ProviderClient({ baseUrl: provider.url, caPem: provider.caPem });
  await desk.login({ handle: 'alice', password: 'correct horse', deviceName: 'Desk' });
  assert.deepEqual((await desk.listDevices()).map((d) => d.name), ['Desk']);
  desk.close();
});
