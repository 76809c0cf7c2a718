// The state of one of the viewer's own messages, as Signal and WhatsApp show it beside the time:
// sending, sent, delivered (to some or all of the others), read (by some or all), not sent. Pure:
// from MessageView.status and .receipts (which the core sets only on own messages, and only while
// this account shares and sees receipts); the words come from the catalogue (message.status).

import type { MessageView } from '../../../src-shared/contract.js';
import { t } from '../i18n.js';

export type ReceiptState = 'pending' | 'failed' | 'sent' | 'deliveredSome' | 'deliveredAll' | 'readSome' | 'readAll';

export function receiptState(m: Pick<MessageView, 'status' | 'receipts'>): ReceiptState {
  if (m.status === 'pending') return 'pending';
  if (m.status === 'failed') return 'failed';
  const r = m.receipts;
  if (!r) return 'sent';
  // `delivered` leaves out those who read it: together they are everyone who has it.
  const read = new Set(r.read).size;
  const got = new Set([...r.delivered, ...r.read]).size;
  // `of` is the room now: someone who left after reading still counts as a reader.
  if (read > 0) return read >= r.of ? 'readAll' : 'readSome';
  if (got > 0) return got >= r.of ? 'deliveredAll' : 'deliveredSome';
  return 'sent';
}

/** At most this many names in "Read by alice, bob and 3 more". */
const NAMED = 3;

/**
 * What the state says in words: short in a conversation of two ("Read"), with who or how many in
 * a room of several ("Read by alice, bob", "Delivered to 3 of 5"). `name` reads a user.
 */
export function receiptText(m: Pick<MessageView, 'status' | 'receipts'>, name: (user: string) => string): string {
  const state = receiptState(m);
  const r = m.receipts;
  const group = !!r && r.of > 1;
  switch (state) {
    case 'pending':
      return t('message.status.pending');
    case 'failed':
      return t('message.status.failed');
    case 'sent':
      return t('message.status.sent');
    case 'deliveredAll':
      return group ? t('message.status.deliveredAll') : t('message.status.delivered');
    case 'deliveredSome':
      return t('message.status.deliveredSome', { count: new Set([...r!.delivered, ...r!.read]).size, of: r!.of });
    case 'readAll':
      return group ? t('message.status.readAll') : t('message.status.read');
    case 'readSome': {
      const readers = [...new Set(r!.read)];
      const names = readers.slice(0, NAMED).map(name).join(', ');
      return readers.length > NAMED ? t('message.status.readByMore', { names, count: readers.length - NAMED }) : t('message.status.readBy', { names });
    }
  }
}
