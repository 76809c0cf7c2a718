// Electron main process: a thin adapter between the window and the AppCore. It owns no app logic;
// it picks the data directory, locks the renderer down, and turns every contract method into one
// validated IPC handler.

import { BrowserWindow, Menu, Notification, Tray, app, dialog, ipcMain, nativeImage, nativeTheme, powerMonitor, protocol, safeStorage, session, shell, type WebFrameMain } from 'electron';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_CHANNEL, METHODS, channelOf, type CoreEvent, type MethodName } from '../../src-shared/contract.js';
import { createAppCore, type AppCore } from '../core/app-core.js';
import { exportToReveal } from '../core/backup-app.js';
import { parseSecretMode } from '../secrets/secret-store.js';
import { contentSecurityPolicy, rendererSecurityHeaders } from '../bridge/csp.js';
import { dispatchCall, type RpcResult } from '../bridge/rpc-dispatch.js';
import { mimeTypeFor, resolveRendererFile } from '../bridge/static-files.js';
import { APP_ENTRY_URL, APP_HOST, APP_SCHEME, isAppUrl } from './app-protocol.js';
import { parseLaunchOptions } from './launch-options.js';
import { LinkInbox, joinLinkFrom, joinLinkFromArgv, protocolClient } from './link-handler.js';
import { EVENTS_SUBSCRIBED_CHANNEL } from './window-signals.js';
import { externalUrl } from './external-links.js';
import { DESKTOP_CHANNELS, DesktopArgError, ENGLISH_TRAY_LABELS, checkLoginItem, checkNotification, checkTrayLabels, checkUnread, trayMenu, trayTooltip, type TrayLabels } from './desktop-ipc.js';

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
    core = await createAppCore({ dataDir: path.join(app.getPath('userData'), 'data'), mode: 'electron', safeStorage, secretMode, exportsDir: exportsDir() });
  } catch (e) {
    dialog.showErrorBox('mimi could not start', `The app's data could not be opened:\n${(e as Error).message}`);
    app.exit(1);
    return;
  }
  registerIpc(core);
  registerDesktopIpc();
  core.onEvent(forwardEvent);
  // Woken from sleep: connections kept from before may lead nowhere (a changed network answers
  // nothing), so every account reconnects at once instead of after its timeouts.
  powerMonitor.on('resume', () => core?.networkResumed());
  createTray();

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
    // A link in a message (target=_blank) opens in the system browser, http(s) only; no window here.
    contents.setWindowOpenHandler(({ url }) => {
      const external = externalUrl(url);
      if (external) void shell.openExternal(external);
      return { action: 'deny' };
    });
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

// ---- desktop extras: unread badge, tray, notifications, start on login (desktop-ipc.ts) ----

let tray: Tray | undefined;
let unread = 0;
/** In the window's language once the page sends them (English before). */
let trayLabels: TrayLabels = ENGLISH_TRAY_LABELS;
// Notifications stay referenced until closed: one that is garbage-collected loses its click handler.
const shown = new Set<Notification>();

/** Where room exports go: a folder in Downloads, made on the first export. */
function exportsDir(): string {
  return path.join(app.getPath('downloads'), 'MIMI exports');
}

function registerDesktopIpc(): void {
  const fromPage = (event: Electron.IpcMainEvent | Electron.IpcMainInvokeEvent): boolean => !!mainWindow && event.sender === mainWindow.webContents && trustedSender(event);
  ipcMain.on(DESKTOP_CHANNELS.setUnread, (event, count: unknown) => {
    if (!fromPage(event)) return;
    try {
      unread = checkUnread(count);
    } catch (e) {
      if (e instanceof DesktopArgError) return console.warn('[mimi] setUnread refused:', e.message);
      throw e;
    }
    // macOS dock and Linux Unity launchers show the count; elsewhere setBadgeCount is a no-op.
    app.setBadgeCount(unread);
    refreshTray();
  });
  ipcMain.on(DESKTOP_CHANNELS.setTrayLabels, (event, arg: unknown) => {
    if (!fromPage(event)) return;
    try {
      trayLabels = checkTrayLabels(arg);
    } catch (e) {
      if (e instanceof DesktopArgError) return console.warn('[mimi] tray labels refused:', e.message);
      throw e;
    }
    refreshTray();
  });
  ipcMain.on(DESKTOP_CHANNELS.notify, (event, arg: unknown) => {
    if (!fromPage(event) || !Notification.isSupported()) return;
    let n;
    try {
      n = checkNotification(arg);
    } catch (e) {
      if (e instanceof DesktopArgError) return console.warn('[mimi] notification refused:', e.message);
      throw e;
    }
    const note = new Notification({ title: n.title, body: n.body, silent: false });
    shown.add(note);
    note.on('close', () => shown.delete(note));
    note.on('click', () => {
      shown.delete(note);
      showWindow();
      mainWindow?.webContents.send(DESKTOP_CHANNELS.openRoom, n.accountId, n.roomUri);
    });
    note.show();
  });
  ipcMain.handle(DESKTOP_CHANNELS.showInFolder, (event, p: unknown) => {
    if (!fromPage(event)) return false;
    const dir = exportToReveal(p, exportsDir());
    if (dir === null) {
      console.warn('[mimi] showInFolder refused: not an export folder');
      return false;
    }
    shell.showItemInFolder(dir);
    return true;
  });
  ipcMain.handle(DESKTOP_CHANNELS.loginItem, (event) => (fromPage(event) ? app.getLoginItemSettings().openAtLogin : false));
  ipcMain.handle(DESKTOP_CHANNELS.setLoginItem, (event, on: unknown) => {
    if (!fromPage(event)) return false;
    app.setLoginItemSettings({ openAtLogin: checkLoginItem(on) });
    return app.getLoginItemSettings().openAtLogin;
  });
}

/** A tray icon with Open and Quit; where the desktop has no tray, the app works without one. */
function createTray(): void {
  try {
    // A small generated dot: the unpackaged app ships no icon file of its own.
    const icon = nativeImage.createFromDataURL(
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAO0lEQVR4nGNgoAXQj7/wHxumSDNRhhDSjNcQYjVjNYRUzRiGjBpABQMojkaqJCRiDcGrmZAhRGkmFQAALLZwvKnysvoAAAAASUVORK5CYII=',
    );
    tray = new Tray(icon);
    tray.on('click', showWindow);
    refreshTray();
  } catch (e) {
    console.warn('[mimi] no tray icon on this desktop:', e);
  }
}

function refreshTray(): void {
  if (!tray) return;
  tray.setToolTip(trayTooltip(unread, trayLabels));
  tray.setContextMenu(
    Menu.buildFromTemplate(
      trayMenu(unread, trayLabels).map((item) => ({
        label: item.label,
        enabled: item.enabled,
        click: item.id === 'open' ? showWindow : item.id === 'quit' ? () => app.quit() : undefined,
      })),
    ),
  );
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
