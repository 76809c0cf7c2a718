// Command-line options of the Electron app. `--profile DIR` (or Chromium's `--user-data-dir`)
// moves all state, so two instances with different profiles run side by side as two users. Other
// arguments, such as a `mimi:` link the OS passes (link-handler.ts), are not ours and are left alone.

import path from 'node:path';

export interface LaunchOptions {
  /** Absolute profile directory, when one was given. */
  profileDir?: string;
}

const PROFILE_FLAGS = ['--profile', '--user-data-dir'];

export function parseLaunchOptions(argv: readonly string[], cwd: string): LaunchOptions {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    for (const flag of PROFILE_FLAGS) {
      let value: string | undefined;
      if (arg === flag) value = argv[i + 1];
      else if (arg.startsWith(`${flag}=`)) value = arg.slice(flag.length + 1);
      else continue;
      if (!value || value.startsWith('--')) throw new Error(`${flag} needs a directory`);
      // `--profile mimi://…` is a link in the wrong place, not a folder to create.
      if (/^mimi:/i.test(value)) throw new Error(`${flag} needs a directory, not a mimi: link (e.g. ${flag} ~/mimi-bob mimi://…)`);
      return { profileDir: path.resolve(cwd, value) };
    }
  }
  return {};
}
