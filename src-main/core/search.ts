// Searching a profile's messages: the index (db/search-index.ts, its own file) catches up with the
// profile database in the background, in batches that yield to the event loop, and a query finishes
// the catching up when little is left. Candidates come from the index by blinded prefix terms
// (search-terms.ts); each is confirmed on its decrypted text, which also gives the snippet. The
// index file never holds a word in clear; see docs/decisions.md "Message search".

import { createHash } from 'node:crypto';
import path from 'node:path';
import type { SearchResponse, SearchResultView } from '../../src-shared/contract.js';
import { decodeContent, summarize } from '../../src-shared/content.js';
import type { MessageRow } from '../db/profile-db.js';
import { SearchIndexDb } from '../db/search-index.js';
import type { ProfileContext } from './context.js';
import { toViews, viewSource, type ViewSource } from './message-view.js';
import { blind, indexTerms, matches, queryTerms, snippet } from './search-terms.js';

export const SEARCH_FILE = 'search.db';
const BATCH = 500;
/** A query catches up with at most this many messages itself; more are left to the background. */
const QUERY_CATCH_UP = 2000;
const CHUNK = 100;

/**
 * The words a stored row is found by: a text message's text, and an edit's new text (found, it
 * stands for the message it edits); nothing for reactions and deletions.
 */
export function searchableText(row: MessageRow): string {
  try {
    const s = summarize(decodeContent(row.content));
    return s.kind === 'text' || s.kind === 'edit' ? s.text : '';
  } catch {
    return '';
  }
}

export class MessageSearch {
  private index?: SearchIndexDb;
  private readonly key: Uint8Array;
  private running?: Promise<void>;
  private readonly cache = new Map<string, string>();
  private readonly views: ViewSource;
  private closed = false;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly dir: string,
    /** The room's name as the app shows it (its metadata, or who is in it); '' when unknown. */
    private readonly roomName: (roomUri: string) => string = (uri) => ctx.db.getRoom(uri)?.name ?? '',
  ) {
    this.key = ctx.db.derivedKey('search index');
    this.views = viewSource(ctx);
  }

  private db(): SearchIndexDb {
    if (!this.index) {
      const index = new SearchIndexDb(path.join(this.dir, SEARCH_FILE));
      // An index made with another key (a profile restored with new secrets) is useless: start over.
      const keyId = createHash('sha256').update(this.key).digest('hex').slice(0, 16);
      if (index.keyId() !== keyId) index.reset(keyId);
      this.index = index;
    }
    return this.index;
  }

  /** Indexes up to `max` messages stored since the last run; returns how many it took. */
  catchUpSome(max = BATCH): number {
    const index = this.db();
    const rows = this.ctx.db.messagesAfter(index.lastSeq(), max);
    if (rows.length === 0) return 0;
    const batch = rows.map((r) => ({ seq: r.seq, terms: [...indexTerms(searchableText(r))].map((t) => this.blinded(t)).join(' ') }));
    index.add(batch, rows[rows.length - 1].seq);
    return rows.length;
  }

  /**
   * A term's keyed hash, remembered: words recur (a few thousand make most of any history), and the
   * hash is most of the indexing cost. Memory only; bounded.
   */
  private blinded(term: string): string {
    let b = this.cache.get(term);
    if (b === undefined) {
      if (this.cache.size >= 200_000) this.cache.clear();
      b = blind(this.key, term);
      this.cache.set(term, b);
    }
    return b;
  }

  /** Messages not indexed yet. */
  pending(): number {
    return this.ctx.db.countMessagesAfter(this.db().lastSeq());
  }

  /** Catches up in the background, a batch per turn of the event loop; one run at a time. */
  catchUpInBackground(): Promise<void> {
    if (this.running || this.closed) return this.running ?? Promise.resolve();
    this.running = (async () => {
      try {
        while (!this.closed && this.catchUpSome() === BATCH) await new Promise((r) => setImmediate(r));
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  query(query: string, roomUri: string | null, limit: number): SearchResponse {
    if (this.pending() <= QUERY_CATCH_UP) while (this.catchUpSome() === BATCH);
    else void this.catchUpInBackground();
    const index = this.db();
    const terms = queryTerms(query).map((t) => this.blinded(t));
    const results: SearchResultView[] = [];
    if (terms.length > 0) {
      // Prefixes cut at 12 characters, and (rarely) a keyed-hash collision, can bring a candidate the
      // text does not match: ask for more than needed and confirm each.
      const seen = new Set<number>();
      const names = new Map<string, string>();
      const nameOf = (uri: string): string => {
        if (!names.has(uri)) names.set(uri, this.roomName(uri));
        return names.get(uri)!;
      };
      const candidates = index.search(terms, Math.min(limit * 4, 2000));
      // In chunks, so that a common prefix does not fold hundreds of messages when 50 are enough;
      // each chunk's messages are folded per room in one go (one query for their actions).
      for (let at = 0; at < candidates.length && results.length < limit; at += CHUNK) {
        const rows: MessageRow[] = [];
        for (const seq of candidates.slice(at, at + CHUNK)) {
          let row = this.ctx.db.getMessage(seq);
          if (!row) {
            index.remove(seq); // its room was left and forgotten
            continue;
          }
          if (roomUri !== null && row.roomUri !== roomUri) continue;
          // An edit found stands for the message it edits; every hit is judged by the message as it
          // reads now (its latest valid edit; a deleted one is not found).
          if (row.action) {
            const target = row.action.kind === 'edit' && row.action.targetId ? this.ctx.db.messageById(row.roomUri, row.action.targetId) : undefined;
            if (!target || target.action) continue;
            row = target;
          }
          if (seen.has(row.seq)) continue;
          seen.add(row.seq);
          rows.push(row);
        }
        const byRoom = new Map<string, MessageRow[]>();
        for (const r of rows) byRoom.set(r.roomUri, [...(byRoom.get(r.roomUri) ?? []), r]);
        const views = [...byRoom.values()].flatMap((list) => toViews(this.views, list));
        for (const now of views.sort((a, b) => b.seq - a.seq)) {
          if (now.deleted || !matches(now.text, query)) continue;
          const s = snippet(now.text, query);
          results.push({
            roomUri: now.roomUri,
            roomName: nameOf(now.roomUri),
            seq: now.seq,
            messageId: now.messageId,
            sender: now.sender,
            timestamp: now.timestamp,
            snippet: s.text,
            marks: s.marks,
          });
          if (results.length >= limit) break;
        }
      }
    }
    results.sort((a, b) => b.timestamp - a.timestamp || b.seq - a.seq);
    return { results, pending: this.pending() };
  }

  close(): void {
    this.closed = true;
    this.index?.close();
    this.index = undefined;
  }
}
