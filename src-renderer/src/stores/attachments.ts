// Attachments in the renderer: sending files (picker, drop, paste) and opening a message's
// attachment, with the progress the core reports ('transfer' events). The bytes are read here only
// to hand them to the core (base64 over the contract); encryption, upload, download, the hash check
// and decryption all happen in the core. Opened attachments come back as data: URLs, kept per
// message while the page lives so a row scrolled out and back in does not fetch again.

import { defineStore } from 'pinia';
import { shallowReactive } from 'vue';
import { MAX_FILE_BYTES, MAX_THUMBNAIL_BYTES, type CoreEvent, type MessageView, type OpenedAttachmentView, type TransferView } from '../../../src-shared/contract.js';
import { api } from '../api.js';
import { roomKey } from '../lib/room-key.js';
import { errorText, formatBytes, t } from '../i18n.js';

export interface Upload {
  id: number;
  filename: string;
  done: number;
  total: number;
  error?: string;
  /** The file again, when a failure may pass on a second try (not for an empty or too large one). */
  retry?: File;
}

function readAsBase64(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => {
      const url = String(r.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    r.onerror = () => reject(new Error(t('attachments.errors.unreadable')));
    r.readAsDataURL(file);
  });
}

/**
 * A small JPEG preview of an image (at most 160 px), sent inside the message so receivers show it
 * before fetching the file; undefined when the browser cannot decode it or it comes out too big.
 */
async function thumbnailOf(file: File): Promise<string | undefined> {
  if (!/^image\/(png|jpeg|gif|webp)$/.test(file.type)) return undefined;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 160 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const url = canvas.toDataURL('image/jpeg', 0.7);
    const b64 = url.slice(url.indexOf(',') + 1);
    return url.startsWith('data:image/jpeg') && (b64.length / 4) * 3 <= MAX_THUMBNAIL_BYTES ? b64 : undefined;
  } catch {
    return undefined; // not an image this browser decodes: sent without a preview
  }
}

export const useAttachmentsStore = defineStore('attachments', () => {
  /** Per room: files being sent (and those that failed, until dismissed). */
  const uploads = shallowReactive(new Map<string, Upload[]>());
  /** Per account+message: opened attachments, downloads in flight and their errors. */
  const opened = shallowReactive(new Map<string, OpenedAttachmentView>());
  const downloads = shallowReactive(new Map<string, { done: number; total: number }>());
  const failures = shallowReactive(new Map<string, string>());
  let seq = 0;
  let subscribed = false;

  const msgKey = (accountId: string, messageId: string) => `${accountId}\n${messageId}`;

  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    api().onEvent((e: CoreEvent) => {
      if (e.type !== 'transfer') return;
      progress(e.accountId, e.transfer);
    });
  }

  function progress(accountId: string, t: TransferView): void {
    if (t.phase === 'download' && t.messageId) {
      const k = msgKey(accountId, t.messageId);
      if (!opened.has(k)) downloads.set(k, { done: t.done, total: t.total });
      return;
    }
    const list = uploads.get(roomKey(accountId, t.roomUri));
    const u = list?.find((x) => x.filename === t.filename && !x.error);
    if (u && list) {
      u.done = t.done;
      u.total = t.total;
      uploads.set(roomKey(accountId, t.roomUri), [...list]);
    }
  }

  function uploadsOf(accountId: string, roomUri: string): Upload[] {
    return uploads.get(roomKey(accountId, roomUri)) ?? [];
  }

  function setUploads(accountId: string, roomUri: string, list: Upload[]): void {
    const key = roomKey(accountId, roomUri);
    if (list.length) uploads.set(key, list);
    else uploads.delete(key);
  }

  function dismiss(accountId: string, roomUri: string, id: number): void {
    setUploads(accountId, roomUri, uploadsOf(accountId, roomUri).filter((u) => u.id !== id));
  }

  /** Sends each file; a failure stays listed (with what to do) until dismissed. */
  async function sendFiles(accountId: string, roomUri: string, files: File[]): Promise<MessageView[]> {
    subscribe();
    const sent: MessageView[] = [];
    for (const file of files) {
      const filename = file.name || `pasted-${new Date().toISOString().replace(/[:.]/g, '-')}.${(file.type.split('/')[1] ?? 'bin').replace(/[^a-z0-9]/g, '') || 'bin'}`;
      const u: Upload = { id: ++seq, filename, done: 0, total: file.size + 16 };
      setUploads(accountId, roomUri, [...uploadsOf(accountId, roomUri), u]);
      const fail = (message: string, retry?: File) => {
        setUploads(accountId, roomUri, uploadsOf(accountId, roomUri).map((x) => (x.id === u.id ? { ...x, error: message, ...(retry ? { retry } : {}) } : x)));
      };
      if (file.size === 0) {
        fail(t('attachments.errors.empty', { name: filename }));
        continue;
      }
      if (file.size > MAX_FILE_BYTES) {
        fail(t('attachments.errors.tooLarge', { name: filename, size: formatBytes(file.size), max: formatBytes(MAX_FILE_BYTES) }));
        continue;
      }
      try {
        const data = await readAsBase64(file);
        const thumbnail = await thumbnailOf(file);
        sent.push(await api().messages.sendFile(accountId, roomUri, { name: filename, type: file.type, data, ...(thumbnail ? { thumbnail } : {}) }));
        dismiss(accountId, roomUri, u.id);
      } catch (e) {
        fail(t('attachments.errors.notSent', { name: filename, error: errorText(e) }), new File([file], filename, { type: file.type }));
      }
    }
    return sent;
  }

  /** Sends a failed file again, in place of its error. */
  async function retry(accountId: string, roomUri: string, id: number): Promise<MessageView[]> {
    const file = uploadsOf(accountId, roomUri).find((u) => u.id === id)?.retry;
    if (!file) return [];
    dismiss(accountId, roomUri, id);
    return sendFiles(accountId, roomUri, [file]);
  }

  function openedOf(accountId: string, messageId: string): OpenedAttachmentView | undefined {
    return opened.get(msgKey(accountId, messageId));
  }
  function downloadOf(accountId: string, messageId: string): { done: number; total: number } | undefined {
    return downloads.get(msgKey(accountId, messageId));
  }
  function failureOf(accountId: string, messageId: string): string | undefined {
    return failures.get(msgKey(accountId, messageId));
  }

  async function open(accountId: string, roomUri: string, messageId: string): Promise<OpenedAttachmentView | undefined> {
    subscribe();
    const k = msgKey(accountId, messageId);
    const hit = opened.get(k);
    if (hit) return hit;
    if (downloads.has(k)) return undefined; // already on its way
    failures.delete(k);
    downloads.set(k, { done: 0, total: 0 });
    try {
      const a = await api().messages.openAttachment(accountId, roomUri, messageId);
      opened.set(k, a);
      return a;
    } catch (e) {
      failures.set(k, errorText(e));
      return undefined;
    } finally {
      downloads.delete(k);
    }
  }

  return { uploadsOf, dismiss, retry, sendFiles, openedOf, downloadOf, failureOf, open, progress };
});
