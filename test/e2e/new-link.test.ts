// A browser tab left open across a restart of the app (browser mode), in Chromium against the real
// core and bridge: while the app is away the tab shows one truth (no account "online" next to
// "Reconnecting…", no provider banner for what it cannot know); when the app is back with a new
// key the tab says to open the new link instead of reconnecting forever; and pasting that link into
// the same tab (only the #token fragment changes, which loads nothing by itself) reconnects.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { freePort } from '../helpers/provider-process.js';
import { assertAccessible, builtRenderer, collectPageProblems, launchChromium, PASSWORD, screenshot } from './browser.js';

let browser: Browser;
let rendererDir: string;
let dataDir: string;
let core: AppCore;
let bridge: Bridge | undefined;
let page: Page;
let problems: string[];

before(async () => {
  rendererDir = builtRenderer();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-e2e-new-link-'));
  core = await createAppCore({ dataDir, mode: 'browser', secretMode: 'plaintext' });
  await core.accounts.register({ handle: 'alice', password: PASSWORD });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
  problems = collectPageProblems(page);
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  await core?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('an open tab across an app restart: one connection state, then the new link pasted into it reconnects', async () => {
  const port = await freePort();
  bridge = await startBridge({ core, rendererDir, port });
  await page.goto(bridge.url);
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: 20_000 });
  await page.locator('.status.online').waitFor({ timeout: 20_000 });
  assert.equal(await page.evaluate(() => location.hash), '', 'the key left the address bar');

  // The app process goes away (the core itself keeps its provider connection: only the tab's view is stale).
  await bridge.close();
  bridge = undefined;
  await page.getByTestId('banner-core').waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('.status.online').count(), 0, 'no account is shown online while the app is out of reach');
  assert.equal(await page.locator('.account-head .status').innerText(), 'connecting');
  // Past the provider banner's grace period: no "Can't reach your provider" for what the tab cannot know.
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(await page.getByTestId('banner-offline').count(), 0);
  await screenshot(page, 'new-link-01-app-away');

  // The app is back on the same port with a new key: the tab says to open the new link.
  bridge = await startBridge({ core, rendererDir, port });
  await page.getByTestId('needs-link').waitFor({ timeout: 20_000 });
  assert.equal(await page.getByTestId('banner-core').count(), 0);
  await assertAccessible(page, 'needs the new link');

  // Pasting the new link into this tab changes only the fragment; the tab takes the key and reloads.
  const hash = new URL(bridge.url).hash;
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor({ timeout: 20_000 });
  await page.locator('.status.online').waitFor({ timeout: 20_000 });
  assert.equal(await page.getByTestId('needs-link').count(), 0);
  assert.equal(await page.evaluate(() => location.hash), '', 'the new key left the address bar too');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mimi.bridgeToken')), bridge.token);
  await screenshot(page, 'new-link-02-reconnected');

  // Only the expected network noise of a stopped app: no script errors, no CSP violations.
  assert.deepEqual(
    problems.filter((p) => !/^console: (WebSocket connection to .* failed|Failed to load resource)/.test(p)),
    [],
  );
});
