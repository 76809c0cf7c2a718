// Timeline events and direct chats across two real provider processes (a.example hosts the rooms,
// b.example follows): alice@a, carol@a, bob@b and dave@b. Every change a commit makes to the room
// (adds, kicks, joins, role changes, renames, bans by a member and by the room's provider, unbans,
// leaves, a new device) shows as the same events, in the same order among the messages, for every
// member on either provider; events are sealed in the profile database, never unread and never
// reportable. A direct chat made across providers shows each side as the other person, and opening
// it again (from either side) reuses it.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { CoreError, type MessageView } from '../../src-shared/contract.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { testProfile } from '../helpers/profiles.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';

let engine: MlsEngine;
let f: Awaited<ReturnType<typeof startFederation>>;
let hub: FederatedProvider;
let follower: FederatedProvider;
const profiles: Profile[] = [];
let alice: Profile, carol: Profile, bob: Profile, dave: Profile;
const A = 'mimi://a.example/u/alice';
const B = 'mimi://b.example/u/bob';
const C = 'mimi://a.example/u/carol';

function user(provider: FederatedProvider, handle: string, o: { how?: 'login'; dir?: string } = {}): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'tev', ...o, onError: (m) => process.env.TEV_DEBUG && console.error(handle, m) });
}

before(async () => {
  engine = await createMlsEngine();
  f = await startFederation(['a.example', 'b.example']);
  hub = f['a.example'];
  follower = f['b.example'];
  [alice, carol, bob, dave] = await Promise.all([user(hub, 'alice'), user(hub, 'carol'), user(follower, 'bob'), user(follower, 'dave')]);
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of [hub, follower]) await p?.stop().catch(() => undefined);
  for (const l of Object.values(f?.links ?? {})) await l.close();
});

/** The whole timeline, oldest first. */
const timeline = (p: Profile, room: string): MessageView[] => p.timeline(room, null, 500).reverse();
const eventTexts = (p: Profile, room: string) => timeline(p, room).filter((m) => m.event).map((m) => m.text);
/** What a member's timeline shows, as ids, to compare order across members. */
const order = (p: Profile, room: string) => timeline(p, room).map((m) => `${m.event ? 'event' : 'message'} ${m.messageId} ${m.text}`);

async function hasEvent(p: Profile, room: string, text: string, who: string): Promise<void> {
  await waitFor(() => p.rooms().some((r) => r.roomUri === room) && eventTexts(p, room).includes(text), `${who} sees "${text}"`, 30_000);
}

function adminBan(reportId: number): Promise<number> {
  const token = fs.readFileSync(path.join(hub.dataDir, 'admin-token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${hub.url}/admin/api/reports/${reportId}/ban`,
      { method: 'POST', ca: hub.caPem, agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': '2' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

test('every change a commit makes shows as the same events, in the same order, for every member on both providers', async () => {
  const room = (await alice.createRoom('Lunch')).roomUri;
  await alice.addMember(room, 'bob@b.example');
  await alice.addMember(room, 'carol');
  await hasEvent(bob, room, 'alice@a.example added carol@a.example', 'bob');
  await alice.send(room, 'hello both');
  await waitFor(() => bob.page(room, null, 5).some((m) => m.text === 'hello both'), 'bob reads it', 20_000);

  await alice.setRoomMetadata(room, { name: 'Dinner', subject: 'Tacos?' });
  await alice.setRole(room, 'bob@b.example', 'group_admin');
  await alice.kick(room, 'carol');
  await hasEvent(carol, room, 'alice@a.example kicked carol@a.example', 'carol, removed');
  await carol.joinRoom(room);
  await hasEvent(bob, room, 'carol@a.example joined again', 'bob');
  // bob (of the follower) bans and unbans; alice adds carol back.
  await bob.ban(room, 'carol@a.example');
  await hasEvent(alice, room, 'bob@b.example banned carol@a.example', 'alice');
  await bob.unban(room, 'carol@a.example');
  await hasEvent(alice, room, 'bob@b.example unbanned carol@a.example', 'alice');
  await alice.addMember(room, 'carol');
  await hasEvent(bob, room, 'alice@a.example added carol@a.example', 'bob');
  await waitFor(() => carol.roomView(room).members.includes(C), 'carol back in', 20_000);

  // The room's provider bans carol (from the operator's queue): the hub's proposal, committed by a member.
  await alice.reportAbuse(room, 'carol', 'timeline test');
  const reportId = withProviderDb(hub.dataDir, (db) => (db.prepare('SELECT id FROM abuse_reports WHERE note = ? ORDER BY id DESC').get('timeline test') as { id: number }).id);
  assert.equal(await adminBan(reportId), 200);
  await hasEvent(bob, room, "carol@a.example was banned by the room's provider", 'bob');
  await hasEvent(alice, room, "carol@a.example was banned by the room's provider", 'alice');

  // dave comes and goes; bob signs in on a second device (it joins by external commit).
  await alice.addMember(room, 'dave@b.example');
  await waitFor(() => dave.rooms().some((r) => r.roomUri === room), 'dave has the room', 20_000);
  await dave.leaveRoom(room);
  await hasEvent(alice, room, 'dave@b.example left', 'alice');
  const bob2 = await user(follower, 'bob', { how: 'login', dir: path.join(tempDir('tev-bob2'), 'profile') });
  await waitFor(() => bob2.rooms().some((r) => r.roomUri === room), "bob's second device joins", 30_000);
  await hasEvent(alice, room, 'bob@b.example added a new device', 'alice');
  await alice.send(room, 'that was a lot');

  const expected = [
    'alice@a.example added bob@b.example',
    'alice@a.example added carol@a.example',
    'alice@a.example renamed the room to “Dinner”',
    'alice@a.example set the subject to “Tacos?”',
    'alice@a.example changed bob@b.example’s role from Member to Admin',
    'alice@a.example kicked carol@a.example',
    'carol@a.example joined again',
    'bob@b.example banned carol@a.example',
    'bob@b.example unbanned carol@a.example',
    'alice@a.example added carol@a.example',
    "carol@a.example was banned by the room's provider",
    'alice@a.example added dave@b.example',
    'dave@b.example left',
    'bob@b.example added a new device',
  ];
  // bob came in by the Welcome of the first commit, so his timeline starts after it; from there on
  // both hold the same items in the same order (event ids and messages alike).
  await waitFor(() => bob.page(room, null, 5).some((m) => m.text === 'that was a lot') && order(bob, room).join('\n') === order(alice, room).slice(1).join('\n'), 'alice and bob agree on the timeline', 30_000).catch((e) => {
    console.error(order(alice, room).join('\n'), '\n----\n', order(bob, room).join('\n'));
    throw e;
  });
  assert.deepEqual(eventTexts(alice, room), expected);
  // Messages sit where they were sent, among the events.
  const both = timeline(alice, room).map((m) => m.text);
  assert.ok(both.indexOf('hello both') === both.indexOf('alice@a.example added carol@a.example') + 1, both.join(' | '));
  assert.equal(both[both.length - 1], 'that was a lot');
  // carol, on the hub's provider, saw what happened while she was in (her own kick included).
  // carol (hub's provider) saw, in the same order, what happened while she was in: her own kick and
  // both bans included (her joins came by her own external commit and by Welcomes).
  const atCarol = eventTexts(carol, room);
  assert.deepEqual(atCarol, expected.filter((t) => atCarol.includes(t)));
  for (const t of ['alice@a.example kicked carol@a.example', 'bob@b.example banned carol@a.example', "carol@a.example was banned by the room's provider"]) assert.ok(atCarol.includes(t), `carol sees "${t}": ${atCarol.join(' | ')}`);

  // Events are not messages: nothing unread for them, nothing in the message pages, not reportable.
  assert.equal(bob.page(room, null, 100).length, 2);
  assert.ok(bob.roomView(room).unread <= 2, `bob's unread ${bob.roomView(room).unread} counts messages only`);
  const ev = timeline(alice, room).find((m) => m.event)!;
  assert.equal(ev.sender, '');
  await assert.rejects(bob.reportMessages(room, [ev.messageId], 0, ''), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');
  // The room preview is the last message, never an event.
  assert.equal(bob.roomView(room).lastMessage?.text, 'that was a lot');

  // Sealed: the profile database holds no name or text of an event in the clear.
  const file = path.join(alice.dir, 'mimi.db');
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT event_id, content FROM timeline_events WHERE room_uri = ?').all(room) as { event_id: string; content: Buffer }[];
    assert.equal(rows.length, expected.length);
    for (const r of rows) assert.doesNotMatch(Buffer.from(r.content).toString('latin1'), /carol|bob|dave|Dinner|Tacos|added/);
  } finally {
    db.close();
  }
});

test('a direct chat across providers shows each side as the other person, and opening it again reuses it', async () => {
  const opened = await alice.openDirect('bob@b.example');
  assert.equal(opened.direct, B);
  assert.equal(opened.name, 'bob@b.example');
  assert.deepEqual([...opened.members].sort(), [A, B].sort());
  await waitFor(() => bob.rooms().some((r) => r.roomUri === opened.roomUri), 'bob has the chat', 20_000);
  const atBob = bob.roomView(opened.roomUri);
  assert.equal(atBob.direct, A);
  assert.equal(atBob.name, 'alice@a.example');
  // Again, from either side: the same room, no new one.
  const before = alice.rooms().length;
  assert.equal((await alice.openDirect('mimi://b.example/u/bob')).roomUri, opened.roomUri);
  assert.equal((await bob.openDirect('alice@a.example')).roomUri, opened.roomUri);
  assert.equal(alice.rooms().length, before);
  // A named room with the same two people is no direct chat.
  const named = (await alice.createRoom('Just us')).roomUri;
  await alice.addMember(named, 'bob@b.example');
  assert.equal(alice.roomView(named).direct, undefined);
  assert.equal((await alice.openDirect('bob@b.example')).roomUri, opened.roomUri);
  // Bad input: a clear error, nothing made.
  await assert.rejects(alice.openDirect('alice'), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument' && /That is you/.test(e.message));
  await assert.rejects(alice.openDirect('not an address!'), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');
  assert.equal(alice.rooms().length, before + 1);
  // Messages flow, and the chat's own events read as usual.
  await alice.send(opened.roomUri, 'just you and me');
  await waitFor(() => bob.page(opened.roomUri, null, 5).some((m) => m.text === 'just you and me'), 'bob reads the direct message', 20_000);
  // bob came in by the Welcome of that commit, so the event is alice's (and any later member's) only.
  assert.deepEqual(eventTexts(alice, opened.roomUri), ['alice@a.example added bob@b.example']);
});

test('consent still applies: a direct chat with someone who has not consented is refused with nothing left, and works once they do', async () => {
  const g = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  try {
    const [ann, ben] = await Promise.all([user(g['a.example'], 'ann'), user(g['b.example'], 'ben')]);
    const before = ann.rooms().length;
    await assert.rejects(ann.openDirect('ben@b.example'), (e: unknown) => e instanceof CoreError && e.code === 'noConsent' && /consent request ben@b\.example/.test(e.message));
    assert.equal(ann.rooms().length, before, 'a refused attempt leaves no room on the list');
    await ann.requestConsent('ben@b.example');
    await ben.grantConsent('ann@a.example');
    const dm = await ann.openDirect('ben@b.example');
    assert.equal(dm.direct, 'mimi://b.example/u/ben');
    assert.equal(ann.rooms().length, before + 1);
    await waitFor(() => ben.rooms().some((r) => r.roomUri === dm.roomUri && r.direct === 'mimi://a.example/u/ann'), 'ben has the chat, named after ann', 20_000);
  } finally {
    for (const d of ['a.example', 'b.example']) await g[d].stop().catch(() => undefined);
    for (const l of Object.values(g.links)) await l.close();
  }
});
