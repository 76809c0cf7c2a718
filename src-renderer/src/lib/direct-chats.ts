// Direct chats on screen: a room with one other person (RoomView.direct; the core recognizes it,
// docs/decisions.md "Direct chats") reads as that person, as the member list names them: bob, or
// bob@b.example from another provider. A chat with a pseudonym (a connection's room) and every
// other room read as the core's name for them: for a connection's room, the person this device
// connected with, as it was told. Free of Vue, so it is unit tested on its own.

import type { IdentityView, RoomView } from '../../../src-shared/contract.js';
import { isPseudonym, memberName } from './pseudonyms.js';

export function roomTitle(room: Pick<RoomView, 'name' | 'direct'>, viewerDomain: string, identity?: IdentityView): string {
  if (!room.direct || isPseudonym(room.direct)) return room.name;
  return memberName(room.direct, identity, viewerDomain).label;
}
