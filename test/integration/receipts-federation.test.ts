// Delivery and read receipts and typing indicators across two real provider processes: alice on
// a.example (the room's hub), bob on b.example. Everything travels as MLS application messages, so
// neither provider's files nor logs may hold what a receipt or an indicator says.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError, type MessageView } from '../../src-shared/contract.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { ProviderClient } from '../../src-main/net/provider-client.js';
import { Profile } from '../../src-main/core/profile.js';
import { MESSAGE_STATUS_MEDIA_TYPE } from '../../src-shared/message-status.js';
import { TYPING_MEDIA_TYPE } from '../../src-shared/typing-indicator.js';
import { DB_FILE } from '../../src-provider/store.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';
import { onPostgres, providerStorageParts } from '../helpers/provider-db.js';

let engine: MlsEngine;
const profiles: Profile[] = [];
const providers: FederatedProvider[] = [];
const links: Link[] = [];

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  for (const p of providers) await p.stop().catch(() => undefined);
  for (const l of links) await l.close();
});

async function setup() {
  engine ??= await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  for (const d of ['a.example', 'b.example']) {
    providers.push(f[d]);
    links.push(f.links[d]);
  }
  const alice = await testProfile(f['a.example'], 'alice', { engine, keep: profiles, dirPrefix: 'rcpt' });
  const bob = await testProfile(f['b.example'], 'bob', { engine, keep: profiles, dirPrefix: 'rcpt' });
  return { f, alice, bob };
}

const BOB = 'mimi://b.example/u/bob';
const ALICE = 'mimi://a.example/u/alice';

const byText = (p: Profile, room: string, text: string): MessageView | undefined => p.page(room, null, 200).find((m) => m.text === text);
const texts = (p: Profile, room: string) => p.page(room, null, 200).map((m) => m.text).reverse();

/** Posts this profile's client makes (messages of any kind), counted from now on. */
function countPosts(p: Profile): { count(): number } {
  const client = (p as unknown as { client: ProviderClient }).client;
  let n = 0;
  const send = client.sendMessage.bind(client);
  client.sendMessage = (...args: Parameters<ProviderClient['sendMessage']>) => {
    n++;
    return send(...args);
  };
  return { count: () => n };
}

test('delivered, then read, across providers; read switch off: delivered only, both ways; nothing of it readable at the providers', async () => {
  const { f, alice, bob } = await setup();
  const room = (await alice.createRoom('Receipts')).roomUri;
  await alice.addMember(room, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob joins');

  const changed: MessageView[] = [];
  const fresh: MessageView[] = [];
  alice.on('message', (m: MessageView) => (m.changed ? changed : fresh).push(m));

  await alice.send(room, 'one');
  await alice.flushOutbox();
  const one = byText(alice, room, 'one')!;
  assert.deepEqual(one.receipts, { delivered: [], read: [], of: 1 }, 'sent, nobody reported yet');
  await waitFor(() => byText(bob, room, 'one') !== undefined, 'bob receives one');
  // Bob's device reports delivery on its own (batched for about a second).
  await waitFor(() => byText(alice, room, 'one')?.receipts?.delivered.includes(BOB) === true, 'alice sees delivered');
  assert.ok(changed.some((m) => m.messageId === one.messageId && m.receipts?.delivered.includes(BOB)), "a 'message' event with changed: true");
  // Bob looks at the room: read.
  await bob.markRead(room);
  await waitFor(() => byText(alice, room, 'one')?.receipts?.read.includes(BOB) === true, 'alice sees read');
  assert.deepEqual(byText(alice, room, 'one')!.receipts, { delivered: [], read: [BOB], of: 1 }, 'read implies delivered: listed once');
  // Receipts are no messages: not in either timeline, not unread, no new-message event.
  assert.deepEqual(texts(alice, room), ['one']);
  assert.deepEqual(texts(bob, room), ['one']);
  assert.equal(alice.roomView(room).unread, 0);
  assert.deepEqual(fresh.filter((m) => m.text !== 'one'), []);
  // A message of bob's gets no receipt of its own in bob's timeline: receipts are about our messages only.
  assert.throws(() => alice.messageReceipts(room, one.messageId.replace(/^./, (c) => (c === '0' ? '1' : '0'))), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');
  assert.deepEqual(alice.messageReceipts(room, one.messageId), { delivered: [], read: [BOB], of: 1 });

  // Bob turns read receipts off: he sends none, and sees none of alice's.
  assert.deepEqual(bob.setPrivacy({ readReceipts: false }), { deliveryReceipts: true, readReceipts: false, typing: true });
  assert.deepEqual(bob.privacy(), { deliveryReceipts: true, readReceipts: false, typing: true });
  await alice.send(room, 'two');
  await waitFor(() => byText(alice, room, 'two')?.receipts?.delivered.includes(BOB) === true, 'two delivered');
  await bob.markRead(room);
  // Bob's next message comes after anything bob queued before it (one outbox, one hub order).
  await bob.send(room, 'three');
  await waitFor(() => byText(alice, room, 'three') !== undefined, 'alice receives three');
  assert.deepEqual(byText(alice, room, 'two')!.receipts, { delivered: [BOB], read: [], of: 1 }, 'delivered only');
  // Alice (switches on) reads bob's message and reports it; bob, with his read switch off, sees it delivered only.
  await waitFor(() => byText(bob, room, 'three')?.receipts?.delivered.includes(ALICE) === true, 'three delivered');
  const alicePosts = countPosts(alice);
  await alice.markRead(room);
  await alice.flushOutbox();
  assert.equal(alicePosts.count(), 1, 'alice sent a read receipt');
  await alice.send(room, 'four');
  await waitFor(() => byText(bob, room, 'four') !== undefined, 'bob receives four');
  const three = byText(bob, room, 'three')!;
  assert.deepEqual(three.receipts, { delivered: [ALICE], read: [], of: 1 }, "bob sees no read receipt of alice's");
  // Nor later: what arrived while the switch was off was not kept as a read.
  bob.setPrivacy({ readReceipts: true });
  assert.deepEqual(byText(bob, room, 'three')!.receipts, { delivered: [ALICE], read: [], of: 1 });

  // Nothing of any of it in plaintext at either provider: files (databases, WAL) or logs.
  await new Promise((r) => setTimeout(r, 300));
  const secrets = [one.messageId, byText(alice, room, 'two')!.messageId, three.messageId, MESSAGE_STATUS_MEDIA_TYPE, TYPING_MEDIA_TYPE];
  for (const p of [f['a.example'], f['b.example']]) {
    const log = p.output();
    assert.ok(log.length > 0, `${p.domain} logged something`);
    for (const s of secrets) assert.equal(log.includes(s), false, `${p.domain} log holds ${s}`);
    const parts = providerStorageParts(p.dataDir);
    if (!onPostgres()) assert.ok(parts.some((x) => path.basename(x.where) === DB_FILE), `${p.domain}'s database is among the files scanned`);
    for (const { where: file, bytes } of parts) {
      for (const s of secrets) assert.equal(bytes.includes(Buffer.from(s)), false, `${file} holds ${s}`);
      for (const id of [one.messageId, three.messageId]) assert.equal(bytes.includes(Buffer.from(id, 'hex')), false, `${file} holds the raw id ${id.slice(0, 8)}`);
    }
  }
});

test('a room that forbids receipts: none sent, none shown; only who may change policies changes it', async () => {
  const { alice, bob } = await setup();
  // Moderated: alice is super_admin (canChangeRoleDefinitions), bob a speaker.
  const room = (await alice.createRoom('Quiet', 'moderated')).roomUri;
  assert.deepEqual(alice.roomSettings(room).receiptPolicy, { delivery: 'optional', read: 'optional', canEdit: true }, 'absent: optional');
  await alice.addMember(room, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob joins');
  assert.equal(bob.roomSettings(room).receiptPolicy?.canEdit, false);
  await assert.rejects(bob.setReceiptPolicy(room, { delivery: 'required', read: 'required' }), (e: unknown) => e instanceof CoreError && e.code === 'notAllowed' && /canChangeOtherPolicyAttribute/.test(e.message));
  await assert.rejects(alice.setReceiptPolicy(room, { delivery: 'never' as never, read: 'optional' }), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');

  const problems: string[] = [];
  for (const p of [alice, bob]) p.on('error', (m: string) => problems.push(m));
  const view = await alice.setReceiptPolicy(room, { delivery: 'forbidden', read: 'forbidden' });
  assert.deepEqual(view.receiptPolicy, { delivery: 'forbidden', read: 'forbidden', canEdit: true });
  await waitFor(() => bob.roomSettings(room).receiptPolicy?.delivery === 'forbidden', 'bob adopts the policy');

  const posts = countPosts(bob);
  await alice.send(room, 'x');
  await waitFor(() => byText(bob, room, 'x') !== undefined, 'bob receives x');
  await new Promise((r) => setTimeout(r, 1500)); // past the delivery batch
  await bob.markRead(room);
  await bob.send(room, 'y');
  await waitFor(() => byText(alice, room, 'y') !== undefined, 'alice receives y');
  assert.equal(posts.count(), 1, 'bob posted y and nothing else');
  assert.equal(byText(alice, room, 'x')!.receipts, undefined, 'no receipts shown where forbidden');

  // Required: sent even with the switches off.
  await alice.setReceiptPolicy(room, { delivery: 'required', read: 'optional' });
  await waitFor(() => bob.roomSettings(room).receiptPolicy?.delivery === 'required', 'bob adopts required');
  bob.setPrivacy({ deliveryReceipts: false, readReceipts: false });
  await alice.send(room, 'z');
  await waitFor(() => byText(alice, room, 'z')?.receipts?.delivered.includes(BOB) === true, 'delivered although bob switched it off');
  assert.deepEqual(problems, [], 'both adopt the policy commits without complaint');
});

test('typing: shown at the other side, repeated at most every 4 s, gone after its lifetime, at "stopped" and at a message', async () => {
  const { alice, bob } = await setup();
  const room = (await alice.createRoom('Typing')).roomUri;
  await alice.addMember(room, 'bob@b.example');
  await waitFor(() => bob.rooms().length === 1, 'bob joins');
  const seen: string[][] = [];
  alice.on('typing', (roomUri: string, users: string[]) => roomUri === room && seen.push(users));

  const posts = countPosts(bob);
  await bob.typing(room, true);
  await bob.typing(room, true);
  await bob.typing(room, true);
  assert.equal(posts.count(), 1, 'one indicator for a burst of keystrokes');
  await waitFor(() => alice.typingIn(room).includes(BOB), 'alice sees bob typing');
  const shownAt = Date.now();
  // Not repeated: it lasts its lifetime (6 s), then goes.
  await waitFor(() => alice.typingIn(room).length === 0, 'the indicator expires', 12000);
  const lasted = Date.now() - shownAt;
  assert.ok(lasted > 3500 && lasted < 9000, `lasted ${lasted} ms`);
  assert.deepEqual(seen.at(-1), []);

  // "stopped" takes it away at once; false without a "typing" before sends nothing.
  await new Promise((r) => setTimeout(r, 4000)); // past the repeat interval
  await bob.typing(room, true);
  await waitFor(() => alice.typingIn(room).includes(BOB), 'typing again');
  await bob.typing(room, false);
  await waitFor(() => alice.typingIn(room).length === 0, 'stopped', 3000);
  const n = posts.count();
  await bob.typing(room, false);
  assert.equal(posts.count(), n, 'no second "stopped"');

  // A message from bob ends his typing.
  await new Promise((r) => setTimeout(r, 4000));
  await bob.typing(room, true);
  await waitFor(() => alice.typingIn(room).includes(BOB), 'typing once more');
  await bob.send(room, 'done typing');
  await waitFor(() => byText(alice, room, 'done typing') !== undefined, 'the message');
  assert.deepEqual(alice.typingIn(room), []);
  // Never stored: neither timeline has anything but the message.
  assert.deepEqual(texts(alice, room), ['done typing']);

  // Alice turns typing off: she neither shows bob's nor sends her own.
  alice.setPrivacy({ typing: false });
  const before = seen.length;
  const alicePosts = countPosts(alice);
  await alice.typing(room, true);
  assert.equal(alicePosts.count(), 0);
  await new Promise((r) => setTimeout(r, 4000));
  await bob.typing(room, true);
  await bob.send(room, 'barrier');
  await waitFor(() => byText(alice, room, 'barrier') !== undefined, 'barrier');
  assert.deepEqual(seen.slice(before), [], 'no typing shown with the switch off');
  assert.deepEqual(alice.typingIn(room), []);
});
