// Bundles the `mimi` command into out/cli/mimi.mjs (one file, dependencies included except the
// native modules), with the list of files it was built from. bin/mimi.mjs runs the bundle while
// none of those files changed, and the TypeScript sources through tsx otherwise: starting the
// bundle takes about 0.4 s instead of 1.4 s (module loading through tsx's hooks), which is most of
// the time of the test suite's hundreds of `mimi` runs. Run by `npm test` after the app build.

import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'out/cli');
const started = Date.now();
const result = await build({
  entryPoints: [path.join(root, 'src-main/cli/mimi.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Native modules load their .node files relative to themselves; electron is never used by the CLI.
  external: ['better-sqlite3', 'keytar', 'electron'],
  outfile: path.join(outDir, 'mimi.mjs'),
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __mimiRequire } from 'node:module'; const require = __mimiRequire(import.meta.url);" },
});
const inputs = Object.keys(result.metafile.inputs).map((p) => path.resolve(root, p));
fs.writeFileSync(path.join(outDir, 'inputs.json'), JSON.stringify({ builtAt: started, inputs }));
console.log(`build-cli: out/cli/mimi.mjs from ${inputs.length} files in ${Date.now() - started} ms`);
