// Durable hub -> follower fanout (draft-ietf-mimi-protocol-06, "Fanout Messages and Room Events").
// The hub calls `enqueue` inside the same SQLite transaction that accepts a commit or message, so
// acceptance and the obligation to fan it out commit together; `kick()` after that transaction
// wakes the delivery workers. One worker per follower domain sends that domain's rows strictly in
// enqueue order: consecutive rows of the same room go as ONE `POST /notify/{roomId}` whose body is
// the concatenated FanoutMessages (the draft allows several per request). Rows are deleted only on
// HTTP 201; anything else is retried with exponential backoff and jitter, honouring Retry-After.
// Rows survive restarts and `start()` resumes them; followers drop the resulting duplicates by
// hashing each FanoutMessage (seen-log.ts), which is why batches may be cut differently on retry.

import type Database from 'better-sqlite3';
import { isValidDomain } from '../../src-shared/identifiers.js';
import { PeerError, type PeerClient } from './peer-client.js';

export interface FanoutOutboxOptions {
  db: Database.Database;
  /** The transport; a PeerClient in production. */
  peers: Pick<PeerClient, 'post'>;
  /** false: one FanoutMessage per request (for comparison in the bench). Default true. */
  batching?: boolean;
  /** Upper bounds for one request; a single message larger than maxBatchBytes still goes alone. */
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  /** Backoff: first retry after ~baseDelayMs, doubling up to maxDelayMs (jittered to 50-100 %). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A peer's Retry-After is honoured up to this much. */
  maxRetryAfterMs?: number;
  random?: () => number;
  now?: () => number;
  log?: (msg: string) => void;
}

export interface FanoutStats {
  /** Requests answered with 201. */
  sentRequests: number;
  /** FanoutMessages in those requests. */
  sentMessages: number;
  /** Attempts that failed and were scheduled again. */
  retries: number;
  /** Rows still waiting for delivery. */
  pending: number;
}

export class OutboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxError';
  }
}

interface Row {
  id: number;
  room_uri: string;
  body: Buffer;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS fed_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- enqueue order
    domain TEXT NOT NULL,                 -- follower provider
    room_uri TEXT NOT NULL,
    body BLOB NOT NULL,                   -- one FanoutMessage
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS fed_outbox_domain ON fed_outbox(domain, id);
`;

/** Creates the outbox table if missing (idempotent). */
export function initFanoutOutbox(db: Database.Database): void {
  db.exec(SCHEMA);
}

export class FanoutOutbox {
  private readonly db: Database.Database;
  private readonly peers: Pick<PeerClient, 'post'>;
  private readonly maxBatchMessages: number;
  private readonly maxBatchBytes: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly log: (msg: string) => void;
  private readonly s;
  /** Domains enqueued to since the last kick (may include rolled-back ones: a worker then finds nothing). */
  private readonly dirty = new Set<string>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly sleeping = new Map<string, { timer: NodeJS.Timeout; wake: () => void }>();
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  private counters = { sentRequests: 0, sentMessages: 0, retries: 0 };

  constructor(opts: FanoutOutboxOptions) {
    this.db = opts.db;
    this.peers = opts.peers;
    const batching = opts.batching ?? true;
    this.maxBatchMessages = batching ? Math.max(1, opts.maxBatchMessages ?? 64) : 1;
    this.maxBatchBytes = Math.max(1, opts.maxBatchBytes ?? 512 * 1024);
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 10 * 60_000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    initFanoutOutbox(this.db);
    this.s = {
      insert: this.db.prepare<[string, string, Buffer, number]>(
        'INSERT INTO fed_outbox (domain, room_uri, body, created_at) VALUES (?, ?, ?, ?)',
      ),
      head: this.db.prepare<[string, number], Row>(
        'SELECT id, room_uri, body FROM fed_outbox WHERE domain = ? ORDER BY id LIMIT ?',
      ),
      deleteRange: this.db.prepare<[string, number, number]>('DELETE FROM fed_outbox WHERE domain = ? AND id BETWEEN ? AND ?'),
      domains: this.db.prepare<[], { domain: string }>('SELECT DISTINCT domain FROM fed_outbox'),
      pending: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM fed_outbox'),
      forgetRoom: this.db.prepare<[string]>('DELETE FROM fed_outbox WHERE room_uri = ?'),
    };
  }

  /**
   * Drops every row still waiting for a room (it was destroyed at the hub). Inside the destroying
   * transaction; a batch of it in flight is deleted by range afterwards all the same.
   */
  forgetRoom(roomUri: string): void {
    this.s.forgetRoom.run(roomUri);
  }

  /**
   * Queues one FanoutMessage for `domain`. Synchronous and transaction-friendly: call it inside the
   * transaction that accepted the message, then `kick()` after the commit.
   */
  enqueue(domain: string, roomUri: string, fanoutMessage: Uint8Array): void {
    if (!isValidDomain(domain)) throw new OutboxError(`fanout target ${JSON.stringify(domain)} is not a valid domain`);
    if (typeof roomUri !== 'string' || roomUri.length === 0) throw new OutboxError('fanout room URI must be a non-empty string');
    if (!(fanoutMessage instanceof Uint8Array) || fanoutMessage.length === 0) {
      throw new OutboxError('fanout message must be non-empty bytes');
    }
    this.s.insert.run(domain, roomUri, Buffer.from(fanoutMessage), this.now());
    this.dirty.add(domain);
  }

  /** Starts delivery of what was enqueued (only `domain`, or every domain enqueued to since the last kick). */
  kick(domain?: string): void {
    if (domain !== undefined) {
      this.dirty.delete(domain);
      this.ensureWorker(domain);
      return;
    }
    const domains = [...this.dirty];
    this.dirty.clear();
    for (const d of domains) this.ensureWorker(d);
  }

  /** Resumes rows left from a previous run. */
  start(): void {
    for (const { domain } of this.s.domains.all()) this.ensureWorker(domain);
  }

  stats(): FanoutStats {
    return { ...this.counters, pending: this.db.open ? this.s.pending.get()!.n : 0 };
  }

  /** Resolves once every row is delivered and no worker runs (never, while a follower stays down). */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stops the workers after their current request; undelivered rows stay for the next start(). */
  async close(): Promise<void> {
    this.closed = true;
    for (const { timer, wake } of this.sleeping.values()) {
      clearTimeout(timer);
      wake();
    }
    await Promise.allSettled([...this.workers.values()]);
  }

  private isDrained(): boolean {
    return this.workers.size === 0 && this.s.pending.get()!.n === 0;
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || this.closed || !this.isDrained()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private ensureWorker(domain: string): void {
    if (this.closed || this.workers.has(domain)) return;
    const run = this.run(domain).catch((e) => this.log(`fanout worker for ${domain} stopped: ${(e as Error).stack ?? e}`));
    this.workers.set(domain, run);
    void run.finally(() => {
      this.workers.delete(domain);
      this.checkDrained();
    });
  }

  /** The longest prefix of `rows` that is one room, within the byte budget (at least one row). */
  private cutBatch(rows: Row[], maxMessages: number): Row[] {
    const batch = [rows[0]];
    let bytes = rows[0].body.length;
    for (let i = 1; i < rows.length && batch.length < maxMessages; i++) {
      if (rows[i].room_uri !== rows[0].room_uri || bytes + rows[i].body.length > this.maxBatchBytes) break;
      batch.push(rows[i]);
      bytes += rows[i].body.length;
    }
    return batch;
  }

  private backoffMs(attempt: number, retryAfterMs: number | undefined): number {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    const jittered = exp * (0.5 + 0.5 * this.random());
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, this.maxRetryAfterMs));
  }

  private sleep(domain: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleeping.delete(domain);
        resolve();
      };
      this.sleeping.set(domain, { timer: setTimeout(wake, ms), wake });
    });
  }

  private async run(domain: string): Promise<void> {
    let attempt = 0;
    // Shrinks when the follower refuses a batch as too large; restored after a success.
    let maxMessages = this.maxBatchMessages;
    while (!this.closed) {
      const rows = this.s.head.all(domain, maxMessages);
      if (rows.length === 0) return;
      const batch = this.cutBatch(rows, maxMessages);
      const roomUri = batch[0].room_uri;
      const body = batch.length === 1 ? batch[0].body : Buffer.concat(batch.map((r) => r.body));
      let failure: string;
      let retryAfterMs: number | undefined;
      try {
        const res = await this.peers.post(domain, 'notify', roomUri, body);
        if (res.status === 201) {
          this.s.deleteRange.run(domain, batch[0].id, batch[batch.length - 1].id);
          this.counters.sentRequests++;
          this.counters.sentMessages += batch.length;
          attempt = 0;
          maxMessages = this.maxBatchMessages;
          continue;
        }
        failure = `HTTP ${res.status} (the draft's success is 201)`;
        retryAfterMs = res.retryAfterMs;
      } catch (e) {
        if (!(e instanceof PeerError)) throw e;
        failure = e.message;
        retryAfterMs = e.retryAfterMs;
        if (e.status === 413 && batch.length > 1) maxMessages = Math.max(1, Math.floor(batch.length / 2));
      }
      if (this.closed) return;
      this.counters.retries++;
      attempt++;
      const delay = this.backoffMs(attempt, retryAfterMs);
      this.log(`fanout to ${domain} (${batch.length} message(s), room ${roomUri}) failed: ${failure}; retry #${attempt} in ${Math.round(delay)} ms`);
      await this.sleep(domain, delay);
    }
  }
}
