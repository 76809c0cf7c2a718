// What the `mimi` command makes of its arguments for join links and knocks
// (src-main/cli/args.ts, src-main/cli/link-args.ts): options, durations, roles, link arguments,
// the knock checks of admit/reject, exit codes and the tables it prints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreError, type JoinLinkView, type KnocksView, type RoomRoleView } from '../../src-shared/contract.js';
import { UsageError, noFlags, parseArgs } from '../../src-main/cli/args.js';
import {
  EXIT_LINK_REFUSED,
  checkJoinPassphrase,
  checkLinkId,
  checkNewPassphrase,
  checkNote,
  describeLink,
  incomingKnocksTable,
  joinTarget,
  knockOfRoom,
  linkExitCode,
  linksTable,
  newKnock,
  oneLine,
  parseDuration,
  parseUses,
  resolveRoleArg,
  table,
  when,
} from '../../src-main/cli/link-args.js';

const ROOM = 'mimi://a.example/r/VfoG-onrOg4mY9FTh7_PEA';
const OTHER_ROOM = 'mimi://a.example/r/AAAAAAAAAAAAAAAAAAAAAA';
const CODE = 'ABCDEFGHIJKLMNOPQRSTUV';

test('argv: the link options, --as-pseudonym without a value, a link as a positional argument', () => {
  const p = parseArgs(['--profile', 'd', 'link', 'create', 'lunch', '--uses', '5', '--expires', '7d', '--passphrase', 'open sesame', '--role', 'group_admin']);
  assert.deepEqual(p.positional, ['link', 'create', 'lunch']);
  assert.deepEqual(Object.fromEntries(p.flags), { profile: 'd', uses: '5', expires: '7d', passphrase: 'open sesame', role: 'group_admin' });

  const j = parseArgs(['--profile', 'd', 'join', `${ROOM}?code=${CODE}&passphrase=1`, '--as-pseudonym', '--passphrase', 'pw']);
  assert.deepEqual(j.positional, ['join', `${ROOM}?code=${CODE}&passphrase=1`]);
  assert.equal(j.flags.get('as-pseudonym'), 'true');
  assert.equal(j.flags.get('passphrase'), 'pw');

  const k = parseArgs(['knock', `${ROOM}?code=${CODE}&knock=1`, '--note', '', '--as-pseudonym']);
  assert.equal(k.flags.get('note'), '');

  assert.throws(() => parseArgs(['link', 'create', 'x', '--uses']), (e) => e instanceof UsageError && /--uses needs a value/.test(e.message));
  assert.throws(() => parseArgs(['knock', 'x', '--pseudonym']), (e) => e instanceof UsageError && /unknown option --pseudonym/.test(e.message));
  // The existing boolean options still take no value.
  assert.deepEqual(parseArgs(['create-room', 'x', '--minimal-metadata', '--yes']).positional, ['create-room', 'x']);
  assert.throws(() => noFlags(parseArgs(['link', 'list', 'x', '--uses', '3']), ['uses', 'role'], 'link list'), /link list takes no --uses/);
  noFlags(parseArgs(['link', 'list', 'x']), ['uses', 'role'], 'link list');
});

test('--expires: a number and a unit, between 1 minute and 366 days', () => {
  assert.equal(parseDuration('30m'), 1800);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('7d'), 604800);
  assert.equal(parseDuration('3600s'), 3600);
  assert.equal(parseDuration('2w'), 1209600);
  assert.equal(parseDuration(' 60s '), 60);
  assert.equal(parseDuration('1m'), 60);
  assert.equal(parseDuration('366d'), 366 * 86400);
  assert.throws(() => parseDuration('59s'), (e) => e instanceof UsageError && /at least 1 minute/.test(e.message));
  assert.throws(() => parseDuration('0m'), /at least 1 minute/);
  assert.throws(() => parseDuration('367d'), /at most 366 days/);
  assert.throws(() => parseDuration('53w'), /at most 366 days/);
  for (const bad of ['', '30', 'm', '1.5h', '-5m', '5 m', '1M', '1y', '2h30m', '1e3s', '9999999999s']) {
    assert.throws(() => parseDuration(bad), (e) => e instanceof UsageError && /number and a unit/.test(e.message), bad);
  }
});

test('--uses, passphrases, link ids and notes within the contract\'s limits', () => {
  assert.equal(parseUses('1'), 1);
  assert.equal(parseUses('100000'), 100000);
  for (const bad of ['0', '100001', '-1', '2.5', 'five', '']) assert.throws(() => parseUses(bad), UsageError, bad);
  assert.equal(checkNewPassphrase('abcd'), 'abcd');
  assert.throws(() => checkNewPassphrase('abc'), /4 to 200/);
  assert.throws(() => checkNewPassphrase('x'.repeat(201)), /4 to 200/);
  assert.equal(checkJoinPassphrase('a'), 'a');
  assert.throws(() => checkJoinPassphrase(''), /1 to 200/);
  assert.equal(checkLinkId('0123456789ABCDEF'), '0123456789abcdef');
  assert.throws(() => checkLinkId('0123'), /not a link id/);
  assert.throws(() => checkLinkId('xyz0123456789abcdef'), /not a link id/);
  assert.equal(checkNote('x'.repeat(1000)).length, 1000);
  assert.throws(() => checkNote('x'.repeat(1001)), /at most 1000/);
});

test('--role: an index or a name of the room\'s roles, never 0 or 1', () => {
  const roles: RoomRoleView[] = [
    { roleIndex: 0, roleName: 'no_role', capabilities: [] },
    { roleIndex: 1, roleName: 'banned', capabilities: [] },
    { roleIndex: 2, roleName: 'ordinary_user', capabilities: ['canSendMessage'] },
    { roleIndex: 3, roleName: 'group_admin', capabilities: ['canBan'] },
  ];
  assert.equal(resolveRoleArg('ordinary_user', roles), 2);
  assert.equal(resolveRoleArg('group_admin', roles), 3);
  assert.equal(resolveRoleArg('3', roles), 3);
  assert.throws(
    () => resolveRoleArg('admin', roles),
    (e) => e instanceof CoreError && e.code === 'invalidArgument' && e.message.includes('no role "admin"') && e.message.includes('2 ordinary_user, 3 group_admin') && !e.message.includes('banned'),
  );
  assert.throws(() => resolveRoleArg('7', roles), /no role "7"/);
  assert.throws(() => resolveRoleArg('banned', roles), /cannot give role 1 \(banned\)/);
  assert.throws(() => resolveRoleArg('0', roles), /cannot give role 0/);
  assert.throws(() => resolveRoleArg('2', []), /has no roles/);
});

test('join: a link (with a query) or, as before, a room URI', () => {
  assert.deepEqual(joinTarget(ROOM), { kind: 'room', roomUri: ROOM });
  assert.deepEqual(joinTarget('lunch'), { kind: 'room', roomUri: 'lunch' });
  const t = joinTarget(` <${ROOM}?passphrase=1&code=${CODE}> `);
  assert.equal(t.kind, 'link');
  if (t.kind === 'link') {
    assert.deepEqual(t.link, { roomUri: ROOM, code: CODE, passphrase: true, knock: false });
    assert.equal(t.text, `${ROOM}?code=${CODE}&passphrase=1`);
  }
  // A broken link says what is wrong with it (and is not tried as a room URI).
  assert.throws(() => joinTarget(`${ROOM}?code=short`), (e) => e instanceof CoreError && e.code === 'invalidArgument' && /cut short/.test(e.message));
  assert.throws(() => joinTarget(`mimi://a.example/u/bob?code=${CODE}`), /does not name a room/);
});

test('exit code 4 for a refused link or a missing passphrase, nothing special otherwise', () => {
  assert.equal(linkExitCode(new CoreError('linkRefused', 'This link was revoked.')), EXIT_LINK_REFUSED);
  assert.equal(linkExitCode(new CoreError('passphraseRequired', 'wrong')), 4);
  assert.equal(linkExitCode(new CoreError('notAllowed', 'no')), undefined);
  assert.equal(linkExitCode(new Error('x')), undefined);
});

const knocks: KnocksView = {
  incoming: [
    { id: 'k1', roomUri: ROOM, roomName: 'lunch', from: 'mimi://b.example/u/bob', note: 'hi,\nit is me\u001b[31m', at: Date.UTC(2026, 0, 2, 3, 4), state: 'pending' },
    { id: 'k2', roomUri: OTHER_ROOM, roomName: 'dinner', from: 'mimi://b.example/p/AAAAAAAAAAAAAAAAAAAAAA', note: '', at: 0, state: 'pending' },
    { id: 'k3', roomUri: ROOM, roomName: 'lunch', from: 'mimi://c.example/u/carol', note: '', at: 0, state: 'declined' },
  ],
  outgoing: [],
};

test('admit/reject: the knock must exist, be for the room named, and still wait', () => {
  assert.equal(knockOfRoom(knocks, 'k1', ROOM, 'lunch').id, 'k1');
  assert.throws(() => knockOfRoom(knocks, 'k9', ROOM, 'lunch'), /There is no knock k9; list the knocks with: mimi knocks lunch/);
  assert.throws(() => knockOfRoom(knocks, 'k2', ROOM, 'lunch'), (e) => e instanceof CoreError && /Knock k2 asks to join dinner, not lunch/.test(e.message));
  assert.throws(() => knockOfRoom(knocks, 'k3', ROOM, 'lunch'), /already declined/);
});

test('the knock just sent is the one that was not there before', () => {
  const mine = (id: string, at: number) => ({ id, roomUri: ROOM, roomName: '', as: 'mimi://a.example/u/alice', at, state: 'waiting' as const });
  const before: KnocksView = { incoming: [], outgoing: [mine('old', 50)] };
  assert.equal(newKnock(before, { incoming: [], outgoing: [mine('old', 50), mine('new', 10)] })?.id, 'new');
  assert.equal(newKnock(before, { incoming: [], outgoing: [mine('old', 50)] })?.id, 'old');
  assert.equal(newKnock(before, { incoming: [], outgoing: [] }), undefined);
});

test('tables: aligned columns, times in UTC, nothing from elsewhere that breaks a line or drives the terminal', () => {
  assert.equal(table(['A', 'BB', 'C'], [['xxx', 'y', 'last column not padded']]), 'A    BB  C\nxxx  y   last column not padded\n');
  assert.equal(when(null), 'never');
  assert.equal(when(Date.UTC(2026, 0, 2, 3, 4, 59)), '2026-01-02 03:04 UTC');
  assert.equal(oneLine('a\nb\r\tc\u001b[2Jd\u009be'), 'a b c [2Jd e');

  const out = incomingKnocksTable(knocks.incoming);
  const lines = out.trimEnd().split('\n');
  assert.equal(lines.length, 4, out);
  assert.match(lines[0], /^ID\s+ROOM\s+FROM\s+WHEN\s+STATE\s+NOTE$/);
  assert.match(lines[1], /^k1\s+lunch\s+bob@b\.example\s+2026-01-02 03:04 UTC\s+pending\s+hi, it is me \[31m$/);
  assert.ok(lines[2].includes('mimi://b.example/p/AAAAAAAAAAAAAAAAAAAAAA'), 'a pseudonym is shown as its URI');
  assert.ok(!out.includes('\u001b'));
});

test('links: the line under a new link, and the list', () => {
  const base: JoinLinkView = {
    id: '0123456789abcdef',
    roomUri: ROOM,
    link: `${ROOM}?code=${CODE}&passphrase=1`,
    roleIndex: 2,
    roleName: 'ordinary_user',
    maxUses: 5,
    usesLeft: 3,
    expiresAt: Date.UTC(2026, 5, 1, 12, 0),
    passphrase: true,
    knock: false,
    createdBy: 'mimi://a.example/u/alice',
    createdAt: 0,
    state: 'active',
  };
  assert.equal(describeLink(base), 'id 0123456789abcdef  uses 3/5  expires 2026-06-01 12:00 UTC  role ordinary_user (2)  passphrase yes');
  const other: JoinLinkView = { ...base, id: 'fedcba9876543210', link: undefined, maxUses: null, usesLeft: null, expiresAt: null, passphrase: false, knock: true, state: 'revoked' };
  assert.equal(describeLink(other), 'id fedcba9876543210  uses unlimited  expires never  role ordinary_user (2)  passphrase no');
  const lines = linksTable([base, other]).trimEnd().split('\n');
  assert.match(lines[0], /^ID\s+STATE\s+KIND\s+USES LEFT\s+EXPIRES\s+PASSPHRASE\s+ROLE\s+CREATED BY\s+LINK$/);
  assert.match(lines[1], new RegExp(`^0123456789abcdef\\s+active\\s+join\\s+3/5\\s+2026-06-01 12:00 UTC\\s+yes\\s+ordinary_user \\(2\\)\\s+alice@a\\.example\\s+${ROOM.replace(/[.?/]/g, '\\$&')}\\?code=`));
  assert.match(lines[2], /^fedcba9876543210\s+revoked\s+knock\s+unlimited\s+never\s+no\s+ordinary_user \(2\)\s+alice@a\.example\s+\(made on another device\)$/);
});
