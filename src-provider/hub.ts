// Hub logic for rooms this provider hosts: room creation, the one-commit-per-epoch rule, message
// acceptance and fanout. It knows nothing about HTTP: the client API (local devices) and the MIMI
// `/update` and `/submitMessage` endpoints (follower providers) call the same acceptance code with
// a different `HubSource`. Inputs are decoded bytes; every state change of one call happens in one
// store transaction: local devices get inbox rows, follower providers get rows in the durable
// fanout outbox, in the same transaction. Devices and followers are told only after it committed.
//
// Which devices are in the room is read from the ratchet tree each accepted Commit carries (leaf
// credentials are device URIs): that works the same for a local client and for a follower that
// sends only the standard HandshakeBundle, and it is what decides where fanout goes.

import { createHash } from 'node:crypto';
import { bytesEqual, fromUtf8, toB64, utf8 } from '../src-shared/bytes.js';
import { parseMimiUri, userOfDevice } from '../src-shared/identifiers.js';
import { MlsWireError, peekMlsMessage, peekProposal, welcomeRecipients, type MlsMessageInfo } from '../src-shared/mls-wire.js';
import { commitSummary, decodeGroupInfo, decodeRatchetTree, treeLeaves, unwrapMlsMessage, type CommitSummary } from '../src-shared/mls-structs.js';
import { checkCommit, checkDeparture, checkMessage, denialText } from '../src-shared/room-commit.js';
import { BANNED_ROLE_INDEX, checkChange } from '../src-shared/room-policy.js';
import { decodeRoomStateExtension, ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../src-shared/room-state.js';
import { MimiWireError, type AbuseReport } from '../src-shared/mimi-protocol.js';
import { encodeFanoutMessage, type FanoutMessage } from '../src-shared/mimi-protocol.js';
import { externalRemoveProposal } from '../src-shared/external-proposal.js';
import type { Fields } from '../src-shared/mls-structs.js';
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

/** Who hands the hub a commit or message: one of our own devices, or a follower provider. */
export type HubSource = { kind: 'device'; actor: HubActor } | { kind: 'peer'; domain: string };

export interface CommitInput {
  commit: Uint8Array;
  /** MLSMessage(welcome) */
  welcome?: Uint8Array;
  /** MLSMessage(group_info) for the new epoch */
  groupInfo: Uint8Array;
  /** RFC 9420 ratchet_tree extension encoding of the new epoch's tree */
  ratchetTree: Uint8Array;
  /** Participant list changes; local clients state them, for peers they are derived from the tree. */
  addUsers?: string[];
  removeUsers?: string[];
  /** Local clients may restate the devices they remove; checked against the tree. */
  removeDevices?: string[];
  /** Local clients' idempotency key. Peers are deduplicated by the commit's digest. */
  requestId?: string;
}

export interface MessageInput {
  message: Uint8Array;
  requestId?: string;
  /** Peers: the sending user (SubmitMessageRequest.sendingUri). */
  sendingUri?: string;
}

/** Where fanout to other providers goes: the durable outbox in production. */
export interface FanoutSink {
  enqueue(domain: string, roomUri: string, fanoutMessage: Uint8Array): void;
  kick(): void;
}

export interface HubOptions {
  store: Store;
  domain: string;
  now?: () => number;
  /** Called after a transaction that queued events for these devices has committed. */
  onQueued?: (deviceUris: string[]) => void;
  /** Fanout to follower providers; without it, rooms cannot have remote devices. */
  fanout?: FanoutSink;
  /**
   * Who may join by external commit without being a participant already (e.g. with a joining code
   * presented to /groupInfo). Returns true to admit `userUri`, and is then consumed.
   */
  admitJoiner?: (roomUri: string, userUri: string) => boolean;
  /**
   * This provider's external-sender signing key (Ed25519 seed). Our clients list it first in the
   * external_senders of rooms they create here, so the hub can propose Removes in them.
   */
  externalSenderKey?: Uint8Array;
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

const domainOf = (uri: string): string => parseMimiUri(uri).domain;
const digest = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest());

/** Device URIs of the tree's leaves, in leaf order (index = leaf index, '' for a blank leaf). */
function treeDevices(tree: Uint8Array, what: string): string[] {
  let leaves;
  try {
    leaves = treeLeaves(decodeRatchetTree(tree));
  } catch (e) {
    throw badRequest(`${what} is not a valid ratchet tree: ${(e as Error).message}`);
  }
  const out: string[] = [];
  for (const leaf of leaves) {
    let kind = '';
    try {
      kind = parseMimiUri(leaf.identity).kind;
    } catch {
      kind = '';
    }
    if (kind !== 'device') throw badRequest(`${what}: leaf ${leaf.leafIndex} has identity ${JSON.stringify(leaf.identity)}, not a device URI`);
    if (out.includes(leaf.identity)) throw badRequest(`${what}: device ${leaf.identity} is in the tree twice`);
    while (out.length < leaf.leafIndex) out.push('');
    out.push(leaf.identity);
  }
  return out;
}

interface CommitChecked {
  info: MlsMessageInfo;
  external: boolean;
  devicesAfter: string[];
  welcomeRefs: Uint8Array[];
  /** The room state extension data in the new epoch's GroupContext (undefined: none). */
  stateAfter?: Uint8Array;
  /** Whether the Commit carries a GroupContextExtensions proposal (else the extensions stay). */
  changesExtensions: boolean;
  /** The new epoch's GroupContext extensions, as the room state check takes them. */
  extensionsAfter: GroupContextExtension[];
  summary: CommitSummary;
}

type GroupContextExtension = { type: number; data: Uint8Array };

/** The GroupContext extensions of an MLSMessage(group_info), and its room state extension data (or undefined). */
function roomStateOf(groupInfo: Uint8Array): { extensions: GroupContextExtension[]; state?: Uint8Array } {
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
function decodeState(bytes: Uint8Array, what: string): RoomState {
  try {
    return decodeRoomStateExtension(bytes);
  } catch (e) {
    if (e instanceof MimiWireError) throw new ApiFailure('notAllowed', `${what}: invalid room state: ${e.message}`);
    throw e;
  }
}

/** Abuse reports: a note of up to 4 KiB and a handful of messages ("a handful of allegedly AbusiveMessages"). */
const MAX_ABUSE_NOTE_BYTES = 4096;
const MAX_ABUSE_MESSAGES = 16;

/** RFC 9420 extension type of external_senders. */
const EXTERNAL_SENDERS_EXTENSION = 5;

/** Users on the list who may have clients: the hub's participants (banned users are not). */
function listedUsers(state: RoomState): string[] {
  return state.participants.filter((p) => p.roleIndex !== BANNED_ROLE_INDEX).map((p) => p.user);
}

export class Hub {
  private readonly store: Store;
  readonly domain: string;
  private readonly now: () => number;
  private readonly onQueued: (deviceUris: string[]) => void;
  private readonly fanoutSink?: FanoutSink;
  private readonly admitJoiner: (roomUri: string, userUri: string) => boolean;
  private readonly externalSenderKey?: Uint8Array;

  constructor(opts: HubOptions) {
    this.store = opts.store;
    this.domain = opts.domain;
    this.now = opts.now ?? Date.now;
    this.onQueued = opts.onQueued ?? (() => {});
    this.fanoutSink = opts.fanout;
    this.admitJoiner = opts.admitJoiner ?? (() => false);
    this.externalSenderKey = opts.externalSenderKey;
  }

  /** Runs `fn` in a transaction and announces queued devices and fanout once it has committed. */
  private write<T>(fn: (queued: Set<string>) => T): T {
    const queued = new Set<string>();
    const result = this.store.tx(() => fn(queued));
    if (queued.size) this.onQueued([...queued]);
    this.fanoutSink?.kick();
    return result;
  }

  private roomInfo(row: RoomRow): RoomInfo {
    return {
      roomUri: row.room_uri,
      hubDomain: row.hub_domain ?? this.domain,
      epoch: String(row.epoch),
      participants: this.store.participants(row.room_uri),
      createdAt: row.created_at,
    };
  }

  /** True when this provider hosts `roomUri` (not merely follows it as a member's provider). */
  hosts(roomUri: string): boolean {
    return this.store.hostedRoom(roomUri) !== undefined;
  }

  /** A room this provider hosts (not a follower's row for a remote room). */
  private requireRoom(roomUri: string): RoomRow {
    const row = this.store.hostedRoom(roomUri);
    if (!row) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
    return row;
  }

  private requireParticipant(roomUri: string, userUri: string): void {
    if (!this.store.isParticipant(roomUri, userUri)) {
      throw new ApiFailure('notMember', `${userUri} is not a participant of ${roomUri}`);
    }
  }

  // ---- rooms ----

  /**
   * A new room. `initial` is its epoch 0 GroupInfo and tree: a room state in that GroupContext
   * makes the room managed (the creator alone on the list), and the hub enforces it from then on.
   */
  createRoom(actor: HubActor, roomUri: string, initial?: { groupInfo: Uint8Array; ratchetTree: Uint8Array }): RoomInfo {
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
    let stateBytes: Uint8Array | undefined;
    if (initial) {
      const gi = peek(initial.groupInfo, 'groupInfo');
      if (gi.wireFormat !== 'groupInfo') throw badRequest(`groupInfo is an MLS ${gi.wireFormat} message, not a GroupInfo`);
      checkGroup(gi, roomUri, 'groupInfo');
      if (gi.epoch !== 0n) throw badRequest(`a new room's groupInfo is for epoch 0, not ${gi.epoch}`);
      const devices = treeDevices(initial.ratchetTree, 'ratchetTree').filter(Boolean);
      if (devices.length !== 1 || devices[0] !== actor.deviceUri) throw badRequest('a new room\'s ratchet tree holds exactly the creating device');
      stateBytes = roomStateOf(initial.groupInfo).state;
      if (stateBytes) {
        const state = decodeState(stateBytes, 'groupInfo');
        if (state.participants.length !== 1 || state.participants[0].user !== actor.userUri || state.participants[0].roleIndex === BANNED_ROLE_INDEX) {
          throw badRequest('a new room\'s participant list holds exactly its creator');
        }
        if (state.metadata.roomUri !== roomUri) throw badRequest(`the room state names room ${state.metadata.roomUri}, not ${roomUri}`);
        // The same rules as every later commit: the creator's role must allow clients in the group.
        try {
          checkCommit({ before: state, after: state, committer: actor.userUri, devicesBefore: devices, devicesAfter: devices });
        } catch (e) {
          if (e instanceof MimiWireError) throw badRequest(`the room state is not valid for a new room: ${e.message}`);
          throw e;
        }
      }
    }
    return this.write(() => {
      if (!this.store.insertRoom(roomUri, this.now())) {
        throw new ApiFailure('badRequest', `room ${roomUri} already exists`, { status: 409 });
      }
      this.store.addParticipant(roomUri, actor.userUri);
      this.store.addRoomDevice(roomUri, actor.deviceUri);
      if (initial) this.store.setInitialGroup(roomUri, initial.groupInfo, initial.ratchetTree);
      if (stateBytes) this.store.setRoomState(roomUri, stateBytes);
      return this.roomInfo(this.store.room(roomUri)!);
    });
  }

  /** The rooms a local user is in: hosted here, or (as a follower) elsewhere. */
  listRooms(actor: HubActor): RoomInfo[] {
    return this.store.roomsOfUser(actor.userUri).map((r) => this.roomInfo(r));
  }

  getRoom(actor: HubActor, roomUri: string): RoomInfo {
    const row = this.store.room(roomUri);
    if (!row) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
    this.requireParticipant(roomUri, actor.userUri);
    return this.roomInfo(row);
  }

  /** GroupInfo for a local participant (a new device joining by external commit). */
  groupInfo(actor: HubActor, roomUri: string): GroupInfoResponse {
    const row = this.requireRoom(roomUri);
    if (row.room_state && decodeState(row.room_state, 'stored room state').participants.some((p) => p.user === actor.userUri && p.roleIndex === BANNED_ROLE_INDEX)) {
      throw new ApiFailure('notAllowed', `${actor.userUri} is banned from ${roomUri}`);
    }
    this.requireParticipant(roomUri, actor.userUri);
    if (!row.group_info || !row.ratchet_tree) {
      throw new ApiFailure('notFound', `room ${roomUri} has no GroupInfo yet (no commit accepted so far)`);
    }
    return { epoch: String(row.epoch), groupInfo: toB64(row.group_info), ratchetTree: toB64(row.ratchet_tree) };
  }

  // ---- commits ----

  /** Stateless checks of a commit bundle, before any transaction. */
  private checkCommit(roomUri: string, input: CommitInput): CommitChecked {
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
    const devicesAfter = treeDevices(input.ratchetTree, 'ratchetTree');
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
      ['addUsers', input.addUsers ?? []],
      ['removeUsers', input.removeUsers ?? []],
    ] as const) {
      for (const u of list) if (!isUserUri(u)) throw badRequest(`${field}: ${JSON.stringify(u)} is not a user URI`);
    }
    for (const u of input.addUsers ?? []) if (input.removeUsers?.includes(u)) throw badRequest(`${u} is both added and removed`);
    // Hold the GroupInfo to what the Commit does to the GroupContext extensions: the room state the
    // hub checks is then the one every member's key schedule will confirm.
    const gc = roomStateOf(input.groupInfo);
    let summary: CommitSummary;
    try {
      summary = commitSummary(input.commit);
    } catch (e) {
      throw badRequest(`commit is malformed: ${(e as Error).message}`);
    }
    const proposed = summary.groupContextExtensions;
    if (proposed) {
      const same =
        proposed.length === gc.extensions.length &&
        proposed.every((e, i) => e.extensionType === gc.extensions[i].type && bytesEqual(e.extensionData, gc.extensions[i].data));
      if (!same) throw badRequest('groupInfo: its GroupContext extensions are not the ones the commit\'s GroupContextExtensions proposal sets');
    }
    return { info, external, devicesAfter, welcomeRefs, stateAfter: gc.state, changesExtensions: proposed !== undefined, extensionsAfter: gc.extensions, summary };
  }

  /** A commit from one of our own devices (client API). */
  commit(actor: HubActor, roomUri: string, input: CommitInput): CommitResponse {
    return this.acceptCommit({ kind: 'device', actor }, roomUri, input);
  }

  /** A commit a follower provider forwarded (`/update`). */
  commitFromPeer(peerDomain: string, roomUri: string, input: CommitInput): CommitResponse {
    return this.acceptCommit({ kind: 'peer', domain: peerDomain }, roomUri, input);
  }

  private acceptCommit(source: HubSource, roomUri: string, input: CommitInput): CommitResponse {
    const { info, external, devicesAfter, welcomeRefs, stateAfter, changesExtensions, extensionsAfter, summary } = this.checkCommit(roomUri, input);
    const local = source.kind === 'device' ? source.actor : undefined;
    const commitDigest = digest(input.commit);

    return this.write((queued) => {
      if (local && input.requestId) {
        const done = this.store.idempotentResponse(local.deviceUri, 'commit', input.requestId);
        if (done) return JSON.parse(done) as CommitResponse;
      }
      const room = this.requireRoom(roomUri);
      const epoch = BigInt(room.epoch);
      // A peer retrying a commit whose answer it lost gets the same answer (peers have no request id).
      const seen = local ? undefined : this.store.acceptedByDigest(roomUri, commitDigest);
      if (seen && seen.kind === 'commit') return { epoch: String(BigInt(seen.epoch) + 1n), acceptedTimestamp: seen.accepted_ts };
      if (local && !external && !this.store.isRoomDevice(roomUri, local.deviceUri)) {
        throw new ApiFailure('notMember', `${local.deviceUri} is not a member device of ${roomUri}`);
      }
      // The loser of a race for this epoch ends here: the winner's transaction already moved it.
      if (info.epoch !== epoch) {
        throw new ApiFailure('wrongEpoch', `commit is for epoch ${info.epoch}, the room is at epoch ${epoch}`, {
          currentEpoch: epoch,
        });
      }

      const devicesBefore = this.store.roomDevices(roomUri);
      // The current epoch's tree (index = leaf index) and room state, decoded once for this commit.
      const leavesBefore = room.ratchet_tree ? treeDevices(room.ratchet_tree, 'stored ratchet tree') : undefined;
      const stateBefore = room.room_state ? decodeState(room.room_state, 'stored room state') : undefined;
      const before = new Set(devicesBefore);
      const after = new Set(devicesAfter.filter(Boolean));
      const added = [...after].filter((d) => !before.has(d));
      const removed = devicesBefore.filter((d) => !after.has(d));

      // Who sent it: a member's leaf in the current tree, or the device an external commit adds.
      let sender: string;
      if (external) {
        if (welcomeRefs.length) throw badRequest('an external commit cannot carry a Welcome');
        if (added.length !== 1) throw badRequest(`an external commit must add exactly one device, this one adds ${added.length}`);
        sender = added[0];
        const joinerUser = userOfDevice(sender);
        if (stateBefore?.participants.some((p) => p.user === joinerUser && p.roleIndex === BANNED_ROLE_INDEX)) {
          throw new ApiFailure('notAllowed', `${joinerUser} is banned from ${roomUri}`);
        }
        for (const d of removed) {
          if (userOfDevice(d) !== joinerUser) throw new ApiFailure('notAllowed', `an external commit may only remove its own user's devices, not ${d}`);
        }
        if (!this.store.isParticipant(roomUri, joinerUser) && !this.admitJoiner(roomUri, joinerUser)) {
          throw new ApiFailure('notMember', `${joinerUser} is not a participant of ${roomUri}`);
        }
      } else {
        sender = (leavesBefore ?? devicesBefore)[info.senderLeafIndex ?? -1] ?? '';
        if (!sender || !before.has(sender)) throw badRequest(`commit is signed by leaf ${info.senderLeafIndex}, which holds no member device`);
      }
      if (local && sender !== local.deviceUri) {
        throw new ApiFailure('notAllowed', `commit is signed by ${sender}, not by this device (${local.deviceUri})`);
      }
      if (source.kind === 'peer' && domainOf(sender) !== source.domain) {
        throw new ApiFailure('notAllowed', `${source.domain} cannot submit a commit signed by ${sender}`);
      }
      if (removed.includes(sender)) throw new ApiFailure('notAllowed', 'a commit cannot remove its own sender');
      // Membership is read from the bundle's tree, not from the commit's proposals, so hold the
      // tree to what any commit must keep: no member moves to another leaf (RFC 9420: Remove blanks
      // a leaf, Add fills the leftmost blank one) ...
      if (leavesBefore) {
        leavesBefore.forEach((d, i) => {
          if (d && after.has(d) && devicesAfter[i] !== d) {
            throw badRequest(`ratchetTree moves ${d} from leaf ${i} to leaf ${devicesAfter.indexOf(d)}; a commit never moves a member`);
          }
        });
      }
      // ... and, in a room without room state, a follower removes only its own devices (an
      // external joiner only its own user's, above) or those the hub itself proposed to remove; in
      // a managed room the room policy decides who may remove whom (below).
      if (source.kind === 'peer' && !external && !room.room_state) {
        const proposedByHub = new Set(this.store.pendingRemovals(roomUri));
        for (const d of removed) {
          if (domainOf(d) !== source.domain && !proposedByHub.has(d)) {
            throw new ApiFailure('notAllowed', `${source.domain} cannot remove ${d}, a device of another provider`);
          }
        }
      }
      // ... and the tree's membership changes are the ones the Commit proposes: by-value Removes and
      // Adds, plus referenced proposals the hub holds (its own and members' pending Removes). Then
      // the room policy below judges what the commit really does, not what a bundle claims.
      if (leavesBefore) {
        const byValue = new Set<string>();
        for (const leaf of summary.removes) {
          const d = leavesBefore[leaf];
          if (!d) throw badRequest(`commit removes leaf ${leaf}, which holds no member device`);
          byValue.add(d);
        }
        for (const d of byValue) if (after.has(d)) throw badRequest(`commit removes ${d}, but the ratchetTree keeps it`);
        const pending = new Set(this.store.pendingRemovals(roomUri));
        const byReference = removed.filter((d) => !byValue.has(d));
        for (const d of byReference) {
          if (!pending.has(d) || summary.references === 0) throw badRequest(`ratchetTree drops ${d}, which the commit does not remove`);
        }
        const addedByValue = summary.adds.map((kp) => {
          const cred = kp.leafNode.credential;
          if (cred.credentialType !== 'basic') throw badRequest(`commit adds a KeyPackage with a ${cred.credentialType} credential, not basic`);
          try {
            return fromUtf8(cred.identity);
          } catch {
            throw badRequest('commit adds a KeyPackage whose identity is not UTF-8');
          }
        });
        const addedInTree = added.filter((d) => !(external && d === sender));
        if (addedByValue.length !== addedInTree.length || addedByValue.some((d) => !addedInTree.includes(d))) {
          throw badRequest(`ratchetTree adds ${addedInTree.join(', ') || 'nobody'}, the commit adds ${addedByValue.join(', ') || 'nobody'}`);
        }
      }
      for (const d of input.removeDevices ?? []) {
        if (!before.has(d)) throw badRequest(`cannot remove ${d}: not a member device`);
        if (after.has(d)) throw badRequest(`removeDevices lists ${d}, but the commit keeps it`);
      }

      // Every added device (but an external joiner) needs a Welcome addressed to a KeyPackage that
      // was claimed for this room, here or through this hub.
      const welcomed: string[] = [];
      for (const ref of welcomeRefs) {
        const device = this.store.claimedDevice(ref, roomUri);
        if (!device) throw badRequest('welcome is addressed to a KeyPackage that was not claimed for this room');
        if (!added.includes(device)) throw badRequest(`welcome is addressed to ${device}, whom the commit does not add`);
        if (!welcomed.includes(device)) welcomed.push(device);
      }
      for (const d of added) {
        if (d !== sender || !external) {
          if (!welcomed.includes(d)) throw badRequest(`the commit adds ${d} but the welcome is not addressed to it`);
        }
      }
      if (welcomed.some((d) => domainOf(d) !== this.domain) && !this.fanoutSink) {
        throw new ApiFailure('notAllowed', 'this provider does not federate: it cannot add devices of other providers');
      }

      // The room state: the Commit must keep it (or change it through its proposal), and the room
      // policy must allow everything it does.
      const pendingBefore = new Set(this.store.pendingRemovals(roomUri));
      let managedAfter: RoomState | undefined;
      if (stateBefore || stateAfter) {
        if (!stateBefore) throw new ApiFailure('notAllowed', 'this room has no room state; a commit cannot add one');
        if (!stateAfter) throw new ApiFailure('notAllowed', 'a commit cannot drop the room state');
        if (!changesExtensions && !bytesEqual(room.room_state!, stateAfter)) {
          throw badRequest('groupInfo: the room state differs from the current one, but the commit does not change the GroupContext extensions');
        }
        managedAfter = decodeState(stateAfter, 'groupInfo');
        const extensionsBefore = room.group_info ? roomStateOf(room.group_info).extensions : undefined;
        // The hub proposes Removes (deleted accounts) as the first external sender: no commit may take that away.
        const hubSenderOf = (l: GroupContextExtension[] | undefined) => l?.find((e) => e.type === EXTERNAL_SENDERS_EXTENSION);
        const hubBefore = hubSenderOf(extensionsBefore);
        const hubAfter = hubSenderOf(extensionsAfter);
        if (hubBefore && (!hubAfter || !bytesEqual(hubBefore.data, hubAfter.data) || extensionsAfter[0]?.type !== EXTERNAL_SENDERS_EXTENSION)) {
          throw new ApiFailure('notAllowed', "a commit cannot change or move the room's external_senders (the hub's)");
        }
        let verdict;
        try {
          verdict = checkCommit({
            before: stateBefore,
            after: managedAfter,
            committer: userOfDevice(sender),
            devicesBefore,
            devicesAfter: [...after],
            departed: new Set(removed.filter((d) => pendingBefore.has(d))),
            removedByHub: new Set(this.store.hubRemovals(roomUri)),
            extensionsBefore,
            extensionsAfter,
          });
        } catch (e) {
          if (e instanceof MimiWireError) throw new ApiFailure('notAllowed', `the commit breaks the room state rules: ${e.message}`);
          throw e;
        }
        if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids this commit: ${denialText(verdict)}`);
      }

      // Participant list after the commit.
      const participantsBefore = new Set(this.store.participants(roomUri));
      const participantsAfter = new Set(participantsBefore);
      const usersAfter = new Set([...after].map(userOfDevice));
      if (managedAfter) {
        // A managed room's participants are its list; the request's addUsers/removeUsers are not needed.
        participantsAfter.clear();
        for (const u of listedUsers(managedAfter)) {
          const p = parseMimiUri(u);
          if (!participantsBefore.has(u) && p.domain === this.domain && !this.store.userByUri(u)) {
            throw new ApiFailure('userUnknown', `cannot add ${u}: no such user on ${this.domain}`, { status: 400 });
          }
          participantsAfter.add(u);
        }
      } else if (local) {
        for (const u of input.addUsers ?? []) {
          const p = parseMimiUri(u);
          if (p.domain === this.domain && !this.store.userByUri(u)) {
            throw new ApiFailure('userUnknown', `cannot add ${u}: no such user on ${this.domain}`, { status: 400 });
          }
          participantsAfter.add(u);
        }
        for (const u of input.removeUsers ?? []) {
          if (!participantsBefore.has(u)) throw badRequest(`cannot remove ${u}: not a participant`);
          if (usersAfter.has(u)) throw badRequest(`cannot remove ${u}: the commit keeps some of their devices`);
          participantsAfter.delete(u);
        }
        if (external) participantsAfter.add(userOfDevice(sender));
        for (const d of welcomed) {
          if (!participantsAfter.has(userOfDevice(d))) {
            throw badRequest(`welcome adds ${d}, whose user is not a participant (list it in addUsers)`);
          }
        }
      } else {
        // A follower states no list: users whose devices are added join it, users whose last device
        // is removed leave it.
        for (const d of added) participantsAfter.add(userOfDevice(d));
        for (const d of removed) if (!usersAfter.has(userOfDevice(d))) participantsAfter.delete(userOfDevice(d));
      }

      // A user who left (their own Remove proposals) or whose account was deleted leaves the list
      // once their last device has left the group (a managed room's list says so itself).
      for (const d of managedAfter ? [] : removed) {
        const u = userOfDevice(d);
        const gone = pendingBefore.has(d) || (domainOf(u) === this.domain && !this.store.userByUri(u));
        if (!usersAfter.has(u) && gone) participantsAfter.delete(u);
      }
      // The hub's own pending Removes must be in the next commit (draft-ietf-mimi-protocol-06,
      // "Bob Leaves the Room": the hub requires committers to include its cached proposals).
      const overdue = this.store.pendingRemovals(roomUri).filter((d) => after.has(d));
      if (overdue.length) {
        throw new ApiFailure('notAllowed', `the commit must include the hub's pending Remove proposals (for ${overdue.join(', ')})`);
      }

      const newEpoch = epoch + 1n;
      if (!this.store.advanceEpoch(roomUri, epoch, newEpoch, input.groupInfo, input.ratchetTree)) {
        throw new ApiFailure('wrongEpoch', 'another commit for this epoch was accepted first', {
          currentEpoch: BigInt(this.store.room(roomUri)!.epoch),
        });
      }
      for (const u of participantsBefore) if (!participantsAfter.has(u)) this.store.removeParticipant(roomUri, u);
      for (const u of participantsAfter) if (!participantsBefore.has(u)) this.store.addParticipant(roomUri, u);
      for (const d of removed) this.store.removeRoomDevice(roomUri, d);
      for (const d of added) this.store.addRoomDevice(roomUri, d);
      if (managedAfter) this.store.setRoomState(roomUri, stateAfter!);

      const ts = this.now();
      // Every device that was in the epoch being left hears of the commit, including removed ones
      // (that is how they learn of their removal); the sender already has it.
      const commitEvent = this.store.insertEvent({
        room_uri: roomUri,
        kind: 'commit',
        epoch,
        sender_device: sender,
        payload: input.commit,
        accepted_ts: ts,
      });
      this.fanout(
        roomUri,
        commitEvent,
        devicesBefore.filter((d) => d !== sender),
        { timestamp: BigInt(ts), message: input.commit, kind: 'commit', externalProposals: [] },
        queued,
      );
      if (welcomed.length) {
        const welcomeEvent = this.store.insertEvent({
          room_uri: roomUri,
          kind: 'welcome',
          epoch: newEpoch,
          sender_device: sender,
          payload: input.welcome!,
          ratchet_tree: input.ratchetTree,
          accepted_ts: ts,
        });
        this.fanout(
          roomUri,
          welcomeEvent,
          welcomed,
          { timestamp: BigInt(ts), message: input.welcome!, kind: 'welcome', ratchetTreeOption: { representation: 'full', ratchetTree: decodeRatchetTree(input.ratchetTree) } },
          queued,
        );
      }
      this.store.recordAccepted(roomUri, commitDigest, 'commit', epoch, ts);
      this.proposePendingRemovals(roomUri, queued);
      const response: CommitResponse = { epoch: newEpoch.toString(), acceptedTimestamp: ts };
      if (local && input.requestId) this.store.recordResponse(local.deviceUri, 'commit', input.requestId, JSON.stringify(response), ts);
      return response;
    });
  }

  // ---- standalone proposals ----

  /** Proposals from one of our own devices (client API). */
  proposals(actor: HubActor, roomUri: string, proposals: Uint8Array[]): { acceptedTimestamp: number } {
    return this.acceptProposals({ kind: 'device', actor }, roomUri, proposals);
  }

  /** Proposals a follower forwarded (`/update` with a proposal HandshakeBundle). */
  proposalsFromPeer(peerDomain: string, roomUri: string, proposals: Uint8Array[]): { acceptedTimestamp: number } {
    return this.acceptProposals({ kind: 'peer', domain: peerDomain }, roomUri, proposals);
  }

  /**
   * A member's Remove proposals for its own user's devices: how a user leaves (MLS does not let a
   * device commit its own removal). The hub keeps them pending, fans them out in order, and the
   * next commit must include them (the room policy will allow other proposals later).
   */
  private acceptProposals(source: HubSource, roomUri: string, proposals: Uint8Array[]): { acceptedTimestamp: number } {
    if (proposals.length === 0) throw badRequest('no proposals');
    const parsed = proposals.map((p, i) => {
      const info = peek(p, `proposals[${i}]`);
      if (info.wireFormat !== 'public' || info.contentType !== 'proposal') throw badRequest(`proposals[${i}] is not a PublicMessage proposal`);
      checkGroup(info, roomUri, `proposals[${i}]`);
      if (info.senderType !== 'member') throw new ApiFailure('notAllowed', `proposals[${i}] is from a ${info.senderType} sender, not a member`);
      let body;
      try {
        body = peekProposal(p);
      } catch (e) {
        throw badRequest(`proposals[${i}] is malformed: ${(e as Error).message}`);
      }
      if (body.removed === undefined) throw new ApiFailure('notAllowed', `proposals[${i}]: this hub accepts only Remove proposals from members (proposal type ${body.proposalType})`);
      return { info, removed: body.removed, digest: digest(p) };
    });
    const local = source.kind === 'device' ? source.actor : undefined;
    return this.write((queued) => {
      const room = this.requireRoom(roomUri);
      const epoch = BigInt(room.epoch);
      const seen = local ? undefined : this.store.acceptedByDigest(roomUri, parsed[0].digest);
      if (seen && seen.kind === 'proposal') return { acceptedTimestamp: seen.accepted_ts };
      const devices = this.store.roomDevices(roomUri);
      const leaves = room.ratchet_tree ? treeDevices(room.ratchet_tree, 'stored ratchet tree') : devices;
      let sender = '';
      for (const [i, p] of parsed.entries()) {
        if (p.info.epoch !== epoch) {
          throw new ApiFailure('wrongEpoch', `proposals[${i}] is for epoch ${p.info.epoch}, the room is at epoch ${epoch}`, { currentEpoch: epoch });
        }
        const from = leaves[p.info.senderLeafIndex ?? -1] ?? '';
        if (!from || (sender && from !== sender)) throw badRequest(`proposals[${i}] is not signed by the same member device as the others`);
        sender = from;
        const target = leaves[p.removed] ?? '';
        if (!target) throw badRequest(`proposals[${i}] removes leaf ${p.removed}, which holds no member device`);
        if (userOfDevice(target) !== userOfDevice(from)) {
          throw new ApiFailure('notAllowed', `${userOfDevice(from)} may only propose removing their own devices, not ${target}`);
        }
      }
      if (local && sender !== local.deviceUri) throw new ApiFailure('notAllowed', `the proposals are signed by ${sender}, not by this device`);
      if (source.kind === 'peer' && domainOf(sender) !== source.domain) throw new ApiFailure('notAllowed', `${source.domain} cannot submit proposals signed by ${sender}`);
      if (room.room_state) {
        // Leaving (all of one's devices) is canRemoveSelf, dropping some of them canRemoveOwnClient.
        const user = userOfDevice(sender);
        const removing = new Set(parsed.map((p) => leaves[p.removed]));
        const all = devices.filter((d) => userOfDevice(d) === user).every((d) => removing.has(d));
        const verdict = checkDeparture(decodeState(room.room_state, 'stored room state'), user, all);
        if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids these proposals: ${denialText(verdict)}`);
      }
      const ts = this.now();
      for (const p of parsed) this.store.addPendingRemoval(roomUri, leaves[p.removed], ts);
      // Our devices get each proposal as its own handshake event; followers get one FanoutMessage
      // whose moreProposals is the rest, as the draft asks.
      const recipients = devices.filter((d) => d !== sender);
      const localRecipients = recipients.filter((d) => domainOf(d) === this.domain);
      for (const [i, p] of proposals.entries()) {
        const event = this.store.insertEvent({ room_uri: roomUri, kind: 'commit', epoch, sender_device: sender, payload: p, accepted_ts: ts });
        if (i === 0) {
          this.fanout(roomUri, event, recipients, { timestamp: BigInt(ts), message: p, kind: 'proposal', moreProposals: proposals.slice(1) }, queued);
        } else {
          this.fanout(roomUri, event, localRecipients, { timestamp: BigInt(ts), message: p, kind: 'proposal', moreProposals: [] }, queued);
        }
      }
      this.store.recordAccepted(roomUri, parsed[0].digest, 'proposal', epoch, ts);
      return { acceptedTimestamp: ts };
    });
  }

  // ---- the hub as external sender ----

  /**
   * Have `devices` leave the room: the hub records them and proposes their removal (signed as
   * the room's external sender) in the current epoch; the next commit must include it.
   */
  proposeRemoval(roomUri: string, devices: string[]): void {
    this.write((queued) => {
      this.requireRoom(roomUri);
      const now = this.now();
      const fresh = devices.filter((d) => !this.store.pendingRemovals(roomUri).includes(d));
      for (const d of fresh) this.store.addPendingRemoval(roomUri, d, now, true);
      // Only the new ones: those already pending were proposed in this epoch (by us or a member),
      // and a second Remove of one leaf would make every commit invalid.
      this.proposePendingRemovals(roomUri, queued, new Set(fresh));
    });
  }

  /** Rooms hosted here in which any device of `userUri` is a member. */
  roomsWithDevicesOf(userUri: string): string[] {
    const p = parseMimiUri(userUri);
    return this.store.roomsWithDevicesOf(`mimi://${p.domain}/d/${p.handle}/`);
  }

  /**
   * Proposes, for the room's current epoch, the Removes still pending (or only those in `only`);
   * forgets those done. After a commit every pending one is proposed again: proposals do not
   * outlive their epoch.
   */
  private proposePendingRemovals(roomUri: string, queued: Set<string>, only?: Set<string>): void {
    const pending = this.store.pendingRemovals(roomUri).filter((d) => !only || only.has(d));
    if (pending.length === 0) return;
    const room = this.requireRoom(roomUri);
    const devices = this.store.roomDevices(roomUri);
    const leaves = room.ratchet_tree ? treeDevices(room.ratchet_tree, 'stored ratchet tree') : devices;
    const ts = this.now();
    for (const d of pending) {
      const leaf = leaves.indexOf(d);
      if (leaf < 0) {
        this.store.donePendingRemoval(roomUri, d);
        continue;
      }
      if (!this.externalSenderKey) continue;
      const proposal = externalRemoveProposal({ groupId: roomUri, epoch: BigInt(room.epoch), senderIndex: 0, removed: leaf, signingKey: this.externalSenderKey });
      // Handshake messages share the 'commit' event kind: clients process both in epoch order.
      const event = this.store.insertEvent({ room_uri: roomUri, kind: 'commit', epoch: BigInt(room.epoch), sender_device: `mimi://${this.domain}`, payload: proposal, accepted_ts: ts });
      this.fanout(roomUri, event, devices, { timestamp: BigInt(ts), message: proposal, kind: 'proposal', moreProposals: [] }, queued);
    }
  }

  // ---- abuse reports ----

  /** An abuse report from one of our own users (client API). */
  reportAbuse(actor: HubActor, roomUri: string, report: AbuseReport, encoded: Uint8Array): { id: number } {
    return this.acceptAbuseReport({ kind: 'device', actor }, roomUri, report, encoded);
  }

  /** An abuse report a follower forwarded for one of its users (`/reportAbuse`). */
  reportAbuseFromPeer(peerDomain: string, roomUri: string, report: AbuseReport, encoded: Uint8Array): { id: number } {
    return this.acceptAbuseReport({ kind: 'peer', domain: peerDomain }, roomUri, report, encoded);
  }

  /**
   * Keeps a report for the operator. Negative policy: the reporter must be a participant whose role
   * has canReportAbuse. Reported messages are stored unverified: this hub issues no franks yet.
   */
  private acceptAbuseReport(source: HubSource, roomUri: string, report: AbuseReport, encoded: Uint8Array): { id: number } {
    for (const [field, uri] of [
      ['reportingUser', report.reportingUser],
      ['allegedAbuserUri', report.allegedAbuserUri],
    ] as const) {
      if (!isUserUri(uri)) throw badRequest(`${field} ${JSON.stringify(uri.slice(0, 100))} is not a user URI`);
    }
    if (utf8(report.note).length > MAX_ABUSE_NOTE_BYTES) throw badRequest(`the note is over ${MAX_ABUSE_NOTE_BYTES} bytes`);
    if (report.messages.length > MAX_ABUSE_MESSAGES) throw badRequest(`a report carries at most ${MAX_ABUSE_MESSAGES} messages`);
    if (source.kind === 'device' && report.reportingUser !== source.actor.userUri) {
      throw new ApiFailure('notAllowed', `${source.actor.userUri} cannot report in the name of ${report.reportingUser}`);
    }
    if (source.kind === 'peer' && domainOf(report.reportingUser) !== source.domain) {
      throw new ApiFailure('notAllowed', `${source.domain} cannot report in the name of ${report.reportingUser}, a user of another provider`);
    }
    return this.write(() => {
      const room = this.requireRoom(roomUri);
      this.requireParticipant(roomUri, report.reportingUser);
      if (room.room_state) {
        const state = decodeState(room.room_state, 'stored room state');
        const verdict = checkChange(state.policy, state.participants, report.reportingUser, { kind: 'use', capability: 'canReportAbuse' });
        if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids this report: ${denialText(verdict)}`);
      }
      const id = this.store.addAbuseReport({
        room_uri: roomUri,
        reporter: report.reportingUser,
        alleged: report.allegedAbuserUri,
        reason: report.reasonCode,
        note: report.note,
        messages: report.messages.length,
        report: encoded,
        via_domain: source.kind === 'peer' ? source.domain : null,
        received_at: this.now(),
      });
      return { id };
    });
  }

  // ---- application messages ----

  /** A message from one of our own devices (client API). */
  sendMessage(actor: HubActor, roomUri: string, input: MessageInput): SendMessageResponse {
    return this.acceptMessage({ kind: 'device', actor }, roomUri, input);
  }

  /** A message a follower provider forwarded (`/submitMessage`) on behalf of `input.sendingUri`. */
  messageFromPeer(peerDomain: string, roomUri: string, input: MessageInput): SendMessageResponse {
    return this.acceptMessage({ kind: 'peer', domain: peerDomain }, roomUri, input);
  }

  private acceptMessage(source: HubSource, roomUri: string, input: MessageInput): SendMessageResponse {
    if (input.message.length > MAX_MESSAGE_BYTES) {
      throw new ApiFailure('tooLarge', `message is ${input.message.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
    }
    const info = peek(input.message, 'message');
    if (info.wireFormat !== 'private') throw badRequest(`message must be a PrivateMessage, got ${info.wireFormat}`);
    if (info.contentType !== 'application') {
      throw badRequest(`message carries ${info.contentType} content; only application messages are accepted here`);
    }
    checkGroup(info, roomUri, 'message');
    const local = source.kind === 'device' ? source.actor : undefined;
    // A peer speaks only for its own users, and that is checked before the replay lookup below:
    // otherwise any provider could have an accepted message "accepted" again in someone's name.
    if (source.kind === 'peer') {
      const user = input.sendingUri ?? '';
      if (!isUserUri(user) || domainOf(user) !== source.domain) {
        throw new ApiFailure('notAllowed', `sendingUri ${JSON.stringify(user)} is not a user of ${source.domain}`);
      }
    }
    const messageDigest = digest(input.message);

    return this.write((queued) => {
      if (local && input.requestId) {
        const done = this.store.idempotentResponse(local.deviceUri, 'message', input.requestId);
        if (done) return { ...(JSON.parse(done) as SendMessageResponse), duplicate: true };
      }
      const room = this.requireRoom(roomUri);
      // (Local devices are deduplicated by request id, above.)
      const seen = local ? undefined : this.store.acceptedByDigest(roomUri, messageDigest);
      if (seen && seen.kind === 'message') return { acceptedTimestamp: seen.accepted_ts, duplicate: true };
      const devices = this.store.roomDevices(roomUri);
      let sender: string;
      if (local) {
        if (!devices.includes(local.deviceUri)) {
          throw new ApiFailure('notMember', `${local.deviceUri} is not a member device of ${roomUri}`);
        }
        sender = local.deviceUri;
      } else {
        const user = input.sendingUri!; // a user of the peer's domain (checked above)
        if (!this.store.isParticipant(roomUri, user) || !devices.some((d) => userOfDevice(d) === user)) {
          throw new ApiFailure('notAllowed', `${user} is not an active participant of ${roomUri}`);
        }
        sender = user;
      }
      const epoch = BigInt(room.epoch);
      const msgEpoch = info.epoch!;
      // Checked against the state of the epoch the message names (one epoch of grace, below).
      const stateThen = msgEpoch + 1n === epoch && room.prev_room_state ? room.prev_room_state : room.room_state;
      if (stateThen) {
        // A muted or banned user's messages stop here (negative policy: the hub can read who sent
        // it from the transport, not from the PrivateMessage).
        const senderUser = local ? userOfDevice(sender) : sender;
        const verdict = checkMessage(decodeState(stateThen, 'stored room state'), senderUser);
        if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids this message: ${denialText(verdict)}`);
      }
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
        sender_device: sender,
        payload: input.message,
        accepted_ts: ts,
      });
      // A follower's own device is filtered out by that follower (it knows which device sent it);
      // a follower whose only device in the room is the sender gets nothing.
      let recipients = devices.filter((d) => d !== sender);
      if (!local) {
        const origin = (source as { domain: string }).domain;
        const atOrigin = devices.filter((d) => domainOf(d) === origin);
        if (atOrigin.length === 1) recipients = recipients.filter((d) => d !== atOrigin[0]);
      }
      this.fanout(roomUri, eventId, recipients, { timestamp: BigInt(ts), message: input.message, kind: 'application' }, queued);
      this.store.recordAccepted(roomUri, messageDigest, 'message', msgEpoch, ts);
      const response: SendMessageResponse = { acceptedTimestamp: ts, duplicate: false };
      if (local && input.requestId) this.store.recordResponse(local.deviceUri, 'message', input.requestId, JSON.stringify(response), ts);
      return response;
    });
  }

  /**
   * Deliver an accepted event: an inbox row per local device, one FanoutMessage per follower
   * provider that has any of the devices (the follower fans out to its own devices).
   */
  private fanout(roomUri: string, eventId: number, devices: string[], message: Fields<FanoutMessage>, queued: Set<string>): void {
    const domains = new Set<string>();
    for (const d of devices) {
      const domain = domainOf(d);
      if (domain === this.domain) {
        if (!this.store.deviceExists(d)) continue; // its account was deleted; its leaf goes soon
        this.store.enqueue(d, eventId);
        queued.add(d);
      } else domains.add(domain);
    }
    if (domains.size === 0) return;
    if (!this.fanoutSink) throw new Error(`room ${roomUri} has remote devices but this provider does not federate`);
    const body = encodeFanoutMessage(message);
    for (const domain of domains) this.fanoutSink.enqueue(domain, roomUri, body);
  }
}
