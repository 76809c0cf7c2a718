// The room state as the app shows and edits it: reading it from a group's GroupContext
// extensions, building the settings view (with what this account may do to whom, asked of the
// same checker the hub uses), the JSON document `mimi room-state` prints, and the new states that
// role changes, bans and metadata edits commit. Pure: no I/O, no MLS.

import type { IdentityView, RoomMemberView, RoomMetadataArgs, RoomSettingsView } from '../../src-shared/contract.js';
import { fromUtf8, toHex, utf8 } from '../../src-shared/bytes.js';
import {
  BANNED_ROLE_INDEX,
  checkChange,
  joinCodeRoles,
  NO_ROLE_INDEX,
  POLICY_PRESETS,
  type PolicyPresetName,
  type RoomChange,
} from '../../src-shared/room-policy.js';
import {
  decodeRoomStateExtension,
  encodeParticipantListData,
  encodeRoleData,
  encodeRoomMetaData,
  encodeRoomStateExtension,
  roleOf,
  ROOM_STATE_EXTENSION_TYPE,
  type RoomState,
} from '../../src-shared/room-state.js';

export interface GroupExtension {
  type: number;
  data: Uint8Array;
}

/** The room state in a GroupContext, or undefined for a room created without one (unmanaged). */
export function readRoomState(extensions: readonly GroupExtension[]): RoomState | undefined {
  const ext = extensions.find((e) => e.type === ROOM_STATE_EXTENSION_TYPE);
  return ext ? decodeRoomStateExtension(ext.data) : undefined;
}

/** The GroupContext extension list with the room state replaced (or appended), others untouched and in order. */
export function withRoomState(extensions: readonly GroupExtension[], state: RoomState): GroupExtension[] {
  const data = encodeRoomStateExtension(state);
  const out = extensions.map((e) => (e.type === ROOM_STATE_EXTENSION_TYPE ? { type: e.type, data } : e));
  if (!out.some((e) => e.type === ROOM_STATE_EXTENSION_TYPE)) out.push({ type: ROOM_STATE_EXTENSION_TYPE, data });
  return out;
}

export function roomStateExtension(state: RoomState): GroupExtension {
  return { type: ROOM_STATE_EXTENSION_TYPE, data: encodeRoomStateExtension(state) };
}

/** Which preset the policy is, if it is one unchanged (decides the role "add" gives). */
export function presetOf(state: RoomState): PolicyPresetName | undefined {
  const mine = toHex(encodeRoleData(state.policy));
  return (Object.keys(POLICY_PRESETS) as PolicyPresetName[]).find((n) => toHex(encodeRoleData(POLICY_PRESETS[n].policy)) === mine);
}

/**
 * The role a user added by `actor` gets: the preset's, else the lowest role above "banned" that
 * the actor may move users from role 0 into and that may have clients.
 */
export function addedRole(state: RoomState, actor: string): number {
  const preset = presetOf(state);
  if (preset) return POLICY_PRESETS[preset].addedRole;
  const mine = state.policy.roles.find((r) => r.roleIndex === roleOf(state, actor));
  const targets = mine?.authorizedRoleChanges.find((c) => c.fromRoleIndex === NO_ROLE_INDEX)?.targetRoleIndexes ?? [];
  const usable = state.policy.roles
    .filter((r) => r.roleIndex > BANNED_ROLE_INDEX && targets.includes(r.roleIndex) && r.maximumActiveParticipantsConstraint !== 0)
    .map((r) => r.roleIndex)
    .sort((a, b) => a - b);
  return usable[0] ?? state.policy.roles.find((r) => r.roleIndex > BANNED_ROLE_INDEX)?.roleIndex ?? 2;
}

/** A role given as index or name, as an index of this policy. */
export function resolveRole(state: RoomState, role: number | string): number | undefined {
  const byIndex = typeof role === 'number' ? role : /^\d+$/.test(role) ? Number(role) : undefined;
  const found = state.policy.roles.find((r) => (byIndex !== undefined ? r.roleIndex === byIndex : r.roleName === role));
  return found?.roleIndex;
}

// ---- new states ----

export function withParticipant(state: RoomState, user: string, roleIndex: number): RoomState {
  return { ...state, participants: [...state.participants, { user, roleIndex }] };
}

export function withRole(state: RoomState, user: string, roleIndex: number): RoomState {
  return { ...state, participants: state.participants.map((p) => (p.user === user ? { user, roleIndex } : p)) };
}

export function withoutParticipants(state: RoomState, users: ReadonlySet<string>): RoomState {
  return { ...state, participants: state.participants.filter((p) => !users.has(p.user)) };
}

/** One plain-text description is what the app edits; the draft allows several rich ones. */
export function descriptionText(state: RoomState): string {
  const d = state.metadata.roomDescriptions.find((x) => x.mediaType === '' || x.mediaType.startsWith('text/plain'));
  if (!d) return '';
  try {
    return fromUtf8(d.descriptionContent);
  } catch {
    return '';
  }
}

export function withMetadata(state: RoomState, args: RoomMetadataArgs): RoomState {
  const m = { ...state.metadata };
  if (args.name !== undefined) m.roomName = args.name;
  if (args.subject !== undefined) m.roomSubject = args.subject;
  if (args.avatar !== undefined) m.roomAvatar = args.avatar;
  if (args.description !== undefined) {
    m.roomDescriptions = args.description === '' ? [] : [{ mediaType: '', languageTag: '', descriptionContent: utf8(args.description) }];
  }
  return { ...state, metadata: m };
}

// ---- views ----

function roleNameOf(state: RoomState, roleIndex: number): string {
  return state.policy.roles.find((r) => r.roleIndex === roleIndex)?.roleName ?? `role ${roleIndex}`;
}

function metadataView(state: RoomState): { name: string; description: string; avatar: string; subject: string } {
  return { name: state.metadata.roomName, description: descriptionText(state), avatar: state.metadata.roomAvatar, subject: state.metadata.roomSubject };
}

/** The settings screen's view: every action is offered only if the checker would allow it now. */
/**
 * `identities`: for participants who are pseudonyms, the real identity this account verified
 * (group-sessions.ts memberIdentities); shown beside the pseudonym.
 */
export function roomSettingsView(
  roomUri: string,
  state: RoomState | undefined,
  me: string,
  activeUsers: ReadonlySet<string>,
  identities: ReadonlyMap<string, IdentityView> = new Map(),
): RoomSettingsView {
  if (!state) {
    return {
      roomUri,
      managed: false,
      metadata: { name: '', description: '', avatar: '', subject: '' },
      participants: [...activeUsers].map((user) => ({ user, ...withIdentity(identities, user), roleIndex: 0, roleName: '', active: true, can: { kick: false, remove: false, ban: false, unban: false, roles: [] } })),
      roles: [],
      myRoleIndex: 0,
      myRoleName: '',
      canEdit: { name: false, description: false, avatar: false, subject: false },
      canAddParticipant: false,
      canSendMessage: true,
      canReportAbuse: true,
      links: { canCreate: false, roles: [] },
    };
  }
  const ok = (change: RoomChange): boolean => checkChange(state.policy, state.participants, me, change, { activeUsers }).ok;
  const roleName = (i: number): string => roleNameOf(state, i);
  // The role an added (or unbanned) user gets is the same for every participant: asked once.
  const added = addedRole(state, me);
  const participants: RoomMemberView[] = state.participants.map((p) => ({
    user: p.user,
    ...withIdentity(identities, p.user),
    roleIndex: p.roleIndex,
    roleName: roleName(p.roleIndex),
    active: activeUsers.has(p.user),
    can: {
      kick: p.user !== me && activeUsers.has(p.user) && ok({ kind: 'kick', user: p.user }),
      // A banned user is not offered "remove": it would lift the ban without saying so (unban does that).
      remove: p.user !== me && p.roleIndex !== BANNED_ROLE_INDEX && ok({ kind: 'removeParticipant', user: p.user }),
      ban: p.user !== me && p.roleIndex !== BANNED_ROLE_INDEX && ok({ kind: 'ban', user: p.user }),
      unban: p.roleIndex === BANNED_ROLE_INDEX && ok({ kind: 'unban', user: p.user, role: added }),
      roles:
        p.user === me || p.roleIndex === BANNED_ROLE_INDEX
          ? []
          : state.policy.roles
              .map((r) => r.roleIndex)
              .filter((r) => r > BANNED_ROLE_INDEX && r !== p.roleIndex && ok({ kind: 'changeRole', user: p.user, role: r })),
    },
  }));
  const mine = roleOf(state, me);
  const field = (f: 'roomName' | 'roomDescriptions' | 'roomAvatar' | 'roomSubject'): boolean => ok({ kind: 'changeMetadata', fields: [f] });
  return {
    roomUri,
    managed: true,
    metadata: metadataView(state),
    participants,
    roles: state.policy.roles.map((r) => ({ roleIndex: r.roleIndex, roleName: r.roleName, capabilities: [...r.roleCapabilities] })),
    myRoleIndex: mine,
    myRoleName: roleName(mine),
    canEdit: { name: field('roomName'), description: field('roomDescriptions'), avatar: field('roomAvatar'), subject: field('roomSubject') },
    // Adding a user who is not on the list yet: the check needs a candidate, any non-participant will do.
    canAddParticipant: ok({ kind: 'addParticipant', user: 'mimi://invalid/u/candidate', role: added }),
    canSendMessage: ok({ kind: 'sendMessage' }),
    canReportAbuse: ok({ kind: 'use', capability: 'canReportAbuse' }),
    links: { canCreate: joinCodeRoles(state.policy).length > 0 && ok({ kind: 'use', capability: 'canCreateJoinCode' }), roles: joinCodeRoles(state.policy) },
  };
}

/** What `mimi room-state` prints: participants with roles, the policy, and the encoded components. */
/** `{ identity }` for a participant with a known or checked identity, else nothing. */
function withIdentity(identities: ReadonlyMap<string, IdentityView>, user: string): { identity?: IdentityView } {
  const id = identities.get(user);
  return id ? { identity: id } : {};
}

export interface RoomStateDocument {
  roomUri: string;
  managed: boolean;
  metadata: { name: string; description: string; avatar: string; subject: string } | null;
  /** `identity`: for a pseudonym, the real user behind it as this member verified it (or why not). */
  participants: { user: string; identity?: IdentityView; roleIndex: number; roleName: string; active: boolean }[];
  roles: {
    roleIndex: number;
    roleName: string;
    capabilities: string[];
    minimumParticipants: number;
    maximumParticipants: number | null;
    minimumActiveParticipants: number;
    maximumActiveParticipants: number | null;
    authorizedRoleChanges: { from: number; to: number[] }[];
  }[];
  /** Hex of the draft's participant_list, room_metadata and roles_list component data. */
  encoded: { participantList: string; roomMetadata: string; rolesList: string } | null;
}

export function roomStateDocument(
  roomUri: string,
  state: RoomState | undefined,
  activeUsers: ReadonlySet<string>,
  identities: ReadonlyMap<string, IdentityView> = new Map(),
): RoomStateDocument {
  if (!state) {
    return { roomUri, managed: false, metadata: null, participants: [...activeUsers].map((user) => ({ user, ...withIdentity(identities, user), roleIndex: 0, roleName: '', active: true })), roles: [], encoded: null };
  }
  const roleName = (i: number): string => state.policy.roles.find((r) => r.roleIndex === i)?.roleName ?? `role ${i}`;
  return {
    roomUri,
    managed: true,
    metadata: metadataView(state),
    participants: state.participants.map((p) => ({ user: p.user, ...withIdentity(identities, p.user), roleIndex: p.roleIndex, roleName: roleNameOf(state, p.roleIndex), active: activeUsers.has(p.user) })),
    roles: state.policy.roles.map((r) => ({
      roleIndex: r.roleIndex,
      roleName: r.roleName,
      capabilities: [...r.roleCapabilities],
      minimumParticipants: r.minimumParticipantsConstraint,
      maximumParticipants: r.maximumParticipantsConstraint ?? null,
      minimumActiveParticipants: r.minimumActiveParticipantsConstraint,
      maximumActiveParticipants: r.maximumActiveParticipantsConstraint ?? null,
      authorizedRoleChanges: r.authorizedRoleChanges.map((c) => ({ from: c.fromRoleIndex, to: [...c.targetRoleIndexes] })),
    })),
    encoded: {
      participantList: toHex(encodeParticipantListData({ participants: state.participants })),
      roomMetadata: toHex(encodeRoomMetaData(state.metadata)),
      rolesList: toHex(encodeRoleData(state.policy)),
    },
  };
}

// ---- direct chats (docs/decisions.md "Direct chats") ----

/** Meta key of the person a direct chat this device created is for (kept until they are in it). */
export const DIRECT_META = 'direct:';

/**
 * The other person of a direct chat, or undefined for any other room. A direct chat is a room
 * with no shared name whose participant list holds this account and exactly one other user (in
 * any role, banned too: it stays the chat with them). `localPeer`: the person this device made
 * the room for, which names it while they are not on the list yet (their add waits for consent).
 */
export function directPeerOf(state: RoomState | undefined, me: string, localPeer?: string): string | undefined {
  if (!state || state.metadata.roomName !== '') return undefined;
  if (!state.participants.some((p) => p.user === me)) return undefined;
  const others = state.participants.filter((p) => p.user !== me);
  if (others.length === 1) return others[0].user;
  return others.length === 0 ? localPeer : undefined;
}

/**
 * The name a room is listed under: the shared name, else the name this device gave it, else (a
 * direct chat) the other person, else the others present, else "Empty room". `show` writes a user
 * as text (displayUser).
 */
export function roomDisplayName(o: { shared?: string; localName: string; direct?: string; others: readonly string[] }, show: (user: string) => string): string {
  if (o.shared) return o.shared;
  if (o.localName) return o.localName;
  if (o.direct) return show(o.direct);
  return o.others.length ? o.others.map(show).join(', ') : 'Empty room';
}
