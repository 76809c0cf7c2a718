// Abuse reports (draft-ietf-mimi-protocol-06 "Report abuse") across two real provider processes:
// a.example hosts the rooms (alice creates them), b.example is a follower that forwards its users'
// reports to the hub's /reportAbuse. What the hub keeps is read from its SQLite file (read-only):
// a local and a remote reporter allowed; a moderated room's guest refused by their own client and,
// when the client is bypassed, by the hub; non-participants, banned users and unknown rooms
// refused; hostile S2S bodies from a trusted peer (acting as b.example with its own certificate);
// and the `mimi report` command. Every refusal stores nothing, at the hub or the follower.
// Users: alice@a (creator), carol@a, bob@b, dave@b (in no room), gina@b (the CLI's profile).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { Profile } from '../../src-main/core/profile.js';
import type { ProviderClient } from '../../src-main/net/provider-client.js';
import { CoreError } from '../../src-shared/contract.js';
import { roomPath } from '../../src-shared/provider-api.js';
import { utf8, concatBytes } from '../../src-shared/bytes.js';
import { decodeAbuseReport, encodeAbuseReport, type AbuseReport, type AbusiveMessage, type Fields } from '../../src-shared/mimi-protocol.js';
import type { AbuseReportRow } from '../../src-provider/store.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { apiError, mimiPost, peerIdentity, type PeerIdentity, type Target } from '../helpers/mimi-peer.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { clientCall } from '../helpers/room-state-fixture.js';
import { mimi, type Run } from '../helpers/mimi-cli.js';
import { testProfile } from '../helpers/profiles.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
let f: Awaited<ReturnType<typeof startFederation>>;
let hub: FederatedProvider; // a.example
let follower: FederatedProvider; // b.example
let asB: PeerIdentity; // b.example's own CA and federation client certificate
const profiles: Profile[] = [];
let alice: Profile, carol: Profile, bob: Profile, dave: Profile;

const A = 'mimi://a.example/u/alice';
const C = 'mimi://a.example/u/carol';
const B = 'mimi://b.example/u/bob';
const D = 'mimi://b.example/u/dave';
const G = 'mimi://b.example/u/gina';

/** The rooms every test uses: a cooperative one (alice, bob, carol) and a moderated one (alice, bob, carol). */
let coop: string;
let stage: string;

const client = (p: Profile): ProviderClient => (p as unknown as { client: ProviderClient }).client;

function user(provider: FederatedProvider, handle: string): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'ar', onError: (m) => { if (process.env.AR_DEBUG) console.error(handle, m); } });
}

before(async () => {
  engine = await createMlsEngine();
  f = await startFederation(['a.example', 'b.example']);
  hub = f['a.example'];
  follower = f['b.example'];
  asB = await peerIdentity('b.example', follower.dataDir);
  [alice, carol, bob, dave] = await Promise.all([user(hub, 'alice'), user(hub, 'carol'), user(follower, 'bob'), user(follower, 'dave')]);

  coop = (await alice.createRoom('Coop')).roomUri;
  await alice.addMember(coop, 'bob@b.example');
  await alice.addMember(coop, 'carol');
  stage = (await alice.createRoom('Stage', 'moderated')).roomUri;
  await alice.addMember(stage, 'bob@b.example');
  await alice.addMember(stage, 'carol');
  await alice.setRole(stage, 'bob@b.example', 'guest');
  await alice.setRole(stage, 'carol', 'guest');
  await agree(coop, [alice, bob, carol]);
  await agree(stage, [alice, bob, carol]);
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of [hub, follower]) await p?.stop().catch(() => undefined);
  for (const l of Object.values(f?.links ?? {})) await l.close();
});

// ---- helpers ----

const roleOf = (p: Profile, room: string, u: string) => p.roomStateDocument(room).participants.find((x) => x.user === u)?.roleName;

/** Every member at the same epoch with the same encoded room state. */
async function agree(room: string, members: Profile[]): Promise<void> {
  const enc = (p: Profile) => JSON.stringify(p.roomStateDocument(room).encoded);
  await waitFor(
    () => members.every((m) => m.rooms().some((r) => r.roomUri === room) && m.roomView(room).epoch === members[0].roomView(room).epoch && enc(m) === enc(members[0])),
    `the same state of ${room} everywhere`,
    20_000,
  );
}

const hubDb = () => hub.dataDir;

/** The hub's abuse_reports rows for `room`, in order. */
const reports = (room: string): AbuseReportRow[] => withProviderDb(hubDb(), (db) => db.prepare('SELECT * FROM abuse_reports WHERE room_uri = ? ORDER BY id').all(room) as AbuseReportRow[]);
const allReports = (dataDir = hubDb()): number => withProviderDb(dataDir, (db) => (db.prepare('SELECT count(*) AS n FROM abuse_reports').get() as { n: number }).n);

/** A raw client-API report (the core's own check skipped), as the JSON answer whatever its status. */
const rawReport = (p: Profile, provider: FederatedProvider, room: string, body: unknown) =>
  clientCall({ url: provider.url, caPem: provider.caPem }, client(p).token!, 'POST', roomPath(room, '/reportAbuse'), body);

async function refused(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CoreError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

/** `fn` changes no row of the hub's (nor the follower's) abuse_reports. */
async function storesNothing<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const before = [allReports(), allReports(follower.dataDir)];
  const out = await fn();
  assert.deepEqual([allReports(), allReports(follower.dataDir)], before, `${what}: nothing stored`);
  return out;
}

/** The row as the columns and the decoded stored report say it, which must agree. */
function described(row: AbuseReportRow) {
  const r = decodeAbuseReport(new Uint8Array(row.report));
  assert.equal(r.reportingUser, row.reporter);
  assert.equal(r.allegedAbuserUri, row.alleged);
  assert.equal(r.note, row.note);
  assert.equal(r.reasonCode, row.reason);
  assert.equal(r.messages.length, row.messages);
  assert.ok(Math.abs(row.received_at - Date.now()) < 120_000, 'received_at is a recent time in ms');
  return { reporter: row.reporter, alleged: row.alleged, note: row.note, reason: row.reason, messages: row.messages, via: row.via_domain };
}

// ---- tests ----

test('a local and a remote participant report someone: the hub keeps both, the follower keeps nothing', async () => {
  const before = reports(coop).length;
  // carol (ordinary_user) is a user of the hub's own provider.
  await carol.reportAbuse(coop, 'bob@b.example', 'bob keeps posting links to a scam');
  // bob (ordinary_user) is a user of b.example, which forwards his report to a.example's /reportAbuse.
  await bob.reportAbuse(coop, 'carol@a.example', 'carol insults people — «ça suffit»');
  // alice (group_admin) too, by URI, with an empty note.
  await alice.reportAbuse(coop, D, '');
  const rows = reports(coop).slice(before);
  assert.deepEqual(rows.map(described), [
    { reporter: C, alleged: B, note: 'bob keeps posting links to a scam', reason: 0, messages: 0, via: null },
    { reporter: B, alleged: C, note: 'carol insults people — «ça suffit»', reason: 0, messages: 0, via: 'b.example' },
    { reporter: A, alleged: D, note: '', reason: 0, messages: 0, via: null },
  ]);
  assert.equal(allReports(follower.dataDir), 0, 'the follower only forwards');

  // The client API directly: a reasonCode is carried; the answer is 201 { accepted: true }.
  const local = await rawReport(carol, hub, coop, { user: B, note: 'with a reason', reasonCode: 5 });
  assert.deepEqual([local.status, local.body], [201, { accepted: true }]);
  const remote = await rawReport(bob, follower, coop, { user: A, reasonCode: 255 });
  assert.deepEqual([remote.status, remote.body], [201, { accepted: true }]);
  assert.deepEqual(reports(coop).slice(before + 3).map(described), [
    { reporter: C, alleged: B, note: 'with a reason', reason: 5, messages: 0, via: null },
    { reporter: B, alleged: A, note: '', reason: 255, messages: 0, via: 'b.example' },
  ]);
});

test('bad reports through the client API: refused by the core or the provider, nothing stored', async () => {
  await storesNothing('bad client reports', async () => {
    await refused(carol.reportAbuse(coop, 'carol', 'me'), 'invalidArgument', /yourself/);
    await refused(bob.reportAbuse(coop, 'bob@b.example', 'me'), 'invalidArgument', /yourself/);
    await refused(carol.reportAbuse(coop, 'bob@b.example', 'x'.repeat(4097)), 'invalidArgument', /too long/);
    await refused(bob.reportAbuse(coop, 'carol@a.example', 'é'.repeat(2049)), 'invalidArgument', /too long/);
    for (const [p, at] of [[carol, hub], [bob, follower]] as const) {
      for (const body of [{}, { user: 5 }, { user: C, note: 7 }, { user: C, reasonCode: 256 }, { user: C, reasonCode: -1 }, { user: C, reasonCode: 1.5 }, { user: C, reasonCode: '1' }]) {
        const r = await rawReport(p, at, coop, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)} at ${at.domain}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'badRequest');
      }
    }
    // Not a user URI, as the alleged abuser: the hub refuses it (directly, and when forwarded).
    for (const user of ['mallory', 'mimi://a.example/d/alice/laptop', 'https://a.example/u/alice']) {
      const r = await rawReport(carol, hub, coop, { user, note: '' });
      assert.equal(r.status, 400, `${user}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error!.message, /allegedAbuserUri .* is not a user URI/);
    }
    // A note over 4 KiB, bypassing the core.
    const long = await rawReport(carol, hub, coop, { user: B, note: 'x'.repeat(4097) });
    assert.equal(long.status, 400, JSON.stringify(long.body));
    assert.match(long.body.error!.message, /4096 bytes/);
    // Through the follower both are refused by the hub too, and bob gets the hub's 400.
    for (const bad of [{ user: C, note: 'x'.repeat(4097) }, { user: 'mallory', note: '' }]) {
      const r = await rawReport(bob, follower, coop, bad);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error!.code, 'badRequest');
      assert.match(r.body.error!.message, /a\.example refused the abuse report/);
    }
  });
});

test('a moderated room: a guest is refused by their own client and by the hub; an attendee may report', async () => {
  assert.equal(roleOf(bob, stage, B), 'guest');
  assert.equal(roleOf(carol, stage, C), 'guest');
  await storesNothing('guests', async () => {
    // Their clients refuse early, naming the capability.
    await refused(bob.reportAbuse(stage, 'alice@a.example', 'remote guest'), 'notAllowed', /canReportAbuse/);
    await refused(carol.reportAbuse(stage, 'alice@a.example', 'local guest'), 'notAllowed', /canReportAbuse/);
    // A client that skips that check: the hub refuses (for bob, through his provider).
    for (const [p, at] of [[bob, follower], [carol, hub]] as const) {
      const r = await rawReport(p, at, stage, { user: A, note: 'bypassing my client' });
      assert.equal(r.status, 403, `${at.domain}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'notAllowed');
      assert.match(r.body.error!.message, /canReportAbuse/);
    }
  });
  assert.deepEqual(reports(stage), []);

  // attendee (3) has canReportAbuse.
  await alice.setRole(stage, 'bob@b.example', 'attendee');
  await alice.setRole(stage, 'carol', 'attendee');
  await agree(stage, [alice, bob, carol]);
  assert.equal(roleOf(bob, stage, B), 'attendee');
  await bob.reportAbuse(stage, 'carol@a.example', 'now I may');
  await carol.reportAbuse(stage, 'bob@b.example', 'so may I');
  assert.deepEqual(reports(stage).map(described), [
    { reporter: B, alleged: C, note: 'now I may', reason: 0, messages: 0, via: 'b.example' },
    { reporter: C, alleged: B, note: 'so may I', reason: 0, messages: 0, via: null },
  ]);
  // Back to guest for the tests after this one.
  await alice.setRole(stage, 'bob@b.example', 'guest');
  await alice.setRole(stage, 'carol', 'guest');
  await agree(stage, [alice, bob, carol]);
});

test('a non-participant cannot report (notMember); a room the hub does not host is 404', async () => {
  await storesNothing('non-participants and unknown rooms', async () => {
    // dave@b is in no room; the room is not in his client at all.
    await refused(dave.reportAbuse(coop, 'alice@a.example', 'not mine'), 'roomUnknown', /Unknown room/);
    const alone = (await alice.createRoom('Alone')).roomUri;
    for (const [p, at] of [[dave, follower], [carol, hub]] as const) {
      for (const room of [coop, alone].slice(p === carol ? 1 : 0)) {
        const r = await rawReport(p, at, room, { user: A, note: 'who am I' });
        assert.equal(r.status, 403, `${at.domain} ${room}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error?.code, 'notMember');
      }
    }
    // Rooms that do not exist at the hub: asked at the hub's provider, and through the follower.
    const missing = 'mimi://a.example/r/no-such-room';
    for (const [p, at] of [[carol, hub], [bob, follower]] as const) {
      const r = await rawReport(p, at, missing, { user: A, note: '' });
      assert.equal(r.status, 404, `${at.domain}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'roomUnknown');
    }
    // A room URI of the follower's domain asked at a.example: forwarded to b.example, which hosts no such room.
    const atB = await rawReport(carol, hub, 'mimi://b.example/r/nothing-here', { user: A, note: '' });
    assert.equal(atB.status, 404, JSON.stringify(atB.body));
    assert.equal(atB.body.error?.code, 'roomUnknown');
    // Not a room URI at all.
    const notRoom = await rawReport(carol, hub, 'not a room', { user: A, note: '' });
    assert.equal(notRoom.status, 404, JSON.stringify(notRoom.body));
  });
});

test('hostile /reportAbuse bodies from a trusted peer: the right status, nothing stored', async () => {
  const target: Target = { domain: 'a.example', port: hub.port, caPem: hub.caPem };
  const post = (room: string, body: Uint8Array) => mimiPost(target, asB, 'reportAbuse', room, body);
  const body = (over: Partial<Fields<AbuseReport>> = {}) =>
    encodeAbuseReport({ reportingUser: B, allegedAbuserUri: C, reasonCode: 0, note: 'by hand', messages: [], abuseExtensions: [], ...over });
  const msg = (i: number): AbusiveMessage => ({
    messageContent: utf8(`abusive message ${i}`),
    frank: { serverFrank: new Uint8Array(32).fill(i), frankingSignatureCiphersuite: 1, frankingIntegritySignature: new Uint8Array(64).fill(i) },
    acceptedTimestamp: BigInt(Date.now() - i),
  });

  // Refusals first, each with nothing stored.
  await storesNothing('hostile bodies', async () => {
    const expect = async (what: string, room: string, b: Uint8Array, status: number, code: string, pattern?: RegExp) => {
      const r = await post(room, b);
      assert.equal(r.status, status, `${what}: ${r.body.toString()}`);
      const err = apiError(r);
      assert.equal(err.code, code, `${what}: ${err.message}`);
      if (pattern) assert.match(err.message, pattern, what);
    };
    const good = body();
    await expect('empty body', coop, new Uint8Array(0), 400, 'badRequest', /AbuseReport is malformed/);
    await expect('garbage', coop, utf8('{"user":"mimi://a.example/u/carol"}'), 400, 'badRequest', /AbuseReport is malformed/);
    for (const cut of [1, 5, good.length - 12, good.length - 2, good.length - 1]) {
      await expect(`cut at ${cut}/${good.length}`, coop, good.subarray(0, cut), 400, 'badRequest', /AbuseReport is malformed/);
    }
    await expect('a trailing byte', coop, concatBytes(good, Uint8Array.of(0)), 400, 'badRequest', /trailing/);
    await expect('a vector length beyond the body', coop, concatBytes(Uint8Array.of(0x7f, 0xff), good.subarray(2)), 400, 'badRequest', /AbuseReport is malformed/);
    const badNote = body({ note: 'ab' });
    const noteAt = badNote.length - 2 - 3;
    badNote[noteAt + 1] = 0xc3;
    badNote[noteAt + 2] = 0x28;
    await expect('a note that is not UTF-8', coop, badNote, 400, 'badRequest', /note/);
    // b.example may only report for its own users.
    await expect('a reporter of the hub\'s domain', coop, body({ reportingUser: C, allegedAbuserUri: B }), 403, 'notAllowed', /another provider/);
    await expect('a reporter of a third domain', coop, body({ reportingUser: 'mimi://c.example/u/eve' }), 403, 'notAllowed', /another provider/);
    await expect('a reporter that is a device URI', coop, body({ reportingUser: 'mimi://b.example/d/bob/laptop' }), 400, 'badRequest', /reportingUser .* is not a user URI/);
    await expect('an alleged abuser that is no URI', coop, body({ allegedAbuserUri: '' }), 400, 'badRequest', /allegedAbuserUri/);
    // Limits: a note of 4 KiB, at most 16 messages.
    await expect('a note over 4096 bytes', coop, body({ note: 'é'.repeat(2048) + 'x' }), 400, 'badRequest', /4096 bytes/);
    await expect('17 messages', coop, body({ messages: Array.from({ length: 17 }, (_, i) => msg(i)) }), 400, 'badRequest', /16 messages/);
    // Reported messages must prove themselves with the hub's frank (franking.test.ts has real ones).
    await expect('messages with made-up franks', coop, body({ messages: Array.from({ length: 16 }, (_, i) => msg(i)) }), 400, 'badRequest', /reported message 1 is not a mimi-content message/);
    // The policy, as for the client API.
    await expect('a user of b.example in no room', coop, body({ reportingUser: D }), 403, 'notMember');
    await expect('a guest of the moderated room', stage, body(), 403, 'notAllowed', /canReportAbuse/);
    // Rooms this hub does not host.
    await expect('an unknown room', 'mimi://a.example/r/no-such-room', good, 404, 'roomUnknown');
    await expect("a room of the peer's own domain", 'mimi://b.example/r/whatever', good, 404, 'roomUnknown');
    await expect('not a room URI', 'nonsense', good, 400, 'badRequest', /not a room URI/);
    // Even a malformed body for an unknown room: 404 before the body is looked at.
    await expect('garbage for an unknown room', 'mimi://a.example/r/no-such-room', utf8('garbage'), 404, 'roomUnknown');
  });

  // At the limits, the report is kept: 201 with an empty body, the bytes as received.
  const before = reports(coop).length;
  const atLimits = body({ note: 'é'.repeat(2048), reasonCode: 9, abuseExtensions: [{ componentId: 0xff00, data: Uint8Array.of(1) }] });
  const r = await post(coop, atLimits);
  assert.equal(r.status, 201, r.body.toString());
  assert.equal(r.body.length, 0, 'there is no response body');
  const rows = reports(coop).slice(before);
  assert.equal(rows.length, 1);
  assert.deepEqual(described(rows[0]), { reporter: B, alleged: C, note: 'é'.repeat(2048), reason: 9, messages: 0, via: 'b.example' });
  assert.deepEqual(new Uint8Array(rows[0].report), atLimits, 'the encoded report is kept as received');
  // The alleged abuser need not be a participant (nor of either domain).
  const outsider = await post(coop, body({ allegedAbuserUri: 'mimi://c.example/u/troll' }));
  assert.equal(outsider.status, 201, outsider.body.toString());
  assert.equal(reports(coop).at(-1)!.alleged, 'mimi://c.example/u/troll');
});

test('a banned user (on the list in role 1) cannot report', async () => {
  await alice.ban(coop, 'bob@b.example'); // bob was an active ordinary_user
  await alice.ban(coop, 'dave@b.example'); // a pre-emptive ban: dave was never in the room
  await agree(coop, [alice, carol]);
  assert.equal(roleOf(alice, coop, B), 'banned');
  assert.equal(roleOf(alice, coop, D), 'banned');
  await storesNothing('banned reporters', async () => {
    for (const p of [bob, dave]) {
      const r = await rawReport(p, follower, coop, { user: A, note: 'let me back in' });
      assert.equal(r.status, 403, JSON.stringify(r.body));
      // The hub keeps no banned user among its room's participants.
      assert.equal(r.body.error?.code, 'notMember', JSON.stringify(r.body));
    }
    await waitFor(() => bob.roomView(coop).members.length === 0, 'bob to learn of the ban');
    // bob's client holds the state from before the commit that removed him, so the hub refuses.
    await refused(bob.reportAbuse(coop, 'alice@a.example', 'banned'), 'notMember', /not a member/);
  });
});

test('mimi report: exit 0 when the role allows it, 1 naming canReportAbuse when not', async () => {
  const gina = path.join(tempDir('ar-cli-gina'), 'p');
  const as = (...args: string[]) => mimi(['--profile', gina, ...args]);
  const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  ok(await mimi(['--profile', gina, 'register', '--provider', follower.url, '--ca', follower.caFile, '--handle', 'gina', '--password', 'correct horse']), 'register gina');
  await alice.addMember(stage, 'gina@b.example');
  await alice.setRole(stage, 'gina@b.example', 'guest');
  const ginaRole = async () => {
    const r = await as('room-state', stage);
    return r.code === 0 ? (JSON.parse(r.stdout) as { participants: { user: string; roleName: string }[] }).participants.find((p) => p.user === G)?.roleName : undefined;
  };
  await waitFor(async () => (await ginaRole()) === 'guest', "gina's client to see her as guest", 30_000);

  const denied = await storesNothing('a guest on the command line', () => as('report', stage, 'alice@a.example', '--note', 'from the back row'));
  assert.equal(denied.code, 1, denied.stderr);
  assert.match(denied.stderr, /canReportAbuse/);
  assert.equal(denied.stdout, '');

  await alice.setRole(stage, 'gina@b.example', 'attendee');
  await waitFor(async () => (await ginaRole()) === 'attendee', "gina's client to see her as attendee", 30_000);
  const before = reports(stage).length;
  // The room by its shared name, as `mimi rooms` shows it (gina joined it by Welcome).
  const allowed = await as('report', 'Stage', 'alice@a.example', '--note', 'from the back row');
  ok(allowed, 'report as attendee');
  assert.equal(allowed.stdout, '');
  assert.deepEqual(reports(stage).slice(before).map(described), [{ reporter: G, alleged: A, note: 'from the back row', reason: 0, messages: 0, via: 'b.example' }]);

  // A message, reported with its frank: `tail --ids` gives its id, the hub verifies the frank.
  await alice.send(stage, 'buy followers cheap');
  const tailed = await as('tail', stage, '--count', '1', '--timeout', '20', '--ids');
  ok(tailed, 'tail --ids');
  const [id, sender, text] = tailed.stdout.trim().split('\t');
  assert.deepEqual([id.length, sender, text], [64, 'alice@a.example', 'buy followers cheap']);
  const withMessage = await as('report', stage, '--message', id, '--reason', 'spam', '--note', 'ads');
  ok(withMessage, 'report --message');
  assert.deepEqual(reports(stage).slice(-1).map(described), [{ reporter: G, alleged: A, note: 'ads', reason: 0xf1, messages: 1, via: 'b.example' }]);
  const badReason = await as('report', stage, '--message', id, '--reason', 'boredom');
  assert.equal(badReason.code, 2, badReason.stderr);
  assert.match(badReason.stderr, /--reason must be one of spam, harassment/);

  const usage = await as('report', stage);
  assert.equal(usage.code, 2, usage.stderr);
});
