// Who may send a user connection requests (draft-mahy-mimi-pseudonyms 4.1): a request arrives as a
// claim of the user's KeyPackages by a pseudonym, so the user's provider can tell nothing about the
// requester but the pseudonym's domain. The setting is kept at the user's provider, which applies
// it to every such claim; one check here serves the provider, the core and the renderer alike.

import { isValidDomain } from './identifiers.js';

export const CONNECTION_REQUEST_MODES = ['anyone', 'domains', 'nobody'] as const;
export type ConnectionRequestMode = (typeof CONNECTION_REQUEST_MODES)[number];

/** The most providers one list may name (a longer list is a block list in disguise; use nobody). */
export const MAX_CONNECTION_REQUEST_DOMAINS = 100;

/**
 * `domains` is consulted only in mode 'domains' and kept in the others, so switching to anyone
 * and back does not lose the list.
 */
export interface ConnectionRequestPolicy {
  mode: ConnectionRequestMode;
  /** Lowercase provider domains, no duplicates, in the order given. */
  domains: string[];
}

/** What a user who never chose gets: anyone may ask (it stays a request until accepted). */
export const DEFAULT_CONNECTION_REQUEST_POLICY: Readonly<ConnectionRequestPolicy> = Object.freeze({ mode: 'anyone', domains: [] as string[] });

/** Whether a connection request from a pseudonym of `domain` may reach a user with `policy`. */
export function allowsConnectionRequestFrom(policy: ConnectionRequestPolicy, domain: string): boolean {
  return policy.mode === 'anyone' || (policy.mode === 'domains' && policy.domains.includes(domain));
}

/**
 * Why `v` is not a policy (exactly `{ mode, domains }`, valid lowercase domains, no duplicates, at
 * most MAX_CONNECTION_REQUEST_DOMAINS, at least one in mode 'domains'), or undefined if it is one.
 */
export function connectionRequestPolicyProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be an object { mode, domains }';
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => k !== 'mode' && k !== 'domains');
  if (unknown !== undefined) return `has unknown field "${unknown.slice(0, 40)}" (expected "mode", "domains")`;
  if (typeof o.mode !== 'string' || !(CONNECTION_REQUEST_MODES as readonly string[]).includes(o.mode)) return `mode must be one of ${CONNECTION_REQUEST_MODES.join(', ')}`;
  if (!Array.isArray(o.domains)) return 'domains must be an array of domains';
  if (o.domains.length > MAX_CONNECTION_REQUEST_DOMAINS) return `domains may name at most ${MAX_CONNECTION_REQUEST_DOMAINS} providers`;
  const seen = new Set<string>();
  for (const d of o.domains) {
    if (typeof d !== 'string' || !isValidDomain(d)) return `domains: ${JSON.stringify(d).slice(0, 80)} is not a lowercase domain such as b.example`;
    if (seen.has(d)) return `domains: ${d} is listed twice`;
    seen.add(d);
  }
  if (o.mode === 'domains' && seen.size === 0) return 'mode domains needs at least one domain (or choose nobody)';
  return undefined;
}

/**
 * Domains as a person gives them (any case, spaces around, a stray scheme, `@` or trailing slash)
 * in the form the provider takes: lowercase, trimmed, without duplicates. Not validated.
 */
export function normalizeDomains(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of list) {
    const d = raw.trim().toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/^@/, '').replace(/\/+$/, '');
    if (d && !out.includes(d)) out.push(d);
  }
  return out;
}

/** A typed list (spaces, commas, semicolons or new lines between), normalized. */
export function parseDomainList(text: string): string[] {
  return normalizeDomains(text.split(/[\s,;]+/));
}
