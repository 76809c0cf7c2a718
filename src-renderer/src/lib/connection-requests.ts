// The "Who may send you connection requests" form: what a person typed, as the setting the core
// takes, or the sentence that says what to fix; and the setting said in words.

import {
  MAX_CONNECTION_REQUEST_DOMAINS,
  parseDomainList,
  type ConnectionRequestMode,
  type ConnectionRequestPolicy,
} from '../../../src-shared/connection-request-policy.js';
import { isValidDomain } from '../../../src-shared/identifiers.js';

/** "b.example", "b.example and c.example", "b.example, c.example and d.example". */
function listed(domains: readonly string[]): string {
  return domains.length < 2 ? (domains[0] ?? '') : `${domains.slice(0, -1).join(', ')} and ${domains[domains.length - 1]}`;
}

/**
 * The setting from the form. The list counts only in mode 'domains', where every entry must be a
 * domain; in the other modes it is hidden, so what is valid of it is kept and the rest dropped.
 */
export function policyFromDraft(mode: ConnectionRequestMode, text: string): { policy: ConnectionRequestPolicy } | { problem: string } {
  const typed = parseDomainList(text);
  if (mode !== 'domains') return { policy: { mode, domains: typed.filter(isValidDomain).slice(0, MAX_CONNECTION_REQUEST_DOMAINS) } };
  const bad = typed.find((d) => !isValidDomain(d));
  if (bad !== undefined) return { problem: `“${bad.slice(0, 80)}” is not a provider’s domain. Type domains such as b.example, separated by commas or spaces.` };
  if (typed.length === 0) return { problem: 'Type at least one provider’s domain, such as b.example, or choose Nobody.' };
  if (typed.length > MAX_CONNECTION_REQUEST_DOMAINS) return { problem: `List at most ${MAX_CONNECTION_REQUEST_DOMAINS} providers (you typed ${typed.length}). To refuse everyone, choose Nobody.` };
  return { policy: { mode, domains: typed } };
}

export function samePolicy(a: ConnectionRequestPolicy, b: ConnectionRequestPolicy): boolean {
  return a.mode === b.mode && a.domains.join(' ') === b.domains.join(' ');
}

/** The setting in one sentence. */
export function policySummary(p: ConnectionRequestPolicy): string {
  if (p.mode === 'anyone') return 'Anyone may send you connection requests; each waits for your answer.';
  if (p.mode === 'nobody') return 'Nobody can send you connection requests.';
  return `Only people on ${listed(p.domains)} may send you connection requests.`;
}
