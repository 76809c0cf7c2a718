// Profiles in rooms in real Chromium on two real cores (A's runs the embedded provider, bob signs up
// on it): alice sets her display name and picture in Settings; bob's core has them for their room
// (rooms.profiles) and his page shows them in the room's member list. bob's picture from before,
// kept in his window's storage only, is handed to his core once, then leaves the window's storage,
// and reaches alice too. axe-core on Settings and the member list, light and dark, and at 480 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair } from './browser.js';

const WAIT = 45_000;
const NAME = 'Alice Liddell';
let pair: RealCorePair;
let aliceId: string;
let bobId: string;
let aliceUri: string;
let bobUri: string;
let room: string;

/** A real PNG, w×h of one colour (checksums and all: Chromium decodes it). */
function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), ...Array.from({ length: w }, () => Buffer.from(rgb))]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(Array.from({ length: h }, () => row)))), chunk('IEND', Buffer.alloc(0))]);
}

const dataUrl = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;

before(async () => {
  pair = await openPairOnOneProvider('profiles', { width: 1280, height: 800 });
  await signUpPair(pair);
  const [alice] = await pair.a.core.accounts.list();
  const [bob] = await pair.b.core.accounts.list();
  aliceId = alice.id;
  bobId = bob.id;
  aliceUri = alice.userUri;
  bobUri = bob.userUri;
  room = (await pair.a.core.rooms.create(aliceId, 'Lunch', null)).roomUri;
  await pair.a.core.rooms.addMember(aliceId, room, 'bob');
  await pair.b.page.locator('[data-testid=room-item][data-room-name="Lunch"]').waitFor({ timeout: WAIT });
});

after(async () => {
  await closePair(pair);
});

/** The theme switches are further down: the screenshot is of the profile section. */
const showProfileSection = (page: Page) => page.getByTestId('settings-profile').evaluate((el) => el.scrollIntoView({ block: 'start' }));

async function openSettings(page: Page): Promise<void> {
  await page.getByTestId('open-settings').click();
  await page.getByTestId('settings-profile').waitFor();
}

test('alice sets her name and picture in Settings; bob sees them in the room (his core and his member list); axe light, dark, narrow', async () => {
  const page = pair.a.page;
  await openSettings(page);
  const settings = page.getByTestId('settings');
  await page.getByTestId('display-name').fill(NAME);
  await page.getByTestId('display-name-save').click();
  await settings.getByText('Display name saved.').waitFor();

  // A picture that is not one: refused, nothing kept.
  await page.getByTestId('avatar-file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await page.getByTestId('avatar-error').filter({ hasText: 'That file is not a picture' }).waitFor();
  assert.equal(await pair.a.core.people.avatar(aliceId), null);

  await page.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(300, 200, [200, 40, 90]) });
  await page.getByTestId('avatar-note').waitFor();
  const size = await page.getByTestId('avatar-image').evaluate((img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
  assert.deepEqual(size, [96, 96], 'cropped square and scaled down');
  const mine = await pair.a.core.people.avatar(aliceId);
  assert.match(mine ?? '', /^data:image\/png;base64,/, 'kept by the core');
  assert.equal(await page.evaluate((id) => localStorage.getItem(`mimi.avatar.${id}`), aliceId), null, 'not in the window');
  await page.getByTestId('head-avatar').waitFor();

  await page.getByTestId('theme-light').check();
  await assertAccessible(page, 'profile settings, light');
  await showProfileSection(page);
  await screenshot(page, '270-profile-settings-light');
  await page.getByTestId('theme-dark').check();
  await assertAccessible(page, 'profile settings, dark');
  await showProfileSection(page);
  await screenshot(page, '271-profile-settings-dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await assertAccessible(page, 'profile settings, dark, 480 px');
  await showProfileSection(page);
  await screenshot(page, '272-profile-settings-narrow');
  await page.getByTestId('theme-system').check();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.keyboard.press('Escape');

  // bob's core has them for the room, as alice shared them inside it.
  const at = await eventually('bob’s core has her profile', async () => {
    const p = (await pair.b.core.rooms.profiles(bobId, room))[aliceUri];
    return p?.displayName === NAME && p.avatar ? p : undefined;
  }, WAIT);
  assert.equal(at.avatar, mine);
  // Her own core shows her the same.
  assert.deepEqual((await pair.a.core.rooms.profiles(aliceId, room))[aliceUri], { displayName: NAME, avatar: mine });

  // bob's page: the member list shows her name and picture.
  const b = pair.b.page;
  await b.locator('[data-testid=room-item][data-room-name="Lunch"]').click();
  if (!(await b.getByTestId('member-list').isVisible())) await b.getByTestId('toggle-members').click();
  const row = b.getByTestId('member-item').filter({ hasText: NAME });
  await row.waitFor({ timeout: WAIT });
  assert.equal(await row.getByTestId('member-avatar').getAttribute('src'), mine);
  await assertAccessible(b, 'member list with profiles, light');
  await screenshot(b, '273-members-with-profiles');
  await b.evaluate(() => (document.documentElement.dataset.theme = 'dark'));
  await assertAccessible(b, 'member list with profiles, dark');
  await b.evaluate(() => delete document.documentElement.dataset.theme);
});

test("bob's picture from before, kept in his window only, moves into his core once and reaches alice", async () => {
  const b = pair.b.page;
  const old = dataUrl(png(64, 64, [20, 120, 200]));
  await b.evaluate(([id, url]) => localStorage.setItem(`mimi.avatar.${id}`, url), [bobId, old] as const);
  await b.reload();
  await b.getByTestId('head-avatar').waitFor({ timeout: WAIT });
  assert.equal(await b.getByTestId('head-avatar').getAttribute('src'), old);
  assert.equal(await pair.b.core.people.avatar(bobId), old, 'handed to the core');
  await eventually('the window forgets it', async () => (await b.evaluate((id) => localStorage.getItem(`mimi.avatar.${id}`), bobId)) === null);
  await eventually('alice’s core has it', async () => (await pair.a.core.rooms.profiles(aliceId, room))[bobUri]?.avatar === old, WAIT);

  // Removed in Settings: gone for alice too, and not handed over again after a reload.
  await openSettings(b);
  await b.getByTestId('avatar-remove').click();
  await b.getByTestId('avatar-note').filter({ hasText: 'Picture removed.' }).waitFor();
  await eventually('gone at alice', async () => (await pair.a.core.rooms.profiles(aliceId, room))[bobUri]?.avatar === undefined, WAIT);
  await b.reload();
  await b.getByTestId('active-account').waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await pair.b.core.people.avatar(bobId), null);
  assert.equal(await b.getByTestId('head-avatar').count(), 0);
  assert.deepEqual(pair.a.problems, []);
  assert.deepEqual(pair.b.problems, []);
});
