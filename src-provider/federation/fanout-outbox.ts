// Durable hub -> follower fanout (draft-ietf-mimi-protocol-06, "Fanout Messages and Room Events").
// The hub calls `enqueue` inside the same SQLite transaction that accepts a commit or message, so
// acceptance and the obligation to fan it out commit together; `kick()` after that transaction
// wakes the delivery workers. One worker per follower domain sends that domain's rows in enqueue
// order: consecutive rows of the same room go as ONE `POST /notify/{roomId}` whose body is the
// concatenated FanoutMessages (the draft allows several per request). Rows are deleted only on
// HTTP 201; anything else is retried with exponential backoff and jitter, honouring Retry-After.
// Rows survive restarts and `start()` resumes them; followers drop the resulting duplicates by
// hashing each FanoutMessage (seen-log.ts), which is why batches may be cut differently on retry.
//
// Pipelining: up to `maxInFlight` requests per follower are in flight at once, once that follower
// has said (a `Mimi-Fanout-Order` header on its 201) that it applies each room's batches in the
// hub's order. Every request names its place in the hub's sequence: `Mimi-Fanout-Stream` (this
// outbox's random id), `Mimi-Fanout-Ids` (the outbox id of each FanoutMessage, as ranges) and,
// when an earlier batch of the same room is still unanswered, `Mimi-Fanout-After` (that batch's
// last id). Such a follower applies a batch with an `After` only once it applied the batch ending
// there (follower.ts waits briefly for it, then refuses with 409); a batch without one starts at
// the room's oldest row still queued here, so everything before it was answered 201 and it may be
// applied at once. Applying in this order lets the follower recognise a resent FanoutMessage by its
// id (seen-log.ts), without recording a digest of every message. A follower
// that does not announce ordering gets one request at a time, as before. When a request fails, no
// new ones are started; once those in flight are answered the worker waits (backoff) and starts
// again from the oldest row left, so a room's batches are never applied out of order.

import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { isValidDomain } from '../../src-shared/identifiers.js';
import { PeerError, type PeerClient } from './peer-client.js';
import { createModuleTables } from '../store.js';

export interface FanoutOutboxOptions {
  db: Database.Database;
  /** The transport; a PeerClient in production. */
  peers: Pick<PeerClient, 'post'>;
  /** false: one FanoutMessage per request (for comparison in the bench). Default true. */
  batching?: boolean;
  /** Upper bounds for one request; a single message larger than maxBatchBytes still goes alone. Default 256 / 512 KiB. */
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  /**
   * false: the previous path (one request at a time, no sequence headers; the follower recognises
   * resent messages by their digests), for comparison in the bench. Default true.
   */
  pipelining?: boolean;
  /** Most /notify requests in flight to one follower once it announced that it keeps the order (default 4). */
  maxInFlight?: number;
  /** Backoff: first retry after ~baseDelayMs, doubling up to maxDelayMs (jittered to 50-100 %). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A peer's Retry-After is honoured up to this much. */
  maxRetryAfterMs?: number;
  random?: () => number;
  now?: () => number;
  log?: (msg: string) => void;
  /**
   * Several provider nodes on one PostgreSQL database (issue 17): a follower domain's rows are sent
   * only by the node holding the lease `fanout:<domain>` (pg/leases.ts), so they leave in order and
   * once. A node that cannot take it leaves the rows to the holder; a node that dies frees its
   * leases and the others' periodic tries (leasePollMs) take over from the oldest row left.
   * Absent (SQLite, one process): every worker just runs, as before.
   */
  lease?: FanoutLease;
  /** How often a node with leases looks for domains with rows that no worker of its own sends (default 1000). */
  leasePollMs?: number;
}

/** What the outbox needs of pg/leases.ts's LeaseManager. */
export interface FanoutLease {
  tryAcquire(name: string): Promise<boolean>;
  release(name: string): Promise<void>;
  holds(name: string): boolean;
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

/** Request headers naming a batch's place in the hub's sequence, and the follower's answer. */
export const FANOUT_HEADERS = {
  stream: 'mimi-fanout-stream',
  after: 'mimi-fanout-after',
  ids: 'mimi-fanout-ids',
  /** On a follower's 201: it applies batches of a room in the hub's order (pipelining is safe). */
  order: 'mimi-fanout-order',
} as const;

/** Most ranges in one Mimi-Fanout-Ids header: a batch is cut shorter rather than exceed it (at most ~8.7 KiB, under Node's 16 KiB header limit). */
export const MAX_ID_RANGES = 256;

/** Outbox ids (ascending) as the Mimi-Fanout-Ids header: `a-b` for a run of consecutive ids, `a` alone. */
export function encodeIdRanges(ids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    parts.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** A follower's answer to a batch that came before the one it follows (it never got that one). */
export const OUT_OF_ORDER_STATUS = 409;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS fed_outbox_stream (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    stream TEXT NOT NULL                  -- random, names this outbox's id sequence to followers
  );
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
  createModuleTables(db, SCHEMA);
  db.prepare('INSERT OR IGNORE INTO fed_outbox_stream (one, stream) VALUES (1, ?)').run(randomBytes(16).toString('hex'));
}

/** How one request ended. */
interface Outcome {
  ok: boolean;
  failure?: string;
  retryAfterMs?: number;
  /** The follower refused a pipelined batch as out of order: start again at once, no backoff. */
  outOfOrder?: boolean;
  /** 413 on a batch of several: send smaller ones. */
  tooLarge?: number;
}

export class FanoutOutbox {
  private readonly db: Database.Database;
  private readonly peers: Pick<PeerClient, 'post'>;
  private readonly maxBatchMessages: number;
  private readonly maxBatchBytes: number;
  private readonly pipelining: boolean;
  private readonly maxInFlight: number;
  private readonly stream: string;
  /** Followers that answered 201 with the ordering header (in memory: learnt again after a restart). */
  private readonly ordered = new Set<string>();
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
  private readonly lease: FanoutLease | undefined;
  private readonly leasePollMs: number;
  private leasePoll: NodeJS.Timeout | undefined;

  constructor(opts: FanoutOutboxOptions) {
    this.db = opts.db;
    this.peers = opts.peers;
    const batching = opts.batching ?? true;
    this.maxBatchMessages = batching ? Math.max(1, opts.maxBatchMessages ?? 256) : 1;
    this.maxBatchBytes = Math.max(1, opts.maxBatchBytes ?? 512 * 1024);
    this.pipelining = opts.pipelining ?? true;
    this.maxInFlight = Math.max(1, Math.floor(opts.maxInFlight ?? 4));
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 10 * 60_000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.lease = opts.lease;
    this.leasePollMs = opts.leasePollMs ?? 1_000;
    initFanoutOutbox(this.db);
    this.stream = (this.db.prepare('SELECT stream FROM fed_outbox_stream WHERE one = 1').get() as { stream: string }).stream;
    this.s = {
      insert: this.db.prepare<[string, string, Buffer, number]>(
        'INSERT INTO fed_outbox (domain, room_uri, body, created_at) VALUES (?, ?, ?, ?)',
      ),
      after: this.db.prepare<[string, number, number], Row>(
        'SELECT id, room_uri, body FROM fed_outbox WHERE domain = ? AND id > ? ORDER BY id LIMIT ?',
      ),
      deleteRange: this.db.prepare<[string, number, number]>('DELETE FROM fed_outbox WHERE domain = ? AND id BETWEEN ? AND ?'),
      domains: this.db.prepare<[], { domain: string }>('SELECT DISTINCT domain FROM fed_outbox'),
      pending: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM fed_outbox'),
      anyFor: this.db.prepare<[string], { one: number }>('SELECT 1 AS one FROM fed_outbox WHERE domain = ? LIMIT 1'),
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
    // With leases, rows another node queued kick only that node, and a dead node's rows kick
    // nobody: every node looks for them now and then, and the one that gets the lease sends them.
    if (this.lease && !this.leasePoll && !this.closed) {
      this.leasePoll = setInterval(() => {
        try {
          for (const { domain } of this.s.domains.all()) this.ensureWorker(domain);
        } catch (e) {
          this.log(`fanout: looking for queued domains failed: ${(e as Error).message}`);
        }
      }, this.leasePollMs);
      this.leasePoll.unref();
    }
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
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    clearInterval(this.leasePoll);
    for (const { timer, wake } of this.sleeping.values()) {
      clearTimeout(timer);
      wake();
    }
    // A worker stuck in a request does not hold the shutdown: its rows stay for the next start.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
    const done = await Promise.race([Promise.allSettled([...this.workers.values()]), late]);
    clearTimeout(timer);
    if (done === 'late') this.log(`fanout: closing without waiting for the workers of ${[...this.workers.keys()].join(', ')} (their rows stay for the next start)`);
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

  /** The longest prefix of `rows` that is one room, within the byte and id-range budgets (at least one row). */
  private cutBatch(rows: Row[], maxMessages: number): Row[] {
    const batch = [rows[0]];
    let bytes = rows[0].body.length;
    let ranges = 1;
    for (let i = 1; i < rows.length && batch.length < maxMessages; i++) {
      if (rows[i].room_uri !== rows[0].room_uri || bytes + rows[i].body.length > this.maxBatchBytes) break;
      const gap = rows[i].id !== rows[i - 1].id + 1;
      if (gap && ranges >= MAX_ID_RANGES) break;
      if (gap) ranges++;
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

  /** Whether this node may send `domain`'s rows now (always, without leases). */
  private mayDeliver(domain: string): boolean {
    return !this.lease || this.lease.holds(`fanout:${domain}`);
  }

  /**
   * Delivers `domain`'s rows; with leases, only while holding `fanout:<domain>`. The lease is given
   * back once the rows are gone, so whichever node queues the next ones can take it at once; rows
   * queued by a node whose try failed just before that release are seen by the check that follows.
   */
  private async run(domain: string): Promise<void> {
    if (!this.lease) return this.deliver(domain);
    const name = `fanout:${domain}`;
    while (!this.closed) {
      let got: boolean;
      try {
        got = await this.lease.tryAcquire(name);
      } catch (e) {
        this.log(`fanout to ${domain}: cannot take the lease (${(e as Error).message}); trying again later`);
        return;
      }
      if (!got) return; // another node sends them; if it dies, the poll takes over
      try {
        await this.deliver(domain);
      } finally {
        await this.lease.release(name).catch(() => undefined);
      }
      if (this.closed || this.s.anyFor.get(domain) === undefined) return;
    }
  }

  private async deliver(domain: string): Promise<void> {
    let attempt = 0;
    // Shrinks when the follower refuses a batch as too large; restored after a pass without failure.
    let maxMessages = this.maxBatchMessages;
    // A lease lost (the node's lease connection failed) stops the worker: another node may send now.
    while (!this.closed && this.mayDeliver(domain)) {
      const pass = await this.pass(domain, maxMessages);
      if (pass.failed === undefined) {
        if (pass.sent === 0) return; // nothing left for this domain
        attempt = 0;
        maxMessages = this.maxBatchMessages;
        continue;
      }
      if (this.closed) return;
      const f = pass.failed;
      if (f.tooLarge !== undefined) maxMessages = Math.max(1, Math.floor(f.tooLarge / 2));
      if (pass.sent > 0) attempt = 0;
      this.counters.retries++;
      if (f.outOfOrder) {
        // Nothing is wrong with the follower: the batch before this one failed, or overtook it and
        // was refused after all. Everything in flight has been answered: start again from the head.
        this.log(`fanout to ${domain}: ${f.failure}; sending again from the oldest row`);
        continue;
      }
      attempt++;
      const delay = this.backoffMs(attempt, f.retryAfterMs);
      this.log(`fanout to ${domain} failed: ${f.failure}; retry #${attempt} in ${Math.round(delay)} ms`);
      await this.sleep(domain, delay);
    }
  }

  /**
   * Sends `domain`'s rows from the oldest on, up to maxInFlight requests at once (one while the
   * follower has not announced ordering, and never two of one room then), until none is left or a
   * request fails; then waits for every request still in flight. Returns how many requests got a
   * 201, and the first failure.
   */
  private async pass(domain: string, maxMessages: number): Promise<{ sent: number; failed?: Outcome }> {
    let sent = 0;
    let failed: Outcome | undefined;
    let bug: unknown;
    let scanned = 0; // rows up to this id have gone out in this pass
    /** Per room: the last id of its newest batch, and how many of its batches are unanswered. */
    const rooms = new Map<string, { last: number; inFlight: number }>();
    const inFlight = new Set<Promise<void>>();
    const settle = () => Promise.race(inFlight);
    while (!this.closed && failed === undefined && bug === undefined && this.mayDeliver(domain)) {
      const window = this.ordered.has(domain) ? this.maxInFlight : 1; // never set without pipelining
      if (inFlight.size >= window) {
        await settle();
        continue;
      }
      const rows = this.s.after.all(domain, scanned, maxMessages);
      if (rows.length === 0) {
        if (inFlight.size === 0) break;
        await settle(); // new rows may be enqueued meanwhile
        continue;
      }
      const batch = this.cutBatch(rows, maxMessages);
      const roomUri = batch[0].room_uri;
      let room = rooms.get(roomUri);
      if (room && room.inFlight > 0 && !this.ordered.has(domain)) {
        await settle(); // an unordered follower gets a room's batches one at a time
        continue;
      }
      const last = batch[batch.length - 1].id;
      // Chained to the room's batch still in flight; the oldest queued row of a room goes without.
      const after = room && room.inFlight > 0 ? room.last : undefined;
      if (!room) rooms.set(roomUri, (room = { last, inFlight: 0 }));
      room.last = last;
      room.inFlight++;
      scanned = last;
      const r = room;
      const p: Promise<void> = this.send(domain, batch, after)
        .then(
          (outcome) => {
            if (outcome.ok) sent++;
            // The first failure decides the backoff; a real one over an out-of-order refusal.
            else if (!failed || (failed.outOfOrder && !outcome.outOfOrder)) failed = outcome;
          },
          (e: unknown) => {
            bug ??= e;
          },
        )
        .finally(() => {
          r.inFlight--;
          inFlight.delete(p);
        });
      inFlight.add(p);
    }
    await Promise.allSettled([...inFlight]);
    if (bug !== undefined) throw bug;
    return { sent, failed };
  }

  /** One /notify request; deletes the batch's rows on 201. Throws only for what is not a PeerError (a bug). */
  private async send(domain: string, batch: Row[], after: number | undefined): Promise<Outcome> {
    const roomUri = batch[0].room_uri;
    const body = batch.length === 1 ? batch[0].body : Buffer.concat(batch.map((r) => r.body));
    const headers: Record<string, string> = {};
    if (this.pipelining) {
      headers[FANOUT_HEADERS.stream] = this.stream;
      headers[FANOUT_HEADERS.ids] = encodeIdRanges(batch.map((r) => r.id));
      if (after !== undefined) headers[FANOUT_HEADERS.after] = String(after);
    }
    const what = `${batch.length} message(s), room ${roomUri}`;
    try {
      const res = await this.peers.post(domain, 'notify', roomUri, body, headers);
      if (res.status !== 201) return { ok: false, failure: `HTTP ${res.status} (the draft's success is 201) for ${what}`, retryAfterMs: res.retryAfterMs };
      this.s.deleteRange.run(domain, batch[0].id, batch[batch.length - 1].id);
      this.counters.sentRequests++;
      this.counters.sentMessages += batch.length;
      if (this.pipelining && res.headers?.[FANOUT_HEADERS.order] !== undefined) this.ordered.add(domain);
      else this.ordered.delete(domain);
      return { ok: true };
    } catch (e) {
      if (!(e instanceof PeerError)) throw e;
      return {
        ok: false,
        failure: `${e.message} (${what})`,
        retryAfterMs: e.retryAfterMs,
        ...(e.status === OUT_OF_ORDER_STATUS && after !== undefined ? { outOfOrder: true } : {}),
        ...(e.status === 413 && batch.length > 1 ? { tooLarge: batch.length } : {}),
      };
    }
  }
}
