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
// - ProcessMessageResult for application messages does not say who sent it; we decrypt the
//   sender data ourselves (decryptSenderData) with the secret of the message's epoch.
// - processPublicMessage() treats every non-proposal as a commit, so a PublicMessage carrying
//   application data would crash inside it; we reject it first.
// - ClientState.clientConfig is not part of encodeGroupState(); restore() re-attaches ours.
// - Commits are sent as PublicMessage (wireAsPublicMessage) so the hub can read them, without
//   the ratchet_tree extension in the Welcome (the tree travels separately in our protocol).
// - ts-mls returns `consumed` secrets for the caller to zero. We do not: sessions are immutable
//   values and an older one may still be used (a pending commit can be refused by the hub), so
//   keys die with the session objects, and on disk with the encodings, that hold them.
//
// Extension encodings, ts-mls vs RFC 9420 (read from ts-mls's codecs, checked by encoding samples):
// - ExternalSender struct: encodeExternalSender() emits `signature_key<V> || Credential`, which
//   matches RFC 9420 12.1.8.1 byte for byte (e.g. 20 <32-byte key> 0001 <varint len> <identity>).
// - external_senders extension: RFC 9420 extension_data is `ExternalSender external_senders<V>`,
//   a varint-length-prefixed vector. ts-mls puts ONE bare ExternalSender in extension_data (no
//   vector prefix), so RFC-form data fails to decode in ts-mls (decodeExternalSender returns
//   undefined) and ts-mls's form is not what RFC implementations expect.
// - Sender.sender_index: RFC = index into that vector. ts-mls's receiver (senderFromExtension)
//   uses "n-th external_senders extension", while its own proposeExternal() uses the position of
//   the extension in the whole GroupContext extension list. All agree only when there is one
//   external sender and external_senders is the FIRST GroupContext extension: put it first.
// - external_pub GroupInfo extension: RFC 9420 12.4.3.2 is `struct { HPKEPublicKey external_pub; }`,
//   i.e. extension_data = varint(32) || key; ts-mls writes and reads the raw 32-byte key without
//   the length prefix.
// GroupContext extensions are hashed into the group state and the GroupInfo is signed, so none of
// this can be translated in an adapter; interop with an RFC hub needs a ts-mls patch or the hub
// must speak ts-mls's forms.
// - ts-mls decodes extension types 1..5 to names ("external_senders" etc.) and compares by name,
//   so extensions handed to it must use those names, not numbers (see toTsMlsExtension).

import {
  createApplicationMessage,
  createCommit,
  createProposal,
  createGroup,
  createGroupInfoWithExternalPub,
  decodeGroupState,
  decodeMlsMessage,
  defaultKeyPackageEqualityConfig,
  defaultPaddingConfig,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  joinGroupExternal,
  makePskIndex,
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
import { decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { decryptSenderData } from 'ts-mls/privateMessage.js';
import { CodecError, CryptoError, MlsError as TsMlsError } from 'ts-mls/mlsError.js';
import {
  CIPHERSUITE_ID,
  MlsError,
  type CommitOutput,
  type DeviceKeys,
  type GeneratedKeyPackage,
  type GroupSession,
  type Incoming,
  type Member,
  type MlsEngine,
} from './engine.js';
import { ed25519Seed, selectProvider, SUITE_NAME, type ProviderName } from './crypto-selftest.js';
import { bytesEqual, concatBytes, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { userOfDevice } from '../../src-shared/identifiers.js';

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

/** What our leaves advertise. Default extension/proposal types (1..5 / 1..7) are implicit. */
const CAPABILITIES: Capabilities = {
  versions: ['mls10'],
  ciphersuites: [SUITE_NAME],
  extensions: [ROOM_STATE_EXTENSION],
  proposals: [],
  credentials: ['basic'],
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
  keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
  paddingConfig: defaultPaddingConfig,
  authService: {
    // The core authenticates device URIs; here we only insist identities are readable.
    async validateCredential(credential: Credential) {
      return credential.credentialType === 'basic' && isUtf8(credential.identity);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Engine

export async function createMlsEngine(opts?: { forceProvider?: ProviderName }): Promise<MlsEngine> {
  const selected = await selectProvider(opts?.forceProvider);
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

  async generateKeyPackages(keys: DeviceKeys, count: number): Promise<GeneratedKeyPackage[]> {
    if (!Number.isInteger(count) || count < 1 || count > 10_000) {
      throw new MlsError('invalid', `KeyPackage count must be an integer in 1..10000, got ${count}`);
    }
    const signKey = await checkDeviceKeys(keys, this.ctx.impl);
    const out: GeneratedKeyPackage[] = [];
    for (let i = 0; i < count; i++) {
      const kp = await newKeyPackage(keys, signKey, this.ctx.impl);
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
    const kp = await newKeyPackage(keys, signKey, this.ctx.impl);
    const state = await wrap('invalid', () =>
      createGroup(utf8(groupId), kp.publicPackage, kp.privatePackage, extensions.map(toTsMlsExtension), this.ctx.impl, this.ctx.config),
    );
    return new TsMlsSession(this.ctx, state);
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
    const state = await wrap('invalid', () =>
      joinGroup(w, kp, privateKeys, makePskIndex(undefined, {}), this.ctx.impl, tree, undefined, this.ctx.config),
    );
    return new TsMlsSession(this.ctx, state);
  }

  async joinExternal(
    keys: DeviceKeys,
    groupInfo: Uint8Array,
    ratchetTree: Uint8Array,
  ): Promise<{ pending: GroupSession; commit: Uint8Array; newEpoch: bigint }> {
    const gi = decodeMessageOf(groupInfo, 'mls_group_info', 'GroupInfo').groupInfo;
    const tree = decodeTree(ratchetTree);
    const signKey = await checkDeviceKeys(keys, this.ctx.impl);
    if (gi.groupContext.cipherSuite !== SUITE_NAME) {
      throw new MlsError('invalid', `unsupported ciphersuite ${gi.groupContext.cipherSuite}`);
    }
    const kp = await newKeyPackage(keys, signKey, this.ctx.impl);
    // A device that lost its state rejoins with the same signature key: ts-mls's "resync" adds a
    // Remove of the stale leaf to the external commit (RFC 9420 12.4.3.2).
    const resync = tree.some((n) => n?.nodeType === 'leaf' && bytesEqual(n.leaf.signaturePublicKey, keys.signaturePublicKey));
    const { publicMessage, newState } = await wrap('invalid', () =>
      joinGroupExternal(gi, kp.publicPackage, kp.privatePackage, resync, this.ctx.impl, tree, this.ctx.config),
    );
    return {
      pending: new TsMlsSession(this.ctx, newState),
      commit: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage }),
      newEpoch: newState.groupContext.epoch,
    };
  }

  restore(encoded: Uint8Array): GroupSession {
    return new TsMlsSession(this.ctx, decodeSessionState(encoded, this.ctx.config));
  }
}

// ---------------------------------------------------------------------------------------------
// Session

class TsMlsSession implements GroupSession {
  readonly groupId: string;

  constructor(
    private readonly ctx: Ctx,
    private readonly state: ClientState,
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
    return leaves(this.state.ratchetTree).map(({ leafIndex, leaf }) => ({ leafIndex, identity: leafIdentity(leaf) }));
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
    const identityAt = (leaf: number): string | undefined => {
      const node = tree[leaf * 2];
      return node?.nodeType === 'leaf' ? leafIdentity(node.leaf) : undefined;
    };
    const out: { identity: string; departed: boolean; byHub: boolean }[] = [];
    for (const p of Object.values(this.state.unappliedProposals)) {
      if (p.proposal.proposalType !== 'remove') continue;
      const identity = identityAt(p.proposal.remove.removed);
      if (identity === undefined) continue;
      out.push({ identity, departed: departedBy(identity, p.senderLeafIndex === undefined ? undefined : identityAt(p.senderLeafIndex)), byHub: p.senderLeafIndex === undefined });
    }
    return out;
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
    return concatBytes(SESSION_MAGIC, encodeGroupState(this.state));
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
    const msg = decodeMessage(message, 'MLSMessage');
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
    // Who sent it: ts-mls authenticates the sender but does not report it for application data.
    const senderData = await wrap('decryptFailed', () => decryptSenderData(pm, epochData.senderDataSecret, this.ctx.impl));
    if (senderData === undefined) throw new MlsError('malformed', 'undecodable sender data');
    const senderLeaf = epochData.ratchetTree[senderData.leafIndex * 2];
    if (senderLeaf?.nodeType !== 'leaf') throw new MlsError('invalid', `sender leaf ${senderData.leafIndex} is blank`);

    const proposalsSeen = recordCommitProposals();
    // Workaround: processMessage() would drop the PSK index for PrivateMessages.
    const res = await wrap('invalid', () =>
      processPrivateMessage(this.state, pm, makePskIndex(this.state, {}), this.ctx.impl, proposalsSeen.callback),
    );
    if (res.kind === 'applicationMessage') {
      return {
        session: this.next(res.newState),
        result: { kind: 'application', plaintext: res.message, senderIdentity: leafIdentity(senderLeaf.leaf), epoch: pm.epoch },
      };
    }
    if (pm.contentType === 'proposal') {
      return { session: this.next(res.newState), result: { kind: 'proposal', epoch: current } };
    }
    return this.commitResult(res.newState, proposalsSeen.proposals, undefined, senderData.leafIndex);
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

  private commitResult(
    newState: ClientState,
    proposals: ProposalWithSender[],
    externalJoiner: LeafNode | undefined,
    committerLeaf: number | undefined,
  ): { session: GroupSession; result: Incoming } {
    const selfRemoved = newState.groupActiveState.kind === 'removedFromGroup';
    const oldTree = this.state.ratchetTree;
    const identityAt = (leaf: number | undefined): string | undefined => {
      const node = leaf === undefined ? undefined : oldTree[leaf * 2];
      return node?.nodeType === 'leaf' ? leafIdentity(node.leaf) : undefined;
    };
    const removed: string[] = [];
    const departed: string[] = [];
    const removedByHub: string[] = [];
    const added: string[] = [];
    for (const { proposal, senderLeafIndex } of proposals) {
      if (proposal.proposalType === 'remove') {
        const identity = identityAt(proposal.remove.removed);
        if (identity === undefined) continue;
        removed.push(identity);
        // An external commit carries its Removes by value (RFC 9420 12.4.3.2), so a Remove without
        // a sender leaf is the joiner's own there, and an external sender's (the hub's) otherwise.
        const proposer = senderLeafIndex === undefined && externalJoiner !== undefined ? credentialIdentity(externalJoiner.credential) : identityAt(senderLeafIndex);
        if (departedBy(identity, proposer)) departed.push(identity);
        if (proposer === undefined) removedByHub.push(identity);
      } else if (proposal.proposalType === 'add') {
        added.push(credentialIdentity(proposal.add.keyPackage.leafNode.credential));
      }
    }
    if (externalJoiner !== undefined) added.push(credentialIdentity(externalJoiner.credential));
    const committer = externalJoiner !== undefined ? credentialIdentity(externalJoiner.credential) : (identityAt(committerLeaf) ?? '');
    return {
      session: this.next(newState),
      result: {
        kind: 'commit',
        // ts-mls leaves a removed member's state in the old epoch; the commit still moved the group on.
        epoch: selfRemoved ? this.state.groupContext.epoch + 1n : newState.groupContext.epoch,
        added,
        removed,
        committer,
        departed,
        removedByHub,
        selfRemoved,
      },
    };
  }

  async add(keyPackages: Uint8Array[]): Promise<CommitOutput> {
    if (!Array.isArray(keyPackages) || keyPackages.length === 0) throw new MlsError('invalid', 'add() needs at least one KeyPackage');
    const proposals: Proposal[] = keyPackages.map((m) => ({ proposalType: 'add', add: { keyPackage: decodeKeyPackageMessage(m) } }));
    return this.commit(proposals);
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

  async commitChanges(changes: { add?: Uint8Array[]; remove?: string[]; extensions?: GroupContextExtension[] }): Promise<CommitOutput> {
    const members = this.members();
    const own = members.find((m) => m.leafIndex === this.ownLeafIndex)?.identity;
    const proposals: Proposal[] = [];
    for (const m of changes.add ?? []) proposals.push({ proposalType: 'add', add: { keyPackage: decodeKeyPackageMessage(m) } });
    const pending = new Set(Object.values(this.state.unappliedProposals).flatMap((p) => (p.proposal.proposalType === 'remove' ? [p.proposal.remove.removed] : [])));
    for (const identity of new Set(changes.remove ?? [])) {
      if (identity === own) throw new MlsError('invalid', 'a device cannot remove itself with a commit');
      const matches = members.filter((m) => m.identity === identity);
      if (matches.length === 0) throw new MlsError('notMember', `${identity} is not a member of ${this.groupId}`);
      // A leaf already proposed for removal is removed by that proposal; a second Remove is invalid.
      for (const m of matches) if (!pending.has(m.leafIndex)) proposals.push({ proposalType: 'remove', remove: { removed: m.leafIndex } });
    }
    if (changes.extensions) {
      proposals.push({ proposalType: 'group_context_extensions', groupContextExtensions: { extensions: changes.extensions.map(toTsMlsExtension) } });
    }
    return this.commit(proposals);
  }

  async groupInfo(): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
    return exportGroupInfo(this.state, this.ctx.impl);
  }

  private async commit(proposals: Proposal[]): Promise<CommitOutput> {
    this.checkActive();
    const res = await wrap('invalid', () =>
      createCommit(
        { state: this.state, cipherSuite: this.ctx.impl, pskIndex: makePskIndex(this.state, {}) },
        // PublicMessage so the hub can validate and apply it; no ratchet_tree in the Welcome
        // because the tree is delivered separately.
        { extraProposals: proposals, wireAsPublicMessage: true, ratchetTreeExtension: false },
      ),
    );
    const { groupInfo, ratchetTree } = await exportGroupInfo(res.newState, this.ctx.impl);
    return {
      pending: this.next(res.newState),
      commit: encodeMlsMessage(res.commit),
      welcome:
        res.welcome === undefined ? undefined : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: res.welcome }),
      groupInfo,
      ratchetTree,
      newEpoch: res.newState.groupContext.epoch,
    };
  }

  private next(state: ClientState): TsMlsSession {
    return new TsMlsSession(this.ctx, state);
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

async function exportGroupInfo(state: ClientState, impl: CiphersuiteImpl): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
  const gi = await createGroupInfoWithExternalPub(state, [], impl);
  return {
    groupInfo: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: gi }),
    ratchetTree: encodeRatchetTree(state.ratchetTree),
  };
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

async function newKeyPackage(keys: DeviceKeys, signKey: Uint8Array, impl: CiphersuiteImpl) {
  const now = BigInt(Math.floor(Date.now() / 1000));
  return generateKeyPackageWithKey(
    { credentialType: 'basic', identity: utf8(keys.identity) },
    CAPABILITIES,
    { notBefore: now - CLOCK_SKEW_S, notAfter: now + KEY_PACKAGE_LIFETIME_S },
    [],
    { signKey, publicKey: keys.signaturePublicKey },
    impl,
  );
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
// Session state encoding: "MLS" || 0x01 || ts-mls GroupState (tree and private keys included).

const SESSION_MAGIC = new Uint8Array([0x4d, 0x4c, 0x53, 0x01]);

function decodeSessionState(encoded: Uint8Array, config: ClientConfig): ClientState {
  if (!(encoded instanceof Uint8Array) || encoded.length < SESSION_MAGIC.length || !bytesEqual(encoded.subarray(0, 4), SESSION_MAGIC)) {
    throw new MlsError('malformed', 'not an encoded MLS session');
  }
  const state = decodeAll(decodeGroupState, encoded.subarray(4), 'session state');
  if (state.groupContext.cipherSuite !== SUITE_NAME) throw new MlsError('invalid', `unsupported ciphersuite ${state.groupContext.cipherSuite}`);
  return { ...state, clientConfig: config };
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

function credentialIdentity(c: Credential): string {
  if (c.credentialType !== 'basic') throw new MlsError('invalid', `unsupported credential type ${c.credentialType}`);
  try {
    return fromUtf8(c.identity);
  } catch {
    throw new MlsError('malformed', 'credential identity is not UTF-8');
  }
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

/** A Remove proposed by the removed leaf's own user, or by an external sender (the hub: no leaf). */
function departedBy(removed: string, proposer: string | undefined): boolean {
  if (proposer === undefined) return true;
  try {
    return userOfDevice(proposer) === userOfDevice(removed);
  } catch {
    return proposer === removed; // identities that are not device URIs belong to no user
  }
}

function toTsMlsExtension(e: GroupContextExtension): Extension {
  return { extensionType: DEFAULT_EXTENSION_NAMES[e.type] ?? e.type, extensionData: e.data };
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

