// Consent (users of other providers; users of our provider need none): the list of requests,
// grants and blocks, the actions on it, and the 'consent' event when the provider says it changed.

import type { ConsentActionResponse, ConsentListResponse } from '../../src-shared/provider-api.js';
import { parseMimiUri } from '../../src-shared/identifiers.js';
import type { ProfileContext } from './context.js';
import { toCoreError } from './errors.js';
import type { RoomReads } from './room-reads.js';
import { userArg } from './user-args.js';

export type ConsentAction = 'requestConsent' | 'cancelConsent' | 'grantConsent' | 'declineConsent' | 'revokeConsent' | 'blockUser' | 'unblockUser';

export class ConsentActions {
  /** The consent list last fetched (JSON), to emit 'consent' only on change. */
  private lastConsent?: string;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly reads: RoomReads,
  ) {}

  /** Incoming requests, my grants and blocks, my requests with their outcome. */
  async list(): Promise<ConsentListResponse> {
    try {
      return await this.ctx.client.consents();
    } catch (e) {
      throw toCoreError(e, 'Could not list consents');
    }
  }

  async act(action: ConsentAction, user: string, room: string | undefined, what: string): Promise<ConsentActionResponse> {
    // Consent concerns users of other providers, so the hint leaves out the bare handle.
    const userUri = userArg(this.ctx.config.domain, user, 'bob@b.example or mimi://b.example/u/bob');
    const roomUri = room === undefined ? undefined : this.roomArg(room);
    let res: ConsentActionResponse;
    try {
      res = await this.ctx.client.consentAction(action, { user: userUri, ...(roomUri ? { roomUri } : {}) });
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

  /** Fetch the consent list and emit 'consent' (with it) if it changed; only while someone listens. */
  async refresh(): Promise<void> {
    if (this.ctx.closed || this.ctx.listenerCount('consent') === 0) return;
    try {
      const list = await this.ctx.client.consents();
      const json = JSON.stringify(list);
      if (json === this.lastConsent) return;
      this.lastConsent = json;
      this.ctx.emit('consent', list);
    } catch {
      // a provider without consent support, or offline: the next notice or connect fetches again
    }
  }
}
