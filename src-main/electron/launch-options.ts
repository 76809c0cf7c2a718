// Command-line options of the Electron app. `--profile DIR` (or Chromium's `--user-data-dir`)
// moves all state, so two instances with different profiles run side by side as two users.

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
      return { profileDir: path.resolve(cwd, value) };
    }
  }
  return {};
}
