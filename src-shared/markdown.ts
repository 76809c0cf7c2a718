// A small Markdown reader for message text (content type text/markdown;variant=GFM-MIMI, draft-
// ietf-mimi-content-08): a safe subset only, read into a tree the renderer turns into Vue nodes
// (components/message/MessageBody.ts), so no text is ever parsed as HTML:
//   blocks:  paragraphs (line breaks kept), ``` code blocks, > quotes, - / * / 1. lists
//   inline:  *em* _em_, **strong** __strong__, ~~struck~~, `code`, [label](http(s) URL), bare
//            http(s) URLs and <http(s) URL>, backslash escapes
// Raw HTML is text: `<b>` reads as the four characters. Links are only ever http: or https: with a
// host (javascript:, data:, file: ... stay text). Plain text (text/plain) gets only line breaks and
// bare links (readPlain). Depth and sizes are bounded, so hostile input costs linear time.

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'br' }
  | { type: 'code'; text: string }
  | { type: 'em' | 'strong' | 'del'; children: Inline[] }
  /** `auto`: a bare URL, not Markdown syntax (it does not make a message Markdown). */
  | { type: 'link'; href: string; children: Inline[]; auto?: boolean };

export type Block =
  | { type: 'p'; children: Inline[] }
  | { type: 'codeblock'; text: string }
  | { type: 'quote'; children: Block[] }
  | { type: 'ul'; items: Inline[][] }
  | { type: 'ol'; start: number; items: Inline[][] };

const MAX_QUOTE_DEPTH = 4;
const MAX_INLINE_DEPTH = 6;

/** `url` as a link target when it is an absolute http(s) URL with a host, else undefined. */
export function safeHref(url: string): string | undefined {
  const t = url.trim();
  if (!/^https?:\/\//i.test(t)) return undefined;
  try {
    const u = new URL(t);
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) return undefined;
    return u.href;
  } catch {
    return undefined;
  }
}

// ---- inline ----

const ESCAPABLE = '\\`*_{}[]()#+-.!~<>|';
const URL_RE = /https?:\/\/[^\s<>"]+/iy;

/** A bare URL ends before trailing punctuation, and before a ")" it did not open. */
function trimUrl(raw: string): string {
  let u = raw.replace(/[.,;:!?'"*_~]+$/, '');
  while (u.endsWith(')') && (u.match(/\(/g)?.length ?? 0) < (u.match(/\)/g)?.length ?? 0)) u = u.slice(0, -1).replace(/[.,;:!?'"*_~]+$/, '');
  return u;
}

function pushText(out: Inline[], text: string): void {
  const last = out[out.length - 1];
  if (last?.type === 'text') last.text += text;
  else if (text) out.push({ type: 'text', text });
}

function readInline(src: string, markdown: boolean, depth = 0): Inline[] {
  const out: Inline[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      out.push({ type: 'br' });
      i++;
      continue;
    }
    if ((c === 'h' || c === 'H') && (i === 0 || !/[\p{L}\p{N}]/u.test(src[i - 1]))) {
      URL_RE.lastIndex = i;
      const m = URL_RE.exec(src);
      const href = m ? safeHref(trimUrl(m[0])) : undefined;
      if (m && href) {
        const text = trimUrl(m[0]);
        out.push({ type: 'link', href, children: [{ type: 'text', text }], auto: true });
        i += text.length;
        continue;
      }
    }
    if (markdown) {
      if (c === '\\' && i + 1 < src.length && ESCAPABLE.includes(src[i + 1])) {
        pushText(out, src[i + 1]);
        i += 2;
        continue;
      }
      if (c === '`') {
        const run = /^`+/.exec(src.slice(i))![0];
        const end = src.indexOf(run, i + run.length);
        if (end > i) {
          out.push({ type: 'code', text: src.slice(i + run.length, end).replace(/\n/g, ' ') });
          i = end + run.length;
          continue;
        }
        pushText(out, run);
        i += run.length;
        continue;
      }
      if (c === '<') {
        const m = /^<(https?:\/\/[^\s<>]+)>/i.exec(src.slice(i));
        const href = m && safeHref(m[1]);
        if (m && href) {
          out.push({ type: 'link', href, children: [{ type: 'text', text: m[1] }] });
          i += m[0].length;
          continue;
        }
      }
      if (c === '[' && depth < MAX_INLINE_DEPTH) {
        const link = readLink(src, i);
        if (link) {
          const href = safeHref(link.url);
          if (href) out.push({ type: 'link', href, children: readInline(link.label, true, depth + 1).filter((n) => n.type !== 'link') });
          // Not an http(s) link: the label reads as text, the target is dropped (never a link).
          else out.push(...readInline(link.label, true, depth + 1));
          i = link.end;
          continue;
        }
      }
      if ((c === '*' || c === '_' || c === '~') && depth < MAX_INLINE_DEPTH) {
        const span = readEmphasis(src, i);
        if (span) {
          out.push({ type: span.type, children: readInline(span.inner, true, depth + 1) });
          i = span.end;
          continue;
        }
      }
    }
    pushText(out, c);
    i++;
  }
  return out;
}

/** `[label](url)` at `i`: the label (brackets may nest once), the URL, and where it ends. */
function readLink(src: string, i: number): { label: string; url: string; end: number } | undefined {
  let level = 0;
  let j = i;
  for (; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === '[') level++;
    else if (src[j] === ']' && --level === 0) break;
    else if (src[j] === '\n' && src[j + 1] === '\n') return undefined;
  }
  if (j >= src.length || src[j + 1] !== '(') return undefined;
  const m = /^\(\s*<?([^\s()<>]*)>?(?:\s+"[^"]*")?\s*\)/.exec(src.slice(j + 1));
  if (!m) return undefined;
  return { label: src.slice(i + 1, j), url: m[1], end: j + 1 + m[0].length };
}

/** An emphasis span opening at `i` (`**`, `__`, `~~`, `*`, `_`) with a matching closer. */
function readEmphasis(src: string, i: number): { type: 'em' | 'strong' | 'del'; inner: string; end: number } | undefined {
  const c = src[i];
  const double = src[i + 1] === c;
  if (c === '~' && !double) return undefined;
  const marker = double ? c + c : c;
  const after = src[i + marker.length];
  // An opener is followed by non-space; `_` inside a word (snake_case) is no emphasis.
  if (after === undefined || /\s/.test(after) || after === c) return undefined;
  if (c === '_' && i > 0 && /[\p{L}\p{N}]/u.test(src[i - 1])) return undefined;
  let from = i + marker.length;
  for (;;) {
    const close = src.indexOf(marker, from);
    if (close < 0) return undefined;
    const before = src[close - 1];
    const next = src[close + marker.length];
    const blankLine = src.slice(i, close).includes('\n\n');
    if (blankLine) return undefined;
    const closesHere = !/\s/.test(before) && before !== '\\' && (marker.length === 2 || next !== c) && !(c === '_' && next !== undefined && /[\p{L}\p{N}]/u.test(next));
    if (closesHere && close > i + marker.length) {
      return { type: c === '~' ? 'del' : double ? 'strong' : 'em', inner: src.slice(i + marker.length, close), end: close + marker.length };
    }
    from = close + 1;
  }
}

// ---- blocks ----

const FENCE = /^ {0,3}(```+|~~~+)/;
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;

function readBlocks(lines: string[], depth: number): Block[] {
  const blocks: Block[] = [];
  let para: string[] = [];
  const endPara = (): void => {
    if (para.length) blocks.push({ type: 'p', children: readInline(para.join('\n'), true) });
    para = [];
  };
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      endPara();
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      i++; // the closing fence (or the end of the text)
      blocks.push({ type: 'codeblock', text: body.join('\n') });
      continue;
    }
    if (line.trim() === '') {
      endPara();
      i++;
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_QUOTE_DEPTH) {
      endPara();
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) inner.push(QUOTE.exec(lines[i++])![1]);
      blocks.push({ type: 'quote', children: readBlocks(inner, depth + 1) });
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = ORDERED.exec(line);
    // A "-" line right after paragraph text is still a list (messages are written that way).
    if (bullet || ordered) {
      endPara();
      const re = bullet ? BULLET : ORDERED;
      const items: string[][] = [];
      while (i < lines.length) {
        const m = re.exec(lines[i]);
        if (m) items.push([bullet ? m[1] : m[2]]);
        else if (/^\s{2,}\S/.test(lines[i]) && items.length) items[items.length - 1].push(lines[i].trim());
        else break;
        i++;
      }
      const inlines = items.map((it) => readInline(it.join('\n'), true));
      blocks.push(bullet ? { type: 'ul', items: inlines } : { type: 'ol', start: Number(ordered![1]), items: inlines });
      continue;
    }
    para.push(line);
    i++;
  }
  endPara();
  return blocks;
}

/** Markdown text (GFM-MIMI) as blocks of the safe subset. */
export function readMarkdown(text: string): Block[] {
  return readBlocks(text.replace(/\r\n?/g, '\n').split('\n'), 0);
}

/** Plain text: one paragraph with its line breaks, and bare http(s) URLs as links. */
export function readPlain(text: string): Block[] {
  const t = text.replace(/\r\n?/g, '\n');
  return t === '' ? [] : [{ type: 'p', children: readInline(t, false) }];
}

/** Blocks for a message's text by its content type (Markdown for text/markdown, else plain). */
export function readMessageText(text: string, contentType: string): Block[] {
  return /^text\/markdown/i.test(contentType.trim()) ? readMarkdown(text) : readPlain(text);
}

function inlineHasSyntax(nodes: Inline[]): boolean {
  return nodes.some((n) => (n.type === 'link' ? !n.auto : n.type !== 'text' && n.type !== 'br'));
}

/**
 * Whether `text` uses Markdown this reader knows (so the app sends it as text/markdown): anything
 * beyond paragraphs of text, line breaks and bare URLs, and only when escaping it changes nothing
 * a plain reader would miss. Plain text stays text/plain for every other client.
 */
export function looksLikeMarkdown(text: string): boolean {
  const blocks = readMarkdown(text);
  return blocks.some((b) => b.type !== 'p' || inlineHasSyntax(b.children)) || /\\[\\`*_{}[\]()#+\-.!~<>|]/.test(text);
}

/** The text a reader sees, without the syntax (for previews, quotes and screen readers). */
export function plainTextOf(blocks: Block[]): string {
  const inl = (ns: Inline[]): string => ns.map((n) => (n.type === 'text' || n.type === 'code' ? n.text : n.type === 'br' ? ' ' : inl(n.children))).join('');
  return blocks
    .map((b) => (b.type === 'p' ? inl(b.children) : b.type === 'codeblock' ? b.text : b.type === 'quote' ? plainTextOf(b.children) : b.items.map(inl).join(' ')))
    .join(' ')
    .trim();
}
