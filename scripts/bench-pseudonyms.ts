// What a minimal-metadata room costs against a plain one, in the MLS engine alone (the provider
// does the same work for both): a commit adding `members` clients, a new member joining from its
// Welcome, one message encrypted and decrypted, and what only a minimal-metadata room does: each
// joiner's identity-link commit, and a member verifying everyone's identity link.

import { performance } from 'node:perf_hooks';
import { utf8 } from '../src-shared/bytes.js';
import type { DeviceKeys, GroupSession, MlsEngine } from '../src-main/mls/engine.js';

export interface RoomCost {
  addMs: number;
  joinMs: number;
  messageMs: number;
  commitBytes: number;
  welcomeBytes: number;
  /** Minimal-metadata only: a joiner publishing its identity link (a commit), and processing it. */
  publishMs?: number;
  /** Minimal-metadata only: one member opening and verifying every member's link. */
  verifyAllMs?: number;
}

const MESSAGES = 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function keys(engine: MlsEngine, i: number, tag: string, pseudonymous: boolean): Promise<DeviceKeys> {
  const device = await engine.newDeviceKeys(`mimi://bench.example/d/${tag}${i}/1`);
  if (!pseudonymous) return device;
  return engine.newPseudonymousKeys(device, { client: `mimi://bench.example/p/${tag}c${i}`, user: `mimi://bench.example/p/${tag}u${i}` });
}

async function once(engine: MlsEngine, members: number, pseudonymous: boolean, run: number): Promise<RoomCost> {
  const tag = `${pseudonymous ? 'm' : 'p'}${run}x`;
  const owner = await keys(engine, 0, tag, pseudonymous);
  const joiners: DeviceKeys[] = [];
  const kps = [];
  for (let i = 1; i <= members; i++) {
    const k = await keys(engine, i, tag, pseudonymous);
    joiners.push(k);
    kps.push((await engine.generateKeyPackages(k, 1))[0]);
  }
  const group = await engine.createGroup(owner, `mimi://bench.example/r/${tag}`);
  let t = performance.now();
  const out = await group.add(kps.map((k) => k.publicMessage));
  const addMs = performance.now() - t;
  t = performance.now();
  let joined: GroupSession = await engine.joinFromWelcome(joiners[0], out.welcome!, kps[0], out.ratchetTree);
  const joinMs = performance.now() - t;
  let ownerSession = out.pending;
  const cost: RoomCost = { addMs, joinMs, messageMs: 0, commitBytes: out.commit.length, welcomeBytes: out.welcome!.length };
  if (pseudonymous) {
    t = performance.now();
    const pub = await joined.publishIdentityLink(joiners[0]);
    ownerSession = (await ownerSession.process(pub.commit)).session;
    joined = pub.pending;
    cost.publishMs = performance.now() - t;
    t = performance.now();
    const links = ownerSession.identityLinks();
    cost.verifyAllMs = performance.now() - t;
    if (!links.some((l) => l.status === 'verified')) throw new Error('bench: no identity link verified');
  }
  // Messages: the mean of MESSAGES round trips (encrypt at one member, decrypt at the other).
  t = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    const sent = await ownerSession.encrypt(utf8(`bench message ${i}`));
    ownerSession = sent.session;
    joined = (await joined.process(sent.message)).session;
  }
  cost.messageMs = (performance.now() - t) / MESSAGES;
  return cost;
}

/** Median of `runs` runs of each kind, on fresh keys each time. */
export async function benchPseudonymousRooms(engine: MlsEngine, members: number, runs: number): Promise<{ plain: RoomCost; mmr: RoomCost }> {
  const plain: RoomCost[] = [];
  const mmr: RoomCost[] = [];
  await once(engine, 2, false, -1); // warm-up (JIT), not counted
  await once(engine, 2, true, -1);
  for (let r = 0; r < runs; r++) {
    plain.push(await once(engine, members, false, r));
    mmr.push(await once(engine, members, true, r));
  }
  const med = (xs: RoomCost[]): RoomCost => ({
    addMs: median(xs.map((x) => x.addMs)),
    joinMs: median(xs.map((x) => x.joinMs)),
    messageMs: median(xs.map((x) => x.messageMs)),
    commitBytes: xs[0].commitBytes,
    welcomeBytes: xs[0].welcomeBytes,
    ...(xs[0].publishMs !== undefined ? { publishMs: median(xs.map((x) => x.publishMs!)), verifyAllMs: median(xs.map((x) => x.verifyAllMs!)) } : {}),
  });
  return { plain: med(plain), mmr: med(mmr) };
}
