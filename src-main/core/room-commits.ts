// Making MLS commits for this device: build one against the current epoch, check it as the hub
// and every member will, submit it, adopt the new state only once the hub accepts it, and retry
// on top of whatever commit won the epoch instead. Membership, room state actions, the outbox
// and incoming proposals all commit through here.

import { randomBytes } from 'node:crypto';
import { CoreError } from '../../src-shared/contract.js';
import { toB64 } from '../../src-shared/bytes.js';
import { checkCommit, denialText } from '../../src-shared/room-commit.js';
import { admittedIn } from './admission.js';
import type { RoomState } from '../../src-shared/room-state.js';
import type { CheckResult } from '../../src-shared/room-policy.js';
import type { CommitOutput, GroupSession } from '../mls/engine.js';
import { ProviderError } from '../net/provider-client.js';
import type { ProfileContext } from './context.js';
import { actionParams, coreError, type Phrase, toCoreError } from './errors.js';
import { activeUsers, devicesOf, leafUsers, myUser, roomStateOf } from './group-sessions.js';
import { readRoomState, withoutParticipants, withRoomState } from './room-view.js';
import { BANNED_ROLE_INDEX } from '../../src-shared/room-policy.js';
import { emitTimelineEvents, ownCommitEvents, storeTimelineEvents } from './timeline-events.js';

/** How often a commit is rebuilt after losing the epoch to another one before giving up. */
export const COMMIT_ATTEMPTS = 5;

export class RoomCommits {
  constructor(private readonly ctx: ProfileContext) {}

  /**
   * Build a commit that moves the room to `next` (plus: users whose every client is leaving by
   * pending proposal leave the list), after checking it as the hub and every member will.
   */
  async commitRoomChange(
    s: GroupSession,
    next: RoomState,
    remove: string[],
    add: Uint8Array[],
    addedDevices: string[],
    action: Phrase,
    addedUsers?: (identity: string) => string | undefined,
    /** The commit's authenticated_data (vouches for KeyPackages fetched over OHTTP); none when absent. */
    authenticatedData?: Uint8Array,
  ): Promise<CommitOutput> {
    // One GroupContextExtensions proposal per commit: while the hub's (a ban) is pending, it goes
    // first, on its own (commitPendingProposals, which its arrival set off).
    if (s.pendingHubExtensions()) throw coreError('notAllowed', 'errors.cannot.yet', actionParams(action));
    const target = this.withDepartures(s, next);
    this.precheck(s, target, remove, addedDevices, action, addedUsers);
    return s.commitChanges({ add, remove, extensions: withRoomState(s.extensions(), target), ...(authenticatedData ? { authenticatedData } : {}) });
  }

  /**
   * Commit the hub's pending room state change (a ban) with the Removes it comes with, all by
   * reference. The hub sends the state first and the Removes of the banned users' clients right
   * after: until all of those are here the commit would leave a banned user with clients, so it
   * waits (the last Remove's arrival sets this off again).
   */
  private async commitHubChange(s: GroupSession, extensions: { type: number; data: Uint8Array }[]): Promise<CommitOutput | undefined> {
    const next = readRoomState(extensions);
    if (!next) throw coreError('notAllowed', 'errors.cannot.hubDropsState');
    const users = leafUsers(s);
    const pending = new Set(s.pendingRemovals().map((r) => r.identity));
    const banned = new Set(next.participants.filter((p) => p.roleIndex === BANNED_ROLE_INDEX).map((p) => p.user));
    if (s.members().some((m) => banned.has(users(m.identity)) && !pending.has(m.identity))) return undefined;
    this.precheck(s, next, [], [], { key: 'errors.action.applyHubChange' }, undefined, extensions);
    return s.update();
  }

  /** `next` without the users all of whose clients pending Remove proposals of their own (or the hub's) take out. */
  private withDepartures(s: GroupSession, next: RoomState): RoomState {
    const departing = new Set(s.pendingRemovals().filter((r) => r.departed).map((r) => r.identity));
    if (departing.size === 0) return next;
    const gone = new Set<string>();
    for (const u of activeUsers(s)) if (devicesOf(s, u).every((d) => departing.has(d))) gone.add(u);
    return withoutParticipants(next, gone);
  }

  /** Throws CoreError('notAllowed') naming the missing capability if the commit would be refused. */
  precheck(
    s: GroupSession,
    next: RoomState,
    remove: string[],
    addedDevices: string[],
    action: Phrase,
    addedUsers?: (identity: string) => string | undefined,
    hubExtensions?: { type: number; data: Uint8Array }[],
  ): void {
    const before = roomStateOf(s);
    if (!before) return;
    // Whose client each leaf is: the tree says it for members, the caller for clients being added
    // (a pseudonym's client pseudonym does not name its user).
    const members = leafUsers(s);
    const userOf = (d: string): string => addedUsers?.(d) ?? members(d);
    const pending = s.pendingRemovals();
    const gone = new Set([...remove, ...pending.map((r) => r.identity)]);
    const devicesBefore = s.members().map((m) => m.identity);
    let result: CheckResult;
    try {
      result = checkCommit({
        before,
        after: next,
        committer: myUser(s, this.ctx.config.userUri),
        userOf,
        devicesBefore,
        devicesAfter: [...devicesBefore.filter((d) => !gone.has(d)), ...addedDevices],
        departed: new Set(pending.filter((r) => r.departed).map((r) => r.identity)),
        removedByHub: new Set(pending.filter((r) => r.byHub).map((r) => r.identity)),
        admitted: admittedIn(s, before, members),
        ...(hubExtensions ? { stateByHub: true, extensionsBefore: s.extensions(), extensionsAfter: hubExtensions } : {}),
      });
    } catch (e) {
      throw coreError('notAllowed', 'errors.cannot.invalid', { ...actionParams(action), reason: (e as Error).message });
    }
    if (!result.ok) throw coreError('notAllowed', 'errors.cannot.denied', { ...actionParams(action), denial: denialText(result) });
  }

  /**
   * Create a commit against the current epoch and submit it; adopt the new state only when the hub
   * accepts it. If another commit won the epoch, wait until the push stream brings us there, then
   * build the commit again on top of it.
   */
  async commitWithRetry(
    roomUri: string,
    build: (s: GroupSession) => Promise<CommitOutput | undefined>,
    extra: { addUsers?: string[]; removeUsers?: string[]; removeDevices?: string[] },
    what: Phrase = { key: 'errors.what.roomChangeRefused' },
  ): Promise<void> {
    const { client, db, sessions, serial } = this.ctx;
    const requestId = toB64(randomBytes(16));
    for (let attempt = 1; ; attempt++) {
      const outcome = await serial.run(async () => {
        const s = sessions.get(roomUri);
        const out = await build(s);
        if (!out) return 'done' as const; // nothing left to commit (e.g. someone else committed it)
        let accepted: number;
        try {
          ({ acceptedTimestamp: accepted } = await client.commit(roomUri, {
            commit: toB64(out.commit),
            welcome: out.welcome ? toB64(out.welcome) : undefined,
            groupInfo: toB64(out.groupInfo),
            ratchetTree: toB64(out.ratchetTree),
            ...extra,
            requestId: `${requestId}-${s.epoch}`,
          }));
        } catch (e) {
          if (e instanceof ProviderError && e.code === 'wrongEpoch' && e.currentEpoch !== undefined) return e.currentEpoch;
          // The hub holds a Remove proposal (a member leaving, a removed device) that reached it
          // after this commit was built and has not reached this device yet: wait for it, then
          // build again with it. The hub says so only in words (provider-api has no code for it).
          if (e instanceof ProviderError && e.code === 'notAllowed' && /pending Remove proposals/.test(e.message)) {
            return { proposalsBefore: s.pendingProposals(), epoch: s.epoch };
          }
          throw toCoreError(e, what);
        }
        // What the commit did, for this device's timeline too (the others derive the same events).
        const events = ownCommitEvents(s, out.pending, this.ctx.config.userUri);
        const stored = db.tx(() => {
          sessions.notePriorState(roomUri, s);
          sessions.save(roomUri, out.pending);
          return storeTimelineEvents(db, roomUri, out.newEpoch, accepted, events);
        });
        emitTimelineEvents((v) => this.ctx.emit('timelineEvent', v), stored);
        return 'done' as const;
      });
      if (outcome === 'done') return;
      if (attempt >= COMMIT_ATTEMPTS) throw coreError('internal', 'errors.room.keptChanging');
      if (typeof outcome === 'object') {
        await this.waitForProposals(roomUri, outcome.proposalsBefore, outcome.epoch);
        continue;
      }
      this.ctx.emit('commitRetry', roomUri, outcome);
      await this.waitForEpoch(roomUri, outcome);
    }
  }

  /**
   * Resolves once this device has received a proposal more than `before` in the room (or the room
   * moved past `epoch`), or after `timeoutMs` (the next attempt then says what is still missing).
   */
  private async waitForProposals(roomUri: string, before: number, epoch: bigint, timeoutMs = 10000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const s = this.ctx.sessions.get(roomUri);
      if (s.epoch > epoch || s.pendingProposals() > before) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves once the push stream has brought the room to `epoch` (or rejects after the timeout). */
  waitForEpoch(roomUri: string, epoch: bigint, timeoutMs = 15000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.ctx.sessions.get(roomUri).epoch >= epoch) {
          clearTimeout(t);
          this.ctx.off('epoch', check);
          resolve();
        }
      };
      const t = setTimeout(() => {
        this.ctx.off('epoch', check);
        reject(coreError('providerUnreachable', 'errors.room.catchUpTimeout'));
      }, timeoutMs);
      this.ctx.on('epoch', check);
      check();
    });
  }

  /**
   * Commit the proposals this device holds (the hub's Removes): every member tries, the hub takes
   * the first commit, and the others find nothing left to commit once they have caught up.
   */
  async commitPendingProposals(roomUri: string): Promise<void> {
    // A proposal removing this device is committed by someone else (MLS forbids doing it oneself).
    await this.commitWithRetry(
      roomUri,
      async (s) => {
        if (s.pendingProposals() === 0 || s.pendingRemovesSelf()) return undefined;
        const hub = s.pendingHubExtensions();
        if (hub) return this.commitHubChange(s, hub);
        const state = roomStateOf(s);
        // Users leaving (or deleted) also leave the participant list, in the same commit.
        return state ? this.commitRoomChange(s, state, [], [], [], { key: 'errors.action.applyPending' }) : s.update();
      },
      {},
    );
    // The members changed (someone left): the room list and headers must say so now, not at
    // whatever event comes next (the proposal's own 'rooms' event went out before this commit).
    this.ctx.emit('epoch');
    this.ctx.emit('rooms');
  }
}
