// The provider's durable state: one SQLite file per data dir. All SQL lives here, behind small
// typed methods; the logic modules (accounts, key-packages, hub, push) call them inside
// `store.tx(...)` so each request's writes commit or vanish together.

import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { userOfDevice } from '../src-shared/identifiers.js';
import { isRetryable, type PgSyncDb } from './pg/sync-db.js';

export type EventKind = 'welcome' | 'commit' | 'message' | 'room';

export interface UserRow {
  id: number;
  handle: string;
  user_uri: string;
  pw_hash: string;
  created_at: number;
}

/** A domain's OHTTP gateway secrets (ohttp-keys.ts): its X25519 key and the Privacy Pass token secret. */
export interface OhttpSecretsRow {
  domain: string;
  key_id: number;
  private_key: Buffer;
  token_secret: Buffer;
  token_epoch: number;
}

export interface DeviceRow {
  device_uri: string;
  user_id: number;
  device_id: string;
  name: string;
  created_at: number;
  /** Its last authenticated request (written at most once per Accounts' interval); NULL: none since v14. */
  last_seen_at: number | null;
}

/** A device joined with its account, as an authenticated request sees it. */
export interface DeviceIdentity {
  device_uri: string;
  user_uri: string;
  handle: string;
  user_id: number;
  last_seen_at: number | null;
}

export interface KeyPackageRow {
  id: number;
  device_uri: string;
  ref: Buffer;
  bytes: Buffer;
  last_resort: number;
  claimed: number;
}

export interface RoomRow {
  room_uri: string;
  epoch: number;
  group_info: Buffer | null;
  ratchet_tree: Buffer | null;
  created_at: number;
  /** NULL: this provider is the room's hub; else the hub's domain and this provider is a follower. */
  hub_domain: string | null;
  /** Hub: the room state extension (src-shared/room-state.ts) of the current epoch; NULL for an unmanaged room. */
  room_state: Buffer | null;
  /** Hub: the room state of the epoch before (messages of that epoch are still accepted). */
  prev_room_state: Buffer | null;
}

export interface AbuseReportRow {
  id: number;
  room_uri: string;
  reporter: string;
  alleged: string;
  reason: number;
  note: string;
  messages: number;
  report: Buffer;
  via_domain: string | null;
  received_at: number;
}

export interface NewEvent {
  room_uri: string;
  kind: EventKind;
  epoch: bigint;
  sender_device: string;
  payload: Uint8Array;
  ratchet_tree?: Uint8Array | null;
  accepted_ts: number;
  /** An application message's Frank (encoded), when the hub franked it. */
  frank?: Uint8Array | null;
}

export interface InboxEntry {
  seq: number;
  kind: EventKind;
  room_uri: string;
  epoch: number;
  sender_device: string;
  payload: Buffer;
  ratchet_tree: Buffer | null;
  accepted_ts: number;
  frank: Buffer | null;
}

/** One issued pseudonym pair (pseudonyms.ts): never shown to another provider with its account. */
export interface PseudonymRow {
  user_pseudonym: string;
  client_pseudonym: string;
  user_id: number;
  device_uri: string;
  state: 'active' | 'retired';
  issued_at: number;
  retired_at: number | null;
}

/** A pseudonym with its unclaimed KeyPackages counted, for its account's listing. */
export interface PseudonymListRow extends PseudonymRow {
  connection_kps: number;
  other_kps: number;
}

export interface PseudonymKeyPackageRow {
  id: number;
  client_pseudonym: string;
  ref: Buffer;
  bytes: Buffer;
  connection_only: number;
  claimed: number;
}

/** Each entry upgrades the schema from version i to i+1 (PRAGMA user_version). Append only. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    user_uri TEXT NOT NULL UNIQUE,
    pw_hash TEXT NOT NULL,          -- scrypt$N$r$p$salt$hash (base64url); never the password
    created_at INTEGER NOT NULL
  );
  CREATE TABLE devices (
    device_uri TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE, -- SHA-256 of the bearer token
    created_at INTEGER NOT NULL
  );
  CREATE INDEX devices_user ON devices(user_id, created_at);
  CREATE TABLE key_packages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order = "oldest first"
    device_uri TEXT NOT NULL REFERENCES devices(device_uri) ON DELETE CASCADE,
    ref BLOB NOT NULL,
    bytes BLOB NOT NULL,
    last_resort INTEGER NOT NULL DEFAULT 0,
    claimed INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (device_uri, ref)
  );
  CREATE INDEX key_packages_pick ON key_packages(device_uri, last_resort, claimed, id);
  CREATE TABLE key_package_claims (
    ref BLOB NOT NULL,
    room_uri TEXT NOT NULL,
    device_uri TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (ref, room_uri)
  );
  CREATE TABLE rooms (
    room_uri TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    group_info BLOB,
    ratchet_tree BLOB,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE room_participants (
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    user_uri TEXT NOT NULL,
    PRIMARY KEY (room_uri, user_uri)
  );
  CREATE INDEX room_participants_user ON room_participants(user_uri);
  CREATE TABLE room_devices (
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    device_uri TEXT NOT NULL,
    PRIMARY KEY (room_uri, device_uri)
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('welcome', 'commit', 'message', 'room')),
    epoch INTEGER NOT NULL,
    sender_device TEXT NOT NULL,
    payload BLOB NOT NULL,
    ratchet_tree BLOB,
    accepted_ts INTEGER NOT NULL
  );
  CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: a seq is never reused, even after GC
    device_uri TEXT NOT NULL REFERENCES devices(device_uri) ON DELETE CASCADE,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE
  );
  CREATE INDEX inbox_device ON inbox(device_uri, seq);
  CREATE INDEX inbox_event ON inbox(event_id);
  CREATE TABLE idempotency (
    device_uri TEXT NOT NULL,
    route TEXT NOT NULL,
    request_id TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device_uri, route, request_id)
  );
  CREATE INDEX idempotency_age ON idempotency(created_at);
  `,
  // Federation. A follower keeps a rooms row for each remote room its users are in (hub_domain set;
  // epoch, group_info and ratchet_tree unused), with room_devices = its own devices in that room.
  // A hub's room_devices also lists remote devices (their domain says where fanout goes).
  `
  ALTER TABLE rooms ADD COLUMN hub_domain TEXT;
  -- Hub: what was accepted, by content hash, so a peer retrying a request whose answer it lost gets
  -- the same answer instead of wrongEpoch / a second delivery.
  CREATE TABLE accepted (
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    digest BLOB NOT NULL,
    kind TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    accepted_ts INTEGER NOT NULL,
    PRIMARY KEY (room_uri, digest)
  );
  CREATE INDEX accepted_age ON accepted(accepted_ts);
  -- Follower: which of our devices sent a handshake or application message we forwarded to a hub,
  -- so the hub's fanout of it is not handed back to that device.
  CREATE TABLE forwarded (
    digest BLOB PRIMARY KEY,
    device_uri TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX forwarded_age ON forwarded(created_at);
  `,
  // Hub: devices the hub, as the rooms' external sender, has proposed to remove (e.g. of a deleted
  // account). The next commit must remove them; until then each new epoch gets a fresh proposal.
  `
  CREATE TABLE pending_removals (
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    device_uri TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_uri, device_uri)
  );
  `,
  // Consent (consent.ts). At a TARGET user's provider: what its users decided about requesters of
  // other providers (room_uri '' = every room; a block is always for every room) and the requests
  // waiting for a decision. At a REQUESTER's provider: its users' requests and the outcome the
  // target's provider reported. Rows go with the local user's account.
  `
  CREATE TABLE consent_decisions (
    target_uri TEXT NOT NULL REFERENCES users(user_uri) ON DELETE CASCADE,
    requester_uri TEXT NOT NULL,
    room_uri TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL CHECK (decision IN ('grant', 'block') AND (decision = 'grant' OR room_uri = '')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (target_uri, requester_uri, room_uri)
  );
  CREATE TABLE consent_requests_in (
    target_uri TEXT NOT NULL REFERENCES users(user_uri) ON DELETE CASCADE,
    requester_uri TEXT NOT NULL,
    room_uri TEXT NOT NULL DEFAULT '',
    requested_at INTEGER NOT NULL,
    PRIMARY KEY (target_uri, requester_uri, room_uri)
  );
  CREATE TABLE consent_requests_out (
    requester_uri TEXT NOT NULL REFERENCES users(user_uri) ON DELETE CASCADE,
    target_uri TEXT NOT NULL,
    room_uri TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('pending', 'granted', 'revoked')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (requester_uri, target_uri, room_uri)
  );
  `,
  // Discovery (directory-search.ts): what a user tells about themselves and which of it is
  // searchable. No row = defaults: only an exact handle finds the user.
  `
  CREATE TABLE user_profiles (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    nick TEXT,
    email TEXT,
    phone TEXT,                 -- E.164: + and digits only
    display_name TEXT,
    name_folded TEXT,           -- display_name, NFKC and lowercased, for partialName
    handle_searchable INTEGER NOT NULL DEFAULT 1,
    nick_searchable INTEGER NOT NULL DEFAULT 0,
    email_searchable INTEGER NOT NULL DEFAULT 0,
    phone_searchable INTEGER NOT NULL DEFAULT 0,
    name_searchable INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX user_profiles_nick ON user_profiles(nick);
  CREATE INDEX user_profiles_email ON user_profiles(email COLLATE NOCASE);
  CREATE INDEX user_profiles_phone ON user_profiles(phone);
  `,
  // v6: the room state (participant list, metadata, roles) the hub enforces, from the GroupContext.
  `
  ALTER TABLE rooms ADD COLUMN room_state BLOB;
  ALTER TABLE rooms ADD COLUMN prev_room_state BLOB;
  ALTER TABLE pending_removals ADD COLUMN by_hub INTEGER NOT NULL DEFAULT 0;
  -- Abuse reports about rooms hosted here (draft-ietf-mimi-protocol-06 "Report abuse"), for the
  -- operator. The encoded AbuseReport is kept as received; messages in it are unverified (no franking).
  CREATE TABLE abuse_reports (
    id INTEGER PRIMARY KEY,
    room_uri TEXT NOT NULL,
    reporter TEXT NOT NULL,
    alleged TEXT NOT NULL,
    reason INTEGER NOT NULL,
    note TEXT NOT NULL,
    messages INTEGER NOT NULL,
    report BLOB NOT NULL,
    via_domain TEXT,            -- the follower provider that forwarded it; NULL: a local user
    received_at INTEGER NOT NULL
  );
  CREATE INDEX abuse_reports_room ON abuse_reports(room_uri, received_at);
  `,
  // v7: pseudonyms (pseudonyms.ts). Each row pairs a user pseudonym with the client pseudonym of the
  // device it was issued to; a retired row stays so its URIs are never issued or served again, and
  // goes only with the account. Their KeyPackages live apart from key_packages, so no claim of a
  // real user can ever reach one. The issuance token bucket is kept here so a restart refills nothing.
  `
  CREATE TABLE pseudonyms (
    user_pseudonym TEXT PRIMARY KEY,
    client_pseudonym TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_uri TEXT NOT NULL REFERENCES devices(device_uri) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    issued_at INTEGER NOT NULL,
    retired_at INTEGER
  );
  CREATE INDEX pseudonyms_user ON pseudonyms(user_id, state);
  CREATE TABLE pseudonym_key_packages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order = "oldest first"
    client_pseudonym TEXT NOT NULL REFERENCES pseudonyms(client_pseudonym) ON DELETE CASCADE,
    ref BLOB NOT NULL,
    bytes BLOB NOT NULL,
    connection_only INTEGER NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (client_pseudonym, ref)
  );
  CREATE INDEX pseudonym_key_packages_pick ON pseudonym_key_packages(client_pseudonym, connection_only, claimed, id);
  CREATE INDEX pseudonym_key_packages_ref ON pseudonym_key_packages(ref);
  -- One KeyPackage must not serve two identities (it would tie a pseudonym to its account): both
  -- uploads look the ref up in the other table.
  CREATE INDEX key_packages_ref ON key_packages(ref);
  CREATE TABLE pseudonym_quota (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tokens REAL NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // v8: rooms with pseudonymous members (room-members.ts). A room_devices row names a member: a
  // device URI, or a client pseudonym; user_uri is its user (the device's, or the user pseudonym its
  // credential names), which the hub needs between commits and cannot derive from a pseudonym.
  // Rows from before are devices: their user comes from the URI. A destroyed room leaves only its
  // URI behind, so that nobody can create it again under members' stale follower state. (From v8
  // on, key_package_claims.device_uri may be a client pseudonym and claimed_by is the requesting
  // user or pseudonym, never a device.)
  `
  ALTER TABLE room_devices ADD COLUMN user_uri TEXT NOT NULL DEFAULT '';
  UPDATE room_devices SET user_uri = mimi_user_of_device(device_uri);
  CREATE TABLE destroyed_rooms (
    room_uri TEXT PRIMARY KEY,
    destroyed_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // v9: who may send a local user connection requests (consent.ts; claims by pseudonyms). No row =
  // the default, anyone. `domains` is a JSON array of lowercase domains, kept in every mode.
  `
  CREATE TABLE connection_request_policies (
    user_uri TEXT PRIMARY KEY REFERENCES users(user_uri) ON DELETE CASCADE,
    mode TEXT NOT NULL CHECK (mode IN ('anyone', 'domains', 'nobody')),
    domains TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // v10: the hub's frank of an application message (mimi-protocol Frank encoding), delivered with
  // it to local devices and followers; the secret keys it is made with, each from when it was in
  // force (a report about an old message is checked with the key of its time).
  `
  ALTER TABLE events ADD COLUMN frank BLOB;
  CREATE TABLE franking_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hub_key BLOB NOT NULL,
    from_ts INTEGER NOT NULL
  );
  `,
  // v11: bans the operator asked the hub for (hub/bans.ts), pending until a commit puts the user in
  // the banned role; and the hub's GroupContextExtensions proposal of the current epoch that does it
  // (its ProposalRef, to know a commit that includes it; the room state it sets). Follower: leaves.
  `
  CREATE TABLE pending_bans (
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    user_uri TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_uri, user_uri)
  ) WITHOUT ROWID;
  -- A follower tracks where its own members are in a remote room's tree (their leaf index: from
  -- the Welcome's tree, from its devices' commits) and the Remove proposals of the epoch, so that a
  -- commit removing one of them (by value or by reference) ends their deliveries.
  ALTER TABLE room_devices ADD COLUMN leaf_index INTEGER;
  CREATE TABLE follower_removes (
    room_uri TEXT NOT NULL REFERENCES rooms(room_uri) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    ref BLOB NOT NULL,
    leaf INTEGER NOT NULL,
    PRIMARY KEY (room_uri, ref)
  ) WITHOUT ROWID;
  CREATE TABLE hub_state_proposals (
    room_uri TEXT PRIMARY KEY REFERENCES rooms(room_uri) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    ref BLOB NOT NULL,
    state BLOB NOT NULL
  ) WITHOUT ROWID;
  `,
  // v12: the name a consent request gives its room (consent.ts), shown to the person asked instead
  // of the room's URI. NULL: the request named none (or came before v12).
  `
  ALTER TABLE consent_requests_in ADD COLUMN room_name TEXT;
  `,
  // v13: assets (attachments) uploaded by this provider's users (assets.ts): the ciphertext is the
  // file DATA/assets/<id>; the row makes it exist (written after the file is durable) and counts
  // toward its owner's quota.
  `
  CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    owner_user TEXT NOT NULL,
    device_uri TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size > 0),
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX assets_owner ON assets(owner_user);
  `,
  // v14: when each device last made an authenticated request (devices.ts lists it). Written at
  // most once a minute per device (accounts.ts), so a busy device does not write per request.
  `
  ALTER TABLE devices ADD COLUMN last_seen_at INTEGER;
  `,
  // v15: encrypted backups (backups.ts). A row makes a chunk exist: its ciphertext is the file
  // DATA/backups/<file>, a fresh random name per write, so replacing a chunk switches the row to a
  // new complete file in one transaction and never rewrites the file a reader may have open.
  // Rows go with the account; the files are removed with them (and any left over at start-up).
  `
  CREATE TABLE backup_chunks (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    backup_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    size INTEGER NOT NULL CHECK (size > 0),
    sha256 BLOB NOT NULL,
    file TEXT NOT NULL UNIQUE,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, backup_id, generation, idx)
  ) WITHOUT ROWID;
  `,
  // v16: the device-to-device relay (device-messages.ts): opaque messages from one device of an
  // account to another, kept until the recipient acknowledges them or they expire. They go with
  // either device (and so with the account).
  `
  CREATE TABLE device_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_device TEXT NOT NULL REFERENCES devices(device_uri) ON DELETE CASCADE,
    from_device TEXT NOT NULL REFERENCES devices(device_uri) ON DELETE CASCADE,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX device_messages_to ON device_messages(to_device, id);
  CREATE INDEX device_messages_expiry ON device_messages(expires_at);
  `,
  // v17: KeyPackages over Oblivious HTTP (ohttp-service.ts, docs/ohttp-key-packages.md). The nonces
  // of redeemed Privacy Pass tokens (a token buys one KeyPackage per client, once), each user's token
  // generation (bumped when they withdraw consent: their outstanding tokens stop working), and which device
  // each KeyPackage handed out by the gateway belongs to: no room is known then, so the Welcome
  // that later names its ref is routed by this row.
  `
  CREATE TABLE spent_key_package_tokens (
    nonce BLOB PRIMARY KEY,
    epoch INTEGER NOT NULL,
    spent_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE key_package_token_generations (
    user_uri TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE ohttp_handouts (
    ref BLOB PRIMARY KEY,
    device_uri TEXT NOT NULL REFERENCES devices(device_uri) ON DELETE CASCADE,
    handed_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // v18 (issue 17, docs/scale-out.md): the OHTTP gateway's secrets (ohttp-keys.ts) move from
  // <data>/ohttp-gateway.json into the database, so every node of a domain serves the same key
  // configuration and honours the same tokens; one row per domain, made once (the first node to
  // insert wins), its token epoch advanced by provider-admin. And an index for the latest
  // acceptance time of a room (hub/messages.ts reads it on PostgreSQL, where several nodes accept
  // into one room; made here too so both engines keep one schema).
  `
  CREATE TABLE ohttp_gateway_secrets (
    domain TEXT PRIMARY KEY,
    key_id INTEGER NOT NULL,
    private_key BLOB NOT NULL,
    token_secret BLOB NOT NULL,
    token_epoch INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX accepted_room_time ON accepted(room_uri, accepted_ts);
  `,
  // v19 (issue 17): the rate limiters' token buckets and the failed-login throttle (rate-limits.ts),
  // before kept in each process's memory, so several nodes shared no limit and a restart forgot
  // them. The key is a hash (never a handle or URI in clear); a row is deleted once its bucket has
  // refilled (full_at), since a missing row is a full bucket.
  `
  CREATE TABLE rate_buckets (
    bucket TEXT NOT NULL,
    key_hash BLOB NOT NULL,
    tokens REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    full_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, key_hash)
  ) WITHOUT ROWID;
  CREATE INDEX rate_buckets_full ON rate_buckets(full_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
export const DB_FILE = 'provider.sqlite';

/** Most committed events Store keeps for their push frames (Store.freshEvents). */
const FRESH_EVENTS = 4096;
/** ... and at most about this many bytes of them. */
const FRESH_EVENT_BYTES = 16 << 20;

/** How often a transaction that lost a race with another node (PostgreSQL) is run again. */
const MAX_TX_ATTEMPTS = 8;
/** Between two runs of a transaction that lost a race: up to this many ms times the attempt, at random. */
const TX_RETRY_JITTER_MS = 2;
const retryPause = new Int32Array(new SharedArrayBuffer(4));

/** Idempotency answers are kept this long; client outboxes retry well within it. */
const IDEMPOTENCY_TTL_MS = 30 * 24 * 3600 * 1000;

function migrate(db: Database.Database): void {
  // v8 derives the users of existing room members from their device URIs.
  db.function('mimi_user_of_device', { deterministic: true }, (uri: unknown) => userOfDevice(String(uri)));
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this provider (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

function prepareStatements(db: Database.Database, sqlite: boolean) {
  return {
    insertUser: db.prepare<[string, string, string, number], { id: number }>(
      'INSERT INTO users (handle, user_uri, pw_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id',
    ),
    userByHandle: db.prepare<[string], UserRow>('SELECT * FROM users WHERE handle = ?'),
    userByUri: db.prepare<[string], UserRow>('SELECT * FROM users WHERE user_uri = ?'),
    spendToken: db.prepare<[Buffer, number, number]>('INSERT OR IGNORE INTO spent_key_package_tokens (nonce, epoch, spent_at) VALUES (?, ?, ?)'),
    forgetSpentTokens: db.prepare<[number]>('DELETE FROM spent_key_package_tokens WHERE epoch < ?'),
    insertOhttpHandout: db.prepare<[Buffer, string, number]>('INSERT INTO ohttp_handouts (ref, device_uri, handed_at) VALUES (?, ?, ?) ON CONFLICT (ref) DO UPDATE SET device_uri = excluded.device_uri, handed_at = excluded.handed_at'),
    tokenGeneration: db.prepare<[string], { generation: number }>('SELECT generation FROM key_package_token_generations WHERE user_uri = ?'),
    bumpTokenGeneration: db.prepare<[string]>(
      'INSERT INTO key_package_token_generations (user_uri, generation) VALUES (?, 1) ON CONFLICT (user_uri) DO UPDATE SET generation = key_package_token_generations.generation + 1',
    ),
    forgetOhttpHandouts: db.prepare<[number]>('DELETE FROM ohttp_handouts WHERE handed_at < ?'),
    ohttpHandoutByRef: db.prepare<[Buffer], { device_uri: string }>('SELECT device_uri FROM ohttp_handouts WHERE ref = ?'),
    ohttpSecrets: db.prepare<[string], OhttpSecretsRow>('SELECT domain, key_id, private_key, token_secret, token_epoch FROM ohttp_gateway_secrets WHERE domain = ?'),
    insertOhttpSecrets: db.prepare<[string, number, Buffer, Buffer, number, number]>(
      'INSERT OR IGNORE INTO ohttp_gateway_secrets (domain, key_id, private_key, token_secret, token_epoch, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    ohttpTokenEpoch: db.prepare<[string], { token_epoch: number }>('SELECT token_epoch FROM ohttp_gateway_secrets WHERE domain = ?'),
    advanceOhttpTokenEpoch: db.prepare<[string]>('UPDATE ohttp_gateway_secrets SET token_epoch = token_epoch + 1 WHERE domain = ?'),
    ohttpSecretDomains: db.prepare<[], { domain: string }>('SELECT domain FROM ohttp_gateway_secrets ORDER BY domain'),
    insertDevice: db.prepare<[string, number, string, string, Buffer, number]>(
      'INSERT INTO devices (device_uri, user_id, device_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deviceByToken: db.prepare<[Buffer], DeviceIdentity>(
      `SELECT d.device_uri, u.user_uri, u.handle, u.id AS user_id, d.last_seen_at
         FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = ?`,
    ),
    devicesOfUser: db.prepare<[number], DeviceRow>(
      'SELECT device_uri, user_id, device_id, name, created_at, last_seen_at FROM devices WHERE user_id = ? ORDER BY created_at, device_uri',
    ),
    deviceOfUser: db.prepare<[number, string], DeviceRow>(
      'SELECT device_uri, user_id, device_id, name, created_at, last_seen_at FROM devices WHERE user_id = ? AND device_id = ?',
    ),
    touchDevice: db.prepare<[number, string]>('UPDATE devices SET last_seen_at = ? WHERE device_uri = ?'),
    renameDevice: db.prepare<[string, string]>('UPDATE devices SET name = ? WHERE device_uri = ?'),
    deleteDevice: db.prepare<[string]>('DELETE FROM devices WHERE device_uri = ?'),
    deleteIdempotencyOfDevice: db.prepare<[string]>('DELETE FROM idempotency WHERE device_uri = ?'),
    // Its own leaves and its client pseudonyms' leaves, in every room this provider keeps (hosted
    // or followed), with where the room is hosted.
    roomMembersOfDevice: db.prepare<[string, string], { room_uri: string; device_uri: string; hub_domain: string | null }>(
      `SELECT d.room_uri, d.device_uri, r.hub_domain FROM room_devices d JOIN rooms r ON r.room_uri = d.room_uri
        WHERE d.device_uri = ? OR d.device_uri IN (SELECT client_pseudonym FROM pseudonyms WHERE device_uri = ?)
        ORDER BY d.room_uri, d.rowid`,
    ),
    deviceExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM devices WHERE device_uri = ?'),

    insertKeyPackage: db.prepare<[string, Buffer, Buffer, number, number]>(
      `INSERT OR IGNORE INTO key_packages (device_uri, ref, bytes, last_resort, created_at) VALUES (?, ?, ?, ?, ?)`,
    ),
    deleteLastResort: db.prepare<[string]>('DELETE FROM key_packages WHERE device_uri = ? AND last_resort = 1'),
    countAvailable: db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM key_packages WHERE device_uri = ? AND last_resort = 0 AND claimed = 0',
    ),
    lastResort: db.prepare<[string], KeyPackageRow>(
      'SELECT * FROM key_packages WHERE device_uri = ? AND last_resort = 1 ORDER BY id DESC LIMIT 1',
    ),
    unclaimed: db.prepare<[string], KeyPackageRow>(
      'SELECT * FROM key_packages WHERE device_uri = ? AND last_resort = 0 AND claimed = 0 ORDER BY id',
    ),
    // Single-use packages are not needed once claimed: drop the bytes, keep the row so a re-upload
    // of the same package (a retried upload) cannot make it claimable again.
    markClaimed: db.prepare<[number]>("UPDATE key_packages SET claimed = 1, bytes = x'' WHERE id = ? AND claimed = 0"),
    upsertClaim: db.prepare<[Buffer, string, string, string, number]>(
      `INSERT INTO key_package_claims (ref, room_uri, device_uri, claimed_by, claimed_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (ref, room_uri) DO UPDATE SET device_uri = excluded.device_uri,
         claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at`,
    ),
    claimByRef: db.prepare<[Buffer, string], { device_uri: string }>(
      'SELECT device_uri FROM key_package_claims WHERE ref = ? AND room_uri = ?',
    ),

    insertRoom: db.prepare<[string, number]>('INSERT INTO rooms (room_uri, epoch, created_at) VALUES (?, 0, ?) ON CONFLICT DO NOTHING'),
    insertFollowerRoom: db.prepare<[string, number, string]>(
      'INSERT OR IGNORE INTO rooms (room_uri, epoch, created_at, hub_domain) VALUES (?, 0, ?, ?)',
    ),
    deleteFollowerRoom: db.prepare<[string]>('DELETE FROM rooms WHERE room_uri = ? AND hub_domain IS NOT NULL'),
    forgetForwarded: db.prepare<[Buffer, string]>('DELETE FROM forwarded WHERE digest = ? AND device_uri = ?'),
    setFollowerEpoch: db.prepare<[bigint, string, bigint]>('UPDATE rooms SET epoch = ? WHERE room_uri = ? AND epoch < ?'),
    accepted: db.prepare<[string, Buffer], { kind: string; epoch: number; accepted_ts: number }>(
      'SELECT kind, epoch, accepted_ts FROM accepted WHERE room_uri = ? AND digest = ?',
    ),
    latestAccepted: db.prepare<[string], { ts: number | null }>('SELECT max(accepted_ts) AS ts FROM accepted WHERE room_uri = ?'),
    putAccepted: db.prepare<[string, Buffer, string, bigint, number]>(
      'INSERT OR IGNORE INTO accepted (room_uri, digest, kind, epoch, accepted_ts) VALUES (?, ?, ?, ?, ?)',
    ),
    expireAccepted: db.prepare<[number]>('DELETE FROM accepted WHERE accepted_ts < ?'),
    putForwarded: db.prepare<[Buffer, string, number]>(
      'INSERT INTO forwarded (digest, device_uri, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO UPDATE SET device_uri = excluded.device_uri, created_at = excluded.created_at',
    ),
    forwardedBy: db.prepare<[Buffer], { device_uri: string }>('SELECT device_uri FROM forwarded WHERE digest = ?'),
    expireForwarded: db.prepare<[number]>('DELETE FROM forwarded WHERE created_at < ?'),
    addPendingRemoval: db.prepare<[string, string, number, number]>(
      'INSERT OR IGNORE INTO pending_removals (room_uri, device_uri, created_at, by_hub) VALUES (?, ?, ?, ?)',
    ),
    pendingRemovals: db.prepare<[string], { device_uri: string }>('SELECT device_uri FROM pending_removals WHERE room_uri = ? ORDER BY rowid'),
    hubRemovals: db.prepare<[string], { device_uri: string }>('SELECT device_uri FROM pending_removals WHERE room_uri = ? AND by_hub = 1 ORDER BY rowid'),
    donePendingRemoval: db.prepare<[string, string]>('DELETE FROM pending_removals WHERE room_uri = ? AND device_uri = ?'),
    addPendingBan: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO pending_bans (room_uri, user_uri, created_at) VALUES (?, ?, ?)'),
    pendingBans: db.prepare<[string], { user_uri: string }>('SELECT user_uri FROM pending_bans WHERE room_uri = ? ORDER BY created_at, user_uri'),
    donePendingBan: db.prepare<[string, string]>('DELETE FROM pending_bans WHERE room_uri = ? AND user_uri = ?'),
    setHubStateProposal: db.prepare<[string, string, Buffer, Buffer]>(
      'INSERT INTO hub_state_proposals (room_uri, epoch, ref, state) VALUES (?, ?, ?, ?) ON CONFLICT(room_uri) DO UPDATE SET epoch = excluded.epoch, ref = excluded.ref, state = excluded.state',
    ),
    hubStateProposal: db.prepare<[string], { epoch: number | bigint; ref: Buffer; state: Buffer }>('SELECT epoch, ref, state FROM hub_state_proposals WHERE room_uri = ?'),
    clearHubStateProposal: db.prepare<[string]>('DELETE FROM hub_state_proposals WHERE room_uri = ?'),
    deleteUser: db.prepare<[number]>('DELETE FROM users WHERE id = ?'),
    room: db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE room_uri = ?'),
    advanceEpoch: db.prepare<[bigint, Buffer, Buffer, string, bigint]>(
      'UPDATE rooms SET epoch = ?, group_info = ?, ratchet_tree = ? WHERE room_uri = ? AND epoch = ?',
    ),
    insertAbuseReport: db.prepare<[string, string, string, number, string, number, Buffer, string | null, number]>(
      'INSERT INTO abuse_reports (room_uri, reporter, alleged, reason, note, messages, report, via_domain, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    abuseReports: db.prepare<[string], AbuseReportRow>('SELECT * FROM abuse_reports WHERE room_uri = ? ORDER BY id'),
    setRoomState: db.prepare<[Buffer | null, string]>('UPDATE rooms SET prev_room_state = room_state, room_state = ? WHERE room_uri = ?'),
    setInitialGroup: db.prepare<[Buffer, Buffer, string]>('UPDATE rooms SET group_info = ?, ratchet_tree = ? WHERE room_uri = ? AND epoch = 0'),
    participants: db.prepare<[string], { user_uri: string }>(
      'SELECT user_uri FROM room_participants WHERE room_uri = ? ORDER BY rowid',
    ),
    isParticipant: db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM room_participants WHERE room_uri = ? AND user_uri = ?',
    ),
    addParticipant: db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO room_participants (room_uri, user_uri) VALUES (?, ?)',
    ),
    removeParticipant: db.prepare<[string, string]>(
      'DELETE FROM room_participants WHERE room_uri = ? AND user_uri = ?',
    ),
    roomDevices: db.prepare<[string], { device_uri: string }>(
      'SELECT device_uri FROM room_devices WHERE room_uri = ? ORDER BY rowid',
    ),
    isRoomDevice: db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM room_devices WHERE room_uri = ? AND device_uri = ?',
    ),
    roomMembers: db.prepare<[string], { device_uri: string; user_uri: string }>(
      'SELECT device_uri, user_uri FROM room_devices WHERE room_uri = ? ORDER BY rowid',
    ),
    addRoomDevice: db.prepare<[string, string, string]>('INSERT OR IGNORE INTO room_devices (room_uri, device_uri, user_uri) VALUES (?, ?, ?)'),
    setMemberLeaf: db.prepare<[number, string, string]>('UPDATE room_devices SET leaf_index = ? WHERE room_uri = ? AND device_uri = ?'),
    memberAtLeaf: db.prepare<[string, number], { device_uri: string; user_uri: string }>('SELECT device_uri, user_uri FROM room_devices WHERE room_uri = ? AND leaf_index = ?'),
    noteRemoveProposal: db.prepare<[string, string, Buffer, number]>('INSERT OR IGNORE INTO follower_removes (room_uri, epoch, ref, leaf) VALUES (?, ?, ?, ?)'),
    removeProposal: db.prepare<[string, string, Buffer], { leaf: number }>('SELECT leaf FROM follower_removes WHERE room_uri = ? AND epoch = ? AND ref = ?'),
    forgetRemoveProposals: db.prepare<[string, string]>('DELETE FROM follower_removes WHERE room_uri = ? AND epoch < ?'),
    accountOfDevice: db.prepare<[string], { user_id: number }>('SELECT user_id FROM devices WHERE device_uri = ?'),
    roomsOfAccount: db.prepare<[string, number], RoomRow>(
      `SELECT r.* FROM rooms r WHERE r.room_uri IN (
          SELECT room_uri FROM room_participants WHERE user_uri = ?
          UNION SELECT p.room_uri FROM pseudonyms s JOIN room_participants p ON p.user_uri = s.user_pseudonym WHERE s.user_id = ?)
        ORDER BY r.created_at, r.room_uri`,
    ),
    accountParticipant: db.prepare<[string, string, number], { user_uri: string }>(
      `SELECT user_uri FROM room_participants WHERE room_uri = ?
          AND (user_uri = ? OR user_uri IN (SELECT user_pseudonym FROM pseudonyms WHERE user_id = ?))
        ORDER BY rowid LIMIT 1`,
    ),
    hostedMembersOfAccount: db.prepare<[string, number], { room_uri: string; device_uri: string }>(
      `SELECT d.room_uri, d.device_uri FROM room_devices d JOIN rooms r ON r.room_uri = d.room_uri
        WHERE r.hub_domain IS NULL
          AND (d.device_uri LIKE ? ESCAPE '\\' OR d.device_uri IN (SELECT client_pseudonym FROM pseudonyms WHERE user_id = ?))
        ORDER BY d.room_uri, d.rowid`,
    ),
    deleteClaimsOfRoom: db.prepare<[string]>('DELETE FROM key_package_claims WHERE room_uri = ?'),
    deleteHostedRoom: db.prepare<[string]>('DELETE FROM rooms WHERE room_uri = ? AND hub_domain IS NULL'),
    tombstone: db.prepare<[string, number]>('INSERT OR IGNORE INTO destroyed_rooms (room_uri, destroyed_at) VALUES (?, ?)'),
    destroyed: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM destroyed_rooms WHERE room_uri = ?'),
    removeRoomDevice: db.prepare<[string, string]>('DELETE FROM room_devices WHERE room_uri = ? AND device_uri = ?'),

    insertEvent: db.prepare<[string, string, bigint, string, Buffer, Buffer | null, number, Buffer | null]>(
      `INSERT INTO events (room_uri, kind, epoch, sender_device, payload, ratchet_tree, accepted_ts, frank)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    frankingKeys: db.prepare<[], { id: number; hub_key: Buffer; from_ts: number }>('SELECT id, hub_key, from_ts FROM franking_keys ORDER BY from_ts, id'),
    insertFrankingKey: db.prepare<[Buffer, number]>('INSERT INTO franking_keys (hub_key, from_ts) VALUES (?, ?)'),
    insertInbox: db.prepare<[string, number | bigint]>('INSERT INTO inbox (device_uri, event_id) VALUES (?, ?)'),
    inboxAfter: db.prepare<[string, number, number], InboxEntry>(
      `SELECT i.seq, e.kind, e.room_uri, e.epoch, e.sender_device, e.payload, e.ratchet_tree, e.accepted_ts, e.frank
         FROM inbox i JOIN events e ON e.id = i.event_id
        WHERE i.device_uri = ? AND i.seq > ? ORDER BY i.seq LIMIT ?`,
    ),
    insertInboxMany: db.prepare<[number | bigint, string]>(
      'INSERT INTO inbox (device_uri, event_id) SELECT value, ? FROM json_each(?) ORDER BY key',
    ),
    // The same for candidate devices: only those that still exist get a row (one statement instead
    // of an existence check per device), and which did comes back.
    // No RETURNING and no ORDER BY (json_each yields the array in order, so the rows are inserted,
    // and numbered, in the order given): each cost a temporary b-tree per message, together about
    // a quarter of the statement on a copy of a relay's database. Which devices got a row is told
    // by the count (all of them, but rarely).
    insertInboxExisting: db.prepare<[number | bigint, string]>(
      `INSERT INTO inbox (device_uri, event_id)
       SELECT j.value, ? FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM devices d WHERE d.device_uri = j.value)`,
    ),
    existingDevices: db
      .prepare<[string]>('SELECT j.value FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM devices d WHERE d.device_uri = j.value) ORDER BY j.key')
      .pluck(),
    deleteInboxUpToReturning: db
      .prepare<[string, number]>('DELETE FROM inbox WHERE device_uri = ? AND seq <= ? RETURNING event_id')
      .pluck(),
    deleteEventsIfUnreferenced: db.prepare<[string]>(
      'DELETE FROM events WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?)) AND NOT EXISTS (SELECT 1 FROM inbox WHERE inbox.event_id = events.id)',
    ),
    dataVersion: sqlite ? db.prepare<[]>('PRAGMA data_version').pluck() : undefined,
    inboxRefsAfter: db.prepare<[string, number, number], { seq: number; event_id: number }>(
      'SELECT seq, event_id FROM inbox WHERE device_uri = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    eventForPush: db.prepare<[number], Omit<InboxEntry, 'seq'>>(
      'SELECT kind, room_uri, epoch, sender_device, payload, ratchet_tree, accepted_ts, frank FROM events WHERE id = ?',
    ),
    ackedEventIds: db.prepare<[string, number], { event_id: number }>(
      'SELECT DISTINCT event_id FROM inbox WHERE device_uri = ? AND seq <= ?',
    ),
    deleteInboxUpTo: db.prepare<[string, number]>('DELETE FROM inbox WHERE device_uri = ? AND seq <= ?'),
    deleteEventIfUnreferenced: db.prepare<[number, number]>(
      'DELETE FROM events WHERE id = ? AND NOT EXISTS (SELECT 1 FROM inbox WHERE event_id = ?)',
    ),

    idempotent: db.prepare<[string, string, string], { response: string }>(
      'SELECT response FROM idempotency WHERE device_uri = ? AND route = ? AND request_id = ?',
    ),
    putIdempotent: db.prepare<[string, string, string, string, number]>(
      'INSERT INTO idempotency (device_uri, route, request_id, response, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    expireIdempotent: db.prepare<[number]>('DELETE FROM idempotency WHERE created_at < ?'),

    insertPseudonym: db.prepare<[string, string, number, string, number]>(
      "INSERT INTO pseudonyms (user_pseudonym, client_pseudonym, user_id, device_uri, state, issued_at) VALUES (?, ?, ?, ?, 'active', ?)",
    ),
    pseudonymByUser: db.prepare<[string], PseudonymRow>('SELECT * FROM pseudonyms WHERE user_pseudonym = ?'),
    pseudonymByClient: db.prepare<[string], PseudonymRow>('SELECT * FROM pseudonyms WHERE client_pseudonym = ?'),
    pseudonymsOf: db.prepare<[number], PseudonymListRow>(
      `SELECT p.*,
          (SELECT count(*) FROM pseudonym_key_packages k
            WHERE k.client_pseudonym = p.client_pseudonym AND k.claimed = 0 AND k.connection_only = 1) AS connection_kps,
          (SELECT count(*) FROM pseudonym_key_packages k
            WHERE k.client_pseudonym = p.client_pseudonym AND k.claimed = 0 AND k.connection_only = 0) AS other_kps
         FROM pseudonyms p WHERE p.user_id = ? ORDER BY p.issued_at, p.rowid`,
    ),
    countActivePseudonyms: db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM pseudonyms WHERE user_id = ? AND state = 'active'"),
    retirePseudonym: db.prepare<[number, string]>("UPDATE pseudonyms SET state = 'retired', retired_at = ? WHERE user_pseudonym = ? AND state = 'active'"),
    insertPseudonymKeyPackage: db.prepare<[string, Buffer, Buffer, number, number]>(
      'INSERT OR IGNORE INTO pseudonym_key_packages (client_pseudonym, ref, bytes, connection_only, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    pseudonymKeyPackageByRef: db.prepare<[Buffer], { client_pseudonym: string; connection_only: number }>(
      'SELECT client_pseudonym, connection_only FROM pseudonym_key_packages WHERE ref = ?',
    ),
    pseudonymKeyPackageCounts: db.prepare<[string], { connection_only: number; other: number }>(
      `SELECT coalesce(sum(connection_only), 0) AS connection_only, coalesce(sum(1 - connection_only), 0) AS other
         FROM pseudonym_key_packages WHERE client_pseudonym = ? AND claimed = 0`,
    ),
    unclaimedRoomKeyPackages: db.prepare<[string], PseudonymKeyPackageRow>(
      'SELECT * FROM pseudonym_key_packages WHERE client_pseudonym = ? AND connection_only = 0 AND claimed = 0 ORDER BY id',
    ),
    markPseudonymKeyPackageClaimed: db.prepare<[number]>(
      "UPDATE pseudonym_key_packages SET claimed = 1, bytes = x'' WHERE id = ? AND claimed = 0",
    ),
    deletePseudonymKeyPackages: db.prepare<[string]>('DELETE FROM pseudonym_key_packages WHERE client_pseudonym = ?'),
    pseudonymRefElsewhere: db.prepare<[Buffer, string], { one: number }>(
      'SELECT 1 AS one FROM pseudonym_key_packages WHERE ref = ? AND client_pseudonym <> ? LIMIT 1',
    ),
    anyPseudonymRef: db.prepare<[Buffer], { one: number }>('SELECT 1 AS one FROM pseudonym_key_packages WHERE ref = ? LIMIT 1'),
    anyDeviceRef: db.prepare<[Buffer], { one: number }>('SELECT 1 AS one FROM key_packages WHERE ref = ? LIMIT 1'),
    pseudonymQuota: db.prepare<[number], { tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM pseudonym_quota WHERE user_id = ?'),
    putPseudonymQuota: db.prepare<[number, number, number]>(
      `INSERT INTO pseudonym_quota (user_id, tokens, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
    ),
    rateBucket: db.prepare<[string, Buffer], { tokens: number; updated_at: number }>('SELECT tokens, updated_at FROM rate_buckets WHERE bucket = ? AND key_hash = ?'),
    putRateBucket: db.prepare<[string, Buffer, number, number, number]>(
      `INSERT INTO rate_buckets (bucket, key_hash, tokens, updated_at, full_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (bucket, key_hash) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at, full_at = excluded.full_at`,
    ),
    deleteRateBucket: db.prepare<[string, Buffer]>('DELETE FROM rate_buckets WHERE bucket = ? AND key_hash = ?'),
    // The oldest refilled rows first, a bounded number (neither engine's DELETE takes a LIMIT here).
    sweepRateBuckets: db.prepare<[number, number, number]>(
      `DELETE FROM rate_buckets WHERE full_at <= ? AND (bucket, key_hash) IN
         (SELECT bucket, key_hash FROM rate_buckets WHERE full_at <= ? ORDER BY full_at LIMIT ?)`,
    ),
  };
}

export class Store {
  readonly db: Database.Database;
  private readonly s: ReturnType<typeof prepareStatements>;
  /** afterCommit callbacks of the open transaction, in the order they were registered. */
  private afterCommitQueue: (() => void)[] = [];
  /** How many tx() calls are running (nested ones are savepoints). */
  private txDepth = 0;
  /** One transaction function for every tx (a nested call becomes a savepoint), made once. */
  private readonly txRunner: Database.Transaction<(fn: () => unknown) => unknown>;
  /**
   * roomMembers by room, read once and kept until a write to that room's members (addRoomDevice,
   * removeRoomDevice, a room deleted), any rollback of a (sub)transaction (what was read inside it
   * may have been its own uncommitted rows) or a commit by another connection (data_version) drops
   * it. Entries and their objects are frozen: callers share them.
   */
  private readonly memberCache = new Map<string, readonly Readonly<{ identity: string; user: string }>[]>();
  /**
   * Events committed by this connection and not yet asked for by eventForPush, by id: reading each
   * one back for its push frame was ~7% of a relay's provider time. Events never change and their
   * ids are never reused once committed (AUTOINCREMENT), so an entry cannot go stale; one whose
   * event was deleted is never asked for (no inbox row refers to it). Bounded by FRESH_EVENTS
   * and FRESH_EVENT_BYTES (emptied past either: eventForPush then reads the row, as before).
   */
  private readonly freshEvents = new Map<number, Omit<InboxEntry, 'seq'>>();
  /** The payload and tree bytes held in freshEvents (an upper bound: what was taken out is not subtracted). */
  private freshBytes = 0;
  /** PRAGMA data_version when the member cache was last known to match the file. */
  private dataVersion: unknown = undefined;

  /** Which engine holds the state: SQLite (one node, the default) or PostgreSQL (pg/, N nodes). */
  readonly dialect: 'sqlite' | 'postgres';
  /** The SQLite file; for PostgreSQL, ''. */
  readonly file: string;

  /**
   * `target`: the SQLite file, or an open PostgreSQL connection (pg/sync-db.ts) to a database
   * already migrated (migratePg, pg/schema.ts): every statement below then runs there, rewritten
   * by pg/dialect.ts.
   */
  constructor(target: string | PgSyncDb) {
    if (typeof target !== 'string') {
      this.dialect = 'postgres';
      this.file = '';
      this.db = target as unknown as Database.Database;
      this.s = prepareStatements(this.db, false);
      this.txRunner = this.db.transaction((fn: () => unknown) => fn());
      return;
    }
    this.dialect = 'sqlite';
    const file = target;
    this.file = file;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed transaction survives
    // a process crash (kill -9) because it is in the WAL file the OS already holds; only a power loss
    // or OS crash can drop the last few commits. That is the failure model a provider process needs.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Deleted rows are overwritten with zeros, not left in free pages: what the provider forgets
    // (delivered events, fanout, a destroyed room's members) is gone from the file, not only unreachable.
    this.db.pragma('secure_delete = ON');
    // Savepoint and statement journals in memory, not in temporary files. Every request of a group
    // commit runs in a savepoint (write-batch.ts), and a savepoint keeps the original of each page
    // it changes until it is released: past 64 KB SQLite spills that to a temporary file, so each
    // relayed message wrote its ~30 pages' originals (events, inbox, accepted, idempotency) through
    // write() calls: on a copy of a relay's database the inbox insert alone fell from ~50 to ~18 µs
    // per message without it. Those journals only ever undo a savepoint or a failed statement inside
    // a transaction that is still open; durability is the WAL's, so a crash loses nothing more.
    this.db.pragma('temp_store = MEMORY');
    migrate(this.db);
    this.s = prepareStatements(this.db, true);
    this.txRunner = this.db.transaction((fn: () => unknown) => fn());
  }

  /** Run `fn` in one IMMEDIATE transaction (takes the write lock up front, so no upgrade deadlocks). */
  tx<T>(fn: () => T): T {
    const outermost = this.txDepth === 0;
    const mark = this.afterCommitQueue.length;
    let result: T;
    this.txDepth++;
    try {
      result = outermost ? this.outermost(fn) : (this.txRunner.immediate(fn) as T);
    } catch (e) {
      // What the failed (sub)transaction announced never happened: forget it.
      this.afterCommitQueue.length = mark;
      // Nor did what it wrote: anything cached from inside it may be gone.
      this.memberCache.clear();
      throw e;
    } finally {
      this.txDepth--;
    }
    if (outermost) this.runAfterCommit();
    return result;
  }

  /**
   * The outermost transaction. On PostgreSQL with several nodes, one that raced another node's
   * writes fails with a serialization failure (or, rarely, is chosen to break a deadlock) and is
   * simply run again: it saw nothing the other committed, and its announcements were dropped.
   */
  private outermost<T>(fn: () => T): T {
    for (let attempt = 1; ; attempt++) {
      const mark = this.afterCommitQueue.length;
      try {
        return this.txRunner.immediate(() => (this.checkDataVersion(), fn())) as T;
      } catch (e) {
        if (this.dialect !== 'postgres' || !isRetryable(e) || attempt >= MAX_TX_ATTEMPTS) throw e;
        this.afterCommitQueue.length = mark;
        this.memberCache.clear();
        // A moment's pause, longer at each attempt and random: run again at once, two nodes that
        // raced tend to race again. It blocks this node's event loop (the connection is
        // synchronous), so it stays short; a batch that still fails is retried later without
        // blocking (write-batch.ts).
        Atomics.wait(retryPause, 0, 0, Math.random() * TX_RETRY_JITTER_MS * attempt);
      }
    }
  }

  /**
   * Runs `fn` once the outermost transaction now open has committed (at once when none is open),
   * and never if it rolls back. Telling devices and peers about rows must wait for this: inside a
   * group commit (write-batch.ts) the rows are only durable when the whole batch is.
   */
  afterCommit(fn: () => void): void {
    // Only a tx() of ours is known to end in runAfterCommit; outside one, now (as before).
    if (this.txDepth > 0) this.afterCommitQueue.push(fn);
    else fn();
  }

  /**
   * Drops the member cache when another connection (another process on the same file: the admin
   * CLI, a restore) committed since it was last checked. Called at the start of every outermost
   * transaction, so every read of the cache inside one sees this connection's view only.
   */
  private checkDataVersion(): void {
    // PostgreSQL: other nodes write the same tables and nothing as cheap as data_version says when,
    // so nothing read before this transaction is trusted in it.
    if (!this.s.dataVersion) return this.memberCache.clear();
    const v = this.s.dataVersion.get();
    if (v !== this.dataVersion) {
      this.memberCache.clear();
      this.dataVersion = v;
    }
  }

  private runAfterCommit(): void {
    const queue = this.afterCommitQueue;
    this.afterCommitQueue = [];
    let failure: unknown;
    for (const fn of queue) {
      try {
        fn();
      } catch (e) {
        failure ??= e; // the others still run: each tells someone different
      }
    }
    if (failure !== undefined) throw failure;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- accounts ----

  /** Returns the new user's id, or null when the handle is taken. */
  insertUser(handle: string, userUri: string, pwHash: string, now: number): number | null {
    // A taken handle (or URI) is found through ON CONFLICT, not a caught constraint error: on
    // PostgreSQL a failed statement aborts the whole transaction.
    return this.s.insertUser.get(handle, userUri, pwHash, now)?.id ?? null;
  }
  userByHandle(handle: string): UserRow | undefined {
    return this.s.userByHandle.get(handle);
  }
  userByUri(uri: string): UserRow | undefined {
    return this.s.userByUri.get(uri);
  }
  insertDevice(d: { deviceUri: string; userId: number; deviceId: string; name: string; tokenHash: Buffer; now: number }): void {
    this.s.insertDevice.run(d.deviceUri, d.userId, d.deviceId, d.name, d.tokenHash, d.now);
  }
  deviceByTokenHash(hash: Buffer): DeviceIdentity | undefined {
    return this.s.deviceByToken.get(hash);
  }
  devicesOfUser(userId: number): DeviceRow[] {
    return this.s.devicesOfUser.all(userId);
  }
  deviceOfUser(userId: number, deviceId: string): DeviceRow | undefined {
    return this.s.deviceOfUser.get(userId, deviceId);
  }
  touchDevice(deviceUri: string, now: number): void {
    this.s.touchDevice.run(now, deviceUri);
  }
  renameDevice(deviceUri: string, name: string): void {
    this.s.renameDevice.run(name, deviceUri);
  }
  /** Every room member that is this device or one of its client pseudonyms, by room. */
  roomMembersOfDevice(deviceUri: string): { room_uri: string; device_uri: string; hub_domain: string | null }[] {
    return this.s.roomMembersOfDevice.all(deviceUri, deviceUri);
  }
  /**
   * Deletes a device: its token, KeyPackages, pseudonyms (cascades) and its inbox, with the events
   * only it still needed, so nothing queued for it outlives it. Must run inside a transaction.
   */
  deleteDevice(deviceUri: string): boolean {
    this.ack(deviceUri, Number.MAX_SAFE_INTEGER);
    this.s.deleteIdempotencyOfDevice.run(deviceUri);
    return this.s.deleteDevice.run(deviceUri).changes === 1;
  }
  deviceExists(deviceUri: string): boolean {
    return this.s.deviceExists.get(deviceUri) !== undefined;
  }

  // ---- key packages ----

  insertKeyPackage(deviceUri: string, ref: Uint8Array, bytes: Uint8Array, lastResort: boolean, now: number): void {
    this.s.insertKeyPackage.run(deviceUri, Buffer.from(ref), Buffer.from(bytes), lastResort ? 1 : 0, now);
  }
  deleteLastResort(deviceUri: string): void {
    this.s.deleteLastResort.run(deviceUri);
  }
  countAvailable(deviceUri: string): number {
    return this.s.countAvailable.get(deviceUri)!.n;
  }
  lastResort(deviceUri: string): KeyPackageRow | undefined {
    return this.s.lastResort.get(deviceUri);
  }
  /** The device's unclaimed single-use packages, oldest first (stop iterating before writing). */
  unclaimedKeyPackages(deviceUri: string): IterableIterator<KeyPackageRow> {
    return this.s.unclaimed.iterate(deviceUri);
  }
  /** True if this call claimed it (false: someone else got there first). */
  markClaimed(id: number): boolean {
    return this.s.markClaimed.run(id).changes === 1;
  }
  recordClaim(ref: Uint8Array, roomUri: string, deviceUri: string, claimedBy: string, now: number): void {
    this.s.upsertClaim.run(Buffer.from(ref), roomUri, deviceUri, claimedBy, now);
  }
  claimedDevice(ref: Uint8Array, roomUri: string): string | undefined {
    return this.s.claimByRef.get(Buffer.from(ref), roomUri)?.device_uri;
  }

  // ---- rooms ----

  /** False when the room already exists. */
  insertRoom(roomUri: string, now: number): boolean {
    // ON CONFLICT rather than a caught constraint error: on PostgreSQL a failed statement aborts
    // the whole transaction the room is created in.
    return this.s.insertRoom.run(roomUri, now).changes > 0;
  }
  room(roomUri: string): RoomRow | undefined {
    return this.s.room.get(roomUri);
  }
  /** The room's row when this provider is its hub (not a follower's row for a remote room). */
  hostedRoom(roomUri: string): RoomRow | undefined {
    const row = this.s.room.get(roomUri);
    return row?.hub_domain === null ? row : undefined;
  }
  /** Follower: make sure a row exists for a room hosted at `hubDomain`; true when this created it. */
  ensureFollowerRoom(roomUri: string, hubDomain: string, now: number): boolean {
    return this.s.insertFollowerRoom.run(roomUri, now, hubDomain).changes === 1;
  }
  /** Follower: drop a remote room's row and (cascade) everything kept for it. Never a hosted room. */
  deleteFollowerRoom(roomUri: string): void {
    this.memberCache.delete(roomUri);
    this.s.deleteFollowerRoom.run(roomUri);
  }
  /** Follower: the newest epoch seen in the hub's fanout (for RoomInfo only; never enforced). */
  noteFollowerEpoch(roomUri: string, epoch: bigint): void {
    this.s.setFollowerEpoch.run(epoch, roomUri, epoch);
  }

  // ---- federation bookkeeping (digests are SHA-256 of the MLSMessage) ----

  acceptedByDigest(roomUri: string, digest: Uint8Array): { kind: string; epoch: number; accepted_ts: number } | undefined {
    return this.s.accepted.get(roomUri, Buffer.from(digest));
  }
  /**
   * The latest acceptance time stored for the room (the `accepted` rows of its messages, commits
   * and proposals, kept for IDEMPOTENCY_TTL_MS), undefined when none is.
   */
  latestAcceptedTs(roomUri: string): number | undefined {
    return this.s.latestAccepted.get(roomUri)?.ts ?? undefined;
  }
  recordAccepted(roomUri: string, digest: Uint8Array, kind: string, epoch: bigint, ts: number): void {
    this.s.putAccepted.run(roomUri, Buffer.from(digest), kind, epoch, ts);
  }
  recordForwarded(digest: Uint8Array, deviceUri: string, now: number): void {
    this.s.putForwarded.run(Buffer.from(digest), deviceUri, now);
  }
  /** Undo recordForwarded for a request the hub refused (it will never fan it out). */
  forgetForwarded(digest: Uint8Array, deviceUri: string): void {
    this.s.forgetForwarded.run(Buffer.from(digest), deviceUri);
  }
  forwardedBy(digest: Uint8Array): string | undefined {
    return this.s.forwardedBy.get(Buffer.from(digest))?.device_uri;
  }

  // ---- the hub's pending Remove proposals ----

  /** `byHub`: the hub proposed it (deleted account), not the device's own user (leaving). */
  addPendingRemoval(roomUri: string, deviceUri: string, now: number, byHub = false): void {
    this.s.addPendingRemoval.run(roomUri, deviceUri, now, byHub ? 1 : 0);
  }
  /** The pending removals the hub itself proposed. */
  hubRemovals(roomUri: string): string[] {
    return this.s.hubRemovals.all(roomUri).map((r) => r.device_uri);
  }
  pendingRemovals(roomUri: string): string[] {
    return this.s.pendingRemovals.all(roomUri).map((r) => r.device_uri);
  }
  donePendingRemoval(roomUri: string, deviceUri: string): void {
    this.s.donePendingRemoval.run(roomUri, deviceUri);
  }

  // ---- the hub's pending bans and its room state proposal ----

  addPendingBan(roomUri: string, userUri: string, now: number): void {
    this.s.addPendingBan.run(roomUri, userUri, now);
  }
  pendingBans(roomUri: string): string[] {
    return this.s.pendingBans.all(roomUri).map((r) => r.user_uri);
  }
  donePendingBan(roomUri: string, userUri: string): void {
    this.s.donePendingBan.run(roomUri, userUri);
  }
  /** Records the hub's GroupContextExtensions proposal for `epoch` (one per room: the newest). */
  setHubStateProposal(roomUri: string, epoch: bigint, ref: Uint8Array, state: Uint8Array): void {
    this.s.setHubStateProposal.run(roomUri, epoch.toString(), Buffer.from(ref), Buffer.from(state));
  }
  hubStateProposal(roomUri: string): { epoch: bigint; ref: Uint8Array; state: Uint8Array } | undefined {
    const r = this.s.hubStateProposal.get(roomUri);
    return r && { epoch: BigInt(r.epoch), ref: new Uint8Array(r.ref), state: new Uint8Array(r.state) };
  }
  clearHubStateProposal(roomUri: string): void {
    this.s.clearHubStateProposal.run(roomUri);
  }
  /**
   * The members an account has in rooms hosted here, by room: its devices (URIs starting with
   * `devicePrefix`) and the client pseudonyms issued to any of its devices.
   */
  hostedMembersOfAccount(devicePrefix: string, userId: number): Map<string, string[]> {
    const like = devicePrefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    const out = new Map<string, string[]>();
    for (const r of this.s.hostedMembersOfAccount.all(like, userId)) out.set(r.room_uri, [...(out.get(r.room_uri) ?? []), r.device_uri]);
    return out;
  }
  /** Deletes an account: its devices, tokens, KeyPackages and inbox go with it (cascade). */
  deleteUser(userId: number): void {
    this.s.deleteUser.run(userId);
  }
  /** Compare-and-set on the epoch; false when another commit already moved it. */
  advanceEpoch(roomUri: string, from: bigint, to: bigint, groupInfo: Uint8Array, ratchetTree: Uint8Array): boolean {
    return this.s.advanceEpoch.run(to, Buffer.from(groupInfo), Buffer.from(ratchetTree), roomUri, from).changes === 1;
  }
  addAbuseReport(r: Omit<AbuseReportRow, 'id' | 'report'> & { report: Uint8Array }): number {
    return Number(
      this.s.insertAbuseReport.run(r.room_uri, r.reporter, r.alleged, r.reason, r.note, r.messages, Buffer.from(r.report), r.via_domain, r.received_at).lastInsertRowid,
    );
  }
  abuseReports(roomUri: string): AbuseReportRow[] {
    return this.s.abuseReports.all(roomUri);
  }
  /** The new epoch's room state; the one it replaces is kept as the previous epoch's. */
  setRoomState(roomUri: string, state: Uint8Array | null): void {
    this.s.setRoomState.run(state ? Buffer.from(state) : null, roomUri);
  }
  /** The GroupInfo and tree of a new room's epoch 0. */
  setInitialGroup(roomUri: string, groupInfo: Uint8Array, ratchetTree: Uint8Array): void {
    this.s.setInitialGroup.run(Buffer.from(groupInfo), Buffer.from(ratchetTree), roomUri);
  }
  participants(roomUri: string): string[] {
    return this.s.participants.all(roomUri).map((r) => r.user_uri);
  }
  isParticipant(roomUri: string, userUri: string): boolean {
    return this.s.isParticipant.get(roomUri, userUri) !== undefined;
  }
  /** True when the user was not a participant before. */
  addParticipant(roomUri: string, userUri: string): boolean {
    return this.s.addParticipant.run(roomUri, userUri).changes === 1;
  }
  removeParticipant(roomUri: string, userUri: string): void {
    this.s.removeParticipant.run(roomUri, userUri);
  }
  /** Rooms with `userUri` or a user pseudonym of account `userId` on their participant list. */
  roomsOfAccount(userUri: string, userId: number): RoomRow[] {
    return this.s.roomsOfAccount.all(userUri, userId);
  }
  /** Who of account `userId` (`userUri` itself, else one of its user pseudonyms) is on the room's list. */
  accountParticipant(roomUri: string, userUri: string, userId: number): string | undefined {
    return this.s.accountParticipant.get(roomUri, userUri, userId)?.user_uri;
  }
  /** The account a device belongs to. */
  accountOfDevice(deviceUri: string): number | undefined {
    return this.s.accountOfDevice.get(deviceUri)?.user_id;
  }
  /** The identities of the room's members (device URIs, client pseudonyms), in the order they came. */
  roomDevices(roomUri: string): string[] {
    return this.s.roomDevices.all(roomUri).map((r) => r.device_uri);
  }
  // ---- a follower's view of where its members are in a remote room ----

  setMemberLeaf(roomUri: string, identity: string, leaf: number): void {
    this.s.setMemberLeaf.run(leaf, roomUri, identity);
  }
  memberAtLeaf(roomUri: string, leaf: number): { identity: string; user: string } | undefined {
    const r = this.s.memberAtLeaf.get(roomUri, leaf);
    return r && { identity: r.device_uri, user: r.user_uri };
  }
  noteRemoveProposal(roomUri: string, epoch: bigint, ref: Uint8Array, leaf: number): void {
    this.s.noteRemoveProposal.run(roomUri, epoch.toString(), Buffer.from(ref), leaf);
  }
  /** The leaf a Remove proposal of `epoch` (seen here) removes, by its ProposalRef. */
  removeProposalLeaf(roomUri: string, epoch: bigint, ref: Uint8Array): number | undefined {
    return this.s.removeProposal.get(roomUri, epoch.toString(), Buffer.from(ref))?.leaf;
  }
  /** Forgets the Remove proposals of epochs before `epoch` (they cannot be committed any more). */
  forgetRemoveProposals(roomUri: string, epoch: bigint): void {
    this.s.forgetRemoveProposals.run(roomUri, epoch.toString());
  }

  /** The room's members with their users. */
  roomMembers(roomUri: string): { identity: string; user: string }[] {
    return [...this.cachedRoomMembers(roomUri)];
  }
  /**
   * roomMembers as one shared, frozen array (the same array until the members change: callers may
   * key derived data on it). Cached only inside a transaction, where writes and rollbacks are seen.
   */
  cachedRoomMembers(roomUri: string): readonly Readonly<{ identity: string; user: string }>[] {
    if (this.txDepth === 0) this.checkDataVersion();
    let members = this.memberCache.get(roomUri);
    if (!members) {
      members = Object.freeze(this.s.roomMembers.all(roomUri).map((r) => Object.freeze({ identity: r.device_uri, user: r.user_uri })));
      this.memberCache.set(roomUri, members);
    }
    return members;
  }
  isRoomDevice(roomUri: string, identity: string): boolean {
    return this.s.isRoomDevice.get(roomUri, identity) !== undefined;
  }
  /** True when the member was not in the room before. `user`: the device's user, or the user pseudonym. */
  addRoomDevice(roomUri: string, identity: string, user: string): boolean {
    this.memberCache.delete(roomUri);
    return this.s.addRoomDevice.run(roomUri, identity, user).changes === 1;
  }
  /**
   * Hub: deletes everything kept of a hosted room (its row and, by cascade, list, members, events
   * and their inbox rows, accepted digests, pending removals; its KeyPackage claims) and keeps
   * only its URI, so that it is never created again. Abuse reports about it stay, for the operator.
   */
  destroyHostedRoom(roomUri: string, now: number): boolean {
    this.s.deleteClaimsOfRoom.run(roomUri);
    this.memberCache.delete(roomUri);
    const gone = this.s.deleteHostedRoom.run(roomUri).changes === 1;
    if (gone) this.s.tombstone.run(roomUri, now);
    return gone;
  }
  /** Whether a room of this URI was hosted here and destroyed. */
  wasDestroyed(roomUri: string): boolean {
    return this.s.destroyed.get(roomUri) !== undefined;
  }
  /**
   * Runs `fn` and, when it returns, moves the WAL into the database file and truncates it: the older
   * versions of the pages `fn` changed are then gone from the WAL too (deleted content is zeroed
   * already: secure_delete). Best effort: a reader holding the WAL open makes the checkpoint partial.
   */
  scrubbing<T>(fn: () => T): T {
    const result = fn();
    // PostgreSQL: VACUUM reclaims dead rows' space in its own time (docs/scale-out.md says what
    // that means for what the provider forgets); there is no WAL of ours to truncate here.
    if (this.dialect === 'sqlite') this.db.pragma('wal_checkpoint(TRUNCATE)');
    return result;
  }
  removeRoomDevice(roomUri: string, deviceUri: string): void {
    this.memberCache.delete(roomUri);
    this.s.removeRoomDevice.run(roomUri, deviceUri);
  }

  // ---- events and per-device inboxes ----

  insertEvent(e: NewEvent): number {
    const row: Omit<InboxEntry, 'seq'> = {
      kind: e.kind,
      room_uri: e.room_uri,
      epoch: Number(e.epoch), // as the column reads back
      sender_device: e.sender_device,
      payload: Buffer.from(e.payload),
      ratchet_tree: e.ratchet_tree ? Buffer.from(e.ratchet_tree) : null,
      accepted_ts: e.accepted_ts,
      frank: e.frank ? Buffer.from(e.frank) : null,
    };
    const r = this.s.insertEvent.run(row.room_uri, row.kind, e.epoch, row.sender_device, row.payload, row.ratchet_tree, row.accepted_ts, row.frank);
    const id = Number(r.lastInsertRowid);
    // Kept for eventForPush once committed (never if this (sub)transaction rolls back: its id may
    // then be given again): the push stream frames it right after, without reading it back.
    const bytes = row.payload.length + (row.ratchet_tree?.length ?? 0);
    this.afterCommit(() => {
      if (this.freshEvents.size >= FRESH_EVENTS || this.freshBytes + bytes > FRESH_EVENT_BYTES) {
        this.freshEvents.clear();
        this.freshBytes = 0;
      }
      this.freshEvents.set(id, row);
      this.freshBytes += bytes;
    });
    return id;
  }

  /** The hub's franking keys, oldest first (each in force from `from_ts` until the next). */
  frankingKeys(): { id: number; hub_key: Buffer; from_ts: number }[] {
    return this.s.frankingKeys.all();
  }

  addFrankingKey(key: Uint8Array, fromTs: number): void {
    this.s.insertFrankingKey.run(Buffer.from(key), fromTs);
  }
  /** Queue an event for a device; returns the inbox seq. */
  enqueue(deviceUri: string, eventId: number): number {
    return Number(this.s.insertInbox.run(deviceUri, eventId).lastInsertRowid);
  }
  /** enqueue for several devices in one statement (one event to a room's devices), seqs in the order given. */
  enqueueAll(deviceUris: readonly string[], eventId: number): void {
    if (deviceUris.length === 1) this.s.insertInbox.run(deviceUris[0], eventId);
    else if (deviceUris.length > 1) this.s.insertInboxMany.run(eventId, JSON.stringify(deviceUris));
  }
  /**
   * enqueueAll for candidate devices that may have been deleted: only those that exist get a row
   * (in the order given, duplicates not expected); returns them.
   */
  enqueueExisting(deviceUris: readonly string[], eventId: number): string[] {
    if (deviceUris.length === 0) return [];
    const list = JSON.stringify(deviceUris);
    const { changes } = this.s.insertInboxExisting.run(eventId, list);
    if (changes === deviceUris.length) return [...deviceUris];
    // Some were deleted (their leaves go soon): which remain, in the same transaction.
    return this.s.existingDevices.all(list) as string[];
  }
  inboxAfter(deviceUri: string, cursor: number, limit: number): InboxEntry[] {
    return this.s.inboxAfter.all(deviceUri, cursor, limit);
  }
  /** inboxAfter without the events: their ids only (the push stream shares one copy of each event). */
  inboxRefsAfter(deviceUri: string, cursor: number, limit: number): { seq: number; event_id: number }[] {
    return this.s.inboxRefsAfter.all(deviceUri, cursor, limit);
  }
  /**
   * An event as inboxAfter gives it, without the seq (events never change once stored), for an
   * inbox row that refers to it (an event deleted otherwise may still be served from freshEvents).
   */
  eventForPush(id: number): Omit<InboxEntry, 'seq'> | undefined {
    const fresh = this.freshEvents.get(id);
    if (fresh) {
      // Framed once by the push hub, which keeps the frame: not asked for again while that lasts.
      this.freshEvents.delete(id);
      return fresh;
    }
    return this.s.eventForPush.get(id);
  }
  /** Drop a device's inbox rows up to `seq`, and the events no inbox row references any more. */
  ack(deviceUri: string, seq: number): number {
    // One statement for the rows, one for the events they leave unreferenced (instead of one per event).
    const ids = this.s.deleteInboxUpToReturning.all(deviceUri, seq) as number[];
    // Acked, so framed for the push stream already: not kept for it any more (and the events
    // deleted below must not be served from there).
    for (const id of ids) this.freshEvents.delete(id);
    if (ids.length === 1) this.s.deleteEventIfUnreferenced.run(ids[0], ids[0]);
    else if (ids.length > 1) this.s.deleteEventsIfUnreferenced.run(JSON.stringify([...new Set(ids)]));
    return ids.length;
  }

  /**
   * ack for several devices at once (device -> seq): each one's rows, then one sweep for the events
   * none of them left referenced, so an event acked by all of them is looked at once, not once per
   * device. Returns the rows dropped.
   */
  ackAll(acks: ReadonlyMap<string, number>): number {
    const ids = new Set<number>();
    let rows = 0;
    for (const [deviceUri, seq] of acks) {
      for (const id of this.s.deleteInboxUpToReturning.all(deviceUri, seq) as number[]) {
        ids.add(id);
        rows++;
      }
    }
    for (const id of ids) this.freshEvents.delete(id);
    if (ids.size === 1) {
      const [id] = ids;
      this.s.deleteEventIfUnreferenced.run(id, id);
    } else if (ids.size > 1) this.s.deleteEventsIfUnreferenced.run(JSON.stringify([...ids]));
    return rows;
  }

  // ---- pseudonyms ----

  insertPseudonym(userPseudonym: string, clientPseudonym: string, userId: number, deviceUri: string, now: number): void {
    this.s.insertPseudonym.run(userPseudonym, clientPseudonym, userId, deviceUri, now);
  }
  pseudonymByUser(userPseudonym: string): PseudonymRow | undefined {
    return this.s.pseudonymByUser.get(userPseudonym);
  }
  pseudonymByClient(clientPseudonym: string): PseudonymRow | undefined {
    return this.s.pseudonymByClient.get(clientPseudonym);
  }
  /** Every pseudonym of the account, oldest first, with its unclaimed KeyPackages counted. */
  pseudonymsOf(userId: number): PseudonymListRow[] {
    return this.s.pseudonymsOf.all(userId);
  }
  countActivePseudonyms(userId: number): number {
    return this.s.countActivePseudonyms.get(userId)!.n;
  }
  /** True when this call retired it (false: it was retired already). */
  retirePseudonym(userPseudonym: string, now: number): boolean {
    return this.s.retirePseudonym.run(now, userPseudonym).changes === 1;
  }
  insertPseudonymKeyPackage(clientPseudonym: string, ref: Uint8Array, bytes: Uint8Array, connectionOnly: boolean, now: number): void {
    this.s.insertPseudonymKeyPackage.run(clientPseudonym, Buffer.from(ref), Buffer.from(bytes), connectionOnly ? 1 : 0, now);
  }
  /**
   * The client pseudonym whose device uploaded the connection-only KeyPackage `ref` (those travel
   * inside a connection request, never through a claim, so this is how a Welcome to one is routed).
   */
  /** Records a spent token's nonce; false when it was spent before. */
  spendToken(nonce: Uint8Array, epoch: number, now: number): boolean {
    return this.s.spendToken.run(Buffer.from(nonce), epoch, now).changes === 1;
  }
  /** Forgets the nonces of epochs before `epoch`: their tokens no longer verify anyway. */
  forgetSpentTokensBefore(epoch: number): number {
    return this.s.forgetSpentTokens.run(epoch).changes;
  }
  recordOhttpHandout(ref: Uint8Array, deviceUri: string, now: number): void {
    this.s.insertOhttpHandout.run(Buffer.from(ref), deviceUri, now);
  }
  /** The generation of `user`'s KeyPackage token key (0 until they first withdraw something). */
  tokenGeneration(user: string): number {
    return this.s.tokenGeneration.get(user)?.generation ?? 0;
  }
  bumpTokenGeneration(user: string): number {
    this.s.bumpTokenGeneration.run(user);
    return this.tokenGeneration(user);
  }
  /** Forgets handouts older than `before` (their KeyPackages have expired). */
  forgetOhttpHandoutsBefore(before: number): number {
    return this.s.forgetOhttpHandouts.run(before).changes;
  }
  /** The OHTTP gateway's secrets of `domain` (ohttp-keys.ts), if made. */
  ohttpSecrets(domain: string): OhttpSecretsRow | undefined {
    return this.s.ohttpSecrets.get(domain);
  }
  /** Stores a domain's first secrets; false (nothing changed) when it has some already. */
  insertOhttpSecrets(r: Omit<OhttpSecretsRow, 'private_key' | 'token_secret'> & { private_key: Uint8Array; token_secret: Uint8Array }, now: number): boolean {
    return this.s.insertOhttpSecrets.run(r.domain, r.key_id, Buffer.from(r.private_key), Buffer.from(r.token_secret), r.token_epoch, now).changes === 1;
  }
  /** The current KeyPackage token epoch of `domain` (one primary-key read: asked per issuance and redemption). */
  ohttpTokenEpoch(domain: string): number | undefined {
    return this.s.ohttpTokenEpoch.get(domain)?.token_epoch;
  }
  /**
   * Starts a new token epoch for `domain`, or for every domain with secrets when none is named;
   * returns each domain advanced with its new epoch (none: no secrets yet).
   */
  advanceOhttpTokenEpoch(domain?: string): { domain: string; epoch: number }[] {
    const domains = domain === undefined ? this.s.ohttpSecretDomains.all().map((r) => r.domain) : [domain];
    const out: { domain: string; epoch: number }[] = [];
    for (const d of domains) {
      if (this.s.advanceOhttpTokenEpoch.run(d).changes === 1) out.push({ domain: d, epoch: this.ohttpTokenEpoch(d)! });
    }
    return out;
  }
  /** The device a KeyPackage handed out over OHTTP belongs to (routes its Welcome). */
  ohttpHandoutOwner(ref: Uint8Array): string | undefined {
    return this.s.ohttpHandoutByRef.get(Buffer.from(ref))?.device_uri;
  }
  connectionKeyPackageOwner(ref: Uint8Array): string | undefined {
    const r = this.s.pseudonymKeyPackageByRef.get(Buffer.from(ref));
    return r && r.connection_only === 1 ? r.client_pseudonym : undefined;
  }
  /** Unclaimed KeyPackages of a client pseudonym, by kind. */
  pseudonymKeyPackageCounts(clientPseudonym: string): { connectionOnly: number; other: number } {
    const r = this.s.pseudonymKeyPackageCounts.get(clientPseudonym)!;
    return { connectionOnly: r.connection_only, other: r.other };
  }
  /** A pseudonym's unclaimed KeyPackages that are not connection-only, oldest first (stop iterating before writing). */
  unclaimedRoomKeyPackages(clientPseudonym: string): IterableIterator<PseudonymKeyPackageRow> {
    return this.s.unclaimedRoomKeyPackages.iterate(clientPseudonym);
  }
  /** True if this call claimed it. */
  markPseudonymKeyPackageClaimed(id: number): boolean {
    return this.s.markPseudonymKeyPackageClaimed.run(id).changes === 1;
  }
  /** Withdraws every KeyPackage of a client pseudonym; returns how many unclaimed ones went. */
  deletePseudonymKeyPackages(clientPseudonym: string): number {
    const { connectionOnly, other } = this.pseudonymKeyPackageCounts(clientPseudonym);
    this.s.deletePseudonymKeyPackages.run(clientPseudonym);
    return connectionOnly + other;
  }
  /** Whether a KeyPackageRef is held by some identity other than `clientPseudonym` (a device, or another pseudonym). */
  keyPackageRefHeldElsewhere(ref: Uint8Array, clientPseudonym: string): boolean {
    const r = Buffer.from(ref);
    return this.s.anyDeviceRef.get(r) !== undefined || this.s.pseudonymRefElsewhere.get(r, clientPseudonym) !== undefined;
  }
  /** Whether a KeyPackageRef was ever uploaded for a pseudonym. */
  keyPackageRefOfPseudonym(ref: Uint8Array): boolean {
    return this.s.anyPseudonymRef.get(Buffer.from(ref)) !== undefined;
  }
  pseudonymQuota(userId: number): { tokens: number; updatedAt: number } | undefined {
    const r = this.s.pseudonymQuota.get(userId);
    return r && { tokens: r.tokens, updatedAt: r.updated_at };
  }
  setPseudonymQuota(userId: number, tokens: number, now: number): void {
    this.s.putPseudonymQuota.run(userId, tokens, now);
  }

  // ---- rate limits (rate-limits.ts) ----

  rateBucket(bucket: string, keyHash: Buffer): { tokens: number; at: number } | undefined {
    const r = this.s.rateBucket.get(bucket, keyHash);
    return r && { tokens: Number(r.tokens), at: Number(r.updated_at) };
  }
  putRateBucket(bucket: string, keyHash: Buffer, tokens: number, at: number, fullAt: number): void {
    this.s.putRateBucket.run(bucket, keyHash, tokens, at, fullAt);
  }
  deleteRateBucket(bucket: string, keyHash: Buffer): void {
    this.s.deleteRateBucket.run(bucket, keyHash);
  }
  /** Deletes at most `limit` rows whose bucket is full again by `now`; returns how many. */
  sweepRateBuckets(now: number, limit: number): number {
    return this.s.sweepRateBuckets.run(now, now, limit).changes;
  }

  // ---- idempotency ----

  idempotentResponse(deviceUri: string, route: string, requestId: string): string | undefined {
    return this.s.idempotent.get(deviceUri, route, requestId)?.response;
  }
  recordResponse(deviceUri: string, route: string, requestId: string, response: string, now: number): void {
    this.s.putIdempotent.run(deviceUri, route, requestId, response, now);
  }
  expireIdempotency(now: number): number {
    const cutoff = now - IDEMPOTENCY_TTL_MS;
    this.s.expireAccepted.run(cutoff);
    this.s.expireForwarded.run(cutoff);
    return this.s.expireIdempotent.run(cutoff).changes;
  }
}

/** Whether `db` is PostgreSQL behind better-sqlite3's API (pg/sync-db.ts) rather than SQLite. */
export function isPostgres(db: Database.Database): boolean {
  return (db as unknown as { dialect?: string }).dialect === 'postgres';
}

/**
 * A module's own tables (CREATE TABLE IF NOT EXISTS …): made by the module on SQLite; on
 * PostgreSQL they come with the versioned migrations of pg/schema.ts, kept equal by pg-schema.test.ts.
 */
export function createModuleTables(db: Database.Database, sql: string): void {
  if (!isPostgres(db)) db.exec(sql);
}

export function openStore(dataDir: string): Store {
  return new Store(path.join(dataDir, DB_FILE));
}
