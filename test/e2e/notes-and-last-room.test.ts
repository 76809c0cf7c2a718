// Two things a person notices over time: a success note ("Added gus.", "Declined …’s knock") is read
// out by a live region and goes away after a few seconds, while an error stays until replaced; and
// after a reload each account's last open room is open again, unless it is gone. Timers run on
// Playwright's clock, so the seconds pass without waiting for them. The core behind the (real)
// bridge is the in-memory one of every-screen-fixture.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { NOTE_MS } from '../../src-renderer/src/lib/transient-note.js';
import { collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import { A, B, CAROL, LUNCH, everyScreenCore } from './every-screen-fixture.js';

let session: FakeCoreSession;
let browser: Browser;
let bridge: Bridge;

before(async () => {
  session = await openOnFakeCore(everyScreenCore().core, { width: 1280, height: 800 });
  ({ browser, bridge } = session);
});

after(async () => {
  await session?.close();
});

const roomItem = (page: Page, name: string) => page.locator(`[data-testid=room-item][data-room-name="${name}"]`);

test('a success note is announced, then goes after a few seconds; an error stays until the next attempt replaces it', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = collectPageProblems(page);
  try {
    await page.clock.install();
    await page.goto(bridge.url);
    await roomItem(page, 'Lunch').click();
    const done = page.getByTestId('add-member-done');
    // The live region is there, empty, before anything is said in it: screen readers read what
    // later appears in a region they already know.
    assert.equal(await done.getAttribute('role'), 'status');
    assert.equal(await done.innerText(), '');

    await page.getByTestId('add-member-input').fill('gus');
    await page.getByTestId('add-member-submit').click();
    await done.filter({ hasText: 'Added gus.' }).waitFor();
    await screenshot(page, '140-note-shown');
    await page.clock.fastForward(NOTE_MS - 1000);
    assert.equal(await done.innerText(), 'Added gus.', 'still there a second before its time');
    await page.clock.fastForward(2000);
    await eventually('the note gone', async () => (await done.innerText()) === '');
    assert.equal(await done.count(), 1, 'the region stays for the next note');

    // An error stays, however long.
    await page.getByTestId('add-member-input').fill('not a handle!');
    await page.getByTestId('add-member-submit').click();
    const error = page.getByTestId('add-member-error');
    await error.waitFor();
    await page.clock.fastForward(10 * NOTE_MS);
    assert.equal(await error.isVisible(), true, 'the error is still shown');
    // ...until the next attempt, which replaces it.
    await page.getByTestId('add-member-input').fill('hal');
    await page.getByTestId('add-member-submit').click();
    await done.filter({ hasText: 'Added hal.' }).waitFor();
    assert.equal(await error.count(), 0);

    // The same on the Knocks screen.
    await page.getByTestId('open-knocks').click();
    await page.locator(`[data-testid=knock-item][data-from="${CAROL}"]`).getByTestId('knock-decline').click();
    const knocksDone = page.getByTestId('knocks-done');
    await knocksDone.filter({ hasText: 'Declined carol@c.example’s knock on “Book club' }).waitFor();
    assert.equal(await knocksDone.getAttribute('role'), 'status');
    await page.clock.fastForward(NOTE_MS + 1000);
    await eventually('the knocks note gone', async () => (await knocksDone.innerText()) === '');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('after a reload each account’s last room is open again; a room that is gone is not', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = collectPageProblems(page);
  const title = page.getByTestId('room-title');
  const account = (handle: string) => page.locator(`[data-testid=account-item][data-handle="${handle}"]`);
  try {
    await page.goto(bridge.url);
    await page.getByTestId('chat-empty').waitFor();
    await roomItem(page, 'Lunch').click();
    await title.filter({ hasText: 'Lunch' }).waitFor();

    await page.reload();
    await title.filter({ hasText: 'Lunch' }).waitFor();
    assert.equal(await roomItem(page, 'Lunch').getAttribute('aria-current'), 'true', 'shown as the open room in the list');
    await page.getByTestId('message-text').first().waitFor();
    await screenshot(page, '141-last-room-after-reload');

    // Per account: ally never opened a room, alice's stays hers.
    await account('ally').click();
    await page.getByTestId('active-account').filter({ hasText: 'ally' }).waitFor();
    await page.getByTestId('chat-empty').waitFor();
    await page.reload();
    await page.getByTestId('active-account').filter({ hasText: 'ally' }).waitFor();
    await page.getByTestId('chat-empty').waitFor();
    await account('alice').click();
    await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor();
    await title.filter({ hasText: 'Lunch' }).waitFor();
    const remembered = await page.evaluate(([a, b]) => [localStorage.getItem(`mimi.lastRoom.${a}`), localStorage.getItem(`mimi.lastRoom.${b}`)], [A, B]);
    assert.deepEqual(remembered, [LUNCH, null]);

    // A room this device no longer has: nothing is opened, and it is forgotten.
    await page.evaluate((a) => localStorage.setItem(`mimi.lastRoom.${a}`, 'mimi://localhost/r/long-gone'), A);
    await page.reload();
    await page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor();
    await page.getByTestId('chat-empty').waitFor();
    await eventually('forgotten', async () => (await page.evaluate((a) => localStorage.getItem(`mimi.lastRoom.${a}`), A)) === null);
    assert.equal(await page.getByTestId('room-gone').count(), 0, 'not shown as a room that went away: nothing was open');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
