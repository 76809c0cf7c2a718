// What the UI and the CLI read about rooms: the room list and one room's view, pages of
// messages, unread counts, and a room given by URI or by name.

import { CoreError, type MessageView, type RoomView } from '../../src-shared/contract.js';
import { displayUser } from '../../src-shared/identifiers.js';
import type { ProfileContext } from './context.js';
import { activeUsers, myUser, roomStateOf } from './group-sessions.js';
import { messageText, toView } from './message-view.js';

/** Meta key prefix of rooms this device only passed through (a knock room it knocked in). */
export const PASSED_THROUGH = 'passedThrough:';

export class RoomReads {
  constructor(private readonly ctx: ProfileContext) {}

  roomView(roomUri: string): RoomView {
    const { db, sessions, config } = this.ctx;
    const room = db.getRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}; it may have been removed.`);
    const session = sessions.get(roomUri);
    const members = room.left ? [] : [...activeUsers(session)];
    const last = db.pageMessages(roomUri, null, 1)[0];
    const me = myUser(session, config.userUri);
    const others = members.filter((m) => m !== me).map(displayUser);
    // The shared name (room metadata) wins over the name this device gave the room.
    // A room this device left keeps its last group state, so the name stays the one it last saw.
    let shared: string | undefined;
    try {
      shared = roomStateOf(sessions.get(roomUri))?.metadata.roomName;
    } catch {
      shared = undefined;
    }
    return {
      roomUri,
      name: shared || room.name || (others.length ? others.join(', ') : 'Empty room'),
      hubDomain: room.hubDomain,
      ...(this.ctx.unreachableHubs.has(room.hubDomain) ? { hubUnreachable: true } : {}),
      members,
      unread: room.unread,
      epoch: room.epoch.toString(),
      lastMessage: last ? { sender: last.sender, text: messageText(last), timestamp: last.timestamp } : undefined,
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
    if (!this.ctx.db.getRoom(roomUri)) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    return this.ctx.db.pageMessages(roomUri, beforeSeq, limit).map(toView);
  }

  unreadTotal(): number {
    return this.ctx.db.listRooms().reduce((n, r) => n + r.unread, 0);
  }

  markRead(roomUri: string): void {
    if (!this.ctx.db.getRoom(roomUri)) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    this.ctx.db.markRead(roomUri);
    this.ctx.emit('rooms');
  }

  /** Resolve a room given as URI or as its (unique) name. */
  resolveRoom(ref: string): string {
    if (this.ctx.db.getRoom(ref)) return ref;
    // The name shown (the shared room name, else the one given here), as `mimi rooms` prints it.
    const byName = this.rooms().filter((r) => r.name === ref);
    if (byName.length === 1) return byName[0].roomUri;
    throw new CoreError('roomUnknown', byName.length ? `Several rooms are named "${ref}"; use the room URI.` : `No room "${ref}". List rooms with: mimi rooms`);
  }
}
