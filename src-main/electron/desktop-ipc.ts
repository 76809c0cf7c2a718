// The window's few desktop calls that are not core methods: the unread count (title badge, dock
// badge, tray), a notification for the main process to show, and the start-on-login switch. The
// channels and the checks on what the page sends live here, without Electron, so they are tested
// in plain Node; main.ts only wires them to Electron's Notification, Tray and app.

export const DESKTOP_CHANNELS = {
  setUnread: 'mimi-desktop:set-unread',
  notify: 'mimi-desktop:notify',
  loginItem: 'mimi-desktop:login-item',
  setLoginItem: 'mimi-desktop:set-login-item',
  /** main → page: a notification was clicked; open this room. */
  openRoom: 'mimi-desktop:open-room',
} as const;

export interface DesktopNotification {
  title: string;
  body: string;
  accountId: string;
  roomUri: string;
}

export class DesktopArgError extends Error {}

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function text(v: unknown, name: string, max: number, min = 0): string {
  if (typeof v !== 'string') throw new DesktopArgError(`${name} must be a string`);
  if (v.length < min || v.length > max) throw new DesktopArgError(`${name} must be ${min}-${max} characters`);
  if (CONTROL.test(v)) throw new DesktopArgError(`${name} contains control characters`);
  return v;
}

/** The unread count: a whole number, capped (a badge shows at most a few digits). */
export function checkUnread(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1_000_000) throw new DesktopArgError('unread must be an integer 0-1000000');
  return v;
}

/**
 * A notification the page asks for. The page decided whether to notify and what it may say (the
 * privacy setting is the page's); main only shows it, so it checks the shape and sizes strictly.
 */
export function checkNotification(v: unknown): DesktopNotification {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) throw new DesktopArgError('notification must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['title', 'body', 'accountId', 'roomUri'].includes(k)) throw new DesktopArgError(`notification has unknown field ${k.slice(0, 40)}`);
  const roomUri = text(o.roomUri, 'roomUri', 512, 1);
  if (!roomUri.startsWith('mimi://')) throw new DesktopArgError('roomUri must be a mimi:// room URI');
  return { title: text(o.title, 'title', 300, 1), body: text(o.body, 'body', 300), accountId: text(o.accountId, 'accountId', 64, 1), roomUri };
}

export function checkLoginItem(v: unknown): boolean {
  if (typeof v !== 'boolean') throw new DesktopArgError('openAtLogin must be true or false');
  return v;
}

/** The tray's tooltip: the app and how many messages wait. */
export function trayTooltip(unread: number): string {
  return unread > 0 ? `mimi: ${unread} unread` : 'mimi';
}

/** The tray menu, as labels and roles main.ts turns into an Electron Menu. */
export function trayMenu(unread: number): { id: 'open' | 'quit' | 'unread'; label: string; enabled: boolean }[] {
  return [
    ...(unread > 0 ? [{ id: 'unread' as const, label: `${unread} unread`, enabled: false }] : []),
    { id: 'open', label: 'Open mimi', enabled: true },
    { id: 'quit', label: 'Quit mimi', enabled: true },
  ];
}
