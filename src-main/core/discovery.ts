// Discovery: this account's profile fields (nick, email, phone, display name), which of them
// others may search by, and searching a provider for users.

import { displayHandle, isValidDomain, parseMimiUriAs, parseUserAddress } from '../../src-shared/identifiers.js';
import { PROFILE_FIELDS, type FindRequest, type FindResponse, type MyProfile, type ProfileFieldName } from '../../src-shared/provider-api.js';
import type { ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';

/** Profile fields to set (a string) or clear (null); absent ones stay. */
export interface ProfileFieldChanges {
  nick?: string | null;
  email?: string | null;
  phone?: string | null;
  displayName?: string | null;
}

/** The display name as rooms learn it (member-profiles.ts). */
export interface DisplayNameHook {
  checkDisplayName(name: string): void;
  noteDisplayName(name: string | undefined, changed: boolean): void;
}

export class Discovery {
  /** Told of the display name whenever it is read or set, so rooms see the provider's. */
  displayName?: DisplayNameHook;

  constructor(private readonly ctx: ProfileContext) {}

  /** My profile fields and which of them are searchable. */
  async myProfile(): Promise<MyProfile> {
    let p: MyProfile;
    try {
      p = await this.ctx.client.myProfile();
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.readProfile' });
    }
    this.displayName?.noteDisplayName(p.displayName, false);
    return p;
  }

  /** Set (string) or clear (null) profile fields; absent ones stay. */
  async setProfileFields(fields: ProfileFieldChanges): Promise<MyProfile> {
    // Rooms show the name to everyone in them: one they would refuse is not set anywhere.
    if (typeof fields.displayName === 'string') {
      fields = { ...fields, displayName: fields.displayName.trim() };
      this.displayName?.checkDisplayName(fields.displayName as string);
    }
    let p: MyProfile;
    try {
      p = await this.ctx.client.setMyProfile(fields);
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.updateProfile' });
    }
    if (fields.displayName !== undefined) this.displayName?.noteDisplayName(p.displayName, true);
    return p;
  }

  /** Whether others may find me by `field` (handle, nick, email, phone, name). */
  async setSearchable(field: ProfileFieldName, on: boolean): Promise<MyProfile> {
    if (!(PROFILE_FIELDS as readonly string[]).includes(field)) {
      throw coreError('invalidArgument', 'errors.discovery.badField', { field, fields: PROFILE_FIELDS.join(', ') });
    }
    try {
      return await this.ctx.client.setMyProfile({ searchable: { [field]: on } });
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.changeSearchable' });
    }
  }

  /** Search a provider (default: the handle's, else mine) for users; fields are ANDed. */
  async find(query: FindRequest): Promise<FindResponse> {
    const q = findQuery(query, this.ctx.config.domain);
    try {
      return await this.ctx.client.find(q);
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.search' });
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
    if (!isValidDomain(domain)) throw coreError('invalidArgument', 'errors.discovery.badDomain', { domain: query.domain ?? '', own: ownDomain });
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
    throw coreError('invalidArgument', 'errors.discovery.badHandle', { handle: query.handle });
  }
  const handleDomain = address.slice(address.indexOf('@') + 1);
  if (domain !== undefined && handleDomain !== domain) {
    throw coreError('invalidArgument', 'errors.discovery.otherDomain', { address, handleDomain, domain });
  }
  return { ...out, handle: address, domain: handleDomain };
}
