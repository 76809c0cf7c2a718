// `mimi search` as a script would use it: a real provider process and two profiles; ben searches
// what ann wrote in two rooms (by word prefix, in one room, with message ids), and bad input is a
// usage error.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mimi } from '../helpers/mimi-cli.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  await provider?.stop();
});

test('mimi search: prefixes across rooms and in one, newest first, --ids; bad input is a usage error', async () => {
  const a = path.join(tempDir('cli-search-a'), 'p');
  const b = path.join(tempDir('cli-search-b'), 'p');
  const common = ['--provider', provider.url, '--ca', provider.caFile, '--password', 'correct horse'];
  assert.equal((await mimi(['--profile', a, 'register', ...common, '--handle', 'ann'])).code, 0);
  assert.equal((await mimi(['--profile', b, 'register', ...common, '--handle', 'ben'])).code, 0);
  const rooms: string[] = [];
  for (const name of ['garden', 'kitchen']) {
    const made = await mimi(['--profile', a, 'create-room', name]);
    assert.equal(made.code, 0, made.stderr);
    rooms.push(made.stdout.trim());
    assert.equal((await mimi(['--profile', a, 'add', name, 'ben'])).code, 0);
  }
  for (const [room, text] of [
    ['garden', 'The pumpkins are huge'],
    ['kitchen', 'Pumpkin soup tonight'],
    ['garden', 'Water the beans'],
  ]) assert.equal((await mimi(['--profile', a, 'send', room, text])).code, 0);
  const tail = await mimi(['--profile', b, 'tail', rooms[0], '--count', '2', '--timeout', '20']);
  assert.equal(tail.code, 0, tail.stderr);

  const found = await mimi(['--profile', b, 'search', 'PUMPK']);
  assert.equal(found.code, 0, found.stderr);
  const lines = found.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(lines.map((l) => [l[1], l[2], l[3]]), [
    ['kitchen', 'ann@a.example', 'Pumpkin soup tonight'],
    ['garden', 'ann@a.example', 'The pumpkins are huge'],
  ]);
  assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l[0]))), 'an ISO time first');

  const inRoom = await mimi(['--profile', b, 'search', 'pump', '--room', 'garden', '--ids']);
  assert.equal(inRoom.code, 0, inRoom.stderr);
  const [line] = inRoom.stdout.trim().split('\n');
  assert.match(line, /^[0-9a-f]{64}\t\S+\tgarden\tann@a\.example\tThe pumpkins are huge$/);

  const none = await mimi(['--profile', b, 'search', 'carrots']);
  assert.deepEqual([none.code, none.stdout], [0, '']);
  for (const args of [['search'], ['search', 'a', 'b'], ['search', 'pump', '--limit', '0'], ['search', 'pump', '--limit', 'x']]) {
    const r = await mimi(['--profile', b, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const blank = await mimi(['--profile', b, 'search', '  ']);
  assert.equal(blank.code, 1);
  assert.match(blank.stderr, /Type a word to search for/);
});
