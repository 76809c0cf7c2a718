// Join links and knocks as a person sees them, in real Chromium on the real bridge in front of an
// in-memory core (links-knocks-fixture.ts) with two accounts on one device: alice makes a link
// for "Lunch" with options (uses, expiry, passphrase, role; a mistake said before anything is
// sent), sees it as text and as a QR code that really scans, copies it, and revokes another
// behind a confirmation; a role that may not make links gets the core's refusal; "Let people
// knock" gives a knock link. ally pastes the link in "Join with a link": asked for the passphrase,
// a wrong one refused (the focus back on it), the right one lets her in; expired and revoked
// links say why. She knocks on "Book club" with a note under a pseudonym; alice sees the knock
// arrive live (a badge, the Knocks screen), declines one, retries one whose admission failed,
// admits ally, who sees she is admitted and opens the room once it arrives. A mimi: link opened
// from outside fills the dialog. Every screen is checked with axe-core, light, dark and 480px wide.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Locator, Page } from 'playwright-core';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { parseJoinLink } from '../../src-shared/join-link.js';
import { assertAccessible as accessible, collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import {
  A,
  B,
  BOOKS,
  BOOKS_KNOCK_ROOM,
  EXPIRED_LINK,
  GARDEN_PROBLEM,
  LUNCH,
  NEWS_REFUSAL,
  P_ALLY,
  P_STRANGER,
  REVOKED_PROBLEM,
  STRANGER_PROBLEM,
  linksKnocksCore,
} from './links-knocks-fixture.js';

const fx = linksKnocksCore();
let session: FakeCoreSession | undefined;
let browser: Browser;
let bridge: Bridge;
let page: Page;
let problems: string[];
/** What the tests hand each other: the link alice made and the knock link of Book club. */
let joinLink = '';
let knockLink = '';
const jsqrSource = fs.readFileSync(createRequire(import.meta.url).resolve('jsqr/dist/jsQR.js'), 'utf8');

before(async () => {
  session = await openOnFakeCore(fx.core, { width: 1280, height: 900 });
  ({ browser, bridge, page, problems } = session);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(bridge.url).origin });
});

after(async () => {
  await session?.close();
});

const callsOf = (method: string) => fx.calls.filter((c) => c.method === method).map((c) => c.args);
const focusedTestId = (p: Page) => p.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
const room = (p: Page, name: string) => p.locator(`[data-testid=room-item][data-room-name="${name}"]`);
const linkRow = (p: Page, id: string) => p.locator(`[data-testid=link-item][data-id="${id}"]`);
const knockRow = (p: Page, id: string) => p.locator(`[data-testid=knock-item][data-id="${id}"]`);

async function switchTo(p: Page, handle: string): Promise<void> {
  await p.locator(`[data-testid=account-item][data-handle="${handle}"]`).click();
  await p.getByTestId('active-account').filter({ hasText: handle }).waitFor();
}

/** In a narrow window the room list is a drawer and the room's buttons are in a menu: open them first. */
async function showRoomList(p: Page): Promise<void> {
  if ((await p.getByTestId('toggle-room-list').getAttribute('aria-expanded')) === 'false') await p.getByTestId('toggle-room-list').click();
}

async function openSettings(p: Page, roomName: string): Promise<Locator> {
  await showRoomList(p);
  await room(p, roomName).click();
  await eventually(`${roomName} open`, async () => (await p.getByTestId('room-title').innerText()) === roomName);
  if (!(await p.getByTestId('room-settings').isVisible())) {
    if (await p.getByTestId('room-actions-menu').isVisible()) await p.getByTestId('room-actions-menu').click();
    await p.getByTestId('toggle-settings').click();
  }
  const links = p.getByTestId('room-links');
  await links.waitFor();
  return links;
}

/**
 * What a camera would read: the QR code's pixels as the page shows them (a screenshot), decoded by
 * jsQR in a blank page of the same browser (a canvas turns the PNG back into pixels).
 */
async function scan(qr: Locator): Promise<string | null> {
  await qr.scrollIntoViewIfNeeded();
  const png = await qr.screenshot();
  const blank = await qr.page().context().newPage();
  try {
    await blank.evaluate(jsqrSource);
    return await blank.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
      type Decoder = (d: Uint8ClampedArray, w: number, h: number, o: { inversionAttempts: string }) => { data: string } | null;
      // Dark on light only, as most phone scanners read it: an inverted code must not pass.
      return (window as unknown as { jsQR: Decoder }).jsQR(pixels.data, canvas.width, canvas.height, { inversionAttempts: 'dontInvert' })?.data ?? null;
    }, png.toString('base64'));
  } finally {
    await blank.close();
  }
}

/** The SVG is a plausible QR module grid: 21 + 4k modules, a quiet zone of 4, light ground and dark modules. */
async function assertQrGrid(qr: Locator): Promise<void> {
  const modules = Number(await qr.getAttribute('data-modules'));
  assert.ok(modules >= 21 && modules <= 177 && (modules - 21) % 4 === 0, `a QR code's size is 21 + 4k modules, not ${modules}`);
  assert.equal(await qr.getAttribute('viewBox'), `0 0 ${modules + 8} ${modules + 8}`, 'four modules of quiet zone on each side');
  assert.equal(await qr.getAttribute('role'), 'img');
  assert.equal(await qr.locator('rect').getAttribute('fill'), '#ffffff');
  assert.equal(await qr.locator('path').getAttribute('fill'), '#000000');
  const d = (await qr.locator('path').getAttribute('d')) ?? '';
  // The three finder patterns alone start 3 × 7 rows of runs; a real code has hundreds.
  assert.ok((d.match(/M/g) ?? []).length > 100, 'the path draws the dark modules');
  assert.match(d, /^M4 4h7v1h-7z/, 'the top-left finder pattern starts at the quiet zone with a run of 7');
  // At least 3 pixels a module, square: what a phone's camera reads off a screen.
  const box = await qr.boundingBox();
  assert.ok(box && box.width >= 3 * (modules + 8) && Math.abs(box.width - box.height) < 1, `shown square and large enough to scan (${box?.width}px for ${modules + 8} modules)`);
}

test('alice makes a link with options; it shows as text and as a QR code that scans; she copies it; Revoke asks first', async () => {
  await page.goto(bridge.url);
  const section = await openSettings(page, 'Lunch');
  await section.getByTestId('links-list').waitFor();
  assert.deepEqual(callsOf('links.list')[0], [A, LUNCH]);

  // The links the hub has: dave's, made on his phone (no text here), and an expired one.
  const dave = linkRow(page, 'da7e0000aaaa1111');
  assert.equal(await dave.getByTestId('link-state').innerText(), 'active');
  assert.equal(await dave.getByTestId('link-uses').innerText(), 'Unlimited uses');
  assert.equal(await dave.getByTestId('link-expiry').innerText(), 'Never expires');
  assert.equal(await dave.getByTestId('link-passphrase').innerText(), 'Passphrase: no');
  assert.equal(await dave.getByTestId('link-role').innerText(), 'Joins as Member');
  assert.match(await dave.innerText(), /Made by dave,/);
  assert.equal(await dave.getByTestId('link-elsewhere').innerText(), 'Only the device that made this link has its text: copy it from there.');
  assert.equal(await dave.getByTestId('link-show').count(), 0);
  const expired = linkRow(page, 'e0e0e0e0bbbb2222');
  assert.equal(await expired.getByTestId('link-state').innerText(), 'expired');
  assert.equal(await expired.getByTestId('link-uses').innerText(), '7 of 10 uses left');
  assert.match(await expired.getByTestId('link-expiry').innerText(), /^Expired \(.+\)$/);
  assert.equal(await expired.getByTestId('link-revoke').count(), 0, 'nothing to revoke on an expired link');

  // New link: the first choice gets the focus; a passphrase too short is said before anything is sent.
  await section.getByTestId('link-new').click();
  assert.equal(await focusedTestId(page), 'link-uses-unlimited');
  await section.getByTestId('link-uses-number').fill('3');
  assert.equal(await section.getByTestId('link-uses-count').isChecked(), true, 'typing a number picks "this many times"');
  assert.equal(await section.getByTestId('new-link-expiry').inputValue(), '1d', 'a day unless chosen otherwise');
  const roles = await section.getByTestId('new-link-role').locator('option').allInnerTexts();
  assert.deepEqual(roles, ['The room’s usual role for newcomers', 'Member', 'Moderator', 'Admin'], 'neither no_role nor banned');
  await section.getByTestId('new-link-role').selectOption({ label: 'Moderator' });
  await section.getByTestId('new-link-passphrase').fill('ab');
  await section.getByTestId('link-create').click();
  const formError = section.getByTestId('link-form-error');
  assert.equal(await formError.innerText(), 'Make the passphrase at least 4 characters long, or leave it empty for none.');
  assert.equal(await focusedTestId(page), 'new-link-passphrase', 'the focus goes to what to fix');
  assert.equal(await section.getByTestId('new-link-passphrase').getAttribute('aria-invalid'), 'true');
  // A custom expiry out of range is caught as well.
  await section.getByTestId('new-link-expiry').selectOption('custom');
  await section.getByTestId('link-expiry-amount').fill('400');
  await section.getByTestId('link-expiry-unit').selectOption('days');
  await section.getByTestId('new-link-passphrase').fill(' open sesame ');
  await section.getByTestId('link-create').click();
  assert.match(await formError.innerText(), /from 1 minute up to 366 days/);
  assert.equal(await focusedTestId(page), 'link-expiry-amount');
  assert.deepEqual(callsOf('links.create'), [], 'nothing sent yet');
  await accessible(page, 'new link form with a problem');
  await section.getByTestId('new-link-expiry').selectOption('1d');
  await section.getByTestId('link-create').click();

  const made = section.getByTestId('link-made');
  await made.waitFor();
  assert.deepEqual(callsOf('links.create'), [[A, LUNCH, { uses: 3, expiresInSeconds: 86_400, passphrase: 'open sesame', roleIndex: 3 }]]);
  assert.equal(await made.getByTestId('link-made-summary').innerText(), 'New link: 3 of 3 uses left · Expires in 24 hours · passphrase needed · joins as Moderator');
  assert.equal(await focusedTestId(page), 'link-made-summary', 'the keyboard is at the new link');
  joinLink = await made.getByTestId('link-text').inputValue();
  assert.match(joinLink, /^mimi:\/\/localhost\/r\/lunch\?code=[A-Za-z0-9_-]{22}&passphrase=1$/);

  const qr = made.getByRole('img', { name: 'QR code for the link to Lunch' });
  await assertQrGrid(qr);
  assert.equal(await scan(qr), joinLink, 'the QR code on screen reads back as the link');

  await made.getByTestId('link-copy').click();
  await made.getByTestId('link-copied').filter({ hasText: 'Copied.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), joinLink);

  // The new link heads the list, with what it was made with.
  const newId = fx.links.at(-1)!.id;
  const mine = linkRow(page, newId);
  await eventually('the new link in the list', async () => (await section.getByTestId('link-item').first().getAttribute('data-id')) === newId);
  assert.equal(await mine.getByTestId('link-uses').innerText(), '3 of 3 uses left');
  assert.equal(await mine.getByTestId('link-passphrase').innerText(), 'Passphrase: yes');
  assert.equal(await mine.getByTestId('link-role').innerText(), 'Joins as Moderator');
  assert.match(await mine.getByTestId('link-expiry').innerText(), /^Expires in 24 hours \(.+\)$/);
  await made.scrollIntoViewIfNeeded();
  await accessible(page, 'room settings with a new link');
  await screenshot(page, '90-links-new-link');

  // Revoke asks first; Escape keeps the link (and the settings panel open), the focus goes back.
  await dave.getByTestId('link-revoke').click();
  assert.equal(await dave.getByTestId('link-revoke-question').innerText(), 'Revoke this link? Nobody can use it any more. People who already joined with it stay in the room.');
  assert.equal(await focusedTestId(page), 'link-revoke-confirm');
  await dave.scrollIntoViewIfNeeded();
  await accessible(page, 'revoke confirmation');
  await screenshot(page, '91-links-revoke-confirm');
  await page.keyboard.press('Escape');
  await dave.getByTestId('link-revoke-group').waitFor({ state: 'detached' });
  assert.equal(await focusedTestId(page), 'link-revoke');
  assert.equal(await page.getByTestId('room-settings').count(), 1, 'Escape cancelled only the question');
  assert.deepEqual(callsOf('links.revoke'), []);
  await dave.getByTestId('link-revoke').click();
  await dave.getByTestId('link-revoke-confirm').click();
  await eventually('revoked', async () => (await dave.getByTestId('link-state').innerText()) === 'revoked');
  assert.deepEqual(callsOf('links.revoke'), [[A, LUNCH, 'da7e0000aaaa1111']]);
  assert.equal(await dave.getByTestId('link-revoke').count(), 0);
  assert.ok(await dave.evaluate((el) => el === document.activeElement), 'the keyboard stays on the row');

  // The link made here shows its text and QR code again from its row.
  await mine.getByTestId('link-show').click();
  assert.equal(await mine.getByTestId('link-show').getAttribute('aria-expanded'), 'true');
  assert.equal(await mine.getByTestId('link-text').inputValue(), joinLink);
  assert.equal(await mine.getByRole('img', { name: 'QR code for the link to Lunch' }).count(), 1);
  // Copying can fail (no permission, say): the link is then selected and the message says which keys copy it.
  await page.evaluate(() => {
    navigator.clipboard.writeText = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
  });
  await mine.getByTestId('link-copy').click();
  const copyError = mine.getByTestId('link-copy-error');
  await copyError.waitFor();
  assert.equal(await copyError.innerText(), 'Couldn’t copy it for you. The link is selected: press Ctrl+C (⌘C on a Mac) to copy it.');
  assert.equal(await mine.getByTestId('link-copied').innerText(), '');
  const selected = await mine.getByTestId('link-text').evaluate((el) => {
    const t = el as HTMLTextAreaElement;
    return document.activeElement === t && t.value.slice(t.selectionStart, t.selectionEnd);
  });
  assert.equal(selected, joinLink, 'the whole link is selected, with the focus on it');
  await page.reload();
  await openSettings(page, 'Lunch');
  await linkRow(page, newId).getByTestId('link-show').waitFor();
  assert.deepEqual(problems, []);
});

test('a role that may not make links: the core\'s refusal is shown as it comes', async () => {
  const section = await openSettings(page, 'Announcements');
  await section.getByTestId('link-new').click();
  await section.getByTestId('link-uses-once').check();
  await section.getByTestId('link-create').click();
  await section.getByTestId('link-form-error').filter({ hasText: NEWS_REFUSAL }).waitFor();
  assert.equal(await section.getByTestId('link-form-error').getAttribute('role'), 'alert');
  assert.deepEqual(callsOf('links.create').at(-1), [A, 'mimi://localhost/r/announcements', { uses: 1, expiresInSeconds: 86_400, passphrase: null, roleIndex: null }]);
  await page.keyboard.press('Escape');
  await section.getByTestId('link-form').waitFor({ state: 'detached' });
  assert.equal(await focusedTestId(page), 'link-new', 'Escape closes the form and goes back to its button');
  assert.equal(await page.getByTestId('room-settings').count(), 1);
});

test('"Let people knock" gives the knock link, with its QR code and Copy', async () => {
  const section = await openSettings(page, 'Book club');
  const knock = section.getByTestId('room-knock');
  await knock.getByTestId('knock-room-start').scrollIntoViewIfNeeded();
  await knock.getByTestId('knock-room-start').click();
  await knock.getByTestId('knock-room-done').waitFor();
  assert.deepEqual(callsOf('knocks.knockRoom'), [[A, BOOKS]]);
  knockLink = await knock.getByTestId('link-text').inputValue();
  const parsed = parseJoinLink(knockLink);
  assert.equal(parsed.knock, true);
  assert.equal(parsed.roomUri, BOOKS_KNOCK_ROOM);
  assert.equal(await focusedTestId(page), 'knock-room-done');
  const qr = knock.getByRole('img', { name: 'QR code for the knock link of Book club' });
  await assertQrGrid(qr);
  assert.equal(await scan(qr), knockLink);
  await knock.getByTestId('link-copy').click();
  await knock.getByTestId('link-copied').filter({ hasText: 'Copied.' }).waitFor();
  // The knock room's link is one of the room's links.
  const row = section.getByTestId('link-item').filter({ hasText: 'Knock link: lets people knock' });
  await row.waitFor();
  assert.equal(await row.getByTestId('link-state').innerText(), 'active');
  await knock.scrollIntoViewIfNeeded();
  await accessible(page, 'knock link');
  await screenshot(page, '92-knock-room-link');
  await page.getByTestId('room-settings-close').click();
});

test('ally joins with the link: a bad paste is explained, the passphrase is asked for, a wrong one refused, the right one lets her in', async () => {
  await switchTo(page, 'ally');
  // Her earlier knock that failed says why, in the room pane.
  const garden = page.locator('[data-testid=my-knock][data-id="k-garden"]');
  assert.equal(await garden.getByTestId('my-knock-text').innerText(), `Could not knock: ${GARDEN_PROBLEM}`);

  await page.getByTestId('join-with-link').click();
  const dialog = page.getByTestId('join-dialog');
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('heading').innerText(), 'Join with a link');
  assert.match(await dialog.innerText(), /You use it as ally@localhost\./);
  assert.equal(await focusedTestId(page), 'join-link');
  await page.keyboard.type('mimi://localhost/r/lunch');
  await dialog.getByTestId('join-submit').click();
  const problem = dialog.getByTestId('join-link-problem');
  assert.equal(await problem.innerText(), 'That is not a room link (it has no code). A link looks like mimi://a.example/r/…?code=…; copy it again from where you got it.');
  assert.equal(await dialog.getByTestId('join-link').getAttribute('aria-invalid'), 'true');
  assert.equal(await focusedTestId(page), 'join-link');
  assert.deepEqual(callsOf('links.join'), []);
  await accessible(page, 'join dialog with a bad link');

  // Pasted with the angle brackets mail programs put around links.
  await dialog.getByTestId('join-link').fill('');
  await page.evaluate((text) => navigator.clipboard.writeText(text), `<${joinLink}>`);
  await dialog.getByTestId('join-link').focus();
  await page.keyboard.press('ControlOrMeta+V');
  await dialog.getByTestId('join-passphrase').waitFor();
  assert.equal(await problem.count(), 0);
  assert.equal(await dialog.getByTestId('join-link-room').innerText(), 'A room on localhost; it needs a passphrase.');
  await dialog.getByTestId('join-submit').click();
  assert.equal(await dialog.getByTestId('join-error').innerText(), 'Type the passphrase that came with the link (the person who gave it to you has it).');
  assert.equal(await focusedTestId(page), 'join-passphrase');

  await dialog.getByTestId('join-passphrase').fill('open says me');
  await dialog.getByTestId('join-submit').click();
  const error = dialog.getByTestId('join-error');
  await error.filter({ hasText: 'That passphrase is not the one for this link. Check it with whoever gave you the link, then try again.' }).waitFor();
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.equal(await focusedTestId(page), 'join-passphrase', 'the focus is back on the passphrase, to type it again');
  assert.deepEqual(callsOf('links.join'), [[B, joinLink, 'open says me', false]], 'sent without the angle brackets');
  await accessible(page, 'join dialog: wrong passphrase');
  await screenshot(page, '93-join-wrong-passphrase');

  // Tab stays inside the dialog.
  await dialog.getByTestId('join-submit').focus();
  await page.keyboard.press('Tab');
  assert.equal(await focusedTestId(page), 'join-link', 'Tab from the last control goes round to the first');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focusedTestId(page), 'join-submit');

  fx.slowDown(800);
  await dialog.getByTestId('join-passphrase').fill('open sesame');
  await dialog.getByTestId('join-submit').click();
  await dialog.getByTestId('join-progress').waitFor();
  assert.equal(await dialog.getByTestId('join-submit').innerText(), 'Joining…');
  assert.equal(await dialog.getByTestId('join-submit').isDisabled(), true);
  await dialog.waitFor({ state: 'detached' });
  await eventually('Lunch open', async () => (await page.getByTestId('room-title').innerText()) === 'Lunch');
  assert.deepEqual(callsOf('links.join').at(-1), [B, joinLink, 'open sesame', false]);
  assert.equal(await room(page, 'Lunch').count(), 1);

  // alice sees the link used once.
  await switchTo(page, 'alice');
  const section = await openSettings(page, 'Lunch');
  const mine = linkRow(page, fx.links.find((l) => l.passphrase === 'open sesame')!.id);
  await eventually('uses left updated', async () => (await mine.getByTestId('link-uses').innerText()) === '2 of 3 uses left');
  await section.getByTestId('links-list').waitFor();
  await page.getByTestId('room-settings-close').click();
  assert.deepEqual(problems, []);
});

test('refused links say why: an expired one, a revoked one', async () => {
  await switchTo(page, 'ally');
  await page.getByTestId('join-with-link').click();
  const dialog = page.getByTestId('join-dialog');
  await dialog.getByTestId('join-link').fill(EXPIRED_LINK);
  await dialog.getByTestId('join-submit').click();
  const error = dialog.getByTestId('join-error');
  await error.filter({ hasText: /^This link expired on \d{4}-\d\d-\d\d\. Ask whoever gave it to you for a new one\.$/ }).waitFor();
  assert.equal(await focusedTestId(page), 'join-link', 'the focus goes to the link, the thing to replace');
  await accessible(page, 'join dialog: link refused');
  await screenshot(page, '94-join-link-refused');
  await dialog.getByTestId('join-link').fill('mimi://localhost/r/lunch?code=DaveMadeThisOnHisPhone');
  assert.equal(await error.count(), 0, 'a different link clears what was said about the last one');
  await dialog.getByTestId('join-submit').click();
  await error.filter({ hasText: REVOKED_PROBLEM }).waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await focusedTestId(page), 'join-with-link', 'the focus goes back to where the dialog was opened');
});

test('ally knocks with a note under a pseudonym; alice sees it arrive, answers knocks, admits ally; ally opens the room', async () => {
  await page.getByTestId('join-with-link').click();
  const dialog = page.getByTestId('join-dialog');
  await dialog.getByTestId('join-link').fill(knockLink);
  await eventually('the dialog turns into Knock', async () => (await dialog.getAttribute('data-kind')) === 'knock');
  assert.equal(await dialog.getByRole('heading').innerText(), 'Knock to join a room');
  assert.equal(await dialog.getByTestId('join-passphrase').count(), 0);
  assert.equal(await dialog.getByTestId('join-link-room').innerText(), 'A room on localhost: you can knock on it.');
  assert.equal(await dialog.getByTestId('join-submit').innerText(), 'Knock');
  const note = 'Hello! I am Dave’s sister.\nCould I join the book club?';
  await dialog.getByTestId('join-note').fill(note);
  assert.match(await dialog.innerText(), new RegExp(`${note.length} of 1,000 characters`));
  await dialog.getByTestId('join-as-pseudonym').check();
  await accessible(page, 'knock dialog');
  await screenshot(page, '95-knock-dialog');
  fx.slowDown(600);
  await dialog.getByTestId('join-submit').click();
  await dialog.getByTestId('join-progress').filter({ hasText: 'Knocking on the room on localhost…' }).waitFor();
  await dialog.waitFor({ state: 'detached' });
  assert.deepEqual(callsOf('knocks.knock'), [[B, knockLink, note, true]]);

  // Her knock in the room pane, newest first, with the focus on it: sending, then waiting.
  const mine = page.getByTestId('my-knock').first();
  assert.equal(await mine.getByTestId('my-knock-text').innerText(), 'Sending your knock to the admins of the room on localhost…');
  assert.equal(await focusedTestId(page), 'my-knock');
  assert.match(await mine.innerText(), /as p\/Al1yPs…/);
  fx.deliverKnocks();
  await mine.getByTestId('my-knock-text').filter({ hasText: 'Waiting for the admins of “Book club”…' }).waitFor();
  const knockId = (await mine.getAttribute('data-id'))!;

  // alice: the badge counts the knocks waiting, the Knocks screen lists them.
  await switchTo(page, 'alice');
  assert.equal(await page.getByTestId('knocks-waiting').innerText(), '3');
  assert.equal(await page.getByTestId('knocks-waiting').getAttribute('aria-label'), '3 knocks waiting');
  await page.getByTestId('open-knocks').click();
  const view = page.getByTestId('knocks-view');
  await view.waitFor();
  assert.deepEqual(await view.getByTestId('knock-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-id'))), ['k-stranger', 'k-carol', knockId], 'oldest first');
  const ally = knockRow(page, knockId);
  assert.equal(await ally.getByTestId('knock-from').innerText(), 'p/Al1yPs…');
  assert.equal(await ally.getByTestId('knock-from').getAttribute('title'), P_ALLY);
  assert.match(await ally.innerText(), /p\/Al1yPs… \(a pseudonym\) wants to join “Book club”/);
  assert.equal(await ally.getByTestId('knock-note').innerText(), note);
  const carol = knockRow(page, 'k-carol');
  assert.match(await carol.innerText(), /carol@c\.example wants to join “Book club”/);
  const stranger = knockRow(page, 'k-stranger');
  assert.equal(await stranger.getByTestId('knock-from').getAttribute('title'), P_STRANGER);
  assert.equal(await stranger.getByTestId('knock-no-note').innerText(), 'No note.');
  assert.equal(await stranger.getByTestId('knock-problem').innerText(), `Letting them in failed: ${STRANGER_PROBLEM}`);
  assert.equal(await stranger.getByTestId('knock-admit').innerText(), 'Admit (try again)');
  await accessible(page, 'knocks screen');
  await screenshot(page, '96-knocks-admin');

  // Decline carol; the stranger's admission fails again and says so; admit ally.
  await carol.getByTestId('knock-decline').click();
  await eventually('carol declined', async () => (await carol.getByTestId('knock-state').innerText()) === 'declined');
  // The knocks event may show the new state before the call has answered: wait for what it says.
  await view.getByTestId('knocks-done').filter({ hasText: 'Declined carol@c.example’s knock on “Book club”.' }).waitFor();
  assert.deepEqual(callsOf('knocks.decline'), [[A, 'k-carol']]);
  assert.equal(await page.getByTestId('knocks-waiting').innerText(), '2');
  await eventually('the keyboard on the answered row', async () => carol.evaluate((el) => el === document.activeElement));
  fx.failNextAdmit('k-stranger');
  await stranger.getByTestId('knock-admit').click();
  await stranger.getByTestId('knock-problem').filter({ hasText: 'The knocker’s provider did not answer. Admit again in a moment.' }).waitFor();
  assert.equal(await stranger.getByTestId('knock-state').innerText(), 'waiting for your answer');
  await ally.getByTestId('knock-admit').click();
  await eventually('ally admitted', async () => (await ally.getByTestId('knock-state').innerText()) === 'admitted');
  await view.getByTestId('knocks-done').filter({ hasText: 'Let p/Al1yPs… into “Book club”.' }).waitFor();
  assert.deepEqual(callsOf('knocks.admit'), [[A, 'k-stranger'], [A, knockId]]);
  assert.equal(await page.getByTestId('knocks-waiting').innerText(), '1');
  await page.getByTestId('knocks-close').click();

  // ally: admitted; the room opens from here once its Welcome has arrived.
  await switchTo(page, 'ally');
  const card = page.locator(`[data-testid=my-knock][data-id="${knockId}"]`);
  await card.getByTestId('my-knock-text').filter({ hasText: 'Admitted to “Book club”.' }).waitFor();
  assert.equal(await card.getByTestId('my-knock-arriving').innerText(), 'The room appears in your list as soon as this device has joined it.');
  assert.equal(await card.getByTestId('my-knock-open').count(), 0);
  fx.deliverWelcome(B, BOOKS);
  await card.getByTestId('my-knock-open').waitFor();
  assert.equal(await card.getByTestId('my-knock-open').innerText(), 'Open “Book club”');
  await accessible(page, 'knock admitted');
  await screenshot(page, '97-knock-admitted');
  await card.getByTestId('my-knock-open').click();
  await eventually('Book club open', async () => (await page.getByTestId('room-title').innerText()) === 'Book club');
  await card.waitFor({ state: 'detached' });

  // Her Knocks screen keeps both of her knocks with their outcome.
  await page.getByTestId('open-knocks').click();
  const outgoing = page.getByTestId('knocks-outgoing');
  await outgoing.waitFor();
  assert.deepEqual(await outgoing.getByTestId('my-knock-text').allInnerTexts(), ['Admitted to “Book club”.', `Could not knock: ${GARDEN_PROBLEM}`]);
  assert.equal(await page.getByTestId('knocks-incoming-empty').count(), 1);
  await page.getByTestId('knocks-close').click();
  assert.deepEqual(problems, []);
});

test('a mimi: link opened from outside opens the join dialog filled in, for the active account', async () => {
  await page.getByTestId('chat').waitFor();
  fx.emit({ type: 'openLink', link: knockLink });
  const dialog = page.getByTestId('join-dialog');
  await dialog.waitFor();
  assert.equal(await dialog.getByTestId('join-link').inputValue(), knockLink);
  assert.equal(await dialog.getAttribute('data-kind'), 'knock');
  assert.equal(await focusedTestId(page), 'join-note', 'straight to what is left to do');
  assert.match(await dialog.innerText(), /You use it as ally@localhost\./);
  // A second one replaces it.
  fx.emit({ type: 'openLink', link: joinLink });
  await eventually('refilled', async () => (await dialog.getByTestId('join-link').inputValue()) === joinLink);
  assert.equal(await dialog.getAttribute('data-kind'), 'join');
  assert.equal(await focusedTestId(page), 'join-passphrase');
  await accessible(page, 'join dialog opened from outside');
  await dialog.getByTestId('join-cancel').click();
  await dialog.waitFor({ state: 'detached' });
  assert.deepEqual(problems, []);
});

test('dark mode, 480px wide: the links section, its QR code (still dark on light, still scans), the join dialog and the Knocks screen', async () => {
  const context = await browser.newContext({ viewport: { width: 480, height: 860 }, colorScheme: 'dark' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(bridge.url).origin });
  const dark = await context.newPage();
  const darkProblems = collectPageProblems(dark);
  const fits = async (what: string) => {
    const over = await dark.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(over <= 0, `${what}: the page is ${over}px wider than the window`);
  };
  await switchTo(page, 'alice');
  await dark.goto(bridge.url);
  await dark.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor();

  const section = await openSettings(dark, 'Lunch');
  const mine = linkRow(dark, fx.links.find((l) => l.passphrase === 'open sesame')!.id);
  await mine.getByTestId('link-show').click();
  const qr = mine.getByRole('img', { name: 'QR code for the link to Lunch' });
  await assertQrGrid(qr);
  assert.equal(await scan(qr), joinLink, 'dark mode keeps dark modules on a light ground');
  await fits('links section');
  await accessible(dark, 'dark narrow: links');
  await screenshot(dark, '98-dark-narrow-links');
  await section.getByTestId('link-new').scrollIntoViewIfNeeded();
  await section.getByTestId('link-new').click();
  await section.getByTestId('new-link-expiry').selectOption('custom');
  await fits('new link form');
  await accessible(dark, 'dark narrow: new link form');
  await section.getByTestId('link-cancel').click();
  await dark.getByTestId('room-settings-close').click();

  await showRoomList(dark);
  await dark.getByTestId('open-knocks').click();
  await dark.getByTestId('knocks-view').waitFor();
  await fits('knocks screen');
  await accessible(dark, 'dark narrow: knocks');
  await screenshot(dark, '99-dark-narrow-knocks');
  await dark.getByTestId('knocks-close').click();

  await dark.getByTestId('join-with-link').click();
  const dialog = dark.getByTestId('join-dialog');
  await dialog.getByTestId('join-link').fill(joinLink);
  await dialog.getByTestId('join-passphrase').waitFor();
  await dialog.getByTestId('join-passphrase').fill('wrong one');
  await dialog.getByTestId('join-submit').click();
  await dialog.getByTestId('join-error').waitFor();
  await fits('join dialog');
  await accessible(dark, 'dark narrow: join dialog');
  await screenshot(dark, '99b-dark-narrow-join-dialog');
  await dialog.getByTestId('join-link').fill(knockLink);
  await dialog.getByTestId('join-note').waitFor();
  await accessible(dark, 'dark narrow: knock dialog');
  await dialog.getByTestId('join-cancel').click();

  // Light at 480px too: the room pane's knock card and the links.
  await context.close();
  const light = await browser.newPage({ viewport: { width: 480, height: 860 } });
  const lightProblems = collectPageProblems(light);
  await light.goto(bridge.url);
  await openSettings(light, 'Lunch');
  await accessible(light, 'light narrow: links');
  await showRoomList(light);
  await light.getByTestId('open-knocks').click();
  await light.getByTestId('knocks-view').waitFor();
  await accessible(light, 'light narrow: knocks');
  await light.close();
  assert.deepEqual(darkProblems, []);
  assert.deepEqual(lightProblems, []);
  assert.deepEqual(problems, []);
});
