// What the Electron preload adds besides the core contract (window.mimiDesktop): the unread count
// for the dock badge and tray, the tray's words in the window's language, notifications shown by
// the main process, and start-on-login.
// Absent in browser mode, where the page uses the Notification API and has no tray.

export interface MimiDesktop {
  setUnread(count: number): void;
  /** The tray's texts in the window's language; `{count}` in two of them is filled in by main. */
  setTrayLabels(labels: { tooltip: string; tooltipUnread: string; unread: string; open: string; quit: string }): void;
  notify(n: { title: string; body: string; accountId: string; roomUri: string }): void;
  loginItem(): Promise<boolean>;
  setLoginItem(openAtLogin: boolean): Promise<boolean>;
  /** Reveal an export's folder in the file manager (main refuses anything outside its exports folder). */
  showInFolder(path: string): Promise<boolean>;
  /** A notification was clicked: the main process focused the window; open this room. */
  onOpenRoom(listener: (accountId: string, roomUri: string) => void): () => void;
}

declare global {
  interface Window {
    mimiDesktop?: MimiDesktop;
  }
}

export function desktop(): MimiDesktop | undefined {
  return typeof window !== 'undefined' ? window.mimiDesktop : undefined;
}
