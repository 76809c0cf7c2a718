#!/usr/bin/env node
// Entry point of the provider (`npm run provider`). Runs out/provider/main.mjs
// (scripts/build-bundles.mjs) when it exists and none of the files it was built from changed
// since; otherwise the TypeScript sources through tsx, so it works right after `npm ci` without a
// build step and never runs stale code.

import { pathToFileURL } from 'node:url';
import { freshBundle } from './fresh-bundle.mjs';

const bundle = freshBundle('out/provider/main.mjs');
if (bundle) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src-provider/main.ts');
}
