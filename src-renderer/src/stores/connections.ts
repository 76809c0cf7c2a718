// Connection requests per account (someone met under a pseudonym discloses who they are and asks
// to talk on a new pair of pseudonyms), both ways. The core pushes a fresh list (event
// 'connections') whenever one arrives or changes; actions apply the list they answer with too.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ConnectionRequestPolicyView, ConnectionView, ConnectionsView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { pendingIncoming } from '../lib/pseudonyms.js';

const EMPTY: ConnectionsView = Object.freeze({ incoming: [], outgoing: [] }) as ConnectionsView;

export type ConnectionAnswer = 'accept' | 'decline';

export const useConnectionsStore = defineStore('connections', () => {
  const byAccount = ref<Record<string, ConnectionsView | undefined>>({});
  /** Who may send each account requests, as its provider last said (fetched when shown). */
  const policies = ref<Record<string, ConnectionRequestPolicyView | undefined>>({});

  function of(accountId: string | undefined): ConnectionsView {
    return (accountId && byAccount.value[accountId]) || EMPTY;
  }

  /** Incoming requests still waiting for an answer. */
  function waiting(accountId: string | undefined): ConnectionView[] {
    return pendingIncoming(of(accountId).incoming);
  }

  function apply(accountId: string, list: ConnectionsView): void {
    byAccount.value[accountId] = list;
  }

  async function load(accountId: string): Promise<void> {
    apply(accountId, await api().connections.list(accountId));
  }

  /** `user`: a user URI or handle@domain. */
  async function connect(accountId: string, user: string): Promise<void> {
    apply(accountId, await api().connections.connect(accountId, user));
  }

  /** Answer a request; returns it as it is now (accepted: with the new room's URI). */
  async function answer(accountId: string, id: string, how: ConnectionAnswer): Promise<ConnectionView | undefined> {
    const list = await api().connections[how](accountId, id);
    apply(accountId, list);
    return list.incoming.find((c) => c.id === id);
  }

  async function loadPolicy(accountId: string): Promise<ConnectionRequestPolicyView> {
    const policy = await api().connections.policy(accountId);
    policies.value[accountId] = policy;
    return policy;
  }

  async function setPolicy(accountId: string, policy: ConnectionRequestPolicyView): Promise<ConnectionRequestPolicyView> {
    const stored = await api().connections.setPolicy(accountId, policy);
    policies.value[accountId] = stored;
    return stored;
  }

  function forget(accountId: string): void {
    delete byAccount.value[accountId];
    delete policies.value[accountId];
  }

  return { byAccount, policies, of, waiting, apply, load, connect, answer, loadPolicy, setPolicy, forget };
});
