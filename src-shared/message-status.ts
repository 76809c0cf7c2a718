// MessageStatusReport (draft-mahy-mimi-message-status-01): the CBOR body of a delivery or read
// receipt, media type application/mimi-message-status. The CDDL, exactly:
//
//   MessageStatusReport = [ * PerMessageStatus ]
//   PerMessageStatus = [ messageId: MessageId, status: baseStatus / $extStatus / unknownStatus ]
//   baseStatus = &( unread: 0, delivered: 1, read: 2, expired: 3, deleted: 4, hidden: 5, error: 6 )
//   unknownStatus = &( unknown: 7..255 )
//   MessageId = bstr .size 32
//
// The report names no room: it speaks of messages of the room it is sent in (the receiver checks
// that). Statuses 7..255 are legal on the wire and kept as numbers; the app acts on 1 and 2 only.
// Pure: no I/O.

import { decodeCbor, encodeCbor, CborError, type CborValue } from './cbor.js';

export const MESSAGE_STATUS_MEDIA_TYPE = 'application/mimi-message-status';

export const MessageStatus = { unread: 0, delivered: 1, read: 2, expired: 3, deleted: 4, hidden: 5, error: 6 } as const;

export const MESSAGE_ID_BYTES = 32;
/**
 * Entries one report may carry. The draft sets no limit; a receiver must, or one member could make
 * every other fold megabytes. 1024 ids are about 36 KiB, far above what one batch of ours holds.
 */
export const MAX_REPORT_ENTRIES = 1024;

export interface PerMessageStatus {
  messageId: Uint8Array;
  /** 0..255: a baseStatus, or an extension / unknown status. */
  status: number;
}

export class MessageStatusError extends Error {
  constructor(detail: string) {
    super(`MessageStatusReport: ${detail}`);
    this.name = 'MessageStatusError';
  }
}

function check(entries: readonly PerMessageStatus[]): void {
  if (!Array.isArray(entries)) throw new MessageStatusError('must be an array of [messageId, status] entries');
  if (entries.length > MAX_REPORT_ENTRIES) throw new MessageStatusError(`has ${entries.length} entries; at most ${MAX_REPORT_ENTRIES} are accepted`);
  entries.forEach((e, i) => {
    if (!(e?.messageId instanceof Uint8Array) || e.messageId.length !== MESSAGE_ID_BYTES) throw new MessageStatusError(`entry ${i}: messageId must be ${MESSAGE_ID_BYTES} bytes`);
    if (!Number.isInteger(e.status) || e.status < 0 || e.status > 255) throw new MessageStatusError(`entry ${i}: status must be an integer 0-255`);
  });
}

export function encodeMessageStatusReport(entries: readonly PerMessageStatus[]): Uint8Array {
  check(entries);
  return encodeCbor(entries.map((e) => [e.messageId, e.status]));
}

export function decodeMessageStatusReport(bytes: Uint8Array): PerMessageStatus[] {
  let v: CborValue;
  try {
    v = decodeCbor(bytes);
  } catch (e) {
    throw new MessageStatusError(`is not deterministic CBOR (${e instanceof CborError ? e.message : String(e)})`);
  }
  if (!Array.isArray(v)) throw new MessageStatusError('must be a CBOR array');
  if (v.length > MAX_REPORT_ENTRIES) throw new MessageStatusError(`has ${v.length} entries; at most ${MAX_REPORT_ENTRIES} are accepted`);
  return v.map((item, i) => {
    if (!Array.isArray(item) || item.length !== 2) throw new MessageStatusError(`entry ${i} must be a 2-element array [messageId, status]`);
    const [id, status] = item;
    if (!(id instanceof Uint8Array) || id.length !== MESSAGE_ID_BYTES) throw new MessageStatusError(`entry ${i}: messageId must be a byte string of ${MESSAGE_ID_BYTES} bytes`);
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 255) throw new MessageStatusError(`entry ${i}: status must be an unsigned integer 0-255`);
    return { messageId: id, status };
  });
}
