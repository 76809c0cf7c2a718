// What the main thread and the MLS worker (engine-worker.ts, worker-engine.ts) say to each other.
// Sessions stay in the worker; the main thread holds a handle and a view: everything the
// synchronous half of GroupSession answers, taken when the worker made the session.

import { MlsError, type IdentityLinkKey, type Member } from './engine.js';

export interface Extension {
  type: number;
  data: Uint8Array;
}

export interface SessionView {
  handle: number;
  groupId: string;
  epoch: bigint;
  ownLeafIndex: number;
  /** Absent when equal to those of the session the operation ran on (most messages change neither). */
  members?: Member[];
  extensions?: Extension[];
  pendingProposals: number;
  pendingRemovesSelf: boolean;
  pendingRemovals: { identity: string; departed: boolean; byHub: boolean }[];
  pendingHubExtensions: Extension[] | undefined;
  identityLinkKeys: IdentityLinkKey[];
  /** GroupSession.encode(), made in the worker; absent for restore() (the caller has the bytes). */
  encoded?: Uint8Array;
}

/** The sync flag's value when the worker is dying of an uncaught exception (a synchronous caller waiting on it stops waiting). */
export const WORKER_DYING = 2;

/** A session inside a reply: `{ [SESSION]: view }` where the engine returned a GroupSession. */
export const SESSION = 'mimiSession';

/** Engine methods the worker runs (restore and keyPackageIdentity are called synchronously). */
export const ENGINE_METHODS = [
  'newDeviceKeys',
  'newPseudonymousKeys',
  'generateKeyPackages',
  'keyPackageRef',
  'keyPackageIdentity',
  'createGroup',
  'joinFromWelcome',
  'joinExternal',
  'restore',
  /** The worker's own: how many sessions it holds (tests and the bench check that proxies release them). */
  'heldSessions',
] as const;

/** Session methods the worker runs; `openedIdentityLinks` is identityLinks() before the caller's checks. */
export const SESSION_METHODS = [
  'proposeRemove',
  'encrypt',
  'process',
  'add',
  'remove',
  'commitChanges',
  'update',
  'groupInfo',
  'publishIdentityLink',
  'withIdentityLinkKeys',
  'openedIdentityLinks',
] as const;

export type Request =
  | { id: number; sync: boolean; target: 'engine'; method: (typeof ENGINE_METHODS)[number]; args: unknown[] }
  | { id: number; sync: boolean; target: number; method: (typeof SESSION_METHODS)[number]; args: unknown[] }
  /** Sessions the main thread no longer references (their proxies were collected). */
  | { drop: number[] };

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export type Ready = { ready: true; provider: 'node' | 'webcrypto' | 'noble'; webcryptoFailure?: string } | { ready: false; error: WireError };

export interface WireError {
  name: string;
  message: string;
  code?: MlsError['code'];
}

export function toWireError(err: unknown): WireError {
  if (err instanceof MlsError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

/** The error the caller would have got from the engine in its own thread (MlsError keeps its code). */
export function fromWireError(w: WireError): Error {
  if (w.code !== undefined) return new MlsError(w.code, w.message);
  const Kind = w.name === 'TypeError' ? TypeError : w.name === 'RangeError' ? RangeError : Error;
  const err = new Kind(w.message);
  if (Kind === Error && w.name !== 'Error') err.name = w.name;
  return err;
}
