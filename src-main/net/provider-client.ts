// Typed client for the home provider's client API (src-shared/provider-api.ts), used by the
// desktop core and the CLI. HTTPS via node:https; when `caPem` is given it is the ONLY trusted
// root (the provider's dev CA is pinned, the system store is not consulted). Every failure is a
// `ProviderError` whose `code` is the provider's ApiErrorCode, or 'unreachable' when no answer
// came back (refused, TLS failure, timeout) - the caller can retry those with the same requestId.
// A TLS failure because of the provider's certificate stays 'unreachable' (retrying is harmless)
// but carries `certificate`, so the person is told to check the CA or the address, not their
// internet connection. The push stream is push-connection.ts.

import type { ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';
import { CLIENT_IDLE_MS, closedWhileIdle } from '../../src-shared/idle-connection.js';
import { toB64 } from '../../src-shared/bytes.js';
import {
  ROUTES,
  roomPath,
  type ApiError,
  type ApiErrorCode,
  type ClaimRequest,
  type ClaimResponse,
  type CommitRequest,
  type CommitResponse,
  type ConnectionRequestPolicyResponse,
  type ConsentActionRequest,
  type ConsentActionResponse,
  type ConsentListResponse,
  type CreateRoomRequest,
  type DestroyRoomRequest,
  type DestroyRoomResponse,
  type FindRequest,
  type FindResponse,
  type MyProfile,
  type OhttpKeysResponse,
  type OhttpRelayRequest,
  type OhttpRelayResponse,
  type SetConnectionRequestPolicyRequest,
  type SetProfileRequest,
  type GroupInfoResponse,
  type HubSenderResponse,
  type ProposalsRequest,
  type ReportAbuseRequest,
  type LoginRequest,
  type MeResponse,
  type RegisterRequest,
  type RoomInfo,
  type SendMessageRequest,
  type SendMessageResponse,
  type SessionResponse,
  type UploadKeyPackagesRequest,
  type IssuePseudonymsResponse,
  type PseudonymKeyPackageCount,
  type PseudonymListResponse,
  type RetirePseudonymResponse,
  type UploadPseudonymKeyPackagesRequest,
  type CreateLinkRequest,
  type JoinByCodeRequest,
  type JoinByCodeResponse,
  type JoinLinkInfo,
  type RevokeLinkRequest,
  backupPath,
  type BackupChunkInfo,
  type BackupListing,
  type BackupsResponse,
  type DeleteBackupResponse,
  type DeviceInfo,
  type DeviceListResponse,
  type RemoveDeviceResponse,
  type DeviceMessage,
  type DeviceMessagesResponse,
  type SendDeviceMessageResponse,
} from '../../src-shared/provider-api.js';

export type ProviderErrorCode = ApiErrorCode | 'unreachable';

export class ProviderError extends Error {
  constructor(
    /** HTTP status; 0 when the provider could not be reached. */
    readonly status: number,
    readonly code: ProviderErrorCode,
    message: string,
    /** Set with wrongEpoch / epochTooOld: the hub's current epoch. */
    readonly currentEpoch?: bigint,
    /** Set when TLS failed because of the provider's certificate (see certificateProblem). */
    readonly certificate?: CertificateProblem,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/**
 * Why the provider's certificate was refused: `untrusted` (not signed by the CA given, or by any
 * the system trusts when none was given), `name` (issued for another host than the address),
 * `expired` (outside its validity period), `other` (revoked, bad signature, ...).
 */
export interface CertificateProblem {
  kind: 'untrusted' | 'name' | 'expired' | 'other';
  /** OpenSSL's / Node's code, e.g. SELF_SIGNED_CERT_IN_CHAIN. */
  code: string;
}

const CERT_KINDS: Record<string, CertificateProblem['kind']> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
  CERT_UNTRUSTED: 'untrusted',
  CERT_CHAIN_TOO_LONG: 'untrusted',
  INVALID_CA: 'untrusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'name',
  HOSTNAME_MISMATCH: 'name',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'expired',
  CERT_REVOKED: 'other',
  CERT_SIGNATURE_FAILURE: 'other',
  CERT_REJECTED: 'other',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'other',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'other',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'other',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'other',
};

/** The certificate problem behind a failed TLS connection, or undefined for any other failure. */
export function certificateProblem(e: unknown): CertificateProblem | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const kind = CERT_KINDS[code];
  return kind ? { kind, code } : undefined;
}

/** What went wrong with the certificate, in words; the caller adds what to do. */
export function describeCertificateProblem(p: CertificateProblem, baseUrl: string, withCa: boolean): string {
  switch (p.kind) {
    case 'untrusted':
      return withCa
        ? `the certificate of the provider at ${baseUrl} is not signed by the CA certificate given for it (${p.code})`
        : `the certificate of the provider at ${baseUrl} is not signed by a certificate authority this computer trusts (${p.code})`;
    case 'name':
      return `the certificate of the provider at ${baseUrl} is issued for another name than ${hostOf(baseUrl)} (${p.code})`;
    case 'expired':
      return `the certificate of the provider at ${baseUrl} is outside its validity period (${p.code})`;
    case 'other':
      return `the certificate of the provider at ${baseUrl} was refused (${p.code})`;
  }
}

function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname;
  } catch {
    return baseUrl;
  }
}

export interface ProviderClientOptions {
  /** e.g. https://127.0.0.1:8443 */
  baseUrl: string;
  /** PEM of the CA to trust exclusively (the provider's dev CA). */
  caPem?: string;
  /** Bearer token of this device; set automatically by register() and login(). */
  token?: string;
  /** Per-request timeout in ms (default 15 s). */
  timeoutMs?: number;
}

export type MimiDirectory = Record<string, string>;

/** Responses larger than this are treated as a broken provider. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

const path = (route: string): string => route.split(' ')[1];

function isApiError(v: unknown): v is ApiError {
  const e = (v as ApiError | null)?.error;
  return typeof e === 'object' && e !== null && typeof e.code === 'string' && typeof e.message === 'string';
}

function parseEpoch(s: string | undefined): bigint | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  return BigInt(s);
}

export class ProviderClient {
  readonly baseUrl: string;
  token: string | undefined;
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private readonly pinnedCa: boolean;

  constructor(opts: ProviderClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.pinnedCa = !!opts.caPem;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent = new https.Agent({ keepAlive: true, timeout: CLIENT_IDLE_MS, ...(opts.caPem ? { ca: opts.caPem } : {}) });
  }

  /** Release pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  /** Closes the pooled connections no request is using (see dropIdleSockets). */
  dropIdleConnections(): void {
    dropIdleSockets(this.agent);
  }

  private unreachable(detail: string): ProviderError {
    return new ProviderError(0, 'unreachable', `the provider at ${this.baseUrl} can't be reached: ${detail}`);
  }

  /** A failed connection: a certificate problem says so, anything else is plain unreachable. */
  private connectionFailed(e: Error): ProviderError {
    const cert = certificateProblem(e);
    if (!cert) return this.unreachable(e.message);
    return new ProviderError(0, 'unreachable', describeCertificateProblem(cert, this.baseUrl, this.pinnedCa), undefined, cert);
  }

  private request<T>(method: string, p: string, body?: unknown, authenticated = true): Promise<T> {
    let url: URL;
    try {
      url = new URL(this.baseUrl + p);
    } catch {
      return Promise.reject(this.unreachable(`invalid base URL ${this.baseUrl}`));
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (authenticated) {
      if (!this.token) return Promise.reject(new ProviderError(401, 'unauthorized', 'no device token: register or log in first'));
      headers.authorization = `Bearer ${this.token}`;
    }
    // A pooled connection the provider closed as idle fails before any answer (idle-connection.ts):
    // the request never reached a handler, so it is sent once more (writes carry request ids anyway).
    const send = (retried: boolean): Promise<T> => new Promise<T>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const fail = (e: ProviderError) => {
        if (!settled) {
          settled = true;
          reject(e);
        }
      };
      const req = https.request(url, { method, headers, agent: this.agent }, (res) => {
        answered = true;
        this.readBody(req, res, fail, (all) => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = JSON.parse(all.toString('utf8'));
          } catch {
            fail(new ProviderError(status, 'internal', `provider answered ${method} ${p} with ${status} and a body that is not JSON`));
            return;
          }
          if (status >= 200 && status < 300) {
            settled = true;
            resolve(json as T);
          } else if (isApiError(json)) {
            fail(new ProviderError(status, json.error.code, json.error.message, parseEpoch(json.error.currentEpoch)));
          } else {
            fail(new ProviderError(status, 'internal', `provider answered ${method} ${p} with HTTP ${status}`));
          }
        });
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy();
        fail(this.unreachable(`no answer within ${this.timeoutMs} ms`));
      });
      req.on('error', (e) => {
        if (!retried && !settled && closedWhileIdle(req, e, answered)) {
          settled = true;
          send(true).then(resolve, reject);
          return;
        }
        fail(this.connectionFailed(e));
      });
      req.end(payload);
    });
    return send(false);
  }

  // ---- accounts ----

  async register(req: RegisterRequest): Promise<SessionResponse> {
    const s = await this.request<SessionResponse>('POST', path(ROUTES.register), req, false);
    this.token = s.token;
    return s;
  }

  /** Logs in as a NEW device of the account; this client then acts as that device. */
  async login(req: LoginRequest): Promise<SessionResponse> {
    const s = await this.request<SessionResponse>('POST', path(ROUTES.login), req, false);
    this.token = s.token;
    return s;
  }

  me(): Promise<MeResponse> {
    return this.request('GET', path(ROUTES.me));
  }

  health(): Promise<{ ok: boolean }> {
    return this.request('GET', path(ROUTES.health), undefined, false);
  }

  // ---- key packages ----

  uploadKeyPackages(req: UploadKeyPackagesRequest): Promise<{ available: number }> {
    return this.request('POST', path(ROUTES.uploadKeyPackages), req);
  }

  keyPackageCount(): Promise<{ available: number; lastResort: boolean }> {
    return this.request('GET', path(ROUTES.keyPackageCount));
  }

  claim(req: ClaimRequest): Promise<ClaimResponse> {
    return this.request('POST', path(ROUTES.claimKeyPackages), req);
  }

  // ---- rooms ----

  createRoom(req: CreateRoomRequest): Promise<RoomInfo> {
    return this.request('POST', path(ROUTES.createRoom), req);
  }

  async listRooms(): Promise<RoomInfo[]> {
    return (await this.request<{ rooms: RoomInfo[] }>('GET', path(ROUTES.listRooms))).rooms;
  }

  getRoom(roomUri: string): Promise<RoomInfo> {
    return this.request('GET', roomPath(roomUri));
  }

  commit(roomUri: string, req: CommitRequest): Promise<CommitResponse> {
    return this.request('POST', roomPath(roomUri, '/commit'), req);
  }

  sendMessage(roomUri: string, req: SendMessageRequest): Promise<SendMessageResponse> {
    return this.request('POST', roomPath(roomUri, '/messages'), req);
  }

  /**
   * Several messages in one request (ROUTES.sendMessageBatch): one result per entry, in order, each
   * what sendMessage would have given (an entry's failure is in its result, not thrown). A provider
   * older than the route throws ProviderError 404 'notFound'.
   */
  sendMessageBatch(req: import('../../src-shared/provider-api.js').SendMessageBatchRequest): Promise<import('../../src-shared/provider-api.js').SendMessageBatchResponse> {
    return this.request('POST', path(ROUTES.sendMessageBatch), req);
  }

  /** `asPseudonym`: fetch it as this user pseudonym of the account (a room it is in as a pseudonym). */
  groupInfo(roomUri: string, opts: { asPseudonym?: string } = {}): Promise<GroupInfoResponse> {
    const query = opts.asPseudonym === undefined ? '' : `?asPseudonym=${encodeURIComponent(opts.asPseudonym)}`;
    return this.request('GET', roomPath(roomUri, `/groupInfo${query}`));
  }

  /** A join link for a room hosted by our provider (the code stays with us: only its hash goes). */
  createLink(roomUri: string, req: CreateLinkRequest): Promise<JoinLinkInfo> {
    return this.request('POST', roomPath(roomUri, '/links'), req);
  }

  listLinks(roomUri: string, opts: { asPseudonym?: string } = {}): Promise<{ links: JoinLinkInfo[] }> {
    const query = opts.asPseudonym === undefined ? '' : `?asPseudonym=${encodeURIComponent(opts.asPseudonym)}`;
    return this.request('GET', roomPath(roomUri, `/links${query}`));
  }

  revokeLink(roomUri: string, req: RevokeLinkRequest): Promise<{ links: JoinLinkInfo[] }> {
    return this.request('POST', roomPath(roomUri, '/links/revoke'), req);
  }

  /** Trade a link's code for the hub's admission ticket and the room's GroupInfo. */
  joinByCode(roomUri: string, req: JoinByCodeRequest): Promise<JoinByCodeResponse> {
    return this.request('POST', roomPath(roomUri, '/joinByCode'), req);
  }

  /** Destroys a room this provider hosts (canDestroyRoom); `asPseudonym` when the account is on its list as that pseudonym. */
  destroyRoom(roomUri: string, req: DestroyRoomRequest = {}): Promise<DestroyRoomResponse> {
    return this.request('POST', roomPath(roomUri, '/destroy'), req);
  }

  proposals(roomUri: string, req: ProposalsRequest): Promise<{ acceptedTimestamp: number }> {
    return this.request('POST', roomPath(roomUri, '/proposals'), req);
  }

  reportAbuse(roomUri: string, req: ReportAbuseRequest): Promise<{ accepted: true }> {
    return this.request('POST', roomPath(roomUri, '/reportAbuse'), req);
  }

  hubSender(): Promise<HubSenderResponse> {
    return this.request('GET', path(ROUTES.hubSender));
  }

  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    await this.request('POST', path(ROUTES.changePassword), { oldPassword, newPassword });
  }

  async deleteAccount(): Promise<void> {
    await this.request('DELETE', path(ROUTES.deleteAccount));
  }

  // ---- consent ----

  consents(): Promise<ConsentListResponse> {
    return this.request('GET', path(ROUTES.consents));
  }

  /** One of the consent actions (ROUTES.requestConsent ... ROUTES.unblockUser). */
  consentAction(
    action: 'requestConsent' | 'cancelConsent' | 'grantConsent' | 'declineConsent' | 'revokeConsent' | 'blockUser' | 'unblockUser',
    req: ConsentActionRequest,
  ): Promise<ConsentActionResponse> {
    return this.request('POST', path(ROUTES[action]), req);
  }

  /** Who may send this user connection requests (claims by pseudonyms); default anyone. */
  connectionRequestPolicy(): Promise<ConnectionRequestPolicyResponse> {
    return this.request('GET', path(ROUTES.connectionRequestPolicy));
  }

  setConnectionRequestPolicy(req: SetConnectionRequestPolicyRequest): Promise<ConnectionRequestPolicyResponse> {
    return this.request('PUT', path(ROUTES.setConnectionRequestPolicy), req);
  }

  // ---- discovery ----

  myProfile(): Promise<MyProfile> {
    return this.request('GET', path(ROUTES.myProfile));
  }

  setMyProfile(req: SetProfileRequest): Promise<MyProfile> {
    return this.request('POST', path(ROUTES.setMyProfile), req);
  }

  /**
   * Discovery. With `tokenRequest` the searched provider is also asked for KeyPackage tokens for
   * that target (answered in `tokenResponse`); every answer may name the token key of each user
   * found (`tokenKeys`) when their provider runs an OHTTP gateway.
   */
  find(req: FindRequest): Promise<FindResponse> {
    return this.request('POST', path(ROUTES.find), req);
  }

  // ---- KeyPackages over Oblivious HTTP (docs/ohttp-key-packages.md) ----

  /** `domain`'s signed OHTTP key configuration, through our provider; 404 notFound when it offers no gateway. */
  ohttpKeys(domain: string): Promise<OhttpKeysResponse> {
    return this.request('GET', path(ROUTES.ohttpKeys).replace(':domain', encodeURIComponent(domain)));
  }

  /**
   * Sends an encapsulated request (message/ohttp-req) through our provider to `domain`'s gateway
   * and returns its encapsulated answer, whatever the answer inside says. A 4xx means the gateway
   * could not open it (or our provider refused to relay it).
   */
  ohttpRelay(domain: string, req: OhttpRelayRequest): Promise<OhttpRelayResponse> {
    return this.request('POST', path(ROUTES.ohttpRelay).replace(':domain', encodeURIComponent(domain)), req);
  }

  // ---- pseudonyms ----

  /** New user + client pseudonym pairs for this device; 429 rateLimited over the account's allowance. */
  issuePseudonyms(count: number): Promise<IssuePseudonymsResponse> {
    return this.request('POST', path(ROUTES.issuePseudonyms), { count });
  }

  /** Every pseudonym of the account (all its devices), active and retired, and the allowance left. */
  pseudonyms(): Promise<PseudonymListResponse> {
    return this.request('GET', path(ROUTES.pseudonyms));
  }

  retirePseudonym(userPseudonym: string): Promise<RetirePseudonymResponse> {
    return this.request('POST', path(ROUTES.retirePseudonym), { userPseudonym });
  }

  /** KeyPackages for a client pseudonym issued to this device. */
  uploadPseudonymKeyPackages(req: UploadPseudonymKeyPackagesRequest): Promise<PseudonymKeyPackageCount> {
    return this.request('POST', path(ROUTES.uploadPseudonymKeyPackages), req);
  }

  directory(): Promise<MimiDirectory> {
    return this.request('GET', path(ROUTES.directory), undefined, false);
  }

  // ---- devices ----

  /** Every device of the account, the calling one marked `current`. */
  async listDevices(): Promise<DeviceInfo[]> {
    return (await this.request<DeviceListResponse>('GET', path(ROUTES.devices))).devices;
  }

  /** 400 badRequest for a name that is empty, too long or unprintable; 404 notFound for a device not of this account. */
  renameDevice(deviceId: string, name: string): Promise<DeviceInfo> {
    return this.request('PATCH', `${path(ROUTES.devices)}/${encodeURIComponent(deviceId)}`, { name });
  }

  /**
   * Removes another device of the account: its token stops working, and the rooms hosted by this
   * provider drop it. 403 notAllowed for this device itself (signOut), 404 notFound once it is gone.
   */
  removeDevice(deviceId: string): Promise<RemoveDeviceResponse> {
    return this.request('DELETE', `${path(ROUTES.devices)}/${encodeURIComponent(deviceId)}`);
  }

  /** Leaves an opaque message for another device of the account (device-messages.ts at the provider); 404 notFound for any other device. */
  sendDeviceMessage(deviceId: string, body: Uint8Array): Promise<SendDeviceMessageResponse> {
    return this.request('POST', `${path(ROUTES.devices)}/${encodeURIComponent(deviceId)}/messages`, { body: toB64(body) });
  }

  /** Messages from the account's other devices waiting for this one, oldest first. */
  async deviceMessages(): Promise<DeviceMessage[]> {
    return (await this.request<DeviceMessagesResponse>('GET', path(ROUTES.deviceMessages))).messages;
  }

  /** Deletes fetched messages at the provider. */
  ackDeviceMessages(ids: number[]): Promise<{ deleted: number }> {
    return this.request('POST', path(ROUTES.ackDeviceMessages), { ids });
  }

  /** Removes this device from the account; the token is useless afterwards. */
  async signOut(): Promise<RemoveDeviceResponse> {
    const r = await this.request<RemoveDeviceResponse>('DELETE', path(ROUTES.signOut));
    this.token = undefined;
    return r;
  }

  // ---- backups ----

  /** The account's backups and its backup quota. */
  listBackups(): Promise<BackupsResponse> {
    return this.request('GET', path(ROUTES.backups));
  }

  /** One backup's generations and chunks; 404 notFound when the account has no such backup. */
  listBackup(backupId: string): Promise<BackupListing> {
    return this.request('GET', backupPath(backupId));
  }

  /**
   * Stores (or replaces) one sealed chunk. Sent with `Expect: 100-continue`: a chunk the provider
   * refuses from its headers (413 tooLarge, 507 quotaExceeded) is never sent.
   */
  putBackupChunk(backupId: string, generation: number, index: number, sealed: Uint8Array): Promise<BackupChunkInfo> {
    return this.binary('PUT', backupPath(backupId, generation, index), sealed).then((r) => {
      try {
        return JSON.parse(r.toString('utf8')) as BackupChunkInfo;
      } catch {
        throw new ProviderError(200, 'internal', `provider answered the chunk upload with a body that is not JSON`);
      }
    });
  }

  /** The chunk's bytes exactly as stored; 404 notFound when there is none. */
  async getBackupChunk(backupId: string, generation: number, index: number): Promise<Uint8Array> {
    return new Uint8Array(await this.binary('GET', backupPath(backupId, generation, index)));
  }

  /** Deletes one generation (e.g. the one before, once a new one is complete). */
  deleteBackupGeneration(backupId: string, generation: number): Promise<DeleteBackupResponse> {
    return this.request('DELETE', backupPath(backupId, generation));
  }

  deleteBackup(backupId: string): Promise<DeleteBackupResponse> {
    return this.request('DELETE', backupPath(backupId));
  }

  /** The answer's body, at most MAX_RESPONSE_BYTES (beyond that the request is dropped and fails). */
  private readBody(req: ClientRequest, res: IncomingMessage, fail: (e: ProviderError) => void, done: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) {
        req.destroy();
        fail(new ProviderError(res.statusCode ?? 0, 'internal', `response from ${this.baseUrl} is too large`));
        return;
      }
      chunks.push(c);
    });
    res.on('error', (e) => fail(this.unreachable(e.message)));
    res.on('end', () => done(Buffer.concat(chunks)));
  }

  /**
   * An authenticated request with an octet-stream body and/or answer. Failures become the same
   * ProviderErrors as JSON requests: the provider's error body, or 'unreachable'.
   */
  private binary(method: 'GET' | 'PUT', p: string, body?: Uint8Array): Promise<Buffer> {
    if (!this.token) return Promise.reject(new ProviderError(401, 'unauthorized', 'no device token: register or log in first'));
    let url: URL;
    try {
      url = new URL(this.baseUrl + p);
    } catch {
      return Promise.reject(this.unreachable(`invalid base URL ${this.baseUrl}`));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: body ? 'application/json' : 'application/octet-stream' };
    if (body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(body.length);
      headers.expect = '100-continue';
    }
    // A pooled connection closed as idle (idle-connection.ts): sent once more, for a body only
    // before it went out (the provider had not said Continue, so it stored nothing).
    const send = (retried: boolean): Promise<Buffer> => new Promise((resolve, reject) => {
      let settled = false;
      let bodySent = false;
      let answered = false;
      const fail = (e: ProviderError) => {
        if (!settled) {
          settled = true;
          reject(e);
        }
      };
      const req = https.request(url, { method, headers, agent: this.agent }, (res) => {
        answered = true;
        this.readBody(req, res, fail, (all) => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            const declared = Number(res.headers['content-length']);
            if (Number.isSafeInteger(declared) && declared !== all.length) {
              fail(this.unreachable(`the answer ended after ${all.length} of ${declared} bytes`));
              return;
            }
            settled = true;
            resolve(all);
            return;
          }
          let json: unknown;
          try {
            json = JSON.parse(all.toString('utf8'));
          } catch {
            json = undefined;
          }
          if (isApiError(json)) fail(new ProviderError(status, json.error.code, json.error.message));
          else fail(new ProviderError(status, 'internal', `provider answered ${method} ${p} with HTTP ${status}`));
          // A refusal before the body was sent leaves this connection mid-request: not reusable.
          if (body) req.destroy();
        });
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy();
        fail(this.unreachable(`no answer within ${this.timeoutMs} ms`));
      });
      req.on('error', (e) => {
        if (!retried && !settled && !bodySent && closedWhileIdle(req, e, answered)) {
          settled = true;
          send(true).then(resolve, reject);
          return;
        }
        if (!answered) fail(this.connectionFailed(e));
      });
      if (body) {
        req.once('continue', () => {
          bodySent = true;
          req.end(body);
        });
      } else req.end();
    });
    return send(false);
  }
}

/**
 * Closes an agent's pooled connections that no request is using. After the computer slept they may
 * lead nowhere: on a changed network a request on one gets no answer at all and waits for its
 * timeout (a provider that merely closed it answers with a reset, which the retry handles).
 */
export function dropIdleSockets(agent: https.Agent): void {
  for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
}
