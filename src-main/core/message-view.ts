// Stored messages (MessageRow: the MIMI content as bytes) as the renderer and the CLI show them.

import type { MessageView } from '../../src-shared/contract.js';
import { toHex } from '../../src-shared/bytes.js';
import { decodeContent, summarize } from '../../src-shared/content.js';
import type { MessageRow } from '../db/profile-db.js';

/** The one-line text of a message for a room's preview; '' when its content cannot be read. */
export function messageText(m: MessageRow): string {
  try {
    return summarize(decodeContent(m.content)).text;
  } catch {
    return '';
  }
}

export function toView(m: MessageRow): MessageView {
  const s = summarize(decodeContent(m.content));
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
  };
}
