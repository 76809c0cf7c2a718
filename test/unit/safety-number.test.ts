// Safety numbers (src-shared/safety-number.ts, docs/verification.md): the same on both sides,
// independent of device order, different when a device is added, recomputed here with node:crypto
// from the documented encoding, and QR codes compared both ways.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  SafetyNumberError,
  compareSafetyNumberQr,
  fingerprintBytes,
  fingerprintDigits,
  groupDigits,
  safetyNumber,
  safetyNumberQr,
  type PersonKeys,
} from '../../src-shared/safety-number.js';
import { encodeCbor } from '../../src-shared/cbor.js';

const key = () => new Uint8Array(randomBytes(32));
const alice: PersonKeys = { user: 'mimi://a.example/u/alice', devices: [{ device: 'mimi://a.example/d/alice/laptop', signatureKey: key() }] };
const bob: PersonKeys = {
  user: 'mimi://b.example/u/bob',
  devices: [
    { device: 'mimi://b.example/d/bob/phone', signatureKey: key() },
    { device: 'mimi://b.example/d/bob/desk', signatureKey: key() },
  ],
};

/** The documented algorithm, written again with node:crypto. */
function reference(p: PersonKeys): Buffer {
  const lp = (b: Uint8Array) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), Buffer.from(b)]);
  const devs = p.devices.map((d) => ({ dev: Buffer.from(d.device), key: Buffer.from(d.signatureKey) })).sort((x, y) => Buffer.compare(x.key, y.key) || Buffer.compare(x.dev, y.dev));
  const body = Buffer.concat([Buffer.from([0, 1]), lp(Buffer.from(p.user)), Buffer.from([devs.length >> 8, devs.length & 0xff]), ...devs.flatMap((d) => [lp(d.dev), lp(d.key)])]);
  let h = createHash('sha512').update(Buffer.concat([Buffer.from('mimi safety number'), body])).digest();
  for (let i = 0; i < 5200; i++) h = createHash('sha512').update(Buffer.concat([h, body])).digest();
  return h.subarray(0, 30);
}

test('a fingerprint is the documented iterated SHA-512, as digits of 5-byte groups', () => {
  const ref = reference(bob);
  assert.deepEqual(Buffer.from(fingerprintBytes(bob)), ref);
  const groups = [0, 5, 10, 15, 20, 25].map((i) => String(ref.readUIntBE(i, 5) % 100000).padStart(5, '0')).join('');
  assert.equal(fingerprintDigits(fingerprintBytes(bob)), groups);
  assert.equal(groups.length, 30);
});

test('both sides compute the same 60 digits, whatever the order', () => {
  const n = safetyNumber(alice, bob);
  assert.match(n, /^\d{60}$/);
  assert.equal(safetyNumber(bob, alice), n);
  const reordered: PersonKeys = { user: bob.user, devices: [...bob.devices].reverse() };
  assert.equal(safetyNumber(alice, reordered), n);
  assert.equal(groupDigits(n).length, 12);
  // alice's URI sorts first, so her fingerprint is the first half.
  assert.equal(n.slice(0, 30), fingerprintDigits(fingerprintBytes(alice)));
});

test('a new or changed device changes the number; a different user URI does too', () => {
  const n = safetyNumber(alice, bob);
  const more: PersonKeys = { user: bob.user, devices: [...bob.devices, { device: 'mimi://b.example/d/bob/tablet', signatureKey: key() }] };
  assert.notEqual(safetyNumber(alice, more), n);
  const swapped: PersonKeys = { user: bob.user, devices: [bob.devices[0], { device: bob.devices[1].device, signatureKey: key() }] };
  assert.notEqual(safetyNumber(alice, swapped), n);
  const renamed: PersonKeys = { user: 'mimi://b.example/u/bobby', devices: bob.devices };
  assert.notEqual(safetyNumber(alice, renamed).slice(30), n.slice(30));
});

test('nonsense is refused: no devices, the same person twice, a device listed twice', () => {
  assert.throws(() => safetyNumber(alice, { user: bob.user, devices: [] }), SafetyNumberError);
  assert.throws(() => safetyNumber(alice, alice), /two different people/);
  assert.throws(() => safetyNumber(alice, { user: bob.user, devices: [bob.devices[0], bob.devices[0]] }), /listed twice/);
});

test('QR codes: a match from either side, a mismatch on a changed key, other people and garbage named', () => {
  const qr = safetyNumberQr(alice, bob);
  assert.equal(compareSafetyNumberQr(qr, alice, bob), 'match');
  assert.equal(compareSafetyNumberQr(safetyNumberQr(bob, alice), bob, alice), 'match');
  const other: PersonKeys = { user: bob.user, devices: [{ device: bob.devices[0].device, signatureKey: key() }] };
  assert.equal(compareSafetyNumberQr(qr, alice, other), 'mismatch');
  const carol: PersonKeys = { user: 'mimi://c.example/u/carol', devices: [{ device: 'mimi://c.example/d/carol/x', signatureKey: key() }] };
  assert.equal(compareSafetyNumberQr(qr, alice, carol), 'otherPeople');
  assert.equal(compareSafetyNumberQr(encodeCbor([2, ['a', new Uint8Array(30)], ['b', new Uint8Array(30)]]), alice, bob), 'otherVersion');
  assert.equal(compareSafetyNumberQr(new Uint8Array([0xff, 0x00]), alice, bob), 'notASafetyNumber');
  assert.equal(compareSafetyNumberQr(encodeCbor(['hello']), alice, bob), 'notASafetyNumber');
});

test('node:crypto SHA-512 (what the core passes) gives the same fingerprints as the default', async () => {
  const { createHash } = await import('node:crypto');
  const nodeSha512 = (d: Uint8Array): Uint8Array => createHash('sha512').update(d).digest();
  const person = { user: 'mimi://a.example/u/alice', devices: [{ device: 'mimi://a.example/d/alice/laptop', signatureKey: new Uint8Array(32).fill(5) }] };
  assert.deepEqual(fingerprintBytes(person, nodeSha512), fingerprintBytes(person));
  assert.ok(!(fingerprintBytes(person, nodeSha512) instanceof Buffer), 'a plain Uint8Array, not a Buffer view');
});
