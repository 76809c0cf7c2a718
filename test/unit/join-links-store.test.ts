// The hub's join links (src-provider/join-links.ts) on a real SQLite file, with the hub's clock in
// the test's hand: expiry, uses, revocation, passphrases, bans, the per-requester and per-provider
// rate limits, and the private /joinTicket wire form. Each refusal says what to do.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { joinTicketProblem } from '../../src-shared/join-ticket.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { encodeRoomStateExtension, initialRoomState } from '../../src-shared/room-state.js';
import { ApiFailure } from '../../src-provider/errors.js';
import {
  decodeJoinLinksRequest,
  decodeJoinLinksResponse,
  encodeJoinLinksRequest,
  serveJoinLinks,
  decodeJoinTicketRequest,
  decodeJoinTicketResponse,
  encodeJoinTicketRequest,
  JoinLinks,
  serveJoinTicket,
  ticketFromResponse,
  TicketRefused,
} from '../../src-provider/join-links.js';
import { Store } from '../../src-provider/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-links-'));
const store = new Store(path.join(dir, 'provider.sqlite'));
after(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
const hub = generateSignatureKeyPair();
let now = 1_800_000_000_000;
const links = new JoinLinks({ store, domain: 'a.example', hubKeySeed: hub.privateKey, hubPublicKey: hub.publicKey, now: () => now, attempts: { burst: 5, perMinute: 1 } });
const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const MALLORY = 'mimi://b.example/u/mallory';
const leaf = generateSignatureKeyPair().publicKey;

function room(name: string, preset: 'administered' | 'cooperative' = 'administered', banned: string[] = []): string {
  const roomUri = `mimi://a.example/r/${name}`;
  const s = initialRoomState({ roomUri, creator: ALICE, preset });
  store.insertRoom(roomUri, now);
  store.setRoomState(roomUri, encodeRoomStateExtension({ ...s, participants: [...s.participants, ...banned.map((user) => ({ user, roleIndex: 1 }))] }));
  store.addParticipant(roomUri, ALICE);
  return roomUri;
}
const code = () => new Uint8Array(randomBytes(16));
const hash = (c: Uint8Array) => new Uint8Array(createHash('sha256').update(c).digest());
const refusal = (fn: () => unknown, kind: string, re: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TicketRefused, String(e));
    assert.equal(e.refusal, kind);
    assert.match(e.message, re);
    return true;
  });

test('a link expires by the hub clock, is used up after its uses, and a revoked one is refused', () => {
  const r = room('expiry');
  const c = code();
  const l = links.create(ALICE, r, { codeHash: hash(c), maxUses: 2, expiresInSeconds: 3600 });
  assert.deepEqual([l.roleIndex, l.maxUses, l.uses, l.expiresAt, l.passphrase], [2, 2, 0, now + 3_600_000, false]);
  const t = links.issue(r, BOB, { code: c, signatureKey: leaf });
  assert.equal(joinTicketProblem(t, { roomUri: r, joiner: BOB, leafSignatureKey: leaf, hubKey: hub.publicKey, now }), undefined);
  // Uses are counted when a join is accepted (admit), not when a ticket is fetched.
  links.admit(r, { identity: 'mimi://b.example/d/bob/1', user: BOB, signatureKey: leaf, ticket: t });
  links.admit(r, { identity: 'mimi://b.example/d/bob/2', user: BOB, signatureKey: leaf, ticket: t });
  assert.throws(() => links.admit(r, { identity: 'mimi://b.example/d/bob/3', user: BOB, signatureKey: leaf, ticket: t }), /used as often/);
  refusal(() => links.issue(r, MALLORY, { code: c, signatureKey: leaf }), 'usedUp', /ask for a new one/);

  const c2 = code();
  links.create(ALICE, r, { codeHash: hash(c2), expiresInSeconds: 60 });
  now += 61_000;
  refusal(() => links.issue(r, MALLORY, { code: c2, signatureKey: leaf }), 'expired', /expired on .*ask for a new one/);

  const c3 = code();
  const l3 = links.create(ALICE, r, { codeHash: hash(c3) });
  const t3 = links.issue(r, MALLORY, { code: c3, signatureKey: leaf });
  links.revoke(ALICE, r, l3.id);
  refusal(() => links.issue(r, MALLORY, { code: c3, signatureKey: leaf }), 'revoked', /revoked/);
  // A ticket fetched before the revocation no longer admits anyone.
  assert.throws(() => links.admit(r, { identity: 'mimi://b.example/d/mallory/1', user: MALLORY, signatureKey: leaf, ticket: t3 }), /revoked/);
  // A ticket past its own time is refused at the commit.
  now += 11 * 60_000;
  assert.throws(() => links.admit(r, { identity: 'mimi://b.example/d/bob/9', user: BOB, signatureKey: leaf, ticket: t }), /expired/);
});

test('unknown codes, passphrases, bans and who may make links', () => {
  const r = room('pass', 'administered', [MALLORY]);
  refusal(() => links.issue(r, BOB, { code: code(), signatureKey: leaf }), 'notAuthorized', /copied whole/);
  const c = code();
  links.create(ALICE, r, { codeHash: hash(c), passphrase: 'long enough' });
  refusal(() => links.issue(r, BOB, { code: c, signatureKey: leaf }), 'passphraseRequired', /needs its passphrase/);
  refusal(() => links.issue(r, BOB, { code: c, passphrase: 'not it', signatureKey: leaf }), 'passphraseRequired', /not the link’s/);
  assert.equal(links.issue(r, BOB, { code: c, passphrase: 'long enough', signatureKey: leaf }).joiner, BOB);
  refusal(() => links.issue(r, MALLORY, { code: c, passphrase: 'long enough', signatureKey: leaf }), 'banned', /banned/);
  // Not a participant; a cooperative room; a role a code may not give.
  assert.throws(() => links.create(BOB, r, { codeHash: hash(code()) }), (e: unknown) => e instanceof ApiFailure && e.code === 'notMember');
  assert.throws(() => links.create(ALICE, room('coop', 'cooperative'), { codeHash: hash(code()) }), /canUseJoinCode/);
  assert.throws(() => links.create(ALICE, r, { codeHash: hash(code()), roleIndex: 3 }), /role 2/);
  // The link's code is never stored: only its hash.
  const raw = fs.readFileSync(path.join(dir, 'provider.sqlite'));
  assert.equal(raw.includes(Buffer.from(c)), false);
  assert.equal(raw.includes(Buffer.from('long enough')), false);
});

test('attempts are limited per requester and per requesting provider; another requester is not held up', () => {
  const r = room('flood');
  const c = code();
  links.create(ALICE, r, { codeHash: hash(c) });
  const flooder = 'mimi://c.example/u/flood';
  for (let i = 0; i < 5; i++) refusal(() => links.issue(r, flooder, { code: code(), signatureKey: leaf }), 'notAuthorized', /not valid/);
  refusal(() => links.issue(r, flooder, { code: c, signatureKey: leaf }), 'rateLimited', /try again in \d+ s/);
  assert.equal(links.issue(r, 'mimi://c.example/u/calm', { code: c, signatureKey: leaf }).roleIndex, 2);
  now += 60_000; // one attempt back
  assert.equal(links.issue(r, flooder, { code: c, signatureKey: leaf }).roleIndex, 2);
  // A provider gets ten times a requester's bucket, whoever it speaks for.
  let refusedAt = -1;
  for (let i = 0; i < 60 && refusedAt < 0; i++) {
    try {
      links.issue(r, `mimi://d.example/u/u${i}`, { code: c, signatureKey: leaf, via: 'd.example' });
    } catch (e) {
      if (e instanceof TicketRefused && e.refusal === 'rateLimited') refusedAt = i;
      else throw e;
    }
  }
  assert.equal(refusedAt, 50);
});

test('/joinTicket: the request and response wire forms, and a peer speaks only for its own users', () => {
  const r = room('s2s');
  const c = code();
  links.create(ALICE, r, { codeHash: hash(c), passphrase: 'wire test' });
  const req = { joiner: BOB, code: c, passphrase: 'wire test', signatureKey: leaf };
  assert.deepEqual(decodeJoinTicketRequest(encodeJoinTicketRequest(req)), req);
  const ok = serveJoinTicket(links, 'b.example', r, encodeJoinTicketRequest(req));
  assert.equal(decodeJoinTicketResponse(ok).status, 'success');
  assert.ok(ticketFromResponse('a.example', ok).length > 64);
  const wrongPeer = decodeJoinTicketResponse(serveJoinTicket(links, 'c.example', r, encodeJoinTicketRequest(req)));
  assert.deepEqual([wrongPeer.status, wrongPeer.ticket.length], ['notAuthorized', 0]);
  const noPass = serveJoinTicket(links, 'b.example', r, encodeJoinTicketRequest({ ...req, passphrase: undefined }));
  assert.throws(() => ticketFromResponse('a.example', noPass), (e: unknown) => e instanceof TicketRefused && e.code === 'passphraseRequired' && /a\.example: .*passphrase/.test(e.message));
  assert.throws(() => serveJoinTicket(links, 'b.example', r, new Uint8Array([1, 2, 3])), /JoinTicketRequest is malformed/);
});

test("/joinLinks: the wire forms; a follower's member makes, lists and revokes; the peer speaks only for its own", () => {
  const r = room('remote-admin');
  store.addParticipant(r, BOB);
  // bob is listed as group_admin (role 3) in the stored state.
  const s = initialRoomState({ roomUri: r, creator: ALICE, preset: 'administered' });
  store.setRoomState(r, encodeRoomStateExtension({ ...s, participants: [...s.participants, { user: BOB, roleIndex: 3 }] }));
  const create = { action: 'create' as const, actingUser: BOB, codeHash: hash(code()), maxUses: 3, expiresInSeconds: 3600, passphrase: 'across the wire' };
  assert.deepEqual(decodeJoinLinksRequest(encodeJoinLinksRequest(create)), create);
  for (const other of [{ action: 'list' as const, actingUser: BOB }, { action: 'revoke' as const, actingUser: BOB, id: '0011223344556677' }]) {
    assert.deepEqual(decodeJoinLinksRequest(encodeJoinLinksRequest(other)), other);
  }
  const [made] = decodeJoinLinksResponse('a.example', r, serveJoinLinks(links, 'b.example', r, encodeJoinLinksRequest(create)));
  assert.deepEqual([made.createdBy, made.maxUses, made.uses, made.passphrase, made.expiresAt, made.revokedAt], [BOB, 3, 0, true, now + 3_600_000, null]);
  const listed = decodeJoinLinksResponse('a.example', r, serveJoinLinks(links, 'b.example', r, encodeJoinLinksRequest({ action: 'list', actingUser: BOB })));
  assert.deepEqual(listed, links.list(ALICE, r));
  const revoked = decodeJoinLinksResponse('a.example', r, serveJoinLinks(links, 'b.example', r, encodeJoinLinksRequest({ action: 'revoke', actingUser: BOB, id: made.id })));
  assert.equal(revoked[0].revokedAt, now);
  // c.example may not speak for bob; a non-participant of b.example gets the hub's refusal.
  assert.throws(() => decodeJoinLinksResponse('a.example', r, serveJoinLinks(links, 'c.example', r, encodeJoinLinksRequest({ action: 'list', actingUser: BOB }))), /a\.example: the acting user must be a user or pseudonym of c\.example/);
  assert.throws(
    () => decodeJoinLinksResponse('a.example', r, serveJoinLinks(links, 'b.example', r, encodeJoinLinksRequest({ action: 'list', actingUser: MALLORY }))),
    (e: unknown) => e instanceof ApiFailure && e.code === 'notMember',
  );
  assert.throws(() => serveJoinLinks(links, 'b.example', r, new Uint8Array([9, 0])), /JoinLinksRequest is malformed/);
});
