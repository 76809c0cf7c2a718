// Settings → Receipts and typing in real Chromium on two real cores (A's runs the embedded
// provider, bob signs up on it): bob's three switches as his core keeps them, a switch turned off
// in the page is off in the core and stays off after the dialog is reopened, and a room of alice's
// that requires delivery receipts and forbids read receipts is named under those switches. axe-core
// light, dark and at 480 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair } from './browser.js';

const WAIT = 45_000;
let pair: RealCorePair;
let bobId: string;

before(async () => {
  pair = await openPairOnOneProvider('privacy', { width: 1280, height: 800 });
  await signUpPair(pair);
  const aliceId = (await pair.a.core.accounts.list())[0].id;
  bobId = (await pair.b.core.accounts.list())[0].id;
  // Moderated: alice (super_admin) may set the room's receipt policy.
  const room = await pair.a.core.rooms.create(aliceId, 'Quiet hours', 'moderated');
  await pair.a.core.rooms.addMember(aliceId, room.roomUri, 'bob');
  await pair.a.core.rooms.setReceiptPolicy(aliceId, room.roomUri, { delivery: 'required', read: 'forbidden' });
  await eventually('bob has the room with its policy', async () => {
    const rooms = await pair.b.core.rooms.list(bobId);
    if (!rooms.some((r) => r.roomUri === room.roomUri)) return false;
    return (await pair.b.core.rooms.settings(bobId, room.roomUri)).receiptPolicy?.read === 'forbidden';
  }, WAIT);
});

after(async () => {
  await closePair(pair);
});

async function openSettings(page: Page): Promise<void> {
  await page.getByTestId('open-settings').click();
  await page.getByTestId('settings-privacy').waitFor();
  await eventually('the switches are loaded', async () => !(await page.getByTestId('privacy-switch-readReceipts').isDisabled()));
}

test('privacy switches: what the core keeps, changed from the page, rooms that decide named; axe light, dark, 480 px', async () => {
  const page = pair.b.page;
  await openSettings(page);
  const section = page.getByTestId('settings-privacy');
  for (const key of ['deliveryReceipts', 'readReceipts', 'typing']) assert.equal(await page.getByTestId(`privacy-switch-${key}`).isChecked(), true, `${key} on by default`);
  assert.match(await section.innerText(), /Tell senders when you have opened the room and read their message\./);
  // The room's policy decides there, whatever the switch.
  await eventually('the rooms that decide', async () => (await page.getByTestId('privacy-forbidden-readReceipts').count()) === 1);
  assert.match(await page.getByTestId('privacy-required-deliveryReceipts').innerText(), /Required by Quiet hours/);
  assert.match(await page.getByTestId('privacy-forbidden-readReceipts').innerText(), /Forbidden in Quiet hours/);
  assert.equal(await page.getByTestId('privacy-forbidden-deliveryReceipts').count(), 0);
  // The hint is the switch's description for screen readers.
  assert.equal(await page.getByRole('switch', { name: 'Read receipts' }).getAttribute('aria-describedby'), 'privacy-switch-readReceipts-hint');
  await assertAccessible(page, 'privacy settings, light');
  await section.scrollIntoViewIfNeeded();
  await screenshot(page, '260-privacy-light');

  // Off in the page: off in bob's core, saying so, and still off when the dialog opens again.
  await page.getByTestId('privacy-switch-readReceipts').uncheck();
  await page.getByTestId('privacy-note').filter({ hasText: 'Saved.' }).waitFor();
  assert.deepEqual(await pair.b.core.accounts.privacy(bobId), { deliveryReceipts: true, readReceipts: false, typing: true });
  await page.getByTestId('privacy-switch-typing').uncheck();
  await eventually('typing off in the core', async () => (await pair.b.core.accounts.privacy(bobId)).typing === false);
  await page.keyboard.press('Escape');
  await page.getByTestId('settings').waitFor({ state: 'detached' });
  // Changed elsewhere (the core, as `mimi privacy` would): the page shows it next time.
  await pair.b.core.accounts.setPrivacy(bobId, { typing: true });
  await openSettings(page);
  assert.equal(await page.getByTestId('privacy-switch-readReceipts').isChecked(), false);
  assert.equal(await page.getByTestId('privacy-switch-typing').isChecked(), true);
  assert.equal(await page.getByTestId('privacy-switch-deliveryReceipts').isChecked(), true);

  // Dark, then narrow.
  await page.getByTestId('theme-dark').check();
  await page.getByTestId('settings-privacy').scrollIntoViewIfNeeded();
  await assertAccessible(page, 'privacy settings, dark');
  await screenshot(page, '261-privacy-dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await page.getByTestId('settings-privacy').scrollIntoViewIfNeeded();
  await assertAccessible(page, 'privacy settings, 480 px');
  const box = await page.getByTestId('settings-privacy').boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 480, `the section fits 480 px (${JSON.stringify(box)})`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 480), 'no sideways scrolling');
  await screenshot(page, '262-privacy-narrow');
  await page.getByTestId('theme-light').check();
  await page.setViewportSize({ width: 1280, height: 800 });
});
