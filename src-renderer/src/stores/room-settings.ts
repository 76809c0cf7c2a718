// Room settings per room: metadata, participants with roles, and what this account may change.
// They are part of the room state every member agrees on, which changes only with a commit; the
// core then sends a new room list, so a room whose epoch or members moved is reloaded. Each action
// keeps its own last error, so a refusal shows next to the button that caused it.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { IdentityView, ReceiptPolicyView, RoomMetadataArgs, RoomSettingsView, RoomView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { toCoreError } from '../lib/coded-error.js';
import { errorText } from '../i18n.js';
import { roomStamp } from '../lib/room-settings.js';
import { isKeyOfAccount, roomKey } from '../lib/room-key.js';
import { useRoomsStore } from './rooms.js';

export type SettingsAction = 'load' | 'metadata' | 'receipts' | 'kick' | 'remove' | 'ban' | 'unban' | 'role' | 'report';

/** Member actions are kept per member: a refusal for bob must not show next to carl. */
const actionKey = (action: SettingsAction, user?: string): string => (user ? `${action}:${user}` : action);

export const useRoomSettingsStore = defineStore('roomSettings', () => {
  const views = ref<Record<string, RoomSettingsView | undefined>>({});
  const errors = ref<Record<string, Record<string, string | undefined> | undefined>>({});
  const busy = ref<Record<string, Record<string, boolean> | undefined>>({});

  /** Rooms whose settings were asked for, with the room list stamp they were loaded at. */
  const tracked = new Map<string, string>();
  const loads = new Map<string, { again: boolean; done: Promise<void> }>();
  /**
   * Requests of one room can come back out of order (a reload racing an action): each request
   * gets a number and an answer is applied only if no later-started one was applied already.
   */
  let nextSeq = 1;
  const appliedSeq = new Map<string, number>();

  function of(accountId: string | undefined, roomUri: string | undefined): RoomSettingsView | undefined {
    return accountId && roomUri ? views.value[roomKey(accountId, roomUri)] : undefined;
  }

  function errorOf(accountId: string, roomUri: string, action: SettingsAction, user?: string): string | undefined {
    return errors.value[roomKey(accountId, roomUri)]?.[actionKey(action, user)];
  }

  function isBusy(accountId: string, roomUri: string, action: SettingsAction, user?: string): boolean {
    return !!busy.value[roomKey(accountId, roomUri)]?.[actionKey(action, user)];
  }

  function setError(key: string, action: string, message: string | undefined): void {
    const e = (errors.value[key] ??= {});
    if (message === undefined) delete e[action];
    else e[action] = message;
  }

  function setBusy(key: string, action: string, on: boolean): void {
    const b = (busy.value[key] ??= {});
    if (on) b[action] = true;
    else delete b[action];
  }

  /** The role name of a participant, when the room has roles at all. */
  function roleNameOf(accountId: string, roomUri: string, user: string): string | undefined {
    const v = of(accountId, roomUri);
    if (!v?.managed) return undefined;
    return v.participants.find((p) => p.user === user)?.roleName;
  }

  /** For a pseudonym in the room: the real identity as this account verified it (or why not). */
  function identityOf(accountId: string, roomUri: string, user: string): IdentityView | undefined {
    return of(accountId, roomUri)?.participants.find((p) => p.user === user)?.identity;
  }

  function accept(key: string, seq: number, view: RoomSettingsView): boolean {
    if (seq < (appliedSeq.get(key) ?? 0)) return false;
    appliedSeq.set(key, seq);
    views.value[key] = view;
    return true;
  }

  function stampNow(accountId: string, roomUri: string): string {
    const room = useRoomsStore()
      .roomsOf(accountId)
      .find((r) => r.roomUri === roomUri);
    return room ? roomStamp(room) : '';
  }

  async function fetchOnce(accountId: string, roomUri: string): Promise<void> {
    const key = roomKey(accountId, roomUri);
    const seq = nextSeq++;
    try {
      const view = await api().rooms.settings(accountId, roomUri);
      if (accept(key, seq, view)) setError(key, 'load', undefined);
    } catch (e) {
      if (seq >= (appliedSeq.get(key) ?? 0)) setError(key, 'load', errorText(e));
    }
  }

  /** (Re)load a room's settings; calls while one is running make it run once more, not once each. */
  function load(accountId: string, roomUri: string): Promise<void> {
    const key = roomKey(accountId, roomUri);
    if (!tracked.has(key)) tracked.set(key, stampNow(accountId, roomUri));
    const running = loads.get(key);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await fetchOnce(accountId, roomUri);
        } while (entry.again && tracked.has(key));
      } finally {
        loads.delete(key);
      }
    })();
    loads.set(key, entry);
    return entry.done;
  }

  /** Load once; later changes arrive through `onRooms`. */
  function ensure(accountId: string, roomUri: string): Promise<void> {
    const key = roomKey(accountId, roomUri);
    if (tracked.has(key) && (views.value[key] || loads.has(key))) return loads.get(key)?.done ?? Promise.resolve();
    return load(accountId, roomUri);
  }

  /** A new room list from the core: reload the watched rooms whose state may have moved. */
  function onRooms(accountId: string, rooms: RoomView[]): void {
    const prefix = `${accountId}\n`;
    for (const [key, stamp] of [...tracked]) {
      if (!key.startsWith(prefix)) continue;
      const roomUri = key.slice(prefix.length);
      const room = rooms.find((r) => r.roomUri === roomUri);
      if (!room) {
        drop(key);
        continue;
      }
      const now = roomStamp(room);
      if (now === stamp) continue;
      tracked.set(key, now);
      void load(accountId, roomUri);
    }
  }

  /**
   * One action: busy while it runs, its own error on failure. A call that changes the room answers
   * the new settings, which are applied; one that changes nothing in it (a report) answers nothing.
   */
  async function run(accountId: string, roomUri: string, action: SettingsAction, user: string | undefined, call: () => Promise<RoomSettingsView | void>): Promise<boolean> {
    const key = roomKey(accountId, roomUri);
    const ak = actionKey(action, user);
    if (busy.value[key]?.[ak]) return false;
    if (!tracked.has(key)) tracked.set(key, stampNow(accountId, roomUri));
    setBusy(key, ak, true);
    setError(key, ak, undefined);
    const seq = nextSeq++;
    try {
      const view = await call();
      if (view) accept(key, seq, view);
      return true;
    } catch (e) {
      const ce = toCoreError(e);
      setError(key, ak, errorText(e));
      // A refusal means what this screen offered was out of date (a role changed meanwhile).
      if (ce.code === 'notAllowed') void load(accountId, roomUri);
      useRoomsStore().recheckAfter(accountId, roomUri, ce.code);
      return false;
    } finally {
      setBusy(key, ak, false);
    }
  }

  /** A new name reaches the room list through the 'rooms' event the core sends after every commit. */
  const setMetadata = (accountId: string, roomUri: string, changes: RoomMetadataArgs) =>
    run(accountId, roomUri, 'metadata', undefined, () => api().rooms.setMetadata(accountId, roomUri, changes));

  /** A room state change like the metadata: the answer carries the new policy. */
  const setReceiptPolicy = (accountId: string, roomUri: string, policy: ReceiptPolicyView) =>
    run(accountId, roomUri, 'receipts', undefined, () => api().rooms.setReceiptPolicy(accountId, roomUri, policy));

  const setRole = (accountId: string, roomUri: string, user: string, roleIndex: number) =>
    run(accountId, roomUri, 'role', user, () => api().rooms.setRole(accountId, roomUri, user, roleIndex));
  const kick = (accountId: string, roomUri: string, user: string) => run(accountId, roomUri, 'kick', user, () => api().rooms.kick(accountId, roomUri, user));
  const remove = (accountId: string, roomUri: string, user: string) =>
    run(accountId, roomUri, 'remove', user, () => api().rooms.removeMember(accountId, roomUri, user));
  const ban = (accountId: string, roomUri: string, user: string) => run(accountId, roomUri, 'ban', user, () => api().rooms.ban(accountId, roomUri, user));
  const unban = (accountId: string, roomUri: string, user: string) => run(accountId, roomUri, 'unban', user, () => api().rooms.unban(accountId, roomUri, user));
  /** A report goes to the room's hub and changes nothing in the room: the settings are not reloaded. */
  const report = (accountId: string, roomUri: string, user: string, note: string) =>
    run(accountId, roomUri, 'report', user, () => api().rooms.reportAbuse(accountId, roomUri, user, note));

  /** Errors of an earlier visit are not about what is on screen now. */
  function clearErrors(accountId: string, roomUri: string): void {
    delete errors.value[roomKey(accountId, roomUri)];
  }

  function drop(key: string): void {
    tracked.delete(key);
    appliedSeq.delete(key);
    delete views.value[key];
    delete errors.value[key];
    delete busy.value[key];
  }

  /** After missing events (the bridge reconnected): reload everything watched. */
  async function resync(): Promise<void> {
    await Promise.all(
      [...tracked.keys()].map((key) => {
        const [accountId, roomUri] = key.split('\n');
        return load(accountId, roomUri);
      }),
    );
  }

  function forget(accountId: string): void {
    for (const key of [...tracked.keys()]) if (isKeyOfAccount(key, accountId)) drop(key);
  }

  return { views, errors, busy, of, errorOf, isBusy, roleNameOf, identityOf, load, ensure, onRooms, setMetadata, setReceiptPolicy, setRole, kick, remove, ban, unban, report, clearErrors, resync, forget };
});
