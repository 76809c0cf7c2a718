// The connection flow of draft-mahy-mimi-pseudonyms (section 4.1; its section 5 "Connection request
// message format" is a TODO): the connection request Alice sends Bob inside the bootstrap room, and
// the KeyPackage marker "valid for initial connections only" (its section 3). docs/pseudonyms.md
// has the flow and the reasons.
//
// Connection request: a mimi-content part of media type CONNECTION_REQUEST_MEDIA_TYPE whose content
// is, in the TLS presentation language as profiled by MLS:
//
//   struct {
//     IdentifierUri bootstrap_room;        -- the room it is sent in (the MLS group_id)
//     IdentifierUri bootstrap_pseudonym;   -- the sender's user pseudonym in that room
//     IdentifierUri connection_pseudonym;  -- her second user pseudonym, for the connection room
//     uint64 timestamp;                    -- milliseconds since the UNIX epoch
//     Credential sender_credential;        -- her real BasicCredential (device URI)
//     opaque sender_signature_key<V>;      -- that device's SignaturePublicKey
//     MLSMessage key_packages<V>;          -- KeyPackages of connection_pseudonym's clients
//   } ConnectionRequestTBS;
//
//   struct {
//     (the fields of ConnectionRequestTBS)
//     /* SignWithLabel(sender_signature_key, "ConnectionRequestTBS", ConnectionRequestTBS) */
//     opaque signature<V>;
//   } ConnectionRequest;
//
// The signature by the real device key binds her identity to this room, to the pseudonym she
// uses in it, to the second pseudonym and its KeyPackages (which only the pseudonymous keys sign), and
// to a time: copied into another room, attributed to another sender, or replayed later, it is refused.
//
// KeyPackage marker: a KeyPackage extension (RFC 9420 17.3 private-use range, not GREASE) with empty
// extension_data. RFC 9420 10 wants KeyPackage extensions listed in the leaf's capabilities; the
// engine lists it in every KeyPackage it makes.

import { sha256 } from '@noble/hashes/sha2.js';
import { findPart, singlePartContent } from './content-parts.js';
import { type MimiContent } from './content.js';
import { fromUtf8, utf8 } from './bytes.js';
import { parseMimiUriAs, userOfDevice } from './identifiers.js';
import { signWithLabel, verifyWithLabel } from './mls-crypto.js';
import {
  basicCredential,
  readCredential,
  readMlsMessage,
  StructReader,
  unwrapMlsMessage,
  decodeKeyPackage,
  writeCredential,
  type Credential,
  type Fields,
  type KeyPackage,
  type LeafNode,
} from './mls-structs.js';
import { MlsWireError } from './mls-wire.js';
import { encodeVarint, TlsWriter } from './tls.js';
import { Bad, decodeText, decodeWith, encodeWith, struct, type Codec, type In, type Out } from './tls-struct.js';

export const CONNECTION_ONLY_EXTENSION_TYPE = 0xf010;
export const CONNECTION_REQUEST_MEDIA_TYPE = 'application/vnd.mimi-desktop.connection-request';
export const CONNECTION_REQUEST_SIGNATURE_LABEL = 'ConnectionRequestTBS';
/** At most this many KeyPackages (clients of the second pseudonym) in one request. */
export const MAX_CONNECTION_KEY_PACKAGES = 16;
const CIPHERSUITE = 0x0001;

// ---------------------------------------------------------------------------------------------
// "Valid for initial connections only"

/** The KeyPackage extension marking a KeyPackage for initial connections only. */
export function connectionOnlyExtension(): { type: number; data: Uint8Array } {
  return { type: CONNECTION_ONLY_EXTENSION_TYPE, data: new Uint8Array(0) };
}

/** Whether a decoded KeyPackage carries the marker; a marker with data is malformed. */
export function hasConnectionOnlyMarker(kp: Pick<Fields<KeyPackage>, 'extensions'>): boolean {
  const marks = kp.extensions.filter((e) => e.extensionType === CONNECTION_ONLY_EXTENSION_TYPE);
  if (marks.length > 1) throw new MlsWireError('KeyPackage carries the connection-only extension twice');
  if (marks.length === 1 && marks[0].extensionData.length !== 0) throw new MlsWireError('connection-only extension_data must be empty');
  return marks.length === 1;
}

/** Whether an MLSMessage(KeyPackage) is valid for initial connections only. Throws MlsWireError for anything else. */
export function isConnectionOnlyKeyPackage(message: Uint8Array): boolean {
  return hasConnectionOnlyMarker(keyPackageOf(message));
}

function keyPackageOf(message: Uint8Array): KeyPackage {
  const { wireFormat, body } = unwrapMlsMessage(message);
  if (wireFormat !== 'keyPackage') throw new MlsWireError(`expected an MLSMessage carrying a KeyPackage, got ${wireFormat}`);
  return decodeKeyPackage(body);
}

// ---------------------------------------------------------------------------------------------
// Codec

export interface ConnectionRequestTBS {
  bootstrapRoom: string;
  bootstrapPseudonym: string;
  connectionPseudonym: string;
  /** Milliseconds since the UNIX epoch. */
  timestamp: bigint;
  /** Always a BasicCredential naming a device URI. */
  senderCredential: Credential;
  senderSignatureKey: Uint8Array;
  /** MLSMessage(KeyPackage) encodings. */
  keyPackages: Uint8Array[];
}

export interface ConnectionRequest extends ConnectionRequestTBS {
  signature: Uint8Array;
}

function uriOf(kind: 'room' | 'pseudonym') {
  return (r: StructReader): string => {
    const uri = decodeText(r.opaqueV());
    if (!parseMimiUriAs(kind, uri)) throw new Bad(`not a mimi ${kind} URI: ${JSON.stringify(uri)}`);
    return uri;
  };
}

function putUri(kind: 'room' | 'pseudonym', v: unknown) {
  return (w: TlsWriter): void => {
    if (typeof v !== 'string' || !parseMimiUriAs(kind, v)) throw new Bad(`not a mimi ${kind} URI: ${JSON.stringify(v)}`);
    w.opaqueV(utf8(v));
  };
}

function bytesOf(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Bad('must be a Uint8Array');
  return v;
}

/** The sender's device URI, or a Bad naming what is wrong with the credential. */
function senderDevice(c: Fields<Credential>): string {
  if (c.credentialType !== 'basic') throw new Bad(`must be a BasicCredential, got ${c.credentialType}`);
  let uri: string;
  try {
    uri = fromUtf8(c.identity);
  } catch {
    throw new Bad('identity is not UTF-8');
  }
  if (!parseMimiUriAs('device', uri)) throw new Bad(`identity ${JSON.stringify(uri)} is not a device URI`);
  return uri;
}

function readKeyPackageMessage(r: StructReader): Uint8Array {
  const m = readMlsMessage(r);
  keyPackageOf(m);
  return m;
}

function checkCount(n: number): void {
  if (n === 0) throw new Bad('no KeyPackage');
  if (n > MAX_CONNECTION_KEY_PACKAGES) throw new Bad(`more than ${MAX_CONNECTION_KEY_PACKAGES} KeyPackages`);
}

function samePseudonym(a: string, b: string): void {
  if (a === b) throw new Bad('the connection pseudonym must differ from the bootstrap pseudonym');
}

function readTbs(s: In): ConnectionRequestTBS {
  const bootstrapRoom = s.get('bootstrap_room', uriOf('room'));
  const bootstrapPseudonym = s.get('bootstrap_pseudonym', uriOf('pseudonym'));
  const connectionPseudonym = s.get('connection_pseudonym', uriOf('pseudonym'));
  s.check('connection_pseudonym', () => samePseudonym(connectionPseudonym, bootstrapPseudonym));
  const timestamp = s.get('timestamp', (r) => r.u64());
  const senderCredential = s.get('sender_credential', readCredential);
  s.check('sender_credential', () => senderDevice(senderCredential));
  const senderSignatureKey = s.get('sender_signature_key', (r) => r.opaqueV());
  const keyPackages = s.list('key_packages', readKeyPackageMessage);
  s.check('key_packages', () => checkCount(keyPackages.length));
  return { bootstrapRoom, bootstrapPseudonym, connectionPseudonym, timestamp, senderCredential, senderSignatureKey, keyPackages };
}

function writeTbs(o: Out, v: Fields<ConnectionRequestTBS>): void {
  o.put('bootstrap_room', putUri('room', v.bootstrapRoom));
  o.put('bootstrap_pseudonym', putUri('pseudonym', v.bootstrapPseudonym));
  o.put('connection_pseudonym', putUri('pseudonym', v.connectionPseudonym));
  o.check('connection_pseudonym', () => samePseudonym(v.connectionPseudonym, v.bootstrapPseudonym));
  o.put('timestamp', (w) => {
    if (typeof v.timestamp !== 'bigint') throw new Bad('must be a bigint');
    w.u64(v.timestamp);
  });
  o.check('sender_credential', () => senderDevice(v.senderCredential));
  o.put('sender_credential', (w) => writeCredential(w, v.senderCredential));
  o.put('sender_signature_key', (w) => w.opaqueV(bytesOf(v.senderSignatureKey)));
  o.check('key_packages', () => checkCount(Array.isArray(v.keyPackages) ? v.keyPackages.length : 0));
  o.list('key_packages', v.keyPackages, (w, m) => {
    const bytes = bytesOf(m);
    keyPackageOf(bytes);
    w.bytes(bytes);
  });
}

const TBS: Codec<ConnectionRequestTBS> = struct<ConnectionRequestTBS>('ConnectionRequestTBS', readTbs, writeTbs);

const REQUEST: Codec<ConnectionRequest> = struct<ConnectionRequest>(
  'ConnectionRequest',
  (s) => ({ ...readTbs(s), signature: s.get('signature', (r) => r.opaqueV()) }),
  (o, v) => {
    writeTbs(o, v);
    o.put('signature', (w) => w.opaqueV(bytesOf(v.signature)));
  },
);

export const encodeConnectionRequest = (v: ConnectionRequest): Uint8Array => encodeWith(REQUEST, v as Fields<ConnectionRequest>);
export const decodeConnectionRequest = (b: Uint8Array): ConnectionRequest => decodeWith(REQUEST, b);
export const encodeConnectionRequestTBS = (v: ConnectionRequestTBS): Uint8Array => encodeWith(TBS, v as Fields<ConnectionRequestTBS>);

/** A stable id of a request (SHA-256 of its encoding) for the receiver's replay memory. */
export function connectionRequestId(encoded: Uint8Array): Uint8Array {
  return sha256(encoded);
}

// ---------------------------------------------------------------------------------------------
// Create and verify

/** A request that cannot be made as asked (bad arguments); received requests are refused, not thrown. */
export class ConnectionRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionRequestError';
  }
}

export interface ConnectionRequestSigner {
  /** The real device URI. */
  identity: string;
  signaturePublicKey: Uint8Array;
  /** Ed25519 seed. */
  signaturePrivateKey: Uint8Array;
}

/** The encoded ConnectionRequest, signed by the sender's real device key. */
export function createConnectionRequest(p: {
  bootstrapRoom: string;
  bootstrapPseudonym: string;
  connectionPseudonym: string;
  device: ConnectionRequestSigner;
  keyPackages: Uint8Array[];
  /** Milliseconds since the UNIX epoch; default now. */
  timestamp?: bigint;
}): Uint8Array {
  const tbs: ConnectionRequestTBS = {
    bootstrapRoom: p.bootstrapRoom,
    bootstrapPseudonym: p.bootstrapPseudonym,
    connectionPseudonym: p.connectionPseudonym,
    timestamp: p.timestamp ?? BigInt(Date.now()),
    senderCredential: basicCredential(p.device.identity),
    senderSignatureKey: p.device.signaturePublicKey,
    keyPackages: p.keyPackages,
  };
  const tbsBytes = encodeConnectionRequestTBS(tbs);
  const signature = signWithLabel(p.device.signaturePrivateKey, CONNECTION_REQUEST_SIGNATURE_LABEL, tbsBytes);
  if (!verifyWithLabel(p.device.signaturePublicKey, CONNECTION_REQUEST_SIGNATURE_LABEL, tbsBytes, signature)) {
    throw new ConnectionRequestError('the device signature private key does not match its public key');
  }
  return encodeConnectionRequest({ ...tbs, signature });
}

export type ConnectionRequestRefusal =
  | 'malformed'
  | 'badSignature'
  | 'wrongRoom'
  | 'wrongSender'
  | 'expired'
  | 'fromFuture'
  | 'replayed'
  | 'badKeyPackage';

export interface ConnectionClient {
  clientPseudonym: string;
  /** MLSMessage(KeyPackage), to add this client to the connection room. */
  keyPackage: Uint8Array;
  connectionOnly: boolean;
}

export type ConnectionRequestCheck =
  | {
      ok: true;
      request: ConnectionRequest;
      /** connectionRequestId: remember it (at least maxAgeMs) to refuse replays. */
      id: Uint8Array;
      /**
       * The real sender. Authenticate the pair (senderDevice, request.senderSignatureKey) as for a
       * basic leaf before showing the request as coming from senderUser.
       */
      senderDevice: string;
      senderUser: string;
      clients: ConnectionClient[];
    }
  | { ok: false; reason: ConnectionRequestRefusal; detail: string };

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_MAX_SKEW_MS = 10 * 60 * 1000;

/**
 * Verifies a received connection request. `roomUri` is the room it arrived in and
 * `senderUserPseudonym` the user pseudonym of the MLS leaf that sent it; `seen` answers whether
 * an id was accepted before (replay memory).
 */
export function verifyConnectionRequest(
  encoded: Uint8Array,
  ctx: {
    roomUri: string;
    senderUserPseudonym: string;
    now?: number;
    maxAgeMs?: number;
    maxSkewMs?: number;
    seen?: (id: Uint8Array) => boolean;
  },
): ConnectionRequestCheck {
  const refuse = (reason: ConnectionRequestRefusal, detail: string): ConnectionRequestCheck => ({ ok: false, reason, detail });
  let request: ConnectionRequest;
  try {
    request = decodeConnectionRequest(encoded);
  } catch (e) {
    return refuse('malformed', (e as Error).message);
  }
  const tbsBytes = encodeConnectionRequestTBS(request);
  if (!verifyWithLabel(request.senderSignatureKey, CONNECTION_REQUEST_SIGNATURE_LABEL, tbsBytes, request.signature)) {
    return refuse('badSignature', 'the signature does not verify under sender_signature_key');
  }
  if (request.bootstrapRoom !== ctx.roomUri) {
    return refuse('wrongRoom', `the request was made for ${request.bootstrapRoom}, not ${ctx.roomUri}`);
  }
  if (request.bootstrapPseudonym !== ctx.senderUserPseudonym) {
    return refuse('wrongSender', `the request names ${request.bootstrapPseudonym} as its sender, but ${ctx.senderUserPseudonym} sent it`);
  }
  const now = BigInt(Math.floor(ctx.now ?? Date.now()));
  const maxAge = BigInt(ctx.maxAgeMs ?? DEFAULT_MAX_AGE_MS);
  const maxSkew = BigInt(ctx.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
  if (request.timestamp + maxAge < now) return refuse('expired', `the request is from ${request.timestamp}, older than ${maxAge} ms`);
  if (request.timestamp > now + maxSkew) return refuse('fromFuture', `the request is dated ${request.timestamp}, after now (${now}) + ${maxSkew} ms`);
  const id = connectionRequestId(encoded);
  if (ctx.seen?.(id)) return refuse('replayed', 'this request was received before');
  const clients: ConnectionClient[] = [];
  for (const [i, message] of request.keyPackages.entries()) {
    const kp = keyPackageOf(message);
    const problem = keyPackageProblem(kp, request.connectionPseudonym, now / 1000n);
    if (problem) return refuse('badKeyPackage', `key_packages[${i}]: ${problem}`);
    const cred = kp.leafNode.credential as Extract<Credential, { credentialType: 'pseudonymous' }>;
    if (clients.some((c) => c.clientPseudonym === cred.clientPseudonym)) {
      return refuse('badKeyPackage', `key_packages[${i}]: client pseudonym ${cred.clientPseudonym} appears twice`);
    }
    let connectionOnly: boolean;
    try {
      connectionOnly = hasConnectionOnlyMarker(kp);
    } catch (e) {
      return refuse('badKeyPackage', `key_packages[${i}]: ${(e as Error).message}`);
    }
    clients.push({ clientPseudonym: cred.clientPseudonym, keyPackage: message, connectionOnly });
  }
  const device = fromUtf8((request.senderCredential as { identity: Uint8Array }).identity);
  return { ok: true, request, id, senderDevice: device, senderUser: userOfDevice(device), clients };
}

/** The bytes a signature at the end of `raw` covers: `raw` without its trailing `opaque signature<V>`. */
function signedPart(raw: Uint8Array, signature: Uint8Array): Uint8Array {
  return raw.subarray(0, raw.length - encodeVarint(signature.length).length - signature.length);
}

function leafSignatureValid(leaf: LeafNode): boolean {
  // LeafNodeTBS of a key_package leaf is the LeafNode without its signature (RFC 9420 7.2).
  return verifyWithLabel(leaf.signatureKey, 'LeafNodeTBS', signedPart(leaf.raw, leaf.signature), leaf.signature);
}

function keyPackageProblem(kp: KeyPackage, connectionPseudonym: string, nowSeconds: bigint): string | undefined {
  if (kp.cipherSuite !== CIPHERSUITE) return `ciphersuite 0x${kp.cipherSuite.toString(16)} is not 0x0001`;
  const cred = kp.leafNode.credential;
  if (cred.credentialType !== 'pseudonymous') return `the credential is ${cred.credentialType}, not pseudonymous`;
  if (cred.userPseudonym !== connectionPseudonym) return `its user pseudonym ${cred.userPseudonym} is not the connection pseudonym`;
  if (cred.signaturePublicKey.length !== kp.leafNode.signatureKey.length || !cred.signaturePublicKey.every((b, i) => b === kp.leafNode.signatureKey[i])) {
    return 'the credential key is not the leaf signature key';
  }
  if (kp.leafNode.source.type !== 'key_package') return 'the leaf is not a key_package leaf';
  const { notBefore, notAfter } = kp.leafNode.source.lifetime;
  if (nowSeconds > notAfter) return 'it has expired';
  if (nowSeconds + 3600n < notBefore) return 'it is not valid yet';
  if (!leafSignatureValid(kp.leafNode)) return 'the LeafNode signature does not verify';
  if (!verifyWithLabel(kp.leafNode.signatureKey, 'KeyPackageTBS', signedPart(kp.raw, kp.signature), kp.signature)) {
    return 'the KeyPackage signature does not verify';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// As a mimi-content message

/** The message carrying a connection request (sent by the bootstrap pseudonym's client). */
export function connectionRequestContent(o: { senderUri: string; roomUri: string; request: Uint8Array }): MimiContent {
  return singlePartContent({ senderUri: o.senderUri, roomUri: o.roomUri, contentType: CONNECTION_REQUEST_MEDIA_TYPE, content: o.request });
}

/** The encoded connection request in a message, if it carries one. */
export function findConnectionRequest(content: MimiContent): Uint8Array | undefined {
  return findPart(content, CONNECTION_REQUEST_MEDIA_TYPE);
}
