#!/usr/bin/env node
// Entry point of the `mimi` command. Runs out/cli/mimi.mjs (scripts/build-bundles.mjs) when it exists
// and none of the files it was built from changed since; otherwise the TypeScript CLI through tsx,
// so `npx mimi` works right after `npm ci` without a build step and never runs stale code.

import { runFreshest } from './fresh-bundle.mjs';

// "Where are you?" (SIGUSR2): a run that does not end says which step it is in and what it waits
// on (src-main/cli/mimi.ts names the steps), instead of only being killed. Listened for here, first
// thing, because a SIGUSR2 nobody listens for ends the process.
const PHASE = Symbol.for('mimi.cli.phase');
if (process.platform !== 'win32') {
  process.on('SIGUSR2', () => {
    const waiting = new Map();
    for (const r of process.getActiveResourcesInfo()) waiting.set(r, (waiting.get(r) ?? 0) + 1);
    const list = [...waiting].map(([r, n]) => (n > 1 ? `${r} x${n}` : r)).join(', ');
    process.stderr.write(`mimi: still running, at: ${globalThis[PHASE] ?? 'loading'}; waiting on: ${list || 'nothing'}\n`);
  });
}

await runFreshest('out/cli/mimi.mjs', 'src-main/cli/mimi.ts');
