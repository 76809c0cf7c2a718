// The window's few desktop calls that are not core methods: the unread count (title badge, dock
// badge, tray), a notification for the main process to show, and the start-on-login switch. The
// channels and the checks on what the page sends live here, without Electron, so they are tested
// in plain Node; main.ts only wires them to Electron's Notification, Tray and app.
//
// The tray's words are the window's: the page sends them in its language (setTrayLabels), as
// templates with `{count}` filled in here; until it does, they are the English catalogue's.

import { app as enApp } from '../../src-shared/i18n/en/app.js';
import { formatMessage } from '../../src-shared/i18n/catalogue.js';

export const DESKTOP_CHANNELS = {
  setUnread: 'mimi-desktop:set-unread',
  notify: 'mimi-desktop:notify',
  loginItem: 'mimi-desktop:login-item',
  setLoginItem: 'mimi-desktop:set-login-item',
  setTrayLabels: 'mimi-desktop:set-tray-labels',
  /** Reveal an export (a folder the core made under the exports folder) in the file manager. */
  showInFolder: 'mimi-desktop:show-in-folder',
  /** main → page: a notification was clicked; open this room. */
  openRoom: 'mimi-desktop:open-room',
} as const;

export interface DesktopNotification {
  title: string;
  body: string;
  accountId: string;
  roomUri: string;
}

/** The tray's texts; `tooltipUnread` and `unread` are templates with a `{count}` parameter. */
export interface TrayLabels {
  tooltip: string;
  tooltipUnread: string;
  unread: string;
  open: string;
  quit: string;
}

const TRAY_LABEL_KEYS: readonly (keyof TrayLabels)[] = ['tooltip', 'tooltipUnread', 'unread', 'open', 'quit'];

export const ENGLISH_TRAY_LABELS: TrayLabels = { ...enApp.tray };

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

/**
 * The tray's texts in the window's language. Exactly the five labels, each short plain text (they
 * end up in the OS's menu), so a page cannot slip anything else into main.
 */
export function checkTrayLabels(v: unknown): TrayLabels {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) throw new DesktopArgError('tray labels must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(TRAY_LABEL_KEYS as readonly string[]).includes(k)) throw new DesktopArgError(`tray labels have unknown field ${k.slice(0, 40)}`);
  const out = {} as TrayLabels;
  for (const k of TRAY_LABEL_KEYS) out[k] = text(o[k], `tray label ${k}`, 120, 1);
  return out;
}

/** The tray's tooltip: the app and how many messages wait. */
export function trayTooltip(unread: number, labels: TrayLabels = ENGLISH_TRAY_LABELS): string {
  return unread > 0 ? formatMessage(labels.tooltipUnread, { count: unread }) : labels.tooltip;
}

/** The tray menu, as labels and roles main.ts turns into an Electron Menu. */
export function trayMenu(unread: number, labels: TrayLabels = ENGLISH_TRAY_LABELS): { id: 'open' | 'quit' | 'unread'; label: string; enabled: boolean }[] {
  return [
    ...(unread > 0 ? [{ id: 'unread' as const, label: formatMessage(labels.unread, { count: unread }), enabled: false }] : []),
    { id: 'open', label: labels.open, enabled: true },
    { id: 'quit', label: labels.quit, enabled: true },
  ];
}
