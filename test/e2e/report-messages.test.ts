// Reporting messages as a person does it: Report on someone else's message (never on your own,
// never where the room policy withholds canReportAbuse), a dialog listing that sender's messages
// with the clicked one checked, more added, a reason and a note; what reaches the core is exactly
// the ids, the reason's code and the note; a refusal shows in the dialog with what to do; the
// keyboard stays in the dialog and Escape leaves it; light, dark and narrow pass axe. The core
// behind the (real) bridge is an in-memory MimiApi checking reports as the core does.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { CoreError, REPORT_REASONS, type CoreEvent, type MessageView, type MimiApi, type RoomView } from '../../src-shared/contract.js';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { assertAccessible, collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import {
  localAccount,
  messageReports,
  noMinimalMetadataRooms,
  quietConsentAndPeople,
  quietLinksAndKnocks,
  quietPseudonymsAndConnections,
  signedInAs,
  unmanagedRoomSettings,
  type MessageReportArgs,
  muteNotInFixture,
  messageActionsNotInFixture,
} from './stub-domains.js';

const ME = 'mimi://localhost/u/alice';
const BOB = 'mimi://localhost/u/bob';
const CARL = 'mimi://localhost/u/carl';
const LUNCH = 'mimi://localhost/r/lunch';
const QUIET = 'mimi://localhost/r/quiet';
const ACCT = 'acct-alice';
const id = (seq: number) => seq.toString(16).padStart(64, '0');
const HARASS = REPORT_REASONS.find((r) => r.label === 'Harassment or threats')!;

function fakeCore() {
  const listeners = new Set<(e: CoreEvent) => void>();
  const reports: MessageReportArgs[] = [];
  const start = Date.now() - 60 * 60_000;
  let seq = 0;
  const said = (roomUri: string, sender: string, text: string, over: Partial<MessageView> = {}): MessageView => {
    seq++;
    return { seq, messageId: id(seq), roomUri, sender, text, contentType: 'text/plain', timestamp: start + seq * 60_000, status: sender === ME ? 'sent' : 'received', ...over };
  };
  // Lunch: bob writes 18 messages (one of them edited), alice and carl answer in between.
  const lunch: MessageView[] = [said(LUNCH, ME, 'Lunch at noon?'), said(LUNCH, CARL, 'Sounds good to me')];
  for (let i = 1; i <= 18; i++) lunch.push(said(LUNCH, BOB, `bob says ${i}`));
  const edited = lunch.find((m) => m.text === 'bob says 17')!;
  lunch.push(said(LUNCH, BOB, 'bob says 17, but worse', { replaces: edited.messageId }));
  lunch.push(said(LUNCH, ME, 'Please stop, bob.'));
  const quiet: MessageView[] = [said(QUIET, BOB, 'Nobody reports here'), said(QUIET, ME, 'Fine by me')];
  const history: Record<string, MessageView[]> = { [LUNCH]: lunch, [QUIET]: quiet };

  const rooms: RoomView[] = [
    { roomUri: LUNCH, name: 'Lunch', hubDomain: 'localhost', members: [ME, BOB, CARL], unread: 0, epoch: '3' },
    { roomUri: QUIET, name: 'Quiet', hubDomain: 'localhost', members: [ME, BOB], unread: 0, epoch: '1' },
  ];
  /** Lunch's policy may take canReportAbuse away without this device hearing of it; Quiet never gives it. */
  let lunchReporting = true;
  const mayReport = (roomUri: string) => roomUri === LUNCH && lunchReporting;
  let failNext: CoreError | undefined;

  const account = () => localAccount({ id: ACCT, userUri: ME, handle: 'alice' });
  const plain = unmanagedRoomSettings((roomUri) => rooms.find((r) => r.roomUri === roomUri));
  const checked = messageReports({ messagesOf: (roomUri) => history[roomUri], mayReport: (_a, roomUri) => mayReport(roomUri), taken: (args) => reports.push(args) });
  const core: MimiApi = {
    ...signedInAs(account),
    rooms: {
      list: async () => rooms,
      create: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      addMember: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      join: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      leave: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      ...muteNotInFixture,
      markRead: async () => undefined,
      ...plain,
      settings: async (a, roomUri) => ({ ...(await plain.settings(a, roomUri)), canReportAbuse: mayReport(roomUri) }),
      ...noMinimalMetadataRooms,
    },
    messages: {
      ...messageActionsNotInFixture,
      page: async (_a, roomUri, beforeSeq, limit) =>
        (history[roomUri] ?? [])
          .filter((m) => beforeSeq === null || m.seq < beforeSeq)
          .slice(-limit)
          .reverse(),
      send: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      report: async (...args) => {
        const failure = failNext;
        failNext = undefined;
        if (failure) throw failure;
        return checked.report(...args);
      },
    },
    ...quietConsentAndPeople(ME, 'alice'),
    ...quietPseudonymsAndConnections(),
    ...quietLinksAndKnocks(),
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return {
    core,
    reports,
    idOf: (text: string) => lunch.find((m) => m.text === text)!.messageId,
    editOf: edited,
    edit: lunch.find((m) => m.replaces)!,
    failNextReport(e: CoreError) {
      failNext = e;
    },
    /** alice's role loses canReportAbuse in Lunch (or gets it back) without this device hearing of it. */
    setReportingSilently(on: boolean) {
      lunchReporting = on;
    },
  };
}

let browser: Browser;
let bridge: Bridge;
let page: Page;
let problems: string[];
const fixture = fakeCore();
let session: FakeCoreSession | undefined;

before(async () => {
  session = await openOnFakeCore(fixture.core, { width: 1100, height: 820 });
  ({ browser, bridge, page, problems } = session);
});

after(async () => {
  await session?.close();
});

const rowWith = (p: Page, text: string) => p.getByTestId('message-row').filter({ has: p.getByTestId('message-text').getByText(text, { exact: true }) });
const dialog = (p: Page) => p.getByRole('dialog', { name: 'Report messages from bob' });
const box = (p: Page, text: string) => dialog(p).getByRole('checkbox', { name: new RegExp(`${text}$`) });
const isFocused = (l: ReturnType<Page['locator']>) => l.evaluate((el) => el === document.activeElement);

async function openRoom(p: Page, name: string): Promise<void> {
  await p.locator(`[data-testid=room-item][data-room-name="${name}"]`).click();
  await p.getByTestId('room-title').filter({ hasText: name }).waitFor();
}

test('Report is offered on others’ messages only, once the policy is known to allow it', async () => {
  await page.goto(bridge.url);
  await openRoom(page, 'Lunch');
  await rowWith(page, 'Please stop, bob.').waitFor();
  await eventually('Report offered', async () => (await rowWith(page, 'bob says 18').getByTestId('message-report').count()) === 1);
  assert.equal(await rowWith(page, 'Sounds good to me').getByTestId('message-report').count(), 1, 'carl’s messages too');
  assert.equal(await rowWith(page, 'Please stop, bob.').getByTestId('message-report').count(), 0, 'never on your own');
  assert.equal(await rowWith(page, 'Lunch at noon?').getByTestId('message-report').count(), 0);

  // Hidden until pointed at (or focused), and showing it does not change the row's height.
  const report = rowWith(page, 'bob says 18').getByTestId('message-report');
  const height = await rowWith(page, 'bob says 18').evaluate((el) => el.getBoundingClientRect().height);
  assert.equal(await report.evaluate((el) => getComputedStyle(el.parentElement!).opacity), '0');
  await rowWith(page, 'bob says 18').hover();
  assert.equal(await report.evaluate((el) => getComputedStyle(el.parentElement!).opacity), '1');
  assert.equal(await rowWith(page, 'bob says 18').evaluate((el) => el.getBoundingClientRect().height), height);
  assert.match((await report.getAttribute('aria-label')) ?? '', /^Report message from bob at \d/);
  await screenshot(page, '115-report-on-message');
  await assertAccessible(page, 'timeline with Report');
});

test('the dialog: clicked message checked, another added, reason and note; the core gets exactly those; a confirmation follows', async () => {
  const report = rowWith(page, 'bob says 16').getByTestId('message-report');
  await report.click();
  await dialog(page).waitFor();
  assert.match(await dialog(page).getByTestId('report-what').innerText(), /The selected messages, with the hub’s stamp proving who sent them, go to the room’s provider \(localhost\).*Nobody else sees them\./);

  // bob's 18 messages: the 16 around the clicked one, only bob's, the clicked one checked and focused.
  const texts = await dialog(page).locator('.report-message-text').allInnerTexts();
  assert.equal(texts.length, 16);
  assert.ok(texts.every((t) => t.startsWith('bob says')), texts.join(' | '));
  assert.ok(texts.includes('bob says 16') && texts.includes('bob says 18'));
  assert.ok(texts.includes('bob says 17, but worse'), 'an edited message reads as in the timeline');
  assert.deepEqual(await dialog(page).getByTestId('report-message').evaluateAll((els) => els.filter((e) => (e as HTMLInputElement).checked).length), 1);
  assert.ok(await box(page, 'bob says 16').isChecked());
  assert.ok(await isFocused(box(page, 'bob says 16')));
  assert.match(await dialog(page).getByText(/edited, sent with its edit/).innerText(), /edited, sent with its edit/);
  await assertAccessible(page, 'report dialog, light');

  await box(page, 'bob says 14').check();
  await dialog(page).getByLabel('Reason', { exact: true }).selectOption({ label: HARASS.label });
  const NOTE = 'He kept this up all lunch.\nSecond line stays.';
  await dialog(page).getByLabel('Note (optional)', { exact: true }).fill(NOTE);
  assert.equal(await dialog(page).getByTestId('report-count').innerText(), '2 selected.');
  await screenshot(page, '110-report-messages-dialog');
  await dialog(page).getByRole('button', { name: 'Report', exact: true }).click();

  const done = dialog(page).getByTestId('report-done');
  await done.waitFor();
  assert.equal(await done.innerText(), 'Reported 2 messages from bob to the room’s provider.');
  assert.deepEqual(fixture.reports, [[ACCT, LUNCH, [fixture.idOf('bob says 14'), fixture.idOf('bob says 16')], HARASS.code, NOTE]]);
  const close = dialog(page).getByRole('button', { name: 'Close', exact: true });
  assert.ok(await isFocused(close));
  await assertAccessible(page, 'report sent');
  await screenshot(page, '111-report-messages-done');
  await close.click();
  await eventually('dialog gone', async () => (await dialog(page).count()) === 0);
  assert.ok(await isFocused(report), 'the keyboard is back on the Report it came from');
});

test('an edited message is sent with its edit; nothing checked is caught before sending', async () => {
  await rowWith(page, 'bob says 17, but worse').getByTestId('message-report').click();
  await dialog(page).waitFor();
  assert.ok(await box(page, 'bob says 17, but worse').isChecked());
  await box(page, 'bob says 17, but worse').uncheck();
  await dialog(page).getByRole('button', { name: 'Report', exact: true }).click();
  assert.equal(await dialog(page).getByRole('alert').innerText(), 'Check at least one message to report.');
  assert.equal(fixture.reports.length, 1);

  await box(page, 'bob says 17, but worse').check();
  assert.equal(await dialog(page).getByRole('alert').count(), 0, 'the problem goes with what caused it');
  await dialog(page).getByRole('button', { name: 'Report', exact: true }).click();
  await dialog(page).getByTestId('report-done').waitFor();
  assert.deepEqual(fixture.reports.at(-1), [ACCT, LUNCH, [fixture.editOf.messageId, fixture.edit.messageId], 0, '']);
  await page.keyboard.press('Escape');
  await eventually('dialog gone', async () => (await dialog(page).count()) === 0);
});

test('at most 16 messages: with everything checked, the one that would go over is greyed out and the dialog says why', async () => {
  await rowWith(page, 'bob says 18').getByTestId('message-report').click();
  await dialog(page).waitFor();
  const boxes = dialog(page).getByTestId('report-message');
  for (let i = 0; i < (await boxes.count()); i++) if (await boxes.nth(i).isEnabled()) await boxes.nth(i).check();
  // 16 listed; the edited one counts twice, so 15 fit.
  assert.equal(await boxes.evaluateAll((els) => els.filter((e) => (e as HTMLInputElement).checked).length), 15);
  assert.equal(await boxes.evaluateAll((els) => els.filter((e) => (e as HTMLInputElement).disabled).length), 1);
  assert.match(await dialog(page).getByTestId('report-limit').innerText(), /at most 16 messages/);
  await dialog(page).getByRole('button', { name: 'Cancel', exact: true }).click();
  await eventually('dialog gone', async () => (await dialog(page).count()) === 0);
});

test('the keyboard: Tab stays in the dialog, Escape closes it without sending', async () => {
  const report = rowWith(page, 'bob says 10').getByTestId('message-report');
  await report.focus();
  await page.keyboard.press('Enter');
  await dialog(page).waitFor();
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    assert.ok(await dialog(page).evaluate((el) => el.contains(document.activeElement)), `Tab ${i + 1} left the dialog`);
  }
  await page.keyboard.press('Shift+Tab');
  assert.ok(await dialog(page).evaluate((el) => el.contains(document.activeElement)));
  const before = fixture.reports.length;
  await page.keyboard.press('Escape');
  await eventually('dialog gone', async () => (await dialog(page).count()) === 0);
  assert.ok(await isFocused(report));
  assert.equal(fixture.reports.length, before);
});

test('refusals show in the dialog with what to do; a policy refusal takes Report away', async () => {
  fixture.failNextReport(new CoreError('providerUnreachable', 'The hub localhost did not answer. Try again in a moment.'));
  await rowWith(page, 'bob says 12').getByTestId('message-report').click();
  await dialog(page).waitFor();
  await dialog(page).getByLabel('Note (optional)', { exact: true }).fill('first try');
  await dialog(page).getByRole('button', { name: 'Report', exact: true }).click();
  const alert = dialog(page).getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.innerText(), 'The hub localhost did not answer. Try again in a moment.');
  assert.equal(await dialog(page).getByLabel('Note (optional)', { exact: true }).inputValue(), 'first try', 'what was typed stays for the retry');
  assert.ok(await isFocused(dialog(page).getByRole('button', { name: 'Report', exact: true })));
  await screenshot(page, '112-report-messages-refused');

  // Meanwhile the role lost canReportAbuse: the core's refusal names it, and Report leaves the timeline.
  fixture.setReportingSilently(false);
  const reported = fixture.reports.length;
  await dialog(page).getByRole('button', { name: 'Report', exact: true }).click();
  await eventually('policy refusal shown', async () => (await alert.innerText()) === 'Cannot report bob@localhost: your role lacks canReportAbuse.');
  assert.equal(fixture.reports.length, reported);
  await dialog(page).getByRole('button', { name: 'Cancel', exact: true }).click();
  await eventually('Report no longer offered', async () => (await page.getByTestId('message-report').count()) === 0);
  // The focus moves once the timeline has re-rendered without the button (a frame later under load).
  await eventually('with its button gone, the keyboard lands on the timeline', () => page.getByTestId('timeline').evaluate((el) => el === document.activeElement));
});

test('not offered where the policy withholds canReportAbuse', async () => {
  await openRoom(page, 'Quiet');
  await rowWith(page, 'Nobody reports here').waitFor();
  await page.waitForTimeout(300); // the settings have had their chance to load
  assert.equal(await page.getByTestId('message-report').count(), 0);
  assert.deepEqual(problems, []);
});

for (const scheme of ['light', 'dark'] as const) {
  test(`${scheme}, 480px wide: Report and the dialog fit the window and pass axe`, async () => {
    fixture.setReportingSilently(true);
    const ctx = await browser.newContext({ viewport: { width: 480, height: 760 }, colorScheme: scheme });
    const p = await ctx.newPage();
    const pageProblems = collectPageProblems(p);
    try {
      await p.goto(bridge.url);
      await openRoom(p, 'Lunch');
      const row = rowWith(p, 'bob says 18');
      await eventually('Report offered', async () => (await row.getByTestId('message-report').count()) === 1);
      await row.hover();
      await assertAccessible(p, `${scheme}, narrow: timeline with Report`);
      const button = await row.getByTestId('message-report').boundingBox();
      assert.ok(button && button.x + button.width <= 480, `Report is inside the window (${JSON.stringify(button)})`);
      await row.getByTestId('message-report').click();
      await dialog(p).waitFor();
      await box(p, 'bob says 17, but worse').check();
      await dialog(p).getByLabel('Reason', { exact: true }).selectOption({ label: 'Spam or scam' });
      const d = await dialog(p).boundingBox();
      assert.ok(d && d.x >= 0 && d.x + d.width <= 480, `the dialog fits (${JSON.stringify(d)})`);
      assert.equal(await p.evaluate(() => document.documentElement.scrollWidth), 480, 'nothing runs past the window');
      await assertAccessible(p, `${scheme}, narrow: report dialog`);
      await screenshot(p, scheme === 'light' ? '113-report-messages-narrow' : '114-report-messages-dark-narrow');
      await p.keyboard.press('Escape');
      await eventually('dialog gone', async () => (await dialog(p).count()) === 0);
      assert.deepEqual(pageProblems, []);
    } finally {
      await ctx.close();
    }
  });
}
