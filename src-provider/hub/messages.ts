// Application messages to a hosted room. A PrivateMessage hides its sender from the hub, so the
// hub takes the sender from the transport: one of our devices (the member it is in the room as:
// itself, or the client pseudonym whose user it names in asPseudonym), or a follower provider
// speaking for one of its users or user pseudonyms (SubmitMessageRequest.sendingUri).

import { bytesEqual, toB64 } from '../../src-shared/bytes.js';
import { frankingTagOf, makeFrank } from '../../src-shared/franking.js';
import { encodeFrank, type Frank } from '../../src-shared/mimi-protocol.js';
import { MAX_MESSAGE_BYTES, type SendMessageResponse } from '../../src-shared/provider-api.js';
import { checkMessage, denialText } from '../../src-shared/room-commit.js';
import type { RoomState } from '../../src-shared/room-state.js';
import { ApiFailure, badRequest } from '../errors.js';
import { isPartyUri } from '../room-members.js';
import type { HubCore, HubSource, MessageInput } from './core.js';
import { checkGroup, decodeState, digest, domainOf, peek } from './mls-input.js';
import { fanout } from './routing.js';

/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, the only suite rooms here use. */
const FRANKING_CIPHERSUITE = 1;

export function acceptMessage(hub: HubCore, source: HubSource, roomUri: string, input: MessageInput): SendMessageResponse {
  if (input.message.length > MAX_MESSAGE_BYTES) {
    throw new ApiFailure('tooLarge', `message is ${input.message.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
  }
  const info = peek(input.message, 'message');
  if (info.wireFormat !== 'private') throw badRequest(`message must be a PrivateMessage, got ${info.wireFormat}`);
  if (info.contentType !== 'application') {
    throw badRequest(`message carries ${info.contentType} content; only application messages are accepted here`);
  }
  checkGroup(info, roomUri, 'message');
  const local = source.kind === 'device' ? source.actor : undefined;
  // A peer speaks only for its own users, and that is checked before the replay lookup below:
  // otherwise any provider could have an accepted message "accepted" again in someone's name.
  if (source.kind === 'peer') {
    const user = input.sendingUri ?? '';
    if (!isPartyUri(user) || domainOf(user) !== source.domain) {
      throw new ApiFailure('notAllowed', `sendingUri ${JSON.stringify(user)} is not a user of ${source.domain}`);
    }
  }
  const messageDigest = digest(input.message);

  return hub.write((queued) => {
    if (local && input.requestId) {
      const done = hub.store.idempotentResponse(local.deviceUri, 'message', input.requestId);
      if (done) return { ...(JSON.parse(done) as SendMessageResponse), duplicate: true };
    }
    const room = hub.requireRoom(roomUri);
    // (Local devices are deduplicated by request id, above.)
    const seen = local ? undefined : hub.store.acceptedByDigest(roomUri, messageDigest);
    if (seen && seen.kind === 'message') return { acceptedTimestamp: seen.accepted_ts, duplicate: true };
    const members = hub.members(roomUri);
    let sender: string;
    let senderUser: string;
    if (local) {
      const member = hub.identities.actingMember(roomUri, members, local, input.asPseudonym);
      sender = member.identity;
      senderUser = member.user;
    } else {
      const user = input.sendingUri!; // a user or user pseudonym of the peer's domain (checked above)
      const knocking = members.find((m) => m.user === user && hub.joinLinks?.isKnocker(roomUri, m.identity));
      if (!knocking && (!hub.store.isParticipant(roomUri, user) || !members.some((m) => m.user === user))) {
        throw new ApiFailure('notAllowed', `${user} is not an active participant of ${roomUri}`);
      }
      sender = knocking?.identity ?? user;
      senderUser = user;
    }
    // Franking (draft-ietf-mimi-protocol-06): in a room whose franking_agent is ours, every message
    // carries a franking tag in its Safe AAD, and the hub stamps it with a Frank for this sender,
    // room and acceptance time. The frank goes back to the sender and out with the message.
    const current = room.room_state ? storedState(hub, roomUri, room.room_state) : undefined;
    const frankFor = franker(hub, current, info.authenticatedData ?? new Uint8Array(), senderUser, roomUri);
    // A knock room's knocker (joined by its knock link, not on the list) sends one message, the
    // knock, and only the room's listed members (its admins) get it: other knockers never do.
    const knock = hub.joinLinks?.isKnocker(roomUri, sender) ? hub.joinLinks : undefined;
    if (knock) {
      knock.acceptKnock(roomUri, sender);
      const listed = new Set(hub.store.participants(roomUri));
      const ts = acceptanceTime(hub, roomUri);
      const frank = frankFor(ts);
      const eventId = hub.store.insertEvent({ room_uri: roomUri, kind: 'message', epoch: info.epoch!, sender_device: sender, payload: input.message, accepted_ts: ts, frank: frank && encodeFrank(frank) });
      const admins = members.filter((m) => listed.has(m.user)).map((m) => m.identity);
      fanout(hub, roomUri, eventId, admins, { timestamp: BigInt(ts), message: input.message, kind: 'application', ...(frank ? { frank } : {}) }, queued);
      hub.store.recordAccepted(roomUri, messageDigest, 'message', info.epoch!, ts);
      const response: SendMessageResponse = { acceptedTimestamp: ts, duplicate: false, ...(frank ? { frank: toB64(encodeFrank(frank)) } : {}) };
      if (local && input.requestId) hub.store.recordResponse(local.deviceUri, 'message', input.requestId, JSON.stringify(response), ts);
      return response;
    }
    const epoch = BigInt(room.epoch);
    const msgEpoch = info.epoch!;
    // Checked against the state of the epoch the message names (one epoch of grace, below).
    const stateThen = msgEpoch + 1n === epoch && room.prev_room_state ? room.prev_room_state : room.room_state;
    if (stateThen) {
      // A muted or banned user's messages stop here (negative policy: the hub can read who sent
      // it from the transport, not from the PrivateMessage).
      const verdict = checkMessage(stateThen === room.room_state && current ? current : storedState(hub, roomUri, stateThen), senderUser);
      if (!verdict.ok) throw new ApiFailure('notAllowed', `the room policy forbids this message: ${denialText(verdict)}`);
    }
    // One epoch of grace: a message encrypted just before a commit landed is still delivered.
    if (msgEpoch + 1n < epoch) {
      throw new ApiFailure('epochTooOld', `message is from epoch ${msgEpoch}; the room is at epoch ${epoch}`, { currentEpoch: epoch });
    }
    if (msgEpoch > epoch) {
      throw new ApiFailure('notAllowed', `message is from epoch ${msgEpoch}, ahead of the room's epoch ${epoch}`, { status: 400, currentEpoch: epoch });
    }
    const ts = acceptanceTime(hub, roomUri);
    const frank = frankFor(ts);
    const eventId = hub.store.insertEvent({ room_uri: roomUri, kind: 'message', epoch: msgEpoch, sender_device: sender, payload: input.message, accepted_ts: ts, frank: frank && encodeFrank(frank) });
    // A follower's own member is filtered out by that follower (it knows which device sent it); a
    // follower whose only member in the room is the sender gets nothing.
    let recipients = members.map((m) => m.identity).filter((d) => d !== sender);
    if (source.kind === 'peer') {
      const atOrigin = members.filter((m) => domainOf(m.identity) === source.domain);
      if (atOrigin.length === 1) recipients = recipients.filter((d) => d !== atOrigin[0].identity);
    }
    fanout(hub, roomUri, eventId, recipients, { timestamp: BigInt(ts), message: input.message, kind: 'application', ...(frank ? { frank } : {}) }, queued);
    hub.store.recordAccepted(roomUri, messageDigest, 'message', msgEpoch, ts);
    const response: SendMessageResponse = { acceptedTimestamp: ts, duplicate: false, ...(frank ? { frank: toB64(encodeFrank(frank)) } : {}) };
    if (local && input.requestId) hub.store.recordResponse(local.deviceUri, 'message', input.requestId, JSON.stringify(response), ts);
    return response;
  });
}

/** The last stored room states decoded, by hub and room (a room's state changes once per epoch at most). */
const decodedStates = new WeakMap<HubCore, Map<string, { bytes: Uint8Array; state: RoomState }[]>>();
const DECODED_STATES_MAX = 1024;

/**
 * decodeState of a room's stored state, decoded once per distinct state: kept with the bytes it came
 * from and used only for the same bytes (a room has its current and its previous epoch's state), so
 * no commit, rollback or other writer can make it serve a state the room no longer has.
 */
function storedState(hub: HubCore, roomUri: string, bytes: Uint8Array): RoomState {
  let rooms = decodedStates.get(hub);
  if (!rooms) decodedStates.set(hub, (rooms = new Map()));
  const kept = rooms.get(roomUri) ?? [];
  for (const k of kept) if (Buffer.compare(k.bytes, bytes) === 0) return k.state;
  const state = decodeState(bytes, 'stored room state');
  if (rooms.size >= DECODED_STATES_MAX) rooms.clear();
  // The current and the previous epoch's state: the two a message may be checked against.
  rooms.set(roomUri, [{ bytes: new Uint8Array(bytes), state }, ...kept].slice(0, 2));
  return state;
}

/** The acceptance time last given to a message of each room, by hub. */
const lastAccepted = new WeakMap<HubCore, Map<string, number>>();

/**
 * The acceptance time of a room's next message: now, but always later than the room's previous one
 * (by 1 ms when the clock has not moved on). Members order a room's timeline by acceptance time,
 * then message ID, so the messages of one batch or one group commit, accepted in the same
 * millisecond, would otherwise be shown in message ID order instead of the order they were
 * accepted in. Under a sustained rate of over 1,000 messages a second in one room the times run
 * ahead of the clock by the excess (a batch of 64 at once: up to 63 ms), and fall back to it when
 * the rate drops.
 *
 * The previous time is kept in memory, per process. On SQLite that is the whole story: one node
 * accepts every message of the room (after a restart a room starts again from the clock, so a lead
 * built up just before a crash can still make a few times tie; then message ID decides). On
 * PostgreSQL several nodes accept into one room and their clocks differ, so a node whose clock is
 * behind would give a message an earlier time than the one another node just gave: there the
 * room's latest stored time (the `accepted` row each message, commit and proposal leaves, one
 * probe of index accepted_room_time) is read inside this same write transaction, and the time
 * is also later than that. Two nodes accepting into one room at once both read it; the
 * SERIALIZABLE transaction of the second then fails and runs again (store.ts tx), reading the
 * first's. So a room's times increase across nodes too; a node whose clock is behind gives times
 * just past the latest, not its own clock's.
 */
function acceptanceTime(hub: HubCore, roomUri: string): number {
  let rooms = lastAccepted.get(hub);
  if (!rooms) lastAccepted.set(hub, (rooms = new Map()));
  let ts = hub.now();
  const last = rooms.get(roomUri);
  if (last !== undefined) ts = Math.max(ts, last + 1);
  if (hub.store.dialect === 'postgres') {
    const stored = hub.store.latestAcceptedTs(roomUri);
    if (stored !== undefined) ts = Math.max(ts, stored + 1);
  }
  rooms.set(roomUri, ts);
  return ts;
}

/**
 * How the hub franks a message of this room: a function of the acceptance time giving the Frank,
 * or one giving undefined for a room without franking (made before it, or with another agent).
 * Throws badRequest, before anything is stored, for a message that should carry a tag and does not.
 */
function franker(hub: HubCore, state: RoomState | undefined, authenticatedData: Uint8Array, senderUser: string, roomUri: string): (ts: number) => Frank | undefined {
  if (!state?.frankingAgent || !hub.frankingAgent || !hub.externalSenderKey || !bytesEqual(state.frankingAgent, hub.frankingAgent)) return () => undefined;
  let tag: Uint8Array | undefined;
  try {
    tag = frankingTagOf(authenticatedData);
  } catch (e) {
    throw badRequest(`the message's authenticated data: ${(e as Error).message}`);
  }
  if (!tag) throw badRequest('this room franks its messages: the message must carry a franking tag (the frank_aad Safe AAD item)');
  const { key } = hub.frankingKey();
  const signer = hub.externalSenderKey;
  return (ts) => makeFrank({ hubKey: key, frankingPrivateKey: signer, ciphersuite: FRANKING_CIPHERSUITE, tag: tag!, context: { senderUri: senderUser, roomUri, acceptedTimestamp: BigInt(ts) } });
}
