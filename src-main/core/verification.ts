// Verifying another person by safety number (docs/verification.md): the devices each side has in
// the rooms both share, the number and QR code made of them (src-shared/safety-number.ts), and the
// marks this account keeps of whom it verified (profile database, verified_people).
//
// Devices come only from leaves with a basic credential (a device URI): a pseudonymous leaf names
// a client pseudonym, not a device of the person, and another member cannot tell whose it is
// without the room's identity link keys, so it is left out of every real person's number, this
// account's own included. A room counts as shared when both people have such a leaf in it. Both
// sides see the same trees, so both work out the same sets from the same rooms.
//
// A fingerprint is 5200 SHA-512 rounds (deliberately slow, to make a collision search dear); one
// per device set is kept in memory, so opening the dialog again or listing members costs nothing.

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { SafetyNumberComparison, SafetyNumberView, VerificationState } from '../../src-shared/contract.js';
import { bytesEqual, toHex } from '../../src-shared/bytes.js';
import { encodeCbor } from '../../src-shared/cbor.js';
import { parseMimiUriAs, userOfDevice } from '../../src-shared/identifiers.js';
import { compareSafetyNumberQr, fingerprintBytes, fingerprintDigits, groupDigits, SAFETY_NUMBER_VERSION, type DeviceKey, type PersonKeys } from '../../src-shared/safety-number.js';
import type { TimelineEvent } from '../../src-shared/timeline-events.js';
import type { ProfileDb, VerifiedPersonRow } from '../db/profile-db.js';
import type { Member } from '../mls/engine.js';
import type { ProfileContext } from './context.js';

/** node:crypto's SHA-512: the 5200 rounds of a fingerprint take ~1 ms instead of ~100 ms in pure JS. */
const nodeSha512 = (d: Uint8Array): Uint8Array => createHash('sha512').update(d).digest();
import { coreError } from './errors.js';
import { userArg } from './user-args.js';

// ---- pure ----

/** What verification reads of a leaf (engine.ts Member). */
export type Leaf = Pick<Member, 'identity' | 'signatureKey' | 'pseudonym'>;

export interface SharedKeys {
  mine: PersonKeys;
  theirs: PersonKeys;
  /** Rooms in which both have a leaf under their own name. */
  sharedRooms: number;
}

/** The real user of a leaf, or undefined for a pseudonymous one (or an identity that is no device URI). */
function realUserOf(leaf: Leaf): string | undefined {
  if (leaf.pseudonym) return undefined;
  try {
    return userOfDevice(leaf.identity);
  } catch {
    return undefined;
  }
}

/**
 * Both people's devices from the rooms (each given as its leaves) in which both have a real leaf.
 * A device seen in several rooms counts once (same URI and key); one with another key in another
 * room counts as another device, which is what it is to the people comparing.
 */
export function sharedKeys(rooms: readonly (readonly Leaf[])[], me: string, them: string): SharedKeys {
  const mine = new Map<string, DeviceKey>();
  const theirs = new Map<string, DeviceKey>();
  let sharedRooms = 0;
  for (const leaves of rooms) {
    const of = (user: string) => leaves.filter((l) => realUserOf(l) === user);
    const a = of(me);
    const b = of(them);
    if (a.length === 0 || b.length === 0) continue;
    sharedRooms++;
    for (const [into, list] of [[mine, a], [theirs, b]] as const) {
      for (const l of list) into.set(`${l.identity} ${toHex(l.signatureKey)}`, { device: l.identity, signatureKey: l.signatureKey });
    }
  }
  return { mine: { user: me, devices: [...mine.values()] }, theirs: { user: them, devices: [...theirs.values()] }, sharedRooms };
}

/** Where this account stands with a person, from their fingerprint now and the one it verified. */
export function verificationState(current: Uint8Array, verified: Uint8Array | undefined): VerificationState {
  if (!verified) return 'unverified';
  return bytesEqual(current, verified) ? 'verified' : 'changed';
}

/**
 * After a commit: whether a room should say that a verified person's devices changed. Once per
 * change: `warned` is the changed fingerprint last announced. 'reset': back at the verified
 * devices (a device added and removed again), so a later change is told again.
 */
export function changeNotice(row: Pick<VerifiedPersonRow, 'fingerprint' | 'warned'>, current: Uint8Array): 'warn' | 'reset' | 'none' {
  if (bytesEqual(current, row.fingerprint)) return row.warned ? 'reset' : 'none';
  return row.warned && bytesEqual(row.warned, current) ? 'none' : 'warn';
}

// ---- the profile's side ----

/** Device sets whose fingerprints are kept (a few hundred people's worth; each is 30 bytes). */
const CACHE_LIMIT = 512;

export class Verification {
  private readonly fingerprints = new Map<string, Uint8Array>();

  constructor(private readonly ctx: ProfileContext) {}

  private get db(): ProfileDb {
    return this.ctx.db;
  }

  /** A user as typed, as a user URI: not a pseudonym, not this account. */
  private person(user: string): string {
    const uri = userArg(this.ctx.config.domain, user);
    if (parseMimiUriAs('pseudonym', uri)) throw coreError('invalidArgument', 'verification.errors.pseudonym');
    if (uri === this.ctx.config.userUri) throw coreError('invalidArgument', 'verification.errors.self');
    return uri;
  }

  private fingerprint(p: PersonKeys): Uint8Array {
    const key = `${p.user}\n${p.devices
      .map((d) => `${d.device} ${toHex(d.signatureKey)}`)
      .sort()
      .join('\n')}`;
    let f = this.fingerprints.get(key);
    if (!f) {
      f = fingerprintBytes(p, nodeSha512);
      if (this.fingerprints.size >= CACHE_LIMIT) this.fingerprints.delete(this.fingerprints.keys().next().value!);
      this.fingerprints.set(key, f);
    }
    return f;
  }

  /** Both sides' keys; throws when the two share no room (nothing to compare). */
  private keys(them: string): SharedKeys {
    const k = sharedKeys(this.ctx.sessions.joinedLeaves(), this.ctx.config.userUri, them);
    if (k.sharedRooms === 0) throw coreError('notMember', 'verification.errors.noSharedRoom', { user: them });
    return k;
  }

  private view(them: string, k: SharedKeys): SafetyNumberView {
    const mine = this.fingerprint(k.mine);
    const theirs = this.fingerprint(k.theirs);
    // In the order of the users' URIs, as safetyNumber() and safetyNumberQr() put them, so both
    // sides show the same (test/unit/verification.test.ts checks these equal theirs).
    const [first, second] = k.mine.user < them ? [[k.mine.user, mine], [them, theirs]] as const : [[them, theirs], [k.mine.user, mine]] as const;
    const row = this.db.verifiedPerson(them);
    return {
      user: them,
      groups: groupDigits(fingerprintDigits(first[1]) + fingerprintDigits(second[1])),
      qr: Buffer.from(encodeCbor([SAFETY_NUMBER_VERSION, [first[0], first[1]], [second[0], second[1]]])).toString('base64'),
      state: verificationState(theirs, row?.fingerprint),
      sharedRooms: k.sharedRooms,
      ...(row ? { verifiedAt: row.verifiedAt } : {}),
    };
  }

  safetyNumber(user: string): SafetyNumberView {
    const them = this.person(user);
    return this.view(them, this.keys(them));
  }

  /**
   * Mark verified at the devices seen now, or clear the mark. Both need a shared room (the answer
   * is the number as it stands); without one this fails and nothing changes.
   */
  setVerified(user: string, verified: boolean): SafetyNumberView {
    const them = this.person(user);
    const k = this.keys(them);
    if (verified) this.db.setVerifiedPerson(them, this.fingerprint(k.theirs), Date.now());
    else this.db.clearVerifiedPerson(them);
    this.ctx.emit('rooms'); // member lists and the room's notice follow
    return this.view(them, k);
  }

  /**
   * A code scanned from the other side's screen (base64 of what its QR code carries) against ours.
   * A match proves both see the same devices for both people, so it marks them verified.
   */
  compareQr(user: string, scanned: string): SafetyNumberComparison {
    const them = this.person(user);
    const bytes = Buffer.from(scanned, 'base64');
    if (bytes.length === 0 || bytes.toString('base64') !== scanned) throw coreError('invalidArgument', 'verification.errors.badQr');
    const k = this.keys(them);
    // The same bytes as ours is a match (the encoding is deterministic) at no cost; anything else
    // goes through compareSafetyNumberQr, which says how it differs (and works both out anew).
    const result = this.view(them, k).qr === scanned ? 'match' : compareSafetyNumberQr(new Uint8Array(bytes), k.mine, k.theirs, nodeSha512);
    if (result === 'match') {
      this.db.setVerifiedPerson(them, this.fingerprint(k.theirs), Date.now());
      this.ctx.emit('rooms');
    }
    return result;
  }

  /** For member lists: 'verified' or 'changed' for someone this account verified, else undefined. Never throws. */
  stateOf(user: string, leaves = this.ctx.sessions.joinedLeaves()): 'verified' | 'changed' | undefined {
    const row = this.db.verifiedPerson(user);
    if (!row) return undefined;
    try {
      const k = sharedKeys(leaves, this.ctx.config.userUri, user);
      if (k.sharedRooms === 0) return 'verified'; // nothing to compare with now: the mark stands
      const s = verificationState(this.fingerprint(k.theirs), row.fingerprint);
      return s === 'unverified' ? undefined : s;
    } catch {
      return undefined;
    }
  }

  /** The member views' marks for the users of one room (others and undefined states left out). */
  statesOf(users: readonly string[]): Map<string, 'verified' | 'changed'> {
    const out = new Map<string, 'verified' | 'changed'>();
    const verified = new Set(this.db.verifiedPeople().map((r) => r.user));
    const wanted = users.filter((u) => verified.has(u));
    if (wanted.length === 0) return out;
    const leaves = this.ctx.sessions.joinedLeaves();
    for (const u of wanted) {
      const s = this.stateOf(u, leaves);
      if (s) out.set(u, s);
    }
    return out;
  }

  /**
   * Called inside the transaction that adopts a commit into `roomUri` (timeline-events.ts): a
   * `verifiedChanged` event for each verified person in the room whose devices, over all shared
   * rooms, no longer are the ones verified, once per change. Never throws: the commit matters more.
   */
  commitEvents(roomUri: string): TimelineEvent[] {
    try {
      const verified = this.db.verifiedPeople();
      if (verified.length === 0) return [];
      const inRoom = new Set(
        this.ctx.sessions
          .get(roomUri)
          .members()
          .map((m) => realUserOf(m)),
      );
      const rows = verified.filter((r) => inRoom.has(r.user));
      if (rows.length === 0) return [];
      const leaves = this.ctx.sessions.joinedLeaves();
      const events: TimelineEvent[] = [];
      for (const row of rows) {
        const k = sharedKeys(leaves, this.ctx.config.userUri, row.user);
        if (k.theirs.devices.length === 0) continue;
        const current = this.fingerprint(k.theirs);
        const notice = changeNotice(row, current);
        if (notice === 'warn') {
          this.db.setVerifiedPersonWarned(row.user, current);
          events.push({ kind: 'verifiedChanged', user: row.user });
        } else if (notice === 'reset') {
          this.db.setVerifiedPersonWarned(row.user, null);
        }
      }
      return events;
    } catch {
      return [];
    }
  }
}
