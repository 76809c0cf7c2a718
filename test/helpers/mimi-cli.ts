// Runs the `mimi` command (bin/mimi.mjs) as a script would, capturing exit code and output.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './provider-process.js';

/** Longer than any command of the suite takes (the slowest wait 30-60 s for the network). */
const HANG_MS = 120_000;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  raw: Buffer;
}

/** `mimi --profile DIR register` for `handle` on provider `p` (its URL and CA file), password 'correct horse'. */
export function register(dir: string, p: { url: string; caFile: string }, handle: string): Promise<Run> {
  return mimi(['--profile', dir, 'register', '--provider', p.url, '--ca', p.caFile, '--handle', handle, '--password', 'correct horse']);
}

/** The `mimi` child itself, for a test that watches its output or kills it. */
export function spawnMimi(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [path.join(ROOT, 'bin/mimi.mjs'), ...args], { cwd: ROOT, env: { ...process.env, MIMI_SECRETS: 'plaintext', ...env } });
}

/** `input`: what the person types on its stdin (else stdin stays open and unused). */
export function mimi(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawnMimi(args, env);
    if (input !== undefined) child.stdin.end(input);
    const out: Buffer[] = [];
    let stderr = '';
    // A run that hangs fails on its own, naming itself, instead of using up the whole test's time.
    let kill: NodeJS.Timeout | undefined;
    const hung = setTimeout(() => {
      stderr += `\n[test helper] mimi ${args.join(' ')} still running after ${HANG_MS / 1000} s: asked where it is (SIGUSR2), then killed\n`;
      // Its answer ("mimi: still running, at: …") lands in stderr before the kill.
      child.kill('SIGUSR2');
      kill = setTimeout(() => child.kill('SIGKILL'), 1000);
    }, HANG_MS);
    child.on('close', () => {
      clearTimeout(kill);
      // Also in the test's own output, whatever its assertion prints: the step the run was stuck in.
      if (/\[test helper\].*still running/.test(stderr)) console.error(stderr.slice(-2000));
    });
    child.on('close', () => clearTimeout(hung));
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const raw = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: raw.toString('utf8'), stderr, raw });
    });
  });
}
