// Find people and consent as people see them, on real cores and two real provider processes
// (a.example and b.example, consent required), in Chromium:
// - alice finds bob by typing just "bob" with the provider b.example (and by "bob@b.example" with
//   her own provider in the field, which then follows the handle);
// - adding bob to "Team lunch" is refused for lack of consent, and she asks right there;
// - bob reads "alice@a.example wants to add you to “Team lunch”" (the room's name, not its URI);
//   the Consent tab lists exactly what its badge counts, and he accepts there;
// - alice is told "bob@b.example accepted your request: you can now add them to “Team lunch”" and
//   adds him from that notice; bob is then in the room.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startFederation, type FederatedProvider } from '../helpers/federation.js';
import { builtRenderer, closeRealCoreSide, eventually, launchChromium, openOnRealCore, register, screenshot, type RealCoreSide } from './browser.js';

const WAIT = 45_000;
const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';

let browser: Browser;
let a: RealCoreSide | undefined;
let b: RealCoreSide | undefined;
const closers: (() => Promise<void>)[] = [];
let A: FederatedProvider;
let B: FederatedProvider;

before(async () => {
  const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  A = f['a.example'];
  B = f['b.example'];
  closers.push(() => A.stop(), () => B.stop(), () => f.links['a.example'].close(), () => f.links['b.example'].close());
  const rendererDir = builtRenderer();
  browser = await launchChromium();
  const side = (who: string) => openOnRealCore(browser, rendererDir, { dirPrefix: `mimi-e2e-people-${who}-`, embeddedProvider: false, viewport: { width: 1200, height: 800 } });
  a = await side('alice');
  b = await side('bob');
});

after(async () => {
  for (const s of [b, a]) if (s) await closeRealCoreSide(s).catch(() => undefined);
  await browser?.close();
  for (const c of closers) await c().catch(() => undefined);
});

const findResult = (page: Page, user: string) => page.locator(`[data-testid=find-result][data-user="${user}"]`);

async function search(page: Page, provider: string, value: string): Promise<void> {
  await page.getByTestId('find-domain').fill(provider);
  await page.getByTestId('find-field').selectOption('handle');
  await page.getByTestId('find-value').fill(value);
  await page.getByTestId('find-submit').click();
}

test('find by a bare handle, ask for consent to a named room, accept it where it is counted, and hear back', async () => {
  const pa = a!.page;
  const pb = b!.page;
  await pa.goto(a!.bridge.url);
  await register(pa, 'alice', A, WAIT);
  await pb.goto(b!.bridge.url);
  await register(pb, 'bob', B, WAIT);

  // alice makes "Team lunch".
  await pa.getByTestId('new-room').click();
  await pa.getByTestId('new-room-name').fill('Team lunch');
  await pa.getByTestId('create-room-submit').click();
  await pa.locator('[data-testid=room-item][data-room-name="Team lunch"]').waitFor({ timeout: WAIT });

  // --- find: just "bob" on b.example ---
  await pa.getByTestId('open-people').click();
  await pa.getByTestId('people-tab-find').click();
  assert.equal(await pa.getByTestId('find-domain').inputValue(), 'a.example', 'the provider field starts on her own');
  await search(pa, 'b.example', 'bob');
  await findResult(pa, BOB).waitFor({ timeout: WAIT });
  assert.match(await findResult(pa, BOB).innerText(), /bob@b\.example/);
  // The whole address with her own provider in the field: the field follows the handle.
  await search(pa, 'a.example', 'bob@b.example');
  await eventually('provider field follows the handle', async () => (await pa.getByTestId('find-domain').inputValue()) === 'b.example');
  await findResult(pa, BOB).waitFor({ timeout: WAIT });
  await screenshot(pa, '60-find-bare-handle');

  // --- adding him is refused; she asks for consent to that room right there ---
  await findResult(pa, BOB).getByTestId('find-add').click();
  await findResult(pa, BOB).getByTestId('find-row-error').filter({ hasText: 'has not accepted contact from you yet' }).waitFor({ timeout: WAIT });
  await findResult(pa, BOB).getByTestId('find-row-ask').click();
  await findResult(pa, BOB).getByTestId('find-row-done').filter({ hasText: 'Asked bob@b.example for consent to “Team lunch”' }).waitFor({ timeout: WAIT });

  // --- bob reads who asks and for which room, by name ---
  const prompt = pb.locator(`[data-testid=consent-request][data-user="${ALICE}"]`);
  await prompt.waitFor({ timeout: WAIT });
  assert.match(await prompt.innerText(), /alice@a\.example wants to add you to “Team lunch”/);
  assert.doesNotMatch(await prompt.innerText(), /mimi:\/\//, 'no room URI on screen');
  await pb.getByTestId('open-people').click();
  await pb.getByTestId('people-tab-consent').click();
  const tabBadge = pb.getByTestId('people-tab-consent').locator('.badge');
  await eventually('the Consent tab badge', async () => (await tabBadge.count()) === 1);
  const items = pb.getByTestId('incoming-item');
  // The badge counts exactly the requests the tab lists.
  assert.equal(await tabBadge.innerText(), String(await items.count()));
  assert.equal(await items.count(), 1);
  assert.match(await items.first().innerText(), /alice@a\.example\s+wants to add you to “Team lunch”/);
  await screenshot(pb, '61-consent-tab-request');

  await items.first().getByTestId('incoming-accept').click();
  await pb.getByTestId('incoming-empty').waitFor({ timeout: WAIT });
  assert.equal(await tabBadge.count(), 0, 'nothing waits: no badge');
  assert.equal(await pb.getByTestId('people-waiting').count(), 0);
  await pb.locator(`[data-testid=granted-item][data-user="${ALICE}"]`).waitFor();

  // --- alice hears back, and adds him from the notice ---
  const news = pa.locator(`[data-testid=consent-granted-news][data-user="${BOB}"]`);
  await news.waitFor({ timeout: WAIT });
  assert.equal(await news.locator('p').innerText(), 'bob@b.example accepted your request: you can now add them to “Team lunch”.');
  await screenshot(pa, '62-consent-granted-news');
  await news.getByTestId('consent-granted-add').click();
  await pa.getByTestId('consent-granted-added').filter({ hasText: 'Added bob@b.example to “Team lunch”.' }).waitFor({ timeout: WAIT });
  assert.equal(await news.count(), 0, 'the notice goes once acted on');
  await pb.locator('[data-testid=room-item][data-room-name="Team lunch"]').waitFor({ timeout: WAIT });
});
