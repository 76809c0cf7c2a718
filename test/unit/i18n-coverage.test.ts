// Every text a person reads in the window comes from the catalogue: no words in .vue templates,
// in attributes people read, or in sentence-like literals of the renderer's scripts
// (scripts/i18n-check.ts says what counts), and every literal key the renderer asks for exists.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkFile, rendererFiles } from '../../scripts/i18n-check.js';
import { CATALOGUES, lookup } from '../../src-shared/i18n/index.js';

test('no text outside the catalogue in the renderer', () => {
  const findings = rendererFiles().flatMap((f) => checkFile(f));
  assert.deepEqual(
    findings.map((f) => `${f.file}:${f.line}: ${f.text}`),
    [],
    'put these through the catalogue (src-shared/i18n), or mark a literal not meant for people with i18n-ignore',
  );
});

test('every literal catalogue key the renderer uses exists in English', () => {
  const missing: string[] = [];
  for (const file of rendererFiles()) {
    const source = readFileSync(file, 'utf8');
    // t('a.b'), t("a.b"), $t('a.b'), i18n.global.t('a.b'), keypath="a.b"
    for (const m of source.matchAll(/\b(?:\$?t|te)\(\s*['"]([A-Za-z][\w.-]*)['"]/g)) {
      if (lookup(CATALOGUES.en, m[1]) === undefined) missing.push(`${file}: ${m[1]}`);
    }
    for (const m of source.matchAll(/keypath="([A-Za-z][\w.-]*)"/g)) {
      if (lookup(CATALOGUES.en, m[1]) === undefined) missing.push(`${file}: ${m[1]}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the checker finds what it is for (so an empty list above means something)', () => {
  const findings = checkFile(new URL('./fixtures/i18n-unconverted.vue', import.meta.url).pathname);
  const texts = findings.map((f) => f.text);
  assert.ok(texts.includes('Delete this room'), texts.join(' | '));
  assert.ok(texts.some((t) => t.startsWith('aria-label="Close the dialog"')), texts.join(' | '));
  assert.ok(texts.includes('Saving…'), texts.join(' | '));
  assert.ok(texts.includes('The room could not be deleted; try again.'), texts.join(' | '));
  assert.ok(!texts.some((t) => t.includes('settings.title') || t.includes('room-delete')), texts.join(' | '));
});
