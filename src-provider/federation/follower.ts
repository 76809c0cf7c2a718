// The follower side of a room hosted by another provider (draft-ietf-mimi-protocol-06): our own
// devices' commits and messages go to the hub as `/update` and `/submitMessage`, and the hub's
// `/notify` fanout comes back here to be queued for our devices in the room.
//
// What a follower knows of a remote room is only what concerns its own users: a `rooms` row with
// hub_domain set, its own members in room_devices (added when a Welcome for them arrives or when
// one of them joins by external commit; gone when a commit removes them) and their users in
// room_participants. It never sees plaintext, and it does not keep the room's tree: only its own
// members' leaf indexes, and the epoch's Remove proposals, to see which commit removes one of them.
//
// A member of ours may be a device or a client pseudonym we issued (room-members.ts): then the
// room's rows, events and the `forwarded` notes name the pseudonym and its user pseudonym, and only
// the device's inbox rows name the device. Before it forwards a member's commit or message, the
// follower checks that the device may act as that member (the pseudonyms are its own to vouch for:
// the hub cannot tell who is behind them).
//
// A hub that answers a member's request with roomUnknown no longer has the room (it was destroyed):
// the follower then drops what it kept of it, so its members find it unknown here too.

import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parseMimiUri, userOfDevice } from '../../src-shared/identifiers.js';
import { MlsWireError, peekMlsMessage, peekProposal, welcomeRecipients } from '../../src-shared/mls-wire.js';
import { commitSummary, decodeGroupInfo, decodeRatchetTree, decodeWelcome, encodeRatchetTree, proposalRef, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import {
  decodeFanoutListRaw,
  decodeSubmitMessageResponse,
  encodeFrank,
  decodeUpdateRoomResponse,
  encodeSubmitMessageRequest,
  encodeUpdateRequest,
  MimiWireError,
  type FanoutMessage,
} from '../../src-shared/mimi-protocol.js';
import { MAX_MESSAGE_BYTES, type CommitResponse, type SendMessageResponse } from '../../src-shared/provider-api.js';
import { ApiFailure, badRequest } from '../errors.js';
import type { CommitInput, HubActor, MessageInput } from '../hub.js';
import { LocalIdentities, treeMembers, type RoomMember } from '../room-members.js';
import type { Store } from '../store.js';
import { FANOUT_HEADERS, OUT_OF_ORDER_STATUS } from './fanout-outbox.js';
import { peerFailure, type PeerClient, type PeerEndpoint } from './peer-client.js';
import type { S2sReply } from './s2s-handler.js';
import type { SeenLog } from './seen-log.js';
import { decodeApplicationRun, type NotifyItem } from './notify-decode.js';
import { NotifyWriter, type MessageRow } from './notify-store.js';

export interface FollowerOptions {
  domain: string;
  store: Store;
  peerClient: Pick<PeerClient, 'post'>;
  seenLog: SeenLog;
  now?: () => number;
  /** Called after a transaction that queued events for these devices has committed. */
  onQueued?: (deviceUris: string[]) => void;
  /**
   * Reuse the room's member lookup across the consecutive application messages of one /notify
   * (default true); false: looked up for every message (the bench's per-request baseline).
   */
  reuseMemberLookup?: boolean;
  /** How long a pipelined /notify waits for the batch it follows before it is refused (409); default 2 s. */
  orderWaitMs?: number;
}

/** Whether a followed room exists here, and its members with the device each is delivered to. */
interface MemberView {
  exists: boolean;
  delivery: { identity: string; device: string | undefined }[];
}

/** Largest MLS epoch a follower records: a commit's epoch + 1 must still fit a signed 64-bit INTEGER. */
const MAX_EPOCH = 2n ** 63n - 2n;

const digest: (bytes: Uint8Array) => Uint8Array =
  typeof crypto.hash === 'function' ? (bytes) => crypto.hash('sha256', bytes, 'buffer') : (bytes) => new Uint8Array(crypto.createHash('sha256').update(bytes).digest());

/** Most /notify requests waiting for their turn at once (each holds its body). */
const MAX_ORDER_WAITERS = 256;
/** More FanoutMessages than fit a request body (1 MiB, at least 8 bytes each) cannot be named. */
const MAX_NOTIFY_MESSAGES = 1 << 17;

/** A /notify's place in its hub's fanout sequence (fanout-outbox.ts): absent from hubs that do not send it. */
export interface FanoutSequence {
  stream: string;
  /** The hub outbox id of each FanoutMessage of the body, ascending. */
  ids: number[];
  /** The last id of the room's batch it follows, when that one may still be unapplied. */
  after?: number;
}

const MAX_ID = 2 ** 53 - 1;

/** The sequence headers of a /notify; undefined when the hub sent none, 400 when malformed. */
export function fanoutSequence(headers: IncomingHttpHeaders | undefined): FanoutSequence | undefined {
  const stream = headers?.[FANOUT_HEADERS.stream];
  const ids = headers?.[FANOUT_HEADERS.ids];
  const after = headers?.[FANOUT_HEADERS.after];
  if (stream === undefined && ids === undefined && after === undefined) return undefined;
  const id = (v: string, name: string): number => {
    if (!/^[1-9]\d{0,15}$/.test(v) || Number(v) > MAX_ID) throw badRequest(`${name}: ${JSON.stringify(v.slice(0, 20))} is not a positive integer`);
    return Number(v);
  };
  if (typeof stream !== 'string' || !/^[0-9A-Za-z_-]{1,64}$/.test(stream)) throw badRequest(`${FANOUT_HEADERS.stream} must be 1 to 64 letters, digits, - or _`);
  if (typeof ids !== 'string' || ids.length === 0) throw badRequest(`${FANOUT_HEADERS.ids} is missing`);
  const seq: FanoutSequence = { stream, ids: [] };
  for (const part of ids.split(',')) {
    const dash = part.indexOf('-');
    const from = id(dash < 0 ? part : part.slice(0, dash), FANOUT_HEADERS.ids);
    const to = dash < 0 ? from : id(part.slice(dash + 1), FANOUT_HEADERS.ids);
    const prev = seq.ids.length ? seq.ids[seq.ids.length - 1] : 0;
    if (from <= prev || to < from) throw badRequest(`${FANOUT_HEADERS.ids} must be ascending`);
    if (seq.ids.length + (to - from + 1) > MAX_NOTIFY_MESSAGES) throw badRequest(`${FANOUT_HEADERS.ids} names more than ${MAX_NOTIFY_MESSAGES} messages`);
    for (let i = from; i <= to; i++) seq.ids.push(i);
  }
  if (typeof after === 'string') {
    seq.after = id(after, FANOUT_HEADERS.after);
    if (seq.after >= seq.ids[0]) throw badRequest(`${FANOUT_HEADERS.after} must be below the first of ${FANOUT_HEADERS.ids}`);
  } else if (after !== undefined) throw badRequest(`${FANOUT_HEADERS.after} must be one value`);
  return seq;
}

/** Hub domain of a room URI, or a 400 for something that is not a room URI. */
export function hubOf(roomUri: string): string {
  try {
    const p = parseMimiUri(roomUri);
    if (p.kind === 'room') return p.domain;
  } catch {
    /* below */
  }
  throw badRequest(`${JSON.stringify(roomUri)} is not a room URI (mimi://<domain>/r/<id>)`);
}

function mlsBody(bytes: Uint8Array, wireFormat: string, what: string): Uint8Array {
  try {
    const m = unwrapMlsMessage(bytes);
    if (m.wireFormat !== wireFormat) throw new MlsWireError(`is an MLS ${m.wireFormat} message, not ${wireFormat}`);
    return m.body;
  } catch (e) {
    if (e instanceof MlsWireError) throw badRequest(`${what} ${e.message}`);
    throw e;
  }
}

/** Which rows a provisional join created. */
interface JoinRows {
  room: boolean;
  device: boolean;
  participant: boolean;
}

/** How often a /notify waiting for its turn looks again on PostgreSQL (several nodes apply). */
const ORDER_POLL_MS = 25;

export class Follower {
  private readonly domain: string;
  private readonly store: Store;
  private readonly peers: Pick<PeerClient, 'post'>;
  private readonly seen: SeenLog;
  private readonly now: () => number;
  private readonly onQueued: (deviceUris: string[]) => void;
  private readonly identities: LocalIdentities;
  private readonly reuseMemberLookup: boolean;
  /** Pipelined /notify requests waiting for the batch they follow, per `${hub} ${room}`. */
  private readonly waiting = new Map<string, Set<() => void>>();
  private waiters = 0;
  private readonly orderWaitMs: number;
  private readonly writer: NotifyWriter;

  constructor(opts: FollowerOptions) {
    this.orderWaitMs = opts.orderWaitMs ?? 2000;
    this.reuseMemberLookup = opts.reuseMemberLookup ?? true;
    this.domain = opts.domain;
    this.store = opts.store;
    this.identities = new LocalIdentities(opts.store, opts.domain);
    this.peers = opts.peerClient;
    this.seen = opts.seenLog;
    this.now = opts.now ?? Date.now;
    this.onQueued = opts.onQueued ?? (() => {});
    this.writer = new NotifyWriter(opts.store);
  }

  /** One of our devices is in the remote room, as itself or as a client pseudonym (as far as this follower knows). */
  isMemberDevice(roomUri: string, deviceUri: string): boolean {
    return this.identities.membersOfDevice(roomUri, deviceUri).length > 0;
  }

  /** MIMI has no way to ask a hub to destroy a room: only the hub's own users can (hub.ts destroyRoom). */
  destroyRoom(roomUri: string): never {
    throw new ApiFailure(
      'notAllowed',
      `${roomUri} is hosted by ${hubOf(roomUri)}: only users of that provider can destroy it (MIMI has no request for a follower to ask a hub to)`,
    );
  }

  /**
   * The member of ours a forwarded commit comes from, found in its new tree: a member's own leaf
   * (its index in the commit header), or the one leaf an external commit gives this device. The
   * device must be allowed to act as it.
   */
  private committingMember(actor: HubActor, roomUri: string, ratchetTree: Uint8Array, senderLeafIndex: number | undefined, external: boolean): RoomMember {
    const members = treeMembers(ratchetTree, 'ratchetTree');
    let member: RoomMember | undefined;
    if (external) {
      const own = members.filter((m): m is RoomMember => m !== undefined && this.identities.isDevicesIdentity(m.identity, actor.deviceUri));
      if (own.length !== 1) {
        throw new ApiFailure('notAllowed', `an external commit of ${actor.deviceUri} adds exactly one member that is this device or a client pseudonym issued to it; this one adds ${own.length}`);
      }
      member = own[0];
    } else {
      member = members[senderLeafIndex ?? -1];
      if (!member || !this.store.isRoomDevice(roomUri, member.identity)) {
        throw new ApiFailure('notAllowed', `commit is signed by leaf ${senderLeafIndex}, which holds no member of this device in ${roomUri}`);
      }
    }
    const problem = this.identities.ownershipProblem(actor.deviceUri, member);
    if (problem) throw new ApiFailure('notAllowed', `commit is signed by ${member.identity}: ${problem}`);
    return member;
  }

  /** True when `roomUri` is hosted by another provider. */
  isRemote(roomUri: string): boolean {
    try {
      return hubOf(roomUri) !== this.domain;
    } catch {
      return false; // not a room URI: the local path answers roomUnknown
    }
  }

  // ---- our devices -> the hub ----

  async forwardCommit(actor: HubActor, roomUri: string, input: CommitInput): Promise<CommitResponse> {
    const hub = hubOf(roomUri);
    if (input.requestId) {
      const done = this.store.idempotentResponse(actor.deviceUri, 'commit', input.requestId);
      if (done) return JSON.parse(done) as CommitResponse;
    }
    let info;
    try {
      info = peekMlsMessage(input.commit);
    } catch (e) {
      throw badRequest(`commit is not a valid MLSMessage: ${(e as Error).message}`);
    }
    if (info.wireFormat !== 'public' || info.contentType !== 'commit') throw badRequest('commit must be a PublicMessage carrying a Commit');
    const external = info.senderType === 'new_member_commit';
    if (!external && !this.isMemberDevice(roomUri, actor.deviceUri)) {
      throw new ApiFailure('notMember', `${actor.deviceUri} is not a member device of ${roomUri}`);
    }
    const member = this.committingMember(actor, roomUri, input.ratchetTree, info.senderLeafIndex, external);
    let body: Uint8Array;
    try {
      body = encodeUpdateRequest({
        bundle: {
          proposalOrCommit: input.commit,
          contentType: 'commit',
          ...(input.welcome ? { welcome: decodeWelcome(mlsBody(input.welcome, 'welcome', 'welcome')) } : {}),
          groupInfoOption: { representation: 'full', groupInfo: decodeGroupInfo(mlsBody(input.groupInfo, 'groupInfo', 'groupInfo')) },
          ratchetTreeOption: { representation: 'full', ratchetTree: decodeRatchetTree(input.ratchetTree) },
        },
      });
    } catch (e) {
      if (e instanceof ApiFailure) throw e;
      throw badRequest(`commit bundle is malformed: ${(e as Error).message}`);
    }
    // Before the request: the hub's fanout of this commit (and of what follows it) may reach us
    // before its answer does, and must find the joining device. Until the hub accepts, these rows
    // are provisional: any refusal or failure undoes exactly what was written here, in one
    // transaction, so a made-up room leaves nothing behind (not even its rooms row).
    const commitDigest = digest(input.commit);
    const provisional = this.store.tx(() => {
      this.store.recordForwarded(commitDigest, member.identity, this.now());
      return external ? this.join(roomUri, hub, member) : undefined;
    });
    const undo = () =>
      this.store.tx(() => {
        this.store.forgetForwarded(commitDigest, member.identity);
        if (provisional) this.undoJoin(roomUri, member, provisional);
      });
    let res;
    try {
      res = await this.askHub(hub, 'update', roomUri, body, decodeUpdateRoomResponse, `the room's hub ${hub} did not take the change`);
    } catch (e) {
      // A member's commit whose answer timed out may still have been accepted: keep its forwarded
      // row (it expires) so the fanout is not handed back to the sender. A joiner is undone in full.
      if (external || !(e instanceof ApiFailure && e.code === 'peerUnreachable')) undo();
      throw e;
    }
    if (res.responseCode !== 'success') {
      undo();
      if (res.responseCode === 'wrongEpoch') {
        throw new ApiFailure('wrongEpoch', `the hub is at epoch ${res.currentEpoch}: ${res.errorDescription}`, { currentEpoch: res.currentEpoch });
      }
      if (res.responseCode === 'invalidProposal') throw badRequest(`the hub ${hub} found the change invalid: ${res.errorDescription}`);
      throw new ApiFailure('notAllowed', `the hub ${hub} does not allow this change: ${res.errorDescription}`);
    }
    const response: CommitResponse = { epoch: String(info.epoch! + 1n), acceptedTimestamp: Number(res.acceptedTimestamp) };
    this.store.tx(() => {
      this.store.noteFollowerEpoch(roomUri, info.epoch! + 1n);
      this.noteLeaves(roomUri, input.ratchetTree);
      if (input.requestId) this.store.recordResponse(actor.deviceUri, 'commit', input.requestId, JSON.stringify(response), this.now());
    });
    return response;
  }

  /** A local user's abuse report about a room hosted elsewhere: to that room's hub (`/reportAbuse`). */
  async forwardAbuseReport(roomUri: string, encoded: Uint8Array): Promise<void> {
    try {
      await this.peers.post(hubOf(roomUri), 'reportAbuse', roomUri, encoded);
    } catch (e) {
      throw peerFailure(e, 'the abuse report');
    }
  }

  /** Our device's standalone proposals (leaving: Removes of its own user's devices) to the hub. */
  async forwardProposals(actor: HubActor, roomUri: string, proposals: Uint8Array[]): Promise<{ acceptedTimestamp: number }> {
    const hub = hubOf(roomUri);
    if (proposals.length === 0) throw badRequest('no proposals');
    // Whoever it is in the room as (a retired pseudonym may still leave); the hub checks the leaves.
    const [member] = this.identities.membersOfDevice(roomUri, actor.deviceUri);
    if (!member) throw new ApiFailure('notMember', `${actor.deviceUri} is not a member device of ${roomUri}`);
    let body: Uint8Array;
    try {
      body = encodeUpdateRequest({ bundle: { proposalOrCommit: proposals[0], contentType: 'proposal', moreProposals: proposals.slice(1) } });
    } catch (e) {
      throw badRequest(`proposals are malformed: ${(e as Error).message}`);
    }
    const digests = proposals.map(digest);
    this.store.tx(() => {
      for (const d of digests) this.store.recordForwarded(d, member.identity, this.now());
      // The hub does not send a member's proposals back to it: the commit naming them needs them here.
      for (const p of proposals) this.noteRemoveProposal(roomUri, p);
    });
    const forget = () => this.store.tx(() => digests.forEach((d) => this.store.forgetForwarded(d, member.identity)));
    const res = await this.askHub(hub, 'update', roomUri, body, decodeUpdateRoomResponse, `the room's hub ${hub} did not take the proposals`).catch((e: unknown) => {
      if (!(e instanceof ApiFailure && e.code === 'peerUnreachable')) forget(); // a timeout may have been accepted
      throw e;
    });
    if (res.responseCode !== 'success') forget();
    if (res.responseCode === 'wrongEpoch') {
      throw new ApiFailure('wrongEpoch', `the hub is at epoch ${res.currentEpoch}: ${res.errorDescription}`, { currentEpoch: res.currentEpoch });
    }
    if (res.responseCode === 'invalidProposal') throw badRequest(`the hub ${hub} found the proposals invalid: ${res.errorDescription}`);
    if (res.responseCode !== 'success') throw new ApiFailure('notAllowed', `the hub ${hub} does not allow this: ${res.errorDescription}`);
    return { acceptedTimestamp: Number(res.acceptedTimestamp) };
  }

  async forwardMessage(actor: HubActor, roomUri: string, input: MessageInput): Promise<SendMessageResponse> {
    const hub = hubOf(roomUri);
    if (input.message.length > MAX_MESSAGE_BYTES) {
      throw new ApiFailure('tooLarge', `message is ${input.message.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
    }
    if (input.requestId) {
      const done = this.store.idempotentResponse(actor.deviceUri, 'message', input.requestId);
      if (done) return { ...(JSON.parse(done) as SendMessageResponse), duplicate: true };
    }
    // The member it sends as: the device, or its client pseudonym whose user it names (the
    // PrivateMessage hides the sender; the hub checks the user it is told against the room).
    const member = this.identities.actingMember(roomUri, this.identities.membersOfDevice(roomUri, actor.deviceUri), actor, input.asPseudonym);
    let body: Uint8Array;
    try {
      body = encodeSubmitMessageRequest({ protocol: 'mls10', appMessage: input.message, sendingUri: member.user });
    } catch (e) {
      throw badRequest(`message is not a PrivateMessage carrying application data: ${(e as Error).message}`);
    }
    const messageDigest = digest(input.message);
    this.store.recordForwarded(messageDigest, member.identity, this.now());
    const forget = () => this.store.forgetForwarded(messageDigest, member.identity);
    const res = await this.askHub(hub, 'submitMessage', roomUri, body, decodeSubmitMessageResponse, `the room's hub ${hub} did not take the message`).catch((e: unknown) => {
      if (!(e instanceof ApiFailure && e.code === 'peerUnreachable')) forget(); // a timeout may have been accepted
      throw e;
    });
    if (res.statusCode !== 'success') forget();
    if (res.statusCode === 'epochTooOld') {
      throw new ApiFailure('epochTooOld', `the hub is at epoch ${res.currentEpoch}`, { currentEpoch: res.currentEpoch });
    }
    if (res.statusCode !== 'success') throw new ApiFailure('notAllowed', `the hub ${hub} does not allow this message`);
    const response: SendMessageResponse = { acceptedTimestamp: Number(res.acceptedTimestamp), duplicate: false };
    if (input.requestId) this.store.recordResponse(actor.deviceUri, 'message', input.requestId, JSON.stringify(response), this.now());
    return response;
  }

  /** Posts to the room's hub and decodes its answer: a malformed one is a 502, a failed request what peerFailure makes of it. */
  private async askHub<T>(hub: string, endpoint: PeerEndpoint, roomUri: string, body: Uint8Array, decode: (b: Uint8Array) => T, what: string): Promise<T> {
    try {
      return decode((await this.peers.post(hub, endpoint, roomUri, body)).body);
    } catch (e) {
      if (e instanceof MimiWireError) throw new ApiFailure('notAllowed', `the hub ${hub} sent a malformed answer: ${e.message}`, { status: 502 });
      const failure = peerFailure(e, what);
      // The hub no longer has the room: neither do we.
      if (failure.code === 'roomUnknown') this.store.tx(() => this.store.deleteFollowerRoom(roomUri));
      throw failure;
    }
  }

  // ---- the hub -> our devices (/notify) ----

  /**
   * `POST /notify/{roomId}` from `peer`. Only the room's hub may notify; every FanoutMessage is
   * applied at most once (seen log), all of one request in one transaction, and answered 201.
   * With the hub's sequence headers (fanout-outbox.ts), a batch that follows another of the room
   * is applied only after that one: it waits for it (up to orderWaitMs), else it is refused with
   * 409 and the hub sends it again. Every 201 says that this follower keeps that order.
   */
  notify(peer: string, roomUri: string, body: Uint8Array, headers?: IncomingHttpHeaders): S2sReply | Promise<S2sReply> {
    const hub = hubOf(roomUri);
    if (hub !== peer) throw new ApiFailure('notAllowed', `${peer} is not the hub of ${roomUri} (${hub} is)`);
    if (hub === this.domain) throw new ApiFailure('notAllowed', `${roomUri} is hosted here; nobody notifies us of it`);
    const seq = fanoutSequence(headers);
    const messages = this.decodeNotify(roomUri, body, seq);
    const apply = () => this.applyNotify(peer, roomUri, hub, messages, seq);
    if (seq?.after === undefined || this.inTurn(peer, roomUri, seq)) return apply();
    return this.awaitTurn(peer, roomUri, seq).then((ready) => (ready ? apply() : this.outOfOrder()));
  }

  /**
   * The FanoutMessages of a /notify body, each checked to belong to `roomUri` at a storable epoch:
   * a bad message refuses the whole request. A body of application messages only (the bulk of a
   * fanout) is read without copies (notify-decode.ts); anything else, malformed bodies included,
   * by the general decoder, which also words every refusal.
   */
  private decodeNotify(roomUri: string, body: Uint8Array, seq: FanoutSequence | undefined): NotifyItem[] {
    const idsMatch = (n: number) => {
      if (seq && seq.ids.length !== n) throw badRequest(`${FANOUT_HEADERS.ids} names ${seq.ids.length} messages, the body holds ${n}`);
    };
    const roomId = Buffer.from(roomUri, 'utf8');
    // A room URI that does not survive UTF-8 (a lone surrogate) is compared as the general path does.
    if (roomId.toString('utf8') === roomUri) {
      const fast = decodeApplicationRun(body, roomId, MAX_EPOCH);
      if (fast) {
        idsMatch(fast.length);
        return fast;
      }
    }
    let messages: { message: FanoutMessage; raw: Uint8Array }[];
    try {
      messages = decodeFanoutListRaw(body);
    } catch (e) {
      throw badRequest(`notify body is not a list of FanoutMessages: ${(e as Error).message}`);
    }
    idsMatch(messages.length);
    // Whole-request checks before any state changes: a bad message refuses the request.
    return messages.map(({ message: m, raw }, i): NotifyItem => {
      if (m.kind === 'welcome') return { message: m, raw, epoch: undefined, frank: null };
      const info = peekMlsMessage(m.message);
      const group = info.groupId ? Buffer.from(info.groupId).toString('utf8') : '';
      if (group !== roomUri) throw badRequest(`FanoutMessage ${i} belongs to group ${JSON.stringify(group)}, not ${roomUri}`);
      // The header epoch is stored (and a commit's + 1): it must fit SQLite's signed 64 bits.
      if (info.epoch! > MAX_EPOCH) throw badRequest(`FanoutMessage ${i} claims epoch ${info.epoch}, beyond any room's (at most ${MAX_EPOCH})`);
      return { message: m, raw, epoch: info.epoch!, frank: m.kind === 'application' && m.frank ? encodeFrank(m.frank) : null };
    });
  }

  /** Whether the batch `seq` follows has been applied here (so every earlier row of the room has). */
  private inTurn(peer: string, roomUri: string, seq: FanoutSequence): boolean {
    if (seq.after === undefined) return true;
    const through = this.seen.appliedThrough(peer, roomUri, seq.stream);
    return through !== undefined && through >= seq.after;
  }

  /** Waits until `seq` is in turn (true), or false once orderWaitMs passed or too many wait already. */
  private async awaitTurn(peer: string, roomUri: string, seq: FanoutSequence): Promise<boolean> {
    const key = `${peer} ${roomUri}`;
    const deadline = Date.now() + this.orderWaitMs;
    while (!this.inTurn(peer, roomUri, seq)) {
      const left = deadline - Date.now();
      if (left <= 0 || this.waiters >= MAX_ORDER_WAITERS) return false;
      await new Promise<void>((resolve) => {
        let set = this.waiting.get(key);
        if (!set) this.waiting.set(key, (set = new Set()));
        const waiters = set;
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          if (waiters.size === 0 && this.waiting.get(key) === waiters) this.waiting.delete(key);
          this.waiters--;
          resolve();
        };
        // On PostgreSQL the batch waited for may be applied by another node, whose apply wakes
        // nobody here: look at the database again every ORDER_POLL_MS instead of only at the end.
        const timer = setTimeout(done, this.store.dialect === 'postgres' ? Math.min(left, ORDER_POLL_MS) : left);
        waiters.add(done);
        this.waiters++;
      });
    }
    return true;
  }

  private outOfOrder(): S2sReply {
    return { status: OUT_OF_ORDER_STATUS, headers: { [FANOUT_HEADERS.order]: '1', 'retry-after': '0' } };
  }

  private applyNotify(
    peer: string,
    roomUri: string,
    hub: string,
    messages: NotifyItem[],
    seq: FanoutSequence | undefined,
  ): S2sReply {
    const queued = new Set<string>();
    // Application messages change no membership: consecutive ones share one member lookup. Any
    // other kind (a Welcome, a commit, a proposal) may, so the lookup is made afresh after it.
    const view: { current?: MemberView } = {};
    // ... and are stored together: a run of them is written in a few multi-row statements
    // (storeApplications) before anything else of the batch, and at its end.
    const run: NotifyItem[] = [];
    const flush = () => {
      if (run.length === 0) return;
      this.storeApplications(roomUri, hub, run, view.current!, queued);
      run.length = 0;
    };
    const applied = this.store.tx(() => {
      if (seq && !this.inTurn(peer, roomUri, seq)) return false;
      // Every row of the room up to `through` is applied here, and none after it: a message with a
      // higher id is new. Without a position in this stream yet (the first sequenced batch of the
      // room, or the hub's outbox was recreated), the digests tell, as for hubs that send no ids.
      // A request without ids: what was applied by id (no digest) is recognised by its timestamp.
      const through = seq && this.seen.appliedThrough(peer, roomUri, seq.stream);
      const until = seq ? undefined : this.seen.appliedUntil(peer, roomUri);
      let maxTs = 0;
      for (let i = 0; i < messages.length; i++) {
        const item = messages[i];
        const { message, raw } = item;
        if (seq && through !== undefined) {
          if (seq.ids[i] <= through) continue;
          maxTs = Math.max(maxTs, Math.min(Number(message.timestamp), Number.MAX_SAFE_INTEGER));
        } else if ((until !== undefined && Number(message.timestamp) <= until) || this.seen.isDuplicate(peer, raw)) continue;
        if (message.kind === 'application' && this.reuseMemberLookup) {
          if ((view.current ??= this.memberView(roomUri)).exists) run.push(item);
          continue;
        }
        flush();
        view.current = undefined;
        this.apply(roomUri, hub, item, queued, view);
        if (message.kind !== 'application') view.current = undefined;
      }
      flush();
      if (seq) this.seen.noteApplied(peer, roomUri, seq.stream, seq.ids[seq.ids.length - 1], maxTs);
      return true;
    });
    if (!applied) return this.outOfOrder();
    if (queued.size) this.onQueued([...queued]);
    if (seq) for (const wake of [...(this.waiting.get(`${peer} ${roomUri}`) ?? [])]) wake();
    return { status: 201, headers: { [FANOUT_HEADERS.order]: '1' } };
  }

  private memberView(roomUri: string): MemberView {
    if (!this.store.room(roomUri)) return { exists: false, delivery: [] };
    return { exists: true, delivery: this.store.roomDevices(roomUri).map((identity) => ({ identity, device: this.identities.deliveryDevice(identity) })) };
  }

  /**
   * Queues a run of application messages for our devices in the room, as enqueueFanout would one
   * by one: each to every member of ours but its sender, in order.
   */
  private storeApplications(roomUri: string, hub: string, run: readonly NotifyItem[], members: MemberView, queued: Set<string>): void {
    const senders = this.writer.senders(run.map((item) => item.message.message));
    // Recipients depend only on the sender: nearly always the same list for the whole run.
    const recipientsOf = new Map<string | undefined, string[]>();
    const rows: MessageRow[] = [];
    const rowRecipients: string[][] = [];
    for (let i = 0; i < run.length; i++) {
      const sender = senders[i];
      let recipients = recipientsOf.get(sender);
      if (!recipients) {
        const set = new Set<string>();
        for (const { identity, device } of members.delivery) if (device && identity !== sender) set.add(device);
        recipientsOf.set(sender, (recipients = [...set]));
      }
      if (recipients.length === 0) continue;
      const { message, epoch, frank } = run[i];
      rows.push({ epoch: epoch!, sender: sender ?? hub, payload: message.message, acceptedTs: Number(message.timestamp), frank });
      rowRecipients.push(recipients);
    }
    if (rows.length === 0) return;
    const ids = this.writer.insertMessages(roomUri, rows);
    const devices: string[] = [];
    const events: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      for (const d of rowRecipients[i]) {
        devices.push(d);
        events.push(ids[i]);
      }
    }
    this.writer.enqueue(devices, events);
    for (const recipients of recipientsOf.values()) for (const d of recipients) queued.add(d);
  }

  private apply(roomUri: string, hub: string, item: NotifyItem, queued: Set<string>, view: { current?: MemberView } = {}): void {
    const m = item.message;
    const ts = Number(m.timestamp);
    if (m.kind === 'welcome') {
      const tree = m.ratchetTreeOption.representation === 'full' ? encodeRatchetTree(m.ratchetTreeOption.ratchetTree) : null;
      // Welcomes are routed by the claims of our KeyPackages: a device's, or a client pseudonym's.
      const devices = new Set<string>();
      for (const ref of welcomeRecipients(m.message)) {
        // A connection's KeyPackage was never claimed: its owner's upload says whose it is; one
        // handed out over OHTTP (ohttp-service.ts), the gateway's record of it.
        const identity = this.store.claimedDevice(ref, roomUri) ?? this.store.connectionKeyPackageOwner(ref) ?? this.store.ohttpHandoutOwner(ref);
        const device = identity && this.identities.deliveryDevice(identity);
        if (!identity || !device) continue; // none of ours (a hub may send a Welcome to several providers)
        this.join(roomUri, hub, this.welcomedMember(identity, tree));
        devices.add(device);
      }
      if (tree) this.noteLeaves(roomUri, tree);
      if (devices.size === 0) return;
      const event = this.store.insertEvent({ room_uri: roomUri, kind: 'welcome', epoch: 0n, sender_device: hub, payload: m.message, ratchet_tree: tree, accepted_ts: ts });
      for (const d of devices) {
        this.store.enqueue(d, event);
        queued.add(d);
      }
      return;
    }
    const members = (view.current ??= this.memberView(roomUri));
    if (!members.exists) return; // no member of ours is in it (any more)
    const epoch = item.epoch!;
    const sender = this.store.forwardedBy(digest(m.message));
    const recipients = new Set<string>();
    for (const { identity, device } of members.delivery) if (device && identity !== sender) recipients.add(device);
    if (m.kind === 'commit') this.store.noteFollowerEpoch(roomUri, epoch + 1n);
    if (m.kind === 'proposal') for (const p of [m.message, ...m.moreProposals]) this.noteRemoveProposal(roomUri, p);
    // Members of ours the commit removes still get it (that is how they learn it), and nothing after.
    const removed = m.kind === 'commit' ? this.removedBy(roomUri, epoch, m.message) : [];
    this.enqueueFanout(roomUri, hub, m, item.frank, epoch, sender, recipients, queued);
    for (const r of removed) this.memberLeft(roomUri, r);
  }

  /** Queues a fanned-out message for our devices in the room. */
  private enqueueFanout(roomUri: string, hub: string, m: FanoutMessage, frank: Uint8Array | null, epoch: bigint, sender: string | undefined, recipients: Set<string>, queued: Set<string>): void {
    if (recipients.size === 0) return;
    // Handshake messages (commits, and proposals such as the hub's Removes) share the 'commit' kind;
    // a proposal's moreProposals become events of their own, in order.
    const payloads = m.kind === 'proposal' ? [m.message, ...m.moreProposals] : [m.message];
    for (const payload of payloads) {
      const event = this.store.insertEvent({
        room_uri: roomUri,
        kind: m.kind === 'application' ? 'message' : 'commit',
        epoch,
        sender_device: sender ?? hub,
        payload,
        accepted_ts: Number(m.timestamp),
        // The hub's frank of an application message goes on to our devices with it.
        frank: m.kind === 'application' ? frank : null,
      });
      this.store.enqueueAll([...recipients], event);
      for (const d of recipients) queued.add(d);
    }
  }

  /**
   * The member a Welcome adds for our `identity`. A device's user is in its URI. A client
   * pseudonym's user pseudonym is the one its leaf in the Welcome's tree names (a user's clients
   * share one), provided it is one of the same account's: the hub's tree is not trusted with how
   * our accounts' pseudonyms belong together. Otherwise, its own pair's.
   */
  private welcomedMember(identity: string, tree: Uint8Array | null): RoomMember {
    const pseudonym = this.store.pseudonymByClient(identity);
    if (!pseudonym) return { identity, user: userOfDevice(identity), pseudonymous: false };
    let named: string | undefined;
    try {
      named = tree ? treeMembers(tree, "the Welcome's ratchet tree").find((m) => m?.identity === identity)?.user : undefined;
    } catch {
      named = undefined; // the Welcome itself is for the client to judge
    }
    const sameAccount = named !== undefined && this.store.pseudonymByUser(named)?.user_id === pseudonym.user_id;
    return { identity, user: sameAccount ? named! : pseudonym.user_pseudonym, pseudonymous: true };
  }

  /** Records where our members are in `tree` (an epoch's ratchet tree): leaf indexes never change. */
  private noteLeaves(roomUri: string, tree: Uint8Array): void {
    let leaves;
    try {
      leaves = treeMembers(tree, 'ratchet tree');
    } catch {
      return; // the members' clients judge the tree; we only lose the tracking
    }
    const ours = new Set(this.store.roomDevices(roomUri));
    leaves.forEach((m, i) => {
      if (m && ours.has(m.identity)) this.store.setMemberLeaf(roomUri, m.identity, i);
    });
  }

  /** Keeps a Remove proposal of the epoch (the hub's, a member's), for the commit that names it by reference. */
  private noteRemoveProposal(roomUri: string, proposal: Uint8Array): void {
    try {
      const removed = peekProposal(proposal).removed;
      if (removed === undefined) return;
      this.store.noteRemoveProposal(roomUri, peekMlsMessage(proposal).epoch!, proposalRef(proposal), removed);
    } catch {
      // not a proposal we can read: our members' clients judge it
    }
  }

  /** Our members a commit of `epoch` removes: by-value Removes and the referenced Remove proposals seen here. */
  private removedBy(roomUri: string, epoch: bigint, commit: Uint8Array): { identity: string; user: string }[] {
    let summary;
    try {
      summary = commitSummary(commit);
    } catch {
      return [];
    }
    const leaves = new Set(summary.removes);
    for (const ref of summary.refs) {
      const leaf = this.store.removeProposalLeaf(roomUri, epoch, ref);
      if (leaf !== undefined) leaves.add(leaf);
    }
    this.store.forgetRemoveProposals(roomUri, epoch + 1n);
    return [...leaves].flatMap((leaf) => this.store.memberAtLeaf(roomUri, leaf) ?? []);
  }

  /** A member of ours left the room (removed by a commit): no more deliveries to it. */
  private memberLeft(roomUri: string, member: { identity: string; user: string }): void {
    this.store.removeRoomDevice(roomUri, member.identity);
    if (!this.store.roomMembers(roomUri).some((m) => m.user === member.user)) this.store.removeParticipant(roomUri, member.user);
  }

  /** A member of ours is now in a remote room; says which rows this created (for undoJoin). */
  private join(roomUri: string, hub: string, member: RoomMember): JoinRows {
    return {
      room: this.store.ensureFollowerRoom(roomUri, hub, this.now()),
      device: this.store.addRoomDevice(roomUri, member.identity, member.user),
      participant: this.store.addParticipant(roomUri, member.user),
    };
  }

  /** Takes back what join() created, and only that (the member may have been in the room already). */
  private undoJoin(roomUri: string, member: RoomMember, created: JoinRows): void {
    if (created.room) {
      this.store.deleteFollowerRoom(roomUri); // cascades to the rows below and to anything fanned out meanwhile
      return;
    }
    if (created.device) this.store.removeRoomDevice(roomUri, member.identity);
    if (created.participant) this.store.removeParticipant(roomUri, member.user);
  }
}
