// Electron main process: a thin adapter between the window and the AppCore. It owns no app logic;
// it picks the data directory, locks the renderer down, and turns every contract method into one
// validated IPC handler.

import { BrowserWindow, app, dialog, ipcMain, nativeTheme, protocol, safeStorage, session, type WebFrameMain } from 'electron';
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
import { LinkInbox, joinLinkFrom, joinLinkFromArgv, protocolClient } from './link-handler.js';
import { EVENTS_SUBSCRIBED_CHANNEL } from './window-signals.js';

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

let core: AppCore | undefined;
let mainWindow: BrowserWindow | undefined;

// mimi: links the OS opens with this app (link-handler.ts), held until the window's page listens.
const links = new LinkInbox(sendLinkToWindow);

// macOS hands links to the app as open-url, including the one that launches it, which is emitted
// before `ready`: listen from the start.
app.on('open-url', (event, url) => {
  event.preventDefault();
  openLink(joinLinkFrom(url));
});

// One process per profile: a second launch on the same profile focuses the first window instead
// of opening the same database twice, and hands over the link it was started with, if any.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void main();
}

async function main(): Promise<void> {
  app.on('second-instance', (_event, argv) => {
    const link = joinLinkFromArgv(argv);
    if (link) openLink(link);
    else showWindow();
  });
  registerAsLinkHandler();
  const startLink = joinLinkFromArgv(process.argv.slice(1));
  if (startLink) links.offer(startLink);
  ipcMain.on(EVENTS_SUBSCRIBED_CHANNEL, (event) => {
    if (mainWindow && event.sender === mainWindow.webContents && trustedSender(event)) links.windowReady();
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
    if (mainWindow !== win) return;
    mainWindow = undefined;
    links.windowGone();
  });
  // A new page (a reload) subscribes afresh; until it does, links wait (did-navigate: only
  // navigations that happened, not the ones will-navigate refuses).
  win.webContents.on('did-navigate', () => {
    if (mainWindow === win) links.windowGone();
  });
  win.webContents.on('render-process-gone', () => {
    if (mainWindow === win) links.windowGone();
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
function trustedSender(event: { senderFrame: WebFrameMain | null }): boolean {
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

/**
 * Make this app the one the OS opens mimi: links with. Only the default profile registers: a
 * side-by-side instance (`--profile`, also what the tests start) must not take links away from it.
 * Where that cannot be done at run time (an unpackaged app on Linux has no desktop entry; see
 * protocolClient) this does nothing, and links still work when passed on the command line.
 */
function registerAsLinkHandler(): void {
  if (launch.profileDir) return;
  const client = protocolClient({
    platform: process.platform,
    defaultApp: !!process.defaultApp,
    execPath: process.execPath,
    argv: process.argv,
    resolve: (p) => path.resolve(p),
  });
  if (!client) return;
  const { scheme, path: exe, args } = client;
  try {
    // The packaged form is called with the scheme alone, not with undefined path and arguments.
    const isDefault = exe ? app.isDefaultProtocolClient(scheme, exe, args) : app.isDefaultProtocolClient(scheme);
    if (!isDefault) void (exe ? app.setAsDefaultProtocolClient(scheme, exe, args) : app.setAsDefaultProtocolClient(scheme));
  } catch (e) {
    console.warn('[mimi] could not register as the handler of mimi: links:', e);
  }
}

/** A link arrived (already checked to be a room link, or undefined when it was not one). */
function openLink(link: string | undefined): void {
  if (!link) return;
  links.offer(link);
  showWindow();
}

function showWindow(): void {
  // On macOS the app lives on with no window; a link then needs one.
  if (!mainWindow) {
    if (core && app.isReady()) mainWindow = createWindow();
    return;
  }
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.focus();
}

/** Hand a link to the page as a core event; a window that is gone meanwhile gets it when back. */
function sendLinkToWindow(link: string): void {
  const win = mainWindow;
  if (!win || win.isDestroyed() || !isAppUrl(win.webContents.getURL(), devServerUrl)) {
    links.windowGone();
    links.offer(link);
    return;
  }
  const event: CoreEvent = { type: 'openLink', link };
  win.webContents.send(EVENT_CHANNEL, event);
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
