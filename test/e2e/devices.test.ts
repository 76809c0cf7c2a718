// Settings → Devices and the sign-out choices in real Chromium on a real core (its embedded
// provider): the list with "this device", a new device's sign-in told at once, renaming inline,
// removing with a confirmation that says what it does; signing out keeping the data (signing in
// again shows the old history) and removing this device (its folder is deleted). axe-core light,
// dark and at 480 px.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { PASSWORD, assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair } from './browser.js';

const WAIT = 45_000;
let pair: RealCorePair;
let aliceId: string;
let page: Page;
let tablet: ProviderClient;

before(async () => {
  pair = await openPairOnOneProvider('devices', { width: 1280, height: 800 });
  await signUpPair(pair);
  page = pair.a.page;
  aliceId = (await pair.a.core.accounts.list())[0].id;
  const room = await pair.a.core.rooms.create(aliceId, 'Diary', null);
  await pair.a.core.messages.send(aliceId, room.roomUri, 'written before signing out');
  await page.locator('[data-testid=room-item][data-room-name="Diary"]').waitFor({ timeout: WAIT });
});

after(async () => {
  tablet?.close();
  await closePair(pair);
});

/** Nothing on the page is wider than the window (no sideways scrolling at 480 px). */
async function assertNoSideScroll(what: string): Promise<void> {
  const over = await page.evaluate(() => {
    const found: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth) found.push('the page');
    for (const el of document.querySelectorAll('.sheet, .card, .overlay')) if (el.scrollWidth > el.clientWidth + 1) found.push(el.className);
    return found;
  });
  assert.deepEqual(over, [], `${what}: wider than the window`);
}

const rows = () => page.getByTestId('device-list').locator('li');

test('a new device is told at once; the list, rename and remove in Settings; axe light, dark and narrow', async () => {
  // Another device signs in to alice's account: the window says so at once, with its name.
  const embedded = pair.a.core.embedded!;
  tablet = new ProviderClient({ baseUrl: embedded.url, caPem: embedded.caPem });
  await tablet.login({ handle: 'alice', password: PASSWORD, deviceName: 'Strange tablet' });
  const notice = page.locator('.notice, [role=alert], [role=status]', { hasText: 'A new device signed in to your account' });
  await notice.first().waitFor({ timeout: WAIT });
  assert.match(await notice.first().innerText(), /alice@localhost: Strange tablet\. If this was not you, remove it/);
  await screenshot(page, '280-devices-new-device-notice');

  await page.getByTestId('open-settings').click();
  const section = page.getByTestId('settings-devices');
  await section.scrollIntoViewIfNeeded();
  await eventually('both devices listed', async () => (await rows().count()) === 2, WAIT);
  const mine = rows().filter({ has: page.getByTestId('device-this') });
  assert.equal(await mine.count(), 1, 'exactly one is this device');
  assert.match(await mine.innerText(), /This device[\s\S]*Added/);
  const other = rows().filter({ hasText: 'Strange tablet' });
  assert.match(await other.innerText(), /Added .*[\s\S]*(Last seen|Not seen)/);
  await assertAccessible(page, 'devices section');
  await screenshot(page, '281-devices-list');

  // Rename inline: an empty name is refused before anything is sent; a good one is shown.
  await other.getByTestId('device-rename').click();
  const input = section.getByTestId('device-name');
  await input.fill('   ');
  await section.getByTestId('device-rename-save').click();
  assert.equal(await section.getByTestId('devices-error').innerText(), 'Give the device a name.');
  await input.fill('Kitchen tablet');
  await assertAccessible(page, 'renaming a device');
  await section.getByTestId('device-rename-save').click();
  await rows().filter({ hasText: 'Kitchen tablet' }).waitFor();
  assert.match(await section.getByTestId('devices-note').innerText(), /now called “Kitchen tablet”/);
  assert.equal((await tablet.listDevices()).find((d) => d.current)?.name, 'Kitchen tablet', 'the provider has the new name');

  // Remove, after a confirmation that says what it does; Cancel keeps it.
  await rows().filter({ hasText: 'Kitchen tablet' }).getByTestId('device-remove').click();
  const dialog = page.getByTestId('device-remove-dialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /signed out at once and taken out of every room/);
  await assertAccessible(page, 'remove-device confirmation');
  await screenshot(page, '282-devices-remove-confirm');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await rows().count(), 2, 'Escape kept it');
  await rows().filter({ hasText: 'Kitchen tablet' }).getByTestId('device-remove').click();
  await page.getByTestId('device-remove-confirm').click();
  await eventually('one device left', async () => (await rows().count()) === 1, WAIT);
  assert.match(await section.getByTestId('devices-note').innerText(), /“Kitchen tablet” was removed/);
  const refused = await tablet.listDevices().then(
    () => 'worked',
    (e: { status?: number }) => e.status,
  );
  assert.equal(refused, 401, 'the removed device is signed out');

  // Dark and narrow.
  await page.getByTestId('theme-dark').check();
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'devices section, dark');
  await screenshot(page, '283-devices-dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'devices section at 480 px');
  await assertNoSideScroll('devices section at 480 px');
  await screenshot(page, '284-devices-narrow');
  // Back to following the system, so the next test's dark check is the system's dark.
  await page.getByTestId('theme-system').check();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('settings-close').click();
});

test('sign out: keeping the data brings the same history back at the next sign-in; removing this device deletes its folder', async () => {
  await page.getByTestId('sign-out').click();
  const dialog = page.getByTestId('sign-out-dialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Sign out, keep data[\s\S]*opens the same history[\s\S]*Remove this device[\s\S]*leaves every room/);
  await assertAccessible(page, 'sign-out choices');
  await screenshot(page, '285-sign-out-choices');
  // Removing asks once more, with a warning; Back returns to the choices.
  await page.getByTestId('sign-out-remove').click();
  assert.match(await page.getByTestId('sign-out-warning').innerText(), /deletes the messages of alice@localhost on this computer and cannot be undone/);
  await assertAccessible(page, 'remove-this-device warning');
  await screenshot(page, '286-sign-out-remove-warning');
  await page.getByTestId('sign-out-back').click();

  // Narrow and dark too.
  await page.setViewportSize({ width: 480, height: 800 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await eventually('the dark theme', async () => (await page.evaluate(() => getComputedStyle(document.body).backgroundColor)) === 'rgb(22, 24, 29)');
  await assertAccessible(page, 'sign-out choices, dark, 480 px');
  await assertNoSideScroll('sign-out choices at 480 px');
  await screenshot(page, '287-sign-out-narrow-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Keep the data: the sign-in screen, and signing in again shows the old room and message.
  await page.getByTestId('confirm-sign-out').click();
  await page.getByTestId('signin').waitFor();
  const folder = path.join(pair.a.dir, 'accounts', aliceId);
  assert.ok(fs.existsSync(path.join(folder, 'mimi.db')), 'the folder stays');
  await page.getByTestId('tab-login').click();
  await page.getByTestId('signin-handle').fill('alice');
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: WAIT });
  assert.equal((await pair.a.core.accounts.list())[0].id, aliceId, 'the same account folder');
  await page.locator('[data-testid=room-item][data-room-name="Diary"]').click();
  await page.locator('[data-testid=message-text]', { hasText: 'written before signing out' }).waitFor({ timeout: WAIT });
  await screenshot(page, '288-signed-in-again-history');

  // Remove this device: it is gone from the provider and its folder from this computer.
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-out-remove').click();
  await page.getByTestId('confirm-remove-device').click();
  await page.getByTestId('signin').waitFor({ timeout: WAIT });
  assert.ok(!fs.existsSync(folder), 'the folder is deleted');
  assert.deepEqual(await pair.a.core.accounts.list(), []);
  await screenshot(page, '289-removed-this-device');
});

test('this device removed from another: the window says so and Settings offers no device actions', async () => {
  const bobPage = pair.b.page;
  const bobId = (await pair.b.core.accounts.list())[0].id;
  const bobDevice = (await pair.b.core.accounts.devices(bobId)).find((d) => d.current)!;
  // bob's phone (another device of his) removes the one in this window.
  const embedded = pair.a.core.embedded!;
  const phone = new ProviderClient({ baseUrl: embedded.url, caPem: embedded.caPem });
  await phone.login({ handle: 'bob', password: PASSWORD, deviceName: 'Bob’s phone' });
  await phone.removeDevice(bobDevice.deviceId);
  phone.close();
  const said = bobPage.locator('[data-testid=banner-error]', { hasText: 'This device was removed from your account on another device; sign in again to use it here.' });
  await said.waitFor({ timeout: WAIT });
  await bobPage.getByTestId('open-settings').click();
  const section = bobPage.getByTestId('settings-devices');
  await section.scrollIntoViewIfNeeded();
  assert.match(await section.getByTestId('device-removed-here').innerText(), /removed from bob@localhost on another device\. Sign in again/);
  assert.equal(await section.getByTestId('device-list').count(), 0, 'no list to act on');
  await assertAccessible(bobPage, 'devices section of a removed device');
  await bobPage.getByTestId('settings-close').click();
  // Signing out is still possible (keeping the data here).
  await bobPage.getByTestId('sign-out').click();
  await bobPage.getByTestId('confirm-sign-out').click();
  await bobPage.getByTestId('signin').waitFor();
});
