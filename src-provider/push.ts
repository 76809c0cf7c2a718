// Push stream: one WebSocket session per connected device, fed from that device's inbox.
//
// A session remembers the last seq it sent and always reads "rows after that" from the store, in
// seq order. Backlog and live delivery are the same loop, so an event accepted while the backlog is
// being flushed is simply picked up by the next read: no gap, no duplicate, no ordering race.

import type { WebSocket, RawData } from 'ws';
import { toB64 } from '../src-shared/bytes.js';
import type { PushCaughtUp, PushDevicesNotice, PushEvent, PushNotice } from '../src-shared/provider-api.js';
import type { InboxEntry, Store } from './store.js';

export interface PushOptions {
  /** Ping every this many ms; a session that missed the previous pong is dropped. */
  pingIntervalMs?: number;
  /** Rows read from the store per step. */
  batchSize?: number;
  /** Wait for the socket to drain once this many bytes are queued. */
  highWaterBytes?: number;
  log?: (msg: string) => void;
}

export function toPushEvent(e: InboxEntry): PushEvent {
  const ev: PushEvent = {
    type: 'event',
    seq: e.seq,
    kind: e.kind,
    roomUri: e.room_uri,
    epoch: String(e.epoch),
    senderDevice: e.sender_device,
    acceptedTimestamp: e.accepted_ts,
    payload: toB64(e.payload),
  };
  if (e.ratchet_tree) ev.ratchetTree = toB64(e.ratchet_tree);
  if (e.frank) ev.frank = toB64(e.frank);
  return ev;
}

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
          const rows = this.hub.store.inboxAfter(this.deviceUri, this.lastSent, this.hub.batchSize);
          let flushed: Promise<void> | undefined;
          for (const [i, row] of rows.entries()) {
            const text = JSON.stringify(toPushEvent(row));
            // The send callback fires once the frame (and so every earlier one) reached the socket.
            if (i === rows.length - 1) flushed = new Promise((resolve) => this.ws.send(text, () => resolve()));
            else this.ws.send(text);
            this.lastSent = row.seq;
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
    try {
      this.hub.store.tx(() => this.hub.store.ack(this.deviceUri, upTo));
    } catch (e) {
      this.hub.log(`ack failed for ${this.deviceUri}: ${(e as Error).message}`);
    }
  }
}

export class PushHub {
  readonly batchSize: number;
  readonly highWaterBytes: number;
  readonly log: (msg: string) => void;
  private readonly sessions = new Map<string, Set<PushSession>>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    readonly store: Store,
    opts: PushOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 200;
    this.highWaterBytes = opts.highWaterBytes ?? 1 << 20;
    this.log = opts.log ?? (() => {});
    this.pinger = setInterval(() => this.pingAll(), opts.pingIntervalMs ?? 25_000);
    this.pinger.unref();
  }

  /** Start streaming a device's inbox after `cursor` to an accepted WebSocket. */
  attach(ws: WebSocket, deviceUri: string, cursor: number): void {
    const session = new PushSession(ws, deviceUri, cursor, this);
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

  /** New inbox rows exist for these devices (called after the writing transaction committed). */
  notify(deviceUris: Iterable<string>): void {
    for (const d of deviceUris) for (const s of this.sessions.get(d) ?? []) this.run(s);
  }

  /**
   * Sends a notice to the connected sessions of these devices, now and only now (notices are not
   * stored: clients fetch what they announce on every connect anyway).
   */
  signal(deviceUris: Iterable<string>, notice: PushNotice | PushDevicesNotice): void {
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
