// Discovery: this account's profile fields (nick, email, phone, display name), which of them
// others may search by, and searching a provider for users.

import { CoreError } from '../../src-shared/contract.js';
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
    try {
      return await this.ctx.client.find(query);
    } catch (e) {
      throw toCoreError(e, 'The search failed');
    }
  }
}
