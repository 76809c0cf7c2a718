// Browser mode's side of the bridge: the same MimiApi as window.mimi in Electron, built from the
// contract over `POST /rpc` and the `/events` WebSocket. The socket reconnects with backoff; after
// a reconnect, listeners of `onConnectionChange` reload state, since events sent while it was down
// are gone. A browser does not say why a WebSocket upgrade failed, so before each retry one cheap
// call asks: a 401 there means the app was restarted with a new key, which is reported (and
// retrying stops) instead of "reconnecting" forever.

import { CoreError, apiFromTransport, type CoreEvent, type MethodName, type MimiApi, type WireError } from '../../src-shared/contract.js';
import { translate, type Params } from '../../src-shared/i18n/index.js';

export interface BridgeClient {
  api: MimiApi;
  /** Called with true when the event stream is up, false when it dropped. */
  onConnectionChange(listener: (up: boolean) => void): () => void;
  /** Called when the server refuses the token (the app was restarted: the page's key is stale). */
  onUnauthorized(listener: () => void): () => void;
  close(): void;
}

export interface BridgeClientOptions {
  baseUrl: string;
  token: string;
  fetchImpl?: typeof fetch;
  WebSocketImpl?: typeof WebSocket;
}

/** An error of the bridge itself: English in `message`, the catalogue key for the window's language. */
function bridgeError(code: 'internal' | 'invalidArgument', key: string, params: Params = {}): CoreError {
  return new CoreError(code, translate(key, params), key, params);
}
const COMMAND = 'npm start'; // i18n-ignore: a command, the same in every language

export function createBridgeClient(opts: BridgeClientOptions): BridgeClient {
  const doFetch = opts.fetchImpl ?? fetch.bind(globalThis);
  const WS = opts.WebSocketImpl ?? WebSocket;
  const base = opts.baseUrl.replace(/\/$/, '');
  const eventListeners = new Set<(e: CoreEvent) => void>();
  const connectionListeners = new Set<(up: boolean) => void>();
  const unauthorizedListeners = new Set<() => void>();

  async function call(method: MethodName, args: unknown[]): Promise<unknown> {
    let res: Response;
    try {
      res = await doFetch(`${base}/rpc`, {
        method: 'POST',
        // A file (messages.sendFile) is announced up front: only then does the app take a body that large.
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${opts.token}`, ...(method === 'messages.sendFile' ? { 'X-Mimi-Method': method } : {}) },
        body: JSON.stringify({ method, args }),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw bridgeError('internal', 'app.bridge.unreachable', { command: COMMAND });
    }
    if (res.status === 401) {
      if (!unauthorized) {
        unauthorized = true;
        unauthorizedListeners.forEach((l) => l());
      }
      throw bridgeError('internal', 'app.bridge.staleKey');
    }
    const body = (await res.json().catch(() => null)) as { ok?: boolean; value?: unknown; error?: WireError | string } | null;
    if (res.status !== 200 || !body) {
      const detail = typeof body?.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw bridgeError(res.status === 413 ? 'invalidArgument' : 'internal', 'app.bridge.refused', { detail });
    }
    if (body.ok) return body.value;
    const err = body.error as WireError;
    throw new CoreError(err.code, err.message, err.key, err.params);
  }

  // ---- event stream ----
  let socket: WebSocket | null = null;
  let up = false;
  /** The app refused the token: nothing this client sends can succeed any more. */
  let unauthorized = false;
  let closed = false;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  function setUp(next: boolean): void {
    if (up === next) return;
    up = next;
    connectionListeners.forEach((l) => l(next));
  }

  function connect(): void {
    if (closed || socket) return;
    const wsUrl = `${base.replace(/^http/, 'ws')}/events`;
    const ws = new WS(wsUrl, ['mimi-events', `token.${opts.token}`]);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setUp(true);
    };
    ws.onmessage = (msg: MessageEvent) => {
      let event: CoreEvent;
      try {
        event = JSON.parse(String(msg.data)) as CoreEvent;
      } catch {
        return;
      }
      eventListeners.forEach((l) => l(event));
    };
    ws.onclose = () => {
      socket = null;
      setUp(false);
      if (closed || eventListeners.size === 0) return;
      const delay = Math.min(10_000, 500 * 2 ** attempt++);
      retryTimer = setTimeout(() => void retry(), delay);
    };
  }

  async function retry(): Promise<void> {
    if (closed || unauthorized) return;
    // Any answer but 401 (even "unreachable") means the key may still be good: keep trying.
    await call('app.info', []).catch(() => undefined);
    if (!unauthorized) connect();
  }

  function onEvent(listener: (e: CoreEvent) => void): () => void {
    eventListeners.add(listener);
    connect();
    return () => {
      eventListeners.delete(listener);
      if (eventListeners.size === 0) socket?.close();
    };
  }

  return {
    api: apiFromTransport(call, onEvent),
    onConnectionChange(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    onUnauthorized(listener) {
      unauthorizedListeners.add(listener);
      return () => unauthorizedListeners.delete(listener);
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      socket?.close();
    },
  };
}
