// KeyPackages over Oblivious HTTP, the provider's three roles (docs/ohttp-key-packages.md):
//
// - Gateway, for our own users (RSP): publishes its key configuration signed with the provider key
//   (MIMI endpoint ohttpKeys), opens encapsulated requests (ohttpGateway, ohttp-gateway.ts), and
//   redeems Privacy Pass tokens: in ONE transaction the token's nonce is recorded as spent and one
//   KeyPackage of each of the user's devices is handed out (and remembered by ref, so the Welcome
//   that later names it reaches the device); nothing changes unless all of that succeeds. Each
//   KeyPackage handed out comes with the provider's vouch (key-package-vouch.ts).
// - Token issuer (RSP): rides on /identifierQuery. Every answer names the issuer key of each user
//   found; a request carrying a KeyPackageTokenRequest gets blind tokens for its target when the
//   requester (of the asking provider's domain, authenticated by mutual TLS) may fetch the target's
//   KeyPackages for every room under the consent rules, within rate limits per provider and per
//   requester. A new token epoch (invalidateTokens) makes every outstanding token worthless.
// - Relay, for our own clients (LSP): fetches a peer's key configuration and forwards an
//   encapsulated request to the peer's gateway over mutual TLS. It sees the account, the gateway's
//   domain and sizes; nothing here stores or logs the bytes.
// - Hub: a commit that adds a KeyPackage not claimed through us must carry the vouch of the
//   KeyPackage's provider in its authenticated_data. The vouching provider's key is fetched over
//   mutual TLS before the commit is judged (prepareCommit) and looked up synchronously inside it.

import { parseMimiUri, parseMimiUriAs } from '../src-shared/identifiers.js';
import {
  decodeKeyPackageTokenRequest,
  encodeKeyPackageTokenKeys,
  encodeKeyPackageTokenResponse,
  KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID,
  MAX_TOKENS_PER_ISSUANCE,
  type KeyPackageTokenResponse,
} from '../src-shared/key-package-request.js';
import { TokenError, TokenIssuer } from '../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry, encodeOhttpKeysEntry, signOhttpKeys, signVouch, VOUCH_LIFETIME_MS, vouchesOf } from '../src-shared/key-package-vouch.js';
import type { ComponentData, IdentifierRequest, IdentifierResponse } from '../src-shared/mimi-protocol.js';
import { peekMlsMessage } from '../src-shared/mls-wire.js';
import { encodeKeyConfigs } from '../src-shared/ohttp.js';
import type { ConsentDecision } from './federation/key-material.js';
import type { PeerClient } from './federation/peer-client.js';
import type { ProviderIdentity } from './federation/provider-identity.js';
import type { S2sReply } from './federation/s2s-handler.js';
import { RateLimiter } from './rate-limits.js';
import { ApiFailure, badRequest, decodeStrict } from './errors.js';
import type { KeyPackages } from './key-packages.js';
import { advanceTokenEpoch, ensureOhttpSecrets, OhttpKeysError } from './ohttp-keys.js';
import { GatewayError, KeyPackageGateway, type Redemption } from './ohttp-gateway.js';
import type { Store } from './store.js';

/** An encapsulated KeyPackage request is a token, a URI and some framing: well under this. */
export const MAX_ENCAPSULATED_BYTES = 8 * 1024;
/** An answer carries one KeyPackage per device of the user (or a bundle's worth). */
export const MAX_ENCAPSULATED_RESPONSE_BYTES = 1024 * 1024;
/** Issuer keys named per answer (a page of discovery results). */
const MAX_TOKEN_KEYS = 20;
/** Handouts are kept as long as a KeyPackage can be used (the engine's lifetime, with a margin). */
const HANDOUT_KEPT_MS = 120 * 24 * 3600_000;
/** A peer's provider key is fetched again after this long. */
const PROVIDER_KEY_TTL_MS = 3600_000;

export interface OhttpServiceOptions {
  domain: string;
  /** Only for a provider from before store v18: its ohttp-gateway.json is imported from here once. */
  dataDir: string;
  store: Store;
  keyPackages: KeyPackages;
  identity: ProviderIdentity;
  peerClient: Pick<PeerClient, 'post'>;
  /** Whether `requester` may fetch `target`'s KeyPackages for every room (consent.ts). */
  consent: (requester: string, target: string) => ConsentDecision;
  /** Token issuance: a bucket of `burst` per requesting provider and per requester, refilled by `perMinute`. */
  issuance?: { burst: number; perMinute: number };
  now?: () => number;
  log?: (msg: string) => void;
}

export class OhttpService {
  private readonly domain: string;
  private readonly store: Store;
  private readonly now: () => number;
  private issuer: TokenIssuer;
  /** The token secret, the same in every epoch (only the epoch moves). */
  private readonly tokenSecret: Uint8Array;
  private readonly gateway: KeyPackageGateway;
  private readonly entry: Uint8Array;
  private readonly perProvider: RateLimiter;
  private readonly perRequester: RateLimiter;
  private readonly peerKeys = new Map<string, { key: Uint8Array; at: number }>();

  constructor(private readonly opts: OhttpServiceOptions) {
    this.domain = opts.domain;
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    // In the database, shared by every node of the domain (the first to start makes them).
    const secrets = ensureOhttpSecrets(opts.store, opts.dataDir, opts.domain, opts.log);
    this.tokenSecret = secrets.tokenSecret;
    this.issuer = new TokenIssuer(opts.domain, secrets.tokenSecret, secrets.tokenEpoch, this.generationOf);
    // A handout outlives its KeyPackage (clients make them for 90 days) only as dead weight.
    this.store.tx(() => this.store.forgetOhttpHandoutsBefore(this.now() - HANDOUT_KEPT_MS));
    const issuance = opts.issuance ?? { burst: 20, perMinute: 10 };
    // In the database (rate-limits.ts), like the token secret: every node issues the same tokens,
    // so every node must spend from the same buckets.
    this.perProvider = new RateLimiter(opts.store, 'kp-token-issuance-provider', issuance.perMinute * 10, this.now, issuance.burst * 10);
    this.perRequester = new RateLimiter(opts.store, 'kp-token-issuance', issuance.perMinute, this.now, issuance.burst);
    this.entry = encodeOhttpKeysEntry(signOhttpKeys(opts.identity.signaturePrivateKey, opts.identity.signaturePublicKey, encodeKeyConfigs([secrets.gatewayKey.config])));
    const self = this;
    this.gateway = new KeyPackageGateway({
      domain: opts.domain,
      keys: [secrets.gatewayKey],
      get tokens() {
        return self.tokens;
      },
      source: { redeem: (user, nonce, epoch) => this.redeem(user, nonce, epoch) },
      vouch: (keyPackageRef, client) => signVouch(opts.identity.signaturePrivateKey, { keyPackageRef, client, notAfter: this.now() + VOUCH_LIFETIME_MS }),
    });
  }

  get tokenEpoch(): number {
    return this.tokens.epoch;
  }

  /**
   * The issuer of the current epoch. The epoch is read from the database on every use (one
   * primary-key read per issuance or redemption), because the operator (provider-admin) or
   * another node may have started a new one since: a token of the old epoch must be refused by
   * every node from that moment on, not from its next restart.
   */
  private get tokens(): TokenIssuer {
    const epoch = this.store.ohttpTokenEpoch(this.domain);
    if (epoch === undefined) {
      // An internal error: logged for the operator, a bare 500 to the peer.
      throw new OhttpKeysError(`the OHTTP gateway secrets of ${this.domain} are gone from the database (table ohttp_gateway_secrets): restart the provider to make new ones`);
    }
    if (epoch !== this.issuer.epoch) {
      this.issuer = new TokenIssuer(this.domain, this.tokenSecret, epoch, this.generationOf);
      // Their tokens no longer verify, so their nonces need not be kept (every node may do this).
      this.store.tx(() => this.store.forgetSpentTokensBefore(epoch));
    }
    return this.issuer;
  }

  // ---- gateway (our users' KeyPackages) ----

  /** MIMI ohttpKeys: the signed key configuration. */
  serveKeys(param: string): S2sReply {
    if (param !== this.domain) throw badRequest(`ohttpKeys/{domain} names ${JSON.stringify(param)}, but this provider is ${this.domain}`);
    return { status: 200, body: this.entry };
  }

  /** MIMI ohttpGateway: message/ohttp-req in, message/ohttp-res out; what cannot be opened is a 4xx that changed nothing. */
  async serveGateway(param: string, body: Uint8Array): Promise<S2sReply> {
    if (param !== this.domain) throw badRequest(`ohttpGateway/{domain} names ${JSON.stringify(param)}, but this provider is ${this.domain}`);
    if (body.length > MAX_ENCAPSULATED_BYTES) throw new ApiFailure('tooLarge', `an encapsulated KeyPackage request is at most ${MAX_ENCAPSULATED_BYTES} bytes`);
    try {
      return { status: 200, body: await this.gateway.handle(body) };
    } catch (e) {
      if (e instanceof GatewayError) throw badRequest(`the encapsulated request cannot be opened: ${e.message}`, e.status);
      throw e;
    }
  }

  /** In one transaction: the token's nonce spent, one KeyPackage of each device handed out. */
  redeem(user: string, nonce: Uint8Array, epoch: number): Redemption {
    const target = this.store.userByUri(user);
    if (!target || parseMimiUriAs('user', user)?.domain !== this.domain) return { status: 'unknownUser' };
    const NONE = new Error('no KeyPackage');
    try {
      return this.store.tx(() => {
        const now = this.now();
        if (!this.store.spendToken(nonce, epoch, now)) return { status: 'badToken' } as const;
        const handed: { keyPackage: Uint8Array; client: string }[] = [];
        for (const device of this.store.devicesOfUser(target.id)) {
          const kp = this.opts.keyPackages.claimOneFor(device.device_uri);
          if (kp.status !== 'success') continue;
          this.store.recordOhttpHandout(kp.ref, device.device_uri, now);
          handed.push({ keyPackage: kp.keyPackage, client: device.device_uri });
        }
        if (handed.length === 0) throw NONE; // rolls the spent token back too
        return { status: 'success', keyPackages: handed } as const;
      });
    } catch (e) {
      if (e === NONE) return { status: 'noKeyPackage' };
      throw e;
    }
  }

  private readonly generationOf = (target: string): number => this.store.tokenGeneration(target);

  /**
   * `user` withdrew consent (consent.ts): every token issued for them so far stops working (their
   * issuer key moves to a new generation); requesters ask again, and are refused if no longer allowed.
   */
  withdrawTokens(user: string): void {
    if (parseMimiUriAs('user', user)?.domain !== this.domain) return;
    this.store.tx(() => this.store.bumpTokenGeneration(user));
  }

  /** Starts a new token epoch: every token issued so far stops working. Returns the new epoch. */
  invalidateTokens(): number {
    advanceTokenEpoch(this.store, this.domain);
    return this.tokens.epoch;
  }

  // ---- token issuance (rides on /identifierQuery) ----

  /**
   * Components for an IdentifierResponse to `peer`: the issuer key of each of our users found, and
   * the answer to a KeyPackageTokenRequest in `req`. Throws 400 for a malformed token request.
   */
  async issuance(peer: string, req: IdentifierRequest, res: IdentifierResponse): Promise<ComponentData[]> {
    const out: ComponentData[] = [];
    // Keys only for a query that names someone by handle (finding a contact to add), not for
    // browsing by name: each key costs a derivation.
    const byHandle = req.queryElements.some((e) => e.searchType === 'handle');
    const found = byHandle && res.responseCode === 'success' ? res.uri.filter((u) => parseMimiUriAs('user', u)?.domain === this.domain).slice(0, MAX_TOKEN_KEYS) : [];
    if (found.length) {
      const tokens = this.tokens; // the epoch read once for the whole answer
      const keys = await Promise.all(found.map(async (user) => ({ user, tokenKey: await tokens.publicKey(user) })));
      out.push({ componentId: KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID, data: encodeKeyPackageTokenKeys({ keys }) });
    }
    const asked = req.idRequestExtensions.find((e) => e.componentId === KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID);
    if (asked) out.push({ componentId: KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID, data: encodeKeyPackageTokenResponse(await this.issue(peer, asked.data)) });
    return out;
  }

  private async issue(peer: string, data: Uint8Array): Promise<KeyPackageTokenResponse> {
    const t = decodeStrict(decodeKeyPackageTokenRequest, data, 'KeyPackageTokenRequest');
    let requesterDomain: string;
    try {
      const p = parseMimiUri(t.requester);
      if (p.kind !== 'user' && p.kind !== 'pseudonym') throw new Error('not a user');
      requesterDomain = p.domain;
    } catch {
      throw badRequest('KeyPackageTokenRequest.requester is not a user or pseudonym URI');
    }
    if (requesterDomain !== peer) throw badRequest(`KeyPackageTokenRequest.requester is not a user of ${peer}, which asks`);
    const none = (status: Exclude<KeyPackageTokenResponse['status'], 'issued'>): KeyPackageTokenResponse => ({ status, tokenResponses: new Uint8Array() });
    if (parseMimiUriAs('user', t.target)?.domain !== this.domain || !this.store.userByUri(t.target)) return none('unknownUser');
    if (this.opts.consent(t.requester, t.target) !== 'ok') return none('noConsent');
    if (this.perProvider.take(peer) > 0 || this.perRequester.take(t.requester) > 0) return none('rateLimited');
    try {
      return { status: 'issued', tokenResponses: await this.tokens.issue(t.target, t.tokenRequests, MAX_TOKENS_PER_ISSUANCE) };
    } catch (e) {
      if (e instanceof TokenError) throw badRequest(e.message);
      throw e;
    }
  }

  // ---- relay (our clients, to other providers' gateways) ----

  /** A peer's signed key configuration (OhttpKeysEntry), for our client; 404 when it offers none. */
  async keysOf(domain: string): Promise<Uint8Array> {
    if (domain === this.domain) return this.entry;
    const body = await this.peer(domain, 'ohttpKeys', new Uint8Array(), 'its OHTTP keys');
    try {
      const entry = decodeOhttpKeysEntry(body);
      this.peerKeys.set(domain, { key: entry.providerKey, at: this.now() });
    } catch (e) {
      throw new ApiFailure('peerUnreachable', `${domain} sent unusable OHTTP keys: ${(e as Error).message}`, { status: 502 });
    }
    return body;
  }

  /** Forwards an encapsulated request to `domain`'s gateway and returns its encapsulated answer. */
  async relay(domain: string, encapsulated: Uint8Array): Promise<Uint8Array> {
    if (encapsulated.length === 0 || encapsulated.length > MAX_ENCAPSULATED_BYTES) throw badRequest(`an encapsulated request is 1 to ${MAX_ENCAPSULATED_BYTES} bytes`);
    if (domain === this.domain) return (await this.serveGateway(domain, encapsulated)).body ?? new Uint8Array();
    const body = await this.peer(domain, 'ohttpGateway', encapsulated, 'the KeyPackage request');
    if (body.length > MAX_ENCAPSULATED_RESPONSE_BYTES) throw new ApiFailure('peerUnreachable', `${domain}'s gateway answer is too large`, { status: 502 });
    return body;
  }

  private async peer(domain: string, endpoint: 'ohttpKeys' | 'ohttpGateway', body: Uint8Array, what: string): Promise<Uint8Array> {
    try {
      return (await this.opts.peerClient.post(domain, endpoint, domain, body)).body;
    } catch (e) {
      const status = (e as { status?: number }).status;
      const unlisted = /directory has no "/.test((e as Error).message);
      if (status === 404 || status === 501 || unlisted) throw new ApiFailure('notFound', `${domain} offers no OHTTP gateway: use the ordinary path`);
      if (status !== undefined && status >= 400 && status < 500) throw badRequest(`${domain} refused ${what} (HTTP ${status})`, status === 413 ? 413 : 400);
      throw new ApiFailure('peerUnreachable', `${domain} could not be reached for ${what}: ${(e as Error).message}; try again later`, { status: 502 });
    }
  }

  // ---- the hub's check of vouches ----

  /**
   * Before a commit is judged: fetches (over mutual TLS) the provider key of every domain whose
   * vouch the commit carries, so `vouchKey` can answer inside the transaction. Never throws: a
   * vouch whose key could not be had is refused by the commit check.
   */
  async prepareCommit(commit: Uint8Array): Promise<void> {
    let domains: string[];
    try {
      domains = [...new Set(vouchesOf(peekMlsMessage(commit).authenticatedData).map((v) => parseMimiUri(v.client).domain))];
    } catch {
      return; // malformed: judged (and refused) by the commit check
    }
    await Promise.all(
      domains
        .filter((d) => d !== this.domain && !this.freshKey(d))
        .map((d) =>
          this.keysOf(d).catch((e: Error) => {
            this.opts.log?.(`provider key of ${d} for a vouched commit: ${e.message}`);
          }),
        ),
    );
  }

  /** The provider key that vouches for `domain`'s KeyPackages, if known. */
  vouchKey(domain: string): Uint8Array | undefined {
    if (domain === this.domain) return this.opts.identity.signaturePublicKey;
    return this.peerKeys.get(domain)?.key;
  }

  private freshKey(domain: string): boolean {
    const k = this.peerKeys.get(domain);
    return k !== undefined && this.now() - k.at < PROVIDER_KEY_TTL_MS;
  }
}
