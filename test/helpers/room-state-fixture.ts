// Managed rooms by hand, for tests that feed the hub room states it must refuse: the GroupContext
// extension list a room is created with (the hub's external sender first, as Profile.createRoom
// does, then the 0xF006 room state), raw client-API calls whose status and error body the test
// sees unprocessed, and a read-only picture of what the provider stored about one room.

import { withDb } from './mimi-peer.js';
import https from 'node:https';
import { toHex } from '../../src-shared/bytes.js';
import { welcomeRecipients } from '../../src-shared/mls-wire.js';
import { encodeRoomStateExtension, ROOM_STATE_EXTENSION_TYPE, type RoomState } from '../../src-shared/room-state.js';
import type { GeneratedKeyPackage } from '../../src-main/mls/engine.js';

/** RFC 9420 external_senders. */
export const EXTERNAL_SENDERS_EXTENSION = 5;

export interface Ext {
  type: number;
  data: Uint8Array;
}

/** A room's GroupContext extensions; `state` as raw bytes lets a test put malformed data there. */
export function roomExtensions(hubSender: Uint8Array, state: RoomState | Uint8Array): Ext[] {
  const data = state instanceof Uint8Array ? state : encodeRoomStateExtension(state);
  return [
    { type: EXTERNAL_SENDERS_EXTENSION, data: hubSender },
    { type: ROOM_STATE_EXTENSION_TYPE, data },
  ];
}

/** `exts` with the room state's data replaced (the others kept, in order). */
export function withStateData(exts: readonly Ext[], state: RoomState | Uint8Array): Ext[] {
  const data = state instanceof Uint8Array ? state : encodeRoomStateExtension(state);
  return exts.map((e) => (e.type === ROOM_STATE_EXTENSION_TYPE ? { type: e.type, data } : e));
}

export interface Endpoint {
  url: string;
  caPem: string;
}

export interface JsonReply {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** One client-API request with a bearer token; the JSON answer whatever its status. */
export function clientCall(at: Endpoint, token: string, method: string, path: string, body?: unknown): Promise<JsonReply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${at.url}${path}`,
      {
        method,
        ca: at.caPem,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as JsonReply['body'] });
          } catch {
            reject(new Error(`non-JSON answer ${res.statusCode}: ${data.slice(0, 200)}`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// `dbFile`: the provider's provider.sqlite, which names its data folder; in the suite's PostgreSQL
// pass mimi-peer's withDb reads that folder's database instead.


/** Tables whose row count any accepted commit or message changes somewhere. */
const COUNTED = ['rooms', 'events', 'inbox', 'accepted', 'idempotency', 'fed_outbox', 'key_package_claims', 'pending_removals'];

/**
 * What the provider holds about `roomUri` (its row, list, devices, events) plus global row counts:
 * equal snapshots before and after a refused request mean it changed nothing.
 */
export function roomSnapshot(dbFile: string, roomUri: string): Record<string, unknown> {
  return withDb(dbFile, (db) => {
    const row = db.prepare('SELECT epoch, room_state, group_info, ratchet_tree FROM rooms WHERE room_uri = ?').get(roomUri) as
      | { epoch: number; room_state: Buffer | null; group_info: Buffer | null; ratchet_tree: Buffer | null }
      | undefined;
    return {
      room: row && {
        epoch: row.epoch,
        roomState: row.room_state ? toHex(row.room_state) : null,
        groupInfo: row.group_info ? toHex(row.group_info) : null,
        ratchetTree: row.ratchet_tree ? toHex(row.ratchet_tree) : null,
      },
      participants: db.prepare('SELECT user_uri FROM room_participants WHERE room_uri = ? ORDER BY user_uri').pluck().all(roomUri),
      devices: db.prepare('SELECT device_uri FROM room_devices WHERE room_uri = ? ORDER BY device_uri').pluck().all(roomUri),
      events: db.prepare('SELECT id, kind, epoch FROM events WHERE room_uri = ? ORDER BY id').all(roomUri),
      counts: Object.fromEntries(COUNTED.map((t) => [t, db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()])),
    };
  });
}

/** The stored room state of `roomUri` (null: unmanaged; undefined: no such room). */
export function storedRoomState(dbFile: string, roomUri: string): Uint8Array | null | undefined {
  return withDb(dbFile, (db) => {
    const row = db.prepare('SELECT room_state FROM rooms WHERE room_uri = ?').get(roomUri) as { room_state: Buffer | null } | undefined;
    return row === undefined ? undefined : row.room_state && new Uint8Array(row.room_state);
  });
}

/**
 * The newest Welcome for `roomUri` in a provider's events addressed to one of `kps` (by hex
 * KeyPackageRef), with the tree stored beside it and the KeyPackage it opens with.
 */
export function welcomeFor(dbFile: string, roomUri: string, kps: ReadonlyMap<string, GeneratedKeyPackage>): { welcome: Uint8Array; ratchetTree: Uint8Array; keyPackage: GeneratedKeyPackage } {
  const rows = withDb(dbFile, (db) => db.prepare("SELECT payload, ratchet_tree FROM events WHERE room_uri = ? AND kind = 'welcome' ORDER BY id DESC").all(roomUri)) as {
    payload: Buffer;
    ratchet_tree: Buffer;
  }[];
  for (const r of rows) {
    const welcome = new Uint8Array(r.payload);
    const ref = welcomeRecipients(welcome).map(toHex).find((x) => kps.has(x));
    if (ref) return { welcome, ratchetTree: new Uint8Array(r.ratchet_tree), keyPackage: kps.get(ref)! };
  }
  throw new Error(`no Welcome for ${roomUri} addressed to these KeyPackages`);
}
