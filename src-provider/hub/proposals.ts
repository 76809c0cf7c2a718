// Standalone proposals: a member's Removes of its own user's members (how a user leaves: MLS does
// not let a client commit its own removal), and the hub's own Removes as the room's external sender
// (a deleted account's devices and client pseudonyms). The hub keeps them pending, fans them out in
// order, and the next commit must include them.

import { peekProposal } from '../../src-shared/mls-wire.js';
import { externalRemoveProposal } from '../../src-shared/external-proposal.js';
import { parseMimiUri } from '../../src-shared/identifiers.js';
import { checkDeparture, denialText } from '../../src-shared/room-commit.js';
import { ApiFailure, badRequest } from '../errors.js';
import { treeMembers, type RoomMember } from '../room-members.js';
import type { HubActor, HubCore, HubSource } from './core.js';
import { checkGroup, decodeState, digest, domainOf, peek, publicMessageOf, verifyHandshake } from './mls-input.js';
import { fanout } from './routing.js';

/** The room's current tree by leaf index (the stored members' order for a room created without one). */
function currentLeaves(hub: HubCore, roomUri: string, members: RoomMember[]): (RoomMember | undefined)[] {
  const tree = hub.requireRoom(roomUri).ratchet_tree;
  return tree ? treeMembers(tree, 'stored ratchet tree') : members;
}

export function acceptProposals(hub: HubCore, source: HubSource, roomUri: string, proposals: Uint8Array[]): { acceptedTimestamp: number } {
  if (proposals.length === 0) throw badRequest('no proposals');
  const parsed = proposals.map((p, i) => {
    const info = peek(p, `proposals[${i}]`);
    if (info.wireFormat !== 'public' || info.contentType !== 'proposal') throw badRequest(`proposals[${i}] is not a PublicMessage proposal`);
    checkGroup(info, roomUri, `proposals[${i}]`);
    if (info.senderType !== 'member') throw new ApiFailure('notAllowed', `proposals[${i}] is from a ${info.senderType} sender, not a member`);
    let body;
    try {
      body = peekProposal(p);
    } catch (e) {
      throw badRequest(`proposals[${i}] is malformed: ${(e as Error).message}`);
    }
    if (body.removed === undefined) throw new ApiFailure('notAllowed', `proposals[${i}]: this hub accepts only Remove proposals from members (proposal type ${body.proposalType})`);
    return { info, removed: body.removed, digest: digest(p), message: publicMessageOf(p, `proposals[${i}]`) };
  });
  const local = source.kind === 'device' ? source.actor : undefined;
  return hub.write((queued) => {
    const room = hub.requireRoom(roomUri);
    const epoch = BigInt(room.epoch);
    const seen = local ? undefined : hub.store.acceptedByDigest(roomUri, parsed[0].digest);
    if (seen && seen.kind === 'proposal') return { acceptedTimestamp: seen.accepted_ts };
    const members = hub.members(roomUri);
    const leaves = currentLeaves(hub, roomUri, members);
    let sender: RoomMember | undefined;
    const removing = new Set<string>();
    for (const [i, p] of parsed.entries()) {
      if (p.info.epoch !== epoch) {
        throw new ApiFailure('wrongEpoch', `proposals[${i}] is for epoch ${p.info.epoch}, the room is at epoch ${epoch}`, { currentEpoch: epoch });
      }
      // Signed by the member it names, over the current epoch's GroupContext (the stored GroupInfo's).
      verifyHandshake(room, p.message, `proposals[${i}]`);
      const from = leaves[p.info.senderLeafIndex ?? -1];
      if (!from || (sender && from.identity !== sender.identity)) throw badRequest(`proposals[${i}] is not signed by the same member device as the others`);
      sender = from;
      const target = leaves[p.removed];
      if (!target) throw badRequest(`proposals[${i}] removes leaf ${p.removed}, which holds no member device`);
      if (target.user !== from.user) throw new ApiFailure('notAllowed', `${from.user} may only propose removing their own devices, not ${target.identity}`);
      removing.add(target.identity);
    }
    // A retired pseudonym may still leave: only the device behind it is asked for.
    if (local && !hub.identities.isDevicesIdentity(sender!.identity, local.deviceUri)) {
      throw new ApiFailure('notAllowed', `the proposals are signed by ${sender!.identity}, not by this device`);
    }
    if (source.kind === 'peer' && domainOf(sender!.identity) !== source.domain) {
      throw new ApiFailure('notAllowed', `${source.domain} cannot submit proposals signed by ${sender!.identity}`);
    }
    if (room.room_state) {
      // Leaving (all of one's members) is canRemoveSelf, dropping some of them canRemoveOwnClient.
      const user = sender!.user;
      const all = members.filter((m) => m.user === user).every((m) => removing.has(m.identity));
      const verdict = checkDeparture(decodeState(room.room_state, 'stored room state'), user, all);
      if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids these proposals: ${denialText(verdict)}`);
    }
    const ts = hub.now();
    for (const p of parsed) hub.store.addPendingRemoval(roomUri, leaves[p.removed]!.identity, ts);
    // Our devices get each proposal as its own handshake event; followers get one FanoutMessage
    // whose moreProposals is the rest, as the draft asks.
    const recipients = members.map((m) => m.identity).filter((d) => d !== sender!.identity);
    const localRecipients = recipients.filter((d) => domainOf(d) === hub.domain);
    for (const [i, p] of proposals.entries()) {
      const event = hub.store.insertEvent({ room_uri: roomUri, kind: 'commit', epoch, sender_device: sender!.identity, payload: p, accepted_ts: ts });
      if (i === 0) {
        fanout(hub, roomUri, event, recipients, { timestamp: BigInt(ts), message: p, kind: 'proposal', moreProposals: proposals.slice(1) }, queued);
      } else {
        fanout(hub, roomUri, event, localRecipients, { timestamp: BigInt(ts), message: p, kind: 'proposal', moreProposals: [] }, queued);
      }
    }
    hub.store.recordAccepted(roomUri, parsed[0].digest, 'proposal', epoch, ts);
    return { acceptedTimestamp: ts };
  });
}

/**
 * Have the members `identities` leave the room: the hub records them and proposes their removal
 * (signed as the room's external sender) in the current epoch; the next commit must include it.
 */
export function proposeRemoval(hub: HubCore, roomUri: string, identities: string[]): void {
  hub.write((queued) => {
    hub.requireRoom(roomUri);
    const now = hub.now();
    const fresh = identities.filter((d) => !hub.store.pendingRemovals(roomUri).includes(d));
    for (const d of fresh) hub.store.addPendingRemoval(roomUri, d, now, true);
    // Only the new ones: those already pending were proposed in this epoch (by us or a member),
    // and a second Remove of one leaf would make every commit invalid.
    proposePendingRemovals(hub, roomUri, queued, new Set(fresh));
  });
}

/**
 * The members an account has in rooms hosted here, by room: its devices and its client
 * pseudonyms. Read before the account is deleted (its pseudonyms go with it).
 */
export function hostedMembersOfAccount(hub: HubCore, actor: HubActor): Map<string, string[]> {
  const p = parseMimiUri(actor.userUri);
  return hub.store.hostedMembersOfAccount(`mimi://${p.domain}/d/${p.handle}/`, hub.store.accountOfDevice(actor.deviceUri) ?? -1);
}

/**
 * Proposes, for the room's current epoch, the Removes still pending (or only those in `only`);
 * forgets those done. After a commit every pending one is proposed again: proposals do not outlive
 * their epoch.
 */
export function proposePendingRemovals(hub: HubCore, roomUri: string, queued: Set<string>, only?: Set<string>): void {
  const pending = hub.store.pendingRemovals(roomUri).filter((d) => !only || only.has(d));
  if (pending.length === 0) return;
  const room = hub.requireRoom(roomUri);
  const members = hub.members(roomUri);
  const leaves = currentLeaves(hub, roomUri, members);
  const ts = hub.now();
  for (const d of pending) {
    const leaf = leaves.findIndex((m) => m?.identity === d);
    if (leaf < 0) {
      hub.store.donePendingRemoval(roomUri, d);
      continue;
    }
    if (!hub.externalSenderKey) continue;
    const proposal = externalRemoveProposal({ groupId: roomUri, epoch: BigInt(room.epoch), senderIndex: 0, removed: leaf, signingKey: hub.externalSenderKey });
    // Handshake messages share the 'commit' event kind: clients process both in epoch order.
    const event = hub.store.insertEvent({ room_uri: roomUri, kind: 'commit', epoch: BigInt(room.epoch), sender_device: `mimi://${hub.domain}`, payload: proposal, accepted_ts: ts });
    fanout(hub, roomUri, event, members.map((m) => m.identity), { timestamp: BigInt(ts), message: proposal, kind: 'proposal', moreProposals: [] }, queued);
  }
}
