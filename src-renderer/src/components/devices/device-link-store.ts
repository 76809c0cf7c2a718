// The running device verification or history transfer (core/device-link.ts), as the dialog shows
// it: started here (Settings → Devices) or asked for by another device of the account (its
// 'deviceVerification' event opens the dialog wherever the app is). One at a time, as in the core.

import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { CoreEvent, DeviceVerificationAnswer, DeviceVerificationView, HistoryTransferView } from '../../../../src-shared/contract.js';
import { api } from '../../api.js';
import { laterView } from '../../lib/verification-stage.js';
import { useDevicesStore } from '../../stores/devices.js';

export interface DeviceLinkState {
  accountId: string;
  verification: DeviceVerificationView;
  history?: HistoryTransferView;
}

export const useDeviceLinkStore = defineStore('deviceLink', () => {
  const current = ref<DeviceLinkState | null>(null);
  let subscribed = false;

  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    api().onEvent((e: CoreEvent) => {
      if (e.type === 'deviceVerification') {
        const { type: _t, accountId, ...v } = e;
        onVerification(accountId, v);
      } else if (e.type === 'historyTransfer') {
        const { type: _t, accountId, ...h } = e;
        if (current.value?.verification.attemptId === h.attemptId) current.value = { ...current.value, history: h };
      }
    });
  }

  function onVerification(accountId: string, v: DeviceVerificationView): void {
    const same = current.value?.verification.attemptId === v.attemptId;
    // Another attempt's news while one is on screen: the core refused it already (one at a time).
    if (!same && current.value && !ended(current.value)) return;
    current.value = { accountId, verification: laterView(current.value?.verification, v), history: same ? current.value?.history : undefined };
    // The list shows "Verified" as soon as it is.
    if (v.stage === 'verified' && useDevicesStore().byAccount[accountId]) void useDevicesStore().load(accountId).catch(() => undefined);
  }

  function ended(s: DeviceLinkState): boolean {
    if (s.history) return s.history.stage === 'done' || s.history.stage === 'failed';
    return s.verification.stage === 'failed' || (s.verification.stage === 'verified' && s.verification.purpose === 'verify');
  }

  async function start(accountId: string, deviceId: string, purpose: 'verify' | 'history'): Promise<void> {
    subscribe();
    const v = purpose === 'history' ? await api().accounts.requestHistory(accountId, deviceId) : await api().accounts.verifyDevice(accountId, deviceId);
    onVerification(accountId, v);
  }

  async function answer(a: DeviceVerificationAnswer): Promise<void> {
    const s = current.value;
    if (!s) return;
    onVerification(s.accountId, await api().accounts.answerDeviceVerification(s.accountId, s.verification.attemptId, a));
  }

  async function answerHistory(send: boolean): Promise<void> {
    const s = current.value;
    if (!s) return;
    await api().accounts.answerHistoryRequest(s.accountId, s.verification.attemptId, send);
  }

  function close(): void {
    current.value = null;
  }

  return { current, subscribe, start, answer, answerHistory, close, ended };
});
