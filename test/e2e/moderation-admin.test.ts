// The provider's moderation page (/admin/, src-provider/admin-page.ts) in real Chromium against a
// real provider process. Four users of a.example (device cores) share a room; carol reports bob,
// alice reports carol. The operator enters a wrong token (refused), then the one from the data
// dir, sees both reports, opens carol's and dismisses it, opens bob's and removes him (the hub
// proposes, a member commits, bob leaves the others' view), then bans him (banned on every
// member's list). axe-clean in light, dark and at 480px;
// no script errors and no CSP violations. Screenshots 100- to 105-.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { lounge } from '../helpers/lounge.js';
import { startProviderProcess, waitFor, type ProviderProcess } from '../helpers/provider-process.js';
import { assertAccessible, collectPageProblems, eventually, launchChromium, screenshot } from './browser.js';

const WAIT = 20_000;
const B = 'mimi://a.example/u/bob';
const C = 'mimi://a.example/u/carol';

let engine: MlsEngine;
let provider: ProviderProcess;
let token: string;
const profiles: Profile[] = [];
let alice: Profile, bob: Profile, carol: Profile, dave: Profile;
let room: string;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let problems: string[];

before(async () => {
  engine = await createMlsEngine();
  provider = await startProviderProcess({ domain: 'a.example' });
  token = fs.readFileSync(path.join(provider.dataDir, 'admin-token'), 'utf8').trim();
  ({ alice, bob, carol, dave, room } = await lounge(provider, { engine, keep: profiles, dirPrefix: 'mod-e2e', timeoutMs: WAIT }));
  await carol.reportAbuse(room, 'bob', 'bob posts scam links\nagain and again <b>not bold</b>');
  await alice.reportAbuse(room, 'carol', 'carol shouts');
  browser = await launchChromium();
  // The provider's certificate is from its own dev CA, which this browser does not know.
  context = await browser.newContext({ viewport: { width: 1100, height: 820 }, ignoreHTTPSErrors: true });
  page = await context.newPage();
  problems = collectPageProblems(page);
});

after(async () => {
  await browser?.close();
  for (const p of profiles) await p.close().catch(() => undefined);
  await provider?.stop();
});

const reportButton = (who: string) => page.getByRole('button', { name: new RegExp(`^Report #\\d+: ${who.replace(/[.]/g, '\\.')}$`) });
const status = () => page.locator('#status');

test('the moderation page: token, queue, dismiss, remove, ban; accessible in light, dark and narrow', async () => {
  const response = await page.goto(`${provider.url}/admin/`);
  assert.equal(response?.status(), 200);
  assert.match(response!.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'self'/);

  // --- the token form ---
  await page.getByRole('heading', { level: 2, name: 'Sign in' }).waitFor({ timeout: WAIT });
  await assertAccessible(page, 'token form (light)');
  await screenshot(page, '100-admin-token');
  // Something that is not a token: said at once, nothing sent.
  await page.getByLabel('Admin token', { exact: true }).fill('hunter2');
  await page.getByRole('button', { name: 'Open the queue' }).click();
  await page.getByRole('alert').filter({ hasText: 'does not look like an admin token' }).waitFor();
  assert.equal(await page.getByLabel('Admin token', { exact: true }).getAttribute('aria-invalid'), 'true');
  // A well-formed wrong token: the provider refuses it (401), the form comes back.
  await page.getByLabel('Admin token', { exact: true }).fill('A'.repeat(43));
  await page.getByRole('button', { name: 'Open the queue' }).click();
  await page.getByRole('alert').filter({ hasText: 'The token was refused' }).waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mimi-admin-token')), null, 'a refused token is not kept');
  await assertAccessible(page, 'token refused');

  // --- the queue ---
  await page.getByLabel('Admin token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Open the queue' }).click();
  await page.getByRole('heading', { level: 2, name: 'Reports' }).waitFor({ timeout: WAIT });
  await reportButton(B).waitFor({ timeout: WAIT });
  await reportButton(C).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'queue-title', 'focus moves to the list heading');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mimi-admin-token')), token, 'the token is kept in this tab');
  assert.ok(!page.url().includes(token), 'the token is not in the URL');
  await eventually('the status to count the reports', async () => (await status().textContent())?.includes('2 reports (open)'));
  const bobCard = page.locator('li.report', { has: reportButton(B) });
  // The note is shown as text: its markup is not rendered.
  assert.match((await bobCard.textContent()) ?? '', /<b>not bold<\/b>/);
  assert.equal(await page.locator('li.report b').count(), 0);
  await assertAccessible(page, 'queue (light)');
  await screenshot(page, '101-admin-queue');

  // --- carol's report: open it, dismiss it ---
  await reportButton(C).click();
  await page.getByRole('heading', { level: 2, name: /^Report #\d+$/ }).waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'detail-title');
  assert.match(page.url(), /#report-\d+$/);
  await page.locator('#detail-room').filter({ hasText: `${C} is in the room with 1 device` }).waitFor();
  assert.equal(await page.locator('#detail-note').textContent(), 'carol shouts');
  await assertAccessible(page, 'report detail (light)');
  await page.getByRole('button', { name: 'Dismiss' }).click();
  await eventually('the dismissal to show', async () => (await status().textContent())?.match(/^Report #\d+ dismissed\.$/));
  await page.locator('#detail-fields dd.state-dismissed').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Dismiss' }).isDisabled(), true);
  await page.locator('#detail-actions li').filter({ hasText: 'admin (api) dismissed the report' }).waitFor();
  await screenshot(page, '102-admin-dismissed');

  // Back: the open list no longer has it; focus returns to its row in "All".
  await page.getByRole('button', { name: 'Back to the reports' }).click();
  await reportButton(B).waitFor({ timeout: WAIT });
  assert.equal(await reportButton(C).count(), 0, 'a dismissed report is not open');
  await page.getByLabel('Show').selectOption('all');
  await reportButton(C).waitFor({ timeout: WAIT });
  await page.locator('li.report', { has: reportButton(C) }).locator('dd.state-dismissed').waitFor();

  // --- bob's report: remove him from the room ---
  await reportButton(B).click();
  await page.locator('#detail-room').filter({ hasText: `${B} is in the room with 1 device` }).waitFor({ timeout: WAIT });
  const note = await page.locator('#detail-note').textContent();
  assert.equal(note, 'bob posts scam links\nagain and again <b>not bold</b>');
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Remove from room' }).click();
  await eventually('the removal to show', async () => (await status().textContent())?.includes('The hub proposed removing mimi://a.example/u/bob (1 device)'));
  await page.locator('#detail-fields dd.state-actioned').waitFor();
  await page.locator('#detail-actions li').filter({ hasText: `admin (api) removed ${B} from the room` }).waitFor();
  await waitFor(() => [alice, carol, dave].every((p) => !p.roomView(room).members.includes(B)), "bob gone from the others' view", 30_000);
  // Looked at again, the room has no device of bob's left and Remove is off.
  await page.reload();
  await page.locator('#detail-room').filter({ hasText: `${B} has no member in the room now (3 members in all).` }).waitFor({ timeout: WAIT });
  assert.equal(await page.getByRole('button', { name: 'Remove from room' }).isDisabled(), true);
  await assertAccessible(page, 'report detail after removal (light)');
  await screenshot(page, '103-admin-removed');

  // --- and ban him: he left, so the hub's room state proposal alone bans him ---
  assert.equal(await page.getByRole('button', { name: 'Ban from room' }).isDisabled(), false);
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Ban from room' }).click();
  await eventually('the ban to show', async () => (await status().textContent())?.includes(`The hub proposed banning ${B}; the room's members commit it.`));
  await page.locator('#detail-actions li').filter({ hasText: `admin (api) banned ${B} from the room` }).waitFor();
  await waitFor(() => [alice, carol, dave].every((p) => p.roomStateDocument(room).participants.find((x) => x.user === B)?.roleName === 'banned'), 'bob banned on every list', 30_000);
  await page.reload();
  await page.locator('#detail-room').filter({ hasText: `${B} is banned from the room.` }).waitFor({ timeout: WAIT });
  assert.equal(await page.getByRole('button', { name: 'Ban from room' }).isDisabled(), true);
  await assertAccessible(page, 'report detail after the ban (light)');
  await screenshot(page, '103b-admin-banned');

  // --- dark, and narrow ---
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, 'report detail (dark)');
  await screenshot(page, '104-admin-dark-detail');
  await page.getByRole('button', { name: 'Back to the reports' }).click();
  await page.getByRole('heading', { level: 2, name: 'Reports' }).waitFor();
  await page.getByLabel('Show').selectOption('all');
  await reportButton(C).waitFor({ timeout: WAIT });
  await assertAccessible(page, 'queue (dark)');
  await page.setViewportSize({ width: 480, height: 900 });
  await assertAccessible(page, 'queue (dark, 480px)');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 480), 'nothing wider than 480px');
  await screenshot(page, '105-admin-dark-narrow');
  await page.emulateMedia({ colorScheme: 'light' });
  await reportButton(B).click();
  await page.getByRole('heading', { level: 2, name: /^Report #\d+$/ }).waitFor({ timeout: WAIT });
  await assertAccessible(page, 'report detail (light, 480px)');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 480), 'the detail fits in 480px');
  await screenshot(page, '106-admin-light-narrow-detail');

  // --- forget the token ---
  await page.getByRole('button', { name: 'Forget token' }).click();
  await page.getByRole('heading', { level: 2, name: 'Sign in' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mimi-admin-token')), null);

  // The only console errors allowed are the browser's own line for the refused token's 401.
  const unexpected = problems.filter((p) => !/^console: Failed to load resource: the server responded with a status of 401/.test(p));
  assert.deepEqual(unexpected, [], 'no script errors, no CSP violations');
  assert.ok(!provider.output().includes(token), 'the token never reaches the log');
});
