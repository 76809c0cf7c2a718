// Keyboard shortcuts: which key press means what, and the list the help sheet shows. Pure, so the
// matching is tested without a browser; App.vue listens on the window and acts.

import { t } from '../i18n.js';

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

export type ShortcutAction = 'roomSwitcher' | 'previousRoom' | 'nextRoom' | 'help' | 'close';

/** Every shortcut, for the help sheet. `where`: shortcuts another part of the app handles (the composer). */
export interface ShortcutHelp {
  keys: string[];
  what: string;
  where?: string;
}

/** Built on each call, in the window's language: the sheet reads it when it opens. */
export function shortcutList(mac: boolean): ShortcutHelp[] {
  const k = (name: string) => t(`shortcuts.keys.${name}`);
  const mod = mac ? '⌘' : k('ctrl');
  const field = t('shortcuts.messageField');
  const what = (name: string) => t(`shortcuts.what.${name}`);
  return [
    { keys: [`${mod}+K`], what: what('roomSwitcher') },
    { keys: ['Alt+↑', 'Alt+↓'], what: what('adjacentRoom') },
    { keys: [`${mod}+/`, '?'], what: what('help') },
    { keys: [k('esc')], what: what('close') },
    { keys: ['↑'], what: what('editLast'), where: field },
    { keys: [k('esc')], what: what('cancelReply'), where: field },
    { keys: [k('enter')], what: what('send'), where: field },
    { keys: [`${k('shift')}+${k('enter')}`], what: what('newLine'), where: field },
  ];
}

/**
 * Whether keys typed here are text: shortcuts made of plain keys (?, Alt+arrows) must not steal
 * them. Checkboxes, radios and buttons take no text.
 */
export function isTypingTarget(el: { tagName?: string; type?: string; isContentEditable?: boolean } | null | undefined): boolean {
  if (!el || !el.tagName) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName.toUpperCase();
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file', 'image'].includes((el.type ?? 'text').toLowerCase());
}

/**
 * The action a key press asks for, or null. Ctrl+K (⌘K on a Mac; Ctrl+K there too) and Escape work
 * everywhere, even in a text field; the others only outside one, with one exception: Alt+↑/↓ also
 * work in an empty text field. Opening a room puts the keyboard in its (empty) message field, so
 * without that the room keys would work once and then never again; with text in the field they
 * stay the field's (on a Mac, Option+↑/↓ move the caret).
 */
export function matchShortcut(e: KeyLike, typing: boolean, mac: boolean, emptyField = false): ShortcutAction | null {
  const mod = mac ? e.metaKey || e.ctrlKey : e.ctrlKey && !e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && !e.altKey && !e.shiftKey && key === 'k') return 'roomSwitcher';
  if (key === 'Escape' && !e.ctrlKey && !e.metaKey && !e.altKey) return 'close';
  if (e.altKey && !e.ctrlKey && !e.metaKey && !e.shiftKey && (!typing || emptyField)) {
    if (key === 'ArrowUp') return 'previousRoom';
    if (key === 'ArrowDown') return 'nextRoom';
  }
  if (typing) return null;
  if (mod && !e.altKey && key === '/') return 'help';
  // "?" is Shift+/ on most layouts; only the character matters.
  if (key === '?' && !e.ctrlKey && !e.metaKey && !e.altKey) return 'help';
  return null;
}

/** The room before or after `current` in the list as shown; stays at the ends; the first one when none is open. */
export function adjacentRoom(order: readonly string[], current: string | undefined, step: 1 | -1): string | undefined {
  if (order.length === 0) return undefined;
  const i = current === undefined ? -1 : order.indexOf(current);
  if (i < 0) return step === 1 ? order[0] : order[order.length - 1];
  const next = i + step;
  return next < 0 || next >= order.length ? undefined : order[next];
}

/**
 * Rooms for the switcher: names containing every word of the query (any case, accents ignored),
 * those starting with it first; an empty query lists them all in their order.
 */
export function filterRooms<T extends { name: string }>(rooms: readonly T[], query: string): T[] {
  const norm = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  const words = norm(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rooms];
  const hits = rooms.filter((r) => words.every((w) => norm(r.name).includes(w)));
  const starts = (r: T) => (norm(r.name).startsWith(words[0]) ? 0 : 1);
  return hits.map((r, i) => ({ r, i })).sort((a, b) => starts(a.r) - starts(b.r) || a.i - b.i).map((x) => x.r);
}
