// The loopback round trip alone (send on Profile A -> decrypted at Profile B, one at a time; the
// same loop as bench-relay.ts part 2 / bench-federation.ts roundTrips), for working on the
// client's share of it:
//   npx tsx scripts/bench-rtt.ts [COUNT] [ROUNDS]
// Two pairs of this checkout take turns, both on the app's engine (src-main/mls/split-engine.ts):
// 'now' with the room's MLS in the main thread (as the app runs a group of fewer than 100 members),
// 'worker' with it in the worker thread (as the app runs larger groups).
// Also, in the same rounds: the provider's share (bench-relay.ts providerRoundTripPair: HTTP send
// -> push frame, no MLS, no core), so the clients' share is the difference.
// BENCH_RTT_PREVIOUS=<dir>: a second pair of Profiles whose client code (src-main, its ts-mls under
// <dir>/node_modules) comes from another checkout (e.g. a worktree of HEAD), on the same provider
// process, in this process, rounds alternating: a before/after of a client change in one run.
// BENCH_RTT_TRACE=1: each round trip of this checkout's pair broken into steps (wall time between
// marks, medians), by wrapping client methods from outside; the trace costs a little of its own.
// BENCH_RTT_PAUSED=<n>: also n round trips each after a 1.5 s pause, on this provider (its idle
// connections kept 75 s) and on one started with `--keep-alive 1`, which closes them as Node's
// default 5 s did for any longer pause: what a conversation's next message pays for a new TLS
// connection. Takes about 3 s per round trip pair.
// The process CPU per round trip (user + system of this process: both cores and the bench) is
// printed per round, so computing and waiting can be told apart.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startProviderProcess } from '../test/helpers/provider-process.js';
import { profilePair, providerRoundTripPair } from './bench-relay.js';
import type { Profile } from '../src-main/core/profile.js';
import type { MessageView } from '../src-shared/contract.js';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

type Marks = Map<string, number>;
let cur: Marks | undefined;
const mark = (name: string, into: Marks | undefined = cur) => {
  if (into && !into.has(name)) into.set(name, performance.now());
};

function wrap(proto: object, name: string, before: string, after: string): void {
  const p = proto as Record<string, (...a: unknown[]) => unknown>;
  const orig = p[name];
  if (typeof orig !== 'function') throw new Error(`no method ${name} to trace`);
  p[name] = function (this: unknown, ...args: unknown[]) {
    // The end goes to the round trip the call began in (B's processing ends after the event).
    const into = cur;
    mark(before, into);
    const r = orig.apply(this, args);
    if (r instanceof Promise) return r.finally(() => mark(after, into));
    mark(after, into);
    return r;
  };
}

async function installTrace(root: string): Promise<void> {
  const { Outbox } = await import(path.join(root, 'src-main/core/outbox.ts'));
  const { IncomingEvents } = await import(path.join(root, 'src-main/core/incoming.ts'));
  const { ProviderClient } = await import(path.join(root, 'src-main/net/provider-client.ts'));
  const { PushConnection } = await import(path.join(root, 'src-main/net/push-connection.ts'));
  wrap(Outbox.prototype, 'pump', 'A pump start', 'A pump end');
  wrap(Outbox.prototype, 'encrypt', 'A encrypt start', 'A encrypt done');
  wrap(ProviderClient.prototype, 'sendMessage', 'A POST start', 'A POST answered');
  // Only the first call of a round trip counts (mark keeps the first): B's, as A gets nothing
  // before B has the message (B's delivery receipt comes later, batched for a second).
  wrap(IncomingEvents.prototype, 'onGroupMessage', 'B process start', 'B stored');
  const emit = PushConnection.prototype.emit;
  PushConnection.prototype.emit = function (this: unknown, ev: string, ...args: unknown[]) {
    if (ev === 'event') mark('B push frame');
    return emit.call(this, ev, ...args);
  };
}

/** Two Profiles of the client code under `root`, in one room on the provider at `url`; `worker`: every group's MLS in the worker thread. */
async function clientPair(root: string, url: string, caPem: string, tag: string, worker = false) {
  const { Profile: P } = (await import(path.join(root, 'src-main/core/profile.ts'))) as { Profile: typeof Profile };
  const { createMlsEngine } = await import(path.join(root, 'src-main/mls/ts-mls-engine.ts'));
  // This checkout's pairs use the app's engine: a two-member room in the main thread, or (`worker`)
  // every group in the worker. A previous checkout's pair uses its plain engine.
  const split = worker || root === HERE ? await import(path.join(root, 'src-main/mls/split-engine.ts')) : undefined;
  const engine = split ? await split.createSplitMlsEngine(worker ? { workerFrom: 0 } : {}) : await createMlsEngine();
  const pair = await profilePair(P, engine, url, caPem, tag);
  const { a, b } = pair;
  const room = { roomUri: pair.roomUri };
  let n = 0;
  return {
    engine,
    async run(count: number, traced = false): Promise<{ lat: number[]; steps: Map<string, number[]> }> {
      const lat: number[] = [];
      const steps = new Map<string, number[]>();
      for (let i = 0; i < count; i++) {
        const text = `${tag} ${n++}`;
        const got = new Promise<void>((resolve) => {
          const on = (m: MessageView) => {
            if (m.text === text) {
              b.off('message', on);
              resolve();
            }
          };
          b.on('message', on);
        });
        if (traced) cur = new Map();
        const t0 = performance.now();
        cur?.set('send', t0);
        await a.send(room.roomUri, text);
        mark('A send returned');
        await got;
        const t1 = performance.now();
        lat.push(t1 - t0);
        if (cur) {
          cur.set('B message event', t1);
          await new Promise((r) => setImmediate(r)); // B's processing returns after its event
          const names = [...cur].sort((x, y) => x[1] - y[1]);
          for (let k = 1; k < names.length; k++) {
            const key = `${names[k - 1][0]} -> ${names[k][0]}`;
            steps.set(key, [...(steps.get(key) ?? []), names[k][1] - names[k - 1][1]]);
          }
          cur = undefined;
        }
      }
      return { lat, steps };
    },
    close: pair.close,
  };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 300);
  const rounds = Number(process.argv[3] ?? 3);
  const trace = process.env.BENCH_RTT_TRACE === '1';
  const previous = process.env.BENCH_RTT_PREVIOUS ? path.resolve(process.env.BENCH_RTT_PREVIOUS) : undefined;
  const provider = await startProviderProcess({ domain: 'bench.example' });
  // 'now': MLS in this thread (the app's small groups, and the CLI); 'worker': in the worker thread.
  const sides = [{ name: 'now', root: HERE }, { name: 'worker', root: HERE, worker: true }, ...(previous ? [{ name: 'previous', root: previous }] : [])];
  const pairs = new Map<string, Awaited<ReturnType<typeof clientPair>>>();
  let prtt: Awaited<ReturnType<typeof providerRoundTripPair>> | undefined;
  try {
    for (const s of sides) pairs.set(s.name, await clientPair(s.root, provider.url, provider.caPem, `rtt${s.name}`, 'worker' in s));
    prtt = await providerRoundTripPair(pairs.get('now')!.engine, provider.url, provider.caPem, 100 + rounds * count, 'prtt');
    await prtt.run(100);
    for (const p of pairs.values()) await p.run(100); // JIT, TLS sessions, prepared statements
    if (trace) await installTrace(HERE);
    const lat = new Map<string, number[]>([...sides.map((s) => [s.name, []] as [string, number[]]), ['provider share', []]]);
    const steps = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const got = await pairs.get(s.name)!.run(count, trace && s.name === 'now');
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        lat.get(s.name)!.push(...got.lat);
        for (const [k, v] of got.steps) steps.set(k, [...(steps.get(k) ?? []), ...v]);
        const sorted = [...got.lat].sort((x, y) => x - y);
        console.log(`round ${r} ${s.name}: p50 ${pct(sorted, 50).toFixed(2)} ms, p99 ${pct(sorted, 99).toFixed(2)} ms; CPU of this process per round trip ${((cpu.user + cpu.system) / 1000 / count).toFixed(2)} ms (wall ${(wall / count).toFixed(2)} ms)`);
      }
      lat.get('provider share')!.push(...(await prtt.run(count)));
    }
    for (const [name, xs] of lat) {
      xs.sort((x, y) => x - y);
      console.log(`${name} (${xs.length}): p50 ${pct(xs, 50).toFixed(2)} ms, p90 ${pct(xs, 90).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms`);
    }
    if (previous) {
      const a = lat.get('now')!;
      const b = lat.get('previous')!;
      console.log(`ratio previous / now: p50 ${(pct(b, 50) / pct(a, 50)).toFixed(2)}x, p99 ${(pct(b, 99) / pct(a, 99)).toFixed(2)}x`);
    }
    if (trace) {
      console.log('steps of the traced round trips (p50 / p90 of each gap, how often that gap occurred):');
      const rows = [...steps].map(([k, v]) => [k, v.sort((x, y) => x - y)] as const).sort((x, y) => y[1].length - x[1].length || pct(y[1], 50) - pct(x[1], 50));
      for (const [k, v] of rows) console.log(`  ${pct(v, 50).toFixed(3).padStart(8)} ms  ${pct(v, 90).toFixed(3).padStart(8)}  (${v.length}x)  ${k}`);
    }
    const paused = Number(process.env.BENCH_RTT_PAUSED ?? 0);
    if (paused > 0) await pausedRoundTrips(paused, pairs.get('now')!);
  } finally {
    prtt?.close();
    for (const p of pairs.values()) await p.close();
    await provider.stop();
  }
}

/** Round trips after a pause, with the connection kept (this provider) and closed (`--keep-alive 1`), taking turns. */
async function pausedRoundTrips(count: number, kept: Awaited<ReturnType<typeof clientPair>>): Promise<void> {
  const closing = await startProviderProcess({ domain: 'short.example', args: ['--keep-alive', '1'] });
  const closed = await clientPair(HERE, closing.url, closing.caPem, 'rttclosed');
  try {
    await closed.run(100); // JIT, statements; the TLS session cache is warm as in the app
    const lat = { kept: [] as number[], closed: [] as number[] };
    for (let i = 0; i < count; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      const order = i % 2 === 0 ? (['kept', 'closed'] as const) : (['closed', 'kept'] as const);
      for (const side of order) lat[side].push(...(await (side === 'kept' ? kept : closed).run(1)).lat);
    }
    for (const side of ['kept', 'closed'] as const) {
      const xs = lat[side].sort((x, y) => x - y);
      console.log(`after a 1.5 s pause, connection ${side === 'kept' ? 'kept (75 s)' : 'closed (--keep-alive 1, as Node\'s 5 s default for longer pauses)'}: p50 ${pct(xs, 50).toFixed(2)} ms, p90 ${pct(xs, 90).toFixed(2)} ms (${xs.length})`);
    }
  } finally {
    await closed.close();
    await closing.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
