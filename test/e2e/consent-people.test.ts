// Consent and discovery as a person sees them: an incoming request in the room pane (Accept /
// Decline / Block), the granted list with Revoke, adding someone who has not consented (and asking
// right there), finding people on another provider, and the "What others can find" toggles. The
// core behind the (real) bridge is an in-memory MimiApi that answers like the provider would; the
// provider side of consent is tested against real provider processes in the integration tests.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import {
  CoreError,
  type AccountView,
  type ConsentListView,
  type CoreEvent,
  type FoundUserView,
  type MimiApi,
  type MyProfileView,
  type RoomView,
} from '../../src-shared/contract.js';
import { parseUserAddress } from '../../src-shared/identifiers.js';
import type { Bridge } from '../../src-main/bridge/bridge-server.js';
import { collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
import { localAccount, noMessageReports, noMinimalMetadataRooms, quietLinksAndKnocks, quietPseudonymsAndConnections, signedInAs, unmanagedRoomSettings, muteNotInFixture, messageActionsNotInFixture } from './stub-domains.js';

const ME = 'mimi://localhost/u/alice';
const BEA = 'mimi://b.example/u/bea';
const CARL = 'mimi://c.example/u/carl';
const DAN = 'mimi://b.example/u/dan';
const LUNCH = 'mimi://localhost/r/lunch';
const ACCT = 'acct-alice';

function fakeCore() {
  const listeners = new Set<(e: CoreEvent) => void>();
  const emit = (e: CoreEvent) => listeners.forEach((l) => l(e));
  const now = Date.now();
  const consent: ConsentListView = {
    incoming: [
      { user: BEA, roomUri: LUNCH, at: now - 60_000 },
      { user: CARL, at: now - 30_000 },
    ],
    granted: [],
    blocked: [],
    outgoing: [],
  };
  const changed = () => emit({ type: 'consent', accountId: ACCT, consent: structuredClone(consent) });
  const calls: { method: string; args: unknown[] }[] = [];
  const profile: MyProfileView = {
    userUri: ME,
    handle: 'alice',
    email: 'alice@mail.example',
    displayName: 'Alice Liddell',
    searchable: { handle: true, nick: false, email: false, phone: false, name: false },
  };
  const directory: FoundUserView[] = [
    { userUri: BEA, handle: 'bea', displayName: 'Bea Baker' },
    { userUri: DAN, handle: 'dan', displayName: 'Dan Beaumont', email: 'dan@mail.example' },
  ];
  let lunch: RoomView = { roomUri: LUNCH, name: 'Lunch', hubDomain: 'localhost', members: [ME], unread: 0, epoch: '1' };
  const account = (): AccountView => localAccount({ id: ACCT, userUri: ME, handle: 'alice' });
  const userOf = (u: string) => parseUserAddress(u, 'localhost');
  const done = (changedCount = 1) => ({ outcome: 'done' as const, changed: changedCount, notified: true });
  const note = (method: string, args: unknown[]) => calls.push({ method, args });

  const core: MimiApi = {
    ...signedInAs(account),
    rooms: {
      list: async () => [lunch],
      create: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      join: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      leave: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      addMember: async (_a, _r, user) => {
        const uri = userOf(user);
        const ok = consent.outgoing.some((o) => o.user === uri && o.status === 'granted');
        if (!ok) throw new CoreError('noConsent', `${user} has not consented to being added by you (noConsent).`);
        lunch = { ...lunch, members: [...lunch.members, uri] };
        emit({ type: 'rooms', accountId: ACCT, rooms: [lunch] });
        return lunch;
      },
      ...muteNotInFixture,
      markRead: async () => undefined,
      ...unmanagedRoomSettings((roomUri) => (roomUri === LUNCH ? lunch : undefined)),
      ...noMinimalMetadataRooms,
    },
    messages: { page: async () => [], send: async () => Promise.reject(new CoreError('internal', 'not in this fixture')), ...noMessageReports, ...messageActionsNotInFixture },
    consent: {
      list: async () => structuredClone(consent),
      request: async (...args) => {
        note('request', args);
        const [, user, roomUri] = args;
        consent.outgoing.push({ user: userOf(user), ...(roomUri ? { roomUri } : {}), status: 'pending', at: Date.now() });
        changed();
        return { outcome: 'requested', changed: 1, notified: true };
      },
      cancel: async (_a, user) => {
        consent.outgoing = consent.outgoing.filter((o) => o.user !== userOf(user));
        changed();
        return done();
      },
      grant: async (...args) => {
        note('grant', args);
        const [, user, roomUri] = args;
        const uri = userOf(user);
        consent.incoming = consent.incoming.filter((r) => r.user !== uri);
        consent.granted.push({ user: uri, ...(roomUri ? { roomUri } : {}), at: Date.now() });
        changed();
        return done();
      },
      decline: async (_a, user) => {
        consent.incoming = consent.incoming.filter((r) => r.user !== userOf(user));
        changed();
        return done();
      },
      revoke: async (...args) => {
        note('revoke', args);
        const [, user, roomUri] = args;
        consent.granted = consent.granted.filter((g) => !(g.user === userOf(user) && (roomUri === null || g.roomUri === roomUri)));
        changed();
        return done();
      },
      block: async (_a, user) => {
        const uri = userOf(user);
        consent.incoming = consent.incoming.filter((r) => r.user !== uri);
        consent.blocked.push({ user: uri, at: Date.now() });
        changed();
        return done();
      },
      unblock: async (_a, user) => {
        consent.blocked = consent.blocked.filter((b) => b.user !== userOf(user));
        changed();
        return done();
      },
    },
    ...quietPseudonymsAndConnections(),
    ...quietLinksAndKnocks(),
    people: {
      find: async (...args) => {
        note('find', args);
        const [, q] = args;
        if (q.domain !== 'b.example') return { status: 'notFound', domain: q.domain ?? 'localhost', results: [] };
        const results = directory.filter((u) => (!q.name || u.displayName?.toLowerCase().includes(q.name.toLowerCase())) && (!q.handle || u.handle === q.handle));
        return { status: results.length ? 'success' : 'notFound', domain: 'b.example', results };
      },
      myProfile: async () => structuredClone(profile),
      avatar: async () => null,
      setAvatar: async () => null,
      setProfileFields: async (_a, fields) => {
        for (const [k, v] of Object.entries(fields)) {
          if (v === null) delete (profile as unknown as Record<string, unknown>)[k];
          else (profile as unknown as Record<string, unknown>)[k] = v;
        }
        return structuredClone(profile);
      },
      setSearchable: async (...args) => {
        note('setSearchable', args);
        const [, field, on] = args;
        profile.searchable[field] = on;
        return structuredClone(profile);
      },
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return {
    core,
    calls,
    profile,
    consent,
    /** The other side answers an outgoing request. */
    answer(user: string, status: 'granted' | 'revoked') {
      for (const o of consent.outgoing) if (o.user === user) o.status = status;
      changed();
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
  session = await openOnFakeCore(fixture.core, { width: 1200, height: 800 });
  ({ browser, bridge, page, problems } = session);
});

after(async () => {
  await session?.close();
});

const request = (user: string) => page.locator(`[data-testid=consent-request][data-user="${user}"]`);

test('an incoming consent request is accepted, shows in the granted list, and is revoked; another is blocked', async () => {
  await page.goto(bridge.url);
  await request(BEA).waitFor();
  assert.match(await request(BEA).innerText(), /bea@b\.example wants to add you to “Lunch”/);
  assert.match(await request(CARL).innerText(), /carl@c\.example wants to add you to their rooms/);
  assert.equal(await page.getByTestId('people-waiting').innerText(), '2');
  await screenshot(page, '20-consent-prompt');

  await request(BEA).getByTestId('consent-accept').click();
  await eventually('bea request gone', async () => (await request(BEA).count()) === 0);
  // Accepting grants what was asked: that one room.
  assert.deepEqual(fixture.calls.find((c) => c.method === 'grant')?.args, [ACCT, BEA, LUNCH]);
  assert.equal(await page.getByTestId('people-waiting').innerText(), '1');

  await page.getByTestId('open-people').click();
  await page.getByTestId('consent-panel').waitFor();
  const granted = page.locator(`[data-testid=granted-item][data-user="${BEA}"]`);
  await granted.waitFor();
  assert.match(await granted.innerText(), /bea@b\.example\s+only to “Lunch”/);
  assert.equal(await granted.getByTestId('consent-revoke').innerText(), 'Revoke');
  await screenshot(page, '21-consent-granted');

  await request(CARL).getByTestId('consent-block').click();
  await page.locator(`[data-testid=blocked-item][data-user="${CARL}"]`).waitFor();
  assert.equal(await page.getByTestId('consent-prompt').count(), 0);
  assert.equal(await page.getByTestId('people-waiting').count(), 0);

  await granted.getByTestId('consent-revoke').click();
  await page.getByTestId('granted-empty').waitFor();
  assert.deepEqual(fixture.calls.find((c) => c.method === 'revoke')?.args, [ACCT, BEA, LUNCH]);
  assert.match(await page.getByTestId('consent-done').innerText(), /bea@b\.example can no longer add you to that room/);
  await page.getByTestId('people-close').click();
  await page.getByTestId('chat-empty').waitFor();
});

test('adding someone who has not consented offers "Ask for consent" there, and the outcome shows', async () => {
  await page.locator('[data-testid=room-item][data-room-name="Lunch"]').click();
  await page.getByTestId('add-member-input').fill('dan@b.example');
  await page.getByTestId('add-member-submit').click();
  const err = page.getByTestId('add-member-error');
  await err.waitFor();
  assert.match(await err.innerText(), /dan@b\.example has not accepted contact from you yet — ask for consent/);
  await screenshot(page, '22-add-member-no-consent');
  await err.getByTestId('ask-consent').click();
  await page.getByTestId('add-member-done').filter({ hasText: 'Asked dan@b.example for consent to this room' }).waitFor();
  assert.deepEqual(fixture.calls.find((c) => c.method === 'request')?.args, [ACCT, DAN, LUNCH]);

  await page.getByTestId('open-people').click();
  await page.getByTestId('people-tab-consent').click();
  const out = page.locator(`[data-testid=outgoing-item][data-user="${DAN}"]`);
  await out.waitFor();
  assert.match(await out.getByTestId('outgoing-status').innerText(), /waiting for an answer/);
  fixture.answer(DAN, 'granted');
  await eventually('accepted shown', async () => /accepted/.test(await out.getByTestId('outgoing-status').innerText()));
  await screenshot(page, '23-outgoing-accepted');

  // Now the add goes through.
  await page.getByTestId('people-close').click();
  await page.getByTestId('add-member-input').fill('dan@b.example');
  await page.getByTestId('add-member-submit').click();
  await page.getByTestId('add-member-done').filter({ hasText: 'Added dan@b.example' }).waitFor();
});

test('find people on another provider, add or ask from the results, and choose what others can find', async () => {
  await page.getByTestId('open-people').click();
  await page.getByTestId('people-tab-find').click();
  await page.getByTestId('find-domain').fill('b.example');
  await page.getByTestId('find-field').selectOption('name');
  await page.getByTestId('find-value').fill('bea');
  await page.getByTestId('find-submit').click();
  await page.getByTestId('find-results').waitFor();
  assert.deepEqual(fixture.calls.filter((c) => c.method === 'find').pop()?.args, [ACCT, { name: 'bea', domain: 'b.example' }]);
  const rows = await page.getByTestId('find-result').allInnerTexts();
  assert.equal(rows.length, 2);
  assert.match(rows[0], /Bea Baker\s+bea@b\.example/);
  assert.match(rows[1], /Dan Beaumont\s+dan@b\.example · dan@mail\.example/);
  const bea = page.locator(`[data-testid=find-result][data-user="${BEA}"]`);
  assert.equal(await bea.getByTestId('find-room').inputValue(), LUNCH);
  await bea.getByTestId('find-add').click();
  await bea.getByTestId('find-row-error').filter({ hasText: 'bea@b.example has not accepted contact from you yet' }).waitFor();
  await screenshot(page, '24-find-people');
  await bea.getByTestId('find-row-ask').click();
  await bea.getByTestId('find-row-done').filter({ hasText: 'Asked bea@b.example for consent to “Lunch”' }).waitFor();

  // Nobody found: said plainly.
  await page.getByTestId('find-domain').fill('c.example');
  await page.getByTestId('find-submit').click();
  await page.getByTestId('find-empty').filter({ hasText: 'Nobody found' }).waitFor();

  // What others can find: only the exact handle by default.
  await page.getByTestId('people-tab-settings').click();
  await page.getByTestId('searchable-row').first().waitFor();
  const on = async (f: string) => page.getByTestId(`searchable-${f}`).isChecked();
  assert.deepEqual(await Promise.all(['handle', 'nick', 'email', 'phone', 'name'].map(on)), [true, false, false, false, false]);
  assert.equal(await page.getByTestId('profile-email').inputValue(), 'alice@mail.example');
  await page.getByTestId('searchable-email').check();
  await eventually('email searchable', async () => fixture.profile.searchable.email);
  assert.deepEqual(fixture.calls.filter((c) => c.method === 'setSearchable').pop()?.args, [ACCT, 'email', true]);
  await page.getByTestId('searchable-handle').uncheck();
  await eventually('handle hidden', async () => !fixture.profile.searchable.handle);
  assert.match(await page.locator('[data-testid=searchable-row][data-field=email]').innerText(), /Findable/);
  // Details: set a phone number, clear the email.
  await page.getByTestId('profile-phone').fill('+12125551212');
  await page.getByTestId('profile-email').fill('');
  await page.getByTestId('profile-save').click();
  await page.getByTestId('searchable-saved').filter({ hasText: 'Saved.' }).waitFor();
  assert.equal(fixture.profile.phone, '+12125551212');
  assert.equal(fixture.profile.email, undefined);
  await screenshot(page, '25-searchable-settings');

  // Dark mode, narrow window.
  const dark = await browser.newContext({ viewport: { width: 820, height: 640 }, colorScheme: 'dark' });
  const darkPage = await dark.newPage();
  const darkProblems = collectPageProblems(darkPage);
  await darkPage.goto(bridge.url);
  await darkPage.getByTestId('open-people').click();
  await darkPage.getByTestId('people-tab-settings').click();
  await darkPage.getByTestId('searchable-row').first().waitFor();
  await screenshot(darkPage, '26-dark-searchable');
  await dark.close();
  assert.deepEqual(darkProblems, []);
  assert.deepEqual(problems, []);
});
