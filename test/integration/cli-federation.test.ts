// The `mimi` command with users of two providers that federate: a.example hosts the room,
// bob@b.example is added by address and talks back.

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

test('mimi add ROOM bob@b.example, send and tail across providers', async () => {
  const f = await startFederation(['a.example', 'b.example']);
  running.push(f['a.example'], f['b.example']);
  links.push(f.links['a.example'], f.links['b.example']);
  const alice = path.join(tempDir('cli-fed-a'), 'p');
  const bob = path.join(tempDir('cli-fed-b'), 'p');
  assert.equal((await register(alice, f['a.example'], 'alice')).code, 0);
  assert.equal((await register(bob, f['b.example'], 'bob')).code, 0);
  const created = await mimi(['--profile', alice, 'create-room', 'across']);
  assert.equal(created.code, 0, created.stderr);
  const room = created.stdout.trim();
  const add = await mimi(['--profile', alice, 'add', room, 'bob@b.example']);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await mimi(['--profile', alice, 'send', room, 'hello b.example'])).code, 0);
  const tail = await mimi(['--profile', bob, 'tail', room, '--count', '1', '--timeout', '20']);
  assert.equal(tail.code, 0, tail.stderr);
  assert.equal(tail.stdout, 'alice@a.example\thello b.example\n');
  assert.equal((await mimi(['--profile', bob, 'send', room, 'hello a.example'])).code, 0);
  const back = await mimi(['--profile', alice, 'tail', room, '--count', '2', '--timeout', '20']);
  assert.equal(back.stdout, 'alice@a.example\thello b.example\nbob@b.example\thello a.example\n');
  // A user of a provider that does not exist among the peers: a clear error, non-zero exit.
  const nowhere = await mimi(['--profile', alice, 'add', room, 'carol@c.example']);
  assert.notEqual(nowhere.code, 0);
  assert.match(nowhere.stderr, /c\.example/);
});

test('mimi leave ROOM and mimi delete-account --yes', async () => {
  const f = await startFederation(['a.example', 'b.example']);
  running.push(f['a.example'], f['b.example']);
  links.push(f.links['a.example'], f.links['b.example']);
  const alice = path.join(tempDir('cli-leave-a'), 'p');
  const bob = path.join(tempDir('cli-leave-b'), 'p');
  const carol = path.join(tempDir('cli-leave-c'), 'p');
  assert.equal((await register(alice, f['a.example'], 'alice')).code, 0);
  assert.equal((await register(bob, f['b.example'], 'bob')).code, 0);
  assert.equal((await register(carol, f['a.example'], 'carol')).code, 0);
  const room = (await mimi(['--profile', alice, 'create-room', 'leaving'])).stdout.trim();
  assert.equal((await mimi(['--profile', alice, 'add', room, 'bob@b.example'])).code, 0);
  assert.equal((await mimi(['--profile', alice, 'add', room, 'carol'])).code, 0);
  const members = async () => (await mimi(['--profile', alice, 'rooms'])).stdout.split('\t')[2]?.trim();
  // bob leaves; alice's client commits his proposal when it next runs.
  const leave = await mimi(['--profile', bob, 'leave', room]);
  assert.equal(leave.code, 0, leave.stderr);
  // carol deletes her account (needs --yes).
  const refused = await mimi(['--profile', carol, 'delete-account']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--yes/);
  assert.equal((await mimi(['--profile', carol, 'delete-account', '--yes'])).code, 0);
  // Alice's next run processes both proposals and commits them.
  const sent = await mimi(['--profile', alice, 'send', room, 'still here']);
  assert.equal(sent.code, 0, sent.stderr);
  let now = '';
  for (let i = 0; i < 20 && now !== 'alice@a.example'; i++) {
    now = (await members()) ?? '';
    if (now !== 'alice@a.example') await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(now, 'alice@a.example');
});
