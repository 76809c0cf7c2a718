// The OHTTP gateway for KeyPackage requests (docs/ohttp-key-packages.md): opens an Encapsulated
// Request (RFC 9458) with this provider's gateway key, reads the binary HTTP request inside
// (RFC 9292), answers `POST /keyPackage` (one KeyPackageRequest) or `POST /keyPackages` (a bundle)
// and seals the binary HTTP response back to the client.
//
// It never learns who asks: the request arrives from a relay (the requester's own provider), and
// the token is a Privacy Pass token it cannot link to its issuance. What it checks: the token is
// one it issued for that very user in the current key epoch, and unspent; then, in one transaction
// (KeyPackageSource.redeem), the token is spent and one KeyPackage of each of the user's clients
// is claimed. A request that fails any check changes nothing. A request that cannot be opened
// (garbage, another key, cut) is refused before anything else is read.
//
// Pure apart from the injected source (the store): no HTTP here; the caller moves bytes.

import { decodeRequest, encodeResponse, header, type BhttpResponse } from '../src-shared/bhttp.js';
import {
  decodeKeyPackageRequest,
  decodeKeyPackageRequests,
  encodeKeyPackageResponseList,
  encodeKeyPackageResults,
  KEY_PACKAGE_PATH,
  KEY_PACKAGES_PATH,
  MLS10,
  type KeyPackageRequest,
  type KeyPackageResult,
} from '../src-shared/key-package-request.js';
import type { TokenIssuer } from '../src-shared/key-package-tokens.js';
import { decodeKeyPackage, unwrapMlsMessage } from '../src-shared/mls-structs.js';
import { decapsulateRequest, encapsulateResponse, OhttpError, type GatewayKey } from '../src-shared/ohttp.js';
import { toB64, utf8 } from '../src-shared/bytes.js';
import { encodeVouches, VOUCHES_HEADER, type KeyPackageVouch } from '../src-shared/key-package-vouch.js';
import { MIMI_MEDIA_TYPE } from '../src-shared/mimi-protocol.js';
import { keyPackageRef as mlsKeyPackageRef } from './key-packages.js';

/** The only ciphersuite this provider's clients use. */
const CIPHER_SUITE = 1;

/** One KeyPackage handed out: the MLSMessage, and the client (device URI) it belongs to. */
export interface HandedOut {
  keyPackage: Uint8Array;
  client: string;
}

/** What the store does for one redeemed request, atomically: nothing changes unless `success`. */
export type Redemption = { status: 'success'; keyPackages: HandedOut[] } | { status: 'unknownUser' | 'badToken' | 'noKeyPackage' };


export interface KeyPackageSource {
  /**
   * In one transaction: record `nonce` as spent (badToken if it was), and claim one KeyPackage of
   * every client of `user` (MLSMessage encodings); roll back and say why when there is none.
   */
  redeem(user: string, nonce: Uint8Array, epoch: number): Redemption;
}

/** A request the gateway refuses before opening it: the relay answers it with this HTTP status. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export class KeyPackageGateway {
  constructor(
    private readonly opts: {
      domain: string;
      keys: GatewayKey[];
      tokens: TokenIssuer;
      source: KeyPackageSource;
      /** Signs the vouch for each KeyPackage handed out (the provider key); none when absent. */
      vouch?: (keyPackageRef: Uint8Array, client: string) => KeyPackageVouch;
    },
  ) {}

  /** message/ohttp-req in, message/ohttp-res out. Throws GatewayError (400) for what cannot be opened. */
  async handle(encapsulated: Uint8Array): Promise<Uint8Array> {
    let opened;
    try {
      opened = await decapsulateRequest(this.opts.keys, encapsulated);
    } catch (e) {
      if (e instanceof OhttpError) throw new GatewayError(e.reason === 'unknownKey' ? 422 : 400, e.message);
      throw e;
    }
    const response = await this.answer(opened.request);
    return encapsulateResponse(opened.context, encodeResponse(response));
  }

  /** The binary HTTP answer to the binary HTTP request inside. */
  private async answer(bytes: Uint8Array): Promise<BhttpResponse> {
    let req;
    try {
      req = decodeRequest(bytes);
    } catch (e) {
      return text(400, `not a binary HTTP request: ${(e as Error).message}`);
    }
    if (req.method !== 'POST') return text(405, 'only POST is served here');
    if (req.authority !== '' && req.authority.split(':')[0] !== this.opts.domain) return text(421, `this gateway answers for ${this.opts.domain}`);
    const type = header(req.headers, 'content-type');
    if (type !== undefined && type !== MIMI_MEDIA_TYPE) return text(415, `send ${MIMI_MEDIA_TYPE}`);
    if (req.path === KEY_PACKAGE_PATH) {
      let one: KeyPackageRequest;
      try {
        one = decodeKeyPackageRequest(req.content);
      } catch (e) {
        return text(400, (e as Error).message);
      }
      const vouches: KeyPackageVouch[] = [];
      const r = await this.serve(one, vouches);
      switch (r.status) {
        case 'success':
          return { status: 200, headers: this.headers(vouches), content: encodeKeyPackageResponseList(r.keyPackages), trailers: [] };
        case 'badToken':
          return text(401, 'the bearer token is missing, spent, forged or for another user: go through discovery again');
        case 'unknownUser':
          return text(404, 'no such user here');
        case 'noKeyPackage':
          return text(409, 'the user has no KeyPackage left');
        case 'unsupported':
          return text(422, `only MLS 1.0 with ciphersuite ${CIPHER_SUITE}`);
      }
    }
    if (req.path === KEY_PACKAGES_PATH) {
      let many: KeyPackageRequest[];
      try {
        many = decodeKeyPackageRequests(req.content).requests;
      } catch (e) {
        return text(400, (e as Error).message);
      }
      const results: KeyPackageResult[] = [];
      const vouches: KeyPackageVouch[] = [];
      for (const one of many) results.push(await this.serve(one, vouches));
      return { status: 200, headers: this.headers(vouches), content: encodeKeyPackageResults({ results }), trailers: [] };
    }
    return text(404, `no ${req.path} here: ${KEY_PACKAGE_PATH} or ${KEY_PACKAGES_PATH}`);
  }

  private async serve(one: KeyPackageRequest, vouches: KeyPackageVouch[]): Promise<KeyPackageResult> {
    if (one.version !== MLS10 || one.cipherSuite !== CIPHER_SUITE) return { status: 'unsupported' };
    const checked = await this.opts.tokens.check(one.userId, one.bearerToken);
    if (!checked.ok) return { status: 'badToken' };
    const r = this.opts.source.redeem(one.userId, checked.nonce, this.opts.tokens.epoch);
    if (r.status !== 'success') return r;
    const keyPackages = r.keyPackages.map((h) => decodeKeyPackage(unwrapMlsMessage(h.keyPackage).body));
    if (this.opts.vouch) for (const h of r.keyPackages) vouches.push(this.opts.vouch(mlsKeyPackageRef(h.keyPackage), h.client));
    return { status: 'success', keyPackages };
  }

  private headers(vouches: KeyPackageVouch[]): BhttpResponse['headers'] {
    return [['content-type', MIMI_MEDIA_TYPE], ...(vouches.length ? [[VOUCHES_HEADER, toB64(encodeVouches(vouches))] as [string, string]] : [])];
  }
}

function text(status: number, message: string): BhttpResponse {
  return { status, headers: [['content-type', 'text/plain; charset=utf-8']], content: utf8(message), trailers: [] };
}
