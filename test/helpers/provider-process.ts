// Runs a real provider as a child process (its own TLS identity, its own SQLite file) the way a
// user starts one: `npm run provider -- --domain D --port P --data DIR`.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * How `npm run provider` starts a provider: the bundle when it is fresh, the sources through tsx
 * otherwise (bin/mimi-provider.mjs). A provider from the bundle costs 1.1 s of CPU to start instead
 * of 2.5 s, and the suite starts hundreds.
 */
export const PROVIDER_ENTRY = path.join(ROOT, 'bin/mimi-provider.mjs');

export interface ProviderProcess {
  url: string;
  port: number;
  domain: string;
  dataDir: string;
  caPem: string;
  caFile: string;
  child: ChildProcess;
  /** Everything the provider wrote to stdout and stderr so far (its log). */
  output(): string;
  /** SIGKILL: no chance to flush or close anything. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * A free port below the kernel's ephemeral range (32768+ here), for a server that is restarted on
 * the same port: ports from listen(0) or outgoing connections can never take it in between.
 */
export async function restartablePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 20000-31999');
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mimi-${prefix}-`));
}

/**
 * MIMI_TEST_POSTGRES (the URL of a running server's maintenance database, set by the test command
 * for the provider suite's PostgreSQL pass): every provider a test starts without a --database of
 * its own gets a fresh empty database on that server, so the same tests run on both engines.
 * A provider restarted on its data folder keeps its database (remembered by folder).
 */
const pgDatabases = new Map<string, string>();
export async function testDatabaseArgs(dataDir: string, args: readonly string[] = []): Promise<string[]> {
  if (args.includes('--database')) return [];
  const url = await testDatabase(dataDir);
  return url ? ['--database', url] : [];
}

/** The PostgreSQL database of the provider on `dataDir` in the PostgreSQL pass; undefined on SQLite. */
export async function testDatabase(dataDir: string): Promise<string | undefined> {
  const server = process.env.MIMI_TEST_POSTGRES;
  if (!server) return undefined;
  let url = pgDatabases.get(dataDir);
  if (!url) {
    url = await newDatabase(server, `t${pgDatabases.size}`);
    pgDatabases.set(dataDir, url);
  }
  return url;
}

/** A new empty database on the PostgreSQL server of `serverUrl` (any database's URL); returns its URL. */
export async function newDatabase(serverUrl: string, prefix: string): Promise<string> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** What a run of `provider-admin` printed and how it ended. */
export interface AdminRun {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `provider-admin ARGS` as an operator would (`npm run provider-admin` with `viaNpm`). */
export function providerAdmin(args: string[], opts: { viaNpm?: boolean } = {}): Promise<AdminRun> {
  const [cmd, argv] = opts.viaNpm ? ['npm', ['run', '-s', 'provider-admin', '--', ...args]] : [process.execPath, [path.join(ROOT, 'bin/mimi-provider-admin.mjs'), ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

/** provider-admin's arguments for the provider on `dataDir`: its folder, and its database when that is not the SQLite file there (the PostgreSQL pass). */
export function adminDataArgs(dataDir: string): string[] {
  const url = knownTestDatabase(dataDir);
  return ['--data', dataDir, ...(url ? ['--database', url] : [])];
}

/** The database URL testDatabase gave the provider on `dataDir`, if any (no new one is made). */
export function knownTestDatabase(dataDir: string): string | undefined {
  return pgDatabases.get(dataDir);
}

export async function startProviderProcess(opts: { domain: string; dataDir?: string; port?: number; args?: string[] }): Promise<ProviderProcess> {
  const dataDir = opts.dataDir ?? tempDir(`prov-${opts.domain}`);
  const dbArgs = await testDatabaseArgs(dataDir, opts.args);
  const child = spawn(process.execPath, [...(process.env.PROVIDER_NODE_ARGS ? process.env.PROVIDER_NODE_ARGS.split(' ') : []), PROVIDER_ENTRY, '--domain', opts.domain, '--port', String(opts.port ?? 0), '--data', dataDir, ...dbArgs, ...(opts.args ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let all = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
    all += d;
  });
  child.stdout!.on('data', (d) => (all += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    // One that does not start is killed: left running, its pipes would keep the test file alive
    // until the runner's 5-minute limit instead of failing now with what it printed.
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`provider ${opts.domain} did not start in 30 s; its output:\n${all.slice(-3000) || '(nothing)'}`));
    }, 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (https:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`provider exited with ${code}: ${stderr}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const caFile = path.join(dataDir, 'ca.pem');
  return {
    url,
    port: Number(new URL(url).port),
    domain: opts.domain,
    dataDir,
    caFile,
    caPem: fs.readFileSync(caFile, 'utf8'),
    child,
    output: () => all,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        // The provider exits by itself within its 10 s shutdown deadline; one that does not is a
        // bug to see by name, not a test file hanging until the runner's 5-minute limit.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), 20_000)));
        const how = await Promise.race([exited.then(() => 'exited' as const), late]);
        clearTimeout(timer);
        if (how === 'late') {
          child.kill('SIGKILL');
          await exited;
          throw new Error(`provider ${opts.domain} did not exit within 20 s of SIGTERM; its output ends:\n${all.slice(-3000)}`);
        }
      }
    },
  };
}

/** Poll `cond` until it holds or `timeoutMs` passes (then throw with `what`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
