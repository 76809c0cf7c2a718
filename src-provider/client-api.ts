// The client API routes (src-shared/provider-api.ts ROUTES) mapped onto the transport-free logic
// modules: decode and type-check the JSON, authenticate, call accounts / key packages / hub.

import { isValidDomain, parseMimiUri, parseMimiUriAs, parseUserAddress } from '../src-shared/identifiers.js';
import {
  ROUTES,
  type ClaimResponse,
  type ConnectionRequestPolicyResponse,
  type ConsentListResponse,
  type DeviceInfo,
  type DeviceListResponse,
  type DeviceMessagesResponse,
  type SendDeviceMessageResponse,
  type RemoveDeviceResponse,
  type DestroyRoomResponse,
  type FindResponse,
  type GroupInfoResponse,
  type IssuePseudonymsResponse,
  type MyProfile,
  type OhttpKeysResponse,
  type OhttpRelayResponse,
  type PseudonymKeyPackageCount,
  type PseudonymListResponse,
  type RetirePseudonymResponse,
  type RoomInfo,
} from '../src-shared/provider-api.js';
import { toB64 } from '../src-shared/bytes.js';
import { decodeFrank, encodeAbuseReport, type AbuseReport } from '../src-shared/mimi-protocol.js';
import type { Follower } from './federation/follower.js';
import { MAX_PASSWORD_LENGTH, type Accounts, type Actor } from './accounts.js';
import type { ConsentService } from './consent.js';
import type { DirectorySearch } from './directory-search.js';
import { RateLimiter } from './rate-limits.js';
import type { Store } from './store.js';
import { mimiDirectory, DIRECTORY_PATH, MIMI_PREFIX } from './directory.js';
import { ApiFailure, badRequest } from './errors.js';
import type { Hub } from './hub.js';
import type { DeviceService } from './devices.js';
import { MAX_ACK_IDS, type DeviceMessages } from './device-messages.js';
import { b64, b64List, bool, int, onlyFields, optB64, RateLimitedFailure, readJsonObject, Router, str, strList, type RouteContext } from './http.js';
import type { KeyPackages } from './key-packages.js';
import type { Pseudonyms } from './pseudonyms.js';
import { parseMessageBatch, sendMessageBatch } from './message-batch.js';
import { MAX_BATCH_BODY_BYTES, type SendMessageBatchResponse } from '../src-shared/provider-api.js';
import type { OhttpService } from './ohttp-service.js';
import type { JoinLinkInfo, JoinByCodeResponse } from '../src-shared/provider-api.js';
import { decodeJoinTicket, encodeJoinTicket } from '../src-shared/join-ticket.js';
import type { JoinLinks, JoinLinksRequest, JoinTicketRequest } from './join-links.js';

export interface ClientApiServices {
  accounts: Accounts;
  keyPackages: KeyPackages;
  hub: Hub;
  /** Rooms hosted elsewhere: commits and messages go to their hub. */
  follower: Follower;
  /** KeyPackages of users at other providers (directly, or through the room's hub). */
  remoteKeyMaterial?: {
    claimForRoom(requestingUser: string, roomUri: string, targetUsers: string[]): Promise<ClaimResponse['results']>;
  };
  /** GroupInfo of rooms hosted elsewhere (`/groupInfo` at their hub). */
  remoteGroupInfo?: {
    fetch(roomUri: string, requester: string, opts?: { joiningCode?: Uint8Array }): Promise<{ epoch: string; groupInfo: Uint8Array; ratchetTree: Uint8Array }>;
  };
  /** Join links of rooms hosted here (join-links.ts). */
  joinLinks?: JoinLinks;
  /** Links of rooms hosted elsewhere, made, listed and revoked at their hub (`/joinLinks`). */
  remoteJoinLinks?: {
    ask(roomUri: string, req: JoinLinksRequest): Promise<JoinLinkInfo[]>;
  };
  /** Admission tickets from the hubs of rooms hosted elsewhere (`/joinTicket`). */
  remoteJoinTickets?: {
    fetch(roomUri: string, req: JoinTicketRequest): Promise<Uint8Array>;
  };
  /** Consent requests and decisions (consent.ts). */
  consent?: ConsentService;
  /**
   * Connection requests an account may start (claims of real users' KeyPackages as one of its
   * pseudonyms): a bucket of `burst`, refilled by `perHour`. Its own bucket: nothing else waits.
   */
  connectionRequestLimits?: { burst: number; perHour: number };
  /** Where the connection-request and relay buckets are kept, for every node (rate-limits.ts). */
  store: Store;
  /** Profile fields, searchability and user search (directory-search.ts). */
  directorySearch?: DirectorySearch;
  /** The accounts' pseudonyms (pseudonyms.ts). */
  pseudonyms?: Pseudonyms;
  /** The account's devices: list, rename, remove, and the notices of changes (devices.ts). */
  devices?: DeviceService;
  /** The relay between the account's own devices (device-messages.ts). */
  deviceMessages?: DeviceMessages;
  /** Backups of an account, whose files go when the account does (backups.ts). */
  backups?: { filesOfAccount(userId: number): string[]; removeFiles(files: string[]): void };
  /** The account's attachments, deleted with it (assets.ts). */
  assets?: { deleteOfAccount(userUri: string): number };
  /** This provider's ExternalSender (RFC 9420 encoding), for the rooms it hosts. */
  hubSender: Uint8Array;
  /** Base URL other providers reach this one at (for the MIMI directory). */
  publicUrl: () => string;
  /** Directory keys of the MIMI endpoints the provider serves (none while federation is off). */
  servedMimiEndpoints: () => readonly string[];
  /** KeyPackages over OHTTP (ohttp-service.ts): the relay, and the hub's fetch of vouching keys. */
  ohttp?: Pick<OhttpService, 'keysOf' | 'relay' | 'prepareCommit'>;
}

/** The push stream path (ROUTES.events), served by the WebSocket upgrade handler. */
export const EVENTS_PATH = ROUTES.events.split(' ')[1];

const REQUEST_ID = { min: 1, max: 128 };
/** Bounds a single request's fan-in (claims, participant changes). */
const MAX_LIST = 1000;

export function clientApiRouter(svc: ClientApiServices): Router {
  const { accounts, keyPackages, hub, follower } = svc;
  const federationOff = (what: string) =>
    new ApiFailure('notAllowed', `${what} needs federation, which this provider has not set up (start it with --peer/--trust)`);

  /**
   * Local users of a room hosted here are claimed here; everyone else through MIMI /keyMaterial.
   * `requestingUser` is the account's user URI or the user pseudonym it claims as.
   */
  const connectionLimits = svc.connectionRequestLimits ?? { burst: 10, perHour: 10 };
  // In the database (rate-limits.ts), so requests spread over several nodes share one bucket.
  const connectionRequests = new RateLimiter(svc.store, 'connection-requests', connectionLimits.perHour / 60, Date.now, connectionLimits.burst);
  /** A claim as a pseudonym for real users starts a connection request: one token per user. */
  const limitConnectionRequests = (actor: Actor, users: string[], requestingUser: string): void => {
    if (requestingUser === actor.userUri) return;
    for (const u of new Set(users)) {
      if (!parseMimiUriAs('user', u)) continue;
      const wait = connectionRequests.take(actor.userUri);
      if (wait > 0) {
        throw new RateLimitedFailure(
          `too many connection requests: ${connectionLimits.burst} at once and ${connectionLimits.perHour} an hour; try again in ${Math.ceil(wait / 1000)} s`,
          wait,
        );
      }
    }
  };

  const claim = async (actor: Actor, roomUri: string, users: string[], requestingUser: string): Promise<ClaimResponse> => {
    limitConnectionRequests(actor, users, requestingUser);
    const requester = { deviceUri: actor.deviceUri, userUri: requestingUser };
    const unique = [...new Set(users)];
    const isLocal = (u: string) => {
      try {
        return parseMimiUri(u).domain === hub.domain;
      } catch {
        return true; // answered userUnknown by the local path
      }
    };
    const remoteRoom = follower.isRemote(roomUri);
    const here = remoteRoom ? [] : unique.filter(isLocal);
    const elsewhere = remoteRoom ? unique : unique.filter((u) => !isLocal(u));
    if (remoteRoom && !follower.isMemberDevice(roomUri, actor.deviceUri)) {
      throw new ApiFailure('notMember', 'only member devices of the room can claim KeyPackages for it');
    }
    // Room and membership checks (a claim of nobody) come first, then the remote claims, then the
    // local ones: a failing peer leaves our own users' KeyPackages unspent.
    if (!remoteRoom) keyPackages.claim(requester, roomUri, []);
    const results: ClaimResponse['results'] = [];
    if (elsewhere.length) {
      if (!svc.remoteKeyMaterial) throw federationOff('Adding users of other providers');
      results.push(...(await svc.remoteKeyMaterial.claimForRoom(requestingUser, roomUri, elsewhere)));
    }
    if (here.length) results.push(...keyPackages.claim(requester, roomUri, here).results);
    const order = new Map(unique.map((u, i) => [u, i]));
    return { results: results.sort((a, b) => (order.get(a.userUri) ?? 0) - (order.get(b.userUri) ?? 0)) };
  };

  /** The optional asPseudonym of a request: who of the account it acts as, when not the account itself. */
  const asPseudonymOf = (o: Record<string, unknown>): string | undefined =>
    o.asPseudonym === undefined || o.asPseudonym === null ? undefined : str(o, 'asPseudonym', { max: 512 });

  const groupInfo = async (actor: Actor, roomUri: string, asPseudonym: string | undefined): Promise<GroupInfoResponse> => {
    if (!follower.isRemote(roomUri)) return hub.groupInfo(actor, roomUri, asPseudonym);
    if (!svc.remoteGroupInfo) throw federationOff('Joining a room of another provider');
    // The hub authorizes by participation: the pseudonym's, never the device behind it.
    const gi = await svc.remoteGroupInfo.fetch(roomUri, asPseudonym === undefined ? actor.deviceUri : pseudonyms().actingAs(actor, asPseudonym));
    return { epoch: gi.epoch, groupInfo: toB64(gi.groupInfo), ratchetTree: toB64(gi.ratchetTree) };
  };
  const auth = (ctx: RouteContext): Actor => accounts.authenticate(ctx.req.headers.authorization);
  const ok = (body: unknown, status = 200) => ({ status, body });

  /** A link request for a room hosted here, or at its hub elsewhere (where our member asks through us). */
  const linkAction = async (roomUri: string, req: JoinLinksRequest): Promise<JoinLinkInfo[]> => {
    if (follower.isRemote(roomUri)) {
      if (!svc.remoteJoinLinks) throw federationOff('Links of a room hosted elsewhere');
      return svc.remoteJoinLinks.ask(roomUri, req);
    }
    if (!svc.joinLinks) throw new ApiFailure('notAllowed', 'this provider does not offer join links');
    const l = svc.joinLinks;
    if (req.action === 'create') {
      const { action: _a, actingUser, ...o } = req;
      return [l.create(actingUser, roomUri, o)];
    }
    return req.action === 'list' ? l.list(req.actingUser, roomUri) : l.revoke(req.actingUser, roomUri, req.id);
  };
  /**
   * A code traded for the hub's ticket and the room's GroupInfo: at our own hub directly, or at
   * another's with /joinTicket and then /groupInfo with the ticket as the joining code.
   */
  const joinByCode = async (actor: Actor, roomUri: string, o: { code: Uint8Array; passphrase?: string; signatureKey: Uint8Array; asPseudonym?: string }): Promise<JoinByCodeResponse> => {
    const joiner = o.asPseudonym === undefined ? actor.userUri : pseudonyms().actingAs(actor, o.asPseudonym);
    if (!follower.isRemote(roomUri)) {
      if (!svc.joinLinks) throw new ApiFailure('notAllowed', 'this provider does not offer join links');
      const ticket = svc.joinLinks.issue(roomUri, joiner, { code: o.code, passphrase: o.passphrase, signatureKey: o.signatureKey });
      const gi = hub.groupInfoForTicket(roomUri);
      return { ...gi, ticket: toB64(encodeJoinTicket(ticket)) };
    }
    if (!svc.remoteJoinTickets || !svc.remoteGroupInfo) throw federationOff('Joining a room of another provider');
    const ticket = await svc.remoteJoinTickets.fetch(roomUri, { joiner, code: o.code, passphrase: o.passphrase, signatureKey: o.signatureKey });
    // The hub's own signature is checked by the members; here only that it is for this joiner.
    const t = decodeJoinTicket(ticket);
    if (t.roomUri !== roomUri || t.joiner !== joiner) throw new ApiFailure('internal', `hub ${parseMimiUri(roomUri).domain} sent a ticket for someone else`, { status: 502 });
    const gi = await svc.remoteGroupInfo.fetch(roomUri, joiner, { joiningCode: ticket });
    return { epoch: gi.epoch, groupInfo: toB64(gi.groupInfo), ratchetTree: toB64(gi.ratchetTree), ticket: toB64(ticket) };
  };

  const ohttp = (): NonNullable<ClientApiServices['ohttp']> => {
    if (!svc.ohttp) throw new ApiFailure('notFound', 'this provider does not relay OHTTP KeyPackage requests: use the ordinary path');
    return svc.ohttp;
  };
  const gatewayDomain = (raw: string): string => {
    const d = raw.toLowerCase();
    if (!isValidDomain(d)) throw badRequest(`${JSON.stringify(raw)} is not a domain name`);
    return d;
  };
  /**
   * Relayed KeyPackage requests per account: generous for adding people, short of draining anyone.
   * In the database like the others: it guards KeyPackage fetches (each one an HTTPS round trip
   * to another provider's gateway), not the message path, so a write per request costs little
   * next to what it limits, and a per-node bucket would let an account drain N times as fast.
   */
  const relayLimiter = new RateLimiter(svc.store, 'ohttp-relay', 60, Date.now, 30);
  const search = (): DirectorySearch => {
    if (!svc.directorySearch) throw new ApiFailure('notAllowed', 'this provider does not offer user search');
    return svc.directorySearch;
  };
  const pseudonyms = (): Pseudonyms => {
    if (!svc.pseudonyms) throw new ApiFailure('notAllowed', 'this provider does not issue pseudonyms');
    return svc.pseudonyms;
  };
  const devices = (): DeviceService => {
    if (!svc.devices) throw new ApiFailure('notAllowed', 'this provider does not manage devices');
    return svc.devices;
  };
  const relay = (): DeviceMessages => {
    if (!svc.deviceMessages) throw new ApiFailure('notAllowed', 'this provider does not relay messages between devices');
    return svc.deviceMessages;
  };
  /** A new device's account hears of it once the device exists (the answer is still sent if telling fails). */
  const announce = (s: { deviceUri: string }) => {
    svc.devices?.added(s.deviceUri);
    return s;
  };
  const consent = (): ConsentService => {
    if (!svc.consent) throw new ApiFailure('notAllowed', 'this provider does not handle consent');
    return svc.consent;
  };
  /** ConsentActionRequest: `user` as a user URI or handle@domain (a bare handle is one of ours). */
  const consentArgs = async (ctx: RouteContext) => {
    const actor = auth(ctx);
    const o = await readJsonObject(ctx.req, 8 * 1024);
    const raw = str(o, 'user', { min: 1, max: 512 });
    let user: string;
    try {
      user = parseUserAddress(raw, hub.domain);
    } catch {
      throw badRequest(`field "user" ${JSON.stringify(raw)} is not a user address (bob@b.example or mimi://b.example/u/bob)`);
    }
    if (user === actor.userUri) throw badRequest('consent is between two different users');
    const roomUri = o.roomUri === undefined || o.roomUri === null ? undefined : str(o, 'roomUri', { max: 512 });
    // Only a request names its room (consent.ts checks it); the other actions take none.
    const roomName = o.roomName === undefined || o.roomName === null ? undefined : str(o, 'roomName', { max: 512 });
    return { actor, user, roomUri, roomName };
  };

  const credentials = async (ctx: RouteContext) => {
    const o = await readJsonObject(ctx.req);
    return {
      handle: str(o, 'handle', { max: 64 }),
      password: str(o, 'password', { max: 1024 }),
      deviceName: str(o, 'deviceName', { max: 200 }),
    };
  };

  return new Router()
    .route(ROUTES.health, () => ok({ ok: true }))
    .route(ROUTES.register, async (ctx) => ok(announce(await accounts.register(await credentials(ctx))), 201))
    .route(ROUTES.login, async (ctx) => ok(announce(await accounts.login(await credentials(ctx))), 201))
    .route(ROUTES.me, (ctx) => ok(accounts.me(auth(ctx))))
    .route(ROUTES.devices, (ctx) => ok({ devices: devices().list(auth(ctx)) } satisfies DeviceListResponse))
    .route(ROUTES.renameDevice, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['name']);
      return ok(devices().rename(actor, ctx.params.deviceId, o.name) satisfies DeviceInfo);
    })
    .route(ROUTES.removeDevice, (ctx) => ok(devices().remove(auth(ctx), ctx.params.deviceId) satisfies RemoveDeviceResponse))
    .route(ROUTES.signOut, (ctx) => ok(devices().signOut(auth(ctx)) satisfies RemoveDeviceResponse))
    .route(ROUTES.sendDeviceMessage, async (ctx) => {
      const actor = auth(ctx);
      // base64 of 64 KiB and the field name: the body limit itself is checked on the decoded bytes.
      const o = await readJsonObject(ctx.req, 96 * 1024);
      onlyFields(o, ['body']);
      return ok(relay().send(actor, ctx.params.deviceId, b64(o, 'body')) satisfies SendDeviceMessageResponse, 201);
    })
    .route(ROUTES.deviceMessages, (ctx) => ok({ messages: relay().fetch(auth(ctx)) } satisfies DeviceMessagesResponse))
    .route(ROUTES.ackDeviceMessages, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 32 * 1024);
      onlyFields(o, ['ids']);
      const ids = o.ids;
      if (!Array.isArray(ids) || ids.length > MAX_ACK_IDS || !ids.every((i) => Number.isSafeInteger(i) && (i as number) > 0)) {
        throw badRequest(`field "ids" must be a list of at most ${MAX_ACK_IDS} message ids (positive integers)`);
      }
      return ok({ deleted: relay().ack(actor, ids as number[]) });
    })
    .route(ROUTES.uploadKeyPackages, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      return ok(keyPackages.upload(actor.deviceUri, b64List(o, 'keyPackages'), optB64(o, 'lastResort')));
    })
    .route(ROUTES.keyPackageCount, (ctx) => ok(keyPackages.count(auth(ctx).deviceUri)))
    .route(ROUTES.claimKeyPackages, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const roomUri = str(o, 'roomUri');
      const users = strList(o, 'users', { max: MAX_LIST });
      const as = asPseudonymOf(o);
      return ok(await claim(actor, roomUri, users, as === undefined ? actor.userUri : pseudonyms().actingAs(actor, as)));
    })
    .route(ROUTES.createRoom, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const roomUri = str(o, 'roomUri', { max: 512 });
      const groupInfo = optB64(o, 'groupInfo');
      const ratchetTree = optB64(o, 'ratchetTree');
      if ((groupInfo === undefined) !== (ratchetTree === undefined)) throw badRequest('groupInfo and ratchetTree come together');
      return ok(hub.createRoom(actor, roomUri, groupInfo && ratchetTree ? { groupInfo, ratchetTree } : undefined), 201);
    })
    .route(ROUTES.listRooms, (ctx) => ok({ rooms: hub.listRooms(auth(ctx)) satisfies RoomInfo[] }))
    .route(ROUTES.getRoom, (ctx) => ok(hub.getRoom(auth(ctx), ctx.params.roomId)))
    .route(ROUTES.commit, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const input = {
        commit: b64(o, 'commit'),
        welcome: optB64(o, 'welcome'),
        groupInfo: b64(o, 'groupInfo'),
        ratchetTree: b64(o, 'ratchetTree'),
        addUsers: strList(o, 'addUsers', { optional: true, max: MAX_LIST }),
        removeUsers: strList(o, 'removeUsers', { optional: true, max: MAX_LIST }),
        removeDevices: strList(o, 'removeDevices', { optional: true, max: MAX_LIST }),
        requestId: str(o, 'requestId', REQUEST_ID),
      };
      const roomUri = ctx.params.roomId;
      if (follower.isRemote(roomUri)) return ok(await follower.forwardCommit(actor, roomUri, input));
      await svc.ohttp?.prepareCommit(input.commit); // the keys of providers vouching for its KeyPackages
      return ok(await hub.submitCommit(actor, roomUri, input));
    })
    .route(ROUTES.sendMessage, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const input = { message: b64(o, 'message'), requestId: str(o, 'requestId', REQUEST_ID), asPseudonym: asPseudonymOf(o) };
      const roomUri = ctx.params.roomId;
      return ok(follower.isRemote(roomUri) ? await follower.forwardMessage(actor, roomUri, input) : await hub.submitMessage(actor, roomUri, input));
    })
    // Several messages in one request (message-batch.ts): a malformed body is a 400 before any is accepted.
    .route(ROUTES.sendMessageBatch, async (ctx) => {
      const actor = auth(ctx);
      const entries = parseMessageBatch(await readJsonObject(ctx.req, MAX_BATCH_BODY_BYTES));
      return ok({ results: await sendMessageBatch(hub, follower, actor, entries) } satisfies SendMessageBatchResponse);
    })
    .route(ROUTES.groupInfo, async (ctx) => {
      const as = ctx.url.searchParams.get('asPseudonym');
      return ok(await groupInfo(auth(ctx), ctx.params.roomId, as === null ? undefined : as));
    })
    .route(ROUTES.createLink, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['codeHash', 'roleIndex', 'maxUses', 'expiresInSeconds', 'passphrase', 'knockFor', 'asPseudonym']);
      const roomUri = ctx.params.roomId;
      const as = asPseudonymOf(o);
      const actingUser = as === undefined ? actor.userUri : pseudonyms().actingAs(actor, as);
      const opt = (k: string, o2: { min: number; max: number }) => (o[k] === undefined || o[k] === null ? undefined : int(o, k, o2));
      const [made] = await linkAction(roomUri, {
        action: 'create',
        actingUser,
        codeHash: b64(o, 'codeHash'),
        roleIndex: opt('roleIndex', { min: 2, max: 65535 }),
        maxUses: opt('maxUses', { min: 1, max: 100000 }),
        expiresInSeconds: opt('expiresInSeconds', { min: 60, max: 366 * 86400 }),
        passphrase: o.passphrase === undefined || o.passphrase === null ? undefined : str(o, 'passphrase', { min: 4, max: 200 }),
        knockFor: o.knockFor === undefined || o.knockFor === null ? undefined : str(o, 'knockFor', { max: 512 }),
      });
      return ok(made satisfies JoinLinkInfo, 201);
    })
    .route(ROUTES.listLinks, async (ctx) => {
      const actor = auth(ctx);
      const as = ctx.url.searchParams.get('asPseudonym');
      const roomUri = ctx.params.roomId;
      return ok({ links: await linkAction(roomUri, { action: 'list', actingUser: as === null ? actor.userUri : pseudonyms().actingAs(actor, as) }) });
    })
    .route(ROUTES.revokeLink, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['id', 'asPseudonym']);
      const as = asPseudonymOf(o);
      const roomUri = ctx.params.roomId;
      return ok({ links: await linkAction(roomUri, { action: 'revoke', actingUser: as === undefined ? actor.userUri : pseudonyms().actingAs(actor, as), id: str(o, 'id', { max: 64 }) }) });
    })
    .route(ROUTES.joinByCode, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['code', 'passphrase', 'signatureKey', 'asPseudonym']);
      return ok(
        await joinByCode(actor, ctx.params.roomId, {
          code: b64(o, 'code'),
          passphrase: o.passphrase === undefined || o.passphrase === null ? undefined : str(o, 'passphrase', { max: 200 }),
          signatureKey: b64(o, 'signatureKey'),
          asPseudonym: asPseudonymOf(o),
        }),
      );
    })
    .route(ROUTES.destroyRoom, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['asPseudonym']);
      const roomUri = ctx.params.roomId;
      return ok((follower.isRemote(roomUri) ? follower.destroyRoom(roomUri) : hub.destroyRoom(actor, roomUri, asPseudonymOf(o))) satisfies DestroyRoomResponse);
    })
    .route(ROUTES.proposals, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const proposals = b64List(o, 'proposals');
      const roomUri = ctx.params.roomId;
      return ok(follower.isRemote(roomUri) ? await follower.forwardProposals(actor, roomUri, proposals) : hub.proposals(actor, roomUri, proposals));
    })
    .route(ROUTES.reportAbuse, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      const alleged = str(o, 'user', { max: 512 });
      if (o.note !== undefined && typeof o.note !== 'string') throw badRequest('field "note" must be a string');
      const note = (o.note as string | undefined) ?? '';
      const reasonCode = o.reasonCode === undefined ? 0 : o.reasonCode;
      if (typeof reasonCode !== 'number' || !Number.isInteger(reasonCode) || reasonCode < 0 || reasonCode > 255) throw badRequest('field "reasonCode" must be an integer 0-255');
      // In a room the account is in as a pseudonym, it reports as that pseudonym (checked here for
      // the room's hub elsewhere, which can only check the domain; and again by our own hub).
      const as = asPseudonymOf(o);
      const reportingUser = as === undefined ? actor.userUri : pseudonyms().actingAs(actor, as);
      // The reported messages (AbusiveMessage): the room's hub checks each against its frank.
      if (o.messages !== undefined && (!Array.isArray(o.messages) || o.messages.length > 16)) throw badRequest('field "messages" must be a list of at most 16 messages');
      const messages = ((o.messages as unknown[] | undefined) ?? []).map((m, i) => {
        if (typeof m !== 'object' || m === null) throw badRequest(`messages[${i}] must be an object`);
        const e = m as Record<string, unknown>;
        onlyFields(e, ['content', 'frank', 'acceptedTimestamp']);
        let frank;
        try {
          frank = decodeFrank(b64(e, 'frank'));
        } catch (err) {
          throw badRequest(`messages[${i}].frank is not a Frank: ${(err as Error).message}`);
        }
        return { messageContent: b64(e, 'content'), frank, acceptedTimestamp: BigInt(int(e, 'acceptedTimestamp', { min: 0, max: Number.MAX_SAFE_INTEGER })) };
      });
      const report: AbuseReport = { reportingUser, allegedAbuserUri: alleged, reasonCode, note, messages, abuseExtensions: [] };
      let encoded: Uint8Array;
      try {
        encoded = encodeAbuseReport(report);
      } catch (e) {
        throw badRequest(`the report cannot be encoded: ${(e as Error).message}`);
      }
      const roomUri = ctx.params.roomId;
      // The hub decides whether the reporter may report (a participant whose role has canReportAbuse).
      if (follower.isRemote(roomUri)) await follower.forwardAbuseReport(roomUri, encoded);
      else hub.reportAbuse(actor, roomUri, report, encoded);
      return ok({ accepted: true }, 201);
    })
    .route(ROUTES.hubSender, (ctx) => {
      auth(ctx);
      return ok({ externalSender: toB64(svc.hubSender) });
    })
    .route(ROUTES.changePassword, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['oldPassword', 'newPassword']);
      await accounts.changePassword(actor, str(o, 'oldPassword', { max: MAX_PASSWORD_LENGTH }), str(o, 'newPassword', { max: MAX_PASSWORD_LENGTH }));
      return ok({ changed: true });
    })
    .route(ROUTES.deleteAccount, (ctx) => {
      const actor = auth(ctx);
      // The rooms hosted here lose the account's members (devices and client pseudonyms) through
      // the hub's Remove proposals; the account itself (devices, tokens, KeyPackages, pseudonyms,
      // inbox) goes at once, so its members are read first. Its backups and the files it sent
      // go with it.
      const members = hub.membersOfAccount(actor);
      const backupFiles = svc.backups?.filesOfAccount(actor.userId) ?? [];
      accounts.deleteAccount(actor);
      svc.backups?.removeFiles(backupFiles);
      svc.assets?.deleteOfAccount(actor.userUri);
      for (const [room, identities] of members) hub.proposeRemoval(room, identities);
      return ok({ deleted: true });
    })
    .route(ROUTES.consents, (ctx) => ok(consent().list(auth(ctx)) satisfies ConsentListResponse))
    .route(ROUTES.requestConsent, async (ctx) => {
      const { actor, user, roomUri, roomName } = await consentArgs(ctx);
      return ok(await consent().request(actor, user, roomUri, roomName));
    })
    .route(ROUTES.cancelConsent, async (ctx) => {
      const { actor, user, roomUri } = await consentArgs(ctx);
      return ok(await consent().cancel(actor, user, roomUri));
    })
    .route(ROUTES.grantConsent, async (ctx) => {
      const { actor, user, roomUri } = await consentArgs(ctx);
      return ok(await consent().grant(actor, user, roomUri));
    })
    .route(ROUTES.declineConsent, async (ctx) => {
      const { actor, user } = await consentArgs(ctx);
      return ok(await consent().decline(actor, user));
    })
    .route(ROUTES.revokeConsent, async (ctx) => {
      const { actor, user, roomUri } = await consentArgs(ctx);
      return ok(await consent().revoke(actor, user, roomUri));
    })
    .route(ROUTES.blockUser, async (ctx) => {
      const { actor, user } = await consentArgs(ctx);
      return ok(consent().block(actor, user));
    })
    .route(ROUTES.unblockUser, async (ctx) => {
      const { actor, user } = await consentArgs(ctx);
      return ok(consent().unblock(actor, user));
    })
    .route(ROUTES.connectionRequestPolicy, (ctx) => ok(consent().connectionRequestPolicy(auth(ctx)) satisfies ConnectionRequestPolicyResponse))
    .route(ROUTES.setConnectionRequestPolicy, async (ctx) => {
      const actor = auth(ctx);
      // 100 domains of up to 253 characters, quoted: well under 64 KiB.
      return ok(consent().setConnectionRequestPolicy(actor, await readJsonObject(ctx.req, 64 * 1024)) satisfies ConnectionRequestPolicyResponse);
    })
    .route(ROUTES.pseudonyms, (ctx) => ok(pseudonyms().list(auth(ctx)) satisfies PseudonymListResponse))
    .route(ROUTES.issuePseudonyms, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 1024);
      onlyFields(o, ['count']);
      const service = pseudonyms();
      return ok(service.issue(actor, int(o, 'count', { min: 1, max: service.maxPerRequest })) satisfies IssuePseudonymsResponse, 201);
    })
    .route(ROUTES.retirePseudonym, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 8 * 1024);
      onlyFields(o, ['userPseudonym']);
      return ok(pseudonyms().retire(actor, str(o, 'userPseudonym', { max: 512 })) satisfies RetirePseudonymResponse);
    })
    .route(ROUTES.uploadPseudonymKeyPackages, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req);
      onlyFields(o, ['clientPseudonym', 'keyPackages', 'connectionOnly']);
      const clientPseudonym = str(o, 'clientPseudonym', { max: 512 });
      const connectionOnly = bool(o, 'connectionOnly');
      return ok(pseudonyms().uploadKeyPackages(actor, clientPseudonym, b64List(o, 'keyPackages'), connectionOnly) satisfies PseudonymKeyPackageCount);
    })
    .route(ROUTES.myProfile, (ctx) => ok(search().profile(auth(ctx)) satisfies MyProfile))
    .route(ROUTES.setMyProfile, async (ctx) => {
      const actor = auth(ctx);
      return ok(search().setProfile(actor, await readJsonObject(ctx.req, 8 * 1024)));
    })
    .route(ROUTES.find, async (ctx) => {
      const actor = auth(ctx);
      return ok((await search().find(actor, await readJsonObject(ctx.req, 8 * 1024))) satisfies FindResponse);
    })
    // The relay sees the account, the gateway's domain and the sizes; it keeps and logs nothing of them.
    .route(ROUTES.ohttpKeys, async (ctx) => {
      auth(ctx);
      return ok({ entry: toB64(await ohttp().keysOf(gatewayDomain(ctx.params.domain))) } satisfies OhttpKeysResponse);
    })
    .route(ROUTES.ohttpRelay, async (ctx) => {
      const actor = auth(ctx);
      const o = await readJsonObject(ctx.req, 16 * 1024);
      onlyFields(o, ['request']);
      const request = b64(o, 'request');
      const wait = relayLimiter.take(actor.userUri);
      if (wait > 0) throw new RateLimitedFailure(`too many KeyPackage requests: try again in ${Math.ceil(wait / 1000)} s`, wait);
      return ok({ response: toB64(await ohttp().relay(gatewayDomain(ctx.params.domain), request)) } satisfies OhttpRelayResponse);
    })
    .add('GET', EVENTS_PATH, () => {
      throw new ApiFailure('badRequest', `${EVENTS_PATH} is a WebSocket endpoint (send Upgrade: websocket)`, { status: 426 });
    })
    .add('GET', DIRECTORY_PATH, () => ok(mimiDirectory(svc.publicUrl(), svc.servedMimiEndpoints())))
    .add('*', `${MIMI_PREFIX}/*`, () => {
      throw new ApiFailure('notFound', 'MIMI server-to-server endpoints are not served by this provider', { status: 501 });
    });
}
