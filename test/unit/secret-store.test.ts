import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  detectSecureStorage,
  MODE_FILE,
  openSecretStore,
  parseSecretMode,
  SecretStoreError,
  type SafeStorageLike,
  type SecretStore,
} from '../../src-main/secrets/secret-store.js';
import { PLAINTEXT_FILE } from '../../src-main/secrets/plaintext-store.js';
import { SAFE_STORAGE_FILE } from '../../src-main/secrets/safe-storage-store.js';
import { KEYCHAIN_SERVICE, KeytarStore } from '../../src-main/secrets/keytar-store.js';
import { toB64, utf8 } from '../../src-shared/bytes.js';

const run = promisify(execFile);
const SECRET_STORE_MODULE = pathToFileURL(path.resolve(import.meta.dirname, '../../src-main/secrets/secret-store.ts')).href;

const KEYCHAIN_SKIP = process.env.DBUS_SESSION_BUS_ADDRESS
  ? false
  : 'DBUS_SESSION_BUS_ADDRESS is not set, so there is no Secret Service to test against (run the suite via `npm test`, which uses scripts/with-keyring.sh)';

function tmpDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-secrets-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const fileMode = (p: string): number => fs.statSync(p).mode & 0o777;
const readMode = (profileDir: string): unknown => JSON.parse(fs.readFileSync(path.join(profileDir, MODE_FILE), 'utf8'));

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

/**
 * TRUE EDGE - stand-in for Electron's `safeStorage`, which does not exist outside Electron.
 * It encrypts for real (AES-256-GCM under a per-instance random key), so what the store writes
 * to disk is genuinely opaque and a different instance genuinely cannot decrypt it.
 */
function fakeSafeStorage(opts: { available?: boolean; backend?: string } = {}): SafeStorageLike {
  const key = randomBytes(32);
  const fake: SafeStorageLike = {
    isEncryptionAvailable: () => opts.available ?? true,
    encryptString(s) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(s, 'utf8'), c.final()]);
      return Buffer.concat([iv, body, c.getAuthTag()]);
    },
    decryptString(b) {
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
      d.setAuthTag(b.subarray(b.length - 16));
      return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8');
    },
  };
  if (opts.backend !== undefined) fake.getSelectedStorageBackend = () => opts.backend!;
  return fake;
}

/**
 * Opens a store in a child process whose D-Bus address points at nothing, i.e. a machine where the
 * OS keychain is unreachable. (A separate process, because libsecret keeps its bus connection.)
 */
async function openWithoutKeychain(
  t: { after(fn: () => void): void },
  profileDir: string,
  opts: { namespace: string; preferred?: string; withSafeStorage?: boolean },
): Promise<{ ok: true; mode: string } | { ok: false; code: string; message: string }> {
  const dir = tmpDir(t);
  const script = path.join(dir, 'open-store.mts');
  fs.writeFileSync(
    script,
    `
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { openSecretStore } from ${JSON.stringify(SECRET_STORE_MODULE)};
// TRUE EDGE: minimal real-AES stand-in for Electron safeStorage (see fakeSafeStorage in the test).
const key = randomBytes(32);
const safeStorage = {
  isEncryptionAvailable: () => true,
  encryptString(s) { const iv = randomBytes(12); const c = createCipheriv('aes-256-gcm', key, iv); const b = Buffer.concat([c.update(s, 'utf8'), c.final()]); return Buffer.concat([iv, b, c.getAuthTag()]); },
  decryptString(b) { const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12)); d.setAuthTag(b.subarray(b.length - 16)); return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8'); },
};
const o = JSON.parse(process.argv[2]);
try {
  const s = await openSecretStore({ profileDir: o.profileDir, namespace: o.namespace, preferred: o.preferred, safeStorage: o.withSafeStorage ? safeStorage : undefined });
  await s.set('probe-key', new Uint8Array([1, 2, 3]));
  console.log(JSON.stringify({ ok: true, mode: s.mode }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
}
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${path.join(dir, 'no-such-bus')}` };
  delete env.DISPLAY;
  delete env.NODE_TEST_CONTEXT; // the child is a plain script, not a test file
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, JSON.stringify({ profileDir, ...opts })], {
    env,
    cwd: path.resolve(import.meta.dirname, '../..'),
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

async function roundTrip(store: SecretStore): Promise<void> {
  assert.equal(await store.get('db-key'), null);
  const v1 = new Uint8Array([0, 1, 2, 250, 255]);
  await store.set('db-key', v1);
  assert.deepEqual(await store.get('db-key'), v1);
  const v2 = randomBytes(100);
  await store.set('db-key', v2);
  assert.deepEqual(await store.get('db-key'), new Uint8Array(v2));
  const one = new Uint8Array([7]);
  await store.set('other', one);
  await store.delete('db-key');
  assert.equal(await store.get('db-key'), null);
  assert.deepEqual(await store.get('other'), one, 'deleting one key leaves the others');
  await store.delete('db-key'); // deleting what is not there is fine
  await store.delete('other');
}

// --- plaintext ---

test('plaintext store: set/get/delete round trip, persists across reopen', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const store = await openSecretStore({ profileDir, namespace: 'mimi://a.example/d/alice/1', preferred: 'plaintext' });
  assert.equal(store.mode, 'plaintext');
  await roundTrip(store);

  await store.set('device-keys', utf8('secret-bytes'));
  const again = await openSecretStore({ profileDir, namespace: 'mimi://a.example/d/alice/1' });
  assert.equal(again.mode, 'plaintext', 'an explicitly chosen mode is recorded and reused');
  assert.deepEqual(await again.get('device-keys'), utf8('secret-bytes'));
  const rec = readMode(profileDir) as Record<string, unknown>;
  assert.equal(rec.version, 1);
  assert.equal(rec.mode, 'plaintext');
  assert.equal(rec.namespace, 'mimi://a.example/d/alice/1');
});

test('files are 0600, the new profile folder 0700, and atomic writes leave no temp files', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const store = await openSecretStore({ profileDir, namespace: 'ns', preferred: 'plaintext' });
  for (let i = 0; i < 5; i++) await store.set(`k${i}`, randomBytes(8));
  await store.delete('k0');
  assert.equal(fs.statSync(profileDir).mode & 0o777, 0o700);
  assert.equal(fileMode(path.join(profileDir, MODE_FILE)), 0o600);
  assert.equal(fileMode(path.join(profileDir, PLAINTEXT_FILE)), 0o600);
  assert.deepEqual(fs.readdirSync(profileDir).sort(), [MODE_FILE, PLAINTEXT_FILE].sort());
});

test('bad keys, values and options are rejected with SecretStoreError and change nothing', async (t) => {
  const base = tmpDir(t);
  const profileDir = path.join(base, 'profile');
  const store = await openSecretStore({ profileDir, namespace: 'ns', preferred: 'plaintext' });
  await store.set('good', utf8('v'));
  const file = path.join(profileDir, PLAINTEXT_FILE);
  const before = fs.readFileSync(file, 'utf8');

  await rejectsWith(store.set('', utf8('x')), 'invalid-argument');
  await rejectsWith(store.set('has space', utf8('x')), 'invalid-argument');
  await rejectsWith(store.set('x'.repeat(257), utf8('x')), 'invalid-argument');
  await rejectsWith(store.set('ok', 'not bytes' as unknown as Uint8Array), 'invalid-argument');
  await rejectsWith(store.set('ok', new Uint8Array(0)), 'invalid-argument');
  await rejectsWith(store.get(42 as unknown as string), 'invalid-argument');
  await rejectsWith(store.delete('tab\there'), 'invalid-argument');
  assert.equal(fs.readFileSync(file, 'utf8'), before);

  const fresh = path.join(base, 'fresh');
  await rejectsWith(openSecretStore({ profileDir: fresh, namespace: 'ns', preferred: 'paper' as never }), 'invalid-argument');
  await rejectsWith(openSecretStore({ profileDir: fresh, namespace: '', preferred: 'plaintext' }), 'invalid-argument');
  await rejectsWith(openSecretStore({ profileDir: fresh, namespace: 'a\nb', preferred: 'plaintext' }), 'invalid-argument');
  assert.equal(fs.existsSync(fresh), false, 'a rejected open creates nothing');
});

test('parseSecretMode accepts the three modes and nothing else', () => {
  assert.equal(parseSecretMode('keychain'), 'keychain');
  assert.equal(parseSecretMode('safeStorage'), 'safeStorage');
  assert.equal(parseSecretMode('plaintext'), 'plaintext');
  for (const bad of ['Plaintext', '', 'none', undefined, 3]) {
    assert.throws(() => parseSecretMode(bad), (e) => e instanceof SecretStoreError && e.code === 'invalid-argument');
  }
});

test('a corrupt secrets file or mode record is reported and left untouched', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const store = await openSecretStore({ profileDir, namespace: 'ns', preferred: 'plaintext' });
  const file = path.join(profileDir, PLAINTEXT_FILE);
  fs.writeFileSync(file, '{"version":1,"entries":{"k":17}}');
  await rejectsWith(store.get('k'), 'corrupt');
  await rejectsWith(store.set('k', utf8('v')), 'corrupt');
  assert.equal(fs.readFileSync(file, 'utf8'), '{"version":1,"entries":{"k":17}}');

  fs.writeFileSync(file, JSON.stringify({ version: 1, entries: { k: 'not base64url!' } }));
  await rejectsWith(store.get('k'), 'corrupt');

  const modeFile = path.join(profileDir, MODE_FILE);
  fs.writeFileSync(modeFile, '{"version":1,"mode":"papyrus","namespace":"ns"}');
  await rejectsWith(openSecretStore({ profileDir, namespace: 'ns' }), 'corrupt', /secret-mode/);
  assert.equal(fs.readFileSync(modeFile, 'utf8'), '{"version":1,"mode":"papyrus","namespace":"ns"}');
});

test('an existing profile only opens with its recorded mode and namespace', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  await openSecretStore({ profileDir, namespace: 'ns-1', preferred: 'plaintext' });
  await rejectsWith(openSecretStore({ profileDir, namespace: 'ns-1', preferred: 'keychain' }), 'mode-mismatch', /plaintext/);
  await rejectsWith(
    openSecretStore({ profileDir, namespace: 'ns-1', preferred: 'safeStorage', safeStorage: fakeSafeStorage() }),
    'mode-mismatch',
  );
  await rejectsWith(openSecretStore({ profileDir, namespace: 'ns-2', preferred: 'plaintext' }), 'namespace-mismatch', /ns-1/);
  assert.equal((readMode(profileDir) as { mode: string }).mode, 'plaintext');
});

// --- Electron safeStorage (through the injected stand-in) ---

test('safeStorage store: round trip, only ciphertext on disk, 0600', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const safeStorage = fakeSafeStorage({ backend: 'gnome_libsecret' });
  const store = await openSecretStore({ profileDir, namespace: 'ns', preferred: 'safeStorage', safeStorage });
  assert.equal(store.mode, 'safeStorage');
  await roundTrip(store);

  const secret = utf8('correct horse battery staple');
  await store.set('token', secret);
  const file = path.join(profileDir, SAFE_STORAGE_FILE);
  const onDisk = fs.readFileSync(file, 'utf8');
  assert.ok(!onDisk.includes(toB64(secret)) && !onDisk.includes('correct horse'), 'the file holds no plaintext form of the secret');
  assert.equal(fileMode(file), 0o600);

  const reopened = await openSecretStore({ profileDir, namespace: 'ns', safeStorage });
  assert.equal(reopened.mode, 'safeStorage');
  assert.deepEqual(await reopened.get('token'), secret);

  // Another machine's (or a reset keyring's) safeStorage cannot decrypt it: a clear error, no data loss.
  const other = await openSecretStore({ profileDir, namespace: 'ns', safeStorage: fakeSafeStorage() });
  await rejectsWith(other.get('token'), 'decrypt-failed');
  assert.equal(fs.readFileSync(file, 'utf8'), onDisk);
});

test('safeStorage that is unavailable or only basic_text is refused, with no fallback', async (t) => {
  const base = tmpDir(t);
  const cases: [string, SafeStorageLike | undefined, RegExp][] = [
    ['missing', undefined, /desktop app/],
    ['unavailable', fakeSafeStorage({ available: false }), /not available/],
    ['basic_text', fakeSafeStorage({ backend: 'basic_text' }), /basic_text/],
  ];
  for (const [name, safeStorage, why] of cases) {
    const profileDir = path.join(base, name);
    await rejectsWith(openSecretStore({ profileDir, namespace: 'ns', preferred: 'safeStorage', safeStorage }), 'unavailable', why);
    assert.equal(fs.existsSync(profileDir), false, `${name}: nothing was created`);
  }
});

test('a safeStorage profile is not downgraded when safeStorage is gone later', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const store = await openSecretStore({ profileDir, namespace: 'ns', preferred: 'safeStorage', safeStorage: fakeSafeStorage() });
  await store.set('db-key', randomBytes(32));
  const before = fs.readdirSync(profileDir).sort();

  await rejectsWith(openSecretStore({ profileDir, namespace: 'ns' }), 'unavailable', /safeStorage[\s\S]*desktop app/);
  await rejectsWith(openSecretStore({ profileDir, namespace: 'ns', safeStorage: fakeSafeStorage({ available: false }) }), 'unavailable');
  assert.deepEqual(fs.readdirSync(profileDir).sort(), before, 'no plaintext file appeared');
  assert.equal((readMode(profileDir) as { mode: string }).mode, 'safeStorage');
});

// --- choosing a mode for a new profile when the keychain is unreachable (child process) ---

test('plaintext is never chosen implicitly: no keychain and no safeStorage is an error', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const r = await openWithoutKeychain(t, profileDir, { namespace: 'mimi://a.example/d/bob/1' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.code, 'no-secure-storage');
  assert.match(r.message, /keychain/i);
  assert.match(r.message, /--secrets plaintext/);
  assert.equal(fs.existsSync(profileDir), false, 'nothing was written');

  // Asking for plaintext explicitly is the only way to get it.
  const explicit = await openWithoutKeychain(t, profileDir, { namespace: 'mimi://a.example/d/bob/1', preferred: 'plaintext' });
  assert.deepEqual(explicit, { ok: true, mode: 'plaintext' });
});

test('without a keychain a new profile falls back to safeStorage when it is available', async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const r = await openWithoutKeychain(t, profileDir, { namespace: 'ns', withSafeStorage: true });
  assert.deepEqual(r, { ok: true, mode: 'safeStorage' });
  assert.equal((readMode(profileDir) as { mode: string }).mode, 'safeStorage');
  assert.equal(fs.existsSync(path.join(profileDir, PLAINTEXT_FILE)), false);
});

// --- the real OS keychain (Secret Service) ---

test('keychain: chosen by default for a new profile, recorded, round trip', { skip: KEYCHAIN_SKIP }, async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const namespace = `mimi://test.example/d/${randomBytes(6).toString('hex')}/1`;
  const store = await openSecretStore({ profileDir, namespace });
  assert.equal(store.mode, 'keychain');
  assert.equal((readMode(profileDir) as { mode: string }).mode, 'keychain');
  await roundTrip(store);

  // Stored as base64url under service "mimi-desktop", account "<escaped namespace>/<key>".
  const value = randomBytes(32);
  await store.set('db-key', value);
  t.after(() => store.delete('db-key'));
  const keytarModule = (await import('keytar')) as typeof import('keytar') & { default?: typeof import('keytar') };
  const keytar = keytarModule.default ?? keytarModule;
  assert.equal(await keytar.getPassword(KEYCHAIN_SERVICE, `${encodeURIComponent(namespace)}/db-key`), toB64(value));

  const reopened = await openSecretStore({ profileDir, namespace });
  assert.equal(reopened.mode, 'keychain');
  assert.deepEqual(await reopened.get('db-key'), new Uint8Array(value));
  assert.deepEqual(fs.readdirSync(profileDir), [MODE_FILE], 'no secrets on disk');
});

test('keychain: namespaces are isolated', { skip: KEYCHAIN_SKIP }, async (t) => {
  const id = randomBytes(6).toString('hex');
  // Namespaces chosen so that naive "<ns>/<key>" accounts would collide: "a/b" + "c" vs "a" + "b/c".
  const probeA = await KeytarStore.tryOpen(`${id}/a`);
  const probeB = await KeytarStore.tryOpen(id);
  assert.ok(probeA.ok && probeB.ok, 'keychain reachable');
  const a = probeA.store;
  const b = probeB.store;
  t.after(async () => {
    await a.delete('c');
    await b.delete('a/c');
    await b.delete('c');
  });
  await a.set('c', utf8('from a'));
  await b.set('a/c', utf8('from b'));
  assert.deepEqual(await a.get('c'), utf8('from a'));
  assert.deepEqual(await b.get('a/c'), utf8('from b'));
  assert.equal(await b.get('c'), null);
  await b.set('c', utf8('b own c'));
  await a.delete('c');
  assert.equal(await a.get('c'), null);
  assert.deepEqual(await b.get('c'), utf8('b own c'), 'delete in one namespace leaves the other');
});

test('keychain: a keychain profile is not downgraded when the keychain is unreachable', { skip: KEYCHAIN_SKIP }, async (t) => {
  const profileDir = path.join(tmpDir(t), 'profile');
  const namespace = `ns-${randomBytes(6).toString('hex')}`;
  const store = await openSecretStore({ profileDir, namespace });
  assert.equal(store.mode, 'keychain');
  await store.set('db-key', randomBytes(32));
  t.after(() => store.delete('db-key'));

  const r = await openWithoutKeychain(t, profileDir, { namespace });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.code, 'unavailable');
    assert.match(r.message, /keychain/);
    assert.match(r.message, /Unlock your keyring|Secret Service/);
  }
  // Even with safeStorage on offer, the profile's keychain secrets are not abandoned.
  const withSafe = await openWithoutKeychain(t, profileDir, { namespace, withSafeStorage: true });
  assert.equal(withSafe.ok, false);
  assert.deepEqual(fs.readdirSync(profileDir), [MODE_FILE], 'no fallback file was written');
  assert.equal((readMode(profileDir) as { mode: string }).mode, 'keychain');

  const back = await openSecretStore({ profileDir, namespace });
  assert.equal((await back.get('db-key'))?.length, 32, 'secrets are still there once the keychain is back');
});

test('detectSecureStorage: a working keychain means no question at first start', { skip: KEYCHAIN_SKIP }, async () => {
  assert.deepEqual(await detectSecureStorage(), { ok: true, mode: 'keychain' });
  assert.deepEqual(await detectSecureStorage(fakeSafeStorage()), { ok: true, mode: 'keychain' }, 'the keychain comes first');
});
