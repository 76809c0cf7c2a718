// The ordered message list of one conversation, merged from pages, send() answers and events, in
// timeline order: the hub's acceptance order, pending messages last (src-shared/timeline-order.ts,
// the order the core's pages come in).

import type { MessageView } from '../../../src-shared/contract.js';
import { compareTimeline } from '../../../src-shared/timeline-order.js';

/**
 * The newer of two views of one message. The send() answer and the "sent" event travel
 * separately and may arrive in either order; a message never goes back to pending.
 */
function newer(existing: MessageView, incoming: MessageView): MessageView {
  return incoming.status === 'pending' && existing.status !== 'pending' ? existing : incoming;
}

/**
 * Insert or replace by seq, keeping timeline order; returns a new array. A message moves when its
 * place changes: a pending one of ours goes from the end to where the hub accepted it.
 */
export function upsertInTimeline(items: readonly MessageView[], incoming: readonly MessageView[]): MessageView[] {
  if (incoming.length === 1) return upsertOne(items, incoming[0]);
  if (incoming.length === 0) return items.slice();
  const bySeq = new Map<number, MessageView>();
  for (const m of items) bySeq.set(m.seq, m);
  for (const m of incoming) {
    const known = bySeq.get(m.seq);
    bySeq.set(m.seq, known ? newer(known, m) : m);
  }
  return [...bySeq.values()].sort(compareTimeline);
}

/** One message (an event, a send() answer): the common case, without re-sorting the list. */
function upsertOne(items: readonly MessageView[], m: MessageView): MessageView[] {
  const out = items.slice();
  // Changes are mostly to recent messages: look from the end.
  let i = out.length - 1;
  while (i >= 0 && out[i].seq !== m.seq) i--;
  const v = i >= 0 ? newer(out[i], m) : m;
  if (i >= 0) out.splice(i, 1);
  const last = out[out.length - 1];
  if (!last || compareTimeline(last, v) < 0) {
    out.push(v);
    return out;
  }
  let lo = 0;
  let hi = out.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareTimeline(out[mid], v) < 0) lo = mid + 1;
    else hi = mid;
  }
  out.splice(lo, 0, v);
  return out;
}
