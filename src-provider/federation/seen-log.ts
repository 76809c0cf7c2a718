// Follower-side replay protection for /notify (draft-ietf-mimi-protocol-06: a duplicate request
// from the same hub MUST still get 201 and SHOULD be processed only once). We remember the SHA-256
// of every FanoutMessage rather than of request bodies, because a hub's outbox may cut a retried
// batch differently; equal FanoutMessage bytes from the same hub are the same event (each carries
// the hub's acceptance timestamp and a unique MLS message).
//
// It also keeps, per hub and room, how far the hub's fanout sequence has been applied here
// (fanout-outbox.ts sends several requests at once and names each one's place in its sequence):
// `appliedThrough` is the hub outbox id of the last FanoutMessage of the room applied, valid for
// one stream (the hub outbox's random id). Every row of the room up to it has been applied here, so
// a batch that follows it may be applied now, and one that follows a later row must wait; and a
// FanoutMessage with an id up to it is one already applied. Messages recognised by their ids need
// no digest here (recording one is a random insert into a large index: most of what a message
// cost the follower). To recognise them all the same when they come again WITHOUT ids (a replay,
// or a hub that stopped sending them), `appliedUntil` keeps the latest hub timestamp among them:
// the hub stamps its rows as it accepts them, in the order it fans them out, so a FanoutMessage of
// the room stamped no later than that was applied already.

import type Database from 'better-sqlite3';
import crypto from 'node:crypto';
import { createModuleTables } from '../store.js';

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
  CREATE TABLE IF NOT EXISTS fed_notify_order (
    hub_domain TEXT NOT NULL,
    room_uri TEXT NOT NULL,
    stream TEXT NOT NULL,      -- the hub outbox's id sequence (Mimi-Fanout-Stream)
    last_seq INTEGER NOT NULL, -- every row of the room up to this outbox id is applied here
    max_ts INTEGER NOT NULL,   -- latest FanoutMessage timestamp applied by id (no digest kept)
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (hub_domain, room_uri)
  ) WITHOUT ROWID;
`;

export function initSeenLog(db: Database.Database): void {
  createModuleTables(db, SCHEMA);
}

export interface SeenLogOptions {
  /** Not shorter than SEEN_RETENTION_MS. */
  retentionMs?: number;
  now?: () => number;
}

/** SHA-256 in one call (crypto.hash where the runtime has it: no Hash object per message). */
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest();

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
      pruneOrder: db.prepare<[number]>('DELETE FROM fed_notify_order WHERE updated_at < ?'),
      order: db.prepare<[string, string], { stream: string; last_seq: number; max_ts: number }>(
        'SELECT stream, last_seq, max_ts FROM fed_notify_order WHERE hub_domain = ? AND room_uri = ?',
      ),
      noteOrder: db.prepare<[string, string, string, number, number, number]>(
        `INSERT INTO fed_notify_order (hub_domain, room_uri, stream, last_seq, max_ts, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (hub_domain, room_uri) DO UPDATE SET
           last_seq = CASE WHEN fed_notify_order.stream = excluded.stream THEN max(fed_notify_order.last_seq, excluded.last_seq) ELSE excluded.last_seq END,
           stream = excluded.stream,
           max_ts = max(fed_notify_order.max_ts, excluded.max_ts),
           updated_at = excluded.updated_at`,
      ),
    };
  }

  /**
   * Records one FanoutMessage from `hubDomain` and tells whether it had been seen before. Call it
   * inside the transaction that applies the message, so a failed apply leaves no record.
   */
  isDuplicate(hubDomain: string, fanoutMessage: Uint8Array): boolean {
    const now = this.now();
    if (now - this.lastPrune >= PRUNE_INTERVAL_MS) this.prune();
    return this.s.insert.run(hubDomain, sha256(fanoutMessage), now).changes === 0;
  }

  /** The hub outbox id through which `roomUri`'s fanout from `hubDomain` is applied here, in `stream`; undefined if unknown. */
  appliedThrough(hubDomain: string, roomUri: string, stream: string): number | undefined {
    const row = this.s.order.get(hubDomain, roomUri);
    return row && row.stream === stream ? row.last_seq : undefined;
  }

  /** The latest timestamp of a FanoutMessage of `roomUri` from `hubDomain` applied by its id (no digest recorded); undefined if none. */
  appliedUntil(hubDomain: string, roomUri: string): number | undefined {
    const row = this.s.order.get(hubDomain, roomUri);
    return row && row.max_ts > 0 ? row.max_ts : undefined;
  }

  /**
   * Notes that a batch of `roomUri` ending at outbox id `last` of `stream` is applied (inside the
   * transaction that applied it), `maxTs` the latest timestamp among its messages applied by id
   * (0 for none). A new stream (the hub's outbox was recreated) starts afresh.
   */
  noteApplied(hubDomain: string, roomUri: string, stream: string, last: number, maxTs: number): void {
    this.s.noteOrder.run(hubDomain, roomUri, stream, last, maxTs, this.now());
  }

  /** Drops entries older than the retention; returns how many. */
  prune(): number {
    const now = this.now();
    this.lastPrune = now;
    this.s.pruneOrder.run(now - this.retentionMs);
    return this.s.prune.run(now - this.retentionMs).changes;
  }
}
