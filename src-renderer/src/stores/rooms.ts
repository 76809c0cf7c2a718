// Rooms per account, and which room each account has open.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { RoomView } from '../../../src-shared/contract.js';
import { api } from '../api.js';

const byRecentActivity = (a: RoomView, b: RoomView): number =>
  (b.lastMessage?.timestamp ?? 0) - (a.lastMessage?.timestamp ?? 0) || a.name.localeCompare(b.name);

export const useRoomsStore = defineStore('rooms', () => {
  const byAccount = ref<Record<string, RoomView[]>>({});
  const selected = ref<Record<string, string | undefined>>({});
  const loading = ref<Record<string, boolean>>({});

  function roomsOf(accountId: string | undefined): RoomView[] {
    return accountId ? (byAccount.value[accountId] ?? []) : [];
  }

  function selectedRoom(accountId: string | undefined): RoomView | undefined {
    if (!accountId) return undefined;
    const uri = selected.value[accountId];
    return roomsOf(accountId).find((r) => r.roomUri === uri);
  }

  function apply(accountId: string, rooms: RoomView[]): void {
    byAccount.value[accountId] = [...rooms].sort(byRecentActivity);
  }

  function upsert(accountId: string, room: RoomView): void {
    const rest = roomsOf(accountId).filter((r) => r.roomUri !== room.roomUri);
    apply(accountId, [...rest, room]);
  }

  async function load(accountId: string): Promise<void> {
    loading.value[accountId] = true;
    try {
      apply(accountId, await api().rooms.list(accountId));
    } finally {
      loading.value[accountId] = false;
    }
  }

  async function create(accountId: string, name: string): Promise<RoomView> {
    const room = await api().rooms.create(accountId, name);
    upsert(accountId, room);
    await select(accountId, room.roomUri);
    return room;
  }

  async function addMember(accountId: string, roomUri: string, user: string): Promise<RoomView> {
    const room = await api().rooms.addMember(accountId, roomUri, user);
    upsert(accountId, room);
    return room;
  }

  async function markRead(accountId: string, roomUri: string): Promise<void> {
    const room = roomsOf(accountId).find((r) => r.roomUri === roomUri);
    if (room && room.unread > 0) upsert(accountId, { ...room, unread: 0 });
    await api().rooms.markRead(accountId, roomUri);
  }

  async function select(accountId: string, roomUri: string | undefined): Promise<void> {
    selected.value[accountId] = roomUri;
    if (roomUri) await markRead(accountId, roomUri);
  }

  function forget(accountId: string): void {
    delete byAccount.value[accountId];
    delete selected.value[accountId];
  }

  return { byAccount, selected, loading, roomsOf, selectedRoom, apply, upsert, load, create, addMember, markRead, select, forget };
});
