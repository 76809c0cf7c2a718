#!/usr/bin/env node
// Entry point of the provider (`npm run provider`). Runs out/provider/main.mjs
// (scripts/build-bundles.mjs) when it exists and none of the files it was built from changed
// since; otherwise the TypeScript sources through tsx, so it works right after `npm ci` without a
// build step and never runs stale code.

import { runFreshest } from './fresh-bundle.mjs';

await runFreshest('out/provider/main.mjs', 'src-provider/main.ts');
