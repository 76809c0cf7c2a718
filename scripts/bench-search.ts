// Message search at scale, for `npm run bench`: a real profile database (sealed contents, real vault)
// holding `count` messages in 20 rooms, written with a vocabulary of a few thousand words; the index
// built from it (time and messages per second), then `queries` searches of one or two word
// prefixes, timed (p50, p95). The baseline, measured in the same run on the same data: what search
// costs without an index, opening and matching every message (a handful of runs, it is slow).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { toHex } from '../src-shared/bytes.js';
import { encodeContent, messageId, textMessage } from '../src-shared/content.js';
import { ProfileDb } from '../src-main/db/profile-db.js';
import { openSecretStore } from '../src-main/secrets/secret-store.js';
import { Vault } from '../src-main/secrets/vault.js';
import { MessageSearch, searchableText } from '../src-main/core/search.js';
import { matches } from '../src-main/core/search-terms.js';
import type { ProfileContext } from '../src-main/core/context.js';

export interface SearchFigures {
  messages: number;
  indexMs: number;
  p50Ms: number;
  p95Ms: number;
  queries: number;
  /** Median of the scans without an index (open and match every message). */
  scanMs: number;
  indexBytes: number;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

/** A deterministic pseudo-random generator (the same data every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 2 ** 32);
}

export async function benchSearch(count = 100_000, queries = 200): Promise<SearchFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-bench-search-'));
  const secrets = await openSecretStore({ profileDir: dir, namespace: 'mimi://bench.example/d/u/1', preferred: 'plaintext' });
  const db = new ProfileDb(path.join(dir, 'mimi.db'), await Vault.open(secrets));
  const rand = rng(42);
  const syllables = ['ka', 'lo', 'mi', 'ren', 'to', 'sa', 'vel', 'dor', 'an', 'pi', 'qu', 'el', 'nor', 'ish', 'ub', 'te'];
  const vocabulary = Array.from({ length: 4000 }, () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join(''));
  // Zipf-like: common words often, rare words seldom.
  const word = () => vocabulary[Math.floor(vocabulary.length * rand() ** 3)];
  try {
    const rooms = Array.from({ length: 20 }, (_, i) => `mimi://bench.example/r/room${i}`);
    for (const r of rooms) db.insertRoom({ roomUri: r, name: r.slice(-6), hubDomain: 'bench.example', epoch: 0n, groupState: new Uint8Array([1]) });
    db.tx(() => {
      for (let i = 0; i < count; i++) {
        const roomUri = rooms[i % rooms.length];
        const text = Array.from({ length: 4 + Math.floor(rand() * 16) }, word).join(' ');
        const content = encodeContent(textMessage({ senderUri: 'mimi://bench.example/u/u', roomUri, text }));
        db.insertMessage({ roomUri, messageId: toHex(messageId(content)), sender: 'mimi://bench.example/u/u', content, timestamp: 1_000_000 + i, status: 'received' }, false);
      }
    });
    const search = new MessageSearch({ db, config: { userUri: 'mimi://bench.example/u/u' } } as unknown as ProfileContext, dir);
    const t0 = performance.now();
    await search.catchUpInBackground();
    const indexMs = performance.now() - t0;
    const asked = Array.from({ length: queries }, () => {
      const w = word();
      const q = w.slice(0, Math.max(3, Math.ceil(w.length * 0.7)));
      return rand() < 0.3 ? `${q} ${word().slice(0, 3)}` : q;
    });
    const times: number[] = [];
    for (const q of asked) {
      const s = performance.now();
      search.query(q, null, 50);
      times.push(performance.now() - s);
    }
    // Without an index: every message opened, decoded and matched.
    const scans: number[] = [];
    for (const q of asked.slice(0, 3)) {
      const s = performance.now();
      let found = 0;
      for (let after = 0; ; ) {
        const rows = db.messagesAfter(after, 5000);
        if (rows.length === 0) break;
        for (const r of rows) if (matches(searchableText(r), q)) found++;
        after = rows[rows.length - 1].seq;
      }
      scans.push(performance.now() - s);
      void found;
    }
    search.close();
    const indexBytes = fs.readdirSync(dir).filter((f) => f.startsWith('search.db')).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    return { messages: count, indexMs, p50Ms: pct(times, 50), p95Ms: pct(times, 95), queries, scanMs: pct(scans, 50), indexBytes };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `npx tsx scripts/bench-search.ts [messages] [queries]` runs it alone.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const r = await benchSearch(Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 200));
  console.log(
    `${r.messages} messages: indexed in ${(r.indexMs / 1000).toFixed(1)} s (${Math.round(r.messages / (r.indexMs / 1000))}/s, index ${(r.indexBytes / 1e6).toFixed(1)} MB); ` +
      `search p50 ${r.p50Ms.toFixed(2)} ms, p95 ${r.p95Ms.toFixed(2)} ms over ${r.queries} queries; without an index ${r.scanMs.toFixed(0)} ms (ratio ${(r.scanMs / r.p50Ms).toFixed(0)})`,
  );
}
