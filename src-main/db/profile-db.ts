// The local database of one account (one profile folder): rooms with their MLS group state,
// the timeline, unused KeyPackage private keys, the outbox and the push cursor.
//
// Sensitive columns (group state, private KeyPackages, message content) are sealed with the
// profile's Vault (AES-256-GCM, key in the OS keychain) and bound to their row by AAD, so the file
// alone reveals only metadata (room URIs, senders, timestamps). Every multi-step change runs in one
// transaction: a crash leaves either the old or the new state, never a mix.

import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { ConnectionView } from '../../src-shared/contract.js';
import type { ActionKind } from '../../src-shared/content-actions.js';
import type { Vault } from '../secrets/vault.js';
import { joinSessionState, splitSessionState } from '../mls/engine.js';

/**
 * The timeline sort key in SQL, column by column (compareTimeline in src-shared/timeline-order.ts
 * is the same order in TypeScript): pending messages last in the order they were written, the
 * others by the hub's acceptance time, then message ID. Unique within a room.
 */
const ORDER_KEY_PARTS = [
  "(status = 'pending')",
  "(CASE WHEN status = 'pending' THEN seq ELSE timestamp END)",
  "(CASE WHEN status = 'pending' THEN '' ELSE message_id END)",
];
const ORDER_KEY = ORDER_KEY_PARTS.join(', ');
const ORDER_DESC = ORDER_KEY_PARTS.map((p) => `${p} DESC`).join(', ');

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE rooms (
      room_uri TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      hub_domain TEXT NOT NULL,
      epoch TEXT NOT NULL,
      group_state BLOB NOT NULL,
      unread INTEGER NOT NULL DEFAULT 0,
      left_room INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE messages (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
      message_id TEXT NOT NULL,
      sender TEXT NOT NULL,
      content BLOB NOT NULL,
      timestamp INTEGER NOT NULL,
      status TEXT NOT NULL,
      UNIQUE (room_uri, message_id)
    );
    CREATE INDEX messages_room_seq ON messages(room_uri, seq);
    CREATE TABLE key_packages (
      ref TEXT PRIMARY KEY,
      public_message BLOB NOT NULL,
      private_state BLOB NOT NULL,
      last_resort INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE outbox (
      request_id TEXT PRIMARY KEY,
      room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
      message_seq INTEGER NOT NULL,
      content BLOB NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    );
  `,
  // The pseudonym pool (issued by the provider; each with its own sealed MLS signature key and
  // identity link), the rooms each is used in, and connection requests. A KeyPackage made for a
  // pseudonym names its client pseudonym, so a Welcome to it joins with the pseudonym's keys.
  2: `
    ALTER TABLE key_packages ADD COLUMN client_pseudonym TEXT;
    CREATE TABLE pseudonyms (
      user_pseudonym TEXT PRIMARY KEY,
      client_pseudonym TEXT NOT NULL UNIQUE,
      keys BLOB NOT NULL,
      issued_at INTEGER NOT NULL,
      retired_at INTEGER
    );
    CREATE TABLE pseudonym_rooms (
      user_pseudonym TEXT NOT NULL REFERENCES pseudonyms(user_pseudonym) ON DELETE CASCADE,
      room_uri TEXT NOT NULL,
      PRIMARY KEY (user_pseudonym, room_uri)
    );
    CREATE TABLE connections (
      id TEXT PRIMARY KEY,
      direction TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
      peer TEXT NOT NULL,
      verified INTEGER NOT NULL,
      problem TEXT,
      state TEXT NOT NULL,
      at INTEGER NOT NULL,
      room_uri TEXT,
      details BLOB
    );
  `,
  // A pseudonym of the pool whose client pseudonym acts under a user pseudonym that another device
  // of the account was issued: this device joined that pseudonym's rooms by external commit
  // (pseudonym-devices.ts). `acts_as` is that user pseudonym, `acting_keys` this client's sealed
  // keys for it (NULL while being made); `keys` stays the pair's own. One client per user
  // pseudonym on a device, as the draft asks for a user's clients in a room.
  3: `
    ALTER TABLE pseudonyms ADD COLUMN acts_as TEXT;
    ALTER TABLE pseudonyms ADD COLUMN acting_keys BLOB;
    CREATE UNIQUE INDEX pseudonyms_acts_as ON pseudonyms(acts_as) WHERE acts_as IS NOT NULL;
  `,
  // The hub's Frank of a received message (mimi-protocol encoding), sealed like its content: what
  // a report needs besides the content and the accepted timestamp (src-shared/franking.ts).
  4: `
    ALTER TABLE messages ADD COLUMN frank BLOB;
  `,
  // The timeline in the hub's acceptance order (src-shared/timeline-order.ts), not in the order
  // messages reached this device: an index on exactly the sort key pageMessages uses. No column is
  // needed: `timestamp` already holds the hub's acceptance time of every accepted message (the
  // outbox stores it from the hub's answer, incoming ones arrive with it).
  5: `
    CREATE INDEX messages_room_order ON messages(room_uri, ${ORDER_KEY});
  `,
  // Message actions (src-shared/content-actions.ts): a reaction, unlike, edit or delete is kept as
  // a message row like any other (its content sealed the same way, so the emoji and the new text
  // stay as private as a message), marked with its kind and the message it acts on, and left out
  // of the timeline's pages; views fold them into their target (core/message-view.ts). The kind
  // and target are metadata of the same order as the sender and time, which are in the clear too.
  6: `
    ALTER TABLE messages ADD COLUMN action TEXT;
    ALTER TABLE messages ADD COLUMN target_id TEXT;
    CREATE INDEX messages_room_target ON messages(room_uri, target_id) WHERE target_id IS NOT NULL;
  `,
  // Attachments this device uploaded (core/attachments.ts): a row as soon as the provider accepted
  // the ciphertext, its message id once the message carrying the key is queued in the same profile.
  // A row without one is an upload a crash or a refusal left unreferenced (the provider still counts
  // it toward the quota). Only the URL and size: the key lives in the sealed message content.
  7: `
    CREATE TABLE uploaded_assets (
      url TEXT PRIMARY KEY,
      room_uri TEXT NOT NULL,
      size INTEGER NOT NULL,
      uploaded_at INTEGER NOT NULL,
      message_id TEXT
    );
  `,
  // Per-room mute: a muted room still counts unread messages, but raises no notification. Kept
  // here (not in the renderer's storage) so it belongs to the account on this device and survives
  // a new window or browser.
  8: `
    ALTER TABLE rooms ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
  `,
  // Timeline events (src-shared/timeline-events.ts): what each commit did to the room ("alice
  // added bob"), in a table of their own so nothing that reads messages (unread counts, previews,
  // reports, search) ever takes one for a message. `seq` comes from the messages' own counter
  // (insertTimelineEvents), so one seq names one timeline item of either kind and the renderer
  // pages both with one cursor. `event_id` is the same on every member's device (the commit's
  // epoch and the event's place in it), and with the hub's acceptance time orders events among
  // messages as everywhere else. The event itself names people, so it is sealed like a message.
  9: `
    CREATE TABLE timeline_events (
      seq INTEGER PRIMARY KEY,
      room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
      event_id TEXT NOT NULL,
      timestamp INTEGER NOT NULL,
      content BLOB NOT NULL,
      UNIQUE (room_uri, event_id)
    );
    CREATE INDEX timeline_events_room_order ON timeline_events(room_uri, timestamp, event_id);
  `,
  // 10: receipts and privacy switches; 11: members' shared profiles (both being built this session).
  // Receipts and privacy switches (core/receipts.ts, docs/receipts-and-typing.md). `receipts` holds
  // the delivery and read reports others sent about this account's own messages: who, the highest
  // status (1 delivered, 2 read; never lowered) and when, metadata of the same order as a message's
  // sender and time. `read_marks` is how far (message seq) this device has reported reading a room.
  // `privacy` holds a row only for a switch turned off: every switch is on by default. Rooms that
  // exist at the upgrade start read as reported up to their newest message, so the first look
  // does not send read receipts for a whole history.
  10: `
    CREATE TABLE receipts (
      room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
      message_id TEXT NOT NULL,
      reporter TEXT NOT NULL,
      status INTEGER NOT NULL CHECK (status IN (1, 2)),
      at INTEGER NOT NULL,
      PRIMARY KEY (room_uri, message_id, reporter)
    );
    CREATE TABLE read_marks (
      room_uri TEXT PRIMARY KEY REFERENCES rooms(room_uri) ON DELETE CASCADE,
      seq INTEGER NOT NULL
    );
    CREATE TABLE privacy (
      setting TEXT PRIMARY KEY CHECK (setting IN ('deliveryReceipts', 'readReceipts', 'typing')),
      enabled INTEGER NOT NULL CHECK (enabled IN (0, 1))
    );
    INSERT INTO read_marks(room_uri, seq)
      SELECT r.room_uri, COALESCE((SELECT MAX(m.seq) FROM messages m WHERE m.room_uri = r.room_uri), 0) FROM rooms r;
  `,
  // Members' profiles as they share them in each room (src-shared/member-profile.ts; docs/decisions.md
  // "Profiles in rooms"): the latest per room and user, sealed (a name and a picture are personal).
  // `own_profile` is this account's own (its one row), `profile_shares` what this device last
  // shared in each room and to which devices (sealed JSON), so a change or a newcomer costs one
  // message per room and nothing is sent twice.
  11: `
    CREATE TABLE member_profiles (
      room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
      user_uri TEXT NOT NULL,
      profile BLOB NOT NULL,
      PRIMARY KEY (room_uri, user_uri)
    );
    CREATE TABLE own_profile (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      profile BLOB NOT NULL
    );
    CREATE TABLE profile_shares (
      room_uri TEXT PRIMARY KEY REFERENCES rooms(room_uri) ON DELETE CASCADE,
      shared BLOB NOT NULL
    );
  `,
  // The encrypted backup at the account's provider (core/backup.ts, docs/backup.md "The client").
  // `backup_state` (one row): the backup id, the generation whose manifest is stored, a generation
  // being written in full (NULL: none), one replaced but not yet deleted at the provider, and what
  // the stored manifest covers. `backup_chunks`: every chunk the provider has confirmed, with the
  // range of local seqs it holds, so a run killed midway continues after the last confirmed chunk
  // and never uploads one twice. Only hashes, sizes and counts: the contents stay at the provider,
  // sealed under the recovery key (which is in the account's secret storage, not here).
  12: `
    CREATE TABLE backup_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      backup_id TEXT NOT NULL,
      generation INTEGER,
      writing INTEGER,
      stale INTEGER,
      covered_seq INTEGER NOT NULL DEFAULT 0,
      messages INTEGER NOT NULL DEFAULT 0,
      bytes INTEGER NOT NULL DEFAULT 0,
      stored_at INTEGER
    );
    CREATE TABLE backup_chunks (
      generation INTEGER NOT NULL,
      idx INTEGER NOT NULL,
      first_seq INTEGER NOT NULL,
      last_seq INTEGER NOT NULL,
      messages INTEGER NOT NULL,
      events INTEGER NOT NULL,
      size INTEGER NOT NULL,
      sha256 TEXT NOT NULL,
      stored_at INTEGER NOT NULL,
      PRIMARY KEY (generation, idx)
    );
  `,
  // People this account verified by comparing safety numbers (core/verification.ts,
  // docs/verification.md): the person's fingerprint (30 bytes, over their devices' signature keys)
  // when they were verified, and `warned`: the changed fingerprint a room was last told about, so
  // one change is announced once, not at every later commit.
  13: `
    CREATE TABLE verified_people (
      user TEXT PRIMARY KEY,
      fingerprint BLOB NOT NULL,
      verified_at INTEGER NOT NULL,
      warned BLOB
    );
  `,
  // The account's own devices this device verified by comparing a short code (core/device-link.ts,
  // docs/device-transfer.md): the device URI and the signature key it proved to be its own.
  14: `
    CREATE TABLE verified_devices (
      device_uri TEXT PRIMARY KEY,
      signature_key BLOB NOT NULL,
      verified_at INTEGER NOT NULL
    );
  `,
  // KeyPackages of other providers' users over Oblivious HTTP (core/key-package-fetch.ts,
  // docs/ohttp-key-packages.md). `key_package_tokens`: Privacy Pass tokens obtained for a target
  // user and not used yet (the token sealed; each row is deleted before its token is sent, so none
  // is used twice). `ohttp_provider_keys`: the provider key each domain signed its OHTTP key
  // configuration with the first time this account used it; a later configuration under another
  // key is refused until the person says otherwise. The database is the account's (one profile).
  15: `
    CREATE TABLE key_package_tokens (
      id TEXT PRIMARY KEY,
      target TEXT NOT NULL,
      token BLOB NOT NULL,
      obtained_at INTEGER NOT NULL
    );
    CREATE INDEX key_package_tokens_target ON key_package_tokens(target, obtained_at);
    CREATE TABLE ohttp_provider_keys (
      domain TEXT PRIMARY KEY,
      provider_key BLOB NOT NULL,
      pinned_at INTEGER NOT NULL
    );
  `,
  // The epoch at which this device joined each room (created it, was welcomed, joined by external
  // commit, or came back after a removal): a message from an earlier epoch was sent before the
  // device was a member and can never be read here, so it is skipped rather than reported
  // (core/incoming.ts). Decimal text like `epoch` (an MLS epoch is a u64). NULL for rooms joined
  // before this migration and for rooms known only from a backup: unknown, nothing is skipped.
  16: `
    ALTER TABLE rooms ADD COLUMN joined_epoch TEXT;
  `,
  // A room's group state in two parts (mls/engine.ts, splitSessionState): its ratchet tree, sealed,
  // written once per epoch, and under `group_tree_key` the key that names it (its SHA-256); the
  // rest, written at every message, stays in `group_state`. NULL: `group_state` is the whole state.
  // Why: at 1,000 members the tree is 200 KB of a 203 KB state, and every message sent or read
  // rewrote all of it (4.7 ms of sealing and writing, ~190 KiB of WAL per message).
  17: `
    ALTER TABLE rooms ADD COLUMN group_tree BLOB;
    ALTER TABLE rooms ADD COLUMN group_tree_key BLOB;
  `,
};

/**
 * A stored ratchet tree is sealed under its key too (profile database migration 17), so the vault
 * refuses a tree moved beside another key before the engine sees it (the engine also checks that
 * the key is the tree's hash and the one the rest names).
 */
const treeAad = (roomUri: string, treeKey: Uint8Array): string => `group-tree:${roomUri}:${Buffer.from(treeKey).toString('hex')}`;

/** The newest migration; they run in order from the database's user_version, so none may be missing. */
const SCHEMA_VERSION = Math.max(...Object.keys(MIGRATIONS).map(Number));
for (let v = 1; v <= SCHEMA_VERSION; v++) if (MIGRATIONS[v] === undefined) throw new Error(`profile-db: migration ${v} is missing`);

/** A person this account verified (migration 13). */
export interface VerifiedPersonRow {
  user: string;
  fingerprint: Uint8Array;
  verifiedAt: number;
  warned?: Uint8Array;
}

/** A pseudonym of the pool as stored (its keys are apart: pseudonymKeys). */
export interface PseudonymRow {
  userPseudonym: string;
  clientPseudonym: string;
  issuedAt: number;
  retiredAt?: number;
  rooms: string[];
  /** Its client pseudonym acts under this user pseudonym of another device of the account (migration 3). */
  actsAs?: string;
}

/** A connection request as the app shows it, plus what only this device keeps of it. */
export type ConnectionRow = ConnectionView & {
  /** Sealed: what the request carried or what we sent (second pseudonym, KeyPackages, ...). */
  details?: Uint8Array;
};

export interface RoomRow {
  roomUri: string;
  name: string;
  hubDomain: string;
  epoch: bigint;
  unread: number;
  left: boolean;
  createdAt: number;
  /** The epoch this device joined the room at (migration 16); absent when unknown (joined before it). */
  joinedEpoch?: bigint;
}

export type MessageStatus = 'pending' | 'sent' | 'received' | 'failed';

export interface MessageRow {
  seq: number;
  roomUri: string;
  messageId: string;
  sender: string;
  content: Uint8Array; // mimi-content CBOR
  timestamp: number;
  status: MessageStatus;
  /** Set on an action (migration 6): what it does, and to which message (hex id). */
  action?: MessageAction;
}

/** A stored action's kind and the message it acts on (an unlike: the reacted-to message, if known). */
export interface MessageAction {
  kind: ActionKind;
  targetId: string | null;
}

/** A timeline event as stored (migration 9): `content` is the event's JSON (src-shared/timeline-events.ts), opened. */
export interface TimelineEventRow {
  seq: number;
  roomUri: string;
  eventId: string;
  timestamp: number;
  content: Uint8Array;
}

/** The backup's progress on this device (migration 12). */
export interface BackupStateRow {
  backupId: string;
  /** The generation whose manifest the provider has (null: none yet). */
  generation: number | null;
  /** A generation being written in full, not yet complete (null: none). */
  writing: number | null;
  /** A replaced generation still to delete at the provider. */
  stale: number | null;
  /** Items up to this seq are in the stored manifest's chunks. */
  coveredSeq: number;
  messages: number;
  bytes: number;
  storedAt: number | null;
}

/** A chunk the provider confirmed (its sealed bytes' hash, what it holds). */
export interface BackupChunkRow {
  generation: number;
  index: number;
  firstSeq: number;
  lastSeq: number;
  messages: number;
  events: number;
  size: number;
  sha256: string;
  storedAt: number;
}

export type BackupItemRow = ({ kind: 'message'; frank?: Uint8Array } & MessageRow) | { kind: 'event'; seq: number; roomUri: string; eventId: string; timestamp: number; content: Uint8Array };

export interface OutboxRow {
  requestId: string;
  roomUri: string;
  messageSeq: number;
  content: Uint8Array;
  attempts: number;
}

/** Prepared statements kept per connection (ProfileDb.prep); the texts in use are far fewer. */
const MAX_CACHED_STATEMENTS = 256;

export class ProfileDb {
  private readonly db: Database.Database;
  private actionsStmt?: Database.Statement;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    file: string,
    private readonly vault: Vault,
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is crash-safe in WAL mode (a killed process loses nothing committed); only an OS
    // crash could roll back the last transactions, which the provider would then re-deliver.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) throw new Error(`database schema ${current} is newer than this app (${SCHEMA_VERSION}); update the app`);
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v}`);
      })();
    }
  }

  close(): void {
    this.db.close();
  }

  /**
   * The prepared statement for `sql`, prepared once per connection: preparing costs about as much
   * as running a small query, and the message hot path (send, settle, receive, the views) runs a
   * dozen of them per message. Statements are only ever run with get/all/run here (never iterate,
   * pluck or raw), so one shared statement per text is safe. Bounded, since a few texts are built
   * from arguments (timeline order, filters).
   */
  private prep(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- meta ----
  getMeta(key: string): string | undefined {
    return (this.prep('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }
  setMeta(key: string, value: string): void {
    this.prep('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- rooms ----
  private static roomRow(r: Record<string, unknown>): RoomRow {
    return {
      roomUri: r.room_uri as string,
      name: r.name as string,
      hubDomain: r.hub_domain as string,
      epoch: BigInt(r.epoch as string),
      unread: r.unread as number,
      left: (r.left_room as number) === 1,
      createdAt: r.created_at as number,
      ...(r.joined_epoch != null ? { joinedEpoch: BigInt(r.joined_epoch as string) } : {}),
    };
  }

  listRooms(): RoomRow[] {
    return (this.prep('SELECT room_uri, name, hub_domain, epoch, unread, left_room, created_at, joined_epoch FROM rooms ORDER BY created_at').all() as Record<string, unknown>[]).map(
      ProfileDb.roomRow,
    );
  }

  getRoom(roomUri: string): RoomRow | undefined {
    const r = this.prep('SELECT room_uri, name, hub_domain, epoch, unread, left_room, created_at, joined_epoch FROM rooms WHERE room_uri = ?').get(roomUri);
    return r ? ProfileDb.roomRow(r as Record<string, unknown>) : undefined;
  }

  /** Rooms muted on this device (no notifications; unread counts stay). */
  mutedRooms(): Set<string> {
    return new Set((this.prep('SELECT room_uri FROM rooms WHERE muted = 1').all() as { room_uri: string }[]).map((r) => r.room_uri));
  }

  isRoomMuted(roomUri: string): boolean {
    return (this.prep('SELECT muted FROM rooms WHERE room_uri = ?').get(roomUri) as { muted: number } | undefined)?.muted === 1;
  }

  /** False when there is no such room (nothing changed). */
  setRoomMuted(roomUri: string, muted: boolean): boolean {
    return this.prep('UPDATE rooms SET muted = ? WHERE room_uri = ?').run(muted ? 1 : 0, roomUri).changes === 1;
  }

  /**
   * A room this device has just joined: created (epoch 0), welcomed into, or joined by external
   * commit. Its `epoch` is therefore also the epoch it joined at (joined_epoch, migration 16).
   */
  insertRoom(room: { roomUri: string; name: string; hubDomain: string; epoch: bigint; groupState: Uint8Array }): void {
    const epoch = room.epoch.toString();
    this
      .prep('INSERT INTO rooms(room_uri, name, hub_domain, epoch, group_state, created_at, joined_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(room.roomUri, room.name, room.hubDomain, epoch, this.vault.seal(room.groupState, `group:${room.roomUri}`), Date.now(), epoch);
  }

  groupState(roomUri: string): Uint8Array | undefined {
    const r = this.prep('SELECT group_state, group_tree, group_tree_key FROM rooms WHERE room_uri = ?').get(roomUri) as
      | { group_state: Buffer; group_tree: Buffer | null; group_tree_key: Buffer | null }
      | undefined;
    // An empty state is a room restored from a backup that this device is not a member of yet.
    if (!r || r.group_state.length === 0) return undefined;
    const state = this.vault.open(new Uint8Array(r.group_state), `group:${roomUri}`);
    if (r.group_tree === null || r.group_tree_key === null) return state;
    // The stored rest carries an empty tree: the epoch's tree goes back in its place. The engine
    // checks that the tree is the one the key and the rest name.
    const rest = splitSessionState(state);
    if (!rest) throw new Error(`the group state of ${roomUri} is stored in two parts but its rest is not of that form`);
    const treeKey = new Uint8Array(r.group_tree_key);
    const tree = this.vault.open(new Uint8Array(r.group_tree), treeAad(roomUri, treeKey));
    return joinSessionState({ treeKey, tree, rest: rest.rest });
  }

  /** The stored (sealed) size of every room's group state, in bytes: without reading or decrypting them. */
  groupStateSizes(): Map<string, number> {
    const rows = this.prep('SELECT room_uri, length(group_state) + coalesce(length(group_tree), 0) AS bytes FROM rooms').all() as {
      room_uri: string;
      bytes: number | null;
    }[];
    return new Map(rows.map((r) => [r.room_uri, r.bytes ?? 0]));
  }

  /**
   * Stores the room's group state. A state of the split form (mls/engine.ts) whose tree is the one
   * stored already (same key) writes only its rest; otherwise the tree too. The check is in the
   * UPDATE itself, so a transaction rolled back after a save (its tree with it) cannot leave a rest
   * stored against another epoch's tree.
   */
  saveGroupState(roomUri: string, epoch: bigint, state: Uint8Array): void {
    const parts = splitSessionState(state);
    if (!parts) {
      this.prep('UPDATE rooms SET group_state = ?, group_tree = NULL, group_tree_key = NULL, epoch = ? WHERE room_uri = ?').run(
        this.vault.seal(state, `group:${roomUri}`),
        epoch.toString(),
        roomUri,
      );
      return;
    }
    const rest = this.vault.seal(joinSessionState({ ...parts, tree: new Uint8Array(0) }), `group:${roomUri}`);
    const key = Buffer.from(parts.treeKey);
    if (this.prep('UPDATE rooms SET group_state = ?, epoch = ? WHERE room_uri = ? AND group_tree_key = ?').run(rest, epoch.toString(), roomUri, key).changes > 0) return;
    this.prep('UPDATE rooms SET group_state = ?, group_tree = ?, group_tree_key = ?, epoch = ? WHERE room_uri = ?').run(
      rest,
      this.vault.seal(parts.tree, treeAad(roomUri, parts.treeKey)),
      key,
      epoch.toString(),
      roomUri,
    );
  }

  /** The name this device gives the room (the shared name in the room state wins where set). */
  renameRoom(roomUri: string, name: string): void {
    this.prep('UPDATE rooms SET name = ? WHERE room_uri = ?').run(name, roomUri);
  }

  markLeft(roomUri: string): void {
    this.prep('UPDATE rooms SET left_room = 1 WHERE room_uri = ?').run(roomUri);
  }

  /**
   * Back in a room this device had left or been removed from, or knew only from a backup (it
   * joined again, at `joinedEpoch`): its keys of any earlier membership went with the old state.
   */
  markRejoined(roomUri: string, joinedEpoch: bigint): void {
    this.prep('UPDATE rooms SET left_room = 0, joined_epoch = ? WHERE room_uri = ?').run(joinedEpoch.toString(), roomUri);
  }

  markRead(roomUri: string): void {
    this.prep('UPDATE rooms SET unread = 0 WHERE room_uri = ?').run(roomUri);
  }

  // ---- messages ----
  private static messageRow(this: void, vault: Vault, r: Record<string, unknown>): MessageRow {
    return {
      seq: r.seq as number,
      roomUri: r.room_uri as string,
      messageId: r.message_id as string,
      sender: r.sender as string,
      content: vault.open(new Uint8Array(r.content as Buffer), `message:${r.room_uri as string}:${r.message_id as string}`),
      timestamp: r.timestamp as number,
      status: r.status as MessageStatus,
      ...(r.action ? { action: { kind: r.action as ActionKind, targetId: (r.target_id as string | null) ?? null } } : {}),
    };
  }

  /** Insert a message unless (room, messageId) is already stored; returns the new row or undefined for a duplicate. */
  insertMessage(m: Omit<MessageRow, 'seq'>, countUnread: boolean, frank?: Uint8Array): MessageRow | undefined {
    const res = this
      .prep('INSERT OR IGNORE INTO messages(room_uri, message_id, sender, content, timestamp, status, frank, action, target_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        m.roomUri,
        m.messageId,
        m.sender,
        this.vault.seal(m.content, `message:${m.roomUri}:${m.messageId}`),
        m.timestamp,
        m.status,
        frank ? this.vault.seal(frank, `frank:${m.roomUri}:${m.messageId}`) : null,
        m.action?.kind ?? null,
        m.action?.targetId ?? null,
      );
    if (res.changes === 0) return undefined;
    if (countUnread) this.prep('UPDATE rooms SET unread = unread + 1 WHERE room_uri = ?').run(m.roomUri);
    return { ...m, seq: Number(res.lastInsertRowid) };
  }

  /** An upload the provider accepted (migration 7); `messageId` once its message is queued. */
  noteUpload(url: string, roomUri: string, size: number): void {
    this.prep('INSERT OR IGNORE INTO uploaded_assets (url, room_uri, size, uploaded_at) VALUES (?, ?, ?, ?)').run(url, roomUri, size, Date.now());
  }

  uploadSent(url: string, messageId: string): void {
    this.prep('UPDATE uploaded_assets SET message_id = ? WHERE url = ?').run(messageId, url);
  }

  /** Uploads no queued message refers to (left by a crash or a refused send). */
  unsentUploads(): { url: string; roomUri: string; size: number }[] {
    return this.prep('SELECT url, room_uri AS roomUri, size FROM uploaded_assets WHERE message_id IS NULL ORDER BY uploaded_at').all() as { url: string; roomUri: string; size: number }[];
  }

  setMessageStatus(seq: number, status: MessageStatus, timestamp?: number): void {
    if (timestamp === undefined) this.prep('UPDATE messages SET status = ? WHERE seq = ?').run(status, seq);
    else this.prep('UPDATE messages SET status = ?, timestamp = ? WHERE seq = ?').run(status, timestamp, seq);
  }

  /** Messages after `seq` in the order they were stored (the search index catches up with these). */
  messagesAfter(seq: number, limit: number): MessageRow[] {
    const rows = this.prep('SELECT * FROM messages WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as Record<string, unknown>[];
    return rows.map((r) => ProfileDb.messageRow(this.vault, r));
  }

  /** How many messages were stored after `seq`. */
  countMessagesAfter(seq: number): number {
    return (this.prep('SELECT count(*) AS n FROM messages WHERE seq > ?').get(seq) as { n: number }).n;
  }

  /** The vault's key for another purpose (vault.deriveKey): the search index's blinding key. */
  derivedKey(purpose: string): Uint8Array {
    return this.vault.deriveKey(purpose);
  }

  /** A message by its mimi-content message id (hex), with its kept Frank if any. */
  messageById(roomUri: string, messageId: string): (MessageRow & { frank?: Uint8Array }) | undefined {
    const r = this.prep('SELECT * FROM messages WHERE room_uri = ? AND message_id = ?').get(roomUri, messageId) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const row = ProfileDb.messageRow(this.vault, r);
    const frank = r.frank ? this.vault.open(new Uint8Array(r.frank as Buffer), `frank:${roomUri}:${messageId}`) : undefined;
    return frank ? { ...row, frank } : row;
  }

  /** The Frank kept with a received message, if the hub franked it. */
  messageFrank(roomUri: string, messageId: string): Uint8Array | undefined {
    const r = this.prep('SELECT frank FROM messages WHERE room_uri = ? AND message_id = ?').get(roomUri, messageId) as { frank: Buffer | null } | undefined;
    return r?.frank ? this.vault.open(new Uint8Array(r.frank), `frank:${roomUri}:${messageId}`) : undefined;
  }

  getMessage(seq: number): MessageRow | undefined {
    const r = this.prep('SELECT * FROM messages WHERE seq = ?').get(seq);
    return r ? ProfileDb.messageRow(this.vault, r as Record<string, unknown>) : undefined;
  }

  /**
   * Newest first in timeline order (the hub's acceptance order, pending ones last: see ORDER_KEY),
   * strictly before the message `beforeSeq` when given. A `beforeSeq` this room does not hold
   * pages by seq, as before the timeline had its own order.
   */
  pageMessages(roomUri: string, beforeSeq: number | null, limit: number): MessageRow[] {
    // Actions (migration 6) are folded into their targets, never rows of their own.
    const order = `ORDER BY ${ORDER_DESC} LIMIT ?`;
    let rows: Record<string, unknown>[];
    if (beforeSeq === null) rows = this.prep(`SELECT * FROM messages WHERE room_uri = ? AND action IS NULL ${order}`).all(roomUri, limit) as Record<string, unknown>[];
    else if (this.prep('SELECT 1 FROM messages WHERE seq = ? AND room_uri = ?').get(beforeSeq, roomUri)) {
      rows = this
        .prep(`SELECT * FROM messages WHERE room_uri = ? AND action IS NULL AND (${ORDER_KEY}) < (SELECT ${ORDER_KEY} FROM messages WHERE seq = ?) ${order}`)
        .all(roomUri, beforeSeq, limit) as Record<string, unknown>[];
    } else rows = this.prep(`SELECT * FROM messages WHERE room_uri = ? AND action IS NULL AND seq < ? ${order}`).all(roomUri, beforeSeq, limit) as Record<string, unknown>[];
    return rows.map((r) => ProfileDb.messageRow(this.vault, r));
  }

  /** The actions on the messages `targetIds` (hex), oldest first in timeline order. */
  actionsOn(roomUri: string, targetIds: readonly string[]): MessageRow[] {
    if (targetIds.length === 0) return [];
    // json_each keeps the statement the same whatever the page size (no variable-count limit).
    // INDEXED BY: without statistics SQLite prefers the timeline-order index (it saves the sort) and
    // reads the room's whole history for a handful of targets; a page then costs O(room size).
    this.actionsStmt ??= this.prep(
      `SELECT * FROM messages INDEXED BY messages_room_target WHERE room_uri = ? AND target_id IN (SELECT value FROM json_each(?)) ORDER BY ${ORDER_KEY}`,
    );
    return (this.actionsStmt.all(roomUri, JSON.stringify(targetIds)) as Record<string, unknown>[]).map((r) => ProfileDb.messageRow(this.vault, r));
  }

  countMessages(roomUri: string): number {
    return (this.prep('SELECT COUNT(*) AS n FROM messages WHERE room_uri = ?').get(roomUri) as { n: number }).n;
  }

  // ---- timeline events (migration 9) ----

  /**
   * Store a commit's events (call inside the transaction that adopts the commit). Each takes the
   * next seq of the messages' counter, which is moved past it, so message and event seqs never
   * meet. Returns the rows stored (none for events already there: the same commit seen twice).
   */
  insertTimelineEvents(roomUri: string, timestamp: number, events: { eventId: string; content: Uint8Array }[]): TimelineEventRow[] {
    const out: TimelineEventRow[] = [];
    for (const e of events) {
      if (this.prep('SELECT 1 FROM timeline_events WHERE room_uri = ? AND event_id = ?').get(roomUri, e.eventId)) continue;
      const counter = (this.prep("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as { seq: number } | undefined)?.seq ?? 0;
      const top = (this.prep('SELECT MAX(seq) AS s FROM timeline_events').get() as { s: number | null }).s ?? 0;
      const seq = Math.max(counter, top) + 1;
      if (counter === 0 && !this.prep("SELECT 1 FROM sqlite_sequence WHERE name = 'messages'").get()) this.prep("INSERT INTO sqlite_sequence(name, seq) VALUES ('messages', ?)").run(seq);
      else this.prep("UPDATE sqlite_sequence SET seq = ? WHERE name = 'messages'").run(seq);
      this
        .prep('INSERT INTO timeline_events(seq, room_uri, event_id, timestamp, content) VALUES (?, ?, ?, ?, ?)')
        .run(seq, roomUri, e.eventId, timestamp, this.vault.seal(e.content, `timeline-event:${roomUri}:${e.eventId}`));
      out.push({ seq, roomUri, eventId: e.eventId, timestamp, content: e.content });
    }
    return out;
  }

  private timelineEventRow(r: Record<string, unknown>): TimelineEventRow {
    return {
      seq: r.seq as number,
      roomUri: r.room_uri as string,
      eventId: r.event_id as string,
      timestamp: r.timestamp as number,
      content: this.vault.open(new Uint8Array(r.content as Buffer), `timeline-event:${r.room_uri as string}:${r.event_id as string}`),
    };
  }

  /** Every event of a room, oldest first (tests, and `mimi tail`). */
  timelineEvents(roomUri: string): TimelineEventRow[] {
    return (this.prep('SELECT * FROM timeline_events WHERE room_uri = ? ORDER BY timestamp, event_id').all(roomUri) as Record<string, unknown>[]).map((r) => this.timelineEventRow(r));
  }

  /**
   * The timeline of a room, messages and events together, newest first, in the order
   * pageMessages gives messages (events are never pending: they sort by time, then id), strictly
   * before the item `beforeSeq` when given.
   */
  pageTimeline(roomUri: string, beforeSeq: number | null, limit: number): ({ kind: 'message'; row: MessageRow } | { kind: 'event'; row: TimelineEventRow })[] {
    const items = `SELECT seq, 0 AS ev, (status = 'pending') AS k1, (CASE WHEN status = 'pending' THEN seq ELSE timestamp END) AS k2, (CASE WHEN status = 'pending' THEN '' ELSE message_id END) AS k3
        FROM messages WHERE room_uri = @room AND action IS NULL
      UNION ALL
      SELECT seq, 1 AS ev, 0 AS k1, timestamp AS k2, event_id AS k3 FROM timeline_events WHERE room_uri = @room`;
    let keys: { seq: number; ev: number }[];
    if (beforeSeq === null) {
      keys = this.prep(`SELECT seq, ev FROM (${items}) ORDER BY k1 DESC, k2 DESC, k3 DESC LIMIT @limit`).all({ room: roomUri, limit }) as { seq: number; ev: number }[];
    } else {
      keys = this
        .prep(`WITH t AS (${items}) SELECT seq, ev FROM t WHERE (k1, k2, k3) < (SELECT k1, k2, k3 FROM t WHERE seq = @before) ORDER BY k1 DESC, k2 DESC, k3 DESC LIMIT @limit`)
        .all({ room: roomUri, limit, before: beforeSeq }) as { seq: number; ev: number }[];
    }
    return keys.map((k) => {
      if (k.ev === 1) return { kind: 'event' as const, row: this.timelineEventRow(this.prep('SELECT * FROM timeline_events WHERE seq = ?').get(k.seq) as Record<string, unknown>) };
      return { kind: 'message' as const, row: this.getMessage(k.seq)! };
    });
  }

  // ---- key packages ----
  /** `clientPseudonym`: the KeyPackage is of that pseudonym of ours, not of the device. */
  saveKeyPackage(refHex: string, publicMessage: Uint8Array, privateState: Uint8Array, lastResort: boolean, clientPseudonym?: string): void {
    this
      .prep('INSERT OR REPLACE INTO key_packages(ref, public_message, private_state, last_resort, created_at, client_pseudonym) VALUES (?, ?, ?, ?, ?, ?)')
      .run(refHex, publicMessage, this.vault.seal(privateState, `kp:${refHex}`), lastResort ? 1 : 0, Date.now(), clientPseudonym ?? null);
  }
  getKeyPackage(refHex: string): { publicMessage: Uint8Array; privateState: Uint8Array; lastResort: boolean; clientPseudonym?: string } | undefined {
    const r = this.prep('SELECT public_message, private_state, last_resort, client_pseudonym FROM key_packages WHERE ref = ?').get(refHex) as
      | { public_message: Buffer; private_state: Buffer; last_resort: number; client_pseudonym: string | null }
      | undefined;
    if (!r) return undefined;
    return {
      publicMessage: new Uint8Array(r.public_message),
      privateState: this.vault.open(new Uint8Array(r.private_state), `kp:${refHex}`),
      lastResort: r.last_resort === 1,
      ...(r.client_pseudonym ? { clientPseudonym: r.client_pseudonym } : {}),
    };
  }
  /** Drop the private keys of a pseudonym's KeyPackages (it was retired: they are withdrawn). */
  deletePseudonymKeyPackages(clientPseudonym: string): void {
    this.prep('DELETE FROM key_packages WHERE client_pseudonym = ?').run(clientPseudonym);
  }

  /** Drop older last-resort KeyPackages once a new one is uploaded (the provider keeps only the newest). */
  deleteLastResortExcept(refHex: string): void {
    this.prep('DELETE FROM key_packages WHERE last_resort = 1 AND ref <> ?').run(refHex);
  }
  deleteKeyPackage(refHex: string): void {
    this.prep('DELETE FROM key_packages WHERE ref = ?').run(refHex);
  }


  // ---- pseudonyms ----
  insertPseudonym(p: { userPseudonym: string; clientPseudonym: string; keys: Uint8Array; issuedAt: number }): void {
    this
      .prep('INSERT INTO pseudonyms(user_pseudonym, client_pseudonym, keys, issued_at) VALUES (?, ?, ?, ?)')
      .run(p.userPseudonym, p.clientPseudonym, this.vault.seal(p.keys, `pseudonym:${p.userPseudonym}`), p.issuedAt);
  }
  pseudonyms(): PseudonymRow[] {
    const rooms = new Map<string, string[]>();
    for (const r of this.prep('SELECT user_pseudonym, room_uri FROM pseudonym_rooms ORDER BY rowid').all() as { user_pseudonym: string; room_uri: string }[]) {
      rooms.set(r.user_pseudonym, [...(rooms.get(r.user_pseudonym) ?? []), r.room_uri]);
    }
    return (this.prep('SELECT * FROM pseudonyms ORDER BY issued_at, rowid').all() as Record<string, unknown>[]).map((r) => this.pseudonymRow(r, rooms.get(r.user_pseudonym as string) ?? []));
  }
  /** One pseudonym by its user or client pseudonym, or by the user pseudonym its client acts under. */
  pseudonym(userOrClientPseudonym: string): PseudonymRow | undefined {
    const r = this
      .prep('SELECT * FROM pseudonyms WHERE user_pseudonym = ? OR client_pseudonym = ? OR acts_as = ?')
      .get(userOrClientPseudonym, userOrClientPseudonym, userOrClientPseudonym) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const rooms = (this.prep('SELECT room_uri FROM pseudonym_rooms WHERE user_pseudonym = ? ORDER BY rowid').all(r.user_pseudonym) as { room_uri: string }[]).map((x) => x.room_uri);
    return this.pseudonymRow(r, rooms);
  }
  /** The sealed keys of one pseudonym (the engine's DeviceKeys as JSON), opened only when used. */
  pseudonymKeys(userOrClientPseudonym: string): Uint8Array | undefined {
    const r = this.prep('SELECT user_pseudonym, keys FROM pseudonyms WHERE user_pseudonym = ? OR client_pseudonym = ?').get(userOrClientPseudonym, userOrClientPseudonym) as
      | { user_pseudonym: string; keys: Buffer }
      | undefined;
    return r ? this.vault.open(new Uint8Array(r.keys), `pseudonym:${r.user_pseudonym}`) : undefined;
  }
  private pseudonymRow(r: Record<string, unknown>, rooms: string[]): PseudonymRow {
    return {
      userPseudonym: r.user_pseudonym as string,
      clientPseudonym: r.client_pseudonym as string,
      issuedAt: r.issued_at as number,
      ...(r.retired_at !== null ? { retiredAt: r.retired_at as number } : {}),
      rooms,
      ...(r.acts_as !== null ? { actsAs: r.acts_as as string } : {}),
    };
  }
  /**
   * Reserve the unused pseudonym of `clientPseudonym` to act under `actsAs` (another device's user
   * pseudonym); false when it is taken. Its own KeyPackages name its own user pseudonym, which it
   * will never be in a room as: their private halves go, so no Welcome can use them.
   */
  reservePseudonymToActAs(clientPseudonym: string, actsAs: string): boolean {
    return this.tx(() => {
      const res = this
        .prep(
          `UPDATE pseudonyms SET acts_as = ? WHERE client_pseudonym = ? AND acts_as IS NULL AND retired_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM pseudonym_rooms r WHERE r.user_pseudonym = pseudonyms.user_pseudonym)`,
        )
        .run(actsAs, clientPseudonym);
      if (res.changes === 0) return false;
      this.deletePseudonymKeyPackages(clientPseudonym);
      return true;
    });
  }
  /** This client's keys under the user pseudonym it acts as (the engine's DeviceKeys as JSON). */
  setActingKeys(clientPseudonym: string, keys: Uint8Array): void {
    this.prep('UPDATE pseudonyms SET acting_keys = ? WHERE client_pseudonym = ?').run(this.vault.seal(keys, `pseudonym-acting:${clientPseudonym}`), clientPseudonym);
  }
  /** The pseudonym of ours whose client acts under `userPseudonym`, with those keys (undefined until made). */
  actingAs(userPseudonym: string): { row: PseudonymRow; keys?: Uint8Array } | undefined {
    const r = this.prep('SELECT * FROM pseudonyms WHERE acts_as = ?').get(userPseudonym) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const row = this.pseudonym(r.client_pseudonym as string)!;
    const keys = r.acting_keys === null ? undefined : this.vault.open(new Uint8Array(r.acting_keys as Buffer), `pseudonym-acting:${row.clientPseudonym}`);
    return { row, ...(keys ? { keys } : {}) };
  }
  notePseudonymRoom(userPseudonym: string, roomUri: string): void {
    this.prep('INSERT OR IGNORE INTO pseudonym_rooms(user_pseudonym, room_uri) VALUES (?, ?)').run(userPseudonym, roomUri);
  }
  retirePseudonym(userPseudonym: string, at: number): void {
    this.prep('UPDATE pseudonyms SET retired_at = ? WHERE user_pseudonym = ? AND retired_at IS NULL').run(at, userPseudonym);
  }

  // ---- connections ----
  putConnection(c: ConnectionRow): void {
    this
      .prep(
        `INSERT INTO connections(id, direction, peer, verified, problem, state, at, room_uri, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET peer = excluded.peer, verified = excluded.verified, problem = excluded.problem, state = excluded.state,
           room_uri = excluded.room_uri, details = excluded.details`,
      )
      .run(c.id, c.direction, c.peer, c.verified ? 1 : 0, c.problem ?? null, c.state, c.at, c.roomUri ?? null, c.details ? this.vault.seal(c.details, `connection:${c.id}`) : null);
  }
  connections(): ConnectionRow[] {
    return (this.prep('SELECT * FROM connections ORDER BY at, rowid').all() as Record<string, unknown>[]).map((r) => this.connectionRow(r));
  }
  /** Ids (bootstrap room URIs) of all connection requests, without opening their details. */
  connectionIds(): Set<string> {
    return new Set((this.prep('SELECT id FROM connections').all() as { id: string }[]).map((r) => r.id));
  }
  connection(id: string): ConnectionRow | undefined {
    const r = this.prep('SELECT * FROM connections WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? this.connectionRow(r) : undefined;
  }
  private connectionRow(r: Record<string, unknown>): ConnectionRow {
    return {
      id: r.id as string,
      direction: r.direction as ConnectionRow['direction'],
      peer: r.peer as string,
      verified: r.verified === 1,
      ...(r.problem !== null ? { problem: r.problem as string } : {}),
      state: r.state as ConnectionRow['state'],
      at: r.at as number,
      ...(r.room_uri !== null ? { roomUri: r.room_uri as string } : {}),
      ...(r.details !== null ? { details: this.vault.open(new Uint8Array(r.details as Buffer), `connection:${r.id as string}`) } : {}),
    };
  }

  // ---- receipts and privacy switches (migration 10) ----

  /**
   * Note `reporter`'s status (1 delivered, 2 read) of `messageId`; a lower status than the one
   * kept changes nothing (read stays read). True when the kept status rose.
   */
  noteReceipt(roomUri: string, messageId: string, reporter: string, status: 1 | 2, at: number): boolean {
    const res = this
      .prep(
        `INSERT INTO receipts(room_uri, message_id, reporter, status, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(room_uri, message_id, reporter) DO UPDATE SET status = excluded.status, at = excluded.at WHERE excluded.status > receipts.status`,
      )
      .run(roomUri, messageId, reporter, status, at);
    return res.changes > 0;
  }

  /** The receipts of the messages `messageIds` (hex), by message id. */
  receiptsOf(roomUri: string, messageIds: readonly string[]): Map<string, { reporter: string; status: number }[]> {
    const out = new Map<string, { reporter: string; status: number }[]>();
    if (messageIds.length === 0) return out;
    const rows = this
      .prep('SELECT message_id, reporter, status FROM receipts WHERE room_uri = ? AND message_id IN (SELECT value FROM json_each(?)) ORDER BY at, reporter')
      .all(roomUri, JSON.stringify(messageIds)) as { message_id: string; reporter: string; status: number }[];
    for (const r of rows) {
      const list = out.get(r.message_id) ?? [];
      list.push({ reporter: r.reporter, status: r.status });
      out.set(r.message_id, list);
    }
    return out;
  }

  /** How far (message seq) this device has reported reading the room; 0 when never. */
  readMark(roomUri: string): number {
    return (this.prep('SELECT seq FROM read_marks WHERE room_uri = ?').get(roomUri) as { seq: number } | undefined)?.seq ?? 0;
  }

  setReadMark(roomUri: string, seq: number): void {
    this.prep('INSERT INTO read_marks(room_uri, seq) VALUES (?, ?) ON CONFLICT(room_uri) DO UPDATE SET seq = MAX(seq, excluded.seq)').run(roomUri, seq);
  }

  /** Others' timeline messages (not actions) stored after `seq` in the room, oldest first: ids and seqs only. */
  receivedAfter(roomUri: string, seq: number, me: string): { seq: number; messageId: string }[] {
    return this
      .prep("SELECT seq, message_id AS messageId FROM messages WHERE room_uri = ? AND seq > ? AND action IS NULL AND status = 'received' AND sender <> ? ORDER BY seq")
      .all(roomUri, seq, me) as { seq: number; messageId: string }[];
  }

  /** The highest message seq of the room (0 when none). */
  lastMessageSeq(roomUri: string): number {
    return (this.prep('SELECT MAX(seq) AS s FROM messages WHERE room_uri = ?').get(roomUri) as { s: number | null }).s ?? 0;
  }

  /** The privacy switches that are off (the others are on). */
  privacyOff(): Set<string> {
    return new Set((this.prep('SELECT setting FROM privacy WHERE enabled = 0').all() as { setting: string }[]).map((r) => r.setting));
  }

  setPrivacySwitch(setting: 'deliveryReceipts' | 'readReceipts' | 'typing', enabled: boolean): void {
    if (enabled) this.prep('DELETE FROM privacy WHERE setting = ?').run(setting);
    else this.prep('INSERT INTO privacy(setting, enabled) VALUES (?, 0) ON CONFLICT(setting) DO UPDATE SET enabled = 0').run(setting);
  }

  // ---- outbox ----
  enqueue(o: Omit<OutboxRow, 'attempts'>): void {
    this
      .prep('INSERT INTO outbox(request_id, room_uri, message_seq, content, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(o.requestId, o.roomUri, o.messageSeq, this.vault.seal(o.content, `outbox:${o.requestId}`), Date.now());
  }
  outbox(): OutboxRow[] {
    return (this.prep('SELECT * FROM outbox ORDER BY created_at, rowid').all() as Record<string, unknown>[]).map((r) => ({
      requestId: r.request_id as string,
      roomUri: r.room_uri as string,
      messageSeq: r.message_seq as number,
      content: this.vault.open(new Uint8Array(r.content as Buffer), `outbox:${r.request_id as string}`),
      attempts: r.attempts as number,
    }));
  }
  bumpAttempts(requestId: string): void {
    this.prep('UPDATE outbox SET attempts = attempts + 1 WHERE request_id = ?').run(requestId);
  }
  dequeue(requestId: string): void {
    this.prep('DELETE FROM outbox WHERE request_id = ?').run(requestId);
  }

  // ---- members' shared profiles (migration 11); the blobs are encoded profiles / JSON, opened ----
  memberProfiles(roomUri: string): { user: string; profile: Uint8Array }[] {
    return (this.prep('SELECT user_uri, profile FROM member_profiles WHERE room_uri = ? ORDER BY user_uri').all(roomUri) as { user_uri: string; profile: Buffer }[]).map((r) => ({
      user: r.user_uri,
      profile: this.vault.open(new Uint8Array(r.profile), `member-profile:${roomUri}:${r.user_uri}`),
    }));
  }
  memberProfile(roomUri: string, user: string): Uint8Array | undefined {
    const r = this.prep('SELECT profile FROM member_profiles WHERE room_uri = ? AND user_uri = ?').get(roomUri, user) as { profile: Buffer } | undefined;
    return r ? this.vault.open(new Uint8Array(r.profile), `member-profile:${roomUri}:${user}`) : undefined;
  }
  setMemberProfile(roomUri: string, user: string, profile: Uint8Array): void {
    this
      .prep('INSERT INTO member_profiles(room_uri, user_uri, profile) VALUES (?, ?, ?) ON CONFLICT(room_uri, user_uri) DO UPDATE SET profile = excluded.profile')
      .run(roomUri, user, this.vault.seal(profile, `member-profile:${roomUri}:${user}`));
  }
  ownProfile(): Uint8Array | undefined {
    const r = this.prep('SELECT profile FROM own_profile WHERE id = 1').get() as { profile: Buffer } | undefined;
    return r ? this.vault.open(new Uint8Array(r.profile), 'own-profile') : undefined;
  }
  setOwnProfile(profile: Uint8Array): void {
    this.prep('INSERT INTO own_profile(id, profile) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET profile = excluded.profile').run(this.vault.seal(profile, 'own-profile'));
  }
  profileShare(roomUri: string): Uint8Array | undefined {
    const r = this.prep('SELECT shared FROM profile_shares WHERE room_uri = ?').get(roomUri) as { shared: Buffer } | undefined;
    return r ? this.vault.open(new Uint8Array(r.shared), `profile-share:${roomUri}`) : undefined;
  }
  setProfileShare(roomUri: string, shared: Uint8Array): void {
    this
      .prep('INSERT INTO profile_shares(room_uri, shared) VALUES (?, ?) ON CONFLICT(room_uri) DO UPDATE SET shared = excluded.shared')
      .run(roomUri, this.vault.seal(shared, `profile-share:${roomUri}`));
  }
  // ---- encrypted backup (migration 12, core/backup.ts) ----

  backupState(): BackupStateRow | undefined {
    const r = this.prep('SELECT * FROM backup_state WHERE id = 1').get() as Record<string, unknown> | undefined;
    if (!r) return undefined;
    return {
      backupId: r.backup_id as string,
      generation: (r.generation as number | null) ?? null,
      writing: (r.writing as number | null) ?? null,
      stale: (r.stale as number | null) ?? null,
      coveredSeq: r.covered_seq as number,
      messages: r.messages as number,
      bytes: r.bytes as number,
      storedAt: (r.stored_at as number | null) ?? null,
    };
  }

  /** Replace the one state row (call inside the transaction that goes with it). */
  setBackupState(s: BackupStateRow): void {
    this
      .prep(
        `INSERT INTO backup_state(id, backup_id, generation, writing, stale, covered_seq, messages, bytes, stored_at) VALUES (1, @backupId, @generation, @writing, @stale, @coveredSeq, @messages, @bytes, @storedAt)
         ON CONFLICT(id) DO UPDATE SET backup_id = excluded.backup_id, generation = excluded.generation, writing = excluded.writing, stale = excluded.stale,
           covered_seq = excluded.covered_seq, messages = excluded.messages, bytes = excluded.bytes, stored_at = excluded.stored_at`,
      )
      .run(s);
  }

  backupChunks(generation: number): BackupChunkRow[] {
    return this
      .prep('SELECT generation, idx AS "index", first_seq AS firstSeq, last_seq AS lastSeq, messages, events, size, sha256, stored_at AS storedAt FROM backup_chunks WHERE generation = ? ORDER BY idx')
      .all(generation) as BackupChunkRow[];
  }

  /** A chunk the provider confirmed; the same place again (a run killed before noting it) replaces the row. */
  noteBackupChunk(c: BackupChunkRow): void {
    this
      .prep(
        'INSERT OR REPLACE INTO backup_chunks(generation, idx, first_seq, last_seq, messages, events, size, sha256, stored_at) VALUES (@generation, @index, @firstSeq, @lastSeq, @messages, @events, @size, @sha256, @storedAt)',
      )
      .run(c);
  }

  forgetBackupGeneration(generation: number): void {
    this.prep('DELETE FROM backup_chunks WHERE generation = ?').run(generation);
  }

  /**
   * The highest seq a backup may cover now: every stored item up to the first message still
   * waiting for the hub (its time and order are not final until the hub takes it).
   */
  backupCutoff(): number {
    const pending = (this.prep("SELECT MIN(seq) AS s FROM messages WHERE status = 'pending'").get() as { s: number | null }).s;
    if (pending !== null) return pending - 1;
    const m = (this.prep('SELECT MAX(seq) AS s FROM messages').get() as { s: number | null }).s ?? 0;
    const e = (this.prep('SELECT MAX(seq) AS s FROM timeline_events').get() as { s: number | null }).s ?? 0;
    return Math.max(m, e);
  }

  /**
   * Messages (not failed ones: nobody else ever saw them) and timeline events with seq in
   * (after, upTo], in seq order, opened, at most `limit`: what the backup cuts into chunks.
   */
  backupItems(after: number, upTo: number, limit: number): BackupItemRow[] {
    const rows = this
      .prep(
        `SELECT seq, 'm' AS kind, room_uri, message_id AS id, sender, content, timestamp, status, frank, action, target_id FROM messages WHERE seq > @after AND seq <= @upTo AND status <> 'failed'
         UNION ALL SELECT seq, 'e' AS kind, room_uri, event_id AS id, NULL, content, timestamp, NULL, NULL, NULL, NULL FROM timeline_events WHERE seq > @after AND seq <= @upTo
         ORDER BY seq LIMIT @limit`,
      )
      .all({ after, upTo, limit }) as Record<string, unknown>[];
    return rows.map((r) => {
      const room = r.room_uri as string;
      const id = r.id as string;
      if (r.kind === 'e') return { kind: 'event', seq: r.seq as number, roomUri: room, eventId: id, timestamp: r.timestamp as number, content: this.vault.open(new Uint8Array(r.content as Buffer), `timeline-event:${room}:${id}`) };
      const m = ProfileDb.messageRow(this.vault, { ...r, message_id: id });
      const frank = r.frank ? this.vault.open(new Uint8Array(r.frank as Buffer), `frank:${room}:${id}`) : undefined;
      return { kind: 'message', ...m, ...(frank ? { frank } : {}) };
    });
  }

  /**
   * A room known only from a backup: listed (as left), its history readable, but no group state,
   * so nothing is sent there until this device is added or joins (which stores its state).
   */
  insertHistoryRoom(room: { roomUri: string; name: string; hubDomain: string; createdAt: number }): void {
    this
      .prep('INSERT OR IGNORE INTO rooms(room_uri, name, hub_domain, epoch, group_state, left_room, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)')
      .run(room.roomUri, room.name, room.hubDomain, '0', new Uint8Array(0), room.createdAt);
  }

  // ---- verified people (core/verification.ts) ----
  verifiedPerson(user: string): VerifiedPersonRow | undefined {
    const r = this.prep('SELECT user, fingerprint, verified_at, warned FROM verified_people WHERE user = ?').get(user) as Record<string, unknown> | undefined;
    return r ? ProfileDb.verifiedRow(r) : undefined;
  }

  verifiedPeople(): VerifiedPersonRow[] {
    return (this.prep('SELECT user, fingerprint, verified_at, warned FROM verified_people ORDER BY user').all() as Record<string, unknown>[]).map(ProfileDb.verifiedRow);
  }

  /** Mark `user` verified at `fingerprint` (again: replaces the earlier mark and forgets any warning). */
  setVerifiedPerson(user: string, fingerprint: Uint8Array, at: number): void {
    this
      .prep('INSERT INTO verified_people(user, fingerprint, verified_at, warned) VALUES (?, ?, ?, NULL) ON CONFLICT(user) DO UPDATE SET fingerprint = excluded.fingerprint, verified_at = excluded.verified_at, warned = NULL')
      .run(user, fingerprint, at);
  }

  /** The changed fingerprint a room was told about (null: none since the mark). */
  setVerifiedPersonWarned(user: string, warned: Uint8Array | null): void {
    this.prep('UPDATE verified_people SET warned = ? WHERE user = ?').run(warned, user);
  }

  clearVerifiedPerson(user: string): void {
    this.prep('DELETE FROM verified_people WHERE user = ?').run(user);
  }

  private static verifiedRow(r: Record<string, unknown>): VerifiedPersonRow {
    return {
      user: r.user as string,
      fingerprint: new Uint8Array(r.fingerprint as Buffer),
      verifiedAt: r.verified_at as number,
      warned: r.warned ? new Uint8Array(r.warned as Buffer) : undefined,
    };
  }

  // ---- verified own devices (migration 14, core/device-link.ts) ----
  verifiedDevices(): { deviceUri: string; signatureKey: Uint8Array; verifiedAt: number }[] {
    return (this.prep('SELECT device_uri, signature_key, verified_at FROM verified_devices ORDER BY device_uri').all() as { device_uri: string; signature_key: Buffer; verified_at: number }[]).map((r) => ({
      deviceUri: r.device_uri,
      signatureKey: new Uint8Array(r.signature_key),
      verifiedAt: r.verified_at,
    }));
  }

  setVerifiedDevice(deviceUri: string, signatureKey: Uint8Array, at: number): void {
    this
      .prep('INSERT INTO verified_devices (device_uri, signature_key, verified_at) VALUES (?, ?, ?) ON CONFLICT(device_uri) DO UPDATE SET signature_key = excluded.signature_key, verified_at = excluded.verified_at')
      .run(deviceUri, Buffer.from(signatureKey), at);
  }

  // ---- KeyPackage tokens and pinned provider keys (migration 15, core/key-package-fetch.ts) ----

  /** Stores unused tokens for `target` (each sealed, bound to its own row). */
  addKeyPackageTokens(target: string, tokens: Uint8Array[], at: number): void {
    const insert = this.prep('INSERT INTO key_package_tokens (id, target, token, obtained_at) VALUES (?, ?, ?, ?)');
    this.tx(() => {
      for (const token of tokens) {
        const id = randomUUID();
        insert.run(id, target, this.vault.seal(token, `kp-token:${id}:${target}`), at);
      }
    });
  }

  /**
   * Takes one stored token for `target` out of the database (the oldest obtained at or after
   * `notBefore`; older ones are dropped) and returns it: once taken it is gone, used or not.
   */
  takeKeyPackageToken(target: string, notBefore: number): Uint8Array | undefined {
    return this.tx(() => {
      this.prep('DELETE FROM key_package_tokens WHERE target = ? AND obtained_at < ?').run(target, notBefore);
      const r = this.prep('SELECT id, token FROM key_package_tokens WHERE target = ? ORDER BY obtained_at, rowid LIMIT 1').get(target) as { id: string; token: Buffer } | undefined;
      if (!r) return undefined;
      this.prep('DELETE FROM key_package_tokens WHERE id = ?').run(r.id);
      return this.vault.open(new Uint8Array(r.token), `kp-token:${r.id}:${target}`);
    });
  }

  /** Drops every stored token for `target` (the provider refused one: they are all of a stale epoch). */
  dropKeyPackageTokens(target: string): number {
    return this.prep('DELETE FROM key_package_tokens WHERE target = ?').run(target).changes;
  }

  keyPackageTokenCount(target: string): number {
    return (this.prep('SELECT count(*) AS n FROM key_package_tokens WHERE target = ?').get(target) as { n: number }).n;
  }

  /** The provider key pinned for `domain`'s OHTTP key configuration, if any. */
  ohttpProviderKey(domain: string): Uint8Array | undefined {
    const r = this.prep('SELECT provider_key FROM ohttp_provider_keys WHERE domain = ?').get(domain) as { provider_key: Buffer } | undefined;
    return r ? new Uint8Array(r.provider_key) : undefined;
  }

  /** Pins `key` for `domain` unless a key is pinned already (that one stays). */
  pinOhttpProviderKey(domain: string, key: Uint8Array, at: number): void {
    const pinned = this.prep('INSERT INTO ohttp_provider_keys (domain, provider_key, pinned_at) VALUES (?, ?, ?) ON CONFLICT(domain) DO NOTHING').run(domain, Buffer.from(key), at).changes === 1;
    if (pinned) this.ohttpProviderKeysChanged(domain);
  }

  /** Forgets the pinned key of `domain` (the next use pins what it then publishes). False when none was pinned. */
  forgetOhttpProviderKey(domain: string): boolean {
    const forgotten = this.prep('DELETE FROM ohttp_provider_keys WHERE domain = ?').run(domain).changes === 1;
    if (forgotten) this.ohttpProviderKeysChanged(domain);
    return forgotten;
  }

  /** Every pinned provider key, by domain (Settings → Provider keys, core/provider-keys.ts). */
  ohttpProviderKeys(): { domain: string; key: Uint8Array; pinnedAt: number }[] {
    const rows = this.prep('SELECT domain, provider_key, pinned_at FROM ohttp_provider_keys ORDER BY domain').all() as { domain: string; provider_key: Buffer; pinned_at: number }[];
    return rows.map((r) => ({ domain: r.domain, key: new Uint8Array(r.provider_key), pinnedAt: r.pinned_at }));
  }

  /**
   * Told after a key was pinned or forgotten, whoever did it (an add's first use in
   * key-package-fetch.ts, or Settings): core/provider-keys.ts sets it to tell the window.
   */
  onOhttpProviderKeysChanged?: (domain: string) => void;

  private ohttpProviderKeysChanged(domain: string): void {
    try {
      this.onOhttpProviderKeysChanged?.(domain);
    } catch {
      /* a listener's failure must not undo or fail the change */
    }
  }

  /** True for a room restored from a backup that this device has not joined yet. */
  isHistoryOnly(roomUri: string): boolean {
    return (this.prep('SELECT length(group_state) AS n FROM rooms WHERE room_uri = ?').get(roomUri) as { n: number } | undefined)?.n === 0;
  }
}
