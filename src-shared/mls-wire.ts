// Key-free inspection of RFC 9420 MLSMessage framing (§6, §6.2, §6.3, §12.4.3).
//
// A provider routes MLS traffic without group keys: it needs the group, epoch and content type of a
// handshake or application message, and the KeyPackageRefs a Welcome is addressed to. Only the
// cleartext headers are parsed here; everything after them (signatures, ciphertexts) is opaque.

import { TlsError, TlsReader } from './tls.js';

export class MlsWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MlsWireError';
  }
}

export type WireFormat = 'public' | 'private' | 'welcome' | 'groupInfo' | 'keyPackage';
export type MlsContentType = 'application' | 'proposal' | 'commit';
export type MlsSenderType = 'member' | 'external' | 'new_member_proposal' | 'new_member_commit';

export interface MlsMessageInfo {
  version: number;
  wireFormat: WireFormat;
  /** public, private, groupInfo */
  groupId?: Uint8Array;
  /** public, private, groupInfo */
  epoch?: bigint;
  /** public, private */
  contentType?: MlsContentType;
  /** public, private (cleartext in both) */
  authenticatedData?: Uint8Array;
  /** public only: private messages encrypt the sender */
  senderType?: MlsSenderType;
  /** public, senderType 'member' */
  senderLeafIndex?: number;
  /** public, senderType 'external': index into the group's external_senders extension */
  externalSenderIndex?: number;
  /** welcome, groupInfo, keyPackage */
  cipherSuite?: number;
}

export const MLS10 = 1;

const WIRE_FORMATS: Record<number, WireFormat> = {
  1: 'public',
  2: 'private',
  3: 'welcome',
  4: 'groupInfo',
  5: 'keyPackage',
};
const CONTENT_TYPES: Record<number, MlsContentType> = { 1: 'application', 2: 'proposal', 3: 'commit' };
const SENDER_TYPES: Record<number, MlsSenderType> = {
  1: 'member',
  2: 'external',
  3: 'new_member_proposal',
  4: 'new_member_commit',
};

function contentType(r: TlsReader): MlsContentType {
  const v = r.u8();
  const t = CONTENT_TYPES[v];
  if (!t) throw new MlsWireError(`unknown content_type ${v}`);
  return t;
}

function readHeader(r: TlsReader): { version: number; wireFormat: WireFormat } {
  const version = r.u16();
  if (version !== MLS10) throw new MlsWireError(`unsupported protocol version ${version}`);
  const wf = r.u16();
  const wireFormat = WIRE_FORMATS[wf];
  if (!wireFormat) throw new MlsWireError(`unknown wire_format ${wf}`);
  return { version, wireFormat };
}

/** Runs a parser, converting low-level TLS decoding failures into MlsWireError. */
export function guarded<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof MlsWireError) throw e;
    if (e instanceof TlsError) throw new MlsWireError(`malformed ${what}: ${e.message}`);
    throw e;
  }
}

function readPublicHeader(r: TlsReader, info: MlsMessageInfo): void {
  // FramedContent: the part before the content body is all we need.
  info.groupId = r.opaqueV();
  info.epoch = r.u64();
  const st = r.u8();
  const senderType = SENDER_TYPES[st];
  if (!senderType) throw new MlsWireError(`unknown sender_type ${st}`);
  info.senderType = senderType;
  if (senderType === 'member') info.senderLeafIndex = r.u32();
  else if (senderType === 'external') info.externalSenderIndex = r.u32();
  info.authenticatedData = r.opaqueV();
  info.contentType = contentType(r);
}

function readPrivateMessage(r: TlsReader, info: MlsMessageInfo): void {
  info.groupId = r.opaqueV();
  info.epoch = r.u64();
  info.contentType = contentType(r);
  info.authenticatedData = r.opaqueV();
  r.skipV(); // encrypted_sender_data
  r.skipV(); // ciphertext
  r.done();
}

interface WelcomeHeader {
  cipherSuite: number;
  recipients: Uint8Array[];
}

function readWelcome(r: TlsReader): WelcomeHeader {
  const cipherSuite = r.u16();
  const recipients = r.vector((s) => {
    const newMember = s.opaqueV(); // KeyPackageRef
    s.skipV(); // HPKECiphertext.kem_output
    s.skipV(); // HPKECiphertext.ciphertext
    return newMember;
  });
  r.skipV(); // encrypted_group_info
  r.done();
  return { cipherSuite, recipients };
}

/**
 * Reads the cleartext header of an MLSMessage. For PublicMessage only the FramedContent prefix is
 * parsed (the body needs group state to interpret); PrivateMessage and Welcome are checked whole.
 */
export function peekMlsMessage(bytes: Uint8Array): MlsMessageInfo {
  return guarded('MLSMessage', () => {
    const r = new TlsReader(bytes);
    const info: MlsMessageInfo = readHeader(r);
    switch (info.wireFormat) {
      case 'public':
        readPublicHeader(r, info);
        break;
      case 'private':
        readPrivateMessage(r, info);
        break;
      case 'welcome':
        info.cipherSuite = readWelcome(r).cipherSuite;
        break;
      case 'groupInfo':
        // GroupInfo starts with GroupContext { version, cipher_suite, group_id<V>, epoch, ... }.
        if (r.u16() !== MLS10) throw new MlsWireError('GroupContext version is not mls10');
        info.cipherSuite = r.u16();
        info.groupId = r.opaqueV();
        info.epoch = r.u64();
        break;
      case 'keyPackage':
        if (r.u16() !== MLS10) throw new MlsWireError('KeyPackage version is not mls10');
        info.cipherSuite = r.u16();
        break;
    }
    return info;
  });
}

/** What a PublicMessage proposal proposes: its type number, and the leaf a Remove removes. */
export function peekProposal(bytes: Uint8Array): { proposalType: number; removed?: number } {
  return guarded('MLSMessage', () => {
    const r = new TlsReader(bytes);
    const info: MlsMessageInfo = readHeader(r);
    if (info.wireFormat !== 'public') throw new MlsWireError(`a proposal must be a PublicMessage, not ${info.wireFormat}`);
    readPublicHeader(r, info);
    if (info.contentType !== 'proposal') throw new MlsWireError(`carries ${info.contentType} content, not a proposal`);
    const proposalType = r.u16();
    return proposalType === 3 ? { proposalType, removed: r.u32() } : { proposalType };
  });
}

/** KeyPackageRefs (EncryptedGroupSecrets.new_member) of an MLSMessage carrying a Welcome. */
export function welcomeRecipients(bytes: Uint8Array): Uint8Array[] {
  return guarded('Welcome', () => {
    const r = new TlsReader(bytes);
    const { wireFormat } = readHeader(r);
    if (wireFormat !== 'welcome') throw new MlsWireError(`expected a welcome, got wire format '${wireFormat}'`);
    return readWelcome(r).recipients;
  });
}
