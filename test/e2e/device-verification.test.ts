// Verifying one's own devices and the history transfer in real Chromium on a real core (its
// embedded provider; docs/device-transfer.md). alice's laptop is the window; her phone is a second
// core signed in to the same account, answered through its API as the person holding it would.
//
//   1. Settings → Devices → "Verify" on the phone: the dialog waits, then shows the 12 digits in
//      three groups (and a QR of them) — the same digits the phone's core has; "They match" on
//      both: "Verified" in the list. axe light, dark and at 480 px.
//   2. The phone asks the laptop for its history: the request in the window, the digits again,
//      "Send this device's history to Phone?", the progress bar, done; the phone has the messages.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CoreEvent, DeviceVerificationView, HistoryTransferView } from '../../src-shared/contract.js';
import { PASSWORD, assertAccessible, closePair, eventually, openPairOnOneProvider, register, screenshot, type RealCorePair } from './browser.js';

const WAIT = 60_000;
let pair: RealCorePair;
let page: Page;
let laptopAcct: string;
let phoneAcct: string;
let laptopDeviceId: string;
let phoneDeviceId: string;
const phoneViews: DeviceVerificationView[] = [];
const phoneHistory: HistoryTransferView[] = [];
let roomUri: string;

before(async () => {
  pair = await openPairOnOneProvider('device-verification', { width: 1280, height: 800 });
  page = pair.a.page;
  await page.goto(pair.a.bridge.url);
  await register(page, 'alice');
  laptopAcct = (await pair.a.core.accounts.list())[0].id;
  const room = await pair.a.core.rooms.create(laptopAcct, 'Diary', null);
  roomUri = room.roomUri;
  for (let i = 0; i < 12; i++) await pair.a.core.messages.send(laptopAcct, roomUri, `diary entry ${i}`);
  const embedded = pair.a.core.embedded!;
  // The phone: another device of alice's account, driven through its core.
  pair.b.core.onEvent((e: CoreEvent) => {
    if (e.type === 'deviceVerification') {
      const { type: _t, accountId: _a, ...v } = e;
      phoneViews.push(v);
      if (v.stage === 'incoming') void pair.b.core.accounts.answerDeviceVerification(phoneAcct, v.attemptId, 'accept');
    }
    if (e.type === 'historyTransfer') {
      const { type: _t, accountId: _a, ...h } = e;
      phoneHistory.push(h);
    }
  });
  const phone = await pair.b.core.accounts.login({ providerUrl: embedded.url, caPem: embedded.caPem, handle: 'alice', password: PASSWORD, deviceName: 'Phone' });
  phoneAcct = phone.id;
  const devices = await pair.b.core.accounts.devices(phoneAcct);
  laptopDeviceId = devices.find((d) => !d.current)!.deviceId;
  phoneDeviceId = devices.find((d) => d.current)!.deviceId;
});

after(async () => {
  await closePair(pair);
});

function findLast<T>(list: T[], ok: (x: T) => boolean): T | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (ok(list[i])) return list[i];
  return undefined;
}

async function assertNoSideScroll(what: string): Promise<void> {
  const over = await page.evaluate(() => {
    const found: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth) found.push('the page');
    for (const el of document.querySelectorAll('.card, .overlay')) if (el.scrollWidth > el.clientWidth + 1) found.push(el.className);
    return found;
  });
  assert.deepEqual(over, [], `${what}: wider than the window`);
}

const phoneAt = (stage: string) => () => Promise.resolve(findLast(phoneViews, (v) => v.stage === stage));
/** The digits as the groups on screen show them. */
const digitsOnPage = async () => (await page.getByTestId('verification-digits').locator('.group').allInnerTexts()).join(' ');

test('"Verify" in Settings → Devices: the same 12 digits on both devices, "They match", "Verified" in the list; axe light, dark, 480 px', async () => {
  await page.getByTestId('open-settings').click();
  const section = page.getByTestId('settings-devices');
  await section.scrollIntoViewIfNeeded();
  const phoneRow = page.getByTestId(`device-${phoneDeviceId}`);
  await phoneRow.waitFor({ timeout: WAIT });
  assert.equal(await phoneRow.getByTestId('device-verified-state').getAttribute('data-verified'), 'false');
  assert.match(await phoneRow.innerText(), /Not verified/);
  await phoneRow.getByTestId('device-verify').click();

  const dialog = page.getByTestId('device-link-dialog');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Verify “Phone”/);
  // The phone accepted (its core), so the digits come up.
  await page.getByTestId('verification-digits').waitFor({ timeout: WAIT });
  const onPhone = await eventually('the phone shows the digits', phoneAt('compare'), WAIT);
  const shown = await digitsOnPage();
  assert.match(shown, /^\d{4} \d{4} \d{4}$/);
  assert.equal(shown, onPhone.digits!.join(' '), 'the same digits on both devices');
  // Three groups, large, and the QR of the same code.
  assert.equal(await page.getByTestId('verification-digits').locator('.group').count(), 3);
  await dialog.getByTestId('qr-code').waitFor();
  await assertAccessible(page, 'verification digits');
  await screenshot(page, '320-device-verify-digits');

  // The theme follows the system's (the default): dark.
  await page.emulateMedia({ colorScheme: 'dark' });
  await eventually('the dark theme', async () => (await page.evaluate(() => getComputedStyle(document.body).backgroundColor)) === 'rgb(22, 24, 29)');
  await assertAccessible(page, 'verification digits, dark');
  await screenshot(page, '321-device-verify-digits-dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await assertAccessible(page, 'verification digits at 480 px');
  await assertNoSideScroll('verification dialog at 480 px');
  await screenshot(page, '322-device-verify-narrow');
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });

  await page.getByTestId('verification-match').click();
  await dialog.locator('text=Waiting for “Phone” to confirm').waitFor();
  await pair.b.core.accounts.answerDeviceVerification(phoneAcct, onPhone.attemptId, 'match');
  await page.getByTestId('device-link-verified').waitFor({ timeout: WAIT });
  await eventually('the phone verified the laptop', phoneAt('verified'), WAIT);
  await page.getByTestId('device-link-close').click();
  await dialog.waitFor({ state: 'detached' });
  await eventually('"Verified" in the list', async () => (await phoneRow.getByTestId('device-verified-state').getAttribute('data-verified')) === 'true', WAIT);
  assert.match(await phoneRow.innerText(), /Verified/);
  assert.equal(await phoneRow.getByTestId('device-verify').count(), 0, 'no "Verify" for a verified device');
  assert.equal((await pair.b.core.accounts.devices(phoneAcct)).find((d) => d.deviceId === laptopDeviceId)?.verified, true, 'the phone marks the laptop verified too');
  await assertAccessible(page, 'devices list with a verified device');
  await screenshot(page, '323-device-verified-list');
});

test('the phone asks for the history: request, digits, "Send this device’s history to Phone?", progress, done', async () => {
  // Nothing of the diary on the phone yet.
  await eventually('the phone is in the room', async () => (await pair.b.core.rooms.list(phoneAcct)).some((r) => r.roomUri === roomUri), WAIT);
  const before = await pair.b.core.messages.page(phoneAcct, roomUri, null, 100);
  assert.ok(!before.some((m) => m.text.startsWith('diary entry')), 'the phone has no history yet');

  const started = await pair.b.core.accounts.requestHistory(phoneAcct, laptopDeviceId);
  assert.equal(started.purpose, 'history');
  const dialog = page.getByTestId('device-link-dialog');
  await dialog.waitFor({ timeout: WAIT });
  assert.match(await dialog.innerText(), /“Phone” wants to verify this device[\s\S]*ask for this device’s history/);
  await assertAccessible(page, 'incoming verification request');
  await screenshot(page, '324-device-incoming-request');
  await page.getByTestId('verification-accept').click();
  await page.getByTestId('verification-digits').waitFor({ timeout: WAIT });
  const onPhone = await eventually('the phone shows the digits', async () => findLast(phoneViews, (v) => v.attemptId === started.attemptId && v.stage === 'compare'), WAIT);
  assert.equal(await digitsOnPage(), onPhone.digits!.join(' '));
  await pair.b.core.accounts.answerDeviceVerification(phoneAcct, started.attemptId, 'match');
  await page.getByTestId('verification-match').click();

  await page.getByTestId('history-confirm').waitFor({ timeout: WAIT });
  assert.match(await dialog.innerText(), /Send this device’s history to “Phone”\?/);
  await assertAccessible(page, 'send-history question');
  await screenshot(page, '325-device-history-confirm');
  await page.getByTestId('history-send').click();
  await page.getByTestId('history-done').waitFor({ timeout: WAIT });
  assert.match(await page.getByTestId('history-done').innerText(), /“Phone” has received the history/);
  await screenshot(page, '326-device-history-sent');

  // Progress was shown as a progress bar with values on the phone's side too.
  const up = phoneHistory.filter((h) => h.attemptId === started.attemptId && h.stage === 'uploading' && h.total > 0);
  assert.ok(up.length > 0, 'the phone saw the upload progress');
  const done = findLast(phoneHistory, (h) => h.attemptId === started.attemptId);
  assert.equal(done?.stage, 'done');
  const after = await pair.b.core.messages.page(phoneAcct, roomUri, null, 100);
  for (let i = 0; i < 12; i++) assert.ok(after.some((m) => m.text === `diary entry ${i}`), `entry ${i} on the phone`);
  await page.getByTestId('device-link-close').click();
});
