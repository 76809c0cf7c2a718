// `mimi dm USER [TEXT]` and the event lines of `mimi tail` on a real provider process with real
// profiles: the direct chat is made once and reused (by either side), its messages arrive, and
// the room's changes between messages read as "* alice added bob" lines; bad input fails clearly.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mimi, register } from '../helpers/mimi-cli.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  await provider?.stop();
});

test('mimi dm makes the direct chat once and reuses it; tail shows room changes as * lines', async () => {
  const ann = path.join(tempDir('cli-dm-ann'), 'p');
  const ben = path.join(tempDir('cli-dm-ben'), 'p');
  const cal = path.join(tempDir('cli-dm-cal'), 'p');
  for (const [dir, handle] of [[ann, 'ann'], [ben, 'ben'], [cal, 'cal']]) assert.equal((await register(dir, provider, handle)).code, 0);

  const first = await mimi(['--profile', ann, 'dm', 'ben', 'hi ben']);
  assert.equal(first.code, 0, first.stderr);
  const room = first.stdout.trim();
  assert.match(room, /^mimi:\/\/a\.example\/r\/\S+$/);
  const tail = await mimi(['--profile', ben, 'tail', room, '--count', '1', '--timeout', '20']);
  assert.equal(tail.code, 0, tail.stderr);
  assert.equal(tail.stdout, 'ann@a.example\thi ben\n');
  // The same chat from either side, and it lists as the other person.
  const again = await mimi(['--profile', ben, 'dm', 'ann@a.example', 'hi ann']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), room);
  assert.equal((await mimi(['--profile', ann, 'dm', 'mimi://a.example/u/ben'])).stdout.trim(), room);
  const rooms = await mimi(['--profile', ben, 'rooms']);
  assert.match(rooms.stdout, new RegExp(`^${room.replace(/[.]/g, '\\.')}\\tann@a\\.example\\t`, 'm'));

  // Changes between messages come as * lines, in their place; --count counts messages only.
  assert.equal((await mimi(['--profile', ann, 'add', room, 'cal'])).code, 0);
  assert.equal((await mimi(['--profile', ann, 'role', room, 'cal', 'group_admin'])).code, 0);
  assert.equal((await mimi(['--profile', ann, 'send', room, 'welcome cal'])).code, 0);
  const lines = await mimi(['--profile', ben, 'tail', room, '--count', '2', '--timeout', '20']);
  assert.equal(lines.code, 0, lines.stderr);
  assert.equal(lines.stdout, ['ben@a.example\thi ann', '* ann@a.example added cal@a.example', '* ann@a.example changed cal@a.example’s role from Member to Admin', 'ann@a.example\twelcome cal', ''].join('\n'));
  // Three people and no name: no longer a direct chat, so `dm` makes a new one with ben.
  const fresh = await mimi(['--profile', ann, 'dm', 'ben']);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.notEqual(fresh.stdout.trim(), room);

  // Bad input: clear errors, exit codes, nothing made.
  const self = await mimi(['--profile', ann, 'dm', 'ann']);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /^mimi: That is you\. Pick someone else to message\./);
  const nobody = await mimi(['--profile', ann, 'dm', 'nobody-here']);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /nobody-here@a\.example does not exist on a\.example/);
  const listed = (await mimi(['--profile', ann, 'rooms'])).stdout;
  assert.doesNotMatch(listed, /nobody-here|Empty room/, 'a refused dm leaves no room on the list');
  const usage = await mimi(['--profile', ann, 'dm']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /dm takes USER \[TEXT\]/);
});
