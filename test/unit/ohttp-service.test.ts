// The provider's OHTTP roles (src-provider/ohttp-service.ts) on a real store (the SQLite file, or
// with MIMI_TEST_POSTGRES a PostgreSQL database): token issuance as it rides on /identifierQuery
// (consent, requester's domain, rate limits), redemption through the real gateway (one KeyPackage
// per device, the nonce spent in the same transaction, nothing kept when no KeyPackage is left),
// the vouches it signs, invalidation by epoch, and the secrets: kept in the database (surviving a
// restart, shared by services with data folders of their own, an epoch advanced on another
// connection followed at once) and imported once from the ohttp-gateway.json of a provider from
// before, with its tokens and key configuration still good.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { decodeResponse, encodeRequest, header } from '../../src-shared/bhttp.js';
import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import {
  decodeKeyPackageResponseList,
  decodeKeyPackageTokenKeys,
  decodeKeyPackageTokenResponse,
  encodeKeyPackageRequest,
  encodeKeyPackageTokenRequest,
  KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID,
  MLS10,
} from '../../src-shared/key-package-request.js';
import { requestTokens, TokenIssuer } from '../../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry, decodeVouches, VOUCHES_HEADER, vouchHolds } from '../../src-shared/key-package-vouch.js';
import type { IdentifierRequest, IdentifierResponse } from '../../src-shared/mimi-protocol.js';
import { decodeKeyConfigs, decapsulateResponse, encapsulateRequest } from '../../src-shared/ohttp.js';
import { Accounts } from '../../src-provider/accounts.js';
import { ensureProviderIdentity } from '../../src-provider/federation/provider-identity.js';
import { KeyPackages, keyPackageRef } from '../../src-provider/key-packages.js';
import { OhttpService } from '../../src-provider/ohttp-service.js';
import { advanceTokenEpoch, IMPORTED_SUFFIX, OHTTP_KEYS_FILE, OhttpKeysError } from '../../src-provider/ohttp-keys.js';
import type { Store } from '../../src-provider/store.js';
import { ApiFailure } from '../../src-provider/errors.js';
import { openTestStore } from '../helpers/provider-db.js';

const DOMAIN = 'b.example';
const BOB = `mimi://${DOMAIN}/u/bob`;
const ALICE = 'mimi://a.example/u/alice';
const dirs: string[] = [];
const stores: Store[] = [];
after(() => {
  for (const s of stores) s.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const engine = await createMlsEngine();

const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-ohttp-svc-'));
  dirs.push(dir);
  return dir;
};

/**
 * A provider's OHTTP service on data folder `dir`. `databaseOf`: the folder whose database it uses
 * (another node of the same provider: its own folder, the first one's database).
 */
async function provider(opts: { consent?: boolean; burst?: number; dir?: string; databaseOf?: string; log?: (m: string) => void } = {}) {
  const dir = opts.dir ?? tempDir();
  const store = await openTestStore(opts.databaseOf ?? dir);
  stores.push(store);
  const accounts = new Accounts(store, DOMAIN);
  const keyPackages = new KeyPackages(store, DOMAIN);
  const identity = ensureProviderIdentity(dir, DOMAIN);
  let consent = opts.consent ?? true;
  const svc = new OhttpService({
    domain: DOMAIN,
    dataDir: dir,
    store,
    keyPackages,
    identity,
    peerClient: { post: () => Promise.reject(new Error('no peers in this test')) },
    consent: () => (consent ? 'ok' : 'noConsent'),
    issuance: { burst: opts.burst ?? 20, perMinute: 1 },
    log: opts.log,
  });
  return { dir, store, accounts, keyPackages, identity, svc, setConsent: (v: boolean) => (consent = v) };
}

type P = Awaited<ReturnType<typeof provider>>;

/** bob with `devices` devices, each with `perDevice` single-use KeyPackages. */
async function bobWith(p: P, devices: number, perDevice: number): Promise<string[]> {
  const uris: string[] = [];
  for (let i = 0; i < devices; i++) {
    const s = i === 0 ? await p.accounts.register({ handle: 'bob', password: 'correct horse battery', deviceName: `d${i}` }) : await p.accounts.login({ handle: 'bob', password: 'correct horse battery', deviceName: `d${i}` });
    if (perDevice) p.keyPackages.upload(s.deviceUri, (await engine.generateKeyPackages(await engine.newDeviceKeys(s.deviceUri), perDevice)).map((k) => k.publicMessage));
    uris.push(s.deviceUri);
  }
  return uris;
}

const byHandle = (extra: IdentifierRequest['idRequestExtensions'] = []): IdentifierRequest => ({ queryElements: [{ searchType: 'handle', searchValue: `bob@${DOMAIN}` }], idRequestExtensions: extra });
const found: IdentifierResponse = { responseCode: 'success', uri: [BOB], foundProfiles: [], idResponseExtensions: [] };

/** Tokens for bob as a.example's alice gets them: key from one query, tokens from the next. */
async function tokens(p: P, n: number): Promise<Uint8Array[]> {
  const first = await p.svc.issuance('a.example', byHandle(), found);
  const keys = decodeKeyPackageTokenKeys(first.find((c) => c.componentId === KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID)!.data).keys;
  assert.deepEqual(keys.map((k) => k.user), [BOB]);
  const asked = await requestTokens(DOMAIN, BOB, keys[0].tokenKey, n);
  const ask = encodeKeyPackageTokenRequest({ requester: ALICE, target: BOB, tokenRequests: asked.requests });
  const second = await p.svc.issuance('a.example', byHandle([{ componentId: KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID, data: ask }]), found);
  const answer = decodeKeyPackageTokenResponse(second.find((c) => c.componentId === KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID)!.data);
  assert.equal(answer.status, 'issued');
  return asked.finalize(answer.tokenResponses);
}

async function fetchKeyPackages(p: P, token: Uint8Array) {
  const entry = decodeOhttpKeysEntry(p.svc.serveKeys(DOMAIN).body!);
  assert.equal(toHex(entry.providerKey), toHex(p.identity.signaturePublicKey));
  const [config] = decodeKeyConfigs(entry.keyConfigs);
  const content = encodeKeyPackageRequest({ userId: BOB, bearerToken: token, version: MLS10, cipherSuite: 1 });
  const { encapsulated, context } = await encapsulateRequest(config, encodeRequest({ method: 'POST', scheme: 'https', authority: DOMAIN, path: '/keyPackage', headers: [['content-type', 'application/mimi']], content, trailers: [] }));
  const reply = await p.svc.serveGateway(DOMAIN, encapsulated);
  return decodeResponse(decapsulateResponse(context, reply.body!));
}

const count = (p: P, sql: string) => (p.store.db.prepare(sql).get() as { n: number }).n;
const keyConfigsOf = (p: P) => toHex(decodeOhttpKeysEntry(p.svc.serveKeys(DOMAIN).body!).keyConfigs);

test('a token bought at discovery fetches one KeyPackage per device, vouched for, once', async () => {
  const p = await provider();
  const devices = await bobWith(p, 2, 2);
  const [t1, t2] = await tokens(p, 2);
  const res = await fetchKeyPackages(p, t1);
  assert.equal(res.status, 200);
  const kps = decodeKeyPackageResponseList(res.content);
  assert.equal(kps.length, 2);
  const vouches = decodeVouches(fromB64(header(res.headers, VOUCHES_HEADER)!));
  assert.deepEqual(vouches.map((v) => v.client).sort(), [...devices].sort());
  for (const v of vouches) assert.ok(vouchHolds(p.identity.signaturePublicKey, v, Date.now()), 'signed by the provider key');
  // The vouches name the very KeyPackages handed out, and the handouts are recorded by ref.
  const refs = kps.map((k) => toHex(keyPackageRef(new Uint8Array([0, 1, 0, 5, ...k.keyPackage.raw]))));
  assert.deepEqual(vouches.map((v) => toHex(v.keyPackageRef)).sort(), [...refs].sort());
  for (const v of vouches) assert.equal(p.store.ohttpHandoutOwner(v.keyPackageRef), v.client);
  assert.equal(count(p, 'SELECT count(*) AS n FROM spent_key_package_tokens'), 1);

  // Spent: refused, nothing more handed out.
  const again = await fetchKeyPackages(p, t1);
  assert.equal(again.status, 401);
  assert.equal(count(p, 'SELECT count(*) AS n FROM ohttp_handouts'), 2);
  // The second token works.
  assert.equal((await fetchKeyPackages(p, t2)).status, 200);
  assert.equal(count(p, 'SELECT count(*) AS n FROM ohttp_handouts'), 4);
});

test('with no KeyPackage left nothing is kept: the token stays unspent for later', async () => {
  const p = await provider();
  const [device] = await bobWith(p, 1, 0);
  const [t] = await tokens(p, 1);
  assert.equal((await fetchKeyPackages(p, t)).status, 409);
  assert.equal(count(p, 'SELECT count(*) AS n FROM spent_key_package_tokens'), 0, 'the spent nonce was rolled back');
  p.keyPackages.upload(device, (await engine.generateKeyPackages(await engine.newDeviceKeys(device), 1)).map((k) => k.publicMessage));
  assert.equal((await fetchKeyPackages(p, t)).status, 200, 'the same token buys the new KeyPackage');
});

test('issuance: consent, the asking provider, unknown users and the rate limit', async () => {
  const p = await provider({ burst: 2 });
  await bobWith(p, 1, 1);
  const asked = await requestTokens(DOMAIN, BOB, await p.svc['tokens'].publicKey(BOB), 1);
  const ask = (requester: string, target = BOB) => byHandle([{ componentId: KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID, data: encodeKeyPackageTokenRequest({ requester, target, tokenRequests: asked.requests }) }]);
  const status = async (peer: string, req: IdentifierRequest) =>
    decodeKeyPackageTokenResponse((await p.svc.issuance(peer, req, found)).find((c) => c.componentId === KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID)!.data).status;

  // A requester of another provider than the one asking: refused outright.
  await assert.rejects(p.svc.issuance('c.example', ask(ALICE), found), (e: unknown) => e instanceof ApiFailure && e.status === 400);
  p.setConsent(false);
  assert.equal(await status('a.example', ask(ALICE)), 'noConsent');
  p.setConsent(true);
  assert.equal(await status('a.example', ask(ALICE, `mimi://${DOMAIN}/u/nobody`)), 'unknownUser');
  assert.equal(await status('a.example', ask(ALICE)), 'issued');
  assert.equal(await status('a.example', ask(ALICE)), 'issued');
  assert.equal(await status('a.example', ask(ALICE)), 'rateLimited', 'burst of 2 per requester');
  // Garbage token requests: a 400, not a token.
  const bad = byHandle([{ componentId: KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID, data: encodeKeyPackageTokenRequest({ requester: 'mimi://a.example/u/carol', target: BOB, tokenRequests: new Uint8Array(51) }) }]);
  await assert.rejects(p.svc.issuance('a.example', bad, found), (e: unknown) => e instanceof ApiFailure && e.status === 400);
  // Keys only for a handle search, never for browsing by name.
  const byName = await p.svc.issuance('a.example', { queryElements: [{ searchType: 'partialName', searchValue: 'bob' }], idRequestExtensions: [] }, found);
  assert.deepEqual(byName, []);
});

test('a new token epoch refuses every older token; the secrets survive a restart', async () => {
  const p = await provider();
  await bobWith(p, 1, 3);
  const [t1, t2] = await tokens(p, 2);
  assert.equal((await fetchKeyPackages(p, t1)).status, 200);
  const entryBefore = toHex(p.svc.serveKeys(DOMAIN).body!);
  const epoch = p.svc.invalidateTokens();
  assert.equal(epoch, 2);
  assert.equal((await fetchKeyPackages(p, t2)).status, 401, 'issued under epoch 1');
  assert.equal(count(p, 'SELECT count(*) AS n FROM spent_key_package_tokens'), 0, 'old nonces are forgotten');
  const [t3] = await tokens(p, 1);
  assert.equal((await fetchKeyPackages(p, t3)).status, 200);

  // Restart on the same data dir: same gateway key, same epoch.
  p.store.close();
  stores.splice(stores.indexOf(p.store), 1);
  const q = await provider({ dir: p.dir });
  assert.equal(q.svc.tokenEpoch, 2);
  assert.equal(toHex(q.svc.serveKeys(DOMAIN).body!).slice(0, 200), entryBefore.slice(0, 200));
  assert.equal((await fetchKeyPackages(q, t3)).status, 401, 'spent before the restart');
});

test('what cannot be opened is a 4xx and changes nothing', async () => {
  const p = await provider();
  await bobWith(p, 1, 1);
  const before = count(p, 'SELECT count(*) AS n FROM key_packages WHERE claimed = 1');
  for (const garbage of [new Uint8Array(0), new Uint8Array(10), new Uint8Array(200).fill(7)]) {
    await assert.rejects(p.svc.serveGateway(DOMAIN, garbage), (e: unknown) => e instanceof ApiFailure && e.status >= 400 && e.status < 500);
  }
  await assert.rejects(p.svc.serveGateway('other.example', new Uint8Array(100)), (e: unknown) => e instanceof ApiFailure && e.status === 400);
  await assert.rejects(p.svc.serveGateway(DOMAIN, new Uint8Array(9000)), (e: unknown) => e instanceof ApiFailure && e.status === 413);
  assert.equal(count(p, 'SELECT count(*) AS n FROM key_packages WHERE claimed = 1'), before);
  assert.equal(count(p, 'SELECT count(*) AS n FROM spent_key_package_tokens'), 0);
  // A malformed commit makes prepareCommit do nothing (the hub's check refuses it later).
  await p.svc.prepareCommit(new Uint8Array([1, 2, 3]));
  assert.equal(toHex(p.svc.vouchKey(DOMAIN)!), toHex(p.identity.signaturePublicKey));
  assert.equal(p.svc.vouchKey('a.example'), undefined);
});

test('the operator advancing the epoch in the database (provider-admin, another connection) reaches the running service at once', async () => {
  const p = await provider();
  await bobWith(p, 1, 2);
  const [t1, t2] = await tokens(p, 2);
  assert.equal((await fetchKeyPackages(p, t1)).status, 200);
  // What `provider-admin invalidate-key-package-tokens` does, on a connection of its own.
  const admin = await openTestStore(p.dir);
  stores.push(admin);
  assert.deepEqual(advanceTokenEpoch(admin), [{ domain: DOMAIN, epoch: 2 }]);
  assert.equal((await fetchKeyPackages(p, t2)).status, 401);
  assert.equal(p.svc.tokenEpoch, 2);
  // A database without secrets (the provider never started on it): says so, changes nothing.
  const empty = await openTestStore(tempDir());
  stores.push(empty);
  assert.throws(() => advanceTokenEpoch(empty), (e: unknown) => e instanceof OhttpKeysError && /no OHTTP gateway secrets in the database: the provider makes them on its first start/.test(e.message));
});

test('two nodes with data folders of their own share the secrets in the database: one key configuration, tokens good on both, one epoch', async () => {
  const one = await provider();
  const two = await provider({ databaseOf: one.dir });
  assert.notEqual(one.dir, two.dir);
  assert.ok(!fs.existsSync(path.join(two.dir, OHTTP_KEYS_FILE)) && !fs.existsSync(path.join(one.dir, OHTTP_KEYS_FILE)), 'no secrets in any folder');
  assert.equal(keyConfigsOf(two), keyConfigsOf(one), 'the same key configuration from both');
  assert.equal(count(one, 'SELECT count(*) AS n FROM ohttp_gateway_secrets'), 1);
  await bobWith(one, 1, 4);
  // Issued by one, redeemed through the other, and the nonce spent for both.
  const [t1, t2, t3] = await tokens(one, 3);
  assert.equal((await fetchKeyPackages(two, t1)).status, 200);
  assert.equal((await fetchKeyPackages(one, t1)).status, 401, 'spent through the other node');
  assert.equal((await fetchKeyPackages(one, t2)).status, 200);
  // A new epoch started through one node: the other refuses the old tokens at once.
  assert.equal(two.svc.invalidateTokens(), 2);
  assert.equal((await fetchKeyPackages(one, t3)).status, 401);
  assert.equal(one.svc.tokenEpoch, 2);
  const [t4] = await tokens(two, 1);
  assert.equal((await fetchKeyPackages(one, t4)).status, 200, 'a token of the new epoch is good on the other node');
});

/** A provider from before store v18: its secrets in <dir>/ohttp-gateway.json, as it wrote them. */
function legacyFile(dir: string, o: { epoch?: number; domain?: string } = {}) {
  const privateKey = x25519.utils.randomSecretKey();
  const tokenSecret = randomBytes(32);
  const keyId = 77;
  const file = path.join(dir, OHTTP_KEYS_FILE);
  fs.writeFileSync(file, JSON.stringify({ version: 1, domain: o.domain ?? DOMAIN, keyId, privateKey: toB64(privateKey), tokenSecret: toB64(tokenSecret), tokenEpoch: o.epoch ?? 5 }, null, 2) + '\n', { mode: 0o600 });
  return { file, privateKey, tokenSecret, keyId, publicKey: x25519.getPublicKey(privateKey) };
}

test('upgrade: an existing ohttp-gateway.json is imported once (same key configuration, outstanding tokens still good) and renamed', async () => {
  const dir = tempDir();
  const old = legacyFile(dir, { epoch: 5 });
  // A token the provider issued before the upgrade (same secret, epoch and derivation), not yet redeemed.
  const before = new TokenIssuer(DOMAIN, old.tokenSecret, 5);
  const asked = await requestTokens(DOMAIN, BOB, await before.publicKey(BOB), 1);
  const [outstanding] = await asked.finalize(await before.issue(BOB, asked.requests, 1));

  const logs: string[] = [];
  const p = await provider({ dir, log: (m) => logs.push(m) });
  const [config] = decodeKeyConfigs(decodeOhttpKeysEntry(p.svc.serveKeys(DOMAIN).body!).keyConfigs);
  assert.equal(config.keyId, old.keyId);
  assert.equal(toHex(config.publicKey), toHex(old.publicKey), 'the key configuration peers fetched before');
  assert.equal(p.svc.tokenEpoch, 5);
  assert.ok(!fs.existsSync(old.file), 'the file is no longer where it was read from');
  assert.ok(fs.existsSync(old.file + IMPORTED_SUFFIX));
  assert.equal(logs.filter((l) => l.includes(`imported from ${old.file}`) && l.includes(`renamed to ${old.file}${IMPORTED_SUFFIX}`)).length, 1, logs.join('\n'));
  await bobWith(p, 1, 1);
  assert.equal((await fetchKeyPackages(p, outstanding)).status, 200, 'a token from before the upgrade');

  // The next start reads the database: the same keys, nothing logged, no file made.
  p.store.close();
  stores.splice(stores.indexOf(p.store), 1);
  const logs2: string[] = [];
  const q = await provider({ dir, log: (m) => logs2.push(m) });
  assert.equal(keyConfigsOf(q), keyConfigsOf(p));
  assert.equal(q.svc.tokenEpoch, 5);
  assert.deepEqual(logs2, []);
  assert.ok(!fs.existsSync(old.file));
});

test("upgrade: a file another node's secrets already replaced is set aside, and a bad file stops the start with what to do", async () => {
  const first = await provider();
  const dir = tempDir();
  const old = legacyFile(dir);
  const logs: string[] = [];
  const second = await provider({ dir, databaseOf: first.dir, log: (m) => logs.push(m) });
  assert.equal(keyConfigsOf(second), keyConfigsOf(first), 'the database wins');
  assert.ok(!fs.existsSync(old.file) && fs.existsSync(`${old.file}.superseded`));
  assert.match(logs.join('\n'), /differs from the OHTTP gateway secrets of b\.example already in the database/);

  const bad = tempDir();
  legacyFile(bad, { domain: 'other.example' });
  await assert.rejects(provider({ dir: bad }), /is not the OHTTP gateway file of b\.example: move it away to make new secrets/);
  fs.writeFileSync(path.join(bad, OHTTP_KEYS_FILE), '{not json');
  await assert.rejects(provider({ dir: bad }), /is unreadable: .*move it away/);
});

test("a user's withdrawal (revoke, block) makes every token issued for them worthless, and only theirs", async () => {
  const p = await provider();
  await bobWith(p, 1, 3);
  const [t1, t2] = await tokens(p, 2);
  const keyBefore = await p.svc['tokens'].publicKey(BOB);
  p.svc.withdrawTokens(BOB); // what consent.ts calls on revoke, block and a stricter connection setting
  assert.notEqual(toHex(await p.svc['tokens'].publicKey(BOB)), toHex(keyBefore), 'a new issuer key for bob');
  assert.equal((await fetchKeyPackages(p, t1)).status, 401);
  assert.equal(count(p, 'SELECT count(*) AS n FROM spent_key_package_tokens'), 0, 'refused before anything was spent');
  // Asking again works while the consent rules still allow it (they decide at issuance).
  const [t3] = await tokens(p, 1);
  assert.equal((await fetchKeyPackages(p, t3)).status, 200);
  assert.equal((await fetchKeyPackages(p, t2)).status, 401);
});
