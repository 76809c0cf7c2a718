// The app's MLS engine: small groups in this thread, large ones in the worker (worker-engine.ts).
//
// Why split: the worker keeps a big commit, and the garbage it leaves, off the main thread's event
// loop (a 1,000-member commit made and processed: max loop delay 6-11 ms instead of 20-40 ms here).
// But each call to it is a hop between threads and back, ~0.2 ms per operation on this VM: +0.5 ms
// on every message's round trip, for rooms whose operations take well under a millisecond in this
// thread and never stall it. So a group lives here while it has fewer than `workerFrom` members
// (default 100), and in the worker from then on.
//
// A session moves to the worker (once: its state encoded here, restored there without blocking
// this thread) before an operation that would make it big: adding enough members, or processing a
// commit large enough to (a PublicMessage of ~300 bytes per member it could add). After any
// operation here, a session that reached the size moves too. Restoring and joining pick the place
// from the size of the state or ratchet tree (a big group restored here moves at its next
// operation). Sessions never move back: a group that shrank below the size stays in the worker
// until the next restore.

import {
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
import { createMlsEngine } from './ts-mls-engine.js';
import { createWorkerMlsEngine, type WorkerEngineOptions, type WorkerMlsEngine } from './worker-engine.js';
import type { Extension } from './worker-protocol.js';

export const DEFAULT_WORKER_FROM = 100;

// Sizes measured on our encodings (ratchet tree ~200 bytes per member, a session's state 280-400,
// a commit ~300 per member it adds): the lower bounds, so a big group never stays here.
const TREE_BYTES_PER_MEMBER = 190;
const STATE_BYTES_PER_MEMBER = 280;
const COMMIT_BYTES_PER_ADD = 290;
/** KeyPackages made in one call above which the worker makes them (~1 ms of CPU each). */
const KEY_PACKAGES_HERE = 16;

export interface SplitEngineOptions extends WorkerEngineOptions {
  /** Groups with at least this many members live in the worker; 0: every group does. */
  workerFrom?: number;
}

export async function createSplitMlsEngine(opts: SplitEngineOptions = {}): Promise<SplitMlsEngine> {
  const { workerFrom = DEFAULT_WORKER_FROM, ...engineOpts } = opts;
  if (!Number.isInteger(workerFrom) || workerFrom < 0) throw new RangeError(`workerFrom must be a whole number of members, got ${workerFrom}`);
  const [local, worker] = await Promise.all([createMlsEngine(engineOpts), createWorkerMlsEngine(engineOpts)]);
  return new SplitMlsEngine(local, worker, workerFrom);
}

export class SplitMlsEngine implements MlsEngine {
  constructor(
    private readonly local: MlsEngine,
    readonly worker: WorkerMlsEngine,
    readonly workerFrom: number,
  ) {}

  get provider() {
    return this.local.provider;
  }

  newDeviceKeys(identity: string): Promise<DeviceKeys> {
    return this.local.newDeviceKeys(identity);
  }

  newPseudonymousKeys(device: DeviceKeys, pseudonyms: { client: string; user: string }): Promise<DeviceKeys> {
    return this.local.newPseudonymousKeys(device, pseudonyms);
  }

  generateKeyPackages(keys: DeviceKeys, count: number, opts?: { connectionOnly?: boolean }): Promise<GeneratedKeyPackage[]> {
    return (count > KEY_PACKAGES_HERE ? this.worker : this.local).generateKeyPackages(keys, count, opts);
  }

  keyPackageRef(publicMessage: Uint8Array): Promise<Uint8Array> {
    return this.local.keyPackageRef(publicMessage);
  }

  keyPackageIdentity(publicMessage: Uint8Array): string {
    return this.local.keyPackageIdentity(publicMessage);
  }

  async createGroup(keys: DeviceKeys, groupId: string, extensions?: Extension[]): Promise<GroupSession> {
    return this.place(await this.local.createGroup(keys, groupId, extensions));
  }

  async joinFromWelcome(keys: DeviceKeys, welcome: Uint8Array, keyPackage: GeneratedKeyPackage, ratchetTree?: Uint8Array): Promise<GroupSession> {
    const size = ratchetTree?.length ?? welcome?.length ?? 0;
    if (this.big(size / TREE_BYTES_PER_MEMBER)) return this.worker.joinFromWelcome(keys, welcome, keyPackage, ratchetTree);
    return this.place(await this.local.joinFromWelcome(keys, welcome, keyPackage, ratchetTree));
  }

  async joinExternal(
    keys: DeviceKeys,
    groupInfo: Uint8Array,
    ratchetTree: Uint8Array,
    opts?: { leafExtensions?: Extension[] },
  ): Promise<{ pending: GroupSession; commit: Uint8Array; newEpoch: bigint }> {
    if (this.big((ratchetTree?.length ?? 0) / TREE_BYTES_PER_MEMBER)) return this.worker.joinExternal(keys, groupInfo, ratchetTree, opts);
    const out = await this.local.joinExternal(keys, groupInfo, ratchetTree, opts);
    return { ...out, pending: await this.place(out.pending) };
  }

  /** A state this big is a group of `workerFrom` members or more. */
  get backgroundRestoreFrom(): number {
    return this.workerFrom * STATE_BYTES_PER_MEMBER;
  }

  restore(encoded: Uint8Array): GroupSession {
    if ((encoded?.length ?? 0) >= this.backgroundRestoreFrom) return this.worker.restore(encoded);
    // A big group whose state came out small is restored here; its next operation moves it.
    return new LocalSession(this, this.local.restore(encoded));
  }

  restoreInBackground(encoded: Uint8Array): Promise<GroupSession> {
    return this.worker.adopt(encoded);
  }

  async close(): Promise<void> {
    await this.worker.close();
  }

  /** Whether a group of `members` belongs in the worker. */
  big(members: number): boolean {
    return members >= this.workerFrom;
  }

  /** A session of this thread, where its size says it belongs. */
  async place(s: GroupSession): Promise<GroupSession> {
    return this.big(s.members().length) ? this.worker.adopt(s.encode()) : new LocalSession(this, s);
  }
}

/** Where a session of the split engine lives (tests, diagnostics). */
export function sessionPlace(s: GroupSession): 'here' | 'worker' {
  return s instanceof LocalSession ? 'here' : 'worker';
}

/** A session of this thread; before an operation that makes it big, it moves to the worker. */
class LocalSession implements GroupSession {
  constructor(
    private readonly split: SplitMlsEngine,
    private readonly inner: GroupSession,
  ) {}

  get groupId(): string {
    return this.inner.groupId;
  }

  get epoch(): bigint {
    return this.inner.epoch;
  }

  get ownLeafIndex(): number {
    return this.inner.ownLeafIndex;
  }

  members(): Member[] {
    return this.inner.members();
  }

  pendingProposals(): number {
    return this.inner.pendingProposals();
  }

  pendingRemovesSelf(): boolean {
    return this.inner.pendingRemovesSelf();
  }

  pendingRemovals(): { identity: string; departed: boolean; byHub: boolean }[] {
    return this.inner.pendingRemovals();
  }

  pendingHubExtensions(): Extension[] | undefined {
    return this.inner.pendingHubExtensions();
  }

  extensions(): Extension[] {
    return this.inner.extensions();
  }

  encode(): Uint8Array {
    return this.inner.encode();
  }

  identityLinks(opts?: { authenticate?: (deviceUri: string, deviceSignatureKey: Uint8Array) => boolean }): MemberIdentityLink[] {
    return this.inner.identityLinks(opts);
  }

  identityLinkKeys(): IdentityLinkKey[] {
    return this.inner.identityLinkKeys();
  }

  withIdentityLinkKeys(keys: IdentityLinkKey[]): GroupSession {
    return this.here(this.inner.withIdentityLinkKeys(keys));
  }

  proposeRemove(identities: string[]): Promise<{ session: GroupSession; proposals: Uint8Array[] }> {
    return this.run(0, (s) => s.proposeRemove(identities), async (out) => ({ ...out, session: this.here(out.session) }));
  }

  encrypt(plaintext: Uint8Array, authenticatedData?: Uint8Array): Promise<{ session: GroupSession; message: Uint8Array }> {
    return this.run(0, (s) => s.encrypt(plaintext, authenticatedData), async (out) => ({ ...out, session: this.here(out.session) }));
  }

  process(message: Uint8Array): Promise<{ session: GroupSession; result: Incoming }> {
    // Application messages are PrivateMessages; a commit that could add many members is a big PublicMessage.
    const publicMessage = message instanceof Uint8Array && message.length > 4 && message[2] === 0 && message[3] === 1;
    return this.run(
      publicMessage ? message.length / COMMIT_BYTES_PER_ADD : 0,
      (s) => s.process(message),
      async (out) => ({ ...out, session: out.result.kind === 'commit' ? await this.split.place(out.session) : this.here(out.session) }),
    );
  }

  add(keyPackages: Uint8Array[], authenticatedData?: Uint8Array): Promise<CommitOutput> {
    return this.run(Array.isArray(keyPackages) ? keyPackages.length : 0, (s) => s.add(keyPackages, authenticatedData), (out) => this.placed(out));
  }

  remove(identities: string[]): Promise<CommitOutput> {
    return this.run(0, (s) => s.remove(identities), (out) => this.placed(out));
  }

  commitChanges(changes: { add?: Uint8Array[]; remove?: string[]; extensions?: Extension[]; authenticatedData?: Uint8Array }): Promise<CommitOutput> {
    return this.run(Array.isArray(changes?.add) ? changes.add.length : 0, (s) => s.commitChanges(changes), (out) => this.placed(out));
  }

  update(): Promise<CommitOutput> {
    return this.run(0, (s) => s.update(), (out) => this.placed(out));
  }

  groupInfo(): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
    return this.inner.groupInfo();
  }

  publishIdentityLink(keys: DeviceKeys): Promise<CommitOutput> {
    return this.run(0, (s) => s.publishIdentityLink(keys), (out) => this.placed(out));
  }

  /**
   * `op` on this session, or on its copy moved to the worker when the operation would have a big
   * group here: one that adds `adding` members, or any operation of a big group restored here (its
   * state was smaller than its size suggested). `place` puts what an operation here returned where
   * it belongs; the worker's results are there already.
   */
  private async run<T>(adding: number, op: (s: GroupSession) => Promise<T>, place: (out: T) => Promise<T>): Promise<T> {
    if (this.split.big(this.inner.members().length + adding)) return op(await this.moved());
    return place(await op(this.inner));
  }

  /** A session of this thread that stays here (its operation did not change the members). */
  private here(s: GroupSession): GroupSession {
    return new LocalSession(this.split, s);
  }

  /** This session, moved to the worker. */
  private moved(): Promise<GroupSession> {
    return this.split.worker.adopt(this.inner.encode());
  }

  private async placed(out: CommitOutput): Promise<CommitOutput> {
    return { ...out, pending: await this.split.place(out.pending) };
  }
}
