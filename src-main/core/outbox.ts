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
import { MAX_BATCH_MESSAGES, type SendMessageRequest, type SendMessageResponse } from '../../src-shared/provider-api.js';
import type { OutboxRow } from '../db/profile-db.js';
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

/** Failures that are retried: the message stays queued, and nothing after it in its room goes first. */
const RETRYABLE = new Set<string>(['unreachable', 'peerUnreachable', 'internal', 'rateLimited']);
/** Most content bytes in one batch (the ciphertexts, base64, stay well under MAX_BATCH_BODY_BYTES). */
const BATCH_CONTENT_BYTES = 1024 * 1024;
/** Ciphertext and JSON overhead of one batch entry beyond its content, generously. */
const BATCH_ENTRY_OVERHEAD = 1024;
/** A provider that answered 404 to a batch is asked again (it may have been upgraded) after this. */
const BATCH_ROUTE_RECHECK_MS = 10 * 60 * 1000;

type Outcome = { res: SendMessageResponse } | { error: unknown };

export class Outbox {
  private pumping = false;
  private pumpAgain = false;
  private retryTimer?: NodeJS.Timeout;
  /** stop() was called: nothing is sent any more, whoever asks (a wake-up, a late retry). */
  private stopped = false;
  /** Until then the provider is taken to lack the batch route (it answered 404): single sends only. */
  private noBatchUntil = 0;

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
  private encrypt(roomUri: string, content: Uint8Array, alsoStore?: () => void): Promise<{ message: Uint8Array; me: string }> {
    const { serial, sessions, db } = this.ctx;
    return serial.run(async () => {
      const s = sessions.get(roomUri);
      // A franked room (its franking_agent set): the tag over the content, keyed by its salt,
      // rides in the authenticated data, where the hub reads it and receivers check it.
      const franked = roomStateOf(s)?.frankingAgent !== undefined;
      const aad = franked ? frankAad(frankingTag(decodeContent(content).salt, content)) : undefined;
      const { session, message } = await s.encrypt(content, aad);
      // `alsoStore` (the outbox row's attempt count) goes in the same transaction: one commit per
      // message instead of two, each a WAL write on the send path.
      if (alsoStore)
        db.tx(() => {
          sessions.save(roomUri, session);
          alsoStore();
        });
      else sessions.save(roomUri, session);
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
    if (this.ctx.closed || this.stopped) return;
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
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /**
   * Sends what is queued, in order. More than one message waiting (a burst, or a backlog after
   * being offline): they go in batches of up to MAX_BATCH_MESSAGES in one request each
   * (ROUTES.sendMessageBatch), which the provider accepts entry by entry exactly as single sends;
   * one message alone, or a provider without the batch route (404), goes by the single route.
   */
  private async pump(): Promise<void> {
    const { db, client } = this.ctx;
    const items = db.outbox();
    let batching = items.length > 1 && Date.now() >= this.noBatchUntil;
    let i = 0;
    while (i < items.length) {
      if (this.ctx.closed) return;
      // Encrypt the next message, or the next batch of them. A message that needs a commit first
      // (pending proposals) starts a batch, so none before it is accepted after that commit.
      const ready: { item: OutboxRow; req?: SendMessageRequest }[] = [];
      let prepError: unknown;
      let bytes = 0;
      for (let k = i; k < Math.min(items.length, i + (batching ? MAX_BATCH_MESSAGES : 1)); k++) {
        const item = items[k];
        const size = item.content.length + BATCH_ENTRY_OVERHEAD;
        if (ready.length && (bytes + size > BATCH_CONTENT_BYTES || this.ctx.sessions.get(item.roomUri).pendingProposals() > 0)) break;
        try {
          ready.push({ item, req: await this.prepare(item) });
          bytes += size;
        } catch (e) {
          prepError = e; // met again, and settled, when it is the first of the next round
          break;
        }
        if (this.ctx.closed) return;
      }
      let outcomes: Outcome[];
      if (ready.length === 0) {
        outcomes = [{ error: prepError }];
        ready.push({ item: items[i] });
      } else if (ready.length === 1) {
        try {
          outcomes = [{ res: await client.sendMessage(ready[0].item.roomUri, ready[0].req!) }];
        } catch (e) {
          outcomes = [{ error: e }];
        }
      } else {
        try {
          const { results } = await client.sendMessageBatch({ messages: ready.map(({ item, req }) => ({ roomId: item.roomUri, ...req! })) });
          if (results.length !== ready.length) throw new ProviderError(200, 'internal', `the provider answered a batch of ${ready.length} messages with ${results.length} results`);
          outcomes = results.map((r) => ('error' in r ? { error: new ProviderError(r.status, r.error.code, r.error.message, r.error.currentEpoch === undefined ? undefined : BigInt(r.error.currentEpoch)) } : { res: r }));
        } catch (e) {
          if (e instanceof ProviderError && RETRYABLE.has(e.code)) {
            this.scheduleRetry();
            return; // the whole batch is retried, in order (its request ids make it harmless)
          }
          // A provider without the route (older than it), or one refusing the batch as a whole:
          // the same messages one by one, each getting its own answer.
          if (e instanceof ProviderError && e.status === 404) this.noBatchUntil = Date.now() + BATCH_ROUTE_RECHECK_MS;
          batching = false;
          continue;
        }
      }
      if (this.ctx.closed) return; // sent; dequeued at the next start, when the resend is a duplicate the hub drops
      let retry = false;
      let epochWait: { roomUri: string; epoch: bigint } | undefined;
      ready.forEach(({ item }, k) => {
        const step = this.settle(item, outcomes[k]);
        if (step === 'retry') retry = true;
        else if (step !== 'next') epochWait ??= { roomUri: item.roomUri, epoch: step.epochWait };
      });
      i += ready.length;
      if (retry) this.scheduleRetry(); // keep order: nothing after a retried message of its room goes first
      if (epochWait) {
        await this.commits.waitForEpoch(epochWait.roomUri, epochWait.epoch).catch(() => this.scheduleRetry());
        this.pumpAgain = true;
        return;
      }
      if (retry) return;
    }
  }

  /**
   * Encrypt and persist the advanced ratchet before the ciphertext leaves: a generation key must
   * never be used twice, even if we crash right after sending. MLS forbids application messages
   * while proposals are pending: they are committed first.
   */
  private async prepare(item: OutboxRow): Promise<SendMessageRequest> {
    const { db, sessions } = this.ctx;
    if (sessions.get(item.roomUri).pendingProposals() > 0) await this.commits.commitPendingProposals(item.roomUri);
    const { message, me } = await this.encrypt(item.roomUri, item.content, () => db.bumpAttempts(item.requestId));
    // A PrivateMessage hides its sender: where we are a pseudonym, say which one (the provider
    // checks it is ours and names it to the hub instead of the account).
    const asPseudonym = parseMimiUriAs('pseudonym', me) ? me : undefined;
    return { message: toB64(message), requestId: item.requestId, ...(asPseudonym ? { asPseudonym } : {}) };
  }

  /**
   * The provider's answer for one message: sent (dequeued), to retry ('retry': transient; an
   * epoch to wait for), or refused for good (failed, and the user is told).
   */
  private settle(item: OutboxRow, o: Outcome): 'next' | 'retry' | { epochWait: bigint } {
    const { db } = this.ctx;
    if ('res' in o) {
      this.noteHub(item.roomUri, true);
      db.tx(() => {
        db.dequeue(item.requestId);
        db.setMessageStatus(item.messageSeq, 'sent', o.res.acceptedTimestamp);
      });
      this.emitMessage(item.messageSeq);
      return 'next';
    }
    const e = o.error;
    if (e instanceof ProviderError && e.code === 'epochTooOld' && e.currentEpoch !== undefined) return { epochWait: e.currentEpoch };
    if (e instanceof ProviderError && RETRYABLE.has(e.code)) {
      if (e.code === 'peerUnreachable') this.noteHub(item.roomUri, false);
      return 'retry';
    }
    // A permanent refusal (not a member, room gone, malformed): tell the user, don't retry forever.
    db.tx(() => {
      db.dequeue(item.requestId);
      db.setMessageStatus(item.messageSeq, 'failed');
    });
    this.emitMessage(item.messageSeq);
    // A receipt the hub refuses is worth no error on screen: the next one says as much.
    if (item.messageSeq === CONTROL_MESSAGE_SEQ && isReceipt(item.content)) return 'next';
    const what = { key: item.messageSeq === CONTROL_MESSAGE_SEQ ? 'errors.what.identityKeysToJoiner' : 'errors.what.sendMessage' };
    const err = toCoreError(e, what);
    this.ctx.emit('error', err.message, err);
    return 'next';
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
