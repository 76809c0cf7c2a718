// The message search index of a profile: its own SQLite file (search.db) beside the profile's
// database, holding for each message (by its seq there) the blinded terms of search-terms.ts in an
// FTS5 table, and how far it has caught up. It holds no plaintext and nothing it cannot rebuild:
// deleting the file costs one re-index. FTS5 with detail=none keeps only which message has which
// term (no positions), all an AND of terms needs; contentless, it does not keep the terms' text
// either (contentless_delete lets a message's row be replaced or removed all the same).

import Database from 'better-sqlite3';

export class SearchIndexDb {
  private readonly db: Database.Database;
  private readonly s;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(t, tokenize = 'ascii', detail = 'none', content = '', contentless_delete = 1);
    `);
    this.s = {
      getMeta: this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      insert: this.db.prepare<[number, string]>('INSERT OR REPLACE INTO terms (rowid, t) VALUES (?, ?)'),
      remove: this.db.prepare<[number]>('DELETE FROM terms WHERE rowid = ?'),
      search: this.db.prepare<[string, number], { rowid: number }>('SELECT rowid FROM terms WHERE terms MATCH ? ORDER BY rowid DESC LIMIT ?'),
      count: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM terms'),
    };
  }

  /** The seq of the last message indexed (0: none yet). */
  lastSeq(): number {
    return Number(this.s.getMeta.get('last_seq')?.value ?? 0);
  }

  /** Which blinding key the index was made with (a fingerprint): another key means start over. */
  keyId(): string | undefined {
    return this.s.getMeta.get('key_id')?.value;
  }

  /** Empties the index and records the key it is made with from now on. */
  reset(keyId: string): void {
    this.db.transaction(() => {
      this.db.exec("DELETE FROM terms; DELETE FROM meta WHERE key = 'last_seq'");
      this.s.setMeta.run('key_id', keyId);
    })();
  }

  /** Adds a batch of messages (seq and space-separated blinded terms) and moves last_seq, in one transaction. */
  add(batch: readonly { seq: number; terms: string }[], lastSeq: number): void {
    this.db.transaction(() => {
      for (const b of batch) if (b.terms) this.s.insert.run(b.seq, b.terms);
      this.s.setMeta.run('last_seq', String(lastSeq));
    })();
  }

  remove(seq: number): void {
    this.s.remove.run(seq);
  }

  /** Seqs of messages having every one of `terms` (blinded), newest first. */
  search(terms: readonly string[], limit: number): number[] {
    if (terms.length === 0) return [];
    // Each term is hex: quoting it makes it a plain token to FTS5 whatever it looks like.
    const match = terms.map((t) => `"${t}"`).join(' ');
    return this.s.search.all(match, limit).map((r) => r.rowid);
  }

  size(): number {
    return this.s.count.get()!.n;
  }

  close(): void {
    this.db.close();
  }
}
