// `mimi --profile DIR passphrase`: a new passphrase for a profile whose secrets are encrypted under
// one. Works on the profile's files alone (no provider needed): the secrets are re-encrypted under
// the new passphrase in a way a crash cannot leave half done (secrets/passphrase-store.ts).

import path from 'node:path';
import { CoreError, MIN_SECRET_PASSPHRASE_LENGTH } from '../../src-shared/contract.js';
import { recordedSecretMode, SecretStoreError } from '../secrets/secret-store.js';
import { PassphraseStore } from '../secrets/passphrase-store.js';
import { Profile } from '../core/profile.js';
import { cliPassphraseChange } from './passphrase-prompt.js';

export async function passphraseCommand(profileDir: string): Promise<void> {
  const dir = path.resolve(profileDir);
  if (!Profile.exists(dir)) throw new CoreError('noAccount', `No account in ${dir}. Register or log in first.`);
  const mode = recordedSecretMode(dir);
  if (mode !== 'passphrase') {
    throw new CoreError(
      'invalidArgument',
      `This profile keeps its secrets in "${mode ?? 'unknown'}" storage, which has no passphrase to change. To protect them with a passphrase, sign in again as a new device in another profile folder with --secrets passphrase.`,
    );
  }
  const { current, next } = await cliPassphraseChange();
  if (next.length < MIN_SECRET_PASSPHRASE_LENGTH) throw new CoreError('invalidArgument', `Choose a new passphrase of at least ${MIN_SECRET_PASSPHRASE_LENGTH} characters; nothing was changed.`);
  try {
    const store = await PassphraseStore.unlock(dir, current);
    await store.changePassphrase(current, next);
  } catch (e) {
    if (e instanceof SecretStoreError && e.code === 'wrong-passphrase')
      throw new CoreError('wrongPassphrase', 'That is not the current passphrase, so nothing was changed. Check it (passphrases are case-sensitive) and try again.');
    if (e instanceof SecretStoreError) throw new CoreError('secretStorage', `Could not change the passphrase: ${e.message}`);
    throw e;
  }
  process.stderr.write('mimi: passphrase changed; use the new one from now on.\n');
}
