#!/usr/bin/env node
// Entry point of the `mimi` command: runs the TypeScript CLI through tsx, so `npx mimi` works
// right after `npm ci` without a build step.
import { register } from 'tsx/esm/api';
register();
await import('../src-main/cli/mimi.ts');
