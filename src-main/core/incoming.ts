// Events from the push stream: a Welcome (this device was added to a room), a commit, or an
// application message. Each is processed and stored together with the push cursor in one
// transaction; commits are checked against the room policy as the hub checks them, and messages
// against the state of the epoch they were sent in.

import type { PushEvent } from '../../src-shared/provider-api.js';
import { fromB64, toHex } from '../../src-shared/bytes.js';
import { decodeContent, messageId, type MimiContent } from '../../src-shared/content.js';
import { displayUser, parseMimiUri } from '../../src-shared/identifiers.js';
import { peekMlsMessage, welcomeRecipients } from '../../src-shared/mls-wire.js';
import { findIdentityLinkKeys } from '../../src-shared/identity-link.js';
import { isConnectionOnlyKeyPackage } from '../../src-shared/connection-request.js';
import { commitGroupContextExtensions } from '../../src-shared/mls-structs.js';
import { checkCommit, checkMessage, denialText } from '../../src-shared/room-commit.js';
import { admittedIn, knockTicketOf } from './admission.js';
import { receivedFrank } from './franks.js';
import type { RoomState } from '../../src-shared/room-state.js';
import type { CheckResult } from '../../src-shared/room-policy.js';
import { MlsError, type DeviceKeys, type GroupSession, type Incoming } from '../mls/engine.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import { leafUsers, myUser, roomStateOf, userOfIdentity } from './group-sessions.js';
import type { KeyPackages } from './key-packages.js';
import { actionOnReceipt } from './message-actions.js';
import type { MemberProfiles } from './member-profiles.js';
import { hasProfilePart } from '../../src-shared/member-profile.js';
import { eventView, viewSource } from './message-view.js';
import type { RoomCommits } from './room-commits.js';
import { readRoomState } from './room-view.js';
import { emitTimelineEvents, incomingCommitEvents, storeTimelineEvents } from './timeline-events.js';

/** What other concerns (pseudonyms, connections) add to incoming events. */
export interface IncomingHooks {
  /** The keys of one of our client pseudonyms: a Welcome to its KeyPackage joins with them. */
  pseudonymKeys(clientPseudonym: string): DeviceKeys | undefined;
  /** Whether a connection-only KeyPackage of these pseudonymous keys may be used: a request of ours awaits its answer. */
  expectsConnection(keys: DeviceKeys): boolean;
  /** After a Welcome joined `roomUri` as one of our pseudonyms (its keys). */
  joinedAsPseudonym(roomUri: string, keys: DeviceKeys): void;
  /**
   * A decrypted message before it is stored: 'timeline' to store it as usual, 'consumed' when a
   * hook took it (a control message such as a connection request), never shown as text.
   */
  message(roomUri: string, sender: string, content: MimiContent, session: GroupSession): 'timeline' | 'consumed';
  /** After a commit was adopted (`result`: what it did, e.g. a client joined by external commit). */
  committed(roomUri: string, session: GroupSession, result: Extract<Incoming, { kind: 'commit' }>): void;
  /**
   * A receipt or typing indicator (receipts.ts, typing.ts), never stored as a message: undefined
   * when `content` is neither; else a step to run inside the event's transaction, which may return
   * what to do once it is committed.
   */
  ephemeral?(roomUri: string, sender: string, own: boolean, content: MimiContent, acceptedAt: number): (() => (() => void) | undefined) | undefined;
  /** After someone else's message was stored (`action`: a reaction, edit or delete, not a timeline message). */
  stored?(roomUri: string, sender: string, messageId: string, action: boolean): void;
}

export class IncomingEvents {
  hooks?: IncomingHooks;
  memberProfiles?: MemberProfiles;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
    private readonly keyPackages: KeyPackages,
  ) {}

  /**
   * Process one push event and store the push cursor past it. Never throws for a bad event: the
   * caller confirms the seq to the push stream afterwards.
   */
  async handleEvent(ev: PushEvent): Promise<void> {
    try {
      if (ev.kind === 'welcome') await this.onWelcome(ev);
      else if (ev.kind === 'commit' || ev.kind === 'message') await this.onGroupMessage(ev);
    } catch (e) {
      // One undecryptable or stale event must not stall the stream: report it and move on.
      const err = toCoreError(e, { key: 'errors.what.processEvent', params: { kind: ev.kind, room: ev.roomUri } });
      this.ctx.emit('error', err.message, err);
    }
    // Every stored event already moved the cursor in its own transaction; writing it again cost a
    // second commit per message. Only events that stored nothing (skipped, or failed) need it here.
    const cursor = String(ev.seq);
    if (this.ctx.db.getMeta('cursor') !== cursor) this.ctx.db.setMeta('cursor', cursor);
  }

  private async onWelcome(ev: PushEvent): Promise<void> {
    const { db, engine, keys, sessions } = this.ctx;
    const welcome = fromB64(ev.payload);
    for (const ref of welcomeRecipients(welcome)) {
      const refHex = toHex(ref);
      const kp = db.getKeyPackage(refHex);
      if (!kp) continue;
      // A KeyPackage of one of our pseudonyms joins with that pseudonym's own keys.
      const joinKeys = kp.clientPseudonym ? this.hooks?.pseudonymKeys(kp.clientPseudonym) : keys;
      if (!joinKeys) throw new MlsError('notMember', `a Welcome arrived for a KeyPackage of ${kp.clientPseudonym}, a pseudonym this device no longer holds`);
      // A KeyPackage valid for initial connections only is used for nothing else: only the answer
      // to one of our own connection requests may welcome it.
      if (kp.clientPseudonym && isConnectionOnlyKeyPackage(kp.publicMessage) && !this.hooks?.expectsConnection(joinKeys)) {
        throw new MlsError('invalid', `refused a Welcome into ${ev.roomUri}: it used a KeyPackage valid for initial connections only, and no connection request of ours is waiting for it`);
      }
      const session = await engine.joinFromWelcome(joinKeys, welcome, { publicMessage: kp.publicMessage, ref, privateState: kp.privateState }, ev.ratchetTree ? fromB64(ev.ratchetTree) : undefined);
      db.tx(() => {
        if (!kp.lastResort) db.deleteKeyPackage(refHex);
        if (db.getRoom(ev.roomUri)) {
          // Added again after being removed (kicked, banned and unbanned, or left): a member again.
          db.markRejoined(ev.roomUri, session.epoch);
          sessions.save(ev.roomUri, session);
        } else db.insertRoom({ roomUri: ev.roomUri, name: '', hubDomain: parseMimiUri(ev.roomUri).domain, epoch: session.epoch, groupState: session.encode() });
        db.setMeta('cursor', String(ev.seq));
      });
      sessions.set(ev.roomUri, session);
      this.ctx.emit('rooms');
      this.ctx.emit('epoch');
      if (kp.clientPseudonym) this.hooks?.joinedAsPseudonym(ev.roomUri, joinKeys);
      else void this.keyPackages.replenish(false).catch(() => undefined);
      return;
    }
    throw new MlsError('notMember', 'a Welcome arrived for none of our KeyPackages');
  }

  async onGroupMessage(ev: PushEvent): Promise<void> {
    const { db, sessions, config } = this.ctx;
    const room = db.getRoom(ev.roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.eventForUnknown');
    const payload = fromB64(ev.payload);
    // The hub gives a message one epoch of grace and delivers it to everyone in the room by then,
    // so a device that joined in the newer epoch (Welcome or external commit) gets a message sent
    // before it was a member. MLS gives a newcomer no keys for earlier epochs: it could never read
    // it, and nothing is wrong, so it is skipped without an error (handleEvent moves the cursor).
    // A message from an epoch this device was in but has no keys for any more still fails below.
    if (ev.kind === 'message' && room.joinedEpoch !== undefined && sentBefore(payload, room.joinedEpoch)) return;
    const s = sessions.get(ev.roomUri);
    const msgEpoch = BigInt(ev.epoch);
    // Our own commits come back to no one; a commit for an epoch we already left is stale.
    if (ev.kind === 'commit' && msgEpoch < s.epoch) return;
    const { session, result } = await s.process(payload);
    const state = roomStateOf(s);
    if (result.kind === 'commit' && state) verifyCommit(s, session, state, result, payload);
    if (result.kind === 'application') {
      const sender = userOfIdentity(result.senderIdentity, s, session);
      // Judged by the state of the epoch it was sent in, as the hub judged it.
      const then = result.epoch < s.epoch ? sessions.priorState(ev.roomUri, result.epoch, state) : state;
      let may = then ? checkMessage(then, sender) : ({ ok: true } as CheckResult);
      // A knocker (in with the hub's knock ticket, not on the list) sends its one knock (knocks.ts;
      // the hub lets one through).
      if (!may.ok && knockTicketOf(session, sender, leafUsers(s, session))) may = { ok: true };
      if (!may.ok) {
        // A muted or banned sender's message got past the hub: keep the ratchet, hide the message.
        db.tx(() => {
          sessions.save(ev.roomUri, session);
          db.setMeta('cursor', String(ev.seq));
        });
        const err = coreError('notAllowed', 'errors.background.hiddenByPolicy', { user: displayUser(sender), denied: may.denied });
        this.ctx.emit('error', err.message, err);
        return;
      }
      const content = result.plaintext;
      const c = decodeContent(content); // throws on malformed content; nothing stored
      const senderExt = c.extensions.get(1);
      if (typeof senderExt === 'string' && senderExt !== sender) throw new MlsError('invalid', 'content sender does not match the MLS sender');
      const own = sender === myUser(s, config.userUri);
      // Franking: someone else's message in a franked room carries the hub's frank, and it must
      // verify, else the message is dropped (the ratchet kept); the frank is kept for reports.
      let frank: Uint8Array | undefined;
      if (!own && then?.frankingAgent) {
        const checked = receivedFrank(ev, payload, content, c, sender, then);
        if ('problem' in checked) {
          db.tx(() => {
            sessions.save(ev.roomUri, session);
            db.setMeta('cursor', String(ev.seq));
          });
          const err = coreError('notAllowed', 'errors.background.frankingFailed', { user: displayUser(sender), problem: checked.problem });
          this.ctx.emit('error', err.message, err);
          return;
        }
        frank = checked.frank;
      }
      // Identity link keys for a member who joined without a Welcome (docs/pseudonyms.md): kept in
      // the group state, never shown. They may come from another device of this account (a client
      // of the same user pseudonym), so "own" does not matter here.
      const linkKeys = findIdentityLinkKeys(c);
      if (linkKeys) {
        const updated = session.withIdentityLinkKeys(linkKeys);
        db.tx(() => {
          sessions.save(ev.roomUri, updated);
          db.setMeta('cursor', String(ev.seq));
        });
        this.ctx.emit('rooms');
        return;
      }
      // A member's shared profile (member-profiles.ts): kept beside the timeline, never a message.
      if (this.memberProfiles && hasProfilePart(c)) {
        const profiles = this.memberProfiles;
        const changed = db.tx(() => {
          const kept = profiles.receive(ev.roomUri, sender, own, c, then);
          sessions.save(ev.roomUri, session);
          db.setMeta('cursor', String(ev.seq));
          return kept;
        });
        if (changed) profiles.changed(ev.roomUri);
        return;
      }
      const ephemeral = this.hooks?.ephemeral?.(ev.roomUri, sender, own, c, ev.acceptedTimestamp);
      if (ephemeral) {
        const after = db.tx(() => {
          sessions.save(ev.roomUri, session);
          db.setMeta('cursor', String(ev.seq));
          return ephemeral();
        });
        after?.();
        return;
      }
      if (!own && this.hooks?.message(ev.roomUri, sender, c, session) === 'consumed') {
        db.tx(() => {
          sessions.save(ev.roomUri, session);
          db.setMeta('cursor', String(ev.seq));
        });
        return;
      }
      // Reactions, edits and deletes act on earlier messages; a forged edit or delete (not by the
      // message's sender) is dropped with the ratchet kept (message-actions.ts).
      const action = actionOnReceipt(db, ev.roomUri, sender, c);
      if (action && 'ignore' in action) {
        db.tx(() => {
          sessions.save(ev.roomUri, session);
          db.setMeta('cursor', String(ev.seq));
        });
        return;
      }
      const row = db.tx(() => {
        sessions.save(ev.roomUri, session);
        db.setMeta('cursor', String(ev.seq));
        return db.insertMessage(
          { roomUri: ev.roomUri, messageId: toHex(messageId(content)), sender, content, timestamp: ev.acceptedTimestamp, status: own ? 'sent' : 'received', ...(action ? { action } : {}) },
          !own && !action,
          frank,
        );
      });
      const view = row && eventView(viewSource(this.ctx), row);
      if (view) this.ctx.emit('message', view);
      if (row) this.ctx.emit('rooms');
      if (row && !own) this.hooks?.stored?.(ev.roomUri, sender, row.messageId, !!action);
      return;
    }
    if (result.kind === 'proposal')
      void this.commits.commitPendingProposals(ev.roomUri).catch((e) => {
        const err = toCoreError(e, { key: 'errors.what.applyHubChange' });
        this.ctx.emit('error', err.message, err);
      });
    // What the commit did, for the timeline ("alice added bob"), stored with its adoption.
    const events = result.kind === 'commit' ? incomingCommitEvents(s, session, result, payload) : [];
    const stored = db.tx(() => {
      if (result.kind === 'commit') sessions.notePriorState(ev.roomUri, s);
      sessions.save(ev.roomUri, session);
      if (result.kind === 'commit' && result.selfRemoved) db.markLeft(ev.roomUri);
      db.setMeta('cursor', String(ev.seq));
      return result.kind === 'commit' ? storeTimelineEvents(db, ev.roomUri, result.epoch, ev.acceptedTimestamp, events) : [];
    });
    emitTimelineEvents((v) => this.ctx.emit('timelineEvent', v), stored);
    if (result.kind === 'commit') this.hooks?.committed(ev.roomUri, session, result);
    this.ctx.emit('epoch');
    this.ctx.emit('rooms');
  }
}

/**
 * Whether an application message was encrypted in an epoch before `joinedEpoch`. The epoch is read
 * from the PrivateMessage itself (the one the MLS engine would look for keys of), not from the push
 * event's label; anything that does not parse as a PrivateMessage is left to the engine to refuse.
 */
function sentBefore(payload: Uint8Array, joinedEpoch: bigint): boolean {
  if (joinedEpoch === 0n) return false; // created the room: there is no earlier epoch
  try {
    const info = peekMlsMessage(payload);
    return info.wireFormat === 'private' && info.epoch !== undefined && info.epoch < joinedEpoch;
  } catch {
    return false;
  }
}

/**
 * Every member checks a commit as the hub does and does not adopt one the room policy forbids:
 * the group then stays at the old epoch here, which is what "ignored" costs.
 */
function verifyCommit(before: GroupSession, after: GroupSession, state: RoomState, result: Extract<Incoming, { kind: 'commit' }>, commit: Uint8Array): void {
  // The new state is what the commit's GroupContextExtensions proposal sets (read from the
  // PublicMessage: a member the commit removes gets no new GroupContext from ts-mls, and must be
  // able to refuse its own unauthorized removal too).
  let next: RoomState | undefined;
  let extensionsAfter: { type: number; data: Uint8Array }[] | undefined;
  try {
    const proposed = commitGroupContextExtensions(commit);
    extensionsAfter = proposed ? proposed.map((e) => ({ type: e.extensionType, data: e.extensionData })) : (result.hubExtensions ?? before.extensions());
    next = readRoomState(extensionsAfter);
  } catch {
    next = result.selfRemoved ? undefined : roomStateOf(after);
    extensionsAfter = result.selfRemoved ? undefined : after.extensions();
  }
  const who = (() => {
    try {
      return userOfIdentity(result.committer, before, after);
    } catch {
      return '';
    }
  })();
  let verdict: CheckResult;
  try {
    if (!next) throw new Error('the commit drops the room state');
    verdict = checkCommit({
      before: state,
      after: next,
      committer: who,
      userOf: leafUsers(before, after),
      devicesBefore: before.members().map((m) => m.identity),
      devicesAfter: after.members().map((m) => m.identity),
      departed: new Set(result.departed),
      removedByHub: new Set(result.removedByHub),
      extensionsBefore: before.extensions(),
      extensionsAfter,
      // Joiners by link: the tree after the commit (a removed member's own view lacks it: the tree before).
      admitted: admittedIn(result.selfRemoved ? before : after, state, leafUsers(before, after), before),
      stateByHub: result.hubExtensions !== undefined,
    });
  } catch (e) {
    throw new MlsError('invalid', `ignored a commit by ${who ? displayUser(who) : 'an unknown device'} that breaks the room state rules: ${(e as Error).message}`);
  }
  if (!verdict.ok) throw new MlsError('invalid', `ignored a commit by ${displayUser(who)} that the room policy forbids: ${denialText(verdict)}`);
}
