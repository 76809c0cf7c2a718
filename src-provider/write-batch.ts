// Group commit: the writes of concurrent requests (messages from devices and peers, push acks)
// gathered and committed in ONE store transaction, instead of one transaction each.
//
// Why: a transaction's fixed cost (BEGIN/COMMIT, the WAL frames of every page it touched: the
// events, inbox, accepted and idempotency b-tree pages, each rewritten whole) is most of what a small
// message costs the store; requests that arrive together share those pages and that commit.
//
// How: `run(fn)` queues `fn` and returns a promise; the queue is flushed on the next turn of the
// event loop (setImmediate: after the I/O callbacks of this turn, i.e. every request whose body has
// arrived by then). The flush opens one transaction and runs each job in its own savepoint (a
// nested store.tx), in arrival order, so a job that throws rolls back only its own writes and gets
// its own error. Promises settle only after the outer COMMIT returned: a request is answered (201)
// only once its rows are committed, exactly as with a transaction of its own. If the commit itself
// fails, every job of the batch fails with it (none of their rows exist). Announcements (push,
// fanout kick) registered with store.afterCommit run after that commit, before the promises settle.

import type { Store } from './store.js';
import { isRetryable } from './pg/sync-db.js';

interface Job<T = unknown> {
  fn: () => T;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
  /** For a job of runAll: how many jobs of its group follow it (the flush keeps them together). */
  group?: number;
  /** For a job of runAll: the transaction failed (its group's promise rejects once). */
  abort?: (e: unknown) => void;
  /** Times its transaction failed on a serialization conflict (PostgreSQL, several nodes). */
  conflicts?: number;
}

/**
 * PostgreSQL, several nodes: a transaction that still fails on a serialization conflict after the
 * Store's quick reruns is run again later, after a random pause growing with each try (nothing of it
 * was stored), at most this many times before its requests fail.
 */
const MAX_CONFLICT_RETRIES = 12;
const conflictDelayMs = (n: number): number => Math.random() * Math.min(200, 2 ** n);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface WriteBatchOptions {
  /** false: each job is its own transaction, run at once (the per-request baseline). Default true. */
  grouped?: boolean;
  /** Most jobs in one transaction (bounds the time the event loop is held by one flush). */
  maxJobs?: number;
  log?: (msg: string) => void;
}

export interface WriteBatchStats {
  jobs: number;
  transactions: number;
}

export class WriteBatch {
  readonly grouped: boolean;
  private readonly maxJobs: number;
  private readonly log: (msg: string) => void;
  private queue: Job[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly counts: WriteBatchStats = { jobs: 0, transactions: 0 };

  constructor(
    private readonly store: Store,
    opts: WriteBatchOptions = {},
  ) {
    this.grouped = opts.grouped ?? true;
    this.maxJobs = opts.maxJobs ?? 256;
    this.log = opts.log ?? (() => {});
  }

  /** Runs `fn` inside a store transaction; settles after that transaction committed (or failed). */
  run<T>(fn: () => T): Promise<T> {
    if (!this.grouped) {
      this.counts.jobs++;
      this.counts.transactions++;
      try {
        return Promise.resolve(this.store.tx(fn));
      } catch (e) {
        return isRetryable(e) ? this.runAgain(fn, 1) : Promise.reject(e);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve, reject } as Job);
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /**
   * Runs each of `fns` in its own savepoint, one after the other in this order, all in the SAME
   * transaction (a flush never splits them, even past maxJobs); resolves, once it committed, with
   * each one's outcome: one that throws fails alone. Rejects only when the transaction itself
   * failed (then none of them took effect). Per-request mode: each its own transaction, in order.
   */
  runAll<T>(fns: readonly (() => T)[]): Promise<PromiseSettledResult<T>[]> {
    if (!this.grouped) {
      return Promise.resolve(
        fns.map((fn): PromiseSettledResult<T> => {
          this.counts.jobs++;
          this.counts.transactions++;
          try {
            return { status: 'fulfilled', value: this.store.tx(fn) };
          } catch (reason) {
            return { status: 'rejected', reason };
          }
        }),
      );
    }
    if (fns.length === 0) return Promise.resolve([]);
    return new Promise<PromiseSettledResult<T>[]>((resolve, reject) => {
      const outcomes: PromiseSettledResult<T>[] = [];
      let aborted = false;
      const settle = (i: number, o: PromiseSettledResult<T>) => {
        outcomes[i] = o;
        // The group is in one flush, so its jobs settle in one go, the last one last.
        if (i === fns.length - 1 && !aborted) resolve(outcomes);
      };
      const abort = (e: unknown) => {
        if (!aborted) reject(e);
        aborted = true;
      };
      fns.forEach((fn, i) =>
        this.queue.push({
          fn,
          resolve: (value) => settle(i, { status: 'fulfilled', value: value as T }),
          reject: (reason) => settle(i, { status: 'rejected', reason }),
          abort,
          group: fns.length - 1 - i,
        }),
      );
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Per-request mode: `fn` again after a serialization conflict, later, as flush does for a batch. */
  private async runAgain<T>(fn: () => T, conflicts: number): Promise<T> {
    for (;;) {
      await sleep(conflictDelayMs(conflicts));
      try {
        return this.store.tx(fn);
      } catch (e) {
        if (!isRetryable(e) || ++conflicts > MAX_CONFLICT_RETRIES) throw e;
      }
    }
  }

  /** Jobs run and transactions committed so far (tests and the bench read the ratio). */
  stats(): WriteBatchStats {
    return { ...this.counts };
  }

  private flush(): void {
    this.scheduled = undefined;
    let take = Math.min(this.maxJobs, this.queue.length);
    // Never split a runAll group: take the rest of the one the cut falls in.
    if (take > 0) take += this.queue[take - 1].group ?? 0;
    const jobs = this.queue.splice(0, take);
    if (this.queue.length) this.scheduled = setImmediate(() => this.flush());
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    let committed = false;
    try {
      this.store.tx(() => {
        // A rerun after a serialization failure (PostgreSQL, several nodes) starts over.
        outcomes.length = 0;
        // Registered first, so it runs first once the COMMIT has returned.
        this.store.afterCommit(() => (committed = true));
        for (const job of jobs) {
          try {
            outcomes.push({ ok: true, value: this.store.tx(job.fn) });
          } catch (error) {
            // PostgreSQL: a serialization failure dooms the whole transaction, not this job's
            // savepoint; store.tx runs the whole batch again.
            if (isRetryable(error)) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // A failed COMMIT: none of the batch's rows exist, so every job fails. A failed announcement
      // after it: the rows are committed and the answers stand (a device or peer that was not
      // told is told by its next pump or retry); it is only logged.
      if (!committed) {
        // Lost a race with another node: nothing of the batch was stored; run it again later,
        // ahead of what arrived since (a runAll group travels whole, so its jobs count alike).
        if (isRetryable(error)) {
          const again: Job[] = [];
          for (const job of jobs) {
            job.conflicts = (job.conflicts ?? 0) + 1;
            if (job.conflicts > MAX_CONFLICT_RETRIES) (job.abort ?? job.reject)(error);
            else again.push(job);
          }
          if (again.length) {
            const wait = conflictDelayMs(Math.max(...again.map((j) => j.conflicts!)));
            setTimeout(() => {
              this.queue.unshift(...again);
              this.scheduled ??= setImmediate(() => this.flush());
            }, wait);
          }
          return;
        }
        for (const job of jobs) (job.abort ?? job.reject)(error);
        return;
      }
      this.log(`after group commit: ${(error as Error).stack ?? String(error)}`);
    }
    this.counts.jobs += jobs.length;
    this.counts.transactions++;
    jobs.forEach((job, i) => {
      const o = outcomes[i];
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
  }
}
