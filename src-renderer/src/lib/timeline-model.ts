// Turns the stored message list into what the timeline draws: reactions and edits are folded into
// the message they refer to, and consecutive messages from one sender share one header. Pure, so
// it is tested without a DOM.
//
// The core folds actions itself (core/message-view.ts: `edited`, `deleted`, `reactions`,
// `replyTo` on each message, action rows never in a page); folding the action rows here too keeps
// a list that still carries them (an older core, a test's fake) reading the same.

import type { MessageView, ReplyQuoteView } from '../../../src-shared/contract.js';
import { formatDate, t } from '../i18n.js';

export interface TimelineRow {
  /** The message seq: stable key for rendering and scroll anchoring. */
  key: number;
  message: MessageView;
  text: string;
  /** The content type of the text shown (Markdown is rendered as such). */
  contentType: string;
  edited: boolean;
  /** The edit whose text is shown, when edited: a report sends it with the message. */
  editId?: string;
  deleted: boolean;
  /** `mine`: the viewer is among those who reacted (clicking the chip withdraws it). */
  reactions: Array<{ emoji: string; count: number; mine: boolean }>;
  /** A reply: the message it answers (its quote). */
  replyTo?: ReplyQuoteView;
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

export function dayLabel(when: number, now = Date.now()): string {
  const k = dayKey(when);
  if (k === dayKey(now)) return t('timeline.today');
  if (k === dayKey(now - 86_400_000)) return t('timeline.yesterday');
  return formatDate(when, 'day');
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
    const editId = validEdit?.messageId ?? m.editId;
    const folded = m.reactions?.map(({ emoji, count, mine }) => ({ emoji, count, mine })) ?? [];
    rows.push({
      key: m.seq,
      message: m,
      text: deleted ? '' : (validEdit?.text ?? m.text),
      contentType: validEdit?.contentType ?? m.contentType,
      edited: (!!validEdit || !!m.edited) && !deleted,
      ...(editId && !deleted ? { editId } : {}),
      deleted,
      reactions: deleted ? [] : r ? [...r].map(([emoji, count]) => ({ emoji, count, mine: false })) : folded,
      ...(m.replyTo ? { replyTo: m.replyTo } : {}),
      showHeader,
      mine: m.sender === selfUri,
      dayLabel: newDay ? dayLabel(m.timestamp, now) : undefined,
    });
    prev = m;
  }
  return rows;
}
