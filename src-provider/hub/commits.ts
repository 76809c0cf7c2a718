// Commits to a hosted room: the one-commit-per-epoch rule and everything the hub holds a commit to.
//
// Which members are in the room is read from the ratchet tree each accepted Commit carries (leaf
// credentials name a device or a client pseudonym, and its user: room-members.ts): that works the
// same for a local client and for a follower that sends only the standard HandshakeBundle, and it
// is what decides where fanout goes. The tree is held to what the Commit's proposals do, added
// leaves to the KeyPackages claimed for the room, the GroupInfo to the Commit's GroupContext
// extensions, and the room state to the room policy (src-shared/room-commit.ts). First of all, the
// bundle is authentic: the Commit and GroupInfo signatures verify and the tree is the GroupInfo's
// (tree hash, parent hashes: src-shared/mls-verify.ts, through mls-input.ts).

import { bytesEqual, fromUtf8 } from '../../src-shared/bytes.js';
import { parseMimiUriAs } from '../../src-shared/identifiers.js';
import { MlsWireError, welcomeRecipients, type MlsMessageInfo } from '../../src-shared/mls-wire.js';
import { commitSummary, decodeRatchetTree, keyPackageRef, type CommitSummary, type KeyPackage, type PublicMessage, type RatchetTree, type TreeLeaf } from '../../src-shared/mls-structs.js';
import { admittedByTickets, joinTicketOfLeaf } from '../../src-shared/join-ticket.js';
import { hasConnectionOnlyMarker } from '../../src-shared/connection-request.js';
import { MimiWireError } from '../../src-shared/mimi-protocol.js';
import { vouchesOf, vouchFor, vouchHolds, type KeyPackageVouch } from '../../src-shared/key-package-vouch.js';
import type { CommitResponse } from '../../src-shared/provider-api.js';
import { checkCommit, denialText } from '../../src-shared/room-commit.js';
import { BANNED_ROLE_INDEX } from '../../src-shared/room-policy.js';
import type { RoomState } from '../../src-shared/room-state.js';
import { ApiFailure, badRequest } from '../errors.js';
import { isPartyUri, present, treeMembers, treeMembersAndLeaves, type RoomMember } from '../room-members.js';
import type { RoomRow } from '../store.js';
import type { CommitInput, HubCore, HubSource } from './core.js';
import {
  checkGroup,
  decodeState,
  digest,
  domainOf,
  EXTERNAL_SENDERS_EXTENSION,
  groupInfoOf,
  listedUsers,
  peek,
  publicMessageOf,
  roomStateOf,
  verifyAddedKeyPackage,
  verifyGroupInfoAndTree,
  verifyHandshake,
  verifyNewLeaves,
  type GroupContextExtension,
} from './mls-input.js';
import { hubProposalIncluded, proposePendingBans } from './bans.js';
import { proposePendingRemovals } from './proposals.js';
import { fanout } from './routing.js';

/** What a commit bundle says, checked without the room's state. */
interface Bundle {
  info: MlsMessageInfo;
  external: boolean;
  /** The new epoch's members, by leaf index. */
  membersAfter: (RoomMember | undefined)[];
  /** The new epoch's leaves (signature keys, extensions), in tree order. */
  leaves: TreeLeaf[];
  welcomeRefs: Uint8Array[];
  /** Vouches for KeyPackages fetched over OHTTP, from the commit's authenticated_data. */
  vouches: KeyPackageVouch[];
  /** The room state extension data in the new epoch's GroupContext (undefined: none). */
  stateAfter?: Uint8Array;
  /** Whether the Commit carries a GroupContextExtensions proposal (else the extensions stay). */
  changesExtensions: boolean;
  /** The new epoch's GroupContext extensions, as the room state check takes them. */
  extensionsAfter: GroupContextExtension[];
  summary: CommitSummary;
  /** The Commit, decoded far enough to check its signature. */
  message: PublicMessage;
  /** An external commit: the identity of the tree leaf that is its UpdatePath's leaf (the joiner). */
  pathLeafIdentity?: string;
  /** The new epoch's tree, decoded, and the group's id (for the new leaves' signatures). */
  tree: RatchetTree;
  groupId: Uint8Array;
}

/** Stateless checks of a commit bundle, before any transaction. */
function checkBundle(roomUri: string, input: CommitInput): Bundle {
  const info = peek(input.commit, 'commit');
  if (info.wireFormat !== 'public') throw badRequest(`commit must be a PublicMessage, got ${info.wireFormat}`);
  if (info.contentType !== 'commit') throw badRequest(`commit carries ${info.contentType} content, not a Commit`);
  checkGroup(info, roomUri, 'commit');
  const external = info.senderType === 'new_member_commit';
  if (info.senderType !== 'member' && !external) {
    throw new ApiFailure('notAllowed', `a commit from sender type ${info.senderType} is not accepted`);
  }
  const gi = peek(input.groupInfo, 'groupInfo');
  if (gi.wireFormat !== 'groupInfo') throw badRequest(`groupInfo is an MLS ${gi.wireFormat} message, not a GroupInfo`);
  checkGroup(gi, roomUri, 'groupInfo');
  if (gi.epoch !== info.epoch! + 1n) throw badRequest(`groupInfo is for epoch ${gi.epoch}, the commit creates epoch ${info.epoch! + 1n}`);
  if (input.ratchetTree.length === 0) throw badRequest('ratchetTree is empty');
  const { members: membersAfter, leaves } = treeMembersAndLeaves(input.ratchetTree, 'ratchetTree');
  let welcomeRefs: Uint8Array[] = [];
  if (input.welcome) {
    try {
      welcomeRefs = welcomeRecipients(input.welcome);
    } catch (e) {
      if (e instanceof MlsWireError) throw badRequest(`welcome is not a valid Welcome: ${e.message}`);
      throw e;
    }
    if (welcomeRefs.length === 0) throw badRequest('welcome has no recipients');
  }
  for (const [field, list] of [
    ['addUsers', input.addUsers ?? []],
    ['removeUsers', input.removeUsers ?? []],
  ] as const) {
    for (const u of list) if (!isPartyUri(u)) throw badRequest(`${field}: ${JSON.stringify(u)} is not a user URI or pseudonym`);
  }
  for (const u of input.addUsers ?? []) if (input.removeUsers?.includes(u)) throw badRequest(`${u} is both added and removed`);
  // Hold the GroupInfo to what the Commit does to the GroupContext extensions: the room state the
  // hub checks is then the one every member's key schedule will confirm.
  const gc = roomStateOf(input.groupInfo);
  let summary: CommitSummary;
  try {
    summary = commitSummary(input.commit);
  } catch (e) {
    throw badRequest(`commit is malformed: ${(e as Error).message}`);
  }
  const proposed = summary.groupContextExtensions;
  if (proposed) {
    const same =
      proposed.length === gc.extensions.length &&
      proposed.every((e, i) => e.extensionType === gc.extensions[i].type && bytesEqual(e.extensionData, gc.extensions[i].data));
    if (!same) throw badRequest("groupInfo: its GroupContext extensions are not the ones the commit's GroupContextExtensions proposal sets");
  }
  // The bundle's tree is the one its GroupInfo commits to (tree hash), with valid parent hashes, and
  // the GroupInfo is signed by its signer's leaf in it (src-shared/mls-verify.ts). The Commit's own
  // signature needs the current epoch: acceptCommit checks it against the stored GroupInfo and tree.
  const tree = decodeRatchetTree(input.ratchetTree);
  const groupInfo = groupInfoOf(input.groupInfo, 'groupInfo');
  verifyGroupInfoAndTree(groupInfo, tree);
  summary.adds.forEach((kp, i) => verifyAddedKeyPackage(kp, `the commit's Add ${i + 1}`));
  const message = publicMessageOf(input.commit, 'commit');
  // The leaf a Commit's UpdatePath installs is in the new tree: the committer's own leaf, or for an
  // external commit the joiner's (whose key signs it: the hub's sender must be that leaf's member).
  const path = message.content.path;
  let pathLeafIdentity: string | undefined;
  if (external && !path) throw badRequest('an external commit must carry an UpdatePath');
  if (path) {
    const at = external ? tree.nodes.findIndex((n) => n?.nodeType === 'leaf' && bytesEqual(n.leaf.raw, path.leafNode.raw)) : 2 * info.senderLeafIndex!;
    const node = at >= 0 ? tree.nodes[at] : undefined;
    if (!node || node.nodeType !== 'leaf' || !bytesEqual(node.leaf.raw, path.leafNode.raw)) {
      throw badRequest(external ? "ratchetTree does not hold the commit's UpdatePath leaf" : "ratchetTree: the committer's leaf is not the one its UpdatePath sets");
    }
    if (external) pathLeafIdentity = membersAfter[at / 2]?.identity;
  }
  let vouches: KeyPackageVouch[];
  try {
    vouches = vouchesOf(info.authenticatedData);
  } catch (e) {
    throw badRequest(`the commit's authenticated_data is malformed: ${(e as Error).message}`);
  }
  return { info, external, membersAfter, leaves, welcomeRefs, stateAfter: gc.state, changesExtensions: proposed !== undefined, extensionsAfter: gc.extensions, summary, message, pathLeafIdentity, tree, groupId: groupInfo.groupContext.groupId, vouches };
}

/** The member a by-value Add's KeyPackage makes. */
function keyPackageIdentity(kp: KeyPackage): string {
  const cred = kp.leafNode.credential;
  if (cred.credentialType === 'pseudonymous') return cred.clientPseudonym;
  if (cred.credentialType !== 'basic') throw badRequest(`commit adds a KeyPackage with a ${cred.credentialType} credential, not basic or pseudonymous`);
  try {
    return fromUtf8(cred.identity);
  } catch {
    throw badRequest('commit adds a KeyPackage whose identity is not UTF-8');
  }
}

/** The membership change a commit makes, and who made it. */
interface Change {
  before: RoomMember[];
  after: RoomMember[];
  added: RoomMember[];
  removed: RoomMember[];
  sender: RoomMember;
  /** The current epoch's tree (index = leaf index); undefined for a room created without one. */
  leavesBefore?: (RoomMember | undefined)[];
  /** Every member's user, before and after (a member keeps its user). */
  userOf: Map<string, string>;
}

function membershipChange(hub: HubCore, source: HubSource, room: RoomRow, bundle: Bundle, stateBefore: RoomState | undefined): Change {
  const roomUri = room.room_uri;
  const before = hub.members(roomUri);
  const leavesBefore = room.ratchet_tree ? treeMembers(room.ratchet_tree, 'stored ratchet tree') : undefined;
  const after = present(bundle.membersAfter);
  const userOf = new Map(before.map((m) => [m.identity, m.user] as const));
  for (const m of after) {
    const was = userOf.get(m.identity);
    if (was !== undefined && was !== m.user) throw badRequest(`ratchetTree gives ${m.identity} the user ${m.user}; a commit never changes a member's user (${was})`);
    userOf.set(m.identity, m.user);
  }
  const beforeIds = new Set(before.map((m) => m.identity));
  const afterIds = new Set(after.map((m) => m.identity));
  const added = after.filter((m) => !beforeIds.has(m.identity));
  const removed = before.filter((m) => !afterIds.has(m.identity));

  // Who sent it: a member's leaf in the current tree, or the member an external commit adds.
  let sender: RoomMember;
  if (bundle.external) {
    if (bundle.welcomeRefs.length) throw badRequest('an external commit cannot carry a Welcome');
    if (added.length !== 1) throw badRequest(`an external commit must add exactly one member, this one adds ${added.length}`);
    sender = added[0];
    if (sender.identity !== bundle.pathLeafIdentity) throw badRequest(`the external commit is signed by the leaf of ${bundle.pathLeafIdentity}, not by ${sender.identity}, whom it adds`);
    const joiner = sender.user;
    if (stateBefore?.participants.some((p) => p.user === joiner && p.roleIndex === BANNED_ROLE_INDEX)) {
      throw new ApiFailure('notAllowed', `${joiner} is banned from ${roomUri}`);
    }
    for (const m of removed) {
      if (m.user !== joiner) throw new ApiFailure('notAllowed', `an external commit may only remove its own user's members, not ${m.identity}`);
    }
  } else {
    const found = (leavesBefore ?? before)[bundle.info.senderLeafIndex ?? -1];
    if (!found || !beforeIds.has(found.identity)) throw badRequest(`commit is signed by leaf ${bundle.info.senderLeafIndex}, which holds no member device`);
    sender = found;
  }
  if (source.kind === 'device') {
    // A device commits as itself or as a client pseudonym this provider issued to it.
    const problem = hub.identities.ownershipProblem(source.actor.deviceUri, sender);
    if (problem) throw new ApiFailure('notAllowed', `commit is signed by ${sender.identity}: ${problem}`);
  }
  if (source.kind === 'peer' && domainOf(sender.identity) !== source.domain) {
    throw new ApiFailure('notAllowed', `${source.domain} cannot submit a commit signed by ${sender.identity}`);
  }
  if (removed.some((m) => m.identity === sender.identity)) throw new ApiFailure('notAllowed', 'a commit cannot remove its own sender');
  // Last, as admitting spends a use of a join link: only on a joiner that is who it says it is. (The
  // transaction undoes the use if the room policy refuses the commit below.)
  if (bundle.external && !hub.store.isParticipant(roomUri, sender.user)) {
    const leaf = bundle.leaves.find((l) => l.identity === sender.identity)!;
    if (!hub.joinLinks) throw new ApiFailure('notMember', `${sender.user} is not a participant of ${roomUri}`);
    let ticket;
    try {
      ticket = joinTicketOfLeaf(leaf.extensions);
    } catch (e) {
      throw badRequest(`the joiner's leaf: ${(e as Error).message}`);
    }
    hub.joinLinks.admit(roomUri, { identity: sender.identity, user: sender.user, signatureKey: leaf.signatureKey, ticket });
  }
  return { before, after, added, removed, sender, leavesBefore, userOf };
}

/**
 * Membership is read from the bundle's tree, not from the commit's proposals, so the tree is held
 * to what any commit must keep and to what this Commit proposes.
 */
function checkTree(hub: HubCore, source: HubSource, room: RoomRow, bundle: Bundle, c: Change, removeDevices: readonly string[]): void {
  const roomUri = room.room_uri;
  const afterIds = new Set(c.after.map((m) => m.identity));
  const beforeIds = new Set(c.before.map((m) => m.identity));
  // No member moves to another leaf (RFC 9420: Remove blanks a leaf, Add fills the leftmost blank one) ...
  c.leavesBefore?.forEach((m, i) => {
    if (m && afterIds.has(m.identity) && bundle.membersAfter[i]?.identity !== m.identity) {
      const to = bundle.membersAfter.findIndex((x) => x?.identity === m.identity);
      throw badRequest(`ratchetTree moves ${m.identity} from leaf ${i} to leaf ${to}; a commit never moves a member`);
    }
  });
  // ... in a room without room state, a follower removes only its own members (an external joiner
  // only its own user's, above) or those the hub itself proposed to remove; in a managed room the
  // room policy decides who may remove whom ...
  if (source.kind === 'peer' && !bundle.external && !room.room_state) {
    const proposedByHub = new Set(hub.store.pendingRemovals(roomUri));
    for (const m of c.removed) {
      if (domainOf(m.identity) !== source.domain && !proposedByHub.has(m.identity)) {
        throw new ApiFailure('notAllowed', `${source.domain} cannot remove ${m.identity}, a device of another provider`);
      }
    }
  }
  // ... and the tree's membership changes are the ones the Commit proposes: by-value Removes and
  // Adds, plus referenced proposals the hub holds (its own and members' pending Removes). Then the
  // room policy judges what the commit really does, not what a bundle claims.
  if (c.leavesBefore) {
    const byValue = new Set<string>();
    for (const leaf of bundle.summary.removes) {
      const m = c.leavesBefore[leaf];
      if (!m) throw badRequest(`commit removes leaf ${leaf}, which holds no member device`);
      byValue.add(m.identity);
    }
    for (const d of byValue) if (afterIds.has(d)) throw badRequest(`commit removes ${d}, but the ratchetTree keeps it`);
    const pending = new Set(hub.store.pendingRemovals(roomUri));
    for (const m of c.removed) {
      if (!byValue.has(m.identity) && (!pending.has(m.identity) || bundle.summary.references === 0)) {
        throw badRequest(`ratchetTree drops ${m.identity}, which the commit does not remove`);
      }
    }
    const addedByValue = bundle.summary.adds.map(keyPackageIdentity);
    const addedInTree = c.added.filter((m) => !(bundle.external && m === c.sender)).map((m) => m.identity);
    if (addedByValue.length !== addedInTree.length || addedByValue.some((d) => !addedInTree.includes(d))) {
      throw badRequest(`ratchetTree adds ${addedInTree.join(', ') || 'nobody'}, the commit adds ${addedByValue.join(', ') || 'nobody'}`);
    }
  }
  for (const d of removeDevices) {
    if (!beforeIds.has(d)) throw badRequest(`cannot remove ${d}: not a member device`);
    if (afterIds.has(d)) throw badRequest(`removeDevices lists ${d}, but the commit keeps it`);
  }
}

/**
 * Every added member (but an external joiner) needs a Welcome addressed to a KeyPackage that was
 * claimed for this room, here or through this hub, for that member; and the Add must carry that
 * very KeyPackage. A claim is how a member's provider vouches for it (a local pseudonym's
 * KeyPackages come only from the device it was issued to), so nobody is added under an identity
 * with keys of their own making. Returns the welcomed members' identities.
 */
function welcomedMembers(hub: HubCore, roomUri: string, bundle: Bundle, c: Change): string[] {
  const added = new Set(c.added.map((m) => m.identity));
  const welcomed: string[] = [];
  // The one exception to "claimed": a KeyPackage valid for initial connections only, of a client
  // pseudonym, travels inside a connection request (end to end), never through a claim. Accepting
  // the connection adds it. Its own provider vouches for it: ours, by the upload from the device the
  // pseudonym was issued to; another provider, by delivering the Welcome only if that is so. The ref
  // is recorded like a claim (in this transaction), so the Welcome is routed as any other.
  for (const kp of bundle.summary.adds) {
    const identity = keyPackageIdentity(kp);
    const ref = keyPackageRef(kp.raw);
    if (hub.store.claimedDevice(ref, roomUri) !== undefined || !parseMimiUriAs('pseudonym', identity)) continue;
    let connectionOnly: boolean;
    try {
      connectionOnly = hasConnectionOnlyMarker(kp);
    } catch (e) {
      throw badRequest(`the commit adds ${identity} with a malformed KeyPackage: ${(e as Error).message}`);
    }
    if (!connectionOnly) continue; // refused below: not claimed
    if (domainOf(identity) === hub.domain && hub.store.connectionKeyPackageOwner(ref) !== identity) {
      throw badRequest(`the commit adds ${identity} with a connection KeyPackage its device did not publish here`);
    }
    hub.store.recordClaim(ref, roomUri, identity, c.sender.user, hub.now());
  }
  // A KeyPackage fetched over Oblivious HTTP never passed the hub: its provider vouches for it in
  // the commit's authenticated_data (src-shared/key-package-vouch.ts), under the provider key the
  // hub fetched over mutual TLS before this transaction (ohttp-service.ts prepareCommit). The vouch
  // is then recorded like a claim, so the Welcome is routed as any other.
  for (const kp of bundle.summary.adds) {
    const ref = keyPackageRef(kp.raw);
    if (hub.store.claimedDevice(ref, roomUri) !== undefined) continue;
    const v = vouchFor(bundle.vouches, ref);
    if (!v) continue; // refused below: not claimed
    const identity = keyPackageIdentity(kp);
    const key = parseMimiUriAs('device', identity) ? hub.vouchKey?.(domainOf(identity)) : undefined;
    if (v.client !== identity || !key || !vouchHolds(key, v, hub.now())) {
      throw badRequest(`the commit adds ${identity} with a KeyPackage whose provider's vouch does not hold (expired, or for another client): fetch the KeyPackage again`);
    }
    hub.store.recordClaim(ref, roomUri, identity, c.sender.user, hub.now());
  }
  for (const ref of bundle.welcomeRefs) {
    const identity = hub.store.claimedDevice(ref, roomUri);
    if (!identity) throw badRequest('welcome is addressed to a KeyPackage that was not claimed for this room');
    if (!added.has(identity)) throw badRequest(`welcome is addressed to ${identity}, whom the commit does not add`);
    if (!welcomed.includes(identity)) welcomed.push(identity);
  }
  for (const m of c.added) {
    if ((m !== c.sender || !bundle.external) && !welcomed.includes(m.identity)) {
      throw badRequest(`the commit adds ${m.identity} but the welcome is not addressed to it`);
    }
  }
  for (const kp of bundle.summary.adds) {
    const identity = keyPackageIdentity(kp);
    if (hub.store.claimedDevice(keyPackageRef(kp.raw), roomUri) !== identity) {
      throw badRequest(`the commit adds ${identity} with a KeyPackage that was not claimed for this room`);
    }
  }
  if (welcomed.some((d) => domainOf(d) !== hub.domain) && !hub.fanoutSink) {
    throw new ApiFailure('notAllowed', 'this provider does not federate: it cannot add devices of other providers');
  }
  return welcomed;
}

/**
 * The room state: the Commit must keep it (or change it through its proposal), and the room policy
 * must allow everything it does. Returns the new state of a managed room.
 */
function checkRoomState(
  hub: HubCore,
  room: RoomRow,
  bundle: Bundle,
  c: Change,
  stateBefore: RoomState | undefined,
  hubExtensions: GroupContextExtension[] | undefined,
): RoomState | undefined {
  const { stateAfter, extensionsAfter } = bundle;
  let changesExtensions = bundle.changesExtensions;
  if (hubExtensions) {
    // The hub's own proposal (a ban), by reference: the GroupInfo must show what it sets.
    if (changesExtensions) throw badRequest("commit carries two GroupContextExtensions proposals (its own and the hub's)");
    const same = hubExtensions.length === extensionsAfter.length && hubExtensions.every((e, i) => e.type === extensionsAfter[i].type && bytesEqual(e.data, extensionsAfter[i].data));
    if (!same) throw badRequest("groupInfo: its GroupContext extensions are not the ones the hub's proposal sets");
    changesExtensions = true;
  }
  if (!stateBefore && !stateAfter) return undefined;
  if (!stateBefore) throw new ApiFailure('notAllowed', 'this room has no room state; a commit cannot add one');
  if (!stateAfter) throw new ApiFailure('notAllowed', 'a commit cannot drop the room state');
  if (!changesExtensions && !bytesEqual(room.room_state!, stateAfter)) {
    throw badRequest('groupInfo: the room state differs from the current one, but the commit does not change the GroupContext extensions');
  }
  const managedAfter = decodeState(stateAfter, 'groupInfo');
  const extensionsBefore = room.group_info ? roomStateOf(room.group_info).extensions : undefined;
  // The hub proposes Removes (deleted accounts) as the first external sender: no commit may take that away.
  const hubSenderOf = (l: GroupContextExtension[] | undefined) => l?.find((e) => e.type === EXTERNAL_SENDERS_EXTENSION);
  const hubBefore = hubSenderOf(extensionsBefore);
  const hubAfter = hubSenderOf(extensionsAfter);
  if (hubBefore && (!hubAfter || !bytesEqual(hubBefore.data, hubAfter.data) || extensionsAfter[0]?.type !== EXTERNAL_SENDERS_EXTENSION)) {
    throw new ApiFailure('notAllowed', "a commit cannot change or move the room's external_senders (the hub's)");
  }
  const pendingBefore = new Set(hub.store.pendingRemovals(room.room_uri));
  let verdict;
  try {
    verdict = checkCommit({
      before: stateBefore,
      after: managedAfter,
      committer: c.sender.user,
      devicesBefore: c.before.map((m) => m.identity),
      devicesAfter: c.after.map((m) => m.identity),
      userOf: (identity) => c.userOf.get(identity)!,
      departed: new Set(c.removed.filter((m) => pendingBefore.has(m.identity)).map((m) => m.identity)),
      removedByHub: new Set(hub.store.hubRemovals(room.room_uri)),
      extensionsBefore,
      extensionsAfter,
      admitted: hub.joinLinks
        ? admittedByTickets(
            bundle.leaves.map((l) => ({ user: c.userOf.get(l.identity)!, signatureKey: l.signatureKey, extensions: l.extensions })),
            room.room_uri,
            hub.joinLinks.hubPublicKey,
            new Set(stateBefore.participants.map((p) => p.user)),
          )
        : undefined,
      stateByHub: hubExtensions !== undefined,
    });
  } catch (e) {
    if (e instanceof MimiWireError) throw new ApiFailure('notAllowed', `the commit breaks the room state rules: ${e.message}`);
    throw e;
  }
  if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids this commit: ${denialText(verdict)}`);
  return managedAfter;
}

/** A local account (or, for a pseudonym, all of its account) that no longer exists. */
function localPartyGone(hub: HubCore, user: string): boolean {
  if (parseMimiUriAs('user', user)?.domain === hub.domain) return !hub.store.userByUri(user);
  if (parseMimiUriAs('pseudonym', user)?.domain === hub.domain) return !hub.store.pseudonymByUser(user);
  return false;
}

/** Nobody but its holder can vouch for a pseudonym: it joins a list only with a client of its own (checkCommit's rule, for unmanaged rooms). */
function requireClientFor(user: string, added: readonly RoomMember[]): void {
  if (parseMimiUriAs('pseudonym', user) && !added.some((m) => m.user === user)) {
    throw new ApiFailure('notAllowed', `${user} is a pseudonym: it joins the participant list only together with a client of its own`);
  }
}

/** The participant list after the commit. */
function participantsAfter(hub: HubCore, source: HubSource, roomUri: string, input: CommitInput, bundle: Bundle, c: Change, welcomed: string[], managedAfter: RoomState | undefined): { before: Set<string>; after: Set<string> } {
  const before = new Set(hub.store.participants(roomUri));
  const after = new Set(before);
  const usersAfter = new Set(c.after.map((m) => m.user));
  const userUnknown = (u: string) => new ApiFailure('userUnknown', `cannot add ${u}: no such user on ${hub.domain}`, { status: 400 });
  if (managedAfter) {
    // A managed room's participants are its list; the request's addUsers/removeUsers are not needed.
    after.clear();
    for (const u of listedUsers(managedAfter)) {
      // (A pseudonym joins the list only with a client of its own: checkCommit saw to it.)
      if (!before.has(u) && parseMimiUriAs('user', u)?.domain === hub.domain && !hub.store.userByUri(u)) throw userUnknown(u);
      after.add(u);
    }
  } else if (source.kind === 'device') {
    for (const u of input.addUsers ?? []) {
      if (parseMimiUriAs('user', u)?.domain === hub.domain && !hub.store.userByUri(u)) throw userUnknown(u);
      if (!before.has(u)) requireClientFor(u, c.added);
      after.add(u);
    }
    for (const u of input.removeUsers ?? []) {
      if (!before.has(u)) throw badRequest(`cannot remove ${u}: not a participant`);
      if (usersAfter.has(u)) throw badRequest(`cannot remove ${u}: the commit keeps some of their devices`);
      after.delete(u);
    }
    if (bundle.external) after.add(c.sender.user);
    for (const d of welcomed) {
      if (!after.has(c.userOf.get(d)!)) throw badRequest(`welcome adds ${d}, whose user is not a participant (list it in addUsers)`);
    }
  } else {
    // A follower states no list: users whose members are added join it, users whose last member
    // is removed leave it.
    for (const m of c.added) after.add(m.user);
    for (const m of c.removed) if (!usersAfter.has(m.user)) after.delete(m.user);
  }
  // A user who left (their own Remove proposals) or whose account was deleted leaves the list once
  // their last member has left the group (a managed room's list says so itself).
  if (!managedAfter) {
    const pending = new Set(hub.store.pendingRemovals(roomUri));
    for (const m of c.removed) {
      if (!usersAfter.has(m.user) && (pending.has(m.identity) || localPartyGone(hub, m.user))) after.delete(m.user);
    }
  }
  return { before, after };
}

/** A commit from one of our own devices or from a follower provider (`/update`). */
export function acceptCommit(hub: HubCore, source: HubSource, roomUri: string, input: CommitInput): CommitResponse {
  const bundle = checkBundle(roomUri, input);
  const { info, external } = bundle;
  const local = source.kind === 'device' ? source.actor : undefined;
  const commitDigest = digest(input.commit);

  return hub.write((queued) => {
    if (local && input.requestId) {
      const done = hub.store.idempotentResponse(local.deviceUri, 'commit', input.requestId);
      if (done) return JSON.parse(done) as CommitResponse;
    }
    const room = hub.requireRoom(roomUri);
    const epoch = BigInt(room.epoch);
    // A peer retrying a commit whose answer it lost gets the same answer (peers have no request id).
    const seen = local ? undefined : hub.store.acceptedByDigest(roomUri, commitDigest);
    if (seen && seen.kind === 'commit') return { epoch: String(BigInt(seen.epoch) + 1n), acceptedTimestamp: seen.accepted_ts };
    if (local && !external && hub.identities.membersOfDevice(roomUri, local.deviceUri).length === 0) {
      throw new ApiFailure('notMember', `${local.deviceUri} is not a member device of ${roomUri}`);
    }
    // The loser of a race for this epoch ends here: the winner's transaction already moved it.
    if (info.epoch !== epoch) {
      throw new ApiFailure('wrongEpoch', `commit is for epoch ${info.epoch}, the room is at epoch ${epoch}`, { currentEpoch: epoch });
    }
    // Signed by its sender: a member's leaf in the stored tree, or the joiner's UpdatePath leaf, over
    // the current epoch's GroupContext (the stored GroupInfo's).
    verifyHandshake(room, bundle.message, 'commit');
    verifyNewLeaves(room.ratchet_tree, bundle.tree, bundle.groupId);

    const stateBefore = room.room_state ? decodeState(room.room_state, 'stored room state') : undefined;
    const c = membershipChange(hub, source, room, bundle, stateBefore);
    checkTree(hub, source, room, bundle, c, input.removeDevices ?? []);
    const welcomed = welcomedMembers(hub, roomUri, bundle, c);
    const managedAfter = checkRoomState(hub, room, bundle, c, stateBefore, hubProposalIncluded(hub, room, epoch, bundle.summary.refs));
    const participants = participantsAfter(hub, source, roomUri, input, bundle, c, welcomed, managedAfter);
    // The hub's own pending Removes must be in the next commit (draft-ietf-mimi-protocol-06,
    // "Bob Leaves the Room": the hub requires committers to include its cached proposals).
    const afterIds = new Set(c.after.map((m) => m.identity));
    const overdue = hub.store.pendingRemovals(roomUri).filter((d) => afterIds.has(d));
    if (overdue.length) {
      throw new ApiFailure('notAllowed', `the commit must include the hub's pending Remove proposals (for ${overdue.join(', ')})`);
    }

    const newEpoch = epoch + 1n;
    if (!hub.store.advanceEpoch(roomUri, epoch, newEpoch, input.groupInfo, input.ratchetTree)) {
      throw new ApiFailure('wrongEpoch', 'another commit for this epoch was accepted first', { currentEpoch: BigInt(hub.store.room(roomUri)!.epoch) });
    }
    for (const u of participants.before) if (!participants.after.has(u)) hub.store.removeParticipant(roomUri, u);
    for (const u of participants.after) if (!participants.before.has(u)) hub.store.addParticipant(roomUri, u);
    for (const m of c.removed) {
      hub.store.removeRoomDevice(roomUri, m.identity);
      hub.joinLinks?.knockerLeft(roomUri, m.identity);
    }
    for (const m of c.added) hub.store.addRoomDevice(roomUri, m.identity, m.user);
    if (managedAfter) hub.store.setRoomState(roomUri, bundle.stateAfter!);

    const ts = hub.now();
    const sender = c.sender.identity;
    // Every member of the epoch being left hears of the commit, including removed ones (that is
    // how they learn of their removal); the sender already has it.
    const commitEvent = hub.store.insertEvent({ room_uri: roomUri, kind: 'commit', epoch, sender_device: sender, payload: input.commit, accepted_ts: ts });
    const recipients = c.before.map((m) => m.identity).filter((d) => d !== sender);
    fanout(hub, roomUri, commitEvent, recipients, { timestamp: BigInt(ts), message: input.commit, kind: 'commit', externalProposals: [] }, queued);
    if (welcomed.length) {
      const welcomeEvent = hub.store.insertEvent({
        room_uri: roomUri,
        kind: 'welcome',
        epoch: newEpoch,
        sender_device: sender,
        payload: input.welcome!,
        ratchet_tree: input.ratchetTree,
        accepted_ts: ts,
      });
      const ratchetTree = bundle.tree;
      fanout(hub, roomUri, welcomeEvent, welcomed, { timestamp: BigInt(ts), message: input.welcome!, kind: 'welcome', ratchetTreeOption: { representation: 'full', ratchetTree } }, queued);
    }
    hub.store.recordAccepted(roomUri, commitDigest, 'commit', epoch, ts);
    // The hub's proposals for the new epoch: a ban's room state first, then every pending Remove.
    proposePendingBans(hub, roomUri, queued);
    proposePendingRemovals(hub, roomUri, queued);
    const response: CommitResponse = { epoch: newEpoch.toString(), acceptedTimestamp: ts };
    if (local && input.requestId) hub.store.recordResponse(local.deviceUri, 'commit', input.requestId, JSON.stringify(response), ts);
    return response;
  });
}
