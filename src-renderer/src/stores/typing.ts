// Who is typing, per account and room, from the core's 'typing' events (the core drops an
// indicator that is not repeated in time, so this only mirrors what it says).

import { defineStore } from 'pinia';
import { ref } from 'vue';

export const useTypingStore = defineStore('typing', () => {
  /** accountId → roomUri → users typing now (others only). */
  const byAccount = ref<Record<string, Record<string, string[]>>>({});

  function apply(accountId: string, roomUri: string, users: string[]): void {
    byAccount.value = { ...byAccount.value, [accountId]: { ...byAccount.value[accountId], [roomUri]: users } };
  }

  function typingIn(accountId: string, roomUri: string): string[] {
    return byAccount.value[accountId]?.[roomUri] ?? [];
  }

  function forget(accountId: string): void {
    const { [accountId]: _gone, ...rest } = byAccount.value;
    byAccount.value = rest;
  }

  return { byAccount, apply, typingIn, forget };
});
