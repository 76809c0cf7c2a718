// Verification's state logic (src-main/core/verification.ts, docs/verification.md): the devices
// each side reads from the rooms both share (pseudonymous leaves left out), the states and the
// once-per-change warning, and the profile's marks in a real SQLite file (migration 13), with the
// number and QR code equal to what src-shared/safety-number.ts makes of the same keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { changeNotice, sharedKeys, verificationState, Verification, type Leaf } from '../../src-main/core/verification.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import { GroupSessions } from '../../src-main/core/group-sessions.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { CoreError } from '../../src-shared/contract.js';
import { groupDigits, safetyNumber, safetyNumberQr } from '../../src-shared/safety-number.js';
import { tempDir } from '../helpers/provider-process.js';

const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const CAROL = 'mimi://a.example/u/carol';
const key = () => new Uint8Array(randomBytes(32));
const leaf = (identity: string, signatureKey = key()): Leaf => ({ identity, signatureKey });
const pseudoLeaf = (identity: string): Leaf => ({ identity, signatureKey: key(), pseudonym: { userPseudonym: 'mimi://a.example/p/xyz', credential: new Uint8Array(1) } });

const aliceLaptop = leaf('mimi://a.example/d/alice/laptop');
const bobPhone = leaf('mimi://b.example/d/bob/phone');
const bobDesk = leaf('mimi://b.example/d/bob/desk');
const carolPc = leaf('mimi://a.example/d/carol/pc');

test('the devices come from rooms both are in, once each; pseudonymous leaves and other rooms are left out', () => {
  const rooms: Leaf[][] = [
    [aliceLaptop, bobPhone, carolPc],
    [aliceLaptop, bobPhone], // bob's phone again: counted once
    [carolPc, bobDesk], // alice is not here: bob's desk does not count
    [pseudoLeaf('mimi://a.example/c/1'), bobDesk], // alice only as a pseudonym: not shared
  ];
  const k = sharedKeys(rooms, ALICE, BOB);
  assert.equal(k.sharedRooms, 2);
  assert.deepEqual(k.mine.devices.map((d) => d.device), [aliceLaptop.identity]);
  assert.deepEqual(k.theirs.devices.map((d) => d.device), [bobPhone.identity]);
  // The other side, from the same trees, reads the same sets: the same number.
  const back = sharedKeys(rooms, BOB, ALICE);
  assert.equal(back.sharedRooms, 2);
  assert.equal(safetyNumber(back.mine, back.theirs), safetyNumber(k.mine, k.theirs));
  // The same device with a new key in another room is another device to compare.
  const rekeyed = sharedKeys([[aliceLaptop, bobPhone], [aliceLaptop, leaf(bobPhone.identity)]], ALICE, BOB);
  assert.equal(rekeyed.theirs.devices.length, 2);
  assert.equal(sharedKeys([[aliceLaptop, carolPc]], ALICE, BOB).sharedRooms, 0);
});

test('states and the once-per-change warning', () => {
  const a = new Uint8Array(30).fill(1);
  const b = new Uint8Array(30).fill(2);
  const c = new Uint8Array(30).fill(3);
  assert.equal(verificationState(a, undefined), 'unverified');
  assert.equal(verificationState(a, a), 'verified');
  assert.equal(verificationState(b, a), 'changed');
  assert.equal(changeNotice({ fingerprint: a }, a), 'none');
  assert.equal(changeNotice({ fingerprint: a }, b), 'warn', 'first change: told');
  assert.equal(changeNotice({ fingerprint: a, warned: b }, b), 'none', 'the same change again: not told twice');
  assert.equal(changeNotice({ fingerprint: a, warned: b }, c), 'warn', 'another change: told');
  assert.equal(changeNotice({ fingerprint: a, warned: b }, a), 'reset', 'back at the verified devices: a later change is told again');
});

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

/** A profile's context with a real database and rooms given as their leaves (what Verification reads). */
async function fixture() {
  const db = new ProfileDb(path.join(tempDir('verification'), 'mimi.db'), await Vault.open(memoryStore()));
  const rooms = new Map<string, Leaf[]>();
  // The real session cache over the real database, holding stand-in sessions that only have leaves.
  const sessions = new GroupSessions(db, {} as MlsEngine);
  const emitted: string[] = [];
  const room = (name: string, leaves: Leaf[]) => {
    const uri = `mimi://a.example/r/${name}`;
    if (!rooms.has(uri)) db.insertRoom({ roomUri: uri, name, hubDomain: 'a.example', epoch: 1n, groupState: new Uint8Array([1]) });
    rooms.set(uri, leaves);
    sessions.set(uri, { members: () => rooms.get(uri)! } as unknown as GroupSession);
    return uri;
  };
  const ctx = {
    config: { domain: 'a.example', userUri: ALICE },
    db,
    sessions,
    emit: (e: string) => void emitted.push(e),
  } as unknown as ProfileContext;
  return { db, room, emitted, v: new Verification(ctx) };
}

test('the number, the QR code, marks, and the warning after a change, on a real database', async () => {
  const { db, room, emitted, v } = await fixture();
  try {
    const r = room('lunch', [aliceLaptop, bobPhone]);
    const view = v.safetyNumber('bob@b.example');
    const mine = { user: ALICE, devices: [{ device: aliceLaptop.identity, signatureKey: aliceLaptop.signatureKey }] };
    const theirs = { user: BOB, devices: [{ device: bobPhone.identity, signatureKey: bobPhone.signatureKey }] };
    assert.deepEqual(view.groups, groupDigits(safetyNumber(mine, theirs)));
    assert.equal(view.groups.length, 12);
    assert.equal(view.qr, Buffer.from(safetyNumberQr(mine, theirs)).toString('base64'));
    assert.equal(view.state, 'unverified');
    assert.equal(view.sharedRooms, 1);

    // Comparing: their code (the same bytes) matches and marks bob verified; a stranger's does not.
    assert.equal(v.compareQr(BOB, Buffer.from(safetyNumberQr(theirs, mine)).toString('base64')), 'match');
    assert.equal(v.safetyNumber(BOB).state, 'verified');
    assert.ok(emitted.includes('rooms'));
    v.setVerified(BOB, false);
    const other = { user: BOB, devices: [{ device: bobPhone.identity, signatureKey: key() }] };
    assert.equal(v.compareQr(BOB, Buffer.from(safetyNumberQr(mine, other)).toString('base64')), 'mismatch');
    assert.equal(v.compareQr(BOB, Buffer.from(safetyNumberQr({ ...mine, user: CAROL }, theirs)).toString('base64')), 'otherPeople');
    assert.equal(v.compareQr(BOB, Buffer.from('not cbor at all').toString('base64')), 'notASafetyNumber');
    assert.equal(v.safetyNumber(BOB).state, 'unverified', 'no comparison that failed marked anyone');

    // Marked; a commit that changes nothing for bob says nothing.
    assert.equal(v.setVerified(BOB, true).state, 'verified');
    assert.deepEqual(v.statesOf([ALICE, BOB]), new Map([[BOB, 'verified']]));
    assert.deepEqual(v.commitEvents(r), []);
    // bob's desk joins: changed, told once in the room the commit was in.
    room('lunch', [aliceLaptop, bobPhone, bobDesk]);
    const changed = v.safetyNumber(BOB);
    assert.equal(changed.state, 'changed');
    assert.notDeepEqual(changed.groups, view.groups);
    assert.deepEqual(v.commitEvents(r), [{ kind: 'verifiedChanged', user: BOB }]);
    assert.deepEqual(v.commitEvents(r), [], 'the same change is told once');
    assert.deepEqual(v.statesOf([BOB]), new Map([[BOB, 'changed']]));
    // Marked again at the new devices: verified, and the warning forgotten.
    assert.equal(v.setVerified(BOB, true).state, 'verified');
    assert.equal(db.verifiedPerson(BOB)?.warned, undefined);
    // Clearing forgets him.
    assert.equal(v.setVerified(BOB, false).state, 'unverified');
    assert.equal(db.verifiedPerson(BOB), undefined);
    assert.deepEqual(v.statesOf([BOB]), new Map());
  } finally {
    db.close();
  }
});

test('refusals: no shared room, oneself, a pseudonym, a bad code; nothing changes', async () => {
  const { db, room, v } = await fixture();
  try {
    room('solo', [aliceLaptop, carolPc]);
    const refuses = (fn: () => unknown, key: string) =>
      assert.throws(fn, (e: unknown) => e instanceof CoreError && e.key === key && e.message.length > 20 && !e.message.includes('{'));
    refuses(() => v.safetyNumber('bob@b.example'), 'verification.errors.noSharedRoom');
    refuses(() => v.setVerified('bob@b.example', true), 'verification.errors.noSharedRoom');
    refuses(() => v.safetyNumber('alice'), 'verification.errors.self');
    refuses(() => v.safetyNumber('mimi://a.example/p/abcdef'), 'verification.errors.pseudonym');
    refuses(() => v.safetyNumber('not an address'), 'errors.member.notUserAddress');
    refuses(() => v.compareQr('carol', 'aGVsbG8'), 'verification.errors.badQr');
    assert.deepEqual(db.verifiedPeople(), []);
  } finally {
    db.close();
  }
});
