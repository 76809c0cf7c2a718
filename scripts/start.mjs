#!/usr/bin/env node
// `npm start`: the Electron app when its binary is present, otherwise the same UI in browser mode
// (the core in this Node process, the UI in any browser through the loopback bridge).
// Arguments are passed on: e.g. `npm start -- --profile ~/mimi-bob` (Electron) or
// `npm start -- --data DIR --port N` (browser mode).

import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { findElectronBinary } = await import('./electron-binary.ts');
const { ensureRendererBuilt } = await import('./renderer-build.ts');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
// The ts-mls fix (scripts/patch-ts-mls.mjs) normally ran at install; make sure before any commit is made.
{
  const patched = spawnSync(process.execPath, [path.join(root, 'scripts/patch-ts-mls.mjs')], { stdio: 'inherit' });
  if (patched.status !== 0) process.exit(patched.status ?? 1);
}

/** Run a child with our stdio; pass on Ctrl-C/SIGTERM and exit with its status. */
function runChild(command, childArgs, env = process.env) {
  const child = spawn(command, childArgs, { cwd: root, stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const electron = findElectronBinary(root);
if (electron.found) {
  const build = spawnSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // would make the binary act as plain Node
  runChild(electron.path, [root, ...args], env);
} else {
  console.log(`Electron binary is missing (${electron.reason}; set MIMI_ELECTRON_BINARY to use one), so mimi opens the same UI in browser mode.`);
  try {
    ensureRendererBuilt(root);
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
  runChild(process.execPath, ['--import', 'tsx', path.join(root, 'src-main/bridge/browser-main.ts'), ...args]);
}
