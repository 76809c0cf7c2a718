// When this device sends delivery and read receipts and typing indicators, when it shows others',
// and how stored receipts read on one of your messages (docs/receipts-and-typing.md). Pure: the
// core (src-main/core/receipts.ts, typing.ts) feeds it the room's policy, the switch and the room.

import type { Optionality, ReceiptsView } from './contract.js';

export type ShareKind = 'delivery' | 'read' | 'typing';

/**
 * Largest room (users with a device in it, you included) in which this device sends a kind on its
 * own accord (policy optional). Each report is one message to every member, so N members reporting
 * on every message is N² messages: delivery receipts go out for every message without anyone
 * looking, so they stop early; read receipts only when someone opens the room; typing indicators
 * repeat every few seconds while someone types. A room that requires receipts gets them at any size.
 */
export const SHARE_LIMIT: Readonly<Record<ShareKind, number>> = { delivery: 32, read: 100, typing: 32 };

/** Does this device send `kind` in a room with `members` users? (typing has no room policy: pass 'optional'.) */
export function mayShare(kind: ShareKind, policy: Optionality, switchOn: boolean, members: number): boolean {
  if (policy === 'forbidden') return false;
  if (policy === 'required') return true;
  return switchOn && members <= SHARE_LIMIT[kind];
}

/**
 * Does this device show others' `kind`? Reciprocity (as Signal does): with the switch off you see
 * none, unless the room requires them of everyone; a room that forbids them shows none.
 */
export function mayShow(policy: Optionality, switchOn: boolean): boolean {
  if (policy === 'forbidden') return false;
  return policy === 'required' || switchOn;
}

/**
 * One of your messages' receipts as the view shows them. `rows` are the kept receipts (status 1
 * delivered, 2 read; one per reporter, never lowered). Read implies delivered: with read receipts
 * not shown, a reader counts as delivered. Undefined when neither kind is shown.
 */
export function receiptsView(rows: readonly { reporter: string; status: number }[], show: { delivery: boolean; read: boolean }, others: number): ReceiptsView | undefined {
  if (!show.delivery && !show.read) return undefined;
  const delivered: string[] = [];
  const read: string[] = [];
  for (const r of rows) {
    if (r.status >= 2 && show.read) read.push(r.reporter);
    else if (r.status >= 1 && show.delivery) delivered.push(r.reporter);
  }
  return { delivered, read, of: others };
}
