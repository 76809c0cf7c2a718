// Discovery across two real provider processes: alice@a.example searches b.example through her own
// provider (/identifierQuery between them). Users choose what is searchable (default: an exact
// handle only); nothing they did not make searchable is matched or returned; fields are ANDed;
// results are paged; queries are rate limited per requesting provider; unsupported fields are
// answered as such; hostile bodies get a clear 4xx and change nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fromB64 } from '../../src-shared/bytes.js';
import fs from 'node:fs';
import path from 'node:path';
import { utf8 } from '../../src-shared/bytes.js';
import { CoreError } from '../../src-shared/contract.js';
import {
  decodeIdentifierResponse,
  encodeIdentifierPageRequest,
  encodeIdentifierRequest,
  ID_PAGE_REQUEST_COMPONENT_ID,
  type IdentifierRequest,
} from '../../src-shared/mimi-protocol.js';
import type { FindResponse } from '../../src-shared/provider-api.js';
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

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
let alice: Profile;
let bobAtB: Profile;
const profiles: Profile[] = [];
const closers: (() => Promise<void>)[] = [];

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const c of closers) await c().catch(() => undefined);
});

async function federation(args: string[] = []) {
  const f = await startFederation(['a.example', 'b.example'], {}, { args });
  closers.push(() => f['a.example'].stop(), () => f['b.example'].stop(), () => f.links['a.example'].close(), () => f.links['b.example'].close());
  return f;
}

/** Registered and not started. */
function user(provider: FederatedProvider, handle: string): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'disc', deviceName: handle, start: false });
}

/** A PeerClient speaking as `from` (its federation identity) to `to`. */
async function peerAs(from: FederatedProvider, to: FederatedProvider): Promise<PeerClient> {
  const dir = new ProviderClient({ baseUrl: to.url, caPem: to.caPem });
  const link = new URL((await dir.directory()).identifierQuery).origin;
  dir.close();
  const files = federationFilePaths(from.dataDir);
  const peer = new PeerClient({
    ownDomain: from.domain,
    config: federationConfig({ peers: { [to.domain]: link }, trustPem: [to.caPem] }),
    clientCertPem: fs.readFileSync(files.cert, 'utf8'),
    clientKeyPem: fs.readFileSync(files.key, 'utf8'),
  });
  closers.push(async () => peer.close());
  return peer;
}

function tableDump(p: FederatedProvider): string {
  return withProviderDb(p.dataDir, (db) => JSON.stringify(['users', 'user_profiles'].map((t) => tableSnapshot(db, t))));
}

const uris = (r: FindResponse) => r.results.map((x) => x.userUri);

before(async () => {
  engine = await createMlsEngine();
  const f = await federation();
  A = f['a.example'];
  B = f['b.example'];
  alice = await user(A, 'alice');
  bobAtB = await user(B, 'bob');
  const xavier = await user(B, 'xavier');
  await xavier.setProfileFields({ nick: 'xav', email: 'Xavier@Sales.example', phone: '+1 (212) 555-1212', displayName: 'Xavier Mathieu' });
  for (const field of ['nick', 'email', 'name'] as const) await xavier.setSearchable(field, true);
  const yolanda = await user(B, 'yolanda');
  await yolanda.setProfileFields({ email: 'yolanda@private.example', phone: '+4930123456', displayName: 'Yolanda Matali' });
  const zach = await user(B, 'zach');
  await zach.setProfileFields({ displayName: 'Zach Mather', email: 'zach@z.example' });
  await zach.setSearchable('handle', false);
  await zach.setSearchable('name', true);
  for (let i = 1; i <= 5; i++) {
    const m = await user(B, `matt${i}`);
    await m.setProfileFields({ displayName: `Matt Number ${i}` });
    await m.setSearchable('name', true);
  }
});

test('default: only an exact handle finds a user, and only the handle comes back', async () => {
  const r = await alice.find({ handle: 'yolanda@b.example' });
  const { tokenKeys, ...found } = r;
  assert.deepEqual(found, { status: 'success', domain: 'b.example', results: [{ userUri: 'mimi://b.example/u/yolanda', handle: 'yolanda' }] });
  // A search by handle also names the key KeyPackage tokens for her are made with (OHTTP path).
  assert.deepEqual(tokenKeys?.map((k) => k.userUri), ['mimi://b.example/u/yolanda']);
  assert.equal(fromB64(tokenKeys![0].tokenKey).length, 49, 'a compressed P-384 point');
  for (const form of ['mimi://b.example/u/yolanda', 'im:yolanda@b.example', 'YOLANDA@b.example']) {
    assert.deepEqual(uris(await alice.find({ handle: form })), ['mimi://b.example/u/yolanda'], form);
  }
  // Her email, phone and name are set but not searchable: they neither match nor show.
  assert.equal((await alice.find({ domain: 'b.example', email: 'yolanda@private.example' })).status, 'notFound');
  assert.equal((await alice.find({ domain: 'b.example', phone: '+4930123456' })).status, 'notFound');
  assert.equal((await alice.find({ domain: 'b.example', name: 'matali' })).status, 'notFound');
  // nick matches the handle's user part too (as the draft says), only if the handle is searchable.
  assert.deepEqual(uris(await alice.find({ domain: 'b.example', nick: 'yolanda' })), ['mimi://b.example/u/yolanda']);
  // Zach turned even the handle off.
  assert.equal((await alice.find({ handle: 'zach@b.example' })).status, 'notFound');
  assert.equal((await alice.find({ domain: 'b.example', nick: 'zach' })).status, 'notFound');
  // A user nobody has heard of; a handle of another domain with b.example chosen is a mistake the
  // core names before asking anyone (the provider would answer notFound).
  assert.equal((await alice.find({ handle: 'nobody@b.example' })).status, 'notFound');
  await assert.rejects(alice.find({ domain: 'b.example', handle: 'bob@a.example' }), (e: unknown) => {
    assert.ok(e instanceof CoreError && e.code === 'invalidArgument', String(e));
    assert.match(e.message, /bob@a\.example is on a\.example, not on b\.example/);
    return true;
  });
  // A bare handle is one of the chosen provider's users.
  assert.deepEqual(uris(await alice.find({ domain: 'b.example', handle: 'yolanda' })), ['mimi://b.example/u/yolanda']);
  // Our own provider answers for its own domain without asking anyone.
  assert.deepEqual(uris(await alice.find({ handle: 'alice@a.example' })), ['mimi://a.example/u/alice']);
});

test('never a field the user did not make searchable, in the answer or on the wire', async () => {
  const r = await alice.find({ domain: 'b.example', name: 'mathieu' });
  assert.deepEqual(r.results, [
    { userUri: 'mimi://b.example/u/xavier', handle: 'xavier', nick: 'xav', email: 'Xavier@Sales.example', displayName: 'Xavier Mathieu' },
  ]);
  // Zach is found by name (searchable) but his handle field and email stay hidden.
  assert.deepEqual((await alice.find({ domain: 'b.example', name: 'Mather' })).results, [{ userUri: 'mimi://b.example/u/zach', displayName: 'Zach Mather' }]);
  // The raw IdentifierResponse b.example sends holds no unsearchable value at all.
  const peer = await peerAs(A, B);
  const req: IdentifierRequest = { queryElements: [{ searchType: 'partialName', searchValue: 'mat' }], idRequestExtensions: [] };
  const raw = (await peer.post('b.example', 'identifierQuery', 'b.example', encodeIdentifierRequest(req))).body;
  const wire = Buffer.from(raw);
  for (const secret of ['+12125551212', 'yolanda@private.example', 'zach@z.example', 'Yolanda Matali', '+4930123456']) {
    assert.equal(wire.includes(Buffer.from(secret)), false, secret);
  }
  const decoded = decodeIdentifierResponse(raw);
  assert.equal(decoded.responseCode, 'success');
  assert.ok(decoded.foundProfiles.every((p) => p.fields.every((f) => f.fieldSource === 'oidcStdClaim')));
  // Xavier's phone is set (normalised) but not searchable: not by phone either.
  assert.equal((await alice.find({ domain: 'b.example', phone: '+12125551212' })).status, 'notFound');
});

test('fields are ANDed', async () => {
  assert.deepEqual(uris(await alice.find({ domain: 'b.example', name: 'xav', email: 'xavier@sales.example' })), ['mimi://b.example/u/xavier']);
  assert.deepEqual(uris(await alice.find({ domain: 'b.example', nick: 'xav', email: 'XAVIER@SALES.EXAMPLE', name: 'mathieu' })), ['mimi://b.example/u/xavier']);
  assert.equal((await alice.find({ domain: 'b.example', name: 'xav', email: 'other@sales.example' })).status, 'notFound');
  assert.equal((await alice.find({ handle: 'xavier@b.example', nick: 'zach' })).status, 'notFound');
  // "mat" matches Xavier Mathieu, Zach Mather and the five Matts - not Yolanda Matali (not searchable).
  const all = await alice.find({ domain: 'b.example', name: 'mat', limit: 50 });
  assert.deepEqual(uris(all), ['matt1', 'matt2', 'matt3', 'matt4', 'matt5', 'xavier', 'zach'].map((h) => `mimi://b.example/u/${h}`));
});

test('results are paged; the cursor walks them in order without gaps or repeats', async () => {
  const seen: string[] = [];
  let cursor: string | undefined;
  const sizes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const page = await alice.find({ domain: 'b.example', name: 'matt number', limit: 2, ...(cursor ? { cursor } : {}) });
    assert.equal(page.status, 'success');
    sizes.push(page.results.length);
    seen.push(...uris(page));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual(seen, [1, 2, 3, 4, 5].map((i) => `mimi://b.example/u/matt${i}`));
});

test('unsupported and unacceptable queries get the draft answers', async () => {
  assert.equal((await alice.find({ domain: 'b.example', wholeProfile: 'sales' })).status, 'unsupportedField');
  assert.equal((await alice.find({ domain: 'b.example', name: 'ma' })).status, 'ambiguous');
  const peer = await peerAs(A, B);
  const ask = async (req: IdentifierRequest) => decodeIdentifierResponse((await peer.post('b.example', 'identifierQuery', 'b.example', encodeIdentifierRequest(req))).body).responseCode;
  assert.equal(await ask({ queryElements: [{ searchType: 'oidcStdClaim', claimName: 'given_name', searchValue: 'Xavier' }], idRequestExtensions: [] }), 'unsupportedField');
  assert.equal(await ask({ queryElements: [{ searchType: 'vcardField', propertyName: 'ORG', searchValue: 'XYZ' }], idRequestExtensions: [] }), 'unsupportedField');
  assert.equal(await ask({ queryElements: [], idRequestExtensions: [] }), 'ambiguous');
  assert.equal(await ask({ queryElements: Array.from({ length: 9 }, () => ({ searchType: 'nick' as const, searchValue: 'xav' })), idRequestExtensions: [] }), 'forbidden');
  // An unknown extension component is ignored.
  assert.equal(await ask({ queryElements: [{ searchType: 'nick', searchValue: 'xav' }], idRequestExtensions: [{ componentId: 0x9000, data: utf8('?') }] }), 'success');
  // The CLI-facing client API refuses a query it cannot turn into one.
  await assert.rejects(alice.find({ domain: 'b.example' }), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');
  await assert.rejects(alice.find({ domain: 'b.example', nick: 'x', bogus: 1 } as never), /unknown field "bogus"/);
  await assert.rejects(alice.setProfileFields({ email: 'not an address' }), /email/);
  await assert.rejects(alice.setProfileFields({ phone: '12345' }), /international number/);
  await assert.rejects(alice.setSearchable('password' as never, true), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');
  assert.deepEqual((await alice.myProfile()).searchable, { handle: true, nick: false, email: false, phone: false, name: false });
});

test('hostile /identifierQuery bodies get a clear 4xx and change nothing', async () => {
  const peer = await peerAs(A, B);
  const good = encodeIdentifierRequest({ queryElements: [{ searchType: 'handle', searchValue: 'bob@b.example' }], idRequestExtensions: [] });
  const before = tableDump(B);
  const refused = async (param: string, body: Uint8Array, status: number, message: RegExp) => {
    await assert.rejects(peer.post('b.example', 'identifierQuery', param, body), (e: unknown) => {
      assert.ok(e instanceof PeerError, String(e));
      assert.equal(e.status, status, e.message);
      assert.match(e.message, message);
      return true;
    });
  };
  await refused('b.example', new Uint8Array([0xff, 0xff, 0xff]), 400, /malformed IdentifierRequest/);
  for (const cut of [0, 1, 3, good.length - 1]) await refused('b.example', good.subarray(0, cut), 400, /malformed IdentifierRequest/);
  await refused('b.example', new Uint8Array([...good, 7]), 400, /trailing/);
  await refused('c.example', good, 400, /names "c\.example"/);
  await refused('b.example', new Uint8Array(20_000), 413, /at most/);
  const badPage = encodeIdentifierRequest({
    queryElements: [{ searchType: 'nick', searchValue: 'bob' }],
    idRequestExtensions: [{ componentId: ID_PAGE_REQUEST_COMPONENT_ID, data: new Uint8Array([1]) }],
  });
  await refused('b.example', badPage, 400, /malformed paging component/);
  const hugeCursor = encodeIdentifierRequest({
    queryElements: [{ searchType: 'nick', searchValue: 'bob' }],
    idRequestExtensions: [{ componentId: ID_PAGE_REQUEST_COMPONENT_ID, data: encodeIdentifierPageRequest({ cursor: new Uint8Array(600), limit: 5 }) }],
  });
  await refused('b.example', hugeCursor, 400, /cursor is too long/);
  assert.equal(tableDump(B), before);
  const ok = decodeIdentifierResponse((await peer.post('b.example', 'identifierQuery', 'b.example', good)).body);
  assert.deepEqual(ok.uri, ['mimi://b.example/u/bob']);
  assert.ok(bobAtB);
});

test('identifier queries are rate limited per requesting provider (and per local user)', async () => {
  const f = await federation(['--search-rate', '4']);
  const [a, b] = [f['a.example'], f['b.example']];
  const searcher = await user(a, 'searcher');
  const other = await user(a, 'other');
  await user(b, 'target');
  // Each local user has their own budget at a.example; b.example counts a.example as a whole.
  for (let i = 0; i < 2; i++) assert.equal((await searcher.find({ handle: 'target@b.example' })).status, 'success');
  for (let i = 0; i < 2; i++) assert.equal((await other.find({ handle: 'target@b.example' })).status, 'success');
  await assert.rejects(other.find({ handle: 'target@b.example' }), (e: unknown) => {
    assert.ok(e instanceof CoreError && e.code === 'rateLimited', String(e));
    assert.match(e.message, /b\.example is rate limiting/);
    return true;
  });
  // b.example answers a.example's raw queries with 429 too, while it still answers c.example-less local users.
  const peer = await peerAs(a, b);
  const body = encodeIdentifierRequest({ queryElements: [{ searchType: 'handle', searchValue: 'target@b.example' }], idRequestExtensions: [] });
  await assert.rejects(peer.post('b.example', 'identifierQuery', 'b.example', body), (e: unknown) => e instanceof PeerError && e.status === 429);
  // The local user's own budget: searcher has 2 of 4 left at a.example, then a.example refuses.
  for (let i = 0; i < 2; i++) assert.equal((await searcher.find({ handle: 'searcher@a.example' })).status, 'success');
  await assert.rejects(searcher.find({ handle: 'searcher@a.example' }), (e: unknown) => e instanceof CoreError && e.code === 'rateLimited' && /your searches/.test(e.message));
});
