// Safety numbers in real Chromium on two real cores (docs/verification.md): alice opens the dialog
// from the room's member list; its 12 groups are what both cores compute; she compares a picture of
// bob's QR code (a screenshot of his dialog, decoded in her window) and sees "Verified" in the list.
// Then bob signs in a second device (a third core), which joins the room: alice's list says
// "Changed", the room shows the notice and the timeline line, and comparing again clears it.
// axe-core on the dialog and the notice, light and dark, and at 480 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { PASSWORD, assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair } from './browser.js';

const WAIT = 60_000;
let pair: RealCorePair;
let aliceId: string;
let bobId: string;
let aliceUri: string;
let bobUri: string;
let room: string;
let phone: { core: AppCore; dir: string } | undefined;

before(async () => {
  pair = await openPairOnOneProvider('verification', { width: 1280, height: 800 });
  await signUpPair(pair);
  const [alice] = await pair.a.core.accounts.list();
  const [bob] = await pair.b.core.accounts.list();
  aliceId = alice.id;
  bobId = bob.id;
  aliceUri = alice.userUri;
  bobUri = bob.userUri;
  room = (await pair.a.core.rooms.create(aliceId, 'Verify', null)).roomUri;
  await pair.a.core.rooms.addMember(aliceId, room, 'bob');
  await pair.b.page.locator('[data-testid=room-item][data-room-name="Verify"]').waitFor({ timeout: WAIT });
});

after(async () => {
  if (phone) {
    await phone.core.close().catch(() => undefined);
    fs.rmSync(phone.dir, { recursive: true, force: true });
  }
  await closePair(pair);
});

async function openMembers(page: Page): Promise<void> {
  const item = page.locator('[data-testid=room-item][data-room-name="Verify"]');
  if (await item.isVisible()) await item.click();
  if (await page.getByTestId('member-list').isVisible()) return;
  // A narrow window keeps the room's actions in a menu.
  if (await page.getByTestId('room-actions-menu').isVisible()) await page.getByTestId('room-actions-menu').click();
  await page.getByTestId('toggle-members').click();
}

async function openDialog(page: Page, user: string): Promise<void> {
  await page.locator(`[data-testid=member-safety-number][data-user="${user}"]`).click();
  await page.getByTestId('safety-number-digits').waitFor({ timeout: WAIT });
}

const shownGroups = (page: Page) => page.getByTestId('safety-number-group').allTextContents();

/** axe in light and dark, with a screenshot of each (`shots`: their names, 300-319). */
async function accessibleBothThemes(page: Page, what: string, shots: [string, string]): Promise<void> {
  await page.evaluate(() => (document.documentElement.dataset.theme = 'light'));
  await assertAccessible(page, `${what}, light`);
  await screenshot(page, shots[0]);
  await page.evaluate(() => (document.documentElement.dataset.theme = 'dark'));
  await assertAccessible(page, `${what}, dark`);
  await screenshot(page, shots[1]);
  await page.evaluate(() => delete document.documentElement.dataset.theme);
}

test('the dialog from the member list shows what both cores compute; a picture of bob’s code verifies him; axe light, dark, 480 px', async () => {
  const a = pair.a.page;
  const b = pair.b.page;
  await openMembers(a);
  await openDialog(a, bobUri);
  const groups = await shownGroups(a);
  assert.equal(groups.length, 12);
  for (const g of groups) assert.match(g, /^\d{5}$/);
  const mine = await pair.a.core.people.safetyNumber(aliceId, bobUri);
  const theirs = await pair.b.core.people.safetyNumber(bobId, aliceUri);
  assert.deepEqual(groups, mine.groups, 'the digits are the core’s');
  assert.deepEqual(theirs.groups, mine.groups, 'and bob’s core computes the same');
  assert.equal(await a.getByTestId('safety-number-state').textContent(), 'Not verified yet.');
  // Each group is a labelled cell, read digit by digit.
  assert.equal(await a.getByTestId('safety-number-group').first().getAttribute('aria-label'), `Group 1: ${groups[0].split('').join(' ')}`);
  await accessibleBothThemes(a, 'safety number dialog', ['300-safety-number-light', '301-safety-number-dark']);
  // A narrow window closes the member panel (and the dialog with it): open both again there.
  await a.setViewportSize({ width: 480, height: 800 });
  await a.getByTestId('member-list').waitFor({ state: 'hidden' });
  await openMembers(a);
  await openDialog(a, bobUri);
  await assertAccessible(a, 'safety number dialog, 480 px');
  const box = await a.getByTestId('safety-number-dialog').boundingBox();
  assert.ok(box && box.width <= 480, 'the dialog fits 480 px');
  await screenshot(a, '302-safety-number-narrow');
  // Closed, then wide again: the member panel is there, the dialog opened anew.
  await a.getByTestId('safety-number-close').click();
  await a.setViewportSize({ width: 1280, height: 800 });
  await a.getByTestId('member-list').waitFor();
  await openMembers(a);
  await openDialog(a, bobUri);

  // A picture that has no code: said so, nothing marked.
  await a.getByTestId('safety-number-file').setInputFiles({ name: 'blank.png', mimeType: 'image/png', buffer: await a.screenshot({ clip: { x: 0, y: 0, width: 40, height: 40 } }) });
  await a.locator('[data-testid=safety-number-result][data-result=noCode]').waitFor();
  assert.equal((await pair.a.core.people.safetyNumber(aliceId, bobUri)).state, 'unverified');

  // bob shows his code; alice compares a picture of it (as a phone's photo would be).
  await openMembers(b);
  await openDialog(b, aliceUri);
  const photo = await b.getByTestId('qr-code').screenshot();
  await a.getByTestId('safety-number-file').setInputFiles({ name: 'bob.png', mimeType: 'image/png', buffer: photo });
  await a.locator('[data-testid=safety-number-result][data-result=match]').waitFor({ timeout: WAIT });
  await a.getByTestId('safety-number-state').filter({ hasText: 'You verified bob.' }).waitFor();
  assert.equal((await pair.a.core.people.safetyNumber(aliceId, bobUri)).state, 'verified');
  await b.getByTestId('safety-number-close').click();

  // Closed: the member list shows the badge, named for a screen reader.
  await a.getByTestId('safety-number-close').click();
  const badge = a.getByRole('img', { name: 'bob is verified' });
  await badge.waitFor({ timeout: WAIT });
  assert.equal(await badge.textContent(), 'Verified');
  await accessibleBothThemes(a, 'member list with a verified member', ['303-member-verified-light', '304-member-verified-dark']);

  // Clearing and marking by hand.
  await openDialog(a, bobUri);
  await a.getByTestId('safety-number-clear').click();
  await a.getByTestId('safety-number-state').filter({ hasText: 'Not verified yet.' }).waitFor();
  await a.getByTestId('safety-number-mark').click();
  await a.getByTestId('safety-number-state').filter({ hasText: 'You verified bob.' }).waitFor();
  await a.getByTestId('safety-number-close').click();
  assert.deepEqual(pair.a.problems, []);
  assert.deepEqual(pair.b.problems, []);
});

test('bob’s new device: "Changed" in the list, the room’s notice and timeline line; comparing again clears them', async () => {
  const a = pair.a.page;
  const before = await pair.a.core.people.safetyNumber(aliceId, bobUri);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-e2e-verification-phone-'));
  const core = await createAppCore({ dataDir: dir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext' });
  phone = { core, dir };
  const embedded = pair.a.core.embedded!;
  await core.accounts.login({ providerUrl: embedded.url, caPem: embedded.caPem, handle: 'bob', password: PASSWORD, deviceName: 'Phone' });

  const changed = await eventually('alice’s core sees the new device', async () => {
    const v = await pair.a.core.people.safetyNumber(aliceId, bobUri);
    return v.state === 'changed' ? v : undefined;
  }, WAIT);
  assert.notDeepEqual(changed.groups, before.groups);
  const bobs = await eventually('bob’s core too', async () => {
    const v = await pair.b.core.people.safetyNumber(bobId, aliceUri);
    return v.groups.join('') === changed.groups.join('') ? v : undefined;
  }, WAIT);
  assert.deepEqual(bobs.groups, changed.groups, 'still the same on both sides');

  await a.getByRole('img', { name: 'bob’s devices changed since you verified them' }).waitFor({ timeout: WAIT });
  const banner = a.getByTestId('verification-banner');
  await banner.filter({ hasText: 'bob’s devices changed since you verified them.' }).waitFor({ timeout: WAIT });
  await a.getByTestId('timeline').getByText('bob’s devices changed since you verified them — compare your safety number again').waitFor({ timeout: WAIT });
  await accessibleBothThemes(a, 'room with a changed verified member', ['305-verification-changed-light', '306-verification-changed-dark']);
  await a.setViewportSize({ width: 480, height: 800 });
  await assertAccessible(a, 'room with a changed verified member, 480 px');
  await a.setViewportSize({ width: 1280, height: 800 });

  // From the notice: the dialog says why, and marking again ends it.
  await banner.getByTestId('verification-banner-compare').click();
  await a.getByTestId('safety-number-digits').waitFor({ timeout: WAIT });
  assert.deepEqual(await shownGroups(a), changed.groups);
  await a.getByTestId('safety-number-state').filter({ hasText: 'a device was added or removed' }).waitFor();
  await screenshot(a, '307-safety-number-changed');
  await a.getByTestId('safety-number-mark').click();
  await a.getByTestId('safety-number-state').filter({ hasText: 'You verified bob.' }).waitFor();
  await a.getByTestId('safety-number-close').click();
  await banner.waitFor({ state: 'detached', timeout: WAIT });
  await a.getByRole('img', { name: 'bob is verified' }).waitFor({ timeout: WAIT });
  assert.deepEqual(pair.a.problems, []);
});
