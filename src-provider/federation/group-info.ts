// MIMI "Claim group key information" (draft-ietf-mimi-protocol-06, POST /groupInfo/{roomId}), both
// sides: a hub hands a room's GroupInfo and ratchet tree, encrypted to the requester's ephemeral
// HPKE key, to a follower whose user (or new device) joins by external commit.
//
// Serving (`serve`):
// - The GroupInfoRequest is decoded strictly and its signature checked ("GroupInfoRequestTBS");
//   malformed, unsigned or unsupported (cipher suite, HPKE key size) requests are HTTP errors.
// - The room must be hosted here, else status noSuchRoom.
// - Authorization: the requestingCredential is a BasicCredential naming a user or device URI of
//   the PEER's domain, or a user pseudonym of it ("the requesting client's real or pseudonymous
//   identity"; mTLS authenticated the peer, see provider-identity.ts) and that user is a participant
//   of the room, or the request carries a joining code the `joiningCode` hook accepts (default:
//   none is). Otherwise notAuthorized. A pseudonym's provider names the pseudonym, never its device.
// - A room whose hub holds no GroupInfo yet (no commit accepted so far) answers noSuchRoom: there
//   is no MLS group to join yet, and the requester's remedy (try again later) is the same. This is
//   decided only after authorization, so it tells an outsider nothing notAuthorized does not.
// - On success: GroupInfoRatchetTreeTBE { the stored GroupInfo, ratchet tree `full`, no pending
//   proposals (the hub accepts none between commits) } is EncryptWithLabel'ed to
//   groupInfoPublicKey ("GroupInfo and ratchet_tree encryption", context = the room_id bytes, i.e.
//   the UTF-8 room URI), and the response is signed with this provider's key, hub_sender = our
//   ExternalSender.
//
// Requesting (`fetch`): signs a request with our key and BasicCredential(requester), posts it to the
// room's hub, verifies the response signature against hub_sender.signature_key, pins that key per
// room on first use (a later change is refused: table fed_hub_senders), decrypts and returns the
// GroupInfo as an MLSMessage plus the ratchet_tree encoding: exactly what an external join needs.
// A room hosted here is answered by the same serving code, without a network round trip.

import { bytesEqual, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { parseMimiUriAs, userOfDevice } from '../../src-shared/identifiers.js';
import { MlsWireError } from '../../src-shared/mls-wire.js';
import { decryptWithLabel, encryptWithLabel, generateHpkeKeyPair, MlsCryptoError, signWithLabel, verifyWithLabel } from '../../src-shared/mls-crypto.js';
import {
  basicCredential,
  decodeGroupInfo,
  decodeRatchetTree,
  unwrapMlsMessage,
  wrapMlsMessage,
  type GroupInfo,
  type RatchetTree,
} from '../../src-shared/mls-structs.js';
import {
  decodeGroupInfoRatchetTreeTBE,
  decodeGroupInfoRequest,
  decodeGroupInfoResponse,
  encodeGroupInfoRatchetTreeTBE,
  encodeGroupInfoRequest,
  encodeGroupInfoResponse,
  GROUP_INFO_TBE_LABEL,
  groupInfoRequestTbs,
  groupInfoResponseTbs,
  MimiWireError,
  type GroupInfoRequestTBS,
  type GroupInfoResponse,
} from '../../src-shared/mimi-protocol.js';
import { ApiFailure, badRequest, decodeStrict } from '../errors.js';
import { createModuleTables, type Store } from '../store.js';
import { SUPPORTED_CIPHER_SUITE } from './key-material.js';
import { peerFailure } from './peer-client.js';
import type { PeerClient } from './peer-client.js';
import type { ProviderIdentity } from './provider-identity.js';
import type { S2sReply } from './s2s-handler.js';

export const GROUP_INFO_REQUEST_LABEL = 'GroupInfoRequestTBS';
export const GROUP_INFO_RESPONSE_LABEL = 'GroupInfoResponseTBS';
const X25519_PUBLIC_KEY_SIZE = 32;

/** Whether `code` lets `requester` (a user or user pseudonym) fetch the GroupInfo of `roomId` without being a participant. */
export type JoiningCodeHook = (roomId: string, code: Uint8Array, requester: string) => boolean;

export interface FetchedGroupInfo {
  /** Decimal u64, from the GroupInfo's GroupContext. */
  epoch: string;
  /** MLSMessage(group_info). */
  groupInfo: Uint8Array;
  /** RFC 9420 `optional<Node> ratchet_tree<V>` encoding. */
  ratchetTree: Uint8Array;
}

export interface GroupInfoServiceOptions {
  domain: string;
  store: Store;
  peerClient: Pick<PeerClient, 'post'>;
  identity: ProviderIdentity;
  joiningCode?: JoiningCodeHook;
  now?: () => number;
}

const PIN_SCHEMA = `
  CREATE TABLE IF NOT EXISTS fed_hub_senders (
    room_uri TEXT PRIMARY KEY,
    signature_key BLOB NOT NULL,   -- hub_sender.signature_key first seen for this room
    first_seen INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

const parseAs = parseMimiUriAs;

/** The user a BasicCredential names (directly, through one of its devices, or as a user pseudonym), with its domain. */
function credentialUser(req: GroupInfoRequestTBS): { user: string; domain: string } | undefined {
  const c = req.requestingCredential;
  if (c.credentialType !== 'basic') return undefined;
  let identity: string;
  try {
    identity = fromUtf8(c.identity);
  } catch {
    return undefined;
  }
  const user = parseAs('user', identity) ?? parseAs('pseudonym', identity);
  if (user) return { user: identity, domain: user.domain };
  const device = parseAs('device', identity);
  if (device) return { user: userOfDevice(identity), domain: device.domain };
  return undefined;
}

export class GroupInfoService {
  readonly domain: string;
  /** Joining codes (another issue defines them); by default no code is accepted. */
  joiningCode: JoiningCodeHook;
  private readonly store: Store;
  private readonly peerClient: Pick<PeerClient, 'post'>;
  private readonly identity: ProviderIdentity;
  private readonly now: () => number;
  private readonly s;

  constructor(opts: GroupInfoServiceOptions) {
    this.domain = opts.domain;
    this.store = opts.store;
    this.peerClient = opts.peerClient;
    this.identity = opts.identity;
    this.joiningCode = opts.joiningCode ?? (() => false);
    this.now = opts.now ?? Date.now;
    createModuleTables(this.store.db, PIN_SCHEMA);
    this.s = {
      pinned: this.store.db.prepare<[string], { signature_key: Buffer }>('SELECT signature_key FROM fed_hub_senders WHERE room_uri = ?'),
      pin: this.store.db.prepare<[string, Buffer, number]>(
        'INSERT OR IGNORE INTO fed_hub_senders (room_uri, signature_key, first_seen) VALUES (?, ?, ?)',
      ),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Serving POST /groupInfo/{roomId}

  async serve(peer: string, roomId: string, body: Uint8Array): Promise<S2sReply> {
    return { status: 200, body: encodeGroupInfoResponse(this.respond(peer, roomId, body)) };
  }

  private respond(peer: string, roomId: string, body: Uint8Array): GroupInfoResponse {
    const req = decodeStrict(decodeGroupInfoRequest, body, 'GroupInfoRequest');
    if (req.cipherSuite !== SUPPORTED_CIPHER_SUITE) throw badRequest(`cipher_suite ${req.cipherSuite} is not supported (only ${SUPPORTED_CIPHER_SUITE})`);
    if (req.groupInfoPublicKey.length !== X25519_PUBLIC_KEY_SIZE) {
      throw badRequest(`groupInfoPublicKey must be a ${X25519_PUBLIC_KEY_SIZE}-byte X25519 key`);
    }
    if (!verifyWithLabel(req.requestingSignatureKey, GROUP_INFO_REQUEST_LABEL, groupInfoRequestTbs(req), req.signature)) {
      throw new ApiFailure('notAllowed', 'GroupInfoRequest signature does not verify');
    }
    const refuse = (status: 'notAuthorized' | 'noSuchRoom'): GroupInfoResponse => ({ protocol: 'mls10', roomId, status });
    const room = parseAs('room', roomId);
    const row = room && room.domain === this.domain ? this.store.hostedRoom(roomId) : undefined;
    if (!row) return refuse('noSuchRoom');

    const who = credentialUser(req);
    const byParticipation = who !== undefined && this.store.isParticipant(roomId, who.user);
    const byCode = req.joiningCode !== undefined && who !== undefined && this.joiningCode(roomId, req.joiningCode, who.user);
    if (who === undefined || who.domain !== peer || !(byParticipation || byCode)) return refuse('notAuthorized');
    if (!row.group_info || !row.ratchet_tree) return refuse('noSuchRoom');

    // Stored by the hub from accepted commits; a failure here is our own corruption (500).
    const { wireFormat, body: giBody } = unwrapMlsMessage(new Uint8Array(row.group_info));
    if (wireFormat !== 'groupInfo') throw new Error(`room ${roomId} holds a ${wireFormat} message as its GroupInfo`);
    const groupInfo: GroupInfo = decodeGroupInfo(giBody);
    const ratchetTree: RatchetTree = decodeRatchetTree(new Uint8Array(row.ratchet_tree));
    const tbe = encodeGroupInfoRatchetTreeTBE({ groupInfo, ratchetTreeOption: { representation: 'full', ratchetTree }, pendingProposals: [] });
    const encryptedGroupInfoAndTree = encryptWithLabel(req.groupInfoPublicKey, GROUP_INFO_TBE_LABEL, utf8(roomId), tbe);
    const unsigned = {
      protocol: 'mls10' as const,
      roomId,
      status: 'success' as const,
      cipherSuite: SUPPORTED_CIPHER_SUITE,
      hubSender: this.identity.externalSender,
      encryptedGroupInfoAndTree,
    };
    const signature = signWithLabel(
      this.identity.signaturePrivateKey,
      GROUP_INFO_RESPONSE_LABEL,
      groupInfoResponseTbs({ ...unsigned, signature: new Uint8Array() }),
    );
    return { ...unsigned, signature };
  }

  // ---------------------------------------------------------------------------------------------
  // Requesting

  /**
   * The GroupInfo and ratchet tree of `roomUri` from its hub, for our user or device `requester`
   * to join by external commit. Refusals: ApiFailure notMember (notAuthorized), roomUnknown
   * (noSuchRoom); an unreachable hub: peerUnreachable, 502; an answer that does not verify:
   * internal, 502.
   */
  async fetch(roomUri: string, requester: string, opts: { joiningCode?: Uint8Array } = {}): Promise<FetchedGroupInfo> {
    const room = parseAs('room', roomUri);
    if (!room) throw badRequest(`${JSON.stringify(roomUri)} is not a room URI`);
    const who = parseAs('user', requester) ?? parseAs('device', requester) ?? parseAs('pseudonym', requester);
    if (!who || who.domain !== this.domain) throw badRequest(`requester must be a user URI, device URI or user pseudonym of ${this.domain}`);
    const hub = room.domain;

    const hpke = generateHpkeKeyPair();
    const tbs: GroupInfoRequestTBS = {
      protocol: 'mls10',
      cipherSuite: SUPPORTED_CIPHER_SUITE,
      requestingSignatureKey: this.identity.signaturePublicKey,
      requestingCredential: basicCredential(requester),
      groupInfoPublicKey: hpke.publicKey,
      ...(opts.joiningCode !== undefined ? { joiningCode: opts.joiningCode } : {}),
    };
    const request = encodeGroupInfoRequest({
      ...tbs,
      signature: signWithLabel(this.identity.signaturePrivateKey, GROUP_INFO_REQUEST_LABEL, groupInfoRequestTbs(tbs)),
    });

    let body: Uint8Array;
    if (hub === this.domain) body = (await this.serve(this.domain, roomUri, request)).body!;
    else {
      try {
        body = (await this.peerClient.post(hub, 'groupInfo', roomUri, request)).body;
      } catch (e) {
        throw peerFailure(e, `GroupInfo of ${roomUri}`);
      }
    }

    const bad = (why: string) => new ApiFailure('internal', `hub ${hub} sent an unusable GroupInfoResponse for ${roomUri}: ${why}`, { status: 502 });
    let res: GroupInfoResponse;
    try {
      res = decodeGroupInfoResponse(body);
    } catch (e) {
      if (e instanceof MimiWireError) throw bad(e.message);
      throw e;
    }
    if (res.roomId !== roomUri) throw bad(`it is for room ${res.roomId}`);
    if (res.status === 'notAuthorized') throw new ApiFailure('notMember', `hub ${hub} does not let ${requester} fetch the GroupInfo of ${roomUri}`);
    if (res.status === 'noSuchRoom') throw new ApiFailure('roomUnknown', `hub ${hub} has no room ${roomUri} (or no GroupInfo for it yet)`);
    if (res.cipherSuite !== SUPPORTED_CIPHER_SUITE) throw bad(`cipher_suite ${res.cipherSuite}`);
    const hubKey = res.hubSender.signatureKey;
    if (!verifyWithLabel(hubKey, GROUP_INFO_RESPONSE_LABEL, groupInfoResponseTbs(res), res.signature)) {
      throw bad('the signature does not verify against hub_sender');
    }
    const pinned = this.s.pinned.get(roomUri);
    if (pinned && !bytesEqual(new Uint8Array(pinned.signature_key), hubKey)) {
      throw bad('hub_sender is not the key this hub used for this room before');
    }

    let plaintext: Uint8Array;
    try {
      plaintext = decryptWithLabel(
        hpke.privateKey,
        GROUP_INFO_TBE_LABEL,
        utf8(roomUri),
        res.encryptedGroupInfoAndTree.kemOutput,
        res.encryptedGroupInfoAndTree.ciphertext,
      );
    } catch (e) {
      if (e instanceof MlsCryptoError) throw bad(e.message);
      throw e;
    }
    let groupInfo: Uint8Array;
    let ratchetTree: Uint8Array;
    let epoch: bigint;
    try {
      const tbe = decodeGroupInfoRatchetTreeTBE(plaintext);
      if (tbe.ratchetTreeOption.representation !== 'full') {
        throw bad(`ratchet tree representation ${tbe.ratchetTreeOption.representation} is not supported`);
      }
      const ctx = tbe.groupInfo.groupContext;
      if (!bytesEqual(ctx.groupId, utf8(roomUri))) throw bad('the GroupInfo is for another group');
      if (ctx.cipherSuite !== SUPPORTED_CIPHER_SUITE) throw bad(`the group uses cipher suite ${ctx.cipherSuite}`);
      groupInfo = wrapMlsMessage('groupInfo', tbe.groupInfo.raw);
      ratchetTree = tbe.ratchetTreeOption.ratchetTree.raw;
      epoch = ctx.epoch;
    } catch (e) {
      if (e instanceof MimiWireError || e instanceof MlsWireError) throw bad(e.message);
      throw e;
    }
    if (!pinned) this.s.pin.run(roomUri, Buffer.from(hubKey), this.now());
    return { epoch: epoch.toString(), groupInfo, ratchetTree };
  }
}
