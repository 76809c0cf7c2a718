// The MIMI server-to-server endpoints of this provider (draft-ietf-mimi-protocol-06): decoding the
// TLS-PL bodies, calling the transport-free logic (Hub for rooms hosted here, Follower for rooms
// hosted elsewhere, the key-material and group-info services) and encoding its answer.
//
// Answers: a protocol outcome (success, wrongEpoch, notAllowed, invalidProposal, epochTooOld, ...)
// is HTTP 200 carrying the draft's response struct, so a peer always gets the code the draft
// defines. A body that does not parse is 400, a room we do not host is 404, an unknown endpoint
// 501; those carry a JSON ApiError (see docs/decisions.md).

import type { IncomingHttpHeaders } from 'node:http';
import { fromB64 } from '../../src-shared/bytes.js';
import {
  decodeAbuseReport,
  decodeFrank,
  decodeSubmitMessageRequest,
  decodeUpdateRequest,
  encodeSubmitMessageResponse,
  encodeUpdateRoomResponse,
  MimiWireError,
} from '../../src-shared/mimi-protocol.js';
import { encodeRatchetTree, wrapMlsMessage } from '../../src-shared/mls-structs.js';
import { ApiFailure, badRequest } from '../errors.js';
import type { Hub } from '../hub.js';
import { hubOf, type Follower } from './follower.js';
import type { S2sHandler, S2sReply } from './s2s-handler.js';

/** An endpoint served by another module (key material, group info, consent, ...). */
export type EndpointService = (peer: string, param: string, body: Uint8Array, headers?: IncomingHttpHeaders) => Promise<S2sReply> | S2sReply;

export interface MimiEndpointDeps {
  domain: string;
  hub: Hub;
  follower: Follower;
  /** Further endpoints by directory key, e.g. keyMaterial, groupInfo. */
  services?: Record<string, EndpointService>;
  /** Before a forwarded commit is judged: fetch what its check needs from elsewhere (ohttp-service.ts vouching keys). */
  prepareCommit?: (commit: Uint8Array) => Promise<void>;
}

function decoded<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof MimiWireError) throw badRequest(`${what} is malformed: ${e.message}`);
    throw e;
  }
}

const ok = (body: Uint8Array): S2sReply => ({ status: 200, body });

export function mimiEndpoints(deps: MimiEndpointDeps): S2sHandler {
  const { domain, hub, follower } = deps;

  // Before the body is looked at: a peer with stale state (a room that is gone, or never was)
  // must get 404 roomUnknown, not a complaint that its message belongs to another group.
  const hostedHere = (roomUri: string): void => {
    if (hubOf(roomUri) !== domain || !hub.hosts(roomUri)) throw new ApiFailure('roomUnknown', `${roomUri} is not hosted by ${domain}`);
  };

  /** A refusal of the hub logic as the UpdateRoomResponse the draft defines. */
  const updateFailure = (e: unknown): S2sReply => {
    if (!(e instanceof ApiFailure) || e.code === 'roomUnknown' || e.code === 'internal') throw e;
    if (e.code === 'wrongEpoch') {
      return ok(encodeUpdateRoomResponse({ responseCode: 'wrongEpoch', errorDescription: e.message, currentEpoch: e.currentEpoch ?? 0n }));
    }
    if (e.code === 'badRequest') return ok(encodeUpdateRoomResponse({ responseCode: 'invalidProposal', errorDescription: e.message, invalidProposals: [] }));
    return ok(encodeUpdateRoomResponse({ responseCode: 'notAllowed', errorDescription: e.message }));
  };

  const update = async (peer: string, roomUri: string, body: Uint8Array): Promise<S2sReply> => {
    hostedHere(roomUri);
    const { bundle } = decoded('UpdateRequest', () => decodeUpdateRequest(body));
    const refuse = (responseCode: 'notAllowed', errorDescription: string) => ok(encodeUpdateRoomResponse({ responseCode, errorDescription }));
    if (bundle.contentType === 'proposal') {
      try {
        const res = hub.proposalsFromPeer(peer, roomUri, [bundle.proposalOrCommit, ...bundle.moreProposals]);
        return ok(encodeUpdateRoomResponse({ responseCode: 'success', errorDescription: '', acceptedTimestamp: BigInt(res.acceptedTimestamp) }));
      } catch (e) {
        return updateFailure(e);
      }
    }
    if (bundle.groupInfoOption.representation !== 'full') return refuse('notAllowed', 'this hub needs the full GroupInfo');
    if (bundle.ratchetTreeOption.representation !== 'full') return refuse('notAllowed', 'this hub needs the full ratchet tree');
    await deps.prepareCommit?.(bundle.proposalOrCommit);
    try {
      const res = hub.commitFromPeer(peer, roomUri, {
        commit: bundle.proposalOrCommit,
        welcome: bundle.welcome ? wrapMlsMessage('welcome', bundle.welcome.raw) : undefined,
        groupInfo: wrapMlsMessage('groupInfo', bundle.groupInfoOption.groupInfo.raw),
        ratchetTree: encodeRatchetTree(bundle.ratchetTreeOption.ratchetTree),
      });
      return ok(encodeUpdateRoomResponse({ responseCode: 'success', errorDescription: '', acceptedTimestamp: BigInt(res.acceptedTimestamp) }));
    } catch (e) {
      return updateFailure(e);
    }
  };

  const submitMessage = async (peer: string, roomUri: string, body: Uint8Array): Promise<S2sReply> => {
    hostedHere(roomUri);
    const req = decoded('SubmitMessageRequest', () => decodeSubmitMessageRequest(body));
    try {
      // Through the group commit: answered once the batch holding it has committed.
      const res = await hub.submitMessageFromPeer(peer, roomUri, { message: req.appMessage, sendingUri: req.sendingUri });
      return ok(
        encodeSubmitMessageResponse({
          protocol: 'mls10',
          statusCode: 'success',
          acceptedTimestamp: BigInt(res.acceptedTimestamp),
          ...(res.frank ? { frank: decodeFrank(fromB64(res.frank)) } : {}),
        }),
      );
    } catch (e) {
      if (!(e instanceof ApiFailure) || e.code === 'roomUnknown' || e.code === 'internal' || e.code === 'badRequest' || e.code === 'tooLarge') throw e;
      if (e.code === 'epochTooOld') {
        return ok(encodeSubmitMessageResponse({ protocol: 'mls10', statusCode: 'epochTooOld', currentEpoch: e.currentEpoch ?? 0n }));
      }
      return ok(encodeSubmitMessageResponse({ protocol: 'mls10', statusCode: 'notAllowed' }));
    }
  };

  // "There is no response body. The response code only indicates if the abuse report was
  // accepted": 201 empty when kept, an ApiError (403 notAllowed, 404, 400) when not.
  const reportAbuse = (peer: string, roomUri: string, body: Uint8Array): S2sReply => {
    hostedHere(roomUri);
    const report = decoded('AbuseReport', () => decodeAbuseReport(body));
    hub.reportAbuseFromPeer(peer, roomUri, report, body);
    return { status: 201, body: new Uint8Array(0) };
  };

  const routes: Record<string, EndpointService> = {
    update,
    submitMessage,
    reportAbuse,
    notify: (peer, roomUri, body, headers) => follower.notify(peer, roomUri, body, headers),
    ...deps.services,
  };

  return {
    endpoints: Object.keys(routes),
    async handle(peer, endpoint, param, body, headers) {
      const route = routes[endpoint];
      if (!route) throw new ApiFailure('notFound', `${domain} does not implement the MIMI ${endpoint} endpoint yet`, { status: 501 });
      return route(peer, param, body, headers);
    },
  };
}
