// `mimi interop check URL [--ca PEM] [--cert PEM --key PEM] [--as DOMAIN] [--domain DOMAIN]
// [--room URI --user URI [--group-id HEX]] [--only PREFIX,...] [--timeout S] [--json]`: argument
// handling and printing around runCheck (check.ts). Exit code 0 when no probe FAILs, 1 otherwise.

import fs from 'node:fs';
import { fromHex } from '../../src-shared/bytes.js';
import { UsageError } from '../cli/args.js';
import { runCheck, type Row } from './check.js';
import { summary, tableHeader, tableRow, toJson } from './report.js';

const WITH_VALUE = new Set(['ca', 'cert', 'key', 'as', 'domain', 'room', 'user', 'group-id', 'only', 'timeout']);
const BOOLEAN = new Set(['json']);

/** Generic `--name value` / `--flag` parsing for the interop subcommands. */
export function parseInteropArgs(argv: readonly string[], withValue = WITH_VALUE, boolean = BOOLEAN): { positional: string[]; flags: Record<string, string | boolean> } {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const name = a.slice(2);
    if (boolean.has(name)) flags[name] = true;
    else if (withValue.has(name)) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      flags[name] = v;
    } else throw new UsageError(`unknown option ${a}`);
  }
  return { positional, flags };
}

function readPem(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

export async function checkCommand(argv: readonly string[]): Promise<void> {
  const { positional, flags } = parseInteropArgs(argv);
  if (positional.length !== 1) throw new UsageError('interop check takes one URL (the target provider, e.g. https://mimi.example.com)');
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  if ((str('cert') === undefined) !== (str('key') === undefined)) throw new UsageError('--cert and --key go together');
  if (str('user') && !str('room')) throw new UsageError('--user goes with --room');
  let groupId: Uint8Array | undefined;
  if (str('group-id') !== undefined) {
    if (!str('room')) throw new UsageError('--group-id goes with --room');
    try {
      groupId = fromHex(str('group-id')!);
    } catch {
      throw new UsageError('--group-id must be hex');
    }
  }
  const timeout = str('timeout');
  if (timeout !== undefined && !(Number(timeout) > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const json = flags.json === true;
  const idWidth = 34; // the longest probe id, so the columns line up as rows arrive
  const printRow = (r: Row) => {
    if (!json) process.stdout.write(tableRow(r, idWidth));
  };
  if (!json) process.stdout.write(tableHeader(idWidth));
  const rows = await runCheck(
    {
      url: positional[0],
      targetDomain: str('domain'),
      asDomain: str('as'),
      caPem: str('ca') && readPem(str('ca')!, 'CA file'),
      certPem: str('cert') && readPem(str('cert')!, 'certificate'),
      keyPem: str('key') && readPem(str('key')!, 'key'),
      room: str('room'),
      groupId,
      user: str('user'),
      timeoutMs: timeout === undefined ? undefined : Number(timeout) * 1000,
      only: str('only')?.split(','),
    },
    printRow,
  );
  if (json) process.stdout.write(toJson(rows));
  else process.stdout.write(summary(rows));
  const failed = rows.filter((r) => r.result === 'FAIL');
  if (failed.length > 0) throw new Error(`${failed.length} probe(s) failed: ${failed.map((r) => r.id).join(', ')}`);
}
