// The hub of the rooms this provider hosts: room creation and destruction, the one-commit-per-epoch
// rule, message acceptance and fanout. It knows nothing about HTTP: the client API (local devices)
// and the MIMI `/update`, `/submitMessage` and `/reportAbuse` endpoints (follower providers) call
// the same acceptance code with a different `HubSource`. Inputs are decoded bytes; every state
// change of one call happens in one store transaction: local devices get inbox rows, follower
// providers get rows in the durable fanout outbox, in the same transaction. Devices and followers
// are told only after it committed.
//
// This class is the entry point; the work is done by concern in hub/: rooms.ts (lifecycle),
// commits.ts, proposals.ts (leaving, and the hub as external sender), messages.ts,
// abuse-reports.ts, routing.ts (where an accepted event goes), with hub/core.ts holding what they
// share. Members may be devices or client pseudonyms (room-members.ts): the hub keeps the
// pseudonyms and delivers to the device behind one of its own only through that device's inbox.

import type { AbuseReport } from '../src-shared/mimi-protocol.js';
import type { CommitResponse, GroupInfoResponse, RoomInfo, SendMessageResponse } from '../src-shared/provider-api.js';
import { toB64 } from '../src-shared/bytes.js';
import { ApiFailure } from './errors.js';
import { acceptAbuseReport } from './hub/abuse-reports.js';
import { acceptCommit } from './hub/commits.js';
import { HubCore, type CommitInput, type HubActor, type HubOptions, type MessageInput } from './hub/core.js';
import { acceptMessage } from './hub/messages.js';
import { acceptProposals, hostedMembersOfAccount, proposeRemoval } from './hub/proposals.js';
import { proposeBan } from './hub/bans.js';
import { createRoom, destroyRoom, getRoom, groupInfo, listRooms, type InitialGroup } from './hub/rooms.js';
import { WriteBatch } from './write-batch.js';

/** Failures a client retries (the outbox keeps the message and what follows it in its room). */
const RETRYABLE = new Set(['epochTooOld', 'peerUnreachable', 'rateLimited', 'internal']);

export type { CommitInput, FanoutSink, HubActor, HubOptions, HubSource, MessageInput } from './hub/core.js';

export class Hub {
  readonly domain: string;
  private readonly core: HubCore;
  /** Group commit of concurrent messages (write-batch.ts). */
  readonly writes: WriteBatch;

  constructor(opts: HubOptions & { writes?: WriteBatch }) {
    this.core = new HubCore(opts);
    this.domain = opts.domain;
    this.writes = opts.writes ?? new WriteBatch(opts.store);
  }

  /** True when this provider hosts `roomUri` (not merely follows it as a member's provider). */
  hosts(roomUri: string): boolean {
    return this.core.store.hostedRoom(roomUri) !== undefined;
  }

  // ---- rooms ----

  /**
   * A new room. `initial` is its epoch 0 GroupInfo and tree: a room state in that GroupContext
   * makes the room managed (the creator alone on the list), and the hub enforces it from then on.
   */
  createRoom(actor: HubActor, roomUri: string, initial?: InitialGroup): RoomInfo {
    return createRoom(this.core, actor, roomUri, initial);
  }

  /** The rooms a local account is in, as itself or as one of its pseudonyms: hosted here, or (as a follower) elsewhere. */
  listRooms(actor: HubActor): RoomInfo[] {
    return listRooms(this.core, actor);
  }

  getRoom(actor: HubActor, roomUri: string): RoomInfo {
    return getRoom(this.core, actor, roomUri);
  }

  /** GroupInfo for a local participant (a new device joining by external commit), as its user or `asPseudonym`. */
  groupInfo(actor: HubActor, roomUri: string, asPseudonym?: string): GroupInfoResponse {
    return groupInfo(this.core, actor, roomUri, asPseudonym);
  }

  /** The GroupInfo for a joiner who was just given an admission ticket (join-links.ts). */
  groupInfoForTicket(roomUri: string): GroupInfoResponse {
    const row = this.core.requireRoom(roomUri);
    if (!row.group_info || !row.ratchet_tree) throw new ApiFailure('notFound', `room ${roomUri} has no GroupInfo yet (no commit accepted so far)`);
    return { epoch: String(row.epoch), groupInfo: toB64(row.group_info), ratchetTree: toB64(row.ratchet_tree) };
  }

  /** Deletes a hosted room for a participant whose role has canDestroyRoom (as its user or `asPseudonym`). */
  destroyRoom(actor: HubActor, roomUri: string, asPseudonym?: string): { destroyed: true } {
    return destroyRoom(this.core, actor, roomUri, asPseudonym);
  }

  // ---- commits ----

  /** A commit from one of our own devices (client API). */
  commit(actor: HubActor, roomUri: string, input: CommitInput): CommitResponse {
    return acceptCommit(this.core, { kind: 'device', actor }, roomUri, input);
  }

  /**
   * commit through the group commit (write-batch.ts), so that a device's commit keeps its place
   * among the messages that arrived before and after it; resolved once its batch has committed.
   */
  submitCommit(actor: HubActor, roomUri: string, input: CommitInput): Promise<CommitResponse> {
    return this.writes.run(() => acceptCommit(this.core, { kind: 'device', actor }, roomUri, input));
  }

  /** A commit a follower provider forwarded (`/update`). */
  commitFromPeer(peerDomain: string, roomUri: string, input: CommitInput): CommitResponse {
    return acceptCommit(this.core, { kind: 'peer', domain: peerDomain }, roomUri, input);
  }

  // ---- standalone proposals ----

  /** Proposals from one of our own devices (client API). */
  proposals(actor: HubActor, roomUri: string, proposals: Uint8Array[]): { acceptedTimestamp: number } {
    return acceptProposals(this.core, { kind: 'device', actor }, roomUri, proposals);
  }

  /** Proposals a follower forwarded (`/update` with a proposal HandshakeBundle). */
  proposalsFromPeer(peerDomain: string, roomUri: string, proposals: Uint8Array[]): { acceptedTimestamp: number } {
    return acceptProposals(this.core, { kind: 'peer', domain: peerDomain }, roomUri, proposals);
  }

  // ---- the hub as external sender ----

  /**
   * Have the members `identities` leave the room: the hub records them and proposes their removal
   * (signed as the room's external sender) in the current epoch; the next commit must include it.
   */
  proposeRemoval(roomUri: string, identities: string[]): void {
    proposeRemoval(this.core, roomUri, identities);
  }

  /** Bans `user` from a hosted room (its operator's decision): see hub/bans.ts. */
  proposeBan(roomUri: string, user: string): { members: string[] } {
    return proposeBan(this.core, roomUri, user);
  }

  /** The members (devices, client pseudonyms) an account has in rooms hosted here, by room. */
  membersOfAccount(actor: HubActor): Map<string, string[]> {
    return hostedMembersOfAccount(this.core, actor);
  }

  // ---- abuse reports ----

  /** An abuse report from one of our own users (client API). */
  reportAbuse(actor: HubActor, roomUri: string, report: AbuseReport, encoded: Uint8Array): { id: number } {
    return acceptAbuseReport(this.core, { kind: 'device', actor }, roomUri, report, encoded);
  }

  /** An abuse report a follower forwarded for one of its users (`/reportAbuse`). */
  reportAbuseFromPeer(peerDomain: string, roomUri: string, report: AbuseReport, encoded: Uint8Array): { id: number } {
    return acceptAbuseReport(this.core, { kind: 'peer', domain: peerDomain }, roomUri, report, encoded);
  }

  // ---- application messages ----

  /** A message from one of our own devices (client API). */
  sendMessage(actor: HubActor, roomUri: string, input: MessageInput): SendMessageResponse {
    return acceptMessage(this.core, { kind: 'device', actor }, roomUri, input);
  }

  /**
   * sendMessage through the group commit: accepted in one transaction with the other messages of
   * this turn of the event loop, and resolved only once that transaction has committed.
   */
  submitMessage(actor: HubActor, roomUri: string, input: MessageInput): Promise<SendMessageResponse> {
    return this.writes.run(() => acceptMessage(this.core, { kind: 'device', actor }, roomUri, input));
  }

  /**
   * Several messages from one of our own devices (ROUTES.sendMessageBatch), each exactly as
   * submitMessage would take it, all in ONE transaction of the group commit, in this order: one
   * outcome per entry, settled once that transaction committed. An entry that fails rolls back
   * only itself; an entry whose room had an earlier entry here fail with a retryable error is not
   * tried and gets that error too, so a client's retry keeps the room's order.
   */
  submitMessages(actor: HubActor, entries: readonly { roomUri: string; input: MessageInput }[]): Promise<PromiseSettledResult<SendMessageResponse>[]> {
    const stopped = new Map<string, ApiFailure>();
    return this.writes.runAll(
      entries.map(({ roomUri, input }) => () => {
        const earlier = stopped.get(roomUri);
        if (earlier) {
          throw new ApiFailure(earlier.code, `not tried: an earlier message of this batch for the same room failed (${earlier.message})`, { status: earlier.status, currentEpoch: earlier.currentEpoch });
        }
        try {
          return acceptMessage(this.core, { kind: 'device', actor }, roomUri, input);
        } catch (e) {
          if (e instanceof ApiFailure && RETRYABLE.has(e.code)) stopped.set(roomUri, e);
          else if (!(e instanceof ApiFailure)) stopped.set(roomUri, new ApiFailure('internal', 'internal server error'));
          throw e;
        }
      }),
    );
  }

  /** messageFromPeer through the group commit (see submitMessage). */
  submitMessageFromPeer(peerDomain: string, roomUri: string, input: MessageInput): Promise<SendMessageResponse> {
    return this.writes.run(() => acceptMessage(this.core, { kind: 'peer', domain: peerDomain }, roomUri, input));
  }

  /** A message a follower provider forwarded (`/submitMessage`) on behalf of `input.sendingUri`. */
  messageFromPeer(peerDomain: string, roomUri: string, input: MessageInput): SendMessageResponse {
    return acceptMessage(this.core, { kind: 'peer', domain: peerDomain }, roomUri, input);
  }
}
