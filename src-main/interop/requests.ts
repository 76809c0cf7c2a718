// Well-formed draft-ietf-mimi-protocol-06 request bodies the conformance kit sends, each built so
// that the target can answer it without any state shared with the prober: an unknown room, a user
// nobody has, a query nothing matches. The answer the draft defines for that case is then the
// thing under test (probes.ts).
//
// Pure apart from fresh keys and randomness: no I/O.

import { utf8 } from '../../src-shared/bytes.js';
import { frankAad } from '../../src-shared/franking.js';
import { generateHpkeKeyPair, generateSignatureKeyPair, signWithLabel } from '../../src-shared/mls-crypto.js';
import { basicCredential, decodeRequiredCapabilities } from '../../src-shared/mls-structs.js';
import {
  encodeAbuseReport,
  encodeConsentEntry,
  encodeFanoutList,
  encodeGroupInfoRequest,
  encodeIdentifierRequest,
  encodeKeyMaterialRequest,
  encodeSubmitMessageRequest,
  encodeUpdateRequest,
  groupInfoRequestTbs,
  keyMaterialRequestTbs,
} from '../../src-shared/mimi-protocol.js';
import { applicationMessage, removeProposalMessage } from './mls-shapes.js';

/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, the suite every MIMI provider can be asked for. */
export const CIPHER_SUITE_1 = 1;
/** RequiredCapabilities with no requirements: three empty vectors. */
const NO_REQUIREMENTS = decodeRequiredCapabilities(new Uint8Array([0, 0, 0]));

/** Who is asking and whom the requests are about. `nonce` keeps every run's names fresh. */
export interface Parties {
  /** The target provider's domain. */
  target: string;
  /** The domain the prober acts as (its client certificate's). */
  as: string;
  nonce: string;
}

export const probeUser = (p: Parties): string => `mimi://${p.as}/u/interop-probe`;
/** A user of the target that does not exist (fresh per run). */
export const unknownTargetUser = (p: Parties): string => `mimi://${p.target}/u/interop-probe-${p.nonce}`;
/** A room "hosted" by the target that does not exist. */
export const unknownTargetRoom = (p: Parties): string => `mimi://${p.target}/r/interop-probe-${p.nonce}`;
/** A room hosted by the prober's domain, which the target knows nothing of. */
export const ownRoom = (p: Parties): string => `mimi://${p.as}/r/interop-probe-${p.nonce}`;
/** A room hosted by a third provider (neither the target nor the prober). */
export const thirdPartyRoom = (p: Parties): string => `mimi://hub-${p.nonce}.invalid/r/interop-probe`;

/** The group ID our rooms use: the UTF-8 room URI (another implementation may pass --group-id). */
export const defaultGroupId = (roomUri: string): Uint8Array => utf8(roomUri);

/** §5.2: a signed KeyMaterialRequest from the probe user for `targetUser`, for a room of ours. */
export function keyMaterialRequest(p: Parties, targetUser: string): Uint8Array {
  const keys = generateSignatureKeyPair();
  const tbs = {
    protocol: 'mls10' as const,
    requestingUser: probeUser(p),
    targetUser,
    roomId: ownRoom(p),
    acceptableCiphersuites: [CIPHER_SUITE_1],
    requiredCapabilities: NO_REQUIREMENTS,
    requesterSignatureKey: keys.publicKey,
    requesterCredential: basicCredential(probeUser(p)),
  };
  const signature = signWithLabel(keys.privateKey, 'KeyMaterialRequestTBS', keyMaterialRequestTbs(tbs));
  return encodeKeyMaterialRequest({ ...tbs, signature });
}

/** §5.3: an UpdateRequest whose HandshakeBundle is one Remove proposal in `epoch`. */
export function updateRequest(groupId: Uint8Array, epoch: bigint): Uint8Array {
  return encodeUpdateRequest({
    bundle: { contentType: 'proposal', proposalOrCommit: removeProposalMessage(groupId, epoch), moreProposals: [] },
  });
}

/**
 * §5.4: a SubmitMessageRequest with an application PrivateMessage in `epoch`. Its AAD carries a
 * franking tag (5.4.1, the frank_aad component) so that a hub of a franking room judges the epoch
 * rather than refusing an unfranked message first; the tag is random (nobody verifies it before a
 * message is accepted, and these never are).
 */
export function submitMessageRequest(groupId: Uint8Array, epoch: bigint, sendingUri: string): Uint8Array {
  const tag = new Uint8Array(32);
  crypto.getRandomValues(tag);
  return encodeSubmitMessageRequest({ protocol: 'mls10', appMessage: applicationMessage(groupId, epoch, frankAad(tag)), sendingUri });
}

/** §5.5: one FanoutMessage carrying an application message of `roomUri`'s group. */
export function notifyBody(roomUri: string, timestamp: bigint): Uint8Array {
  return encodeFanoutList([{ timestamp, message: applicationMessage(defaultGroupId(roomUri), 1n), kind: 'application' }]);
}

/** §5.6: a signed GroupInfoRequest from a client of the probe user, without a joining code. */
export function groupInfoRequest(p: Parties): Uint8Array {
  const keys = generateSignatureKeyPair();
  const tbs = {
    protocol: 'mls10' as const,
    cipherSuite: CIPHER_SUITE_1,
    requestingSignatureKey: keys.publicKey,
    requestingCredential: basicCredential(probeUser(p)),
    groupInfoPublicKey: generateHpkeKeyPair().publicKey,
  };
  const signature = signWithLabel(keys.privateKey, 'GroupInfoRequestTBS', groupInfoRequestTbs(tbs));
  return encodeGroupInfoRequest({ ...tbs, signature });
}

/** §5.7 requestConsent: cancel a request (there is none) from the probe user to an unknown user. */
export function consentCancel(p: Parties): Uint8Array {
  return encodeConsentEntry({ consentOperation: 'cancel', requesterUri: probeUser(p), targetUri: unknownTargetUser(p), consentExtensions: [] });
}

/** §5.7 updateConsent: the probe user revokes consent for an unknown user of the target. */
export function consentRevoke(p: Parties): Uint8Array {
  return encodeConsentEntry({ consentOperation: 'revoke', requesterUri: unknownTargetUser(p), targetUri: probeUser(p), consentExtensions: [] });
}

/** §5.8: an IdentifierRequest for a nickname nobody has. */
export function identifierQuery(p: Parties): Uint8Array {
  return encodeIdentifierRequest({ queryElements: [{ searchType: 'nick', searchValue: `interop-probe-${p.nonce}` }], idRequestExtensions: [] });
}

/** §5.9: an AbuseReport without messages, about an unknown user of the target. */
export function abuseReport(p: Parties): Uint8Array {
  return encodeAbuseReport({
    reportingUser: probeUser(p),
    allegedAbuserUri: unknownTargetUser(p),
    reasonCode: 0,
    note: 'MIMI conformance kit probe: please ignore',
    messages: [],
    abuseExtensions: [],
  });
}
