// Settings → Provider keys: each account's recorded provider keys for private KeyPackage requests
// (core/provider-keys.ts). Kept up to date by the core's 'providerKeys' events once loaded.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { CoreEvent, ProviderKeyView } from '../../../src-shared/contract.js';
import { api } from '../api.js';

export const useProviderKeysStore = defineStore('providerKeys', () => {
  /** Each account's list, once Settings asked for it. */
  const byAccount = ref<Record<string, ProviderKeyView[]>>({});

  async function load(accountId: string): Promise<ProviderKeyView[]> {
    const list = await api().providerKeys.list(accountId);
    byAccount.value = { ...byAccount.value, [accountId]: list };
    return list;
  }

  async function forget(accountId: string, domain: string): Promise<void> {
    byAccount.value = { ...byAccount.value, [accountId]: await api().providerKeys.forget(accountId, domain) };
  }

  /** A key recorded by an add, or forgotten (here or elsewhere): the core sends the whole list. */
  function apply(event: Extract<CoreEvent, { type: 'providerKeys' }>): void {
    byAccount.value = { ...byAccount.value, [event.accountId]: event.keys };
  }

  /** The account left the app: its list goes too. */
  function drop(accountId: string): void {
    const { [accountId]: _gone, ...rest } = byAccount.value;
    byAccount.value = rest;
  }

  return { byAccount, load, forget, apply, drop };
});
