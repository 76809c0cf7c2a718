#!/usr/bin/env node
// Entry point of the `mimi` command. Runs out/cli/mimi.mjs (scripts/build-cli.mjs) when it exists
// and none of the files it was built from changed since; otherwise the TypeScript CLI through tsx,
// so `npx mimi` works right after `npm ci` without a build step and never runs stale code.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function freshBundle() {
  if (process.env.MIMI_CLI_NO_BUNDLE) return undefined;
  const bundle = path.join(root, 'out/cli/mimi.mjs');
  try {
    const { builtAt, inputs } = JSON.parse(fs.readFileSync(path.join(root, 'out/cli/inputs.json'), 'utf8'));
    for (const f of inputs) if (fs.statSync(f).mtimeMs > builtAt) return undefined;
    return fs.existsSync(bundle) ? bundle : undefined;
  } catch {
    return undefined; // no bundle, or an input is gone: run the sources
  }
}

const bundle = freshBundle();
if (bundle) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src-main/cli/mimi.ts');
}
