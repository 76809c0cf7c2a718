// The states a person must be able to read without knowing the protocol: unread counts, the member
// list, a room they were removed from, a room that disappeared (from the core's list, or the core
// refuses it as unknown), a room whose provider no longer has it, and the app process going away.
// Most of these cannot be produced on demand with one real provider, so the core behind the (real)
// bridge is an in-memory MimiApi that answers with the contract's own error codes. The real-core
// paths (sign-in errors, unreachable provider banner, unread counts between two users) are in
// two-users.test.ts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { CoreError, type AccountView, type CoreEvent, type MessageView, type MimiApi, type RoomView } from '../../src-shared/contract.js';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import { localAccount, messageReports, noMinimalMetadataRooms, quietConsentAndPeople, quietLinksAndKnocks, quietPseudonymsAndConnections, signedInAs, unmanagedRoomSettings, muteNotInFixture, messageActionsNotInFixture } from './stub-domains.js';

const ME = 'mimi://localhost/u/alice';
const BOB = 'mimi://localhost/u/bob';
const CAROL = 'mimi://localhost/u/carol';
const ROOM = {
  lunch: 'mimi://localhost/r/lunch',
  old: 'mimi://localhost/r/old-project',
  planning: 'mimi://localhost/r/planning',
  team: 'mimi://localhost/r/team',
  across: 'mimi://b.example/r/across',
};

interface FakeRoom {
  view: RoomView;
  messages: MessageView[];
  /** Its hub no longer has it: room changes are refused with roomUnknown, but it stays listed. */
  hubGone?: boolean;
}

function fakeCore() {
  const listeners = new Set<(e: CoreEvent) => void>();
  const emit = (e: CoreEvent) => listeners.forEach((l) => l(e));
  let seq = 0;
  const t0 = Date.now() - 3_600_000;
  const msg = (roomUri: string, sender: string, text: string, minutes: number): MessageView => ({
    seq: ++seq,
    messageId: seq.toString(16).padStart(64, '0'),
    roomUri,
    sender,
    text,
    contentType: 'text/plain',
    timestamp: t0 + minutes * 60_000,
    status: sender === ME ? 'sent' : 'received',
  });
  const rooms = new Map<string, FakeRoom>();
  const addRoom = (roomUri: string, name: string, members: string[], unread: number, messages: MessageView[], hubGone = false) => {
    const last = messages[messages.length - 1];
    rooms.set(roomUri, {
      view: { roomUri, name, hubDomain: 'localhost', members, unread, epoch: '3', lastMessage: last && { sender: last.sender, text: last.text, timestamp: last.timestamp } },
      messages,
      hubGone,
    });
  };
  addRoom(ROOM.lunch, 'Lunch', [ME, BOB, CAROL], 2, [msg(ROOM.lunch, ME, 'Lunch today?', 1), msg(ROOM.lunch, BOB, 'Yes, noon', 2), msg(ROOM.lunch, CAROL, 'Count me in', 3)]);
  addRoom(ROOM.old, 'Old project', [], 0, [msg(ROOM.old, BOB, 'Wrapping this up, thanks all', 0)]);
  addRoom(ROOM.planning, 'Planning', [ME, BOB], 0, [msg(ROOM.planning, BOB, 'Agenda is in the doc', 1)]);
  addRoom(ROOM.team, 'Team', [ME, BOB], 0, [], true);
  addRoom(ROOM.across, 'Across', [ME, 'mimi://b.example/u/bea'], 0, [msg(ROOM.across, 'mimi://b.example/u/bea', 'Hosted at b.example', 0)]);
  rooms.get(ROOM.across)!.view = { ...rooms.get(ROOM.across)!.view, hubDomain: 'b.example', hubUnreachable: true };

  const account = (): AccountView =>
    localAccount({ id: 'acct-alice', userUri: ME, handle: 'alice', unreadTotal: [...rooms.values()].reduce((n, r) => n + r.view.unread, 0) });
  const list = () => [...rooms.values()].map((r) => r.view);
  const room = (roomUri: string): FakeRoom => {
    const r = rooms.get(roomUri);
    if (!r) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    return r;
  };
  const roomsChanged = () => {
    emit({ type: 'rooms', accountId: account().id, rooms: list() });
    emit({ type: 'accounts', accounts: [account()] });
  };
  const post = (r: FakeRoom, m: MessageView) => {
    r.messages.push(m);
    r.view = { ...r.view, lastMessage: { sender: m.sender, text: m.text, timestamp: m.timestamp } };
    emit({ type: 'message', accountId: account().id, message: m });
  };

  const core: MimiApi = {
    ...signedInAs(account),
    rooms: {
      list: async () => list(),
      create: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      join: async (_a, roomUri) => {
        joinCalls.push(roomUri);
        throw new CoreError('notAllowed', `Cannot join ${roomUri}: mimi://localhost/u/alice is banned. Only participants can join by link.`);
      },
      leave: async (_a, roomUri) => {
        const r = room(roomUri);
        r.view = { ...r.view, members: [] };
        roomsChanged();
        return r.view;
      },
      addMember: async (_a, roomUri, user) => {
        const r = room(roomUri);
        if (r.hubGone) throw new CoreError('roomUnknown', `Could not fetch key material for ${user}: the room no longer exists on its provider.`);
        throw new CoreError('userUnknown', `${user} does not exist on localhost.`);
      },
      ...muteNotInFixture,
      markRead: async (_a, roomUri) => {
        const r = room(roomUri);
        if (r.view.unread === 0) return;
        r.view = { ...r.view, unread: 0 };
        roomsChanged();
      },
      ...unmanagedRoomSettings((roomUri) => rooms.get(roomUri)?.view),
      ...noMinimalMetadataRooms,
    },
    messages: {
      ...messageActionsNotInFixture,
      page: async (_a, roomUri, beforeSeq, limit) =>
        room(roomUri)
          .messages.filter((m) => beforeSeq === null || m.seq < beforeSeq)
          .slice(-limit)
          .reverse(),
      send: async (_a, roomUri, text) => {
        const r = room(roomUri);
        if (r.view.members.length === 0) throw new CoreError('notMember', 'You are no longer a member of this room.');
        const m = { ...msg(roomUri, ME, text, 0), timestamp: Date.now() };
        post(r, m);
        return m;
      },
      // Rooms without room state: reporting is allowed there, as the real core allows it (nothing is enforced).
      ...messageReports({ messagesOf: (roomUri) => rooms.get(roomUri)?.messages, mayReport: () => true }),
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
    /** Someone else writes in a room (not open on screen: it counts as unread). */
    arrive(roomUri: string, sender: string, text: string) {
      const r = room(roomUri);
      r.view = { ...r.view, unread: r.view.unread + 1 };
      post(r, { ...msg(roomUri, sender, text, 0), timestamp: Date.now() });
      roomsChanged();
    },
    /** The room goes away and the core says so (a new room list without it). */
    dropRoom(roomUri: string) {
      rooms.delete(roomUri);
      roomsChanged();
    },
    /** The room goes away without an event: the next call about it is refused as unknown. */
    forgetRoomSilently(roomUri: string) {
      rooms.delete(roomUri);
    },
  };
}

const joinCalls: string[] = [];
let browser: Browser;
let bridge: Bridge;
let page: Page;
let problems: string[];
const fixture = fakeCore();

let session: FakeCoreSession | undefined;
before(async () => {
  session = await openOnFakeCore(fixture.core, { width: 1200, height: 800 });
  ({ browser, bridge, page, problems } = session);
});

after(async () => {
  await session?.close();
});

const roomItem = (uri: string) => page.locator(`[data-testid=room-item][data-room-uri="${uri}"]`);
const badge = async (uri: string) => (await roomItem(uri).getByTestId('room-unread').count()) ? await roomItem(uri).getByTestId('room-unread').innerText() : '';

test('unread counts, members, a left room, a vanished room, a room its provider lost, and the app going away', async () => {
  await page.goto(bridge.url);
  await roomItem(ROOM.lunch).waitFor();

  // --- unread: per room and per account; opening the room clears both ---
  assert.equal(await badge(ROOM.lunch), '2');
  assert.equal(await page.getByTestId('account-unread').getAttribute('data-text'), '2');
  assert.equal(await roomItem(ROOM.lunch).getAttribute('class').then((c) => c?.includes('unread')), true);
  await roomItem(ROOM.lunch).click();
  await page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor();
  await eventually('Lunch badge cleared', async () => (await badge(ROOM.lunch)) === '');
  await eventually('account badge cleared', async () => (await page.getByTestId('account-unread').count()) === 0);

  // --- the member list: everyone, the viewer first and marked ---
  const members = await page.getByTestId('member-item').allInnerTexts();
  assert.deepEqual(
    // Each other member's row ends with "Message" (a direct chat with them) and "Safety number".
    members.map((m) => m.replace(/^\S+\s+/, '').replace(/\s+Message\s+Safety number$/, '').trim()),
    ['alice (you)', 'bob', 'carol'],
  );
  assert.match(await page.locator('#members-heading').innerText(), /Members \(3\)/);
  assert.match(await page.getByTestId('chat').locator('.chat-head').innerText(), /3 members/);

  // A message in another room counts there, not in the open one.
  fixture.arrive(ROOM.planning, BOB, 'Can we move the meeting?');
  await eventually('Planning badge 1', async () => (await badge(ROOM.planning)) === '1');
  assert.equal(await badge(ROOM.lunch), '');
  assert.equal(await page.getByTestId('account-unread').getAttribute('data-text'), '1');
  assert.match(await roomItem(ROOM.planning).innerText(), /bob: Can we move the meeting\?/);
  // Most recent activity first.
  assert.equal(await page.getByTestId('room-item').first().getAttribute('data-room-uri'), ROOM.planning);
  await screenshot(page, '11-unread-and-members');

  // --- what I write shows in the room list's preview ---
  await page.getByTestId('composer-input').fill('See you at noon');
  await page.getByTestId('composer-input').press('Enter');
  await eventually('preview of own message', async () => /You: See you at noon/.test(await roomItem(ROOM.lunch).innerText()));

  // --- a room hosted by another provider that does not answer: said in the header ---
  await roomItem(ROOM.across).click();
  await page.getByTestId('room-title').filter({ hasText: 'Across' }).waitFor();
  assert.match(await page.getByTestId('chat').locator('.chat-head').innerText(), /hosted by b\.example/);
  assert.match(await page.getByTestId('hub-offline').innerText(), /b\.example is offline; messages wait/);
  await screenshot(page, '11b-hub-offline');
  await roomItem(ROOM.lunch).click();
  await page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor();
  assert.equal(await page.getByTestId('hub-offline').count(), 0);

  // --- a room this account was removed from: readable, not writable, said plainly ---
  await roomItem(ROOM.old).click();
  await page.getByTestId('room-left').waitFor();
  assert.match(await page.getByTestId('room-left').innerText(), /no longer a member of this room/);
  await page.locator('[data-testid=message-text]', { hasText: 'Wrapping this up' }).waitFor();
  assert.equal(await page.getByTestId('composer-input').isDisabled(), true);
  assert.match(await page.getByTestId('composer-readonly').innerText(), /not a member of this room any more/);
  await page.getByTestId('members-left').waitFor();
  assert.equal(await page.getByTestId('add-member-form').count(), 0);
  // "Join again" asks the core; a refusal (here: banned) is said next to the button.
  await page.getByRole('button', { name: 'Join again' }).click();
  await page.getByTestId('rejoin-error').waitFor();
  assert.match(await page.getByTestId('rejoin-error').innerText(), /banned/);
  assert.deepEqual(joinCalls, [ROOM.old]);
  await screenshot(page, '12-room-left');

  // --- the open room disappears from the core's list: a clear state, not a silent switch ---
  await roomItem(ROOM.planning).click();
  await page.getByTestId('room-title').filter({ hasText: 'Planning' }).waitFor();
  fixture.dropRoom(ROOM.planning);
  await page.getByTestId('room-gone').waitFor();
  assert.match(await page.getByTestId('room-gone').innerText(), /“Planning” is no longer available/);
  assert.equal(await roomItem(ROOM.planning).count(), 0);
  assert.equal(await page.getByTestId('composer-input').isDisabled(), true);
  await screenshot(page, '13-room-gone');
  await page.getByTestId('room-gone-dismiss').click();
  await page.getByTestId('chat-empty').waitFor();

  // --- the core refuses the open room as unknown (no event came): the same state ---
  await roomItem(ROOM.lunch).click();
  await page.getByTestId('room-title').filter({ hasText: 'Lunch' }).waitFor();
  fixture.forgetRoomSilently(ROOM.lunch);
  await page.getByTestId('composer-input').fill('Is this still on?');
  await page.getByTestId('composer-input').press('Enter');
  await page.getByTestId('room-gone').filter({ hasText: '“Lunch” is no longer available' }).waitFor();
  assert.equal(await roomItem(ROOM.lunch).count(), 0);
  assert.equal(await page.getByTestId('banner-error').count(), 0, 'no raw error banner for a vanished room');

  // --- a room its provider no longer has: still listed and readable, changes explained ---
  await roomItem(ROOM.team).click();
  await page.getByTestId('timeline-empty').waitFor();
  await page.getByTestId('add-member-input').fill('carol');
  await page.getByTestId('add-member-submit').click();
  // The room stays open and readable; the chat says why nothing can be changed or sent.
  const lost = page.getByTestId('room-lost');
  await lost.waitFor();
  assert.match(await lost.innerText(), /no longer exists on its provider/);
  assert.equal(await page.getByTestId('room-title').innerText(), 'Team');
  assert.equal(await page.getByTestId('composer-input').isDisabled(), true);
  assert.equal(await page.getByTestId('add-member-form').count(), 0);
  await screenshot(page, '14-room-gone-on-provider');

  // The same screens in dark mode and in a narrow window (the member panel folds away).
  const dark = await browser.newContext({ viewport: { width: 1200, height: 800 }, colorScheme: 'dark' });
  const darkPage = await dark.newPage();
  const darkProblems = collectPageProblems(darkPage);
  await darkPage.goto(bridge.url);
  await darkPage.locator(`[data-testid=room-item][data-room-uri="${ROOM.old}"]`).click();
  await darkPage.getByTestId('room-left').waitFor();
  await screenshot(darkPage, '16-dark-room-left');
  await darkPage.setViewportSize({ width: 800, height: 600 });
  await darkPage.locator(`[data-testid=room-item][data-room-uri="${ROOM.team}"]`).click();
  await darkPage.getByTestId('room-title').filter({ hasText: 'Team' }).waitFor();
  assert.equal(await darkPage.getByTestId('member-list').count(), 0, 'narrow: the member panel starts closed');
  assert.equal(await darkPage.getByTestId('toggle-members').innerText(), 'Members');
  await darkPage.getByTestId('toggle-members').click();
  await darkPage.getByTestId('member-item').first().waitFor();
  await screenshot(darkPage, '17-dark-narrow-members');
  await dark.close();
  assert.deepEqual(darkProblems, []);

  assert.deepEqual(problems, []);

  // --- the app process goes away: a banner that says what to do ---
  await bridge.close();
  const banner = page.getByTestId('banner-core');
  await banner.waitFor({ timeout: 15_000 });
  assert.match(await banner.innerText(), /Lost the connection to the mimi app.*npm start/s);
  await screenshot(page, '15-app-unreachable');
});
