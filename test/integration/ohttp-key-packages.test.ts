// KeyPackages of other providers' users over Oblivious HTTP (docs/ohttp-key-packages.md), across
// three real provider processes started with --consent required:
//
//   alice@a.example   her provider is the relay (LSP)
//   bob@b.example     his provider runs the gateway and issues the tokens (RSP)
//   carol@c.example   her provider hosts the room (the hub), so a.example is only the relay here
//
// What is shown: alice adds bob without any claim through a hub (the hub at c.example accepts the
// KeyPackage on b.example's vouch), bob joins and they exchange messages; the relay's storage
// and logs hold neither bob's devices nor the KeyPackage after the fetch (scanned right after the
// fetch, before the commit: the Add commit itself names bob's client to every provider it passes,
// which is MLS, not the fetch); replayed, spent and forged tokens are refused with 401 and
// garbage, cut and oversize encapsulations with a 4xx, none of them changing anything at
// b.example; and without consent for every room no token is issued, so the add falls back to the
// ordinary claim, which says why.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError } from '../../src-shared/contract.js';
import { decodeResponse, encodeRequest } from '../../src-shared/bhttp.js';
import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import { decodeKeyPackageResponseList, encodeKeyPackageRequest, MLS10 } from '../../src-shared/key-package-request.js';
import { requestTokens } from '../../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry } from '../../src-shared/key-package-vouch.js';
import { decodeKeyPackage, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { decapsulateResponse, decodeKeyConfigs, encapsulateRequest, type KeyConfig } from '../../src-shared/ohttp.js';
import type { MessageView } from '../../src-shared/contract.js';
import { fetchKeyPackagesOverOhttp } from '../../src-main/core/key-package-fetch.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import { Profile } from '../../src-main/core/profile.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderError, type ProviderClient } from '../../src-main/net/provider-client.js';
import { onPostgres, providerStorageParts, tableNames, withProviderDb } from '../helpers/provider-db.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { mimi } from '../helpers/mimi-cli.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

// Handles unlikely to turn up by chance in a binary file, so a scan that finds one means something.
const ALICE_H = 'alicequartz';
const BOB_H = 'bobquartz';
const CAROL_H = 'carolquartz';
const BOB = `mimi://b.example/u/${BOB_H}`;

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
let C: FederatedProvider;
let alice: Profile;
let bob: Profile;
let carol: Profile;
const profiles: Profile[] = [];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example', 'c.example'], {}, { consent: 'required' });
  A = f['a.example'];
  B = f['b.example'];
  C = f['c.example'];
  for (const d of ['a.example', 'b.example', 'c.example']) closers.push(() => f[d].stop(), () => f.links[d].close());
  alice = await testProfile(A, ALICE_H, { engine, keep: profiles, dirPrefix: 'ohttp' });
  bob = await testProfile(B, BOB_H, { engine, keep: profiles, dirPrefix: 'ohttp' });
  carol = await testProfile(C, CAROL_H, { engine, keep: profiles, dirPrefix: 'ohttp' });
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const c of closers) await c().catch(() => undefined);
});

const clientOf = (p: Profile): ProviderClient => (p as unknown as { client: ProviderClient }).client;
const ctxOf = (p: Profile): ProfileContext => (p as unknown as { ctx: ProfileContext }).ctx;

/** Counts the calls `p`'s client makes to `method` from now on. */
function spy(p: Profile, method: 'claim' | 'ohttpRelay' | 'find'): { count(): number } {
  const client = clientOf(p) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const real = client[method].bind(client);
  let n = 0;
  client[method] = (...args: unknown[]) => {
    n++;
    return real(...args);
  };
  return { count: () => n };
}

function readAll<T>(p: FederatedProvider, sql: string): T[] {
  return withProviderDb(p.dataDir, (db) => db.prepare(sql).all() as T[]);
}

/** What a KeyPackage request can change at b.example: KeyPackages handed out, tokens spent. */
const stateAtB = () => ({
  claimed: readAll<{ n: number }>(B, 'SELECT count(*) AS n FROM key_packages WHERE claimed = 1')[0].n,
  handedOut: readAll<{ n: number }>(B, 'SELECT count(*) AS n FROM ohttp_handouts')[0].n,
  spentTokens: readAll<{ n: number }>(B, 'SELECT count(*) AS n FROM spent_key_package_tokens')[0].n,
  available: readAll<{ n: number }>(B, 'SELECT count(*) AS n FROM key_packages WHERE claimed = 0')[0].n,
});

/** Every row of every table of a provider's database, with the table it is in, as text. */
function rowsOf(p: FederatedProvider): { table: string; row: string }[] {
  return withProviderDb(p.dataDir, (db) =>
    tableNames(db).flatMap((table) =>
      (db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]).map((r) => ({
        table,
        row: JSON.stringify(r, (_k, v) => (v instanceof Uint8Array || Buffer.isBuffer(v) ? Buffer.from(v as Uint8Array).toString('latin1') : typeof v === 'bigint' ? String(v) : v)),
      })),
    ),
  );
}


/** Every encoding a byte string could be stored or logged in. */
function encodings(b: Uint8Array): Buffer[] {
  const buf = Buffer.from(b);
  return [buf, Buffer.from(toHex(b)), Buffer.from(buf.toString('base64')), Buffer.from(buf.toString('base64url'))];
}

const byText = (p: Profile, room: string, text: string): MessageView | undefined => p.page(room, null, 200).find((m) => m.text === text);

function isCoreError(code: string, key?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof CoreError, `a CoreError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (key) assert.equal(e.key, key, e.message);
    return true;
  };
}

let room = '';

test('alice adds bob over OHTTP through a.example into a room at c.example; a.example stores and logs neither him nor his KeyPackage', async () => {
  // Consent for every room, both ways the adds go (carol adds alice, alice adds bob).
  await carol.requestConsent(`${ALICE_H}@a.example`);
  await alice.grantConsent(`${CAROL_H}@c.example`);
  await alice.requestConsent(`${BOB_H}@b.example`);
  await bob.grantConsent(`${ALICE_H}@a.example`);

  // The room lives at c.example; carol adds alice (over OHTTP too: c.example relays to a.example).
  room = (await carol.createRoom('Quartz')).roomUri;
  const carolClaims = spy(carol, 'claim');
  await carol.addMember(room, `${ALICE_H}@a.example`);
  assert.equal(carolClaims.count(), 0, 'carol added alice without a claim');
  await waitFor(() => alice.rooms().some((r) => r.roomUri === room), 'alice joins the room at c.example', 30000);

  // The fetch on its own first, so that a.example can be looked at before any commit names bob.
  const logStart = A.output().length;
  const rowsBefore = new Set(rowsOf(A).map((r) => `${r.table}\t${r.row}`));
  const atB = stateAtB();
  const fetched = await fetchKeyPackagesOverOhttp({ client: clientOf(alice), store: ctxOf(alice).db }, BOB);
  assert.ok(fetched, 'b.example offers a gateway and issued tokens');
  assert.equal(fetched.keyPackages.length, 1, "one KeyPackage: bob's one device");
  const device = engine.keyPackageIdentity(fetched.keyPackages[0]);
  assert.equal(device, bob.config.deviceUri);
  assert.equal(fetched.vouches[0].client, device);
  assert.deepEqual(stateAtB(), { ...atB, claimed: atB.claimed + 1, handedOut: atB.handedOut + 1, spentTokens: atB.spentTokens + 1, available: atB.available - 1 });

  // a.example, right after the fetch: no file (database, WAL, keys, anything) holds the KeyPackage
  // in any encoding, nor any device of bob's; no row the fetch added or changed names bob (what
  // names him is the consent alice asked him for, from before); the log the fetch wrote does not
  // name him. Bob's own provider is scanned the same way as a control: it must find them there.
  const kp = decodeKeyPackage(unwrapMlsMessage(fetched.keyPackages[0]).body);
  const needles = [kp.initKey, kp.leafNode.encryptionKey, kp.signature].flatMap(encodings);
  const deviceNeedle = Buffer.from(device);
  // The data folder's files, and on PostgreSQL the database's rows (providerStorageParts).
  const found = (p: FederatedProvider, n: Buffer) => providerStorageParts(p.dataDir).filter((x) => x.bytes.includes(n)).map((x) => x.where);
  for (const n of needles) assert.deepEqual(found(A, n), [], `a.example holds no encoding of the KeyPackage (${n.subarray(0, 12).toString('latin1')}…)`);
  assert.deepEqual(found(A, deviceNeedle), [], "a.example holds none of bob's device URIs");
  // Control: the same scan finds them where they are. On SQLite the handed-out KeyPackage's bytes
  // are still in b.example's file (its log and free pages); on PostgreSQL a row scan sees only live
  // rows and the claimed KeyPackage is gone, so the control there is bob's device URI, which b.example
  // keeps in its rows.
  if (onPostgres()) assert.ok(found(B, deviceNeedle).length > 0, "control: the scan finds bob's device URI where it is (b.example)");
  else assert.ok(found(B, Buffer.from(kp.initKey)).length > 0 || found(B, Buffer.from(toHex(kp.initKey))).length > 0, 'control: the scan finds the KeyPackage where it is (b.example)');
  const newRows = rowsOf(A).filter((r) => !rowsBefore.has(`${r.table}\t${r.row}`));
  assert.deepEqual(newRows.filter((r) => r.row.includes(BOB_H)), [], 'no row the fetch wrote at a.example names bob');
  const namingBob = rowsOf(A).filter((r) => r.row.includes(BOB_H));
  assert.ok(namingBob.length > 0, 'control: the row scan finds what does name bob at a.example (the consent alice asked for)');
  assert.ok(namingBob.every((r) => r.table.startsWith('consent')), `only consent rows name bob at a.example: ${namingBob.map((r) => r.table).join(', ')}`);
  const log = A.output().slice(logStart);
  assert.doesNotMatch(log, new RegExp(BOB_H), "a.example's log of the fetch does not name bob");
  for (const n of needles.slice(1)) assert.ok(!log.includes(n.toString('latin1')), "a.example's log holds no encoding of the KeyPackage");

  // Now the add the way `mimi add` and the app do it: the spare token from the first issuance,
  // no discovery, no claim; the commit carries b.example's vouch and c.example accepts it.
  const claims = spy(alice, 'claim');
  const relays = spy(alice, 'ohttpRelay');
  const finds = spy(alice, 'find');
  await alice.addMember(room, `${BOB_H}@b.example`);
  assert.equal(claims.count(), 0, 'no claim: nobody but b.example was asked for bob');
  assert.equal(relays.count(), 1);
  assert.equal(finds.count(), 0, 'the stored token was used');
  assert.equal(ctxOf(alice).db.keyPackageTokenCount(BOB), 0, 'and is gone');
  await waitFor(() => bob.rooms().some((r) => r.roomUri === room), 'bob joins through the Welcome', 30000);

  // They talk.
  await alice.send(room, 'hello bob, over a KeyPackage b.example vouched for');
  await waitFor(() => byText(bob, room, 'hello bob, over a KeyPackage b.example vouched for') !== undefined, 'bob reads alice', 30000);
  await bob.send(room, 'hello alice');
  await waitFor(() => byText(alice, room, 'hello alice') !== undefined, 'alice reads bob', 30000);
  await waitFor(() => byText(carol, room, 'hello alice') !== undefined, 'carol reads bob', 30000);
});

/** b.example's gateway key configuration, through alice's provider. */
async function gatewayConfig(client: ProviderClient): Promise<KeyConfig> {
  const entry = decodeOhttpKeysEntry(fromB64((await client.ohttpKeys('b.example')).entry));
  return decodeKeyConfigs(entry.keyConfigs)[0];
}

/** `n` tokens for bob through discovery, the way key-package-fetch gets them. */
async function tokensForBob(client: ProviderClient, n: number): Promise<Uint8Array[]> {
  const found = await client.find({ domain: 'b.example', handle: BOB });
  const key = found.tokenKeys?.find((k) => k.userUri === BOB);
  assert.ok(key, 'b.example names the token key for bob');
  const asked = await requestTokens('b.example', BOB, fromB64(key.tokenKey), n);
  const answer = await client.find({ domain: 'b.example', handle: BOB, tokenRequest: { target: BOB, tokenRequests: toB64(asked.requests) } });
  assert.equal(answer.tokenResponse?.status, 'issued');
  return asked.finalize(fromB64(answer.tokenResponse!.tokenResponses!));
}

async function encapsulated(config: KeyConfig, token: Uint8Array) {
  const bhttp = encodeRequest({
    method: 'POST',
    scheme: 'https',
    authority: 'b.example',
    path: '/keyPackage',
    headers: [['content-type', 'application/mimi']],
    content: encodeKeyPackageRequest({ userId: BOB, bearerToken: token, version: MLS10, cipherSuite: 1 }),
    trailers: [],
  });
  return encapsulateRequest(config, bhttp);
}

async function relay(client: ProviderClient, sealed: { encapsulated: Uint8Array; context: Parameters<typeof decapsulateResponse>[0] }) {
  const r = await client.ohttpRelay('b.example', { request: toB64(sealed.encapsulated) });
  return decodeResponse(decapsulateResponse(sealed.context, fromB64(r.response)));
}

test('replayed, spent and forged tokens get 401; garbage, cut and oversize encapsulations a 4xx; none changes anything at b.example', async () => {
  const client = clientOf(alice);
  const config = await gatewayConfig(client);
  const [t1, t2] = await tokensForBob(client, 2);

  const first = await encapsulated(config, t1);
  const ok = await relay(client, first);
  assert.equal(ok.status, 200);
  assert.equal(decodeKeyPackageResponseList(ok.content).length, 1);
  const settled = stateAtB();

  // The very same encapsulated request again (a replay at the OHTTP layer): the token is spent.
  assert.equal((await relay(client, first)).status, 401, 'replayed request');
  // The spent token in a new request.
  assert.equal((await relay(client, await encapsulated(config, t1))).status, 401, 'spent token');
  // A forged token: t2 with one bit of its authenticator flipped; and one made up.
  const forged = t2.slice();
  forged[forged.length - 1] ^= 1;
  assert.equal((await relay(client, await encapsulated(config, forged))).status, 401, 'forged token');
  assert.equal((await relay(client, await encapsulated(config, randomBytes(t2.length)))).status, 401, 'made-up token');
  assert.equal((await relay(client, await encapsulated(config, new Uint8Array()))).status, 401, 'no token');
  assert.deepEqual(stateAtB(), settled, 'no refused token changed anything');

  // Encapsulations the gateway cannot open: refused by a.example's relay route with b.example's 4xx.
  const good = await encapsulated(config, t2);
  const refused = async (what: string, bytes: Uint8Array) => {
    await assert.rejects(client.ohttpRelay('b.example', { request: toB64(bytes) }), (e: unknown) => {
      assert.ok(e instanceof ProviderError, `${what}: a ProviderError, got ${String(e)}`);
      assert.ok(e.status >= 400 && e.status < 500, `${what}: a 4xx, got ${e.status} ${e.message}`);
      return true;
    });
    assert.deepEqual(stateAtB(), settled, `${what} changed nothing at b.example`);
  };
  await refused('garbage', randomBytes(120));
  await refused('empty', new Uint8Array());
  for (const cut of [1, 7, 40, good.encapsulated.length - 1]) await refused(`cut to ${cut} bytes`, good.encapsulated.subarray(0, cut));
  const flipped = good.encapsulated.slice();
  flipped[60] ^= 1;
  await refused('a flipped ciphertext byte', flipped);
  const otherKey = good.encapsulated.slice();
  otherKey[0] ^= 0xff;
  await refused('another key id', otherKey);
  await refused('oversize', randomBytes(64 * 1024));

  // The intact request with the good token still works: none of the above spent it.
  const fine = await relay(client, good);
  assert.equal(fine.status, 200);
  assert.deepEqual(stateAtB(), { ...settled, claimed: settled.claimed + 1, handedOut: settled.handedOut + 1, spentTokens: settled.spentTokens + 1, available: settled.available - 1 });
  assert.equal((await relay(client, good)).status, 401, 'and now it is spent');
});

test('without consent for every room b.example issues no token: the add falls back to the claim, which says what to do', async () => {
  // Carol has no consent of bob's; her OHTTP attempt gets no token, her claim gets noConsent.
  const other = (await carol.createRoom('No consent')).roomUri;
  const relays = spy(carol, 'ohttpRelay');
  const claims = spy(carol, 'claim');
  const before = stateAtB();
  await assert.rejects(carol.addMember(other, `${BOB_H}@b.example`), isCoreError('noConsent', 'errors.member.noConsent'));
  assert.equal(relays.count(), 0, 'nothing was sent to the gateway');
  assert.equal(claims.count(), 1, 'the ordinary claim was tried');
  assert.deepEqual(stateAtB(), before, 'and nothing was handed out');
  assert.equal(ctxOf(carol).db.keyPackageTokenCount(BOB), 0);

  // Consent for one room only is not enough for a token (it is for every room): the claim path
  // carries it, the room named.
  await carol.requestConsent(`${BOB_H}@b.example`, other);
  await bob.grantConsent(`${CAROL_H}@c.example`, other);
  await carol.addMember(other, `${BOB_H}@b.example`);
  assert.equal(relays.count(), 0, 'still no token: consent for one room');
  assert.equal(claims.count(), 2, 'added through the claim');
  await waitFor(() => bob.rooms().some((r) => r.roomUri === other), 'bob joins the room carol could add him to', 30000);
});

test('mimi ohttp forget DOMAIN drops the pinned provider key, so the next add records the one published then', async () => {
  assert.ok(ctxOf(alice).db.ohttpProviderKey('b.example'), 'b.example was pinned by the adds above');
  const forgot = await mimi(['--profile', alice.dir, 'ohttp', 'forget', 'b.example']);
  assert.equal(forgot.code, 0, forgot.stderr);
  assert.match(forgot.stdout, /forgot the provider key of b\.example/);
  assert.equal(ctxOf(alice).db.ohttpProviderKey('b.example'), undefined);
  const again = await mimi(['--profile', alice.dir, 'ohttp', 'forget', 'b.example']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /no provider key was recorded for b\.example/);
  const bad = await mimi(['--profile', alice.dir, 'ohttp', 'forget', 'not a domain']);
  assert.equal(bad.code, 2, bad.stderr);
});

test('a revoke reaches tokens already issued: the next add of bob is refused, nothing is handed out', async () => {
  // Alice adds bob to another room: a fresh issuance, one token used, the spare stored.
  const second = (await alice.createRoom('Second')).roomUri;
  await alice.addMember(second, `${BOB_H}@b.example`);
  assert.equal(ctxOf(alice).db.keyPackageTokenCount(BOB), 1, 'a spare token is stored');
  assert.ok(ctxOf(alice).db.ohttpProviderKey('b.example'), 'b.example pinned again after `mimi ohttp forget`');
  await waitFor(() => bob.rooms().some((r) => r.roomUri === second), 'bob joins the second room', 30000);

  // Bob revokes alice's consent. The spare was issued under it, and a token does not say who
  // redeems it, so b.example must make the tokens for bob issued before the revoke worthless (a
  // client that kept them, like this one, or hoarded them, could otherwise still fetch).
  await bob.revokeConsent(`${ALICE_H}@a.example`);
  const third = (await alice.createRoom('Third')).roomUri;
  const before = stateAtB();
  await assert.rejects(alice.addMember(third, `${BOB_H}@b.example`), isCoreError('noConsent'));
  assert.deepEqual(stateAtB(), before, 'nothing was handed out after the revoke');
  assert.equal(ctxOf(alice).db.keyPackageTokenCount(BOB), 0, 'the refused spare was dropped');
});
