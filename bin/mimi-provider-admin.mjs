#!/usr/bin/env node
// Entry point of the provider's operator tool (`npm run provider-admin`). Runs
// out/provider-admin/main.mjs (scripts/build-bundles.mjs) when it is fresh, the TypeScript sources
// through tsx otherwise (bin/fresh-bundle.mjs).

import { runFreshest } from './fresh-bundle.mjs';

await runFreshest('out/provider-admin/main.mjs', 'src-provider/admin-cli.ts');
