// Message franking (draft-ietf-mimi-protocol-06, "Message Franking"): the pure parts, byte for
// byte as the draft gives them. The wiring (sender, hub, receivers, reports) is issue 10's next
// step; these are what it is built on. Frank itself and SubmitMessageResponse's optional frank are
// in mimi-protocol.ts.
//
// Sender:   franking_tag = HMAC_SHA256(salt, application_data), carried in the PrivateMessage's
//           authenticated_data as the Safe AAD item frank_aad (component 0x0020):
//             struct { ComponentID component_id; opaque aad_item_data<V>; } SafeAADItem;
//             struct { SafeAADItem aad_items<V>; } SafeAAD;     (items sorted by component_id)
//             struct { uint8 franking_tag[32]; } FrankAAD;
// Hub:      struct { IdentifierUri sender_uri; IdentifierUri room_uri; uint64 accepted_timestamp; } ServerFrankingContext;
//           server_frank = HMAC_SHA256(hub_key, franking_tag || ServerFrankingContext)
//           struct { opaque server_frank[32]; CipherSuite franking_signature_ciphersuite; ServerFrankingContext context; } FrankingIntegrityTBS;
//           franking_integrity_signature = SignWithLabel(franking_private_key, "FrankingIntegrityTBS", FrankingIntegrityTBS)
// Room:     struct { SignaturePublicKey franking_signature_key; Credential credential; } FrankingAgentData;
//           (the franking_agent component 0x0021 of the GroupContext's app_data_dictionary)
// ComponentID is uint16 (draft-ietf-mls-extensions); IdentifierUri is `opaque uri<V>` (UTF-8).
// The draft says `opaque server_frank[32]` in the TBS: a fixed 32 bytes, as `uint8 server_frank[32]` in Frank.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { bytesEqual, concatBytes, fromUtf8, utf8 } from './bytes.js';
import { signWithLabelFast, verifyWithLabelFast } from './labelled-signature-node.js';
import { readCredential, StructReader, writeCredential, type Credential } from './mls-structs.js';
import { TlsReader, TlsWriter } from './tls.js';

export const FRANK_AAD_COMPONENT_ID = 0x0020;
export const FRANKING_AGENT_COMPONENT_ID = 0x0021;
export const FRANKING_INTEGRITY_LABEL = 'FrankingIntegrityTBS';
const TAG_SIZE = 32;

export class FrankingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrankingError';
  }
}

const hmac = (key: Uint8Array, data: Uint8Array): Uint8Array => new Uint8Array(createHmac('sha256', key).update(data).digest());

// ---- Safe AAD ----

export interface SafeAadItem {
  componentId: number;
  data: Uint8Array;
}

/** A SafeAAD with these items, sorted by component id (two items of one component are refused). */
export function encodeSafeAad(items: readonly SafeAadItem[]): Uint8Array {
  const sorted = [...items].sort((a, b) => a.componentId - b.componentId);
  for (let i = 1; i < sorted.length; i++) if (sorted[i].componentId === sorted[i - 1].componentId) throw new FrankingError(`Safe AAD component ${sorted[i].componentId} appears twice`);
  const list = new TlsWriter();
  for (const it of sorted) list.u16(it.componentId).opaqueV(it.data);
  return new TlsWriter().opaqueV(list.finish()).finish();
}

/** The items of a SafeAAD, refusing one that is not sorted by component id or has trailing bytes. */
export function decodeSafeAad(b: Uint8Array): SafeAadItem[] {
  try {
    const r = new TlsReader(b);
    const list = new TlsReader(r.opaqueV());
    r.done();
    const out: SafeAadItem[] = [];
    while (list.remaining > 0) {
      const componentId = list.u16();
      if (out.length && componentId <= out[out.length - 1].componentId) throw new Error('aad_items are not in increasing component_id order');
      out.push({ componentId, data: list.opaqueV() });
    }
    return out;
  } catch (e) {
    throw new FrankingError(`malformed SafeAAD: ${(e as Error).message}`);
  }
}

/** The franking tag a message's authenticated_data carries, if any. */
export function frankingTagOf(authenticatedData: Uint8Array): Uint8Array | undefined {
  if (authenticatedData.length === 0) return undefined;
  const item = decodeSafeAad(authenticatedData).find((i) => i.componentId === FRANK_AAD_COMPONENT_ID);
  if (!item) return undefined;
  if (item.data.length !== TAG_SIZE) throw new FrankingError(`frank_aad holds ${item.data.length} bytes, not a 32-byte franking_tag`);
  return item.data;
}

// ---- sender ----

/** franking_tag = HMAC_SHA256(salt, application_data); `salt` is the mimi-content's 16-byte salt. */
export function frankingTag(salt: Uint8Array, applicationData: Uint8Array): Uint8Array {
  if (salt.length !== 16) throw new FrankingError(`a mimi-content salt is 16 bytes, not ${salt.length}`);
  return hmac(salt, applicationData);
}

/** The authenticated_data of a franked PrivateMessage: SafeAAD with the frank_aad item. */
export function frankAad(tag: Uint8Array): Uint8Array {
  if (tag.length !== TAG_SIZE) throw new FrankingError('a franking_tag is 32 bytes');
  return encodeSafeAad([{ componentId: FRANK_AAD_COMPONENT_ID, data: tag }]);
}

// ---- hub ----

export interface ServerFrankingContext {
  senderUri: string;
  roomUri: string;
  acceptedTimestamp: bigint;
}

export function encodeServerFrankingContext(c: ServerFrankingContext): Uint8Array {
  return new TlsWriter().opaqueV(utf8(c.senderUri)).opaqueV(utf8(c.roomUri)).u64(c.acceptedTimestamp).finish();
}

export function decodeServerFrankingContext(b: Uint8Array): ServerFrankingContext {
  try {
    const r = new TlsReader(b);
    const c = { senderUri: fromUtf8(r.opaqueV()), roomUri: fromUtf8(r.opaqueV()), acceptedTimestamp: r.u64() };
    r.done();
    return c;
  } catch (e) {
    throw new FrankingError(`malformed ServerFrankingContext: ${(e as Error).message}`);
  }
}

/** server_frank = HMAC_SHA256(hub_key, franking_tag || context) */
export function serverFrank(hubKey: Uint8Array, tag: Uint8Array, context: ServerFrankingContext): Uint8Array {
  return hmac(hubKey, concatBytes(tag, encodeServerFrankingContext(context)));
}

/** Does `frank` come from `hubKey` for this tag and context (the hub checking its own frank in a report)? */
export function serverFrankValid(hubKey: Uint8Array, tag: Uint8Array, context: ServerFrankingContext, frank: Uint8Array): boolean {
  const expected = serverFrank(hubKey, tag, context);
  return frank.length === expected.length && timingSafeEqual(expected, frank);
}

export function frankingIntegrityTbs(frank: Uint8Array, ciphersuite: number, context: ServerFrankingContext): Uint8Array {
  if (frank.length !== TAG_SIZE) throw new FrankingError('a server_frank is 32 bytes');
  return concatBytes(frank, new TlsWriter().u16(ciphersuite).finish(), encodeServerFrankingContext(context));
}

/** The Frank the hub returns and fans out (mimi-protocol.ts Frank). */
export function makeFrank(o: { hubKey: Uint8Array; frankingPrivateKey: Uint8Array; ciphersuite: number; tag: Uint8Array; context: ServerFrankingContext }) {
  const frank = serverFrank(o.hubKey, o.tag, o.context);
  return {
    serverFrank: frank,
    frankingSignatureCiphersuite: o.ciphersuite,
    frankingIntegritySignature: signWithLabelFast(o.frankingPrivateKey, FRANKING_INTEGRITY_LABEL, frankingIntegrityTbs(frank, o.ciphersuite, o.context)),
  };
}

// ---- the room's franking agent ----

export interface FrankingAgentData {
  frankingSignatureKey: Uint8Array;
  credential: Credential;
}

export function encodeFrankingAgentData(d: { frankingSignatureKey: Uint8Array; credential: Credential }): Uint8Array {
  const w = new TlsWriter().opaqueV(d.frankingSignatureKey);
  writeCredential(w, d.credential);
  return w.finish();
}

export function decodeFrankingAgentData(b: Uint8Array): FrankingAgentData {
  try {
    const r = new StructReader(b);
    const frankingSignatureKey = r.opaqueV();
    const credential = readCredential(r);
    r.done();
    return { frankingSignatureKey, credential };
  } catch (e) {
    throw new FrankingError(`malformed FrankingAgentData: ${(e as Error).message}`);
  }
}

// ---- receiver ----

/**
 * Why a received message's frank does not verify, or undefined when it does (the draft's
 * "Receiver verification of frank"). `sender`: the user the MLS leaf credential names;
 * `contentSender`/`contentRoom`: extensions 1 and 2 of the decrypted mimi-content.
 */
export function frankProblem(p: {
  frank: { serverFrank: Uint8Array; frankingSignatureCiphersuite: number; frankingIntegritySignature: Uint8Array };
  context: ServerFrankingContext;
  groupCiphersuite: number;
  agent: FrankingAgentData;
  hubDomain: string;
  authenticatedData: Uint8Array;
  applicationData: Uint8Array;
  salt: Uint8Array;
  sender: string;
  contentSender: string | undefined;
  contentRoom: string | undefined;
  roomUri: string;
}): string | undefined {
  if (p.frank.frankingSignatureCiphersuite !== p.groupCiphersuite) return `it names cipher suite ${p.frank.frankingSignatureCiphersuite}, the room uses ${p.groupCiphersuite}`;
  const agent = p.agent.credential.credentialType === 'basic' ? fromUtf8(p.agent.credential.identity) : '';
  if (agent !== `mimi://${p.hubDomain}` && agent !== p.hubDomain) return `the room's franking agent is ${agent || 'not a basic credential'}, not the hub ${p.hubDomain}`;
  if (!verifyWithLabelFast(p.agent.frankingSignatureKey, FRANKING_INTEGRITY_LABEL, frankingIntegrityTbs(p.frank.serverFrank, p.frank.frankingSignatureCiphersuite, p.context), p.frank.frankingIntegritySignature)) {
    return "the frank's integrity signature is not the franking agent's";
  }
  let tag: Uint8Array | undefined;
  try {
    tag = frankingTagOf(p.authenticatedData);
  } catch (e) {
    return (e as Error).message;
  }
  if (!tag) return 'the message carries no franking_tag';
  if (!bytesEqual(tag, frankingTag(p.salt, p.applicationData))) return 'the franking_tag is not the HMAC of the content under its salt';
  if (p.contentSender !== p.sender) return `the content names sender ${p.contentSender ?? 'nobody'}, the MLS sender is ${p.sender}`;
  if (p.context.senderUri !== p.sender) return `the hub franked it as from ${p.context.senderUri}, the MLS sender is ${p.sender}`;
  if (p.contentRoom !== p.roomUri || p.context.roomUri !== p.roomUri) return `it is franked for room ${p.context.roomUri} (content: ${p.contentRoom ?? 'none'}), not ${p.roomUri}`;
  return undefined;
}

/**
 * Why a reported message (draft-ietf-mimi-protocol-06 AbusiveMessage) does not prove what the
 * report says, as the hub that franked it checks it: the content's own franking tag, the hub's
 * server frank under the key in force at `acceptedTimestamp` (`hubKeyAt`), the integrity
 * signature, and that the content names the alleged sender and this room. Undefined when it holds.
 */
export function abusiveMessageProblem(p: {
  content: Uint8Array;
  salt: Uint8Array;
  contentSender: string | undefined;
  contentRoom: string | undefined;
  frank: { serverFrank: Uint8Array; frankingSignatureCiphersuite: number; frankingIntegritySignature: Uint8Array };
  acceptedTimestamp: bigint;
  alleged: string;
  roomUri: string;
  hubKeyAt: (ts: number) => Uint8Array | undefined;
  frankingPublicKey: Uint8Array;
}): string | undefined {
  if (p.contentSender !== p.alleged) return `the message names ${p.contentSender ?? 'no'} sender, not the reported ${p.alleged}`;
  if (p.contentRoom !== p.roomUri) return `the message names room ${p.contentRoom ?? 'none'}, not ${p.roomUri}`;
  const context = { senderUri: p.alleged, roomUri: p.roomUri, acceptedTimestamp: p.acceptedTimestamp };
  const key = p.hubKeyAt(Number(p.acceptedTimestamp));
  if (!key) return 'no franking key of this hub was in force at that time';
  if (!serverFrankValid(key, frankingTag(p.salt, p.content), context, p.frank.serverFrank)) {
    return 'the frank is not this hub’s for that content, sender, room and time (altered text, a swapped sender or room, or a forged frank)';
  }
  if (!verifyWithLabelFast(p.frankingPublicKey, FRANKING_INTEGRITY_LABEL, frankingIntegrityTbs(p.frank.serverFrank, p.frank.frankingSignatureCiphersuite, context), p.frank.frankingIntegritySignature)) {
    return 'the frank’s integrity signature is not this hub’s';
  }
  return undefined;
}
