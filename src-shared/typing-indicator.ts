// Typing indicators: no MIMI draft defines one, so this is a private format (docs/receipts-and-typing.md):
// a mimi-content message whose body is one part of media type TYPING_MEDIA_TYPE, its content the
// deterministic CBOR array
//
//   TypingIndicator = [ state: 0 / 1, lifetime: 1..60 ]   ; 1 typing, 0 stopped; seconds
//
// `lifetime` is how long a receiver shows "typing" without a repeat: the sender repeats well inside
// it while typing goes on, so a lost "stopped" costs at most that long. Pure: no I/O.

import { CborError, decodeCbor, encodeCbor, type CborValue } from './cbor.js';

/** A vendor-tree media type of this app; change it here (and in the docs) if it is ever registered. */
export const TYPING_MEDIA_TYPE = 'application/vnd.mimi-desktop.typing';

export const TYPING_LIFETIME_MAX = 60;

export interface TypingIndicator {
  typing: boolean;
  /** Seconds, 1..60. */
  lifetime: number;
}

export class TypingIndicatorError extends Error {
  constructor(detail: string) {
    super(`TypingIndicator: ${detail}`);
    this.name = 'TypingIndicatorError';
  }
}

export function encodeTypingIndicator(t: TypingIndicator): Uint8Array {
  if (typeof t?.typing !== 'boolean') throw new TypingIndicatorError('typing must be true or false');
  if (!Number.isInteger(t.lifetime) || t.lifetime < 1 || t.lifetime > TYPING_LIFETIME_MAX) throw new TypingIndicatorError(`lifetime must be 1-${TYPING_LIFETIME_MAX} seconds`);
  return encodeCbor([t.typing ? 1 : 0, t.lifetime]);
}

export function decodeTypingIndicator(bytes: Uint8Array): TypingIndicator {
  let v: CborValue;
  try {
    v = decodeCbor(bytes);
  } catch (e) {
    throw new TypingIndicatorError(`is not deterministic CBOR (${e instanceof CborError ? e.message : String(e)})`);
  }
  if (!Array.isArray(v) || v.length !== 2) throw new TypingIndicatorError('must be a 2-element array [state, lifetime]');
  const [state, lifetime] = v;
  if (state !== 0 && state !== 1) throw new TypingIndicatorError('state must be 0 (stopped) or 1 (typing)');
  if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 1 || lifetime > TYPING_LIFETIME_MAX) throw new TypingIndicatorError(`lifetime must be 1-${TYPING_LIFETIME_MAX} seconds`);
  return { typing: state === 1, lifetime };
}
