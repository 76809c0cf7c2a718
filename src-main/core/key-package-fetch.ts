// KeyPackages of another provider's user over Oblivious HTTP (docs/ohttp-key-packages.md): the
// client asks the user's provider (the RSP) for one KeyPackage of each of their devices through
// its own provider (the LSP), which relays ciphertext and learns only the RSP's domain.
//
//   1. The RSP's key configuration (OhttpKeysEntry, through the LSP), signed with the RSP's
//      provider key. That key is pinned per domain on first use (profile DB); an entry under
//      another key is refused, since it is the key every vouch is checked with.
//   2. A Privacy Pass token for the target: a stored unused one, else two through discovery (a
//      find for the target names its token key; a second find carries the blinded requests, and
//      the RSP issues only when its consent rules let us fetch the target's KeyPackages for every
//      room); the spare is stored. A token is deleted before it is sent, so none goes out twice.
//   3. `POST https://<domain>/keyPackage` (binary HTTP, a KeyPackageRequest) encapsulated to the
//      gateway's key, relayed, and the answer opened: a KeyPackageResponse per device, and the
//      RSP's vouches for them (header mimi-key-package-vouches), which the adding commit carries
//      so the hub accepts KeyPackages it did not hand out itself.
//
// `undefined` means "use the ordinary path" (/v1/keyPackages/claim, the hub's /keyMaterial): the
// RSP runs no gateway or our provider cannot reach it, it names no token key, or it issues no
// token (no consent for every room, rate limits, unknown user): the claim then says what is
// wrong, consent errors included.
//
// Pure logic apart from the injected client and store.

import { decodeResponse, encodeRequest, header, type BhttpResponse } from '../../src-shared/bhttp.js';
import { bytesEqual, fromB64, fromUtf8, toB64, toHex } from '../../src-shared/bytes.js';
import { displayUser, parseMimiUriAs, userOfDevice } from '../../src-shared/identifiers.js';
import { decodeKeyPackageResponseList, encodeKeyPackageRequest, KEY_PACKAGE_PATH, MLS10 } from '../../src-shared/key-package-request.js';
import { MIMI_MEDIA_TYPE } from '../../src-shared/mimi-protocol.js';
import { requestTokens } from '../../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry, decodeVouches, VOUCHES_HEADER, vouchFor, vouchHolds, type KeyPackageVouch } from '../../src-shared/key-package-vouch.js';
import { keyPackageRef, wrapMlsMessage } from '../../src-shared/mls-structs.js';
import { AEAD_AES_128_GCM, decapsulateResponse, decodeKeyConfigs, encapsulateRequest, KDF_HKDF_SHA256, KEM_X25519, type KeyConfig } from '../../src-shared/ohttp.js';
import { ProviderError, type ProviderClient } from '../net/provider-client.js';
import { coreError } from './errors.js';

/** The one ciphersuite this project's clients use (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). */
const CIPHER_SUITE = 1;
/** Tokens asked for at once: one to use now, one stored for the next add of the same person. */
export const TOKENS_PER_ISSUANCE = 2;
/** A stored token older than this is dropped unused (the RSP has likely moved to a new key epoch). */
export const TOKEN_MAX_AGE_MS = 7 * 24 * 3600_000;

/** What this module needs of the provider client. */
export type KeyPackageFetchClient = Pick<ProviderClient, 'ohttpKeys' | 'ohttpRelay' | 'find'>;

/** What it keeps in the profile DB (ProfileDb implements it; migration 15). */
export interface KeyPackageFetchStore {
  takeKeyPackageToken(target: string, notBefore: number): Uint8Array | undefined;
  addKeyPackageTokens(target: string, tokens: Uint8Array[], at: number): void;
  dropKeyPackageTokens(target: string): number;
  ohttpProviderKey(domain: string): Uint8Array | undefined;
  pinOhttpProviderKey(domain: string, key: Uint8Array, at: number): void;
}

export interface OhttpKeyPackages {
  /** MLSMessage encodings (wire format mls_key_package), one per device of the user. */
  keyPackages: Uint8Array[];
  /** The RSP's vouch for each, in the same order: the commit's authenticated_data carries them. */
  vouches: KeyPackageVouch[];
}

export interface KeyPackageFetchDeps {
  client: KeyPackageFetchClient;
  store: KeyPackageFetchStore;
  now?: () => number;
}

/** A short fingerprint of a provider key for messages (the first 8 bytes, hex, in pairs). */
export function fingerprint(key: Uint8Array): string {
  return (toHex(key.subarray(0, 8)).match(/../g) ?? []).join(':');
}

/**
 * One KeyPackage of each device of `userUri` (a user of another provider) over OHTTP, with the
 * RSP's vouches; `undefined` when the ordinary path must be used. Throws CoreErrors for what the
 * person must know (unknown user, no KeyPackage left, a changed provider key, a broken answer) and
 * ProviderErrors from our own provider (the caller maps those with toCoreError).
 */
export async function fetchKeyPackagesOverOhttp(deps: KeyPackageFetchDeps, userUri: string): Promise<OhttpKeyPackages | undefined> {
  const { client, store } = deps;
  const now = deps.now ?? Date.now;
  const target = parseMimiUriAs('user', userUri);
  if (!target) return undefined;
  const domain = target.domain;

  // 1. The gateway's keys, under the pinned provider key.
  let entryBytes: Uint8Array;
  try {
    entryBytes = fromB64((await client.ohttpKeys(domain)).entry);
  } catch (e) {
    // No gateway there (or no relay here), or our provider cannot reach theirs (they need not
    // federate directly: a hub both trust can still pass a claim on).
    if (e instanceof ProviderError && (e.code === 'notFound' || e.code === 'peerUnreachable')) return undefined;
    throw e;
  }
  let entry;
  try {
    entry = decodeOhttpKeysEntry(entryBytes);
  } catch (e) {
    throw coreError('providerUnreachable', 'errors.ohttp.badKeys', { domain, reason: (e as Error).message });
  }
  const pinned = store.ohttpProviderKey(domain);
  if (pinned && !bytesEqual(pinned, entry.providerKey)) {
    throw coreError('notAllowed', 'errors.ohttp.providerKeyChanged', { domain, pinned: fingerprint(pinned), current: fingerprint(entry.providerKey) });
  }
  if (!pinned) store.pinOhttpProviderKey(domain, entry.providerKey, now());
  let config: KeyConfig | undefined;
  try {
    config = decodeKeyConfigs(entry.keyConfigs).find((c) => c.kemId === KEM_X25519 && c.suites.some((s) => s.kdfId === KDF_HKDF_SHA256 && s.aeadId === AEAD_AES_128_GCM));
  } catch (e) {
    throw coreError('providerUnreachable', 'errors.ohttp.badKeys', { domain, reason: (e as Error).message });
  }
  if (!config) throw coreError('providerUnreachable', 'errors.ohttp.badKeys', { domain, reason: 'no key configuration with X25519, HKDF-SHA256 and AES-128-GCM' });

  // 2 and 3: a token, the request; a refused token (stale epoch, spent) once more with fresh ones.
  for (let attempt = 1; attempt <= 2; attempt++) {
    const token = (attempt === 1 ? store.takeKeyPackageToken(userUri, now() - TOKEN_MAX_AGE_MS) : undefined) ?? (await obtainTokens(deps, domain, userUri, now()));
    if (!token) return undefined;
    const res = await request(client, config, domain, userUri, token);
    switch (res.status) {
      case 200:
        return openAnswer(res, domain, userUri, entry.providerKey, now());
      case 401:
        store.dropKeyPackageTokens(userUri);
        continue;
      case 404:
        throw coreError('userUnknown', 'errors.member.unknown', { user: displayUser(userUri), domain });
      case 409:
        throw coreError('noKeyMaterial', 'errors.member.noDevice', { user: displayUser(userUri) });
      default:
        throw coreError('providerUnreachable', 'errors.ohttp.refused', { domain, status: res.status, reason: reasonOf(res) });
    }
  }
  throw coreError('notAllowed', 'errors.ohttp.tokenRefused', { domain, user: displayUser(userUri) });
}

function reasonOf(res: BhttpResponse): string {
  const text = fromUtf8(res.content.subarray(0, 300)).replace(/[\u0000-\u001f]/g, ' ').trim();
  return text || `HTTP ${res.status}`;
}

/**
 * Two tokens for `userUri` through discovery: one returned, the spare stored. `undefined` when the
 * RSP names no token key for them or does not issue (the ordinary path then says why).
 */
async function obtainTokens(deps: KeyPackageFetchDeps, domain: string, userUri: string, at: number): Promise<Uint8Array | undefined> {
  const { client, store } = deps;
  const find = async (extra: Parameters<KeyPackageFetchClient['find']>[0]) => {
    try {
      return await client.find(extra);
    } catch (e) {
      // Discovery refused for now (search limits) or not offered: the claim can still go through.
      if (e instanceof ProviderError && (e.code === 'rateLimited' || e.code === 'notFound')) return undefined;
      throw e;
    }
  };
  const found = await find({ domain, handle: userUri });
  const key = found?.tokenKeys?.find((k) => k.userUri === userUri);
  if (!key) return undefined;
  let asked;
  try {
    asked = await requestTokens(domain, userUri, fromB64(key.tokenKey), TOKENS_PER_ISSUANCE);
  } catch (e) {
    throw coreError('providerUnreachable', 'errors.ohttp.badTokens', { domain, reason: (e as Error).message });
  }
  const answer = await find({ domain, handle: userUri, tokenRequest: { target: userUri, tokenRequests: toB64(asked.requests) } });
  const issued = answer?.tokenResponse;
  if (!issued || issued.status !== 'issued' || !issued.tokenResponses) return undefined;
  let tokens: Uint8Array[];
  try {
    tokens = await asked.finalize(fromB64(issued.tokenResponses));
  } catch (e) {
    throw coreError('providerUnreachable', 'errors.ohttp.badTokens', { domain, reason: (e as Error).message });
  }
  store.addKeyPackageTokens(userUri, tokens.slice(1), at);
  return tokens[0];
}

/** One KeyPackageRequest with `token`, encapsulated, relayed, opened. */
async function request(client: KeyPackageFetchClient, config: KeyConfig, domain: string, userUri: string, token: Uint8Array): Promise<BhttpResponse> {
  const bhttp = encodeRequest({
    method: 'POST',
    scheme: 'https',
    authority: domain,
    path: KEY_PACKAGE_PATH,
    headers: [['content-type', MIMI_MEDIA_TYPE]],
    content: encodeKeyPackageRequest({ userId: userUri, bearerToken: token, version: MLS10, cipherSuite: CIPHER_SUITE }),
    trailers: [],
  });
  const { encapsulated, context } = await encapsulateRequest(config, bhttp);
  const relayed = await client.ohttpRelay(domain, { request: toB64(encapsulated) });
  try {
    return decodeResponse(decapsulateResponse(context, fromB64(relayed.response)));
  } catch (e) {
    throw coreError('providerUnreachable', 'errors.ohttp.badAnswer', { domain, reason: `the answer cannot be opened: ${(e as Error).message}` });
  }
}

/**
 * The KeyPackages of a 200 answer as MLSMessages, each with the RSP's vouch: every one must be a
 * device of `userUri`, and vouched for under the pinned provider key (the hub checks the same).
 */
function openAnswer(res: BhttpResponse, domain: string, userUri: string, providerKey: Uint8Array, now: number): OhttpKeyPackages {
  const bad = (reason: string) => coreError('providerUnreachable', 'errors.ohttp.badAnswer', { domain, reason });
  let list;
  try {
    list = decodeKeyPackageResponseList(res.content);
  } catch (e) {
    throw bad(`the KeyPackages are malformed: ${(e as Error).message}`);
  }
  const vouchHeader = header(res.headers, VOUCHES_HEADER);
  if (vouchHeader === undefined) throw bad('the answer carries no vouches for its KeyPackages');
  let vouches: KeyPackageVouch[];
  try {
    vouches = decodeVouches(fromB64(vouchHeader));
  } catch (e) {
    throw bad((e as Error).message);
  }
  const keyPackages: Uint8Array[] = [];
  const used: KeyPackageVouch[] = [];
  for (const { keyPackage } of list) {
    const credential = keyPackage.leafNode.credential;
    let device: string | undefined;
    if (credential.credentialType === 'basic') {
      try {
        device = fromUtf8(credential.identity);
        if (userOfDevice(device) !== userUri) device = undefined;
      } catch {
        device = undefined;
      }
    }
    if (!device) throw bad(`a KeyPackage is not of a device of ${displayUser(userUri)}`);
    const vouch = vouchFor(vouches, keyPackageRef(keyPackage.raw));
    if (!vouch || vouch.client !== device || !vouchHolds(providerKey, vouch, now)) throw bad(`the KeyPackage of ${device} has no valid vouch of ${domain}`);
    keyPackages.push(wrapMlsMessage('keyPackage', keyPackage.raw));
    used.push(vouch);
  }
  return { keyPackages, vouches: used };
}
