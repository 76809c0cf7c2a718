// Reply, react (and unreact), edit and delete (draft-ietf-mimi-content-08), sent like any message
// through the outbox (so they wait offline and go exactly once), stored beside the timeline as
// actions (profile-db migration 6) and folded into their message by message-view.ts.
//
// The rules of who may do what are checked twice: here before sending (a clear error, nothing
// sent), and on receipt (actionOnReceipt: an edit or delete from anyone but the original sender,
// or an unlike of someone else's reaction, is dropped). Receipt can only check what it knows: an
// action whose target has not arrived is kept, and the fold applies the same rule when it shows up.

import type { MessageVersionView, MessageView } from '../../src-shared/contract.js';
import { fromHex } from '../../src-shared/bytes.js';
import { decodeContent, deleteMessage, editMessage, reactionMessage, textMessage, unlikeMessage, type MimiContent } from '../../src-shared/content.js';
import { actionOf } from '../../src-shared/content-actions.js';
import { looksLikeMarkdown } from '../../src-shared/markdown.js';
import { reactionProblem } from '../../src-shared/reaction-text.js';
import type { MessageAction, MessageRow, ProfileDb } from '../db/profile-db.js';
import type { ProfileContext } from './context.js';
import { toView, versionsOf, viewSource } from './message-view.js';
import type { Outbox } from './outbox.js';
import { coreError } from './errors.js';

/**
 * How a message is stored: as a timeline message (undefined) or as an action on `targetId`, or
 * `ignore` with the reason when the rules say it counts for nothing (a forged edit or delete).
 */
export function actionOnReceipt(db: ProfileDb, roomUri: string, sender: string, c: MimiContent): MessageAction | undefined | { ignore: string } {
  const act = actionOf(c);
  switch (act.kind) {
    case 'message':
      return undefined;
    case 'reaction':
      return { kind: 'reaction', targetId: act.target };
    case 'edit':
    case 'delete': {
      const target = db.messageById(roomUri, act.target);
      if (target?.action) return { ignore: `an ${act.kind} of a message that is itself an ${target.action.kind}` };
      if (target && target.sender !== sender) return { ignore: `an ${act.kind} by someone other than the message's sender` };
      return { kind: act.kind, targetId: act.target };
    }
    case 'unlike': {
      const reaction = db.messageById(roomUri, act.reaction);
      if (reaction && (reaction.action?.kind !== 'reaction' || reaction.sender !== sender)) return { ignore: "an unlike of someone else's reaction" };
      // The reaction's own target when known: an unlike cannot move a reaction to another message.
      return { kind: 'unlike', targetId: reaction?.action?.targetId ?? act.target ?? null };
    }
  }
}

export class MessageActions {
  constructor(
    private readonly ctx: ProfileContext,
    private readonly outbox: Outbox,
  ) {}

  async reply(roomUri: string, messageId: string, text: string): Promise<MessageView> {
    if (text.trim() === '') throw coreError('invalidArgument', 'errors.message.replyEmpty');
    const target = this.message(roomUri, messageId);
    if (this.view(target).deleted) throw coreError('invalidArgument', 'errors.message.replyToDeleted');
    return this.outbox.sendContent(roomUri, (me) => textMessage({ senderUri: me, roomUri, text, markdown: looksLikeMarkdown(text), inReplyTo: fromHex(messageId) }));
  }

  async react(roomUri: string, messageId: string, emoji: string, remove: boolean): Promise<MessageView> {
    const problem = reactionProblem(emoji);
    if (problem) throw coreError('invalidArgument', 'errors.message.reactionProblem', { problem });
    const reaction = emoji.trim();
    const target = this.message(roomUri, messageId);
    const view = this.view(target);
    if (view.deleted) throw coreError('invalidArgument', 'errors.message.reactToDeleted');
    const me = viewSource(this.ctx).me(roomUri);
    const mine = this.myLiveReaction(target, me, reaction);
    if (!remove) {
      if (mine) return view; // already there: reacting twice counts once anyway
      await this.outbox.sendContent(roomUri, (sender) => reactionMessage({ senderUri: sender, roomUri, inReplyTo: fromHex(messageId), reaction }));
    } else {
      if (!mine) throw coreError('invalidArgument', 'errors.message.reactionNotMine', { reaction });
      await this.outbox.sendContent(roomUri, (sender) => unlikeMessage({ senderUri: sender, roomUri, replaces: fromHex(mine.messageId), inReplyTo: fromHex(messageId) }));
    }
    return this.view(target);
  }

  async edit(roomUri: string, messageId: string, text: string): Promise<MessageView> {
    if (text.trim() === '') throw coreError('invalidArgument', 'errors.message.editEmpty');
    const target = this.ownMessage(roomUri, messageId, 'edit');
    const inReplyTo = decodeContent(target.content).inReplyTo;
    await this.outbox.sendContent(roomUri, (me) => editMessage({ senderUri: me, roomUri, replaces: fromHex(messageId), text, markdown: looksLikeMarkdown(text), inReplyTo }));
    return this.view(target);
  }

  async delete(roomUri: string, messageId: string): Promise<MessageView> {
    const target = this.ownMessage(roomUri, messageId, 'delete');
    const inReplyTo = decodeContent(target.content).inReplyTo;
    await this.outbox.sendContent(roomUri, (me) => deleteMessage({ senderUri: me, roomUri, replaces: fromHex(messageId), inReplyTo }));
    return this.view(target);
  }

  history(roomUri: string, messageId: string): MessageVersionView[] {
    const target = this.message(roomUri, messageId);
    if (this.view(target).deleted) throw coreError('invalidArgument', 'errors.message.historyDeleted');
    return versionsOf(viewSource(this.ctx), target);
  }

  private view(m: MessageRow): MessageView {
    return toView(viewSource(this.ctx), m);
  }

  /** A timeline message of the room (not an action), or an error that says how to find one. */
  private message(roomUri: string, messageId: string): MessageRow {
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknownList', { room: roomUri });
    const m = this.ctx.db.messageById(roomUri, messageId.toLowerCase());
    if (!m || m.action) throw coreError('invalidArgument', 'errors.message.noSuchMessage', { id: messageId });
    return m;
  }

  private ownMessage(roomUri: string, messageId: string, what: 'edit' | 'delete'): MessageRow {
    const verb = { verb: what === 'edit' ? 'errors.message.edit' : 'errors.message.delete' };
    const m = this.message(roomUri, messageId);
    if (m.sender !== viewSource(this.ctx).me(roomUri)) throw coreError('notAllowed', 'errors.message.onlySender', verb);
    if (m.status === 'failed') throw coreError('invalidArgument', 'errors.message.neverSent', verb);
    if (this.view(m).deleted) throw coreError('invalidArgument', 'errors.message.alreadyDeleted', verb);
    return m;
  }

  /** This account's reaction `emoji` on `target` that is still standing (not withdrawn). */
  private myLiveReaction(target: MessageRow, me: string, emoji: string): MessageRow | undefined {
    const actions = this.ctx.db.actionsOn(target.roomUri, [target.messageId]).filter((a) => a.sender === me && a.status !== 'failed');
    const withdrawn = new Set<string>();
    const reactions: MessageRow[] = [];
    for (const a of actions) {
      const act = actionOf(decodeContent(a.content));
      if (act.kind === 'unlike') withdrawn.add(act.reaction);
      else if (act.kind === 'reaction') {
        if (act.replaces) withdrawn.add(act.replaces);
        if (act.emoji === emoji) reactions.push(a);
      }
    }
    return reactions.reverse().find((r) => !withdrawn.has(r.messageId));
  }
}
