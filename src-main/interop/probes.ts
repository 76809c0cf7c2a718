// The conformance kit's probes (docs/interop-check.md): each names the draft-ietf-mimi-protocol-06
// section it tests, says in one sentence what that section requires, plans the HTTP requests to
// send, and judges what came back. Section numbers count the draft's headings with Introduction
// as 1 (5.1 Directory ... 5.10 Download Files); the title follows the number so a reader of
// another revision finds the text.
//
// Pure apart from the fresh keys the request builders make: the runner (check.ts) does the I/O.

import { fromUtf8, toHex } from '../../src-shared/bytes.js';
import type { GroupInfoResponse, IdentifierResponse, KeyMaterialResponse, SubmitMessageResponse, UpdateRoomResponse } from '../../src-shared/mimi-protocol.js';
import { decodeAnswer, describe, isRefusal, type Exchange } from './answers.js';
import * as req from './requests.js';
import { decodeOhttpKeysEntry } from '../../src-shared/key-package-vouch.js';
import { decodeKeyConfigs } from '../../src-shared/ohttp.js';

export type Verdict = 'PASS' | 'FAIL' | 'WARN' | 'SKIP';

/** Which client certificate a request is made with. */
export type Client = 'ours' | 'none' | 'untrusted';

export interface Send {
  /** A directory key: the URL is the directory's template filled with `param`. */
  endpoint?: string;
  param?: string;
  /** Or a fixed path on the target's base URL. */
  path?: string;
  method: 'GET' | 'POST';
  body?: Uint8Array;
  /** Replaces the default Host / From / Content-Type; `undefined` leaves the header out. */
  headers?: Record<string, string | undefined>;
  client?: Client;
  /** Announce `bytes` in Content-Length and send only a first part, or stream them chunked. */
  oversize?: { bytes: number; declared: boolean };
}

export interface Context extends req.Parties {
  /** --room: a room hosted by the target in which the prober's domain has a participant. */
  room?: string;
  groupId?: Uint8Array;
  /** --user: that participant (a user of the prober's domain). */
  user?: string;
  /** Whether --cert/--key were given (the target is meant to trust them). */
  authenticated: boolean;
  /** Directory key -> URL template, once directory.present has read it. */
  directory?: Record<string, string>;
  /** The room's epoch as the hub told update.wrong-epoch. */
  roomEpoch?: bigint;
}

export type Judgement = { ok: boolean; got: string } | { skip: string };

export interface Probe {
  id: string;
  endpoint: string;
  /** e.g. "5.3 Update Room State" */
  section: string;
  requirement: string;
  /** 'must': a miss is FAIL. 'should': a miss is WARN (a SHOULD, or good practice the draft leaves open). */
  level: 'must' | 'should';
  /** The requests, or why the probe cannot run here (SKIP). */
  plan(ctx: Context): Send[] | string;
  judge(ex: Exchange[], ctx: Context): Judgement;
}

/** The draft-06 directory keys (5.1, with the endpoint text's placeholders). */
export const DRAFT_ENDPOINTS = [
  'keyMaterial',
  'update',
  'notify',
  'submitMessage',
  'groupInfo',
  'requestConsent',
  'updateConsent',
  'identifierQuery',
  'reportAbuse',
  'proxyDownload',
] as const;

/** Placeholders a template may use: the endpoint text's, and those of the draft's directory example. */
const PLACEHOLDERS = new Set(['targetUser', 'roomId', 'targetDomain', 'requesterDomain', 'domain', 'requesterUser', 'downloadUrl']);

export const DIRECTORY_PATH = '/.well-known/mimi-protocol-directory';
/** 64 MiB: far above any sensible MIMI body, so every provider should refuse it. */
export const OVERSIZE_BYTES = 64 * 1024 * 1024;

const S = {
  transport: '4.1 Transport layer',
  directory: '5.1 Directory',
  keyMaterial: '5.2 Fetch Key Material',
  update: '5.3 Update Room State',
  submitMessage: '5.4 Submit a Message',
  notify: '5.5 Fanout Messages and Room Events',
  groupInfo: '5.6 Claim group key information',
  consent: '5.7 Convey explicit consent',
  identifierQuery: '5.8 Find internal address',
  reportAbuse: '5.9 Report abuse',
  proxyDownload: '5.10.2 Download using a hub proxy',
};

/** Fills a directory template's one placeholder with the percent-encoded parameter. */
export function fillTemplate(template: string, param: string): string {
  const names = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]);
  if (names.length !== 1 || !PLACEHOLDERS.has(names[0])) throw new Error(`template ${JSON.stringify(template)} needs exactly one known {placeholder}`);
  return template.replace(/\{[^{}]*\}/, encodeURIComponent(param));
}

// ---------------------------------------------------------------------------------------------
// Judging helpers

const one = (ex: Exchange[]): Exchange => ex[0];
const verdict = (ok: boolean, endpoint: string, ex: Exchange, note = ''): Judgement => ({ ok, got: describe(endpoint, ex) + note });

/** Refused with a 4xx: neither accepted (2xx) nor a server failure (5xx) nor silence. */
const refused = (endpoint: string) => (ex: Exchange[]) => verdict(isRefusal(one(ex)), endpoint, one(ex));

/**
 * A refused handshake as the client sees it: a TLS alert, or the server dropping the connection
 * right after the handshake. Not a refused TCP connection or a timeout: those say nothing about
 * certificates (the provider may just be down).
 */
const HANDSHAKE_REFUSED = /ECONNRESET|EPIPE|socket hang up|SSL|alert/i;

/** No client certificate / an untrusted one: the handshake or the request must fail (no 2xx, no 5xx). */
const notAuthenticated = (endpoint: string) => (ex: Exchange[]): Judgement => {
  const e = one(ex);
  if (e.status !== undefined) return verdict(isRefusal(e), endpoint, e);
  const refusedTls = HANDSHAKE_REFUSED.test(e.error ?? '') && !/ECONNREFUSED|server certificate/.test(e.error ?? '');
  return { ok: refusedTls, got: refusedTls ? `refused before HTTP: ${e.error}` : `no HTTP answer: ${e.error}` };
};

/** A 200 whose struct decodes and whose fields pass `check` (a reason string when they do not). */
function answered<T>(endpoint: string, check: (v: T) => string | undefined, alsoOk?: (ex: Exchange) => boolean) {
  return (ex: Exchange[]): Judgement => {
    const e = one(ex);
    if (alsoOk?.(e)) return verdict(true, endpoint, e);
    const decoded = decodeAnswer(endpoint, e);
    if (!decoded || !('value' in decoded)) return verdict(false, endpoint, e);
    const problem = check(decoded.value as T);
    return verdict(problem === undefined, endpoint, e, problem ? ` — ${problem}` : '');
  };
}

const codeIn = <T>(field: keyof T, codes: string[]) => (v: T): string | undefined =>
  codes.includes(String(v[field])) ? undefined : `expected ${codes.join(' or ')}`;

// ---------------------------------------------------------------------------------------------
// Probes per endpoint: a well-formed request needing no shared state, then the same endpoint with
// malformed, truncated, oversize and mistyped bodies.

interface EndpointSpec {
  endpoint: (typeof DRAFT_ENDPOINTS)[number];
  section: string;
  param: (ctx: Context) => string;
  /**
   * Endpoints on a room: malformed and truncated bodies go to --room when there is one, so that
   * the body itself is judged (for an unknown room a hub may refuse before reading it).
   */
  roomEndpoint?: boolean;
  body: (ctx: Context) => Uint8Array;
  valid: { id: string; requirement: string; level?: 'must' | 'should'; judge: (ex: Exchange[], ctx: Context) => Judgement };
}

const ENDPOINTS: EndpointSpec[] = [
  {
    endpoint: 'keyMaterial',
    section: S.keyMaterial,
    param: req.unknownTargetUser,
    body: (c) => req.keyMaterialRequest(c, req.unknownTargetUser(c)),
    valid: {
      id: 'unknown-user',
      requirement: 'a signed KeyMaterialRequest for a user the provider does not have is answered 200 with KeyMaterialResponse userUnknown (or noConsent, the privacy catch-all) and an empty clients list',
      judge: (ex, c) =>
        answered<KeyMaterialResponse>('keyMaterial', (v) => {
          if (!['userUnknown', 'noConsent'].includes(v.userStatus)) return 'expected userUnknown or noConsent';
          if (v.clients.length > 0) return 'clients MUST NOT be populated for this code';
          if (v.userUri !== req.unknownTargetUser(c)) return `userUri ${v.userUri} is not the requested user`;
          return undefined;
        })(ex),
    },
  },
  {
    endpoint: 'update',
    section: S.update,
    param: req.unknownTargetRoom,
    roomEndpoint: true,
    body: (c) => req.updateRequest(req.defaultGroupId(req.unknownTargetRoom(c)), 0n),
    valid: {
      id: 'unknown-room',
      requirement: 'an UpdateRequest for a room the hub does not host is not accepted: a 4xx, or UpdateRoomResponse notAllowed (the draft has no room-unknown code)',
      judge: answered<UpdateRoomResponse>('update', codeIn('responseCode', ['notAllowed']), isRefusal),
    },
  },
  {
    endpoint: 'notify',
    section: S.notify,
    param: req.ownRoom,
    body: (c) => req.notifyBody(req.ownRoom(c), BigInt(Date.now())),
    valid: {
      id: 'from-hub',
      requirement: "a FanoutMessage from the room's hub is answered 201 when accepted, or refused with a 4xx; never 200 or 5xx",
      judge: (ex) => verdict(one(ex).status === 201 || isRefusal(one(ex)), 'notify', one(ex)),
    },
  },
  {
    endpoint: 'submitMessage',
    section: S.submitMessage,
    param: req.unknownTargetRoom,
    roomEndpoint: true,
    body: (c) => req.submitMessageRequest(req.defaultGroupId(req.unknownTargetRoom(c)), 0n, req.probeUser(c)),
    valid: {
      id: 'unknown-room',
      requirement: 'a SubmitMessageRequest for a room the hub does not host is not accepted: a 4xx, or SubmitMessageResponse notAllowed',
      judge: answered<SubmitMessageResponse>('submitMessage', codeIn('statusCode', ['notAllowed']), isRefusal),
    },
  },
  {
    endpoint: 'groupInfo',
    section: S.groupInfo,
    param: req.unknownTargetRoom,
    roomEndpoint: true,
    body: req.groupInfoRequest,
    valid: {
      id: 'unknown-room',
      requirement: 'a signed GroupInfoRequest for a room that does not exist is answered 200 with GroupInfoResponse noSuchRoom (or notAuthorized, to hide it) for that room_id',
      judge: (ex, c) =>
        answered<GroupInfoResponse>('groupInfo', (v) => {
          if (v.status !== 'noSuchRoom' && v.status !== 'notAuthorized') return 'expected noSuchRoom or notAuthorized';
          return v.roomId === req.unknownTargetRoom(c) ? undefined : `room_id ${v.roomId} is not the requested room`;
        })(ex),
    },
  },
  {
    endpoint: 'requestConsent',
    section: S.consent,
    param: (c) => c.target,
    body: req.consentCancel,
    valid: {
      id: 'cancel',
      requirement: 'a ConsentEntry cancel with no matching request is answered 201 (or 404 when the target user is unknown)',
      judge: (ex) => verdict(one(ex).status === 201 || one(ex).status === 404, 'requestConsent', one(ex)),
    },
  },
  {
    endpoint: 'updateConsent',
    section: S.consent,
    param: (c) => c.target,
    body: req.consentRevoke,
    valid: {
      id: 'revoke',
      requirement: 'a ConsentEntry revoke is answered 201 (or 404 when the requester user is unknown)',
      judge: (ex) => verdict(one(ex).status === 201 || one(ex).status === 404, 'updateConsent', one(ex)),
    },
  },
  {
    endpoint: 'identifierQuery',
    section: S.identifierQuery,
    param: (c) => c.target,
    body: req.identifierQuery,
    valid: {
      id: 'no-match',
      requirement: 'an IdentifierRequest that matches nobody is answered 200 with IdentifierResponse notFound (or forbidden / unsupportedField) and no URIs',
      judge: answered<IdentifierResponse>('identifierQuery', (v) => {
        if (!['notFound', 'forbidden', 'unsupportedField'].includes(v.responseCode)) return 'expected notFound, forbidden or unsupportedField';
        return v.uri.length === 0 ? undefined : 'URIs returned for a query that matches nobody';
      }),
    },
  },
  {
    endpoint: 'reportAbuse',
    section: S.reportAbuse,
    param: req.unknownTargetRoom,
    roomEndpoint: true,
    body: req.abuseReport,
    valid: {
      id: 'unknown-room',
      requirement: 'an AbuseReport for a room the hub does not host is not accepted: the response code says so (4xx)',
      judge: (ex) => refused('reportAbuse')(ex),
    },
  },
];

function endpointProbes(spec: EndpointSpec): Probe[] {
  const { endpoint, section } = spec;
  const post = (c: Context, body: Uint8Array, extra: Partial<Send> = {}): Send[] => [{ endpoint, param: spec.param(c), method: 'POST', body, ...extra }];
  const postToRoom = (c: Context, b: Uint8Array): Send[] => (spec.roomEndpoint && c.room ? [{ endpoint, param: c.room, method: 'POST', body: b }] : post(c, b));
  const needsCert = (c: Context, s: () => Send[]): Send[] | string => (c.authenticated ? s() : 'needs --cert and --key that the target trusts');
  const body = (c: Context) => spec.body(c);
  return [
    {
      id: `${endpoint}.${spec.valid.id}`,
      endpoint,
      section,
      requirement: spec.valid.requirement,
      level: spec.valid.level ?? 'must',
      plan: (c) => needsCert(c, () => post(c, body(c))),
      judge: spec.valid.judge,
    },
    {
      id: `${endpoint}.malformed`,
      endpoint,
      section,
      requirement: 'a body that is not the endpoint\'s struct (random bytes) is refused with a 4xx, not accepted and not a 5xx',
      level: 'must',
      plan: (c) => needsCert(c, () => postToRoom(c, garbage())),
      judge: refused(endpoint),
    },
    {
      id: `${endpoint}.truncated`,
      endpoint,
      section,
      requirement: 'a well-formed body cut short is refused with a 4xx',
      level: 'must',
      plan: (c) =>
        needsCert(c, () => {
          const full = body(c);
          return postToRoom(c, full.subarray(0, Math.max(1, Math.floor(full.length / 2))));
        }),
      judge: refused(endpoint),
    },
    {
      id: `${endpoint}.oversize-declared`,
      endpoint,
      section,
      requirement: `a Content-Length of ${OVERSIZE_BYTES} bytes is refused (413 Content Too Large, RFC 9110 15.5.14) before the body is read`,
      level: 'must',
      plan: (c) => needsCert(c, () => post(c, body(c), { oversize: { bytes: OVERSIZE_BYTES, declared: true } })),
      judge: (ex) => oversizeJudge(endpoint, one(ex)),
    },
    {
      id: `${endpoint}.oversize-streamed`,
      endpoint,
      section,
      requirement: `a chunked body growing to ${OVERSIZE_BYTES} bytes is refused (413) without the server reading all of it`,
      level: 'must',
      plan: (c) => needsCert(c, () => post(c, body(c), { oversize: { bytes: OVERSIZE_BYTES, declared: false } })),
      judge: (ex) => oversizeJudge(endpoint, one(ex)),
    },
    {
      id: `${endpoint}.content-type`,
      endpoint,
      section,
      requirement: 'a well-formed body declared as text/plain is not taken for a MIMI message: 415 (draft-06 names no media type, so this is advice)',
      level: 'should',
      plan: (c) => needsCert(c, () => post(c, body(c), { headers: { 'content-type': 'text/plain' } })),
      judge: refused(endpoint),
    },
  ];
}

/** Random bytes that no TLS-PL struct of the draft starts with validly (0xff... lengths and enums). */
function garbage(): Uint8Array {
  const b = new Uint8Array(96);
  crypto.getRandomValues(b);
  b.fill(0xff, 0, 8);
  return b;
}

function oversizeJudge(endpoint: string, e: Exchange): Judgement {
  if (e.status === undefined) {
    // A server that answers 413 and closes while the body still streams in makes the kernel reset
    // the connection, and the reset can destroy the answer before it is read: that still is a
    // refusal without reading it all. Silence (a timeout) is not.
    const reset = /ECONNRESET|EPIPE/.test(e.error ?? '') && e.sent !== undefined && e.sent < OVERSIZE_BYTES;
    return { ok: reset, got: `no HTTP answer: ${e.error}${e.sent !== undefined ? ` after ${e.sent} body bytes` : ''}${reset ? ' (closed before the whole body: a refusal; its answer, if any, was lost with the reset)' : ''}` };
  }
  const early = e.sent === undefined || e.sent < OVERSIZE_BYTES;
  const ok = isRefusal(e) && early;
  return verdict(ok, endpoint, e, ok && e.status !== 413 ? ' (a refusal, though 413 says why)' : !early ? ' — the whole body was read' : '');
}

// ---------------------------------------------------------------------------------------------
// The directory, transport authentication, replays, rooms

const directoryProbes: Probe[] = [
  {
    id: 'directory.present',
    endpoint: 'directory',
    section: S.directory,
    requirement: `GET ${DIRECTORY_PATH} answers 200 with a JSON object of endpoint URLs`,
    level: 'must',
    plan: () => [{ path: DIRECTORY_PATH, method: 'GET' }],
    judge: (ex, c) => {
      const e = one(ex);
      if (e.status !== 200) return verdict(false, 'directory', e);
      try {
        const doc = JSON.parse(fromUtf8(e.body)) as unknown;
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, got: `HTTP 200 but the JSON is not an object` };
        c.directory = Object.fromEntries(Object.entries(doc).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
        return { ok: true, got: `HTTP 200 JSON with ${Object.keys(doc).length} key(s)` };
      } catch (err) {
        return { ok: false, got: `HTTP 200 but not JSON: ${(err as Error).message}` };
      }
    },
  },
  {
    id: 'directory.endpoints',
    endpoint: 'directory',
    section: S.directory,
    requirement: `the directory names every draft-06 endpoint (${DRAFT_ENDPOINTS.join(', ')}), each an https URL with one {placeholder}`,
    level: 'must',
    plan: (c) => (c.directory ? [] : 'no directory was read (see directory.present)'),
    judge: (_ex, c) => {
      const dir = c.directory!;
      const missing = DRAFT_ENDPOINTS.filter((k) => dir[k] === undefined);
      const bad = DRAFT_ENDPOINTS.filter((k) => dir[k] !== undefined && !validTemplate(dir[k]));
      const problems = [missing.length ? `missing ${missing.join(', ')}` : '', bad.length ? `unusable URL for ${bad.join(', ')}` : ''].filter(Boolean);
      return { ok: problems.length === 0, got: problems.length ? problems.join('; ') : `all ${DRAFT_ENDPOINTS.length} named` };
    },
  },
];

function validTemplate(t: string): boolean {
  try {
    return new URL(fillTemplate(t, 'x')).protocol === 'https:';
  } catch {
    return false;
  }
}

/** Transport authentication (4.1), on identifierQuery: a cheap request every provider serves. */
const transportProbes: Probe[] = (() => {
  const base = (c: Context): Send => ({ endpoint: 'identifierQuery', param: c.target, method: 'POST', body: req.identifierQuery(c) });
  const probe = (id: string, requirement: string, send: (c: Context) => Send, needsCert: boolean): Probe => ({
    id: `transport.${id}`,
    endpoint: 'identifierQuery',
    section: S.transport,
    requirement,
    level: 'must',
    plan: (c) => (needsCert && !c.authenticated ? 'needs --cert and --key that the target trusts' : [send(c)]),
    judge: notAuthenticated('identifierQuery'),
  });
  return [
    probe('no-client-cert', 'the TLS connection MUST be mutually authenticated: a request without a client certificate is refused', (c) => ({ ...base(c), client: 'none' }), false),
    probe(
      'untrusted-client-cert',
      'a client certificate for the same domain from a CA the target does not trust is refused (handshake or 401/403)',
      (c) => ({ ...base(c), client: 'untrusted' }),
      false,
    ),
    probe(
      'from-mismatch',
      'From MUST name the source provider the certificate authenticates: From: mimi@ another domain is refused',
      (c) => ({ ...base(c), headers: { from: `mimi@other-${c.nonce}.invalid` } }),
      true,
    ),
    probe('from-missing', 'the source provider is indicated with From: mimi@domain: a request without From is refused', (c) => ({ ...base(c), headers: { from: undefined } }), true),
    probe(
      'host-mismatch',
      'the target provider is indicated with Host: a request whose Host names another provider is refused',
      (c) => ({ ...base(c), headers: { host: `other-${c.nonce}.invalid` } }),
      true,
    ),
  ];
})();

const authed = (c: Context, s: () => Send[]): Send[] | string => (c.authenticated ? s() : 'needs --cert and --key that the target trusts');

const replayProbes: Probe[] = [
  {
    id: 'notify.replay',
    endpoint: 'notify',
    section: S.notify,
    requirement: 'a byte-identical duplicate /notify from the same hub MUST be answered 201 (and SHOULD be ignored)',
    level: 'must',
    plan: (c) =>
      authed(c, () => {
        const body = req.notifyBody(req.ownRoom(c), BigInt(Date.now()));
        const s: Send = { endpoint: 'notify', param: req.ownRoom(c), method: 'POST', body };
        return [s, s];
      }),
    judge: (ex) => {
      const [first, second] = ex;
      if (first.status !== 201) return { skip: `the first notify was not accepted (${describe('notify', first)}), so there is no duplicate to judge` };
      return { ok: second.status === 201, got: `first ${describe('notify', first)}; duplicate ${describe('notify', second)}` };
    },
  },
  {
    id: 'notify.not-hub',
    endpoint: 'notify',
    section: S.notify,
    requirement: "only a room's hub fans out: a /notify for a room another provider hosts is refused (4xx)",
    level: 'must',
    plan: (c) => authed(c, () => [{ endpoint: 'notify', param: req.thirdPartyRoom(c), method: 'POST', body: req.notifyBody(req.thirdPartyRoom(c), BigInt(Date.now())) }]),
    judge: refused('notify'),
  },
  {
    id: 'identifierQuery.replay',
    endpoint: 'identifierQuery',
    section: S.identifierQuery,
    requirement: 'the identifier query is idempotent and safe (RFC 9110 9.2.2): the same request twice gets the same answer',
    level: 'must',
    plan: (c) =>
      authed(c, () => {
        const s: Send = { endpoint: 'identifierQuery', param: c.target, method: 'POST', body: req.identifierQuery(c) };
        return [s, s];
      }),
    judge: (ex) => {
      const [a, b] = ex;
      const got = `first ${describe('identifierQuery', a)}; again ${describe('identifierQuery', b)}`;
      if (a.status === 429 || b.status === 429) return { skip: `rate limited (${got})` };
      return { ok: a.status === 200 && b.status === 200 && toHex(a.body) === toHex(b.body), got };
    },
  },
  {
    id: 'requestConsent.replay',
    endpoint: 'requestConsent',
    section: S.consent,
    requirement: 'a repeated cancel with no matching request is answered as the first one: 201 (or 404 for an unknown user) both times',
    level: 'must',
    plan: (c) =>
      authed(c, () => {
        const s: Send = { endpoint: 'requestConsent', param: c.target, method: 'POST', body: req.consentCancel(c) };
        return [s, s];
      }),
    judge: (ex) => {
      const [a, b] = ex;
      const ok = (a.status === 201 || a.status === 404) && a.status === b.status;
      return { ok, got: `first ${describe('requestConsent', a)}; again ${describe('requestConsent', b)}` };
    },
  },
  {
    id: 'proxyDownload.open-proxy',
    endpoint: 'proxyDownload',
    section: S.proxyDownload,
    requirement: "the hub MUST verify the downloadUrl's host is a peer's asset server: a URL elsewhere is refused (4xx), not fetched",
    level: 'must',
    plan: (c) => authed(c, () => [{ endpoint: 'proxyDownload', param: `https://assets-${c.nonce}.invalid/interop-probe`, method: 'GET' }]),
    judge: refused('proxyDownload'),
  },
];

/** Probes that need a real room (--room, --user): the hub's epoch checks. */
const roomProbes: Probe[] = [
  {
    id: 'update.wrong-epoch',
    endpoint: 'update',
    section: S.update,
    requirement: 'a proposal for an epoch the hub is not in is answered UpdateRoomResponse wrongEpoch with the currentEpoch',
    level: 'must',
    plan: (c) => (!c.room ? 'needs --room: a room the target hosts with a participant of the --as domain' : authed(c, () => [{ endpoint: 'update', param: c.room!, method: 'POST', body: req.updateRequest(c.groupId!, FAR_EPOCH) }])),
    judge: (ex, c) =>
      answered<UpdateRoomResponse>('update', (v) => {
        if (v.responseCode !== 'wrongEpoch') return 'expected wrongEpoch';
        if (v.currentEpoch === FAR_EPOCH) return 'currentEpoch is the epoch sent, not the hub\'s';
        c.roomEpoch = v.currentEpoch;
        return undefined;
      })(ex),
  },
  {
    id: 'submitMessage.future-epoch',
    endpoint: 'submitMessage',
    section: S.submitMessage,
    requirement: "an application message from an epoch after the hub's is refused: SubmitMessageResponse notAllowed",
    level: 'must',
    plan: (c) => roomPlan(c, () => (c.roomEpoch ?? 0n) + 1000n),
    judge: answered<SubmitMessageResponse>('submitMessage', codeIn('statusCode', ['notAllowed'])),
  },
  {
    id: 'submitMessage.old-epoch',
    endpoint: 'submitMessage',
    section: S.submitMessage,
    requirement: 'an application message from an epoch the hub has left is answered SubmitMessageResponse epochTooOld with the currentEpoch',
    level: 'must',
    plan: (c) => {
      if (c.room && c.roomEpoch !== undefined && c.roomEpoch < 2n) return `the room is at epoch ${c.roomEpoch}; epoch 0 may still be within a hub's grace (needs epoch 2 or later)`;
      return roomPlan(c, () => 0n);
    },
    judge: (ex, c) =>
      answered<SubmitMessageResponse>('submitMessage', (v) => {
        if (v.statusCode !== 'epochTooOld') return 'expected epochTooOld';
        return c.roomEpoch === undefined || v.currentEpoch === c.roomEpoch ? undefined : `currentEpoch ${v.currentEpoch}, but update said ${c.roomEpoch}`;
      })(ex),
  },
];

/**
 * Our extension (docs/ohttp-key-packages.md), probed only where the directory lists it: KeyPackage
 * requests over Oblivious HTTP. Not a draft requirement, so a miss is a WARN.
 */
const OHTTP_SECTION = '5.2 Fetch Key Material (extension: KeyPackages over OHTTP, docs/ohttp-key-packages.md)';
const offered = (c: Context, endpoint: string, s: () => Send[]): Send[] | string =>
  c.directory && endpoint in c.directory ? authed(c, s) : `the directory lists no ${endpoint} (an extension of this kit's project, not the draft)`;
const ohttpProbes: Probe[] = [
  {
    id: 'ohttpKeys.signed',
    endpoint: 'ohttpKeys',
    section: OHTTP_SECTION,
    requirement: 'the gateway key configuration (RFC 9458 §3) comes signed by the provider key it names, and parses',
    level: 'should',
    plan: (c) => offered(c, 'ohttpKeys', () => [{ endpoint: 'ohttpKeys', param: c.target, method: 'POST', body: new Uint8Array() }]),
    judge: (ex) => {
      const e = one(ex);
      if (e.status !== 200) return { ok: false, got: describe('ohttpKeys', e) };
      try {
        const entry = decodeOhttpKeysEntry(e.body);
        const configs = decodeKeyConfigs(entry.keyConfigs);
        return { ok: configs.length > 0, got: `HTTP 200, ${configs.length} key configuration(s), key ids ${configs.map((k) => k.keyId).join(', ')}, signature valid` };
      } catch (err) {
        return { ok: false, got: `HTTP 200 but ${(err as Error).message}` };
      }
    },
  },
  {
    id: 'ohttpGateway.garbage',
    endpoint: 'ohttpGateway',
    section: OHTTP_SECTION,
    requirement: 'an encapsulated request that cannot be opened (RFC 9458 §5.2) is refused with a 4xx, before anything else',
    level: 'should',
    plan: (c) => offered(c, 'ohttpGateway', () => [{ endpoint: 'ohttpGateway', param: c.target, method: 'POST', body: new Uint8Array(96).fill(0x5a) }]),
    judge: refused('ohttpGateway'),
  },
];

const FAR_EPOCH = 1n << 40n;

function roomPlan(c: Context, epoch: () => bigint): Send[] | string {
  if (!c.room) return 'needs --room: a room the target hosts with a participant of the --as domain';
  if (!c.user) return 'needs --user: a participant of --room at the --as domain (the message\'s sendingUri)';
  if (c.roomEpoch === undefined) return 'the room\'s epoch is unknown (update.wrong-epoch did not pass)';
  return authed(c, () => [{ endpoint: 'submitMessage', param: c.room!, method: 'POST', body: req.submitMessageRequest(c.groupId!, epoch(), c.user!) }]);
}

/** Every probe, in the order they run (the directory first: the others use its URLs). */
export function allProbes(): Probe[] {
  return [...directoryProbes, ...transportProbes, ...ENDPOINTS.flatMap(endpointProbes), ...replayProbes, ...ohttpProbes, ...roomProbes];
}
