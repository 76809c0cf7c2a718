// Provider process wiring: TLS from the data dir's dev CA, the SQLite store, the logic modules,
// the client API router on node:https and the push WebSocket on upgrade of /v1/events.

import https from 'node:https';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { isValidDomain } from '../src-shared/identifiers.js';
import type { ApiError } from '../src-shared/provider-api.js';
import { Accounts } from './accounts.js';
import { clientApiRouter, EVENTS_PATH } from './client-api.js';
import { ensureDevCa } from './dev-ca.js';
import { ApiFailure } from './errors.js';
import { sendError, sendJson } from './http.js';
import { Hub } from './hub.js';
import { KeyPackages } from './key-packages.js';
import { PushHub } from './push.js';
import { openStore } from './store.js';

export interface ProviderOptions {
  domain: string;
  port: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  dataDir: string;
  /** Base URL other providers use to reach this one (MIMI directory); default: the listening URL. */
  publicUrl?: string;
  /** WebSocket keepalive ping interval (ms). */
  pingIntervalMs?: number;
  /** Push stream flow control: rows per store read, and bytes queued per socket before waiting. */
  pushBatchSize?: number;
  pushHighWaterBytes?: number;
  /** Where operational messages go (internal errors with stacks); default stderr. */
  log?: (msg: string) => void;
}

export interface RunningProvider {
  url: string;
  port: number;
  domain: string;
  caPem: string;
  close(): Promise<void>;
}

/** Client frames are only acks; anything bigger is abuse. */
const MAX_CLIENT_FRAME = 4 * 1024;

function rejectUpgrade(socket: Duplex, failure: ApiFailure): void {
  const body = JSON.stringify(failure.toBody() satisfies ApiError);
  socket.end(
    `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function parseCursor(raw: string | null): number {
  if (raw === null) return 0;
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new ApiFailure('badRequest', 'cursor must be a non-negative integer');
  }
  return Number(raw);
}

export async function startProvider(opts: ProviderOptions): Promise<RunningProvider> {
  if (!isValidDomain(opts.domain)) throw new Error(`invalid provider domain: ${JSON.stringify(opts.domain)}`);
  const log = opts.log ?? ((msg: string) => process.stderr.write(`[provider ${opts.domain}] ${msg}\n`));
  const host = opts.host ?? '127.0.0.1';
  const tls = await ensureDevCa(opts.dataDir, opts.domain);
  const store = openStore(opts.dataDir);
  store.tx(() => store.expireIdempotency(Date.now()));

  const push = new PushHub(store, {
    pingIntervalMs: opts.pingIntervalMs,
    batchSize: opts.pushBatchSize,
    highWaterBytes: opts.pushHighWaterBytes,
    log,
  });
  const accounts = new Accounts(store, opts.domain);
  const keyPackages = new KeyPackages(store, opts.domain);
  const hub = new Hub({ store, domain: opts.domain, onQueued: (devices) => push.notify(devices) });
  let url = '';
  const router = clientApiRouter({ accounts, keyPackages, hub, publicUrl: () => opts.publicUrl ?? url });

  const server = https.createServer({ key: tls.serverKeyPem, cert: tls.serverCertPem, minVersion: 'TLSv1.2' }, (req, res) => {
    void (async () => {
      try {
        const u = new URL(req.url ?? '/', 'https://provider.invalid');
        const { handler, params } = router.resolve(req.method ?? 'GET', u.pathname);
        const reply = await handler({ req, url: u, params });
        sendJson(res, reply.status, reply.body);
      } catch (e) {
        sendError(res, e, log);
      }
    })();
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const u = new URL(req.url ?? '/', 'https://provider.invalid');
      if (u.pathname !== EVENTS_PATH) throw new ApiFailure('notFound', `no WebSocket endpoint at ${u.pathname}`);
      const cursor = parseCursor(u.searchParams.get('cursor'));
      const actor = accounts.authenticate(req.headers.authorization);
      wss.handleUpgrade(req, socket, head, (ws) => push.attach(ws, actor.deviceUri, cursor));
    } catch (e) {
      if (e instanceof ApiFailure) rejectUpgrade(socket, e);
      else {
        log(`upgrade failed: ${(e as Error).stack ?? e}`);
        rejectUpgrade(socket, new ApiFailure('internal', 'internal server error'));
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      push.close(); // close frames first, so clients see a clean 1001 rather than a reset
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Give in-flight requests and closing handshakes a moment, then cut whatever is left.
        setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
          server.closeAllConnections();
        }, 1_000).unref();
      });
      wss.close();
      store.close();
    })());

  return { url, port, domain: opts.domain, caPem: tls.caPem, close };
}
