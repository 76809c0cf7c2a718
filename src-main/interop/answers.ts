// What came back from a probe, in the words of the table's "got" column: the HTTP status, then
// the draft-06 response struct decoded (its code, and the fields that matter), or the JSON error
// code, or why there was no HTTP answer at all.
//
// Pure: no I/O.

import { fromUtf8 } from '../../src-shared/bytes.js';
import {
  decodeGroupInfoResponse,
  decodeIdentifierResponse,
  decodeKeyMaterialResponse,
  decodeSubmitMessageResponse,
  decodeUpdateRoomResponse,
  type GroupInfoResponse,
  type IdentifierResponse,
  type KeyMaterialResponse,
  type SubmitMessageResponse,
  type UpdateRoomResponse,
} from '../../src-shared/mimi-protocol.js';

/** One request's outcome as the runner saw it. */
export interface Exchange {
  /** The HTTP status, or undefined when no HTTP answer came (`error` says why). */
  status?: number;
  contentType?: string;
  body: Uint8Array;
  /** Handshake refused, connection closed, timeout, ... */
  error?: string;
  /** Request body bytes written before the answer came (oversize probes). */
  sent?: number;
}

export const isRefusal = (ex: Exchange): boolean => ex.status !== undefined && ex.status >= 400 && ex.status < 500;

/** The response struct each endpoint answers a 200 with, by directory key. */
export const RESPONSE_DECODERS = {
  keyMaterial: decodeKeyMaterialResponse,
  update: decodeUpdateRoomResponse,
  submitMessage: decodeSubmitMessageResponse,
  groupInfo: decodeGroupInfoResponse,
  identifierQuery: decodeIdentifierResponse,
} as const;

export type DecodedResponse = KeyMaterialResponse | UpdateRoomResponse | SubmitMessageResponse | GroupInfoResponse | IdentifierResponse;

const STRUCT_NAMES: Record<keyof typeof RESPONSE_DECODERS, string> = {
  keyMaterial: 'KeyMaterialResponse',
  update: 'UpdateRoomResponse',
  submitMessage: 'SubmitMessageResponse',
  groupInfo: 'GroupInfoResponse',
  identifierQuery: 'IdentifierResponse',
};

/** The decoded 200 body of `endpoint`, or the decoding error's message. */
export function decodeAnswer(endpoint: string, ex: Exchange): { value: DecodedResponse } | { error: string } | undefined {
  if (ex.status !== 200 || !(endpoint in RESPONSE_DECODERS)) return undefined;
  try {
    return { value: RESPONSE_DECODERS[endpoint as keyof typeof RESPONSE_DECODERS](ex.body) };
  } catch (e) {
    return { error: `not a ${STRUCT_NAMES[endpoint as keyof typeof RESPONSE_DECODERS]}: ${(e as Error).message}` };
  }
}

/** The code of a decoded response struct, with the detail a reader needs (epochs, counts). */
export function summarize(endpoint: string, v: DecodedResponse): string {
  const name = STRUCT_NAMES[endpoint as keyof typeof RESPONSE_DECODERS] ?? 'response';
  if ('userStatus' in v) return `${name} ${v.userStatus} (${v.clients.length} client(s))`;
  if ('responseCode' in v && 'foundProfiles' in v) return `${name} ${v.responseCode} (${v.uri.length} URI(s))`;
  if ('responseCode' in v) return `${name} ${v.responseCode}${'currentEpoch' in v ? ` (currentEpoch ${v.currentEpoch})` : ''}`;
  if ('statusCode' in v) return `${name} ${v.statusCode}${'currentEpoch' in v ? ` (currentEpoch ${v.currentEpoch})` : ''}`;
  return `${name} ${v.status} (room_id ${v.roomId})`;
}

/** A JSON ApiError (our provider's and many others' error shape) as "code: message", if the body is one. */
function jsonError(ex: Exchange): string | undefined {
  if (!ex.contentType?.toLowerCase().includes('json')) return undefined;
  try {
    const parsed = JSON.parse(fromUtf8(ex.body)) as { error?: { code?: unknown; message?: unknown } | string; code?: unknown };
    const err = typeof parsed.error === 'object' ? parsed.error : { code: parsed.error ?? parsed.code };
    if (typeof err?.code !== 'string') return undefined;
    const message = typeof err.message === 'string' ? err.message.replace(/\s+/g, ' ') : '';
    return message ? `${err.code}: ${message.length > 120 ? `${message.slice(0, 120)}…` : message}` : err.code;
  } catch {
    return undefined;
  }
}

/** A short, printable glimpse of an unexpected body. */
function glimpse(body: Uint8Array): string {
  if (body.length === 0) return 'empty body';
  const text = fromUtf8(body.subarray(0, 60));
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e\s]*$/.test(text) ? `body ${JSON.stringify(text.replace(/\s+/g, ' ').trim())}${body.length > 60 ? '…' : ''}` : `${body.length}-byte body`;
}

/** "HTTP 404 roomUnknown", "HTTP 200 UpdateRoomResponse wrongEpoch (currentEpoch 3)", "no answer: …". */
export function describe(endpoint: string, ex: Exchange): string {
  if (ex.status === undefined) return `no HTTP answer: ${ex.error ?? 'unknown'}`;
  const decoded = decodeAnswer(endpoint, ex);
  let what: string;
  if (decoded && 'value' in decoded) what = summarize(endpoint, decoded.value);
  else if (decoded) what = decoded.error;
  else what = jsonError(ex) ?? glimpse(ex.body);
  const sent = ex.sent !== undefined ? ` after ${ex.sent} body bytes` : '';
  return `HTTP ${ex.status} ${what}${sent}`;
}
