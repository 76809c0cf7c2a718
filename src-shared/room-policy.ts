// Room policy: the MIMI role capabilities, the draft's example role sets as presets, and a pure
// checker that says whether an actor may make one change to a room.
//
// Source: draft-ietf-mimi-room-policy-03 (the -04 notes say roles, capabilities and the registry
// values are unchanged). Section names below are the draft's: "Role-Based Access Control" (roles,
// authorized_role_changes, role_index 0 and the constraints), "Role Capabilities" (what each
// capability allows), "New MIMI Role Capabilities registry" (the uint16 values) and "Role examples"
// (the cooperatively administered and moderated rooms used as presets here).
//
// The checker is table-driven: every membership change is turned into one Plan (which capability,
// held by whom, which role transition, whether the holder's authorized_role_changes are consulted,
// and how the target's activity changes) and one function evaluates any Plan. Gaps in the draft and
// how they are resolved are listed in docs/room-state.md.

import type { Role, RoomPolicy, UserRolePair } from './room-state.js';

// ---------------------------------------------------------------------------------------------
// Capabilities ("New MIMI Role Capabilities registry": every row, with its value)

export const CAPABILITIES = {
  // Membership ("Membership Capabilities" / "Role Changes")
  canAddParticipant: 0x0000,
  canRemoveParticipant: 0x0001,
  canAddOwnClient: 0x0002,
  canRemoveOwnClient: 0x0003,
  canOpenJoin: 0x0004,
  canJoinIfPreauthorized: 0x0005,
  canRemoveSelf: 0x0006,
  canCreateJoinCode: 0x0007, // reserved
  canDeleteJoinCode: 0x0008, // reserved
  canUseJoinCode: 0x0009,
  canBan: 0x000a,
  canUnBan: 0x000b, // the registry's spelling; the capability text also writes "canUnban"
  canKick: 0x000c,
  canKnock: 0x000d, // reserved
  canAcceptKnock: 0x000e, // reserved
  canChangeUserRole: 0x000f,
  canChangeOwnRole: 0x0010,
  canCreateSubgroup: 0x0011, // reserved
  // Messages ("Message Capabilities")
  canSendMessage: 0x0100,
  canReceiveMessage: 0x0101,
  canCopyMessage: 0x0102,
  canReportAbuse: 0x0103,
  canReplyToMessage: 0x0104,
  canReactToMessage: 0x0105,
  canEditReaction: 0x0106,
  canDeleteOwnReaction: 0x0107,
  canDeleteOtherReaction: 0x0108,
  canEditOwnMessage: 0x0109,
  canDeleteOwnMessage: 0x010a,
  canDeleteOtherMessage: 0x010b,
  canStartTopic: 0x010c,
  canReplyInTopic: 0x010d,
  canEditOwnTopic: 0x010e,
  canEditOtherTopic: 0x010f,
  canSendDirectMessage: 0x0110, // reserved
  canTargetMessage: 0x0111, // reserved
  // Assets and links ("Asset Capabilities"; the link capabilities are registered in this block)
  canUploadImage: 0x0200,
  canUploadAudio: 0x0201,
  canUploadVideo: 0x0202,
  canUploadAttachment: 0x0203,
  canDownloadImage: 0x0204,
  canDownloadAudio: 0x0205,
  canDownloadVideo: 0x0206,
  canDownloadAttachment: 0x0207,
  canSendLink: 0x0208,
  canSendLinkPreview: 0x0209,
  canFollowLink: 0x020a,
  canCopyLink: 0x020b,
  // Room metadata ("Adjust metadata")
  canChangeRoomName: 0x0300,
  canChangeRoomDescription: 0x0301,
  canChangeRoomAvatar: 0x0302,
  canChangeRoomSubject: 0x0303,
  canChangeRoomMood: 0x0304,
  canChangeOwnName: 0x0380, // reserved
  canChangeOwnPresence: 0x0381, // reserved
  canChangeOwnMood: 0x0382, // reserved
  canChangeOwnAvatar: 0x0383, // reserved
  // Real-time media ("Real-time media")
  canStartCall: 0x0400,
  canJoinCall: 0x0401,
  canSendAudio: 0x0402,
  canReceiveAudio: 0x0403,
  canSendVideo: 0x0404,
  canReceiveVideo: 0x0405,
  canShareScreen: 0x0406,
  canViewSharedScreen: 0x0407,
  // Disruptive policy changes ("Disruptive Policy Changes")
  canCreateRoom: 0x0500, // reserved
  canDestroyRoom: 0x0501,
  canChangeRoomMembershipStyle: 0x0502,
  canChangeRoleDefinitions: 0x0503,
  canChangePreauthorizedUserList: 0x0504,
  canChangeOtherPolicyAttribute: 0x0505, // reserved
  canChangeMlsOperationalPolicies: 0x0600, // reserved
  canSendMLSReinitProposal: 0x0601,
  canSendMLSUpdateProposal: 0x0602, // reserved
  canSendMLSPSKProposal: 0x0603, // reserved
  canSendMLSExternalProposal: 0x0604, // reserved
  canSendMLSExternalCommit: 0x0605, // reserved
} as const;

export type CapabilityName = keyof typeof CAPABILITIES;

/** The registry rows marked "(reserved)": they have values and may appear in roles, but no defined meaning. */
export const RESERVED_CAPABILITIES: ReadonlySet<CapabilityName> = new Set<CapabilityName>([
  'canCreateJoinCode',
  'canDeleteJoinCode',
  'canKnock',
  'canAcceptKnock',
  'canCreateSubgroup',
  'canSendDirectMessage',
  'canTargetMessage',
  'canChangeOwnName',
  'canChangeOwnPresence',
  'canChangeOwnMood',
  'canChangeOwnAvatar',
  'canCreateRoom',
  'canChangeOtherPolicyAttribute',
  'canChangeMlsOperationalPolicies',
  'canSendMLSUpdateProposal',
  'canSendMLSPSKProposal',
  'canSendMLSExternalProposal',
  'canSendMLSExternalCommit',
]);

/** CapabilityType value -> name. */
export const CAPABILITY_NAMES: ReadonlyMap<number, CapabilityName> = new Map(
  (Object.entries(CAPABILITIES) as [CapabilityName, number][]).map(([name, value]) => [value, name]),
);

export function isCapabilityName(s: unknown): s is CapabilityName {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(CAPABILITIES, s);
}

/** role_index 0: a user that is not (or no longer) in the participant list ("Role-Based Access Control"). */
export const NO_ROLE_INDEX = 0;
/** The "banned" role always has role_index 1 and role_name "banned" ("Role Changes", canBan). */
export const BANNED_ROLE_INDEX = 1;
export const BANNED_ROLE_NAME = 'banned';

/** The RoomMetaData fields a participant may change, and the capability each needs ("Adjust metadata"). */
export const METADATA_CAPABILITY = {
  roomName: 'canChangeRoomName',
  roomDescriptions: 'canChangeRoomDescription',
  roomAvatar: 'canChangeRoomAvatar',
  roomSubject: 'canChangeRoomSubject',
  roomMood: 'canChangeRoomMood',
} as const satisfies Record<string, CapabilityName>;
export type MetadataField = keyof typeof METADATA_CAPABILITY;

// ---------------------------------------------------------------------------------------------
// Presets ("Role examples")

interface Limits {
  min?: number;
  max?: number;
  minActive?: number;
  maxActive?: number;
}

function role(
  roleIndex: number,
  roleName: string,
  roleCapabilities: readonly CapabilityName[],
  limits: Limits,
  changes: readonly [number, readonly number[]][],
): Role {
  return {
    roleIndex,
    roleName,
    roleDescription: '',
    roleCapabilities: [...roleCapabilities],
    minimumParticipantsConstraint: limits.min ?? 0,
    ...(limits.max === undefined ? {} : { maximumParticipantsConstraint: limits.max }),
    minimumActiveParticipantsConstraint: limits.minActive ?? 0,
    ...(limits.maxActive === undefined ? {} : { maximumActiveParticipantsConstraint: limits.maxActive }),
    authorizedRoleChanges: changes.map(([fromRoleIndex, targets]) => ({ fromRoleIndex, targetRoleIndexes: [...targets] })),
  };
}

/** All transitions among `roles` (each role to every other one), as the admin roles of the examples list them. */
function allAmong(roles: readonly number[]): [number, number[]][] {
  return roles.map((from) => [from, roles.filter((to) => to !== from)]);
}

const POLICY_ENFORCER_CAPABILITIES: readonly CapabilityName[] = [
  'canRemoveParticipant',
  'canChangeUserRole',
  'canBan',
  'canUnBan',
  'canChangeRoleDefinitions',
  'canChangePreauthorizedUserList',
  'canChangeMlsOperationalPolicies',
  'canDestroyRoom',
  'canSendMLSReinitProposal',
];

// "Cooperatively administered room"
const COOPERATIVE_ORDINARY: readonly CapabilityName[] = [
  'canAddParticipant',
  'canRemoveParticipant',
  'canAddOwnClient',
  'canRemoveOwnClient',
  'canRemoveSelf',
  'canSendMessage',
  'canReceiveMessage',
  'canCopyMessage',
  'canReportAbuse',
  'canReplyToMessage',
  'canReactToMessage',
  'canDeleteOwnReaction',
  'canEditOwnMessage',
  'canDeleteOwnMessage',
  'canStartTopic',
  'canReplyInTopic',
  'canEditOwnTopic',
  'canUploadImage',
  'canUploadVideo',
  'canUploadAudio',
  'canUploadAttachment',
  'canDownloadImage',
  'canDownloadVideo',
  'canDownloadAudio',
  'canDownloadAttachment',
  'canSendLink',
  'canSendLinkPreview',
  'canFollowLink',
  'canCopyLink',
  'canChangeRoomName',
  'canChangeRoomAvatar',
  'canChangeRoomSubject',
  'canChangeRoomMood',
  'canChangeOwnName',
  'canChangeOwnPresence',
  'canChangeOwnMood',
  'canChangeOwnAvatar',
];
// The example also lists canRevokeVoice and canGrantVoice, which have no registry value; voice is
// expressed by moving a user to a role with or without canSendMessage (canChangeUserRole).
const COOPERATIVE_ADMIN: readonly CapabilityName[] = [
  ...COOPERATIVE_ORDINARY,
  'canBan',
  'canUnBan',
  'canKick',
  'canChangeUserRole',
  'canDeleteOtherMessage',
  'canEditOtherTopic',
  'canChangeRoomDescription',
];
const COOPERATIVE_SUPER: readonly CapabilityName[] = [
  ...COOPERATIVE_ADMIN,
  'canChangeRoomMembershipStyle',
  'canChangePreauthorizedUserList',
  'canDestroyRoom',
];

/** The policy_enforcer of the draft's five-role rooms (cooperative, strictly administered): role 5. */
const FIVE_ROLE_POLICY_ENFORCER = role(5, 'policy_enforcer', POLICY_ENFORCER_CAPABILITIES, { min: 1, max: 2, maxActive: 0 }, [
  [0, [1]],
  [1, [0]],
  [2, [0, 1]],
  [3, [0, 1]],
  [4, [0, 1]],
]);

/** The draft's cooperatively administered room, roles 0-5: the default policy of a new room. */
export const COOPERATIVE_ROOM_POLICY: RoomPolicy = {
  roles: [
    role(0, 'no_role', [], { maxActive: 0 }, []),
    role(1, 'banned', [], { maxActive: 0 }, []),
    role(2, 'ordinary_user', COOPERATIVE_ORDINARY, {}, [
      [0, [2]],
      [2, [0]],
    ]),
    role(3, 'group_admin', COOPERATIVE_ADMIN, { min: 1 }, allAmong([0, 1, 2, 3])),
    role(4, 'super_admin', COOPERATIVE_SUPER, {}, allAmong([0, 1, 2, 3, 4])),
    FIVE_ROLE_POLICY_ENFORCER,
  ],
};

// The draft's "Strictly administered room": only admins add and remove people, and anyone with a
// join code the admins made joins as an ordinary user (no_role holds canUseJoinCode, 0 -> 2). The
// preset for rooms that people join by link (docs/join-links.md).
const ADMINISTERED_ORDINARY: readonly CapabilityName[] = COOPERATIVE_ORDINARY.filter((c) => c !== 'canAddParticipant' && c !== 'canRemoveParticipant' && !c.startsWith('canChangeRoom'));
/** What the draft's administrators and moderators hold beyond their users (the same list in both presets). */
const MODERATION: readonly CapabilityName[] = [
  'canAddParticipant',
  'canRemoveParticipant',
  'canBan',
  'canUnBan',
  'canKick',
  'canChangeUserRole',
  'canCreateJoinCode',
  'canDeleteJoinCode',
  'canDeleteOtherReaction',
  'canDeleteOtherMessage',
  'canEditOwnTopic',
  'canEditOtherTopic',
];
const ADMINISTERED_ADMIN: readonly CapabilityName[] = [
  ...ADMINISTERED_ORDINARY.filter((c) => c !== 'canEditOwnTopic'),
  ...MODERATION,
  'canChangeRoomDescription',
  'canChangeRoomName',
  'canChangeRoomAvatar',
  'canChangeRoomSubject',
  'canChangeRoomMood',
];
const ADMINISTERED_SUPER: readonly CapabilityName[] = [
  ...ADMINISTERED_ADMIN,
  'canChangeRoomMembershipStyle',
  'canChangeRoleDefinitions',
  'canChangePreauthorizedUserList',
  'canDestroyRoom',
  'canSendMLSReinitProposal',
];

/** The draft's strictly administered room, roles 0-5. */
export const ADMINISTERED_ROOM_POLICY: RoomPolicy = {
  roles: [
    role(0, 'no_role', ['canUseJoinCode'], { maxActive: 0 }, [[0, [2]]]),
    role(1, 'banned', [], { maxActive: 0 }, []),
    role(2, 'ordinary_user', ADMINISTERED_ORDINARY, {}, [
      [0, [2]],
      [2, [0]],
    ]),
    role(3, 'group_admin', ADMINISTERED_ADMIN, { min: 1 }, [
      [0, [1, 2, 3]],
      [1, [0, 2, 3]],
      [2, [0, 1, 3]],
      [3, [0, 1, 2]],
    ]),
    role(4, 'super_admin', ADMINISTERED_SUPER, {}, allAmong([0, 1, 2, 3, 4])),
    FIVE_ROLE_POLICY_ENFORCER,
  ],
};

// "Moderated room". Two references in the draft are resolved: speaker "includes all the capabilities
// of a speaker" (itself) is read as attendee's, and moderator "of an ordinary_user" (no such role in
// this example) as speaker's.
const MODERATED_GUEST: readonly CapabilityName[] = [
  'canRemoveSelf',
  'canReceiveMessage',
  'canCopyMessage',
  'canReactToMessage',
  'canDeleteOwnReaction',
  'canFollowLink',
  'canCopyLink',
  'canDownloadImage',
  'canDownloadVideo',
  'canDownloadAudio',
];
const MODERATED_ATTENDEE: readonly CapabilityName[] = [
  ...MODERATED_GUEST,
  'canAddOwnClient',
  'canJoinIfPreauthorized',
  'canRemoveOwnClient',
  'canChangeOwnRole',
  'canReportAbuse',
  'canReplyInTopic',
  'canDownloadAttachment',
  'canChangeOwnName',
  'canChangeOwnPresence',
  'canChangeOwnAvatar',
];
const MODERATED_SPEAKER: readonly CapabilityName[] = [
  ...MODERATED_ATTENDEE,
  'canSendMessage',
  'canEditOwnMessage',
  'canDeleteOwnMessage',
  'canStartTopic',
  'canUploadImage',
  'canUploadVideo',
  'canUploadAudio',
  'canUploadAttachment',
  'canSendLink',
  'canSendLinkPreview',
];
const MODERATED_MODERATOR: readonly CapabilityName[] = [
  ...MODERATED_SPEAKER,
  ...MODERATION,
  'canChangeRoomName',
  'canChangeRoomAvatar',
  'canChangeRoomSubject',
  'canChangeRoomMood',
];
const MODERATED_SUPER: readonly CapabilityName[] = [
  ...MODERATED_MODERATOR,
  'canChangeRoomDescription',
  'canChangeRoomMembershipStyle',
  'canChangeRoleDefinitions',
  'canChangePreauthorizedUserList',
  'canDestroyRoom',
  'canSendMLSReinitProposal',
];

/** The draft's moderated room, roles 0-7. */
export const MODERATED_ROOM_POLICY: RoomPolicy = {
  roles: [
    role(0, 'no_role', ['canUseJoinCode'], {}, [[0, [2, 3]]]),
    role(1, 'banned', [], { maxActive: 0 }, []),
    role(2, 'guest', MODERATED_GUEST, {}, [
      [0, [2]],
      [2, [0]],
    ]),
    role(3, 'attendee', MODERATED_ATTENDEE, {}, [
      [0, [3]],
      [3, [0]],
    ]),
    role(4, 'speaker', MODERATED_SPEAKER, {}, [
      [0, [4]],
      [4, [0]],
    ]),
    role(5, 'moderator', MODERATED_MODERATOR, { min: 1 }, allAmong([0, 1, 2, 3, 4, 5])),
    role(6, 'super_admin', MODERATED_SUPER, {}, allAmong([0, 1, 2, 3, 4, 5, 6])),
    role(7, 'policy_enforcer', POLICY_ENFORCER_CAPABILITIES, { min: 1, max: 2, maxActive: 0 }, [
      [0, [1]],
      [1, [0]],
      [2, [0, 1]],
      [3, [0, 1]],
      [4, [0, 1]],
      [5, [0, 1]],
      [6, [0, 1]],
    ]),
  ],
};

export interface PolicyPreset {
  readonly policy: RoomPolicy;
  /** The role the room's creator gets. */
  readonly creatorRole: number;
  /** The role a user added through the app's "add" action gets. */
  readonly addedRole: number;
}

export const POLICY_PRESETS = {
  /** Everyone adds and removes ordinary users; the creator is the group_admin the role's minimum of 1 asks for. */
  cooperative: { policy: COOPERATIVE_ROOM_POLICY, creatorRole: 3, addedRole: 2 },
  /** The creator owns the room (super_admin); added users are speakers, whom a moderator can mute (attendee). */
  moderated: { policy: MODERATED_ROOM_POLICY, creatorRole: 6, addedRole: 4 },
  /** Admins add people or hand out join links; joiners by link are ordinary users. */
  administered: { policy: ADMINISTERED_ROOM_POLICY, creatorRole: 3, addedRole: 2 },
} as const satisfies Record<string, PolicyPreset>;
export type PolicyPresetName = keyof typeof POLICY_PRESETS;

export const DEFAULT_ROOM_POLICY = COOPERATIVE_ROOM_POLICY;

// ---------------------------------------------------------------------------------------------
// Checker

/** One change an actor wants to make, as the "Role Capabilities" section describes it. */
export type RoomChange =
  /** Add another user to the participant list (canAddParticipant), with clients unless `addClients` is false. */
  | { kind: 'addParticipant'; user: string; role: number; addClients?: boolean }
  /** Remove a user and all its clients: another user (canRemoveParticipant) or the actor itself (canRemoveSelf). */
  | { kind: 'removeParticipant'; user: string }
  /** Remove another participant's clients, leaving it in the list (canKick). */
  | { kind: 'kick'; user: string }
  /** Move a user (in the list or not) to role 1 "banned" and remove its clients (canBan). */
  | { kind: 'ban'; user: string }
  /** Move a banned user to another non-zero role; its clients are not re-added (canUnBan). */
  | { kind: 'unban'; user: string; role: number }
  /** Change another participant's role to a non-zero role (canChangeUserRole). */
  | { kind: 'changeRole'; user: string; role: number }
  /** Change the actor's own role to `role`, the first role its credential matches in the Preauthorized users component (canChangeOwnRole). */
  | { kind: 'changeOwnRole'; role: number }
  /**
   * The actor, not in the list, adds itself with a client: `openJoin` (canOpenJoin on role 0),
   * `joinCode` (canUseJoinCode on role 0; the caller has checked the code, which names `role`) or
   * `preauthorized` (canJoinIfPreauthorized on `role`, the first role its credential matches).
   */
  | { kind: 'join'; via: 'openJoin' | 'joinCode' | 'preauthorized'; role: number }
  /** The actor adds a client of its own, e.g. a new device joining by external commit (canAddOwnClient). */
  | { kind: 'addOwnClient' }
  /** The actor removes a client of its own; `lastClient` when none remains (canRemoveOwnClient). */
  | { kind: 'removeOwnClient'; lastClient?: boolean }
  /** Send an application message (canSendMessage). */
  | { kind: 'sendMessage' }
  /** Change RoomMetaData fields (canChangeRoomName, ... one capability per field). */
  | { kind: 'changeMetadata'; fields: readonly MetadataField[] }
  /** Any capability whose holder needs nothing more than holding it (not the membership ones above). */
  | { kind: 'use'; capability: CapabilityName };

/**
 * The roles a join code may give under `policy`: those no_role's authorized role changes allow from
 * 0, if no_role holds canUseJoinCode at all (the cooperative preset's does not). Docs: join-links.md.
 */
export function joinCodeRoles(policy: RoomPolicy): number[] {
  const none = policy.roles.find((r) => r.roleIndex === 0);
  if (!none?.roleCapabilities.includes('canUseJoinCode')) return [];
  return none.authorizedRoleChanges.filter((c) => c.fromRoleIndex === 0).flatMap((c) => c.targetRoleIndexes).filter((r) => r !== 0 && r !== BANNED_ROLE_INDEX);
}

export type CheckResult = { ok: true } | { ok: false; denied: CapabilityName; reason: string };

export interface CheckContext {
  /**
   * Users with at least one client in the MLS group before the change ("active participants").
   * Default: every participant whose role allows active participants (maximum_active != 0).
   */
  activeUsers?: ReadonlySet<string>;
  /**
   * Users admitted by a join ticket the hub signed (src-shared/join-ticket.ts), with its role: one
   * of them who lists itself in that role joins by code (canUseJoinCode) rather than openly.
   */
  admitted?: ReadonlyMap<string, number>;
  /**
   * The role the actor acts in when it is no participant: the hub, whose moderation proposals act
   * in the room's policy_enforcer role (room-commit.ts, `stateByHub`). Default: its list entry.
   */
  actorRole?: number;
}

const OK: CheckResult = { ok: true };

/** Capabilities whose rules need a membership change kind; `use` refuses them. */
const MEMBERSHIP_CAPABILITIES: ReadonlySet<CapabilityName> = new Set<CapabilityName>([
  'canAddParticipant',
  'canRemoveParticipant',
  'canAddOwnClient',
  'canRemoveOwnClient',
  'canOpenJoin',
  'canJoinIfPreauthorized',
  'canRemoveSelf',
  'canUseJoinCode',
  'canBan',
  'canUnBan',
  'canKick',
  'canChangeUserRole',
  'canChangeOwnRole',
]);

/** A role change (or activity change) of one user, with the capability that has to authorize it. */
interface Plan {
  capability: CapabilityName;
  /** Whose role must hold the capability: the actor's current role, or the target role (canJoinIfPreauthorized). */
  holder: 'actor' | 'target';
  user: string;
  from: number;
  to: number;
  /** Consult the holder role's authorized_role_changes for from -> to. */
  entry: boolean;
  activeBefore: boolean;
  activeAfter: boolean;
  /** Set when the change is refused whatever the roles say. */
  refuse?: string;
}

interface Situation {
  actor: string;
  roleOf(user: string): number;
  isActive(user: string): boolean;
  bannedRoleExists: boolean;
}

type MembershipChange = Exclude<RoomChange, { kind: 'sendMessage' | 'changeMetadata' | 'use' }>;

const MEMBERSHIP: { [K in MembershipChange['kind']]: (c: Extract<MembershipChange, { kind: K }>, s: Situation) => Plan } = {
  addParticipant(c, s) {
    const cur = s.roleOf(c.user);
    const plan: Plan = {
      capability: 'canAddParticipant',
      holder: 'actor',
      user: c.user,
      from: NO_ROLE_INDEX,
      to: c.role,
      entry: true,
      activeBefore: false,
      activeAfter: c.addClients ?? true,
    };
    if (c.user === s.actor) plan.refuse = 'canAddParticipant does not apply to adding oneself (that is a join)';
    else if (cur === BANNED_ROLE_INDEX) plan.refuse = `${c.user} is banned`;
    else if (cur !== NO_ROLE_INDEX) plan.refuse = `${c.user} is already a participant`;
    else if (c.role === BANNED_ROLE_INDEX) plan.refuse = 'adding a user as banned is a ban (canBan)';
    return plan;
  },
  removeParticipant(c, s) {
    const self = c.user === s.actor;
    const cur = s.roleOf(c.user);
    const plan: Plan = {
      capability: self ? 'canRemoveSelf' : 'canRemoveParticipant',
      holder: 'actor',
      user: c.user,
      from: cur,
      to: NO_ROLE_INDEX,
      entry: true,
      activeBefore: s.isActive(c.user),
      activeAfter: false,
    };
    if (cur === NO_ROLE_INDEX) plan.refuse = `${c.user} is not in the participant list`;
    return plan;
  },
  kick(c, s) {
    const cur = s.roleOf(c.user);
    const plan: Plan = {
      capability: 'canKick',
      holder: 'actor',
      user: c.user,
      from: cur,
      to: cur,
      entry: false,
      activeBefore: s.isActive(c.user),
      activeAfter: false,
    };
    if (c.user === s.actor) plan.refuse = 'canKick removes another participant\'s clients (one\'s own: canRemoveOwnClient)';
    else if (cur === NO_ROLE_INDEX) plan.refuse = `${c.user} is not in the participant list`;
    else if (!plan.activeBefore) plan.refuse = `${c.user} has no clients in the room`;
    return plan;
  },
  ban(c, s) {
    const cur = s.roleOf(c.user);
    const plan: Plan = {
      capability: 'canBan',
      holder: 'actor',
      user: c.user,
      from: cur,
      to: BANNED_ROLE_INDEX,
      entry: true,
      activeBefore: s.isActive(c.user),
      activeAfter: false,
    };
    if (c.user === s.actor) plan.refuse = 'a user cannot ban itself';
    else if (!s.bannedRoleExists) plan.refuse = `the room has no role ${BANNED_ROLE_INDEX} named "${BANNED_ROLE_NAME}"`;
    else if (cur === BANNED_ROLE_INDEX) plan.refuse = `${c.user} is already banned`;
    return plan;
  },
  unban(c, s) {
    const cur = s.roleOf(c.user);
    const plan: Plan = {
      capability: 'canUnBan',
      holder: 'actor',
      user: c.user,
      from: cur,
      to: c.role,
      entry: true,
      activeBefore: s.isActive(c.user),
      activeAfter: s.isActive(c.user),
    };
    if (c.user === s.actor) plan.refuse = 'a user cannot unban itself';
    else if (!s.bannedRoleExists) plan.refuse = `the room has no role ${BANNED_ROLE_INDEX} named "${BANNED_ROLE_NAME}"`;
    else if (cur !== BANNED_ROLE_INDEX) plan.refuse = `${c.user} is not banned`;
    else if (c.role === NO_ROLE_INDEX) plan.refuse = 'unbanning moves to a non-zero role (removing a banned user is canRemoveParticipant)';
    else if (c.role === BANNED_ROLE_INDEX) plan.refuse = `${c.user} is already banned`;
    return plan;
  },
  changeRole(c, s) {
    const cur = s.roleOf(c.user);
    const plan: Plan = {
      capability: 'canChangeUserRole',
      holder: 'actor',
      user: c.user,
      from: cur,
      to: c.role,
      entry: true,
      activeBefore: s.isActive(c.user),
      activeAfter: s.isActive(c.user),
    };
    if (c.user === s.actor) plan.refuse = 'canChangeUserRole does not apply to oneself (canChangeOwnRole)';
    else if (cur === NO_ROLE_INDEX) plan.refuse = `${c.user} is not in the participant list`;
    else if (c.role === NO_ROLE_INDEX) plan.refuse = 'role 0 means removal (canRemoveParticipant)';
    else if (c.role === cur) plan.refuse = `${c.user} already has role ${cur}`;
    return plan;
  },
  changeOwnRole(c, s) {
    const cur = s.roleOf(s.actor);
    const plan: Plan = {
      capability: 'canChangeOwnRole',
      holder: 'actor',
      user: s.actor,
      from: cur,
      to: c.role,
      entry: false,
      activeBefore: s.isActive(s.actor),
      activeAfter: s.isActive(s.actor),
    };
    if (cur === NO_ROLE_INDEX) plan.refuse = `${s.actor} is not in the participant list`;
    else if (c.role === NO_ROLE_INDEX || c.role === BANNED_ROLE_INDEX) plan.refuse = `role ${c.role} is not a preauthorized target`;
    else if (c.role === cur) plan.refuse = `${s.actor} already has role ${cur}`;
    return plan;
  },
  join(c, s) {
    const cur = s.roleOf(s.actor);
    const capability = ({ openJoin: 'canOpenJoin', joinCode: 'canUseJoinCode', preauthorized: 'canJoinIfPreauthorized' } as const)[c.via];
    const plan: Plan = {
      capability,
      holder: c.via === 'preauthorized' ? 'target' : 'actor',
      user: s.actor,
      from: NO_ROLE_INDEX,
      to: c.role,
      // canJoinIfPreauthorized: "The authorized_role_changes list is not consulted".
      entry: c.via !== 'preauthorized',
      activeBefore: false,
      activeAfter: true,
    };
    if (cur === BANNED_ROLE_INDEX) plan.refuse = `${s.actor} is banned`;
    else if (cur !== NO_ROLE_INDEX) plan.refuse = `${s.actor} is already a participant`;
    else if (c.role === NO_ROLE_INDEX || c.role === BANNED_ROLE_INDEX) plan.refuse = `role ${c.role} cannot be joined`;
    return plan;
  },
  addOwnClient(_c, s) {
    const cur = s.roleOf(s.actor);
    const plan: Plan = {
      capability: 'canAddOwnClient',
      holder: 'actor',
      user: s.actor,
      from: cur,
      to: cur,
      entry: false,
      activeBefore: s.isActive(s.actor),
      activeAfter: true,
    };
    if (cur === NO_ROLE_INDEX) plan.refuse = `${s.actor} is not in the participant list`;
    return plan;
  },
  removeOwnClient(c, s) {
    const cur = s.roleOf(s.actor);
    const active = s.isActive(s.actor);
    const plan: Plan = {
      capability: 'canRemoveOwnClient',
      holder: 'actor',
      user: s.actor,
      from: cur,
      to: cur,
      entry: false,
      activeBefore: active,
      activeAfter: active && !c.lastClient,
    };
    if (cur === NO_ROLE_INDEX) plan.refuse = `${s.actor} is not in the participant list`;
    else if (!active) plan.refuse = `${s.actor} has no clients in the room`;
    return plan;
  },
};

export function roleLabel(r: Role | undefined, index: number): string {
  return r ? `role ${index} (${r.roleName})` : `role ${index}`;
}

function countBy(participants: readonly UserRolePair[], pick: (p: UserRolePair) => boolean): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of participants) if (pick(p)) m.set(p.roleIndex, (m.get(p.roleIndex) ?? 0) + 1);
  return m;
}

/**
 * May `actorUser` make `change`, given the room's policy and participant list before the change?
 * Pure; a user not in the list acts with role 0's capabilities (none unless role 0 is defined).
 */
export function checkChange(
  policy: RoomPolicy,
  participants: readonly UserRolePair[],
  actorUser: string,
  change: RoomChange,
  context: CheckContext = {},
): CheckResult {
  const roles = new Map(policy.roles.map((r) => [r.roleIndex, r] as const));
  const roleMap = new Map(participants.map((p) => [p.user, p.roleIndex] as const));
  const roleOf = (user: string): number => roleMap.get(user) ?? NO_ROLE_INDEX;
  const isActive = (user: string): boolean => {
    if (!roleMap.has(user)) return false;
    if (context.activeUsers) return context.activeUsers.has(user);
    return roles.get(roleOf(user))?.maximumActiveParticipantsConstraint !== 0;
  };
  const holds = (roleIndex: number, cap: CapabilityName): boolean => roles.get(roleIndex)?.roleCapabilities.includes(cap) ?? false;
  const actorRole = context.actorRole ?? roleOf(actorUser);
  const lacks = (cap: CapabilityName, roleIndex = actorRole): CheckResult => ({
    ok: false,
    denied: cap,
    reason: `${roleLabel(roles.get(roleIndex), roleIndex)} does not have ${cap}`,
  });

  switch (change.kind) {
    case 'sendMessage':
      return holds(actorRole, 'canSendMessage') ? OK : lacks('canSendMessage');
    case 'use':
      if (!isCapabilityName(change.capability)) throw new TypeError(`unknown capability ${String(change.capability)}`);
      if (MEMBERSHIP_CAPABILITIES.has(change.capability)) {
        throw new TypeError(`${change.capability} is checked through its membership change, not 'use'`);
      }
      return holds(actorRole, change.capability) ? OK : lacks(change.capability);
    case 'changeMetadata': {
      if (change.fields.length === 0) throw new TypeError('changeMetadata needs at least one field');
      for (const field of change.fields) {
        const cap = METADATA_CAPABILITY[field];
        if (cap === undefined) throw new TypeError(`unknown metadata field ${String(field)}`);
        if (!holds(actorRole, cap)) return lacks(cap);
      }
      return OK;
    }
  }

  const situation: Situation = {
    actor: actorUser,
    roleOf,
    isActive,
    bannedRoleExists: roles.get(BANNED_ROLE_INDEX)?.roleName === BANNED_ROLE_NAME,
  };
  const makePlan = MEMBERSHIP[change.kind] as (c: MembershipChange, s: Situation) => Plan;
  if (makePlan === undefined) throw new TypeError(`unknown change kind ${String((change as { kind: unknown }).kind)}`);
  return evaluate(makePlan(change, situation), roles, participants, actorRole, isActive);
}

function evaluate(
  plan: Plan,
  roles: ReadonlyMap<number, Role>,
  participants: readonly UserRolePair[],
  actorRole: number,
  isActive: (user: string) => boolean,
): CheckResult {
  const deny = (reason: string): CheckResult => ({ ok: false, denied: plan.capability, reason });
  const holderIndex = plan.holder === 'actor' ? actorRole : plan.to;
  const holder = roles.get(holderIndex);
  if (!holder?.roleCapabilities.includes(plan.capability)) {
    return deny(`${roleLabel(holder, holderIndex)} does not have ${plan.capability}`);
  }
  if (plan.refuse) return deny(plan.refuse);
  if (plan.to !== NO_ROLE_INDEX && !roles.has(plan.to)) return deny(`role ${plan.to} is not defined in this room`);
  if (plan.entry) {
    const entry = holder.authorizedRoleChanges.find((e) => e.fromRoleIndex === plan.from);
    if (!entry?.targetRoleIndexes.includes(plan.to)) {
      return deny(`${roleLabel(holder, holderIndex)} may not move users from role ${plan.from} to role ${plan.to}`);
    }
  }

  // Constraints ("Role-Based Access Control"): a role that loses a participant must keep its
  // minimum, a role that gains one must stay within its maximum; the same for active participants.
  const counts = countBy(participants, () => true);
  const active = countBy(participants, (p) => isActive(p.user));
  const delta = new Map<number, { all: number; active: number }>();
  const bump = (r: number, all: number, act: number): void => {
    if (r === NO_ROLE_INDEX) return;
    const d = delta.get(r) ?? { all: 0, active: 0 };
    delta.set(r, { all: d.all + all, active: d.active + act });
  };
  bump(plan.from, -1, plan.activeBefore ? -1 : 0);
  bump(plan.to, 1, plan.activeAfter ? 1 : 0);
  for (const [r, d] of delta) {
    const def = roles.get(r);
    if (!def) continue;
    const all = (counts.get(r) ?? 0) + d.all;
    const act = (active.get(r) ?? 0) + d.active;
    const label = roleLabel(def, r);
    if (d.all < 0 && all < def.minimumParticipantsConstraint) {
      return deny(`${label} needs at least ${def.minimumParticipantsConstraint} participant(s)`);
    }
    if (d.all > 0 && def.maximumParticipantsConstraint !== undefined && all > def.maximumParticipantsConstraint) {
      return deny(`${label} allows at most ${def.maximumParticipantsConstraint} participant(s)`);
    }
    if (d.active < 0 && act < def.minimumActiveParticipantsConstraint) {
      return deny(`${label} needs at least ${def.minimumActiveParticipantsConstraint} active participant(s)`);
    }
    if (d.active > 0 && def.maximumActiveParticipantsConstraint !== undefined && act > def.maximumActiveParticipantsConstraint) {
      return deny(`${label} allows at most ${def.maximumActiveParticipantsConstraint} active participant(s)`);
    }
  }
  return OK;
}
