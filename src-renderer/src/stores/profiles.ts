// Members' shared profiles (display name, small picture) per account and room, as the core
// learned them from the members themselves inside the room (docs/decisions.md "Profiles in rooms").
// Loaded when a room opens, kept current by 'profiles' events. Also each account's own picture,
// which the core keeps and shares (people.avatar / people.setAvatar).

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { MemberProfileView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { toCoreError } from '../lib/coded-error.js';

type RoomProfiles = Record<string, MemberProfileView>;

/** Where earlier versions kept the picture, in this window only; handed to the core once. */
const LEGACY_AVATAR_KEY = 'mimi.avatar.';

function legacyAvatar(accountId: string): string | null {
  try {
    return localStorage.getItem(LEGACY_AVATAR_KEY + accountId);
  } catch {
    return null;
  }
}
function dropLegacyAvatar(accountId: string): void {
  try {
    localStorage.removeItem(LEGACY_AVATAR_KEY + accountId);
  } catch {
    // storage disabled: nothing kept there either
  }
}

export const useProfilesStore = defineStore('profiles', () => {
  /** accountId → roomUri → user → profile */
  const byAccount = ref<Record<string, Record<string, RoomProfiles>>>({});
  /** accountId → own picture (data: URL) or null; absent until loaded. */
  const own = ref<Record<string, string | null>>({});

  /**
   * How many 'profiles' events each room has had. A load answered after an event was read before
   * it (the event can overtake the answer): that answer is dropped rather than put the older names
   * back for good.
   */
  const news = new Map<string, number>();
  const key = (accountId: string, roomUri: string) => `${accountId}\n${roomUri}`;

  function set(accountId: string, roomUri: string, profiles: RoomProfiles): void {
    byAccount.value = { ...byAccount.value, [accountId]: { ...byAccount.value[accountId], [roomUri]: profiles } };
  }

  /** A 'profiles' event: the room's profiles as they are now. */
  function apply(accountId: string, roomUri: string, profiles: RoomProfiles): void {
    news.set(key(accountId, roomUri), (news.get(key(accountId, roomUri)) ?? 0) + 1);
    set(accountId, roomUri, profiles);
  }

  async function load(accountId: string, roomUri: string): Promise<void> {
    const before = news.get(key(accountId, roomUri)) ?? 0;
    const profiles = await api().rooms.profiles(accountId, roomUri);
    if ((news.get(key(accountId, roomUri)) ?? 0) === before) set(accountId, roomUri, profiles);
  }

  /** The display name `user` shares in the room, if any. */
  function displayName(accountId: string, roomUri: string, user: string): string | undefined {
    return byAccount.value[accountId]?.[roomUri]?.[user]?.displayName;
  }

  /** The picture `user` shares in the room (a data: URL), if any. */
  function avatar(accountId: string, roomUri: string, user: string): string | undefined {
    return byAccount.value[accountId]?.[roomUri]?.[user]?.avatar;
  }

  /** This account's own picture, loaded on first use (the first use also moves an old window-only one into the core). */
  function ownAvatar(accountId: string | undefined): string | undefined {
    if (!accountId) return undefined;
    if (!(accountId in own.value)) {
      own.value = { ...own.value, [accountId]: null };
      void loadOwn(accountId);
    }
    return own.value[accountId] ?? undefined;
  }

  async function loadOwn(accountId: string): Promise<void> {
    let url: string | null;
    try {
      url = await api().people.avatar(accountId);
    } catch {
      return; // shown without a picture; the next Settings visit tries again
    }
    const legacy = legacyAvatar(accountId);
    if (legacy !== null) {
      if (url === null) {
        try {
          url = await api().people.setAvatar(accountId, legacy);
        } catch (e) {
          // A picture the core refuses can never be handed over; anything else is tried next time.
          if (toCoreError(e).code !== 'invalidArgument') {
            own.value = { ...own.value, [accountId]: url };
            return;
          }
        }
      }
      dropLegacyAvatar(accountId);
    }
    own.value = { ...own.value, [accountId]: url };
  }

  /** A new picture (data: URL from lib/avatar.ts) or none; the core keeps it and shares it in rooms. */
  async function setOwnAvatar(accountId: string, dataUrl: string | null): Promise<void> {
    const url = await api().people.setAvatar(accountId, dataUrl);
    own.value = { ...own.value, [accountId]: url };
  }

  function forget(accountId: string): void {
    const { [accountId]: _gone, ...rest } = byAccount.value;
    byAccount.value = rest;
    const { [accountId]: _mine, ...others } = own.value;
    own.value = others;
  }

  return { byAccount, own, apply, load, displayName, avatar, ownAvatar, setOwnAvatar, forget };
});
