// What the room settings screen derives from a RoomSettingsView: who goes in which group, which
// roles a member can be moved to, which metadata fields really changed, and when a room's settings
// are stale. Kept free of Vue so it is unit tested on its own.

import type { RoomMemberView, RoomMetadataArgs, RoomRoleView, RoomSettingsView, RoomView } from '../../../src-shared/contract.js';
import { formatNumber, t } from '../i18n.js';

/** role_index 1 is "banned" in every policy (room-policy.ts): the draft reserves it. */
export const BANNED_ROLE = 1;

export const METADATA_FIELDS = ['name', 'description', 'avatar', 'subject'] as const;
export type MetadataField = (typeof METADATA_FIELDS)[number];
export type Metadata = RoomSettingsView['metadata'];

export interface MemberGroups {
  /** On the participant list and not banned; the viewer first, then by label. */
  members: RoomMemberView[];
  banned: RoomMemberView[];
}

export function groupMembers(view: RoomSettingsView, selfUri: string, label: (user: string) => string): MemberGroups {
  const order = (a: RoomMemberView, b: RoomMemberView) => Number(b.user === selfUri) - Number(a.user === selfUri) || label(a.user).localeCompare(label(b.user));
  const all = [...view.participants].sort(order);
  return { members: all.filter((m) => m.roleIndex !== BANNED_ROLE), banned: all.filter((m) => m.roleIndex === BANNED_ROLE) };
}

export function roleName(roles: readonly RoomRoleView[], roleIndex: number): string {
  return roles.find((r) => r.roleIndex === roleIndex)?.roleName ?? t('rooms.roles.numbered', { index: roleIndex });
}

export interface RoleOption {
  roleIndex: number;
  roleName: string;
}

/**
 * The roles a member may be moved to, as the core allows them. Roles 0 and 1 are left out: leaving
 * the list and banning are their own actions (remove, ban), and setRole refuses them.
 */
export function roleTargets(view: RoomSettingsView, member: RoomMemberView): RoleOption[] {
  return member.can.roles
    .filter((i) => i > BANNED_ROLE && i !== member.roleIndex)
    .map((i) => ({ roleIndex: i, roleName: roleName(view.roles, i) }));
}

export interface MemberActions {
  /** Take their clients out of the group; they stay on the participant list and may rejoin. */
  kick: boolean;
  /** Take them off the participant list, clients and all (canRemoveParticipant). */
  remove: boolean;
  ban: boolean;
  unban: boolean;
  roles: RoleOption[];
  /** Report them to the room's hub (canReportAbuse); never offered on yourself. */
  report: boolean;
  any: boolean;
}

/**
 * What the row offers: only what the core's `can` allows. Kicking a member with no clients in the
 * room (already kicked) would remove nothing, so it is not offered even where allowed; removing
 * still takes them off the list, so it is. Reporting depends on the viewer's role only
 * (`view.canReportAbuse`), so it is offered on everyone else, banned users included.
 */
export function memberActions(view: RoomSettingsView, member: RoomMemberView, isSelf: boolean): MemberActions {
  const kick = member.can.kick && member.active;
  const { remove, ban, unban } = member.can;
  const roles = roleTargets(view, member);
  const report = view.canReportAbuse && !isSelf;
  return { kick, remove, ban, unban, roles, report, any: kick || remove || ban || unban || report || roles.length > 0 };
}

/** The API takes a note of up to 2000 characters; the core sends at most 4 KiB of it (UTF-8). */
export const REPORT_NOTE_MAX = 2000;
const REPORT_NOTE_MAX_BYTES = 4096;

/**
 * Checks the bridge or the core would refuse anyway, said before the round trip; undefined when
 * the note can be sent. The note itself is sent as typed (an empty one too).
 */
export function reportNoteProblem(note: string): string | undefined {
  if (note.length > REPORT_NOTE_MAX) return t('rooms.settings.problems.noteTooLong', { max: formatNumber(REPORT_NOTE_MAX) });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(note)) return t('rooms.settings.problems.noteControl');
  if (new TextEncoder().encode(note).length > REPORT_NOTE_MAX_BYTES) return t('rooms.settings.problems.noteTooManyBytes');
  return undefined;
}

/** Single-line fields are compared and sent trimmed; a description keeps its own whitespace. */
const clean = (field: MetadataField, v: string): string => (field === 'description' ? v : v.trim());

/**
 * The fields to send: only those the user edited, may edit, and that differ from the room's
 * current value. Sending an unchanged field would make a commit that changes nothing, and
 * sending one the role may not change is refused as a whole.
 */
export function metadataChanges(current: Metadata, draft: Partial<Metadata>, canEdit: RoomSettingsView['canEdit']): RoomMetadataArgs {
  const out: RoomMetadataArgs = {};
  for (const f of METADATA_FIELDS) {
    const d = draft[f];
    if (d === undefined || !canEdit[f]) continue;
    const v = clean(f, d);
    if (v !== current[f]) out[f] = v;
  }
  return out;
}

/** Checks the core would refuse anyway, said before the round trip; undefined when fine. */
export function metadataProblem(changes: RoomMetadataArgs): string | undefined {
  if (changes.name !== undefined && changes.name.length > 100) return t('rooms.settings.problems.nameTooLong', { max: formatNumber(100) });
  if (changes.subject !== undefined && changes.subject.length > 200) return t('rooms.settings.problems.subjectTooLong', { max: formatNumber(200) });
  if (changes.description !== undefined && changes.description.length > 2000) return t('rooms.settings.problems.descriptionTooLong', { max: formatNumber(2000) });
  if (changes.avatar) {
    let ok = false;
    try {
      ok = new URL(changes.avatar).protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) return t('rooms.settings.problems.avatarNotHttps');
  }
  return undefined;
}

/**
 * What in a RoomView moves when the room state may have changed: it changes only with a commit,
 * which moves the epoch (and usually the member list). Other room list updates (unread counts,
 * previews) leave this alone, so they do not reload the settings.
 */
export function roomStamp(room: RoomView): string {
  return `${room.epoch}|${[...room.members].sort().join(' ')}`;
}
