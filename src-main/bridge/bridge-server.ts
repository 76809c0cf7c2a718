// Browser mode's stand-in for Electron IPC: a loopback-only HTTP server that serves the built
// renderer, answers `POST /rpc` and pushes core events over the `/events` WebSocket.
//
// Anything on this machine (other users' processes, any web page the user visits) can reach a
// loopback port, so every call needs a 32-byte random token. The token travels to the page in the
// URL fragment, which browsers never send to servers or put in Referer headers. Host and Origin are
// checked as well: a DNS-rebinding page would arrive with a foreign Host, and a cross-site page
// with a foreign Origin, even before it could guess the token.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_FILE_BYTES, type CoreEvent, type MimiApi } from '../../src-shared/contract.js';
import { contentSecurityPolicy, rendererSecurityHeaders } from './csp.js';
import { dispatchCall, type InternalErrorLog } from './rpc-dispatch.js';
import { mimeTypeFor, resolveRendererFile } from './static-files.js';

export interface BridgeOptions {
  core: MimiApi;
  /** Directory holding the built renderer (index.html + assets). */
  rendererDir: string;
  /** 0 or omitted: any free port. */
  port?: number;
  /** Largest accepted /rpc body; larger ones get 413 before parsing. */
  maxBodyBytes?: number;
  log?: InternalErrorLog;
}

export interface Bridge {
  /** Page URL including `#token=...`; open it in a browser. */
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

/** The WebSocket subprotocol the client asks for; the token rides along as `token.<hex>`. */
export const EVENTS_SUBPROTOCOL = 'mimi-events';
export const TOKEN_SUBPROTOCOL_PREFIX = 'token.';

// A message is at most 16,000 characters (contract); JSON-escaped worst case is ~6x that.
const DEFAULT_MAX_BODY = 128 * 1024;
// messages.sendFile carries a whole file in base64 (contract MAX_FILE_BYTES, 4/3 of it, plus JSON).
// Only a request that says so up front (X-Mimi-Method) gets this limit, and only for that method.
const FILE_METHOD = 'messages.sendFile';
const FILE_MAX_BODY = Math.ceil(((MAX_FILE_BYTES + 2) / 3) * 4) + 64 * 1024;
// A client that stops reading must not make the server buffer events without bound.
const MAX_BUFFERED_EVENT_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_MS = 30_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const defaultBridgeLog: InternalErrorLog = (where, error) => console.error(`[mimi ${where}]`, error);

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time token comparison; hashing first makes the lengths equal. */
export function tokenMatches(expected: string, given: string | undefined | null): boolean {
  if (typeof given !== 'string' || given.length === 0) return false;
  return timingSafeEqual(digest(expected), digest(given));
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = randomBytes(32).toString('hex');
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const rendererDir = path.resolve(opts.rendererDir);
  let port = 0; // known once listening; the checks below only run after that

  const allowedHosts = () => [`127.0.0.1:${port}`, `localhost:${port}`];
  const allowedOrigins = () => allowedHosts().map((h) => `http://${h}`);
  let headers: Record<string, string> = {};

  /** Host and Origin checks shared by plain requests and WebSocket upgrades. */
  function checkSite(req: http.IncomingMessage): void {
    const host = req.headers.host;
    if (!host || !allowedHosts().includes(host.toLowerCase())) throw new HttpError(403, 'Host not allowed');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().includes(origin.toLowerCase())) throw new HttpError(403, 'Origin not allowed');
  }

  function bearer(req: http.IncomingMessage): string | undefined {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer ([A-Za-z0-9._~-]+)$/.exec(h) : null;
    return m?.[1];
  }

  function readBody(req: http.IncomingMessage, maxBody: number): Promise<string> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBody) return Promise.reject(new HttpError(413, 'Request body too large'));
    // Events rather than `for await`: leaving that loop early destroys the socket, and the
    // client would see a reset instead of the 413 answer.
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (chunk: Buffer) => {
        if (refused) return;
        size += chunk.length;
        if (size > maxBody) {
          refused = true;
          chunks.length = 0;
          reject(new HttpError(413, 'Request body too large'));
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (!refused) resolve(Buffer.concat(chunks).toString('utf8'));
      });
      req.on('error', reject);
    });
  }

  async function handleRpc(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!tokenMatches(token, bearer(req))) throw new HttpError(401, 'Missing or wrong bridge token');
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'Content-Type must be application/json');
    const large = req.headers['x-mimi-method'] === FILE_METHOD;
    const raw = await readBody(req, large ? FILE_MAX_BODY : maxBody);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new HttpError(400, 'Body is not valid JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'Body must be an object');
    const { method, args, ...rest } = body as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new HttpError(400, 'Body may only hold method and args');
    if (large && method !== FILE_METHOD) throw new HttpError(400, `X-Mimi-Method says ${FILE_METHOD}, the body calls another method`);
    const result = await dispatchCall(opts.core, method, args, opts.log);
    sendJson(res, 200, result);
  }

  async function handleStatic(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const file = resolveRendererFile(rendererDir, pathname);
    if (!file) throw new HttpError(404, 'Not found');
    const stat = await fsp.stat(file).catch(() => null);
    if (!stat?.isFile()) {
      if (file === path.join(rendererDir, 'index.html')) throw new HttpError(503, 'The renderer is not built yet; run `npm start` (it builds it).');
      throw new HttpError(404, 'Not found');
    }
    res.writeHead(200, { ...headers, 'Content-Type': mimeTypeFor(file), 'Content-Length': String(stat.size) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  }

  function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
    const body = JSON.stringify(value);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(body);
  }

  const server = http.createServer((req, res) => {
    (async () => {
      checkSite(req);
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      if (pathname === '/rpc') {
        if (req.method !== 'POST') throw new HttpError(405, 'Use POST');
        await handleRpc(req, res);
      } else if (req.method === 'GET' || req.method === 'HEAD') {
        await handleStatic(req, res);
      } else {
        throw new HttpError(405, 'Method not allowed');
      }
    })().catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (!(e instanceof HttpError)) (opts.log ?? defaultBridgeLog)('bridge', e);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (status === 413) {
        // Let the client finish writing so it can read the answer, but only briefly, then drop
        // the connection rather than keep a refused upload alive.
        res.setHeader('Connection', 'close');
        req.resume();
        setTimeout(() => req.socket.destroy(), 2000).unref();
      }
      sendJson(res, status, { error: e instanceof HttpError ? e.message : 'Internal error' });
    });
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024, // the client never needs to send anything
    handleProtocols: (protocols) => (protocols.has(EVENTS_SUBPROTOCOL) ? EVENTS_SUBPROTOCOL : false),
  });
  const alive = new WeakMap<WebSocket, boolean>();

  function wsToken(req: http.IncomingMessage): string | undefined {
    const fromQuery = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (fromQuery) return fromQuery;
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    return offered.find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX))?.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  }

  function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      checkSite(req);
    } catch (e) {
      refuseUpgrade(socket, 403, (e as Error).message);
      return;
    }
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/events') {
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (!tokenMatches(token, wsToken(req))) {
      refuseUpgrade(socket, 401, 'Unauthorized');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    const unsubscribe = opts.core.onEvent((event: CoreEvent) => {
      if (ws.readyState !== ws.OPEN) return;
      // A stalled reader is cut off; on reconnect the client reloads state instead.
      if (ws.bufferedAmount > MAX_BUFFERED_EVENT_BYTES) {
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(event));
    });
    ws.on('close', unsubscribe);
    ws.on('error', () => ws.terminate());
    ws.on('message', () => ws.close(1003, 'This socket only pushes events'));
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  headers = rendererSecurityHeaders(contentSecurityPolicy({ websocketOrigins: allowedHosts().map((h) => `ws://${h}`) }));

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/#token=${token}`,
    token,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(heartbeat);
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
