// A room's history as files a person keeps (`mimi export ROOM DIR`): messages.json for programs,
// messages.html to read in any browser (src-shared/history-export.ts makes both, escaped and
// without scripts), and attachments/ with every attachment this device can still fetch and open,
// decrypted. An attachment that cannot be fetched (gone from the provider, the provider down, a
// file that fails its hash) is listed in both files as not downloaded, with nothing saved for it.
//
// The folder must be new or empty, so an export never writes over anything; the two pages are
// written under a temporary name and renamed, so a page that is there is complete.

import fs from 'node:fs';
import path from 'node:path';
import type { MessageView, RoomView } from '../../src-shared/contract.js';
import { exportHtml, exportJson, type ExportItem } from '../../src-shared/history-export.js';
import { translate } from '../../src-shared/i18n/index.js';
import type { Locale } from '../../src-shared/i18n/catalogue.js';
import { safeFilename } from '../../src-shared/attachment.js';
import type { OpenedAttachment } from './attachments.js';
import { coreError } from './errors.js';

export interface ExportSource {
  roomView(roomUri: string): RoomView;
  /** Newest first, strictly before `beforeSeq` (Profile.timeline). */
  timeline(roomUri: string, beforeSeq: number | null, limit: number): MessageView[];
  openAttachment(roomUri: string, messageId: string): Promise<OpenedAttachment>;
}

export interface ExportResult {
  dir: string;
  json: string;
  html: string;
  messages: number;
  attachments: number;
  /** Attachments listed as not downloaded, with why. */
  missing: { messageId: string; filename: string; reason: string }[];
}

const PAGE = 500;

/** The folder made (or found empty) for the export; anything else is refused, nothing written. */
function prepareDir(dir: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        return;
      } catch (err) {
        throw coreError('invalidArgument', 'backup.errors.exportDir', { dir, reason: (err as Error).message });
      }
    }
    throw coreError('invalidArgument', code === 'ENOTDIR' ? 'backup.errors.exportNotDir' : 'backup.errors.exportDir', { dir, reason: (e as Error).message });
  }
  if (entries.length > 0) throw coreError('invalidArgument', 'backup.errors.exportNotEmpty', { dir });
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.partial`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export async function exportRoom(src: ExportSource, roomUri: string, dir: string, locale: Locale = 'en', now = Date.now()): Promise<ExportResult> {
  const room = src.roomView(roomUri);
  prepareDir(dir);
  // The whole timeline, oldest first.
  const views: MessageView[] = [];
  for (let before: number | null = null; ; ) {
    const page = src.timeline(roomUri, before, PAGE);
    views.push(...page);
    if (page.length < PAGE) break;
    before = page[page.length - 1].seq;
  }
  views.reverse();

  const missing: ExportResult['missing'] = [];
  let saved = 0;
  const items: ExportItem[] = [];
  for (const m of views) {
    if (m.event) {
      items.push({ messageId: m.messageId, timestamp: m.timestamp, text: '', contentType: '', event: m.text });
      continue;
    }
    const item: ExportItem = {
      messageId: m.messageId,
      sender: m.sender,
      timestamp: m.timestamp,
      text: m.deleted ? '' : m.text,
      contentType: m.contentType,
      ...(m.edited ? { edited: true } : {}),
      ...(m.deleted ? { deleted: true } : {}),
      ...(m.inReplyTo ? { inReplyTo: m.inReplyTo } : {}),
      ...(m.reactions?.length ? { reactions: m.reactions.map((r) => ({ emoji: r.emoji, count: r.count })) } : {}),
    };
    if (m.attachment && !m.deleted) {
      const a = { filename: m.attachment.filename, contentType: m.attachment.contentType, size: m.attachment.size };
      try {
        const file = await src.openAttachment(roomUri, m.messageId);
        // The message id keeps two files of the same name apart; the name is the sender's, made safe.
        const rel = `attachments/${m.messageId.slice(0, 12)} ${safeFilename(file.filename || a.filename)}`;
        fs.mkdirSync(path.join(dir, 'attachments'), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(dir, rel), file.bytes, { flag: 'wx', mode: 0o600 });
        item.attachment = { ...a, file: rel };
        saved++;
      } catch (e) {
        item.attachment = a;
        missing.push({ messageId: m.messageId, filename: a.filename, reason: (e as Error).message });
      }
    }
    items.push(item);
  }

  const exportRoomInfo = { uri: room.roomUri, name: room.name };
  const labels = {
    title: translate('backup.export.title', { room: room.name || room.roomUri }, locale),
    exportedAt: translate('backup.export.exportedAt', {}, locale),
    deleted: translate('backup.export.deleted', {}, locale),
    edited: translate('backup.export.edited', {}, locale),
    replyTo: translate('backup.export.replyTo', {}, locale),
    attachmentMissing: translate('backup.export.attachmentMissing', {}, locale),
  };
  const json = path.join(dir, 'messages.json');
  const html = path.join(dir, 'messages.html');
  writeAtomically(json, exportJson(exportRoomInfo, items, now));
  writeAtomically(html, exportHtml(exportRoomInfo, items, labels, locale, now));
  return { dir, json, html, messages: items.filter((i) => i.event === undefined).length, attachments: saved, missing };
}
