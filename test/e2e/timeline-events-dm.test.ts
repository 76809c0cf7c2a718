// Timeline events and direct chats in real Chromium on the real core: two people on one provider
// (A's core runs the embedded provider, B signs up on it), each with their own core, bridge and
// page. Room changes (an add, a rename, a role change) show as compact lines among the messages on
// both pages, worded for each reader ("You added bob" / "alice added you"), and count as nothing
// unread; "Message" on a member opens a direct chat named after the other person on both sides, and
// from Find people it opens that same chat again. Every state passes axe in light, dark and at
// 480 px; screenshots go to test-artifacts/ (170- to 175-).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 30_000;

let pair: RealCorePair | undefined;
let a: RealCoreSide;
let b: RealCoreSide;

before(async () => {
  pair = await openPairOnOneProvider('events', { width: 1280, height: 860 });
  ({ a, b } = pair);
});

after(() => closePair(pair));

const roomByUri = (page: Page, uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);
const eventLine = (page: Page, text: string) => page.getByTestId('timeline-event').filter({ hasText: text });
const messageText = (page: Page, text: string) => page.locator('[data-testid=message-text]', { hasText: text });

/** axe on what `page` shows, in light, dark and at 480 px wide (then back to light and wide). */
async function accessibleEverywhere(page: Page, what: string): Promise<void> {
  await assertAccessible(page, `${what} (light)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, `${what} (dark)`);
  await page.setViewportSize({ width: 480, height: 860 });
  await assertAccessible(page, `${what} (dark, 480 px)`);
  await page.emulateMedia({ colorScheme: 'light' });
  await assertAccessible(page, `${what} (light, 480 px)`);
  await page.setViewportSize({ width: 1280, height: 860 });
}

test('room changes in the timeline for both members; "Message" opens the direct chat, named after the other person', async () => {
  await signUpPair({ a, b });
  const alice = (await a.core.accounts.list())[0];
  const bob = (await b.core.accounts.list())[0];

  // --- alice makes a room and adds bob: "You added bob" in her timeline ---
  await a.page.getByTestId('new-room').click();
  await a.page.getByTestId('new-room-name').fill('Lunch');
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await eventLine(a.page, 'You added bob').waitFor({ timeout: WAIT });
  const roomUri = (await a.core.rooms.list(alice.id)).find((r) => r.name === 'Lunch')!.roomUri;

  // A rename and a promotion (through the core, as the settings screen does) reach both.
  await a.core.rooms.setMetadata(alice.id, roomUri, { name: 'Team lunch' });
  await a.core.rooms.setRole(alice.id, roomUri, bob.userUri, 3);
  await eventLine(a.page, 'You renamed the room to “Team lunch”').waitFor({ timeout: WAIT });
  await eventLine(a.page, 'You changed bob’s role from Member to Admin').waitFor({ timeout: WAIT });
  // No message yet: events are no unread messages on bob's side.
  await roomByUri(b.page, roomUri).waitFor({ timeout: WAIT });
  await eventually('bob has the room renamed', async () => (await roomByUri(b.page, roomUri).getAttribute('data-room-name')) === 'Team lunch', WAIT);
  assert.equal(await roomByUri(b.page, roomUri).getByTestId('room-unread').count(), 0, 'events count as nothing unread');
  await a.page.getByTestId('composer-input').fill('Noon at the usual place?');
  await a.page.getByTestId('composer-input').press('Enter');
  await roomByUri(b.page, roomUri).getByTestId('room-unread').filter({ hasText: '1' }).waitFor({ timeout: WAIT });
  await roomByUri(b.page, roomUri).click();
  await eventLine(b.page, 'alice renamed the room to “Team lunch”').waitFor({ timeout: WAIT });
  await eventLine(b.page, 'alice changed your role from Member to Admin').waitFor();
  await messageText(b.page, 'Noon at the usual place?').waitFor();
  // In the order they happened: the rename, the promotion, then the message.
  const order = await b.page.getByTestId('timeline').evaluate((el) =>
    [...el.querySelectorAll<HTMLElement>('[data-testid=timeline-event], [data-testid=message-text]')].sort((x, y) => x.getBoundingClientRect().top - y.getBoundingClientRect().top).map((e) => e.innerText.split('\n')[0]),
  );
  assert.deepEqual(order.map((t) => t.replace(/\s*\d{1,2}:\d{2}.*$/, '')), ['alice renamed the room to “Team lunch”', 'alice changed your role from Member to Admin', 'Noon at the usual place?']);
  // An event row offers nothing to do (no report, no message actions).
  assert.equal(await b.page.getByTestId('timeline-event-row').getByRole('button').count(), 0);
  await screenshot(a.page, '170-timeline-events-alice');
  await screenshot(b.page, '171-timeline-events-bob');
  await accessibleEverywhere(b.page, 'a timeline with events');

  // --- "Message" on bob in alice's member list: a direct chat, named "bob" ---
  const roomsBefore = (await a.core.rooms.list(alice.id)).length;
  const member = a.page.getByTestId('member-item').filter({ hasText: 'bob' });
  await member.getByTestId('message-person').click();
  await a.page.getByTestId('room-title').filter({ hasText: /^bob$/ }).waitFor({ timeout: WAIT });
  await eventLine(a.page, 'You added bob').waitFor({ timeout: WAIT });
  const dm = (await a.core.rooms.list(alice.id)).find((r) => r.direct === bob.userUri)!;
  assert.ok(dm, 'a direct chat with bob');
  assert.equal(await roomByUri(a.page, dm.roomUri).locator('.room-name').innerText(), 'bob');
  await a.page.getByTestId('composer-input').fill('Just between us: bring the list');
  await a.page.getByTestId('composer-input').press('Enter');
  await messageText(a.page, 'Just between us: bring the list').waitFor({ timeout: WAIT });
  await screenshot(a.page, '172-direct-chat-alice');
  await accessibleEverywhere(a.page, 'a direct chat');

  // bob's side names it "alice".
  await roomByUri(b.page, dm.roomUri).waitFor({ timeout: WAIT });
  assert.equal(await roomByUri(b.page, dm.roomUri).locator('.room-name').innerText(), 'alice');
  await roomByUri(b.page, dm.roomUri).click();
  await b.page.getByTestId('room-title').filter({ hasText: /^alice$/ }).waitFor({ timeout: WAIT });
  await messageText(b.page, 'Just between us: bring the list').waitFor({ timeout: WAIT });
  await screenshot(b.page, '173-direct-chat-bob');

  // "Message" again, from the team room's member list: the same chat, not a new one.
  await roomByUri(a.page, roomUri).click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Team lunch' }).waitFor();
  await a.page.getByTestId('member-item').filter({ hasText: 'bob' }).getByTestId('message-person').click();
  await a.page.getByTestId('room-title').filter({ hasText: /^bob$/ }).waitFor({ timeout: WAIT });
  assert.equal((await a.core.rooms.list(alice.id)).length, roomsBefore + 1);

  // --- from Find people, bob messages alice: the same chat opens ---
  await b.page.getByTestId('open-people').click();
  await b.page.getByTestId('people-tab-find').click();
  await b.page.getByTestId('find-field').selectOption('handle');
  await b.page.getByTestId('find-value').fill('alice');
  await b.page.getByTestId('find-submit').click();
  const found = b.page.locator(`[data-testid=find-result][data-user="${alice.userUri}"]`);
  await found.waitFor({ timeout: WAIT });
  await screenshot(b.page, '174-find-people-message');
  await accessibleEverywhere(b.page, 'find people with "Message"');
  await found.getByTestId('message-person').click();
  await b.page.getByTestId('room-title').filter({ hasText: /^alice$/ }).waitFor({ timeout: WAIT });
  await messageText(b.page, 'Just between us: bring the list').waitFor({ timeout: WAIT });
  assert.equal((await b.core.rooms.list(bob.id)).filter((r) => r.direct === alice.userUri).length, 1, 'one direct chat with alice');
  await screenshot(b.page, '175-direct-chat-from-find');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
