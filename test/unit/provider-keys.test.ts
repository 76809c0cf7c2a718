// Settings → Provider keys in the core (src-main/core/provider-keys.ts) on a real profile database
// (SQLite, migration 15): keys are pinned the way an add pins them, by key-package-fetch.ts itself
// against a stand-in for another provider that publishes a signed OHTTP key configuration. What is
// checked: the list names each pinned domain with the fingerprint the "key changed" error uses and
// when it was recorded; every pin and forget is told (the app turns it into a 'providerKeys'
// event); forgetting one lets the next add pin the key published then; the error tells app users
// where to go and CLI users the command, in English and German.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { CoreError, type ProviderKeyView } from '../../src-shared/contract.js';
import { toB64, toHex } from '../../src-shared/bytes.js';
import type { FindResponse, OhttpKeysResponse, OhttpRelayResponse } from '../../src-shared/provider-api.js';
import { encodeOhttpKeysEntry, signOhttpKeys } from '../../src-shared/key-package-vouch.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { encodeKeyConfigs } from '../../src-shared/ohttp.js';
import { translate } from '../../src-shared/i18n/index.js';
import { fetchKeyPackagesOverOhttp, type KeyPackageFetchClient } from '../../src-main/core/key-package-fetch.js';
import { ProviderKeys } from '../../src-main/core/provider-keys.js';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { ProviderError } from '../../src-main/net/provider-client.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { Vault } from '../../src-main/secrets/vault.js';
import { tempDir } from '../helpers/provider-process.js';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

async function profileDb(): Promise<ProfileDb> {
  return new ProfileDb(path.join(tempDir('provider-keys'), 'mimi.db'), await Vault.open(memoryStore()));
}

/**
 * Other providers as our provider relays them: each publishes its OHTTP key configuration signed
 * with its provider key, and names no token key (so a fetch pins the key and then goes the ordinary way).
 */
class Remotes implements KeyPackageFetchClient {
  readonly providerKeys = new Map<string, { privateKey: Uint8Array; publicKey: Uint8Array }>();
  readonly relays: string[] = [];
  private readonly config = { keyId: 1, kemId: 0x20, publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()), suites: [{ kdfId: 1, aeadId: 1 }] };

  /** `domain` starts signing with a new provider key (the operator replaced it, or someone else answers). */
  newKey(domain: string): Uint8Array {
    const k = generateSignatureKeyPair();
    this.providerKeys.set(domain, k);
    return k.publicKey;
  }

  async ohttpKeys(domain: string): Promise<OhttpKeysResponse> {
    const k = this.providerKeys.get(domain);
    if (!k) throw new ProviderError(404, 'notFound', `${domain} offers no OHTTP gateway`);
    return { entry: toB64(encodeOhttpKeysEntry(signOhttpKeys(k.privateKey, k.publicKey, encodeKeyConfigs([this.config])))) };
  }

  async find(): Promise<FindResponse> {
    throw new ProviderError(404, 'notFound', 'no token key');
  }

  async ohttpRelay(domain: string): Promise<OhttpRelayResponse> {
    this.relays.push(domain);
    throw new Error('nothing is relayed in these tests');
  }
}

/** What an add of `user` does first: the provider's keys, under the pinned key or pinned now. */
async function addOf(db: ProfileDb, remotes: Remotes, user: string, now: number): Promise<void> {
  assert.equal(await fetchKeyPackagesOverOhttp({ client: remotes, store: db, now: () => now }, user), undefined, 'no token: the ordinary path');
}

const grouped = (key: Uint8Array) => (toHex(key.subarray(0, 8)).match(/../g) ?? []).join(':');

test('the list: every pinned domain with its fingerprint and when it was recorded, told on each change', async () => {
  const db = await profileDb();
  const told: ProviderKeyView[][] = [];
  const keys = new ProviderKeys(db, (list) => told.push(list));
  assert.deepEqual(keys.list(), [], 'nothing pinned in a new profile');

  const remotes = new Remotes();
  const cKey = remotes.newKey('c.example');
  const bKey = remotes.newKey('b.example');
  await addOf(db, remotes, 'mimi://c.example/u/carol', 1_700_000_000_000);
  await addOf(db, remotes, 'mimi://b.example/u/bob', 1_700_000_360_000);
  // A second add from b.example pins nothing new and tells nothing.
  await addOf(db, remotes, 'mimi://b.example/u/dave', 1_700_000_999_000);

  const expected = [
    { domain: 'b.example', fingerprint: grouped(bKey), pinnedAt: 1_700_000_360_000 },
    { domain: 'c.example', fingerprint: grouped(cKey), pinnedAt: 1_700_000_000_000 },
  ];
  assert.deepEqual(keys.list(), expected, 'by domain');
  assert.match(expected[0].fingerprint, /^([0-9a-f]{2}:){7}[0-9a-f]{2}$/);
  assert.equal(told.length, 2, 'one notice per pin');
  assert.deepEqual(told[0], [expected[1]]);
  assert.deepEqual(told[1], expected);
  assert.deepEqual(remotes.relays, [], 'nothing went to the gateways');
  db.close();
});

test('a changed key is refused with the fingerprint the list shows; forgetting it lets the next add pin the new one', async () => {
  const db = await profileDb();
  const told: ProviderKeyView[][] = [];
  const keys = new ProviderKeys(db, (list) => told.push(list));
  const remotes = new Remotes();
  const oldKey = remotes.newKey('b.example');
  remotes.newKey('c.example');
  await addOf(db, remotes, 'mimi://b.example/u/bob', 1000);
  await addOf(db, remotes, 'mimi://c.example/u/carol', 2000);
  told.length = 0;

  const newKey = remotes.newKey('b.example');
  let refused: CoreError | undefined;
  try {
    await addOf(db, remotes, 'mimi://b.example/u/bob', 3000);
  } catch (e) {
    refused = e as CoreError;
  }
  assert.ok(refused instanceof CoreError, 'the add is refused');
  assert.equal(refused.key, 'errors.ohttp.providerKeyChanged');
  assert.equal(refused.params?.pinned, keys.list()[0].fingerprint, 'the error names the key as the list shows it');
  assert.equal(refused.params?.current, grouped(newKey));
  // Where to go: the app's settings for app users, the command for the CLI.
  assert.match(refused.message, /Settings → Provider keys/);
  assert.match(refused.message, /mimi ohttp forget b\.example/);
  const de = translate(refused.key!, refused.params, 'de');
  assert.match(de, /Einstellungen → Anbieter-Schlüssel/);
  assert.match(de, /mimi ohttp forget b\.example/);
  assert.deepEqual(db.ohttpProviderKey('b.example'), oldKey, 'the old key stays pinned');
  assert.deepEqual(told, [], 'a refusal changes nothing');

  // A domain with no key, or named in another case with spaces: the same list.
  assert.deepEqual(keys.forget('d.example'), keys.list());
  assert.deepEqual(told, [], 'forgetting nothing tells nothing');
  const after = keys.forget(' B.Example ');
  assert.deepEqual(after.map((k) => k.domain), ['c.example'], 'b.example forgotten, c.example kept');
  assert.equal(db.ohttpProviderKey('b.example'), undefined);
  assert.deepEqual(told, [after], 'the forget is told with the list after it');

  // The next add records the key b.example publishes now.
  await addOf(db, remotes, 'mimi://b.example/u/bob', 4000);
  assert.deepEqual(keys.list()[0], { domain: 'b.example', fingerprint: grouped(newKey), pinnedAt: 4000 });
  assert.equal(told.length, 2);
  db.close();
});

test('a listener that throws neither fails nor undoes the change', async () => {
  const db = await profileDb();
  const keys = new ProviderKeys(db, () => {
    throw new Error('broken window');
  });
  const remotes = new Remotes();
  remotes.newKey('b.example');
  await addOf(db, remotes, 'mimi://b.example/u/bob', 1000);
  assert.equal(keys.list().length, 1);
  assert.deepEqual(keys.forget('b.example'), []);
  db.close();
});
