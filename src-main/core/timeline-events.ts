// Timeline events from commits (src-shared/timeline-events.ts derives them): what a commit did,
// worked out from the group sessions before and after it, stored with the commit's adoption and
// shown among the messages. Two places adopt commits: incoming.ts (everyone else's, after
// verifyCommit) and room-commits.ts (this device's own, once the hub took them); both call here.

import type { MessageView } from '../../src-shared/contract.js';
import { fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { displayUser } from '../../src-shared/identifiers.js';
import { commitGroupContextExtensions } from '../../src-shared/mls-structs.js';
import { commitEvents, describeEvent, parseTimelineEvent, type CommitFacts, type TimelineEvent } from '../../src-shared/timeline-events.js';
import type { ProfileDb, TimelineEventRow } from '../db/profile-db.js';
import type { GroupSession, Incoming } from '../mls/engine.js';
import { knockTicketOf } from './admission.js';
import { leafUsers, myUser, roomStateOf, userOfIdentity, userOfMember } from './group-sessions.js';
import { readRoomState } from './room-view.js';
// The one table of readable role names, shared with the app's screens (main already imports from the renderer's lib).
import { translate } from '../../src-shared/i18n/index.js';
import { roleLabelWith } from '../../src-shared/role-names.js';
import type { ProfileContext } from './context.js';
import { toViews, viewSource } from './message-view.js';
import { coreError } from './errors.js';

/** The content type the views of events carry (they are not MIMI content: nothing decodes them as such). */
export const TIMELINE_EVENT_CONTENT_TYPE = 'application/x-mimi-desktop-timeline-event';

type CommitResult = Extract<Incoming, { kind: 'commit' }>;

const devicesOf = (s: GroupSession): Map<string, string> => new Map(s.members().map((m) => [m.identity, userOfMember(m)]));

/** The events of a commit someone else made, as this member adopts it (incoming.ts). */
export function incomingCommitEvents(before: GroupSession, after: GroupSession, result: CommitResult, commit: Uint8Array): TimelineEvent[] {
  try {
    // The new state as verifyCommit reads it: from the commit's own GroupContextExtensions proposal
    // (a member the commit removes gets no new GroupContext), else the hub's, else unchanged.
    let next;
    try {
      const proposed = commitGroupContextExtensions(commit);
      next = readRoomState(proposed ? proposed.map((e) => ({ type: e.extensionType, data: e.extensionData })) : (result.hubExtensions ?? before.extensions()));
    } catch {
      next = result.selfRemoved ? roomStateOf(before) : roomStateOf(after);
    }
    const users = leafUsers(before, after);
    // The clients after: the old ones less those removed, plus those added (a removed member's
    // own session does not show the new tree).
    const devicesAfter = devicesOf(before);
    for (const d of result.removed) devicesAfter.delete(d);
    for (const d of result.added) devicesAfter.set(d, users(d));
    if (!result.selfRemoved) for (const [d, u] of devicesOf(after)) devicesAfter.set(d, u);
    const committer = userOfIdentity(result.committer, before, after);
    const admitted = new Map<string, 'link' | 'knock'>();
    if (!result.selfRemoved && knockTicketOf(after, committer, users)) admitted.set(committer, 'knock');
    return commitEvents({
      before: { state: roomStateOf(before), devices: devicesOf(before) },
      after: { state: next, devices: devicesAfter },
      committer,
      departed: new Set(result.departed),
      removedByHub: new Set(result.removedByHub),
      stateByHub: result.hubExtensions !== undefined,
      admitted,
    });
  } catch {
    // An event line is worth less than the commit: one that cannot be read is left out.
    return [];
  }
}

/** The events of this device's own commit (room-commits.ts), from the session it was built on and the one it leads to. */
export function ownCommitEvents(before: GroupSession, after: GroupSession, me: string): TimelineEvent[] {
  try {
    const pending = before.pendingRemovals();
    const facts: CommitFacts = {
      before: { state: roomStateOf(before), devices: devicesOf(before) },
      after: { state: roomStateOf(after), devices: devicesOf(after) },
      committer: myUser(before, me),
      departed: new Set(pending.filter((r) => r.departed).map((r) => r.identity)),
      removedByHub: new Set(pending.filter((r) => r.byHub).map((r) => r.identity)),
      // A commit takes every pending proposal, the hub's room state change (a ban) too.
      stateByHub: before.pendingHubExtensions() !== undefined,
    };
    return commitEvents(facts);
  } catch {
    return [];
  }
}

/**
 * The id of the `index`th event of the commit into `epoch`: the same on every member's device, so
 * with the hub's timestamp every timeline puts it in the same place. '~' sorts after the hex of
 * message ids, so a commit's events follow messages the hub took in the same millisecond.
 */
export function timelineEventId(epoch: bigint, index: number): string {
  return `~${epoch.toString().padStart(20, '0')}.${String(index).padStart(4, '0')}`;
}

/**
 * Events only this account derives after a commit, from its own marks rather than the commit's
 * facts (verification.ts: a verified person's devices changed), by profile database: the profile
 * registers its source once, and both places that adopt commits get them through storeTimelineEvents.
 */
const localCommitEvents = new WeakMap<ProfileDb, (roomUri: string) => TimelineEvent[]>();

export function setLocalCommitEvents(db: ProfileDb, source: (roomUri: string) => TimelineEvent[]): void {
  localCommitEvents.set(db, source);
}

/**
 * Store a commit's events, and this account's own after them; call inside the transaction that
 * adopts the commit, after the room's new session is saved (the local source reads it).
 */
export function storeTimelineEvents(db: ProfileDb, roomUri: string, epoch: bigint, timestamp: number, shared: readonly TimelineEvent[]): TimelineEventRow[] {
  let local: TimelineEvent[] = [];
  try {
    local = localCommitEvents.get(db)?.(roomUri) ?? [];
  } catch {
    /* a line of our own is worth less than the commit */
  }
  const events = [...shared, ...local];
  if (events.length === 0) return [];
  return db.insertTimelineEvents(
    roomUri,
    timestamp,
    events.map((e, i) => ({ eventId: timelineEventId(epoch, i), content: utf8(JSON.stringify(e)) })),
  );
}

/** The event read back from its row (parsed strictly: a damaged row throws). */
export function eventOf(row: TimelineEventRow): TimelineEvent {
  return parseTimelineEvent(JSON.parse(fromUtf8(row.content)));
}

/** Plain text of an event, naming users as `mimi` does (bob@b.example; a pseudonym by its URI), roles as the app does. */
export function eventText(e: TimelineEvent): string {
  return describeEvent(e, { name: (u) => displayUser(u), role: (r) => roleLabelWith(translate, r) });
}

/**
 * An event as a timeline item: a MessageView with `event` set, no sender, and the sentence as text
 * (for anything that shows text only). Never reportable: it is no message and carries no frank.
 */
export function eventItemView(row: TimelineEventRow): MessageView {
  const event = eventOf(row);
  return {
    seq: row.seq,
    messageId: row.eventId,
    roomUri: row.roomUri,
    sender: '',
    text: eventText(event),
    contentType: TIMELINE_EVENT_CONTENT_TYPE,
    timestamp: row.timestamp,
    status: 'received',
    event,
  };
}

/** Emit the stored events (after the transaction). */
export function emitTimelineEvents(emit: (view: MessageView) => void, rows: readonly TimelineEventRow[]): void {
  for (const r of rows) {
    try {
      emit(eventItemView(r));
    } catch {
      /* a row that does not read back is not shown */
    }
  }
}

/**
 * A page of the room's timeline, messages and events together, newest first (as messages.page
 * pages messages); what the app's timeline shows. Messages read as the message views make them.
 */
export function timelinePage(ctx: ProfileContext, roomUri: string, beforeSeq: number | null, limit: number): MessageView[] {
  if (!ctx.db.getRoom(roomUri)) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
  const items = ctx.db.pageTimeline(roomUri, beforeSeq, limit);
  const messages = new Map(toViews(viewSource(ctx), items.flatMap((i) => (i.kind === 'message' ? [i.row] : []))).map((v) => [v.seq, v]));
  return items.flatMap((i) => {
    if (i.kind === 'message') return messages.has(i.row.seq) ? [messages.get(i.row.seq)!] : [];
    try {
      return [eventItemView(i.row)];
    } catch {
      return [];
    }
  });
}
