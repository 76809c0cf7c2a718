import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { startProvider } from '../src-provider/server.js';
import { testDatabase } from '../test/helpers/provider-process.js';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgsmoke-'));
const database = await testDatabase(dataDir);
try {
  const p = await startProvider({ domain: 'a.example', port: 0, dataDir, database, log: () => {} });
  console.log('STARTED OK'); await p.close();
} catch (e) { console.log(String((e as Error).message)); }
process.exit(0);
