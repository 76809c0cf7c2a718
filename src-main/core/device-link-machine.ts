// One short-code verification between two devices of an account (docs/device-transfer.md), as a
// state machine with no I/O: it takes the person's answers and the other device's messages and
// returns the messages to send. device-link.ts carries them over the provider's relay, keeps time
// and shows the stages. The cryptography is src-shared/device-verification.ts.
//
//   starter                                   responder
//   start {nonce, commitment}        ──▶      stage 'incoming' (the person accepts or not)
//                                    ◀──      accept {its ephemeral key}         stage 'waiting'
//   reveal {the committed key}       ──▶      commitment checked
//   stage 'compare': both show the 12 digits; the person confirms they match on each device
//   mac {own signature key, MAC}     ◀─▶      mac {own signature key, MAC}       stage 'confirmed'
//   the other's MAC checked after one's own "match": stage 'verified'
//
// Anything out of order, a failed check, a "they don't match" or a cancel ends the attempt on this
// side with a reason and tells the other side (cancel), which ends there too.

import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import {
  checkKeyMac,
  checkReveal,
  commitment,
  DeviceVerificationError,
  keyMac,
  newEphemeral,
  newTranscript,
  shortCode,
  type Ephemeral,
  type SasResult,
  type Transcript,
} from '../../src-shared/device-verification.js';

export type LinkRole = 'starter' | 'responder';
/** What the attempt is for: only verification, or verification and then the history (starter = the new device). */
export type LinkPurpose = 'verify' | 'history';
export type LinkStage = 'incoming' | 'waiting' | 'compare' | 'confirmed' | 'verified' | 'failed';
/** Why an attempt ended without success (both sides show it). */
export type FailReason = 'mismatch' | 'cancelled' | 'timeout' | 'busy' | 'tampered' | 'protocol' | 'refused' | 'failed';
const REASONS: readonly FailReason[] = ['mismatch', 'cancelled', 'timeout', 'busy', 'tampered', 'protocol', 'refused', 'failed'];

/** The messages on the wire (JSON in the relay's opaque body); bytes are base64url. */
export type LinkWire =
  | { t: 'start'; a: string; purpose: LinkPurpose; nonce: string; commit: string }
  | { t: 'accept'; a: string; key: string }
  | { t: 'reveal'; a: string; key: string }
  | { t: 'mac'; a: string; sig: string; mac: string }
  | { t: 'cancel'; a: string; reason: FailReason }
  // After a verification for the history (device-link.ts handles these; the machine only checks the attempt).
  | { t: 'progress'; a: string; done: number; total: number }
  | { t: 'history'; a: string; box: string }
  | { t: 'received'; a: string };

const MAX_WIRE_CHARS = 8192;

/** Parses a relayed body; undefined for anything that is not one of our messages (ignored). */
export function parseWire(body: Uint8Array): LinkWire | undefined {
  if (body.length > MAX_WIRE_CHARS) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const m = o as Record<string, unknown>;
  const s = (k: string) => typeof m[k] === 'string' && (m[k] as string).length <= 4096;
  if (!s('a') || !/^[0-9a-f]{32}$/.test(m.a as string)) return undefined;
  switch (m.t) {
    case 'start':
      return (m.purpose === 'verify' || m.purpose === 'history') && s('nonce') && s('commit') ? (m as LinkWire) : undefined;
    case 'accept':
    case 'reveal':
      return s('key') ? (m as LinkWire) : undefined;
    case 'mac':
      return s('sig') && s('mac') ? (m as LinkWire) : undefined;
    case 'cancel':
      return REASONS.includes(m.reason as FailReason) ? (m as LinkWire) : undefined;
    case 'progress':
      return Number.isSafeInteger(m.done) && Number.isSafeInteger(m.total) && (m.done as number) >= 0 && (m.total as number) >= (m.done as number) ? (m as LinkWire) : undefined;
    case 'history':
      return s('box') ? (m as LinkWire) : undefined;
    case 'received':
      return m as LinkWire;
    default:
      return undefined;
  }
}

export const encodeWire = (w: LinkWire): Uint8Array => new TextEncoder().encode(JSON.stringify(w));

/** This device as the exchange needs it: its URI and the signature key it vouches for. */
export interface LinkSelf {
  deviceUri: string;
  signatureKey: Uint8Array;
}

export class LinkAttempt {
  stage: LinkStage;
  reason?: FailReason;
  digits?: string[];
  /** Set once verified: the other device's signature key, as it MACed it. */
  verifiedKey?: Uint8Array;
  private sas?: SasResult;
  private readonly ephemeral: Ephemeral = newEphemeral();
  private theirCommit?: Uint8Array;
  private confirmedHere = false;
  private theirMac?: { sig: Uint8Array; mac: Uint8Array };

  private constructor(
    readonly role: LinkRole,
    readonly purpose: LinkPurpose,
    readonly self: LinkSelf,
    readonly otherUri: string,
    private readonly transcript: Transcript,
    stage: LinkStage,
  ) {
    this.stage = stage;
  }

  /** The attempt's id: the transcript's nonce in hex (both sides know it from the start message). */
  get id(): string {
    return toHex(this.transcript.nonce);
  }

  /** Key for what the two devices seal for each other once verified. */
  get transferKey(): Uint8Array | undefined {
    return this.stage === 'verified' ? this.sas?.transferKey : undefined;
  }

  get ended(): boolean {
    return this.stage === 'verified' || this.stage === 'failed';
  }

  /** This device starts: the start message goes to the other device. */
  static start(self: LinkSelf, otherUri: string, purpose: LinkPurpose): { attempt: LinkAttempt; out: LinkWire } {
    const t = newTranscript(self.deviceUri, otherUri);
    const a = new LinkAttempt('starter', purpose, self, otherUri, t, 'waiting');
    return { attempt: a, out: { t: 'start', a: a.id, purpose, nonce: toB64(t.nonce), commit: toB64(commitment(t, a.ephemeral.publicKey)) } };
  }

  /** The other device started; undefined for a start that is not well formed. */
  static incoming(self: LinkSelf, otherUri: string, m: Extract<LinkWire, { t: 'start' }>): LinkAttempt | undefined {
    let nonce: Uint8Array;
    let commit: Uint8Array;
    try {
      nonce = fromB64(m.nonce);
      commit = fromB64(m.commit);
    } catch {
      return undefined;
    }
    if (nonce.length !== 16 || commit.length !== 32 || toHex(nonce) !== m.a || otherUri === self.deviceUri) return undefined;
    const a = new LinkAttempt('responder', m.purpose, self, otherUri, { starter: otherUri, responder: self.deviceUri, nonce }, 'incoming');
    a.theirCommit = commit;
    return a;
  }

  /** The person on the responder accepts the request. */
  accept(): LinkWire[] {
    if (this.role !== 'responder' || this.stage !== 'incoming') return [];
    this.stage = 'waiting';
    return [{ t: 'accept', a: this.id, key: toB64(this.ephemeral.publicKey) }];
  }

  /** The person's answer to the digits: match sends this device's key MAC, mismatch ends both. */
  confirm(match: boolean): LinkWire[] {
    if (this.stage !== 'compare') return [];
    if (!match) return this.fail('mismatch');
    this.confirmedHere = true;
    this.stage = 'confirmed';
    const out: LinkWire[] = [{ t: 'mac', a: this.id, sig: toB64(this.self.signatureKey), mac: toB64(keyMac(this.sas!.macKey, this.self.deviceUri, this.self.signatureKey)) }];
    return [...out, ...this.checkTheirMac()];
  }

  /** This side ends the attempt (the person cancelled, it timed out, it failed). */
  fail(reason: FailReason): LinkWire[] {
    if (this.ended && !(this.stage === 'verified' && this.purpose === 'history')) return [];
    this.stage = 'failed';
    this.reason = reason;
    this.digits = undefined;
    return [{ t: 'cancel', a: this.id, reason }];
  }

  /** A message of this attempt from the other device. */
  receive(m: LinkWire): LinkWire[] {
    if (m.a !== this.id) return [];
    if (m.t === 'cancel') {
      if (this.stage !== 'failed') {
        this.stage = 'failed';
        this.reason = m.reason;
        this.digits = undefined;
      }
      return [];
    }
    if (this.ended) return [];
    try {
      if (m.t === 'accept' && this.role === 'starter' && this.stage === 'waiting') {
        this.sas = shortCode(this.transcript, this.ephemeral, fromB64(m.key), true);
        this.show();
        return [{ t: 'reveal', a: this.id, key: toB64(this.ephemeral.publicKey) }];
      }
      if (m.t === 'reveal' && this.role === 'responder' && this.stage === 'waiting') {
        const theirs = fromB64(m.key);
        checkReveal(this.transcript, this.theirCommit!, theirs);
        this.sas = shortCode(this.transcript, this.ephemeral, theirs, false);
        this.show();
        return [];
      }
      if (m.t === 'mac' && (this.stage === 'compare' || this.stage === 'confirmed') && !this.theirMac) {
        this.theirMac = { sig: fromB64(m.sig), mac: fromB64(m.mac) };
        return this.checkTheirMac();
      }
    } catch (e) {
      // A revealed key that is not the committed one, or a key that makes no shared secret: someone
      // in between changed what was sent.
      return this.fail(e instanceof DeviceVerificationError ? 'tampered' : 'protocol');
    }
    return this.fail('protocol');
  }

  private show(): void {
    this.digits = this.sas!.digits;
    this.stage = 'compare';
  }

  /** Their MAC counts only after this side's person said the digits match. */
  private checkTheirMac(): LinkWire[] {
    if (!this.confirmedHere || !this.theirMac) return [];
    const { sig, mac } = this.theirMac;
    if (sig.length < 16 || sig.length > 1024 || !checkKeyMac(this.sas!.macKey, this.otherUri, sig, mac)) return this.fail('tampered');
    this.verifiedKey = sig;
    this.stage = 'verified';
    return [];
  }
}

/**
 * Verified devices that some room now shows with another signature key: a leaf under the device's
 * URI whose key is not the one it proved in the short-code exchange. That is what a provider
 * slipping a device of its own in under the name of one of ours looks like, so the device list
 * says so instead of "verified" (docs/device-transfer.md).
 */
export function keyMismatches(
  verified: readonly { deviceUri: string; signatureKey: Uint8Array }[],
  rooms: readonly (readonly { identity: string; signatureKey: Uint8Array }[])[],
): Set<string> {
  const want = new Map(verified.map((v) => [v.deviceUri, toHex(v.signatureKey)]));
  const out = new Set<string>();
  for (const leaves of rooms) {
    for (const l of leaves) {
      const key = want.get(l.identity);
      if (key !== undefined && toHex(l.signatureKey) !== key) out.add(l.identity);
    }
  }
  return out;
}
