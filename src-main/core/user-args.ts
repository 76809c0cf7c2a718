// Users as a person types them, turned into user URIs with an error that says what to write.

import { CoreError } from '../../src-shared/contract.js';
import { parseParticipantAddress } from '../../src-shared/identifiers.js';

/**
 * A user address as typed (bob, bob@b.example, a URI) as a user URI, or a pseudonym URI (the only
 * name a room with pseudonyms has for its members); `forms` is the hint on failure.
 */
export function userArg(ownDomain: string, user: string, forms = 'bob, bob@b.example or mimi://b.example/u/bob'): string {
  try {
    return parseParticipantAddress(user, ownDomain);
  } catch {
    throw new CoreError('invalidArgument', `"${user}" is not a user address; write ${forms}.`);
  }
}
