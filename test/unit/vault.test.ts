import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { openSecretStore, type SecretStore } from '../../src-main/secrets/secret-store.js';
import { Vault, VAULT_KEY_NAME, VaultError } from '../../src-main/secrets/vault.js';
import { utf8 } from '../../src-shared/bytes.js';

/** A real (plaintext, file-backed) secret store in a fresh temp profile. */
async function tempStore(t: { after(fn: () => void): void }): Promise<SecretStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-vault-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return openSecretStore({ profileDir: path.join(dir, 'profile'), namespace: 'vault-test', preferred: 'plaintext' });
}

function throwsVault(fn: () => unknown, code: string): void {
  assert.throws(fn, (e) => e instanceof VaultError && e.code === code);
}

test('seal/open round trip, for empty and large plaintexts', async (t) => {
  const vault = await Vault.open(await tempStore(t));
  for (const pt of [new Uint8Array(0), utf8('hello'), randomBytes(70_000)]) {
    const sealed = vault.seal(pt, 'messages:42');
    assert.deepEqual(vault.open(sealed, 'messages:42'), new Uint8Array(pt));
  }
});

test('the data key is created once, kept in the SecretStore as db-key, and reused', async (t) => {
  const store = await tempStore(t);
  assert.equal(await store.get(VAULT_KEY_NAME), null);
  const v1 = await Vault.open(store);
  const key = await store.get(VAULT_KEY_NAME);
  assert.equal(VAULT_KEY_NAME, 'db-key');
  assert.equal(key?.length, 32);

  const sealed = v1.seal(utf8('group state'), 'group:mimi://hub.example/r/1');
  const v2 = await Vault.open(store);
  assert.deepEqual(await store.get(VAULT_KEY_NAME), key, 'reopening does not replace the key');
  assert.deepEqual(v2.open(sealed, 'group:mimi://hub.example/r/1'), utf8('group state'));
});

test('sealed format is version || 12-byte nonce || AES-256-GCM ciphertext || tag, AAD bound', async (t) => {
  const store = await tempStore(t);
  const vault = await Vault.open(store);
  const pt = utf8('format check');
  const aad = 'kp:00ff';
  const sealed = vault.seal(pt, aad);
  assert.equal(sealed.length, 1 + 12 + pt.length + 16);
  assert.equal(sealed[0], 1);

  // Decrypt independently with node:crypto, using the documented layout.
  const key = (await store.get(VAULT_KEY_NAME))!;
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
  d.setAAD(Buffer.concat([Buffer.from([1]), Buffer.from(aad, 'utf8')]));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()]);
  assert.deepEqual(new Uint8Array(out), pt);

  const again = vault.seal(pt, aad);
  assert.notDeepEqual(again.subarray(1, 13), sealed.subarray(1, 13), 'a fresh nonce per seal');
  assert.notDeepEqual(again, sealed);
});

test('a blob does not open under another row\'s AAD', async (t) => {
  const vault = await Vault.open(await tempStore(t));
  const sealed = vault.seal(utf8('secret for row 1'), 'message:room-a:1');
  throwsVault(() => vault.open(sealed, 'message:room-a:2'), 'auth-failed');
  throwsVault(() => vault.open(sealed, 'outbox:message:room-a:1'), 'auth-failed');
  assert.deepEqual(vault.open(sealed, 'message:room-a:1'), utf8('secret for row 1'));
});

test('any tampered byte (nonce, ciphertext, tag) is rejected', async (t) => {
  const vault = await Vault.open(await tempStore(t));
  const sealed = vault.seal(utf8('do not touch'), 'rooms:1');
  for (let i = 1; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i] ^= 0x01;
    throwsVault(() => vault.open(bad, 'rooms:1'), 'auth-failed');
  }
  const badVersion = sealed.slice();
  badVersion[0] = 2;
  throwsVault(() => vault.open(badVersion, 'rooms:1'), 'unsupported-version');
});

test('truncated or non-byte input and a missing AAD are rejected', async (t) => {
  const vault = await Vault.open(await tempStore(t));
  const sealed = vault.seal(utf8('x'), 'rooms:1');
  throwsVault(() => vault.open(sealed.subarray(0, 28), 'rooms:1'), 'malformed');
  throwsVault(() => vault.open(new Uint8Array(0), 'rooms:1'), 'malformed');
  throwsVault(() => vault.open(sealed.subarray(0, sealed.length - 1), 'rooms:1'), 'auth-failed');
  throwsVault(() => vault.open('abc' as unknown as Uint8Array, 'rooms:1'), 'invalid-argument');
  throwsVault(() => vault.seal('abc' as unknown as Uint8Array, 'rooms:1'), 'invalid-argument');
  throwsVault(() => vault.seal(utf8('x'), ''), 'invalid-argument');
  throwsVault(() => vault.open(sealed, undefined as unknown as string), 'invalid-argument');
});

test('another profile\'s vault cannot open the blob', async (t) => {
  const a = await Vault.open(await tempStore(t));
  const b = await Vault.open(await tempStore(t));
  const sealed = a.seal(utf8('only for a'), 'rooms:1');
  throwsVault(() => b.open(sealed, 'rooms:1'), 'auth-failed');
});

test('a stored key of the wrong length is refused and left in place', async (t) => {
  const store = await tempStore(t);
  await store.set(VAULT_KEY_NAME, new Uint8Array(16).fill(9));
  await assert.rejects(Vault.open(store), (e) => e instanceof VaultError && e.code === 'bad-key');
  assert.deepEqual(await store.get(VAULT_KEY_NAME), new Uint8Array(16).fill(9));
});
