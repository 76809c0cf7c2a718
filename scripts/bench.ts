// `npm run bench`: figures, not assertions. Runs a real provider process on loopback and real
// device cores, and prints a table plus ratios. Sizes can be lowered for a quick look:
//   BENCH_RTT=200 BENCH_RELAY=200 BENCH_MEMBERS=50 BENCH_FED_RTT=100 BENCH_FANOUT=500 BENCH_BACKUP=10000 npm run bench
// Federation figures (two providers, a.example hub and b.example follower): see bench-federation.ts.

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import path from 'node:path';
import { createMlsEngine } from '../src-main/mls/ts-mls-engine.js';
import { benchKeyPackages, benchMessages, benchMls } from '../src-main/mls/bench-mls.js';
import { Profile } from '../src-main/core/profile.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { ProviderClient, PushConnection } from '../src-main/net/provider-client.js';
import { fromB64, toB64, utf8 } from '../src-shared/bytes.js';
import { newRoomUri } from '../src-shared/identifiers.js';
import { startProviderProcess, tempDir, waitFor } from '../test/helpers/provider-process.js';
import { benchClaims, benchFanout, benchFederatedRoundTrip, roundTrips } from './bench-federation.js';
import { benchRoomState } from './bench-room-state.js';
import { benchPseudonymousRooms } from './bench-pseudonyms.js';
import { benchHubVerify } from './bench-hub-verify.js';
import { benchFranking } from './bench-franking.js';
import { benchSearch } from './bench-search.js';
import { benchAttachments } from './bench-attachments.js';
import { benchBackup } from './bench-backup.js';

const RTT_COUNT = Number(process.env.BENCH_RTT ?? 1000);
const RELAY_COUNT = Number(process.env.BENCH_RELAY ?? 500);
const RELAY_RECIPIENTS = 10;
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 100);
const MLS_RUNS = 3;
const FED_RTT_COUNT = Number(process.env.BENCH_FED_RTT ?? 300);
const FANOUT_COUNT = Number(process.env.BENCH_FANOUT ?? 2000);
const CLAIM_USERS = 100;
const CLAIM_ROUNDS = 3;
const MMR_MEMBERS = Number(process.env.BENCH_MMR_MEMBERS ?? 20);
const VERIFY_MEMBERS = Number(process.env.BENCH_VERIFY_MEMBERS ?? 20);
const SEARCH_MESSAGES = Number(process.env.BENCH_SEARCH ?? 100_000);
const BACKUP_MESSAGES = Number(process.env.BENCH_BACKUP ?? 100_000);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function main(): Promise<void> {
  const engine = await createMlsEngine();
  const provider = await startProviderProcess({ domain: 'bench.example' });
  const profiles: Profile[] = [];
  const account = async (handle: string) => {
    const p = await Profile.register(path.join(tempDir(`bench-${handle}`), 'p'), { providerUrl: provider.url, caPem: provider.caPem, handle, password: 'bench-password', deviceName: 'bench' }, { engine, secretMode: 'plaintext' });
    profiles.push(p);
    await p.start();
    return p;
  };
  const rows: [string, string][] = [];
  try {
    console.log(
      `crypto provider: ${engine.provider}; node ${process.version}; ${RTT_COUNT} round trips, ${RELAY_COUNT} relayed messages, ${MEMBERS}-member commit; ` +
        `federation: ${FED_RTT_COUNT} round trips, ${FANOUT_COUNT} fanout messages, claims for ${CLAIM_USERS} users`,
    );

    // 1. Round trip: send on A -> decrypted on B, one at a time.
    const a = await account('rtt-a');
    const b = await account('rtt-b');
    const room = await a.createRoom('rtt');
    await a.addMember(room.roomUri, 'rtt-b');
    await waitFor(() => b.rooms().length === 1, 'b joins');
    const lat = await roundTrips(a, b, room.roomUri, RTT_COUNT, 'rtt');
    rows.push(['round trip p50 (send -> decrypted at recipient)', ms(pct(lat, 50))]);
    rows.push(['round trip p99', ms(pct(lat, 99))]);

    // 2. Relay: the provider alone. One sender, 10 recipient devices on raw push streams that only
    // count (decrypting 10 clients in this one process would measure the bench, not the provider).
    const relay = await benchRelay(engine, provider.url, provider.caPem, RELAY_COUNT, RELAY_RECIPIENTS);
    rows.push([`provider relay to ${RELAY_RECIPIENTS} recipients: messages in per second`, relay.messagesPerSec.toFixed(0)]);
    rows.push([`provider relay to ${RELAY_RECIPIENTS} recipients: deliveries out per second`, relay.deliveriesPerSec.toFixed(0)]);

    // 3. MLS costs for a large add: the median of MLS_RUNS runs, each on fresh keys.
    const runs: Awaited<ReturnType<typeof benchMls>>[] = [];
    for (let i = 0; i < MLS_RUNS; i++) runs.push(await benchMls(MEMBERS, engine));
    const med = (f: (r: (typeof runs)[number]) => number) => runs.map(f).sort((x, y) => x - y)[Math.floor(runs.length / 2)];
    rows.push([`MLS commit adding ${MEMBERS} members (median of ${MLS_RUNS})`, ms(med((r) => r.addMs))]);
    rows.push([`MLS processing that commit (existing member)`, ms(med((r) => r.processMs))]);
    rows.push([`MLS join from its Welcome (new member)`, ms(med((r) => r.joinMs))]);
    rows.push([`commit / welcome size`, `${(runs[0].commitBytes / 1024).toFixed(1)} KiB / ${(runs[0].welcomeBytes / 1024).toFixed(1)} KiB`]);

    // 3b. The same against the baseline in this run: ts-mls's own WebCrypto provider (issue 13's
    // reference), with the ratio, plus message and KeyPackage throughput on both.
    const baseline = await createMlsEngine({ forceProvider: 'webcrypto' });
    const baseRuns: Awaited<ReturnType<typeof benchMls>>[] = [];
    for (let i = 0; i < MLS_RUNS; i++) baseRuns.push(await benchMls(MEMBERS, baseline));
    const baseMed = (f: (r: (typeof runs)[number]) => number) => baseRuns.map(f).sort((x, y) => x - y)[Math.floor(baseRuns.length / 2)];
    for (const [label, f] of [
      ['commit adding', (r: (typeof runs)[number]) => r.addMs],
      ['processing', (r: (typeof runs)[number]) => r.processMs],
      ['join', (r: (typeof runs)[number]) => r.joinMs],
    ] as const) {
      rows.push([`baseline (ts-mls WebCrypto) ${label}, ${MEMBERS} members / ${engine.provider} is faster by`, `${ms(baseMed(f))} / ${(baseMed(f) / med(f)).toFixed(1)}×`]);
    }
    const msgs = await benchMessages(engine);
    const baseMsgs = await benchMessages(baseline);
    rows.push([`1 KB application message encrypt + decrypt, pairs per second (${engine.provider} / baseline)`, `${msgs.pairsPerSec.toFixed(0)} / ${baseMsgs.pairsPerSec.toFixed(0)} (${(msgs.pairsPerSec / baseMsgs.pairsPerSec).toFixed(1)}×)`]);
    const kps = await benchKeyPackages(engine);
    const baseKps = await benchKeyPackages(baseline);
    rows.push([`KeyPackages generated per second (${engine.provider} / baseline)`, `${kps.perSec.toFixed(0)} / ${baseKps.perSec.toFixed(0)} (${(kps.perSec / baseKps.perSec).toFixed(1)}×)`]);

    // 4. Event-loop delay while an existing member processes that commit: what the rest of the
    // main process (IPC, the push stream, other accounts) waits meanwhile.
    const loop = await eventLoopDuringProcess(engine, MEMBERS);
    rows.push([`event-loop delay while a ${MEMBERS}-member add commit is processed: p50 / p99 / max`, `${ms(loop.p50)} / ${ms(loop.p99)} / ${ms(loop.max)}`]);
    rows.push([`  (that processing took)`, ms(loop.processMs)]);

    // 5. Federation (bench-federation.ts): a.example hosts the room, b.example follows.
    const fedLat = await benchFederatedRoundTrip(engine, FED_RTT_COUNT);
    rows.push(['federated round trip p50 (send at a.example -> decrypted at b.example)', ms(pct(fedLat, 50))]);
    rows.push(['federated round trip p99', ms(pct(fedLat, 99))]);
    const bulkFan = await benchFanout(engine, FANOUT_COUNT, true);
    const oneFan = await benchFanout(engine, FANOUT_COUNT, false);
    rows.push([`fanout hub -> follower, bulk /notify: messages per second (${bulkFan.messages} in ${bulkFan.requests} requests, median of ${bulkFan.bursts})`, bulkFan.messagesPerSec.toFixed(0)]);
    rows.push([`fanout hub -> follower, one message per request: messages per second (${oneFan.messages} in ${oneFan.requests} requests, median of ${oneFan.bursts})`, oneFan.messagesPerSec.toFixed(0)]);
    const claims = await benchClaims(engine, CLAIM_USERS, CLAIM_ROUNDS);
    rows.push([`KeyPackage claim for ${claims.users} users at b.example, one bulk request (median of ${claims.rounds})`, ms(claims.bulkMs)]);
    rows.push([`  (of which a.example signing the ${claims.users} requests)`, ms(claims.signMs)]);
    rows.push([`KeyPackage claim for ${claims.users} users at b.example, ${claims.users} requests (median of ${claims.rounds})`, ms(claims.singleMs)]);

    // 6. Room state: the per-commit check the hub and every member run, in a small and a large room.
    const smallRoom = benchRoomState(MEMBERS);
    const bigRoom = benchRoomState(MEMBERS * 10);
    for (const r of [smallRoom, bigRoom]) {
      rows.push([`room state check of a commit adding one user, ${r.participants} participants (median)`, ms(r.checkMs)]);
      rows.push([`  (room state extension size)`, `${(r.extensionBytes / 1024).toFixed(1)} KiB`]);
    }
    // 7. Minimal-metadata rooms against plain ones (bench-pseudonyms.ts), the engine alone.
    const { plain, mmr } = await benchPseudonymousRooms(engine, MMR_MEMBERS, MLS_RUNS);
    rows.push([`plain room: commit adding ${MMR_MEMBERS} / join from Welcome / one message (median of ${MLS_RUNS})`, `${ms(plain.addMs)} / ${ms(plain.joinMs)} / ${ms(plain.messageMs)}`]);
    rows.push([`minimal-metadata room: the same`, `${ms(mmr.addMs)} / ${ms(mmr.joinMs)} / ${ms(mmr.messageMs)}`]);
    rows.push([`minimal-metadata room: a joiner's identity-link commit, processed / verifying every link`, `${ms(mmr.publishMs!)} / ${ms(mmr.verifyAllMs!)}`]);
    rows.push([`commit / welcome size, plain vs minimal-metadata`, `${(plain.commitBytes / 1024).toFixed(1)} / ${(plain.welcomeBytes / 1024).toFixed(1)} KiB vs ${(mmr.commitBytes / 1024).toFixed(1)} / ${(mmr.welcomeBytes / 1024).toFixed(1)} KiB`]);
    rows.push(['ratio minimal-metadata / plain: add, join, message', [mmr.addMs / plain.addMs, mmr.joinMs / plain.joinMs, mmr.messageMs / plain.messageMs].map((x) => x.toFixed(2)).join(', ')]);
    // 8. The hub's signature and tree checks on commit acceptance (in-process Hub, real Store).
    const hv = await benchHubVerify(engine, VERIFY_MEMBERS);
    rows.push([`hub accepting a path-update commit, ${hv.members}-member room, with / without signature and tree checks (median of ${hv.commits})`, `${ms(hv.acceptMs)} / ${ms(hv.withoutMs)}`]);
    rows.push([`  (the checks alone: tree hash, parent hashes, GroupInfo and Commit signatures)`, ms(hv.verifyMs)]);
    rows.push(['ratio hub commit acceptance with / without signature and tree checks', (hv.acceptMs / hv.withoutMs).toFixed(2)]);
    // 9. Franking's cost per message: sender tag, hub frank and receiver check, with MLS around them.
    const fr = await benchFranking(engine);
    rows.push([`a message encrypted and decrypted, plain / franked (tag, frank, check; median of ${fr.messages})`, `${ms(fr.plainMs)} / ${ms(fr.frankedMs)}`]);
    rows.push([`  (the franking steps alone)`, ms(fr.frankingOnlyMs)]);
    rows.push(['ratio franked / plain message', (fr.frankedMs / fr.plainMs).toFixed(2)]);
    // 10. Message search over a large history (bench-search.ts): the blinded FTS5 index against a scan.
    const se = await benchSearch(SEARCH_MESSAGES);
    rows.push([`search index of ${se.messages} messages: built in / size`, `${(se.indexMs / 1000).toFixed(1)} s (${Math.round(se.messages / (se.indexMs / 1000))} messages/s) / ${(se.indexBytes / 1e6).toFixed(1)} MB`]);
    rows.push([`search over ${se.messages} messages, p50 / p95 (${se.queries} queries of one or two word prefixes)`, `${ms(se.p50Ms)} / ${ms(se.p95Ms)}`]);
    rows.push([`  (the same without an index: every message opened and matched)`, ms(se.scanMs)]);
    rows.push(['ratio search without / with the index (p50)', (se.scanMs / se.p50Ms).toFixed(0)]);
    // 11. Attachments (bench-attachments.ts): a 5 MB image from a.example to b.example, until the
    // receiver's core has it decrypted for its preview.
    const at = await benchAttachments(engine);
    rows.push([`image of ${(at.bytes / 1e6).toFixed(0)} MB, send at a.example -> preview ready at b.example (median of ${at.rounds})`, ms(at.toPreviewMs)]);
    rows.push([`  (encrypt + upload to a.example / until delivered / download via hub + hash + decrypt)`, `${ms(at.sendMs)} / ${ms(at.deliveredMs)} / ${ms(at.openMs)}`]);
    rows.push([`image of ${(at.bytes / 1e6).toFixed(0)} MB the other way (b.example's asset fetched by a.example for alice)`, ms(at.reverseToPreviewMs)]);
    // 12. Encrypted backup (bench-backup.ts): a history backed up to the provider, restored into a new profile.
    const bk = await benchBackup(provider.url, provider.caPem, BACKUP_MESSAGES);
    rows.push([`backup and restore of ${bk.messages} messages: backup / restore (${bk.chunks} chunks, ${(bk.bytes / 1e6).toFixed(1)} MB sealed)`, `${(bk.backupMs / 1000).toFixed(1)} s / ${(bk.restoreMs / 1000).toFixed(1)} s`]);
    rows.push(['ratio round-trip p99 / p50', (pct(lat, 99) / pct(lat, 50)).toFixed(2)]);
    rows.push([`ratio room state check ${bigRoom.participants} / ${smallRoom.participants} participants (time)`, (bigRoom.checkMs / smallRoom.checkMs).toFixed(2)]);
    rows.push(['ratio federated / single-provider round trip p50', (pct(fedLat, 50) / pct(lat, 50)).toFixed(2)]);
    rows.push(['ratio federated round-trip p99 / p50', (pct(fedLat, 99) / pct(fedLat, 50)).toFixed(2)]);
    rows.push(['ratio fanout bulk / one per request (messages per second)', (bulkFan.messagesPerSec / oneFan.messagesPerSec).toFixed(2)]);
    rows.push([`ratio claim ${claims.users} requests / one bulk request (time)`, (claims.singleMs / claims.bulkMs).toFixed(2)]);
  } finally {
    for (const p of profiles) await p.close().catch(() => undefined);
    await provider.stop();
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

/**
 * Sets up (untimed) a two-member group and `n` joiners, builds the commit adding them, then
 * processes it on the existing member with the event-loop delay histogram on (1 ms resolution).
 */
async function eventLoopDuringProcess(engine: MlsEngine, n: number) {
  const owner = await engine.newDeviceKeys('mimi://bench.example/d/loop-owner/1');
  const peer = await engine.newDeviceKeys('mimi://bench.example/d/loop-peer/1');
  const [peerKp] = await engine.generateKeyPackages(peer, 1);
  const first = await (await engine.createGroup(owner, 'mimi://bench.example/r/loop')).add([peerKp.publicMessage]);
  const peerSession = await engine.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);
  const kps: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const keys = await engine.newDeviceKeys(`mimi://bench.example/d/loop${i}/1`);
    kps.push((await engine.generateKeyPackages(keys, 1))[0].publicMessage);
  }
  const out = await first.pending.add(kps);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t = performance.now();
  await peerSession.process(out.commit);
  const processMs = performance.now() - t;
  // One more turn so a delay that ends with the processing is recorded.
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, processMs };
}

async function benchRelay(engine: MlsEngine, url: string, caPem: string, count: number, recipients: number) {
  const device = async (handle: string) => {
    const client = new ProviderClient({ baseUrl: url, caPem });
    const session = await client.register({ handle, password: 'bench-password', deviceName: 'bench' });
    const keys = await engine.newDeviceKeys(session.deviceUri);
    return { client, session, keys };
  };
  const sender = await device('relay-s');
  const roomUri = newRoomUri('bench.example');
  let group = await engine.createGroup(sender.keys, roomUri);
  await sender.client.createRoom({ roomUri });
  const streams: { push: PushConnection; got: number }[] = [];
  const users: string[] = [];
  for (let i = 0; i < recipients; i++) {
    const r = await device(`relay-r${i}`);
    const [kp] = await engine.generateKeyPackages(r.keys, 1);
    await r.client.uploadKeyPackages({ keyPackages: [toB64(kp.publicMessage)] });
    users.push(r.session.userUri);
    const s = { push: new PushConnection({ baseUrl: url, caPem, token: r.session.token }), got: 0 };
    s.push.on('event', (ev) => {
      if (ev.kind === 'message') s.got++;
      s.push.confirm(ev.seq);
    });
    streams.push(s);
  }
  const claim = await sender.client.claim({ roomUri, users });
  const kps = claim.results.flatMap((r) => r.clients.map((c) => fromB64(c.keyPackage!)));
  const out = await group.add(kps);
  await sender.client.commit(roomUri, { commit: toB64(out.commit), welcome: toB64(out.welcome!), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), addUsers: users, requestId: 'relay-add' });
  group = out.pending;
  const messages: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await group.encrypt(utf8(`relay ${i}`));
    group = r.session;
    messages.push(toB64(r.message));
  }
  for (const s of streams) s.push.start(0);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < messages.length) {
        const i = next++;
        await sender.client.sendMessage(roomUri, { message: messages[i], requestId: `relay-${i}` });
      }
    }),
  );
  const sentSecs = (performance.now() - t0) / 1000;
  await waitFor(() => streams.every((s) => s.got >= count), 'all deliveries', 300000);
  const secs = (performance.now() - t0) / 1000;
  for (const s of streams) s.push.stop();
  sender.client.close();
  return { messagesPerSec: count / sentSecs, deliveriesPerSec: (count * recipients) / secs };
}

void (async () => {
  await main();
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

