// The first start on a machine without a usable keychain, in Chromium against the real core: the
// sign-in form offers a passphrase or (warned) unencrypted storage instead of a wall of text; the
// passphrase account is locked at the next start and unlocks on the unlock screen (a wrong
// passphrase changes nothing, progress shows while the key is derived); focus lands on the next
// step after sign-in; a long error never pushes the button off-screen; a provider with the wrong
// CA is said to be a certificate problem.
//
// The keychain is made unusable for real: this process's D-Bus address points at nothing, so
// libsecret (through keytar) cannot reach a Secret Service, as on a server or a minimal desktop.
process.env.DBUS_SESSION_BUS_ADDRESS = 'unix:path=/nonexistent/mimi-no-secret-service';
delete process.env.DISPLAY;

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { assertAccessible, builtRenderer, collectPageProblems, eventually, launchChromium, openAdvanced, PASSWORD, screenshot } from './browser.js';
import { startTestProvider, type TestProvider } from '../helpers/provider-fixture.js';

const PASSPHRASE = 'blue harbour lantern 42';
const VIEWPORT = { width: 1024, height: 640 };

let browser: Browser;
let rendererDir: string;
let dataDir: string;
let core: AppCore | undefined;
let bridge: Bridge | undefined;
let other: TestProvider;
let page: Page;
let problems: string[];

async function startApp(): Promise<void> {
  // No secretMode: the core decides, as `npm start` does.
  core = await createAppCore({ dataDir, mode: 'browser' });
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
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-e2e-secrets-'));
  other = await startTestProvider('b.example');
  browser = await launchChromium();
  await startApp();
  page = await (await browser.newContext({ viewport: VIEWPORT })).newPage();
  problems = collectPageProblems(page);
});
after(async () => {
  await browser?.close();
  await stopApp();
  await other?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const accountDirs = () => fs.readdirSync(path.join(dataDir, 'accounts'));
const activeTestId = (p: Page) => p.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid ?? document.activeElement?.tagName);

/** The button is on screen and nothing covers its middle: a person can see and click it. */
async function assertOnScreen(p: Page, testId: string, what: string): Promise<void> {
  const visible = await p.getByTestId(testId).evaluate((el) => {
    const r = el.getBoundingClientRect();
    const inside = r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return inside && !!hit && (hit === el || el.contains(hit));
  });
  assert.ok(visible, `${what}: the ${testId} button is inside the window and not covered`);
}

test('no keychain: create an account protected by a passphrase, chosen in the form', async () => {
  assert.equal((await core!.accounts.secretStorage()).automatic, null, 'this process really has no usable keychain');
  await page.goto(bridge!.url);
  await page.getByTestId('signin').waitFor();
  const choice = page.getByTestId('secret-choice');
  await choice.waitFor();
  assert.match(await choice.innerText(), /No system keychain/);
  assert.equal(await page.getByTestId('secret-choice-passphrase').isChecked(), true, 'the passphrase is the default');
  await assertAccessible(page, 'sign-in with the storage choice');
  await screenshot(page, 'secrets-01-choice');

  await page.getByTestId('signin-handle').fill('alice');
  await page.getByTestId('signin-password').fill(PASSWORD);

  // Form checks first: nothing reaches the core (no folder, no account).
  await page.getByTestId('signin-submit').click();
  assert.match(await page.getByTestId('signin-error').innerText(), /passphrase of at least 8 characters/);
  await page.getByTestId('secret-passphrase').fill(PASSPHRASE);
  await page.getByTestId('secret-passphrase-repeat').fill(`${PASSPHRASE}!`);
  await page.getByTestId('signin-submit').click();
  assert.match(await page.getByTestId('signin-error').innerText(), /two passphrases differ/);
  assert.deepEqual(accountDirs(), []);

  // A long error (another provider, the wrong CA) wraps inside the card; the button stays in view.
  await openAdvanced(page);
  await page.getByTestId('signin-provider').fill(other.p.url);
  await page.getByTestId('signin-ca').fill((await startTestProviderCa()).trim());
  await page.getByTestId('secret-passphrase-repeat').fill(PASSPHRASE);
  await page.getByTestId('signin-submit').click();
  const certError = page.getByTestId('signin-error').filter({ hasText: "provider's certificate could not be verified" });
  await certError.waitFor({ timeout: 20_000 });
  assert.match(await certError.innerText(), /not signed by the CA certificate given for it[\s\S]*check that the CA certificate/);
  assert.doesNotMatch(await certError.innerText(), /internet connection/);
  await assertOnScreen(page, 'signin-submit', 'with the certificate error shown');
  await assertOnScreen(page, 'signin-error', 'the error itself');
  await screenshot(page, 'secrets-02-long-error');
  assert.deepEqual(accountDirs(), [], 'the failed sign-in left nothing behind');
  await page.getByTestId('signin-provider').fill('');
  await page.getByTestId('signin-ca').fill('');

  await page.getByTestId('signin-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: 30_000 });
  // Focus moved to the next step (an account without rooms: "Create a room"), not left on <body>.
  await eventually('focus on "Create a room"', async () => (await activeTestId(page)) === 'new-room', 3000);

  const [id] = accountDirs();
  const dir = path.join(dataDir, 'accounts', id);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'secret-mode.json'), 'utf8')).mode, 'passphrase');
  assert.ok(fs.existsSync(path.join(dir, 'passphrase-kdf.json')));
  assert.equal(fs.existsSync(path.join(dir, 'secrets.plaintext.json')), false, 'nothing in the clear');
  assert.ok(!fs.readFileSync(path.join(dir, 'secrets.passphrase.json'), 'utf8').includes('eyJpZGVudGl0eSI'), 'device keys are not readable');
});

/** Another provider's CA: the dev CA of a provider that is not `other`. */
let wrongCa: string | undefined;
async function startTestProviderCa(): Promise<string> {
  if (!wrongCa) {
    const third = await startTestProvider('c.example');
    wrongCa = third.p.caPem;
    await third.stop();
  }
  return wrongCa;
}

test('at the next start the account is locked: a wrong passphrase changes nothing, the right one opens it', async () => {
  // The old page would keep knocking at the stopped app (console errors); the restart opens a new one.
  await page.goto('about:blank');
  await stopApp();
  await startApp();
  assert.deepEqual(await core!.accounts.list(), [], 'nothing is open before the passphrase');
  assert.deepEqual((await core!.accounts.locked()).map((a) => a.handle), ['alice']);

  await page.goto(bridge!.url);
  const unlock = page.getByTestId('unlock');
  await unlock.waitFor();
  assert.match(await unlock.locator('h1').innerText(), /Unlock alice@localhost/);
  await eventually('the passphrase field has focus', async () => (await activeTestId(page)) === 'unlock-passphrase', 3000);
  await assertAccessible(page, 'unlock screen');
  await screenshot(page, 'secrets-03-unlock');
  // The same screen dark and narrow.
  const dark = await browser.newContext({ viewport: { width: 480, height: 640 }, colorScheme: 'dark' });
  const darkPage = await dark.newPage();
  await darkPage.goto(bridge!.url);
  await darkPage.getByTestId('unlock').waitFor();
  await assertAccessible(darkPage, 'unlock screen, dark, 480px');
  await dark.close();

  await page.getByTestId('unlock-passphrase').fill('blue harbour lantern 41');
  const before = fs.readdirSync(path.join(dataDir, 'accounts', accountDirs()[0])).sort();
  await Promise.all([page.getByTestId('unlock-progress').waitFor(), page.getByTestId('unlock-submit').click()]);
  const err = page.getByTestId('unlock-error');
  await err.waitFor({ timeout: 20_000 });
  assert.match(await err.innerText(), /does not unlock alice@localhost[\s\S]*try again/);
  assert.match(await err.innerText(), /Forgot it\?/);
  assert.deepEqual(await core!.accounts.list(), [], 'still locked');
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'accounts', accountDirs()[0])).sort(), before);
  await assertAccessible(page, 'unlock screen with an error');

  await page.getByTestId('unlock-passphrase').fill(PASSPHRASE);
  await page.getByTestId('unlock-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: 30_000 });
  await page.locator('.status.online').waitFor({ timeout: 20_000 });
  await eventually('focus on the next step after unlocking too', async () => (await activeTestId(page)) === 'new-room', 3000);
  assert.deepEqual(await core!.accounts.locked(), []);
});

test('unencrypted storage only when chosen, with a warning (the add-account dialog)', async () => {
  await page.getByTestId('add-account').click();
  const dialog = page.getByTestId('add-account-dialog');
  await dialog.getByTestId('secret-choice').waitFor();
  await dialog.getByTestId('signin-handle').fill('bob');
  await dialog.getByTestId('signin-password').fill(PASSWORD);
  await dialog.getByTestId('secret-choice-plaintext').check();
  const warning = dialog.getByTestId('secret-plaintext-warning');
  assert.match(await warning.innerText(), /anyone who can read your files/i);
  await assertAccessible(page, 'add account with the unencrypted choice');
  await assertOnScreen(page, 'signin-submit', 'in the add-account dialog');
  await screenshot(page, 'secrets-04-plaintext-warning');
  await dialog.getByTestId('signin-submit').click();
  await page.getByTestId('active-account').filter({ hasText: 'bob' }).waitFor({ timeout: 30_000 });

  const bob = (await core!.accounts.list()).find((a) => a.handle === 'bob')!;
  const dir = path.join(dataDir, 'accounts', bob.id);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'secret-mode.json'), 'utf8')).mode, 'plaintext');
  assert.ok(fs.existsSync(path.join(dir, 'secrets.plaintext.json')));
  assert.deepEqual(problems, []);
});
