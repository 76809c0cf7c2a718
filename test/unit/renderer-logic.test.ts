// The renderer's pure logic: timeline geometry, the message list merge, how rows are built, how
// error codes survive Electron's contextBridge, how people are named, and how pseudonyms, their
// pools and connection requests read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, type ConnectionView, type MessageView, type PseudonymPoolView, type PseudonymView } from '../../src-shared/contract.js';
import { RowHeights } from '../../src-renderer/src/lib/virtual-layout.js';
import { upsertInTimeline } from '../../src-renderer/src/lib/message-list.js';
import { buildRows } from '../../src-renderer/src/lib/timeline-model.js';
import { errorAcrossBridge, toCoreError } from '../../src-renderer/src/lib/coded-error.js';
import { initials, personName } from '../../src-renderer/src/lib/identity.js';
import {
  connectionStateText,
  groupPseudonyms,
  isMinimalMetadataRoom,
  isPseudonym,
  isSelf,
  memberName,
  pendingIncoming,
  poolSummary,
  pseudonymState,
  refillCount,
  retireQuestion,
  selfIn,
  shortPseudonym,
} from '../../src-renderer/src/lib/pseudonyms.js';

const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const ROOM = 'mimi://a.example/r/r1';
const T0 = new Date(2025, 0, 15, 12, 0, 0).getTime();

function msg(seq: number, over: Partial<MessageView> = {}): MessageView {
  return {
    seq,
    messageId: `id${seq}`,
    roomUri: ROOM,
    sender: ALICE,
    text: `text ${seq}`,
    contentType: 'text/plain',
    timestamp: T0 + seq * 1000,
    status: 'received',
    ...over,
  };
}

// ---- virtual layout ----

test('RowHeights: estimates until measured, offsets and total follow measurements', () => {
  const h = new RowHeights(40);
  h.setKeys([10, 11, 12, 13]);
  assert.equal(h.total, 160);
  assert.equal(h.offsetOf(2), 80);
  assert.equal(h.measure(11, 100), true);
  assert.equal(h.measure(11, 100), false, 'same height is not a change');
  assert.equal(h.total, 220);
  assert.equal(h.offsetOf(2), 140);
  assert.equal(h.heightAt(1), 100);
  assert.equal(h.measure(99, -5), false, 'nonsense heights are ignored');
});

test('RowHeights: indexAt and range find the rows covering a viewport', () => {
  const h = new RowHeights(50);
  h.setKeys(Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.equal(h.indexAt(0), 0);
  assert.equal(h.indexAt(49), 0);
  assert.equal(h.indexAt(50), 1);
  assert.equal(h.indexAt(1e9), 999);
  const r = h.range(5000, 500, 100);
  assert.deepEqual(r, { start: 98, end: 113 });
  assert.ok(r.end - r.start < 20, 'a viewport of 10 rows renders about 10 rows plus overscan');
  assert.deepEqual(new RowHeights(50).range(0, 500, 100), { start: 0, end: 0 });
});

test('RowHeights: an anchor keeps its row in place when rows are prepended or resized above it', () => {
  const h = new RowHeights(50);
  h.setKeys([100, 101, 102, 103]);
  const scrollTop = 120; // inside row 102 (starts at 100)
  const anchor = h.anchorAt(scrollTop)!;
  assert.deepEqual(anchor, { key: 102, delta: -20 });
  // An older page arrives above, and row 101 turns out taller.
  h.setKeys([50, 51, 52, 100, 101, 102, 103]);
  h.measure(101, 80);
  const restored = h.scrollTopFor(anchor)!;
  assert.equal(h.offsetOf(h.indexOfKey(102)) - restored, -20, 'row 102 is where it was on screen');
  assert.equal(restored, 150 + 50 + 80 + 20);
  assert.equal(h.scrollTopFor({ key: 7, delta: 0 }), null, 'a vanished row gives no position');
});

test('RowHeights: measurements of rows that are gone are eventually forgotten', () => {
  const h = new RowHeights(10);
  h.setKeys(Array.from({ length: 1000 }, (_, i) => i));
  for (let i = 0; i < 1000; i++) h.measure(i, 20);
  h.setKeys([5000]);
  h.setKeys([0]);
  assert.equal(h.total, 10, 'row 0 was forgotten along with the rest');
});

// ---- message list ----

test('upsertInTimeline keeps timeline order, replaces by seq, and never regresses to pending', () => {
  let list = upsertInTimeline([], [msg(5), msg(7)]);
  list = upsertInTimeline(list, [msg(6), msg(9), msg(1)]);
  assert.deepEqual(
    list.map((m) => m.seq),
    [1, 5, 6, 7, 9],
  );
  const sent = msg(9, { status: 'sent', timestamp: 42 });
  list = upsertInTimeline(list, [sent]);
  assert.equal(list.find((m) => m.seq === 9)?.timestamp, 42);
  // The send() answer (pending) arriving after the "sent" event changes nothing.
  list = upsertInTimeline(list, [msg(9, { status: 'pending' }), msg(6, { status: 'pending' })]);
  assert.equal(list.find((m) => m.seq === 9)?.status, 'sent');
  assert.equal(list.find((m) => m.seq === 6)?.status, 'received');
  const before = list;
  upsertInTimeline(list, [msg(3)]);
  assert.equal(before.length, 5, 'the input array is not changed');
});

test('upsertInTimeline: a pending message waits at the end, then moves to where the hub accepted it', () => {
  let list = upsertInTimeline([], [msg(1, { timestamp: 1000 }), msg(2, { timestamp: 3000 })]);
  list = upsertInTimeline(list, [msg(3, { status: 'pending', timestamp: 9000 })]);
  list = upsertInTimeline(list, [msg(4, { timestamp: 5000 })]);
  assert.deepEqual(list.map((m) => m.seq), [1, 2, 4, 3], 'pending last, whatever its own clock says');
  // The hub accepted it before message 2: it moves there, on every device alike.
  list = upsertInTimeline(list, [msg(3, { status: 'sent', timestamp: 2000 })]);
  assert.deepEqual(list.map((m) => m.seq), [1, 3, 2, 4]);
  // Same millisecond: message ID decides, the same for everyone.
  list = upsertInTimeline(list, [msg(5, { messageId: 'id0', timestamp: 5000 })]);
  assert.deepEqual(list.map((m) => m.seq), [1, 3, 2, 5, 4]);
  // A page merged in at once lands in the same order as one by one.
  const batch = upsertInTimeline([], [msg(4, { timestamp: 5000 }), msg(5, { messageId: 'id0', timestamp: 5000 }), msg(1, { timestamp: 1000 }), msg(3, { status: 'sent', timestamp: 2000 }), msg(2, { timestamp: 3000 })]);
  assert.deepEqual(batch.map((m) => m.seq), list.map((m) => m.seq));
});

// ---- timeline rows ----

test('buildRows groups by sender, folds reactions and edits into their message, marks days', () => {
  const rows = buildRows(
    [
      msg(1, { sender: ALICE }),
      msg(2, { sender: ALICE }),
      msg(3, { sender: BOB }),
      msg(4, { sender: BOB, reaction: '👍', inReplyTo: 'id1' }),
      msg(5, { sender: ALICE, reaction: '👍', inReplyTo: 'id1' }),
      msg(6, { sender: BOB, replaces: 'id3', text: 'fixed typo' }),
      msg(7, { sender: ALICE, replaces: 'id3', text: 'not yours to edit' }),
      msg(8, { sender: BOB, timestamp: T0 + 86_400_000 }),
      msg(9, { sender: BOB, deleted: true }),
    ],
    ALICE,
    T0 + 86_400_000,
  );
  assert.deepEqual(
    rows.map((r) => r.key),
    [1, 2, 3, 8, 9],
  );
  const [r1, r2, r3, r8, r9] = rows;
  assert.equal(r1.showHeader, true);
  assert.equal(r2.showHeader, false, 'same sender shortly after: grouped');
  assert.equal(r3.showHeader, true);
  assert.equal(r1.mine, true);
  assert.equal(r3.mine, false);
  assert.deepEqual(r1.reactions, [{ emoji: '👍', count: 2, mine: false }]);
  assert.equal(r3.text, 'fixed typo', "bob's edit of his own message applies");
  assert.equal(r3.edited, true);
  assert.equal(r1.dayLabel, 'Yesterday');
  assert.equal(r2.dayLabel, undefined);
  assert.equal(r8.dayLabel, 'Today');
  assert.equal(r8.showHeader, true, 'a new day starts a new group');
  assert.equal(r9.deleted, true);
  assert.equal(r9.text, '');
});

test('buildRows starts a new group after a long pause', () => {
  const rows = buildRows([msg(1), msg(2, { timestamp: T0 + 2000 + 6 * 60_000 })], ALICE, T0);
  assert.equal(rows[1].showHeader, true);
});

// ---- error codes across the contextBridge ----

test('error codes survive a message-only copy (as contextBridge does) and Electron prefixes', () => {
  const crossed = errorAcrossBridge({ code: 'wrongPassword', message: 'Wrong password.' });
  const copied = new Error(crossed.message); // what the main world receives
  const e = toCoreError(copied);
  assert.ok(e instanceof CoreError);
  assert.equal(e.code, 'wrongPassword');
  assert.equal(e.message, 'Wrong password.');
  const prefixed = toCoreError(new Error(`Error invoking remote method 'x': Error: ${crossed.message}`));
  assert.equal(prefixed.code, 'wrongPassword');
  assert.equal(toCoreError(new CoreError('roomUnknown', 'gone')).code, 'roomUnknown');
  assert.equal(toCoreError(Object.assign(new Error('m'), { code: 'handleTaken' })).code, 'handleTaken');
  assert.equal(toCoreError(new Error('[mimi:madeUp] x')).code, 'internal', 'unknown codes are not trusted');
  assert.equal(toCoreError('plain string').code, 'internal');
});

// ---- names ----

test('people are shown by handle on their own provider, handle@domain elsewhere', () => {
  assert.equal(personName(ALICE, 'a.example').label, 'alice');
  assert.equal(personName(BOB, 'a.example').label, 'bob@b.example');
  assert.equal(personName('not a uri', 'a.example').label, 'not a uri');
  assert.equal(initials('alice'), 'A');
  assert.equal(initials('mary-jane'), 'MJ');
  assert.equal(initials(''), '?');
});

// ---- pseudonyms ----

const PSEUDO = 'mimi://b.example/p/Hs5dPq8WnE2rTy6uIo0pLk';

function pseudonym(over: Partial<PseudonymView> = {}): PseudonymView {
  return { userPseudonym: PSEUDO, clientPseudonym: `${PSEUDO}-c`, state: 'unused', rooms: [], issuedAt: T0, keyPackages: 5, ...over };
}

test('pseudonyms are shortened for display and told apart from users', () => {
  assert.equal(shortPseudonym(PSEUDO), 'p/Hs5dPq…');
  assert.equal(shortPseudonym('mimi://b.example/p/abc1234'), 'p/abc1234', 'short ids are kept whole');
  assert.equal(shortPseudonym(BOB), BOB);
  assert.equal(isPseudonym(PSEUDO), true);
  assert.equal(isPseudonym(BOB), false);
  assert.equal(isPseudonym('not a uri'), false);
  assert.equal(isMinimalMetadataRoom([PSEUDO, 'mimi://a.example/p/x1']), true);
  assert.equal(isMinimalMetadataRoom([PSEUDO, BOB]), false);
  assert.equal(isMinimalMetadataRoom([]), false, 'a room left has no members, and says nothing');
});

test('a member behind a pseudonym is named by verified identity only', () => {
  assert.deepEqual(memberName(BOB, undefined, 'a.example'), { label: 'bob@b.example', handle: 'bob' });
  const verified = memberName(PSEUDO, { user: BOB, verified: true }, 'b.example');
  assert.deepEqual(verified, { label: 'bob', handle: 'bob', pseudonym: { short: 'p/Hs5dPq…', full: PSEUDO }, verified: true });
  // A claimed but unverified identity is not printed as the name.
  const forged = memberName(PSEUDO, { user: BOB, verified: false, problem: 'bad signature' }, 'a.example');
  assert.equal(forged.label, 'p/Hs5dPq…');
  assert.equal(forged.verified, false);
  assert.equal(forged.problem, 'bad signature');
  assert.equal(memberName(PSEUDO, undefined, 'a.example').problem, 'no identity received yet');
  // The viewer's own pseudonym is the viewer.
  assert.equal(memberName(PSEUDO, undefined, 'a.example', ALICE).label, 'alice');
  const pool: PseudonymPoolView = { accountId: 'a', pseudonyms: [pseudonym()], unused: 1, threshold: 2, batch: 3, refilling: false };
  assert.equal(isSelf(PSEUDO, ALICE, pool), true);
  assert.equal(isSelf(ALICE, ALICE, undefined), true);
  assert.equal(isSelf(BOB, ALICE, pool), false);
  assert.equal(selfIn([BOB, PSEUDO], ALICE, pool), PSEUDO, 'in a minimal-metadata room: its pseudonym there');
  assert.equal(selfIn([BOB], ALICE, pool), ALICE);
});

test('pool logic: refill count, grouping by state, and what the screens say', () => {
  assert.equal(refillCount({ unused: 2, threshold: 4, batch: 3 }), 3, 'at least a batch');
  assert.equal(refillCount({ unused: 0, threshold: 10, batch: 3 }), 10, 'back to the threshold');
  assert.equal(refillCount({ unused: 9, threshold: 4, batch: 0 }), 1, 'always at least one');
  assert.equal(refillCount({ unused: 0, threshold: 500, batch: 80 }), 50, 'never more than the core takes');

  const inUse = pseudonym({ userPseudonym: 'mimi://b.example/p/u1', state: 'inUse', rooms: [{ roomUri: 'mimi://b.example/r/1', name: 'Lunch' }, { roomUri: 'mimi://b.example/r/2', name: 'Books' }] });
  const older = pseudonym({ userPseudonym: 'mimi://b.example/p/o1', issuedAt: T0 - 1000 });
  const newer = pseudonym({ userPseudonym: 'mimi://b.example/p/n1', issuedAt: T0 + 1000 });
  const retired = pseudonym({ userPseudonym: 'mimi://b.example/p/r1', state: 'retired', keyPackages: 0 });
  const groups = groupPseudonyms({ accountId: 'a', pseudonyms: [older, retired, inUse, newer], unused: 2, threshold: 4, batch: 3, refilling: false });
  assert.deepEqual(groups.unused.map((p) => p.userPseudonym), [newer.userPseudonym, older.userPseudonym]);
  assert.deepEqual(groups.inUse, [inUse]);
  assert.deepEqual(groups.retired, [retired]);
  assert.deepEqual(groupPseudonyms(undefined), { inUse: [], unused: [], retired: [] });

  assert.equal(pseudonymState(inUse), 'In “Lunch”, “Books”');
  assert.equal(pseudonymState(older), 'Unused');
  assert.equal(pseudonymState({ ...inUse, rooms: [] }), 'Used before, in no room now');
  assert.equal(pseudonymState(retired), 'Retired');
  assert.equal(retireQuestion(inUse, 'b.example'), 'Retire p/u1? You leave its 2 rooms (“Lunch”, “Books”), its KeyPackages are withdrawn from b.example, and it is never used again.');
  assert.equal(retireQuestion({ ...inUse, rooms: [inUse.rooms[0]] }, 'b.example').includes('You leave its room (“Lunch”)'), true);
  assert.equal(retireQuestion(older, 'b.example'), 'Retire p/o1? It is in no room. Its KeyPackages are withdrawn from b.example, and it is never used again.');
  assert.equal(poolSummary({ accountId: 'a', pseudonyms: [], unused: 2, threshold: 4, batch: 3, refilling: false }), '2 unused. When fewer than 4 are unused, the app asks for 3 more.');
  assert.match(poolSummary({ accountId: 'a', pseudonyms: [], unused: 0, threshold: 0, batch: 0, refilling: false }), /does not refill/);
});

test('pending incoming connection requests come oldest first; answered ones are left out', () => {
  const c = (id: string, at: number, state: ConnectionView['state']): ConnectionView => ({ id, direction: 'incoming', peer: BOB, verified: true, state, at });
  assert.deepEqual(
    pendingIncoming([c('mimi://x/r/2', 20, 'pending'), c('mimi://x/r/1', 10, 'pending'), c('mimi://x/r/3', 5, 'accepted'), c('mimi://x/r/4', 1, 'declined')]).map((x) => x.id),
    ['mimi://x/r/1', 'mimi://x/r/2'],
  );
  assert.equal(connectionStateText('incoming', 'pending'), 'waiting for your answer');
  assert.equal(connectionStateText('outgoing', 'pending'), 'waiting for an answer');
});

test('a verification view never takes the dialog back a stage of the same attempt (an event can overtake the answer)', async () => {
  const { laterView } = await import('../../src-renderer/src/lib/verification-stage.js');
  const view = (attemptId: string, stage: 'incoming' | 'waiting' | 'compare' | 'confirmed' | 'verified' | 'failed') => ({
    attemptId,
    otherDevice: { deviceId: 'd', name: 'Phone' },
    role: 'responder' as const,
    purpose: 'history' as const,
    stage,
  });
  // The reveal's event (compare) came first, then the answer to "accept" (waiting): compare stays.
  assert.equal(laterView(view('a1', 'compare'), view('a1', 'waiting')).stage, 'compare');
  assert.equal(laterView(view('a1', 'waiting'), view('a1', 'compare')).stage, 'compare');
  assert.equal(laterView(view('a1', 'verified'), view('a1', 'failed')).stage, 'failed', 'a history attempt can still fail after verified');
  assert.equal(laterView(view('a1', 'failed'), view('a1', 'compare')).stage, 'failed');
  // Another attempt, or nothing before: the new view as it comes.
  assert.equal(laterView(view('a1', 'verified'), view('a2', 'incoming')).stage, 'incoming');
  assert.equal(laterView(undefined, view('a2', 'waiting')).stage, 'waiting');
});
