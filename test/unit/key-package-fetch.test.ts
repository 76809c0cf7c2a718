// The client's KeyPackage fetch over Oblivious HTTP (src-main/core/key-package-fetch.ts) against a
// REAL gateway (src-provider/ohttp-gateway.ts: real HPKE, real Privacy Pass tokens, real vouches)
// behind a stand-in for our own provider's relay and discovery routes, with the account's real
// profile database (SQLite, sealed tokens). What is checked: a token is stored, used once and
// never twice; a refused token is dropped and the fetch retried once with fresh ones; a provider
// key other than the pinned one is refused before anything is sent; no gateway, no token key or
// no consent means "use the ordinary path"; the answers the gateway can give map to the errors
// the person sees.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { x25519 } from '@noble/curves/ed25519.js';
import { CoreError } from '../../src-shared/contract.js';
import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import type { FindRequest, FindResponse, OhttpKeysResponse, OhttpRelayRequest, OhttpRelayResponse } from '../../src-shared/provider-api.js';
import { TokenIssuer } from '../../src-shared/key-package-tokens.js';
import { encodeOhttpKeysEntry, signOhttpKeys, signVouch, vouchesAad, vouchesOf, vouchHolds, VOUCH_LIFETIME_MS } from '../../src-shared/key-package-vouch.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { keyPackageRef, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { encodeKeyConfigs, type GatewayKey } from '../../src-shared/ohttp.js';
import { GatewayError, KeyPackageGateway, type KeyPackageSource, type Redemption } from '../../src-provider/ohttp-gateway.js';
import { fetchKeyPackagesOverOhttp, type KeyPackageFetchClient } from '../../src-main/core/key-package-fetch.js';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderError } from '../../src-main/net/provider-client.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { Vault } from '../../src-main/secrets/vault.js';
import { tempDir } from '../helpers/provider-process.js';

const DOMAIN = 'b.example';
const BOB = 'mimi://b.example/u/bob';
const CAROL = 'mimi://b.example/u/carol'; // has devices, no KeyPackage left
const DAVE = 'mimi://b.example/u/dave'; // discovery finds him, the gateway does not know him
const engine = await createMlsEngine();
const PHONE = 'mimi://b.example/d/bob/phone';
const LAPTOP = 'mimi://b.example/d/bob/laptop';
const phoneKps = await engine.generateKeyPackages(await engine.newDeviceKeys(PHONE), 8);
const laptopKps = await engine.generateKeyPackages(await engine.newDeviceKeys(LAPTOP), 8);

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

async function profileDb(file = path.join(tempDir('kp-fetch'), 'mimi.db')): Promise<ProfileDb> {
  return new ProfileDb(file, await Vault.open(memoryStore()));
}

/** The RSP's store, with the real one's semantics: spend and claim in one step, all or nothing. */
class Source implements KeyPackageSource {
  spent = new Set<string>();
  left = new Map<string, [string, Uint8Array[]][]>([
    [BOB, [[PHONE, phoneKps.map((k) => k.publicMessage)], [LAPTOP, laptopKps.map((k) => k.publicMessage)]]],
    [CAROL, [['mimi://b.example/d/carol/phone', []]]],
  ]);
  redeem(user: string, nonce: Uint8Array, epoch: number): Redemption {
    const devices = this.left.get(user);
    if (!devices) return { status: 'unknownUser' };
    const key = `${epoch}:${toHex(nonce)}`;
    if (this.spent.has(key)) return { status: 'badToken' };
    if (devices.every(([, kps]) => kps.length === 0)) return { status: 'noKeyPackage' };
    this.spent.add(key);
    return { status: 'success', keyPackages: devices.filter(([, kps]) => kps.length).map(([client, kps]) => ({ keyPackage: kps.shift()!, client })) };
  }
  snapshot(): string {
    return JSON.stringify({ spent: [...this.spent].sort(), left: [...this.left].map(([u, d]) => [u, d.map(([, k]) => k.length)]) });
  }
}

/**
 * b.example's gateway and issuer, reached the way our provider would reach them for the client:
 * ohttpKeys (404 when `offers` is off), the relay (a gateway refusal becomes our provider's 4xx),
 * and find (token keys for every user found; tokens when `consent` says issued).
 */
class Remote implements KeyPackageFetchClient {
  readonly source = new Source();
  readonly providerKey = generateSignatureKeyPair();
  readonly gatewayKey: GatewayKey;
  issuer = new TokenIssuer(DOMAIN, randomBytes(32), 1);
  /** The issuer that discovery hands tokens out with (another one: tokens the gateway refuses). */
  findIssuer?: TokenIssuer;
  offers = true;
  namesTokenKeys = true;
  consent: 'issued' | 'noConsent' | 'rateLimited' | 'unknownUser' = 'issued';
  entry: Uint8Array;
  readonly gateway: KeyPackageGateway;
  finds: FindRequest[] = [];
  relays = 0;

  constructor() {
    const sk = x25519.utils.randomSecretKey();
    this.gatewayKey = { config: { keyId: 7, kemId: 0x20, publicKey: x25519.getPublicKey(sk), suites: [{ kdfId: 1, aeadId: 1 }] }, privateKey: sk };
    this.entry = this.entryUnder(this.providerKey);
    const self = this;
    this.gateway = new KeyPackageGateway({
      domain: DOMAIN,
      keys: [this.gatewayKey],
      get tokens() {
        return self.issuer;
      },
      source: this.source,
      vouch: (ref, client) => signVouch(this.providerKey.privateKey, { keyPackageRef: ref, client, notAfter: Date.now() + VOUCH_LIFETIME_MS }),
    });
  }

  entryUnder(k: { privateKey: Uint8Array; publicKey: Uint8Array }): Uint8Array {
    return encodeOhttpKeysEntry(signOhttpKeys(k.privateKey, k.publicKey, encodeKeyConfigs([this.gatewayKey.config])));
  }

  async ohttpKeys(domain: string): Promise<OhttpKeysResponse> {
    assert.equal(domain, DOMAIN);
    if (!this.offers) throw new ProviderError(404, 'notFound', `${domain} offers no OHTTP gateway: use the ordinary path`);
    return { entry: toB64(this.entry) };
  }

  async ohttpRelay(domain: string, req: OhttpRelayRequest): Promise<OhttpRelayResponse> {
    assert.equal(domain, DOMAIN);
    this.relays++;
    try {
      return { response: toB64(await this.gateway.handle(fromB64(req.request))) };
    } catch (e) {
      if (e instanceof GatewayError) throw new ProviderError(e.status, 'badRequest', `${domain} refused the KeyPackage request (HTTP ${e.status})`);
      throw e;
    }
  }

  async find(req: FindRequest): Promise<FindResponse> {
    this.finds.push(req);
    const user = req.handle!;
    const issuer = this.findIssuer ?? this.issuer;
    const res: FindResponse = { status: 'success', domain: DOMAIN, results: [{ userUri: user }] };
    if (this.namesTokenKeys) res.tokenKeys = [{ userUri: user, tokenKey: toB64(await issuer.publicKey(user)) }];
    if (req.tokenRequest) {
      res.tokenResponse =
        this.consent === 'issued'
          ? { status: 'issued', tokenResponses: toB64(await issuer.issue(req.tokenRequest.target, fromB64(req.tokenRequest.tokenRequests), 16)) }
          : { status: this.consent };
    }
    return res;
  }
}

function isCoreError(code: string, key: string) {
  return (e: unknown) => {
    assert.ok(e instanceof CoreError, `a CoreError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.key, key, e.message);
    return true;
  };
}

test('two tokens through discovery: one used, the spare stored and used next time, none twice', async () => {
  const remote = new Remote();
  const db = await profileDb();
  const got = await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB);
  assert.ok(got, 'fetched over OHTTP');
  // One KeyPackage of each of bob's devices, as the MLSMessages the rest of the core takes.
  assert.deepEqual(got.keyPackages.map(toHex), [phoneKps[0].publicMessage, laptopKps[0].publicMessage].map(toHex));
  assert.deepEqual(got.keyPackages.map((k) => engine.keyPackageIdentity(k)), [PHONE, LAPTOP]);
  // A vouch of b.example's provider key for each, in order, that the commit's AAD carries intact.
  assert.deepEqual(got.vouches.map((v) => v.client), [PHONE, LAPTOP]);
  got.vouches.forEach((v, i) => {
    assert.equal(toHex(v.keyPackageRef), toHex(keyPackageRef(unwrapMlsMessage(got.keyPackages[i]).body)));
    assert.ok(vouchHolds(remote.providerKey.publicKey, v, Date.now()));
  });
  assert.deepEqual(vouchesOf(vouchesAad(got.vouches)), got.vouches);
  // Discovery twice: the token key, then the blinded requests (for bob, from no one named here).
  assert.equal(remote.finds.length, 2);
  assert.equal(remote.finds[0].tokenRequest, undefined);
  assert.equal(remote.finds[1].tokenRequest?.target, BOB);
  assert.equal(fromB64(remote.finds[1].tokenRequest!.tokenRequests).length, 2 * 52, 'two TokenRequests');
  assert.equal(db.keyPackageTokenCount(BOB), 1, 'the spare is stored');
  assert.equal(toHex(db.ohttpProviderKey(DOMAIN)!), toHex(remote.providerKey.publicKey), 'the provider key is pinned on first use');

  // The next fetch uses the stored token: no discovery, and the token is gone from the database.
  const again = await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB);
  assert.deepEqual(again?.keyPackages.map(toHex), [phoneKps[1].publicMessage, laptopKps[1].publicMessage].map(toHex));
  assert.equal(remote.finds.length, 2, 'no discovery for a stored token');
  assert.equal(db.keyPackageTokenCount(BOB), 0);
  assert.equal(remote.source.spent.size, 2, 'two different tokens were spent');
  // Out of tokens: discovery again.
  await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB);
  assert.equal(remote.finds.length, 4);
  assert.equal(remote.relays, 3);
  assert.equal(remote.source.spent.size, 3);
  db.close();
});

test('a refused token drops the stored ones and the fetch is retried once with fresh tokens', async () => {
  const remote = new Remote();
  const db = await profileDb();
  await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB);
  db.addKeyPackageTokens(BOB, [randomBytes(146)], Date.now()); // a second stored one, forged
  assert.equal(db.keyPackageTokenCount(BOB), 2);
  // b.example starts a new key epoch: every token issued so far is worthless.
  remote.issuer = new TokenIssuer(DOMAIN, randomBytes(32), 2);
  const before = remote.source.snapshot();
  const got = await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB);
  assert.ok(got);
  assert.equal(remote.relays, 3, 'the stale token, then a fresh one');
  assert.equal(remote.finds.length, 4, 'fresh tokens through discovery');
  assert.equal(db.keyPackageTokenCount(BOB), 1, 'the stale and the forged token were dropped; the fresh spare is stored');
  assert.notEqual(remote.source.snapshot(), before);

  // Tokens the gateway never takes (discovery hands out another issuer's): refused twice, an
  // error saying so, nothing claimed, nothing left stored.
  remote.findIssuer = new TokenIssuer(DOMAIN, randomBytes(32), 2);
  db.dropKeyPackageTokens(BOB);
  const unchanged = remote.source.snapshot();
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), isCoreError('notAllowed', 'errors.ohttp.tokenRefused'));
  assert.equal(remote.source.snapshot(), unchanged);
  assert.equal(db.keyPackageTokenCount(BOB), 0);
  db.close();
});

test('a key configuration signed by another provider key than the pinned one is refused before anything is sent', async () => {
  const remote = new Remote();
  const db = await profileDb();
  await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB);
  const pinned = db.ohttpProviderKey(DOMAIN)!;
  const impostor = generateSignatureKeyPair();
  remote.entry = remote.entryUnder(impostor); // validly signed, by the key it names: not the pinned one
  const { relays, finds } = remote;
  const tokens = db.keyPackageTokenCount(BOB);
  const before = remote.source.snapshot();
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), (e: unknown) => {
    isCoreError('notAllowed', 'errors.ohttp.providerKeyChanged')(e);
    assert.match((e as Error).message, /mimi ohttp forget b\.example/);
    return true;
  });
  assert.equal(remote.relays, relays);
  assert.equal(remote.finds.length, finds.length);
  assert.equal(db.keyPackageTokenCount(BOB), tokens, 'no token was taken');
  assert.equal(remote.source.snapshot(), before);
  assert.equal(toHex(db.ohttpProviderKey(DOMAIN)!), toHex(pinned), 'the pin stays');

  // An entry whose signature does not hold is refused as unusable.
  const broken = remote.entryUnder(remote.providerKey);
  broken[broken.length - 1] ^= 1;
  remote.entry = broken;
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), isCoreError('providerUnreachable', 'errors.ohttp.badKeys'));

  // The person confirmed the change with the operator (mimi ohttp forget): the new key is pinned.
  assert.equal(db.forgetOhttpProviderKey(DOMAIN), true);
  remote.entry = remote.entryUnder(impostor);
  // Vouches are still signed with the old key, so the answer does not check out under the new one.
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), isCoreError('providerUnreachable', 'errors.ohttp.badAnswer'));
  assert.equal(toHex(db.ohttpProviderKey(DOMAIN)!), toHex(impostor.publicKey));
  db.close();
});

test('no gateway, an unreachable one, no token key, or tokens not issued: undefined, so the caller claims the ordinary way', async () => {
  const remote = new Remote();
  const db = await profileDb();
  remote.offers = false;
  assert.equal(await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), undefined);
  assert.equal(remote.finds.length, 0);
  // Our provider cannot reach theirs (they need not federate directly): the claim through the hub may.
  const keys = remote.ohttpKeys.bind(remote);
  remote.ohttpKeys = async () => {
    throw new ProviderError(502, 'peerUnreachable', 'b.example could not be reached for its OHTTP keys');
  };
  assert.equal(await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), undefined);
  // Our own provider unreachable: that is said, not hidden behind a claim that fails the same way.
  remote.ohttpKeys = async () => {
    throw new ProviderError(0, 'unreachable', 'the provider at https://a.example cannot be reached');
  };
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), (e: unknown) => e instanceof ProviderError && e.code === 'unreachable');
  remote.ohttpKeys = keys;
  assert.equal(remote.finds.length, 0);
  remote.offers = true;
  remote.namesTokenKeys = false;
  assert.equal(await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), undefined);
  assert.equal(remote.finds.length, 1, 'one find, which named no token key');
  remote.namesTokenKeys = true;
  for (const status of ['noConsent', 'rateLimited', 'unknownUser'] as const) {
    remote.consent = status;
    assert.equal(await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), undefined, status);
  }
  assert.equal(remote.relays, 0, 'nothing was ever sent to the gateway');
  assert.equal(db.keyPackageTokenCount(BOB), 0);
  assert.equal(remote.source.spent.size, 0);
  // Not a user URI (a pseudonym): never over OHTTP.
  assert.equal(await fetchKeyPackagesOverOhttp({ client: remote, store: db }, 'mimi://b.example/p/x1'), undefined);
  db.close();
});

test("the gateway's refusals become the errors the claim path gives, and a forged answer is refused", async () => {
  const remote = new Remote();
  const db = await profileDb();
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, DAVE), isCoreError('userUnknown', 'errors.member.unknown'));
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, CAROL), isCoreError('noKeyMaterial', 'errors.member.noDevice'));
  // Neither spent the token (the gateway rolls back): the spares are stored, usable later.
  assert.equal(remote.source.spent.size, 0);

  // A gateway that hands out KeyPackages without vouches: the hub would refuse the commit, so the
  // client refuses the answer before spending a commit on it.
  const unvouched = new KeyPackageGateway({ domain: DOMAIN, keys: [remote.gatewayKey], tokens: remote.issuer, source: remote.source });
  const relay = remote.ohttpRelay.bind(remote);
  remote.ohttpRelay = async (domain, req) => ({ response: toB64(await unvouched.handle(fromB64(req.request))) });
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), isCoreError('providerUnreachable', 'errors.ohttp.badAnswer'));
  // A relay that answers with garbage: refused, not crashed on.
  remote.ohttpRelay = async () => ({ response: toB64(randomBytes(64)) });
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), isCoreError('providerUnreachable', 'errors.ohttp.badAnswer'));
  // Our provider refusing to relay (e.g. the gateway could not open it): its ProviderError, for the caller to word.
  remote.ohttpRelay = async () => {
    throw new ProviderError(400, 'badRequest', 'b.example refused the KeyPackage request (HTTP 400)');
  };
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB), (e: unknown) => e instanceof ProviderError && e.status === 400);
  remote.ohttpRelay = relay;
  assert.ok(await fetchKeyPackagesOverOhttp({ client: remote, store: db }, BOB));
  db.close();
});

test('stored tokens are sealed in the profile database and expire unused', async () => {
  const file = path.join(tempDir('kp-fetch'), 'mimi.db');
  const db = await profileDb(file);
  const token = randomBytes(146);
  db.addKeyPackageTokens(BOB, [token], 1000);
  const raw = new Database(file, { readonly: true });
  try {
    assert.ok((raw.pragma('user_version', { simple: true }) as number) >= 15, 'migration 15 ran');
    const rows = raw.prepare('SELECT token FROM key_package_tokens').all() as { token: Buffer }[];
    assert.equal(rows.length, 1);
    assert.ok(!rows[0].token.includes(Buffer.from(token.subarray(0, 16))), 'the token is not in the file in the clear');
  } finally {
    raw.close();
  }
  db.addKeyPackageTokens(CAROL, [randomBytes(146)], Date.now());
  assert.equal(db.takeKeyPackageToken(BOB, 2000), undefined, 'too old: dropped');
  assert.equal(db.keyPackageTokenCount(BOB), 0);
  db.addKeyPackageTokens(BOB, [token], 5000);
  assert.equal(toHex(db.takeKeyPackageToken(BOB, 2000)!), toHex(token));
  assert.equal(db.takeKeyPackageToken(BOB, 2000), undefined, 'taken means gone');
  assert.equal(db.keyPackageTokenCount(CAROL), 1, "another target's tokens are untouched");
  db.close();
});
