// RFC 9420 structures a provider reads or passes through without group keys: credentials,
// KeyPackages, LeafNodes, the ratchet tree, GroupInfo, Welcome, and the MLSMessage framing.
//
// Every decoded structure keeps `raw`, the exact bytes it was parsed from. Providers embed MLS
// objects in MIMI bodies and forward them; signatures and hashes cover the original bytes, so
// forwarding `raw` is byte-exact by construction. The `encodeX` functions build the encoding from
// the parsed fields (they ignore `raw`); the tests check that both agree for real ts-mls output.
//
// Readers consume exactly one structure and leave the reader after it, so a structure embedded
// without a length prefix (a KeyPackage inside a MIMI response, an MLSMessage inside a
// HandshakeBundle) can be delimited. Errors are MlsWireError, never a RangeError.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, fromUtf8, utf8 } from './bytes.js';
import { guarded, MLS10, MlsWireError, type WireFormat } from './mls-wire.js';
import {
  PSEUDONYMOUS_CREDENTIAL_TYPE,
  readPseudonymousCredential,
  writePseudonymousCredential,
  type PseudonymousCredential,
} from './pseudonymous-credential.js';
import { TlsError, TlsReader, TlsWriter } from './tls.js';

// ---------------------------------------------------------------------------------------------
// Reader that can hand back the bytes a structure was parsed from

/**
 * A TlsReader that remembers its source, so a parser can capture the raw bytes of what it read.
 * Vector bodies are parsed by nested StructReaders (over a copy of the body), never past it.
 */
export class StructReader extends TlsReader {
  constructor(
    private readonly source: Uint8Array,
    start = 0,
    end = source.length,
  ) {
    super(source, start, end);
  }

  /** The bytes consumed since `start` (a value previously read from `offset`). */
  rawSince(start: number): Uint8Array {
    return this.source.slice(start, this.offset);
  }

  /** `T items<V>`: every item must end exactly at the end of the declared length. */
  list<T>(readItem: (r: StructReader) => T): T[] {
    return this.readItems(new StructReader(this.opaqueV()), readItem);
  }

  /** `optional<T>` */
  opt<T>(read: (r: StructReader) => T): T | undefined {
    const present = this.u8();
    if (present === 0) return undefined;
    if (present !== 1) throw new TlsError(`invalid optional presence octet ${present}`);
    return read(this);
  }

  /** Runs `read`, returning its value with the exact bytes it consumed. */
  withRaw<T extends object>(read: (r: StructReader) => T): T & { raw: Uint8Array } {
    const start = this.offset;
    const value = read(this);
    return Object.assign(value, { raw: this.rawSince(start) });
  }
}

/** The parsed fields of a decoded structure: the same shape with every `raw` removed. */
export type Fields<T> = T extends Uint8Array
  ? T
  : T extends readonly (infer U)[]
    ? Fields<U>[]
    : T extends bigint | number | string | boolean | null | undefined
      ? T
      : { [K in keyof T as K extends 'raw' ? never : K]: Fields<T[K]> };

interface Raw {
  /** The exact encoding this value was decoded from. */
  raw: Uint8Array;
}

/** Decodes one complete structure: trailing bytes are an error. */
function decodeAll<T>(what: string, bytes: Uint8Array, read: (r: StructReader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new MlsWireError(`${what}: input must be a Uint8Array`);
  return guarded(what, () => {
    const r = new StructReader(bytes);
    const value = read(r);
    r.done();
    return value;
  });
}

function encodeWith<T>(what: string, value: T, write: (w: TlsWriter, v: T) => void): Uint8Array {
  return guarded(what, () => {
    const w = new TlsWriter();
    write(w, value);
    return w.finish();
  });
}

function checkBytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new MlsWireError(`${what} must be a Uint8Array`);
  return v;
}

function opaque(w: TlsWriter, v: unknown, what: string): void {
  w.opaqueV(checkBytes(v, what));
}

function u16List(w: TlsWriter, items: readonly number[], what: string): void {
  if (!Array.isArray(items)) throw new MlsWireError(`${what} must be an array`);
  w.vector(items, (x, n) => x.u16(n));
}

const readU16List = (r: StructReader): number[] => r.list((s) => s.u16());

function enumName<T extends string>(table: Record<number, T>, value: number, what: string): T {
  const name = table[value];
  if (name === undefined) throw new MlsWireError(`unknown ${what} ${value}`);
  return name;
}

function enumValue<T extends string>(table: Record<T, number>, name: T, what: string): number {
  const v = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (v === undefined) throw new MlsWireError(`unknown ${what} '${String(name)}'`);
  return v;
}

function invert<T extends string>(table: Record<T, number>): Record<number, T> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k])) as Record<number, T>;
}

// ---------------------------------------------------------------------------------------------
// Credential (RFC 9420 5.3)

/**
 * RFC 9420's credential types, plus our private-use PseudonymousCredential (pseudonymous-credential.ts,
 * draft-ietf-mimi-protocol-06 "Minimal metadata rooms"), whose content follows credential_type with
 * no length prefix of its own.
 */
export const CREDENTIAL_TYPES = { basic: 1, x509: 2, pseudonymous: PSEUDONYMOUS_CREDENTIAL_TYPE } as const;
export type CredentialType = keyof typeof CREDENTIAL_TYPES;
const CREDENTIAL_NAMES = invert(CREDENTIAL_TYPES);

export type Credential = Raw &
  (
    | { credentialType: 'basic'; identity: Uint8Array }
    | { credentialType: 'x509'; certificates: Uint8Array[] }
    | ({ credentialType: 'pseudonymous' } & PseudonymousCredential)
  );

export function readCredential(r: StructReader): Credential {
  return r.withRaw((s): Fields<Credential> => {
    const type = enumName(CREDENTIAL_NAMES, s.u16(), 'credential_type');
    if (type === 'basic') return { credentialType: 'basic', identity: s.opaqueV() };
    if (type === 'pseudonymous') return { credentialType: 'pseudonymous', ...readPseudonymousCredential(s) };
    return { credentialType: 'x509', certificates: s.list((c) => c.opaqueV()) };
  });
}

export function writeCredential(w: TlsWriter, c: Fields<Credential>): void {
  w.u16(enumValue(CREDENTIAL_TYPES, c.credentialType, 'credential_type'));
  if (c.credentialType === 'basic') opaque(w, c.identity, 'Credential.identity');
  else if (c.credentialType === 'pseudonymous') writePseudonymousCredential(w, c);
  else {
    if (!Array.isArray(c.certificates)) throw new MlsWireError('Credential.certificates must be an array');
    w.vector(c.certificates, (x, cert) => opaque(x, cert, 'Credential.certificates[]'));
  }
}

export const decodeCredential = (b: Uint8Array): Credential => decodeAll('Credential', b, readCredential);
export const encodeCredential = (c: Fields<Credential>): Uint8Array => encodeWith('Credential', c, writeCredential);

/** A basic credential whose identity is the UTF-8 of `identity` (our device URIs). */
export function basicCredential(identity: string): Credential {
  return decodeCredential(encodeCredential({ credentialType: 'basic', identity: utf8(identity) }));
}

// ---------------------------------------------------------------------------------------------
// Capabilities, RequiredCapabilities, Extension, Lifetime (RFC 9420 7.2, 11.1, 7.2, 7.2)

export interface Capabilities extends Raw {
  versions: number[];
  cipherSuites: number[];
  extensions: number[];
  proposals: number[];
  credentials: number[];
}

export function readCapabilities(r: StructReader): Capabilities {
  return r.withRaw((s) => ({
    versions: readU16List(s),
    cipherSuites: readU16List(s),
    extensions: readU16List(s),
    proposals: readU16List(s),
    credentials: readU16List(s),
  }));
}

export function writeCapabilities(w: TlsWriter, c: Fields<Capabilities>): void {
  u16List(w, c.versions, 'Capabilities.versions');
  u16List(w, c.cipherSuites, 'Capabilities.cipher_suites');
  u16List(w, c.extensions, 'Capabilities.extensions');
  u16List(w, c.proposals, 'Capabilities.proposals');
  u16List(w, c.credentials, 'Capabilities.credentials');
}

export const decodeCapabilities = (b: Uint8Array): Capabilities => decodeAll('Capabilities', b, readCapabilities);
export const encodeCapabilities = (c: Fields<Capabilities>): Uint8Array => encodeWith('Capabilities', c, writeCapabilities);

export interface RequiredCapabilities extends Raw {
  extensionTypes: number[];
  proposalTypes: number[];
  credentialTypes: number[];
}

export function readRequiredCapabilities(r: StructReader): RequiredCapabilities {
  return r.withRaw((s) => ({ extensionTypes: readU16List(s), proposalTypes: readU16List(s), credentialTypes: readU16List(s) }));
}

export function writeRequiredCapabilities(w: TlsWriter, c: Fields<RequiredCapabilities>): void {
  u16List(w, c.extensionTypes, 'RequiredCapabilities.extension_types');
  u16List(w, c.proposalTypes, 'RequiredCapabilities.proposal_types');
  u16List(w, c.credentialTypes, 'RequiredCapabilities.credential_types');
}

export const decodeRequiredCapabilities = (b: Uint8Array): RequiredCapabilities =>
  decodeAll('RequiredCapabilities', b, readRequiredCapabilities);
export const encodeRequiredCapabilities = (c: Fields<RequiredCapabilities>): Uint8Array =>
  encodeWith('RequiredCapabilities', c, writeRequiredCapabilities);

export interface Extension extends Raw {
  extensionType: number;
  extensionData: Uint8Array;
}

export function readExtension(r: StructReader): Extension {
  return r.withRaw((s) => ({ extensionType: s.u16(), extensionData: s.opaqueV() }));
}

export function writeExtension(w: TlsWriter, e: Fields<Extension>): void {
  w.u16(e.extensionType);
  opaque(w, e.extensionData, 'Extension.extension_data');
}

export const readExtensions = (r: StructReader): Extension[] => r.list(readExtension);

export function writeExtensions(w: TlsWriter, list: readonly Fields<Extension>[], what: string): void {
  if (!Array.isArray(list)) throw new MlsWireError(`${what} must be an array`);
  w.vector(list, writeExtension);
}

export const decodeExtension = (b: Uint8Array): Extension => decodeAll('Extension', b, readExtension);
export const encodeExtension = (e: Fields<Extension>): Uint8Array => encodeWith('Extension', e, writeExtension);

export interface Lifetime extends Raw {
  notBefore: bigint;
  notAfter: bigint;
}

export function readLifetime(r: StructReader): Lifetime {
  return r.withRaw((s) => ({ notBefore: s.u64(), notAfter: s.u64() }));
}

export function writeLifetime(w: TlsWriter, l: Fields<Lifetime>): void {
  w.u64(l.notBefore).u64(l.notAfter);
}

export const decodeLifetime = (b: Uint8Array): Lifetime => decodeAll('Lifetime', b, readLifetime);
export const encodeLifetime = (l: Fields<Lifetime>): Uint8Array => encodeWith('Lifetime', l, writeLifetime);

// ---------------------------------------------------------------------------------------------
// LeafNode, KeyPackage (RFC 9420 7.2, 10)

export const LEAF_NODE_SOURCES = { key_package: 1, update: 2, commit: 3 } as const;
export type LeafNodeSource = keyof typeof LEAF_NODE_SOURCES;
const LEAF_NODE_SOURCE_NAMES = invert(LEAF_NODE_SOURCES);

export interface LeafNode extends Raw {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credential: Credential;
  capabilities: Capabilities;
  source: { type: 'key_package'; lifetime: Lifetime } | { type: 'update' } | { type: 'commit'; parentHash: Uint8Array };
  extensions: Extension[];
  signature: Uint8Array;
}

export function readLeafNode(r: StructReader): LeafNode {
  return r.withRaw((s) => {
    const encryptionKey = s.opaqueV();
    const signatureKey = s.opaqueV();
    const credential = readCredential(s);
    const capabilities = readCapabilities(s);
    const type = enumName(LEAF_NODE_SOURCE_NAMES, s.u8(), 'leaf_node_source');
    const source: LeafNode['source'] =
      type === 'key_package'
        ? { type, lifetime: readLifetime(s) }
        : type === 'commit'
          ? { type, parentHash: s.opaqueV() }
          : { type };
    return { encryptionKey, signatureKey, credential, capabilities, source, extensions: readExtensions(s), signature: s.opaqueV() };
  });
}

export function writeLeafNode(w: TlsWriter, n: Fields<LeafNode>): void {
  opaque(w, n.encryptionKey, 'LeafNode.encryption_key');
  opaque(w, n.signatureKey, 'LeafNode.signature_key');
  writeCredential(w, n.credential);
  writeCapabilities(w, n.capabilities);
  w.u8(enumValue(LEAF_NODE_SOURCES, n.source?.type, 'leaf_node_source'));
  if (n.source.type === 'key_package') writeLifetime(w, n.source.lifetime);
  else if (n.source.type === 'commit') opaque(w, n.source.parentHash, 'LeafNode.parent_hash');
  writeExtensions(w, n.extensions, 'LeafNode.extensions');
  opaque(w, n.signature, 'LeafNode.signature');
}

export const decodeLeafNode = (b: Uint8Array): LeafNode => decodeAll('LeafNode', b, readLeafNode);
export const encodeLeafNode = (n: Fields<LeafNode>): Uint8Array => encodeWith('LeafNode', n, writeLeafNode);

export interface KeyPackage extends Raw {
  version: number;
  cipherSuite: number;
  initKey: Uint8Array;
  leafNode: LeafNode;
  extensions: Extension[];
  signature: Uint8Array;
}

function readVersion(r: StructReader, what: string): number {
  const v = r.u16();
  if (v !== MLS10) throw new MlsWireError(`${what} version ${v} is not mls10`);
  return v;
}

export function readKeyPackage(r: StructReader): KeyPackage {
  return r.withRaw((s) => ({
    version: readVersion(s, 'KeyPackage'),
    cipherSuite: s.u16(),
    initKey: s.opaqueV(),
    leafNode: readLeafNode(s),
    extensions: readExtensions(s),
    signature: s.opaqueV(),
  }));
}

function writeVersion(w: TlsWriter, v: number, what: string): void {
  if (v !== MLS10) throw new MlsWireError(`${what} version ${v} is not mls10`);
  w.u16(v);
}

export function writeKeyPackage(w: TlsWriter, k: Fields<KeyPackage>): void {
  writeVersion(w, k.version, 'KeyPackage');
  w.u16(k.cipherSuite);
  opaque(w, k.initKey, 'KeyPackage.init_key');
  writeLeafNode(w, k.leafNode);
  writeExtensions(w, k.extensions, 'KeyPackage.extensions');
  opaque(w, k.signature, 'KeyPackage.signature');
}

export const decodeKeyPackage = (b: Uint8Array): KeyPackage => decodeAll('KeyPackage', b, readKeyPackage);
export const encodeKeyPackage = (k: Fields<KeyPackage>): Uint8Array => encodeWith('KeyPackage', k, writeKeyPackage);

const KEY_PACKAGE_REF_LABEL = utf8('MLS 1.0 KeyPackage Reference');

/**
 * KeyPackageRef (RFC 9420 5.2): RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) with the
 * ciphersuite 1 hash (SHA-256). `keyPackageRaw` is the bare KeyPackage struct, not an MLSMessage.
 */
export function keyPackageRef(keyPackageRaw: Uint8Array): Uint8Array {
  checkBytes(keyPackageRaw, 'keyPackageRef input');
  const input = new TlsWriter().opaqueV(KEY_PACKAGE_REF_LABEL).opaqueV(keyPackageRaw).finish();
  return sha256(input);
}

// ---------------------------------------------------------------------------------------------
// Ratchet tree (RFC 9420 7.8, 12.4.3.3)

export interface ParentNode extends Raw {
  encryptionKey: Uint8Array;
  parentHash: Uint8Array;
  unmergedLeaves: number[];
}

export function readParentNode(r: StructReader): ParentNode {
  return r.withRaw((s) => ({ encryptionKey: s.opaqueV(), parentHash: s.opaqueV(), unmergedLeaves: s.list((x) => x.u32()) }));
}

export function writeParentNode(w: TlsWriter, p: Fields<ParentNode>): void {
  opaque(w, p.encryptionKey, 'ParentNode.encryption_key');
  opaque(w, p.parentHash, 'ParentNode.parent_hash');
  if (!Array.isArray(p.unmergedLeaves)) throw new MlsWireError('ParentNode.unmerged_leaves must be an array');
  w.vector(p.unmergedLeaves, (x, n) => x.u32(n));
}

export const decodeParentNode = (b: Uint8Array): ParentNode => decodeAll('ParentNode', b, readParentNode);
export const encodeParentNode = (p: Fields<ParentNode>): Uint8Array => encodeWith('ParentNode', p, writeParentNode);

export type Node = Raw & ({ nodeType: 'leaf'; leaf: LeafNode } | { nodeType: 'parent'; parent: ParentNode });

export function readNode(r: StructReader): Node {
  return r.withRaw((s): { nodeType: 'leaf'; leaf: LeafNode } | { nodeType: 'parent'; parent: ParentNode } => {
    const t = s.u8();
    if (t === 1) return { nodeType: 'leaf', leaf: readLeafNode(s) };
    if (t === 2) return { nodeType: 'parent', parent: readParentNode(s) };
    throw new MlsWireError(`unknown node_type ${t}`);
  });
}

export function writeNode(w: TlsWriter, n: Fields<Node>): void {
  if (n.nodeType === 'leaf') {
    w.u8(1);
    writeLeafNode(w, n.leaf);
  } else if (n.nodeType === 'parent') {
    w.u8(2);
    writeParentNode(w, n.parent);
  } else throw new MlsWireError(`unknown node_type '${String((n as { nodeType: unknown }).nodeType)}'`);
}

/** `optional<Node> ratchet_tree<V>`; `raw` includes the vector's length prefix. Blank nodes are null. */
export interface RatchetTree extends Raw {
  nodes: (Node | null)[];
}

export function readRatchetTree(r: StructReader): RatchetTree {
  return r.withRaw((s) => {
    const nodes = s.list((x) => x.opt(readNode) ?? null);
    // Leaves sit at even indices, parents at odd ones: anything else cannot be an MLS tree.
    nodes.forEach((n, i) => {
      if (n && (n.nodeType === 'leaf') !== (i % 2 === 0)) throw new MlsWireError(`ratchet_tree node ${i} is a ${n.nodeType} node`);
    });
    return { nodes };
  });
}

export function writeRatchetTree(w: TlsWriter, t: Fields<RatchetTree>): void {
  if (!Array.isArray(t.nodes)) throw new MlsWireError('ratchet_tree nodes must be an array');
  w.vector(t.nodes, (x, n) => x.optional(n ?? undefined, writeNode));
}

export const decodeRatchetTree = (b: Uint8Array): RatchetTree => decodeAll('ratchet_tree', b, readRatchetTree);
export const encodeRatchetTree = (t: Fields<RatchetTree>): Uint8Array => encodeWith('ratchet_tree', t, writeRatchetTree);

export interface TreeLeaf {
  leafIndex: number;
  /** A basic credential's identity (our device URIs), or a pseudonymous credential's client pseudonym. */
  identity: string;
  signatureKey: Uint8Array;
  credentialType: 'basic' | 'pseudonymous';
  /** Pseudonymous leaves: the user pseudonym, the same for all clients of one user in the room. */
  userPseudonym?: string;
  /** The LeafNode's extensions (e.g. a join ticket, src-shared/join-ticket.ts). */
  extensions: { type: number; data: Uint8Array }[];
}

/**
 * Non-blank leaves (leaf i is node 2i) with the UTF-8 identity of their basic credential, or the
 * client pseudonym of their pseudonymous credential (so a hub can route by its domain without
 * learning who is behind it). Any other credential type is an error.
 */
export function treeLeaves(tree: Fields<RatchetTree>): TreeLeaf[] {
  const out: TreeLeaf[] = [];
  for (let i = 0; i < tree.nodes.length; i += 2) {
    const node = tree.nodes[i];
    if (!node) continue;
    if (node.nodeType !== 'leaf') throw new MlsWireError(`ratchet_tree node ${i} is not a leaf`);
    const cred = node.leaf.credential;
    if (cred.credentialType === 'pseudonymous') {
      // The decoder has checked both pseudonyms; the key must be the leaf's, as for the engine.
      if (!bytesEqual(cred.signaturePublicKey, node.leaf.signatureKey)) {
        throw new MlsWireError(`leaf ${i / 2}: the pseudonymous credential's signature_public_key is not the leaf's signature_key`);
      }
      out.push({
        leafIndex: i / 2,
        identity: cred.clientPseudonym,
        signatureKey: node.leaf.signatureKey,
        credentialType: 'pseudonymous',
        userPseudonym: cred.userPseudonym,
        extensions: leafExtensions(node.leaf),
      });
      continue;
    }
    if (cred.credentialType !== 'basic') throw new MlsWireError(`leaf ${i / 2} has a ${cred.credentialType} credential, not basic or pseudonymous`);
    let identity: string;
    try {
      identity = fromUtf8(cred.identity);
    } catch {
      throw new MlsWireError(`leaf ${i / 2} identity is not valid UTF-8`);
    }
    out.push({ leafIndex: i / 2, identity, signatureKey: node.leaf.signatureKey, credentialType: 'basic', extensions: leafExtensions(node.leaf) });
  }
  return out;
}

const leafExtensions = (leaf: Fields<LeafNode>) => leaf.extensions.map((e) => ({ type: e.extensionType, data: e.extensionData }));

// ---------------------------------------------------------------------------------------------
// GroupContext, GroupInfo (RFC 9420 8.1, 12.4.3)

export interface GroupContext extends Raw {
  version: number;
  cipherSuite: number;
  groupId: Uint8Array;
  epoch: bigint;
  treeHash: Uint8Array;
  confirmedTranscriptHash: Uint8Array;
  extensions: Extension[];
}

export function readGroupContext(r: StructReader): GroupContext {
  return r.withRaw((s) => ({
    version: readVersion(s, 'GroupContext'),
    cipherSuite: s.u16(),
    groupId: s.opaqueV(),
    epoch: s.u64(),
    treeHash: s.opaqueV(),
    confirmedTranscriptHash: s.opaqueV(),
    extensions: readExtensions(s),
  }));
}

export function writeGroupContext(w: TlsWriter, g: Fields<GroupContext>): void {
  writeVersion(w, g.version, 'GroupContext');
  w.u16(g.cipherSuite);
  opaque(w, g.groupId, 'GroupContext.group_id');
  w.u64(g.epoch);
  opaque(w, g.treeHash, 'GroupContext.tree_hash');
  opaque(w, g.confirmedTranscriptHash, 'GroupContext.confirmed_transcript_hash');
  writeExtensions(w, g.extensions, 'GroupContext.extensions');
}

export const decodeGroupContext = (b: Uint8Array): GroupContext => decodeAll('GroupContext', b, readGroupContext);
export const encodeGroupContext = (g: Fields<GroupContext>): Uint8Array => encodeWith('GroupContext', g, writeGroupContext);

export interface GroupInfo extends Raw {
  groupContext: GroupContext;
  extensions: Extension[];
  confirmationTag: Uint8Array;
  signer: number;
  signature: Uint8Array;
}

export function readGroupInfo(r: StructReader): GroupInfo {
  return r.withRaw((s) => ({
    groupContext: readGroupContext(s),
    extensions: readExtensions(s),
    confirmationTag: s.opaqueV(),
    signer: s.u32(),
    signature: s.opaqueV(),
  }));
}

export function writeGroupInfo(w: TlsWriter, g: Fields<GroupInfo>): void {
  writeGroupContext(w, g.groupContext);
  writeExtensions(w, g.extensions, 'GroupInfo.extensions');
  opaque(w, g.confirmationTag, 'GroupInfo.confirmation_tag');
  w.u32(g.signer);
  opaque(w, g.signature, 'GroupInfo.signature');
}

export const decodeGroupInfo = (b: Uint8Array): GroupInfo => decodeAll('GroupInfo', b, readGroupInfo);
export const encodeGroupInfo = (g: Fields<GroupInfo>): Uint8Array => encodeWith('GroupInfo', g, writeGroupInfo);

// ---------------------------------------------------------------------------------------------
// HPKECiphertext, Welcome (RFC 9420 7.6, 12.4.3.1)

/** Canonical (two opaque vectors), so no `raw` is needed. */
export interface HPKECiphertext {
  kemOutput: Uint8Array;
  ciphertext: Uint8Array;
}

export function readHpkeCiphertext(r: StructReader): HPKECiphertext {
  return { kemOutput: r.opaqueV(), ciphertext: r.opaqueV() };
}

export function writeHpkeCiphertext(w: TlsWriter, c: HPKECiphertext): void {
  opaque(w, c.kemOutput, 'HPKECiphertext.kem_output');
  opaque(w, c.ciphertext, 'HPKECiphertext.ciphertext');
}

export const decodeHpkeCiphertext = (b: Uint8Array): HPKECiphertext => decodeAll('HPKECiphertext', b, readHpkeCiphertext);
export const encodeHpkeCiphertext = (c: HPKECiphertext): Uint8Array => encodeWith('HPKECiphertext', c, writeHpkeCiphertext);

export interface EncryptedGroupSecrets {
  /** KeyPackageRef of the recipient. */
  newMember: Uint8Array;
  encryptedGroupSecrets: HPKECiphertext;
}

export interface Welcome extends Raw {
  cipherSuite: number;
  secrets: EncryptedGroupSecrets[];
  encryptedGroupInfo: Uint8Array;
}

export function readWelcome(r: StructReader): Welcome {
  return r.withRaw((s) => ({
    cipherSuite: s.u16(),
    secrets: s.list((x) => ({ newMember: x.opaqueV(), encryptedGroupSecrets: readHpkeCiphertext(x) })),
    encryptedGroupInfo: s.opaqueV(),
  }));
}

export function writeWelcome(w: TlsWriter, m: Fields<Welcome>): void {
  w.u16(m.cipherSuite);
  if (!Array.isArray(m.secrets)) throw new MlsWireError('Welcome.secrets must be an array');
  w.vector(m.secrets, (x, s) => {
    opaque(x, s.newMember, 'EncryptedGroupSecrets.new_member');
    writeHpkeCiphertext(x, s.encryptedGroupSecrets);
  });
  opaque(w, m.encryptedGroupInfo, 'Welcome.encrypted_group_info');
}

export const decodeWelcome = (b: Uint8Array): Welcome => decodeAll('Welcome', b, readWelcome);
export const encodeWelcome = (m: Fields<Welcome>): Uint8Array => encodeWith('Welcome', m, writeWelcome);

// ---------------------------------------------------------------------------------------------
// ExternalSender (RFC 9420 12.1.8.1)

export interface ExternalSender extends Raw {
  signatureKey: Uint8Array;
  credential: Credential;
}

export function readExternalSender(r: StructReader): ExternalSender {
  return r.withRaw((s) => ({ signatureKey: s.opaqueV(), credential: readCredential(s) }));
}

export function writeExternalSender(w: TlsWriter, e: Fields<ExternalSender>): void {
  opaque(w, e.signatureKey, 'ExternalSender.signature_key');
  writeCredential(w, e.credential);
}

export const decodeExternalSender = (b: Uint8Array): ExternalSender => decodeAll('ExternalSender', b, readExternalSender);
export const encodeExternalSender = (e: Fields<ExternalSender>): Uint8Array => encodeWith('ExternalSender', e, writeExternalSender);

// ---------------------------------------------------------------------------------------------
// MLSMessage framing (RFC 9420 6)
//
// An MLSMessage embedded in a MIMI structure has no length prefix, so delimiting it means walking
// its body. PrivateMessage, Welcome, GroupInfo and KeyPackage are fully structured; a
// PublicMessage needs the proposal or commit framing. Commit.proposals is a length-prefixed
// vector and is skipped whole, so commits carrying proposal types unknown here still delimit.
// A bare proposal must be one of the types below: RFC 9420 gives unknown proposal types no
// generic framing, so their length cannot be known.

export const WIRE_FORMATS: Record<WireFormat, number> = { public: 1, private: 2, welcome: 3, groupInfo: 4, keyPackage: 5 };
const WIRE_FORMAT_NAMES = invert(WIRE_FORMATS);

/**
 * Proposal types this module can delimit: RFC 9420's, plus app_data_update, app_ephemeral and
 * self_remove at the values suggested by draft-ietf-mls-extensions (IANA has not assigned them).
 */
export const PROPOSAL_TYPES = {
  add: 1,
  update: 2,
  remove: 3,
  psk: 4,
  reinit: 5,
  external_init: 6,
  group_context_extensions: 7,
  app_data_update: 8,
  app_ephemeral: 9,
  self_remove: 10,
} as const;

function skipPreSharedKeyId(r: StructReader): void {
  const type = r.u8();
  if (type === 1) r.skipV(); // external: psk_id
  else if (type === 2) {
    const usage = r.u8();
    if (usage < 1 || usage > 3) throw new MlsWireError(`unknown ResumptionPSKUsage ${usage}`);
    r.skipV(); // psk_group_id
    r.u64(); // psk_epoch
  } else throw new MlsWireError(`unknown PSKType ${type}`);
  r.skipV(); // psk_nonce
}

/** Consumes one Proposal (RFC 9420 12.1, draft-ietf-mls-extensions 4.7, 4.8, 4.10). */
function skipProposal(r: StructReader): void {
  skipProposalBody(r, r.u16());
}

function skipProposalBody(r: StructReader, type: number): void {
  switch (type) {
    case PROPOSAL_TYPES.add:
      readKeyPackage(r);
      return;
    case PROPOSAL_TYPES.update:
      readLeafNode(r);
      return;
    case PROPOSAL_TYPES.remove:
      r.u32();
      return;
    case PROPOSAL_TYPES.psk:
      skipPreSharedKeyId(r);
      return;
    case PROPOSAL_TYPES.reinit:
      r.skipV();
      r.u16();
      r.u16();
      readExtensions(r);
      return;
    case PROPOSAL_TYPES.external_init:
      r.skipV();
      return;
    case PROPOSAL_TYPES.group_context_extensions:
      readExtensions(r);
      return;
    case PROPOSAL_TYPES.app_data_update: {
      r.u16(); // component_id
      const op = r.u8();
      if (op === 1) r.skipV();
      else if (op !== 2) throw new MlsWireError(`unknown AppDataUpdateOperation ${op}`);
      return;
    }
    case PROPOSAL_TYPES.app_ephemeral:
      r.u16();
      r.skipV();
      return;
    case PROPOSAL_TYPES.self_remove:
      return;
    default:
      throw new MlsWireError(`proposal type ${type} has no known framing`);
  }
}

function skipCommit(r: StructReader): void {
  r.skipV(); // ProposalOrRef proposals<V>
  r.opt((s) => {
    readLeafNode(s); // UpdatePath.leaf_node
    s.skipV(); // UpdatePathNode nodes<V>
  });
}

/** FramedContent up to content_type: group_id, epoch, sender, authenticated_data. Returns the sender type. */
function skipFramedContentHeader(r: StructReader): number {
  r.skipV(); // group_id
  r.u64(); // epoch
  const senderType = r.u8();
  if (senderType === 1 || senderType === 2) r.u32();
  else if (senderType !== 3 && senderType !== 4) throw new MlsWireError(`unknown sender_type ${senderType}`);
  r.skipV(); // authenticated_data
  return senderType;
}

function skipPublicMessage(r: StructReader): void {
  const senderType = skipFramedContentHeader(r);
  const contentType = r.u8();
  if (contentType === 1) r.skipV(); // application_data
  else if (contentType === 2) skipProposal(r);
  else if (contentType === 3) skipCommit(r);
  else throw new MlsWireError(`unknown content_type ${contentType}`);
  r.skipV(); // FramedContentAuthData.signature
  if (contentType === 3) r.skipV(); // confirmation_tag
  if (senderType === 1) r.skipV(); // membership_tag
}

function skipPrivateMessage(r: StructReader): void {
  r.skipV(); // group_id
  r.u64(); // epoch
  const contentType = r.u8();
  if (contentType < 1 || contentType > 3) throw new MlsWireError(`unknown content_type ${contentType}`);
  r.skipV(); // authenticated_data
  r.skipV(); // encrypted_sender_data
  r.skipV(); // ciphertext
}

function skipBody(r: StructReader, wireFormat: WireFormat): void {
  switch (wireFormat) {
    case 'public':
      return skipPublicMessage(r);
    case 'private':
      return skipPrivateMessage(r);
    case 'welcome':
      readWelcome(r);
      return;
    case 'groupInfo':
      readGroupInfo(r);
      return;
    case 'keyPackage':
      readKeyPackage(r);
      return;
  }
}

function readHeader(r: StructReader): WireFormat {
  const version = r.u16();
  if (version !== MLS10) throw new MlsWireError(`unsupported MLSMessage version ${version}`);
  return enumName(WIRE_FORMAT_NAMES, r.u16(), 'wire_format');
}

/** Consumes exactly one MLSMessage and returns its bytes. */
export function readMlsMessage(r: StructReader): Uint8Array {
  const start = r.offset;
  skipBody(r, readHeader(r));
  return r.rawSince(start);
}

/** Checks that `bytes` is exactly one well-framed MLSMessage. */
export function checkMlsMessage(bytes: Uint8Array): Uint8Array {
  return decodeAll('MLSMessage', bytes, readMlsMessage);
}

/** Prefixes a bare structure with the MLSMessage header, after checking it is one such structure. */
export function wrapMlsMessage(wireFormat: WireFormat, body: Uint8Array): Uint8Array {
  const wf = Object.prototype.hasOwnProperty.call(WIRE_FORMATS, wireFormat) ? WIRE_FORMATS[wireFormat] : undefined;
  if (wf === undefined) throw new MlsWireError(`unknown wire format '${String(wireFormat)}'`);
  decodeAll(`MLSMessage body (${wireFormat})`, body, (r) => skipBody(r, wireFormat));
  return new TlsWriter().u16(MLS10).u16(wf).bytes(body).finish();
}

/** Splits an MLSMessage into its wire format and the bare structure it carries. */
export function unwrapMlsMessage(bytes: Uint8Array): { wireFormat: WireFormat; body: Uint8Array } {
  return decodeAll('MLSMessage', bytes, (r) => {
    const wireFormat = readHeader(r);
    const start = r.offset;
    skipBody(r, wireFormat);
    return { wireFormat, body: r.rawSince(start) };
  });
}

/** What a PublicMessage Commit proposes by value, and how many proposals it references. */
export interface CommitSummary {
  senderType: number;
  /** Leaf indexes of by-value Remove proposals. */
  removes: number[];
  /** KeyPackages of by-value Add proposals. */
  adds: KeyPackage[];
  /** The extensions of its by-value GroupContextExtensions proposal, if it has one. */
  groupContextExtensions?: Extension[];
  /** How many proposals it includes by reference. */
  references: number;
  /** Those ProposalRefs, in order. */
  refs: Uint8Array[];
}

/**
 * Reads a PublicMessage Commit's proposals (RFC 9420 12.4: ProposalOrRef). A hub without group
 * keys can hold the ratchet tree and GroupInfo of a commit bundle to what the Commit really does.
 */
export function commitSummary(message: Uint8Array): CommitSummary {
  return decodeAll('MLSMessage', message, (r) => {
    if (readHeader(r) !== 'public') throw new MlsWireError('a commit must be a PublicMessage');
    const senderType = skipFramedContentHeader(r);
    if (r.u8() !== 3) throw new MlsWireError('the message does not carry a Commit');
    const summary: CommitSummary = { senderType, removes: [], adds: [], references: 0, refs: [] };
    r.list((s) => {
      const kind = s.u8();
      if (kind === 2) {
        summary.refs.push(s.opaqueV()); // ProposalRef
        summary.references++;
        return undefined;
      }
      if (kind !== 1) throw new MlsWireError(`unknown ProposalOrRefType ${kind}`);
      const type = s.u16();
      if (type === PROPOSAL_TYPES.group_context_extensions) {
        if (summary.groupContextExtensions) throw new MlsWireError('a Commit carries two GroupContextExtensions proposals');
        summary.groupContextExtensions = readExtensions(s);
      } else if (type === PROPOSAL_TYPES.remove) summary.removes.push(s.u32());
      else if (type === PROPOSAL_TYPES.add) summary.adds.push(readKeyPackage(s));
      else skipProposalBody(s, type);
      return undefined;
    });
    r.opt((s) => {
      readLeafNode(s);
      s.skipV();
    });
    r.skipV(); // signature
    r.skipV(); // confirmation_tag
    if (senderType === 1) r.skipV(); // membership_tag
    return summary;
  });
}

/** The extensions of a Commit's by-value GroupContextExtensions proposal, or undefined when it has none. */
export function commitGroupContextExtensions(message: Uint8Array): Extension[] | undefined {
  return commitSummary(message).groupContextExtensions;
}

// ---------------------------------------------------------------------------------------------
// PublicMessage (RFC 9420 6, 6.2), decoded far enough to check its signature without group keys

export const SENDER_TYPES = { member: 1, external: 2, new_member_proposal: 3, new_member_commit: 4 } as const;
export type SenderType = keyof typeof SENDER_TYPES;
const SENDER_TYPE_NAMES = invert(SENDER_TYPES);

/** Sender (RFC 9420 6): `index` is the leaf index of a member, the external_senders index of an external sender. */
export interface Sender {
  senderType: SenderType;
  index?: number;
}

/** UpdatePath (RFC 9420 7.6); its nodes are kept whole. */
export interface UpdatePath extends Raw {
  leafNode: LeafNode;
  /** The encoded `UpdatePathNode nodes<V>`, length prefix included. */
  nodes: Uint8Array;
}

/** FramedContent (RFC 9420 6); `raw` is what FramedContentTBS embeds. */
export interface FramedContent extends Raw {
  groupId: Uint8Array;
  epoch: bigint;
  sender: Sender;
  authenticatedData: Uint8Array;
  contentType: 'application' | 'proposal' | 'commit';
  /** application: application_data; proposal: the Proposal; commit: the Commit. */
  body: Uint8Array;
  /** proposal: its proposal type. */
  proposalType?: number;
  /** commit: its UpdatePath, if it has one. */
  path?: UpdatePath;
}

/** PublicMessage (RFC 9420 6.2) with FramedContentAuthData unpacked. */
export interface PublicMessage extends Raw {
  content: FramedContent;
  signature: Uint8Array;
  /** Commits only. */
  confirmationTag?: Uint8Array;
  /** Member senders only. */
  membershipTag?: Uint8Array;
}

export function readUpdatePath(r: StructReader): UpdatePath {
  return r.withRaw((s) => {
    const leafNode = readLeafNode(s);
    const start = s.offset;
    s.skipV();
    return { leafNode, nodes: s.rawSince(start) };
  });
}

export function readFramedContent(r: StructReader): FramedContent {
  return r.withRaw((s): Fields<FramedContent> & { path?: UpdatePath } => {
    const groupId = s.opaqueV();
    const epoch = s.u64();
    const senderType = enumName(SENDER_TYPE_NAMES, s.u8(), 'sender_type');
    const sender: Sender = senderType === 'member' || senderType === 'external' ? { senderType, index: s.u32() } : { senderType };
    const authenticatedData = s.opaqueV();
    const ct = s.u8();
    const start = s.offset;
    if (ct === 1) {
      s.skipV();
      return { groupId, epoch, sender, authenticatedData, contentType: 'application', body: s.rawSince(start) };
    }
    if (ct === 2) {
      const proposalType = s.u16();
      skipProposalBody(s, proposalType);
      return { groupId, epoch, sender, authenticatedData, contentType: 'proposal', body: s.rawSince(start), proposalType };
    }
    if (ct === 3) {
      s.skipV(); // ProposalOrRef proposals<V>
      const path = s.opt(readUpdatePath);
      return { groupId, epoch, sender, authenticatedData, contentType: 'commit', body: s.rawSince(start), ...(path ? { path } : {}) };
    }
    throw new MlsWireError(`unknown content_type ${ct}`);
  }) as FramedContent;
}

export function readPublicMessage(r: StructReader): PublicMessage {
  return r.withRaw((s) => {
    const content = readFramedContent(s);
    const signature = s.opaqueV();
    const confirmationTag = content.contentType === 'commit' ? s.opaqueV() : undefined;
    const membershipTag = content.sender.senderType === 'member' ? s.opaqueV() : undefined;
    return { content, signature, ...(confirmationTag ? { confirmationTag } : {}), ...(membershipTag ? { membershipTag } : {}) };
  });
}

const PROPOSAL_REF_LABEL = utf8('MLS 1.0 Proposal Reference');

/**
 * The ProposalRef (RFC 9420 5.2) of a PublicMessage proposal: RefHash over its AuthenticatedContent
 * (wire_format, FramedContent, FramedContentAuthData: the signature), with ciphersuite 1's hash.
 * A commit names the proposals it includes by reference this way.
 */
export function proposalRef(message: Uint8Array): Uint8Array {
  const m = decodePublicMessage(message);
  if (m.content.contentType !== 'proposal') throw new MlsWireError('a ProposalRef is of a proposal');
  const authenticatedContent = new TlsWriter().u16(1).bytes(m.content.raw).opaqueV(m.signature).finish();
  return sha256(new TlsWriter().opaqueV(PROPOSAL_REF_LABEL).opaqueV(authenticatedContent).finish());
}

/** Decodes an MLSMessage that must carry a PublicMessage. */
export function decodePublicMessage(message: Uint8Array): PublicMessage {
  return decodeAll('MLSMessage', message, (r) => {
    const wireFormat = readHeader(r);
    if (wireFormat !== 'public') throw new MlsWireError(`expected a PublicMessage, got wire format '${wireFormat}'`);
    return readPublicMessage(r);
  });
}
