// MLSMessages (RFC 9420 6) that are well-formed on the wire but carry no valid cryptography, for
// the conformance kit's probes. A black-box prober is not a member of the target's groups, so it
// cannot produce a real signature or membership tag; what it can test is everything a provider
// must decide from the cleartext framing first: the room, the group, the epoch, the content type.
// A provider that accepted one of these messages (2xx success) would be skipping its checks.
//
// Pure: no I/O.

import { TlsWriter } from '../../src-shared/tls.js';

const MLS10 = 1;
const WIRE_PUBLIC = 1;
const WIRE_PRIVATE = 2;
const CONTENT_APPLICATION = 1;
const CONTENT_PROPOSAL = 2;
const SENDER_MEMBER = 1;
const PROPOSAL_REMOVE = 3;
/** Ed25519 signature and HMAC-SHA256 sizes of cipher suite 1 (the framing only needs the lengths). */
const SIGNATURE_SIZE = 64;
const MAC_SIZE = 32;

/**
 * A PublicMessage carrying a Remove proposal (of `removedLeaf`) from the member at leaf 0, in
 * `epoch` of the group `groupId`. Signature and membership tag are zero bytes.
 */
export function removeProposalMessage(groupId: Uint8Array, epoch: bigint, removedLeaf = 1): Uint8Array {
  return new TlsWriter()
    .u16(MLS10)
    .u16(WIRE_PUBLIC)
    .opaqueV(groupId)
    .u64(epoch)
    .u8(SENDER_MEMBER)
    .u32(0)
    .opaqueV(new Uint8Array(0)) // authenticated_data
    .u8(CONTENT_PROPOSAL)
    .u16(PROPOSAL_REMOVE)
    .u32(removedLeaf)
    .opaqueV(new Uint8Array(SIGNATURE_SIZE)) // FramedContentAuthData.signature
    .opaqueV(new Uint8Array(MAC_SIZE)) // membership_tag
    .finish();
}

/**
 * A PrivateMessage with application content in `epoch` of `groupId`; sender data and ciphertext
 * are filler. `authenticatedData` is the cleartext AAD, e.g. a SafeAAD with a franking tag.
 */
export function applicationMessage(groupId: Uint8Array, epoch: bigint, authenticatedData: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new TlsWriter()
    .u16(MLS10)
    .u16(WIRE_PRIVATE)
    .opaqueV(groupId)
    .u64(epoch)
    .u8(CONTENT_APPLICATION)
    .opaqueV(authenticatedData)
    .opaqueV(new Uint8Array(28).fill(0x5a)) // encrypted_sender_data
    .opaqueV(new Uint8Array(48).fill(0xa5)) // ciphertext
    .finish();
}
