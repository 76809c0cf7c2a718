// A room's group state stored in two parts (profile database migration 17, mls/engine.ts
// splitSessionState): the ratchet tree once per epoch, the rest at every save. On a real SQLite
// file with the real engine. A rewrite of the tree is seen as new sealed bytes (each seal has a
// fresh nonce), so "not rewritten" is checked on the file's own bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { joinSessionState, splitSessionState, type GroupSession, type MlsEngine } from '../../src-main/mls/engine.js';
import { bytesEqual, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { tempDir } from '../helpers/provider-process.js';

const ROOM = 'mimi://a.example/r/big';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

/** A group of `n` members as its creator sees it, and one other member's session. */
async function group(engine: MlsEngine, n: number): Promise<{ owner: GroupSession; peer: GroupSession }> {
  const ownerKeys = await engine.newDeviceKeys('mimi://a.example/d/owner/1');
  const joiners = await Promise.all(
    Array.from({ length: n - 1 }, async (_, i) => {
      const keys = await engine.newDeviceKeys(`mimi://a.example/d/m${i}/1`);
      return { keys, kp: (await engine.generateKeyPackages(keys, 1))[0] };
    }),
  );
  const out = await (await engine.createGroup(ownerKeys, ROOM)).add(joiners.map((j) => j.kp.publicMessage));
  const peer = await engine.joinFromWelcome(joiners[0].keys, out.welcome!, joiners[0].kp, out.ratchetTree);
  return { owner: out.pending, peer };
}

function rawRow(file: string): { group_state: Buffer; group_tree: Buffer | null; group_tree_key: Buffer | null } {
  const raw = new Database(file, { readonly: true });
  try {
    return raw.prepare('SELECT group_state, group_tree, group_tree_key FROM rooms WHERE room_uri = ?').get(ROOM) as ReturnType<typeof rawRow>;
  } finally {
    raw.close();
  }
}

/** The room in `db` with `s` as its group state, saved once (so its tree is stored apart). */
function stored(db: ProfileDb, s: GroupSession): void {
  db.insertRoom({ roomUri: ROOM, name: 'Big', hubDomain: 'a.example', epoch: s.epoch, groupState: s.encode() });
  db.saveGroupState(ROOM, s.epoch, s.encode());
}

async function openDb(tag: string) {
  const file = path.join(tempDir(tag), 'mimi.db');
  return { file, db: new ProfileDb(file, await Vault.open(memoryStore())) };
}

test('split and join: a session encoding cut into tree key, tree and rest and put back is the same bytes; other forms are not cut', async () => {
  const engine = await createMlsEngine();
  const { owner } = await group(engine, 5);
  const encoded = owner.encode();
  const parts = splitSessionState(encoded);
  assert.ok(parts);
  assert.equal(parts.treeKey.length, 32, 'the tree hash names the tree');
  assert.ok(parts.tree.length > parts.rest.length / 4, 'the tree is a real part of the state');
  assert.deepEqual(joinSessionState(parts), encoded);
  assert.equal(splitSessionState(utf8('MLS\x01 the form before stop 30')), undefined);
  assert.equal(splitSessionState(encoded.subarray(0, 10)), undefined, 'a truncated head is no split form');
  assert.equal(splitSessionState(new Uint8Array(0)), undefined);
});

test('messages rewrite only the rest: the tree is written once per epoch, read back joined, and the state restores', async () => {
  const engine = await createMlsEngine();
  const { file, db } = await openDb('group-tree');
  let { owner, peer } = await group(engine, 40);
  try {
    stored(db, owner);
    const first = rawRow(file);
    assert.ok(first.group_tree && first.group_tree_key, 'the tree is stored apart');
    assert.ok(first.group_state.length < first.group_tree.length / 3, `the rest (${first.group_state.length} B) is small beside the tree (${first.group_tree.length} B)`);

    for (let i = 0; i < 5; i++) {
      const sent = await owner.encrypt(utf8(`message ${i}`));
      owner = sent.session;
      db.saveGroupState(ROOM, owner.epoch, owner.encode());
      const row = rawRow(file);
      assert.ok(bytesEqual(row.group_tree!, first.group_tree), `message ${i}: the tree was not written again`);
      assert.ok(!bytesEqual(row.group_state, first.group_state), 'the rest was');
      assert.deepEqual(db.groupState(ROOM), owner.encode(), 'read back whole, byte for byte');
      const got = await peer.process(sent.message);
      peer = got.session;
      assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), `message ${i}`);
    }

    // The stored state carries on: a restored session's next message is read by the peer (no
    // ratchet generation reused, none skipped).
    const restored = engine.restore(db.groupState(ROOM)!);
    const next = await restored.encrypt(utf8('after restore'));
    const got = await peer.process(next.message);
    assert.equal(got.result.kind === 'application' && fromUtf8(got.result.plaintext), 'after restore');

    // A new epoch: its tree replaces the old one.
    const update = await restored.update();
    db.saveGroupState(ROOM, update.newEpoch, update.pending.encode());
    const row = rawRow(file);
    assert.ok(!bytesEqual(row.group_tree!, first.group_tree) && !bytesEqual(row.group_tree_key!, first.group_tree_key), 'the new epoch wrote its tree');
    assert.deepEqual(db.groupState(ROOM), update.pending.encode());
    assert.equal(engine.restore(db.groupState(ROOM)!).epoch, update.newEpoch);
  } finally {
    db.close();
  }
});

test('a save rolled back with its transaction takes its tree with it: the next save of that epoch writes the tree again', async () => {
  const engine = await createMlsEngine();
  const { file, db } = await openDb('group-tree-rollback');
  const { owner } = await group(engine, 12);
  try {
    stored(db, owner);
    const before = rawRow(file);
    const update = await owner.update();
    assert.throws(() =>
      db.tx(() => {
        db.saveGroupState(ROOM, update.newEpoch, update.pending.encode());
        throw new Error('the commit was refused');
      }),
    );
    assert.ok(bytesEqual(rawRow(file).group_tree!, before.group_tree!), 'rolled back');
    // A message in the new epoch: its rest alone would not fit the stored (old) tree.
    const later = (await update.pending.encrypt(utf8('x'))).session;
    db.saveGroupState(ROOM, later.epoch, later.encode());
    assert.deepEqual(db.groupState(ROOM), later.encode());
    assert.equal(engine.restore(db.groupState(ROOM)!).epoch, update.newEpoch);
  } finally {
    db.close();
  }
});

test("a state that would mix epochs is refused: a rest or a tree not of the key (engine), a stored tree moved under another key (storage)", async () => {
  const engine = await createMlsEngine();
  const { owner } = await group(engine, 6);
  const update = await owner.update();
  const old = splitSessionState(owner.encode())!;
  const now = splitSessionState(update.pending.encode())!;
  assert.throws(() => engine.restore(joinSessionState({ ...old, rest: now.rest })), /not the one its key names/);
  assert.throws(() => engine.restore(joinSessionState({ ...now, tree: old.tree })), /not the one its key names/);
  const flipped = now.tree.slice();
  flipped[flipped.length - 1] ^= 1;
  assert.throws(() => engine.restore(joinSessionState({ ...now, tree: flipped })), /not the one its key names/);

  // In storage the key and its tree are sealed together: an older epoch's sealed tree put back
  // beside the current key (a corrupted or tampered file) does not open.
  const { file, db } = await openDb('group-tree-mix');
  try {
    stored(db, owner);
    const oldTree = rawRow(file).group_tree!;
    db.saveGroupState(ROOM, update.newEpoch, update.pending.encode());
    const raw = new Database(file);
    raw.prepare('UPDATE rooms SET group_tree = ? WHERE room_uri = ?').run(oldTree, ROOM);
    raw.close();
    assert.throws(() => db.groupState(ROOM), /does not authenticate/);
  } finally {
    db.close();
  }
});

test('a state of another form (not split) is stored whole, and a later split save stores its tree apart again', async () => {
  const engine = await createMlsEngine();
  const { file, db } = await openDb('group-tree-whole');
  const { owner } = await group(engine, 3);
  try {
    stored(db, owner);
    const whole = utf8('MLS\x01 a state as an earlier build wrote it');
    db.saveGroupState(ROOM, owner.epoch, whole);
    const row = rawRow(file);
    assert.equal(row.group_tree, null);
    assert.equal(row.group_tree_key, null);
    assert.deepEqual(db.groupState(ROOM), whole);
    db.saveGroupState(ROOM, owner.epoch, owner.encode());
    assert.ok(rawRow(file).group_tree);
    assert.deepEqual(db.groupState(ROOM), owner.encode());
  } finally {
    db.close();
  }
});
