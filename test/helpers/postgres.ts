// A throwaway PostgreSQL server for tests and benches (issue 17): Debian's `postgresql` package
// (scripts/ensure-system-deps.sh installs it), a fresh cluster in a temporary folder, listening on
// loopback on a free port and on a Unix socket in the same folder, trust authentication (nothing but
// this machine's processes reach it), stopped and deleted by stop().
//
// PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to Debian's
// `postgres` account and initdb / pg_ctl run as it (runuser).

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PostgresServer {
  /** postgres://… URL of the database `name` (created on start) over TCP on loopback. */
  url: string;
  port: number;
  dataDir: string;
  /** Runs SQL with psql against the database; returns its unaligned, tuples-only output. */
  psql(sql: string): string;
  /** Creates another empty database; returns its URL. */
  createDatabase(name: string): string;
  stop(): Promise<void>;
}

/** The folder with initdb, pg_ctl and psql: Debian's versioned folders (newest first), then PATH. */
export function postgresBinDir(): string | undefined {
  const has = (dir: string) => ['initdb', 'pg_ctl', 'psql'].every((c) => fs.existsSync(path.join(dir, c)));
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const candidates = [...versions.map((v) => path.join(root, v, 'bin')), ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  return candidates.find(has);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Inside `npm test` (MIMI_PG_PASS_URL, the server scripts/run-tests.sh starts for the PostgreSQL
 * pass) a test gets databases of its own on that server instead of a cluster of its own: initdb and
 * a server start cost each file seconds of CPU. Databases keep tests apart (LISTEN/NOTIFY channels
 * and advisory locks are per database; a test that looks at pg_stat_activity filters on
 * current_database()). `own: true` (the pass's server itself) and `durable: true` (benches) always
 * start a cluster.
 *
 * `durable: false` (the default, for tests) turns off what only protects against the machine
 * itself going down: fsync and full-page writes. COMMIT still returns only once its WAL is written
 * to the operating system, so a committed transaction survives kill -9 of any node and of
 * PostgreSQL's own processes; only a power cut could lose it, which no test makes. It saves the
 * test suite a disk flush per COMMIT. Benches pass `durable: true` to measure what a deployment pays.
 */
export async function startPostgres(opts: { name?: string; durable?: boolean; own?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed: install Debian\'s "postgresql" package (scripts/ensure-system-deps.sh does)');
  const shared = process.env.MIMI_PG_PASS_URL;
  if (shared && !opts.durable && !opts.own) return onSharedServer(bin, shared, opts.name ?? 'mimi');
  const asRoot = process.getuid?.() === 0;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-pg-'));
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (asRoot) {
    // The folder must belong to the account the server runs as.
    fs.chmodSync(base, 0o755);
    execFileSync('chown', ['-R', 'postgres:postgres', base]);
  }
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]] : [path.join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions', '-N']);
  const port = await freePort();
  const fast = opts.durable ? '' : ' -c fsync=off -c full_page_writes=off';
  const serverOpts = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${base} -c max_connections=200 -c shared_buffers=64MB${fast}`;
  run('pg_ctl', ['-D', dataDir, '-o', serverOpts, '-l', path.join(base, 'server.log'), '-w', '-t', '30', 'start']);
  const name = opts.name ?? 'mimi';
  const psqlAt = (db: string, sql: string) => psql(bin, '127.0.0.1', port, 'postgres', db, sql);
  const createDatabase = (db: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`not a plain database name: ${db}`);
    psqlAt('postgres', `CREATE DATABASE ${db}`);
    return `postgres://postgres@127.0.0.1:${port}/${db}`;
  };
  const url = createDatabase(name);
  let stopped = false;
  return {
    url,
    port,
    dataDir,
    psql: (sql) => psqlAt(name, sql),
    createDatabase,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      } finally {
        fs.rmSync(base, { recursive: true, force: true });
      }
    },
  };
}

/** `startPostgres` on the test command's shared server: fresh databases, dropped by stop(). */
function onSharedServer(bin: string, serverUrl: string, name: string): PostgresServer {
  const u = new URL(serverUrl);
  const port = Number(u.port);
  const unique = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const psqlAt = (db: string, sql: string) => psql(bin, u.hostname, port, decodeURIComponent(u.username), db, sql);
  const made: string[] = [];
  const createDatabase = (db: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`not a plain database name: ${db}`);
    const full = `${db}_${unique}`;
    psqlAt('postgres', `CREATE DATABASE ${full}`);
    made.push(full);
    const at = new URL(serverUrl);
    at.pathname = `/${full}`;
    return at.toString();
  };
  const url = createDatabase(name);
  const own = made[0];
  let stopped = false;
  return {
    url,
    port,
    dataDir: '',
    psql: (sql) => psqlAt(own, sql),
    createDatabase,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const db of made) psqlAt('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    },
  };
}

/**
 * Runs SQL with psql over TCP (trust authentication: any local account may connect as `user`, so
 * no runuser); returns its unaligned, tuples-only output.
 */
function psql(bin: string, host: string, port: number, user: string, db: string, sql: string): string {
  const r = spawnSync(path.join(bin, 'psql'), ['-h', host, '-p', String(port), '-U', user, '-d', db, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql -c ${sql} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}
