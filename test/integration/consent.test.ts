// Consent across two real provider processes started with --consent required: without the target
// user's consent no KeyPackage of theirs leaves their provider (counted in its SQLite, read-only);
// request -> push -> grant -> add; revoke for the next claim; per-room consent; block; decline;
// cancel; users of one provider need none; hostile /requestConsent and /updateConsent bodies are
// refused with a 4xx and change nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError } from '../../src-shared/contract.js';
import { encodeConsentEntry, type ConsentEntry, type Fields } from '../../src-shared/mimi-protocol.js';
import { newRoomUri } from '../../src-shared/identifiers.js';
import type { ConsentListResponse } from '../../src-shared/provider-api.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { Profile } from '../../src-main/core/profile.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { federationConfig } from '../../src-provider/federation/config.js';
import { federationFilePaths } from '../../src-provider/federation/mtls.js';
import { PeerClient, PeerError } from '../../src-provider/federation/peer-client.js';
import { tableSnapshot, withProviderDb } from '../helpers/provider-db.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
let linkB = '';
const profiles: Profile[] = [];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  A = f['a.example'];
  B = f['b.example'];
  closers.push(() => A.stop(), () => B.stop(), () => f.links['a.example'].close(), () => f.links['b.example'].close());
  // Where a.example reaches b.example (its link, which b.example's directory names).
  const dirClient = new ProviderClient({ baseUrl: B.url, caPem: B.caPem });
  linkB = new URL((await dirClient.directory()).requestConsent).origin;
  dirClient.close();
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const c of closers) await c().catch(() => undefined);
});

function user(provider: FederatedProvider, handle: string): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'consent', deviceName: handle });
}

function readDb<T>(p: FederatedProvider, sql: string, ...params: unknown[]): T {
  return withProviderDb(p.dataDir, (db) => db.prepare(sql).get(...params) as T);
}

/** KeyPackages of b.example's users that were handed out: claimed single-use rows and recorded hand-outs. */
const spentAtB = () => ({
  claimed: readDb<{ n: number }>(B, 'SELECT count(*) AS n FROM key_packages WHERE claimed = 1').n,
  // Through the hub's /keyMaterial (claims for a room) or over OHTTP (handouts, docs/ohttp-key-packages.md).
  handedOut:
    readDb<{ n: number }>(B, 'SELECT count(*) AS n FROM key_package_claims').n + readDb<{ n: number }>(B, 'SELECT count(*) AS n FROM ohttp_handouts').n,
});

const CONSENT_TABLES = ['consent_decisions', 'consent_requests_in', 'consent_requests_out', 'key_packages', 'key_package_claims', 'users'];
const snapshot = (p: FederatedProvider) =>
  Object.fromEntries(
    CONSENT_TABLES.map((t) => {
      return [t, JSON.stringify(withProviderDb(p.dataDir, (db) => tableSnapshot(db, t)))];
    }),
  );

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CoreError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

const outgoingStatus = async (p: Profile, target: string, roomUri?: string) =>
  (await p.consentList()).outgoing.find((o) => o.user === target && o.roomUri === roomUri)?.status;

test('no KeyPackage leaves b.example without consent; request -> push -> grant -> add works', async () => {
  const alice = await user(A, 'alice');
  const bob = await user(B, 'bob');
  const room = await alice.createRoom('needs consent');
  const before = spentAtB();
  await rejectsWith(alice.addMember(room.roomUri, 'bob@b.example'), 'noConsent', /bob@b\.example.*noConsent.*consent request bob@b\.example/);
  assert.deepEqual(spentAtB(), before, 'nothing spent without consent');

  // Bob's device hears of the request through a push notice.
  const seen: ConsentListResponse[] = [];
  bob.on('consent', (l: ConsentListResponse) => seen.push(l));
  const asked = await alice.requestConsent('bob@b.example');
  assert.deepEqual(asked, { outcome: 'requested', changed: 1, notified: true });
  assert.equal(await outgoingStatus(alice, 'mimi://b.example/u/bob'), 'pending');
  await waitFor(() => seen.some((l) => l.incoming.some((r) => r.user === 'mimi://a.example/u/alice')), "bob's 'consent' event with alice's request");
  assert.deepEqual((await bob.consentList()).incoming.map((r) => [r.user, r.roomUri]), [['mimi://a.example/u/alice', undefined]]);

  const granted = await bob.grantConsent('alice@a.example');
  assert.equal(granted.notified, true);
  const list = await bob.consentList();
  assert.deepEqual(list.incoming, []);
  assert.deepEqual(list.granted.map((g) => [g.user, g.roomUri]), [['mimi://a.example/u/alice', undefined]]);
  await waitFor(async () => (await outgoingStatus(alice, 'mimi://b.example/u/bob')) === 'granted', "alice's request to show granted");

  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().some((r) => r.roomUri === room.roomUri), 'bob to join');
  assert.equal(spentAtB().handedOut, before.handedOut + 1);

  // Revoke takes effect for the next claim.
  const revoked = await bob.revokeConsent('alice@a.example');
  assert.equal(revoked.changed, 1);
  await waitFor(async () => (await outgoingStatus(alice, 'mimi://b.example/u/bob')) === 'revoked', 'alice to learn of the revoke');
  const room2 = await alice.createRoom('after revoke');
  const mid = spentAtB();
  await rejectsWith(alice.addMember(room2.roomUri, 'bob@b.example'), 'noConsent', /noConsent/);
  assert.deepEqual(spentAtB(), mid);
});

test('consent for one room is only for that room', async () => {
  const alice = await user(A, 'alice2');
  const carol = await user(B, 'carol');
  const r1 = await alice.createRoom('r1');
  const r2 = await alice.createRoom('r2');
  assert.equal((await alice.requestConsent('carol@b.example', 'r1')).outcome, 'requested');
  await waitFor(async () => (await carol.consentList()).incoming.some((r) => r.roomUri === r1.roomUri), 'the per-room request at carol');
  await carol.grantConsent('alice2@a.example', r1.roomUri);
  await waitFor(async () => (await outgoingStatus(alice, 'mimi://b.example/u/carol', r1.roomUri)) === 'granted', 'the per-room grant at alice');
  const before = spentAtB();
  await rejectsWith(alice.addMember(r2.roomUri, 'carol@b.example'), 'noConsent', /noConsentForThisRoom.*--room/);
  assert.deepEqual(spentAtB(), before);
  await alice.addMember(r1.roomUri, 'carol@b.example');
  await waitFor(() => carol.rooms().some((r) => r.roomUri === r1.roomUri), 'carol to join r1');
  // Revoking that room's grant: the next claim for it is refused again (carol left first: adding
  // someone who is in the room is refused before any claim).
  await carol.leaveRoom(r1.roomUri);
  await waitFor(() => !alice.roomView(r1.roomUri).members.includes('mimi://b.example/u/carol'), 'carol gone from r1 at alice');
  assert.equal((await carol.revokeConsent('alice2@a.example', r1.roomUri)).changed, 1);
  const r3before = spentAtB();
  await rejectsWith(alice.addMember(r1.roomUri, 'carol@b.example'), 'noConsent', /noConsent/);
  assert.deepEqual(spentAtB(), r3before);
});

test('block: requests vanish silently, claims are refused, a later grant lifts it', async () => {
  const mallory = await user(A, 'mallory');
  const dave = await user(B, 'dave');
  await mallory.requestConsent('dave@b.example');
  await waitFor(async () => (await dave.consentList()).incoming.length === 1, 'the request at dave');
  assert.deepEqual(await dave.blockUser('mallory@a.example'), { outcome: 'done', changed: 1, notified: false });
  let list = await dave.consentList();
  assert.deepEqual(list.incoming, []);
  assert.deepEqual(list.blocked.map((b) => b.user), ['mimi://a.example/u/mallory']);
  // A new request is accepted (201) but dropped: mallory cannot tell she is blocked.
  assert.equal((await mallory.requestConsent('dave@b.example')).outcome, 'requested');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual((await dave.consentList()).incoming, []);
  assert.equal(await outgoingStatus(mallory, 'mimi://b.example/u/dave'), 'pending');
  const room = await mallory.createRoom('blocked');
  const before = spentAtB();
  await rejectsWith(mallory.addMember(room.roomUri, 'dave@b.example'), 'noConsent', /noConsent/);
  assert.deepEqual(spentAtB(), before);
  // Granting unblocks.
  await dave.grantConsent('mallory@a.example');
  list = await dave.consentList();
  assert.deepEqual(list.blocked, []);
  await mallory.addMember(room.roomUri, 'dave@b.example');
  await waitFor(() => dave.rooms().length === 1, 'dave to join');
});

test('decline tells the requester; cancel withdraws a request; users of one provider need no consent', async () => {
  const alice = await user(A, 'alice3');
  const frank = await user(A, 'frank');
  const erin = await user(B, 'erin');
  await alice.requestConsent('erin@b.example');
  await waitFor(async () => (await erin.consentList()).incoming.length === 1, 'the request at erin');
  assert.deepEqual(await erin.declineConsent('alice3@a.example'), { outcome: 'done', changed: 1, notified: true });
  await waitFor(async () => (await outgoingStatus(alice, 'mimi://b.example/u/erin')) === 'revoked', 'alice to see the decline');
  assert.deepEqual((await erin.consentList()).granted, []);

  await alice.requestConsent('erin@b.example', 'mimi://a.example/r/some-room');
  await waitFor(async () => (await erin.consentList()).incoming.length === 1, 'the second request');
  assert.equal((await alice.cancelConsentRequest('erin@b.example', 'mimi://a.example/r/some-room')).changed, 1);
  await waitFor(async () => (await erin.consentList()).incoming.length === 0, 'the request to be withdrawn');

  // Same provider: nothing to ask, adding works without it, and grants/blocks make no sense.
  assert.deepEqual(await alice.requestConsent('frank'), { outcome: 'notNeeded', changed: 0, notified: false });
  const room = await alice.createRoom('local');
  await alice.addMember(room.roomUri, 'frank@a.example');
  await waitFor(() => frank.rooms().length === 1, 'frank to join');
  await assert.rejects(frank.blockUser('alice3@a.example'), /need no consent/);
  // Unknown users: the target's provider says so.
  await rejectsWith(alice.requestConsent('nobody@b.example'), 'userUnknown', /no such user/);
});

test('bulk claim for several users of b.example without consent: nothing spent, each answered noConsent', async () => {
  const c = new ProviderClient({ baseUrl: A.url, caPem: A.caPem });
  await c.register({ handle: 'bulk', password: 'bulk-password', deviceName: 'raw' });
  const roomUri = newRoomUri('a.example');
  await c.createRoom({ roomUri });
  await user(B, 'gina');
  await user(B, 'hank');
  const before = spentAtB();
  const res = await c.claim({ roomUri, users: ['mimi://b.example/u/gina', 'mimi://b.example/u/hank'] });
  assert.deepEqual(res.results.map((r) => [r.userUri, r.status, r.clients.length]), [
    ['mimi://b.example/u/gina', 'noConsent', 0],
    ['mimi://b.example/u/hank', 'noConsent', 0],
  ]);
  assert.deepEqual(spentAtB(), before);
  c.close();
});

test('hostile /requestConsent and /updateConsent bodies get a clear 4xx and change nothing', async () => {
  // Speak as a.example: its federation identity, trusting b.example's CA.
  const files = federationFilePaths(A.dataDir);
  const peer = new PeerClient({
    ownDomain: 'a.example',
    config: federationConfig({ peers: { 'b.example': linkB }, trustPem: [B.caPem] }),
    clientCertPem: fs.readFileSync(files.cert, 'utf8'),
    clientKeyPem: fs.readFileSync(files.key, 'utf8'),
  });
  closers.push(async () => peer.close());
  await user(B, 'ivy');
  const entry = (e: Partial<Fields<ConsentEntry>> = {}): Uint8Array =>
    encodeConsentEntry({ consentOperation: 'request', requesterUri: 'mimi://a.example/u/alice', targetUri: 'mimi://b.example/u/ivy', consentExtensions: [], ...e } as Fields<ConsentEntry>);
  const refused = async (endpoint: 'requestConsent' | 'updateConsent', param: string, body: Uint8Array, status: number, code: string, message: RegExp) => {
    const before = snapshot(B);
    await assert.rejects(peer.post('b.example', endpoint, param, body), (e: unknown) => {
      assert.ok(e instanceof PeerError, String(e));
      assert.equal(e.status, status, e.message);
      assert.match(e.message, new RegExp(code));
      assert.match(e.message, message);
      return true;
    });
    assert.deepEqual(snapshot(B), before, `${endpoint} ${message}: b.example unchanged`);
  };
  const good = entry();
  await refused('requestConsent', 'b.example', new Uint8Array([1, 2, 3]), 400, 'badRequest', /malformed ConsentEntry/);
  for (const cut of [0, 1, 5, good.length - 1]) {
    await refused('requestConsent', 'b.example', good.subarray(0, cut), 400, 'badRequest', /malformed ConsentEntry/);
  }
  await refused('requestConsent', 'b.example', new Uint8Array([...good, 0]), 400, 'badRequest', /trailing/);
  await refused('requestConsent', 'c.example', good, 400, 'badRequest', /names "c\.example"/);
  await refused('updateConsent', 'a.example', entry({ consentOperation: 'revoke' }), 400, 'badRequest', /names "a\.example"/);
  await refused('requestConsent', 'b.example', new Uint8Array(20_000), 413, 'tooLarge', /at most/);
  await refused('requestConsent', 'b.example', entry({ consentOperation: 'revoke' }), 400, 'badRequest', /not revoke/);
  await refused('updateConsent', 'b.example', entry(), 400, 'badRequest', /not request/);
  await refused('requestConsent', 'b.example', entry({ requesterUri: 'mimi://b.example/u/ivy2' }), 403, 'notAllowed', /its own users/);
  await refused('requestConsent', 'b.example', entry({ requesterUri: 'alice' }), 400, 'badRequest', /not a user URI/);
  await refused('requestConsent', 'b.example', entry({ targetUri: 'mimi://a.example/u/ivy' }), 400, 'badRequest', /not a user of b\.example/);
  await refused('requestConsent', 'b.example', entry({ targetUri: 'mimi://b.example/u/nobody' }), 404, 'userUnknown', /no user/);
  // /updateConsent from a.example claiming to speak for b.example's users is refused too.
  await refused('updateConsent', 'b.example', entry({ consentOperation: 'revoke', requesterUri: 'mimi://b.example/u/ivy', targetUri: 'mimi://b.example/u/x' }), 403, 'notAllowed', /its own users/);
  // The well-formed request is accepted (201) after all that.
  const ok = await peer.post('b.example', 'requestConsent', 'b.example', good);
  assert.equal(ok.status, 201);
  assert.equal(readDb<{ n: number }>(B, "SELECT count(*) AS n FROM consent_requests_in WHERE target_uri = 'mimi://b.example/u/ivy'").n, 1);
});

test('a room hosted by a third provider: the claim through its hub is checked at the target too', async () => {
  const f = await startFederation(['a.example', 'b.example', 'c.example'], {}, { consent: 'required' });
  for (const d of ['a.example', 'b.example', 'c.example']) closers.push(() => f[d].stop(), () => f.links[d].close());
  const [a, b, c] = [f['a.example'], f['b.example'], f['c.example']];
  const carol = await user(c, 'carol-hub');
  const alice = await user(a, 'alice-follower');
  const bob = await user(b, 'bob-target');
  const room = await carol.createRoom('at c');
  await alice.grantConsent('carol-hub@c.example', room.roomUri);
  await carol.addMember(room.roomUri, 'alice-follower@a.example');
  await waitFor(() => alice.rooms().length === 1, 'alice to join the room at c');
  // Alice (a follower) adds Bob: a -> c (hub) -> b. b refuses without Bob's consent, nothing spent.
  const spent = () => readDb<{ n: number }>(b, 'SELECT (SELECT count(*) FROM key_package_claims) + (SELECT count(*) FROM ohttp_handouts) AS n').n;
  const before = spent();
  await rejectsWith(alice.addMember(room.roomUri, 'bob-target@b.example'), 'noConsent', /noConsent/);
  assert.equal(spent(), before);
  await alice.requestConsent('bob-target@b.example', room.roomUri);
  await waitFor(async () => (await bob.consentList()).incoming.length === 1, 'the request at bob');
  await bob.grantConsent('alice-follower@a.example', room.roomUri);
  await alice.addMember(room.roomUri, 'bob-target@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join the room at c');
  assert.equal(spent(), before + 1);
});
