// In-process provider for the provider integration tests: real HTTPS + WebSocket on 127.0.0.1
// with the data dir's dev CA, a real SQLite file in a temp dir, and real MLS objects from the
// app's MLS engine.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { fromB64, toB64, toHex } from '../../src-shared/bytes.js';
import type { PushFrame, SessionResponse } from '../../src-shared/provider-api.js';
import type { DeviceKeys, GeneratedKeyPackage, MlsEngine } from '../../src-main/mls/engine.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { startProvider, type RunningProvider } from '../../src-provider/server.js';
import { DB_FILE } from '../../src-provider/store.js';
import { withProviderDb } from './provider-db.js';
import { restartablePort, testDatabase } from './provider-process.js';

export const TABLES = [
  'users',
  'devices',
  'key_packages',
  'key_package_claims',
  'rooms',
  'room_participants',
  'room_devices',
  'events',
  'inbox',
  'idempotency',
] as const;

export interface TestProvider {
  p: RunningProvider;
  dataDir: string;
  dbFile: string;
  client(token?: string): ProviderClient;
  /** Row count of every table (read through a separate read-only connection). */
  counts(): Record<string, number>;
  query<T = unknown>(sql: string, ...params: unknown[]): T[];
  /** Close and start again on the same data dir and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestProvider(
  domain = 'a.example',
  opts: { pingIntervalMs?: number; pushBatchSize?: number; pushHighWaterBytes?: number } = {},
): Promise<TestProvider> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-provider-test-'));
  const clients: ProviderClient[] = [];
  const logs: string[] = [];
  const database = await testDatabase(dataDir);
  const start = (port: number) =>
    startProvider({ domain, port, dataDir, database, ...opts, log: (m) => logs.push(m) });
  const tp: TestProvider = {
    p: await start(await restartablePort()), // restart() reuses the port
    dataDir,
    dbFile: path.join(dataDir, DB_FILE),
    client(token) {
      const c = new ProviderClient({ baseUrl: tp.p.url, caPem: tp.p.caPem, token });
      clients.push(c);
      return c;
    },
    counts() {
      return withProviderDb(dataDir, (db) => Object.fromEntries(TABLES.map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n])));
    },
    query<T>(sql: string, ...params: unknown[]) {
      return withProviderDb(dataDir, (db) => db.prepare(sql).all(...params) as T[]);
    },
    async restart() {
      const port = tp.p.port;
      await tp.p.close();
      tp.p = await start(port);
    },
    async stop() {
      for (const c of clients) c.close();
      await tp.p.close();
      if (logs.some((l) => l.includes('internal error'))) {
        throw new Error(`provider logged internal errors:\n${logs.join('\n')}`);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return tp;
}

export interface TestDevice {
  session: SessionResponse;
  client: ProviderClient;
  keys: DeviceKeys;
  /** Generated KeyPackages by hex KeyPackageRef, to join from a Welcome. */
  keyPackages: Map<string, GeneratedKeyPackage>;
}

let counter = 0;
/** A unique handle per call, so tests in one file never collide. */
export const uniqueHandle = (base: string): string => `${base}${++counter}`;

export const PASSWORD = 'correct horse battery staple';

async function device(tp: TestProvider, engine: MlsEngine, session: SessionResponse, client: ProviderClient): Promise<TestDevice> {
  return { session, client, keys: await engine.newDeviceKeys(session.deviceUri), keyPackages: new Map() };
}

export async function registerDevice(tp: TestProvider, engine: MlsEngine, handle: string): Promise<TestDevice> {
  const client = tp.client();
  const session = await client.register({ handle, password: PASSWORD, deviceName: `${handle} laptop` });
  return device(tp, engine, session, client);
}

export async function loginDevice(tp: TestProvider, engine: MlsEngine, handle: string): Promise<TestDevice> {
  const client = tp.client();
  const session = await client.login({ handle, password: PASSWORD, deviceName: `${handle} phone` });
  return device(tp, engine, session, client);
}

/** Generate `n` KeyPackages for the device and upload them (plus an optional last-resort one). */
export async function publishKeyPackages(engine: MlsEngine, dev: TestDevice, n: number, lastResort = false) {
  const kps = await engine.generateKeyPackages(dev.keys, n + (lastResort ? 1 : 0));
  for (const kp of kps) dev.keyPackages.set(toHex(kp.ref), kp);
  const single = lastResort ? kps.slice(0, n) : kps;
  return dev.client.uploadKeyPackages({
    keyPackages: single.map((k) => toB64(k.publicMessage)),
    ...(lastResort ? { lastResort: toB64(kps[n].publicMessage) } : {}),
  });
}

/** The local KeyPackage a claimed public one corresponds to. */
export async function ownKeyPackage(engine: MlsEngine, dev: TestDevice, publicB64: string): Promise<GeneratedKeyPackage> {
  const ref = await engine.keyPackageRef(fromB64(publicB64));
  const kp = dev.keyPackages.get(toHex(ref));
  if (!kp) throw new Error('claimed KeyPackage is not one this device generated');
  return kp;
}

let roomCounter = 0;
export const newRoomUri = (domain = 'a.example'): string => `mimi://${domain}/r/test-${process.pid}-${++roomCounter}-${Date.now()}`;

let requestCounter = 0;
export const requestId = (): string => `req-${process.pid}-${++requestCounter}`;

/**
 * A raw push-stream reader (no reconnect logic) for asserting exactly what the server sends.
 */
export class RawPush {
  readonly frames: PushFrame[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number }>;

  constructor(tp: TestProvider, token: string | undefined, cursor?: number) {
    const url = `${tp.p.url.replace('https', 'wss')}/v1/events${cursor === undefined ? '' : `?cursor=${cursor}`}`;
    this.ws = new WebSocket(url, { ca: tp.p.caPem, headers: token ? { authorization: `Bearer ${token}` } : {} });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve({ code })));
    this.ws.on('message', (d) => this.frames.push(JSON.parse(d.toString()) as PushFrame));
  }

  events() {
    return this.frames.filter((f) => f.type === 'event');
  }

  async waitFor(cond: (p: RawPush) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond(this)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => [f.type, f.seq]))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  ack(seq: number): void {
    this.ws.send(JSON.stringify({ type: 'ack', seq }));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
