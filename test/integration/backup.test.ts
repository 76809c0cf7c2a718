// Encrypted backup and restore, and room export, as a person runs them with `mimi` against a real
// provider process: ann backs up two rooms (edits, a reaction, an attachment, a hostile message);
// the provider's files and log hold none of the texts or names; a second device of ann's restores
// and lists everything, and a wrong key, a damaged chunk, a missing chunk and a manifest from
// another generation are each refused with the profile left as it was. Then kill -9 in the middle
// of a backup and of a restore, and running them again: everything stored once, nothing missing.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { mimi, spawnMimi, type Run } from '../helpers/mimi-cli.js';
import { startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';
import { hideStoredAssets, overwriteBackupChunk, storedBackupChunks } from '../helpers/provider-files.js';
import { onPostgres, openProviderDb, providerStorageParts, withProviderDb } from '../helpers/provider-db.js';
import { backupKeys, decodeRecoveryKey, encodeRecoveryKey, generateRecoveryKey } from '../../src-shared/backup-format.js';
import { fromB64, toHex } from '../../src-shared/bytes.js';

let provider: ProviderProcess;
before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  await provider?.stop();
});

const SMALL_CHUNKS = { MIMI_BACKUP_CHUNK_BYTES: '600' };

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
  return r;
}

/** What a profile holds, counted from its database file (no key needed): rooms, messages, events. */
function counts(profileDir: string): { rooms: number; messages: number; events: number } {
  const db = new Database(path.join(profileDir, 'mimi.db'), { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return { rooms: n('SELECT count(*) AS n FROM rooms'), messages: n('SELECT count(*) AS n FROM messages'), events: n('SELECT count(*) AS n FROM timeline_events') };
  } finally {
    db.close();
  }
}

/** The provider's rows of one backup: generation, index, file, updated_at. */
function providerChunks(backupId: string): { generation: number; idx: number; file: string; updated_at: number }[] {
  return withProviderDb(provider.dataDir, (db) =>
    db.prepare('SELECT generation, idx, file, updated_at FROM backup_chunks WHERE backup_id = ? ORDER BY generation, idx').all(backupId) as { generation: number; idx: number; file: string; updated_at: number }[],
  );
}

/** The stored bytes of backup chunk `file` (a file on SQLite, rows on PostgreSQL). */
function chunkBytes(file: string): Buffer {
  const b = storedBackupChunks(provider.dataDir).get(file);
  assert.ok(b, `chunk ${file} is stored`);
  return b;
}

function recoveryKeyOf(r: Run): string {
  const m = /^ {4}([0-9A-Z]{4}(?: [0-9A-Z]{3,4}){13})$/m.exec(r.stdout);
  assert.ok(m, `a recovery key in:\n${r.stdout}`);
  return m[1];
}

/** `mimi` as a child we can kill -9 once `line` has appeared `times` times on its stderr. */
function killAfter(args: string[], env: Record<string, string>, line: RegExp, times: number): Promise<{ killed: boolean; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawnMimi(args, env);
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    let seen = 0;
    let killed = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      seen = stderr.split('\n').filter((l) => line.test(l)).length;
      if (!killed && seen >= times) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('close', () => resolve({ killed, stderr, stdout }));
  });
}

const TEXTS = ['Quince jam recipe from grandmother', 'The orchard gate code is 4711', 'Pears ripen in late September'];
const HOSTILE = '<img src=x onerror=alert(1)><script>alert(2)</script>';
const ROOMS = ['Orchard Planning Secret', 'Quince Cellar Club', 'Attic Archive'];

test('backup, restore on a second device, refusals that change nothing, and export', async () => {
  const common = ['--provider', provider.url, '--ca', provider.caFile, '--password', 'correct horse'];
  const ann = path.join(tempDir('backup-ann'), 'p');
  const ben = path.join(tempDir('backup-ben'), 'p');
  ok(await mimi(['--profile', ann, 'register', ...common, '--handle', 'ann']), 'register ann');
  ok(await mimi(['--profile', ben, 'register', ...common, '--handle', 'ben']), 'register ben');
  const [orchard, quince] = [ok(await mimi(['--profile', ann, 'create-room', ROOMS[0]]), 'create').stdout.trim(), ok(await mimi(['--profile', ann, 'create-room', ROOMS[1]]), 'create').stdout.trim()];
  ok(await mimi(['--profile', ann, 'add', orchard, 'ben']), 'add ben');
  ok(await mimi(['--profile', ann, 'send', orchard, TEXTS[0]]), 'send');
  ok(await mimi(['--profile', ann, 'send', orchard, 'typo here']), 'send');
  ok(await mimi(['--profile', ann, 'send', quince, TEXTS[1]]), 'send');
  ok(await mimi(['--profile', ann, 'send', quince, HOSTILE]), 'send');
  const photo = path.join(tempDir('backup-file'), 'pear.png');
  fs.writeFileSync(photo, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('pear picture bytes')]));
  ok(await mimi(['--profile', ann, 'send', orchard, '--file', photo, '--type', 'image/png']), 'send file');
  const benTail = ok(await mimi(['--profile', ben, 'tail', orchard, '--count', '3', '--timeout', '30', '--ids']), 'ben tail');
  const [firstId, typoId] = benTail.stdout.trim().split('\n').map((l) => l.split('\t')[0]);
  ok(await mimi(['--profile', ben, 'send', orchard, TEXTS[2]]), 'ben sends');
  ok(await mimi(['--profile', ben, 'react', orchard, firstId, '🍐']), 'ben reacts');
  ok(await mimi(['--profile', ann, 'edit', orchard, typoId, 'fixed text now']), 'ann edits');
  ok(await mimi(['--profile', ann, 'tail', orchard, '--count', '4', '--timeout', '30']), 'ann has ben\'s');
  // A room ann was in and is no longer: her new device cannot join it, so it gets its history only.
  const attic = ok(await mimi(['--profile', ben, 'create-room', ROOMS[2]]), 'ben creates').stdout.trim();
  ok(await mimi(['--profile', ben, 'add', attic, 'ann']), 'ben adds ann');
  ok(await mimi(['--profile', ben, 'send', attic, 'attic whisper']), 'ben sends');
  ok(await mimi(['--profile', ann, 'tail', attic, '--count', '1', '--timeout', '30']), 'ann has it');
  ok(await mimi(['--profile', ben, 'remove', attic, 'ann']), 'ben removes ann');
  ok(await mimi(['--profile', ann, 'rooms']), 'ann takes in the removal');
  {
    const db = new Database(path.join(ann, 'mimi.db'), { readonly: true });
    assert.equal((db.prepare('SELECT left_room FROM rooms WHERE room_uri = ?').get(attic) as { left_room: number }).left_room, 1);
    db.close();
  }
  const annCounts = counts(ann);

  // The first backup: the key, shown once; small chunks so there are several.
  const first = ok(await mimi(['--profile', ann, 'backup', 'create'], SMALL_CHUNKS), 'backup create');
  const key = recoveryKeyOf(first);
  assert.match(first.stdout, /Write it down/);
  assert.match(first.stdout, /backup stored: generation 1 \(written in full\)/);
  const { backupId } = backupKeys(decodeRecoveryKey(key));
  const gen1 = providerChunks(backupId);
  assert.ok(gen1.length >= 4, `several chunks and a manifest: ${gen1.length}`);
  const status = ok(await mimi(['--profile', ann, 'backup', 'status']), 'status');
  assert.match(status.stdout, /^generation\t1$/m);
  assert.match(status.stdout, new RegExp(`^messages\\t${annCounts.messages}$`, 'm'));
  assert.match(status.stdout, /^last backup\t\d{4}-\d\d-\d\dT/m);

  // Incremental: one new message, one new chunk, the old ones untouched; the key is not shown again.
  ok(await mimi(['--profile', ann, 'send', quince, 'one more for the cellar']), 'send');
  const second = ok(await mimi(['--profile', ann, 'backup', 'create'], SMALL_CHUNKS), 'backup create again');
  assert.doesNotMatch(second.stdout, /recovery key/i);
  assert.match(second.stdout, /generation 1, 1 new chunk\(s\)/);
  const gen1b = providerChunks(backupId);
  assert.equal(gen1b.length, gen1.length + 1);
  for (const c of gen1.filter((c) => c.idx !== 0xffffffff)) assert.deepEqual(gen1b.find((d) => d.idx === c.idx), c, `chunk ${c.idx} was not uploaded again`);

  // From the provider's side: none of the texts, room names or the key anywhere in its files or log.
  const secrets = [...TEXTS, ...ROOMS, 'attic whisper', 'one more for the cellar', 'fixed text now', 'pear picture bytes', key, key.replace(/ /g, ''), toHex(decodeRecoveryKey(key)), toHex(backupKeys(decodeRecoveryKey(key)).encryption)];
  const files = providerStorageParts(provider.dataDir).map((f) => f.bytes);
  const backupFiles = [...storedBackupChunks(provider.dataDir).values()];
  for (const s of secrets) {
    const needle = Buffer.from(s);
    assert.ok(!provider.output().includes(s), `"${s}" is not in the provider's log`);
    assert.ok(!backupFiles.some((f) => f.includes(needle)), `"${s}" is in no backup file`);
    // Room names are in the room state the hub keeps (GroupInfo, to check commits against the
    // room's policy), so they are checked in the backup files only; texts and keys everywhere.
    if (!ROOMS.includes(s)) assert.ok(!files.some((f) => f.includes(needle)), `"${s}" is in no file of the provider's data dir`);
  }

  // A second device of ann's.
  const ann2 = path.join(tempDir('backup-ann2'), 'p');
  ok(await mimi(['--profile', ann2, 'login', ...common, '--handle', 'ann', '--device-name', 'laptop']), 'login');
  ok(await mimi(['--profile', ann2, 'rooms']), 'rooms (joins the account\'s rooms)');
  const fresh = counts(ann2);
  const unchanged = () => assert.deepEqual(counts(ann2), fresh, 'the profile is as it was');

  // A wrong key (a valid one, just not this backup's), a typo, a missing key.
  const wrong = await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', encodeRecoveryKey(generateRecoveryKey())]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /Wrong recovery key/);
  const typo = await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key.replace(/^(.)/, (c) => (c === 'A' ? 'B' : 'A'))]);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /typo/);
  assert.equal((await mimi(['--profile', ann2, 'backup', 'restore'])).code, 2);
  unchanged();

  // A chunk altered at the provider (one byte flipped in its file).
  const chunks = providerChunks(backupId).filter((c) => c.idx !== 0xffffffff);
  const victim = chunks[1].file;
  const original = chunkBytes(victim);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 5] ^= 0x40;
  overwriteBackupChunk(provider.dataDir, victim, flipped);
  const altered = await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key]);
  assert.equal(altered.code, 1);
  assert.match(altered.stderr, /part 1 is not what was stored.*Nothing was changed/);
  overwriteBackupChunk(provider.dataDir, victim, original);
  unchanged();

  // A chunk cut short, and the provider's row made to match it (as if it had been stored so).
  {
    const short = original.subarray(0, original.length - 10);
    const db = openProviderDb(provider.dataDir, { readonly: false });
    const row = db.prepare('SELECT size, sha256 FROM backup_chunks WHERE file = ?').get(chunks[1].file) as { size: number; sha256: Buffer };
    overwriteBackupChunk(provider.dataDir, victim, short);
    db.prepare('UPDATE backup_chunks SET size = ?, sha256 = ? WHERE file = ?').run(short.length, createHash('sha256').update(short).digest(), chunks[1].file);
    const cut = await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key]);
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /part 1 is not what was stored/);
    overwriteBackupChunk(provider.dataDir, victim, original);
    db.prepare('UPDATE backup_chunks SET size = ?, sha256 = ? WHERE file = ?').run(row.size, row.sha256, chunks[1].file);
    db.close();
    unchanged();
  }

  // A chunk missing (its row gone, as after a provider lost it).
  {
    const db = openProviderDb(provider.dataDir, { readonly: false });
    const row = db.prepare('SELECT * FROM backup_chunks WHERE backup_id = ? AND idx = ?').get(backupId, chunks[2].idx) as Record<string, unknown>;
    // On PostgreSQL the contents go with the row (ON DELETE CASCADE): kept here to put back.
    const rowBytes = chunkBytes(row.file as string);
    db.prepare('DELETE FROM backup_chunks WHERE backup_id = ? AND idx = ?').run(backupId, chunks[2].idx);
    const missing = await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /part 2 is missing/);
    unchanged();
    // A manifest from another generation: generation 1's copied into a generation 2 of its own.
    const manifest = db.prepare('SELECT * FROM backup_chunks WHERE backup_id = ? AND idx = ?').get(backupId, 0xffffffff) as Record<string, unknown>;
    const copy = 'f'.repeat(32);
    db.prepare('INSERT INTO backup_chunks (user_id, backup_id, generation, idx, size, sha256, file, updated_at) VALUES (?, ?, 2, ?, ?, ?, ?, ?)').run(manifest.user_id, backupId, 0xffffffff, manifest.size, manifest.sha256, copy, Date.now());
    overwriteBackupChunk(provider.dataDir, copy, chunkBytes(manifest.file as string));
    const spliced = await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key]);
    assert.equal(spliced.code, 1);
    assert.match(spliced.stderr, /list of parts does not open/);
    unchanged();
    db.prepare('DELETE FROM backup_chunks WHERE backup_id = ? AND generation = 2').run(backupId);
    if (!onPostgres()) fs.rmSync(path.join(provider.dataDir, 'backups', copy));
    db.prepare('INSERT INTO backup_chunks (user_id, backup_id, generation, idx, size, sha256, file, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
      row.user_id,
      row.backup_id,
      row.generation,
      row.idx,
      row.size,
      row.sha256,
      row.file,
      row.updated_at,
    );
    overwriteBackupChunk(provider.dataDir, row.file as string, rowBytes);
    db.close();
  }

  // The real restore: every room and message; run again, nothing twice.
  const restored = ok(await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key]), 'restore');
  assert.match(restored.stdout, /restored from generation 1: 3 room\(s\)/);
  assert.match(restored.stdout, new RegExp(`1 room\\(s\\) are history only on this device until it is added to them[^\\n]*\\n  ${attic}\\t${ROOMS[2]}\\n`));
  const after1 = counts(ann2);
  assert.equal(after1.rooms, annCounts.rooms);
  assert.equal(after1.messages, annCounts.messages + 1, 'every message of ann\'s device (and the one sent since)');
  const again = ok(await mimi(['--profile', ann2, 'backup', 'restore', '--recovery-key', key]), 'restore again');
  assert.match(again.stdout, / 0 new item\(s\), \d+ already here/);
  assert.deepEqual(counts(ann2), after1);
  const rooms = ok(await mimi(['--profile', ann2, 'rooms']), 'rooms').stdout;
  for (const name of ROOMS) assert.ok(rooms.includes(name), `${name} listed:\n${rooms}`);
  const tail = ok(await mimi(['--profile', ann2, 'tail', orchard, '--count', '4', '--timeout', '10']), 'tail restored').stdout;
  assert.match(tail, new RegExp(`${TEXTS[0]}\\treactions 🍐 1`));
  assert.match(tail, /fixed text now\tedited/);
  assert.match(tail, new RegExp(TEXTS[2]));
  assert.match(tail, /pear\.png/);
  assert.match(ok(await mimi(['--profile', ann2, 'tail', attic, '--count', '1', '--timeout', '10']), 'tail attic').stdout, /ben@a\.example\tattic whisper/);
  const refused = await mimi(['--profile', ann2, 'send', attic, 'hello?']);
  assert.equal(refused.code, 1, 'nothing is sent into a room known only from the backup');

  // Export on the first device: JSON lists the messages, HTML escapes the hostile one, the file is there.
  const out = path.join(tempDir('backup-export'), 'quince-and-orchard');
  const exported = ok(await mimi(['--profile', ann, 'export', quince, out]), 'export quince');
  assert.match(exported.stdout, /messages\.json/);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'messages.json'), 'utf8')) as { room: { name: string }; messages: { text: string; event?: string }[] };
  assert.equal(json.room.name, ROOMS[1]);
  assert.deepEqual(json.messages.filter((m) => m.event === undefined).map((m) => m.text), [TEXTS[1], HOSTILE, 'one more for the cellar']);
  const html = fs.readFileSync(path.join(out, 'messages.html'), 'utf8');
  assert.ok(!html.includes('<script>alert'), 'no script from a message');
  assert.ok(!html.includes('<img src=x'), 'no element from a message');
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  const orchardOut = path.join(tempDir('backup-export'), 'orchard');
  ok(await mimi(['--profile', ann, 'export', orchard, orchardOut]), 'export orchard');
  const files2 = fs.readdirSync(path.join(orchardOut, 'attachments'));
  assert.equal(files2.length, 1);
  assert.match(files2[0], /pear\.png$/);
  assert.deepEqual(fs.readFileSync(path.join(orchardOut, 'attachments', files2[0])), fs.readFileSync(photo));
  const orchardJson = JSON.parse(fs.readFileSync(path.join(orchardOut, 'messages.json'), 'utf8')) as { messages: { attachment?: { file?: string }; edited?: boolean; reactions?: unknown[] }[] };
  assert.equal(orchardJson.messages.find((m) => m.attachment)?.attachment?.file, `attachments/${files2[0]}`);
  assert.ok(orchardJson.messages.some((m) => m.edited));
  assert.ok(orchardJson.messages.some((m) => m.reactions?.length));
  // Never over anything: the same folder again is refused.
  const twice = await mimi(['--profile', ann, 'export', orchard, orchardOut]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /not empty/);
  // An attachment the provider no longer has: listed as not downloaded, the rest exported.
  const putBack = hideStoredAssets(provider.dataDir, path.join(tempDir('backup-assets'), 'assets'));
  try {
    const noFile = path.join(tempDir('backup-export'), 'orchard-without-file');
    const partial = ok(await mimi(['--profile', ann, 'export', orchard, noFile]), 'export without the file');
    assert.match(partial.stdout, /0 attachment\(s\) saved/);
    assert.match(partial.stderr, /attachment pear\.png \(message [0-9a-f]{12}…\) not downloaded/);
    assert.ok(!fs.existsSync(path.join(noFile, 'attachments')));
    const j = JSON.parse(fs.readFileSync(path.join(noFile, 'messages.json'), 'utf8')) as { messages: { attachment?: { filename: string; file?: string } }[] };
    assert.deepEqual(j.messages.find((m) => m.attachment)?.attachment, { filename: 'pear.png', contentType: 'image/png', size: fs.statSync(photo).size });
    assert.match(fs.readFileSync(path.join(noFile, 'messages.html'), 'utf8'), /pear\.png \(not downloaded\)/);
  } finally {
    putBack();
  }
});

test('kill -9 in the middle of a backup and of a restore: run again, all stored once, nothing missing', async () => {
  const common = ['--provider', provider.url, '--ca', provider.caFile, '--password', 'correct horse'];
  const cal = path.join(tempDir('backup-cal'), 'p');
  ok(await mimi(['--profile', cal, 'register', ...common, '--handle', 'cal']), 'register cal');
  const room = ok(await mimi(['--profile', cal, 'create-room', 'Notes']), 'create').stdout.trim();
  for (let i = 0; i < 12; i++) ok(await mimi(['--profile', cal, 'send', room, `note number ${i} ${'x'.repeat(200)}`]), 'send');
  const tiny = { MIMI_BACKUP_CHUNK_BYTES: '256' }; // one message a chunk

  // Killed after its third chunk is stored (the key was printed first, before any chunk).
  const killed = await killAfter(['--profile', cal, 'backup', 'create'], tiny, /stored chunk \d+ of generation 1/, 3);
  assert.ok(killed.killed, killed.stderr);
  const resumed = ok(await mimi(['--profile', cal, 'backup', 'create'], tiny), 'resume');
  const before = /(\d+) chunk\(s\) of generation 1 already stored by an earlier run/.exec(resumed.stderr);
  assert.ok(before && Number(before[1]) >= 3, resumed.stderr);
  assert.doesNotMatch(resumed.stderr, /stored chunk [012] of/, 'the chunks stored before are not uploaded again');
  // The key was shown by the killed run already: not again.
  assert.doesNotMatch(resumed.stdout, /recovery key/i);
  const key = recoveryKeyOf({ code: 0, stdout: killed.stdout, stderr: '', raw: Buffer.alloc(0) });
  const keyFile = JSON.parse(fs.readFileSync(path.join(cal, 'secrets.plaintext.json'), 'utf8')) as { entries: Record<string, string> };
  const stored = Object.entries(keyFile.entries).find(([k]) => k.endsWith('backup-recovery-key'));
  assert.ok(stored, 'the recovery key is kept in the profile\'s secret storage');
  assert.equal(encodeRecoveryKey(fromB64(stored[1])), key);
  const { backupId } = backupKeys(decodeRecoveryKey(key));
  const rows = providerChunks(backupId);
  const calCounts = counts(cal);
  assert.equal(rows.filter((r) => r.idx !== 0xffffffff).length, calCounts.messages + calCounts.events, 'one chunk per item, none twice');

  // A second device; its restore killed after the first chunk check, then run to the end.
  const cal2 = path.join(tempDir('backup-cal2'), 'p');
  ok(await mimi(['--profile', cal2, 'login', ...common, '--handle', 'cal']), 'login');
  const cut = await killAfter(['--profile', cal2, 'backup', 'restore', '--recovery-key', key], {}, /checked chunk/, 2);
  assert.ok(cut.killed, cut.stderr);
  ok(await mimi(['--profile', cal2, 'backup', 'restore', '--recovery-key', key]), 'restore after the kill');
  const c2 = counts(cal2);
  assert.equal(c2.messages, calCounts.messages, 'every message once');
  const db = new Database(path.join(cal2, 'mimi.db'), { readonly: true });
  const dupes = db.prepare('SELECT count(*) AS n FROM (SELECT room_uri, message_id FROM messages GROUP BY 1, 2 HAVING count(*) > 1)').get() as { n: number };
  db.close();
  assert.equal(dupes.n, 0);
  const tail = ok(await mimi(['--profile', cal2, 'tail', room, '--count', '12', '--timeout', '10']), 'tail').stdout.trim().split('\n');
  assert.deepEqual(tail.map((l) => /note number (\d+)/.exec(l)?.[1]), Array.from({ length: 12 }, (_, i) => String(i)));
});
