// `mimi --secrets passphrase`: the profile's secrets are encrypted under a passphrase read from
// MIMI_PASSPHRASE (or asked in a terminal), needed by every later command; a wrong or missing one
// is a clear error that changes nothing. Real provider process, real profile files.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mimi } from '../helpers/mimi-cli.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  await provider?.stop();
});

const PASS = 'a long enough passphrase';
const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.statSync(path.join(dir, f)).isFile() ? fs.readFileSync(path.join(dir, f), 'hex') : 'dir']));

test('register with a passphrase, use the profile with it; a wrong or missing passphrase changes nothing', async () => {
  const profile = path.join(tempDir('cli-pass'), 'alice');
  const register = (passphrase: string) =>
    mimi(['--profile', profile, '--secrets', 'passphrase', 'register', '--provider', provider.url, '--ca', provider.caFile, '--handle', 'alice', '--password', 'correct horse'], {
      MIMI_PASSPHRASE: passphrase,
    });

  // Too short: refused before the handle is taken at the provider.
  const short = await register('short');
  assert.equal(short.code, 1, short.stderr);
  assert.match(short.stderr, /at least 8 characters/);
  assert.equal(fs.existsSync(path.join(profile, 'profile.json')), false);

  const ok = await register(PASS);
  assert.equal(ok.code, 0, `the handle was still free: ${ok.stderr}`);
  assert.equal(JSON.parse(fs.readFileSync(path.join(profile, 'secret-mode.json'), 'utf8')).mode, 'passphrase');
  assert.equal(fs.existsSync(path.join(profile, 'secrets.plaintext.json')), false);
  const secretsFile = fs.readFileSync(path.join(profile, 'secrets.passphrase.json'), 'utf8');
  // The device keys are JSON ({"identity":...}); in a plaintext store their base64url starts like this.
  assert.ok(!secretsFile.includes('eyJpZGVudGl0eSI'), 'the device keys are not stored readable');

  const env = { MIMI_SECRETS: 'passphrase' };
  const created = await mimi(['--profile', profile, 'create-room', 'Lunch'], { ...env, MIMI_PASSPHRASE: PASS });
  assert.equal(created.code, 0, created.stderr);
  const before = snapshot(profile);

  const wrong = await mimi(['--profile', profile, 'rooms'], { ...env, MIMI_PASSPHRASE: 'not the passphrase' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /passphrase does not unlock this profile.*try again/);
  const missing = await mimi(['--profile', profile, 'rooms'], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /set MIMI_PASSPHRASE, or run mimi in a terminal/);
  assert.deepEqual(snapshot(profile), before, 'the refused commands changed no file');

  const rooms = await mimi(['--profile', profile, 'rooms'], { ...env, MIMI_PASSPHRASE: PASS });
  assert.equal(rooms.code, 0, rooms.stderr);
  assert.match(rooms.stdout, /\tLunch\t/);
});
