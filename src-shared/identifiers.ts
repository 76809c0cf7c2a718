// MIMI identifiers as `mimi:` URIs (draft-mahy-mimi-identity-05 §4):
//   user    mimi://<domain>/u/<handle>
//   device  mimi://<domain>/d/<handle>/<deviceId>
//   room    mimi://<domain>/r/<roomId>
//   pseudonym mimi://<domain>/p/<id>  (a user's or a client's pseudonym: a random id its provider
//           issued; nothing in it names the account, so only that provider can map it back)
//
// We only ever produce one spelling per identifier (lowercase domain, no port, no percent-encoding,
// no query/fragment) and the parser accepts only that spelling. URIs are compared as strings
// throughout the system (message IDs hash them, rooms are keyed by them), so accepting variants
// such as MIMI://A.EXAMPLE/u/bob would let one identity appear as two.

import { HANDLE_RE } from './provider-api.js';
import { toB64 } from './bytes.js';

export class IdentifierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentifierError';
  }
}

export interface ParsedMimiUri {
  kind: 'user' | 'device' | 'room' | 'pseudonym';
  domain: string;
  handle?: string;
  deviceId?: string;
  roomId?: string;
  pseudonymId?: string;
}

const SCHEME = 'mimi://';
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Device and room ids: URI "unreserved" characters only, so they never need percent-encoding. */
const ID_SEGMENT_RE = /^[A-Za-z0-9._~-]{1,128}$/;

/** Lowercase DNS name (e.g. `a.example`, `localhost`); no port, no trailing dot, not an IPv4 literal. */
export function isValidDomain(domain: string): boolean {
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > 253) return false;
  const labels = domain.split('.');
  if (!labels.every((l) => LABEL_RE.test(l))) return false;
  // An all-numeric final label would make this an IPv4 address, not a name.
  return !/^[0-9]+$/.test(labels[labels.length - 1]);
}

export function isValidHandle(handle: string): boolean {
  return typeof handle === 'string' && HANDLE_RE.test(handle);
}

function checkDomain(domain: string): void {
  if (!isValidDomain(domain)) throw new IdentifierError(`invalid domain: ${JSON.stringify(domain)}`);
}

function checkHandle(handle: string): void {
  if (!isValidHandle(handle)) throw new IdentifierError(`invalid handle: ${JSON.stringify(handle)}`);
}

function checkId(what: string, id: string): void {
  if (typeof id !== 'string' || !ID_SEGMENT_RE.test(id)) throw new IdentifierError(`invalid ${what}: ${JSON.stringify(id)}`);
}

export function userUri(domain: string, handle: string): string {
  checkDomain(domain);
  checkHandle(handle);
  return `${SCHEME}${domain}/u/${handle}`;
}

export function deviceUri(domain: string, handle: string, deviceId: string): string {
  checkDomain(domain);
  checkHandle(handle);
  checkId('device id', deviceId);
  return `${SCHEME}${domain}/d/${handle}/${deviceId}`;
}

export function roomUri(domain: string, id: string): string {
  checkDomain(domain);
  checkId('room id', id);
  return `${SCHEME}${domain}/r/${id}`;
}

export function pseudonymUri(domain: string, id: string): string {
  checkDomain(domain);
  checkId('pseudonym id', id);
  return `${SCHEME}${domain}/p/${id}`;
}

/** A fresh pseudonym on `domain`: 16 random bytes (base64url), unrelated to any account. */
export function newPseudonymUri(domain: string): string {
  const id = new Uint8Array(16);
  crypto.getRandomValues(id);
  return pseudonymUri(domain, toB64(id));
}

/** A fresh room URI on `domain` with an unguessable id (16 random bytes, base64url). */
export function newRoomUri(domain: string): string {
  const id = new Uint8Array(16);
  crypto.getRandomValues(id);
  return roomUri(domain, toB64(id));
}

export function parseMimiUri(s: string): ParsedMimiUri {
  if (typeof s !== 'string' || !s.startsWith(SCHEME)) throw new IdentifierError(`not a mimi:// URI: ${JSON.stringify(s)}`);
  const [domain, kind, ...rest] = s.slice(SCHEME.length).split('/');
  checkDomain(domain);
  switch (kind) {
    case 'u':
      if (rest.length !== 1) break;
      checkHandle(rest[0]);
      return { kind: 'user', domain, handle: rest[0] };
    case 'd':
      if (rest.length !== 2) break;
      checkHandle(rest[0]);
      checkId('device id', rest[1]);
      return { kind: 'device', domain, handle: rest[0], deviceId: rest[1] };
    case 'r':
      if (rest.length !== 1) break;
      checkId('room id', rest[0]);
      return { kind: 'room', domain, roomId: rest[0] };
    case 'p':
      if (rest.length !== 1) break;
      checkId('pseudonym id', rest[0]);
      return { kind: 'pseudonym', domain, pseudonymId: rest[0] };
  }
  throw new IdentifierError(`unsupported mimi URI form: ${JSON.stringify(s)}`);
}

/** The parsed URI when `uri` is a MIMI URI of that kind, else undefined (never throws). */
export function parseMimiUriAs(kind: ParsedMimiUri['kind'], uri: string): ParsedMimiUri | undefined {
  try {
    const p = parseMimiUri(uri);
    return p.kind === kind ? p : undefined;
  } catch {
    return undefined;
  }
}

function parseAs(kind: ParsedMimiUri['kind'], s: string): ParsedMimiUri {
  const p = parseMimiUri(s);
  if (p.kind !== kind) throw new IdentifierError(`expected a ${kind} URI, got a ${p.kind} URI: ${s}`);
  return p;
}

/**
 * Turns what a person types into a user URI: `bob@b.example`, `mimi://b.example/u/bob`, or a bare
 * `bob` (only when `defaultDomain` is given). Surrounding whitespace is ignored and the handle@domain
 * forms are lowercased, since handles and domains are lowercase-only anyway.
 */
export function parseUserAddress(s: string, defaultDomain?: string): string {
  if (typeof s !== 'string') throw new IdentifierError('user address must be a string');
  const input = s.trim();
  if (input.startsWith(SCHEME)) {
    parseAs('user', input);
    return input;
  }
  const lowered = input.toLowerCase();
  const at = lowered.indexOf('@');
  if (at >= 0) {
    if (lowered.indexOf('@', at + 1) >= 0) throw new IdentifierError(`invalid user address: ${JSON.stringify(s)}`);
    return userUri(lowered.slice(at + 1), lowered.slice(0, at));
  }
  if (defaultDomain === undefined) {
    throw new IdentifierError(`user address needs a domain (handle@domain): ${JSON.stringify(s)}`);
  }
  return userUri(defaultDomain, lowered);
}

/** `mimi://b.example/u/bob` -> `bob@b.example`. */
export function displayHandle(uri: string): string {
  const p = parseAs('user', uri);
  return `${p.handle}@${p.domain}`;
}

/**
 * How a room participant is shown in text: `bob@b.example` for a user, the whole URI for a
 * pseudonym (it is the only name the room has for them; the app shows a verified identity beside it).
 */
export function displayUser(uri: string): string {
  return parseMimiUriAs('pseudonym', uri) ? uri : displayHandle(uri);
}

/** A user address as typed (see parseUserAddress), or a pseudonym URI (rooms with pseudonyms). */
export function parseParticipantAddress(s: string, defaultDomain?: string): string {
  const input = typeof s === 'string' ? s.trim() : s;
  if (typeof input === 'string' && parseMimiUriAs('pseudonym', input)) return input;
  return parseUserAddress(input, defaultDomain);
}

/** The user URI a device URI belongs to. */
export function userOfDevice(uri: string): string {
  const p = parseAs('device', uri);
  return userUri(p.domain, p.handle!);
}

/** The provider domain of any user, device or room URI. */
export function domainOf(uri: string): string {
  return parseMimiUri(uri).domain;
}
