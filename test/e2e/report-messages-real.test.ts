// Reporting a message against the real core: two people on one provider (A's core runs the
// embedded provider, B signs up on it), each with their own core, bridge and browser page, as in
// room-settings-real.test.ts. alice writes spam in a room they share; bob reports it from the
// timeline (Report… on her message, "Spam or scam", a note); his core sends the message with the
// hub's frank, the hub verifies it and keeps the report in its abuse_reports table, which is read
// here: one message, bob as reporter, alice as the alleged abuser, reason 0xF1.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { REPORT_REASONS } from '../../src-shared/contract.js';
import { DB_FILE } from '../../src-provider/store.js';
import { withDb } from '../helpers/mimi-peer.js';
import { assertAccessible, closePair, eventually, openPairOnOneProvider, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 20_000;
const SPAM = REPORT_REASONS.find((r) => r.label === 'Spam or scam')!;

let pair: RealCorePair | undefined;
let a: RealCoreSide;
let b: RealCoreSide;

before(async () => {
  pair = await openPairOnOneProvider('report', { width: 1200, height: 860 });
  ({ a, b } = pair);
});

after(() => closePair(pair));

const roomByUri = (page: Page, uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);
const rowWith = (p: Page, text: string) => p.getByTestId('message-row').filter({ has: p.getByTestId('message-text').getByText(text, { exact: true }) });
const dialog = (p: Page) => p.getByRole('dialog', { name: /^Report messages from / });

test('report a message on the real core: the hub verifies it and keeps the report', async () => {
  assert.equal(SPAM.code, 0xf1);
  // --- two accounts on A's embedded provider, in one room ---
  await signUpPair({ a, b });
  const alice = (await a.core.accounts.list())[0];
  const bob = (await b.core.accounts.list())[0];

  await a.page.getByTestId('new-room').click();
  await a.page.getByTestId('new-room-name').fill('Market');
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Market' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('add-member-input').fill('bob');
  await a.page.getByTestId('add-member-submit').click();
  await eventually('bob in alice’s member list', async () => (await a.page.getByTestId('member-item').count()) === 2, WAIT);
  const roomUri = (await a.core.rooms.list(alice.id)).find((r) => r.name === 'Market')!.roomUri;
  await roomByUri(b.page, roomUri).click({ timeout: WAIT });
  await b.page.getByTestId('chat').waitFor();
  await eventually('bob’s composer usable', async () => !(await b.page.getByTestId('composer-input').isDisabled()), WAIT);

  // --- alice writes spam; it reaches bob ---
  const SPAM_TEXT = 'buy cheap followers at followers.example';
  const input = a.page.getByTestId('composer-input');
  await input.fill(SPAM_TEXT);
  await input.press('Enter');
  await rowWith(b.page, SPAM_TEXT).waitFor({ timeout: WAIT });
  // Not on one's own message.
  await eventually('alice’s message shown as sent', async () => (await rowWith(a.page, SPAM_TEXT).count()) === 1, WAIT);
  assert.equal(await rowWith(a.page, SPAM_TEXT).getByTestId('message-report').count(), 0, 'never on your own');

  // --- bob reports it ---
  const report = rowWith(b.page, SPAM_TEXT).getByTestId('message-report');
  await eventually('Report offered to bob', async () => (await report.count()) === 1, WAIT);
  await rowWith(b.page, SPAM_TEXT).hover();
  await report.click();
  await dialog(b.page).waitFor({ timeout: WAIT });
  const title = await dialog(b.page).getByRole('heading').first().innerText();
  assert.equal(title, 'Report messages from alice');
  const texts = await dialog(b.page).locator('.report-message-text').allInnerTexts();
  assert.deepEqual(texts, [SPAM_TEXT]);
  assert.ok(await dialog(b.page).getByRole('checkbox', { name: new RegExp(`${SPAM_TEXT}$`) }).isChecked());
  await dialog(b.page).getByLabel('Reason', { exact: true }).selectOption({ label: SPAM.label });
  const NOTE = 'Spam from a room member.\nPlease look into it.';
  await dialog(b.page).getByLabel('Note (optional)', { exact: true }).fill(NOTE);
  await assertAccessible(b.page, 'report dialog on the real core');
  await dialog(b.page).getByRole('button', { name: 'Report', exact: true }).click();

  const done = dialog(b.page).getByTestId('report-done');
  await Promise.race([
    done.waitFor({ timeout: WAIT }),
    dialog(b.page)
      .getByRole('alert')
      .waitFor({ timeout: WAIT })
      .then(async () => assert.fail(`the report was refused: ${await dialog(b.page).getByRole('alert').innerText()}`)),
  ]);
  assert.equal(await done.innerText(), 'Reported 1 message from alice to the room’s provider.');
  await assertAccessible(b.page, 'report sent on the real core');
  await screenshot(b.page, '116-report-real');

  // --- the hub (A's embedded provider) keeps it ---
  const rows = withDb(path.join(a.dir, 'provider', DB_FILE), (db) =>
    db.prepare('SELECT reporter, alleged, reason, note, messages, via_domain FROM abuse_reports WHERE room_uri = ?').all(roomUri),
  );
  assert.deepEqual(rows, [{ reporter: bob.userUri, alleged: alice.userUri, reason: 0xf1, note: NOTE, messages: 1, via_domain: null }]);

  await dialog(b.page).getByRole('button', { name: 'Close', exact: true }).click();
  await eventually('dialog gone', async () => (await dialog(b.page).count()) === 0, WAIT);

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
