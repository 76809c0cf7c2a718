// The short-code exchange between two devices of an account as a state machine
// (core/device-link-machine.ts) and the derivations it adds to src-shared/device-verification.ts:
// two honest machines end verified with each other's signature keys; a relay that swaps the
// revealed key, or the responder's key, or a MAC, or a person who says "no" ends both sides with
// nothing verified; out-of-order messages and bad input are refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { toB64 } from '../../src-shared/bytes.js';
import { newEphemeral, openFromPeer, sealForPeer, shortCode, newTranscript } from '../../src-shared/device-verification.js';
import { LinkAttempt, encodeWire, keyMismatches, parseWire, type LinkWire } from '../../src-main/core/device-link-machine.js';

const LAPTOP = { deviceUri: 'mimi://a.example/d/alice/laptop', signatureKey: new Uint8Array(randomBytes(32)) };
const PHONE = { deviceUri: 'mimi://a.example/d/alice/phone', signatureKey: new Uint8Array(randomBytes(32)) };

/** Carries messages between the two machines through `relay` (which may alter them), until quiet. */
function deliver(to: LinkAttempt, msgs: LinkWire[], back: LinkAttempt, relay: (m: LinkWire) => LinkWire = (m) => m): void {
  let queue: { to: LinkAttempt; m: LinkWire }[] = msgs.map((m) => ({ to, m }));
  while (queue.length) {
    const next: typeof queue = [];
    for (const { to: dest, m } of queue) {
      const parsed = parseWire(encodeWire(relay(m)));
      assert.ok(parsed, `message ${m.t} survives the wire`);
      const other = dest === to ? back : to;
      for (const out of dest.receive(parsed)) next.push({ to: other, m: out });
    }
    queue = next;
  }
}

function pair(relay?: (m: LinkWire) => LinkWire) {
  const { attempt: starter, out } = LinkAttempt.start(PHONE, LAPTOP.deviceUri, 'verify');
  assert.equal(starter.stage, 'waiting');
  const start = parseWire(encodeWire(relay ? relay(out) : out));
  assert.ok(start && start.t === 'start');
  const responder = LinkAttempt.incoming(LAPTOP, PHONE.deviceUri, start)!;
  assert.equal(responder.stage, 'incoming');
  assert.equal(responder.id, starter.id);
  deliver(starter, responder.accept(), responder, relay);
  return { starter, responder };
}

test('two honest devices show the same 12 digits and end verified with each other’s signature keys', () => {
  const { starter, responder } = pair();
  assert.equal(starter.stage, 'compare');
  assert.equal(responder.stage, 'compare');
  assert.deepEqual(starter.digits, responder.digits);
  assert.equal(starter.digits!.length, 3);
  for (const g of starter.digits!) assert.match(g, /^\d{4}$/);
  // A MAC arriving before this side's person confirmed is held, not counted.
  deliver(responder, starter.confirm(true), starter);
  assert.equal(starter.stage, 'confirmed');
  assert.equal(responder.stage, 'compare', 'the responder waits for its own person');
  deliver(starter, responder.confirm(true), responder);
  assert.equal(starter.stage, 'verified');
  assert.equal(responder.stage, 'verified');
  assert.deepEqual(starter.verifiedKey, LAPTOP.signatureKey);
  assert.deepEqual(responder.verifiedKey, PHONE.signatureKey);
  assert.deepEqual(starter.transferKey, responder.transferKey);
  assert.equal(starter.transferKey!.length, 32);
});

test('a relay that swaps the revealed key is caught by the commitment: both end tampered, nothing verified', () => {
  const evil = newEphemeral();
  const { starter, responder } = pair((m) => (m.t === 'reveal' ? { ...m, key: toB64(evil.publicKey) } : m));
  assert.equal(responder.stage, 'failed');
  assert.equal(responder.reason, 'tampered');
  assert.equal(starter.stage, 'failed', 'the cancel reached the starter');
  assert.equal(starter.reason, 'tampered');
  assert.equal(starter.verifiedKey, undefined);
  assert.equal(responder.verifiedKey, undefined);
  assert.equal(responder.digits, undefined);
});

test('a relay that swaps the responder’s key gives different digits; "they match" anyway still fails on the MACs', () => {
  const evil = newEphemeral();
  const { starter, responder } = pair((m) => (m.t === 'accept' ? { ...m, key: toB64(evil.publicKey) } : m));
  assert.equal(starter.stage, 'compare');
  assert.equal(responder.stage, 'compare');
  assert.notDeepEqual(starter.digits, responder.digits);
  // Both people (wrongly) confirm: the MACs are under different keys and fail on both sides.
  const a = starter.confirm(true);
  const b = responder.confirm(true);
  deliver(responder, a, starter);
  deliver(starter, b, responder);
  assert.equal(starter.stage, 'failed');
  assert.equal(responder.stage, 'failed');
  assert.equal(starter.verifiedKey, undefined);
  assert.equal(responder.verifiedKey, undefined);
});

test('"they don’t match" on one side ends both with mismatch; a MAC for another key is refused', () => {
  const { starter, responder } = pair();
  deliver(starter, responder.confirm(false), responder);
  assert.equal(responder.reason, 'mismatch');
  assert.equal(starter.stage, 'failed');
  assert.equal(starter.reason, 'mismatch');
  assert.deepEqual(starter.confirm(true), [], 'nothing to confirm any more');

  const p2 = pair();
  const mac = p2.starter.confirm(true)[0] as Extract<LinkWire, { t: 'mac' }>;
  // The relay claims another signature key for the phone with the phone's MAC.
  const forged: LinkWire = { ...mac, sig: toB64(new Uint8Array(randomBytes(32))) };
  p2.responder.confirm(true);
  deliver(p2.starter, p2.responder.receive(forged), p2.responder);
  assert.equal(p2.responder.stage, 'failed');
  assert.equal(p2.responder.reason, 'tampered');
  assert.equal(p2.starter.stage, 'failed');
});

test('out-of-order messages, messages of another attempt and malformed ones', () => {
  const { attempt: starter, out } = LinkAttempt.start(PHONE, LAPTOP.deviceUri, 'history');
  assert.equal(out.t, 'start');
  // A reveal to the starter is out of order: protocol failure and a cancel back.
  const res = starter.receive({ t: 'reveal', a: starter.id, key: toB64(new Uint8Array(32)) });
  assert.equal(starter.stage, 'failed');
  assert.equal(starter.reason, 'protocol');
  assert.deepEqual(res, [{ t: 'cancel', a: starter.id, reason: 'protocol' }]);

  const { attempt: other } = LinkAttempt.start(PHONE, LAPTOP.deviceUri, 'verify');
  assert.deepEqual(other.receive({ t: 'cancel', a: '0'.repeat(32), reason: 'cancelled' }), [], 'another attempt’s message is ignored');
  assert.equal(other.stage, 'waiting');

  // A start whose nonce does not match its id, or for oneself, is no attempt.
  const s = out as Extract<LinkWire, { t: 'start' }>;
  assert.equal(LinkAttempt.incoming(LAPTOP, PHONE.deviceUri, { ...s, a: 'f'.repeat(32) }), undefined);
  assert.equal(LinkAttempt.incoming(PHONE, PHONE.deviceUri, s), undefined);

  for (const bad of ['not json', '[]', '{"t":"start","a":"xyz"}', JSON.stringify({ t: 'cancel', a: '0'.repeat(32), reason: 'whatever' }), JSON.stringify({ t: 'progress', a: '0'.repeat(32), done: 5, total: 2 })]) {
    assert.equal(parseWire(new TextEncoder().encode(bad)), undefined, bad);
  }
  assert.equal(parseWire(new Uint8Array(9000).fill(32)), undefined, 'too long');
});

test('an attempt that times out says so and sends a cancel; the responder can be cancelled before accepting', () => {
  const { attempt, out } = LinkAttempt.start(PHONE, LAPTOP.deviceUri, 'verify');
  const responder = LinkAttempt.incoming(LAPTOP, PHONE.deviceUri, out as Extract<LinkWire, { t: 'start' }>)!;
  assert.deepEqual(attempt.fail('timeout'), [{ t: 'cancel', a: attempt.id, reason: 'timeout' }]);
  assert.deepEqual(attempt.fail('timeout'), [], 'ends once');
  responder.receive({ t: 'cancel', a: attempt.id, reason: 'timeout' });
  assert.equal(responder.stage, 'failed');
  assert.equal(responder.reason, 'timeout');
  assert.deepEqual(responder.accept(), [], 'nothing to accept any more');
});

test('the transfer key seals for the other device only, bound to its context', () => {
  const t = newTranscript(PHONE.deviceUri, LAPTOP.deviceUri);
  const a = newEphemeral();
  const b = newEphemeral();
  const sa = shortCode(t, a, b.publicKey, true);
  const sb = shortCode(t, b, a.publicKey, false);
  assert.deepEqual(sa.transferKey, sb.transferKey);
  assert.notDeepEqual(sa.transferKey, sa.macKey, 'a key of its own');
  const secret = new Uint8Array(randomBytes(32));
  const box = sealForPeer(sa.transferKey, 'history 1', secret);
  assert.deepEqual(openFromPeer(sb.transferKey, 'history 1', box), secret);
  assert.throws(() => openFromPeer(sb.transferKey, 'history 2', box), /does not open/);
  const flipped = box.slice();
  flipped[20] ^= 1;
  assert.throws(() => openFromPeer(sb.transferKey, 'history 1', flipped), /does not open/);
  assert.throws(() => openFromPeer(new Uint8Array(32), 'history 1', box), /does not open/);
  assert.throws(() => openFromPeer(sb.transferKey, 'history 1', box.subarray(0, 10)), /too short/);
});

test('a verified device shown in a room with another key is flagged; the same key, or other devices, are not', () => {
  const phone = 'mimi://a.example/d/alice/phone';
  const tablet = 'mimi://a.example/d/alice/tablet';
  const key = randomBytes(32);
  const verified = [{ deviceUri: phone, signatureKey: key }];
  const honest = [{ identity: phone, signatureKey: Uint8Array.from(key) }, { identity: tablet, signatureKey: randomBytes(32) }];
  assert.deepEqual([...keyMismatches(verified, [honest, honest])], []);
  // One room of three shows the phone with a key the phone never proved.
  const slipped = [{ identity: phone, signatureKey: randomBytes(32) }];
  assert.deepEqual([...keyMismatches(verified, [honest, slipped, []])], [phone]);
  // A device never verified is never flagged, whatever key it has.
  assert.deepEqual([...keyMismatches([], [slipped])], []);
});

test('a notice that arrives while a fetch is on its way is not lost when that fetch comes back empty', async () => {
  const { DeviceLink } = await import('../../src-main/core/device-link.js');
  const ctx = { client: {}, closed: false, emit: () => undefined } as unknown as ConstructorParameters<typeof DeviceLink>[0];
  const link = new DeviceLink(ctx, {} as never, () => undefined);
  let fetches = 0;
  let stored = false;
  const acked: number[] = [];
  let releaseFirst!: () => void;
  const firstFetchDone = new Promise<void>((r) => (releaseFirst = r));
  link.relay = {
    send: async () => ({ id: 0, expiresAt: 0 }),
    fetch: async () => {
      fetches++;
      if (fetches === 1) {
        // The provider answers "nothing" for a message that is stored just after.
        await firstFetchDone;
        return [];
      }
      return stored ? [{ id: 7, fromDeviceId: 'x', fromDeviceUri: 'mimi://a.example/d/alice/x', body: toB64(new Uint8Array([1, 2, 3])), sentAt: 0 }] : [];
    },
    ack: async (ids: number[]) => {
      acked.push(...ids);
      stored = false;
    },
  } as never;
  link.on('verification', () => undefined); // a listener: polling starts
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(fetches, 1);
  stored = true;
  link.notice('deviceMessages'); // the notice for it, while the first fetch is still out
  releaseFirst();
  for (let i = 0; i < 50 && acked.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(acked, [7], 'the message was fetched and acknowledged');
});
