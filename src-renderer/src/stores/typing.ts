// Who is typing, per account and room, from the core's 'typing' events (the core drops an
// indicator that is not repeated in time, so this only mirrors what it says).

import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api } from '../api.js';
import { roomKey } from '../lib/room-key.js';

/** At most one "typing" a room per this long: the core repeats nothing, and drops an indicator not renewed in time. */
export const TYPING_REPEAT_MS = 3000;

export const useTypingStore = defineStore('typing', () => {
  /** accountId → roomUri → users typing now (others only). */
  const byAccount = ref<Record<string, Record<string, string[]>>>({});

  function apply(accountId: string, roomUri: string, users: string[]): void {
    byAccount.value = { ...byAccount.value, [accountId]: { ...byAccount.value[accountId], [roomUri]: users } };
  }

  function typingIn(accountId: string, roomUri: string): string[] {
    return byAccount.value[accountId]?.[roomUri] ?? [];
  }

  /** Per room (roomKey): when this account last said it is typing there (not reactive: nothing shows it). */
  const saidAt = new Map<string, number>();

  /**
   * This account types (true) or stopped (false) in a room. "Typing" goes out at most once per
   * TYPING_REPEAT_MS while it goes on; "stopped" only after a "typing". Failures are quiet: a
   * typing indicator is not worth an error, and the core drops a stale one by itself.
   */
  function say(accountId: string, roomUri: string, typing: boolean, now = Date.now()): void {
    const key = roomKey(accountId, roomUri);
    const last = saidAt.get(key);
    if (typing) {
      if (last !== undefined && now - last < TYPING_REPEAT_MS) return;
      saidAt.set(key, now);
    } else {
      if (last === undefined) return;
      saidAt.delete(key);
    }
    api()
      .messages.typing(accountId, roomUri, typing)
      .catch(() => undefined);
  }

  function forget(accountId: string): void {
    const { [accountId]: _gone, ...rest } = byAccount.value;
    byAccount.value = rest;
  }

  return { byAccount, apply, typingIn, say, forget };
});
