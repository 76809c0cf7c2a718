// The MIMI test vectors this project publishes (`mimi interop vectors DIR`, docs/interop-vectors.md):
// for every structure we put on the wire, a few values and the exact bytes they encode to, so that
// another implementation can check its encoder and decoder against ours without running ours.
//
// Two halves:
//   STRUCTURES  name → where it is specified, our encoder and decoder (pure; the tests and any
//               reader of the files use it to check a file case by case);
//   buildCases  the values, made from real MLS material (a group made by the engine: KeyPackages,
//               a Welcome, commits, proposals, an application message, signatures that verify),
//               so the embedded RFC 9420 objects are real, not filler. Keys are fresh on every run,
//               so two runs give different bytes; each file is consistent in itself, and the files
//               checked in under interop-vectors/ are the ones published.
//
// Structures of drafts that are not finished use the codepoints and choices in docs/ (each vector
// file names its document).

import { bytesEqual, utf8 } from '../../src-shared/bytes.js';
import { decodeJoinTicket, encodeJoinTicket, signJoinTicket } from '../../src-shared/join-ticket.js';
import { decodeKnock, encodeKnock } from '../../src-shared/knock.js';
import { decodeMemberProfile, encodeMemberProfile } from '../../src-shared/member-profile.js';
import { decodeMessageStatusReport, encodeMessageStatusReport } from '../../src-shared/message-status.js';
import { requestTokens, TokenIssuer } from '../../src-shared/key-package-tokens.js';
import * as P from '../../src-shared/mimi-protocol.js';
import { encryptWithLabel, generateHpkeKeyPair, generateSignatureKeyPair, signWithLabel } from '../../src-shared/mls-crypto.js';
import {
  basicCredential,
  decodeExternalSender,
  decodeGroupInfo,
  decodeKeyPackage,
  decodeRatchetTree,
  decodeWelcome,
  encodeExternalSender,
  unwrapMlsMessage,
  keyPackageRef,
} from '../../src-shared/mls-structs.js';
import * as KP from '../../src-shared/key-package-request.js';
import * as KV from '../../src-shared/key-package-vouch.js';
import { encodeKeyConfigs } from '../../src-shared/ohttp.js';
import * as RS from '../../src-shared/room-state.js';
import { decodeTypingIndicator, encodeTypingIndicator } from '../../src-shared/typing-indicator.js';
import type { MlsEngine } from '../mls/engine.js';

export const VECTORS_FORMAT = 'mimi-desktop-vectors';
export const VECTORS_VERSION = 1;

const PROTOCOL = 'draft-ietf-mimi-protocol-06';
const ROOM_POLICY = 'draft-ietf-mimi-room-policy-03 (with the -04 notes), docs/room-state.md';

export interface Structure {
  /** The file name (without .json) and the struct name the spec gives. */
  name: string;
  /** Where it is defined: a document and its section title. */
  spec: string;
  encode(value: never): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

const s = (name: string, spec: string, encode: (v: never) => Uint8Array, decode: (b: Uint8Array) => unknown): Structure => ({ name, spec, encode, decode });

/** Every structure we publish vectors for, in the order of the files' index. */
export const STRUCTURES: readonly Structure[] = [
  s('IdentifierUri', `${PROTOCOL} § MIMI Endpoints and Framing`, P.encodeIdentifierUri as never, P.decodeIdentifierUri),
  s('KeyMaterialRequestTBS', `${PROTOCOL} § Fetch Key Material`, P.encodeKeyMaterialRequestTBS, P.decodeKeyMaterialRequestTBS),
  s('KeyMaterialRequest', `${PROTOCOL} § Fetch Key Material`, P.encodeKeyMaterialRequest, P.decodeKeyMaterialRequest),
  s('ClientKeyMaterial', `${PROTOCOL} § Fetch Key Material`, P.encodeClientKeyMaterial, P.decodeClientKeyMaterial),
  s('KeyMaterialResponse', `${PROTOCOL} § Fetch Key Material`, P.encodeKeyMaterialResponse, P.decodeKeyMaterialResponse),
  s('BulkKeyMaterialRequest', 'docs/decisions.md (bulk /keyMaterial, a project extension)', P.encodeBulkKeyMaterialRequest, P.decodeBulkKeyMaterialRequest),
  s('BulkKeyMaterialResponse', 'docs/decisions.md (bulk /keyMaterial, a project extension)', P.encodeBulkKeyMaterialResponse, P.decodeBulkKeyMaterialResponse),
  s('RatchetTreeOption', 'draft-mahy-mls-ratchet-tree-options-03 § RatchetTreeOption', P.encodeRatchetTreeOption, P.decodeRatchetTreeOption),
  s('PartialGroupInfo', 'draft-mahy-mls-ratchet-tree-options-03 § PartialGroupInfo', P.encodePartialGroupInfo, P.decodePartialGroupInfo),
  s('GroupInfoOption', `${PROTOCOL} § Update Room State`, P.encodeGroupInfoOption, P.decodeGroupInfoOption),
  s('HandshakeBundle', `${PROTOCOL} § Update Room State`, P.encodeHandshakeBundle, P.decodeHandshakeBundle),
  s('UpdateRequest', `${PROTOCOL} § Update Room State`, P.encodeUpdateRequest, P.decodeUpdateRequest),
  s('UpdateRoomResponse', `${PROTOCOL} § Update Room State`, P.encodeUpdateRoomResponse, P.decodeUpdateRoomResponse),
  s('SubmitMessageRequest', `${PROTOCOL} § Submit a Message`, P.encodeSubmitMessageRequest, P.decodeSubmitMessageRequest),
  s('SubmitMessageResponse', `${PROTOCOL} § Submit a Message`, P.encodeSubmitMessageResponse, P.decodeSubmitMessageResponse),
  s('Frank', `${PROTOCOL} § Message Franking`, P.encodeFrank, P.decodeFrank),
  s('FrankAAD', `${PROTOCOL} § Message Franking`, P.encodeFrankAAD, P.decodeFrankAAD),
  s('FrankingAgentData', `${PROTOCOL} § Message Franking`, P.encodeFrankingAgentData, P.decodeFrankingAgentData),
  s('ServerFrankingContext', `${PROTOCOL} § Hub processing`, P.encodeServerFrankingContext, P.decodeServerFrankingContext),
  s('FrankingIntegrityTBS', `${PROTOCOL} § Hub processing`, P.encodeFrankingIntegrityTBS, P.decodeFrankingIntegrityTBS),
  s('FanoutMessage', `${PROTOCOL} § Fanout Messages and Room Events`, P.encodeFanoutMessage, P.decodeFanoutMessage),
  s('GroupInfoRequestTBS', `${PROTOCOL} § Claim group key information`, P.encodeGroupInfoRequestTBS, P.decodeGroupInfoRequestTBS),
  s('GroupInfoRequest', `${PROTOCOL} § Claim group key information`, P.encodeGroupInfoRequest, P.decodeGroupInfoRequest),
  s('PendingProposal', `${PROTOCOL} § Claim group key information`, P.encodePendingProposal, P.decodePendingProposal),
  s('GroupInfoRatchetTreeTBE', `${PROTOCOL} § Claim group key information`, P.encodeGroupInfoRatchetTreeTBE, P.decodeGroupInfoRatchetTreeTBE),
  s('GroupInfoResponseTBS', `${PROTOCOL} § Claim group key information`, P.encodeGroupInfoResponseTBS, P.decodeGroupInfoResponseTBS),
  s('GroupInfoResponse', `${PROTOCOL} § Claim group key information`, P.encodeGroupInfoResponse, P.decodeGroupInfoResponse),
  s('AppDataDictionary', `${PROTOCOL} § Convey explicit consent (consent_extensions)`, P.encodeAppDataDictionary, P.decodeAppDataDictionary),
  s('ConsentEntry', `${PROTOCOL} § Convey explicit consent`, P.encodeConsentEntry, P.decodeConsentEntry),
  s('ConsentScope', `${PROTOCOL} § Convey explicit consent`, P.encodeConsentScope, P.decodeConsentScope),
  s('QueryElement', `${PROTOCOL} § Find internal address`, P.encodeQueryElement, P.decodeQueryElement),
  s('IdentifierRequest', `${PROTOCOL} § Find internal address`, P.encodeIdentifierRequest, P.decodeIdentifierRequest),
  s('UserProfile', `${PROTOCOL} § Find internal address`, P.encodeUserProfile, P.decodeUserProfile),
  s('IdentifierResponse', `${PROTOCOL} § Find internal address`, P.encodeIdentifierResponse, P.decodeIdentifierResponse),
  s('IdentifierPageRequest', 'docs/decisions.md (directory paging component)', P.encodeIdentifierPageRequest, P.decodeIdentifierPageRequest),
  s('IdentifierPageResponse', 'docs/decisions.md (directory paging component)', P.encodeIdentifierPageResponse, P.decodeIdentifierPageResponse),
  s('AbuseReport', `${PROTOCOL} § Report abuse`, P.encodeAbuseReport, P.decodeAbuseReport),
  s('ParticipantListData', `${PROTOCOL} § Participant List; ${ROOM_POLICY}`, RS.encodeParticipantListData as never, RS.decodeParticipantListData),
  s('ParticipantListUpdate', `${PROTOCOL} § Participant List`, RS.encodeParticipantListUpdate as never, RS.decodeParticipantListUpdate),
  s('RoomMetaData', `${PROTOCOL} § Room Metadata`, RS.encodeRoomMetaData as never, RS.decodeRoomMetaData),
  s('RoleData', ROOM_POLICY, RS.encodeRoleData as never, RS.decodeRoleData),
  s('BaseRoomPolicy', ROOM_POLICY, RS.encodeBaseRoomPolicy as never, RS.decodeBaseRoomPolicy),
  s('StatusNotificationPolicy', 'draft-mahy-mimi-message-status-01 § status_notification_policy (component 0x0028)', RS.encodeStatusNotificationPolicy as never, RS.decodeStatusNotificationPolicy),
  s('MessageStatusReport', 'draft-mahy-mimi-message-status-01 § MessageStatusReport', encodeMessageStatusReport as never, (b) => ({ statuses: decodeMessageStatusReport(b) })),
  s('TypingIndicator', 'docs/receipts-and-typing.md (application/vnd.mimi-desktop.typing)', encodeTypingIndicator as never, decodeTypingIndicator),
  s('MemberProfile', 'docs/decisions.md "Profiles in rooms"', encodeMemberProfile as never, decodeMemberProfile),
  s('Knock', 'docs/join-links.md (knocks)', encodeKnock as never, decodeKnock),
  s('JoinTicket', 'docs/join-links.md (join tickets)', encodeJoinTicket as never, decodeJoinTicket),
  s('KeyPackageRequest', 'seed-001 (the delivery-service document) § Key Packages', KP.encodeKeyPackageRequest as never, KP.decodeKeyPackageRequest),
  s('KeyPackageResponse', 'seed-001 § Key Packages', KP.encodeKeyPackageResponse as never, KP.decodeKeyPackageResponse),
  s('KeyPackageRequests', 'docs/ohttp-key-packages.md (the bundle seed-001 allows)', KP.encodeKeyPackageRequests as never, KP.decodeKeyPackageRequests),
  s('KeyPackageResults', 'docs/ohttp-key-packages.md', KP.encodeKeyPackageResults as never, KP.decodeKeyPackageResults),
  s('KeyPackageTokenKeys', 'docs/ohttp-key-packages.md (IdentifierResponse component 0xF0B0)', KP.encodeKeyPackageTokenKeys as never, KP.decodeKeyPackageTokenKeys),
  s('KeyPackageTokenRequest', 'docs/ohttp-key-packages.md (IdentifierRequest component 0xF0B1)', KP.encodeKeyPackageTokenRequest as never, KP.decodeKeyPackageTokenRequest),
  s('KeyPackageTokenResponse', 'docs/ohttp-key-packages.md (IdentifierResponse component 0xF0B2)', KP.encodeKeyPackageTokenResponse as never, KP.decodeKeyPackageTokenResponse),
  s('KeyPackageVouches', 'docs/ohttp-key-packages.md (SafeAAD component 0xF0B3 of a commit)', KV.encodeVouches as never, (b) => ({ vouches: KV.decodeVouches(b) })),
  s('OhttpKeysEntry', 'docs/ohttp-key-packages.md (MIMI endpoint ohttpKeys)', KV.encodeOhttpKeysEntry as never, KV.decodeOhttpKeysEntry),
];

/** MessageStatusReport is a bare vector: its vectors wrap it as `{statuses: [...]}` so every value is an object. */
const ENCODE_ADAPTERS: Record<string, (v: never) => unknown> = {
  MessageStatusReport: (v: { statuses: unknown }) => v.statuses,
  KeyPackageVouches: (v: { vouches: unknown }) => v.vouches,
};

/** Encode a value as the named structure (the form the vector files hold). */
export function encodeStructure(st: Structure, value: unknown): Uint8Array {
  const adapt = ENCODE_ADAPTERS[st.name];
  return st.encode((adapt ? adapt(value as never) : value) as never);
}

export interface VectorCase {
  name: string;
  value: unknown;
}

const ALICE = 'mimi://a.example/d/alice/laptop';
const BOB = 'mimi://b.example/d/bob/phone';
const CAROL = 'mimi://c.example/d/carol/desk';
const ALICE_USER = 'mimi://a.example/u/alice';
const BOB_USER = 'mimi://b.example/u/bob';
const ROOM = 'mimi://a.example/r/clubhouse';
const T0 = 1_767_225_600_000n; // 2026-01-01T00:00:00Z in ms

/** The values of every structure, from a real group (alice adds bob; a commit; proposals; a message). */
export async function buildCases(engine: MlsEngine): Promise<Map<string, VectorCase[]>> {
  const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
  const bobKps = await engine.generateKeyPackages(bob, 2);
  const carolKp = (await engine.generateKeyPackages(carol, 1))[0];
  const session0 = await engine.createGroup(alice, ROOM);
  const added = await session0.add([bobKps[0].publicMessage]);
  const session1 = added.pending;
  const appMessage = (await session1.encrypt(utf8('hello, bob'))).message;
  const updated = await session1.update();
  const proposals = (await session1.proposeRemove([BOB])).proposals;

  const bobKeyPackage = decodeKeyPackage(unwrapMlsMessage(bobKps[1].publicMessage).body);
  const carolKeyPackage = decodeKeyPackage(unwrapMlsMessage(carolKp.publicMessage).body);
  const welcome = decodeWelcome(unwrapMlsMessage(added.welcome!).body);
  const groupInfo = decodeGroupInfo(unwrapMlsMessage(added.groupInfo).body);
  const ratchetTree = decodeRatchetTree(added.ratchetTree);
  const hubKeys = generateSignatureKeyPair();
  const hubSender = decodeExternalSender(encodeExternalSender({ signatureKey: hubKeys.publicKey, credential: basicCredential('mimi://a.example') }));

  const cases = new Map<string, VectorCase[]>();
  const add = (structure: string, name: string, value: unknown) => {
    const list = cases.get(structure) ?? [];
    list.push({ name, value });
    cases.set(structure, list);
  };

  add('IdentifierUri', 'user', ALICE_USER);
  add('IdentifierUri', 'non-ASCII', 'mimi://a.example/u/zoë');

  const kmTbs = {
    protocol: 'mls10' as const,
    requestingUser: ALICE_USER,
    targetUser: BOB_USER,
    roomId: ROOM,
    acceptableCiphersuites: [1],
    requiredCapabilities: { extensionTypes: [0xf006], proposalTypes: [], credentialTypes: [1] },
    requesterSignatureKey: alice.signaturePublicKey,
    requesterCredential: basicCredential(ALICE),
  };
  const kmRequest = { ...kmTbs, signature: signWithLabel(alice.signaturePrivateKey, 'KeyMaterialRequestTBS', P.keyMaterialRequestTbs(kmTbs)) };
  add('KeyMaterialRequestTBS', 'alice asks for bob', kmTbs);
  add('KeyMaterialRequest', 'alice asks for bob, signed with her device key', kmRequest);

  const clients = [
    { clientStatus: 'success' as const, clientUri: BOB, keyPackage: bobKeyPackage },
    { clientStatus: 'keyMaterialExhausted' as const, clientUri: 'mimi://b.example/d/bob/tablet' },
    { clientStatus: 'nothingCompatible' as const, clientUri: 'mimi://b.example/d/bob/tv' },
  ];
  for (const c of clients) add('ClientKeyMaterial', c.clientStatus, c);
  const kmResponse = { protocol: 'mls10' as const, userStatus: 'partialSuccess' as const, userUri: BOB_USER, clients };
  add('KeyMaterialResponse', 'partial success: one KeyPackage, one exhausted, one incompatible', kmResponse);
  add('KeyMaterialResponse', 'user unknown', { protocol: 'mls10', userStatus: 'userUnknown', userUri: 'mimi://b.example/u/nobody', clients: [] });
  add('BulkKeyMaterialRequest', 'two requests', { requests: [kmRequest, kmRequest] });
  add('BulkKeyMaterialResponse', 'two responses', { responses: [kmResponse, { protocol: 'mls10', userStatus: 'userUnknown', userUri: 'mimi://b.example/u/nobody', clients: [] }] });

  const treeOptions = [
    { representation: 'full' as const, ratchetTree },
    { representation: 'httpsUri' as const, ratchetTreeUrl: 'https://a.example/trees/clubhouse', treeSignature: signWithLabel(hubKeys.privateKey, 'tree', added.ratchetTree) },
    { representation: 'distributionService' as const },
  ];
  for (const o of treeOptions) add('RatchetTreeOption', o.representation, o);
  const partial = { ratchetTreePresence: 'no_ratchet_tree' as const, groupInfoExtensions: groupInfo.extensions, signature: groupInfo.signature };
  add('PartialGroupInfo', 'no ratchet tree', partial);
  add('GroupInfoOption', 'full', { representation: 'full', groupInfo });
  add('GroupInfoOption', 'partial', { representation: 'partial', partialGroupInfo: partial });

  const addBundle = { proposalOrCommit: added.commit, contentType: 'commit' as const, welcome, groupInfoOption: { representation: 'full' as const, groupInfo }, ratchetTreeOption: { representation: 'full' as const, ratchetTree } };
  const updateBundle = { proposalOrCommit: updated.commit, contentType: 'commit' as const, groupInfoOption: { representation: 'full' as const, groupInfo: decodeGroupInfo(unwrapMlsMessage(updated.groupInfo).body) }, ratchetTreeOption: { representation: 'distributionService' as const } };
  const proposalBundle = { proposalOrCommit: proposals[0], contentType: 'proposal' as const, moreProposals: proposals.slice(1) };
  add('HandshakeBundle', 'commit adding bob, with Welcome, GroupInfo and tree', addBundle);
  add('HandshakeBundle', 'empty commit (path update)', updateBundle);
  add('HandshakeBundle', 'Remove proposal', proposalBundle);
  add('UpdateRequest', 'commit adding bob', { bundle: addBundle });
  add('UpdateRequest', 'Remove proposal', { bundle: proposalBundle });
  add('UpdateRoomResponse', 'success', { responseCode: 'success', errorDescription: '', acceptedTimestamp: T0 + 123n });
  add('UpdateRoomResponse', 'wrong epoch', { responseCode: 'wrongEpoch', errorDescription: 'the room is at epoch 42', currentEpoch: 42n });
  add('UpdateRoomResponse', 'not allowed', { responseCode: 'notAllowed', errorDescription: 'bob may not add users' });
  add('UpdateRoomResponse', 'invalid proposal', { responseCode: 'invalidProposal', errorDescription: 'unknown proposal', invalidProposals: [new Uint8Array(32).fill(1)] });

  add('SubmitMessageRequest', 'application message', { protocol: 'mls10', appMessage, sendingUri: ALICE_USER });
  const frankContext = { senderUri: ALICE_USER, roomUri: ROOM, acceptedTimestamp: T0 };
  const serverFrank = new Uint8Array(32).fill(0xf1);
  const integrityTbs = { serverFrank, frankingSignatureCiphersuite: 1, context: frankContext };
  const frank = { serverFrank, frankingSignatureCiphersuite: 1, frankingIntegritySignature: signWithLabel(hubKeys.privateKey, 'FrankingIntegrityTBS', P.encodeFrankingIntegrityTBS(integrityTbs)) };
  add('SubmitMessageResponse', 'accepted, franked', { protocol: 'mls10', statusCode: 'success', acceptedTimestamp: T0, frank });
  add('SubmitMessageResponse', 'accepted, not franked', { protocol: 'mls10', statusCode: 'success', acceptedTimestamp: T0 });
  add('SubmitMessageResponse', 'not allowed', { protocol: 'mls10', statusCode: 'notAllowed' });
  add('SubmitMessageResponse', 'epoch too old', { protocol: 'mls10', statusCode: 'epochTooOld', currentEpoch: 7n });
  add('Frank', 'signed by the hub', frank);
  add('FrankAAD', 'franking tag', { frankingTag: new Uint8Array(32).fill(7) });
  add('FrankingAgentData', "the hub's franking key", { frankingSignatureKey: hubKeys.publicKey, credential: basicCredential('mimi://a.example') });
  add('ServerFrankingContext', 'alice in the clubhouse', frankContext);
  add('FrankingIntegrityTBS', 'what the hub signs', integrityTbs);

  add('FanoutMessage', 'application, franked', { timestamp: T0 + 1n, message: appMessage, kind: 'application', frank });
  add('FanoutMessage', 'welcome with tree', { timestamp: T0 + 2n, message: added.welcome!, kind: 'welcome', ratchetTreeOption: { representation: 'full', ratchetTree } });
  add('FanoutMessage', 'proposal', { timestamp: T0 + 3n, message: proposals[0], kind: 'proposal', moreProposals: proposals.slice(1) });
  add('FanoutMessage', 'commit with an external proposal', { timestamp: T0 + 4n, message: updated.commit, kind: 'commit', externalProposals: [proposals[0]] });

  const joiner = generateHpkeKeyPair();
  const giTbs = { protocol: 'mls10' as const, cipherSuite: 1, requestingSignatureKey: carol.signaturePublicKey, requestingCredential: basicCredential(CAROL), groupInfoPublicKey: joiner.publicKey };
  const giTbsCode = { ...giTbs, joiningCode: utf8('join-1234') };
  add('GroupInfoRequestTBS', 'without joining code', giTbs);
  add('GroupInfoRequestTBS', 'with joining code', giTbsCode);
  add('GroupInfoRequest', 'without joining code', { ...giTbs, signature: signWithLabel(carol.signaturePrivateKey, 'GroupInfoRequestTBS', P.groupInfoRequestTbs(giTbs)) });
  add('GroupInfoRequest', 'with joining code', { ...giTbsCode, signature: signWithLabel(carol.signaturePrivateKey, 'GroupInfoRequestTBS', P.groupInfoRequestTbs(giTbsCode)) });
  const pending = [{ proposal: proposals[0], hubAcceptedTime: T0 }];
  add('PendingProposal', 'a Remove the hub holds', pending[0]);
  const tbe = { groupInfo, ratchetTreeOption: { representation: 'full' as const, ratchetTree }, pendingProposals: pending };
  add('GroupInfoRatchetTreeTBE', 'GroupInfo, tree and one pending proposal', tbe);
  const responseTbs = {
    protocol: 'mls10' as const,
    roomId: ROOM,
    status: 'success' as const,
    cipherSuite: 1,
    hubSender,
    encryptedGroupInfoAndTree: encryptWithLabel(joiner.publicKey, P.GROUP_INFO_TBE_LABEL, utf8(ROOM), P.encodeGroupInfoRatchetTreeTBE(tbe)),
  };
  add('GroupInfoResponseTBS', 'success', responseTbs);
  add('GroupInfoResponse', 'success, signed by the hub', { ...responseTbs, signature: signWithLabel(hubKeys.privateKey, 'GroupInfoResponseTBS', P.encodeGroupInfoResponseTBS(responseTbs)) });
  add('GroupInfoResponse', 'no such room', { protocol: 'mls10', roomId: ROOM, status: 'noSuchRoom' });

  const extensions = [{ componentId: 3, data: utf8('three') }];
  add('AppDataDictionary', 'one component', extensions);
  add('ConsentEntry', 'request for a room', { consentOperation: 'request', requesterUri: ALICE_USER, targetUri: BOB_USER, roomId: ROOM, consentExtensions: extensions });
  add('ConsentEntry', 'grant with KeyPackages', { consentOperation: 'grant', requesterUri: ALICE_USER, targetUri: BOB_USER, clientKeyPackages: [bobKeyPackage, carolKeyPackage], consentExtensions: [] });
  add('ConsentEntry', 'revoke', { consentOperation: 'revoke', requesterUri: ALICE_USER, targetUri: BOB_USER, consentExtensions: [] });
  add('ConsentScope', 'any room', { requesterUri: ALICE_USER, targetUri: BOB_USER });
  add('ConsentScope', 'one room', { requesterUri: ALICE_USER, targetUri: BOB_USER, roomId: ROOM });

  const queries = [
    { searchType: 'handle' as const, searchValue: 'im:alice@a.example' },
    { searchType: 'oidcStdClaim' as const, claimName: 'given_name', searchValue: 'Xavier' },
    { searchType: 'vcardField' as const, propertyName: 'ORG', searchValue: 'XYZ Corp' },
  ];
  for (const q of queries) add('QueryElement', q.searchType, q);
  const page = { cursor: utf8(ALICE_USER), limit: 25 };
  add('IdentifierPageRequest', 'second page', page);
  add('IdentifierPageResponse', 'next cursor', { nextCursor: utf8(BOB_USER) });
  add('IdentifierRequest', 'handle search, paged', { queryElements: queries.slice(0, 1), idRequestExtensions: [{ componentId: P.ID_PAGE_REQUEST_COMPONENT_ID, data: P.encodeIdentifierPageRequest(page) }] });
  const profile = { stableUri: ALICE_USER, fields: [{ fieldSource: 'oidcStdClaim' as const, fieldName: 'email', fieldValue: utf8('asmith@a.example') }] };
  add('UserProfile', 'one field', profile);
  add('IdentifierResponse', 'found', { responseCode: 'success', uri: [ALICE_USER], foundProfiles: [profile], idResponseExtensions: [] });
  add('IdentifierResponse', 'not found', { responseCode: 'notFound', uri: [], foundProfiles: [], idResponseExtensions: [] });

  add('AbuseReport', 'one franked message', {
    reportingUser: BOB_USER,
    allegedAbuserUri: ALICE_USER,
    reasonCode: 3,
    note: 'spam links',
    messages: [{ messageContent: utf8('opaque decrypted content'), frank, acceptedTimestamp: T0 }],
    abuseExtensions: [],
  });

  const state = RS.initialRoomState({ roomUri: ROOM, creator: ALICE_USER, roomName: 'Clubhouse', preset: 'moderated' });
  const withBob = { ...state, participants: [...state.participants, { user: BOB_USER, roleIndex: state.participants[0].roleIndex }] };
  add('ParticipantListData', 'alice and bob', { participants: withBob.participants });
  add('ParticipantListUpdate', 'bob added, carol removed', RS.diffParticipantList(
    [...state.participants, { user: 'mimi://c.example/u/carol', roleIndex: state.participants[0].roleIndex }],
    withBob.participants,
  ));
  add('RoomMetaData', 'named room', { ...state.metadata, roomDescriptions: [{ mediaType: 'text/plain', languageTag: 'en', descriptionContent: utf8('A room for the club') }], roomSubject: 'Friday' });
  add('RoleData', 'the moderated preset', state.policy);
  add('BaseRoomPolicy', 'pseudonyms allowed', state.base);
  add('StatusNotificationPolicy', 'delivery optional, read forbidden', { delivery: 'optional', read: 'forbidden' });
  add('MessageStatusReport', 'delivered and read', { statuses: [{ messageId: new Uint8Array(32).fill(0x11), status: 1 }, { messageId: new Uint8Array(32).fill(0x22), status: 2 }] });
  add('TypingIndicator', 'typing for 6 s', { typing: true, lifetime: 6 });
  add('TypingIndicator', 'stopped', { typing: false, lifetime: 6 });
  add('MemberProfile', 'display name', { displayName: 'Alice A.', updated: 1_767_225_600 });
  add('Knock', 'with a note and a KeyPackage', { targetRoom: ROOM, knocker: BOB_USER, note: 'hi, may I join?', keyPackages: [bobKps[1].publicMessage] });
  const hubSeed = generateSignatureKeyPair().privateKey;
  add('JoinTicket', 'member role, signed by the hub', signJoinTicket(hubSeed, { roomUri: ROOM, joiner: BOB, signatureKey: bob.signaturePublicKey, roleIndex: 1, codeId: new Uint8Array(16).fill(9), notAfter: 1_767_312_000 }));

  // KeyPackage requests over OHTTP, with a real Privacy Pass token for bob (key-package-tokens.ts).
  const issuer = new TokenIssuer('b.example', new Uint8Array(32).fill(0x42), 1);
  const asked = await requestTokens('b.example', BOB_USER, await issuer.publicKey(BOB_USER), 1);
  const responses = await issuer.issue(BOB_USER, asked.requests, 1);
  const [token] = await asked.finalize(responses);
  const kpRequest = { userId: BOB_USER, bearerToken: token, version: KP.MLS10, cipherSuite: 1 };
  add('KeyPackageRequest', "bob's KeyPackage with a token for bob", kpRequest);
  add('KeyPackageResponse', "one of bob's KeyPackages", { keyPackage: bobKeyPackage });
  add('KeyPackageRequests', 'two users', { requests: [kpRequest, { ...kpRequest, userId: 'mimi://b.example/u/carol' }] });
  add('KeyPackageResults', 'one found, one bad token', { results: [{ status: 'success', keyPackages: [bobKeyPackage] }, { status: 'badToken' }] });
  add('KeyPackageTokenKeys', "bob's token key", { keys: [{ user: BOB_USER, tokenKey: await issuer.publicKey(BOB_USER) }] });
  add('KeyPackageTokenRequest', 'alice asks for one token for bob', { requester: ALICE_USER, target: BOB_USER, tokenRequests: asked.requests });
  add('KeyPackageTokenResponse', 'issued', { status: 'issued', tokenResponses: responses });
  add('KeyPackageTokenResponse', 'no consent', { status: 'noConsent', tokenResponses: new Uint8Array() });
  // b.example vouches for bob's KeyPackage it handed out over OHTTP; alice's commit carries it.
  const providerB = generateSignatureKeyPair();
  const bobKpMessage = bobKps[1].publicMessage;
  add('KeyPackageVouches', "b.example vouches for bob's phone KeyPackage", {
    vouches: [KV.signVouch(providerB.privateKey, { keyPackageRef: keyPackageRef(unwrapMlsMessage(bobKpMessage).body), client: BOB, notAfter: Number(T0) + KV.VOUCH_LIFETIME_MS })],
  });
  const gatewayPublic = new Uint8Array(32).fill(0x09); // an X25519 public key's bytes (a vector needs no private key)
  add('OhttpKeysEntry', "b.example's gateway key, signed", KV.signOhttpKeys(providerB.privateKey, providerB.publicKey, encodeKeyConfigs([{ keyId: 1, kemId: 0x20, publicKey: gatewayPublic, suites: [{ kdfId: 1, aeadId: 1 }] }])));

  return cases;
}

/** Bytes equal after a round trip through the structure: what a vector file promises for each case. */
export function roundTrips(st: Structure, encoded: Uint8Array): boolean {
  return bytesEqual(encodeStructure(st, st.decode(encoded)), encoded);
}
