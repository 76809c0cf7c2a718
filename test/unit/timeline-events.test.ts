// Timeline events from the room state and member lists before and after a commit
// (src-shared/timeline-events.ts): every kind, the hub's own ban and removal, pseudonymous members
// named only by their pseudonyms, the sentences they read as, and stored events read back strictly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commitEvents, describeEvent, parseTimelineEvent, type CommitFacts, type RoomSnapshot, type TimelineEvent } from '../../src-shared/timeline-events.js';
import { initialRoomState, type RoomState } from '../../src-shared/room-state.js';
import { withMetadata, withParticipant, withRole, withoutParticipants } from '../../src-main/core/room-view.js';
import { roleLabel } from '../../src-renderer/src/lib/role-names.js';

const ROOM = 'mimi://a.example/r/lunch';
const alice = 'mimi://a.example/u/alice';
const bob = 'mimi://b.example/u/bob';
const carol = 'mimi://a.example/u/carol';
const dev = (user: string, n = 1) => `${user.replace('/u/', '/d/')}/dev${n}`;

const base = initialRoomState({ roomUri: ROOM, creator: alice, roomName: 'Lunch' });
/** alice (admin) and bob (ordinary_user), each with one device. */
const two = withParticipant(base, bob, 2);

function snap(state: RoomState | undefined, devices: string[][]): RoomSnapshot {
  return { state, devices: new Map(devices.map(([d, u]) => [d, u])) };
}
const devs = (...users: string[]) => users.map((u) => [dev(u), u]);

function events(f: Partial<CommitFacts> & Pick<CommitFacts, 'before' | 'after'>): TimelineEvent[] {
  return commitEvents({ committer: alice, departed: new Set(), removedByHub: new Set(), stateByHub: false, ...f });
}

const text = (e: TimelineEvent, self?: string) =>
  describeEvent(e, { name: (u, start) => (u === self ? (start ? 'You' : 'you') : u.replace(/^mimi:\/\/[^/]+\/[up]\//, '')), role: roleLabel, possessive: (u) => (u === self ? 'your' : undefined) });

test('added: a user put on the list with their clients by someone else', () => {
  const ev = events({ before: snap(base, devs(alice)), after: snap(two, devs(alice, bob)) });
  assert.deepEqual(ev, [{ kind: 'added', by: alice, user: bob }]);
  assert.equal(text(ev[0]), 'alice added bob');
  assert.equal(text(ev[0], alice), 'You added bob');
  assert.equal(text(ev[0], bob), 'alice added you');
});

test('removed: off the list with their clients; kicked: clients only, still listed', () => {
  const removed = events({ before: snap(two, devs(alice, bob)), after: snap(withoutParticipants(two, new Set([bob])), devs(alice)) });
  assert.deepEqual(removed, [{ kind: 'removed', by: alice, user: bob }]);
  assert.equal(text(removed[0]), 'alice removed bob');
  const kicked = events({ before: snap(two, devs(alice, bob)), after: snap(two, devs(alice)) });
  assert.deepEqual(kicked, [{ kind: 'kicked', by: alice, user: bob }]);
  assert.equal(text(kicked[0]), 'alice kicked bob');
});

test('banned and unbanned by a member; a ban of someone who already left', () => {
  const banned = events({ before: snap(two, devs(alice, bob)), after: snap(withRole(two, bob, 1), devs(alice)) });
  assert.deepEqual(banned, [{ kind: 'banned', by: alice, user: bob }]);
  assert.equal(text(banned[0]), 'alice banned bob');
  const unbanned = events({ before: snap(withRole(two, bob, 1), devs(alice)), after: snap(two, devs(alice)) });
  assert.deepEqual(unbanned, [{ kind: 'unbanned', by: alice, user: bob }]);
  assert.equal(text(unbanned[0]), 'alice unbanned bob');
  const preemptive = events({ before: snap(base, devs(alice)), after: snap(withParticipant(base, carol, 1), devs(alice)) });
  assert.deepEqual(preemptive, [{ kind: 'banned', by: alice, user: carol }]);
});

test("a ban by the room's provider: the hub's state change and Removes, committed by any member", () => {
  const ev = events({
    committer: carol,
    before: snap(withParticipant(two, carol, 2), devs(alice, bob, carol)),
    after: snap(withRole(withParticipant(two, carol, 2), bob, 1), devs(alice, carol)),
    departed: new Set([dev(bob)]),
    removedByHub: new Set([dev(bob)]),
    stateByHub: true,
  });
  assert.deepEqual(ev, [{ kind: 'banned', by: null, user: bob }]);
  assert.equal(text(ev[0]), "bob was banned by the room's provider");
  // Its removal (a moderator's "Remove from room", or a deleted account): the hub's Removes.
  const removed = events({
    committer: carol,
    before: snap(withParticipant(two, carol, 2), devs(alice, bob, carol)),
    after: snap(withParticipant(withoutParticipants(two, new Set([bob])), carol, 2), devs(alice, carol)),
    departed: new Set([dev(bob)]),
    removedByHub: new Set([dev(bob)]),
  });
  assert.deepEqual(removed, [{ kind: 'removed', by: null, user: bob }]);
  assert.equal(text(removed[0]), "bob was removed by the room's provider");
});

test('role changes read with the names people read', () => {
  const ev = events({ before: snap(two, devs(alice, bob)), after: snap(withRole(two, bob, 3), devs(alice, bob)) });
  assert.deepEqual(ev, [{ kind: 'roleChanged', by: alice, user: bob, from: 'ordinary_user', to: 'group_admin' }]);
  assert.equal(text(ev[0]), 'alice changed bob’s role from Member to Admin');
  assert.equal(text(ev[0], bob), 'alice changed your role from Member to Admin');
});

test('renames and other metadata changes', () => {
  const next = withMetadata(two, { name: 'Dinner', description: 'Where to eat', subject: 'Tacos?', avatar: 'https://a.example/a.png' });
  const ev = events({ committer: bob, before: snap(two, devs(alice, bob)), after: snap(next, devs(alice, bob)) });
  assert.deepEqual(ev, [
    { kind: 'renamed', by: bob, name: 'Dinner' },
    { kind: 'metadataChanged', by: bob, field: 'description', value: 'Where to eat' },
    { kind: 'metadataChanged', by: bob, field: 'avatar', value: 'https://a.example/a.png' },
    { kind: 'metadataChanged', by: bob, field: 'subject', value: 'Tacos?' },
  ]);
  assert.deepEqual(ev.map((e) => text(e)), ['bob renamed the room to “Dinner”', 'bob changed the room’s description', 'bob changed the room’s picture', 'bob set the subject to “Tacos?”']);
  const cleared = events({ before: snap(next, devs(alice, bob)), after: snap(withMetadata(next, { name: '', subject: '' }), devs(alice, bob)) });
  assert.deepEqual(cleared.map((e) => text(e)), ['alice removed the room’s name', 'alice cleared the subject']);
});

test('joins: by link (own external commit onto the list), back after a kick, into a knock room', () => {
  const byLink = events({ committer: carol, before: snap(two, devs(alice, bob)), after: snap(withParticipant(two, carol, 2), devs(alice, bob, carol)), admitted: new Map([[carol, 'link']]) });
  assert.deepEqual(byLink, [{ kind: 'joined', user: carol, how: 'link' }]);
  assert.equal(text(byLink[0]), 'carol joined with a link');
  const again = events({ committer: bob, before: snap(two, devs(alice)), after: snap(two, devs(alice, bob)) });
  assert.deepEqual(again, [{ kind: 'joined', user: bob, how: 'again' }]);
  assert.equal(text(again[0]), 'bob joined again');
  // A knocker is not on the list: in with the hub's knock ticket.
  const knock = events({ committer: carol, before: snap(two, devs(alice, bob)), after: snap(two, devs(alice, bob, carol)), admitted: new Map([[carol, 'knock']]) });
  assert.deepEqual(knock, [{ kind: 'joined', user: carol, how: 'knock' }]);
  assert.equal(text(knock[0]), 'carol came in to knock');
});

test('leaves: own Remove proposals committed by someone else take the user off the list', () => {
  const ev = events({ before: snap(two, devs(alice, bob)), after: snap(withoutParticipants(two, new Set([bob])), devs(alice)), departed: new Set([dev(bob)]) });
  assert.deepEqual(ev, [{ kind: 'left', user: bob }]);
  assert.equal(text(ev[0]), 'bob left');
});

test('a new device of someone already in the room', () => {
  const before = snap(two, devs(alice, bob));
  const after = snap(two, [...devs(alice, bob), [dev(bob, 2), bob]]);
  const ev = events({ committer: bob, before, after });
  assert.deepEqual(ev, [{ kind: 'newDevice', user: bob }]);
  assert.equal(text(ev[0]), 'bob added a new device');
});

test('commits that change nothing a person sees make no events (path updates, identity links)', () => {
  assert.deepEqual(events({ before: snap(two, devs(alice, bob)), after: snap(two, devs(alice, bob)) }), []);
});

test('several changes of one commit come in a fixed order: list order, then metadata', () => {
  const before = snap(withParticipant(two, carol, 2), devs(alice, bob, carol));
  const after = snap(withMetadata(withRole(withoutParticipants(withParticipant(two, carol, 2), new Set([bob])), carol, 3), { name: 'New' }), devs(alice, carol));
  assert.deepEqual(
    events({ before, after }).map((e) => e.kind),
    ['removed', 'roleChanged', 'renamed'],
  );
});

test('rooms of pseudonyms: members are named by pseudonym only, new devices of a pseudonym too', () => {
  const pa = 'mimi://a.example/p/AAAApseudoAlice';
  const pb = 'mimi://b.example/p/BBBBpseudoBob';
  const cpa = 'mimi://a.example/p/client-a1';
  const cpb = 'mimi://b.example/p/client-b1';
  const cpb2 = 'mimi://b.example/p/client-b2';
  const s0 = initialRoomState({ roomUri: ROOM, creator: pa, minimalMetadata: true });
  const s1 = withParticipant(s0, pb, 2);
  const added = events({ committer: pa, before: snap(s0, [[cpa, pa]]), after: snap(s1, [[cpa, pa], [cpb, pb]]) });
  assert.deepEqual(added, [{ kind: 'added', by: pa, user: pb }]);
  const device = events({ committer: pb, before: snap(s1, [[cpa, pa], [cpb, pb]]), after: snap(s1, [[cpa, pa], [cpb, pb], [cpb2, pb]]) });
  assert.deepEqual(device, [{ kind: 'newDevice', user: pb }]);
  // Nothing but the pseudonyms appears in what is stored.
  const stored = JSON.stringify([...added, ...device]);
  assert.doesNotMatch(stored, /\/u\//);
  assert.equal(text(added[0]), 'AAAApseudoAlice added BBBBpseudoBob');
});

test('a room without room state: members come and go by their clients', () => {
  const ev = events({ before: snap(undefined, devs(alice)), after: snap(undefined, devs(alice, bob)) });
  assert.deepEqual(ev, [{ kind: 'added', by: alice, user: bob }]);
  const gone = events({ before: snap(undefined, devs(alice, bob)), after: snap(undefined, devs(alice)), departed: new Set([dev(bob)]) });
  assert.deepEqual(gone, [{ kind: 'left', user: bob }]);
});

test('stored events are read back strictly', () => {
  const e: TimelineEvent = { kind: 'roleChanged', by: null, user: bob, from: 'ordinary_user', to: 'moderator' };
  assert.deepEqual(parseTimelineEvent(JSON.parse(JSON.stringify(e))), e);
  assert.throws(() => parseTimelineEvent({ kind: 'message', text: 'hi' }), /not a timeline event/);
  assert.throws(() => parseTimelineEvent({ kind: 'added', by: alice }), /lacks user/);
  assert.throws(() => parseTimelineEvent({ kind: 'metadataChanged', by: alice, field: 'mood', value: '' }), /unknown field/);
  assert.throws(() => parseTimelineEvent(null), /not a timeline event/);
});
