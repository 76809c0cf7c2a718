// Provider process wiring: TLS from the data dir's dev CA, the SQLite store, the logic modules,
// the client API router on node:https and the push WebSocket on upgrade of /v1/events. The same
// port serves the MIMI server-to-server endpoints to peer providers over mutual TLS
// (federation/mtls.ts), dispatched to an S2sHandler (federation/s2s-handler.ts).

import type Database from 'better-sqlite3';
import https from 'node:https';
import os from 'node:os';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { isValidDomain, parseMimiUri } from '../src-shared/identifiers.js';
import { SERVER_KEEP_ALIVE_MS } from '../src-shared/idle-connection.js';
import type { ApiError } from '../src-shared/provider-api.js';
import { Accounts } from './accounts.js';
import { AdminConsole, isAdminPath } from './admin.js';
import { ASSET_UPLOAD_PATH, AssetService, type AssetLimits } from './assets.js';
import { BackupService, backupLimits, type BackupStorageLimits } from './backups.js';
import { DeviceService } from './devices.js';
import { DeviceMessages } from './device-messages.js';
import { clientApiRouter, EVENTS_PATH } from './client-api.js';
import { ConsentService, type ConsentMode } from './consent.js';
import { DirectorySearch } from './directory-search.js';
import { ensureDevCa } from './dev-ca.js';
import { MIMI_ENDPOINTS, MIMI_PREFIX } from './directory.js';
import { ApiFailure, badRequest } from './errors.js';
import { federationConfig, type FederationConfig, type FederationOptions } from './federation/config.js';
import { FanoutOutbox, type FanoutOutboxOptions } from './federation/fanout-outbox.js';
import { authenticatePeer, ensureFederationIdentity, guardPeerConnections, peerTlsServerOptions } from './federation/mtls.js';
import { MIMI_CONTENT_TYPE, PeerClient, peerFailure } from './federation/peer-client.js';
import type { S2sFactory, S2sHandler } from './federation/s2s-handler.js';
import { mimiEndpoints } from './federation/endpoints.js';
import { Follower } from './federation/follower.js';
import { GroupInfoService } from './federation/group-info.js';
import { KeyMaterialService } from './federation/key-material.js';
import { ensureProviderIdentity } from './federation/provider-identity.js';
import { SeenLog } from './federation/seen-log.js';
import { readBody, sendError, sendJson } from './http.js';
import { Hub } from './hub.js';
import { decodeJoinLinksResponse, encodeJoinLinksRequest, encodeJoinTicketRequest, JoinLinks, serveJoinLinks, serveJoinTicket, ticketFromResponse } from './join-links.js';
import { KeyPackages } from './key-packages.js';
import { pseudonymLimits, Pseudonyms, type PseudonymLimits } from './pseudonyms.js';
import { PushHub } from './push.js';
import { OhttpService } from './ohttp-service.js';
import { REQUEST_MEDIA_TYPE } from '../src-shared/ohttp.js';
import { openDatabase, parseDatabaseSpec, redact } from './database.js';
import { LeaseManager } from './pg/leases.js';
import { announceInboxWrites, wakeAnnouncer, WakeBus, type SyncPreparer } from './pg/wake-bus.js';
import { WriteBatch } from './write-batch.js';

export interface ProviderOptions {
  domain: string;
  port: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  dataDir: string;
  /** Where the state is (database.ts): sqlite:DIR or postgres://…; default SQLite in dataDir. */
  database?: string;
  /** This node's name among the provider's nodes (logs, leases); default host name and pid. */
  nodeId?: string;
  /** Base URL other providers use to reach this one (MIMI directory); default: the listening URL. */
  publicUrl?: string;
  /** WebSocket keepalive ping interval (ms). */
  pingIntervalMs?: number;
  /** How long an idle HTTP connection stays open (ms); default SERVER_KEEP_ALIVE_MS (75 s). */
  keepAliveMs?: number;
  /** Push stream flow control: rows per store read, and bytes queued per socket before waiting. */
  pushBatchSize?: number;
  pushHighWaterBytes?: number;
  /** Where operational messages go (internal errors with stacks); default stderr. */
  log?: (msg: string) => void;
  /** Peer base URLs and the CAs trusted for peers (the only ones: nothing is trusted by default). */
  federation?: FederationOptions;
  /** Fanout outbox tuning (the bench compares batching on and off; tests shorten the backoff). */
  fanout?: Pick<FanoutOutboxOptions, 'batching' | 'maxBatchMessages' | 'maxBatchBytes' | 'pipelining' | 'maxInFlight' | 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>;
  /** Timeout of requests to peers (ms); default 15 s. */
  peerTimeoutMs?: number;
  /**
   * The MIMI endpoint logic: by default this provider's own (federation/endpoints.ts); tests may
   * pass a handler or a factory given the provider's objects (S2sDeps); 'off' answers 501.
   */
  s2s?: S2sHandler | S2sFactory | 'off';
  /**
   * Whether users of other providers need a local user's consent before they may fetch that
   * user's KeyPackages (add them to a room): 'required' (default) or 'open' (docs/decisions.md
   * "Consent"). Users of this provider never need consent.
   */
  consent?: ConsentMode;
  /** Identifier queries (discovery) allowed per minute per requesting provider and per local user; default 60. */
  searchRatePerMinute?: number;
  /** KeyPackage token issuance per requesting user (ten times that per provider); default a burst of 20, 10 a minute. */
  keyPackageTokenRate?: { burst: number; perMinute: number };
  /**
   * Pseudonym issuance per account (pseudonyms.ts): a bucket of `burst` (default 50, also the most
   * one request gets), refilled by `perHour` (default 20), and at most `maxActive` (default 500)
   * active at once.
   */
  pseudonymLimits?: Partial<PseudonymLimits>;
  /** Connection requests an account may start: a bucket of `burst` (default 10), refilled by `perHour` (default 10). */
  connectionRequestLimits?: { burst: number; perHour: number };
  /** Join link attempts per requester: a bucket of `burst` (default 10), `perMinute` back (default 2); a provider gets ten times that. */
  joinLinkAttempts?: { burst: number; perMinute: number };
  /** How long a knocker may stay in a knock room before the hub proposes its removal (default 120 s). */
  knockTtlMs?: number;
  /** Attachments (assets.ts): the largest file and each account's total, in bytes. */
  assetLimits?: Partial<AssetLimits>;
  /** Encrypted backups (backups.ts): the largest chunk and each account's total, in bytes. */
  backupLimits?: Partial<BackupStorageLimits>;
  /** A device's last-seen time is written at most this often (ms); default one minute. */
  lastSeenIntervalMs?: number;
  /**
   * 'grouped' (default): concurrent messages and push acks share one transaction (write-batch.ts)
   * and push frames are written in batches. 'per-request': one transaction per message and per
   * ack, one write per frame: the path before issue 13, kept for the bench's baseline.
   */
  writePath?: 'grouped' | 'per-request';
}

/** The federation objects of a running provider (for the endpoint logic, tests and the bench). */
export interface FederationRuntime {
  config: FederationConfig;
  peerClient: PeerClient;
  outbox: FanoutOutbox;
  seenLog: SeenLog;
  /** The store's SQLite handle (the outbox and seen log live in it). */
  db: Database.Database;
  /** This provider's client certificate for mutual TLS with peers. */
  clientCertPem: string;
}

export interface RunningProvider {
  url: string;
  port: number;
  domain: string;
  caPem: string;
  federation: FederationRuntime;
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

const S2S_ENDPOINTS = new Set(Object.keys(MIMI_ENDPOINTS));

/** `/mimi/v1/<endpoint>/<param>` -> endpoint and decoded param; 404/405/400 otherwise. */
function parseS2sPath(method: string, pathname: string): { endpoint: string; param: string } {
  const parts = pathname.slice(MIMI_PREFIX.length + 1).split('/');
  const [endpoint, rawParam] = parts;
  if (parts.length !== 2 || !S2S_ENDPOINTS.has(endpoint) || !rawParam) {
    throw new ApiFailure('notFound', `no MIMI endpoint at ${pathname} (expected ${MIMI_PREFIX}/<endpoint>/<percent-encoded parameter>)`);
  }
  const expected = endpoint === 'proxyDownload' ? 'GET' : 'POST';
  if (method !== expected) {
    throw new ApiFailure('notAllowed', `method ${method} is not allowed here (allowed: ${expected})`, { status: 405 });
  }
  try {
    return { endpoint, param: decodeURIComponent(rawParam) };
  } catch {
    throw badRequest(`path segment ${JSON.stringify(rawParam)} is not valid percent-encoding`);
  }
}

function isMimiContentType(header: string | undefined): boolean {
  return header === undefined || header.split(';')[0].trim().toLowerCase() === MIMI_CONTENT_TYPE;
}

function sendMimi(res: ServerResponse, reply: Awaited<ReturnType<S2sHandler['handle']>>): void {
  if (!Number.isInteger(reply.status) || reply.status < 200 || reply.status > 599) {
    throw new Error(`s2s handler returned invalid status ${reply.status}`);
  }
  const body = reply.body ? Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength) : Buffer.alloc(0);
  res.writeHead(reply.status, {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(body.length > 0 ? { 'content-type': MIMI_CONTENT_TYPE } : {}),
    'content-length': String(body.length),
    ...reply.headers,
  });
  res.end(body);
}

export async function startProvider(opts: ProviderOptions): Promise<RunningProvider> {
  if (!isValidDomain(opts.domain)) throw new Error(`invalid provider domain: ${JSON.stringify(opts.domain)}`);
  const log = opts.log ?? ((msg: string) => process.stderr.write(`[provider ${opts.domain}] ${msg}\n`));
  const host = opts.host ?? '127.0.0.1';
  const fedConfig = federationConfig(opts.federation);
  const limits = pseudonymLimits(opts.pseudonymLimits); // a bad option fails before anything is opened
  backupLimits(opts.backupLimits);
  const tls = await ensureDevCa(opts.dataDir, opts.domain);
  const fedIdentity = await ensureFederationIdentity(opts.dataDir, tls, opts.domain);
  const spec = parseDatabaseSpec(opts.database, opts.dataDir);
  const nodeId = opts.nodeId ?? `${os.hostname()}-${process.pid}`;
  // Upload staging (staging.ts) needs a name that survives a restart, so a node empties what it
  // left: --node-id, else the host (two nodes of one host sharing a folder need --node-id).
  const stagingNode = opts.nodeId ?? os.hostname();
  const store = await openDatabase(spec);
  // Idempotent (deletes what expired): every node may run it at start.
  store.tx(() => store.expireIdempotency(Date.now()));
  // Several nodes on one PostgreSQL (issue 17, docs/scale-out.md): new inbox rows are announced on
  // the wake bus inside the transaction that stores them, and work one node at a time must do
  // (a follower domain's fanout, the knock sweep) goes to the holder of a lease.
  let wakeBus: WakeBus | undefined;
  let leases: LeaseManager | undefined;
  if (spec.kind === 'postgres') {
    announceInboxWrites(store, wakeAnnouncer(store.db as unknown as SyncPreparer));
    wakeBus = new WakeBus({ url: spec.url, name: `mimi-wake ${nodeId}`, log });
    leases = new LeaseManager({ url: spec.url, namespace: `mimi-provider ${opts.domain}`, name: `mimi-leases ${nodeId}`, log });
  }
  log(`node ${nodeId} on ${spec.kind === 'postgres' ? `PostgreSQL ${redact(spec.url)}` : `SQLite in ${spec.dir}`}`);

  const grouped = (opts.writePath ?? 'grouped') === 'grouped';
  const writes = new WriteBatch(store, { grouped, log });
  const push = new PushHub(store, {
    batched: grouped,
    writes,
    pingIntervalMs: opts.pingIntervalMs,
    batchSize: opts.pushBatchSize,
    highWaterBytes: opts.pushHighWaterBytes,
    log,
  });
  const accounts = new Accounts(store, opts.domain, { lastSeenIntervalMs: opts.lastSeenIntervalMs });
  const keyPackages = new KeyPackages(store, opts.domain);
  const pseudonyms = new Pseudonyms({ domain: opts.domain, store, limits });
  // Federation objects come before the hub so the hub can enqueue fanout inside its transactions.
  const peerClient = new PeerClient({
    ownDomain: opts.domain,
    config: fedConfig,
    clientCertPem: fedIdentity.certPem,
    clientKeyPem: fedIdentity.keyPem,
    timeoutMs: opts.peerTimeoutMs,
  });
  const outbox = new FanoutOutbox({ db: store.db, peers: peerClient, log, ...opts.fanout, lease: leases });
  const seenLog = new SeenLog(store.db);
  const identity = ensureProviderIdentity(opts.dataDir, opts.domain);
  const joinLinks = new JoinLinks({
    store,
    domain: opts.domain,
    hubKeySeed: identity.signaturePrivateKey,
    hubPublicKey: identity.signaturePublicKey,
    attempts: opts.joinLinkAttempts,
  });
  // KeyPackages over OHTTP: gateway and token issuer for our users, relay for our clients, and the
  // vouching keys the hub checks (ohttp-service.ts). Consent is the one made further down.
  const ohttp = new OhttpService({
    domain: opts.domain,
    dataDir: opts.dataDir,
    store,
    keyPackages,
    identity,
    peerClient,
    consent: (requester, target) => consent.decide(requester, target, ''),
    issuance: opts.keyPackageTokenRate,
    log,
  });
  const hub = new Hub({
    store,
    writes,
    vouchKey: (domain) => ohttp.vouchKey(domain),
    domain: opts.domain,
    onQueued: (devices) => push.notify(devices),
    fanout: outbox,
    externalSenderKey: identity.signaturePrivateKey,
    frankingAgent: identity.externalSender.raw,
    joinLinks,
  });
  // The operator's moderation queue and actions under /admin/ (admin.ts; its own token).
  const admin = new AdminConsole({ store, hub, dataDir: opts.dataDir, domain: opts.domain, log, ownOrigins: () => [url, opts.publicUrl ?? ''] });
  // Knockers who have not left on their own within the time are removed by the hub (external sender).
  const knockTtl = opts.knockTtlMs ?? 120_000;
  const sweepKnockers = () => {
    try {
      for (const [room, identities] of joinLinks.overdueKnockers(knockTtl)) hub.proposeRemoval(room, identities);
    } catch (e) {
      log(`knock room sweep: ${(e as Error).message}`);
    }
  };
  const knockSweep = setInterval(
    // Several nodes: one of them sweeps (the lease holder, kept until it dies), so an overdue
    // knocker is not proposed for removal by every node at once.
    () => {
      if (!leases) return sweepKnockers();
      leases.tryAcquire('knock-sweep').then(
        (ok) => ok && sweepKnockers(),
        (e: Error) => log(`knock room sweep: no lease (${e.message})`),
      );
    },
    Math.min(5000, Math.max(200, knockTtl / 4)),
  );
  knockSweep.unref();
  const follower = new Follower({ domain: opts.domain, store, peerClient, seenLog, onQueued: (devices) => push.notify(devices), reuseMemberLookup: grouped });
  if (spec.kind === 'postgres') {
    // The follower stores runs of fanned-out messages through its own multi-row writer
    // (notify-store.ts), not the Store's enqueue methods: its inbox rows are announced too.
    const writer = (follower as unknown as { writer?: { enqueue(devices: readonly string[], eventIds: readonly number[]): void } }).writer;
    if (!writer) throw new Error('follower has no inbox writer to announce wakes from');
    const announce = wakeAnnouncer(store.db as unknown as SyncPreparer);
    const enqueue = writer.enqueue.bind(writer);
    writer.enqueue = (devices, eventIds) => {
      enqueue(devices, eventIds);
      if (devices.length > 0) announce(devices);
    };
  }
  const consent = new ConsentService({
    domain: opts.domain,
    store,
    peerClient,
    mode: opts.consent,
    notify: (devices) => push.signal(devices, { type: 'notice', topic: 'consent' }),
    onWithdrawn: (user) => ohttp.withdrawTokens(user),
    log,
  });
  keyPackages.connectionRequests = (requester, target) => consent.connectionRequestDecision(requester, target);
  const directorySearch = new DirectorySearch({ domain: opts.domain, store, peerClient, ratePerMinute: opts.searchRatePerMinute, tokens: ohttp });
  const keyMaterial = new KeyMaterialService({
    domain: opts.domain,
    store,
    keyPackages,
    peerClient,
    identity,
    consent: (requester, target, room) => consent.decide(requester, target, room),
  });
  const groupInfo = new GroupInfoService({
    domain: opts.domain,
    store,
    peerClient,
    identity,
    joiningCode: (roomId, code, requester) => joinLinks.authorizesGroupInfo(roomId, code, requester),
  });
  const s2s: S2sHandler | undefined =
    opts.s2s === 'off'
      ? undefined
      : typeof opts.s2s === 'function'
        ? opts.s2s({ domain: opts.domain, store, db: store.db, hub, config: fedConfig, peerClient, outbox, seenLog, log })
        : (opts.s2s ??
          mimiEndpoints({
            domain: opts.domain,
            hub,
            follower,
            prepareCommit: (commit) => ohttp.prepareCommit(commit),
            services: {
              ohttpKeys: (_peer, param) => ohttp.serveKeys(param),
              ohttpGateway: (_peer, param, body) => ohttp.serveGateway(param, body),
              keyMaterial: (peer, param, body) => keyMaterial.serve(peer, param, body),
              groupInfo: (peer, param, body) => groupInfo.serve(peer, param, body),
              requestConsent: (peer, param, body) => consent.serveRequest(peer, param, body),
              updateConsent: (peer, param, body) => consent.serveUpdate(peer, param, body),
              identifierQuery: (peer, param, body) => directorySearch.serve(peer, param, body),
              joinTicket: (peer, param, body) => ({ status: 200, body: serveJoinTicket(joinLinks, peer, param, body) }),
              // Streamed by serveS2s before it reaches here; listed so the directory names it.
              proxyDownload: () => {
                throw new ApiFailure('notAllowed', 'proxyDownload is a GET', { status: 405 });
              },
              joinLinks: (peer, param, body) => {
                if (!hub.hosts(param)) throw new ApiFailure('roomUnknown', `${param} is not hosted by ${opts.domain}`);
                return { status: 200, body: serveJoinLinks(joinLinks, peer, param, body) };
              },
            },
          }));
  const devices = new DeviceService({
    store,
    proposeRemoval: (room, identities) => hub.proposeRemoval(room, identities),
    signal: (deviceUris, notice) => push.signal(deviceUris, notice),
    disconnect: (deviceUri) => push.disconnect(deviceUri, 'this device was removed from its account'),
    log,
  });
  const backups = new BackupService({ store, dataDir: opts.dataDir, nodeId: stagingNode, accounts, limits: opts.backupLimits, log });
  const deviceMessages = new DeviceMessages({ store, signal: (deviceUris, notice) => push.signal(deviceUris, notice) });
  let url = '';
  const assets = new AssetService({
    store,
    dataDir: opts.dataDir,
    nodeId: stagingNode,
    domain: opts.domain,
    accounts,
    publicUrl: () => opts.publicUrl ?? url,
    listenUrl: () => url,
    federation: fedConfig,
    peerClient,
    clientCertPem: fedIdentity.certPem,
    clientKeyPem: fedIdentity.keyPem,
    hosts: (roomUri) => hub.hosts(roomUri),
    limits: opts.assetLimits,
    log,
  });
  const router = clientApiRouter({
    store,
    devices,
    deviceMessages,
    backups,
    assets,
    accounts,
    keyPackages,
    hub,
    follower,
    remoteKeyMaterial: keyMaterial,
    remoteGroupInfo: groupInfo,
    joinLinks,
    remoteJoinTickets: {
      fetch: async (roomUri, req) => {
        const hub = parseMimiUri(roomUri).domain;
        let body: Uint8Array;
        try {
          body = (await peerClient.post(hub, 'joinTicket', roomUri, encodeJoinTicketRequest(req))).body;
        } catch (e) {
          throw peerFailure(e, `a join ticket for ${roomUri}`);
        }
        return ticketFromResponse(hub, body);
      },
    },
    remoteJoinLinks: {
      ask: async (roomUri, req) => {
        const hub = parseMimiUri(roomUri).domain;
        let body: Uint8Array;
        try {
          body = (await peerClient.post(hub, 'joinLinks', roomUri, encodeJoinLinksRequest(req))).body;
        } catch (e) {
          throw peerFailure(e, `the links of ${roomUri}`);
        }
        return decodeJoinLinksResponse(hub, roomUri, body);
      },
    },
    consent,
    directorySearch,
    pseudonyms,
    ohttp,
    hubSender: identity.externalSender.raw,
    publicUrl: () => opts.publicUrl ?? url,
    connectionRequestLimits: opts.connectionRequestLimits,
    servedMimiEndpoints: () => (s2s ? (s2s.endpoints ?? Object.keys(MIMI_ENDPOINTS)) : []),
  });

  const serveS2s = async (handler: S2sHandler, req: IncomingMessage, res: ServerResponse, u: URL) => {
    // Authenticate before anything else, so unauthenticated callers learn nothing about routes.
    const peer = authenticatePeer(req, opts.domain);
    const { endpoint, param } = parseS2sPath(req.method ?? 'GET', u.pathname);
    if (endpoint === 'proxyDownload') {
      // The body is a file: streamed from the asset's provider, never held whole.
      await assets.proxyDownload(peer.domain, param, res);
      return;
    }
    // A relay forwards an encapsulated request as RFC 9458 has it; our own relay sends application/mimi.
    if (!isMimiContentType(req.headers['content-type']) && !(endpoint === 'ohttpGateway' && req.headers['content-type'] === REQUEST_MEDIA_TYPE)) {
      throw badRequest(`Content-Type must be ${MIMI_CONTENT_TYPE}`, 415);
    }
    const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    sendMimi(res, await handler.handle(peer.domain, endpoint, param, new Uint8Array(body), req.headers));
  };

  const tlsOptions = { key: tls.serverKeyPem, cert: tls.serverCertPem, minVersion: 'TLSv1.2' as const };
  const server = https.createServer({ ...tlsOptions, ...peerTlsServerOptions(fedConfig.trustPem) }, (req, res) => {
    void (async () => {
      try {
        const u = new URL(req.url ?? '/', 'https://provider.invalid');
        if (s2s && (u.pathname === MIMI_PREFIX || u.pathname.startsWith(`${MIMI_PREFIX}/`))) {
          await serveS2s(s2s, req, res, u);
          return;
        }
        if (AssetService.handles(u.pathname)) {
          await assets.handle(req, res, u);
          return;
        }
        if (BackupService.handles(u.pathname)) {
          await backups.handle(req, res, u);
          return;
        }
        if (isAdminPath(u.pathname)) {
          await admin.handle(req, res, u);
          return;
        }
        const { handler, params } = router.resolve(req.method ?? 'GET', u.pathname);
        const reply = await handler({ req, url: u, params });
        sendJson(res, reply.status, reply.body);
      } catch (e) {
        sendError(res, e, log);
      }
    })();
  });
  // An upload that says `Expect: 100-continue` is judged on its headers first (assets.ts: token,
  // size, quota), so a file that would be refused is never sent; anything else just continues.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    try {
      const u = new URL(req.url ?? '/', 'https://provider.invalid');
      if (req.method === 'POST' && u.pathname === ASSET_UPLOAD_PATH) assets.precheckUpload(req);
      if (req.method === 'PUT' && BackupService.handles(u.pathname)) backups.precheckUpload(req, u.pathname);
    } catch (e) {
      sendError(res, e, log);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  guardPeerConnections(server, log);
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = opts.keepAliveMs ?? SERVER_KEEP_ALIVE_MS;

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const u = new URL(req.url ?? '/', 'https://provider.invalid');
      if (u.pathname !== EVENTS_PATH) throw new ApiFailure('notFound', `no WebSocket endpoint at ${u.pathname}`);
      const cursor = parseCursor(u.searchParams.get('cursor'));
      const actor = accounts.authenticate(req.headers.authorization);
      wss.handleUpgrade(req, socket, head, (ws) => push.attach(ws, actor.deviceUri, cursor, socket));
    } catch (e) {
      if (e instanceof ApiFailure) rejectUpgrade(socket, e);
      else {
        log(`upgrade failed: ${(e as Error).stack ?? e}`);
        rejectUpgrade(socket, new ApiFailure('internal', 'internal server error'));
      }
    }
  });

  if (wakeBus) {
    // Rows stored by other nodes wake this node's streams; after a gap in listening every stream
    // reads from its cursor. Listening before the port opens: no stream can miss a wake.
    wakeBus.on('wake', (devices) => push.notify(devices));
    wakeBus.on('resync', () => push.notifyAll());
    await wakeBus.start();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  outbox.start(); // resume fanout left over from the previous run
  admin.started(url);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Stop fanout first: closing the peer client aborts in-flight deliveries (their rows stay).
      clearInterval(knockSweep);
      admin.stopped(url);
      const outboxClosed = outbox.close();
      peerClient.close();
      assets.close();
      await outboxClosed;
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
      // Leases end with their session: other nodes take the fanout at their next try.
      await Promise.all([wakeBus?.close(), leases?.close()]);
      store.close();
    })());

  return {
    url,
    port,
    domain: opts.domain,
    caPem: tls.caPem,
    federation: { config: fedConfig, peerClient, outbox, seenLog, db: store.db, clientCertPem: fedIdentity.certPem },
    close,
  };
}
