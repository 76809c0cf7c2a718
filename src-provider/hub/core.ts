// What every part of the hub shares: its options, the store transaction that wraps each call (and
// announces queued devices and fanout once it has committed), and the room lookups all of them
// start with. The parts are split by concern: rooms.ts (lifecycle), commits.ts, proposals.ts,
// messages.ts, abuse-reports.ts, and routing.ts (where an accepted event goes).

import { randomBytes } from 'node:crypto';
import type { RoomInfo } from '../../src-shared/provider-api.js';
import { ApiFailure } from '../errors.js';
import { LocalIdentities, storedMembers, type RoomMember } from '../room-members.js';
import type { RoomRow, Store } from '../store.js';
import type { JoinLinks } from '../join-links.js';

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
  /** Local clients may restate the members they remove; checked against the tree. */
  removeDevices?: string[];
  /** Local clients' idempotency key. Peers are deduplicated by the commit's digest. */
  requestId?: string;
}

export interface MessageInput {
  message: Uint8Array;
  requestId?: string;
  /** Peers: the sending user or user pseudonym (SubmitMessageRequest.sendingUri). */
  sendingUri?: string;
  /** Local devices in the room as a pseudonym: the user pseudonym they send as. */
  asPseudonym?: string;
}

/** Where fanout to other providers goes: the durable outbox in production. */
export interface FanoutSink {
  enqueue(domain: string, roomUri: string, fanoutMessage: Uint8Array): void;
  kick(): void;
  /** Drops what is still queued for a room (it was destroyed); inside the destroying transaction. */
  forgetRoom?(roomUri: string): void;
}

export interface HubOptions {
  store: Store;
  domain: string;
  now?: () => number;
  /** Called after a transaction that queued events for these devices has committed. */
  onQueued?: (deviceUris: string[]) => void;
  /** Fanout to follower providers; without it, rooms cannot have remote members. */
  fanout?: FanoutSink;
  /**
   * Join links (join-links.ts): who may join by external commit without being a participant
   * already (an admission ticket in the joiner's leaf), and knock rooms.
   */
  joinLinks?: JoinLinks;
  /**
   * This provider's external-sender signing key (Ed25519 seed). Our clients list it first in the
   * external_senders of rooms they create here, so the hub can propose Removes in them.
   */
  externalSenderKey?: Uint8Array;
  /**
   * This provider's FrankingAgentData (its external sender's key and credential: the same bytes):
   * what a room's franking_agent must be for the hub to frank its messages (src-shared/franking.ts).
   */
  frankingAgent?: Uint8Array;
  /**
   * The provider key that vouches for KeyPackages of `domain` handed out over OHTTP
   * (ohttp-service.ts), if known; without it such KeyPackages are refused.
   */
  vouchKey?: (domain: string) => Uint8Array | undefined;
}

export class HubCore {
  readonly store: Store;
  readonly domain: string;
  readonly now: () => number;
  readonly fanoutSink?: FanoutSink;
  readonly joinLinks?: JoinLinks;
  readonly externalSenderKey?: Uint8Array;
  readonly frankingAgent?: Uint8Array;
  readonly vouchKey?: (domain: string) => Uint8Array | undefined;
  readonly identities: LocalIdentities;
  private readonly onQueued: (deviceUris: string[]) => void;

  constructor(opts: HubOptions) {
    this.store = opts.store;
    this.domain = opts.domain;
    this.now = opts.now ?? Date.now;
    this.onQueued = opts.onQueued ?? (() => {});
    this.fanoutSink = opts.fanout;
    this.joinLinks = opts.joinLinks;
    this.externalSenderKey = opts.externalSenderKey;
    this.frankingAgent = opts.frankingAgent;
    this.vouchKey = opts.vouchKey;
    this.identities = new LocalIdentities(opts.store, opts.domain);
  }

  /**
   * Runs `fn` in a transaction and announces queued devices and fanout once it has committed: at
   * its end, or, when it runs inside a group commit (write-batch.ts), at the end of the batch.
   */
  write<T>(fn: (queued: Set<string>) => T): T {
    const queued = new Set<string>();
    return this.store.tx(() => {
      const result = fn(queued);
      this.store.afterCommit(() => {
        if (queued.size) this.onQueued([...queued]);
        this.fanoutSink?.kick();
      });
      return result;
    });
  }

  roomInfo(row: RoomRow): RoomInfo {
    return {
      roomUri: row.room_uri,
      hubDomain: row.hub_domain ?? this.domain,
      epoch: String(row.epoch),
      participants: this.store.participants(row.room_uri),
      createdAt: row.created_at,
    };
  }

  /** A room this provider hosts (not a follower's row for a remote room). */
  requireRoom(roomUri: string): RoomRow {
    const row = this.store.hostedRoom(roomUri);
    if (!row) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
    return row;
  }

  requireParticipant(roomUri: string, userUri: string): void {
    if (!this.store.isParticipant(roomUri, userUri)) {
      throw new ApiFailure('notMember', `${userUri} is not a participant of ${roomUri}`);
    }
  }

  /**
   * The secret HMAC key of server franks in force now, made on first use. Keys are kept with when
   * they came into force, so a report about an old message is checked with the key of its time.
   */
  frankingKey(): { key: Uint8Array; at: (ts: number) => Uint8Array | undefined } {
    let keys = this.store.frankingKeys();
    if (keys.length === 0) {
      this.store.addFrankingKey(randomBytes(32), 0);
      keys = this.store.frankingKeys();
    }
    const at = (ts: number) => [...keys].reverse().find((k) => k.from_ts <= ts)?.hub_key;
    return { key: new Uint8Array(keys[keys.length - 1].hub_key), at: (ts) => at(ts) && new Uint8Array(at(ts)!) };
  }

  /** The room's members as stored (their users included), in the order they came. */
  members(roomUri: string): RoomMember[] {
    return storedMembers(this.store, roomUri);
  }
}
