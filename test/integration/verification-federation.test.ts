// Safety numbers between two people of two providers (docs/verification.md), as the `mimi`
// command shows them, with two real provider processes: alice@a.example and bob@b.example share a
// room, both print the same 60 digits, alice marks bob verified (by comparing his QR payload);
// bob signs in a second device, which joins the room; the number changes on both sides (still
// equal), alice's state is 'changed' and her timeline says so; marking again makes it 'verified'.
// The marks and numbers never leave the devices: neither provider's files hold the code.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { mimi, register, type Run } from '../helpers/mimi-cli.js';
import { tempDir } from '../helpers/provider-process.js';

const running: FederatedProvider[] = [];
const links: Link[] = [];
after(async () => {
  for (const p of running) await p.stop();
  for (const l of links) await l.close();
});

const ok = (r: Run, what: string): string => {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
};

/** `mimi verify` output: the 12 groups (3 lines of 4), state, shared rooms. */
function parseVerify(out: string): { digits: string; lines: string[]; state: string; sharedRooms: number } {
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 5, out);
  for (const l of lines.slice(0, 3)) assert.match(l, /^\d{5} \d{5} \d{5} \d{5}$/);
  return {
    digits: lines.slice(0, 3).join('').replace(/ /g, ''),
    lines: lines.slice(0, 3),
    state: lines[3].split('\t')[1],
    sharedRooms: Number(lines[4].split('\t')[1]),
  };
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

test('mimi verify across providers: equal numbers, a mark, a new device changes it on both sides, marking again', async () => {
  const f = await startFederation(['a.example', 'b.example']);
  running.push(f['a.example'], f['b.example']);
  links.push(f.links['a.example'], f.links['b.example']);
  const alice = path.join(tempDir('verify-a'), 'p');
  const bob = path.join(tempDir('verify-b'), 'p');
  const bob2 = path.join(tempDir('verify-b2'), 'p');
  ok(await register(alice, f['a.example'], 'alice'), 'register alice');
  ok(await register(bob, f['b.example'], 'bob'), 'register bob');

  // Before they share a room there is nothing to compare: a clear error, exit 1.
  const none = await mimi(['--profile', alice, 'verify', 'bob@b.example']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /share no room/);

  const room = ok(await mimi(['--profile', alice, 'create-room', 'verified']), 'create-room').trim();
  ok(await mimi(['--profile', alice, 'add', room, 'bob@b.example']), 'add bob');
  ok(await mimi(['--profile', alice, 'send', room, 'before']), 'send before');
  ok(await mimi(['--profile', bob, 'tail', room, '--count', '1', '--timeout', '30']), 'bob joins');

  const a1 = parseVerify(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example']), 'alice verify'));
  const b1 = parseVerify(ok(await mimi(['--profile', bob, 'verify', 'alice@a.example']), 'bob verify'));
  assert.equal(a1.digits.length, 60);
  assert.equal(a1.digits, b1.digits, 'both sides print the same 60 digits');
  assert.deepEqual([a1.state, a1.sharedRooms, b1.state, b1.sharedRooms], ['unverified', 1, 'unverified', 1]);

  // Usage and bad input: clear errors.
  const both = await mimi(['--profile', alice, 'verify', 'bob@b.example', '--mark', '--clear']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /one of --mark, --clear/);
  const self = await mimi(['--profile', alice, 'verify', 'alice']);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /between you and someone else/);
  const junk = await mimi(['--profile', alice, 'verify', 'bob@b.example', '--compare', 'not base64!']);
  assert.equal(junk.code, 1);

  // alice compares bob's QR payload: it matches and marks him verified.
  const bobQr = ok(await mimi(['--profile', bob, 'verify', 'alice@a.example', '--qr']), 'bob --qr').trim();
  const aliceQr = ok(await mimi(['--profile', alice, 'verify', 'bob@b.example', '--qr']), 'alice --qr').trim();
  assert.equal(bobQr, aliceQr, 'both QR codes carry the same bytes');
  assert.equal(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example', '--compare', bobQr]), 'compare').trim(), 'match');
  assert.equal(parseVerify(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example']), 'alice verify')).state, 'verified');

  // bob signs in a second device; it joins the account's rooms (external commit).
  ok(await mimi(['--profile', bob2, 'login', '--provider', f['b.example'].url, '--ca', f['b.example'].caFile, '--handle', 'bob', '--password', 'correct horse', '--device-name', 'Phone']), 'bob login');
  // The new device has no history from before it joined: it is in once the room is on its list.
  let joined = false;
  for (let i = 0; i < 20 && !joined; i++) {
    joined = ok(await mimi(['--profile', bob2, 'rooms']), 'bob2 rooms').includes(room);
    if (!joined) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(joined, 'bob’s second device joined the room');
  ok(await mimi(['--profile', bob, 'send', room, 'after']), 'send after');

  const a2 = parseVerify(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example']), 'alice verify again'));
  const b2 = parseVerify(ok(await mimi(['--profile', bob, 'verify', 'alice@a.example']), 'bob verify again'));
  const b2b = parseVerify(ok(await mimi(['--profile', bob2, 'verify', 'alice@a.example']), 'bob2 verify'));
  assert.notEqual(a2.digits, a1.digits, 'a new device, a new number');
  assert.equal(a2.digits.slice(0, 30), a1.digits.slice(0, 30), 'alice’s half (her URI sorts first) is unchanged');
  assert.equal(a2.digits, b2.digits, 'still equal on both sides');
  assert.equal(a2.digits, b2b.digits, 'and on bob’s new device');
  assert.equal(a2.state, 'changed');

  // alice's timeline: the commit's own line, then her warning, between the two messages.
  const tail = ok(await mimi(['--profile', alice, 'tail', room, '--count', '2', '--timeout', '30']), 'alice tail');
  assert.match(tail, /\* bob@b\.example joined|\* bob@b\.example added a new device/);
  assert.match(tail, /\* bob@b\.example’s devices changed since you verified them — compare your safety number again\n/);
  assert.equal(tail.match(/devices changed since you verified/g)?.length, 1, 'told once');
  // bob's own timeline has no such line: the warning is alice's alone.
  const bobTail = ok(await mimi(['--profile', bob, 'tail', room, '--count', '2', '--timeout', '30']), 'bob tail');
  assert.doesNotMatch(bobTail, /verified/);

  // Marked again after comparing anew: verified; --clear forgets it.
  assert.equal(parseVerify(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example', '--mark']), 'mark')).state, 'verified');
  assert.equal(parseVerify(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example']), 'verify')).state, 'verified');
  assert.equal(parseVerify(ok(await mimi(['--profile', alice, 'verify', 'bob@b.example', '--clear']), 'clear')).state, 'unverified');

  // Nothing of it reached a provider: neither one's files hold either QR payload or the digits.
  const finalQr = ok(await mimi(['--profile', alice, 'verify', 'bob@b.example', '--qr']), 'qr').trim();
  const needles = [Buffer.from(aliceQr, 'base64'), Buffer.from(finalQr, 'base64'), Buffer.from(a1.digits), Buffer.from(a2.digits), Buffer.from('verified_people')];
  for (const p of [f['a.example'], f['b.example']]) {
    for (const file of filesUnder(p.dataDir)) {
      const bytes = fs.readFileSync(file);
      for (const n of needles) assert.equal(bytes.indexOf(n), -1, `${file} holds ${n.subarray(0, 12).toString('hex')}…`);
    }
  }
});
