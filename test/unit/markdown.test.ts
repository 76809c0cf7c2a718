// The Markdown reader (src-shared/markdown.ts) and the component that renders its tree
// (components/message/MessageBody.ts), rendered to HTML by Vue's own server renderer so the
// markup a browser would get is checked: the safe subset, and hostile input (raw HTML, script
// URLs, attribute breakouts, deep nesting, huge input) that must come out as text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSSRApp, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { looksLikeMarkdown, plainTextOf, readMarkdown, readPlain, safeHref } from '../../src-shared/markdown.js';
import MessageBody from '../../src-renderer/src/components/message/MessageBody.js';

const MD = 'text/markdown;variant=GFM-MIMI';
const PLAIN = 'text/plain;charset=utf-8';

async function html(text: string, contentType = MD): Promise<string> {
  return (await renderToString(createSSRApp({ render: () => h(MessageBody, { text, contentType }) }))).replace(/<!--\[-->|<!--\]-->/g, '');
}

test('the subset: emphasis, strong, struck, code, code blocks, links, lists, quotes, line breaks', async () => {
  assert.equal(await html('*a* _b_ **c** __d__ ~~e~~ `f <g>`'), '<div class="message-body"><p><em>a</em> <em>b</em> <strong>c</strong> <strong>d</strong> <del>e</del> <code>f &lt;g&gt;</code></p></div>');
  assert.equal(
    await html('see [the docs](https://example.org/d?a=1&b=2) or https://example.org/x.'),
    '<div class="message-body"><p>see <a href="https://example.org/d?a=1&amp;b=2" target="_blank" rel="noopener noreferrer" title="https://example.org/d?a=1&amp;b=2">the docs</a> or <a href="https://example.org/x" target="_blank" rel="noopener noreferrer" title="https://example.org/x">https://example.org/x</a>.</p></div>',
  );
  assert.equal(await html('```\nlet x = <b>1</b>;\n```'), '<div class="message-body"><pre><code>let x = &lt;b&gt;1&lt;/b&gt;;</code></pre></div>');
  assert.equal(await html('> quoted\n> **twice**\n\n- one\n- two\n\n3. three\n4. four'), '<div class="message-body"><blockquote><p>quoted<br><strong>twice</strong></p></blockquote><ul><li>one</li><li>two</li></ul><ol start="3"><li>three</li><li>four</li></ol></div>');
  assert.equal(await html('line one\nline two'), '<div class="message-body"><p>line one<br>line two</p></div>');
  assert.equal(await html('snake_case_name and 2*3*4'), '<div class="message-body"><p>snake_case_name and 2<em>3</em>4</p></div>');
  assert.equal(await html('\\*not em\\*'), '<div class="message-body"><p>*not em*</p></div>');
});

test('plain text: only line breaks and bare http(s) links; its asterisks stay', async () => {
  assert.equal(await html('**not bold** https://example.org <i>', PLAIN), '<div class="message-body"><p>**not bold** <a href="https://example.org/" target="_blank" rel="noopener noreferrer" title="https://example.org/">https://example.org</a> &lt;i&gt;</p></div>');
  assert.deepEqual(readPlain(''), []);
});

test('XSS attempts come out as text: raw HTML, script and data URLs, attribute breakouts', async () => {
  const attacks = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
    '[x](javascript:alert(1))',
    '[x](JAVASCRIPT:alert(1))',
    '[x]( javascript:alert(1) )',
    '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[x](vbscript:msgbox)',
    '[x](file:///etc/passwd)',
    '[x](//evil.example/a)',
    '[x](https://example.org/" onmouseover="alert(1))',
    '<https://example.org/"onmouseover="alert(1)>',
    'https://example.org/"><script>alert(1)</script>',
    '![img](https://example.org/a.png)',
    '[**x**](https://example.org/) [y](https://a.example/[z](javascript:alert(1)))',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload=alert(1)>',
    '`<script>`',
    '```\n</code></pre><script>alert(1)</script>\n```',
  ];
  for (const a of attacks) {
    const out = await html(a);
    assert.doesNotMatch(out, /<(script|img|iframe|svg|style|object|embed)\b/i, a);
    assert.doesNotMatch(out, /<[^>]*\son\w+=/i, a);
    for (const href of out.matchAll(/href="([^"]*)"/g)) assert.match(href[1], /^https?:\/\/[^/]/, `${a} -> ${href[1]}`);
    assert.doesNotMatch(out, /javascript:|data:|vbscript:|file:/i.test(a) ? /href="(javascript|data|vbscript|file):/i : /$^/, a);
  }
  // What was written is still readable, as text.
  assert.match(await html('<script>alert(1)</script>'), /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.equal(await html('[x](javascript:alert(1))'), '<div class="message-body"><p>[x](javascript:alert(1))</p></div>');
  // A link the reader takes apart but whose target is no http(s) URL: its label, never a link.
  assert.equal(await html('[x](javascript:void)'), '<div class="message-body"><p>x</p></div>');
});

test('hostile shapes stay bounded: deep nesting, unclosed markers, long input', () => {
  const deep = '> '.repeat(200) + 'x';
  assert.ok(JSON.stringify(readMarkdown(deep)).length < 10_000);
  const stars = '*'.repeat(5000) + 'a' + '_'.repeat(5000);
  const t0 = Date.now();
  readMarkdown(stars);
  readMarkdown('['.repeat(3000) + '](' + ')'.repeat(3000));
  readMarkdown('**a '.repeat(2000));
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.equal(plainTextOf(readMarkdown('**bold** and [link](https://example.org)')), 'bold and link');
});

test('what is sent as Markdown: syntax of the subset only, not plain text or bare links', () => {
  for (const t of ['**bold**', 'a `code` b', '- item\n- item', '> quote', '[x](https://example.org)', '```\ncode\n```', 'not \\*em\\*']) assert.equal(looksLikeMarkdown(t), true, t);
  for (const t of ['hello', 'see https://example.org/a_b_c', 'snake_case_name', '2 * 3 = 6', 'C:\\path', 'a < b > c', 'lunch at noon?']) assert.equal(looksLikeMarkdown(t), false, t);
  assert.equal(safeHref('https://example.org'), 'https://example.org/');
  assert.equal(safeHref('javascript:alert(1)'), undefined);
});
