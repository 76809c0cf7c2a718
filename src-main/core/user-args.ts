// Users as a person types them, turned into user URIs with an error that says what to write.

import { parseParticipantAddress } from '../../src-shared/identifiers.js';
import { coreError } from './errors.js';

/**
 * A user address as typed (bob, bob@b.example, a URI) as a user URI, or a pseudonym URI (the only
 * name a room with pseudonyms has for its members); `forms` says which forms the hint on failure
 * names (the bare handle only where it means a user of our own provider).
 */
export function userArg(ownDomain: string, user: string, forms: 'any' | 'remote' = 'any'): string {
  try {
    return parseParticipantAddress(user, ownDomain);
  } catch {
    throw coreError('invalidArgument', forms === 'remote' ? 'errors.member.notRemoteUserAddress' : 'errors.member.notUserAddress', { user });
  }
}
