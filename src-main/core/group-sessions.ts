// This device's MLS group sessions, one per room: loaded from the database on first use, kept in
// memory, and saved together with the epoch. Also the room state each session carries (decoded
// once per session) and the room state of the epoch before the current one.

import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import { userOfDevice } from '../../src-shared/identifiers.js';
import { ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import type { GroupSession, Member, MemberIdentityLink, MlsEngine } from '../mls/engine.js';
import type { IdentityView } from '../../src-shared/contract.js';
import type { ProfileDb } from '../db/profile-db.js';
import { readRoomState } from './room-view.js';
import { coreError } from './errors.js';

export class GroupSessions {
  private readonly byRoom = new Map<string, GroupSession>();

  constructor(
    private readonly db: ProfileDb,
    private readonly engine: MlsEngine,
  ) {}

  /** The room's current session; throws roomUnknown for a room this device has no group state of. */
  get(roomUri: string): GroupSession {
    let s = this.byRoom.get(roomUri);
    if (!s) {
      const state = this.db.groupState(roomUri);
      if (!state) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
      s = this.engine.restore(state);
      this.byRoom.set(roomUri, s);
    }
    return s;
  }

  /**
   * Restores ahead of use the sessions the engine can restore off this thread (big groups, in the
   * app's MLS worker): on first use, restore() blocks this thread (20-30 ms for 1,000 members).
   * Rooms this device left or keeps only for history are skipped; a room used meanwhile keeps the
   * session get() or save() gave it; a state that does not restore is left for get() to report.
   */
  async warm(isClosed: () => boolean = () => false): Promise<void> {
    const from = this.engine.backgroundRestoreFrom;
    if (from === undefined || !this.engine.restoreInBackground) return;
    // Chosen by the stored (sealed) size, a few bytes more than the state's: nothing is decrypted for small rooms.
    const sizes = this.db.groupStateSizes();
    for (const r of this.db.listRooms()) {
      if (isClosed()) return;
      if ((sizes.get(r.roomUri) ?? 0) < from || r.left || this.byRoom.has(r.roomUri) || this.db.isHistoryOnly(r.roomUri)) continue;
      const state = this.db.groupState(r.roomUri);
      if (!state) continue;
      try {
        const s = await this.engine.restoreInBackground(state);
        if (!this.byRoom.has(r.roomUri)) this.byRoom.set(r.roomUri, s);
      } catch {
        /* get() says what is wrong when the room is used */
      }
    }
  }

  /** The leaves of every room this device is in now (left and history-only rooms have none; a room whose state does not load is skipped). */
  joinedLeaves(): Member[][] {
    const out: Member[][] = [];
    for (const r of this.db.listRooms()) {
      if (r.left || this.db.isHistoryOnly(r.roomUri)) continue;
      try {
        out.push(this.get(r.roomUri).members());
      } catch {
        /* no leaves to offer */
      }
    }
    return out;
  }

  /** Store `s` as the room's group state (call inside the transaction that goes with it) and use it. */
  save(roomUri: string, s: GroupSession): void {
    this.db.saveGroupState(roomUri, s.epoch, s.encode());
    this.byRoom.set(roomUri, s);
  }

  /** Use `s` for the room from now on; the caller has stored it already. */
  set(roomUri: string, s: GroupSession): void {
    this.byRoom.set(roomUri, s);
  }

  /** Keep the room state of the epoch a commit leaves: messages of that epoch still arrive for a while. */
  notePriorState(roomUri: string, before: GroupSession): void {
    const ext = before.extensions().find((e) => e.type === ROOM_STATE_EXTENSION_TYPE);
    this.db.setMeta(`prior-room-state:${roomUri}`, JSON.stringify({ epoch: before.epoch.toString(), state: ext ? toB64(ext.data) : null }));
  }

  /** The room state of `epoch` if it is the one before the current epoch, else `fallback`. */
  priorState(roomUri: string, epoch: bigint, fallback: RoomState | undefined): RoomState | undefined {
    const raw = this.db.getMeta(`prior-room-state:${roomUri}`);
    if (!raw) return fallback;
    const prior = JSON.parse(raw) as { epoch: string; state: string | null };
    if (BigInt(prior.epoch) !== epoch) return fallback;
    return prior.state ? readRoomState([{ type: ROOM_STATE_EXTENSION_TYPE, data: fromB64(prior.state) }]) : undefined;
  }
}

/**
 * Decoded room states by session. The app reads the state on every message, room view, send and
 * commit; a session is an immutable value, so its state never changes. Callers must not mutate
 * the returned state (the with* helpers in room-view.ts build new ones).
 */
const decodedRoomStates = new WeakMap<GroupSession, RoomState | undefined>();

/**
 * The same, by the extension's bytes: every message sent or received makes a new session of the
 * same epoch (the ratchet moved), and those share the GroupContext and so the very bytes of the
 * room state. Decoding it again for each message was ~3% of a round trip's CPU (views, receipts).
 */
const decodedRoomStateBytes = new WeakMap<Uint8Array, RoomState>();

/** The room state of a session, decoded once per session and once per state's bytes (sessions are immutable). */
export function roomStateOf(s: GroupSession): RoomState | undefined {
  if (decodedRoomStates.has(s)) return decodedRoomStates.get(s);
  const ext = s.extensions().find((e) => e.type === ROOM_STATE_EXTENSION_TYPE);
  let state = ext && decodedRoomStateBytes.get(ext.data);
  if (ext && !state) {
    state = readRoomState([ext]); // a malformed state throws each time, as before
    if (state) decodedRoomStateBytes.set(ext.data, state);
  }
  decodedRoomStates.set(s, state);
  return state;
}

/**
 * The user a member's leaf speaks for: the device's user for a basic credential, the user
 * pseudonym for a pseudonymous one (a room with pseudonyms names only those).
 */
export function userOfMember(m: Member): string {
  return m.pseudonym?.userPseudonym ?? userOfDevice(m.identity);
}

/** The user behind a client identity (device URI or client pseudonym) in any of `sessions`. */
export function userOfIdentity(identity: string, ...sessions: GroupSession[]): string {
  for (const s of sessions) {
    const m = s.members().find((x) => x.identity === identity);
    if (m) return userOfMember(m);
  }
  return userOfDevice(identity); // not a leaf (any more): only a device URI names its user
}

/** Who this account is in the room: the user of this device's own leaf. */
export function myUser(s: GroupSession, fallback: string): string {
  const mine = s.members().find((m) => m.leafIndex === s.ownLeafIndex);
  return mine ? userOfMember(mine) : fallback;
}

/** leaf identity -> user, for the room-state checks (room-commit.ts). */
export function leafUsers(...sessions: GroupSession[]): (identity: string) => string {
  const map = new Map<string, string>();
  for (const s of sessions) for (const m of s.members()) map.set(m.identity, userOfMember(m));
  return (identity) => map.get(identity) ?? userOfDevice(identity);
}

/**
 * The real identity behind each pseudonym in the room, as far as this member can verify it: every
 * client of the pseudonym has a verified identity link (sealed with the room's key, signed by the
 * real device key) and all of them name the same user. `me`: this account's own pseudonym is shown
 * as this account.
 */
export function memberIdentities(
  s: GroupSession,
  myRealUser: string,
  authenticate?: (deviceUri: string, deviceSignatureKey: Uint8Array) => boolean,
): Map<string, IdentityView> {
  const out = new Map<string, IdentityView>();
  if (!s.members().some((m) => m.pseudonym)) return out;
  const me = myUser(s, myRealUser);
  const byUser = new Map<string, MemberIdentityLink[]>();
  for (const l of s.identityLinks({ authenticate })) byUser.set(l.userPseudonym, [...(byUser.get(l.userPseudonym) ?? []), l]);
  for (const [pseudonym, links] of byUser) {
    if (pseudonym === me) {
      out.set(pseudonym, { user: myRealUser, verified: true });
      continue;
    }
    const users = new Set(links.flatMap((l) => (l.status === 'verified' ? [l.userUri] : [])));
    const open = links.find((l) => l.status !== 'verified');
    if (!open && users.size === 1) {
      out.set(pseudonym, { user: [...users][0], verified: true });
      continue;
    }
    const problem =
      users.size > 1
        ? 'its clients name different people'
        : open?.status === 'pending'
          ? 'has not published their identity in this room yet'
          : open?.status === 'unknownKey'
            ? 'their identity is sealed under a room key this device does not have yet'
            : open?.status === 'invalid'
              ? `their identity link is not valid: ${open.reason}`
              : 'unknown';
    out.set(pseudonym, { verified: false, problem });
  }
  return out;
}

/**
 * Device keys as this device first saw them (trust on first use): there is no key directory yet,
 * so a link signed by a key other than the one first seen for that device is not verified. Our
 * own device must sign with our own key.
 */
export function deviceKeyCheck(db: ProfileDb, own: { identity: string; signaturePublicKey: Uint8Array }): (deviceUri: string, key: Uint8Array) => boolean {
  return (deviceUri, key) => {
    const hex = toHex(key);
    if (deviceUri === own.identity) return hex === toHex(own.signaturePublicKey);
    const seen = db.getMeta(`device-key:${deviceUri}`);
    if (seen === undefined) {
      db.setMeta(`device-key:${deviceUri}`, hex);
      return true;
    }
    return seen === hex;
  };
}

/** The users with at least one client in the group. */
export function activeUsers(s: GroupSession): Set<string> {
  return new Set(s.members().map(userOfMember));
}

/** The identities of `userUri`'s clients in the group. */
export function devicesOf(s: GroupSession, userUri: string): string[] {
  return s.members().filter((m) => userOfMember(m) === userUri).map((m) => m.identity);
}
