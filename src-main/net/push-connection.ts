// The device's push stream from its home provider (GET /v1/events as a WebSocket,
// src-shared/provider-api.ts): events in order, acknowledged only once the owner has stored them,
// with reconnect and backoff. The request side is provider-client.ts.

import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { API_PREFIX, type PushAck, type PushDeviceMessagesNotice, type PushDevicesNotice, type PushEvent, type PushFrame, type PushNotice } from '../../src-shared/provider-api.js';
import { ProviderError } from './provider-client.js';

const ACK_DELAY_MS = 20;

export type PushState = 'connecting' | 'online' | 'offline';

export interface PushConnectionOptions {
  baseUrl: string;
  token: string;
  caPem?: string;
  /** First reconnect delay (ms); doubles per failed attempt up to `backoffCapMs`, with jitter. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Reconnect when nothing (not even a ping) arrived for this long. */
  idleTimeoutMs?: number;
  /** Also told of every notice (before the 'notice' event): lets a module besides the connection's owner follow one topic. */
  onNotice?: (topic: string, frame: PushNotice | PushDevicesNotice | PushDeviceMessagesNotice) => void;
}

interface PushEvents {
  event: [PushEvent];
  caughtUp: [];
  /** A PushNotice: what it names changed at the provider (fetch it again); the frame itself second (e.g. a PushDevicesNotice's details). */
  notice: [string, PushNotice | PushDevicesNotice];
  state: [PushState];
  /** Only for failures retrying cannot fix (unknown token); the connection stops itself. */
  error: [ProviderError];
}

/**
 * The device's push stream with automatic reconnect. The owner stores each `event` durably and
 * then calls `confirm(seq)`; only confirmed seqs are acknowledged to the provider (which may then
 * delete them) and used as the resume cursor, so nothing is lost if the app dies between receipt
 * and storage. Events re-sent after a reconnect are not emitted twice within one start()/stop().
 */
export class PushConnection extends EventEmitter<PushEvents> {
  private readonly opts: Required<Omit<PushConnectionOptions, 'caPem' | 'onNotice'>> & Pick<PushConnectionOptions, 'caPem' | 'onNotice'>;
  private ws: WebSocket | undefined;
  private running = false;
  private confirmed = 0;
  private acked = 0;
  private emitted = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private current: PushState = 'offline';

  constructor(opts: PushConnectionOptions) {
    super();
    this.opts = {
      backoffBaseMs: 500,
      backoffCapMs: 10_000,
      idleTimeoutMs: 60_000,
      ...opts,
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    };
  }

  get state(): PushState {
    return this.current;
  }

  /** The last seq the owner confirmed (where a reconnect resumes). */
  get cursor(): number {
    return this.confirmed;
  }

  /** Connect and stream everything after `cursor` (the last seq the owner has stored). */
  start(cursor: number): void {
    if (this.running) throw new Error('PushConnection already started');
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new Error(`invalid cursor ${cursor}`);
    this.running = true;
    this.confirmed = this.emitted = cursor;
    this.acked = 0;
    this.attempt = 0;
    this.connect();
  }

  /** The owner has durably stored every event up to `seq`. */
  confirm(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= this.confirmed) return;
    this.confirmed = seq;
    // Coalesce acks: each one is a write transaction at the provider, and a burst of events is
    // confirmed one by one. An ack lost by stopping early only means re-delivery, which the cursor
    // filters out.
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      this.sendAck();
    }, ACK_DELAY_MS);
  }

  /**
   * Starts again on a fresh connection at once, without backoff: the computer woke up, and the
   * stream it had may lead nowhere now (a changed network answers nothing, and the idle check would
   * notice only after a while). Nothing is lost: the new stream resumes after the confirmed cursor.
   */
  reconnectNow(): void {
    if (!this.running) return;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    this.attempt = 0;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
    this.connect();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.sendAck();
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client stopping');
      else ws.terminate();
    }
    this.setState('offline');
  }

  private setState(s: PushState): void {
    if (s === this.current) return;
    this.current = s;
    this.emit('state', s);
  }

  private sendAck(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.confirmed <= this.acked) return;
    const ack: PushAck = { type: 'ack', seq: this.confirmed };
    this.acked = this.confirmed;
    ws.send(JSON.stringify(ack));
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.ws?.terminate(), this.opts.idleTimeoutMs);
    this.idleTimer.unref?.();
  }

  private connect(): void {
    if (!this.running) return;
    this.setState('connecting');
    const wsUrl = `${this.opts.baseUrl.replace(/^http/, 'ws')}${API_PREFIX}/events?cursor=${this.confirmed}`;
    const ws = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${this.opts.token}` },
      handshakeTimeout: 15_000,
      maxPayload: 8 * 1024 * 1024,
      ...(this.opts.caPem ? { ca: this.opts.caPem } : {}),
    });
    this.ws = ws;
    ws.on('open', () => {
      // An ack sent on an earlier connection may have been lost with it: ack again on this one.
      this.acked = 0;
      this.attempt = 0;
      this.setState('online');
      this.touch();
      this.sendAck();
    });
    ws.on('ping', () => this.touch());
    ws.on('message', (data, isBinary) => {
      this.touch();
      if (isBinary) return;
      let frame: PushFrame;
      try {
        frame = JSON.parse(data.toString()) as PushFrame;
      } catch {
        return;
      }
      if (frame.type === 'event') {
        if (frame.seq <= this.emitted) return;
        this.emitted = frame.seq;
        this.emit('event', frame);
      } else if (frame.type === 'caughtUp') {
        this.emit('caughtUp');
      } else if ((frame as unknown as PushNotice).type === 'notice' && typeof (frame as unknown as PushNotice).topic === 'string') {
        this.opts.onNotice?.((frame as unknown as PushNotice).topic, frame as unknown as PushNotice | PushDevicesNotice | PushDeviceMessagesNotice);
        this.emit('notice', (frame as unknown as PushNotice).topic, frame as unknown as PushNotice | PushDevicesNotice);
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      if (res.statusCode === 401) {
        this.stop();
        const err = new ProviderError(401, 'unauthorized', 'the provider rejected this device token for the push stream');
        if (this.listenerCount('error') > 0) this.emit('error', err);
        return;
      }
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => {
      /* 'close' follows and schedules the retry */
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      clearTimeout(this.idleTimer);
      this.setState('offline');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    const ceiling = Math.min(this.opts.backoffCapMs, this.opts.backoffBaseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // Jitter in [ceiling/2, ceiling) keeps many clients from reconnecting in lockstep.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref?.();
  }
}
