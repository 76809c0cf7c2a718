// Room settings against the real core: two people on one provider (A's core runs the embedded
// provider, B signs up on it), each with their own core, bridge and browser page, as in
// two-users.test.ts. Roles from a cooperative room's state in both member lists, a rename and a
// description reaching the other member (who may rename but sees the description read-only), no
// Ban/Kick against a group_admin for an ordinary_user (but Report, which reaches the hub with its
// note), a promotion seen on both pages, a ban (the
// banned user's page says they are out, and "Join again" is refused by the hub), an unban and an
// add that bring them back, writable, with a message arriving.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { DB_FILE } from '../../src-provider/store.js';
import { withDb } from '../helpers/mimi-peer.js';
import { closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 20_000;

let pair: RealCorePair | undefined;
let a: RealCoreSide;
let b: RealCoreSide;

before(async () => {
  pair = await openPairOnOneProvider('settings', { width: 1280, height: 860 });
  ({ a, b } = pair);
});

after(() => closePair(pair));

const roomByUri = (page: Page, uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);
const panel = (page: Page) => page.getByTestId('room-settings');
const row = (page: Page, user: string) => panel(page).locator(`[data-testid=room-member][data-user="${user}"]`);
const roleIn = (page: Page, user: string) => row(page, user).getAttribute('data-role', { timeout: 1_000 });
const messageText = (page: Page, text: string) => page.locator('[data-testid=message-text]', { hasText: text });

async function openSettings(page: Page): Promise<void> {
  if ((await panel(page).count()) === 0) await page.getByRole('button', { name: 'Room settings', exact: true }).click();
  await panel(page).getByTestId('my-role').waitFor({ timeout: WAIT });
}

test('room settings on the real core: roles, metadata, promotion, ban, unban and add again', async () => {
  // --- two accounts on A's embedded provider ---
  await signUpPair({ a, b });
  const alice = (await a.core.accounts.list())[0];
  const bob = (await b.core.accounts.list())[0];
  const ALICE = alice.userUri;
  const BOB = bob.userUri;

  // --- 1. alice creates a room (cooperative, the default) and adds bob; bob's page shows it ---
  await a.page.getByTestId('new-room').click();
  assert.equal(await a.page.getByLabel('Who can do what', { exact: true }).inputValue(), 'cooperative');
  await a.page.getByTestId('new-room-name').fill('Lunch');
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await eventually('bob in alice’s member list', async () => (await a.page.getByTestId('member-item').count()) === 2, WAIT);
  const roomUri = (await a.core.rooms.list(alice.id)).find((r) => r.name === 'Lunch')!.roomUri;
  await roomByUri(b.page, roomUri).click({ timeout: WAIT });
  await b.page.getByTestId('chat').waitFor();

  // --- 2. alice's settings: roles; she renames the room and describes it ---
  await openSettings(a.page);
  assert.equal(await a.page.getByTestId('my-role').innerText(), 'Your role: Admin');
  await eventually('roles in alice’s settings', async () => (await roleIn(a.page, ALICE)) === 'group_admin' && (await roleIn(a.page, BOB)) === 'ordinary_user', WAIT);
  assert.equal(await a.page.getByTestId('room-members').getByTestId('room-member').count(), 2);
  assert.equal(await a.page.getByTestId('room-banned').count(), 0);
  // A group_admin may act on an ordinary_user.
  for (const id of ['member-kick', 'member-remove', 'member-ban', 'member-role-select']) assert.equal(await row(a.page, BOB).getByTestId(id).count(), 1, `${id} offered on bob`);
  await panel(a.page).getByLabel('Name', { exact: true }).fill('Team lunch');
  await panel(a.page).getByLabel('Description', { exact: true }).fill('Where and when we eat');
  await panel(a.page).getByTestId('room-meta-save').click();
  await panel(a.page).getByTestId('room-meta-saved').filter({ hasText: /^Saved/ }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('room-title').filter({ hasText: 'Team lunch' }).waitFor({ timeout: WAIT });
  await screenshot(a.page, '40-real-room-settings-alice');

  // bob sees the new name in the header and in the list; his settings show the description as
  // text (ordinary_user lacks canChangeRoomDescription) and the name as a field he may edit.
  await b.page.getByTestId('room-title').filter({ hasText: 'Team lunch' }).waitFor({ timeout: WAIT });
  await eventually('new name in bob’s room list', async () => (await roomByUri(b.page, roomUri).getAttribute('data-room-name')) === 'Team lunch', WAIT);
  await openSettings(b.page);
  assert.equal(await b.page.getByTestId('my-role').innerText(), 'Your role: Member');
  await eventually('description read-only for bob', async () => (await panel(b.page).getByTestId('room-meta-description-readonly').innerText()) === 'Where and when we eat', WAIT);
  assert.equal(await panel(b.page).getByRole('textbox', { name: 'Description', exact: true }).count(), 0);
  const bobName = panel(b.page).getByRole('textbox', { name: 'Name', exact: true });
  assert.equal(await bobName.inputValue(), 'Team lunch');
  assert.ok(await bobName.isEditable(), 'an ordinary_user may rename');

  // --- 3. bob (ordinary_user) is offered no Ban/Kick/role change against alice (group_admin) ---
  assert.equal(await roleIn(b.page, ALICE), 'group_admin');
  assert.equal(await roleIn(b.page, BOB), 'ordinary_user');
  for (const id of ['member-kick', 'member-ban', 'member-remove', 'member-role-select']) assert.equal(await row(b.page, ALICE).getByTestId(id).count(), 0, `no ${id} on alice for bob`);
  // ...but he may report her (a cooperative ordinary_user has canReportAbuse); never himself.
  assert.deepEqual(await row(b.page, ALICE).getByRole('button').allInnerTexts(), ['Report']);
  assert.equal(await row(b.page, BOB).getByRole('button').count(), 0);
  await screenshot(b.page, '41-real-room-settings-bob');
  const NOTE = 'Renamed the room\nwithout asking';
  await row(b.page, ALICE).getByRole('button', { name: 'Report alice', exact: true }).click();
  await row(b.page, ALICE).getByRole('textbox', { name: 'What happened?', exact: true }).fill(NOTE);
  await row(b.page, ALICE).getByRole('button', { name: 'Send report', exact: true }).click();
  await row(b.page, ALICE).getByRole('status').filter({ hasText: 'Reported to the room’s provider.' }).waitFor({ timeout: WAIT });
  assert.equal(await row(b.page, ALICE).getByRole('alert').count(), 0);
  // The room's hub (A's embedded provider) keeps it for its operator, note and all.
  const hubReports = withDb(path.join(a.dir, 'provider', DB_FILE), (db) => db.prepare('SELECT reporter, alleged, note FROM abuse_reports WHERE room_uri = ?').all(roomUri));
  assert.deepEqual(hubReports, [{ reporter: BOB, alleged: ALICE, note: NOTE }]);

  // --- 4. alice promotes bob to group_admin; both pages show it ---
  await row(a.page, BOB).getByTestId('member-role-select').selectOption({ label: 'Admin' });
  await row(a.page, BOB).getByTestId('member-role-set').click();
  await eventually('bob group_admin on alice’s page', async () => (await roleIn(a.page, BOB)) === 'group_admin', WAIT);
  await eventually('bob group_admin on bob’s page', async () => (await roleIn(b.page, BOB)) === 'group_admin', WAIT);
  await eventually('bob’s own role', async () => (await b.page.getByTestId('my-role').innerText()) === 'Your role: Admin', WAIT);
  // Now he may change the description too.
  await panel(b.page).getByRole('textbox', { name: 'Description', exact: true }).waitFor({ timeout: WAIT });
  assert.equal(await row(a.page, BOB).getByTestId('member-action-error').count(), 0);

  // --- 5. alice bans bob: he is out, the hub refuses his rejoin, alice sees him under Banned ---
  await row(a.page, BOB).getByTestId('member-ban').click();
  await row(a.page, BOB).getByTestId('member-confirm').click();
  const banned = a.page.getByTestId('room-banned');
  await banned.locator(`[data-testid=room-member][data-user="${BOB}"]`).waitFor({ timeout: WAIT });
  assert.match(await panel(a.page).getByRole('heading', { name: /Banned/ }).innerText(), /Banned \(1\)/);
  assert.equal(await roleIn(a.page, BOB), 'banned');
  // Unban is offered, Ban and Kick are not (whether Remove is, is left to room-view.ts).
  assert.equal(await row(a.page, BOB).getByTestId('member-unban').count(), 1);
  for (const id of ['member-ban', 'member-kick', 'member-role-select']) assert.equal(await row(a.page, BOB).getByTestId(id).count(), 0, `no ${id} on banned bob`);
  assert.equal(await row(a.page, BOB).getByTestId('member-action-error').count(), 0);
  await screenshot(a.page, '42-real-room-settings-banned');

  await b.page.getByTestId('room-left').waitFor({ timeout: WAIT });
  // Out of the room, it keeps the shared name it last had (not "Empty room").
  await b.page.getByTestId('room-title').filter({ hasText: 'Team lunch' }).waitFor({ timeout: WAIT });
  assert.equal(await roomByUri(b.page, roomUri).getAttribute('data-room-name'), 'Team lunch');
  assert.equal(await panel(b.page).count(), 0, 'the settings close for someone out of the room');
  assert.equal(await b.page.getByTestId('composer-input').isDisabled(), true);
  await b.page.getByTestId('rejoin-room').click();
  const refusal = b.page.getByTestId('room-left').getByRole('alert');
  await refusal.waitFor({ timeout: WAIT });
  assert.match(await refusal.innerText(), /You are banned from this room/);
  assert.equal(await b.page.getByTestId('room-left').count(), 1, 'still out');
  await screenshot(b.page, '43-real-rejoin-refused');

  // --- 6. alice unbans bob and adds him again; he can write, and her message reaches him ---
  await row(a.page, BOB).getByTestId('member-unban').click();
  await eventually('banned group gone', async () => (await banned.count()) === 0, WAIT);
  await eventually('bob back on the list as ordinary_user', async () => (await roleIn(a.page, BOB)) === 'ordinary_user', WAIT);
  await row(a.page, BOB).getByTestId('room-member-inactive').waitFor({ timeout: WAIT });
  // Adding is done from the member list, which the settings panel takes the place of.
  await panel(a.page).getByTestId('room-settings-close').click();
  await a.page.getByTestId('member-list').waitFor();
  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await eventually('bob in alice’s member list again', async () => (await a.page.getByTestId('member-item').count()) === 2, WAIT);
  assert.equal(await a.page.getByTestId('add-member-error').count(), 0);

  await eventually('bob a member again', async () => (await b.page.getByTestId('room-left').count()) === 0, WAIT);
  await eventually('bob’s composer usable', async () => !(await b.page.getByTestId('composer-input').isDisabled()), WAIT);
  const input = a.page.getByTestId('composer-input');
  await input.fill('Welcome back, Bob');
  await input.press('Enter');
  await messageText(b.page, 'Welcome back, Bob').waitFor({ timeout: WAIT });
  await openSettings(b.page);
  await eventually('bob ordinary_user on his page', async () => (await roleIn(b.page, BOB)) === 'ordinary_user', WAIT);
  await screenshot(b.page, '44-real-added-again-bob');

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
