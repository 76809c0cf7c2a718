// What every concern of a Profile shares. Profile builds one ProfileContext and hands it to each
// module (outbox, incoming, membership, room state actions, consent, discovery, KeyPackages, the
// connection); a new concern gets what it needs from here instead of from Profile's privates, and
// takes the other modules it builds on as constructor arguments.

import type { ConsentListResponse } from '../../src-shared/provider-api.js';
import type { ConnectionsView, ConsentGrantedView, DeviceChangeView, KnocksView, MessageView, ProviderKeyView, PseudonymPoolView } from '../../src-shared/contract.js';
import type { DeviceKeys, MlsEngine } from '../mls/engine.js';
import type { ProfileDb } from '../db/profile-db.js';
import type { ProviderClient } from '../net/provider-client.js';
import type { ProfileConfig } from './account-files.js';
import type { GroupSessions } from './group-sessions.js';
import type { Serial } from './serial.js';

export type ConnectionState = 'online' | 'connecting' | 'offline';

/** Every event a Profile emits, with its arguments (the app core and the CLI listen to these). */
export interface ProfileEventMap {
  /** A message was stored, sent, or failed (the same seq may come again with a new status). */
  message: [view: MessageView];
  /** The room list, a room's members, name, epoch or unread count changed. */
  rooms: [];
  /** Some room moved to a new epoch (commit processed or Welcome joined). */
  epoch: [];
  /**
   * Something went wrong in the background: the English text (the CLI prints it) and, when the
   * failure is a catalogue message, the CoreError with its key, for the window's language.
   */
  error: [message: string, error?: Error];
  connection: [state: ConnectionState];
  /** The push stream delivered the backlog for the first time since start(). */
  caughtUp: [];
  /** Another commit won the epoch; this device rebuilds its commit once it is at `epoch`. */
  commitRetry: [roomUri: string, epoch: bigint];
  /** The consent list changed (only fetched while someone listens). */
  consent: [list: ConsentListResponse];
  /** The pseudonym pool changed (issued, used by a room, retired, refilling, a problem). */
  pseudonyms: [pool: PseudonymPoolView];
  /** A connection request arrived or changed state. */
  connections: [view: ConnectionsView];
  /** A knock arrived, was answered, or one of ours changed state. */
  knocks: [view: KnocksView];
  /** Someone accepted one of our consent requests (told once per grant; consent-actions.ts). */
  consentGranted: [news: ConsentGrantedView];
  /**
   * A commit's change to a room, stored as a timeline event (timeline-events.ts). Not a 'message':
   * it counts as nothing unread and raises no notification.
   */
  timelineEvent: [view: MessageView];
  /** The profiles members share in a room changed, this account's own included (member-profiles.ts). */
  profiles: [roomUri: string];
  /** Who (others) is typing in a room now, after a change (core/typing.ts); empty when nobody. */
  typing: [roomUri: string, users: string[]];
  /** The provider told of a device of the account added, renamed or removed (devices.ts). */
  devices: [change: DeviceChangeView];
  /** Another device removed this one: its token is void (devices.ts); nothing works until a new sign-in. */
  deviceRemoved: [];
  /** A provider key for private KeyPackage requests was recorded or forgotten (provider-keys.ts): the whole list. */
  providerKeys: [keys: ProviderKeyView[]];
}

export type ProfileEvent = keyof ProfileEventMap;
export type ProfileListener<K extends ProfileEvent> = (...args: ProfileEventMap[K]) => void;

export interface ProfileContext {
  /** This account's settings (profile.json). */
  readonly config: ProfileConfig;
  /** The home provider, authenticated as this device. */
  readonly client: ProviderClient;
  readonly db: ProfileDb;
  /** This device's signature keys. */
  readonly keys: DeviceKeys;
  readonly engine: MlsEngine;
  /** Every read-modify-write of MLS group state runs through this, in order. */
  readonly serial: Serial;
  /** The group session of each room. */
  readonly sessions: GroupSessions;
  /** Hubs of other providers that did not answer our provider lately (shown on their rooms). */
  readonly unreachableHubs: Set<string>;
  /** True once close() has begun: background work stops. */
  readonly closed: boolean;
  /** Profile's events (it is the EventEmitter the app listens to). */
  emit<K extends ProfileEvent>(event: K, ...args: ProfileEventMap[K]): void;
  on<K extends ProfileEvent>(event: K, listener: ProfileListener<K>): void;
  once<K extends ProfileEvent>(event: K, listener: ProfileListener<K>): void;
  off<K extends ProfileEvent>(event: K, listener: ProfileListener<K>): void;
  listenerCount(event: ProfileEvent): number;
}
