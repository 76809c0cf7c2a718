// `mimi interop …`: the interop tools of the command line. `check URL` probes another provider
// (check-command.ts); `vectors DIR` writes or checks the published test vectors (vectors-command.ts).
// Dispatched before the profile commands' argument parsing, since each takes its own options.

import { UsageError } from '../cli/args.js';
import { checkCommand, parseInteropArgs } from './check-command.js';
import { vectorsCommand } from './vectors-command.js';

export async function interopCommand(argv: readonly string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'check') return checkCommand(rest);
  if (sub === 'vectors') {
    const { positional, flags } = parseInteropArgs(rest, new Set(), new Set(['check']));
    await vectorsCommand(positional, flags);
    // vectorsCommand reports a failed check through process.exitCode, which the CLI's own exit(0)
    // would override: turn it into the error exit here.
    if (process.exitCode) throw new Error('the vector check found problems (listed above)');
    return;
  }
  throw new UsageError(sub === undefined ? 'interop takes check URL … or vectors DIR' : `unknown interop command ${sub} (check or vectors)`);
}
