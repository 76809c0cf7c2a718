// The provider's OHTTP roles (src-provider/ohttp-service.ts) on a real store file: token issuance
// as it rides on /identifierQuery (consent, requester's domain, rate limits), redemption through
// the real gateway (one KeyPackage per device, the nonce spent in the same transaction, nothing
// kept when no KeyPackage is left), the vouches it signs, invalidation by epoch, and the secrets
// surviving a restart.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { decodeResponse, encodeRequest, header } from '../../src-shared/bhttp.js';
import { fromB64, toHex } from '../../src-shared/bytes.js';
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
import { requestTokens } from '../../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry, decodeVouches, VOUCHES_HEADER, vouchHolds } from '../../src-shared/key-package-vouch.js';
import type { IdentifierRequest, IdentifierResponse } from '../../src-shared/mimi-protocol.js';
import { decodeKeyConfigs, decapsulateResponse, encapsulateRequest } from '../../src-shared/ohttp.js';
import { Accounts } from '../../src-provider/accounts.js';
import { ensureProviderIdentity } from '../../src-provider/federation/provider-identity.js';
import { KeyPackages, keyPackageRef } from '../../src-provider/key-packages.js';
import { OhttpService } from '../../src-provider/ohttp-service.js';
import { advanceTokenEpoch } from '../../src-provider/ohttp-keys.js';
import { DB_FILE, openStore, type Store } from '../../src-provider/store.js';
import { ApiFailure } from '../../src-provider/errors.js';

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

async function provider(opts: { consent?: boolean; burst?: number; dir?: string } = {}) {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-ohttp-svc-'));
  if (!opts.dir) dirs.push(dir);
  const store = openStore(dir);
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

const count = (p: P, sql: string) => (new Database(path.join(p.dir, DB_FILE), { readonly: true }).prepare(sql).get() as { n: number }).n;

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

test('the operator advancing the epoch on the data dir (provider-admin) reaches the running service', async () => {
  const p = await provider();
  await bobWith(p, 1, 2);
  const [t1, t2] = await tokens(p, 2);
  assert.equal((await fetchKeyPackages(p, t1)).status, 200);
  assert.equal(advanceTokenEpoch(p.dir), 2); // what `provider-admin invalidate-key-package-tokens` does
  assert.equal((await fetchKeyPackages(p, t2)).status, 401);
  assert.equal(p.svc.tokenEpoch, 2);
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
