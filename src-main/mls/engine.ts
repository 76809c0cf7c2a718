// The MLS engine the rest of the app sees. Exactly one implementation wraps ts-mls
// (`ts-mls-engine.ts`); nothing else in the project imports ts-mls, so library defects are fixed
// (or the library replaced) in one place.
//
// All state crosses this interface as opaque bytes or as a `GroupSession` object that can be
// serialised with `encode()`, so the core decides when to persist. Every MLS object that goes on
// the wire is an RFC 9420 MLSMessage encoding (or, for the ratchet tree, the RFC 9420
// `optional<Node> ratchet_tree<V>` encoding).

import { linkConsistency, type IdentityLinkKey, type IdentityLinkStatus } from '../../src-shared/identity-link.js';
import { encodeVarint, TlsReader, TlsWriter } from '../../src-shared/tls.js';

export type { IdentityLinkKey, IdentityLinkStatus };

export const CIPHERSUITE_ID = 0x0001; // MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519

/**
 * A client's MLS signing identity. Private key bytes are kept in the SecretStore.
 * - A device: BasicCredential, `identity` is the device URI, the long-term device key.
 * - A pseudonymous client (minimal-metadata rooms, docs/pseudonyms.md): PseudonymousCredential,
 *   `identity` is the client pseudonym, a fresh key of its own, and `pseudonymous` set.
 */
export interface DeviceKeys {
  /** The device URI (mimi://domain/d/user/device), or the client pseudonym (mimi://domain/p/id). */
  identity: string;
  signaturePublicKey: Uint8Array;
  signaturePrivateKey: Uint8Array;
  pseudonymous?: PseudonymousIdentity;
}

export interface PseudonymousIdentity {
  /** The user pseudonym: the same for all of the user's clients in the room. */
  userPseudonym: string;
  /**
   * An IdentityLinkPlaintext (src-shared/identity-link.ts): the real device credential and its
   * signature over this client's PseudonymousCredentialTBS. It reveals who is behind the pseudonym:
   * store it like a private key. Sealed under the room's identity link key into the leaf.
   */
  identityLink: Uint8Array;
}

export interface GeneratedKeyPackage {
  /** MLSMessage(mls_key_package): what is uploaded to the provider. */
  publicMessage: Uint8Array;
  /** KeyPackageRef (RFC 9420 section 5.2) - the key under which `privateState` is stored. */
  ref: Uint8Array;
  /** Opaque bytes holding the private init/HPKE keys; kept locally until a Welcome consumes it. */
  privateState: Uint8Array;
}

export interface Member {
  leafIndex: number;
  /** The credential identity: the device URI, or the client pseudonym of a pseudonymous leaf. */
  identity: string;
  signatureKey: Uint8Array;
  /** The LeafNode's extensions (RFC 9420 type numbers), e.g. a join ticket. */
  extensions: { type: number; data: Uint8Array }[];
  /** Only on pseudonymous leaves. */
  pseudonym?: {
    userPseudonym: string;
    /** The leaf's whole MLS Credential (credential_type 0xF001 + PseudonymousCredential). */
    credential: Uint8Array;
  };
}

/** The identity link of a pseudonymous member, opened with this member's identity link keys. */
export type MemberIdentityLink = { leafIndex: number; identity: string; userPseudonym: string } & IdentityLinkStatus;

export interface CommitOutput {
  /** The session as it will be once the hub accepts the commit. Do not adopt it before then. */
  pending: GroupSession;
  commit: Uint8Array; // MLSMessage(PublicMessage commit)
  welcome?: Uint8Array; // MLSMessage(welcome)
  groupInfo: Uint8Array; // MLSMessage(group_info), with external_pub
  ratchetTree: Uint8Array;
  /** Epoch the commit moves to. */
  newEpoch: bigint;
}

export type Incoming =
  | { kind: 'application'; plaintext: Uint8Array; senderIdentity: string; epoch: bigint }
  | {
      kind: 'commit';
      epoch: bigint; // new epoch
      added: string[]; // identities
      removed: string[]; // identities
      /** The committing device (an external joiner's own identity for an external commit). */
      committer: string;
      /** Removed identities whose Remove proposal came from their own user's device or an external sender (the hub). */
      departed: string[];
      /** Those of `departed` an external sender (the hub) proposed. */
      removedByHub: string[];
      /**
       * The GroupContext extensions the hub's own GroupContextExtensions proposal sets, when the
       * commit includes one (by reference: a moderator's ban); checked as the hub's change.
       */
      hubExtensions?: { type: number; data: Uint8Array }[];
      /** True when this device was removed: the session is finished. */
      selfRemoved: boolean;
      /** Pseudonymous members whose identity link changed (re-read identityLinks()); only when some did. */
      identityLinksChanged?: string[];
    }
  | { kind: 'proposal'; epoch: bigint };

/** Typed failure so callers can tell "wrong epoch / not for us" from corruption. */
export class MlsError extends Error {
  constructor(
    readonly code: 'wrongEpoch' | 'wrongGroup' | 'decryptFailed' | 'malformed' | 'notMember' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'MlsError';
  }
}

/** One MLS group as seen by this device. Methods that change state return a new session. */
export interface GroupSession {
  readonly groupId: string; // the room URI
  readonly epoch: bigint;
  readonly ownLeafIndex: number;
  members(): Member[];
  /** Proposals received (e.g. the hub's Removes) that the next commit of this device will include. */
  pendingProposals(): number;
  /** A pending proposal removes this device: it cannot commit (MLS forbids it); someone else will. */
  pendingRemovesSelf(): boolean;
  /** Leaves the pending Remove proposals would remove; `departed` when proposed by their own user or the hub (`byHub`). */
  pendingRemovals(): { identity: string; departed: boolean; byHub: boolean }[];
  /** The GroupContext extensions a pending GroupContextExtensions proposal of the hub (external sender) sets. */
  pendingHubExtensions(): { type: number; data: Uint8Array }[] | undefined;
  /** GroupContext extensions of the current epoch, in order (RFC 9420 type numbers). */
  extensions(): { type: number; data: Uint8Array }[];
  /** Remove proposals (PublicMessages) for every leaf of `identities`, e.g. this device leaving. */
  proposeRemove(identities: string[]): Promise<{ session: GroupSession; proposals: Uint8Array[] }>;
  /** Serialise everything needed to restore this session (tree included). */
  encode(): Uint8Array;

  encrypt(plaintext: Uint8Array, authenticatedData?: Uint8Array): Promise<{ session: GroupSession; message: Uint8Array }>;
  /** Process an MLSMessage (PublicMessage or PrivateMessage) of this group. */
  process(message: Uint8Array): Promise<{ session: GroupSession; result: Incoming }>;

  /** Commit adding the given KeyPackages (MLSMessage encodings). */
  /** `authenticatedData`: the commit's cleartext AAD (vouches for KeyPackages fetched over OHTTP). */
  add(keyPackages: Uint8Array[], authenticatedData?: Uint8Array): Promise<CommitOutput>;
  /** Commit removing every leaf whose identity is in `identities`. */
  remove(identities: string[]): Promise<CommitOutput>;
  /**
   * One commit with all of these (and the pending proposals): Adds, Removes, and a
   * GroupContextExtensions proposal that replaces the whole extension list with `extensions`.
   */
  commitChanges(changes: { add?: Uint8Array[]; remove?: string[]; extensions?: { type: number; data: Uint8Array }[]; authenticatedData?: Uint8Array }): Promise<CommitOutput>;
  /** Empty commit (path update): rotates this device's keys. */
  update(): Promise<CommitOutput>;

  /** Current GroupInfo (with external_pub) and ratchet tree, for the hub. */
  groupInfo(): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }>;

  // Minimal-metadata rooms (docs/pseudonyms.md). Groups without pseudonymous leaves hold no keys.

  /**
   * The identity link of every pseudonymous member, opened and verified (or why not). A verified
   * link proves that the holder of `deviceSignatureKey` vouches for the pseudonyms; `authenticate`
   * (the same check as for a basic leaf: is this key the device's?) turns a failure into `invalid`.
   */
  identityLinks(opts?: { authenticate?: (deviceUri: string, deviceSignatureKey: Uint8Array) => boolean }): MemberIdentityLink[];
  /** The identity link keys this member holds (secret), e.g. to send to an external joiner. */
  identityLinkKeys(): IdentityLinkKey[];
  /** Adds keys received in the group (IDENTITY_LINK_KEYS_MEDIA_TYPE); keys already held win. */
  withIdentityLinkKeys(keys: IdentityLinkKey[]): GroupSession;
  /**
   * Commit (a path update) that replaces this client's identity link by one sealed under the newest
   * identity link key: right after joining (the KeyPackage leaf could only carry an empty link),
   * and whenever the link should move to a newer key. `keys` are this client's pseudonymous keys.
   */
  publishIdentityLink(keys: DeviceKeys): Promise<CommitOutput>;
}

export interface MlsEngine {
  /** Which crypto provider passed the start-up self test. */
  readonly provider: 'node' | 'webcrypto' | 'noble';

  newDeviceKeys(identity: string): Promise<DeviceKeys>;
  /**
   * Keys of a pseudonymous client of `device` (a fresh signature key pair, never the device's),
   * for one room: `client` and `user` are `mimi://<domain>/p/<id>` pseudonyms. The device key
   * signs the identity link here and is not needed afterwards.
   */
  newPseudonymousKeys(device: DeviceKeys, pseudonyms: { client: string; user: string }): Promise<DeviceKeys>;
  /** `connectionOnly`: mark them valid for initial connections only (src-shared/connection-request.ts). */
  generateKeyPackages(keys: DeviceKeys, count: number, opts?: { connectionOnly?: boolean }): Promise<GeneratedKeyPackage[]>;
  /** KeyPackageRef of an MLSMessage(mls_key_package). */
  keyPackageRef(publicMessage: Uint8Array): Promise<Uint8Array>;
  /** Identity (device URI or client pseudonym) inside an MLSMessage(mls_key_package); throws MlsError('malformed') on bad input. */
  keyPackageIdentity(publicMessage: Uint8Array): string;

  /**
   * A new group with this device as its only member. `extensions` go into the GroupContext in
   * order (the hub's external_senders first: see ts-mls-engine.ts).
   */
  createGroup(keys: DeviceKeys, groupId: string, extensions?: { type: number; data: Uint8Array }[]): Promise<GroupSession>;
  joinFromWelcome(
    keys: DeviceKeys,
    welcome: Uint8Array,
    keyPackage: GeneratedKeyPackage,
    ratchetTree?: Uint8Array,
  ): Promise<GroupSession>;
  /** External commit from GroupInfo + tree: returns the session (pending hub acceptance) and commit. */
  joinExternal(
    keys: DeviceKeys,
    groupInfo: Uint8Array,
    ratchetTree: Uint8Array,
    /** `leafExtensions`: extensions of the joining LeafNode, e.g. a join ticket (src-shared/join-ticket.ts). */
    opts?: { leafExtensions?: { type: number; data: Uint8Array }[] },
  ): Promise<{ pending: GroupSession; commit: Uint8Array; newEpoch: bigint }>;
  restore(encoded: Uint8Array): GroupSession;
  /**
   * Encoded sessions of at least this many bytes are restored off this thread by
   * restoreInBackground (the app's engine: big groups, in its worker); absent when the engine has
   * no other thread. GroupSessions.warm restores those before the push stream starts, choosing
   * them by the stored size so the small ones are not read and decrypted at start for nothing.
   */
  readonly backgroundRestoreFrom?: number;
  /** restore() without blocking this thread (see backgroundRestoreFrom). */
  restoreInBackground?(encoded: Uint8Array): Promise<GroupSession>;
  /** Frees what the engine holds beyond its sessions (the worker of worker-engine.ts); sessions are unusable after. */
  close?(): Promise<void>;
}

/**
 * Identity links as GroupSession.identityLinks() gives them: a verified link whose device key
 * `authenticate` refuses becomes invalid, then the draft's rule across links (one user pseudonym
 * per user, one user per user pseudonym) marks conflicting ones invalid. Pure, so a session proxy
 * (worker-engine.ts) applies its caller's `authenticate` on its own side.
 */
export function settleIdentityLinks(
  opened: readonly MemberIdentityLink[],
  authenticate?: (deviceUri: string, deviceSignatureKey: Uint8Array) => boolean,
): MemberIdentityLink[] {
  const out = opened.map((l): MemberIdentityLink =>
    l.status === 'verified' && authenticate && !authenticate(l.deviceUri, l.deviceSignatureKey)
      ? { leafIndex: l.leafIndex, identity: l.identity, userPseudonym: l.userPseudonym, status: 'invalid', reason: `the link is signed by a key that is not ${l.deviceUri}'s` }
      : l,
  );
  const verified = out.flatMap((l) => (l.status === 'verified' ? [{ clientPseudonym: l.identity, userPseudonym: l.userPseudonym, userUri: l.userUri }] : []));
  const conflicts = linkConsistency(verified);
  return out.map((l) => {
    const reason = conflicts.get(l.identity);
    return reason === undefined ? l : { leafIndex: l.leafIndex, identity: l.identity, userPseudonym: l.userPseudonym, status: 'invalid', reason };
  });
}

// ---------------------------------------------------------------------------------------------
// A session's encoding in two parts (what GroupSession.encode() returns since stop 30):
//   "MLS" || 0x03 || opaque tree_key<V> || opaque tree<V> || rest
// `tree` is the group's ratchet tree, most of a big group's state (~200 bytes per member), and the
// same for a whole epoch: application messages change only `rest` (the secret tree's ratchets and
// the rest of the state, a few KB). `tree_key` names the tree (SHA-256 of its bytes; the rest
// names it too), so storage can keep one tree per epoch and write only `rest` per message
// (db/profile-db.ts). The parts are cut and joined here, without ts-mls, for every engine's
// sessions alike (the worker's proxies hold the encoding as bytes).

const SPLIT_MAGIC = [0x4d, 0x4c, 0x53, 0x03];

export interface SessionStateParts {
  /** Names the tree: equal keys, equal trees. */
  treeKey: Uint8Array;
  tree: Uint8Array;
  /** Everything after the tree, as it follows it in the encoding. */
  rest: Uint8Array;
}

/** The parts of a session encoding of the split form (views into `encoded`), or undefined for any other form. */
export function splitSessionState(encoded: Uint8Array): SessionStateParts | undefined {
  if (!(encoded instanceof Uint8Array) || encoded.length < 4 || SPLIT_MAGIC.some((b, i) => encoded[i] !== b)) return undefined;
  try {
    const r = new TlsReader(encoded, 4);
    const treeKey = r.viewV();
    const tree = r.viewV();
    return { treeKey, tree, rest: encoded.subarray(encoded.length - r.remaining) };
  } catch {
    return undefined;
  }
}

/** The encoding `splitSessionState` cut into these parts. */
export function joinSessionState(parts: SessionStateParts): Uint8Array {
  // One copy of the (big) tree: the head, then the tree and the rest placed after it.
  const head = new TlsWriter().bytes(new Uint8Array(SPLIT_MAGIC)).opaqueV(parts.treeKey).bytes(encodeVarint(parts.tree.length)).finish();
  const out = new Uint8Array(head.length + parts.tree.length + parts.rest.length);
  out.set(head, 0);
  out.set(parts.tree, head.length);
  out.set(parts.rest, head.length + parts.tree.length);
  return out;
}
