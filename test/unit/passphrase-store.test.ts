// The passphrase backend on real files: what is on disk is ciphertext under a scrypt key with a
// per-profile salt, a wrong passphrase is told apart and changes nothing, the mode is recorded and
// never swapped, and tampering is reported rather than silently "fixed".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MODE_FILE, openSecretStore, parseSecretMode, probeSecretStore, recordedSecretMode, SecretStoreError } from '../../src-main/secrets/secret-store.js';
import { DEFAULT_SCRYPT, PASSPHRASE_KDF_FILE, PASSPHRASE_SECRETS_FILE, PassphraseStore } from '../../src-main/secrets/passphrase-store.js';
import { Vault } from '../../src-main/secrets/vault.js';
import { fromB64, toB64, utf8 } from '../../src-shared/bytes.js';

const NS = 'mimi://a.example/d/alice/1';
const PASS = 'correct horse battery staple';

function tmpDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-passphrase-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function rejectsWith(p: Promise<unknown>, code: string, messagePart?: RegExp): Promise<SecretStoreError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected a SecretStoreError ${code}`),
    (e) => (caught = e),
  );
  assert.ok(caught instanceof SecretStoreError, `expected SecretStoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (messagePart) assert.match(caught.message, messagePart);
  return caught;
}

/** Every file in the folder with its bytes, to prove an operation changed nothing. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'hex')]));
}

test('passphrase store: round trip, reopen with the passphrase, only ciphertext on disk, 0600 files', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const store = await openSecretStore({ profileDir, namespace: NS, preferred: 'passphrase', passphrase: PASS });
  assert.equal(store.mode, 'passphrase');
  assert.equal(recordedSecretMode(profileDir), 'passphrase');

  const token = utf8('device-token-that-must-not-leak');
  const dbKey = randomBytes(32);
  await store.set('token', token);
  await store.set('db-key', dbKey);
  assert.deepEqual(await store.get('token'), token);
  await store.delete('nothing-here');

  for (const f of [PASSPHRASE_KDF_FILE, PASSPHRASE_SECRETS_FILE]) {
    const file = path.join(profileDir, f);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, `${f} is 0600`);
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(!text.includes('device-token') && !text.includes(toB64(token)) && !text.includes(toB64(dbKey)), `${f} holds no plaintext form of a secret`);
    assert.ok(!text.includes(PASS), `${f} does not hold the passphrase`);
  }

  // The KDF record: scrypt with the sound defaults and a 32-byte random salt.
  const kdf = JSON.parse(fs.readFileSync(path.join(profileDir, PASSPHRASE_KDF_FILE), 'utf8'));
  assert.equal(kdf.kdf, 'scrypt');
  assert.deepEqual({ N: kdf.N, r: kdf.r, p: kdf.p }, DEFAULT_SCRYPT);
  assert.ok(DEFAULT_SCRYPT.N >= 2 ** 17 && DEFAULT_SCRYPT.r >= 8, 'at least OWASP-recommended scrypt cost');
  assert.equal(fromB64(kdf.salt).length, 32);

  // Reopened (next start) with the passphrase, through a passphrase source that is only asked when needed.
  let asked = 0;
  const again = await openSecretStore({ profileDir, namespace: NS, passphrase: async () => (asked++, PASS) });
  assert.equal(again.mode, 'passphrase');
  assert.equal(asked, 1);
  assert.deepEqual(await again.get('token'), token);
  assert.deepEqual(await again.get('db-key'), new Uint8Array(dbKey));

  // Passphrases are compared after Unicode NFC normalisation (é typed composed or decomposed).
  const accented = path.join(tmpDir(t), 'accented');
  await openSecretStore({ profileDir: accented, namespace: NS, preferred: 'passphrase', passphrase: 'caf\u00e9 au lait!' });
  const reopened = await openSecretStore({ profileDir: accented, namespace: NS, passphrase: 'cafe\u0301 au lait!' });
  assert.equal(reopened.mode, 'passphrase');
});

test('each profile gets its own salt: the same passphrase gives different keys and files', async (t) => {
  const base = tmpDir(t);
  const a = await openSecretStore({ profileDir: path.join(base, 'a'), namespace: NS, preferred: 'passphrase', passphrase: PASS });
  const b = await openSecretStore({ profileDir: path.join(base, 'b'), namespace: NS, preferred: 'passphrase', passphrase: PASS });
  await a.set('k', utf8('same'));
  await b.set('k', utf8('same'));
  const kdfA = JSON.parse(fs.readFileSync(path.join(base, 'a', PASSPHRASE_KDF_FILE), 'utf8'));
  const kdfB = JSON.parse(fs.readFileSync(path.join(base, 'b', PASSPHRASE_KDF_FILE), 'utf8'));
  assert.notEqual(kdfA.salt, kdfB.salt);
  // B's entry copied into A's file does not open with A's key.
  const entryB = JSON.parse(fs.readFileSync(path.join(base, 'b', PASSPHRASE_SECRETS_FILE), 'utf8')).entries.k;
  const fileA = path.join(base, 'a', PASSPHRASE_SECRETS_FILE);
  const docA = JSON.parse(fs.readFileSync(fileA, 'utf8'));
  docA.entries.k = entryB;
  fs.writeFileSync(fileA, JSON.stringify(docA));
  await rejectsWith(a.get('k'), 'decrypt-failed', /altered/);
});

test('a wrong or missing passphrase is refused with a clear error and changes nothing', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const store = await openSecretStore({ profileDir, namespace: NS, preferred: 'passphrase', passphrase: PASS });
  await store.set('db-key', randomBytes(32));
  const before = snapshot(profileDir);

  await rejectsWith(openSecretStore({ profileDir, namespace: NS, passphrase: 'Correct horse battery staple' }), 'wrong-passphrase', /does not unlock[\s\S]*try again/);
  await rejectsWith(openSecretStore({ profileDir, namespace: NS }), 'locked', /passphrase/);
  await rejectsWith(openSecretStore({ profileDir, namespace: NS, passphrase: '' }), 'locked');
  // Asking for another mode does not unlock or convert it: the recorded mode stands.
  await rejectsWith(openSecretStore({ profileDir, namespace: NS, preferred: 'plaintext', passphrase: PASS }), 'mode-mismatch', /passphrase/);
  assert.deepEqual(snapshot(profileDir), before, 'no file was written, replaced or added');
});

test('a new passphrase profile needs a passphrase of 8+ characters; a refused one creates nothing', async (t) => {
  const base = tmpDir(t);
  for (const [name, passphrase] of [['short', 'seven c'], ['none', undefined]] as const) {
    const profileDir = path.join(base, name);
    await rejectsWith(probeSecretStore({ profileDir, preferred: 'passphrase', passphrase }), 'invalid-argument', /at least 8 characters/);
    await rejectsWith(openSecretStore({ profileDir, namespace: NS, preferred: 'passphrase', passphrase }), passphrase === undefined ? 'locked' : 'invalid-argument');
    assert.equal(fs.existsSync(profileDir), false, `${name}: nothing was created`);
  }
  await probeSecretStore({ profileDir: path.join(base, 'ok'), preferred: 'passphrase', passphrase: 'eight ch' });
  assert.equal(parseSecretMode('passphrase'), 'passphrase');
});

test('tampered KDF records are reported and left alone; cost parameters are bounded', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  await openSecretStore({ profileDir, namespace: NS, preferred: 'passphrase', passphrase: PASS });
  const kdfFile = path.join(profileDir, PASSPHRASE_KDF_FILE);
  const good = fs.readFileSync(kdfFile, 'utf8');
  const rec = JSON.parse(good);
  const cases: [string, string][] = [
    ['not JSON', '{'],
    ['memory bomb', JSON.stringify({ ...rec, N: 2 ** 30 })],
    ['N not a power of two', JSON.stringify({ ...rec, N: 100_000 })],
    ['weakened cost', JSON.stringify({ ...rec, N: 2 })],
    ['no salt', JSON.stringify({ ...rec, salt: '' })],
  ];
  for (const [what, text] of cases) {
    fs.writeFileSync(kdfFile, text);
    await rejectsWith(openSecretStore({ profileDir, namespace: NS, passphrase: PASS }), 'corrupt', undefined);
    assert.equal(fs.readFileSync(kdfFile, 'utf8'), text, `${what}: left untouched`);
  }
  // A check value from another profile: the passphrase cannot be confirmed, so it is not used.
  fs.writeFileSync(kdfFile, JSON.stringify({ ...rec, check: toB64(randomBytes(60)) }));
  await rejectsWith(openSecretStore({ profileDir, namespace: NS, passphrase: PASS }), 'wrong-passphrase');
  fs.writeFileSync(kdfFile, good);
  assert.equal((await openSecretStore({ profileDir, namespace: NS, passphrase: PASS })).mode, 'passphrase');

  // An existing KDF record is never overwritten by a second "create".
  await rejectsWith(PassphraseStore.create(profileDir, PASS), 'corrupt', /another profile folder/);
  assert.equal(fs.readFileSync(kdfFile, 'utf8'), good);
  assert.equal(JSON.parse(fs.readFileSync(path.join(profileDir, MODE_FILE), 'utf8')).mode, 'passphrase');
});

test('the database vault opens on a passphrase store across restarts, and not with a wrong passphrase', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const first = await Vault.open(await openSecretStore({ profileDir, namespace: NS, preferred: 'passphrase', passphrase: PASS }));
  const sealed = first.seal(utf8('hello'), 'messages:1');
  const second = await Vault.open(await openSecretStore({ profileDir, namespace: NS, passphrase: PASS }));
  assert.deepEqual(second.open(sealed, 'messages:1'), utf8('hello'));
  await rejectsWith(openSecretStore({ profileDir, namespace: NS, passphrase: 'not the one' }), 'wrong-passphrase');
});
