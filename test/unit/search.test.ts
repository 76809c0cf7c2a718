// Message search (src-main/core/search.ts, search-terms.ts, db/search-index.ts) on a real profile
// database and a real index file: words and prefixes found, case folded, every query word needed,
// one room or all, newest first, reactions and deletions not found, catching up with new messages
// and with a large history in batches; and the index file holding no word of any message in clear.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteMessage, editMessage, encodeContent, reactionMessage, textMessage, messageId, type MimiContent } from '../../src-shared/content.js';
import { fromHex } from '../../src-shared/bytes.js';
import { toHex } from '../../src-shared/bytes.js';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { openSecretStore } from '../../src-main/secrets/secret-store.js';
import { Vault } from '../../src-main/secrets/vault.js';
import { MessageSearch, SEARCH_FILE } from '../../src-main/core/search.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import { blind, indexTerms, matches, queryTerms, snippet, words } from '../../src-main/core/search-terms.js';

const ROOM_A = 'mimi://a.example/r/garden';
const ROOM_B = 'mimi://a.example/r/kitchen';
const ALICE = 'mimi://a.example/u/alice';

async function profile() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-search-'));
  const secrets = await openSecretStore({ profileDir: dir, namespace: 'mimi://a.example/d/alice/1', preferred: 'plaintext' });
  const db = new ProfileDb(path.join(dir, 'mimi.db'), await Vault.open(secrets));
  for (const [roomUri, name] of [
    [ROOM_A, 'Garden'],
    [ROOM_B, 'Kitchen'],
  ]) db.insertRoom({ roomUri, name, hubDomain: 'a.example', epoch: 0n, groupState: new Uint8Array([1]) });
  let ts = 1_000;
  const store = (roomUri: string, c: MimiContent, action?: { kind: 'edit' | 'delete'; targetId: string }) => {
    const content = encodeContent(c);
    return db.insertMessage({ roomUri, messageId: toHex(messageId(content)), sender: ALICE, content, timestamp: ts++, status: 'received', ...(action ? { action } : {}) }, false)!;
  };
  const add = (roomUri: string, text: string, kind: 'text' | 'reaction' = 'text') =>
    store(roomUri, kind === 'text' ? textMessage({ senderUri: ALICE, roomUri, text }) : reactionMessage({ senderUri: ALICE, roomUri, inReplyTo: new Uint8Array(32), reaction: text }));
  const edit = (roomUri: string, targetId: string, text: string) => store(roomUri, editMessage({ senderUri: ALICE, roomUri, replaces: fromHex(targetId), text }), { kind: 'edit', targetId });
  const remove = (roomUri: string, targetId: string) => store(roomUri, deleteMessage({ senderUri: ALICE, roomUri, replaces: fromHex(targetId) }), { kind: 'delete', targetId });
  // The search folds actions in as the timeline does, which needs to know who "me" is.
  const search = new MessageSearch({ db, config: { userUri: ALICE } } as unknown as ProfileContext, dir);
  return { dir, db, add, edit, remove, search };
}

test('terms: words and prefixes, NFKC and lower case; a query needs each word as a prefix', () => {
  assert.deepEqual(words('Ｔｏｍａｔｏｅｓ, basil & CAFÉ-au-lait 42!'), ['tomatoes', 'basil', 'café', 'au', 'lait', '42']);
  const t = indexTerms('Tomatoes');
  assert.ok(t.has('w:tomatoes') && t.has('p:to') && t.has('p:tomatoes') && !t.has('p:t'));
  assert.equal([...indexTerms('internationalization')].filter((x) => x.startsWith('p:')).length, 11, 'prefixes of 2..12 characters');
  assert.deepEqual(queryTerms('tom B internationalization'), ['p:tom', 'w:b', 'p:internationa']);
  assert.ok(matches('We planted tomatoes and basil', 'TOM bas'));
  assert.ok(!matches('We planted tomatoes and basil', 'tom parsley'));
  assert.ok(!matches('anything', '  !! '));
  const key = new Uint8Array(32).fill(7);
  assert.match(blind(key, 'w:tomatoes'), /^[0-9a-f]{24}$/);
  assert.notEqual(blind(key, 'w:tomatoes'), blind(new Uint8Array(32).fill(8), 'w:tomatoes'));
  const s = snippet(`${'filler '.repeat(60)}the tomatoes are ripe ${'more '.repeat(60)}`, 'tomato');
  assert.ok(s.text.startsWith('…') && s.text.endsWith('…') && s.text.length <= 162);
  assert.equal(s.text.slice(s.marks[0][0], s.marks[0][1]), 'tomato');
});

test('search: found by word and prefix, in one room or all, newest first; reactions not found; new messages found', async () => {
  const { dir, add, search, db } = await profile();
  add(ROOM_A, 'The tomatoes are ripe');
  add(ROOM_B, 'Tomato soup tonight?');
  add(ROOM_A, 'Basil next to the TOMATOES');
  add(ROOM_A, 'tomato', 'reaction');
  const all = search.query('tomato', null, 50);
  assert.deepEqual(all.results.map((r) => r.snippet), ['Basil next to the TOMATOES', 'Tomato soup tonight?', 'The tomatoes are ripe']);
  assert.equal(all.pending, 0);
  assert.deepEqual(all.results.map((r) => r.roomName), ['Garden', 'Kitchen', 'Garden']);
  assert.deepEqual(search.query('tomato', ROOM_A, 50).results.length, 2);
  assert.deepEqual(search.query('bas tom', null, 50).results.map((r) => r.snippet), ['Basil next to the TOMATOES']);
  assert.deepEqual(search.query('parsley', null, 50).results, []);
  assert.equal(search.query('tomato', null, 1).results.length, 1);
  // A message stored later is found at the next query.
  add(ROOM_B, 'Parsley for the soup');
  assert.deepEqual(search.query('pars', null, 50).results.map((r) => r.roomUri), [ROOM_B]);
  // Nothing of the messages is in the index file in clear.
  search.close();
  db.close();
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(SEARCH_FILE));
  assert.ok(files.length >= 1);
  const bytes = Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
  for (const w of ['tomato', 'TOMATO', 'basil', 'parsley', 'soup', 'ripe', 'Garden']) assert.ok(!bytes.includes(Buffer.from(w)), `"${w}" is not in the index files`);
});

test('a large history is indexed in batches in the background; a query says how much is pending', async () => {
  const { add, search } = await profile();
  for (let i = 0; i < 2600; i++) add(i % 2 ? ROOM_A : ROOM_B, `message number ${i} about ${i % 100 === 0 ? 'zucchini' : 'nothing much'}`);
  // More than a query catches up with itself: it answers from what is indexed and says what is not.
  const early = search.query('zucchini', null, 50);
  assert.ok(early.pending > 0, 'pending reported');
  await search.catchUpInBackground();
  const done = search.query('zucchini', null, 50);
  assert.equal(done.pending, 0);
  assert.equal(done.results.length, 26);
  assert.ok(done.results.every((r, i, a) => i === 0 || a[i - 1].timestamp >= r.timestamp), 'newest first');
  search.close();
});

test('edits and deletions: a message is found by what it reads now, and a deleted one not at all', async () => {
  const { add, edit, remove, search } = await profile();
  const typo = add(ROOM_A, 'Lets meet at the bakrey');
  const gone = add(ROOM_A, 'Secret bakery plans');
  edit(ROOM_A, typo.messageId, 'Lets meet at the bakery');
  remove(ROOM_A, gone.messageId);
  const r = search.query('bakery', null, 50);
  assert.deepEqual(r.results.map((x) => [x.seq, x.snippet]), [[typo.seq, 'Lets meet at the bakery']], 'the edited one, once, as it reads now; not the deleted one');
  assert.deepEqual(search.query('bakrey', null, 50).results, [], 'the text before the edit is not found');
  search.close();
});
