// Runs the `mimi` command (bin/mimi.mjs) as a script would, capturing exit code and output.

import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
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
      stderr += `[test helper] its stdout so far: ${JSON.stringify(Buffer.concat(out).toString('utf8').slice(-500))}\n${nativeState(child.pid)}`;
      // Its answer ("mimi: still running, at: …") lands in stderr before the kill.
      child.kill('SIGUSR2');
      kill = setTimeout(() => child.kill('SIGKILL'), 1000);
    }, HANG_MS);
    child.on('close', () => {
      clearTimeout(kill);
      // Also in the test's own output, whatever its assertion prints: the step the run was stuck in.
      if (/\[test helper\].*still running/.test(stderr)) console.error(stderr.slice(-12000));
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

/**
 * What a hung child's threads are doing, seen from outside: each thread's state and the kernel wait
 * it sleeps in, and (when gdb is installed) every thread's native stack. A run that does not answer
 * SIGUSR2 has its event loop blocked, and only this says where.
 */
function nativeState(pid: number | undefined): string {
  if (pid === undefined) return '';
  const lines: string[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const read = (f: string) => {
        try {
          return fs.readFileSync(`/proc/${pid}/task/${t}/${f}`, 'utf8').trim();
        } catch {
          return '?';
        }
      };
      lines.push(`  thread ${t} ${read('comm')}: state ${read('stat').split(') ')[1]?.split(' ')[0]}, wchan ${read('wchan')}, syscall ${read('syscall').split(' ')[0]}`);
    }
  } catch (e) {
    lines.push(`  /proc/${pid}: ${(e as Error).message}`);
  }
  try {
    const bt = execFileSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 30'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    lines.push(...bt.split('\n').filter((l) => /^(Thread|#)/.test(l)).map((l) => `  ${l.slice(0, 200)}`));
  } catch (e) {
    lines.push(`  (no native stacks: ${(e as Error).message.split('\n')[0]})`);
  }
  return `[test helper] its threads:\n${lines.join('\n')}\n`;
}
