// What the `mimi` link and knock commands (link, join LINK, knock-room, knock, knocks, admit,
// reject) make of their arguments, and how they print links and knocks. No profile here: the
// commands in mimi.ts call the core; this is the part the unit tests check on its own.
//
// The limits are the contract's (src-shared/contract.ts joinLinkArgs and the links/knocks checks):
// the `mimi` command calls the core directly, without the IPC layer that enforces them for the app.

import { CoreError, type JoinLinkView, type KnockView, type KnocksView, type MyKnockView, type RoomRoleView } from '../../src-shared/contract.js';
import { displayUser } from '../../src-shared/identifiers.js';
import { JoinLinkError, formatJoinLink, parseJoinLink, type JoinLink } from '../../src-shared/join-link.js';
import { UsageError } from './args.js';

/** Exit code of a link the hub refused (unknown, expired, used up, revoked) or a missing or wrong passphrase. */
export const EXIT_LINK_REFUSED = 4;

/** The exit code for a failed command, when it is not the generic 1. */
export function linkExitCode(e: unknown): number | undefined {
  return e instanceof CoreError && (e.code === 'linkRefused' || e.code === 'passphraseRequired') ? EXIT_LINK_REFUSED : undefined;
}

// ---- link create options ----

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };
const MIN_EXPIRY_S = 60;
const MAX_EXPIRY_S = 366 * 86400;

/**
 * `--expires`: a whole number and a unit, `3600s`, `30m`, `2h`, `7d` or `2w`, into seconds. Units
 * are lowercase only, so `1M` is refused rather than read as a minute when a month was meant.
 */
export function parseDuration(text: string): number {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  if (!m) throw new UsageError(`--expires takes a number and a unit (s, m, h, d or w), e.g. 30m, 2h, 7d; not "${text}"`);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]];
  if (seconds < MIN_EXPIRY_S) throw new UsageError(`--expires ${text} is too short: a link lasts at least 1 minute (1m)`);
  if (seconds > MAX_EXPIRY_S) throw new UsageError(`--expires ${text} is too long: a link lasts at most 366 days (366d); leave --expires out for a link that does not expire`);
  return seconds;
}

/** `--uses N`: how many joins the link allows. */
export function parseUses(text: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > 100000) {
    throw new UsageError(`--uses takes a number from 1 to 100000 (leave it out for any number of uses); not "${text}"`);
  }
  return Number(text);
}

/** `--passphrase P` of `link create`: what joiners must type besides having the link. */
export function checkNewPassphrase(p: string): string {
  if (p.length < 4 || p.length > 200) throw new UsageError('--passphrase must be 4 to 200 characters');
  return p;
}

/** `--passphrase P` of `join`: as typed; the hub says whether it is right. */
export function checkJoinPassphrase(p: string): string {
  if (p.length < 1 || p.length > 200) throw new UsageError('--passphrase must be 1 to 200 characters');
  return p;
}

/**
 * `--role R`: a role index or a role name of the room (as `mimi role` takes them), into the index a
 * link gives its joiners. Roles 0 (no role) and 1 (banned) make no sense for a way in, and the
 * contract refuses them.
 */
export function resolveRoleArg(arg: string, roles: readonly RoomRoleView[]): number {
  if (roles.length === 0) throw new CoreError('invalidArgument', 'This room has no roles (an older client created it), so a link cannot give one; leave out --role.');
  const index = /^\d{1,5}$/.test(arg) ? Number(arg) : undefined;
  const role = roles.find((r) => (index !== undefined ? r.roleIndex === index : r.roleName === arg));
  const choices = roles
    .filter((r) => r.roleIndex >= 2)
    .map((r) => `${r.roleIndex} ${r.roleName}`)
    .join(', ');
  if (!role) throw new CoreError('invalidArgument', `This room has no role "${arg}"; a link can give ${choices}.`);
  if (role.roleIndex < 2) throw new CoreError('invalidArgument', `A link cannot give role ${role.roleIndex} (${role.roleName}); it can give ${choices}.`);
  return role.roleIndex;
}

/** A link id as `mimi link list` prints it (hex). */
export function checkLinkId(id: string): string {
  const lower = id.toLowerCase();
  if (!/^[0-9a-f]{16,64}$/.test(lower)) throw new UsageError(`"${id}" is not a link id; the ids are in the first column of: mimi link list ROOM`);
  return lower;
}

/** `--note` of `knock`. */
export function checkNote(note: string): string {
  if (note.length > 1000) throw new UsageError(`--note is at most 1000 characters (this one has ${note.length})`);
  return note;
}

// ---- links as arguments ----

/** What `mimi join` was given: a join link (has a query) or, as before, a room URI. */
export type JoinTarget = { kind: 'link'; link: JoinLink; text: string } | { kind: 'room'; roomUri: string };

export function joinTarget(arg: string): JoinTarget {
  // Room URIs have no query; anything with one is meant as a link, and parsing it says what is wrong.
  if (!arg.includes('?')) return { kind: 'room', roomUri: arg };
  const link = parseLinkArg(arg);
  return { kind: 'link', link, text: formatJoinLink(link) };
}

/** A link typed or pasted on the command line, or an error that says what is wrong with it. */
export function parseLinkArg(arg: string): JoinLink {
  try {
    return parseJoinLink(arg);
  } catch (e) {
    if (e instanceof JoinLinkError) throw new CoreError('invalidArgument', e.message);
    throw e;
  }
}

// ---- knocks ----

/** The incoming knock `id`, checked to be one for `roomUri` (the room `admit`/`reject` named). */
export function knockOfRoom(knocks: KnocksView, id: string, roomUri: string, roomRef: string): KnockView {
  const knock = knocks.incoming.find((k) => k.id === id);
  if (!knock) throw new CoreError('invalidArgument', `There is no knock ${id}; list the knocks with: mimi knocks ${roomRef}`);
  if (knock.roomUri !== roomUri) {
    throw new CoreError('invalidArgument', `Knock ${id} asks to join ${knock.roomName || knock.roomUri}, not ${roomRef}; name its room, or list the knocks with: mimi knocks`);
  }
  if (knock.state !== 'pending') throw new CoreError('invalidArgument', `Knock ${id} was already ${knock.state}.`);
  return knock;
}

/** The knock that `after` has and `before` had not (the one just sent), else the newest. */
export function newKnock(before: KnocksView, after: KnocksView): MyKnockView | undefined {
  const known = new Set(before.outgoing.map((k) => k.id));
  const fresh = after.outgoing.filter((k) => !known.has(k.id));
  const pool = fresh.length ? fresh : after.outgoing;
  return pool.reduce<MyKnockView | undefined>((newest, k) => (!newest || k.at >= newest.at ? k : newest), undefined);
}

// ---- printing ----

/**
 * Text from elsewhere (room names, notes, who knocked) on one table line: no control characters,
 * which could break the table or drive the terminal.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/** A user or pseudonym URI as the app shows it; anything else as it is. */
export function who(uri: string): string {
  try {
    return oneLine(displayUser(uri));
  } catch {
    return oneLine(uri);
  }
}

/** A time in UTC to the minute; null as `never`. */
export function when(ms: number | null): string {
  if (ms === null) return 'never';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '?';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Columns padded to line up, two spaces apart; the last one (links, notes) is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n') + '\n';
}

export function usesText(l: Pick<JoinLinkView, 'maxUses' | 'usesLeft'>): string {
  return l.maxUses === null ? 'unlimited' : `${l.usesLeft ?? 0}/${l.maxUses}`;
}

const roleText = (l: JoinLinkView): string => `${oneLine(l.roleName)} (${l.roleIndex})`;

/** The line `mimi link create` prints under the link. */
export function describeLink(l: JoinLinkView): string {
  return `id ${l.id}  uses ${usesText(l)}  expires ${when(l.expiresAt)}  role ${roleText(l)}  passphrase ${l.passphrase ? 'yes' : 'no'}`;
}

/** `mimi link list`: one row per link; the link text only on the device that made it. */
export function linksTable(links: readonly JoinLinkView[]): string {
  const rows = links.map((l) => [
    l.id,
    l.state,
    l.knock ? 'knock' : 'join',
    usesText(l),
    when(l.expiresAt),
    l.passphrase ? 'yes' : 'no',
    roleText(l),
    who(l.createdBy),
    l.link ?? '(made on another device)',
  ]);
  return table(['ID', 'STATE', 'KIND', 'USES LEFT', 'EXPIRES', 'PASSPHRASE', 'ROLE', 'CREATED BY', 'LINK'], rows);
}

export function incomingKnocksTable(knocks: readonly KnockView[]): string {
  const rows = knocks.map((k) => [k.id, oneLine(k.roomName || k.roomUri), who(k.from), when(k.at), k.problem ? `${k.state} (${oneLine(k.problem)})` : k.state, oneLine(k.note)]);
  return table(['ID', 'ROOM', 'FROM', 'WHEN', 'STATE', 'NOTE'], rows);
}

export function outgoingKnocksTable(knocks: readonly MyKnockView[]): string {
  const rows = knocks.map((k) => [k.id, oneLine(k.roomName || k.roomUri), who(k.as), when(k.at), k.problem ? `${k.state} (${oneLine(k.problem)})` : k.state]);
  return table(['ID', 'ROOM', 'AS', 'WHEN', 'STATE'], rows);
}
