// The account's encrypted backup at its own provider (docs/backup.md "The client"): the history on
// this device cut into chunks of about 1 MiB of JSON records, each sealed under the recovery key
// (src-shared/backup-format.ts), and a manifest listing them with their hashes.
//
//   create   the first run makes the recovery key (kept in the account's secret storage on this
//            device, shown once, never sent anywhere) and writes generation 1. Later runs upload
//            only what was stored after the last chunk (new indexes in the same generation) and a
//            new manifest. A full rewrite (asked for, or because the provider no longer has what
//            this device noted) takes the next generation and deletes the old one only after the
//            new manifest is stored, so a restore always finds one complete generation.
//            Every chunk the provider confirms is noted in the profile database (migration 12)
//            before the next one goes: a run killed at any point continues after the last noted
//            chunk; the one in flight is uploaded again at the same index, which replaces it.
//   restore  manifest first (a wrong key has another backup id, which the provider does not
//            know), then every chunk fetched, its hash checked against the manifest and opened,
//            all before the database is touched; then rooms and items go in, in one transaction,
//            each item only if it is not there yet. A damaged or cut backup is refused whole, and
//            a restore killed midway leaves nothing or everything, so running it again is safe.
//
// The provider sees only sealed chunks of similar sizes (docs/backup.md "What the provider sees").

import { BackupFormatError, MANIFEST_INDEX, MAX_CHUNK_PLAINTEXT, backupKeys, chunkHash, decodeRecoveryKey, encodeRecoveryKey, generateRecoveryKey, openChunk, sealChunk, type BackupKeys } from '../../src-shared/backup-format.js';
import type { BackupChunkInfo, BackupListing } from '../../src-shared/provider-api.js';
import type { RoomView } from '../../src-shared/contract.js';
import type { ActionKind } from '../../src-shared/content-actions.js';
import type { BackupChunkRow, BackupItemRow, BackupStateRow, MessageStatus, ProfileDb } from '../db/profile-db.js';
import { ProviderError } from '../net/provider-client.js';
import { coreError, toCoreError } from './errors.js';

/** Where the recovery key is kept on this device (the account's secret storage). */
export const RECOVERY_KEY_SECRET = 'backup-recovery-key';
/** Meta key set once the new recovery key has been handed to the person (shown again until then). */
const KEY_SHOWN_META = 'backup:keyShown';
/** About this much JSON per chunk before sealing (docs/backup.md). */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const CHUNK_FORMAT = 'mimi-backup-chunk';
const MANIFEST_FORMAT = 'mimi-backup-manifest';
const FORMAT_VERSION = 1;
/** Items read from the database at a time while cutting chunks. */
const READ_BATCH = 2000;
/** The one generation a snapshot (device-to-device history transfer) is written as. */
const SNAPSHOT_GENERATION = 1;

/** MIMI_BACKUP_CHUNK_BYTES as a chunk size (256 bytes to 4 MiB: a chunk may run over by one item); else the default. */
export function backupChunkBytes(v: string | undefined): number | undefined {
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) && n >= 256 && n <= MAX_CHUNK_PLAINTEXT / 2 ? n : undefined;
}

/** The provider routes a backup uses (ProviderClient has them; the bench passes its own client). */
export interface BackupProvider {
  listBackup(backupId: string): Promise<BackupListing>;
  putBackupChunk(backupId: string, generation: number, index: number, sealed: Uint8Array): Promise<BackupChunkInfo>;
  getBackupChunk(backupId: string, generation: number, index: number): Promise<Uint8Array>;
  deleteBackupGeneration(backupId: string, generation: number): Promise<unknown>;
}

export interface BackupSecrets {
  get(key: string): Promise<Uint8Array | null>;
  set(key: string, value: Uint8Array): Promise<void>;
}

export interface BackupDeps {
  db: ProfileDb;
  client: BackupProvider;
  secrets: BackupSecrets;
  /** The rooms the app lists, with the names it shows: what the backup names. */
  rooms(): Pick<RoomView, 'roomUri' | 'name' | 'hubDomain'>[];
  /** Plaintext bytes per chunk (tests make it small to get many chunks). */
  chunkBytes?: number;
}

export type BackupProgress =
  | { phase: 'upload'; generation: number; index: number; items: number; bytes: number }
  | { phase: 'skip'; generation: number; stored: number }
  | { phase: 'manifest'; generation: number; chunks: number }
  | { phase: 'check'; index: number; of: number }
  | { phase: 'insert'; items: number };

export interface BackupStatus {
  /** No backup made from this device yet (there may be one made by another device). */
  none: boolean;
  generation: number | null;
  /** When the last manifest was stored (ms). */
  storedAt: number | null;
  messages: number;
  /** Sealed bytes at the provider for that generation. */
  bytes: number;
  chunks: number;
  /** Messages stored on this device since, not in the backup yet. */
  notBackedUp: number;
  /** A run was cut short: create continues it. */
  unfinished: boolean;
}

export interface BackupResult {
  generation: number;
  /** Chunks uploaded by this run / already stored by an earlier run that was cut short. */
  uploaded: number;
  resumed: number;
  chunks: number;
  messages: number;
  bytes: number;
  full: boolean;
}

export interface RestoreResult {
  generation: number;
  rooms: number;
  /** Rooms this device is not a member of: their history only, until it is added or joins. */
  historyOnly: { roomUri: string; name: string }[];
  added: number;
  /** Items that were on this device already (not added twice). */
  present: number;
}

/** One record of a chunk: a message or a timeline event, as the profile database stores it. */
interface ItemRecord {
  t: 'm' | 'e';
  room: string;
  id: string;
  ts: number;
  /** mimi-content CBOR (a message) or the event's JSON, base64. */
  c: string;
  sender?: string;
  status?: MessageStatus;
  action?: ActionKind;
  target?: string | null;
  frank?: string;
}

interface ManifestRoom {
  uri: string;
  name: string;
  hub: string;
  /** A room the app does not list (a connection's bootstrap room, a knock room passed through): not restored. */
  hidden?: boolean;
}

interface ManifestChunk {
  index: number;
  sha256: string;
  size: number;
  messages: number;
  events: number;
}

interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  generation: number;
  createdAt: number;
  /** The highest local seq of the device that wrote it (informative: seqs are per device). */
  lastSeq: number;
  rooms: ManifestRoom[];
  chunks: ManifestChunk[];
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

function recordOf(item: BackupItemRow): ItemRecord {
  if (item.kind === 'event') return { t: 'e', room: item.roomUri, id: item.eventId, ts: item.timestamp, c: b64(item.content) };
  return {
    t: 'm',
    room: item.roomUri,
    id: item.messageId,
    ts: item.timestamp,
    c: b64(item.content),
    sender: item.sender,
    status: item.status,
    ...(item.action ? { action: item.action.kind, target: item.action.targetId } : {}),
    ...(item.frank ? { frank: b64(item.frank) } : {}),
  };
}

/**
 * Every backup request is idempotent (a chunk PUT again replaces itself), so one that could not
 * reach the provider is tried again twice: a long backup meets the odd dropped connection (an idle
 * keep-alive socket the provider closed), which should not cost the whole run.
 */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ProviderError && e.status === 0 && !e.certificate) || attempt >= 2) throw e;
      await new Promise((r) => setTimeout(r, 250 * 4 ** attempt));
    }
  }
}

/** The provider routes, each retried (above). */
function retrying(client: BackupProvider): BackupProvider {
  return {
    listBackup: (id) => retried(() => client.listBackup(id)),
    putBackupChunk: (id, g, i, b) => retried(() => client.putBackupChunk(id, g, i, b)),
    getBackupChunk: (id, g, i) => retried(() => client.getBackupChunk(id, g, i)),
    deleteBackupGeneration: (id, g) => retried(() => client.deleteBackupGeneration(id, g)),
  };
}

const isNotFound = (e: unknown): boolean => e instanceof ProviderError && (e.status === 404 || e.code === 'notFound');

/** A restore that found the backup damaged: the catalogue key and its parameters. */
function damaged(key: string, params: Record<string, string | number> = {}): Error {
  return coreError('internal', `backup.errors.${key}`, params);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The manifest as written, or why not: every field a restore relies on is checked. */
function parseManifest(bytes: Uint8Array, generation: number): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw damaged('manifestDamaged');
  }
  if (!isRecord(m) || m.format !== MANIFEST_FORMAT) throw damaged('manifestDamaged');
  if (m.version !== FORMAT_VERSION) throw damaged('newerFormat', { version: String(m.version) });
  if (m.generation !== generation) throw damaged('otherGeneration', { generation, found: String(m.generation) });
  const rooms = m.rooms;
  const chunks = m.chunks;
  if (!Array.isArray(rooms) || !Array.isArray(chunks)) throw damaged('manifestDamaged');
  for (const r of rooms) if (!isRecord(r) || typeof r.uri !== 'string' || typeof r.name !== 'string' || typeof r.hub !== 'string') throw damaged('manifestDamaged');
  chunks.forEach((c, i) => {
    if (!isRecord(c) || c.index !== i || typeof c.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(c.sha256) || !Number.isInteger(c.messages) || !Number.isInteger(c.events)) throw damaged('manifestDamaged');
  });
  return m as unknown as Manifest;
}

function parseChunk(bytes: Uint8Array, expect: ManifestChunk, rooms: Set<string>): ItemRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw damaged('chunkDamaged', { index: expect.index });
  }
  if (!isRecord(doc) || doc.format !== CHUNK_FORMAT || !Array.isArray(doc.items)) throw damaged('chunkDamaged', { index: expect.index });
  const items = doc.items as unknown[];
  let messages = 0;
  for (const it of items) {
    if (!isRecord(it) || (it.t !== 'm' && it.t !== 'e') || typeof it.room !== 'string' || !rooms.has(it.room) || typeof it.id !== 'string' || typeof it.ts !== 'number' || typeof it.c !== 'string') {
      throw damaged('chunkDamaged', { index: expect.index });
    }
    if (it.t === 'm') {
      messages++;
      if (typeof it.sender !== 'string' || (it.status !== 'sent' && it.status !== 'received')) throw damaged('chunkDamaged', { index: expect.index });
    }
  }
  // The manifest's counts are sealed separately: a chunk that holds something else is not this backup.
  if (messages !== expect.messages || items.length - messages !== expect.events) throw damaged('chunkDamaged', { index: expect.index });
  return items as ItemRecord[];
}

export class Backups {
  private running = false;
  private readonly deps: BackupDeps;

  constructor(deps: BackupDeps) {
    this.deps = { ...deps, client: retrying(deps.client) };
  }

  private get db(): ProfileDb {
    return this.deps.db;
  }

  /** What the last backup from this device holds (read locally; no network). */
  status(): BackupStatus {
    const s = this.db.backupState();
    const gen = s?.generation ?? null;
    const chunks = gen === null ? [] : this.db.backupChunks(gen);
    const notBackedUp = this.db.countMessagesAfter(s && gen !== null ? s.coveredSeq : 0);
    const unfinished = !!s && (s.writing !== null || (gen !== null && chunks.some((c) => c.lastSeq > s.coveredSeq)));
    return {
      none: gen === null,
      generation: gen,
      storedAt: s?.storedAt ?? null,
      messages: s?.messages ?? 0,
      bytes: s?.bytes ?? 0,
      chunks: chunks.length,
      notBackedUp,
      unfinished,
    };
  }

  /** The recovery key, made (and stored) on the first backup; `show` until it has been handed to the person. */
  private async recoveryKey(): Promise<{ key: Uint8Array; show: boolean }> {
    const stored = await this.deps.secrets.get(RECOVERY_KEY_SECRET);
    if (stored) return { key: stored, show: this.db.getMeta(KEY_SHOWN_META) !== '1' };
    const key = generateRecoveryKey();
    // Kept before anything is sealed with it: a backup no key on this device can extend is useless.
    await this.deps.secrets.set(RECOVERY_KEY_SECRET, key);
    this.db.setMeta(KEY_SHOWN_META, '0');
    return { key, show: true };
  }

  /**
   * Back up what is new since the last run (or everything, `full`, into a new generation).
   * `onNewKey` gets the recovery key, as the person writes it down, when it has not been shown yet.
   */
  async create(opts: { full?: boolean; onNewKey?: (text: string) => void | Promise<void>; onProgress?: (p: BackupProgress) => void } = {}): Promise<BackupResult> {
    if (this.running) throw coreError('invalidArgument', 'backup.errors.busy');
    this.running = true;
    try {
      const { key, show } = await this.recoveryKey();
      if (show) {
        await opts.onNewKey?.(encodeRecoveryKey(key));
        this.db.setMeta(KEY_SHOWN_META, '1');
      }
      return await this.write(backupKeys(key), opts.full === true, opts.onProgress);
    } catch (e) {
      throw toCoreError(e, { key: 'backup.what.create' });
    } finally {
      this.running = false;
    }
  }

  private async listing(backupId: string): Promise<BackupListing | null> {
    try {
      return await this.deps.client.listBackup(backupId);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  private async write(keys: BackupKeys, full: boolean, onProgress?: (p: BackupProgress) => void): Promise<BackupResult> {
    const { db, client } = this.deps;
    const listing = await this.listing(keys.backupId);
    let state: BackupStateRow = db.backupState() ?? { backupId: keys.backupId, generation: null, writing: null, stale: null, coveredSeq: 0, messages: 0, bytes: 0, storedAt: null };
    if (state.backupId !== keys.backupId) {
      // Another key than the notes were made with (the key was replaced): start over under this one.
      state = { backupId: keys.backupId, generation: null, writing: null, stale: null, coveredSeq: 0, messages: 0, bytes: 0, storedAt: null };
    }
    if (state.stale !== null) await this.dropStale(state);

    const atProvider = new Map<number, Map<number, BackupChunkInfo>>();
    for (const g of listing?.generations ?? []) atProvider.set(g.generation, new Map(g.chunks.map((c) => [c.index, c])));
    /** Does the provider still hold every chunk noted for `g`, byte for byte? */
    const intact = (g: number): boolean => db.backupChunks(g).every((c) => atProvider.get(g)?.get(c.index)?.sha256 === c.sha256);

    // Which generation this run writes to, and whether it is a full rewrite.
    let target: number;
    if (state.writing !== null && intact(state.writing)) target = state.writing;
    else if (
      !full &&
      state.writing === null &&
      state.generation !== null &&
      intact(state.generation) &&
      atProvider.get(state.generation)?.has(MANIFEST_INDEX) &&
      // Another device of the account wrote a newer generation (after restoring): a restore would
      // take that one, so this device's next chunks must go into a newer one still.
      ![...atProvider.keys()].some((g) => g > state.generation!)
    )
      target = state.generation;
    else {
      // A new generation above anything the provider or this device knows of.
      const known = [...atProvider.keys(), state.generation ?? 0, state.writing ?? 0];
      if (state.writing !== null) {
        db.forgetBackupGeneration(state.writing);
        await client.deleteBackupGeneration(keys.backupId, state.writing).catch(() => undefined);
      }
      target = Math.max(0, ...known) + 1;
      state = { ...state, writing: target };
      db.setBackupState(state);
    }
    const isFull = target !== state.generation;

    const done = db.backupChunks(target);
    if (done.length > 0) onProgress?.({ phase: 'skip', generation: target, stored: done.length });
    let after = Math.max(0, ...done.map((c) => c.lastSeq));
    let index = done.length === 0 ? 0 : done[done.length - 1].index + 1;
    const upTo = db.backupCutoff();
    const limit = this.deps.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    let uploaded = 0;

    // Cut chunks: records in seq order until about `limit` bytes of JSON, then seal and upload.
    let records: string[] = [];
    let size = 0;
    let first = after + 1;
    let last = after;
    let messages = 0;
    let events = 0;
    const flush = async (): Promise<void> => {
      if (records.length === 0) return;
      const plain = new TextEncoder().encode(`{"format":"${CHUNK_FORMAT}","version":${FORMAT_VERSION},"items":[${records.join(',')}]}`);
      const sealed = sealChunk(keys, { generation: target, index }, plain);
      const info = await client.putBackupChunk(keys.backupId, target, index, sealed);
      const sha256 = chunkHash(sealed);
      if (info.sha256 !== sha256 || info.size !== sealed.length) throw coreError('internal', 'backup.errors.storedOtherBytes', { index });
      // Noted before the next chunk goes: a run killed after this never uploads it again.
      db.noteBackupChunk({ generation: target, index, firstSeq: first, lastSeq: last, messages, events, size: sealed.length, sha256, storedAt: Date.now() });
      onProgress?.({ phase: 'upload', generation: target, index, items: records.length, bytes: sealed.length });
      uploaded++;
      index++;
      records = [];
      size = 0;
      first = last + 1;
      messages = 0;
      events = 0;
    };
    for (;;) {
      const batch = db.backupItems(after, upTo, READ_BATCH);
      if (batch.length === 0) break;
      for (const item of batch) {
        after = item.seq;
        const text = JSON.stringify(recordOf(item));
        if (size > 0 && size + text.length + 1 > limit) await flush();
        records.push(text);
        size += text.length + 1;
        last = item.seq;
        if (item.kind === 'message') messages++;
        else events++;
      }
    }
    await flush();

    // The manifest names every chunk of the generation (this run's and earlier ones') and the rooms.
    const chunks = db.backupChunks(target);
    // Every room with a row (its items may be in any chunk); those the app does not list are marked.
    const shown = new Map(this.deps.rooms().map((r) => [r.roomUri, r.name]));
    const rooms: ManifestRoom[] = db.listRooms().map((r) => ({ uri: r.roomUri, name: shown.get(r.roomUri) ?? r.name, hub: r.hubDomain, ...(shown.has(r.roomUri) ? {} : { hidden: true }) }));
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: FORMAT_VERSION,
      generation: target,
      createdAt: Date.now(),
      lastSeq: upTo,
      rooms,
      chunks: chunks.map((c) => ({ index: c.index, sha256: c.sha256, size: c.size, messages: c.messages, events: c.events })),
    };
    const sealedManifest = sealChunk(keys, { generation: target, index: MANIFEST_INDEX }, json(manifest));
    await client.putBackupChunk(keys.backupId, target, MANIFEST_INDEX, sealedManifest);
    onProgress?.({ phase: 'manifest', generation: target, chunks: chunks.length });

    const previous = state.generation;
    const total = { messages: chunks.reduce((n, c) => n + c.messages, 0), bytes: chunks.reduce((n, c) => n + c.size, 0) + sealedManifest.length };
    state = {
      backupId: keys.backupId,
      generation: target,
      writing: null,
      // The replaced generation goes only now that the new one is complete at the provider.
      stale: isFull && previous !== null ? previous : state.stale,
      coveredSeq: Math.max(upTo, chunks.length ? chunks[chunks.length - 1].lastSeq : 0),
      messages: total.messages,
      bytes: total.bytes,
      storedAt: manifest.createdAt,
    };
    db.tx(() => {
      if (isFull && previous !== null) db.forgetBackupGeneration(previous);
      db.setBackupState(state);
    });
    if (state.stale !== null) await this.dropStale(state);
    // Generations this device never noted (another device's, or abandoned) go too, now that a
    // complete newer one is stored; one that fails to go is tried again by a later run.
    for (const g of atProvider.keys()) if (g < target && g !== previous) await client.deleteBackupGeneration(keys.backupId, g).catch(() => undefined);
    return { generation: target, uploaded, resumed: done.length, chunks: chunks.length, messages: total.messages, bytes: total.bytes, full: isFull };
  }

  /** Delete a replaced generation at the provider; if that fails now, the next run tries again. */
  private async dropStale(state: BackupStateRow): Promise<void> {
    if (state.stale === null) return;
    try {
      await this.deps.client.deleteBackupGeneration(state.backupId, state.stale);
    } catch (e) {
      if (!isNotFound(e)) return;
    }
    state.stale = null;
    this.db.setBackupState(state);
  }

  /** Fill this profile from the backup the recovery key opens (see the file's head for the checks). */
  async restore(typedKey: string, onProgress?: (p: BackupProgress) => void): Promise<RestoreResult> {
    if (this.running) throw coreError('invalidArgument', 'backup.errors.busy');
    this.running = true;
    try {
      let key: Uint8Array;
      try {
        key = decodeRecoveryKey(typedKey);
      } catch (e) {
        if (e instanceof BackupFormatError) throw coreError('invalidArgument', e.reason === 'recoveryKeyTypo' ? 'backup.errors.keyTypo' : 'backup.errors.keyLength');
        throw e;
      }
      return await this.read(key, true, onProgress);
    } catch (e) {
      throw toCoreError(e, { key: 'backup.what.restore' });
    } finally {
      this.running = false;
    }
  }

  /**
   * A one-shot snapshot of this device's whole history under `key` (a fresh random key, not the
   * recovery key), in the backup format, as generation 1 of the key's backup id: for handing the
   * history to another device of the account (device-link.ts). The account's own backup (its
   * state, notes and recovery key) is not touched. `onProgress` gets chunks uploaded of all.
   */
  async snapshot(key: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<{ backupId: string; chunks: number; messages: number }> {
    if (this.running) throw coreError('invalidArgument', 'backup.errors.busy');
    this.running = true;
    try {
      return await this.writeSnapshot(backupKeys(key), onProgress);
    } finally {
      this.running = false;
    }
  }

  /** Restores a snapshot() (all checked before anything is stored); the key is not kept. */
  async restoreSnapshot(key: Uint8Array, onProgress?: (p: BackupProgress) => void): Promise<RestoreResult> {
    if (this.running) throw coreError('invalidArgument', 'backup.errors.busy');
    this.running = true;
    try {
      return await this.read(key, false, onProgress);
    } finally {
      this.running = false;
    }
  }

  /** Deletes a snapshot at the provider (gone already: fine). */
  async deleteSnapshot(key: Uint8Array): Promise<void> {
    try {
      await this.deps.client.deleteBackupGeneration(backupKeys(key).backupId, SNAPSHOT_GENERATION);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** The records of the items after seq `after` up to `upTo`, cut into chunks of about `limit` bytes of JSON. */
  private *cut(after: number, upTo: number, limit: number): Generator<{ records: string[]; messages: number; events: number }> {
    let records: string[] = [];
    let size = 0;
    let messages = 0;
    let events = 0;
    for (;;) {
      const batch = this.db.backupItems(after, upTo, READ_BATCH);
      if (batch.length === 0) break;
      for (const item of batch) {
        after = item.seq;
        const text = JSON.stringify(recordOf(item));
        if (size > 0 && size + text.length + 1 > limit) {
          yield { records, messages, events };
          records = [];
          size = 0;
          messages = 0;
          events = 0;
        }
        records.push(text);
        size += text.length + 1;
        if (item.kind === 'message') messages++;
        else events++;
      }
    }
    if (records.length > 0) yield { records, messages, events };
  }

  private async writeSnapshot(keys: BackupKeys, onProgress?: (done: number, total: number) => void): Promise<{ backupId: string; chunks: number; messages: number }> {
    const { db, client } = this.deps;
    const generation = SNAPSHOT_GENERATION;
    const upTo = db.backupCutoff();
    const limit = this.deps.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    // A first pass only counts, so both devices can show "n of total" from the first chunk on.
    let total = 1; // the manifest
    for (const _ of this.cut(0, upTo, limit)) total++;
    const chunks: ManifestChunk[] = [];
    onProgress?.(0, total);
    for (const c of this.cut(0, upTo, limit)) {
      const index = chunks.length;
      const plain = new TextEncoder().encode(`{"format":"${CHUNK_FORMAT}","version":${FORMAT_VERSION},"items":[${c.records.join(',')}]}`);
      const sealed = sealChunk(keys, { generation, index }, plain);
      const info = await client.putBackupChunk(keys.backupId, generation, index, sealed);
      const sha256 = chunkHash(sealed);
      if (info.sha256 !== sha256 || info.size !== sealed.length) throw coreError('internal', 'backup.errors.storedOtherBytes', { index });
      chunks.push({ index, sha256, size: sealed.length, messages: c.messages, events: c.events });
      onProgress?.(chunks.length, total);
    }
    const shown = new Map(this.deps.rooms().map((r) => [r.roomUri, r.name]));
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: FORMAT_VERSION,
      generation,
      createdAt: Date.now(),
      lastSeq: upTo,
      rooms: db.listRooms().map((r) => ({ uri: r.roomUri, name: shown.get(r.roomUri) ?? r.name, hub: r.hubDomain, ...(shown.has(r.roomUri) ? {} : { hidden: true }) })),
      chunks,
    };
    await client.putBackupChunk(keys.backupId, generation, MANIFEST_INDEX, sealChunk(keys, { generation, index: MANIFEST_INDEX }, json(manifest)));
    onProgress?.(total, total);
    return { backupId: keys.backupId, chunks: chunks.length, messages: chunks.reduce((n, c) => n + c.messages, 0) };
  }

  private async read(key: Uint8Array, keepKey: boolean, onProgress?: (p: BackupProgress) => void): Promise<RestoreResult> {
    const { db, client } = this.deps;
    const keys = backupKeys(key);
    // The backup id comes from the key: an account's backup under another id is another key's.
    const listing = await this.listing(keys.backupId);
    if (!listing) throw coreError('invalidArgument', 'backup.errors.wrongKey');
    const complete = listing.generations.filter((g) => g.chunks.some((c) => c.index === MANIFEST_INDEX)).sort((a, b) => b.generation - a.generation);
    if (complete.length === 0) throw damaged('incomplete');
    const gen = complete[0];
    const fetch = async (index: number): Promise<Uint8Array> => {
      try {
        return await client.getBackupChunk(keys.backupId, gen.generation, index);
      } catch (e) {
        if (isNotFound(e)) throw index === MANIFEST_INDEX ? damaged('incomplete') : damaged('missingChunk', { index });
        throw e;
      }
    };
    let manifestBytes: Uint8Array;
    try {
      manifestBytes = openChunk(keys, { generation: gen.generation, index: MANIFEST_INDEX }, await fetch(MANIFEST_INDEX));
    } catch (e) {
      // The id matched, so the key is right: a manifest that does not open was altered or moved.
      if (e instanceof BackupFormatError) throw damaged('manifestDamaged');
      throw e;
    }
    const manifest = parseManifest(manifestBytes, gen.generation);
    const rooms = new Set(manifest.rooms.map((r) => r.uri));
    const hidden = new Set(manifest.rooms.filter((r) => r.hidden).map((r) => r.uri));
    const stored = new Map(gen.chunks.map((c) => [c.index, c]));

    // Every chunk checked before anything is written: present, the listed hash, opens, parses.
    const sealed: Uint8Array[] = [];
    for (const c of manifest.chunks) {
      if (!stored.has(c.index)) throw damaged('missingChunk', { index: c.index });
      const bytes = await fetch(c.index);
      if (chunkHash(bytes) !== c.sha256) throw damaged('chunkAltered', { index: c.index });
      try {
        parseChunk(openChunk(keys, { generation: gen.generation, index: c.index }, bytes), c, rooms);
      } catch (e) {
        if (e instanceof BackupFormatError) throw damaged('chunkDamaged', { index: c.index });
        throw e;
      }
      sealed.push(bytes);
      onProgress?.({ phase: 'check', index: c.index + 1, of: manifest.chunks.length });
    }

    // One transaction: a restore killed here leaves the profile as it was; run again, it completes.
    let added = 0;
    let present = 0;
    db.tx(() => {
      for (const r of manifest.rooms) {
        if (r.hidden) continue;
        const local = db.getRoom(r.uri);
        if (!local) db.insertHistoryRoom({ roomUri: r.uri, name: r.name, hubDomain: r.hub, createdAt: manifest.createdAt });
        else if (local.name === '' && r.name !== '') db.renameRoom(r.uri, r.name);
      }
      manifest.chunks.forEach((c, i) => {
        for (const it of parseChunk(openChunk(keys, { generation: gen.generation, index: c.index }, sealed[i]), c, rooms)) {
          if (hidden.has(it.room)) continue;
          if (it.t === 'e') {
            if (db.insertTimelineEvents(it.room, it.ts, [{ eventId: it.id, content: unb64(it.c) }]).length) added++;
            else present++;
            continue;
          }
          const row = db.insertMessage(
            {
              roomUri: it.room,
              messageId: it.id,
              sender: it.sender!,
              content: unb64(it.c),
              timestamp: it.ts,
              status: it.status!,
              ...(it.action ? { action: { kind: it.action, targetId: it.target ?? null } } : {}),
            },
            false,
            it.frank ? unb64(it.frank) : undefined,
          );
          if (row) added++;
          else present++;
        }
      });
    });
    onProgress?.({ phase: 'insert', items: added });
    // Kept like a key made here, so this device's later backups need no typing (its first one is
    // a full rewrite into a new generation: its history now holds everything). A snapshot's
    // one-shot key is not a recovery key: never kept.
    if (keepKey && !(await this.deps.secrets.get(RECOVERY_KEY_SECRET))) {
      await this.deps.secrets.set(RECOVERY_KEY_SECRET, key);
      db.setMeta(KEY_SHOWN_META, '1');
    }
    const historyOnly = manifest.rooms.filter((r) => !r.hidden && db.isHistoryOnly(r.uri)).map((r) => ({ roomUri: r.uri, name: r.name }));
    return { generation: gen.generation, rooms: manifest.rooms.length - hidden.size, historyOnly, added, present };
  }
}
