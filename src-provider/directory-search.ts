// Discovery: "Find internal address" (draft-ietf-mimi-protocol-06, POST /identifierQuery/{domain}),
// both sides, and the profile fields users choose to be found by (docs/decisions.md "Discovery").
//
// - Each user has a handle (always) and optionally a nick, an email address, a phone number (E.164)
//   and a display name, each with its own searchable flag. Default: only an exact handle finds them.
//   A field that is not searchable is never matched and never returned; the stable user URI of a
//   match is always returned (it is the answer).
// - Query elements are ANDed. handle: the whole address exactly (mimi://d/u/h, im:h@d or h@d);
//   nick: exactly, the user's nick or their handle's user part (each only if searchable); email:
//   exactly, ignoring case; phone: exactly after removing spaces, dots, dashes and parentheses;
//   partialName: a case-insensitive substring (NFKC) of the display name, at least 3 characters.
//   wholeProfile, oidcStdClaim and vcardField are answered unsupportedField; no elements, or a
//   too-short partialName, ambiguous; more than MAX_QUERY_ELEMENTS, forbidden.
// - Results are ordered by user URI and paged (project extension components in mimi-protocol.ts):
//   the cursor is the last URI of the previous page.
// - Rate limit: a token bucket per requesting provider at the target, and per local user at the
//   user's own provider, kept in the database for every node (rate-limits.ts). Over it: HTTP 429
//   rateLimited (the draft's codes have no rate-limit answer; 429 is what HTTP has for it).
// - Found fields travel as OIDC standard claims: preferred_username, nickname, email,
//   phone_number, name.
// - Pseudonyms (pseudonyms.ts) are never found: only accounts are searched, and a query naming a
//   pseudonym URI anywhere is answered notFound before any lookup; a profile field may not hold one
//   (a user's own pseudonym in their nick would tie the two together for every searcher).

import type Database from 'better-sqlite3';
import { fromB64, fromUtf8, toB64, utf8 } from '../src-shared/bytes.js';
import { isValidDomain, parseMimiUri } from '../src-shared/identifiers.js';
import {
  decodeIdentifierPageRequest,
  decodeIdentifierPageResponse,
  decodeIdentifierRequest,
  decodeIdentifierResponse,
  encodeIdentifierPageRequest,
  encodeIdentifierPageResponse,
  encodeIdentifierRequest,
  encodeIdentifierResponse,
  ID_PAGE_REQUEST_COMPONENT_ID,
  ID_PAGE_RESPONSE_COMPONENT_ID,
  MimiWireError,
  type ComponentData,
  type IdentifierRequest,
  type IdentifierResponse,
  type ProfileField,
  type QueryElement,
} from '../src-shared/mimi-protocol.js';
import {
  HANDLE_RE,
  PROFILE_FIELDS,
  type FindRequest,
  type FindResponse,
  type FoundUser,
  type MyProfile,
  type ProfileFieldName,
  type SetProfileRequest,
} from '../src-shared/provider-api.js';
import {
  decodeKeyPackageTokenKeys,
  decodeKeyPackageTokenResponse,
  encodeKeyPackageTokenRequest,
  KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID,
  MAX_TOKENS_PER_ISSUANCE,
} from '../src-shared/key-package-request.js';
import { TOKEN_REQUEST_BYTES } from '../src-shared/key-package-tokens.js';
import type { Actor } from './accounts.js';
import { relayPeerFailure } from './consent.js';
import { ApiFailure, badRequest, decodeStrict } from './errors.js';
import type { PeerClient } from './federation/peer-client.js';
import type { S2sReply } from './federation/s2s-handler.js';
import { RateLimiter } from './rate-limits.js';
import type { Store } from './store.js';

export const MAX_QUERY_ELEMENTS = 8;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 50;
/** An IdentifierRequest is a few short strings. */
export const MAX_QUERY_BODY_BYTES = 16 * 1024;
export const MIN_PARTIAL_NAME = 3;
/** Default rate: queries per minute per requesting provider (and per local user). */
export const DEFAULT_SEARCH_RATE = 60;

const MAX_CURSOR_BYTES = 512;
const MAX_VALUE = { nick: 64, email: 254, phone: 16, displayName: 128 } as const;
const PHONE_RE = /^\+[1-9][0-9]{6,14}$/;
const EMAIL_RE = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]+$/;
const CONTROL_RE = /\p{Cc}/u;
/** A pseudonym URI (mimi://<domain>/p/<id>) anywhere in a value, in any letter case. */
const PSEUDONYM_IN_VALUE_RE = /mimi:\/\/[^/\s]+\/p\//i;

/** OIDC standard claim names the fields travel as. */
const CLAIM: Record<ProfileFieldName, string> = {
  handle: 'preferred_username',
  nick: 'nickname',
  email: 'email',
  phone: 'phone_number',
  name: 'name',
};

// ---- field normalisation ----

export function normalizePhone(raw: string): string | undefined {
  const p = raw.replace(/[\s.\-()]/g, '');
  return PHONE_RE.test(p) ? p : undefined;
}

const fold = (s: string): string => s.normalize('NFKC').toLowerCase();

function cleanText(name: string, v: string, max: number): string {
  const t = v.normalize('NFC').trim();
  if (t.length === 0) throw badRequest(`${name} must not be empty (use null to clear it)`);
  if (t.length > max) throw badRequest(`${name} must be at most ${max} characters`);
  if (CONTROL_RE.test(t)) throw badRequest(`${name} must not contain control characters`);
  return t;
}

/** `mimi://d/u/h`, `im:h@d` or `h@d` -> [domain, handle]; undefined if it is none of them. */
function parseHandleAddress(raw: string): [string, string] | undefined {
  const v = raw.trim();
  if (v.startsWith('mimi://')) {
    try {
      const p = parseMimiUri(v);
      return p.kind === 'user' ? [p.domain, p.handle!] : undefined;
    } catch {
      return undefined;
    }
  }
  const m = /^(?:im:)?([^@\s]+)@([^@\s]+)$/.exec(v);
  if (!m) return undefined;
  const [handle, domain] = [m[1].toLowerCase(), m[2].toLowerCase()];
  return HANDLE_RE.test(handle) && isValidDomain(domain) ? [domain, handle] : undefined;
}

/** A handle without a domain (`bob`, any letter case) as [domain, handle]; undefined otherwise. */
function bareHandle(raw: string, domain: string): [string, string] | undefined {
  const h = raw.trim().toLowerCase();
  return HANDLE_RE.test(h) ? [domain, h] : undefined;
}

interface ProfileRow {
  id: number;
  user_uri: string;
  handle: string;
  nick: string | null;
  email: string | null;
  phone: string | null;
  display_name: string | null;
  handle_searchable: number;
  nick_searchable: number;
  email_searchable: number;
  phone_searchable: number;
  name_searchable: number;
}

const SELECT = `SELECT u.id, u.user_uri, u.handle, p.nick, p.email, p.phone, p.display_name,
    COALESCE(p.handle_searchable, 1) AS handle_searchable, COALESCE(p.nick_searchable, 0) AS nick_searchable,
    COALESCE(p.email_searchable, 0) AS email_searchable, COALESCE(p.phone_searchable, 0) AS phone_searchable,
    COALESCE(p.name_searchable, 0) AS name_searchable
  FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id`;

type Outcome = { code: Exclude<IdentifierResponse['responseCode'], 'success'> } | { code: 'success'; rows: ProfileRow[]; next?: string };

/** KeyPackage token issuance riding on discovery (ohttp-service.ts). */
export interface TokenIssuance {
  issuance(peer: string, req: IdentifierRequest, res: IdentifierResponse): Promise<ComponentData[]>;
}

export interface DirectorySearchOptions {
  domain: string;
  store: Store;
  peerClient: Pick<PeerClient, 'post'>;
  /** Issues KeyPackage tokens with the answers (docs/ohttp-key-packages.md); none when absent. */
  tokens?: TokenIssuance;
  /** Queries per minute per requesting provider and per local user (default DEFAULT_SEARCH_RATE). */
  ratePerMinute?: number;
  now?: () => number;
}

export class DirectorySearch {
  readonly domain: string;
  readonly limiter: RateLimiter;
  private readonly store: Store;
  private readonly db: Database.Database;
  private readonly peerClient: Pick<PeerClient, 'post'>;
  private readonly now: () => number;
  /** Set once the OHTTP service exists (it is made after this). */
  tokens?: TokenIssuance;

  constructor(opts: DirectorySearchOptions) {
    this.domain = opts.domain;
    this.tokens = opts.tokens;
    this.store = opts.store;
    this.db = opts.store.db;
    this.peerClient = opts.peerClient;
    this.now = opts.now ?? Date.now;
    // In the database (rate-limits.ts): a requesting provider or a user spreading queries over
    // several nodes gets the rate once, not once per node.
    this.limiter = new RateLimiter(opts.store, 'directory-search', opts.ratePerMinute ?? DEFAULT_SEARCH_RATE, this.now);
  }

  // ---- my profile (client API) ----

  profile(actor: Actor): MyProfile {
    const row = this.db.prepare<[number], ProfileRow>(`${SELECT} WHERE u.id = ?`).get(actor.userId);
    if (!row) throw new ApiFailure('unauthorized', 'the account no longer exists');
    return toMyProfile(row);
  }

  setProfile(actor: Actor, o: Record<string, unknown>): MyProfile {
    const current = this.profile(actor);
    const next = { nick: current.nick ?? null, email: current.email ?? null, phone: current.phone ?? null, displayName: current.displayName ?? null };
    const text = (name: 'nick' | 'email' | 'phone' | 'displayName'): void => {
      const v = o[name];
      if (v === undefined) return;
      if (v !== null && typeof v !== 'string') throw badRequest(`field "${name}" must be a string or null`);
      if (v === null) {
        next[name] = null;
        return;
      }
      const t = cleanText(name, v, name === 'phone' ? 32 : MAX_VALUE[name]);
      if (PSEUDONYM_IN_VALUE_RE.test(t)) throw badRequest(`${name} must not contain a pseudonym URI (it would tie the pseudonym to this account)`);
      if (name === 'email' && !EMAIL_RE.test(t)) throw badRequest(`email ${JSON.stringify(t)} is not an address like name@example.org`);
      if (name === 'phone') {
        const p = normalizePhone(t);
        if (!p) throw badRequest(`phone ${JSON.stringify(t)} is not an international number like +12125551212`);
        next.phone = p;
        return;
      }
      next[name] = t;
    };
    for (const k of Object.keys(o)) {
      if (!['nick', 'email', 'phone', 'displayName', 'searchable'].includes(k)) throw badRequest(`unknown field "${k}"`);
    }
    text('nick');
    text('email');
    text('phone');
    text('displayName');
    const searchable = { ...current.searchable };
    if (o.searchable !== undefined) {
      const s = o.searchable;
      if (typeof s !== 'object' || s === null || Array.isArray(s)) throw badRequest('field "searchable" must be an object of booleans');
      for (const [k, v] of Object.entries(s)) {
        if (!(PROFILE_FIELDS as readonly string[]).includes(k)) throw badRequest(`searchable.${k}: unknown field (one of ${PROFILE_FIELDS.join(', ')})`);
        if (typeof v !== 'boolean') throw badRequest(`searchable.${k} must be true or false`);
        searchable[k as ProfileFieldName] = v;
      }
    }
    const b = (f: ProfileFieldName) => (searchable[f] ? 1 : 0);
    this.store.tx(() =>
      this.db
        .prepare(
          `INSERT INTO user_profiles (user_id, nick, email, phone, display_name, name_folded, handle_searchable, nick_searchable,
             email_searchable, phone_searchable, name_searchable, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET nick = excluded.nick, email = excluded.email, phone = excluded.phone,
             display_name = excluded.display_name, name_folded = excluded.name_folded, handle_searchable = excluded.handle_searchable,
             nick_searchable = excluded.nick_searchable, email_searchable = excluded.email_searchable,
             phone_searchable = excluded.phone_searchable, name_searchable = excluded.name_searchable, updated_at = excluded.updated_at`,
        )
        .run(
          actor.userId,
          next.nick,
          next.email,
          next.phone,
          next.displayName,
          next.displayName === null ? null : fold(next.displayName),
          b('handle'),
          b('nick'),
          b('email'),
          b('phone'),
          b('name'),
          this.now(),
        ),
    );
    return this.profile(actor);
  }

  // ---- searching here ----

  /** Answers an IdentifierRequest for this provider's users (no rate limit here: callers apply it). */
  answer(req: IdentifierRequest): IdentifierResponse {
    const page = pageOf(req.idRequestExtensions);
    const out = this.search(req.queryElements, page.cursor, page.limit);
    if (out.code !== 'success') return { responseCode: out.code, uri: [], foundProfiles: [], idResponseExtensions: [] };
    const ext: ComponentData[] = out.next ? [{ componentId: ID_PAGE_RESPONSE_COMPONENT_ID, data: encodeIdentifierPageResponse({ nextCursor: utf8(out.next) }) }] : [];
    return {
      responseCode: 'success',
      uri: out.rows.map((r) => r.user_uri),
      foundProfiles: out.rows.map((r) => ({ stableUri: r.user_uri, fields: visibleFields(r) })),
      idResponseExtensions: ext,
    };
  }

  private search(elements: QueryElement[], cursor: string, limit: number): Outcome {
    if (elements.length === 0) return { code: 'ambiguous' };
    if (elements.length > MAX_QUERY_ELEMENTS) return { code: 'forbidden' };
    if (elements.some((e) => e.searchType === 'wholeProfile' || e.searchType === 'oidcStdClaim' || e.searchType === 'vcardField')) {
      return { code: 'unsupportedField' };
    }
    if (elements.some((e) => PSEUDONYM_IN_VALUE_RE.test(e.searchValue))) return { code: 'notFound' };
    const where: string[] = [];
    const params: unknown[] = [];
    for (const e of elements) {
      const value = e.searchValue;
      switch (e.searchType) {
        case 'handle': {
          // A bare handle (no domain) can only mean one of ours: the query was sent here.
          const a = parseHandleAddress(value) ?? bareHandle(value, this.domain);
          if (!a || a[0] !== this.domain) return { code: 'notFound' };
          where.push('(u.handle = ? AND COALESCE(p.handle_searchable, 1) = 1)');
          params.push(a[1]);
          break;
        }
        case 'nick': {
          const v = value.normalize('NFC').trim();
          where.push('((p.nick = ? AND p.nick_searchable = 1) OR (u.handle = ? AND COALESCE(p.handle_searchable, 1) = 1))');
          params.push(v, v);
          break;
        }
        case 'email':
          where.push('(p.email = ? COLLATE NOCASE AND p.email_searchable = 1)');
          params.push(value.trim());
          break;
        case 'phone': {
          const ph = normalizePhone(value);
          if (!ph) return { code: 'notFound' };
          where.push('(p.phone = ? AND p.phone_searchable = 1)');
          params.push(ph);
          break;
        }
        case 'partialName': {
          const f = fold(value.trim());
          if ([...f].length < MIN_PARTIAL_NAME) return { code: 'ambiguous' };
          where.push('(p.name_searchable = 1 AND instr(p.name_folded, ?) > 0)');
          params.push(f);
          break;
        }
      }
    }
    const sql = `${SELECT} WHERE ${where.join(' AND ')} AND u.user_uri > ? ORDER BY u.user_uri LIMIT ?`;
    const rows = this.db.prepare<unknown[], ProfileRow>(sql).all(...params, cursor, limit + 1);
    if (rows.length === 0) return { code: 'notFound' };
    const more = rows.length > limit;
    const pageRows = rows.slice(0, limit);
    return { code: 'success', rows: pageRows, ...(more ? { next: pageRows[pageRows.length - 1].user_uri } : {}) };
  }

  // ---- MIMI endpoint ----

  /** POST /identifierQuery/{domain} from the authenticated peer provider `peer`. */
  async serve(peer: string, param: string, body: Uint8Array): Promise<S2sReply> {
    if (body.length > MAX_QUERY_BODY_BYTES) throw new ApiFailure('tooLarge', `an IdentifierRequest is at most ${MAX_QUERY_BODY_BYTES} bytes`);
    if (param !== this.domain) throw badRequest(`identifierQuery/{domain} names ${JSON.stringify(param)}, but this provider is ${this.domain}`);
    const req = decodeStrict(decodeIdentifierRequest, body, 'IdentifierRequest');
    pageOf(req.idRequestExtensions); // a malformed paging component is refused before it costs a token
    this.limit(`peer:${peer}`, `identifier queries from ${peer}`);
    const res = this.answer(req);
    if (this.tokens) {
      res.idResponseExtensions.push(...(await this.tokens.issuance(peer, req, res)));
      res.idResponseExtensions.sort((x, y) => x.componentId - y.componentId);
    }
    return { status: 200, body: encodeIdentifierResponse(res) };
  }

  // ---- client API: find ----

  async find(actor: Actor, o: Record<string, unknown>): Promise<FindResponse> {
    const { domain, request, tokenRequest } = this.findRequest(o);
    if (tokenRequest) {
      if (domain === this.domain) throw badRequest('tokenRequest is for users of other providers (ours need no token)');
      request.idRequestExtensions.push({
        componentId: KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID,
        data: encodeKeyPackageTokenRequest({ requester: actor.userUri, target: tokenRequest.target, tokenRequests: tokenRequest.tokenRequests }),
      });
      request.idRequestExtensions.sort((x, y) => x.componentId - y.componentId); // the draft's AppDataDictionary order
    }
    this.limit(`user:${actor.userUri}`, 'your searches');
    let res: IdentifierResponse;
    if (domain === this.domain) res = this.answer(request);
    else {
      let body: Uint8Array;
      try {
        body = (await this.peerClient.post(domain, 'identifierQuery', domain, encodeIdentifierRequest(request))).body;
      } catch (e) {
        throw relayPeerFailure(e, 'identifier queries');
      }
      try {
        res = decodeIdentifierResponse(body);
      } catch (e) {
        if (e instanceof MimiWireError) throw new ApiFailure('internal', `provider ${domain} sent an unusable IdentifierResponse: ${e.message}`, { status: 502 });
        throw e;
      }
    }
    return toFindResponse(domain, res);
  }

  private findRequest(o: Record<string, unknown>): { domain: string; request: IdentifierRequest; tokenRequest?: { target: string; tokenRequests: Uint8Array } } {
    const allowed = ['domain', 'handle', 'nick', 'email', 'phone', 'name', 'wholeProfile', 'cursor', 'limit', 'tokenRequest'];
    for (const k of Object.keys(o)) if (!allowed.includes(k)) throw badRequest(`unknown field "${k}" (one of ${allowed.join(', ')})`);
    const text = (k: string, max = 512): string | undefined => {
      const v = o[k];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' || v.length === 0 || v.length > max) throw badRequest(`field "${k}" must be a string of 1-${max} characters`);
      return v;
    };
    const elements: QueryElement[] = [];
    const handle = text('handle');
    if (handle !== undefined) elements.push({ searchType: 'handle', searchValue: handle });
    const simple: [string, QueryElement['searchType']][] = [
      ['nick', 'nick'],
      ['email', 'email'],
      ['phone', 'phone'],
      ['name', 'partialName'],
      ['wholeProfile', 'wholeProfile'],
    ];
    for (const [k, searchType] of simple) {
      const v = text(k, 256);
      if (v !== undefined) elements.push({ searchType, searchValue: v } as QueryElement);
    }
    if (elements.length === 0) throw badRequest('give at least one of handle, nick, email, phone, name');
    let domain = text('domain', 253);
    if (domain !== undefined && !isValidDomain(domain)) throw badRequest(`domain ${JSON.stringify(domain)} is not a domain name`);
    if (domain === undefined && handle !== undefined) domain = parseHandleAddress(handle)?.[0];
    domain ??= this.domain;
    // A bare handle is one of the searched provider's users: sent on as a whole address, which is
    // what another provider matches.
    const bare = handle !== undefined ? bareHandle(handle, domain) : undefined;
    if (bare) elements[0] = { searchType: 'handle', searchValue: `${bare[1]}@${bare[0]}` };
    const limit = o.limit ?? DEFAULT_PAGE_SIZE;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw badRequest(`field "limit" must be an integer 1-${MAX_PAGE_SIZE}`);
    let cursor: Uint8Array = new Uint8Array();
    const rawCursor = text('cursor', 1024);
    if (rawCursor !== undefined) {
      try {
        cursor = fromB64(rawCursor);
      } catch {
        throw badRequest('field "cursor" is not a cursor this provider gave out');
      }
    }
    const page = { componentId: ID_PAGE_REQUEST_COMPONENT_ID, data: encodeIdentifierPageRequest({ cursor, limit }) };
    return { domain, request: { queryElements: elements, idRequestExtensions: [page] }, ...(o.tokenRequest === undefined ? {} : { tokenRequest: tokenRequestOf(o.tokenRequest, domain) }) };
  }

  private limit(key: string, what: string): void {
    const wait = this.limiter.take(key);
    if (wait > 0) throw new ApiFailure('rateLimited', `too many queries: ${what} are limited to ${this.limiter.ratePerMinute} a minute; try again in ${Math.ceil(wait / 1000)} s`);
  }
}

/** A client's FindTokenRequest: a user of the searched domain and whole TokenRequests. */
function tokenRequestOf(v: unknown, domain: string): { target: string; tokenRequests: Uint8Array } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('field "tokenRequest" must be an object { target, tokenRequests }');
  const { target, tokenRequests, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length) throw badRequest(`tokenRequest: unknown field "${Object.keys(rest)[0]}"`);
  if (typeof target !== 'string' || parseMimiUriSafe(target)?.kind !== 'user' || parseMimiUriSafe(target)?.domain !== domain) {
    throw badRequest(`tokenRequest.target must be the URI of a user of ${domain}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = fromB64(typeof tokenRequests === 'string' ? tokenRequests : '');
  } catch {
    throw badRequest('tokenRequest.tokenRequests must be base64');
  }
  if (bytes.length === 0 || bytes.length % TOKEN_REQUEST_BYTES !== 0 || bytes.length / TOKEN_REQUEST_BYTES > MAX_TOKENS_PER_ISSUANCE) {
    throw badRequest(`tokenRequest.tokenRequests must be 1 to ${MAX_TOKENS_PER_ISSUANCE} TokenRequests of ${TOKEN_REQUEST_BYTES} bytes`);
  }
  return { target, tokenRequests: bytes };
}

function parseMimiUriSafe(uri: string): ReturnType<typeof parseMimiUri> | undefined {
  try {
    return parseMimiUri(uri);
  } catch {
    return undefined;
  }
}

/** The paging component of a request (defaults when absent); a malformed one is a 400. */
function pageOf(extensions: ComponentData[]): { cursor: string; limit: number } {
  const c = extensions.find((e) => e.componentId === ID_PAGE_REQUEST_COMPONENT_ID);
  if (!c) return { cursor: '', limit: DEFAULT_PAGE_SIZE };
  const page = decodeStrict(decodeIdentifierPageRequest, c.data, 'paging component');
  if (page.cursor.length > MAX_CURSOR_BYTES) throw badRequest('paging cursor is too long');
  let cursor: string;
  try {
    cursor = fromUtf8(page.cursor);
  } catch {
    throw badRequest('paging cursor is not one this provider gave out');
  }
  return { cursor, limit: Math.min(MAX_PAGE_SIZE, Math.max(1, page.limit)) };
}

/** The searchable fields of a row that have a value, as OIDC claims. */
function visibleFields(r: ProfileRow): ProfileField[] {
  const out: ProfileField[] = [];
  const add = (f: ProfileFieldName, on: number, v: string | null) => {
    if (on === 1 && v !== null) out.push({ fieldSource: 'oidcStdClaim', fieldName: CLAIM[f], fieldValue: utf8(v) });
  };
  add('handle', r.handle_searchable, r.handle);
  add('nick', r.nick_searchable, r.nick);
  add('email', r.email_searchable, r.email);
  add('phone', r.phone_searchable, r.phone);
  add('name', r.name_searchable, r.display_name);
  return out;
}

function toMyProfile(r: ProfileRow): MyProfile {
  const opt = <K extends string>(k: K, v: string | null) => (v === null ? {} : ({ [k]: v } as Record<K, string>));
  return {
    userUri: r.user_uri,
    handle: r.handle,
    ...opt('nick', r.nick),
    ...opt('email', r.email),
    ...opt('phone', r.phone),
    ...opt('displayName', r.display_name),
    searchable: {
      handle: r.handle_searchable === 1,
      nick: r.nick_searchable === 1,
      email: r.email_searchable === 1,
      phone: r.phone_searchable === 1,
      name: r.name_searchable === 1,
    },
  };
}

const FIELD_OF_CLAIM: Record<string, keyof Omit<FoundUser, 'userUri'>> = {
  preferred_username: 'handle',
  nickname: 'nick',
  email: 'email',
  phone_number: 'phone',
  name: 'displayName',
};

/** An IdentifierResponse (ours or a peer's) in the client API's shape; a peer's is checked. */
function toFindResponse(domain: string, res: IdentifierResponse): FindResponse {
  const bad = (why: string) => new ApiFailure('internal', `provider ${domain} sent an unusable IdentifierResponse: ${why}`, { status: 502 });
  if (res.responseCode !== 'success') {
    if (res.uri.length || res.foundProfiles.length) throw bad(`${res.responseCode} with results`);
    return { status: res.responseCode, domain, results: [], ...tokenParts(res, bad) };
  }
  const uris = res.foundProfiles.length ? res.foundProfiles.map((p) => p.stableUri) : res.uri;
  const results: FoundUser[] = uris.map((uri, i) => {
    let p;
    try {
      p = parseMimiUri(uri);
    } catch {
      throw bad(`${JSON.stringify(uri)} is not a user URI`);
    }
    if (p.kind !== 'user' || p.domain !== domain) throw bad(`${uri} is not a user of ${domain}`);
    const found: FoundUser = { userUri: uri };
    for (const f of res.foundProfiles[i]?.fields ?? []) {
      const key = f.fieldSource === 'oidcStdClaim' ? FIELD_OF_CLAIM[f.fieldName] : undefined;
      if (!key) continue;
      try {
        found[key] = fromUtf8(f.fieldValue);
      } catch {
        // not text: not shown
      }
    }
    return found;
  });
  const page = res.idResponseExtensions.find((e) => e.componentId === ID_PAGE_RESPONSE_COMPONENT_ID);
  let next: Uint8Array | undefined;
  if (page) {
    try {
      next = decodeIdentifierPageResponse(page.data).nextCursor;
    } catch (e) {
      if (e instanceof MimiWireError) throw bad(`paging component: ${e.message}`);
      throw e;
    }
  }
  return { status: 'success', domain, results, ...(next && next.length ? { nextCursor: toB64(next) } : {}), ...tokenParts(res, bad) };
}

/** The KeyPackage token components of a peer's answer (ohttp-service.ts), in the client API's shape. */
function tokenParts(res: IdentifierResponse, bad: (why: string) => ApiFailure): Pick<FindResponse, 'tokenKeys' | 'tokenResponse'> {
  const out: Pick<FindResponse, 'tokenKeys' | 'tokenResponse'> = {};
  try {
    const keys = res.idResponseExtensions.find((e) => e.componentId === KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID);
    if (keys) out.tokenKeys = decodeKeyPackageTokenKeys(keys.data).keys.map((k) => ({ userUri: k.user, tokenKey: toB64(k.tokenKey) }));
    const answer = res.idResponseExtensions.find((e) => e.componentId === KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID);
    if (answer) {
      const t = decodeKeyPackageTokenResponse(answer.data);
      out.tokenResponse = { status: t.status, ...(t.status === 'issued' ? { tokenResponses: toB64(t.tokenResponses) } : {}) };
    }
  } catch (e) {
    if (e instanceof MimiWireError) throw bad(`KeyPackage token component: ${e.message}`);
    throw e;
  }
  return out;
}
