// Attachments of one account (docs/attachments.md): a file is encrypted here (AES-128-GCM, fresh
// key and nonce), uploaded as ciphertext to the account's OWN provider (POST /v1/assets, streamed,
// with progress), and sent as a MIMI content ExternalPart through the outbox like any message.
// Downloads always go to the account's own provider too (GET /v1/rooms/{room}/asset?url=…): it
// serves its own users' files directly and fetches any other through the room's hub
// (`proxyDownload`, draft-ietf-mimi-protocol-06), so this device never contacts another provider
// and never sends its token anywhere else. The hash is checked and the file decrypted here; the
// renderer only ever gets the plaintext as a data: URL or a saved file.

import type { MessageView } from '../../src-shared/contract.js';
import { AssetUploadLocation, checkAssetAgainstPolicy, type AssetPolicy } from '../../src-shared/asset-policy.js';
import {
  AttachmentError,
  attachmentMessage,
  checkExternalPart,
  contentTypeFromName,
  externalPart,
  findAttachment,
  isPreviewableImage,
  MAX_ATTACHMENT_BYTES,
  MAX_PREVIEW_BYTES,
  openFile,
  previewType,
  safeFilename,
  sealFile,
  TAG_BYTES,
} from '../../src-shared/attachment.js';
import { decodeContent, type ExternalPart } from '../../src-shared/content.js';
import { parseMimiUri } from '../../src-shared/identifiers.js';
import type { ProfileContext } from './context.js';
import type { Outbox } from './outbox.js';
import { coreError } from './errors.js';
import { AssetTransfer, TransferFailure } from '../net/asset-transfer.js';

export interface AttachmentTransport {
  baseUrl: string;
  caPem?: string;
  token: () => string | undefined;
}

/** Progress of one transfer: `done` of `total` bytes (ciphertext) in `phase`. */
export interface TransferProgress {
  transferId: string;
  roomUri: string;
  phase: 'upload' | 'download';
  done: number;
  total: number;
}

export interface FileToSend {
  bytes: Uint8Array;
  /** A small PNG or JPEG preview made by the sender's app (images), sent inside the message. */
  thumbnail?: Uint8Array;
  filename: string;
  /** '' or missing: guessed from the name. */
  contentType?: string;
}

export interface OpenedAttachment {
  bytes: Uint8Array;
  filename: string;
  contentType: string;
  size: number;
}

export interface AttachmentInfo {
  filename: string;
  contentType: string;
  size: number;
  image: boolean;
}

/** Decrypted previews kept in memory (bytes), newest last; the renderer asks again on scroll. */
const CACHE_BYTES = 64 * 1024 * 1024;

/** The attachment of a stored message, or null. */
export function attachmentOf(content: Uint8Array): ExternalPart | null {
  try {
    return findAttachment(decodeContent(content));
  } catch {
    return null;
  }
}

export function attachmentInfo(part: ExternalPart): AttachmentInfo {
  return { filename: safeFilename(part.filename || 'attachment'), contentType: part.contentType, size: part.size, image: isPreviewableImage(part.contentType) };
}

/** A transfer's failure as the error the user reads (anything else passes through). */
function toCore(e: unknown, what: 'upload' | 'download'): unknown {
  if (!(e instanceof TransferFailure)) return e;
  const reason = { reason: e.message };
  if (e.status === 0) return coreError('providerUnreachable', what === 'upload' ? 'errors.attachment.uploadUnreachable' : 'errors.attachment.downloadUnreachable', reason);
  if (e.code === 'tooLarge') return coreError('invalidArgument', 'errors.attachment.tooLarge', reason);
  if (e.code === 'quotaExceeded') return coreError('notAllowed', 'errors.attachment.quotaExceeded', reason);
  if (e.code === 'notAllowed') return coreError('notAllowed', 'errors.attachment.notAllowed', reason);
  if (e.code === 'notFound') return coreError('invalidArgument', 'errors.attachment.gone', reason);
  if (e.code === 'peerUnreachable') return coreError('providerUnreachable', what === 'upload' ? 'errors.attachment.uploadPeer' : 'errors.attachment.downloadPeer', reason);
  if (e.code === 'notMember') return coreError('notMember', 'errors.attachment.notMember');
  return coreError('internal', what === 'upload' ? 'errors.attachment.uploadFailed' : 'errors.attachment.downloadFailed', { ...reason, code: e.code });
}

export class Attachments {
  private readonly transfer: AssetTransfer;
  private readonly cache = new Map<string, OpenedAttachment>();
  private cached = 0;
  private seq = 0;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly outbox: Outbox,
    private readonly transport: AttachmentTransport,
    /** The room's asset_policy, if its state has one. */
    private readonly policyOf: (roomUri: string) => AssetPolicy | undefined = () => undefined,
  ) {
    this.transfer = new AssetTransfer({
      baseUrl: transport.baseUrl,
      caPem: transport.caPem,
      authorization: () => {
        const token = transport.token();
        if (!token) throw coreError('noAccount', 'errors.account.signedOut');
        return `Bearer ${token}`;
      },
    });
  }

  close(): void {
    this.transfer.close();
  }

  dropIdleConnections(): void {
    this.transfer.dropIdleConnections();
  }

  private nextId(): string {
    return `t${Date.now().toString(36)}-${++this.seq}`;
  }

  /** Encrypts, uploads and sends `file` in `roomUri`; `onProgress` sees the upload. */
  async send(roomUri: string, file: FileToSend, onProgress?: (p: TransferProgress) => void): Promise<MessageView> {
    const { db } = this.ctx;
    const room = db.getRoom(roomUri);
    if (!room) throw coreError('roomUnknown', 'errors.room.unknown', { room: roomUri });
    if (room.left) throw coreError('notMember', 'errors.room.notMember');
    if (!(file.bytes instanceof Uint8Array)) throw coreError('invalidArgument', 'errors.attachment.noContent');
    if (file.bytes.length === 0) throw coreError('invalidArgument', 'errors.attachment.empty');
    if (file.bytes.length > MAX_ATTACHMENT_BYTES) {
      throw coreError('invalidArgument', 'errors.attachment.tooBig', { size: (file.bytes.length / 1024 / 1024).toFixed(1), max: Math.floor(MAX_ATTACHMENT_BYTES / 1024 / 1024) });
    }
    if (file.thumbnail && (file.thumbnail.length > MAX_PREVIEW_BYTES || !previewType(file.thumbnail))) {
      throw coreError('invalidArgument', 'errors.attachment.preview', { max: MAX_PREVIEW_BYTES / 1024 });
    }
    const filename = safeFilename(file.filename);
    const contentType = file.contentType && file.contentType.trim() !== '' ? file.contentType : contentTypeFromName(filename);
    const policy = this.policyOf(roomUri);
    const refused = (url: string, location: boolean) => {
      if (!policy) return null;
      // Before the upload only size and type can be judged (the provider names the URL).
      const p = location ? policy : { ...policy, uploadLocation: AssetUploadLocation.unspecified };
      return checkAssetAgainstPolicy(p, { senderDomain: this.ctx.config.domain, url, contentType, size: file.bytes.length });
    };
    const early = refused(`${this.transport.baseUrl}/assets/`, false);
    if (early) throw coreError('notAllowed', 'errors.attachment.refused', { reason: early });
    const sealed = await sealFile(file.bytes);
    const transferId = this.nextId();
    const { url } = await this.transfer
      .upload(sealed.ciphertext, (done) => onProgress?.({ transferId, roomUri, phase: 'upload', done, total: sealed.ciphertext.length }))
      .catch((e: unknown) => Promise.reject(toCore(e, 'upload')));
    db.noteUpload(url, roomUri, sealed.ciphertext.length);
    const late = refused(url, true);
    if (late) throw coreError('notAllowed', 'errors.attachment.refusedStore', { reason: late });
    const part = externalPart({ url, sealed, size: file.bytes.length, contentType, filename });
    const view = await this.outbox.sendContent(roomUri, (me) => attachmentMessage({ senderUri: me, roomUri, part, preview: file.thumbnail }));
    db.uploadSent(url, view.messageId);
    this.remember(view.messageId, { bytes: file.bytes, filename: part.filename, contentType: part.contentType, size: part.size });
    return view;
  }

  /** The attachment of message `messageId` in `roomUri`, fetched, checked and decrypted. */
  async open(roomUri: string, messageId: string, onProgress?: (p: TransferProgress) => void): Promise<OpenedAttachment> {
    const hit = this.cache.get(messageId);
    if (hit) {
      // Most recently used last.
      this.cache.delete(messageId);
      this.cache.set(messageId, hit);
      return hit;
    }
    const row = this.ctx.db.messageById(roomUri, messageId);
    if (!row) throw coreError('invalidArgument', 'errors.attachment.noSuchMessage', { id: messageId });
    const part = attachmentOf(row.content);
    if (!part) throw coreError('invalidArgument', 'errors.attachment.none');
    try {
      checkExternalPart(part);
    } catch (e) {
      throw coreError('invalidArgument', 'errors.attachment.cannotOpen', { reason: (e as Error).message });
    }
    const policy = this.policyOf(roomUri);
    if (policy) {
      let senderDomain = '';
      try {
        senderDomain = parseMimiUri(row.sender).domain;
      } catch {
        // an unparseable sender matches no policy entry
      }
      const why = checkAssetAgainstPolicy(policy, { senderDomain, url: part.url, contentType: part.contentType, size: part.size });
      if (why) throw coreError('notAllowed', 'errors.attachment.notOpened', { reason: why });
    }
    const transferId = this.nextId();
    const total = part.size + TAG_BYTES;
    const ciphertext = await this.transfer
      .download(roomUri, part.url, total, (done) => onProgress?.({ transferId, roomUri, phase: 'download', done, total }))
      .catch((e: unknown) => Promise.reject(toCore(e, 'download')));
    let bytes: Uint8Array;
    try {
      bytes = await openFile(part, ciphertext);
    } catch (e) {
      if (e instanceof AttachmentError) throw coreError('internal', 'errors.attachment.damaged', { reason: `${e.message[0].toUpperCase()}${e.message.slice(1)}` });
      throw e;
    }
    const opened = { bytes, filename: safeFilename(part.filename || 'attachment'), contentType: part.contentType, size: bytes.length };
    this.remember(messageId, opened);
    return opened;
  }

  private remember(messageId: string, a: OpenedAttachment): void {
    if (a.bytes.length > CACHE_BYTES / 4) return;
    this.cache.set(messageId, a);
    this.cached += a.bytes.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= CACHE_BYTES) break;
      this.cache.delete(k);
      this.cached -= v.bytes.length;
    }
  }
}
