// The real Electron window, when an Electron binary is available (it is not downloaded in every
// environment; set MIMI_ELECTRON_BINARY to one). Checks the built app starts with its sandboxed
// preload and shows the sign-in view, and that the page has the contract API and nothing more.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS } from '../../src-shared/contract.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron } from 'playwright-core';
import { findElectronBinary } from '../../scripts/electron-binary.js';
import { ROOT, screenshot } from './browser.js';

const binary = process.env.MIMI_ELECTRON_BINARY ? findElectronBinary(ROOT) : undefined;
const skip = binary?.found ? false : 'Electron binary not present (set MIMI_ELECTRON_BINARY)';

test('the Electron window opens on the sign-in view', { skip, timeout: 180_000 }, async () => {
  if (!binary?.found) return;
  const build = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, `electron-vite build failed:\n${build.stdout}${build.stderr}`);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-electron-'));
  const env = { ...process.env, MIMI_SECRETS: 'plaintext' } as Record<string, string>;
  delete env.ELECTRON_RUN_AS_NODE;
  // Chromium's sandbox cannot start as root (containers); the renderer stays context-isolated.
  const extra = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  const app = await electron.launch({ executablePath: binary.path, args: [ROOT, '--profile', profile, ...extra], env, timeout: 60_000 });
  try {
    const page = await app.firstWindow();
    await page.getByTestId('signin').waitFor({ timeout: 60_000 });
    assert.match(page.url(), /^mimi-app:\/\/ui\//);
    const exposed = await page.evaluate(() => ({
      keys: Object.keys((window as unknown as { mimi: Record<string, unknown> }).mimi).sort(),
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
    }));
    // Exactly the contract's domains (each a group of named functions) and onEvent: nothing else.
    const domains = [...new Set(Object.keys(METHODS).map((m) => m.split('.')[0])), 'onEvent'].sort();
    assert.deepEqual(exposed, { keys: domains, require: 'undefined', process: 'undefined' });
    // The desktop extras (desktop-ipc.ts): named functions only.
    const desktopKeys = await page.evaluate(() => Object.keys((window as unknown as { mimiDesktop: Record<string, unknown> }).mimiDesktop).sort());
    assert.deepEqual(desktopKeys, ['loginItem', 'notify', 'onOpenRoom', 'setLoginItem', 'setTrayLabels', 'setUnread', 'showInFolder']);
    // A malformed notification is dropped by main (no crash); the window stays.
    await page.evaluate(() => (window as unknown as { mimiDesktop: { notify(n: unknown): void } }).mimiDesktop.notify({ title: '', body: 'x', accountId: 'a', roomUri: 'https://x' }));
    assert.equal(typeof (await page.evaluate(() => (window as unknown as { mimiDesktop: { loginItem(): Promise<boolean> } }).mimiDesktop.loginItem())), 'boolean');
    await screenshot(page, '20-electron-signin');
  } finally {
    await app.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
