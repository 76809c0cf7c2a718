// Acting as a MIMI peer provider by hand: in-process providers that trust each other's dev CA,
// provider identities (a dev CA plus a federation client certificate) that need no running
// provider, raw mutual-TLS requests to the MIMI endpoints with chosen From/Host headers, and
// read-only snapshots of a provider's SQLite file. Used by tests that play a hostile or buggy peer.

import type Database from 'better-sqlite3';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { decodeGroupInfo, decodeRatchetTree, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { encodeUpdateRequest } from '../../src-shared/mimi-protocol.js';
import type { CommitOutput } from '../../src-main/mls/engine.js';
import { ensureDevCa, type DevCaFiles } from '../../src-provider/dev-ca.js';
import { ensureFederationIdentity } from '../../src-provider/federation/mtls.js';
import { startProvider, type ProviderOptions, type RunningProvider } from '../../src-provider/server.js';
import { DB_FILE } from '../../src-provider/store.js';
import { freePort, testDatabase } from './provider-process.js';
import { withProviderDb } from './provider-db.js';


/** A provider's identity toward peers: its CA (for --trust) and its mTLS client certificate. */
export interface PeerIdentity {
  domain: string;
  dataDir: string;
  ca: DevCaFiles;
  cert: string;
  key: string;
}

/** Creates (or reuses) the dev CA and federation client certificate in `dataDir`. */
export async function peerIdentity(domain: string, dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mimi-peer-${domain}-`))): Promise<PeerIdentity> {
  const ca = await ensureDevCa(dataDir, domain);
  const id = await ensureFederationIdentity(dataDir, ca, domain);
  return { domain, dataDir, ca, cert: id.certPem, key: id.keyPem };
}

/** An in-process provider whose identity exists before it starts, so peers can trust it first. */
export class PeerNode {
  p?: RunningProvider;
  readonly logs: string[] = [];
  private constructor(
    readonly id: PeerIdentity,
    readonly port: number,
  ) {}

  static async prepare(domain: string): Promise<PeerNode> {
    return new PeerNode(await peerIdentity(domain), await freePort());
  }

  get domain(): string {
    return this.id.domain;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get dbFile(): string {
    return path.join(this.id.dataDir, DB_FILE);
  }

  get running(): RunningProvider {
    if (!this.p) throw new Error(`${this.domain} is not running`);
    return this.p;
  }

  /** Starts with `peers` reachable and the CAs of `trust` (identities or nodes) trusted. */
  async start(
    o: { peers?: PeerNode[]; trust?: (PeerNode | PeerIdentity)[]; /** further startProvider options, unchecked */ extra?: Record<string, unknown> } & Partial<ProviderOptions> = {},
  ): Promise<this> {
    const { peers = [], trust = [], extra = {}, ...rest } = o;
    this.p = await startProvider({
      // The suite's PostgreSQL pass: the node's own database, kept across restarts on its folder.
      database: await testDatabase(this.id.dataDir),
      ...extra,
      domain: this.domain,
      port: this.port,
      dataDir: this.id.dataDir,
      log: (m) => this.logs.push(m),
      federation: {
        peers: Object.fromEntries(peers.map((n) => [n.domain, n.url])),
        trustPem: trust.map((t) => ('id' in t ? t.id.ca.caPem : t.ca.caPem)),
      },
      fanout: { baseDelayMs: 20, maxDelayMs: 200 },
      peerTimeoutMs: 3000,
      ...rest,
    });
    return this;
  }

  /** Stops, fails if the provider logged an internal error, and removes its data dir. */
  async destroy(): Promise<void> {
    await this.p?.close();
    this.p = undefined;
    const internal = this.logs.filter((l) => l.includes('internal error'));
    fs.rmSync(this.id.dataDir, { recursive: true, force: true });
    if (internal.length) throw new Error(`${this.domain} logged internal errors:\n${this.logs.join('\n')}`);
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Where a raw request goes: a provider's port, checked against its CA as `domain`. */
export interface Target {
  domain: string;
  port: number;
  caPem: string;
}

export const targetOf = (n: PeerNode): Target => ({ domain: n.domain, port: n.port, caPem: n.id.ca.caPem });

/** One HTTPS request as an arbitrary client (with or without a client certificate). */
export function rawRequest(
  target: Target,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: Uint8Array; cert?: string; key?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: target.port,
        method: o.method ?? 'POST',
        path: o.path,
        headers: { ...(o.body ? { 'content-length': String(o.body.length) } : {}), ...o.headers },
        ca: target.caPem,
        servername: target.domain,
        cert: o.cert,
        key: o.key,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body ? Buffer.from(o.body) : undefined);
  });
}

/** `POST /mimi/v1/<endpoint>/<param>` to `target` as the provider `as` (its certificate, From and the target's Host). */
export function mimiPost(target: Target, as: Pick<PeerIdentity, 'domain' | 'cert' | 'key'>, endpoint: string, param: string, body: Uint8Array): Promise<RawResponse> {
  return rawRequest(target, {
    path: `/mimi/v1/${endpoint}/${encodeURIComponent(param)}`,
    headers: { host: target.domain, from: `mimi@${as.domain}`, 'content-type': 'application/mimi' },
    body,
    cert: as.cert,
    key: as.key,
  });
}

/** The /update body a follower provider sends for a commit: the commit, its full GroupInfo and full ratchet tree. */
export function updateBody(out: Pick<CommitOutput, 'commit' | 'groupInfo' | 'ratchetTree'>): Uint8Array {
  return encodeUpdateRequest({
    bundle: {
      proposalOrCommit: out.commit,
      contentType: 'commit',
      groupInfoOption: { representation: 'full', groupInfo: decodeGroupInfo(unwrapMlsMessage(out.groupInfo).body) },
      ratchetTreeOption: { representation: 'full', ratchetTree: decodeRatchetTree(out.ratchetTree) },
    },
  });
}

/** The JSON ApiError of a refused request. */
export function apiError(r: RawResponse): { code: string; message: string; currentEpoch?: string } {
  assert(r.headers['content-type']?.toString().startsWith('application/json'), `HTTP ${r.status} with ${r.headers['content-type']}: ${r.body.toString()}`);
  return (JSON.parse(r.body.toString('utf8')) as { error: { code: string; message: string; currentEpoch?: string } }).error;
}

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/**
 * Reads a provider's database through a separate (on SQLite read-only) connection. `dbFile` names
 * the provider by its SQLite file (node.dbFile, <dataDir>/provider.sqlite); in the PostgreSQL pass
 * the same call reads that data folder's database instead (provider-db.ts withProviderDb).
 */
export function withDb<T>(dbFile: string, fn: (db: Database.Database) => T): T {
  if (path.basename(dbFile) !== DB_FILE) throw new Error(`withDb takes a provider's ${DB_FILE} path, got ${dbFile}`);
  return withProviderDb(path.dirname(dbFile), fn);
}

export const count = (db: Database.Database, sql: string, ...params: unknown[]): number => (db.prepare(sql).get(...params) as { n: number }).n;
