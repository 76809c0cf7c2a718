// The connection to the home provider: the push stream (with reconnect) and what its events set
// off. Each event is processed in order through the serial queue and then confirmed; once the
// backlog is in, this device joins the account's rooms it is missing and the outbox drains.

import { CoreError } from '../../src-shared/contract.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import { PushConnection, type PushConnectionOptions } from '../net/provider-client.js';
import type { ConsentActions } from './consent-actions.js';
import type { ConnectionState, ProfileContext } from './context.js';
import { toCoreError } from './errors.js';
import type { IncomingEvents } from './incoming.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';

export interface ConnectionParts {
  pushOptions: PushConnectionOptions;
  incoming: IncomingEvents;
  outbox: Outbox;
  consent: ConsentActions;
  membership: Membership;
  /** Records the new state where Profile shows it, before 'connection' is emitted. */
  setState(s: ConnectionState): void;
}

export class ProviderConnection {
  private push?: PushConnection;
  private caughtUp = false;

  constructor(
    private readonly ctx: ProfileContext,
    private readonly parts: ConnectionParts,
  ) {}

  /** Connect the push stream and start draining the outbox. Resolves once the backlog is processed. */
  start(timeoutMs: number): Promise<void> {
    if (this.push) return this.whenCaughtUp(timeoutMs);
    const { ctx } = this;
    const { incoming, outbox, consent, membership } = this.parts;
    const push = new PushConnection(this.parts.pushOptions);
    this.push = push;
    push.on('error', (e) => ctx.emit('error', `${e.message}. Sign in again on this device.`));
    push.on('state', (s: ConnectionState) => {
      this.parts.setState(s);
      ctx.emit('connection', s);
      if (s === 'online') outbox.kick();
    });
    push.on('event', (ev: PushEvent) => {
      void ctx.serial
        .run(async () => {
          await incoming.handleEvent(ev);
          push.confirm(ev.seq); // only once the event and the cursor are stored
        })
        .catch((e) => ctx.emit('error', toCoreError(e, 'Could not process an incoming event').message));
    });
    push.on('notice', (topic) => {
      if (topic === 'consent') void consent.refresh();
    });
    push.on('caughtUp', () => {
      void consent.refresh(); // notices sent while we were away are not replayed
      void ctx.serial.run(async () => {
        if (!this.caughtUp) {
          this.caughtUp = true;
          await membership.joinMissingRooms().catch((e) => ctx.emit('error', toCoreError(e, 'Could not join rooms of this account').message));
          ctx.emit('caughtUp');
        }
        outbox.kick();
      });
    });
    push.start(Number(ctx.db.getMeta('cursor') ?? '0'));
    return this.whenCaughtUp(timeoutMs);
  }

  private whenCaughtUp(timeoutMs: number): Promise<void> {
    if (this.caughtUp) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.ctx.off('caughtUp', done);
        // Only what is true for every caller: this did not reach the provider. Whether anything
        // waits in the outbox is for the caller to say (the CLI's send queues first, then waits).
        reject(new CoreError('providerUnreachable', `The provider at ${this.ctx.client.baseUrl} did not answer within ${Math.round(timeoutMs / 1000)} s. Check that it is running and try again.`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.ctx.once('caughtUp', done);
    });
  }

  stop(): void {
    this.push?.stop();
  }
}
