// Message actions in real Chromium against the real core: two people on one provider (A's core
// runs the embedded provider), each with their own core, bridge and page. Reply (the quote, a
// click on it shows the original), react through the hover bar's emoji picker and free entry,
// unreact by clicking one's own chip, edit from the context menu and with Up in an empty composer,
// Escape to cancel, the edit history, delete with its confirmation, all from the mouse and from the
// keyboard (a focused message, Up/Down, the menu key, r / e / +); timestamps on every message,
// Markdown rendered and raw HTML kept as text, http(s) links only, opened outside. Every state
// through axe-core, light, dark and 480 px wide; screenshots in test-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 20_000;

let pair: RealCorePair | undefined;
let a: RealCoreSide;
let b: RealCoreSide;

before(async () => {
  pair = await openPairOnOneProvider('actions', { width: 1200, height: 860 });
  ({ a, b } = pair);
});

after(() => closePair(pair));

const roomByUri = (page: Page, uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);
const message = (p: Page, text: string) => p.getByTestId('message').filter({ has: p.getByTestId('message-text').getByText(text, { exact: true }) });
const chip = (p: Page, text: string, emoji: string) => message(p, text).locator(`[data-testid=reaction-chip][data-emoji="${emoji}"]`);

/** `shown`: part of the text as it reads rendered (Markdown loses its syntax). */
async function send(page: Page, text: string, shown = text): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  await page.getByTestId('message-text').filter({ hasText: shown }).first().waitFor({ timeout: WAIT });
}

async function axeAllWays(page: Page, what: string): Promise<void> {
  await assertAccessible(page, `${what} (light)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await assertAccessible(page, `${what} (dark)`);
  await page.emulateMedia({ colorScheme: 'light' });
}

test('reply, react, unreact, edit, history and delete from the mouse and the keyboard; markdown, links and timestamps', async () => {
  await signUpPair({ a, b });
  const alice = (await a.core.accounts.list())[0];
  await a.page.getByTestId('new-room').click();
  await a.page.getByTestId('new-room-name').fill('Actions');
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Actions' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await eventually('bob in alice’s member list', async () => (await a.page.getByTestId('member-item').count()) === 2, WAIT);
  const roomUri = (await a.core.rooms.list(alice.id)).find((r) => r.name === 'Actions')!.roomUri;
  await roomByUri(b.page, roomUri).click({ timeout: WAIT });
  await b.page.getByTestId('chat').waitFor();
  await eventually('bob’s composer usable', async () => !(await b.page.getByTestId('composer-input').isDisabled()), WAIT);

  // --- Markdown, raw HTML as text, links (http/https only) ---
  await send(a.page, 'lunch at noon?');
  await send(a.page, 'Plan: **bold** _soft_ `code` [docs](https://example.org/docs) &lt;b&gt; [bad](javascript:alert(1))', 'Plan:');
  const body = b.page.getByTestId('message-text').filter({ hasText: 'Plan:' });
  await body.waitFor({ timeout: WAIT });
  assert.equal(await body.locator('strong').innerText(), 'bold');
  assert.equal(await body.locator('em').innerText(), 'soft');
  assert.equal(await body.locator('code').innerText(), 'code');
  const link = body.locator('a');
  assert.equal(await link.count(), 1, 'only the https link is a link');
  assert.equal(await link.getAttribute('href'), 'https://example.org/docs');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.match(await body.innerText(), /&lt;b&gt;/, 'entities are text');
  assert.match(await body.innerText(), /bad/);
  // Raw HTML is text, never markup; nothing runs.
  await send(a.page, '<img src=x onerror="window.pwned=1"> **and** <script>window.pwned=2</script>', '<img src=x');
  await b.page.getByTestId('message-text').filter({ hasText: '<img src=x onerror="window.pwned=1">' }).waitFor({ timeout: WAIT });
  assert.equal(await b.page.locator('.message-body img, .message-body script').count(), 0);
  assert.equal(await b.page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);

  // --- timestamps: every message has its full date and time on hover ---
  const question = message(b.page, 'lunch at noon?');
  await question.waitFor({ timeout: WAIT });
  const times = await b.page.getByTestId('message-time').evaluateAll((els) => els.map((e) => [e.getAttribute('title'), e.getAttribute('datetime')]));
  assert.equal(times.length, await b.page.getByTestId('message').count(), 'one time per message');
  for (const [title, iso] of times) {
    assert.ok(title && /\d{4}/.test(title), `a full date in the title: ${title}`);
    assert.ok(iso && !Number.isNaN(Date.parse(iso)));
  }

  // --- react from the hover bar: the picker, a common emoji, then free entry ---
  await question.hover();
  await question.getByTestId('message-react').click();
  await b.page.getByTestId('emoji-picker').waitFor();
  await axeAllWays(b.page, 'emoji picker');
  await screenshot(b.page, 'actions-01-emoji-picker');
  await b.page.locator('[data-testid=emoji-choice][data-emoji="👍"]').click();
  await chip(b.page, 'lunch at noon?', '👍').waitFor({ timeout: WAIT });
  await chip(a.page, 'lunch at noon?', '👍').waitFor({ timeout: WAIT });
  await question.hover();
  await question.getByTestId('message-react').click();
  await b.page.getByTestId('emoji-other').fill('   ');
  await b.page.getByTestId('emoji-other-add').click();
  assert.match(await b.page.getByTestId('emoji-picker').getByRole('alert').innerText(), /The reaction is empty: pick an emoji or type one/);
  await b.page.getByTestId('emoji-other').fill('🦄');
  await b.page.getByTestId('emoji-other-add').click();
  await chip(a.page, 'lunch at noon?', '🦄').waitFor({ timeout: WAIT });
  // alice reacts 👍 too by clicking bob's chip: 2, hers pressed.
  await chip(a.page, 'lunch at noon?', '👍').click();
  await eventually('👍 2 at bob', async () => (await chip(b.page, 'lunch at noon?', '👍').innerText()).includes('2'), WAIT);
  assert.equal(await chip(a.page, 'lunch at noon?', '👍').getAttribute('aria-pressed'), 'true');
  // Clicking one's own reaction removes it (an unlike).
  await chip(b.page, 'lunch at noon?', '🦄').click();
  await eventually('🦄 gone at alice', async () => (await chip(a.page, 'lunch at noon?', '🦄').count()) === 0, WAIT);

  // --- reply from the hover bar; the quote shows the original and a click goes to it ---
  await question.hover();
  await question.getByTestId('message-reply').click();
  await b.page.getByTestId('compose-mode').filter({ hasText: 'Replying to alice' }).waitFor();
  await axeAllWays(b.page, 'composer replying');
  // Escape cancels, and the reply bar goes.
  await b.page.getByTestId('composer-input').press('Escape');
  assert.equal(await b.page.getByTestId('compose-mode').count(), 0);
  await question.hover();
  await question.getByTestId('message-reply').click();
  await send(b.page, 'yes, see you there');
  const reply = message(a.page, 'yes, see you there');
  await reply.waitFor({ timeout: WAIT });
  assert.match(await reply.getByTestId('reply-quote').innerText(), /bob|You|alice/);
  assert.match(await reply.getByTestId('reply-quote').innerText(), /lunch at noon\?/);
  await reply.getByTestId('reply-quote').click();
  await eventually('the original focused', async () => a.page.evaluate(() => document.activeElement?.textContent?.includes('lunch at noon?') ?? false), WAIT);

  // --- edit from the context menu (right-click) ---
  await message(a.page, 'lunch at noon?').click({ button: 'right' });
  await a.page.getByTestId('message-menu').waitFor();
  await axeAllWays(a.page, 'message menu');
  await screenshot(a.page, 'actions-02-context-menu');
  await a.page.getByTestId('menu-edit').click();
  await a.page.getByTestId('compose-mode').filter({ hasText: 'Editing your message' }).waitFor();
  assert.equal(await a.page.getByTestId('composer-input').inputValue(), 'lunch at noon?');
  await a.page.getByTestId('composer-input').fill('lunch at 12:30?');
  await a.page.getByTestId('composer-input').press('Enter');
  await message(b.page, 'lunch at 12:30?').waitFor({ timeout: WAIT });
  await message(b.page, 'lunch at 12:30?').getByTestId('message-edited').waitFor();
  // The reply's quote follows the edit.
  await eventually('quote updated', async () => (await message(a.page, 'yes, see you there').getByTestId('reply-quote').innerText()).includes('12:30'), WAIT);

  // --- Up in an empty composer edits the last own message; Escape cancels ---
  await send(a.page, 'one more thing');
  const input = a.page.getByTestId('composer-input');
  await input.focus();
  await input.press('ArrowUp');
  await a.page.getByTestId('compose-mode').filter({ hasText: 'Editing your message' }).waitFor();
  assert.equal(await input.inputValue(), 'one more thing');
  await input.press('Escape');
  assert.equal(await a.page.getByTestId('compose-mode').count(), 0);
  assert.equal(await input.inputValue(), '');
  await input.press('ArrowUp');
  await input.fill('one more thing, edited');
  await input.press('Enter');
  await message(b.page, 'one more thing, edited').waitFor({ timeout: WAIT });

  // --- the edit history, from "(edited)" ---
  await message(b.page, 'lunch at 12:30?').getByTestId('message-edited').click();
  await b.page.getByTestId('edit-history').waitFor();
  await eventually('two versions', async () => (await b.page.getByTestId('edit-version').count()) === 2, WAIT);
  assert.deepEqual(
    (await b.page.getByTestId('edit-version').allInnerTexts()).map((t) => t.split('\n').pop()),
    ['lunch at noon?', 'lunch at 12:30?'],
  );
  await axeAllWays(b.page, 'edit history');
  await screenshot(b.page, 'actions-03-edit-history');
  await b.page.keyboard.press('Escape');
  assert.equal(await b.page.getByTestId('edit-history').count(), 0);

  // --- the keyboard path: focus the timeline, Up to the newest message, Up again, the menu key ---
  await b.page.getByTestId('timeline').focus();
  await b.page.keyboard.press('ArrowUp');
  await eventually('newest focused', async () => b.page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'message'), WAIT);
  // bob's own reply is among the newest: find it with Up, then edit it with "e".
  for (let i = 0; i < 6; i++) {
    if (await b.page.evaluate(() => document.activeElement?.textContent?.includes('yes, see you there') ?? false)) break;
    await b.page.keyboard.press('ArrowUp');
  }
  assert.ok(await b.page.evaluate(() => document.activeElement?.textContent?.includes('yes, see you there')));
  // The hover bar shows for the focused message too.
  assert.equal(await message(b.page, 'yes, see you there').getByTestId('message-actions').evaluate((el) => getComputedStyle(el).opacity), '1');
  await b.page.keyboard.press('Shift+F10');
  await b.page.getByTestId('message-menu').waitFor();
  assert.equal(await b.page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'menu-reply');
  await b.page.keyboard.press('ArrowDown'); // React…
  await b.page.keyboard.press('ArrowDown'); // Edit
  await b.page.keyboard.press('Enter');
  await b.page.getByTestId('compose-mode').filter({ hasText: 'Editing your message' }).waitFor();
  await b.page.getByTestId('composer-input').fill('yes, see you at 12:30');
  await b.page.getByTestId('composer-input').press('Enter');
  await message(a.page, 'yes, see you at 12:30').waitFor({ timeout: WAIT });
  // "+" on a focused message opens the picker; Escape closes it and the keyboard stays.
  await message(b.page, 'one more thing, edited').focus();
  await b.page.keyboard.press('+');
  await b.page.getByTestId('emoji-picker').waitFor();
  await b.page.keyboard.press('Escape');
  assert.equal(await b.page.getByTestId('emoji-picker').count(), 0);
  assert.ok(await b.page.evaluate(() => document.activeElement?.textContent?.includes('one more thing, edited')));
  await b.page.keyboard.press('+');
  await b.page.keyboard.press('Enter'); // the first emoji: 👍
  await chip(a.page, 'one more thing, edited', '👍').waitFor({ timeout: WAIT });

  // --- someone else's message offers no edit or delete ---
  await message(b.page, 'lunch at 12:30?').click({ button: 'right' });
  await b.page.getByTestId('message-menu').waitFor();
  assert.equal(await b.page.getByTestId('menu-edit').count(), 0);
  assert.equal(await b.page.getByTestId('menu-delete').count(), 0);
  await b.page.keyboard.press('Escape');

  // --- delete, with its confirmation; everyone sees "Message deleted" ---
  await message(a.page, 'lunch at 12:30?').click({ button: 'right' });
  await a.page.getByTestId('menu-delete').click();
  await a.page.getByTestId('message-delete-dialog').waitFor();
  await axeAllWays(a.page, 'delete confirmation');
  await a.page.getByTestId('message-delete-confirm').click();
  await eventually('deleted at bob', async () => (await b.page.getByTestId('message-deleted').count()) === 1, WAIT);
  await eventually('the quote says deleted', async () => (await message(b.page, 'yes, see you at 12:30').getByTestId('reply-quote').innerText()).includes('Message deleted'), WAIT);

  // --- the room with all of it, every way ---
  await axeAllWays(b.page, 'room with replies, reactions, edits, a deletion, markdown');
  await screenshot(b.page, 'actions-04-room');
  await b.page.setViewportSize({ width: 480, height: 860 });
  await axeAllWays(b.page, 'room at 480 px');
  await message(b.page, 'one more thing, edited').click({ button: 'right' });
  await b.page.getByTestId('message-menu').waitFor();
  await assertAccessible(b.page, 'message menu at 480 px');
  await screenshot(b.page, 'actions-05-narrow-menu');
  await b.page.keyboard.press('Escape');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
