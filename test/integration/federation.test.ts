// Rooms that span providers, end to end: real provider processes (own domain, CA, TLS identity,
// SQLite) federating over mutual TLS on loopback, and device cores (Profile) as their users. Each
// test builds the topology it needs with test/helpers/federation.ts.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { Profile } from '../../src-main/core/profile.js';
import { providerStorageBytes, withProviderDb } from '../helpers/provider-db.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';

let engine: MlsEngine;
const profiles: Profile[] = [];
const providers: FederatedProvider[] = [];
const links: Link[] = [];

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of providers) await p.stop().catch(() => undefined);
  for (const l of links) await l.close();
});

async function federation(domains: string[], trust?: Record<string, string[]>) {
  engine ??= await createMlsEngine();
  const f = await startFederation(domains, trust);
  for (const d of domains) {
    providers.push(f[d]);
    links.push(f.links[d]);
  }
  return f;
}

function user(provider: FederatedProvider, handle: string, how: 'register' | 'login' = 'register', dir?: string): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: profiles, dirPrefix: 'fed-user', dir, how });
}

const texts = (p: Profile, room: string) =>
  p
    .page(room, null, 1000)
    .reverse()
    .map((m) => m.text);

const epochOf = (p: Profile, room: string) => p.roomView(room).epoch;

test('alice@a.example adds bob@b.example: key material via the hub, Welcome via b.example, messages both ways', async () => {
  const f = await federation(['a.example', 'b.example']);
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const room = await alice.createRoom('Across providers');
  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join from the Welcome');
  assert.equal(bob.rooms()[0].roomUri, room.roomUri);
  assert.equal(bob.rooms()[0].hubDomain, 'a.example');

  await alice.send(room.roomUri, 'hello bob, from a.example');
  await waitFor(() => texts(bob, room.roomUri).includes('hello bob, from a.example'), 'alice -> bob');
  await bob.send(room.roomUri, 'hi alice, from b.example');
  await waitFor(() => texts(alice, room.roomUri).includes('hi alice, from b.example'), 'bob -> alice');
  // Bob's own message is not handed back to him as a second copy.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(texts(bob, room.roomUri), ['hello bob, from a.example', 'hi alice, from b.example']);

  // Neither provider's database holds the plaintext.
  for (const p of [f['a.example'], f['b.example']]) {
    const bytes = providerStorageBytes(p.dataDir);
    assert.equal(bytes.includes(Buffer.from('hello bob, from a.example')), false, `${p.domain}'s database`);
    assert.equal(bytes.includes(Buffer.from('hi alice, from b.example')), false, `${p.domain}'s database`);
  }
});

test('a.example and b.example do not trust each other; both trust hub c.example: their users talk in a room at c', async () => {
  const f = await federation(['a.example', 'b.example', 'c.example'], {
    'a.example': ['c.example'],
    'b.example': ['c.example'],
    'c.example': ['a.example', 'b.example'],
  });
  const carol = await user(f['c.example'], 'carol');
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const room = await carol.createRoom('Hub at c');
  await carol.addMember(room.roomUri, 'alice@a.example');
  await waitFor(() => alice.rooms().length === 1, 'alice to join');
  // Alice (a follower) adds Bob: the claim and the commit go through c.example, never a -> b.
  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');
  await alice.send(room.roomUri, 'a to b via c');
  await waitFor(() => texts(bob, room.roomUri).includes('a to b via c'), 'alice -> bob through c');
  await bob.send(room.roomUri, 'b to a via c');
  await waitFor(() => texts(alice, room.roomUri).includes('b to a via c') && texts(carol, room.roomUri).includes('b to a via c'), 'bob -> alice, carol');
  assert.equal(epochOf(alice, room.roomUri), epochOf(bob, room.roomUri));
  assert.equal(epochOf(carol, room.roomUri), epochOf(bob, room.roomUri));
});

test('a second device of bob@b.example joins the a.example room from its GroupInfo (external commit)', async () => {
  const f = await federation(['a.example', 'b.example']);
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const room = await alice.createRoom('External join');
  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');
  const bob2 = await user(f['b.example'], 'bob', 'login');
  await waitFor(() => bob2.rooms().length === 1, "bob's second device to join by external commit");
  await waitFor(() => epochOf(alice, room.roomUri) === epochOf(bob2, room.roomUri) && epochOf(bob, room.roomUri) === epochOf(bob2, room.roomUri), 'everyone at the same epoch');
  await alice.send(room.roomUri, 'to both of your devices');
  await waitFor(() => texts(bob2, room.roomUri).includes('to both of your devices') && texts(bob, room.roomUri).includes('to both of your devices'), 'both bob devices');
  await bob2.send(room.roomUri, 'from the new device');
  await waitFor(() => texts(alice, room.roomUri).includes('from the new device') && texts(bob, room.roomUri).includes('from the new device'), 'alice and bob1 get it');
});

test('concurrent commits from two providers for one epoch: one wins, the other retries, nobody forks', async () => {
  const f = await federation(['a.example', 'b.example']);
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const ann = await user(f['a.example'], 'ann');
  const abe = await user(f['a.example'], 'abe');
  const room = await alice.createRoom('Race');
  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');
  // Hold everything peers send to b.example (the hub's fanout): bob keeps building on the epoch alice's commit just left.
  f.links['b.example'].pause();
  const retries: string[] = [];
  alice.on('commitRetry', () => retries.push('alice'));
  bob.on('commitRetry', () => {
    retries.push('bob');
    f.links['b.example'].resume();
  });
  await alice.addMember(room.roomUri, 'ann'); // wins epoch 2 at the hub
  await bob.addMember(room.roomUri, 'abe@a.example'); // built on epoch 1: wrongEpoch, catch up, retry
  assert.deepEqual(retries, ['bob']);
  await waitFor(() => ann.rooms().length === 1 && abe.rooms().length === 1, 'ann and abe to join');
  const everyone = [alice, bob, ann, abe];
  await waitFor(() => everyone.every((p) => epochOf(p, room.roomUri) === '3'), 'epoch 3 everywhere');
  const members = (p: Profile) => [...p.roomView(room.roomUri).members].sort();
  for (const p of everyone) assert.deepEqual(members(p), members(alice));
  assert.equal(members(alice).length, 4);
  await abe.send(room.roomUri, 'no fork here');
  await waitFor(() => [alice, bob, ann].every((p) => texts(p, room.roomUri).includes('no fork here')), 'everyone decrypts the next message');
});

test('hub killed during a burst, and a follower down for a while: every accepted message arrives once, in order', async () => {
  const f = await federation(['a.example', 'b.example']);
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const room = await alice.createRoom('Durability');
  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');

  const burst = Array.from({ length: 40 }, (_, i) => `burst ${i}`);
  const sending = (async () => {
    for (const t of burst) await alice.send(room.roomUri, t);
  })();
  await waitFor(() => texts(bob, room.roomUri).length >= 5, 'the burst to be under way');
  await f['a.example'].kill9();
  await f['a.example'].restart();
  await sending;
  await alice.flushOutbox(30_000);
  await waitFor(() => texts(bob, room.roomUri).length >= burst.length, 'the whole burst at bob', 30_000);
  await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
  assert.deepEqual(texts(bob, room.roomUri), burst);

  // The follower is down: the hub keeps the fanout and delivers it when b.example is back.
  await f['b.example'].stop();
  const later = ['while b was down 1', 'while b was down 2', 'while b was down 3'];
  for (const t of later) await alice.send(room.roomUri, t);
  await alice.flushOutbox(15_000);
  await f['b.example'].restart();
  await waitFor(() => texts(bob, room.roomUri).length === burst.length + later.length, 'the backlog at bob after b restarts', 30_000);
  assert.deepEqual(texts(bob, room.roomUri), [...burst, ...later]);

  // The hub is down: bob's provider cannot forward his message; the room says so and the message
  // waits in bob's outbox until a.example is back.
  await f['a.example'].stop();
  const pending = await bob.send(room.roomUri, 'written while the hub was down');
  await waitFor(() => bob.roomView(room.roomUri).hubUnreachable === true, 'the room to show its hub as unreachable', 20_000);
  assert.equal(bob.page(room.roomUri, null, 1)[0].status, 'pending');
  await f['a.example'].restart();
  await waitFor(() => texts(alice, room.roomUri).includes('written while the hub was down'), 'the waiting message at alice', 30_000);
  await waitFor(() => bob.roomView(room.roomUri).hubUnreachable !== true, 'the room to show its hub as back');
  assert.equal(bob.page(room.roomUri, null, 1)[0].seq, pending.seq);
  assert.equal(bob.page(room.roomUri, null, 1)[0].status, 'sent');
});

test("the hub removes a deleted account's devices: its external Remove proposal is committed by a member", async () => {
  const f = await federation(['a.example', 'b.example']);
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const carol = await user(f['a.example'], 'carol');
  const room = await alice.createRoom('Deletion');
  await alice.addMember(room.roomUri, 'bob@b.example');
  await alice.addMember(room.roomUri, 'carol');
  await waitFor(() => bob.rooms().length === 1 && carol.rooms().length === 1, 'bob and carol to join');
  await waitFor(() => epochOf(bob, room.roomUri) === '2', 'bob to see carol added');
  await carol.deleteAccount();
  const members = (p: Profile) => [...p.roomView(room.roomUri).members].sort();
  const expected = ['mimi://a.example/u/alice', 'mimi://b.example/u/bob'];
  await waitFor(() => members(alice).join() === expected.join() && members(bob).join() === expected.join(), "carol's device to leave the group everywhere", 20_000);
  await waitFor(() => epochOf(alice, room.roomUri) === epochOf(bob, room.roomUri), 'one epoch');
  assert.equal(epochOf(alice, room.roomUri), '3', 'exactly one commit applied the removal');
  await bob.send(room.roomUri, 'still here');
  await waitFor(() => texts(alice, room.roomUri).includes('still here'), 'messages after the removal');
  // The hub's participant list no longer has the deleted account, and nothing is pending.
  withProviderDb(f['a.example'].dataDir, (db) => {
    const participants = db.prepare('SELECT user_uri FROM room_participants WHERE room_uri = ? ORDER BY user_uri').all(room.roomUri) as { user_uri: string }[];
    assert.deepEqual(participants.map((r) => r.user_uri), expected);
    assert.equal((db.prepare('SELECT count(*) AS n FROM pending_removals').get() as { n: number }).n, 0);
  });
});

test('bob@b.example leaves an a.example room: his Remove proposals go through the hub and a member commits them', async () => {
  const f = await federation(['a.example', 'b.example']);
  const alice = await user(f['a.example'], 'alice');
  const bob = await user(f['b.example'], 'bob');
  const room = await alice.createRoom('Leaving');
  await alice.addMember(room.roomUri, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');
  await bob.send(room.roomUri, 'bye all');
  await waitFor(() => texts(alice, room.roomUri).includes('bye all'), 'the goodbye at alice');
  const left = await bob.leaveRoom(room.roomUri);
  assert.deepEqual(left.members, [], 'the room is read-only for bob at once');
  // alice's client commits bob's proposal by itself.
  await waitFor(() => alice.roomView(room.roomUri).members.join() === 'mimi://a.example/u/alice', "bob's device to leave alice's group", 20_000);
  assert.equal(alice.roomView(room.roomUri).epoch, '2');
  await alice.send(room.roomUri, 'after bob left');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(texts(bob, room.roomUri).includes('after bob left'), false, 'bob gets nothing after leaving');
  withProviderDb(f['a.example'].dataDir, (db) => {
    const participants = db.prepare('SELECT user_uri FROM room_participants WHERE room_uri = ?').all(room.roomUri) as { user_uri: string }[];
    assert.deepEqual(participants.map((r) => r.user_uri), ['mimi://a.example/u/alice']);
  });
});
