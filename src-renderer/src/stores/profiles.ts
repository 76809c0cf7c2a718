// Members' shared profiles (display name, small picture) per account and room, as the core
// learned them from the members themselves inside the room (docs/decisions.md "Profiles in rooms").
// Loaded when a room opens, kept current by 'profiles' events.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { MemberProfileView } from '../../../src-shared/contract.js';
import { api } from '../api.js';

type RoomProfiles = Record<string, MemberProfileView>;

export const useProfilesStore = defineStore('profiles', () => {
  /** accountId → roomUri → user → profile */
  const byAccount = ref<Record<string, Record<string, RoomProfiles>>>({});

  function apply(accountId: string, roomUri: string, profiles: RoomProfiles): void {
    byAccount.value = { ...byAccount.value, [accountId]: { ...byAccount.value[accountId], [roomUri]: profiles } };
  }

  async function load(accountId: string, roomUri: string): Promise<void> {
    apply(accountId, roomUri, await api().rooms.profiles(accountId, roomUri));
  }

  /** The display name `user` shares in the room, if any. */
  function displayName(accountId: string, roomUri: string, user: string): string | undefined {
    return byAccount.value[accountId]?.[roomUri]?.[user]?.displayName;
  }

  /** The picture `user` shares in the room (a data: URL), if any. */
  function avatar(accountId: string, roomUri: string, user: string): string | undefined {
    return byAccount.value[accountId]?.[roomUri]?.[user]?.avatar;
  }

  function forget(accountId: string): void {
    const { [accountId]: _gone, ...rest } = byAccount.value;
    byAccount.value = rest;
  }

  return { byAccount, apply, load, displayName, avatar, forget };
});
