// Bundles test files for `npm test` (scripts/run-tests.sh): every integration, e2e and PostgreSQL-pass
// file becomes test/.bundled/<folder>--<name>.mjs, with the modules they share in chunks beside them.
// A test process that loads its TypeScript through tsx spends about 2.5 s of CPU before its first
// test (tsx's resolve and load hooks on every one of ~700 modules); from a bundle it spends about
// 1.2 s. The suite starts ~140 such processes on 2 cores.
//
// The bundles sit two folders below the repository root, like the sources, so the few modules that
// find files relative to themselves (test/helpers/provider-process.ts, test/e2e/browser.ts,
// src-main/bridge/browser-main.ts: `../..` from import.meta.url) still find them. Source maps are
// linked, and the runner runs with --enable-source-maps, so a failure names the .ts line.
//
// Usage: node scripts/bundle-tests.mjs FILE… ; prints "<bundle>\t<source>" per file.

import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'test/.bundled');

/** test/integration/x.test.ts -> integration--x.test ; test/.postgres-pass/x.test.ts -> postgres-pass--x.test */
export function bundleName(file) {
  const rel = path.relative(path.join(root, 'test'), path.resolve(root, file));
  const parts = rel.split(path.sep);
  if (parts.length !== 2 || !parts[1].endsWith('.test.ts')) throw new Error(`bundle-tests: ${file} is not a test/<folder>/<name>.test.ts file`);
  return `${parts[0].replace(/^\./, '')}--${parts[1].replace(/\.ts$/, '')}`;
}

const files = process.argv.slice(2);
if (files.length === 0) process.exit(0);
const entryPoints = Object.fromEntries(files.map((f) => [bundleName(f), path.resolve(root, f)]));
// The MLS worker (src-main/mls/worker-engine.ts) starts the bundle next to the chunk it runs from.
entryPoints['mls-engine-worker'] = path.join(root, 'src-main/mls/engine-worker.ts');
fs.rmSync(outdir, { recursive: true, force: true });
const started = Date.now();
await build({
  entryPoints,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  // Native modules load their .node files relative to themselves; the browser driver and axe ship
  // files they read at run time; esbuild and tsx are tools the tests start, never bundle.
  external: ['better-sqlite3', 'keytar', 'electron', 'libpq', 'pg-native', 'playwright', 'playwright-core', 'axe-core', 'esbuild', 'tsx', 'vite', 'electron-vite'],
  logLevel: 'warning',
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __testRequire } from 'node:module'; const require = __testRequire(import.meta.url);" },
});
for (const [name, src] of Object.entries(entryPoints)) if (name !== 'mls-engine-worker') console.log(`${path.relative(root, path.join(outdir, `${name}.mjs`))}\t${path.relative(root, src)}`);
console.error(`bundle-tests: ${files.length} test files in ${Date.now() - started} ms`);
