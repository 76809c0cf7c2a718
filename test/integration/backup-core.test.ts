// The backup writer's rules against a real provider process, on real profile databases (sealed
// contents, real vault): what a backup leaves out and takes later (a message still waiting for the
// hub, failed ones), a full rewrite when the provider lost a chunk (the old generation deleted only
// after the new one is complete), two devices taking turns, and a restore into a profile that
// already holds part of the history.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { toHex } from '../../src-shared/bytes.js';
import { encodeContent, messageId, textMessage } from '../../src-shared/content.js';
import { backupKeys, decodeRecoveryKey } from '../../src-shared/backup-format.js';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { openSecretStore, type SecretStore } from '../../src-main/secrets/secret-store.js';
import { Vault } from '../../src-main/secrets/vault.js';
import { Backups } from '../../src-main/core/backup.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';
import { withProviderDb } from '../helpers/provider-db.js';

let provider: ProviderProcess;
const open: { close(): void }[] = [];
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  for (const o of open) o.close();
  await provider?.stop();
});

const ME = 'mimi://a.example/u/dee';
const ROOM = 'mimi://a.example/r/garden';

async function device(label: string, client: ProviderClient): Promise<{ db: ProfileDb; secrets: SecretStore; backups: Backups }> {
  const dir = tempDir(`backup-core-${label}`);
  const secrets = await openSecretStore({ profileDir: dir, namespace: `mimi://a.example/d/dee/${label}`, preferred: 'plaintext' });
  const db = new ProfileDb(path.join(dir, 'mimi.db'), await Vault.open(secrets));
  open.push(db);
  const backups = new Backups({ db, client, secrets, rooms: () => db.listRooms().map((r) => ({ roomUri: r.roomUri, name: r.name || 'Garden', hubDomain: r.hubDomain })), chunkBytes: 400 });
  return { db, secrets, backups };
}

function message(db: ProfileDb, text: string, status: 'sent' | 'received' | 'pending' | 'failed', at: number) {
  const content = encodeContent(textMessage({ senderUri: ME, roomUri: ROOM, text }));
  return db.insertMessage({ roomUri: ROOM, messageId: toHex(messageId(content)), sender: ME, content, timestamp: at, status }, false)!;
}

function texts(db: ProfileDb): string[] {
  return db.pageMessages(ROOM, null, 1000).map((m) => new TextDecoder().decode(m.content)).map((c) => /(note \d+|late one|lost one)/.exec(c)?.[1] ?? '?').reverse();
}

function generationsAt(backupId: string): number[] {
  return withProviderDb(provider.dataDir, (db) =>
    (db.prepare('SELECT DISTINCT generation FROM backup_chunks WHERE backup_id = ? ORDER BY generation').all(backupId) as { generation: number }[]).map((r) => r.generation),
  );
}

test('pending and failed messages, a lost chunk, two devices, a partial history restored', async () => {
  const client = new ProviderClient({ baseUrl: provider.url, caPem: provider.caPem });
  open.push(client);
  await client.register({ handle: 'dee', password: 'correct horse', deviceName: 'one' });
  const one = await device('one', client);
  one.db.insertRoom({ roomUri: ROOM, name: 'Garden', hubDomain: 'a.example', epoch: 0n, groupState: new Uint8Array([1]) });
  for (let i = 0; i < 5; i++) message(one.db, `note ${i}`, 'received', 1000 + i);
  const late = message(one.db, 'late one', 'pending', 2000);
  message(one.db, 'note 5', 'received', 1005);
  message(one.db, 'lost one', 'failed', 3000);

  // The first backup stops before the message still waiting for the hub.
  let key = '';
  const first = await one.backups.create({ onNewKey: (k) => void (key = k) });
  assert.equal(first.messages, 5);
  assert.equal(one.backups.status().notBackedUp, 3);
  const { backupId } = backupKeys(decodeRecoveryKey(key));

  // Once the hub took it, the next run takes it and what came after it, but never the failed one.
  one.db.setMessageStatus(late.seq, 'sent', 2000);
  const second = await one.backups.create();
  assert.equal(second.generation, 1);
  assert.equal(second.full, false);
  assert.equal(second.messages, 7);
  assert.ok(second.uploaded >= 1);

  // The provider loses a chunk: the next run writes generation 2 in full, then deletes generation 1.
  withProviderDb(provider.dataDir, (db) => db.prepare('DELETE FROM backup_chunks WHERE backup_id = ? AND generation = 1 AND idx = 0').run(backupId), { readonly: false });
  const third = await one.backups.create();
  assert.deepEqual([third.generation, third.full, third.messages], [2, true, 7]);
  assert.deepEqual(generationsAt(backupId), [2]);
  assert.equal(one.backups.status().generation, 2);

  // A second device of the account, holding part of the history already, restores the rest.
  const two = await device('two', client);
  two.db.insertRoom({ roomUri: ROOM, name: '', hubDomain: 'a.example', epoch: 0n, groupState: new Uint8Array([1]) });
  // The very message device one has (the same content bytes, so the same message id).
  const note0 = one.db.pageMessages(ROOM, null, 1000).at(-1)!;
  two.db.insertMessage({ roomUri: ROOM, messageId: note0.messageId, sender: note0.sender, content: note0.content, timestamp: note0.timestamp, status: 'received' }, false);
  const restored = await two.backups.restore(key);
  assert.deepEqual([restored.generation, restored.added, restored.present, restored.historyOnly.length], [2, 6, 1, 0]);
  assert.deepEqual(texts(two.db), ['note 0', 'note 1', 'note 2', 'note 3', 'note 4', 'note 5', 'late one']);
  assert.equal(two.db.getRoom(ROOM)?.name, 'Garden', 'the restored name fills a room that had none');

  // Its first backup (no typing: the key was kept) is a new generation in full; the old one goes.
  const fromTwo = await two.backups.create({ onNewKey: () => assert.fail('the key is not shown again') });
  assert.deepEqual([fromTwo.generation, fromTwo.full, fromTwo.messages], [3, true, 7]);
  assert.deepEqual(generationsAt(backupId), [3]);
  // The first device notices the newer generation and writes a newer one still, not into 2.
  message(one.db, 'note 6', 'received', 1006);
  const back = await one.backups.create();
  assert.deepEqual([back.generation, back.full, back.messages], [4, true, 8]);
  assert.deepEqual(generationsAt(backupId), [4]);
});
