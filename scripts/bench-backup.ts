// Backup and restore at scale, for `npm run bench`: a real profile database (sealed contents, real
// vault) holding `count` messages in 20 rooms, backed up to a real provider process over HTTPS
// (chunks of about 1 MiB, sealed), then restored into a new, empty profile database: the time of
// each, the chunks and bytes stored, and that the restored history has every message once.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { toHex } from '../src-shared/bytes.js';
import { encodeContent, messageId, textMessage } from '../src-shared/content.js';
import { ProfileDb } from '../src-main/db/profile-db.js';
import { openSecretStore } from '../src-main/secrets/secret-store.js';
import { Vault } from '../src-main/secrets/vault.js';
import { Backups } from '../src-main/core/backup.js';
import { ProviderClient } from '../src-main/net/provider-client.js';

export interface BackupFigures {
  messages: number;
  backupMs: number;
  restoreMs: number;
  chunks: number;
  bytes: number;
}

async function profileDb(label: string): Promise<{ db: ProfileDb; secrets: Awaited<ReturnType<typeof openSecretStore>> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mimi-bench-backup-${label}-`));
  const secrets = await openSecretStore({ profileDir: dir, namespace: `mimi://bench.example/d/backup/${label}`, preferred: 'plaintext' });
  return { db: new ProfileDb(path.join(dir, 'mimi.db'), await Vault.open(secrets)), secrets };
}

export async function benchBackup(url: string, caPem: string, count = 100_000): Promise<BackupFigures> {
  const client = new ProviderClient({ baseUrl: url, caPem });
  await client.register({ handle: 'backup-bench', password: 'bench-password', deviceName: 'bench' });
  const from = await profileDb('from');
  const to = await profileDb('to');
  try {
    const rooms = Array.from({ length: 20 }, (_, i) => `mimi://bench.example/r/backup${i}`);
    for (const r of rooms) from.db.insertRoom({ roomUri: r, name: r.slice(-7), hubDomain: 'bench.example', epoch: 0n, groupState: new Uint8Array([1]) });
    from.db.tx(() => {
      for (let i = 0; i < count; i++) {
        const roomUri = rooms[i % rooms.length];
        const content = encodeContent(textMessage({ senderUri: 'mimi://bench.example/u/u', roomUri, text: `message ${i}: a line of ordinary length, about as long as people write them` }));
        from.db.insertMessage({ roomUri, messageId: toHex(messageId(content)), sender: 'mimi://bench.example/u/u', content, timestamp: 1_000_000 + i, status: 'received' }, false);
      }
    });
    const listed = (db: ProfileDb) => () => db.listRooms().map((r) => ({ roomUri: r.roomUri, name: r.name, hubDomain: r.hubDomain }));
    let key = '';
    const t0 = performance.now();
    const made = await new Backups({ db: from.db, client, secrets: from.secrets, rooms: listed(from.db) }).create({ onNewKey: (k) => void (key = k) });
    const backupMs = performance.now() - t0;
    const t1 = performance.now();
    const restored = await new Backups({ db: to.db, client, secrets: to.secrets, rooms: listed(to.db) }).restore(key);
    const restoreMs = performance.now() - t1;
    if (restored.added !== count || to.db.countMessagesAfter(0) !== count) throw new Error(`restored ${restored.added} of ${count} messages`);
    return { messages: count, backupMs, restoreMs, chunks: made.chunks, bytes: made.bytes };
  } finally {
    from.db.close();
    to.db.close();
    client.close();
  }
}
