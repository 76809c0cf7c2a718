// The follower's bulk writes for a run of fanned-out application messages (follower.ts): events,
// inbox rows and the forwarded-by lookups of a whole run in a few multi-row statements instead of
// two or three statements per message. Each statement costs a round of binding and stepping from
// JavaScript (a few µs) on top of SQLite's own work, which at tens of thousands of messages a
// second was most of what a follower spent per message besides decoding.
//
// The rows written are exactly those Store.insertEvent and Store.enqueueAll write, in the same
// order: events get ascending ids in the order given, and each device's inbox rows ascending seqs
// in event order. Callers run these inside the transaction that applies the /notify.

import type { Statement } from 'better-sqlite3';
import crypto from 'node:crypto';
import type { Store } from '../store.js';

/** Rows per multi-row INSERT into events (7 bound values each, well below SQLite's 32,766). */
export const EVENT_ROWS = 32;
/** Rows per multi-row INSERT into inbox (2 bound values each). */
export const INBOX_ROWS = 128;
/** Digests per forwarded lookup (a shorter list is padded by repeating its last digest). */
export const FORWARDED_KEYS = 64;

/** One application message to store as an event of kind 'message'. */
export interface MessageRow {
  epoch: bigint;
  sender: string;
  payload: Uint8Array;
  acceptedTs: number;
  /** The hub's frank, encoded, or null. */
  frank: Uint8Array | null;
}

/** SHA-256, the key of the forwarded table (follower.ts records it so). */
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest();

/** A Buffer over the same bytes (better-sqlite3 binds Buffers; this one copies nothing). */
function buf(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class NotifyWriter {
  /** Prepared on first use, per row count (at most EVENT_ROWS / INBOX_ROWS of each). */
  private readonly insertEvents = new Map<number, Statement>();
  private readonly insertInbox = new Map<number, Statement>();
  private lookupForwarded: Statement | undefined;
  private anyForwarded: Statement | undefined;

  constructor(private readonly store: Store) {}

  /** Stores `rows` as events of `roomUri`; their ids, in the order of `rows`. */
  insertMessages(roomUri: string, rows: readonly MessageRow[]): number[] {
    const ids: number[] = [];
    for (let at = 0; at < rows.length; at += EVENT_ROWS) {
      const n = Math.min(EVENT_ROWS, rows.length - at);
      const params: unknown[] = new Array(n * 7);
      for (let i = 0; i < n; i++) {
        const r = rows[at + i];
        const p = i * 7;
        params[p] = roomUri;
        params[p + 1] = r.epoch;
        params[p + 2] = r.sender;
        params[p + 3] = buf(r.payload);
        params[p + 4] = r.acceptedTs;
        params[p + 5] = r.frank ? buf(r.frank) : null;
        params[p + 6] = null; // ratchet_tree: application messages have none
      }
      const got = this.eventStatement(n).all(params) as number[];
      if (got.length !== n) throw new Error(`inserted ${got.length} of ${n} events`);
      // RETURNING gives no order; AUTOINCREMENT ids grow with each row inserted, so ascending is the order given.
      got.sort((x, y) => x - y);
      for (const id of got) ids.push(id);
    }
    return ids;
  }

  /** Inbox rows (device, event) in the order given, so each device's seqs follow it. */
  enqueue(devices: readonly string[], eventIds: readonly number[]): void {
    if (devices.length !== eventIds.length) throw new Error('enqueue: one device per event id');
    for (let at = 0; at < devices.length; at += INBOX_ROWS) {
      const n = Math.min(INBOX_ROWS, devices.length - at);
      const params: unknown[] = new Array(n * 2);
      for (let i = 0; i < n; i++) {
        params[2 * i] = devices[at + i];
        params[2 * i + 1] = eventIds[at + i];
      }
      this.inboxStatement(n).run(params);
    }
  }

  /**
   * Store.forwardedBy(SHA-256 of the message) for each of `messages`: the device of ours that sent
   * it, if we forwarded it to the hub.
   */
  senders(messages: readonly Uint8Array[]): (string | undefined)[] {
    const out: (string | undefined)[] = new Array(messages.length).fill(undefined);
    if (messages.length === 0) return out;
    // With nothing forwarded (none of our members sent anything lately) no message needs its
    // digest, which is most of what this lookup costs per message.
    this.anyForwarded ??= this.store.db.prepare('SELECT 1 FROM forwarded LIMIT 1').pluck();
    if (this.anyForwarded.get() === undefined) return out;
    const digests = messages.map(sha256);
    this.lookupForwarded ??= this.store.db.prepare(
      `SELECT digest, device_uri FROM forwarded WHERE digest IN (${new Array(FORWARDED_KEYS).fill('?').join(', ')})`,
    );
    for (let at = 0; at < digests.length; at += FORWARDED_KEYS) {
      const n = Math.min(FORWARDED_KEYS, digests.length - at);
      const params: Buffer[] = new Array(FORWARDED_KEYS);
      for (let i = 0; i < FORWARDED_KEYS; i++) params[i] = buf(digests[at + Math.min(i, n - 1)]);
      const found = this.lookupForwarded.all(params) as { digest: Buffer; device_uri: string }[];
      if (found.length === 0) continue; // the usual case: none of these came from our devices
      const byDigest = new Map(found.map((f) => [f.digest.toString('hex'), f.device_uri]));
      for (let i = 0; i < n; i++) out[at + i] = byDigest.get(params[i].toString('hex'));
    }
    return out;
  }

  private eventStatement(n: number): Statement {
    let s = this.insertEvents.get(n);
    if (!s) {
      const values = new Array(n).fill(`(?, 'message', ?, ?, ?, ?, ?, ?)`).join(', ');
      s = this.store.db
        .prepare(`INSERT INTO events (room_uri, kind, epoch, sender_device, payload, accepted_ts, frank, ratchet_tree) VALUES ${values} RETURNING id`)
        .pluck();
      this.insertEvents.set(n, s);
    }
    return s;
  }

  private inboxStatement(n: number): Statement {
    let s = this.insertInbox.get(n);
    if (!s) {
      s = this.store.db.prepare(`INSERT INTO inbox (device_uri, event_id) VALUES ${new Array(n).fill('(?, ?)').join(', ')}`);
      this.insertInbox.set(n, s);
    }
    return s;
  }
}
