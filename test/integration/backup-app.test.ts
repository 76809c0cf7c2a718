// Backup, restore and export as the app reaches them: the contract's `backup` methods on the real
// AppCore against a real provider process (TLS on loopback, SQLite files in temp dirs). The first
// backup shows its new recovery key and waits until the person confirmed writing it down (nothing
// is uploaded before), with progress events; once confirmed no call returns the key again. A
// fresh device of the same account sees that the provider holds a backup, is refused a wrong key
// with nothing changed, and gets every room and message back with the right one. The provider's
// storage and log never hold a message's text. An export writes messages.json, messages.html into
// a new folder under the exports folder the core was given; an unknown room makes no folder.

process.env.MIMI_BACKUP_CHUNK_BYTES = '1024'; // many small chunks: several progress steps

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CoreError, validateCall, type CoreEvent, type RoomView } from '../../src-shared/contract.js';
import { encodeRecoveryKey, generateRecoveryKey } from '../../src-shared/backup-format.js';
import { createAppCore, type AppCore } from '../../src-main/core/app-core.js';
import { exportFolderName, exportToReveal } from '../../src-main/core/backup-app.js';
import { startProviderProcess, tempDir, waitFor, type ProviderProcess } from '../helpers/provider-process.js';
import { providerStorageParts, withProviderDb } from '../helpers/provider-db.js';

/** Wait until the provider accepted every message sent (the test hook on the core). */
const flushed = (core: AppCore, id: string): Promise<void> => (core as unknown as { profileOf(id: string): { flushOutbox(): Promise<void> } }).profileOf(id).flushOutbox();
const PASSWORD = 'pw-backup-app-secret';
let provider: ProviderProcess;
const cores: AppCore[] = [];
const dirs: string[] = [];

before(async () => {
  provider = await startProviderProcess({ domain: 'a.example' });
});
after(async () => {
  for (const c of cores) await c.close().catch(() => undefined);
  await provider?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function appCore(name: string): Promise<{ core: AppCore; events: CoreEvent[]; exportsDir: string }> {
  const dataDir = tempDir(`backup-app-${name}`);
  dirs.push(dataDir);
  const exportsDir = path.join(dataDir, 'my exports');
  const core = await createAppCore({ dataDir, mode: 'browser', embeddedProvider: false, secretMode: 'plaintext', exportsDir });
  cores.push(core);
  const events: CoreEvent[] = [];
  core.onEvent((e) => events.push(e));
  return { core, events, exportsDir };
}

async function fails(p: Promise<unknown>): Promise<CoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CoreError, `expected a CoreError, got ${e}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

function chunksAtProvider(): number {
  return withProviderDb(provider.dataDir, (db) => (db.prepare('SELECT COUNT(*) AS n FROM backup_chunks').get() as { n: number }).n);
}

/** Everything the provider on `dir` keeps, as bytes (its files; on PostgreSQL every row's values too). */
const allFiles = (dir: string): { file: string; bytes: Buffer }[] => providerStorageParts(dir).map((f) => ({ file: f.where, bytes: f.bytes }));

/** Every message text in every room the core lists, by room name. */
async function history(core: AppCore, accountId: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const r of await core.rooms.list(accountId)) {
    const page = await core.messages.page(accountId, r.roomUri, null, 500);
    out[r.name] = page.filter((m) => !m.event).map((m) => m.text).reverse();
  }
  return out;
}

const SECRET_WORD = 'marmalade-zebra-7731';
let laptop: Awaited<ReturnType<typeof appCore>>;
let aliceId: string;
let garden: RoomView;
let kitchen: RoomView;
let recoveryKey = '';
const sent: Record<string, string[]> = { Garden: [], Kitchen: [] };

test('status, then the first backup: the key waits to be written down, progress, and the key is never given again', async () => {
  laptop = await appCore('laptop');
  const { core, events } = laptop;
  aliceId = (await core.accounts.register({ providerUrl: provider.url, caPem: provider.caPem, handle: 'alice', password: PASSWORD })).id;
  garden = await core.rooms.create(aliceId, 'Garden', null);
  kitchen = await core.rooms.create(aliceId, 'Kitchen', null);
  for (let i = 1; i <= 12; i++) {
    const text = `garden note ${i} ${SECRET_WORD}`;
    await core.messages.send(aliceId, garden.roomUri, text);
    sent.Garden.push(text);
  }
  for (let i = 1; i <= 5; i++) {
    const text = `kitchen note ${i}`;
    await core.messages.send(aliceId, kitchen.roomUri, text);
    sent.Kitchen.push(text);
  }
  await flushed(core, aliceId);

  const before = await core.backup.status(aliceId);
  assert.deepEqual(
    { ...before },
    { lastBackupAt: null, messages: 0, bytes: 0, generation: null, notBackedUp: 17, unfinished: false, hasKey: false, keyPending: false, atProvider: false, running: null },
  );

  events.length = 0;
  const run = core.backup.create(aliceId, {});
  await waitFor(() => events.some((e) => e.type === 'backupKey' && e.accountId === aliceId), 'the backupKey event');
  const keyEvent = events.find((e) => e.type === 'backupKey')!;
  assert.deepEqual(Object.keys(keyEvent).sort(), ['accountId', 'type'], 'the event does not carry the key (events go to every listener)');
  const key = await core.backup.pendingRecoveryKey(aliceId);
  assert.ok(key, 'the new key is there to show');
  assert.match(key, /^([0-9A-Z]{4} ){13}[0-9A-Z]{3,4}$/, 'groups of four');
  assert.equal(await core.backup.pendingRecoveryKey(aliceId), key, 'asked again before the confirmation (a reloaded window): the same key');
  const waiting = await core.backup.status(aliceId);
  assert.equal(waiting.keyPending, true);
  assert.equal(waiting.running, 'create');
  assert.equal(chunksAtProvider(), 0, 'nothing is uploaded before the key is written down');
  assert.equal((await fails(core.backup.create(aliceId, {}))).key, 'backup.errors.busy', 'a second run meanwhile is refused');

  await core.backup.confirmRecoveryKeySaved(aliceId);
  const result = await run;
  recoveryKey = key;
  assert.equal(result.generation, 1);
  assert.equal(result.messages, 17);
  assert.ok(result.chunks >= 3, `several chunks (${result.chunks})`);

  const progress = events.filter((e): e is Extract<CoreEvent, { type: 'backupProgress' }> => e.type === 'backupProgress');
  assert.equal(progress[0].stage, 'key');
  const uploads = progress.filter((p) => p.stage === 'upload');
  assert.equal(uploads.length, result.chunks, 'one progress step per chunk');
  for (let i = 1; i < uploads.length; i++) assert.ok(uploads[i].done > uploads[i - 1].done, 'done grows');
  for (const p of progress) assert.ok(p.done <= p.total && p.operation === 'create', 'done never passes total');
  const last = progress[progress.length - 1];
  assert.equal(last.stage, 'manifest');
  assert.equal(last.done, last.total, 'the bar ends full');

  // Confirmed: gone for good.
  assert.equal(await core.backup.pendingRecoveryKey(aliceId), null);
  assert.equal((await fails(core.backup.confirmRecoveryKeySaved(aliceId))).key, 'backup.errors.noKeyPending');
  const after = await core.backup.status(aliceId);
  assert.equal(after.keyPending, false);
  assert.equal(after.hasKey, true);
  assert.equal(after.atProvider, true);
  assert.equal(after.messages, 17);
  assert.equal(after.notBackedUp, 0);
  assert.equal(after.generation, 1);
  assert.ok(after.lastBackupAt !== null && after.bytes > 0);

  // The next run needs no key and shows none.
  await core.messages.send(aliceId, garden.roomUri, 'garden note 13');
  sent.Garden.push('garden note 13');
  await flushed(core, aliceId);
  assert.equal((await core.backup.status(aliceId)).notBackedUp, 1);
  events.length = 0;
  const second = await core.backup.create(aliceId, {});
  assert.equal(second.messages, 18);
  assert.ok(!events.some((e) => e.type === 'backupKey'), 'no key shown the second time');
  assert.equal(await core.backup.pendingRecoveryKey(aliceId), null);

  // The provider keeps ciphertext only: no message text in its storage or its log.
  const leaks = allFiles(provider.dataDir).filter((f) => f.bytes.includes(SECRET_WORD) || f.bytes.includes('kitchen note'));
  assert.deepEqual(leaks.map((f) => f.file), [], 'no provider file holds a message text');
  assert.doesNotMatch(provider.output(), new RegExp(SECRET_WORD), 'the provider log holds no message text');
});

test('the bad arguments are refused by the contract before reaching the core', () => {
  const bad = (m: string, args: unknown[]) => assert.throws(() => validateCall(m, args), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument', m);
  bad('backup.create', [aliceId, { full: 1 }]);
  bad('backup.create', [aliceId, { dir: '/tmp' }]);
  bad('backup.restore', [aliceId, 42]);
  bad('backup.exportHistory', [aliceId, '../../etc']);
  bad('backup.exportHistory', [aliceId, garden.roomUri, '/tmp/x']);
});

test('a fresh device of the account: offered the restore; a wrong key changes nothing; the right one brings every room and message back', async () => {
  const phone = await appCore('phone');
  const { core, events } = phone;
  const id = (await core.accounts.login({ providerUrl: provider.url, caPem: provider.caPem, handle: 'alice', password: PASSWORD })).id;
  const fresh = await core.backup.status(id);
  assert.equal(fresh.atProvider, true, 'the provider holds a backup of this account');
  assert.equal(fresh.hasKey, false);
  assert.equal(fresh.lastBackupAt, null, 'so the window offers to restore');

  const roomsBefore = await core.rooms.list(id);
  const historyBefore = await history(core, id);

  const wrong = await fails(core.backup.restore(id, encodeRecoveryKey(generateRecoveryKey())));
  assert.equal(wrong.key, 'backup.errors.wrongKey');
  assert.match(wrong.message, /Wrong recovery key.*Nothing was changed/);
  const typo = recoveryKey.slice(0, 10) + (recoveryKey[10] === 'A' ? 'B' : 'A') + recoveryKey.slice(11);
  assert.equal((await fails(core.backup.restore(id, typo))).key, 'backup.errors.keyTypo');
  assert.deepEqual(await core.rooms.list(id), roomsBefore, 'no room added');
  assert.deepEqual(await history(core, id), historyBefore, 'no message added');
  assert.equal((await core.backup.status(id)).hasKey, false, 'the wrong key was not kept');

  events.length = 0;
  const restored = await core.backup.restore(id, recoveryKey.toLowerCase());
  assert.equal(restored.rooms, 2);
  assert.ok(restored.added >= 18, `at least the 18 messages (${restored.added})`);
  const got = await history(core, id);
  assert.deepEqual(got.Garden, sent.Garden);
  assert.deepEqual(got.Kitchen, sent.Kitchen);
  const progress = events.filter((e): e is Extract<CoreEvent, { type: 'backupProgress' }> => e.type === 'backupProgress');
  assert.ok(progress.every((p) => p.operation === 'restore'));
  assert.ok(progress.some((p) => p.stage === 'check' && p.total > 1));
  assert.equal(progress[progress.length - 1].stage, 'insert');
  const now = await core.backup.status(id);
  assert.equal(now.hasKey, true, 'the key is kept: this device backs up without typing');

  // Again: nothing twice.
  const again = await core.backup.restore(id, recoveryKey);
  assert.equal(again.added, 0);
  assert.ok(again.present >= 18);
});

test('export: a new folder under the exports folder with messages.json and messages.html; an unknown room makes none', async () => {
  const { core, exportsDir } = laptop;
  const r = await core.backup.exportHistory(aliceId, garden.roomUri);
  assert.equal(path.dirname(r.dir), exportsDir, 'directly under the exports folder');
  assert.match(path.basename(r.dir), /^Garden \d{4}-\d{2}-\d{2}$/);
  assert.equal(r.messages, 13);
  const json = JSON.parse(fs.readFileSync(path.join(r.dir, 'messages.json'), 'utf8')) as { messages?: unknown[] } & Record<string, unknown>;
  assert.ok(JSON.stringify(json).includes('garden note 13'));
  assert.ok(fs.readFileSync(path.join(r.dir, 'messages.html'), 'utf8').includes(`garden note 1 ${SECRET_WORD}`));
  const second = await core.backup.exportHistory(aliceId, garden.roomUri);
  assert.equal(second.dir, `${r.dir} (2)`, 'never into an existing folder');

  const listed = fs.readdirSync(exportsDir).sort();
  const unknown = await fails(core.backup.exportHistory(aliceId, 'mimi://a.example/r/no-such-room'));
  assert.ok(unknown.key, `a catalogue error (${unknown.message})`);
  assert.deepEqual(fs.readdirSync(exportsDir).sort(), listed, 'no folder made for it');
  assert.equal((await fails(core.backup.exportHistory('no-such-account', garden.roomUri))).code, 'noAccount');

  // "Show in folder" (Electron) reveals only what is inside the exports folder.
  assert.equal(exportToReveal(r.dir, exportsDir), fs.realpathSync(r.dir));
  assert.equal(exportToReveal(exportsDir, exportsDir), null, 'not the exports folder itself');
  assert.equal(exportToReveal(path.join(exportsDir, '..'), exportsDir), null);
  assert.equal(exportToReveal('/etc', exportsDir), null);
  assert.equal(exportToReveal('relative/path', exportsDir), null);
  assert.equal(exportToReveal(42, exportsDir), null);
  const link = path.join(exportsDir, 'sneaky');
  fs.symlinkSync('/etc', link);
  assert.equal(exportToReveal(link, exportsDir), null, 'a link out of the folder is followed and refused');
});

test('export folder names: one safe path segment, dated', () => {
  const day = new Date(2026, 11, 3);
  assert.equal(exportFolderName('Team chat', day), 'Team chat 2026-12-03');
  assert.equal(exportFolderName('../../etc/passwd', day), '_.._etc_passwd 2026-12-03');
  assert.equal(exportFolderName('...', day), 'mimi-export 2026-12-03');
  assert.equal(exportFolderName('a:b*c?"d<e>f|g\u0001h', day), 'a_b_c__d_e_f_g_h 2026-12-03');
  assert.equal(exportFolderName('x'.repeat(300), day), `${'x'.repeat(80)} 2026-12-03`);
  assert.ok(!exportFolderName('.hidden', day).startsWith('.'));
});
