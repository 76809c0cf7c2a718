import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCommit,
  createGroup,
  createProposal,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type Proposal,
} from 'ts-mls';
import { encodeCapabilities as tsEncodeCapabilities } from 'ts-mls/capabilities.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import {
  CONSENT_OPERATION,
  decodeAppDataDictionary,
  decodeBulkKeyMaterialRequest,
  decodeBulkKeyMaterialResponse,
  decodeClientKeyMaterial,
  decodeConsentEntry,
  decodeConsentScope,
  decodeFanoutList,
  decodeFanoutMessage,
  decodeFrank,
  decodeFrankAAD,
  decodeFrankingAgentData,
  decodeFrankingIntegrityTBS,
  decodeGroupInfoOption,
  decodeGroupInfoRatchetTreeTBE,
  decodeGroupInfoRequest,
  decodeGroupInfoRequestTBS,
  decodeGroupInfoResponse,
  decodeGroupInfoResponseTBS,
  decodeHandshakeBundle,
  decodeIdentifierPageRequest,
  decodeIdentifierPageResponse,
  decodeIdentifierRequest,
  decodeIdentifierResponse,
  decodeIdentifierUri,
  decodeQueryElement,
  decodeUserProfile,
  decodeKeyMaterialRequest,
  decodeKeyMaterialRequestTBS,
  decodeKeyMaterialResponse,
  decodePartialGroupInfo,
  decodePendingProposal,
  decodeRatchetTreeOption,
  decodeServerFrankingContext,
  decodeSubmitMessageRequest,
  decodeSubmitMessageResponse,
  decodeUpdateRequest,
  decodeUpdateRoomResponse,
  encodeAppDataDictionary,
  encodeBulkKeyMaterialRequest,
  encodeBulkKeyMaterialResponse,
  encodeClientKeyMaterial,
  encodeConsentEntry,
  encodeConsentScope,
  encodeFanoutList,
  encodeFanoutMessage,
  encodeFrank,
  encodeFrankAAD,
  encodeFrankingAgentData,
  encodeFrankingIntegrityTBS,
  encodeGroupInfoOption,
  encodeGroupInfoRatchetTreeTBE,
  encodeGroupInfoRequest,
  encodeGroupInfoRequestTBS,
  encodeGroupInfoResponse,
  encodeGroupInfoResponseTBS,
  encodeHandshakeBundle,
  encodeIdentifierPageRequest,
  encodeIdentifierPageResponse,
  encodeIdentifierRequest,
  encodeIdentifierResponse,
  encodeIdentifierUri,
  encodeQueryElement,
  encodeUserProfile,
  FIELD_SOURCE,
  ID_PAGE_REQUEST_COMPONENT_ID,
  ID_PAGE_RESPONSE_COMPONENT_ID,
  IDENTIFIER_QUERY_CODE,
  SEARCH_IDENTIFIER_TYPE,
  encodeKeyMaterialRequest,
  encodeKeyMaterialRequestTBS,
  encodeKeyMaterialResponse,
  encodePartialGroupInfo,
  encodePendingProposal,
  encodeRatchetTreeOption,
  encodeServerFrankingContext,
  encodeSubmitMessageRequest,
  encodeSubmitMessageResponse,
  encodeUpdateRequest,
  encodeUpdateRoomResponse,
  GROUP_INFO_CODE,
  GROUP_INFO_TBE_LABEL,
  groupInfoRequestTbs,
  groupInfoResponseTbs,
  KEY_MATERIAL_CLIENT_CODE,
  KEY_MATERIAL_USER_CODE,
  keyMaterialRequestTbs,
  MIMI_MEDIA_TYPE,
  mimiMessageKind,
  MimiWireError,
  RATCHET_TREE_PRESENCE,
  SUBMIT_RESPONSE_CODE,
  UPDATE_RESPONSE_CODE,
  type ClientKeyMaterial,
  type QueryElement,
  type FanoutMessage,
  type Fields,
  type Frank,
  type GroupInfoResponse,
  type HandshakeBundle,
  type KeyMaterialRequest,
  type KeyMaterialResponse,
  type RatchetTreeOption,
} from '../../src-shared/mimi-protocol.js';
import {
  basicCredential,
  decodeCapabilities,
  decodeExternalSender,
  decodeGroupInfo,
  decodeKeyPackage,
  decodeRatchetTree,
  decodeRequiredCapabilities,
  decodeWelcome,
  encodeExternalSender,
  encodeRequiredCapabilities,
  keyPackageRef,
  treeLeaves,
  unwrapMlsMessage,
} from '../../src-shared/mls-structs.js';
import {
  decryptWithLabel,
  encryptWithLabel,
  generateHpkeKeyPair,
  generateSignatureKeyPair,
  signWithLabel,
  verifyWithLabel,
} from '../../src-shared/mls-crypto.js';
import { encodeVarint, TlsWriter } from '../../src-shared/tls.js';
import { bytesEqual, concatBytes, fromHex, fromUtf8, toHex, utf8 } from '../../src-shared/bytes.js';

// ---------------------------------------------------------------------------------------------
// Real MLS material: an engine group (alice adds bob) and a ts-mls group for proposals.

const ALICE = 'mimi://a.example/d/alice/laptop';
const BOB = 'mimi://b.example/d/bob/phone';
const CAROL = 'mimi://c.example/d/carol/desk';
const ALICE_USER = 'mimi://a.example/u/alice';
const BOB_USER = 'mimi://b.example/u/bob';
const ROOM = 'mimi://a.example/r/clubhouse';

const engine = await createMlsEngine();
const [alice, bob, carol] = await Promise.all([ALICE, BOB, CAROL].map((id) => engine.newDeviceKeys(id)));
const bobKps = await engine.generateKeyPackages(bob, 2);
const carolKp = (await engine.generateKeyPackages(carol, 1))[0];
const session0 = await engine.createGroup(alice, ROOM);
const added = await session0.add([bobKps[0].publicMessage]);
const session1 = added.pending;
const appMessage = (await session1.encrypt(utf8('hello, bob'))).message;
const updated = await session1.update();

const bobKeyPackage = decodeKeyPackage(unwrapMlsMessage(bobKps[1].publicMessage).body);
const carolKeyPackage = decodeKeyPackage(unwrapMlsMessage(carolKp.publicMessage).body);
const welcome = decodeWelcome(unwrapMlsMessage(added.welcome!).body);
const groupInfo = decodeGroupInfo(unwrapMlsMessage(added.groupInfo).body);
const ratchetTree = decodeRatchetTree(added.ratchetTree);

const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;
const impl = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE));
const tsKp = (name: string) =>
  generateKeyPackage({ credentialType: 'basic', identity: utf8(name) }, defaultCapabilities(), defaultLifetime, [], impl);
const [tsAlice, tsBob, tsDave] = await Promise.all(['ts-alice', 'ts-bob', 'ts-dave'].map(tsKp));
let tsState = await createGroup(utf8(ROOM), tsAlice.publicPackage, tsAlice.privatePackage, [], impl);
tsState = (
  await createCommit(
    { state: tsState, cipherSuite: impl },
    { wireAsPublicMessage: true, extraProposals: [{ proposalType: 'add', add: { keyPackage: tsBob.publicPackage } }] },
  )
).newState;
const proposals: Uint8Array[] = [];
const toPropose: Proposal[] = [
  { proposalType: 'remove', remove: { removed: 1 } },
  { proposalType: 'add', add: { keyPackage: tsDave.publicPackage } },
  { proposalType: 'group_context_extensions', groupContextExtensions: { extensions: [] } },
];
for (const p of toPropose) {
  const made = await createProposal(tsState, true, p, impl);
  tsState = made.newState;
  proposals.push(encodeMlsMessage(made.message));
}
const privateCommit = encodeMlsMessage((await createCommit({ state: tsState, cipherSuite: impl }, { wireAsPublicMessage: false })).commit);

const hubKeys = generateSignatureKeyPair();
const hubSender = decodeExternalSender(
  encodeExternalSender({ signatureKey: hubKeys.publicKey, credential: basicCredential('mimi://a.example') }),
);

// ---------------------------------------------------------------------------------------------
// Generic checks

const isMimiError = (structure?: string, field?: string) => (e: unknown) =>
  e instanceof MimiWireError && (!structure || e.structure === structure) && (!field || e.field === field);

/**
 * Byte-exact re-encoding; every truncation and a trailing byte fail with MimiWireError; every
 * single-byte corruption either decodes or fails with MimiWireError (never another error).
 */
function checkWire<T>(name: string, bytes: Uint8Array, decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array): T {
  const value = decode(bytes);
  assert.equal(toHex(encode(value)), toHex(bytes), `${name}: re-encoding is byte-exact`);
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(
      () => decode(bytes.subarray(0, cut)),
      (e: unknown) => e instanceof MimiWireError && e.path.startsWith(name),
      `${name}: cut at ${cut}/${bytes.length}`,
    );
  }
  assert.throws(() => decode(concatBytes(bytes, Uint8Array.of(0))), isMimiError(name, '(end)'), `${name}: trailing byte`);
  const step = Math.max(1, Math.floor(bytes.length / 400));
  for (let i = 0; i < bytes.length; i += step) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = bytes.slice();
      bad[i] ^= mask;
      try {
        decode(bad);
      } catch (e) {
        assert.ok(e instanceof MimiWireError, `${name}: corrupting byte ${i} with ${mask} threw ${String(e)}`);
      }
    }
  }
  return value;
}

/** The same value without any `raw` (so embedded MLS structs are encoded from their fields). */
function stripRaw(v: unknown): unknown {
  if (v instanceof Uint8Array || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(stripRaw);
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'raw').map(([k, x]) => [k, stripRaw(x)]));
}

function rawless<T>(v: T): Fields<T> {
  return stripRaw(v) as Fields<T>;
}

// ---------------------------------------------------------------------------------------------

test('media type and IdentifierUri', () => {
  assert.equal(MIMI_MEDIA_TYPE, 'application/mimi');
  const bytes = encodeIdentifierUri(ALICE_USER);
  assert.deepStrictEqual(bytes, concatBytes(encodeVarint(utf8(ALICE_USER).length), utf8(ALICE_USER)));
  assert.equal(checkWire('IdentifierUri', bytes, decodeIdentifierUri, encodeIdentifierUri), ALICE_USER);
  const long = 'mimi://a.example/u/' + 'é'.repeat(100);
  assert.equal(decodeIdentifierUri(encodeIdentifierUri(long)), long);
  assert.throws(() => decodeIdentifierUri(fromHex('02c328')), isMimiError('IdentifierUri', 'uri'));
  assert.throws(() => encodeIdentifierUri('bad \ud800'), isMimiError('IdentifierUri', 'uri'));
  assert.throws(() => encodeIdentifierUri(5 as never), isMimiError('IdentifierUri', 'uri'));
});

function keyMaterialRequest(targetUser = BOB_USER): Fields<KeyMaterialRequest> {
  const tbs = {
    protocol: 'mls10' as const,
    requestingUser: ALICE_USER,
    targetUser,
    roomId: ROOM,
    acceptableCiphersuites: [1, 3],
    requiredCapabilities: { extensionTypes: [5], proposalTypes: [8, 10], credentialTypes: [1] },
    requesterSignatureKey: alice.signaturePublicKey,
    requesterCredential: basicCredential(ALICE),
  };
  return { ...tbs, signature: signWithLabel(alice.signaturePrivateKey, 'KeyMaterialRequestTBS', keyMaterialRequestTbs(tbs)) };
}

test('KeyMaterialRequest: round trip, TBS is the request minus its signature, signature verifies', () => {
  const req = keyMaterialRequest();
  const bytes = encodeKeyMaterialRequest(req);
  const decoded = checkWire('KeyMaterialRequest', bytes, decodeKeyMaterialRequest, encodeKeyMaterialRequest);
  assert.equal(decoded.protocol, 'mls10');
  assert.equal(decoded.requestingUser, ALICE_USER);
  assert.equal(decoded.targetUser, BOB_USER);
  assert.equal(decoded.roomId, ROOM);
  assert.deepStrictEqual(decoded.acceptableCiphersuites, [1, 3]);
  assert.deepStrictEqual(rawless(decoded.requiredCapabilities), req.requiredCapabilities);
  assert.deepStrictEqual(decoded.requiredCapabilities.raw, encodeRequiredCapabilities(req.requiredCapabilities));
  assert.deepStrictEqual(decoded.requesterCredential.raw, basicCredential(ALICE).raw);

  const tbs = keyMaterialRequestTbs(decoded);
  assert.deepStrictEqual(bytes, concatBytes(tbs, encodeVarint(decoded.signature.length), decoded.signature));
  assert.ok(verifyWithLabel(decoded.requesterSignatureKey, 'KeyMaterialRequestTBS', tbs, decoded.signature));
  const tbsDecoded = checkWire('KeyMaterialRequestTBS', tbs, decodeKeyMaterialRequestTBS, encodeKeyMaterialRequestTBS);
  const { signature: _signature, ...withoutSignature } = decoded;
  assert.deepStrictEqual(tbsDecoded, withoutSignature);

  // Embedded structs given without raw encode identically.
  assert.deepStrictEqual(encodeKeyMaterialRequest(rawless(decoded)), bytes);
  // Unknown protocol values are rejected by field.
  for (const v of [0, 2, 255]) {
    const bad = bytes.slice();
    bad[0] = v;
    assert.throws(() => decodeKeyMaterialRequest(bad), isMimiError('KeyMaterialRequest', 'protocol'));
  }
  assert.throws(() => encodeKeyMaterialRequest({ ...req, protocol: 'mls11' as never }), isMimiError('KeyMaterialRequest', 'protocol'));
});

function keyMaterialResponse(userStatus: KeyMaterialResponse['userStatus']): Fields<KeyMaterialResponse> {
  const clients: Fields<ClientKeyMaterial>[] =
    userStatus === 'success' || userStatus === 'partialSuccess' || userStatus === 'noCompatibleMaterial'
      ? [
          { clientStatus: 'success', clientUri: BOB, keyPackage: bobKeyPackage },
          { clientStatus: 'keyMaterialExhausted', clientUri: 'mimi://b.example/d/bob/tablet' },
          {
            clientStatus: 'nothingCompatible',
            clientUri: 'mimi://b.example/d/bob/watch',
            clientCapabilities: decodeCapabilities(tsEncodeCapabilities(defaultCapabilities())),
          },
          { clientStatus: 'nothingCompatible', clientUri: 'mimi://b.example/d/bob/tv' },
        ]
      : [];
  return { protocol: 'mls10', userStatus, userUri: BOB_USER, clients };
}

test('KeyMaterialResponse: every user code, every client code, KeyPackages delimited as bare structs', () => {
  for (const code of Object.keys(KEY_MATERIAL_USER_CODE) as KeyMaterialResponse['userStatus'][]) {
    const resp = keyMaterialResponse(code);
    const bytes = encodeKeyMaterialResponse(resp);
    assert.equal(bytes[1], KEY_MATERIAL_USER_CODE[code]);
    const decoded = checkWire('KeyMaterialResponse', bytes, decodeKeyMaterialResponse, encodeKeyMaterialResponse);
    assert.equal(decoded.userStatus, code);
    assert.equal(decoded.clients.length, resp.clients.length);
  }
  const decoded = decodeKeyMaterialResponse(encodeKeyMaterialResponse(keyMaterialResponse('success')));
  const [ok, exhausted, incompatible, bare] = decoded.clients;
  assert.equal(ok.clientStatus, 'success');
  if (ok.clientStatus === 'success') {
    // The KeyPackage travels as the bare struct: its raw bytes are the MLSMessage body.
    assert.deepStrictEqual(ok.keyPackage.raw, unwrapMlsMessage(bobKps[1].publicMessage).body);
    assert.deepStrictEqual(keyPackageRef(ok.keyPackage.raw), bobKps[1].ref);
  }
  assert.deepStrictEqual(exhausted, { clientStatus: 'keyMaterialExhausted', clientUri: 'mimi://b.example/d/bob/tablet' });
  assert.equal(incompatible.clientStatus, 'nothingCompatible');
  if (incompatible.clientStatus === 'nothingCompatible') assert.ok(incompatible.clientCapabilities?.cipherSuites.includes(1));
  assert.deepStrictEqual(bare, { clientStatus: 'nothingCompatible', clientUri: 'mimi://b.example/d/bob/tv' });
  for (const c of decoded.clients) {
    assert.equal(encodeClientKeyMaterial(c)[0], KEY_MATERIAL_CLIENT_CODE[c.clientStatus]);
    checkWire('ClientKeyMaterial', encodeClientKeyMaterial(c), decodeClientKeyMaterial, encodeClientKeyMaterial);
  }

  // Field-level errors carry the path to the failing field.
  const bytes = encodeKeyMaterialResponse(keyMaterialResponse('success'));
  const bad = bytes.slice();
  bad[1] = 8;
  assert.throws(() => decodeKeyMaterialResponse(bad), isMimiError('KeyMaterialResponse', 'userStatus'));
  const clientStatusAt = 2 + 1 + utf8(BOB_USER).length + 2; // protocol, userStatus, userUri<V>, clients<V> (2-byte length)
  assert.equal(bytes[clientStatusAt], 0);
  const badClient = bytes.slice();
  badClient[clientStatusAt] = 3;
  assert.throws(
    () => decodeKeyMaterialResponse(badClient),
    (e: unknown) =>
      e instanceof MimiWireError &&
      e.structure === 'ClientKeyMaterial' &&
      e.field === 'clientStatus' &&
      e.path === 'KeyMaterialResponse.clients[0] > ClientKeyMaterial.clientStatus' &&
      /KeyMaterialClientCode value 3/.test(e.message),
  );
  // An absurd vector length fails cleanly.
  const absurd = concatBytes(bytes.subarray(0, 2 + 1 + utf8(BOB_USER).length), fromHex('bfffffff'));
  assert.throws(() => decodeKeyMaterialResponse(absurd), isMimiError('KeyMaterialResponse', 'clients'));
});

test('BulkKeyMaterialRequest / BulkKeyMaterialResponse (project extension)', () => {
  const reqs = { requests: [keyMaterialRequest(BOB_USER), keyMaterialRequest('mimi://b.example/u/bobby')] };
  const bytes = encodeBulkKeyMaterialRequest(reqs);
  const decoded = checkWire('BulkKeyMaterialRequest', bytes, decodeBulkKeyMaterialRequest, encodeBulkKeyMaterialRequest);
  assert.deepStrictEqual(
    decoded.requests.map((r) => r.targetUser),
    [BOB_USER, 'mimi://b.example/u/bobby'],
  );
  assert.deepStrictEqual(decoded.requests[1], decodeKeyMaterialRequest(encodeKeyMaterialRequest(reqs.requests[1])));
  const resp = { responses: [keyMaterialResponse('success'), keyMaterialResponse('userUnknown')] };
  const rb = encodeBulkKeyMaterialResponse(resp);
  const rd = checkWire('BulkKeyMaterialResponse', rb, decodeBulkKeyMaterialResponse, encodeBulkKeyMaterialResponse);
  assert.deepStrictEqual(
    rd.responses.map((r) => r.userStatus),
    ['success', 'userUnknown'],
  );
  assert.deepStrictEqual(decodeBulkKeyMaterialResponse(fromHex('00')), { responses: [] });
});

const ratchetTreeOptions: Fields<RatchetTreeOption>[] = [
  { representation: 'full', ratchetTree },
  { representation: 'httpsUri', ratchetTreeUrl: 'https://a.example/trees/abc', treeSignature: new Uint8Array(64).fill(1) },
  { representation: 'outOfBand', treeSignature: new Uint8Array(64).fill(2) },
  { representation: 'distributionService' },
];

test('RatchetTreeOption: every representation; full carries the RFC 9420 ratchet_tree encoding', () => {
  for (const option of ratchetTreeOptions) {
    const bytes = encodeRatchetTreeOption(option);
    const decoded = checkWire('RatchetTreeOption', bytes, decodeRatchetTreeOption, encodeRatchetTreeOption);
    assert.equal(decoded.representation, option.representation);
    assert.deepStrictEqual(rawless(decoded), rawless(option));
  }
  const full = decodeRatchetTreeOption(encodeRatchetTreeOption(ratchetTreeOptions[0]));
  assert.ok(full.representation === 'full');
  assert.deepStrictEqual(full.ratchetTree.raw, added.ratchetTree);
  assert.deepStrictEqual(encodeRatchetTreeOption(ratchetTreeOptions[0]), concatBytes(Uint8Array.of(1), added.ratchetTree));
  assert.deepStrictEqual(
    treeLeaves(full.ratchetTree).map((l) => l.identity),
    session1.members().map((m) => m.identity),
  );
  assert.throws(() => decodeRatchetTreeOption(fromHex('00')), isMimiError('RatchetTreeOption', 'representation'));
  assert.throws(() => decodeRatchetTreeOption(fromHex('05')), isMimiError('RatchetTreeOption', 'representation'));
  assert.throws(
    () => encodeRatchetTreeOption({ representation: 'httpsUri', ratchetTreeUrl: 'x' } as never),
    isMimiError('RatchetTreeOption', 'tree_signature'),
  );
});

test('PartialGroupInfo and GroupInfoOption: every representation and presence value', () => {
  for (const presence of Object.keys(RATCHET_TREE_PRESENCE) as (keyof typeof RATCHET_TREE_PRESENCE)[]) {
    const pgi = { ratchetTreePresence: presence, groupInfoExtensions: groupInfo.extensions, signature: groupInfo.signature };
    const bytes = encodePartialGroupInfo(pgi);
    assert.equal(bytes[0], RATCHET_TREE_PRESENCE[presence]);
    const decoded = checkWire('PartialGroupInfo', bytes, decodePartialGroupInfo, encodePartialGroupInfo);
    assert.equal(decoded.ratchetTreePresence, presence);
    assert.deepStrictEqual(
      decoded.groupInfoExtensions.map((e) => e.raw),
      groupInfo.extensions.map((e) => e.raw),
    );
  }
  const withTree = {
    ratchetTreePresence: 'present' as const,
    groupInfoExtensions: [{ extensionType: 2, extensionData: added.ratchetTree }],
    signature: new Uint8Array(1),
  };
  assert.throws(() => encodePartialGroupInfo(withTree), isMimiError('PartialGroupInfo', 'group_info_extensions[0]'));
  const sneaky = concatBytes(Uint8Array.of(1), new TlsWriter().vector([0], (w) => w.u16(2).opaqueV(new Uint8Array(1))).finish(), fromHex('00'));
  assert.throws(() => decodePartialGroupInfo(sneaky), isMimiError('PartialGroupInfo', 'group_info_extensions[0]'));
  assert.throws(() => decodePartialGroupInfo(fromHex('040000')), isMimiError('PartialGroupInfo', 'ratchet_tree_presence'));

  const full = checkWire('GroupInfoOption', encodeGroupInfoOption({ representation: 'full', groupInfo }), decodeGroupInfoOption, encodeGroupInfoOption);
  assert.ok(full.representation === 'full');
  assert.deepStrictEqual(full.groupInfo.raw, groupInfo.raw);
  const partial = {
    representation: 'partial' as const,
    partialGroupInfo: { ratchetTreePresence: 'no_ratchet_tree' as const, groupInfoExtensions: [], signature: groupInfo.signature },
  };
  checkWire('GroupInfoOption', encodeGroupInfoOption(partial), decodeGroupInfoOption, encodeGroupInfoOption);
  assert.throws(() => decodeGroupInfoOption(fromHex('00')), isMimiError('GroupInfoOption', 'representation'));
  assert.throws(() => decodeGroupInfoOption(fromHex('03')), isMimiError('GroupInfoOption', 'representation'));
});

test('HandshakeBundle / UpdateRequest: commit bundles (with and without Welcome), proposal bundles', () => {
  const bundles: Fields<HandshakeBundle>[] = [
    {
      proposalOrCommit: added.commit,
      contentType: 'commit',
      welcome,
      groupInfoOption: { representation: 'full', groupInfo },
      ratchetTreeOption: { representation: 'full', ratchetTree },
    },
    {
      proposalOrCommit: updated.commit,
      contentType: 'commit',
      groupInfoOption: {
        representation: 'partial',
        partialGroupInfo: { ratchetTreePresence: 'no_ratchet_tree', groupInfoExtensions: [], signature: new Uint8Array(64) },
      },
      ratchetTreeOption: { representation: 'distributionService' },
    },
    {
      proposalOrCommit: privateCommit,
      contentType: 'commit',
      groupInfoOption: { representation: 'full', groupInfo },
      ratchetTreeOption: { representation: 'outOfBand', treeSignature: new Uint8Array(2) },
    },
    { proposalOrCommit: proposals[0], contentType: 'proposal', moreProposals: proposals.slice(1) },
    { proposalOrCommit: proposals[2], contentType: 'proposal', moreProposals: [] },
  ];
  for (const bundle of bundles) {
    const bytes = encodeHandshakeBundle(bundle);
    assert.deepStrictEqual(
      bytes.subarray(0, bundle.proposalOrCommit.length),
      bundle.proposalOrCommit,
      'the MLSMessage comes first, unprefixed',
    );
    const decoded = checkWire('HandshakeBundle', bytes, decodeHandshakeBundle, encodeHandshakeBundle);
    assert.deepStrictEqual(decoded.proposalOrCommit, bundle.proposalOrCommit);
    assert.equal(decoded.contentType, bundle.contentType);
    assert.deepStrictEqual(rawless(decoded), rawless(bundle));
    const update = checkWire('UpdateRequest', encodeUpdateRequest({ bundle }), decodeUpdateRequest, encodeUpdateRequest);
    assert.deepStrictEqual(encodeUpdateRequest(update), bytes);
  }
  const first = decodeHandshakeBundle(encodeHandshakeBundle(bundles[0]));
  assert.ok(first.contentType === 'commit' && first.welcome);
  assert.deepStrictEqual(first.welcome.raw, unwrapMlsMessage(added.welcome!).body);
  assert.deepStrictEqual(
    first.welcome.secrets.map((s) => toHex(s.newMember)),
    [toHex(bobKps[0].ref)],
  );
  assert.deepStrictEqual(encodeHandshakeBundle(rawless(first)), encodeHandshakeBundle(bundles[0]));

  // Wrong kinds of MLSMessage
  assert.throws(
    () => decodeHandshakeBundle(concatBytes(appMessage, fromHex('00'))),
    (e: unknown) => isMimiError('HandshakeBundle', 'proposalOrCommit')(e) && /got application/.test((e as Error).message),
  );
  assert.throws(
    () => encodeHandshakeBundle({ ...bundles[3], contentType: 'commit' } as never),
    isMimiError('HandshakeBundle', 'proposalOrCommit'),
  );
  assert.throws(
    () => encodeHandshakeBundle({ proposalOrCommit: proposals[0], contentType: 'proposal', moreProposals: [added.commit] }),
    isMimiError('HandshakeBundle', 'moreProposals[0]'),
  );
  const withCommit = concatBytes(proposals[0], new TlsWriter().opaqueV(added.commit).finish());
  assert.throws(() => decodeHandshakeBundle(withCommit), isMimiError('HandshakeBundle', 'moreProposals[0]'));
  assert.throws(
    () => encodeHandshakeBundle({ ...bundles[0], welcome: { raw: fromHex('0001') } } as never),
    isMimiError('HandshakeBundle', 'welcome'),
  );
  assert.throws(
    () => encodeHandshakeBundle({ ...bundles[0], proposalOrCommit: concatBytes(added.commit, fromHex('00')) }),
    isMimiError('HandshakeBundle', 'proposalOrCommit'),
  );
  assert.throws(() => encodeHandshakeBundle({ ...bundles[3], contentType: 'application' } as never), isMimiError('HandshakeBundle'));
});

test('UpdateRoomResponse: every response code', () => {
  const cases = [
    { responseCode: 'success' as const, errorDescription: '', acceptedTimestamp: 1_767_225_600_123n },
    { responseCode: 'wrongEpoch' as const, errorDescription: 'epoch moved on', currentEpoch: 42n },
    { responseCode: 'notAllowed' as const, errorDescription: 'bob may not add users — policy' },
    { responseCode: 'invalidProposal' as const, errorDescription: 'bad', invalidProposals: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)] },
  ];
  for (const c of cases) {
    const bytes = encodeUpdateRoomResponse(c);
    assert.equal(bytes[0], UPDATE_RESPONSE_CODE[c.responseCode]);
    assert.deepStrictEqual(checkWire('UpdateRoomResponse', bytes, decodeUpdateRoomResponse, encodeUpdateRoomResponse), c);
  }
  assert.throws(() => decodeUpdateRoomResponse(fromHex('0400')), isMimiError('UpdateRoomResponse', 'responseCode'));
  assert.throws(
    () => encodeUpdateRoomResponse({ responseCode: 'success', errorDescription: '', acceptedTimestamp: 5 } as never),
    isMimiError('UpdateRoomResponse', 'accepted_timestamp'),
  );
  assert.throws(
    () => encodeUpdateRoomResponse({ responseCode: 'wrongEpoch', errorDescription: '', currentEpoch: -1n }),
    isMimiError('UpdateRoomResponse', 'currentEpoch'),
  );
});

const frank: Fields<Frank> = {
  serverFrank: new Uint8Array(32).fill(0xf1),
  frankingSignatureCiphersuite: 1,
  frankingIntegritySignature: new Uint8Array(64).fill(0xf2),
};

test('SubmitMessageRequest / SubmitMessageResponse and the franking structures', () => {
  const req = { protocol: 'mls10' as const, appMessage, sendingUri: ALICE_USER };
  const decoded = checkWire('SubmitMessageRequest', encodeSubmitMessageRequest(req), decodeSubmitMessageRequest, encodeSubmitMessageRequest);
  assert.deepStrictEqual(decoded, req);
  assert.equal(mimiMessageKind(decoded.appMessage), 'application');
  assert.throws(() => encodeSubmitMessageRequest({ ...req, appMessage: added.commit }), isMimiError('SubmitMessageRequest', 'appMessage'));
  assert.throws(
    () => encodeSubmitMessageRequest({ ...req, appMessage: added.welcome! }),
    isMimiError('SubmitMessageRequest', 'appMessage'),
  );

  const responses = [
    { protocol: 'mls10' as const, statusCode: 'success' as const, acceptedTimestamp: 1_767_225_600_000n, frank },
    { protocol: 'mls10' as const, statusCode: 'success' as const, acceptedTimestamp: 0n },
    { protocol: 'mls10' as const, statusCode: 'notAllowed' as const },
    { protocol: 'mls10' as const, statusCode: 'epochTooOld' as const, currentEpoch: 7n },
  ];
  for (const r of responses) {
    const bytes = encodeSubmitMessageResponse(r);
    assert.equal(bytes[1], SUBMIT_RESPONSE_CODE[r.statusCode]);
    assert.deepStrictEqual(checkWire('SubmitMessageResponse', bytes, decodeSubmitMessageResponse, encodeSubmitMessageResponse), r);
  }
  assert.equal(SUBMIT_RESPONSE_CODE.success, 0);
  assert.throws(() => decodeSubmitMessageResponse(fromHex('0103')), isMimiError('SubmitMessageResponse', 'statusCode'));

  assert.deepStrictEqual(checkWire('Frank', encodeFrank(frank), decodeFrank, encodeFrank), frank);
  assert.throws(() => encodeFrank({ ...frank, serverFrank: new Uint8Array(31) }), isMimiError('Frank', 'server_frank'));
  const aad = { frankingTag: new Uint8Array(32).fill(7) };
  assert.deepStrictEqual(checkWire('FrankAAD', encodeFrankAAD(aad), decodeFrankAAD, encodeFrankAAD), aad);
  const agent = { frankingSignatureKey: hubKeys.publicKey, credential: basicCredential('mimi://a.example') };
  checkWire('FrankingAgentData', encodeFrankingAgentData(agent), decodeFrankingAgentData, encodeFrankingAgentData);
  const context = { senderUri: ALICE_USER, roomUri: ROOM, acceptedTimestamp: 1_767_225_600_000n };
  assert.deepStrictEqual(
    checkWire('ServerFrankingContext', encodeServerFrankingContext(context), decodeServerFrankingContext, encodeServerFrankingContext),
    context,
  );
  const tbs = { serverFrank: frank.serverFrank, frankingSignatureCiphersuite: 1, context };
  const tbsBytes = checkWire('FrankingIntegrityTBS', encodeFrankingIntegrityTBS(tbs), decodeFrankingIntegrityTBS, encodeFrankingIntegrityTBS);
  assert.deepStrictEqual(tbsBytes, tbs);
  const sig = signWithLabel(hubKeys.privateKey, 'FrankingIntegrityTBS', encodeFrankingIntegrityTBS(tbs));
  const received = decodeFrankingIntegrityTBS(encodeFrankingIntegrityTBS(tbs));
  assert.ok(verifyWithLabel(agent.frankingSignatureKey, 'FrankingIntegrityTBS', encodeFrankingIntegrityTBS(received), sig));
});

function fanoutSamples(): Fields<FanoutMessage>[] {
  return [
    { timestamp: 1_767_225_600_001n, message: appMessage, kind: 'application', frank },
    { timestamp: 1_767_225_600_002n, message: appMessage, kind: 'application' },
    { timestamp: 1_767_225_600_003n, message: added.welcome!, kind: 'welcome', ratchetTreeOption: { representation: 'full', ratchetTree } },
    { timestamp: 1_767_225_600_004n, message: proposals[0], kind: 'proposal', moreProposals: proposals.slice(1) },
    { timestamp: 1_767_225_600_005n, message: added.commit, kind: 'commit', externalProposals: [] },
    { timestamp: 1_767_225_600_006n, message: updated.commit, kind: 'commit', externalProposals: [proposals[0]] },
    { timestamp: 1_767_225_600_007n, message: privateCommit, kind: 'commit', externalProposals: [] },
  ];
}

test('FanoutMessage: every message kind; /notify bodies concatenate messages', () => {
  const samples = fanoutSamples();
  for (const m of samples) {
    const decoded = checkWire('FanoutMessage', encodeFanoutMessage(m), decodeFanoutMessage, encodeFanoutMessage);
    assert.equal(decoded.kind, m.kind);
    assert.equal(decoded.timestamp, m.timestamp);
    assert.deepStrictEqual(decoded.message, m.message);
    assert.deepStrictEqual(rawless(decoded), rawless(m));
  }
  const body = encodeFanoutList(samples);
  assert.deepStrictEqual(body, concatBytes(...samples.map(encodeFanoutMessage)));
  const list = decodeFanoutList(body);
  assert.deepStrictEqual(list.map(rawless), samples.map(rawless));
  assert.deepStrictEqual(encodeFanoutList(list), body);
  assert.deepStrictEqual(decodeFanoutList(encodeFanoutMessage(samples[2])).length, 1);
  for (const cut of [1, body.length - 1]) {
    assert.throws(
      () => decodeFanoutList(body.subarray(0, cut)),
      (e: unknown) => e instanceof MimiWireError && e.path.startsWith('FanoutMessageList.messages['),
    );
  }
  assert.throws(() => decodeFanoutList(new Uint8Array()), isMimiError('FanoutMessageList', 'messages'));
  assert.throws(() => encodeFanoutList([]), isMimiError('FanoutMessageList', 'messages'));

  const welcomeAsApp = { timestamp: 1n, message: added.welcome!, kind: 'application' } as const;
  assert.throws(() => encodeFanoutMessage(welcomeAsApp), isMimiError('FanoutMessage', 'message'));
  assert.throws(
    () => encodeFanoutMessage({ timestamp: 1n, message: added.groupInfo, kind: 'commit', externalProposals: [] }),
    isMimiError('FanoutMessage', 'message'),
  );
  assert.throws(
    () => encodeFanoutMessage({ timestamp: 1n, message: appMessage, kind: 'chat' } as never),
    isMimiError('FanoutMessage', 'kind'),
  );
  const gi = concatBytes(new Uint8Array(8), added.groupInfo);
  assert.throws(
    () => decodeFanoutMessage(gi),
    (e: unknown) => isMimiError('FanoutMessage', 'message')(e) && /groupInfo/.test((e as Error).message),
  );
  // An unknown wire format inside, and a KeyPackage MLSMessage
  assert.throws(() => decodeFanoutMessage(concatBytes(new Uint8Array(8), fromHex('00010009'))), isMimiError('FanoutMessage', 'message'));
  assert.throws(
    () => decodeFanoutMessage(concatBytes(new Uint8Array(8), bobKps[0].publicMessage)),
    isMimiError('FanoutMessage', 'message'),
  );
});

function groupInfoRequest(joiningCode?: Uint8Array) {
  const tbs = {
    protocol: 'mls10' as const,
    cipherSuite: 1,
    requestingSignatureKey: carol.signaturePublicKey,
    requestingCredential: basicCredential(CAROL),
    groupInfoPublicKey: generateHpkeKeyPair().publicKey,
    ...(joiningCode ? { joiningCode } : {}),
  };
  return { ...tbs, signature: signWithLabel(carol.signaturePrivateKey, 'GroupInfoRequestTBS', groupInfoRequestTbs(tbs)) };
}

test('GroupInfoRequest / GroupInfoRequestTBS, with and without a joining code', () => {
  for (const code of [undefined, utf8('join-1234'), new Uint8Array()]) {
    const req = groupInfoRequest(code);
    const bytes = encodeGroupInfoRequest(req);
    const decoded = checkWire('GroupInfoRequest', bytes, decodeGroupInfoRequest, encodeGroupInfoRequest);
    assert.deepStrictEqual(decoded.joiningCode, code);
    assert.equal('joiningCode' in decoded, code !== undefined);
    const tbs = groupInfoRequestTbs(decoded);
    assert.deepStrictEqual(bytes, concatBytes(tbs, encodeVarint(64), decoded.signature), 'TBS is the request minus its signature');
    assert.ok(verifyWithLabel(decoded.requestingSignatureKey, 'GroupInfoRequestTBS', tbs, decoded.signature));
    checkWire('GroupInfoRequestTBS', tbs, decodeGroupInfoRequestTBS, encodeGroupInfoRequestTBS);
  }
  const bytes = encodeGroupInfoRequest(groupInfoRequest());
  const presenceAt = bytes.length - 64 - encodeVarint(64).length - 1; // optional octet, then signature<V>
  assert.equal(bytes[presenceAt], 0);
  const bad = bytes.slice();
  bad[presenceAt] = 2;
  assert.throws(() => decodeGroupInfoRequest(bad), isMimiError('GroupInfoRequest', 'joiningCode'));
});

test('GroupInfoResponse: encrypted GroupInfo + tree + pending proposals, signed by the hub; failure codes', () => {
  const joiner = generateHpkeKeyPair();
  const tbe = {
    groupInfo,
    ratchetTreeOption: { representation: 'full' as const, ratchetTree },
    pendingProposals: [
      { proposal: proposals[0], hubAcceptedTime: 1_767_225_600_000n },
      { proposal: proposals[1], hubAcceptedTime: 1_767_225_600_500n },
    ],
  };
  const tbeBytes = encodeGroupInfoRatchetTreeTBE(tbe);
  checkWire('GroupInfoRatchetTreeTBE', tbeBytes, decodeGroupInfoRatchetTreeTBE, encodeGroupInfoRatchetTreeTBE);
  for (const p of tbe.pendingProposals) checkWire('PendingProposal', encodePendingProposal(p), decodePendingProposal, encodePendingProposal);
  assert.throws(() => encodePendingProposal({ proposal: added.commit, hubAcceptedTime: 0n }), isMimiError('PendingProposal', 'proposal'));

  const encrypted = encryptWithLabel(joiner.publicKey, GROUP_INFO_TBE_LABEL, utf8(ROOM), tbeBytes);
  const unsigned = {
    protocol: 'mls10' as const,
    roomId: ROOM,
    status: 'success' as const,
    cipherSuite: 1,
    hubSender,
    encryptedGroupInfoAndTree: encrypted,
  };
  const tbsBytes = encodeGroupInfoResponseTBS(unsigned);
  checkWire('GroupInfoResponseTBS', tbsBytes, decodeGroupInfoResponseTBS, encodeGroupInfoResponseTBS);
  const resp: Fields<GroupInfoResponse> = { ...unsigned, signature: signWithLabel(hubKeys.privateKey, 'GroupInfoResponseTBS', tbsBytes) };
  const bytes = encodeGroupInfoResponse(resp);
  assert.deepStrictEqual(bytes, concatBytes(tbsBytes, encodeVarint(64), resp.signature));
  const decoded = checkWire('GroupInfoResponse', bytes, decodeGroupInfoResponse, encodeGroupInfoResponse);

  // What the joiner does: check the hub's signature, decrypt, read the GroupInfo and tree.
  assert.ok(decoded.status === 'success');
  assert.ok(verifyWithLabel(decoded.hubSender.signatureKey, 'GroupInfoResponseTBS', groupInfoResponseTbs(decoded), decoded.signature));
  const plain = decryptWithLabel(
    joiner.privateKey,
    GROUP_INFO_TBE_LABEL,
    utf8(decoded.roomId),
    decoded.encryptedGroupInfoAndTree.kemOutput,
    decoded.encryptedGroupInfoAndTree.ciphertext,
  );
  const opened = decodeGroupInfoRatchetTreeTBE(plain);
  assert.deepStrictEqual(opened.groupInfo.raw, unwrapMlsMessage(added.groupInfo).body);
  assert.equal(fromUtf8(opened.groupInfo.groupContext.groupId), ROOM);
  assert.ok(opened.ratchetTreeOption.representation === 'full');
  assert.deepStrictEqual(
    treeLeaves(opened.ratchetTreeOption.ratchetTree).map((l) => l.identity),
    [ALICE, BOB],
  );
  assert.deepStrictEqual(
    opened.pendingProposals.map((p) => p.hubAcceptedTime),
    [1_767_225_600_000n, 1_767_225_600_500n],
  );

  for (const status of ['notAuthorized', 'noSuchRoom'] as const) {
    const failure = { protocol: 'mls10' as const, roomId: ROOM, status };
    const fb = encodeGroupInfoResponse(failure);
    assert.equal(fb[fb.length - 1], GROUP_INFO_CODE[status]);
    assert.deepStrictEqual(checkWire('GroupInfoResponse', fb, decodeGroupInfoResponse, encodeGroupInfoResponse), failure);
    assert.throws(() => groupInfoResponseTbs(failure), isMimiError('GroupInfoResponseTBS', 'status'));
  }
  const badStatus = encodeGroupInfoResponse({ protocol: 'mls10', roomId: ROOM, status: 'noSuchRoom' });
  for (const v of [0, 4]) {
    badStatus[badStatus.length - 1] = v;
    assert.throws(() => decodeGroupInfoResponse(badStatus), isMimiError('GroupInfoResponse', 'status'));
  }
});

test('ConsentEntry / ConsentScope / AppDataDictionary: every operation, grants carry KeyPackages', () => {
  const extensions = [
    { componentId: 3, data: utf8('three') },
    { componentId: 0x8000, data: new Uint8Array() },
  ];
  checkWire('AppDataDictionary', encodeAppDataDictionary(extensions), decodeAppDataDictionary, encodeAppDataDictionary);
  assert.throws(() => encodeAppDataDictionary([extensions[1], extensions[0]]), isMimiError('AppDataDictionary', 'component_data'));
  assert.throws(() => encodeAppDataDictionary([extensions[0], extensions[0]]), isMimiError('AppDataDictionary', 'component_data'));
  const unsorted = new TlsWriter().vector([extensions[1], extensions[0]], (w, e) => w.u16(e.componentId).opaqueV(e.data)).finish();
  assert.throws(() => decodeAppDataDictionary(unsorted), isMimiError('AppDataDictionary', 'component_data'));

  for (const op of Object.keys(CONSENT_OPERATION) as (keyof typeof CONSENT_OPERATION)[]) {
    for (const roomId of [undefined, ROOM]) {
      const base = {
        requesterUri: ALICE_USER,
        targetUri: BOB_USER,
        ...(roomId ? { roomId } : {}),
        consentExtensions: op === 'request' ? extensions : [],
      };
      const entry =
        op === 'grant'
          ? { ...base, consentOperation: op, clientKeyPackages: [bobKeyPackage, carolKeyPackage] }
          : { ...base, consentOperation: op };
      const bytes = encodeConsentEntry(entry);
      assert.equal(bytes[0], CONSENT_OPERATION[op]);
      const decoded = checkWire('ConsentEntry', bytes, decodeConsentEntry, encodeConsentEntry);
      assert.deepStrictEqual(rawless(decoded), rawless(entry));
      if (decoded.consentOperation === 'grant') {
        assert.deepStrictEqual(
          decoded.clientKeyPackages.map((k) => toHex(keyPackageRef(k.raw))),
          [bobKps[1].ref, carolKp.ref].map(toHex),
        );
      }
      const scope = { requesterUri: ALICE_USER, targetUri: BOB_USER, ...(roomId ? { roomId } : {}) };
      assert.deepStrictEqual(checkWire('ConsentScope', encodeConsentScope(scope), decodeConsentScope, encodeConsentScope), scope);
    }
  }
  const emptyGrant = { consentOperation: 'grant' as const, requesterUri: ALICE_USER, targetUri: BOB_USER, clientKeyPackages: [], consentExtensions: [] };
  const grantNoKps = encodeConsentEntry(emptyGrant);
  assert.deepStrictEqual(
    decodeConsentEntry(grantNoKps),
    emptyGrant,
  );
  const bad = grantNoKps.slice();
  bad[0] = 4;
  assert.throws(() => decodeConsentEntry(bad), isMimiError('ConsentEntry', 'consentOperation'));
  assert.throws(
    () => encodeConsentEntry({ consentOperation: 'grant', requesterUri: ALICE_USER, targetUri: BOB_USER, consentExtensions: [] } as never),
    isMimiError('ConsentEntry', 'clientKeyPackages'),
  );
});

test('IdentifierRequest / IdentifierResponse: every search type and response code, paging components', () => {
  const elements: QueryElement[] = [
    { searchType: 'handle', searchValue: 'im:alice@a.example' },
    { searchType: 'nick', searchValue: 'alice' },
    { searchType: 'email', searchValue: 'asmith@a.example' },
    { searchType: 'phone', searchValue: '+12125551212' },
    { searchType: 'partialName', searchValue: 'mat' },
    { searchType: 'wholeProfile', searchValue: 'sales' },
    { searchType: 'oidcStdClaim', claimName: 'given_name', searchValue: 'Xavier' },
    { searchType: 'vcardField', propertyName: 'ORG', searchValue: 'XYZ Corp' },
  ];
  for (const el of elements) {
    const bytes = encodeQueryElement(el);
    assert.equal(bytes[0], SEARCH_IDENTIFIER_TYPE[el.searchType]);
    assert.deepStrictEqual(checkWire('QueryElement', bytes, decodeQueryElement, encodeQueryElement), el);
  }
  const page = encodeIdentifierPageRequest({ cursor: utf8(ALICE_USER), limit: 25 });
  assert.deepStrictEqual(checkWire('IdentifierPageRequest', page, decodeIdentifierPageRequest, encodeIdentifierPageRequest), {
    cursor: utf8(ALICE_USER),
    limit: 25,
  });
  const req = { queryElements: elements, idRequestExtensions: [{ componentId: ID_PAGE_REQUEST_COMPONENT_ID, data: page }] };
  assert.deepStrictEqual(checkWire('IdentifierRequest', encodeIdentifierRequest(req), decodeIdentifierRequest, encodeIdentifierRequest), req);
  const empty = { queryElements: [], idRequestExtensions: [] };
  assert.deepStrictEqual(encodeIdentifierRequest(empty), fromHex('0000'));
  assert.deepStrictEqual(decodeIdentifierRequest(fromHex('0000')), empty);

  const profile = {
    stableUri: ALICE_USER,
    fields: [
      { fieldSource: 'oidcStdClaim' as const, fieldName: 'email', fieldValue: utf8('asmith@a.example') },
      { fieldSource: 'vcardField' as const, fieldName: 'ORG', fieldValue: new Uint8Array([0, 1, 2]) },
    ],
  };
  assert.equal(encodeUserProfile(profile).length > 0, true);
  assert.deepStrictEqual(checkWire('UserProfile', encodeUserProfile(profile), decodeUserProfile, encodeUserProfile), profile);
  const next = { componentId: ID_PAGE_RESPONSE_COMPONENT_ID, data: encodeIdentifierPageResponse({ nextCursor: utf8(BOB_USER) }) };
  assert.deepStrictEqual(decodeIdentifierPageResponse(next.data), { nextCursor: utf8(BOB_USER) });
  checkWire('IdentifierPageResponse', next.data, decodeIdentifierPageResponse, encodeIdentifierPageResponse);
  for (const responseCode of Object.keys(IDENTIFIER_QUERY_CODE) as (keyof typeof IDENTIFIER_QUERY_CODE)[]) {
    const found = responseCode === 'success';
    const res = {
      responseCode,
      uri: found ? [ALICE_USER, BOB_USER] : [],
      foundProfiles: found ? [profile, { stableUri: BOB_USER, fields: [] }] : [],
      idResponseExtensions: found ? [next] : [],
    };
    const bytes = encodeIdentifierResponse(res);
    assert.equal(bytes[0], IDENTIFIER_QUERY_CODE[responseCode]);
    assert.deepStrictEqual(checkWire('IdentifierResponse', bytes, decodeIdentifierResponse, encodeIdentifierResponse), res);
  }
  // reserved(0) and values past vcardField are not search types; FieldSource has only 7 and 8.
  for (const v of [0, 9, 255]) assert.throws(() => decodeQueryElement(Uint8Array.of(v, 0)), isMimiError('QueryElement', 'searchType'));
  assert.throws(() => decodeUserProfile(concatBytes(encodeIdentifierUri(ALICE_USER), fromHex('0401000000'))), isMimiError('ProfileField', 'fieldSource'));
  assert.equal(FIELD_SOURCE.oidcStdClaim, 7);
  assert.throws(() => decodeIdentifierResponse(fromHex('05000000')), isMimiError('IdentifierResponse', 'responseCode'));
  // searchValue is a UTF-8 string.
  assert.throws(() => decodeQueryElement(fromHex('0102c328')), isMimiError('QueryElement', 'searchValue'));
  assert.throws(() => encodeQueryElement({ searchType: 'oidcStdClaim', searchValue: 'x' } as never), isMimiError('QueryElement', 'claimName'));
  assert.throws(() => encodeQueryElement({ searchType: 'bogus', searchValue: 'x' } as never), isMimiError('QueryElement', 'searchType'));
  assert.throws(() => encodeIdentifierPageRequest({ cursor: new Uint8Array(), limit: 70000 }), isMimiError('IdentifierPageRequest', 'limit'));
});

test('encoders reject malformed values with MimiWireError', () => {
  const req = keyMaterialRequest();
  assert.throws(() => encodeKeyMaterialRequest(null as never), isMimiError('KeyMaterialRequest', '(value)'));
  assert.throws(
    () => encodeKeyMaterialRequest({ ...req, acceptableCiphersuites: [70000] }),
    isMimiError('KeyMaterialRequest', 'acceptableCiphersuites[0]'),
  );
  assert.throws(
    () => encodeKeyMaterialRequest({ ...req, acceptableCiphersuites: 'all' as never }),
    isMimiError('KeyMaterialRequest', 'acceptableCiphersuites'),
  );
  assert.throws(
    () => encodeKeyMaterialRequest({ ...req, requesterSignatureKey: 'key' as never }),
    isMimiError('KeyMaterialRequest', 'requesterSignatureKey'),
  );
  assert.throws(
    () => encodeKeyMaterialRequest({ ...req, requesterCredential: { credentialType: 'basic' } as never }),
    isMimiError('KeyMaterialRequest', 'requesterCredential'),
  );
  assert.throws(
    () => encodeKeyMaterialRequest({ ...req, requesterCredential: { raw: fromHex('0001') } as never }),
    isMimiError('KeyMaterialRequest', 'requesterCredential'),
  );
  // A raw KeyPackage with garbage after it is not forwarded.
  const kp = { ...bobKeyPackage, raw: concatBytes(bobKeyPackage.raw, fromHex('00')) };
  const resp = {
    protocol: 'mls10' as const,
    userStatus: 'success' as const,
    userUri: BOB_USER,
    clients: [{ clientStatus: 'success' as const, clientUri: BOB, keyPackage: kp }],
  };
  assert.throws(
    () => encodeKeyMaterialResponse(resp),
    (e: unknown) => e instanceof MimiWireError && e.path === 'KeyMaterialResponse.clients[0] > ClientKeyMaterial.keyPackage',
  );
  assert.throws(
    () => encodeFanoutMessage({ timestamp: 2n ** 64n, message: appMessage, kind: 'application' }),
    isMimiError('FanoutMessage', 'timestamp'),
  );
  assert.throws(() => decodeKeyMaterialRequest('bytes' as never), isMimiError('KeyMaterialRequest', '(input)'));
  // The same KeyPackage given as plain fields encodes to the same bytes as its raw form.
  const fromFields = encodeKeyMaterialResponse({
    ...resp,
    clients: [{ clientStatus: 'success', clientUri: BOB, keyPackage: rawless(bobKeyPackage) }],
  });
  const fromRaw = encodeKeyMaterialResponse({ ...resp, clients: [{ clientStatus: 'success', clientUri: BOB, keyPackage: bobKeyPackage }] });
  assert.ok(bytesEqual(fromFields, fromRaw));
  assert.deepStrictEqual(decodeRequiredCapabilities(encodeRequiredCapabilities(req.requiredCapabilities)).proposalTypes, [8, 10]);
});

test('random and adversarial inputs only ever produce MimiWireError', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['IdentifierUri', decodeIdentifierUri],
    ['KeyMaterialRequest', decodeKeyMaterialRequest],
    ['KeyMaterialResponse', decodeKeyMaterialResponse],
    ['BulkKeyMaterialRequest', decodeBulkKeyMaterialRequest],
    ['HandshakeBundle', decodeHandshakeBundle],
    ['UpdateRoomResponse', decodeUpdateRoomResponse],
    ['SubmitMessageRequest', decodeSubmitMessageRequest],
    ['SubmitMessageResponse', decodeSubmitMessageResponse],
    ['FanoutMessage', decodeFanoutMessage],
    ['FanoutMessageList', decodeFanoutList],
    ['GroupInfoRequest', decodeGroupInfoRequest],
    ['GroupInfoResponse', decodeGroupInfoResponse],
    ['GroupInfoRatchetTreeTBE', decodeGroupInfoRatchetTreeTBE],
    ['RatchetTreeOption', decodeRatchetTreeOption],
    ['ConsentEntry', decodeConsentEntry],
    ['IdentifierRequest', decodeIdentifierRequest],
    ['IdentifierResponse', decodeIdentifierResponse],
  ];
  // xorshift32: deterministic, so a failure reproduces.
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  // Valid prefixes followed by random bytes reach deep into the parsers.
  const prefixes = [
    new Uint8Array(),
    fromHex('01'),
    fromHex('0100'),
    concatBytes(new Uint8Array(8), appMessage.subarray(0, 20)),
    added.commit.subarray(0, 40),
    encodeKeyMaterialResponse(keyMaterialResponse('success')).subarray(0, 60),
  ];
  for (const [name, decode] of decoders) {
    for (let i = 0; i < 400; i++) {
      const prefix = prefixes[next() % prefixes.length];
      const tail = new Uint8Array(next() % 64).map(() => next() & 0xff);
      const input = concatBytes(prefix, tail);
      try {
        decode(input);
      } catch (e) {
        assert.ok(e instanceof MimiWireError, `${name} on ${toHex(input)} threw ${String(e)}`);
      }
    }
    // Maximal 4-byte vector lengths, and the forbidden 8-byte form, at the start.
    for (const input of [fromHex('bfffffff'), fromHex('01bfffffff'), fromHex('ffffffffffffffff'), fromHex('0100bfffffff00')]) {
      assert.throws(() => decode(input), (e: unknown) => e instanceof MimiWireError, `${name} on ${toHex(input)}`);
    }
  }
});
