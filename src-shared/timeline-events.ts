// What a commit did to a room, as lines of its timeline: "alice added bob", "bob left", "carol was
// banned by the room's provider", "alice renamed the room to “Lunch”". Every member derives them from the
// same two room states (the participant list, metadata and roles in the GroupContext) and the same
// two member lists (the clients in the MLS tree), so every member shows the same events for the same
// commit. Pure: no I/O, no MLS; src-main/core/timeline-events.ts feeds it from group sessions.
//
// Users are named by what the room names them: a user URI, or in a room of pseudonyms the user
// pseudonym. Nothing here resolves a pseudonym to the person behind it, so a stored event never
// names anyone the room itself does not.

// No imports: the renderer bundles this file (it names and describes the events it shows), so it
// takes the room state by its shape (src-shared/room-state.ts RoomState fits it) rather than pulling
// the codecs in.

/** room-policy.ts NO_ROLE_INDEX and BANNED_ROLE_INDEX: the draft fixes both. */
const NO_ROLE_INDEX = 0;
const BANNED_ROLE_INDEX = 1;

/** What the diff reads of a room state (src-shared/room-state.ts RoomState). */
export interface RoomState {
  participants: readonly { user: string; roleIndex: number }[];
  metadata: { roomName: string; roomDescriptions: readonly { mediaType: string; descriptionContent: Uint8Array }[]; roomAvatar: string; roomSubject: string };
  policy: { roles: readonly { roleIndex: number; roleName: string }[] };
}

/** Who made a change: a user (URI or pseudonym), or null for the room's provider (the hub). */
export type Actor = string | null;

export type TimelineEvent =
  | { kind: 'added'; by: Actor; user: string }
  | { kind: 'removed'; by: Actor; user: string }
  | { kind: 'kicked'; by: Actor; user: string }
  | { kind: 'banned'; by: Actor; user: string }
  | { kind: 'unbanned'; by: Actor; user: string }
  /** `from` and `to`: the roles' names in the room state (group_admin, ...), read as words by the caller. */
  | { kind: 'roleChanged'; by: Actor; user: string; from: string; to: string }
  | { kind: 'renamed'; by: Actor; name: string }
  | { kind: 'metadataChanged'; by: Actor; field: 'description' | 'avatar' | 'subject'; value: string }
  | { kind: 'rolesChanged'; by: Actor }
  /** By their own commit: with a join link, into a knock room to knock, or back after a kick. */
  | { kind: 'joined'; user: string; how: 'link' | 'knock' | 'again' }
  | { kind: 'left'; user: string }
  | { kind: 'newDevice'; user: string }
  /**
   * Not from the commit's facts but from this account's own marks (src-main/core/verification.ts):
   * the devices of someone it verified changed, so their safety number did. Only this account's
   * timeline has it; nobody else derives it.
   */
  | { kind: 'verifiedChanged'; user: string };

export const TIMELINE_EVENT_KINDS = ['added', 'removed', 'kicked', 'banned', 'unbanned', 'roleChanged', 'renamed', 'metadataChanged', 'rolesChanged', 'joined', 'left', 'newDevice', 'verifiedChanged'] as const;

/** One side of a commit: the room state (undefined for a room without one) and its clients. */
export interface RoomSnapshot {
  state?: RoomState;
  /** Client identity (device URI or client pseudonym) -> the user it speaks for. */
  devices: ReadonlyMap<string, string>;
}

export interface CommitFacts {
  before: RoomSnapshot;
  after: RoomSnapshot;
  /** The committer's user. */
  committer: string;
  /** Removed clients whose Remove came from their own user or from the hub. */
  departed: ReadonlySet<string>;
  /** Of those, the ones the hub proposed (a moderator's removal or ban, a deleted account). */
  removedByHub: ReadonlySet<string>;
  /** The commit carries the hub's own room state change (a ban by the room's provider). */
  stateByHub: boolean;
  /** Users whose leaf carries a valid join ticket of the hub: by a join link or a knock link. */
  admitted?: ReadonlyMap<string, 'link' | 'knock'>;
}

const roleIn = (s: RoomState | undefined, user: string): number => s?.participants.find((p) => p.user === user)?.roleIndex ?? NO_ROLE_INDEX;
const roleName = (s: RoomState | undefined, index: number): string => s?.policy.roles.find((r) => r.roleIndex === index)?.roleName ?? `role ${index}`;

function devicesOf(snapshot: RoomSnapshot, user: string): string[] {
  return [...snapshot.devices].filter(([, u]) => u === user).map(([d]) => d);
}

/** The plain-text description the app edits (the first text/plain one), as text. */
function descriptionOf(s: RoomState): string {
  const d = s.metadata.roomDescriptions.find((x) => x.mediaType === '' || x.mediaType.startsWith('text/plain'));
  if (!d) return s.metadata.roomDescriptions.length ? '(rich description)' : '';
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(d.descriptionContent);
  } catch {
    return '';
  }
}

/**
 * The events one commit makes, in a fixed order: per user (the old list's order, then users the
 * new list adds, then unlisted users by URI), then metadata. Same inputs, same events, everywhere.
 */
export function commitEvents(f: CommitFacts): TimelineEvent[] {
  const { before, after, committer } = f;
  const users: string[] = [];
  const seen = new Set<string>();
  const note = (u: string) => {
    if (!seen.has(u)) {
      seen.add(u);
      users.push(u);
    }
  };
  for (const p of before.state?.participants ?? []) note(p.user);
  for (const p of after.state?.participants ?? []) note(p.user);
  for (const u of [...new Set([...before.devices.values(), ...after.devices.values()])].sort()) note(u);

  const events: TimelineEvent[] = [];
  // The hub's state change is the hub's, whoever's client committed it.
  const stateBy: Actor = f.stateByHub ? null : committer;
  for (const u of users) {
    const rb = roleIn(before.state, u);
    const ra = roleIn(after.state, u);
    const had = devicesOf(before, u);
    const has = devicesOf(after, u);
    const gone = had.filter((d) => !after.devices.has(d));
    const fresh = has.filter((d) => !before.devices.has(d));
    const byHub = gone.length > 0 && gone.every((d) => f.removedByHub.has(d));
    const departed = gone.length > 0 && gone.every((d) => f.departed.has(d)) && !byHub;
    const self = committer === u;
    // Clients out, and who took them out: the user themselves (leaving), the hub, or the committer.
    const out = (listed: boolean): TimelineEvent =>
      departed || (self && !byHub) ? { kind: 'left', user: u } : byHub ? { kind: 'removed', by: null, user: u } : { kind: listed ? 'kicked' : 'removed', by: committer, user: u };
    const cameIn = (): TimelineEvent => (self ? { kind: 'joined', user: u, how: f.admitted?.get(u) ?? (rb === NO_ROLE_INDEX && ra === NO_ROLE_INDEX ? 'link' : 'again') } : { kind: 'added', by: committer, user: u });

    if (ra === BANNED_ROLE_INDEX && rb !== BANNED_ROLE_INDEX) {
      events.push({ kind: 'banned', by: stateBy, user: u });
    } else if (rb === BANNED_ROLE_INDEX && ra !== BANNED_ROLE_INDEX) {
      events.push({ kind: 'unbanned', by: stateBy, user: u });
      if (has.length > 0 && had.length === 0) events.push(cameIn());
    } else if (rb === NO_ROLE_INDEX && ra > BANNED_ROLE_INDEX) {
      events.push(self ? { kind: 'joined', user: u, how: f.admitted?.get(u) ?? 'link' } : { kind: 'added', by: committer, user: u });
    } else if (rb > BANNED_ROLE_INDEX && ra === NO_ROLE_INDEX) {
      // Off the list: with clients leaving by their own proposals, or taken out.
      events.push(gone.length > 0 ? out(false) : { kind: 'removed', by: stateBy, user: u });
    } else if (rb === ra && rb !== BANNED_ROLE_INDEX) {
      // Same place on the list (or on none: a room without state, a knocker): only clients changed.
      if (had.length > 0 && has.length === 0) events.push(out(rb !== NO_ROLE_INDEX));
      else if (had.length === 0 && has.length > 0) events.push(cameIn());
      else if (fresh.length > 0) events.push({ kind: 'newDevice', user: u });
    } else if (rb > BANNED_ROLE_INDEX && ra > BANNED_ROLE_INDEX) {
      events.push({ kind: 'roleChanged', by: stateBy, user: u, from: roleName(before.state, rb), to: roleName(after.state, ra) });
      if (had.length > 0 && has.length === 0) events.push(out(true));
      else if (had.length === 0 && has.length > 0) events.push(cameIn());
      else if (fresh.length > 0) events.push({ kind: 'newDevice', user: u });
    }
  }

  const sb = before.state;
  const sa = after.state;
  if (sb && sa) {
    if (sb.metadata.roomName !== sa.metadata.roomName) events.push({ kind: 'renamed', by: stateBy, name: sa.metadata.roomName });
    const db = descriptionOf(sb);
    const da = descriptionOf(sa);
    if (db !== da) events.push({ kind: 'metadataChanged', by: stateBy, field: 'description', value: da });
    if (sb.metadata.roomAvatar !== sa.metadata.roomAvatar) events.push({ kind: 'metadataChanged', by: stateBy, field: 'avatar', value: sa.metadata.roomAvatar });
    if (sb.metadata.roomSubject !== sa.metadata.roomSubject) events.push({ kind: 'metadataChanged', by: stateBy, field: 'subject', value: sa.metadata.roomSubject });
    if (JSON.stringify(sb.policy) !== JSON.stringify(sa.policy)) events.push({ kind: 'rolesChanged', by: stateBy });
  }
  return events;
}

export interface DescribeOptions {
  /** How a user reads; `start`: at the start of the sentence (e.g. "You" rather than "you"). */
  name(user: string, start: boolean): string;
  /** How a role name of the room state reads (group_admin -> Admin). */
  role(roleName: string): string;
  /** "bob’s" unless given otherwise (the viewer: "your"). */
  possessive?(user: string): string | undefined;
}

const quoted = (s: string): string => `“${s.length > 80 ? `${s.slice(0, 80)}…` : s}”`;

/** The event as one sentence, e.g. "alice added bob" or "bob was banned by the room's provider". */
export function describeEvent(e: TimelineEvent, o: DescribeOptions): string {
  const by = (a: Actor): string => (a === null ? "The room's provider" : o.name(a, true));
  switch (e.kind) {
    case 'added':
      return `${by(e.by)} added ${o.name(e.user, false)}`;
    case 'removed':
      return e.by === null ? `${o.name(e.user, true)} was removed by the room's provider` : `${by(e.by)} removed ${o.name(e.user, false)}`;
    case 'kicked':
      return e.by === null ? `${o.name(e.user, true)} was removed by the room's provider` : `${by(e.by)} kicked ${o.name(e.user, false)}`;
    case 'banned':
      return e.by === null ? `${o.name(e.user, true)} was banned by the room's provider` : `${by(e.by)} banned ${o.name(e.user, false)}`;
    case 'unbanned':
      return `${by(e.by)} unbanned ${o.name(e.user, false)}`;
    case 'roleChanged':
      return `${by(e.by)} changed ${o.possessive?.(e.user) ?? `${o.name(e.user, false)}’s`} role from ${o.role(e.from)} to ${o.role(e.to)}`;
    case 'renamed':
      return e.name ? `${by(e.by)} renamed the room to ${quoted(e.name)}` : `${by(e.by)} removed the room’s name`;
    case 'metadataChanged':
      if (e.field === 'subject') return e.value ? `${by(e.by)} set the subject to ${quoted(e.value)}` : `${by(e.by)} cleared the subject`;
      if (e.field === 'avatar') return e.value ? `${by(e.by)} changed the room’s picture` : `${by(e.by)} removed the room’s picture`;
      return e.value ? `${by(e.by)} changed the room’s description` : `${by(e.by)} removed the room’s description`;
    case 'rolesChanged':
      return `${by(e.by)} changed the room’s roles`;
    case 'joined':
      return e.how === 'knock' ? `${o.name(e.user, true)} came in to knock` : e.how === 'again' ? `${o.name(e.user, true)} joined again` : `${o.name(e.user, true)} joined with a link`;
    case 'left':
      return `${o.name(e.user, true)} left`;
    case 'newDevice':
      return `${o.name(e.user, true)} added a new device`;
    case 'verifiedChanged':
      return `${o.possessive?.(e.user) ?? `${o.name(e.user, true)}’s`} devices changed since you verified them — compare your safety number again`;
  }
}

/** The users an event names (for sealing decisions and for the renderer's name lookups). */
export function usersOf(e: TimelineEvent): string[] {
  const out: string[] = [];
  if ('by' in e && e.by !== null) out.push(e.by);
  if ('user' in e) out.push(e.user);
  return out;
}

/**
 * A stored event read back: only the shapes above, so a damaged or foreign row is refused rather
 * than shown half. Throws a plain Error saying what is wrong.
 */
export function parseTimelineEvent(v: unknown): TimelineEvent {
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || !(TIMELINE_EVENT_KINDS as readonly string[]).includes(o.kind as string)) throw new Error('not a timeline event');
  const str = (k: string) => {
    if (typeof o[k] !== 'string') throw new Error(`timeline event ${String(o.kind)} lacks ${k}`);
  };
  if ('by' in o && o.by !== null) str('by');
  if (['added', 'removed', 'kicked', 'banned', 'unbanned', 'roleChanged', 'joined', 'left', 'newDevice', 'verifiedChanged'].includes(o.kind as string)) str('user');
  if (o.kind === 'roleChanged') (str('from'), str('to'));
  if (o.kind === 'renamed') str('name');
  if (o.kind === 'metadataChanged') {
    str('value');
    if (!['description', 'avatar', 'subject'].includes(o.field as string)) throw new Error('timeline event metadataChanged has an unknown field');
  }
  if (o.kind === 'joined' && !['link', 'knock', 'again'].includes(o.how as string)) throw new Error('timeline event joined has an unknown way in');
  return o as unknown as TimelineEvent;
}
