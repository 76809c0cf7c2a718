// App-wide state: the connection to the core, what went wrong, and the routing of core events to
// the per-domain stores.

import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { CoreError, type AppInfo, type CoreEvent } from '../../../src-shared/contract.js';
import { api, transport } from '../api.js';
import { errorText } from '../i18n.js';
import { useAccountsStore } from './accounts.js';
import { useConsentStore } from './consent.js';
import { useConnectionsStore } from './connections.js';
import { useKnocksStore } from './knocks.js';
import { useLinksStore } from './links.js';
import { usePseudonymsStore } from './pseudonyms.js';
import { usePeopleStore } from './people.js';
import { useMessagesStore } from './messages.js';
import { useRoomsStore } from './rooms.js';
import { useRoomSettingsStore } from './room-settings.js';
import { useProfilesStore } from './profiles.js';
import { useTypingStore } from './typing.js';
import { useDevicesStore } from './devices.js';
import { useProviderKeysStore } from './provider-keys.js';
import { notifyOfMessage } from '../lib/notify-runtime.js';

export interface Notice {
  id: number;
  message: string;
  accountId?: string;
}

const MAX_NOTICES = 4;

export const useAppStore = defineStore('app', () => {
  const info = ref<AppInfo | null>(null);
  /** Browser mode: whether the event stream to the app process is up (kept by the accounts store, the one source). */
  const coreReachable = computed(() => useAccountsStore().appReachable);
  /** Browser mode: the page's token was missing or refused. */
  const needsLink = ref(transport.api === null);
  const ready = ref(false);
  const notices = ref<Notice[]>([]);
  let nextId = 1;

  function notify(message: string, accountId?: string): void {
    if (notices.value.some((n) => n.message === message && n.accountId === accountId)) return;
    notices.value = [...notices.value, { id: nextId++, message, accountId }].slice(-MAX_NOTICES);
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /** For failures of actions that have no form of their own to show them in. */
  function reportError(e: unknown, accountId?: string): void {
    notify(errorText(e), accountId);
  }

  function route(event: CoreEvent): void {
    const accounts = useAccountsStore();
    const rooms = useRoomsStore();
    const messages = useMessagesStore();
    const consent = useConsentStore();
    switch (event.type) {
      case 'accounts': {
        const before = new Set(accounts.list.map((a) => a.id));
        accounts.fromEvent(event.accounts);
        for (const id of before) {
          if (!event.accounts.some((a) => a.id === id)) {
            rooms.forget(id);
            messages.forget(id);
            consent.forget(id);
            usePeopleStore().forget(id);
            useRoomSettingsStore().forget(id);
            usePseudonymsStore().forget(id);
            useConnectionsStore().forget(id);
            useKnocksStore().forget(id);
            useLinksStore().forget(id);
            useProfilesStore().forget(id);
            useTypingStore().forget(id);
            useProviderKeysStore().drop(id);
          }
        }
        for (const a of event.accounts) if (!rooms.byAccount[a.id]) void rooms.load(a.id).catch(() => undefined);
        for (const a of event.accounts) if (!consent.byAccount[a.id]) void consent.load(a.id).catch(() => undefined);
        for (const a of event.accounts) loadPseudonymsAndConnections(a.id, true);
        break;
      }
      case 'consent':
        consent.apply(event.accountId, event.consent);
        break;
      case 'consentGranted':
        consent.noteGranted(event.accountId, event.grant);
        break;
      case 'pseudonyms':
        usePseudonymsStore().apply(event.accountId, event.pool);
        break;
      case 'connections':
        useConnectionsStore().apply(event.accountId, event.connections);
        break;
      case 'knocks':
        useKnocksStore().apply(event.accountId, event.knocks);
        break;
      case 'openLink':
        // A mimi: link opened outside the app: the join dialog, filled in, for the active account
        // (or for the first one signed in, if none is yet).
        useLinksStore().openDialog(event.link);
        break;
      case 'rooms':
        rooms.apply(event.accountId, event.rooms);
        useRoomSettingsStore().onRooms(event.accountId, event.rooms);
        break;
      case 'timeline':
        // A room change ("alice added bob"): in the open timeline only; never unread, never notified.
        messages.apply(event.accountId, event.item);
        break;
      case 'message':
        messages.apply(event.accountId, event.message);
        rooms.noteMessage(event.accountId, event.message);
        notifyOfMessage(event.accountId, event.message);
        break;
      case 'typing':
        useTypingStore().apply(event.accountId, event.roomUri, event.users);
        break;
      case 'profiles':
        useProfilesStore().apply(event.accountId, event.roomUri, event.profiles);
        break;
      case 'devices':
        useDevicesStore().apply(event);
        break;
      case 'providerKeys':
        useProviderKeysStore().apply(event);
        break;
      case 'error':
        notify(errorText(new CoreError('internal', event.message, event.key, event.params)), event.accountId);
        break;
    }
  }

  /**
   * Pools, connection requests and knocks need the provider, like consent: an offline one sends
   * them once it connects, so a failure here is not worth a notice. `onlyMissing`: leave loaded ones alone.
   */
  function loadPseudonymsAndConnections(accountId: string, onlyMissing = false): void {
    const pseudonyms = usePseudonymsStore();
    const connections = useConnectionsStore();
    const knocks = useKnocksStore();
    if (!onlyMissing || !pseudonyms.byAccount[accountId]) void pseudonyms.load(accountId).catch(() => undefined);
    if (!onlyMissing || !connections.byAccount[accountId]) void connections.load(accountId).catch(() => undefined);
    if (!onlyMissing || !knocks.byAccount[accountId]) void knocks.load(accountId).catch(() => undefined);
  }

  /** Everything currently on screen, to reload after missing events. */
  async function resync(): Promise<void> {
    const accounts = useAccountsStore();
    const rooms = useRoomsStore();
    const messages = useMessagesStore();
    await accounts.refresh();
    await accounts.refreshLocked();
    await Promise.all(accounts.list.map((a) => rooms.load(a.id)));
    await Promise.all(accounts.list.map((a) => useConsentStore().load(a.id).catch(() => undefined)));
    for (const a of accounts.list) loadPseudonymsAndConnections(a.id);
    const open = accounts.list.flatMap((a) => (rooms.selected[a.id] ? [{ accountId: a.id, roomUri: rooms.selected[a.id]! }] : []));
    await messages.resync(open);
    await useRoomSettingsStore().resync();
    await useLinksStore().resync();
  }

  async function init(): Promise<void> {
    if (!transport.api) return;
    transport.onUnauthorized(() => {
      needsLink.value = true;
    });
    let wasDown = false;
    transport.onConnectionChange((up) => {
      useAccountsStore().appReachable = up;
      if (!up) wasDown = true;
      else if (wasDown) void resync().catch(reportError);
    });
    // Subscribe before the first reads, so nothing that happens in between is missed.
    api().onEvent(route);
    try {
      info.value = await api().app.info();
      const accounts = useAccountsStore();
      await accounts.refresh();
      // Passphrase accounts wait for their passphrase: the sign-in screen (or the account rail) asks.
      await accounts.refreshLocked();
      const rooms = useRoomsStore();
      await Promise.all(accounts.list.map((a) => rooms.load(a.id).catch((e) => reportError(e, a.id))));
      // Consent needs the provider; an offline one sends the list once it connects.
      const consent = useConsentStore();
      for (const a of accounts.list) void consent.load(a.id).catch(() => undefined);
      for (const a of accounts.list) loadPseudonymsAndConnections(a.id);
    } catch (e) {
      reportError(e);
    } finally {
      ready.value = true;
    }
  }

  return { info, coreReachable, needsLink, ready, notices, notify, dismiss, reportError, init };
});
