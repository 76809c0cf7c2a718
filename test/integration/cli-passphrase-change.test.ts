// `mimi --profile DIR passphrase`: a passphrase profile gets a new passphrase (current one from
// MIMI_PASSPHRASE, new one from MIMI_NEW_PASSPHRASE, as scripts give them); afterwards only the new
// one opens it, and the account still works with its provider. A wrong current passphrase, a short
// new one, a missing one or a profile without a passphrase is a clear error that changes no file.
// Real provider process, real profile files, the real command.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mimi, register } from '../helpers/mimi-cli.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  await provider?.stop();
});

const OLD = 'a long enough passphrase';
const NEW = 'another long passphrase';
const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.statSync(path.join(dir, f)).isFile() ? fs.readFileSync(path.join(dir, f), 'hex') : 'dir']));

test('mimi passphrase: the new passphrase opens the profile, the old one no longer does; refusals change nothing', async () => {
  const profile = path.join(tempDir('cli-passchange'), 'alice');
  const reg = await mimi(['--profile', profile, '--secrets', 'passphrase', 'register', '--provider', provider.url, '--ca', provider.caFile, '--handle', 'alice', '--password', 'correct horse'], {
    MIMI_PASSPHRASE: OLD,
  });
  assert.equal(reg.code, 0, reg.stderr);
  const env = { MIMI_SECRETS: 'passphrase' };
  const created = await mimi(['--profile', profile, 'create-room', 'Lunch'], { ...env, MIMI_PASSPHRASE: OLD });
  assert.equal(created.code, 0, created.stderr);
  const change = (current: string | undefined, next: string | undefined) =>
    mimi(['--profile', profile, 'passphrase'], { ...env, ...(current === undefined ? {} : { MIMI_PASSPHRASE: current }), ...(next === undefined ? {} : { MIMI_NEW_PASSPHRASE: next }) });

  const unchanged = snapshot(profile);
  const wrong = await change('not the passphrase', NEW);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /not the current passphrase, so nothing was changed.*try again/);
  const short = await change(OLD, 'short');
  assert.equal(short.code, 1);
  assert.match(short.stderr, /at least 8 characters; nothing was changed/);
  const missing = await change(OLD, undefined);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /MIMI_NEW_PASSPHRASE.*run mimi in a terminal/);
  assert.deepEqual(snapshot(profile), unchanged, 'the refused changes left every file as it was');

  const ok = await change(OLD, NEW);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /passphrase changed/);

  const withOld = await mimi(['--profile', profile, 'rooms'], { ...env, MIMI_PASSPHRASE: OLD });
  assert.equal(withOld.code, 1);
  assert.match(withOld.stderr, /passphrase does not unlock this profile/);
  // The account is whole under the new passphrase: its room, and its provider session (a send).
  const rooms = await mimi(['--profile', profile, 'rooms'], { ...env, MIMI_PASSPHRASE: NEW });
  assert.equal(rooms.code, 0, rooms.stderr);
  assert.match(rooms.stdout, /\tLunch\t/);
  const sent = await mimi(['--profile', profile, 'send', 'Lunch', 'still here'], { ...env, MIMI_PASSPHRASE: NEW });
  assert.equal(sent.code, 0, sent.stderr);
});

test('mimi passphrase on a profile without a passphrase says what to do and changes nothing', async () => {
  const profile = path.join(tempDir('cli-passchange-plain'), 'bob');
  const reg = await register(profile, provider, 'bob');
  assert.equal(reg.code, 0, reg.stderr);
  const before = snapshot(profile);
  const r = await mimi(['--profile', profile, 'passphrase'], { MIMI_PASSPHRASE: OLD, MIMI_NEW_PASSPHRASE: NEW });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /"plaintext" storage, which has no passphrase to change.*--secrets passphrase/);
  assert.deepEqual(snapshot(profile), before);
});
