// Mapping a request path to a file of the built renderer, shared by the browser bridge (HTTP) and
// Electron's app:// protocol handler. Pure path logic: the callers do the I/O.

import path from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export const mimeTypeFor = (file: string): string => MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';

/**
 * The absolute file a URL pathname names inside `root`, or null when it is malformed or would
 * escape `root` (`..`, encoded slashes, NUL). `/` means index.html.
 */
export function resolveRendererFile(root: string, pathname: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  if (rel === '' || rel === '/') rel = '/index.html';
  const base = path.resolve(root);
  const file = path.resolve(base, '.' + rel);
  if (!file.startsWith(base + path.sep)) return null;
  return file;
}
