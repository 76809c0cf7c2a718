// CLI entry: npm run provider -- --domain a.example --port 8443 --data DIR [--host 127.0.0.1]
//   [--peer b.example=https://127.0.0.1:8444]... [--trust b-ca.pem]... [--consent required|open]
//   [--search-rate N]

import path from 'node:path';
import { parseArgs } from 'node:util';
import { caFilePaths } from './dev-ca.js';
import { FederationConfigError, loadTrustFiles, parsePeerSpec } from './federation/config.js';
import { parseDatabaseSpec } from './database.js';
import { startProvider } from './server.js';

const USAGE = `usage: provider --domain <domain> --port <port> --data <dir> [--host <address>] [--public-url <url>]
                [--peer <domain>=<url>]... [--trust <ca.pem>]... [--consent required|open]
                [--search-rate <n>] [--knock-ttl <seconds>] [--max-asset-bytes <n>] [--asset-quota-bytes <n>]
                [--max-backup-chunk-bytes <n>] [--backup-quota-bytes <n>] [--last-seen-interval <seconds>]
                [--write-path grouped|per-request] [--token-rate <n>] [--keep-alive <seconds>]
                [--database sqlite:<dir>|postgres://<user>@<host>:<port>/<db>] [--node-id <name>]

  --domain      provider domain, e.g. a.example (user URIs are mimi://<domain>/u/<handle>)
  --port        TCP port to listen on (0 = pick a free port)
  --data        data directory (SQLite database unless --database, dev CA and TLS certificate)
  --database    where the state is: sqlite:<dir> (default: the data directory) or a PostgreSQL URL,
                shared by every node of the provider (docs/scale-out.md)
  --node-id     this node's name among the provider's nodes (default: host name and process id);
                shown in logs and leases
  --host        listen address (default 127.0.0.1)
  --public-url  base URL other providers reach this one at (default: the listening URL)
  --peer        base URL of a peer provider's MIMI directory (repeatable; default https://<domain>)
  --trust       PEM file of a CA whose certificates are accepted for peer providers (repeatable;
                peers are trusted only through --trust, not even this provider's own CA implicitly)
  --consent     required (default): users of other providers may add a user here to a room only
                with that user's consent; open: without it
  --search-rate identifier queries (user search) allowed per minute per peer provider and per
                local user (default 60)
  --knock-ttl   seconds a knocker may stay in a knock room before the hub removes it (default 120)
  --max-asset-bytes    largest attachment (encrypted file) a user may upload (default 26214400, 25 MiB)
  --asset-quota-bytes  total of each account's uploaded attachments (default 524288000, 500 MiB)
  --max-backup-chunk-bytes  largest encrypted backup chunk (default 9437184, 9 MiB)
  --backup-quota-bytes      total of each account's encrypted backups (default 2147483648, 2 GiB)
  --last-seen-interval      seconds between writes of a device's last-seen time (default 60; 0: every request)
  --write-path  grouped (default): concurrent messages share one transaction, push frames are
                written in batches; per-request: one transaction per message (the benchmark baseline)
  --keep-alive  seconds an idle client connection stays open (default 75; clients close theirs
                after 60), so a conversation's next message needs no new TLS handshake
  --token-rate  KeyPackage token issuances (OHTTP, docs/ohttp-key-packages.md) per minute per
                requesting user, also the burst; ten times that per requesting provider (default 10, burst 20)
`;

function usage(problem: string): never {
  process.stderr.write(`provider: ${problem}\n${USAGE}`);
  process.exit(2);
}

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        domain: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        host: { type: 'string' },
        'public-url': { type: 'string' },
        peer: { type: 'string', multiple: true },
        trust: { type: 'string', multiple: true },
        consent: { type: 'string' },
        'search-rate': { type: 'string' },
        'token-rate': { type: 'string' },
        'keep-alive': { type: 'string' },
        'knock-ttl': { type: 'string' },
        'max-asset-bytes': { type: 'string' },
        'asset-quota-bytes': { type: 'string' },
        'max-backup-chunk-bytes': { type: 'string' },
        'backup-quota-bytes': { type: 'string' },
        'last-seen-interval': { type: 'string' },
        'write-path': { type: 'string' },
        database: { type: 'string' },
        'node-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (!values.domain) usage('--domain is required');
  if (values.port === undefined) usage('--port is required');
  if (!values.data) usage('--data is required');
  if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) usage(`invalid --port ${values.port}`);
  const consent = values.consent ?? 'required';
  if (consent !== 'required' && consent !== 'open') usage(`--consent must be required or open, not ${consent}`);
  const knockTtl = values['knock-ttl'];
  if (knockTtl !== undefined && (!/^\d{1,6}$/.test(knockTtl) || Number(knockTtl) < 1)) usage(`--knock-ttl must be a positive number of seconds, not ${knockTtl}`);
  const searchRate = values['search-rate'];
  if (searchRate !== undefined && (!/^\d{1,6}$/.test(searchRate) || Number(searchRate) < 1)) usage(`--search-rate must be a positive integer, not ${searchRate}`);
  const tokenRate = values['token-rate'];
  if (tokenRate !== undefined && (!/^\d{1,6}$/.test(tokenRate) || Number(tokenRate) < 1)) usage(`--token-rate must be a positive integer, not ${tokenRate}`);
  const byteOption = (name: 'max-asset-bytes' | 'asset-quota-bytes' | 'max-backup-chunk-bytes' | 'backup-quota-bytes'): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (!/^\d{1,15}$/.test(v) || Number(v) < 1) usage(`--${name} must be a positive number of bytes, not ${v}`);
    return Number(v);
  };
  const assetLimits = { maxAssetBytes: byteOption('max-asset-bytes'), quotaBytes: byteOption('asset-quota-bytes') };
  const backupLimits = { maxChunkBytes: byteOption('max-backup-chunk-bytes'), quotaBytes: byteOption('backup-quota-bytes') };
  const lastSeen = values['last-seen-interval'];
  if (lastSeen !== undefined && !/^\d{1,6}$/.test(lastSeen)) usage(`--last-seen-interval must be a whole number of seconds, not ${lastSeen}`);
  const keepAlive = values['keep-alive'];
  if (keepAlive !== undefined && (!/^\d{1,5}$/.test(keepAlive) || Number(keepAlive) < 1)) usage(`--keep-alive must be a positive whole number of seconds, not ${keepAlive}`);
  const writePath = values['write-path'] ?? 'grouped';
  if (writePath !== 'grouped' && writePath !== 'per-request') usage(`--write-path must be grouped or per-request, not ${writePath}`);
  const dataDir = path.resolve(values.data);
  let database: string | undefined;
  try {
    database = values.database === undefined ? undefined : (parseDatabaseSpec(values.database, dataDir), values.database);
  } catch (e) {
    usage((e as Error).message);
  }
  const nodeId = values['node-id'];
  if (nodeId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) usage(`--node-id must be 1-64 letters, digits, dots, dashes or underscores, not ${JSON.stringify(nodeId.slice(0, 70))}`);
  let federation;
  try {
    const peers = new Map<string, string>();
    for (const spec of values.peer ?? []) {
      const [domain, url] = parsePeerSpec(spec);
      if (peers.has(domain)) usage(`--peer ${domain} given twice`);
      peers.set(domain, url);
    }
    federation = { peers, trustPem: loadTrustFiles((values.trust ?? []).map((f) => path.resolve(f))) };
  } catch (e) {
    if (e instanceof FederationConfigError) usage(e.message);
    throw e;
  }
  return {
    domain: values.domain,
    port: Number(values.port),
    dataDir,
    database,
    nodeId,
    host: values.host,
    publicUrl: values['public-url'],
    federation,
    consent: consent as 'required' | 'open',
    searchRatePerMinute: searchRate === undefined ? undefined : Number(searchRate),
    keyPackageTokenRate: tokenRate === undefined ? undefined : { burst: Number(tokenRate), perMinute: Number(tokenRate) },
    knockTtlMs: knockTtl === undefined ? undefined : Number(knockTtl) * 1000,
    assetLimits,
    backupLimits,
    lastSeenIntervalMs: lastSeen === undefined ? undefined : Number(lastSeen) * 1000,
    writePath: writePath as 'grouped' | 'per-request',
    keepAliveMs: keepAlive === undefined ? undefined : Number(keepAlive) * 1000,
  };
}

/** How long a SIGTERM/SIGINT shutdown may take before the process exits regardless. */
const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  const opts = parse();
  let provider;
  try {
    provider = await startProvider(opts);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith('invalid provider domain') || e instanceof FederationConfigError) usage(msg);
    process.stderr.write(`provider: cannot start: ${msg}\n`);
    process.exit(1);
  }
  process.stdout.write(`provider ${provider.domain} listening on ${provider.url} (CA: ${caFilePaths(opts.dataDir).ca})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`provider: ${signal}, shutting down\n`);
    // A shutdown that hangs (a stuck request, a worker that never returns) must not keep the port
    // and the database open for ever: everything accepted is already committed, so exit anyway and
    // say so (a service manager would SIGKILL a little later with no word at all).
    setTimeout(() => {
      process.stderr.write(`provider: shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting without waiting further\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    provider.close().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`provider: error during shutdown: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
