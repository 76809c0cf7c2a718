// What the UI and the CLI read about rooms: the room list and one room's view, pages of
// messages, unread counts, and a room given by URI or by name.

import type { MessageView, RoomView } from '../../src-shared/contract.js';
import { displayUser } from '../../src-shared/identifiers.js';
import type { ProfileContext } from './context.js';
import { activeUsers, myUser, roomStateOf } from './group-sessions.js';
import { previewText, toViews, viewSource } from './message-view.js';
import { DIRECT_META, directPeerOf, roomDisplayName } from './room-view.js';
import { coreError } from './errors.js';

/** Meta key prefix of rooms this device only passed through (a knock room it knocked in). */
export const PASSED_THROUGH = 'passedThrough:';

export class RoomReads {
  constructor(private readonly ctx: ProfileContext) {}

  roomView(roomUri: string): RoomView {
    const { db, sessions, config } = this.ctx;
    const room = db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknownRemoved', { room: roomUri });
    // Restored from a backup, not joined yet (backup.ts): no group state, only the history.
    if (db.isHistoryOnly(roomUri)) {
      const newest = db.pageMessages(roomUri, null, 1)[0];
      return { roomUri, name: room.name, hubDomain: room.hubDomain, members: [], unread: room.unread, epoch: '0', lastMessage: newest ? { sender: newest.sender, text: previewText(this.ctx, newest), timestamp: newest.timestamp } : undefined };
    }
    const session = sessions.get(roomUri);
    const members = room.left ? [] : [...activeUsers(session)];
    const last = db.pageMessages(roomUri, null, 1)[0];
    const me = myUser(session, config.userUri);
    const others = members.filter((m) => m !== me);
    // The shared name (room metadata) wins over the name this device gave the room.
    // A room this device left keeps its last group state, so the name stays the one it last saw.
    let shared: string | undefined;
    let direct: string | undefined;
    try {
      const state = roomStateOf(sessions.get(roomUri));
      shared = state?.metadata.roomName;
      // A direct chat is named after the other person (room-view.ts directPeerOf).
      direct = directPeerOf(state, me, db.getMeta(`${DIRECT_META}${roomUri}`));
    } catch {
      shared = undefined;
    }
    return {
      roomUri,
      name: roomDisplayName({ shared, localName: room.name, direct, others }, displayUser),
      ...(direct ? { direct } : {}),
      hubDomain: room.hubDomain,
      ...(this.ctx.unreachableHubs.has(room.hubDomain) ? { hubUnreachable: true } : {}),
      members,
      unread: room.unread,
      ...(db.isRoomMuted(roomUri) ? { muted: true } : {}),
      epoch: room.epoch.toString(),
      // As the timeline shows it: the latest edit's text, or that it was deleted (its text gone).
      lastMessage: last ? { sender: last.sender, text: previewText(this.ctx, last), timestamp: last.timestamp } : undefined,
    };
  }

  rooms(): RoomView[] {
    // A knock room a knocker passed through is plumbing (knocks.ts): not one of its rooms.
    return this.ctx.db
      .listRooms()
      .filter((r) => !(r.left && this.ctx.db.getMeta(`${PASSED_THROUGH}${r.roomUri}`)))
      .map((r) => this.roomView(r.roomUri));
  }

  page(roomUri: string, beforeSeq: number | null, limit: number): MessageView[] {
    if (!this.ctx.db.getRoom(roomUri)) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    return toViews(viewSource(this.ctx), this.ctx.db.pageMessages(roomUri, beforeSeq, limit));
  }

  unreadTotal(): number {
    return this.ctx.db.listRooms().reduce((n, r) => n + r.unread, 0);
  }

  markRead(roomUri: string): void {
    if (!this.ctx.db.getRoom(roomUri)) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    this.ctx.db.markRead(roomUri);
    this.ctx.emit('rooms');
  }

  /** Mute (no notifications, unread still counted) or unmute a room on this device. */
  setMuted(roomUri: string, muted: boolean): RoomView {
    if (!this.ctx.db.setRoomMuted(roomUri, muted)) throw coreError('roomUnknown', 'errors.room.unknownReload', { room: roomUri });
    this.ctx.emit('rooms');
    return this.roomView(roomUri);
  }

  /** Resolve a room given as URI or as its (unique) name. */
  resolveRoom(ref: string): string {
    if (this.ctx.db.getRoom(ref)) return ref;
    // The name shown (the shared room name, else the one given here), as `mimi rooms` prints it.
    const byName = this.rooms().filter((r) => r.name === ref);
    if (byName.length === 1) return byName[0].roomUri;
    throw coreError('roomUnknown', byName.length ? 'errors.room.ambiguousName' : 'errors.room.noSuchName', { name: ref });
  }
}
