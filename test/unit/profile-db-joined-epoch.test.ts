// The epoch this device joined each room at (profile database migration 16), on a real SQLite
// file: recorded when a room is stored on joining and when the device joins again; a database of
// the previous version opens with it unknown (NULL) for the rooms it had, which keeps the old
// behaviour (core/incoming.ts skips nothing for them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { tempDir } from '../helpers/provider-process.js';

const OLD_ROOM = 'mimi://a.example/r/before';
const NEW_ROOM = 'mimi://a.example/r/after';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

test('a database of the previous version opens with the joined epoch unknown; joins record it', async () => {
  const file = path.join(tempDir('joined-epoch'), 'mimi.db');
  const vault = await Vault.open(memoryStore());
  // The newest schema, then taken back to version 15 (no joined_epoch) with one room in it, as an
  // app from before the migration left it.
  new ProfileDb(file, vault).close();
  const raw = new Database(file);
  let newest = 0;
  try {
    newest = raw.pragma('user_version', { simple: true }) as number;
    assert.ok(newest >= 17);
    raw.exec('ALTER TABLE rooms DROP COLUMN joined_epoch');
    // Migration 17's columns (the group tree stored apart) go too: version 15 had neither.
    raw.exec('ALTER TABLE rooms DROP COLUMN group_tree');
    raw.exec('ALTER TABLE rooms DROP COLUMN group_tree_key');
    raw.pragma('user_version = 15');
    raw.prepare('INSERT INTO rooms(room_uri, name, hub_domain, epoch, group_state, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(OLD_ROOM, 'old', 'a.example', '5', Buffer.from([1]), 1);
  } finally {
    raw.close();
  }

  const db = new ProfileDb(file, vault);
  try {
    const old = db.getRoom(OLD_ROOM)!;
    assert.equal(old.epoch, 5n);
    assert.equal(old.joinedEpoch, undefined, 'unknown for a room from before the migration');
    assert.equal('joinedEpoch' in old, false);
    assert.equal(db.listRooms()[0].joinedEpoch, undefined);

    // Stored on joining (created, welcomed, external commit): its epoch is the joined one.
    db.insertRoom({ roomUri: NEW_ROOM, name: 'new', hubDomain: 'a.example', epoch: 3n, groupState: new Uint8Array([1]) });
    assert.equal(db.getRoom(NEW_ROOM)!.joinedEpoch, 3n);
    db.saveGroupState(NEW_ROOM, 9n, new Uint8Array([2]));
    assert.equal(db.getRoom(NEW_ROOM)!.joinedEpoch, 3n, 'later epochs leave it');

    // Removed and added again: the new membership's first epoch (the old keys are gone).
    db.markLeft(NEW_ROOM);
    db.markRejoined(NEW_ROOM, 12n);
    assert.deepEqual([db.getRoom(NEW_ROOM)!.left, db.getRoom(NEW_ROOM)!.joinedEpoch], [false, 12n]);
    // The room from before the migration learns it when this device joins it again.
    db.markRejoined(OLD_ROOM, 7n);
    assert.equal(db.getRoom(OLD_ROOM)!.joinedEpoch, 7n);
    // A u64 epoch beyond JavaScript's exact integers survives (kept as decimal text, like `epoch`).
    db.markRejoined(OLD_ROOM, 2n ** 64n - 2n);
    assert.equal(db.getRoom(OLD_ROOM)!.joinedEpoch, 2n ** 64n - 2n);
  } finally {
    db.close();
  }
  const after = new Database(file, { readonly: true });
  try {
    assert.equal(after.pragma('user_version', { simple: true }), newest, 'migration 16 and those after it ran');
  } finally {
    after.close();
  }
});

test('a room known only from a backup has no joined epoch until this device joins it', async () => {
  const db = new ProfileDb(path.join(tempDir('joined-epoch'), 'mimi.db'), await Vault.open(memoryStore()));
  try {
    db.insertHistoryRoom({ roomUri: OLD_ROOM, name: 'restored', hubDomain: 'a.example', createdAt: 1 });
    assert.equal(db.getRoom(OLD_ROOM)!.joinedEpoch, undefined);
    db.markRejoined(OLD_ROOM, 4n);
    assert.equal(db.getRoom(OLD_ROOM)!.joinedEpoch, 4n);
  } finally {
    db.close();
  }
});
