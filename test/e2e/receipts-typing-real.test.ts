// Receipts and typing end to end in real Chromium on the real core: two people on one provider
// (A's core runs the embedded provider, B signs up on it). alice's message shows "Delivered" once
// bob's app has it and "Read" once bob opens the room; bob typing shows "bob is typing…" above
// alice's composer, and it goes when he clears his text. Screenshots 247 and 248.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 30_000;

let pair: RealCorePair | undefined;
let a: RealCoreSide;
let b: RealCoreSide;

before(async () => {
  pair = await openPairOnOneProvider('receipts', { width: 1100, height: 800 });
  ({ a, b } = pair);
});

after(() => closePair(pair));

const roomByUri = (page: Page, uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);
const messageWith = (page: Page, text: string) => page.getByTestId('message').filter({ has: page.getByTestId('message-text').getByText(text, { exact: true }) });

test('bob reading shows "Read" on alice’s message; bob typing shows at alice', async () => {
  await signUpPair({ a, b });
  const alice = (await a.core.accounts.list())[0];

  await a.page.getByTestId('new-room').click();
  await a.page.getByTestId('new-room-name').fill('Coffee');
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Coffee' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await a.page.getByTestId('timeline-event').filter({ hasText: 'You added bob' }).waitFor({ timeout: WAIT });
  const roomUri = (await a.core.rooms.list(alice.id)).find((r) => r.name === 'Coffee')!.roomUri;
  // bob has the room, but is not looking at it.
  await roomByUri(b.page, roomUri).waitFor({ timeout: WAIT });

  await a.page.getByTestId('composer-input').fill('Coffee at ten?');
  await a.page.getByTestId('composer-input').press('Enter');
  const receipt = messageWith(a.page, 'Coffee at ten?').getByTestId('message-receipt');
  await receipt.waitFor({ timeout: WAIT });
  // bob's app got it (his device says so by itself): delivered, not read.
  await eventually('delivered to bob', async () => (await receipt.getAttribute('data-state')) === 'deliveredAll', WAIT);
  assert.equal(await receipt.getAttribute('title'), 'Delivered');

  // bob opens the room: read.
  await roomByUri(b.page, roomUri).click();
  await b.page.getByTestId('message-text').filter({ hasText: 'Coffee at ten?' }).waitFor({ timeout: WAIT });
  await eventually('read by bob', async () => (await receipt.getAttribute('data-state')) === 'readAll', WAIT);
  assert.equal(await receipt.getAttribute('title'), 'Read');
  assert.equal(await messageWith(a.page, 'Coffee at ten?').getByTestId('message-receipt-text').textContent(), 'Read');
  // The receipt is for alice's own message only: bob's copy carries none.
  assert.equal(await messageWith(b.page, 'Coffee at ten?').getByTestId('message-receipt').count(), 0);
  await screenshot(a.page, '247-real-read');

  // bob types: alice sees it above her composer; he clears his text: it goes.
  const line = a.page.getByTestId('typing-line');
  await b.page.getByTestId('composer-input').pressSequentially('Sure, see', { delay: 30 });
  await line.filter({ hasText: 'bob is typing…' }).waitFor({ timeout: WAIT });
  await screenshot(a.page, '248-real-typing');
  await assertAccessible(a.page, 'alice with bob typing');
  await b.page.getByTestId('composer-input').fill('');
  await eventually('the typing line empty again', async () => (await line.innerText()) === '', WAIT);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
