// Sandboxed preload: the only code with ipcRenderer. It exposes the contract's named functions on
// `window.mimi` and nothing else, so a compromised page can call exactly the methods the main
// process validates, never arbitrary IPC channels. Built as one CommonJS file (sandboxed preloads
// cannot load ES modules or anything from node_modules at run time).

import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_CHANNEL, apiFromTransport, channelOf, type CoreEvent, type WireError } from '../../src-shared/contract.js';
import { errorAcrossBridge } from '../../src-renderer/src/lib/coded-error.js';
import { EVENTS_SUBSCRIBED_CHANNEL } from './window-signals.js';
import { DESKTOP_CHANNELS } from './desktop-ipc.js';
import type { MimiDesktop } from '../../src-renderer/src/lib/desktop.js';

type IpcResult = { ok: true; value: unknown } | { ok: false; error: WireError };

const api = apiFromTransport(
  async (method, args) => {
    const result = (await ipcRenderer.invoke(channelOf(method), ...args)) as IpcResult;
    if (result.ok) return result.value;
    throw errorAcrossBridge(result.error);
  },
  (listener) => {
    const forward = (_e: IpcRendererEvent, event: CoreEvent) => listener(event);
    ipcRenderer.on(EVENT_CHANNEL, forward);
    // Tells the main process events now arrive (a mimi: link opened during start-up waits for it).
    ipcRenderer.send(EVENTS_SUBSCRIBED_CHANNEL);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    };
  },
);

contextBridge.exposeInMainWorld('mimi', api);

// Desktop extras (desktop-ipc.ts): named functions again, each one fixed channel; main checks
// every argument and that the call comes from our page.
const desktop: MimiDesktop = {
  setUnread: (count) => ipcRenderer.send(DESKTOP_CHANNELS.setUnread, count),
  notify: (n) => ipcRenderer.send(DESKTOP_CHANNELS.notify, { title: n.title, body: n.body, accountId: n.accountId, roomUri: n.roomUri }),
  loginItem: () => ipcRenderer.invoke(DESKTOP_CHANNELS.loginItem) as Promise<boolean>,
  setLoginItem: (on) => ipcRenderer.invoke(DESKTOP_CHANNELS.setLoginItem, on) as Promise<boolean>,
  showInFolder: (p) => ipcRenderer.invoke(DESKTOP_CHANNELS.showInFolder, p) as Promise<boolean>,
  setTrayLabels: (l) => ipcRenderer.send(DESKTOP_CHANNELS.setTrayLabels, { tooltip: l.tooltip, tooltipUnread: l.tooltipUnread, unread: l.unread, open: l.open, quit: l.quit }),
  onOpenRoom: (listener) => {
    const forward = (_e: IpcRendererEvent, accountId: unknown, roomUri: unknown) => {
      if (typeof accountId === 'string' && typeof roomUri === 'string') listener(accountId, roomUri);
    };
    ipcRenderer.on(DESKTOP_CHANNELS.openRoom, forward);
    return () => {
      ipcRenderer.removeListener(DESKTOP_CHANNELS.openRoom, forward);
    };
  },
};
contextBridge.exposeInMainWorld('mimiDesktop', desktop);
