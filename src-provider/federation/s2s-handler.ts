// The seam between the federation transport (mTLS, routing, body limits: server.ts + mtls.ts) and
// the MIMI endpoint logic. The server authenticates the peer and reads the body, then calls
// `handle`; the logic never sees HTTP.
//
// How the logic gets its dependencies: `startProvider({ s2s })` accepts either a ready S2sHandler
// or a factory `(deps: S2sDeps) => S2sHandler`, called once at start-up with the provider's own
// objects (store, hub, peer client, outbox, seen log). The same objects are also on
// `RunningProvider.federation` for tests and the bench.

import type Database from 'better-sqlite3';
import type { IncomingHttpHeaders } from 'node:http';
import type { Hub } from '../hub.js';
import type { Store } from '../store.js';
import type { FederationConfig } from './config.js';
import type { FanoutOutbox } from './fanout-outbox.js';
import type { PeerClient } from './peer-client.js';
import type { SeenLog } from './seen-log.js';

/** What an endpoint answers; the body goes out as `Content-Type: application/mimi`. */
export interface S2sReply {
  status: number;
  body?: Uint8Array;
  headers?: Record<string, string>;
}

export interface S2sHandler {
  /**
   * `peer` is the authenticated requesting provider's domain, `endpoint` a directory key (e.g.
   * 'notify'), `param` the percent-decoded path parameter (e.g. a room URI), `body` the raw request
   * body (already bounded by MAX_BODY_BYTES), `headers` the request's (e.g. /notify's fanout
   * sequence). Throw ApiFailure for a JSON ApiError answer.
   */
  handle(peer: string, endpoint: string, param: string, body: Uint8Array, headers?: IncomingHttpHeaders): Promise<S2sReply>;
  /**
   * The directory keys this handler really serves (the MIMI directory announces only these).
   * A handler that does not say (a test's or a bench's own) is taken to serve every endpoint.
   */
  readonly endpoints?: readonly string[];
}

/** Everything the endpoint logic may need, built by startProvider. */
export interface S2sDeps {
  domain: string;
  store: Store;
  db: Database.Database;
  hub: Hub;
  config: FederationConfig;
  peerClient: PeerClient;
  outbox: FanoutOutbox;
  seenLog: SeenLog;
  log: (msg: string) => void;
}

export type S2sFactory = (deps: S2sDeps) => S2sHandler;
