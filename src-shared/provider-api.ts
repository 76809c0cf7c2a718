// The client <-> home-provider API ("client API"). MIMI leaves this interface to each provider
// (draft-ietf-mimi-arch: only provider-to-provider is standardised), so it is ours: JSON over HTTPS,
// binary fields as base64url strings (see bytes.ts), a bearer token per device, and a WebSocket
// push stream with a resumable per-device cursor. The MLS objects inside are exact RFC 9420
// encodings (MLSMessage), so the hub logic behind these routes is the same one that serves the
// MIMI server-to-server endpoints.
//
// Every route is listed in `ROUTES`; request and response shapes follow. Errors always have the
// shape `ApiError` with a stable `code` a client can switch on.

import type { ConnectionRequestPolicy } from './connection-request-policy.js';

export const API_PREFIX = '/v1';

/** Bodies larger than this are refused with 413 before parsing. */
export const MAX_BODY_BYTES = 1 << 20; // 1 MiB: a 100-member commit + welcome is ~100 KiB
/** Application messages larger than this are refused with 413. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export const ROUTES = {
  health: 'GET /v1/health',
  register: 'POST /v1/accounts', // RegisterRequest -> SessionResponse (201)
  login: 'POST /v1/sessions', // LoginRequest -> SessionResponse (201); a new device of the account
  me: 'GET /v1/me', // -> MeResponse
  uploadKeyPackages: 'POST /v1/keyPackages', // UploadKeyPackagesRequest -> { available }
  keyPackageCount: 'GET /v1/keyPackages', // -> { available, lastResort }
  claimKeyPackages: 'POST /v1/keyPackages/claim', // ClaimRequest -> ClaimResponse
  createRoom: 'POST /v1/rooms', // CreateRoomRequest -> RoomInfo (201)
  listRooms: 'GET /v1/rooms', // -> { rooms: RoomInfo[] }
  getRoom: 'GET /v1/rooms/:roomId', // -> RoomInfo
  commit: 'POST /v1/rooms/:roomId/commit', // CommitRequest -> CommitResponse | 409 wrongEpoch
  sendMessage: 'POST /v1/rooms/:roomId/messages', // SendMessageRequest -> SendMessageResponse
  sendMessageBatch: 'POST /v1/messages/batch', // SendMessageBatchRequest -> SendMessageBatchResponse (one result per entry); 404 from providers before it
  proposals: 'POST /v1/rooms/:roomId/proposals', // ProposalsRequest -> { acceptedTimestamp }: leaving (own Removes)
  reportAbuse: 'POST /v1/rooms/:roomId/reportAbuse', // ReportAbuseRequest -> { accepted: true } (201); sent on to the room's hub
  groupInfo: 'GET /v1/rooms/:roomId/groupInfo', // ?asPseudonym=P (optional) -> GroupInfoResponse (participants only: the account's user, or P)
  destroyRoom: 'POST /v1/rooms/:roomId/destroy', // DestroyRoomRequest -> DestroyRoomResponse; rooms hosted by this provider only
  hubSender: 'GET /v1/hubSender', // -> HubSenderResponse: put it first in a new room's external_senders
  changePassword: 'POST /v1/me/password', // ChangePasswordRequest -> { changed: true }; 403 wrongPassword (old one wrong, nothing changed); other devices stay signed in
  deleteAccount: 'DELETE /v1/me', // -> { deleted: true }; hubs propose removal of the account's devices and client pseudonyms
  // Consent (draft-ietf-mimi-protocol-06 "Consent"; docs/decisions.md "Consent"): USER is a user URI
  // of another provider; users of one provider need no consent.
  consents: 'GET /v1/consents', // -> ConsentListResponse
  requestConsent: 'POST /v1/consents/request', // ConsentActionRequest -> ConsentActionResponse
  cancelConsent: 'POST /v1/consents/cancel', // ConsentActionRequest (same scope as the request)
  grantConsent: 'POST /v1/consents/grant', // ConsentActionRequest (roomUri: only that room)
  declineConsent: 'POST /v1/consents/decline', // ConsentActionRequest { user }: drops their pending requests
  revokeConsent: 'POST /v1/consents/revoke', // ConsentActionRequest (no roomUri: every grant to USER)
  blockUser: 'POST /v1/consents/block', // ConsentActionRequest { user }: silently refuse USER
  unblockUser: 'POST /v1/consents/unblock', // ConsentActionRequest { user }
  // Discovery (draft-ietf-mimi-protocol-06 "Find internal address"; docs/decisions.md "Discovery").
  myProfile: 'GET /v1/me/profile', // -> MyProfile
  setMyProfile: 'POST /v1/me/profile', // SetProfileRequest -> MyProfile
  find: 'POST /v1/find', // FindRequest -> FindResponse; another domain is asked with /identifierQuery
  // KeyPackages of other providers' users over Oblivious HTTP (docs/ohttp-key-packages.md): this
  // provider relays, seeing only ciphertext and the gateway's domain.
  ohttpKeys: 'GET /v1/ohttp/:domain/keys', // -> OhttpKeysResponse | 404 notFound (the provider offers no gateway)
  ohttpRelay: 'POST /v1/ohttp/:domain', // OhttpRelayRequest -> OhttpRelayResponse (the gateway's answer, whatever it says)
  // Pseudonyms (draft-mahy-mimi-pseudonyms "Connection flow"): issued by this provider to this
  // account, never linked to it toward other providers.
  pseudonyms: 'GET /v1/pseudonyms', // -> PseudonymListResponse (every device's, active and retired)
  issuePseudonyms: 'POST /v1/pseudonyms', // IssuePseudonymsRequest -> IssuePseudonymsResponse (201) | 429 rateLimited
  retirePseudonym: 'POST /v1/pseudonyms/retire', // RetirePseudonymRequest -> RetirePseudonymResponse
  uploadPseudonymKeyPackages: 'POST /v1/pseudonyms/keyPackages', // UploadPseudonymKeyPackagesRequest -> PseudonymKeyPackageCount
  // Who may send this user connection requests (claims of the user's KeyPackages by pseudonyms).
  connectionRequestPolicy: 'GET /v1/connection-requests', // -> ConnectionRequestPolicyResponse
  setConnectionRequestPolicy: 'PUT /v1/connection-requests', // SetConnectionRequestPolicyRequest -> ConnectionRequestPolicyResponse
  // Join links (docs/join-links.md): the hub keeps only SHA-256(code); a joiner trades the code for
  // an admission ticket and the room's GroupInfo in one call, for rooms hosted here or elsewhere.
  createLink: 'POST /v1/rooms/:roomId/links', // CreateLinkRequest -> JoinLinkInfo (201); rooms hosted here
  listLinks: 'GET /v1/rooms/:roomId/links', // ?asPseudonym=P -> { links: JoinLinkInfo[] }
  revokeLink: 'POST /v1/rooms/:roomId/links/revoke', // RevokeLinkRequest -> { links: JoinLinkInfo[] }
  joinByCode: 'POST /v1/rooms/:roomId/joinByCode', // JoinByCodeRequest -> JoinByCodeResponse | 403 linkRefused/passphraseRequired | 429
  // The account's devices (docs/devices.md): every device of the account sees and manages all of them.
  devices: 'GET /v1/me/devices', // -> DeviceListResponse
  renameDevice: 'PATCH /v1/me/devices/:deviceId', // RenameDeviceRequest -> DeviceInfo; 404 notFound: not a device of this account
  removeDevice: 'DELETE /v1/me/devices/:deviceId', // -> RemoveDeviceResponse; 403 notAllowed for the calling device (sign out instead); 404 when gone
  signOut: 'DELETE /v1/sessions/current', // -> RemoveDeviceResponse: the calling device removes itself, as removeDevice does another
  // Encrypted backups (docs/backup.md): ciphertext chunks the client sealed (src-shared/backup-format.ts),
  // stored per account; another account's backup is 404 like one that does not exist.
  backups: 'GET /v1/me/backups', // -> BackupsResponse
  backupListing: 'GET /v1/me/backups/:backupId', // -> BackupListing
  putBackupChunk: 'PUT /v1/me/backups/:backupId/:generation/:index', // application/octet-stream -> BackupChunkInfo (201 new, 200 replaced) | 413 tooLarge | 507 quotaExceeded
  getBackupChunk: 'GET /v1/me/backups/:backupId/:generation/:index', // -> application/octet-stream, the bytes as uploaded
  deleteBackupGeneration: 'DELETE /v1/me/backups/:backupId/:generation', // -> DeleteBackupResponse
  deleteBackup: 'DELETE /v1/me/backups/:backupId', // -> DeleteBackupResponse
  // Device-to-device relay (docs/device-transfer.md): opaque messages between two devices of one
  // account, kept until fetched and acknowledged or for DEVICE_MESSAGE_TTL_MS.
  sendDeviceMessage: 'POST /v1/me/devices/:deviceId/messages', // SendDeviceMessageRequest -> SendDeviceMessageResponse (201); 404 notFound: not another device of this account; 413 tooLarge
  deviceMessages: 'GET /v1/me/device-messages', // -> DeviceMessagesResponse (oldest first)
  ackDeviceMessages: 'POST /v1/me/device-messages/ack', // AckDeviceMessagesRequest -> { deleted }
  events: 'GET /v1/events (WebSocket upgrade)', // ?cursor=N ; Authorization: Bearer
  directory: 'GET /.well-known/mimi-protocol-directory',
} as const;

/** roomId in paths is the room URI, percent-encoded (encodeURIComponent). */
export const roomPath = (roomUri: string, suffix = ''): string =>
  `${API_PREFIX}/rooms/${encodeURIComponent(roomUri)}${suffix}`;

export type B64 = string;

export type ApiErrorCode =
  | 'badRequest' // malformed JSON, missing or ill-typed field, bad base64, malformed MLS object
  | 'unauthorized' // missing/unknown bearer token
  | 'wrongPassword'
  | 'handleTaken'
  | 'userUnknown'
  | 'roomUnknown'
  | 'notMember' // the device/user is not in the room
  | 'wrongEpoch' // commit not for the hub's current epoch; `currentEpoch` set
  | 'epochTooOld' // application message older than current epoch - 1; `currentEpoch` set
  | 'notAllowed'
  | 'tooLarge'
  | 'notFound'
  | 'rateLimited'
  | 'internal'
  | 'linkRefused' // a join link that is unknown, revoked, expired or used up; the message says which
  | 'passphraseRequired' // the join link needs its passphrase, and none or a wrong one came
  | 'peerUnreachable' // another provider this request needs (the room's hub, a user's provider) did not answer; retry later
  | 'quotaExceeded'; // an upload would take the account over its provider's storage quota (docs/attachments.md)

export interface ApiError {
  error: { code: ApiErrorCode; message: string; currentEpoch?: string };
}

/** A join link as the hub keeps it (never the code itself). */
export interface JoinLinkInfo {
  id: string;
  roomUri: string;
  roleIndex: number;
  maxUses: number | null;
  uses: number;
  expiresAt: number | null;
  passphrase: boolean;
  /** A knock room's link: the room knocked at. */
  knockFor?: string;
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface CreateLinkRequest {
  /** SHA-256 of the 16-byte code, base64. */
  codeHash: B64;
  roleIndex?: number;
  maxUses?: number;
  expiresInSeconds?: number;
  passphrase?: string;
  knockFor?: string;
  asPseudonym?: string;
}

export interface RevokeLinkRequest {
  id: string;
  asPseudonym?: string;
}

export interface JoinByCodeRequest {
  /** The 16-byte code from the link, base64. */
  code: B64;
  passphrase?: string;
  /** The joining leaf's Ed25519 signature key, base64: the ticket is for that leaf. */
  signatureKey: B64;
  /** Join as this user pseudonym of the account (its client pseudonym's leaf). */
  asPseudonym?: string;
}

export interface JoinByCodeResponse extends GroupInfoResponse {
  /** The JoinTicket (src-shared/join-ticket.ts) to carry in the joining LeafNode, base64. */
  ticket: B64;
}

/** Handles: 1-32 chars, lowercase letters, digits, '.', '_', '-'; must start with a letter or digit. */
export const HANDLE_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/;
export const MIN_PASSWORD_LENGTH = 8;

export interface RegisterRequest {
  handle: string;
  password: string;
  deviceName: string;
}
export type LoginRequest = RegisterRequest;

export interface SessionResponse {
  userUri: string; // mimi://domain/u/handle
  deviceUri: string; // mimi://domain/d/handle/deviceId
  deviceId: string;
  token: string; // bearer token for this device; the provider stores only its SHA-256
  domain: string;
}

/** The account's password, changed from one of its devices: the old one is required. */
export interface ChangePasswordRequest {
  oldPassword: string;
  newPassword: string;
}

export interface MeResponse {
  userUri: string;
  deviceUri: string;
  devices: { deviceUri: string; name: string; createdAt: number }[];
}

// ---- Devices ----

/** Longest device name (in characters, after trimming) a rename takes. */
export const MAX_DEVICE_NAME_CHARS = 64;

export interface DeviceInfo {
  deviceUri: string;
  deviceId: string;
  name: string;
  createdAt: number;
  /** Its last authenticated request, to within a minute (the provider writes it at most that often); null: none recorded. */
  lastSeenAt: number | null;
  /** The device that asked. */
  current: boolean;
}

export interface DeviceListResponse {
  devices: DeviceInfo[];
}

export interface RenameDeviceRequest {
  /** 1-64 printable characters once trimmed (no control, line-separator or bidi-override characters). */
  name: string;
}

export interface RemoveDeviceResponse {
  removed: true;
  deviceUri: string;
  /** Rooms hosted by this provider: its hub proposed the device's Removes (as the rooms' external sender). */
  roomsProposed: string[];
  /**
   * Rooms hosted by other providers the device was in: their hubs are not told by this provider
   * (it cannot sign for them); a remaining device of the account proposes the Removes there.
   */
  roomsElsewhere: string[];
}

// ---- Backups ----

/** A backup id: 32 lowercase hex characters (src-shared/backup-format.ts backupKeys). */
export const BACKUP_ID_RE = /^[0-9a-f]{32}$/;

/** Path of a backup, or of one of its generations or chunks. */
export const backupPath = (backupId: string, generation?: number, index?: number): string =>
  `${API_PREFIX}/me/backups/${backupId}${generation === undefined ? '' : `/${generation}`}${index === undefined ? '' : `/${index}`}`;

export interface BackupChunkInfo {
  generation: number;
  index: number;
  size: number;
  /** SHA-256 of the stored bytes, hex (what src-shared/backup-format.ts chunkHash gives). */
  sha256: string;
  updatedAt: number;
}

export interface BackupLimits {
  /** Everything this account stores in backups now, and the most it may. */
  usedBytes: number;
  quotaBytes: number;
  /** The largest single chunk. */
  maxChunkBytes: number;
}

export interface BackupListing {
  backupId: string;
  generations: { generation: number; chunks: BackupChunkInfo[]; bytes: number }[];
  totalBytes: number;
  limits: BackupLimits;
}

export interface BackupsResponse {
  backups: { backupId: string; generations: number[]; bytes: number; updatedAt: number }[];
  limits: BackupLimits;
}

export interface DeleteBackupResponse {
  deleted: { chunks: number; bytes: number };
}

export interface UploadKeyPackagesRequest {
  /** MLSMessage(mls_key_package) encodings, each usable once. */
  keyPackages: B64[];
  /** Optional MLSMessage(mls_key_package) handed out only when no single-use one remains; replaces the previous one. */
  lastResort?: B64;
}

/** Codes are the MIMI KeyMaterialUserCode / KeyMaterialClientCode names (draft-ietf-mimi-protocol-06). */
export type KeyMaterialUserCode =
  | 'success'
  | 'partialSuccess'
  | 'incompatibleProtocol'
  | 'noCompatibleMaterial'
  | 'userUnknown'
  | 'noConsent'
  | 'noConsentForThisRoom'
  | 'userDeleted';
export type KeyMaterialClientCode = 'success' | 'keyMaterialExhausted' | 'nothingCompatible';

export interface ClaimRequest {
  roomUri: string;
  /** User URIs (any provider; only local ones are served in the single-provider build). */
  users: string[];
  /**
   * Claim as this user pseudonym of the caller's account (active) instead of as the account. Only a
   * pseudonym is served a pseudonym's KeyPackages (never connection-only ones); `users` may then
   * name pseudonyms. Claiming a real user as a pseudonym is a connection request: the user's
   * setting decides, and the account's connection requests are rate-limited.
   */
  asPseudonym?: string;
}
export interface ClaimResponse {
  results: {
    userUri: string;
    status: KeyMaterialUserCode;
    clients: { deviceUri: string; status: KeyMaterialClientCode; keyPackage?: B64 }[];
  }[];
}

export interface CreateRoomRequest {
  /** Room URI the client chose (mimi://<this domain>/r/<random>), also the MLS group_id. */
  roomUri: string;
  /**
   * MLSMessage(group_info) and ratchet tree of epoch 0 (base64). Their GroupContext carries the
   * room state (participant list, metadata, roles) the hub enforces from then on; a room created
   * without them is unmanaged (no roles, nothing enforced).
   */
  groupInfo?: string;
  ratchetTree?: string;
}

export interface RoomInfo {
  roomUri: string;
  hubDomain: string;
  epoch: string; // decimal u64
  participants: string[]; // user URIs
  createdAt: number;
}

export interface CommitRequest {
  /** MLSMessage carrying the Commit (PublicMessage), for the hub's current epoch. */
  commit: B64;
  /** MLSMessage(mls_welcome) for added devices, if any. The hub routes it by KeyPackageRef. */
  welcome?: B64;
  /** MLSMessage(mls_group_info) of the new epoch (external_pub included), kept for external joins. */
  groupInfo: B64;
  /** Encoded ratchet_tree (RFC 9420 optional<Node> list) of the new epoch. */
  ratchetTree: B64;
  /** Participant list changes the commit carries out (user URIs). */
  addUsers?: string[];
  removeUsers?: string[];
  /** Devices whose leaves this commit removes (device URIs), so the hub stops fanout to them. */
  removeDevices?: string[];
  /** Idempotency key: a retried request with the same key returns the first answer. */
  requestId: string;
}
export interface CommitResponse {
  epoch: string; // the new epoch
  acceptedTimestamp: number;
}

export interface SendMessageRequest {
  /** MLSMessage(PrivateMessage, content_type application). */
  message: B64;
  /** Idempotency key chosen by the client's outbox; a retry with the same key is not delivered twice. */
  requestId: string;
  /**
   * The user pseudonym (of this account, active) the device sends as, when it is in the room as a
   * client pseudonym: required then, since the PrivateMessage hides its sender. The provider checks
   * that the device's client pseudonym in the room names it, and the room's hub gets it as the
   * sending user. Absent: the device sends as itself.
   */
  asPseudonym?: string;
}
export interface SendMessageResponse {
  acceptedTimestamp: number;
  duplicate: boolean;
  /** The hub's Frank (mimi-protocol encoding), in a room whose messages are franked. */
  frank?: B64;
}

/** Most entries in one SendMessageBatchRequest. */
export const MAX_BATCH_MESSAGES = 64;
/** Most bytes of one SendMessageBatchRequest body (JSON): 64 messages of 16 KiB, base64. */
export const MAX_BATCH_BODY_BYTES = 2 * 1024 * 1024;

/**
 * Several messages in one request (ROUTES.sendMessageBatch), up to MAX_BATCH_MESSAGES and
 * MAX_BATCH_BODY_BYTES. Each entry is what ROUTES.sendMessage takes, plus its room (the room URI,
 * not percent-encoded), and keeps that route's guarantees: its requestId makes a retry harmless,
 * it is durable before the answer, and a room's entries are accepted in the order of the batch.
 */
export interface SendMessageBatchEntry extends SendMessageRequest {
  roomId: string;
}
export interface SendMessageBatchRequest {
  messages: SendMessageBatchEntry[];
}
/**
 * The outcome of one entry: what ROUTES.sendMessage would have answered for it, a
 * SendMessageResponse or an ApiError with the HTTP status that route would have used. An entry
 * after a retryable failure (epochTooOld, peerUnreachable, rateLimited, internal) of an earlier
 * entry of the same room is not tried, and fails with the same error, so a retry keeps the order.
 */
export type SendMessageBatchResult = SendMessageResponse | (ApiError & { status: number });
export interface SendMessageBatchResponse {
  /** One per entry, in the order of the request. */
  results: SendMessageBatchResult[];
}

/** Standalone proposals (PublicMessages), today a member's Removes of its own user's devices. */
export interface ProposalsRequest {
  proposals: B64[];
}

/** An abuse report about `user` in a room (draft-ietf-mimi-protocol-06 "Report abuse"). */
export interface ReportAbuseRequest {
  /** The alleged abuser: a user URI. */
  user: string;
  /** What happened, in the reporter's words (UTF-8, up to 4 KiB; may be empty). */
  note: string;
  /** AbuseType; the draft has no taxonomy yet: 0 = not given. */
  reasonCode?: number;
  /** Report as this user pseudonym of the account (active): in a room the account is in as a pseudonym. */
  asPseudonym?: string;
  /** The reported messages with the hub's franks (AbusiveMessage): content and Frank in base64. */
  messages?: { content: B64; frank: B64; acceptedTimestamp: number }[];
}

/**
 * Destroys a room this provider hosts: everything the hub keeps of it goes, and its members then get
 * roomUnknown. Only a participant whose role has canDestroyRoom may (docs/decisions.md "Destroying
 * a room"); a room without room state cannot be destroyed, nor one hosted by another provider.
 */
export interface DestroyRoomRequest {
  /** Act as this user pseudonym of the account (active), when it is the one on the room's list. */
  asPseudonym?: string;
}
export interface DestroyRoomResponse {
  destroyed: true;
}

/** The provider's MLS external-sender identity (RFC 9420 ExternalSender encoding). */
export interface HubSenderResponse {
  externalSender: B64;
}

export interface GroupInfoResponse {
  epoch: string;
  groupInfo: B64;
  ratchetTree: B64;
}

// ---- Consent ----

export interface ConsentActionRequest {
  /** User URI (or handle@domain) of the other party. */
  user: string;
  /** Only this room; omitted = every room. Ignored by decline, block and unblock. */
  roomUri?: string;
  /**
   * request only, with roomUri: the room's name as the requester's app shows it, so that the
   * person asked reads which room (1-128 characters; it travels to their provider with the request).
   */
  roomName?: string;
}

export interface ConsentActionResponse {
  /** requested: the target's provider accepted the request; notNeeded: the user is on this provider. */
  outcome: 'requested' | 'notNeeded' | 'done';
  /** Requests, grants or blocks this changed here. */
  changed: number;
  /** Whether the other party's provider was told (block never tells; an unreachable one is not retried). */
  notified: boolean;
}

export type ConsentOutcome = 'pending' | 'granted' | 'revoked';

export interface ConsentListResponse {
  /** Requests from users of other providers waiting for my decision. */
  incoming: { user: string; roomUri?: string; /** The room's name, as the requester named it. */ roomName?: string; at: number }[];
  /** Who may fetch my KeyPackages (add me): in every room (no roomUri) or in one room. */
  granted: { user: string; roomUri?: string; at: number }[];
  /** Who may not, and whose requests are dropped silently. */
  blocked: { user: string; at: number }[];
  /** My requests and what the target's provider told us (revoked also covers declined). */
  outgoing: { user: string; roomUri?: string; status: ConsentOutcome; at: number }[];
}

// ---- Discovery ----

/** The profile fields a user may make searchable ('name' is the display name). */
export const PROFILE_FIELDS = ['handle', 'nick', 'email', 'phone', 'name'] as const;
export type ProfileFieldName = (typeof PROFILE_FIELDS)[number];

export interface MyProfile {
  userUri: string;
  handle: string;
  nick?: string;
  email?: string;
  /** E.164, e.g. +12125551212 */
  phone?: string;
  displayName?: string;
  /** Default: only handle. A field that is not searchable is never matched and never returned. */
  searchable: Record<ProfileFieldName, boolean>;
}

export interface SetProfileRequest {
  /** A string sets the field, null clears it, absent leaves it. */
  nick?: string | null;
  email?: string | null;
  phone?: string | null;
  displayName?: string | null;
  searchable?: Partial<Record<ProfileFieldName, boolean>>;
}

/** Every given field must match (AND). Exact: handle, nick, email, phone; name: a substring of the display name. */
export interface FindRequest {
  /** Provider to search; default: the handle's domain if it has one, else this provider. */
  domain?: string;
  /** handle@domain, mimi://domain/u/handle or im:handle@domain. */
  handle?: string;
  nick?: string;
  email?: string;
  phone?: string;
  /** Case-insensitive substring of the display name (at least 3 characters). */
  name?: string;
  /** Passed on as wholeProfile; this provider answers unsupportedField. */
  wholeProfile?: string;
  /** nextCursor of the previous page. */
  cursor?: string;
  /** Ask the searched provider for KeyPackage tokens (answered in `tokenResponse`). */
  tokenRequest?: FindTokenRequest;
  /** Results per page (1-50, default 20). */
  limit?: number;
}

export type FindStatus = 'success' | 'notFound' | 'ambiguous' | 'forbidden' | 'unsupportedField';

export interface FoundUser {
  userUri: string;
  /** Only the fields the user made searchable. */
  handle?: string;
  nick?: string;
  email?: string;
  phone?: string;
  displayName?: string;
}

export interface FindResponse {
  status: FindStatus;
  domain: string;
  results: FoundUser[];
  /** Present when there are more results: pass it as `cursor`. */
  nextCursor?: string;
  /**
   * The Privacy Pass issuer key (RFC 9578 type 0x0001, base64) that KeyPackage tokens for each
   * found user are made with, when their provider runs an OHTTP gateway.
   */
  tokenKeys?: { userUri: string; tokenKey: B64 }[];
  /** The answer to `tokenRequest`: `issued` with one TokenResponse (145 bytes) per request, concatenated. */
  tokenResponse?: { status: 'issued' | 'noConsent' | 'rateLimited' | 'unknownUser'; tokenResponses?: B64 };
}

/** Sent with a FindRequest: blinded token requests for KeyPackage tokens of `target`. */
export interface FindTokenRequest {
  target: string;
  /** RFC 9578 §5.1 TokenRequests (52 bytes each, at most 16), concatenated, base64. */
  tokenRequests: B64;
}

export interface OhttpKeysResponse {
  /** OhttpKeysEntry (src-shared/key-package-vouch.ts): the key configurations, signed by the provider key it names. */
  entry: B64;
}
export interface OhttpRelayRequest {
  /** message/ohttp-req (RFC 9458), base64. */
  request: B64;
}
export interface OhttpRelayResponse {
  /** message/ohttp-res, base64. */
  response: B64;
}

// ---- Pseudonyms ----

export type PseudonymState = 'active' | 'retired';

/** Unclaimed KeyPackages stored for a client pseudonym. */
export interface PseudonymKeyPackageCount {
  /** Handed out only to pseudonyms, only for the connection flow. */
  connectionOnly: number;
  /** Stored, but handed out by no claim yet (for rooms of pseudonyms to come). */
  other: number;
}

/** One issued pair, as only its own account sees it. */
export interface PseudonymInfo {
  /** mimi://<this domain>/p/<random>: the user in a connection room. */
  userPseudonym: string;
  /** mimi://<this domain>/p/<random>: the one client of `deviceUri` behind it. */
  clientPseudonym: string;
  /** The device of this account it was issued to (it alone uploads its KeyPackages). */
  deviceUri: string;
  state: PseudonymState;
  issuedAt: number;
  retiredAt?: number;
  keyPackages: PseudonymKeyPackageCount;
}

/** The account's issuance allowance: a token bucket, one token per pseudonym. */
export interface PseudonymQuota {
  /** Pseudonyms that may be issued right now. */
  available: number;
  /** The most the bucket holds, and the most one request may ask for. */
  burst: number;
  /** Tokens added back per hour (continuously). */
  perHour: number;
  /** Active pseudonyms the account holds, and the most it may hold. */
  active: number;
  maxActive: number;
}

export interface IssuePseudonymsRequest {
  /** 1 to min(burst, 50). */
  count: number;
}
export interface IssuePseudonymsResponse {
  issued: PseudonymInfo[];
  quota: PseudonymQuota;
}

export interface PseudonymListResponse {
  pseudonyms: PseudonymInfo[];
  quota: PseudonymQuota;
}

export interface RetirePseudonymRequest {
  userPseudonym: string;
}
export interface RetirePseudonymResponse {
  pseudonym: PseudonymInfo;
  /** Unclaimed KeyPackages withdrawn by this call (0 when it was retired already). */
  withdrawnKeyPackages: number;
}

/** Answered with the client pseudonym's PseudonymKeyPackageCount after the upload. */
export interface UploadPseudonymKeyPackagesRequest {
  /** A client pseudonym issued to THIS device, active. */
  clientPseudonym: string;
  /** MLSMessage(mls_key_package) encodings, each usable once; 1-100 per request. */
  keyPackages: B64[];
  /** The KeyPackages carry the connection-only extension: served only for the connection flow. */
  connectionOnly: boolean;
}
// ---- Connection requests ----

/**
 * A claim of a user's KeyPackages by a pseudonym is a connection request (the connection flow's
 * bootstrap room); the user's provider allows it by this setting alone, whatever its consent mode,
 * and refuses it with the ordinary noConsent answer. Default: anyone.
 */
export type SetConnectionRequestPolicyRequest = ConnectionRequestPolicy;
export type ConnectionRequestPolicyResponse = ConnectionRequestPolicy;

// ---- Push stream (WebSocket, JSON text frames) ----

export type PushEventKind = 'welcome' | 'commit' | 'message' | 'room';

/** Server -> client. `seq` grows strictly per device; a client resumes with ?cursor=<last seq it stored>. */
export interface PushEvent {
  type: 'event';
  seq: number;
  kind: PushEventKind;
  roomUri: string;
  /** Epoch the payload was created in (commit: the epoch it moves *from*). Decimal u64. */
  epoch: string;
  senderDevice: string;
  /** Hub acceptance time (ms since the UNIX epoch). */
  acceptedTimestamp: number;
  /** welcome: MLSMessage(welcome); commit/message: MLSMessage; room: JSON RoomInfo as UTF-8. */
  payload: B64;
  /** welcome only: the ratchet tree to join with. */
  ratchetTree?: B64;
  /** message only: the hub's Frank (mimi-protocol encoding), when it franked the message. */
  frank?: B64;
}
/** Sent once the backlog after the cursor is flushed, so a client knows it is live. */
export interface PushCaughtUp {
  type: 'caughtUp';
  seq: number;
}
export type PushFrame = PushEvent | PushCaughtUp;
/**
 * Also sent on the stream, between frames: not stored and not sequenced, a hint that something the
 * client fetches changed (`consent`: the consent list). A client that was offline fetches on
 * (re)connect instead. Clients ignore frame types they do not know.
 */
export interface PushNotice {
  type: 'notice';
  topic: 'consent';
}

/**
 * A notice that the account's device list changed (a device was added by register or login,
 * renamed, or removed), sent to the account's other connected devices. Like every notice it is
 * not stored: a client fetches the list (ROUTES.devices) on every (re)connect and compares it with
 * the devices it knew to tell of one added meanwhile.
 */
export interface PushDevicesNotice {
  type: 'notice';
  topic: 'devices';
  change: 'added' | 'renamed' | 'removed';
  deviceUri: string;
  deviceId: string;
  name: string;
}

/**
 * Messages from another device of the account wait for this device (ROUTES.deviceMessages). Like
 * every notice it is a hint only: a client also fetches them on every (re)connect.
 */
export interface PushDeviceMessagesNotice {
  type: 'notice';
  topic: 'deviceMessages';
}

// ---- Device-to-device relay ----

/** Largest body of one relayed message (decoded bytes). */
export const MAX_DEVICE_MESSAGE_BYTES = 64 * 1024;
/** How long an unfetched message is kept. */
export const DEVICE_MESSAGE_TTL_MS = 10 * 60 * 1000;
/** Messages waiting for one device at most; more are refused (429) until it fetches them. */
export const MAX_PENDING_DEVICE_MESSAGES = 64;

export interface SendDeviceMessageRequest {
  /** Opaque to the provider. */
  body: B64;
}
export interface SendDeviceMessageResponse {
  id: number;
  expiresAt: number;
}
export interface DeviceMessage {
  id: number;
  fromDeviceId: string;
  fromDeviceUri: string;
  body: B64;
  sentAt: number;
}
export interface DeviceMessagesResponse {
  messages: DeviceMessage[];
}
export interface AckDeviceMessagesRequest {
  ids: number[];
}

/** Client -> server: everything up to `seq` is stored; the provider may forget it. */
export interface PushAck {
  type: 'ack';
  seq: number;
}
