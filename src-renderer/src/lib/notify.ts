// When a new message becomes a notification, and what the notification may say. Pure, so the
// rules are tested without a browser or Electron; both modes use them (notify-runtime.ts shows
// the result with the Notification API, or asks Electron's main process through the preload).

import type { MessageView, RoomView } from '../../../src-shared/contract.js';
import { t } from '../i18n.js';

/** What a notification shows: sender and text, the sender only, or nothing but that something came. */
export const NOTIFICATION_PRIVACY = ['full', 'sender', 'none'] as const;
export type NotificationPrivacy = (typeof NOTIFICATION_PRIVACY)[number];

/** A burst (catching up after being offline) gives one notification per room, not one per message. */
export const ROOM_QUIET_MS = 3000;

export interface NotifyInputs {
  message: MessageView;
  /** The room as this screen knows it (undefined: not listed yet; it is notified like any other). */
  room: RoomView | undefined;
  /** Sent by this account (its user or one of its pseudonyms): never notified. */
  mine: boolean;
  /** Notifications switched on in Settings (and, in a browser, permission granted). */
  enabled: boolean;
  /** The room is the one open on screen and the window has focus: the person sees it already. */
  roomInView: boolean;
  /** When this room last raised a notification, if ever. */
  lastNotifiedAt?: number;
  now: number;
}

export type NotifyDecision = { notify: true } | { notify: false; why: 'off' | 'mine' | 'notNew' | 'notAMessage' | 'muted' | 'inView' | 'burst' };

export function notifyDecision(i: NotifyInputs): NotifyDecision {
  if (!i.enabled) return { notify: false, why: 'off' };
  if (i.mine) return { notify: false, why: 'mine' };
  // Only messages that just arrived from someone else: not our pending/sent ones, not status updates.
  if (i.message.status !== 'received') return { notify: false, why: 'notNew' };
  // Reactions, edits and deletions change what is there; they are not news worth a popup.
  if (i.message.reaction || i.message.replaces || i.message.deleted || i.message.changed) return { notify: false, why: 'notAMessage' };
  if (i.room?.muted) return { notify: false, why: 'muted' };
  if (i.roomInView) return { notify: false, why: 'inView' };
  if (i.lastNotifiedAt !== undefined && i.now - i.lastNotifiedAt < ROOM_QUIET_MS) return { notify: false, why: 'burst' };
  return { notify: true };
}

export interface NotificationContent {
  title: string;
  body: string;
}

const MAX_BODY = 140;

/** Cut long text at a word where possible, so the OS does not cut it mid-word. */
export function shorten(text: string, max = MAX_BODY): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max * 0.6 ? cut.slice(0, space) : cut}…`;
}

/**
 * The notification's words under each privacy setting. Notifications show on the lock screen and
 * to whoever looks at the screen, so 'sender' drops the text (and the room's name, which can say as
 * much), and 'none' says only that something came.
 */
export function notificationContent(privacy: NotificationPrivacy, m: { sender: string; roomName: string; text: string }): NotificationContent {
  switch (privacy) {
    case 'full':
      return { title: t('app.notification.inRoom', { sender: m.sender, room: m.roomName }), body: shorten(m.text) || t('app.notification.newMessage') };
    case 'sender':
      return { title: m.sender, body: t('app.notification.newMessage') };
    case 'none':
      return { title: t('app.headingNone'), body: t('app.notification.newMessage') };
  }
}

/** The window title: "(3) mimi" with unread messages, "mimi" without. */
export function windowTitle(unread: number, base = 'mimi'): string {
  if (!Number.isFinite(unread) || unread <= 0) return base;
  return `(${unread > 999 ? '999+' : Math.floor(unread)}) ${base}`;
}

/** Unread messages that count toward the title and badge: muted rooms' stay in the list only. */
export function unreadForBadge(roomsByAccount: Record<string, RoomView[]>): number {
  let n = 0;
  for (const rooms of Object.values(roomsByAccount)) for (const r of rooms) if (!r.muted) n += r.unread;
  return n;
}
