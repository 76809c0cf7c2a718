// Encrypted backups (docs/backup.md): chunks a client sealed with a key derived from its recovery
// key (src-shared/backup-format.ts), stored per account under the backup id the same key derives.
//
//   GET    /v1/me/backups                               the account's backups and its limits
//   GET    /v1/me/backups/{id}                          one backup's generations and chunks
//   PUT    /v1/me/backups/{id}/{generation}/{index}     a chunk (application/octet-stream), streamed
//                                                      to disk; 413 over the chunk limit, 507 over
//                                                      the account's quota; a rewrite replaces it
//   GET    /v1/me/backups/{id}/{generation}/{index}     the chunk's bytes as uploaded
//   DELETE /v1/me/backups/{id}/{generation}             a whole generation
//   DELETE /v1/me/backups/{id}                          the whole backup
//
// A backup belongs to the account that wrote it: another account's requests find nothing (404,
// the answer for a backup that does not exist), so backup ids cannot be probed. The provider sees
// ciphertext, sizes, times and counts, never the key. Files are named by fresh random hex, never
// by anything in the request, and a chunk is durable (fsync) before its row makes it exist.
//
// On PostgreSQL (several nodes, no shared folder) a chunk's bytes are rows of backup_chunk_contents
// (pg/schema.ts v3) under the same fresh `file` name, in pieces (assets.ts CONTENT_PIECE_BYTES):
// the upload is streamed to DATA/backups/incoming on the receiving node as on SQLite, then copied
// into the database in the transaction that writes (or rewrites) the chunk's row, so the chunk is
// whole or absent on every node; the old pieces of a rewritten chunk go in that transaction, and an
// account's with its rows (ON DELETE CASCADE). Nothing is left on disk to sweep.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  API_PREFIX,
  BACKUP_ID_RE,
  type BackupChunkInfo,
  type BackupLimits,
  type BackupListing,
  type BackupsResponse,
  type DeleteBackupResponse,
} from '../src-shared/provider-api.js';
import type { Accounts, Actor } from './accounts.js';
import { ApiFailure, badRequest } from './errors.js';
import type { Statement } from 'better-sqlite3';
import { copyFileToPieces, pieceCount, writePieces } from './assets.js';
import { sendJson } from './http.js';
import { prepareStaging, stagedPath } from './staging.js';
import type { Store } from './store.js';

/** Default largest chunk: a sealed 8 MiB plaintext (backup-format.ts MAX_CHUNK_PLAINTEXT) with room to spare. */
export const DEFAULT_MAX_BACKUP_CHUNK_BYTES = 9 * 1024 * 1024;
/** Default per-account total of all its backups: 2 GiB. */
export const DEFAULT_BACKUP_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;

export const BACKUPS_PATH = `${API_PREFIX}/me/backups`;
const MAX_U32 = 0xffffffff;
const FILE_RE = /^[0-9a-f]{32}$/;

export interface BackupStorageLimits {
  maxChunkBytes: number;
  quotaBytes: number;
}

export function backupLimits(l: Partial<BackupStorageLimits> = {}): BackupStorageLimits {
  const out = { maxChunkBytes: l.maxChunkBytes ?? DEFAULT_MAX_BACKUP_CHUNK_BYTES, quotaBytes: l.quotaBytes ?? DEFAULT_BACKUP_QUOTA_BYTES };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`backup limit ${k} must be a positive integer, not ${v}`);
  }
  return out;
}

export interface BackupServiceOptions {
  store: Store;
  dataDir: string;
  /** This node's name: on PostgreSQL, nodes sharing a data folder each stage uploads apart (staging.ts). */
  nodeId?: string;
  accounts: Accounts;
  limits?: Partial<BackupStorageLimits>;
  log: (msg: string) => void;
}

interface ChunkRow {
  backup_id: string;
  generation: number;
  idx: number;
  size: number;
  sha256: Buffer;
  file: string;
  updated_at: number;
}

interface Target {
  backupId?: string;
  generation?: number;
  index?: number;
}

const size = (n: number): string =>
  n >= 1024 * 1024 * 1024 ? `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB` : n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${n} bytes`;

function u32(raw: string, what: string): number {
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > MAX_U32) throw badRequest(`the ${what} must be a whole number from 0 to ${MAX_U32}, not ${JSON.stringify(raw.slice(0, 20))}`);
  return Number(raw);
}

/** The path's backup, generation and chunk, checked: only these ever reach SQL, never a file name. */
function parseTarget(pathname: string): Target {
  const rest = pathname.slice(BACKUPS_PATH.length).split('/').slice(1);
  if (rest.length === 1 && rest[0] === '') rest.pop(); // a trailing slash
  if (rest.length > 3) throw new ApiFailure('notFound', `no route for ${pathname}`);
  if (rest.length === 0) return {};
  if (!BACKUP_ID_RE.test(rest[0])) throw badRequest('the backup id must be 32 lowercase hex characters (backup-format.ts backupKeys)');
  return {
    backupId: rest[0],
    generation: rest.length > 1 ? u32(rest[1], 'generation') : undefined,
    index: rest.length > 2 ? u32(rest[2], 'chunk index') : undefined,
  };
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export class BackupService {
  readonly limits: BackupStorageLimits;
  private readonly dir: string;
  private readonly tmpDir: string;
  /** PostgreSQL: contents in backup_chunk_contents rows, not files (see the top of this file). */
  private readonly inDatabase: boolean;
  /** PostgreSQL: the pieces' statements, prepared once (each prepare is a statement on the server). */
  private readonly pieces?: { put: Statement; get: Statement; drop: Statement };

  constructor(private readonly opts: BackupServiceOptions) {
    this.limits = backupLimits(opts.limits);
    this.dir = path.join(opts.dataDir, 'backups');
    this.inDatabase = opts.store.dialect === 'postgres';
    // An upload a crash cut off was never answered: its partial file is nobody's chunk.
    this.tmpDir = prepareStaging(this.dir, this.inDatabase ? opts.nodeId : undefined);
    if (this.inDatabase) {
      const db = opts.store.db;
      this.pieces = {
        put: db.prepare('INSERT INTO backup_chunk_contents (file, seq, data) VALUES (?, ?, ?)'),
        get: db.prepare('SELECT data FROM backup_chunk_contents WHERE file = ? AND seq = ?').pluck(),
        drop: db.prepare('DELETE FROM backup_chunk_contents WHERE file = ?'),
      };
      // No files to sweep: contents come and go with their rows.
      return;
    }
    // Files no row names: a replaced or deleted chunk whose removal a crash interrupted, or a
    // rename whose transaction did not commit.
    const named = new Set((opts.store.db.prepare('SELECT file FROM backup_chunks').all() as { file: string }[]).map((r) => r.file));
    for (const f of fs.readdirSync(this.dir)) {
      if (FILE_RE.test(f) && !named.has(f)) fs.rmSync(path.join(this.dir, f), { force: true });
    }
  }

  static handles(pathname: string): boolean {
    return pathname === BACKUPS_PATH || pathname.startsWith(`${BACKUPS_PATH}/`);
  }

  async handle(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    try {
      await this.dispatch(req, res, u);
    } catch (e) {
      // A refusal before the body was read leaves the rest of it on the wire, where it would be
      // taken for the next request: this connection ends with the answer.
      const hasBody = (req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined;
      if (hasBody && !req.complete && !res.headersSent) res.setHeader('connection', 'close');
      throw e;
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const target = parseTarget(u.pathname);
    const allowed =
      target.backupId === undefined ? ['GET'] : target.generation === undefined ? ['GET', 'DELETE'] : target.index === undefined ? ['DELETE'] : ['GET', 'PUT'];
    if (!allowed.includes(method)) throw new ApiFailure('notAllowed', `method ${method} is not allowed here (allowed: ${allowed.join(', ')})`, { status: 405 });
    if (method === 'PUT') {
      const { created, chunk } = await this.put(req, u.pathname);
      return sendJson(res, created ? 201 : 200, chunk satisfies BackupChunkInfo);
    }
    const actor = this.opts.accounts.authenticate(req.headers.authorization);
    const { backupId, generation, index } = target;
    if (backupId === undefined) return sendJson(res, 200, this.all(actor) satisfies BackupsResponse);
    if (generation === undefined) {
      if (method === 'GET') return sendJson(res, 200, this.listing(actor, backupId) satisfies BackupListing);
      return sendJson(res, 200, this.delete(actor, backupId) satisfies DeleteBackupResponse);
    }
    if (index === undefined) return sendJson(res, 200, this.delete(actor, backupId, generation) satisfies DeleteBackupResponse);
    await this.serve(actor, backupId, generation, index, res);
  }

  // ---- accounting ----

  private usedBy(userId: number): number {
    return (this.opts.store.db.prepare('SELECT COALESCE(SUM(size), 0) AS used FROM backup_chunks WHERE user_id = ?').get(userId) as { used: number }).used;
  }

  private limitsFor(userId: number): BackupLimits {
    return { usedBytes: this.usedBy(userId), quotaBytes: this.limits.quotaBytes, maxChunkBytes: this.limits.maxChunkBytes };
  }

  private chunk(userId: number, backupId: string, generation: number, index: number): ChunkRow | undefined {
    return this.opts.store.db
      .prepare('SELECT * FROM backup_chunks WHERE user_id = ? AND backup_id = ? AND generation = ? AND idx = ?')
      .get(userId, backupId, generation, index) as ChunkRow | undefined;
  }

  private quotaFailure(used: number, incoming: number): ApiFailure {
    return new ApiFailure(
      'quotaExceeded',
      `your backups on this provider take ${size(used)} of your ${size(this.limits.quotaBytes)}; this chunk (${size(incoming)}) does not fit. Delete an older backup generation, or ask your provider's operator for more room`,
    );
  }

  private tooLarge(n: number | string): ApiFailure {
    return new ApiFailure('tooLarge', `the backup chunk is ${typeof n === 'number' ? size(n) : n}; this provider takes chunks of at most ${size(this.limits.maxChunkBytes)}`);
  }

  private notFound(what: string): ApiFailure {
    return new ApiFailure('notFound', `your account has no ${what}`);
  }

  // ---- upload ----

  /**
   * What can be judged from an upload's headers: token, path, type, declared size, quota. Also
   * run on `Expect: 100-continue` (server.ts), so a chunk that would be refused is never sent.
   */
  precheckUpload(req: IncomingMessage, pathname: string): { actor: Actor; backupId: string; generation: number; index: number; size: number } {
    const { backupId, generation, index } = parseTarget(pathname);
    if (backupId === undefined || generation === undefined || index === undefined) throw new ApiFailure('notAllowed', 'a chunk is uploaded to /v1/me/backups/{id}/{generation}/{index}', { status: 405 });
    const actor = this.opts.accounts.authenticate(req.headers.authorization);
    const type = req.headers['content-type'];
    if (type !== undefined && type.split(';')[0].trim().toLowerCase() !== 'application/octet-stream') {
      throw badRequest('a backup chunk is sent as Content-Type: application/octet-stream', 415);
    }
    const declared = req.headers['content-length'];
    if (declared === undefined) throw new ApiFailure('badRequest', 'a chunk upload needs a Content-Length header', { status: 411 });
    if (!/^\d{1,16}$/.test(declared)) throw badRequest('Content-Length must be a number of bytes');
    const n = Number(declared);
    if (n === 0) throw badRequest('the chunk is empty');
    if (n > this.limits.maxChunkBytes) throw this.tooLarge(n);
    const replaced = this.chunk(actor.userId, backupId, generation, index)?.size ?? 0;
    const used = this.usedBy(actor.userId) - replaced;
    if (used + n > this.limits.quotaBytes) throw this.quotaFailure(used, n);
    return { actor, backupId, generation, index, size: n };
  }

  private async put(req: IncomingMessage, pathname: string): Promise<{ created: boolean; chunk: BackupChunkInfo }> {
    const { actor, backupId, generation, index, size: expected } = this.precheckUpload(req, pathname);
    const tooLarge = () => this.tooLarge('larger than its declared size');
    const file = randomBytes(16).toString('hex');
    const tmp = stagedPath(this.tmpDir, file);
    const final = path.join(this.dir, file);
    const hash = createHash('sha256');
    let received = 0;
    let renamed = false;
    let committed = false;
    const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    try {
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const piece of source) {
            received += piece.length;
            if (received > expected) throw tooLarge();
            hash.update(piece);
            yield piece;
          }
        },
        out,
      );
      if (received !== expected) throw badRequest(`the chunk upload ended after ${received} of ${expected} bytes: send it again`);
      // Durable before it exists: a 2xx means the chunk survives a crash. (On PostgreSQL the file is
      // only staging: the COMMIT below is what makes the contents durable.)
      if (!this.inDatabase) fsyncPath(tmp);
      const digest = hash.digest();
      const now = Date.now();
      const store = this.opts.store;
      let previous: ChunkRow | undefined;
      store.tx(() => {
        // Quota again, with the row: two uploads racing must not both squeeze in.
        previous = this.chunk(actor.userId, backupId, generation, index);
        const used = this.usedBy(actor.userId) - (previous?.size ?? 0);
        if (used + expected > this.limits.quotaBytes) throw this.quotaFailure(used, expected);
        // The old contents go before the row stops naming them (their key references it).
        if (this.inDatabase && previous) this.pieces!.drop.run(previous.file);
        if (!this.inDatabase) {
          fs.renameSync(tmp, final);
          renamed = true;
        }
        store.db
          .prepare(
            `INSERT INTO backup_chunks (user_id, backup_id, generation, idx, size, sha256, file, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id, backup_id, generation, idx) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, file = excluded.file, updated_at = excluded.updated_at`,
          )
          .run(actor.userId, backupId, generation, index, expected, digest, file, now);
        if (this.inDatabase) {
          // In the row's transaction: the chunk is whole or absent on every node.
          const put = this.pieces!.put;
          copyFileToPieces(tmp, expected, (seq, piece) => put.run(file, seq, piece));
        }
      });
      committed = true;
      if (this.inDatabase) {
        fs.rmSync(tmp, { force: true });
      } else {
        // The rename itself, made durable: the row now names this file.
        fsyncPath(this.dir);
        if (previous) this.removeFiles([previous.file]);
      }
      return { created: !previous, chunk: { generation, index, size: expected, sha256: digest.toString('hex'), updatedAt: now } };
    } catch (e) {
      out.destroy();
      fs.rmSync(tmp, { force: true });
      if (renamed && !committed) fs.rmSync(final, { force: true });
      if (e instanceof ApiFailure) throw e;
      if (committed) throw e;
      throw badRequest(`the chunk upload was interrupted (${(e as Error).message}): send it again`);
    }
  }

  // ---- reading ----

  private serve(actor: Actor, backupId: string, generation: number, index: number, res: ServerResponse, retried = false): void | Promise<void> {
    const row = this.chunk(actor.userId, backupId, generation, index);
    if (!row) throw this.notFound(`chunk ${index} of generation ${generation} of backup ${backupId}`);
    if (this.inDatabase) {
      const get = this.pieces!.get;
      const first = get.get(row.file, 0) as Buffer | undefined;
      // A rewrite of this chunk may have replaced its contents between the row and the piece.
      if (!first) {
        if (retried) throw new ApiFailure('internal', 'the chunk could not be read');
        return this.serve(actor, backupId, generation, index, res, true);
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(row.size),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      // A rewrite during the rest cuts the body short (never mixes two versions: pieces are named
      // by the write's fresh file), which the client's length and digest checks catch.
      return writePieces(res, pieceCount(row.size), (seq) => (seq === 0 ? first : (get.get(row.file, seq) as Buffer | undefined)), (m) =>
        this.opts.log(`backup chunk ${row.file}: ${m}`),
      );
    }
    const stream = fs.createReadStream(path.join(this.dir, row.file));
    stream.once('open', () => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(row.size),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      stream.pipe(res);
    });
    stream.once('error', (e) => {
      // A rewrite of this chunk may have replaced the file between the row and the open.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !retried && !res.headersSent) {
        try {
          this.serve(actor, backupId, generation, index, res, true);
        } catch (err) {
          sendJson(res, (err as ApiFailure).status ?? 500, err instanceof ApiFailure ? err.toBody() : new ApiFailure('internal', 'internal server error').toBody());
        }
        return;
      }
      this.opts.log(`backup chunk file ${row.file}: ${e.message}`);
      if (!res.headersSent) sendJson(res, 500, new ApiFailure('internal', 'the chunk could not be read').toBody());
      else res.destroy();
    });
  }

  private rows(userId: number, backupId: string): ChunkRow[] {
    return this.opts.store.db
      .prepare('SELECT * FROM backup_chunks WHERE user_id = ? AND backup_id = ? ORDER BY generation, idx')
      .all(userId, backupId) as ChunkRow[];
  }

  private listing(actor: Actor, backupId: string): BackupListing {
    const rows = this.rows(actor.userId, backupId);
    if (rows.length === 0) throw this.notFound(`backup ${backupId}`);
    const generations = new Map<number, BackupListing['generations'][number]>();
    for (const r of rows) {
      let g = generations.get(r.generation);
      if (!g) generations.set(r.generation, (g = { generation: r.generation, chunks: [], bytes: 0 }));
      g.chunks.push({ generation: r.generation, index: r.idx, size: r.size, sha256: r.sha256.toString('hex'), updatedAt: r.updated_at });
      g.bytes += r.size;
    }
    return { backupId, generations: [...generations.values()], totalBytes: rows.reduce((n, r) => n + r.size, 0), limits: this.limitsFor(actor.userId) };
  }

  private all(actor: Actor): BackupsResponse {
    const rows = this.opts.store.db
      .prepare(
        `SELECT backup_id, group_concat(DISTINCT generation) AS gens, SUM(size) AS bytes, MAX(updated_at) AS updated
           FROM backup_chunks WHERE user_id = ? GROUP BY backup_id ORDER BY backup_id`,
      )
      .all(actor.userId) as { backup_id: string; gens: string; bytes: number; updated: number }[];
    return {
      backups: rows.map((r) => ({
        backupId: r.backup_id,
        generations: r.gens
          .split(',')
          .map(Number)
          .sort((a, b) => a - b),
        bytes: r.bytes,
        updatedAt: r.updated,
      })),
      limits: this.limitsFor(actor.userId),
    };
  }

  // ---- deleting ----

  private delete(actor: Actor, backupId: string, generation?: number): DeleteBackupResponse {
    const store = this.opts.store;
    const gone = store.tx(() => {
      const rows = this.rows(actor.userId, backupId).filter((r) => generation === undefined || r.generation === generation);
      if (rows.length === 0) throw this.notFound(generation === undefined ? `backup ${backupId}` : `generation ${generation} of backup ${backupId}`);
      if (generation === undefined) store.db.prepare('DELETE FROM backup_chunks WHERE user_id = ? AND backup_id = ?').run(actor.userId, backupId);
      else store.db.prepare('DELETE FROM backup_chunks WHERE user_id = ? AND backup_id = ? AND generation = ?').run(actor.userId, backupId, generation);
      return rows;
    });
    this.removeFiles(gone.map((r) => r.file));
    return { deleted: { chunks: gone.length, bytes: gone.reduce((n, r) => n + r.size, 0) } };
  }

  /** The files of an account's chunks (read before the account is deleted; its rows go with it). */
  filesOfAccount(userId: number): string[] {
    // PostgreSQL: the contents are rows that go with the account's (ON DELETE CASCADE).
    if (this.inDatabase) return [];
    return (this.opts.store.db.prepare('SELECT file FROM backup_chunks WHERE user_id = ?').all(userId) as { file: string }[]).map((r) => r.file);
  }

  /** Removes files no row names any more (a failure leaves them to the next start-up's sweep). */
  removeFiles(files: string[]): void {
    if (this.inDatabase) return; // contents went with their rows
    for (const f of files) {
      if (!FILE_RE.test(f)) continue;
      try {
        fs.rmSync(path.join(this.dir, f), { force: true });
      } catch (e) {
        this.opts.log(`backup file ${f} not removed: ${(e as Error).message}`);
      }
    }
  }
}
