// Join tickets (src-shared/join-ticket.ts) and what checkCommit does with the users they admit:
// the ticket's wire form and signature, its binding to room, joiner and leaf, and the two commits
// of a join by link (the external commit of an admitted joiner, then its own listing in the
// ticket's role). Each refusal is paired with what makes it pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { encodeExternalSender, basicCredential } from '../../src-shared/mls-structs.js';
import { TlsWriter } from '../../src-shared/tls.js';
import {
  decodeJoinTicket,
  encodeJoinTicket,
  hubKeyOfExternalSenders,
  JOIN_TICKET_EXTENSION_TYPE,
  joinTicketOfLeaf,
  joinTicketProblem,
  signJoinTicket,
  type JoinTicketTbs,
} from '../../src-shared/join-ticket.js';
import { checkCommit, type CommitFacts } from '../../src-shared/room-commit.js';
import { initialRoomState, type RoomState } from '../../src-shared/room-state.js';

const ROOM = 'mimi://a.example/r/club';
const ALICE = 'mimi://a.example/u/alice';
const ALICE_DEV = 'mimi://a.example/d/alice/1';
const BOB = 'mimi://b.example/u/bob';
const BOB_DEV = 'mimi://b.example/d/bob/1';
const hub = generateSignatureKeyPair();
const leaf = generateSignatureKeyPair();
const tbs: JoinTicketTbs = { roomUri: ROOM, joiner: BOB, signatureKey: leaf.publicKey, roleIndex: 2, codeId: new Uint8Array(8).fill(7), notAfter: 1_800_000_000_000 };

test('a ticket round-trips, and its signature, room, joiner, leaf and expiry are checked', () => {
  const t = signJoinTicket(hub.privateKey, tbs);
  const back = decodeJoinTicket(encodeJoinTicket(t));
  assert.deepEqual(back, t);
  const ok = { roomUri: ROOM, joiner: BOB, leafSignatureKey: leaf.publicKey, hubKey: hub.publicKey };
  assert.equal(joinTicketProblem(back, ok), undefined);
  assert.equal(joinTicketProblem(back, { ...ok, now: tbs.notAfter }), undefined);
  assert.match(joinTicketProblem(back, { ...ok, now: tbs.notAfter + 1 })!, /expired/);
  assert.match(joinTicketProblem(back, { ...ok, roomUri: 'mimi://a.example/r/other' })!, /is for mimi:\/\/a.example\/r\/club, not/);
  assert.match(joinTicketProblem(back, { ...ok, joiner: 'mimi://b.example/u/mallory' })!, /admits mimi:\/\/b.example\/u\/bob/);
  assert.match(joinTicketProblem(back, { ...ok, leafSignatureKey: generateSignatureKeyPair().publicKey })!, /another leaf/);
  assert.match(joinTicketProblem(back, { ...ok, hubKey: generateSignatureKeyPair().publicKey })!, /not the hub's/);
  // A ticket whose role was raised after signing.
  assert.match(joinTicketProblem({ ...back, roleIndex: 3 }, ok)!, /not the hub's/);
  // Signed by someone else with their own key.
  assert.match(joinTicketProblem(signJoinTicket(generateSignatureKeyPair().privateKey, tbs), ok)!, /not the hub's/);
  // A knock room's ticket names the room knocked at.
  const knock = decodeJoinTicket(encodeJoinTicket(signJoinTicket(hub.privateKey, { ...tbs, knockFor: 'mimi://a.example/r/target' })));
  assert.equal(knock.knockFor, 'mimi://a.example/r/target');
});

test('malformed tickets and leaves with two tickets are refused with a reason', () => {
  const bytes = encodeJoinTicket(signJoinTicket(hub.privateKey, tbs));
  assert.throws(() => decodeJoinTicket(bytes.subarray(0, bytes.length - 1)), /malformed join ticket/);
  assert.throws(() => decodeJoinTicket(new Uint8Array([...bytes, 0])), /malformed join ticket/);
  const ext = { type: JOIN_TICKET_EXTENSION_TYPE, data: bytes };
  assert.equal(joinTicketOfLeaf([]), undefined);
  assert.equal(joinTicketOfLeaf([{ type: 0xf010, data: new Uint8Array() }, ext])?.joiner, BOB);
  assert.throws(() => joinTicketOfLeaf([ext, ext]), /more than one join ticket/);
});

test("the hub's key is read from external_senders in ts-mls's form and in RFC 9420's", () => {
  const sender = encodeExternalSender({ signatureKey: hub.publicKey, credential: basicCredential('mimi://a.example') });
  assert.deepEqual(hubKeyOfExternalSenders(sender), hub.publicKey);
  const rfc = new TlsWriter().opaqueV(sender).finish();
  assert.deepEqual(hubKeyOfExternalSenders(rfc), hub.publicKey);
});

const state = (list: [string, number][]): RoomState => ({
  ...initialRoomState({ roomUri: ROOM, creator: ALICE, preset: 'administered' }),
  participants: list.map(([user, roleIndex]) => ({ user, roleIndex })),
});

test('an admitted joiner: its external commit is a join by code, its next commit lists it in the ticket role', () => {
  const before = state([[ALICE, 3]]);
  const join: CommitFacts = { before, after: before, committer: BOB, devicesBefore: [ALICE_DEV], devicesAfter: [ALICE_DEV, BOB_DEV] };
  // Without a ticket: clients of a user not on the list.
  assert.throws(() => checkCommit(join), /not on the participant list/);
  assert.deepEqual(checkCommit({ ...join, admitted: new Map([[BOB, 2]]) }), { ok: true });
  // The ticket's role must be one the policy lets a code holder take (administered: 0 -> 2).
  const tooHigh = checkCommit({ ...join, admitted: new Map([[BOB, 3]]) });
  assert.ok(!tooHigh.ok && tooHigh.denied === 'canUseJoinCode', JSON.stringify(tooHigh));
  // A cooperative room lets nobody join by code (its no_role lacks canUseJoinCode).
  const coop = { ...initialRoomState({ roomUri: ROOM, creator: ALICE }), participants: [{ user: ALICE, roleIndex: 3 }] };
  const inCoop = checkCommit({ ...join, before: coop, after: coop, admitted: new Map([[BOB, 2]]) });
  assert.ok(!inCoop.ok && inCoop.denied === 'canUseJoinCode', JSON.stringify(inCoop));
  // Someone else cannot add an admitted user's clients.
  const byAlice = checkCommit({ ...join, committer: ALICE, admitted: new Map([[BOB, 2]]) });
  assert.ok(!byAlice.ok && /only their own join/.test(byAlice.reason));
  // A banned user is not admitted by any ticket.
  const wasBanned = state([[ALICE, 3], [BOB, 1]]);
  assert.throws(() => checkCommit({ ...join, before: wasBanned, after: wasBanned, admitted: new Map([[BOB, 2]]) }), /banned/);

  // The listing: bob adds himself with the ticket's role; a different role is an open join (refused).
  const listed = state([[ALICE, 3], [BOB, 2]]);
  const fold: CommitFacts = { before, after: listed, committer: BOB, devicesBefore: [ALICE_DEV, BOB_DEV], devicesAfter: [ALICE_DEV, BOB_DEV], admitted: new Map([[BOB, 2]]) };
  assert.deepEqual(checkCommit(fold), { ok: true });
  const raised = checkCommit({ ...fold, after: state([[ALICE, 3], [BOB, 3]]) });
  assert.ok(!raised.ok, JSON.stringify(raised));
  const noTicket = checkCommit({ ...fold, admitted: undefined });
  assert.equal(noTicket.ok, false);
  // Other commits while bob is admitted but not yet listed keep him.
  const other: CommitFacts = { before, after: before, committer: ALICE, devicesBefore: [ALICE_DEV, BOB_DEV], devicesAfter: [ALICE_DEV, BOB_DEV], admitted: new Map([[BOB, 2]]) };
  assert.deepEqual(checkCommit(other), { ok: true });
});
