// The ordered message list of one conversation, merged from pages, send() answers and events.

import type { MessageView } from '../../../src-shared/contract.js';

/**
 * The newer of two views of one message. The send() answer and the "sent" event travel
 * separately and may arrive in either order; a message never goes back to pending.
 */
function newer(existing: MessageView, incoming: MessageView): MessageView {
  return incoming.status === 'pending' && existing.status !== 'pending' ? existing : incoming;
}

/** Insert or replace by seq, keeping ascending order; returns a new array. */
export function upsertBySeq(items: readonly MessageView[], incoming: readonly MessageView[]): MessageView[] {
  const out = items.slice();
  for (const m of incoming) {
    const last = out[out.length - 1];
    if (last?.seq === m.seq) {
      out[out.length - 1] = newer(last, m);
      continue;
    }
    if (!last || m.seq > last.seq) {
      out.push(m); // the common case: a new message at the end
      continue;
    }
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (out[mid].seq < m.seq) lo = mid + 1;
      else hi = mid;
    }
    if (out[lo]?.seq === m.seq) out[lo] = newer(out[lo], m);
    else out.splice(lo, 0, m);
  }
  return out;
}
