// Discovery: this account's profile fields (nick, email, phone, display name), which of them
// others may search by, and searching a provider for users.

import { CoreError } from '../../src-shared/contract.js';
import { displayHandle, isValidDomain, parseMimiUriAs, parseUserAddress } from '../../src-shared/identifiers.js';
import { PROFILE_FIELDS, type FindRequest, type FindResponse, type MyProfile, type ProfileFieldName } from '../../src-shared/provider-api.js';
import type { ProfileContext } from './context.js';
import { toCoreError } from './errors.js';

/** Profile fields to set (a string) or clear (null); absent ones stay. */
export interface ProfileFieldChanges {
  nick?: string | null;
  email?: string | null;
  phone?: string | null;
  displayName?: string | null;
}

export class Discovery {
  constructor(private readonly ctx: ProfileContext) {}

  /** My profile fields and which of them are searchable. */
  async myProfile(): Promise<MyProfile> {
    try {
      return await this.ctx.client.myProfile();
    } catch (e) {
      throw toCoreError(e, 'Could not read the profile');
    }
  }

  /** Set (string) or clear (null) profile fields; absent ones stay. */
  async setProfileFields(fields: ProfileFieldChanges): Promise<MyProfile> {
    try {
      return await this.ctx.client.setMyProfile(fields);
    } catch (e) {
      throw toCoreError(e, 'Could not update the profile');
    }
  }

  /** Whether others may find me by `field` (handle, nick, email, phone, name). */
  async setSearchable(field: ProfileFieldName, on: boolean): Promise<MyProfile> {
    if (!(PROFILE_FIELDS as readonly string[]).includes(field)) {
      throw new CoreError('invalidArgument', `"${field}" is not a profile field; use one of ${PROFILE_FIELDS.join(', ')}.`);
    }
    try {
      return await this.ctx.client.setMyProfile({ searchable: { [field]: on } });
    } catch (e) {
      throw toCoreError(e, 'Could not change what is searchable');
    }
  }

  /** Search a provider (default: the handle's, else mine) for users; fields are ANDed. */
  async find(query: FindRequest): Promise<FindResponse> {
    const q = findQuery(query, this.ctx.config.domain);
    try {
      return await this.ctx.client.find(q);
    } catch (e) {
      throw toCoreError(e, 'The search failed');
    }
  }
}

/**
 * A search as a person types it, in the form providers match: the handle as a whole address
 * (`bob@b.example`), since a provider matches only whole addresses and a bare `bob` would mean
 * nothing to another provider; the domain lowercased. A bare handle is on the chosen provider
 * (`domain`), else on mine; `bob@b.example`, `im:bob@b.example` and `mimi://b.example/u/bob` name
 * their own provider, which must then be the chosen one if one was chosen. Pure.
 */
export function findQuery(query: FindRequest, ownDomain: string): FindRequest {
  const out: FindRequest = { ...query };
  let domain: string | undefined;
  if (query.domain !== undefined) {
    domain = query.domain.trim().toLowerCase();
    if (!isValidDomain(domain)) throw new CoreError('invalidArgument', `"${query.domain}" is not a provider name; write one like b.example, or leave it empty to search ${ownDomain}.`);
    out.domain = domain;
  }
  if (query.handle === undefined) return out;
  const raw = query.handle.trim().replace(/^@/, '');
  // A pseudonym is never found (the provider answers notFound by design): passed on as it is.
  if (parseMimiUriAs('pseudonym', raw)) return { ...out, handle: raw };
  let address: string;
  try {
    address = displayHandle(parseUserAddress(raw.replace(/^im:/i, ''), domain ?? ownDomain));
  } catch {
    throw new CoreError('invalidArgument', `"${query.handle}" is not a handle; write bob, bob@b.example or mimi://b.example/u/bob.`);
  }
  const handleDomain = address.slice(address.indexOf('@') + 1);
  if (domain !== undefined && handleDomain !== domain) {
    throw new CoreError('invalidArgument', `${address} is on ${handleDomain}, not on ${domain}: search ${handleDomain} instead, or write just the handle.`);
  }
  return { ...out, handle: address, domain: handleDomain };
}
