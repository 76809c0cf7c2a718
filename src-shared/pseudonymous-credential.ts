// PseudonymousCredential and PseudonymousCredentialTBS (draft-ietf-mimi-protocol-06, "Minimal
// metadata rooms" / "Credential encryption"), and the private-use MLS credential type that carries
// it. docs/pseudonyms.md explains the scheme around them.
//
//   struct { opaque uri<V>; } IdentifierUri;          (protocol-06, "Fetch Key Material")
//
//   struct {
//     IdentifierUri client_pseudonym;
//     IdentifierUri user_pseudonym;
//     opaque signature_public_key<V>;     -- the draft writes `opaque signature_public_key;`
//     opaque identity_link_ciphertext<V>;
//   } PseudonymousCredential;
//
//   struct {
//     IdentifierUri client_pseudonym;
//     IdentifierUri user_pseudonym;
//     opaque signature_public_key<V>;
//   } PseudonymousCredentialTBS;
//
// Draft slip: `opaque signature_public_key;` has no length. TLS-PL has no unbounded opaque field, a
// key's size depends on the ciphersuite, and every other MLS key field is `<V>`, so it is read as
// `opaque signature_public_key<V>` (the encoding of RFC 9420's SignaturePublicKey) in both structs.
//
// IdentifierUri is a struct holding one `opaque uri<V>`, so it encodes exactly like `opaque<V>`; the
// bytes are UTF-8. We require every pseudonym to be a `mimi://<domain>/p/<id>` URI in the one spelling
// identifiers.ts produces: the hub routes by the domain, and URIs are compared as strings.
//
// Inside an MLS Credential (RFC 9420 5.3) the content for PSEUDONYMOUS_CREDENTIAL_TYPE is this struct
// itself, following credential_type with no extra length prefix, the way `opaque identity<V>` follows
// `basic`. A reader can therefore only delimit it by parsing it, which mls-structs.ts does with
// readPseudonymousCredential (and the ts-mls patch does for the engine).
//
// This module depends on tls.ts only, so mls-structs.ts can use it without an import cycle. The
// IdentityLinkTBE, which embeds an MLS Credential, is in identity-link.ts.

import { fromUtf8, utf8 } from './bytes.js';
import { parseMimiUriAs } from './identifiers.js';
import { MlsWireError } from './mls-wire.js';
import { TlsError, TlsReader, TlsWriter } from './tls.js';

/**
 * MLS credential type of a PseudonymousCredential: RFC 9420 17.1 private-use range 0xF000-0xFFFF (not
 * a GREASE value). The draft requests no codepoint yet.
 */
export const PSEUDONYMOUS_CREDENTIAL_TYPE = 0xf001;

/** Failures of this module. A subclass of MlsWireError, so the RFC 9420 decoders pass it through. */
export class PseudonymousCredentialError extends MlsWireError {
  constructor(message: string) {
    super(message);
    this.name = 'PseudonymousCredentialError';
  }
}

export interface PseudonymousCredentialTBS {
  /** `mimi://<domain>/p/<id>`: this client in this room. */
  clientPseudonym: string;
  /** `mimi://<domain>/p/<id>`: the client's user in this room (the same for all of the user's clients). */
  userPseudonym: string;
  /** The LeafNode's signature key (the engine checks they are equal). */
  signaturePublicKey: Uint8Array;
}

export interface PseudonymousCredential extends PseudonymousCredentialTBS {
  /** An IdentityLinkCiphertext (identity-link.ts), or empty while the link is not published yet. */
  identityLinkCiphertext: Uint8Array;
}

/** Largest URI we accept in a pseudonym field (a domain of 253 characters plus a 128-character id fits). */
const MAX_URI_BYTES = 512;

function fail(struct: string, field: string, detail: string): never {
  throw new PseudonymousCredentialError(`${struct}.${field}: ${detail}`);
}

/** Runs a reader step, turning a TlsError (truncation, bad varint) into a field-attributed error. */
function field<T>(struct: string, name: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof PseudonymousCredentialError) throw e;
    if (e instanceof TlsError) fail(struct, name, e.message);
    throw e;
  }
}

/** Throws unless `uri` is a MIMI pseudonym URI in canonical form. */
export function checkPseudonymUri(uri: unknown, struct: string, name: string): string {
  if (typeof uri !== 'string') fail(struct, name, 'must be a string');
  if (utf8(uri).length > MAX_URI_BYTES) fail(struct, name, `longer than ${MAX_URI_BYTES} bytes`);
  if (!parseMimiUriAs('pseudonym', uri)) fail(struct, name, `not a mimi pseudonym URI (mimi://<domain>/p/<id>): ${JSON.stringify(uri)}`);
  return uri;
}

function readPseudonym(r: TlsReader, struct: string, name: string): string {
  const raw = field(struct, name, () => r.opaqueV());
  let uri: string;
  try {
    uri = fromUtf8(raw);
  } catch {
    fail(struct, name, 'is not valid UTF-8');
  }
  return checkPseudonymUri(uri, struct, name);
}

function checkKey(key: unknown, struct: string): Uint8Array {
  if (!(key instanceof Uint8Array)) fail(struct, 'signature_public_key', 'must be a Uint8Array');
  if (key.length === 0) fail(struct, 'signature_public_key', 'is empty');
  return key;
}

function readTbsFields(r: TlsReader, struct: string): PseudonymousCredentialTBS {
  const clientPseudonym = readPseudonym(r, struct, 'client_pseudonym');
  const userPseudonym = readPseudonym(r, struct, 'user_pseudonym');
  const signaturePublicKey = checkKey(
    field(struct, 'signature_public_key', () => r.opaqueV()),
    struct,
  );
  return { clientPseudonym, userPseudonym, signaturePublicKey };
}

function writeTbsFields(w: TlsWriter, c: PseudonymousCredentialTBS, struct: string): void {
  if (typeof c !== 'object' || c === null) fail(struct, '(value)', 'must be an object');
  w.opaqueV(utf8(checkPseudonymUri(c.clientPseudonym, struct, 'client_pseudonym')));
  w.opaqueV(utf8(checkPseudonymUri(c.userPseudonym, struct, 'user_pseudonym')));
  w.opaqueV(checkKey(c.signaturePublicKey, struct));
}

/** Reads one PseudonymousCredential (the body after credential_type) and leaves `r` after it. */
export function readPseudonymousCredential(r: TlsReader): PseudonymousCredential {
  const S = 'PseudonymousCredential';
  const tbs = readTbsFields(r, S);
  return { ...tbs, identityLinkCiphertext: field(S, 'identity_link_ciphertext', () => r.opaqueV()) };
}

export function writePseudonymousCredential(w: TlsWriter, c: PseudonymousCredential): void {
  const S = 'PseudonymousCredential';
  writeTbsFields(w, c, S);
  if (!(c.identityLinkCiphertext instanceof Uint8Array)) fail(S, 'identity_link_ciphertext', 'must be a Uint8Array');
  w.opaqueV(c.identityLinkCiphertext);
}

export function readPseudonymousCredentialTBS(r: TlsReader): PseudonymousCredentialTBS {
  return readTbsFields(r, 'PseudonymousCredentialTBS');
}

export function writePseudonymousCredentialTBS(w: TlsWriter, c: PseudonymousCredentialTBS): void {
  writeTbsFields(w, c, 'PseudonymousCredentialTBS');
}

function decodeExactly<T>(struct: string, bytes: Uint8Array, read: (r: TlsReader) => T): T {
  if (!(bytes instanceof Uint8Array)) fail(struct, '(input)', 'must be a Uint8Array');
  const r = new TlsReader(bytes);
  const value = read(r);
  if (r.remaining !== 0) fail(struct, '(end)', `${r.remaining} trailing bytes`);
  return value;
}

function encode(write: (w: TlsWriter) => void): Uint8Array {
  const w = new TlsWriter();
  write(w);
  return w.finish();
}

export const decodePseudonymousCredential = (b: Uint8Array): PseudonymousCredential =>
  decodeExactly('PseudonymousCredential', b, readPseudonymousCredential);
export const encodePseudonymousCredential = (c: PseudonymousCredential): Uint8Array =>
  encode((w) => writePseudonymousCredential(w, c));

export const decodePseudonymousCredentialTBS = (b: Uint8Array): PseudonymousCredentialTBS =>
  decodeExactly('PseudonymousCredentialTBS', b, readPseudonymousCredentialTBS);
/** The PseudonymousCredentialTBS of a credential (its fields without the identity link). */
export const encodePseudonymousCredentialTBS = (c: PseudonymousCredentialTBS): Uint8Array =>
  encode((w) => writePseudonymousCredentialTBS(w, c));

/**
 * The whole MLS Credential (RFC 9420 5.3): `uint16 credential_type = 0xF001` followed by the
 * PseudonymousCredential. This is what a LeafNode carries and what the tree hash covers.
 */
export function encodePseudonymousMlsCredential(c: PseudonymousCredential): Uint8Array {
  return encode((w) => {
    w.u16(PSEUDONYMOUS_CREDENTIAL_TYPE);
    writePseudonymousCredential(w, c);
  });
}

/** The PseudonymousCredential inside a whole MLS Credential; throws for any other credential type. */
export function decodePseudonymousMlsCredential(bytes: Uint8Array): PseudonymousCredential {
  return decodeExactly('Credential', bytes, (r) => {
    const type = field('Credential', 'credential_type', () => r.u16());
    if (type !== PSEUDONYMOUS_CREDENTIAL_TYPE) {
      fail('Credential', 'credential_type', `0x${type.toString(16).padStart(4, '0')} is not the pseudonymous credential type`);
    }
    return readPseudonymousCredential(r);
  });
}
