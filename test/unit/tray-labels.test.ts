// The tray speaks the window's language: the page sends the five labels (templates with {count}),
// main checks them strictly before they reach the OS menu, and falls back to English until then.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTrayLabels, DesktopArgError, ENGLISH_TRAY_LABELS, trayMenu, trayTooltip } from '../../src-main/electron/desktop-ipc.js';
import { de } from '../../src-shared/i18n/de/index.js';

const german = { ...de.app.tray };

test('tray labels: German from the page, with the count filled in by main', () => {
  const labels = checkTrayLabels(german);
  assert.deepEqual(labels, german);
  assert.equal(trayTooltip(0, labels), 'mimi');
  assert.equal(trayTooltip(4, labels), 'mimi: 4 ungelesen');
  assert.deepEqual(
    trayMenu(4, labels).map((i) => [i.id, i.label, i.enabled]),
    [
      ['unread', '4 ungelesen', false],
      ['open', 'mimi öffnen', true],
      ['quit', 'mimi beenden', true],
    ],
  );
  assert.deepEqual(trayMenu(0, labels).map((i) => i.id), ['open', 'quit'], 'no unread line without unread messages');
});

test('tray labels: English until the page sends its own', () => {
  assert.equal(trayTooltip(2), 'mimi: 2 unread');
  assert.deepEqual(trayMenu(2).map((i) => i.label), ['2 unread', 'Open mimi', 'Quit mimi']);
  assert.deepEqual(trayMenu(1, ENGLISH_TRAY_LABELS).map((i) => i.label), ['1 unread', 'Open mimi', 'Quit mimi']);
});

test('tray labels: anything but exactly five short plain texts is refused', () => {
  assert.throws(() => checkTrayLabels(null), DesktopArgError);
  assert.throws(() => checkTrayLabels([german]), DesktopArgError);
  assert.throws(() => checkTrayLabels(Object.assign(Object.create({ polluted: true }), german)), DesktopArgError, 'only plain objects');
  assert.throws(() => checkTrayLabels({ ...german, icon: 'file:///etc/passwd' }), /unknown field icon/);
  const { quit: _quit, ...missing } = german;
  assert.throws(() => checkTrayLabels(missing), /quit must be a string/);
  assert.throws(() => checkTrayLabels({ ...german, open: '' }), /open must be 1-120 characters/);
  assert.throws(() => checkTrayLabels({ ...german, open: 'x'.repeat(121) }), DesktopArgError);
  assert.throws(() => checkTrayLabels({ ...german, unread: 'a\u0007b' }), /control characters/);
  assert.throws(() => checkTrayLabels({ ...german, tooltip: 42 }), DesktopArgError);
});
