// The operator's moderation queue and secrets on the command line, on a provider's database:
//   npm run provider-admin -- --data DIR [--json] reports [--state open|actioned|dismissed|all]
//   npm run provider-admin -- --database postgres://… [--json] show ID
//   npm run provider-admin -- --data DIR dismiss ID
//   npm run provider-admin -- --data DIR [--database …] remove ID
//   npm run provider-admin -- --data DIR [--database …] ban ID
// The database is the provider's: `--database sqlite:DIR | postgres://…` as the provider takes it
// (database.ts), by default the SQLite file in --data. `reports`, `show`, `dismiss`,
// `rotate-franking-key` and `invalidate-key-package-tokens` work on it directly (the provider may be
// running: WAL mode on SQLite; on PostgreSQL every node reads what they change). It is never
// migrated from here: a database of another schema version is refused. `remove` and `ban` need
// the hub to propose them, so they ask the running provider's admin API: the URL from
// DIR/admin-url, the token from DIR/admin-token, the CA from DIR/ca.pem (--data is needed for them).
// Exit codes: 0 done, 1 failed (no such report, not allowed now, provider unreachable), 2 usage.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ApiFailure } from './errors.js';
import { DB_FILE, SCHEMA_VERSION, Store } from './store.js';
import { parseDatabaseSpec, redact, type DatabaseSpec } from './database.js';
import { PG_SCHEMA_VERSION, pgSchemaVersion } from './pg/schema.js';
import { PgSyncDb } from './pg/sync-db.js';
import { ADMIN_TOKEN_FILE, ADMIN_URL_FILE } from './admin.js';
import { ModerationQueue, parseFilter, parseReportId, type ReportDetail, type ReportView } from './admin-store.js';
import { storedMembers } from './room-members.js';
import { banStatus } from './hub/bans.js';
import { advanceTokenEpoch, importLegacyOhttpSecrets } from './ohttp-keys.js';

const USAGE = `usage: provider-admin [--data <dir>] [--database sqlite:<dir>|postgres://…] [--json] <command>

  reports [--state open|actioned|dismissed|all]   the reports about rooms hosted here, newest first (default: all)
  show <id>                                       one report, the room now and the actions taken
  dismiss <id>                                    dismiss an open report (in the database)
  remove <id>                                     have the hub remove the alleged abuser's members from the room
                                                  (asks the running provider: <dir>/admin-url, admin-token, ca.pem;
                                                  needs --data)
  ban <id>                                        have the hub ban the alleged abuser from the room (banned role,
                                                  members removed; they cannot come back) (asks the running
                                                  provider; needs --data)
  rotate-franking-key                             a new secret for the hub's server franks from now on; franks
                                                  made before stay verifiable with the key of their time
  invalidate-key-package-tokens                   a new KeyPackage token epoch: every token issued so far for
                                                  the OHTTP gateway is refused; clients ask for new ones

  --data       the provider's data directory (with no --database: its SQLite file is the database)
  --database   the provider's database, as given to the provider: sqlite:<dir> or
               postgres://USER@HOST:PORT/DB (all nodes of a provider share it); never migrated from
               here: it must be at this tool's schema version
  --json       print JSON (reports, show, and the result of dismiss, remove and ban)
`;

class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

const usage = (problem: string): CliError => new CliError(`${problem}\n${USAGE}`, 2);

/** Terminal-safe text: control characters (escape sequences among them) and bidi overrides shown as \u escapes. */
function safe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const when = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());
const via = (r: ReportView): string => r.via ?? 'local';

function reportLine(r: ReportView): string {
  const note = r.note.length > 60 ? `${r.note.slice(0, 60)}…` : r.note;
  return [`#${r.id}`, r.state.padEnd(9), when(r.receivedAt), safe(r.roomUri), `${safe(r.reporter)} -> ${safe(r.allegedAbuser)}`, `reason ${r.reason}`, `${r.messages} msg`, `via ${safe(via(r))}`, JSON.stringify(safe(note))].join('  ');
}

function detailText(d: ReportDetail): string {
  const lines = [
    `report #${d.id} (${d.state}${d.stateChangedAt === null ? '' : ` since ${when(d.stateChangedAt)}`})`,
    `  room            ${safe(d.roomUri)}`,
    `  reporter        ${safe(d.reporter)}`,
    `  alleged abuser  ${safe(d.allegedAbuser)}`,
    `  reason          ${d.reason}${d.reason === 0 ? ' (none given)' : ''}`,
    `  received        ${when(d.receivedAt)} via ${safe(via(d))}`,
    `  messages        ${d.messages}${d.reportedMessages.map((m) => `\n    accepted ${when(m.acceptedAt)}, ${m.bytes} bytes`).join('')}`,
    `  note            ${d.note === '' ? '(none)' : safe(d.note)}`,
    `  room now        ${!d.room.hosted ? 'not hosted here any more' : `${d.room.memberCount} members; the alleged abuser's: ${d.room.allegedMembers.length === 0 ? 'none' : d.room.allegedMembers.map(safe).join(', ')}${d.room.ban === 'banned' ? '; banned' : d.room.ban === 'pending' ? '; ban pending' : ''}`}`,
    `  actions         ${d.actions.length === 0 ? 'none' : ''}`,
    ...d.actions.map((a) => `    ${when(a.at)} ${a.who} (${a.via}) ${a.action} ${safe(a.target)}${a.detail ? `: ${safe(a.detail)}` : ''}`),
  ];
  return lines.join('\n');
}

interface OpenStore {
  queue: ModerationQueue;
  store: Store;
  close(): void;
}

/** The provider's store, opened only if it exists and is of this version (no migration from here). */
async function openQueue(spec: DatabaseSpec): Promise<OpenStore> {
  const store = spec.kind === 'sqlite' ? openSqlite(spec.dir) : await openPostgres(spec.url);
  const where = spec.kind === 'sqlite' ? path.join(spec.dir, DB_FILE) : redact(spec.url);
  try {
    const queue = new ModerationQueue(store.db, { hosts: (r) => store.hostedRoom(r) !== undefined, membersOf: (r) => storedMembers(store, r), banStatus: (r, u) => banStatus(store, r, u) });
    return { queue, store, close: () => store.close() };
  } catch (e) {
    store.close();
    throw new CliError(`${where}: ${(e as Error).message}`);
  }
}

function openSqlite(dir: string): Store {
  const file = path.join(dir, DB_FILE);
  if (!fs.existsSync(file)) throw new CliError(`no provider database at ${file} (is this the provider's data dir, and has the provider been started once?)`);
  let version: number;
  try {
    const probe = new Database(file, { readonly: true, fileMustExist: true });
    try {
      version = probe.pragma('user_version', { simple: true }) as number;
    } finally {
      probe.close();
    }
  } catch (e) {
    throw new CliError(`cannot open ${file}: ${(e as Error).message}`);
  }
  if (version !== SCHEMA_VERSION) {
    throw new CliError(`${file} is at schema version ${version}, this tool expects ${SCHEMA_VERSION}: run the provider of this version on it first`);
  }
  return new Store(file);
}

/** The Store on PostgreSQL, after checking (read only) that the schema is this tool's version. */
async function openPostgres(url: string): Promise<Store> {
  const where = `the PostgreSQL database ${redact(url)}`;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  let version: number;
  try {
    version = await pgSchemaVersion(pool);
  } catch (e) {
    throw new CliError(`cannot read ${where}: ${(e as Error).message}`);
  } finally {
    await pool.end().catch(() => undefined);
  }
  if (version === 0) throw new CliError(`${where} holds no provider schema (has a provider been started on it once?)`);
  if (version < PG_SCHEMA_VERSION) {
    throw new CliError(`${where} is at schema version ${version}, this tool expects ${PG_SCHEMA_VERSION}: start a provider node of this version on it first (it migrates), then run this again`);
  }
  if (version > PG_SCHEMA_VERSION) {
    throw new CliError(`${where} is at schema version ${version}, newer than this tool (${PG_SCHEMA_VERSION}): use the provider-admin of the provider version that runs on it`);
  }
  try {
    return new Store(new PgSyncDb(url));
  } catch (e) {
    throw new CliError(`cannot open ${where}: ${(e as Error).message}`);
  }
}

function readDataFile(dataDir: string, name: string, what: string): string {
  const file = path.join(dataDir, name);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`${file} is missing: ${what}`);
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** POST to the running provider's admin API; the JSON answer, or a CliError saying what went wrong. */
function adminPost(dataDir: string, apiPath: string): Promise<Record<string, unknown>> {
  const base = readDataFile(dataDir, ADMIN_URL_FILE, 'the provider writes it when it starts; is it running on this data dir?');
  const token = readDataFile(dataDir, ADMIN_TOKEN_FILE, 'the provider makes it on its first start');
  const ca = readDataFile(dataDir, 'ca.pem', "the provider's dev CA");
  let url: URL;
  try {
    url = new URL(apiPath, `${base}/`);
  } catch {
    throw new CliError(`${path.join(dataDir, ADMIN_URL_FILE)} does not hold a URL`);
  }
  const body = '{}';
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        ca,
        timeout: 30_000,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            // not JSON: reported by status below
          }
          if (res.statusCode === 200) return resolve(parsed);
          const err = (parsed.error ?? {}) as { message?: unknown };
          reject(new CliError(`the provider refused (${res.statusCode}): ${typeof err.message === 'string' ? safe(err.message) : 'no reason given'}`));
        });
        res.on('error', (e) => reject(new CliError(`reading the provider's answer failed: ${e.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', (e) => reject(new CliError(`the provider at ${base} is not reachable (${e.message}); \`remove\` needs it running, because the hub itself proposes the removal`)));
    req.end(body);
  });
}

async function run(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { data: { type: 'string' }, database: { type: 'string' }, json: { type: 'boolean' }, state: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.data && !values.database) throw usage('--data or --database is required');
  const dataDir = values.data ? path.resolve(values.data) : undefined;
  let spec: DatabaseSpec;
  try {
    spec = parseDatabaseSpec(values.database, dataDir ?? '');
  } catch (e) {
    throw usage((e as Error).message);
  }
  /** The data folder, for the commands that talk to the running provider through its files. */
  const needData = (): string => {
    if (!dataDir) throw usage(`${command} needs --data <dir>: it asks the running provider, found through <dir>/admin-url, admin-token and ca.pem`);
    return dataDir;
  };
  const [command, arg, ...rest] = positionals;
  if (!command) throw usage('no command');
  if (rest.length) throw usage(`unexpected ${JSON.stringify(rest[0])}`);
  if (values.state !== undefined && command !== 'reports') throw usage('--state goes with reports');
  const out = (json: unknown, text: string) => process.stdout.write(`${values.json ? JSON.stringify(json, null, 2) : text}\n`);
  const id = (): number => {
    if (arg === undefined) throw usage(`${command} needs a report id`);
    try {
      return parseReportId(arg);
    } catch (e) {
      throw usage((e as Error).message);
    }
  };

  switch (command) {
    case 'reports': {
      if (arg !== undefined) throw usage(`unexpected ${JSON.stringify(arg)}`);
      let filter;
      try {
        filter = parseFilter(values.state);
      } catch (e) {
        throw usage((e as Error).message);
      }
      const db = await openQueue(spec);
      try {
        const reports = db.queue.list(filter);
        out({ reports }, reports.length === 0 ? `no ${filter === 'all' ? '' : `${filter} `}reports` : reports.map(reportLine).join('\n'));
      } finally {
        db.close();
      }
      return;
    }
    case 'show':
    case 'dismiss': {
      const n = id();
      const db = await openQueue(spec);
      try {
        if (command === 'show') {
          const d = db.queue.detail(n);
          out({ report: d }, detailText(d));
        } else {
          db.queue.dismiss(n, 'cli');
          const d = db.queue.detail(n);
          out({ report: d }, `report #${n} dismissed`);
        }
      } finally {
        db.close();
      }
      return;
    }
    case 'remove': {
      const n = id();
      const answer = await adminPost(needData(), `admin/api/reports/${n}/remove`);
      const proposed = Array.isArray(answer.proposed) ? (answer.proposed as string[]) : [];
      out(answer, `report #${n}: the hub proposed removing ${proposed.map(safe).join(', ')}; the room's members commit it`);
      return;
    }
    case 'ban': {
      const n = id();
      const answer = await adminPost(needData(), `admin/api/reports/${n}/ban`);
      const proposed = Array.isArray(answer.proposed) ? (answer.proposed as string[]) : [];
      const report = (answer.report ?? {}) as { allegedAbuser?: unknown };
      const who = typeof report.allegedAbuser === 'string' ? safe(report.allegedAbuser) : 'the alleged abuser';
      out(answer, `report #${n}: the hub proposed banning ${who}${proposed.length ? ` and removing ${proposed.map(safe).join(', ')}` : ''}; the room's members commit it`);
      return;
    }
    case 'rotate-franking-key': {
      if (arg !== undefined) throw usage(`unexpected ${JSON.stringify(arg)}`);
      // The running provider reads its keys from the database for every frank (hub/core.ts
      // frankingKey), so the new one is in force at once; reports about older messages are checked
      // with the key of their time.
      const db = await openQueue(spec);
      try {
        const from = Date.now();
        db.store.addFrankingKey(randomBytes(32), from);
        const keys = db.store.frankingKeys().length;
        out({ rotated: true, inForceFrom: from, keys }, `a new franking key is in force from ${new Date(from).toISOString()} (${keys} kept)`);
      } finally {
        db.close();
      }
      return;
    }
    case 'invalidate-key-package-tokens': {
      if (arg !== undefined) throw usage(`unexpected ${JSON.stringify(arg)}`);
      // The epoch is in the database, shared by every node; each reads it before each issuance
      // and redemption (ohttp-service.ts), so no node needs telling.
      const db = await openQueue(spec);
      try {
        let advanced: { domain: string; epoch: number }[];
        try {
          // A provider not started since its secrets moved into the database still has them in
          // its folder: imported first, as its next start would, so the epoch advanced is its own.
          if (dataDir) importLegacyOhttpSecrets(db.store, dataDir, (m) => process.stderr.write(`provider-admin: ${m}\n`));
          advanced = advanceTokenEpoch(db.store);
        } catch (e) {
          throw new CliError((e as Error).message, 1);
        }
        const text = advanced.map((a) => `KeyPackage token epoch ${a.epoch} for ${a.domain}: every earlier token is refused from now on, by every node`).join('\n');
        out({ invalidated: true, epoch: advanced[0].epoch, domains: advanced }, text);
      } finally {
        db.close();
      }
      return;
    }
    default:
      throw usage(`unknown command ${JSON.stringify(command.slice(0, 40))}`);
  }
}

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof CliError) {
      process.stderr.write(`provider-admin: ${e.message}\n`);
      process.exit(e.code);
    }
    if (e instanceof ApiFailure) {
      process.stderr.write(`provider-admin: ${safe(e.message)}\n`);
      process.exit(1);
    }
    process.stderr.write(`provider-admin: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
