// Sending messages. send() stores the message as pending and queues it in one transaction; the
// pump then encrypts each queued message (persisting the advanced ratchet before anything leaves
// the machine) and posts it with a stable requestId, so a retry after a lost answer is not
// delivered twice. Transient failures retry in order; permanent refusals mark the message failed.

import { createHash } from 'node:crypto';
import { frankAad, frankingTag } from '../../src-shared/franking.js';
import type { MessageView } from '../../src-shared/contract.js';
import { toB64, toHex } from '../../src-shared/bytes.js';
import { decodeContent, encodeContent, messageId, textMessage, type MimiContent } from '../../src-shared/content.js';
import { parseMimiUri, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { checkMessage, denialText } from '../../src-shared/room-commit.js';
import { ProviderError } from '../net/provider-client.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import { myUser, roomStateOf } from './group-sessions.js';
import { looksLikeMarkdown } from '../../src-shared/markdown.js';
import { actionOnReceipt } from './message-actions.js';
import { eventView, toView, viewSource } from './message-view.js';
import type { RoomCommits } from './room-commits.js';
import { findPart } from '../../src-shared/content-parts.js';
import { MESSAGE_STATUS_MEDIA_TYPE } from '../../src-shared/message-status.js';

/**
 * The request id a message is posted with: stable for the message (a retry after a lost answer is
 * recognized), but not its message ID: IDs stay among the room's members, inside the encryption,
 * where replies, reactions and receipts name them (docs/receipts-and-typing.md).
 */
export function requestIdOf(content: Uint8Array): string {
  return createHash('sha256').update('mimi-desktop request id\0').update(messageId(content)).digest('hex').slice(0, 32);
}

function isReceipt(content: Uint8Array): boolean {
  try {
    return findPart(decodeContent(content), MESSAGE_STATUS_MEDIA_TYPE) !== undefined;
  } catch {
    return false;
  }
}

/**
 * The outbox row of a control message names this message seq: no timeline row has it (seqs start
 * at 1), so marking it sent or failed touches nothing and emits no 'message' event.
 */
export const CONTROL_MESSAGE_SEQ = 0;

export class Outbox {
  private pumping = false;
  private pumpAgain = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
  ) {}

  async send(roomUri: string, text: string): Promise<MessageView> {
    if (text.trim() === '') throw coreError('invalidArgument', 'errors.message.empty');
    // Markdown syntax goes as text/markdown (GFM-MIMI), so clients that render it do; plain stays plain.
    return this.sendContent(roomUri, (me) => textMessage({ senderUri: me, roomUri, text, markdown: looksLikeMarkdown(text) }));
  }

  /**
   * Queue any mimi-content message (text, or a part such as a connection request). `build` gets
   * the sender: this account, or its pseudonym in a room with pseudonyms, in MLS and in the content.
   */
  async sendContent(roomUri: string, build: (me: string) => MimiContent): Promise<MessageView> {
    const { db, config } = this.ctx;
    const room = db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    if (room.left) throw coreError('notMember', 'errors.room.notMember');
    const session = this.ctx.sessions.get(roomUri);
    const state = roomStateOf(session);
    const me = myUser(session, config.userUri);
    const may = state ? checkMessage(state, me) : { ok: true as const };
    if (!may.ok) throw coreError('notAllowed', 'errors.message.cannotSend', { denial: denialText(may) });
    const built = build(me);
    // An action (reaction, edit, ...) is stored as one, beside the timeline (message-actions.ts).
    const action = actionOnReceipt(db, roomUri, me, built);
    if (action && 'ignore' in action) throw coreError('notAllowed', 'errors.message.ignored', { ignore: action.ignore });
    const content = encodeContent(built);
    const id = toHex(messageId(content));
    const row = db.tx(() => {
      const m = db.insertMessage({ roomUri, messageId: id, sender: me, content, timestamp: Date.now(), status: 'pending', ...(action ? { action } : {}) }, false)!;
      db.enqueue({ requestId: requestIdOf(content), roomUri, messageSeq: m.seq, content });
      return m;
    });
    const src = viewSource(this.ctx);
    // For an action, the message it acts on is what changed on screen.
    const view = eventView(src, row);
    if (view) this.ctx.emit('message', view);
    this.kick();
    return view ?? toView(src, row);
  }

  /**
   * Queue a control message (identity link keys for a member who joined by external commit):
   * encrypted, ordered and retried like any message, but never stored in the timeline, so it is in
   * no page, room preview, unread count or 'message' event here either (the receivers consume it).
   */
  async sendControl(roomUri: string, build: (me: string) => MimiContent): Promise<void> {
    const { db, config } = this.ctx;
    const room = db.getRoom(roomUri);
    if (!room || room.left) return; // nobody to tell any more
    const content = encodeContent(build(myUser(this.ctx.sessions.get(roomUri), config.userUri)));
    db.enqueue({ requestId: requestIdOf(content), roomUri, messageSeq: CONTROL_MESSAGE_SEQ, content });
    this.kick();
  }

  /**
   * Send a message that is worth nothing later (a typing indicator): encrypted and posted now, never
   * written to the database or the outbox, so offline it is simply not sent. False when not sent.
   */
  async sendEphemeral(roomUri: string, build: (me: string) => MimiContent): Promise<boolean> {
    const { db, sessions, config, client } = this.ctx;
    const room = db.getRoom(roomUri);
    if (!room || room.left || this.ctx.closed) return false;
    const session = sessions.get(roomUri);
    // MLS allows no application message while proposals wait; the outbox commits them, this waits for it.
    if (session.pendingProposals() > 0) return false;
    const state = roomStateOf(session);
    const me = myUser(session, config.userUri);
    if (state && !checkMessage(state, me).ok) return false;
    try {
      const content = encodeContent(build(me));
      const { message } = await this.encrypt(roomUri, content);
      const asPseudonym = parseMimiUriAs('pseudonym', me) ? me : undefined;
      await client.sendMessage(roomUri, { message: toB64(message), requestId: requestIdOf(content), ...(asPseudonym ? { asPseudonym } : {}) });
      return true;
    } catch {
      return false; // a lost typing indicator expires on its own at the receivers
    }
  }

  /**
   * Encrypt under the serial queue and persist the advanced ratchet before the ciphertext leaves: a
   * generation key must never be used twice, even after a crash right after sending.
   */
  private encrypt(roomUri: string, content: Uint8Array): Promise<{ message: Uint8Array; me: string }> {
    const { serial, sessions } = this.ctx;
    return serial.run(async () => {
      const s = sessions.get(roomUri);
      // A franked room (its franking_agent set): the tag over the content, keyed by its salt,
      // rides in the authenticated data, where the hub reads it and receivers check it.
      const franked = roomStateOf(s)?.frankingAgent !== undefined;
      const aad = franked ? frankAad(frankingTag(decodeContent(content).salt, content)) : undefined;
      const { session, message } = await s.encrypt(content, aad);
      sessions.save(roomUri, session);
      return { message, me: myUser(s, this.ctx.config.userUri) };
    });
  }

  /** Messages stored on this device that the provider has not accepted yet. */
  queued(): number {
    return this.ctx.db.outbox().length;
  }

  /** Resolves when the outbox is empty (or rejects after the timeout). */
  async flush(timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.kick();
    while (this.ctx.db.outbox().length > 0) {
      if (Date.now() > deadline) throw coreError('providerUnreachable', 'errors.message.outboxTimeout', { count: this.ctx.db.outbox().length });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Start the pump, or have it run once more when it is already running. */
  kick(): void {
    if (this.ctx.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pump()
      .catch((e) => {
        // Closing under a send in flight: the database is gone; the item stays queued for the next
        // start (its request id makes the resend harmless). Anything else is worth saying.
        if (this.ctx.closed) return;
        const err = toCoreError(e, { key: 'errors.what.sendMessage' });
        this.ctx.emit('error', err.message, err);
      })
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.kick();
        }
      });
  }

  /** No more retries (the profile is closing). */
  stop(): void {
    clearTimeout(this.retryTimer);
  }

  private async pump(): Promise<void> {
    const { db, sessions, client } = this.ctx;
    for (const item of db.outbox()) {
      if (this.ctx.closed) return;
      let epochWait: bigint | undefined;
      try {
        // Encrypt and persist the advanced ratchet before the ciphertext leaves: a generation key
        // must never be used twice, even if we crash right after sending.
        // MLS forbids application messages while proposals are pending: commit them first.
        if (sessions.get(item.roomUri).pendingProposals() > 0) await this.commits.commitPendingProposals(item.roomUri);
        const { message, me } = await this.encrypt(item.roomUri, item.content);
        db.bumpAttempts(item.requestId);
        // A PrivateMessage hides its sender: where we are a pseudonym, say which one (the provider
        // checks it is ours and names it to the hub instead of the account).
        const asPseudonym = parseMimiUriAs('pseudonym', me) ? me : undefined;
        const res = await client.sendMessage(item.roomUri, { message: toB64(message), requestId: item.requestId, ...(asPseudonym ? { asPseudonym } : {}) });
        if (this.ctx.closed) return; // sent; dequeued at the next start, when the resend is a duplicate the hub drops
        this.noteHub(item.roomUri, true);
        db.tx(() => {
          db.dequeue(item.requestId);
          db.setMessageStatus(item.messageSeq, 'sent', res.acceptedTimestamp);
        });
        this.emitMessage(item.messageSeq);
      } catch (e) {
        if (e instanceof ProviderError && e.code === 'epochTooOld' && e.currentEpoch !== undefined) {
          epochWait = e.currentEpoch;
        } else if (e instanceof ProviderError && (e.code === 'unreachable' || e.code === 'peerUnreachable' || e.code === 'internal' || e.code === 'rateLimited')) {
          if (e.code === 'peerUnreachable') this.noteHub(item.roomUri, false);
          this.scheduleRetry();
          return; // keep order: nothing after this one goes first
        } else {
          // A permanent refusal (not a member, room gone, malformed): tell the user, don't retry forever.
          db.tx(() => {
            db.dequeue(item.requestId);
            db.setMessageStatus(item.messageSeq, 'failed');
          });
          this.emitMessage(item.messageSeq);
          // A receipt the hub refuses is worth no error on screen: the next one says as much.
          if (item.messageSeq === CONTROL_MESSAGE_SEQ && isReceipt(item.content)) continue;
          const what = { key: item.messageSeq === CONTROL_MESSAGE_SEQ ? 'errors.what.identityKeysToJoiner' : 'errors.what.sendMessage' };
          const err = toCoreError(e, what);
          this.ctx.emit('error', err.message, err);
          continue;
        }
      }
      if (epochWait !== undefined) {
        await this.commits.waitForEpoch(item.roomUri, epochWait).catch(() => this.scheduleRetry());
        this.pumpAgain = true;
        return;
      }
    }
  }

  /** Tracks whether a room's hub (when it is another provider) answers; the UI shows it. */
  private noteHub(roomUri: string, reachable: boolean): void {
    const hub = parseMimiUri(roomUri).domain;
    const unreachable = this.ctx.unreachableHubs;
    if (hub === this.ctx.config.domain || reachable !== unreachable.has(hub)) return;
    if (reachable) unreachable.delete(hub);
    else unreachable.add(hub);
    this.ctx.emit('rooms');
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.kick(), 2000);
    this.retryTimer.unref?.();
  }

  private emitMessage(seq: number): void {
    const row = this.ctx.db.getMessage(seq);
    const view = row && eventView(viewSource(this.ctx), row);
    if (view) this.ctx.emit('message', view);
  }
}
