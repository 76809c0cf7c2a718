// Which actions a timeline message offers, in the order its menu lists them, and the keys that
// reach them from a focused message. Free of Vue so it is unit tested on its own.

import type { TimelineRow } from './timeline-model.js';
import { t } from '../i18n.js';

export type MessageActionId = 'reply' | 'react' | 'edit' | 'delete' | 'history' | 'receipts' | 'report';

export interface MenuItem {
  id: MessageActionId;
  label: string;
  danger?: boolean;
}

/**
 * Reply and react on any message that was sent (not on a deleted one); edit and delete on the
 * viewer's own sent ones (content-08: only the original sender); the history where it was edited;
 * who got and read it on the viewer's own sent ones while receipts are shared (the core sets
 * `receipts` only then); report where the timeline allows it (lib/message-report.ts). `readOnly`:
 * nothing is written here.
 */
export function menuItems(row: TimelineRow, o: { reportable: boolean; readOnly?: boolean }): MenuItem[] {
  const items: MenuItem[] = [];
  const sent = row.message.status !== 'failed';
  const writable = !o.readOnly && !row.deleted && sent;
  if (writable) items.push({ id: 'reply', label: t('message.menu.reply') }, { id: 'react', label: t('message.menu.react') });
  if (writable && row.mine) items.push({ id: 'edit', label: t('message.menu.edit') });
  if (row.edited && !row.deleted) items.push({ id: 'history', label: t('message.menu.history') });
  if (row.mine && !row.deleted && row.message.status === 'sent' && row.message.receipts) items.push({ id: 'receipts', label: t('message.menu.receipts') });
  if (writable && row.mine) items.push({ id: 'delete', label: t('message.menu.delete'), danger: true });
  if (o.reportable) items.push({ id: 'report', label: t('message.menu.report') });
  return items;
}

/** The action a key pressed on a focused message stands for (the menu itself: 'menu'). */
export function keyAction(e: { key: string; shiftKey: boolean; ctrlKey: boolean; metaKey: boolean; altKey: boolean }): MessageActionId | 'menu' | 'up' | 'down' | undefined {
  if (e.ctrlKey || e.metaKey || e.altKey) return undefined;
  if (e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey) || e.key === 'Enter') return 'menu';
  if (e.key === 'ArrowUp') return 'up';
  if (e.key === 'ArrowDown') return 'down';
  if (e.shiftKey) return e.key === '+' ? 'react' : undefined;
  switch (e.key) {
    case 'r':
      return 'reply';
    case 'e':
      return 'edit';
    case '+':
      return 'react';
    case 'Delete':
      return 'delete';
    default:
      return undefined;
  }
}
