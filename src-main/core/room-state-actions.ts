// The room state every member agrees on, as this account sees and changes it: the settings view,
// the state document, metadata, roles, kick, remove, ban, unban, and reporting abuse to the hub.
// Each change is one commit built on the state of the epoch it lands in (RoomCommits).

import { checkRoomMetadataArgs, type RoomMetadataArgs, type RoomSettingsView } from '../../src-shared/contract.js';
import { toB64, utf8 } from '../../src-shared/bytes.js';
import { displayUser, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { denialText } from '../../src-shared/room-commit.js';
import { checkStatusPolicyChange, roleOf, statusPolicyOf, type RoomState } from '../../src-shared/room-state.js';
import type { ReceiptPolicyView } from '../../src-shared/contract.js';
import { actionParams, coreError, type Phrase, toCoreError } from './errors.js';
import { BANNED_ROLE_INDEX, checkChange } from '../../src-shared/room-policy.js';
import type { GroupSession } from '../mls/engine.js';
import type { MessageRow } from '../db/profile-db.js';
import { messageText } from './message-view.js';
import type { ProfileContext } from './context.js';
import { activeUsers, deviceKeyCheck, devicesOf, memberIdentities, myUser, roomStateOf } from './group-sessions.js';
import type { RoomCommits } from './room-commits.js';
import { addedRole, resolveRole, roomSettingsView, roomStateDocument, withMetadata, withoutParticipants, withParticipant, withRole, type RoomStateDocument } from './room-view.js';
import { userArg } from './user-args.js';

export class RoomStateActions {
  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
  ) {}

  private userArg(user: string): string {
    return userArg(this.ctx.config.domain, user);
  }

  private managedState(roomUri: string): { s: GroupSession; state: RoomState } {
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    if (room.left) throw coreError('notMember', 'errors.room.notMember');
    const s = this.ctx.sessions.get(roomUri);
    const state = roomStateOf(s);
    if (!state) throw coreError('invalidArgument', 'errors.room.noStateRoles');
    return { s, state };
  }

  /** Participants with roles, metadata, and what this account may do. */
  roomSettings(roomUri: string): RoomSettingsView {
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    const s = this.ctx.sessions.get(roomUri);
    const view = roomSettingsView(roomUri, room.left ? undefined : roomStateOf(s), this.me(roomUri), room.left ? new Set() : activeUsers(s), room.left ? new Map() : memberIdentities(s, this.ctx.config.userUri, deviceKeyCheck(this.ctx.db, this.ctx.keys)));
    // The knock room this device made for the room (knocks.ts keeps it).
    const knock = this.ctx.db.getMeta(`knockRoom:${roomUri}`);
    const withKnock = knock ? { ...view, knockLink: (JSON.parse(knock) as { link: string }).link } : view;
    const state = room.left ? undefined : roomStateOf(s);
    if (!state) return withKnock;
    return { ...withKnock, receiptPolicy: { ...statusPolicyOf(state), canEdit: checkStatusPolicyChange(state, this.me(roomUri)).ok } };
  }

  /** The room state as JSON (for `mimi room-state`), with the encoded components. */
  roomStateDocument(roomUri: string): RoomStateDocument {
    if (!this.ctx.db.getRoom(roomUri)) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    const s = this.ctx.sessions.get(roomUri);
    return roomStateDocument(roomUri, roomStateOf(s), activeUsers(s), memberIdentities(s, this.ctx.config.userUri, deviceKeyCheck(this.ctx.db, this.ctx.keys)));
  }

  async setRoomMetadata(roomUri: string, args: RoomMetadataArgs): Promise<RoomSettingsView> {
    checkRoomMetadataArgs(args);
    this.managedState(roomUri);
    return this.changeRoom(roomUri, { key: 'errors.action.changeDetails' }, (state) => ({ state: withMetadata(state, args) }));
  }

  /**
   * The room's status_notification_policy (draft-ietf-mimi-room-policy, 0x0028): a room state
   * change like metadata, which every member and the hub check (room-state.ts checkStatusPolicyChange).
   */
  async setReceiptPolicy(roomUri: string, policy: ReceiptPolicyView): Promise<RoomSettingsView> {
    const allowed = ['optional', 'required', 'forbidden'];
    if (typeof policy !== 'object' || policy === null || !allowed.includes(policy.delivery) || !allowed.includes(policy.read)) {
      throw coreError('invalidArgument', 'receipts.errors.badPolicy');
    }
    const { state } = this.managedState(roomUri);
    const may = checkStatusPolicyChange(state, this.me(roomUri));
    if (!may.ok) throw coreError('notAllowed', 'receipts.errors.policyNotAllowed', { reason: denialText(may) });
    const next = { delivery: policy.delivery, read: policy.read };
    const now = statusPolicyOf(state);
    if (state.statusNotificationPolicy && now.delivery === next.delivery && now.read === next.read) return this.roomSettings(roomUri);
    return this.changeRoom(roomUri, { key: 'errors.action.changeReceiptPolicy' }, (st) => ({ state: { ...st, statusNotificationPolicy: next } }));
  }

  /** Move `user` to another role (index or name). */
  async setRole(roomUri: string, user: string, role: number | string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    const roleIndex = resolveRole(state, role);
    if (roleIndex === undefined) {
      throw coreError('invalidArgument', 'errors.member.noSuchRole', { role, roles: state.policy.roles.map((r) => `${r.roleIndex} ${r.roleName}`).join(', ') });
    }
    if (roleIndex === BANNED_ROLE_INDEX) return this.ban(roomUri, user);
    if (!roleOf(state, userUri)) throw coreError('invalidArgument', 'errors.member.notParticipant', { user: displayUser(userUri) });
    return this.changeRoom(roomUri, { key: 'errors.action.changeRole', params: { user: displayUser(userUri) } }, (st) => ({ state: withRole(st, userUri, roleIndex) }));
  }

  /** Remove a participant's clients; they stay on the list (and may come back). */
  async kick(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { s } = this.managedState(roomUri);
    if (!activeUsers(s).has(userUri)) throw coreError('invalidArgument', 'errors.member.noClients', { user: displayUser(userUri) });
    return this.changeRoom(roomUri, { key: 'errors.action.kick', params: { user: displayUser(userUri) } }, (st, sess) => ({ state: st, remove: devicesOf(sess, userUri) }));
  }

  /** Take `user` off the participant list, and their clients out of the group, in one commit. */
  async removeMember(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    if (!roleOf(state, userUri)) throw coreError('invalidArgument', 'errors.member.notParticipant', { user: displayUser(userUri) });
    if (userUri === this.me(roomUri)) throw coreError('invalidArgument', 'errors.member.removeSelf');
    return this.changeRoom(roomUri, { key: 'errors.action.remove', params: { user: displayUser(userUri) } }, (st, sess) => ({
      state: withoutParticipants(st, new Set([userUri])),
      remove: devicesOf(sess, userUri),
    }));
  }

  /** Move `user` to role 1 (banned) and remove their clients in the same commit. */
  async ban(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    this.managedState(roomUri);
    return this.changeRoom(roomUri, { key: 'errors.action.ban', params: { user: displayUser(userUri) } }, (st, sess) => ({
      state: roleOf(st, userUri) ? withRole(st, userUri, BANNED_ROLE_INDEX) : withParticipant(st, userUri, BANNED_ROLE_INDEX),
      remove: devicesOf(sess, userUri),
    }));
  }

  /**
   * Report `user` to the room's hub (draft-ietf-mimi-protocol-06 "Report abuse"): the hub keeps it
   * for its operator. Our role must have canReportAbuse; the hub checks that too.
   */
  async reportAbuse(roomUri: string, user: string, note: string): Promise<void> {
    const userUri = this.userArg(user);
    if (userUri === this.ctx.config.userUri || (this.ctx.db.getRoom(roomUri) && userUri === this.me(roomUri))) throw coreError('invalidArgument', 'errors.report.self');
    if (utf8(note).length > 4096) throw coreError('invalidArgument', 'errors.report.noteTooLong');
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    const state = roomStateOf(this.ctx.sessions.get(roomUri));
    if (state) {
      const may = checkChange(state.policy, state.participants, this.me(roomUri), { kind: 'use', capability: 'canReportAbuse' });
      if (!may.ok) throw coreError('notAllowed', 'errors.cannot.denied', { ...actionParams({ key: 'errors.action.report', params: { user: displayUser(userUri) } }), denial: denialText(may) });
    }
    try {
      await this.ctx.client.reportAbuse(roomUri, { user: userUri, note });
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.report', params: { user: displayUser(userUri) } });
    }
  }

  /**
   * Report messages of one sender to the room's hub with the hub's own franks of them (an
   * AbuseReport with AbusiveMessages, draft-ietf-mimi-protocol-06): the hub checks each against its
   * frank, so the report proves what was said, by whom, where and when.
   */
  async reportMessages(roomUri: string, messageIds: string[], reason: number, note: string): Promise<void> {
    if (messageIds.length === 0 || messageIds.length > 16) throw coreError('invalidArgument', 'errors.report.messageCount');
    if (utf8(note).length > 4096) throw coreError('invalidArgument', 'errors.report.noteTooLong');
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    const rows = messageIds.map((id) => {
      const m = this.ctx.db.messageById(roomUri, id);
      if (!m) throw coreError('invalidArgument', 'errors.report.noSuchMessage', { id: id.slice(0, 12) });
      return m;
    });
    const senders = new Set(rows.map((m) => m.sender));
    if (senders.size !== 1) throw coreError('invalidArgument', 'errors.report.oneSender');
    const [sender] = senders;
    if (rows.some((m) => m.status !== 'received')) throw coreError('invalidArgument', 'errors.report.ownMessages');
    const unstamped = rows.find((m) => !m.frank);
    if (unstamped) {
      throw coreError('notAllowed', 'errors.report.unstamped', { quote: quote(unstamped) });
    }
    const state = roomStateOf(this.ctx.sessions.get(roomUri));
    const me = this.me(roomUri);
    if (state) {
      const may = checkChange(state.policy, state.participants, me, { kind: 'use', capability: 'canReportAbuse' });
      if (!may.ok) throw coreError('notAllowed', 'errors.cannot.denied', { ...actionParams({ key: 'errors.action.report', params: { user: displayUser(sender) } }), denial: denialText(may) });
    }
    const asPseudonym = parseMimiUriAs('pseudonym', me) ? me : undefined;
    try {
      await this.ctx.client.reportAbuse(roomUri, {
        user: sender,
        note,
        reasonCode: reason,
        ...(asPseudonym ? { asPseudonym } : {}),
        messages: rows.map((m) => ({ content: toB64(m.content), frank: toB64(m.frank!), acceptedTimestamp: m.timestamp })),
      });
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.report', params: { user: displayUser(sender) } });
    }
  }

  /** Lift a ban: the user gets the role an added user gets, without clients; add them to bring them back. */
  async unban(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    if (roleOf(state, userUri) !== BANNED_ROLE_INDEX) throw coreError('invalidArgument', 'errors.member.notBanned', { user: displayUser(userUri) });
    return this.changeRoom(roomUri, { key: 'errors.action.unban', params: { user: displayUser(userUri) } }, (st) => ({ state: withRole(st, userUri, addedRole(st, this.me(roomUri))) }));
  }

  /** This account as the room knows it: its user, or its pseudonym in a room with pseudonyms. */
  private me(roomUri: string): string {
    return myUser(this.ctx.sessions.get(roomUri), this.ctx.config.userUri);
  }

  /** One commit changing the room state (and removing clients), rebuilt on the state of each attempt. */
  private async changeRoom(roomUri: string, action: Phrase, plan: (state: RoomState, s: GroupSession) => { state: RoomState; remove?: string[] }): Promise<RoomSettingsView> {
    await this.commits.commitWithRetry(
      roomUri,
      async (s) => {
        const state = roomStateOf(s);
        if (!state) throw coreError('invalidArgument', 'errors.room.noState');
        const p = plan(state, s);
        return this.commits.commitRoomChange(s, p.state, p.remove ?? [], [], [], action);
      },
      {},
      { key: 'errors.what.roomAction', params: actionParams(action) },
    );
    this.ctx.emit('rooms');
    return this.roomSettings(roomUri);
  }
}

/** A short quote of a message for an error text. */
function quote(m: MessageRow): string {
  const t = messageText(m);
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
}
