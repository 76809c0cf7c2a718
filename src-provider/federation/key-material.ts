// MIMI "Fetch Key Material" (draft-ietf-mimi-protocol-06, POST /keyMaterial/{targetUser}), both
// sides, plus our bulk extension.
//
// Serving (`serve`), for a request from the authenticated peer provider `peer`:
// - The body is decoded strictly and its signature checked (SignWithLabel "KeyMaterialRequestTBS"
//   with the key in the body; see provider-identity.ts for why that key is the sending provider's).
//   Any malformed, unsigned, mis-addressed or unauthorized request is refused with an HTTP error
//   before anything is spent; in a bulk request one bad entry refuses the whole bulk.
// - Authorization: the requesting user belongs to the peer's domain, or the room does (a hub
//   forwarding a follower's request). When the room is hosted HERE, the requesting user must also
//   be one of its participants, so nobody can drain KeyPackages through a hub by naming its rooms.
// - Target user local: one KeyPackage per device (oldest single-use first, the last-resort one only
//   when none is left, never an expired one, each checked against acceptableCiphersuites and
//   requiredCapabilities), all in ONE store transaction, each hand-out recorded by KeyPackageRef
//   for the room so our Welcome routing finds the device. A device whose leaf is the requester's
//   own device (credential names it) is skipped, as in the client-API claim.
// - Target user remote, room hosted here: we are the hub. The signed request is forwarded to the
//   target's provider unchanged, the answer checked (every client must be a device of the target
//   user, on the target's domain) and every KeyPackageRef recorded as room -> client URI, whose
//   domain is where the hub later sends the Welcome.
// - Anything else: userUnknown (we neither serve nor host it).
// - Pseudonyms (mimi://D/p/...) may stand wherever a user does, as requestingUser and as
//   targetUser. A local pseudonym target is served only its ordinary KeyPackages (never
//   connection-only ones: the connection flow carries those end to end), only when the requester
//   is a pseudonym too (rooms of pseudonyms), without consent (knowing the pseudonym is the
//   capability); its one client is listed by its client pseudonym, never a device. A real
//   requester, a retired or an unknown pseudonym get the unknown user's answer
//   (key-packages.ts claimPseudonym). A pseudonym requester's credential must name the
//   pseudonym itself: nothing links it to a device.
//
// User codes: success = material for every device; partialSuccess = for some; noCompatibleMaterial
// = for none (clients listed with their codes, which the draft allows; also used for a user with no
// devices); incompatibleProtocol = ciphersuite 1 not acceptable; consent codes from the `consent`
// hook. The last-resort KeyPackage is the one deliberate exception to "material from one response
// MUST NOT be provided in any other" (RFC 9420 16.8).
//
// BULK (PROJECT EXTENSION, draft-mahy-mimi-transport-design-reqs 3.1): `POST /keyMaterial/mimi://D`
// (param = a provider URI, no path) carries a BulkKeyMaterialRequest whose targets are all users of
// D; the BulkKeyMaterialResponse lists the responses in request order. At most
// MAX_BULK_REQUESTS entries. A hub forwards a bulk for another domain as one bulk request.
//
// Requesting (`claimForRoom`): when the room is hosted here, one request per other target domain
// goes straight to that provider (single KeyMaterialRequest for one user, else a bulk) and every
// returned KeyPackageRef is recorded; when the room is hosted elsewhere, everything (our own users
// too) goes to the room's hub, one request per target domain, and the hub records.

import { fromUtf8, toB64 } from '../../src-shared/bytes.js';
import { parseMimiUri, parseMimiUriAs, userOfDevice } from '../../src-shared/identifiers.js';
import { signWithLabel, verifyWithLabel } from '../../src-shared/mls-crypto.js';
import {
  basicCredential,
  decodeKeyPackage,
  decodeRequiredCapabilities,
  encodeRequiredCapabilities,
  keyPackageRef,
  unwrapMlsMessage,
  wrapMlsMessage,
  type Fields,
  type KeyPackage,
  type RequiredCapabilities,
} from '../../src-shared/mls-structs.js';
import {
  decodeBulkKeyMaterialRequest,
  decodeBulkKeyMaterialResponse,
  decodeKeyMaterialRequest,
  decodeKeyMaterialResponse,
  encodeBulkKeyMaterialRequest,
  encodeBulkKeyMaterialResponse,
  encodeKeyMaterialRequest,
  encodeKeyMaterialResponse,
  keyMaterialRequestTbs,
  MimiWireError,
  type ClientKeyMaterial,
  type KeyMaterialRequest,
  type KeyMaterialRequestTBS,
  type KeyMaterialResponse,
} from '../../src-shared/mimi-protocol.js';
import type { ClaimResponse, KeyMaterialUserCode } from '../../src-shared/provider-api.js';

export { peerFailure } from './peer-client.js';
import { ApiFailure, badRequest, decodeStrict } from '../errors.js';
import type { DeviceClaimOutcome, KeyPackages, KeyPackageVerdict } from '../key-packages.js';
import type { Store } from '../store.js';
import { peerFailure, type PeerClient } from './peer-client.js';
import type { ProviderIdentity } from './provider-identity.js';
import type { S2sReply } from './s2s-handler.js';

/** One user's result, in the client API's shape. */
export type ClaimResult = ClaimResponse['results'][number];

export type ConsentDecision = 'ok' | 'noConsent' | 'noConsentForThisRoom';
/** Whether `requestingUser` may fetch `targetUser`'s KeyPackages for `roomId` (another issue fills this in). */
export type ConsentHook = (requestingUser: string, targetUser: string, roomId: string) => ConsentDecision;

export const KEY_MATERIAL_SIGNATURE_LABEL = 'KeyMaterialRequestTBS';
export const SUPPORTED_CIPHER_SUITE = 1;
/** Entries in one bulk request (the body limit bounds it anyway). */
export const MAX_BULK_REQUESTS = 1000;

/** RFC 9420 7.2: extension types 1-5 and proposal types 1-7 are supported without being listed. */
const DEFAULT_EXTENSION_TYPES = new Set([1, 2, 3, 4, 5]);
const DEFAULT_PROPOSAL_TYPES = new Set([1, 2, 3, 4, 5, 6, 7]);

export const EMPTY_REQUIRED_CAPABILITIES: Fields<RequiredCapabilities> = { extensionTypes: [], proposalTypes: [], credentialTypes: [] };

/** `mimi://<domain>`: the provider URI that names a bulk request's target domain. */
export const providerUri = (domain: string): string => `mimi://${domain}`;

/** The domain of a provider URI `mimi://<domain>` (no path), else undefined. */
export function parseProviderUri(s: string): string | undefined {
  const m = /^mimi:\/\/([^/]+)$/.exec(s);
  if (!m) return undefined;
  try {
    return parseMimiUri(`mimi://${m[1]}/u/x`).domain; // reuse the strict domain check
  } catch {
    return undefined;
  }
}

/** A peer's answer that does not make sense. */
const badPeerAnswer = (domain: string, what: string, why: string): ApiFailure =>
  new ApiFailure('internal', `provider ${domain} sent an unusable ${what}: ${why}`, { status: 502 });

const parseAs = parseMimiUriAs;
/** A user URI or a pseudonym (either may request or be claimed). */
const parseParty = (uri: string) => parseAs('user', uri) ?? parseAs('pseudonym', uri);


function credentialIdentity(req: KeyMaterialRequestTBS): string | undefined {
  const c = req.requesterCredential;
  if (c.credentialType !== 'basic') return undefined;
  try {
    return fromUtf8(c.identity);
  } catch {
    return undefined;
  }
}

/** Judges a stored KeyPackage (MLSMessage) for a request: ciphersuite, lifetime, required capabilities. */
export function judgeKeyPackage(
  mlsMessage: Uint8Array,
  acceptableCiphersuites: readonly number[],
  required: Fields<RequiredCapabilities>,
  nowSeconds: bigint,
): KeyPackageVerdict {
  let kp: KeyPackage;
  try {
    const { wireFormat, body } = unwrapMlsMessage(mlsMessage);
    if (wireFormat !== 'keyPackage') return 'unusable';
    kp = decodeKeyPackage(body);
  } catch {
    return 'unusable';
  }
  const src = kp.leafNode.source;
  if (src.type !== 'key_package' || src.lifetime.notAfter < nowSeconds) return 'unusable';
  if (!acceptableCiphersuites.includes(kp.cipherSuite)) return 'incompatible';
  const caps = kp.leafNode.capabilities;
  const ok =
    required.extensionTypes.every((t) => DEFAULT_EXTENSION_TYPES.has(t) || caps.extensions.includes(t)) &&
    required.proposalTypes.every((t) => DEFAULT_PROPOSAL_TYPES.has(t) || caps.proposals.includes(t)) &&
    required.credentialTypes.every((t) => caps.credentials.includes(t));
  return ok ? 'ok' : 'incompatible';
}

export interface KeyMaterialServiceOptions {
  domain: string;
  store: Store;
  keyPackages: KeyPackages;
  peerClient: Pick<PeerClient, 'post'>;
  identity: ProviderIdentity;
  now?: () => number;
  consent?: ConsentHook;
}

/** How one validated request is answered. */
type Route = 'local' | 'forward' | 'unknown' | 'incompatible';

interface Checked {
  req: KeyMaterialRequest;
  route: Route;
  /** The requester's device when the credential names one (skipped among the target's devices). */
  requesterDevice?: string;
}

export class KeyMaterialService {
  readonly domain: string;
  /** Consent check before any KeyPackage is spent; 'ok' for everyone until the consent work lands. */
  consent: ConsentHook;
  private readonly store: Store;
  private readonly keyPackages: KeyPackages;
  private readonly peerClient: Pick<PeerClient, 'post'>;
  private readonly identity: ProviderIdentity;
  private readonly now: () => number;

  constructor(opts: KeyMaterialServiceOptions) {
    this.domain = opts.domain;
    this.store = opts.store;
    this.keyPackages = opts.keyPackages;
    this.peerClient = opts.peerClient;
    this.identity = opts.identity;
    this.now = opts.now ?? Date.now;
    this.consent = opts.consent ?? (() => 'ok');
  }

  // ---------------------------------------------------------------------------------------------
  // Serving POST /keyMaterial/{targetUser} and the bulk form

  async serve(peer: string, param: string, body: Uint8Array): Promise<S2sReply> {
    const bulkDomain = parseProviderUri(param);
    if (bulkDomain !== undefined) {
      const bulk = decodeStrict(decodeBulkKeyMaterialRequest, body, 'BulkKeyMaterialRequest');
      if (bulk.requests.length === 0) throw badRequest('BulkKeyMaterialRequest has no requests');
      if (bulk.requests.length > MAX_BULK_REQUESTS) throw badRequest(`BulkKeyMaterialRequest has over ${MAX_BULK_REQUESTS} requests`);
      const checked = bulk.requests.map((req, i) => this.check(peer, req, { domain: bulkDomain }, `requests[${i}]`));
      const responses = await this.answer(checked, bulkDomain, true, body);
      return { status: 200, body: encodeBulkKeyMaterialResponse({ responses }) };
    }
    if (!parseParty(param)) throw badRequest(`keyMaterial path parameter ${JSON.stringify(param)} is neither a user URI, a pseudonym nor a provider URI`);
    const req = decodeStrict(decodeKeyMaterialRequest, body, 'KeyMaterialRequest');
    const checked = this.check(peer, req, { user: param }, 'request');
    const [response] = await this.answer([checked], parseMimiUri(param).domain, false, body);
    return { status: 200, body: encodeKeyMaterialResponse(response) };
  }

  /** Everything that refuses a request outright (HTTP error, nothing spent), then its route. */
  private check(peer: string, req: KeyMaterialRequest, target: { user: string } | { domain: string }, what: string): Checked {
    const requesting = parseParty(req.requestingUser);
    const targetUser = parseParty(req.targetUser);
    const room = parseAs('room', req.roomId);
    if (!requesting) throw badRequest(`${what}: requestingUser ${JSON.stringify(req.requestingUser)} is not a user URI or pseudonym`);
    if (!targetUser) throw badRequest(`${what}: targetUser ${JSON.stringify(req.targetUser)} is not a user URI or pseudonym`);
    if (!room) throw badRequest(`${what}: roomId ${JSON.stringify(req.roomId)} is not a room URI`);
    if ('user' in target && req.targetUser !== target.user) {
      throw badRequest(`${what}: targetUser ${req.targetUser} does not match the path (${target.user})`);
    }
    if ('domain' in target && targetUser.domain !== target.domain) {
      throw badRequest(`${what}: targetUser ${req.targetUser} is not a user of ${target.domain}, the bulk request's provider`);
    }
    if (!verifyWithLabel(req.requesterSignatureKey, KEY_MATERIAL_SIGNATURE_LABEL, keyMaterialRequestTbs(req), req.signature)) {
      throw new ApiFailure('notAllowed', `${what}: key_material_request_signature does not verify`);
    }
    const identity = credentialIdentity(req);
    const device = identity !== undefined && requesting.kind === 'user' ? parseAs('device', identity) : undefined;
    const namesRequester = identity === req.requestingUser || (device !== undefined && userOfDevice(identity!) === req.requestingUser);
    if (!namesRequester) {
      throw new ApiFailure('notAllowed', `${what}: requesterCredential must be a BasicCredential naming ${req.requestingUser} or one of its devices`);
    }
    if (requesting.domain !== peer && room.domain !== peer) {
      throw new ApiFailure('notAllowed', `${what}: ${peer} may request key material only for its own users or for rooms it hosts`);
    }
    const hostedHere = this.isHostedHere(req.roomId);
    if (hostedHere && !this.store.isParticipant(req.roomId, req.requestingUser)) {
      throw new ApiFailure('notAllowed', `${what}: ${req.requestingUser} is not a participant of ${req.roomId}`);
    }
    const route: Route = !req.acceptableCiphersuites.includes(SUPPORTED_CIPHER_SUITE)
      ? 'incompatible'
      : targetUser.domain === this.domain
        ? 'local'
        : hostedHere
          ? 'forward'
          : 'unknown';
    return device ? { req, route, requesterDevice: identity } : { req, route };
  }

  private isHostedHere(roomUri: string): boolean {
    const room = parseAs('room', roomUri);
    if (!room || room.domain !== this.domain) return false;
    return this.store.hostedRoom(roomUri) !== undefined;
  }

  /**
   * Responses in request order. All targets are users of `targetDomain`. `body` is the request as
   * received: when every entry is forwarded, it is forwarded byte for byte.
   */
  private async answer(checked: Checked[], targetDomain: string, bulk: boolean, body: Uint8Array): Promise<KeyMaterialResponse[]> {
    const out: (KeyMaterialResponse | undefined)[] = checked.map((c) =>
      c.route === 'incompatible' ? this.userOnly(c.req.targetUser, 'incompatibleProtocol') : c.route === 'unknown' ? this.userOnly(c.req.targetUser, 'userUnknown') : undefined,
    );
    const local = checked.map((c, i) => [c, i] as const).filter(([c]) => c.route === 'local');
    if (local.length > 0) {
      this.store.tx(() => {
        for (const [c, i] of local) out[i] = this.serveLocal(c);
      });
    }
    const forward = checked.map((c, i) => [c, i] as const).filter(([c]) => c.route === 'forward');
    if (forward.length > 0) {
      const requests = forward.map(([c]) => c.req);
      const whole = forward.length === checked.length ? body : undefined;
      const responses = await this.send(targetDomain, requests, bulk, targetDomain, whole);
      this.recordForeignClaims(requests, responses);
      forward.forEach(([, i], k) => (out[i] = responses[k]));
    }
    return out as KeyMaterialResponse[];
  }

  private userOnly(userUri: string, userStatus: KeyMaterialUserCode): KeyMaterialResponse {
    return { protocol: 'mls10', userStatus, userUri, clients: [] };
  }

  /** Inside the store transaction. */
  private serveLocal(c: Checked): KeyMaterialResponse {
    const { req } = c;
    const now = this.now();
    const nowSeconds = BigInt(Math.floor(now / 1000));
    const judge = (kp: Uint8Array) => judgeKeyPackage(kp, req.acceptableCiphersuites, req.requiredCapabilities, nowSeconds);
    const clients: ClientKeyMaterial[] = [];
    /** One client's outcome; the claim is recorded for `clientUri` (a device, or a client pseudonym), where our Welcome routing looks. */
    const add = (clientUri: string, outcome: DeviceClaimOutcome) => {
      if (outcome.status !== 'success') {
        // Capabilities are not disclosed (the draft allows omitting them for privacy).
        clients.push({ clientStatus: outcome.status, clientUri });
        return;
      }
      this.store.recordClaim(outcome.ref, req.roomId, clientUri, req.requestingUser, now);
      clients.push({ clientStatus: 'success', clientUri, keyPackage: decodeKeyPackage(unwrapMlsMessage(outcome.keyPackage).body) });
    };
    if (parseAs('pseudonym', req.targetUser)) {
      const found = this.keyPackages.claimPseudonym(req.targetUser, req.requestingUser, judge);
      if (!found) return this.userOnly(req.targetUser, 'userUnknown');
      add(found.clientPseudonym, found.outcome);
    } else {
      const user = this.store.userByUri(req.targetUser);
      if (!user) return this.userOnly(req.targetUser, 'userUnknown');
      const consent = this.consent(req.requestingUser, req.targetUser, req.roomId);
      if (consent !== 'ok') return this.userOnly(req.targetUser, consent);
      for (const device of this.store.devicesOfUser(user.id)) {
        if (device.device_uri !== c.requesterDevice) add(device.device_uri, this.keyPackages.claimOneFor(device.device_uri, judge));
      }
    }
    const served = clients.filter((x) => x.clientStatus === 'success').length;
    const userStatus: KeyMaterialUserCode =
      served > 0 && served === clients.length ? 'success' : served > 0 ? 'partialSuccess' : 'noCompatibleMaterial';
    return { protocol: 'mls10', userStatus, userUri: req.targetUser, clients };
  }

  /**
   * Sends signed requests for users of `targetDomain` to `via` (the target itself, or a hub) and
   * returns the checked responses in request order.
   */
  private async send(
    via: string,
    requests: KeyMaterialRequest[],
    bulk: boolean,
    targetDomain: string,
    encoded?: Uint8Array,
  ): Promise<KeyMaterialResponse[]> {
    if (!bulk && requests.length !== 1) throw new Error('a single KeyMaterialRequest carries exactly one request');
    let body: Uint8Array;
    try {
      const res = bulk
        ? await this.peerClient.post(via, 'keyMaterial', providerUri(targetDomain), encoded ?? encodeBulkKeyMaterialRequest({ requests }))
        : await this.peerClient.post(via, 'keyMaterial', requests[0].targetUser, encoded ?? encodeKeyMaterialRequest(requests[0]));
      body = res.body;
    } catch (e) {
      throw peerFailure(e, `key material for users of ${targetDomain}`);
    }
    let responses: KeyMaterialResponse[];
    try {
      responses = bulk ? decodeBulkKeyMaterialResponse(body).responses : [decodeKeyMaterialResponse(body)];
    } catch (e) {
      if (e instanceof MimiWireError) throw badPeerAnswer(via, bulk ? 'BulkKeyMaterialResponse' : 'KeyMaterialResponse', e.message);
      throw e;
    }
    if (responses.length !== requests.length) {
      throw badPeerAnswer(via, 'BulkKeyMaterialResponse', `${responses.length} responses for ${requests.length} requests`);
    }
    responses.forEach((r, i) => this.checkResponse(via, requests[i], r, targetDomain));
    return responses;
  }

  private checkResponse(via: string, req: KeyMaterialRequest, res: KeyMaterialResponse, targetDomain: string): void {
    const bad = (why: string) => badPeerAnswer(via, 'KeyMaterialResponse', `for ${req.targetUser}: ${why}`);
    if (res.userUri !== req.targetUser) throw bad(`it is about ${res.userUri}`);
    const listsClients = res.userStatus === 'success' || res.userStatus === 'partialSuccess' || res.userStatus === 'noCompatibleMaterial';
    if (!listsClients && res.clients.length > 0) throw bad(`user status ${res.userStatus} must not list clients`);
    const seen = new Set<string>();
    const pseudonymTarget = parseAs('pseudonym', req.targetUser) !== undefined;
    for (const client of res.clients) {
      // A pseudonym's clients are client pseudonyms: nothing ties them to it but the answer itself.
      const ok = pseudonymTarget
        ? parseAs('pseudonym', client.clientUri)?.domain === targetDomain
        : parseAs('device', client.clientUri)?.domain === targetDomain && userOfDevice(client.clientUri) === req.targetUser;
      if (!ok) throw bad(`client ${client.clientUri} is not a ${pseudonymTarget ? 'client pseudonym' : 'device'} of ${req.targetUser}`);
      if (seen.has(client.clientUri)) throw bad(`client ${client.clientUri} is listed twice`);
      seen.add(client.clientUri);
      if (client.clientStatus === 'success' && !req.acceptableCiphersuites.includes(client.keyPackage.cipherSuite)) {
        throw bad(`client ${client.clientUri} got a KeyPackage of ciphersuite ${client.keyPackage.cipherSuite}`);
      }
    }
  }

  /** Hub bookkeeping for KeyPackages of other providers' clients: ref -> client URI, per room. */
  private recordForeignClaims(requests: KeyMaterialRequest[], responses: KeyMaterialResponse[]): void {
    const now = this.now();
    this.store.tx(() => {
      responses.forEach((res, i) => {
        for (const client of res.clients) {
          if (client.clientStatus !== 'success') continue;
          this.store.recordClaim(keyPackageRef(client.keyPackage.raw), requests[i].roomId, client.clientUri, requests[i].requestingUser, now);
        }
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Requesting

  /** A KeyMaterialRequest signed by this provider on behalf of `requestingUser`. */
  buildRequest(
    requestingUser: string,
    targetUser: string,
    roomUri: string,
    opts: { requiredCapabilities?: Fields<RequiredCapabilities>; acceptableCiphersuites?: number[] } = {},
  ): KeyMaterialRequest {
    const tbs: KeyMaterialRequestTBS = {
      protocol: 'mls10',
      requestingUser,
      targetUser,
      roomId: roomUri,
      acceptableCiphersuites: opts.acceptableCiphersuites ?? [SUPPORTED_CIPHER_SUITE],
      requiredCapabilities: decodeRequiredCapabilities(encodeRequiredCapabilities(opts.requiredCapabilities ?? EMPTY_REQUIRED_CAPABILITIES)),
      requesterSignatureKey: this.identity.signaturePublicKey,
      requesterCredential: basicCredential(requestingUser),
    };
    return { ...tbs, signature: signWithLabel(this.identity.signaturePrivateKey, KEY_MATERIAL_SIGNATURE_LABEL, keyMaterialRequestTbs(tbs)) };
  }

  /**
   * Claims KeyPackages of remote users for `roomUri` on behalf of our user `requestingUser`.
   * Room hosted here: users of other domains only (the caller claims our own users locally), asked
   * of their providers directly, refs recorded here. Room hosted elsewhere: every target, through
   * the room's hub. One request per target domain (all in parallel); results in the order of
   * `targetUsers` (duplicates removed). A provider that cannot be reached fails the whole call
   * with ApiFailure('peerUnreachable', 502) naming it (see peerFailure; refs already handed out
   * by other providers stay recorded).
   */
  async claimForRoom(
    requestingUser: string,
    roomUri: string,
    targetUsers: string[],
    opts: { requiredCapabilities?: Fields<RequiredCapabilities> } = {},
  ): Promise<ClaimResult[]> {
    const requester = parseParty(requestingUser);
    if (!requester || requester.domain !== this.domain) throw badRequest(`requestingUser must be a user URI or pseudonym of ${this.domain}`);
    const room = parseAs('room', roomUri);
    if (!room) throw badRequest(`${JSON.stringify(roomUri)} is not a room URI`);
    const hostedHere = room.domain === this.domain;
    if (hostedHere) {
      if (!this.isHostedHere(roomUri)) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
      if (!this.store.isParticipant(roomUri, requestingUser)) {
        throw new ApiFailure('notMember', `${requestingUser} is not a participant of ${roomUri}`);
      }
    }
    const byDomain = new Map<string, string[]>();
    const order: string[] = [];
    for (const user of new Set(targetUsers)) {
      const p = parseParty(user);
      if (!p) throw badRequest(`${JSON.stringify(user)} is not a user URI or pseudonym`);
      if (hostedHere && p.domain === this.domain) continue;
      order.push(user);
      byDomain.set(p.domain, [...(byDomain.get(p.domain) ?? []), user]);
    }
    const settled = await Promise.allSettled(
      [...byDomain].map(async ([targetDomain, users]) => {
        const requests = users.map((u) => this.buildRequest(requestingUser, u, roomUri, opts));
        const via = hostedHere ? targetDomain : room.domain;
        const responses = await this.send(via, requests, requests.length > 1, targetDomain);
        if (hostedHere) this.recordForeignClaims(requests, responses);
        return responses;
      }),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw peerFailure(failed.reason, 'key material');
    const byUser = new Map<string, KeyMaterialResponse>();
    for (const s of settled) if (s.status === 'fulfilled') for (const r of s.value) byUser.set(r.userUri, r);
    return order.map((u) => toClaimResult(byUser.get(u)!));
  }
}

/** A KeyMaterialResponse in the client API's shape (KeyPackages as base64url MLSMessages). */
export function toClaimResult(res: KeyMaterialResponse): ClaimResult {
  return {
    userUri: res.userUri,
    status: res.userStatus,
    clients: res.clients.map((c) =>
      c.clientStatus === 'success'
        ? { deviceUri: c.clientUri, status: c.clientStatus, keyPackage: toB64(wrapMlsMessage('keyPackage', c.keyPackage.raw)) }
        : { deviceUri: c.clientUri, status: c.clientStatus },
    ),
  };
}
