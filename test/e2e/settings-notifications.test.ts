// Settings, notifications, mute and keyboard shortcuts in real Chromium on two real cores (A's
// runs the embedded provider, bob signs up on it): the browser's notification permission asked
// only from a click (never on load), notifications captured as the page makes them (privacy modes,
// none for a muted room or the room in view, a click opens the room), the unread count in the
// title, mute from the room's menu and header shown in the list, every Settings section (display
// name, picture, theme at once and after a reload, the password change refused with a wrong one
// and done with the right one, the secret storage shown, account deletion), Ctrl+K, Alt+arrows, the
// shortcut sheet and Escape; axe-core on the new screens light, dark and at 480px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { PASSWORD, assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair } from './browser.js';

const WAIT = 45_000;
let pair: RealCorePair;
let aliceId: string;
let bobId: string;
const rooms: Record<string, string> = {};

// Stands in for the page's Notification: records what it shows and whether permission was asked
// during a click. Whether permission is granted still comes from the browser (Playwright grants it).
const CAPTURE_NOTIFICATIONS = `
(() => {
  const Real = window.Notification;
  const shown = [];
  const asked = [];
  let answer;
  class Captured {
    static get permission() { return Real.permission; }
    static requestPermission() {
      asked.push(navigator.userActivation ? navigator.userActivation.isActive : null);
      return new Promise((resolve) => { answer = resolve; });
    }
    constructor(title, options) {
      this.title = title;
      this.body = options && options.body;
      this.tag = options && options.tag;
      this.onclick = null;
      shown.push(this);
    }
    close() {}
  }
  window.Notification = Captured;
  window.__notes = { shown, asked, answer: (v) => answer && answer(v) };
})();
`;

/** A real PNG of one colour, w×h (zlib-compressed rows, CRCs computed). */
function solidPng(w: number, h: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, 0x7f)]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const roomItem = (page: Page, name: string) => page.locator(`[data-testid=room-item][data-room-name="${name}"]`);
const shown = (page: Page) => page.evaluate(() => (window as unknown as { __notes: { shown: { title: string; body: string }[] } }).__notes.shown.map((n) => ({ title: n.title, body: n.body })));

before(async () => {
  pair = await openPairOnOneProvider('settings', { width: 1280, height: 800 });
  await pair.b.context.addInitScript(CAPTURE_NOTIFICATIONS);
  await signUpPair(pair);
  aliceId = (await pair.a.core.accounts.list())[0].id;
  bobId = (await pair.b.core.accounts.list())[0].id;
  for (const name of ['Lunch', 'Design', 'Books']) {
    const r = await pair.a.core.rooms.create(aliceId, name, null);
    await pair.a.core.rooms.addMember(aliceId, r.roomUri, 'bob');
    rooms[name] = r.roomUri;
  }
  for (const name of ['Lunch', 'Design', 'Books']) await roomItem(pair.b.page, name).waitFor({ timeout: WAIT });
});

after(async () => {
  await closePair(pair);
});

async function aliceSays(room: string, text: string): Promise<void> {
  await pair.a.core.messages.send(aliceId, rooms[room], text);
}

test('notifications: permission only from a click; privacy modes; none for a muted room or the room in view; a click opens the room; the title counts unread', async () => {
  const page = pair.b.page;
  const origin = new URL(pair.b.bridge.url).origin;
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __notes: { asked: unknown[] } }).__notes.asked), [], 'nothing asked on load');
  await roomItem(page, 'Design').click();

  await page.getByTestId('open-settings').click();
  await page.getByTestId('settings').waitFor();
  assert.match(await page.getByTestId('notify-permission').innerText(), /asks before/);
  await page.getByTestId('notify-allow').click();
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __notes: { asked: unknown[] } }).__notes.asked), [true], 'asked once, during the click');
  await pair.b.context.grantPermissions(['notifications'], { origin });
  await page.evaluate(() => (window as unknown as { __notes: { answer: (v: string) => void } }).__notes.answer('granted'));
  await eventually('permission shown as granted', async () => /shows mimi’s notifications/.test(await page.getByTestId('notify-permission').innerText()));
  await screenshot(page, '150-settings-notifications');
  await page.keyboard.press('Escape');
  await page.getByTestId('settings').waitFor({ state: 'detached' });

  // Sender and text (the default), for a room not in view.
  await aliceSays('Lunch', 'noon at the fountain?');
  await eventually('a notification', async () => (await shown(page)).length === 1, WAIT);
  assert.deepEqual((await shown(page))[0], { title: 'alice in Lunch', body: 'noon at the fountain?' });
  await eventually('the title counts it', async () => (await page.title()) === '(1) mimi', WAIT);

  // The room in view (Design is open and the page has focus): no notification.
  await aliceSays('Design', 'new mockups are up');
  await page.locator('[data-testid=message-text]', { hasText: 'new mockups are up' }).waitFor({ timeout: WAIT });
  assert.equal((await shown(page)).length, 1);

  // Sender only.
  await page.getByTestId('open-settings').click();
  await page.getByTestId('privacy-sender').check();
  await page.getByTestId('settings-close').click();
  await aliceSays('Books', 'chapter 3 is wild');
  await eventually('a second notification', async () => (await shown(page)).length === 2, WAIT);
  assert.deepEqual((await shown(page))[1], { title: 'alice', body: 'New message' });
  // Nothing.
  await page.getByTestId('open-settings').click();
  await page.getByTestId('privacy-none').check();
  await page.getByTestId('settings-close').click();
  await new Promise((r) => setTimeout(r, 3100)); // the per-room quiet time after Lunch's notification
  await aliceSays('Lunch', 'or one?');
  await eventually('a third notification', async () => (await shown(page)).length === 3, WAIT);
  assert.deepEqual((await shown(page))[2], { title: 'mimi', body: 'New message' });
  await eventually('the title counts three', async () => (await page.title()) === '(3) mimi', WAIT);

  // Mute Books from its menu in the room list: shown there, no notification, out of the title count.
  await roomItem(page, 'Books').click({ button: 'right' });
  await page.getByTestId('room-context-menu').waitFor();
  await assertAccessible(page, 'room context menu');
  await page.getByTestId('context-mute').click();
  await roomItem(page, 'Books').getByTestId('room-muted').waitFor();
  await eventually('muted Books leaves the title count', async () => (await page.title()) === '(2) mimi', WAIT);
  assert.equal(await pair.b.core.rooms.list(bobId).then((l) => l.find((r) => r.name === 'Books')?.muted), true, 'stored in the profile');
  await screenshot(page, '151-room-muted');
  await new Promise((r) => setTimeout(r, 3100));
  await aliceSays('Books', 'and chapter 4');
  await eventually('Books unread 2', async () => (await roomItem(page, 'Books').getByTestId('room-unread').innerText()) === '2', WAIT);
  assert.equal((await shown(page)).length, 3, 'a muted room does not notify');

  // Clicking a notification opens its room.
  await page.evaluate(() => (window as unknown as { __notes: { shown: { onclick: () => void }[] } }).__notes.shown[0].onclick());
  await eventually('Lunch open', async () => (await page.getByTestId('room-title').innerText()) === 'Lunch', WAIT);
  await eventually('Lunch read: the title counts none', async () => (await page.title()) === 'mimi', WAIT);

  // Unmute from the room's header.
  await roomItem(page, 'Books').click();
  await page.getByTestId('toggle-mute').filter({ hasText: 'Unmute' }).click();
  await page.getByTestId('toggle-mute').filter({ hasText: 'Mute' }).waitFor();
  await eventually('Books not muted in the list', async () => (await roomItem(page, 'Books').getByTestId('room-muted').count()) === 0);

  // The room's menu from the keyboard: Shift+F10 opens it with focus on its item, Escape closes it
  // and puts focus back on the room.
  await roomItem(page, 'Design').focus();
  await page.keyboard.press('Shift+F10');
  await page.getByTestId('room-context-menu').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'context-mute');
  assert.equal(await page.getByTestId('context-mute').innerText(), 'Mute notifications');
  await page.keyboard.press('Escape');
  await page.getByTestId('room-context-menu').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-room-name')), 'Design');
  assert.deepEqual(pair.b.problems, []);
});

test('keyboard: Ctrl+K switcher, Alt+arrows, the shortcut sheet, Escape; not while typing', async () => {
  const page = pair.b.page;
  await roomItem(page, 'Lunch').click();
  const order = await page.getByTestId('room-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-room-name')));
  const title = () => page.getByTestId('room-title').innerText();

  // Ctrl+K works from the composer too.
  await page.getByTestId('composer-input').focus();
  await page.keyboard.press('Control+k');
  await page.getByTestId('room-switcher').waitFor();
  await assertAccessible(page, 'room switcher');
  await screenshot(page, '152-room-switcher');
  await page.getByTestId('switcher-input').fill('boo');
  assert.deepEqual(await page.getByTestId('switcher-option').allInnerTexts(), ['Books']);
  await page.keyboard.press('Enter');
  await page.getByTestId('room-switcher').waitFor({ state: 'detached' });
  assert.equal(await title(), 'Books');
  // Escape closes it and gives focus back.
  await page.getByTestId('composer-input').focus();
  await page.keyboard.press('Control+k');
  await page.getByTestId('room-switcher').waitFor();
  await page.keyboard.press('Escape');
  await page.getByTestId('room-switcher').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'composer-input');

  // Alt+Down / Alt+Up move through the list as shown, but not while typing (text in the field).
  const i = order.indexOf('Books');
  await page.getByTestId('composer-input').fill('half a thought');
  await page.keyboard.press('Alt+ArrowDown');
  assert.equal(await title(), 'Books', 'typing in the composer: no room change');
  await page.getByTestId('composer-input').fill('');
  // From the empty composer (where opening a room puts the keyboard) they work, one after another.
  if (i + 1 < order.length) {
    await page.keyboard.press('Alt+ArrowDown');
    await eventually('next room', async () => (await title()) === order[i + 1]);
    await page.keyboard.press('Alt+ArrowUp');
    await eventually('back', async () => (await title()) === 'Books');
  } else {
    await page.keyboard.press('Alt+ArrowUp');
    await eventually('previous room', async () => (await title()) === order[i - 1]);
  }

  // The shortcut sheet: ? outside a field, Ctrl+/; Escape closes it.
  await page.getByTestId('room-title').click();
  await page.keyboard.press('Shift+?');
  await page.getByTestId('shortcut-help').waitFor();
  const rows = (await page.getByTestId('shortcut-row').allInnerTexts()).join('\n');
  for (const k of ['Ctrl+K', 'Alt+↑', 'Ctrl+/', 'Esc', 'Edit your last message', 'Cancel the reply']) assert.ok(rows.includes(k), k);
  await assertAccessible(page, 'shortcut sheet');
  await screenshot(page, '153-shortcut-help');
  await page.keyboard.press('Escape');
  await page.getByTestId('shortcut-help').waitFor({ state: 'detached' });
  await page.getByTestId('composer-input').fill('');
  await page.getByTestId('composer-input').focus();
  await page.keyboard.press('Shift+?');
  assert.equal(await page.getByTestId('shortcut-help').count(), 0, '? is text in the composer');
  assert.equal(await page.getByTestId('composer-input').inputValue(), '?');
  await page.getByTestId('composer-input').fill('');
  await page.getByTestId('room-title').click();
  await page.keyboard.press('Control+/');
  await page.getByTestId('shortcut-help').waitFor();
  await page.getByTestId('shortcut-help-close').click();
});

test('settings: every section; display name, picture, theme at once and after a reload, password change, secret storage; axe light, dark, narrow', async () => {
  const page = pair.b.page;
  await page.getByTestId('open-settings').click();
  const settings = page.getByTestId('settings');
  await settings.waitFor();
  for (const s of ['profile', 'notifications', 'appearance', 'security', 'account']) await page.getByTestId(`settings-${s}`).waitFor();
  assert.equal(await page.getByTestId('secret-mode').getAttribute('data-mode'), 'plaintext');
  assert.match(await page.getByTestId('secret-mode').innerText(), /Not encrypted/);

  // Display name: kept by the provider.
  await page.getByTestId('display-name').fill('Bob Builder');
  await page.getByTestId('display-name-save').click();
  await settings.getByText('Display name saved.').waitFor();
  assert.equal((await pair.b.core.people.myProfile(bobId)).displayName, 'Bob Builder');

  // A picture: made small, shown.
  const png = solidPng(200, 100);
  await page.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png });
  await page.getByTestId('avatar-image').waitFor();
  const size = await page.getByTestId('avatar-image').evaluate((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
  assert.deepEqual(size, [96, 96], 'cropped square and scaled down');
  await page.getByTestId('head-avatar').waitFor();
  await page.getByTestId('avatar-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await settings.getByText('That file is not a picture').waitFor();

  // The password: a wrong current one is refused and says what to do; the right one changes it.
  await page.getByTestId('pw-current').fill('not my password');
  await page.getByTestId('pw-new').fill('a new password 2');
  await page.getByTestId('pw-again').fill('a new password 2');
  await page.getByTestId('pw-submit').click();
  await page.getByTestId('pw-error').filter({ hasText: 'nothing was changed' }).waitFor({ timeout: WAIT });
  await page.getByTestId('pw-current').fill(PASSWORD);
  await page.getByTestId('pw-again').fill('a new password 3');
  await page.getByTestId('pw-submit').click();
  await page.getByTestId('pw-error').filter({ hasText: 'differ' }).waitFor();
  await page.getByTestId('pw-again').fill('a new password 2');
  await page.getByTestId('pw-submit').click();
  await page.getByTestId('pw-done').waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId('pw-current').inputValue(), '', 'the fields are emptied');

  // Theme: applied at once, remembered after a reload.
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.getByTestId('theme-dark').check();
  assert.equal(await bg(), 'rgb(22, 24, 29)');
  await assertAccessible(page, 'settings, dark theme');
  await screenshot(page, '154-settings-dark');
  await page.getByTestId('theme-light').check();
  assert.equal(await bg(), 'rgb(255, 255, 255)');
  await assertAccessible(page, 'settings, light theme');
  await screenshot(page, '155-settings-light');
  await page.getByTestId('theme-dark').check();
  await page.reload();
  await page.getByTestId('active-account').waitFor({ timeout: WAIT });
  assert.equal(await bg(), 'rgb(22, 24, 29)', 'dark after a reload');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');

  // The OS says dark, the person says light: light wins; "system" follows the OS again.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByTestId('open-settings').click();
  await page.getByTestId('theme-light').check();
  assert.equal(await bg(), 'rgb(255, 255, 255)');
  await page.getByTestId('theme-system').check();
  assert.equal(await bg(), 'rgb(22, 24, 29)');

  // Narrow, both schemes.
  await page.setViewportSize({ width: 480, height: 800 });
  await assertAccessible(page, 'settings, narrow, dark');
  await screenshot(page, '156-settings-narrow-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await assertAccessible(page, 'settings, narrow, light');
  const scrollsSideways = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
  assert.equal(scrollsSideways, false, 'no sideways scrolling at 480px');
  await page.keyboard.press('Escape');
  await page.getByTestId('settings').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'open-settings', 'focus back on the button');
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(pair.b.problems, []);
});

test('settings: deleting the account names the consequences, needs the handle typed, then signs out everywhere', async () => {
  const page = pair.b.page;
  await page.getByTestId('open-settings').click();
  await page.getByTestId('delete-account').click();
  const text = await page.getByTestId('settings-account').innerText();
  for (const what of ['every device of it is signed out', 'you leave every room', 'cannot be undone']) assert.ok(text.includes(what), what);
  await page.getByTestId('delete-confirm').fill('not bob');
  await page.getByTestId('delete-account-yes').click();
  await page.getByTestId('delete-error').filter({ hasText: 'Type bob to confirm' }).waitFor();
  assert.equal((await pair.b.core.accounts.list()).length, 1, 'nothing deleted yet');
  await assertAccessible(page, 'delete confirmation');
  await screenshot(page, '157-delete-account');
  await page.getByTestId('delete-confirm').fill('bob');
  await page.getByTestId('delete-account-yes').click();
  await page.getByTestId('signin').waitFor({ timeout: WAIT });
  assert.deepEqual(await pair.b.core.accounts.list(), []);
  // The provider no longer knows bob: signing in again is refused.
  const embedded = pair.a.core.embedded!;
  const refused = await pair.b.core.accounts
    .login({ providerUrl: embedded.url, caPem: embedded.caPem, handle: 'bob', password: 'a new password 2' })
    .then(() => 'signed in', (e: Error) => e.message);
  assert.match(refused, /Wrong handle or password/);
});
