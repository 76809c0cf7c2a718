// Browser mode: the same core and the same UI as the Electron app, for machines without the
// Electron binary. The core runs in this Node process; the UI is opened in any browser through the
// loopback bridge. Usage: node --import tsx src-main/bridge/browser-main.ts [--data DIR] [--port N]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAppCore } from '../core/app-core.js';
import { parseSecretMode, type SecretMode } from '../secrets/secret-store.js';
import { startBridge } from './bridge-server.js';

export interface BrowserModeOptions {
  dataDir: string;
  port: number;
}

const USAGE = 'usage: browser-main [--data DIR] [--port N]';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'mimi-desktop');
}

export function parseBrowserModeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BrowserModeOptions {
  const opts: BrowserModeOptions = { dataDir: defaultDataDir(env), port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = inline ?? argv[++i];
    if (flag === '--data') {
      if (!value) throw new Error(`--data needs a directory\n${USAGE}`);
      opts.dataDir = path.resolve(value);
    } else if (flag === '--port') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port needs a number 0-65535\n${USAGE}`);
      opts.port = n;
    } else {
      throw new Error(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  return opts;
}

/** Where room exports go: ~/Downloads/MIMI exports when there is a Downloads folder, else under the data folder. */
export function exportsDir(dataDir: string): string {
  const downloads = path.join(os.homedir(), 'Downloads');
  try {
    if (fs.statSync(downloads).isDirectory()) return path.join(downloads, 'MIMI exports');
  } catch {
    /* no Downloads folder (a server, a container): keep them with the data */
  }
  return path.join(dataDir, 'exports');
}

/** MIMI_SECRETS picks where new profiles keep secrets; unset lets the core choose. */
const secretModeFromEnv = (value: string | undefined): SecretMode | undefined => (value ? parseSecretMode(value) : undefined);

async function main(): Promise<void> {
  let opts: BrowserModeOptions;
  let secretMode: SecretMode | undefined;
  try {
    opts = parseBrowserModeArgs(process.argv.slice(2));
    secretMode = secretModeFromEnv(process.env.MIMI_SECRETS);
  } catch (e) {
    console.error(`mimi: ${(e as Error).message}`);
    process.exit(2);
  }

  const rendererDir = fileURLToPath(new URL('../../out/renderer', import.meta.url));
  const core = await createAppCore({ dataDir: opts.dataDir, mode: 'browser', secretMode, exportsDir: exportsDir(opts.dataDir) });
  let bridge: Awaited<ReturnType<typeof startBridge>>;
  try {
    bridge = await startBridge({ core, rendererDir, port: opts.port });
  } catch (e) {
    await core.close();
    throw e;
  }
  console.log(`mimi is running: open ${bridge.url}`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const forced = setTimeout(() => process.exit(1), 10_000);
    forced.unref();
    void (async () => {
      await bridge.close();
      await core.close();
      process.exit(0);
    })().catch((e: unknown) => {
      console.error('mimi: error while stopping:', e);
      process.exit(1);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

// Run only as the entry point, so tests can import the argument parsing.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`mimi: could not start: ${(e as Error).message ?? e}`);
    process.exit(1);
  });
}
