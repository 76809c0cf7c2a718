// What the hub reads from the MLS objects it is handed, without any group keys: message headers
// (peek), the group a message belongs to, the GroupContext extensions of a GroupInfo and the room
// state among them. Malformed input is a 400 (a malformed room state: the draft's invalid change).
// And what can be verified without them: signatures, the tree hash and parent hashes (below).

import { createHash } from 'node:crypto';
import { bytesEqual, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { parseMimiUri } from '../../src-shared/identifiers.js';
import { MlsWireError, peekMlsMessage, type MlsMessageInfo } from '../../src-shared/mls-wire.js';
import { decodeGroupInfo, decodePublicMessage, decodeRatchetTree, unwrapMlsMessage, type GroupInfo, type KeyPackage, type PublicMessage, type RatchetTree } from '../../src-shared/mls-structs.js';
import { MlsVerifyError, verifyChangedLeaves, verifyGroupInfoSignature, verifyKeyPackageSignature, verifyPublicMessage, verifyTree } from '../../src-shared/mls-verify.js';
import { MimiWireError } from '../../src-shared/mimi-protocol.js';
import { BANNED_ROLE_INDEX } from '../../src-shared/room-policy.js';
import { decodeRoomStateExtension, ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import { ApiFailure, badRequest } from '../errors.js';
import type { RoomRow } from '../store.js';

export type GroupContextExtension = { type: number; data: Uint8Array };

/** RFC 9420 extension type of external_senders. */
export const EXTERNAL_SENDERS_EXTENSION = 5;

export const domainOf = (uri: string): string => parseMimiUri(uri).domain;
export const digest = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest());

export function peek(bytes: Uint8Array, what: string): MlsMessageInfo {
  try {
    return peekMlsMessage(bytes);
  } catch (e) {
    if (e instanceof MlsWireError) throw badRequest(`${what} is not a valid MLSMessage: ${e.message}`);
    throw e;
  }
}

export function checkGroup(info: MlsMessageInfo, roomUri: string, what: string): void {
  if (!info.groupId || !bytesEqual(info.groupId, utf8(roomUri))) {
    let group = '?';
    try {
      group = info.groupId ? fromUtf8(info.groupId) : '?';
    } catch {
      group = '(binary group id)';
    }
    throw badRequest(`${what} belongs to group ${JSON.stringify(group)}, not to room ${roomUri}`);
  }
}

/** The GroupContext extensions of an MLSMessage(group_info), and its room state extension data (or undefined). */
export function roomStateOf(groupInfo: Uint8Array): { extensions: GroupContextExtension[]; state?: Uint8Array } {
  let gc;
  try {
    gc = decodeGroupInfo(unwrapMlsMessage(groupInfo).body).groupContext;
  } catch (e) {
    throw badRequest(`groupInfo is not a valid GroupInfo: ${(e as Error).message}`);
  }
  const found = gc.extensions.filter((e) => e.extensionType === ROOM_STATE_EXTENSION_TYPE);
  if (found.length > 1) throw badRequest('groupInfo: the GroupContext has two room state extensions');
  return { extensions: gc.extensions.map((e) => ({ type: e.extensionType, data: e.extensionData })), state: found[0]?.extensionData };
}

/** Decodes a room state for checking; a malformed one is refused as the draft's invalid change. */
export function decodeState(bytes: Uint8Array, what: string): RoomState {
  try {
    return decodeRoomStateExtension(bytes);
  } catch (e) {
    if (e instanceof MimiWireError) throw new ApiFailure('notAllowed', `${what}: invalid room state: ${e.message}`);
    throw e;
  }
}

/** Users on the list who may have clients: the hub's participants (banned users are not). */
export function listedUsers(state: RoomState): string[] {
  return state.participants.filter((p) => p.roleIndex !== BANNED_ROLE_INDEX).map((p) => p.user);
}

// ---------------------------------------------------------------------------------------------
// Signatures and hashes (src-shared/mls-verify.ts). A signature that does not verify is notAllowed
// (the message is not from whom it says); a tree that is not the GroupInfo's is a badRequest.

/** Decodes an MLSMessage(group_info). */
export function groupInfoOf(groupInfo: Uint8Array, what: string): GroupInfo {
  try {
    return decodeGroupInfo(unwrapMlsMessage(groupInfo).body);
  } catch (e) {
    throw badRequest(`${what} is not a valid GroupInfo: ${(e as Error).message}`);
  }
}

/** Decodes an MLSMessage that must be a PublicMessage. */
export function publicMessageOf(message: Uint8Array, what: string): PublicMessage {
  try {
    return decodePublicMessage(message);
  } catch (e) {
    throw badRequest(`${what} is malformed: ${(e as Error).message}`);
  }
}

/**
 * A new epoch's GroupInfo and ratchet tree: the tree is the one the GroupContext's tree_hash
 * commits to, its parent hashes are valid, and the GroupInfo is signed by its signer's leaf in it.
 */
export function verifyGroupInfoAndTree(groupInfo: GroupInfo, tree: RatchetTree): void {
  try {
    verifyTree(tree, groupInfo.groupContext);
  } catch (e) {
    if (e instanceof MlsVerifyError) throw badRequest(`ratchetTree does not match the groupInfo: ${e.message}`);
    throw e;
  }
  try {
    verifyGroupInfoSignature(groupInfo, tree);
  } catch (e) {
    if (e instanceof MlsVerifyError) throw new ApiFailure('notAllowed', `groupInfo: ${e.message}`);
    throw e;
  }
}

/**
 * A PublicMessage handed to the hub for the room's current epoch is signed by its sender, checked
 * against the stored GroupInfo's GroupContext and the stored tree. A room created without an
 * initial group (no stored GroupInfo and tree) cannot be checked until its first commit.
 */
export function verifyHandshake(room: RoomRow, message: PublicMessage, what: string): void {
  if (!room.group_info || !room.ratchet_tree) return;
  const groupContext = groupInfoOf(room.group_info, 'the stored groupInfo').groupContext;
  let tree: RatchetTree;
  try {
    tree = decodeRatchetTree(room.ratchet_tree);
  } catch (e) {
    throw badRequest(`the stored ratchet tree is not valid: ${(e as Error).message}`);
  }
  try {
    verifyPublicMessage(message, tree, groupContext);
  } catch (e) {
    if (e instanceof MlsVerifyError) throw new ApiFailure('notAllowed', `${what}: ${e.message}`);
    throw e;
  }
}

/**
 * The leaves a commit brings into the tree (new members, its committer's new leaf) are validly
 * signed, each by its own key for this group and index; those the stored tree already had were
 * checked when they came. Without a stored tree (a new room), every leaf is checked.
 */
export function verifyNewLeaves(storedTree: Uint8Array | null | undefined, tree: RatchetTree, groupId: Uint8Array): void {
  let before: RatchetTree | undefined;
  try {
    before = storedTree ? decodeRatchetTree(storedTree) : undefined;
  } catch (e) {
    throw badRequest(`the stored ratchet tree is not valid: ${(e as Error).message}`);
  }
  try {
    verifyChangedLeaves(tree, groupId, before);
  } catch (e) {
    if (e instanceof MlsVerifyError) throw new ApiFailure('notAllowed', `ratchetTree: ${e.message}`);
    throw e;
  }
}

/** A KeyPackage an Add carries is signed by its own leaf key (and its leaf too). */
export function verifyAddedKeyPackage(kp: KeyPackage, what: string): void {
  try {
    verifyKeyPackageSignature(kp);
  } catch (e) {
    if (e instanceof MlsVerifyError) throw new ApiFailure('notAllowed', `${what}: ${e.message}`);
    throw e;
  }
}
