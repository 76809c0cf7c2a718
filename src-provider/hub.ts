// Hub logic for rooms this provider hosts: room creation, the one-commit-per-epoch rule, message
// acceptance and fanout into per-device inboxes. It knows nothing about HTTP: the client API calls
// it now and the MIMI server-to-server endpoints will call the same methods later. Inputs are
// decoded bytes; every state change of one call happens in one store transaction, and the devices
// that got new inbox rows are reported through `onQueued` only after that transaction committed.

import { bytesEqual, fromUtf8, toB64, utf8 } from '../src-shared/bytes.js';
import { parseMimiUri, userOfDevice } from '../src-shared/identifiers.js';
import { MlsWireError, peekMlsMessage, welcomeRecipients, type MlsMessageInfo } from '../src-shared/mls-wire.js';
import {
  MAX_MESSAGE_BYTES,
  type CommitResponse,
  type GroupInfoResponse,
  type RoomInfo,
  type SendMessageResponse,
} from '../src-shared/provider-api.js';
import { ApiFailure, badRequest } from './errors.js';
import type { RoomRow, Store } from './store.js';

export interface HubActor {
  deviceUri: string;
  userUri: string;
}

export interface CommitInput {
  commit: Uint8Array;
  welcome?: Uint8Array;
  groupInfo: Uint8Array;
  ratchetTree: Uint8Array;
  addUsers: string[];
  removeUsers: string[];
  removeDevices: string[];
  requestId: string;
}

export interface MessageInput {
  message: Uint8Array;
  requestId: string;
}

export interface HubOptions {
  store: Store;
  domain: string;
  now?: () => number;
  /** Called after a transaction that queued events for these devices has committed. */
  onQueued?: (deviceUris: string[]) => void;
}

function peek(bytes: Uint8Array, what: string): MlsMessageInfo {
  try {
    return peekMlsMessage(bytes);
  } catch (e) {
    if (e instanceof MlsWireError) throw badRequest(`${what} is not a valid MLSMessage: ${e.message}`);
    throw e;
  }
}

function checkGroup(info: MlsMessageInfo, roomUri: string, what: string): void {
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

const isUserUri = (s: string): boolean => {
  try {
    return parseMimiUri(s).kind === 'user';
  } catch {
    return false;
  }
};

export class Hub {
  private readonly store: Store;
  readonly domain: string;
  private readonly now: () => number;
  private readonly onQueued: (deviceUris: string[]) => void;

  constructor(opts: HubOptions) {
    this.store = opts.store;
    this.domain = opts.domain;
    this.now = opts.now ?? Date.now;
    this.onQueued = opts.onQueued ?? (() => {});
  }

  /** Runs `fn` in a transaction and announces queued devices once it has committed. */
  private write<T>(fn: (queued: Set<string>) => T): T {
    const queued = new Set<string>();
    const result = this.store.tx(() => fn(queued));
    if (queued.size) this.onQueued([...queued]);
    return result;
  }

  private roomInfo(row: RoomRow): RoomInfo {
    return {
      roomUri: row.room_uri,
      hubDomain: this.domain,
      epoch: String(row.epoch),
      participants: this.store.participants(row.room_uri),
      createdAt: row.created_at,
    };
  }

  private requireRoom(roomUri: string): RoomRow {
    const row = this.store.room(roomUri);
    if (!row) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
    return row;
  }

  private requireParticipant(roomUri: string, actor: HubActor): void {
    if (!this.store.isParticipant(roomUri, actor.userUri)) {
      throw new ApiFailure('notMember', `${actor.userUri} is not a participant of ${roomUri}`);
    }
  }

  // ---- rooms ----

  createRoom(actor: HubActor, roomUri: string): RoomInfo {
    let ok = false;
    try {
      const parsed = parseMimiUri(roomUri);
      ok = parsed.kind === 'room' && parsed.domain === this.domain;
    } catch {
      ok = false;
    }
    if (!ok) {
      throw badRequest(`roomUri must be mimi://${this.domain}/r/<id>`);
    }
    return this.write(() => {
      if (!this.store.insertRoom(roomUri, this.now())) {
        throw new ApiFailure('badRequest', `room ${roomUri} already exists`, { status: 409 });
      }
      this.store.addParticipant(roomUri, actor.userUri);
      this.store.addRoomDevice(roomUri, actor.deviceUri);
      return this.roomInfo(this.store.room(roomUri)!);
    });
  }

  listRooms(actor: HubActor): RoomInfo[] {
    return this.store.roomsOfUser(actor.userUri).map((r) => this.roomInfo(r));
  }

  getRoom(actor: HubActor, roomUri: string): RoomInfo {
    const row = this.requireRoom(roomUri);
    this.requireParticipant(roomUri, actor);
    return this.roomInfo(row);
  }

  groupInfo(actor: HubActor, roomUri: string): GroupInfoResponse {
    const row = this.requireRoom(roomUri);
    this.requireParticipant(roomUri, actor);
    if (!row.group_info || !row.ratchet_tree) {
      throw new ApiFailure('notFound', `room ${roomUri} has no GroupInfo yet (no commit accepted so far)`);
    }
    return { epoch: String(row.epoch), groupInfo: toB64(row.group_info), ratchetTree: toB64(row.ratchet_tree) };
  }

  // ---- commits ----

  commit(actor: HubActor, roomUri: string, input: CommitInput): CommitResponse {
    // Everything that needs no state is checked before the transaction.
    const info = peek(input.commit, 'commit');
    if (info.wireFormat !== 'public') throw badRequest(`commit must be a PublicMessage, got ${info.wireFormat}`);
    if (info.contentType !== 'commit') throw badRequest(`commit carries ${info.contentType} content, not a Commit`);
    checkGroup(info, roomUri, 'commit');
    const external = info.senderType === 'new_member_commit';
    if (info.senderType !== 'member' && !external) {
      throw new ApiFailure('notAllowed', `a commit from sender type ${info.senderType} is not accepted`);
    }
    const gi = peek(input.groupInfo, 'groupInfo');
    if (gi.wireFormat !== 'groupInfo') throw badRequest(`groupInfo is an MLS ${gi.wireFormat} message, not a GroupInfo`);
    checkGroup(gi, roomUri, 'groupInfo');
    if (gi.epoch !== info.epoch! + 1n) throw badRequest(`groupInfo is for epoch ${gi.epoch}, the commit creates epoch ${info.epoch! + 1n}`);
    if (input.ratchetTree.length === 0) throw badRequest('ratchetTree is empty');
    let welcomeRefs: Uint8Array[] = [];
    if (input.welcome) {
      try {
        welcomeRefs = welcomeRecipients(input.welcome);
      } catch (e) {
        if (e instanceof MlsWireError) throw badRequest(`welcome is not a valid Welcome: ${e.message}`);
        throw e;
      }
      if (welcomeRefs.length === 0) throw badRequest('welcome has no recipients');
    }
    for (const [field, list] of [
      ['addUsers', input.addUsers],
      ['removeUsers', input.removeUsers],
    ] as const) {
      for (const u of list) if (!isUserUri(u)) throw badRequest(`${field}: ${JSON.stringify(u)} is not a user URI`);
    }
    for (const u of input.addUsers) if (input.removeUsers.includes(u)) throw badRequest(`${u} is both added and removed`);

    return this.write((queued) => {
      const done = this.store.idempotentResponse(actor.deviceUri, 'commit', input.requestId);
      if (done) return JSON.parse(done) as CommitResponse;

      const room = this.requireRoom(roomUri);
      const epoch = BigInt(room.epoch);
      if (external) this.requireParticipant(roomUri, actor);
      else if (!this.store.isRoomDevice(roomUri, actor.deviceUri)) {
        throw new ApiFailure('notMember', `${actor.deviceUri} is not a member device of ${roomUri}`);
      }
      // The loser of a race for this epoch ends here: the winner's transaction already moved it.
      if (info.epoch !== epoch) {
        throw new ApiFailure('wrongEpoch', `commit is for epoch ${info.epoch}, the room is at epoch ${epoch}`, {
          currentEpoch: epoch,
        });
      }

      const participantsBefore = new Set(this.store.participants(roomUri));
      const devicesBefore = this.store.roomDevices(roomUri);
      for (const u of input.addUsers) {
        const p = parseMimiUri(u);
        if (p.domain !== this.domain || !this.store.userByUri(u)) {
          throw new ApiFailure('userUnknown', `cannot add ${u}: no such user on ${this.domain}`, { status: 400 });
        }
      }
      for (const u of input.removeUsers) {
        if (!participantsBefore.has(u)) throw badRequest(`cannot remove ${u}: not a participant`);
      }
      const removeDevices = new Set(input.removeDevices);
      for (const d of removeDevices) {
        if (!devicesBefore.includes(d)) throw badRequest(`cannot remove ${d}: not a member device`);
      }
      // A removed participant keeps no device in the room, listed or not.
      const removedUsers = new Set(input.removeUsers);
      for (const d of devicesBefore) if (removedUsers.has(userOfDevice(d))) removeDevices.add(d);
      if (removeDevices.has(actor.deviceUri)) throw new ApiFailure('notAllowed', 'a commit cannot remove its own sender');

      const participantsAfter = new Set([...participantsBefore].filter((u) => !removedUsers.has(u)));
      for (const u of input.addUsers) participantsAfter.add(u);

      const newDevices: string[] = [];
      for (const ref of welcomeRefs) {
        const device = this.store.claimedDevice(ref, roomUri);
        if (!device) throw badRequest('welcome is addressed to a KeyPackage that was not claimed for this room');
        if (!participantsAfter.has(userOfDevice(device))) {
          throw badRequest(`welcome adds ${device}, whose user is not a participant (list it in addUsers)`);
        }
        if (removeDevices.has(device)) throw badRequest(`${device} is both added and removed`);
        if (!newDevices.includes(device)) newDevices.push(device);
      }

      const newEpoch = epoch + 1n;
      if (!this.store.advanceEpoch(roomUri, epoch, newEpoch, input.groupInfo, input.ratchetTree)) {
        throw new ApiFailure('wrongEpoch', 'another commit for this epoch was accepted first', {
          currentEpoch: BigInt(this.store.room(roomUri)!.epoch),
        });
      }
      for (const u of removedUsers) this.store.removeParticipant(roomUri, u);
      for (const u of input.addUsers) this.store.addParticipant(roomUri, u);
      for (const d of removeDevices) this.store.removeRoomDevice(roomUri, d);
      for (const d of newDevices) this.store.addRoomDevice(roomUri, d);
      if (external) this.store.addRoomDevice(roomUri, actor.deviceUri);

      const ts = this.now();
      // Every device that was in the epoch being left hears of the commit, including removed ones
      // (that is how they learn of their removal); the sender already has it.
      const commitEvent = this.store.insertEvent({
        room_uri: roomUri,
        kind: 'commit',
        epoch,
        sender_device: actor.deviceUri,
        payload: input.commit,
        accepted_ts: ts,
      });
      for (const d of devicesBefore) {
        if (d !== actor.deviceUri) this.enqueue(d, commitEvent, queued);
      }
      if (newDevices.length) {
        const welcomeEvent = this.store.insertEvent({
          room_uri: roomUri,
          kind: 'welcome',
          epoch: newEpoch,
          sender_device: actor.deviceUri,
          payload: input.welcome!,
          ratchet_tree: input.ratchetTree,
          accepted_ts: ts,
        });
        for (const d of newDevices) this.enqueue(d, welcomeEvent, queued);
      }
      const response: CommitResponse = { epoch: newEpoch.toString(), acceptedTimestamp: ts };
      this.store.recordResponse(actor.deviceUri, 'commit', input.requestId, JSON.stringify(response), ts);
      return response;
    });
  }

  // ---- application messages ----

  sendMessage(actor: HubActor, roomUri: string, input: MessageInput): SendMessageResponse {
    if (input.message.length > MAX_MESSAGE_BYTES) {
      throw new ApiFailure('tooLarge', `message is ${input.message.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
    }
    const info = peek(input.message, 'message');
    if (info.wireFormat !== 'private') throw badRequest(`message must be a PrivateMessage, got ${info.wireFormat}`);
    if (info.contentType !== 'application') {
      throw badRequest(`message carries ${info.contentType} content; only application messages are accepted here`);
    }
    checkGroup(info, roomUri, 'message');

    return this.write((queued) => {
      const done = this.store.idempotentResponse(actor.deviceUri, 'message', input.requestId);
      if (done) return { ...(JSON.parse(done) as SendMessageResponse), duplicate: true };

      const room = this.requireRoom(roomUri);
      if (!this.store.isRoomDevice(roomUri, actor.deviceUri)) {
        throw new ApiFailure('notMember', `${actor.deviceUri} is not a member device of ${roomUri}`);
      }
      const epoch = BigInt(room.epoch);
      const msgEpoch = info.epoch!;
      // One epoch of grace: a message encrypted just before a commit landed is still delivered.
      if (msgEpoch + 1n < epoch) {
        throw new ApiFailure('epochTooOld', `message is from epoch ${msgEpoch}; the room is at epoch ${epoch}`, {
          currentEpoch: epoch,
        });
      }
      if (msgEpoch > epoch) {
        throw new ApiFailure('notAllowed', `message is from epoch ${msgEpoch}, ahead of the room's epoch ${epoch}`, {
          status: 400,
          currentEpoch: epoch,
        });
      }
      const ts = this.now();
      const eventId = this.store.insertEvent({
        room_uri: roomUri,
        kind: 'message',
        epoch: msgEpoch,
        sender_device: actor.deviceUri,
        payload: input.message,
        accepted_ts: ts,
      });
      for (const d of this.store.roomDevices(roomUri)) {
        if (d !== actor.deviceUri) this.enqueue(d, eventId, queued);
      }
      const response: SendMessageResponse = { acceptedTimestamp: ts, duplicate: false };
      this.store.recordResponse(actor.deviceUri, 'message', input.requestId, JSON.stringify(response), ts);
      return response;
    });
  }

  /**
   * Queue an event for a device of this provider. Devices of other providers cannot be room
   * members until MIMI federation exists; that task routes them to their provider's notify endpoint.
   */
  private enqueue(deviceUri: string, eventId: number, queued: Set<string>): void {
    if (parseMimiUri(deviceUri).domain !== this.domain) {
      throw new Error(`fanout to remote device ${deviceUri} is not implemented`);
    }
    this.store.enqueue(deviceUri, eventId);
    queued.add(deviceUri);
  }
}
