// The operator's moderation queue over the hub's abuse reports (hub/abuse-reports.ts keeps them in
// `abuse_reports`): each report's state (open until the operator acts: actioned or dismissed) and
// the log of what the operator did. Both tables are this module's own, created on open; the
// reports themselves are only read. Used by the provider (admin.ts, on the store's handle) and by
// the command line (admin-cli.ts, on its own handle to the same SQLite file, WAL mode).

import type Database from 'better-sqlite3';
import { decodeAbuseReport } from '../src-shared/mimi-protocol.js';
import { ApiFailure, badRequest } from './errors.js';
import { createModuleTables, isPostgres, type AbuseReportRow } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS admin_report_states (
  report_id INTEGER PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('actioned', 'dismissed')),
  changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_actions (
  id INTEGER PRIMARY KEY,
  who TEXT NOT NULL,
  via TEXT NOT NULL,
  action TEXT NOT NULL,
  report_id INTEGER NOT NULL,
  room_uri TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_actions_report ON admin_actions(report_id, id);
`;

export const REPORT_STATES = ['open', 'actioned', 'dismissed'] as const;
export type ReportState = (typeof REPORT_STATES)[number];
export type ReportFilter = ReportState | 'all';
export type AdminActionKind = 'remove' | 'ban' | 'dismiss';

/** One report as the operator sees it (the JSON of the admin API and of `provider-admin --json`). */
export interface ReportView {
  id: number;
  roomUri: string;
  reporter: string;
  allegedAbuser: string;
  /** The report's uint8 reason code; 0: none given (the draft has no taxonomy yet). */
  reason: number;
  note: string;
  messages: number;
  /** ms since the UNIX epoch. */
  receivedAt: number;
  /** The follower provider that forwarded it; null: a user of this provider. */
  via: string | null;
  state: ReportState;
  stateChangedAt: number | null;
}

export interface AdminActionView {
  id: number;
  who: string;
  /** 'api' (the admin page or API) or 'cli' (provider-admin on the data dir). */
  via: string;
  action: AdminActionKind;
  reportId: number;
  roomUri: string;
  target: string;
  detail: string;
  at: number;
}

/** What the hub knows about the report's room now. */
export interface RoomNow {
  hosted: boolean;
  /** The room's members (devices, client pseudonyms) whose user is the alleged abuser. */
  allegedMembers: string[];
  memberCount: number;
  /** The alleged abuser is banned from the room (in force), or the hub's ban is waiting for a commit. */
  ban: 'banned' | 'pending' | null;
}

export interface ReportDetail extends ReportView {
  /** The reported messages: when the hub accepted them and their size (content not shown; unverified). */
  reportedMessages: { acceptedAt: number; bytes: number }[];
  room: RoomNow;
  actions: AdminActionView[];
}

/** The room lookups the queue needs; the provider answers from its hub, the CLI from the store. */
export interface RoomLookup {
  hosts(roomUri: string): boolean;
  membersOf(roomUri: string): { identity: string; user: string }[];
  banStatus(roomUri: string, user: string): 'banned' | 'pending' | undefined;
}

/** A report as the hub keeps it (store.ts), with the operator's state of it. */
interface ReportRow extends Omit<AbuseReportRow, 'report'> {
  state: ReportState;
  changed_at: number | null;
}

interface ActionRow {
  id: number;
  who: string;
  via: string;
  action: AdminActionKind;
  report_id: number;
  room_uri: string;
  target: string;
  detail: string;
  at: number;
}

const SELECT_REPORT = `SELECT r.id, r.room_uri, r.reporter, r.alleged, r.reason, r.note, r.messages, r.via_domain, r.received_at,
  COALESCE(s.state, 'open') AS state, s.changed_at
  FROM abuse_reports r LEFT JOIN admin_report_states s ON s.report_id = r.id`;

export const MAX_LIST = 1000;

/** A report id from a path or command line: a positive integer, else 400. */
export function parseReportId(raw: string): number {
  if (!/^[1-9]\d{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw badRequest(`report id must be a positive integer, not ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

export function parseFilter(raw: string | null | undefined): ReportFilter {
  if (raw === null || raw === undefined || raw === '') return 'all';
  if (raw === 'all' || (REPORT_STATES as readonly string[]).includes(raw)) return raw as ReportFilter;
  throw badRequest(`state must be one of all, ${REPORT_STATES.join(', ')}; not ${JSON.stringify(raw.slice(0, 40))}`);
}

export class ModerationQueue {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly rooms: RoomLookup,
    private readonly now: () => number = Date.now,
  ) {
    if (!isPostgres(db)) {
      const hasReports = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'abuse_reports'").get();
      if (!hasReports) throw new Error('this database has no abuse_reports table (not a provider database, or one of an older version)');
    }
    createModuleTables(db, SCHEMA);
    this.s = {
      all: db.prepare<[number], ReportRow>(`${SELECT_REPORT} ORDER BY r.id DESC LIMIT ?`),
      byState: db.prepare<[string, number], ReportRow>(`${SELECT_REPORT} WHERE COALESCE(s.state, 'open') = ? ORDER BY r.id DESC LIMIT ?`),
      one: db.prepare<[number], ReportRow>(`${SELECT_REPORT} WHERE r.id = ?`),
      encoded: db.prepare<[number], { report: Buffer }>('SELECT report FROM abuse_reports WHERE id = ?'),
      setState: db.prepare<[number, string, number]>(
        'INSERT INTO admin_report_states (report_id, state, changed_at) VALUES (?, ?, ?) ON CONFLICT(report_id) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at',
      ),
      addAction: db.prepare<[string, string, string, number, string, string, string, number]>(
        'INSERT INTO admin_actions (who, via, action, report_id, room_uri, target, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      actionsOf: db.prepare<[number], ActionRow>('SELECT * FROM admin_actions WHERE report_id = ? ORDER BY id'),
      allActions: db.prepare<[], ActionRow>('SELECT * FROM admin_actions ORDER BY id'),
    };
  }

  list(filter: ReportFilter = 'all', limit = MAX_LIST): ReportView[] {
    const n = Math.min(Math.max(1, limit), MAX_LIST);
    const rows = filter === 'all' ? this.s.all.all(n) : this.s.byState.all(filter, n);
    return rows.map(view);
  }

  /** The report, or 404. */
  get(id: number): ReportView {
    const row = this.s.one.get(id);
    if (!row) throw new ApiFailure('notFound', `no report ${id}`);
    return view(row);
  }

  detail(id: number): ReportDetail {
    const report = this.get(id);
    let reportedMessages: ReportDetail['reportedMessages'] = [];
    try {
      const decoded = decodeAbuseReport(new Uint8Array(this.s.encoded.get(id)!.report));
      reportedMessages = decoded.messages.map((m) => ({ acceptedAt: Number(m.acceptedTimestamp), bytes: m.messageContent.length }));
    } catch {
      // Stored as received and checked then; an undecodable one shows no messages.
    }
    return { ...report, reportedMessages, room: this.roomNow(report), actions: this.actions(id) };
  }

  roomNow(report: Pick<ReportView, 'roomUri' | 'allegedAbuser'>): RoomNow {
    const hosted = this.rooms.hosts(report.roomUri);
    const members = hosted ? this.rooms.membersOf(report.roomUri) : [];
    return {
      hosted,
      allegedMembers: members.filter((m) => m.user === report.allegedAbuser).map((m) => m.identity),
      memberCount: members.length,
      ban: (hosted && this.rooms.banStatus(report.roomUri, report.allegedAbuser)) || null,
    };
  }

  actions(reportId?: number): AdminActionView[] {
    const rows = reportId === undefined ? this.s.allActions.all() : this.s.actionsOf.all(reportId);
    return rows.map((a) => ({ id: a.id, who: a.who, via: a.via, action: a.action, reportId: a.report_id, roomUri: a.room_uri, target: a.target, detail: a.detail, at: a.at }));
  }

  /** Dismisses an open report (409 when it is not open), logging the action. */
  dismiss(id: number, via: 'api' | 'cli'): ReportView {
    return this.db.transaction(() => {
      const report = this.get(id);
      if (report.state !== 'open') throw new ApiFailure('notAllowed', `report ${id} is ${report.state}, not open`, { status: 409 });
      const at = this.now();
      this.s.setState.run(id, 'dismissed', at);
      this.s.addAction.run('admin', via, 'dismiss', id, report.roomUri, report.allegedAbuser, '', at);
      return this.get(id);
    }).immediate();
  }

  /**
   * The members the hub should propose removing for report `id` (404: no report; 404: the room is
   * gone; 409: the alleged abuser has no member in it any more).
   */
  removalTargets(id: number): { report: ReportView; members: string[] } {
    const report = this.get(id);
    const now = this.roomNow(report);
    if (!now.hosted) throw new ApiFailure('roomUnknown', `room ${report.roomUri} is not hosted here any more`);
    if (now.allegedMembers.length === 0) {
      throw new ApiFailure('notMember', `${report.allegedAbuser} has no member in ${report.roomUri} (already left or removed)`, { status: 409 });
    }
    return { report, members: now.allegedMembers };
  }

  /** The report whose alleged abuser the hub should ban (404: no report; 404: the room is gone). */
  banTarget(id: number): ReportView {
    const report = this.get(id);
    if (!this.rooms.hosts(report.roomUri)) throw new ApiFailure('roomUnknown', `room ${report.roomUri} is not hosted here any more`);
    return report;
  }

  /** Records a ban the hub has proposed (with Removes of `members`): the report is actioned, the action logged. */
  recordBan(id: number, via: 'api' | 'cli', members: string[]): ReportView {
    return this.db.transaction(() => {
      const report = this.get(id);
      const at = this.now();
      this.s.setState.run(id, 'actioned', at);
      const detail = members.length ? `proposed the ban and the removal of ${members.join(', ')}` : 'proposed the ban (no members in the room)';
      this.s.addAction.run('admin', via, 'ban', id, report.roomUri, report.allegedAbuser, detail, at);
      return this.get(id);
    }).immediate();
  }

  /** Records a removal the hub has proposed: the report is actioned, the action logged. */
  recordRemoval(id: number, via: 'api' | 'cli', members: string[]): ReportView {
    return this.db.transaction(() => {
      const report = this.get(id);
      const at = this.now();
      this.s.setState.run(id, 'actioned', at);
      this.s.addAction.run('admin', via, 'remove', id, report.roomUri, report.allegedAbuser, `proposed removal of ${members.join(', ')}`, at);
      return this.get(id);
    }).immediate();
  }
}

function view(r: ReportRow): ReportView {
  return {
    id: r.id,
    roomUri: r.room_uri,
    reporter: r.reporter,
    allegedAbuser: r.alleged,
    reason: r.reason,
    note: r.note,
    messages: r.messages,
    receivedAt: r.received_at,
    via: r.via_domain,
    state: r.state,
    stateChangedAt: r.changed_at,
  };
}
