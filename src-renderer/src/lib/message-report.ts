// Reporting messages to the room's hub: which timeline rows offer it, which of a sender's messages
// the report dialog lists, and which message ids a selection sends. Kept free of Vue so it is unit
// tested on its own.

import { REPORT_REASONS, type MessageView } from '../../../src-shared/contract.js';
import { buildRows, type TimelineRow } from './timeline-model.js';
import { t } from '../i18n.js';

/** messages.report takes 1 to 16 message ids. */
export const MESSAGE_REPORT_MAX = 16;

/** The catalogue's name for each REPORT_REASONS code (reports.reasons.*). */
const REASON_KEYS: Record<number, string> = { 0: 'none', 0xf1: 'spam', 0xf2: 'harassment', 0xf3: 'hate', 0xf4: 'illegal', 0xf5: 'other' };

/** The reasons as the dialog offers them, in the window's language (the contract's English label for a code the catalogue lacks). */
export function reportReasonOptions(): Array<{ code: number; label: string }> {
  return REPORT_REASONS.map((r) => ({ code: r.code, label: REASON_KEYS[r.code] ? t(`reports.reasons.${REASON_KEYS[r.code]}`) : r.label }));
}

/**
 * Only messages someone else sent and this device received carry the hub's stamp (frank) the
 * report needs; the viewer's own (sent, pending, failed) never do. A deleted message is not
 * offered: the reader could not see what they would be sending.
 */
export function canReportRow(row: TimelineRow, canReportAbuse: boolean): boolean {
  return canReportAbuse && !row.mine && row.message.status === 'received' && !row.deleted;
}

export interface ReportCandidate {
  /** The message as the timeline shows it (its first id): what the checkbox stands for. */
  messageId: string;
  /**
   * What is sent for it: the message, and for an edited one also the edit whose text the reader
   * sees, so the hub gets the stamped text of both.
   */
  ids: string[];
  text: string;
  timestamp: number;
  edited: boolean;
}

/**
 * The messages of `sender` the dialog lists: at most MESSAGE_REPORT_MAX reportable ones around the
 * clicked message (the newest ones when it is the newest), in timeline order. Folded like the
 * timeline (edits into their message), so each entry reads as it does there.
 */
export function reportCandidates(items: readonly MessageView[], selfUri: string, sender: string, clickedId: string, max = MESSAGE_REPORT_MAX): ReportCandidate[] {
  const theirs = buildRows(items, selfUri)
    .filter((r) => r.message.sender === sender && canReportRow(r, true))
    .map(
      (r): ReportCandidate => ({
        messageId: r.message.messageId,
        ids: r.editId ? [r.message.messageId, r.editId] : [r.message.messageId],
        text: r.text,
        timestamp: r.message.timestamp,
        edited: r.edited,
      }),
    );
  if (theirs.length <= max) return theirs;
  const at = Math.max(0, theirs.findIndex((c) => c.messageId === clickedId));
  // Centre the window on the clicked message: what came just before and after is its context.
  const start = Math.min(Math.max(0, at - Math.floor(max / 2)), theirs.length - max);
  return theirs.slice(start, start + max);
}

/** The ids a selection sends, in timeline order, each once. */
export function selectedIds(candidates: readonly ReportCandidate[], selected: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const c of candidates) if (selected.has(c.messageId)) for (const id of c.ids) if (!out.includes(id)) out.push(id);
  return out;
}

/** Whether `messageId` can be added to the selection without going past what one report takes. */
export function canAddToReport(candidates: readonly ReportCandidate[], selected: ReadonlySet<string>, messageId: string): boolean {
  if (selected.has(messageId)) return true;
  const c = candidates.find((x) => x.messageId === messageId);
  if (!c) return false;
  return selectedIds(candidates, selected).length + c.ids.length <= MESSAGE_REPORT_MAX;
}

/** What the dialog says once the hub took the report. */
export function reportDoneText(count: number, who: string): string {
  return t('reports.done', { count, who });
}
