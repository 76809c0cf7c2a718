// Bearer tokens for KeyPackage requests over OHTTP (docs/ohttp-key-packages.md): Privacy Pass
// (RFC 9578) privately verifiable tokens, type 0x0001 (VOPRF(P-384, SHA-384), RFC 9497), issued
// by the target's provider during discovery and redeemed at its OHTTP gateway.
//
// Why these tokens: the seed asks for a bearer token so that the endpoint cannot be used to
// exhaust a user's KeyPackages, while OHTTP keeps the requester's own provider from learning whom
// they contact. A plain bearer token handed out at discovery would let the target's provider link
// the KeyPackage request to the discovery query (and so to the requester's identity and provider):
// a blind-signed token cannot be linked, because the issuer never sees the token it signs.
//
// Binding to the target: the issuer checks consent (requester → target) when it issues, so a token
// must not be usable for another target. The issuer key is derived per target user (from the
// provider's secret and the key epoch), and the challenge's redemption context is the hash of the
// target's URI; a token made for bob verifies only under bob's key and bob's challenge. The keys
// tell the provider nothing it does not know anyway (the request names the target in user_id).
// Invalidation: a new epoch makes every outstanding token worthless; spent tokens are refused by
// their nonce (the caller keeps the spent set).
//
// Pure apart from the crypto library (no I/O).

import type { privateVerif, Token, TokenChallenge } from '@cloudflare/privacypass-ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.js';

export const TOKEN_TYPE_VOPRF = 0x0001;
/** RFC 9578 §5.1 TokenRequest for type 0x0001: token_type(2) + truncated_token_key_id(1) + blinded_msg(Ne = 49). */
export const TOKEN_REQUEST_BYTES = 52;
/** RFC 9578 §5.2 TokenResponse: evaluate_msg(Ne = 49) + evaluate_proof(2 × Ns = 96). */
export const TOKEN_RESPONSE_BYTES = 145;
/** RFC 9578 §2.2 Token: type(2) + nonce(32) + challenge_digest(32) + token_key_id(32) + authenticator(Nk = 48). */
export const TOKEN_BYTES = 146;

/** The libraries, loaded on first use (privacy-pass-lib.ts says why). */
let loaded: Promise<typeof import('./privacy-pass-lib.js')> | undefined;
const lib = () => (loaded ??= import('./privacy-pass-lib.js'));

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The challenge every token for `target` at `provider` answers (both sides build the same one). */
async function tokenChallenge(provider: string, target: string): Promise<TokenChallenge> {
  const { TokenChallenge } = await lib();
  return new TokenChallenge(TOKEN_TYPE_VOPRF, provider, sha256(utf8(`mimi key package token ${target}`)), [provider]);
}

const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/**
 * The issuer key pair for one target in one epoch and generation: derived, so only the generation
 * is stored per user. The generation moves when the target withdraws consent, so tokens issued
 * before stop working for that one user (0 adds nothing: keys of users who never withdrew stay as
 * they were; a URI never holds a NUL, so the suffix cannot be read as part of it).
 */
export async function targetIssuerKey(secret: Uint8Array, epoch: number, target: string, generation = 0): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> {
  if (secret.length < 32) throw new TokenError('the token secret must be at least 32 bytes');
  const info = concatBytes(utf8('mimi key package tokens v1'), u32(epoch), utf8(target), generation > 0 ? concatBytes(new Uint8Array([0]), u32(generation)) : new Uint8Array());
  const { deriveKeyPair, Oprf } = await lib();
  return deriveKeyPair(Oprf.Mode.VOPRF, Oprf.Suite.P384_SHA384, secret, info);
}

function split(bytes: Uint8Array, size: number, what: string, max: number): Uint8Array[] {
  if (bytes.length === 0 || bytes.length % size !== 0) throw new TokenError(`${what} must be a whole number of ${size}-byte items`);
  const n = bytes.length / size;
  if (n > max) throw new TokenError(`at most ${max} ${what} at once`);
  return Array.from({ length: n }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
}

/** The target's provider: issues blind tokens for a target, and checks a redeemed one. */
export class TokenIssuer {
  /** Derived keys of recent targets: a derivation is a P-384 scalar multiplication. */
  private readonly keys = new Map<string, Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }>>();

  constructor(
    private readonly provider: string,
    private readonly secret: Uint8Array,
    readonly epoch: number,
    /** The target's current token generation (the store's); always 0 when absent. */
    private readonly generationOf: (target: string) => number = () => 0,
  ) {}

  private keyOf(target: string): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> {
    const generation = this.generationOf(target);
    const id = `${generation}:${target}`;
    let k = this.keys.get(id);
    if (!k) {
      k = targetIssuerKey(this.secret, this.epoch, target, generation);
      this.keys.set(id, k);
      if (this.keys.size > 1024) this.keys.delete(this.keys.keys().next().value!);
    }
    return k;
  }

  async publicKey(target: string): Promise<Uint8Array> {
    return (await this.keyOf(target)).publicKey;
  }

  /** Answers concatenated TokenRequests with concatenated TokenResponses, one each, in order. */
  async issue(target: string, requests: Uint8Array, max: number): Promise<Uint8Array> {
    const { privateKey, publicKey } = await this.keyOf(target);
    const { privateVerif } = await lib();
    const issuer = new privateVerif.Issuer(this.provider, privateKey, publicKey);
    const keyId = (await issuer.tokenKeyID())[31];
    const out: Uint8Array[] = [];
    for (const bytes of split(requests, TOKEN_REQUEST_BYTES, 'token requests', max)) {
      let req: InstanceType<typeof privateVerif.TokenRequest>;
      try {
        req = privateVerif.TokenRequest.deserialize(bytes);
      } catch (e) {
        throw new TokenError(`a token request is malformed: ${(e as Error).message}`);
      }
      // RFC 9578 §5.3: the truncated key id must name this issuer's key.
      if (req.truncatedTokenKeyId !== keyId) throw new TokenError('a token request names another key (stale discovery answer?)');
      try {
        out.push((await issuer.issue(req)).serialize());
      } catch (e) {
        throw new TokenError(`a token request could not be evaluated: ${(e as Error).message}`);
      }
    }
    return concatBytes(...out);
  }

  /**
   * Whether `token` is a valid token for `target` under this epoch's key. Returns its nonce (what a
   * spent set records) or why not; never throws on bad input.
   */
  async check(target: string, token: Uint8Array): Promise<{ ok: true; nonce: Uint8Array } | { ok: false; reason: string }> {
    if (token.length !== TOKEN_BYTES) return { ok: false, reason: `a token is ${TOKEN_BYTES} bytes` };
    const { privateVerif, Token, TOKEN_TYPES } = await lib();
    let t: Token;
    try {
      t = Token.deserialize(TOKEN_TYPES.VOPRF, token);
    } catch {
      return { ok: false, reason: 'not a token' };
    }
    if (t.authInput.tokenType !== TOKEN_TYPE_VOPRF) return { ok: false, reason: 'not a VOPRF token' };
    const { privateKey, publicKey } = await this.keyOf(target);
    const keyId = sha256(publicKey);
    if (!bytesEqual(t.authInput.tokenKeyId, keyId)) return { ok: false, reason: 'made for another key (another user, or an old epoch)' };
    const digest = sha256((await tokenChallenge(this.provider, target)).serialize());
    if (!bytesEqual(t.authInput.challengeDigest, digest)) return { ok: false, reason: 'made for another challenge' };
    const valid = await new privateVerif.Origin([this.provider]).verify(t, privateKey).catch(() => false);
    return valid ? { ok: true, nonce: t.authInput.nonce.slice() } : { ok: false, reason: 'forged' };
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The requester's side: `n` blinded requests for tokens for `target`, and how to turn the issuer's
 * answer into tokens (each response's proof is checked against `publicKey`, so an issuer cannot
 * tag a token by signing it with another key).
 */
export async function requestTokens(
  provider: string,
  target: string,
  publicKey: Uint8Array,
  n: number,
): Promise<{ requests: Uint8Array; finalize(responses: Uint8Array): Promise<Uint8Array[]> }> {
  if (!Number.isInteger(n) || n < 1) throw new TokenError('ask for at least one token');
  const { privateVerif } = await lib();
  const challenge = await tokenChallenge(provider, target);
  const clients = Array.from({ length: n }, () => new privateVerif.Client());
  const requests = await Promise.all(clients.map((c) => c.createTokenRequest(challenge, publicKey)));
  return {
    requests: concatBytes(...requests.map((r) => r.serialize())),
    async finalize(responses: Uint8Array): Promise<Uint8Array[]> {
      const parts = split(responses, TOKEN_RESPONSE_BYTES, 'token responses', n);
      if (parts.length !== n) throw new TokenError(`asked for ${n} tokens, got ${parts.length}`);
      const tokens: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        try {
          tokens.push((await clients[i].finalize(clients[i].deserializeTokenResponse(parts[i]))).serialize());
        } catch (e) {
          throw new TokenError(`the issuer's answer does not check out: ${(e as Error).message}`);
        }
      }
      return tokens;
    },
  };
}
