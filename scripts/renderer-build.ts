// Builds the renderer (out/renderer) when it is missing or older than its sources. Browser mode
// and the e2e tests only need the renderer, so this builds nothing else.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SOURCES = ['src-renderer', 'src-shared', 'electron.vite.config.ts', 'package.json', 'src-main/bridge/csp.ts'];

function newestMtime(p: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

export function rendererIsStale(root: string): boolean {
  const built = path.join(root, 'out', 'renderer', 'index.html');
  if (!fs.existsSync(built)) return true;
  const builtAt = fs.statSync(built).mtimeMs;
  return SOURCES.some((s) => newestMtime(path.join(root, s)) > builtAt);
}

/** Returns the renderer directory; throws with the build output when the build fails. */
export function ensureRendererBuilt(root: string): string {
  const dir = path.join(root, 'out', 'renderer');
  if (!rendererIsStale(root)) return dir;
  // Test files run in parallel: one builds, the others wait for it and then find it fresh.
  const lock = path.join(root, 'out', '.renderer-build.lock');
  fs.mkdirSync(path.join(root, 'out'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 300_000) fs.rmSync(lock, { recursive: true, force: true }); // left by a killed build
      if (Date.now() > deadline) throw new Error(`timed out waiting for another renderer build (${lock})`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!rendererIsStale(root)) return dir;
    const cli = path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
    const r = spawnSync(process.execPath, [cli, 'build', '--logLevel', 'warn', '--ignoreConfigWarning'], {
      cwd: root,
      env: { ...process.env, MIMI_BUILD_TARGET: 'renderer' },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`building the renderer failed:\n${r.stdout}${r.stderr}`);
    return dir;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
