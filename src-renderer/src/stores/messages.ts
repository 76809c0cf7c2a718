// Message history per open conversation. Lists can reach tens of thousands of messages, so they
// are kept as plain (non-deep-reactive) arrays replaced on change: Vue then tracks one reference
// per conversation instead of proxying every message.

import { defineStore } from 'pinia';
import { markRaw, shallowReactive } from 'vue';
import type { CoreErrorCode, MessageView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { toCoreError } from '../lib/coded-error.js';
import { upsertInTimeline } from '../lib/message-list.js';
import { compareTimeline } from '../../../src-shared/timeline-order.js';
import { isKeyOfAccount, roomKey } from '../lib/room-key.js';

export const PAGE_SIZE = 200;

export interface Conversation {
  /** In timeline order: the hub's acceptance order, pending messages last (message-list.ts). */
  readonly items: readonly MessageView[];
  readonly hasMore: boolean;
  readonly loadingOlder: boolean;
  readonly loaded: boolean;
  readonly error?: string;
  readonly errorCode?: CoreErrorCode;
}

const EMPTY: Conversation = markRaw({ items: [], hasMore: false, loadingOlder: false, loaded: false });

export const useMessagesStore = defineStore('messages', () => {
  const conversations = shallowReactive(new Map<string, Conversation>());

  function get(accountId: string, roomUri: string): Conversation {
    return conversations.get(roomKey(accountId, roomUri)) ?? EMPTY;
  }

  function put(key: string, c: Conversation): void {
    conversations.set(key, markRaw({ ...c, items: markRaw(c.items as MessageView[]) }));
  }

  async function loadLatest(accountId: string, roomUri: string): Promise<void> {
    const key = roomKey(accountId, roomUri);
    try {
      const page = await api().messages.page(accountId, roomUri, null, PAGE_SIZE);
      const newest = page[0];
      // Keep what arrived while the page was loading (after the page's newest, in timeline order);
      // drop older items, which may not connect to this page (after a long disconnect) and load
      // again on scrolling up.
      const arrived = (conversations.get(key)?.items ?? []).filter((m) => !newest || compareTimeline(m, newest) > 0);
      put(key, { items: upsertInTimeline(page.reverse(), arrived), hasMore: page.length === PAGE_SIZE, loadingOlder: false, loaded: true });
    } catch (e) {
      const ce = toCoreError(e);
      put(key, { ...get(accountId, roomUri), loaded: true, error: ce.message, errorCode: ce.code });
    }
  }

  async function ensureLoaded(accountId: string, roomUri: string): Promise<void> {
    if (!get(accountId, roomUri).loaded) await loadLatest(accountId, roomUri);
  }

  async function loadOlder(accountId: string, roomUri: string): Promise<void> {
    const key = roomKey(accountId, roomUri);
    const c = get(accountId, roomUri);
    if (!c.loaded || !c.hasMore || c.loadingOlder) return;
    put(key, { ...c, loadingOlder: true });
    try {
      const oldest = c.items[0]?.seq ?? null;
      const page = await api().messages.page(accountId, roomUri, oldest, PAGE_SIZE);
      const now = get(accountId, roomUri);
      put(key, { ...now, items: upsertInTimeline(page.reverse(), now.items), hasMore: page.length === PAGE_SIZE, loadingOlder: false, error: undefined, errorCode: undefined });
    } catch (e) {
      const ce = toCoreError(e);
      put(key, { ...get(accountId, roomUri), loadingOlder: false, error: ce.message, errorCode: ce.code });
    }
  }

  async function send(accountId: string, roomUri: string, text: string): Promise<MessageView> {
    const message = await api().messages.send(accountId, roomUri, text);
    apply(accountId, message);
    return message;
  }

  /** A message event: update an open conversation (others load fresh when opened). */
  function apply(accountId: string, message: MessageView): void {
    const key = roomKey(accountId, message.roomUri);
    const c = conversations.get(key);
    if (!c?.loaded) return;
    put(key, { ...c, items: upsertInTimeline(c.items, [message]) });
  }

  /** After the event stream was down: reload what is on screen, drop the rest. */
  async function resync(open: Array<{ accountId: string; roomUri: string }>): Promise<void> {
    const keep = new Set(open.map((o) => roomKey(o.accountId, o.roomUri)));
    for (const k of [...conversations.keys()]) if (!keep.has(k)) conversations.delete(k);
    await Promise.all(open.map((o) => loadLatest(o.accountId, o.roomUri)));
  }

  function forget(accountId: string): void {
    for (const k of [...conversations.keys()]) if (isKeyOfAccount(k, accountId)) conversations.delete(k);
  }

  return { conversations, get, loadLatest, ensureLoaded, loadOlder, send, apply, resync, forget };
});
