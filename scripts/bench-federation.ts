// Federation figures for `npm run bench` (scripts/bench.ts prints them with the rest):
//   1. cross-provider round trip: two real provider processes (a.example hub, b.example follower,
//      each with its own data dir and dev CA, --peer/--trust to each other, no relay in between)
//      and two real Profiles; send at a.example -> decrypted at b.example, one at a time.
//   2. fanout throughput hub -> follower, bulk /notify versus one FanoutMessage per request: the
//      hub runs in this process (startProvider, so `fanout.batching` can be set), the follower is a
//      real provider process. N application messages are accepted by the hub at once, then we time
//      until the hub's outbox is empty, i.e. until the follower answered 201 for every one of them
//      (it answers 201 only after its transaction queued them for its device). bench.ts also runs
//      the previous path as the baseline (FANOUT_BASELINE: one request in flight, 64 messages per
//      request, no sequence headers, follower started with `--write-path per-request`), and each
//      figure also gives the CPU time per message of the follower process and of the hub.
//   3. KeyPackage claims for 100 users of b.example: one bulk request versus 100 requests, via
//      a.example's KeyMaterialService.claimForRoom (signing at A, verify + claim at B, verify and
//      ref recording at A), B a real provider process with seeded users.

import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Profile } from '../src-main/core/profile.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { ProviderClient } from '../src-main/net/provider-client.js';
import type { MessageView } from '../src-shared/contract.js';
import { fromB64, toB64, utf8 } from '../src-shared/bytes.js';
import { deviceUri as mkDeviceUri, newRoomUri, userUri as mkUserUri } from '../src-shared/identifiers.js';
import { ensureDevCa } from '../src-provider/dev-ca.js';
import { mimiEndpoints } from '../src-provider/federation/endpoints.js';
import type { FanoutOutboxOptions } from '../src-provider/federation/fanout-outbox.js';
import { Follower } from '../src-provider/federation/follower.js';
import { GroupInfoService } from '../src-provider/federation/group-info.js';
import { KeyMaterialService } from '../src-provider/federation/key-material.js';
import { ensureProviderIdentity } from '../src-provider/federation/provider-identity.js';
import type { S2sDeps, S2sHandler } from '../src-provider/federation/s2s-handler.js';
import type { Hub } from '../src-provider/hub.js';
import { KeyPackages } from '../src-provider/key-packages.js';
import { startProvider, type RunningProvider } from '../src-provider/server.js';
import { DB_FILE, openStore } from '../src-provider/store.js';
import { startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../test/helpers/provider-process.js';

const PASSWORD = 'bench-password';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Prepared {
  domain: string;
  dataDir: string;
  caFile: string;
  caPem: string;
  port: number;
  url: string;
}

/** Data dir, dev CA and port exist before anything starts, so each side can be told to trust the other. */
async function prepare(domain: string): Promise<Prepared> {
  const dataDir = tempDir(`bench-fed-${domain}`);
  const ca = await ensureDevCa(dataDir, domain);
  const port = await freePort();
  return { domain, dataDir, caFile: path.join(dataDir, 'ca.pem'), caPem: ca.caPem, port, url: `https://127.0.0.1:${port}` };
}

/**
 * A provider process federating with exactly `peer`, the way an operator starts one. With
 * `--consent open` where the provider has that option (users of other providers may then add its
 * users without asking first: the bench measures delivery, not the consent exchange); a provider
 * without it refuses the unknown option at start-up, and is then started without it.
 */
async function startPeerProcess(me: Prepared, peer: Prepared, extraArgs: string[] = []): Promise<ProviderProcess> {
  const args = ['--peer', `${peer.domain}=${peer.url}`, '--trust', peer.caFile, ...extraArgs];
  const start = (extra: string[]) => startProviderProcess({ domain: me.domain, dataDir: me.dataDir, port: me.port, args: [...args, ...extra] });
  try {
    return await start(['--consent', 'open']);
  } catch (e) {
    if (!/exited with 2\b[\s\S]*--consent/.test((e as Error).message)) throw e;
    return start([]);
  }
}

interface InProcess {
  running: RunningProvider;
  hub: Hub;
  km: KeyMaterialService;
  logs: string[];
}

/**
 * An in-process provider federating with `peer`. Its s2s handler is the default stack
 * (mimiEndpoints with a Follower, key material and group info), built from the provider's own
 * objects so the bench can reach its Hub and KeyMaterialService.
 */
async function startInProcess(me: Prepared, peer: Prepared, batching?: boolean, fanout: Pick<FanoutOutboxOptions, 'maxBatchMessages' | 'maxInFlight' | 'pipelining'> = {}): Promise<InProcess> {
  const logs: string[] = [];
  let hub: Hub | undefined;
  let km: KeyMaterialService | undefined;
  const running = await startProvider({
    domain: me.domain,
    port: me.port,
    dataDir: me.dataDir,
    log: (m) => logs.push(m),
    federation: { peers: { [peer.domain]: peer.url }, trustPem: [peer.caPem] },
    ...(batching === undefined ? {} : { fanout: { batching, ...fanout } }),
    s2s: (deps: S2sDeps): S2sHandler => {
      hub = deps.hub;
      const identity = ensureProviderIdentity(me.dataDir, deps.domain);
      km = new KeyMaterialService({ domain: deps.domain, store: deps.store, keyPackages: new KeyPackages(deps.store, deps.domain), peerClient: deps.peerClient, identity });
      const gi = new GroupInfoService({ domain: deps.domain, store: deps.store, peerClient: deps.peerClient, identity });
      const follower = new Follower({ domain: deps.domain, store: deps.store, peerClient: deps.peerClient, seenLog: deps.seenLog });
      return mimiEndpoints({
        domain: deps.domain,
        hub: deps.hub,
        follower,
        services: { keyMaterial: (p, param, body) => km!.serve(p, param, body), groupInfo: (p, param, body) => gi.serve(p, param, body) },
      });
    },
  });
  return { running, hub: hub!, km: km!, logs };
}

function checkLogs(p: InProcess): void {
  const bad = p.logs.filter((l) => l.includes('internal error') || l.includes('failed'));
  if (bad.length) throw new Error(`${p.running.domain} logged problems:\n${bad.join('\n')}`);
}

/** Read-only look into a provider process's database (WAL: safe while it runs). */
function countRows(dataDir: string, sql: string, ...params: unknown[]): number {
  const db = new Database(path.join(dataDir, DB_FILE), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
}

// ---- 1. cross-provider round trip ----------------------------------------------------------

/** `count` messages from `from`, one at a time, each timed until `to` has decrypted it; sorted latencies in ms. */
export async function roundTrips(from: Profile, to: Profile, roomUri: string, count: number, label: string): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const text = `${label} ${i}`;
    const got = new Promise<void>((resolve) => {
      const on = (m: MessageView) => {
        if (m.text === text) {
          to.off('message', on);
          resolve();
        }
      };
      to.on('message', on);
    });
    const t0 = performance.now();
    await from.send(roomUri, text);
    await got;
    lat.push(performance.now() - t0);
  }
  return lat.sort((x, y) => x - y);
}

export async function benchFederatedRoundTrip(engine: MlsEngine, count: number): Promise<number[]> {
  const a = await prepare('a.example');
  const b = await prepare('b.example');
  const [pa, pb] = await Promise.all([startPeerProcess(a, b), startPeerProcess(b, a)]);
  const profiles: Profile[] = [];
  const account = async (p: ProviderProcess, handle: string) => {
    const dir = path.join(tempDir(`bench-fed-${handle}`), 'p');
    const prof = await Profile.register(dir, { providerUrl: p.url, caPem: p.caPem, handle, password: PASSWORD, deviceName: 'bench' }, { engine, secretMode: 'plaintext' });
    profiles.push(prof);
    await prof.start();
    return prof;
  };
  try {
    const alice = await account(pa, 'fed-alice');
    const bob = await account(pb, 'fed-bob');
    const room = await alice.createRoom('federated rtt');
    await alice.addMember(room.roomUri, 'fed-bob@b.example');
    await waitFor(() => bob.rooms().length === 1, 'bob@b.example joins the a.example room');
    return await roundTrips(alice, bob, room.roomUri, count, 'fed rtt');
  } finally {
    for (const p of profiles) await p.close().catch(() => undefined);
    await Promise.all([pa.stop(), pb.stop()]);
  }
}

// ---- 2. fanout throughput hub -> follower --------------------------------------------------

export interface FanoutFigures {
  batching: boolean;
  messages: number;
  /** Timed bursts of `messages` each; `ms` (and `requests`) are those of the median burst. */
  bursts: number;
  ms: number;
  messagesPerSec: number;
  /** /notify requests that carried the timed messages. */
  requests: number;
  /** CPU time per message of the median burst, µs: the follower process (Linux /proc; NaN elsewhere) and this process (the hub). */
  followerCpuUs: number;
  hubCpuUs: number;
}

/** utime + stime of a process in µs, from /proc (NaN where there is none). */
function processCpuUs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // fields 14 and 15, in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/**
 * A fresh hub (in process, `fanout.batching` as given) and follower (process); alice@a.example
 * creates a room and adds bob@b.example (one device). Then `warmup` messages are accepted and
 * delivered untimed (JIT, TLS session, directory cache); then, `bursts` times, `n` more are
 * accepted by the hub in one synchronous burst and timed from the end of that burst until the
 * outbox is drained (the follower answered 201 for all of them).
 */
export async function benchFanout(
  engine: MlsEngine,
  n: number,
  batching: boolean,
  opts: { bursts?: number; warmup?: number; followerArgs?: string[] } & Pick<FanoutOutboxOptions, 'maxBatchMessages' | 'maxInFlight' | 'pipelining'> = {},
): Promise<FanoutFigures> {
  const { bursts = 3, warmup = 100, followerArgs = [], ...fanout } = opts;
  const a = await prepare('a.example');
  const b = await prepare('b.example');
  const pb = await startPeerProcess(b, a, followerArgs);
  let hubP: InProcess | undefined;
  const clients: ProviderClient[] = [];
  try {
    hubP = await startInProcess(a, b, batching, fanout);
    const { hub, running } = hubP;
    const outbox = running.federation.outbox;

    const aliceClient = new ProviderClient({ baseUrl: running.url, caPem: running.caPem });
    const bobClient = new ProviderClient({ baseUrl: pb.url, caPem: pb.caPem });
    clients.push(aliceClient, bobClient);
    const alice = await aliceClient.register({ handle: 'fan-alice', password: PASSWORD, deviceName: 'bench' });
    const bob = await bobClient.register({ handle: 'fan-bob', password: PASSWORD, deviceName: 'bench' });
    const aliceKeys = await engine.newDeviceKeys(alice.deviceUri);
    const bobKeys = await engine.newDeviceKeys(bob.deviceUri);
    const [bobKp] = await engine.generateKeyPackages(bobKeys, 1);
    await bobClient.uploadKeyPackages({ keyPackages: [toB64(bobKp.publicMessage)] });

    const roomUri = newRoomUri('a.example');
    await aliceClient.createRoom({ roomUri });
    const claim = await aliceClient.claim({ roomUri, users: [bob.userUri] });
    const kps = claim.results.flatMap((r) => r.clients.map((c) => fromB64(c.keyPackage!)));
    if (kps.length !== 1) throw new Error(`claim for bob@b.example: ${JSON.stringify(claim)}`);
    const out = await (await engine.createGroup(aliceKeys, roomUri)).add(kps);
    await aliceClient.commit(roomUri, { commit: toB64(out.commit), welcome: toB64(out.welcome!), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), addUsers: [bob.userUri], requestId: 'fan-add' });
    await outbox.drained();
    const inbox = () => countRows(b.dataDir, 'SELECT count(*) AS n FROM inbox WHERE device_uri = ?', bob.deviceUri);
    if (countRows(b.dataDir, 'SELECT count(*) AS n FROM room_devices WHERE room_uri = ? AND device_uri = ?', roomUri, bob.deviceUri) !== 1 || inbox() !== 1) {
      throw new Error('the follower did not take the Welcome');
    }

    // Encrypted beforehand: the figure is the fanout, not MLS.
    let group = out.pending;
    const messages: Uint8Array[] = [];
    for (let i = 0; i < warmup + bursts * n; i++) {
      const r = await group.encrypt(utf8(`fanout ${i}`));
      group = r.session;
      messages.push(r.message);
    }
    const actor = { deviceUri: alice.deviceUri, userUri: alice.userUri };
    const accept = (from: number, to: number) => {
      for (let i = from; i < to; i++) hub.sendMessage(actor, roomUri, { message: messages[i], requestId: `fan-${i}` });
    };
    accept(0, warmup);
    await outbox.drained();

    // `bursts` timed bursts; the median is reported (one burst of the bulk mode lasts ~0.2 s).
    const times: { ms: number; requests: number; followerCpuUs: number; hubCpuUs: number }[] = [];
    for (let k = 0; k < bursts; k++) {
      const from = warmup + k * n;
      const before = outbox.stats();
      accept(from, from + n); // synchronous: all n rows are in the outbox before any request leaves
      const t0 = performance.now();
      const mark0 = process.hrtime.bigint();
      const cpu0 = processCpuUs(pb.child.pid);
      const hubCpu0 = process.cpuUsage();
      await outbox.drained();
      const ms = performance.now() - t0;
      const followerCpuUs = (processCpuUs(pb.child.pid) - cpu0) / n;
      const hubCpu = process.cpuUsage(hubCpu0);
      const hubCpuUs = (hubCpu.user + hubCpu.system) / n;
      if (process.env.BENCH_FANOUT_MARKS) console.log(`burst window (hrtime us): ${mark0 / 1000n} ${process.hrtime.bigint() / 1000n}`);
      const after = outbox.stats();
      const got = inbox() - 1;
      if (got !== from + n || after.sentMessages - before.sentMessages !== n) {
        throw new Error(`follower has ${got} of ${from + n} messages; outbox sent ${after.sentMessages - before.sentMessages} of ${n}`);
      }
      times.push({ ms, requests: after.sentRequests - before.sentRequests, followerCpuUs, hubCpuUs });
    }
    const { ms, requests, followerCpuUs, hubCpuUs } = times.sort((x, y) => x.ms - y.ms)[Math.floor(bursts / 2)];
    checkLogs(hubP);
    return { batching, messages: n, bursts, ms, messagesPerSec: n / (ms / 1000), requests, followerCpuUs, hubCpuUs };
  } finally {
    for (const c of clients) c.close();
    await hubP?.running.close();
    await pb.stop();
  }
}

// ---- 3. KeyPackage claims: bulk versus one request per user --------------------------------

export interface ClaimFigures {
  users: number;
  rounds: number;
  /** Medians over the rounds. */
  bulkMs: number;
  singleMs: number;
  /** Of the bulk: a.example signing the `users` KeyMaterialRequests (timed apart, no network). */
  signMs: number;
}

/**
 * b.example (process) gets `users * 2 * rounds + 1` seeded users with one KeyPackage each (written to
 * its store before it starts: a client-API registration costs a 32 MiB scrypt each); a.example
 * (in process) has alice in a room it hosts. Each round claims for `users` fresh users in ONE
 * claimForRoom (one bulk request to b.example), then for `users` other fresh users one
 * claimForRoom each (one request each), sequentially.
 */
/**
 * `n` users `seed0..` written straight into a stopped provider's store at `dataDir`, each with one
 * device holding one KeyPackage (no password: they never sign in). Returns their user URIs.
 */
export async function seedUsers(engine: MlsEngine, dataDir: string, domain: string, n: number): Promise<string[]> {
  const seeded: string[] = [];
  const store = openStore(dataDir);
  try {
    const kp = new KeyPackages(store, domain);
    for (let i = 0; i < n; i++) {
      const handle = `seed${i}`;
      const userUri = mkUserUri(domain, handle);
      const id = store.insertUser(handle, userUri, 'scrypt$disabled', Date.now());
      if (id === null) throw new Error(`seeding ${handle}`);
      const deviceUri = mkDeviceUri(domain, handle, 'dev1');
      store.insertDevice({ deviceUri, userId: id, deviceId: 'dev1', name: 'seeded', tokenHash: randomBytes(32), now: Date.now() });
      kp.upload(deviceUri, (await engine.generateKeyPackages(await engine.newDeviceKeys(deviceUri), 1)).map((k) => k.publicMessage));
      seeded.push(userUri);
    }
  } finally {
    store.close();
  }
  return seeded;
}

export async function benchClaims(engine: MlsEngine, users: number, rounds: number): Promise<ClaimFigures> {
  const a = await prepare('a.example');
  const b = await prepare('b.example');
  const seeded = await seedUsers(engine, b.dataDir, 'b.example', users * 2 * rounds + 1);
  const pb = await startPeerProcess(b, a);
  let hubP: InProcess | undefined;
  let client: ProviderClient | undefined;
  try {
    hubP = await startInProcess(a, b);
    client = new ProviderClient({ baseUrl: hubP.running.url, caPem: hubP.running.caPem });
    const alice = await client.register({ handle: 'claim-alice', password: PASSWORD, deviceName: 'bench' });
    const roomUri = newRoomUri('a.example');
    await client.createRoom({ roomUri });
    const km = hubP.km;
    // One untimed claim first: TLS session and directory lookup are set up once, not billed to either side.
    const warm = seeded.pop()!;
    await km.claimForRoom(alice.userUri, roomUri, [warm]);

    const ok = (results: Awaited<ReturnType<KeyMaterialService['claimForRoom']>>, n: number) => {
      if (results.length !== n || !results.every((r) => r.status === 'success' && r.clients.length === 1 && r.clients[0].keyPackage)) {
        throw new Error(`claim results: ${JSON.stringify(results.find((r) => r.status !== 'success'))}`);
      }
    };
    const bulk: number[] = [];
    const single: number[] = [];
    const sign: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const bulkUsers = seeded.slice(r * 2 * users, r * 2 * users + users);
      const singleUsers = seeded.slice(r * 2 * users + users, (r + 1) * 2 * users);
      let t = performance.now();
      ok(await km.claimForRoom(alice.userUri, roomUri, bulkUsers), users);
      bulk.push(performance.now() - t);
      t = performance.now();
      for (const u of singleUsers) ok(await km.claimForRoom(alice.userUri, roomUri, [u]), 1);
      single.push(performance.now() - t);
      t = performance.now();
      for (const u of bulkUsers) km.buildRequest(alice.userUri, u, roomUri);
      sign.push(performance.now() - t);
    }
    const claims = countRows(b.dataDir, 'SELECT count(*) AS n FROM key_package_claims');
    if (claims !== 2 * users * rounds + 1) throw new Error(`b.example recorded ${claims} claims`);
    checkLogs(hubP);
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    return { users, rounds, bulkMs: med(bulk), singleMs: med(single), signMs: med(sign) };
  } finally {
    client?.close();
    await hubP?.running.close();
    await pb.stop();
  }
}

// ---- alone: `npx tsx scripts/bench-federation.ts fanout [N] [ROUNDS]` -----------------------
// The fanout rows only, in alternating rounds: the default path (pipelined, 256 per request), the
// previous path as the baseline (one request in flight, 64 per request, follower on the
// per-request write path: FANOUT_BASELINE below, as bench.ts runs it) and one message per request.
// BENCH_FANOUT_BULK_ONLY=1 leaves out the (slow) one-message-per-request row.
// BENCH_FANOUT_MARKS=1 prints each timed burst's window in process.hrtime µs (to cut a --cpu-prof
// of the hub, this process, or of the follower: PROVIDER_NODE_ARGS="--cpu-prof ...") to the bursts.

/** The previous fanout path, measured in the same run as the baseline. */
export const FANOUT_BASELINE = { pipelining: false, maxBatchMessages: 64 } as const;

async function fanoutOnly(n: number, rounds: number): Promise<void> {
  const { createMlsEngine } = await import('../src-main/mls/ts-mls-engine.js');
  const engine = await createMlsEngine();
  const show = (label: string, f: FanoutFigures) =>
    console.log(
      `${label.padEnd(58)} ${f.messagesPerSec.toFixed(0).padStart(7)} msg/s  (${f.messages} in ${f.requests} requests, ${f.ms.toFixed(1)} ms; ` +
        `CPU per message: follower ${f.followerCpuUs.toFixed(1)} µs, hub ${f.hubCpuUs.toFixed(1)} µs)`,
    );
  for (let r = 0; r < rounds; r++) {
    const now = await benchFanout(engine, n, true);
    show('bulk, pipelined (default)', now);
    const base = await benchFanout(engine, n, true, { ...FANOUT_BASELINE, followerArgs: ['--write-path', 'per-request'] });
    show('baseline: previous path (1 in flight, 64/request, per-request)', base);
    console.log(`${'ratio'.padEnd(58)} ${(now.messagesPerSec / base.messagesPerSec).toFixed(2)}×`);
    if (!process.env.BENCH_FANOUT_BULK_ONLY) show('one message per request', await benchFanout(engine, n, false));
  }
}

if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href && process.argv[2] === 'fanout') {
  fanoutOnly(Number(process.argv[3] ?? 2000), Number(process.argv[4] ?? 1))
    .then(() => process.exit(0))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
