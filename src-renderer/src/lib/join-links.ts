// How join links and knocks read on screen, and what the "new link" and "join with a link" forms
// send: the options a person picked as the JoinLinkArgs the core takes (or the sentence that says
// what to fix), a pasted link checked before anything is sent, and each link's and knock's state
// in words. Kept free of Vue so it is unit tested on its own.

import type { JoinLinkArgs, JoinLinkView, KnockView, MyKnockView, RoomRoleView } from '../../../src-shared/contract.js';
import { parseMimiUri } from '../../../src-shared/identifiers.js';
import { JoinLinkError, parseJoinLink, type JoinLink } from '../../../src-shared/join-link.js';
import { who } from './consent-text.js';
import { isPseudonym, shortPseudonym } from './pseudonyms.js';
import { BANNED_ROLE } from './room-settings.js';
import { roleLabel } from './role-names.js';
import { formatNumber, t } from '../i18n.js';

// ---- making a link ----

export type UsesChoice = 'unlimited' | 'once' | 'count';
export type ExpiryChoice = 'none' | '1h' | '1d' | '7d' | 'custom';
export type ExpiryUnit = 'minutes' | 'hours' | 'days';

/** The new-link form as typed: numbers stay text until checked, so a half-typed one is not lost. */
export interface LinkDraft {
  uses: UsesChoice;
  /** For `uses: 'count'`. */
  count: string;
  expiry: ExpiryChoice;
  /** For `expiry: 'custom'`: so many minutes, hours or days from now. */
  customAmount: string;
  customUnit: ExpiryUnit;
  /** Empty: anyone with the link may join without one. */
  passphrase: string;
  /** null: the role the room gives people who join. */
  roleIndex: number | null;
}

export const NEW_LINK_DRAFT: Readonly<LinkDraft> = Object.freeze({
  uses: 'unlimited',
  count: '5',
  expiry: '1d',
  customAmount: '3',
  customUnit: 'days',
  passphrase: '',
  roleIndex: null,
});

/** What the core accepts (contract.ts, joinLinkArgs). */
export const MAX_LINK_USES = 100_000;
export const MIN_EXPIRY_SECONDS = 60;
export const MAX_EXPIRY_SECONDS = 366 * 24 * 3600;
export const PASSPHRASE_MIN = 4;
export const PASSPHRASE_MAX = 200;

const HOUR = 3600;
const DAY = 24 * HOUR;
export const EXPIRY_PRESETS: Record<Exclude<ExpiryChoice, 'none' | 'custom'>, number> = { '1h': HOUR, '1d': DAY, '7d': 7 * DAY };
const UNIT_SECONDS: Record<ExpiryUnit, number> = { minutes: 60, hours: HOUR, days: DAY };

/** Which field a problem is about, so the form can mark it and put the focus there. */
export type LinkDraftField = 'count' | 'custom' | 'passphrase';

/** A whole number typed in a field, or undefined for anything else ("3.5", "1e3", "", "five"). */
function wholeNumber(text: string): number | undefined {
  const t = text.trim();
  return /^[0-9]{1,9}$/.test(t) ? Number(t) : undefined;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/**
 * A passphrase is compared as typed but for spaces at either end, which are dropped both when the
 * link is made and when it is used: a space copied along with it must not lock anyone out.
 */
export function cleanPassphrase(p: string): string {
  return p.trim();
}

export function linkArgsFromDraft(d: LinkDraft): { args: JoinLinkArgs } | { problem: string; field: LinkDraftField } {
  let uses: number | null = null;
  if (d.uses === 'once') uses = 1;
  else if (d.uses === 'count') {
    const n = wholeNumber(d.count);
    if (n === undefined || n < 1 || n > MAX_LINK_USES) return { problem: t('links.problems.count', { max: formatNumber(MAX_LINK_USES) }), field: 'count' };
    uses = n;
  }

  let expiresInSeconds: number | null = null;
  if (d.expiry === 'custom') {
    const n = wholeNumber(d.customAmount);
    const seconds = n === undefined ? undefined : n * UNIT_SECONDS[d.customUnit];
    if (seconds === undefined || seconds < MIN_EXPIRY_SECONDS || seconds > MAX_EXPIRY_SECONDS)
      return { problem: t('links.problems.custom'), field: 'custom' };
    expiresInSeconds = seconds;
  } else if (d.expiry !== 'none') expiresInSeconds = EXPIRY_PRESETS[d.expiry];

  const p = cleanPassphrase(d.passphrase);
  if (p && p.length < PASSPHRASE_MIN) return { problem: t('links.problems.passphraseShort', { min: PASSPHRASE_MIN }), field: 'passphrase' };
  if (p.length > PASSPHRASE_MAX) return { problem: t('links.problems.passphraseLong', { max: PASSPHRASE_MAX }), field: 'passphrase' };
  if (CONTROL.test(p)) return { problem: t('links.problems.passphraseControl'), field: 'passphrase' };

  return { args: { uses, expiresInSeconds, passphrase: p || null, roleIndex: d.roleIndex } };
}

/**
 * The roles a link may give: those the room policy lets a code give (`allowed`, from the core's
 * settings view), never 0 (not on the participant list) nor 1 (banned).
 */
export function linkRoles(roles: readonly RoomRoleView[], allowed: readonly number[]): RoomRoleView[] {
  return roles.filter((r) => r.roleIndex > BANNED_ROLE && allowed.includes(r.roleIndex));
}

// ---- a link's state in words ----

export function linkStateText(state: JoinLinkView['state']): string {
  return t(`links.state.${state}`);
}

export function usesText(l: Pick<JoinLinkView, 'maxUses' | 'usesLeft'>): string {
  if (l.maxUses === null) return t('links.uses.unlimited');
  const left = l.usesLeft ?? 0;
  if (l.maxUses === 1) return left > 0 ? t('links.uses.singleUnused') : t('links.uses.singleUsed');
  return t('links.uses.left', { left: formatNumber(left), max: formatNumber(l.maxUses), count: left });
}

/** "45 minutes", "5 hours", "7 days": how long until `ms` from now, rounded for reading. */
export function duration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 60) return t('links.duration.minutes', { count: minutes });
  const hours = Math.round(minutes / 60);
  if (hours < 48) return t('links.duration.hours', { count: hours });
  const days = Math.round(hours / 24);
  return t('links.duration.days', { count: days });
}

/** When the link stops working, relative to `now`; the screen puts the date beside it. */
export function expiryText(l: Pick<JoinLinkView, 'expiresAt' | 'state'>, now: number): string {
  if (l.expiresAt === null) return t('links.expiry.never');
  if (l.state === 'expired' || l.expiresAt <= now) return t('links.expiry.expired');
  return t('links.expiry.in', { duration: duration(l.expiresAt - now) });
}

/** What the section shows about a link's options, e.g. for the one just made. */
export function linkSummary(l: JoinLinkView, now: number): string {
  return [usesText(l), expiryText(l, now), t(l.passphrase ? 'links.summary.passphrase' : 'links.summary.noPassphrase'), t('links.summary.joinsAs', { role: roleLabel(l.roleName) })].join(' · ');
}

/** Active links first (newest first), then the others newest first. */
export function sortLinks(list: readonly JoinLinkView[]): JoinLinkView[] {
  return [...list].sort((a, b) => Number(b.state === 'active') - Number(a.state === 'active') || b.createdAt - a.createdAt || a.id.localeCompare(b.id));
}

// ---- a pasted link ----

export type TypedLink = { link: JoinLink } | { problem: string };

/**
 * Why parseJoinLink refused a link, by the reason its (English) message names in parentheses: the
 * shared parser has no catalogue, so the dialog says the same in the window's language. A reason
 * not listed here keeps the parser's own sentence.
 */
const LINK_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/\(it has no code\)/, 'noCode'],
  [/\(it does not name a room\)/, 'notRoom'],
  [/\(it does not start with a room address\)/, 'noRoomAddress'],
  [/\(its code is missing or cut short\)/, 'codeCut'],
  [/\(it has an unknown part "([^"]*)"\)/, 'unknownPart'],
  [/\(a part of it appears twice\)/, 'twice'],
];

function linkProblemText(message: string): string {
  for (const [re, key] of LINK_REASONS) {
    const m = re.exec(message);
    if (m) return t('links.problems.notALink', { why: t(`links.problems.why.${key}`, { part: m[1] ?? '' }) });
  }
  return message;
}

/** What was pasted in the join dialog, checked as the core will check it. */
export function readTypedLink(text: string): TypedLink {
  if (!text.trim()) return { problem: t('links.problems.paste') };
  try {
    return { link: parseJoinLink(text) };
  } catch (e) {
    if (e instanceof JoinLinkError) return { problem: linkProblemText(e.message) };
    throw e;
  }
}

/** The provider that hosts the link's room (the only thing the link says about it). */
export function linkHost(roomUri: string): string {
  try {
    return parseMimiUri(roomUri).domain;
  } catch {
    return roomUri;
  }
}

// ---- knocks ----

export const KNOCK_NOTE_MAX = 1000;

export function knockNoteProblem(note: string): string | undefined {
  if (note.length > KNOCK_NOTE_MAX) return t('knocks.problems.noteTooLong', { max: formatNumber(KNOCK_NOTE_MAX) });
  if (CONTROL.test(note)) return t('knocks.problems.noteControl');
  return undefined;
}

/**
 * Who knocked, or made a link: a person as everywhere else, a pseudonym shortened (the full URI
 * goes in a title). Nobody vouches for who is behind a knocking pseudonym, so none is named.
 */
export function userLabel(uri: string, viewerDomain: string): { label: string; pseudonym: boolean } {
  return isPseudonym(uri) ? { label: shortPseudonym(uri), pseudonym: true } : { label: who(uri, viewerDomain), pseudonym: false };
}

export function knockStateText(state: KnockView['state']): string {
  return t(`knocks.state.${state}`);
}

/** Pending knocks oldest first (the order they came in), then the answered ones newest first. */
export function sortIncomingKnocks(list: readonly KnockView[]): KnockView[] {
  const pending = list.filter((k) => k.state === 'pending').sort((a, b) => a.at - b.at);
  const answered = list.filter((k) => k.state !== 'pending').sort((a, b) => b.at - a.at);
  return [...pending, ...answered];
}

export function pendingKnocks(list: readonly KnockView[]): KnockView[] {
  return list.filter((k) => k.state === 'pending');
}

/** A knocked-on room by its name once known, else by its provider. */
export function knockRoomLabel(k: Pick<MyKnockView, 'roomName' | 'roomUri'>): string {
  return k.roomName ? t('knocks.roomNamed', { name: k.roomName }) : t('knocks.roomOn', { host: linkHost(k.roomUri) });
}

/** The knocker's side: where their knock is. */
export function outgoingKnockText(k: MyKnockView): string {
  const room = knockRoomLabel(k);
  switch (k.state) {
    case 'sending':
      return t('knocks.outgoing.sending', { room });
    case 'waiting':
      return t('knocks.outgoing.waiting', { room });
    case 'admitted':
      return t('knocks.outgoing.admitted', { room });
    case 'failed':
      return t('knocks.outgoing.failed', { problem: k.problem || t('knocks.outgoing.failedUnknown') });
  }
}

/** Newest first: the knock just sent is on top. */
export function sortOutgoingKnocks(list: readonly MyKnockView[]): MyKnockView[] {
  return [...list].sort((a, b) => b.at - a.at);
}
