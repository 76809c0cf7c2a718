// MLS cost figures for `npm run bench`: one commit adding n members, processed by an existing
// member, and one of the n joining from the resulting Welcome. Prints nothing; returns numbers.

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createMlsEngine } from './ts-mls-engine.js';
import { setYieldBudget, yieldBudget, yieldCount } from './cooperative.js';
import type { GeneratedKeyPackage, MlsEngine } from './engine.js';

export interface MlsBench {
  addMs: number;
  processMs: number;
  joinMs: number;
  /**
   * CPU time of the process (every thread: the WebCrypto baseline works on libuv's pool) for the
   * same three steps. On a loaded machine wall time favours whichever side runs more threads; CPU
   * time is the work itself.
   */
  addCpuMs: number;
  processCpuMs: number;
  joinCpuMs: number;
  commitBytes: number;
  welcomeBytes: number;
}

/** Wall and CPU milliseconds of `f`. */
export async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await f();
  const ms = performance.now() - t;
  const d = process.cpuUsage(c);
  return { value, ms, cpuMs: (d.user + d.system) / 1000 };
}

export async function benchMls(n = 100, engine?: MlsEngine): Promise<MlsBench> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`benchMls needs a positive member count, got ${n}`);
  const mls = engine ?? (await createMlsEngine());

  const { first, peerSession, joiners } = await setupGroup(mls, n, 'add');
  const add = await timed(() => first.pending.add(joiners.map((j) => j.kp.publicMessage)));
  const out = add.value;
  const processed = await timed(() => peerSession.process(out.commit));
  const joiner = joiners[joiners.length - 1];
  const join = await timed(() => mls.joinFromWelcome(joiner.keys, out.welcome!, joiner.kp, out.ratchetTree));
  return benchResult(add, processed, join, out.commit.length, out.welcome!.length);
}

type Timed = { ms: number; cpuMs: number };

/** The three timed steps as one MlsBench (also for scripts/bench-mls-published.ts). */
export function benchResult(add: Timed, processed: Timed, join: Timed, commitBytes: number, welcomeBytes: number): MlsBench {
  return {
    addMs: add.ms,
    processMs: processed.ms,
    joinMs: join.ms,
    addCpuMs: add.cpuMs,
    processCpuMs: processed.cpuMs,
    joinCpuMs: join.cpuMs,
    commitBytes,
    welcomeBytes,
  };
}

/** Setup (not timed): a two-member group and n fresh devices with one KeyPackage each. */
async function setupGroup(mls: MlsEngine, n: number, tag: string) {
  const owner = await mls.newDeviceKeys(`mimi://bench.example/d/${tag}-owner/1`);
  const peer = await mls.newDeviceKeys(`mimi://bench.example/d/${tag}-peer/1`);
  const [peerKp] = await mls.generateKeyPackages(peer, 1);
  const first = await (await mls.createGroup(owner, `mimi://bench.example/r/${tag}`)).add([peerKp.publicMessage]);
  const peerSession = await mls.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);
  const joiners: { keys: Awaited<ReturnType<MlsEngine['newDeviceKeys']>>; kp: GeneratedKeyPackage }[] = [];
  for (let i = 0; i < n; i++) {
    const keys = await mls.newDeviceKeys(`mimi://bench.example/d/${tag}${i}/1`);
    joiners.push({ keys, kp: (await mls.generateKeyPackages(keys, 1))[0] });
  }
  return { first, peerSession, joiners };
}

export interface PairRates {
  /** The steady rate: `count` pairs timed after WARM_PAIRS untimed ones. */
  pairsPerSec: number;
  /** Pairs 201-700 of the same run (what this row measured before stop 30), for comparison. */
  earlyPairsPerSec: number;
}

/** Pairs run before the steady window; the early window lies within them. */
export const WARM_PAIRS = 1000;
const EARLY_FROM = 200;
const EARLY_PAIRS = 500;

/**
 * Pairs per second of `pair` (one 1 KB message encrypted and decrypted), at the start and once
 * steady. Why two windows: the rate climbs for the first ~1,000 pairs of a process while the JIT
 * compiles the path, on both sides (ours 1,900 -> 3,400/s, ts-mls as published 290 -> 510/s on the
 * bench's 2-core VM, 300-pair windows); a window starting after 200 pairs measured mostly that
 * climb. The steady rate is what a running app has; the early one is printed beside it.
 */
export async function pairRates(pair: () => Promise<void>, count: number): Promise<PairRates> {
  const rate = async (n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await pair();
    return n / ((performance.now() - t) / 1000);
  };
  for (let i = 0; i < EARLY_FROM; i++) await pair();
  const earlyPairsPerSec = await rate(EARLY_PAIRS);
  for (let i = EARLY_FROM + EARLY_PAIRS; i < WARM_PAIRS; i++) await pair();
  return { pairsPerSec: await rate(count), earlyPairsPerSec };
}

/** 1 KB application messages between two members of one group: one encrypts, the other decrypts (pairRates). */
export async function benchMessages(engine: MlsEngine, count = 1000): Promise<PairRates> {
  const a = await engine.newDeviceKeys('mimi://bench.example/d/msg-a/1');
  const b = await engine.newDeviceKeys('mimi://bench.example/d/msg-b/1');
  const [kp] = await engine.generateKeyPackages(b, 1);
  const added = await (await engine.createGroup(a, 'mimi://bench.example/r/messages')).add([kp.publicMessage]);
  let sender = added.pending;
  let receiver = await engine.joinFromWelcome(b, added.welcome!, kp, added.ratchetTree);
  const body = new Uint8Array(1024).fill(7);
  return pairRates(async () => {
    const sent = await sender.encrypt(body);
    sender = sent.session;
    receiver = (await receiver.process(sent.message)).session;
  }, count);
}

/** KeyPackages generated per second for one device (what refilling the provider's stock costs). */
export async function benchKeyPackages(engine: MlsEngine, count = 200): Promise<{ perSec: number }> {
  const keys = await engine.newDeviceKeys('mimi://bench.example/d/kp/1');
  const t = performance.now();
  await engine.generateKeyPackages(keys, count);
  return { perSec: count / ((performance.now() - t) / 1000) };
}

export interface LoopBench {
  members: number;
  addMs: number;
  processMs: number;
  /** Event-loop delay while the commit is made, then processed by an existing member (ms). */
  p50: number;
  p99: number;
  max: number;
  /** Times the MLS work yielded to the event loop (cooperative.ts) in that span. */
  yields: number;
  /** encode() + restore() of the adder's new session: how long restoring it blocks this thread (the worker engine restores synchronously too). */
  handOffMs: number;
  stateBytes: number;
}

/**
 * What the rest of the main process (IPC, push streams, other accounts) waits while a commit
 * adding `n` members is made and then processed by another member of the group: the event-loop
 * delay histogram (1 ms resolution) over exactly those two operations. Setup is not measured.
 * `yieldBudgetMs` overrides the process-wide budget for the measured span (Infinity: no yielding).
 */
export async function benchEventLoop(engine: MlsEngine, n: number, opts: { yieldBudgetMs?: number } = {}): Promise<LoopBench> {
  const { first, peerSession, joiners } = await setupGroup(engine, n, 'loop');
  const budget = yieldBudget();
  if (opts.yieldBudgetMs !== undefined) setYieldBudget(opts.yieldBudgetMs);
  try {
    // The setup's garbage (a thousand device keys and KeyPackages made here) is collected first,
    // so a pause the measured operations did not cause is not counted against them.
    collectGarbage();
    const before = yieldCount();
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    // The histogram measures from its timer's first firing: let that happen before the work, or a
    // stall right at the start would be its baseline and never recorded (h.reset() restarts it).
    await new Promise((r) => setTimeout(r, 5));
    let t = performance.now();
    const out = await first.pending.add(joiners.map((j) => j.kp.publicMessage));
    const addMs = performance.now() - t;
    t = performance.now();
    await peerSession.process(out.commit);
    const processMs = performance.now() - t;
    // One more turn so a delay that ends with the processing is recorded.
    await new Promise((r) => setTimeout(r, 5));
    h.disable();
    const yields = yieldCount() - before;
    t = performance.now();
    const state = out.pending.encode();
    engine.restore(state);
    const handOffMs = performance.now() - t;
    return { members: n, addMs, processMs, p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, yields, handOffMs, stateBytes: state.length };
  } finally {
    setYieldBudget(budget);
  }
}

/** A full garbage collection of this thread's heap, now (the bench only: V8 exposes it on request). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}
