// The account's devices on the client side (docs/devices.md): the list, renaming and removing one,
// the provider's notices about them (and the ones missed while offline), this device being
// removed by another, and the two ways to sign out: keeping the data (the device stays registered
// and the folder is opened again at the next sign-in with the same account) or removing this
// device (it leaves every room and its folder is deleted).
//
// A removed device leaves the rooms hosted by its own provider by that provider's Removes (as the
// rooms' external sender). Rooms hosted by other providers are out of its reach: there the device
// that asked for the removal proposes the Removes itself, as a member removing its own user's
// device, and commits them. Rooms in which the removed device took part only as a client
// pseudonym cannot be handled so (the pseudonym's user is not the account's, so a hub refuses
// such a Remove from us, and no other device knows the pseudonym): those leaves stay until the
// room's provider or members drop them.

import fs from 'node:fs';
import path from 'node:path';
import type { DeviceChangeView, DeviceView } from '../../src-shared/contract.js';
import { toB64 } from '../../src-shared/bytes.js';
import type { DeviceInfo, PushDevicesNotice } from '../../src-shared/provider-api.js';
import { ProviderError } from '../net/provider-client.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { VAULT_KEY_NAME } from '../secrets/vault.js';
import { readAccountConfig } from './account-files.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import type { RoomCommits } from './room-commits.js';

/** The deviceIds this device has seen in the list, so a sign-in while it was offline is told too. */
const KNOWN_META = 'known-devices';
/** Written by a sign-out that keeps the data: the folder waits for a sign-in with the account again. */
export const SIGNED_OUT_FILE = 'signed-out.json';
/** How often a Remove proposal is built again after another commit won the room's epoch. */
const PROPOSAL_ATTEMPTS = 3;

const view = (d: DeviceInfo): DeviceView => ({ deviceId: d.deviceId, name: d.name, createdAt: d.createdAt, lastSeenAt: d.lastSeenAt, current: d.current });

/** A provider failure of a device action as a sentence that says what to do. */
function deviceError(e: unknown, key: 'list' | 'rename' | 'remove' | 'signOut'): Error {
  if (!(e instanceof ProviderError)) return e instanceof Error ? e : new Error(String(e));
  if (e.status === 401) return coreError('noAccount', 'devices.errors.removedHere');
  if (e.code === 'notFound') return coreError('invalidArgument', 'devices.errors.notFound');
  if (e.code === 'badRequest' && key === 'rename') return coreError('invalidArgument', 'devices.errors.badName', { reason: e.message });
  if (e.code === 'notAllowed' && key === 'remove') return coreError('notAllowed', 'devices.errors.isThisDevice');
  return coreError(e.code === 'unreachable' ? 'providerUnreachable' : 'internal', `devices.errors.${key}`, { reason: e.message });
}

export class Devices {
  /** Set once the provider refused this device's token: it was removed, nothing will work again. */
  removed = false;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly commits: RoomCommits,
  ) {}

  async list(): Promise<DeviceView[]> {
    let devices: DeviceInfo[];
    try {
      devices = await this.ctx.client.listDevices();
    } catch (e) {
      throw this.failed(e, 'list');
    }
    this.remember(devices.map((d) => d.deviceId));
    return devices.map(view);
  }

  async rename(deviceId: string, name: string): Promise<DeviceView[]> {
    try {
      await this.ctx.client.renameDevice(deviceId, name);
    } catch (e) {
      throw this.failed(e, 'rename');
    }
    return this.list();
  }

  /**
   * Removes another device of the account. The provider signs it out and has the rooms it hosts
   * drop it; in the rooms hosted elsewhere this device proposes its Removes and commits them. A
   * room where that fails is reported as a background error: the removal itself is done.
   */
  async remove(deviceId: string): Promise<DeviceView[]> {
    let answer;
    try {
      answer = await this.ctx.client.removeDevice(deviceId);
    } catch (e) {
      throw this.failed(e, 'remove');
    }
    const gone = answer.deviceUri;
    const failures: { room: string; reason: string }[] = [];
    for (const roomUri of answer.roomsElsewhere) {
      try {
        if (await this.proposeRemoval(roomUri, gone)) await this.commits.commitPendingProposals(roomUri);
      } catch (e) {
        failures.push({ room: this.roomName(roomUri), reason: (e as Error).message });
      }
    }
    if (failures.length > 0) {
      const err = coreError('internal', 'devices.errors.roomsNotLeft', { rooms: failures.map((f) => `“${f.room}”`).join(', '), reason: failures[0].reason });
      this.ctx.emit('error', err.message, err);
    }
    return this.list();
  }

  /** The room's name here, else its URI (for messages). */
  private roomName(roomUri: string): string {
    return this.ctx.db.getRoom(roomUri)?.name || roomUri;
  }

  /**
   * Remove proposals for every leaf of `identity` in the room, sent to its hub through our provider;
   * false when the room has none (never joined here, or gone already).
   */
  private async proposeRemoval(roomUri: string, identity: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.ctx.serial.run(async () => {
        const { client, sessions } = this.ctx;
        let s;
        try {
          s = sessions.get(roomUri);
        } catch {
          return 'absent' as const;
        }
        if (!s.members().some((m) => m.identity === identity)) return 'absent' as const;
        const { session, proposals } = await s.proposeRemove([identity]);
        try {
          await client.proposals(roomUri, { proposals: proposals.map(toB64) });
        } catch (e) {
          if (e instanceof ProviderError && e.code === 'wrongEpoch' && e.currentEpoch !== undefined) return e.currentEpoch;
          throw toCoreError(e, { key: 'errors.what.leaveRoom' });
        }
        sessions.save(roomUri, session);
        return 'sent' as const;
      });
      if (outcome === 'absent') return false;
      if (outcome === 'sent') return true;
      if (attempt >= PROPOSAL_ATTEMPTS) throw coreError('internal', 'errors.room.keptChanging');
      await this.commits.waitForEpoch(roomUri, outcome);
    }
  }

  /** The provider's notice: the list changed (a device added, renamed or removed). */
  notice(n: PushDevicesNotice): void {
    if (n.change === 'added') this.remember([...this.known(), n.deviceId]);
    this.ctx.emit('devices', { change: n.change, device: { deviceId: n.deviceId, name: n.name, current: n.deviceUri === this.ctx.config.deviceUri } });
  }

  /**
   * After every (re)connect: notices are not replayed, so a device added while this one was away
   * is found by comparing the list with the one seen last. The first look only records it.
   */
  async reconnected(): Promise<void> {
    const first = this.ctx.db.getMeta(KNOWN_META) === undefined;
    const seen = new Set(this.known());
    let devices: DeviceInfo[];
    try {
      devices = await this.ctx.client.listDevices();
    } catch {
      return; // the next connect looks again
    }
    if (this.ctx.closed) return; // closed meanwhile: its database is gone
    this.remember(devices.map((d) => d.deviceId));
    if (first) return;
    for (const d of devices) {
      if (!d.current && !seen.has(d.deviceId)) this.ctx.emit('devices', { change: 'added', device: { deviceId: d.deviceId, name: d.name, current: false } });
    }
  }

  /** The provider refused this device's token (401, or its push stream closed with 4401). */
  removedHere(): void {
    if (this.removed || this.ctx.closed) return;
    this.removed = true;
    this.ctx.emit('deviceRemoved');
    const err = coreError('noAccount', 'devices.errors.removedHere');
    this.ctx.emit('error', err.message, err);
  }

  /**
   * Leave the rooms hosted by other providers (whose hubs this provider cannot tell), then remove
   * this device at the provider, which takes it out of the rooms it hosts. The caller closes the
   * profile and deletes its folder.
   */
  async signOut(): Promise<void> {
    const { db, config } = this.ctx;
    const elsewhere = db.listRooms().filter((r) => !r.left && r.hubDomain !== config.domain).map((r) => r.roomUri);
    for (const roomUri of elsewhere) {
      // Best effort: a room that cannot be reached now drops this device when its hub or its
      // members notice it is gone (it never answers again).
      await this.proposeRemoval(roomUri, config.deviceUri).catch(() => undefined);
    }
    try {
      await this.ctx.client.signOut();
    } catch (e) {
      // Removed from elsewhere already: what was asked for is done.
      if (e instanceof ProviderError && e.status === 401) return;
      throw deviceError(e, 'signOut');
    }
  }

  /** Checks the account's password with this device's own token (see checkPassword). */
  checkPassword(password: string): Promise<'ok' | 'removed' | 'unchecked'> {
    return checkPassword(this.ctx, password);
  }

  private failed(e: unknown, key: 'list' | 'rename' | 'remove'): Error {
    if (e instanceof ProviderError && e.status === 401) this.removedHere();
    return deviceError(e, key);
  }

  private known(): string[] {
    try {
      const v = JSON.parse(this.ctx.db.getMeta(KNOWN_META) ?? '[]') as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  private remember(ids: string[]): void {
    this.ctx.db.setMeta(KNOWN_META, JSON.stringify([...new Set(ids)]));
  }
}

/**
 * Is `password` the account's? The provider has no route that only checks one, and a login would
 * make a new device, which is what signing in again here must not do; so the device's own token
 * changes the password to itself (the provider checks the old one first and keeps it otherwise,
 * with a fresh salt). 'removed': the token is void; 'unchecked': the provider refused the check
 * for another reason (e.g. a password its current rules would not take as new), the caller signs
 * in as a new device instead.
 */
async function checkPassword(ctx: Pick<ProfileContext, 'client'>, password: string): Promise<'ok' | 'removed' | 'unchecked'> {
  try {
    await ctx.client.changePassword(password, password);
    return 'ok';
  } catch (e) {
    if (e instanceof ProviderError) {
      if (e.code === 'wrongPassword') throw coreError('wrongPassword', 'devices.errors.wrongPassword');
      if (e.status === 401) return 'removed';
      if (e.code === 'badRequest') return 'unchecked';
    }
    throw toCoreError(e, { key: 'errors.what.signIn' });
  }
}

// ---- the folder of a signed-out account ----

export function markSignedOut(dir: string): void {
  fs.writeFileSync(path.join(dir, SIGNED_OUT_FILE), JSON.stringify({ at: Date.now() }), { mode: 0o600 });
}

export function isSignedOut(dir: string): boolean {
  return fs.existsSync(path.join(dir, SIGNED_OUT_FILE));
}

export function clearSignedOut(dir: string): void {
  fs.rmSync(path.join(dir, SIGNED_OUT_FILE), { force: true });
}

/** The same provider, however its URL was written (a trailing slash, upper-case host). */
function sameProvider(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.origin === y.origin && x.pathname.replace(/\/+$/, '') === y.pathname.replace(/\/+$/, '');
  } catch {
    return a === b;
  }
}

/**
 * The folder under `accountsDir` that an earlier sign-out left for this account (not in `listed`,
 * the app's accounts), newest first; undefined when there is none. `providerUrl` undefined: the
 * app's embedded provider.
 */
export function keptAccountFolders(accountsDir: string, listed: ReadonlySet<string>, handle: string, providerUrl: string | undefined): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(accountsDir);
  } catch {
    return [];
  }
  const want = handle.trim().toLowerCase();
  const found: { dir: string; at: number }[] = [];
  for (const name of names) {
    if (listed.has(name)) continue;
    const dir = path.join(accountsDir, name);
    try {
      const cfg = readAccountConfig(dir);
      if (cfg.handle.toLowerCase() !== want) continue;
      if (providerUrl === undefined ? !cfg.embedded : !!cfg.embedded || !sameProvider(cfg.providerUrl, providerUrl)) continue;
      found.push({ dir, at: cfg.createdAt });
    } catch {
      // not an account folder, or an unfinished sign-in
    }
  }
  return found.sort((a, b) => b.at - a.at).map((f) => f.dir);
}

/** What signing in again needs of an opened profile (Profile has these). */
export interface ReopenedProfile {
  readonly devices: Devices;
  close(): Promise<void>;
}

/**
 * Sign in again into a kept folder: its device is still registered, so the same keys, rooms and
 * history come back, after the provider confirmed the password. Undefined when the folder cannot
 * be used (its keys cannot be opened with what was given, or the device was removed meanwhile):
 * the caller signs in as a new device. A wrong password throws, and nothing changes.
 */
export async function reopenKept<P extends ReopenedProfile>(dir: string, password: string, open: (dir: string) => Promise<P>): Promise<P | undefined> {
  let profile: P;
  try {
    profile = await open(dir);
  } catch {
    return undefined;
  }
  let verdict: 'ok' | 'removed' | 'unchecked';
  try {
    verdict = await profile.devices.checkPassword(password);
  } catch (e) {
    await profile.close();
    throw e;
  }
  if (verdict !== 'ok') {
    await profile.close();
    return undefined;
  }
  clearSignedOut(dir);
  return profile;
}

/** The account's secrets on this device and its folder, after its device was removed. */
export async function deleteAccountData(dir: string, secrets: SecretStore): Promise<void> {
  // The keychain entries outlive the folder otherwise.
  for (const key of ['token', 'device-keys', VAULT_KEY_NAME]) await secrets.delete(key).catch(() => undefined);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    throw coreError('internal', 'devices.errors.deleteFolder', { reason: (e as Error).message, dir });
  }
}

export type { DeviceChangeView };
