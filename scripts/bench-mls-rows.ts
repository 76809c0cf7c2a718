// The MLS rows of `npm run bench` (issue 13): our engine (node:crypto, cooperative yielding) against
// ts-mls's own WebCrypto provider measured in the same run, at 100 and 1,000 members, plus message
// and KeyPackage throughput and the main thread's event-loop delay during a 1,000-member commit,
// with the group in the worker thread (as the app runs it) and in the main thread.
// Also runnable alone: `BENCH_ONLY=mls npm run bench`.
//
// Sizes: BENCH_MEMBERS (100, median of `runs`: BENCH_MLS_RUNS, 5), BENCH_MLS_BIG (1000, one run each: the WebCrypto
// baseline alone takes ~15 s there on a loaded 2-core machine), BENCH_MSGS (1000 pairs, after 1000
// untimed: bench-mls.ts pairRates).

import { performance } from 'node:perf_hooks';
import { benchEventLoop, benchKeyPackages, benchMessages, benchMls, WARM_PAIRS, type MlsBench, type PairRates } from '../src-main/mls/bench-mls.js';
import { createMlsEngine } from '../src-main/mls/ts-mls-engine.js';
import { createSplitMlsEngine, DEFAULT_WORKER_FROM } from '../src-main/mls/split-engine.js';
import { yieldBudget } from '../src-main/mls/cooperative.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { loadPublishedTsMls } from './bench-mls-published.js';

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;
const ratio = (base: number, ours: number) => `${(base / ours).toFixed(1)}×`;

export async function mlsRows(engine: MlsEngine, opts: { members: number; bigMembers: number; runs: number; messages: number }): Promise<[string, string][]> {
  const started = performance.now();
  const rows: [string, string][] = [];
  // Two baselines: issue 13's, ts-mls as published with its WebCrypto provider (the ratio that
  // counts), and our own engine on the patched ts-mls but with that WebCrypto provider (what the
  // crypto provider alone gives: the patches speed up both sides of that one).
  const loaded = await loadPublishedTsMls();
  const published = 'missing' in loaded ? undefined : loaded;
  if ('missing' in loaded) rows.push(['ts-mls as published: not measured', loaded.missing]);
  const baseline = await createMlsEngine({ forceProvider: 'webcrypto' });
  const name = engine.provider;
  const pubName = published ? `ts-mls ${published.version} as published` : '';
  // A row against our engine on WebCrypto: in brackets under the main row, or the main row itself
  // when the published copy is missing.
  const second = (label: string) => (published ? `  (${label})` : label);

  // Commit / process / join: median of `runs` at the usual size, one run at the big one.
  for (const [n, runs] of [
    [opts.members, opts.runs],
    [opts.bigMembers, 1],
  ] as const) {
    if (n < 1) continue;
    const ours: MlsBench[] = [];
    const base: MlsBench[] = [];
    const pub: MlsBench[] = [];
    // One untimed run of each first, as for the messages below: otherwise whichever side runs
    // first pays for the JIT's first calls (ours did, ~10 ms of a 40 ms commit at 100 members).
    if (runs > 1) {
      await benchMls(n, engine);
      await benchMls(n, baseline);
      if (published) await published.bench(n);
    }
    // Interleaved, so a change in the machine's load during the rows falls on every side alike.
    for (let i = 0; i < runs; i++) {
      ours.push(await benchMls(n, engine));
      base.push(await benchMls(n, baseline));
      if (published) pub.push(await published.bench(n));
    }
    const med = (rs: MlsBench[], f: (r: MlsBench) => number) => rs.map(f).sort((x, y) => x - y)[Math.floor(rs.length / 2)];
    const how = runs > 1 ? `median of ${runs}` : 'one run';
    for (const [label, f, cpu] of [
      [`MLS commit adding ${n} members`, (r: MlsBench) => r.addMs, (r: MlsBench) => r.addCpuMs],
      [`MLS processing that commit (existing member)`, (r: MlsBench) => r.processMs, (r: MlsBench) => r.processCpuMs],
      [`MLS join from its Welcome (new member)`, (r: MlsBench) => r.joinMs, (r: MlsBench) => r.joinCpuMs],
    ] as const) {
      if (pub.length > 0) {
        rows.push([`${label}, ${name} / ${pubName} (WebCrypto) (${how}): faster by`, `${ms(med(ours, f))} / ${ms(med(pub, f))}: ${ratio(med(pub, f), med(ours, f))}`]);
        rows.push([`  (CPU time, all threads)`, `${ms(med(ours, cpu))} / ${ms(med(pub, cpu))}: ${ratio(med(pub, cpu), med(ours, cpu))}`]);
      }
      rows.push([second(`${label}, ${name} / our engine on WebCrypto, same patched ts-mls: faster by`), `${ms(med(ours, f))} / ${ms(med(base, f))}: ${ratio(med(base, f), med(ours, f))}`]);
    }
    rows.push([`  (commit / welcome size, ${n} members)`, `${(ours[0].commitBytes / 1024).toFixed(1)} KiB / ${(ours[0].welcomeBytes / 1024).toFixed(1)} KiB`]);
  }

  const msgs = await benchMessages(engine, opts.messages);
  const baseMsgs = await benchMessages(baseline, Math.min(opts.messages, 300));
  const pairs = `1 KB application message encrypt + decrypt, pairs per second after ${WARM_PAIRS} untimed`;
  const early = (ours: PairRates, theirs: PairRates) =>
    `${ours.earlyPairsPerSec.toFixed(0)} / ${theirs.earlyPairsPerSec.toFixed(0)}: ${ratio(ours.earlyPairsPerSec, theirs.earlyPairsPerSec)}`;
  if (published) {
    const pubMsgs = await published.messages(Math.min(opts.messages, 300));
    rows.push([`${pairs} (${name} / ${pubName})`, `${msgs.pairsPerSec.toFixed(0)} / ${pubMsgs.pairsPerSec.toFixed(0)}: ${ratio(msgs.pairsPerSec, pubMsgs.pairsPerSec)}`]);
    rows.push([`  (the same, pairs 201-700 of that run, while the JIT still compiles)`, early(msgs, pubMsgs)]);
  }
  rows.push([second(`${pairs} (${name} / our engine on WebCrypto)`), `${msgs.pairsPerSec.toFixed(0)} / ${baseMsgs.pairsPerSec.toFixed(0)}: ${ratio(msgs.pairsPerSec, baseMsgs.pairsPerSec)}`]);
  const kps = await benchKeyPackages(engine, 400);
  const baseKps = await benchKeyPackages(baseline, 200);
  if (published) {
    const pubKps = await published.keyPackages(200);
    rows.push([`KeyPackages generated per second (${name} / ${pubName})`, `${kps.perSec.toFixed(0)} / ${pubKps.perSec.toFixed(0)}: ${ratio(kps.perSec, pubKps.perSec)}`]);
  }
  rows.push([second(`KeyPackages generated per second (${name} / our engine on WebCrypto)`), `${kps.perSec.toFixed(0)} / ${baseKps.perSec.toFixed(0)}: ${ratio(kps.perSec, baseKps.perSec)}`]);

  // The worker thread (src-main/mls/split-engine.ts): the app runs groups of DEFAULT_WORKER_FROM
  // members or more there. `allInWorker` puts every group there, to show what a hop costs.
  const app = await createSplitMlsEngine();
  const allInWorker = await createSplitMlsEngine({ workerFrom: 0 });
  try {
    const workerMsgs = await benchMessages(allInWorker, Math.min(opts.messages, 500));
    rows.push([`  (pairs per second with the group in the worker thread, as the app runs groups of ${DEFAULT_WORKER_FROM}+ members; early window)`, `${workerMsgs.pairsPerSec.toFixed(0)}; ${workerMsgs.earlyPairsPerSec.toFixed(0)}`]);

    // The main thread while a big commit is made and then processed: in the worker (the app), and
    // in this thread with and without yielding.
    if (opts.bigMembers >= 1) {
      const n = opts.bigMembers;
      // The worker's own first big operations are its JIT's: one smaller round untimed first (this
      // thread's engine is warm from the rows above).
      await benchEventLoop(app, Math.min(n, 200));
      const inWorker = await benchEventLoop(app, n);
      const coop = await benchEventLoop(engine, n);
      const held = await benchEventLoop(engine, n, { yieldBudgetMs: Infinity });
      rows.push([`event-loop delay while a ${n}-member commit is made + processed, the group in the worker thread (the app): p99 / max`, `${ms(inWorker.p99)} / ${ms(inWorker.max)}`]);
      rows.push([`  the same in this thread, yielding every ${yieldBudget()} ms: p99 / max`, `${ms(coop.p99)} / ${ms(coop.max)} (${coop.yields} yields)`]);
      rows.push([`  the same in this thread without yielding: p99 / max`, `${ms(held.p99)} / ${ms(held.max)}`]);
      rows.push([`  (made + processed took: in the worker / here yielding / here not yielding)`, `${ms(inWorker.addMs + inWorker.processMs)} / ${ms(coop.addMs + coop.processMs)} / ${ms(held.addMs + held.processMs)}`]);
      rows.push([`  (restoring that ${(coop.stateBytes / 1024).toFixed(0)} KiB session blocks this thread: into the worker / here, + encode)`, `${ms(inWorker.handOffMs)} / ${ms(coop.handOffMs)}`]);
    }
  } finally {
    await app.close();
    await allInWorker.close();
  }
  rows.push(['  (the MLS rows took)', `${((performance.now() - started) / 1000).toFixed(0)} s`]);
  return rows;
}
