// The room state every member agrees on, as this account sees and changes it: the settings view,
// the state document, metadata, roles, kick, remove, ban, unban, and reporting abuse to the hub.
// Each change is one commit built on the state of the epoch it lands in (RoomCommits).

import { CoreError, checkRoomMetadataArgs, type RoomMetadataArgs, type RoomSettingsView } from '../../src-shared/contract.js';
import { toB64, utf8 } from '../../src-shared/bytes.js';
import { displayUser, parseMimiUriAs } from '../../src-shared/identifiers.js';
import { denialText } from '../../src-shared/room-commit.js';
import { roleOf, type RoomState } from '../../src-shared/room-state.js';
import { BANNED_ROLE_INDEX, checkChange } from '../../src-shared/room-policy.js';
import type { GroupSession } from '../mls/engine.js';
import type { MessageRow } from '../db/profile-db.js';
import { messageText } from './message-view.js';
import type { ProfileContext } from './context.js';
import { toCoreError } from './errors.js';
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
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    if (room.left) throw new CoreError('notMember', 'You are no longer a member of this room.');
    const s = this.ctx.sessions.get(roomUri);
    const state = roomStateOf(s);
    if (!state) throw new CoreError('invalidArgument', 'This room has no room state (an older client created it): it has no roles to change.');
    return { s, state };
  }

  /** Participants with roles, metadata, and what this account may do. */
  roomSettings(roomUri: string): RoomSettingsView {
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const s = this.ctx.sessions.get(roomUri);
    const view = roomSettingsView(roomUri, room.left ? undefined : roomStateOf(s), this.me(roomUri), room.left ? new Set() : activeUsers(s), room.left ? new Map() : memberIdentities(s, this.ctx.config.userUri, deviceKeyCheck(this.ctx.db, this.ctx.keys)));
    // The knock room this device made for the room (knocks.ts keeps it).
    const knock = this.ctx.db.getMeta(`knockRoom:${roomUri}`);
    return knock ? { ...view, knockLink: (JSON.parse(knock) as { link: string }).link } : view;
  }

  /** The room state as JSON (for `mimi room-state`), with the encoded components. */
  roomStateDocument(roomUri: string): RoomStateDocument {
    if (!this.ctx.db.getRoom(roomUri)) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const s = this.ctx.sessions.get(roomUri);
    return roomStateDocument(roomUri, roomStateOf(s), activeUsers(s), memberIdentities(s, this.ctx.config.userUri, deviceKeyCheck(this.ctx.db, this.ctx.keys)));
  }

  async setRoomMetadata(roomUri: string, args: RoomMetadataArgs): Promise<RoomSettingsView> {
    checkRoomMetadataArgs(args);
    this.managedState(roomUri);
    return this.changeRoom(roomUri, 'change the room details', (state) => ({ state: withMetadata(state, args) }));
  }

  /** Move `user` to another role (index or name). */
  async setRole(roomUri: string, user: string, role: number | string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    const roleIndex = resolveRole(state, role);
    if (roleIndex === undefined) {
      throw new CoreError('invalidArgument', `This room has no role "${role}"; its roles are ${state.policy.roles.map((r) => `${r.roleIndex} ${r.roleName}`).join(', ')}.`);
    }
    if (roleIndex === BANNED_ROLE_INDEX) return this.ban(roomUri, user);
    if (!roleOf(state, userUri)) throw new CoreError('invalidArgument', `${displayUser(userUri)} is not a participant of this room.`);
    return this.changeRoom(roomUri, `change the role of ${displayUser(userUri)}`, (st) => ({ state: withRole(st, userUri, roleIndex) }));
  }

  /** Remove a participant's clients; they stay on the list (and may come back). */
  async kick(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { s } = this.managedState(roomUri);
    if (!activeUsers(s).has(userUri)) throw new CoreError('invalidArgument', `${displayUser(userUri)} has no clients in this room.`);
    return this.changeRoom(roomUri, `kick ${displayUser(userUri)}`, (st, sess) => ({ state: st, remove: devicesOf(sess, userUri) }));
  }

  /** Take `user` off the participant list, and their clients out of the group, in one commit. */
  async removeMember(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    if (!roleOf(state, userUri)) throw new CoreError('invalidArgument', `${displayUser(userUri)} is not a participant of this room.`);
    if (userUri === this.me(roomUri)) throw new CoreError('invalidArgument', 'To remove yourself, leave the room.');
    return this.changeRoom(roomUri, `remove ${displayUser(userUri)}`, (st, sess) => ({
      state: withoutParticipants(st, new Set([userUri])),
      remove: devicesOf(sess, userUri),
    }));
  }

  /** Move `user` to role 1 (banned) and remove their clients in the same commit. */
  async ban(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    this.managedState(roomUri);
    return this.changeRoom(roomUri, `ban ${displayUser(userUri)}`, (st, sess) => ({
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
    if (userUri === this.ctx.config.userUri || (this.ctx.db.getRoom(roomUri) && userUri === this.me(roomUri))) throw new CoreError('invalidArgument', 'You cannot report yourself.');
    if (utf8(note).length > 4096) throw new CoreError('invalidArgument', 'The note is too long (at most 4 KiB).');
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const state = roomStateOf(this.ctx.sessions.get(roomUri));
    if (state) {
      const may = checkChange(state.policy, state.participants, this.me(roomUri), { kind: 'use', capability: 'canReportAbuse' });
      if (!may.ok) throw new CoreError('notAllowed', `Cannot report ${displayUser(userUri)}: your ${denialText(may)}.`);
    }
    try {
      await this.ctx.client.reportAbuse(roomUri, { user: userUri, note });
    } catch (e) {
      throw toCoreError(e, `Could not report ${displayUser(userUri)}`);
    }
  }

  /**
   * Report messages of one sender to the room's hub with the hub's own franks of them (an
   * AbuseReport with AbusiveMessages, draft-ietf-mimi-protocol-06): the hub checks each against its
   * frank, so the report proves what was said, by whom, where and when.
   */
  async reportMessages(roomUri: string, messageIds: string[], reason: number, note: string): Promise<void> {
    if (messageIds.length === 0 || messageIds.length > 16) throw new CoreError('invalidArgument', 'Report 1 to 16 messages at a time.');
    if (utf8(note).length > 4096) throw new CoreError('invalidArgument', 'The note is too long (at most 4 KiB).');
    const room = this.ctx.db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    const rows = messageIds.map((id) => {
      const m = this.ctx.db.messageById(roomUri, id);
      if (!m) throw new CoreError('invalidArgument', `There is no message ${id.slice(0, 12)}… in this room.`);
      return m;
    });
    const senders = new Set(rows.map((m) => m.sender));
    if (senders.size !== 1) throw new CoreError('invalidArgument', 'A report is about one person: choose messages of one sender.');
    const [sender] = senders;
    if (rows.some((m) => m.status !== 'received')) throw new CoreError('invalidArgument', 'You cannot report your own messages.');
    const unstamped = rows.find((m) => !m.frank);
    if (unstamped) {
      throw new CoreError('notAllowed', `The message “${quote(unstamped)}” carries no stamp from the room's provider (the room was made before messages were franked), so it cannot prove anything. Report the person from the room settings instead.`);
    }
    const state = roomStateOf(this.ctx.sessions.get(roomUri));
    const me = this.me(roomUri);
    if (state) {
      const may = checkChange(state.policy, state.participants, me, { kind: 'use', capability: 'canReportAbuse' });
      if (!may.ok) throw new CoreError('notAllowed', `Cannot report ${displayUser(sender)}: your ${denialText(may)}.`);
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
      throw toCoreError(e, `Could not report ${displayUser(sender)}`);
    }
  }

  /** Lift a ban: the user gets the role an added user gets, without clients; add them to bring them back. */
  async unban(roomUri: string, user: string): Promise<RoomSettingsView> {
    const userUri = this.userArg(user);
    const { state } = this.managedState(roomUri);
    if (roleOf(state, userUri) !== BANNED_ROLE_INDEX) throw new CoreError('invalidArgument', `${displayUser(userUri)} is not banned from this room.`);
    return this.changeRoom(roomUri, `unban ${displayUser(userUri)}`, (st) => ({ state: withRole(st, userUri, addedRole(st, this.me(roomUri))) }));
  }

  /** This account as the room knows it: its user, or its pseudonym in a room with pseudonyms. */
  private me(roomUri: string): string {
    return myUser(this.ctx.sessions.get(roomUri), this.ctx.config.userUri);
  }

  /** One commit changing the room state (and removing clients), rebuilt on the state of each attempt. */
  private async changeRoom(roomUri: string, what: string, plan: (state: RoomState, s: GroupSession) => { state: RoomState; remove?: string[] }): Promise<RoomSettingsView> {
    await this.commits.commitWithRetry(
      roomUri,
      async (s) => {
        const state = roomStateOf(s);
        if (!state) throw new CoreError('invalidArgument', 'This room has no room state.');
        const p = plan(state, s);
        return this.commits.commitRoomChange(s, p.state, p.remove ?? [], [], [], what);
      },
      {},
      `Could not ${what}`,
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
