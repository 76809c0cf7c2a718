// Issue 17's figures for `npm run bench` (scripts/bench.ts prints them with the rest), and a
// standalone run of just these (`npx tsx scripts/bench-nodes.ts`): the provider on SQLite (one
// process, the baseline of the ratios) and on PostgreSQL with 1, 2 and 3 node processes on one
// database, all measured in the same run with bench-relay.ts's rooms and pairs (relaySide):
//   - relay to 10 recipients, messages accepted per second at 8 and 64 requests in flight;
//   - round trip send on A -> decrypted on B (Profiles), and the provider's share of it (HTTP send
//     -> push frame), p50 / p99;
//   - CPU over the relay rows: the provider's node processes, PostgreSQL's processes, this bench.
// The relay load is 3 rooms (as many as the most nodes) of 10 recipients each, run at once with the
// messages and requests in flight split between them, in every setup: room j's sender is on node
// j mod N and its recipients on the nodes after it in turn, so every node accepts messages and most
// pushes cross nodes (Profile A is on the first node, B on the second). Not one room's sender on
// every node: a room's messages accepted by several nodes at once conflict in PostgreSQL (the
// SERIALIZABLE transactions read and write the same room's rows) and run again, the worst case for
// nodes, and not what many rooms spread over nodes do. Each node is reached through its own TCP
// balancer of test/helpers/nodes.ts preferring that node (the SQLite provider through one too, so
// every setup pays the same proxy hop in this process); BENCH_NODES_DIRECT=1 connects to the nodes'
// own ports instead.
// Every setup runs at once and the timed rounds go through them in turn, reversed every other
// round, as compareRelay does: a change in the machine's load hits all alike. Figures are medians
// of the rounds, latencies pooled over them.
// The nodes run the provider's default write path (group commit). A send answered with a 5xx (on
// 2-3 nodes: a serialization failure that outlived the Store's reruns) is sent again with the same
// requestId, as the app's outbox would, and counted in its row. If a setup still fails (a send
// refused 8 times, deliveries missing after 60 s), the error is printed and it starts again on a
// fresh database with --write-path per-request, said in its label, as do the smaller setups.
// Sizes: BENCH_NODES_RELAY (messages per level of requests in flight per setup, default 1000),
// BENCH_NODES_RTT (round trips per setup, default 200), BENCH_NODES_ROUNDS (4), BENCH_NODES_COUNTS
// (node counts, default 1,2,3). Skipped, with the reason, without PostgreSQL's binaries (Debian's
// postgresql package) or the libpq module (node_modules/libpq, an optional dependency).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { createMlsEngine } from '../src-main/mls/ts-mls-engine.js';
import { balancer, startNodes, type Balancer } from '../test/helpers/nodes.js';
import { postgresBinDir, startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../test/helpers/provider-process.js';
import { BASELINE_ARGS, medianFigures, pct, relaySide, type CpuGroups, type RelayFigures, type RelaySide, type SideOptions } from './bench-relay.js';

export interface NodesSetupFigures {
  label: string;
  /** By requests in flight: medians over the rounds. */
  relay: Map<number, RelayFigures>;
  /** Sorted latencies (ms), pooled over the rounds. */
  rtt: number[];
  providerRtt: number[];
  /** Set when the setup failed in the timed rounds: its figures are then missing. */
  failed?: string;
}

export interface NodesComparison {
  sqlite: NodesSetupFigures;
  postgres: NodesSetupFigures[];
  /** What went wrong on the way (the grouped write path refused on PostgreSQL, and how). */
  notes: string[];
  rounds: number;
  direct: boolean;
}

/** Why the PostgreSQL rows cannot run on this machine, or undefined when they can. */
export function nodesUnavailable(): string | undefined {
  if (!postgresBinDir()) return "PostgreSQL's binaries (initdb, pg_ctl, psql) are not installed: Debian's postgresql package (scripts/ensure-system-deps.sh)";
  try {
    createRequire(import.meta.url)('libpq');
  } catch (e) {
    return `the libpq module (node_modules/libpq) does not load: ${(e as Error).message.split('\n')[0]} (install Debian's libpq-dev and run npm ci)`;
  }
  return undefined;
}

/** The PostgreSQL server's processes: the postmaster and its children (backends, WAL writer, ...). */
function postgresPids(pg: PostgresServer): number[] {
  let postmaster: number;
  try {
    postmaster = Number(fs.readFileSync(path.join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return [];
  }
  const pids = [postmaster];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(d));
    } catch {
      // gone in between
    }
  }
  return pids;
}

/** A provider's log lines that look like errors, for a report: the first with its stack, how many. */
function errorLines(output: string): string {
  const lines = output.split('\n');
  const first = lines.findIndex((l) => /error|fail|40001|serializ/i.test(l));
  if (first < 0) return '';
  let end = first + 1;
  while (end < lines.length && end < first + 12 && /^\s+at /.test(lines[end])) end++;
  const count = lines.filter((l) => /error|fail/i.test(l)).length;
  return [...lines.slice(first, end), `(${count} such lines in this node's log)`].join('\n');
}

interface Setup {
  label: string;
  /** Undefined when the setup never got ready (failed says why). */
  side?: RelaySide;
  stop(): Promise<void>;
  failed?: string;
}

/**
 * The SQLite provider and the PostgreSQL provider on each of `nodeCounts` nodes, measured in the
 * same rounds. Undefined figures never: a setup that fails is reported by `failed`.
 */
export async function benchNodes(
  engine: MlsEngine,
  opts: { relayCount: number; rttCount: number; inFlight: number[]; recipients: number; rounds?: number; nodeCounts?: number[]; direct?: boolean; retry?: boolean; log?: (line: string) => void },
): Promise<NodesComparison> {
  const t0 = Date.now();
  const log = (line: string) => opts.log?.(`[bench-nodes ${((Date.now() - t0) / 1000).toFixed(0)} s] ${line}`);
  const rounds = opts.rounds ?? 4;
  const nodeCounts = opts.nodeCounts ?? [1, 2, 3];
  const direct = opts.direct ?? false;
  const perRound = Math.max(1, Math.floor(opts.relayCount / rounds));
  const rttPerRound = Math.max(1, Math.floor(opts.rttCount / rounds));
  const warm = Math.min(200, perRound);
  // Deliveries that have not come 60 s after the last send will not come: a lost wake is a failure.
  // A send answered 500 (a serialization failure past the Store's reruns, seen with 2-3 nodes) is
  // sent again and counted in the row, as the app's outbox would, rather than ending the setup.
  // As many rooms as the most nodes, in every setup (the same load on SQLite and on 1, 2, 3 nodes).
  const rooms = Math.max(...nodeCounts);
  const sideOptions = (cpuGroups: CpuGroups): SideOptions => ({ recipients: opts.recipients, inFlight: opts.inFlight, perRound, rttPerRound, warm, rounds, cpuGroups, deliveryTimeoutMs: 60000, rooms, retryServerErrors: opts.retry ?? true });
  const closers: (() => unknown)[] = [];
  const balancers: Balancer[] = [];
  const setups: Setup[] = [];
  const notes: string[] = [];
  let pg: PostgresServer | undefined;
  // One balancer per node, each preferring its node (test/helpers/nodes.ts), or the nodes' own URLs.
  const entries = async (procs: ProviderProcess[]): Promise<string[]> => {
    if (direct) return procs.map((p) => p.url);
    const out: string[] = [];
    for (let i = 0; i < procs.length; i++) {
      const lb = await balancer(() => procs.map((p) => p.port), i);
      balancers.push(lb);
      out.push(lb.url);
    }
    return out;
  };
  try {
    // SQLite: --database given so that MIMI_TEST_POSTGRES in the environment cannot move it.
    const sqliteDir = tempDir('bench-nodes-sqlite');
    const sqlite = await startProviderProcess({ domain: 'bench.example', dataDir: sqliteDir, args: ['--database', `sqlite:${sqliteDir}`] });
    const sqliteSide = await relaySide(engine, await entries([sqlite]), sqlite.caPem, 'sqlite', sideOptions(() => ({ provider: [sqlite.child.pid!] })), closers);
    setups.push({ label: 'SQLite, one process', side: sqliteSide, stop: () => sqlite.stop() });
    log('SQLite provider ready');

    pg = await startPostgres({ name: 'bench_nodes', durable: true });
    const server = pg;
    let attempt = 0;
    // Group commit first; per-request when it fails (the label says which ran). The most nodes
    // first: where the grouped path fails it fails there (transactions of several nodes in
    // conflict), and then every PostgreSQL setup runs per-request, so the 1-2-3 rows compare nodes,
    // not write paths.
    let paths: ('grouped' | 'per-request')[] = ['grouped', 'per-request'];
    const pgSetups: Setup[] = [];
    for (const count of [...nodeCounts].sort((a, b) => b - a)) {
      for (const writePath of paths) {
        const db = server.createDatabase(`bench_n${count}_${attempt++}`);
        const nodes = await startNodes({
          domain: 'bench.example',
          dataDir: tempDir(`bench-nodes-${count}`),
          url: db,
          nodeIds: Array.from({ length: count }, (_, i) => `n${i + 1}`),
          args: writePath === 'grouped' ? [] : BASELINE_ARGS,
        });
        const stop = async () => {
          for (const n of nodes) await n.stop().catch(() => undefined);
        };
        const label = `PostgreSQL, ${count} node${count > 1 ? 's' : ''}${writePath === 'grouped' ? '' : ' (--write-path per-request)'}`;
        const groups: CpuGroups = () => ({ provider: nodes.map((n) => n.child.pid!), postgres: postgresPids(server) });
        // This attempt's rooms and streams: closed at once if it fails (a stream would keep reconnecting).
        const mine: (() => unknown)[] = [];
        try {
          // relaySide's untimed first runs are the load test of the write path too (64 in flight).
          const side = await relaySide(engine, await entries(nodes), nodes[0].caPem, `pg${count}${writePath === 'grouped' ? '' : 'p'}`, sideOptions(groups), mine);
          closers.push(...mine);
          pgSetups.unshift({ label, side, stop });
          log(`${label} ready`);
          break;
        } catch (e) {
          const logs = nodes.map((n) => errorLines(n.output())).filter(Boolean).join('\n');
          notes.push(`${label}: failed while warming up: ${(e as Error).message}${logs ? `; node logs:\n${logs}` : ''}`);
          log(notes[notes.length - 1]);
          for (const c of mine) await c();
          await stop();
          // Both paths failed: a row saying so, and the other setups still measured.
          if (writePath === 'per-request') pgSetups.unshift({ label, side: undefined, stop: async () => undefined, failed: `warming up: ${(e as Error).message}` });
          paths = ['per-request'];
        }
      }
    }
    setups.push(...pgSetups);

    for (let r = 0; r < rounds; r++) {
      const live = setups.filter((s) => !s.failed);
      for (const s of r % 2 === 0 ? live : live.reverse()) {
        try {
          await s.side!.round();
        } catch (e) {
          s.failed = `round ${r + 1}: ${(e as Error).message}`;
          notes.push(`${s.label}: failed in the timed ${s.failed}`);
        }
        log(`round ${r + 1}: ${s.label} done`);
      }
    }
    const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
    const figures = (s: Setup): NodesSetupFigures => ({
      label: s.label,
      relay: new Map(s.side ? opts.inFlight.map((n) => [n, medianFigures(s.side!.figures.get(n)!)]) : []),
      rtt: sorted(s.side?.rttLat ?? []),
      providerRtt: sorted(s.side?.prttLat ?? []),
      failed: s.failed,
    });
    return { sqlite: figures(setups[0]), postgres: setups.slice(1).map(figures), notes, rounds, direct };
  } finally {
    for (const c of closers) await c();
    for (const b of balancers) await b.close();
    for (const s of setups) await s.stop().catch(() => undefined);
    await pg?.stop();
  }
}

/** Table rows: each setup's figures with its ratio against SQLite's of the same run. */
export function nodesRows(c: NodesComparison, recipients: number): [string, string][] {
  const rows: [string, string][] = [];
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const n0 = (x: number) => x.toFixed(0);
  const how = c.direct ? 'devices on the nodes directly' : 'devices spread over the nodes through a TCP balancer each';
  rows.push([`provider on SQLite vs PostgreSQL nodes (bench-nodes.ts; ${how}; medians of ${c.rounds} rounds)`, 'figure (ratio to SQLite, this run)']);
  const cpu = (f: RelayFigures) =>
    f.cpu
      ? Object.entries(f.cpu)
          .map(([k, v]) => `${k} ${v.cores.toFixed(2)} cores, ${v.usPerMessage.toFixed(0)} µs/msg`)
          .join('; ')
      : '?';
  for (const s of [c.sqlite, ...c.postgres]) {
    if (s.failed) {
      rows.push([`${s.label}`, `failed: ${s.failed}`]);
      continue;
    }
    const base = s === c.sqlite;
    const ratio = (now: number, sqlite: number) => (base ? '' : ` (${(now / sqlite).toFixed(2)}×)`);
    for (const [inFlight, f] of s.relay) {
      const b = c.sqlite.relay.get(inFlight)!;
      rows.push([
        `${s.label}: relay to ${recipients} recipients, ${inFlight} in flight: messages in / deliveries out per second`,
        `${n0(f.messagesPerSec)}${ratio(f.messagesPerSec, b.messagesPerSec)} / ${n0(f.deliveriesPerSec)}${ratio(f.deliveriesPerSec, b.deliveriesPerSec)}`,
      ]);
      rows.push([`  (CPU during it: cores busy, CPU per message)`, cpu(f)]);
      if (f.retried) rows.push([`  (sends answered with a 5xx and sent again, over all rounds)`, String(f.retried)]);
    }
    rows.push([`${s.label}: round trip p50 / p99 (send on A -> decrypted on B)`, `${ms(pct(s.rtt, 50))}${ratio(pct(s.rtt, 50), pct(c.sqlite.rtt, 50))} / ${ms(pct(s.rtt, 99))}${ratio(pct(s.rtt, 99), pct(c.sqlite.rtt, 99))}`]);
    rows.push([
      `  (the provider alone: HTTP send -> push frame, p50 / p99)`,
      `${ms(pct(s.providerRtt, 50))}${ratio(pct(s.providerRtt, 50), pct(c.sqlite.providerRtt, 50))} / ${ms(pct(s.providerRtt, 99))}${ratio(pct(s.providerRtt, 99), pct(c.sqlite.providerRtt, 99))}`,
    ]);
  }
  for (const note of c.notes) rows.push(['  note', note.replace(/\n/g, ' | ')]);
  return rows;
}

/** The section as bench.ts prints it: the rows, or one row saying why it was skipped. */
export async function nodesSection(engine: MlsEngine, opts: { inFlight: number[]; recipients: number; log?: (line: string) => void }): Promise<[string, string][]> {
  const why = nodesUnavailable();
  if (why) return [['provider on 1, 2, 3 PostgreSQL nodes vs SQLite (bench-nodes.ts)', `skipped: ${why}`]];
  const c = await benchNodes(engine, {
    relayCount: Number(process.env.BENCH_NODES_RELAY ?? 1000),
    rttCount: Number(process.env.BENCH_NODES_RTT ?? 200),
    rounds: Number(process.env.BENCH_NODES_ROUNDS ?? 4),
    nodeCounts: (process.env.BENCH_NODES_COUNTS ?? '1,2,3').split(',').map(Number),
    direct: process.env.BENCH_NODES_DIRECT === '1',
    // BENCH_NODES_RETRY=0: a 5xx fails the setup (and shows the grouped path's failure on 2-3 nodes).
    retry: process.env.BENCH_NODES_RETRY !== '0',
    ...opts,
  });
  return nodesRows(c, opts.recipients);
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('scripts', 'bench-nodes.ts'))) {
  void (async () => {
    const t0 = Date.now();
    const engine = await createMlsEngine();
    // Progress on stderr: a run takes minutes, and longer on a busy machine.
    const rows = await nodesSection(engine, { inFlight: [8, Number(process.env.BENCH_RELAY_IN_FLIGHT ?? 64)], recipients: 10, log: (l) => console.error(l) });
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    console.log(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    process.exit(0);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
