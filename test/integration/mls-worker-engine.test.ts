// The MLS engine in a worker thread (src-main/mls/worker-engine.ts) and the app's engine that puts
// large groups there (split-engine.ts): the engine's own tests again through the app's engine
// (test/helpers/mls-engine.ts), then what only they have: groups moving to the worker as they
// grow, sessions released with their proxies, the main thread left free during a big commit, and
// clear errors when the worker cannot take a call.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createWorkerMlsEngine } from '../../src-main/mls/worker-engine.js';
import { createMlsEngine as createInProcess } from '../../src-main/mls/ts-mls-engine.js';
import { createSplitMlsEngine, sessionPlace } from '../../src-main/mls/split-engine.js';
import { MlsError, type GroupSession, type MlsEngine } from '../../src-main/mls/engine.js';
import { fromUtf8, utf8 } from '../../src-shared/bytes.js';
import path from 'node:path';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { GroupSessions } from '../../src-main/core/group-sessions.js';
import { tempDir } from '../helpers/provider-process.js';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.env.MIMI_TEST_MLS_ENGINE = 'worker';
await import('../unit/mls-engine.test.js');
await import('../unit/mls-engine-room-state.test.js');
await import('../unit/mls-engine-pseudonyms.test.js');

const ROOM = 'mimi://a.example/r/worker';
const device = (name: string) => `mimi://a.example/d/${name}/1`;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function pair(engine: MlsEngine): Promise<{ alice: GroupSession; bob: GroupSession }> {
  const [a, b] = await Promise.all(['alice', 'bob'].map((n) => engine.newDeviceKeys(device(n))));
  const [kp] = await engine.generateKeyPackages(b, 1);
  const out = await (await engine.createGroup(a, ROOM)).add([kp.publicMessage]);
  return { alice: out.pending, bob: await engine.joinFromWelcome(b, out.welcome!, kp, out.ratchetTree) };
}

test('sessions live in the worker until their proxies are collected', async () => {
  const engine = await createWorkerMlsEngine();
  try {
    let { alice, bob } = await pair(engine);
    const kept: GroupSession[] = [];
    for (let i = 0; i < 100; i++) {
      const sent = await alice.encrypt(utf8(`m${i}`));
      const got = await bob.process(sent.message);
      assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), `m${i}`);
      kept.push(alice, bob);
      alice = sent.session;
      bob = got.session;
    }
    // Every message made a session on each side, each held in the worker while its proxy lives.
    const before = engine.heldSessions();
    kept.length = 0;
    let after = before;
    for (let round = 0; round < 50 && after > 10; round++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
      after = engine.heldSessions();
    }
    assert.ok(before >= 200, `the worker held ${before} sessions while their proxies lived`);
    assert.ok(after <= 10, `the worker still holds ${after} sessions after the proxies were collected`);
    // The live ones still work.
    const last = await alice.encrypt(utf8('still here'));
    const got = await bob.process(last.message);
    assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), 'still here');
  } finally {
    await engine.close();
  }
});

/** The main thread's event-loop utilisation while `work` runs: near 1 when it does the work itself. */
async function mainThreadBusy(work: () => Promise<unknown>): Promise<number> {
  const start = performance.eventLoopUtilization();
  await work();
  return performance.eventLoopUtilization(start).utilization;
}

test('a commit adding 150 members keeps the main thread free when the engine is in the worker', async () => {
  const busy: Record<string, number> = {};
  for (const [name, engine] of [
    ['worker', await createWorkerMlsEngine()],
    ['in process', await createInProcess()],
  ] as const) {
    const creator = await engine.newDeviceKeys(device('creator'));
    const group = await engine.createGroup(creator, ROOM);
    const joiners = await Promise.all(Array.from({ length: 150 }, (_, i) => engine.newDeviceKeys(device(`j${i}`))));
    const kps = (await Promise.all(joiners.map((k) => engine.generateKeyPackages(k, 1)))).map(([kp]) => kp.publicMessage);
    let out: Awaited<ReturnType<GroupSession['add']>> | undefined;
    busy[name] = await mainThreadBusy(async () => {
      out = await group.add(kps);
    });
    assert.equal(out!.pending.members().length, 151);
    await engine.close?.();
  }
  // In process the main thread runs the whole commit (yielding between slices, still busy); with
  // the worker it only posts the request and takes the reply.
  assert.ok(busy['worker'] < 0.5, `main thread busy ${(busy['worker'] * 100).toFixed(0)}% with the worker`);
  assert.ok(busy['in process'] > busy['worker'], `in process ${(busy['in process'] * 100).toFixed(0)}%, worker ${(busy['worker'] * 100).toFixed(0)}%`);
});

test('a closed engine, and arguments that cannot reach the worker, give clear errors', async () => {
  const engine = await createWorkerMlsEngine();
  const { alice } = await pair(engine);
  await assert.rejects(alice.encrypt((() => 1) as unknown as Uint8Array), (err: unknown) => err instanceof MlsError && err.code === 'invalid' && /cannot take/.test(err.message));
  // Nothing changed: the session still sends.
  assert.ok((await alice.encrypt(utf8('fine'))).message.length > 0);

  const state = alice.encode();
  const inFlight = alice.update().then(
    () => 'finished',
    (err: unknown) => err,
  );
  await engine.close();
  const outcome = await inFlight;
  assert.ok(outcome instanceof MlsError && /closed/.test(outcome.message), `a commit in flight when the engine closed: ${String(outcome)}`);
  await assert.rejects(alice.encrypt(utf8('late')), /closed/);
  assert.throws(() => engine.restore(state), /closed/);
  // The state it gave out is whole: another engine carries on from it.
  const other = await createWorkerMlsEngine();
  try {
    const restored = other.restore(state);
    assert.equal(restored.epoch, alice.epoch);
    assert.deepEqual(restored.members().map((m) => m.identity), alice.members().map((m) => m.identity));
    assert.ok((await restored.encrypt(utf8('after restore'))).message.length > 0);
  } finally {
    await other.close();
  }
});

test('the app engine keeps small groups in this thread and moves a group to the worker as it grows', async () => {
  const split = await createSplitMlsEngine({ workerFrom: 4 });
  const plain = await createInProcess();
  try {
    const talk = async (from: GroupSession, to: GroupSession, text: string) => {
      const sent = await from.encrypt(utf8(text));
      const got = await to.process(sent.message);
      assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), text);
      return [sent.session, got.session] as const;
    };
    const others = await Promise.all(['bob', 'carol', 'dave', 'erin'].map((n) => plain.newDeviceKeys(device(n))));
    const kps = await Promise.all(others.map(async (k) => (await plain.generateKeyPackages(k, 1))[0]));

    // Alice (split engine) and Bob (in process): two members, both of Alice's sessions here.
    let a = await split.createGroup(await split.newDeviceKeys(device('alice')), ROOM);
    assert.equal(sessionPlace(a), 'here');
    const first = await a.add([kps[0].publicMessage]);
    a = first.pending;
    let b = await plain.joinFromWelcome(others[0], first.welcome!, kps[0], first.ratchetTree);
    [a, b] = await talk(a, b, 'two of us');
    assert.equal(sessionPlace(a), 'here');
    const heldBefore = split.worker.heldSessions();

    // Bob's commit makes the group five: Alice's session moves before processing it.
    const grow = await b.add(kps.slice(1).map((k) => k.publicMessage));
    b = grow.pending;
    const processed = await a.process(grow.commit);
    assert.equal(processed.result.kind, 'commit');
    a = processed.session;
    assert.equal(sessionPlace(a), 'worker');
    assert.ok(split.worker.heldSessions() > heldBefore, 'the worker holds the moved session');
    assert.equal(a.members().length, 5);
    [a, b] = await talk(a, b, 'five of us, Alice in the worker');
    [b, a] = await talk(b, a, 'and back');

    // Restoring places a session by the size of its state; both places continue the group.
    assert.equal(sessionPlace(split.restore(a.encode())), 'worker');
    const restored = split.restore(a.encode());
    [, b] = await talk(restored, b, 'from a restored session');

    // A small group that Alice grows herself moves before her commit, which the others process.
    let small = await split.createGroup(await split.newDeviceKeys(device('alice2')), `${ROOM}-2`);
    const more = await Promise.all(others.slice(0, 3).map(async (k) => (await plain.generateKeyPackages(k, 1))[0]));
    const own = await small.add(more.map((k) => k.publicMessage));
    small = own.pending;
    assert.equal(sessionPlace(small), 'worker');
    const joined = await plain.joinFromWelcome(others[1], own.welcome!, more[1], own.ratchetTree);
    await talk(small, joined, 'grown by my own commit');
    assert.equal(sessionPlace(split.restore(joined.encode())), 'worker', 'a joiner of a big group restores into the worker');
    // Below the size, a restored state stays here.
    assert.equal(sessionPlace(split.restore((await split.createGroup(await split.newDeviceKeys(device('solo')), `${ROOM}-3`)).encode())), 'here');
  } finally {
    await split.close();
  }
});

test('a worker that dies is replaced, and every session carries on from its last state', async () => {
  const engine = await createWorkerMlsEngine();
  try {
    let { alice, bob } = await pair(engine);
    const talk = async (text: string) => {
      const sent = await alice.encrypt(utf8(text));
      const got = await bob.process(sent.message);
      assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), text);
      alice = sent.session;
      bob = got.session;
    };
    await talk('before');
    await engine.terminateWorker();
    assert.equal(engine.restarts, 1);
    // Both sessions are adopted by the new worker from the states they hold.
    await talk('after the first restart');
    assert.equal(alice.withIdentityLinkKeys([]).epoch, alice.epoch, 'a synchronous call adopts too');

    // An operation the worker was running when it died fails, saying what to do; nothing else does.
    const joiners = await Promise.all(Array.from({ length: 100 }, (_, i) => engine.newDeviceKeys(device(`late${i}`))));
    const kps = (await engine.generateKeyPackages(joiners[0], 1)).concat(...(await Promise.all(joiners.slice(1).map((k) => engine.generateKeyPackages(k, 1)))));
    const inFlight = alice.add(kps.map((k) => k.publicMessage)).then(
      () => 'finished',
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 5));
    await engine.terminateWorker();
    const outcome = await inFlight;
    assert.ok(outcome instanceof MlsError && /restarted: try again/.test(outcome.message), `the add in flight: ${String(outcome)}`);
    assert.equal(engine.restarts, 2);
    await talk('after the second restart');
    const restored = engine.restore(bob.encode());
    assert.equal(restored.epoch, bob.epoch);
  } finally {
    await engine.close();
  }
});

test('big rooms are restored in the worker before use, small ones on first use', async () => {
  const split = await createSplitMlsEngine({ workerFrom: 3 });
  const memory = new Map<string, Uint8Array>();
  const store: SecretStore = { mode: 'plaintext', get: async (k) => memory.get(k) ?? null, set: async (k, v) => void memory.set(k, v), delete: async (k) => void memory.delete(k) };
  const db = new ProfileDb(path.join(tempDir('mls-warm'), 'mimi.db'), await Vault.open(store));
  try {
    const alice = await split.newDeviceKeys(device('alice'));
    const joiners = await Promise.all(['bob', 'carol', 'dave'].map((n) => split.newDeviceKeys(device(n))));
    const kps = await Promise.all(joiners.map(async (k) => (await split.generateKeyPackages(k, 1))[0].publicMessage));
    const big = (await (await split.createGroup(alice, `${ROOM}-big`)).add(kps)).pending;
    const small = await split.createGroup(alice, `${ROOM}-small`);
    const left = (await (await split.createGroup(alice, `${ROOM}-left`)).add(kps)).pending;
    for (const s of [big, small, left]) db.insertRoom({ roomUri: s.groupId, name: '', hubDomain: 'a.example', epoch: s.epoch, groupState: s.encode() });
    db.markLeft(left.groupId);
    const held = split.worker.heldSessions();

    const sessions = new GroupSessions(db, split);
    await sessions.warm();
    const warmed = split.worker.heldSessions() - held;
    const bigSession = sessions.get(big.groupId);
    assert.equal(sessionPlace(bigSession), 'worker');
    assert.equal(split.worker.heldSessions() - held, warmed, 'first use of the big room restored nothing more');
    assert.equal(sessions.get(big.groupId), bigSession);
    assert.equal(bigSession.epoch, big.epoch);
    assert.equal(sessionPlace(sessions.get(small.groupId)), 'here', 'the small room was restored on first use, here');
    assert.equal(warmed, 1, 'only the big room this device is in was restored ahead (not the one it left)');

    // A room used while warming keeps the session its use made.
    const again = new GroupSessions(db, split);
    const warming = again.warm();
    const used = again.get(big.groupId);
    await warming;
    assert.equal(again.get(big.groupId), used);
  } finally {
    db.close();
    await split.close();
  }
});

// The Electron main process starts out/main/mls-engine-worker.js (electron.vite.config.ts): a
// worker thread is the same in Electron's Node as here, so the built file is run with plain Node.
const builtWorker = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../out/main/mls-engine-worker.js');
test('the Electron build\'s MLS worker starts and runs a group', { skip: fs.existsSync(builtWorker) ? false : `no app build (${builtWorker}): npm test builds it first` }, async () => {
  const engine = await createWorkerMlsEngine({ script: pathToFileURL(builtWorker) });
  try {
    assert.equal(engine.provider, 'node');
    const { alice, bob } = await pair(engine);
    const sent = await alice.encrypt(utf8('from the build'));
    const got = await bob.process(sent.message);
    assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), 'from the build');
  } finally {
    await engine.close();
  }
});
