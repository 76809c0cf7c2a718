// The one failure type the provider's logic throws. It carries the wire `code` and HTTP status so
// every transport (client API now, MIMI server-to-server later) reports the same condition the
// same way; anything else that escapes a handler is an internal error and is never shown to clients.

import { MimiWireError } from '../src-shared/mimi-protocol.js';
import type { ApiError, ApiErrorCode } from '../src-shared/provider-api.js';

const DEFAULT_STATUS: Record<ApiErrorCode, number> = {
  badRequest: 400,
  unauthorized: 401,
  wrongPassword: 401,
  handleTaken: 409,
  userUnknown: 404,
  roomUnknown: 404,
  notMember: 403,
  wrongEpoch: 409,
  epochTooOld: 409,
  notAllowed: 403,
  tooLarge: 413,
  notFound: 404,
  rateLimited: 429,
  internal: 500,
  linkRefused: 403,
  passphraseRequired: 403,
  peerUnreachable: 502,
  // 507 Insufficient Storage: the request is fine, the account's room on the provider is used up.
  quotaExceeded: 507,
};

export class ApiFailure extends Error {
  readonly status: number;
  readonly currentEpoch?: bigint;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    opts: { status?: number; currentEpoch?: bigint } = {},
  ) {
    super(message);
    this.name = 'ApiFailure';
    this.status = opts.status ?? DEFAULT_STATUS[code];
    this.currentEpoch = opts.currentEpoch;
  }

  toBody(): ApiError {
    const error: ApiError['error'] = { code: this.code, message: this.message };
    if (this.currentEpoch !== undefined) error.currentEpoch = this.currentEpoch.toString();
    return { error };
  }
}

export const badRequest = (message: string, status = 400): ApiFailure => new ApiFailure('badRequest', message, { status });

/** Decodes a MIMI structure a peer sent; one that does not decode is a 400 "malformed <what>". */
export function decodeStrict<T>(decode: (b: Uint8Array) => T, body: Uint8Array, what: string): T {
  try {
    return decode(body);
  } catch (e) {
    if (e instanceof MimiWireError) throw badRequest(`malformed ${what}: ${e.message}`);
    throw e;
  }
}
