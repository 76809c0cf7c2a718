// The order of a room's timeline, the same on every member's device: the hub's acceptance order.
//
// A message the hub accepted carries the hub's acceptance time (its own ones too, from the hub's
// answer), and every member stores that same time, so sorting by it gives everyone the same
// order, whatever order the messages reached each device in (a queue flushed after an outage, a
// follower catching up). The hub stamps in milliseconds; messages it accepted within one
// millisecond are put in message-ID order, which every member computes alike. A message still
// waiting to be accepted (pending) has no place in that order yet: it stays at the end, in the
// order it was written, until the hub takes it. One that failed for good keeps the time it was
// written. The profile database sorts with the same key in SQL (src-main/db/profile-db.ts).

export interface TimelineOrderFields {
  seq: number;
  messageId: string;
  status: 'pending' | 'sent' | 'received' | 'failed';
  /** The hub's acceptance time once accepted; the time it was written before. */
  timestamp: number;
}

/** Negative when `a` comes before `b` in the timeline. */
export function compareTimeline(a: TimelineOrderFields, b: TimelineOrderFields): number {
  const pa = a.status === 'pending' ? 1 : 0;
  const pb = b.status === 'pending' ? 1 : 0;
  if (pa !== pb) return pa - pb;
  if (pa === 1) return a.seq - b.seq;
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  if (a.messageId !== b.messageId) return a.messageId < b.messageId ? -1 : 1;
  return a.seq - b.seq;
}
