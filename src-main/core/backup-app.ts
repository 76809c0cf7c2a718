// The app's side of the encrypted backup and of a room's export (the contract's `backup` methods
// and rooms.exportHistory), over a Profile's backup.ts and export.ts, which the CLI uses directly.
//
// The recovery key. backup.ts hands a new key to `onNewKey` and notes it as shown once that
// returns. Here `onNewKey` keeps the key in memory, tells the window ('backupKey', without the key:
// events go to every listener) and waits until the person confirms they wrote it down. So:
//   - until confirmed, the window can ask for it again (a reload while the dialog is open);
//   - once confirmed it is dropped from memory and backup.ts marks it shown: no call returns it again;
//   - an app closed before the confirmation never noted it as shown, so the next backup shows it again
//     (a backup whose key nobody wrote down would be useless).
// The first run uploads nothing before the confirmation.
//
// Exports go into a new folder per export under the exports folder the main process chose
// (AppCoreOptions.exportsDir); the window names only the room, never a path.

import fs from 'node:fs';
import path from 'node:path';
import type { BackupCreateArgs, BackupResultView, BackupStage, BackupStatusView, CoreEvent, ExportResultView, RestoreResultView } from '../../src-shared/contract.js';
import { coreError } from './errors.js';
import type { Profile } from './profile.js';

export interface AppBackupsDeps {
  profile(accountId: string): Profile;
  emit(e: CoreEvent): void;
  /** Where exports go: one new subfolder each. */
  exportsDir: string;
}

/** How long the status waits for the provider's list of backups before saying "could not ask". */
const LISTING_TIMEOUT_MS = 5000;

/** Characters no folder name may hold on any of the three desktop systems, and control characters. */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_NAME = /[\\/:*?"<>|\u0000-\u001f\u007f]/g;

/**
 * The export folder's name: the room's name made safe as one path segment, and the local date
 * ("Team chat 2026-12-03"). Pure, so the naming is tested without a file system.
 */
export function exportFolderName(roomName: string, now: Date): string {
  let base = roomName.replace(UNSAFE_IN_NAME, '_').replace(/\s+/g, ' ').trim();
  // No hidden folder ("."), no ".." and nothing Windows would trim into another name.
  base = base.replace(/^[.\s]+|[.\s]+$/g, '');
  if ([...base].length > 80) base = [...base].slice(0, 80).join('').trim();
  if (base === '') base = 'mimi-export';
  const date = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
  return `${base} ${date}`;
}

/** Make a new folder `name` (or "name (2)", "name (3)", …) under `parent`; never an existing one. */
function newFolder(parent: string, name: string): string {
  try {
    fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw coreError('invalidArgument', 'backup.errors.exportDir', { dir: parent, reason: (e as Error).message });
  }
  for (let n = 1; n < 1000; n++) {
    const dir = path.join(parent, n === 1 ? name : `${name} (${n})`);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw coreError('invalidArgument', 'backup.errors.exportDir', { dir, reason: (e as Error).message });
    }
  }
  throw coreError('invalidArgument', 'backup.errors.exportDir', { dir: path.join(parent, name), reason: 'too many exports of this room today' });
}

/**
 * A folder the window asks to reveal (Electron's "Show in folder"), or null: only an existing one
 * inside the exports folder, links resolved, so a page cannot have main open any other place.
 */
export function exportToReveal(v: unknown, exportsDir: string): string | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096 || !path.isAbsolute(v)) return null;
  let real: string;
  let root: string;
  try {
    real = fs.realpathSync(v);
    root = fs.realpathSync(exportsDir);
  } catch {
    return null;
  }
  const rel = path.relative(root, real);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? null : real;
}

interface PendingKey {
  key: string;
  saved(): void;
  abandoned(e: Error): void;
}

export class AppBackups {
  private readonly pending = new Map<string, PendingKey>();
  private readonly running = new Map<string, 'create' | 'restore'>();

  constructor(private readonly deps: AppBackupsDeps) {}

  get exportsDir(): string {
    return this.deps.exportsDir;
  }

  private progress(accountId: string, operation: 'create' | 'restore', stage: BackupStage, done: number, total: number): void {
    this.deps.emit({ type: 'backupProgress', accountId, operation, stage, done, total: Math.max(done, total) });
  }

  /** The provider's answer on whether it holds a backup of the account; null when it cannot be asked now. */
  private async atProvider(p: Profile): Promise<boolean | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), LISTING_TIMEOUT_MS);
    });
    try {
      const listing = await Promise.race([p.providerBackups().catch(() => null), timeout]);
      return listing === null ? null : listing.backups.some((b) => b.generations.length > 0);
    } finally {
      clearTimeout(timer);
    }
  }

  async status(accountId: string): Promise<BackupStatusView> {
    const p = this.deps.profile(accountId);
    const s = p.backupStatus();
    const [hasKey, atProvider] = await Promise.all([p.hasRecoveryKey(), this.atProvider(p)]);
    return {
      lastBackupAt: s.storedAt,
      messages: s.messages,
      bytes: s.bytes,
      generation: s.generation,
      notBackedUp: s.notBackedUp,
      unfinished: s.unfinished,
      hasKey,
      keyPending: this.pending.has(accountId),
      atProvider,
      running: this.running.get(accountId) ?? null,
    };
  }

  private begin(accountId: string, what: 'create' | 'restore'): Profile {
    const p = this.deps.profile(accountId);
    if (this.running.has(accountId)) throw coreError('invalidArgument', 'backup.errors.busy');
    this.running.set(accountId, what);
    return p;
  }

  async create(accountId: string, args: BackupCreateArgs): Promise<BackupResultView> {
    const p = this.begin(accountId, 'create');
    try {
      const full = args.full === true;
      const before = p.backupStatus();
      // What this run will upload, as far as is known before it starts (events are items too, so
      // the bar's total grows if there are more): everything for a full rewrite, else what is new.
      const estimate = full ? before.messages + before.notBackedUp : before.notBackedUp;
      let done = 0;
      const r = await p.createBackup({
        full,
        onNewKey: (key) => this.waitUntilSaved(accountId, key),
        onProgress: (e) => {
          if (e.phase === 'upload') {
            done += e.items;
            this.progress(accountId, 'create', 'upload', done, estimate);
          } else if (e.phase === 'manifest') {
            const all = Math.max(done, estimate);
            this.progress(accountId, 'create', 'manifest', all, all);
          }
        },
      });
      return { generation: r.generation, uploaded: r.uploaded, chunks: r.chunks, messages: r.messages, bytes: r.bytes, full: r.full };
    } finally {
      this.running.delete(accountId);
    }
  }

  /** Keep the new key for the window and wait for the person's "I have written it down". */
  private waitUntilSaved(accountId: string, key: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.set(accountId, { key, saved: resolve, abandoned: reject });
      this.progress(accountId, 'create', 'key', 0, 0);
      this.deps.emit({ type: 'backupKey', accountId });
    });
  }

  pendingRecoveryKey(accountId: string): string | null {
    this.deps.profile(accountId);
    return this.pending.get(accountId)?.key ?? null;
  }

  confirmRecoveryKeySaved(accountId: string): void {
    this.deps.profile(accountId);
    const waiting = this.pending.get(accountId);
    if (!waiting) throw coreError('invalidArgument', 'backup.errors.noKeyPending');
    this.pending.delete(accountId);
    waiting.saved();
  }

  async restore(accountId: string, recoveryKey: string): Promise<RestoreResultView> {
    const p = this.begin(accountId, 'restore');
    try {
      this.progress(accountId, 'restore', 'check', 0, 1);
      const r = await p.restoreBackup(recoveryKey, (e) => {
        if (e.phase === 'check') this.progress(accountId, 'restore', 'check', e.index, e.of);
        else if (e.phase === 'insert') this.progress(accountId, 'restore', 'insert', 1, 1);
      });
      return { rooms: r.rooms, added: r.added, present: r.present, historyOnly: r.historyOnly };
    } finally {
      this.running.delete(accountId);
    }
  }

  async exportHistory(accountId: string, roomUri: string): Promise<ExportResultView> {
    const p = this.deps.profile(accountId);
    // The room first: an unknown one is refused before any folder is made.
    const uri = p.resolveRoom(roomUri);
    const name = p.roomView(uri).name;
    const dir = newFolder(this.deps.exportsDir, exportFolderName(name, new Date()));
    try {
      const r = await p.exportRoom(uri, dir);
      return { dir: r.dir, messages: r.messages, attachments: r.attachments, missing: r.missing.length };
    } catch (e) {
      // Our own new folder: a failed export leaves nothing half-written behind.
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** An account signing out or the app closing: a key still waiting is not noted as shown (shown again next time). */
  abandon(accountId?: string): void {
    for (const [id, w] of this.pending) {
      if (accountId !== undefined && id !== accountId) continue;
      this.pending.delete(id);
      w.abandoned(coreError('invalidArgument', 'backup.errors.keyNotConfirmed'));
    }
  }
}
