// Settings → Security for an account whose keys are encrypted with a passphrase, in Chromium
// against the real core: the passphrase change form shows only for such an account; the form's own
// checks stop a short or mistyped new passphrase before the core; a wrong current one is refused by
// the core and changes no file; the right one shows progress while the keys are re-encrypted, then
// a success note; after a restart only the new passphrase unlocks the account. axe-core light and
// dark, at 480 px too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { CoreError } from '../../src-shared/contract.js';
import { assertAccessible, builtRenderer, collectPageProblems, launchChromium, PASSWORD, screenshot } from './browser.js';

const OLD = 'blue harbour lantern 42';
const NEW = 'green meadow compass 17';
const WAIT = 30_000;

let browser: Browser;
let rendererDir: string;
let dataDir: string;
let core: AppCore | undefined;
let bridge: Bridge | undefined;
let page: Page;
let problems: string[];

async function startApp(): Promise<void> {
  // As `MIMI_SECRETS=passphrase npm start`: every new account's keys go under a passphrase.
  core = await createAppCore({ dataDir, mode: 'browser', secretMode: 'passphrase' });
  bridge = await startBridge({ core, rendererDir });
}
async function stopApp(): Promise<void> {
  await bridge?.close();
  await core?.close();
  bridge = undefined;
  core = undefined;
}

before(async () => {
  rendererDir = builtRenderer();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-e2e-passchange-'));
  browser = await launchChromium();
  await startApp();
  page = await (await browser.newContext({ viewport: { width: 1024, height: 720 } })).newPage();
  problems = collectPageProblems(page);
});
after(async () => {
  await browser?.close();
  await stopApp();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const accountDir = () => path.join(dataDir, 'accounts', fs.readdirSync(path.join(dataDir, 'accounts'))[0]);
const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).filter((f) => f.startsWith('secrets') || f.startsWith('passphrase')).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'hex')]));

test('change the passphrase in Settings → Security: checks, a wrong current one, progress, success', async () => {
  await page.goto(bridge!.url);
  await page.getByTestId('signin').waitFor();
  await page.getByTestId('signin-handle').fill('alice');
  await page.getByTestId('signin-password').fill(PASSWORD);
  await page.getByTestId('secret-passphrase').fill(OLD);
  await page.getByTestId('secret-passphrase-repeat').fill(OLD);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: WAIT });

  await page.getByTestId('open-settings').click();
  const security = page.getByTestId('settings-security');
  await security.getByTestId('secret-mode').and(page.locator('[data-mode=passphrase]')).waitFor();
  const form = security.getByTestId('passphrase-form');
  await form.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'Security with the passphrase form');
  await screenshot(page, '208-passphrase-form');

  // The form's own checks: nothing reaches the core.
  const before = snapshot(accountDir());
  await form.getByTestId('pp-submit').click();
  assert.match(await security.getByTestId('pp-error').innerText(), /Type your current passphrase first/);
  await form.getByTestId('pp-current').fill(OLD);
  await form.getByTestId('pp-new').fill('short');
  await form.getByTestId('pp-submit').click();
  assert.match(await security.getByTestId('pp-error').innerText(), /at least 8 characters/);
  await form.getByTestId('pp-new').fill(NEW);
  await form.getByTestId('pp-again').fill(`${NEW}!`);
  await form.getByTestId('pp-submit').click();
  assert.match(await security.getByTestId('pp-error').innerText(), /two new passphrases differ/);

  // A wrong current passphrase: the core refuses, no file changes.
  await form.getByTestId('pp-current').fill('blue harbour lantern 41');
  await form.getByTestId('pp-again').fill(NEW);
  await form.getByTestId('pp-submit').click();
  const refused = security.getByTestId('pp-error').filter({ hasText: 'not the current passphrase' });
  await refused.waitFor({ timeout: WAIT });
  assert.match(await refused.innerText(), /nothing was changed.*try again/);
  assert.deepEqual(snapshot(accountDir()), before, 'the refused change wrote nothing');
  await assertAccessible(page, 'Security with the refusal');

  // The right one: progress while scrypt runs, then the note; the fields are emptied.
  await form.getByTestId('pp-current').fill(OLD);
  await Promise.all([security.getByTestId('pp-progress').waitFor({ timeout: 5000 }), form.getByTestId('pp-submit').click()]);
  assert.equal(await form.getByTestId('pp-current').isDisabled(), true, 'the fields wait while it runs');
  await screenshot(page, '209-passphrase-progress');
  const done = security.getByTestId('pp-done');
  await done.waitFor({ timeout: WAIT });
  assert.match(await done.innerText(), /Passphrase changed\. Enter the new one/);
  assert.equal(await security.getByTestId('pp-error').count(), 0);
  assert.equal(await form.getByTestId('pp-current').inputValue(), '');
  assert.notDeepEqual(snapshot(accountDir()), before, 'the keys were re-encrypted');
  await screenshot(page, '210-passphrase-done');

  // Dark, and a narrow window.
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, 'Security after the change, dark');
  await page.setViewportSize({ width: 480, height: 720 });
  await form.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'Security, dark, 480px');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no horizontal scroll at 480px');
  await screenshot(page, '211-passphrase-dark-480');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1024, height: 720 });
  // The account keeps working under the new key in this session.
  await page.getByTestId('settings-close').click();
  assert.deepEqual(problems, []);
});

test('after a restart only the new passphrase unlocks the account', async () => {
  await page.goto('about:blank');
  await stopApp();
  await startApp();
  const [locked] = await core!.accounts.locked();
  assert.equal(locked?.handle, 'alice');
  await assert.rejects(core!.accounts.unlock(locked.id, OLD), (e: unknown) => e instanceof CoreError && e.code === 'wrongPassphrase');
  await page.goto(bridge!.url);
  await page.getByTestId('unlock-passphrase').fill(NEW);
  await page.getByTestId('unlock-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: WAIT });
  assert.equal(fs.existsSync(path.join(accountDir(), 'passphrase-change.json')), false, 'no unfinished change left');
});
