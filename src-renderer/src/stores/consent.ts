// Consent per account: who asks to add me, whom I let add me, whom I blocked, and what became of
// my own requests. The core pushes a fresh list (event 'consent') whenever the provider says it
// changed; actions reload it as well, so the screen is right even if the event is late. What waits
// for an answer is `waiting`: the core's list as it is (it already leaves out what needs no
// answer), so every badge counts exactly the requests the lists show. `news`: our requests that
// were accepted (event 'consentGranted'), until dismissed.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ConsentActionView, ConsentGrantedView, ConsentListView } from '../../../src-shared/contract.js';
import { api } from '../api.js';

const EMPTY: ConsentListView = Object.freeze({ incoming: [], granted: [], blocked: [], outgoing: [] }) as ConsentListView;

export type ConsentAction = 'request' | 'cancel' | 'grant' | 'decline' | 'revoke' | 'block' | 'unblock';

export const useConsentStore = defineStore('consent', () => {
  const byAccount = ref<Record<string, ConsentListView>>({});

  function of(accountId: string | undefined): ConsentListView {
    return (accountId && byAccount.value[accountId]) || EMPTY;
  }

  const news = ref<Record<string, ConsentGrantedView[]>>({});

  function apply(accountId: string, list: ConsentListView): void {
    byAccount.value[accountId] = list;
  }

  /** The incoming requests to answer: what the Consent tab and the room list show and count. */
  function waiting(accountId: string | undefined): ConsentListView['incoming'] {
    return of(accountId).incoming;
  }

  const newsKey = (g: ConsentGrantedView) => `${g.user}\n${g.roomUri ?? ''}`;

  function noteGranted(accountId: string, grant: ConsentGrantedView): void {
    const rest = (news.value[accountId] ?? []).filter((g) => newsKey(g) !== newsKey(grant));
    news.value[accountId] = [...rest, grant];
  }

  function newsOf(accountId: string | undefined): ConsentGrantedView[] {
    return (accountId && news.value[accountId]) || [];
  }

  function dismissNews(accountId: string, grant: ConsentGrantedView): void {
    news.value[accountId] = newsOf(accountId).filter((g) => newsKey(g) !== newsKey(grant));
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
    delete news.value[accountId];
  }

  return { byAccount, news, of, apply, waiting, noteGranted, newsOf, dismissNews, load, act, forget };
});
