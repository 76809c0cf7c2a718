// Knocks per account: people asking to be let into rooms this account administers (they arrive
// in the room's knock room), and this account's own knocks with where each one is. The core pushes
// a fresh list (event 'knocks') whenever one arrives or changes; actions apply the list they answer
// with too. Also each room's knock room and its link, once asked for, and whether the Knocks
// screen is open (one screen, for the active account).

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { KnockRoomView, KnocksView, KnockView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { pendingKnocks } from '../lib/join-links.js';
import { isKeyOfAccount, roomKey } from '../lib/room-key.js';

const EMPTY: KnocksView = Object.freeze({ incoming: [], outgoing: [] }) as KnocksView;

export type KnockAnswer = 'admit' | 'decline';

export const useKnocksStore = defineStore('knocks', () => {
  const byAccount = ref<Record<string, KnocksView | undefined>>({});
  const knockRooms = ref<Record<string, KnockRoomView | undefined>>({});
  /** The Knocks screen replaces the chat while open. */
  const open = ref(false);
  /** Own knocks whose outcome was seen and put away from the room pane (this session), by account and knock id. */
  const dismissed = ref<Record<string, true>>({});

  function of(accountId: string | undefined): KnocksView {
    return (accountId && byAccount.value[accountId]) || EMPTY;
  }

  /** Knocks on this account's rooms still waiting for an answer. */
  function waiting(accountId: string | undefined): KnockView[] {
    return pendingKnocks(of(accountId).incoming);
  }

  function apply(accountId: string, list: KnocksView): void {
    byAccount.value[accountId] = list;
  }

  async function load(accountId: string): Promise<void> {
    apply(accountId, await api().knocks.list(accountId));
  }

  /** Whether this account set up knocking on any room this session (its knocks will show up here). */
  function hasKnockRoom(accountId: string | undefined): boolean {
    return !!accountId && Object.keys(knockRooms.value).some((key) => isKeyOfAccount(key, accountId));
  }

  function knockRoomOf(accountId: string, roomUri: string): KnockRoomView | undefined {
    return knockRooms.value[roomKey(accountId, roomUri)];
  }

  async function knockRoom(accountId: string, roomUri: string): Promise<KnockRoomView> {
    const view = await api().knocks.knockRoom(accountId, roomUri);
    knockRooms.value[roomKey(accountId, roomUri)] = view;
    return view;
  }

  async function knock(accountId: string, link: string, note: string, asPseudonym: boolean): Promise<void> {
    apply(accountId, await api().knocks.knock(accountId, link, note, asPseudonym));
  }

  /** Answer a knock; returns it as it is now (admitted, declined, or still pending with a problem). */
  async function answer(accountId: string, id: string, how: KnockAnswer): Promise<KnockView | undefined> {
    const list = await api().knocks[how](accountId, id);
    apply(accountId, list);
    return list.incoming.find((k) => k.id === id);
  }

  function dismiss(accountId: string, id: string): void {
    dismissed.value[roomKey(accountId, id)] = true;
  }

  function isDismissed(accountId: string, id: string): boolean {
    return !!dismissed.value[roomKey(accountId, id)];
  }

  function forget(accountId: string): void {
    delete byAccount.value[accountId];
    for (const key of Object.keys(knockRooms.value)) if (isKeyOfAccount(key, accountId)) delete knockRooms.value[key];
    for (const key of Object.keys(dismissed.value)) if (isKeyOfAccount(key, accountId)) delete dismissed.value[key];
  }

  return { byAccount, knockRooms, open, dismissed, of, waiting, apply, load, hasKnockRoom, knockRoomOf, knockRoom, knock, answer, dismiss, isDismissed, forget };
});
