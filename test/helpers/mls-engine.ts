// The MLS engine the engine tests drive: the in-process one, or, when MIMI_TEST_MLS_ENGINE=worker
// (test/integration/mls-worker-engine.test.ts), the app's engine (src-main/mls/split-engine.ts)
// with groups of two or more members in the worker thread: a new group starts in this thread and
// moves to the worker with its first member, so both places and the move are exercised.
// One engine per provider serves a whole file; a call with `order` (the provider fallback tests
// stub this thread's SubtleCrypto) stays in process.

import { createMlsEngine as createInProcess } from '../../src-main/mls/ts-mls-engine.js';
import { createSplitMlsEngine } from '../../src-main/mls/split-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { ProviderName } from '../../src-main/mls/crypto-selftest.js';

const workers = new Map<string, Promise<MlsEngine>>();

export function throughWorker(): boolean {
  return process.env.MIMI_TEST_MLS_ENGINE === 'worker';
}

export function createMlsEngine(opts?: { forceProvider?: ProviderName; order?: readonly ProviderName[] }): Promise<MlsEngine> {
  if (!throughWorker() || opts?.order !== undefined) return createInProcess(opts);
  const key = opts?.forceProvider ?? 'default';
  let engine = workers.get(key);
  if (!engine) workers.set(key, (engine = createSplitMlsEngine({ ...opts, workerFrom: 2 })));
  return engine;
}
