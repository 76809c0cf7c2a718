// Consent (users of other providers; users of our provider need none): the list of requests,
// grants and blocks, the actions on it, and the 'consent' event when the provider says it changed.
//
// The list this core hands out (to the app, the CLI and the 'consent' event alike) is the one
// source of truth for what waits for an answer: every count and every list on screen is taken
// from it. It leaves out requests to add this account to a room it is already in (nothing left
// to decide); the provider drops unanswered requests after 30 days.
//
// When one of our requests is accepted, we say so once ('consentGranted', "bob@b.example accepted
// your request: you can now add them to “Team”"): the grants already told are kept in the profile
// database, so the app or the next `mimi` command tells of a grant that came while neither ran.

import type { ConsentGrantedView } from '../../src-shared/contract.js';
import type { ConsentActionResponse, ConsentListResponse } from '../../src-shared/provider-api.js';
import { displayHandle, parseMimiUri } from '../../src-shared/identifiers.js';
import type { ProfileContext } from './context.js';
import { type Phrase, toCoreError } from './errors.js';
import { roomStateOf } from './group-sessions.js';
import type { RoomReads } from './room-reads.js';
import { userArg } from './user-args.js';

export type ConsentAction = 'requestConsent' | 'cancelConsent' | 'grantConsent' | 'declineConsent' | 'revokeConsent' | 'blockUser' | 'unblockUser';

/** Meta key: the grants of our requests already told, as { "user\nroomUri": at }. */
const TOLD_GRANTS = 'consent.toldGrants';

type Outgoing = ConsentListResponse['outgoing'][number];

/** The list as shown: without requests for rooms this account is already in. Pure. */
export function consentView(list: ConsentListResponse, isMemberOf: (roomUri: string) => boolean): ConsentListResponse {
  return { ...list, incoming: list.incoming.filter((r) => r.roomUri === undefined || !isMemberOf(r.roomUri)) };
}

const grantKey = (o: { user: string; roomUri?: string }) => `${o.user}\n${o.roomUri ?? ''}`;

/**
 * Grants of our requests not told yet (`told`: key -> the grant's time when it was told), and
 * what to remember as told now: the grants in force, so one revoked and granted again is news again.
 */
export function untoldGrants(list: ConsentListResponse, told: Record<string, number>): { fresh: Outgoing[]; nowTold: Record<string, number> } {
  const fresh: Outgoing[] = [];
  const nowTold: Record<string, number> = {};
  for (const o of list.outgoing) {
    if (o.status !== 'granted') continue;
    const k = grantKey(o);
    nowTold[k] = o.at;
    if (told[k] !== o.at) fresh.push(o);
  }
  return { fresh, nowTold };
}

/** "bob@b.example accepted your request: you can now add them to “Team”." */
export function grantText(user: string, roomName: string | undefined, roomUri: string | undefined): string {
  const to = roomUri === undefined ? 'to your rooms' : `to “${roomName ?? roomUri}”`;
  return `${displayHandle(user)} accepted your request: you can now add them ${to}.`;
}

export class ConsentActions {
  /** The consent list last fetched (JSON), to emit 'consent' only on change. */
  private lastConsent?: string;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly reads: RoomReads,
  ) {}

  /** Incoming requests (those still to decide), my grants and blocks, my requests with their outcome. */
  async list(): Promise<ConsentListResponse> {
    let list: ConsentListResponse;
    try {
      list = await this.ctx.client.consents();
    } catch (e) {
      throw toCoreError(e, { key: 'errors.what.listConsents' });
    }
    return this.settle(list);
  }

  async act(action: ConsentAction, user: string, room: string | undefined, what: Phrase): Promise<ConsentActionResponse> {
    // Consent concerns users of other providers, so the hint leaves out the bare handle.
    const userUri = userArg(this.ctx.config.domain, user, 'remote');
    const roomUri = room === undefined ? undefined : this.roomArg(room);
    const roomName = action === 'requestConsent' && roomUri !== undefined ? this.nameToSend(roomUri) : undefined;
    let res: ConsentActionResponse;
    try {
      res = await this.ctx.client.consentAction(action, { user: userUri, ...(roomUri ? { roomUri } : {}), ...(roomName ? { roomName } : {}) });
    } catch (e) {
      throw toCoreError(e, what);
    }
    await this.refresh();
    return res;
  }

  /** A room URI as given (it may be a room we are not in), else a local room's unique name. */
  private roomArg(room: string): string {
    try {
      if (parseMimiUri(room).kind === 'room') return room;
    } catch {
      // not a URI: a name
    }
    return this.reads.resolveRoom(room);
  }

  /**
   * The name to send with a request for `roomUri`, so the person asked reads which room: the one
   * shown here, for a room this account is in. None for a minimal-metadata room, whose name is
   * kept from every provider, nor for a room we do not know.
   */
  private nameToSend(roomUri: string): string | undefined {
    if (!this.ctx.db.getRoom(roomUri)) return undefined;
    try {
      if (roomStateOf(this.ctx.sessions.get(roomUri))?.minimalMetadata) return undefined;
      const name = this.reads.roomView(roomUri).name.trim();
      return name ? [...name].slice(0, 128).join('') : undefined;
    } catch {
      return undefined;
    }
  }

  private roomName(roomUri: string | undefined): string | undefined {
    if (roomUri === undefined || !this.ctx.db.getRoom(roomUri)) return undefined;
    try {
      return this.reads.roomView(roomUri).name;
    } catch {
      return undefined;
    }
  }

  private isMemberOf(roomUri: string): boolean {
    const room = this.ctx.db.getRoom(roomUri);
    return !!room && !room.left;
  }

  /** The list as shown, after telling (once) of grants of our requests that came since last told. */
  private settle(raw: ConsentListResponse): ConsentListResponse {
    const list = consentView(raw, (r) => this.isMemberOf(r));
    const { db } = this.ctx;
    let told: Record<string, number> = {};
    try {
      told = JSON.parse(db.getMeta(TOLD_GRANTS) ?? '{}') as Record<string, number>;
    } catch {
      // unreadable: told again, which is better than never
    }
    const { fresh, nowTold } = untoldGrants(list, told);
    if (fresh.length === 0 && Object.keys(nowTold).length === Object.keys(told).length) return list;
    db.setMeta(TOLD_GRANTS, JSON.stringify(nowTold));
    for (const o of fresh) {
      const roomName = this.roomName(o.roomUri);
      const news: ConsentGrantedView = {
        user: o.user,
        ...(o.roomUri !== undefined ? { roomUri: o.roomUri } : {}),
        ...(roomName !== undefined ? { roomName } : {}),
        at: o.at,
        text: grantText(o.user, roomName, o.roomUri),
      };
      this.ctx.emit('consentGranted', news);
    }
    return list;
  }

  /** Fetch the consent list and emit 'consent' (with it) if it changed; only while someone listens. */
  async refresh(): Promise<void> {
    if (this.ctx.closed || (this.ctx.listenerCount('consent') === 0 && this.ctx.listenerCount('consentGranted') === 0)) return;
    try {
      const list = this.settle(await this.ctx.client.consents());
      const json = JSON.stringify(list);
      if (json === this.lastConsent) return;
      this.lastConsent = json;
      this.ctx.emit('consent', list);
    } catch {
      // a provider without consent support, or offline: the next notice or connect fetches again
    }
  }
}
