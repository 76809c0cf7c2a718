// Rate limits kept in the provider's database (issue 17): token buckets every node of a domain
// shares, so N nodes behind a balancer allow what one node allows, not N times it, and a restart
// forgets nothing. Before, each limiter was a Map in one process.
//
// A bucket holds at most `burst` tokens and refills at `ratePerMinute`, continuously; a request
// takes one. A row is (bucket name, key hash, tokens, updated_at, full_at): the tokens left at
// updated_at, and when the bucket will be full again. A missing row is a full bucket, so rows whose bucket has
// refilled are deleted (sweep) without changing any answer.
//
// The key (a handle, a user or pseudonym URI, a peer's domain) is stored only as SHA-256 of the
// bucket name and the key: the table names no one a scan of the storage would find. It does not
// hide a key from someone who guesses it and hashes their guess; a row lives only until its bucket
// has refilled (a minute or an hour), which is as long as the old in-memory map kept it.
//
// Taking a token is one store transaction: read the row, refill by the time elapsed, write it.
// On SQLite the transaction holds the write lock; on PostgreSQL it is SERIALIZABLE, so two nodes
// taking from one bucket at once conflict and the Store runs the loser again, which then sees the
// winner's spend: two nodes cannot both spend the last token. A refused request writes nothing
// (the refilled state equals the stored one), so a flood of refused requests costs reads only.
//
// Synchronous, like the Store. Call take() outside a transaction of your own: inside one it is a
// savepoint, and rolling the outer transaction back would give the token back.

import { createHash } from 'node:crypto';
import { isRetryable } from './pg/sync-db.js';
import type { Store } from './store.js';

/** A sweep runs after this many takes of one limiter (per process)... */
const SWEEP_EVERY = 64;
/** ...and deletes at most this many refilled rows, so one request never pays for a large backlog. */
const SWEEP_ROWS = 256;

/** The stored form of a key: SHA-256(bucket NUL key), never the key itself. */
export function rateKeyHash(bucket: string, key: string): Buffer {
  return createHash('sha256').update(bucket, 'utf8').update('\0').update(key, 'utf8').digest();
}

/**
 * Token buckets by key under one bucket name, in the store: `burst` tokens (default
 * `ratePerMinute`), refilled continuously at `ratePerMinute`.
 */
export class RateLimiter {
  private readonly burst: number;
  private takes = 0;

  constructor(
    private readonly store: Store,
    /** Names this limiter's rows; each limiter of a provider has its own. */
    readonly bucket: string,
    readonly ratePerMinute: number,
    private readonly now: () => number = Date.now,
    burst?: number,
  ) {
    this.burst = burst ?? ratePerMinute;
  }

  /** Takes a token for `key`; returns 0 when allowed, else the ms until one is available. */
  take(key: string): number {
    const now = this.now();
    const hash = rateKeyHash(this.bucket, key);
    const perMs = this.ratePerMinute / 60_000;
    const wait = this.store.tx(() => {
      const row = this.store.rateBucket(this.bucket, hash);
      // A node whose clock is behind the one that wrote the row sees no time elapsed (never a
      // negative refill), and keeps the row's time: writing its own earlier time would hand the
      // next node with a correct clock the difference as extra refill.
      const at = row ? Math.max(now, row.at) : now;
      const tokens = row ? Math.min(this.burst, row.tokens + (at - row.at) * perMs) : this.burst;
      if (tokens < 1) return Math.ceil((1 - tokens) / perMs);
      const left = tokens - 1;
      this.store.putRateBucket(this.bucket, hash, left, at, fullAt(at, this.burst - left, perMs));
      return 0;
    });
    if (++this.takes % SWEEP_EVERY === 0) this.sweep(now);
    return wait;
  }

  /** Fills `key`'s bucket again (a successful login clears its failures). */
  clear(key: string): void {
    this.store.tx(() => this.store.deleteRateBucket(this.bucket, rateKeyHash(this.bucket, key)));
  }

  /**
   * Deletes up to SWEEP_ROWS rows, of any limiter, whose bucket has refilled by `now`: they behave
   * like missing ones. Returns how many went.
   */
  sweep(now: number = this.now()): number {
    try {
      return this.store.tx(() => this.store.sweepRateBuckets(now, SWEEP_ROWS));
    } catch (e) {
      // Housekeeping: a sweep that lost every rerun to other nodes' takes (PostgreSQL), or waited
      // too long for SQLite's write lock, is left to the next one, never the request's failure.
      if (isRetryable(e) || (e as { code?: unknown }).code === 'SQLITE_BUSY') return 0;
      throw e;
    }
  }
}

/** When a bucket short of `missing` tokens at `at` is full again (a whole ms, for BIGINT). */
function fullAt(at: number, missing: number, perMs: number): number {
  const t = Math.ceil(at + missing / perMs);
  return Number.isFinite(t) ? Math.min(t, Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER;
}
