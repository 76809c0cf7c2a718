// A hosted room's life: creation (the creator's epoch-0 GroupInfo and tree; a room state in it
// makes the room managed), the lookups a member's device makes, the GroupInfo for an external join,
// and destruction.
//
// In a minimal-metadata room the creator is a client pseudonym of the creating device and the room
// state names its user pseudonym; the hub checks that this provider issued both to the device's
// account (room-members.ts) and keeps only the pseudonyms.

import { bytesEqual, toB64 } from '../../src-shared/bytes.js';
import { parseMimiUriAs } from '../../src-shared/identifiers.js';
import { MimiWireError } from '../../src-shared/mimi-protocol.js';
import type { GroupInfoResponse, RoomInfo } from '../../src-shared/provider-api.js';
import { checkCommit, denialText } from '../../src-shared/room-commit.js';
import { BANNED_ROLE_INDEX, checkChange } from '../../src-shared/room-policy.js';
import { ApiFailure, badRequest } from '../errors.js';
import { present, treeMembers, type RoomMember } from '../room-members.js';
import type { HubActor, HubCore } from './core.js';
import { checkGroup, decodeState, groupInfoOf, peek, roomStateOf, verifyGroupInfoAndTree, verifyNewLeaves } from './mls-input.js';
import { decodeRatchetTree } from '../../src-shared/mls-structs.js';

export interface InitialGroup {
  groupInfo: Uint8Array;
  ratchetTree: Uint8Array;
}

/** The one member of a new room's tree, which must be the creating device (as itself or as a client pseudonym of it). */
function creatorOf(hub: HubCore, actor: HubActor, ratchetTree: Uint8Array): RoomMember {
  const members = present(treeMembers(ratchetTree, 'ratchetTree'));
  const only = "a new room's ratchet tree holds exactly the creating device";
  if (members.length !== 1 || (!members[0].pseudonymous && members[0].identity !== actor.deviceUri)) throw badRequest(only);
  const problem = hub.identities.ownershipProblem(actor.deviceUri, members[0]);
  if (problem) throw new ApiFailure('notAllowed', `${only} (itself or a client pseudonym issued to it): ${problem}`);
  return members[0];
}

/**
 * A new room. `initial` is its epoch 0 GroupInfo and tree: a room state in that GroupContext
 * makes the room managed (the creator alone on the list), and the hub enforces it from then on.
 */
export function createRoom(hub: HubCore, actor: HubActor, roomUri: string, initial?: InitialGroup): RoomInfo {
  if (parseMimiUriAs('room', roomUri)?.domain !== hub.domain) throw badRequest(`roomUri must be mimi://${hub.domain}/r/<id>`);
  let creator: RoomMember = { identity: actor.deviceUri, user: actor.userUri, pseudonymous: false };
  let stateBytes: Uint8Array | undefined;
  if (initial) {
    const gi = peek(initial.groupInfo, 'groupInfo');
    if (gi.wireFormat !== 'groupInfo') throw badRequest(`groupInfo is an MLS ${gi.wireFormat} message, not a GroupInfo`);
    checkGroup(gi, roomUri, 'groupInfo');
    if (gi.epoch !== 0n) throw badRequest(`a new room's groupInfo is for epoch 0, not ${gi.epoch}`);
    creator = creatorOf(hub, actor, initial.ratchetTree);
    // Authentic like any commit bundle: the tree is the GroupInfo's, both signed by their leaves.
    const info = groupInfoOf(initial.groupInfo, 'groupInfo');
    const tree = decodeRatchetTree(initial.ratchetTree); // creatorOf read it already
    verifyGroupInfoAndTree(info, tree);
    verifyNewLeaves(undefined, tree, info.groupContext.groupId);
    stateBytes = roomStateOf(initial.groupInfo).state;
    if (stateBytes) {
      const state = decodeState(stateBytes, 'groupInfo');
      if (state.participants.length !== 1 || state.participants[0].user !== creator.user || state.participants[0].roleIndex === BANNED_ROLE_INDEX) {
        throw badRequest("a new room's participant list holds exactly its creator");
      }
      if (state.metadata.roomUri !== roomUri) throw badRequest(`the room state names room ${state.metadata.roomUri}, not ${roomUri}`);
      // The franking agent is the hub's to publish: its key signs the franks receivers check.
      if (state.frankingAgent && !(hub.frankingAgent && bytesEqual(state.frankingAgent, hub.frankingAgent))) {
        throw badRequest(`the room state's franking_agent is not ${hub.domain}'s (ask GET /v1/hubSender for it)`);
      }
      // The same rules as every later commit: the creator's role must allow clients in the group.
      const devices = [creator.identity];
      try {
        checkCommit({ before: state, after: state, committer: creator.user, devicesBefore: devices, devicesAfter: devices, userOf: () => creator.user });
      } catch (e) {
        if (e instanceof MimiWireError) throw badRequest(`the room state is not valid for a new room: ${e.message}`);
        throw e;
      }
    }
  }
  return hub.write(() => {
    if (hub.store.wasDestroyed(roomUri)) {
      throw new ApiFailure('badRequest', `room ${roomUri} existed and was destroyed; a room URI is not used twice`, { status: 409 });
    }
    if (!hub.store.insertRoom(roomUri, hub.now())) {
      throw new ApiFailure('badRequest', `room ${roomUri} already exists`, { status: 409 });
    }
    hub.store.addParticipant(roomUri, creator.user);
    hub.store.addRoomDevice(roomUri, creator.identity, creator.user);
    if (initial) hub.store.setInitialGroup(roomUri, initial.groupInfo, initial.ratchetTree);
    if (stateBytes) hub.store.setRoomState(roomUri, stateBytes);
    return hub.roomInfo(hub.store.room(roomUri)!);
  });
}

/** Who of the actor's account is on the room's list: its user, or one of its user pseudonyms. */
function participantOf(hub: HubCore, actor: HubActor, roomUri: string): string {
  const user = hub.store.accountParticipant(roomUri, actor.userUri, hub.store.accountOfDevice(actor.deviceUri) ?? -1);
  if (!user) throw new ApiFailure('notMember', `${actor.userUri} is not a participant of ${roomUri}`);
  return user;
}

/** The rooms a local account is in (as itself or as one of its pseudonyms): hosted here, or (as a follower) elsewhere. */
export function listRooms(hub: HubCore, actor: HubActor): RoomInfo[] {
  return hub.store.roomsOfAccount(actor.userUri, hub.store.accountOfDevice(actor.deviceUri) ?? -1).map((r) => hub.roomInfo(r));
}

export function getRoom(hub: HubCore, actor: HubActor, roomUri: string): RoomInfo {
  const row = hub.store.room(roomUri);
  if (!row) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${hub.domain}`);
  participantOf(hub, actor, roomUri);
  return hub.roomInfo(row);
}

/** GroupInfo for a local participant (a new device joining by external commit), as its user or `asPseudonym`. */
export function groupInfo(hub: HubCore, actor: HubActor, roomUri: string, asPseudonym?: string): GroupInfoResponse {
  const user = hub.identities.actingUser(actor, asPseudonym);
  const row = hub.requireRoom(roomUri);
  if (row.room_state && decodeState(row.room_state, 'stored room state').participants.some((p) => p.user === user && p.roleIndex === BANNED_ROLE_INDEX)) {
    throw new ApiFailure('notAllowed', `${user} is banned from ${roomUri}`);
  }
  hub.requireParticipant(roomUri, user);
  if (!row.group_info || !row.ratchet_tree) {
    throw new ApiFailure('notFound', `room ${roomUri} has no GroupInfo yet (no commit accepted so far)`);
  }
  return { epoch: String(row.epoch), groupInfo: toB64(row.group_info), ratchetTree: toB64(row.ratchet_tree) };
}

/**
 * Destroys a hosted room for a participant (the account's user, or `asPseudonym`) whose role has
 * canDestroyRoom: everything kept of it goes (store.destroyHostedRoom, and what the fanout outbox
 * still holds for it), scrubbed from the database files. Members then find it unknown. A room
 * without room state has no policy to say who may destroy it, so it cannot be.
 */
export function destroyRoom(hub: HubCore, actor: HubActor, roomUri: string, asPseudonym?: string): { destroyed: true } {
  const user = hub.identities.actingUser(actor, asPseudonym);
  hub.store.scrubbing(() =>
    hub.write(() => {
      const room = hub.requireRoom(roomUri);
      hub.requireParticipant(roomUri, user);
      if (!room.room_state) throw new ApiFailure('notAllowed', `${roomUri} has no room state: no room policy says who may destroy it`);
      const state = decodeState(room.room_state, 'stored room state');
      const verdict = checkChange(state.policy, state.participants, user, { kind: 'use', capability: 'canDestroyRoom' });
      if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids destroying ${roomUri}: ${denialText(verdict)}`);
      hub.fanoutSink?.forgetRoom?.(roomUri);
      hub.joinLinks?.forgetRoom(roomUri);
      hub.store.destroyHostedRoom(roomUri, hub.now());
    }),
  );
  return { destroyed: true };
}
