// The app, accounts, consent, people and room settings for in-memory fake cores that are not about
// them: one account signed in on localhost, nothing pending, nobody found, rooms without roles.

import {
  CoreError,
  type AccountView,
  type ConsentListView,
  type ConnectionsView,
  type CoreEvent,
  type MessageView,
  type MimiApi,
  type MyProfileView,
  type PseudonymPoolView,
  type RoomSettingsView,
  type RoomView,
} from '../../src-shared/contract.js';
import { displayUser } from '../../src-shared/identifiers.js';

/** A fake core's event stream: what `emit` sends reaches every page subscribed through the bridge. */
export function eventHub(): { emit(e: CoreEvent): void; onEvent: MimiApi['onEvent'] } {
  const listeners = new Set<(e: CoreEvent) => void>();
  return {
    emit: (e) => listeners.forEach((l) => l(e)),
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

/** The one account of a fake core: on localhost, online, active, nothing unread unless given. */
export function localAccount(a: { id: string; userUri: string; handle: string; unreadTotal?: number }): AccountView {
  return {
    id: a.id,
    userUri: a.userUri,
    handle: a.handle,
    domain: 'localhost',
    providerUrl: 'https://127.0.0.1:1',
    deviceUri: `mimi://localhost/d/${a.handle}/dev1`,
    connection: 'online',
    active: true,
    unreadTotal: a.unreadTotal ?? 0,
  };
}

/** The accounts calls about where keys go, for fakes on a machine with a keychain and no locked account. */
export const keychainNothingLocked: Pick<
  MimiApi['accounts'],
  'secretStorage' | 'locked' | 'unlock' | 'secretMode' | 'changePassword' | 'deleteAccount' | 'changePassphrase' | 'privacy' | 'setPrivacy' | 'devices' | 'renameDevice' | 'removeDevice' | 'removeThisDevice' | 'verifyDevice' | 'answerDeviceVerification' | 'requestHistory' | 'answerHistoryRequest'
> = {
  // The account's devices (Settings → Devices): only this one, not changeable here.
  devices: async () => [{ deviceId: 'this-device', name: 'This computer', createdAt: 0, lastSeenAt: null, current: true }],
  renameDevice: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  removeDevice: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  removeThisDevice: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  // Verifying devices and the history transfer (docs/device-transfer.md): there is no other device here.
  verifyDevice: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  answerDeviceVerification: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  requestHistory: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  answerHistoryRequest: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  changePassphrase: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  // Receipts and typing: everything shared (the defaults), not changeable here.
  privacy: async () => ({ deliveryReceipts: true, readReceipts: true, typing: true }),
  setPrivacy: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  secretStorage: async () => ({ automatic: 'keychain' }),
  locked: async () => [],
  unlock: async () => {
    throw new CoreError('noAccount', 'No account is locked.');
  },
  secretMode: async () => 'keychain',
  changePassword: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  deleteAccount: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
};

/** rooms.setMuted for fakes whose tests are not about muting. */
export const muteNotInFixture: Pick<MimiApi['rooms'], 'setMuted' | 'direct' | 'profiles' | 'setReceiptPolicy'> = {
  // Nobody in these fixtures shares a display name or picture.
  profiles: async () => ({}),
  setReceiptPolicy: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  setMuted: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  // Direct chats ("Message this person") are not in these fixtures either.
  direct: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
};

/**
 * Reply, react, edit, delete and history for fakes whose tests are not about message actions; and
 * search, which finds nothing there.
 */
export const messageActionsNotInFixture: Pick<MimiApi['messages'], 'reply' | 'react' | 'edit' | 'delete' | 'history' | 'search' | 'sendFile' | 'openAttachment' | 'typing'> = {
  typing: async () => undefined,
  search: async () => ({ results: [], pending: 0 }),
  sendFile: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  openAttachment: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  reply: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  react: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  edit: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  delete: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
  history: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
};

/** A browser-mode app whose only account is always signed in: every accounts call answers with it. */
/** Settings → Backup in a fixture: no backup made, none at the provider; making or restoring one is not in fixtures. */
export const noBackup: Pick<MimiApi, 'backup'> = {
  backup: {
    status: async () => ({ lastBackupAt: null, messages: 0, bytes: 0, generation: null, notBackedUp: 0, unfinished: false, hasKey: false, keyPending: false, atProvider: false, running: null }),
    create: async () => {
      throw new CoreError('internal', 'not in this fixture');
    },
    pendingRecoveryKey: async () => null,
    confirmRecoveryKeySaved: async () => undefined,
    restore: async () => {
      throw new CoreError('internal', 'not in this fixture');
    },
    exportHistory: async () => {
      throw new CoreError('internal', 'not in this fixture');
    },
  },
};

/** Settings → Provider keys in a fixture: none recorded (forgetting one changes nothing). */
export const noProviderKeys: Pick<MimiApi, 'providerKeys'> = {
  providerKeys: { list: async () => [], forget: async () => [] },
};

export function signedInAs(account: () => AccountView): Pick<MimiApi, 'app' | 'accounts' | 'backup' | 'providerKeys'> {
  return {
    ...noBackup,
    ...noProviderKeys,
    app: { info: async () => ({ mode: 'browser', version: 'test' }) },
    accounts: {
      ...keychainNothingLocked,
      list: async () => [account()],
      register: async () => account(),
      login: async () => account(),
      switchTo: async () => [account()],
      signOut: async () => [account()],
    },
  };
}

export function quietConsentAndPeople(userUri: string, handle: string): Pick<MimiApi, 'consent' | 'people'> {
  const empty = (): ConsentListView => ({ incoming: [], granted: [], blocked: [], outgoing: [] });
  const done = async () => ({ outcome: 'done' as const, changed: 0, notified: false });
  const me = (): MyProfileView => ({ userUri, handle, searchable: { handle: true, nick: false, email: false, phone: false, name: false } });
  return {
    consent: { list: async () => empty(), request: done, cancel: done, grant: done, decline: done, revoke: done, block: done, unblock: done },
    people: {
      find: async (_a, q) => ({ status: 'notFound', domain: q.domain ?? 'localhost', results: [] }),
      myProfile: async () => me(),
      setProfileFields: async () => me(),
      setSearchable: async () => me(),
      avatar: async () => null,
      setAvatar: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      safetyNumber: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      setVerified: async () => {
        throw new CoreError('internal', 'not in this fixture');
      },
      compareSafetyNumberQr: async () => 'notASafetyNumber',
    },
  };
}

/**
 * No pseudonyms and no connection requests: an empty pool the app does not refill (threshold 0),
 * nobody asking to connect, anyone allowed to (the default setting). Changing anything is refused,
 * as these fixtures are not about it.
 */
export function quietPseudonymsAndConnections(): Pick<MimiApi, 'pseudonyms' | 'connections'> {
  const pool = (accountId: string): PseudonymPoolView => ({ accountId, pseudonyms: [], unused: 0, threshold: 0, batch: 0, refilling: false });
  const none = (): ConnectionsView => ({ incoming: [], outgoing: [] });
  const refuse = async (): Promise<never> => {
    throw new CoreError('internal', 'not in this fixture');
  };
  return {
    pseudonyms: { list: async (accountId) => pool(accountId), refill: refuse, retire: refuse },
    connections: {
      list: async () => none(),
      connect: refuse,
      accept: refuse,
      decline: refuse,
      policy: async () => ({ mode: 'anyone', domains: [] }),
      setPolicy: refuse,
    },
  };
}

/** No join links and no knocks: empty lists; making or using one is refused, as these fixtures are not about it. */
export function quietLinksAndKnocks(): Pick<MimiApi, 'links' | 'knocks'> {
  const refuse = async (): Promise<never> => {
    throw new CoreError('internal', 'not in this fixture');
  };
  return {
    links: { create: refuse, list: async () => [], revoke: refuse, join: refuse },
    knocks: { list: async () => ({ incoming: [], outgoing: [] }), knockRoom: refuse, knock: refuse, admit: refuse, decline: refuse },
  };
}

/** For fake cores whose rooms are all ordinary ones. */
export const noMinimalMetadataRooms: Pick<MimiApi['rooms'], 'createMinimalMetadata'> = {
  createMinimalMetadata: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
};

type SettingsMethods = 'settings' | 'setMetadata' | 'setRole' | 'kick' | 'removeMember' | 'ban' | 'unban' | 'reportAbuse';

/**
 * Room settings as the core gives them for a room without room state: no roles, nothing anyone
 * may change. Reporting is allowed, as the real core allows it there (nothing is enforced), and
 * a report is taken and goes nowhere. `findRoom` answers undefined for a room the fake does not
 * have (roomUnknown).
 */
export function unmanagedRoomSettings(findRoom: (roomUri: string) => RoomView | undefined): Pick<MimiApi['rooms'], SettingsMethods> {
  const view = (roomUri: string): RoomSettingsView => {
    const room = findRoom(roomUri);
    if (!room) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
    return {
      roomUri,
      managed: false,
      metadata: { name: room.name, description: '', avatar: '', subject: '' },
      participants: room.members.map((user) => ({ user, roleIndex: 0, roleName: '', active: true, can: { kick: false, remove: false, ban: false, unban: false, roles: [] } })),
      roles: [],
      myRoleIndex: 0,
      myRoleName: '',
      canEdit: { name: false, description: false, avatar: false, subject: false },
      canAddParticipant: true,
      canSendMessage: true,
      canReportAbuse: true,
      links: { canCreate: false, roles: [] },
    };
  };
  const refuse = async (): Promise<RoomSettingsView> => {
    throw new CoreError('notAllowed', 'This room has no roles to change (not in this fixture).');
  };
  const reportAbuse = async (_a: string, roomUri: string): Promise<void> => {
    view(roomUri);
  };
  return { settings: async (_a, roomUri) => view(roomUri), setMetadata: refuse, setRole: refuse, kick: refuse, removeMember: refuse, ban: refuse, unban: refuse, reportAbuse };
}

/** For fake cores that have no messages from others to report: refused, as these fixtures are not about it. */
export const noMessageReports: Pick<MimiApi['messages'], 'report'> = {
  report: async () => {
    throw new CoreError('internal', 'not in this fixture');
  },
};

export type MessageReportArgs = [accountId: string, roomUri: string, messageIds: string[], reason: number, note: string];

/**
 * messages.report as the core checks it, for fake cores that hold messages: every id must be a
 * message of the room, all from one sender, all received (not this account's own), and the room
 * policy must give canReportAbuse. `messagesOf` answers undefined for a room the fake does not
 * have. A report that passes goes to `taken` (it would go to the hub) and changes nothing here.
 */
export function messageReports(o: {
  messagesOf: (roomUri: string) => readonly MessageView[] | undefined;
  mayReport: (accountId: string, roomUri: string) => boolean;
  taken?: (args: MessageReportArgs) => void;
}): Pick<MimiApi['messages'], 'report'> {
  return {
    report: async (...args) => {
      const [accountId, roomUri, messageIds] = args;
      const all = o.messagesOf(roomUri);
      if (!all) throw new CoreError('roomUnknown', `Unknown room ${roomUri}.`);
      const found = messageIds.map((id) => {
        const m = all.find((x) => x.messageId === id);
        if (!m) throw new CoreError('invalidArgument', `There is no message ${id.slice(0, 12)}… in this room.`);
        return m;
      });
      const senders = new Set(found.map((m) => m.sender));
      if (senders.size !== 1) throw new CoreError('invalidArgument', 'A report is about one person: choose messages of one sender.');
      if (found.some((m) => m.status !== 'received')) throw new CoreError('invalidArgument', 'You cannot report your own messages.');
      if (!o.mayReport(accountId, roomUri)) throw new CoreError('notAllowed', `Cannot report ${displayUser(found[0].sender)}: your role lacks canReportAbuse.`);
      o.taken?.(args);
    },
  };
}
