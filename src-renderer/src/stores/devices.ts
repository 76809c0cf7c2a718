// The account's devices (Settings → Devices) and the provider's notices about them: a device that
// signed in elsewhere is told at once, as a note anyone can act on (remove it, change the password).

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { CoreEvent, DeviceView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { useAccountsStore } from './accounts.js';
import { useAppStore } from './app.js';

export const useDevicesStore = defineStore('devices', () => {
  /** Each account's list, once Settings asked for it (kept up to date by the notices then). */
  const byAccount = ref<Record<string, DeviceView[]>>({});

  async function load(accountId: string): Promise<DeviceView[]> {
    const list = await api().accounts.devices(accountId);
    byAccount.value = { ...byAccount.value, [accountId]: list };
    return list;
  }

  async function rename(accountId: string, deviceId: string, name: string): Promise<void> {
    byAccount.value = { ...byAccount.value, [accountId]: await api().accounts.renameDevice(accountId, deviceId, name) };
  }

  async function remove(accountId: string, deviceId: string): Promise<void> {
    byAccount.value = { ...byAccount.value, [accountId]: await api().accounts.removeDevice(accountId, deviceId) };
  }

  function apply(event: Extract<CoreEvent, { type: 'devices' }>): void {
    if (event.change === 'added' && !event.device.current) {
      const account = useAccountsStore().list.find((a) => a.id === event.accountId);
      const address = account ? `${account.handle}@${account.domain}` : '';
      useAppStore().notify(t('devices.newDevice', { name: event.device.name, address }), event.accountId);
    }
    // A list on screen follows the change (names and "last seen" come from the provider).
    if (byAccount.value[event.accountId]) void load(event.accountId).catch(() => undefined);
  }

  function forget(accountId: string): void {
    const { [accountId]: _gone, ...rest } = byAccount.value;
    byAccount.value = rest;
  }

  return { byAccount, load, rename, remove, apply, forget };
});
