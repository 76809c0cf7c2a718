// Electron main process: a thin adapter between the window and the AppCore. It owns no app logic;
// it picks the data directory, locks the renderer down, and turns every contract method into one
// validated IPC handler.

import { BrowserWindow, app, dialog, ipcMain, nativeTheme, protocol, safeStorage, session, type IpcMainInvokeEvent } from 'electron';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_CHANNEL, METHODS, channelOf, type CoreEvent, type MethodName } from '../../src-shared/contract.js';
import { createAppCore, type AppCore } from '../core/app-core.js';
import { parseSecretMode } from '../secrets/secret-store.js';
import { contentSecurityPolicy, rendererSecurityHeaders } from '../bridge/csp.js';
import { dispatchCall, type RpcResult } from '../bridge/rpc-dispatch.js';
import { mimeTypeFor, resolveRendererFile } from '../bridge/static-files.js';
import { APP_ENTRY_URL, APP_HOST, APP_SCHEME, isAppUrl } from './app-protocol.js';
import { parseLaunchOptions } from './launch-options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererDir = path.join(here, '../renderer');
const preloadPath = path.join(here, '../preload/index.cjs');
// electron-vite's dev server, only ever trusted in an unpackaged build.
const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;

const CSP = contentSecurityPolicy({ devServerOrigin: devServerUrl });

const launch = (() => {
  try {
    return parseLaunchOptions(process.argv.slice(1), process.cwd());
  } catch (e) {
    console.error(`mimi: ${(e as Error).message}`);
    process.exit(2);
  }
})();
if (launch.profileDir) app.setPath('userData', launch.profileDir);

// Must happen before `ready`.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

// One process per profile: a second launch on the same profile focuses the first window instead
// of opening the same database twice.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void main();
}

let core: AppCore | undefined;
let mainWindow: BrowserWindow | undefined;

async function main(): Promise<void> {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  hardenAllWebContents();
  await app.whenReady();

  serveRenderer();
  lockDownSession();

  try {
    // MIMI_SECRETS (keychain | safeStorage | plaintext) is for tests and unusual setups; by default
    // the core picks the OS keychain, else Electron's safeStorage.
    const secretMode = process.env.MIMI_SECRETS ? parseSecretMode(process.env.MIMI_SECRETS) : undefined;
    core = await createAppCore({ dataDir: path.join(app.getPath('userData'), 'data'), mode: 'electron', safeStorage, secretMode });
  } catch (e) {
    dialog.showErrorBox('mimi could not start', `The app's data could not be opened:\n${(e as Error).message}`);
    app.exit(1);
    return;
  }
  registerIpc(core);
  core.onEvent(forwardEvent);

  mainWindow = createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1120,
    height: 760,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'mimi',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#16181d' : '#ffffff',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: true,
      devTools: !app.isPackaged,
    },
  });
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined;
  });
  void win.loadURL(devServerUrl ?? APP_ENTRY_URL);
  return win;
}

/** Every web contents (including any the page might try to create) stays on our page. */
function hardenAllWebContents(): void {
  app.on('web-contents-created', (_e, contents) => {
    // The renderer is a single page: it never needs to navigate anywhere.
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

function lockDownSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  // The app protocol sets the CSP itself; this covers the dev server and anything else.
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-security-policy') delete headers[k];
    callback({ responseHeaders: { ...headers, 'Content-Security-Policy': [CSP] } });
  });
}

function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === APP_HOST && (request.method === 'GET' || request.method === 'HEAD') ? resolveRendererFile(rendererDir, url.pathname) : null;
    const body = file ? await fsp.readFile(file).catch(() => null) : null;
    if (!file || !body) return new Response('Not found', { status: 404 });
    return new Response(body, { status: 200, headers: { ...rendererSecurityHeaders(CSP), 'Content-Type': mimeTypeFor(file) } });
  });
}

/** Only our own top-level page may call the core; an injected frame or foreign page may not. */
function trustedSender(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return !!frame && frame.parent === null && isAppUrl(frame.url, devServerUrl);
}

function registerIpc(appCore: AppCore): void {
  for (const method of Object.keys(METHODS) as MethodName[]) {
    ipcMain.handle(channelOf(method), async (event, ...args: unknown[]): Promise<RpcResult> => {
      if (!trustedSender(event)) return { ok: false, error: { code: 'invalidArgument', message: 'Calls are only accepted from the mimi window.' } };
      return dispatchCall(appCore, method, args);
    });
  }
}

function forwardEvent(event: CoreEvent): void {
  for (const win of BrowserWindow.getAllWindows()) {
    if (win.isDestroyed() || !isAppUrl(win.webContents.getURL(), devServerUrl)) continue;
    win.webContents.send(EVENT_CHANNEL, event);
  }
}

// Close the core (flush the database, drop provider connections) before the process ends.
let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !core) return;
  event.preventDefault();
  quitting = true;
  core
    .close()
    .catch((e: unknown) => console.error('[mimi] closing the core failed:', e))
    .finally(() => app.quit());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
