// The encrypted backup's building blocks (docs/backup.md): the recovery key a person writes down,
// the keys derived from it, and sealed chunks the provider stores without being able to read,
// reorder, swap between backups or cut short unnoticed.
//
// Recovery key: 32 random bytes plus a 2-byte checksum, written in Crockford base32 (no I, L, O,
// U; case and separators ignored; I/L read as 1 and O as 0) in groups of four, so a mistyped
// character is caught before any network request and the key survives being read aloud.
//
// From the key, HKDF-SHA256 derives an AES-256-GCM key and a backup id (the name the provider
// stores it under, which tells it nothing about the key). Each chunk is sealed with a fresh
// 96-bit nonce and authenticated data binding it to its backup, generation, index and whether it
// is the last one; the manifest (chunk list with hashes) is sealed the same way under its own
// index, so a truncated or spliced backup fails to open instead of restoring part of a history.
//
// Pure: no I/O.

import { gcm } from '@noble/ciphers/aes.js';
import { randomBytes } from '@noble/ciphers/utils.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes, toHex, utf8 } from './bytes.js';

export const BACKUP_FORMAT_VERSION = 1;
const RECOVERY_KEY_BYTES = 32;
const CHECKSUM_BYTES = 2;
const NONCE_BYTES = 12;
/** The manifest's index: above any chunk's. */
export const MANIFEST_INDEX = 0xffffffff;
/** A chunk's plaintext at most (the writer cuts the history into chunks of about 1 MiB). */
export const MAX_CHUNK_PLAINTEXT = 8 * 1024 * 1024;

export class BackupFormatError extends Error {
  constructor(
    readonly reason: 'recoveryKeyTypo' | 'recoveryKeyLength' | 'wrongKey' | 'corrupt' | 'tooLarge',
    message: string,
  ) {
    super(message);
    this.name = 'BackupFormatError';
  }
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string, byteLength: number): Uint8Array | null {
  const out = new Uint8Array(byteLength);
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      if (n >= byteLength) return null;
      out[n++] = (buffer >> (bits - 8)) & 0xff;
      bits -= 8;
      buffer &= (1 << bits) - 1;
    }
  }
  // Leftover bits must be the zero padding of the last character.
  if (n !== byteLength || buffer !== 0) return null;
  return out;
}

function checksum(key: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8('mimi recovery key'), key)).slice(0, CHECKSUM_BYTES);
}

export function generateRecoveryKey(): Uint8Array {
  return randomBytes(RECOVERY_KEY_BYTES);
}

/** The key as a person writes it down: 14 groups of 4 characters. */
export function encodeRecoveryKey(key: Uint8Array): string {
  if (key.length !== RECOVERY_KEY_BYTES) throw new BackupFormatError('recoveryKeyLength', `a recovery key is ${RECOVERY_KEY_BYTES} bytes`);
  const text = base32(concatBytes(key, checksum(key)));
  return (text.match(/.{1,4}/g) ?? []).join(' ');
}

const RECOVERY_KEY_CHARS = Math.ceil(((RECOVERY_KEY_BYTES + CHECKSUM_BYTES) * 8) / 5);

/** What a person typed, back to the key; a typo or a wrong length is named, never half-used. */
export function decodeRecoveryKey(typed: string): Uint8Array {
  const text = typed
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  if (text.length !== RECOVERY_KEY_CHARS) {
    throw new BackupFormatError('recoveryKeyLength', `A recovery key has ${RECOVERY_KEY_CHARS} letters and digits; this has ${text.length}. Check that none is missing or extra.`);
  }
  const bytes = unbase32(text, RECOVERY_KEY_BYTES + CHECKSUM_BYTES);
  const key = bytes?.slice(0, RECOVERY_KEY_BYTES);
  if (!bytes || !key || !bytesEqual(bytes.slice(RECOVERY_KEY_BYTES), checksum(key))) {
    throw new BackupFormatError('recoveryKeyTypo', 'This recovery key has a typo: check each group of four against what you wrote down.');
  }
  return key;
}

export interface BackupKeys {
  /** AES-256-GCM key of every chunk. */
  encryption: Uint8Array;
  /** What the provider stores the backup under (hex): derived, so it reveals nothing of the key. */
  backupId: string;
}

export function backupKeys(recoveryKey: Uint8Array): BackupKeys {
  if (recoveryKey.length !== RECOVERY_KEY_BYTES) throw new BackupFormatError('recoveryKeyLength', `a recovery key is ${RECOVERY_KEY_BYTES} bytes`);
  const prk = extract(sha256, recoveryKey, utf8('mimi backup v1'));
  return { encryption: expand(sha256, prk, utf8('chunk key'), 32), backupId: toHex(expand(sha256, prk, utf8('backup id'), 16)) };
}

export interface ChunkPlace {
  /** Raised by each full rewrite of the backup (a restore never mixes chunks of two generations). */
  generation: number;
  /** 0, 1, 2, …; MANIFEST_INDEX for the manifest. */
  index: number;
}

function aad(keys: BackupKeys, place: ChunkPlace): Uint8Array {
  const fixed = new Uint8Array(9);
  const view = new DataView(fixed.buffer);
  view.setUint8(0, BACKUP_FORMAT_VERSION);
  view.setUint32(1, place.generation);
  view.setUint32(5, place.index);
  return concatBytes(utf8('mimi backup chunk'), utf8(keys.backupId), fixed);
}

function checkPlace(place: ChunkPlace): void {
  for (const [k, v] of Object.entries(place)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BackupFormatError('corrupt', `chunk ${k} must be a 32-bit whole number`);
  }
}

/** version (1) ‖ nonce (12) ‖ AES-256-GCM(plaintext) with its tag. */
export function sealChunk(keys: BackupKeys, place: ChunkPlace, plaintext: Uint8Array): Uint8Array {
  checkPlace(place);
  if (plaintext.length > MAX_CHUNK_PLAINTEXT) throw new BackupFormatError('tooLarge', `a backup chunk holds at most ${MAX_CHUNK_PLAINTEXT} bytes`);
  const nonce = randomBytes(NONCE_BYTES);
  return concatBytes(new Uint8Array([BACKUP_FORMAT_VERSION]), nonce, gcm(keys.encryption, nonce, aad(keys, place)).encrypt(plaintext));
}

/** The plaintext, or BackupFormatError('wrongKey' | 'corrupt') — never part of it. */
export function openChunk(keys: BackupKeys, place: ChunkPlace, sealed: Uint8Array): Uint8Array {
  checkPlace(place);
  if (sealed.length < 1 + NONCE_BYTES + 16) throw new BackupFormatError('corrupt', 'The backup is cut short: a chunk is incomplete.');
  if (sealed[0] !== BACKUP_FORMAT_VERSION) throw new BackupFormatError('corrupt', `This backup was made in format ${sealed[0]}, which this version of mimi cannot read; update mimi.`);
  try {
    return gcm(keys.encryption, sealed.slice(1, 1 + NONCE_BYTES), aad(keys, place)).decrypt(sealed.slice(1 + NONCE_BYTES));
  } catch {
    // The manifest is the first thing opened: failing there means the key, later it means damage.
    throw place.index === MANIFEST_INDEX
      ? new BackupFormatError('wrongKey', 'This recovery key does not open the backup: check it, or use the key written down when this backup was made.')
      : new BackupFormatError('corrupt', `The backup is damaged: chunk ${place.index} does not open. Make a new backup from a device that has the history.`);
  }
}

/** The hash the manifest lists for a sealed chunk (checked before opening it). */
export function chunkHash(sealed: Uint8Array): string {
  return toHex(sha256(sealed));
}
