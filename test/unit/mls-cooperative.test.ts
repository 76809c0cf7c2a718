// Cooperative yielding of MLS work (src-main/mls/cooperative.ts): a long commit must be split into
// several event-loop turns so timers and I/O of the main process run meanwhile. Nothing here is
// timed: the assertions are about ordering (did a timer run before the commit finished?).

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { CiphersuiteImpl } from 'ts-mls';
import { cooperative, DEFAULT_YIELD_BUDGET_MS, setYieldBudget, yieldBudget, yieldCount } from '../../src-main/mls/cooperative.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { fromUtf8, utf8 } from '../../src-shared/bytes.js';

afterEach(() => setYieldBudget(DEFAULT_YIELD_BUDGET_MS));

/** A two-member group (the second member processes commits) and `n` KeyPackages ready to add. */
async function groupWithJoiners(engine: MlsEngine, n: number) {
  const owner = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const peer = await engine.newDeviceKeys('mimi://a.example/d/peer/1');
  const [peerKp] = await engine.generateKeyPackages(peer, 1);
  const first = await (await engine.createGroup(owner, 'mimi://a.example/r/coop')).add([peerKp.publicMessage]);
  const peerSession = await engine.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);
  const kps: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const keys = await engine.newDeviceKeys(`mimi://a.example/d/m${i}/1`);
    kps.push((await engine.generateKeyPackages(keys, 1))[0].publicMessage);
  }
  return { owner: first.pending, peer: peerSession, kps };
}

/** Runs `work` with a 0 ms timer scheduled just before it; reports whether the timer fired before `work` settled. */
async function timerRanDuring<T>(work: () => Promise<T>): Promise<{ ran: boolean; value: T }> {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
  }, 0);
  const value = await work();
  const ran = fired;
  clearTimeout(timer);
  return { ran, value };
}

test('with yielding, a timer scheduled before an 80-member commit runs before it completes, and before its processing completes', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  // 80 HPKE seals for the Welcome alone are several ms of synchronous crypto even on a fast
  // machine: with a 1 ms budget that is several yields.
  const { owner, peer, kps } = await groupWithJoiners(engine, 80);
  setYieldBudget(1);
  const before = yieldCount();
  const made = await timerRanDuring(() => owner.add(kps));
  assert.ok(made.ran, 'the timer ran while the commit was being made');
  const processed = await timerRanDuring(() => peer.process(made.value.commit));
  assert.ok(processed.ran, 'the timer ran while the commit was being processed');
  assert.ok(yieldCount() - before >= 2, `the work yielded ${yieldCount() - before} times`);
  // Split into turns, the result is still right: both sides are in the same epoch and can talk.
  assert.equal(processed.value.result.kind, 'commit');
  const sent = await made.value.pending.encrypt(utf8('after the yields'));
  const got = await processed.value.session.process(sent.message);
  assert.equal(got.result.kind, 'application');
  if (got.result.kind === 'application') assert.equal(fromUtf8(got.result.plaintext), 'after the yields');
});

test('with budget Infinity the engine never yields (what a worker or the CLI would choose)', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const { owner, peer, kps } = await groupWithJoiners(engine, 20);
  setYieldBudget(Infinity);
  const before = yieldCount();
  const out = await owner.add(kps);
  const processed = await peer.process(out.commit);
  assert.equal(processed.result.kind, 'commit');
  // Only Ed25519 verification (on the thread pool, node-crypto-suite.ts) still leaves the loop.
  assert.equal(yieldCount(), before);
});

test('budget 0 yields before every crypto call, so even a small operation spans many turns', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const { owner, peer } = await groupWithJoiners(engine, 1);
  setYieldBudget(0);
  let turns = 0;
  let spinning = true;
  const spin = () => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  const sent = await owner.encrypt(utf8('hello'));
  const got = await peer.process(sent.message);
  spinning = false;
  assert.equal(got.result.kind, 'application');
  // An encrypt + decrypt makes well over ten crypto calls (HKDF steps, AEAD, signature).
  assert.ok(turns >= 10, `only ${turns} event-loop turns during an encrypt + decrypt`);
});

/** A fake suite recording calls; every entry point is asynchronous, as in ts-mls's interface. */
function fakeSuite(log: string[]): CiphersuiteImpl {
  const fn = (name: string) =>
    async function (this: unknown, ...args: unknown[]) {
      log.push(name);
      if (args[0] === 'boom') throw new Error(`${name} failed`);
      return { name, args, self: this };
    };
  return {
    name: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
    rng: { randomBytes: (n: number) => new Uint8Array(n) },
    hash: { digest: fn('digest'), mac: fn('mac'), verifyMac: fn('verifyMac') },
    kdf: { extract: fn('extract'), expand: fn('expand'), size: 32 },
    signature: { sign: fn('sign'), verify: fn('verify'), keygen: fn('keygen') },
    hpke: { seal: fn('seal'), open: fn('open'), keyLength: 16, nonceLength: 12 } as unknown as CiphersuiteImpl['hpke'],
  } as unknown as CiphersuiteImpl;
}

test('cooperative() keeps results, errors, `this` and the non-function fields of the suite', async () => {
  const log: string[] = [];
  const base = fakeSuite(log);
  const impl = cooperative(base);
  setYieldBudget(0);
  assert.equal(impl.kdf.size, 32);
  assert.equal(impl.hpke.keyLength, 16);
  assert.equal(impl.hpke.nonceLength, 12);
  assert.equal(impl.rng, base.rng, 'the synchronous rng is not wrapped');
  const r = (await impl.kdf.expand(new Uint8Array([1]), new Uint8Array(), 3)) as unknown as { name: string; args: unknown[]; self: unknown };
  assert.equal(r.name, 'expand');
  assert.equal(r.args[2], 3);
  assert.equal(r.self, base.kdf, 'called on the original group object');
  await assert.rejects(impl.signature.sign('boom' as unknown as Uint8Array, new Uint8Array()), /sign failed/);
  assert.deepEqual(log, ['expand', 'sign']);
});

test('side-by-side calls parked by one wait still resume one budget at a time (budget 0: one call per turn)', async () => {
  const log: string[] = [];
  const impl = cooperative(fakeSuite(log));
  setYieldBudget(0);
  let turn = 0;
  let spinning = true;
  const spin = () => {
    turn++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  const turnOfCall: number[] = [];
  const before = yieldCount();
  // Like ts-mls's Promise.all over the added members: all started in one turn.
  const calls = Array.from({ length: 50 }, () => impl.hash.digest(new Uint8Array()).then(() => turnOfCall.push(turn)));
  assert.equal(log.length, 0, 'with budget 0 nothing runs in the calling turn');
  await Promise.all(calls);
  spinning = false;
  assert.equal(log.length, 50);
  assert.equal(new Set(turnOfCall).size, 50, `calls shared turns: ${turnOfCall.join(',')}`);
  assert.equal(yieldCount() - before, 50, 'one shared wait per turn, not one per caller');
});

test('a budget that is not yet used up does not yield', async () => {
  const log: string[] = [];
  const impl = cooperative(fakeSuite(log));
  setYieldBudget(60_000);
  const before = yieldCount();
  for (let i = 0; i < 100; i++) await impl.hash.digest(new Uint8Array());
  assert.equal(yieldCount(), before);
  assert.equal(log.length, 100);
});

test('setYieldBudget rejects what is not a duration', () => {
  assert.throws(() => setYieldBudget(-1), RangeError);
  assert.throws(() => setYieldBudget(Number.NaN), RangeError);
  setYieldBudget(Infinity);
  assert.equal(yieldBudget(), Infinity);
});
