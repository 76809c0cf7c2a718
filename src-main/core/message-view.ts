// Stored messages (MessageRow: the MIMI content as bytes) as the renderer and the CLI show them:
// each timeline message with its actions folded in (content-08 semantics, content-actions.ts):
//   - edits and deletes count only from the message's own sender; the latest edit's text is shown,
//     and a delete wins over any edit;
//   - reactions are counted per emoji, one per sender, and an unlike (or a reaction that replaces
//     an earlier one) withdraws a reaction only when it comes from that reaction's sender;
//   - a reply carries a quote of the message it answers, as that message reads now.
// Actions that failed to send were never seen by anyone else, so they count for nothing here.

import type { MessageVersionView, MessageView, ReactionView, ReceiptsView, ReplyQuoteView } from '../../src-shared/contract.js';
import { toHex } from '../../src-shared/bytes.js';
import { decodeContent, summarize, type ExternalPart, type MimiContent } from '../../src-shared/content.js';
import { actionOf } from '../../src-shared/content-actions.js';
import { findPreview, isPreviewableImage, safeFilename } from '../../src-shared/attachment.js';
import type { MessageRow, ProfileDb } from '../db/profile-db.js';
import type { ProfileContext } from './context.js';
import { myUser } from './group-sessions.js';
import { ownReceipts } from './receipts.js';

/** What folding needs: the database, and who "me" is in a room (a pseudonym in some rooms). */
export interface ViewSource {
  db: ProfileDb;
  me(roomUri: string): string;
  /** Receipts on our own messages among `rows`, by message id, as shown now (core/receipts.ts). */
  receipts?(roomUri: string, rows: readonly MessageRow[]): Map<string, ReceiptsView>;
}

export function viewSource(ctx: ProfileContext): ViewSource {
  const me = (roomUri: string): string => {
    try {
      return myUser(ctx.sessions.get(roomUri), ctx.config.userUri);
    } catch {
      return ctx.config.userUri;
    }
  };
  return { db: ctx.db, me, receipts: (roomUri, rows) => ownReceipts(ctx, roomUri, rows, me(roomUri)) };
}

/** A timeline message's text for the room list: its latest edit, or "Message deleted". */
export function previewText(ctx: ProfileContext, m: MessageRow): string {
  try {
    const v = toView(viewSource(ctx), m);
    return v.deleted ? 'Message deleted' : v.text;
  } catch {
    return '';
  }
}

/** The one-line text of a message for a room's preview; '' when its content cannot be read. */
export function messageText(m: MessageRow): string {
  try {
    return summarize(decodeContent(m.content)).text;
  } catch {
    return '';
  }
}

/** The message as it reads alone (no actions folded): the base of every view. */
function plainView(m: MessageRow): MessageView {
  const c = decodeContent(m.content);
  const s = summarize(c);
  return {
    seq: m.seq,
    messageId: m.messageId,
    roomUri: m.roomUri,
    sender: m.sender,
    text: s.text,
    contentType: s.contentType,
    timestamp: m.timestamp,
    status: m.status,
    inReplyTo: s.inReplyTo ? toHex(s.inReplyTo) : undefined,
    replaces: s.replaces ? toHex(s.replaces) : undefined,
    reaction: s.reaction,
    deleted: s.kind === 'delete' || undefined,
    // An attachment (core/attachments.ts): what it is; its bytes only when asked for.
    ...(s.kind === 'attachment' && s.external
      ? { attachment: attachmentView(c, s.external) }
      : {}),
  };
}

/** What the timeline shows of an attachment; the sender's preview (if any) as a data: URL of its checked type. */
function attachmentView(c: MimiContent, ext: ExternalPart): NonNullable<MessageView['attachment']> {
  const preview = findPreview(c);
  return {
    filename: safeFilename(ext.filename || 'attachment'),
    contentType: ext.contentType,
    size: ext.size,
    image: isPreviewableImage(ext.contentType),
    ...(preview ? { thumbnail: `data:${preview.contentType};base64,${Buffer.from(preview.bytes).toString('base64')}` } : {}),
  };
}

interface Folded {
  versions: MessageRow[];
  deleted: boolean;
  reactions: ReactionView[];
}

/** The actions on `target` (oldest first) as they apply to it. */
function fold(target: MessageRow, actions: readonly MessageRow[], me: string): Folded {
  const versions: MessageRow[] = [];
  let deleted = false;
  // reaction message id -> its sender and emoji, while not withdrawn
  const live = new Map<string, { sender: string; emoji: string }>();
  const withdraw = (id: string, by: string): void => {
    if (live.get(id)?.sender === by) live.delete(id);
  };
  for (const a of actions) {
    if (a.status === 'failed' || !a.action) continue;
    let act;
    try {
      act = actionOf(decodeContent(a.content));
    } catch {
      continue; // an unreadable action changes nothing
    }
    switch (act.kind) {
      case 'edit':
        if (a.sender === target.sender) versions.push(a);
        break;
      case 'delete':
        if (a.sender === target.sender) deleted = true;
        break;
      case 'reaction':
        if (act.replaces) withdraw(act.replaces, a.sender);
        live.set(a.messageId, { sender: a.sender, emoji: act.emoji });
        break;
      case 'unlike':
        withdraw(act.reaction, a.sender);
        break;
    }
  }
  const byEmoji = new Map<string, Set<string>>();
  for (const { sender, emoji } of live.values()) {
    const senders = byEmoji.get(emoji) ?? new Set<string>();
    senders.add(sender);
    byEmoji.set(emoji, senders);
  }
  const reactions = [...byEmoji].map(([emoji, senders]) => ({ emoji, count: senders.size, mine: senders.has(me), senders: [...senders] }));
  return { versions, deleted, reactions };
}

function foldedView(src: ViewSource, m: MessageRow, actions: readonly MessageRow[], withQuote: boolean): MessageView {
  const v = plainView(m);
  const f = fold(m, actions, src.me(m.roomUri));
  if (f.deleted) return { ...v, text: '', deleted: true, ...(v.inReplyTo && withQuote ? { replyTo: quote(src, m.roomUri, v.inReplyTo) } : {}) };
  const latest = f.versions[f.versions.length - 1];
  const shown = latest ? plainView(latest) : undefined;
  return {
    ...v,
    ...(shown ? { text: shown.text, contentType: shown.contentType, edited: true, editId: latest!.messageId } : {}),
    ...(f.reactions.length ? { reactions: f.reactions } : {}),
    ...(v.inReplyTo && withQuote ? { replyTo: quote(src, m.roomUri, v.inReplyTo) } : {}),
  };
}

/** The quote a reply shows: the answered message as it reads now, or only its id when not here. */
function quote(src: ViewSource, roomUri: string, messageId: string): ReplyQuoteView {
  const target = src.db.messageById(roomUri, messageId);
  if (!target || target.action) return { messageId };
  try {
    const v = foldedView(src, target, src.db.actionsOn(roomUri, [messageId]), false);
    return { messageId, sender: v.sender, text: v.text, contentType: v.contentType, ...(v.deleted ? { deleted: true } : {}) };
  } catch {
    return { messageId };
  }
}

/** Timeline messages with their actions folded in (one query for the actions of all of them). */
export function toViews(src: ViewSource, rows: readonly MessageRow[]): MessageView[] {
  if (rows.length === 0) return [];
  const byTarget = new Map<string, MessageRow[]>();
  for (const a of src.db.actionsOn(rows[0].roomUri, rows.map((r) => r.messageId))) {
    const list = byTarget.get(a.action!.targetId!) ?? [];
    list.push(a);
    byTarget.set(a.action!.targetId!, list);
  }
  const receipts = src.receipts?.(rows[0].roomUri, rows);
  return rows.map((r) => {
    const v = foldedView(src, r, byTarget.get(r.messageId) ?? [], true);
    const got = receipts?.get(r.messageId);
    return got ? { ...v, receipts: got } : v;
  });
}

export function toView(src: ViewSource, m: MessageRow): MessageView {
  return toViews(src, [m])[0];
}

/**
 * The view a 'message' event carries for a row just stored or sent: the message itself, or for an
 * action the message it acts on as it reads now (undefined when that message is not here).
 */
export function eventView(src: ViewSource, row: MessageRow): MessageView | undefined {
  if (!row.action) return toView(src, row);
  const targetId = row.action.targetId;
  const target = targetId ? src.db.messageById(row.roomUri, targetId) : undefined;
  if (!target || target.action) return undefined;
  return { ...toView(src, target), changed: true };
}

/** Every version of a timeline message, the original first, as its sender wrote them. */
export function versionsOf(src: ViewSource, m: MessageRow): MessageVersionView[] {
  const f = fold(m, src.db.actionsOn(m.roomUri, [m.messageId]), src.me(m.roomUri));
  return [m, ...f.versions].map((r) => {
    const v = plainView(r);
    return { messageId: r.messageId, text: v.text, contentType: v.contentType, timestamp: r.timestamp, status: r.status };
  });
}
