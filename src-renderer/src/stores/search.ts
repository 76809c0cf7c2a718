// Message search: whether the search screen is open, and the active query's answer. A query runs
// as the user types (after a short pause); an answer to an older query is dropped.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { SearchResponse } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { errorText } from '../i18n.js';

export const useSearchStore = defineStore('search', () => {
  /** The search screen replaces the chat while open (the active account's messages). */
  const open = ref(false);
  const query = ref('');
  /** '' = every room. */
  const roomUri = ref('');
  const answer = ref<SearchResponse | null>(null);
  const busy = ref(false);
  const error = ref('');
  let asked = 0;

  async function run(accountId: string): Promise<void> {
    const q = query.value.trim();
    const mine = ++asked;
    error.value = '';
    if (q === '') {
      answer.value = null;
      busy.value = false;
      return;
    }
    busy.value = true;
    try {
      const a = await api().messages.search(accountId, q, roomUri.value || null, 50);
      if (mine === asked) answer.value = a;
    } catch (e) {
      if (mine === asked) error.value = errorText(e);
    } finally {
      if (mine === asked) busy.value = false;
    }
  }

  function reset(): void {
    query.value = '';
    answer.value = null;
    error.value = '';
  }

  return { open, query, roomUri, answer, busy, error, run, reset };
});
