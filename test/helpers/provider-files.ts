// What a test provider keeps of attachments and backup chunks, on either engine (issue 17): on
// SQLite the files DATA/assets/<id> and DATA/backups/<file>; on PostgreSQL the rows of
// asset_contents and backup_chunk_contents (src-provider/pg/schema.ts v3), pieces per object.
// The attachment and backup tests check what is stored, what is gone and that no plaintext is
// anywhere through these, so the same assertions hold in the suite's SQLite and PostgreSQL passes.

import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { filesUnder, onPostgres, withProviderDb } from './provider-db.js';

/** Objects stored from pieces: name → the pieces joined in order. */
function fromPieces(db: Database.Database, table: string, key: string): Map<string, Buffer> {
  const out = new Map<string, Buffer[]>();
  for (const r of db.prepare(`SELECT ${key} AS k, data FROM ${table} ORDER BY ${key}, seq`).all() as { k: string; data: Buffer }[]) {
    out.set(r.k, [...(out.get(r.k) ?? []), r.data]);
  }
  return new Map([...out].map(([k, v]) => [k, Buffer.concat(v)]));
}

/** The provider's stored attachments: id → ciphertext (uploads still arriving are not included). */
export function storedAssets(dataDir: string): Map<string, Buffer> {
  if (onPostgres()) return withProviderDb(dataDir, (db) => fromPieces(db, 'asset_contents', 'asset_id'));
  const dir = path.join(dataDir, 'assets');
  return new Map(filesUnder(dir).filter((f) => path.dirname(f) === dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
}

/** The provider's stored backup chunks: file name (backup_chunks.file) → ciphertext. */
export function storedBackupChunks(dataDir: string): Map<string, Buffer> {
  if (onPostgres()) return withProviderDb(dataDir, (db) => fromPieces(db, 'backup_chunk_contents', 'file'));
  const dir = path.join(dataDir, 'backups');
  return new Map(filesUnder(dir).filter((f) => path.dirname(f) === dir).map((f) => [path.basename(f), fs.readFileSync(f)]));
}

/** Replaces the stored bytes of backup chunk `file` (a test damaging what the provider holds). */
export function overwriteBackupChunk(dataDir: string, file: string, bytes: Buffer): void {
  if (!onPostgres()) return fs.writeFileSync(path.join(dataDir, 'backups', file), bytes);
  withProviderDb(dataDir, (db) =>
    db.transaction(() => {
      db.prepare('DELETE FROM backup_chunk_contents WHERE file = ?').run(file);
      db.prepare('INSERT INTO backup_chunk_contents (file, seq, data) VALUES (?, 0, ?)').run(file, bytes);
    })(),
  );
}

/**
 * Takes every stored attachment's contents away (the rows stay: a provider that lost the files);
 * returns the function that puts them back.
 */
export function hideStoredAssets(dataDir: string, aside: string): () => void {
  if (!onPostgres()) {
    const assets = path.join(dataDir, 'assets');
    fs.renameSync(assets, aside);
    fs.mkdirSync(assets);
    return () => {
      fs.rmSync(assets, { recursive: true });
      fs.renameSync(aside, assets);
    };
  }
  const rows = withProviderDb(dataDir, (db) => db.prepare('SELECT asset_id, seq, data FROM asset_contents').all() as { asset_id: string; seq: number; data: Buffer }[]);
  withProviderDb(dataDir, (db) => db.prepare('DELETE FROM asset_contents').run());
  return () =>
    withProviderDb(dataDir, (db) => {
      const put = db.prepare('INSERT INTO asset_contents (asset_id, seq, data) VALUES (?, ?, ?)');
      db.transaction(() => rows.forEach((r) => put.run(r.asset_id, r.seq, r.data)))();
    });
}
