// Join links and knocks as the renderer shows and sends them: the new-link form's options as the
// JoinLinkArgs the core takes (or what to fix), a link's uses and expiry in words, a pasted link
// checked before anything is sent, knock notes, who knocked, where one's own knock is, and the QR
// code a link is drawn as (its grid, quiet zone, and that it decodes back to the link).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import type { JoinLinkView, KnockView, MyKnockView } from '../../src-shared/contract.js';
import {
  NEW_LINK_DRAFT,
  duration,
  expiryText,
  knockNoteProblem,
  linkArgsFromDraft,
  linkHost,
  linkRoles,
  linkSummary,
  outgoingKnockText,
  readTypedLink,
  sortIncomingKnocks,
  sortLinks,
  userLabel,
  usesText,
  type LinkDraft,
} from '../../src-renderer/src/lib/join-links.js';
import { QUIET_ZONE, qrMatrix } from '../../src-renderer/src/lib/qr.js';

const T0 = new Date(2026, 11, 3, 12, 0, 0).getTime();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const ROOM = 'mimi://a.example/r/lunch';
const LINK = `${ROOM}?code=AAAAAAAAAAAAAAAAAAAAAA&passphrase=1`;

const draft = (over: Partial<LinkDraft> = {}): LinkDraft => ({ ...NEW_LINK_DRAFT, ...over });
const link = (over: Partial<JoinLinkView> = {}): JoinLinkView => ({
  id: '0123456789abcdef',
  roomUri: ROOM,
  roleIndex: 2,
  roleName: 'ordinary_user',
  maxUses: null,
  usesLeft: null,
  expiresAt: null,
  passphrase: false,
  knock: false,
  createdBy: 'mimi://a.example/u/alice',
  createdAt: T0,
  state: 'active',
  ...over,
});

test('the new-link form: the defaults, each choice of uses and expiry, and the passphrase as the core takes them', () => {
  assert.deepEqual(linkArgsFromDraft(draft()), { args: { uses: null, expiresInSeconds: 86_400, passphrase: null, roleIndex: null } });
  assert.deepEqual(linkArgsFromDraft(draft({ uses: 'once', expiry: 'none' })), { args: { uses: 1, expiresInSeconds: null, passphrase: null, roleIndex: null } });
  assert.deepEqual(linkArgsFromDraft(draft({ uses: 'count', count: ' 25 ', expiry: '1h', roleIndex: 3 })), { args: { uses: 25, expiresInSeconds: 3600, passphrase: null, roleIndex: 3 } });
  assert.deepEqual(linkArgsFromDraft(draft({ expiry: '7d' })), { args: { uses: null, expiresInSeconds: 604_800, passphrase: null, roleIndex: null } });
  assert.equal((linkArgsFromDraft(draft({ expiry: 'custom', customAmount: '90', customUnit: 'minutes' })) as { args: { expiresInSeconds: number } }).args.expiresInSeconds, 5400);
  assert.equal((linkArgsFromDraft(draft({ expiry: 'custom', customAmount: '366', customUnit: 'days' })) as { args: { expiresInSeconds: number } }).args.expiresInSeconds, 366 * 86_400);
  // Spaces around a passphrase are not part of it (the join dialog drops them too).
  assert.equal((linkArgsFromDraft(draft({ passphrase: '  open sesame ' })) as { args: { passphrase: string } }).args.passphrase, 'open sesame');
  // A count that is not chosen is not checked.
  assert.ok('args' in linkArgsFromDraft(draft({ uses: 'unlimited', count: 'lots' })));
});

test('the new-link form: what the core would refuse is said first, naming the field to fix', () => {
  for (const count of ['', '0', '1.5', '1e3', 'five', '100001']) {
    const r = linkArgsFromDraft(draft({ uses: 'count', count }));
    assert.ok('problem' in r && r.field === 'count', `count ${JSON.stringify(count)}`);
  }
  for (const [customAmount, customUnit] of [
    ['0', 'minutes'],
    ['', 'hours'],
    ['367', 'days'],
    ['9000', 'hours'],
  ] as const) {
    const r = linkArgsFromDraft(draft({ expiry: 'custom', customAmount, customUnit }));
    assert.ok('problem' in r && r.field === 'custom', `${customAmount} ${customUnit}`);
  }
  const short = linkArgsFromDraft(draft({ passphrase: ' ab ' }));
  assert.deepEqual(short, { problem: 'Make the passphrase at least 4 characters long, or leave it empty for none.', field: 'passphrase' });
  assert.ok('problem' in linkArgsFromDraft(draft({ passphrase: 'x'.repeat(201) })));
  assert.ok('problem' in linkArgsFromDraft(draft({ passphrase: 'open\u0007sesame' })));
});

test('the roles a link may give: those the policy allows a code, never no_role and banned', () => {
  const roles = [0, 1, 2, 3, 4].map((roleIndex) => ({ roleIndex, roleName: `r${roleIndex}`, capabilities: [] }));
  assert.deepEqual(
    linkRoles(roles, [2, 3]).map((r) => r.roleIndex),
    [2, 3],
  );
  assert.deepEqual(linkRoles(roles, [0, 1, 4]).map((r) => r.roleIndex), [4]);
  assert.deepEqual(linkRoles(roles, []), []);
});

test('a link\'s uses and expiry in words', () => {
  assert.equal(usesText(link()), 'Unlimited uses');
  assert.equal(usesText(link({ maxUses: 1, usesLeft: 1 })), 'Single use, not used yet');
  assert.equal(usesText(link({ maxUses: 1, usesLeft: 0 })), 'Single use, used');
  assert.equal(usesText(link({ maxUses: 5, usesLeft: 3 })), '3 of 5 uses left');
  assert.equal(usesText(link({ maxUses: 5, usesLeft: 0 })), '0 of 5 uses left');

  assert.equal(duration(20 * 1000), '1 minute');
  assert.equal(duration(45 * MIN), '45 minutes');
  assert.equal(duration(HOUR - 5000), '1 hour', 'a link made a moment ago for an hour');
  assert.equal(duration(DAY - 5000), '24 hours');
  assert.equal(duration(47 * HOUR), '47 hours');
  assert.equal(duration(7 * DAY - 5000), '7 days');

  assert.equal(expiryText(link(), T0), 'Never expires');
  assert.equal(expiryText(link({ expiresAt: T0 + 3 * HOUR }), T0), 'Expires in 3 hours');
  assert.equal(expiryText(link({ expiresAt: T0 - 1 }), T0), 'Expired', 'past its time, whatever the state says yet');
  assert.equal(expiryText(link({ expiresAt: T0 + HOUR, state: 'expired' }), T0), 'Expired');

  assert.equal(linkSummary(link({ maxUses: 3, usesLeft: 3, expiresAt: T0 + DAY, passphrase: true, roleName: 'moderator' }), T0), '3 of 3 uses left · Expires in 24 hours · passphrase needed · joins as Moderator');
});

test('links are listed active first, newest first', () => {
  const list = [
    link({ id: 'a', createdAt: T0, state: 'revoked' }),
    link({ id: 'b', createdAt: T0 - DAY }),
    link({ id: 'c', createdAt: T0 + DAY, state: 'expired' }),
    link({ id: 'd', createdAt: T0 }),
  ];
  assert.deepEqual(
    sortLinks(list).map((l) => l.id),
    ['d', 'b', 'c', 'a'],
  );
});

test('a pasted link: empty, not a link, cut short, or a link (angle brackets and spaces dropped)', () => {
  assert.deepEqual(readTypedLink('  '), { problem: 'Paste the link you were given: it starts with mimi:// and has ?code= in it.' });
  const bad = readTypedLink('https://example.com/?code=1');
  assert.ok('problem' in bad && /^That is not a room link \(it does not start with a room address\)/.test(bad.problem));
  const cut = readTypedLink(`${ROOM}?code=AAAA`);
  assert.ok('problem' in cut && /code is missing or cut short/.test(cut.problem));
  assert.deepEqual(readTypedLink(` <${LINK}> `), { link: { roomUri: ROOM, code: 'AAAAAAAAAAAAAAAAAAAAAA', passphrase: true, knock: false } });
  assert.equal(linkHost(ROOM), 'a.example');
});

test('knock notes, who knocked, and the knocker\'s own knock in words', () => {
  assert.equal(knockNoteProblem(''), undefined);
  assert.equal(knockNoteProblem('x'.repeat(1000)), undefined);
  assert.match(knockNoteProblem('x'.repeat(1001)) ?? '', /at most 1,000 characters/);
  assert.match(knockNoteProblem('hi\u0000') ?? '', /control characters/);
  // Line breaks are fine in a note.
  assert.equal(knockNoteProblem('line one\nline two'), undefined);

  assert.deepEqual(userLabel('mimi://a.example/u/bob', 'a.example'), { label: 'bob', pseudonym: false });
  assert.deepEqual(userLabel('mimi://b.example/u/bob', 'a.example'), { label: 'bob@b.example', pseudonym: false });
  assert.deepEqual(userLabel('mimi://b.example/p/Qm7xK2aLp9rT4vWz1cYbNg', 'a.example'), { label: 'p/Qm7xK2…', pseudonym: true });

  const mine = (over: Partial<MyKnockView>): MyKnockView => ({ id: 'k', roomUri: ROOM, roomName: 'Lunch', as: 'mimi://a.example/u/ally', at: T0, state: 'waiting', ...over });
  assert.equal(outgoingKnockText(mine({ state: 'sending', roomName: '' })), 'Sending your knock to the admins of the room on a.example…');
  assert.equal(outgoingKnockText(mine({})), 'Waiting for the admins of “Lunch”…');
  assert.equal(outgoingKnockText(mine({ state: 'admitted' })), 'Admitted to “Lunch”.');
  assert.equal(outgoingKnockText(mine({ state: 'failed', problem: 'The admins declined.' })), 'Could not knock: The admins declined.');
  assert.match(outgoingKnockText(mine({ state: 'failed' })), /^Could not knock: .+Use the link again/);

  const k = (id: string, at: number, state: KnockView['state'] = 'pending'): KnockView => ({ id, roomUri: ROOM, roomName: 'Lunch', from: 'mimi://a.example/u/x', note: '', at, state });
  assert.deepEqual(
    sortIncomingKnocks([k('late', T0 + 2), k('answered-old', T0 - 5, 'declined'), k('early', T0), k('answered-new', T0 + 9, 'admitted')]).map((x) => x.id),
    ['early', 'late', 'answered-new', 'answered-old'],
    'waiting ones first in the order they came, then the answered ones newest first',
  );
});

/** The matrix drawn at `scale` pixels a module, black on white, as RGBA: what a camera would see. */
function render(m: ReturnType<typeof qrMatrix>, scale: number): { data: Uint8ClampedArray; width: number } {
  const width = m.size * scale;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (let y = 0; y < width; y++)
    for (let x = 0; x < width; x++) {
      if (!m.dark(Math.floor(y / scale) - QUIET_ZONE, Math.floor(x / scale) - QUIET_ZONE)) continue;
      const i = (y * width + x) * 4;
      data[i] = data[i + 1] = data[i + 2] = 0;
    }
  return { data, width };
}

test('a link as a QR code: a real module grid with its quiet zone, one path, and it decodes back to the link', () => {
  for (const text of [LINK, `${ROOM}?code=AAAAAAAAAAAAAAAAAAAAAA&knock=1`, 'mimi://ü.example/r/raum?code=x']) {
    const m = qrMatrix(text);
    assert.ok(m.modules >= 21 && (m.modules - 21) % 4 === 0, `${m.modules} modules`);
    assert.equal(m.size, m.modules + 8);
    // The finder pattern in the top-left corner: a dark ring of 7, light ring, dark 3×3 core.
    for (let i = 0; i < 7; i++) {
      assert.ok(m.dark(0, i) && m.dark(6, i) && m.dark(i, 0) && m.dark(i, 6), 'outer ring');
    }
    assert.ok(!m.dark(1, 1) && m.dark(3, 3) && !m.dark(-1, 0) && !m.dark(0, m.modules), 'inner light ring, dark core, light outside');
    assert.match(m.path, /^M4 4h7v1h-7z/);
    assert.doesNotMatch(m.path, /[^0-9Mhvz -]/, 'nothing but moves and runs');
    const { data, width } = render(m, 4);
    assert.equal(jsQR(data, width, width, { inversionAttempts: 'dontInvert' })?.data, text);
  }
});
