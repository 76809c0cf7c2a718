// The bundle at `out` (scripts/build-bundles.mjs) if it exists and none of the files it was built
// from changed since; undefined otherwise, so callers run the TypeScript sources and never stale code.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function freshBundle(out) {
  if (process.env.MIMI_NO_BUNDLE) return undefined;
  const bundle = path.join(root, out);
  try {
    const { builtAt, inputs } = JSON.parse(fs.readFileSync(path.join(path.dirname(bundle), 'inputs.json'), 'utf8'));
    for (const f of inputs) if (fs.statSync(f).mtimeMs > builtAt) return undefined;
    return fs.existsSync(bundle) ? bundle : undefined;
  } catch {
    return undefined; // no bundle, or an input is gone: run the sources
  }
}

/** Runs the bundle at `out` when fresh, else the TypeScript entry `source` (relative to the root) through tsx. */
export async function runFreshest(out, source) {
  const bundle = freshBundle(out);
  if (bundle) {
    await import(pathToFileURL(bundle).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(root, source)).href);
}
