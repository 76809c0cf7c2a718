// The "Who may send you connection requests" form: what a person typed, as the setting the core
// takes, or the sentence that says what to fix; and the setting said in words (in the window's
// language, so these are functions of the moment they are called, never stored sentences).

import {
  MAX_CONNECTION_REQUEST_DOMAINS,
  parseDomainList,
  type ConnectionRequestMode,
  type ConnectionRequestPolicy,
} from '../../../src-shared/connection-request-policy.js';
import { isValidDomain } from '../../../src-shared/identifiers.js';
import { t } from '../i18n.js';

/** "b.example", "b.example and c.example", "b.example, c.example and d.example". */
function listed(domains: readonly string[]): string {
  if (domains.length < 2) return domains[0] ?? '';
  return t('people.policy.listAnd', { list: domains.slice(0, -1).join(', '), last: domains[domains.length - 1] });
}

/**
 * The setting from the form. The list counts only in mode 'domains', where every entry must be a
 * domain; in the other modes it is hidden, so what is valid of it is kept and the rest dropped.
 */
export function policyFromDraft(mode: ConnectionRequestMode, text: string): { policy: ConnectionRequestPolicy } | { problem: string } {
  const typed = parseDomainList(text);
  if (mode !== 'domains') return { policy: { mode, domains: typed.filter(isValidDomain).slice(0, MAX_CONNECTION_REQUEST_DOMAINS) } };
  const bad = typed.find((d) => !isValidDomain(d));
  if (bad !== undefined) return { problem: t('people.policy.notADomain', { typed: bad.slice(0, 80) }) };
  if (typed.length === 0) return { problem: t('people.policy.noDomain') };
  if (typed.length > MAX_CONNECTION_REQUEST_DOMAINS) return { problem: t('people.policy.tooMany', { max: MAX_CONNECTION_REQUEST_DOMAINS, count: typed.length }) };
  return { policy: { mode, domains: typed } };
}

export function samePolicy(a: ConnectionRequestPolicy, b: ConnectionRequestPolicy): boolean {
  return a.mode === b.mode && a.domains.join(' ') === b.domains.join(' ');
}

/** The setting in one sentence. */
export function policySummary(p: ConnectionRequestPolicy): string {
  if (p.mode === 'anyone' || p.mode === 'nobody') return t(`people.policy.summary.${p.mode}`);
  return t('people.policy.summary.domains', { domains: listed(p.domains) });
}
