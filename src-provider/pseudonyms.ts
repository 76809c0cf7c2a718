// Pseudonyms of this provider's accounts (draft-mahy-mimi-pseudonyms "Connection flow"; the URIs
// are `mimi://<domain>/p/<random>`, src-shared/identifiers.ts). The draft leaves issuance and its
// rate limit to each provider; this is ours:
//
// - Issuance: a device asks for N pairs; each pair is a user pseudonym and a client pseudonym of
//   that device, two unrelated random ids. The mapping to the account and device stays here: it is
//   what lets this provider route a Welcome for a client pseudonym to the device, and nothing sent
//   to another provider carries it (key-packages.ts and federation/key-material.ts list client
//   pseudonyms, never devices; discovery and consent do not know pseudonyms).
// - Rate limit: a token bucket per account (one token per pseudonym; `burst` tokens at most,
//   `perHour` added back continuously), kept in the database so a restart refills nothing, and
//   a cap on pseudonyms active at once. A refusal is 429 with Retry-After and touches nothing else
//   of the account: it is this feature's own bucket.
// - Retiring withdraws (deletes) the pseudonym's KeyPackages; its row stays, retired, so it is
//   never issued or served again. It goes only with the account.
// - KeyPackages: only the device a client pseudonym was issued to uploads for it, marked
//   connection-only or not by the client (the KeyPackage extension itself is the client's MLS side).
//   They are opaque MLSMessages here, checked to be KeyPackages; one whose BasicCredential names a
//   user or device, or that is already published for another identity, is refused, since either
//   would tie the pseudonym to its account.
//
// Errors never tell a caller whether a pseudonym of another account exists: someone else's and an
// unknown one get the same answer.

import { fromUtf8 } from '../src-shared/bytes.js';
import { newPseudonymUri, parseMimiUriAs } from '../src-shared/identifiers.js';
import { decodeKeyPackage, unwrapMlsMessage } from '../src-shared/mls-structs.js';
import type {
  IssuePseudonymsResponse,
  PseudonymInfo,
  PseudonymKeyPackageCount,
  PseudonymListResponse,
  PseudonymQuota,
  RetirePseudonymResponse,
} from '../src-shared/provider-api.js';
import type { Actor } from './accounts.js';
import { ApiFailure, badRequest } from './errors.js';
import { RateLimitedFailure } from './http.js';
import { checkKeyPackage, keyPackageRef } from './key-packages.js';
import { LocalIdentities } from './room-members.js';
import type { PseudonymRow, Store } from './store.js';

/** Default bucket: 50 pseudonyms at once, 20 more per hour, 500 active at most. */
export const DEFAULT_PSEUDONYM_BURST = 50;
export const DEFAULT_PSEUDONYMS_PER_HOUR = 20;
export const DEFAULT_MAX_ACTIVE_PSEUDONYMS = 500;
/** Whatever the bucket, one request asks for at most this many. */
export const MAX_PSEUDONYMS_PER_REQUEST = 50;
/** KeyPackages per upload, and unclaimed ones a client pseudonym may keep stored. */
export const MAX_PSEUDONYM_KEY_PACKAGES_PER_UPLOAD = 100;
export const MAX_STORED_PSEUDONYM_KEY_PACKAGES = 100;

export interface PseudonymLimits {
  burst: number;
  perHour: number;
  maxActive: number;
}

export interface PseudonymsOptions {
  domain: string;
  store: Store;
  limits?: Partial<PseudonymLimits>;
  now?: () => number;
}

const HOUR_MS = 3_600_000;
const NO_KEY_PACKAGES: PseudonymKeyPackageCount = { connectionOnly: 0, other: 0 };

/** The limits with defaults filled in; throws on one that is not a positive integer. */
export function pseudonymLimits(given: Partial<PseudonymLimits> = {}): PseudonymLimits {
  const l = {
    burst: given.burst ?? DEFAULT_PSEUDONYM_BURST,
    perHour: given.perHour ?? DEFAULT_PSEUDONYMS_PER_HOUR,
    maxActive: given.maxActive ?? DEFAULT_MAX_ACTIVE_PSEUDONYMS,
  };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`pseudonym limit ${k} must be a positive integer, not ${v}`);
  }
  return l;
}

/** A KeyPackage's BasicCredential identity when it decodes as one (undefined otherwise: other credentials are opaque). */
function basicIdentity(mlsMessage: Uint8Array): string | undefined {
  try {
    const cred = decodeKeyPackage(unwrapMlsMessage(mlsMessage).body).leafNode.credential;
    return cred.credentialType === 'basic' ? fromUtf8(cred.identity) : undefined;
  } catch {
    return undefined;
  }
}

export class Pseudonyms {
  readonly domain: string;
  readonly limits: PseudonymLimits;
  private readonly store: Store;
  private readonly now: () => number;
  private readonly identities: LocalIdentities;

  constructor(opts: PseudonymsOptions) {
    this.domain = opts.domain;
    this.store = opts.store;
    this.identities = new LocalIdentities(opts.store, opts.domain);
    this.now = opts.now ?? Date.now;
    this.limits = pseudonymLimits(opts.limits);
  }

  /** The most one request may ask for. */
  get maxPerRequest(): number {
    return Math.min(MAX_PSEUDONYMS_PER_REQUEST, this.limits.burst);
  }

  /** Issues `count` pairs (1 to maxPerRequest, checked by the caller) to the actor's device, all or none. */
  issue(actor: Actor, count: number): IssuePseudonymsResponse {
    return this.store.tx(() => {
      const now = this.now();
      const active = this.store.countActivePseudonyms(actor.userId);
      if (active + count > this.limits.maxActive) {
        throw new ApiFailure(
          'notAllowed',
          `this account holds ${active} active pseudonyms and may hold ${this.limits.maxActive}; retire some before asking for ${count} more`,
        );
      }
      const tokens = this.tokens(actor.userId, now);
      if (tokens < count) {
        // Nothing is written: the bucket's state is a function of time, so not saving it loses nothing.
        const waitMs = Math.ceil(((count - tokens) * HOUR_MS) / this.limits.perHour);
        throw new RateLimitedFailure(
          `pseudonym issuance is limited to ${this.limits.burst} at once and ${this.limits.perHour} more an hour; ` +
            `${Math.floor(tokens)} available now, ${count} asked for; try again in ${Math.ceil(waitMs / 1000)} s`,
          waitMs,
        );
      }
      this.store.setPseudonymQuota(actor.userId, tokens - count, now);
      const issued: PseudonymInfo[] = [];
      for (let i = 0; i < count; i++) {
        const row: PseudonymRow = {
          user_pseudonym: newPseudonymUri(this.domain),
          client_pseudonym: newPseudonymUri(this.domain),
          user_id: actor.userId,
          device_uri: actor.deviceUri,
          state: 'active',
          issued_at: now,
          retired_at: null,
        };
        this.store.insertPseudonym(row.user_pseudonym, row.client_pseudonym, row.user_id, row.device_uri, now);
        issued.push(info(row, NO_KEY_PACKAGES));
      }
      return { issued, quota: this.quota(actor.userId, now) };
    });
  }

  list(actor: Actor): PseudonymListResponse {
    return {
      pseudonyms: this.store.pseudonymsOf(actor.userId).map((r) => info(r, { connectionOnly: r.connection_kps, other: r.other_kps })),
      quota: this.quota(actor.userId, this.now()),
    };
  }

  /** Retires one of the account's user pseudonyms (any of its devices may); again is a no-op. */
  retire(actor: Actor, userPseudonym: string): RetirePseudonymResponse {
    this.checkUri(userPseudonym, 'userPseudonym');
    return this.store.tx(() => {
      const row = this.store.pseudonymByUser(userPseudonym);
      if (!row || row.user_id !== actor.userId) {
        if (this.store.pseudonymByClient(userPseudonym)?.user_id === actor.userId) {
          throw badRequest(`${userPseudonym} is a client pseudonym; retire its user pseudonym`);
        }
        throw notYours(userPseudonym, 'user pseudonyms');
      }
      const now = this.now();
      let withdrawn = 0;
      if (this.store.retirePseudonym(userPseudonym, now)) withdrawn = this.store.deletePseudonymKeyPackages(row.client_pseudonym);
      return { pseudonym: info(this.store.pseudonymByUser(userPseudonym)!, NO_KEY_PACKAGES), withdrawnKeyPackages: withdrawn };
    });
  }

  /** Stores KeyPackages for a client pseudonym of the actor's device, all or none. */
  uploadKeyPackages(actor: Actor, clientPseudonym: string, keyPackages: Uint8Array[], connectionOnly: boolean): PseudonymKeyPackageCount {
    this.checkUri(clientPseudonym, 'clientPseudonym');
    if (keyPackages.length === 0) throw badRequest('keyPackages is empty');
    if (keyPackages.length > MAX_PSEUDONYM_KEY_PACKAGES_PER_UPLOAD) {
      throw badRequest(`at most ${MAX_PSEUDONYM_KEY_PACKAGES_PER_UPLOAD} KeyPackages per upload`);
    }
    keyPackages.forEach((kp, i) => {
      checkKeyPackage(kp, `keyPackages[${i}]`);
      const identity = basicIdentity(kp);
      if (identity !== undefined && (parseMimiUriAs('user', identity) || parseMimiUriAs('device', identity))) {
        throw badRequest(`keyPackages[${i}] has a credential naming ${identity}; a pseudonym's KeyPackage must not name a user or device`);
      }
    });
    return this.store.tx(() => {
      const row = this.store.pseudonymByClient(clientPseudonym);
      if (!row || row.user_id !== actor.userId) {
        if (this.store.pseudonymByUser(clientPseudonym)?.user_id === actor.userId) {
          throw badRequest(`${clientPseudonym} is a user pseudonym; KeyPackages are uploaded for its clientPseudonym`);
        }
        throw notYours(clientPseudonym, 'client pseudonyms');
      }
      if (row.device_uri !== actor.deviceUri) {
        throw badRequest(`${clientPseudonym} was issued to another device of this account (${row.device_uri}); upload its KeyPackages from there`);
      }
      if (row.state !== 'active') throw badRequest(`${clientPseudonym} is retired; it takes no KeyPackages`);
      const now = this.now();
      keyPackages.forEach((kp, i) => {
        const ref = keyPackageRef(kp);
        if (this.store.keyPackageRefHeldElsewhere(ref, clientPseudonym)) {
          throw badRequest(`keyPackages[${i}] is already published for another identity; each pseudonym needs KeyPackages of its own`);
        }
        this.store.insertPseudonymKeyPackage(clientPseudonym, ref, kp, connectionOnly, now);
      });
      const counts = this.store.pseudonymKeyPackageCounts(clientPseudonym);
      // Thrown inside the transaction, so the whole upload is rolled back.
      if (counts.connectionOnly + counts.other > MAX_STORED_PSEUDONYM_KEY_PACKAGES) {
        throw badRequest(`too many stored KeyPackages (max ${MAX_STORED_PSEUDONYM_KEY_PACKAGES} unclaimed per client pseudonym)`);
      }
      return counts;
    });
  }

  /** The user pseudonym a request is made as (asPseudonym): an active one of the actor's account. */
  actingAs(actor: Actor, userPseudonym: string): string {
    return this.identities.actingUser(actor, userPseudonym);
  }

  private checkUri(uri: string, field: string): void {
    if (parseMimiUriAs('pseudonym', uri)?.domain !== this.domain) {
      throw badRequest(`field "${field}" must be a pseudonym of this provider (mimi://${this.domain}/p/...), not ${JSON.stringify(uri)}`);
    }
  }

  /** Tokens in the account's bucket at `now` (a new account's bucket is full). */
  private tokens(userId: number, now: number): number {
    const q = this.store.pseudonymQuota(userId);
    if (!q) return this.limits.burst;
    const elapsed = Math.max(0, now - q.updatedAt);
    return Math.min(this.limits.burst, q.tokens + (elapsed * this.limits.perHour) / HOUR_MS);
  }

  private quota(userId: number, now: number): PseudonymQuota {
    return {
      available: Math.floor(this.tokens(userId, now)),
      burst: this.limits.burst,
      perHour: this.limits.perHour,
      active: this.store.countActivePseudonyms(userId),
      maxActive: this.limits.maxActive,
    };
  }
}

/** The same answer for an unknown pseudonym and another account's. */
function notYours(uri: string, what: string): ApiFailure {
  return badRequest(`${uri} is not one of your ${what}`);
}

function info(r: PseudonymRow, keyPackages: PseudonymKeyPackageCount): PseudonymInfo {
  return {
    userPseudonym: r.user_pseudonym,
    clientPseudonym: r.client_pseudonym,
    deviceUri: r.device_uri,
    state: r.state,
    issuedAt: r.issued_at,
    ...(r.retired_at !== null ? { retiredAt: r.retired_at } : {}),
    keyPackages,
  };
}
