// What the message search index holds and asks for, without plaintext: every word of a message and
// its prefixes (2 to 12 characters) become terms, and each term is blinded with a keyed hash before
// it reaches the index file (search.ts). The key is derived from the profile's data key, so the
// index file alone reveals no word, only which messages share a term. Pure: no I/O.
//
// Words: the text in Unicode NFKC, lower-cased, split on anything that is not a letter or a digit.
// A query matches a message when each of its words is a prefix of some word of the message; the
// index finds candidates by blinded prefix, and `matches` confirms them on the text itself.

import { createHmac } from 'node:crypto';

export const MIN_PREFIX = 2;
export const MAX_PREFIX = 12;
/** Longer runs (a pasted key, a URL's middle) are not words anyone searches for. */
export const MAX_WORD = 64;
/** Bytes of the keyed hash kept per term: 96 bits, so unrelated terms do not collide in practice. */
const TERM_BYTES = 12;

export function words(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0 && w.length <= MAX_WORD);
}

/** The clear terms of a message: `w:` each whole word, `p:` each of its prefixes of 2..12 characters. */
export function indexTerms(text: string): Set<string> {
  const terms = new Set<string>();
  for (const w of words(text)) {
    terms.add(`w:${w}`);
    const chars = [...w];
    for (let k = MIN_PREFIX; k <= Math.min(chars.length, MAX_PREFIX); k++) terms.add(`p:${chars.slice(0, k).join('')}`);
  }
  return terms;
}

/**
 * The clear terms a query needs, all of them: a one-character word must be a whole word, a longer
 * one a prefix (its first 12 characters; `matches` checks the rest).
 */
export function queryTerms(query: string): string[] {
  const terms = new Set<string>();
  for (const w of words(query)) {
    const chars = [...w];
    terms.add(chars.length < MIN_PREFIX ? `w:${w}` : `p:${chars.slice(0, MAX_PREFIX).join('')}`);
  }
  return [...terms];
}

/** A clear term as the index stores it: a keyed hash, in hex (a token FTS5's ascii tokenizer keeps whole). */
export function blind(key: Uint8Array, term: string): string {
  return createHmac('sha256', key).update(term, 'utf8').digest().subarray(0, TERM_BYTES).toString('hex');
}

/** Does `text` match `query` (each query word a prefix of one of its words)? */
export function matches(text: string, query: string): boolean {
  const have = words(text);
  const want = words(query);
  return want.length > 0 && want.every((q) => have.some((w) => w.startsWith(q)));
}

/**
 * Up to `max` characters of `text` around its first matching word, with the matched words' places
 * (offsets into the snippet) for highlighting. Whitespace is collapsed; the ends say when cut.
 */
export function snippet(text: string, query: string, max = 160): { text: string; marks: [number, number][] } {
  const flat = text.replace(/\s+/g, ' ').trim();
  const want = words(query);
  const lower = flat.normalize('NFKC').toLowerCase();
  // Offsets are found in the lowered text; NFKC can change lengths, so only use them when it did not.
  const usable = lower.length === flat.length;
  const hits: [number, number][] = [];
  if (usable) {
    const re = /[\p{L}\p{N}]+/gu;
    for (let m = re.exec(lower); m; m = re.exec(lower)) {
      const q = want.find((x) => m![0].startsWith(x));
      if (q) hits.push([m.index, m.index + q.length]);
    }
  }
  const first = hits[0]?.[0] ?? 0;
  let start = Math.max(0, Math.min(first - Math.floor(max / 3), flat.length - max));
  if (start > 0) {
    const space = flat.indexOf(' ', start);
    if (space >= 0 && space < first) start = space + 1;
  }
  const end = Math.min(flat.length, start + max);
  const prefix = start > 0 ? '…' : '';
  const out = prefix + flat.slice(start, end) + (end < flat.length ? '…' : '');
  const marks = hits.filter(([a, b]) => a >= start && b <= end).map(([a, b]) => [a - start + prefix.length, b - start + prefix.length] as [number, number]);
  return { text: out, marks };
}
