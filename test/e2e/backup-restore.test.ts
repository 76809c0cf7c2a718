// Backup, restore and export in real Chromium on the real core (A's core runs the embedded
// provider; B is a second, fresh device of the same account on it). alice backs up from Settings:
// the recovery key dialog shows the key in groups and closes only once she says she wrote it down,
// then the backup's progress and its result. On the fresh device, Settings offers the restore; a
// wrong key gets the catalogue's sentence and changes nothing; the right one shows its progress
// bar and the result, and the room and its messages appear. A room's menu exports its history
// into a new folder. axe-core light and dark, and 480 px. Screenshots 340-349.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { AppCore } from '../../src-main/core/app-core.js';
import { encodeRecoveryKey, generateRecoveryKey } from '../../src-shared/backup-format.js';
import { PASSWORD, assertAccessible, closePair, eventually, openAdvanced, openPairOnOneProvider, register, screenshot, type RealCorePair } from './browser.js';

/** Wait until the provider accepted every message sent (the test hook on the core). */
const flushed = (core: AppCore, id: string): Promise<void> => (core as unknown as { profileOf(id: string): { flushOutbox(): Promise<void> } }).profileOf(id).flushOutbox();
const WAIT = 45_000;
let pair: RealCorePair;
let aliceId: string;
let recoveryKey = '';
const TEXTS = Array.from({ length: 8 }, (_, i) => `seed packet ${i + 1}`);

before(async () => {
  // Small chunks: the restore has several parts to check, so its bar moves in steps.
  process.env.MIMI_BACKUP_CHUNK_BYTES = '600';
  pair = await openPairOnOneProvider('backup', { width: 1280, height: 800 });
  await pair.a.page.goto(pair.a.bridge.url);
  await register(pair.a.page, 'alice');
  aliceId = (await pair.a.core.accounts.list())[0].id;
  const room = await pair.a.core.rooms.create(aliceId, 'Garden', null);
  for (const text of TEXTS) await pair.a.core.messages.send(aliceId, room.roomUri, text);
  await flushed(pair.a.core, aliceId);
  await pair.a.page.locator('[data-testid=room-item][data-room-name="Garden"]').waitFor({ timeout: WAIT });
});

after(async () => {
  delete process.env.MIMI_BACKUP_CHUNK_BYTES;
  await closePair(pair);
});

/** Nothing on the page is wider than the window (no sideways scrolling at 480 px). */
async function assertNoSideScroll(page: Page, what: string): Promise<void> {
  const over = await page.evaluate(() => {
    const found: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth) found.push('the page');
    for (const el of document.querySelectorAll('.sheet, .card, .overlay')) if (el.scrollWidth > el.clientWidth + 1) found.push(el.className);
    return found;
  });
  assert.deepEqual(over, [], `${what}: wider than the window`);
}

/**
 * Records every state the page's progress bars go through (a fast restore shows its bar only
 * briefly). A string, so the test runner's transform adds no helpers the page does not have.
 */
async function watchProgressBars(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.seenBars = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[role=progressbar]')) window.seenBars.push({ now: el.getAttribute('aria-valuenow'), max: el.getAttribute('aria-valuemax'), text: el.getAttribute('aria-valuetext') });
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'aria-valuetext'] });
  })()`);
}
const seenBars = (page: Page) => page.evaluate(() => (window as unknown as { seenBars: { now: string | null; max: string | null; text: string | null }[] }).seenBars);

test('back up from Settings: the key is shown once, in groups, and must be confirmed; then the backup runs with progress', async () => {
  const page = pair.a.page;
  await page.getByTestId('open-settings').click();
  const section = page.getByTestId('settings-backup');
  await section.scrollIntoViewIfNeeded();
  await section.getByTestId('backup-none').waitFor({ timeout: WAIT });
  assert.match(await section.innerText(), /8 messages not backed up yet/);
  assert.equal(await section.getByTestId('backup-offer').count(), 0, 'no restore offer: this device has the history and nothing is at the provider');
  await assertAccessible(page, 'backup section');
  await screenshot(page, '340-backup-section');

  await watchProgressBars(page);
  await section.getByTestId('backup-now').click();
  const dialog = page.getByTestId('recovery-key-dialog');
  await dialog.waitFor({ timeout: WAIT });
  const shown = page.getByTestId('recovery-key');
  await shown.waitFor();
  const groups = await shown.locator('.group').allInnerTexts();
  assert.equal(groups.length, 14, 'fourteen groups');
  assert.ok(groups.every((g) => /^[0-9A-Z]{3,4}$/.test(g)));
  recoveryKey = groups.join(' ');
  assert.equal(recoveryKey, await pair.a.core.backup.pendingRecoveryKey(aliceId), 'the key the core made');
  assert.match(await dialog.innerText(), /only way to open your backup[\s\S]*cannot give it back/);
  // The bar says it waits for the key; nothing closes the dialog but the confirmation.
  assert.match(await page.getByTestId('backup-progress-text').innerText(), /Waiting until the recovery key is written down/);
  await assertAccessible(page, 'recovery key dialog');
  await screenshot(page, '341-recovery-key');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 480, height: 800 });
  await assertAccessible(page, 'recovery key dialog, dark, 480 px');
  await assertNoSideScroll(page, 'recovery key dialog at 480 px');
  await screenshot(page, '349-recovery-key-narrow-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.keyboard.press('Escape');
  await page.mouse.click(5, 5);
  assert.equal(await dialog.isVisible(), true, 'Escape and a click beside it do not close it');
  // Copy puts exactly the key on the clipboard.
  await pair.a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(pair.a.bridge.url).origin });
  await page.getByTestId('recovery-key-copy').click();
  assert.match(await page.getByTestId('recovery-key-note').innerText(), /^Copied\./);
  assert.equal(await page.evaluate('navigator.clipboard.readText()'), recoveryKey);
  await page.getByTestId('recovery-key-confirm').click();
  assert.match(await page.getByTestId('recovery-key-error').innerText(), /Confirm that you have written the key down/);
  assert.equal(await dialog.isVisible(), true);
  await page.getByTestId('recovery-key-written').check();
  await page.getByTestId('recovery-key-confirm').click();
  await dialog.waitFor({ state: 'detached' });

  await section.getByTestId('backup-last').waitFor({ timeout: WAIT });
  assert.match(await section.getByTestId('backup-status').innerText(), /Last backup: [\s\S]*8 messages/);
  assert.match(await section.getByTestId('backup-status').innerText(), /keeps the recovery key/);
  const bars = await seenBars(page);
  assert.ok(bars.some((b) => b.text?.startsWith('Waiting until')), 'the bar showed the wait for the key');
  assert.ok(bars.some((b) => Number(b.now) > 0 && b.max !== null), `the bar moved with values (${JSON.stringify(bars.slice(-3))})`);
  assert.equal(await pair.a.core.backup.pendingRecoveryKey(aliceId), null, 'the key is not retrievable any more');

  // Dark and narrow.
  await page.getByTestId('theme-dark').check();
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'backup section, dark');
  await screenshot(page, '342-backup-done-dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'backup section at 480 px');
  await assertNoSideScroll(page, 'backup section at 480 px');
  await screenshot(page, '343-backup-narrow');
  await page.getByTestId('theme-system').check();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('settings-close').click();
});

test('export from the room menu: a new folder with the history, and where it went', async () => {
  const page = pair.a.page;
  const item = page.locator('[data-testid=room-item][data-room-name="Garden"]');
  await item.click({ button: 'right' });
  await page.getByTestId('room-context-menu').waitFor();
  await page.getByTestId('context-export').click();
  const result = page.getByTestId('export-result');
  await result.waitFor({ timeout: WAIT });
  const text = await result.innerText();
  const m = /^Exported 8 messages to (.+)$/.exec(text);
  assert.ok(m, `says what was exported where: ${text}`);
  const dir = m[1];
  assert.equal(path.dirname(dir), path.join(pair.a.dir, 'exports'), 'under the exports folder the core chose');
  assert.match(fs.readFileSync(path.join(dir, 'messages.html'), 'utf8'), /seed packet 8/);
  assert.equal(await page.getByTestId('export-show').count(), 0, 'no "Show in folder" outside the desktop app');
  await assertAccessible(page, 'export done');
  await screenshot(page, '344-export-done');
  await page.setViewportSize({ width: 480, height: 800 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, 'export done, dark, 480 px');
  await assertNoSideScroll(page, 'export dialog at 480 px');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('export-close').click();
  await page.getByTestId('export-dialog').waitFor({ state: 'detached' });
});

test('a fresh device of the account: the restore is offered; a wrong key is refused; the right one brings the room and messages back', async () => {
  const page = pair.b.page;
  const embedded = pair.a.core.embedded!;
  await page.goto(pair.b.bridge.url);
  await page.getByTestId('signin').waitFor();
  await page.getByTestId('tab-login').click();
  await page.getByTestId('signin-handle').fill('alice');
  await page.getByTestId('signin-password').fill(PASSWORD);
  await openAdvanced(page);
  await page.getByTestId('signin-provider').fill(embedded.url);
  await page.getByTestId('signin-ca').fill(embedded.caPem);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: WAIT });
  const phoneId = (await pair.b.core.accounts.list())[0].id;
  /** The earlier messages this device has, in every room it lists. */
  const known = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const r of await pair.b.core.rooms.list(phoneId)) out.push(...(await pair.b.core.messages.page(phoneId, r.roomUri, null, 100)).map((x) => x.text));
    return out.filter((x) => TEXTS.includes(x));
  };
  // The laptop may add its new device to the room, but the messages from before cannot be read here.
  assert.deepEqual(await known(), [], 'no history on the fresh device');

  await page.getByTestId('open-settings').click();
  const section = page.getByTestId('settings-backup');
  const offer = section.getByTestId('backup-offer');
  await offer.waitFor({ timeout: WAIT });
  assert.match(await offer.innerText(), /Your provider holds a backup of this account/);
  await assertAccessible(page, 'restore offer');
  await screenshot(page, '345-restore-offer');
  await offer.getByTestId('backup-offer-restore').click();

  const dialog = page.getByTestId('restore-dialog');
  await dialog.waitFor();
  // Empty: said before anything is sent.
  await page.getByTestId('restore-start').click();
  assert.equal(await page.getByTestId('restore-error').innerText(), 'Type your recovery key.');
  // A well-formed key of another backup.
  await page.getByTestId('restore-key').fill(encodeRecoveryKey(generateRecoveryKey()));
  await page.getByTestId('restore-start').click();
  const error = page.getByTestId('restore-error');
  await eventually('the wrong key refused', async () => /^Wrong recovery key/.test(await error.innerText()), WAIT);
  assert.match(await error.innerText(), /no backup of this account opens with it[\s\S]*Nothing was changed\.$/);
  assert.deepEqual(await known(), [], 'nothing restored');
  await assertAccessible(page, 'restore refused');
  await screenshot(page, '346-restore-wrong-key');

  await watchProgressBars(page);
  await page.getByTestId('restore-key').fill(recoveryKey.toLowerCase().replace(/ /g, '-'));
  await page.getByTestId('restore-start').click();
  const result = page.getByTestId('restore-result');
  await result.waitFor({ timeout: WAIT });
  assert.match(await result.innerText(), /^Restored 1 room with \d+ messages and events\./);
  const bars = await seenBars(page);
  assert.ok(bars.length > 0, 'the restore showed a progress bar');
  assert.ok(bars.every((b) => b.max !== null && Number(b.now) <= Number(b.max)), 'with values');
  await assertAccessible(page, 'restore done');
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, 'restore done, dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await assertAccessible(page, 'restore done, dark, 480 px');
  await assertNoSideScroll(page, 'restore dialog at 480 px');
  await screenshot(page, '347-restore-done-narrow-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('restore-close').click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await section.getByTestId('backup-offer').count(), 0, 'no offer once restored');
  await page.getByTestId('settings-close').click();

  // The room and every message, on the fresh device.
  await page.locator('[data-testid=room-item][data-room-name="Garden"]').click({ timeout: WAIT });
  for (const text of TEXTS) await page.getByTestId('message-text').getByText(text, { exact: true }).waitFor({ timeout: WAIT });
  await screenshot(page, '348-restored-room');

  // Settings again: the status is read afresh (nothing backed up from this device yet), and the
  // offer stays away, also after a reload of the window.
  for (const reload of [false, true]) {
    if (reload) await page.reload();
    await page.getByTestId('open-settings').click();
    await section.getByTestId('backup-status').waitFor({ timeout: WAIT });
    assert.equal(await section.getByTestId('backup-offer').count(), 0, `no offer after a restore${reload ? ', after a reload' : ''}`);
    await page.getByTestId('settings-close').click();
  }
});
