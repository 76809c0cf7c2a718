// Settings → Provider keys in real Chromium on a real core (its embedded provider; alice signs up
// through the page). The key is pinned the way an add pins it: key-package-fetch.ts itself, on the
// account's real profile database, against a stand-in for b.example that publishes a signed OHTTP
// key configuration. Checked: the empty state says what the list is for; a pin made while Settings
// is open shows up at once (the core's 'providerKeys' event) with the fingerprint the "key
// changed" error names and when it was recorded; Forget asks first and says when it is safe;
// Cancel keeps the key; confirming forgets it in the core and the list is empty again; the same in
// German, and the error's pointer to the section. axe-core light, dark and at 480 px, the dialog included.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { x25519 } from '@noble/curves/ed25519.js';
import type { Browser, Page } from 'playwright-core';
import { toB64, toHex } from '../../src-shared/bytes.js';
import type { FindResponse, OhttpKeysResponse, OhttpRelayResponse } from '../../src-shared/provider-api.js';
import { encodeOhttpKeysEntry, signOhttpKeys } from '../../src-shared/key-package-vouch.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { encodeKeyConfigs } from '../../src-shared/ohttp.js';
import { fetchKeyPackagesOverOhttp, type KeyPackageFetchClient } from '../../src-main/core/key-package-fetch.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import type { Profile } from '../../src-main/core/profile.js';
import { ProviderError } from '../../src-main/net/provider-client.js';
import { assertAccessible, builtRenderer, closeRealCoreSide, eventually, launchChromium, openOnRealCore, register, screenshot, type RealCoreSide } from './browser.js';

const WAIT = 30_000;
let browser: Browser;
let side: RealCoreSide;
let page: Page;
let aliceId: string;

/** b.example as our provider relays it: a signed key configuration, no token key (the add goes the ordinary way). */
class OtherProvider implements KeyPackageFetchClient {
  readonly providerKey = generateSignatureKeyPair();
  private readonly config = { keyId: 1, kemId: 0x20, publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()), suites: [{ kdfId: 1, aeadId: 1 }] };
  async ohttpKeys(domain: string): Promise<OhttpKeysResponse> {
    assert.equal(domain, 'b.example');
    const k = this.providerKey;
    return { entry: toB64(encodeOhttpKeysEntry(signOhttpKeys(k.privateKey, k.publicKey, encodeKeyConfigs([this.config])))) };
  }
  async find(): Promise<FindResponse> {
    throw new ProviderError(404, 'notFound', 'no token key');
  }
  async ohttpRelay(): Promise<OhttpRelayResponse> {
    throw new Error('nothing is relayed here');
  }
}

/** alice's Profile inside the core (as the integration tests reach a Profile's context). */
function aliceDb(): ProfileContext['db'] {
  const profiles = (side.core as unknown as { profiles: Map<string, Profile> }).profiles;
  return (profiles.get(aliceId) as unknown as { ctx: ProfileContext }).ctx.db;
}

before(async () => {
  browser = await launchChromium();
  side = await openOnRealCore(browser, builtRenderer(), { dirPrefix: 'mimi-e2e-provider-keys-', embeddedProvider: true, viewport: { width: 1280, height: 800 } });
  page = side.page;
  await page.goto(side.bridge.url);
  await register(page, 'alice');
  aliceId = (await side.core.accounts.list())[0].id;
});

after(async () => {
  if (side) await closeRealCoreSide(side);
  await browser?.close();
});

async function assertNoSideScroll(what: string): Promise<void> {
  const over = await page.evaluate(() => {
    const found: string[] = [];
    if (document.documentElement.scrollWidth > window.innerWidth) found.push('the page');
    for (const el of document.querySelectorAll('.sheet, .card, .overlay')) if (el.scrollWidth > el.clientWidth + 1) found.push(el.className);
    return found;
  });
  assert.deepEqual(over, [], `${what}: wider than the window`);
}

test('provider keys: empty state, a pinned key appears at once, forget behind a confirmation; axe light, dark, 480 px', async () => {
  await page.getByTestId('open-settings').click();
  const section = page.getByTestId('settings-providerKeys');
  await section.waitFor();
  assert.equal(await section.getByRole('heading', { level: 3 }).innerText(), 'Provider keys');

  // Nothing pinned yet: the empty state says what the list is for.
  const empty = section.getByTestId('provider-keys-empty');
  await empty.waitFor({ timeout: WAIT });
  assert.match(await empty.innerText(), /No provider keys recorded yet\. A key appears here the first time you add someone from another provider/);
  assert.equal(await section.getByTestId('provider-key-list').count(), 0);
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'provider keys, empty, light');
  await screenshot(page, '360-provider-keys-empty');

  // An add of bob@b.example pins b.example's key (key-package-fetch.ts on alice's real database):
  // the open section shows it without being reopened.
  const other = new OtherProvider();
  const pinnedAt = Date.now();
  assert.equal(await fetchKeyPackagesOverOhttp({ client: other, store: aliceDb(), now: () => pinnedAt }, 'mimi://b.example/u/bob'), undefined);
  const fingerprint = (toHex(other.providerKey.publicKey.subarray(0, 8)).match(/../g) ?? []).join(':');
  const row = section.getByTestId('provider-key-b.example');
  await row.waitFor({ timeout: WAIT });
  assert.equal(await empty.count(), 0, 'the empty state is gone');
  assert.deepEqual(await side.core.providerKeys.list(aliceId), [{ domain: 'b.example', fingerprint, pinnedAt }]);
  assert.equal(await row.getByTestId('provider-key-domain').innerText(), 'b.example');
  assert.equal(await row.getByTestId('provider-key-fingerprint').innerText(), `Key ${fingerprint}`);
  const recorded = await row.getByTestId('provider-key-recorded').innerText();
  assert.match(recorded, /^Recorded /);
  assert.ok(recorded.includes(String(new Date(pinnedAt).getFullYear())), `the recording date is shown (${recorded})`);
  await assertAccessible(page, 'provider keys, one key, light');
  await screenshot(page, '361-provider-keys-one');

  // Forget asks first, saying when it is safe; the safe choice has the focus; Cancel keeps the key.
  const forget = row.getByRole('button', { name: 'Forget the key of b.example' });
  await forget.click();
  const dialog = page.getByTestId('provider-key-forget-dialog');
  await dialog.waitFor();
  assert.equal(await dialog.getAttribute('role'), 'alertdialog');
  assert.match(await dialog.innerText(), /Forget the key of b\.example\?/);
  assert.match(await dialog.innerText(), /only after the operator of b\.example told you they replaced their key\. If they did not, someone may be pretending to be b\.example/);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'provider-key-forget-cancel');
  await assertAccessible(page, 'forget confirmation, light');
  await screenshot(page, '362-provider-keys-confirm');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'provider-key-forget', 'the focus is back on Forget');
  await forget.click();
  await page.getByTestId('provider-key-forget-cancel').click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal((await side.core.providerKeys.list(aliceId)).length, 1, 'cancelled: still pinned');

  // Dark and narrow, the dialog included.
  await page.getByTestId('theme-dark').check();
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'provider keys, dark');
  await screenshot(page, '363-provider-keys-dark');
  await page.setViewportSize({ width: 480, height: 800 });
  await section.scrollIntoViewIfNeeded();
  await assertAccessible(page, 'provider keys at 480 px, dark');
  await assertNoSideScroll('provider keys at 480 px');
  await forget.click();
  await dialog.waitFor();
  await assertAccessible(page, 'forget confirmation at 480 px, dark');
  await assertNoSideScroll('forget confirmation at 480 px');
  const box = await dialog.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 480, `the dialog fits 480 px (${JSON.stringify(box)})`);
  await screenshot(page, '364-provider-keys-confirm-narrow');

  // Confirmed: forgotten in the core, the list empty again, and said so.
  await page.getByTestId('provider-key-forget-confirm').click();
  await dialog.waitFor({ state: 'detached' });
  await empty.waitFor({ timeout: WAIT });
  assert.equal(await row.count(), 0);
  assert.match(await section.getByTestId('provider-keys-note').innerText(), /The key of b\.example was forgotten\. The next add of someone from b\.example records its current key\./);
  assert.deepEqual(await side.core.providerKeys.list(aliceId), []);
  assert.equal(aliceDb().ohttpProviderKey('b.example'), undefined);
  await assertAccessible(page, 'provider keys, forgotten, 480 px, dark');
  await assertNoSideScroll('provider keys, forgotten, 480 px');
  await screenshot(page, '365-provider-keys-forgotten-narrow');

  // The next add records the key b.example publishes then.
  const replaced = new OtherProvider();
  await fetchKeyPackagesOverOhttp({ client: replaced, store: aliceDb() }, 'mimi://b.example/u/bob');
  await row.waitFor({ timeout: WAIT });
  assert.equal(await row.getByTestId('provider-key-fingerprint').innerText(), `Key ${(toHex(replaced.providerKey.publicKey.subarray(0, 8)).match(/../g) ?? []).join(':')}`);

  await page.getByTestId('theme-system').check();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('settings-close').click();
  assert.deepEqual(side.problems, [], 'no page errors');
});

test('in German: the section, a key and the confirmation; axe light and dark', async () => {
  // b.example is pinned (the key the test before recorded last); another key is refused, and the
  // error tells app users where to go.
  await assert.rejects(fetchKeyPackagesOverOhttp({ client: new OtherProvider(), store: aliceDb() }, 'mimi://b.example/u/bob'), (e: Error) => {
    assert.match(e.message, /forget the recorded key, then add again: in the app under Settings → Provider keys, or with the command mimi ohttp forget b\.example/);
    return true;
  });
  await page.getByTestId('open-settings').click();
  await page.getByTestId('settings-language').selectOption('de');
  await page.waitForFunction(() => document.documentElement.lang === 'de');
  const section = page.getByTestId('settings-providerKeys');
  await section.scrollIntoViewIfNeeded();
  assert.equal(await section.locator('h3').innerText(), 'Anbieter-Schlüssel');
  assert.match(await section.innerText(), /Wenn du jemanden von einem anderen Anbieter hinzufügst/);
  const row = section.getByTestId('provider-key-b.example');
  assert.match(await row.getByTestId('provider-key-fingerprint').innerText(), /^Schlüssel ([0-9a-f]{2}:){7}[0-9a-f]{2}$/);
  assert.match(await row.getByTestId('provider-key-recorded').innerText(), /^Gespeichert am /);
  await assertAccessible(page, 'provider keys in German, light');
  await page.getByTestId('theme-dark').check();
  await section.scrollIntoViewIfNeeded();
  await row.getByRole('button', { name: 'Schlüssel von b.example vergessen' }).click();
  const dialog = page.getByTestId('provider-key-forget-dialog');
  assert.match(await dialog.innerText(), /Schlüssel von b\.example vergessen\?[\s\S]*Tu das nur, nachdem dir der Betreiber von b\.example gesagt hat/);
  await assertAccessible(page, 'forget confirmation in German, dark');
  await screenshot(page, '366-provider-keys-confirm-de');
  await page.getByTestId('provider-key-forget-confirm').click();
  await section.getByTestId('provider-keys-empty').waitFor({ timeout: WAIT });
  assert.match(await section.getByTestId('provider-keys-empty').innerText(), /Noch keine Anbieter-Schlüssel gespeichert/);
  assert.match(await section.getByTestId('provider-keys-note').innerText(), /Der Schlüssel von b\.example wurde vergessen/);
  await assertAccessible(page, 'provider keys in German, empty, dark');
  await page.getByTestId('theme-system').check();
  await page.getByTestId('settings-language').selectOption('en');
  await page.getByTestId('settings-close').click();
  assert.deepEqual(side.problems, [], 'no page errors');
});
