// The app in German, in Chromium against the real core: Settings → Appearance → Language → Deutsch
// switches the window at once (html[lang=de], the Settings screen's words), survives a reload, and
// the sign-in screen (after signing out) speaks German too, its form checks included. Every screen
// here at 480 px wide has no horizontal scroll and passes axe-core light and dark, in German (longer
// words than English are where layouts break).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertAccessible, builtRenderer, closeRealCoreSide, launchChromium, openOnRealCore, register, screenshot, type RealCoreSide } from './browser.js';
import type { Browser } from 'playwright-core';

const WIDTH = 480;
let browser: Browser;
let side: RealCoreSide;
let page: Page;

before(async () => {
  browser = await launchChromium();
  side = await openOnRealCore(browser, builtRenderer(), { dirPrefix: 'mimi-e2e-german-', embeddedProvider: true, viewport: { width: WIDTH, height: 800 } });
  page = side.page;
});
after(async () => {
  if (side) await closeRealCoreSide(side);
  await browser?.close();
});

const lang = () => page.evaluate(() => document.documentElement.lang);

/** Neither the page nor the open dialog scrolls sideways at this width. */
async function assertNoSideScroll(what: string): Promise<void> {
  // No named helper inside: the test's TypeScript loader would wrap it in a function the page lacks.
  const wide = await page.evaluate(() => {
    const found: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth) found.push('the page');
    for (const el of document.querySelectorAll('.sheet, .card, .overlay')) if (el.scrollWidth > el.clientWidth + 1) found.push(el.className);
    return found;
  });
  assert.deepEqual(wide, [], `${what}: nothing scrolls sideways at ${WIDTH}px`);
}

/** axe in the light and the dark theme (the OS's, which 'system' follows). */
async function assertAccessibleBoth(what: string, shot: string): Promise<void> {
  await page.emulateMedia({ colorScheme: 'light' });
  await assertAccessible(page, `${what}, light`);
  await screenshot(page, `${shot}-light`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, `${what}, dark`);
  await screenshot(page, `${shot}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

test('Settings → Language → Deutsch: the window switches at once, and stays German after a reload', async () => {
  await page.goto(side.bridge.url);
  await register(page, 'alice');
  assert.equal(await lang(), 'en');
  await page.getByTestId('open-settings').click();
  const settings = page.getByTestId('settings');
  assert.equal(await settings.locator('#settings-title').innerText(), 'Settings');

  await page.getByTestId('settings-language').selectOption('de');
  await page.waitForFunction(() => document.documentElement.lang === 'de');
  assert.equal(await settings.locator('#settings-title').innerText(), 'Einstellungen');
  assert.equal(await settings.getByTestId('settings-close').innerText(), 'Schließen');
  assert.equal(await page.getByTestId('settings-notifications').locator('h3').innerText(), 'Benachrichtigungen');
  assert.equal(await page.getByTestId('settings-security').locator('h3').innerText(), 'Sicherheit');
  assert.match(await page.getByTestId('settings-security').innerText(), /Passwort ändern[\s\S]*Aktuelles Passwort/);
  assert.match(await page.getByTestId('settings-account').innerText(), /alice@localhost löschen/);
  assert.match(await settings.innerText(), /Für alice@localhost: Profil, Sicherheit und Konto/);
  // The rail's button names follow too.
  assert.equal(await page.getByTestId('open-settings').getAttribute('title'), 'Einstellungen');
  await assertNoSideScroll('Settings in German');
  await assertAccessibleBoth('Settings in German', '200-settings-de');

  // A form check in German.
  await page.getByTestId('pw-submit').click();
  assert.equal(await page.getByTestId('pw-error').innerText(), 'Gib zuerst dein aktuelles Passwort ein.');

  await page.reload();
  await page.getByTestId('active-account').waitFor();
  assert.equal(await lang(), 'de', 'the choice is remembered');
  await page.getByTestId('open-settings').click();
  assert.equal(await page.getByTestId('settings').locator('#settings-title').innerText(), 'Einstellungen');
  assert.equal(await page.getByTestId('settings-language').inputValue(), 'de');
  await assertNoSideScroll('Settings in German after a reload');
  await screenshot(page, '202-settings-de-reloaded');
  await page.getByTestId('settings-close').click();
});

test('the sign-in screen in German, its checks included, also after a reload', async () => {
  await page.getByTestId('sign-out').click();
  await page.getByTestId('confirm-sign-out').click();
  const signin = page.getByTestId('signin');
  await signin.waitFor();
  assert.equal(await lang(), 'de');
  assert.equal(await signin.locator('h1').innerText(), 'Willkommen bei mimi');
  assert.equal(await page.getByTestId('tab-register').innerText(), 'Konto erstellen');
  assert.equal(await page.getByTestId('tab-login').innerText(), 'Anmelden');
  assert.match(await signin.innerText(), /Benutzername[\s\S]*Passwort[\s\S]*Mindestens 8 Zeichen/);
  await page.getByTestId('signin-submit').click();
  assert.match(await page.getByTestId('signin-error').innerText(), /^Benutzernamen haben 1–32 Zeichen/);
  await page.getByTestId('signin-handle').fill('bob');
  await page.getByTestId('signin-submit').click();
  assert.equal(await page.getByTestId('signin-error').innerText(), 'Wähle ein Passwort mit mindestens 8 Zeichen.');
  await page.locator('.advanced summary').click();
  assert.match(await signin.innerText(), /Adresse des Anbieters[\s\S]*CA-Zertifikat des Anbieters/);
  await assertNoSideScroll('sign-in in German');
  await assertAccessibleBoth('sign-in in German', '204-signin-de');

  await page.reload();
  await page.getByTestId('signin').waitFor();
  assert.equal(await lang(), 'de');
  assert.equal(await page.getByTestId('signin').locator('h1').innerText(), 'Willkommen bei mimi');
  assert.equal(await page.getByTestId('signin-submit').innerText(), 'Konto erstellen');
  await assertNoSideScroll('sign-in in German after a reload');
  await screenshot(page, '206-signin-de-reloaded');
  assert.deepEqual(side.problems, []);
});
