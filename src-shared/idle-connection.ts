// An HTTP client on a keep-alive agent sends a request on a pooled connection the server has just
// closed as idle. The server closes it when its keep-alive timeout runs out (Node's default: 5 s);
// the client learns of the close only when its event loop next runs, so a busy process (a large
// decryption, a long commit) can pick the dead connection for its next request. That request then
// fails at once with ECONNRESET ("socket hang up") or EPIPE, before the server read any of it. Node
// documents the remedy: send it once more, on a fresh connection. Pure, so the app and the provider
// share it (every request site on a keep-alive agent must use it).

/** The part of a Node ClientRequest this needs. */
export interface PooledRequest {
  readonly reusedSocket: boolean;
}

/**
 * True when `err` ended `req` because its pooled connection was already closed: the request went
 * out on a reused connection, nothing was answered, and the socket was reset or its pipe broken.
 * Callers retry once (never more: a second failure is a real one) and only when the server can
 * have done nothing with the request: before any answer, and for a body, before it was sent.
 */
export function closedWhileIdle(req: PooledRequest, err: unknown, answered: boolean): boolean {
  if (answered || !req.reusedSocket) return false;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
