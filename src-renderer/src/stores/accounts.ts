// Signed-in accounts (several side by side), which one is on screen, accounts whose keys wait for
// their passphrase, and where a new account's keys would go.

import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { AccountView, LockedAccountView, SecretStorageView, SignInArgs } from '../../../src-shared/contract.js';
import { api } from '../api.js';

export const useAccountsStore = defineStore('accounts', () => {
  /** The accounts as the app process last reported them. */
  const reported = ref<AccountView[]>([]);
  const loaded = ref(false);
  /** Showing the sign-in form for one more account, over the normal view. */
  const adding = ref(false);
  /**
   * Whether this window hears from the app process (browser mode: the bridge's event stream is up).
   * The one source of "connected" on screen: while it is false, what the app last said about its
   * provider connections is stale, so no account is shown online and no provider banner is raised.
   */
  const appReachable = ref(true);
  /** When each account last stopped being online, as reported (see notOnlineSince). */
  const reportedNotOnlineSince = ref<Record<string, number>>({});
  /** Accounts whose keys are protected by a passphrase and not unlocked yet. */
  const locked = ref<LockedAccountView[]>([]);
  /** The locked account the unlock form is for (null: the first one, or none). */
  const unlocking = ref<string | null>(null);
  /** Where a new account's keys go; null until asked (the core probes the OS keychain). */
  const secretStorage = ref<SecretStorageView | null>(null);

  const list = computed<AccountView[]>(() =>
    appReachable.value ? reported.value : reported.value.map((a) => (a.connection === 'online' ? { ...a, connection: 'connecting' as const } : a)),
  );
  /**
   * When each account last stopped being online. The push connection cycles between "offline" and
   * "connecting" while it retries, so the UI judges by how long it has been away, not by the state.
   * Empty while the app process is out of reach: then it is the app, not the provider, that is away.
   */
  const notOnlineSince = computed<Record<string, number>>(() => (appReachable.value ? reportedNotOnlineSince.value : {}));

  const active = computed<AccountView | undefined>(() => list.value.find((a) => a.active) ?? list.value[0]);
  const activeId = computed(() => active.value?.id);
  /** The locked account to ask the passphrase of now. */
  const lockedTarget = computed<LockedAccountView | undefined>(() => locked.value.find((a) => a.id === unlocking.value) ?? (unlocking.value === null ? locked.value[0] : undefined));

  function apply(accounts: AccountView[]): void {
    const since: Record<string, number> = {};
    for (const a of accounts) if (a.connection !== 'online') since[a.id] = reportedNotOnlineSince.value[a.id] ?? Date.now();
    reportedNotOnlineSince.value = since;
    reported.value = accounts;
    loaded.value = true;
  }

  /**
   * The core's 'accounts' events and its answers to calls travel apart (a WebSocket and requests),
   * so an answer computed before an event may arrive after it and would put back an older state
   * (an account shown "connecting" that went online meanwhile). Every change of the list comes
   * with an event, so an answer is applied only if no event was applied while it was on its way.
   */
  let eventsApplied = 0;
  function fromEvent(accounts: AccountView[]): void {
    eventsApplied++;
    apply(accounts);
  }
  async function answer(call: Promise<AccountView[]>): Promise<void> {
    const mark = eventsApplied;
    const accounts = await call;
    if (eventsApplied === mark) apply(accounts);
  }

  async function refresh(): Promise<void> {
    await answer(api().accounts.list());
  }

  async function refreshLocked(): Promise<void> {
    locked.value = await api().accounts.locked();
  }

  async function loadSecretStorage(): Promise<SecretStorageView> {
    secretStorage.value = await api().accounts.secretStorage();
    return secretStorage.value;
  }

  async function signIn(how: 'register' | 'login', args: SignInArgs): Promise<AccountView> {
    const account = how === 'register' ? await api().accounts.register(args) : await api().accounts.login(args);
    if (!account.active) await answer(api().accounts.switchTo(account.id));
    else await refresh();
    adding.value = false;
    return account;
  }

  async function unlock(accountId: string, passphrase: string): Promise<void> {
    const views = await api().accounts.unlock(accountId, passphrase);
    locked.value = locked.value.filter((a) => a.id !== accountId);
    unlocking.value = null;
    adding.value = false;
    // Read the list again rather than apply `views`: the account starts connecting as it opens, and
    // an 'accounts' event saying "online" may have overtaken this answer.
    if (!views.find((a) => a.id === accountId)?.active) await answer(api().accounts.switchTo(accountId));
    else await refresh();
  }

  async function switchTo(accountId: string): Promise<void> {
    await answer(api().accounts.switchTo(accountId));
  }

  async function signOut(accountId: string): Promise<void> {
    await answer(api().accounts.signOut(accountId));
  }

  return {
    list,
    loaded,
    adding,
    appReachable,
    notOnlineSince,
    locked,
    unlocking,
    lockedTarget,
    secretStorage,
    active,
    activeId,
    apply,
    fromEvent,
    refresh,
    refreshLocked,
    loadSecretStorage,
    signIn,
    unlock,
    switchTo,
    signOut,
  };
});
