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
import { assertAccessible, collectPageProblems, eventually, openOnFakeCore, screenshot, type FakeCoreSession } from './browser.js';
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
      safetyNumber: async () => {
        throw new Error('not in this fixture');
      },
      setVerified: async () => {
        throw new Error('not in this fixture');
      },
      compareSafetyNumberQr: async () => 'notASafetyNumber',
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
    /** The core tells of an accepted request (its event carries the core's English sentence). */
    tellGranted(user: string, roomUri: string) {
      const at = Date.now();
      consent.outgoing.push({ user, roomUri, status: 'granted', at });
      changed();
      emit({ type: 'consentGranted', accountId: ACCT, grant: { user, roomUri, roomName: 'Lunch', at, text: `${user} accepted your request: you can now add them to “Lunch”.` } });
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

/** English words that would give away an untranslated heading, tab, label or button. */
const ENGLISH = /\b(the|you|your|to|of|and|wants|add|Accept|Decline|Block|Back|People|Consent|Connections|Find|Search|Save|Revoke|Allowed|Asking|Nobody|Anyone|Dismiss|Requests|What|Who)\b/;

async function readTexts(page: Page, scope: string, selector: string): Promise<string[]> {
  return (await page.locator(`${scope} :is(${selector})`).allInnerTexts()).map((x) => x.trim()).filter(Boolean);
}

test('in German: the consent prompt and the People screen speak German, light and dark, and at 480 px', async () => {
  const de = fakeCore();
  const s = await openOnFakeCore(de.core, { width: 1200, height: 800 });
  try {
    const p = s.page;
    await p.addInitScript(() => localStorage.setItem('mimi.locale', 'de'));
    await p.goto(s.bridge.url);
    const req = (user: string) => p.locator(`[data-testid=consent-request][data-user="${user}"]`);
    await req(BEA).waitFor();
    assert.equal(await p.locator('html').getAttribute('lang'), 'de');

    // The prompt: who asks and for which room, in a German sentence, and German buttons.
    const prompt = p.getByTestId('consent-prompt');
    assert.equal(await prompt.getAttribute('aria-label'), 'Anfragen um Zustimmung');
    assert.equal((await req(BEA).locator('p').innerText()).trim(), 'bea@b.example möchte dich zu „Lunch“ hinzufügen.');
    assert.equal((await req(CARL).locator('p').innerText()).trim(), 'carl@c.example möchte dich zu eigenen Räumen hinzufügen.');
    assert.deepEqual(await req(BEA).getByRole('button').allInnerTexts(), ['Annehmen', 'Ablehnen', 'Blockieren']);
    // An accepted request of ours is told in German too, not in the core's English sentence.
    de.tellGranted(DAN, LUNCH);
    const news = p.getByTestId('consent-granted-news');
    await news.waitFor();
    assert.equal(await news.locator('p').innerText(), 'dan@b.example hat deine Anfrage angenommen: Du kannst dan@b.example jetzt zu „Lunch“ hinzufügen.');
    assert.deepEqual(await news.getByRole('button').allInnerTexts(), ['Zu „Lunch“ hinzufügen', 'Ausblenden']);
    for (const text of await readTexts(p, '[data-testid=consent-prompt]', 'p, button')) assert.doesNotMatch(text.replace(/\S+@\S+/g, ''), ENGLISH, `English left in the prompt: ${text}`);
    await screenshot(p, '215-consent-prompt-de');
    await assertAccessible(p, 'the consent prompt in German, light');
    await p.emulateMedia({ colorScheme: 'dark' });
    await assertAccessible(p, 'the consent prompt in German, dark');
    await p.emulateMedia({ colorScheme: 'light' });

    // The People screen: title, tabs (with the waiting count), each panel's headings and buttons.
    await p.getByTestId('open-people').click();
    await p.getByTestId('consent-panel').waitFor();
    const view = '[data-testid=people-view]';
    assert.equal(await p.locator(`${view} h2`).innerText(), 'Personen');
    assert.equal(await p.getByTestId('people-close').innerText(), 'Zurück zu den Räumen');
    assert.deepEqual((await p.getByRole('tab').allInnerTexts()).map((x) => x.replace(/\d+$/, '').trim()), ['Zustimmung', 'Verbindungen', 'Personen finden', 'Was andere finden']);
    assert.equal(await p.getByTestId('people-tab-consent').locator('.badge').getAttribute('aria-label'), '2 offen');
    assert.deepEqual(await p.locator(`${view} h3`).allInnerTexts(), ['Möchten dich hinzufügen', 'Dürfen dich hinzufügen', 'Deine Anfragen']);
    const bea = p.locator(`[data-testid=incoming-item][data-user="${BEA}"]`);
    assert.equal(await bea.getByTestId('incoming-room').innerText(), 'möchte dich zu „Lunch“ hinzufügen');
    assert.match(await p.getByTestId('outgoing-status').innerText(), /^angenommen – du kannst die Person jetzt hinzufügen$/);
    await bea.getByTestId('incoming-accept').click();
    await p.getByTestId('consent-done').filter({ hasText: 'bea@b.example kann dich jetzt zu „Lunch“ hinzufügen.' }).waitFor();
    await p.locator(`[data-testid=granted-item][data-user="${BEA}"]`).filter({ hasText: 'nur zu „Lunch“' }).waitFor();
    await screenshot(p, '216-people-consent-de');

    const checkPanel = async (what: string) => {
      for (const text of await readTexts(p, view, 'h2, h3, legend, label, button, [role=tab], .intro')) {
        assert.doesNotMatch(text.replace(/\S+@\S+|\S+\.example\S*/g, ''), ENGLISH, `${what}: English left: ${text}`);
      }
      await assertAccessible(p, `${what} in German, light`);
      await p.emulateMedia({ colorScheme: 'dark' });
      await assertAccessible(p, `${what} in German, dark`);
      await p.emulateMedia({ colorScheme: 'light' });
    };
    await checkPanel('the Consent tab');

    await p.getByTestId('people-tab-connections').click();
    await p.getByTestId('request-policy-anyone').waitFor();
    assert.equal(await p.locator('#connect-heading').innerText(), 'Mit jemandem verbinden');
    assert.equal(await p.getByTestId('connect-submit').innerText(), 'Verbinden');
    // What the form says is wrong comes in German as well.
    await p.getByTestId('connect-input').fill('not an address');
    await p.getByTestId('connect-submit').click();
    assert.equal(await p.getByTestId('connect-error').innerText(), '„not an address“ ist keine Nutzeradresse. Verwende bob, bob@b.example oder mimi://b.example/u/bob.');
    await p.getByTestId('request-policy-domains').check();
    await p.getByTestId('request-policy-save').click();
    assert.equal(await p.getByTestId('request-policy-error').innerText(), 'Gib mindestens eine Domain eines Anbieters ein, etwa b.example, oder wähle „Niemand“.');
    await checkPanel('the Connections tab');
    await screenshot(p, '217-people-connections-de');

    await p.getByTestId('people-tab-find').click();
    await p.getByTestId('find-domain').fill('b.example');
    await p.getByTestId('find-field').selectOption('name');
    assert.equal(await p.getByTestId('find-value').getAttribute('placeholder'), 'mindestens 3 Buchstaben des Namens');
    await p.getByTestId('find-value').fill('bea');
    await p.getByTestId('find-submit').click();
    await p.getByTestId('find-results').waitFor();
    const found = p.locator(`[data-testid=find-result][data-user="${BEA}"]`);
    assert.equal(await found.getByTestId('message-person').getAttribute('aria-label'), 'Nachricht an bea@b.example');
    await found.getByTestId('find-add').click();
    assert.match(
      await found.getByTestId('find-row-error').innerText(),
      /^bea@b\.example hat dem Kontakt mit dir noch nicht zugestimmt – bitte um Zustimmung und füge die Person hinzu, sobald sie angenommen hat\.\s+Um Zustimmung zu „Lunch“ bitten$/,
    );
    await checkPanel('the Find people tab');

    await p.getByTestId('people-tab-settings').click();
    await p.getByTestId('searchable-row').first().waitFor();
    assert.deepEqual(await p.locator('.searchable-label').allInnerTexts(), ['Nutzername', 'Spitzname', 'E-Mail', 'Telefon', 'Anzeigename']);
    assert.equal(await p.getByTestId('searchable-email').getAttribute('aria-label'), 'Andere können mich über meine E-Mail-Adresse finden');
    await checkPanel('the What others can find tab');
    await screenshot(p, '218-people-searchable-de');

    // At phone width the German (longer than the English) still fits.
    await p.setViewportSize({ width: 480, height: 800 });
    await p.getByTestId('people-tab-consent').click();
    await p.getByTestId('consent-panel').waitFor();
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 480), 'nothing wider than 480 px');
    await p.emulateMedia({ colorScheme: 'dark' });
    await assertAccessible(p, 'the Consent tab in German at 480 px, dark');
    await screenshot(p, '219-people-consent-de-narrow-dark');
    assert.deepEqual(s.problems, []);
  } finally {
    await s.close();
  }
});
