// The account settings the Settings screen drives, on the real core against a real provider (TLS
// on loopback, SQLite in a temp dir): changing the password (the old one required, wrong → refused
// with nothing changed; the new one signs in, the old one no longer does; other devices stay
// signed in) and per-room mute (stored in the profile database, kept across a restart).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CoreError, validateCall } from '../../src-shared/contract.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { ProviderError } from '../../src-main/net/provider-client.js';
import { PASSWORD, startTestProvider, uniqueHandle, type TestProvider } from '../helpers/provider-fixture.js';
import { tempDir } from '../helpers/provider-process.js';

let tp: TestProvider;
let dataDir: string;
let core: AppCore;

before(async () => {
  tp = await startTestProvider('a.example');
  dataDir = tempDir('mimi-account-settings-');
  core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext' });
});
after(async () => {
  await core?.close();
  await tp?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function fails(p: Promise<unknown>): Promise<CoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CoreError, `expected a CoreError, got ${e}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

const pwHash = (handle: string): string => tp.query<{ pw_hash: string }>('SELECT pw_hash FROM users WHERE handle = ?', handle)[0].pw_hash;

test('change password: a wrong old one is refused and changes nothing; the new one signs in, the old one does not, other devices stay signed in', async () => {
  const handle = uniqueHandle('pat');
  const account = await core.accounts.register({ providerUrl: tp.p.url, caPem: tp.p.caPem, handle, password: PASSWORD });
  // A second device of the account, signed in before the change.
  const other = tp.client();
  await other.login({ handle, password: PASSWORD, deviceName: 'phone' });
  const before = pwHash(handle);

  const wrong = await fails(core.accounts.changePassword(account.id, 'not the password', 'a brand new password'));
  assert.equal(wrong.code, 'wrongPassword');
  assert.match(wrong.message, /nothing was changed/i);
  assert.match(wrong.message, /try again/i, 'says what to do next');
  assert.equal(pwHash(handle), before, 'the stored hash is untouched');
  await tp.client().login({ handle, password: PASSWORD, deviceName: 'still old' });

  // Too short a new password never reaches the provider (the contract's validator, run in main).
  assert.throws(() => validateCall('accounts.changePassword', [account.id, PASSWORD, 'short']), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');

  await core.accounts.changePassword(account.id, PASSWORD, 'a brand new password');
  assert.notEqual(pwHash(handle), before);
  const refused = await tp
    .client()
    .login({ handle, password: PASSWORD, deviceName: 'old pw' })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(refused instanceof ProviderError && refused.code === 'wrongPassword', `the old password is refused, got ${String(refused)}`);
  const fresh = await tp.client().login({ handle, password: 'a brand new password', deviceName: 'new pw' });
  assert.ok(fresh.token);

  // Both existing devices still work: this core (it reads its profile) and the other one.
  assert.equal((await core.people.myProfile(account.id)).handle, handle);
  assert.ok((await other.me()).devices.length >= 3);
});

test('the provider refuses a malformed password change with nothing changed', async () => {
  const handle = uniqueHandle('quin');
  const client = tp.client();
  await client.register({ handle, password: PASSWORD, deviceName: 'laptop' });
  const before = pwHash(handle);
  const tooShort = await client.changePassword(PASSWORD, 'short').then(() => undefined, (e: unknown) => e);
  assert.ok(tooShort instanceof ProviderError && tooShort.code === 'badRequest', String(tooShort));
  assert.equal(pwHash(handle), before);
});

test('mute: stored per room in the profile, shown in the room view, kept across a restart; an unknown room is refused', async () => {
  const handle = uniqueHandle('mo');
  const account = await core.accounts.register({ providerUrl: tp.p.url, caPem: tp.p.caPem, handle, password: PASSWORD });
  const room = await core.rooms.create(account.id, 'Quiet please', null);
  assert.equal(room.muted, undefined, 'a new room is not muted');
  const events: boolean[] = [];
  const off = core.onEvent((e) => {
    if (e.type === 'rooms' && e.accountId === account.id) events.push(!!e.rooms.find((r) => r.roomUri === room.roomUri)?.muted);
  });
  const muted = await core.rooms.setMuted(account.id, room.roomUri, true);
  assert.equal(muted.muted, true);
  // Room list events are coalesced (a few ms): wait for it.
  for (let i = 0; i < 50 && !events.includes(true); i++) await new Promise((r) => setTimeout(r, 20));
  off();
  assert.ok(events.includes(true), 'the room list event carries the mute');
  assert.equal((await core.rooms.list(account.id)).find((r) => r.roomUri === room.roomUri)?.muted, true);

  const unknown = await fails(core.rooms.setMuted(account.id, 'mimi://a.example/r/nope', true));
  assert.equal(unknown.code, 'roomUnknown');

  await core.close();
  core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext' });
  assert.equal((await core.rooms.list(account.id)).find((r) => r.roomUri === room.roomUri)?.muted, true, 'still muted after a restart');
  const unmuted = await core.rooms.setMuted(account.id, room.roomUri, false);
  assert.equal(unmuted.muted, undefined);
});
