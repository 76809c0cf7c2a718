// A picture or screenshot of the other side's safety number QR code, read in the renderer: the
// image is drawn on a canvas and jsQR finds the code in its pixels. Nothing leaves the window but
// the text the code carries (base64, checked and compared in the core: people.compareSafetyNumberQr).

import jsQR from 'jsqr';

export type DecodedQr = { text: string } | { problem: 'noCode' | 'unreadable' };

/** Large photos are scaled down first: a code fills a good part of the picture, and jsQR's time grows with the pixels. */
const MAX_SIDE = 1600;

export async function decodeQrImage(file: Blob): Promise<DecodedQr> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return { problem: 'unreadable' };
  }
  try {
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) return { problem: 'unreadable' };
    g.drawImage(bitmap, 0, 0, width, height);
    const pixels = g.getImageData(0, 0, width, height);
    const code = jsQR(pixels.data, width, height, { inversionAttempts: 'attemptBoth' });
    return code && code.data ? { text: code.data.trim() } : { problem: 'noCode' };
  } finally {
    bitmap.close();
  }
}
