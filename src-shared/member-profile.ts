// A member's profile as they share it inside a room (docs/decisions.md "Profiles in rooms"): a
// mimi-content message whose body is one part of media type PROFILE_MEDIA_TYPE, its content the
// deterministic CBOR map
//
//   { ? "name": tstr,     ; display name: 1..100 characters, trimmed, no control characters
//     ? "avatar": bstr,   ; a PNG of at most 96×96 pixels and 48 KiB
//     "updated": uint }   ; when the person last changed it (ms since 1970; 0: never on this device)
//
// Neither name nor avatar: the profile is cleared. Keys other than these are ignored (a later
// version may add optional ones); a known key with a wrong value makes the whole profile invalid.
// Pure: used by the core to build, check and store profiles, and by the CLI to check a picture.

import { CborError, decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import type { MimiContent } from './content.js';
import { findPart, singlePartContent } from './content-parts.js';

export const PROFILE_MEDIA_TYPE = 'application/vnd.mimi-desktop.profile+cbor';
export const MAX_DISPLAY_NAME = 100;
export const MAX_AVATAR_BYTES = 48 * 1024;
export const MAX_AVATAR_SIDE = 96;
/** Anything bigger cannot be a valid profile (name + picture + keys): refused before decoding. */
export const MAX_PROFILE_BYTES = MAX_AVATAR_BYTES + 1024;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const DATA_URL_PREFIX = 'data:image/png;base64,';

export interface MemberProfile {
  displayName?: string;
  /** PNG bytes. */
  avatar?: Uint8Array;
  updated: number;
}

/** Why a profile (or a part of one) is refused; `key` names the catalogue's sentence (profiles.errors). */
export class ProfileError extends Error {
  constructor(
    readonly key: string,
    message: string,
    readonly params: Record<string, string | number> = {},
  ) {
    super(message);
    this.name = 'ProfileError';
  }
}

// C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides and
// isolates: a name with them could break lines or reorder the text shown around it.
const FORBIDDEN_IN_NAME = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** The problem with a display name, or undefined when it may be shared. */
export function displayNameProblem(name: string): ProfileError | undefined {
  if (name.trim() === '') return new ProfileError('profiles.errors.nameEmpty', 'A display name cannot be empty; type one or remove it.');
  if (FORBIDDEN_IN_NAME.test(name)) return new ProfileError('profiles.errors.nameControl', 'A display name cannot contain control characters such as line breaks or tabs; remove them.');
  if (name !== name.trim()) return new ProfileError('profiles.errors.nameSpaces', 'A display name cannot start or end with a space.');
  if ([...name].length > MAX_DISPLAY_NAME) return new ProfileError('profiles.errors.nameTooLong', `A display name has at most ${MAX_DISPLAY_NAME} characters; shorten it.`, { max: MAX_DISPLAY_NAME });
  return undefined;
}

/** The problem with a picture, or undefined when it is a PNG the app shares (checked without decoding it). */
export function avatarProblem(png: Uint8Array): ProfileError | undefined {
  if (png.length > MAX_AVATAR_BYTES) return new ProfileError('profiles.errors.avatarTooBig', `The picture is larger than ${MAX_AVATAR_BYTES / 1024} KiB; choose a smaller one.`, { kib: MAX_AVATAR_BYTES / 1024 });
  // The signature, then IHDR as the first chunk: length 13, type, width, height (big-endian).
  const isPng = png.length >= 33 && PNG_SIGNATURE.every((b, i) => png[i] === b) && readU32(png, 8) === 13 && String.fromCharCode(...png.subarray(12, 16)) === 'IHDR';
  if (!isPng) return new ProfileError('profiles.errors.avatarNotPng', 'The picture is not a PNG image; choose a PNG file.');
  const w = readU32(png, 16);
  const h = readU32(png, 20);
  if (w < 1 || h < 1 || w > MAX_AVATAR_SIDE || h > MAX_AVATAR_SIDE) {
    return new ProfileError('profiles.errors.avatarTooLarge', `The picture is ${w}×${h} pixels; it may be at most ${MAX_AVATAR_SIDE}×${MAX_AVATAR_SIDE}. Scale it down first.`, { width: w, height: h, max: MAX_AVATAR_SIDE });
  }
  return undefined;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

export function isEmptyProfile(p: MemberProfile): boolean {
  return p.displayName === undefined && p.avatar === undefined;
}

export function encodeMemberProfile(p: MemberProfile): Uint8Array {
  checkProfile(p);
  const m = new Map<CborValue, CborValue>();
  if (p.displayName !== undefined) m.set('name', p.displayName);
  if (p.avatar !== undefined) m.set('avatar', p.avatar);
  m.set('updated', p.updated);
  return encodeCbor(m);
}

/** A received profile, strictly checked (ProfileError when anything is wrong with it). */
export function decodeMemberProfile(bytes: Uint8Array): MemberProfile {
  if (bytes.length > MAX_PROFILE_BYTES) throw new ProfileError('profiles.errors.malformed', 'malformed profile: too large');
  let v: CborValue;
  try {
    v = decodeCbor(bytes);
  } catch (e) {
    if (e instanceof CborError) throw new ProfileError('profiles.errors.malformed', `malformed profile: ${e.message}`);
    throw e;
  }
  if (!(v instanceof Map)) throw new ProfileError('profiles.errors.malformed', 'malformed profile: not a map');
  const name = v.get('name');
  const avatar = v.get('avatar');
  const updated = v.get('updated');
  if (name !== undefined && typeof name !== 'string') throw new ProfileError('profiles.errors.malformed', 'malformed profile: name is not text');
  if (avatar !== undefined && !(avatar instanceof Uint8Array)) throw new ProfileError('profiles.errors.malformed', 'malformed profile: avatar is not bytes');
  if (typeof updated !== 'number' || !Number.isSafeInteger(updated) || updated < 0) throw new ProfileError('profiles.errors.malformed', 'malformed profile: updated is not a time');
  const p: MemberProfile = { ...(name !== undefined ? { displayName: name } : {}), ...(avatar !== undefined ? { avatar } : {}), updated };
  checkProfile(p);
  return p;
}

function checkProfile(p: MemberProfile): void {
  const problem = (p.displayName !== undefined ? displayNameProblem(p.displayName) : undefined) ?? (p.avatar !== undefined ? avatarProblem(p.avatar) : undefined);
  if (problem) throw problem;
}

export function profileContent(o: { senderUri: string; roomUri: string; profile: MemberProfile }): MimiContent {
  return singlePartContent({ senderUri: o.senderUri, roomUri: o.roomUri, contentType: PROFILE_MEDIA_TYPE, content: encodeMemberProfile(o.profile) });
}

/** Whether a message is a profile message at all (it may still be malformed). */
export function hasProfilePart(content: MimiContent): boolean {
  return findPart(content, PROFILE_MEDIA_TYPE) !== undefined;
}

/** The profile a message carries, if any (ProfileError if it is malformed). */
export function findMemberProfile(content: MimiContent): MemberProfile | undefined {
  const part = findPart(content, PROFILE_MEDIA_TYPE);
  return part === undefined ? undefined : decodeMemberProfile(part);
}

export function pngDataUrl(png: Uint8Array): string {
  let bin = '';
  for (const b of png) bin += String.fromCharCode(b);
  return DATA_URL_PREFIX + btoa(bin);
}

/** The PNG bytes of a data:image/png;base64 URL (ProfileError when it is not one). */
export function pngFromDataUrl(url: string): Uint8Array {
  if (!url.startsWith(DATA_URL_PREFIX) || !/^[A-Za-z0-9+/]*={0,2}$/.test(url.slice(DATA_URL_PREFIX.length))) {
    throw new ProfileError('profiles.errors.avatarNotPng', 'The picture is not a PNG image; choose a PNG file.');
  }
  const bin = atob(url.slice(DATA_URL_PREFIX.length));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
