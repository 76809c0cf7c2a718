// The process adapters' pure parts: command-line options, which files may be served, which URLs
// count as our renderer, where the Electron binary is, and the CSP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseLaunchOptions } from '../../src-main/electron/launch-options.js';
import { APP_ENTRY_URL, isAppUrl } from '../../src-main/electron/app-protocol.js';
import { mimeTypeFor, resolveRendererFile } from '../../src-main/bridge/static-files.js';
import { contentSecurityPolicy } from '../../src-main/bridge/csp.js';
import { defaultDataDir, parseBrowserModeArgs } from '../../src-main/bridge/browser-main.js';
import { findElectronBinary } from '../../scripts/electron-binary.js';

test('--profile / --user-data-dir pick the profile folder, relative to the working directory', () => {
  assert.deepEqual(parseLaunchOptions(['.', '--profile', 'bob'], '/home/u'), { profileDir: '/home/u/bob' });
  assert.deepEqual(parseLaunchOptions(['--profile=/tmp/p'], '/x'), { profileDir: '/tmp/p' });
  assert.deepEqual(parseLaunchOptions(['--user-data-dir', '/tmp/q'], '/x'), { profileDir: '/tmp/q' });
  assert.deepEqual(parseLaunchOptions(['.', '--no-sandbox'], '/x'), {});
  assert.throws(() => parseLaunchOptions(['--profile'], '/x'), /needs a directory/);
  assert.throws(() => parseLaunchOptions(['--profile', '--no-sandbox'], '/x'), /needs a directory/);
  assert.throws(() => parseLaunchOptions(['--profile='], '/x'), /needs a directory/);
});

test('only files inside the renderer folder are served', () => {
  const root = '/srv/renderer';
  assert.equal(resolveRendererFile(root, '/'), '/srv/renderer/index.html');
  assert.equal(resolveRendererFile(root, '/assets/index-abc.js'), '/srv/renderer/assets/index-abc.js');
  assert.equal(resolveRendererFile(root, '/assets/a%20b.css'), '/srv/renderer/assets/a b.css');
  for (const bad of ['/../secret', '/%2e%2e/secret', '/assets/..%2f..%2fsecret', '/a%00b', '/%E0%A4%A', '/..\\secret', '/..']) {
    assert.equal(resolveRendererFile(root, bad), null, bad);
  }
  assert.equal(mimeTypeFor('/x/index.html'), 'text/html; charset=utf-8');
  assert.equal(mimeTypeFor('/x/a.JS'), 'text/javascript; charset=utf-8');
  assert.equal(mimeTypeFor('/x/blob'), 'application/octet-stream');
});

test('only our own pages count as the app (IPC sender and event target checks)', () => {
  assert.equal(isAppUrl(APP_ENTRY_URL), true);
  assert.equal(isAppUrl('mimi-app://ui/assets/x.js'), true);
  assert.equal(isAppUrl('mimi-app://other/index.html'), false);
  assert.equal(isAppUrl('https://evil.example/'), false);
  assert.equal(isAppUrl('file:///index.html'), false);
  assert.equal(isAppUrl('about:blank'), false);
  assert.equal(isAppUrl('not a url'), false);
  assert.equal(isAppUrl('http://localhost:5173/index.html', 'http://localhost:5173'), true);
  assert.equal(isAppUrl('http://localhost:5174/', 'http://localhost:5173'), false);
});

test('browser mode options: --data, --port, defaults from XDG_DATA_HOME', () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/xdg' }), '/xdg/mimi-desktop');
  assert.equal(defaultDataDir({ XDG_DATA_HOME: 'relative' }), path.join(os.homedir(), '.local/share/mimi-desktop'));
  assert.deepEqual(parseBrowserModeArgs([], { XDG_DATA_HOME: '/xdg' }), { dataDir: '/xdg/mimi-desktop', port: 0 });
  assert.deepEqual(parseBrowserModeArgs(['--data', '/d', '--port', '8123'], {}), { dataDir: '/d', port: 8123 });
  assert.deepEqual(parseBrowserModeArgs(['--port=9000'], { XDG_DATA_HOME: '/xdg' }).port, 9000);
  assert.throws(() => parseBrowserModeArgs(['--port', 'x'], {}), /--port/);
  assert.throws(() => parseBrowserModeArgs(['--port', '70000'], {}), /--port/);
  assert.throws(() => parseBrowserModeArgs(['--data'], {}), /--data/);
  assert.throws(() => parseBrowserModeArgs(['--bogus'], {}), /unknown option/);
});

test('the Electron binary is found from MIMI_ELECTRON_BINARY or path.txt, never by downloading', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-electron-bin-'));
  try {
    assert.equal(findElectronBinary(root, {}).found, false);
    const pkg = path.join(root, 'node_modules', 'electron');
    fs.mkdirSync(path.join(pkg, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'path.txt'), 'electron');
    const missing = findElectronBinary(root, {});
    assert.equal(missing.found, false);
    fs.writeFileSync(path.join(pkg, 'dist', 'electron'), '');
    assert.deepEqual(findElectronBinary(root, {}), { found: true, path: path.join(pkg, 'dist', 'electron') });
    fs.writeFileSync(path.join(pkg, 'path.txt'), '../../../etc/passwd');
    assert.equal(findElectronBinary(root, {}).found, false, 'path.txt cannot point outside dist');
    const custom = path.join(root, 'my-electron');
    fs.writeFileSync(custom, '');
    assert.deepEqual(findElectronBinary(root, { MIMI_ELECTRON_BINARY: custom }), { found: true, path: custom });
    const wrong = findElectronBinary(root, { MIMI_ELECTRON_BINARY: path.join(root, 'nope') });
    assert.equal(wrong.found, false);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the CSP allows only our own scripts and styles, nothing inline, no framing', () => {
  const csp = contentSecurityPolicy();
  const directives = new Map(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
  assert.equal(directives.get('default-src'), "'self'");
  assert.equal(directives.get('script-src'), "'self'");
  assert.equal(directives.get('style-src'), "'self'");
  assert.equal(directives.get('object-src'), "'none'");
  assert.equal(directives.get('base-uri'), "'none'");
  assert.equal(directives.get('frame-ancestors'), "'none'");
  assert.equal(directives.get('img-src'), "'self' data:");
  assert.doesNotMatch(csp, /unsafe|\*/);
  assert.doesNotMatch(contentSecurityPolicy({ forMetaTag: true }), /frame-ancestors/);
  assert.match(contentSecurityPolicy({ websocketOrigins: ['ws://127.0.0.1:9'] }), /connect-src 'self' ws:\/\/127\.0\.0\.1:9;/);
  // Only the unpackaged dev server gets inline styles (Vite injects them) and its HMR socket.
  const dev = contentSecurityPolicy({ devServerOrigin: 'http://localhost:5173' });
  assert.match(dev, /style-src 'self' 'unsafe-inline'/);
  assert.match(dev, /connect-src 'self' ws:\/\/localhost:5173/);
  assert.match(dev, /script-src 'self';/);
});
