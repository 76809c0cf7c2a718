// Cooperative yielding for synchronous MLS crypto, so a long commit does not hold the event loop.
//
// Why: with node:crypto (node-crypto-suite.ts) every primitive returns at once, so a whole
// 1,000-member commit ran as one event-loop turn of seconds, during which the Electron main process
// served no IPC and read no push stream. ts-mls awaits every crypto call, so those calls are where
// the work can be cut: when more than `budgetMs` passed since this turn's MLS work began, the next
// crypto call first waits for a setImmediate, letting timers and I/O run.
//
// Where this matters: the app runs groups of 100 members or more in a worker thread
// (split-engine.ts), where a long operation stalls only the worker; smaller groups, and the `mimi`
// command, run their MLS in the main thread and rely on this. Yielding keeps the GroupSession
// interface synchronous where it is, and costs one loop turn per budget. (node-crypto-suite.ts also
// runs Ed25519 verification on the thread pool, which frees the loop the same way.) The worker
// yields too, so that the main thread's synchronous calls into it (worker-engine.ts) are answered
// within a turn.
//
// Besides the crypto calls, there are yield points where long stretches used to run without one:
// decoding the KeyPackages of an add (ts-mls-engine.ts), a big commit's proposals decoded ahead in slices
// (decode-ahead.ts), and ts-mls's own loop adding the leaves (its cooperative hook, set below;
// scripts/patch-ts-mls.mjs patch 11). The O(n^2) checks and repeated encodings that made other
// stretches long are gone (patches 6-9). What yielding still cannot cut: single large encodes (the
// commit's FramedContent once, the Welcome, the GroupInfo and ratchet tree), and garbage
// collection pauses. The bench measures the longest stall; see the MLS section of the README.

import { performance } from 'node:perf_hooks';
import type { CiphersuiteImpl } from 'ts-mls';
import { mimiCooperation } from 'ts-mls/codec/tlsEncoder.js';

/** The default: a few ms of MLS work per turn keeps delays well under a 60 Hz frame. */
export const DEFAULT_YIELD_BUDGET_MS = 5;

let budgetMs = DEFAULT_YIELD_BUDGET_MS;
/** When this event-loop turn's MLS work began; undefined until the first crypto call of a turn. */
let turnStart: number | undefined;
let yields = 0;

/**
 * Process-wide, because the event loop is: `Infinity` never yields (what a worker or a CLI wants),
 * 0 lets one crypto call run per turn (tests).
 */
export function setYieldBudget(ms: number): void {
  if (!(ms >= 0)) throw new RangeError(`yield budget must be >= 0 ms, got ${ms}`);
  budgetMs = ms;
}

export function yieldBudget(): number {
  return budgetMs;
}

/** How many times MLS work has yielded in this process (for the bench and tests). */
export function yieldCount(): number {
  return yields;
}

const endTurn = () => {
  turnStart = undefined;
};

/**
 * One shared wait: ts-mls runs many operations side by side (Promise.all over the added members), and
 * a setImmediate per caller would resume them all in one check phase, back to back: one long turn
 * again. Waiters of the shared gate resume together but each stops at its next crypto call, where
 * the budget of the new turn sends the rest to the next gate.
 */
let gate: Promise<void> | undefined;

/**
 * Undefined when the caller may go on; otherwise a promise that resolves on a later turn.
 * `resumed`: the caller already waited for a gate, so the first call of a turn goes on even with
 * budget 0 (which would otherwise park it forever).
 */
export function yieldIfDue(resumed = false): Promise<void> | undefined {
  if (gate !== undefined) return gate;
  if (budgetMs === Infinity) return undefined;
  const now = performance.now();
  if (turnStart === undefined) {
    // The first MLS work of this turn: the immediate queued here runs once the turn ends (which is
    // only when we yield, or the operation finishes), so idle time never counts as work.
    turnStart = now;
    setImmediate(endTurn);
    if (budgetMs > 0 || resumed) return undefined;
  } else if (now - turnStart < budgetMs) return undefined;
  yields++;
  gate = new Promise((resolve) =>
    setImmediate(() => {
      gate = undefined;
      turnStart = undefined;
      resolve();
    }),
  );
  return gate;
}

/**
 * Runs `call` once a turn has budget for it. Every waiter of a gate resumes in the same turn, so
 * each asks again: without that, a thousand calls parked by one Promise.all would all run in the
 * turn after the gate, back to back.
 */
async function callLater<R>(wait: Promise<void>, call: () => Promise<R>): Promise<R> {
  for (let w: Promise<void> | undefined = wait; w !== undefined; w = yieldIfDue(true)) await w;
  return call();
}

/**
 * A yield point for one sequential loop that is not crypto calls (decoding many KeyPackages, a long
 * loop inside ts-mls via its cooperative hook, scripts/patch-ts-mls.mjs patch 9): undefined when
 * the turn still has budget (the caller goes on without an await), otherwise a promise that
 * resolves on a later turn with budget. Not for work that runs side by side with other waiters
 * (Promise.all): those would all pass the check before any of them worked.
 */
export function cooperate(): Promise<void> | undefined {
  const wait = yieldIfDue();
  return wait === undefined ? undefined : waitTurn(wait);
}

async function waitTurn(wait: Promise<void>): Promise<void> {
  for (let w: Promise<void> | undefined = wait; w !== undefined; w = yieldIfDue(true)) await w;
}

// ts-mls's long loops that are not crypto calls (scripts/patch-ts-mls.mjs, patch 11: adding a
// thousand leaves to the tree) ask this between slices.
mimiCooperation.hook = cooperate;

type AsyncFns<T> = { [K in keyof T]: T[K] };

function wrapGroup<T extends object>(group: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(group)) {
    if (typeof value !== 'function') {
      out[name] = value;
      continue;
    }
    const f = value as (...args: unknown[]) => Promise<unknown>;
    out[name] = (...args: unknown[]) => {
      const wait = yieldIfDue();
      return wait === undefined ? f.apply(group, args) : callLater(wait, () => f.apply(group, args));
    };
  }
  return out as AsyncFns<T>;
}

/**
 * `impl` with every asynchronous entry point (hash, kdf, signature, hpke: all return promises in
 * ts-mls's interface) preceded by yieldIfDue(). rng is synchronous and left alone.
 */
export function cooperative(impl: CiphersuiteImpl): CiphersuiteImpl {
  return {
    name: impl.name,
    rng: impl.rng,
    hash: wrapGroup(impl.hash),
    kdf: wrapGroup(impl.kdf),
    signature: wrapGroup(impl.signature),
    hpke: wrapGroup(impl.hpke),
  };
}
