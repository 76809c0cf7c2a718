// Join links and knocks through the `mimi` command, against two real provider processes:
// a.example hosts alice's administered room, the others are users of b.example. A join link with
// uses, expiry and a passphrase (refused without it, exit 4), used, listed, revoked (refused again,
// exit 4); a knock room, a knock with a note admitted and one declined; bad input refused with a
// clear message, leaving everything as it was.
//
// Each `mimi` run starts a process (1-3 s), so runs on different profiles go side by side; one
// profile is never opened by two runs at once (a usage error exits before the profile is opened).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseJoinLink } from '../../src-shared/join-link.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { mimi, register, type Run } from '../helpers/mimi-cli.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';

let A: FederatedProvider;
let B: FederatedProvider;
const links: Link[] = [];
const alice = path.join(tempDir('cli-links-alice'), 'p'); // a.example: the room's admin
const bob = path.join(tempDir('cli-links-bob'), 'p'); // b.example: joins by link
const carol = path.join(tempDir('cli-links-carol'), 'p'); // b.example: knocks, admitted
const dave = path.join(tempDir('cli-links-dave'), 'p'); // b.example: refused link, knocks, declined
const run = (profile: string, ...args: string[]): Promise<Run> => mimi(['--profile', profile, ...args]);
const ok = async (profile: string, ...args: string[]): Promise<string> => {
  const r = await run(profile, ...args);
  assert.equal(r.code, 0, `mimi ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const cells = (line: string) => line.split(/\s{2,}/);

interface RoomState {
  participants: { user: string; roleIndex: number; roleName: string }[];
}
/** The rooms `mimi rooms` lists with members (a room left stays on the list, with none). */
const memberOf = async (profile: string) =>
  (await ok(profile, 'rooms'))
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((c) => c.length === 3 && c[2] !== '')
    .map((c) => c[0]);
const participants = async (profile: string) => (JSON.parse(await ok(profile, 'room-state', room)) as RoomState).participants.map((p) => `${p.user} ${p.roleName}`).sort();

/** `link list` rows, header dropped: ID, STATE, KIND, USES LEFT, EXPIRES, PASSPHRASE, ROLE, CREATED BY, LINK. */
const linkRows = async () =>
  (await ok(alice, 'link', 'list', room))
    .trimEnd()
    .split('\n')
    .slice(1)
    .map(cells);

/** `knocks [ROOM]`: the rows of its two tables (knocks on my rooms: ID ROOM FROM WHEN STATE NOTE; mine: ID ROOM AS WHEN STATE). */
async function knocks(profile: string, ...roomArg: string[]): Promise<{ incoming: string[]; outgoing: string[]; text: string }> {
  const text = await ok(profile, 'knocks', ...roomArg);
  const [inPart, outPart = ''] = text.split(/\n(?=Your knocks:|You have no knocks)/);
  const rows = (part: string) => (part.includes('\nID ') ? part.trimEnd().split('\n').slice(2) : []);
  return { incoming: rows(inPart), outgoing: rows(outPart), text };
}

let room = ''; // administered, at a.example
const name = 'Book club';
const ALICE = 'mimi://a.example/u/alice group_admin';
const BOB = 'mimi://b.example/u/bob ordinary_user';
const CAROL = 'mimi://b.example/u/carol ordinary_user';

before(async () => {
  const f = await startFederation(['a.example', 'b.example']);
  A = f['a.example'];
  B = f['b.example'];
  links.push(f.links['a.example'], f.links['b.example']);
  const regs = await Promise.all([register(alice, A, 'alice'), register(bob, B, 'bob'), register(carol, B, 'carol'), register(dave, B, 'dave')]);
  for (const r of regs) assert.equal(r.code, 0, r.stderr);
  room = (await ok(alice, 'create-room', name, '--preset', 'administered')).trim();
  assert.match(room, /^mimi:\/\/a\.example\/r\//);
});

after(async () => {
  await A?.stop();
  await B?.stop();
  for (const l of links) await l.close();
});

let linkText = '';
let linkId = '';
/** What the last test left: alice's `link list` rows and `knocks` (the bad input must change neither). */
let linksNow: string[][] = [];
let knocksNow: string[] = [];

test('a join link with uses, expiry and a passphrase: refused without it (exit 4), used with it, listed, revoked', async () => {
  const made = await run(alice, 'link', 'create', room, '--uses', '2', '--expires', '1h', '--passphrase', 'open sesame');
  assert.equal(made.code, 0, made.stderr);
  const lines = made.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, made.stdout);
  linkText = lines[0];
  const link = parseJoinLink(linkText);
  assert.deepEqual([link.roomUri, link.passphrase, link.knock], [room, true, false]);
  const details = lines[1];
  linkId = /^id ([0-9a-f]{16,64})\s/.exec(details)?.[1] ?? '';
  assert.ok(linkId, details);
  assert.match(details, /\suses 2\/2\s.*\srole ordinary_user \(2\)\s+passphrase yes$/);
  // Expires an hour from now (printed to the minute, in UTC).
  const expires = /\sexpires (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\s/.exec(details)?.[1];
  assert.ok(expires, details);
  const inMs = Date.parse(`${expires.replace(' ', 'T')}:00Z`) - Date.now();
  assert.ok(inMs > 58 * 60_000 && inMs <= 60 * 60_000, `expires in ${inMs} ms`);

  const [listed, bare, wrong] = await Promise.all([
    linkRows(),
    run(bob, 'join', linkText), // no passphrase: refused before anything is sent (no profile opened)
    run(bob, 'join', linkText, '--passphrase', 'open barley'), // a wrong one: the hub refuses it
  ]);
  assert.equal(listed.length, 1, listed.join('\n'));
  assert.deepEqual(listed[0].slice(0, 6), [linkId, 'active', 'join', '2/2', `${expires} UTC`, 'yes']);
  assert.deepEqual(listed[0].slice(6), ['ordinary_user (2)', 'alice@a.example', linkText]);
  assert.equal(bare.code, 4, bare.stderr);
  assert.match(bare.stderr, /^mimi: This link needs a passphrase .*add --passphrase P\.\n$/);
  assert.equal(bare.stdout, '');
  assert.equal(wrong.code, 4, wrong.stderr);
  assert.match(wrong.stderr, /^mimi: Could not join with the link: .*passphrase/);
  assert.equal(wrong.stdout, '');

  const joined = await run(bob, 'join', linkText, '--passphrase', 'open sesame');
  assert.equal(joined.code, 0, joined.stderr);
  assert.equal(joined.stdout, `${room}\n`);
  // bob lists himself with the link's role and talks; alice reads him.
  const [bobView, read] = await Promise.all([
    (async () => {
      const v = await participants(bob);
      assert.equal((await run(bob, 'send', room, 'hello from b.example')).code, 0);
      return v;
    })(),
    run(alice, 'tail', room, '--count', '1', '--timeout', '30'),
  ]);
  assert.deepEqual(bobView, [ALICE, BOB]);
  assert.equal(read.code, 0, read.stderr);
  assert.equal(read.stdout, 'bob@b.example\thello from b.example\n');
  assert.deepEqual(await participants(alice), [ALICE, BOB]);
  assert.deepEqual((await linkRows())[0].slice(0, 4), [linkId, 'active', 'join', '1/2']);

  const revoked = await run(alice, 'link', 'revoke', room, linkId);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(revoked.stdout, `Link ${linkId} is revoked; nobody can join with it any more.\n`);
  // One use left, but revoked: dave, with the right passphrase, is refused and told why.
  const [late, after] = await Promise.all([run(dave, 'join', linkText, '--passphrase', 'open sesame'), linkRows()]);
  assert.equal(late.code, 4, late.stderr);
  assert.match(late.stderr, /^mimi: Could not join with the link: (a\.example: )?this link was revoked by the room; ask its admins for a new one/);
  assert.equal(late.stdout, '');
  assert.deepEqual(after[0].slice(0, 4), [linkId, 'revoked', 'join', '1/2']);
  linksNow = after;
});

let daveKnock = '';

test('a knock room: carol knocks with a note, alice admits her and she has the room; dave is declined', async () => {
  const kr = await run(alice, 'knock-room', 'create', room);
  assert.equal(kr.code, 0, kr.stderr);
  const knockLink = kr.stdout.trim();
  assert.equal(kr.stdout, `${knockLink}\n`);
  const parsed = parseJoinLink(knockLink);
  assert.equal(parsed.knock, true);
  assert.notEqual(parsed.roomUri, room, 'the link opens the knock room, not the room');

  const knocked = await run(carol, 'knock', knockLink, '--note', 'hi');
  assert.equal(knocked.code, 0, knocked.stderr);
  assert.match(knocked.stdout, new RegExp(`^Knocked; waiting for the admins of ${esc(room)}\\. \\(knock [0-9a-f]+; see mimi knocks\\)\\n$`));

  let seen = { incoming: [] as string[], outgoing: [] as string[], text: '' };
  await waitFor(async () => (seen = await knocks(alice, room)).incoming.length === 1, 'alice sees the knock', 30_000);
  const row = cells(seen.incoming[0]); // ID ROOM FROM WHEN STATE NOTE
  assert.deepEqual([row[1], row[2], row[4], row[5]], [name, 'carol@b.example', 'pending', 'hi']);
  assert.match(seen.text, /\nYou have no knocks on /);
  const carolKnock = row[0];

  const admitted = await run(alice, 'admit', room, carolKnock);
  assert.equal(admitted.code, 0, admitted.stderr);
  assert.equal(admitted.stdout, `Admitted carol@b.example to ${name}.\n`);

  // carol's next commands have the room (the Welcome came) and show her knock as admitted; dave knocks meanwhile.
  const [, secondKnock] = await Promise.all([
    (async () => {
      await waitFor(async () => (await memberOf(carol)).includes(room), 'carol has the room', 30_000);
      const hers = await knocks(carol);
      assert.equal(hers.outgoing.length, 1, hers.text);
      const c = cells(hers.outgoing[0]); // ID ROOM AS WHEN STATE
      assert.deepEqual([c[2], c[4]], ['carol@b.example', 'admitted']);
      assert.equal((await run(carol, 'send', room, 'thanks for letting me in')).code, 0);
    })(),
    run(dave, 'knock', knockLink, '--note', 'me too?'),
  ]);
  assert.equal(secondKnock.code, 0, secondKnock.stderr);
  assert.equal(await ok(alice, 'tail', room, '--count', '1', '--timeout', '30'), 'carol@b.example\tthanks for letting me in\n');

  await waitFor(async () => (seen = await knocks(alice, room)).incoming.length === 2, "alice sees dave's knock", 30_000);
  // Newest first.
  assert.match(seen.incoming[1], new RegExp(`^${carolKnock}\\s.*\\scarol@b\\.example\\s.*\\sadmitted\\s+hi$`));
  const daveRow = cells(seen.incoming[0]);
  assert.deepEqual([daveRow[2], daveRow[4], daveRow[5]], ['dave@b.example', 'pending', 'me too?']);
  daveKnock = daveRow[0];

  const rejected = await run(alice, 'reject', room, daveKnock);
  assert.equal(rejected.code, 0, rejected.stderr);
  assert.equal(rejected.stdout, `Declined the knock of dave@b.example on ${name}.\n`);
  const [after, [daveRooms, daveKnocks]] = await Promise.all([knocks(alice), (async () => [await memberOf(dave), await knocks(dave)] as const)()]);
  assert.match(after.incoming.find((l) => l.startsWith(daveKnock))!, /\sdeclined\s+me too\?$/);
  assert.match(after.incoming.find((l) => l.startsWith(carolKnock))!, /\sadmitted\s+hi$/);
  knocksNow = after.incoming;
  // Nothing reaches dave: he is in no room (not even the knock room: he left it), and his knock
  // still waits as far as he knows.
  assert.deepEqual(daveRooms, []);
  assert.match(daveKnocks.outgoing[0], /\swaiting$/);
});

test('bad input: a clear message, a non-zero exit (2 for usage), and nothing changed', async () => {
  // Usage errors: found before the profile is opened, so they run side by side.
  const usage: [string, string[], RegExp][] = [
    [alice, ['link', 'create', room, '--expires', '5s'], /--expires 5s is too short: a link lasts at least 1 minute/],
    [alice, ['link', 'create', room, '--uses', '0'], /--uses takes a number from 1 to 100000/],
    [alice, ['link', 'create', room, '--role', '1'], /--role 1: a link cannot give role 0 \(no role\) or 1 \(banned\)/],
    [alice, ['link', 'revoke', room, 'not-an-id'], /"not-an-id" is not a link id/],
    [dave, ['join', 'not-a-link'], /join takes a join link .* or a room URI .*; "not-a-link" is neither/],
  ];
  const failed = await Promise.all(usage.map(([who, args]) => run(who, ...args)));
  usage.forEach(([, args, message], i) => {
    const r = failed[i];
    assert.equal(r.code, 2, `mimi ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^mimi: ${message.source}`), `mimi ${args.join(' ')}`);
    assert.match(r.stderr, /\nusage:\n/);
    assert.equal(r.stdout, '');
  });

  // What only the profile or the hub can tell: exit 1 (4 for a link the hub refuses). One run at a
  // time per profile; alice's and dave's side by side.
  const errors: [string, string[], number, RegExp][] = [
    [alice, ['link', 'create', room, '--role', 'emperor'], 1, /This room has no role "emperor"; a link can give 2 ordinary_user, 3 group_admin/],
    [alice, ['link', 'create', 'No such room'], 1, /No room "No such room"\. List rooms with: mimi rooms/],
    [alice, ['link', 'revoke', room, '0123456789abcdef'], 1, /Could not revoke the link: .* has no link 0123456789abcdef/],
    [alice, ['admit', room, 'unknown-id'], 1, new RegExp(`There is no knock unknown-id; list the knocks with: mimi knocks ${esc(room)}`)],
    [alice, ['admit', room, daveKnock], 1, new RegExp(`Knock ${daveKnock} was already declined`)],
    [dave, ['join', 'mimi://a.example/r/x?code=short'], 1, /not a room link \(its code is missing or cut short\)/],
    [dave, ['join', `${room}?code=AAAAAAAAAAAAAAAAAAAAAA`], 4, /this link is not valid for this room/], // well formed; the hub never made it
  ];
  const serially = async (who: string) => {
    const out: [(typeof errors)[number], Run][] = [];
    for (const e of errors.filter((x) => x[0] === who)) out.push([e, await run(who, ...e[1])]);
    return out;
  };
  for (const [[, args, code, message], r] of (await Promise.all([serially(alice), serially(dave)])).flat()) {
    assert.equal(r.code, code, `mimi ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^mimi: .*${message.source}`), `mimi ${args.join(' ')}`);
    assert.doesNotMatch(r.stderr, /usage:/, `mimi ${args.join(' ')}: not a usage error`);
    assert.equal(r.stdout, '');
  }

  const daveRooms = memberOf(dave);
  assert.deepEqual(await linkRows(), linksNow, 'no link made or changed');
  assert.deepEqual((await knocks(alice)).incoming, knocksNow, 'no knock answered');
  assert.deepEqual(await participants(alice), [ALICE, BOB, CAROL], 'bob and carol in, dave not');
  assert.deepEqual(await daveRooms, [], 'dave joined nothing');
});
