// Finding people by a bare handle, and consent as people read it, across two real provider
// processes (a.example, b.example; consent required):
// - "bob" with the provider b.example finds bob@b.example through the core (and bob@b.example,
//   Bob@B.example, im:bob@b.example and mimi://b.example/u/bob still do); a handle that names
//   another provider than the chosen one, or no handle at all, is a clear invalidArgument and asks
//   nothing; a client asking the provider directly with a bare handle gets the same answer.
// - A request for one room carries the room's name: bob reads "Team lunch", not a room URI.
// - The requester is told once when bob accepts ('consentGranted', and on stderr from the `mimi`
//   command), with what it allows now.
// - A request to add someone to a room they are already in is not listed (nothing to answer).
// - A bad room name (to the client API or from a peer) is refused with a 400 and changes nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { utf8 } from '../../src-shared/bytes.js';
import { CoreError, type ConsentGrantedView } from '../../src-shared/contract.js';
import { encodeConsentEntry, type ConsentEntry, type Fields } from '../../src-shared/mimi-protocol.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { federationConfig } from '../../src-provider/federation/config.js';
import { federationFilePaths } from '../../src-provider/federation/mtls.js';
import { PeerClient, PeerError } from '../../src-provider/federation/peer-client.js';
import { CONSENT_ROOM_NAME_COMPONENT_ID } from '../../src-provider/consent.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { mimi } from '../helpers/mimi-cli.js';
import { testProfile } from '../helpers/profiles.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';

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
  const dir = new ProviderClient({ baseUrl: B.url, caPem: B.caPem });
  linkB = new URL((await dir.directory()).requestConsent).origin;
  dir.close();
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const c of closers) await c().catch(() => undefined);
});

function user(provider: FederatedProvider, handle: string, o: { start?: boolean; dir?: string } = {}): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'people', deviceName: handle, ...o });
}

function rowsAt(p: FederatedProvider, sql: string): unknown[] {
  return withProviderDb(p.dataDir, (db) => db.prepare(sql).all());
}

async function invalid(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CoreError, String(e));
    assert.equal(e.code, 'invalidArgument');
    assert.match(e.message, message);
    return true;
  });
}

test('a bare handle with the chosen provider finds the user; the other forms still do; bad ones say what to write', async () => {
  const alice = await user(A, 'alice');
  await user(B, 'bob');
  await user(A, 'amy');
  const BOB = 'mimi://b.example/u/bob';
  const found = async (q: Parameters<Profile['find']>[0]) => {
    const res = await alice.find(q);
    return [res.status, res.domain, res.results.map((r) => r.userUri)];
  };
  assert.deepEqual(await found({ handle: 'bob', domain: 'b.example' }), ['success', 'b.example', [BOB]]);
  assert.deepEqual(await found({ handle: ' Bob ', domain: 'B.example' }), ['success', 'b.example', [BOB]]);
  assert.deepEqual(await found({ handle: 'bob@b.example' }), ['success', 'b.example', [BOB]]);
  assert.deepEqual(await found({ handle: 'bob@b.example', domain: 'b.example' }), ['success', 'b.example', [BOB]]);
  assert.deepEqual(await found({ handle: 'im:bob@b.example' }), ['success', 'b.example', [BOB]]);
  assert.deepEqual(await found({ handle: BOB }), ['success', 'b.example', [BOB]]);
  // No provider chosen: a bare handle is on mine.
  assert.deepEqual(await found({ handle: 'amy' }), ['success', 'a.example', ['mimi://a.example/u/amy']]);
  assert.deepEqual(await found({ handle: 'bob' }), ['notFound', 'a.example', []]);

  await invalid(alice.find({ handle: 'bob@b.example', domain: 'a.example' }), /bob@b\.example is on b\.example, not on a\.example: search b\.example instead, or write just the handle/);
  await invalid(alice.find({ handle: 'bo b', domain: 'b.example' }), /"bo b" is not a handle; write bob, bob@b\.example or mimi:\/\/b\.example\/u\/bob/);
  await invalid(alice.find({ handle: 'mimi://b.example/r/lunch' }), /is not a handle/);
  await invalid(alice.find({ handle: 'bob', domain: 'not a domain' }), /"not a domain" is not a provider name; write one like b\.example/);

  // Another client asking the provider's API directly with a bare handle: the same answer.
  const direct = new ProviderClient({ baseUrl: A.url, caPem: A.caPem });
  await direct.login({ handle: 'amy', password: 'pw-amy-secret', deviceName: 'api' });
  const res = await direct.find({ handle: 'BOB', domain: 'b.example' });
  assert.deepEqual([res.status, res.results.map((r) => r.userUri)], ['success', [BOB]]);
  direct.close();
});

test('a request names its room; the requester is told once when it is accepted, in the core and by mimi', async () => {
  const carlDir = path.join(tempDir('people-carl'), 'profile');
  const carl = await user(A, 'carl', { dir: carlDir });
  const dora = await user(B, 'dora');
  const room = await carl.createRoom('Team lunch');
  const news: ConsentGrantedView[] = [];
  carl.on('consentGranted', (g: ConsentGrantedView) => news.push(g));

  await carl.requestConsent('dora@b.example', room.roomUri);
  await waitFor(async () => (await dora.consentList()).incoming.length === 1, 'the request at dora');
  const [req] = (await dora.consentList()).incoming;
  assert.deepEqual([req.user, req.roomUri, req.roomName], ['mimi://a.example/u/carl', room.roomUri, 'Team lunch']);
  // The name is what b.example keeps with the request (a.example's provider passed it on).
  assert.deepEqual(rowsAt(B, 'SELECT room_name FROM consent_requests_in'), [{ room_name: 'Team lunch' }]);

  await dora.grantConsent('carl@a.example', room.roomUri);
  await waitFor(() => news.length > 0, "carl's 'consentGranted'");
  assert.deepEqual(
    news.map((g) => [g.user, g.roomUri, g.roomName, g.text]),
    [['mimi://b.example/u/dora', room.roomUri, 'Team lunch', 'dora@b.example accepted your request: you can now add them to “Team lunch”.']],
  );
  // Once: fetching the list again tells nothing new.
  await carl.consentList();
  await carl.consentList();
  assert.equal(news.length, 1);

  // The grant allows what it says.
  await carl.addMember(room.roomUri, 'dora@b.example');
  await waitFor(() => dora.rooms().length === 1, 'dora to join');

  // A request to add dora to a room she is already in has nothing to answer: not listed.
  const eve = await user(A, 'eve');
  await eve.requestConsent('dora@b.example', room.roomUri);
  await waitFor(() => rowsAt(B, "SELECT 1 FROM consent_requests_in WHERE requester_uri = 'mimi://a.example/u/eve'").length === 1, "eve's request at b.example");
  assert.deepEqual((await dora.consentList()).incoming, []);

  // The mimi command tells of a grant that came while it was not running, on stderr, once.
  const cliProfile = carlDir;
  const otherRoom = await carl.createRoom('Board games');
  await carl.requestConsent('dora@b.example', otherRoom.roomUri);
  await carl.close();
  await waitFor(async () => (await dora.consentList()).incoming.length === 1, 'the second request at dora');
  assert.equal((await dora.consentList()).incoming[0].roomName, 'Board games');
  await dora.grantConsent('carl@a.example', otherRoom.roomUri);
  await waitFor(() => rowsAt(A, "SELECT 1 FROM consent_requests_out WHERE status = 'granted' AND room_uri != ''").length === 2, 'the grant at a.example');
  const first = await mimi(['--profile', cliProfile, 'rooms']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /mimi: dora@b\.example accepted your request: you can now add them to “Board games”\. \(mimi add mimi:\/\/a\.example\/r\/\S+ dora@b\.example\)/);
  assert.doesNotMatch(first.stderr, /Team lunch/, 'the grant told before is not told again');
  const second = await mimi(['--profile', cliProfile, 'rooms']);
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /accepted your request/);
});

test('a bad room name is refused with a 400, from a client and from a peer, and changes nothing', async () => {
  const fay = await user(A, 'fay');
  await user(B, 'gus');
  const room = await fay.createRoom('ok');
  const client = new ProviderClient({ baseUrl: A.url, caPem: A.caPem });
  await client.login({ handle: 'fay', password: 'pw-fay-secret', deviceName: 'api' });
  // Compared as sets of rows: these tables have no insertion order (rowid) on PostgreSQL.
  const out = () => JSON.stringify(rowsAt(A, 'SELECT * FROM consent_requests_out').map((r) => JSON.stringify(r)).sort());
  const inB = () => JSON.stringify(rowsAt(B, 'SELECT * FROM consent_requests_in').map((r) => JSON.stringify(r)).sort());
  const [outBefore, inBefore] = [out(), inB()];
  for (const [roomName, roomUri, why] of [
    ['bell\u0007', room.roomUri, /control characters/],
    ['x'.repeat(129), room.roomUri, /1-128 characters/],
    ['   ', room.roomUri, /1-128 characters/],
    ['Lunch', undefined, /give roomUri with it/],
  ] as const) {
    await assert.rejects(client.consentAction('requestConsent', { user: 'gus@b.example', ...(roomUri ? { roomUri } : {}), roomName }), (e: unknown) => {
      assert.ok(e instanceof ProviderError, String(e));
      assert.equal(e.status, 400);
      assert.match(e.message, why);
      return true;
    });
  }
  assert.equal(out(), outBefore);
  assert.equal(inB(), inBefore);

  // From a peer: a.example's federation identity sends a room name component that is not one.
  const files = federationFilePaths(A.dataDir);
  const peer = new PeerClient({
    ownDomain: 'a.example',
    config: federationConfig({ peers: { 'b.example': linkB }, trustPem: [B.caPem] }),
    clientCertPem: fs.readFileSync(files.cert, 'utf8'),
    clientKeyPem: fs.readFileSync(files.key, 'utf8'),
  });
  closers.push(async () => peer.close());
  const entry = (name: Uint8Array, roomId: string | null = room.roomUri) =>
    encodeConsentEntry({
      consentOperation: 'request',
      requesterUri: 'mimi://a.example/u/fay',
      targetUri: 'mimi://b.example/u/gus',
      ...(roomId ? { roomId } : {}),
      consentExtensions: [{ componentId: CONSENT_ROOM_NAME_COMPONENT_ID, data: name }],
    } as Fields<ConsentEntry>);
  for (const [body, why] of [
    [entry(new Uint8Array([0xff, 0xfe])), /not UTF-8/],
    [entry(utf8('a\nb')), /control characters/],
    [entry(utf8('Lunch'), null), /needs a roomId/],
  ] as const) {
    await assert.rejects(peer.post('b.example', 'requestConsent', 'b.example', body), (e: unknown) => {
      assert.ok(e instanceof PeerError, String(e));
      assert.equal(e.status, 400);
      assert.match(e.message, why);
      return true;
    });
  }
  assert.equal(inB(), inBefore);
  // A good one is kept with its name.
  assert.equal((await peer.post('b.example', 'requestConsent', 'b.example', entry(utf8('Lunch')))).status, 201);
  assert.deepEqual(rowsAt(B, "SELECT room_name FROM consent_requests_in WHERE requester_uri = 'mimi://a.example/u/fay'"), [{ room_name: 'Lunch' }]);
  client.close();
});
