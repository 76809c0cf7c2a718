// Rooms per account, and which room each account has open.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { CoreErrorCode, MessageView, RoomPreset, RoomView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { isKeyOfAccount, roomKey } from '../lib/room-key.js';
import { t } from '../i18n.js';

const byRecentActivity = (a: RoomView, b: RoomView): number =>
  (b.lastMessage?.timestamp ?? 0) - (a.lastMessage?.timestamp ?? 0) || a.name.localeCompare(b.name);

/** A room that was open and then disappeared (from the core's list, or the core no longer knows it). */
export interface GoneRoom {
  roomUri: string;
  name: string;
}

/**
 * The core keeps every room it has joined, including rooms this account was removed from: those
 * come with no members (a member list always holds the viewer while they are in the room).
 */
export const hasLeft = (room: RoomView): boolean => room.members.length === 0;

/**
 * The room each account had open, kept in this window's storage, so a reload (or the next start)
 * opens it again. Per account id: each account has its own rooms. Only the room's URI is kept.
 */
const LAST_ROOM_KEY = 'mimi.lastRoom.';
function rememberRoom(accountId: string, roomUri: string | undefined): void {
  try {
    if (roomUri) localStorage.setItem(LAST_ROOM_KEY + accountId, roomUri);
    else localStorage.removeItem(LAST_ROOM_KEY + accountId);
  } catch {
    // storage disabled: nothing is remembered
  }
}
function rememberedRoom(accountId: string): string | undefined {
  try {
    return localStorage.getItem(LAST_ROOM_KEY + accountId) ?? undefined;
  } catch {
    return undefined;
  }
}

export const useRoomsStore = defineStore('rooms', () => {
  const byAccount = ref<Record<string, RoomView[]>>({});
  const selected = ref<Record<string, string | undefined>>({});
  const loading = ref<Record<string, boolean>>({});
  const gone = ref<Record<string, GoneRoom | undefined>>({});
  /** Rooms (by roomKey) this device still has but whose provider answered "unknown room". */
  const lostOnProvider = ref<Record<string, true>>({});
  /** Accounts whose remembered room was looked for already: only the first list of a session reopens it. */
  const restored = new Set<string>();
  /** Newest message seq seen per room (by roomKey), so a late status update of an older message does not become the preview. */
  const newestSeq = new Map<string, number>();

  function roomsOf(accountId: string | undefined): RoomView[] {
    return accountId ? (byAccount.value[accountId] ?? []) : [];
  }

  function selectedRoom(accountId: string | undefined): RoomView | undefined {
    if (!accountId) return undefined;
    const uri = selected.value[accountId];
    return roomsOf(accountId).find((r) => r.roomUri === uri);
  }

  function apply(accountId: string, rooms: RoomView[]): void {
    const open = selected.value[accountId];
    if (open && !rooms.some((r) => r.roomUri === open)) {
      const before = roomsOf(accountId).find((r) => r.roomUri === open);
      gone.value[accountId] = { roomUri: open, name: before?.name ?? t('rooms.thisRoom') };
      selected.value[accountId] = undefined;
      rememberRoom(accountId, undefined);
    }
    byAccount.value[accountId] = [...rooms].sort(byRecentActivity);
  }

  function upsert(accountId: string, room: RoomView): void {
    const rest = roomsOf(accountId).filter((r) => r.roomUri !== room.roomUri);
    apply(accountId, [...rest, room]);
  }

  /**
   * Keep the preview and order current for messages the core reports one by one (the core sends
   * a new room list for incoming messages, not for the ones written here).
   */
  function noteMessage(accountId: string, message: MessageView): void {
    const key = roomKey(accountId, message.roomUri);
    if (message.seq < (newestSeq.get(key) ?? -1)) return;
    newestSeq.set(key, message.seq);
    if (message.reaction) return; // a reaction is not what the preview shows
    const room = roomsOf(accountId).find((r) => r.roomUri === message.roomUri);
    if (!room) return;
    const lastMessage = { sender: message.sender, text: message.text, timestamp: message.timestamp };
    const same = room.lastMessage && room.lastMessage.sender === lastMessage.sender && room.lastMessage.text === lastMessage.text && room.lastMessage.timestamp === lastMessage.timestamp;
    if (!same) upsert(accountId, { ...room, lastMessage });
  }

  async function load(accountId: string): Promise<void> {
    loading.value[accountId] = true;
    try {
      apply(accountId, await api().rooms.list(accountId));
    } finally {
      loading.value[accountId] = false;
    }
    await reopenRemembered(accountId);
  }

  /**
   * After a reload: the room this account had open, if the core still has it and nothing else was
   * opened meanwhile. A room that is gone is forgotten rather than shown as gone: nothing was open
   * in this session to disappear.
   */
  async function reopenRemembered(accountId: string): Promise<void> {
    if (restored.has(accountId)) return;
    restored.add(accountId);
    const uri = rememberedRoom(accountId);
    if (!uri || selected.value[accountId]) return;
    if (!roomsOf(accountId).some((r) => r.roomUri === uri)) {
      rememberRoom(accountId, undefined);
      return;
    }
    // Marking it read may fail (core busy, room lost on its provider); the room is open regardless.
    await select(accountId, uri).catch(() => undefined);
  }

  /**
   * `preset` null: the core's default (cooperative). `minimalMetadata`: every member appears as a
   * pseudonym, real identities travel only inside the encrypted group.
   */
  async function create(accountId: string, name: string, preset: RoomPreset | null = null, minimalMetadata = false): Promise<RoomView> {
    const rooms = api().rooms;
    const room = minimalMetadata ? await rooms.createMinimalMetadata(accountId, name, preset) : await rooms.create(accountId, name, preset);
    upsert(accountId, room);
    await select(accountId, room.roomUri);
    return room;
  }

  async function addMember(accountId: string, roomUri: string, user: string): Promise<RoomView> {
    const room = await api().rooms.addMember(accountId, roomUri, user);
    upsert(accountId, room);
    return room;
  }

  /** Join again by the room's link (the core refuses non-participants and banned users). */
  async function join(accountId: string, roomUri: string): Promise<RoomView> {
    const room = await api().rooms.join(accountId, roomUri);
    upsert(accountId, room);
    return room;
  }

  async function leave(accountId: string, roomUri: string): Promise<RoomView> {
    const room = await api().rooms.leave(accountId, roomUri);
    upsert(accountId, room);
    return room;
  }

  async function markRead(accountId: string, roomUri: string): Promise<void> {
    const room = roomsOf(accountId).find((r) => r.roomUri === roomUri);
    if (room && room.unread > 0) upsert(accountId, { ...room, unread: 0 });
    await api().rooms.markRead(accountId, roomUri);
  }

  /** Mute or unmute a room's notifications (kept in the account's profile on this device). */
  async function setMuted(accountId: string, roomUri: string, muted: boolean): Promise<RoomView> {
    const room = await api().rooms.setMuted(accountId, roomUri, muted);
    upsert(accountId, room);
    return room;
  }

  async function select(accountId: string, roomUri: string | undefined): Promise<void> {
    selected.value[accountId] = roomUri;
    restored.add(accountId); // a room picked before the list came back wins over the remembered one
    rememberRoom(accountId, roomUri);
    gone.value[accountId] = undefined;
    if (roomUri) await markRead(accountId, roomUri);
  }

  /**
   * The core answered `roomUnknown` for a room on screen: this device no longer has it. Reload the
   * list (the open room then turns into the "gone" state); if the core still lists it, the room
   * only vanished from its provider, and the caller's own message says so.
   */
  async function recheck(accountId: string, unknownRoomUri?: string): Promise<void> {
    await load(accountId).catch(() => undefined);
    if (unknownRoomUri && roomsOf(accountId).some((r) => r.roomUri === unknownRoomUri)) lostOnProvider.value[roomKey(accountId, unknownRoomUri)] = true;
  }

  /**
   * After the core refused an action on `roomUri`: `roomUnknown` and `notMember` mean this screen's
   * room list is out of date, so it is checked again (see `recheck`). Other refusals change nothing.
   */
  function recheckAfter(accountId: string, roomUri: string, code: CoreErrorCode): void {
    if (code === 'roomUnknown' || code === 'notMember') void recheck(accountId, code === 'roomUnknown' ? roomUri : undefined);
  }

  /** This session learnt that the room's provider refuses it as unknown (see `recheck`). */
  function isLostOnProvider(accountId: string | undefined, roomUri: string | undefined): boolean {
    return !!accountId && !!roomUri && !!lostOnProvider.value[roomKey(accountId, roomUri)];
  }

  function dismissGone(accountId: string): void {
    gone.value[accountId] = undefined;
  }

  /** The account is gone from this device (signed out): so is the memory of its open room. */
  function forget(accountId: string): void {
    rememberRoom(accountId, undefined);
    restored.delete(accountId);
    delete byAccount.value[accountId];
    delete selected.value[accountId];
    delete gone.value[accountId];
    for (const k of [...newestSeq.keys()]) if (isKeyOfAccount(k, accountId)) newestSeq.delete(k);
    for (const k of Object.keys(lostOnProvider.value)) if (isKeyOfAccount(k, accountId)) delete lostOnProvider.value[k];
  }

  return {
    byAccount,
    selected,
    loading,
    gone,
    roomsOf,
    selectedRoom,
    apply,
    upsert,
    noteMessage,
    load,
    create,
    addMember,
    join,
    leave,
    markRead,
    setMuted,
    select,
    recheck,
    recheckAfter,
    isLostOnProvider,
    dismissGone,
    forget,
  };
});
