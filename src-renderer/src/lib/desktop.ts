// What the Electron preload adds besides the core contract (window.mimiDesktop): the unread count
// for the dock badge and tray, notifications shown by the main process, and start-on-login.
// Absent in browser mode, where the page uses the Notification API and has no tray.

export interface MimiDesktop {
  setUnread(count: number): void;
  notify(n: { title: string; body: string; accountId: string; roomUri: string }): void;
  loginItem(): Promise<boolean>;
  setLoginItem(openAtLogin: boolean): Promise<boolean>;
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
