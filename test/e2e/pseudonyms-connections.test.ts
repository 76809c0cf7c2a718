// Pseudonyms, connections and minimal-metadata rooms as a person sees them, in real Chromium on
// the real bridge in front of an in-memory core (pseudonym-fixture.ts): the pseudonym manager for
// one account and for two side by side (refill with its progress, retire behind a confirmation,
// updates pushed by the core), incoming connection requests (accepted, declined, one whose
// identity could not be verified), and a minimal-metadata room whose members show the identity
// verified behind each pseudonym, and who may send the account connection requests (anyone, some
// providers, nobody: typed by keyboard, a typo said before anything is sent, the core's refusal
// shown). Every screen is checked with axe-core, light and dark, wide and narrow.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator, Page } from 'playwright-core';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { CoreError } from '../../src-shared/contract.js';
import { assertAccessible as accessible, collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import { A, B, BOB, B_PROBLEM, CAROL, CAROL_PROBLEM, DAVE, ODD_PROBLEM, P_BOB, P_MINE, P_ODD, P_SPARE, pseudonymCore } from './pseudonym-fixture.js';

const fx = pseudonymCore();
let session: FakeCoreSession | undefined;
let browser: Browser;
let bridge: Bridge;
let page: Page;
let problems: string[];

before(async () => {
  session = await openOnFakeCore(fx.core, { width: 1280, height: 860 });
  ({ browser, bridge, page, problems } = session);
});

after(async () => {
  await session?.close();
});

const callsOf = (method: string) => fx.calls.filter((c) => c.method === method).map((c) => c.args);
const pool = (p: Page, account: string) => p.locator(`[data-testid=pseudonym-pool][data-account="${account}"]`);
const pseudonymRow = (scope: Locator, uri: string) => scope.locator(`[data-testid=pseudonym-item][data-pseudonym="${uri}"]`);
const request = (p: Page, peer: string) => p.locator(`[data-testid=connection-request][data-peer="${peer}"]`);
const focusedTestId = (p: Page) => p.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);

test('the pseudonym manager: one pool, then both accounts side by side; refill with progress; retire asks first and Escape keeps it', async () => {
  await page.goto(bridge.url);
  await page.getByTestId('open-pseudonyms').click();
  const a = pool(page, A);
  await a.getByTestId('pool-summary').waitFor();
  assert.equal(await page.getByTestId('pseudonym-pool').count(), 1, 'the active account only, at first');
  assert.equal(await a.getByTestId('pool-summary').innerText(), '2 unused. When fewer than 4 are unused, the app asks for 3 more.');

  // Each pseudonym: short form (full URI on hover), state with its rooms by name, issued, KeyPackages.
  const mine = pseudonymRow(a, P_MINE);
  assert.equal(await mine.getByTestId('pseudonym-short').innerText(), 'p/Qm7xK2…');
  assert.equal(await mine.getByTestId('pseudonym-short').getAttribute('title'), P_MINE);
  assert.equal(await mine.getByTestId('pseudonym-rooms').innerText(), 'In “Quiet corner”, “Book club”');
  assert.match(await mine.innerText(), /Issued .+ · 5 KeyPackages/);
  assert.equal(await mine.getByTestId('pseudonym-state').innerText(), 'in use');
  assert.equal(await a.getByTestId('pool-unused').getByTestId('pseudonym-item').count(), 2);
  assert.equal(await a.getByTestId('pool-retired').getByTestId('pseudonym-item').count(), 1);
  assert.equal(await a.getByTestId('pool-retired').getByTestId('pseudonym-retire').count(), 0, 'a retired one cannot be retired again');
  await accessible(page, 'pseudonym manager');
  await screenshot(page, '60-pseudonyms-one-account');

  // Both accounts side by side; the other pool's failed refill is said in its column and in the nav.
  await page.getByTestId('pseudonyms-all').check();
  const b = pool(page, B);
  await b.getByTestId('pool-problem').waitFor();
  assert.match(await b.getByTestId('pool-problem').innerText(), new RegExp(`The last refill failed\\. ${B_PROBLEM.replace(/[.()]/g, '\\$&')}`));
  assert.equal(await page.getByTestId('pseudonyms-trouble').getAttribute('aria-label'), '1 pool needs attention');
  const [boxA, boxB] = [await a.boundingBox(), await b.boundingBox()];
  assert.ok(boxA && boxB && boxB.x > boxA.x + boxA.width - 1 && Math.abs(boxB.y - boxA.y) < 2, 'the pools stand side by side');
  await accessible(page, 'both pools');
  await screenshot(page, '61-pseudonyms-all-accounts');

  // Get more now: back to the threshold and at least a batch (3); progress until the core delivers.
  const refill = a.getByTestId('pool-refill');
  assert.equal(await refill.innerText(), 'Get 3 more now');
  await refill.click();
  await a.getByTestId('pool-refilling').waitFor();
  // The page shows progress as soon as it asks; the call reaches the core over the bridge just after.
  await eventually('the refill call at the core', async () => callsOf('refill').length > 0);
  assert.deepEqual(callsOf('refill'), [[A, 3]]);
  assert.equal(await refill.isDisabled(), true, 'no second refill while one runs');
  // The note follows the core's answer, which under a loaded suite may trail the call a little.
  await a.getByTestId('pool-done').filter({ hasText: /Asked localhost for 3 more\./ }).waitFor();
  assert.match(await a.getByTestId('pool-done').innerText(), /Asked localhost for 3 more\./);
  await screenshot(page, '62-pseudonyms-refilling');
  fx.finishRefill(A, 3);
  await a.getByTestId('pool-refilling').waitFor({ state: 'detached' });
  assert.equal(await a.getByTestId('pool-unused').getByTestId('pseudonym-item').count(), 5);
  assert.match(await a.getByTestId('pool-summary').innerText(), /^5 unused\./);

  // The app refills in the background too: the other pool updates live and its problem goes.
  fx.finishRefill(B, 3);
  await b.getByTestId('pool-problem').waitFor({ state: 'detached' });
  assert.equal(await b.getByTestId('pool-unused').getByTestId('pseudonym-item').count(), 4);
  await page.getByTestId('pseudonyms-trouble').waitFor({ state: 'detached' });

  // Retire says what it does; Escape keeps the pseudonym and gives the focus back.
  await mine.getByTestId('pseudonym-retire').click();
  const question = mine.getByTestId('retire-question');
  assert.equal(
    await question.innerText(),
    'Retire p/Qm7xK2…? You leave its 2 rooms (“Quiet corner”, “Book club”), its KeyPackages are withdrawn from localhost, and it is never used again.',
  );
  assert.equal(await focusedTestId(page), 'retire-confirm');
  await accessible(page, 'retire confirmation');
  await screenshot(page, '63-pseudonym-retire-confirm');
  await page.keyboard.press('Escape');
  await mine.getByTestId('retire-confirm-group').waitFor({ state: 'detached' });
  assert.equal(await focusedTestId(page), 'pseudonym-retire');
  assert.equal(await page.getByTestId('pseudonyms-view').count(), 1, 'Escape cancelled only the question');
  assert.deepEqual(callsOf('retire'), []);

  // "Keep it" cancels too; confirming retires it, and it moves to Retired.
  const spare = pseudonymRow(a, P_SPARE);
  await spare.getByTestId('pseudonym-retire').click();
  assert.match(await spare.getByTestId('retire-question').innerText(), /^Retire p\/Zk3Jx8…\? It is in no room\. Its KeyPackages are withdrawn from localhost, and it is never used again\.$/);
  await spare.getByTestId('retire-cancel').click();
  assert.equal(await focusedTestId(page), 'pseudonym-retire');
  await spare.getByTestId('pseudonym-retire').click();
  await spare.getByTestId('retire-confirm').click();
  await a.getByTestId('pool-retired').locator(`[data-pseudonym="${P_SPARE}"]`).waitFor();
  assert.deepEqual(callsOf('retire'), [[A, P_SPARE]]);
  assert.match(await a.getByTestId('pool-done').innerText(), /Retired p\/Zk3Jx8…: it is never used again\./);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'alice@localhost', 'the focus stays in the pool (its heading)');
  assert.equal(await pseudonymRow(a, P_SPARE).getByTestId('pseudonym-keypackages').innerText(), '0 KeyPackages');
  await page.getByTestId('pseudonyms-close').click();
  await page.getByTestId('chat-empty').waitFor();
});

test('incoming connection requests: a verified one accepted and its room opened, one declined, an unverified one warns with its problem', async () => {
  const prompt = page.getByTestId('connection-prompt');
  await prompt.waitFor();
  assert.equal(await page.getByTestId('connection-request').count(), 3);
  assert.equal(await page.getByTestId('people-waiting').innerText(), '3');
  assert.match(await request(page, BOB).innerText(), /^bob@b\.example wants to connect\s*✓ verified/);
  assert.equal(await request(page, BOB).getByTestId('connection-accept').innerText(), 'Accept');
  const carol = request(page, CAROL);
  assert.match(await carol.innerText(), new RegExp(`Someone who says they are carol@c\\.example wants to connect\\s*⚠ unverified: ${CAROL_PROBLEM}`));
  assert.match(await carol.getByTestId('connection-warning').innerText(), /This could be someone else/);
  assert.equal(await carol.getByTestId('connection-accept').innerText(), 'Accept anyway');
  await accessible(page, 'connection prompt');
  await screenshot(page, '64-connection-prompt');

  await request(page, BOB).getByTestId('connection-accept').click();
  const accepted = page.getByTestId('connection-accepted');
  await accepted.waitFor();
  assert.match(await accepted.innerText(), /You are connected with bob@b\.example\./);
  assert.deepEqual(callsOf('accept'), [[A, 'mimi://b.example/r/boot-bob']]);
  await accepted.getByTestId('connection-open-room').click();
  await eventually('the new room open', async () => (await page.getByTestId('room-title').innerText()) === 'bob (connection)');
  await page.getByTestId('room-minimal').waitFor();

  await request(page, DAVE).getByTestId('connection-decline').click();
  await request(page, DAVE).waitFor({ state: 'detached' });
  assert.deepEqual(callsOf('decline'), [[A, 'mimi://b.example/r/boot-dave']]);
  assert.equal(await page.getByTestId('people-waiting').innerText(), '1');

  // People > Connections: every request with its state, the accepted one linking to its room.
  await page.getByTestId('open-people').click();
  await page.getByTestId('connections-panel').waitFor();
  const item = (peer: string) => page.locator(`[data-testid=connection-item][data-peer="${peer}"]`);
  assert.equal(await item(BOB).getByTestId('connection-state').innerText(), 'connected');
  assert.equal(await item(DAVE).getByTestId('connection-state').innerText(), 'declined');
  assert.equal(await item(CAROL).getByTestId('connection-state').innerText(), 'waiting for your answer');
  assert.match(await item(CAROL).innerText(), new RegExp(`unverified: ${CAROL_PROBLEM}`));
  const erin = item('mimi://c.example/u/erin');
  assert.equal(await erin.getByTestId('connection-state').innerText(), 'failed');
  assert.equal(await erin.getByTestId('connection-problem').innerText(), 'c.example did not answer. Try again later.');

  // Connect with someone: the core's refusal as it says it; then a request that goes out.
  await page.getByTestId('connect-input').fill('nobody@b.example');
  await page.getByTestId('connect-submit').click();
  await page.getByTestId('connect-error').filter({ hasText: 'There is no user nobody on b.example. Check the address and try again.' }).waitFor();
  await page.getByTestId('connect-input').fill('frank@c.example');
  await page.keyboard.press('Enter');
  await page.getByTestId('connect-done').filter({ hasText: 'Asked frank@c.example to connect.' }).waitFor();
  assert.deepEqual(callsOf('connect').pop(), [A, 'mimi://c.example/u/frank']);
  assert.equal(await item('mimi://c.example/u/frank').getByTestId('connection-state').innerText(), 'waiting for an answer');
  await accessible(page, 'connections panel');
  await screenshot(page, '65-connections-panel');

  await item(BOB).getByTestId('connection-open').click();
  await eventually('the room open from the list', async () => (await page.getByTestId('room-title').innerText()) === 'bob (connection)');
});

test('a minimal-metadata room: verified identities beside pseudonyms, an unverified member warns, and the create form offers one', async () => {
  await page.locator('[data-testid=room-item][data-room-name="Quiet corner"]').click();
  await page.getByTestId('room-minimal').waitFor();
  const member = (uri: string) => page.getByTestId('member-item').filter({ has: page.locator(`[title="${uri}"]`) });
  await eventually('identities loaded', async () => (await member(P_BOB).getByTestId('member-label').innerText()) === 'bob@b.example');
  assert.match(await member(P_BOB).innerText(), /bob@b\.example\s*✓ verified\s+as p\/Hs5dPq…/);
  assert.equal(await member(P_BOB).getByTestId('member-pseudonym').getAttribute('title'), P_BOB);
  assert.match(await member(P_MINE).innerText(), /alice \(you\)\s+as p\/Qm7xK2…/);
  assert.equal(await member(P_MINE).getByTestId('identity-verified').count(), 0, 'no badge on yourself');
  assert.match(await member(P_ODD).innerText(), new RegExp(`p/Mn4bVc…\\s*⚠ unverified: ${ODD_PROBLEM}`));
  // Messages are signed by pseudonyms: the timeline names them the same way, and "You" is you.
  await eventually('senders named', async () => (await page.getByTestId('message-sender').allInnerTexts()).join('|') === 'You|p/Mn4bVc…|bob@b.example');
  const preview = page.locator('[data-testid=room-item][data-room-name="Quiet corner"] .room-preview');
  assert.equal(await preview.innerText(), 'bob@b.example: Glad we can talk here.');
  await accessible(page, 'minimal-metadata room');
  await screenshot(page, '66-minimal-room-members');

  await page.getByTestId('toggle-settings').click();
  const row = (uri: string) => page.locator(`[data-testid=room-member][data-user="${uri}"]`);
  await row(P_BOB).waitFor();
  assert.equal(await row(P_BOB).getByTestId('identity-verified').innerText(), '✓ verified');
  assert.equal(await row(P_BOB).getByTestId('member-kick').getAttribute('aria-label'), 'Kick bob@b.example');
  assert.match(await row(P_ODD).getByTestId('identity-unverified').innerText(), new RegExp(`unverified: ${ODD_PROBLEM}`));
  assert.match(await page.getByTestId('room-members').locator('li').first().innerText(), /alice \(you\)/);
  await accessible(page, 'minimal-metadata room settings');
  await screenshot(page, '67-minimal-room-settings');
  await page.getByTestId('room-settings-close').click();

  await page.getByTestId('new-room').click();
  await page.getByTestId('new-room-name').fill('Hideout');
  await page.getByTestId('new-room-minimal').check();
  await accessible(page, 'create-room form');
  await screenshot(page, '68-create-minimal-room');
  await page.getByTestId('create-room-submit').click();
  await eventually('the new room open', async () => (await page.getByTestId('room-title').innerText()) === 'Hideout');
  assert.deepEqual(callsOf('createMinimalMetadata'), [[A, 'Hideout', 'cooperative']]);
  await page.getByTestId('room-minimal').waitFor();
  assert.deepEqual(problems, []);
});

test('dark mode in a narrow window: the same screens pass axe and fit the width', async () => {
  const context = await browser.newContext({ viewport: { width: 720, height: 760 }, colorScheme: 'dark' });
  const dark = await context.newPage();
  const darkProblems = collectPageProblems(dark);
  const fits = async (what: string) => {
    const over = await dark.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${what}: the page is ${over}px wider than the window`);
  };
  await dark.goto(bridge.url);
  await request(dark, CAROL).waitFor();
  await accessible(dark, 'dark: room pane with a connection request');
  await screenshot(dark, '69-dark-narrow-connection-prompt');

  await dark.getByTestId('open-pseudonyms').click();
  await dark.getByTestId('pseudonyms-all').check();
  await pool(dark, B).getByTestId('pool-summary').waitFor();
  await fits('pseudonym manager');
  await pseudonymRow(pool(dark, A), P_MINE).getByTestId('pseudonym-retire').click();
  await accessible(dark, 'dark: pseudonym manager with a retire question');
  await screenshot(dark, '70-dark-narrow-pseudonyms');
  await dark.keyboard.press('Escape');

  await dark.getByTestId('open-people').click();
  await dark.getByTestId('people-tab-connections').click();
  await dark.getByTestId('connections-panel').waitFor();
  await fits('connections');
  await accessible(dark, 'dark: connections');
  await screenshot(dark, '71-dark-narrow-connections');
  // Who may send connection requests, with its list of providers open.
  await dark.getByTestId('request-policy-domains').check();
  const list = dark.getByTestId('request-policy-list');
  await list.scrollIntoViewIfNeeded();
  await fits('connection request setting');
  const box = await list.boundingBox();
  assert.ok(box && box.x + box.width <= 720, 'the list fits the window');
  await accessible(dark, 'dark: connection request setting');
  await screenshot(dark, '74-dark-narrow-request-policy');

  await dark.locator('[data-testid=room-item][data-room-name="Quiet corner"]').click();
  await dark.getByTestId('toggle-settings').click();
  const bob = dark.locator(`[data-testid=room-member][data-user="${P_BOB}"]`);
  await bob.getByTestId('identity-verified').waitFor();
  await bob.scrollIntoViewIfNeeded();
  await fits('minimal-metadata room settings');
  await accessible(dark, 'dark: minimal-metadata room settings');
  await screenshot(dark, '72-dark-narrow-minimal-room');
  await context.close();
  assert.deepEqual(darkProblems, []);
  assert.deepEqual(problems, []);
});

test('who may send connection requests: anyone by default; a list of providers typed by keyboard, a typo caught first; the core\'s refusal shown', async () => {
  await page.getByTestId('open-people').click();
  await page.getByTestId('people-tab-connections').click();
  const form = page.getByTestId('request-policy');
  const radio = (mode: string) => form.getByTestId(`request-policy-${mode}`);
  await radio('anyone').waitFor();
  assert.equal(await radio('anyone').isChecked(), true, 'the setting as the core has it: anyone');
  assert.equal(await form.getByTestId('request-policy-list').count(), 0, 'no list to type while anyone may ask');
  assert.equal(await form.getByRole('group', { name: 'Who may send you connection requests?' }).count(), 1);
  assert.match(await radio('anyone').getAttribute('aria-describedby').then((id) => form.locator(`#${id}`).innerText()), /waits for your answer/);

  // By keyboard: arrow to "Only from these providers", Tab into its list, type, Enter saves.
  await radio('anyone').focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await radio('domains').isChecked(), true);
  await page.keyboard.press('Tab');
  assert.equal(await focusedTestId(page), 'request-policy-list');
  await page.keyboard.type('B.example, c_example');
  await page.keyboard.press('Enter');
  const error = form.getByTestId('request-policy-error');
  await error.waitFor();
  assert.equal(await error.innerText(), '“c_example” is not a provider’s domain. Type domains such as b.example, separated by commas or spaces.');
  assert.equal(await form.getByTestId('request-policy-list').getAttribute('aria-invalid'), 'true');
  assert.equal(await focusedTestId(page), 'request-policy-list', 'the focus stays on what to fix');
  assert.deepEqual(callsOf('setPolicy'), [], 'nothing sent');

  await form.getByTestId('request-policy-list').fill('B.example c.example, b.example');
  await page.keyboard.press('Enter');
  const done = form.getByTestId('request-policy-done');
  await done.filter({ hasText: 'Saved. Only people on b.example and c.example may send you connection requests.' }).waitFor();
  assert.deepEqual(callsOf('setPolicy'), [[A, { mode: 'domains', domains: ['b.example', 'c.example'] }]]);
  assert.equal(await form.getByTestId('request-policy-list').inputValue(), 'b.example, c.example', 'as stored');
  assert.equal(await error.count(), 0);
  await accessible(page, 'connection request setting with a list');
  await screenshot(page, '73-connection-request-policy');

  await form.getByTestId('request-policy-save').click();
  await done.filter({ hasText: /^Nothing changed\./ }).waitFor();
  assert.equal(callsOf('setPolicy').length, 1);

  // The core's refusal is shown as it says it, and the stored setting stays; then it goes through.
  fx.failNextPolicy(new CoreError('providerUnreachable', 'Could not change who may send you connection requests: localhost can’t be reached. Nothing was changed.'));
  await radio('nobody').check();
  assert.equal(await form.getByTestId('request-policy-list').count(), 0);
  await form.getByTestId('request-policy-save').click();
  await error.filter({ hasText: 'Could not change who may send you connection requests: localhost can’t be reached. Nothing was changed.' }).waitFor();
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.deepEqual(fx.policies[A], { mode: 'domains', domains: ['b.example', 'c.example'] });
  await accessible(page, 'connection request setting with an error');
  await form.getByTestId('request-policy-save').click();
  await done.filter({ hasText: 'Saved. Nobody can send you connection requests.' }).waitFor();
  assert.deepEqual(callsOf('setPolicy').at(-1), [A, { mode: 'nobody', domains: ['b.example', 'c.example'] }], 'the list is kept for later');

  // Shown again as the core has it: nobody, and the list there to pick up again.
  await page.getByTestId('people-tab-find').click();
  await page.getByTestId('people-tab-connections').click();
  await radio('nobody').waitFor();
  assert.equal(await radio('nobody').isChecked(), true);
  await radio('domains').check();
  assert.equal(await form.getByTestId('request-policy-list').inputValue(), 'b.example, c.example');
  assert.deepEqual(problems, []);
});
