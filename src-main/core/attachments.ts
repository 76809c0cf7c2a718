// Attachments of one account (docs/attachments.md): a file is encrypted here (AES-128-GCM, fresh
// key and nonce), uploaded as ciphertext to the account's OWN provider (POST /v1/assets, streamed,
// with progress), and sent as a MIMI content ExternalPart through the outbox like any message.
// Downloads always go to the account's own provider too (GET /v1/rooms/{room}/asset?url=…): it
// serves its own users' files directly and fetches any other through the room's hub
// (`proxyDownload`, draft-ietf-mimi-protocol-06), so this device never contacts another provider
// and never sends its token anywhere else. The hash is checked and the file decrypted here; the
// renderer only ever gets the plaintext as a data: URL or a saved file.

import https from 'node:https';
import { CoreError, type MessageView } from '../../src-shared/contract.js';
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

const CHUNK = 64 * 1024;
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

interface HttpFailure {
  status: number;
  code: string;
  message: string;
}

function toCore(e: HttpFailure, what: 'upload' | 'download'): CoreError {
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
  private readonly agent: https.Agent;
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
    this.agent = new https.Agent({ keepAlive: true, ...(transport.caPem ? { ca: transport.caPem } : {}) });
  }

  close(): void {
    this.agent.destroy();
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
    const { url } = await this.upload(sealed.ciphertext, (done) => onProgress?.({ transferId, roomUri, phase: 'upload', done, total: sealed.ciphertext.length }));
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
    const ciphertext = await this.download(roomUri, part.url, total, (done) => onProgress?.({ transferId, roomUri, phase: 'download', done, total }));
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

  private headers(): Record<string, string> {
    const token = this.transport.token();
    if (!token) throw coreError('noAccount', 'errors.account.signedOut');
    return { authorization: `Bearer ${token}` };
  }

  private upload(ciphertext: Uint8Array, progress: (done: number) => void): Promise<{ url: string }> {
    const url = new URL(`${this.transport.baseUrl}/v1/assets`);
    // 100-continue: the provider judges size and quota from the headers, and a refused file is
    // never sent (nor does a refusal race the body into a broken pipe).
    const headers = { ...this.headers(), 'content-type': 'application/octet-stream', 'content-length': String(ciphertext.length), accept: 'application/json', expect: '100-continue' };
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: HttpFailure) => {
        if (settled) return;
        settled = true;
        reject(toCore(e, 'upload'));
      };
      let answered = false;
      const req = https.request(url, { method: 'POST', headers, agent: this.agent }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail({ status: 0, code: 'unreachable', message: e.message }));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          let json: { url?: unknown; error?: { code?: string; message?: string } } = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // handled below
          }
          if (status === 201 && typeof json.url === 'string') {
            settled = true;
            progress(ciphertext.length);
            resolve({ url: json.url });
          } else {
            fail({ status, code: json.error?.code ?? 'internal', message: json.error?.message ?? `HTTP ${status}` });
            req.destroy(); // the body was never (or not wholly) sent: this connection is done
          }
        });
      });
      req.setTimeout(60_000, () => {
        req.destroy();
        fail({ status: 0, code: 'unreachable', message: 'no answer within 60 s' });
      });
      // Once the provider has answered, its answer says what happened (a write cut off after a
      // refusal is not the story).
      req.on('error', (e) => {
        if (!answered) fail({ status: 0, code: 'unreachable', message: e.message });
      });
      // Written in chunks, each after the last drained, so progress follows what left this process.
      let offset = 0;
      const writeMore = () => {
        while (offset < ciphertext.length) {
          if (answered || settled) return;
          const end = Math.min(offset + CHUNK, ciphertext.length);
          const ok = req.write(ciphertext.subarray(offset, end));
          offset = end;
          progress(offset);
          if (!ok) {
            req.once('drain', writeMore);
            return;
          }
        }
        req.end();
      };
      req.once('continue', writeMore);
    });
  }

  private download(roomUri: string, assetUrl: string, expected: number, progress: (done: number) => void): Promise<Uint8Array> {
    const url = new URL(`${this.transport.baseUrl}/v1/rooms/${encodeURIComponent(roomUri)}/asset`);
    url.searchParams.set('url', assetUrl);
    const headers = { ...this.headers(), accept: 'application/octet-stream' };
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: HttpFailure) => {
        if (settled) return;
        settled = true;
        reject(toCore(e, 'download'));
      };
      const req = https.request(url, { method: 'GET', headers, agent: this.agent }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          // The message says how large the file is: anything beyond it is not that file.
          if (status === 200 && size > expected) {
            req.destroy();
            fail({ status, code: 'internal', message: `the provider sent more than the ${expected} bytes the message announced` });
            return;
          }
          if (status !== 200 && size > 64 * 1024) {
            req.destroy();
            return;
          }
          chunks.push(c);
          if (status === 200) progress(size);
        });
        res.on('error', (e) => fail({ status: 0, code: 'unreachable', message: e.message }));
        res.on('aborted', () => fail({ status: 0, code: 'unreachable', message: 'the download was cut off' }));
        res.on('end', () => {
          if (settled) return;
          const body = Buffer.concat(chunks);
          if (status === 200) {
            if (body.length !== expected) {
              fail({ status: 0, code: 'unreachable', message: `the download ended after ${body.length} of ${expected} bytes` });
              return;
            }
            settled = true;
            resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
            return;
          }
          let err: { code?: string; message?: string } | undefined;
          try {
            err = (JSON.parse(body.toString('utf8')) as { error?: { code?: string; message?: string } }).error;
          } catch {
            // not JSON
          }
          fail({ status, code: err?.code ?? 'internal', message: err?.message ?? `HTTP ${status}` });
        });
      });
      req.setTimeout(60_000, () => {
        req.destroy();
        fail({ status: 0, code: 'unreachable', message: 'no answer within 60 s' });
      });
      req.on('error', (e) => fail({ status: 0, code: 'unreachable', message: e.message }));
      req.end();
    });
  }
}
