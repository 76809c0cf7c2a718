// Starts a throwaway PostgreSQL server for the test command's PostgreSQL pass (scripts/run-tests.sh)
// and keeps it until this process gets SIGTERM/SIGINT: writes the URL of its maintenance database
// to the file given as the first argument (each provider a test starts then makes a database of its
// own there: test/helpers/provider-process.ts testDatabase). Usage: node --import tsx
// scripts/postgres-for-tests.mts URL_FILE

import fs from 'node:fs';
import { startPostgres } from '../test/helpers/postgres.js';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: postgres-for-tests.mts URL_FILE\n');
  process.exit(2);
}
const server = await startPostgres({ name: 'mimi_tests', own: true });
const url = new URL(server.url);
url.pathname = '/postgres';
fs.writeFileSync(out, `${url.toString()}\n`);
process.stderr.write(`postgres-for-tests: PostgreSQL on port ${server.port} (${server.dataDir})\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop().catch((e: unknown) => process.stderr.write(`postgres-for-tests: stop failed: ${(e as Error).message}\n`));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Nothing else to do: stay until told to stop (a timer keeps the event loop alive).
setInterval(() => undefined, 1 << 30);
