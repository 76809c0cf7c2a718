// CLI entry: npm run provider -- --domain a.example --port 8443 --data DIR [--host 127.0.0.1]

import path from 'node:path';
import { parseArgs } from 'node:util';
import { caFilePaths } from './dev-ca.js';
import { startProvider } from './server.js';

const USAGE = `usage: provider --domain <domain> --port <port> --data <dir> [--host <address>] [--public-url <url>]

  --domain      provider domain, e.g. a.example (user URIs are mimi://<domain>/u/<handle>)
  --port        TCP port to listen on (0 = pick a free port)
  --data        data directory (SQLite database, dev CA and TLS certificate)
  --host        listen address (default 127.0.0.1)
  --public-url  base URL other providers reach this one at (default: the listening URL)
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
  return {
    domain: values.domain,
    port: Number(values.port),
    dataDir: path.resolve(values.data),
    host: values.host,
    publicUrl: values['public-url'],
  };
}

async function main(): Promise<void> {
  const opts = parse();
  let provider;
  try {
    provider = await startProvider(opts);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith('invalid provider domain')) usage(msg);
    process.stderr.write(`provider: cannot start: ${msg}\n`);
    process.exit(1);
  }
  process.stdout.write(`provider ${provider.domain} listening on ${provider.url} (CA: ${caFilePaths(opts.dataDir).ca})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`provider: ${signal}, shutting down\n`);
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
