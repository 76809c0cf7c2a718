// A join link as a QR code, reduced to what an inline SVG needs: its size in modules (quiet zone
// included) and one path that draws every dark module. The renderer's CSP forbids inline styles
// and v-html, so the component builds the <svg> itself from these numbers; kept free of Vue so it
// is unit tested (and decoded) on its own.

import qrcode from 'qrcode-generator';

/** Modules of light margin on each side: the four the QR specification asks for, so phones find it. */
export const QUIET_ZONE = 4;

export interface QrMatrix {
  /** Modules across, without the quiet zone (21 for version 1, then 4 more per version). */
  modules: number;
  /** Modules across with the quiet zone on both sides: the SVG's viewBox width and height. */
  size: number;
  /** The dark modules as one SVG path in module units, offset by the quiet zone. */
  path: string;
  /** Whether the module at (row, col) is dark; outside the code (the quiet zone) it is light. */
  dark(row: number, col: number): boolean;
}

/**
 * `text` as a QR code with error correction M (15% may be damaged: a screen's glare or a
 * smudge). The library's byte mode takes one byte per character, so the text goes in as its
 * UTF-8 bytes: a link is ASCII, but a room name put in one one day need not be.
 */
export function qrMatrix(text: string): QrMatrix {
  const qr = qrcode(0, 'M');
  const bytes = new TextEncoder().encode(text);
  qr.addData(String.fromCharCode(...bytes), 'Byte');
  qr.make();
  const modules = qr.getModuleCount();
  const parts: string[] = [];
  // One rectangle per horizontal run of dark modules: a short path, and no hairline seams
  // between neighbouring squares when the SVG is scaled.
  for (let row = 0; row < modules; row++) {
    let col = 0;
    while (col < modules) {
      if (!qr.isDark(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < modules && qr.isDark(row, col)) col++;
      parts.push(`M${start + QUIET_ZONE} ${row + QUIET_ZONE}h${col - start}v1h-${col - start}z`);
    }
  }
  return {
    modules,
    size: modules + 2 * QUIET_ZONE,
    path: parts.join(''),
    dark: (row, col) => row >= 0 && col >= 0 && row < modules && col < modules && qr.isDark(row, col),
  };
}
