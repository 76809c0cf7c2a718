// The room screens' lib code speaks the window's language and follows a change of it at run time:
// role names, link and knock states, durations, problems with a typed link or note, the report
// summary and reasons, and the shortcut list come from the catalogue each time they are asked for.

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { i18n } from '../../src-renderer/src/i18n.js';
import { roleLabel, roleTitle } from '../../src-renderer/src/lib/role-names.js';
import { duration, expiryText, knockNoteProblem, linkStateText, outgoingKnockText, readTypedLink, usesText } from '../../src-renderer/src/lib/join-links.js';
import { reportDoneText, reportReasonOptions } from '../../src-renderer/src/lib/message-report.js';
import { shortcutList } from '../../src-renderer/src/lib/shortcuts.js';
import { explainRoomError, roomGoneText } from '../../src-renderer/src/lib/room-errors.js';
import { CoreError, REPORT_REASONS, type MyKnockView } from '../../src-shared/contract.js';

const speak = (locale: 'en' | 'de') => {
  i18n.global.locale.value = locale;
};
afterEach(() => speak('en'));

test('roles read in the current language; a role the app does not know reads the same in both', () => {
  speak('de');
  assert.equal(roleLabel('group_admin'), 'Administrator');
  assert.equal(roleLabel('ordinary_user'), 'Mitglied');
  assert.equal(roleTitle('group_admin'), 'Rolle im Raumzustand: group_admin');
  assert.equal(roleLabel('night_shift-lead'), 'Night shift lead');
  speak('en');
  assert.equal(roleLabel('group_admin'), 'Admin', 'back in English at once');
});

test('links and knocks in German: states, uses, durations with plural forms, numbers as Germans write them', () => {
  speak('de');
  assert.equal(linkStateText('usedUp'), 'aufgebraucht');
  assert.equal(usesText({ maxUses: 5000, usesLeft: 1200 }), 'Noch 1.200 von 5.000 Nutzungen übrig');
  assert.equal(duration(60_000), '1 Minute');
  assert.equal(duration(5 * 3600_000), '5 Stunden');
  assert.equal(expiryText({ expiresAt: 10 + 3 * 24 * 3600_000, state: 'active' }, 10), 'Läuft ab in 3 Tagen');
  assert.match(knockNoteProblem('x'.repeat(1001)) ?? '', /höchstens 1\.000 Zeichen/);
  const knock: MyKnockView = { id: 'k1', roomUri: 'mimi://a.example/r/lunch', roomName: '', state: 'waiting', at: 0 } as MyKnockView;
  assert.equal(outgoingKnockText(knock), 'Warte auf die Administratoren von dem Raum auf a.example…');
});

test('a pasted link that is not one says why in the current language', () => {
  const bad = 'https://a.example/r/lunch?code=AAAAAAAAAAAAAAAAAAAAAA';
  speak('de');
  const de = readTypedLink(bad);
  assert.ok('problem' in de && /^Das ist kein Raum-Link \(er beginnt nicht mit einer Raumadresse\)/.test(de.problem), JSON.stringify(de));
  const cut = readTypedLink('mimi://a.example/r/lunch?code=AAA');
  assert.ok('problem' in cut && /Code fehlt oder ist abgeschnitten/.test(cut.problem));
  speak('en');
  const en = readTypedLink(bad);
  assert.ok('problem' in en && /^That is not a room link \(it does not start with a room address\)/.test(en.problem));
});

test('reports, shortcuts and room errors in German', () => {
  speak('de');
  assert.equal(reportDoneText(1, 'bob'), '1 Nachricht von bob an den Anbieter des Raums gemeldet.');
  assert.equal(reportDoneText(3, 'bob'), '3 Nachrichten von bob an den Anbieter des Raums gemeldet.');
  const reasons = reportReasonOptions();
  assert.deepEqual(reasons.map((r) => r.code), REPORT_REASONS.map((r) => r.code), 'every reason, by its code');
  assert.equal(reasons.find((r) => r.code === 0xf1)?.label, 'Spam oder Betrug');
  const list = shortcutList(false);
  assert.ok(list.some((s) => s.keys.includes('Strg+K') && s.what === 'Zu einem Raum nach Namen wechseln'));
  assert.ok(list.some((s) => s.keys.includes('Umschalt+Eingabe') && s.where === 'Nachrichtenfeld'));
  assert.match(explainRoomError(new CoreError('notMember', 'x')) ?? '', /^Du bist kein Mitglied dieses Raums mehr/);
  assert.match(roomGoneText(), /^Diesen Raum gibt es bei seinem Anbieter nicht mehr/);
  speak('en');
  assert.match(roomGoneText(), /^This room no longer exists/, 'back in English at once');
});
