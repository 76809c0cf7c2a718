// `mimi send` while the provider is down: the message is queued in the profile's outbox before
// anything waits on the network, the command says so (exit 3), and the next `mimi` command on that
// profile delivers it exactly once. A real provider process, stopped and started on the same port
// and data folder; real profiles.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mimi, register } from '../helpers/mimi-cli.js';
import { restartablePort, startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
let port: number;
let dataDir: string;
const alice = path.join(tempDir('offline-a'), 'p');
const bob = path.join(tempDir('offline-b'), 'p');

before(async () => {
  port = await restartablePort();
  dataDir = tempDir('offline-prov');
  provider = await startProviderProcess({ domain: 'a.example', port, dataDir });
});
after(async () => {
  await provider?.stop();
});

const lines = (out: string) => out.split('\n').filter(Boolean);

test('send while the provider is down: queued (exit 3), then delivered once by the next command', async () => {
  assert.equal((await register(alice, provider, 'alice')).code, 0);
  assert.equal((await register(bob, provider, 'bob')).code, 0);
  const room = (await mimi(['--profile', alice, 'create-room', 'offline'])).stdout.trim();
  assert.equal((await mimi(['--profile', alice, 'add', room, 'bob'])).code, 0);
  assert.equal((await mimi(['--profile', alice, 'send', room, 'before'])).code, 0);
  assert.deepEqual(lines((await mimi(['--profile', bob, 'tail', room, '--count', '1', '--timeout', '20'])).stdout), ['alice@a.example\tbefore']);

  await provider.stop();
  const started = Date.now();
  const down = await mimi(['--profile', alice, 'send', room, 'sent-while-down']);
  assert.equal(down.code, 3, down.stderr);
  assert.match(down.stderr, /queued in this profile's outbox/);
  assert.match(down.stderr, /next mimi command/);
  assert.ok(Date.now() - started < 40000, 'it gives up waiting after its delivery wait');

  provider = await startProviderProcess({ domain: 'a.example', port, dataDir });
  // Any next command on alice's profile sends what waits in the outbox.
  const next = await mimi(['--profile', alice, 'rooms']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /sent 1 message\(s\) that were waiting in the outbox/);

  const got = await mimi(['--profile', bob, 'tail', room, '--count', '2', '--timeout', '20']);
  assert.deepEqual(lines(got.stdout), ['alice@a.example\tbefore', 'alice@a.example\tsent-while-down']);
  // Exactly once: another command sends nothing again, and bob sees no third message.
  const again = await mimi(['--profile', alice, 'send', room, 'after']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /waiting in the outbox/);
  const three = await mimi(['--profile', bob, 'tail', room, '--count', '3', '--timeout', '20']);
  assert.deepEqual(lines(three.stdout), ['alice@a.example\tbefore', 'alice@a.example\tsent-while-down', 'alice@a.example\tafter']);
  const mine = await mimi(['--profile', alice, 'tail', room, '--count', '3', '--timeout', '5']);
  assert.deepEqual(lines(mine.stdout), lines(three.stdout), "alice's own history holds each message once");
});
