// Where the `mimi` command gets a passphrase profile's passphrase: MIMI_PASSPHRASE (scripts, tests)
// or, in a terminal, a prompt that does not echo. Never a command-line flag: arguments are visible
// to every user of the machine in the process list.

import { CoreError } from '../../src-shared/contract.js';

export const PASSPHRASE_ENV = 'MIMI_PASSPHRASE';

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
