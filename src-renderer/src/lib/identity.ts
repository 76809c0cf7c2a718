// How people and rooms are named on screen. Users are shown by handle alone when they share the
// viewer's provider, and as handle@domain otherwise, so two "bob"s on different providers differ.

import { parseMimiUri, parseUserAddress } from '../../../src-shared/identifiers.js';
import { t } from '../i18n.js';

export interface PersonName {
  handle: string;
  domain: string;
  /** What to print: `bob` or `bob@b.example`. */
  label: string;
}

export function personName(userUri: string, viewerDomain?: string): PersonName {
  try {
    const p = parseMimiUri(userUri);
    const handle = p.handle ?? userUri;
    return { handle, domain: p.domain, label: p.domain === viewerDomain ? handle : `${handle}@${p.domain}` };
  } catch {
    return { handle: userUri, domain: '', label: userUri };
  }
}

/** One or two letters for an avatar. */
export function initials(name: string): string {
  const letters = name.replace(/[^\p{L}\p{N}]+/gu, ' ').trim().split(/\s+/);
  const first = letters[0]?.[0] ?? '?';
  const second = letters.length > 1 ? letters[1][0] : '';
  return (first + second).toUpperCase();
}

/**
 * What a person typed as a user address (`bob`, `bob@b.example`, `mimi://b.example/u/bob`; a bare
 * handle is on the viewer's provider), as a user URI, or the sentence that says what is wrong.
 */
export function typedUser(typed: string, viewerDomain: string): { uri: string } | { problem: string } {
  const input = typed.trim();
  if (!input) return { problem: t('people.address.empty') };
  try {
    return { uri: parseUserAddress(input, viewerDomain) };
  } catch {
    return { problem: t('people.address.invalid', { input }) };
  }
}
