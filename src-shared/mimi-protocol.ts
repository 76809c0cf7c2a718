// Bodies of the MIMI provider-to-provider endpoints (draft-ietf-mimi-protocol-06, sections "MIMI
// Endpoints and Framing" through "Find internal address"), in the TLS presentation language as
// profiled by MLS (tls.ts), with the RatchetTreeOption / PartialGroupInfo structs of
// draft-mahy-mls-ratchet-tree-options-03. Media type: application/mimi.
//
// Each structure has `encodeX(value)` / `decodeX(bytes)`. Decoding is strict: truncation, trailing
// bytes, unknown enum values, malformed embedded MLS objects and structurally wrong MLS messages
// (e.g. an application message where a proposal is required) all throw MimiWireError, whose
// `structure`/`field` name the innermost failing field and whose `path` leads to it from the top.
// Encoding validates the same things, so a value that encodes also decodes.
//
// Embedded RFC 9420 structures (KeyPackage, GroupInfo, Welcome, ratchet tree, Credential, ...) are
// the mls-structs.ts types. Encoders accept them with or without `raw`: with `raw`, the original
// bytes are forwarded unchanged (signatures cover them); without, they are encoded from fields.
// MLSMessages are carried as their complete encoding (Uint8Array) and delimited by parsing.
//
// Draft slips resolved here (see specs/INDEX.txt):
// - SubmitResponseCode: the enum says accepted(0), the select says success; we call it 'success'.
// - GroupInfoRequest.joiningCode: optional in the TBS but not in the request. We use
//   `optional<opaque joiningCode<V>>` in both, so the TBS is exactly the request minus signature.
// - RatchetTreeOption `full`: the struct text says `Node ratchet_tree<V>`, but the prose says it
//   carries "the complete ratchet_tree extension", and a tree with blank nodes needs optional<Node>.
//   We carry the RFC 9420 ratchet_tree extension encoding, `optional<Node> ratchet_tree<V>`.
// - FanoutMessage selects on "message.wire_format" with cases named after content types; we select
//   on the message kind: Welcome; application (PrivateMessage only); proposal or commit (a
//   PublicMessage, or a PrivateMessage whose cleartext content_type says so).
// - Selects on `protocol` in structs that carry no protocol field (ClientKeyMaterial, UpdateRequest,
//   FanoutMessage) assume mls10, the only protocol defined.
// - RoomId (ConsentEntry, ConsentScope) is not defined by the draft; we use IdentifierUri.
// - QueryElement selects on `type` where its field is `searchType`; we select on searchType. Its
//   `opaque searchValue<V>` is "a UTF8 string" and claimName / propertyName are names: all three are
//   decoded as UTF-8 text (invalid UTF-8 is malformed).
// SemiPrivateMessage has no assigned wire format yet and is not supported.

import {
  readCapabilities,
  readCredential,
  readExtension,
  readExternalSender,
  readGroupInfo,
  readHpkeCiphertext,
  readKeyPackage,
  readMlsMessage,
  readRatchetTree,
  readRequiredCapabilities,
  readWelcome,
  StructReader,
  writeCapabilities,
  writeCredential,
  writeExtension,
  writeExternalSender,
  writeGroupInfo,
  writeHpkeCiphertext,
  writeKeyPackage,
  writeRatchetTree,
  writeRequiredCapabilities,
  writeWelcome,
  type Capabilities,
  type Credential,
  type Extension,
  type ExternalSender,
  type Fields,
  type GroupInfo,
  type HPKECiphertext,
  type KeyPackage,
  type RatchetTree,
  type RequiredCapabilities,
  type Welcome,
} from './mls-structs.js';
import { peekMlsMessage } from './mls-wire.js';
import { TlsWriter } from './tls.js';
import {
  Bad,
  decodeWith,
  encodeWith,
  enumDef,
  enumNumber,
  In,
  MimiWireError,
  isObject,
  nest,
  Out,
  readText,
  struct,
  textBytes,
  type Codec,
} from './tls-struct.js';

export type { Fields } from './mls-structs.js';
export { MimiWireError } from './tls-struct.js';

export const MIMI_MEDIA_TYPE = 'application/mimi';

// ---------------------------------------------------------------------------------------------
// Codec machinery (tls-struct.ts), and what only MIMI bodies need

/** An RFC 9420 structure from mls-structs: forwarded as `raw` when present, else encoded from fields. */
function mlsStruct<T extends object>(
  name: string,
  read: (r: StructReader) => T,
  write: (w: TlsWriter, v: Fields<T>) => void,
): Codec<T> {
  return {
    name,
    read,
    write(w, v) {
      if (!isObject(v)) throw new Bad(`${name} must be an object`);
      const raw = (v as { raw?: unknown }).raw;
      if (raw === undefined) return write(w, v);
      if (!(raw instanceof Uint8Array)) throw new Bad(`${name}.raw must be a Uint8Array`);
      const check = new StructReader(raw);
      read(check);
      check.done();
      w.bytes(raw);
    },
  };
}

// Primitive field helpers

function bytes(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new Bad('must be a Uint8Array');
  return v;
}

const putOpaque = (v: unknown) => (w: TlsWriter) => void w.opaqueV(bytes(v));

function fixed(r: StructReader, n: number): Uint8Array {
  return r.bytes(n);
}

const putFixed = (v: unknown, n: number) => (w: TlsWriter) => {
  if (bytes(v).length !== n) throw new Bad(`must be exactly ${n} bytes, got ${(v as Uint8Array).length}`);
  w.bytes(v as Uint8Array);
};

const putText = (v: unknown) => (w: TlsWriter) => void w.opaqueV(textBytes(v));

const putU16 = (v: unknown) => (w: TlsWriter) => void w.u16(v as number);
const putU32 = (v: unknown) => (w: TlsWriter) => void w.u32(v as number);
const putU64 = (v: unknown) => (w: TlsWriter) => {
  if (typeof v !== 'bigint') throw new Bad('must be a bigint');
  w.u64(v);
};

// ---------------------------------------------------------------------------------------------
// Enumerations (all uint8 on the wire)

export const PROTOCOL = { mls10: 1 } as const;
export type Protocol = keyof typeof PROTOCOL;

export const KEY_MATERIAL_USER_CODE = {
  success: 0,
  partialSuccess: 1,
  incompatibleProtocol: 2,
  noCompatibleMaterial: 3,
  userUnknown: 4,
  noConsent: 5,
  noConsentForThisRoom: 6,
  userDeleted: 7,
} as const;
export type KeyMaterialUserCode = keyof typeof KEY_MATERIAL_USER_CODE;

export const KEY_MATERIAL_CLIENT_CODE = { success: 0, keyMaterialExhausted: 1, nothingCompatible: 2 } as const;
export type KeyMaterialClientCode = keyof typeof KEY_MATERIAL_CLIENT_CODE;

export const GROUP_INFO_REPRESENTATION = { full: 1, partial: 2 } as const;
export type GroupInfoRepresentation = keyof typeof GROUP_INFO_REPRESENTATION;

export const RATCHET_TREE_REPRESENTATION = { full: 1, httpsUri: 2, outOfBand: 3, distributionService: 4 } as const;
export type RatchetTreeRepresentation = keyof typeof RATCHET_TREE_REPRESENTATION;

export const RATCHET_TREE_PRESENCE = { no_ratchet_tree: 0, present: 1, removed: 2, added: 3 } as const;
export type RatchetTreePresence = keyof typeof RATCHET_TREE_PRESENCE;

export const UPDATE_RESPONSE_CODE = { success: 0, wrongEpoch: 1, notAllowed: 2, invalidProposal: 3 } as const;
export type UpdateResponseCode = keyof typeof UPDATE_RESPONSE_CODE;

/** The draft's enum names value 0 `accepted` but its select uses `success`; we use `success`. */
export const SUBMIT_RESPONSE_CODE = { success: 0, notAllowed: 1, epochTooOld: 2 } as const;
export type SubmitResponseCode = keyof typeof SUBMIT_RESPONSE_CODE;

export const GROUP_INFO_CODE = { success: 1, notAuthorized: 2, noSuchRoom: 3 } as const;
export type GroupInfoCode = keyof typeof GROUP_INFO_CODE;

export const CONSENT_OPERATION = { cancel: 0, request: 1, grant: 2, revoke: 3 } as const;
export type ConsentOperation = keyof typeof CONSENT_OPERATION;

const PROTOCOL_E = enumDef<Protocol>('Protocol', PROTOCOL);
const USER_CODE_E = enumDef<KeyMaterialUserCode>('KeyMaterialUserCode', KEY_MATERIAL_USER_CODE);
const CLIENT_CODE_E = enumDef<KeyMaterialClientCode>('KeyMaterialClientCode', KEY_MATERIAL_CLIENT_CODE);
const GI_REPR_E = enumDef<GroupInfoRepresentation>('GroupInfoRepresentation', GROUP_INFO_REPRESENTATION);
const RT_REPR_E = enumDef<RatchetTreeRepresentation>('RatchetTreeRepresentation', RATCHET_TREE_REPRESENTATION);
const RT_PRESENCE_E = enumDef<RatchetTreePresence>('RatchetTreePresence', RATCHET_TREE_PRESENCE);
const UPDATE_CODE_E = enumDef<UpdateResponseCode>('UpdateResponseCode', UPDATE_RESPONSE_CODE);
const SUBMIT_CODE_E = enumDef<SubmitResponseCode>('SubmitResponseCode', SUBMIT_RESPONSE_CODE);
const GI_CODE_E = enumDef<GroupInfoCode>('GroupInfoCode', GROUP_INFO_CODE);
const CONSENT_OP_E = enumDef<ConsentOperation>('ConsentOperation', CONSENT_OPERATION);

// ---------------------------------------------------------------------------------------------
// Embedded MLS objects

const KEY_PACKAGE = mlsStruct<KeyPackage>('KeyPackage', readKeyPackage, writeKeyPackage);
const CAPABILITIES = mlsStruct<Capabilities>('Capabilities', readCapabilities, writeCapabilities);
const REQUIRED_CAPABILITIES = mlsStruct<RequiredCapabilities>('RequiredCapabilities', readRequiredCapabilities, writeRequiredCapabilities);
const CREDENTIAL = mlsStruct<Credential>('Credential', readCredential, writeCredential);
const GROUP_INFO = mlsStruct<GroupInfo>('GroupInfo', readGroupInfo, writeGroupInfo);
const WELCOME = mlsStruct<Welcome>('Welcome', readWelcome, writeWelcome);
const RATCHET_TREE = mlsStruct<RatchetTree>('ratchet_tree', readRatchetTree, writeRatchetTree);
const EXTERNAL_SENDER = mlsStruct<ExternalSender>('ExternalSender', readExternalSender, writeExternalSender);
const EXTENSION = mlsStruct<Extension>('Extension', readExtension, writeExtension);

/** What a MIMI structure may require of an embedded MLSMessage. */
export type MessageKind = 'application' | 'welcome' | 'proposal' | 'commit';

/**
 * The kind of an MLSMessage as MIMI selects on it: a Welcome; an application message (only as a
 * PrivateMessage, RFC 9420 6.2); or a proposal / commit from the cleartext content_type.
 */
export function mimiMessageKind(message: Uint8Array): MessageKind {
  const info = peekMlsMessage(message);
  if (info.wireFormat === 'welcome') return 'welcome';
  if (info.wireFormat === 'public' || info.wireFormat === 'private') {
    if (info.contentType === 'application' && info.wireFormat === 'public') throw new Bad('application data in a PublicMessage');
    return info.contentType!;
  }
  throw new Bad(`an MLSMessage of wire format '${info.wireFormat}' is not allowed here`);
}

function requireKind(message: Uint8Array, allowed: readonly MessageKind[]): MessageKind {
  const kind = mimiMessageKind(message);
  if (!allowed.includes(kind)) throw new Bad(`expected ${allowed.join(' or ')} MLSMessage, got ${kind}`);
  return kind;
}

function readMessage(r: StructReader, allowed: readonly MessageKind[]): Uint8Array {
  const m = readMlsMessage(r);
  requireKind(m, allowed);
  return m;
}

const putMessage = (v: unknown, allowed: readonly MessageKind[]) => (w: TlsWriter) => {
  const m = bytes(v);
  const check = new StructReader(m);
  readMlsMessage(check);
  if (check.remaining !== 0) throw new Bad(`${check.remaining} bytes after the MLSMessage`);
  requireKind(m, allowed);
  w.bytes(m);
};

const PROPOSAL: readonly MessageKind[] = ['proposal'];

// ---------------------------------------------------------------------------------------------
// IdentifierUri

const IDENTIFIER_URI: Codec<string> = {
  name: 'IdentifierUri',
  read: (r) => new In(r, 'IdentifierUri').get('uri', readText),
  write: (w, v) => new Out(w, 'IdentifierUri').put('uri', putText(v)),
};

export const encodeIdentifierUri = (uri: string): Uint8Array => encodeWith(IDENTIFIER_URI, uri);
export const decodeIdentifierUri = (b: Uint8Array): string => decodeWith(IDENTIFIER_URI, b);

const readUri = (r: StructReader): string => IDENTIFIER_URI.read(r);
const putUri = (v: unknown) => (w: TlsWriter) => IDENTIFIER_URI.write(w, v as string);

// ---------------------------------------------------------------------------------------------
// Fetch Key Material

export interface KeyMaterialRequestTBS {
  protocol: Protocol;
  requestingUser: string;
  targetUser: string;
  /** The room the KeyPackages are for. */
  roomId: string;
  acceptableCiphersuites: number[];
  requiredCapabilities: RequiredCapabilities;
  requesterSignatureKey: Uint8Array;
  requesterCredential: Credential;
}

export interface KeyMaterialRequest extends KeyMaterialRequestTBS {
  /** SignWithLabel(requesterSignatureKey, "KeyMaterialRequestTBS", KeyMaterialRequestTBS) */
  signature: Uint8Array;
}

function readKmrTbs(s: In): KeyMaterialRequestTBS {
  return {
    protocol: s.enum('protocol', PROTOCOL_E),
    requestingUser: s.get('requestingUser', readUri),
    targetUser: s.get('targetUser', readUri),
    roomId: s.get('roomId', readUri),
    acceptableCiphersuites: s.list('acceptableCiphersuites', (r) => r.u16()),
    requiredCapabilities: s.get('requiredCapabilities', REQUIRED_CAPABILITIES.read),
    requesterSignatureKey: s.get('requesterSignatureKey', (r) => r.opaqueV()),
    requesterCredential: s.get('requesterCredential', CREDENTIAL.read),
  };
}

function writeKmrTbs(o: Out, v: Fields<KeyMaterialRequestTBS>): void {
  o.enum('protocol', PROTOCOL_E, v.protocol);
  o.put('requestingUser', putUri(v.requestingUser));
  o.put('targetUser', putUri(v.targetUser));
  o.put('roomId', putUri(v.roomId));
  o.list('acceptableCiphersuites', v.acceptableCiphersuites, (w, cs) => w.u16(cs));
  o.put('requiredCapabilities', (w) => REQUIRED_CAPABILITIES.write(w, v.requiredCapabilities));
  o.put('requesterSignatureKey', putOpaque(v.requesterSignatureKey));
  o.put('requesterCredential', (w) => CREDENTIAL.write(w, v.requesterCredential));
}

const KEY_MATERIAL_REQUEST_TBS = struct<KeyMaterialRequestTBS>('KeyMaterialRequestTBS', readKmrTbs, writeKmrTbs);

const KEY_MATERIAL_REQUEST = struct<KeyMaterialRequest>(
  'KeyMaterialRequest',
  (s) => ({ ...readKmrTbs(s), signature: s.get('key_material_request_signature', (r) => r.opaqueV()) }),
  (o, v) => {
    writeKmrTbs(o, v);
    o.put('key_material_request_signature', putOpaque(v.signature));
  },
);

export const encodeKeyMaterialRequestTBS = (v: Fields<KeyMaterialRequestTBS>): Uint8Array => encodeWith(KEY_MATERIAL_REQUEST_TBS, v);
export const decodeKeyMaterialRequestTBS = (b: Uint8Array): KeyMaterialRequestTBS => decodeWith(KEY_MATERIAL_REQUEST_TBS, b);
export const encodeKeyMaterialRequest = (v: Fields<KeyMaterialRequest>): Uint8Array => encodeWith(KEY_MATERIAL_REQUEST, v);
export const decodeKeyMaterialRequest = (b: Uint8Array): KeyMaterialRequest => decodeWith(KEY_MATERIAL_REQUEST, b);

/** The bytes a KeyMaterialRequest signature covers (label "KeyMaterialRequestTBS"). */
export function keyMaterialRequestTbs(req: Fields<KeyMaterialRequestTBS>): Uint8Array {
  return encodeKeyMaterialRequestTBS(req);
}

export type ClientKeyMaterial =
  | { clientStatus: 'success'; clientUri: string; keyPackage: KeyPackage }
  | { clientStatus: 'keyMaterialExhausted'; clientUri: string }
  | { clientStatus: 'nothingCompatible'; clientUri: string; clientCapabilities?: Capabilities };

const CLIENT_KEY_MATERIAL = struct<ClientKeyMaterial>(
  'ClientKeyMaterial',
  (s) => {
    const clientStatus = s.enum('clientStatus', CLIENT_CODE_E);
    const clientUri = s.get('clientUri', readUri);
    switch (clientStatus) {
      case 'success':
        // A bare KeyPackage struct (not an MLSMessage): delimited by parsing it.
        return { clientStatus, clientUri, keyPackage: s.get('keyPackage', KEY_PACKAGE.read) };
      case 'nothingCompatible': {
        const clientCapabilities = s.opt('clientCapabilities', CAPABILITIES.read);
        return clientCapabilities === undefined ? { clientStatus, clientUri } : { clientStatus, clientUri, clientCapabilities };
      }
      default:
        return { clientStatus, clientUri };
    }
  },
  (o, v) => {
    o.enum('clientStatus', CLIENT_CODE_E, v.clientStatus);
    o.put('clientUri', putUri(v.clientUri));
    if (v.clientStatus === 'success') o.put('keyPackage', (w) => KEY_PACKAGE.write(w, v.keyPackage));
    else if (v.clientStatus === 'nothingCompatible') o.opt('clientCapabilities', v.clientCapabilities, CAPABILITIES.write);
  },
);

export const encodeClientKeyMaterial = (v: Fields<ClientKeyMaterial>): Uint8Array => encodeWith(CLIENT_KEY_MATERIAL, v);
export const decodeClientKeyMaterial = (b: Uint8Array): ClientKeyMaterial => decodeWith(CLIENT_KEY_MATERIAL, b);

export interface KeyMaterialResponse {
  protocol: Protocol;
  userStatus: KeyMaterialUserCode;
  userUri: string;
  clients: ClientKeyMaterial[];
}

const KEY_MATERIAL_RESPONSE = struct<KeyMaterialResponse>(
  'KeyMaterialResponse',
  (s) => ({
    protocol: s.enum('protocol', PROTOCOL_E),
    userStatus: s.enum('userStatus', USER_CODE_E),
    userUri: s.get('userUri', readUri),
    clients: s.list('clients', CLIENT_KEY_MATERIAL.read),
  }),
  (o, v) => {
    o.enum('protocol', PROTOCOL_E, v.protocol);
    o.enum('userStatus', USER_CODE_E, v.userStatus);
    o.put('userUri', putUri(v.userUri));
    o.list('clients', v.clients, CLIENT_KEY_MATERIAL.write);
  },
);

export const encodeKeyMaterialResponse = (v: Fields<KeyMaterialResponse>): Uint8Array => encodeWith(KEY_MATERIAL_RESPONSE, v);
export const decodeKeyMaterialResponse = (b: Uint8Array): KeyMaterialResponse => decodeWith(KEY_MATERIAL_RESPONSE, b);

// PROJECT EXTENSION, not in draft-ietf-mimi-protocol-06: draft-mahy-mimi-transport-design-reqs
// section 3.1 asks for one KeyPackage claim per target provider covering many users. These wrap
// the standard request/response bodies one-to-one, responses in request order.

export interface BulkKeyMaterialRequest {
  requests: KeyMaterialRequest[];
}

export interface BulkKeyMaterialResponse {
  responses: KeyMaterialResponse[];
}

const BULK_KEY_MATERIAL_REQUEST = struct<BulkKeyMaterialRequest>(
  'BulkKeyMaterialRequest',
  (s) => ({ requests: s.list('requests', KEY_MATERIAL_REQUEST.read) }),
  (o, v) => o.list('requests', v.requests, KEY_MATERIAL_REQUEST.write),
);

const BULK_KEY_MATERIAL_RESPONSE = struct<BulkKeyMaterialResponse>(
  'BulkKeyMaterialResponse',
  (s) => ({ responses: s.list('responses', KEY_MATERIAL_RESPONSE.read) }),
  (o, v) => o.list('responses', v.responses, KEY_MATERIAL_RESPONSE.write),
);

export const encodeBulkKeyMaterialRequest = (v: Fields<BulkKeyMaterialRequest>): Uint8Array => encodeWith(BULK_KEY_MATERIAL_REQUEST, v);
export const decodeBulkKeyMaterialRequest = (b: Uint8Array): BulkKeyMaterialRequest => decodeWith(BULK_KEY_MATERIAL_REQUEST, b);
export const encodeBulkKeyMaterialResponse = (v: Fields<BulkKeyMaterialResponse>): Uint8Array =>
  encodeWith(BULK_KEY_MATERIAL_RESPONSE, v);
export const decodeBulkKeyMaterialResponse = (b: Uint8Array): BulkKeyMaterialResponse => decodeWith(BULK_KEY_MATERIAL_RESPONSE, b);

// ---------------------------------------------------------------------------------------------
// RatchetTreeOption, PartialGroupInfo (draft-mahy-mls-ratchet-tree-options-03)

export type RatchetTreeOption =
  | { representation: 'full'; ratchetTree: RatchetTree }
  | { representation: 'httpsUri'; ratchetTreeUrl: string; treeSignature: Uint8Array }
  | { representation: 'outOfBand'; treeSignature: Uint8Array }
  | { representation: 'distributionService' };

const RATCHET_TREE_OPTION = struct<RatchetTreeOption>(
  'RatchetTreeOption',
  (s) => {
    const representation = s.enum('representation', RT_REPR_E);
    switch (representation) {
      case 'full':
        return { representation, ratchetTree: s.get('ratchet_tree', RATCHET_TREE.read) };
      case 'httpsUri':
        return {
          representation,
          ratchetTreeUrl: s.get('ratchet_tree_url', readText),
          treeSignature: s.get('tree_signature', (r) => r.opaqueV()),
        };
      case 'outOfBand':
        return { representation, treeSignature: s.get('tree_signature', (r) => r.opaqueV()) };
      case 'distributionService':
        return { representation };
    }
  },
  (o, v) => {
    o.enum('representation', RT_REPR_E, v.representation);
    if (v.representation === 'full') o.put('ratchet_tree', (w) => RATCHET_TREE.write(w, v.ratchetTree));
    else if (v.representation === 'httpsUri') {
      o.put('ratchet_tree_url', putText(v.ratchetTreeUrl));
      o.put('tree_signature', putOpaque(v.treeSignature));
    } else if (v.representation === 'outOfBand') o.put('tree_signature', putOpaque(v.treeSignature));
  },
);

export const encodeRatchetTreeOption = (v: Fields<RatchetTreeOption>): Uint8Array => encodeWith(RATCHET_TREE_OPTION, v);
export const decodeRatchetTreeOption = (b: Uint8Array): RatchetTreeOption => decodeWith(RATCHET_TREE_OPTION, b);

const RATCHET_TREE_EXTENSION_TYPE = 0x0002;

export interface PartialGroupInfo {
  ratchetTreePresence: RatchetTreePresence;
  /** GroupInfo extensions, never including ratchet_tree. */
  groupInfoExtensions: Extension[];
  signature: Uint8Array;
}

function noRatchetTree(e: { extensionType: number }): void {
  if (e.extensionType === RATCHET_TREE_EXTENSION_TYPE) throw new Bad('ratchet_tree must not be among the GroupInfo extensions');
}

const PARTIAL_GROUP_INFO = struct<PartialGroupInfo>(
  'PartialGroupInfo',
  (s) => ({
    ratchetTreePresence: s.enum('ratchet_tree_presence', RT_PRESENCE_E),
    groupInfoExtensions: s.list('group_info_extensions', (r) => {
      const e = EXTENSION.read(r);
      noRatchetTree(e);
      return e;
    }),
    signature: s.get('signature', (r) => r.opaqueV()),
  }),
  (o, v) => {
    o.enum('ratchet_tree_presence', RT_PRESENCE_E, v.ratchetTreePresence);
    o.list('group_info_extensions', v.groupInfoExtensions, (w, e) => {
      noRatchetTree(e);
      EXTENSION.write(w, e);
    });
    o.put('signature', putOpaque(v.signature));
  },
);

export const encodePartialGroupInfo = (v: Fields<PartialGroupInfo>): Uint8Array => encodeWith(PARTIAL_GROUP_INFO, v);
export const decodePartialGroupInfo = (b: Uint8Array): PartialGroupInfo => decodeWith(PARTIAL_GROUP_INFO, b);

// ---------------------------------------------------------------------------------------------
// Update Room State

export type GroupInfoOption =
  | { representation: 'full'; groupInfo: GroupInfo }
  | { representation: 'partial'; partialGroupInfo: PartialGroupInfo };

const GROUP_INFO_OPTION = struct<GroupInfoOption>(
  'GroupInfoOption',
  (s) => {
    const representation = s.enum('representation', GI_REPR_E);
    return representation === 'full'
      ? { representation, groupInfo: s.get('groupInfo', GROUP_INFO.read) }
      : { representation, partialGroupInfo: s.get('partialGroupInfo', PARTIAL_GROUP_INFO.read) };
  },
  (o, v) => {
    o.enum('representation', GI_REPR_E, v.representation);
    if (v.representation === 'full') o.put('groupInfo', (w) => GROUP_INFO.write(w, v.groupInfo));
    else o.put('partialGroupInfo', (w) => PARTIAL_GROUP_INFO.write(w, v.partialGroupInfo));
  },
);

export const encodeGroupInfoOption = (v: Fields<GroupInfoOption>): Uint8Array => encodeWith(GROUP_INFO_OPTION, v);
export const decodeGroupInfoOption = (b: Uint8Array): GroupInfoOption => decodeWith(GROUP_INFO_OPTION, b);

/** `contentType` is not on the wire: it restates the content type of `proposalOrCommit`. */
export type HandshakeBundle =
  | {
      proposalOrCommit: Uint8Array;
      contentType: 'commit';
      /** A bare Welcome struct (not an MLSMessage), without ratchet_tree. */
      welcome?: Welcome;
      groupInfoOption: GroupInfoOption;
      ratchetTreeOption: RatchetTreeOption;
    }
  | { proposalOrCommit: Uint8Array; contentType: 'proposal'; moreProposals: Uint8Array[] };

const HANDSHAKE = ['proposal', 'commit'] as const;

const HANDSHAKE_BUNDLE = struct<HandshakeBundle>(
  'HandshakeBundle',
  (s) => {
    const proposalOrCommit = s.get('proposalOrCommit', (r) => readMessage(r, HANDSHAKE));
    if (mimiMessageKind(proposalOrCommit) === 'commit') {
      const welcome = s.opt('welcome', WELCOME.read);
      const groupInfoOption = s.get('groupInfoOption', GROUP_INFO_OPTION.read);
      const ratchetTreeOption = s.get('ratchetTreeOption', RATCHET_TREE_OPTION.read);
      return welcome === undefined
        ? { proposalOrCommit, contentType: 'commit', groupInfoOption, ratchetTreeOption }
        : { proposalOrCommit, contentType: 'commit', welcome, groupInfoOption, ratchetTreeOption };
    }
    return { proposalOrCommit, contentType: 'proposal', moreProposals: s.list('moreProposals', (r) => readMessage(r, PROPOSAL)) };
  },
  (o, v) => {
    o.put('proposalOrCommit', putMessage(v.proposalOrCommit, [v.contentType]));
    if (v.contentType === 'commit') {
      o.opt('welcome', v.welcome, WELCOME.write);
      o.put('groupInfoOption', (w) => GROUP_INFO_OPTION.write(w, v.groupInfoOption));
      o.put('ratchetTreeOption', (w) => RATCHET_TREE_OPTION.write(w, v.ratchetTreeOption));
    } else if (v.contentType === 'proposal') {
      o.list('moreProposals', v.moreProposals, (w, m) => putMessage(m, PROPOSAL)(w));
    } else o.put('contentType', () => {
      throw new Bad(`must be 'proposal' or 'commit'`);
    });
  },
);

export const encodeHandshakeBundle = (v: Fields<HandshakeBundle>): Uint8Array => encodeWith(HANDSHAKE_BUNDLE, v);
export const decodeHandshakeBundle = (b: Uint8Array): HandshakeBundle => decodeWith(HANDSHAKE_BUNDLE, b);

/** `select (room.protocol) { case mls10: HandshakeBundle bundle; }`: on the wire, just the bundle. */
export interface UpdateRequest {
  bundle: HandshakeBundle;
}

const UPDATE_REQUEST = struct<UpdateRequest>(
  'UpdateRequest',
  (s) => ({ bundle: s.get('bundle', HANDSHAKE_BUNDLE.read) }),
  (o, v) => o.put('bundle', (w) => HANDSHAKE_BUNDLE.write(w, v.bundle)),
);

export const encodeUpdateRequest = (v: Fields<UpdateRequest>): Uint8Array => encodeWith(UPDATE_REQUEST, v);
export const decodeUpdateRequest = (b: Uint8Array): UpdateRequest => decodeWith(UPDATE_REQUEST, b);

export type UpdateRoomResponse = { errorDescription: string } & (
  | { responseCode: 'success'; /** hub acceptance time, ms since the UNIX epoch */ acceptedTimestamp: bigint }
  | { responseCode: 'wrongEpoch'; currentEpoch: bigint }
  | { responseCode: 'notAllowed' }
  | { responseCode: 'invalidProposal'; /** ProposalRefs */ invalidProposals: Uint8Array[] }
);

const UPDATE_ROOM_RESPONSE = struct<UpdateRoomResponse>(
  'UpdateRoomResponse',
  (s) => {
    const responseCode = s.enum('responseCode', UPDATE_CODE_E);
    const errorDescription = s.get('errorDescription', readText);
    switch (responseCode) {
      case 'success':
        return { responseCode, errorDescription, acceptedTimestamp: s.get('accepted_timestamp', (r) => r.u64()) };
      case 'wrongEpoch':
        return { responseCode, errorDescription, currentEpoch: s.get('currentEpoch', (r) => r.u64()) };
      case 'invalidProposal':
        return { responseCode, errorDescription, invalidProposals: s.list('invalidProposals', (r) => r.opaqueV()) };
      case 'notAllowed':
        return { responseCode, errorDescription };
    }
  },
  (o, v) => {
    o.enum('responseCode', UPDATE_CODE_E, v.responseCode);
    o.put('errorDescription', putText(v.errorDescription));
    if (v.responseCode === 'success') o.put('accepted_timestamp', putU64(v.acceptedTimestamp));
    else if (v.responseCode === 'wrongEpoch') o.put('currentEpoch', putU64(v.currentEpoch));
    else if (v.responseCode === 'invalidProposal') o.list('invalidProposals', v.invalidProposals, (w, p) => putOpaque(p)(w));
  },
);

export const encodeUpdateRoomResponse = (v: Fields<UpdateRoomResponse>): Uint8Array => encodeWith(UPDATE_ROOM_RESPONSE, v);
export const decodeUpdateRoomResponse = (b: Uint8Array): UpdateRoomResponse => decodeWith(UPDATE_ROOM_RESPONSE, b);

// ---------------------------------------------------------------------------------------------
// Submit a Message, franking

export interface SubmitMessageRequest {
  protocol: Protocol;
  /** MLSMessage: a PrivateMessage carrying an application message. */
  appMessage: Uint8Array;
  sendingUri: string;
}

const APPLICATION: readonly MessageKind[] = ['application'];

const SUBMIT_MESSAGE_REQUEST = struct<SubmitMessageRequest>(
  'SubmitMessageRequest',
  (s) => ({
    protocol: s.enum('protocol', PROTOCOL_E),
    appMessage: s.get('appMessage', (r) => readMessage(r, APPLICATION)),
    sendingUri: s.get('sendingUri', readUri),
  }),
  (o, v) => {
    o.enum('protocol', PROTOCOL_E, v.protocol);
    o.put('appMessage', putMessage(v.appMessage, APPLICATION));
    o.put('sendingUri', putUri(v.sendingUri));
  },
);

export const encodeSubmitMessageRequest = (v: Fields<SubmitMessageRequest>): Uint8Array => encodeWith(SUBMIT_MESSAGE_REQUEST, v);
export const decodeSubmitMessageRequest = (b: Uint8Array): SubmitMessageRequest => decodeWith(SUBMIT_MESSAGE_REQUEST, b);

export interface Frank {
  /** uint8 server_frank[32] */
  serverFrank: Uint8Array;
  frankingSignatureCiphersuite: number;
  frankingIntegritySignature: Uint8Array;
}

const FRANK = struct<Frank>(
  'Frank',
  (s) => ({
    serverFrank: s.get('server_frank', (r) => fixed(r, 32)),
    frankingSignatureCiphersuite: s.get('franking_signature_ciphersuite', (r) => r.u16()),
    frankingIntegritySignature: s.get('franking_integrity_signature', (r) => r.opaqueV()),
  }),
  (o, v) => {
    o.put('server_frank', putFixed(v.serverFrank, 32));
    o.put('franking_signature_ciphersuite', putU16(v.frankingSignatureCiphersuite));
    o.put('franking_integrity_signature', putOpaque(v.frankingIntegritySignature));
  },
);

export const encodeFrank = (v: Fields<Frank>): Uint8Array => encodeWith(FRANK, v);
export const decodeFrank = (b: Uint8Array): Frank => decodeWith(FRANK, b);

// ---------------------------------------------------------------------------------------------
// Report abuse (POST /reportAbuse/{roomId})

export interface AbusiveMessage {
  /** The allegedly abusive message content (e.g. a MIMI content message). */
  messageContent: Uint8Array;
  frank: Frank;
  acceptedTimestamp: bigint;
}

const ABUSIVE_MESSAGE = struct<AbusiveMessage>(
  'AbusiveMessage',
  (s) => ({
    messageContent: s.get('message_content', (r) => r.opaqueV()),
    frank: s.get('frank', FRANK.read),
    acceptedTimestamp: s.get('accepted_timestamp', (r) => r.u64()),
  }),
  (o, v) => {
    o.put('message_content', putOpaque(v.messageContent));
    o.put('frank', (w) => FRANK.write(w, v.frank));
    o.put('accepted_timestamp', putU64(v.acceptedTimestamp));
  },
);

/**
 * The draft's AbuseType enum has only reserved(0) and a TODO for a taxonomy: the code is carried
 * as the uint8 it is on the wire, 0 meaning "not given" (docs/decisions.md).
 */
export interface AbuseReport {
  reportingUser: string;
  allegedAbuserUri: string;
  reasonCode: number;
  /** UTF-8, may be empty. */
  note: string;
  messages: AbusiveMessage[];
  abuseExtensions: ComponentData[];
}

const ABUSE_REPORT = struct<AbuseReport>(
  'AbuseReport',
  (s) => ({
    reportingUser: s.get('reportingUser', readUri),
    allegedAbuserUri: s.get('allegedAbuserUri', readUri),
    reasonCode: s.get('reasonCode', (r) => r.u8()),
    note: s.get('note', (r) => readText(r, { keepBom: true })),
    messages: s.list('messages', ABUSIVE_MESSAGE.read),
    abuseExtensions: s.get('abuse_extensions', APP_DATA_DICTIONARY.read),
  }),
  (o, v) => {
    o.put('reportingUser', putUri(v.reportingUser));
    o.put('allegedAbuserUri', putUri(v.allegedAbuserUri));
    o.put('reasonCode', (w) => {
      if (!Number.isInteger(v.reasonCode) || v.reasonCode < 0 || v.reasonCode > 255) throw new Bad('must be an integer 0-255');
      w.u8(v.reasonCode);
    });
    o.put('note', putText(v.note));
    o.list('messages', v.messages, ABUSIVE_MESSAGE.write);
    o.put('abuse_extensions', (w) => APP_DATA_DICTIONARY.write(w, v.abuseExtensions));
  },
);

export const encodeAbuseReport = (v: Fields<AbuseReport>): Uint8Array => encodeWith(ABUSE_REPORT, v);
export const decodeAbuseReport = (b: Uint8Array): AbuseReport => decodeWith(ABUSE_REPORT, b);

export type SubmitMessageResponse = { protocol: Protocol } & (
  | { statusCode: 'success'; /** hub acceptance time, ms since the UNIX epoch */ acceptedTimestamp: bigint; frank?: Frank }
  | { statusCode: 'notAllowed' }
  | { statusCode: 'epochTooOld'; currentEpoch: bigint }
);

const SUBMIT_MESSAGE_RESPONSE = struct<SubmitMessageResponse>(
  'SubmitMessageResponse',
  (s) => {
    const protocol = s.enum('protocol', PROTOCOL_E);
    const statusCode = s.enum('statusCode', SUBMIT_CODE_E);
    switch (statusCode) {
      case 'success': {
        const acceptedTimestamp = s.get('accepted_timestamp', (r) => r.u64());
        const frank = s.opt('frank', FRANK.read);
        return frank === undefined ? { protocol, statusCode, acceptedTimestamp } : { protocol, statusCode, acceptedTimestamp, frank };
      }
      case 'epochTooOld':
        return { protocol, statusCode, currentEpoch: s.get('currentEpoch', (r) => r.u64()) };
      case 'notAllowed':
        return { protocol, statusCode };
    }
  },
  (o, v) => {
    o.enum('protocol', PROTOCOL_E, v.protocol);
    o.enum('statusCode', SUBMIT_CODE_E, v.statusCode);
    if (v.statusCode === 'success') {
      o.put('accepted_timestamp', putU64(v.acceptedTimestamp));
      o.opt('frank', v.frank, FRANK.write);
    } else if (v.statusCode === 'epochTooOld') o.put('currentEpoch', putU64(v.currentEpoch));
  },
);

export const encodeSubmitMessageResponse = (v: Fields<SubmitMessageResponse>): Uint8Array => encodeWith(SUBMIT_MESSAGE_RESPONSE, v);
export const decodeSubmitMessageResponse = (b: Uint8Array): SubmitMessageResponse => decodeWith(SUBMIT_MESSAGE_RESPONSE, b);

/** The frank_aad Safe AAD component. */
export interface FrankAAD {
  /** uint8 franking_tag[32] */
  frankingTag: Uint8Array;
}

const FRANK_AAD = struct<FrankAAD>(
  'FrankAAD',
  (s) => ({ frankingTag: s.get('franking_tag', (r) => fixed(r, 32)) }),
  (o, v) => o.put('franking_tag', putFixed(v.frankingTag, 32)),
);

export const encodeFrankAAD = (v: Fields<FrankAAD>): Uint8Array => encodeWith(FRANK_AAD, v);
export const decodeFrankAAD = (b: Uint8Array): FrankAAD => decodeWith(FRANK_AAD, b);

/** The franking_agent GroupContext component (also FrankingAgentUpdate). */
export interface FrankingAgentData {
  frankingSignatureKey: Uint8Array;
  credential: Credential;
}

const FRANKING_AGENT_DATA = struct<FrankingAgentData>(
  'FrankingAgentData',
  (s) => ({
    frankingSignatureKey: s.get('franking_signature_key', (r) => r.opaqueV()),
    credential: s.get('credential', CREDENTIAL.read),
  }),
  (o, v) => {
    o.put('franking_signature_key', putOpaque(v.frankingSignatureKey));
    o.put('credential', (w) => CREDENTIAL.write(w, v.credential));
  },
);

export const encodeFrankingAgentData = (v: Fields<FrankingAgentData>): Uint8Array => encodeWith(FRANKING_AGENT_DATA, v);
export const decodeFrankingAgentData = (b: Uint8Array): FrankingAgentData => decodeWith(FRANKING_AGENT_DATA, b);

export interface ServerFrankingContext {
  senderUri: string;
  roomUri: string;
  acceptedTimestamp: bigint;
}

const SERVER_FRANKING_CONTEXT = struct<ServerFrankingContext>(
  'ServerFrankingContext',
  (s) => ({
    senderUri: s.get('sender_uri', readUri),
    roomUri: s.get('room_uri', readUri),
    acceptedTimestamp: s.get('accepted_timestamp', (r) => r.u64()),
  }),
  (o, v) => {
    o.put('sender_uri', putUri(v.senderUri));
    o.put('room_uri', putUri(v.roomUri));
    o.put('accepted_timestamp', putU64(v.acceptedTimestamp));
  },
);

export const encodeServerFrankingContext = (v: Fields<ServerFrankingContext>): Uint8Array => encodeWith(SERVER_FRANKING_CONTEXT, v);
export const decodeServerFrankingContext = (b: Uint8Array): ServerFrankingContext => decodeWith(SERVER_FRANKING_CONTEXT, b);

/** Content of franking_integrity_signature (label "FrankingIntegrityTBS"). */
export interface FrankingIntegrityTBS {
  /** opaque server_frank[32] */
  serverFrank: Uint8Array;
  frankingSignatureCiphersuite: number;
  context: ServerFrankingContext;
}

const FRANKING_INTEGRITY_TBS = struct<FrankingIntegrityTBS>(
  'FrankingIntegrityTBS',
  (s) => ({
    serverFrank: s.get('server_frank', (r) => fixed(r, 32)),
    frankingSignatureCiphersuite: s.get('franking_signature_ciphersuite', (r) => r.u16()),
    context: s.get('context', SERVER_FRANKING_CONTEXT.read),
  }),
  (o, v) => {
    o.put('server_frank', putFixed(v.serverFrank, 32));
    o.put('franking_signature_ciphersuite', putU16(v.frankingSignatureCiphersuite));
    o.put('context', (w) => SERVER_FRANKING_CONTEXT.write(w, v.context));
  },
);

export const encodeFrankingIntegrityTBS = (v: Fields<FrankingIntegrityTBS>): Uint8Array => encodeWith(FRANKING_INTEGRITY_TBS, v);
export const decodeFrankingIntegrityTBS = (b: Uint8Array): FrankingIntegrityTBS => decodeWith(FRANKING_INTEGRITY_TBS, b);

// ---------------------------------------------------------------------------------------------
// Fanout (/notify)

export type FanoutMessage = { /** hub acceptance time, ms since the UNIX epoch */ timestamp: bigint; message: Uint8Array } & (
  | { kind: 'application'; frank?: Frank }
  | { kind: 'welcome'; ratchetTreeOption: RatchetTreeOption }
  | { kind: 'proposal'; moreProposals: Uint8Array[] }
  | { kind: 'commit'; /** hub proposals stapled to an external commit */ externalProposals: Uint8Array[] }
);

const FANOUT_KINDS: readonly MessageKind[] = ['application', 'welcome', 'proposal', 'commit'];

const FANOUT_MESSAGE = struct<FanoutMessage>(
  'FanoutMessage',
  (s) => {
    const timestamp = s.get('timestamp', (r) => r.u64());
    const message = s.get('message', (r) => readMessage(r, FANOUT_KINDS));
    switch (mimiMessageKind(message)) {
      case 'application': {
        const frank = s.opt('frank', FRANK.read);
        return frank === undefined ? { timestamp, message, kind: 'application' } : { timestamp, message, kind: 'application', frank };
      }
      case 'welcome':
        return { timestamp, message, kind: 'welcome', ratchetTreeOption: s.get('ratchetTreeOption', RATCHET_TREE_OPTION.read) };
      case 'proposal':
        return { timestamp, message, kind: 'proposal', moreProposals: s.list('moreProposals', (r) => readMessage(r, PROPOSAL)) };
      case 'commit':
        return { timestamp, message, kind: 'commit', externalProposals: s.list('externalProposals', (r) => readMessage(r, PROPOSAL)) };
    }
  },
  (o, v) => {
    o.put('timestamp', putU64(v.timestamp));
    if (!FANOUT_KINDS.includes(v.kind)) o.put('kind', () => {
      throw new Bad(`unknown message kind '${String(v.kind)}'`);
    });
    o.put('message', putMessage(v.message, [v.kind]));
    switch (v.kind) {
      case 'application':
        return o.opt('frank', v.frank, FRANK.write);
      case 'welcome':
        return o.put('ratchetTreeOption', (w) => RATCHET_TREE_OPTION.write(w, v.ratchetTreeOption));
      case 'proposal':
        return o.list('moreProposals', v.moreProposals, (w, m) => putMessage(m, PROPOSAL)(w));
      case 'commit':
        return o.list('externalProposals', v.externalProposals, (w, m) => putMessage(m, PROPOSAL)(w));
    }
  },
);

export const encodeFanoutMessage = (v: Fields<FanoutMessage>): Uint8Array => encodeWith(FANOUT_MESSAGE, v);
export const decodeFanoutMessage = (b: Uint8Array): FanoutMessage => decodeWith(FANOUT_MESSAGE, b);

const FANOUT_LIST = 'FanoutMessageList';

/** A /notify body: one or more FanoutMessages for the same room, concatenated without a prefix. */
export function encodeFanoutList(messages: readonly Fields<FanoutMessage>[]): Uint8Array {
  if (!Array.isArray(messages) || messages.length === 0) throw new MimiWireError(FANOUT_LIST, 'messages', 'must be a non-empty array');
  const w = new TlsWriter();
  messages.forEach((m, i) => {
    try {
      FANOUT_MESSAGE.write(w, m);
    } catch (e) {
      throw nest(e, FANOUT_LIST, `messages[${i}]`);
    }
  });
  return w.finish();
}

export function decodeFanoutList(body: Uint8Array): FanoutMessage[] {
  return decodeFanoutListRaw(body).map((m) => m.message);
}

/** decodeFanoutList, with each message's own bytes (followers deduplicate byte-exactly). */
export function decodeFanoutListRaw(body: Uint8Array): { message: FanoutMessage; raw: Uint8Array }[] {
  if (!(body instanceof Uint8Array)) throw new MimiWireError(FANOUT_LIST, '(input)', 'must be a Uint8Array');
  if (body.length === 0) throw new MimiWireError(FANOUT_LIST, 'messages', 'empty body: at least one FanoutMessage is required');
  const r = new StructReader(body);
  const out: { message: FanoutMessage; raw: Uint8Array }[] = [];
  while (r.remaining > 0) {
    const start = r.offset;
    try {
      const message = FANOUT_MESSAGE.read(r);
      out.push({ message, raw: r.rawSince(start) });
    } catch (e) {
      throw nest(e, FANOUT_LIST, `messages[${out.length}]`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Claim group key information

export interface GroupInfoRequestTBS {
  protocol: Protocol;
  cipherSuite: number;
  requestingSignatureKey: Uint8Array;
  requestingCredential: Credential;
  groupInfoPublicKey: Uint8Array;
  /** optional<opaque joiningCode<V>> in both the TBS and the request (draft slip, see header). */
  joiningCode?: Uint8Array;
}

export interface GroupInfoRequest extends GroupInfoRequestTBS {
  /** SignWithLabel(requestingSignatureKey, "GroupInfoRequestTBS", GroupInfoRequestTBS) */
  signature: Uint8Array;
}

function readGirTbs(s: In): GroupInfoRequestTBS {
  const tbs: GroupInfoRequestTBS = {
    protocol: s.enum('protocol', PROTOCOL_E),
    cipherSuite: s.get('cipher_suite', (r) => r.u16()),
    requestingSignatureKey: s.get('requestingSignatureKey', (r) => r.opaqueV()),
    requestingCredential: s.get('requestingCredential', CREDENTIAL.read),
    groupInfoPublicKey: s.get('groupInfoPublicKey', (r) => r.opaqueV()),
  };
  const joiningCode = s.opt('joiningCode', (r) => r.opaqueV());
  if (joiningCode !== undefined) tbs.joiningCode = joiningCode;
  return tbs;
}

function writeGirTbs(o: Out, v: Fields<GroupInfoRequestTBS>): void {
  o.enum('protocol', PROTOCOL_E, v.protocol);
  o.put('cipher_suite', putU16(v.cipherSuite));
  o.put('requestingSignatureKey', putOpaque(v.requestingSignatureKey));
  o.put('requestingCredential', (w) => CREDENTIAL.write(w, v.requestingCredential));
  o.put('groupInfoPublicKey', putOpaque(v.groupInfoPublicKey));
  o.opt('joiningCode', v.joiningCode, (w, c) => putOpaque(c)(w));
}

const GROUP_INFO_REQUEST_TBS = struct<GroupInfoRequestTBS>('GroupInfoRequestTBS', readGirTbs, writeGirTbs);

const GROUP_INFO_REQUEST = struct<GroupInfoRequest>(
  'GroupInfoRequest',
  (s) => ({ ...readGirTbs(s), signature: s.get('signature', (r) => r.opaqueV()) }),
  (o, v) => {
    writeGirTbs(o, v);
    o.put('signature', putOpaque(v.signature));
  },
);

export const encodeGroupInfoRequestTBS = (v: Fields<GroupInfoRequestTBS>): Uint8Array => encodeWith(GROUP_INFO_REQUEST_TBS, v);
export const decodeGroupInfoRequestTBS = (b: Uint8Array): GroupInfoRequestTBS => decodeWith(GROUP_INFO_REQUEST_TBS, b);
export const encodeGroupInfoRequest = (v: Fields<GroupInfoRequest>): Uint8Array => encodeWith(GROUP_INFO_REQUEST, v);
export const decodeGroupInfoRequest = (b: Uint8Array): GroupInfoRequest => decodeWith(GROUP_INFO_REQUEST, b);

/** The bytes a GroupInfoRequest signature covers (label "GroupInfoRequestTBS"). */
export function groupInfoRequestTbs(req: Fields<GroupInfoRequestTBS>): Uint8Array {
  return encodeGroupInfoRequestTBS(req);
}

export interface PendingProposal {
  /** MLSMessage carrying a proposal. */
  proposal: Uint8Array;
  hubAcceptedTime: bigint;
}

const PENDING_PROPOSAL = struct<PendingProposal>(
  'PendingProposal',
  (s) => ({
    proposal: s.get('proposal', (r) => readMessage(r, PROPOSAL)),
    hubAcceptedTime: s.get('hub_accepted_time', (r) => r.u64()),
  }),
  (o, v) => {
    o.put('proposal', putMessage(v.proposal, PROPOSAL));
    o.put('hub_accepted_time', putU64(v.hubAcceptedTime));
  },
);

export const encodePendingProposal = (v: Fields<PendingProposal>): Uint8Array => encodeWith(PENDING_PROPOSAL, v);
export const decodePendingProposal = (b: Uint8Array): PendingProposal => decodeWith(PENDING_PROPOSAL, b);

/** Plaintext of encrypted_groupinfo_and_tree (EncryptWithLabel "GroupInfo and ratchet_tree encryption", context room_id). */
export interface GroupInfoRatchetTreeTBE {
  /** A bare GroupInfo struct, without an embedded ratchet_tree. */
  groupInfo: GroupInfo;
  ratchetTreeOption: RatchetTreeOption;
  pendingProposals: PendingProposal[];
}

const GROUP_INFO_RATCHET_TREE_TBE = struct<GroupInfoRatchetTreeTBE>(
  'GroupInfoRatchetTreeTBE',
  (s) => ({
    groupInfo: s.get('groupInfo', GROUP_INFO.read),
    ratchetTreeOption: s.get('ratchetTreeOption', RATCHET_TREE_OPTION.read),
    pendingProposals: s.list('pending_proposals', PENDING_PROPOSAL.read),
  }),
  (o, v) => {
    o.put('groupInfo', (w) => GROUP_INFO.write(w, v.groupInfo));
    o.put('ratchetTreeOption', (w) => RATCHET_TREE_OPTION.write(w, v.ratchetTreeOption));
    o.list('pending_proposals', v.pendingProposals, PENDING_PROPOSAL.write);
  },
);

export const encodeGroupInfoRatchetTreeTBE = (v: Fields<GroupInfoRatchetTreeTBE>): Uint8Array =>
  encodeWith(GROUP_INFO_RATCHET_TREE_TBE, v);
export const decodeGroupInfoRatchetTreeTBE = (b: Uint8Array): GroupInfoRatchetTreeTBE => decodeWith(GROUP_INFO_RATCHET_TREE_TBE, b);

/** The EncryptWithLabel label for GroupInfoRatchetTreeTBE. */
export const GROUP_INFO_TBE_LABEL = 'GroupInfo and ratchet_tree encryption';

export interface GroupInfoResponseTBS {
  /** The draft names this field `version`; its type is Protocol. */
  protocol: Protocol;
  roomId: string;
  status: GroupInfoCode;
  cipherSuite: number;
  hubSender: ExternalSender;
  encryptedGroupInfoAndTree: HPKECiphertext;
}

export type GroupInfoResponse = { protocol: Protocol; roomId: string } & (
  | {
      status: 'success';
      cipherSuite: number;
      hubSender: ExternalSender;
      encryptedGroupInfoAndTree: HPKECiphertext;
      /** SignWithLabel(hub_sender.signature_key, "GroupInfoResponseTBS", GroupInfoResponseTBS) */
      signature: Uint8Array;
    }
  | { status: 'notAuthorized' }
  | { status: 'noSuchRoom' }
);

type GirMls10 = Pick<GroupInfoResponseTBS, 'cipherSuite' | 'hubSender' | 'encryptedGroupInfoAndTree'>;

function readGirMls10(s: In): GirMls10 {
  return {
    cipherSuite: s.get('cipher_suite', (r) => r.u16()),
    hubSender: s.get('hub_sender', EXTERNAL_SENDER.read),
    encryptedGroupInfoAndTree: s.get('encrypted_groupinfo_and_tree', readHpkeCiphertext),
  };
}

function writeGirMls10(o: Out, v: Fields<GirMls10>): void {
  o.put('cipher_suite', putU16(v.cipherSuite));
  o.put('hub_sender', (w) => EXTERNAL_SENDER.write(w, v.hubSender));
  o.put('encrypted_groupinfo_and_tree', (w) => {
    if (!isObject(v.encryptedGroupInfoAndTree)) throw new Bad('must be an object');
    writeHpkeCiphertext(w, v.encryptedGroupInfoAndTree);
  });
}

const GROUP_INFO_RESPONSE_TBS = struct<GroupInfoResponseTBS>(
  'GroupInfoResponseTBS',
  (s) => ({
    protocol: s.enum('version', PROTOCOL_E),
    roomId: s.get('room_id', readText),
    status: s.enum('status', GI_CODE_E),
    ...readGirMls10(s),
  }),
  (o, v) => {
    o.enum('version', PROTOCOL_E, v.protocol);
    o.put('room_id', putText(v.roomId));
    o.enum('status', GI_CODE_E, v.status);
    writeGirMls10(o, v);
  },
);

const GROUP_INFO_RESPONSE = struct<GroupInfoResponse>(
  'GroupInfoResponse',
  (s) => {
    const protocol = s.enum('version', PROTOCOL_E);
    const roomId = s.get('room_id', readText);
    const status = s.enum('status', GI_CODE_E);
    if (status !== 'success') return { protocol, roomId, status };
    return { protocol, roomId, status, ...readGirMls10(s), signature: s.get('signature', (r) => r.opaqueV()) };
  },
  (o, v) => {
    o.enum('version', PROTOCOL_E, v.protocol);
    o.put('room_id', putText(v.roomId));
    o.enum('status', GI_CODE_E, v.status);
    if (v.status === 'success') {
      writeGirMls10(o, v);
      o.put('signature', putOpaque(v.signature));
    }
  },
);

export const encodeGroupInfoResponseTBS = (v: Fields<GroupInfoResponseTBS>): Uint8Array => encodeWith(GROUP_INFO_RESPONSE_TBS, v);
export const decodeGroupInfoResponseTBS = (b: Uint8Array): GroupInfoResponseTBS => decodeWith(GROUP_INFO_RESPONSE_TBS, b);
export const encodeGroupInfoResponse = (v: Fields<GroupInfoResponse>): Uint8Array => encodeWith(GROUP_INFO_RESPONSE, v);
export const decodeGroupInfoResponse = (b: Uint8Array): GroupInfoResponse => decodeWith(GROUP_INFO_RESPONSE, b);

/** The bytes the signature of a successful GroupInfoResponse covers (label "GroupInfoResponseTBS"). */
export function groupInfoResponseTbs(resp: Fields<GroupInfoResponse>): Uint8Array {
  if (!isObject(resp) || resp.status !== 'success') {
    throw new MimiWireError('GroupInfoResponseTBS', 'status', 'only a successful GroupInfoResponse is signed');
  }
  return encodeGroupInfoResponseTBS(resp);
}

// ---------------------------------------------------------------------------------------------
// Convey explicit consent

/** draft-ietf-mls-extensions ComponentData; an AppDataDictionary is a sorted list of them. */
export interface ComponentData {
  componentId: number;
  data: Uint8Array;
}

function checkSorted(entries: readonly { componentId: number }[]): void {
  for (let i = 1; i < entries.length; i++) {
    if (!(entries[i].componentId > entries[i - 1].componentId)) {
      throw new Bad('component_data must be sorted by component_id with no duplicates');
    }
  }
}

const APP_DATA_DICTIONARY: Codec<ComponentData[]> = {
  name: 'AppDataDictionary',
  read(r) {
    const s = new In(r, 'AppDataDictionary');
    const entries = s.list('component_data', (x) => ({ componentId: x.u16(), data: x.opaqueV() }));
    s.get('component_data', () => checkSorted(entries));
    return entries;
  },
  write(w, v) {
    const o = new Out(w, 'AppDataDictionary');
    o.list('component_data', v, (x, e) => {
      if (!isObject(e)) throw new Bad('must be an object');
      x.u16(e.componentId);
      putOpaque(e.data)(x);
    });
    o.put('component_data', () => checkSorted(v));
  },
};

export const encodeAppDataDictionary = (v: ComponentData[]): Uint8Array => encodeWith(APP_DATA_DICTIONARY, v);
export const decodeAppDataDictionary = (b: Uint8Array): ComponentData[] => decodeWith(APP_DATA_DICTIONARY, b);

export type ConsentEntry = {
  requesterUri: string;
  targetUri: string;
  /** RoomId: not defined by the draft; carried as an IdentifierUri. */
  roomId?: string;
  /** AppDataDictionary consent_extensions */
  consentExtensions: ComponentData[];
} & ({ consentOperation: 'cancel' | 'request' | 'revoke' } | { consentOperation: 'grant'; clientKeyPackages: KeyPackage[] });

const CONSENT_ENTRY = struct<ConsentEntry>(
  'ConsentEntry',
  (s) => {
    const consentOperation = s.enum('consentOperation', CONSENT_OP_E);
    const requesterUri = s.get('requesterUri', readUri);
    const targetUri = s.get('targetUri', readUri);
    const roomId = s.opt('roomId', readUri);
    const clientKeyPackages = consentOperation === 'grant' ? s.list('clientKeyPackages', KEY_PACKAGE.read) : undefined;
    const consentExtensions = s.get('consent_extensions', APP_DATA_DICTIONARY.read);
    const scope = roomId === undefined ? { requesterUri, targetUri } : { requesterUri, targetUri, roomId };
    return consentOperation === 'grant'
      ? { consentOperation, ...scope, clientKeyPackages: clientKeyPackages!, consentExtensions }
      : { consentOperation, ...scope, consentExtensions };
  },
  (o, v) => {
    o.enum('consentOperation', CONSENT_OP_E, v.consentOperation);
    o.put('requesterUri', putUri(v.requesterUri));
    o.put('targetUri', putUri(v.targetUri));
    o.opt('roomId', v.roomId, (w, id) => putUri(id)(w));
    if (v.consentOperation === 'grant') o.list('clientKeyPackages', v.clientKeyPackages, KEY_PACKAGE.write);
    o.put('consent_extensions', (w) => APP_DATA_DICTIONARY.write(w, v.consentExtensions));
  },
);

export const encodeConsentEntry = (v: Fields<ConsentEntry>): Uint8Array => encodeWith(CONSENT_ENTRY, v);
export const decodeConsentEntry = (b: Uint8Array): ConsentEntry => decodeWith(CONSENT_ENTRY, b);

export interface ConsentScope {
  requesterUri: string;
  targetUri: string;
  roomId?: string;
}

const CONSENT_SCOPE = struct<ConsentScope>(
  'ConsentScope',
  (s) => {
    const requesterUri = s.get('requesterUri', readUri);
    const targetUri = s.get('targetUri', readUri);
    const roomId = s.opt('roomId', readUri);
    return roomId === undefined ? { requesterUri, targetUri } : { requesterUri, targetUri, roomId };
  },
  (o, v) => {
    o.put('requesterUri', putUri(v.requesterUri));
    o.put('targetUri', putUri(v.targetUri));
    o.opt('roomId', v.roomId, (w, id) => putUri(id)(w));
  },
);

export const encodeConsentScope = (v: Fields<ConsentScope>): Uint8Array => encodeWith(CONSENT_SCOPE, v);
export const decodeConsentScope = (b: Uint8Array): ConsentScope => decodeWith(CONSENT_SCOPE, b);

// ---------------------------------------------------------------------------------------------
// Find internal address (POST /identifierQuery/{domain})

export const SEARCH_IDENTIFIER_TYPE = {
  handle: 1,
  nick: 2,
  email: 3,
  phone: 4,
  partialName: 5,
  wholeProfile: 6,
  oidcStdClaim: 7,
  vcardField: 8,
} as const;
/** `reserved(0)` is not a value a request may carry; it fails to decode like any unknown value. */
export type SearchIdentifierType = keyof typeof SEARCH_IDENTIFIER_TYPE;

export const IDENTIFIER_QUERY_CODE = { success: 0, notFound: 1, ambiguous: 2, forbidden: 3, unsupportedField: 4 } as const;
export type IdentifierQueryCode = keyof typeof IDENTIFIER_QUERY_CODE;

export const FIELD_SOURCE = { oidcStdClaim: 7, vcardField: 8 } as const;
export type FieldSource = keyof typeof FIELD_SOURCE;

const SEARCH_TYPE_E = enumDef<SearchIdentifierType>('SearchIdentifierType', SEARCH_IDENTIFIER_TYPE);
const QUERY_CODE_E = enumDef<IdentifierQueryCode>('IdentifierQueryCode', IDENTIFIER_QUERY_CODE);
const FIELD_SOURCE_E = enumDef<FieldSource>('FieldSource', FIELD_SOURCE);

/** The draft selects on `type`; the field is `searchType`. `claimName` / `propertyName` are UTF-8 names. */
export type QueryElement =
  | { searchType: Exclude<SearchIdentifierType, 'oidcStdClaim' | 'vcardField'>; searchValue: string }
  | { searchType: 'oidcStdClaim'; claimName: string; searchValue: string }
  | { searchType: 'vcardField'; propertyName: string; searchValue: string };

const QUERY_ELEMENT = struct<QueryElement>(
  'QueryElement',
  (s) => {
    const searchType = s.enum('searchType', SEARCH_TYPE_E);
    if (searchType === 'oidcStdClaim') {
      const claimName = s.get('claimName', readText);
      return { searchType, claimName, searchValue: s.get('searchValue', readText) };
    }
    if (searchType === 'vcardField') {
      const propertyName = s.get('propertyName', readText);
      return { searchType, propertyName, searchValue: s.get('searchValue', readText) };
    }
    return { searchType, searchValue: s.get('searchValue', readText) };
  },
  (o, v) => {
    o.enum('searchType', SEARCH_TYPE_E, v.searchType);
    if (v.searchType === 'oidcStdClaim') o.put('claimName', putText(v.claimName));
    else if (v.searchType === 'vcardField') o.put('propertyName', putText(v.propertyName));
    o.put('searchValue', putText(v.searchValue));
  },
);

export const encodeQueryElement = (v: Fields<QueryElement>): Uint8Array => encodeWith(QUERY_ELEMENT, v);
export const decodeQueryElement = (b: Uint8Array): QueryElement => decodeWith(QUERY_ELEMENT, b);

export interface IdentifierRequest {
  queryElements: QueryElement[];
  /** AppDataDictionary id_request_extensions */
  idRequestExtensions: ComponentData[];
}

const IDENTIFIER_REQUEST = struct<IdentifierRequest>(
  'IdentifierRequest',
  (s) => ({
    queryElements: s.list('query_elements', QUERY_ELEMENT.read),
    idRequestExtensions: s.get('id_request_extensions', APP_DATA_DICTIONARY.read),
  }),
  (o, v) => {
    o.list('query_elements', v.queryElements, QUERY_ELEMENT.write);
    o.put('id_request_extensions', (w) => APP_DATA_DICTIONARY.write(w, v.idRequestExtensions));
  },
);

export const encodeIdentifierRequest = (v: Fields<IdentifierRequest>): Uint8Array => encodeWith(IDENTIFIER_REQUEST, v);
export const decodeIdentifierRequest = (b: Uint8Array): IdentifierRequest => decodeWith(IDENTIFIER_REQUEST, b);

export interface ProfileField {
  fieldSource: FieldSource;
  /** e.g. an OIDC claim name (`email`, `phone_number`, `nickname`, `name`, `preferred_username`). */
  fieldName: string;
  fieldValue: Uint8Array;
}

const PROFILE_FIELD = struct<ProfileField>(
  'ProfileField',
  (s) => ({
    fieldSource: s.enum('fieldSource', FIELD_SOURCE_E),
    fieldName: s.get('fieldName', readText),
    fieldValue: s.get('fieldValue', (r) => r.opaqueV()),
  }),
  (o, v) => {
    o.enum('fieldSource', FIELD_SOURCE_E, v.fieldSource);
    o.put('fieldName', putText(v.fieldName));
    o.put('fieldValue', putOpaque(v.fieldValue));
  },
);

export interface UserProfile {
  stableUri: string;
  fields: ProfileField[];
}

const USER_PROFILE = struct<UserProfile>(
  'UserProfile',
  (s) => ({ stableUri: s.get('stableUri', readUri), fields: s.list('fields', PROFILE_FIELD.read) }),
  (o, v) => {
    o.put('stableUri', putUri(v.stableUri));
    o.list('fields', v.fields, PROFILE_FIELD.write);
  },
);

export const encodeUserProfile = (v: Fields<UserProfile>): Uint8Array => encodeWith(USER_PROFILE, v);
export const decodeUserProfile = (b: Uint8Array): UserProfile => decodeWith(USER_PROFILE, b);

export interface IdentifierResponse {
  responseCode: IdentifierQueryCode;
  uri: string[];
  foundProfiles: UserProfile[];
  /** AppDataDictionary id_response_extensions */
  idResponseExtensions: ComponentData[];
}

const IDENTIFIER_RESPONSE = struct<IdentifierResponse>(
  'IdentifierResponse',
  (s) => ({
    responseCode: s.enum('responseCode', QUERY_CODE_E),
    uri: s.list('uri', readUri),
    foundProfiles: s.list('foundProfiles', USER_PROFILE.read),
    idResponseExtensions: s.get('id_response_extensions', APP_DATA_DICTIONARY.read),
  }),
  (o, v) => {
    o.enum('responseCode', QUERY_CODE_E, v.responseCode);
    o.list('uri', v.uri, (w, u) => putUri(u)(w));
    o.list('foundProfiles', v.foundProfiles, USER_PROFILE.write);
    o.put('id_response_extensions', (w) => APP_DATA_DICTIONARY.write(w, v.idResponseExtensions));
  },
);

export const encodeIdentifierResponse = (v: Fields<IdentifierResponse>): Uint8Array => encodeWith(IDENTIFIER_RESPONSE, v);
export const decodeIdentifierResponse = (b: Uint8Array): IdentifierResponse => decodeWith(IDENTIFIER_RESPONSE, b);

// PROJECT EXTENSION, not in draft-ietf-mimi-protocol-06: paging of identifier query results, as
// components of id_request_extensions / id_response_extensions (MLS component IDs 0x8000-0xFFFF
// are for private use, draft-ietf-mls-extensions). `cursor` is opaque to the requester: it sends
// back the `nextCursor` of the previous page; an empty `nextCursor` (or no component) means the
// last page. A provider that does not know the components ignores them and answers one page.

export const ID_PAGE_REQUEST_COMPONENT_ID = 0xf0d1;
export const ID_PAGE_RESPONSE_COMPONENT_ID = 0xf0d2;

export interface IdentifierPageRequest {
  /** Empty for the first page. */
  cursor: Uint8Array;
  /** Results wanted on this page (the provider may return fewer). */
  limit: number;
}

export interface IdentifierPageResponse {
  nextCursor: Uint8Array;
}

const IDENTIFIER_PAGE_REQUEST = struct<IdentifierPageRequest>(
  'IdentifierPageRequest',
  (s) => ({ cursor: s.get('cursor', (r) => r.opaqueV()), limit: s.get('limit', (r) => r.u16()) }),
  (o, v) => {
    o.put('cursor', putOpaque(v.cursor));
    o.put('limit', putU16(v.limit));
  },
);

const IDENTIFIER_PAGE_RESPONSE = struct<IdentifierPageResponse>(
  'IdentifierPageResponse',
  (s) => ({ nextCursor: s.get('nextCursor', (r) => r.opaqueV()) }),
  (o, v) => o.put('nextCursor', putOpaque(v.nextCursor)),
);

export const encodeIdentifierPageRequest = (v: Fields<IdentifierPageRequest>): Uint8Array => encodeWith(IDENTIFIER_PAGE_REQUEST, v);
export const decodeIdentifierPageRequest = (b: Uint8Array): IdentifierPageRequest => decodeWith(IDENTIFIER_PAGE_REQUEST, b);
export const encodeIdentifierPageResponse = (v: Fields<IdentifierPageResponse>): Uint8Array => encodeWith(IDENTIFIER_PAGE_RESPONSE, v);
export const decodeIdentifierPageResponse = (b: Uint8Array): IdentifierPageResponse => decodeWith(IDENTIFIER_PAGE_RESPONSE, b);
