// A big commit decoded without one long event-loop stall (issue 13).
//
// Why: decoding a 1,000-member Add commit (300 KB, a thousand KeyPackages) is one synchronous call
// of ts-mls's decoder, 30 ms and more on the machine of the bench: the largest stall left on the
// receiving side. The proposals are nearly all of it. This module finds the commit's proposals<V>
// vector (the PublicMessage header before it is a few fixed fields), decodes its ProposalOrRefs one
// by one with a yield point between them (cooperative.ts), and lends the results to ts-mls's decoder
// (scripts/patch-ts-mls.mjs, patch 10), which then assembles the message from them. What ts-mls
// decodes is unchanged: the same decoder on the same bytes, only earlier; anything this module does
// not understand (another wireformat, a malformed header) is simply left to the one-piece decode.

import type { ProposalOrRef } from 'ts-mls';
import { decodeProtocolVersion } from 'ts-mls/protocolVersion.js';
import { decodeWireformat } from 'ts-mls/wireformat.js';
import { decodeVarLenData, determineLength } from 'ts-mls/codec/variableLength.js';
import { decodeSender } from 'ts-mls/sender.js';
import { decodeContentType } from 'ts-mls/contentType.js';
import { decodeProposalOrRef, mimiDecodedAhead } from 'ts-mls/proposalOrRefType.js';
import { cooperate } from './cooperative.js';

/** Smaller messages decode in well under a millisecond: not worth the detour. */
export const DECODE_AHEAD_MIN_BYTES = 16 * 1024;

/** Where the proposals<V> content of a commit PublicMessage lies in `bytes`, if it is one. */
export function commitProposalsSpan(bytes: Uint8Array): { start: number; end: number } | undefined {
  try {
    let at = 0;
    const version = decodeProtocolVersion(bytes, at);
    if (version === undefined) return undefined;
    at += version[1];
    const wireformat = decodeWireformat(bytes, at);
    if (wireformat?.[0] !== 'mls_public_message') return undefined;
    at += wireformat[1];
    // FramedContent: group_id<V>, epoch (uint64), sender, authenticated_data<V>, content_type.
    const groupId = decodeVarLenData(bytes, at);
    if (groupId === undefined) return undefined;
    at += groupId[1] + 8;
    const sender = decodeSender(bytes, at);
    if (sender === undefined) return undefined;
    at += sender[1];
    const aad = decodeVarLenData(bytes, at);
    if (aad === undefined) return undefined;
    at += aad[1];
    const contentType = decodeContentType(bytes, at);
    if (contentType?.[0] !== 'commit') return undefined;
    at += contentType[1];
    // Commit: ProposalOrRef proposals<V>, optional<UpdatePath> path.
    const { length, lengthFieldSize } = determineLength(bytes, at);
    const start = at + lengthFieldSize;
    if (start + length > bytes.length) return undefined;
    return { start, end: start + length };
  } catch {
    return undefined;
  }
}

/**
 * The ProposalOrRefs of the commit in `bytes`, decoded with a yield point between them, keyed by
 * their absolute offset in `bytes.buffer` (what patch 10 looks up); undefined if `bytes` is small
 * or not a commit PublicMessage.
 */
export async function decodeProposalsAhead(bytes: Uint8Array): Promise<Map<number, [ProposalOrRef, number]> | undefined> {
  if (!(bytes instanceof Uint8Array) || bytes.length < DECODE_AHEAD_MIN_BYTES) return undefined;
  const span = commitProposalsSpan(bytes);
  if (span === undefined) return undefined;
  // The same view ts-mls's vector decoder hands its items: offsets and bounds match.
  const vector = bytes.subarray(span.start, span.end);
  const ahead = new Map<number, [ProposalOrRef, number]>();
  let cursor = 0;
  while (cursor < vector.length) {
    const due = cooperate();
    if (due !== undefined) await due;
    let item: [ProposalOrRef, number] | undefined;
    try {
      item = decodeProposalOrRef(vector, cursor);
    } catch {
      item = undefined;
    }
    // Malformed: the one-piece decode reports it.
    if (item === undefined || item[1] <= 0) break;
    ahead.set(vector.byteOffset + cursor, item);
    cursor += item[1];
  }
  return ahead;
}

/**
 * `decode(bytes)`, with the commit's proposals decoded ahead in slices when it is a big commit.
 * The lent results are visible to ts-mls only during the synchronous `decode` call.
 */
export async function decodeCooperatively<T>(bytes: Uint8Array, decode: (bytes: Uint8Array) => T): Promise<T> {
  const ahead = await decodeProposalsAhead(bytes);
  if (ahead === undefined || ahead.size === 0) return decode(bytes);
  const buffer = bytes.buffer;
  const before = mimiDecodedAhead.get(buffer);
  mimiDecodedAhead.set(buffer, ahead);
  try {
    return decode(bytes);
  } finally {
    if (before === undefined) mimiDecodedAhead.delete(buffer);
    else mimiDecodedAhead.set(buffer, before);
  }
}
