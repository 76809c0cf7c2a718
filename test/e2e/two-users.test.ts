// Two people, each with their own real core (A's runs the embedded provider, B signs up on it
// over HTTPS with its dev CA) behind their own bridge, each in their own browser context: sign
// up, create a room, add a member, talk both ways, see unread counts, reload and keep history.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { PASSWORD, builtRenderer, closeRealCoreSide, eventually, launchChromium, openAdvanced, openOnRealCore, register, screenshot, type RealCoreSide } from './browser.js';

const WAIT = 45_000;

let browser: Browser;
let a: RealCoreSide;
let b: RealCoreSide;
let aClosed = false;

const side = (browserRef: Browser, rendererDir: string, label: string, embeddedProvider: boolean): Promise<RealCoreSide> =>
  openOnRealCore(browserRef, rendererDir, { dirPrefix: `mimi-e2e-${label}-`, embeddedProvider, viewport: { width: 1200, height: 800 } });

before(async () => {
  const rendererDir = builtRenderer();
  browser = await launchChromium();
  a = await side(browser, rendererDir, 'alice', true);
  b = await side(browser, rendererDir, 'bob', false);
});

after(async () => {
  for (const s of [a, b]) {
    if (!s) continue;
    await closeRealCoreSide(s, { coreClosed: s === a && aClosed });
  }
  await browser?.close();
});

const messageText = (page: Page, text: string) => page.locator('[data-testid=message-text]', { hasText: text });
const room = (page: Page, name: string) => page.locator(`[data-testid=room-item][data-room-name="${name}"]`);
const roomByUri = (page: Page, uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);

async function send(page: Page, text: string): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await messageText(page, text).first().waitFor({ timeout: WAIT });
}

test('two users sign up, talk both ways, see unread counts, and keep history across reloads', async () => {
  // --- sign-up ---
  await a.page.goto(a.bridge.url);
  await a.page.getByTestId('signin').waitFor();
  // The token is moved out of the address bar once read.
  assert.equal(new URL(a.page.url()).hash, '');
  await screenshot(a.page, '01-signin');

  // Bad input gets a clear message before anything is sent.
  await a.page.getByTestId('signin-handle').fill('Not Valid!');
  await a.page.getByTestId('signin-password').fill(PASSWORD);
  await a.page.getByTestId('signin-submit').click();
  assert.match(await a.page.getByTestId('signin-error').innerText(), /Handles are 1–32 characters/);

  await register(a.page, 'alice', undefined, WAIT);
  // No room yet: an empty state, and a composer that cannot be used.
  await a.page.getByTestId('rooms-empty').waitFor();
  assert.equal(await a.page.getByTestId('composer-input').isDisabled(), true);
  const embedded = a.core.embedded;
  assert.ok(embedded, 'core A runs the embedded provider');

  await b.page.goto(b.bridge.url);
  // Sign-in failures say what happened: an unreachable provider, a wrong password.
  await b.page.getByTestId('tab-login').click();
  await b.page.getByTestId('signin-handle').fill('alice');
  await b.page.getByTestId('signin-password').fill('not the password');
  await openAdvanced(b.page);
  await b.page.getByTestId('signin-provider').fill('https://127.0.0.1:9');
  await b.page.getByTestId('signin-submit').click();
  await b.page.getByTestId('signin-error').filter({ hasText: "Can't reach the provider at https://127.0.0.1:9" }).waitFor({ timeout: WAIT });
  await b.page.getByTestId('signin-provider').fill(embedded.url);
  await b.page.getByTestId('signin-ca').fill(embedded.caPem);
  await b.page.getByTestId('signin-submit').click();
  // The provider does not say whether the handle or the password is wrong; the message says both
  // and what to do.
  const wrong = b.page.getByTestId('signin-error').filter({ hasText: 'Wrong handle or password for “alice”' });
  await wrong.waitFor({ timeout: WAIT });
  assert.match(await wrong.innerText(), /Check both and try again/);
  await screenshot(b.page, '02-wrong-password');

  // A taken handle is explained, not a generic failure.
  await b.page.getByTestId('tab-register').click();
  await b.page.getByTestId('signin-handle').fill('alice');
  await b.page.getByTestId('signin-password').fill(PASSWORD);
  await openAdvanced(b.page);
  await b.page.getByTestId('signin-provider').fill(embedded.url);
  await b.page.getByTestId('signin-ca').fill(embedded.caPem);
  await b.page.getByTestId('signin-submit').click();
  await b.page.getByTestId('signin-error').filter({ hasText: 'is taken' }).waitFor({ timeout: WAIT });
  await screenshot(b.page, '02-handle-taken');
  await register(b.page, 'bob', embedded, WAIT);

  // --- A creates a room and adds B ---
  await a.page.getByTestId('new-room').click();
  await a.page.getByTestId('new-room-name').fill('Lunch');
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('timeline-empty').waitFor();

  await a.page.getByTestId('add-member-input').fill('nobody-here');
  await a.page.getByTestId('add-member-submit').click();
  await a.page.getByTestId('add-member-error').waitFor({ timeout: WAIT });

  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await eventually('bob in the member list', async () => (await a.page.getByTestId('member-item').count()) === 2, WAIT);
  const memberNames = (await a.page.getByTestId('member-item').allInnerTexts()).map((t) => t.replace(/^\S+\s+/, '').split('\n')[0].trim());
  assert.deepEqual(memberNames, ['alice (you)', 'bob']);
  // Roles of a cooperative room (the default preset): its creator is group_admin, whom they add an
  // ordinary_user, shown as Admin and Member. They come from the room state, which reaches the list
  // after the add's commit.
  const roles = async () => (await a.page.getByTestId('member-role').allInnerTexts()).join(',');
  await eventually('roles in the member list', async () => (await roles()) === 'Admin,Member', WAIT);
  assert.deepEqual(await a.page.getByTestId('member-role').evaluateAll((els) => els.map((e) => e.getAttribute('data-role'))), ['group_admin', 'ordinary_user']);

  // --- B sees the room; A writes while B has it closed: unread shows ---
  // (B may know the room under another name: match it by URI.)
  const aliceId = (await a.core.accounts.list())[0].id;
  const lunchUri = (await a.core.rooms.list(aliceId)).find((r) => r.name === 'Lunch')!.roomUri;
  const lunchForBob = roomByUri(b.page, lunchUri);
  await lunchForBob.waitFor({ timeout: WAIT });
  await send(a.page, 'Hi Bob, lunch at noon?');
  await eventually('unread badge 1 on Lunch for bob', async () => (await lunchForBob.getByTestId('room-unread').innerText().catch(() => '')) === '1', WAIT);
  assert.equal(await b.page.getByTestId('account-unread').getAttribute('data-text'), '1');
  await screenshot(b.page, '03-unread');

  // --- B opens it: history is there and the badge goes away ---
  await lunchForBob.click();
  await messageText(b.page, 'Hi Bob, lunch at noon?').waitFor({ timeout: WAIT });
  await eventually('badge cleared', async () => (await lunchForBob.getByTestId('room-unread').count()) === 0);
  await eventually('account badge cleared', async () => (await b.page.getByTestId('account-unread').count()) === 0);

  // --- both ways; Shift+Enter makes a newline, Enter sends ---
  await send(b.page, 'Sure, see you there');
  await messageText(a.page, 'Sure, see you there').waitFor({ timeout: WAIT });
  const input = b.page.getByTestId('composer-input');
  await input.fill('first line');
  await input.press('Shift+Enter');
  await input.pressSequentially('second line');
  assert.equal(await input.inputValue(), 'first line\nsecond line');
  await input.press('Enter');
  assert.equal(await input.inputValue(), '');
  const multi = messageText(a.page, 'first line');
  await multi.waitFor({ timeout: WAIT });
  assert.equal(await multi.innerText(), 'first line\nsecond line');
  await send(a.page, 'Great 🙂');
  await messageText(b.page, 'Great 🙂').waitFor({ timeout: WAIT });
  // The room list previews the newest message, one's own included.
  await eventually('own message in the preview', async () => /You: Great 🙂/.test(await roomByUri(a.page, lunchUri).innerText()), WAIT);
  await eventually('their message in the preview', async () => /alice: Great 🙂/.test(await roomByUri(b.page, lunchUri).innerText()), WAIT);
  await screenshot(a.page, '04-conversation-alice');
  await screenshot(b.page, '05-conversation-bob');

  // Sent messages settle (no lingering "Sending…").
  await eventually('no pending messages on A', async () => (await a.page.getByTestId('message-pending').count()) === 0, WAIT);

  // --- reload: the token survives in sessionStorage and history comes from the core ---
  for (const s of [a, b]) {
    await s.page.reload();
    await s.page.getByTestId('active-account').waitFor({ timeout: WAIT });
    await roomByUri(s.page, lunchUri).click();
    for (const text of ['Hi Bob, lunch at noon?', 'Sure, see you there', 'first line', 'Great 🙂']) await messageText(s.page, text).waitFor({ timeout: WAIT });
  }
  const senders = await a.page.getByTestId('message-sender').allInnerTexts();
  assert.ok(senders.includes('You') && senders.includes('bob'), `senders shown: ${senders.join(', ')}`);
  await screenshot(b.page, '06-after-reload-bob');

  // --- discovery through the real core and provider: A makes the display name findable, B finds A ---
  await a.page.getByTestId('open-people').click();
  await a.page.getByTestId('people-tab-settings').click();
  await a.page.getByTestId('searchable-row').first().waitFor({ timeout: WAIT });
  assert.deepEqual(
    await Promise.all(['handle', 'nick', 'email', 'phone', 'name'].map((f) => a.page.getByTestId(`searchable-${f}`).isChecked())),
    [true, false, false, false, false],
    'by default only the exact handle is searchable',
  );
  await a.page.getByTestId('profile-name').fill('Alice Liddell');
  await a.page.getByTestId('profile-save').click();
  await a.page.getByTestId('searchable-saved').filter({ hasText: 'Saved.' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('searchable-name').check();
  await a.page.locator('[data-testid=searchable-row][data-field=name]').filter({ hasText: 'Findable' }).waitFor({ timeout: WAIT });
  assert.equal((await a.core.people.myProfile(aliceId)).searchable.name, true);

  await b.page.getByTestId('open-people').click();
  await b.page.getByTestId('people-tab-find').click();
  await b.page.getByTestId('find-field').selectOption('name');
  await b.page.getByTestId('find-value').fill('liddell');
  await b.page.getByTestId('find-submit').click();
  const found = b.page.getByTestId('find-result');
  await found.first().waitFor({ timeout: WAIT });
  assert.equal(await found.count(), 1);
  assert.match(await found.first().innerText(), /Alice Liddell\s+alice/);
  // Same provider: no consent needed, so no "Ask for consent".
  assert.equal(await found.first().getByTestId('find-ask').count(), 0);
  await screenshot(b.page, '08-find-people-real-core');
  await b.page.getByTestId('people-tab-consent').click();
  await b.page.getByTestId('granted-empty').waitFor({ timeout: WAIT });
  for (const s of [a, b]) await s.page.getByTestId('people-close').click();

  // --- bob leaves Lunch: a second click confirms; alice's client commits his Remove proposal ---
  await roomByUri(b.page, lunchUri).click();
  await b.page.getByTestId('leave-room').click();
  await b.page.getByTestId('leave-confirm').waitFor();
  await screenshot(b.page, '09-leave-confirm');
  await b.page.getByTestId('leave-confirm-yes').click();
  await b.page.getByTestId('room-left').waitFor({ timeout: WAIT });
  assert.equal(await b.page.getByTestId('composer-input').isDisabled(), true);
  await roomByUri(a.page, lunchUri).click();
  await a.page.getByTestId('chat').locator('.chat-head', { hasText: '1 member' }).waitFor({ timeout: WAIT });

  // --- adding a second account opens the sign-in dialog over the workspace ---
  await a.page.getByTestId('add-account').click();
  await a.page.getByTestId('add-account-dialog').waitFor();
  await a.page.getByRole('button', { name: 'Cancel' }).click();

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);

  // --- the provider goes away: B is told what is wrong and what to do (A's core hosts it) ---
  await a.core.close();
  aClosed = true;
  const banner = b.page.getByTestId('banner-offline');
  await banner.waitFor({ timeout: WAIT });
  assert.match(await banner.innerText(), /Can't reach your provider .*Messages you write now are kept/s);
  await screenshot(b.page, '07-provider-offline');
});

test('the page refuses to work without its token', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(a.bridge.url.replace(/#.*$/, ''));
  await page.getByTestId('needs-link').waitFor();
  const status = await page.evaluate(async () => (await fetch('/rpc', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"method":"accounts.list","args":[]}' })).status);
  assert.equal(status, 401);
  await context.close();
});
