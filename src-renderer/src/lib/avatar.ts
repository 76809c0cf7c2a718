// A picked picture made small: cropped to a square and scaled to at most 96×96, as a PNG data: URL
// (a few KiB), so it can be kept in this window's storage and shown without any network request
// (the page's CSP allows data: images only).

export const AVATAR_SIZE = 96;
/** Pictures larger than this are refused before decoding (a phone photo is well under it). */
export const MAX_AVATAR_INPUT_BYTES = 10 * 1024 * 1024;

export async function smallAvatar(file: File): Promise<string> {
  if (!file.type.startsWith('image/')) throw new Error('That file is not a picture. Choose a PNG, JPEG, GIF or WebP image.');
  if (file.size > MAX_AVATAR_INPUT_BYTES) throw new Error('That picture is larger than 10 MB. Choose a smaller one.');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('That picture could not be read. Choose another PNG, JPEG, GIF or WebP image.');
  }
  const side = Math.min(bitmap.width, bitmap.height);
  const size = Math.min(AVATAR_SIZE, side);
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This window cannot draw pictures; try again after restarting mimi.');
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  bitmap.close();
  return canvas.toDataURL('image/png');
}
