// Turns the stored message list into what the timeline draws: reactions and edits are folded into
// the message they refer to, and consecutive messages from one sender share one header. Pure, so
// it is tested without a DOM.

import type { MessageView } from '../../../src-shared/contract.js';

export interface TimelineRow {
  /** The message seq: stable key for rendering and scroll anchoring. */
  key: number;
  message: MessageView;
  text: string;
  edited: boolean;
  /** The edit whose text is shown, when edited: a report sends it with the message. */
  editId?: string;
  deleted: boolean;
  reactions: Array<{ emoji: string; count: number }>;
  /** Start of a group: show sender and time. */
  showHeader: boolean;
  mine: boolean;
  /** Set on the first message of a calendar day. */
  dayLabel?: string;
}

const GROUP_GAP_MS = 5 * 60 * 1000;

const dayKey = (t: number): string => {
  const d = new Date(t);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
};

export function dayLabel(t: number, now = Date.now()): string {
  const k = dayKey(t);
  if (k === dayKey(now)) return 'Today';
  if (k === dayKey(now - 86_400_000)) return 'Yesterday';
  return new Date(t).toLocaleDateString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
}

/** `messages` in timeline order (src-shared/timeline-order.ts): the same rows, folds and edits on every member's device. */
export function buildRows(messages: readonly MessageView[], selfUri: string | undefined, now = Date.now()): TimelineRow[] {
  const reactions = new Map<string, Map<string, number>>();
  const edits = new Map<string, MessageView>();
  const senderOf = new Map<string, string>();
  for (const m of messages) {
    if (m.reaction && m.inReplyTo) {
      const forTarget = reactions.get(m.inReplyTo) ?? new Map<string, number>();
      forTarget.set(m.reaction, (forTarget.get(m.reaction) ?? 0) + 1);
      reactions.set(m.inReplyTo, forTarget);
    } else if (m.replaces) {
      // Only the original sender may edit a message; among their edits the latest wins.
      if (senderOf.get(m.replaces) === m.sender) edits.set(m.replaces, m);
    } else {
      senderOf.set(m.messageId, m.sender);
    }
  }

  const rows: TimelineRow[] = [];
  let prev: MessageView | undefined;
  for (const m of messages) {
    if ((m.reaction && m.inReplyTo) || m.replaces) continue;
    const validEdit = edits.get(m.messageId);
    const newDay = !prev || dayKey(prev.timestamp) !== dayKey(m.timestamp);
    const showHeader = newDay || !prev || prev.sender !== m.sender || m.timestamp - prev.timestamp > GROUP_GAP_MS;
    const r = reactions.get(m.messageId);
    const deleted = !!(m.deleted || validEdit?.deleted);
    rows.push({
      key: m.seq,
      message: m,
      text: deleted ? '' : (validEdit?.text ?? m.text),
      edited: !!validEdit && !deleted,
      ...(validEdit && !deleted ? { editId: validEdit.messageId } : {}),
      deleted,
      reactions: r ? [...r].map(([emoji, count]) => ({ emoji, count })) : [],
      showHeader,
      mine: m.sender === selfUri,
      dayLabel: newDay ? dayLabel(m.timestamp, now) : undefined,
    });
    prev = m;
  }
  return rows;
}
