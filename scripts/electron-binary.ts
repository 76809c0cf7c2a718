// Where the Electron binary is, without `require('electron')` (its index.js tries to download the
// binary when it is missing, which must never happen at launch or in tests).

import fs from 'node:fs';
import path from 'node:path';

export type ElectronBinary = { found: true; path: string } | { found: false; reason: string };

const isFile = (p: string): boolean => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};

/** MIMI_ELECTRON_BINARY wins; else the binary the electron package installed, if it did. */
export function findElectronBinary(root: string, env: NodeJS.ProcessEnv = process.env): ElectronBinary {
  const fromEnv = env.MIMI_ELECTRON_BINARY;
  if (fromEnv) {
    const p = path.resolve(fromEnv);
    return isFile(p) ? { found: true, path: p } : { found: false, reason: `MIMI_ELECTRON_BINARY=${fromEnv} is not a file` };
  }
  const pkgDir = path.join(root, 'node_modules', 'electron');
  let rel: string;
  try {
    rel = fs.readFileSync(path.join(pkgDir, 'path.txt'), 'utf8').trim();
  } catch {
    return { found: false, reason: 'node_modules/electron has no downloaded binary (no path.txt)' };
  }
  const distDir = path.join(pkgDir, 'dist');
  const p = path.resolve(distDir, rel);
  if (!p.startsWith(distDir + path.sep) || !isFile(p)) return { found: false, reason: `node_modules/electron/dist/${rel} is missing` };
  return { found: true, path: p };
}
