// Receipts, typing and shared names in the timeline, as people see them: each of your own messages
// shows how far it got (sending, sent, delivered, read; by whom in a group, on hover and focus and
// in its menu's Receipts… dialog), the line above the composer says who is typing (without moving
// anything), your own typing reaches the core at most every few seconds and is taken back when the
// text goes, and senders read by the display name and picture they share in the room, the handle
// kept for the tooltip and screen readers. Then the same screen in German. The core behind the
// (real) bridge is an in-memory MimiApi whose events (message, typing, profiles) the test sends.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { CoreError, type MessageView, type MimiApi, type RoomView } from '../../src-shared/contract.js';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { assertAccessible, collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import {
  eventHub,
  localAccount,
  messageActionsNotInFixture,
  messageReports,
  muteNotInFixture,
  noMinimalMetadataRooms,
  quietConsentAndPeople,
  quietLinksAndKnocks,
  quietPseudonymsAndConnections,
  signedInAs,
  unmanagedRoomSettings,
} from './stub-domains.js';

const ME = 'mimi://localhost/u/alice';
const BOB = 'mimi://localhost/u/bob';
const CARL = 'mimi://localhost/u/carl';
const DANA = 'mimi://localhost/u/dana';
const TEAM = 'mimi://localhost/r/team';
const PAIR = 'mimi://localhost/r/pair';
const ACCT = 'acct-alice';
const PNG_1PX = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const id = (seq: number) => seq.toString(16).padStart(64, '0');

function fakeCore() {
  const hub = eventHub();
  const start = Date.now() - 30 * 60_000;
  let seq = 0;
  const said = (roomUri: string, sender: string, text: string, over: Partial<MessageView> = {}): MessageView => {
    seq++;
    return { seq, messageId: id(seq), roomUri, sender, text, contentType: 'text/plain', timestamp: start + seq * 60_000, status: sender === ME ? 'sent' : 'received', ...over };
  };
  const team: MessageView[] = [
    said(TEAM, BOB, 'Morning all'),
    { ...said(TEAM, '', 'alice added dana'), event: { kind: 'added', by: ME, user: DANA }, contentType: 'application/x-mimi-timeline-event' },
    said(TEAM, ME, 'Coffee at ten?', { receipts: { delivered: [CARL], read: [BOB], of: 3 } }),
    said(TEAM, ME, 'Bring cups', { receipts: { delivered: [], read: [], of: 3 } }),
    said(TEAM, CARL, 'notes.pdf', { attachment: { filename: 'notes.pdf', contentType: 'application/pdf', size: 123_456, image: false } }),
    said(TEAM, ME, 'On my way', { status: 'pending', timestamp: Date.now() }),
  ];
  const pair: MessageView[] = [said(PAIR, BOB, 'Hi'), said(PAIR, ME, 'Hello bob', { receipts: { delivered: [BOB], read: [], of: 1 } })];
  const history: Record<string, MessageView[]> = { [TEAM]: team, [PAIR]: pair };
  const rooms: RoomView[] = [
    { roomUri: TEAM, name: 'Team', hubDomain: 'localhost', members: [ME, BOB, CARL, DANA], unread: 0, epoch: '4' },
    { roomUri: PAIR, name: 'Pair', hubDomain: 'localhost', members: [ME, BOB], unread: 0, epoch: '1' },
  ];
  const typingCalls: Array<[string, boolean]> = [];
  let profileCalls = 0;
  const account = () => localAccount({ id: ACCT, userUri: ME, handle: 'alice' });
  const core: MimiApi = {
    ...signedInAs(account),
    rooms: {
      list: async () => rooms,
      create: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      addMember: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      join: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      leave: async () => Promise.reject(new CoreError('internal', 'not in this fixture')),
      ...muteNotInFixture,
      // bob shares a name and a picture in Team; in Pair the core is not ready yet (a placeholder that throws).
      profiles: async (_a, roomUri) => {
        profileCalls++;
        if (roomUri === PAIR) throw new CoreError('internal', 'Not built yet.');
        return { [BOB]: { displayName: 'Bob Builder', avatar: PNG_1PX } };
      },
      markRead: async () => undefined,
      ...unmanagedRoomSettings((roomUri) => rooms.find((r) => r.roomUri === roomUri)),
      ...noMinimalMetadataRooms,
    },
    messages: {
      ...messageActionsNotInFixture,
      typing: async (_a, roomUri, on) => {
        typingCalls.push([roomUri, on]);
      },
      page: async (_a, roomUri, beforeSeq, limit) =>
        (history[roomUri] ?? [])
          .filter((m) => beforeSeq === null || m.seq < beforeSeq)
          .slice(-limit)
          .reverse(),
      send: async (_a, roomUri, text) => {
        const m = said(roomUri, ME, text, { timestamp: Date.now(), receipts: { delivered: [], read: [], of: roomUri === TEAM ? 3 : 1 } });
        history[roomUri].push(m);
        return m;
      },
      ...messageReports({ messagesOf: (roomUri) => history[roomUri], mayReport: () => false }),
    },
    ...quietConsentAndPeople(ME, 'alice'),
    ...quietPseudonymsAndConnections(),
    ...quietLinksAndKnocks(),
    onEvent: hub.onEvent,
  };
  return {
    core,
    typingCalls,
    profileCalls: () => profileCalls,
    /** A receipt (or any change) on one of the messages arrives. */
    update(text: string, over: Partial<MessageView>) {
      const list = Object.values(history).find((l) => l.some((m) => m.text === text))!;
      const i = list.findIndex((m) => m.text === text);
      list[i] = { ...list[i], ...over };
      hub.emit({ type: 'message', accountId: ACCT, message: { ...list[i], changed: true } });
    },
    typing(roomUri: string, users: string[]) {
      hub.emit({ type: 'typing', accountId: ACCT, roomUri, users });
    },
    profiles(roomUri: string, profiles: Record<string, { displayName?: string; avatar?: string }>) {
      hub.emit({ type: 'profiles', accountId: ACCT, roomUri, profiles });
    },
  };
}

let session: FakeCoreSession | undefined;
let bridge: Bridge;
let page: Page;
let browser: Browser;
let problems: string[];
const fixture = fakeCore();

before(async () => {
  session = await openOnFakeCore(fixture.core, { width: 1100, height: 800 });
  ({ bridge, page, problems, browser } = session);
});
after(async () => {
  await session?.close();
});

const messageWith = (p: Page, text: string) => p.getByTestId('message').filter({ has: p.getByTestId('message-text').getByText(text, { exact: true }) });
const receiptOf = (p: Page, text: string) => messageWith(p, text).getByTestId('message-receipt');
const openRoom = async (p: Page, name: string) => {
  await p.locator(`[data-testid=room-item][data-room-name="${name}"]`).click();
  await p.getByTestId('room-title').filter({ hasText: name }).waitFor();
};

async function accessibleEverywhere(p: Page, what: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme: scheme });
    await assertAccessible(p, `${what} (${scheme})`);
  }
  await p.emulateMedia({ colorScheme: 'light' });
}

test('own messages show how far they got; senders read by their shared name and picture', async () => {
  await page.goto(bridge.url);
  await openRoom(page, 'Team');
  await messageWith(page, 'Coffee at ten?').waitFor();

  // bob shares "Bob Builder" and a picture: the timeline names him so, the handle stays within reach.
  const bobMsg = messageWith(page, 'Morning all');
  const sender = bobMsg.getByTestId('message-sender');
  await eventually('the shared name', async () => (await sender.innerText()).startsWith('Bob Builder'));
  assert.match((await sender.getAttribute('title')) ?? '', /Bob Builder \(bob\)/);
  assert.match((await bobMsg.getAttribute('aria-label')) ?? '', /^Bob Builder \(bob\) at /);
  assert.equal(await bobMsg.getByTestId('message-sender-avatar').getAttribute('src'), PNG_1PX);
  // carl shares nothing: his handle, no picture.
  const carlMsg = page.getByTestId('message').filter({ hasText: 'notes.pdf' }).first();
  assert.equal(await page.getByTestId('message-sender').filter({ hasText: /^carl$/ }).count(), 1);
  assert.equal(await carlMsg.getByTestId('message-sender-avatar').count(), 0);

  // Read by bob (of three others), sent, sending: in shapes and in words.
  assert.equal(await receiptOf(page, 'Coffee at ten?').getAttribute('data-state'), 'readSome');
  assert.equal(await receiptOf(page, 'Coffee at ten?').getAttribute('title'), 'Read by Bob Builder');
  assert.equal(await receiptOf(page, 'Coffee at ten?').locator('.receipt-count').innerText(), '1/3', 'some, not all: more than a colour says so');
  assert.equal(await receiptOf(page, 'Bring cups').getAttribute('data-state'), 'sent');
  assert.equal(await messageWith(page, 'Bring cups').getByTestId('message-receipt-text').textContent(), 'Sent');
  assert.equal(await receiptOf(page, 'On my way').getAttribute('data-state'), 'pending');
  assert.equal(await messageWith(page, 'On my way').getByTestId('message-pending').innerText(), 'Sending…');
  // Others' messages carry no state.
  assert.equal(await bobMsg.getByTestId('message-receipt').count(), 0);
  // Screen readers hear it with the message.
  assert.match((await messageWith(page, 'Coffee at ten?').getAttribute('aria-label')) ?? '', /^You at .*, Read by Bob Builder$/);

  // Receipts arrive: the state changes in place, the row keeps its height.
  const row = messageWith(page, 'Bring cups');
  const heightBefore = (await row.boundingBox())!.height;
  fixture.update('Bring cups', { receipts: { delivered: [CARL, DANA], read: [], of: 3 } });
  await eventually('delivered to 2 of 3', async () => (await receiptOf(page, 'Bring cups').getAttribute('data-state')) === 'deliveredSome');
  assert.equal(await receiptOf(page, 'Bring cups').getAttribute('title'), 'Delivered to 2 of 3');
  fixture.update('Bring cups', { receipts: { delivered: [], read: [BOB, CARL, DANA], of: 3 } });
  await eventually('read by everyone', async () => (await receiptOf(page, 'Bring cups').getAttribute('title')) === 'Read by everyone');
  assert.equal(await receiptOf(page, 'Bring cups').getAttribute('data-state'), 'readAll');
  assert.equal((await row.boundingBox())!.height, heightBefore, 'a receipt moves nothing');
  // Keyboard focus on the message shows who has it, as hovering does.
  const detail = messageWith(page, 'Coffee at ten?').getByTestId('message-receipt-detail');
  const shown = () => detail.evaluate((el) => getComputedStyle(el.closest('.message-actions')!).opacity === '1');
  await page.mouse.move(0, 0);
  assert.equal(await shown(), false, 'not shown until asked for');
  await messageWith(page, 'Coffee at ten?').focus();
  await eventually('the detail on focus', shown);
  assert.equal(await detail.innerText(), 'Read by Bob Builder');
  await screenshot(page, '240-receipts-group');

  // The menu's Receipts… lists who read it, who got it, and how many have not confirmed it yet.
  await page.keyboard.press('Enter');
  await page.getByTestId('message-menu').waitFor();
  await page.getByTestId('menu-receipts').click();
  const dialog = page.getByTestId('receipt-details');
  await dialog.waitFor();
  assert.equal(await dialog.getByTestId('receipt-readers').innerText(), 'Bob Builder');
  assert.equal(await dialog.getByTestId('receipt-delivered').innerText(), 'carl');
  assert.equal(await dialog.getByTestId('receipt-waiting').innerText(), 'Not yet delivered to 1 member');
  // It follows new receipts while open.
  fixture.update('Coffee at ten?', { receipts: { delivered: [CARL], read: [BOB, DANA], of: 3 } });
  await eventually('dana added to the readers', async () => (await dialog.getByTestId('receipt-readers').innerText()) === 'Bob Builder\ndana');
  await screenshot(page, '241-receipt-details');
  await accessibleEverywhere(page, 'the receipts dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  // No Receipts… on others' messages.
  await bobMsg.click({ button: 'right' });
  await page.getByTestId('message-menu').waitFor();
  assert.equal(await page.getByTestId('menu-receipts').count(), 0);
  await page.keyboard.press('Escape');

  // Between two people the words are short.
  await openRoom(page, 'Pair');
  await messageWith(page, 'Hello bob').waitFor();
  assert.equal(await receiptOf(page, 'Hello bob').getAttribute('data-state'), 'deliveredAll');
  assert.equal(await receiptOf(page, 'Hello bob').getAttribute('title'), 'Delivered');
  fixture.update('Hello bob', { receipts: { delivered: [], read: [BOB], of: 1 } });
  await eventually('read', async () => (await receiptOf(page, 'Hello bob').getAttribute('title')) === 'Read');
  // The core's profiles were a placeholder that threw here: the handle, no error shown.
  assert.equal(await page.getByTestId('message-sender').filter({ hasText: /^bob$/ }).count(), 1);
  assert.ok(fixture.profileCalls() >= 2, 'profiles asked for on opening each room');
  await screenshot(page, '242-receipts-two');
  assert.deepEqual(problems, []);
});

test('the typing line: who is typing, said politely, nothing moves; your typing reaches the core sparingly', async () => {
  await openRoom(page, 'Team');
  const line = page.getByTestId('typing-line');
  assert.equal(await line.getAttribute('aria-live'), 'polite');
  assert.equal(await line.innerText(), '');
  const timelineBox = async () => (await page.getByTestId('timeline').boundingBox())!;
  const composerTop = async () => (await page.getByTestId('composer').boundingBox())!.y;
  const [tlBefore, composerBefore] = [await timelineBox(), await composerTop()];

  fixture.typing(TEAM, [BOB]);
  await line.filter({ hasText: 'Bob Builder is typing…' }).waitFor();
  assert.equal((await timelineBox()).height, tlBefore.height, 'the timeline keeps its height');
  assert.equal(await composerTop(), composerBefore, 'the composer stays put');
  fixture.typing(TEAM, [BOB, CARL]);
  await line.filter({ hasText: 'Bob Builder and carl are typing…' }).waitFor();
  await screenshot(page, '243-typing-two');
  fixture.typing(TEAM, [BOB, CARL, DANA]);
  await line.filter({ hasText: 'Several people are typing…' }).waitFor();
  await accessibleEverywhere(page, 'the chat with a typing line');
  // Another room's typing is not shown here.
  fixture.typing(TEAM, []);
  fixture.typing(PAIR, [BOB]);
  await eventually('nothing typed in Team', async () => (await line.innerText()) === '');

  // Your own typing: one "typing" for a burst of keys, "stopped" when the text is cleared.
  fixture.typingCalls.length = 0;
  const input = page.getByTestId('composer-input');
  await input.click();
  await input.pressSequentially('hello there', { delay: 20 });
  await eventually('typing said', async () => fixture.typingCalls.length >= 1);
  await page.waitForTimeout(300);
  assert.deepEqual(fixture.typingCalls, [[TEAM, true]], 'one call for a burst of keys');
  await input.fill('');
  await input.dispatchEvent('input');
  await eventually('stopped said', async () => fixture.typingCalls.length === 2);
  assert.deepEqual(fixture.typingCalls[1], [TEAM, false]);
  // Typing again and sending: "typing", then "stopped" with the send.
  await input.pressSequentially('see you', { delay: 20 });
  await input.press('Enter');
  await messageWith(page, 'see you').waitFor();
  await eventually('stopped after sending', async () => fixture.typingCalls.length === 4);
  assert.deepEqual(fixture.typingCalls.slice(2), [
    [TEAM, true],
    [TEAM, false],
  ]);
  // Typing, then leaving for another room: taken back there.
  await input.pressSequentially('wait', { delay: 20 });
  await eventually('typing said again', async () => fixture.typingCalls.length === 5);
  await openRoom(page, 'Pair');
  await eventually('stopped on leaving the room', async () => fixture.typingCalls.length === 6);
  assert.deepEqual(fixture.typingCalls[5], [TEAM, false]);
  await line.filter({ hasText: 'Bob Builder is typing…' }).or(line.filter({ hasText: 'bob is typing…' })).waitFor();
  fixture.typing(PAIR, []);
  assert.deepEqual(problems, []);
});

test('a name shared later replaces the handle at once; 480 px wide, light and dark', async () => {
  await openRoom(page, 'Team');
  fixture.profiles(TEAM, { [BOB]: { displayName: 'Bob Builder', avatar: PNG_1PX }, [CARL]: { displayName: 'Carla' } });
  await page.getByTestId('message-sender').filter({ hasText: /^Carla/ }).waitFor();
  assert.match((await page.getByTestId('message-sender').filter({ hasText: /^Carla/ }).getAttribute('title')) ?? '', /Carla \(carl\)/);
  fixture.typing(TEAM, [CARL]);
  await page.getByTestId('typing-line').filter({ hasText: 'Carla is typing…' }).waitFor();
  await page.setViewportSize({ width: 480, height: 800 });
  await messageWith(page, 'Coffee at ten?').scrollIntoViewIfNeeded();
  await screenshot(page, '244-receipts-typing-narrow');
  await accessibleEverywhere(page, 'the chat at 480 px');
  // Nothing sticks out sideways.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling');
  fixture.typing(TEAM, []);
  await page.setViewportSize({ width: 1100, height: 800 });
  assert.deepEqual(problems, []);
});

test('the chat screen in German: messages, an event, an attachment, receipts and the typing line', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  await context.addInitScript(() => localStorage.setItem('mimi.locale', 'de'));
  const de = await context.newPage();
  const deProblems = collectPageProblems(de);
  try {
    await de.goto(bridge.url);
    await openRoom(de, 'Team');
    await messageWith(de, 'Coffee at ten?').waitFor();
    assert.equal(await de.evaluate(() => document.documentElement.lang), 'de');
    await de.getByTestId('timeline-event').filter({ hasText: 'Du hast dana hinzugefügt' }).waitFor();
    await de.getByTestId('room-subtitle').filter({ hasText: '4 Mitglieder · gehostet bei localhost' }).waitFor();
    assert.equal(await receiptOf(de, 'Coffee at ten?').getAttribute('title'), 'Gelesen von Bob Builder, dana');
    assert.equal(await receiptOf(de, 'Bring cups').getAttribute('title'), 'Von allen gelesen');
    assert.equal(await messageWith(de, 'On my way').getByTestId('message-pending').innerText(), 'Wird gesendet…');
    const attachment = de.getByTestId('attachment').filter({ hasText: 'notes.pdf' });
    assert.match(await attachment.innerText(), /121 KB/);
    assert.equal((await attachment.getByTestId('attachment-download').innerText()).trim(), 'Herunterladen');
    assert.equal(await de.getByTestId('composer-input').getAttribute('placeholder'), 'Nachricht an Team');
    assert.match(await de.getByTestId('composer').innerText(), /Enter sendet/);
    // Times in the German form: 24 hours, and the full date on hover.
    const title = (await messageWith(de, 'Morning all').getByTestId('message-time').first().getAttribute('title')) ?? '';
    assert.match(title, /\d{1,2}\. \p{L}+ \d{4}/u, `a German date: ${title}`);
    fixture.typing(TEAM, [BOB, CARL]);
    await de.getByTestId('typing-line').filter({ hasText: 'Bob Builder und carl schreiben…' }).waitFor();
    await screenshot(de, '245-chat-german');
    for (const scheme of ['light', 'dark'] as const) {
      await de.emulateMedia({ colorScheme: scheme });
      await assertAccessible(de, `the German chat (${scheme})`);
    }
    // The message menu and the receipts dialog too.
    await messageWith(de, 'Coffee at ten?').click({ button: 'right' });
    await de.getByTestId('menu-receipts').filter({ hasText: 'Bestätigungen…' }).click();
    await de.getByTestId('receipt-details').getByRole('heading', { name: 'Zustellung deiner Nachricht' }).waitFor();
    await screenshot(de, '246-receipts-german');
    await de.keyboard.press('Escape');
    fixture.typing(TEAM, []);
    assert.deepEqual(deProblems, []);
  } finally {
    await context.close();
  }
});
