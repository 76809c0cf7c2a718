// MLS proposals a hub sends as an external sender (RFC 9420 12.1.8): the hub is listed in its
// rooms' external_senders GroupContext extension and signs proposals without being a member:
// Removes for devices that must leave (a deleted account, an operator's removal) and a
// GroupContextExtensions proposal that bans users (the room state with them in role 1; see
// docs/franking.md "Moderation"). Built by hand with the TLS writer so the provider needs no MLS
// library: a PublicMessage from an external sender carries no membership tag, and its
// FramedContentTBS has no GroupContext.

import { TlsWriter } from './tls.js';
import { signWithLabel } from './mls-crypto.js';
import { utf8 } from './bytes.js';

const MLS10 = 1;
const WIRE_FORMAT_PUBLIC = 1;
const SENDER_EXTERNAL = 2;
const CONTENT_TYPE_PROPOSAL = 2;
const PROPOSAL_REMOVE = 3;
const PROPOSAL_GROUP_CONTEXT_EXTENSIONS = 7;

interface ExternalProposalBase {
  groupId: string;
  epoch: bigint;
  /**
   * Index of the hub in the group's external_senders: RFC 9420's index into the
   * `ExternalSender external_senders<V>` vector (rooms created before the ts-mls patch, with one
   * bare sender per extension, index the same way: src-shared/mls-extensions.ts externalSendersOf).
   */
  senderIndex: number;
  /** Ed25519 seed of the hub's external-sender key. */
  signingKey: Uint8Array;
}

export interface ExternalRemove extends ExternalProposalBase {
  /** Leaf index of the member to remove. */
  removed: number;
}

export interface ExternalGroupContextExtensions extends ExternalProposalBase {
  /** The whole new GroupContext extension list (RFC 9420 12.1.7), in order. */
  extensions: readonly { type: number; data: Uint8Array }[];
}

/** Signs a proposal body (ProposalType and its fields) as external sender `senderIndex`. */
function externalProposal(p: ExternalProposalBase, proposal: Uint8Array): Uint8Array {
  const content = new TlsWriter()
    .opaqueV(utf8(p.groupId))
    .u64(p.epoch)
    .u8(SENDER_EXTERNAL)
    .u32(p.senderIndex)
    .opaqueV(new Uint8Array(0)) // authenticated_data
    .u8(CONTENT_TYPE_PROPOSAL)
    .bytes(proposal)
    .finish();
  const tbs = new TlsWriter().u16(MLS10).u16(WIRE_FORMAT_PUBLIC).bytes(content).finish();
  const signature = signWithLabel(p.signingKey, 'FramedContentTBS', tbs);
  return new TlsWriter().u16(MLS10).u16(WIRE_FORMAT_PUBLIC).bytes(content).opaqueV(signature).finish();
}

/** MLSMessage(PublicMessage) carrying one Remove proposal from an external sender. */
export function externalRemoveProposal(p: ExternalRemove): Uint8Array {
  return externalProposal(p, new TlsWriter().u16(PROPOSAL_REMOVE).u32(p.removed).finish());
}

/** MLSMessage(PublicMessage) carrying one GroupContextExtensions proposal from an external sender. */
export function externalGroupContextExtensionsProposal(p: ExternalGroupContextExtensions): Uint8Array {
  const list = new TlsWriter();
  for (const e of p.extensions) list.u16(e.type).opaqueV(e.data);
  return externalProposal(p, new TlsWriter().u16(PROPOSAL_GROUP_CONTEXT_EXTENSIONS).opaqueV(list.finish()).finish());
}
