// Changing a passphrase profile's passphrase on real files: every entry ends up under the new
// passphrase only, a wrong current one changes no byte, and a change stopped between any two of
// its steps (as a crash or kill -9 would stop it) leaves exactly one of the two passphrases
// opening the secrets, never neither.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SecretStoreError } from '../../src-main/secrets/secret-store.js';
import { DEFAULT_SCRYPT, PASSPHRASE_CHANGE_FILE, PASSPHRASE_KDF_FILE, PassphraseStore, type PassphraseChangeStep, type ScryptParams } from '../../src-main/secrets/passphrase-store.js';
import { utf8 } from '../../src-shared/bytes.js';

const OLD = 'correct horse battery staple';
const NEW = 'a different, longer passphrase';
/** The smallest accepted parameters: the steps are what is tested, not scrypt's cost. */
const CHEAP: ScryptParams = { N: 2 ** 14, r: 8, p: 1 };

function tmpDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-passchange-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'hex')]));

async function profileWithSecrets(t: { after(fn: () => void): void }): Promise<{ dir: string; store: PassphraseStore; secrets: Record<string, Uint8Array> }> {
  const dir = path.join(tmpDir(t), 'profile');
  fs.mkdirSync(dir);
  // Cheap parameters from the start: every opening below derives again, and at the default cost
  // (passphrase-store.test.ts opens through openSecretStore with it) this file took 50 s.
  const store = await PassphraseStore.create(dir, OLD, CHEAP);
  const secrets = { 'db-key': randomBytes(32), token: utf8('device-token'), 'device-keys': utf8('{"identity":"x"}') };
  for (const [k, v] of Object.entries(secrets)) await store.set(k, v);
  return { dir, store, secrets };
}

/** Which passphrases open the folder now, and whether what they open is every secret intact. */
async function whichOpens(dir: string, secrets: Record<string, Uint8Array>): Promise<string[]> {
  const opens: string[] = [];
  for (const [name, pass] of [['old', OLD], ['new', NEW]] as const) {
    let store: PassphraseStore;
    try {
      store = await PassphraseStore.unlock(dir, pass);
    } catch (e) {
      assert.ok(e instanceof SecretStoreError && e.code === 'wrong-passphrase', `the ${name} passphrase fails only as a wrong passphrase: ${String(e)}`);
      continue;
    }
    for (const [k, v] of Object.entries(secrets)) assert.deepEqual(await store.get(k), new Uint8Array(v), `${k} opens under the ${name} passphrase`);
    opens.push(name);
  }
  return opens;
}

test('passphrase change: the secrets open with the new passphrase only, the running store keeps working', async (t) => {
  const { dir, store, secrets } = await profileWithSecrets(t);
  const kdfBefore = fs.readFileSync(path.join(dir, PASSPHRASE_KDF_FILE), 'utf8');
  await store.changePassphrase(OLD, NEW, { params: CHEAP });
  assert.deepEqual(await whichOpens(dir, secrets), ['new']);
  assert.notEqual(JSON.parse(fs.readFileSync(path.join(dir, PASSPHRASE_KDF_FILE), 'utf8')).salt, JSON.parse(kdfBefore).salt, 'a fresh salt');
  assert.equal(fs.existsSync(path.join(dir, PASSPHRASE_CHANGE_FILE)), false, 'the change file is gone once done');
  // The store that made the change reads and writes under the new key.
  assert.deepEqual(await store.get('token'), new Uint8Array(secrets.token));
  await store.set('later', utf8('written after the change'));
  assert.deepEqual(await (await PassphraseStore.unlock(dir, NEW)).get('later'), utf8('written after the change'));
  for (const f of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
});

test('passphrase change: a wrong current passphrase, or a too short new one, changes no byte', async (t) => {
  const { dir, store, secrets } = await profileWithSecrets(t);
  const before = snapshot(dir);
  await assert.rejects(store.changePassphrase('not the passphrase', NEW, { params: CHEAP }), (e: unknown) => e instanceof SecretStoreError && e.code === 'wrong-passphrase' && /nothing was changed/.test(e.message));
  await assert.rejects(store.changePassphrase(OLD, 'short', { params: CHEAP }), (e: unknown) => e instanceof SecretStoreError && e.code === 'invalid-argument' && /at least 8/.test(e.message));
  assert.deepEqual(snapshot(dir), before);
  assert.deepEqual(await whichOpens(dir, secrets), ['old']);
});

for (const step of ['committed', 'secrets-replaced', 'kdf-replaced'] as PassphraseChangeStep[]) {
  test(`passphrase change stopped after "${step}": the new passphrase opens every secret at the next start`, async (t) => {
    const { dir, secrets } = await profileWithSecrets(t);
    // A separate instance, dropped after the failure: the next start knows only the files.
    const doomed = await PassphraseStore.unlock(dir, OLD);
    await assert.rejects(
      doomed.changePassphrase(OLD, NEW, {
        params: CHEAP,
        afterStep: (s) => {
          if (s === step) throw new Error(`stopped after ${s}`);
        },
      }),
      /stopped after/,
    );
    if (step !== 'kdf-replaced') assert.ok(fs.existsSync(path.join(dir, PASSPHRASE_CHANGE_FILE)), 'the change is still to finish');
    assert.deepEqual(await whichOpens(dir, secrets), ['new']);
    assert.equal(fs.existsSync(path.join(dir, PASSPHRASE_CHANGE_FILE)), false, 'finished by the next opening');
  });
}

test('passphrase change stopped before its commit (the change file never landed): the old passphrase still opens everything', async (t) => {
  const { dir, store, secrets } = await profileWithSecrets(t);
  const before = snapshot(dir);
  // A directory where the change file would go: the rename onto it fails, as a full disk would.
  fs.mkdirSync(path.join(dir, PASSPHRASE_CHANGE_FILE));
  await assert.rejects(store.changePassphrase(OLD, NEW, { params: CHEAP }));
  fs.rmdirSync(path.join(dir, PASSPHRASE_CHANGE_FILE));
  assert.deepEqual(snapshot(dir), before, 'no temporary file left behind, nothing replaced');
  assert.deepEqual(await store.get('db-key'), new Uint8Array(secrets['db-key']), 'the running store still reads its secrets');
  assert.deepEqual(await whichOpens(dir, secrets), ['old']);
});

test('passphrase change: the running store that stopped midway still reads its secrets (it finishes the change)', async (t) => {
  const { dir, store, secrets } = await profileWithSecrets(t);
  await assert.rejects(
    store.changePassphrase(OLD, NEW, {
      params: CHEAP,
      afterStep: (s) => {
        if (s === 'committed') throw new Error('write failed');
      },
    }),
  );
  assert.deepEqual(await store.get('token'), new Uint8Array(secrets.token));
  assert.deepEqual(await whichOpens(dir, secrets), ['new']);
});

test('passphrase change: a damaged change file is reported, never guessed at', async (t) => {
  const { dir } = await profileWithSecrets(t);
  fs.writeFileSync(path.join(dir, PASSPHRASE_CHANGE_FILE), '{"version":1}');
  const before = snapshot(dir);
  await assert.rejects(PassphraseStore.unlock(dir, OLD), (e: unknown) => e instanceof SecretStoreError && e.code === 'corrupt' && /not a valid passphrase change/.test(e.message));
  assert.deepEqual(snapshot(dir), before);
});

test('passphrase change: a second change while one runs is refused, the first one stands', async (t) => {
  const { dir, store, secrets } = await profileWithSecrets(t);
  const first = store.changePassphrase(OLD, NEW, { params: CHEAP });
  await assert.rejects(store.changePassphrase(OLD, 'a third passphrase', { params: CHEAP }), (e: unknown) => e instanceof SecretStoreError && /being changed already/.test(e.message));
  await first;
  assert.deepEqual(await whichOpens(dir, secrets), ['new']);
});

test('passphrase change killed with SIGKILL between its steps: one of the two passphrases always opens every secret', async (t) => {
  const { spawn } = await import('node:child_process');
  // Where the child is killed: while it derives the keys (before the commit), then after each step.
  const expected: Record<string, string> = { deriving: 'old', committed: 'new', 'secrets-replaced': 'new', 'kdf-replaced': 'new' };
  for (const [killAt, survivor] of Object.entries(expected)) {
    const dir = path.join(tmpDir(t), 'profile');
    fs.mkdirSync(dir);
    // Killed while deriving: the old record has the real (slow) parameters, so the kill surely lands before the commit.
    const store = await PassphraseStore.create(dir, OLD, killAt === 'deriving' ? DEFAULT_SCRYPT : CHEAP);
    const secrets = { 'db-key': randomBytes(32), token: utf8('device-token') };
    for (const [k, v] of Object.entries(secrets)) await store.set(k, v);
    // The child says where it is (synchronously, so the word is out before it goes on) and then
    // holds still at that point until it is killed.
    const script = `
      import fs from 'node:fs';
      import { PassphraseStore } from ${JSON.stringify(path.resolve('src-main/secrets/passphrase-store.ts'))};
      const hold = (step) => {
        fs.writeSync(1, step + '\\n');
        if (step === ${JSON.stringify(killAt)}) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
      };
      const store = await PassphraseStore.unlock(${JSON.stringify(dir)}, ${JSON.stringify(OLD)});
      const change = store.changePassphrase(${JSON.stringify(OLD)}, ${JSON.stringify(NEW)}, { params: ${JSON.stringify(CHEAP)}, afterStep: hold });
      fs.writeSync(1, 'deriving\\n');
      await change;
      fs.writeSync(1, 'done\\n');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.split('\n').includes(killAt)) resolve();
      });
      child.on('exit', () => reject(new Error(`the child ended before "${killAt}": ${out}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    assert.ok(!out.includes('done'), 'killed before the change was through');
    assert.deepEqual(await whichOpens(dir, secrets), [survivor], `killed at "${killAt}": only the ${survivor} passphrase opens the secrets`);
  }
});
