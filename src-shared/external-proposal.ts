// MLS proposals a hub sends as an external sender (RFC 9420 12.1.8): the hub is listed in its
// rooms' external_senders GroupContext extension and signs Remove proposals for devices that must
// leave (e.g. of a deleted account) without being a member. Built by hand with the TLS writer so
// the provider needs no MLS library: a PublicMessage from an external sender carries no
// membership tag, and its FramedContentTBS has no GroupContext.

import { TlsWriter } from './tls.js';
import { signWithLabel } from './mls-crypto.js';
import { utf8 } from './bytes.js';

const MLS10 = 1;
const WIRE_FORMAT_PUBLIC = 1;
const SENDER_EXTERNAL = 2;
const CONTENT_TYPE_PROPOSAL = 2;
const PROPOSAL_REMOVE = 3;

export interface ExternalRemove {
  groupId: string;
  epoch: bigint;
  /** Index of the hub in the group's external_senders list. */
  senderIndex: number;
  /** Leaf index of the member to remove. */
  removed: number;
  /** Ed25519 seed of the hub's external-sender key. */
  signingKey: Uint8Array;
}

/** MLSMessage(PublicMessage) carrying one Remove proposal from an external sender. */
export function externalRemoveProposal(p: ExternalRemove): Uint8Array {
  const content = new TlsWriter()
    .opaqueV(utf8(p.groupId))
    .u64(p.epoch)
    .u8(SENDER_EXTERNAL)
    .u32(p.senderIndex)
    .opaqueV(new Uint8Array(0)) // authenticated_data
    .u8(CONTENT_TYPE_PROPOSAL)
    .u16(PROPOSAL_REMOVE)
    .u32(p.removed)
    .finish();
  const tbs = new TlsWriter().u16(MLS10).u16(WIRE_FORMAT_PUBLIC).bytes(content).finish();
  const signature = signWithLabel(p.signingKey, 'FramedContentTBS', tbs);
  return new TlsWriter().u16(MLS10).u16(WIRE_FORMAT_PUBLIC).bytes(content).opaqueV(signature).finish();
}
