// How pseudonyms, their pools and the people behind them read on screen. A pseudonym's random id
// means nothing to a person, so it is shown shortened next to whatever identity was verified for
// it; the full URI stays one hover away. Kept free of components so it is unit tested on its own;
// its sentences come from the catalogue in the window's language at the moment they are asked for.

import type { ConnectionView, IdentityView, PseudonymPoolView, PseudonymView } from '../../../src-shared/contract.js';
import { parseMimiUriAs } from '../../../src-shared/identifiers.js';
import { t } from '../i18n.js';
import { personName } from './identity.js';
import { quoted } from './consent-text.js';

/** Characters of the random id kept in the short form: enough to tell a handful apart. */
const SHORT_ID = 6;

export function isPseudonym(uri: string): boolean {
  return parseMimiUriAs('pseudonym', uri) !== undefined;
}

/** `mimi://a.example/p/q3Jx8Lw0…` -> `p/q3Jx8L…`; anything else comes back as it is. */
export function shortPseudonym(uri: string): string {
  const id = parseMimiUriAs('pseudonym', uri)?.pseudonymId;
  if (!id) return uri;
  return `p/${id.length > SHORT_ID + 1 ? `${id.slice(0, SHORT_ID)}…` : id}`;
}

/** A room whose members all appear as pseudonyms (the viewer's own included). */
export function isMinimalMetadataRoom(members: readonly string[]): boolean {
  return members.length > 0 && members.every(isPseudonym);
}

export interface MemberName {
  /** What to print and use in labels: the verified real identity, else the short pseudonym. */
  label: string;
  /** For the avatar's letters: the handle, when one is known. */
  handle: string;
  /** Set for a pseudonym: its short form and full URI, shown beside (or as) the label. */
  pseudonym?: { short: string; full: string };
  /** For a pseudonym: whether the real identity was verified, and why not. */
  verified?: boolean;
  problem?: string;
}

/**
 * An unverified identity is never printed as the member's name (that would be taking a forged
 * link at its word): the member stays their pseudonym, with the reason beside it. `selfUri`: the
 * viewer's user URI when `user` is the viewer (their own pseudonym needs no link to be known).
 */
export function memberName(user: string, identity: IdentityView | undefined, viewerDomain: string, selfUri?: string): MemberName {
  if (!isPseudonym(user)) {
    const p = personName(user, viewerDomain);
    return { label: p.label, handle: p.handle };
  }
  const pseudonym = { short: shortPseudonym(user), full: user };
  const real = selfUri ?? (identity?.verified ? identity.user : undefined);
  if (real) {
    const p = personName(real, viewerDomain);
    return { label: p.label, handle: p.handle, pseudonym, verified: true };
  }
  return { label: pseudonym.short, handle: '?', pseudonym, verified: false, problem: identity?.problem ?? t('pseudonyms.noIdentityYet') };
}

/** Whether `user` in a room is this account: its user URI, or one of its own pseudonyms. */
export function isSelf(user: string, accountUserUri: string, pool: PseudonymPoolView | undefined): boolean {
  return user === accountUserUri || !!pool?.pseudonyms.some((p) => p.userPseudonym === user);
}

/** Which of a room's `members` is this account (in a minimal-metadata room, its pseudonym there); else its user URI. */
export function selfIn(members: readonly string[], accountUserUri: string, pool: PseudonymPoolView | undefined): string {
  return members.find((m) => isSelf(m, accountUserUri, pool)) ?? accountUserUri;
}

/**
 * How many to ask for with "Get more now": enough to reach the threshold again, and at least one
 * batch (what the background refill would ask for), within what the core accepts.
 */
export const REFILL_MAX = 50;
export function refillCount(pool: Pick<PseudonymPoolView, 'unused' | 'threshold' | 'batch'>): number {
  return Math.min(REFILL_MAX, Math.max(1, pool.batch, pool.threshold - pool.unused));
}

export interface PseudonymGroups {
  inUse: PseudonymView[];
  unused: PseudonymView[];
  retired: PseudonymView[];
}

/** Newest first within each state. */
export function groupPseudonyms(pool: PseudonymPoolView | undefined): PseudonymGroups {
  const all = [...(pool?.pseudonyms ?? [])].sort((a, b) => b.issuedAt - a.issuedAt || a.userPseudonym.localeCompare(b.userPseudonym));
  return { inUse: all.filter((p) => p.state === 'inUse'), unused: all.filter((p) => p.state === 'unused'), retired: all.filter((p) => p.state === 'retired') };
}

const quotedList = (names: readonly string[]) => names.map(quoted).join(', ');

/** The state as a short phrase: unused, the rooms it is in, or retired. */
export function pseudonymState(p: PseudonymView): string {
  if (p.state === 'retired') return t('pseudonyms.state.retired');
  if (p.state === 'unused') return t('pseudonyms.state.unused');
  // Taken for a room that is gone (left, or a connection's bootstrap room): never handed out again.
  if (p.rooms.length === 0) return t('pseudonyms.state.usedBefore');
  return t('pseudonyms.state.inRooms', { rooms: quotedList(p.rooms.map((r) => r.name)) });
}

/** What retiring does, said before it is done: it cannot be undone. */
export function retireQuestion(p: PseudonymView, providerDomain: string): string {
  const short = shortPseudonym(p.userPseudonym);
  if (p.rooms.length === 0) return t('pseudonyms.retireQuestion.noRoom', { short, domain: providerDomain });
  return t('pseudonyms.retireQuestion.inRooms', { short, domain: providerDomain, count: p.rooms.length, rooms: quotedList(p.rooms.map((r) => r.name)) });
}

export function poolSummary(pool: PseudonymPoolView): string {
  if (pool.threshold <= 0) return t('pseudonyms.pool.summaryNoRefill', { unused: pool.unused });
  return t('pseudonyms.pool.summary', { unused: pool.unused, threshold: pool.threshold, batch: pool.batch });
}

/** A connection request's state, as its side reads it ("waiting for your answer" / "… an answer"). */
export function connectionStateText(direction: ConnectionView['direction'], state: ConnectionView['state']): string {
  return t(`people.connections.state.${direction}.${state}`);
}

/** Pending requests to this account, oldest first: the order they arrived in. */
export function pendingIncoming(incoming: readonly ConnectionView[]): ConnectionView[] {
  return incoming.filter((c) => c.state === 'pending').sort((a, b) => a.at - b.at);
}
