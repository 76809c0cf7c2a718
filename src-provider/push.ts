// Push stream: one WebSocket session per connected device, fed from that device's inbox.
//
// A session remembers the last seq it sent and always reads "rows after that" from the store, in
// seq order. Backlog and live delivery are the same loop, so an event accepted while the backlog is
// being flushed is simply picked up by the next read: no gap, no duplicate, no ordering race.

import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import type { PushCaughtUp, PushDeviceMessagesNotice, PushDevicesNotice, PushEvent, PushNotice } from '../src-shared/provider-api.js';
import type { InboxEntry, Store } from './store.js';
import type { WriteBatch } from './write-batch.js';

export interface PushOptions {
  /** Ping every this many ms; a session that missed the previous pong is dropped. */
  pingIntervalMs?: number;
  /** Rows read from the store per step. */
  batchSize?: number;
  /** Wait for the socket to drain once this many bytes are queued. */
  highWaterBytes?: number;
  log?: (msg: string) => void;
  /**
   * Batched delivery (default true): the notifications of one turn of the event loop are gathered
   * and each session pumps once for all of them, its frames written to the socket in one write;
   * acks go through `writes` (group commit). false: one pump and one write per frame per commit,
   * one transaction per ack (the per-request baseline the bench compares against).
   */
  batched?: boolean;
  writes?: WriteBatch;
}

/** toB64 (base64url, no padding), natively: the same text, for the payloads of push frames. */
const b64 = (b: Buffer): string => b.toString('base64url');

export function toPushEvent(e: InboxEntry): PushEvent {
  const ev: PushEvent = {
    type: 'event',
    seq: e.seq,
    kind: e.kind,
    roomUri: e.room_uri,
    epoch: String(e.epoch),
    senderDevice: e.sender_device,
    acceptedTimestamp: e.accepted_ts,
    payload: b64(e.payload),
  };
  if (e.ratchet_tree) ev.ratchetTree = b64(e.ratchet_tree);
  if (e.frank) ev.frank = b64(e.frank);
  return ev;
}

/** toPushEvent's JSON starts with this, then the seq; the frame cache keeps what follows. */
const FRAME_HEAD = '{"type":"event","seq":';
const FRAME_CACHE = 4096;

class PushSession {
  private lastSent: number;
  private pumping = false;
  private again = false;
  private caughtUp = false;
  alive = true;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly deviceUri: string,
    cursor: number,
    private readonly hub: PushHub,
    /** The WebSocket's transport, corked while a batch of frames is written (one write for them all). */
    private readonly socket?: Duplex,
  ) {
    this.lastSent = cursor;
  }

  /** Send everything after `lastSent`; re-runs if notified while running. */
  async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        for (;;) {
          if (this.closed) return;
          const rows = this.hub.batched
            ? this.hub.store.inboxRefsAfter(this.deviceUri, this.lastSent, this.hub.batchSize)
            : this.hub.store.inboxAfter(this.deviceUri, this.lastSent, this.hub.batchSize);
          let flushed: Promise<void> | undefined;
          // Corked, the frames go out in one socket write (one TLS record, one syscall) at uncork.
          const cork = this.hub.batched && rows.length > 1 ? this.socket : undefined;
          cork?.cork();
          try {
            for (const [i, row] of rows.entries()) {
              const text = 'event_id' in row ? this.hub.frame(row.seq, row.event_id) : JSON.stringify(toPushEvent(row));
              // The send callback fires once the frame (and so every earlier one) reached the socket.
              if (i === rows.length - 1) flushed = new Promise((resolve) => this.ws.send(text, () => resolve()));
              else this.ws.send(text);
              this.lastSent = row.seq;
            }
          } finally {
            cork?.uncork();
          }
          if (flushed && this.ws.bufferedAmount > this.hub.highWaterBytes) await flushed;
          if (rows.length < this.hub.batchSize) break;
        }
        if (!this.caughtUp && !this.closed) {
          this.caughtUp = true;
          const frame: PushCaughtUp = { type: 'caughtUp', seq: this.lastSent };
          this.ws.send(JSON.stringify(frame));
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  onMessage(data: RawData, isBinary: boolean): void {
    let frame: unknown;
    try {
      frame = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      frame = undefined;
    }
    const f = frame as { type?: unknown; seq?: unknown } | undefined;
    if (!f || f.type !== 'ack' || typeof f.seq !== 'number' || !Number.isSafeInteger(f.seq) || f.seq < 0) {
      this.ws.close(1008, 'expected {"type":"ack","seq":<integer>}');
      return;
    }
    // Never forget rows this session has not sent: an ack beyond them is clamped.
    const upTo = Math.min(f.seq, this.lastSent);
    const failed = (e: unknown) => this.hub.log(`ack failed for ${this.deviceUri}: ${(e as Error).message}`);
    if (this.hub.writes) {
      this.hub.queueAck(this.deviceUri, upTo);
      return;
    }
    try {
      this.hub.store.tx(() => this.hub.store.ack(this.deviceUri, upTo));
    } catch (e) {
      failed(e);
    }
  }
}

export class PushHub {
  readonly batchSize: number;
  readonly highWaterBytes: number;
  readonly log: (msg: string) => void;
  readonly batched: boolean;
  readonly writes?: WriteBatch;
  private readonly sessions = new Map<string, Set<PushSession>>();
  /** Devices notified in this turn of the event loop, pumped together at its end (batched mode). */
  private pending = new Set<string>();
  /**
   * An event's push frame after its seq, by event id: made once and shared by every recipient
   * (events never change, and ids are never reused). Emptied when it grows past FRAME_CACHE.
   */
  private readonly frames = new Map<number, string>();
  private readonly pinger: NodeJS.Timeout;
  /**
   * Acks waiting for the group commit, highest seq by device: ONE job per group commit for every
   * session's acks (store.ackAll: each device's rows, then one sweep for the events none holds any
   * more), instead of a job, a savepoint and a sweep per session: a relay to 10 devices had each
   * event looked at by 10 sweeps. Taken when the job runs, so acks arriving until then join it.
   */
  private acks = new Map<string, number>();

  constructor(
    readonly store: Store,
    opts: PushOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 200;
    this.highWaterBytes = opts.highWaterBytes ?? 1 << 20;
    this.log = opts.log ?? (() => {});
    this.batched = opts.batched ?? true;
    this.writes = this.batched ? opts.writes : undefined;
    this.pinger = setInterval(() => this.pingAll(), opts.pingIntervalMs ?? 25_000);
    this.pinger.unref();
  }

  /** The PushEvent frame of inbox row `seq`, which refers to event `eventId` (same text as toPushEvent's). */
  frame(seq: number, eventId: number): string {
    let tail = this.frames.get(eventId);
    if (tail === undefined) {
      const e = this.store.eventForPush(eventId);
      if (!e) throw new Error(`inbox row ${seq} refers to a missing event ${eventId}`);
      // toPushEvent's JSON with seq 0, cut after the seq: what follows is the same for every row.
      const whole = JSON.stringify(toPushEvent({ ...e, seq: 0 }));
      tail = whole.slice(FRAME_HEAD.length + 1);
      if (this.frames.size >= FRAME_CACHE) this.frames.clear();
      this.frames.set(eventId, tail);
    }
    return `${FRAME_HEAD}${seq}${tail}`;
  }

  /** Queues a device's ack up to `upTo` for the next group commit (batched mode with `writes`). */
  queueAck(deviceUri: string, upTo: number): void {
    const first = this.acks.size === 0;
    this.acks.set(deviceUri, Math.max(upTo, this.acks.get(deviceUri) ?? -1));
    if (!first) return;
    let taken: Map<string, number> | undefined;
    this.writes!.run(() => {
      // Taken once: a transaction run again after a serialization failure (PostgreSQL) must ack
      // the same devices, not the empty map that replaced them the first time.
      if (!taken) {
        taken = this.acks;
        this.acks = new Map();
      }
      return this.store.ackAll(taken);
    }).catch((e) => {
      // As with a lost ack frame: the rows stay and are sent again after a reconnect (acks are
      // cumulative, so the device's next ack also covers these).
      this.log(`ack failed for ${[...(taken ?? [])].map(([d]) => d).join(', ')}: ${(e as Error).message}`);
    });
  }

  /** Start streaming a device's inbox after `cursor` to an accepted WebSocket. */
  attach(ws: WebSocket, deviceUri: string, cursor: number, socket?: Duplex): void {
    const session = new PushSession(ws, deviceUri, cursor, this, socket);
    let set = this.sessions.get(deviceUri);
    if (!set) this.sessions.set(deviceUri, (set = new Set()));
    set.add(session);
    ws.on('pong', () => (session.alive = true));
    ws.on('message', (data, isBinary) => session.onMessage(data, isBinary));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      session.closed = true;
      const s = this.sessions.get(deviceUri);
      s?.delete(session);
      if (s && s.size === 0) this.sessions.delete(deviceUri);
    });
    this.run(session);
  }

  /**
   * New inbox rows exist for these devices (called after the writing transaction committed: by this
   * process, or on PostgreSQL by the wake bus for rows another node stored). Devices without a
   * session here are ignored.
   */
  notify(deviceUris: Iterable<string>): void {
    if (!this.batched) {
      for (const d of deviceUris) for (const s of this.sessions.get(d) ?? []) this.run(s);
      return;
    }
    // A group commit announces its messages one by one: gathered here, each session reads its new
    // rows once and writes them at once, instead of once per message.
    const first = this.pending.size === 0;
    for (const d of deviceUris) this.pending.add(d);
    if (!first) return;
    queueMicrotask(() => {
      const devices = this.pending;
      this.pending = new Set();
      for (const d of devices) for (const s of this.sessions.get(d) ?? []) this.run(s);
    });
  }

  /**
   * Every local session reads from its cursor (PostgreSQL: the wake bus listens again after a gap,
   * during which wakes for any of them may have been missed). A session with nothing new costs one
   * empty read.
   */
  notifyAll(): void {
    this.notify([...this.sessions.keys()]);
  }

  /**
   * Sends a notice to the connected sessions of these devices, now and only now (notices are not
   * stored: clients fetch what they announce on every connect anyway).
   */
  signal(deviceUris: Iterable<string>, notice: PushNotice | PushDevicesNotice | PushDeviceMessagesNotice): void {
    const text = JSON.stringify(notice);
    for (const d of deviceUris) {
      for (const s of this.sessions.get(d) ?? []) if (!s.closed && s.ws.readyState === s.ws.OPEN) s.ws.send(text);
    }
  }

  /**
   * Ends the device's sessions (it was removed): its token no longer authenticates, so a stream
   * opened before must not outlive it. 4401 tells its client not to take this for a network fault;
   * reconnecting is refused with 401 anyway.
   */
  disconnect(deviceUri: string, reason: string): void {
    for (const s of this.sessions.get(deviceUri) ?? []) {
      s.closed = true;
      s.ws.close(4401, reason);
    }
  }

  private run(session: PushSession): void {
    session.pump().catch((e) => {
      this.log(`push to ${session.deviceUri} failed: ${(e as Error).message}`);
      session.ws.terminate();
    });
  }

  private pingAll(): void {
    for (const set of this.sessions.values()) {
      for (const s of set) {
        if (!s.alive) {
          s.ws.terminate();
          continue;
        }
        s.alive = false;
        s.ws.ping();
      }
    }
  }

  get connectionCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.size;
    return n;
  }

  /** Close every session (server shutdown). */
  close(): void {
    clearInterval(this.pinger);
    for (const set of this.sessions.values()) for (const s of set) s.ws.close(1001, 'provider shutting down');
  }
}
