// MLS cost figures for `npm run bench`: one commit adding n members, processed by an existing
// member, and one of the n joining from the resulting Welcome. Prints nothing; returns numbers.

import { performance } from 'node:perf_hooks';
import { createMlsEngine } from './ts-mls-engine.js';
import type { GeneratedKeyPackage, MlsEngine } from './engine.js';

export interface MlsBench {
  addMs: number;
  processMs: number;
  joinMs: number;
  commitBytes: number;
  welcomeBytes: number;
}

export async function benchMls(n = 100, engine?: MlsEngine): Promise<MlsBench> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`benchMls needs a positive member count, got ${n}`);
  const mls = engine ?? (await createMlsEngine());

  // Setup (not timed): a two-member group and n fresh devices with one KeyPackage each.
  const owner = await mls.newDeviceKeys('mimi://bench.example/d/owner/1');
  const peer = await mls.newDeviceKeys('mimi://bench.example/d/peer/1');
  const [peerKp] = await mls.generateKeyPackages(peer, 1);
  const first = await (await mls.createGroup(owner, 'mimi://bench.example/r/bench')).add([peerKp.publicMessage]);
  const peerSession = await mls.joinFromWelcome(peer, first.welcome!, peerKp, first.ratchetTree);

  const joiners: { keys: Awaited<ReturnType<MlsEngine['newDeviceKeys']>>; kp: GeneratedKeyPackage }[] = [];
  for (let i = 0; i < n; i++) {
    const keys = await mls.newDeviceKeys(`mimi://bench.example/d/member${i}/1`);
    joiners.push({ keys, kp: (await mls.generateKeyPackages(keys, 1))[0] });
  }

  let t = performance.now();
  const out = await first.pending.add(joiners.map((j) => j.kp.publicMessage));
  const addMs = performance.now() - t;

  t = performance.now();
  await peerSession.process(out.commit);
  const processMs = performance.now() - t;

  const joiner = joiners[joiners.length - 1];
  t = performance.now();
  await mls.joinFromWelcome(joiner.keys, out.welcome!, joiner.kp, out.ratchetTree);
  const joinMs = performance.now() - t;

  return { addMs, processMs, joinMs, commitBytes: out.commit.length, welcomeBytes: out.welcome!.length };
}

/** 1 KB application messages: one member encrypts, the other decrypts; pairs per second. */
export async function benchMessages(engine: MlsEngine, count = 500): Promise<{ pairsPerSec: number }> {
  const a = await engine.newDeviceKeys('mimi://bench.example/d/msg-a/1');
  const b = await engine.newDeviceKeys('mimi://bench.example/d/msg-b/1');
  const [kp] = await engine.generateKeyPackages(b, 1);
  const added = await (await engine.createGroup(a, 'mimi://bench.example/r/messages')).add([kp.publicMessage]);
  let sender = added.pending;
  let receiver = await engine.joinFromWelcome(b, added.welcome!, kp, added.ratchetTree);
  const body = new Uint8Array(1024).fill(7);
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    const sent = await sender.encrypt(body);
    sender = sent.session;
    receiver = (await receiver.process(sent.message)).session;
  }
  return { pairsPerSec: count / ((performance.now() - t) / 1000) };
}

/** KeyPackages generated per second for one device (what refilling the provider's stock costs). */
export async function benchKeyPackages(engine: MlsEngine, count = 200): Promise<{ perSec: number }> {
  const keys = await engine.newDeviceKeys('mimi://bench.example/d/kp/1');
  const t = performance.now();
  await engine.generateKeyPackages(keys, count);
  return { perSec: count / ((performance.now() - t) / 1000) };
}
