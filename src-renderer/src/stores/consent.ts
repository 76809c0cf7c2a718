// Consent per account: who asks to add me, whom I let add me, whom I blocked, and what became of
// my own requests. The core pushes a fresh list (event 'consent') whenever the provider says it
// changed; actions reload it as well, so the screen is right even if the event is late.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ConsentActionView, ConsentListView } from '../../../src-shared/contract.js';
import { api } from '../api.js';

const EMPTY: ConsentListView = Object.freeze({ incoming: [], granted: [], blocked: [], outgoing: [] }) as ConsentListView;

export type ConsentAction = 'request' | 'cancel' | 'grant' | 'decline' | 'revoke' | 'block' | 'unblock';

export const useConsentStore = defineStore('consent', () => {
  const byAccount = ref<Record<string, ConsentListView>>({});

  function of(accountId: string | undefined): ConsentListView {
    return (accountId && byAccount.value[accountId]) || EMPTY;
  }

  function apply(accountId: string, list: ConsentListView): void {
    byAccount.value[accountId] = list;
  }

  async function load(accountId: string): Promise<void> {
    apply(accountId, await api().consent.list(accountId));
  }

  /** Run one action; `roomUri` only matters for request, cancel, grant and revoke. */
  async function act(accountId: string, action: ConsentAction, user: string, roomUri?: string): Promise<ConsentActionView> {
    const c = api().consent;
    const res =
      action === 'decline' || action === 'block' || action === 'unblock'
        ? await c[action](accountId, user)
        : await c[action](accountId, user, roomUri ?? null);
    await load(accountId).catch(() => undefined);
    return res;
  }

  function forget(accountId: string): void {
    delete byAccount.value[accountId];
  }

  return { byAccount, of, apply, load, act, forget };
});
