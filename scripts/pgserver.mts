// temp: keeps a throwaway PostgreSQL running and prints its maintenance URL
import fs from 'node:fs';
import { startPostgres } from '../test/helpers/postgres.js';
const s = await startPostgres({ name: 'maint' });
const u = new URL(s.url); u.pathname = '/postgres';
fs.writeFileSync('/tmp/pgurl', u.toString());
console.log(u.toString());
process.on('SIGTERM', async () => { await s.stop(); process.exit(0); });
setInterval(() => {}, 1e9);
