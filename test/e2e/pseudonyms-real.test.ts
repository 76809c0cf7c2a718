// Pseudonyms, the connection flow and a minimal-metadata room on the real core, in real Chromium,
// through the UI only: two people on one provider (A's core runs the embedded provider, B signs up
// on it), each with their own core, bridge and page, as in room-settings-real.test.ts. The pool
// fills in the background after sign-up and the manager shows it; a second account added on A's
// page shows its pool beside the first; one pseudonym retired behind its confirmation (and on the
// provider). alice connects to bob from People > Connections; bob's page asks, verified; he accepts
// and both pages open the new room, talk, and name each other by verified identity with the
// pseudonym beside it; the provider sees only pseudonyms there and has destroyed the bootstrap
// room. A minimal-metadata room made from the create form names its one member as "you". Each of
// these screens passes axe (one of them dark and narrow too). The provider's database is read only
// for assertions.

// Bootstrap rooms go within a second of the answer (app-core.ts reads this), not minutes.
process.env.MIMI_BOOTSTRAP_DESTROY_DELAY_MS = '500-1000';

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { DB_FILE } from '../../src-provider/store.js';
import { withDb } from '../helpers/mimi-peer.js';
import { assertAccessible as accessible, closePair, collectPageProblems, eventually, openPairOnOneProvider, PASSWORD, screenshot, signUpPair, type RealCorePair, type RealCoreSide } from './browser.js';

const WAIT = 20_000;
const ALICE = 'mimi://localhost/u/alice';
const BOB = 'mimi://localhost/u/bob';
const PSEUDONYM = /^mimi:\/\/localhost\/p\/[A-Za-z0-9_-]+$/;

let pair: RealCorePair | undefined;
let browser: RealCorePair['browser'];
let a: RealCoreSide;
let b: RealCoreSide;
/** alice's pseudonym in the room the connection led to, and that room's URI. */
let aliceInConnection = '';
let connectionRoom = '';

before(async () => {
  pair = await openPairOnOneProvider('pseudonyms', { width: 1280, height: 860 });
  ({ browser, a, b } = pair);
});

after(() => closePair(pair));

const providerDb = <T>(fn: Parameters<typeof withDb<T>>[1]): T => withDb(path.join(a.dir, 'provider', DB_FILE), fn);

/** The page is no wider than its window. */
async function fits(p: Page, what: string): Promise<void> {
  const over = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(over <= 0, `${what}: the page is ${over}px wider than the window`);
}

const poolOf = (page: Page, handle: string) => page.getByTestId('pseudonym-pool').filter({ has: page.getByRole('heading', { name: `${handle}@localhost`, exact: true }) });
const unusedIn = (pool: Locator) => pool.getByTestId('pool-unused').getByTestId('pseudonym-item');
const openRoomUri = (page: Page) => page.locator('[data-testid=room-item][aria-current=true]').getAttribute('data-room-uri');
const messageText = (page: Page, text: string) => page.locator('[data-testid=message-text]', { hasText: text });
/** A member-list row by the name it shows (the verified person behind a pseudonym). */
const memberNamed = (page: Page, label: string) => page.getByTestId('member-item').filter({ has: page.getByTestId('member-label').getByText(label, { exact: true }) });

/** The pool fills by itself: at least 3 unused, issued by the provider after sign-up. */
async function filled(pool: Locator, who: string): Promise<void> {
  await eventually(`${who}’s pool filled`, async () => (await unusedIn(pool).count()) >= 3, WAIT);
  assert.match(await pool.getByTestId('pool-summary').innerText(), /^\d+ unused\. When fewer than 3 are unused, the app asks for 5 more\.$/);
}

test('the pseudonym manager on the real core: pools fill after sign-up, two accounts side by side, retire one', async () => {
  await signUpPair({ a, b });

  // --- the active account's pool, filled in the background ---
  await a.page.getByTestId('open-pseudonyms').click();
  const alicePool = poolOf(a.page, 'alice');
  await filled(alicePool, 'alice');
  assert.equal(await a.page.getByTestId('pseudonym-pool').count(), 1);
  assert.equal(await a.page.getByTestId('pseudonyms-all').count(), 0, 'one account: nothing to put side by side');
  const first = unusedIn(alicePool).first();
  assert.match((await first.getByTestId('pseudonym-short').getAttribute('title')) ?? '', PSEUDONYM);
  assert.match(await first.getByTestId('pseudonym-short').innerText(), /^p\/[A-Za-z0-9_-]{6}…$/);
  assert.equal(await first.getByTestId('pseudonym-state').innerText(), 'unused');
  assert.match(await first.innerText(), /Issued .+ · 3 KeyPackages/);
  await accessible(a.page, 'pseudonym manager');
  await screenshot(a.page, '80-real-pseudonyms-alice');

  // --- a second account on A's page (the add-account dialog), then both pools side by side ---
  await a.page.getByTestId('add-account').click();
  const dialog = a.page.getByTestId('add-account-dialog');
  await dialog.waitFor();
  await dialog.getByTestId('tab-register').click();
  await dialog.getByTestId('signin-handle').fill('carol');
  await dialog.getByTestId('signin-password').fill(PASSWORD);
  await dialog.getByTestId('signin-submit').click();
  await a.page.getByTestId('active-account').filter({ hasText: 'carol' }).waitFor({ timeout: WAIT });
  await dialog.waitFor({ state: 'detached' });
  if ((await a.page.getByTestId('pseudonyms-view').count()) === 0) await a.page.getByTestId('open-pseudonyms').click();
  await a.page.getByTestId('pseudonyms-all').check();
  const carolPool = poolOf(a.page, 'carol');
  await filled(carolPool, 'carol');
  await filled(alicePool, 'alice');
  assert.equal(await a.page.getByTestId('pseudonym-pool').count(), 2);
  const [boxA, boxC] = [await alicePool.boundingBox(), await carolPool.boundingBox()];
  assert.ok(boxA && boxC && Math.abs(boxA.y - boxC.y) < 2 && (boxC.x >= boxA.x + boxA.width - 1 || boxA.x >= boxC.x + boxC.width - 1), 'the pools stand side by side');
  // Two accounts' pseudonyms never share one.
  const uris = async (pool: Locator) => pool.getByTestId('pseudonym-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-pseudonym')));
  const [aliceUris, carolUris] = [await uris(alicePool), await uris(carolPool)];
  assert.equal(aliceUris.filter((u) => carolUris.includes(u)).length, 0);
  await accessible(a.page, 'both pools');
  await screenshot(a.page, '81-real-pseudonyms-all-accounts');

  // --- retire one of alice's: the question first, then it is retired here and on the provider ---
  const victim = (await first.getAttribute('data-pseudonym'))!;
  const row = alicePool.locator(`[data-testid=pseudonym-item][data-pseudonym="${victim}"]`);
  await row.getByTestId('pseudonym-retire').click();
  assert.match(await row.getByTestId('retire-question').innerText(), /^Retire p\/\S+…\? It is in no room\. Its KeyPackages are withdrawn from localhost, and it is never used again\.$/);
  await accessible(a.page, 'retire confirmation');
  await screenshot(a.page, '82-real-pseudonym-retire-confirm');
  await row.getByTestId('retire-confirm').click();
  const retired = alicePool.getByTestId('pool-retired').locator(`[data-pseudonym="${victim}"]`);
  await retired.waitFor({ timeout: WAIT });
  assert.equal(await retired.getByTestId('pseudonym-state').innerText(), 'retired');
  assert.equal(await retired.getByTestId('pseudonym-retire').count(), 0);
  assert.match(await alicePool.getByTestId('pool-done').innerText(), /^Retired p\/\S+…: it is never used again\.$/);
  assert.equal(await alicePool.getByTestId('pseudonym-error').count(), 0);
  await eventually('no KeyPackages left on the provider', async () => (await retired.getByTestId('pseudonym-keypackages').innerText()) === '0 KeyPackages', WAIT);
  const onProvider = providerDb((db) => db.prepare('SELECT state, (SELECT count(*) FROM pseudonym_key_packages k WHERE k.client_pseudonym = p.client_pseudonym AND k.claimed = 0) AS kps FROM pseudonyms p WHERE user_pseudonym = ?').get(victim));
  assert.deepEqual(onProvider, { state: 'retired', kps: 0 });
  await screenshot(a.page, '83-real-pseudonym-retired');

  // Back to alice, and to her rooms.
  await a.page.locator('[data-testid=account-item][data-handle=alice]').click();
  await a.page.getByTestId('active-account').filter({ hasText: 'alice' }).waitFor();
  await a.page.getByTestId('pseudonyms-close').click();
  assert.deepEqual(a.problems, []);
});

test('the connection flow on the real core: alice asks, bob sees it verified and accepts, both talk in the new room', async () => {
  // --- alice: People > Connections > Connect with someone ---
  await a.page.getByTestId('open-people').click();
  await a.page.getByTestId('people-tab-connections').click();
  await a.page.getByTestId('connect-input').fill('bob');
  await a.page.getByTestId('connect-submit').click();
  await a.page.getByTestId('connect-done').filter({ hasText: 'Asked bob to connect.' }).waitFor({ timeout: WAIT });
  assert.equal(await a.page.getByTestId('connect-error').count(), 0);
  const outgoing = a.page.locator(`[data-testid=connection-item][data-peer="${BOB}"]`);
  assert.equal(await outgoing.getByTestId('connection-state').innerText(), 'waiting for an answer');

  // --- bob: the prompt, verified, naming alice ---
  const request = b.page.locator(`[data-testid=connection-request][data-peer="${ALICE}"]`);
  await request.waitFor({ timeout: WAIT });
  assert.equal(await request.getAttribute('data-verified'), 'true');
  assert.match(await request.innerText(), /^alice wants to connect\s*✓ verified/);
  assert.equal(await request.getByTestId('identity-verified').innerText(), '✓ verified');
  assert.equal(await request.getByTestId('connection-accept').innerText(), 'Accept');
  assert.equal(await b.page.getByTestId('people-waiting').innerText(), '1');
  // The bootstrap room is plumbing: it is not in bob's room list.
  assert.equal(await b.page.getByTestId('room-item').count(), 0);
  await accessible(b.page, 'connection prompt');
  await screenshot(b.page, '84-real-connection-prompt-bob');

  await request.getByTestId('connection-accept').click();
  const accepted = b.page.getByTestId('connection-accepted');
  await accepted.waitFor({ timeout: WAIT });
  assert.match(await accepted.innerText(), /You are connected with alice\./);
  await accepted.getByTestId('connection-open-room').click();
  await b.page.getByTestId('room-title').filter({ hasText: 'alice@localhost' }).waitFor({ timeout: WAIT });
  await b.page.getByTestId('room-minimal').waitFor();
  const roomUri = (await openRoomUri(b.page))!;
  connectionRoom = roomUri;

  // --- alice: the request is answered; she opens the room from her list of requests ---
  await eventually('alice’s request connected', async () => (await outgoing.getByTestId('connection-state').innerText()) === 'connected', WAIT);
  await outgoing.getByTestId('connection-open').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'bob@localhost' }).waitFor({ timeout: WAIT });
  await a.page.getByTestId('room-minimal').waitFor();
  assert.equal(await openRoomUri(a.page), roomUri, 'both pages in the same room');

  // --- they talk ---
  for (const [from, to, text] of [
    [a, b, 'Hi Bob, it is really me'],
    [b, a, 'Hi Alice, I can see that'],
  ] as const) {
    const input = from.page.getByTestId('composer-input');
    await input.fill(text);
    await input.press('Enter');
    await messageText(to.page, text).waitFor({ timeout: WAIT });
  }
  // Senders are named by who is verified behind their pseudonyms.
  await eventually('senders on alice’s page', async () => (await a.page.getByTestId('message-sender').allInnerTexts()).join('|') === 'You|bob', WAIT);
  await eventually('senders on bob’s page', async () => (await b.page.getByTestId('message-sender').allInnerTexts()).join('|') === 'alice|You', WAIT);

  // --- each member list: the other verified, with their pseudonym beside; yourself as "you" ---
  for (const [s, other, me] of [
    [a, 'bob', 'alice'],
    [b, 'alice', 'bob'],
  ] as const) {
    const them = memberNamed(s.page, other);
    await them.getByTestId('identity-verified').waitFor({ timeout: WAIT });
    assert.match(await them.innerText(), new RegExp(`${other}\\s*✓ verified\\s+as p/\\S+…`));
    assert.match((await them.getByTestId('member-pseudonym').getAttribute('title')) ?? '', PSEUDONYM);
    const self = s.page.getByTestId('member-item').filter({ hasText: `${me} (you)` });
    assert.match(await self.innerText(), new RegExp(`${me} \\(you\\)\\s+as p/\\S+…`));
    if (s === a) aliceInConnection = (await self.getByTestId('member-label').getAttribute('title'))!;
    assert.equal(await s.page.getByTestId('member-item').count(), 2);
  }
  await screenshot(a.page, '85-real-connection-room-alice');

  // --- and in room settings, the same: the verified person, the pseudonym beside ---
  for (const [s, other] of [
    [a, 'bob'],
    [b, 'alice'],
  ] as const) {
    await s.page.getByTestId('toggle-settings').click();
    const row = s.page.getByTestId('room-settings').getByTestId('room-member').filter({ has: s.page.getByTestId('identity-verified') });
    await row.waitFor({ timeout: WAIT });
    assert.match(await row.innerText(), new RegExp(`(^|\\n)${other}\\s*✓ verified\\s+as p/\\S+…`));
    assert.match((await row.getAttribute('data-user')) ?? '', PSEUDONYM);
    assert.match(await s.page.getByTestId('room-members').locator('li').first().innerText(), new RegExp(`\\(you\\)`));
  }
  await screenshot(b.page, '86-real-connection-room-settings-bob');

  // --- the provider saw two pseudonyms in that room, and has forgotten the bootstrap room ---
  const participants = providerDb((db) => db.prepare('SELECT user_uri FROM room_participants WHERE room_uri = ?').all(roomUri) as { user_uri: string }[]).map((r) => r.user_uri);
  assert.equal(participants.length, 2);
  for (const p of participants) assert.match(p, PSEUDONYM);
  await eventually(
    'the bootstrap room destroyed',
    async () => providerDb((db) => (db.prepare('SELECT count(*) AS n FROM destroyed_rooms WHERE room_uri != ?').get(roomUri) as { n: number }).n) === 1,
    WAIT,
  );
  for (const s of [a, b]) await s.page.getByTestId('room-settings-close').click();
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});

test('a minimal-metadata room from the create form: "minimal metadata", its one member yourself as a pseudonym; light, then dark and narrow', async () => {
  await a.page.getByTestId('new-room').click();
  await a.page.getByTestId('new-room-name').fill('Hideout');
  await a.page.getByTestId('new-room-minimal').check();
  await a.page.getByTestId('create-room-submit').click();
  await a.page.getByTestId('room-title').filter({ hasText: 'Hideout' }).waitFor({ timeout: WAIT });
  const head = a.page.getByTestId('chat').locator('.chat-head');
  await a.page.getByTestId('room-minimal').waitFor({ timeout: WAIT });
  assert.match(await head.innerText(), /1 member · hosted by localhost · minimal metadata/);
  const members = a.page.getByTestId('member-item');
  assert.equal(await members.count(), 1);
  assert.match(await members.first().innerText(), /alice \(you\)\s+as p\/\S+…/);
  const mine = (await members.first().getByTestId('member-label').getAttribute('title'))!;
  assert.match(mine, PSEUDONYM);
  assert.equal(await members.first().getByTestId('identity-verified').count(), 0, 'no badge on yourself');
  // The manager lists the room against the pseudonym that is in it.
  const uri = (await openRoomUri(a.page))!;
  assert.deepEqual(providerDb((db) => db.prepare('SELECT user_uri FROM room_participants WHERE room_uri = ?').all(uri)), [{ user_uri: mine }]);
  await accessible(a.page, 'minimal-metadata room');
  await screenshot(a.page, '87-real-minimal-room');

  // The manager: each pseudonym in use with the room it is in; the connection's bootstrap
  // pseudonym, whose room is destroyed, in none (and never handed out again).
  await a.page.getByTestId('open-pseudonyms').click();
  const alicePool = poolOf(a.page, 'alice');
  const roomsOf = (uri: string) => alicePool.locator(`[data-testid=pseudonym-item][data-pseudonym="${uri}"]`).getByTestId('pseudonym-rooms');
  await roomsOf(mine).waitFor({ timeout: WAIT });
  assert.equal(await roomsOf(mine).innerText(), 'In “Hideout”');
  assert.equal(await roomsOf(aliceInConnection).innerText(), 'In “bob@localhost”');
  const inUse = alicePool.getByTestId('pool-inUse');
  assert.deepEqual((await inUse.getByTestId('pseudonym-state').allInnerTexts()).sort(), ['in use', 'in use', 'in use']);
  assert.deepEqual((await inUse.getByTestId('pseudonym-rooms').allInnerTexts()).sort(), ['In “Hideout”', 'In “bob@localhost”', 'Used before, in no room now']);
  await accessible(a.page, 'pseudonym manager with pseudonyms in use');
  await a.page.getByTestId('pseudonyms-close').click();

  // --- the same room, dark and narrow, with the member panel opened over the timeline ---
  const context = await browser.newContext({ viewport: { width: 720, height: 760 }, colorScheme: 'dark' });
  const dark = await context.newPage();
  const darkProblems = collectPageProblems(dark);
  try {
    await dark.goto(a.bridge.url);
    await dark.locator(`[data-testid=room-item][data-room-uri="${uri}"]`).click({ timeout: WAIT });
    await dark.getByTestId('room-minimal').waitFor({ timeout: WAIT });
    // On a fresh page too, the connection room's preview names bob, not his pseudonym.
    const preview = dark.locator(`[data-testid=room-item][data-room-uri="${connectionRoom}"] .room-preview`);
    await eventually('bob named in the preview', async () => (await preview.innerText()) === 'bob: Hi Alice, I can see that', WAIT);
    await dark.getByTestId('toggle-members').click();
    await dark.getByTestId('member-item').filter({ hasText: 'alice (you)' }).waitFor({ timeout: WAIT });
    await fits(dark, 'minimal-metadata room');
    await accessible(dark, 'dark: minimal-metadata room');
    await screenshot(dark, '88-real-dark-narrow-minimal-room');

    await dark.getByTestId('open-pseudonyms').click();
    await dark.getByTestId('pseudonyms-all').check();
    await poolOf(dark, 'carol').getByTestId('pool-summary').waitFor({ timeout: WAIT });
    await fits(dark, 'pseudonym manager');
    await accessible(dark, 'dark: pseudonym manager');
    await screenshot(dark, '89-real-dark-narrow-pseudonyms');
  } finally {
    await context.close();
  }
  assert.deepEqual(darkProblems, []);
  assert.deepEqual(a.problems, []);
});
