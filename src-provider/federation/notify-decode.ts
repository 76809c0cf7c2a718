// Decoding a /notify body for the follower (follower.ts) without copying the bulk of it.
//
// The general decoder (decodeFanoutListRaw, then peekMlsMessage per message) walks every
// application message three times and copies each vector it passes (the MLS message, its
// ciphertext, the frank, the raw FanoutMessage), then the frank is encoded again to be stored:
// about a sixth of the follower's CPU in a bulk fanout. Almost every FanoutMessage of a busy room
// is an application message (a PrivateMessage), so those are read here once, as views into the
// request body (which the follower keeps until the transaction that stores them has run:
// better-sqlite3 copies a bound Buffer into SQLite).
//
// This is a fast path, not a second codec: it accepts only what it has checked to be exactly what
// the general decoder accepts (and yields the same values), and gives up (undefined) on anything
// else, from another message kind to any malformed byte. The caller then decodes the whole body
// with the general decoder, so whatever is refused is refused with the same error as before.

import { MLS10 } from '../../src-shared/mls-wire.js';
import type { FanoutMessage } from '../../src-shared/mimi-protocol.js';
import { TlsReader } from '../../src-shared/tls.js';

/** One FanoutMessage of a /notify body as the follower applies it. */
export interface NotifyItem {
  /**
   * The decoded FanoutMessage. For items of the fast path, `message.message` is a view into the
   * body, and an application message's frank is only in `frank` (encoded), not in `message.frank`.
   */
  message: FanoutMessage;
  /** The FanoutMessage's own bytes (a view into the body on the fast path). */
  raw: Uint8Array;
  /** The MLS epoch in the message's header (undefined for a Welcome). */
  epoch: bigint | undefined;
  /** An application message's frank, encoded as on the wire (what the follower stores), or null. */
  frank: Uint8Array | null;
}

const WIRE_PRIVATE = 2;
const CONTENT_APPLICATION = 1;
/** The length of Frank.server_frank (opaque[32]). */
const SERVER_FRANK_BYTES = 32;

/**
 * The body's FanoutMessages when every one of them is an application PrivateMessage of group
 * `roomId` (its UTF-8 bytes) with an epoch up to `maxEpoch`, well formed to its last byte; else
 * undefined. Never throws on malformed input.
 */
export function decodeApplicationRun(body: Uint8Array, roomId: Uint8Array, maxEpoch: bigint): NotifyItem[] | undefined {
  if (!(body instanceof Uint8Array) || body.length === 0) return undefined;
  const r = new TlsReader(body);
  const items: NotifyItem[] = [];
  try {
    while (r.remaining > 0) {
      const start = r.offset;
      const timestamp = r.u64();
      const mlsStart = r.offset;
      if (r.u16() !== MLS10 || r.u16() !== WIRE_PRIVATE) return undefined;
      const groupId = r.viewV();
      if (!sameBytes(groupId, roomId)) return undefined;
      const epoch = r.u64();
      if (epoch > maxEpoch) return undefined;
      if (r.u8() !== CONTENT_APPLICATION) return undefined;
      r.skipV(); // authenticated_data
      r.skipV(); // encrypted_sender_data
      r.skipV(); // ciphertext
      const mlsEnd = r.offset;
      const present = r.u8(); // optional<Frank>
      let frank: Uint8Array | null = null;
      if (present === 1) {
        const frankStart = r.offset;
        r.skip(SERVER_FRANK_BYTES);
        r.u16(); // franking_signature_ciphersuite
        r.skipV(); // franking_integrity_signature
        frank = body.subarray(frankStart, r.offset);
      } else if (present !== 0) return undefined;
      const message = body.subarray(mlsStart, mlsEnd);
      items.push({ message: { timestamp, message, kind: 'application' }, raw: body.subarray(start, r.offset), epoch, frank });
    }
  } catch {
    return undefined; // truncated or otherwise malformed: the general decoder says how
  }
  return items;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
