// Message search in real Chromium against the real core: two people on one provider (A's core runs
// the embedded provider), in two rooms. bob searches by word prefix across rooms and in one room,
// sees the matches newest first with the words marked, opens one (its room opens), and finds a
// message that arrived after the first search. axe-clean in light, dark and at 480px; the profile's
// search index file holds none of the words.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { SEARCH_FILE } from '../../src-main/core/search.js';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 20_000;
let pair: RealCorePair | undefined;
let a: RealCoreSide;
let b: RealCoreSide;

before(async () => {
  pair = await openPairOnOneProvider('search', { width: 1200, height: 860 });
  ({ a, b } = pair);
});

after(() => closePair(pair));

async function makeRoom(p: Page, name: string): Promise<void> {
  await p.getByTestId('new-room').click();
  await p.getByTestId('new-room-name').fill(name);
  await p.getByTestId('create-room-submit').click();
  await p.getByTestId('room-title').filter({ hasText: name }).waitFor({ timeout: WAIT });
  await p.getByTestId('add-member-input').fill('bob');
  await p.getByTestId('add-member-submit').click();
  await eventually(`bob in ${name}`, async () => (await p.getByTestId('member-item').count()) === 2, WAIT);
}

async function say(p: Page, text: string): Promise<void> {
  const input = p.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
}

const results = (p: Page) => p.getByTestId('search-result');

test('search messages on the real core: prefixes, every room or one, open a match, new messages found', async () => {
  await signUpPair({ a, b });
  const bob = (await b.core.accounts.list())[0];
  await makeRoom(a.page, 'Allotment');
  await say(a.page, 'The pumpkins are huge this year');
  await say(a.page, 'Water the beans tomorrow');
  await makeRoom(a.page, 'Cooking');
  await say(a.page, 'Pumpkin soup on Sunday?');
  await eventually('bob has both rooms’ messages', async () => (await b.core.rooms.list(bob.id)).filter((r) => r.lastMessage).length === 2, WAIT);

  await b.page.getByTestId('open-search').click();
  await b.page.getByRole('heading', { name: 'Search messages' }).waitFor({ timeout: WAIT });
  assert.equal(await b.page.evaluate(() => document.activeElement?.id), 'search-query', 'the field has focus');
  await b.page.getByTestId('search-query').fill('PUMPK');
  await eventually('two matches', async () => (await results(b.page).count()) === 2, WAIT);
  const texts = await results(b.page).locator('.search-snippet').allInnerTexts();
  assert.deepEqual(texts, ['Pumpkin soup on Sunday?', 'The pumpkins are huge this year'], 'newest first');
  assert.deepEqual(await results(b.page).locator('mark').allInnerTexts(), ['Pumpk', 'pumpk'], 'the typed prefix marked');
  assert.match((await b.page.getByTestId('search-status').innerText()).trim(), /^2 messages found\.$/);
  assert.deepEqual(await results(b.page).locator('.search-room').allInnerTexts(), ['Cooking', 'Allotment'], 'the rooms by the names the room list shows');
  await assertAccessible(b.page, 'search results (light)');
  await screenshot(b.page, '190-search-results');

  // Every word must match; one room only.
  await b.page.getByTestId('search-query').fill('pumpk huge');
  await eventually('one match for two words', async () => (await results(b.page).count()) === 1, WAIT);
  await b.page.getByTestId('search-query').fill('pumpk');
  await b.page.getByTestId('search-room').selectOption({ label: 'Cooking' });
  await eventually('one match in Cooking', async () => (await results(b.page).count()) === 1 && (await results(b.page).innerText()).includes('soup'), WAIT);
  await b.page.getByTestId('search-query').fill('carrots');
  await eventually('nothing found', async () => (await b.page.getByTestId('search-status').innerText()).trim() === 'No messages found.', WAIT);

  // Dark and narrow.
  await b.page.getByTestId('search-room').selectOption({ label: 'Every room' });
  await b.page.getByTestId('search-query').fill('bean');
  await eventually('the beans', async () => (await results(b.page).count()) === 1, WAIT);
  await b.page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(b.page, 'search results (dark)');
  await b.page.setViewportSize({ width: 480, height: 860 });
  await assertAccessible(b.page, 'search results (dark, 480px)');
  assert.ok(await b.page.evaluate(() => document.documentElement.scrollWidth <= 480), 'nothing wider than 480px');
  await screenshot(b.page, '191-search-dark-narrow');
  await b.page.emulateMedia({ colorScheme: 'light' });
  await b.page.setViewportSize({ width: 1200, height: 860 });

  // Opening a match opens its room.
  await results(b.page).first().click();
  await b.page.getByTestId('room-title').filter({ hasText: 'Allotment' }).waitFor({ timeout: WAIT });

  // A message that arrives later is found too.
  await say(a.page, 'Bring the wheelbarrow');
  await eventually('bob has it', async () => (await b.core.rooms.list(bob.id)).some((r) => r.lastMessage?.text === 'Bring the wheelbarrow'), WAIT);
  const found = await b.core.messages.search(bob.id, 'wheelb', null, 10);
  assert.deepEqual(found.results.map((r) => r.snippet), ['Bring the wheelbarrow']);

  // The index file holds none of the words.
  const dir = path.join(b.dir, 'accounts', bob.id);
  const bytes = Buffer.concat(fs.readdirSync(dir).filter((f) => f.startsWith(SEARCH_FILE)).map((f) => fs.readFileSync(path.join(dir, f))));
  assert.ok(bytes.length > 0);
  for (const w of ['pumpkin', 'Pumpkin', 'beans', 'wheelbarrow', 'soup']) assert.ok(!bytes.includes(Buffer.from(w)), `"${w}" not in the index`);
});
