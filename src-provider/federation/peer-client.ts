// HTTPS client for the MIMI server-to-server endpoints of peer providers. Resolves endpoint URLs
// through the peer's directory (/.well-known/mimi-protocol-directory, cached), identifies us with
// our federation client certificate and `From: mimi@<ownDomain>`, names the target with
// `Host: <target domain>`, and accepts the peer only if its server certificate chains to a --trust
// CA AND is valid for the target domain, whatever host the URL points at (in dev the URL is
// 127.0.0.1:port while the certificate says DNS:b.example).

import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import tls, { type PeerCertificate } from 'node:tls';
import { fromUtf8 } from '../../src-shared/bytes.js';
import { CLIENT_IDLE_MS, closedWhileIdle } from '../../src-shared/idle-connection.js';
import type { ApiError, ApiErrorCode } from '../../src-shared/provider-api.js';
import { ApiFailure } from '../errors.js';
import { DIRECTORY_PATH } from '../directory.js';
import { peerBaseUrl, type FederationConfig } from './config.js';

export const PEER_ENDPOINTS = [
  'keyMaterial',
  'update',
  'notify',
  'submitMessage',
  'groupInfo',
  'requestConsent',
  'updateConsent',
  'identifierQuery',
  'reportAbuse',
  'joinTicket',
  'joinLinks',
  'proxyDownload',
  'ohttpKeys',
  'ohttpGateway',
] as const;
export type PeerEndpoint = (typeof PEER_ENDPOINTS)[number];

export const MIMI_CONTENT_TYPE = 'application/mimi';

/** Placeholders a directory URL template may contain (the draft's endpoint text and its example). */
const PLACEHOLDERS = new Set(['targetUser', 'roomId', 'targetDomain', 'requesterDomain', 'domain', 'requesterUser', 'downloadUrl']);

export type PeerErrorCode = 'unreachable' | 'rejected' | 'badResponse';

export class PeerError extends Error {
  constructor(
    readonly domain: string,
    readonly code: PeerErrorCode,
    message: string,
    readonly status?: number,
    /** From a Retry-After header on a rejection. */
    readonly retryAfterMs?: number,
    /** The rejection's response body, for callers that decode peer error details. */
    readonly body?: Uint8Array,
  ) {
    super(message);
    this.name = 'PeerError';
  }

  /** Worth trying again later: the peer was unreachable, overloaded or failing, not refusing. */
  get retryable(): boolean {
    if (this.code === 'unreachable') return true;
    if (this.code === 'rejected' && this.status !== undefined) {
      return this.status >= 500 || this.status === 429 || this.status === 408;
    }
    return false;
  }
}

export interface PeerResponse {
  status: number;
  body: Uint8Array;
  retryAfterMs?: number;
  /** The response's headers (the fanout outbox reads the follower's ordering support from them). */
  headers?: IncomingHttpHeaders;
}

export interface PeerClientOptions {
  ownDomain: string;
  config: FederationConfig;
  clientCertPem: string;
  clientKeyPem: string;
  /** Whole-request deadline (connect + send + response); default 15 s. */
  timeoutMs?: number;
  /** Larger responses are cut off and reported as badResponse; default 4 MiB. */
  maxResponseBytes?: number;
  /** How long a fetched directory is used before fetching it again; default 5 min. */
  directoryTtlMs?: number;
  now?: () => number;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Retry-After as milliseconds (delta-seconds or HTTP-date); undefined if absent or unparseable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Fills one directory URL template with the percent-encoded parameter. */
export function fillTemplate(template: string, param: string): string {
  let found = 0;
  let unknown: string | undefined;
  const filled = template.replace(/\{([^{}]*)\}/g, (_m, name: string) => {
    if (!PLACEHOLDERS.has(name)) unknown ??= name;
    found++;
    return encodeURIComponent(param);
  });
  if (unknown !== undefined) throw new Error(`unknown placeholder {${unknown}} in ${JSON.stringify(template)}`);
  if (found !== 1) throw new Error(`expected exactly one placeholder in ${JSON.stringify(template)}, found ${found}`);
  return filled;
}

function describeApiError(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(fromUtf8(body)) as { error?: { code?: unknown; message?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') return `${e.code}: ${e.message}`;
  } catch {
    // not an ApiError body; the status alone describes it
  }
  return undefined;
}

export class PeerClient {
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly directoryTtlMs: number;
  private readonly now: () => number;
  private readonly directories = new Map<string, { entries: Record<string, string>; expires: number }>();
  private readonly directoryFetches = new Map<string, Promise<Record<string, string>>>();

  constructor(private readonly opts: PeerClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 4 * 1024 * 1024;
    this.directoryTtlMs = opts.directoryTtlMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.agent = new https.Agent({
      keepAlive: true,
      timeout: CLIENT_IDLE_MS,
      maxSockets: 16,
      cert: opts.clientCertPem,
      key: opts.clientKeyPem,
      // An empty list trusts nothing (Node only falls back to its root store when `ca` is absent).
      ca: [...opts.config.trustPem],
      minVersion: 'TLSv1.2',
    });
  }

  get ownDomain(): string {
    return this.opts.ownDomain;
  }

  /** The peer's directory (endpoint name -> URL template), from cache while fresh. */
  async directory(domain: string): Promise<Record<string, string>> {
    const cached = this.directories.get(domain);
    if (cached && cached.expires > this.now()) return cached.entries;
    let pending = this.directoryFetches.get(domain);
    if (!pending) {
      pending = this.fetchDirectory(domain).finally(() => this.directoryFetches.delete(domain));
      this.directoryFetches.set(domain, pending);
    }
    return pending;
  }

  /** Forget a cached directory, so the next request fetches it again. */
  invalidate(domain: string): void {
    this.directories.delete(domain);
  }

  /** The URL `endpoint` of `domain` has for `param`. */
  async endpointUrl(domain: string, endpoint: PeerEndpoint, param: string): Promise<URL> {
    const dir = await this.directory(domain);
    const template = dir[endpoint];
    if (typeof template !== 'string') {
      throw new PeerError(domain, 'badResponse', `${domain}'s MIMI directory has no "${endpoint}" endpoint`);
    }
    let url: URL;
    try {
      url = new URL(fillTemplate(template, param));
    } catch (e) {
      throw new PeerError(domain, 'badResponse', `${domain}'s MIMI directory entry "${endpoint}" is unusable: ${(e as Error).message}`);
    }
    if (url.protocol !== 'https:') {
      throw new PeerError(domain, 'badResponse', `${domain}'s MIMI directory entry "${endpoint}" is not an https URL`);
    }
    return url;
  }

  /**
   * POSTs a MIMI body to `endpoint` of `domain`. Resolves for 2xx; throws PeerError otherwise
   * ('rejected' with the status for non-2xx answers, 'unreachable' for connection, TLS and timeout
   * failures, 'badResponse' for an unusable directory or an oversize response).
   */
  async post(domain: string, endpoint: PeerEndpoint, param: string, body: Uint8Array, extraHeaders?: Record<string, string>): Promise<PeerResponse> {
    const url = await this.endpointUrl(domain, endpoint, param);
    let res: RawResponse;
    try {
      res = await this.request(domain, 'POST', url, body, false, extraHeaders);
    } catch (e) {
      // The peer may have moved its endpoints: look the directory up again next time.
      if (e instanceof PeerError && e.code === 'unreachable') this.invalidate(domain);
      throw e;
    }
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'] as string | undefined);
    if (res.status < 200 || res.status > 299) {
      if (res.status === 404 || res.status === 421) this.invalidate(domain);
      const detail = describeApiError(res.body) ?? `HTTP ${res.status}`;
      throw new PeerError(domain, 'rejected', `${domain} rejected ${endpoint}: ${detail}`, res.status, retryAfterMs, new Uint8Array(res.body));
    }
    return { status: res.status, body: new Uint8Array(res.body), headers: res.headers, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  /** Closes idle keep-alive connections and refuses nothing further (in-flight requests finish). */
  close(): void {
    this.agent.destroy();
  }

  private async fetchDirectory(domain: string): Promise<Record<string, string>> {
    const url = new URL(DIRECTORY_PATH, peerBaseUrl(this.opts.config, domain));
    const res = await this.request(domain, 'GET', url);
    if (res.status !== 200) {
      throw new PeerError(domain, 'rejected', `${domain} answered its MIMI directory with HTTP ${res.status}`, res.status);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(fromUtf8(res.body));
    } catch (e) {
      throw new PeerError(domain, 'badResponse', `${domain}'s MIMI directory is not JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new PeerError(domain, 'badResponse', `${domain}'s MIMI directory is not a JSON object`);
    }
    const entries: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') entries[k] = v;
    this.directories.set(domain, { entries, expires: this.now() + this.directoryTtlMs });
    return entries;
  }

  private request(domain: string, method: 'GET' | 'POST', url: URL, body?: Uint8Array, retried = false, extraHeaders?: Record<string, string>): Promise<RawResponse> {
    const headers: Record<string, string> = {
      ...extraHeaders,
      host: domain,
      from: `mimi@${this.opts.ownDomain}`,
      accept: method === 'GET' ? 'application/json' : MIMI_CONTENT_TYPE,
    };
    if (body) {
      headers['content-type'] = MIMI_CONTENT_TYPE;
      headers['content-length'] = String(body.length);
    }
    const unreachable = (why: string) => new PeerError(domain, 'unreachable', `${domain} unreachable at ${url.origin}: ${why}`);
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const finish = (err: PeerError | null, value?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve(value!);
      };
      const req = https.request(
        {
          method,
          protocol: 'https:',
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port || 443,
          path: url.pathname + url.search,
          headers,
          agent: this.agent,
          // Verify the certificate against the TARGET DOMAIN, not the URL's host (see top of file).
          servername: domain,
          checkServerIdentity: (_host: string, cert: PeerCertificate) => tls.checkServerIdentity(domain, cert),
        },
        (res) => {
          answered = true;
          const declared = Number(res.headers['content-length']);
          if (declared > this.maxResponseBytes) {
            res.destroy();
            finish(new PeerError(domain, 'badResponse', `${domain} sent a ${declared}-byte response (limit ${this.maxResponseBytes})`, res.statusCode));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxResponseBytes) {
              res.destroy();
              finish(new PeerError(domain, 'badResponse', `${domain} sent a response over ${this.maxResponseBytes} bytes`, res.statusCode));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (e) => finish(unreachable(`response interrupted: ${e.message}`)));
          res.on('aborted', () => finish(unreachable('response aborted')));
        },
      );
      const deadline = setTimeout(() => {
        req.destroy();
        finish(unreachable(`no complete response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A pooled connection the peer closed as idle (idle-connection.ts): retry once on a fresh
        // one. Receivers of retried bodies deduplicate anyway (the draft requires it for /notify).
        if (!retried && !settled && closedWhileIdle(req, e, answered)) {
          settled = true;
          clearTimeout(deadline);
          this.request(domain, method, url, body, true, extraHeaders).then(resolve, reject);
          return;
        }
        finish(unreachable(e.code ? `${e.code}: ${e.message}` : e.message));
      });
      req.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined);
    });
  }
}

/** Codes a peer's 4xx may be relayed to our own client with (never 'unauthorized': that would log the client out). */
const RELAYED_CODES = new Set<ApiErrorCode>(['badRequest', 'notAllowed', 'roomUnknown', 'notMember', 'userUnknown', 'rateLimited', 'tooLarge']);

/**
 * A peer failure as something our client can act on: `peerUnreachable` (502) when trying again
 * later may help (no connection, timeout, 5xx, 429); the peer's own refusal code where it means
 * something to the client; else `internal` with 502. Messages name the provider that failed.
 */
export function peerFailure(e: unknown, what: string): ApiFailure {
  if (e instanceof ApiFailure) return e;
  if (!(e instanceof PeerError)) throw e;
  if (e.retryable) return new ApiFailure('peerUnreachable', `provider ${e.domain} is unreachable (${what}): ${e.message}`, { status: 502 });
  if (e.code === 'rejected' && e.status !== undefined && e.status >= 400 && e.status < 500 && e.body) {
    try {
      const err = (JSON.parse(fromUtf8(e.body)) as ApiError).error;
      if (err && RELAYED_CODES.has(err.code) && typeof err.message === 'string') {
        return new ApiFailure(err.code, `${e.domain} refused ${what}: ${err.message}`, { status: e.status });
      }
    } catch {
      // not an ApiError body
    }
  }
  const why = e.code === 'rejected' ? 'refused the request' : 'answered unusably';
  return new ApiFailure('internal', `provider ${e.domain} ${why} (${what}): ${e.message}`, { status: 502 });
}
