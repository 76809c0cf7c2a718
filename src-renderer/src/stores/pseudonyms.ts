// Each account's pseudonym pool, and whether the pseudonym manager is on screen. The core keeps
// the pools filled in the background and pushes a fresh pool (event 'pseudonyms') whenever one
// changes; actions apply the pool they answer with as well, so the screen is right even if the
// event is late.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { PseudonymPoolView } from '../../../src-shared/contract.js';
import { api } from '../api.js';

export const usePseudonymsStore = defineStore('pseudonyms', () => {
  const byAccount = ref<Record<string, PseudonymPoolView | undefined>>({});
  /** The manager replaces the chat while open; it is one screen for every account. */
  const open = ref(false);
  /** Every account's pool side by side, or the active account's only. */
  const allAccounts = ref(false);

  function of(accountId: string | undefined): PseudonymPoolView | undefined {
    return accountId ? byAccount.value[accountId] : undefined;
  }

  function apply(accountId: string, pool: PseudonymPoolView): void {
    byAccount.value[accountId] = pool;
  }

  async function load(accountId: string): Promise<void> {
    apply(accountId, await api().pseudonyms.list(accountId));
  }

  async function refill(accountId: string, count: number): Promise<void> {
    apply(accountId, await api().pseudonyms.refill(accountId, count));
  }

  async function retire(accountId: string, userPseudonym: string): Promise<void> {
    apply(accountId, await api().pseudonyms.retire(accountId, userPseudonym));
  }

  function forget(accountId: string): void {
    delete byAccount.value[accountId];
  }

  return { byAccount, open, allAccounts, of, apply, load, refill, retire, forget };
});
