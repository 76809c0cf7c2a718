// The window from phone-sized to wide, as a person uses it: nothing scrolls sideways, an open room
// keeps most of the width for its messages and composer, its header stays on two lines however
// long its name, the room list can be hidden (and in a narrow window is a drawer that closes when a
// room is picked), and the side panels (room settings, members) open over the timeline and never
// over the composer. The core behind the (real) bridge is the in-memory one of every-screen-fixture.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import { LONG_NAME, everyScreenCore } from './every-screen-fixture.js';

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

interface Geometry {
  scrollWidth: number;
  innerWidth: number;
  composer: { width: number; top: number } | null;
  header: { height: number } | null;
  /** What is on top at the composer's middle: the composer's own field, or what covers it. */
  atComposer: string | null;
  title: { lines: number; cut: boolean } | null;
}

function geometry(page: Page): Promise<Geometry> {
  // No named helpers inside: the test runner's transform would add calls the page does not have.
  return page.evaluate(() => {
    const composer = document.querySelector('[data-testid=chat] .composer')?.getBoundingClientRect();
    const field = document.querySelector('[data-testid=composer-input]')?.getBoundingClientRect();
    const header = document.querySelector('[data-testid=chat] .chat-head')?.getBoundingClientRect();
    const titleEl = document.querySelector<HTMLElement>('[data-testid=room-title]');
    const hit = field ? document.elementFromPoint(field.x + field.width / 2, field.y + field.height / 2) : null;
    return {
      scrollWidth: document.scrollingElement!.scrollWidth,
      innerWidth: window.innerWidth,
      composer: composer ? { width: composer.width, top: composer.top } : null,
      header: header ? { height: header.height } : null,
      atComposer: hit ? (hit.closest('[data-testid]')?.getAttribute('data-testid') ?? hit.tagName) : null,
      title: titleEl
        ? {
            lines: Math.round(titleEl.getBoundingClientRect().height / parseFloat(getComputedStyle(titleEl).lineHeight)),
            cut: titleEl.scrollWidth > titleEl.clientWidth,
          }
        : null,
    };
  });
}

/** No sideways scrolling; an open room's composer has most of the width and is not covered. */
async function assertRoomFits(page: Page, what: string): Promise<Geometry> {
  const g = await geometry(page);
  assert.ok(g.scrollWidth <= g.innerWidth, `${what}: the page scrolls sideways (${g.scrollWidth} > ${g.innerWidth})`);
  assert.ok(g.composer, `${what}: a composer`);
  assert.ok(g.composer.width >= 0.6 * g.innerWidth, `${what}: the composer is ${Math.round(g.composer.width)}px of ${g.innerWidth}`);
  assert.ok(g.header && g.header.height <= 72, `${what}: the room header is ${g.header?.height}px high (two lines at most)`);
  assert.equal(g.title?.lines, 1, `${what}: the room's name keeps one line`);
  assert.equal(g.atComposer, 'composer-input', `${what}: nothing covers the composer`);
  return g;
}

const roomItem = (page: Page, name: string) => page.locator(`[data-testid=room-item][data-room-name="${name}"]`);
const roomList = (page: Page) => page.getByTestId('room-list');
const toggle = (page: Page) => page.getByTestId('toggle-room-list');

for (const width of [480, 560, 640]) {
  test(`${width}px wide: the room list is a drawer, the room gets the width, the panels cover only the timeline`, async () => {
    const context = await browser.newContext({ viewport: { width, height: 760 } });
    const page = await context.newPage();
    const problems = collectPageProblems(page);
    try {
      await page.goto(bridge.url);
      // Nothing open yet: the room list is what there is to see.
      await roomList(page).waitFor();
      assert.equal(await toggle(page).getAttribute('aria-expanded'), 'true');
      assert.ok((await page.evaluate(() => document.scrollingElement!.scrollWidth)) <= width);
      await screenshot(page, `120-narrow-${width}-room-list`);

      // Picking a room closes the drawer: the room has the window.
      await roomItem(page, 'Lunch').click();
      await page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor();
      await roomList(page).waitFor({ state: 'hidden' });
      assert.equal(await toggle(page).getAttribute('aria-expanded'), 'false');
      await page.getByTestId('message-text').first().waitFor();
      await assertRoomFits(page, `${width}px, Lunch`);
      assert.equal(await page.getByTestId('member-list').count(), 0, 'the member panel starts closed');
      await screenshot(page, `121-narrow-${width}-room`);

      // The room's actions are in a menu beside its name; Escape closes it, focus back on its button.
      const menu = page.getByTestId('room-actions-menu');
      assert.equal(await menu.getAttribute('aria-expanded'), 'false');
      assert.equal(await page.getByTestId('toggle-settings').isVisible(), false);
      await menu.click();
      assert.equal(await menu.getAttribute('aria-expanded'), 'true');
      await page.getByTestId('toggle-settings').waitFor();
      await screenshot(page, `122-narrow-${width}-room-actions`);
      await page.getByTestId('toggle-settings').focus();
      await page.keyboard.press('Escape');
      await page.getByTestId('toggle-settings').waitFor({ state: 'hidden' });
      assert.ok(await menu.evaluate((el) => el === document.activeElement), 'the focus is back on the menu button');
      await menu.click();
      await page.getByTestId('toggle-settings').waitFor();
      await page.keyboard.press('Escape');
      await page.getByTestId('toggle-settings').waitFor({ state: 'hidden' });

      // Room settings open over the timeline, across its width; the composer stays usable below.
      await menu.click();
      await page.getByTestId('toggle-settings').click();
      const panel = page.getByTestId('room-settings');
      await panel.waitFor();
      await panel.locator('[data-testid=room-member]').first().waitFor();
      const p = await panel.boundingBox();
      assert.ok(p && p.x >= 0 && p.x + p.width <= width + 0.5, `the panel is inside the window (${JSON.stringify(p)})`);
      const open = await geometry(page);
      assert.ok(open.scrollWidth <= width, 'no sideways scrolling with the panel open');
      assert.equal(open.atComposer, 'composer-input', 'the open panel leaves the composer alone');
      assert.ok(p.y + p.height <= open.composer!.top + 0.5, 'the panel ends above the composer');
      await screenshot(page, `123-narrow-${width}-room-settings`);
      await panel.getByTestId('room-settings-close').click();
      await panel.waitFor({ state: 'detached' });
      assert.ok(await menu.evaluate((el) => el === document.activeElement), 'closing gives the focus to the menu button');
      await assertRoomFits(page, `${width}px, settings closed`);

      // Members the same way.
      await menu.click();
      await page.getByTestId('toggle-members').click();
      await page.getByTestId('member-list').waitFor();
      assert.equal((await geometry(page)).atComposer, 'composer-input');
      await menu.click();
      await page.getByTestId('toggle-members').click();
      await page.getByTestId('member-list').waitFor({ state: 'detached' });
      await assertRoomFits(page, `${width}px, members closed`);

      // A name far too long for the header is cut short on its line, whole in the tooltip.
      await toggle(page).click();
      await roomList(page).waitFor();
      assert.equal(await toggle(page).getAttribute('aria-expanded'), 'true');
      const drawer = await roomList(page).boundingBox();
      assert.ok(drawer && drawer.x + drawer.width <= width, 'the drawer fits the window');
      await screenshot(page, `124-narrow-${width}-drawer-over-room`);
      await roomItem(page, LONG_NAME).click();
      await roomList(page).waitFor({ state: 'hidden' });
      await page.getByTestId('room-title').filter({ hasText: LONG_NAME }).waitFor();
      const g = await assertRoomFits(page, `${width}px, a long name`);
      assert.ok(g.title?.cut, 'the long name is cut with an ellipsis');
      assert.equal(await page.getByTestId('room-title').getAttribute('title'), LONG_NAME);
      await screenshot(page, `125-narrow-${width}-long-name`);

      // Escape closes the drawer, the focus goes back to its button.
      await toggle(page).click();
      await roomItem(page, 'Lunch').focus();
      await page.keyboard.press('Escape');
      await roomList(page).waitFor({ state: 'hidden' });
      assert.ok(await toggle(page).evaluate((el) => el === document.activeElement));

      // Screens picked in the drawer take the window too; "Back to rooms" brings the list back.
      await toggle(page).click();
      await page.getByTestId('open-knocks').click();
      await page.getByTestId('knocks-view').waitFor();
      await roomList(page).waitFor({ state: 'hidden' });
      assert.ok((await page.evaluate(() => document.scrollingElement!.scrollWidth)) <= width);
      await page.getByTestId('knocks-close').click();
      await roomList(page).waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
}

test('wide: the room list is a column the rail’s button hides and shows again, remembered after a reload', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = collectPageProblems(page);
  try {
    await page.goto(bridge.url);
    await roomItem(page, 'Lunch').click();
    await page.getByTestId('message-text').first().waitFor();
    assert.equal(await page.getByTestId('room-actions-menu').count(), 0, 'no menu: the buttons fit beside the name');
    await page.getByTestId('toggle-settings').waitFor();
    const withList = await assertRoomFits(page, '1280px, Lunch');
    // Both beside each other: the list is not over the room.
    const list = await roomList(page).boundingBox();
    const chat = await page.getByTestId('chat').boundingBox();
    assert.ok(list && chat && list.x + list.width <= chat.x + 1, 'the list is a column beside the room');
    await page.getByTestId('toggle-settings').click();
    await page.getByTestId('room-settings').waitFor();
    assert.equal((await geometry(page)).atComposer, 'composer-input');
    await screenshot(page, '126-wide-room-settings');
    await page.getByTestId('room-settings-close').click();

    await toggle(page).click();
    await roomList(page).waitFor({ state: 'hidden' });
    assert.equal(await toggle(page).getAttribute('aria-expanded'), 'false');
    const without = await assertRoomFits(page, '1280px, list hidden');
    assert.ok(without.composer!.width > withList.composer!.width + 200, 'the room takes the list’s column');
    await screenshot(page, '127-wide-room-list-hidden');
    await page.reload();
    await page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor();
    await eventually('still hidden after a reload', async () => !(await roomList(page).isVisible()));
    await toggle(page).click();
    await roomList(page).waitFor();
    assert.equal(await toggle(page).getAttribute('aria-expanded'), 'true');
    await roomItem(page, LONG_NAME).click();
    const g = await assertRoomFits(page, '1280px, a long name');
    assert.ok(g.title?.cut, 'the long name is cut with an ellipsis');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
