// The `mimi` consent and discovery commands as a script uses them, across two provider processes
// with --consent required: a refused add exits non-zero naming the missing consent; request,
// list, grant, then add works; revoke; find prints JSON; searchable and profile set/clear.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startFederation } from '../helpers/federation.js';
import { mimi, register, type Run } from '../helpers/mimi-cli.js';
import { tempDir } from '../helpers/provider-process.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c().catch(() => undefined);
});

const ok = (r: Run, what: string) => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r;
};
const json = <T = Record<string, unknown>>(r: Run): T => JSON.parse(r.stdout) as T;

test('mimi consent list|request|grant|revoke|decline|block, find, searchable, profile set/clear', async () => {
  const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  closers.push(() => f['a.example'].stop(), () => f['b.example'].stop(), () => f.links['a.example'].close(), () => f.links['b.example'].close());
  const alice = path.join(tempDir('cli-consent-a'), 'p');
  const bob = path.join(tempDir('cli-consent-b'), 'p');
  ok(await register(alice, f['a.example'], 'alice'), 'register alice');
  ok(await register(bob, f['b.example'], 'bob'), 'register bob');
  const room = ok(await mimi(['--profile', alice, 'create-room', 'lunch']), 'create-room').stdout.trim();

  // Without consent: non-zero exit, and the message names what is missing and how to ask.
  const refused = await mimi(['--profile', alice, 'add', room, 'bob@b.example']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /bob@b\.example has not consented.*noConsent.*mimi consent request bob@b\.example/);

  assert.deepEqual(json(ok(await mimi(['--profile', alice, 'consent', 'request', 'bob@b.example', '--room', 'lunch']), 'request')), {
    outcome: 'requested',
    changed: 1,
    notified: true,
  });
  const bobList = json<{ incoming: { user: string; roomUri?: string }[] }>(ok(await mimi(['--profile', bob, 'consent', 'list']), 'list'));
  assert.deepEqual(bobList.incoming.map((r) => [r.user, r.roomUri]), [['mimi://a.example/u/alice', room]]);
  ok(await mimi(['--profile', bob, 'consent', 'grant', 'alice@a.example', '--room', room]), 'grant');
  const aliceList = json<{ outgoing: { status: string }[] }>(ok(await mimi(['--profile', alice, 'consent', 'list']), 'alice list'));
  assert.deepEqual(aliceList.outgoing.map((o) => o.status), ['granted']);
  ok(await mimi(['--profile', alice, 'add', room, 'bob@b.example']), 'add with consent');

  // Per-room: another room is refused, naming the room-scoped consent.
  const other = ok(await mimi(['--profile', alice, 'create-room', 'dinner']), 'create-room 2').stdout.trim();
  const wrongRoom = await mimi(['--profile', alice, 'add', other, 'bob@b.example']);
  assert.equal(wrongRoom.code, 1);
  assert.match(wrongRoom.stderr, /noConsentForThisRoom.*--room/);
  assert.equal(json(ok(await mimi(['--profile', bob, 'consent', 'revoke', 'alice@a.example']), 'revoke')).changed, 1);
  assert.equal(json(ok(await mimi(['--profile', bob, 'consent', 'decline', 'alice@a.example']), 'decline')).changed, 0);
  assert.equal(json(ok(await mimi(['--profile', bob, 'consent', 'block', 'alice@a.example']), 'block')).notified, false);
  assert.deepEqual(
    json<{ blocked: { user: string }[] }>(ok(await mimi(['--profile', bob, 'consent', 'list']), 'list')).blocked.map((b) => b.user),
    ['mimi://a.example/u/alice'],
  );
  const blocked = await mimi(['--profile', alice, 'add', other, 'bob@b.example']);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /noConsent/);

  // Discovery: only the exact handle by default; a field once made searchable.
  assert.deepEqual(json(ok(await mimi(['--profile', alice, 'find', '--handle', 'bob@b.example']), 'find handle')), {
    status: 'success',
    domain: 'b.example',
    results: [{ userUri: 'mimi://b.example/u/bob', handle: 'bob' }],
  });
  ok(await mimi(['--profile', bob, 'profile', 'set', 'email', 'bob@mail.example']), 'profile set');
  ok(await mimi(['--profile', bob, 'profile', 'set', 'name', 'Bob Builder']), 'profile set name');
  const byEmail = ['--profile', alice, 'find', '--domain', 'b.example', '--email', 'bob@mail.example'];
  assert.equal(json(ok(await mimi(byEmail), 'find email')).status, 'notFound');
  assert.equal(json(ok(await mimi(['--profile', bob, 'searchable', 'email', 'on']), 'searchable')).searchable !== undefined, true);
  assert.deepEqual(json<{ results: unknown[] }>(ok(await mimi(byEmail), 'find email 2')).results, [
    { userUri: 'mimi://b.example/u/bob', handle: 'bob', email: 'bob@mail.example' },
  ]);
  // ANDed with a name that is not searchable: nothing.
  assert.equal(json(ok(await mimi([...byEmail, '--name', 'builder']), 'find and')).status, 'notFound');
  const shown = json<{ email?: string; displayName?: string; searchable: Record<string, boolean> }>(ok(await mimi(['--profile', bob, 'profile', 'show']), 'show'));
  assert.equal(shown.displayName, 'Bob Builder');
  assert.deepEqual(shown.searchable, { handle: true, nick: false, email: true, phone: false, name: false });
  ok(await mimi(['--profile', bob, 'profile', 'clear', 'email']), 'clear');
  assert.equal(json(ok(await mimi(byEmail), 'find email 3')).status, 'notFound');
  // A query the provider does not accept: JSON on stdout, non-zero exit.
  const tooShort = await mimi(['--profile', alice, 'find', '--domain', 'b.example', '--name', 'bo']);
  assert.equal(tooShort.code, 1);
  assert.equal(json(tooShort).status, 'ambiguous');
  // Usage errors exit 2.
  assert.equal((await mimi(['--profile', alice, 'consent', 'grant'])).code, 2);
  assert.equal((await mimi(['--profile', alice, 'consent', 'block', 'bob@b.example', '--room', room])).code, 2);
  assert.equal((await mimi(['--profile', alice, 'searchable', 'password', 'on'])).code, 2);
  assert.equal((await mimi(['--profile', alice, 'find'])).code, 2);
});
