// The message catalogue (src-shared/i18n): every language has English's keys, the same
// placeholders and plural forms, and every message compiles in vue-i18n's message syntax (an
// unescaped @ or | in a translation would break the window at run time, not the build).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseCompile } from '@intlify/message-compiler';
import { CATALOGUES, LOCALES, formatMessage, keysOf, localeFor, lookup, translate } from '../../src-shared/i18n/index.js';

const en = CATALOGUES.en;

function placeholders(message: string): string[] {
  return [...message.matchAll(/\{\s*([A-Za-z_]\w*)\s*\}/g)].map((m) => m[1]).sort();
}
function pluralCount(message: string): number {
  return message.replace(/\{[^}]*\}/g, '').split('|').length;
}

test('every language has exactly the English keys, none empty', () => {
  const want = keysOf(en).sort();
  assert.ok(want.length > 0);
  for (const locale of LOCALES) {
    const have = keysOf(CATALOGUES[locale]).sort();
    assert.deepEqual(have, want, `${locale}: keys differ from English`);
    for (const key of have) assert.ok(lookup(CATALOGUES[locale], key)!.trim() !== '', `${locale}.${key} is empty`);
  }
});

test('translations keep the placeholders and plural forms of the English message', () => {
  for (const locale of LOCALES) {
    for (const key of keysOf(en)) {
      const ref = lookup(en, key)!;
      const msg = lookup(CATALOGUES[locale], key)!;
      assert.deepEqual([...new Set(placeholders(msg))], [...new Set(placeholders(ref))], `${locale}.${key}: placeholders`);
      assert.equal(pluralCount(msg), pluralCount(ref), `${locale}.${key}: plural forms`);
    }
  }
});

test('every message compiles in vue-i18n syntax', () => {
  for (const locale of LOCALES) {
    for (const key of keysOf(CATALOGUES[locale])) {
      const errors: string[] = [];
      baseCompile(lookup(CATALOGUES[locale], key)!, { onError: (e) => errors.push(e.message), jit: true });
      assert.deepEqual(errors, [], `${locale}.${key} does not compile`);
    }
  }
});

test('the German catalogue is a translation, not a copy of English', () => {
  // Short words may coincide (e.g. "Name", "Start"); whole sentences should not.
  const same = keysOf(en).filter((k) => {
    const e = lookup(en, k)!;
    return e.includes(' ') && e === lookup(CATALOGUES.de, k);
  });
  assert.ok(same.length <= Math.max(3, keysOf(en).length / 50), `untranslated in de: ${same.join(', ')}`);
});

test('formatMessage fills parameters, literals and plural forms as vue-i18n does', () => {
  assert.equal(formatMessage('Added {name}.', { name: 'bob' }), 'Added bob.');
  assert.equal(formatMessage("bob{'@'}b.example"), 'bob@b.example');
  assert.equal(formatMessage('one message | {count} messages', { count: 1 }), 'one message');
  assert.equal(formatMessage('one message | {count} messages', { count: 4 }), '4 messages');
  assert.equal(formatMessage('none | one | {count}', { count: 0 }), 'none');
  assert.equal(formatMessage('Missing {x}.'), 'Missing {x}.');
});

test('languages are chosen from BCP 47 tags, English otherwise', () => {
  assert.equal(localeFor('de-AT'), 'de');
  assert.equal(localeFor('de'), 'de');
  assert.equal(localeFor('fr-FR'), 'en');
  assert.equal(localeFor(undefined), 'en');
  assert.equal(translate('common.close', {}, 'de'), 'Schließen');
  assert.equal(translate('no.such.key'), 'no.such.key');
});
