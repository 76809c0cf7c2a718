// What a mimi-content message does to the timeline (draft-ietf-mimi-content-08 §§ Reply, Reaction,
// Edit, Delete, Unlike): a message of its own (possibly a reply), or an action on an earlier one.
// Pure, shared by the core (which stores and folds actions) and the tests.
//
//   reaction: disposition reaction, a text part, inReplyTo = the reacted-to message
//   unlike:   disposition reaction, a null part, replaces = the reaction withdrawn
//   edit:     replaces = the first version of the message, a body that is not a null part
//   delete:   replaces = the first version of the message, a null part
//
// Who may do what is decided where the messages are known (message-actions.ts): an edit or delete
// counts only from the original sender, an unlike only from the reaction's sender.

import { toHex } from './bytes.js';
import { Disposition, summarize, type MimiContent } from './content.js';

export type ContentAction =
  | { kind: 'message'; inReplyTo?: string }
  | { kind: 'reaction'; target: string; emoji: string; replaces?: string }
  | { kind: 'unlike'; reaction: string; target?: string }
  | { kind: 'edit'; target: string }
  | { kind: 'delete'; target: string };

/** The action kinds that are stored beside the timeline, not as rows of it. */
export type ActionKind = Exclude<ContentAction['kind'], 'message'>;

export function actionOf(c: MimiContent): ContentAction {
  const replaces = c.replaces ? toHex(c.replaces) : undefined;
  const inReplyTo = c.inReplyTo ? toHex(c.inReplyTo) : undefined;
  const body = c.body;
  if (body.disposition === Disposition.reaction) {
    if (body.cardinality === 0) {
      // An unlike names the reaction it withdraws; without that it withdraws nothing.
      if (replaces) return { kind: 'unlike', reaction: replaces, ...(inReplyTo ? { target: inReplyTo } : {}) };
      return { kind: 'message' };
    }
    const s = summarize(c);
    if (s.kind === 'reaction' && s.reaction !== undefined && inReplyTo) {
      return { kind: 'reaction', target: inReplyTo, emoji: s.reaction, ...(replaces ? { replaces } : {}) };
    }
    return { kind: 'message', ...(inReplyTo ? { inReplyTo } : {}) };
  }
  if (replaces) return body.cardinality === 0 ? { kind: 'delete', target: replaces } : { kind: 'edit', target: replaces };
  return { kind: 'message', ...(inReplyTo ? { inReplyTo } : {}) };
}
