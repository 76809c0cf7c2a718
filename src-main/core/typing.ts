// Typing indicators (a private format: src-shared/typing-indicator.ts, docs/receipts-and-typing.md).
// Nothing of them is stored: they are sent past the outbox (offline: not at all) and kept in memory
// only while they last.
//
// Out: while the person types, at most one "typing" per room every TYPING_REPEAT_MS; when they stop,
// one "stopped", only if a "typing" went out. In: who is typing, per room, each until their lifetime
// runs out (unless repeated), their "stopped", or a message from them arrives. An indicator already
// older than its lifetime when it arrives (it waited somewhere) is dropped.

import { singlePartContent } from '../../src-shared/content-parts.js';
import { mayShare } from '../../src-shared/receipt-rules.js';
import { encodeTypingIndicator, TYPING_MEDIA_TYPE, type TypingIndicator } from '../../src-shared/typing-indicator.js';
import type { ProfileContext } from './context.js';
import { activeUsers } from './group-sessions.js';
import type { Outbox } from './outbox.js';
import { privacyOf } from './receipts.js';

/** What we ask receivers to show a "typing" for without a repeat. */
export const TYPING_LIFETIME_S = 6;
/** How often "typing" is repeated while typing goes on: well inside the lifetime, so it never flickers. */
export const TYPING_REPEAT_MS = 4000;

export class Typing {
  /** roomUri -> when we last tried to send "typing", and whether it went out. */
  private readonly sent = new Map<string, { at: number; ok: boolean }>();
  /** roomUri -> user -> the timer that drops their indicator when its lifetime runs out. */
  private readonly others = new Map<string, Map<string, NodeJS.Timeout>>();

  constructor(
    private readonly ctx: ProfileContext,
    private readonly outbox: Outbox,
    private readonly now: () => number = Date.now,
  ) {}

  /** This account is typing in the room (true, repeated as it goes on) or stopped (false). */
  async set(roomUri: string, typing: boolean): Promise<void> {
    if (!this.ctx.db.getRoom(roomUri)) return;
    if (!typing) {
      const last = this.sent.get(roomUri);
      this.sent.delete(roomUri);
      if (last?.ok) await this.send(roomUri, { typing: false, lifetime: TYPING_LIFETIME_S });
      return;
    }
    if (!this.shares(roomUri)) return;
    const last = this.sent.get(roomUri);
    // A failed attempt (offline) waits the interval too: no request per keystroke.
    if (last !== undefined && this.now() - last.at < TYPING_REPEAT_MS) return;
    const attempt = { at: this.now(), ok: false };
    this.sent.set(roomUri, attempt);
    attempt.ok = await this.send(roomUri, { typing: true, lifetime: TYPING_LIFETIME_S });
  }

  private shares(roomUri: string): boolean {
    let members = 0;
    try {
      members = activeUsers(this.ctx.sessions.get(roomUri)).size;
    } catch {
      return false;
    }
    return mayShare('typing', 'optional', privacyOf(this.ctx).typing, members);
  }

  private send(roomUri: string, t: TypingIndicator): Promise<boolean> {
    const body = encodeTypingIndicator(t);
    return this.outbox.sendEphemeral(roomUri, (me) => singlePartContent({ senderUri: me, roomUri, contentType: TYPING_MEDIA_TYPE, content: body }));
  }

  /** An indicator from `sender`, accepted by the hub at `acceptedAt` (ms). */
  onIndicator(roomUri: string, sender: string, t: TypingIndicator, acceptedAt: number): void {
    if (!privacyOf(this.ctx).typing) return;
    if (!t.typing) {
      this.drop(roomUri, sender);
      return;
    }
    const left = acceptedAt + t.lifetime * 1000 - this.now();
    if (left <= 0) return; // it waited longer than it means anything
    const room = this.others.get(roomUri) ?? new Map<string, NodeJS.Timeout>();
    const was = room.get(sender);
    if (was) clearTimeout(was);
    const timer = setTimeout(() => this.drop(roomUri, sender), left);
    timer.unref?.();
    room.set(sender, timer);
    this.others.set(roomUri, room);
    if (!was) this.emit(roomUri);
  }

  /** A message from `sender` arrived: whatever they typed is here. */
  onMessage(roomUri: string, sender: string): void {
    this.drop(roomUri, sender);
  }

  /** Who is typing in the room now (others). */
  typingIn(roomUri: string): string[] {
    return [...(this.others.get(roomUri)?.keys() ?? [])];
  }

  /** The switch went off: show nobody typing any more. */
  clear(): void {
    for (const [roomUri, room] of [...this.others]) {
      for (const t of room.values()) clearTimeout(t);
      this.others.delete(roomUri);
      this.ctx.emit('typing', roomUri, []);
    }
    this.sent.clear();
  }

  stop(): void {
    for (const room of this.others.values()) for (const t of room.values()) clearTimeout(t);
    this.others.clear();
  }

  private drop(roomUri: string, sender: string): void {
    const room = this.others.get(roomUri);
    const t = room?.get(sender);
    if (!room || !t) return;
    clearTimeout(t);
    room.delete(sender);
    if (room.size === 0) this.others.delete(roomUri);
    this.emit(roomUri);
  }

  private emit(roomUri: string): void {
    this.ctx.emit('typing', roomUri, this.typingIn(roomUri));
  }
}
