// The operator's moderation console, under /admin/ on the provider's own port: a small page
// (admin-page.ts) and a JSON API over the queue of abuse reports about the rooms hosted here
// (admin-store.ts), with three actions: have the hub remove the alleged abuser's members from the
// room (Remove proposals as the room's external sender, committed by its members), ban them (the
// room state with them in the banned role, and the Removes: hub/bans.ts), and dismiss.
//
// Authentication is one admin token, made on first start in the data dir (`admin-token`, 0600,
// 32 random bytes base64url) and never logged: requests carry `Authorization: Bearer <token>`.
// It is no account's token (the client API does not know it), and account tokens do not work here.
// State-changing requests also need `Content-Type: application/json` and an `Origin` that is this
// provider's own (or none, for non-browser clients); no CORS headers are ever sent. The listening
// URL goes to `admin-url` next to the token, for the command line (admin-cli.ts).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { ApiFailure, badRequest } from './errors.js';
import { readJsonObject, sendJson } from './http.js';
import type { Hub } from './hub.js';
import { storedMembers } from './room-members.js';
import { banStatus } from './hub/bans.js';
import type { Store } from './store.js';
import { ModerationQueue, parseFilter, parseReportId, type RoomLookup } from './admin-store.js';
import { ADMIN_CSS, ADMIN_CSP, ADMIN_HTML, ADMIN_JS } from './admin-page.js';

export const ADMIN_TOKEN_FILE = 'admin-token';
export const ADMIN_URL_FILE = 'admin-url';
export const ADMIN_PREFIX = '/admin';
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export const isAdminPath = (pathname: string): boolean => pathname === ADMIN_PREFIX || pathname.startsWith(`${ADMIN_PREFIX}/`);

/**
 * The admin token of `dataDir`: read, or made on first start (exclusive create, mode 0600). A token
 * file others can read is tightened to 0600 (and `warn` is told); a malformed one is an error.
 */
export function ensureAdminToken(dataDir: string, warn: (msg: string) => void = () => {}): { file: string; token: string } {
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.statSync(file);
  if (!st.isFile()) throw new Error(`${file} is not a file`);
  if ((st.mode & 0o077) !== 0) {
    fs.chmodSync(file, 0o600);
    warn(`${file} was readable by others (mode ${(st.mode & 0o777).toString(8)}): made it 0600; consider replacing the token (delete the file and restart)`);
  }
  const token = fs.readFileSync(file, 'utf8').trim();
  if (!TOKEN_RE.test(token)) throw new Error(`${file} does not hold an admin token (43 base64url characters): delete it to have a new one made`);
  return { file, token };
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Compares a presented token with the admin token in constant time (both hashed to 32 bytes first). */
export function tokenMatches(presented: string, token: string): boolean {
  return timingSafeEqual(digest(presented), digest(token));
}

const PAGE_HEADERS = {
  'content-security-policy': ADMIN_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const ASSETS: Record<string, { type: string; body: Buffer }> = {
  '/admin/': { type: 'text/html; charset=utf-8', body: Buffer.from(ADMIN_HTML, 'utf8') },
  '/admin/admin.js': { type: 'text/javascript; charset=utf-8', body: Buffer.from(ADMIN_JS, 'utf8') },
  '/admin/admin.css': { type: 'text/css; charset=utf-8', body: Buffer.from(ADMIN_CSS, 'utf8') },
};

export interface AdminConsoleOptions {
  store: Store;
  hub: Hub;
  dataDir: string;
  domain: string;
  log: (msg: string) => void;
  /** Origins (scheme://host:port) besides the one the request's Host names that count as this provider's own. */
  ownOrigins: () => string[];
  now?: () => number;
}

export class AdminConsole {
  readonly tokenFile: string;
  readonly queue: ModerationQueue;
  private readonly token: string;
  private urlFile?: string;

  constructor(private readonly opts: AdminConsoleOptions) {
    const { file, token } = ensureAdminToken(opts.dataDir, opts.log);
    this.tokenFile = file;
    this.token = token;
    const rooms: RoomLookup = { hosts: (r) => opts.hub.hosts(r), membersOf: (r) => storedMembers(opts.store, r), banStatus: (r, u) => banStatus(opts.store, r, u) };
    this.queue = new ModerationQueue(opts.store.db, rooms, opts.now);
  }

  /** Once listening: the URL goes to `admin-url` (for provider-admin), and the log says where the token is. */
  started(url: string): void {
    this.urlFile = path.join(this.opts.dataDir, ADMIN_URL_FILE);
    fs.writeFileSync(this.urlFile, `${url}\n`, { mode: 0o600 });
    this.opts.log(`admin: moderation page at ${url}/admin/ ; admin token in ${this.tokenFile}`);
  }

  /** On close: `admin-url` goes, unless another process has written its own since. */
  stopped(url: string): void {
    if (!this.urlFile) return;
    try {
      if (fs.readFileSync(this.urlFile, 'utf8').trim() === url) fs.unlinkSync(this.urlFile);
    } catch {
      // already gone
    }
  }

  /** Serves a request under /admin (isAdminPath). ApiFailures become JSON errors; others are rethrown. */
  async handle(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    try {
      await this.route(req, res, u);
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      const headers: Record<string, string> = { 'x-frame-options': 'DENY' };
      if (e.status === 401) headers['www-authenticate'] = 'Bearer realm="mimi-admin"';
      if (e.status === 413) headers.connection = 'close';
      sendJson(res, e.status, e.toBody(), headers);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const p = u.pathname;
    if (p === ADMIN_PREFIX) {
      if (method !== 'GET' && method !== 'HEAD') throw notAllowed(method, 'GET');
      res.writeHead(308, { location: '/admin/', 'cache-control': 'no-store', 'content-length': '0' });
      res.end();
      return;
    }
    const asset = ASSETS[p];
    if (asset) {
      if (method !== 'GET' && method !== 'HEAD') throw notAllowed(method, 'GET');
      res.writeHead(200, { ...PAGE_HEADERS, 'content-type': asset.type, 'content-length': String(asset.body.length) });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    const parts = p.split('/').slice(1); // ['admin', 'api', 'reports', id?, action?]
    if (parts[1] !== 'api' || parts[2] !== 'reports' || parts.length > 5) throw new ApiFailure('notFound', `nothing at ${p}`);
    if (parts.length === 3) {
      this.expect(method, 'GET');
      this.authenticate(req);
      const filter = parseFilter(u.searchParams.get('state'));
      sendJson(res, 200, { reports: this.queue.list(filter) });
      return;
    }
    const id = parseReportId(parts[3]);
    if (parts.length === 4) {
      this.expect(method, 'GET');
      this.authenticate(req);
      sendJson(res, 200, { report: this.queue.detail(id) });
      return;
    }
    const action = parts[4];
    if (action !== 'remove' && action !== 'ban' && action !== 'dismiss') throw new ApiFailure('notFound', `no action ${JSON.stringify(action.slice(0, 40))} (remove, ban, dismiss)`);
    this.expect(method, 'POST');
    this.checkOrigin(req);
    const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (ct !== 'application/json') throw badRequest('Content-Type must be application/json', 415);
    this.authenticate(req);
    const body = await readJsonObject(req, 4096);
    if (Object.keys(body).length > 0) throw badRequest(`unknown field "${Object.keys(body)[0].slice(0, 40)}" (the body is {})`);
    if (action === 'dismiss') {
      const report = this.queue.dismiss(id, 'api');
      this.opts.log(`admin: dismissed report ${id} (room ${report.roomUri}, alleged ${report.allegedAbuser})`);
      sendJson(res, 200, { report: this.queue.detail(id) });
      return;
    }
    if (action === 'ban') {
      const report = this.queue.banTarget(id);
      const { members } = this.opts.hub.proposeBan(report.roomUri, report.allegedAbuser);
      this.queue.recordBan(id, 'api', members);
      this.opts.log(`admin: report ${id}: proposed banning ${report.allegedAbuser} from ${report.roomUri}${members.length ? ` and removing ${members.join(', ')}` : ''}`);
      sendJson(res, 200, { report: this.queue.detail(id), proposed: members });
      return;
    }
    const { report, members } = this.queue.removalTargets(id);
    this.opts.hub.proposeRemoval(report.roomUri, members);
    this.queue.recordRemoval(id, 'api', members);
    this.opts.log(`admin: report ${id}: proposed removal of ${members.join(', ')} (${report.allegedAbuser}) from ${report.roomUri}`);
    sendJson(res, 200, { report: this.queue.detail(id), proposed: members });
  }

  private expect(method: string, allowed: string): void {
    if (method !== allowed) throw notAllowed(method, allowed);
  }

  private authenticate(req: IncomingMessage): void {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer ([^\s]{1,512})$/.exec(header);
    if (!m) throw new ApiFailure('unauthorized', 'the admin API needs Authorization: Bearer <admin token>');
    if (!tokenMatches(m[1], this.token)) throw new ApiFailure('unauthorized', 'that is not the admin token');
  }

  /** A browser's state-changing request must come from this provider's own origin; none at all is a non-browser client. */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const own = new Set(this.opts.ownOrigins().map(originOf).filter((o): o is string => o !== undefined));
    const host = req.headers.host;
    if (host) {
      const o = originOf(`https://${host}`);
      if (o) own.add(o);
    }
    if (!own.has(origin)) throw new ApiFailure('notAllowed', `requests from origin ${JSON.stringify(origin.slice(0, 100))} are refused`);
  }
}

function notAllowed(method: string, allowed: string): ApiFailure {
  return new ApiFailure('notAllowed', `method ${method} is not allowed here (allowed: ${allowed})`, { status: 405 });
}

function originOf(url: string): string | undefined {
  try {
    const o = new URL(url).origin;
    return o === 'null' ? undefined : o;
  } catch {
    return undefined;
  }
}
