// Encrypted backup storage against real provider processes (HTTPS, their own SQLite files and data
// dirs): chunks sealed with src-shared/backup-format.ts go up, are listed and come back byte for
// byte, are replaced and deleted by generation; another account finds nothing (404); the chunk
// limit and the quota refuse with 413 and 507 and store nothing; bad paths store nothing; kill -9
// during an upload leaves the old chunk or none, never a torn one; and the provider's files and
// log never hold the plaintext.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { bytesEqual, utf8 } from '../../src-shared/bytes.js';
import { backupKeys, chunkHash, generateRecoveryKey, MANIFEST_INDEX, openChunk, sealChunk, type BackupKeys } from '../../src-shared/backup-format.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { storedAssets, storedBackupChunks } from '../helpers/provider-files.js';
import { providerStorageParts, withProviderDb } from '../helpers/provider-db.js';
import { startProviderProcess, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

const PASSWORD = 'correct horse battery staple';
const MAX_CHUNK = 64 * 1024;
const QUOTA = 200_000;
const LIMIT_ARGS = ['--max-backup-chunk-bytes', String(MAX_CHUNK), '--backup-quota-bytes', String(QUOTA)];

let prov: ProviderProcess;
const clients: ProviderClient[] = [];
const dirs: string[] = [];

before(async () => {
  prov = await startProviderProcess({ domain: 'a.example', args: LIMIT_ARGS });
  dirs.push(prov.dataDir);
});
after(async () => {
  for (const c of clients) c.close();
  await prov?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const clientOf = (p: ProviderProcess, token?: string): ProviderClient => {
  const c = new ProviderClient({ baseUrl: p.url, caPem: p.caPem, token });
  clients.push(c);
  return c;
};

let n = 0;
async function account(p: ProviderProcess, base: string): Promise<ProviderClient> {
  const c = clientOf(p);
  await c.register({ handle: `${base}${process.pid % 1000}x${++n}`, password: PASSWORD, deviceName: 'Laptop' });
  return c;
}

async function rejects(p: Promise<unknown>, status: number, code: string, message?: RegExp): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected ProviderError, got ${e}`);
    assert.equal(e.code, code, `code (message: ${e.message})`);
    assert.equal(e.status, status, `status (message: ${e.message})`);
    if (message) assert.match(e.message, message);
    return e.message;
  }
  assert.fail(`expected ${status} ${code}, but the call succeeded`);
}

/** The stored chunks' names: files in DATA/backups on SQLite, the pieces' names on PostgreSQL. */
const chunkFiles = (p: ProviderProcess): string[] => [...storedBackupChunks(p.dataDir).keys()].sort();
/** Uploads still arriving (or cut off): staged in the receiving node's data folder on both engines. */
/** The staged upload files, as paths under backups/incoming (on PostgreSQL in the node's own folder, staging.ts). */
const incoming = (p: ProviderProcess): string[] =>
  (fs.readdirSync(path.join(p.dataDir, 'backups', 'incoming'), { recursive: true }) as string[]).filter((f) =>
    fs.statSync(path.join(p.dataDir, 'backups', 'incoming', f)).isFile(),
  );
const rows = (p: ProviderProcess) =>
  withProviderDb(p.dataDir, (d) =>
    (d.prepare('SELECT user_id, backup_id, generation, idx, size, sha256, file FROM backup_chunks ORDER BY user_id, backup_id, generation, idx').all() as Record<string, unknown>[]).map(
      ({ sha256, ...r }): Record<string, unknown> => ({ ...r, sha: (sha256 as Buffer).toString('hex') }),
    ),
  );

/** Everything the provider keeps (files of its data folder; on PostgreSQL every row's values too). */
const allFiles = (dir: string): { file: string; bytes: Buffer }[] => providerStorageParts(dir).map((f) => ({ file: f.where, bytes: f.bytes }));

/** A raw request: status and body as the provider sent them. */
function raw(p: ProviderProcess, method: string, urlPath: string, token: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const length: Record<string, string> = body && !headers['transfer-encoding'] ? { 'content-length': String(body.length) } : {};
    const req = https.request(new URL(p.url + urlPath), { method, ca: p.caPem, headers: { authorization: `Bearer ${token}`, ...length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const seal = (keys: BackupKeys, generation: number, index: number, text: string) => sealChunk(keys, { generation, index }, utf8(text));

test('upload, list, read back byte for byte, replace, delete a generation; the plaintext is nowhere', async () => {
  const alice = await account(prov, 'alice');
  const keys = backupKeys(generateRecoveryKey());
  const id = keys.backupId;
  const marker = `MARKER-${randomBytes(8).toString('hex')}`;
  const history = `history with ${marker} in it `.repeat(200);
  const g1 = [seal(keys, 1, 0, history), seal(keys, 1, 1, `more ${marker}`), seal(keys, 1, MANIFEST_INDEX, `manifest ${marker}`)];
  const indexes = [0, 1, MANIFEST_INDEX];
  for (const [i, sealed] of g1.entries()) {
    const info = await alice.putBackupChunk(id, 1, indexes[i], sealed);
    assert.deepEqual({ ...info, updatedAt: 0 }, { generation: 1, index: indexes[i], size: sealed.length, sha256: chunkHash(sealed), updatedAt: 0 });
  }
  const listing = await alice.listBackup(id);
  assert.equal(listing.backupId, id);
  assert.deepEqual(
    listing.generations.map((g) => [g.generation, g.chunks.map((c) => [c.index, c.size, c.sha256]), g.bytes]),
    [[1, g1.map((s, i) => [indexes[i], s.length, chunkHash(s)]), g1.reduce((a, s) => a + s.length, 0)]],
  );
  assert.equal(listing.totalBytes, g1.reduce((a, s) => a + s.length, 0));
  assert.deepEqual(listing.limits, { usedBytes: listing.totalBytes, quotaBytes: QUOTA, maxChunkBytes: MAX_CHUNK });
  for (const [i, sealed] of g1.entries()) {
    const back = await alice.getBackupChunk(id, 1, indexes[i]);
    assert.ok(bytesEqual(back, sealed), `chunk ${indexes[i]} comes back byte for byte`);
  }
  assert.equal(new TextDecoder().decode(openChunk(keys, { generation: 1, index: 0 }, await alice.getBackupChunk(id, 1, 0))), history);

  // Replacing a chunk: the new bytes, one stored object per chunk (the old one is gone).
  const replacement = seal(keys, 1, 1, `rewritten ${marker}`);
  const put = await raw(prov, 'PUT', `/v1/me/backups/${id}/1/1`, alice.token!, Buffer.from(replacement), { 'content-type': 'application/octet-stream' });
  assert.equal(put.status, 200, 'a rewrite answers 200, a new chunk 201');
  assert.ok(bytesEqual(await alice.getBackupChunk(id, 1, 1), replacement));
  assert.equal(chunkFiles(prov).length, rows(prov).length);

  // A second generation, then the first goes.
  const g2 = [seal(keys, 2, 0, `second ${marker}`), seal(keys, 2, MANIFEST_INDEX, `manifest 2 ${marker}`)];
  await alice.putBackupChunk(id, 2, 0, g2[0]);
  await alice.putBackupChunk(id, 2, MANIFEST_INDEX, g2[1]);
  assert.deepEqual((await alice.listBackups()).backups.map((b) => [b.backupId, b.generations]), [[id, [1, 2]]]);
  const gone = await alice.deleteBackupGeneration(id, 1);
  assert.deepEqual(gone.deleted, { chunks: 3, bytes: g1[0].length + replacement.length + g1[2].length });
  assert.deepEqual((await alice.listBackup(id)).generations.map((g) => g.generation), [2]);
  await rejects(alice.getBackupChunk(id, 1, 0), 404, 'notFound');
  await rejects(alice.deleteBackupGeneration(id, 1), 404, 'notFound', /generation 1/);
  assert.equal(chunkFiles(prov).length, rows(prov).length, 'the deleted chunks took their files with them');

  // The provider's side: the sealed bytes are stored as sent; the marker is in no file and no log.
  const files = allFiles(prov.dataDir);
  for (const s of g2) assert.ok(files.some((f) => f.bytes.equals(Buffer.from(s))), 'a file holds exactly the sealed chunk');
  for (const f of files) assert.equal(f.bytes.includes(marker), false, `${f.file} holds the plaintext marker`);
  assert.equal(prov.output().includes(marker), false, 'the log holds the plaintext marker');
  assert.equal(prov.output().includes(id), false, 'the log does not name the backup');

  await alice.deleteBackup(id);
  await rejects(alice.listBackup(id), 404, 'notFound');
  assert.deepEqual((await alice.listBackups()).backups, []);
});

test("another account finds nothing of a backup (404, as for one that does not exist), and its own is apart", async () => {
  const alice = await account(prov, 'ann');
  const bob = await account(prov, 'bob');
  const id = backupKeys(generateRecoveryKey()).backupId;
  const never = backupKeys(generateRecoveryKey()).backupId;
  const sealed = randomBytes(1000);
  await alice.putBackupChunk(id, 7, 0, sealed);
  const before = rows(prov);
  const probe = await rejects(bob.listBackup(id), 404, 'notFound');
  const absent = await rejects(bob.listBackup(never), 404, 'notFound');
  assert.equal(probe.replace(id, 'X'), absent.replace(never, 'X'), 'the same answer as for a backup nobody has');
  await rejects(bob.getBackupChunk(id, 7, 0), 404, 'notFound');
  await rejects(bob.deleteBackupGeneration(id, 7), 404, 'notFound');
  await rejects(bob.deleteBackup(id), 404, 'notFound');
  assert.deepEqual((await bob.listBackups()).backups, []);
  assert.deepEqual(rows(prov), before, 'nothing changed');
  // The same id under bob's account is bob's alone.
  const his = randomBytes(500);
  await bob.putBackupChunk(id, 7, 0, his);
  assert.ok(bytesEqual(await alice.getBackupChunk(id, 7, 0), sealed));
  assert.ok(bytesEqual(await bob.getBackupChunk(id, 7, 0), his));
  assert.equal((await alice.listBackup(id)).totalBytes, 1000);
  // Without a token: 401, before anything else.
  const anon = await raw(prov, 'GET', `/v1/me/backups/${id}`, 'A'.repeat(43));
  assert.equal(anon.status, 401);
  await alice.deleteBackup(id);
  await bob.deleteBackup(id);
});

test('chunk limit (413), quota (507) and bad paths or bodies are refused with clear errors and store nothing', async () => {
  const alice = await account(prov, 'cleo');
  const id = backupKeys(generateRecoveryKey()).backupId;
  await alice.putBackupChunk(id, 1, 0, randomBytes(MAX_CHUNK)); // exactly the limit is fine
  const before = rows(prov);
  const filesBefore = chunkFiles(prov);
  await rejects(alice.putBackupChunk(id, 1, 1, randomBytes(MAX_CHUNK + 1)), 413, 'tooLarge', /at most 65536 bytes/);
  // Fill up to just under the quota, then one chunk too many.
  await alice.putBackupChunk(id, 1, 1, randomBytes(MAX_CHUNK));
  await alice.putBackupChunk(id, 1, 2, randomBytes(MAX_CHUNK));
  const used = (await alice.listBackup(id)).totalBytes;
  assert.equal(used, 3 * MAX_CHUNK);
  const over = QUOTA - used + 1;
  await rejects(alice.putBackupChunk(id, 1, 3, randomBytes(over)), 507, 'quotaExceeded', /does not fit/);
  // A replacement counts only what it adds: rewriting a full chunk at the quota's edge still fits.
  await alice.putBackupChunk(id, 1, 3, randomBytes(QUOTA - used));
  await alice.putBackupChunk(id, 1, 0, randomBytes(MAX_CHUNK));
  await rejects(alice.putBackupChunk(id, 1, 0, randomBytes(MAX_CHUNK + 1)), 413, 'tooLarge');
  assert.equal((await alice.listBackup(id)).totalBytes, QUOTA);
  assert.equal(chunkFiles(prov).length, before.length + 3);
  assert.deepEqual(incoming(prov), [], 'no refused upload left a partial file');
  await alice.deleteBackupGeneration(id, 1);
  assert.deepEqual(chunkFiles(prov), filesBefore.filter((f) => !before.some((r) => r.file === f && r.backup_id === id)));

  const snapshot = rows(prov);
  const token = alice.token!;
  const bad: [string, string, number, RegExp][] = [
    ['PUT', `/v1/me/backups/${id.toUpperCase()}/1/0`, 400, /32 lowercase hex/],
    ['PUT', `/v1/me/backups/${id.slice(1)}/1/0`, 400, /32 lowercase hex/],
    ['PUT', `/v1/me/backups/..%2F..%2Fprovider.sqlite/1/0`, 400, /32 lowercase hex/],
    ['PUT', `/v1/me/backups/${id}/-1/0`, 400, /generation/],
    ['PUT', `/v1/me/backups/${id}/4294967296/0`, 400, /generation/],
    ['PUT', `/v1/me/backups/${id}/1/1.5`, 400, /chunk index/],
    ['PUT', `/v1/me/backups/${id}/1/0/extra`, 404, /no route/],
    ['POST', `/v1/me/backups/${id}/1/0`, 405, /allowed: GET, PUT/],
    ['GET', `/v1/me/backups/${id}/1`, 405, /allowed: DELETE/],
  ];
  for (const [method, p, status, message] of bad) {
    const r = await raw(prov, method, p, token, Buffer.from('abc'), { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, status, `${method} ${p}: ${r.body}`);
    assert.match((JSON.parse(r.body) as { error: { message: string } }).error.message, message);
  }
  const wrongType = await raw(prov, 'PUT', `/v1/me/backups/${id}/1/0`, token, Buffer.from('abc'), { 'content-type': 'text/plain' });
  assert.equal(wrongType.status, 415);
  const empty = await raw(prov, 'PUT', `/v1/me/backups/${id}/1/0`, token, Buffer.alloc(0), { 'content-type': 'application/octet-stream', 'content-length': '0' });
  assert.equal(empty.status, 400);
  assert.match(empty.body, /empty/);
  const chunked = await raw(prov, 'PUT', `/v1/me/backups/${id}/1/0`, token, Buffer.from('abc'), { 'transfer-encoding': 'chunked' });
  assert.equal(chunked.status, 411);
  assert.deepEqual(rows(prov), snapshot, 'no bad request stored anything');
  assert.deepEqual(incoming(prov), []);
});

test('deleting the account deletes its backups and the attachments it sent, files included', async () => {
  const carol = await account(prov, 'cora');
  const dora = await account(prov, 'dora');
  const id = backupKeys(generateRecoveryKey()).backupId;
  const before = chunkFiles(prov);
  await carol.putBackupChunk(id, 1, 0, randomBytes(2000));
  await carol.putBackupChunk(id, 1, 1, randomBytes(2000));
  assert.equal(chunkFiles(prov).length, before.length + 2);
  // Two attachments of carol's, one of dora's (POST /v1/assets as the app uploads them).
  const upload = async (c: ProviderClient, bytes: Buffer) => {
    const r = await raw(prov, 'POST', '/v1/assets', c.token!, bytes, { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 201, r.body);
    return (JSON.parse(r.body) as { url: string }).url.split('/').pop()!;
  };
  const carols = [await upload(carol, randomBytes(3000)), await upload(carol, randomBytes(100))];
  const doras = await upload(dora, randomBytes(500));
  assert.ok([...carols, doras].every((a) => storedAssets(prov.dataDir).has(a)));
  await carol.deleteAccount();
  assert.deepEqual(chunkFiles(prov), before);
  assert.equal(rows(prov).filter((r) => r.backup_id === id).length, 0);
  const stored = storedAssets(prov.dataDir);
  assert.deepEqual(carols.filter((a) => stored.has(a)), [], "carol's attachments are gone");
  assert.ok(stored.has(doras), "dora's stays");
  const rowsLeft = withProviderDb(prov.dataDir, (db) => (db.prepare('SELECT id FROM assets').all() as { id: string }[]).map((r) => r.id));
  assert.deepEqual(carols.filter((a) => rowsLeft.includes(a)), [], 'no row names them');
  for (const a of carols) assert.equal((await raw(prov, 'GET', `/assets/${a}`, dora.token!)).status, 404);
  assert.equal((await raw(prov, 'GET', `/assets/${doras}`, dora.token!)).status, 200);
});

test('kill -9 during chunk uploads: after the restart the old chunk is whole and the new one absent, never torn', async () => {
  const own = await startProviderProcess({ domain: 'a.example', args: LIMIT_ARGS });
  dirs.push(own.dataDir);
  let current = own;
  try {
    const alice = await account(own, 'kim');
    const token = alice.token!;
    const keys = backupKeys(generateRecoveryKey());
    const id = keys.backupId;
    const old = sealChunk(keys, { generation: 1, index: 0 }, randomBytes(40_000));
    await alice.putBackupChunk(id, 1, 0, old);

    // Two slow uploads: a rewrite of chunk 0 and a new chunk 1, each cut off half way by kill -9.
    const slow = (index: number, body: Uint8Array) => {
      const req = https.request(new URL(`${own.url}/v1/me/backups/${id}/1/${index}`), {
        method: 'PUT',
        ca: own.caPem,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      });
      req.on('error', () => {}); // the provider dies under it
      req.write(body.subarray(0, body.length / 2));
      return req;
    };
    const rewrite = sealChunk(keys, { generation: 1, index: 0 }, randomBytes(40_000));
    const fresh = sealChunk(keys, { generation: 1, index: 1 }, randomBytes(40_000));
    const r1 = slow(0, rewrite);
    const r2 = slow(1, fresh);
    // Both are on the provider's disk, partly.
    const partial = () => incoming(own).map((f) => fs.statSync(path.join(own.dataDir, 'backups', 'incoming', f)).size);
    await waitFor(() => partial().length === 2 && partial().every((s) => s > 0), 'both partial uploads on disk');
    await own.kill9();
    r1.destroy();
    r2.destroy();

    current = await startProviderProcess({ domain: 'a.example', dataDir: own.dataDir, args: LIMIT_ARGS });
    const again = clientOf(current, token);
    assert.ok(bytesEqual(await again.getBackupChunk(id, 1, 0), old), 'the old chunk, whole');
    assert.deepEqual(openChunk(keys, { generation: 1, index: 0 }, await again.getBackupChunk(id, 1, 0)).length, 40_000);
    await rejects(again.getBackupChunk(id, 1, 1), 404, 'notFound');
    assert.deepEqual((await again.listBackup(id)).generations[0].chunks.map((c) => [c.index, c.size]), [[0, old.length]]);
    assert.deepEqual(incoming(current), [], 'the partial files were cleared at start-up');
    assert.equal(chunkFiles(current).length, 1, 'no stray file');
    // And the upload, sent again, completes.
    await again.putBackupChunk(id, 1, 0, rewrite);
    assert.ok(bytesEqual(await again.getBackupChunk(id, 1, 0), rewrite));
    assert.equal(chunkFiles(current).length, 1);
  } finally {
    await current.stop();
    await own.stop();
  }
});
