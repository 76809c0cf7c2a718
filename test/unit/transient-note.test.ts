// Success notes clear themselves: after NOTE_MS, a new note restarts the countdown, clear() is at
// once, and a component's notes stop their timers with it.

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { effectScope } from 'vue';
import { NOTE_MS, useTransientNote } from '../../src-renderer/src/lib/transient-note.js';

test('a note goes after NOTE_MS; a second one restarts the countdown', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const note = useTransientNote();
    note.show('Added bob.');
    assert.equal(note.text.value, 'Added bob.');
    mock.timers.tick(NOTE_MS - 1);
    assert.equal(note.text.value, 'Added bob.');
    note.show('Added carl.');
    mock.timers.tick(NOTE_MS - 1);
    assert.equal(note.text.value, 'Added carl.', 'the second note has its own time');
    mock.timers.tick(1);
    assert.equal(note.text.value, '');
  } finally {
    mock.timers.reset();
  }
});

test('clear() takes it away at once, and the old timer does not clear a later note', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const note = useTransientNote(1000);
    note.show('Saved.');
    note.clear();
    assert.equal(note.text.value, '');
    mock.timers.tick(500);
    note.show('Saved again.');
    mock.timers.tick(600);
    assert.equal(note.text.value, 'Saved again.');
    mock.timers.tick(400);
    assert.equal(note.text.value, '');
  } finally {
    mock.timers.reset();
  }
});

test('a component’s note stops its timer when the component goes', () => {
  const pending = new Set<number>();
  let next = 0;
  const timers = { set: () => (pending.add(++next), next), cancel: (h: unknown) => pending.delete(h as number) };
  const scope = effectScope();
  const note = scope.run(() => useTransientNote(1000, timers))!;
  note.show('Copied.');
  assert.equal(pending.size, 1);
  scope.stop();
  assert.equal(pending.size, 0);
});

test('setting the text directly starts the countdown too', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const note = useTransientNote(1000);
    note.text.value = 'Retired p/Zk3Jx8….';
    mock.timers.tick(999);
    assert.equal(note.text.value, 'Retired p/Zk3Jx8….');
    mock.timers.tick(1);
    assert.equal(note.text.value, '');
  } finally {
    mock.timers.reset();
  }
});
