// Provider relay figures for `npm run bench` (scripts/bench.ts prints them with the rest), and a
// standalone run of just these (`npx tsx scripts/bench-relay.ts`), each against a baseline measured
// in the same run: the same provider started with `--write-path per-request` (every accepted
// message its own transaction, one push frame per write: the code path before issue 13). Both
// providers run side by side and the timed rounds alternate between them (ABBA...), so a change in
// the machine's load during the run (it is shared) hits both alike; each figure is the median of
// its rounds, latencies are pooled over them.
//   1. relay: one sender, 10 recipient devices on raw push streams that only count (decrypting 10
//      clients in this one process would measure the bench, not the provider), at 8 and at 64
//      requests in flight (one sender's outbox / many senders' worth of load).
//      The same relay with the messages sent in batches (ROUTES.sendMessageBatch: BENCH_RELAY_BATCHES,
//      default 16x4,64x4 = batches of 16 and of 64 messages, 4 batches in flight), on the provider as
//      it runs by default only, in the same rounds, compared with its per-message rows.
//   2. round trip: Profile A sends, Profile B has it decrypted (the whole path, both cores included).
//   3. the provider's share of it: HTTP send -> push frame at the recipient, no MLS, no core.
// Set PROVIDER_NODE_ARGS=--cpu-prof (see test/helpers/provider-process.ts) to profile the provider.
// BENCH_RELAY_PREVIOUS=<dir>: a third provider, started from another checkout of this repo (its
// src-provider and test/helpers; e.g. the code before a change, the rest symlinked here) on its
// default path, runs the batched rows in the same alternating rounds: a before/after of a change
// measured in one run ("previous code" rows), and its round trips in the same rounds.
// The batched rows also give the CPU time (Linux: /proc) each provider process and this bench process
// spent per message, over the timed rounds: the bench's 10 push streams share the machine's cores.

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Profile } from '../src-main/core/profile.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { createMlsEngine } from '../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../src-main/net/provider-client.js';
import { PushConnection } from '../src-main/net/push-connection.js';
import { fromB64, toB64, utf8 } from '../src-shared/bytes.js';
import { newRoomUri } from '../src-shared/identifiers.js';
import { startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../test/helpers/provider-process.js';
import { roundTrips } from './bench-federation.js';

export interface RelayFigures {
  messagesPerSec: number;
  deliveriesPerSec: number;
  /** CPU time of the provider process per message (µs), when known (Linux). */
  providerCpuUs?: number;
  /** CPU time of this bench process per message (µs): sender and push streams. */
  benchCpuUs?: number;
  /** CPU by process group (CpuGroups), with "bench" for this process, when asked for. */
  cpu?: Record<string, CpuShare>;
  /** Sends answered with a 5xx and sent again (retryServerErrors), when asked for. */
  retried?: number;
}

/** CPU time (ms: user + system) a process has used, from /proc; undefined elsewhere. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** `run` with the provider's and this process's CPU time per message added to its figures. */
async function withCpu(pid: number | undefined, count: number, run: () => Promise<RelayFigures>): Promise<RelayFigures> {
  const p0 = processCpuMs(pid);
  const b0 = process.cpuUsage();
  const f = await run();
  const p1 = processCpuMs(pid);
  const b = process.cpuUsage(b0);
  return { ...f, providerCpuUs: p0 === undefined || p1 === undefined ? undefined : ((p1 - p0) * 1000) / count, benchCpuUs: (b.user + b.system) / count };
}

/**
 * Processes whose CPU time a measurement reports, by label (bench-nodes.ts: "nodes", "postgres"),
 * asked for at each measurement because a PostgreSQL server's backends come and go.
 */
export type CpuGroups = () => Record<string, number[]>;

/** A group's CPU over a measurement: per message, and in cores (CPU time / wall time). */
export interface CpuShare {
  usPerMessage: number;
  cores: number;
}

/** `run` with the CPU of each group in `groups()` and of this process ("bench") added to its figures. */
async function withCpuGroups(groups: CpuGroups, count: number, run: () => Promise<RelayFigures>): Promise<RelayFigures> {
  const sum = (pids: number[]) => pids.reduce<number | undefined>((t, pid) => (t === undefined ? undefined : ((c) => (c === undefined ? undefined : t + c))(processCpuMs(pid))), 0);
  const g0 = groups();
  const before = Object.fromEntries(Object.entries(g0).map(([k, pids]) => [k, sum(pids)]));
  const b0 = process.cpuUsage();
  const t0 = performance.now();
  const f = await run();
  const wallMs = performance.now() - t0;
  const b = process.cpuUsage(b0);
  const cpu: Record<string, CpuShare> = {};
  // The same pids as at the start: a process that exited in between would make the sum unknown.
  for (const [k, pids] of Object.entries(g0)) {
    const t1 = sum(pids);
    const t = before[k];
    if (t !== undefined && t1 !== undefined) cpu[k] = { usPerMessage: ((t1 - t) * 1000) / count, cores: (t1 - t) / wallMs };
  }
  cpu.bench = { usPerMessage: (b.user + b.system) / count, cores: (b.user + b.system) / 1000 / wallMs };
  return { ...f, cpu };
}

/**
 * Where devices connect: one provider URL, or several (the nodes of one provider, bench-nodes.ts),
 * device k then on urls[k % length]. A room's sender is device 0 and its recipients 1, 2, ...
 */
export type Urls = string | readonly string[];
export const urlOf = (urls: Urls, k: number): string => (typeof urls === 'string' ? urls : urls[k % urls.length]);

/** The provider process arguments of the baseline (the write path before issue 13). */
export const BASELINE_ARGS = ['--write-path', 'per-request'];

export const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

async function benchDevice(engine: MlsEngine, url: string, caPem: string, handle: string) {
  const client = new ProviderClient({ baseUrl: url, caPem });
  const session = await client.register({ handle, password: 'bench-password', deviceName: 'bench' });
  return { client, session, keys: await engine.newDeviceKeys(session.deviceUri) };
}

/**
 * A sender's room with `members` devices, and `total` messages encrypted beforehand (the figures are
 * the provider's, not MLS's). With several `urls` the members are spread over them (urlOf).
 */
async function senderRoom(engine: MlsEngine, urls: Urls, caPem: string, members: number, total: number, tag: string) {
  const url = urlOf(urls, 0);
  const sender = await benchDevice(engine, url, caPem, `${tag}-s`);
  const roomUri = newRoomUri(new URL(sender.session.userUri).host);
  await sender.client.createRoom({ roomUri });
  const tokens: string[] = [];
  const users: string[] = [];
  for (let i = 0; i < members; i++) {
    const r = await benchDevice(engine, urlOf(urls, i + 1), caPem, `${tag}-r${i}`);
    const [kp] = await engine.generateKeyPackages(r.keys, 1);
    await r.client.uploadKeyPackages({ keyPackages: [toB64(kp.publicMessage)] });
    r.client.close();
    users.push(r.session.userUri);
    tokens.push(r.session.token);
  }
  const claim = await sender.client.claim({ roomUri, users });
  const out = await (await engine.createGroup(sender.keys, roomUri)).add(claim.results.flatMap((r) => r.clients.map((c) => fromB64(c.keyPackage!))));
  await sender.client.commit(roomUri, { commit: toB64(out.commit), welcome: toB64(out.welcome!), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), addUsers: users, requestId: `${tag}-add` });
  let group = out.pending;
  const messages: string[] = [];
  for (let i = 0; i < total; i++) {
    const r = await group.encrypt(utf8(`${tag} ${i}`));
    group = r.session;
    messages.push(toB64(r.message));
  }
  return { client: sender.client, roomUri, tokens, messages };
}

/** A relay room on the provider at `url`; each run() sends the next `count` of its `total` messages. */
export async function relayRoom(engine: MlsEngine, urls: Urls, caPem: string, total: number, recipients: number, tag = 'relay', deliveryTimeoutMs = 300000, retryServerErrors = false) {
  // A 5xx sent again (same requestId, so never delivered twice), as the app's outbox does: counted.
  let retried = 0;
  const send = async (client: ProviderClient, roomUri: string, message: string, requestId: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.sendMessage(roomUri, { message, requestId });
        return;
      } catch (e) {
        if (!retryServerErrors || !(e instanceof ProviderError) || e.status < 500 || attempt >= 8) throw e;
        retried++;
        await new Promise((r) => setTimeout(r, 5 * attempt));
      }
    }
  };
  const room = await senderRoom(engine, urls, caPem, recipients, total, tag);
  const streams = room.tokens.map((token, i) => {
    const s = { push: new PushConnection({ baseUrl: urlOf(urls, i + 1), caPem, token }), got: 0 };
    s.push.on('event', (ev) => {
      if (ev.kind === 'message') s.got++;
      s.push.confirm(ev.seq);
    });
    s.push.start(0);
    return s;
  });
  await waitFor(() => streams.every((s) => s.push.state === 'online'), 'push streams online');
  let used = 0;
  return {
    async run(count: number, inFlight: number): Promise<RelayFigures> {
      if (used + count > total) throw new Error(`relay room ${tag}: ${total - used} messages left, ${count} asked`);
      const first = used;
      used += count;
      const before = streams.map((s) => s.got);
      const retried0 = retried;
      const t0 = performance.now();
      let next = first;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < first + count) {
            const i = next++;
            await send(room.client, room.roomUri, room.messages[i], `${tag}-${i}`);
          }
        }),
      );
      const sentSecs = (performance.now() - t0) / 1000;
      await waitFor(() => streams.every((s, k) => s.got - before[k] >= count), 'all deliveries', deliveryTimeoutMs);
      const secs = (performance.now() - t0) / 1000;
      if (streams.some((s, k) => s.got - before[k] !== count)) throw new Error(`deliveries: ${streams.map((s, k) => s.got - before[k]).join(', ')} of ${count} each`);
      return { messagesPerSec: count / sentSecs, deliveriesPerSec: (count * recipients) / secs, ...(retryServerErrors ? { retried: retried - retried0 } : {}) };
    },
    /** The next `count` messages in batches of `size` (one request each), `inFlight` batches at once. */
    async runBatched(count: number, size: number, inFlight: number): Promise<RelayFigures> {
      if (used + count > total) throw new Error(`relay room ${tag}: ${total - used} messages left, ${count} asked`);
      const first = used;
      used += count;
      const before = streams.map((s) => s.got);
      const t0 = performance.now();
      let next = first;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < first + count) {
            const from = next;
            next = Math.min(first + count, from + size);
            const messages = room.messages.slice(from, next).map((message, k) => ({ roomId: room.roomUri, message, requestId: `${tag}-${from + k}` }));
            const { results } = await room.client.sendMessageBatch({ messages });
            const refused = results.find((r) => 'error' in r);
            if (refused) throw new Error(`relay room ${tag}: a batch entry was refused: ${JSON.stringify(refused)}`);
          }
        }),
      );
      const sentSecs = (performance.now() - t0) / 1000;
      await waitFor(() => streams.every((s, k) => s.got - before[k] >= count), 'all deliveries', deliveryTimeoutMs);
      const secs = (performance.now() - t0) / 1000;
      if (streams.some((s, k) => s.got - before[k] !== count)) throw new Error(`deliveries: ${streams.map((s, k) => s.got - before[k]).join(', ')} of ${count} each`);
      return { messagesPerSec: count / sentSecs, deliveriesPerSec: (count * recipients) / secs };
    },
    close(): void {
      for (const s of streams) s.push.stop();
      room.client.close();
    },
  };
}

/**
 * The provider's share of the round trip: a prepared message sent (HTTP POST) by one device until
 * its push frame arrives at the other, one at a time, without MLS or either core; run() gives
 * `n` latencies (ms).
 */
export async function providerRoundTripPair(engine: MlsEngine, urls: Urls, caPem: string, total: number, tag = 'prtt') {
  const room = await senderRoom(engine, urls, caPem, 1, total, tag);
  const push = new PushConnection({ baseUrl: urlOf(urls, 1), caPem, token: room.tokens[0] });
  let arrived: ((payload: string) => void) | undefined;
  push.on('event', (ev) => {
    push.confirm(ev.seq);
    if (ev.kind === 'message') arrived?.(ev.payload);
  });
  push.start(0);
  await waitFor(() => push.state === 'online', 'push stream online');
  let used = 0;
  return {
    async run(n: number): Promise<number[]> {
      const lat: number[] = [];
      for (const message of room.messages.slice(used, used + n)) {
        const got = new Promise<void>((resolve) => (arrived = (p) => p === message && resolve()));
        const t0 = performance.now();
        await room.client.sendMessage(room.roomUri, { message, requestId: `${tag}-${used++}` });
        await got;
        lat.push(performance.now() - t0);
      }
      return lat;
    },
    close(): void {
      push.stop();
      room.client.close();
    },
  };
}

/**
 * Two Profiles on the provider at `url`, alice-like A and bob-like B in one room. `P` is the
 * Profile class to use: this checkout's, or another checkout's for a before/after (bench-rtt.ts).
 */
export async function profilePair(P: typeof Profile, engine: MlsEngine, urls: Urls, caPem: string, tag: string) {
  const profiles: Profile[] = [];
  const account = async (handle: string, providerUrl: string) => {
    const p = await P.register(path.join(tempDir(`bench-${handle}`), 'p'), { providerUrl, caPem, handle, password: 'bench-password', deviceName: 'bench' }, { engine, secretMode: 'plaintext' });
    profiles.push(p);
    await p.start();
    return p;
  };
  // With several URLs (nodes), A is on the first and B on the second: the message crosses nodes.
  const a = await account(`${tag}-a`, urlOf(urls, 0));
  const b = await account(`${tag}-b`, urlOf(urls, 1));
  const room = await a.createRoom(tag);
  await a.addMember(room.roomUri, `${tag}-b`);
  await waitFor(() => b.rooms().length === 1, 'b joins');
  return {
    a,
    b,
    roomUri: room.roomUri,
    async close(): Promise<void> {
      for (const p of profiles) await p.close().catch(() => undefined);
    },
  };
}

/** profilePair of this checkout; run() gives `n` round trips A -> B (ms). */
export async function roundTripPair(engine: MlsEngine, urls: Urls, caPem: string, tag = 'rtt') {
  const pair = await profilePair(Profile, engine, urls, caPem, tag);
  let round = 0;
  return {
    run: (n: number): Promise<number[]> => roundTrips(pair.a, pair.b, pair.roomUri, n, `${tag} ${round++}`),
    close: pair.close,
  };
}

/** Batched relay rows: batches of `size` messages, `inFlight` batch requests at once. */
export interface RelayBatching {
  size: number;
  inFlight: number;
}

/** The batched rows measured unless asked otherwise (BENCH_RELAY_BATCHES in the standalone run). */
export const DEFAULT_BATCHES: RelayBatching[] = [
  { size: 16, inFlight: 4 },
  { size: 64, inFlight: 4 },
];

/** "16x4,64x4" -> batches of 16 and 64, 4 in flight each. */
export function parseBatches(spec: string): RelayBatching[] {
  return spec
    .split(',')
    .filter((x) => x.trim())
    .map((x) => {
      const [size, inFlight] = x.split('x').map(Number);
      if (!(size >= 1 && inFlight >= 1)) throw new Error(`BENCH_RELAY_BATCHES: ${JSON.stringify(x)} is not SIZExIN_FLIGHT`);
      return { size, inFlight };
    });
}

export interface RelayComparison {
  /** By requests in flight at once: medians over the rounds. */
  relay: Map<number, { now: RelayFigures; base: RelayFigures }>;
  /** The batched path (provider as it runs by default), in the same rounds: medians. */
  batched: { batching: RelayBatching; figures: RelayFigures }[];
  /** The same batched rows on the previous code (BENCH_RELAY_PREVIOUS), if asked for. */
  previous?: { batching: RelayBatching; figures: RelayFigures }[];
  /** The previous code's round trips and provider share (sorted, ms), if asked for. */
  previousRtt?: number[];
  previousProviderRtt?: number[];
  /** Sorted latencies (ms), pooled over the rounds. */
  rtt: number[];
  baseRtt: number[];
  /** The provider's share alone (providerRoundTripPair). */
  providerRtt: number[];
  baseProviderRtt: number[];
  rounds: number;
}

/** What one side of a comparison measures, and how much per round. */
export interface SideOptions {
  recipients: number;
  /** Per-message relay rooms, one per level of requests in flight. */
  inFlight: number[];
  /** Batched relay rooms. */
  batches?: RelayBatching[];
  perRound: number;
  rttPerRound: number;
  /** Messages of the untimed first run of each relay room (JIT, TLS sessions). */
  warm: number;
  rounds: number;
  /** The provider process: CPU per message of the batched rows (withCpu). */
  pid?: number;
  /** Process groups whose CPU the per-message rows report (withCpuGroups). */
  cpuGroups?: CpuGroups;
  /** How long a relay run waits for its last deliveries before it fails (default 300 s). */
  deliveryTimeoutMs?: number;
  /** Per-message sends answered with a 5xx are sent again and counted (RelayFigures.retried). */
  retryServerErrors?: boolean;
  /**
   * Rooms per level of requests in flight (default 1), run at once with the messages and the
   * requests in flight split between them; room j's sender is on urls[j] (bench-nodes.ts: a room per
   * node, as many rooms spread over the nodes would be).
   */
  rooms?: number;
}

/** One provider's rooms and pairs, warmed up; round() runs one timed round and keeps its figures. */
export interface RelaySide {
  /** By requests in flight: one figure per round. */
  figures: Map<number, RelayFigures[]>;
  batchRooms: { batching: RelayBatching; figures: RelayFigures[] }[];
  rttLat: number[];
  prttLat: number[];
  round(): Promise<void>;
}

/**
 * The relay rooms, provider round-trip pair and Profile pair of one provider (at `urls`: one URL,
 * or its nodes'), each run once untimed. Whatever needs closing is pushed on `closers`.
 */
export async function relaySide(engine: MlsEngine, urls: Urls, caPem: string, tag: string, o: SideOptions, closers: (() => unknown)[]): Promise<RelaySide> {
  const roomCount = o.rooms ?? 1;
  // Room j starts at urls[j]: its sender there, its recipients on the next ones.
  const from = (j: number): Urls => (typeof urls === 'string' ? urls : urls.map((_, k) => urlOf(urls, j + k)));
  const relay = new Map<number, { run: (count: number, inFlight: number) => Promise<RelayFigures> }>();
  for (const n of o.inFlight) {
    const rs: Awaited<ReturnType<typeof relayRoom>>[] = [];
    for (let j = 0; j < roomCount; j++) {
      // runRooms gives room 0 the largest share of each run.
      const total = Math.ceil(o.warm / roomCount) + o.rounds * Math.ceil(o.perRound / roomCount);
      const r = await relayRoom(engine, from(j), caPem, total, o.recipients, `${tag}-relay${n}${roomCount > 1 ? `-${j}` : ''}`, o.deliveryTimeoutMs, o.retryServerErrors);
      closers.push(() => r.close());
      rs.push(r);
    }
    relay.set(n, rs.length === 1 ? rs[0] : { run: (count, inFlight) => runRooms(rs, o.recipients, count, inFlight) });
  }
  // The batched rows: a room of their own each, with its own counting push streams.
  const batchRooms: { batching: RelayBatching; room: Awaited<ReturnType<typeof relayRoom>>; figures: RelayFigures[] }[] = [];
  for (const b of o.batches ?? []) {
    const r = await relayRoom(engine, urls, caPem, o.warm + o.rounds * o.perRound, o.recipients, `${tag}-batch${b.size}x${b.inFlight}`, o.deliveryTimeoutMs);
    closers.push(() => r.close());
    batchRooms.push({ batching: b, room: r, figures: [] });
  }
  const prtt = await providerRoundTripPair(engine, urls, caPem, 2 * o.rttPerRound + o.rounds * o.rttPerRound, `${tag}-prtt`);
  closers.push(() => prtt.close());
  const rtt = await roundTripPair(engine, urls, caPem, `${tag}-rtt`);
  closers.push(() => rtt.close());
  for (const [n, r] of relay) await r.run(o.warm, n);
  for (const b of batchRooms) await b.room.runBatched(o.warm, b.batching.size, b.batching.inFlight);
  await prtt.run(2 * o.rttPerRound);
  await rtt.run(o.rttPerRound);
  const side: RelaySide = {
    figures: new Map<number, RelayFigures[]>(o.inFlight.map((n) => [n, []])),
    batchRooms,
    rttLat: [],
    prttLat: [],
    async round() {
      for (const [n, room] of relay) {
        const run = () => room.run(o.perRound, n);
        side.figures.get(n)!.push(await (o.cpuGroups ? withCpuGroups(o.cpuGroups, o.perRound, run) : run()));
      }
      for (const b of batchRooms) b.figures.push(await withCpu(o.pid, o.perRound, () => b.room.runBatched(o.perRound, b.batching.size, b.batching.inFlight)));
      side.prttLat.push(...(await prtt.run(o.rttPerRound)));
      side.rttLat.push(...(await rtt.run(o.rttPerRound)));
    },
  };
  return side;
}

/**
 * `count` messages over `rooms` at once, the messages and requests in flight split between them;
 * the rates of the whole (all rooms started together: the slowest one's time is the whole's).
 */
async function runRooms(rooms: { run: (count: number, inFlight: number) => Promise<RelayFigures> }[], recipients: number, count: number, inFlight: number): Promise<RelayFigures> {
  const share = (total: number, j: number) => Math.floor(total / rooms.length) + (j < total % rooms.length ? 1 : 0);
  const parts = rooms.map((r, j) => ({ count: share(count, j), inFlight: Math.max(1, share(inFlight, j)), r }));
  const figures = await Promise.all(parts.map((p) => (p.count ? p.r.run(p.count, p.inFlight) : undefined)));
  // Each room's send time and time to its last delivery, back from its rates.
  const sendSecs = Math.max(...figures.map((f, j) => (f ? parts[j].count / f.messagesPerSec : 0)));
  const allSecs = Math.max(...figures.map((f, j) => (f ? (parts[j].count * recipients) / f.deliveriesPerSec : 0)));
  const retried = figures.some((f) => f?.retried !== undefined) ? figures.reduce((t, f) => t + (f?.retried ?? 0), 0) : undefined;
  return { messagesPerSec: count / sendSecs, deliveriesPerSec: (count * recipients) / allSecs, ...(retried !== undefined ? { retried } : {}) };
}

/** The medians of a row's figures over the rounds (each CPU group's too). */
export function medianFigures(xs: RelayFigures[]): RelayFigures {
  const medOf = (ys: (number | undefined)[]) => (ys.every((y) => y !== undefined) && ys.length ? median(ys as number[]) : undefined);
  const groups = [...new Set(xs.flatMap((x) => Object.keys(x.cpu ?? {})))];
  const cpu: Record<string, CpuShare> = {};
  for (const g of groups) {
    const us = medOf(xs.map((x) => x.cpu?.[g]?.usPerMessage));
    const cores = medOf(xs.map((x) => x.cpu?.[g]?.cores));
    if (us !== undefined && cores !== undefined) cpu[g] = { usPerMessage: us, cores };
  }
  return {
    messagesPerSec: median(xs.map((x) => x.messagesPerSec)),
    deliveriesPerSec: median(xs.map((x) => x.deliveriesPerSec)),
    providerCpuUs: medOf(xs.map((x) => x.providerCpuUs)),
    benchCpuUs: medOf(xs.map((x) => x.benchCpuUs)),
    ...(groups.length ? { cpu } : {}),
    // Not a median: every retry over the rounds.
    ...(xs.some((x) => x.retried !== undefined) ? { retried: xs.reduce((t, x) => t + (x.retried ?? 0), 0) } : {}),
  };
}

/**
 * The relay (at each level of `inFlight`), the round trip and the provider's share of it, on a
 * provider as it runs by default and on one with the baseline write path: both processes run at
 * once, rounds alternate between them, one untimed round each first (JIT, TLS sessions).
 */
export async function compareRelay(engine: MlsEngine, opts: { relayCount: number; recipients: number; rttCount: number; inFlight: number[]; rounds?: number; batches?: RelayBatching[]; previousRoot?: string }): Promise<RelayComparison> {
  const rounds = opts.rounds ?? 4;
  const batchings = opts.batches ?? DEFAULT_BATCHES;
  const perRound = Math.max(1, Math.floor(opts.relayCount / rounds));
  const rttPerRound = Math.max(1, Math.floor(opts.rttCount / rounds));
  const warm = Math.min(200, perRound);
  const providers: ProviderProcess[] = [];
  const closers: (() => unknown)[] = [];
  try {
    const side = async (args: string[], tag: string, batched: RelayBatching[] = [], start = startProviderProcess, perMessage = true) => {
      const p = await start({ domain: 'bench.example', args });
      providers.push(p);
      const o: SideOptions = { recipients: opts.recipients, inFlight: perMessage ? opts.inFlight : [], batches: batched, perRound, rttPerRound, warm, rounds, pid: p.child.pid };
      return relaySide(engine, p.url, p.caPem, tag, o, closers);
    };
    const base = await side(BASELINE_ARGS, 'base');
    const now = await side([], 'new', batchings);
    const previousStart = opts.previousRoot
      ? ((await import(path.resolve(opts.previousRoot, 'test/helpers/provider-process.ts'))) as { startProviderProcess: typeof startProviderProcess }).startProviderProcess
      : undefined;
    const prev = previousStart ? await side([], 'prev', batchings, previousStart, false) : undefined;
    for (let r = 0; r < rounds; r++) {
      const sides = prev ? [base, now, prev] : [base, now];
      for (const s of r % 2 === 0 ? sides : sides.reverse()) await s.round();
    }
    const med = medianFigures;
    const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
    return {
      relay: new Map(opts.inFlight.map((n) => [n, { now: med(now.figures.get(n)!), base: med(base.figures.get(n)!) }])),
      batched: now.batchRooms.map((b) => ({ batching: b.batching, figures: med(b.figures) })),
      previous: prev?.batchRooms.map((b) => ({ batching: b.batching, figures: med(b.figures) })),
      previousRtt: prev && sorted(prev.rttLat),
      previousProviderRtt: prev && sorted(prev.prttLat),
      rtt: sorted(now.rttLat),
      baseRtt: sorted(base.rttLat),
      providerRtt: sorted(now.prttLat),
      baseProviderRtt: sorted(base.prttLat),
      rounds,
    };
  } finally {
    for (const c of closers) await c();
    for (const p of providers) await p.stop();
  }
}

/** Table rows: figure, baseline, ratio. */
export function relayRows(c: RelayComparison, recipients: number): [string, string][] {
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const vs = (now: number, base: number, f: (x: number) => string, better: 'higher' | 'lower') =>
    `${f(now)} (baseline ${f(base)}: ${(better === 'higher' ? now / base : base / now).toFixed(2)}×)`;
  const n = (x: number) => x.toFixed(0);
  const rows: [string, string][] = [
    ['round trip p50 (send -> decrypted at recipient)', vs(pct(c.rtt, 50), pct(c.baseRtt, 50), ms, 'lower')],
    ['round trip p99', vs(pct(c.rtt, 99), pct(c.baseRtt, 99), ms, 'lower')],
    ['  (the provider alone: HTTP send -> push frame at the recipient, p50)', vs(pct(c.providerRtt, 50), pct(c.baseProviderRtt, 50), ms, 'lower')],
    ['  (the provider alone, p99)', vs(pct(c.providerRtt, 99), pct(c.baseProviderRtt, 99), ms, 'lower')],
  ];
  for (const [inFlight, r] of c.relay) {
    rows.push([`provider relay to ${recipients} recipients, ${inFlight} requests in flight: messages in per second (median of ${c.rounds})`, vs(r.now.messagesPerSec, r.base.messagesPerSec, n, 'higher')]);
    rows.push([`provider relay to ${recipients} recipients, ${inFlight} requests in flight: deliveries out per second`, vs(r.now.deliveriesPerSec, r.base.deliveriesPerSec, n, 'higher')]);
  }
  // Batched: against the per-message rows of the same provider in the same rounds.
  const perMessage = [...c.relay].map(([inFlight, r]) => ({ inFlight, f: r.now }));
  const against = (now: number, pick: (f: RelayFigures) => number) =>
    perMessage.map(({ inFlight, f }) => `per message, ${inFlight} in flight: ${n(pick(f))}, ${(now / pick(f)).toFixed(2)}×`).join('; ');
  for (const { batching: b, figures: f } of c.batched) {
    const what = `provider relay to ${recipients} recipients, batches of ${b.size}, ${b.inFlight} in flight`;
    rows.push([`${what}: messages in per second (median of ${c.rounds})`, `${n(f.messagesPerSec)} (${against(f.messagesPerSec, (x) => x.messagesPerSec)})`]);
    rows.push([`${what}: deliveries out per second`, `${n(f.deliveriesPerSec)} (${against(f.deliveriesPerSec, (x) => x.deliveriesPerSec)})`]);
    const p = c.previous?.find((x) => x.batching.size === b.size && x.batching.inFlight === b.inFlight);
    if (p) rows.push([`${what}: the previous code (BENCH_RELAY_PREVIOUS), messages in per second`, `${n(p.figures.messagesPerSec)} (now ${(f.messagesPerSec / p.figures.messagesPerSec).toFixed(2)}× that)`]);
    const us = (x: number | undefined) => (x === undefined ? '?' : `${x.toFixed(0)} µs`);
    if (f.providerCpuUs !== undefined) {
      const prevCpu = p?.figures.providerCpuUs !== undefined ? `; previous code ${us(p.figures.providerCpuUs)}, now ${(p.figures.providerCpuUs / f.providerCpuUs).toFixed(2)}× less` : '';
      rows.push([`${what}: CPU per message, provider process`, `${us(f.providerCpuUs)}${prevCpu}`]);
      rows.push([`${what}: CPU per message, this bench process (sender, 10 push streams)`, us(f.benchCpuUs)]);
    }
  }
  if (c.previousRtt?.length && c.previousProviderRtt?.length) {
    rows.push(['round trip p50 / p99, the previous code (BENCH_RELAY_PREVIOUS)', `${ms(pct(c.previousRtt, 50))} / ${ms(pct(c.previousRtt, 99))} (now ${(pct(c.previousRtt, 50) / pct(c.rtt, 50)).toFixed(2)}× / ${(pct(c.previousRtt, 99) / pct(c.rtt, 99)).toFixed(2)}× less)`]);
    rows.push(['  (the provider alone, p50 / p99), the previous code', `${ms(pct(c.previousProviderRtt, 50))} / ${ms(pct(c.previousProviderRtt, 99))} (now ${(pct(c.previousProviderRtt, 50) / pct(c.providerRtt, 50)).toFixed(2)}× / ${(pct(c.previousProviderRtt, 99) / pct(c.providerRtt, 99)).toFixed(2)}× less)`]);
  }
  return rows;
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('scripts', 'bench-relay.ts'))) {
  void (async () => {
    const engine = await createMlsEngine();
    const recipients = 10;
    const c = await compareRelay(engine, {
      relayCount: Number(process.env.BENCH_RELAY ?? 2000),
      recipients,
      rttCount: Number(process.env.BENCH_RTT ?? 300),
      inFlight: [8, Number(process.env.BENCH_RELAY_IN_FLIGHT ?? 64)],
      batches: process.env.BENCH_RELAY_BATCHES === undefined ? DEFAULT_BATCHES : parseBatches(process.env.BENCH_RELAY_BATCHES),
      previousRoot: process.env.BENCH_RELAY_PREVIOUS || undefined,
    });
    const rows = relayRows(c, recipients);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    process.exit(0);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
