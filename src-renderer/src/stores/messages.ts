// Message history per open conversation. Lists can reach tens of thousands of messages, so they
// are kept as plain (non-deep-reactive) arrays replaced on change: Vue then tracks one reference
// per conversation instead of proxying every message.

import { defineStore } from 'pinia';
import { markRaw, shallowReactive } from 'vue';
import type { CoreErrorCode, MessageVersionView, MessageView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { toCoreError } from '../lib/coded-error.js';
import { errorText } from '../i18n.js';
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

/**
 * What the composer is doing besides writing a new message: answering `message` (reply) or
 * changing the text of one of the viewer's own (edit). Set from the timeline, ended by Escape.
 */
export interface ComposeMode {
  mode: 'reply' | 'edit';
  message: MessageView;
  /** The text the message shows (an edit starts from it; a reply quotes it). */
  text: string;
  senderName: string;
}

const EMPTY: Conversation = markRaw({ items: [], hasMore: false, loadingOlder: false, loaded: false });

/**
 * Replies quote their message as it reads now (core/message-view.ts); when an event changes that
 * message (an edit, a delete), the loaded replies to it get the new quote too, as a page would.
 */
function requote(items: MessageView[], changed: MessageView): MessageView[] {
  if (!items.some((m) => m.replyTo?.messageId === changed.messageId)) return items;
  const replyTo = {
    messageId: changed.messageId,
    sender: changed.sender,
    text: changed.text,
    contentType: changed.contentType,
    ...(changed.deleted ? { deleted: true } : {}),
  };
  return items.map((m) => (m.replyTo?.messageId === changed.messageId ? { ...m, replyTo } : m));
}

export const useMessagesStore = defineStore('messages', () => {
  const conversations = shallowReactive(new Map<string, Conversation>());
  /** Per room (roomKey): reply or edit in progress in the composer. */
  const composing = shallowReactive(new Map<string, ComposeMode>());
  /** Per room: the viewer's newest message that can still be edited (Up in an empty composer). */
  const lastOwn = shallowReactive(new Map<string, ComposeMode>());

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
      put(key, { ...get(accountId, roomUri), loaded: true, error: errorText(ce), errorCode: ce.code });
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
      put(key, { ...get(accountId, roomUri), loadingOlder: false, error: errorText(ce), errorCode: ce.code });
    }
  }

  async function send(accountId: string, roomUri: string, text: string): Promise<MessageView> {
    const message = await api().messages.send(accountId, roomUri, text);
    apply(accountId, message);
    return message;
  }

  async function reply(accountId: string, roomUri: string, messageId: string, text: string): Promise<MessageView> {
    const message = await api().messages.reply(accountId, roomUri, messageId, text);
    apply(accountId, message);
    return message;
  }

  /** `remove`: withdraw the viewer's own reaction `emoji`. */
  async function react(accountId: string, roomUri: string, messageId: string, emoji: string, remove: boolean): Promise<void> {
    apply(accountId, await api().messages.react(accountId, roomUri, messageId, emoji, remove));
  }

  async function edit(accountId: string, roomUri: string, messageId: string, text: string): Promise<void> {
    apply(accountId, await api().messages.edit(accountId, roomUri, messageId, text));
  }

  async function remove(accountId: string, roomUri: string, messageId: string): Promise<void> {
    apply(accountId, await api().messages.delete(accountId, roomUri, messageId));
  }

  function history(accountId: string, roomUri: string, messageId: string): Promise<MessageVersionView[]> {
    return api().messages.history(accountId, roomUri, messageId);
  }

  function composeMode(accountId: string, roomUri: string): ComposeMode | undefined {
    return composing.get(roomKey(accountId, roomUri));
  }

  function setComposeMode(accountId: string, roomUri: string, mode: ComposeMode | undefined): void {
    const key = roomKey(accountId, roomUri);
    if (mode) composing.set(key, markRaw(mode));
    else composing.delete(key);
  }

  function lastOwnOf(accountId: string, roomUri: string): ComposeMode | undefined {
    return lastOwn.get(roomKey(accountId, roomUri));
  }

  function setLastOwn(accountId: string, roomUri: string, mode: ComposeMode | undefined): void {
    const key = roomKey(accountId, roomUri);
    const was = lastOwn.get(key);
    if (was?.message === mode?.message && was?.text === mode?.text) return;
    if (mode) lastOwn.set(key, markRaw(mode));
    else lastOwn.delete(key);
  }

  /** A message event: update an open conversation (others load fresh when opened). */
  function apply(accountId: string, event: MessageView): void {
    // `changed` describes the event, not the message: not kept on the item.
    const { changed: _changed, ...message } = event;
    const key = roomKey(accountId, message.roomUri);
    const c = conversations.get(key);
    if (!c?.loaded) return;
    put(key, { ...c, items: requote(upsertInTimeline(c.items, [message]), message) });
  }

  /** After the event stream was down: reload what is on screen, drop the rest. */
  async function resync(open: Array<{ accountId: string; roomUri: string }>): Promise<void> {
    const keep = new Set(open.map((o) => roomKey(o.accountId, o.roomUri)));
    for (const k of [...conversations.keys()]) if (!keep.has(k)) conversations.delete(k);
    await Promise.all(open.map((o) => loadLatest(o.accountId, o.roomUri)));
  }

  function forget(accountId: string): void {
    for (const map of [conversations, composing, lastOwn]) for (const k of [...map.keys()]) if (isKeyOfAccount(k, accountId)) map.delete(k);
  }

  return {
    conversations,
    get,
    loadLatest,
    ensureLoaded,
    loadOlder,
    send,
    reply,
    react,
    edit,
    remove,
    history,
    composeMode,
    setComposeMode,
    lastOwnOf,
    setLastOwn,
    apply,
    resync,
    forget,
  };
});
