// Where the time of a 100-member add goes (issue 13: the one ratio still short of its target), for
// working on it:   npx tsx scripts/bench-mls-phases.ts [MEMBERS] [RUNS]
// Our engine as the bench runs it (node:crypto, this thread, verification on libuv's pool). Each
// run adds MEMBERS fresh KeyPackages to a two-member group, then the other member processes the
// commit. Per run, from outside the engine (node:crypto's functions wrapped before the engine
// loads them; nothing in the app is instrumented):
//   - wall time, CPU time of the process (every thread), this thread's busy time (event-loop
//     utilisation) and so its idle time waiting for the pool, garbage-collection pauses;
//   - the phases: until the last signature check answered (the KeyPackages' checks), until the
//     first HPKE seal, the seals, and the rest (encoding the commit and Welcome, the GroupInfo);
//   - how many Ed25519 checks, signatures and X25519 operations ran, and what those cost at the
//     unit prices measured at the start (so the crypto's share is known without a profiler, whose
//     sampling of native frames overstates them on this VM).
// Medians over RUNS (default 15) after 3 untimed.

import { createRequire, syncBuiltinESMExports } from 'node:module';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import type * as NodeCrypto from 'node:crypto';

const require = createRequire(import.meta.url);
const nodeCrypto = require('node:crypto') as typeof NodeCrypto;

interface Marks {
  verifies: number;
  lastVerifyDone: number;
  signs: number;
  dh: number;
  dhMs: number;
  firstDh: number;
  lastDh: number;
  keyImports: number;
}
const fresh = (): Marks => ({ verifies: 0, lastVerifyDone: 0, signs: 0, dh: 0, dhMs: 0, firstDh: 0, lastDh: 0, keyImports: 0 });
let marks = fresh();

// Wrapped before the engine's modules load, so their imports of node:crypto bind to these.
const { verify, sign, diffieHellman, createPrivateKey } = nodeCrypto;
nodeCrypto.verify = function (this: unknown, ...args: unknown[]) {
  marks.verifies++;
  const cb = args[4];
  if (typeof cb === 'function')
    args[4] = (err: unknown, ok: boolean) => {
      marks.lastVerifyDone = performance.now();
      (cb as (e: unknown, ok: boolean) => void)(err, ok);
    };
  else marks.lastVerifyDone = performance.now();
  return (verify as (...a: unknown[]) => unknown).apply(this, args);
} as typeof verify;
nodeCrypto.sign = function (this: unknown, ...args: unknown[]) {
  marks.signs++;
  return (sign as (...a: unknown[]) => unknown).apply(this, args);
} as typeof sign;
nodeCrypto.diffieHellman = function (this: unknown, ...args: unknown[]) {
  const t = performance.now();
  marks.firstDh ||= t;
  try {
    return (diffieHellman as (...a: unknown[]) => unknown).apply(this, args);
  } finally {
    marks.lastDh = performance.now();
    marks.dhMs += marks.lastDh - t;
    marks.dh++;
  }
} as typeof diffieHellman;
nodeCrypto.createPrivateKey = function (this: unknown, ...args: unknown[]) {
  // An X25519 private key imported from JWK: the ephemeral key of a seal (its public half is a
  // scalar multiplication, done by OpenSSL at import).
  marks.keyImports++;
  return (createPrivateKey as (...a: unknown[]) => unknown).apply(this, args);
} as typeof createPrivateKey;
syncBuiltinESMExports();

const { createMlsEngine } = await import('../src-main/mls/ts-mls-engine.js');

const members = Number(process.argv[2] ?? 100);
const runs = Number(process.argv[3] ?? 15);
const WARM = 3;

/** Unit prices on this machine now: µs per call, synchronously, after a warm-up. */
function unitPrices() {
  const ed = nodeCrypto.generateKeyPairSync('ed25519');
  const x = [0, 1].map(() => nodeCrypto.generateKeyPairSync('x25519'));
  const msg = nodeCrypto.randomBytes(400);
  const sig = sign(null, msg, ed.privateKey);
  const d = x[0].privateKey.export({ format: 'jwk' }).d!;
  const each = (f: () => unknown, n = 2000) => {
    for (let i = 0; i < 200; i++) f();
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t) / n) * 1000;
  };
  return {
    verifyUs: each(() => verify(null, msg, ed.publicKey, sig)),
    signUs: each(() => sign(null, msg, ed.privateKey)),
    dhUs: each(() => diffieHellman({ privateKey: x[0].privateKey, publicKey: x[1].publicKey })),
    x25519ImportUs: each(() => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: '' }, format: 'jwk' })),
  };
}

interface Run {
  t0: number;
  t1: number;
  wall: number;
  cpu: number;
  busy: number;
  gc: number;
  checksDone: number;
  firstSeal: number;
  seals: number;
  after: number;
  m: Marks;
}

// GC entries arrive after the fact: kept with their times, and summed per run at the end.
const gcPauses: { start: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });

async function measured(op: () => Promise<unknown>): Promise<Run> {
  marks = fresh();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await op();
  const t1 = performance.now();
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  const m = { ...marks };
  const sealed = m.dh > 0;
  return {
    t0,
    t1,
    wall: t1 - t0,
    cpu: (cpu.user + cpu.system) / 1000,
    busy: elu.active,
    gc: 0,
    checksDone: m.lastVerifyDone ? m.lastVerifyDone - t0 : 0,
    firstSeal: sealed ? m.firstDh - t0 : 0,
    seals: sealed ? m.lastDh - m.firstDh : 0,
    after: sealed ? t1 - m.lastDh : 0,
    m,
  };
}

const prices = unitPrices();
const engine = await createMlsEngine({ forceProvider: 'node' });
const adds: Run[] = [];
const processes: Run[] = [];
for (let r = 0; r < WARM + runs; r++) {
  const owner = await engine.newDeviceKeys(`mimi://bench.example/d/owner${r}/1`);
  const peer = await engine.newDeviceKeys(`mimi://bench.example/d/peer${r}/1`);
  const [peerKp] = await engine.generateKeyPackages(peer, 1);
  const first = await (await engine.createGroup(owner, `mimi://bench.example/r/phases${r}`)).add([peerKp.publicMessage]);
  const peerSession = await engine.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);
  const kps: Uint8Array[] = [];
  for (let i = 0; i < members; i++) {
    const keys = await engine.newDeviceKeys(`mimi://bench.example/d/r${r}j${i}/1`);
    kps.push((await engine.generateKeyPackages(keys, 1))[0].publicMessage);
  }
  let commit: Uint8Array | undefined;
  const add = await measured(async () => {
    commit = (await first.pending.add(kps)).commit;
  });
  const proc = await measured(() => peerSession.process(commit!));
  if (r >= WARM) {
    adds.push(add);
    processes.push(proc);
  }
}

await new Promise((r) => setTimeout(r, 50));
for (const r of [...adds, ...processes]) r.gc = gcPauses.filter((g) => g.start >= r.t0 && g.start < r.t1).reduce((sum, g) => sum + g.ms, 0);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (x: number) => x.toFixed(1).padStart(6);
function report(name: string, rs: Run[]): void {
  const med = (g: (r: Run) => number) => median(rs.map(g));
  const m = rs[0].m;
  console.log(`\n${name} (${members} members; medians of ${rs.length} runs, each figure on its own, so they need not add up):`);
  console.log(`  wall ${f(med((r) => r.wall))} ms   CPU, all threads ${f(med((r) => r.cpu))} ms   this thread busy ${f(med((r) => r.busy))} ms, waiting ${f(med((r) => r.wall - r.busy))} ms   GC pauses (mean) ${f(rs.reduce((sum, r) => sum + r.gc, 0) / rs.length)} ms`);
  if (m.dh > 0)
    console.log(
      `  phases: last signature check answered at ${f(med((r) => r.checksDone))} ms; first seal at ${f(med((r) => r.firstSeal))} ms; seals ${f(med((r) => r.seals))} ms (X25519 calls in them ${f(med((r) => r.m.dhMs))} ms); after the seals ${f(med((r) => r.after))} ms`,
    );
  else console.log(`  last signature check answered at ${f(med((r) => r.checksDone))} ms`);
  const verifyCpu = (m.verifies * prices.verifyUs) / 1000;
  const signCpu = (m.signs * prices.signUs) / 1000;
  // Per seal: the ephemeral key (an import that multiplies the base point) and one DH.
  const x25519Cpu = (m.dh * prices.dhUs + m.keyImports * prices.x25519ImportUs) / 1000;
  console.log(
    `  crypto at unit prices: ${m.verifies} Ed25519 checks ${f(verifyCpu)} ms (on the pool), ${m.signs} signatures ${f(signCpu)} ms, ${m.dh} X25519 DH + ${m.keyImports} key imports ${f(x25519Cpu)} ms; the rest of the CPU ${f(med((r) => r.cpu) - verifyCpu - signCpu - x25519Cpu)} ms`,
  );
}

console.log(
  `unit prices now (µs, synchronous): Ed25519 check ${prices.verifyUs.toFixed(0)}, signature ${prices.signUs.toFixed(0)}, X25519 DH ${prices.dhUs.toFixed(0)}, X25519 private key import (JWK) ${prices.x25519ImportUs.toFixed(0)}`,
);
report('commit adding them', adds);
report('processing that commit (existing member)', processes);
