// Follower-side replay protection for /notify (draft-ietf-mimi-protocol-06: a duplicate request
// from the same hub MUST still get 201 and SHOULD be processed only once). We remember the SHA-256
// of every FanoutMessage rather than of request bodies, because a hub's outbox may cut a retried
// batch differently; equal FanoutMessage bytes from the same hub are the same event (each carries
// the hub's acceptance timestamp and a unique MLS message).

import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

const DAY_MS = 24 * 3600 * 1000;
/** Entries are kept at least this long; a hub retrying for longer than this is misbehaving. */
export const SEEN_RETENTION_MS = 7 * DAY_MS;
/** How often (at most) old entries are pruned, piggybacked on isDuplicate. */
const PRUNE_INTERVAL_MS = 3600 * 1000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS fed_seen (
    hub_domain TEXT NOT NULL,
    digest BLOB NOT NULL,      -- SHA-256 of one FanoutMessage
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (hub_domain, digest)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS fed_seen_age ON fed_seen(seen_at);
`;

export function initSeenLog(db: Database.Database): void {
  db.exec(SCHEMA);
}

export interface SeenLogOptions {
  /** Not shorter than SEEN_RETENTION_MS. */
  retentionMs?: number;
  now?: () => number;
}

export class SeenLog {
  private readonly retentionMs: number;
  private readonly now: () => number;
  private lastPrune = 0;
  private readonly s;

  constructor(db: Database.Database, opts: SeenLogOptions = {}) {
    this.retentionMs = Math.max(SEEN_RETENTION_MS, opts.retentionMs ?? SEEN_RETENTION_MS);
    this.now = opts.now ?? Date.now;
    initSeenLog(db);
    this.s = {
      insert: db.prepare<[string, Buffer, number]>('INSERT OR IGNORE INTO fed_seen (hub_domain, digest, seen_at) VALUES (?, ?, ?)'),
      prune: db.prepare<[number]>('DELETE FROM fed_seen WHERE seen_at < ?'),
    };
  }

  /**
   * Records one FanoutMessage from `hubDomain` and tells whether it had been seen before. Call it
   * inside the transaction that applies the message, so a failed apply leaves no record.
   */
  isDuplicate(hubDomain: string, fanoutMessage: Uint8Array): boolean {
    const now = this.now();
    if (now - this.lastPrune >= PRUNE_INTERVAL_MS) this.prune();
    const digest = createHash('sha256').update(fanoutMessage).digest();
    return this.s.insert.run(hubDomain, digest, now).changes === 0;
  }

  /** Drops entries older than the retention; returns how many. */
  prune(): number {
    const now = this.now();
    this.lastPrune = now;
    return this.s.prune.run(now - this.retentionMs).changes;
  }
}
