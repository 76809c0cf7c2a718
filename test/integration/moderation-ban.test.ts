// The operator bans from the moderation queue (src-provider/hub/bans.ts): two real provider
// processes, a.example hosting a cooperative room with alice and carol (a.example) and bob and dave
// (b.example, a follower). A ban is the hub's room state proposal (the user in the banned role) and
// Removes of their members, signed as the room's external sender and committed by a member; every
// member checks it as the hub's policy_enforcer change. Tested: a banned member of the other
// provider leaves everyone's view and is banned on every member's list and at the hub; nobody can
// add them back; a user who already left is banned too (the state proposal alone); a ban the room
// policy does not allow (the last admin) or a second one is refused, changing nothing; each action
// is logged, through the API and `provider-admin ban`.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { CoreError } from '../../src-shared/contract.js';
import { decodeRoomStateExtension } from '../../src-shared/room-state.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { testProfile } from '../helpers/profiles.js';
import { adminDataArgs, providerAdmin as cli, waitFor } from '../helpers/provider-process.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';

let engine: MlsEngine;
let f: Awaited<ReturnType<typeof startFederation>>;
let hub: FederatedProvider;
let follower: FederatedProvider;
let token: string;
const profiles: Profile[] = [];
let alice: Profile, carol: Profile, bob: Profile, dave: Profile;
let room: string;

const A = 'mimi://a.example/u/alice';
const B = 'mimi://b.example/u/bob';
const D = 'mimi://b.example/u/dave';

/** What each profile reported as errors (a removed device fed the room's later traffic would say so). */
const errors = new Map<string, string[]>();
function user(provider: FederatedProvider, handle: string): Promise<Profile> {
  errors.set(handle, []);
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'ban', onError: (m) => errors.get(handle)!.push(m) });
}
const followerRows = (table: 'room_devices' | 'room_participants') =>
  withProviderDb(follower.dataDir, (db) => db.prepare(`SELECT ${table === 'room_devices' ? 'device_uri' : 'user_uri'} AS who FROM ${table} WHERE room_uri = ?`).all(room).map((r) => (r as { who: string }).who));

function post(p: string, origin?: string): Promise<{ status: number; json: Record<string, any> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${hub.url}/admin/api/${p}`,
      { method: 'POST', ca: hub.caPem, agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '2', ...(origin ? { origin } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') }));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

const hubDb = () => hub.dataDir;
const roleAt = (p: Profile, u: string) => p.roomStateDocument(room).participants.find((x) => x.user === u)?.roleName;
const membersAt = (p: Profile) => p.roomView(room).members;
/** The room state the hub holds now: who is in which role. */
const hubRoles = () =>
  withProviderDb(hubDb(), (db) => {
    const row = db.prepare('SELECT room_state FROM rooms WHERE room_uri = ?').get(room) as { room_state: Buffer };
    return new Map(decodeRoomStateExtension(new Uint8Array(row.room_state)).participants.map((p) => [p.user, p.roleIndex] as const));
  });
const hubPending = () => withProviderDb(hubDb(), (db) => ({
  bans: (db.prepare('SELECT count(*) AS n FROM pending_bans').get() as { n: number }).n,
  proposals: (db.prepare('SELECT count(*) AS n FROM hub_state_proposals').get() as { n: number }).n,
}));
const actions = (id: number) => withProviderDb(hubDb(), (db) => db.prepare('SELECT who, via, action, target, detail FROM admin_actions WHERE report_id = ? ORDER BY id').all(id)) as { who: string; via: string; action: string; target: string; detail: string }[];

async function reportId(p: Profile, about: string, note: string): Promise<number> {
  await p.reportAbuse(room, about, note);
  return withProviderDb(hubDb(), (db) => (db.prepare('SELECT id FROM abuse_reports WHERE note = ? ORDER BY id DESC').get(note) as { id: number }).id);
}

before(async () => {
  engine = await createMlsEngine();
  f = await startFederation(['a.example', 'b.example']);
  hub = f['a.example'];
  follower = f['b.example'];
  token = fs.readFileSync(path.join(hub.dataDir, 'admin-token'), 'utf8').trim();
  [alice, carol, bob, dave] = await Promise.all([user(hub, 'alice'), user(hub, 'carol'), user(follower, 'bob'), user(follower, 'dave')]);
  room = (await alice.createRoom('Coop')).roomUri;
  for (const u of ['carol', 'bob@b.example', 'dave@b.example']) await alice.addMember(room, u);
  await waitFor(() => [alice, carol, bob, dave].every((p) => p.rooms().some((r) => r.roomUri === room) && membersAt(p).length === 4), 'everyone in the room', 30_000);
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of [hub, follower]) await p?.stop().catch(() => undefined);
  for (const l of Object.values(f?.links ?? {})) await l.close();
});

test("ban through the admin API: bob (another provider's user) is removed and banned on every list and at the hub", async () => {
  const id = await reportId(carol, 'bob@b.example', 'bob sends threats');
  const r = await post(`reports/${id}/ban`, hub.url);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.report.state, 'actioned');
  assert.equal(r.json.proposed.length, 1);
  assert.match(r.json.proposed[0], /^mimi:\/\/b\.example\/d\/bob\//);
  await waitFor(() => [alice, carol, dave].every((p) => !membersAt(p).includes(B) && membersAt(p).length === 3 && roleAt(p, B) === 'banned'), 'bob removed and banned in every view', 30_000);
  await waitFor(() => hubRoles().get(B) === 1, 'the hub to hold bob in role 1', 15_000);
  await waitFor(() => hubPending().bans === 0 && hubPending().proposals === 0, "the hub's pending ban and proposal to be done", 15_000);
  // bob's own client learnt it was removed.
  await waitFor(() => !bob.rooms().some((x) => x.roomUri === room && x.members.includes(B)), "bob's client to see the removal", 15_000);
  const detail = r.json.report;
  assert.deepEqual(actions(id).map((a) => [a.who, a.via, a.action, a.target]), [['admin', 'api', 'ban', B]]);
  assert.match(actions(id)[0].detail, /proposed the ban and the removal of mimi:\/\/b\.example\/d\/bob\//);
  assert.equal(detail.room.ban, 'pending');
  assert.match(hub.output(), new RegExp(`admin: report ${id}: proposed banning ${B} from ${room.replace(/[.]/g, '\\.')} and removing mimi://b\\.example/d/bob/`));

  // Nobody can add bob back, and a second ban is refused without a second action.
  await assert.rejects(alice.addMember(room, 'bob@b.example'), (e: unknown) => e instanceof CoreError && /banned/i.test(e.message));
  const again = await post(`reports/${id}/ban`);
  assert.equal(again.status, 409);
  assert.match(again.json.error.message, /already banned/);
  assert.equal(actions(id).length, 1);
  // The room goes on; the follower delivers nothing more to bob's device (it saw the commit remove
  // its leaf), so bob's client is not fed traffic it cannot read.
  await waitFor(() => !followerRows('room_devices').some((d) => d.startsWith('mimi://b.example/d/bob/')), "the follower to drop bob's device from the room", 15_000);
  assert.deepEqual(followerRows('room_participants'), [D]);
  await alice.send(room, 'after the ban');
  await waitFor(() => dave.roomView(room).lastMessage?.text === 'after the ban' && carol.roomView(room).lastMessage?.text === 'after the ban', 'the others to get a message after the ban');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(errors.get('bob'), [], 'bob was sent nothing after his removal');
});

test('provider-admin ban: a user who already left is banned by the state proposal alone', async () => {
  const id = await reportId(alice, 'dave@b.example', 'dave spams');
  await dave.leaveRoom(room);
  await waitFor(() => [alice, carol].every((p) => !membersAt(p).includes(D) && roleAt(p, D) === undefined), 'dave gone from the list', 30_000);
  // dave left by his own Remove proposal, committed by alice or carol: the follower noticed too.
  await waitFor(() => followerRows('room_devices').length === 0 && followerRows('room_participants').length === 0, 'the follower to drop dave', 15_000);
  const r = await cli(['--data', hub.dataDir, 'ban', String(id)]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`report #${id}: the hub proposed banning ${D}; the room's members commit it`));
  await waitFor(() => [alice, carol].every((p) => roleAt(p, D) === 'banned'), 'dave banned on every list', 30_000);
  await waitFor(() => hubRoles().get(D) === 1 && hubPending().bans === 0, 'the hub to hold dave banned', 15_000);
  // The command line asks the running provider's admin API, so the log says 'api'.
  assert.deepEqual(actions(id).map((a) => [a.via, a.action, a.target, a.detail]), [['api', 'ban', D, 'proposed the ban (no members in the room)']]);
  // show reads the database: in the PostgreSQL pass the provider's, named as its operator would.
  const show = await cli([...adminDataArgs(hub.dataDir), 'show', String(id)]);
  assert.match(show.stdout, /; banned/);
  await assert.rejects(alice.addMember(room, 'dave@b.example'), (e: unknown) => e instanceof CoreError && /banned/i.test(e.message));
  assert.deepEqual(errors.get('dave'), []);
});

test('a ban the room policy does not allow (the last group_admin) is refused and changes nothing', async () => {
  const id = await reportId(carol, 'alice', 'alice is mean');
  const before = hubRoles();
  const r = await post(`reports/${id}/ban`);
  assert.equal(r.status, 409);
  assert.match(r.json.error.message, /does not let the provider ban .*alice.*at least 1/);
  assert.deepEqual(hubRoles(), before);
  assert.deepEqual(hubPending(), { bans: 0, proposals: 0 });
  assert.equal(actions(id).length, 0);
  const report = withProviderDb(hubDb(), (db) => db.prepare('SELECT state FROM admin_report_states WHERE report_id = ?').get(id));
  assert.equal(report, undefined, 'the report is still open');
  assert.equal(roleAt(alice, A), 'group_admin');
});
