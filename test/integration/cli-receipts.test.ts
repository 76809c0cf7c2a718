// `mimi receipts`, `mimi privacy`, `mimi room-receipts` and `tail --receipts` with users of two
// federating provider processes: alice@a.example hosts the room, bob@b.example reads with `tail`.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { mimi, register } from '../helpers/mimi-cli.js';
import { tempDir } from '../helpers/provider-process.js';

const running: FederatedProvider[] = [];
const links: Link[] = [];
after(async () => {
  for (const p of running) await p.stop();
  for (const l of links) await l.close();
});

test('mimi: delivery receipts from a tail, who has a message, the switches and the room policy', async () => {
  const f = await startFederation(['a.example', 'b.example']);
  running.push(f['a.example'], f['b.example']);
  links.push(f.links['a.example'], f.links['b.example']);
  const alice = path.join(tempDir('cli-rcpt-a'), 'p');
  const bob = path.join(tempDir('cli-rcpt-b'), 'p');
  assert.equal((await register(alice, f['a.example'], 'alice')).code, 0);
  assert.equal((await register(bob, f['b.example'], 'bob')).code, 0);
  const room = (await mimi(['--profile', alice, 'create-room', 'ticks'])).stdout.trim();
  assert.equal((await mimi(['--profile', alice, 'add', room, 'bob@b.example'])).code, 0);
  assert.equal((await mimi(['--profile', alice, 'send', room, 'can you see this?'])).code, 0);

  // Bob's tail receives it, and reports delivery before it exits.
  const tail = await mimi(['--profile', bob, 'tail', room, '--count', '1', '--timeout', '20']);
  assert.equal(tail.code, 0, tail.stderr);
  const ids = await mimi(['--profile', alice, 'tail', room, '--count', '1', '--timeout', '20', '--ids', '--receipts']);
  assert.equal(ids.code, 0, ids.stderr);
  const [id, sender, text, notes] = ids.stdout.trim().split('\t');
  assert.deepEqual([sender, text, notes], ['alice@a.example', 'can you see this?', 'delivered 1/1']);
  const who = await mimi(['--profile', alice, 'receipts', room, id]);
  assert.equal(who.code, 0, who.stderr);
  assert.equal(who.stdout, 'delivered\tbob@b.example\n');
  // Receipts are about your own messages; a made-up id says how to find real ones.
  const notMine = await mimi(['--profile', bob, 'receipts', room, id]);
  assert.equal(notMine.code, 1);
  assert.match(notMine.stderr, /only for your own messages/);
  const unknown = await mimi(['--profile', alice, 'receipts', room, 'ab'.repeat(32)]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /mimi tail ROOM --ids/);
  // Without --receipts, tail prints what scripts know.
  assert.equal((await mimi(['--profile', alice, 'tail', room, '--count', '1', '--timeout', '20'])).stdout, 'alice@a.example\tcan you see this?\n');

  // The switches: all on by default; changed; a bad value is a usage error and changes nothing.
  assert.deepEqual(JSON.parse((await mimi(['--profile', bob, 'privacy'])).stdout), { deliveryReceipts: true, readReceipts: true, typing: true });
  const off = await mimi(['--profile', bob, 'privacy', '--read-receipts', 'off', '--typing', 'off']);
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(JSON.parse(off.stdout), { deliveryReceipts: true, readReceipts: false, typing: false });
  const bad = await mimi(['--profile', bob, 'privacy', '--delivery-receipts', 'maybe']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--delivery-receipts takes on or off/);
  assert.deepEqual(JSON.parse((await mimi(['--profile', bob, 'privacy'])).stdout), { deliveryReceipts: true, readReceipts: false, typing: false });

  // The room's policy: absent reads as optional; a cooperative room's admin may not change it.
  assert.deepEqual(JSON.parse((await mimi(['--profile', alice, 'room-receipts', room])).stdout), { delivery: 'optional', read: 'optional', canEdit: false });
  const refused = await mimi(['--profile', alice, 'room-receipts', room, '--read', 'forbidden']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /canChangeOtherPolicyAttribute/);
  assert.equal((await mimi(['--profile', alice, 'room-receipts', room, '--read', 'never'])).code, 2);
  // A moderated room's creator may.
  const moderated = (await mimi(['--profile', alice, 'create-room', 'stage', '--preset', 'moderated'])).stdout.trim();
  const set = await mimi(['--profile', alice, 'room-receipts', moderated, '--delivery', 'forbidden']);
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual(JSON.parse(set.stdout), { delivery: 'forbidden', read: 'optional', canEdit: true });
  assert.deepEqual(JSON.parse((await mimi(['--profile', alice, 'room-receipts', moderated])).stdout), { delivery: 'forbidden', read: 'optional', canEdit: true });
});
