// The account's pseudonym pool (draft-mahy-mimi-pseudonyms): pseudonyms its provider issued,
// each a user pseudonym plus this device's client pseudonym under it, with an MLS signature key
// of its own (never the device's) and an identity link signed by the device key. Rooms that should
// not name the account (minimal-metadata rooms, connection rooms) take one from here.
//
// Keeping it filled: when fewer than POOL_THRESHOLD are unused, ask for POOL_BATCH more in the
// background (once connected, and after each pseudonym is taken). The provider rate-limits
// issuance per account; a refusal becomes the pool's `problem` and is retried on the next trigger,
// never in a loop. Each pseudonym gets ROOM_KEY_PACKAGES ordinary KeyPackages on the provider, so
// that a member of a room of pseudonyms who knows it can add it (claiming as their own pseudonym).
// Connection-only KeyPackages are not uploaded: the connection flow carries them in the request.
//
// A pseudonym may also be taken to *act as* a user pseudonym another device of the account was
// issued (`actAs`, pseudonym-devices.ts): only its client pseudonym is used, under that user
// pseudonym, with keys of its own; the manager shows it under that user pseudonym.

import { CoreError, type PseudonymPoolView, type PseudonymView } from '../../src-shared/contract.js';
import { fromB64, fromUtf8, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import type { DeviceKeys } from '../mls/engine.js';
import type { PseudonymRow } from '../db/profile-db.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';

/** Refill when fewer unused pseudonyms than this remain. */
export const POOL_THRESHOLD = 3;
/** How many one refill asks for. */
export const POOL_BATCH = 5;
/** Ordinary KeyPackages uploaded per pseudonym (each single use). */
export const ROOM_KEY_PACKAGES = 3;

interface StoredKeys {
  identity: string;
  pub: string;
  priv: string;
  userPseudonym: string;
  identityLink: string;
}

export function encodePseudonymKeys(k: DeviceKeys): Uint8Array {
  if (!k.pseudonymous) throw new Error('not pseudonymous keys');
  const s: StoredKeys = {
    identity: k.identity,
    pub: toB64(k.signaturePublicKey),
    priv: toB64(k.signaturePrivateKey),
    userPseudonym: k.pseudonymous.userPseudonym,
    identityLink: toB64(k.pseudonymous.identityLink),
  };
  return utf8(JSON.stringify(s));
}

export function decodePseudonymKeys(b: Uint8Array): DeviceKeys {
  const s = JSON.parse(fromUtf8(b)) as StoredKeys;
  return {
    identity: s.identity,
    signaturePublicKey: fromB64(s.pub),
    signaturePrivateKey: fromB64(s.priv),
    pseudonymous: { userPseudonym: s.userPseudonym, identityLink: fromB64(s.identityLink) },
  };
}

export class PseudonymPool {
  private refilling?: Promise<void>;
  private problem?: string;
  /** Unclaimed KeyPackages per client pseudonym, as the provider last said. */
  private keyPackageCounts = new Map<string, number>();
  /**
   * Handed out by take() in this run: a row counts as used only once its room is noted, and flows
   * that take one (connect, a new room, joining as another device's pseudonym in the background)
   * may run at once; none may get a row another already holds. Forgotten at restart.
   */
  private readonly handedOut = new Set<string>();

  constructor(
    private readonly ctx: ProfileContext,
    private readonly accountId: () => string,
  ) {}

  view(): PseudonymPoolView {
    const { db } = this.ctx;
    const rows = db.pseudonyms();
    // The rooms it is in now: not those left or destroyed since (a connection's bootstrap room).
    const names = new Map(db.listRooms().flatMap((r) => (r.left ? [] : [[r.roomUri, r.name] as const])));
    const pseudonyms: PseudonymView[] = rows.map((r) => ({
      // A client acting under another device's user pseudonym is that pseudonym in its rooms (the
      // app recognises the account by it); its own user pseudonym is never shown to anyone.
      userPseudonym: r.actsAs ?? r.userPseudonym,
      clientPseudonym: r.clientPseudonym,
      state: r.retiredAt !== undefined ? 'retired' : r.rooms.length || r.actsAs ? 'inUse' : 'unused',
      rooms: r.rooms.flatMap((roomUri) => (names.has(roomUri) ? [{ roomUri, name: names.get(roomUri) || roomUri }] : [])),
      issuedAt: r.issuedAt,
      // Its KeyPackages on the provider name its own user pseudonym, so no add can use them.
      keyPackages: r.retiredAt !== undefined || r.actsAs ? 0 : (this.keyPackageCounts.get(r.clientPseudonym) ?? 0),
    }));
    return {
      accountId: this.accountId(),
      pseudonyms,
      unused: pseudonyms.filter((p) => p.state === 'unused').length,
      threshold: POOL_THRESHOLD,
      batch: POOL_BATCH,
      refilling: this.refilling !== undefined,
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  private unused(): PseudonymRow[] {
    return this.ctx.db.pseudonyms().filter((p) => p.retiredAt === undefined && p.rooms.length === 0 && p.actsAs === undefined && !this.handedOut.has(p.userPseudonym));
  }

  /** Top the pool up in the background when it runs low; failures only set `problem`. */
  maintain(): void {
    if (this.ctx.closed || this.refilling || this.unused().length >= POOL_THRESHOLD) return;
    void this.refill(POOL_BATCH).catch(() => undefined);
  }

  /** Ask the provider for `count` pseudonyms now, make their keys and KeyPackages, store them. */
  async refill(count: number): Promise<PseudonymPoolView> {
    if (!Number.isInteger(count) || count < 1 || count > 50) throw coreError('invalidArgument', 'errors.pseudonym.count');
    await this.settled();
    const run = this.issue(count);
    this.refilling = run;
    this.emitPool();
    try {
      await run;
      this.problem = undefined;
    } catch (e) {
      const err = toCoreError(e, { key: 'errors.what.getPseudonyms' });
      this.problem = err instanceof CoreError && err.code === 'rateLimited' ? `${err.message} The app asks again later.` : err.message;
      throw err;
    } finally {
      this.refilling = undefined;
      this.emitPool();
    }
    return this.view();
  }

  private async issue(count: number): Promise<void> {
    const { client, engine, keys, db } = this.ctx;
    const { issued } = await client.issuePseudonyms(count);
    for (const p of issued) {
      const pk = await engine.newPseudonymousKeys(keys, { client: p.clientPseudonym, user: p.userPseudonym });
      const kps = await engine.generateKeyPackages(pk, ROOM_KEY_PACKAGES);
      // Stored before the upload: a crash after it leaves KeyPackages whose private halves we hold.
      db.tx(() => {
        db.insertPseudonym({ userPseudonym: p.userPseudonym, clientPseudonym: p.clientPseudonym, keys: encodePseudonymKeys(pk), issuedAt: p.issuedAt });
        for (const kp of kps) db.saveKeyPackage(toHex(kp.ref), kp.publicMessage, kp.privateState, false, p.clientPseudonym);
      });
      const counts = await client.uploadPseudonymKeyPackages({ clientPseudonym: p.clientPseudonym, keyPackages: kps.map((k) => toB64(k.publicMessage)), connectionOnly: false });
      this.keyPackageCounts.set(p.clientPseudonym, counts.other);
    }
  }

  /** The provider's view of KeyPackage counts (shown in the manager); best effort. */
  async syncCounts(): Promise<void> {
    try {
      const { pseudonyms } = await this.ctx.client.pseudonyms();
      for (const p of pseudonyms) this.keyPackageCounts.set(p.clientPseudonym, p.keyPackages.other);
      this.emitPool();
    } catch {
      // offline: the counts stay as they were
    }
  }

  /** An unused pseudonym for a new room (refills behind it). */
  take(): { row: PseudonymRow; keys: DeviceKeys } {
    const row = this.unused()[0];
    if (!row) {
      this.maintain();
      throw this.problem
        ? coreError('noKeyMaterial', 'errors.pseudonym.noneLeftBecause', { reason: this.problem })
        : coreError('noKeyMaterial', 'errors.pseudonym.noneLeft');
    }
    this.handedOut.add(row.userPseudonym);
    return { row, keys: decodePseudonymKeys(this.ctx.db.pseudonymKeys(row.userPseudonym)!) };
  }

  /** An unused pseudonym, asking the provider for more first when none is left. */
  async takeOrRefill(): Promise<{ row: PseudonymRow; keys: DeviceKeys }> {
    await this.settled();
    if (this.unused().length === 0) await this.refill(POOL_BATCH);
    return this.take();
  }

  /**
   * Keys of this device's own client under `userPseudonym`, a user pseudonym another device of the
   * account was issued: the client that acts under it already, or an unused pseudonym of the pool
   * reserved for it now (its client pseudonym with keys of its own naming `userPseudonym`). One
   * client per user pseudonym, whatever the number of rooms: that is what the other device does too.
   */
  async actAs(userPseudonym: string): Promise<{ row: PseudonymRow; keys: DeviceKeys }> {
    const { db, engine } = this.ctx;
    let acting = db.actingAs(userPseudonym);
    for (let attempt = 0; !acting && attempt < 3; attempt++) {
      const { row } = await this.takeOrRefill();
      // false: the row is no longer unused (retired meanwhile): take the next one.
      if (db.reservePseudonymToActAs(row.clientPseudonym, userPseudonym)) acting = db.actingAs(userPseudonym);
    }
    if (!acting) throw coreError('noKeyMaterial', 'errors.pseudonym.noneReserved');
    if (acting.row.retiredAt !== undefined) throw coreError('notAllowed', 'errors.pseudonym.retiredClient', { pseudonym: userPseudonym });
    let keys = acting.keys ? decodePseudonymKeys(acting.keys) : undefined;
    if (!keys) {
      keys = await engine.newPseudonymousKeys(this.ctx.keys, { client: acting.row.clientPseudonym, user: userPseudonym });
      db.setActingKeys(acting.row.clientPseudonym, encodePseudonymKeys(keys));
    }
    this.emitPool();
    this.maintain();
    return { row: acting.row, keys };
  }

  /** The keys of one of our pseudonyms (user or client pseudonym). */
  keysOf(pseudonym: string): DeviceKeys | undefined {
    const keys = this.ctx.db.pseudonymKeys(pseudonym);
    return keys ? decodePseudonymKeys(keys) : undefined;
  }

  /** `roomUri` uses this pseudonym (it is no longer unused). */
  noteRoom(userPseudonym: string, roomUri: string): void {
    this.ctx.db.notePseudonymRoom(userPseudonym, roomUri);
    this.emitPool();
    this.maintain();
  }

  /**
   * Never use it again: the provider withdraws its KeyPackages and will not serve it; its rooms
   * are left by `leave` (the caller's membership), and its private KeyPackages dropped here.
   */
  async retire(userPseudonym: string, leave: (roomUri: string) => Promise<unknown>): Promise<PseudonymPoolView> {
    const { db, client } = this.ctx;
    const row = db.pseudonym(userPseudonym);
    if (!row || (row.userPseudonym !== userPseudonym && row.actsAs !== userPseudonym)) {
      throw coreError('invalidArgument', 'errors.pseudonym.notOurs', { pseudonym: userPseudonym });
    }
    if (row.retiredAt !== undefined) return this.view();
    try {
      // A client acting under another device's user pseudonym: retiring its own pair retires this
      // client (the provider then lets it act as nobody); the user pseudonym stays that device's.
      await client.retirePseudonym(row.userPseudonym);
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.retirePseudonym' });
    }
    db.tx(() => {
      db.retirePseudonym(row.userPseudonym, Date.now());
      db.deletePseudonymKeyPackages(row.clientPseudonym);
    });
    const problems: string[] = [];
    for (const roomUri of row.rooms) {
      const room = db.getRoom(roomUri);
      if (!room || room.left) continue;
      await leave(roomUri).catch((e: unknown) => problems.push(`${room.name || roomUri}: ${(e as Error).message}`));
    }
    this.keyPackageCounts.delete(row.clientPseudonym);
    this.emitPool();
    this.maintain();
    if (problems.length) throw coreError('providerUnreachable', 'errors.pseudonym.leaveFailed', { problems: problems.join('; ') });
    return this.view();
  }

  /** Resolves when no refill is running (close() waits for this before closing the database). */
  async settled(): Promise<void> {
    while (this.refilling) await this.refilling.catch(() => undefined);
  }

  private emitPool(): void {
    this.ctx.emit('pseudonyms', this.view());
  }
}
