// Pseudonyms across two real provider processes, through the `mimi` command: the pool, the
// connection flow (accept and decline), a minimal-metadata room whose members verify each other's
// identity (one of them joining later), and what the providers keep: their database files and logs
// are scanned for the real identities the flows must not reveal to them.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { mimi, register } from '../helpers/mimi-cli.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';
import { providerStorageBytes, withProviderDb } from '../helpers/provider-db.js';

let A: FederatedProvider;
let B: FederatedProvider;
const links: Link[] = [];
const alice = path.join(tempDir('ps-alice'), 'p');
const bob = path.join(tempDir('ps-bob'), 'p');
const carol = path.join(tempDir('ps-carol'), 'p');
// The bootstrap room goes 1-2 s after the answer (the app's default is 1-10 minutes).
const env = { MIMI_BOOTSTRAP_DESTROY_DELAY_MS: '1000-2000' };
const run = (profile: string, ...args: string[]) => mimi(['--profile', profile, ...args], env);

interface Pool {
  pseudonyms: { userPseudonym: string; clientPseudonym: string; state: string; rooms: { roomUri: string }[] }[];
  unused: number;
  threshold: number;
}
interface Connections {
  incoming: { id: string; peer: string; verified: boolean; state: string; problem?: string; roomUri?: string }[];
  outgoing: { id: string; peer: string; state: string; roomUri?: string }[];
}
interface RoomState {
  participants: { user: string; identity?: { user?: string; verified: boolean; problem?: string } }[];
}

const json = async <T>(profile: string, ...args: string[]): Promise<T> => {
  const r = await run(profile, ...args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

before(async () => {
  const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  A = f['a.example'];
  B = f['b.example'];
  links.push(f.links['a.example'], f.links['b.example']);
  for (const [dir, p, handle] of [[alice, A, 'alice'], [bob, B, 'bob'], [carol, B, 'carol']] as const) {
    const r = await register(dir, p, handle);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await A?.stop();
  await B?.stop();
  for (const l of links) await l.close();
});

test('the pool: mimi pseudonyms fills it, --refill adds, --retire retires', async () => {
  const pool = await json<Pool>(alice, 'pseudonyms');
  assert.ok(pool.unused >= pool.threshold, `filled to the threshold (${pool.unused})`);
  for (const p of pool.pseudonyms) assert.match(p.userPseudonym, /^mimi:\/\/a\.example\/p\/[A-Za-z0-9_-]{22}$/);
  const more = await json<Pool>(alice, 'pseudonyms', '--refill', '2');
  assert.equal(more.pseudonyms.length, pool.pseudonyms.length + 2);
  const victim = more.pseudonyms[more.pseudonyms.length - 1].userPseudonym;
  const retired = await json<Pool>(alice, 'pseudonyms', '--retire', victim);
  assert.equal(retired.pseudonyms.find((p) => p.userPseudonym === victim)?.state, 'retired');
  const bad = await run(alice, 'pseudonyms', '--retire', 'mimi://a.example/p/not-mine');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not one of this account's pseudonyms/);
});

let connectionRoom = '';

test('connection flow: alice asks, bob sees her verified identity and accepts; they talk in a room of two pseudonyms', async () => {
  const asked = await run(alice, 'connect', 'bob@b.example');
  assert.equal(asked.code, 0, asked.stderr);
  const id = asked.stdout.trim();
  assert.match(id, /^mimi:\/\/a\.example\/r\//);
  let incoming: Connections['incoming'][number] | undefined;
  await waitFor(async () => {
    incoming = (await json<Connections>(bob, 'connections')).incoming.find((c) => c.id === id);
    return incoming !== undefined;
  }, 'the request at bob', 30000);
  assert.equal(incoming!.peer, 'mimi://a.example/u/alice');
  assert.equal(incoming!.verified, true, incoming!.problem);
  assert.equal(incoming!.state, 'pending');
  // The bootstrap room is plumbing: not in bob's room list.
  assert.doesNotMatch((await run(bob, 'rooms')).stdout, new RegExp(id.replace(/[/.]/g, '\\$&')));

  const accepted = await json<Connections>(bob, 'accept', id);
  const mine = accepted.incoming.find((c) => c.id === id)!;
  assert.equal(mine.state, 'accepted');
  connectionRoom = mine.roomUri!;
  assert.match(connectionRoom, /^mimi:\/\/b\.example\/r\//);
  await waitFor(async () => (await json<Connections>(alice, 'connections')).outgoing.find((c) => c.id === id)?.state === 'accepted', 'alice sees the answer', 30000);

  assert.equal((await run(bob, 'send', connectionRoom, 'hi alice')).code, 0);
  const got = await run(alice, 'tail', connectionRoom, '--count', '1', '--timeout', '20');
  assert.equal(got.code, 0, got.stderr);
  // Senders are pseudonyms in this room.
  assert.match(got.stdout, /^mimi:\/\/b\.example\/p\/\S+\thi alice\n$/);
  assert.equal((await run(alice, 'send', connectionRoom, 'hi bob')).code, 0);
  const back = await run(bob, 'tail', connectionRoom, '--count', '2', '--timeout', '20');
  assert.match(back.stdout, /\thi alice\n.*\thi bob\n$/);

  // Each verifies the other's real identity from the room alone.
  await waitFor(async () => {
    const seen = await json<RoomState>(bob, 'room-state', connectionRoom);
    return seen.participants.every((p) => p.identity?.verified);
  }, "bob verifies alice's identity link", 30000);
  const bobView = await json<RoomState>(bob, 'room-state', connectionRoom);
  assert.deepEqual(bobView.participants.map((p) => p.identity?.user).sort(), ['mimi://a.example/u/alice', 'mimi://b.example/u/bob']);
  for (const p of bobView.participants) assert.match(p.user, /^mimi:\/\/[ab]\.example\/p\//);
  const aliceView = await json<RoomState>(alice, 'room-state', connectionRoom);
  assert.deepEqual(aliceView.participants.map((p) => p.identity?.user).sort(), ['mimi://a.example/u/alice', 'mimi://b.example/u/bob']);

  // The bootstrap room is gone from its hub after the delay.
  await waitFor(async () => {
    await run(alice, 'connections'); // any command runs what is due
    return withProviderDb(A.dataDir, (db) => db.prepare('SELECT count(*) AS n FROM rooms WHERE room_uri = ?').get(id) as { n: number }).n === 0;
  }, 'the bootstrap room destroyed at a.example', 30000);
});

test('a declined request: nothing connects, and the bootstrap room goes too', async () => {
  const asked = await run(alice, 'connect', 'carol@b.example');
  assert.equal(asked.code, 0, asked.stderr);
  const id = asked.stdout.trim();
  await waitFor(async () => (await json<Connections>(carol, 'connections')).incoming.some((c) => c.id === id), 'the request at carol', 30000);
  const declined = await json<Connections>(carol, 'decline', id);
  assert.equal(declined.incoming.find((c) => c.id === id)?.state, 'declined');
  const again = await run(carol, 'accept', id);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /declined already/);
  await waitFor(async () => (await json<Connections>(alice, 'connections')).outgoing.find((c) => c.id === id)?.state === 'declined', 'alice sees the refusal', 30000);
  await waitFor(async () => {
    await run(alice, 'connections');
    return withProviderDb(A.dataDir, (db) => db.prepare('SELECT count(*) AS n FROM rooms WHERE room_uri = ?').get(id) as { n: number }).n === 0;
  }, 'the declined bootstrap room destroyed', 30000);
});

test('a minimal-metadata room across both providers; a member added later verifies everyone and is verified', async () => {
  const room = (await run(alice, 'create-room', 'quiet', '--minimal-metadata')).stdout.trim();
  assert.match(room, /^mimi:\/\/a\.example\/r\//);
  const carolPool = await json<Pool>(carol, 'pseudonyms');
  const carolPseudonym = carolPool.pseudonyms.find((p) => p.state === 'unused')!.userPseudonym;
  const add = await run(alice, 'add', room, carolPseudonym);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await run(alice, 'send', room, 'first')).code, 0);
  const seen = await run(carol, 'tail', room, '--count', '1', '--timeout', '20');
  assert.match(seen.stdout, /\tfirst\n$/);
  // Bob, added later, by a pseudonym of his.
  const bobPseudonym = (await json<Pool>(bob, 'pseudonyms')).pseudonyms.find((p) => p.state === 'unused')!.userPseudonym;
  assert.equal((await run(alice, 'add', room, bobPseudonym)).code, 0);
  await waitFor(async () => {
    const views = await Promise.all([alice, bob, carol].map((who) => json<RoomState>(who, 'room-state', room)));
    return views.every((v) => v.participants.length === 3 && v.participants.every((p) => p.identity?.verified));
  }, 'every member verifies every other', 45000);
  const v = await json<RoomState>(bob, 'room-state', room);
  assert.deepEqual(v.participants.map((p) => p.identity?.user).sort(), ['mimi://a.example/u/alice', 'mimi://b.example/u/bob', 'mimi://b.example/u/carol']);
  // A real user cannot be added to it: every member is a pseudonym there.
  const real = await run(alice, 'add', room, 'bob@b.example');
  assert.equal(real.code, 1);
});

test('privacy, from the providers: the pseudonymous rooms name no real user or device; b.example never sees alice in clear', async () => {
  const realA = ['mimi://a.example/u/alice', 'mimi://a.example/d/alice/'];
  const realB = ['mimi://b.example/u/bob', 'mimi://b.example/d/bob/', 'mimi://b.example/u/carol', 'mimi://b.example/d/carol/'];
  for (const p of [A, B]) {
    const bytes = providerStorageBytes(p.dataDir).toString('latin1') + '\n' + p.output();
    if (p === B) for (const s of realA) assert.ok(!bytes.includes(s), `b.example's files and log mention ${s}`);
    // Rows of the connection room (hosted at b.example) name only pseudonyms, at both providers.
    withProviderDb(p.dataDir, (db) => {
      const rows = JSON.stringify([
        db.prepare('SELECT * FROM room_devices WHERE room_uri = ?').all(connectionRoom),
        db.prepare('SELECT * FROM room_participants WHERE room_uri = ?').all(connectionRoom),
        db.prepare('SELECT room_uri, sender_device, kind FROM events WHERE room_uri = ?').all(connectionRoom),
      ]);
      for (const s of [...realA, ...realB]) assert.ok(!rows.includes(s), `${p.domain} keeps ${s} for the connection room: ${rows}`);
    });
  }
});
