// One call from an untrusted renderer into the core, shared by Electron IPC and the browser
// bridge: validate first (the core never sees an argument the contract did not allow), then run,
// and always answer with a serialisable result instead of throwing, so no stack trace or internal
// message crosses the process boundary.

import { type MimiApi, type WireError, CoreError, resolveMethod, toWireError, validateCall } from '../../src-shared/contract.js';

export type RpcResult = { ok: true; value: unknown } | { ok: false; error: WireError };

export type CallableCore = Omit<MimiApi, 'onEvent'>;

/** Where unexpected (non-CoreError) failures go; their details never reach the renderer. */
export type InternalErrorLog = (method: string, error: unknown) => void;

const defaultLog: InternalErrorLog = (method, error) => console.error(`[mimi] ${method} failed:`, error);

export async function dispatchCall(core: CallableCore, method: unknown, args: unknown, log: InternalErrorLog = defaultLog): Promise<RpcResult> {
  try {
    // English like validateCall's checks (no catalogue key): only a broken caller gets this far.
    if (typeof method !== 'string') throw new CoreError('invalidArgument', 'method must be a string');
    validateCall(method, args);
    const value = await resolveMethod(core, method)(...(args as unknown[]));
    return { ok: true, value };
  } catch (e) {
    if (!(e instanceof CoreError)) log(typeof method === 'string' ? method.slice(0, 64) : '?', e);
    return { ok: false, error: toWireError(e) };
  }
}
