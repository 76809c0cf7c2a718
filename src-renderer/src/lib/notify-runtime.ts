// Notifications and the unread count as the app runs: each new message goes through the rules of
// notify.ts; what passes is shown by Electron's main process (through the preload) or, in a
// browser, with the Notification API. The window title (and in Electron the dock badge and tray)
// follows the unread count of rooms that are not muted.

import { watch } from 'vue';
import type { MessageView } from '../../../src-shared/contract.js';
import { useAccountsStore } from '../stores/accounts.js';
import { useRoomsStore } from '../stores/rooms.js';
import { usePseudonymsStore } from '../stores/pseudonyms.js';
import { useRoomSettingsStore } from '../stores/room-settings.js';
import { useSettingsStore } from '../stores/settings.js';
import { openRoom } from '../stores/navigation.js';
import { useLayoutStore } from '../stores/layout.js';
import { isSelf, memberName } from './pseudonyms.js';
import { roomKey } from './room-key.js';
import { desktop } from './desktop.js';
import { notificationContent, notifyDecision, unreadForBadge, windowTitle } from './notify.js';
import { currentLocale, t } from '../i18n.js';
import { CATALOGUES, lookup, type Locale } from '../../../src-shared/i18n/index.js';

const lastNotified = new Map<string, number>();

/** The person sees this window now (focused and not hidden behind another tab or minimised). */
function windowInView(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

/** A notification was clicked: bring its account and room to the front. */
export async function openFromNotification(accountId: string, roomUri: string): Promise<void> {
  const accounts = useAccountsStore();
  useSettingsStore().close();
  if (accounts.activeId !== accountId && accounts.list.some((a) => a.id === accountId)) await accounts.switchTo(accountId);
  useLayoutStore().picked();
  await openRoom(accountId, roomUri);
}

export function notifyOfMessage(accountId: string, message: MessageView): void {
  const accounts = useAccountsStore();
  const rooms = useRoomsStore();
  const settings = useSettingsStore();
  const account = accounts.list.find((a) => a.id === accountId);
  if (!account) return;
  const room = rooms.roomsOf(accountId).find((r) => r.roomUri === message.roomUri);
  const key = roomKey(accountId, message.roomUri);
  const now = Date.now();
  const decision = notifyDecision({
    message,
    room,
    mine: isSelf(message.sender, account.userUri, usePseudonymsStore().of(accountId)),
    enabled: settings.notificationsActive(),
    roomInView: windowInView() && accounts.activeId === accountId && rooms.selected[accountId] === message.roomUri,
    lastNotifiedAt: lastNotified.get(key),
    now,
  });
  if (!decision.notify) return;
  lastNotified.set(key, now);
  const sender = memberName(message.sender, useRoomSettingsStore().identityOf(accountId, message.roomUri, message.sender), account.domain).label;
  const content = notificationContent(settings.privacy, { sender, roomName: room?.name ?? t('app.notification.aRoom'), text: message.text });
  const shell = desktop();
  if (shell) {
    shell.notify({ ...content, accountId, roomUri: message.roomUri });
    return;
  }
  try {
    // One per room at a time (tag): a newer one replaces it instead of piling up.
    const n = new Notification(content.title, { body: content.body, tag: key });
    n.onclick = () => {
      window.focus();
      n.close();
      void openFromNotification(accountId, message.roomUri);
    };
  } catch {
    // A browser that allows notifications only from a service worker: nothing to show here.
  }
}

/** The tray's words as templates (main fills in the count), in the window's language. */
function trayTemplates(locale: Locale): { tooltip: string; tooltipUnread: string; unread: string; open: string; quit: string } {
  const at = (key: string) => lookup(CATALOGUES[locale], `app.tray.${key}`) ?? lookup(CATALOGUES.en, `app.tray.${key}`) ?? '';
  return { tooltip: at('tooltip'), tooltipUnread: at('tooltipUnread'), unread: at('unread'), open: at('open'), quit: at('quit') };
}

/** Keep the title ("(3) mimi") and, in Electron, the badge and tray on the unread count. */
export function followUnreadCount(): void {
  const rooms = useRoomsStore();
  const shell = desktop();
  shell?.onOpenRoom((accountId, roomUri) => void openFromNotification(accountId, roomUri));
  if (shell) watch(currentLocale, (locale) => shell.setTrayLabels(trayTemplates(locale)), { immediate: true });
  watch(
    () => unreadForBadge(rooms.byAccount),
    (n) => {
      document.title = windowTitle(n);
      shell?.setUnread(n);
    },
    { immediate: true },
  );
}
