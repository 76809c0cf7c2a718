// Message actions as logic: what each official content-08 example does (content-actions.ts), how
// stored actions fold into their message on a real SQLite profile database (message-view.ts:
// only the sender edits or deletes, only a reaction's sender withdraws it, whatever the order of
// arrival), the receipt check, which actions a row offers and the keys that reach them, the
// Electron external-link filter, and profile-db migration 6 on a database made before it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ProfileDb, type MessageRow } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { toViews, versionsOf, type ViewSource } from '../../src-main/core/message-view.js';
import { actionOnReceipt } from '../../src-main/core/message-actions.js';
import { actionOf } from '../../src-shared/content-actions.js';
import { reactionProblem } from '../../src-shared/reaction-text.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';
import { decodeContent, deleteMessage, editMessage, encodeContent, messageId, reactionMessage, textMessage, unlikeMessage, type MimiContent } from '../../src-shared/content.js';
import { externalUrl } from '../../src-main/electron/external-links.js';
import { keyAction, menuItems } from '../../src-renderer/src/lib/message-actions.js';
import { buildRows } from '../../src-renderer/src/lib/timeline-model.js';
import { CoreError, validateCall, type MessageView } from '../../src-shared/contract.js';
import { tempDir } from '../helpers/provider-process.js';

const VECTORS = path.resolve(import.meta.dirname, '../../../shared/vectors/mimi-content');
const vector = (name: string): MimiContent => decodeContent(new Uint8Array(fs.readFileSync(path.join(VECTORS, `${name}.cbor`))));
const ORIGINAL = '017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4';

test('the official examples: reply, reaction, unlike, edit and delete decode and say what they do', () => {
  assert.deepEqual(actionOf(vector('original')), { kind: 'message' });
  assert.deepEqual(actionOf(vector('reply')), { kind: 'message', inReplyTo: ORIGINAL });
  assert.deepEqual(actionOf(vector('reaction')), { kind: 'reaction', target: ORIGINAL, emoji: '\u2764' });
  const reactionId = toHex(messageId(new Uint8Array(fs.readFileSync(path.join(VECTORS, 'reaction.cbor')))));
  assert.deepEqual(actionOf(vector('unlike')), { kind: 'unlike', reaction: reactionId, target: ORIGINAL });
  const edit = actionOf(vector('edit'));
  const del = actionOf(vector('delete'));
  assert.equal(edit.kind, 'edit');
  assert.equal(del.kind, 'delete');
  // Both name the first version of the message they change.
  assert.equal((edit as { target: string }).target, (del as { target: string }).target);
});

test('reactions from the user: trimmed, one line, not empty, short; each problem says what to do', () => {
  assert.equal(reactionProblem('👍🏽'), undefined);
  assert.equal(reactionProblem(' 🦄 '), undefined);
  assert.match(reactionProblem('  ')!, /empty: pick an emoji or type one/);
  assert.match(reactionProblem('a\nb')!, /one line/);
  assert.match(reactionProblem('x'.repeat(33))!, /at most 32 characters/);
});

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

const ROOM = 'mimi://a.example/r/fold';
const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const MALLORY = 'mimi://b.example/u/mallory';

async function foldDb() {
  const file = path.join(tempDir('actions-db'), 'mimi.db');
  const db = new ProfileDb(file, await Vault.open(memoryStore()));
  db.insertRoom({ roomUri: ROOM, name: 'fold', hubDomain: 'a.example', epoch: 0n, groupState: new Uint8Array(1) });
  let t = 1000;
  /** Store `c` from `sender` as the core does on receipt; undefined when the receipt check drops it. */
  const put = (sender: string, c: MimiContent, status: MessageRow['status'] = 'received'): string | undefined => {
    const action = actionOnReceipt(db, ROOM, sender, c);
    if (action && 'ignore' in action) return undefined;
    const content = encodeContent(c);
    const id = toHex(messageId(content));
    db.insertMessage({ roomUri: ROOM, messageId: id, sender, content, timestamp: t++, status, ...(action ? { action } : {}) }, false);
    return id;
  };
  const src: ViewSource = { db, me: () => ALICE };
  const views = () => toViews(src, db.pageMessages(ROOM, null, 100).reverse());
  return { db, file, put, views, src };
}

test('folding on a real database: edits and deletes only by the sender, reactions per person, unlikes only by the reactor', async () => {
  const { db, file, put, views, src } = await foldDb();
  const env = (sender: string) => ({ senderUri: sender, roomUri: ROOM });
  const q = put(ALICE, textMessage({ ...env(ALICE), text: 'lunch at noon?' }))!;
  const qId = fromHex(q);

  // A forged edit known to be forged on receipt is not even stored.
  assert.equal(put(MALLORY, editMessage({ ...env(MALLORY), replaces: qId, text: 'forged' })), undefined);
  assert.equal(put(MALLORY, deleteMessage({ ...env(MALLORY), replaces: qId })), undefined);

  const bobThumb = put(BOB, reactionMessage({ ...env(BOB), inReplyTo: qId, reaction: '👍' }))!;
  put(BOB, reactionMessage({ ...env(BOB), inReplyTo: qId, reaction: '👍' })); // twice: counts once
  const aliceThumb = put(ALICE, reactionMessage({ ...env(ALICE), inReplyTo: qId, reaction: '👍' }))!;
  put(MALLORY, reactionMessage({ ...env(MALLORY), inReplyTo: qId, reaction: '🎉' }));
  // Mallory withdraws alice's thumb: dropped on receipt. Bob withdraws his: both of his go? Only the one named.
  assert.equal(put(MALLORY, unlikeMessage({ ...env(MALLORY), replaces: fromHex(aliceThumb), inReplyTo: qId })), undefined);
  put(BOB, unlikeMessage({ ...env(BOB), replaces: fromHex(bobThumb), inReplyTo: qId }));
  put(ALICE, editMessage({ ...env(ALICE), replaces: qId, text: 'lunch at **12:30**?', markdown: true }));
  // An edit that failed to send counts for nothing.
  put(ALICE, editMessage({ ...env(ALICE), replaces: qId, text: 'never sent' }), 'failed');
  const reply = put(BOB, textMessage({ ...env(BOB), text: 'yes', inReplyTo: qId }))!;

  let [question, answer, ...rest] = views();
  assert.equal(rest.length, 0, 'actions are no timeline rows');
  assert.equal(question.text, 'lunch at **12:30**?');
  assert.equal(question.contentType, 'text/markdown;variant=GFM-MIMI');
  assert.equal(question.edited, true);
  assert.deepEqual(
    question.reactions?.map((r) => [r.emoji, r.count, r.mine]),
    [
      ['👍', 2, true],
      ['🎉', 1, false],
    ],
    "bob's second thumb still stands; alice's is untouched by mallory",
  );
  assert.equal(answer.messageId, reply);
  assert.deepEqual(answer.replyTo, { messageId: q, sender: ALICE, text: 'lunch at **12:30**?', contentType: 'text/markdown;variant=GFM-MIMI' });
  assert.deepEqual(
    versionsOf(src, db.messageById(ROOM, q)!).map((v) => v.text),
    ['lunch at noon?', 'lunch at **12:30**?'],
  );

  // Arriving before its message (e.g. out of a page): kept, but the fold still applies the rule.
  const early = textMessage({ ...env(BOB), text: 'late original' });
  const earlyId = fromHex(toHex(messageId(encodeContent(early))));
  put(MALLORY, editMessage({ ...env(MALLORY), replaces: earlyId, text: 'forged before it came' }));
  put(MALLORY, deleteMessage({ ...env(MALLORY), replaces: earlyId }));
  put(BOB, early);
  const late = views().find((v) => v.messageId === toHex(earlyId))!;
  assert.equal(late.text, 'late original');
  assert.equal(late.edited, undefined);
  assert.equal(late.deleted, undefined);

  // A delete by the sender wins over every edit; reactions go with it.
  put(ALICE, deleteMessage({ ...env(ALICE), replaces: qId }));
  [question, answer] = views();
  assert.equal(question.deleted, true);
  assert.equal(question.text, '');
  assert.equal(question.reactions, undefined);
  assert.equal(answer.replyTo?.deleted, true);

  // Sealed at rest: neither the edit's text nor a reaction is in the file.
  db.close();
  const bytes = Buffer.concat(fs.readdirSync(path.dirname(file)).map((n) => fs.readFileSync(path.join(path.dirname(file), n))));
  for (const secret of ['12:30', '🎉', 'forged']) assert.equal(bytes.includes(Buffer.from(secret)), false, secret);
});

test('profile-db migration 6: the action columns and their index; a message stored without an action is a timeline row', async () => {
  const file = path.join(tempDir('actions-migrate'), 'mimi.db');
  const db = new ProfileDb(file, await Vault.open(memoryStore()));
  const raw = new Database(file, { readonly: true });
  assert.ok((raw.pragma('user_version', { simple: true }) as number) >= 6);
  const cols = (raw.prepare('PRAGMA table_info(messages)').all() as { name: string }[]).map((c) => c.name);
  assert.ok(cols.includes('action') && cols.includes('target_id'), cols.join(','));
  assert.ok(raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_room_target'").get());
  raw.close();
  db.insertRoom({ roomUri: ROOM, name: 'm', hubDomain: 'a.example', epoch: 0n, groupState: new Uint8Array(1) });
  const content = encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, text: 'from before' }));
  db.insertMessage({ roomUri: ROOM, messageId: toHex(messageId(content)), sender: ALICE, content, timestamp: 1, status: 'sent' }, false);
  assert.equal(db.pageMessages(ROOM, null, 10).length, 1);
  assert.equal(db.pageMessages(ROOM, null, 10)[0].action, undefined);
  db.close();
});

test('which actions a row offers, and the keys on a focused message', () => {
  const m = (o: Partial<MessageView>): MessageView => ({ seq: 1, messageId: 'aa', roomUri: ROOM, sender: ALICE, text: 'x', contentType: 'text/plain;charset=utf-8', timestamp: 1, status: 'sent', ...o });
  const [mine] = buildRows([m({})], ALICE, 1);
  const [theirs] = buildRows([m({ sender: BOB, status: 'received', edited: true, editId: 'bb' })], ALICE, 1);
  const [gone] = buildRows([m({ deleted: true, text: '' })], ALICE, 1);
  const ids = (row: typeof mine, o = { reportable: false }) => menuItems(row, o).map((i) => i.id);
  assert.deepEqual(ids(mine), ['reply', 'react', 'edit', 'delete']);
  assert.deepEqual(ids(theirs, { reportable: true }), ['reply', 'react', 'history', 'report']);
  assert.deepEqual(ids(gone), []);
  assert.deepEqual(menuItems(mine, { reportable: false, readOnly: true }), []);
  const [failed] = buildRows([m({ status: 'failed' })], ALICE, 1);
  assert.deepEqual(ids(failed), [], 'a message never sent has nothing to act on');
  const k = (key: string, mods: Partial<{ shiftKey: boolean; ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => keyAction({ key, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods });
  assert.equal(k('ContextMenu'), 'menu');
  assert.equal(k('F10', { shiftKey: true }), 'menu');
  assert.equal(k('Enter'), 'menu');
  assert.equal(k('r'), 'reply');
  assert.equal(k('e'), 'edit');
  assert.equal(k('+', { shiftKey: true }), 'react');
  assert.equal(k('Delete'), 'delete');
  assert.equal(k('ArrowUp'), 'up');
  assert.equal(k('r', { ctrlKey: true }), undefined, 'Ctrl shortcuts are the app’s');
  assert.equal(k('ArrowUp', { altKey: true }), undefined, 'Alt+Up/Down switch rooms');
});

test('links open outside the app only when they are http(s) with a host', () => {
  assert.equal(externalUrl('https://example.org/a?b#c'), 'https://example.org/a?b#c');
  assert.equal(externalUrl('http://example.org'), 'http://example.org/');
  for (const bad of ['javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,<script>1</script>', 'mimi://a.example/r/x', 'https://user:pw@example.org/', 'not a url', 42, 'vbscript:x']) {
    assert.equal(externalUrl(bad), undefined, String(bad));
  }
});

test('the contract checks message-action arguments in main: a bad one is refused with what is wrong', () => {
  const ROOM_URI = 'mimi://a.example/r/x';
  const ID = 'ab'.repeat(32);
  const refused = (method: string, args: unknown[], why: RegExp) => {
    assert.throws(
      () => validateCall(method, args),
      (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument' && why.test(e.message),
      `${method} ${JSON.stringify(args)}`,
    );
  };
  validateCall('messages.reply', ['acct', ROOM_URI, ID, 'yes']);
  validateCall('messages.react', ['acct', ROOM_URI, ID, '👍', true]);
  validateCall('messages.history', ['acct', ROOM_URI, ID]);
  refused('messages.reply', ['acct', ROOM_URI, 'nope', 'yes'], /must be a message id \(64 hex digits\)/);
  refused('messages.reply', ['acct', ROOM_URI, ID.toUpperCase(), 'yes'], /must be a message id/);
  refused('messages.edit', ['acct', ROOM_URI, ID, ''], /must be 1-16000 characters/);
  refused('messages.edit', ['acct', ROOM_URI, ID, 'x'.repeat(16001)], /must be 1-16000 characters/);
  refused('messages.react', ['acct', ROOM_URI, ID, '   ', false], /The reaction is empty: pick an emoji or type one/);
  refused('messages.react', ['acct', ROOM_URI, ID, '👍', 'yes'], /must be true or false/);
  refused('messages.react', ['acct', ROOM_URI, ID, '👍'], /takes 5 argument/);
  refused('messages.delete', ['acct', 'https://a.example/r/x', ID], /must be a mimi:\/\/ room URI/);
});
