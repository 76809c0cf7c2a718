// Who the members of a room are, as a provider sees them (hub and follower alike), and which of
// them are this provider's.
//
// A member is a leaf of the room's MLS group. Its identity is what its credential names: a device
// URI (BasicCredential, mimi://<domain>/d/<handle>/<id>) or a client pseudonym (our private
// PseudonymousCredential, mimi://<domain>/p/<id>, draft-ietf-mimi-protocol-06 "Minimal metadata
// rooms"). Its user is the device's user, or the user pseudonym the pseudonymous credential names.
// The identity's domain is where fanout for it goes, so a provider routes a pseudonymous member
// without learning who is behind it.
//
// Only the provider that issued a client pseudonym knows its device (the pseudonyms table): it
// alone delivers to it and it alone can say whether one of its devices may act as it. Everything a
// room keeps (members, participants, events, fanout) names the pseudonym; only the device's own
// inbox rows name the device.

import { parseMimiUriAs, userOfDevice } from '../src-shared/identifiers.js';
import { decodeRatchetTree, treeLeaves, type TreeLeaf } from '../src-shared/mls-structs.js';
import { ApiFailure, badRequest } from './errors.js';
import type { Store } from './store.js';

export interface RoomMember {
  /** A device URI, or a client pseudonym. */
  identity: string;
  /** The device's user URI, or the user pseudonym. */
  user: string;
  pseudonymous: boolean;
}

/** A device acting through the client API (the accounts module's Actor fits). */
export interface DeviceActor {
  deviceUri: string;
  userUri: string;
}

/** A user URI or a pseudonym: who may be on a participant list, request key material or report. */
export const isPartyUri = (uri: string): boolean => parseMimiUriAs('user', uri) !== undefined || parseMimiUriAs('pseudonym', uri) !== undefined;

function memberOfLeaf(leaf: TreeLeaf, what: string): RoomMember {
  if (leaf.credentialType === 'pseudonymous') {
    const client = parseMimiUriAs('pseudonym', leaf.identity);
    const user = parseMimiUriAs('pseudonym', leaf.userPseudonym ?? '');
    if (!client || !user) throw badRequest(`${what}: leaf ${leaf.leafIndex} has a pseudonymous credential without two pseudonyms`);
    // Both are issued by the user's provider; the client's domain is where its fanout goes.
    if (client.domain !== user.domain) {
      throw badRequest(`${what}: leaf ${leaf.leafIndex} names client pseudonym ${leaf.identity} and user pseudonym ${leaf.userPseudonym} of different providers`);
    }
    return { identity: leaf.identity, user: leaf.userPseudonym!, pseudonymous: true };
  }
  if (!parseMimiUriAs('device', leaf.identity)) {
    throw badRequest(`${what}: leaf ${leaf.leafIndex} has identity ${JSON.stringify(leaf.identity)}, not a device URI`);
  }
  return { identity: leaf.identity, user: userOfDevice(leaf.identity), pseudonymous: false };
}

/** The members of an encoded ratchet tree, by leaf index (undefined: a blank leaf). */
export function treeMembers(tree: Uint8Array, what: string): (RoomMember | undefined)[] {
  return treeMembersAndLeaves(tree, what).members;
}

/** treeMembers, and the leaves they were read from (signature keys, extensions). */
export function treeMembersAndLeaves(tree: Uint8Array, what: string): { members: (RoomMember | undefined)[]; leaves: TreeLeaf[] } {
  let leaves;
  try {
    leaves = treeLeaves(decodeRatchetTree(tree));
  } catch (e) {
    throw badRequest(`${what} is not a valid ratchet tree: ${(e as Error).message}`);
  }
  const out: (RoomMember | undefined)[] = [];
  const identities = new Set<string>();
  for (const leaf of leaves) {
    const m = memberOfLeaf(leaf, what);
    if (identities.has(m.identity)) throw badRequest(`${what}: ${m.identity} is in the tree twice`);
    identities.add(m.identity);
    while (out.length < leaf.leafIndex) out.push(undefined);
    out.push(m);
  }
  // One URI is a client or a user in a room, never both: the users of members stay unambiguous.
  for (const m of out) if (m && identities.has(m.user)) throw badRequest(`${what}: ${m.user} is both a member and a member's user`);
  return { members: out, leaves };
}

/**
 * The decoded members of a stored member list, by that list: the store hands out the same frozen
 * array until the room's members change (store.cachedRoomMembers), so each list is decoded once.
 */
const decoded = new WeakMap<object, readonly RoomMember[]>();

/** The members a provider keeps for a room (room_devices), in the order they came. */
export function storedMembers(store: Store, roomUri: string): RoomMember[] {
  const rows = store.cachedRoomMembers(roomUri);
  let members = decoded.get(rows);
  if (!members) {
    members = Object.freeze(rows.map((m) => Object.freeze({ identity: m.identity, user: m.user, pseudonymous: parsedUri(m.identity)?.kind === 'pseudonym' })));
    decoded.set(rows, members);
  }
  return members.slice();
}

type UriKind = 'device' | 'pseudonym';
/** What parseMimiUriAs says of a member identity: its kind and domain (undefined: neither). */
const uriMemo = new Map<string, { kind: UriKind; domain: string } | undefined>();
const URI_MEMO_MAX = 1 << 16;

/** An identity's kind (device URI or pseudonym) and domain, parsed once (parsing is pure). */
function parsedUri(uri: string): { kind: UriKind; domain: string } | undefined {
  if (uriMemo.has(uri)) return uriMemo.get(uri);
  const device = parseMimiUriAs('device', uri);
  const pseudonym = device ? undefined : parseMimiUriAs('pseudonym', uri);
  const out = device ? { kind: 'device' as const, domain: device.domain } : pseudonym ? { kind: 'pseudonym' as const, domain: pseudonym.domain } : undefined;
  if (uriMemo.size >= URI_MEMO_MAX) uriMemo.clear();
  uriMemo.set(uri, out);
  return out;
}

/** The non-blank members of a tree. */
export const present = (members: readonly (RoomMember | undefined)[]): RoomMember[] => members.filter((m): m is RoomMember => m !== undefined);

/** This provider's identities: which device gets a member's events, and which device may act as it. */
export class LocalIdentities {
  constructor(
    private readonly store: Store,
    readonly domain: string,
  ) {}

  /**
   * The local device that receives what is delivered to `identity`: the device itself, or the device
   * a client pseudonym of ours was issued to (retired or not: its leaf still has to hear that it
   * goes). Undefined for another provider's identity and for a device or account that is gone.
   */
  deliveryDevice(identity: string): string | undefined {
    const uri = parsedUri(identity);
    if (uri?.domain !== this.domain) return undefined;
    if (uri.kind === 'device') return this.store.deviceExists(identity) ? identity : undefined;
    return this.store.pseudonymByClient(identity)?.device_uri;
  }

  /**
   * deliveryDevice without the existence check of a device identity (the caller checks it in bulk:
   * store.enqueueExisting): the device itself, or the device a client pseudonym of ours was issued to.
   */
  deliveryCandidate(identity: string): string | undefined {
    const uri = parsedUri(identity);
    if (uri?.domain !== this.domain) return undefined;
    if (uri.kind === 'device') return identity;
    return this.store.pseudonymByClient(identity)?.device_uri;
  }

  /** Whether `identity` is `deviceUri`, or a client pseudonym of ours issued to it (in any state). */
  isDevicesIdentity(identity: string, deviceUri: string): boolean {
    if (identity === deviceUri) return true;
    const uri = parsedUri(identity);
    return uri?.kind === 'pseudonym' && uri.domain === this.domain && this.store.pseudonymByClient(identity)?.device_uri === deviceUri;
  }

  /** The members of `roomUri` (as this provider keeps them) that are `deviceUri` or its client pseudonyms. */
  membersOfDevice(roomUri: string, deviceUri: string): RoomMember[] {
    return storedMembers(this.store, roomUri).filter((m) => this.isDevicesIdentity(m.identity, deviceUri));
  }

  /**
   * Why `deviceUri` may not act as `member` (undefined: it may). A device is itself; a client
   * pseudonym must have been issued to it and be active, and the user pseudonym it names must be an
   * active one of the same account (a user's clients share one user pseudonym in a room). Someone
   * else's pseudonym and an unknown one get the same answer.
   */
  ownershipProblem(deviceUri: string, member: RoomMember): string | undefined {
    if (!member.pseudonymous) return member.identity === deviceUri ? undefined : `that is not this device (${deviceUri})`;
    const client = this.store.pseudonymByClient(member.identity);
    if (!client || client.device_uri !== deviceUri) return `${member.identity} is not a client pseudonym issued to this device`;
    if (client.state !== 'active') return `${member.identity} is retired`;
    return this.userPseudonymProblem(client.user_id, member.user);
  }

  /** Why `userPseudonym` is not an active user pseudonym of account `userId` (undefined: it is). */
  userPseudonymProblem(userId: number | undefined, userPseudonym: string): string | undefined {
    const row = this.store.pseudonymByUser(userPseudonym);
    if (!row || row.user_id !== userId) return `${userPseudonym} is not one of your user pseudonyms`;
    return row.state === 'active' ? undefined : `${userPseudonym} is retired`;
  }

  /**
   * Who `actor` speaks as when it says `asPseudonym` (or nothing): its account's user URI, or an
   * active user pseudonym of its account. Throws 400 otherwise.
   */
  actingUser(actor: DeviceActor, asPseudonym: string | undefined): string {
    if (asPseudonym === undefined) return actor.userUri;
    if (parseMimiUriAs('pseudonym', asPseudonym)?.domain !== this.domain) {
      throw badRequest(`field "asPseudonym" must be a pseudonym of this provider (mimi://${this.domain}/p/...), not ${JSON.stringify(asPseudonym)}`);
    }
    const problem = this.userPseudonymProblem(this.store.accountOfDevice(actor.deviceUri), asPseudonym);
    if (problem) throw badRequest(problem);
    return asPseudonym;
  }

  /**
   * The member `actor`'s device acts as in a room whose members are `members`: the device itself
   * (no `asPseudonym`), or its client pseudonym whose user is `asPseudonym`. A PrivateMessage hides
   * its sender, so a device in a room as a pseudonym must say which one it sends as.
   */
  actingMember(roomUri: string, members: readonly RoomMember[], actor: DeviceActor, asPseudonym: string | undefined): RoomMember {
    const user = this.actingUser(actor, asPseudonym);
    const own = members.filter((m) => this.isDevicesIdentity(m.identity, actor.deviceUri));
    const member = own.find((m) => m.user === user);
    if (!member) {
      if (asPseudonym === undefined && own.some((m) => m.pseudonymous)) {
        throw badRequest(`${actor.deviceUri} is in ${roomUri} as a pseudonym: name the user pseudonym it acts as (asPseudonym)`);
      }
      throw new ApiFailure('notMember', `${actor.deviceUri} is not a member device of ${roomUri}${asPseudonym === undefined ? '' : ` as ${asPseudonym}`}`);
    }
    const problem = this.ownershipProblem(actor.deviceUri, member);
    if (problem) throw new ApiFailure('notAllowed', `${actor.deviceUri} cannot act as ${member.identity} in ${roomUri}: ${problem}`);
    return member;
  }
}
