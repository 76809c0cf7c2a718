// This device's MLS group sessions, one per room: loaded from the database on first use, kept in
// memory, and saved together with the epoch. Also the room state each session carries (decoded
// once per session) and the room state of the epoch before the current one.

import { CoreError } from '../../src-shared/contract.js';
import { fromB64, toB64 } from '../../src-shared/bytes.js';
import { userOfDevice } from '../../src-shared/identifiers.js';
import { ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import type { GroupSession, MlsEngine } from '../mls/engine.js';
import type { ProfileDb } from '../db/profile-db.js';
import { readRoomState } from './room-view.js';

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
      if (!state) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
      s = this.engine.restore(state);
      this.byRoom.set(roomUri, s);
    }
    return s;
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

/** The room state of a session, decoded once per session (sessions are immutable: one per epoch). */
export function roomStateOf(s: GroupSession): RoomState | undefined {
  if (decodedRoomStates.has(s)) return decodedRoomStates.get(s);
  const state = readRoomState(s.extensions()); // a malformed state throws each time, as before
  decodedRoomStates.set(s, state);
  return state;
}

/** The users with at least one client in the group. */
export function activeUsers(s: GroupSession): Set<string> {
  return new Set(s.members().map((m) => userOfDevice(m.identity)));
}

/** The identities of `userUri`'s clients in the group. */
export function devicesOf(s: GroupSession, userUri: string): string[] {
  return s.members().filter((m) => userOfDevice(m.identity) === userUri).map((m) => m.identity);
}
