// An HTTP client on a keep-alive agent sends a request on a pooled connection the server has just
// closed as idle. The server closes it when its keep-alive timeout runs out (Node's default: 5 s);
// the client learns of the close only when its event loop next runs, so a busy process (a large
// decryption, a long commit) can pick the dead connection for its next request. That request then
// fails at once with ECONNRESET ("socket hang up") or EPIPE, before the server read any of it. Node
// documents the remedy: send it once more, on a fresh connection. Pure, so the app and the provider
// share it (every request site on a keep-alive agent must use it).

/**
 * How long the provider keeps an idle client connection open. Node's default (5 s) is shorter than
 * the pause between two messages of most conversations, so most sends paid a new TCP and TLS
 * handshake (on loopback ~2.7 ms of CPU, more than the rest of the request; on a real network two
 * round trips more). nginx's default is 75 s.
 */
export const SERVER_KEEP_ALIVE_MS = 75_000;

/**
 * How long a client keeps an idle pooled connection: less than the server's, so the client normally
 * closes first and the race above stays for servers that close earlier (Node's agents also honour
 * the server's Keep-Alive hint, less a second, when it is shorter).
 */
export const CLIENT_IDLE_MS = 60_000;

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
