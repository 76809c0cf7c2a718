// Signed-in accounts (several side by side) and which one is on screen.

import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AccountView, SignInArgs } from '../../../src-shared/contract.js';
import { api } from '../api.js';

export const useAccountsStore = defineStore('accounts', () => {
  const list = ref<AccountView[]>([]);
  const loaded = ref(false);
  /** Showing the sign-in form for one more account, over the normal view. */
  const adding = ref(false);
  /**
   * When each account last stopped being online. The push connection cycles between "offline" and
   * "connecting" while it retries, so the UI judges by how long it has been away, not by the state.
   */
  const notOnlineSince = ref<Record<string, number>>({});

  const active = computed<AccountView | undefined>(() => list.value.find((a) => a.active) ?? list.value[0]);
  const activeId = computed(() => active.value?.id);

  function apply(accounts: AccountView[]): void {
    const since: Record<string, number> = {};
    for (const a of accounts) if (a.connection !== 'online') since[a.id] = notOnlineSince.value[a.id] ?? Date.now();
    notOnlineSince.value = since;
    list.value = accounts;
    loaded.value = true;
  }

  async function refresh(): Promise<void> {
    apply(await api().accounts.list());
  }

  async function signIn(how: 'register' | 'login', args: SignInArgs): Promise<AccountView> {
    const account = how === 'register' ? await api().accounts.register(args) : await api().accounts.login(args);
    if (!account.active) apply(await api().accounts.switchTo(account.id));
    else await refresh();
    adding.value = false;
    return account;
  }

  async function switchTo(accountId: string): Promise<void> {
    apply(await api().accounts.switchTo(accountId));
  }

  async function signOut(accountId: string): Promise<void> {
    apply(await api().accounts.signOut(accountId));
  }

  return { list, loaded, adding, notOnlineSince, active, activeId, apply, refresh, signIn, switchTo, signOut };
});
