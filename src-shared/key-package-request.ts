// KeyPackage requests a client sends to another provider over Oblivious HTTP (the delivery-service
// document, ../shared/specs/seed-001, "Key Packages"; docs/ohttp-key-packages.md):
//
//   struct { opaque user_id<V>; opaque bearer_token<V>; ProtocolVersion version; CipherSuite cipher_suite; } KeyPackageRequest;
//   struct { KeyPackage key_package; } KeyPackageResponse;
//
// exactly as the document gives them (ProtocolVersion and CipherSuite are RFC 9420's uint16s), and
// the bundle it allows ("Several KeyPackageRequest structures MAY be bundled"), which it leaves
// undefined; ours, documented:
//
//   struct { KeyPackageRequest requests<V>; } KeyPackageRequests;
//   enum { success(0), unknownUser(1), badToken(2), noKeyPackage(3), unsupported(4), (255) } KeyPackageStatus;
//   struct { KeyPackageStatus status; select (status) { case success: KeyPackage key_packages<V>; default: struct {}; } } KeyPackageResult;
//   struct { KeyPackageResult results<V>; } KeyPackageResults;    (one result per request, in order)
//
// A MIMI user has one client per device, and a room needs a KeyPackage of each. The document's
// KeyPackageResponse holds one, so the answer to a single request is one KeyPackageResponse per
// client of the user, back to back (a KeyPackage delimits itself); a bundle's result lists them.
//
// And the Privacy Pass (RFC 9578) token issuance that rides on discovery (/identifierQuery), as
// components of IdentifierRequest / IdentifierResponse (private-use component ids):
//
//   0xF0B0 struct { IdentifierUri user; opaque token_key<V>; } TokenKey; struct { TokenKey keys<V>; } KeyPackageTokenKeys;
//          in an IdentifierResponse: the issuer key that tokens for each found user are made with.
//   0xF0B1 struct { IdentifierUri requester; IdentifierUri target; opaque token_requests<V>; } KeyPackageTokenRequest;
//          in an IdentifierRequest: RFC 9578 §5.1 TokenRequests (type 0x0001), concatenated.
//   0xF0B2 struct { KeyPackageTokenStatus status; opaque token_responses<V>; } KeyPackageTokenResponse;
//          in the IdentifierResponse: one RFC 9578 §5.2 TokenResponse per request, concatenated,
//          when status is issued(0); otherwise none (noConsent(1), rateLimited(2), unknownUser(3)).
//
// Pure: codecs only.

import { readKeyPackage, StructReader, writeKeyPackage, type Fields, type KeyPackage } from './mls-structs.js';
import { TlsWriter } from './tls.js';
import { Bad, decodeWith, encodeWith, enumDef, isObject, MimiWireError, nest, readText, struct, textBytes, type Codec } from './tls-struct.js';

export const KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID = 0xf0b0;
export const KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID = 0xf0b1;
export const KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID = 0xf0b2;
/** RFC 9420 ProtocolVersion mls10. */
export const MLS10 = 1;
/** The gateway's binary HTTP paths: one KeyPackageRequest, or a bundle. */
export const KEY_PACKAGE_PATH = '/keyPackage';
export const KEY_PACKAGES_PATH = '/keyPackages';
/** Requests in one bundle and tokens in one issuance: enough for a room's worth, small enough to bound work. */
export const MAX_KEY_PACKAGE_REQUESTS = 64;
export const MAX_TOKENS_PER_ISSUANCE = 16;

export interface KeyPackageRequest {
  /** The target's user URI (its Service-Specific Identifier here). */
  userId: string;
  /** A Privacy Pass token (RFC 9578 §2.2) for this user, learned through discovery. */
  bearerToken: Uint8Array;
  version: number;
  cipherSuite: number;
}

export interface KeyPackageResponse {
  keyPackage: KeyPackage;
}

export const KEY_PACKAGE_STATUS = { success: 0, unknownUser: 1, badToken: 2, noKeyPackage: 3, unsupported: 4 } as const;
export type KeyPackageStatus = keyof typeof KEY_PACKAGE_STATUS;
export type KeyPackageResult = { status: 'success'; keyPackages: KeyPackage[] } | { status: Exclude<KeyPackageStatus, 'success'> };

export interface TokenKey {
  user: string;
  tokenKey: Uint8Array;
}

export interface KeyPackageTokenRequest {
  requester: string;
  target: string;
  tokenRequests: Uint8Array;
}

export const KEY_PACKAGE_TOKEN_STATUS = { issued: 0, noConsent: 1, rateLimited: 2, unknownUser: 3 } as const;
export type KeyPackageTokenStatus = keyof typeof KEY_PACKAGE_TOKEN_STATUS;

export interface KeyPackageTokenResponse {
  status: KeyPackageTokenStatus;
  tokenResponses: Uint8Array;
}

const STATUS_E = enumDef<KeyPackageStatus>('KeyPackageStatus', KEY_PACKAGE_STATUS);
const TOKEN_STATUS_E = enumDef<KeyPackageTokenStatus>('KeyPackageTokenStatus', KEY_PACKAGE_TOKEN_STATUS);

function opaque(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Bad('must be a Uint8Array');
  return v;
}

function u16(v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) throw new Bad('must be an integer 0-65535');
  return v as number;
}

/** An embedded KeyPackage: its original bytes when the value has them (signatures cover them), else its fields. */
const KEY_PACKAGE: Codec<KeyPackage> = {
  name: 'KeyPackage',
  read: readKeyPackage,
  write(w, v) {
    if (!isObject(v)) throw new Bad('KeyPackage must be an object');
    const raw = (v as { raw?: unknown }).raw;
    if (raw === undefined) return writeKeyPackage(w, v);
    const check = new StructReader(opaque(raw));
    readKeyPackage(check);
    check.done();
    w.bytes(raw as Uint8Array);
  },
};

const REQUEST = struct<KeyPackageRequest>(
  'KeyPackageRequest',
  (s) => ({
    userId: s.get('user_id', readText),
    bearerToken: s.get('bearer_token', (r) => r.opaqueV()),
    version: s.get('version', (r) => r.u16()),
    cipherSuite: s.get('cipher_suite', (r) => r.u16()),
  }),
  (o, v) => {
    o.put('user_id', (w) => w.opaqueV(textBytes(v.userId)));
    o.put('bearer_token', (w) => w.opaqueV(opaque(v.bearerToken)));
    o.put('version', (w) => w.u16(u16(v.version)));
    o.put('cipher_suite', (w) => w.u16(u16(v.cipherSuite)));
  },
);

const RESPONSE = struct<KeyPackageResponse>(
  'KeyPackageResponse',
  (s) => ({ keyPackage: s.get('key_package', KEY_PACKAGE.read) }),
  (o, v) => o.put('key_package', (w) => KEY_PACKAGE.write(w, v.keyPackage as Fields<KeyPackage>)),
);

const REQUESTS = struct<{ requests: KeyPackageRequest[] }>(
  'KeyPackageRequests',
  (s) => {
    const requests = s.list('requests', REQUEST.read);
    s.check('requests', () => {
      if (requests.length === 0 || requests.length > MAX_KEY_PACKAGE_REQUESTS) throw new Bad(`must hold 1 to ${MAX_KEY_PACKAGE_REQUESTS} requests`);
    });
    return { requests };
  },
  (o, v) => {
    o.check('requests', () => {
      if (!Array.isArray(v.requests) || v.requests.length === 0 || v.requests.length > MAX_KEY_PACKAGE_REQUESTS) throw new Bad(`must hold 1 to ${MAX_KEY_PACKAGE_REQUESTS} requests`);
    });
    o.list('requests', v.requests, (w, r) => REQUEST.write(w, r));
  },
);

const RESULT = struct<KeyPackageResult>(
  'KeyPackageResult',
  (s) => {
    const status = s.enum('status', STATUS_E);
    if (status !== 'success') return { status };
    const keyPackages = s.list('key_packages', KEY_PACKAGE.read);
    s.check('key_packages', () => {
      if (keyPackages.length === 0) throw new Bad('a success carries at least one KeyPackage');
    });
    return { status, keyPackages };
  },
  (o, v) => {
    o.enum('status', STATUS_E, v.status);
    if (v.status !== 'success') return;
    o.check('key_packages', () => {
      if (!Array.isArray(v.keyPackages) || v.keyPackages.length === 0) throw new Bad('a success carries at least one KeyPackage');
    });
    o.list('key_packages', v.keyPackages, (w, kp) => KEY_PACKAGE.write(w, kp as Fields<KeyPackage>));
  },
);

const RESULTS = struct<{ results: KeyPackageResult[] }>(
  'KeyPackageResults',
  (s) => ({ results: s.list('results', RESULT.read) }),
  (o, v) => o.list('results', v.results, (w, r) => RESULT.write(w, r)),
);

const TOKEN_KEY = struct<TokenKey>(
  'TokenKey',
  (s) => ({ user: s.get('user', readText), tokenKey: s.get('token_key', (r) => r.opaqueV()) }),
  (o, v) => {
    o.put('user', (w) => w.opaqueV(textBytes(v.user)));
    o.put('token_key', (w) => w.opaqueV(opaque(v.tokenKey)));
  },
);

const TOKEN_KEYS = struct<{ keys: TokenKey[] }>(
  'KeyPackageTokenKeys',
  (s) => ({ keys: s.list('keys', TOKEN_KEY.read) }),
  (o, v) => o.list('keys', v.keys, (w, k) => TOKEN_KEY.write(w, k)),
);

const TOKEN_REQUEST = struct<KeyPackageTokenRequest>(
  'KeyPackageTokenRequest',
  (s) => ({
    requester: s.get('requester', readText),
    target: s.get('target', readText),
    tokenRequests: s.get('token_requests', (r) => r.opaqueV()),
  }),
  (o, v) => {
    o.put('requester', (w) => w.opaqueV(textBytes(v.requester)));
    o.put('target', (w) => w.opaqueV(textBytes(v.target)));
    o.put('token_requests', (w) => w.opaqueV(opaque(v.tokenRequests)));
  },
);

const TOKEN_RESPONSE = struct<KeyPackageTokenResponse>(
  'KeyPackageTokenResponse',
  (s) => {
    const status = s.enum('status', TOKEN_STATUS_E);
    const tokenResponses = s.get('token_responses', (r) => r.opaqueV());
    s.check('token_responses', () => {
      if (status !== 'issued' && tokenResponses.length > 0) throw new Bad('only an issued answer carries tokens');
    });
    return { status, tokenResponses };
  },
  (o, v) => {
    o.enum('status', TOKEN_STATUS_E, v.status);
    o.put('token_responses', (w) => {
      if (v.status !== 'issued' && opaque(v.tokenResponses).length > 0) throw new Bad('only an issued answer carries tokens');
      w.opaqueV(opaque(v.tokenResponses));
    });
  },
);

export const encodeKeyPackageRequest = (v: KeyPackageRequest): Uint8Array => encodeWith(REQUEST, v);
export const decodeKeyPackageRequest = (b: Uint8Array): KeyPackageRequest => decodeWith(REQUEST, b);
export const encodeKeyPackageResponse = (v: Fields<KeyPackageResponse>): Uint8Array => encodeWith(RESPONSE, v);
export const decodeKeyPackageResponse = (b: Uint8Array): KeyPackageResponse => decodeWith(RESPONSE, b);

/** The body answering a single request: one KeyPackageResponse per client, back to back. */
export function encodeKeyPackageResponseList(keyPackages: readonly Fields<KeyPackage>[]): Uint8Array {
  if (keyPackages.length === 0) throw new MimiWireError('KeyPackageResponse', '(list)', 'at least one KeyPackage');
  const w = new TlsWriter();
  for (const kp of keyPackages) RESPONSE.write(w, { keyPackage: kp });
  return w.finish();
}

export function decodeKeyPackageResponseList(b: Uint8Array): KeyPackageResponse[] {
  const r = new StructReader(b);
  const out: KeyPackageResponse[] = [];
  while (r.remaining > 0) {
    try {
      out.push(RESPONSE.read(r));
    } catch (e) {
      throw nest(e, 'KeyPackageResponse', `[${out.length}]`);
    }
  }
  if (out.length === 0) throw new MimiWireError('KeyPackageResponse', '(list)', 'an empty answer');
  return out;
}
export const encodeKeyPackageRequests = (v: { requests: KeyPackageRequest[] }): Uint8Array => encodeWith(REQUESTS, v);
export const decodeKeyPackageRequests = (b: Uint8Array): { requests: KeyPackageRequest[] } => decodeWith(REQUESTS, b);
export const encodeKeyPackageResults = (v: Fields<{ results: KeyPackageResult[] }>): Uint8Array => encodeWith(RESULTS, v);
export const decodeKeyPackageResults = (b: Uint8Array): { results: KeyPackageResult[] } => decodeWith(RESULTS, b);
export const encodeKeyPackageTokenKeys = (v: { keys: TokenKey[] }): Uint8Array => encodeWith(TOKEN_KEYS, v);
export const decodeKeyPackageTokenKeys = (b: Uint8Array): { keys: TokenKey[] } => decodeWith(TOKEN_KEYS, b);
export const encodeKeyPackageTokenRequest = (v: KeyPackageTokenRequest): Uint8Array => encodeWith(TOKEN_REQUEST, v);
export const decodeKeyPackageTokenRequest = (b: Uint8Array): KeyPackageTokenRequest => decodeWith(TOKEN_REQUEST, b);
export const encodeKeyPackageTokenResponse = (v: KeyPackageTokenResponse): Uint8Array => encodeWith(TOKEN_RESPONSE, v);
export const decodeKeyPackageTokenResponse = (b: Uint8Array): KeyPackageTokenResponse => decodeWith(TOKEN_RESPONSE, b);
