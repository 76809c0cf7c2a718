// Assets (attachments): encrypted files that clients upload to their OWN provider and that members
// of a room fetch again (docs/attachments.md; draft-ietf-mimi-protocol-06 "Download Files").
//
//   POST /v1/assets                          a client of this provider uploads ciphertext (bearer token);
//                                            streamed to DATA/assets, size limit (413) and per-account
//                                            quota (507) checked before and while the bytes arrive
//   GET  /assets/{id}                        the asset URL: this provider's clients (bearer token) and
//                                            trusted peers (mutual TLS) fetch the stored bytes
//   GET  /v1/rooms/{room}/asset?url=URL      a client asks its own provider for an asset of a room,
//                                            which fetches it through the room's hub (proxyDownload),
//                                            or, as that hub itself, from the asset's provider
//   GET  /mimi/v1/proxyDownload/{url}        the hub's proxy (MIMI, mutual TLS): refuses any URL whose
//                                            origin is not the asset origin of one of its peers
//
// The provider only ever holds ciphertext: the key is in the (MLS-encrypted) message. Nothing here
// buffers a whole file: bodies are streamed to disk and from disk or peer to the requester.
//
// Where the bytes live: on SQLite, the file DATA/assets/<id>. On PostgreSQL (several nodes, no
// shared folder) the rows of asset_contents (pg/schema.ts v3), pieces of CONTENT_PIECE_BYTES: the
// upload is still streamed to a file in the receiving node's DATA/assets/incoming, then copied piece
// by piece into the database in the transaction that writes the asset's row (all or nothing, the
// quota checked in it), and served piece by piece from whichever node is asked.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tls, { type PeerCertificate } from 'node:tls';
import { fromUtf8 } from '../src-shared/bytes.js';
import { parseMimiUri } from '../src-shared/identifiers.js';
import { CLIENT_IDLE_MS, closedWhileIdle } from '../src-shared/idle-connection.js';
import type { Accounts, Actor } from './accounts.js';
import { ApiFailure, badRequest } from './errors.js';
import { peerBaseUrl, type FederationConfig } from './federation/config.js';
import { authenticatePeer } from './federation/mtls.js';
import type { PeerClient } from './federation/peer-client.js';
import { sendJson } from './http.js';
import { LocalIdentities } from './room-members.js';
import { prepareStaging, stagedPath } from './staging.js';
import type { Store } from './store.js';
import type { Statement } from 'better-sqlite3';

/**
 * On PostgreSQL, the largest piece of a file's contents in one row: one piece (and its hex form on
 * the wire, twice that) is what a request holds in memory, and each read or write is one statement.
 */
export const CONTENT_PIECE_BYTES = 1024 * 1024;

/** How many pieces hold `size` bytes. */
export const pieceCount = (size: number): number => Math.ceil(size / CONTENT_PIECE_BYTES);

/**
 * Reads the file `file` (exactly `size` bytes) one piece at a time and hands each to `insert` with
 * its number: synchronous, for use inside a store transaction (which may run it more than once).
 */
export function copyFileToPieces(file: string, size: number, insert: (seq: number, piece: Buffer) => void): void {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(size, CONTENT_PIECE_BYTES));
    for (let seq = 0, at = 0; at < size; seq++) {
      const want = Math.min(CONTENT_PIECE_BYTES, size - at);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, got, want - got, at + got);
        if (n === 0) throw new Error(`${file} ended after ${at + got} of ${size} bytes`);
        got += n;
      }
      insert(seq, buf.subarray(0, want));
      at += want;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `count` pieces to `res` (its head already sent), reading each only when the previous one
 * has drained, so a slow reader holds one piece in memory, not the file. `read` answers undefined
 * for a piece that is gone (its object deleted or rewritten meanwhile): the body is cut short,
 * which the requester notices (fewer bytes than Content-Length, a failing AEAD tag or digest).
 */
export async function writePieces(res: ServerResponse, count: number, read: (seq: number) => Buffer | undefined, log: (msg: string) => void): Promise<void> {
  for (let seq = 0; seq < count; seq++) {
    if (res.destroyed) return;
    let piece: Buffer | undefined;
    try {
      piece = read(seq);
    } catch (e) {
      log(`reading piece ${seq}: ${(e as Error).message}`);
    }
    if (!piece) {
      res.destroy();
      return;
    }
    const last = seq === count - 1;
    const more = last ? (res.end(piece), true) : res.write(piece);
    if (!more) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      });
    }
  }
}

/** Default largest single asset: 25 MiB (an encrypted 5 MB photo fits many times over). */
export const DEFAULT_MAX_ASSET_BYTES = 25 * 1024 * 1024;
/** Default per-account total: 500 MiB. */
export const DEFAULT_ASSET_QUOTA_BYTES = 500 * 1024 * 1024;

export const ASSET_UPLOAD_PATH = '/v1/assets';
export const ASSET_PATH_PREFIX = '/assets/';
/** 16 random bytes, base64url: unguessable, and the only thing that names a file on disk. */
const ASSET_ID_RE = /^[A-Za-z0-9_-]{22}$/;
const ROOM_ASSET_RE = /^\/v1\/rooms\/([^/]+)\/asset$/;

export interface AssetLimits {
  maxAssetBytes: number;
  quotaBytes: number;
}

export interface AssetServiceOptions {
  store: Store;
  dataDir: string;
  /** This node's name: on PostgreSQL, nodes sharing a data folder each stage uploads apart (staging.ts). */
  nodeId?: string;
  domain: string;
  accounts: Accounts;
  /** This provider's base URL as peers and its clients see it (asset URLs are made from it). */
  publicUrl: () => string;
  /** The URL it listens on (its own clients may use it; the same files). */
  listenUrl: () => string;
  federation: FederationConfig;
  peerClient: PeerClient;
  clientCertPem: string;
  clientKeyPem: string;
  /** Rooms hosted here. */
  hosts: (roomUri: string) => boolean;
  limits?: Partial<AssetLimits>;
  log: (msg: string) => void;
  timeoutMs?: number;
}

const originOf = (u: string): string | null => {
  try {
    const url = new URL(u);
    return url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
};

export function assetLimits(l: Partial<AssetLimits> = {}): AssetLimits {
  const out = { maxAssetBytes: l.maxAssetBytes ?? DEFAULT_MAX_ASSET_BYTES, quotaBytes: l.quotaBytes ?? DEFAULT_ASSET_QUOTA_BYTES };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`asset limit ${k} must be a positive integer, not ${v}`);
  }
  return out;
}

const mib = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${n} bytes`);

export class AssetService {
  readonly limits: AssetLimits;
  private readonly dir: string;
  private readonly tmpDir: string;
  private readonly agent: https.Agent;
  private readonly identities: LocalIdentities;
  private readonly timeoutMs: number;
  /** PostgreSQL: contents in asset_contents rows, not files (see the top of this file). */
  private readonly inDatabase: boolean;
  /** PostgreSQL: the pieces' statements, prepared once (each prepare is a statement on the server). */
  private readonly pieces?: { put: Statement; get: Statement };

  constructor(private readonly opts: AssetServiceOptions) {
    this.inDatabase = opts.store.dialect === 'postgres';
    if (this.inDatabase) {
      this.pieces = {
        put: opts.store.db.prepare('INSERT INTO asset_contents (asset_id, seq, data) VALUES (?, ?, ?)'),
        get: opts.store.db.prepare('SELECT data FROM asset_contents WHERE asset_id = ? AND seq = ?').pluck(),
      };
    }
    this.limits = assetLimits(opts.limits);
    this.dir = path.join(opts.dataDir, 'assets');
    // Uploads a crash interrupted were never accepted (no row, no 201): nothing to keep.
    this.tmpDir = prepareStaging(this.dir, this.inDatabase ? opts.nodeId : undefined);
    this.identities = new LocalIdentities(opts.store, opts.domain);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    // Our own agent for streamed peer GETs (PeerClient buffers its bodies); same identity and trust.
    this.agent = new https.Agent({
      keepAlive: true,
      timeout: CLIENT_IDLE_MS,
      maxSockets: 16,
      cert: opts.clientCertPem,
      key: opts.clientKeyPem,
      ca: [...opts.federation.trustPem],
      minVersion: 'TLSv1.2',
    });
  }

  /**
   * Deletes every file the account `userUri` uploaded, when the account is deleted: its rows (on
   * PostgreSQL the contents go with them), then on SQLite the files. Members of its rooms can no
   * longer download them, as with any file whose sender is gone. A crash between the two leaves
   * files no row names; nothing serves them. Returns how many went.
   */
  deleteOfAccount(userUri: string): number {
    const db = this.opts.store.db;
    const ids = this.opts.store.tx(() => {
      const owned = (db.prepare('SELECT id FROM assets WHERE owner_user = ?').all(userUri) as { id: string }[]).map((r) => r.id);
      db.prepare('DELETE FROM assets WHERE owner_user = ?').run(userUri);
      return owned;
    });
    if (!this.inDatabase) {
      for (const id of ids) {
        if (!ASSET_ID_RE.test(id)) continue;
        try {
          fs.rmSync(path.join(this.dir, id), { force: true });
        } catch (e) {
          this.opts.log(`attachment ${id} of a deleted account not removed: ${(e as Error).message}`);
        }
      }
    }
    return ids.length;
  }

  close(): void {
    this.agent.destroy();
  }

  /** Whether `pathname` is one of ours (the client-side routes; proxyDownload comes via the MIMI prefix). */
  static handles(pathname: string): boolean {
    return pathname === ASSET_UPLOAD_PATH || pathname.startsWith(ASSET_PATH_PREFIX) || ROOM_ASSET_RE.test(pathname);
  }

  async handle(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    const method = req.method ?? 'GET';
    if (u.pathname === ASSET_UPLOAD_PATH) {
      if (method !== 'POST') throw new ApiFailure('notAllowed', `method ${method} is not allowed here (allowed: POST)`, { status: 405 });
      const reply = await this.upload(req);
      sendJson(res, 201, reply);
      return;
    }
    if (method !== 'GET') throw new ApiFailure('notAllowed', `method ${method} is not allowed here (allowed: GET)`, { status: 405 });
    const room = ROOM_ASSET_RE.exec(u.pathname);
    if (room) {
      const actor = this.opts.accounts.authenticate(req.headers.authorization);
      let roomUri: string;
      try {
        roomUri = decodeURIComponent(room[1]);
      } catch {
        throw badRequest('the room in the path is not valid percent-encoding');
      }
      const url = u.searchParams.get('url');
      if (!url) throw badRequest('query parameter "url" (the asset URL from the message) is required');
      await this.roomAsset(actor, roomUri, url, res);
      return;
    }
    // GET /assets/{id}: our own clients by token, peers by their vetted client certificate.
    const id = u.pathname.slice(ASSET_PATH_PREFIX.length);
    if (req.headers.authorization !== undefined) this.opts.accounts.authenticate(req.headers.authorization);
    else authenticatePeer(req, this.opts.domain);
    await this.serveLocal(id, res);
  }

  // ---- upload ----

  private usedBy(userUri: string): number {
    const row = this.opts.store.db.prepare('SELECT COALESCE(SUM(size), 0) AS used FROM assets WHERE owner_user = ?').get(userUri) as { used: number };
    return row.used;
  }

  private quotaFailure(used: number, size: number): ApiFailure {
    return new ApiFailure(
      'quotaExceeded',
      `your files on this provider take ${mib(used)} of your ${mib(this.limits.quotaBytes)}; this one (${mib(size)}) does not fit. Ask your provider's operator for more room`,
    );
  }

  private tooLarge(n: number | string): ApiFailure {
    return new ApiFailure('tooLarge', `the file is ${typeof n === 'number' ? mib(n) : n}; this provider takes files of at most ${mib(this.limits.maxAssetBytes)}: send a smaller one`);
  }

  /**
   * What can be judged from an upload's headers alone (token, declared size, quota): the size.
   * Also run on `Expect: 100-continue` (server.ts), so a refused file is never sent at all.
   */
  precheckUpload(req: IncomingMessage): { actor: Actor; size: number } {
    const actor = this.opts.accounts.authenticate(req.headers.authorization);
    const declared = req.headers['content-length'];
    if (declared === undefined) throw new ApiFailure('badRequest', 'an upload needs a Content-Length header', { status: 411 });
    if (!/^\d{1,16}$/.test(declared)) throw badRequest('Content-Length must be a number of bytes');
    const size = Number(declared);
    if (size === 0) throw badRequest('the upload is empty');
    if (size > this.limits.maxAssetBytes) throw this.tooLarge(size);
    const used = this.usedBy(actor.userUri);
    if (used + size > this.limits.quotaBytes) throw this.quotaFailure(used, size);
    return { actor, size };
  }

  private async upload(req: IncomingMessage): Promise<{ url: string; size: number }> {
    const { actor, size } = this.precheckUpload(req);
    const tooLarge = (n: number | string) => this.tooLarge(n);

    const id = randomBytes(16).toString('base64url');
    const tmp = stagedPath(this.tmpDir, id);
    let received = 0;
    const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    try {
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            received += chunk.length;
            // Content-Length is what the client promised; more than that is not the file it declared.
            if (received > size) throw tooLarge('larger than its declared size');
            yield chunk;
          }
        },
        out,
      );
      if (received !== size) throw badRequest(`the upload ended after ${received} of ${size} bytes: try again`);
      // Durable before it is acknowledged: a 201 means the file survives a crash. (On PostgreSQL
      // the file is only staging: the COMMIT below is what makes the contents durable.)
      if (!this.inDatabase) {
        const fd = fs.openSync(tmp, 'r');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      // Quota again, atomically with the row: two uploads racing must not both squeeze in.
      const store = this.opts.store;
      store.tx(() => {
        const nowUsed = this.usedBy(actor.userUri);
        if (nowUsed + size > this.limits.quotaBytes) throw this.quotaFailure(nowUsed, size);
        if (!this.inDatabase) fs.renameSync(tmp, path.join(this.dir, id));
        store.db
          .prepare('INSERT INTO assets (id, owner_user, device_uri, size, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(id, actor.userUri, actor.deviceUri, size, Date.now());
        if (this.inDatabase) {
          // In the row's transaction: the asset exists with all its bytes or not at all, on every node.
          const put = this.pieces!.put;
          copyFileToPieces(tmp, size, (seq, piece) => put.run(id, seq, piece));
        }
      });
      if (this.inDatabase) fs.rmSync(tmp, { force: true });
    } catch (e) {
      out.destroy();
      fs.rmSync(tmp, { force: true });
      if (e instanceof ApiFailure) throw e;
      throw badRequest(`the upload was interrupted (${(e as Error).message}): try again`);
    }
    return { url: `${this.opts.publicUrl().replace(/\/+$/, '')}${ASSET_PATH_PREFIX}${id}`, size };
  }

  // ---- download ----

  private serveLocal(id: string, res: ServerResponse): void | Promise<void> {
    if (!ASSET_ID_RE.test(id)) throw new ApiFailure('notFound', 'no such file on this provider');
    const row = this.opts.store.db.prepare('SELECT size FROM assets WHERE id = ?').get(id) as { size: number } | undefined;
    if (!row) throw new ApiFailure('notFound', 'no such file on this provider: it was never uploaded here or has been deleted');
    if (this.inDatabase) {
      const piece = this.pieces!.get;
      // The first piece before the status, so contents that cannot be read are a 500, as a
      // missing file is on SQLite.
      const first = piece.get(id, 0) as Buffer | undefined;
      if (!first) {
        this.opts.log(`asset ${id}: its contents are missing`);
        throw new ApiFailure('internal', 'the file could not be read', { status: 500 });
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(row.size),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      return writePieces(res, pieceCount(row.size), (seq) => (seq === 0 ? first : (piece.get(id, seq) as Buffer | undefined)), (m) => this.opts.log(`asset ${id}: ${m}`));
    }
    const stream = fs.createReadStream(path.join(this.dir, id));
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
      this.opts.log(`asset ${id}: ${e.message}`);
      if (!res.headersSent) sendJson(res, 500, new ApiFailure('internal', 'the file could not be read').toBody());
      else res.destroy();
    });
  }

  /** The asset's id when `url` names a file of ours (by our public or our listening origin). */
  private ownAssetId(url: string): string | null {
    const origin = originOf(url);
    if (!origin) return null;
    if (origin !== originOf(this.opts.publicUrl()) && origin !== originOf(this.opts.listenUrl())) return null;
    const p = new URL(url).pathname;
    return p.startsWith(ASSET_PATH_PREFIX) ? p.slice(ASSET_PATH_PREFIX.length) : null;
  }

  /**
   * The hub's rule (draft-06: "MUST verify that the host part of the downloadUrl is associated with
   * the asset server domain for one of its peer providers"): the peer whose asset origin (the base
   * URL it is configured with, scheme, host and port) is the URL's. null: no peer's.
   */
  private peerForAsset(url: string): string | null {
    const origin = originOf(url);
    if (!origin) return null;
    for (const [domain] of this.opts.federation.peers) {
      if (originOf(peerBaseUrl(this.opts.federation, domain)) === origin) return domain;
    }
    // A peer without --peer is reached at https://<domain>: that is its asset origin too, if it
    // takes part in a room hosted here (it has a device in one), which is what makes it a peer.
    const host = new URL(url).hostname.toLowerCase();
    if (origin === `https://${host}` && !this.opts.federation.peers.has(host) && host !== this.opts.domain) {
      const member = this.opts.store.db
        .prepare("SELECT 1 FROM room_devices WHERE substr(device_uri, 1, length(?)) = ? LIMIT 1")
        .get(`mimi://${host}/`, `mimi://${host}/`);
      if (member) return host;
    }
    return null;
  }

  /** Client route: an asset of a room this device is in, direct if ours, else through the room's hub. */
  private async roomAsset(actor: Actor, roomUri: string, url: string, res: ServerResponse): Promise<void> {
    let hub: string;
    try {
      hub = parseMimiUri(roomUri).domain;
    } catch {
      throw badRequest(`${JSON.stringify(roomUri)} is not a room URI`);
    }
    if (this.identities.membersOfDevice(roomUri, actor.deviceUri).length === 0) {
      throw new ApiFailure('notMember', 'only devices in the room can fetch its files');
    }
    if (!originOf(url)) throw badRequest('the asset URL must be an https URL');
    const own = this.ownAssetId(url);
    if (own !== null) return this.serveLocal(own, res);
    if (hub === this.opts.domain || this.opts.hosts(roomUri)) {
      // We are the room's hub: apply the proxyDownload rule to our own client too.
      return this.proxyAsHub(url, res);
    }
    // The draft's flow: the downloading provider asks the hub's proxyDownload, never the asset's
    // provider itself (which then learns neither this provider nor the room).
    let target: URL;
    try {
      target = await this.opts.peerClient.endpointUrl(hub, 'proxyDownload', url);
    } catch (e) {
      throw new ApiFailure('peerUnreachable', `the room's provider ${hub} can't be reached to fetch the file (${(e as Error).message}); try again later`, { status: 502 });
    }
    await this.streamFromPeer(hub, target, res, `the file through ${hub}`);
  }

  /** The MIMI proxyDownload endpoint (we are the hub): `param` is the downloadUrl. */
  async proxyDownload(peer: string, param: string, res: ServerResponse): Promise<void> {
    if (!originOf(param)) throw badRequest('the downloadUrl must be an https URL');
    this.opts.log(`proxyDownload for ${peer}`);
    await this.proxyAsHub(param, res);
  }

  private async proxyAsHub(url: string, res: ServerResponse): Promise<void> {
    const own = this.ownAssetId(url);
    if (own !== null) return this.serveLocal(own, res);
    const peer = this.peerForAsset(url);
    if (!peer) {
      throw new ApiFailure('notAllowed', `${new URL(url).host} is not the asset server of any provider ${this.opts.domain} federates with: the hub does not fetch from it`);
    }
    await this.streamFromPeer(peer, new URL(url), res, `the file from ${peer}`);
  }

  /** GET `url` at `domain` over mutual TLS and pass the bytes on as they arrive (size-capped). */
  private streamFromPeer(domain: string, url: URL, res: ServerResponse, what: string, retried = false): Promise<void> {
    const cap = this.limits.maxAssetBytes;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const done = (e?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (e) reject(e);
        else resolve();
      };
      const unreachable = (why: string) =>
        new ApiFailure('peerUnreachable', `provider ${domain} can't be reached for ${what} (${why}); try again later`, { status: 502 });
      const req = https.request(
        {
          method: 'GET',
          protocol: 'https:',
          hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: url.port || 443,
          path: url.pathname + url.search,
          headers: { host: domain, from: `mimi@${this.opts.domain}`, accept: 'application/octet-stream' },
          agent: this.agent,
          servername: domain,
          checkServerIdentity: (_h: string, cert: PeerCertificate) => tls.checkServerIdentity(domain, cert),
        },
        (up) => {
          answered = true;
          const status = up.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            up.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
            up.on('end', () => {
              let detail = `HTTP ${status}`;
              try {
                const err = (JSON.parse(fromUtf8(Buffer.concat(chunks))) as { error?: { message?: string } }).error;
                if (err?.message) detail = err.message;
              } catch {
                // not an ApiError body
              }
              if (status === 404) done(new ApiFailure('notFound', `${domain} no longer has the file (${detail})`));
              else if (status === 403) done(new ApiFailure('notAllowed', `${domain} refused ${what}: ${detail}`));
              else if (status === 413) done(new ApiFailure('tooLarge', `${domain} refused ${what}: ${detail}`));
              else done(unreachable(detail));
            });
            up.on('error', (e) => done(unreachable(e.message)));
            return;
          }
          const declared = Number(up.headers['content-length']);
          if (!Number.isSafeInteger(declared) || declared > cap) {
            up.destroy();
            done(new ApiFailure('tooLarge', `${domain} offered ${what} of ${Number.isNaN(declared) ? 'unknown' : mib(declared)} size; at most ${mib(cap)} is passed on`));
            return;
          }
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': String(declared),
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          });
          // From here on the status is sent: a failure can only cut the body short, which the
          // requester notices (fewer bytes than Content-Length, and a failing AEAD tag).
          pipeline(up, res).then(
            () => done(),
            () => {
              res.destroy();
              done();
            },
          );
        },
      );
      const deadline = setTimeout(() => {
        req.destroy();
        if (!res.headersSent) done(unreachable(`no answer within ${this.timeoutMs} ms`));
        else res.destroy();
      }, this.timeoutMs);
      req.on('error', (e) => {
        // A pooled connection the peer closed as idle (idle-connection.ts): asked once more.
        if (!retried && !settled && closedWhileIdle(req, e, answered)) {
          settled = true;
          clearTimeout(deadline);
          this.streamFromPeer(domain, url, res, what, true).then(resolve, reject);
          return;
        }
        if (!res.headersSent) done(unreachable(e.message));
        else {
          res.destroy();
          done();
        }
      });
      req.end();
    });
  }
}
