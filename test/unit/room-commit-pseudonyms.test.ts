// checkCommit (src-shared/room-commit.ts) in rooms with pseudonymous members: a member's user is
// what `userOf` says (the user pseudonym of a client pseudonym), so the same rules hold for
// pseudonyms as for devices and users; and a pseudonym joins the participant list only together
// with a client naming it. Each refusal is paired with the change that makes it pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCommit, type CommitFacts } from '../../src-shared/room-commit.js';
import { initialRoomState, RoomStateError, type RoomState } from '../../src-shared/room-state.js';

const ROOM = 'mimi://a.example/r/mmr';
// Client pseudonyms and the user pseudonyms their credentials name.
const A_USER = 'mimi://a.example/p/aliceUser';
const A_CLIENT = 'mimi://a.example/p/aliceClient';
const B_USER = 'mimi://b.example/p/bobUser';
const B_LAPTOP = 'mimi://b.example/p/bobLaptop';
const B_PHONE = 'mimi://b.example/p/bobPhone';
const CAROL_DEVICE = 'mimi://b.example/d/carol/1';
const CAROL = 'mimi://b.example/u/carol';

const USERS: Record<string, string> = { [A_CLIENT]: A_USER, [B_LAPTOP]: B_USER, [B_PHONE]: B_USER };
/** The mapping a hub or client reads from the ratchet tree (devices: the device's user). */
const userOf = (identity: string): string => USERS[identity] ?? identity.replace('/d/', '/u/').replace(/\/[^/]+$/, '');

const state = (list: [string, number][]): RoomState => ({
  ...initialRoomState({ roomUri: ROOM, creator: list[0][0] }),
  participants: list.map(([user, roleIndex]) => ({ user, roleIndex })),
});
const OK = { ok: true } as const;
const ADMIN = 3;
const ORDINARY = 2;

test('a member is counted as its user: two clients of one user pseudonym, and a device in a mixed room', () => {
  const before = state([[A_USER, ADMIN]]);
  const after = state([
    [A_USER, ADMIN],
    [B_USER, ORDINARY],
    [CAROL, ORDINARY],
  ]);
  const f: CommitFacts = { before, after, committer: A_USER, devicesBefore: [A_CLIENT], devicesAfter: [A_CLIENT, B_LAPTOP, B_PHONE, CAROL_DEVICE], userOf };
  assert.deepEqual(checkCommit(f), OK);
  // Without the mapping a client pseudonym has no user: the default (userOfDevice) refuses it.
  assert.throws(() => checkCommit({ ...f, userOf: undefined }));
  // bob's second client added by the user himself is canAddOwnClient; by alice it is adding clients of another user.
  const two: CommitFacts = { before: after, after, committer: B_USER, devicesBefore: [A_CLIENT, B_LAPTOP], devicesAfter: [A_CLIENT, B_LAPTOP, B_PHONE], userOf };
  assert.deepEqual(checkCommit(two), OK);
  assert.deepEqual(checkCommit({ ...two, committer: A_USER }), OK, 'group_admin has canAddParticipant');
  // Removing one of bob's two clients (not leaving) is his canRemoveOwnClient, someone else's kick.
  const drop: CommitFacts = { before: after, after, committer: B_USER, devicesBefore: [A_CLIENT, B_LAPTOP, B_PHONE], devicesAfter: [A_CLIENT, B_PHONE], userOf };
  assert.deepEqual(checkCommit(drop), OK);
  const byCarol = checkCommit({ ...drop, committer: CAROL });
  assert.ok(!byCarol.ok && byCarol.denied === 'canKick');
});

test('a pseudonym joins the participant list only with a client naming it', () => {
  const before = state([[A_USER, ADMIN]]);
  const planted = state([
    [A_USER, ADMIN],
    [B_USER, ORDINARY],
  ]);
  const f: CommitFacts = { before, after: planted, committer: A_USER, devicesBefore: [A_CLIENT], devicesAfter: [A_CLIENT], userOf };
  assert.throws(
    () => checkCommit(f),
    (e: unknown) => e instanceof RoomStateError && /mimi:\/\/b\.example\/p\/bobUser is a pseudonym: it joins the participant list only together with a client of its own/.test(e.message),
  );
  assert.deepEqual(checkCommit({ ...f, devicesAfter: [A_CLIENT, B_LAPTOP] }), OK);
  // A real user may be listed before their clients come (an invitation, a pre-emptive ban).
  assert.deepEqual(checkCommit({ ...f, after: state([[A_USER, ADMIN], [CAROL, ORDINARY]]) }), OK);
  // A pseudonym already on the list (kicked: no clients) stays without one.
  const kicked = planted;
  assert.deepEqual(checkCommit({ before: kicked, after: kicked, committer: A_USER, devicesBefore: [A_CLIENT], devicesAfter: [A_CLIENT], userOf }), OK);
});

test('base room policy: fixed after creation; pseudonyms_allowed off refuses pseudonymous clients; a minimal-metadata room refuses real ones', () => {
  const open = state([[A_USER, ADMIN]]);
  const facts = (before: RoomState, after: RoomState, devicesAfter: string[]): CommitFacts => ({
    before,
    after,
    committer: after.participants[0].user,
    devicesBefore: [A_CLIENT],
    devicesAfter,
    userOf,
  });
  // Turning pseudonyms off, or a room into a minimal-metadata one, is refused whoever commits it.
  assert.throws(() => checkCommit(facts(open, { ...open, base: { ...open.base!, pseudonymsAllowed: false } }, [A_CLIENT])), (e) => e instanceof RoomStateError && /cannot change after the room is created/.test(e.message));
  assert.throws(() => checkCommit(facts(open, { ...open, minimalMetadata: true }, [A_CLIENT])), /cannot change after the room is created/);
  assert.deepEqual(checkCommit(facts(open, open, [A_CLIENT])), OK);

  // A room that does not allow pseudonyms: a client naming a pseudonym cannot be in it.
  const real = { ...initialRoomState({ roomUri: ROOM, creator: CAROL, pseudonymsAllowed: false }) };
  const withB = { ...real, participants: [...real.participants, { user: B_USER, roleIndex: ORDINARY }] };
  const carolAdds = (after: RoomState, devicesAfter: string[]): CommitFacts => ({ before: real, after, committer: CAROL, devicesBefore: [CAROL_DEVICE], devicesAfter, userOf });
  assert.throws(() => checkCommit(carolAdds(withB, [CAROL_DEVICE, B_LAPTOP])), /does not allow pseudonyms/);

  // A minimal-metadata room: every client's user must be on the list, and the list holds only pseudonyms.
  const mmr = initialRoomState({ roomUri: ROOM, creator: A_USER, minimalMetadata: true });
  assert.throws(() => checkCommit({ before: mmr, after: mmr, committer: A_USER, devicesBefore: [A_CLIENT], devicesAfter: [A_CLIENT, CAROL_DEVICE], userOf }), /not on the participant list/);
  const withBob = { ...mmr, participants: [...mmr.participants, { user: B_USER, roleIndex: ORDINARY }] };
  assert.deepEqual(checkCommit({ before: mmr, after: withBob, committer: A_USER, devicesBefore: [A_CLIENT], devicesAfter: [A_CLIENT, B_LAPTOP], userOf }), OK);
});
