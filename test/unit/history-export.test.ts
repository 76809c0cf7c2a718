// Room export (src-shared/history-export.ts): JSON that reads back; an HTML page that escapes every
// text, renders the app's safe Markdown, keeps attachments inside the export folder and allows no
// script or remote load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPORT_FORMAT, exportHtml, exportJson, type ExportItem } from '../../src-shared/history-export.js';

const room = { uri: 'mimi://a.example/r/lunch', name: 'Lunch <club>' };
const labels = { title: 'Lunch export', exportedAt: 'Exported', deleted: 'Message deleted', edited: 'edited', replyTo: 'In reply to', attachmentMissing: 'not downloaded' };
const items: ExportItem[] = [
  { messageId: 'a1', sender: 'mimi://a.example/u/alice', senderName: 'Alice', timestamp: Date.UTC(2026, 11, 3, 12), text: 'Hello **world** <script>alert(1)</script>', contentType: 'text/markdown;variant=GFM-MIMI' },
  { messageId: 'e1', timestamp: Date.UTC(2026, 11, 3, 12, 1), text: '', contentType: '', event: 'alice added <bob>' },
  { messageId: 'b1', sender: 'mimi://b.example/u/bob', timestamp: Date.UTC(2026, 11, 3, 12, 2), text: 'see [x](javascript:alert(1)) and https://example.org/?a=1&b=2', contentType: 'text/markdown;variant=GFM-MIMI', inReplyTo: 'a1', edited: true, reactions: [{ emoji: '👍', count: 2 }] },
  { messageId: 'b2', sender: 'mimi://b.example/u/bob', timestamp: Date.UTC(2026, 11, 3, 12, 3), text: '', contentType: 'text/plain', deleted: true },
  { messageId: 'c1', sender: 'mimi://b.example/u/bob', timestamp: Date.UTC(2026, 11, 3, 12, 4), text: 'cat.png', contentType: 'image/png', attachment: { filename: 'cat "1".png', contentType: 'image/png', size: 10, file: 'attachments/c1 cat.png' } },
  { messageId: 'c2', sender: 'mimi://b.example/u/bob', timestamp: Date.UTC(2026, 11, 3, 12, 5), text: 'x', contentType: 'application/pdf', attachment: { filename: 'evil.pdf', contentType: 'application/pdf', size: 10, file: '../../etc/passwd' } },
];

test('JSON carries the room and every item, and reads back', () => {
  const parsed = JSON.parse(exportJson(room, items, 1000));
  assert.equal(parsed.format, EXPORT_FORMAT);
  assert.equal(parsed.version, 1);
  assert.deepEqual(parsed.room, room);
  assert.deepEqual(parsed.messages, items);
});

test('HTML escapes every text and renders only the safe Markdown', () => {
  const html = exportHtml(room, items, labels, 'en-GB', Date.UTC(2026, 11, 4));
  assert.ok(!/<script/i.test(html), 'no script element, whatever a message said');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('<strong>world</strong>'));
  assert.ok(html.includes('Lunch &lt;club&gt;'));
  assert.ok(html.includes('alice added &lt;bob&gt;'));
  assert.ok(!html.includes('href="javascript:'), 'javascript: links stay text');
  assert.ok(html.includes('href="https://example.org/?a=1&amp;b=2" rel="noopener noreferrer nofollow"'));
  assert.ok(html.includes('href="#m-a1"'), 'a reply links to what it answers');
  assert.ok(html.includes('Message deleted'));
  assert.ok(html.includes('(edited)'));
  assert.ok(html.includes('👍 2'));
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  assert.ok(html.includes('<html lang="en-GB">'));
});

test('attachments stay inside the export folder; images show, other files download', () => {
  const html = exportHtml(room, items, labels, 'de', 0);
  assert.ok(html.includes('<img src="attachments/c1%20cat.png" alt="cat &quot;1&quot;.png"'));
  assert.ok(!html.includes('etc/passwd'), 'a path out of the folder is never linked');
  assert.ok(html.includes('evil.pdf (not downloaded)'));
  assert.ok(html.includes('<html lang="de">'));
  assert.match(html, /3\.12\.2026|03\.12\.2026/, 'German dates');
});
