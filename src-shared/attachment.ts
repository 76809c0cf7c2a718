// Attachments in MIMI content (draft-ietf-mimi-content-08 ExternalPart): encrypting a file before
// upload, the ExternalPart that carries what a receiver needs to fetch and open it, and the checks a
// receiver makes before it trusts one. Pure logic (WebCrypto only; no network, no files), so the
// same code runs in the core, the CLI and the tests.
//
// Choices (docs/attachments.md): AES-128-GCM (IANA AEAD 1, the algorithm the draft makes
// mandatory) under a fresh random 16-byte key and 12-byte nonce per file, empty AAD; contentHash is
// SHA-256 (named-information 1) of the bytes AT THE URL, i.e. of the ciphertext, as the draft's
// CDDL comment says ("hash of the content at the target url"), so a download is checked before it is
// decrypted. The key never leaves the MLS-encrypted message.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual } from './bytes.js';
import { ContentError, Disposition, textMessage, type ExternalPart, type MimiContent, type NestedPart, type SinglePart } from './content.js';

export const AEAD_AES_128_GCM = 1;
export const HASH_SHA256 = 1;
export const KEY_BYTES = 16;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** What a client accepts to send or open, whatever a provider would take (the provider's own limit may be lower). */
export const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024 - TAG_BYTES;

export class AttachmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttachmentError';
  }
}

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

const asBuffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

export interface SealedFile {
  ciphertext: Uint8Array;
  key: Uint8Array;
  nonce: Uint8Array;
  /** SHA-256 of the ciphertext. */
  hash: Uint8Array;
}

/** Encrypts `plaintext` under a fresh key and nonce. */
export async function sealFile(plaintext: Uint8Array, fixed?: { key: Uint8Array; nonce: Uint8Array }): Promise<SealedFile> {
  const key = fixed?.key ?? random(KEY_BYTES);
  const nonce = fixed?.nonce ?? random(NONCE_BYTES);
  const k = await crypto.subtle.importKey('raw', asBuffer(key), { name: 'AES-GCM' }, false, ['encrypt']);
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: asBuffer(nonce), tagLength: 128 }, k, asBuffer(plaintext)));
  return { ciphertext, key, nonce, hash: sha256(ciphertext) };
}

/** Checks the hash and opens the ciphertext of `part`; throws AttachmentError saying which check failed. */
export async function openFile(part: ExternalPart, ciphertext: Uint8Array): Promise<Uint8Array> {
  checkExternalPart(part);
  if (part.contentHash.length > 0 && !bytesEqual(sha256(ciphertext), part.contentHash)) {
    throw new AttachmentError('the downloaded file does not match the hash in the message (damaged or replaced on the way): try downloading it again');
  }
  const k = await crypto.subtle.importKey('raw', asBuffer(part.key), { name: 'AES-GCM' }, false, ['decrypt']);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: asBuffer(part.nonce), tagLength: 128, additionalData: asBuffer(part.aad) }, k, asBuffer(ciphertext)));
  } catch {
    throw new AttachmentError('the file could not be decrypted with the key in the message (damaged or replaced on the way)');
  }
  if (part.size !== 0 && plain.length !== part.size) {
    throw new AttachmentError(`the file has ${plain.length} bytes, the message said ${part.size}`);
  }
  return plain;
}

/** Whether we can open `part`: AES-128-GCM with a key and nonce of the right size, SHA-256 or no hash, an https URL. */
export function checkExternalPart(part: ExternalPart): void {
  if (part.encAlg !== AEAD_AES_128_GCM) throw new AttachmentError(`the attachment is encrypted with AEAD algorithm ${part.encAlg}, which this app cannot open (it opens AES-128-GCM)`);
  if (part.key.length !== KEY_BYTES || part.nonce.length !== NONCE_BYTES) throw new AttachmentError('the attachment\'s key or nonce has the wrong length for AES-128-GCM');
  if (part.hashAlg !== HASH_SHA256 && !(part.hashAlg === 0 && part.contentHash.length === 0)) throw new AttachmentError(`the attachment's hash algorithm ${part.hashAlg} is not supported (SHA-256 is)`);
  if (part.hashAlg === HASH_SHA256 && part.contentHash.length !== 32) throw new AttachmentError('the attachment\'s SHA-256 hash has the wrong length');
  let u: URL;
  try {
    u = new URL(part.url);
  } catch {
    throw new AttachmentError('the attachment\'s address is not a URL');
  }
  if (u.protocol !== 'https:') throw new AttachmentError('the attachment\'s address is not an https URL');
  if (part.size > MAX_ATTACHMENT_BYTES) throw new AttachmentError(`the attachment is larger (${part.size} bytes) than this app opens (${MAX_ATTACHMENT_BYTES})`);
}

/** A media type we put into a message: type/subtype[;params] in the RFC 6838 character set, else octet-stream. */
export function safeContentType(t: string): string {
  const v = t.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(;.*)?$/.test(v) && v.length <= 255 ? v : 'application/octet-stream';
}

/** Only the last path component, without control characters: a received name is never a path. */
export function safeFilename(name: string): string {
  const last = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = last.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return clean === '' || clean === '.' || clean === '..' ? 'attachment' : clean.slice(0, 255);
}

/** A guess at the media type from a file name, for files given by path (CLI, picker without a type). */
export function contentTypeFromName(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  const map: Record<string, string> = {
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    gif: 'image/gif',
    webp: 'image/webp',
    txt: 'text/plain',
    pdf: 'application/pdf',
    mp4: 'video/mp4',
    mp3: 'audio/mpeg',
    zip: 'application/zip',
    json: 'application/json',
  };
  return map[ext] ?? 'application/octet-stream';
}

/** Images the app previews (decoded by the renderer from a data: URL; never SVG, which is a document). */
export function isPreviewableImage(contentType: string): boolean {
  return ['image/png', 'image/jpeg', 'image/gif', 'image/webp'].includes(contentType.split(';')[0].trim().toLowerCase());
}

/** The ExternalPart of an uploaded, sealed file. */
export function externalPart(o: { url: string; sealed: SealedFile; size: number; contentType: string; filename: string; description?: string }): ExternalPart {
  return {
    disposition: Disposition.attachment,
    language: '',
    cardinality: 2,
    contentType: safeContentType(o.contentType),
    url: o.url,
    expires: 0,
    size: o.size,
    encAlg: AEAD_AES_128_GCM,
    key: o.sealed.key,
    nonce: o.sealed.nonce,
    aad: new Uint8Array(0),
    hashAlg: HASH_SHA256,
    contentHash: o.sealed.hash,
    description: o.description ?? '',
    filename: safeFilename(o.filename),
  };
}

/** The largest sender-made preview we put in or take from a message (messages are at most 64 KiB). */
export const MAX_PREVIEW_BYTES = 16 * 1024;

/** The media type of a preview image by its first bytes (PNG or JPEG only), or null. */
export function previewType(b: Uint8Array): string | null {
  if (b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  return null;
}

/**
 * A message whose body is the attachment alone (as the draft's attachment example), or, with a
 * sender-made preview, a processAll multipart of the ExternalPart and the preview image inline
 * (disposition preview), so receivers show the preview before fetching anything.
 */
export function attachmentMessage(o: { senderUri: string; roomUri: string; part: ExternalPart; salt?: Uint8Array; preview?: Uint8Array }): MimiContent {
  const envelope = textMessage({ senderUri: o.senderUri, roomUri: o.roomUri, salt: o.salt, text: '' });
  const type = o.preview ? previewType(o.preview) : null;
  if (!o.preview || !type || o.preview.length > MAX_PREVIEW_BYTES) return { ...envelope, body: o.part };
  const preview: SinglePart = { disposition: Disposition.preview, language: '', cardinality: 1, contentType: type, content: o.preview };
  return { ...envelope, body: { disposition: Disposition.attachment, language: '', cardinality: 3, partSemantics: 2, parts: [o.part, preview] } };
}

/** The first part, depth first, for which `pick` has something (a leaf's answer ends the search). */
function firstPart<T>(c: MimiContent, pick: (p: Exclude<NestedPart, { cardinality: 3 }>) => T | null): T | null {
  const visit = (p: NestedPart): T | null => {
    if (p.cardinality !== 3) return pick(p);
    for (const q of p.parts) {
      const hit = visit(q);
      if (hit) return hit;
    }
    return null;
  };
  return visit(c.body);
}

/** The sender's preview image of a message (an inline PNG or JPEG part with disposition preview, checked by its bytes), or null. */
export function findPreview(c: MimiContent): { contentType: string; bytes: Uint8Array } | null {
  return firstPart(c, (p) => {
    if (p.cardinality !== 1 || p.disposition !== Disposition.preview || p.content.length > MAX_PREVIEW_BYTES) return null;
    const type = previewType(p.content);
    return type ? { contentType: type, bytes: p.content } : null;
  });
}

/** The attachment of a message (the first ExternalPart, depth first, not a session link), or null. */
export function findAttachment(c: MimiContent): ExternalPart | null {
  return firstPart(c, (p) => (p.cardinality === 2 && p.disposition !== Disposition.session ? p : null));
}

export { ContentError };
