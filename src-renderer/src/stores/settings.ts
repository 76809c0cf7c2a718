// The app's own preferences (this window's storage: they belong to the device, not the account):
// theme, notifications and their privacy, start on login (Electron); the Settings dialog's open
// state. Per-room mute lives in the account's profile database (rooms.setMuted) and each account's
// picture in the core (people.avatar; stores/profiles.ts), because they are about the account.

import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { NOTIFICATION_PRIVACY, type NotificationPrivacy } from '../lib/notify.js';
import { desktop } from '../lib/desktop.js';

export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

const THEME_KEY = 'mimi.theme';
const NOTIFY_KEY = 'mimi.notifications';
const PRIVACY_KEY = 'mimi.notificationPrivacy';

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: defaults apply
  }
}
function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // not remembered, still applied
  }
}

/** Applied to <html>: settings.css swaps the colour variables; 'system' follows the OS. */
export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}

export type BrowserPermission = NotificationPermission | 'unsupported';

function browserPermission(): BrowserPermission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

export const useSettingsStore = defineStore('settings', () => {
  const open = ref(false);
  const section = ref<string | null>(null);

  const storedTheme = read(THEME_KEY);
  const theme = ref<Theme>((THEMES as readonly string[]).includes(storedTheme ?? '') ? (storedTheme as Theme) : 'system');
  applyTheme(theme.value);
  watch(theme, (t) => {
    applyTheme(t);
    write(THEME_KEY, t === 'system' ? null : t);
  });

  /** The person's switch; in a browser, notifications also need the page's permission. */
  const notificationsOn = ref(read(NOTIFY_KEY) !== 'off');
  watch(notificationsOn, (on) => write(NOTIFY_KEY, on ? null : 'off'));
  const storedPrivacy = read(PRIVACY_KEY);
  const privacy = ref<NotificationPrivacy>((NOTIFICATION_PRIVACY as readonly string[]).includes(storedPrivacy ?? '') ? (storedPrivacy as NotificationPrivacy) : 'full');
  watch(privacy, (p) => write(PRIVACY_KEY, p === 'full' ? null : p));

  const permission = ref<BrowserPermission>(desktop() ? 'granted' : browserPermission());

  /**
   * Ask the browser for permission. Only ever from a click (browsers ignore or penalise asking on
   * load, and people rightly distrust it); Electron needs no permission.
   */
  async function requestPermission(): Promise<BrowserPermission> {
    if (desktop() || typeof Notification === 'undefined') return permission.value;
    try {
      permission.value = await Notification.requestPermission();
    } catch {
      permission.value = browserPermission();
    }
    if (permission.value === 'granted') notificationsOn.value = true;
    return permission.value;
  }

  /** Notifications will actually show. */
  function notificationsActive(): boolean {
    if (!notificationsOn.value) return false;
    if (desktop()) return true;
    permission.value = browserPermission();
    return permission.value === 'granted';
  }

  function show(where: string | null = null): void {
    section.value = where;
    open.value = true;
  }
  function close(): void {
    open.value = false;
  }

  return { open, section, theme, notificationsOn, privacy, permission, requestPermission, notificationsActive, show, close };
});
