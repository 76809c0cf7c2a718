// The one adapter between the app's MLS interface (engine.ts) and ts-mls 1.6.4. Everything that
// knows ts-mls types, defects or encodings lives here (plus crypto-selftest.ts for providers).
//
// Where private keys live:
// - DeviceKeys.signaturePrivateKey: the long-term Ed25519 key, always as the 32-byte seed (the
//   WebCrypto provider generates PKCS#8; we normalise so keys work with either provider).
// - GeneratedKeyPackage.privateState: only the KeyPackage's init + leaf HPKE private keys. The
//   signature key is not duplicated there; joinFromWelcome takes it from DeviceKeys.
// - GroupSession.encode(): ts-mls's GroupState, which embeds a copy of the signature private key,
//   the tree's HPKE private keys and the epoch secrets (current and retained past epochs). The
//   encoding is therefore secret and must be stored like DeviceKeys.
//
// Known ts-mls 1.6.4 defects and quirks handled here:
// - processMessage() passes emptyPskIndex for PrivateMessages (dropping the caller's PSK index);
//   we call processPrivateMessage / processPublicMessage directly.
// - ProcessMessageResult for application messages does not say who sent it; scripts/patch-ts-mls.mjs
//   (patch 7) has processPrivateMessage report the sender's leaf index (we used to decrypt the
//   sender data a second time to learn it).
// - processPublicMessage() treats every non-proposal as a commit, so a PublicMessage carrying
//   application data would crash inside it; we reject it first.
// - ClientState.clientConfig is not part of encodeGroupState(); restore() re-attaches ours.
// - Commits are sent as PublicMessage (wireAsPublicMessage) so the hub can read them, without
//   the ratchet_tree extension in the Welcome (the tree travels separately in our protocol).
// - ts-mls returns `consumed` secrets for the caller to zero. We do not: sessions are immutable
//   values and an older one may still be used (a pending commit can be refused by the hub), so
//   keys die with the session objects, and on disk with the encodings, that hold them.
//
// Extension encodings, ts-mls vs RFC 9420 (docs/mls-encodings.md):
// - ExternalSender struct: encodeExternalSender() emits `signature_key<V> || Credential`, which
//   matches RFC 9420 12.1.8.1 byte for byte (e.g. 20 <32-byte key> 0001 <varint len> <identity>).
// - external_senders extension: RFC 9420 extension_data is `ExternalSender external_senders<V>`;
//   unpatched ts-mls 1.6.4 reads and writes ONE bare ExternalSender, and takes an external
//   Sender.sender_index as "the n-th external_senders extension". scripts/patch-ts-mls.mjs makes
//   it read both forms and index the senders of all external_senders extensions in order (the RFC
//   vector index). createGroup writes the RFC form (rfcGroupContextExtension); rooms created
//   before keep their legacy bytes, which are hashed into the group state and which the hub
//   refuses to see changed.
// - external_pub GroupInfo extension: RFC 9420 12.4.3.2 is `struct { HPKEPublicKey external_pub; }`,
//   i.e. extension_data = varint(32) || key; unpatched ts-mls wrote and read the raw key. The patch
//   writes the RFC form and reads both (told apart by the group's HPKE key length).
// - ts-mls decodes extension types 1..5 to names ("external_senders" etc.) and compares by name,
//   so extensions handed to it must use those names, not numbers (see toTsMlsExtension).
//
// Pseudonymous clients (minimal-metadata rooms, docs/pseudonyms.md):
// - ts-mls 1.6.4 cannot decode credential types other than basic/x509 and would prefix any other
//   with a length; scripts/patch-ts-mls.mjs teaches it our PseudonymousCredential (0xF001), which
//   ts-mls names "61441" and keeps as `data` (the struct without credential_type).
// - ts-mls has no way to change a leaf's credential: an UpdatePath copies the old LeafNode's
//   credential, and there is no API to make an Update proposal (nor to keep its new HPKE key).
//   Receivers do accept a changed credential in an UpdatePath (they verify the new LeafNode's
//   signature and call the authentication service). publishIdentityLink() therefore commits from
//   a copy of the state whose own leaf already carries the new credential: createUpdatePath then
//   signs a LeafNode with it. Receivers check that only the identity link changed (successorProblem).
// - The Welcome's GroupInfo extensions (createCommit's groupInfoExtensions, joinGroupWithExtensions)
//   are encrypted to the joiners only: identity link keys travel there, never in groupInfo().
// - The MLS exporter of an epoch (mlsExporter) derives the identity link key of epochs whose commit
//   added or removed a leaf; a removed member cannot compute it.

import {
  createApplicationMessage,
  createCommit,
  createProposal,
  createGroup,
  createGroupInfoWithExternalPub,
  decodeGroupState,
  decodeMlsMessage,
  defaultPaddingConfig,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroupExternal,
  joinGroupWithExtensions,
  makePskIndex,
  mlsExporter,
  processPrivateMessage,
  processPublicMessage,
  type Capabilities,
  type CiphersuiteImpl,
  type ClientConfig,
  type ClientState,
  type Credential,
  type Extension,
  type IncomingMessageCallback,
  type KeyPackage,
  type LeafNode,
  type MLSMessage,
  type PrivateKeyPackage,
  type PrivateMessage,
  type Proposal,
  type ProposalWithSender,
  type PublicMessage,
  type RatchetTree,
} from 'ts-mls';
import { decodeRatchetTree, encodeRatchetTree, nodeEncoder, stripBlankNodes } from 'ts-mls/ratchetTree.js';
import { decodeGroupStateWithoutTree, encodeGroupStateWithoutTree, type GroupState } from 'ts-mls/clientState.js';
import { createHash } from 'node:crypto';
import { encode } from 'ts-mls/codec/tlsEncoder.js';
import { optionalEncoder } from 'ts-mls/codec/optional.js';
import { lengthEncoder } from 'ts-mls/codec/variableLength.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { CodecError, CryptoError, MlsError as TsMlsError } from 'ts-mls/mlsError.js';
import {
  CIPHERSUITE_ID,
  MlsError,
  type CommitOutput,
  type DeviceKeys,
  type GeneratedKeyPackage,
  type GroupSession,
  type Incoming,
  type IdentityLinkKey,
  type Member,
  type MemberIdentityLink,
  type MlsEngine,
  joinSessionState,
  settleIdentityLinks,
  splitSessionState,
} from './engine.js';
import { ed25519Seed, selectProvider, SUITE_NAME, type ProviderName } from './crypto-selftest.js';
import { verifyingInPlace } from './node-crypto-suite.js';
import { indexKeyPackages, keyPackageEquality } from './key-package-equality.js';
import { cooperate } from './cooperative.js';
import { decodeCooperatively } from './decode-ahead.js';
import { bytesEqual, concatBytes, fromUtf8, toB64, utf8 } from '../../src-shared/bytes.js';
import { parseMimiUriAs, userOfDevice } from '../../src-shared/identifiers.js';
import { CONNECTION_ONLY_EXTENSION_TYPE, connectionOnlyExtension } from '../../src-shared/connection-request.js';
import { JOIN_TICKET_EXTENSION_TYPE } from '../../src-shared/join-ticket.js';
import {
  createIdentityLink,
  decodeIdentityLinkKeys,
  encodeIdentityLinkKeys,
  IDENTITY_LINK_KEYS_EXTENSION_TYPE,
  identityLinkEpoch,
  identityLinkProblem,
  ILK_EXPORTER_LABEL,
  ILK_SIZE,
  openIdentityLink,
  sealIdentityLink,
} from '../../src-shared/identity-link.js';
import {
  decodePseudonymousCredential,
  encodePseudonymousCredential,
  encodePseudonymousMlsCredential,
  PSEUDONYMOUS_CREDENTIAL_TYPE,
  type PseudonymousCredential,
} from '../../src-shared/pseudonymous-credential.js';
import { TlsReader, TlsWriter } from '../../src-shared/tls.js';
import { decodeExternalSenders, EXTERNAL_SENDERS_EXTENSION_TYPE, rfcExternalSenders } from '../../src-shared/mls-extensions.js';

/** A GroupContext extension in RFC 9420 wire terms (type number + extension_data). */
export interface GroupContextExtension {
  type: number;
  data: Uint8Array;
}

const KEY_PACKAGE_LIFETIME_S = 90n * 24n * 3600n;
/** KeyPackages are valid from an hour ago so a peer whose clock runs behind still accepts them. */
const CLOCK_SKEW_S = 3600n;

/**
 * The room state GroupContext extension (src-shared/room-state.ts). RFC 9420 lets a group use a
 * non-default extension only if every leaf lists it, so every KeyPackage and leaf says it does.
 */
const ROOM_STATE_EXTENSION = 0xf006;

/** ts-mls's name for the PseudonymousCredential type 0xF001 (its open enum uses the decimal string). */
const PSEUDONYMOUS = String(PSEUDONYMOUS_CREDENTIAL_TYPE) as Credential['credentialType'];

/**
 * What our leaves advertise. Default extension/proposal types (1..5 / 1..7) are implicit. Every leaf,
 * basic or pseudonymous, lists both credential types: RFC 9420 (and ts-mls) require every member to
 * support every credential type in the tree, and a connection's bootstrap room mixes them. The
 * connection-only marker is a KeyPackage extension, which RFC 9420 10 wants listed too.
 */
const CAPABILITIES: Capabilities = {
  versions: ['mls10'],
  ciphersuites: [SUITE_NAME],
  extensions: [ROOM_STATE_EXTENSION, CONNECTION_ONLY_EXTENSION_TYPE, JOIN_TICKET_EXTENSION_TYPE],
  proposals: [],
  credentials: ['basic', PSEUDONYMOUS],
};

const CLIENT_CONFIG: ClientConfig = {
  keyRetentionConfig: {
    // The hub accepts application messages from the previous epoch, so a receiver that already
    // processed the next commit must keep the old epoch's secret tree. ts-mls keeps the last
    // `retainKeysForEpochs` epochs; 1 would suffice, 4 tolerates a burst of commits.
    retainKeysForEpochs: 4,
    // Skipped-generation keys per sender, for messages delivered out of order.
    retainKeysForGenerations: 32,
    maximumForwardRatchetSteps: 1000,
  },
  lifetimeConfig: {
    maximumTotalLifetime: KEY_PACKAGE_LIFETIME_S,
    // Leaves that came from old KeyPackages legitimately outlive them; only the adder checks.
    validateLifetimeOnReceive: false,
  },
  // ts-mls compares every added KeyPackage with every other (O(n²)); see key-package-equality.ts.
  keyPackageEqualityConfig: keyPackageEquality,
  paddingConfig: defaultPaddingConfig,
  authService: {
    // The core authenticates device URIs; here we only insist identities are readable. A
    // pseudonymous credential must decode strictly and name the leaf's own signature key.
    async validateCredential(credential: Credential, signaturePublicKey: Uint8Array) {
      if (credential.credentialType === 'basic') return isUtf8(credential.identity);
      try {
        const p = pseudonymousOf(credential);
        return p !== undefined && bytesEqual(p.signaturePublicKey, signaturePublicKey);
      } catch {
        return false;
      }
    },
  },
};

/** The opened, unsettled identity links of a session of this engine (for the worker, engine-worker.ts). */
export function openedIdentityLinks(s: GroupSession): MemberIdentityLink[] {
  if (!(s instanceof TsMlsSession)) throw new TypeError('not a session of this engine');
  return s.openedIdentityLinks();
}

// ---------------------------------------------------------------------------------------------
// Engine

export async function createMlsEngine(opts?: { forceProvider?: ProviderName; order?: readonly ProviderName[] }): Promise<MlsEngine> {
  const selected = await selectProvider(opts?.forceProvider, undefined, opts?.order);
  return new TsMlsEngine(selected.provider, selected.impl, selected.webcryptoFailure);
}

interface Ctx {
  impl: CiphersuiteImpl;
  config: ClientConfig;
}

class TsMlsEngine implements MlsEngine {
  private readonly ctx: Ctx;

  constructor(
    readonly provider: ProviderName,
    impl: CiphersuiteImpl,
    /** Why the WebCrypto self test failed, when the engine fell back (worth logging). */
    readonly webcryptoFailure?: string,
  ) {
    this.ctx = { impl, config: CLIENT_CONFIG };
  }

  async newDeviceKeys(identity: string): Promise<DeviceKeys> {
    checkIdentity(identity);
    const pair = await this.ctx.impl.signature.keygen();
    return { identity, signaturePublicKey: pair.publicKey, signaturePrivateKey: ed25519Seed(pair.signKey) };
  }

  async newPseudonymousKeys(device: DeviceKeys, pseudonyms: { client: string; user: string }): Promise<DeviceKeys> {
    if (device?.pseudonymous !== undefined) throw new MlsError('invalid', 'pseudonymous keys belong to a device, not to another pseudonym');
    if (!parseMimiUriAs('device', device?.identity)) throw new MlsError('invalid', `not a device URI: ${JSON.stringify(device?.identity)}`);
    const deviceSeed = await checkDeviceKeys(device, this.ctx.impl);
    const pair = await this.ctx.impl.signature.keygen();
    const signaturePublicKey = pair.publicKey;
    const tbs = { clientPseudonym: pseudonyms?.client, userPseudonym: pseudonyms?.user, signaturePublicKey };
    let identityLink: Uint8Array;
    try {
      identityLink = createIdentityLink({ ...device, signaturePrivateKey: deviceSeed }, tbs);
    } catch (err) {
      throw new MlsError('invalid', (err as Error).message);
    }
    return {
      identity: tbs.clientPseudonym,
      signaturePublicKey,
      signaturePrivateKey: ed25519Seed(pair.signKey),
      pseudonymous: { userPseudonym: tbs.userPseudonym, identityLink },
    };
  }

  async generateKeyPackages(keys: DeviceKeys, count: number, opts: { connectionOnly?: boolean } = {}): Promise<GeneratedKeyPackage[]> {
    if (!Number.isInteger(count) || count < 1 || count > 10_000) {
      throw new MlsError('invalid', `KeyPackage count must be an integer in 1..10000, got ${count}`);
    }
    const signKey = await checkDeviceKeys(keys, this.ctx.impl);
    const out: GeneratedKeyPackage[] = [];
    for (let i = 0; i < count; i++) {
      const kp = await newKeyPackage(keys, signKey, this.ctx.impl, { connectionOnly: opts.connectionOnly === true });
      out.push({
        publicMessage: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: kp.publicPackage }),
        ref: await makeKeyPackageRef(kp.publicPackage, this.ctx.impl.hash),
        privateState: encodeKeyPackagePrivate(kp.privatePackage),
      });
    }
    return out;
  }

  async keyPackageRef(publicMessage: Uint8Array): Promise<Uint8Array> {
    return makeKeyPackageRef(decodeKeyPackageMessage(publicMessage), this.ctx.impl.hash);
  }

  keyPackageIdentity(publicMessage: Uint8Array): string {
    return credentialIdentity(decodeKeyPackageMessage(publicMessage).leafNode.credential);
  }

  /**
   * `extensions` (not yet in the MlsEngine interface) become GroupContext extensions, in order;
   * external_senders must come first (see the header comment).
   */
  async createGroup(keys: DeviceKeys, groupId: string, extensions: GroupContextExtension[] = []): Promise<GroupSession> {
    if (typeof groupId !== 'string' || groupId.length === 0) throw new MlsError('invalid', 'group id must be a non-empty string');
    const signKey = await checkDeviceKeys(keys, this.ctx.impl);
    // A pseudonymous creator draws the first identity link key and seals its own link at once.
    const ilk: IdentityLinkKey | undefined = keys.pseudonymous ? { epoch: 0n, key: crypto.getRandomValues(new Uint8Array(ILK_SIZE)) } : undefined;
    const identityLinkCiphertext = ilk ? sealOwnLink(keys, groupId, ilk) : undefined;
    const kp = await newKeyPackage(keys, signKey, this.ctx.impl, { identityLinkCiphertext });
    const state = await wrap('invalid', () =>
      createGroup(utf8(groupId), kp.publicPackage, kp.privatePackage, extensions.map(rfcGroupContextExtension).map(toTsMlsExtension), this.ctx.impl, this.ctx.config),
    );
    return new TsMlsSession(this.ctx, state, ilk ? [ilk] : []);
  }

  async joinFromWelcome(
    keys: DeviceKeys,
    welcome: Uint8Array,
    keyPackage: GeneratedKeyPackage,
    ratchetTree?: Uint8Array,
  ): Promise<GroupSession> {
    const w = decodeMessageOf(welcome, 'mls_welcome', 'Welcome').welcome;
    const kp = decodeKeyPackageMessage(keyPackage.publicMessage);
    const priv = decodeKeyPackagePrivate(keyPackage.privateState);
    const tree = ratchetTree === undefined ? undefined : decodeTree(ratchetTree);
    const signKey = await checkDeviceKeys(keys, this.ctx.impl);
    if (!bytesEqual(kp.leafNode.signaturePublicKey, keys.signaturePublicKey)) {
      throw new MlsError('invalid', 'KeyPackage was not made with these device keys');
    }
    if (w.cipherSuite !== SUITE_NAME) throw new MlsError('invalid', `unsupported ciphersuite ${w.cipherSuite}`);
    const ref = await makeKeyPackageRef(kp, this.ctx.impl.hash);
    if (!w.secrets.some((s) => bytesEqual(s.newMember, ref))) {
      throw new MlsError('notMember', 'Welcome is not addressed to this KeyPackage');
    }
    const privateKeys: PrivateKeyPackage = { ...priv, signaturePrivateKey: signKey };
    const [state, groupInfoExtensions] = await wrap('invalid', () =>
      joinGroupWithExtensions(w, kp, privateKeys, makePskIndex(undefined, {}), this.ctx.impl, tree, undefined, this.ctx.config),
    );
    const sent = groupInfoExtensions.filter((e) => e.extensionType === IDENTITY_LINK_KEYS_EXTENSION_TYPE);
    if (sent.length > 1) throw new MlsError('malformed', 'the Welcome carries two identity link key extensions');
    let welcomeKeys: IdentityLinkKey[] = [];
    if (sent.length === 1) {
      try {
        welcomeKeys = decodeIdentityLinkKeys(sent[0].extensionData);
      } catch (err) {
        throw new MlsError('malformed', `identity link keys in the Welcome: ${(err as Error).message}`);
      }
    }
    return new TsMlsSession(this.ctx, state, await nextIlks(this.ctx.impl, accepted(welcomeKeys, state), undefined, state));
  }

  async joinExternal(
    keys: DeviceKeys,
    groupInfo: Uint8Array,
    ratchetTree: Uint8Array,
    opts: { leafExtensions?: { type: number; data: Uint8Array }[] } = {},
  ): Promise<{ pending: GroupSession; commit: Uint8Array; newEpoch: bigint }> {
    const gi = decodeMessageOf(groupInfo, 'mls_group_info', 'GroupInfo').groupInfo;
    const tree = decodeTree(ratchetTree);
    const signKey = await checkDeviceKeys(keys, this.ctx.impl);
    if (gi.groupContext.cipherSuite !== SUITE_NAME) {
      throw new MlsError('invalid', `unsupported ciphersuite ${gi.groupContext.cipherSuite}`);
    }
    const kp = await newKeyPackage(keys, signKey, this.ctx.impl, { leafExtensions: opts.leafExtensions });
    // A device that lost its state rejoins with the same signature key: ts-mls's "resync" adds a
    // Remove of the stale leaf to the external commit (RFC 9420 12.4.3.2).
    const resync = tree.some((n) => n?.nodeType === 'leaf' && bytesEqual(n.leaf.signaturePublicKey, keys.signaturePublicKey));
    const { publicMessage, newState } = await wrap('invalid', () =>
      joinGroupExternal(gi, kp.publicPackage, kp.privatePackage, resync, this.ctx.impl, tree, this.ctx.config),
    );
    return {
      // An external joiner learns older identity link keys only from a member (withIdentityLinkKeys).
      pending: new TsMlsSession(this.ctx, newState, await nextIlks(this.ctx.impl, [], undefined, newState)),
      commit: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage }),
      newEpoch: newState.groupContext.epoch,
    };
  }

  restore(encoded: Uint8Array): GroupSession {
    const { state, ilks } = decodeSessionState(encoded, this.ctx.config);
    return new TsMlsSession(this.ctx, state, ilks);
  }
}

// ---------------------------------------------------------------------------------------------
// Session

class TsMlsSession implements GroupSession {
  readonly groupId: string;

  constructor(
    private readonly ctx: Ctx,
    private readonly state: ClientState,
    /** Identity link keys, ascending by epoch; empty in groups that never had a pseudonymous leaf. */
    private readonly ilks: readonly IdentityLinkKey[] = [],
  ) {
    this.groupId = new TextDecoder().decode(state.groupContext.groupId);
  }

  get epoch(): bigint {
    return this.state.groupContext.epoch;
  }

  get ownLeafIndex(): number {
    return this.state.privatePath.leafIndex;
  }

  members(): Member[] {
    const tree = this.state.ratchetTree;
    // Every message sent or received makes a new session over the same tree, and the core asks for
    // the members several times per message (its user, the sender's, receipts): building them
    // decodes every leaf's credential. Kept per tree and checked leaf by leaf (object identity, no
    // decoding), so a tree changed in place is never answered from the cache. A copy each time:
    // callers may sort or filter what they get.
    const nodes: (LeafNode | undefined)[] = [];
    for (let i = 0; i < tree.length; i += 2) {
      const n = tree[i];
      nodes.push(n?.nodeType === 'leaf' ? n.leaf : undefined);
    }
    const hit = membersByTree.get(tree);
    if (hit && hit.nodes.length === nodes.length && hit.nodes.every((n, i) => n === nodes[i])) return hit.members.slice();
    const members = leaves(tree).map(({ leafIndex, leaf }): Member => {
      const p = pseudonymousOf(leaf.credential);
      const common = { leafIndex, signatureKey: leaf.signaturePublicKey, extensions: leaf.extensions.map(fromTsMlsExtension) };
      if (p === undefined) return { ...common, identity: leafIdentity(leaf) };
      return { ...common, identity: p.clientPseudonym, pseudonym: { userPseudonym: p.userPseudonym, credential: encodePseudonymousMlsCredential(p) } };
    });
    membersByTree.set(tree, { nodes, members });
    return members.slice();
  }

  identityLinks(opts: { authenticate?: (deviceUri: string, deviceSignatureKey: Uint8Array) => boolean } = {}): MemberIdentityLink[] {
    return settleIdentityLinks(this.openedIdentityLinks(), opts.authenticate);
  }

  /** Every pseudonymous leaf's identity link, opened with this member's keys, before settleIdentityLinks. */
  openedIdentityLinks(): MemberIdentityLink[] {
    const out: MemberIdentityLink[] = [];
    for (const { leafIndex, leaf } of leaves(this.state.ratchetTree)) {
      const p = pseudonymousOf(leaf.credential);
      if (p === undefined) continue;
      out.push({ leafIndex, identity: p.clientPseudonym, userPseudonym: p.userPseudonym, ...openIdentityLink({ groupId: this.groupId, keys: this.ilks, credential: p }) });
    }
    return out;
  }

  identityLinkKeys(): IdentityLinkKey[] {
    return this.ilks.map((k) => ({ epoch: k.epoch, key: k.key.slice() }));
  }

  withIdentityLinkKeys(keys: IdentityLinkKey[]): GroupSession {
    if (!Array.isArray(keys)) throw new MlsError('invalid', 'identity link keys must be an array');
    for (const k of keys) {
      if (typeof k?.epoch !== 'bigint' || !(k.key instanceof Uint8Array) || k.key.length !== ILK_SIZE) {
        throw new MlsError('invalid', `an identity link key is an epoch (bigint) and ${ILK_SIZE} bytes`);
      }
    }
    return this.next(this.state, pruneIlks(mergeIlks(this.ilks, accepted(keys, this.state)), this.state.ratchetTree));
  }

  async publishIdentityLink(keys: DeviceKeys): Promise<CommitOutput> {
    this.checkActive();
    if (keys?.pseudonymous === undefined) throw new MlsError('invalid', 'publishIdentityLink needs the keys of a pseudonymous client');
    const own = this.state.ratchetTree[this.ownLeafIndex * 2];
    if (own?.nodeType !== 'leaf') throw new MlsError('invalid', 'own leaf is blank');
    const current = pseudonymousOf(own.leaf.credential);
    if (
      current === undefined ||
      !bytesEqual(own.leaf.signaturePublicKey, keys.signaturePublicKey) ||
      current.clientPseudonym !== keys.identity ||
      current.userPseudonym !== keys.pseudonymous.userPseudonym
    ) {
      throw new MlsError('invalid', "these keys are not the ones of this client's leaf");
    }
    const newest = this.ilks.at(-1);
    if (newest === undefined) throw new MlsError('invalid', 'no identity link key yet: wait for one from the group (withIdentityLinkKeys)');
    const credential = { ...current, identityLinkCiphertext: sealOwnLink(keys, this.groupId, newest) };
    // ts-mls copies the committer's credential from its own leaf into the UpdatePath LeafNode, so
    // the commit starts from a tree whose own leaf already has the new one (header comment).
    const tree = this.state.ratchetTree.slice();
    tree[this.ownLeafIndex * 2] = { nodeType: 'leaf', leaf: { ...own.leaf, credential: tsCredential(credential) } };
    return this.commit([], { ...this.state, ratchetTree: tree });
  }

  pendingProposals(): number {
    return Object.keys(this.state.unappliedProposals).length;
  }

  pendingRemovesSelf(): boolean {
    return Object.values(this.state.unappliedProposals).some(
      (p) => p.proposal.proposalType === 'remove' && p.proposal.remove.removed === this.ownLeafIndex,
    );
  }

  pendingRemovals(): { identity: string; departed: boolean; byHub: boolean }[] {
    const tree = this.state.ratchetTree;
    const out: { identity: string; departed: boolean; byHub: boolean }[] = [];
    for (const p of Object.values(this.state.unappliedProposals)) {
      if (p.proposal.proposalType !== 'remove') continue;
      const removed = leafAt(tree, p.proposal.remove.removed);
      if (removed === undefined) continue;
      out.push({ identity: leafIdentity(removed), departed: departedBy(removed, leafAt(tree, p.senderLeafIndex)), byHub: p.senderLeafIndex === undefined });
    }
    return out;
  }

  pendingHubExtensions(): { type: number; data: Uint8Array }[] | undefined {
    for (const p of Object.values(this.state.unappliedProposals)) {
      if (p.proposal.proposalType === 'group_context_extensions' && p.senderLeafIndex === undefined) {
        return p.proposal.groupContextExtensions.extensions.map((e) => ({ type: extensionTypeNumber(e.extensionType), data: e.extensionData }));
      }
    }
    return undefined;
  }

  extensions(): { type: number; data: Uint8Array }[] {
    return this.state.groupContext.extensions.map((e) => ({ type: extensionTypeNumber(e.extensionType), data: e.extensionData }));
  }

  async proposeRemove(identities: string[]): Promise<{ session: GroupSession; proposals: Uint8Array[] }> {
    this.checkActive();
    const members = this.members();
    let state = this.state;
    const proposals: Uint8Array[] = [];
    for (const identity of new Set(identities)) {
      const matches = members.filter((m) => m.identity === identity);
      if (matches.length === 0) throw new MlsError('notMember', `${identity} is not a member of ${this.groupId}`);
      for (const m of matches) {
        // PublicMessage, so the hub can see what is proposed.
        const res = await wrap('invalid', () => createProposal(state, true, { proposalType: 'remove', remove: { removed: m.leafIndex } }, this.ctx.impl));
        state = res.newState;
        proposals.push(encodeMlsMessage(res.message));
      }
    }
    return { session: this.next(state), proposals };
  }

  encode(): Uint8Array {
    return encodeSessionState(this.state, this.ilks);
  }

  async encrypt(plaintext: Uint8Array, authenticatedData?: Uint8Array): Promise<{ session: GroupSession; message: Uint8Array }> {
    this.checkActive();
    if (Object.keys(this.state.unappliedProposals).length > 0) {
      throw new MlsError('invalid', 'pending proposals must be committed before sending application messages');
    }
    const res = await wrap('invalid', () => createApplicationMessage(this.state, plaintext, this.ctx.impl, authenticatedData));
    return {
      session: this.next(res.newState),
      message: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: res.privateMessage }),
    };
  }

  async process(message: Uint8Array): Promise<{ session: GroupSession; result: Incoming }> {
    // A big commit's proposals are decoded in slices first (decode-ahead.ts): one stall less.
    const msg = await decodeCooperatively(message, (bytes) => decodeMessage(bytes, 'MLSMessage'));
    if (msg.wireformat === 'mls_private_message') return this.processPrivate(msg.privateMessage);
    if (msg.wireformat === 'mls_public_message') return this.processPublic(msg.publicMessage);
    throw new MlsError('invalid', `process() takes group messages, got ${msg.wireformat}`);
  }

  private async processPrivate(pm: PrivateMessage): Promise<{ session: GroupSession; result: Incoming }> {
    this.checkGroup(pm.groupId);
    this.checkActive();
    const current = this.state.groupContext.epoch;
    const epochData =
      pm.epoch === current
        ? { senderDataSecret: this.state.keySchedule.senderDataSecret, ratchetTree: this.state.ratchetTree }
        : pm.epoch < current
          ? this.state.historicalReceiverData.get(pm.epoch)
          : undefined;
    if (epochData === undefined) {
      throw new MlsError('wrongEpoch', `message is for epoch ${pm.epoch}; this device is at ${current} and has no keys for it`);
    }
    if (pm.epoch < current && pm.contentType !== 'application') {
      throw new MlsError('wrongEpoch', `${pm.contentType} from past epoch ${pm.epoch} (current ${current})`);
    }
    const proposalsSeen = recordCommitProposals();
    // Workaround: processMessage() would drop the PSK index for PrivateMessages.
    // An application message's one signature is checked in place, not on the thread pool (node-crypto-suite.ts).
    const run = () => processPrivateMessage(this.state, pm, makePskIndex(this.state, {}), this.ctx.impl, proposalsSeen.callback);
    const res = await wrap('invalid', () => (pm.contentType === 'application' ? verifyingInPlace(run) : run()));
    // Who sent it: the leaf whose signature ts-mls verified (scripts/patch-ts-mls.mjs, patch 7, has
    // it report that leaf, so its sender data is decrypted once, by ts-mls).
    const senderLeafIndex = res.senderLeafIndex;
    if (res.kind === 'applicationMessage') {
      const senderLeaf = senderLeafIndex === undefined ? undefined : epochData.ratchetTree[senderLeafIndex * 2];
      if (senderLeaf?.nodeType !== 'leaf') throw new MlsError('invalid', `sender leaf ${senderLeafIndex} is blank`);
      return {
        session: this.next(res.newState),
        result: { kind: 'application', plaintext: res.message, senderIdentity: leafIdentity(senderLeaf.leaf), epoch: pm.epoch },
      };
    }
    if (pm.contentType === 'proposal') {
      return { session: this.next(res.newState), result: { kind: 'proposal', epoch: current } };
    }
    return this.commitResult(res.newState, proposalsSeen.proposals, undefined, senderLeafIndex);
  }

  private async processPublic(pm: PublicMessage): Promise<{ session: GroupSession; result: Incoming }> {
    const content = pm.content;
    this.checkGroup(content.groupId);
    this.checkActive();
    const current = this.state.groupContext.epoch;
    if (content.epoch !== current) {
      throw new MlsError('wrongEpoch', `${content.contentType} is for epoch ${content.epoch}; this device is at ${current}`);
    }
    if (content.contentType === 'application') {
      throw new MlsError('invalid', 'application data must not be sent as PublicMessage');
    }
    if (
      content.contentType === 'commit' &&
      content.sender.senderType === 'member' &&
      content.sender.leafIndex === this.state.privatePath.leafIndex
    ) {
      throw new MlsError('invalid', "this device's own commit: adopt CommitOutput.pending instead of processing it");
    }
    if (content.contentType === 'commit') {
      // Cheap KeyPackage equality for ts-mls's O(n²) checks of this commit (key-package-equality.ts).
      indexKeyPackages(content.commit.proposals.flatMap((p) => (p.proposalOrRefType === 'proposal' && p.proposal.proposalType === 'add' ? [p.proposal.add.keyPackage] : [])));
    }
    const proposalsSeen = recordCommitProposals();
    const res = await wrap('invalid', () =>
      processPublicMessage(this.state, pm, makePskIndex(this.state, {}), this.ctx.impl, proposalsSeen.callback),
    );
    if (content.contentType === 'proposal') {
      return { session: this.next(res.newState), result: { kind: 'proposal', epoch: current } };
    }
    const joiner = content.sender.senderType === 'new_member_commit' ? content.commit.path?.leafNode : undefined;
    return this.commitResult(res.newState, proposalsSeen.proposals, joiner, content.sender.senderType === 'member' ? content.sender.leafIndex : undefined);
  }

  private async commitResult(
    newState: ClientState,
    proposals: ProposalWithSender[],
    externalJoiner: LeafNode | undefined,
    committerLeaf: number | undefined,
  ): Promise<{ session: GroupSession; result: Incoming }> {
    const selfRemoved = newState.groupActiveState.kind === 'removedFromGroup';
    const oldTree = this.state.ratchetTree;
    const identityAt = (leaf: number | undefined): string | undefined => {
      const node = leafAt(oldTree, leaf);
      return node === undefined ? undefined : leafIdentity(node);
    };
    // Leaves that stay where they were may only change their identity link (ts-mls does not check).
    const updated = new Set(proposals.flatMap((p) => (p.proposal.proposalType === 'update' && p.senderLeafIndex !== undefined ? [p.senderLeafIndex] : [])));
    if (committerLeaf !== undefined) updated.add(committerLeaf);
    const identityLinksChanged: string[] = [];
    if (!selfRemoved) {
      for (const leaf of updated) {
        const before = leafAt(oldTree, leaf);
        const after = leafAt(newState.ratchetTree, leaf);
        if (before === undefined || after === undefined) continue;
        const problem = successorProblem(before, after);
        if (problem) throw new MlsError('invalid', `leaf ${leaf} (${leafIdentity(before)}): ${problem}`);
        const a = pseudonymousOf(before.credential);
        const b = pseudonymousOf(after.credential);
        if (a && b && !bytesEqual(a.identityLinkCiphertext, b.identityLinkCiphertext)) identityLinksChanged.push(b.clientPseudonym);
      }
    }
    const removed: string[] = [];
    const departed: string[] = [];
    const removedByHub: string[] = [];
    const added: string[] = [];
    let hubExtensions: { type: number; data: Uint8Array }[] | undefined;
    for (const { proposal, senderLeafIndex } of proposals) {
      if (proposal.proposalType === 'remove') {
        const leaf = leafAt(oldTree, proposal.remove.removed);
        if (leaf === undefined) continue;
        const identity = leafIdentity(leaf);
        removed.push(identity);
        // An external commit carries its Removes by value (RFC 9420 12.4.3.2), so a Remove without
        // a sender leaf is the joiner's own there, and an external sender's (the hub's) otherwise.
        const proposer = senderLeafIndex === undefined && externalJoiner !== undefined ? externalJoiner : leafAt(oldTree, senderLeafIndex);
        if (departedBy(leaf, proposer)) departed.push(identity);
        if (proposer === undefined) removedByHub.push(identity);
      } else if (proposal.proposalType === 'add') {
        added.push(credentialIdentity(proposal.add.keyPackage.leafNode.credential));
      } else if (proposal.proposalType === 'group_context_extensions' && senderLeafIndex === undefined && externalJoiner === undefined) {
        // By reference from an external sender: the hub's (an external commit cannot carry one).
        hubExtensions = proposal.groupContextExtensions.extensions.map((e) => ({ type: extensionTypeNumber(e.extensionType), data: e.extensionData }));
      }
    }
    if (externalJoiner !== undefined) added.push(credentialIdentity(externalJoiner.credential));
    const committer = externalJoiner !== undefined ? credentialIdentity(externalJoiner.credential) : (identityAt(committerLeaf) ?? '');
    return {
      session: selfRemoved ? this.next(newState, []) : this.next(newState, await nextIlks(this.ctx.impl, this.ilks, oldTree, newState)),
      result: {
        kind: 'commit',
        // ts-mls leaves a removed member's state in the old epoch; the commit still moved the group on.
        epoch: selfRemoved ? this.state.groupContext.epoch + 1n : newState.groupContext.epoch,
        added,
        removed,
        committer,
        departed,
        removedByHub,
        ...(hubExtensions ? { hubExtensions } : {}),
        selfRemoved,
        ...(identityLinksChanged.length > 0 ? { identityLinksChanged } : {}),
      },
    };
  }

  async add(keyPackages: Uint8Array[], authenticatedData?: Uint8Array): Promise<CommitOutput> {
    if (!Array.isArray(keyPackages) || keyPackages.length === 0) throw new MlsError('invalid', 'add() needs at least one KeyPackage');
    return this.commit(await addProposals(keyPackages), this.state, authenticatedData);
  }

  async remove(identities: string[]): Promise<CommitOutput> {
    if (!Array.isArray(identities) || identities.length === 0) throw new MlsError('invalid', 'remove() needs at least one identity');
    const members = this.members();
    const own = members.find((m) => m.leafIndex === this.ownLeafIndex)?.identity;
    const proposals: Proposal[] = [];
    for (const identity of new Set(identities)) {
      if (identity === own) throw new MlsError('invalid', 'a device cannot remove itself with a commit');
      const matches = members.filter((m) => m.identity === identity);
      if (matches.length === 0) throw new MlsError('notMember', `${identity} is not a member of ${this.groupId}`);
      for (const m of matches) proposals.push({ proposalType: 'remove', remove: { removed: m.leafIndex } });
    }
    return this.commit(proposals);
  }

  async update(): Promise<CommitOutput> {
    return this.commit([]);
  }

  async commitChanges(changes: { add?: Uint8Array[]; remove?: string[]; extensions?: GroupContextExtension[]; authenticatedData?: Uint8Array }): Promise<CommitOutput> {
    const members = this.members();
    const own = members.find((m) => m.leafIndex === this.ownLeafIndex)?.identity;
    const proposals: Proposal[] = [];
    proposals.push(...(await addProposals(changes.add ?? [])));
    const pending = new Set(Object.values(this.state.unappliedProposals).flatMap((p) => (p.proposal.proposalType === 'remove' ? [p.proposal.remove.removed] : [])));
    for (const identity of new Set(changes.remove ?? [])) {
      if (identity === own) throw new MlsError('invalid', 'a device cannot remove itself with a commit');
      const matches = members.filter((m) => m.identity === identity);
      if (matches.length === 0) throw new MlsError('notMember', `${identity} is not a member of ${this.groupId}`);
      // A leaf already proposed for removal is removed by that proposal; a second Remove is invalid.
      for (const m of matches) if (!pending.has(m.leafIndex)) proposals.push({ proposalType: 'remove', remove: { removed: m.leafIndex } });
    }
    if (changes.extensions) {
      const current = this.state.groupContext.extensions.map(fromTsMlsExtension);
      const exts = changes.extensions.map((e) => inRoomForm(e, current));
      proposals.push({ proposalType: 'group_context_extensions', groupContextExtensions: { extensions: exts.map(toTsMlsExtension) } });
    }
    return this.commit(proposals, this.state, changes.authenticatedData);
  }

  async groupInfo(): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
    return exportGroupInfo(this.state, this.ctx.impl);
  }

  /**
   * `from`: the state to commit from (publishIdentityLink's copy with the new own credential).
   * `authenticatedData`: the commit's cleartext AAD (e.g. the vouches for KeyPackages fetched
   * over OHTTP, src-shared/key-package-vouch.ts), read by the hub.
   */
  private async commit(proposals: Proposal[], from: ClientState = this.state, authenticatedData?: Uint8Array): Promise<CommitOutput> {
    this.checkActive();
    const joining = proposals.some((p) => p.proposalType === 'add') || Object.values(from.unappliedProposals).some((p) => p.proposal.proposalType === 'add');
    // Cheap KeyPackage equality for ts-mls's O(n²) checks of this commit (key-package-equality.ts).
    indexKeyPackages([...proposals, ...Object.values(from.unappliedProposals).map((p) => p.proposal)].flatMap((p) => (p.proposalType === 'add' ? [p.add.keyPackage] : [])));
    // Joiners get the identity link keys the new tree's links need, inside the encrypted GroupInfo.
    const groupInfoExtensions: Extension[] =
      joining && this.ilks.length > 0 ? [{ extensionType: IDENTITY_LINK_KEYS_EXTENSION_TYPE, extensionData: encodeIdentityLinkKeys(this.ilks) }] : [];
    const res = await wrap('invalid', () =>
      createCommit(
        { state: from, cipherSuite: this.ctx.impl, pskIndex: makePskIndex(from, {}) },
        // PublicMessage so the hub can validate and apply it; no ratchet_tree in the Welcome
        // because the tree is delivered separately.
        { extraProposals: proposals, wireAsPublicMessage: true, ratchetTreeExtension: false, groupInfoExtensions, ...(authenticatedData?.length ? { authenticatedData } : {}) },
      ),
    );
    const { groupInfo, ratchetTree } = await exportGroupInfo(res.newState, this.ctx.impl);
    return {
      pending: this.next(res.newState, await nextIlks(this.ctx.impl, this.ilks, this.state.ratchetTree, res.newState)),
      commit: encodeMlsMessage(res.commit),
      welcome:
        res.welcome === undefined ? undefined : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: res.welcome }),
      groupInfo,
      ratchetTree,
      newEpoch: res.newState.groupContext.epoch,
    };
  }

  private next(state: ClientState, ilks: readonly IdentityLinkKey[] = this.ilks): TsMlsSession {
    return new TsMlsSession(this.ctx, state, ilks);
  }

  private checkGroup(groupId: Uint8Array): void {
    if (!bytesEqual(groupId, this.state.groupContext.groupId)) {
      throw new MlsError('wrongGroup', `message is for group ${new TextDecoder().decode(groupId)}, not ${this.groupId}`);
    }
  }

  private checkActive(): void {
    const s = this.state.groupActiveState.kind;
    if (s === 'removedFromGroup') throw new MlsError('notMember', `this device was removed from ${this.groupId}`);
    if (s !== 'active') throw new MlsError('invalid', `group ${this.groupId} is ${s}`);
  }
}

/**
 * Add proposals for `keyPackages`, decoded with a yield point between them (cooperative.ts): a
 * thousand KeyPackages are ~50 ms of decoding, one event-loop stall if done in one go.
 */
async function addProposals(keyPackages: readonly Uint8Array[]): Promise<Proposal[]> {
  const proposals: Proposal[] = [];
  for (const m of keyPackages) {
    const due = cooperate();
    if (due !== undefined) await due;
    proposals.push({ proposalType: 'add', add: { keyPackage: decodeKeyPackageMessage(m) } });
  }
  return proposals;
}

async function exportGroupInfo(state: ClientState, impl: CiphersuiteImpl): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
  const gi = await createGroupInfoWithExternalPub(state, [], impl);
  return {
    groupInfo: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: gi }),
    ratchetTree: await encodeRatchetTreeCooperatively(state.ratchetTree),
  };
}

/**
 * encodeRatchetTree's bytes (RFC 9420 `optional<Node> ratchet_tree<V>`, blank nodes after the last
 * non-blank one left out), with a yield point between slices of nodes: a 1,000-member tree in one
 * call was one of the longest stalls left on the committer's side.
 */
export async function encodeRatchetTreeCooperatively(tree: ClientState['ratchetTree']): Promise<Uint8Array> {
  const nodes = stripBlankNodes(tree);
  if (nodes.length < 256) return encodeRatchetTree(tree);
  const encodeOne = encode(optionalEncoder(nodeEncoder));
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < nodes.length; i++) {
    if (i % 64 === 63) {
      const due = cooperate();
      if (due !== undefined) await due;
    }
    const part = encodeOne(nodes[i]);
    parts.push(part);
    total += part.length;
  }
  const header = encode(lengthEncoder)(total);
  const out = new Uint8Array(header.length + total);
  out.set(header, 0);
  let at = header.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Accepts everything the protocol allows (ts-mls has validated it by then), like acceptAll, and
 * remembers which proposals a commit applied so adds and removes can be reported.
 */
function recordCommitProposals(): { callback: IncomingMessageCallback; proposals: ProposalWithSender[] } {
  const proposals: ProposalWithSender[] = [];
  const callback: IncomingMessageCallback = (incoming) => {
    if (incoming.kind === 'commit') proposals.push(...incoming.proposals);
    return 'accept';
  };
  return { callback, proposals };
}

// ---------------------------------------------------------------------------------------------
// KeyPackages and device keys

/**
 * A KeyPackage of `keys`. A pseudonymous leaf carries `identityLinkCiphertext`, empty unless the
 * caller already holds the room's identity link key (only the creator of a group does).
 */
async function newKeyPackage(
  keys: DeviceKeys,
  signKey: Uint8Array,
  impl: CiphersuiteImpl,
  opts: { connectionOnly?: boolean; identityLinkCiphertext?: Uint8Array; leafExtensions?: { type: number; data: Uint8Array }[] } = {},
) {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const credential: Credential = keys.pseudonymous
    ? tsCredential({ ...pseudonymousTbs(keys), identityLinkCiphertext: opts.identityLinkCiphertext ?? new Uint8Array(0) })
    : { credentialType: 'basic', identity: utf8(keys.identity) };
  const extensions: Extension[] = opts.connectionOnly ? [toTsMlsExtension(connectionOnlyExtension())] : [];
  return generateKeyPackageWithKey(
    credential,
    CAPABILITIES,
    { notBefore: now - CLOCK_SKEW_S, notAfter: now + KEY_PACKAGE_LIFETIME_S },
    extensions,
    { signKey, publicKey: keys.signaturePublicKey },
    impl,
    (opts.leafExtensions ?? []).map(toTsMlsExtension),
  );
}

function pseudonymousTbs(keys: DeviceKeys) {
  return { clientPseudonym: keys.identity, userPseudonym: keys.pseudonymous!.userPseudonym, signaturePublicKey: keys.signaturePublicKey };
}

/** This client's identity link sealed under `ilk` for group `groupId`. */
function sealOwnLink(keys: DeviceKeys, groupId: string, ilk: IdentityLinkKey): Uint8Array {
  try {
    return sealIdentityLink({ groupId, key: ilk, credential: pseudonymousTbs(keys), link: keys.pseudonymous!.identityLink });
  } catch (err) {
    throw new MlsError('invalid', (err as Error).message);
  }
}

const PROBE = utf8('mimi device key check');

/** Returns the seed form of the private key; throws MlsError('invalid') if the pair does not match. */
async function checkDeviceKeys(keys: DeviceKeys, impl: CiphersuiteImpl): Promise<Uint8Array> {
  checkIdentity(keys?.identity);
  if (!(keys.signaturePublicKey instanceof Uint8Array) || keys.signaturePublicKey.length !== 32) {
    throw new MlsError('invalid', 'device signature public key must be 32 bytes');
  }
  let seed: Uint8Array;
  try {
    seed = ed25519Seed(keys.signaturePrivateKey);
  } catch (err) {
    throw new MlsError('invalid', (err as Error).message);
  }
  const ok = await impl.signature.verify(keys.signaturePublicKey, PROBE, await impl.signature.sign(seed, PROBE)).catch(() => false);
  if (!ok) throw new MlsError('invalid', 'device signature private key does not match its public key');
  if (keys.pseudonymous !== undefined) {
    // The credential and the sealed link are built from these: refuse keys that do not fit together.
    const p = keys.pseudonymous;
    if (!parseMimiUriAs('pseudonym', keys.identity)) throw new MlsError('invalid', `client pseudonym ${JSON.stringify(keys.identity)} is not a mimi pseudonym URI`);
    if (!parseMimiUriAs('pseudonym', p.userPseudonym)) throw new MlsError('invalid', `user pseudonym ${JSON.stringify(p.userPseudonym)} is not a mimi pseudonym URI`);
    if (!(p.identityLink instanceof Uint8Array)) throw new MlsError('invalid', 'identity link must be bytes');
    const problem = identityLinkProblem(p.identityLink, pseudonymousTbs(keys));
    if (problem) throw new MlsError('invalid', `identity link: ${problem}`);
  }
  return seed;
}

function checkIdentity(identity: unknown): asserts identity is string {
  if (typeof identity !== 'string' || identity.length === 0) throw new MlsError('invalid', 'identity must be a non-empty string');
}

// privateState: version(1) || u16 len || init private key || u16 len || leaf HPKE private key
const KP_PRIVATE_VERSION = 1;

function encodeKeyPackagePrivate(p: PrivateKeyPackage): Uint8Array {
  return concatBytes(new Uint8Array([KP_PRIVATE_VERSION]), u16Prefixed(p.initPrivateKey), u16Prefixed(p.hpkePrivateKey));
}

function decodeKeyPackagePrivate(b: Uint8Array): Omit<PrivateKeyPackage, 'signaturePrivateKey'> {
  if (!(b instanceof Uint8Array) || b[0] !== KP_PRIVATE_VERSION) throw new MlsError('malformed', 'unknown KeyPackage private state');
  const init = readU16Prefixed(b, 1);
  const hpke = readU16Prefixed(b, init.end);
  if (hpke.end !== b.length) throw new MlsError('malformed', 'trailing bytes in KeyPackage private state');
  return { initPrivateKey: init.value, hpkePrivateKey: hpke.value };
}

function u16Prefixed(v: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([v.length >> 8, v.length & 0xff]), v);
}

function readU16Prefixed(b: Uint8Array, offset: number): { value: Uint8Array; end: number } {
  if (offset + 2 > b.length) throw new MlsError('malformed', 'truncated KeyPackage private state');
  const len = (b[offset] << 8) | b[offset + 1];
  const end = offset + 2 + len;
  if (end > b.length) throw new MlsError('malformed', 'truncated KeyPackage private state');
  return { value: b.slice(offset + 2, end), end };
}

// ---------------------------------------------------------------------------------------------
// Session state encoding:
//   "MLS" || 0x03 || opaque tree_key<V> || opaque tree<V> || opaque tree_key<V>
//   || opaque group_state_without_tree<V> || IdentityLinkKeys (none: nothing), what encode()
//   writes since stop 30 (engine.ts, splitSessionState: storage keeps the tree once per epoch).
//   tree_key is SHA-256 of the encoded tree, so it names those exact bytes; the rest repeats it, so
//   a rest and a tree of different states do not restore as one. Read as well, as earlier builds
//   wrote them:
//   "MLS" || 0x01 || ts-mls GroupState (tree and private keys included), for groups without
//   identity link keys;
//   "MLS" || 0x02 || opaque group_state<V> || IdentityLinkKeys, for groups with them.

const SESSION_MAGIC = new Uint8Array([0x4d, 0x4c, 0x53, 0x01]);
const SESSION_MAGIC_ILK = new Uint8Array([0x4d, 0x4c, 0x53, 0x02]);

/**
 * Encoded ratchet trees (and their keys) by tree object. ts-mls's states are immutable and an
 * application message keeps its state's tree object, so a session encoded after every message (the
 * core saves it each time) encodes and hashes its tree once per epoch, not per message (2.3 ms at
 * 1,000 members).
 */
const encodedTrees = new WeakMap<RatchetTree, { bytes: Uint8Array; key: Uint8Array }>();

const treeKeyOf = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest());

function encodedTree(tree: RatchetTree): { bytes: Uint8Array; key: Uint8Array } {
  let e = encodedTrees.get(tree);
  if (!e) {
    const bytes = encodeRatchetTree(tree);
    encodedTrees.set(tree, (e = { bytes, key: treeKeyOf(bytes) }));
  }
  return e;
}

function encodeSessionState(state: ClientState, ilks: readonly IdentityLinkKey[]): Uint8Array {
  const tree = encodedTree(state.ratchetTree);
  const rest = new TlsWriter().opaqueV(tree.key).opaqueV(encodeGroupStateWithoutTree(state)).finish();
  return joinSessionState({
    treeKey: tree.key,
    tree: tree.bytes,
    rest: ilks.length === 0 ? rest : concatBytes(rest, encodeIdentityLinkKeys(ilks)),
  });
}

function decodeSessionState(encoded: Uint8Array, config: ClientConfig): { state: ClientState; ilks: IdentityLinkKey[] } {
  const magic = encoded instanceof Uint8Array && encoded.length >= 4 ? encoded.subarray(0, 4) : undefined;
  let state: GroupState;
  let ilks: IdentityLinkKey[] = [];
  const parts = splitSessionState(encoded);
  if (parts !== undefined) {
    let withoutTree: Uint8Array;
    let restKey: Uint8Array;
    try {
      const r = new TlsReader(parts.rest);
      restKey = r.viewV();
      withoutTree = r.viewV();
      if (r.remaining > 0) ilks = decodeIdentityLinkKeys(r.bytes(r.remaining));
    } catch (err) {
      throw new MlsError('malformed', `session state: ${(err as Error).message}`);
    }
    const key = treeKeyOf(parts.tree);
    if (!bytesEqual(key, parts.treeKey) || !bytesEqual(key, restKey)) throw new MlsError('malformed', 'session state: its tree is not the one its key names');
    const tree = decodeAll(decodeRatchetTree, parts.tree, 'session state tree');
    state = decodeAll(decodeGroupStateWithoutTree(tree), withoutTree, 'session state');
    // The decoded tree is this state's for good: no need to encode or hash it again.
    encodedTrees.set(state.ratchetTree, { bytes: parts.tree.slice(), key });
  } else {
    let groupState: Uint8Array;
    if (magic !== undefined && bytesEqual(magic, SESSION_MAGIC)) groupState = encoded.subarray(4);
    else if (magic !== undefined && bytesEqual(magic, SESSION_MAGIC_ILK)) {
      try {
        const r = new TlsReader(encoded, 4);
        groupState = r.opaqueV();
        ilks = decodeIdentityLinkKeys(r.bytes(r.remaining));
      } catch (err) {
        throw new MlsError('malformed', `session state: ${(err as Error).message}`);
      }
    } else throw new MlsError('malformed', 'not an encoded MLS session');
    state = decodeAll(decodeGroupState, groupState, 'session state');
  }
  if (state.groupContext.cipherSuite !== SUITE_NAME) throw new MlsError('invalid', `unsupported ciphersuite ${state.groupContext.cipherSuite}`);
  return { state: { ...state, clientConfig: config }, ilks };
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers: every byte must be consumed, every failure is MlsError('malformed').

function decodeAll<T>(decoder: (b: Uint8Array, offset: number) => [T, number] | undefined, bytes: Uint8Array, what: string): T {
  if (!(bytes instanceof Uint8Array)) throw new MlsError('malformed', `${what}: expected bytes`);
  let res: [T, number] | undefined;
  try {
    res = decoder(bytes, 0);
  } catch (err) {
    throw new MlsError('malformed', `${what}: ${(err as Error).message}`);
  }
  if (res === undefined) throw new MlsError('malformed', `${what}: undecodable`);
  if (res[1] !== bytes.length) throw new MlsError('malformed', `${what}: ${bytes.length - res[1]} trailing bytes`);
  return res[0];
}

function decodeMessage(bytes: Uint8Array, what: string): MLSMessage {
  const msg = decodeAll(decodeMlsMessage, bytes, what);
  if (msg.version !== 'mls10') throw new MlsError('malformed', `${what}: unsupported protocol version`);
  return msg;
}

function decodeMessageOf<W extends MLSMessage['wireformat']>(bytes: Uint8Array, wireformat: W, what: string): Extract<MLSMessage, { wireformat: W }> {
  const msg = decodeMessage(bytes, what);
  if (msg.wireformat !== wireformat) throw new MlsError('malformed', `${what}: got ${msg.wireformat}, expected ${wireformat}`);
  return msg as Extract<MLSMessage, { wireformat: W }>;
}

function decodeKeyPackageMessage(bytes: Uint8Array): KeyPackage {
  const kp = decodeMessageOf(bytes, 'mls_key_package', 'KeyPackage').keyPackage;
  if (kp.cipherSuite !== SUITE_NAME) throw new MlsError('invalid', `KeyPackage ciphersuite ${kp.cipherSuite} is not 0x${CIPHERSUITE_ID.toString(16).padStart(4, '0')}`);
  return kp;
}

function decodeTree(bytes: Uint8Array): RatchetTree {
  const tree = decodeAll(decodeRatchetTree, bytes, 'ratchet tree');
  if (leaves(tree).length === 0) throw new MlsError('malformed', 'ratchet tree has no members');
  return tree;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Members by ratchet tree (TsMlsSession.members): the leaf node objects they were built from, and them. */
const membersByTree = new WeakMap<RatchetTree, { nodes: (LeafNode | undefined)[]; members: Member[] }>();

function leaves(tree: RatchetTree): { leafIndex: number; leaf: LeafNode }[] {
  const out: { leafIndex: number; leaf: LeafNode }[] = [];
  for (let i = 0; i < tree.length; i += 2) {
    const n = tree[i];
    if (n?.nodeType === 'leaf') out.push({ leafIndex: i / 2, leaf: n.leaf });
  }
  return out;
}

function leafIdentity(leaf: LeafNode): string {
  return credentialIdentity(leaf.credential);
}

function leafAt(tree: RatchetTree, leafIndex: number | undefined): LeafNode | undefined {
  const node = leafIndex === undefined ? undefined : tree[leafIndex * 2];
  return node?.nodeType === 'leaf' ? node.leaf : undefined;
}

/** The device URI of a basic credential, the client pseudonym of a pseudonymous one. */
function credentialIdentity(c: Credential): string {
  const p = pseudonymousOf(c);
  if (p !== undefined) return p.clientPseudonym;
  if (c.credentialType !== 'basic') throw new MlsError('invalid', `unsupported credential type ${c.credentialType}`);
  try {
    return fromUtf8(c.identity);
  } catch {
    throw new MlsError('malformed', 'credential identity is not UTF-8');
  }
}

/** The PseudonymousCredential in a ts-mls credential, undefined for other types; MlsError('malformed') if it does not decode. */
function pseudonymousOf(c: Credential): PseudonymousCredential | undefined {
  if ((c.credentialType as string) !== PSEUDONYMOUS) return undefined;
  try {
    return decodePseudonymousCredential((c as unknown as { data: Uint8Array }).data);
  } catch (err) {
    throw new MlsError('malformed', (err as Error).message);
  }
}

/** ts-mls's form of a PseudonymousCredential (the patched codec writes `data` after the type). */
function tsCredential(c: PseudonymousCredential): Credential {
  return { credentialType: PSEUDONYMOUS, data: encodePseudonymousCredential(c) } as unknown as Credential;
}

/**
 * Why `after` cannot replace `before` at the same leaf (RFC 9420 5.3.1: the new credential must be a
 * valid successor): the credential type, the signature key and the identity must stay; a
 * pseudonymous leaf may change its identity link only.
 */
function successorProblem(before: LeafNode, after: LeafNode): string | undefined {
  if (!bytesEqual(before.signaturePublicKey, after.signaturePublicKey)) return 'the signature key changed';
  const a = pseudonymousOf(before.credential);
  const b = pseudonymousOf(after.credential);
  if ((a === undefined) !== (b === undefined)) return 'the credential type changed';
  if (a && b) {
    if (a.clientPseudonym !== b.clientPseudonym || a.userPseudonym !== b.userPseudonym) return 'the pseudonyms changed';
    return undefined;
  }
  return leafIdentity(before) === leafIdentity(after) ? undefined : 'the credential identity changed';
}

// ---------------------------------------------------------------------------------------------
// Identity link keys (docs/pseudonyms.md)

function hasPseudonymousLeaf(tree: RatchetTree): boolean {
  return leaves(tree).some(({ leaf }) => (leaf.credential.credentialType as string) === PSEUDONYMOUS);
}

/** Whether the set of (leaf index, signature key) differs: a leaf was added or removed. */
function membershipChanged(before: RatchetTree, after: RatchetTree): boolean {
  const key = (t: RatchetTree) => leaves(t).map(({ leafIndex, leaf }) => `${leafIndex}:${toB64(leaf.signaturePublicKey)}`).join(',');
  return key(before) !== key(after);
}

/**
 * The identity link keys after moving to `state`'s epoch (`before`: the previous tree; undefined
 * for a join). A join, or a commit that added or removed a leaf, introduces the key of the new
 * epoch from its exporter, in groups with a pseudonymous leaf. Then unused keys are dropped.
 */
async function nextIlks(impl: CiphersuiteImpl, ilks: readonly IdentityLinkKey[], before: RatchetTree | undefined, state: ClientState): Promise<IdentityLinkKey[]> {
  let keys = [...ilks];
  const tree = state.ratchetTree;
  if (hasPseudonymousLeaf(tree) && (before === undefined || membershipChanged(before, tree))) {
    const epoch = state.groupContext.epoch;
    const key = await mlsExporter(state.keySchedule.exporterSecret, ILK_EXPORTER_LABEL, new Uint8Array(0), ILK_SIZE, impl);
    keys = mergeIlks(keys, [{ epoch, key }]);
  }
  return pruneIlks(keys, tree);
}

/** Keeps the newest key and those some leaf's link is sealed under (forward secrecy of the rest). */
function pruneIlks(keys: readonly IdentityLinkKey[], tree: RatchetTree): IdentityLinkKey[] {
  const used = new Set<bigint>();
  for (const { leaf } of leaves(tree)) {
    const p = (leaf.credential.credentialType as string) === PSEUDONYMOUS ? pseudonymousOf(leaf.credential) : undefined;
    const epoch = p === undefined ? undefined : identityLinkEpoch(p);
    if (epoch !== undefined) used.add(epoch);
  }
  const newest = keys.at(-1)?.epoch;
  return keys.filter((k) => k.epoch === newest || used.has(k.epoch));
}

/** The union by epoch, ascending; on a conflict the key in `held` wins. */
function mergeIlks(held: readonly IdentityLinkKey[], received: readonly IdentityLinkKey[]): IdentityLinkKey[] {
  const byEpoch = new Map<bigint, IdentityLinkKey>();
  for (const k of received) byEpoch.set(k.epoch, { epoch: k.epoch, key: k.key.slice() });
  for (const k of held) byEpoch.set(k.epoch, k);
  return [...byEpoch.values()].sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
}

/** Received keys that can exist: none from an epoch after the current one. */
function accepted(keys: readonly IdentityLinkKey[], state: ClientState): IdentityLinkKey[] {
  return keys.filter((k) => k.epoch <= state.groupContext.epoch);
}

function isUtf8(b: Uint8Array): boolean {
  try {
    fromUtf8(b);
    return true;
  } catch {
    return false;
  }
}

const DEFAULT_EXTENSION_NAMES: Record<number, Extension['extensionType']> = {
  1: 'application_id',
  2: 'ratchet_tree',
  3: 'required_capabilities',
  4: 'external_pub',
  5: 'external_senders',
};

function extensionTypeNumber(t: Extension['extensionType']): number {
  if (typeof t === 'number') return t;
  const n = Object.entries(DEFAULT_EXTENSION_NAMES).find(([, name]) => name === t)?.[0];
  if (n === undefined) throw new MlsError('invalid', `unknown extension type ${String(t)}`);
  return Number(n);
}

/**
 * A Remove proposed by the removed leaf's own user, or by an external sender (the hub: no leaf).
 * Pseudonymous leaves belong to the same user when they share the user pseudonym.
 */
function departedBy(removed: LeafNode, proposer: LeafNode | undefined): boolean {
  if (proposer === undefined) return true;
  const a = pseudonymousOf(removed.credential);
  const b = pseudonymousOf(proposer.credential);
  if (a || b) return a !== undefined && b !== undefined && a.userPseudonym === b.userPseudonym;
  const removedId = leafIdentity(removed);
  const proposerId = leafIdentity(proposer);
  try {
    return userOfDevice(proposerId) === userOfDevice(removedId);
  } catch {
    return proposerId === removedId; // identities that are not device URIs belong to no user
  }
}

/**
 * A new group's external_senders in RFC 9420 form (`ExternalSender external_senders<V>`), also when
 * handed one bare ExternalSender (GET /v1/hubSender) or ts-mls 1.6.4's legacy form. Commits keep a
 * room's external_senders bytes as they are (inRoomForm): the hub refuses any change to them, so
 * rooms created before the ts-mls patch keep the legacy form.
 */
function rfcGroupContextExtension(e: GroupContextExtension): GroupContextExtension {
  if (e.type !== EXTERNAL_SENDERS_EXTENSION_TYPE) return e;
  try {
    return { type: e.type, data: rfcExternalSenders(e.data) };
  } catch (err) {
    throw new MlsError('invalid', `external_senders extension: ${(err as Error).message}`);
  }
}

/**
 * external_senders in a GroupContextExtensions commit: the room's current bytes when they list the
 * same senders (in either form), so a room keeps the form it was created with, and RFC form for a
 * changed list.
 */
function inRoomForm(e: GroupContextExtension, current: GroupContextExtension[]): GroupContextExtension {
  if (e.type !== EXTERNAL_SENDERS_EXTENSION_TYPE) return e;
  const now = current.find((c) => c.type === EXTERNAL_SENDERS_EXTENSION_TYPE);
  const sendersOf = (data: Uint8Array) => {
    try {
      return decodeExternalSenders(data).senders.map((x) => x.raw);
    } catch {
      return undefined;
    }
  };
  const before = now && sendersOf(now.data);
  const after = sendersOf(e.data);
  if (now && before && after && before.length === after.length && before.every((b, i) => bytesEqual(b, after[i]!))) return now;
  return rfcGroupContextExtension(e);
}

function toTsMlsExtension(e: GroupContextExtension): Extension {
  return { extensionType: DEFAULT_EXTENSION_NAMES[e.type] ?? e.type, extensionData: e.data };
}

function fromTsMlsExtension(e: Extension): GroupContextExtension {
  return { type: extensionTypeNumber(e.extensionType), data: e.extensionData };
}

/** Runs a ts-mls call, turning its failures into MlsError with a code that says what went wrong. */
async function wrap<T>(fallback: MlsError['code'], f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof MlsError) throw err;
    const text = err instanceof Error ? err.message : String(err);
    throw new MlsError(classify(err, fallback), text);
  }
}

function classify(err: unknown, fallback: MlsError['code']): MlsError['code'] {
  if (err instanceof CryptoError) return 'decryptFailed';
  if (err instanceof CodecError) return 'malformed';
  // The secret tree refuses generations it has deleted or that are too far ahead: no key, so
  // for the caller this is a message it cannot decrypt.
  if (err instanceof TsMlsError && /Desired gen/.test(err.message)) return 'decryptFailed';
  return fallback;
}

