// The device-to-device relay (docs/device-transfer.md): a device of an account leaves an opaque
// message for another device of the same account, which gets a push notice and fetches it; the
// message is deleted when the recipient acknowledges it, or after DEVICE_MESSAGE_TTL_MS unfetched.
//
//   POST /v1/me/devices/{deviceId}/messages   { body }  -> { id, expiresAt } (201)
//   GET  /v1/me/device-messages                         -> { messages } (oldest first)
//   POST /v1/me/device-messages/ack           { ids }   -> { deleted }
//
// Only the account's own devices can be addressed: any other device id (another account's, a
// removed one, the sender itself) is 404 like one that never existed, so ids cannot be probed.
// The provider sees who sends to whom, when and how much; the bodies are whatever the devices put
// in them (the short-code exchange is public by design, anything secret is sealed end to end).

import { toB64 } from '../src-shared/bytes.js';
import {
  DEVICE_MESSAGE_TTL_MS,
  MAX_DEVICE_MESSAGE_BYTES,
  MAX_PENDING_DEVICE_MESSAGES,
  type DeviceMessage,
  type PushDeviceMessagesNotice,
  type SendDeviceMessageResponse,
} from '../src-shared/provider-api.js';
import type { Actor } from './accounts.js';
import { ApiFailure } from './errors.js';
import type { Store } from './store.js';

export interface DeviceMessagesOptions {
  store: Store;
  /** Tells the recipient's open push streams (not stored: it fetches on connect anyway). */
  signal: (deviceUris: string[], notice: PushDeviceMessagesNotice) => void;
  now?: () => number;
}

/** Most messages one fetch returns (the rest come with the next). */
const FETCH_LIMIT = 100;
/** Most ids one ack takes. */
export const MAX_ACK_IDS = 1000;

interface MessageRow {
  id: number;
  from_device: string;
  from_id: string;
  body: Buffer;
  created_at: number;
}

export class DeviceMessages {
  private readonly now: () => number;

  constructor(private readonly opts: DeviceMessagesOptions) {
    this.now = opts.now ?? Date.now;
  }

  private get db() {
    return this.opts.store.db;
  }

  /** Expired messages go before anything reads or counts them. */
  private purge(): void {
    this.db.prepare('DELETE FROM device_messages WHERE expires_at <= ?').run(this.now());
  }

  send(actor: Actor, deviceId: string, body: Uint8Array): SendDeviceMessageResponse {
    if (body.length === 0) throw new ApiFailure('badRequest', 'the message body is empty');
    if (body.length > MAX_DEVICE_MESSAGE_BYTES) throw new ApiFailure('tooLarge', `a device message is at most ${MAX_DEVICE_MESSAGE_BYTES} bytes; this one has ${body.length}`);
    const store = this.opts.store;
    const { to, res } = store.tx(() => {
      const row = store.deviceOfUser(actor.userId, deviceId);
      if (!row || row.device_uri === actor.deviceUri) {
        throw new ApiFailure('notFound', `your account has no other device ${JSON.stringify(deviceId)}: it was removed, or never was one of yours`);
      }
      this.purge();
      const waiting = (this.db.prepare('SELECT COUNT(*) AS n FROM device_messages WHERE to_device = ?').get(row.device_uri) as { n: number }).n;
      if (waiting >= MAX_PENDING_DEVICE_MESSAGES) {
        throw new ApiFailure('rateLimited', `${waiting} messages already wait for that device: try again once it has fetched them (or in ${Math.round(DEVICE_MESSAGE_TTL_MS / 60000)} minutes)`);
      }
      const now = this.now();
      const expiresAt = now + DEVICE_MESSAGE_TTL_MS;
      const info = this.db
        .prepare('INSERT INTO device_messages (to_device, from_device, body, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
        .run(row.device_uri, actor.deviceUri, Buffer.from(body), now, expiresAt);
      return { to: row.device_uri, res: { id: Number(info.lastInsertRowid), expiresAt } };
    });
    this.opts.signal([to], { type: 'notice', topic: 'deviceMessages' });
    return res;
  }

  /** The messages waiting for the calling device, oldest first. */
  fetch(actor: Actor): DeviceMessage[] {
    this.purge();
    const rows = this.db
      .prepare(
        `SELECT m.id, m.from_device, d.device_id AS from_id, m.body, m.created_at
           FROM device_messages m JOIN devices d ON d.device_uri = m.from_device
          WHERE m.to_device = ? ORDER BY m.id LIMIT ?`,
      )
      .all(actor.deviceUri, FETCH_LIMIT) as MessageRow[];
    return rows.map((r) => ({ id: r.id, fromDeviceId: r.from_id, fromDeviceUri: r.from_device, body: toB64(new Uint8Array(r.body)), sentAt: r.created_at }));
  }

  /** Deletes the calling device's messages among `ids` (others' ids are ignored: they are not its to delete). */
  ack(actor: Actor, ids: number[]): number {
    const del = this.db.prepare('DELETE FROM device_messages WHERE id = ? AND to_device = ?');
    return this.opts.store.tx(() => ids.reduce((n, id) => n + del.run(id, actor.deviceUri).changes, 0));
  }
}
