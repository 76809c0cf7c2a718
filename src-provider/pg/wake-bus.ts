// Waking push streams across provider nodes that share one PostgreSQL database (issue 17).
//
// A device's WebSocket is on one node; the message for it may be accepted by another. The node that
// stores inbox rows names their devices in a NOTIFY sent inside the same transaction: PostgreSQL
// delivers a notification only when that transaction commits (never for a rollback), to every
// session listening on the channel, in commit order. Each node keeps one connection LISTENing and
// wakes the push pumps of the named devices it holds. A wake carries no data: the pump reads the
// inbox from the device's cursor as it does today, so a duplicate or an extra wake costs one empty
// read and a lost one is repaired by the next.
//
// Lost wakes: notifications sent while the listening connection is down are gone for good. After
// every (re)connect the bus emits 'resync' and each local pump reads from its cursor, so nothing
// stored meanwhile waits for the next message.
//
// Why not a message broker: the rows are already in PostgreSQL and the wake must follow their
// commit exactly; NOTIFY is transactional, in-order and needs nothing else to run. Its limits: a
// payload is at most 8,000 bytes (longer device lists are split), and notifications queue on the
// server (8 GB) until every listener has read them: a listening connection does nothing but read,
// so it never holds the queue back the way a session idling inside a transaction would.

import { EventEmitter } from 'node:events';
import pg from 'pg';

/** Channel names are identifiers; one per provider database is enough. */
export const WAKE_CHANNEL = 'mimi_inbox_wake';
/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_900;

/** Something a query can be sent through: a pool, or the client of a running transaction. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/**
 * The NOTIFY payloads for `deviceUris`: JSON arrays, each under the size limit, every device in
 * exactly one of them. A device URI that alone exceeds the limit cannot be a real one (they are
 * a few dozen bytes): refused rather than dropped.
 */
export function wakePayloads(deviceUris: readonly string[]): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let bytes = 2; // []
  for (const uri of new Set(deviceUris)) {
    const size = Buffer.byteLength(JSON.stringify(uri)) + 1;
    if (size + 2 > MAX_PAYLOAD_BYTES) throw new Error(`device URI too long to announce (${size} bytes)`);
    if (bytes + size > MAX_PAYLOAD_BYTES) {
      out.push(JSON.stringify(batch));
      batch = [];
      bytes = 2;
    }
    batch.push(uri);
    bytes += size;
  }
  if (batch.length > 0) out.push(JSON.stringify(batch));
  return out;
}

/** Announces new inbox rows for `deviceUris`; call it inside the transaction that stored them. */
export async function announceWake(tx: Queryable, deviceUris: readonly string[]): Promise<void> {
  for (const p of wakePayloads(deviceUris)) await tx.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, p]);
}

/** A payload as it arrives: the device URIs, or undefined for anything else on the channel. */
export function parseWake(payload: string | undefined): string[] | undefined {
  if (!payload) return undefined;
  try {
    const v: unknown = JSON.parse(payload);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

export interface WakeBusEvents {
  /** Devices with new inbox rows (possibly none of them on this node). */
  wake: [deviceUris: string[]];
  /** Listening (again): wakes may have been missed, every local pump reads from its cursor. */
  resync: [];
}

export interface WakeBusOptions {
  url: string;
  /** Shown as the listening session's application_name (e.g. the node id), for operators. */
  name?: string;
  /** Retry delay after the listening connection fails, doubled up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  log?: (line: string) => void;
}

export class WakeBus extends EventEmitter<WakeBusEvents> {
  private client: pg.Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay: number;
  private connecting: Promise<void> | undefined;

  constructor(private readonly opts: WakeBusOptions) {
    super();
    this.delay = opts.retryMs ?? 250;
  }

  /** Resolves once listening (the first time); later failures reconnect by themselves. */
  start(): Promise<void> {
    return (this.connecting ??= this.connect());
  }

  /** True while the listening connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, application_name: this.opts.name ?? 'mimi-wake-bus' });
    // Errors after connecting (the server went away, the backend was terminated) end this client.
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      if (n.channel !== WAKE_CHANNEL) return;
      const devices = parseWake(n.payload);
      if (devices) this.emit('wake', devices);
      else this.opts.log?.(`wake bus: ignored a payload that is not a device list (${(n.payload ?? '').length} chars)`);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
    } catch (e) {
      await client.end().catch(() => undefined);
      if (this.closed) return;
      throw e;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delay = this.opts.retryMs ?? 250;
    this.emit('resync');
  }

  private lost(client: pg.Client, e: Error): void {
    if (this.client !== client) return; // an old connection, or not yet listening
    this.client = undefined;
    if (this.closed) return;
    this.opts.log?.(`wake bus: listening connection lost (${e.message}); reconnecting`);
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.connect().catch((e: Error) => {
        this.opts.log?.(`wake bus: cannot listen (${e.message}); retrying in ${this.delay} ms`);
        this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? 5_000);
        this.scheduleReconnect();
      });
    }, this.delay);
    this.retryTimer.unref?.();
  }
}

/** What announceWakeSync needs of the Store's connection: pg/sync-db.ts's PgSyncDb. */
export interface SyncPreparer {
  prepare(sql: string): { get(...params: unknown[]): unknown };
}

/**
 * announceWake on the Store's own synchronous connection (pg/sync-db.ts), so the NOTIFY belongs to
 * the transaction (or savepoint) that stores the rows: sent at its COMMIT, dropped with a rollback.
 */
export function wakeAnnouncer(db: SyncPreparer): (deviceUris: readonly string[]) => void {
  const notify = db.prepare('SELECT pg_notify(?, ?)');
  return (deviceUris) => {
    for (const p of wakePayloads(deviceUris)) notify.get(WAKE_CHANNEL, p);
  };
}

/** The Store methods that insert inbox rows (store.ts), as announceInboxWrites wraps them. */
export interface InboxWriter {
  enqueue(deviceUri: string, eventId: number): number;
  enqueueAll(deviceUris: readonly string[], eventId: number): void;
  enqueueExisting(deviceUris: readonly string[], eventId: number): string[];
}

/**
 * Makes every inbox insert of `store` also announce its devices on the wake bus, inside the same
 * statement sequence and so the same transaction. Wrapping the three Store methods that write
 * inbox rows keeps store.ts (shared by SQLite, where nothing changes) free of PostgreSQL wiring;
 * a hook inside the Store would do the same. One NOTIFY per call: PostgreSQL folds identical
 * notifications of one transaction into one, and a savepoint rolled back (one request of a group
 * commit) takes its own NOTIFYs with it, so no de-duplication here could be both cheap and right.
 */
export function announceInboxWrites(store: InboxWriter, announce: (deviceUris: readonly string[]) => void): void {
  const enqueue = store.enqueue.bind(store);
  const enqueueAll = store.enqueueAll.bind(store);
  const enqueueExisting = store.enqueueExisting.bind(store);
  store.enqueue = (deviceUri, eventId) => {
    const seq = enqueue(deviceUri, eventId);
    announce([deviceUri]);
    return seq;
  };
  store.enqueueAll = (deviceUris, eventId) => {
    enqueueAll(deviceUris, eventId);
    if (deviceUris.length > 0) announce(deviceUris);
  };
  store.enqueueExisting = (deviceUris, eventId) => {
    const stored = enqueueExisting(deviceUris, eventId);
    if (stored.length > 0) announce(stored);
    return stored;
  };
}
