// accounts.changePassphrase on the real core against a real provider (TLS on loopback): through the
// bridge's dispatch (the contract's validator first), a passphrase account gets a new passphrase
// and only that one unlocks it after a restart; a wrong current one is wrongPassphrase with no file
// changed; a short new one never reaches the core; an account that keeps its keys elsewhere gets an
// error that says what to do. Every refusal names its catalogue message, so the window shows it in
// its language.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError } from '../../src-shared/contract.js';
import { translate } from '../../src-shared/i18n/index.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { dispatchCall } from '../../src-main/bridge/rpc-dispatch.js';
import { PASSWORD, startTestProvider, uniqueHandle, type TestProvider } from '../helpers/provider-fixture.js';
import { tempDir } from '../helpers/provider-process.js';

const OLD = 'old passphrase 1234';
const NEW = 'new passphrase 5678';

let tp: TestProvider;
const dirs: string[] = [];
const cores: AppCore[] = [];

before(async () => {
  tp = await startTestProvider('a.example');
});
after(async () => {
  for (const c of cores) await c.close().catch(() => undefined);
  await tp?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function coreIn(dataDir: string, secretMode: 'passphrase' | 'plaintext'): Promise<AppCore> {
  const core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode });
  cores.push(core);
  return core;
}

async function refusal(p: Promise<{ ok: boolean; error?: { code: string; message: string; key?: string } }>): Promise<{ code: string; message: string; key?: string }> {
  const r = await p;
  assert.equal(r.ok, false, 'the call was refused');
  return r.error!;
}

/** The files that hold the account's secrets and how they are kept (the database changes by itself while the account is open). */
const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).filter((f) => /^(secret|passphrase)/.test(f)).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'hex')]));

test('a passphrase account: wrong current refused, short new refused by the contract, then changed for good', async () => {
  const dataDir = tempDir('mimi-passchange-core-');
  dirs.push(dataDir);
  let core = await coreIn(dataDir, 'passphrase');
  const handle = uniqueHandle('pia');
  const account = await core.accounts.register({ providerUrl: tp.p.url, caPem: tp.p.caPem, handle, password: PASSWORD, secrets: { mode: 'passphrase', passphrase: OLD } });
  const dir = path.join(dataDir, 'accounts', account.id);
  const before = snapshot(dir);

  const wrong = await refusal(dispatchCall(core, 'accounts.changePassphrase', [account.id, 'not the passphrase', NEW]));
  assert.equal(wrong.code, 'wrongPassphrase');
  assert.equal(wrong.key, 'settings.errors.wrongCurrentPassphrase');
  assert.match(wrong.message, /nothing was changed.*try again/);
  assert.notEqual(translate(wrong.key!, {}, 'de'), wrong.message, 'the window can show it in German');
  const short = await refusal(dispatchCall(core, 'accounts.changePassphrase', [account.id, OLD, 'short']));
  assert.equal(short.code, 'invalidArgument');
  assert.deepEqual(snapshot(dir), before, 'the refusals changed no file');

  assert.deepEqual(await dispatchCall(core, 'accounts.changePassphrase', [account.id, OLD, NEW]), { ok: true, value: undefined });
  // The open account keeps working under the new key: a room is created and sealed in its database.
  await core.rooms.create(account.id, 'After the change', null);
  await core.close();

  core = await coreIn(dataDir, 'passphrase');
  await assert.rejects(core.accounts.unlock(account.id, OLD), (e: unknown) => e instanceof CoreError && e.code === 'wrongPassphrase');
  await core.accounts.unlock(account.id, NEW);
  assert.deepEqual((await core.rooms.list(account.id)).map((r) => r.name), ['After the change']);
});

test('an account without a passphrase: a clear error that says what to do, nothing changed', async () => {
  const dataDir = tempDir('mimi-passchange-plain-');
  dirs.push(dataDir);
  const core = await coreIn(dataDir, 'plaintext');
  const account = await core.accounts.register({ providerUrl: tp.p.url, caPem: tp.p.caPem, handle: uniqueHandle('pete'), password: PASSWORD });
  const dir = path.join(dataDir, 'accounts', account.id);
  const before = snapshot(dir);
  const e = await refusal(dispatchCall(core, 'accounts.changePassphrase', [account.id, OLD, NEW]));
  assert.equal(e.code, 'invalidArgument');
  assert.equal(e.key, 'settings.errors.notPassphraseMode');
  assert.match(e.message, /not protected by a passphrase.*sign in again as a new device/);
  assert.deepEqual(snapshot(dir), before);
});
