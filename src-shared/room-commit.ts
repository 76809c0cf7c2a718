// Whole-commit checks of the room state: the one place that decides whether a Commit may change the
// participant list, metadata, roles and the MLS membership the way it does. The hub runs it on
// every Commit of a managed room (negative policy, draft-mcmillion-mimi-delivery-service section 4)
// and every client runs it before adopting a Commit, so a Commit that slipped past a bad hub is
// ignored by honest members. Pure: the callers read the two states from the GroupContext and the
// two device lists from the ratchet trees.
//
// What it adds to checkRoomStateChange (room-state.ts), which only sees the two lists:
// - order of operations: after the Commit, every user with clients in the group is on the list in
//   a role that allows active participants (so never banned);
// - client changes the list does not show: removing another participant's clients while they stay
//   on the list is a kick, removing one's own is canRemoveOwnClient, adding one's own (a new device,
//   often by external commit) is canAddOwnClient, adding clients for another listed user needs
//   canAddParticipant;
// - departures: devices removed by Remove proposals of their own user (leaving) or of the hub
//   (account deleted) were authorized when proposed; a user all of whose clients departed may be
//   taken off the list by whoever commits;
// - pseudonyms (minimal-metadata rooms): a member's user is the user pseudonym its credential names
//   (`userOf`), and a pseudonym joins the list only together with a client naming it, since nobody
//   but its holder can vouch for it.

import { bytesEqual } from './bytes.js';
import { parseMimiUriAs, userOfDevice } from './identifiers.js';
import { BANNED_ROLE_INDEX, checkChange, roleLabel, type CapabilityName, type CheckResult, type RoomChange } from './room-policy.js';
import { checkValidRoomStateChange, encodeRoleData, metadataChanges, pseudonymsAllowed, roleOf, ROOM_STATE_EXTENSION_TYPE, RoomStateError, validateRoomState, type RoomState } from './room-state.js';

export interface CommitFacts {
  before: RoomState;
  after: RoomState;
  /** The committer's user URI or user pseudonym (an external joiner's for an external commit). */
  committer: string;
  /** Member identities in the group before and after (blank leaves left out): device URIs, client pseudonyms. */
  devicesBefore: readonly string[];
  devicesAfter: readonly string[];
  /**
   * The user of a member: the device's user for a device URI (the default, userOfDevice), the user
   * pseudonym its PseudonymousCredential names for a client pseudonym. Needed for every identity of
   * both lists once a room has pseudonymous leaves (the ratchet trees say it).
   */
  userOf?: (identity: string) => string;
  /** Removed devices whose Remove proposal came from their own user or from the hub. */
  departed?: ReadonlySet<string>;
  /**
   * Those of `departed` the hub proposed (deleted accounts): the provider's decision, not the
   * user's, so no capability of theirs is asked for. The others are the user's own action.
   */
  removedByHub?: ReadonlySet<string>;
  /**
   * The whole GroupContext extension lists before and after (RFC 9420 type numbers), when the
   * caller has them: changing any extension but the room state (external_senders,
   * required_capabilities, ...) is an MLS operational policy change.
   */
  extensionsBefore?: readonly { type: number; data: Uint8Array }[];
  extensionsAfter?: readonly { type: number; data: Uint8Array }[];
  /**
   * Users not (yet) on the list whose client in the group carries a valid join ticket of the hub
   * (src-shared/join-ticket.ts; the caller verified it), with the ticket's role. Such a user may
   * have clients in the group: it joined by external commit with a code (canUseJoinCode), and lists
   * itself in that role with its next commit.
   */
  admitted?: ReadonlyMap<string, number>;
  /**
   * The room state change is the hub's own: its GroupContextExtensions proposal as the room's first
   * external sender (an operator's ban), committed by reference. The hub acts in the room's
   * `policy_enforcer` role, draft-ietf-mimi-room-policy's example of a preauthorized role for "policy
   * enforcing systems incorporated into ... the MIMI Hub" (we carry no Preauthorized users
   * component, so the role's name stands in for it), and may change nothing but the participant list.
   */
  stateByHub?: boolean;
}

/** Who acts for a hub's room state change in the checks (never a user URI, so never on a list). */
export const HUB_ACTOR = 'urn:mimi:hub';
/** The role a hub's own room state changes act in. */
export const HUB_ROLE_NAME = 'policy_enforcer';

/** The role index the hub acts in under `state`, if the room gives it one. */
export function hubRoleOf(state: RoomState): number | undefined {
  return state.policy.roles.find((r) => r.roleName === HUB_ROLE_NAME)?.roleIndex;
}

/** Are the extension lists equal once the room state extension is left out? */
function sameOtherExtensions(a: readonly { type: number; data: Uint8Array }[], b: readonly { type: number; data: Uint8Array }[]): boolean {
  const others = (l: readonly { type: number; data: Uint8Array }[]) => l.filter((e) => e.type !== ROOM_STATE_EXTENSION_TYPE);
  const x = others(a);
  const y = others(b);
  return x.length === y.length && x.every((e, i) => e.type === y[i].type && e.data.length === y[i].data.length && e.data.every((v, j) => v === y[i].data[j]));
}

const usersOf = (devices: readonly string[], userOf: (identity: string) => string): Map<string, Set<string>> => {
  const m = new Map<string, Set<string>>();
  for (const d of devices) {
    const u = userOf(d);
    if (!m.has(u)) m.set(u, new Set());
    m.get(u)!.add(d);
  }
  return m;
};

/** roleOf for many users: one pass over the participant list. */
function roleLookup(state: RoomState): (user: string) => number {
  const roles = new Map(state.participants.map((p) => [p.user, p.roleIndex] as const));
  return (user) => roles.get(user) ?? 0;
}

/** Can users in `roleIndex` have clients in the group? */
function allowsActive(state: RoomState, roleIndex: number): boolean {
  const role = state.policy.roles.find((r) => r.roleIndex === roleIndex);
  return roleIndex !== 0 && roleIndex !== BANNED_ROLE_INDEX && role !== undefined && role.maximumActiveParticipantsConstraint !== 0;
}

/**
 * Is this Commit valid and authorized under the room state it starts from? Throws RoomStateError
 * when it is invalid whatever the roles; returns the first denial otherwise.
 */
export function checkCommit(f: CommitFacts): CheckResult {
  validateRoomState(f.before);
  validateRoomState(f.after);
  const userOf = f.userOf ?? userOfDevice;
  const before = usersOf(f.devicesBefore, userOf);
  const after = usersOf(f.devicesAfter, userOf);
  const departed = f.departed ?? new Set<string>();
  const roleBefore = roleLookup(f.before);
  const roleAfter = roleLookup(f.after);

  // Clients only for users on the list, in a role that may have them.
  const admitted = f.admitted ?? new Map<string, number>();
  for (const [user] of after) {
    const role = roleAfter(user) || (admitted.get(user) ?? 0);
    if (role === BANNED_ROLE_INDEX) throw new RoomStateError('Commit', 'devices', `${user} is banned and cannot have clients in the room`);
    if (!allowsActive(f.after, role)) {
      throw new RoomStateError('Commit', 'devices', `${user} has clients in the room but ${role === 0 ? 'is not on the participant list' : `role ${role} allows no active participants`}`);
    }
  }

  // The base policy and the minimal-metadata mode are fixed when the room is made: a member could
  // otherwise turn a room of pseudonyms into one that names people, or let pseudonyms into a room
  // that refuses them, after the others joined on those terms. (Changing them would need
  // canChangeRoomMembershipStyle and a rule for the clients already there; not offered yet.)
  if (JSON.stringify(f.before.base ?? null) !== JSON.stringify(f.after.base ?? null) || !!f.before.minimalMetadata !== !!f.after.minimalMetadata) {
    throw new RoomStateError('Commit', 'base_room_policy', 'the base room policy and the minimal-metadata mode cannot change after the room is created');
  }
  // The franking agent too: a member must not swap the key receivers check the hub's franks with
  // (the draft wants a new group, by ReInit, for a new agent).
  const agentBefore = f.before.frankingAgent;
  const agentAfter = f.after.frankingAgent;
  if ((agentBefore === undefined) !== (agentAfter === undefined) || (agentBefore && agentAfter && !bytesEqual(agentBefore, agentAfter))) {
    throw new RoomStateError('Commit', 'franking_agent', 'the franking agent cannot change after the room is created');
  }
  // The asset policy too (docs/attachments.md): who may store a room's files where is agreed at creation.
  const assetsBefore = f.before.assetPolicy;
  const assetsAfter = f.after.assetPolicy;
  if ((assetsBefore === undefined) !== (assetsAfter === undefined) || (assetsBefore && assetsAfter && !bytesEqual(assetsBefore, assetsAfter))) {
    throw new RoomStateError('Commit', 'asset_policy', 'the asset policy cannot change after the room is created');
  }
  // pseudonyms_allowed off: every client names its real user (draft-ietf-mimi-room-policy "Base Room Policy").
  if (!pseudonymsAllowed(f.after)) {
    for (const [user] of after) {
      if (parseMimiUriAs('pseudonym', user)) throw new RoomStateError('Commit', 'devices', `${user} is a pseudonym, and this room does not allow pseudonyms`);
    }
  }

  // A pseudonym that joins the list has a client in the group naming it (but a ban keeps one out,
  // which needs no one to vouch for it).
  const listedBefore = new Set(f.before.participants.map((p) => p.user));
  for (const p of f.after.participants) {
    if (!listedBefore.has(p.user) && p.roleIndex !== BANNED_ROLE_INDEX && parseMimiUriAs('pseudonym', p.user) && !after.has(p.user)) {
      throw new RoomStateError('Commit', 'participants', `${p.user} is a pseudonym: it joins the participant list only together with a client of its own`);
    }
  }

  // Users whose every client departed leave the list on their own authority (checked when proposed).
  const leavers = new Set<string>();
  for (const [user, devices] of before) {
    const allDeparted = !after.has(user) && [...devices].every((d) => departed.has(d));
    if (allDeparted && roleAfter(user) === 0 && roleBefore(user) !== 0) leavers.add(user);
  }
  const start = leavers.size === 0 ? f.before : { ...f.before, participants: f.before.participants.filter((p) => !leavers.has(p.user)) };
  const roleStart = (user: string): number => (leavers.has(user) ? 0 : roleBefore(user));
  // A departure by the user's own proposals is their action: leaving needs canRemoveSelf, dropping
  // some of their clients canRemoveOwnClient (under the state the commit starts from).
  const byHub = f.removedByHub ?? new Set<string>();
  for (const [user, devices] of before) {
    const own = [...devices].filter((d) => departed.has(d) && !byHub.has(d) && !(after.get(user)?.has(d) ?? false));
    if (own.length === 0) continue;
    const r = checkDeparture(f.before, user, own.length === devices.size);
    if (!r.ok) return r;
  }
  const active = new Set([...before.keys()].filter((u) => roleStart(u) !== 0));
  let actor = f.committer;
  let actorRole: number | undefined;
  if (f.stateByHub) {
    actor = HUB_ACTOR;
    actorRole = hubRoleOf(f.before);
    if (actorRole === undefined) return { ok: false, denied: 'canBan', reason: `the room has no ${HUB_ROLE_NAME} role for its hub to act in` };
    const othersSame = !f.extensionsBefore || !f.extensionsAfter || sameOtherExtensions(f.extensionsBefore, f.extensionsAfter);
    if (!othersSame || metadataChanges(f.before.metadata, f.after.metadata).length > 0 || !bytesEqual(encodeRoleData(f.before.policy), encodeRoleData(f.after.policy))) {
      throw new RoomStateError('Commit', 'hub', "the hub's proposal may change the participant list only");
    }
  }
  // Both states were validated above, and `start` only lacks some participants of f.before.
  const listed = checkValidRoomStateChange(start, f.after, actor, { activeUsers: active, admitted, actorRole });
  if (!listed.ok) return listed;
  if (!f.stateByHub && f.extensionsBefore && f.extensionsAfter && !sameOtherExtensions(f.extensionsBefore, f.extensionsAfter)) {
    const r = checkChange(start.policy, start.participants, f.committer, { kind: 'use', capability: 'canChangeMlsOperationalPolicies' }, { activeUsers: active });
    if (!r.ok) return r;
  }

  const check = (change: RoomChange): CheckResult => checkChange(start.policy, start.participants, f.committer, change, { activeUsers: active });
  for (const user of new Set([...before.keys(), ...after.keys()])) {
    const had = before.get(user) ?? new Set<string>();
    const has = after.get(user) ?? new Set<string>();
    const removed = [...had].filter((d) => !has.has(d));
    const added = [...has].filter((d) => !had.has(d));
    const from = roleStart(user);
    const to = roleAfter(user);
    if (removed.length > 0 && from !== 0) {
      // Leaving the list or being banned removes the clients too: authorized with the list change.
      const listChange = to === 0 || to === BANNED_ROLE_INDEX;
      const ownDeparture = removed.every((d) => departed.has(d));
      if (!listChange && !ownDeparture) {
        const r = user === f.committer ? check({ kind: 'removeOwnClient', lastClient: has.size === 0 }) : check({ kind: 'kick', user });
        if (!r.ok) return r;
      }
    }
    if (added.length > 0 && from === 0 && to === 0) {
      // Clients of a user not on the list: only an admitted joiner's own external commit (above, the
      // ticket made them allowed at all), authorized as a join by code under the state before.
      const role = admitted.get(user);
      if (role === undefined || user !== f.committer || had.size > 0) {
        return { ok: false, denied: 'canAddParticipant', reason: `${user} is not on the participant list; only their own join with a join ticket adds their clients` };
      }
      const r = check({ kind: 'join', via: 'joinCode', role });
      if (!r.ok) return r;
    }
    if (added.length > 0 && from !== 0) {
      // Joining the list with clients was authorized with the list change (addParticipant, join).
      if (user === f.committer) {
        const r = check({ kind: 'addOwnClient' });
        if (!r.ok) return r;
      } else if (!holds(start, f.committer, 'canAddParticipant')) {
        return { ok: false, denied: 'canAddParticipant', reason: `${roleName(start, f.committer)} does not have canAddParticipant (adding clients of ${user})` };
      }
    }
  }
  return { ok: true };
}

function holds(state: RoomState, user: string, cap: CapabilityName): boolean {
  const role = state.policy.roles.find((r) => r.roleIndex === roleOf(state, user));
  return role?.roleCapabilities.includes(cap) ?? false;
}

function roleName(state: RoomState, user: string): string {
  const idx = roleOf(state, user);
  return roleLabel(state.policy.roles.find((r) => r.roleIndex === idx), idx);
}

/** May `user` propose removing its own clients: all of them (leaving: canRemoveSelf) or some (canRemoveOwnClient)? */
export function checkDeparture(state: RoomState, user: string, all: boolean): CheckResult {
  if (roleOf(state, user) === 0) return { ok: true }; // not on the list: nothing of the policy's to leave
  return checkChange(state.policy, state.participants, user, all ? { kind: 'removeParticipant', user } : { kind: 'removeOwnClient', lastClient: false });
}

/** May `sender` send application messages (canSendMessage) under `state`? */
export function checkMessage(state: RoomState, sender: string): CheckResult {
  return checkChange(state.policy, state.participants, sender, { kind: 'sendMessage' });
}

/** One line for a denial: the reason and the capability it lacks. */
export function denialText(r: Extract<CheckResult, { ok: false }>): string {
  return r.reason.includes(r.denied) ? r.reason : `${r.reason} (${r.denied})`;
}
