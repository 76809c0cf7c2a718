// Short-code verification between an account's own devices (src-shared/device-verification.ts):
// both sides show the same digits only when nobody swapped keys; commitments bind the starter's
// key; the key MACs prove which signature key belongs to the other device.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  DeviceVerificationError,
  checkKeyMac,
  checkReveal,
  commitment,
  keyMac,
  newEphemeral,
  newTranscript,
  shortCode,
} from '../../src-shared/device-verification.js';

const LAPTOP = 'mimi://a.example/d/alice/laptop';
const PHONE = 'mimi://a.example/d/alice/phone';

function run() {
  const t = newTranscript(LAPTOP, PHONE);
  const a = newEphemeral();
  const b = newEphemeral();
  const committed = commitment(t, a.publicKey);
  // b answers before seeing a's key; a reveals; b checks.
  checkReveal(t, committed, a.publicKey);
  return { t, a, b, atA: shortCode(t, a, b.publicKey, true), atB: shortCode(t, b, a.publicKey, false) };
}

test('both devices show the same 12 digits and derive the same MAC key', () => {
  const { atA, atB } = run();
  assert.deepEqual(atA.digits, atB.digits);
  assert.equal(atA.digits.length, 3);
  for (const g of atA.digits) assert.match(g, /^\d{4}$/);
  assert.deepEqual(atA.macKey, atB.macKey);
  assert.notDeepEqual(run().atA.digits, atA.digits, 'another attempt, another code');
});

test('a relay that swaps in its own keys gets different codes on the two sides', () => {
  const t = newTranscript(LAPTOP, PHONE);
  const a = newEphemeral();
  const b = newEphemeral();
  const mallory = newEphemeral();
  // Mallory answers a as if it were b, and reveals to b as if it were a.
  const atA = shortCode(t, a, mallory.publicKey, true);
  const atB = shortCode(t, b, mallory.publicKey, false);
  assert.notDeepEqual(atA.digits, atB.digits);
});

test('a revealed key other than the committed one is refused', () => {
  const t = newTranscript(LAPTOP, PHONE);
  const a = newEphemeral();
  const committed = commitment(t, a.publicKey);
  assert.throws(() => checkReveal(t, committed, newEphemeral().publicKey), /committed/);
  // The commitment is bound to the attempt too.
  assert.throws(() => checkReveal(newTranscript(LAPTOP, PHONE), committed, a.publicKey), DeviceVerificationError);
});

test('key MACs: the right signature key checks, another key or device does not', () => {
  const { atA, atB } = run();
  const phoneKey = new Uint8Array(randomBytes(32));
  const mac = keyMac(atB.macKey, PHONE, phoneKey);
  assert.equal(checkKeyMac(atA.macKey, PHONE, phoneKey, mac), true);
  assert.equal(checkKeyMac(atA.macKey, PHONE, new Uint8Array(randomBytes(32)), mac), false);
  assert.equal(checkKeyMac(atA.macKey, LAPTOP, phoneKey, mac), false);
  assert.equal(checkKeyMac(run().atA.macKey, PHONE, phoneKey, mac), false);
});

test('bad input: itself, wrong sizes, a low-order point', () => {
  assert.throws(() => commitment(newTranscript(LAPTOP, LAPTOP), newEphemeral().publicKey), /itself/);
  const t = newTranscript(LAPTOP, PHONE);
  assert.throws(() => shortCode(t, newEphemeral(), new Uint8Array(31), true), /wrong size/);
  assert.throws(() => shortCode(t, newEphemeral(), new Uint8Array(32), true), DeviceVerificationError);
});
