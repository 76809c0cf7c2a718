// Messages written while the hub is down show in the same order for everyone once it is back:
// the hub's acceptance order. A real provider process is killed (SIGKILL) while alice queues
// several messages and bob queues his own; restarted on the same port and data folder, both
// outboxes flush, and both timelines list the same message IDs in the same order. Before that,
// each side's own queued messages wait at the end of its timeline (pending).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { testProfile } from '../helpers/profiles.js';
import { restartablePort, startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

let engine: MlsEngine;
let provider: ProviderProcess;
let port: number;
let dataDir: string;
const open: Profile[] = [];

before(async () => {
  engine = await createMlsEngine();
  port = await restartablePort();
  dataDir = tempDir('order-prov');
  provider = await startProviderProcess({ domain: 'a.example', port, dataDir });
});

after(async () => {
  for (const p of open) await p.close().catch(() => undefined);
  await provider?.stop();
});

const timeline = (p: Profile, room: string) => p.page(room, null, 500).reverse();
const ids = (p: Profile, room: string) => timeline(p, room).map((m) => m.messageId);

test('queued while the hub is down: both sides end with the same messages in the hub\'s order', async () => {
  const alice = await testProfile(provider, 'alice', { engine, keep: open, dirPrefix: 'order' });
  const bob = await testProfile(provider, 'bob', { engine, keep: open, dirPrefix: 'order' });
  const room = (await alice.createRoom('while down')).roomUri;
  await alice.addMember(room, 'bob');
  await waitFor(() => bob.rooms().length === 1, 'bob to join');
  await alice.send(room, 'before the outage');
  await waitFor(() => timeline(bob, room).length === 1, 'the first message at bob');

  await provider.kill9();
  for (const t of ['a1', 'a2', 'a3', 'a4']) await alice.send(room, t);
  for (const t of ['b1', 'b2', 'b3']) await bob.send(room, t);
  // Nothing accepted yet: each side's own messages wait at the end, in the order written.
  assert.deepEqual(timeline(alice, room).map((m) => [m.text, m.status]), [['before the outage', 'sent'], ['a1', 'pending'], ['a2', 'pending'], ['a3', 'pending'], ['a4', 'pending']]);
  assert.deepEqual(timeline(bob, room).map((m) => [m.text, m.status]), [['before the outage', 'received'], ['b1', 'pending'], ['b2', 'pending'], ['b3', 'pending']]);

  provider = await startProviderProcess({ domain: 'a.example', port, dataDir });
  const settled = (p: Profile) => timeline(p, room).length === 8 && timeline(p, room).every((m) => m.status !== 'pending');
  await waitFor(() => settled(alice) && settled(bob), 'both outboxes to flush and both sides to receive the other\'s messages', 60_000);

  const a = timeline(alice, room);
  const b = timeline(bob, room);
  assert.deepEqual(ids(alice, room), ids(bob, room), `same order on both sides:\n alice: ${a.map((m) => m.text).join(' ')}\n bob:   ${b.map((m) => m.text).join(' ')}`);
  // The order is the hub's: acceptance timestamps never go down along the timeline, on either side.
  for (const side of [a, b]) for (let i = 1; i < side.length; i++) assert.ok(side[i - 1].timestamp <= side[i].timestamp, 'timeline follows the hub acceptance time');
  assert.deepEqual(new Set(a.map((m) => m.text)), new Set(['before the outage', 'a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3']), 'each message once');
  // Paging back from the middle follows the same order (the renderer loads older pages this way).
  const middle = a[4];
  assert.deepEqual(alice.page(room, middle.seq, 10).reverse().map((m) => m.messageId), a.slice(0, 4).map((m) => m.messageId));
});
