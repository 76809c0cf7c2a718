// Delivery and read receipts (draft-mahy-mimi-message-status-01) and the account's privacy switches
// (docs/receipts-and-typing.md).
//
// Out: a receipt is an ordinary encrypted mimi-content message whose body is one part of media type
// application/mimi-message-status, sent through the outbox as a control message (exactly once, in
// order, offline it waits) and never stored in the timeline. Delivery: the timeline messages of
// others this device stores are batched per room for a second, then one report says delivered(1).
// Read: markRead (the app calls it while the room is on screen) reports read(2) for the messages
// stored since the last read report. Nothing else gets a receipt: not a receipt, a typing
// indicator, an action (reaction, edit, delete), a timeline event or one of our own messages.
//
// In: a report is consumed before anything stores it (so it is never a message, unread, notified,
// searchable or reportable) and folded into the `receipts` table: only from a member of the room,
// only about our own messages in that room, and a status only ever rises (read stays read).

import { translate } from '../../src-shared/i18n/index.js';
import { displayUser } from '../../src-shared/identifiers.js';
import { type MessageView, type Optionality, type PrivacyView, type ReceiptPolicyView } from '../../src-shared/contract.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';
import { singlePartContent } from '../../src-shared/content-parts.js';
import { decodeMessageStatusReport, encodeMessageStatusReport, MAX_REPORT_ENTRIES, MESSAGE_STATUS_MEDIA_TYPE, MessageStatus } from '../../src-shared/message-status.js';
import { mayShare, mayShow, receiptsView, type ShareKind } from '../../src-shared/receipt-rules.js';
import { roleOf, statusPolicyOf } from '../../src-shared/room-state.js';
import { checkMessage } from '../../src-shared/room-commit.js';
import type { ReceiptsView } from '../../src-shared/contract.js';
import type { ProfileContext } from './context.js';
import { activeUsers, myUser, roomStateOf } from './group-sessions.js';
import type { Outbox } from './outbox.js';
import { coreError } from './errors.js';

/** How long delivered messages are gathered before one report goes (a burst or a backlog: one report). */
export const DELIVERY_BATCH_MS = 1000;

const SWITCHES = ['deliveryReceipts', 'readReceipts', 'typing'] as const;
type Switch = (typeof SWITCHES)[number];

/** This account's privacy switches (absent rows: on). */
export function privacyOf(ctx: Pick<ProfileContext, 'db'>): PrivacyView {
  const off = ctx.db.privacyOff();
  return { deliveryReceipts: !off.has('deliveryReceipts'), readReceipts: !off.has('readReceipts'), typing: !off.has('typing') };
}

/** The room's status_notification_policy as it stands here (absent component, or no room state: both optional). */
export function receiptPolicyOf(ctx: Pick<ProfileContext, 'sessions'>, roomUri: string): ReceiptPolicyView {
  try {
    return statusPolicyOf(roomStateOf(ctx.sessions.get(roomUri)));
  } catch {
    return { delivery: 'optional', read: 'optional' };
  }
}

/**
 * The receipts of our own messages among `rows`, as shown now (by message id): none while both
 * kinds are hidden here (switch off and not required, or forbidden by the room).
 */
export function ownReceipts(ctx: Pick<ProfileContext, 'db' | 'sessions' | 'config'>, roomUri: string, rows: readonly { messageId: string; sender: string; status: string; action?: unknown }[], me: string): Map<string, ReceiptsView> {
  const out = new Map<string, ReceiptsView>();
  const own = rows.filter((r) => r.sender === me && !r.action && r.status === 'sent');
  if (own.length === 0) return out;
  const policy = receiptPolicyOf(ctx, roomUri);
  const privacy = privacyOf(ctx);
  const show = { delivery: mayShow(policy.delivery, privacy.deliveryReceipts), read: mayShow(policy.read, privacy.readReceipts) };
  if (!show.delivery && !show.read) return out;
  let others = 0;
  try {
    others = [...activeUsers(ctx.sessions.get(roomUri))].filter((u) => u !== me).length;
  } catch {
    others = 0;
  }
  const kept = ctx.db.receiptsOf(roomUri, own.map((r) => r.messageId));
  for (const r of own) out.set(r.messageId, receiptsView(kept.get(r.messageId) ?? [], show, others)!);
  return out;
}

export class Receipts {
  /** roomUri -> ids (hex) of others' messages stored here and not yet reported delivered. */
  private readonly pending = new Map<string, Set<string>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly outbox: Outbox,
    /** The view of one of our messages as it reads now (message-view.ts), for the 'message' event. */
    private readonly viewOf: (roomUri: string, messageId: string) => MessageView | undefined,
    /**
     * The views of several of them at once (those found), when the owner can build them together:
     * a delivery report names every message of the last second, and building each view alone cost
     * three queries per message, a stall of tens of ms once a second under a stream of messages.
     */
    private readonly viewsOf?: (roomUri: string, messageIds: string[]) => MessageView[],
  ) {}

  privacy(): PrivacyView {
    return privacyOf(this.ctx);
  }

  /** Turn switches on or off (absent ones stay); anything else is refused and nothing changes. */
  setPrivacy(changes: Partial<PrivacyView>): PrivacyView {
    if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) throw coreError('invalidArgument', 'receipts.errors.noSwitches');
    for (const [k, v] of Object.entries(changes)) {
      if (!(SWITCHES as readonly string[]).includes(k)) throw coreError('invalidArgument', 'receipts.errors.unknownSwitch', { name: k.slice(0, 40), names: SWITCHES.join(', ') });
      if (typeof v !== 'boolean') throw coreError('invalidArgument', 'receipts.errors.switchValue', { name: k });
    }
    this.ctx.db.tx(() => {
      for (const [k, v] of Object.entries(changes)) this.ctx.db.setPrivacySwitch(k as Switch, v as boolean);
    });
    return this.privacy();
  }

  /** Would this device send `kind` in the room now? */
  private shares(roomUri: string, kind: Exclude<ShareKind, 'typing'>): boolean {
    const policy: Optionality = receiptPolicyOf(this.ctx, roomUri)[kind];
    const on = kind === 'delivery' ? this.privacy().deliveryReceipts : this.privacy().readReceipts;
    let members = 0;
    try {
      members = activeUsers(this.ctx.sessions.get(roomUri)).size;
    } catch {
      return false;
    }
    return mayShare(kind, policy, on, members);
  }

  /** Another member's timeline message was stored here: it goes into the next delivery report. */
  delivered(roomUri: string, messageId: string): void {
    if (this.ctx.closed) return;
    const ids = this.pending.get(roomUri) ?? new Set<string>();
    ids.add(messageId);
    this.pending.set(roomUri, ids);
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, DELIVERY_BATCH_MS);
      this.timer.unref?.();
    }
  }

  /** Send the gathered delivery reports now (the batch timer, and closing). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [roomUri, ids] of batches) {
      if (ids.size === 0 || !this.shares(roomUri, 'delivery')) continue;
      await this.send(roomUri, [...ids], MessageStatus.delivered);
    }
  }

  /**
   * The room is on screen (rooms.markRead): report read(2) for the others' messages stored since the
   * last read report. The mark moves on even when nothing is sent, so turning the switch on later
   * does not report the past.
   */
  async read(roomUri: string): Promise<void> {
    const { db } = this.ctx;
    const me = this.me(roomUri);
    const fresh = db.receivedAfter(roomUri, db.readMark(roomUri), me);
    if (fresh.length === 0) return;
    db.setReadMark(roomUri, fresh[fresh.length - 1].seq);
    if (!this.shares(roomUri, 'read')) return;
    // The newest ones when a long backlog was read at once (one report has a bounded size).
    const ids = fresh.slice(-MAX_REPORT_ENTRIES).map((m) => m.messageId);
    // Read implies delivered: those need no delivery report any more.
    const waiting = this.pending.get(roomUri);
    for (const id of ids) waiting?.delete(id);
    await this.send(roomUri, ids, MessageStatus.read);
  }

  private async send(roomUri: string, ids: string[], status: number): Promise<void> {
    const session = this.ctx.sessions.get(roomUri);
    const state = roomStateOf(session);
    // Someone the room does not let send (a guest) sends no receipts either: the hub would refuse them.
    if (state && !checkMessage(state, this.me(roomUri)).ok) return;
    for (let i = 0; i < ids.length; i += MAX_REPORT_ENTRIES) {
      const report = encodeMessageStatusReport(ids.slice(i, i + MAX_REPORT_ENTRIES).map((id) => ({ messageId: fromHex(id), status })));
      await this.outbox.sendControl(roomUri, (me) => singlePartContent({ senderUri: me, roomUri, contentType: MESSAGE_STATUS_MEDIA_TYPE, content: report }));
    }
  }

  /**
   * A report from `sender` arrived (call inside the transaction that stores the event): fold it in
   * and return what to emit afterwards. Dropped: reports from someone not on the room's list, about
   * messages that are not ours or not in this room, kinds this device does not show now (so turning
   * a switch on later reveals nothing collected meanwhile), and anything malformed.
   */
  onReport(roomUri: string, sender: string, report: Uint8Array, at: number): (() => void) | undefined {
    const { db, sessions } = this.ctx;
    const session = sessions.get(roomUri);
    if (!activeUsers(session).has(sender)) return undefined;
    const state = roomStateOf(session);
    if (state && roleOf(state, sender) === 0) return undefined;
    const me = this.me(roomUri);
    if (sender === me) return undefined; // another device of ours: nothing to tell us
    let entries;
    try {
      entries = decodeMessageStatusReport(report);
    } catch (e) {
      this.ctx.emit('error', translate('receipts.errors.ignored', { user: displayUser(sender), problem: (e as Error).message }));
      return undefined;
    }
    const policy = receiptPolicyOf(this.ctx, roomUri);
    const privacy = this.privacy();
    const showDelivery = mayShow(policy.delivery, privacy.deliveryReceipts);
    const showRead = mayShow(policy.read, privacy.readReceipts);
    const changed: string[] = [];
    for (const e of entries) {
      let status: 1 | 2;
      if (e.status === MessageStatus.read && showRead) status = 2;
      // With read receipts hidden here, a read still says the message arrived.
      else if ((e.status === MessageStatus.read || e.status === MessageStatus.delivered) && showDelivery) status = 1;
      else continue;
      const id = toHex(e.messageId);
      const m = db.messageById(roomUri, id);
      if (!m || m.sender !== me || m.action) continue;
      if (db.noteReceipt(roomUri, id, sender, status, at)) changed.push(id);
    }
    if (changed.length === 0) return undefined;
    return () => {
      const ids = [...new Set(changed)];
      const views = this.viewsOf ? this.viewsOf(roomUri, ids) : ids.map((id) => this.viewOf(roomUri, id));
      for (const view of views) if (view) this.ctx.emit('message', { ...view, changed: true });
    };
  }

  /**
   * Who reported one of our messages delivered or read (`mimi receipts`); undefined while this
   * device shows neither kind in the room (switches off, or the room forbids them).
   */
  of(roomUri: string, messageId: string): ReceiptsView | undefined {
    const id = messageId.toLowerCase();
    const row = this.ctx.db.messageById(roomUri, id);
    if (!row || row.action) throw coreError('invalidArgument', 'receipts.errors.noMessage', { id: messageId.slice(0, 16) });
    if (row.sender !== this.me(roomUri)) throw coreError('invalidArgument', 'receipts.errors.notOwn');
    return ownReceipts(this.ctx, roomUri, [row], row.sender).get(id);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private me(roomUri: string): string {
    return myUser(this.ctx.sessions.get(roomUri), this.ctx.config.userUri);
  }
}
