// Reply, react, unreact, edit and delete (draft-ietf-mimi-content-08) across two real provider
// processes: alice@a.example hosts the room, bob@b.example takes part. Each action travels as an
// MLS application message like any other; every member folds it into its message. A tampered
// client's edit, delete or unlike of someone else's message is ignored by every receiver. Then
// the same through the `mimi` command.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { Outbox } from '../../src-main/core/outbox.js';
import { CoreError, type MessageView } from '../../src-shared/contract.js';
import { fromHex } from '../../src-shared/bytes.js';
import { CONTENT_TYPE_MARKDOWN, deleteMessage, editMessage, unlikeMessage } from '../../src-shared/content.js';
import { providerStorageBytes } from '../helpers/provider-db.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';
import { mimi, register } from '../helpers/mimi-cli.js';

let engine: MlsEngine;
const profiles: Profile[] = [];
const providers: FederatedProvider[] = [];
const links: Link[] = [];

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of providers) await p.stop().catch(() => undefined);
  for (const l of links) await l.close();
});

async function federation() {
  engine ??= await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  for (const d of ['a.example', 'b.example']) {
    providers.push(f[d]);
    links.push(f.links[d]);
  }
  return f;
}

const messages = (p: Profile, room: string): MessageView[] => p.page(room, null, 500).reverse();
const byText = (p: Profile, room: string, text: string) => messages(p, room).find((m) => m.text === text);
const byId = (p: Profile, room: string, id: string) => messages(p, room).find((m) => m.messageId === id);
/** A tampered client: sends content straight through the outbox, past every check of the app. */
const sendRaw = (p: Profile) => (p as unknown as { outbox: Outbox }).outbox;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CoreError, String(e));
    return `${e.code}: ${e.message}`;
  }
  return 'no error';
}

test('reply, react, unreact, edit and delete across providers; forged edits, deletes and unlikes are ignored', async () => {
  const f = await federation();
  const alice = await testProfile(f['a.example'], 'alice', { engine, keep: profiles, dirPrefix: 'actions-a' });
  const bob = await testProfile(f['b.example'], 'bob', { engine, keep: profiles, dirPrefix: 'actions-b' });
  const { roomUri: room } = await alice.createRoom('Lunch');
  await alice.addMember(room, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');

  await alice.send(room, 'lunch at noon?');
  await waitFor(() => !!byText(bob, room, 'lunch at noon?'), 'bob to get the question');
  const question = byText(bob, room, 'lunch at noon?')!.messageId;

  // Reply: a new message whose quote is the answered one, as it reads now.
  const reply = await bob.messageActions.reply(room, question, 'yes, **noon** works');
  assert.equal(reply.contentType, CONTENT_TYPE_MARKDOWN, 'Markdown syntax is sent as text/markdown');
  await waitFor(() => !!byText(alice, room, 'yes, **noon** works'), 'alice to get the reply');
  const replyAtAlice = byText(alice, room, 'yes, **noon** works')!;
  assert.equal(replyAtAlice.inReplyTo, question);
  assert.deepEqual(replyAtAlice.replyTo, { messageId: question, sender: alice.config.userUri, text: 'lunch at noon?', contentType: 'text/plain;charset=utf-8' });

  // Reactions: counted per emoji, one per person; reacting twice counts once.
  await bob.messageActions.react(room, question, '👍', false);
  await alice.messageActions.react(room, question, '👍', false);
  await alice.messageActions.react(room, question, '❤', false);
  await alice.messageActions.react(room, question, '❤', false);
  const reactionsAt = (p: Profile) => byId(p, room, question)?.reactions?.map((r) => `${r.emoji}${r.count}${r.mine ? '*' : ''}`).join(' ');
  await waitFor(() => reactionsAt(bob) === '👍2* ❤1', 'bob to see both thumbs and the heart');
  await waitFor(() => reactionsAt(alice) === '👍2* ❤1*', 'alice to see the same counts');
  // Reactions are no timeline rows and bump no unread count.
  assert.deepEqual(messages(bob, room).map((m) => m.text), ['lunch at noon?', 'yes, **noon** works']);

  // Unreact (content-08 unlike): bob withdraws his thumb; one he never gave is a clear error.
  await bob.messageActions.react(room, question, '👍', true);
  await waitFor(() => reactionsAt(alice) === '👍1* ❤1*', "alice to see bob's thumb gone");
  assert.match(await codeOf(bob.messageActions.react(room, question, '🎉', true)), /^invalidArgument: You have not reacted 🎉/);
  assert.match(await codeOf(bob.messageActions.react(room, question, '  ', false)), /^invalidArgument: The reaction is empty/);

  // Edit: only the sender's own, shown with the latest text and its history.
  await alice.messageActions.edit(room, question, 'lunch at 12:30?');
  await waitFor(() => byId(bob, room, question)?.text === 'lunch at 12:30?', 'bob to see the edit');
  assert.equal(byId(bob, room, question)!.edited, true);
  assert.deepEqual(bob.messageActions.history(room, question).map((v) => v.text), ['lunch at noon?', 'lunch at 12:30?']);
  // The reply's quote follows the edit.
  assert.equal(byText(bob, room, 'yes, **noon** works')!.replyTo?.text, 'lunch at 12:30?');
  const queued = bob.queuedMessages();
  assert.match(await codeOf(bob.messageActions.edit(room, question, 'hijacked')), /^notAllowed: Only its sender can edit a message/);
  assert.match(await codeOf(bob.messageActions.delete(room, question)), /^notAllowed: Only its sender can delete a message/);
  assert.match(await codeOf(bob.messageActions.edit(room, 'ab'.repeat(32), 'x')), /^invalidArgument: No message abab.* mimi tail ROOM --ids/);
  assert.equal(bob.queuedMessages(), queued, 'a refused action sends nothing');

  // A tampered client sends them anyway: an edit and a delete of alice's message, and an unlike of
  // alice's heart. Every receiver ignores them (the marker after them shows they were processed).
  const aliceHeart = (alice as unknown as { ctx: { db: { actionsOn(r: string, ids: string[]): Array<{ messageId: string; sender: string; action?: { kind: string } }> } } }).ctx.db
    .actionsOn(room, [question])
    .find((a) => a.sender === alice.config.userUri && a.action?.kind === 'reaction')!;
  await sendRaw(bob).sendControl(room, (me) => editMessage({ senderUri: me, roomUri: room, replaces: fromHex(question), text: 'forged by bob' }));
  await sendRaw(bob).sendControl(room, (me) => deleteMessage({ senderUri: me, roomUri: room, replaces: fromHex(question) }));
  await sendRaw(bob).sendControl(room, (me) => unlikeMessage({ senderUri: me, roomUri: room, replaces: fromHex(aliceHeart.messageId), inReplyTo: fromHex(question) }));
  await bob.send(room, 'marker after the forgeries');
  await waitFor(() => !!byText(alice, room, 'marker after the forgeries'), 'alice to get the marker');
  const untouched = byId(alice, room, question)!;
  assert.equal(untouched.text, 'lunch at 12:30?');
  assert.equal(untouched.deleted, undefined);
  assert.equal(reactionsAt(alice), '👍1* ❤1*');
  assert.deepEqual(alice.messageActions.history(room, question).map((v) => v.text), ['lunch at noon?', 'lunch at 12:30?']);

  // Delete by the sender: everyone sees "message deleted"; the reply's quote says so too.
  await alice.messageActions.delete(room, question);
  await waitFor(() => byId(bob, room, question)?.deleted === true, 'bob to see the delete');
  const gone = byId(bob, room, question)!;
  assert.equal(gone.text, '');
  assert.equal(gone.reactions, undefined);
  assert.deepEqual(byText(bob, room, 'yes, **noon** works')!.replyTo, { messageId: question, sender: alice.config.userUri, text: '', contentType: 'text/plain;charset=utf-8', deleted: true });
  assert.match(await codeOf(alice.messageActions.edit(room, question, 'again')), /^invalidArgument: That message is already deleted/);
  assert.match(await codeOf((async () => bob.messageActions.history(room, question))()), /^invalidArgument: That message was deleted/);
  await alice.flushOutbox();

  // Sealed at rest and on the providers: no edit text or reaction in any database file.
  // The providers' databases (files and WAL on SQLite, every row on PostgreSQL) and the clients' files.
  const stored = [
    ...providers.map((p) => ({ file: `${p.domain}'s database`, bytes: providerStorageBytes(p.dataDir) })),
    ...[alice, bob].flatMap((p) => fs.readdirSync(p.dir).filter((n) => n.endsWith('.db') || n.includes('.db-')).map((n) => ({ file: path.join(p.dir, n), bytes: fs.readFileSync(path.join(p.dir, n)) }))),
  ];
  assert.ok(stored.length >= 4, stored.map((x) => x.file).join(', '));
  for (const { file, bytes } of stored) {
    for (const secret of ['lunch at 12:30?', 'forged by bob', '❤', 'noon** works']) assert.equal(bytes.includes(Buffer.from(secret)), false, `${secret} in ${file}`);
  }
});

test('mimi reply, react [--remove], edit and delete across providers', async () => {
  const f = await federation();
  const alice = path.join(tempDir('cli-actions-a'), 'p');
  const bob = path.join(tempDir('cli-actions-b'), 'p');
  assert.equal((await register(alice, f['a.example'], 'alice')).code, 0);
  assert.equal((await register(bob, f['b.example'], 'bob')).code, 0);
  const room = (await mimi(['--profile', alice, 'create-room', 'cli-actions'])).stdout.trim();
  assert.equal((await mimi(['--profile', alice, 'add', room, 'bob@b.example'])).code, 0);
  assert.equal((await mimi(['--profile', alice, 'send', room, 'first draft'])).code, 0);
  const tail = async (who: string, count: number) => {
    const r = await mimi(['--profile', who, 'tail', room, '--count', String(count), '--timeout', '20', '--ids']);
    assert.equal(r.code, 0, r.stderr);
    // Room changes ("* alice added bob") come between the messages: only the messages here.
    return r.stdout.trimEnd().split('\n').filter((l) => !l.startsWith('* ')).map((l) => l.split('\t'));
  };
  const [[id, sender, text]] = await tail(bob, 1);
  assert.equal(sender, 'alice@a.example');
  assert.equal(text, 'first draft');

  const reply = await mimi(['--profile', bob, 'reply', room, id, 'looks good']);
  assert.equal(reply.code, 0, reply.stderr);
  const react = await mimi(['--profile', bob, 'react', room, id, '🎉']);
  assert.equal(react.code, 0, react.stderr);
  const edit = await mimi(['--profile', alice, 'edit', room, id, 'final text']);
  assert.equal(edit.code, 0, edit.stderr);
  // tail prints as soon as the rows are there; the reaction may be a moment behind the reply.
  const tailUntil = async (who: string, count: number, ok: (lines: string[][]) => boolean) => {
    let lines: string[][] = [];
    await waitFor(async () => ok((lines = await tail(who, count))), `tail of ${path.basename(path.dirname(who))}`, 30_000);
    return lines;
  };
  let lines = await tailUntil(alice, 2, (l) => l[0][3] === 'edited; reactions 🎉 1');
  assert.deepEqual(lines[0].slice(1), ['alice@a.example', 'final text', 'edited; reactions 🎉 1']);
  assert.deepEqual(lines[1].slice(1), ['bob@b.example', 'looks good', `reply to ${id.slice(0, 12)}`]);

  assert.equal((await mimi(['--profile', bob, 'react', room, id, '🎉', '--remove'])).code, 0);
  const again = await mimi(['--profile', bob, 'react', room, id, '🎉', '--remove']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /You have not reacted 🎉 to that message/);
  const notHis = await mimi(['--profile', bob, 'delete', room, id]);
  assert.equal(notHis.code, 1);
  assert.match(notHis.stderr, /Only its sender can delete a message; you can reply to it instead/);
  const badId = await mimi(['--profile', bob, 'delete', room, 'nope']);
  assert.equal(badId.code, 2);
  assert.match(badId.stderr, /MSGID must be a message id \(64 hex digits\) as mimi tail/);

  assert.equal((await mimi(['--profile', alice, 'delete', room, id])).code, 0);
  lines = await tailUntil(bob, 2, (l) => l[0][2] === '(message deleted)');
  assert.deepEqual(lines[0].slice(1), ['alice@a.example', '(message deleted)']);
});
