// The `mimi` command line as data: positional arguments and --options. Apart from mimi.ts (which
// runs on import) so the unit tests can check the parsing.

/** A mistake in how the command was called: exit 2 with the usage text. */
export class UsageError extends Error {}

export interface Parsed {
  positional: string[];
  flags: Map<string, string>;
}

const FLAGS_WITH_VALUE = new Set([
  'profile',
  'provider',
  'ca',
  'handle',
  'password',
  'device-name',
  'count',
  'timeout',
  'secrets',
  'room',
  'nick',
  'email',
  'phone',
  'name',
  'domain',
  'limit',
  'cursor',
  'preset',
  'note',
  'description',
  'avatar',
  'subject',
  'refill',
  'retire',
  // link create
  'uses',
  'expires',
  'passphrase',
  'role',
  // report --message
  'message',
  'reason',
  // send --file [--type], download --out (attachments)
  'file',
  'type',
  'out',
  // privacy switches, room-receipts (receipts and typing)
  'delivery-receipts',
  'read-receipts',
  'typing',
  'delivery',
  'read',
  // backup restore
  'recovery-key',
  // verify USER --compare B64
  'compare',
]);

/** Options that take no value: confirm delete-account; a minimal-metadata room; join or knock under a pseudonym; react --remove. */
const BOOLEAN_FLAGS = new Set(['yes', 'minimal-metadata', 'as-pseudonym', 'ids', 'remove', 'receipts', 'full', 'keep-data', 'remove-device', 'mark', 'clear', 'qr', 'incoming']);

export function parseArgs(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') throw new UsageError('');
    if (a.startsWith('--') && BOOLEAN_FLAGS.has(a.slice(2))) {
      flags.set(a.slice(2), 'true');
      continue;
    }
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (!FLAGS_WITH_VALUE.has(name)) throw new UsageError(`unknown option ${a}`);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      flags.set(name, v);
    } else positional.push(a);
  }
  return { positional, flags };
}

export function need(p: Parsed, flag: string): string {
  const v = p.flags.get(flag);
  if (v === undefined) throw new UsageError(`--${flag} is required`);
  return v;
}

export function arity(args: string[], n: number, what: string): void {
  if (args.length !== n) throw new UsageError(`${what} takes ${n} argument(s)`);
}

/** Refuse options that mean nothing for this command, rather than ignoring what the user asked for. */
export function noFlags(p: Parsed, flags: readonly string[], what: string): void {
  const given = flags.filter((f) => p.flags.has(f));
  if (given.length) throw new UsageError(`${what} takes no ${given.map((f) => `--${f}`).join(', ')}`);
}
