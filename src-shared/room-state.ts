// Room state every member agrees on: the MIMI participant list and room metadata components
// (draft-ietf-mimi-protocol-06, "Participant List" and "Room Metadata"), the roles_list policy
// component (draft-ietf-mimi-room-policy-03, "Role-Based Access Control"), carried in an
// app_data_dictionary (draft-ietf-mls-extensions, "Attaching Application Data to MLS Messages").
//
// ts-mls cannot apply AppDataUpdate proposals, so the dictionary travels in a private-use
// GroupContext extension (ROOM_STATE_EXTENSION_TYPE) replaced by GroupContextExtensions proposals;
// a receiver compares the old and new state (checkRoomStateChange) where an AppDataUpdate receiver
// would apply the update. See docs/room-state.md for the choices and the draft gaps resolved.
//
// Codecs are strict (the tls-struct.ts machinery mimi-protocol.ts uses too): truncation, trailing bytes, unknown values
// (capabilities, optional presence octets, components) and malformed text throw MimiWireError naming
// the innermost structure and field, with `path` leading to it. Rules beyond syntax (unique users,
// defined roles, the one-change-per-user commit rule, ...) throw RoomStateError, a MimiWireError.
// Encoders check the same things, so whatever encodes also decodes. Everything here is pure.

import { decodeAppDataDictionary, encodeAppDataDictionary, MimiWireError, type ComponentData } from './mimi-protocol.js';
import { decodeFrankingAgentData, FRANK_AAD_COMPONENT_ID, FRANKING_AGENT_COMPONENT_ID } from './franking.js';
import { ASSET_POLICY_COMPONENT_ID, decodeAssetPolicy } from './asset-policy.js';
import {
  BANNED_ROLE_INDEX,
  CAPABILITIES,
  CAPABILITY_NAMES,
  checkChange,
  isCapabilityName,
  METADATA_CAPABILITY,
  NO_ROLE_INDEX,
  POLICY_PRESETS,
  type CapabilityName,
  type CheckContext,
  type CheckResult,
  type MetadataField,
  type PolicyPresetName,
  type RoomChange,
} from './room-policy.js';
import { TlsReader, TlsWriter } from './tls.js';
import { parseMimiUriAs } from './identifiers.js';
import { Bad, decodeText, decodeWith, encodeWith, isObject, nest, struct, textBytes } from './tls-struct.js';

export { decodeAppDataDictionary, encodeAppDataDictionary, type ComponentData };

/**
 * GroupContext extension type carrying the room's AppDataDictionary. From the RFC 9420 private-use
 * range (0xF000-0xFFFF); app_data_dictionary's own suggested value is 0x0006.
 */
export const ROOM_STATE_EXTENSION_TYPE = 0xf006;
/** draft-ietf-mimi-protocol-06 IANA: participant_list. */
export const PARTICIPANT_LIST_COMPONENT_ID = 0x0022;
/** draft-ietf-mimi-protocol-06 IANA: room_metadata. */
export const ROOM_METADATA_COMPONENT_ID = 0x0023;
/** draft-ietf-mimi-room-policy-03 IANA: roles_list (TBD1, suggested value 0x0025). */
export const ROLES_LIST_COMPONENT_ID = 0x0025;
/** draft-ietf-mimi-room-policy-03 IANA: base_room_policy (TBD3, suggested value 0x0027). */
export const BASE_ROOM_POLICY_COMPONENT_ID = 0x0027;
/** draft-ietf-mimi-room-policy-03 IANA: status_notification_policy (TBD4, suggested value 0x0028). */
export const STATUS_NOTIFICATION_POLICY_COMPONENT_ID = 0x0028;
/**
 * Ours (private-use component range, docs/pseudonyms.md): the room is a minimal-metadata room of
 * draft-ietf-mimi-protocol-06, where every leaf credential must be a PseudonymousCredential and the
 * participant list names only pseudonyms. component_data is empty. Only with pseudonyms_allowed.
 */
export const MINIMAL_METADATA_COMPONENT_ID = 0xf0a1;

/** A well-formed value that breaks a rule of the drafts (or of the room's own policy data). */
export class RoomStateError extends MimiWireError {
  constructor(structure: string, field: string, detail: string, path?: string) {
    super(structure, field, detail, path);
    this.name = 'RoomStateError';
  }
}

// ---------------------------------------------------------------------------------------------
// Types (field names are the drafts', in camelCase)

/** draft-ietf-mimi-protocol-06 UserRolePair. `user` is a user URI; role_index 0 cannot appear in the list. */
export interface UserRolePair {
  user: string;
  roleIndex: number;
}

/** draft-ietf-mimi-protocol-06 ParticipantListData (component 0x0022). */
export interface ParticipantListData {
  participants: UserRolePair[];
}

/** draft-ietf-mimi-protocol-06 UserindexRolePair: `userIndex` is an index into the current participants. */
export interface UserindexRolePair {
  userIndex: number;
  roleIndex: number;
}

/** draft-ietf-mimi-protocol-06 ParticipantListUpdate: role changes, then removals, then appended additions. */
export interface ParticipantListUpdate {
  changedRoleParticipants: UserindexRolePair[];
  removedIndices: number[];
  addedParticipants: UserRolePair[];
}

/** draft-ietf-mimi-protocol-06 RichDescription. An empty media type means text/plain;charset=utf-8. */
export interface RichDescription {
  mediaType: string;
  languageTag: string;
  descriptionContent: Uint8Array;
}

/** draft-ietf-mimi-protocol-06 RoomMetaData (component 0x0023; RoomMetaUpdate has the same format). */
export interface RoomMetaData {
  roomUri: string;
  roomName: string;
  roomDescriptions: RichDescription[];
  /** An https URI, or empty for none. */
  roomAvatar: string;
  roomSubject: string;
  roomMood: string;
}

/** draft-ietf-mimi-room-policy-03 SingleSourceRoleChangeTargets. */
export interface SingleSourceRoleChangeTargets {
  fromRoleIndex: number;
  targetRoleIndexes: number[];
}

/** draft-ietf-mimi-room-policy-03 Role. Absent maximums mean "no maximum". */
export interface Role {
  roleIndex: number;
  roleName: string;
  roleDescription: string;
  roleCapabilities: CapabilityName[];
  minimumParticipantsConstraint: number;
  maximumParticipantsConstraint?: number;
  minimumActiveParticipantsConstraint: number;
  maximumActiveParticipantsConstraint?: number;
  authorizedRoleChanges: SingleSourceRoleChangeTargets[];
}

/** draft-ietf-mimi-room-policy-03 RoleData (roles_list; RoleUpdate has the same format). */
export interface RoleData {
  roles: Role[];
}

/** The room policy carried in the room state: the roles_list component. */
export type RoomPolicy = RoleData;

/** draft-ietf-mimi-room-policy-03 BaseRoomPolicy (base_room_policy). Absent maximums: no maximum. */
export interface BaseRoomPolicy {
  fixedMembership: boolean;
  parentDependant: boolean;
  /** `Uri parent_room<V>`: the draft's vector; empty for a room without a parent. */
  parentRoom: string[];
  multiDevice: boolean;
  maxClients?: number;
  maxUsers?: number;
  /** Clients may use pseudonymous identifiers in their MLS credentials. */
  pseudonymsAllowed: boolean;
  persistentRoom: boolean;
  discoverable: boolean;
  /** The other policy components of the room (roles_list, ...). */
  policyComponentIds: number[];
}

export interface RoomState {
  participants: UserRolePair[];
  metadata: RoomMetaData;
  policy: RoomPolicy;
  /** The base policy; rooms created before it existed have none (pseudonyms then count as allowed). */
  base?: BaseRoomPolicy;
  /** A minimal-metadata room: pseudonyms required (MINIMAL_METADATA_COMPONENT_ID). */
  minimalMetadata?: boolean;
  /**
   * The hub's FrankingAgentData (the franking_agent component, 0x0021; src-shared/franking.ts):
   * messages are franked, framed with Safe AAD (the safe_aad component, 0x0002, listing frank_aad).
   * Fixed from creation. Rooms made before franking have none.
   */
  frankingAgent?: Uint8Array;
  /**
   * The asset_policy component (0x002C; src-shared/asset-policy.ts, docs/attachments.md), as its
   * encoded AssetPolicy (checked on encode and decode). Fixed from creation; new rooms have none.
   */
  assetPolicy?: Uint8Array;
  /**
   * The status_notification_policy component (0x0028): whether members send delivery
   * notifications and read receipts (docs/receipts-and-typing.md). Absent: both optional.
   */
  statusNotificationPolicy?: StatusNotificationPolicy;
}

/** draft-ietf-mimi-room-policy "Status Notifications component": enum { optional(0), required(1), forbidden(2) } Optionality. */
export type StatusOptionality = 'optional' | 'required' | 'forbidden';
const OPTIONALITY: readonly StatusOptionality[] = ['optional', 'required', 'forbidden'];

export interface StatusNotificationPolicy {
  delivery: StatusOptionality;
  read: StatusOptionality;
}

/** struct { Optionality delivery_notifications; Optionality read_receipts; } StatusNotificationPolicy: two octets. */
export function encodeStatusNotificationPolicy(p: StatusNotificationPolicy): Uint8Array {
  if (!isObject(p)) throw new MimiWireError('StatusNotificationPolicy', '(value)', 'must be an object');
  const d = OPTIONALITY.indexOf(p.delivery);
  const r = OPTIONALITY.indexOf(p.read);
  if (d < 0) throw new MimiWireError('StatusNotificationPolicy', 'delivery_notifications', 'must be optional, required or forbidden');
  if (r < 0) throw new MimiWireError('StatusNotificationPolicy', 'read_receipts', 'must be optional, required or forbidden');
  return new Uint8Array([d, r]);
}

export function decodeStatusNotificationPolicy(bytes: Uint8Array): StatusNotificationPolicy {
  if (bytes.length !== 2) throw new MimiWireError('StatusNotificationPolicy', '(value)', `must be 2 octets, not ${bytes.length}`);
  const [d, r] = bytes;
  if (d > 2) throw new MimiWireError('StatusNotificationPolicy', 'delivery_notifications', `unknown Optionality ${d}`);
  if (r > 2) throw new MimiWireError('StatusNotificationPolicy', 'read_receipts', `unknown Optionality ${r}`);
  return { delivery: OPTIONALITY[d], read: OPTIONALITY[r] };
}

/** The policy in force: the component's, or both optional when the room has none. */
export function statusPolicyOf(state: Pick<RoomState, 'statusNotificationPolicy'> | undefined): StatusNotificationPolicy {
  return state?.statusNotificationPolicy ?? { delivery: 'optional', read: 'optional' };
}

// ---------------------------------------------------------------------------------------------
// Codec machinery (tls-struct.ts), and what only the room state needs

/** A rule-level problem inside a field (becomes RoomStateError). */
class Rule extends Bad {
  override at(structure: string, field: string): MimiWireError {
    return new RoomStateError(structure, field, this.message);
  }
}

// RFC 3986 URI characters (ASCII only), with well-formed percent-encoding, after a scheme.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#[\]]|%[0-9A-Fa-f]{2})*$/;

type TextKind = 'text' | 'utf8String' | 'uri' | 'uriOrEmpty' | 'httpsUriOrEmpty';

function checkText(s: string, kind: TextKind): void {
  if (kind === 'utf8String' && s.includes('\u0000')) throw new Bad('UTF8String must not contain NUL');
  if (kind === 'text' || kind === 'utf8String') return;
  if (s === '' && kind !== 'uri') return;
  if (!URI.test(s)) throw new Bad(`is not a valid URI: ${JSON.stringify(s.slice(0, 80))}`);
  if (kind === 'httpsUriOrEmpty' && !/^https:/i.test(s)) throw new Bad('must be an https URI');
}

/** Text is decoded keeping a leading BOM, so re-encoding is byte-exact. */
function readText(r: TlsReader, kind: TextKind): string {
  const s = decodeText(r.opaqueV(), { keepBom: true });
  checkText(s, kind);
  return s;
}

function writeText(w: TlsWriter, v: unknown, kind: TextKind): void {
  const b = textBytes(v);
  checkText(v as string, kind);
  w.opaqueV(b);
}

function writeBytes(w: TlsWriter, v: unknown): void {
  if (!(v instanceof Uint8Array)) throw new Bad('must be a Uint8Array');
  w.opaqueV(v);
}

function writeU32(w: TlsWriter, v: unknown): void {
  if (typeof v !== 'number') throw new Bad('must be a number');
  w.u32(v);
}

const readU32 = (r: TlsReader): number => r.u32();

function readOptU32(r: TlsReader): number | undefined {
  return r.optional((x) => x.u32());
}

function writeOptU32(w: TlsWriter, v: unknown): void {
  if (v !== undefined && typeof v !== 'number') throw new Bad('must be a number or absent');
  w.optional(v as number | undefined, (x, n) => x.u32(n));
}

function noDuplicates<T>(items: readonly T[], key: (item: T) => unknown, what: (item: T) => string): void {
  const seen = new Set<unknown>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) throw new Rule(`[${i}]: ${what(item)} appears more than once`);
    seen.add(k);
  });
}

// ---------------------------------------------------------------------------------------------
// Participant list (draft-ietf-mimi-protocol-06 "Participant List")

const USER_ROLE_PAIR = struct<UserRolePair>(
  'UserRolePair',
  (s) => {
    const user = s.get('user', (r) => readText(r, 'uri'));
    const roleIndex = s.get('role_index', readU32);
    s.check('role_index', () => noRoleZero(roleIndex));
    return { user, roleIndex };
  },
  (o, v) => {
    o.put('user', (w) => writeText(w, v.user, 'uri'));
    o.put('role_index', (w) => writeU32(w, v.roleIndex));
    o.check('role_index', () => noRoleZero(v.roleIndex));
  },
);

function noRoleZero(roleIndex: number): void {
  if (roleIndex === NO_ROLE_INDEX) throw new Rule('role_index 0 means "not in the participant list"');
}

const PARTICIPANT_LIST_DATA = struct<ParticipantListData>(
  'ParticipantListData',
  (s) => {
    const participants = s.list('participants', USER_ROLE_PAIR.read);
    s.check('participants', () => noDuplicates(participants, (p) => p.user, (p) => `user ${p.user}`));
    return { participants };
  },
  (o, v) => {
    o.list('participants', v.participants, USER_ROLE_PAIR.write);
    o.check('participants', () => noDuplicates(v.participants, (p) => p.user, (p) => `user ${p.user}`));
  },
);

export const encodeParticipantListData = (v: ParticipantListData): Uint8Array => encodeWith(PARTICIPANT_LIST_DATA, v);
export const decodeParticipantListData = (b: Uint8Array): ParticipantListData => decodeWith(PARTICIPANT_LIST_DATA, b);

const USERINDEX_ROLE_PAIR = struct<UserindexRolePair>(
  'UserindexRolePair',
  (s) => {
    const userIndex = s.get('user_index', readU32);
    const roleIndex = s.get('role_index', readU32);
    s.check('role_index', () => noRoleZero(roleIndex));
    return { userIndex, roleIndex };
  },
  (o, v) => {
    o.put('user_index', (w) => writeU32(w, v.userIndex));
    o.put('role_index', (w) => writeU32(w, v.roleIndex));
    o.check('role_index', () => noRoleZero(v.roleIndex));
  },
);

/** The parts of the one-change-per-user rule that need no participant list. */
function updateShape(u: ParticipantListUpdate): void {
  noDuplicates(u.changedRoleParticipants, (c) => c.userIndex, (c) => `user_index ${c.userIndex}`);
  noDuplicates(u.removedIndices, (i) => i, (i) => `index ${i}`);
  noDuplicates(u.addedParticipants, (p) => p.user, (p) => `user ${p.user}`);
  const changed = new Set(u.changedRoleParticipants.map((c) => c.userIndex));
  for (const i of u.removedIndices) if (changed.has(i)) throw new Rule(`index ${i} is both role-changed and removed`);
}

const PARTICIPANT_LIST_UPDATE = struct<ParticipantListUpdate>(
  'ParticipantListUpdate',
  (s) => {
    const changedRoleParticipants = s.list('changedRoleParticipants', USERINDEX_ROLE_PAIR.read);
    const removedIndices = s.list('removedIndices', readU32);
    const addedParticipants = s.list('addedParticipants', USER_ROLE_PAIR.read);
    const v = { changedRoleParticipants, removedIndices, addedParticipants };
    s.check('(value)', () => updateShape(v));
    return v;
  },
  (o, v) => {
    o.list('changedRoleParticipants', v.changedRoleParticipants, USERINDEX_ROLE_PAIR.write);
    o.list('removedIndices', v.removedIndices, writeU32);
    o.list('addedParticipants', v.addedParticipants, USER_ROLE_PAIR.write);
    o.check('(value)', () => updateShape(v));
  },
);

export const encodeParticipantListUpdate = (v: ParticipantListUpdate): Uint8Array => encodeWith(PARTICIPANT_LIST_UPDATE, v);
export const decodeParticipantListUpdate = (b: Uint8Array): ParticipantListUpdate => decodeWith(PARTICIPANT_LIST_UPDATE, b);

// ---------------------------------------------------------------------------------------------
// Room metadata (draft-ietf-mimi-protocol-06 "Room Metadata")

function checkDescriptionContent(d: RichDescription): void {
  if (d.mediaType !== '') return;
  try {
    decodeText(d.descriptionContent, { keepBom: true });
  } catch {
    throw new Rule('an empty media_type means text/plain;charset=utf-8, but the content is not valid UTF-8');
  }
}

const RICH_DESCRIPTION = struct<RichDescription>(
  'RichDescription',
  (s) => {
    const mediaType = s.get('media_type', (r) => readText(r, 'text'));
    const languageTag = s.get('language_tag', (r) => readText(r, 'text'));
    const descriptionContent = s.get('description_content', (r) => r.opaqueV());
    const v = { mediaType, languageTag, descriptionContent };
    s.check('description_content', () => checkDescriptionContent(v));
    return v;
  },
  (o, v) => {
    o.put('media_type', (w) => writeText(w, v.mediaType, 'text'));
    o.put('language_tag', (w) => writeText(w, v.languageTag, 'text'));
    o.put('description_content', (w) => writeBytes(w, v.descriptionContent));
    o.check('description_content', () => checkDescriptionContent(v));
  },
);

const ROOM_META_DATA = struct<RoomMetaData>(
  'RoomMetaData',
  (s) => ({
    roomUri: s.get('room_uri', (r) => readText(r, 'uri')),
    roomName: s.get('room_name', (r) => readText(r, 'utf8String')),
    roomDescriptions: s.list('room_descriptions', RICH_DESCRIPTION.read),
    roomAvatar: s.get('room_avatar', (r) => readText(r, 'httpsUriOrEmpty')),
    roomSubject: s.get('room_subject', (r) => readText(r, 'utf8String')),
    roomMood: s.get('room_mood', (r) => readText(r, 'utf8String')),
  }),
  (o, v) => {
    o.put('room_uri', (w) => writeText(w, v.roomUri, 'uri'));
    o.put('room_name', (w) => writeText(w, v.roomName, 'utf8String'));
    o.list('room_descriptions', v.roomDescriptions, RICH_DESCRIPTION.write);
    o.put('room_avatar', (w) => writeText(w, v.roomAvatar, 'httpsUriOrEmpty'));
    o.put('room_subject', (w) => writeText(w, v.roomSubject, 'utf8String'));
    o.put('room_mood', (w) => writeText(w, v.roomMood, 'utf8String'));
  },
);

export const encodeRoomMetaData = (v: RoomMetaData): Uint8Array => encodeWith(ROOM_META_DATA, v);
export const decodeRoomMetaData = (b: Uint8Array): RoomMetaData => decodeWith(ROOM_META_DATA, b);

// ---------------------------------------------------------------------------------------------
// Roles (draft-ietf-mimi-room-policy-03 "Role-Based Access Control")

const ROLE_CHANGE_TARGETS = struct<SingleSourceRoleChangeTargets>(
  'SingleSourceRoleChangeTargets',
  (s) => {
    const fromRoleIndex = s.get('from_role_index', readU32);
    const targetRoleIndexes = s.list('target_role_indexes', readU32);
    s.check('target_role_indexes', () => noDuplicates(targetRoleIndexes, (t) => t, (t) => `role ${t}`));
    return { fromRoleIndex, targetRoleIndexes };
  },
  (o, v) => {
    o.put('from_role_index', (w) => writeU32(w, v.fromRoleIndex));
    o.list('target_role_indexes', v.targetRoleIndexes, writeU32);
    o.check('target_role_indexes', () => noDuplicates(v.targetRoleIndexes, (t) => t, (t) => `role ${t}`));
  },
);

function readCapability(r: TlsReader): CapabilityName {
  const value = r.u16();
  const name = CAPABILITY_NAMES.get(value);
  if (name === undefined) throw new Bad(`unknown CapabilityType 0x${value.toString(16).padStart(4, '0')}`);
  return name;
}

function writeCapability(w: TlsWriter, name: unknown): void {
  if (!isCapabilityName(name)) throw new Bad(`unknown capability ${JSON.stringify(name)}`);
  w.u16(CAPABILITIES[name]);
}

function roleRules(v: Role): void {
  noDuplicates(v.roleCapabilities, (c) => c, (c) => c);
  if (v.roleIndex !== NO_ROLE_INDEX && v.roleCapabilities.includes('canOpenJoin')) {
    throw new Rule('canOpenJoin MUST NOT appear in any non-zero role');
  }
  noDuplicates(v.authorizedRoleChanges, (e) => e.fromRoleIndex, (e) => `from_role_index ${e.fromRoleIndex}`);
  const max = v.maximumParticipantsConstraint;
  const maxActive = v.maximumActiveParticipantsConstraint;
  if (max !== undefined && v.minimumParticipantsConstraint > max) throw new Rule('minimum_participants_constraint exceeds the maximum');
  if (maxActive !== undefined && v.minimumActiveParticipantsConstraint > maxActive) {
    throw new Rule('minimum_active_participants_constraint exceeds the maximum');
  }
}

const ROLE = struct<Role>(
  'Role',
  (s) => {
    const roleIndex = s.get('role_index', readU32);
    const roleName = s.get('role_name', (r) => readText(r, 'text'));
    const roleDescription = s.get('role_description', (r) => readText(r, 'text'));
    const roleCapabilities = s.list('role_capabilities', readCapability);
    const minimumParticipantsConstraint = s.get('minimum_participants_constraint', readU32);
    const max = s.get('maximum_participants_constraint', readOptU32);
    const minimumActiveParticipantsConstraint = s.get('minimum_active_participants_constraint', readU32);
    const maxActive = s.get('maximum_active_participants_constraint', readOptU32);
    const authorizedRoleChanges = s.list('authorized_role_changes', ROLE_CHANGE_TARGETS.read);
    const v: Role = {
      roleIndex,
      roleName,
      roleDescription,
      roleCapabilities,
      minimumParticipantsConstraint,
      ...(max === undefined ? {} : { maximumParticipantsConstraint: max }),
      minimumActiveParticipantsConstraint,
      ...(maxActive === undefined ? {} : { maximumActiveParticipantsConstraint: maxActive }),
      authorizedRoleChanges,
    };
    s.check('(value)', () => roleRules(v));
    return v;
  },
  (o, v) => {
    o.put('role_index', (w) => writeU32(w, v.roleIndex));
    o.put('role_name', (w) => writeText(w, v.roleName, 'text'));
    o.put('role_description', (w) => writeText(w, v.roleDescription, 'text'));
    o.list('role_capabilities', v.roleCapabilities, writeCapability);
    o.put('minimum_participants_constraint', (w) => writeU32(w, v.minimumParticipantsConstraint));
    o.put('maximum_participants_constraint', (w) => writeOptU32(w, v.maximumParticipantsConstraint));
    o.put('minimum_active_participants_constraint', (w) => writeU32(w, v.minimumActiveParticipantsConstraint));
    o.put('maximum_active_participants_constraint', (w) => writeOptU32(w, v.maximumActiveParticipantsConstraint));
    o.list('authorized_role_changes', v.authorizedRoleChanges, ROLE_CHANGE_TARGETS.write);
    o.check('(value)', () => roleRules(v));
  },
);

function roleDataRules(v: RoleData): void {
  noDuplicates(v.roles, (r) => r.roleIndex, (r) => `role_index ${r.roleIndex}`);
  const defined = new Set(v.roles.map((r) => r.roleIndex));
  v.roles.forEach((r, i) => {
    for (const e of r.authorizedRoleChanges) {
      for (const idx of [e.fromRoleIndex, ...e.targetRoleIndexes]) {
        if (idx !== NO_ROLE_INDEX && !defined.has(idx)) {
          throw new Rule(`[${i}]: role ${r.roleIndex} authorizes a change involving role ${idx}, which is not defined`);
        }
      }
    }
  });
}

const ROLE_DATA = struct<RoleData>(
  'RoleData',
  (s) => {
    const roles = s.list('roles', ROLE.read);
    s.check('roles', () => roleDataRules({ roles }));
    return { roles };
  },
  (o, v) => {
    o.list('roles', v.roles, ROLE.write);
    o.check('roles', () => roleDataRules(v));
  },
);

export const encodeRoleData = (v: RoleData): Uint8Array => encodeWith(ROLE_DATA, v);
export const decodeRoleData = (b: Uint8Array): RoleData => decodeWith(ROLE_DATA, b);

// ---------------------------------------------------------------------------------------------
// Base room policy (draft-ietf-mimi-room-policy-03 "Base Room Policy")

function readBool(r: TlsReader): boolean {
  const v = r.u8();
  if (v > 1) throw new Bad(`bool must be 0 or 1, not ${v}`);
  return v === 1;
}

function writeBool(w: TlsWriter, v: unknown): void {
  if (typeof v !== 'boolean') throw new Bad('must be true or false');
  w.u8(v ? 1 : 0);
}

const BASE_ROOM_POLICY = struct<BaseRoomPolicy>(
  'BaseRoomPolicy',
  (s) => {
    const fixedMembership = s.get('fixed_membership', readBool);
    const parentDependant = s.get('parent_dependant', readBool);
    const parentRoom = s.list('parent_room', (r) => readText(r, 'uri'));
    const multiDevice = s.get('multi_device', readBool);
    const maxClients = s.get('max_clients', readOptU32);
    const maxUsers = s.get('max_users', readOptU32);
    const pseudonymsAllowed = s.get('pseudonyms_allowed', readBool);
    const persistentRoom = s.get('persistent_room', readBool);
    const discoverable = s.get('discoverable', readBool);
    const policyComponentIds = s.list('policy_component_ids', (r) => r.u16());
    return {
      fixedMembership,
      parentDependant,
      parentRoom,
      multiDevice,
      ...(maxClients !== undefined ? { maxClients } : {}),
      ...(maxUsers !== undefined ? { maxUsers } : {}),
      pseudonymsAllowed,
      persistentRoom,
      discoverable,
      policyComponentIds,
    };
  },
  (o, v) => {
    o.put('fixed_membership', (w) => writeBool(w, v.fixedMembership));
    o.put('parent_dependant', (w) => writeBool(w, v.parentDependant));
    o.list('parent_room', v.parentRoom, (w, u) => writeText(w, u, 'uri'));
    o.put('multi_device', (w) => writeBool(w, v.multiDevice));
    o.put('max_clients', (w) => writeOptU32(w, v.maxClients));
    o.put('max_users', (w) => writeOptU32(w, v.maxUsers));
    o.put('pseudonyms_allowed', (w) => writeBool(w, v.pseudonymsAllowed));
    o.put('persistent_room', (w) => writeBool(w, v.persistentRoom));
    o.put('discoverable', (w) => writeBool(w, v.discoverable));
    o.list('policy_component_ids', v.policyComponentIds, (w, id) => {
      if (typeof id !== 'number') throw new Bad('must be a number');
      w.u16(id);
    });
  },
);

export const encodeBaseRoomPolicy = (v: BaseRoomPolicy): Uint8Array => encodeWith(BASE_ROOM_POLICY, v);
export const decodeBaseRoomPolicy = (b: Uint8Array): BaseRoomPolicy => decodeWith(BASE_ROOM_POLICY, b);

/** The base policy of a new room: multi-device, persistent, not discoverable; pseudonyms as asked. */
export function defaultBasePolicy(pseudonymsAllowed: boolean): BaseRoomPolicy {
  return {
    fixedMembership: false,
    parentDependant: false,
    parentRoom: [],
    multiDevice: true,
    pseudonymsAllowed,
    persistentRoom: true,
    discoverable: false,
    policyComponentIds: [ROLES_LIST_COMPONENT_ID],
  };
}

/** Whether clients may use pseudonymous credentials here (a room without a base policy: yes). */
export function pseudonymsAllowed(state: Pick<RoomState, 'base'>): boolean {
  return state.base?.pseudonymsAllowed ?? true;
}

// ---------------------------------------------------------------------------------------------
// Room state through the app_data_dictionary

/** draft-ietf-mls-extensions: the GroupContext's list of required Safe AAD components (ComponentID component_ids<V>). */
export const SAFE_AAD_COMPONENT_ID = 0x0002;
/** Our safe_aad list: frank_aad only. */
const SAFE_AAD_FRANKING = new Uint8Array([0x02, 0x00, FRANK_AAD_COMPONENT_ID]);

const COMPONENT_NAMES: ReadonlyMap<number, string> = new Map([
  [PARTICIPANT_LIST_COMPONENT_ID, 'participant_list'],
  [ROOM_METADATA_COMPONENT_ID, 'room_metadata'],
  [ROLES_LIST_COMPONENT_ID, 'roles_list'],
  [BASE_ROOM_POLICY_COMPONENT_ID, 'base_room_policy'],
  [MINIMAL_METADATA_COMPONENT_ID, 'minimal_metadata'],
  [SAFE_AAD_COMPONENT_ID, 'safe_aad'],
  [FRANKING_AGENT_COMPONENT_ID, 'franking_agent'],
  [ASSET_POLICY_COMPONENT_ID, 'asset_policy'],
  [STATUS_NOTIFICATION_POLICY_COMPONENT_ID, 'status_notification_policy'],
]);


const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** Rules across components: every participant's role is defined by the roles_list. */
function crossRules(participants: readonly UserRolePair[], policy: RoomPolicy): void {
  const defined = new Set(policy.roles.map((r) => r.roleIndex));
  participants.forEach((p, i) => {
    if (!defined.has(p.roleIndex)) {
      throw new RoomStateError('RoomState', `participants[${i}]`, `${p.user} has role ${p.roleIndex}, which roles_list does not define`);
    }
  });
}

/** Checks every rule a RoomState must satisfy (throws MimiWireError / RoomStateError). */
export function validateRoomState(state: RoomState): void {
  if (!isObject(state)) throw new MimiWireError('RoomState', '(value)', 'must be an object');
  encodeComponents(state);
}

function encodeComponents(state: RoomState): ComponentData[] {
  const part = (field: string, f: () => Uint8Array): Uint8Array => {
    try {
      return f();
    } catch (e) {
      throw nest(e, 'RoomState', field);
    }
  };
  const participants = part('participants', () => encodeParticipantListData({ participants: state.participants }));
  const metadata = part('metadata', () => encodeRoomMetaData(state.metadata));
  const policy = part('policy', () => encodeRoleData(state.policy));
  const base = state.base === undefined ? undefined : part('base', () => encodeBaseRoomPolicy(state.base!));
  crossRules(state.participants, state.policy);
  minimalMetadataRules(state);
  const agent = state.frankingAgent === undefined ? undefined : part('frankingAgent', () => (decodeFrankingAgentData(state.frankingAgent!), state.frankingAgent!));
  const assets = state.assetPolicy === undefined ? undefined : part('assetPolicy', () => (decodeAssetPolicy(state.assetPolicy!), state.assetPolicy!));
  const status = state.statusNotificationPolicy === undefined ? undefined : part('statusNotificationPolicy', () => encodeStatusNotificationPolicy(state.statusNotificationPolicy!));
  // Ascending component ids (the AppDataDictionary requires it); the optional ones only when set.
  return [
    ...(agent ? [{ componentId: SAFE_AAD_COMPONENT_ID, data: SAFE_AAD_FRANKING }] : []),
    ...(agent ? [{ componentId: FRANKING_AGENT_COMPONENT_ID, data: agent }] : []),
    { componentId: PARTICIPANT_LIST_COMPONENT_ID, data: participants },
    { componentId: ROOM_METADATA_COMPONENT_ID, data: metadata },
    { componentId: ROLES_LIST_COMPONENT_ID, data: policy },
    ...(base ? [{ componentId: BASE_ROOM_POLICY_COMPONENT_ID, data: base }] : []),
    ...(status ? [{ componentId: STATUS_NOTIFICATION_POLICY_COMPONENT_ID, data: status }] : []),
    ...(assets ? [{ componentId: ASSET_POLICY_COMPONENT_ID, data: assets }] : []),
    ...(state.minimalMetadata ? [{ componentId: MINIMAL_METADATA_COMPONENT_ID, data: new Uint8Array(0) }] : []),
  ];
}

/** The extension_data of the ROOM_STATE_EXTENSION_TYPE GroupContext extension: an AppDataDictionary. */
export function encodeRoomStateExtension(state: RoomState): Uint8Array {
  if (!isObject(state)) throw new MimiWireError('RoomState', '(value)', 'must be an object');
  return encodeAppDataDictionary(encodeComponents(state));
}

/** Decodes the extension: exactly the participant_list, room_metadata and roles_list components. */
export function decodeRoomStateExtension(bytes: Uint8Array): RoomState {
  const entries = decodeAppDataDictionary(bytes);
  const found = new Map<number, Uint8Array>();
  for (const e of entries) {
    const name = COMPONENT_NAMES.get(e.componentId);
    if (name === undefined) {
      throw new RoomStateError('AppDataDictionary', `component_data[${hex4(e.componentId)}]`, 'unknown component in the room state');
    }
    found.set(e.componentId, e.data);
  }
  const component = <T>(id: number, decode: (b: Uint8Array) => T): T => {
    const name = COMPONENT_NAMES.get(id)!;
    const data = found.get(id);
    if (data === undefined) throw new RoomStateError('AppDataDictionary', 'component_data', `missing ${name} (${hex4(id)})`);
    try {
      return decode(data);
    } catch (e) {
      throw nest(e, 'AppDataDictionary', `component_data[${name}]`);
    }
  };
  const participants = component(PARTICIPANT_LIST_COMPONENT_ID, decodeParticipantListData).participants;
  const metadata = component(ROOM_METADATA_COMPONENT_ID, decodeRoomMetaData);
  const policy = component(ROLES_LIST_COMPONENT_ID, decodeRoleData);
  const base = found.has(BASE_ROOM_POLICY_COMPONENT_ID) ? component(BASE_ROOM_POLICY_COMPONENT_ID, decodeBaseRoomPolicy) : undefined;
  const mmr = found.get(MINIMAL_METADATA_COMPONENT_ID);
  if (mmr !== undefined && mmr.length !== 0) throw new RoomStateError('AppDataDictionary', 'component_data[minimal_metadata]', 'must be empty');
  const safeAad = found.get(SAFE_AAD_COMPONENT_ID);
  const agent = found.get(FRANKING_AGENT_COMPONENT_ID);
  if ((safeAad === undefined) !== (agent === undefined)) throw new RoomStateError('AppDataDictionary', 'component_data[franking_agent]', 'franking_agent and safe_aad come together');
  if (safeAad !== undefined && !bytesEqual(safeAad, SAFE_AAD_FRANKING)) throw new RoomStateError('AppDataDictionary', 'component_data[safe_aad]', 'must list exactly frank_aad (0x0020)');
  if (agent !== undefined) component(FRANKING_AGENT_COMPONENT_ID, decodeFrankingAgentData);
  const assets = found.get(ASSET_POLICY_COMPONENT_ID);
  if (assets !== undefined) component(ASSET_POLICY_COMPONENT_ID, decodeAssetPolicy);
  const status = found.has(STATUS_NOTIFICATION_POLICY_COMPONENT_ID) ? component(STATUS_NOTIFICATION_POLICY_COMPONENT_ID, decodeStatusNotificationPolicy) : undefined;
  const state: RoomState = {
    participants,
    metadata,
    policy,
    ...(base ? { base } : {}),
    ...(mmr !== undefined ? { minimalMetadata: true } : {}),
    ...(agent !== undefined ? { frankingAgent: agent } : {}),
    ...(assets !== undefined ? { assetPolicy: assets } : {}),
    ...(status ? { statusNotificationPolicy: status } : {}),
  };
  crossRules(participants, policy);
  minimalMetadataRules(state);
  return state;
}

/** A minimal-metadata room allows pseudonyms and lists only pseudonyms (the tree's rule is room-commit.ts's). */
function minimalMetadataRules(state: RoomState): void {
  if (!state.minimalMetadata) return;
  if (!pseudonymsAllowed(state)) throw new RoomStateError('RoomState', 'minimal_metadata', 'a minimal-metadata room must allow pseudonyms (base_room_policy.pseudonyms_allowed)');
  state.participants.forEach((p, i) => {
    if (!parseMimiUriAs('pseudonym', p.user)) throw new RoomStateError('RoomState', `participants[${i}]`, `${p.user} is not a pseudonym; a minimal-metadata room lists only pseudonyms`);
  });
}

/** A new room's state: the creator in the preset's creator role, the name, nothing else set. */
export function initialRoomState(opts: {
  roomUri: string;
  creator: string;
  roomName?: string;
  preset?: PolicyPresetName;
  /** Every member a pseudonym (implies pseudonyms allowed). */
  minimalMetadata?: boolean;
  /** Default true: clients may take part under pseudonyms (e.g. a connection's bootstrap room). */
  pseudonymsAllowed?: boolean;
  /** The hub's FrankingAgentData: its messages are franked. */
  frankingAgent?: Uint8Array;
}): RoomState {
  const preset = POLICY_PRESETS[opts.preset ?? 'cooperative'];
  if (preset === undefined) throw new TypeError(`unknown policy preset ${String(opts.preset)}`);
  const state: RoomState = {
    participants: [{ user: opts.creator, roleIndex: preset.creatorRole }],
    metadata: { roomUri: opts.roomUri, roomName: opts.roomName ?? '', roomDescriptions: [], roomAvatar: '', roomSubject: '', roomMood: '' },
    policy: structuredClone(preset.policy),
    base: defaultBasePolicy(opts.minimalMetadata === true || opts.pseudonymsAllowed !== false),
    ...(opts.minimalMetadata ? { minimalMetadata: true } : {}),
    ...(opts.frankingAgent ? { frankingAgent: opts.frankingAgent } : {}),
  };
  validateRoomState(state);
  return state;
}

/** The user's role: 0 when not in the participant list. */
export function roleOf(state: Pick<RoomState, 'participants'>, user: string): number {
  return state.participants.find((p) => p.user === user)?.roleIndex ?? NO_ROLE_INDEX;
}

export function isBanned(state: Pick<RoomState, 'participants'>, user: string): boolean {
  return roleOf(state, user) === BANNED_ROLE_INDEX;
}

// ---------------------------------------------------------------------------------------------
// Applying participant list updates

const updateError = (field: string, detail: string): RoomStateError => new RoomStateError('ParticipantListUpdate', field, detail);

/**
 * Applies one ParticipantListUpdate: role changes and removals by index into the current list,
 * then additions appended ("Participant List"). Throws RoomStateError when the update is invalid.
 */
export function applyParticipantListUpdate(state: RoomState, update: ParticipantListUpdate): RoomState {
  return applyParticipantListUpdates(state, [update]);
}

/**
 * Applies the participant list updates of one commit in order (each indexes the list the previous
 * one produced). "A single commit is not valid if it contain any combination of Participant list
 * updates that operate on (add, remove, or change the role of) the same user ... more than once."
 */
export function applyParticipantListUpdates(state: RoomState, updates: readonly ParticipantListUpdate[]): RoomState {
  validateRoomState(state);
  return applyToValid(state, updates);
}

/** applyParticipantListUpdates on a state already validated. */
function applyToValid(state: RoomState, updates: readonly ParticipantListUpdate[]): RoomState {
  const roles = new Set(state.policy.roles.map((r) => r.roleIndex));
  const touched = new Set<string>();
  const touch = (user: string, field: string): void => {
    if (touched.has(user)) throw updateError(field, `operates on ${user} more than once in one commit`);
    touched.add(user);
  };
  let list = state.participants.map((p) => ({ ...p }));
  for (const update of updates) {
    encodeParticipantListUpdate(update); // shape and field validity
    const at = (i: number, field: string): UserRolePair => {
      if (i >= list.length) throw updateError(field, `index ${i} is out of range (${list.length} participants)`);
      return list[i];
    };
    const defined = (r: number, field: string): void => {
      if (!roles.has(r)) throw updateError(field, `role ${r} is not defined in this room`);
    };
    update.changedRoleParticipants.forEach((c, i) => {
      const field = `changedRoleParticipants[${i}]`;
      const p = at(c.userIndex, field);
      touch(p.user, field);
      defined(c.roleIndex, field);
      if (p.roleIndex === c.roleIndex) throw updateError(field, `${p.user} already has role ${c.roleIndex}`);
    });
    update.removedIndices.forEach((idx, i) => touch(at(idx, `removedIndices[${i}]`).user, `removedIndices[${i}]`));
    update.addedParticipants.forEach((p, i) => {
      const field = `addedParticipants[${i}]`;
      touch(p.user, field);
      defined(p.roleIndex, field);
      const existing = list.find((q) => q.user === p.user);
      if (existing) throw updateError(field, `${p.user} is already in the participant list (role ${existing.roleIndex})`);
    });
    const next = list.map((p) => ({ ...p }));
    for (const c of update.changedRoleParticipants) next[c.userIndex].roleIndex = c.roleIndex;
    const removed = new Set(update.removedIndices);
    list = [...next.filter((_, i) => !removed.has(i)), ...update.addedParticipants.map((p) => ({ user: p.user, roleIndex: p.roleIndex }))];
  }
  return { ...state, participants: list };
}

/**
 * The single ParticipantListUpdate that turns `before` into `after`. Survivors keep their order and
 * additions come last, as applying an update leaves them; any other `after` throws RoomStateError.
 */
export function diffParticipantList(before: readonly UserRolePair[], after: readonly UserRolePair[]): ParticipantListUpdate {
  const index = new Map(before.map((p, i) => [p.user, i] as const));
  const update: ParticipantListUpdate = { changedRoleParticipants: [], removedIndices: [], addedParticipants: [] };
  const kept = new Set<number>();
  let last = -1;
  let adding = false;
  after.forEach((p, i) => {
    const j = index.get(p.user);
    if (j === undefined) {
      adding = true;
      update.addedParticipants.push({ user: p.user, roleIndex: p.roleIndex });
      return;
    }
    if (adding) throw new RoomStateError('ParticipantListData', `participants[${i}]`, `${p.user} was in the list but follows an added user`);
    if (j <= last) throw new RoomStateError('ParticipantListData', `participants[${i}]`, `${p.user} moved; participants keep their order`);
    last = j;
    kept.add(j);
    if (before[j].roleIndex !== p.roleIndex) update.changedRoleParticipants.push({ userIndex: j, roleIndex: p.roleIndex });
  });
  before.forEach((_, j) => {
    if (!kept.has(j)) update.removedIndices.push(j);
  });
  return update;
}

export function isEmptyParticipantListUpdate(u: ParticipantListUpdate): boolean {
  return u.changedRoleParticipants.length === 0 && u.removedIndices.length === 0 && u.addedParticipants.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Authorizing changes

/**
 * Authorizes each action of a valid update separately ("Each of these actions ... is authorized
 * separately"), in the order they apply, each against the list as the previous ones left it.
 * A change to role 1 is a ban (canBan, else canChangeUserRole); a change from role 1 an unban
 * (canUnBan, else canChangeUserRole); the actor adding itself is an open join.
 * Throws RoomStateError when the update is invalid; returns the first denial.
 */
export function checkParticipantListUpdate(
  state: RoomState,
  actorUser: string,
  update: ParticipantListUpdate,
  context: CheckContext = {},
): CheckResult {
  validateRoomState(state);
  return authorizeUpdate(state, actorUser, update, context);
}

/** checkParticipantListUpdate on a state already validated. */
function authorizeUpdate(state: RoomState, actorUser: string, update: ParticipantListUpdate, context: CheckContext): CheckResult {
  applyToValid(state, [update]); // throws when the update is invalid
  const roles = new Map(state.policy.roles.map((r) => [r.roleIndex, r] as const));
  let list: UserRolePair[] = state.participants.map((p) => ({ ...p }));
  const active = new Set(
    context.activeUsers ?? list.filter((p) => roles.get(p.roleIndex)?.maximumActiveParticipantsConstraint !== 0).map((p) => p.user),
  );
  const original = state.participants;
  const step = (attempts: RoomChange[], apply: () => void): CheckResult => {
    let first: CheckResult | undefined;
    for (const change of attempts) {
      const result = checkChange(state.policy, list, actorUser, change, { activeUsers: active, admitted: context.admitted, actorRole: context.actorRole });
      if (result.ok) {
        apply();
        return result;
      }
      first ??= result;
    }
    return first!;
  };
  const setRole = (user: string, roleIndex: number): void => {
    list = list.map((p) => (p.user === user ? { user, roleIndex } : p));
  };
  for (const c of update.changedRoleParticipants) {
    const { user, roleIndex: from } = original[c.userIndex];
    const to = c.roleIndex;
    const attempts: RoomChange[] =
      to === BANNED_ROLE_INDEX
        ? [{ kind: 'ban', user }, { kind: 'changeRole', user, role: to }]
        : from === BANNED_ROLE_INDEX
          ? [{ kind: 'unban', user, role: to }, { kind: 'changeRole', user, role: to }]
          : [{ kind: 'changeRole', user, role: to }];
    const result = step(attempts, () => {
      setRole(user, to);
      if (to === BANNED_ROLE_INDEX) active.delete(user);
    });
    if (!result.ok) return result;
  }
  for (const idx of update.removedIndices) {
    const { user } = original[idx];
    const result = step([{ kind: 'removeParticipant', user }], () => {
      list = list.filter((p) => p.user !== user);
      active.delete(user);
    });
    if (!result.ok) return result;
  }
  for (const p of update.addedParticipants) {
    const attempts: RoomChange[] =
      p.roleIndex === BANNED_ROLE_INDEX
        ? [{ kind: 'ban', user: p.user }]
        : p.user === actorUser
          ? context.admitted?.get(p.user) === p.roleIndex
            ? [{ kind: 'join', via: 'joinCode', role: p.roleIndex }]
            : [{ kind: 'join', via: 'openJoin', role: p.roleIndex }]
          : [{ kind: 'addParticipant', user: p.user, role: p.roleIndex }];
    const result = step(attempts, () => {
      list = [...list, { user: p.user, roleIndex: p.roleIndex }];
      if (p.roleIndex !== BANNED_ROLE_INDEX) active.add(p.user);
    });
    if (!result.ok) return result;
  }
  return { ok: true };
}

/** The RoomMetaData fields that differ. The room URI is the room's identity and cannot change. */
export function metadataChanges(before: RoomMetaData, after: RoomMetaData): MetadataField[] {
  if (before.roomUri !== after.roomUri) throw new RoomStateError('RoomMetaData', 'room_uri', 'the room URI cannot change');
  const descriptions = (m: RoomMetaData): string =>
    m.roomDescriptions.map((d) => `${d.mediaType}\u0000${d.languageTag}\u0000${Array.from(d.descriptionContent).join(',')}`).join('\u0001');
  const differs: Record<MetadataField, boolean> = {
    roomName: before.roomName !== after.roomName,
    roomDescriptions: descriptions(before) !== descriptions(after),
    roomAvatar: before.roomAvatar !== after.roomAvatar,
    roomSubject: before.roomSubject !== after.roomSubject,
    roomMood: before.roomMood !== after.roomMood,
  };
  return (Object.keys(METADATA_CAPABILITY) as MetadataField[]).filter((f) => differs[f]);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Is replacing `before` by `after` (one GroupContextExtensions proposal in a commit by `actorUser`)
 * valid and authorized under `before`'s policy? Throws RoomStateError when it is invalid whatever
 * the roles (room URI changed, list reordered, roles_list changed together with the participant
 * list); returns the first denial otherwise.
 */
export function checkRoomStateChange(before: RoomState, after: RoomState, actorUser: string, context: CheckContext = {}): CheckResult {
  validateRoomState(before);
  validateRoomState(after);
  return checkValidRoomStateChange(before, after, actorUser, context);
}

function statusPolicyChanged(before: RoomState, after: RoomState): boolean {
  const a = before.statusNotificationPolicy;
  const b = after.statusNotificationPolicy;
  return (a === undefined) !== (b === undefined) || (a !== undefined && b !== undefined && (a.delivery !== b.delivery || a.read !== b.read));
}

/**
 * May `actorUser` change the status_notification_policy? The draft names no capability for it; its
 * reserved canChangeOtherPolicyAttribute is the one for "other" policy components, and no example
 * role holds it. canChangeRoleDefinitions counts too: its holder could give itself the other one in
 * the commit before, so accepting it grants nothing new (docs/receipts-and-typing.md).
 */
export function checkStatusPolicyChange(state: RoomState, actorUser: string, context: CheckContext = {}): CheckResult {
  const other = checkChange(state.policy, state.participants, actorUser, { kind: 'use', capability: 'canChangeOtherPolicyAttribute' }, context);
  if (other.ok) return other;
  const roles = checkChange(state.policy, state.participants, actorUser, { kind: 'use', capability: 'canChangeRoleDefinitions' }, context);
  if (roles.ok) return roles;
  return { ok: false, denied: 'canChangeOtherPolicyAttribute', reason: `${other.reason.replace(/ does not have .*$/, '')} has neither canChangeOtherPolicyAttribute nor canChangeRoleDefinitions, which changing the receipt policy needs` };
}

/** checkRoomStateChange for two states the caller has already validated (validateRoomState). */
export function checkValidRoomStateChange(before: RoomState, after: RoomState, actorUser: string, context: CheckContext = {}): CheckResult {
  const fields = metadataChanges(before.metadata, after.metadata);
  const update = diffParticipantList(before.participants, after.participants);
  const policyChanged = !bytesEqual(encodeRoleData(before.policy), encodeRoleData(after.policy));
  if (policyChanged && !isEmptyParticipantListUpdate(update)) {
    // "an update to this component is not valid if it appear in the same commit as any Participant List change"
    throw new RoomStateError('RoleData', 'roles', 'roles_list cannot change in the same commit as the participant list');
  }
  if (policyChanged) {
    const r = checkChange(before.policy, before.participants, actorUser, { kind: 'use', capability: 'canChangeRoleDefinitions' }, context);
    if (!r.ok) return r;
  }
  if (fields.length > 0) {
    const r = checkChange(before.policy, before.participants, actorUser, { kind: 'changeMetadata', fields }, context);
    if (!r.ok) return r;
  }
  if (statusPolicyChanged(before, after)) {
    // The hub acts only to moderate (room-commit.ts): it has no say in what members tell each other.
    if (context.actorRole !== undefined) throw new RoomStateError('StatusNotificationPolicy', '(value)', "the hub's proposal may not change the status notification policy");
    const r = checkStatusPolicyChange(before, actorUser, context);
    if (!r.ok) return r;
  }
  return isEmptyParticipantListUpdate(update) ? { ok: true } : authorizeUpdate(before, actorUser, update, context);
}
