// The chat screen's sentences built from data (timeline events, receipt states, the typing line),
// in English and German, from the catalogue.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { i18n } from '../../src-renderer/src/i18n.js';
import { eventText, type EventNames } from '../../src-renderer/src/lib/event-text.js';
import { receiptState, receiptText } from '../../src-renderer/src/lib/receipts.js';
import { typingText } from '../../src-renderer/src/lib/typing-text.js';
import { TIMELINE_EVENT_KINDS, type TimelineEvent } from '../../src-shared/timeline-events.js';
import type { MessageView } from '../../src-shared/contract.js';

const ME = 'mimi://a.example/u/alice';
const BOB = 'mimi://a.example/u/bob';
const CAROL = 'mimi://b.example/u/carol';
const names: EventNames = {
  name: (u) => (u === CAROL ? 'carol@b.example' : u.replace(/^.*\/u\//, '')),
  isSelf: (u) => u === ME,
  role: (r) => ({ group_admin: 'Admin', ordinary_user: 'Member' })[r] ?? r,
};

afterEach(() => {
  i18n.global.locale.value = 'en';
});

test('every timeline event kind reads as an English sentence, for each actor', () => {
  const cases: Array<[TimelineEvent, string]> = [
    [{ kind: 'added', by: BOB, user: CAROL }, 'bob added carol@b.example'],
    [{ kind: 'added', by: ME, user: BOB }, 'You added bob'],
    [{ kind: 'added', by: BOB, user: ME }, 'bob added you'],
    [{ kind: 'removed', by: null, user: BOB }, 'bob was removed by the room’s provider'],
    [{ kind: 'removed', by: null, user: ME }, 'You were removed by the room’s provider'],
    [{ kind: 'kicked', by: ME, user: BOB }, 'You kicked bob'],
    [{ kind: 'banned', by: null, user: CAROL }, 'carol@b.example was banned by the room’s provider'],
    [{ kind: 'banned', by: BOB, user: ME }, 'bob banned you'],
    [{ kind: 'unbanned', by: null, user: BOB }, 'The room’s provider unbanned bob'],
    [{ kind: 'roleChanged', by: ME, user: BOB, from: 'ordinary_user', to: 'group_admin' }, 'You changed bob’s role from Member to Admin'],
    [{ kind: 'roleChanged', by: BOB, user: ME, from: 'ordinary_user', to: 'group_admin' }, 'bob changed your role from Member to Admin'],
    [{ kind: 'renamed', by: ME, name: 'Team lunch' }, 'You renamed the room to “Team lunch”'],
    [{ kind: 'renamed', by: BOB, name: '' }, 'bob removed the room’s name'],
    [{ kind: 'metadataChanged', by: BOB, field: 'subject', value: 'x'.repeat(90) }, `bob set the subject to “${'x'.repeat(80)}…”`],
    [{ kind: 'metadataChanged', by: ME, field: 'avatar', value: '' }, 'You removed the room’s picture'],
    [{ kind: 'metadataChanged', by: null, field: 'description', value: 'new' }, 'The room’s provider changed the room’s description'],
    [{ kind: 'rolesChanged', by: BOB }, 'bob changed the room’s roles'],
    [{ kind: 'joined', user: BOB, how: 'knock' }, 'bob came in to knock'],
    [{ kind: 'joined', user: ME, how: 'link' }, 'You joined with a link'],
    [{ kind: 'joined', user: BOB, how: 'again' }, 'bob joined again'],
    [{ kind: 'left', user: ME }, 'You left'],
    [{ kind: 'newDevice', user: CAROL }, 'carol@b.example added a new device'],
    [{ kind: 'verifiedChanged', user: CAROL }, 'carol@b.example’s devices changed since you verified them — compare your safety number again'],
  ];
  for (const [e, want] of cases) assert.equal(eventText(e, names), want);
  assert.deepEqual(new Set(cases.map(([e]) => e.kind)), new Set(TIMELINE_EVENT_KINDS), 'every kind is covered');
});

test('in German the verb follows who acted, and the viewer is the accusative "dich"', () => {
  i18n.global.locale.value = 'de';
  assert.equal(eventText({ kind: 'added', by: ME, user: BOB }, names), 'Du hast bob hinzugefügt');
  assert.equal(eventText({ kind: 'added', by: BOB, user: ME }, names), 'bob hat dich hinzugefügt');
  assert.equal(eventText({ kind: 'banned', by: null, user: ME }, names), 'Du wurdest vom Anbieter des Raums gesperrt');
  assert.equal(eventText({ kind: 'renamed', by: BOB, name: 'Mittag' }, names), 'bob hat den Raum in „Mittag“ umbenannt');
  assert.equal(eventText({ kind: 'left', user: BOB }, names), 'bob hat den Raum verlassen');
  assert.equal(eventText({ kind: 'roleChanged', by: null, user: ME, from: 'ordinary_user', to: 'group_admin' }, names), 'Der Anbieter des Raums hat deine Rolle von Member zu Admin geändert');
  // No placeholder or key left unfilled, whoever acts.
  for (const by of [ME, BOB, null]) {
    for (const user of [ME, BOB]) {
      const all: TimelineEvent[] = [
        { kind: 'added', by, user },
        { kind: 'removed', by, user },
        { kind: 'kicked', by, user },
        { kind: 'banned', by, user },
        { kind: 'unbanned', by, user },
        { kind: 'roleChanged', by, user, from: 'a', to: 'b' },
        { kind: 'renamed', by, name: by ? 'n' : '' },
        { kind: 'metadataChanged', by, field: 'subject', value: by ? '' : 'v' },
        { kind: 'rolesChanged', by },
        { kind: 'joined', user, how: 'link' },
        { kind: 'left', user },
        { kind: 'newDevice', user },
      ];
      for (const e of all) assert.doesNotMatch(eventText(e, names), /[{}]|timeline\.|^$/, JSON.stringify(e));
    }
  }
});

const own = (status: MessageView['status'], receipts?: MessageView['receipts']) => ({ status, receipts });

test('receipt states: sending, sent, delivered and read to some or all, not sent', () => {
  assert.equal(receiptState(own('pending')), 'pending');
  assert.equal(receiptState(own('failed')), 'failed');
  assert.equal(receiptState(own('sent')), 'sent', 'no receipts (not shared): just sent');
  assert.equal(receiptState(own('sent', { delivered: [], read: [], of: 2 })), 'sent');
  assert.equal(receiptState(own('sent', { delivered: [BOB], read: [], of: 2 })), 'deliveredSome');
  assert.equal(receiptState(own('sent', { delivered: [BOB], read: [CAROL], of: 2 })), 'readSome', 'a reader counts also as delivered');
  assert.equal(receiptState(own('sent', { delivered: [BOB, CAROL], read: [], of: 2 })), 'deliveredAll');
  assert.equal(receiptState(own('sent', { delivered: [], read: [BOB, CAROL], of: 2 })), 'readAll');
  assert.equal(receiptState(own('sent', { delivered: [], read: [BOB], of: 1 })), 'readAll');
});

test('receipt words: short between two, who or how many in a group', () => {
  const n = (u: string) => u.replace(/^.*\/u\//, '');
  assert.equal(receiptText(own('sent', { delivered: [], read: [BOB], of: 1 }), n), 'Read');
  assert.equal(receiptText(own('sent', { delivered: [BOB], read: [], of: 1 }), n), 'Delivered');
  assert.equal(receiptText(own('sent', { delivered: [BOB, CAROL], read: [], of: 4 }), n), 'Delivered to 2 of 4');
  assert.equal(receiptText(own('sent', { delivered: [], read: [BOB, CAROL], of: 4 }), n), 'Read by bob, carol');
  const many = ['a', 'b', 'c', 'd', 'e'].map((h) => `mimi://a.example/u/${h}`);
  assert.equal(receiptText(own('sent', { delivered: [], read: many, of: 9 }), n), 'Read by a, b, c and 2 more');
  assert.equal(receiptText(own('sent', { delivered: [], read: [BOB, CAROL], of: 2 }), n), 'Read by everyone');
  i18n.global.locale.value = 'de';
  assert.equal(receiptText(own('sent', { delivered: [BOB], read: [], of: 3 }), n), 'An 1 von 3 zugestellt');
  assert.equal(receiptText(own('sent', { delivered: [], read: [BOB], of: 1 }), n), 'Gelesen');
});

test('the typing line names one or two, and says "several" past that', () => {
  assert.equal(typingText([]), '');
  assert.equal(typingText(['bob']), 'bob is typing…');
  assert.equal(typingText(['bob', 'carol']), 'bob and carol are typing…');
  assert.equal(typingText(['bob', 'carol', 'dave']), 'Several people are typing…');
  i18n.global.locale.value = 'de';
  assert.equal(typingText(['bob', 'carol']), 'bob und carol schreiben…');
});
