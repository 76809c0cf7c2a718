// The sentences the People, consent, connection and pseudonym screens build outside components
// come from the catalogue in the window's language at the moment they are asked for: English by
// default, German once the language is switched, without reloading anything.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { nextTick } from 'vue';
import type { PseudonymView } from '../../src-shared/contract.js';
import { localeChoice } from '../../src-renderer/src/i18n.js';
import { outcomeText, quoted, roomLabel } from '../../src-renderer/src/lib/consent-text.js';
import { policyFromDraft, policySummary } from '../../src-renderer/src/lib/connection-requests.js';
import { typedUser } from '../../src-renderer/src/lib/identity.js';
import { connectionStateText, memberName, poolSummary, pseudonymState, retireQuestion } from '../../src-renderer/src/lib/pseudonyms.js';

const ROOM = 'mimi://b.example/r/unknown';
const PSEUDO = 'mimi://b.example/p/Hs5dPqZ9';
const pool = { accountId: 'a', pseudonyms: [], unused: 2, threshold: 4, batch: 3, refilling: false };
const inRooms = (n: number): PseudonymView => ({
  userPseudonym: 'mimi://b.example/p/u1',
  clientPseudonym: 'mimi://b.example/p/u1/c1',
  state: 'inUse',
  issuedAt: 0,
  keyPackages: 1,
  rooms: [{ roomUri: 'mimi://b.example/r/1', name: 'Lunch' }, { roomUri: 'mimi://b.example/r/2', name: 'Books' }].slice(0, n),
});

async function use(locale: 'en' | 'de'): Promise<void> {
  localeChoice.value = locale;
  // The language follows the choice through a watcher, which runs on the next tick.
  await nextTick();
}

after(() => use('en'));

test('English by default', () => {
  assert.equal(roomLabel(ROOM, []), 'a room on b.example');
  assert.equal(roomLabel(ROOM, [], 'Lunch'), '“Lunch”');
  assert.equal(outcomeText('granted'), 'accepted — you can add them now');
  assert.equal(connectionStateText('incoming', 'declined'), 'declined');
  assert.deepEqual(typedUser('', 'a.example'), { problem: 'Type a handle such as bob, bob@b.example or mimi://b.example/u/bob.' });
  assert.equal(policySummary({ mode: 'domains', domains: ['b.example', 'c.example', 'd.example'] }), 'Only people on b.example, c.example and d.example may send you connection requests.');
});

test('switched to German, the same functions answer in German, plural forms included', async () => {
  await use('de');
  assert.equal(quoted('Lunch'), '„Lunch“');
  assert.equal(roomLabel(ROOM, []), 'einem Raum auf b.example');
  assert.equal(roomLabel(undefined, []), 'einem beliebigen Raum');
  assert.equal(outcomeText('pending'), 'wartet auf Antwort');
  assert.equal(connectionStateText('incoming', 'pending'), 'wartet auf deine Antwort');
  assert.deepEqual(typedUser('bob bob', 'a.example'), { problem: '„bob bob“ ist keine Nutzeradresse. Verwende bob, bob@b.example oder mimi://b.example/u/bob.' });
  assert.deepEqual(policyFromDraft('domains', ''), { problem: 'Gib mindestens eine Domain eines Anbieters ein, etwa b.example, oder wähle „Niemand“.' });
  assert.equal(policySummary({ mode: 'domains', domains: ['b.example', 'c.example'] }), 'Nur Personen bei b.example und c.example dürfen dir Verbindungsanfragen senden.');
  assert.equal(policySummary({ mode: 'nobody', domains: [] }), 'Niemand kann dir Verbindungsanfragen senden.');
  assert.equal(poolSummary(pool), '2 unbenutzt. Sind weniger als 4 unbenutzt, fordert die App 3 weitere an.');
  assert.equal(pseudonymState(inRooms(2)), 'Benutzt in „Lunch“, „Books“');
  assert.equal(
    retireQuestion(inRooms(1), 'b.example'),
    'p/u1 stilllegen? Du verlässt seinen Raum („Lunch“), seine KeyPackages werden von b.example zurückgezogen, und es wird nie wieder verwendet.',
  );
  assert.match(retireQuestion(inRooms(2), 'b.example'), /^p\/u1 stilllegen\? Du verlässt seine 2 Räume \(„Lunch“, „Books“\)/);
  assert.equal(memberName(PSEUDO, undefined, 'a.example').problem, 'noch keine Identität erhalten');

  await use('en');
  assert.equal(poolSummary(pool), '2 unused. When fewer than 4 are unused, the app asks for 3 more.', 'and back, at once');
});
