// The MLS engine in a worker thread (engine-worker.ts), seen from the main thread as an ordinary
// MlsEngine. Why: with synchronous node:crypto a 1,000-member commit is ~0.5 s of CPU, and even cut
// into 5 ms turns (cooperative.ts) the garbage it leaves stalls the main thread's event loop for
// 20-40 ms at a time (V8 scavenges, and mark-compacts of 60-86 ms once several such commits ran in
// one process). The Electron main process serves IPC and every account's push stream, so those
// stalls are the app's. In the worker both the work and its garbage are on another thread and
// heap; the main thread only posts the request and takes the reply.
//
// The worker owns the sessions. Handing a 1,000-member session over per operation would cost more
// than it saves (encode + restore, 11-22 ms), so each session stays in the worker and the main
// thread holds a proxy: a handle plus a view with everything the synchronous half of GroupSession
// answers (epoch, members, extensions, pending proposals, identity link keys, and the encoding that
// encode() returns, made in the worker and transferred, not copied). Members and extensions travel
// only when an operation changed them. Proxies that are collected release their sessions.
//
// Four calls must answer synchronously: restore(), keyPackageIdentity(), withIdentityLinkKeys() and
// identityLinks() (once per session). They post their request and wait on an Atomics flag for a
// reply on a port of their own: a round trip of well under a millisecond when the worker is idle,
// and at most one worker turn (its yield budget, 5 ms) when it is busy.

import fs from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import {
  MlsError,
  settleIdentityLinks,
  type CommitOutput,
  type DeviceKeys,
  type GeneratedKeyPackage,
  type GroupSession,
  type IdentityLinkKey,
  type Incoming,
  type Member,
  type MemberIdentityLink,
  type MlsEngine,
} from './engine.js';
import type { ProviderName } from './crypto-selftest.js';
import type { WorkerData } from './engine-worker.js';
import { fromWireError, SESSION, WORKER_DYING, type Extension, type Ready, type Reply, type Request, type SessionView } from './worker-protocol.js';

/** How long a synchronous call waits for the worker before it gives up (it answers in ms when alive). */
const SYNC_TIMEOUT_MS = 60_000;

type Call = Exclude<Request, { drop: number[] }>;
type Target = Call['target'];

export interface WorkerEngineOptions {
  forceProvider?: ProviderName;
  order?: readonly ProviderName[];
  /** The worker bundle to run instead of the one found beside this module (tests of a build). */
  script?: URL;
}

/** A running worker: its thread, and the port and flag of its synchronous replies. */
interface Spawned {
  worker: Worker;
  syncPort: MessagePort;
  syncFlag: Int32Array;
  ready: Extract<Ready, { ready: true }>;
}

/** Starts the worker and waits until its engine passed the crypto self test. */
export async function createWorkerMlsEngine(opts: WorkerEngineOptions = {}): Promise<WorkerMlsEngine> {
  return new WorkerMlsEngine(await spawn(opts), opts);
}

async function spawn(opts: WorkerEngineOptions): Promise<Spawned> {
  const { port1, port2 } = new MessageChannel();
  const syncFlag = new SharedArrayBuffer(4);
  const { script, ...engine } = opts;
  const data: WorkerData = { syncPort: port2, syncFlag, engine };
  const worker = script ? new Worker(script, { workerData: data, transferList: [port2] }) : startWorker(data, [port2]);
  const ready = await new Promise<Ready>((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`the MLS worker exited (code ${code}) before it started`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (m: Ready) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      resolve(m);
    });
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  if (!ready.ready) {
    await worker.terminate();
    throw fromWireError(ready.error);
  }
  return { worker, syncPort: port1, syncFlag: new Int32Array(syncFlag), ready };
}

/**
 * The worker script: the TypeScript source through tsx when this module runs from source (tests,
 * `npm start`), else the bundle built next to this one (out/main for Electron, test/.bundled).
 */
function startWorker(data: WorkerData, transferList: MessagePort[]): Worker {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) {
    // A worker does not inherit hooks registered with tsx's API (nor reliably --import ones before
    // its entry loads), so the entry registers tsx itself first.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./engine-worker.ts', here).href;
    const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { eval: true, workerData: data, transferList });
  }
  // Beside this module, or beside the chunks folder it may have been split into.
  for (const name of ['./mls-engine-worker.js', './mls-engine-worker.mjs', '../mls-engine-worker.js', '../mls-engine-worker.mjs']) {
    const file = new URL(name, here);
    if (fs.existsSync(file)) return new Worker(file, { workerData: data, transferList });
  }
  throw new Error(`the MLS worker bundle (mls-engine-worker.js) is missing next to ${here.pathname}: rebuild the app (npm run build)`);
}

/** Which worker a session's handle belongs to; a session of a worker that died is adopted again. */
interface Slot {
  handle: number;
  generation: number;
  /** A re-adoption under way (two calls on a stale session share it). */
  adopting?: Promise<void>;
}

/** Restarts after a crash within this span count towards giving up. */
const CRASH_WINDOW_MS = 60_000;
const MAX_CRASHES = 3;

export class WorkerMlsEngine implements MlsEngine {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Set for good: closed, or the worker kept crashing. */
  private stopped: Error | undefined;
  private current!: Spawned;
  /** Bumped by every restart: handles of an older generation name sessions of a dead worker. */
  private generation = 0;
  private restarting: Promise<void> | undefined;
  private readonly crashes: number[] = [];
  /** A collected proxy releases its session in the worker. */
  private readonly released = new FinalizationRegistry<Slot>((slot) => this.drop(slot));
  private dropping: number[] = [];
  readonly provider: ProviderName;
  readonly webcryptoFailure?: string;

  constructor(
    first: Spawned,
    private readonly opts: WorkerEngineOptions,
  ) {
    this.provider = first.ready.provider;
    this.webcryptoFailure = first.ready.webcryptoFailure;
    this.attach(first);
  }

  /** Times the worker was restarted after it died. */
  get restarts(): number {
    return this.generation;
  }

  private attach(spawned: Spawned): void {
    this.current = spawned;
    const { worker, syncPort } = spawned;
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (err) => this.crashed(worker, err.message));
    worker.on('exit', (code) => this.crashed(worker, `exit code ${code}`));
    // Idle, the worker must not keep the process alive; with calls outstanding it must. (After the
    // listeners: adding a 'message' listener refs the worker's port again.) The sync port is only
    // ever read synchronously.
    worker.unref();
    syncPort.unref();
  }

  /**
   * The worker died (a bug, or out of memory): the calls it was running fail, and a new worker
   * takes over. Every session proxy still holds its state as encoded after its last operation, so
   * it is adopted by the new worker at its next call: nothing the app saved is lost.
   */
  private crashed(worker: Worker, why: string): void {
    if (worker !== this.current.worker || this.stopped) return; // closing, or already handled
    const now = Date.now();
    this.crashes.push(now);
    while (this.crashes.length > 0 && this.crashes[0] < now - CRASH_WINDOW_MS) this.crashes.shift();
    const failed = new MlsError('invalid', `the MLS worker stopped during this operation (${why}); it was restarted: try again`);
    for (const w of this.waiting.values()) w.reject(failed);
    this.waiting.clear();
    if (this.crashes.length > MAX_CRASHES) {
      this.stop(new MlsError('invalid', `the MLS worker stopped ${this.crashes.length} times in a minute (last: ${why}); restart the app`));
      void worker.terminate();
      return;
    }
    void worker.terminate(); // after an 'error' it may still be exiting
    this.restarting = spawn(this.opts).then(
      (next) => {
        if (this.stopped) {
          void next.worker.terminate(); // closed while it started
          return;
        }
        this.generation++;
        this.dropping = [];
        this.attach(next);
      },
      (err: unknown) => this.stop(new MlsError('invalid', `the MLS worker could not be restarted (${(err as Error).message}); restart the app`)),
    );
    void this.restarting.finally(() => {
      this.restarting = undefined;
    });
  }

  /** Stops the worker the way a crash would (tests; the sessions carry on in a new worker). */
  async terminateWorker(): Promise<void> {
    const { worker } = this.current;
    const exited = new Promise((r) => worker.once('exit', r));
    await worker.terminate();
    await exited;
    await this.restarting;
  }

  newDeviceKeys(identity: string): Promise<DeviceKeys> {
    return this.call('engine', 'newDeviceKeys', [identity]) as Promise<DeviceKeys>;
  }

  newPseudonymousKeys(device: DeviceKeys, pseudonyms: { client: string; user: string }): Promise<DeviceKeys> {
    return this.call('engine', 'newPseudonymousKeys', [device, pseudonyms]) as Promise<DeviceKeys>;
  }

  generateKeyPackages(keys: DeviceKeys, count: number, opts?: { connectionOnly?: boolean }): Promise<GeneratedKeyPackage[]> {
    return this.call('engine', 'generateKeyPackages', [keys, count, opts]) as Promise<GeneratedKeyPackage[]>;
  }

  keyPackageRef(publicMessage: Uint8Array): Promise<Uint8Array> {
    return this.call('engine', 'keyPackageRef', [publicMessage]) as Promise<Uint8Array>;
  }

  keyPackageIdentity(publicMessage: Uint8Array): string {
    return this.callSync('engine', 'keyPackageIdentity', [publicMessage]) as string;
  }

  async createGroup(keys: DeviceKeys, groupId: string, extensions?: Extension[]): Promise<GroupSession> {
    return this.unpack(await this.call('engine', 'createGroup', [keys, groupId, extensions]), undefined) as GroupSession;
  }

  async joinFromWelcome(keys: DeviceKeys, welcome: Uint8Array, keyPackage: GeneratedKeyPackage, ratchetTree?: Uint8Array): Promise<GroupSession> {
    return this.unpack(await this.call('engine', 'joinFromWelcome', [keys, welcome, keyPackage, ratchetTree]), undefined) as GroupSession;
  }

  async joinExternal(
    keys: DeviceKeys,
    groupInfo: Uint8Array,
    ratchetTree: Uint8Array,
    opts?: { leafExtensions?: Extension[] },
  ): Promise<{ pending: GroupSession; commit: Uint8Array; newEpoch: bigint }> {
    return this.unpack(await this.call('engine', 'joinExternal', [keys, groupInfo, ratchetTree, opts]), undefined) as {
      pending: GroupSession;
      commit: Uint8Array;
      newEpoch: bigint;
    };
  }

  restore(encoded: Uint8Array): GroupSession {
    if (!(encoded instanceof Uint8Array)) throw new MlsError('malformed', 'a session state is bytes');
    const mine = encoded.slice(); // encode() answers from it: the caller may reuse its buffer
    return this.restored(this.callSync('engine', 'restore', [mine]), mine);
  }

  /** restore() without blocking this thread: how a session of this thread moves to the worker (split-engine.ts). */
  async adopt(encoded: Uint8Array): Promise<GroupSession> {
    const mine = encoded.slice();
    return this.restored(await this.call('engine', 'restore', [mine]), mine);
  }

  /** The proxy of a session the worker restored from `encoded` (its reply carries no encoding). */
  private restored(reply: unknown, encoded: Uint8Array): WorkerSession {
    return this.session({ ...(reply as Record<string, SessionView>)[SESSION], encoded }, undefined);
  }

  /** Sessions the worker holds: one per live proxy, give or take those not yet collected. */
  heldSessions(): number {
    return this.callSync('engine', 'heldSessions', []) as number;
  }

  async close(): Promise<void> {
    this.stop(new MlsError('invalid', 'the MLS engine was closed'));
    await this.restarting;
    await this.current.worker.terminate();
  }

  // --- plumbing used by the session proxies ---

  /** Runs `method` in the worker; rejects with the error the engine threw there. */
  async call(target: Target, method: Call['method'], args: unknown[]): Promise<unknown> {
    if (this.restarting) await this.restarting;
    if (this.stopped) throw this.stopped;
    const id = this.nextId++;
    const { worker } = this.current;
    return new Promise((resolve, reject) => {
      try {
        worker.postMessage({ id, sync: false, target, method, args } as Call);
      } catch (err) {
        reject(uncloneable(err));
        return;
      }
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
    });
  }

  /** The same, blocking this thread until the worker answers (see the header comment). */
  callSync(target: Target, method: Call['method'], args: unknown[]): unknown {
    if (this.stopped) throw this.stopped;
    this.checkRestarting();
    const id = this.nextId++;
    const { worker, syncFlag, syncPort } = this.current;
    Atomics.store(syncFlag, 0, 0);
    try {
      worker.postMessage({ id, sync: true, target, method, args } as Call);
    } catch (err) {
      throw uncloneable(err);
    }
    for (;;) {
      if (Atomics.wait(syncFlag, 0, 0, SYNC_TIMEOUT_MS) === 'timed-out') {
        throw new MlsError('invalid', `the MLS engine did not answer within ${SYNC_TIMEOUT_MS / 1000} s; restart the app`);
      }
      if (Atomics.load(syncFlag, 0) === WORKER_DYING) {
        throw new MlsError('invalid', 'the MLS worker stopped during this operation; it is being restarted: try again in a moment');
      }
      // Replies of earlier calls that timed out may be queued before ours.
      for (let got = receiveMessageOnPort(syncPort); got !== undefined; got = receiveMessageOnPort(syncPort)) {
        const reply = got.message as Reply;
        if (reply.id !== id) continue;
        if (!reply.ok) throw fromWireError(reply.error);
        return reply.value;
      }
      Atomics.store(syncFlag, 0, 0);
    }
  }

  /** The session's handle in the running worker: a session of a worker that died is adopted again from its state. */
  async live(slot: Slot, encoded: Uint8Array): Promise<number> {
    if (this.restarting) await this.restarting;
    if (slot.generation === this.generation) return slot.handle;
    slot.adopting ??= this.call('engine', 'restore', [encoded.slice()])
      .then((value) => this.readopted(slot, value))
      .finally(() => {
        slot.adopting = undefined;
      });
    await slot.adopting;
    return slot.handle;
  }

  /** The same for the synchronous calls (which cannot wait for a restart under way). */
  liveSync(slot: Slot, encoded: Uint8Array): number {
    if (slot.generation !== this.generation) this.readopted(slot, this.callSync('engine', 'restore', [encoded.slice()]));
    return slot.handle;
  }

  private readopted(slot: Slot, value: unknown): void {
    slot.handle = (value as Record<string, SessionView>)[SESSION].handle;
    slot.generation = this.generation;
  }

  private checkRestarting(): void {
    if (this.restarting && !this.stopped) throw new MlsError('invalid', 'the MLS worker is restarting after a crash; try again in a moment');
  }

  /** Replaces the views in a reply by proxies; `parent` gave the operation its session. */
  unpack(value: unknown, parent: WorkerSession | undefined): unknown {
    const viewIn = (v: unknown) => (v !== null && typeof v === 'object' && SESSION in v ? ((v as Record<string, SessionView>)[SESSION] as SessionView) : undefined);
    const top = viewIn(value);
    if (top) return this.session(top, parent);
    if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value)) {
      const out = value as Record<string, unknown>;
      for (const k of ['session', 'pending']) {
        const v = viewIn(out[k]);
        if (v) out[k] = this.session(v, parent);
      }
    }
    return value;
  }

  private session(v: SessionView, parent: WorkerSession | undefined): WorkerSession {
    const members = v.members ?? parent?.view.members;
    const extensions = v.extensions ?? parent?.view.extensions;
    if (!members || !extensions || !v.encoded) throw new Error('MLS worker: a session view without its members, extensions or state');
    const slot: Slot = { handle: v.handle, generation: this.generation };
    const s = new WorkerSession(this, { ...v, members, extensions, encoded: v.encoded }, slot);
    this.released.register(s, slot);
    return s;
  }

  private drop(slot: Slot): void {
    // A dead worker's sessions went with it.
    if (this.stopped || slot.generation !== this.generation) return;
    // Collected proxies come in bursts (every message makes a session): one post per burst.
    if (this.dropping.push(slot.handle) > 1) return;
    setImmediate(() => {
      const drop = this.dropping;
      this.dropping = [];
      if (!this.stopped && !this.restarting && drop.length > 0) this.current.worker.postMessage({ drop } satisfies Request);
    });
  }

  private settle(reply: Reply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.current.worker.unref();
    if (reply.ok) w.resolve(reply.value);
    else w.reject(fromWireError(reply.error));
  }

  private stop(err: Error): void {
    if (this.stopped) return;
    this.stopped = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.current.worker.unref();
  }
}

function uncloneable(err: unknown): MlsError {
  return new MlsError('invalid', `arguments the MLS engine cannot take: ${(err as Error).message}`);
}

type FullView = SessionView & { members: Member[]; extensions: Extension[]; encoded: Uint8Array };

/** A GroupSession held by the worker: the synchronous half from its view, the rest a call away. */
class WorkerSession implements GroupSession {
  private opened: MemberIdentityLink[] | undefined;

  constructor(
    private readonly engine: WorkerMlsEngine,
    readonly view: FullView,
    private readonly slot: Slot,
  ) {}

  get groupId(): string {
    return this.view.groupId;
  }

  get epoch(): bigint {
    return this.view.epoch;
  }

  get ownLeafIndex(): number {
    return this.view.ownLeafIndex;
  }

  // Copies of lists (callers may sort or filter them); the Member objects and extension bytes are
  // shared, as the engine in this thread shares them (room-state caches key on the bytes).
  members(): Member[] {
    return this.view.members.slice();
  }

  extensions(): Extension[] {
    return this.view.extensions.map((e) => ({ type: e.type, data: e.data }));
  }

  pendingProposals(): number {
    return this.view.pendingProposals;
  }

  pendingRemovesSelf(): boolean {
    return this.view.pendingRemovesSelf;
  }

  pendingRemovals(): { identity: string; departed: boolean; byHub: boolean }[] {
    return this.view.pendingRemovals.map((r) => ({ ...r }));
  }

  pendingHubExtensions(): Extension[] | undefined {
    return this.view.pendingHubExtensions?.map((e) => ({ type: e.type, data: e.data.slice() }));
  }

  identityLinkKeys(): IdentityLinkKey[] {
    return this.view.identityLinkKeys.map((k) => ({ epoch: k.epoch, key: k.key.slice() }));
  }

  encode(): Uint8Array {
    return this.view.encoded.slice();
  }

  identityLinks(opts: { authenticate?: (deviceUri: string, deviceSignatureKey: Uint8Array) => boolean } = {}): MemberIdentityLink[] {
    // Sessions are immutable: the links are opened once, in the worker; `authenticate` runs here.
    if (!this.view.members.some((m) => m.pseudonym)) return [];
    this.opened ??= this.engine.callSync(this.engine.liveSync(this.slot, this.view.encoded), 'openedIdentityLinks', []) as MemberIdentityLink[];
    return settleIdentityLinks(this.opened, opts.authenticate);
  }

  withIdentityLinkKeys(keys: IdentityLinkKey[]): GroupSession {
    return this.engine.unpack(this.engine.callSync(this.engine.liveSync(this.slot, this.view.encoded), 'withIdentityLinkKeys', [keys]), this) as GroupSession;
  }

  proposeRemove(identities: string[]): Promise<{ session: GroupSession; proposals: Uint8Array[] }> {
    return this.run('proposeRemove', [identities]) as Promise<{ session: GroupSession; proposals: Uint8Array[] }>;
  }

  encrypt(plaintext: Uint8Array, authenticatedData?: Uint8Array): Promise<{ session: GroupSession; message: Uint8Array }> {
    return this.run('encrypt', [plaintext, authenticatedData]) as Promise<{ session: GroupSession; message: Uint8Array }>;
  }

  process(message: Uint8Array): Promise<{ session: GroupSession; result: Incoming }> {
    return this.run('process', [message]) as Promise<{ session: GroupSession; result: Incoming }>;
  }

  add(keyPackages: Uint8Array[], authenticatedData?: Uint8Array): Promise<CommitOutput> {
    return this.run('add', [keyPackages, authenticatedData]) as Promise<CommitOutput>;
  }

  remove(identities: string[]): Promise<CommitOutput> {
    return this.run('remove', [identities]) as Promise<CommitOutput>;
  }

  commitChanges(changes: { add?: Uint8Array[]; remove?: string[]; extensions?: Extension[]; authenticatedData?: Uint8Array }): Promise<CommitOutput> {
    return this.run('commitChanges', [changes]) as Promise<CommitOutput>;
  }

  update(): Promise<CommitOutput> {
    return this.run('update', []) as Promise<CommitOutput>;
  }

  groupInfo(): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
    return this.run('groupInfo', []) as Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }>;
  }

  publishIdentityLink(keys: DeviceKeys): Promise<CommitOutput> {
    return this.run('publishIdentityLink', [keys]) as Promise<CommitOutput>;
  }

  private async run(method: Call['method'], args: unknown[]): Promise<unknown> {
    return this.engine.unpack(await this.engine.call(await this.engine.live(this.slot, this.view.encoded), method, args), this);
  }
}
