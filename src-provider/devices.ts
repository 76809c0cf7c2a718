// The account's devices as every one of its devices sees them (docs/devices.md): the list with
// last-seen times, renaming, and removing a device, which makes it leave every room the way a
// deleted account's devices do. The account's other connected devices are told of each change by
// a push notice.

import { MAX_DEVICE_NAME_CHARS, type DeviceInfo, type PushDevicesNotice, type RemoveDeviceResponse } from '../src-shared/provider-api.js';
import type { Actor } from './accounts.js';
import { ApiFailure, badRequest } from './errors.js';
import type { DeviceRow, Store } from './store.js';

export interface DeviceServiceOptions {
  store: Store;
  /** The hub of the rooms hosted here: it proposes a removed device's Removes as external sender. */
  proposeRemoval: (roomUri: string, identities: string[]) => void;
  /** Sends a notice to these devices' open push streams. */
  signal: (deviceUris: string[], notice: PushDevicesNotice) => void;
  /** Ends a removed device's open push streams. */
  disconnect: (deviceUri: string) => void;
  log: (msg: string) => void;
}

// Characters that would make a name lie about itself or break the lines it is shown in: controls,
// line and paragraph separators, lone surrogates, and the bidi embeddings, overrides and isolates
// that can make "phone" read as something else.
const UNPRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/** The name as stored (trimmed, NFC), or a 400 saying what is wrong with it. */
export function checkNewDeviceName(raw: unknown): string {
  if (typeof raw !== 'string') throw badRequest('field "name" must be a string');
  const name = raw.normalize('NFC').trim();
  const chars = [...name].length;
  if (chars === 0) throw badRequest('the device name is empty: give it 1-64 characters');
  if (chars > MAX_DEVICE_NAME_CHARS) throw badRequest(`the device name has ${chars} characters; at most ${MAX_DEVICE_NAME_CHARS} are allowed`);
  if (UNPRINTABLE.test(name)) throw badRequest('the device name contains a control or direction-changing character: use printable characters only');
  return name;
}

const info = (d: DeviceRow, actor: Actor): DeviceInfo => ({
  deviceUri: d.device_uri,
  deviceId: d.device_id,
  name: d.name,
  createdAt: d.created_at,
  lastSeenAt: d.last_seen_at,
  current: d.device_uri === actor.deviceUri,
});

export class DeviceService {
  constructor(private readonly opts: DeviceServiceOptions) {}

  list(actor: Actor): DeviceInfo[] {
    return this.opts.store.devicesOfUser(actor.userId).map((d) => info(d, actor));
  }

  private own(actor: Actor, deviceId: string): DeviceRow {
    const row = this.opts.store.deviceOfUser(actor.userId, deviceId);
    // Another account's device gets the same answer as none: ids are not to be probed.
    if (!row) throw new ApiFailure('notFound', `your account has no device ${JSON.stringify(deviceId)}: it was removed, or never was one of yours`);
    return row;
  }

  rename(actor: Actor, deviceId: string, rawName: unknown): DeviceInfo {
    const name = checkNewDeviceName(rawName);
    const store = this.opts.store;
    const row = store.tx(() => {
      const d = this.own(actor, deviceId);
      store.renameDevice(d.device_uri, name);
      return { ...d, name };
    });
    this.tell(actor.userId, row, 'renamed');
    return info(row, actor);
  }

  /** Another device of the account; the calling one signs out instead (signOut). */
  remove(actor: Actor, deviceId: string): RemoveDeviceResponse {
    const row = this.own(actor, deviceId);
    if (row.device_uri === actor.deviceUri) {
      throw new ApiFailure('notAllowed', 'this is the device making the request: to take it off the account, sign out on it (DELETE /v1/sessions/current), or remove it from another of your devices');
    }
    return this.drop(actor, row);
  }

  signOut(actor: Actor): RemoveDeviceResponse {
    const row = this.opts.store.devicesOfUser(actor.userId).find((d) => d.device_uri === actor.deviceUri);
    if (!row) throw new ApiFailure('unauthorized', 'this device was removed meanwhile');
    return this.drop(actor, row);
  }

  /** A device was added (register or login): the account's other devices hear of it. */
  added(deviceUri: string): void {
    const userId = this.opts.store.accountOfDevice(deviceUri);
    if (userId === undefined) return;
    const row = this.opts.store.devicesOfUser(userId).find((d) => d.device_uri === deviceUri);
    if (row) this.tell(userId, row, 'added', deviceUri);
  }

  private drop(actor: Actor, row: DeviceRow): RemoveDeviceResponse {
    const store = this.opts.store;
    const members = store.tx(() => {
      // Read before the delete: the device's client pseudonyms go with it.
      const m = store.roomMembersOfDevice(row.device_uri);
      if (!store.deleteDevice(row.device_uri)) throw new ApiFailure('notFound', 'the device was removed meanwhile');
      return m;
    });
    this.opts.disconnect(row.device_uri);
    const hosted = new Map<string, string[]>();
    const elsewhere = new Set<string>();
    for (const m of members) {
      if (m.hub_domain === null) hosted.set(m.room_uri, [...(hosted.get(m.room_uri) ?? []), m.device_uri]);
      else elsewhere.add(m.room_uri);
    }
    // Each room on its own: the device is gone already (nothing to undo), and a room that fails
    // (destroyed meanwhile) must not keep the others from being told.
    const proposed: string[] = [];
    for (const [room, identities] of hosted) {
      try {
        this.opts.proposeRemoval(room, identities);
        proposed.push(room);
      } catch (e) {
        this.opts.log(`removing device ${row.device_uri} from ${room}: ${(e as Error).message}`);
      }
    }
    this.tell(actor.userId, row, 'removed');
    return { removed: true, deviceUri: row.device_uri, roomsProposed: proposed, roomsElsewhere: [...elsewhere] };
  }

  /** Every device of the account but `except` (the one just added) hears of it, the one that asked too. */
  private tell(userId: number, row: DeviceRow, change: PushDevicesNotice['change'], except?: string): void {
    const others = this.opts.store
      .devicesOfUser(userId)
      .map((d) => d.device_uri)
      .filter((d) => d !== except);
    this.opts.signal(others, { type: 'notice', topic: 'devices', change, deviceUri: row.device_uri, deviceId: row.device_id, name: row.name });
  }
}
