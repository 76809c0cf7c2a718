// Direct chats ("Message this person", `mimi dm`): the room with one other person, reused when it
// exists, made when it does not. A direct chat is an ordinary room of a recognizable shape (no
// shared name, the two of you on the participant list: room-view.ts directPeerOf), so every
// member's app, and any other MIMI client, reads it the same way without a new field on the wire;
// docs/decisions.md "Direct chats" says why.

import type { RoomView } from '../../src-shared/contract.js';
import { displayUser } from '../../src-shared/identifiers.js';
import { roleOf } from '../../src-shared/room-state.js';
import { BANNED_ROLE_INDEX } from '../../src-shared/room-policy.js';
import type { ProfileContext } from './context.js';
import { activeUsers, myUser, roomStateOf } from './group-sessions.js';
import type { Membership } from './membership.js';
import { PASSED_THROUGH, type RoomReads } from './room-reads.js';
import { DIRECT_META, directPeerOf } from './room-view.js';
import { userArg } from './user-args.js';
import { coreError } from './errors.js';

export class DirectChats {
  constructor(
    private readonly ctx: ProfileContext,
    private readonly membership: Membership,
    private readonly reads: RoomReads,
  ) {}

  /** The room URI of this account's direct chat with `peer` (a user URI), if it has one. */
  find(peer: string): string | undefined {
    const { db, sessions, config } = this.ctx;
    for (const r of db.listRooms()) {
      if (r.left) continue;
      try {
        const s = sessions.get(r.roomUri);
        if (directPeerOf(roomStateOf(s), myUser(s, config.userUri), db.getMeta(`${DIRECT_META}${r.roomUri}`)) === peer) return r.roomUri;
      } catch {
        continue; // a room whose state does not read is no direct chat
      }
    }
    return undefined;
  }

  /**
   * The direct chat with `user`: the existing one (bringing them back in if their clients are not
   * in it), or a new room with the two of you. Adding them goes through the ordinary add, so
   * consent is asked for where needed (noConsent says how).
   */
  async open(user: string): Promise<RoomView> {
    const { db, config, sessions } = this.ctx;
    const peer = userArg(config.domain, user);
    if (peer === config.userUri) throw coreError('invalidArgument', 'errors.directChat.self');
    if (!peer.includes('/u/')) throw coreError('invalidArgument', 'errors.directChat.pseudonym', { user: displayUser(peer) });
    const found = this.find(peer);
    if (!found) return this.create(peer);
    const roomUri = found;
    const s = sessions.get(roomUri);
    const state = roomStateOf(s);
    if (state && roleOf(state, peer) === BANNED_ROLE_INDEX) {
      throw coreError('notAllowed', 'errors.directChat.banned', { user: displayUser(peer) });
    }
    if (!activeUsers(s).has(peer)) await this.membership.addMember(roomUri, peer);
    return this.reads.roomView(roomUri);
  }

  /**
   * A new room with `peer`. If adding them fails (no such user, no consent yet, no device ready),
   * the room is put aside (left and hidden here, as a knock room passed through is) so that a
   * refused attempt leaves nothing behind on screen; the next attempt makes a fresh one.
   */
  private async create(peer: string): Promise<RoomView> {
    const { db } = this.ctx;
    // No name: the room reads as the other person everywhere (room-view.ts roomDisplayName).
    const roomUri = (await this.membership.createRoom('', 'cooperative')).roomUri;
    db.setMeta(`${DIRECT_META}${roomUri}`, peer);
    try {
      await this.membership.addMember(roomUri, peer);
    } catch (e) {
      db.tx(() => {
        db.markLeft(roomUri);
        db.setMeta(`${PASSED_THROUGH}${roomUri}`, 'direct chat not started');
      });
      this.ctx.emit('rooms');
      throw e;
    }
    return this.reads.roomView(roomUri);
  }
}

