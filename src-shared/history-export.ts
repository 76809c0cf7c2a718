// A room's history as files a person keeps (issue 12 "Export"): JSON for programs, and one HTML
// page to read in any browser, next to an attachments/ folder the caller writes.
//
// The page is static and safe to open: every text is escaped, message Markdown goes through the
// same safe reader as in the app (src-shared/markdown.ts: raw HTML stays text, links only http(s)),
// and a Content-Security-Policy forbids scripts, remote loads and forms, so a hostile message in an
// exported room cannot run or phone home when the export is opened. Pure: the caller does the I/O
// and passes the words of the page in its language.

import { readMessageText, type Block, type Inline } from './markdown.js';

export const EXPORT_FORMAT = 'mimi-room-export';
export const EXPORT_VERSION = 1;

export interface ExportAttachment {
  filename: string;
  contentType: string;
  size: number;
  /** Where the caller saved it, relative to the export's folder (absent: not downloaded). */
  file?: string;
}

export interface ExportItem {
  messageId: string;
  /** User URI (absent for a room event). */
  sender?: string;
  /** The sender's shared display name, when known. */
  senderName?: string;
  /** Hub acceptance time (ms). */
  timestamp: number;
  text: string;
  contentType: string;
  edited?: boolean;
  deleted?: boolean;
  inReplyTo?: string;
  reactions?: { emoji: string; count: number }[];
  /** A room event ("alice added bob"), already in the page's language. */
  event?: string;
  attachment?: ExportAttachment;
}

export interface ExportRoom {
  uri: string;
  name: string;
}

/** The words of the page, in the reader's language (the caller takes them from the catalogue). */
export interface ExportLabels {
  title: string;
  exportedAt: string;
  deleted: string;
  edited: string;
  replyTo: string;
  attachmentMissing: string;
}

export function exportJson(room: ExportRoom, items: ExportItem[], exportedAt: number): string {
  return JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt, room, messages: items }, null, 2) + '\n';
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function inlineHtml(nodes: Inline[]): string {
  return nodes
    .map((n) => {
      switch (n.type) {
        case 'text':
          return escapeHtml(n.text);
        case 'br':
          return '<br>';
        case 'code':
          return `<code>${escapeHtml(n.text)}</code>`;
        case 'em':
        case 'strong':
        case 'del':
          return `<${n.type}>${inlineHtml(n.children)}</${n.type}>`;
        case 'link':
          return `<a href="${escapeHtml(n.href)}" rel="noopener noreferrer nofollow">${inlineHtml(n.children)}</a>`;
      }
    })
    .join('');
}

function blocksHtml(blocks: Block[]): string {
  return blocks
    .map((b) => {
      switch (b.type) {
        case 'p':
          return `<p>${inlineHtml(b.children)}</p>`;
        case 'codeblock':
          return `<pre><code>${escapeHtml(b.text)}</code></pre>`;
        case 'quote':
          return `<blockquote>${blocksHtml(b.children)}</blockquote>`;
        case 'ul':
          return `<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ul>`;
        case 'ol':
          return `<ol start="${b.start}">${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ol>`;
      }
    })
    .join('');
}

/** A relative path inside the export folder, or undefined for anything that could leave it. */
function safeRelative(path: string | undefined): string | undefined {
  if (!path || path.startsWith('/') || path.includes('\\') || path.split('/').some((p) => p === '..' || p === '' || p === '.')) return undefined;
  return path.split('/').map(encodeURIComponent).join('/');
}

function attachmentHtml(a: ExportAttachment, labels: ExportLabels): string {
  const href = safeRelative(a.file);
  if (!href) return `<p class="file">${escapeHtml(a.filename)} (${escapeHtml(labels.attachmentMissing)})</p>`;
  if (/^image\/(png|jpeg|gif|webp)$/i.test(a.contentType)) {
    return `<p class="file"><a href="${href}"><img src="${href}" alt="${escapeHtml(a.filename)}" loading="lazy"></a></p>`;
  }
  return `<p class="file"><a href="${href}" download>${escapeHtml(a.filename)}</a></p>`;
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6e6ea;background:#16161a}a{color:#9ab8ff}}
h1{font-size:1.4rem;margin-bottom:.2rem}.meta{color:#666;font-size:.85rem}
article{margin:.9rem 0;padding:.4rem 0;border-top:1px solid #8884}
header{font-size:.85rem}header strong{margin-right:.5rem}time{color:#777}
.event{color:#777;font-style:italic}.deleted{color:#777}
blockquote{border-left:3px solid #8886;margin:.3rem 0;padding-left:.7rem}
pre{overflow:auto;background:#8881;padding:.5rem}img{max-width:100%;height:auto}
.reactions span{margin-right:.4rem}`;

/** One self-contained page; `locale` formats the times (a BCP 47 tag). */
export function exportHtml(room: ExportRoom, items: ExportItem[], labels: ExportLabels, locale: string, exportedAt: number): string {
  const time = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  const rows = items.map((m) => {
    const when = `<time datetime="${new Date(m.timestamp).toISOString()}">${escapeHtml(time.format(m.timestamp))}</time>`;
    if (m.event !== undefined) return `<article class="event" id="m-${escapeHtml(m.messageId)}"><header>${when}</header><p>${escapeHtml(m.event)}</p></article>`;
    const who = m.senderName ? `<strong title="${escapeHtml(m.sender ?? '')}">${escapeHtml(m.senderName)}</strong>` : `<strong>${escapeHtml(m.sender ?? '')}</strong>`;
    const reply = m.inReplyTo ? `<p class="meta"><a href="#m-${escapeHtml(m.inReplyTo)}">${escapeHtml(labels.replyTo)}</a></p>` : '';
    let body: string;
    if (m.deleted) body = `<p class="deleted">${escapeHtml(labels.deleted)}</p>`;
    else if (m.attachment) body = attachmentHtml(m.attachment, labels);
    else body = blocksHtml(readMessageText(m.text, m.contentType));
    const edited = m.edited && !m.deleted ? ` <span class="meta">(${escapeHtml(labels.edited)})</span>` : '';
    const reactions = m.reactions?.length ? `<p class="reactions">${m.reactions.map((r) => `<span>${escapeHtml(r.emoji)} ${r.count}</span>`).join('')}</p>` : '';
    return `<article id="m-${escapeHtml(m.messageId)}"><header>${who}${when}${edited}</header>${reply}${body}${reactions}</article>`;
  });
  return [
    '<!doctype html>',
    `<html lang="${escapeHtml(locale)}">`,
    '<head>',
    '<meta charset="utf-8">',
    // No scripts, no remote anything: the page shows only itself and the files beside it.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(labels.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(room.name || room.uri)}</h1>`,
    `<p class="meta">${escapeHtml(room.uri)} · ${escapeHtml(labels.exportedAt)} ${escapeHtml(time.format(exportedAt))}</p>`,
    '<main>',
    ...rows,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
