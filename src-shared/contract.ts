// The one typed contract between the renderer and the main-process core.
//
// Three things satisfy it: the Electron preload (contextBridge, one named function per method),
// the main-process IPC handlers, and the browser-mode bridge (loopback HTTP + WebSocket with a
// token). All three are generated from `METHODS` below, so a method cannot exist in one and not the
// others, and every argument is checked by the same validator in the main process before the core
// sees it. The renderer never receives key material: only the view types defined here.

import {
  MIN_PASSWORD_LENGTH,
  PROFILE_FIELDS,
  type ConsentActionResponse,
  type ConsentListResponse,
  type ConsentOutcome,
  type FindRequest,
  type FindResponse,
  type FoundUser,
  type MyProfile,
  type ProfileFieldName,
  type SetProfileRequest,
} from './provider-api.js';
import { connectionRequestPolicyProblem, type ConnectionRequestPolicy } from './connection-request-policy.js';
import { parseMimiUriAs } from './identifiers.js';
import { parseJoinLink } from './join-link.js';
import { reactionProblem } from './reaction-text.js';
import type { TimelineEvent } from './timeline-events.js';
export type { TimelineEvent } from './timeline-events.js';

export interface AccountView {
  id: string; // local account id (folder name)
  userUri: string;
  handle: string;
  domain: string;
  providerUrl: string;
  deviceUri: string;
  /** Whether the push connection to the provider is up. */
  connection: 'online' | 'connecting' | 'offline';
  active: boolean;
  unreadTotal: number;
  /** Another device of the account removed this one: its token is void; sign in again to use the account here. */
  deviceRemoved?: boolean;
}

/** One device of the account, as its provider lists it (docs/devices.md). */
export interface DeviceView {
  deviceId: string;
  name: string;
  createdAt: number;
  /** Its last request to the provider, to within a minute; null when none was recorded. */
  lastSeenAt: number | null;
  /** The device this app runs on. */
  current: boolean;
  /** This device compared a short code with it and confirmed its signature key (docs/device-transfer.md). */
  verified?: boolean;
  /**
   * Verified earlier, but a room now holds a leaf under its name with another key: the provider
   * may have slipped in a device of its own. Shown as a warning; verify again.
   */
  keyMismatch?: boolean;
}

/** Verifying one's own devices by a short code, and handing the history to a new one (docs/device-transfer.md). */
export type DeviceLinkRole = 'starter' | 'responder';
export type DeviceVerificationStage = 'incoming' | 'waiting' | 'compare' | 'confirmed' | 'verified' | 'failed';
/** Why an attempt ended: the digits differed, someone cancelled, too slow, another attempt ran, a message was altered, or it failed. */
export type DeviceLinkFailure = 'mismatch' | 'cancelled' | 'timeout' | 'busy' | 'tampered' | 'protocol' | 'refused' | 'failed';
export const DEVICE_VERIFICATION_ANSWERS = ['accept', 'match', 'mismatch', 'cancel'] as const;
export type DeviceVerificationAnswer = (typeof DEVICE_VERIFICATION_ANSWERS)[number];
export interface DeviceVerificationView {
  attemptId: string;
  otherDevice: { deviceId: string; name: string };
  role: DeviceLinkRole;
  /** 'history': the starter (the new device) asks for the history once verified. */
  purpose: 'verify' | 'history';
  stage: DeviceVerificationStage;
  /** At 'compare': the 12 digits in three groups of four, the same on both devices unless someone is in between. */
  digits?: string[];
  reason?: DeviceLinkFailure;
}
/**
 * confirm: the old device asks its person; waiting: for the other device; uploading: chunks stored
 * at the provider (both devices see it); downloading: chunks fetched and checked on the new device.
 */
export type HistoryTransferStage = 'confirm' | 'waiting' | 'uploading' | 'downloading' | 'done' | 'failed';
export interface HistoryTransferView {
  attemptId: string;
  otherDevice: { deviceId: string; name: string };
  role: DeviceLinkRole;
  stage: HistoryTransferStage;
  done: number;
  total: number;
  /** At 'done' on the new device: items added. */
  added?: number;
  reason?: DeviceLinkFailure;
  /** What went wrong, in the user's language, at 'failed'. */
  error?: string;
}

/** A device of the account was added (signed in), renamed or removed: the provider's notice. */
export interface DeviceChangeView {
  change: 'added' | 'renamed' | 'removed';
  device: { deviceId: string; name: string; current: boolean };
}

/** Longest device name a rename takes (the provider's limit, in characters after trimming). */
export const MAX_DEVICE_NAME = 64;

export interface RoomView {
  roomUri: string;
  name: string;
  hubDomain: string;
  /** The hub (another provider) did not answer the last attempt; messages wait in the outbox. */
  hubUnreachable?: boolean;
  members: string[]; // user URIs
  unread: number;
  /** Muted on this device: no notifications (unread still counted). Absent = not muted. */
  muted?: boolean;
  lastMessage?: { sender: string; text: string; timestamp: number };
  epoch: string;
  /**
   * A direct chat (docs/decisions.md "Direct chats"): the one other person in it (a user URI, or
   * their pseudonym in a room of pseudonyms). The app names the room after them.
   */
  direct?: string;
}

/** The room policy presets a new room can start with (src-shared/room-policy.ts). */
export const ROOM_PRESETS = ['cooperative', 'moderated', 'administered'] as const;
export type RoomPreset = (typeof ROOM_PRESETS)[number];

/** A user on a room's participant list (banned users included: role 1). */
export interface RoomMemberView {
  user: string; // user URI, or a user pseudonym (mimi://domain/p/...) in a room with pseudonyms
  /**
   * For a pseudonym: the real user behind it as far as this account could verify it (an identity
   * link opened with the room's key and its signature checked), or why not.
   */
  identity?: IdentityView;
  roleIndex: number;
  roleName: string;
  /** Has clients in the room's MLS group (a kicked or banned user has none). */
  active: boolean;
  /**
   * This account verified them by safety number (docs/verification.md): 'verified' while their
   * devices are the ones compared, 'changed' once they differ. Absent: not verified.
   */
  verification?: 'verified' | 'changed';
  /** What this account's role lets it do to this member now; `roles`: the role indexes it may move them to. */
  can: { kick: boolean; remove: boolean; ban: boolean; unban: boolean; roles: number[] };
}

/** Where this account stands with a person's safety number (docs/verification.md). */
export type VerificationState = 'unverified' | 'verified' | 'changed';

/** The safety number between this account and another person, from the rooms both share. */
export interface SafetyNumberView {
  /** Their user URI. */
  user: string;
  /** 60 digits as 12 groups of 5, the same on both sides. */
  groups: string[];
  /** What the QR code carries (CBOR, base64): the two fingerprints with the users' URIs. */
  qr: string;
  state: VerificationState;
  /** How many rooms the devices were read from (rooms both are in under their own names). */
  sharedRooms: number;
  /** When this account marked them verified (ms), if it did. */
  verifiedAt?: number;
}

/** A scanned safety number QR code against the one this side works out. */
export type SafetyNumberComparison = 'match' | 'mismatch' | 'otherPeople' | 'otherVersion' | 'notASafetyNumber';

/** The real identity behind a pseudonym, as this account learned it inside the room. */
export interface IdentityView {
  /** The real user URI, once known. */
  user?: string;
  /** True only when the link opened and its signature by the real device key checked out. */
  verified: boolean;
  /** Why it is not verified (not yet received, forged, ...): shown next to the pseudonym. */
  problem?: string;
}

export interface RoomRoleView {
  roleIndex: number;
  roleName: string;
  capabilities: string[]; // registry names, e.g. canBan
}

/** The room state every member's MLS key schedule agrees on: metadata, participants and roles. */
export interface RoomSettingsView {
  roomUri: string;
  /** False for a room without room state (created by an older client): no roles, nothing enforced. */
  managed: boolean;
  metadata: { name: string; description: string; avatar: string; subject: string };
  participants: RoomMemberView[];
  roles: RoomRoleView[];
  myRoleIndex: number;
  myRoleName: string;
  /** Metadata fields this account may change. */
  canEdit: { name: boolean; description: boolean; avatar: boolean; subject: boolean };
  canAddParticipant: boolean;
  canSendMessage: boolean;
  /** May report other participants to the room's hub (canReportAbuse). */
  canReportAbuse: boolean;
  /**
   * Join links: whether this account may make them here (the policy lets people join by code and
   * its role holds canCreateJoinCode), and the roles a link may give (empty: the room takes no codes).
   */
  links: { canCreate: boolean; roles: number[] };
  /** This room's knock link, when this device opened the room to knocks. */
  knockLink?: string;
  /** The room's status_notification_policy (absent component: both optional) and whether this account may change it. */
  receiptPolicy?: ReceiptPolicyView & { canEdit: boolean };
}

/** Room metadata to change; absent fields stay. `avatar` is an https URL or '' for none. */
export interface RoomMetadataArgs {
  name?: string;
  description?: string;
  avatar?: string;
  subject?: string;
}

/** A message found by search (messages.search): where it is, and the text around the match. */
export interface SearchResultView {
  roomUri: string;
  roomName: string;
  seq: number;
  messageId: string;
  sender: string;
  timestamp: number;
  /** Up to 160 characters around the first match ('…' where cut). */
  snippet: string;
  /** [start, end) of each matched word in `snippet`, for highlighting. */
  marks: [number, number][];
}

export interface SearchResponse {
  results: SearchResultView[];
  /** Messages not indexed yet (a large history is indexed in the background): results may be missing some. */
  pending: number;
}

export interface MessageView {
  /** Local row id: stable order key for paging. */
  seq: number;
  messageId: string; // hex of the mimi-content message ID
  roomUri: string;
  sender: string; // user URI
  text: string;
  contentType: string;
  timestamp: number; // hub accepted timestamp, or local time while pending
  status: 'pending' | 'sent' | 'received' | 'failed';
  inReplyTo?: string;
  replaces?: string;
  /** For reactions: the emoji; rendered on the target message later. */
  reaction?: string;
  /** Its sender retracted it (content-08 delete): shown as "message deleted", `text` empty. */
  deleted?: boolean;
  /** Its sender edited it: `text` and `contentType` are the latest edit's, whose id is `editId`. */
  edited?: boolean;
  editId?: string;
  /** Reactions to it, per emoji: how many people, whether the viewer is one of them. */
  reactions?: ReactionView[];
  /** A reply: the message it answers, as that reads now (only its id when not on this device). */
  replyTo?: ReplyQuoteView;
  /**
   * Only on a 'message' event: an action on this message (a reaction, an edit, a delete) arrived
   * or was sent, so this is the message as it reads now, not a new message (nothing to notify).
   */
  changed?: true;
  /**
   * Set only on timeline events (src-shared/timeline-events.ts: "alice added bob"), which are not
   * messages: no sender, `text` the event as a sentence, never unread, never reported.
   */
  event?: TimelineEvent;
  /** A file or image the message carries (its name is also `text`); messages.openAttachment fetches it. */
  attachment?: AttachmentInfoView;
  /**
   * Only on this account's own messages, and only while it shares and sees receipts: who reported
   * it delivered or read (draft-mahy-mimi-message-status-01; docs/receipts-and-typing.md).
   */
  receipts?: ReceiptsView;
}

/** Delivery and read receipts of one of your own messages. */
export interface ReceiptsView {
  /** Members (user URIs, or pseudonyms) whose client reported it delivered; those who read it are listed in `read` only. */
  delivered: string[];
  /** Members who reported it read. */
  read: string[];
  /** How many other members the room has now (for "read by everyone"). */
  of: number;
}

/** A room policy value of draft-ietf-mimi-room-policy's status_notification_policy component (0x0028). */
export type Optionality = 'optional' | 'required' | 'forbidden';

/** The room's status_notification_policy: whether members send delivery notifications and read receipts. */
export interface ReceiptPolicyView {
  delivery: Optionality;
  read: Optionality;
}

/**
 * This account's privacy switches (kept in its profile database, the same on every screen of this
 * device). Off: this device sends none, and (as in Signal) shows none of others' either. A room's
 * policy can forbid them; where it requires them, they are sent whatever the switch says.
 */
export interface PrivacyView {
  deliveryReceipts: boolean;
  readReceipts: boolean;
  typing: boolean;
}

/** What another member shares of themselves in a room (display name, small picture). */
export interface MemberProfileView {
  displayName?: string;
  /** A data:image/png URL, at most 96×96. */
  avatar?: string;
}

export interface ReactionView {
  emoji: string;
  count: number;
  /** The viewer reacted with it (clicking the chip withdraws theirs). */
  mine: boolean;
  senders: string[];
}

export interface ReplyQuoteView {
  messageId: string;
  sender?: string;
  text?: string;
  contentType?: string;
  deleted?: boolean;
}

/** One version of a message: the original, then each edit by its sender, oldest first. */
export interface MessageVersionView {
  messageId: string;
  text: string;
  contentType: string;
  timestamp: number;
  status: MessageView['status'];
}

/** What a message's attachment is (docs/attachments.md); the bytes come from messages.openAttachment. */
export interface AttachmentInfoView {
  filename: string;
  contentType: string;
  /** Octets of the file (0 = the sender did not say). */
  size: number;
  /** A PNG, JPEG, GIF or WebP the app shows inline. */
  image: boolean;
  /** The sender's small preview carried in the (encrypted) message itself, as a data: URL: shown before the file is fetched. */
  thumbnail?: string;
}

/** A file to send (messages.sendFile): its name, media type ('' = guess from the name) and bytes in base64. */
export interface FileArgs {
  name: string;
  type: string;
  data: string;
  /** Optional: a small JPEG or PNG preview of an image (base64, at most MAX_THUMBNAIL_BYTES), sent inside the message. */
  thumbnail?: string;
}

/** The largest preview a message carries (messages are at most 64 KiB). */
export const MAX_THUMBNAIL_BYTES = 16 * 1024;

/** An opened attachment: decrypted in the core, handed over as a data: URL (the CSP allows img-src data:). */
export interface OpenedAttachmentView {
  filename: string;
  contentType: string;
  size: number;
  dataUrl: string;
}

/** Progress of an upload (sending a file) or download (opening one); `done` of `total` bytes. */
export interface TransferView {
  roomUri: string;
  phase: 'upload' | 'download';
  /** Downloads: the message whose attachment it is. */
  messageId?: string;
  filename: string;
  done: number;
  total: number;
}

/** Files larger than this are refused before anything is read or sent (the provider may allow less). */
export const MAX_FILE_BYTES = 25 * 1024 * 1024 - 16;

/** One pseudonym of an account's pool: a user pseudonym and this device's client pseudonym under it. */
export interface PseudonymView {
  userPseudonym: string; // mimi://<provider>/p/<random>
  clientPseudonym: string;
  /**
   * unused: in no room yet; inUse: taken for a room (never handed out again), `rooms` naming those
   * it is still in (none once they are left or destroyed); retired: never used again (its rooms are left).
   */
  state: 'unused' | 'inUse' | 'retired';
  rooms: { roomUri: string; name: string }[];
  issuedAt: number;
  /** KeyPackages of it that its provider holds for adds to rooms of pseudonyms (each single use). */
  keyPackages: number;
}

/** An account's pseudonym pool. The app refills it in the background when fewer than `threshold` are unused. */
export interface PseudonymPoolView {
  accountId: string;
  pseudonyms: PseudonymView[];
  unused: number;
  threshold: number;
  batch: number;
  refilling: boolean;
  /** The last refill failed (offline, rate-limited, ...): what happened and what to do. */
  problem?: string;
}

/**
 * A connection request (draft-mahy-mimi-pseudonyms, connection flow): someone met under a
 * pseudonym in a bootstrap room discloses who they are and offers a second pseudonym to talk on.
 */
export interface ConnectionView {
  /** Stable id: the bootstrap room's URI. */
  id: string;
  direction: 'incoming' | 'outgoing';
  /** Incoming: the requester's real user URI from the disclosure. Outgoing: the user asked. */
  peer: string;
  /** Incoming: the disclosure's signature checked out and it is bound to this bootstrap room. */
  verified: boolean;
  problem?: string;
  state: 'pending' | 'accepted' | 'declined' | 'failed';
  at: number;
  /** The minimal-metadata room the two now talk in, once accepted. */
  roomUri?: string;
}

export interface ConnectionsView {
  incoming: ConnectionView[];
  outgoing: ConnectionView[];
}

/**
 * Who may send this account connection requests, kept at its provider: anyone (the default), only
 * pseudonyms of the listed provider domains, or nobody. A refused request fails on the sender's
 * side like any add without consent. `domains` is kept in every mode and used only in 'domains'.
 */
export type ConnectionRequestPolicyView = ConnectionRequestPolicy;

/**
 * Why a report is made. draft-ietf-mimi-protocol-06's AbuseType has no taxonomy yet (a TODO): these
 * private-use codes are ours (docs/decisions.md), 0 meaning "not given".
 */
export const REPORT_REASONS = [
  { code: 0, label: 'Not given' },
  { code: 0xf1, label: 'Spam or scam' },
  { code: 0xf2, label: 'Harassment or threats' },
  { code: 0xf3, label: 'Hate speech' },
  { code: 0xf4, label: 'Illegal content' },
  { code: 0xf5, label: 'Something else' },
] as const;

/** A join link of a room. The hub keeps only a hash of its code, so `link` is known only where it was made. */
export interface JoinLinkView {
  /** The code's public id (hex of the start of its hash): what revoking names. */
  id: string;
  roomUri: string;
  /** The link to hand out; only on the device that made it. */
  link?: string;
  roleIndex: number;
  roleName: string;
  /** null = any number of uses. */
  maxUses: number | null;
  usesLeft: number | null;
  expiresAt: number | null;
  passphrase: boolean;
  /** A knock room's link: whoever uses it may only knock. */
  knock: boolean;
  createdBy: string;
  createdAt: number;
  state: 'active' | 'expired' | 'usedUp' | 'revoked';
}

/** How a new link works: null = the default (any number of uses, no expiry, no passphrase, the room's role for joiners). */
export interface JoinLinkArgs {
  uses: number | null;
  expiresInSeconds: number | null;
  passphrase: string | null;
  roleIndex: number | null;
}

/** A knock someone sent to the admins of a room (received in its knock room). */
export interface KnockView {
  id: string;
  /** The room they want to join. */
  roomUri: string;
  roomName: string;
  /** Who knocks: a user URI, or a user pseudonym. */
  from: string;
  note: string;
  at: number;
  state: 'pending' | 'admitted' | 'declined';
  /** Why admitting failed last time, if it did. */
  problem?: string;
}

/** A knock this account sent. */
export interface MyKnockView {
  id: string;
  roomUri: string;
  /** As the link's room said; '' until known. */
  roomName: string;
  /** Knocked as (a user pseudonym when it knocked under one). */
  as: string;
  at: number;
  state: 'sending' | 'waiting' | 'admitted' | 'failed';
  problem?: string;
}

export interface KnocksView {
  incoming: KnockView[];
  outgoing: MyKnockView[];
}

/** A room's knock room and the link that lets anyone knock. */
export interface KnockRoomView {
  roomUri: string;
  knockRoomUri: string;
  link: string;
}

/**
 * An account whose keys are protected by a passphrase and not unlocked yet in this run: known from
 * its folder, usable after `accounts.unlock`.
 */
export interface LockedAccountView {
  id: string;
  userUri: string;
  handle: string;
  domain: string;
}

/**
 * Where a new account's keys go. `automatic`: the OS keychain, Electron safeStorage, or the mode the
 * app was started with; null when no keychain is usable and the person must choose (SecretChoice).
 */
export interface SecretStorageView {
  automatic: 'keychain' | 'safeStorage' | 'plaintext' | null;
  /** When automatic is null: why no keychain can be used, in one short sentence. */
  problem?: string;
  /** `problem`'s catalogue key, for the window's language. */
  problemKey?: string;
}

/** Where one account's keys are kept on this device. */
export type AccountSecretMode = 'keychain' | 'safeStorage' | 'passphrase' | 'plaintext';

/** The person's choice when no keychain is usable: a passphrase (asked at each start), or no encryption. */
export type SecretChoice = { mode: 'passphrase'; passphrase: string } | { mode: 'plaintext' };
/** Shorter passphrases are refused when an account is created. */
export const MIN_SECRET_PASSPHRASE_LENGTH = 8;

export interface AppInfo {
  mode: 'electron' | 'browser';
  version: string;
  embeddedProviderUrl?: string;
}

/**
 * Consent between users of different providers (users of one provider need none) and discovery:
 * the same shapes the provider answers (src-shared/provider-api.ts).
 */
export type ConsentStatus = ConsentOutcome;
export type ConsentListView = ConsentListResponse;
export type ConsentActionView = ConsentActionResponse;
/** One of my consent requests was accepted: `text` says so and what it allows now. */
export interface ConsentGrantedView {
  /** Who accepted (user URI). */
  user: string;
  /** Only for this room; absent: for every room. */
  roomUri?: string;
  /** The room's name here, when this account knows the room. */
  roomName?: string;
  at: number;
  text: string;
}

/** Profile fields others may search for: the provider's list. */
export const PROFILE_FIELD_NAMES = PROFILE_FIELDS;
export type ProfileField = ProfileFieldName;
export type MyProfileView = MyProfile;
/** A string sets the field, null clears it, absent leaves it (searchability: setSearchable). */
export type ProfileFieldsArgs = Omit<SetProfileRequest, 'searchable'>;
/** Every given field must match (AND); `domain` defaults to the handle's domain, else the account's. */
export type FindArgs = Omit<FindRequest, 'wholeProfile'>;
export type FoundUserView = FoundUser;
export type FindResultView = FindResponse;

/** Settings → Backup: the account's encrypted backup at its provider (core/backup.ts, docs/backup.md). */
export interface BackupStatusView {
  /** When the last backup from this device was stored (ms); null: none made here. */
  lastBackupAt: number | null;
  messages: number;
  /** Sealed bytes at the provider. */
  bytes: number;
  generation: number | null;
  /** Messages on this device not in the backup yet. */
  notBackedUp: number;
  /** A run was cut short: the next one continues it. */
  unfinished: boolean;
  /** This device keeps the recovery key (backups need no typing). */
  hasKey: boolean;
  /** A new recovery key waits to be written down (backup.pendingRecoveryKey gives it until confirmed). */
  keyPending: boolean;
  /** The provider holds a backup of this account (any device's); null: it could not be asked now. */
  atProvider: boolean | null;
  running: 'create' | 'restore' | null;
}
export interface BackupCreateArgs {
  /** Rewrite everything into a new generation instead of adding what is new. */
  full?: boolean;
}
export interface BackupResultView {
  generation: number;
  uploaded: number;
  chunks: number;
  messages: number;
  bytes: number;
  full: boolean;
}
export interface RestoreResultView {
  rooms: number;
  /** Messages and room events added / already on this device. */
  added: number;
  present: number;
  /** Rooms this device is not a member of: their history only. */
  historyOnly: { roomUri: string; name: string }[];
}
/** A room's history written by the main process into a new folder under its exports folder. */
export interface ExportResultView {
  dir: string;
  messages: number;
  attachments: number;
  /** Attachments that could not be fetched (listed in the export as not downloaded). */
  missing: number;
}
/**
 * A provider key this account recorded for another provider's private KeyPackage requests (OHTTP,
 * docs/ohttp-key-packages.md): pinned on first use, one per domain (Settings → Provider keys).
 */
export interface ProviderKeyView {
  domain: string;
  /** The key's first 8 bytes in hex pairs (aa:bb:…), as errors.ohttp.providerKeyChanged names it. */
  fingerprint: string;
  /** When it was recorded (ms). */
  pinnedAt: number;
}

/** key: waiting for the new recovery key to be written down; upload/manifest: create; check/insert: restore. */
export type BackupStage = 'key' | 'upload' | 'manifest' | 'check' | 'insert';

export type CoreEvent =
  | { type: 'accounts'; accounts: AccountView[] }
  | { type: 'consent'; accountId: string; consent: ConsentListView }
  | { type: 'consentGranted'; accountId: string; grant: ConsentGrantedView }
  | { type: 'rooms'; accountId: string; rooms: RoomView[] }
  | { type: 'message'; accountId: string; message: MessageView }
  /** A room change for its timeline (`item.event` set); unlike 'message' it is never unread or notified. */
  | { type: 'timeline'; accountId: string; item: MessageView }
  | { type: 'pseudonyms'; accountId: string; pool: PseudonymPoolView }
  | { type: 'connections'; accountId: string; connections: ConnectionsView }
  | { type: 'knocks'; accountId: string; knocks: KnocksView }
  /** A mimi: link opened from outside the app (the OS handed it to the running app). */
  | { type: 'openLink'; link: string }
  /** An attachment's upload or download moving on (progress bars). */
  | { type: 'transfer'; accountId: string; transfer: TransferView }
  /** Who is typing in a room now (others only; empty when nobody is). */
  | { type: 'typing'; accountId: string; roomUri: string; users: string[] }
  /** Members' shared profiles in a room changed (all of them, by user). */
  | { type: 'profiles'; accountId: string; roomUri: string; profiles: Record<string, MemberProfileView> }
  /** A device of the account was added, renamed or removed (also one added while this one was offline). */
  | ({ type: 'devices'; accountId: string } & DeviceChangeView)
  /** A short-code verification with another device of the account moved on (docs/device-transfer.md). */
  | ({ type: 'deviceVerification'; accountId: string } & DeviceVerificationView)
  /** A history transfer between two devices of the account moved on. */
  | ({ type: 'historyTransfer'; accountId: string } & HistoryTransferView)
  /** The provider keys this account recorded changed (one recorded by an add, or forgotten): the whole list. */
  | { type: 'providerKeys'; accountId: string; keys: ProviderKeyView[] }
  /** A backup or restore moving on (Settings → Backup's progress bar); `total` may grow while it runs. */
  | { type: 'backupProgress'; accountId: string; operation: 'create' | 'restore'; stage: BackupStage; done: number; total: number }
  /** A new recovery key waits to be shown (the window asks backup.pendingRecoveryKey; the key itself is not in the event). */
  | { type: 'backupKey'; accountId: string }
  /** A background failure: English `message`; `key` and `params` name it in the catalogue, as CoreError's do. */
  | { type: 'error'; accountId?: string; message: string; key?: string; params?: Record<string, string | number> };

/** Errors carry a stable code; the message tells the user what to do next. */
export type CoreErrorCode =
  | 'invalidArgument'
  | 'wrongPassword'
  | 'handleTaken'
  | 'userUnknown'
  | 'providerUnreachable'
  | 'roomUnknown'
  | 'notMember'
  | 'noAccount'
  | 'noKeyMaterial'
  | 'noConsent' // the user to add has not consented (for this room); the message names how to ask
  | 'rateLimited' // the provider (or the one asked) refuses more of these for now; try later
  | 'secretStorage' // no OS keychain / safeStorage: the message says how to get one or choose another way
  | 'wrongPassphrase' // the passphrase does not unlock the account's keys; nothing changed
  | 'providerCertificate' // the provider's TLS certificate is not trusted (wrong or missing CA, wrong address, expired)
  | 'notAllowed' // the room policy forbids it; the message names the missing capability
  | 'linkRefused' // a join or knock link that is unknown, expired, used up or revoked; the message says which
  | 'passphraseRequired' // the link needs a passphrase, and none or a wrong one was given
  | 'internal';

/**
 * `message` is English (the CLI and logs print it); `key` and `params`, when given, name the same
 * sentence in the app's catalogue (src-shared/i18n) so the window shows it in its own language.
 */
export class CoreError extends Error {
  constructor(
    readonly code: CoreErrorCode,
    message: string,
    readonly key?: string,
    readonly params?: Record<string, string | number>,
  ) {
    super(message);
    this.name = 'CoreError';
  }
}

export interface SignInArgs {
  /** Provider base URL; omitted = the embedded local provider. */
  providerUrl?: string;
  handle: string;
  password: string;
  deviceName?: string;
  /** PEM of the CA that signs the provider's certificate (dev CAs); omitted = system trust / embedded provider. */
  caPem?: string;
  /** Only when SecretStorageView.automatic is null (no keychain): where the new account's keys go. */
  secrets?: SecretChoice;
}

/** The API as the renderer sees it (window.mimi in Electron, the bridge client in browser mode). */
export interface MimiApi {
  app: {
    info(): Promise<AppInfo>;
  };
  accounts: {
    list(): Promise<AccountView[]>;
    register(args: SignInArgs): Promise<AccountView>;
    login(args: SignInArgs): Promise<AccountView>;
    switchTo(accountId: string): Promise<AccountView[]>;
    signOut(accountId: string): Promise<AccountView[]>;
    /** Where a new account's keys would go; probes the OS keychain. */
    secretStorage(): Promise<SecretStorageView>;
    /** Accounts whose keys wait for their passphrase. */
    locked(): Promise<LockedAccountView[]>;
    /** Open a locked account with its passphrase (wrongPassphrase: nothing changed). */
    unlock(accountId: string, passphrase: string): Promise<AccountView[]>;
    /** How this account's keys are kept on this device (recorded when it was signed in here). */
    secretMode(accountId: string): Promise<AccountSecretMode>;
    /** New password at the provider (old one required; wrongPassword: nothing changed). Every device stays signed in. */
    changePassword(accountId: string, oldPassword: string, newPassword: string): Promise<void>;
    /** Delete the account at its provider (every device signed out, removed from every room) and from this app. */
    deleteAccount(accountId: string): Promise<AccountView[]>;
    /** Change the passphrase of an account kept in a passphrase vault (wrongPassphrase: nothing changed). */
    changePassphrase(accountId: string, oldPassphrase: string, newPassphrase: string): Promise<void>;
    /** Receipts and typing: this account's privacy switches. */
    privacy(accountId: string): Promise<PrivacyView>;
    /** The account's devices (docs/devices.md), oldest first, this one marked `current`. */
    devices(accountId: string): Promise<DeviceView[]>;
    /** A new name for one of the account's devices (1-64 printable characters); the list after it. */
    renameDevice(accountId: string, deviceId: string, name: string): Promise<DeviceView[]>;
    /** Remove another device of the account: it is signed out and leaves every room. The list after it. */
    removeDevice(accountId: string, deviceId: string): Promise<DeviceView[]>;
    /**
     * Sign out by removing this device from the account (it leaves every room) and delete the
     * account's folder on this computer. `signOut` instead keeps both, to sign in again later.
     */
    removeThisDevice(accountId: string): Promise<AccountView[]>;
    /** Start verifying another device of the account by a short code; events 'deviceVerification' follow. */
    verifyDevice(accountId: string, deviceId: string): Promise<DeviceVerificationView>;
    /** The person's answer in a running verification: accept a request, the digits match or not, or cancel. */
    answerDeviceVerification(accountId: string, attemptId: string, answer: DeviceVerificationAnswer): Promise<DeviceVerificationView>;
    /** On a new device: verify the other device and then ask it for its history (events 'historyTransfer'). */
    requestHistory(accountId: string, deviceId: string): Promise<DeviceVerificationView>;
    /** On the old device: send the history to the verified new device, or not. */
    answerHistoryRequest(accountId: string, attemptId: string, send: boolean): Promise<void>;
    setPrivacy(accountId: string, changes: Partial<PrivacyView>): Promise<PrivacyView>;
  };
  rooms: {
    list(accountId: string): Promise<RoomView[]>;
    /** `preset` null = the cooperative room. */
    create(accountId: string, name: string, preset: RoomPreset | null): Promise<RoomView>;
    /** A minimal-metadata room: every member appears as a pseudonym; real identities travel only inside the group. */
    createMinimalMetadata(accountId: string, name: string, preset: RoomPreset | null): Promise<RoomView>;
    addMember(accountId: string, roomUri: string, user: string): Promise<RoomView>;
    /** Leave: this account's devices are proposed for removal; the room turns read-only here. */
    leave(accountId: string, roomUri: string): Promise<RoomView>;
    /** Join by the room's link (URI): for participants without clients in it, e.g. after a kick. */
    join(accountId: string, roomUri: string): Promise<RoomView>;
    markRead(accountId: string, roomUri: string): Promise<void>;
    /**
     * The direct chat with `user` (handle@domain or a user URI): the existing one, or a new room
     * with the two of you (adding them asks for consent where needed: noConsent says how).
     */
    direct(accountId: string, user: string): Promise<RoomView>;
    /** Mute or unmute the room's notifications on this device (stored in the profile). */
    setMuted(accountId: string, roomUri: string, muted: boolean): Promise<RoomView>;
    /** Members' shared profiles in the room (display names and pictures), by user. */
    profiles(accountId: string, roomUri: string): Promise<Record<string, MemberProfileView>>;
    /** Set the room's status_notification_policy (a room state change, like metadata). */
    setReceiptPolicy(accountId: string, roomUri: string, policy: ReceiptPolicyView): Promise<RoomSettingsView>;
    /** Participants with roles, metadata, and what this account may change. */
    settings(accountId: string, roomUri: string): Promise<RoomSettingsView>;
    setMetadata(accountId: string, roomUri: string, metadata: RoomMetadataArgs): Promise<RoomSettingsView>;
    /** Move a participant to another role (role index). */
    setRole(accountId: string, roomUri: string, user: string, roleIndex: number): Promise<RoomSettingsView>;
    /** Remove a participant's clients; they stay on the list and may come back. */
    kick(accountId: string, roomUri: string, user: string): Promise<RoomSettingsView>;
    /** Take a user off the participant list, with their clients (canRemoveParticipant). */
    removeMember(accountId: string, roomUri: string, user: string): Promise<RoomSettingsView>;
    /** Move a user to role 1 (banned) and remove their clients; they cannot come back until unbanned. */
    ban(accountId: string, roomUri: string, user: string): Promise<RoomSettingsView>;
    unban(accountId: string, roomUri: string, user: string): Promise<RoomSettingsView>;
    /** Report `user` to the room's hub (MIMI /reportAbuse); `note` says what happened (may be empty). */
    reportAbuse(accountId: string, roomUri: string, user: string, note: string): Promise<void>;
  };
  /** The encrypted backup at the account's provider (docs/backup.md). */
  backup: {
    status(accountId: string): Promise<BackupStatusView>;
    /**
     * Back up what is new. The first time, a recovery key is made: a 'backupKey' event says so and
     * the run waits until confirmRecoveryKeySaved; progress as 'backupProgress' events.
     */
    create(accountId: string, args: BackupCreateArgs): Promise<BackupResultView>;
    /** The new recovery key while it waits to be written down; null otherwise (never again once confirmed). */
    pendingRecoveryKey(accountId: string): Promise<string | null>;
    /** The person wrote the key down: it is forgotten by the window's side and the waiting backup goes on. */
    confirmRecoveryKeySaved(accountId: string): Promise<void>;
    /** Fill this device from the backup the key opens; a wrong key is refused with nothing changed. */
    restore(accountId: string, recoveryKey: string): Promise<RestoreResultView>;
    /** A room's history as messages.json, messages.html and attachments/ in a new folder the main process makes under its exports folder. */
    exportHistory(accountId: string, roomUri: string): Promise<ExportResultView>;
  };
  /** Other providers' keys this account recorded for private KeyPackage requests (core/provider-keys.ts). */
  providerKeys: {
    /** Every recorded key, by domain. */
    list(accountId: string): Promise<ProviderKeyView[]>;
    /**
     * Forget `domain`'s key (the next add of one of its users records what it publishes then);
     * only after its operator confirmed they replaced it. The list after it.
     */
    forget(accountId: string, domain: string): Promise<ProviderKeyView[]>;
  };
  messages: {
    /** Newest-first page; `beforeSeq` pages back. */
    page(accountId: string, roomUri: string, beforeSeq: number | null, limit: number): Promise<MessageView[]>;
    send(accountId: string, roomUri: string, text: string): Promise<MessageView>;
    /**
     * Report messages (their message ids, all from one sender) to the room's hub with their franks,
     * which the hub verifies (docs/franking.md). `reason`: one of REPORT_REASONS' codes, 0 = not given.
     */
    report(accountId: string, roomUri: string, messageIds: string[], reason: number, note: string): Promise<void>;
    /**
     * Message actions (content-08; core/message-actions.ts). `messageId` is a timeline message's
     * id (hex). Each answers the acted-on message as it reads now (for reply: the new message).
     */
    reply(accountId: string, roomUri: string, messageId: string, text: string): Promise<MessageView>;
    /** React with `emoji`, or with `remove` withdraw this account's reaction `emoji` (an unlike). */
    react(accountId: string, roomUri: string, messageId: string, emoji: string, remove: boolean): Promise<MessageView>;
    /** Only the sender's own messages; the new text replaces the shown one (history kept). */
    edit(accountId: string, roomUri: string, messageId: string, text: string): Promise<MessageView>;
    delete(accountId: string, roomUri: string, messageId: string): Promise<MessageView>;
    /** The versions of an edited message, the original first. */
    history(accountId: string, roomUri: string, messageId: string): Promise<MessageVersionView[]>;
    /**
     * Messages with, for each word of `query`, a word starting with it (NFKC, case-insensitive;
     * accents count), newest first; `roomUri` null = every room. The index holds no plaintext.
     */
    search(accountId: string, query: string, roomUri: string | null, limit: number): Promise<SearchResponse>;
    /** Encrypt `file`, upload it to the account's provider and send it (attachments; progress as 'transfer' events). */
    sendFile(accountId: string, roomUri: string, file: FileArgs): Promise<MessageView>;
    /** A message's attachment, fetched (through the room's hub if need be), checked and decrypted. */
    openAttachment(accountId: string, roomUri: string, messageId: string): Promise<OpenedAttachmentView>;
    /** This account is typing in the room (true; repeated while it goes on) or stopped (false). Sent only when the switch is on. */
    typing(accountId: string, roomUri: string, typing: boolean): Promise<void>;
  };
  /** `user` is handle@domain or a mimi:// user URI; `roomUri` null = every room. */
  consent: {
    list(accountId: string): Promise<ConsentListView>;
    request(accountId: string, user: string, roomUri: string | null): Promise<ConsentActionView>;
    cancel(accountId: string, user: string, roomUri: string | null): Promise<ConsentActionView>;
    grant(accountId: string, user: string, roomUri: string | null): Promise<ConsentActionView>;
    decline(accountId: string, user: string): Promise<ConsentActionView>;
    revoke(accountId: string, user: string, roomUri: string | null): Promise<ConsentActionView>;
    block(accountId: string, user: string): Promise<ConsentActionView>;
    unblock(accountId: string, user: string): Promise<ConsentActionView>;
  };
  /** Each account's pseudonym pool (its provider issues them; the app keeps the pool filled). */
  pseudonyms: {
    list(accountId: string): Promise<PseudonymPoolView>;
    /** Ask the provider for `count` more now. */
    refill(accountId: string, count: number): Promise<PseudonymPoolView>;
    /** Never use it again: its rooms are left and its KeyPackages withdrawn. */
    retire(accountId: string, userPseudonym: string): Promise<PseudonymPoolView>;
  };
  connections: {
    list(accountId: string): Promise<ConnectionsView>;
    /** Start the connection flow with `user` (handle@domain or a user URI). */
    connect(accountId: string, user: string): Promise<ConnectionsView>;
    accept(accountId: string, id: string): Promise<ConnectionsView>;
    decline(accountId: string, id: string): Promise<ConnectionsView>;
    /** Who may send this account connection requests. */
    policy(accountId: string): Promise<ConnectionRequestPolicyView>;
    /** Replace it (domains lowercase, at most 100; at least one for mode 'domains'); answers it as stored. */
    setPolicy(accountId: string, policy: ConnectionRequestPolicyView): Promise<ConnectionRequestPolicyView>;
  };
  /** Join links: made by members whose role allows it, used by anyone who has one. */
  links: {
    create(accountId: string, roomUri: string, args: JoinLinkArgs): Promise<JoinLinkView>;
    list(accountId: string, roomUri: string): Promise<JoinLinkView[]>;
    revoke(accountId: string, roomUri: string, id: string): Promise<JoinLinkView[]>;
    /** Join by a link; `passphrase` when it asks for one; `asPseudonym`: under a pseudonym of the pool. */
    join(accountId: string, link: string, passphrase: string | null, asPseudonym: boolean): Promise<RoomView>;
  };
  /** Knocks: asking a room's admins to be let in, through its knock room. */
  knocks: {
    list(accountId: string): Promise<KnocksView>;
    /** The room's knock room (made on first use, with the room's admins in it) and its link. */
    knockRoom(accountId: string, roomUri: string): Promise<KnockRoomView>;
    /** Knock with a knock link: a note, and KeyPackages the admins add if they admit. */
    knock(accountId: string, link: string, note: string, asPseudonym: boolean): Promise<KnocksView>;
    admit(accountId: string, id: string): Promise<KnocksView>;
    decline(accountId: string, id: string): Promise<KnocksView>;
  };
  people: {
    find(accountId: string, query: FindArgs): Promise<FindResultView>;
    myProfile(accountId: string): Promise<MyProfileView>;
    setProfileFields(accountId: string, fields: ProfileFieldsArgs): Promise<MyProfileView>;
    setSearchable(accountId: string, field: ProfileField, on: boolean): Promise<MyProfileView>;
    /** This account's picture (data:image/png, at most 96×96), shared with its display name in its rooms; null: none. */
    avatar(accountId: string): Promise<string | null>;
    setAvatar(accountId: string, avatar: string | null): Promise<string | null>;
    /** The safety number with `user` (docs/verification.md); fails when the two share no room. */
    safetyNumber(accountId: string, user: string): Promise<SafetyNumberView>;
    /** Mark `user` verified at their current devices, or clear the mark. */
    setVerified(accountId: string, user: string, verified: boolean): Promise<SafetyNumberView>;
    /** Compare a scanned QR code (base64 of its bytes) with ours; a match marks `user` verified. */
    compareSafetyNumberQr(accountId: string, user: string, scanned: string): Promise<SafetyNumberComparison>;
  };
  /** Subscribe to core events; returns an unsubscribe function. */
  onEvent(listener: (event: CoreEvent) => void): () => void;
}

// ---- Argument validation (run in main for every call, whatever the transport) ----

type Check = (v: unknown, name: string) => void;

function fail(name: string, what: string): never {
  throw new CoreError('invalidArgument', `${name} ${what}`);
}

const str =
  (max: number, min = 1): Check =>
  (v, name) => {
    if (typeof v !== 'string') fail(name, 'must be a string');
    if (v.length < min || v.length > max) fail(name, `must be ${min}-${max} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(v)) fail(name, 'contains control characters');
  };

const optional =
  (c: Check): Check =>
  (v, name) => {
    if (v !== undefined && v !== null) c(v, name);
  };

const int =
  (min: number, max: number): Check =>
  (v, name) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(name, `must be an integer ${min}-${max}`);
  };

const accountId = str(64);
// The provider's device ids are 16 random bytes in base64url; anything else cannot be one.
const deviceId: Check = (v, name) => {
  str(64)(v, name);
  if (!/^[A-Za-z0-9_-]+$/.test(v as string)) fail(name, 'must be a device id as the device list gives it');
};
// The provider checks the rest (bidi and separator characters); here only what no name can be.
/** A device verification attempt: 32 hex digits (its 16-byte nonce). */
const attemptId: Check = (v, name) => {
  str(32)(v, name);
  if (!/^[0-9a-f]{32}$/.test(v as string)) fail(name, 'must be an attempt id (32 hex digits)');
};
const verificationAnswer: Check = (v, name) => {
  if (!(DEVICE_VERIFICATION_ANSWERS as readonly unknown[]).includes(v)) fail(name, `must be one of ${DEVICE_VERIFICATION_ANSWERS.join(', ')}`);
};
const deviceName: Check = (v, name) => {
  if (typeof v !== 'string' || v.trim().length === 0) fail(name, 'must not be empty');
  str(4 * MAX_DEVICE_NAME)(v, name);
  if ([...(v as string).trim()].length > MAX_DEVICE_NAME) fail(name, `must be at most ${MAX_DEVICE_NAME} characters`);
};
const roomUri: Check = (v, name) => {
  str(512)(v, name);
  if (!(v as string).startsWith('mimi://')) fail(name, 'must be a mimi:// room URI');
};
const url: Check = (v, name) => {
  str(512)(v, name);
  let u: URL;
  try {
    u = new URL(v as string);
  } catch {
    fail(name, 'must be a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') fail(name, 'must be an https URL');
};
const pem: Check = (v, name) => {
  if (typeof v !== 'string' || v.length > 16384 || !/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/.test(v.trim() + '\n'))
    fail(name, 'must be a PEM certificate');
};
const secretChoice: Check = (v, name) => {
  const o = plainObject(v, name, ['mode', 'passphrase']);
  if (o.mode === 'plaintext') {
    if (o.passphrase !== undefined) fail(`${name}.passphrase`, 'is only for mode passphrase');
  } else if (o.mode === 'passphrase') {
    str(1024, MIN_SECRET_PASSPHRASE_LENGTH)(o.passphrase, `${name}.passphrase`);
  } else {
    fail(`${name}.mode`, 'must be passphrase or plaintext');
  }
};
const signIn: Check = (v, name) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(name, 'must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['providerUrl', 'handle', 'password', 'deviceName', 'caPem', 'secrets'].includes(k)) fail(name, `has unknown field ${k}`);
  optional(url)(o.providerUrl, `${name}.providerUrl`);
  str(32)(o.handle, `${name}.handle`);
  str(1024, 1)(o.password, `${name}.password`);
  optional(str(64))(o.deviceName, `${name}.deviceName`);
  optional(pem)(o.caPem, `${name}.caPem`);
  optional(secretChoice)(o.secrets, `${name}.secrets`);
};
/** handle@domain or mimi://domain/u/handle: printable, no spaces inside. */
const userAddress: Check = (v, name) => {
  str(300)(v, name);
  if (!/^\S+$/.test(v as string)) fail(name, 'must be a user address such as bob@b.example');
  if (!(v as string).includes('@') && !(v as string).startsWith('mimi://')) fail(name, 'must be handle@domain or a mimi:// user URI');
};
const nullable =
  (c: Check): Check =>
  (v, name) => {
    if (v !== null) c(v, name);
  };
const bool: Check = (v, name) => {
  if (typeof v !== 'boolean') fail(name, 'must be true or false');
};
const plainObject = (v: unknown, name: string, allowed: readonly string[]): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) fail(name, 'must be an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(name, `has unknown field ${k.slice(0, 40)}`);
  return o;
};
const domainName: Check = (v, name) => {
  str(253)(v, name);
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(v as string)) fail(name, 'must be a lowercase domain such as b.example');
};
const phone: Check = (v, name) => {
  str(16)(v, name);
  if (!/^\+[1-9][0-9]{1,14}$/.test(v as string)) fail(name, 'must be a phone number in international form, e.g. +12125551212');
};
const email: Check = (v, name) => {
  str(254, 3)(v, name);
  if (!/^[^\s@]+@[^\s@]+$/.test(v as string)) fail(name, 'must be an email address');
};
const profileField: Check = (v, name) => {
  if (typeof v !== 'string' || !(PROFILE_FIELD_NAMES as readonly string[]).includes(v)) fail(name, `must be one of ${PROFILE_FIELD_NAMES.join(', ')}`);
};
const findArgs: Check = (v, name) => {
  const o = plainObject(v, name, ['domain', 'handle', 'nick', 'email', 'phone', 'name', 'cursor', 'limit']);
  optional(domainName)(o.domain, `${name}.domain`);
  optional(str(300))(o.handle, `${name}.handle`);
  optional(str(64))(o.nick, `${name}.nick`);
  optional(email)(o.email, `${name}.email`);
  optional(phone)(o.phone, `${name}.phone`);
  optional(str(100, 3))(o.name, `${name}.name`);
  optional(str(512))(o.cursor, `${name}.cursor`);
  optional(int(1, 50))(o.limit, `${name}.limit`);
  if (!['handle', 'nick', 'email', 'phone', 'name'].some((k) => o[k] !== undefined && o[k] !== null)) fail(name, 'needs at least one of handle, nick, email, phone, name');
};
const profileFields: Check = (v, name) => {
  const o = plainObject(v, name, ['nick', 'email', 'phone', 'displayName']);
  optional(str(64))(o.nick, `${name}.nick`);
  optional(email)(o.email, `${name}.email`);
  optional(phone)(o.phone, `${name}.phone`);
  optional(str(100))(o.displayName, `${name}.displayName`);
};
const roomPreset: Check = (v, name) => {
  if (typeof v !== 'string' || !(ROOM_PRESETS as readonly string[]).includes(v)) fail(name, `must be one of ${ROOM_PRESETS.join(', ')}`);
};
const avatarUrl: Check = (v, name) => {
  str(512, 0)(v, name);
  if (v === '') return;
  let u: URL;
  try {
    u = new URL(v as string);
  } catch {
    fail(name, 'must be an https URL or empty');
  }
  if (u.protocol !== 'https:') fail(name, 'must be an https URL or empty');
};
const roomMetadata: Check = (v, name) => {
  const o = plainObject(v, name, ['name', 'description', 'avatar', 'subject']);
  optional(str(100, 0))(o.name, `${name}.name`);
  optional(str(2000, 0))(o.description, `${name}.description`);
  optional(avatarUrl)(o.avatar, `${name}.avatar`);
  optional(str(200, 0))(o.subject, `${name}.subject`);
  if (!['name', 'description', 'avatar', 'subject'].some((k) => o[k] !== undefined)) fail(name, 'needs at least one of name, description, avatar, subject');
};
/** The same check outside IPC (e.g. the `mimi` command calls the core directly). */
export function checkRoomMetadataArgs(v: unknown): asserts v is RoomMetadataArgs {
  roomMetadata(v, 'room details');
}
const pseudonym: Check = (v, name) => {
  str(300)(v, name);
  if (!parseMimiUriAs('pseudonym', v as string)) fail(name, 'must be a pseudonym URI (mimi://domain/p/...)');
};
const connectionRequestPolicy: Check = (v, name) => {
  plainObject(v, name, ['mode', 'domains']);
  const problem = connectionRequestPolicyProblem(v);
  if (problem) fail(name, problem);
};
const joinLink: Check = (v, name) => {
  str(2048)(v, name);
  try {
    parseJoinLink(v as string);
  } catch (e) {
    fail(name, `is not a room link: ${(e as Error).message}`);
  }
};
const joinLinkArgs: Check = (v, name) => {
  plainObject(v, name, ['uses', 'expiresInSeconds', 'passphrase', 'roleIndex']);
  const o = v as Record<string, unknown>;
  optional(int(1, 100000))(o.uses, `${name}.uses`);
  optional(int(60, 366 * 24 * 3600))(o.expiresInSeconds, `${name}.expiresInSeconds`);
  optional(str(200, 4))(o.passphrase, `${name}.passphrase`);
  optional(int(2, 65535))(o.roleIndex, `${name}.roleIndex`);
};
const linkId: Check = (v, name) => {
  str(64)(v, name);
  if (!/^[0-9a-f]{16,64}$/.test(v as string)) fail(name, 'must be a link id (hex)');
};
const messageIds: Check = (v, name) => {
  if (!Array.isArray(v) || v.length < 1 || v.length > 16) fail(name, 'must be a list of 1-16 message ids');
  (v as unknown[]).forEach((id, i) => {
    str(64)(id, `${name}[${i}]`);
    if (!/^[0-9a-f]{64}$/.test(id as string)) fail(`${name}[${i}]`, 'must be a message id (64 hex digits)');
  });
  if (new Set(v as string[]).size !== (v as string[]).length) fail(name, 'lists a message twice');
};
const messageId: Check = (v, name) => {
  str(64)(v, name);
  if (!/^[0-9a-f]{64}$/.test(v as string)) fail(name, 'must be a message id (64 hex digits)');
};
/** One reaction: short, one line (reaction-text.ts says what is wrong). */
const reaction: Check = (v, name) => {
  str(200)(v, name);
  const problem = reactionProblem(v as string);
  if (problem) fail(name, problem);
};
const reportReason: Check = (v, name) => {
  if (!REPORT_REASONS.some((r) => r.code === v)) fail(name, `must be one of ${REPORT_REASONS.map((r) => r.code).join(', ')}`);
};
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
/** A scanned safety number code: base64 of at most 1 KiB (ours is about 80 bytes). */
const scannedQr: Check = (v, name) => {
  str(1400)(v, name);
  if ((v as string).length % 4 !== 0 || !BASE64_RE.test(v as string)) fail(name, 'must be the scanned code in base64');
};
const fileArgs: Check = (v, name) => {
  const o = plainObject(v, name, ['name', 'type', 'data', 'thumbnail']);
  if (o.thumbnail !== undefined) {
    const t = o.thumbnail;
    if (typeof t !== 'string' || t.length === 0 || t.length % 4 !== 0 || !BASE64_RE.test(t)) fail(`${name}.thumbnail`, 'must be a preview image in base64');
    if (((t as string).length / 4) * 3 > MAX_THUMBNAIL_BYTES + 2) fail(`${name}.thumbnail`, `is larger than ${MAX_THUMBNAIL_BYTES / 1024} KiB`);
  }
  str(255)(o.name, `${name}.name`);
  str(255, 0)(o.type, `${name}.type`);
  if (typeof o.type === 'string' && o.type !== '' && !/^[\w.+-]+\/[\w.+-]+(;[ -~]*)?$/.test(o.type)) fail(`${name}.type`, 'must be a media type such as image/png, or empty');
  if (typeof o.data !== 'string' || o.data.length === 0 || o.data.length % 4 !== 0 || !BASE64_RE.test(o.data)) fail(`${name}.data`, 'must be the file in base64');
  if (((o.data as string).length / 4) * 3 > MAX_FILE_BYTES + 2) fail(`${name}.data`, `is larger than ${Math.floor(MAX_FILE_BYTES / 1024 / 1024)} MiB: send a smaller file`);
};
const OPTIONALITY = ['optional', 'required', 'forbidden'];
const receiptPolicy: Check = (v, name) => {
  const o = plainObject(v, name, ['delivery', 'read']);
  for (const k of ['delivery', 'read']) if (!OPTIONALITY.includes(o[k] as string)) fail(`${name}.${k}`, 'must be optional, required or forbidden');
};
const privacyChanges: Check = (v, name) => {
  const o = plainObject(v, name, ['deliveryReceipts', 'readReceipts', 'typing']);
  for (const [k, x] of Object.entries(o)) bool(x, `${name}.${k}`);
};
/** A picture as rooms share it (src-shared/member-profile.ts): a PNG of at most 48 KiB, as a base64 data: URL. */
export const MAX_AVATAR_DATA_URL = 'data:image/png;base64,'.length + 4 * Math.ceil((48 * 1024) / 3);
const avatarDataUrl: Check = (v, name) => {
  str(MAX_AVATAR_DATA_URL)(v, name);
  if (!/^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/.test(v as string)) fail(name, 'must be a data:image/png;base64 URL');
};
const backupCreateArgs: Check = (v, name) => {
  const o = plainObject(v, name, ['full']);
  if (o.full !== undefined) bool(o.full, `${name}.full`);
};
const nullableSeq: Check = (v, name) => {
  if (v !== null) int(0, Number.MAX_SAFE_INTEGER)(v, name);
};

/** Every method of MimiApi (except onEvent) with the validators of its positional arguments. */
export const METHODS = {
  'app.info': [],
  'accounts.list': [],
  'accounts.register': [signIn],
  'accounts.login': [signIn],
  'accounts.switchTo': [accountId],
  'accounts.signOut': [accountId],
  'accounts.secretStorage': [],
  'accounts.locked': [],
  'accounts.unlock': [accountId, str(1024)],
  'accounts.secretMode': [accountId],
  'accounts.changePassword': [accountId, str(1024), str(1024, MIN_PASSWORD_LENGTH)],
  'accounts.deleteAccount': [accountId],
  'accounts.changePassphrase': [accountId, str(1024), str(1024, MIN_SECRET_PASSPHRASE_LENGTH)],
  'accounts.privacy': [accountId],
  'accounts.setPrivacy': [accountId, privacyChanges],
  'accounts.devices': [accountId],
  'accounts.renameDevice': [accountId, deviceId, deviceName],
  'accounts.removeDevice': [accountId, deviceId],
  'accounts.removeThisDevice': [accountId],
  'accounts.verifyDevice': [accountId, deviceId],
  'accounts.answerDeviceVerification': [accountId, attemptId, verificationAnswer],
  'accounts.requestHistory': [accountId, deviceId],
  'accounts.answerHistoryRequest': [accountId, attemptId, bool],
  'rooms.list': [accountId],
  'rooms.create': [accountId, str(100), nullable(roomPreset)],
  'rooms.createMinimalMetadata': [accountId, str(100), nullable(roomPreset)],
  'rooms.addMember': [accountId, roomUri, str(300)],
  'rooms.leave': [accountId, roomUri],
  'rooms.join': [accountId, roomUri],
  'rooms.markRead': [accountId, roomUri],
  'rooms.direct': [accountId, userAddress],
  'rooms.setMuted': [accountId, roomUri, bool],
  'rooms.profiles': [accountId, roomUri],
  'rooms.setReceiptPolicy': [accountId, roomUri, receiptPolicy],
  'rooms.settings': [accountId, roomUri],
  'rooms.setMetadata': [accountId, roomUri, roomMetadata],
  'rooms.setRole': [accountId, roomUri, userAddress, int(2, 65535)],
  'rooms.kick': [accountId, roomUri, userAddress],
  'rooms.removeMember': [accountId, roomUri, userAddress],
  'rooms.ban': [accountId, roomUri, userAddress],
  'rooms.unban': [accountId, roomUri, userAddress],
  'rooms.reportAbuse': [accountId, roomUri, userAddress, str(2000, 0)],
  'backup.status': [accountId],
  'backup.create': [accountId, backupCreateArgs],
  'backup.pendingRecoveryKey': [accountId],
  'backup.confirmRecoveryKeySaved': [accountId],
  'backup.restore': [accountId, str(300)],
  'backup.exportHistory': [accountId, roomUri],
  'providerKeys.list': [accountId],
  'providerKeys.forget': [accountId, domainName],
  'messages.page': [accountId, roomUri, nullableSeq, int(1, 500)],
  'messages.send': [accountId, roomUri, str(16000)],
  'messages.report': [accountId, roomUri, messageIds, reportReason, str(2000, 0)],
  'messages.reply': [accountId, roomUri, messageId, str(16000)],
  'messages.react': [accountId, roomUri, messageId, reaction, bool],
  'messages.edit': [accountId, roomUri, messageId, str(16000)],
  'messages.delete': [accountId, roomUri, messageId],
  'messages.history': [accountId, roomUri, messageId],
  'messages.search': [accountId, str(200), nullable(roomUri), int(1, 200)],
  'messages.sendFile': [accountId, roomUri, fileArgs],
  'messages.openAttachment': [accountId, roomUri, messageId],
  'messages.typing': [accountId, roomUri, bool],
  'consent.list': [accountId],
  'consent.request': [accountId, userAddress, nullable(roomUri)],
  'consent.cancel': [accountId, userAddress, nullable(roomUri)],
  'consent.grant': [accountId, userAddress, nullable(roomUri)],
  'consent.decline': [accountId, userAddress],
  'consent.revoke': [accountId, userAddress, nullable(roomUri)],
  'consent.block': [accountId, userAddress],
  'consent.unblock': [accountId, userAddress],
  'pseudonyms.list': [accountId],
  'pseudonyms.refill': [accountId, int(1, 50)],
  'pseudonyms.retire': [accountId, pseudonym],
  'connections.list': [accountId],
  'connections.connect': [accountId, userAddress],
  'connections.accept': [accountId, roomUri],
  'connections.decline': [accountId, roomUri],
  'connections.policy': [accountId],
  'connections.setPolicy': [accountId, connectionRequestPolicy],
  'links.create': [accountId, roomUri, joinLinkArgs],
  'links.list': [accountId, roomUri],
  'links.revoke': [accountId, roomUri, linkId],
  'links.join': [accountId, joinLink, nullable(str(200, 1)), bool],
  'knocks.list': [accountId],
  'knocks.knockRoom': [accountId, roomUri],
  'knocks.knock': [accountId, joinLink, str(1000, 0), bool],
  'knocks.admit': [accountId, str(64)],
  'knocks.decline': [accountId, str(64)],
  'people.find': [accountId, findArgs],
  'people.myProfile': [accountId],
  'people.setProfileFields': [accountId, profileFields],
  'people.setSearchable': [accountId, profileField, bool],
  'people.avatar': [accountId],
  'people.setAvatar': [accountId, nullable(avatarDataUrl)],
  'people.safetyNumber': [accountId, userAddress],
  'people.setVerified': [accountId, userAddress, bool],
  'people.compareSafetyNumberQr': [accountId, userAddress, scannedQr],
} as const satisfies Record<string, readonly Check[]>;

export type MethodName = keyof typeof METHODS;

/** IPC channel name for a method (Electron ipcMain.handle / ipcRenderer.invoke). */
export const channelOf = (m: MethodName): string => `mimi:${m}`;
export const EVENT_CHANNEL = 'mimi:event';

/**
 * Validate a call's arguments; throws CoreError('invalidArgument') naming the bad one. These stay
 * English, outside the message catalogue: the app checks its input before calling, so one of
 * these reaching a person means a bug, and its text is for the log and the bug report.
 */
export function validateCall(method: string, args: unknown): asserts method is MethodName {
  if (!Object.prototype.hasOwnProperty.call(METHODS, method)) throw new CoreError('invalidArgument', `unknown method ${String(method).slice(0, 64)}`);
  const checks = METHODS[method as MethodName] as readonly Check[];
  if (!Array.isArray(args)) throw new CoreError('invalidArgument', 'arguments must be an array');
  if (args.length !== checks.length) throw new CoreError('invalidArgument', `${method} takes ${checks.length} argument(s), got ${args.length}`);
  checks.forEach((c, i) => c(args[i], `argument ${i + 1} of ${method}`));
}

/** Look up the implementation of `method` on an object shaped like MimiApi. */
export function resolveMethod(api: Omit<MimiApi, 'onEvent'>, method: MethodName): (...args: unknown[]) => Promise<unknown> {
  const [domain, name] = method.split('.') as [keyof typeof api, string];
  const group = api[domain] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  return group[name].bind(group);
}

/** Build a MimiApi from a generic `call(method, args)` transport (preload and browser bridge). */
export function apiFromTransport(
  call: (method: MethodName, args: unknown[]) => Promise<unknown>,
  onEvent: (listener: (e: CoreEvent) => void) => () => void,
): MimiApi {
  const api: Record<string, Record<string, unknown>> = {};
  for (const m of Object.keys(METHODS) as MethodName[]) {
    const [domain, name] = m.split('.');
    api[domain] ??= {};
    api[domain][name] = (...args: unknown[]) => call(m, args);
  }
  return { ...(api as unknown as Omit<MimiApi, 'onEvent'>), onEvent };
}

/** Serialisable error form that crosses IPC / HTTP and is rebuilt into a CoreError. */
export interface WireError {
  code: CoreErrorCode;
  message: string;
  key?: string;
  params?: Record<string, string | number>;
}
export function toWireError(e: unknown): WireError {
  if (e instanceof CoreError) return { code: e.code, message: e.message, ...(e.key ? { key: e.key, params: e.params ?? {} } : {}) };
  return { code: 'internal', message: 'Something went wrong inside the app; details are in the log.', key: 'errors.internal', params: {} };
}
