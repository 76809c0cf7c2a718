// Shared pieces of the browser e2e tests: the system Chromium, the built renderer, screenshots,
// a page on a fake core, and a person on a real core.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureRendererBuilt } from '../../scripts/renderer-build.js';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import type { MimiApi } from '../../src-shared/contract.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
export const CHROMIUM = process.env.MIMI_CHROMIUM ?? '/usr/bin/chromium';

export function builtRenderer(): string {
  return ensureRendererBuilt(ROOT);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * axe-core's violations on what the page shows now (its default rules: WCAG A/AA and best
 * practices, colour contrast included). axe is put into the page by the DevTools protocol, which
 * the page's CSP does not govern, so the page's own policy stays as strict as in use.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) {
    const { default: axe } = await import('axe-core');
    await page.evaluate(axe.source);
  }
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: typeof import('axe-core') }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/** Fails, listing what axe found, unless what the page shows now has no violations. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `${what}: axe found ${violations.map((v) => `${v.id} (${v.help}) at ${v.targets.join(', ')}`).join('; ')}`);
}

/** Problems the page reported: script errors and CSP violations must not happen. */
export function collectPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  return problems;
}

/** Poll `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The real bridge in front of a fake core, and one Chromium page on it (problems collected). */
export interface FakeCoreSession {
  browser: Browser;
  bridge: Bridge;
  page: Page;
  problems: string[];
  close(): Promise<void>;
}

export async function openOnFakeCore(core: MimiApi, viewport: { width: number; height: number }): Promise<FakeCoreSession> {
  const bridge = await startBridge({ core, rendererDir: builtRenderer() });
  const browser = await launchChromium();
  const page = await (await browser.newContext({ viewport })).newPage();
  return {
    browser,
    bridge,
    page,
    problems: collectPageProblems(page),
    async close() {
      await browser.close();
      await bridge.close();
    },
  };
}

/** One person on the real core: their own data dir, core, bridge, and a browser context with one page (problems collected). */
export interface RealCoreSide {
  dir: string;
  core: AppCore;
  bridge: Bridge;
  context: BrowserContext;
  page: Page;
  problems: string[];
}

export async function openOnRealCore(
  browser: Browser,
  rendererDir: string,
  o: { dirPrefix: string; embeddedProvider: boolean; viewport: { width: number; height: number } },
): Promise<RealCoreSide> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), o.dirPrefix));
  const core = await createAppCore({ dataDir: dir, mode: 'browser', embeddedProvider: o.embeddedProvider, secretMode: 'plaintext' });
  const bridge = await startBridge({ core, rendererDir });
  const context = await browser.newContext({ viewport: o.viewport });
  const page = await context.newPage();
  return { dir, core, bridge, context, page, problems: collectPageProblems(page) };
}

/** Closes the side's context, bridge and core (unless the test already closed it) and removes its data dir. */
export async function closeRealCoreSide(s: RealCoreSide, o: { coreClosed?: boolean } = {}): Promise<void> {
  await s.context.close().catch(() => undefined);
  await s.bridge.close();
  if (!o.coreClosed) await s.core.close();
  fs.rmSync(s.dir, { recursive: true, force: true });
}

/** Two people on one provider: A's core runs the embedded provider, B's core signs up on it. */
export interface RealCorePair {
  browser: Browser;
  a: RealCoreSide;
  b: RealCoreSide;
}

export async function openPairOnOneProvider(label: string, viewport: { width: number; height: number }): Promise<RealCorePair> {
  const rendererDir = builtRenderer();
  const browser = await launchChromium();
  const side = (who: string, embeddedProvider: boolean) => openOnRealCore(browser, rendererDir, { dirPrefix: `mimi-e2e-${label}-${who}-`, embeddedProvider, viewport });
  let a: RealCoreSide | undefined;
  try {
    a = await side('alice', true);
    return { browser, a, b: await side('bob', false) };
  } catch (e) {
    await closePair({ browser, a });
    throw e;
  }
}

/** B first: its core talks to the provider A's core hosts. Takes what `before` got as far as opening. */
export async function closePair(p: Partial<RealCorePair> | undefined): Promise<void> {
  for (const s of [p?.b, p?.a]) if (s) await closeRealCoreSide(s);
  await p?.browser?.close();
}

export const PASSWORD = 'correct horse battery';

export async function openAdvanced(page: Page): Promise<void> {
  if (!(await page.locator('details.advanced').evaluate((d) => (d as HTMLDetailsElement).open))) await page.locator('.advanced summary').click();
}

/** Creates an account from the sign-in form (on `provider`, else the embedded one) and waits until it is the active one. */
export async function register(page: Page, handle: string, provider?: { url: string; caPem: string }, timeout = 20_000): Promise<void> {
  await page.getByTestId('signin').waitFor();
  await page.getByTestId('tab-register').click();
  await page.getByTestId('signin-handle').fill(handle);
  await page.getByTestId('signin-password').fill(PASSWORD);
  if (provider) {
    await openAdvanced(page);
    await page.getByTestId('signin-provider').fill(provider.url);
    await page.getByTestId('signin-ca').fill(provider.caPem);
  }
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('active-account').filter({ hasText: handle }).waitFor({ timeout });
}

/** alice signs up on A's page (the embedded provider), then bob on B's page, on A's provider. */
export async function signUpPair({ a, b }: Pick<RealCorePair, 'a' | 'b'>): Promise<void> {
  await a.page.goto(a.bridge.url);
  await register(a.page, 'alice');
  const embedded = a.core.embedded;
  assert.ok(embedded, 'core A runs the embedded provider');
  await b.page.goto(b.bridge.url);
  await register(b.page, 'bob', embedded);
}
