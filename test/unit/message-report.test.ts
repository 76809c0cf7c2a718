// Reporting messages, the renderer's pure part: which rows offer Report, which of a sender's
// messages the dialog lists, which ids a selection sends (an edited message with its edit), and
// the 16-id limit of one report.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MessageView } from '../../src-shared/contract.js';
import { buildRows } from '../../src-renderer/src/lib/timeline-model.js';
import { MESSAGE_REPORT_MAX, canAddToReport, canReportRow, reportCandidates, reportDoneText, selectedIds } from '../../src-renderer/src/lib/message-report.js';

const ME = 'mimi://a.example/u/alice';
const BOB = 'mimi://a.example/u/bob';
const CARL = 'mimi://b.example/u/carl';
const ROOM = 'mimi://a.example/r/r1';
const T0 = new Date(2025, 0, 15, 12, 0, 0).getTime();
const id = (seq: number) => seq.toString(16).padStart(64, '0');

function msg(seq: number, sender: string, over: Partial<MessageView> = {}): MessageView {
  return { seq, messageId: id(seq), roomUri: ROOM, sender, text: `text ${seq}`, contentType: 'text/plain', timestamp: T0 + seq * 1000, status: sender === ME ? 'sent' : 'received', ...over };
}

test('Report is offered on received messages of others, not deleted ones, and only where the policy allows', () => {
  const rows = buildRows(
    [msg(1, ME), msg(2, BOB), msg(3, BOB, { deleted: true }), msg(4, ME, { status: 'pending' }), msg(5, CARL), msg(6, ME, { status: 'failed' })],
    ME,
    T0,
  );
  assert.deepEqual(
    rows.map((r) => canReportRow(r, true)),
    [false, true, false, false, true, false],
  );
  assert.ok(rows.every((r) => !canReportRow(r, false)), 'nothing without canReportAbuse');
  // A message of another device of this account, seen as received, is still this account's own.
  const own = buildRows([msg(7, ME, { status: 'received' })], ME, T0);
  assert.equal(canReportRow(own[0], true), false);
});

test('the dialog lists the sender’s messages only, folded like the timeline, an edit sent with its message', () => {
  const items = [
    msg(1, BOB),
    msg(2, ME),
    msg(3, CARL),
    msg(4, BOB),
    msg(5, BOB, { replaces: id(4), text: 'edited text' }),
    msg(6, ME, { reaction: '👍', inReplyTo: id(1) }),
    msg(7, BOB, { deleted: true }),
    msg(8, BOB, { replaces: id(1), deleted: true }),
    msg(9, BOB),
  ];
  const c = reportCandidates(items, ME, BOB, id(4));
  assert.deepEqual(
    c.map((x) => [x.messageId, x.ids, x.text, x.edited]),
    [
      [id(4), [id(4), id(5)], 'edited text', true],
      [id(9), [id(9)], 'text 9', false],
    ],
    'deleted messages (and one deleted by a later edit) are left out',
  );
  assert.deepEqual(selectedIds(c, new Set([id(9), id(4)])), [id(4), id(5), id(9)], 'in timeline order');
  assert.deepEqual(selectedIds(c, new Set()), []);
});

test('at most 16 listed, around the clicked message; the newest when it is the newest', () => {
  const items = Array.from({ length: 40 }, (_, i) => msg(i + 1, BOB));
  const newest = reportCandidates(items, ME, BOB, id(40));
  assert.equal(newest.length, MESSAGE_REPORT_MAX);
  assert.equal(newest.at(-1)!.messageId, id(40));
  assert.equal(newest[0].messageId, id(25));
  const middle = reportCandidates(items, ME, BOB, id(20));
  assert.deepEqual([middle[0].messageId, middle.at(-1)!.messageId], [id(12), id(27)]);
  const oldest = reportCandidates(items, ME, BOB, id(1));
  assert.deepEqual([oldest[0].messageId, oldest.at(-1)!.messageId], [id(1), id(16)]);
  assert.equal(reportCandidates(items, ME, CARL, id(1)).length, 0);
});

test('a selection stays within 16 ids: an edited message counts twice', () => {
  const items = [msg(1, BOB), msg(2, BOB, { replaces: id(1), text: 'worse' }), ...Array.from({ length: 15 }, (_, i) => msg(i + 3, BOB))];
  const c = reportCandidates(items, ME, BOB, id(3));
  assert.equal(c.length, 16);
  const plain = new Set(c.filter((x) => !x.edited).map((x) => x.messageId));
  assert.equal(selectedIds(c, plain).length, 15);
  assert.equal(canAddToReport(c, plain, id(1)), false, 'the edited one needs two more ids');
  const allButOne = new Set([...plain].slice(1));
  assert.equal(canAddToReport(c, allButOne, id(1)), true);
  assert.equal(canAddToReport(c, plain, id(3)), true, 'a checked one can always stay');
  assert.equal(canAddToReport(c, plain, 'f'.repeat(64)), false, 'not in the list');
});

test('the confirmation counts the messages checked', () => {
  assert.equal(reportDoneText(1, 'bob'), 'Reported 1 message from bob to the room’s provider.');
  assert.equal(reportDoneText(3, 'bob@b.example'), 'Reported 3 messages from bob@b.example to the room’s provider.');
});
