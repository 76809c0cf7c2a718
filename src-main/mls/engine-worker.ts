// The MLS worker: a worker thread that owns every GroupSession of the engine (worker-engine.ts is
// its main-thread side). The engine runs here exactly as it would in the main process, with its
// own event loop and its own heap, so a 1,000-member commit, and the garbage it leaves, stall only
// this thread. Requests come on the parent port; sessions leave as handles plus views (the
// synchronous half of GroupSession), and the session state as bytes whose buffer is transferred,
// not copied.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { GroupSession, Member, MlsEngine } from './engine.js';
import { createMlsEngine, openedIdentityLinks } from './ts-mls-engine.js';
import type { ProviderName } from './crypto-selftest.js';
import { ENGINE_METHODS, SESSION, SESSION_METHODS, toWireError, WORKER_DYING, type Extension, type Ready, type Reply, type Request, type SessionView } from './worker-protocol.js';
import { bytesEqual } from '../../src-shared/bytes.js';

export interface WorkerData {
  /** Where synchronous replies go; the main thread reads it with receiveMessageOnPort. */
  syncPort: MessagePort;
  /** Int32 [0]: set to 1 (and notified) when a synchronous reply was posted. */
  syncFlag: SharedArrayBuffer;
  engine: { forceProvider?: ProviderName; order?: readonly ProviderName[] };
}

interface Held {
  session: GroupSession;
  members: Member[];
  extensions: Extension[];
}

const port = parentPort;
if (!port) throw new Error('engine-worker.ts runs as a worker thread (see worker-engine.ts)');
const data = workerData as WorkerData;
const flag = new Int32Array(data.syncFlag);
const held = new Map<number, Held>();
// A synchronous caller in the main thread cannot hear of this thread's death while it waits.
process.on('uncaughtExceptionMonitor', () => {
  Atomics.store(flag, 0, WORKER_DYING);
  Atomics.notify(flag, 0);
});
let nextHandle = 1;

let engine: MlsEngine;
try {
  engine = await createMlsEngine(data.engine);
  const provider = engine.provider;
  const webcryptoFailure = (engine as { webcryptoFailure?: string }).webcryptoFailure;
  port.postMessage({ ready: true, provider, ...(webcryptoFailure ? { webcryptoFailure } : {}) } satisfies Ready);
} catch (err) {
  port.postMessage({ ready: false, error: toWireError(err) } satisfies Ready);
  throw err;
}

port.on('message', (req: Request) => {
  if ('drop' in req) {
    for (const h of req.drop) held.delete(h);
    return;
  }
  void answer(req);
});

async function answer(req: Exclude<Request, { drop: number[] }>): Promise<void> {
  const transfer: ArrayBuffer[] = [];
  let reply: Reply;
  try {
    reply = { id: req.id, ok: true, value: await run(req, transfer) };
  } catch (err) {
    reply = { id: req.id, ok: false, error: toWireError(err) };
    transfer.length = 0;
  }
  const to = req.sync ? data.syncPort : port!;
  try {
    to.postMessage(reply, transfer);
  } catch (err) {
    // A value that cannot be cloned is this worker's bug; the caller still gets an answer.
    to.postMessage({ id: req.id, ok: false, error: toWireError(err) } satisfies Reply);
  }
  if (req.sync) {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  }
}

async function run(req: Exclude<Request, { drop: number[] }>, transfer: ArrayBuffer[]): Promise<unknown> {
  if (req.target === 'engine') {
    if (!ENGINE_METHODS.includes(req.method)) throw new TypeError(`not an engine method: ${String(req.method)}`);
    if (req.method === 'heldSessions') return held.size;
    if (req.method === 'restore') return { [SESSION]: view(engine.restore(req.args[0] as Uint8Array), undefined, transfer, false) };
    const value = await (engine[req.method as Exclude<typeof req.method, 'heldSessions'>] as (...a: unknown[]) => unknown)(...req.args);
    return pack(value, undefined, transfer);
  }
  if (!SESSION_METHODS.includes(req.method)) throw new TypeError(`not a session method: ${String(req.method)}`);
  const parent = held.get(req.target);
  if (!parent) throw new Error(`MLS worker: session ${req.target} is no longer held`);
  if (req.method === 'openedIdentityLinks') return openedIdentityLinks(parent.session);
  const value = await (parent.session[req.method] as (...a: unknown[]) => unknown)(...req.args);
  return pack(value, parent, transfer);
}

/** A result with its sessions (itself, or its `session` / `pending`) replaced by views. */
function pack(value: unknown, parent: Held | undefined, transfer: ArrayBuffer[]): unknown {
  if (isSession(value)) return { [SESSION]: view(value, parent, transfer) };
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value)) {
    const out: Record<string, unknown> = { ...value };
    for (const k of ['session', 'pending']) if (isSession(out[k])) out[k] = { [SESSION]: view(out[k] as GroupSession, parent, transfer) };
    return out;
  }
  return value;
}

function isSession(v: unknown): v is GroupSession {
  return v !== null && typeof v === 'object' && typeof (v as GroupSession).encode === 'function' && typeof (v as GroupSession).members === 'function';
}

function view(s: GroupSession, parent: Held | undefined, transfer: ArrayBuffer[], encode = true): SessionView {
  const members = s.members();
  const extensions = s.extensions();
  const handle = nextHandle++;
  held.set(handle, { session: s, members, extensions });
  let encoded: Uint8Array | undefined;
  if (encode) {
    encoded = s.encode();
    // Transferred: the buffer must be this encoding's alone.
    if (encoded.byteOffset !== 0 || encoded.byteLength !== encoded.buffer.byteLength) encoded = encoded.slice();
    transfer.push(encoded.buffer as ArrayBuffer);
  }
  return {
    handle,
    groupId: s.groupId,
    epoch: s.epoch,
    ownLeafIndex: s.ownLeafIndex,
    // The engine caches members per tree (same Member objects while the tree is), so this is cheap.
    ...(parent && sameItems(parent.members, members) ? {} : { members }),
    ...(parent && sameExtensions(parent.extensions, extensions) ? {} : { extensions }),
    pendingProposals: s.pendingProposals(),
    pendingRemovesSelf: s.pendingRemovesSelf(),
    pendingRemovals: s.pendingRemovals(),
    pendingHubExtensions: s.pendingHubExtensions(),
    identityLinkKeys: s.identityLinkKeys(),
    ...(encoded ? { encoded } : {}),
  };
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameExtensions(a: readonly Extension[], b: readonly Extension[]): boolean {
  return a.length === b.length && a.every((x, i) => x.type === b[i].type && (x.data === b[i].data || bytesEqual(x.data, b[i].data)));
}
