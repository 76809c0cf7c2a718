// The MLS engine the engine tests drive: the in-process one, or, when MIMI_TEST_MLS_ENGINE=worker
// (test/integration/mls-worker-engine.test.ts), the same tests through the worker engine
// (src-main/mls/worker-engine.ts), where every session lives in a worker thread behind a proxy.
// One worker per provider serves a whole file; a call with `order` (the provider fallback tests
// stub this thread's SubtleCrypto) stays in process.

import { createMlsEngine as createInProcess } from '../../src-main/mls/ts-mls-engine.js';
import { createWorkerMlsEngine } from '../../src-main/mls/worker-engine.js';
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
  if (!engine) workers.set(key, (engine = createWorkerMlsEngine(opts)));
  return engine;
}
