// The `mimi` command as a script would use it: real provider process, real profiles, exit codes.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mimi, spawnMimi } from '../helpers/mimi-cli.js';
import { ROOT, startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

const VECTORS = path.resolve(ROOT, '../shared/vectors/mimi-content');
let provider: ProviderProcess;

before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  await provider?.stop();
});

test('content decode/encode round-trips every official example byte for byte', async () => {
  const files = fs.readdirSync(VECTORS).filter((f) => f.endsWith('.cbor') && f !== 'implied-original.cbor');
  assert.ok(files.length >= 10);
  for (const f of files) {
    const dec = await mimi(['content', 'decode', path.join(VECTORS, f)]);
    assert.equal(dec.code, 0, `${f}: ${dec.stderr}`);
    const parsed = JSON.parse(dec.stdout) as { messageId: string };
    const edn = fs.readFileSync(path.join(VECTORS, f.replace('.cbor', '.edn')), 'utf8');
    const m = /message ID = h'([0-9a-f]+)'?\s*\n#\s*([0-9a-f]*)/i.exec(edn)!;
    assert.equal(parsed.messageId, (m[1] + m[2]).toLowerCase(), `${f} message ID`);
    const jsonFile = path.join(tempDir('cli-json'), 'm.json');
    fs.writeFileSync(jsonFile, dec.stdout);
    const enc = await mimi(['content', 'encode', jsonFile]);
    assert.equal(enc.code, 0, enc.stderr);
    assert.deepEqual(enc.raw, fs.readFileSync(path.join(VECTORS, f)), `${f} re-encodes to the same bytes`);
  }
});

test('content decode of garbage fails with a message and non-zero exit', async () => {
  const bad = path.join(tempDir('cli-bad'), 'bad.cbor');
  fs.writeFileSync(bad, Buffer.from([0x87, 0x50, 0x01]));
  const r = await mimi(['content', 'decode', bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^mimi: /);
  assert.equal(r.stdout, '');
});

test('two profiles: register, create-room, add, send, tail', async () => {
  const a = path.join(tempDir('cli-a'), 'p');
  const b = path.join(tempDir('cli-b'), 'p');
  const common = ['--provider', provider.url, '--ca', provider.caFile, '--password', 'correct horse'];
  assert.equal((await mimi(['--profile', a, 'register', ...common, '--handle', 'ann'])).code, 0);
  const reg = await mimi(['--profile', b, 'register', ...common, '--handle', 'ben']);
  assert.equal(reg.code, 0, reg.stderr);
  assert.match(reg.stdout, /^mimi:\/\/a\.example\/u\/ben\tmimi:\/\/a\.example\/d\/ben\//);

  const created = await mimi(['--profile', a, 'create-room', 'standup']);
  assert.equal(created.code, 0, created.stderr);
  const room = created.stdout.trim();
  assert.match(room, /^mimi:\/\/a\.example\/r\/[A-Za-z0-9_-]+$/);
  const add = await mimi(['--profile', a, 'add', room, 'ben@a.example']);
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await mimi(['--profile', a, 'send', 'standup', 'hello ben'])).code, 0);

  const tail = await mimi(['--profile', b, 'tail', room, '--count', '1', '--timeout', '20']);
  assert.equal(tail.code, 0, tail.stderr);
  assert.equal(tail.stdout, 'ann@a.example\thello ben\n');
  assert.equal((await mimi(['--profile', b, 'send', room, 'hi ann'])).code, 0);
  const tailA = await mimi(['--profile', a, 'tail', room, '--count', '2', '--timeout', '20']);
  assert.equal(tailA.stdout, 'ann@a.example\thello ben\nben@a.example\thi ann\n');

  const rooms = await mimi(['--profile', b, 'rooms']);
  assert.equal(rooms.code, 0);
  assert.match(rooms.stdout, new RegExp(`^${room.replace(/[/.]/g, '\\$&')}\\t`));

  const slow = await mimi(['--profile', b, 'tail', room, '--count', '5', '--timeout', '1']);
  assert.notEqual(slow.code, 0, 'tail exits non-zero when fewer messages arrive in time');
  assert.match(slow.stderr, /only 2 of 5/);
});

test('errors a person can act on', async () => {
  const none = await mimi(['--profile', path.join(tempDir('cli-none'), 'p'), 'rooms']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /No account in .* Register or log in first/);
  const usage = await mimi(['frobnicate']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown command frobnicate/);
  const wrong = await mimi(['--profile', path.join(tempDir('cli-w'), 'p'), 'login', '--provider', provider.url, '--ca', provider.caFile, '--handle', 'nobody', '--password', 'whatever1']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /Wrong handle or password/);
  const down = await mimi(['--profile', path.join(tempDir('cli-d'), 'p'), 'register', '--provider', 'https://127.0.0.1:1', '--handle', 'x1', '--password', 'whatever1']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /can't be reached/);
});

test('a run asked where it is (SIGUSR2) says its step and what it waits on, and goes on', { skip: process.platform === 'win32' ? 'no SIGUSR2 on Windows' : false }, async () => {
  const dir = path.join(tempDir('cli-where'), 'p');
  const common = ['--provider', provider.url, '--ca', provider.caFile, '--password', 'correct horse'];
  assert.equal((await mimi(['--profile', dir, 'register', ...common, '--handle', 'wes'])).code, 0);
  const room = (await mimi(['--profile', dir, 'create-room', 'quiet'])).stdout.trim();
  // A tail for a message that never comes: it waits for its --timeout.
  const child = spawnMimi(['--profile', dir, 'tail', room, '--count', '1', '--timeout', '8']);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const deadline = Date.now() + 60_000;
  // Asked every half second until it is in the command itself (first it loads, opens, connects).
  while (!/at: running the command/.test(stderr) && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGUSR2');
  }
  assert.match(stderr, /mimi: still running, at: running the command; waiting on: .*Timeout/, 'the tail waits on its timer');
  const code = await closed;
  assert.equal(code, 1, 'the tail still ends at its own --timeout');
  assert.match(stderr, /only 0 of 1 message\(s\) arrived within 8 s/);
});
