// `npm run bench`: figures, not assertions. Runs a real provider process on loopback and real
// device cores, and prints a table plus ratios. Sizes can be lowered for a quick look:
//   BENCH_RTT=200 BENCH_RELAY=200 BENCH_MEMBERS=50 BENCH_FED_RTT=100 BENCH_FANOUT=500 BENCH_BACKUP=10000 npm run bench
// Federation figures (two providers, a.example hub and b.example follower): see bench-federation.ts.
// The provider on 1, 2 and 3 PostgreSQL nodes against SQLite (bench-nodes.ts; BENCH_NODES_RELAY,
// BENCH_NODES_RTT, BENCH_NODES_COUNTS): skipped, saying why, without PostgreSQL or libpq.

import { performance } from 'node:perf_hooks';
import { createMlsEngine } from '../src-main/mls/ts-mls-engine.js';
import { mlsRows } from './bench-mls-rows.js';
import { Profile } from '../src-main/core/profile.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { startProviderProcess } from '../test/helpers/provider-process.js';
import { benchClaims, benchFanout, benchFederatedRoundTrip, FANOUT_BASELINE } from './bench-federation.js';
import { BASELINE_ARGS, compareRelay, relayRows } from './bench-relay.js';
import { nodesSection } from './bench-nodes.js';
import { benchRoomState } from './bench-room-state.js';
import { benchPseudonymousRooms } from './bench-pseudonyms.js';
import { benchHubVerify } from './bench-hub-verify.js';
import { benchFranking } from './bench-franking.js';
import { benchSearch } from './bench-search.js';
import { benchAttachments } from './bench-attachments.js';
import { benchBackup } from './bench-backup.js';
import { benchOhttp } from './bench-ohttp.js';

const RTT_COUNT = Number(process.env.BENCH_RTT ?? 1000);
const RELAY_COUNT = Number(process.env.BENCH_RELAY ?? 2000);
const RELAY_RECIPIENTS = 10;
/** Requests in flight at once in the relay bench (many senders' worth of load); 8 is also shown. */
const RELAY_IN_FLIGHT = [8, Number(process.env.BENCH_RELAY_IN_FLIGHT ?? 64)];
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 100);
const MLS_RUNS = Number(process.env.BENCH_MLS_RUNS ?? 5);
const MLS_BIG = Number(process.env.BENCH_MLS_BIG ?? 1000);
const MLS_MSGS = Number(process.env.BENCH_MSGS ?? 1000);
const FED_RTT_COUNT = Number(process.env.BENCH_FED_RTT ?? 300);
const FANOUT_COUNT = Number(process.env.BENCH_FANOUT ?? 2000);
const CLAIM_USERS = 100;
const CLAIM_ROUNDS = 3;
const OHTTP_USERS = Number(process.env.BENCH_OHTTP ?? 30);
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
  const rows: [string, string][] = [];
  try {
    console.log(
      `crypto provider: ${engine.provider}; node ${process.version}; ${RTT_COUNT} round trips, ${RELAY_COUNT} relayed messages, ${MEMBERS}-member commit; ` +
        `federation: ${FED_RTT_COUNT} round trips, ${FANOUT_COUNT} fanout messages, claims for ${CLAIM_USERS} users`,
    );

    // 1-2. Round trip (send on A -> decrypted on B, one at a time) and the provider relay to 10
    // recipients (bench-relay.ts), each also on a provider with the per-request write path (the
    // baseline, in this run), with the ratio.
    const relayCmp = await compareRelay(engine, { relayCount: RELAY_COUNT, recipients: RELAY_RECIPIENTS, rttCount: RTT_COUNT, inFlight: RELAY_IN_FLIGHT });
    rows.push(...relayRows(relayCmp, RELAY_RECIPIENTS));
    const lat = relayCmp.rtt;
    // 2b. The same relay and round trip on PostgreSQL with 1, 2 and 3 nodes, devices spread over
    // the nodes, against a SQLite provider in the same rounds (bench-nodes.ts, issue 17).
    rows.push(...(await nodesSection(engine, { inFlight: RELAY_IN_FLIGHT, recipients: RELAY_RECIPIENTS })));

    // 3. MLS (bench-mls-rows.ts): our engine against ts-mls's WebCrypto provider in this run, at
    // MEMBERS and MLS_BIG members, message and KeyPackage throughput, and the event-loop delay
    // while a MLS_BIG-member commit is made and processed.
    rows.push(...(await mlsRows(engine, { members: MEMBERS, bigMembers: MLS_BIG, runs: MLS_RUNS, messages: MLS_MSGS })));

    // 5. Federation (bench-federation.ts): a.example hosts the room, b.example follows.
    const fedLat = await benchFederatedRoundTrip(engine, FED_RTT_COUNT);
    rows.push(['federated round trip p50 (send at a.example -> decrypted at b.example)', ms(pct(fedLat, 50))]);
    rows.push(['federated round trip p99', ms(pct(fedLat, 99))]);
    const bulkFan = await benchFanout(engine, FANOUT_COUNT, true);
    const oneFan = await benchFanout(engine, FANOUT_COUNT, false);
    const baseFan = await benchFanout(engine, FANOUT_COUNT, true, { ...FANOUT_BASELINE, followerArgs: BASELINE_ARGS });
    rows.push([`fanout hub -> follower, bulk /notify: messages per second (${bulkFan.messages} in ${bulkFan.requests} requests, median of ${bulkFan.bursts})`, bulkFan.messagesPerSec.toFixed(0)]);
    rows.push([`  (baseline: the previous path, one request in flight, 64 per request, follower on the per-request write path; this run / ratio)`, `${baseFan.messagesPerSec.toFixed(0)} / ${(bulkFan.messagesPerSec / baseFan.messagesPerSec).toFixed(2)}×`]);
    rows.push([`  (CPU per message, follower / hub: now; baseline)`, `${bulkFan.followerCpuUs.toFixed(1)} / ${bulkFan.hubCpuUs.toFixed(1)} µs; ${baseFan.followerCpuUs.toFixed(1)} / ${baseFan.hubCpuUs.toFixed(1)} µs`]);
    rows.push([`fanout hub -> follower, one message per request: messages per second (${oneFan.messages} in ${oneFan.requests} requests, median of ${oneFan.bursts})`, oneFan.messagesPerSec.toFixed(0)]);
    const claims = await benchClaims(engine, CLAIM_USERS, CLAIM_ROUNDS);
    rows.push([`KeyPackage claim for ${claims.users} users at b.example, one bulk request (median of ${claims.rounds})`, ms(claims.bulkMs)]);
    rows.push([`  (of which a.example signing the ${claims.users} requests)`, ms(claims.signMs)]);
    rows.push([`KeyPackage claim for ${claims.users} users at b.example, ${claims.users} requests (median of ${claims.rounds})`, ms(claims.singleMs)]);
    // KeyPackages over OHTTP against the claim, per user (bench-ohttp.ts).
    const oh = await benchOhttp(engine, OHTTP_USERS);
    rows.push([`KeyPackage of a b.example user through the hub's /keyMaterial claim (median of ${oh.users})`, ms(oh.keyMaterialMs)]);
    rows.push([`KeyPackage of a b.example user over OHTTP relayed by a.example, token in hand (median of ${oh.users})`, `${ms(oh.ohttpMs)} (${(oh.ohttpMs / oh.keyMaterialMs).toFixed(2)}× the claim)`]);
    rows.push([`  (a KeyPackage token issued at discovery: the two finds, median)`, ms(oh.issuanceMs)]);

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

/** `BENCH_ONLY=mls`: the MLS rows alone (no provider process), e.g. while working on the engine. */
async function mlsOnly(): Promise<void> {
  const engine = await createMlsEngine();
  console.log(`crypto provider: ${engine.provider}; node ${process.version}; ${MEMBERS} and ${MLS_BIG} members`);
  const rows = await mlsRows(engine, { members: MEMBERS, bigMembers: MLS_BIG, runs: MLS_RUNS, messages: MLS_MSGS });
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

void (async () => {
  if (process.env.BENCH_ONLY === 'mls') await mlsOnly();
  else await main();
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

