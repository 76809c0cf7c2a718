// Bans the hub makes as the room's first external sender, for its operator (the moderation queue):
// a GroupContextExtensions proposal whose room state has the user in the banned role (1), then a
// Remove proposal for each of the user's members, all in one epoch, committed by reference by
// whichever member commits next (src-main/core/room-commits.ts waits until the Removes are there
// too). Every member and the hub check the state change as the hub's own, made in the room's
// policy_enforcer role (src-shared/room-commit.ts, `stateByHub`).
//
// One GroupContextExtensions proposal per epoch (MLS allows one per commit, and a committer takes
// every pending one): bans asked for while one is pending wait for the next epoch, when a single
// proposal carries all the bans still pending. A proposal is valid for its epoch only, so after a
// commit that did not include it (one built before it arrived) the hub proposes again.

import { bytesEqual } from '../../src-shared/bytes.js';
import { externalGroupContextExtensionsProposal } from '../../src-shared/external-proposal.js';
import { proposalRef } from '../../src-shared/mls-structs.js';
import { denialText, HUB_ACTOR, hubRoleOf, HUB_ROLE_NAME } from '../../src-shared/room-commit.js';
import { BANNED_ROLE_INDEX, type CheckResult } from '../../src-shared/room-policy.js';
import { checkRoomStateChange, encodeRoomStateExtension, ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import { ApiFailure } from '../errors.js';
import type { RoomRow, Store } from '../store.js';
import type { HubCore } from './core.js';
import { decodeState, roomStateOf, type GroupContextExtension } from './mls-input.js';
import { proposePendingRemovals } from './proposals.js';
import { fanout } from './routing.js';

/** Is `user` banned from the hosted room (in force), or is the hub's ban of them pending? */
export function banStatus(store: Store, roomUri: string, user: string): 'banned' | 'pending' | undefined {
  const room = store.hostedRoom(roomUri);
  if (!room?.room_state) return undefined;
  if (isBanned(decodeState(room.room_state, 'stored room state'), user)) return 'banned';
  return store.pendingBans(roomUri).includes(user) ? 'pending' : undefined;
}

/** `state` with each of `users` in the banned role (listed ones moved there, others added). */
export function withBans(state: RoomState, users: readonly string[]): RoomState {
  const listed = new Set(state.participants.map((p) => p.user));
  return {
    ...state,
    participants: [
      ...state.participants.map((p) => (users.includes(p.user) ? { user: p.user, roleIndex: BANNED_ROLE_INDEX } : p)),
      ...users.filter((u) => !listed.has(u)).map((user) => ({ user, roleIndex: BANNED_ROLE_INDEX })),
    ],
  };
}

/** May the hub ban `users` under `state` (its policy_enforcer role, the role's constraints)? */
export function checkHubBan(state: RoomState, users: readonly string[]): CheckResult {
  const actorRole = hubRoleOf(state);
  if (actorRole === undefined) return { ok: false, denied: 'canBan', reason: `the room's policy has no ${HUB_ROLE_NAME} role for the provider to act in` };
  return checkRoomStateChange(state, withBans(state, users), HUB_ACTOR, { actorRole });
}

const isBanned = (state: RoomState, user: string): boolean => state.participants.some((p) => p.user === user && p.roleIndex === BANNED_ROLE_INDEX);

/**
 * The operator bans `user` from a room hosted here: refused at once (409) when the room has no
 * room state, the user is already banned, or the room policy does not let the hub do it; else
 * recorded and proposed in the current epoch (or the next one, when a proposal is pending).
 * Returns the user's members the Removes are for.
 */
export function proposeBan(hub: HubCore, roomUri: string, user: string): { members: string[] } {
  return hub.write((queued) => {
    const room = hub.requireRoom(roomUri);
    if (!room.room_state || !room.group_info) throw new ApiFailure('notAllowed', `${roomUri} has no room state: the hub can remove members but not ban`, { status: 409 });
    if (!hub.externalSenderKey) throw new ApiFailure('notAllowed', 'this provider has no external-sender key to propose with', { status: 409 });
    const state = decodeState(room.room_state, 'stored room state');
    if (isBanned(state, user)) throw new ApiFailure('notAllowed', `${user} is already banned from ${roomUri}`, { status: 409 });
    const verdict = checkHubBan(state, [user]);
    if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy does not let the provider ban ${user}: ${denialText(verdict)}`, { status: 409 });
    hub.store.addPendingBan(roomUri, user, hub.now());
    proposePendingRemovals(hub, roomUri, queued, proposePendingBans(hub, roomUri, queued));
    return { members: hub.members(roomUri).filter((m) => m.user === user).map((m) => m.identity) };
  });
}

/**
 * Proposes, for the room's current epoch, one room state change banning every user whose ban is
 * still pending, and records Removes of their members as pending (the caller proposes them next,
 * with proposePendingRemovals: they must follow the state). Forgets bans in force. Does nothing
 * while this epoch already has the hub's proposal. Call inside hub.write. Returns the members
 * newly pending removal.
 */
export function proposePendingBans(hub: HubCore, roomUri: string, queued: Set<string>): Set<string> {
  const fresh = new Set<string>();
  const room = hub.requireRoom(roomUri);
  const epoch = BigInt(room.epoch);
  const current = hub.store.hubStateProposal(roomUri);
  if (current && current.epoch === epoch) return fresh;
  if (current) hub.store.clearHubStateProposal(roomUri);
  const pending = hub.store.pendingBans(roomUri);
  if (pending.length === 0 || !room.room_state || !room.group_info || !hub.externalSenderKey) return fresh;
  const state = decodeState(room.room_state, 'stored room state');
  for (const u of pending) if (isBanned(state, u)) hub.store.donePendingBan(roomUri, u);
  let users = pending.filter((u) => !isBanned(state, u));
  // The room may have changed since the ban was asked for (roles, the last admin): a ban that is not
  // allowed any more is dropped rather than blocking the others.
  users = users.filter((u) => {
    const ok = checkHubBan(state, [u]).ok;
    if (!ok) hub.store.donePendingBan(roomUri, u);
    return ok;
  });
  if (users.length === 0 || !checkHubBan(state, users).ok) return fresh;
  const next = withBans(state, users);
  const stateData = encodeRoomStateExtension(next);
  const extensions = withState(roomStateOf(room.group_info).extensions, stateData);
  const proposal = externalGroupContextExtensionsProposal({ groupId: roomUri, epoch, senderIndex: 0, extensions, signingKey: hub.externalSenderKey });
  hub.store.setHubStateProposal(roomUri, epoch, proposalRef(proposal), stateData);
  const members = hub.members(roomUri);
  const ts = hub.now();
  const event = hub.store.insertEvent({ room_uri: roomUri, kind: 'commit', epoch, sender_device: `mimi://${hub.domain}`, payload: proposal, accepted_ts: ts });
  fanout(hub, roomUri, event, members.map((m) => m.identity), { timestamp: BigInt(ts), message: proposal, kind: 'proposal', moreProposals: [] }, queued);
  const banned = new Set(users);
  const already = new Set(hub.store.pendingRemovals(roomUri));
  for (const m of members) {
    if (!banned.has(m.user) || already.has(m.identity)) continue;
    hub.store.addPendingRemoval(roomUri, m.identity, ts, true);
    fresh.add(m.identity);
  }
  return fresh;
}

/**
 * The GroupContext extensions of the hub's proposal that `refs` (a commit's ProposalRefs) include,
 * if the commit includes it: the current GroupContext's with the proposal's room state.
 */
export function hubProposalIncluded(hub: HubCore, room: RoomRow, epoch: bigint, refs: readonly Uint8Array[]): GroupContextExtension[] | undefined {
  const p = hub.store.hubStateProposal(room.room_uri);
  if (!p || p.epoch !== epoch || !room.group_info || !refs.some((r) => bytesEqual(r, p.ref))) return undefined;
  return withState(roomStateOf(room.group_info).extensions, p.state);
}

function withState(extensions: readonly GroupContextExtension[], data: Uint8Array): GroupContextExtension[] {
  return extensions.map((e) => (e.type === ROOM_STATE_EXTENSION_TYPE ? { type: e.type, data } : e));
}
