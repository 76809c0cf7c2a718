// Every screen of the app through axe-core with every rule it has (experimental ones included),
// in light and dark and in a phone-sized window: sign-in, the room list with an open room and its
// messages, the room's actions, room settings (details, members with every action, links, the
// knock link), the member list, the report dialog, the new-room form, People (each tab), the
// pseudonym manager, Knocks, the join-with-a-link dialog and the add-account dialog. The core
// behind the (real) bridge is the in-memory one of every-screen-fixture, which has something to
// show on each of them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import axe from 'axe-core';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { startBridge } from '../../src-main/bridge/bridge-server.js';
import { builtRenderer, collectPageProblems, launchChromium, screenshot } from './browser.js';
import { DAVE, everyScreenCore, signedOutCore } from './every-screen-fixture.js';

/**
 * All of axe's rules, not only those it runs by default, but one: `color-contrast-enhanced` is
 * WCAG AAA (7:1). The bar here is AA, 4.5:1 for text, which `color-contrast` checks on every screen;
 * the muted text and the accent colour sit between the two on purpose (readable, and still
 * telling primary from secondary text apart).
 */
const RULES = Object.fromEntries(axe.getRules().map((r) => [r.ruleId, { enabled: r.ruleId !== 'color-contrast-enhanced' }]));

async function assertNoViolations(page: Page, what: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  const violations = await page.evaluate(async (rules) => {
    const a = (window as unknown as { axe: typeof axe }).axe;
    const result = await a.run(document, { resultTypes: ['violations'], rules });
    return result.violations.map((v) => `${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }, RULES);
  assert.deepEqual(violations, [], `${what}: axe found ${violations.join('; ')}`);
  const over = await page.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth);
  assert.ok(over <= 0, `${what}: the page is ${over}px wider than the window`);
}

let browser: Browser;
let bridge: Bridge;
let signedOut: Bridge;

before(async () => {
  const dir = builtRenderer();
  bridge = await startBridge({ core: everyScreenCore().core, rendererDir: dir });
  signedOut = await startBridge({ core: signedOutCore(), rendererDir: dir });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  await signedOut?.close();
});

const MODES = [
  { name: 'light', colorScheme: 'light', width: 1280 },
  { name: 'dark', colorScheme: 'dark', width: 1280 },
  { name: 'light-narrow', colorScheme: 'light', width: 480 },
  { name: 'dark-narrow', colorScheme: 'dark', width: 480 },
] as const;

for (const mode of MODES) {
  test(`${mode.name} (${mode.width}px): every screen passes axe with no violations and fits the width`, async () => {
    const context = await browser.newContext({ viewport: { width: mode.width, height: 800 }, colorScheme: mode.colorScheme });
    const page = await context.newPage();
    const problems = collectPageProblems(page);
    const narrow = mode.width < 700;
    const check = async (what: string, shot?: string) => {
      await assertNoViolations(page, `${mode.name}: ${what}`);
      if (shot) await screenshot(page, `13${shot}-a11y-${mode.name}`);
    };
    /** The room list: a drawer to open in a narrow window. */
    const showRoomList = async () => {
      if ((await page.getByTestId('toggle-room-list').getAttribute('aria-expanded')) === 'false') await page.getByTestId('toggle-room-list').click();
      await page.getByTestId('room-list').waitFor();
    };
    /** A room's action: in a narrow window behind its menu. */
    const roomAction = async (testId: string) => {
      if (narrow) await page.getByTestId('room-actions-menu').click();
      await page.getByTestId(testId).click();
    };
    try {
      // Sign-in, both tabs.
      await page.goto(signedOut.url);
      await page.getByTestId('signin').waitFor();
      await check('sign-in', '0');
      await page.getByTestId('tab-login').click();
      await check('sign-in, Sign in tab');

      // The room list, nothing open.
      await page.goto(bridge.url);
      await page.getByTestId('room-list').waitFor();
      await page.getByTestId('consent-prompt').waitFor();
      await check('room list');

      // An open room with messages, and its actions menu (narrow).
      await page.locator('[data-testid=room-item][data-room-name="Lunch"]').click();
      await page.getByTestId('message-text').first().waitFor();
      await check('open room', '1');
      if (narrow) {
        await page.getByTestId('room-actions-menu').click();
        await page.getByTestId('toggle-settings').waitFor();
        await check('room actions menu');
        await page.keyboard.press('Escape');
        await page.getByTestId('toggle-settings').waitFor({ state: 'hidden' });
      }

      // Members, with someone added (the note that says so).
      if (!(await page.getByTestId('member-list').isVisible())) await roomAction('toggle-members');
      await page.getByTestId('member-list').waitFor();
      // One core for all the modes: each adds someone new.
      const newcomer = `bob-${mode.name}`;
      await page.getByTestId('add-member-input').fill(newcomer);
      await page.getByTestId('add-member-submit').click();
      await page.getByTestId('add-member-done').filter({ hasText: `Added ${newcomer}.` }).waitFor();
      await check('member list', '2');
      await page.getByTestId('add-member-input').fill('not a handle!');
      await page.getByTestId('add-member-submit').click();
      await page.getByTestId('add-member-error').waitFor();
      await check('member list with an error');

      // Room settings: details, members with every action, a confirmation, a report form, links.
      await roomAction('toggle-settings');
      const panel = page.getByTestId('room-settings');
      const dave = panel.locator(`[data-testid=room-member][data-user="${DAVE}"]`);
      await dave.getByTestId('member-kick').waitFor();
      await check('room settings', '3');
      await dave.getByTestId('member-ban').click();
      await dave.getByTestId('member-confirm').waitFor();
      await check('room settings, a ban to confirm');
      await dave.getByTestId('member-confirm-cancel').click();
      await dave.getByTestId('member-report').click();
      await dave.getByTestId('member-report-note').waitFor();
      await check('room settings, a report form');
      await dave.getByTestId('member-report-cancel').click();
      const links = panel.getByTestId('room-links');
      await links.getByTestId('link-new').scrollIntoViewIfNeeded();
      await links.getByTestId('link-new').click();
      await links.getByTestId('new-link-expiry').selectOption('custom');
      await check('room settings, a new link', '4');
      await links.getByTestId('link-cancel').click();
      await panel.getByTestId('room-settings-close').click();
      // In a narrow window the member panel (back after the settings) covers the messages.
      if (narrow && (await page.getByTestId('member-list').isVisible())) await roomAction('toggle-members');

      // The report dialog on one of dave's messages.
      const row = page.locator('[data-testid=message-row]', { hasText: 'Sure, half past it is.' });
      await row.hover();
      await row.getByTestId('message-report').click();
      await page.getByRole('dialog').waitFor();
      await check('report dialog', '5');
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'detached' });

      // Leaving asks first.
      await roomAction('leave-room');
      await page.getByTestId('leave-confirm').waitFor();
      await check('leave confirmation');

      // The new-room form.
      await showRoomList();
      await page.getByTestId('new-room').click();
      await page.getByTestId('create-room-form').waitFor();
      await check('new room form');
      await page.getByTestId('new-room-name').press('Escape');

      // People: each tab.
      await page.getByTestId('open-people').click();
      for (const tab of ['consent', 'connections', 'find', 'settings']) {
        await page.getByTestId(`people-tab-${tab}`).click();
        await page.waitForTimeout(200); // each tab loads what it shows from the core
        await check(`People, ${tab}`, tab === 'consent' ? '6' : undefined);
      }

      // The pseudonym manager, Knocks.
      await showRoomList();
      await page.getByTestId('open-pseudonyms').click();
      await page.getByTestId('pseudonyms-view').waitFor();
      await page.getByTestId('pool-summary').first().waitFor();
      await check('pseudonyms', '7');
      await showRoomList();
      await page.getByTestId('open-knocks').click();
      await page.getByTestId('knocks-view').waitFor();
      await page.getByTestId('knock-item').first().waitFor();
      await check('knocks', '8');
      await page.getByTestId('knocks-close').click();

      // Joining with a link, and adding an account.
      await showRoomList();
      await page.getByTestId('join-with-link').click();
      await page.getByTestId('join-dialog').waitFor();
      await check('join dialog');
      await page.getByTestId('join-cancel').click();
      await page.getByTestId('add-account').click();
      await page.getByTestId('add-account-dialog').waitFor();
      await check('add account dialog', '9');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
}
