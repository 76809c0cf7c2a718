// Where the `mimi` command gets a passphrase profile's passphrase: MIMI_PASSPHRASE (scripts, tests)
// or, in a terminal, a prompt that does not echo. Never a command-line flag: arguments are visible
// to every user of the machine in the process list.

import { CoreError } from '../../src-shared/contract.js';

export const PASSPHRASE_ENV = 'MIMI_PASSPHRASE';
/** `mimi passphrase`: the new passphrase, for scripts (the current one comes from MIMI_PASSPHRASE). */
export const NEW_PASSPHRASE_ENV = 'MIMI_NEW_PASSPHRASE';

/**
 * A passphrase source for openSecretStore: called only when the profile needs one. `creating`:
 * a new profile, so a typed passphrase is asked twice.
 */
export function cliPassphrase(creating: boolean, env: NodeJS.ProcessEnv = process.env): () => Promise<string> {
  return async () => {
    const fromEnv = env[PASSPHRASE_ENV];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (!process.stdin.isTTY) {
      throw new CoreError(
        'secretStorage',
        `This profile's secrets are protected by a passphrase: set ${PASSPHRASE_ENV}, or run mimi in a terminal to be asked for it.`,
      );
    }
    const first = await askHidden(creating ? 'Choose a passphrase for this profile: ' : 'Passphrase: ');
    if (!creating) return first;
    const again = await askHidden('Repeat the passphrase: ');
    if (again !== first) throw new CoreError('invalidArgument', 'The two passphrases differ; nothing was created. Run the command again.');
    return first;
  };
}

/**
 * `mimi passphrase`: the current and the new passphrase, from MIMI_PASSPHRASE and
 * MIMI_NEW_PASSPHRASE or, in a terminal, asked (the new one twice).
 */
export async function cliPassphraseChange(env: NodeJS.ProcessEnv = process.env): Promise<{ current: string; next: string }> {
  const fromEnv = (name: string) => (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  let current = fromEnv(PASSPHRASE_ENV);
  let next = fromEnv(NEW_PASSPHRASE_ENV);
  if ((current === undefined || next === undefined) && !process.stdin.isTTY) {
    throw new CoreError(
      'invalidArgument',
      `Set ${PASSPHRASE_ENV} (the current passphrase) and ${NEW_PASSPHRASE_ENV} (the new one), or run mimi in a terminal to be asked for them. Nothing was changed.`,
    );
  }
  current ??= await askHidden('Current passphrase: ');
  if (next === undefined) {
    next = await askHidden('New passphrase: ');
    const again = await askHidden('Repeat the new passphrase: ');
    if (again !== next) throw new CoreError('invalidArgument', 'The two new passphrases differ; nothing was changed. Run the command again.');
  }
  return { current, next };
}

/** Reads one line from the terminal without echoing it (raw mode); Ctrl-C cancels. */
function askHidden(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(typed);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new CoreError('invalidArgument', 'Cancelled; nothing was changed.'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    input.on('data', onData);
  });
}
