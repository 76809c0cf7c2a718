// Finding people and what others can find about me, per account; plus which People tab is open
// (the People view takes the place of the chat while it is open).

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { FindArgs, FindResultView, MyProfileView, ProfileField, ProfileFieldsArgs } from '../../../src-shared/contract.js';
import { api } from '../api.js';

export type PeopleTab = 'consent' | 'connections' | 'find' | 'settings';

export const usePeopleStore = defineStore('people', () => {
  const open = ref<Record<string, PeopleTab | undefined>>({});
  const profile = ref<Record<string, MyProfileView | undefined>>({});
  const lastSearch = ref<Record<string, { query: FindArgs; result: FindResultView } | undefined>>({});

  function show(accountId: string, tab: PeopleTab): void {
    open.value[accountId] = tab;
  }
  function close(accountId: string): void {
    open.value[accountId] = undefined;
  }

  async function find(accountId: string, query: FindArgs): Promise<FindResultView> {
    const result = await api().people.find(accountId, query);
    lastSearch.value[accountId] = { query, result };
    return result;
  }

  async function loadProfile(accountId: string): Promise<MyProfileView> {
    const p = await api().people.myProfile(accountId);
    profile.value[accountId] = p;
    return p;
  }

  async function setSearchable(accountId: string, field: ProfileField, on: boolean): Promise<void> {
    profile.value[accountId] = await api().people.setSearchable(accountId, field, on);
  }

  async function setFields(accountId: string, fields: ProfileFieldsArgs): Promise<void> {
    profile.value[accountId] = await api().people.setProfileFields(accountId, fields);
  }

  function forget(accountId: string): void {
    delete open.value[accountId];
    delete profile.value[accountId];
    delete lastSearch.value[accountId];
  }

  return { open, profile, lastSearch, show, close, find, loadProfile, setSearchable, setFields, forget };
});
