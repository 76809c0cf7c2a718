// KeyPackage publication and claiming. Single-use packages are handed out at most once (oldest
// first); a device's last-resort package is reused only when none is left. Every hand-out is
// recorded by KeyPackageRef and room, which is how the hub later routes a Welcome to its member
// (and holds the commit's Add to that KeyPackage).
//
// Pseudonyms (pseudonyms.ts) keep their KeyPackages in a table of their own. A user pseudonym is
// served only its ordinary ones (never connection-only: the connection flow carries those in the
// request), only to a requester that is itself a pseudonym, and the client listed is its client
// pseudonym; for anyone else, and for a retired or unknown pseudonym, the answer is the unknown
// user's. A pseudonym claiming a real local user is a connection request: the user's setting
// decides (consent.ts connectionRequestDecision), as it does over MIMI. No claim of a real user reads that table, and one KeyPackage
// is never published for two identities (it would tie the pseudonym to its account). A claim is
// recorded for the client pseudonym, never for the device behind it, here and at the room's hub
// alike: the Welcome reaches the device through the pseudonyms table (room-members.ts).

import { createHash } from 'node:crypto';
import { toB64, utf8 } from '../src-shared/bytes.js';
import { parseMimiUri, parseMimiUriAs } from '../src-shared/identifiers.js';
import { MlsWireError, peekMlsMessage } from '../src-shared/mls-wire.js';
import type { ClaimResponse, KeyMaterialClientCode, KeyMaterialUserCode } from '../src-shared/provider-api.js';
import { TlsWriter } from '../src-shared/tls.js';
import { ApiFailure, badRequest } from './errors.js';
import { LocalIdentities } from './room-members.js';
import type { Store } from './store.js';
import type { ConsentDecision } from './federation/key-material.js';

/** Unclaimed single-use packages a device may keep on the provider. */
export const MAX_STORED_KEY_PACKAGES = 1000;

const KEY_PACKAGE_REF_LABEL = utf8('MLS 1.0 KeyPackage Reference');

/**
 * KeyPackageRef (RFC 9420 section 5.2) of an MLSMessage(mls_key_package):
 * SHA-256 over the RefHashInput { label<V>, value<V> } where value is the KeyPackage encoding,
 * i.e. the MLSMessage without its version and wire_format fields (SHA-256: ciphersuite 1's hash).
 */
export function keyPackageRef(mlsMessage: Uint8Array): Uint8Array {
  const input = new TlsWriter().opaqueV(KEY_PACKAGE_REF_LABEL).opaqueV(mlsMessage.subarray(4)).finish();
  return new Uint8Array(createHash('sha256').update(input).digest());
}

/** Check that `bytes` is an MLSMessage carrying a KeyPackage; throws 400 otherwise. */
export function checkKeyPackage(bytes: Uint8Array, what: string): void {
  let wireFormat: string;
  try {
    wireFormat = peekMlsMessage(bytes).wireFormat;
  } catch (e) {
    if (e instanceof MlsWireError) throw badRequest(`${what} is not a valid MLSMessage: ${e.message}`);
    throw e;
  }
  if (wireFormat !== 'keyPackage') throw badRequest(`${what} is an MLS ${wireFormat} message, not a KeyPackage`);
}

/** How a claimer judges one stored KeyPackage (an MLSMessage(mls_key_package)). */
export type KeyPackageVerdict = 'ok' | 'incompatible' | 'unusable';

/** What `claimOneFor` found for one device. */
export type DeviceClaimOutcome =
  | { status: 'success'; ref: Uint8Array; keyPackage: Uint8Array; lastResort: boolean }
  | { status: 'keyMaterialExhausted' }
  | { status: 'nothingCompatible' };

export interface ClaimRequester {
  deviceUri: string;
  /** The account's user URI, or the user pseudonym it claims as. */
  userUri: string;
}

/** What `claimPseudonym` found: the target's client pseudonym and the outcome. */
export interface ConnectionClaim {
  clientPseudonym: string;
  outcome: DeviceClaimOutcome;
}

/** The first row `judge` accepts, and whether some row was usable but incompatible. */
function firstAcceptable<R extends { bytes: Buffer }>(
  rows: IterableIterator<R>,
  judge: (keyPackage: Uint8Array) => KeyPackageVerdict,
): { chosen?: R; incompatible: boolean } {
  let incompatible = false;
  for (const row of rows) {
    const verdict = judge(new Uint8Array(row.bytes));
    if (verdict === 'ok') return { chosen: row, incompatible }; // ends the iteration, so the caller may write
    if (verdict === 'incompatible') incompatible = true;
  }
  return { incompatible };
}

const isPseudonym = (uri: string): boolean => parseMimiUriAs('pseudonym', uri) !== undefined;

export class KeyPackages {
  private readonly identities: LocalIdentities;
  /**
   * A pseudonym's claim of a real local user's KeyPackages (a connection request): the target's
   * setting decides; undefined for other claims. Set once the consent service exists (server.ts).
   */
  connectionRequests?: (requestingUser: string, targetUser: string) => ConsentDecision | undefined;

  constructor(
    private readonly store: Store,
    readonly domain: string,
    private readonly now: () => number = Date.now,
  ) {
    this.identities = new LocalIdentities(store, domain);
  }

  upload(deviceUri: string, keyPackages: Uint8Array[], lastResort?: Uint8Array): { available: number } {
    if (keyPackages.length === 0 && !lastResort) throw badRequest('nothing to upload: keyPackages is empty and no lastResort');
    keyPackages.forEach((kp, i) => checkKeyPackage(kp, `keyPackages[${i}]`));
    if (lastResort) checkKeyPackage(lastResort, 'lastResort');
    return this.store.tx(() => {
      const now = this.now();
      for (const kp of lastResort ? [...keyPackages, lastResort] : keyPackages) {
        if (this.store.keyPackageRefOfPseudonym(keyPackageRef(kp))) {
          throw badRequest('a KeyPackage was published for a pseudonym; a device needs KeyPackages of its own (one would tie the two together)');
        }
      }
      for (const kp of keyPackages) this.store.insertKeyPackage(deviceUri, keyPackageRef(kp), kp, false, now);
      if (lastResort) {
        this.store.deleteLastResort(deviceUri);
        this.store.insertKeyPackage(deviceUri, keyPackageRef(lastResort), lastResort, true, now);
      }
      const available = this.store.countAvailable(deviceUri);
      // Thrown inside the transaction, so the whole upload is rolled back.
      if (available > MAX_STORED_KEY_PACKAGES) {
        throw badRequest(`too many stored KeyPackages (max ${MAX_STORED_KEY_PACKAGES} unclaimed per device)`);
      }
      return { available };
    });
  }

  count(deviceUri: string): { available: number; lastResort: boolean } {
    return { available: this.store.countAvailable(deviceUri), lastResort: this.store.lastResort(deviceUri) !== undefined };
  }

  /**
   * Claim one KeyPackage for every device of each user (except the requesting device) for use in
   * `roomUri`. The requester must be a member device of the room. One transaction: packages are
   * marked claimed before anyone else can read them.
   */
  claim(requester: ClaimRequester, roomUri: string, users: string[]): ClaimResponse {
    return this.store.tx(() => {
      if (!this.store.room(roomUri)) throw new ApiFailure('roomUnknown', `no room ${roomUri} on ${this.domain}`);
      if (this.identities.membersOfDevice(roomUri, requester.deviceUri).length === 0) {
        throw new ApiFailure('notMember', 'only member devices of the room can claim KeyPackages for it');
      }
      const results: ClaimResponse['results'] = [];
      for (const userUri of [...new Set(users)]) results.push(this.claimForUser(requester, roomUri, userUri));
      return { results };
    });
  }

  private claimForUser(requester: ClaimRequester, roomUri: string, userUri: string): ClaimResponse['results'][number] {
    if (parseMimiUriAs('pseudonym', userUri)?.domain === this.domain) return this.claimForPseudonym(requester, roomUri, userUri);
    let local = false;
    try {
      const p = parseMimiUri(userUri);
      local = p.kind === 'user' && p.domain === this.domain;
    } catch {
      local = false;
    }
    // Users of other providers are served by MIMI federation (not in this build).
    const user = local ? this.store.userByUri(userUri) : undefined;
    if (!user) return { userUri, status: 'userUnknown', clients: [] };
    const asked = this.connectionRequests?.(requester.userUri, userUri);
    if (asked !== undefined && asked !== 'ok') return { userUri, status: asked, clients: [] };

    const now = this.now();
    const clients: ClaimResponse['results'][number]['clients'] = [];
    for (const device of this.store.devicesOfUser(user.id)) {
      if (device.device_uri === requester.deviceUri) continue;
      const kp = this.claimOneFor(device.device_uri); // every package will do: success or keyMaterialExhausted
      if (kp.status !== 'success') {
        clients.push({ deviceUri: device.device_uri, status: 'keyMaterialExhausted' satisfies KeyMaterialClientCode });
        continue;
      }
      this.store.recordClaim(kp.ref, roomUri, device.device_uri, requester.userUri, now);
      clients.push({ deviceUri: device.device_uri, status: 'success', keyPackage: toB64(kp.keyPackage) });
    }
    const served = clients.filter((c) => c.status === 'success').length;
    const status: KeyMaterialUserCode =
      served === clients.length ? 'success' : served > 0 ? 'partialSuccess' : 'noCompatibleMaterial';
    return { userUri, status, clients };
  }

  private claimForPseudonym(requester: ClaimRequester, roomUri: string, target: string): ClaimResponse['results'][number] {
    const found = this.claimPseudonym(target, requester.userUri);
    if (!found) return { userUri: target, status: 'userUnknown', clients: [] };
    const { clientPseudonym, outcome } = found;
    if (outcome.status !== 'success') {
      return { userUri: target, status: 'noCompatibleMaterial', clients: [{ deviceUri: clientPseudonym, status: 'keyMaterialExhausted' }] };
    }
    this.store.recordClaim(outcome.ref, roomUri, clientPseudonym, requester.userUri, this.now());
    return { userUri: target, status: 'success', clients: [{ deviceUri: clientPseudonym, status: 'success', keyPackage: toB64(outcome.keyPackage) }] };
  }

  /**
   * Claims the oldest KeyPackage of the user pseudonym `target` that `judge` accepts, for
   * `requestingUser`, to add it to a room of pseudonyms. Never a connection-only one: those are for
   * the connection flow alone, which carries them inside the request (end to end), and a claim
   * cannot show that it is for a connection (MIMI's KeyMaterialRequest has no field for a purpose),
   * so no claim is ever served one. Undefined when the requester is not a pseudonym or `target` is
   * no active pseudonym of this provider: the caller answers exactly as for an unknown user, so the
   * answer says nothing about whether the pseudonym exists. No consent is asked: knowing the
   * pseudonym is what allows it. Must run inside `store.tx`; does not record the claim.
   */
  claimPseudonym(target: string, requestingUser: string, judge: (keyPackage: Uint8Array) => KeyPackageVerdict = () => 'ok'): ConnectionClaim | undefined {
    if (!this.store.db.inTransaction) throw new Error('claimPseudonym must run inside store.tx');
    if (!isPseudonym(requestingUser)) return undefined;
    const p = this.store.pseudonymByUser(target);
    if (!p || p.state !== 'active') return undefined;
    const found = { clientPseudonym: p.client_pseudonym };
    const { chosen, incompatible } = firstAcceptable(this.store.unclaimedRoomKeyPackages(p.client_pseudonym), judge);
    if (!chosen) return { ...found, outcome: incompatible ? { status: 'nothingCompatible' } : { status: 'keyMaterialExhausted' } };
    if (!this.store.markPseudonymKeyPackageClaimed(chosen.id)) throw new Error('KeyPackage claimed twice inside one transaction');
    return { ...found, outcome: { status: 'success', ref: new Uint8Array(chosen.ref), keyPackage: new Uint8Array(chosen.bytes), lastResort: false } };
  }

  /**
   * Claims one KeyPackage of `deviceUri` that `judge` accepts: the oldest acceptable unclaimed
   * single-use one (marked claimed, so it is never handed out again), else the last-resort one if
   * acceptable. Must run inside `store.tx`; does not record the claim (the caller knows the room).
   * `nothingCompatible` when some usable package exists but `judge` found none compatible;
   * `keyMaterialExhausted` when nothing usable is left at all ('unusable': e.g. expired).
   */
  claimOneFor(deviceUri: string, judge: (keyPackage: Uint8Array) => KeyPackageVerdict = () => 'ok'): DeviceClaimOutcome {
    if (!this.store.db.inTransaction) throw new Error('claimOneFor must run inside store.tx');
    const picked = firstAcceptable(this.store.unclaimedKeyPackages(deviceUri), judge);
    const chosen = picked.chosen;
    let incompatible = picked.incompatible;
    if (chosen) {
      const bytes = new Uint8Array(chosen.bytes);
      if (!this.store.markClaimed(chosen.id)) throw new Error('KeyPackage claimed twice inside one transaction');
      return { status: 'success', ref: new Uint8Array(chosen.ref), keyPackage: bytes, lastResort: false };
    }
    const lr = this.store.lastResort(deviceUri);
    if (lr) {
      const verdict = judge(new Uint8Array(lr.bytes));
      if (verdict === 'ok') return { status: 'success', ref: new Uint8Array(lr.ref), keyPackage: new Uint8Array(lr.bytes), lastResort: true };
      if (verdict === 'incompatible') incompatible = true;
    }
    return incompatible ? { status: 'nothingCompatible' } : { status: 'keyMaterialExhausted' };
  }
}
