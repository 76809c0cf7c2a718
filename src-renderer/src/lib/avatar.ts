// A picked picture made small: cropped to a square and scaled to at most 96×96, as a PNG data: URL
// (a few KiB, always under the 48 KiB a shared profile allows: src-shared/member-profile.ts), so the
// core can keep it and share it in rooms, and the page shows it without any network request (the
// CSP allows data: images only).

import { t } from '../i18n.js';

export const AVATAR_SIZE = 96;
/** Pictures larger than this are refused before decoding (a phone photo is well under it). */
export const MAX_AVATAR_INPUT_BYTES = 10 * 1024 * 1024;

export async function smallAvatar(file: File): Promise<string> {
  if (!file.type.startsWith('image/')) throw new Error(t('profiles.avatar.notPicture'));
  if (file.size > MAX_AVATAR_INPUT_BYTES) throw new Error(t('profiles.avatar.tooLarge'));
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(t('profiles.avatar.unreadable'));
  }
  const side = Math.min(bitmap.width, bitmap.height);
  const size = Math.min(AVATAR_SIZE, side);
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error(t('profiles.avatar.noCanvas'));
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  bitmap.close();
  return canvas.toDataURL('image/png');
}
