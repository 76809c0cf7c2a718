// The connection to the home provider: the push stream (with reconnect) and what its events set
// off. Each event is processed in order through the serial queue and then confirmed; once the
// backlog is in, this device joins the account's rooms it is missing and the outbox drains.

import type { PushEvent } from '../../src-shared/provider-api.js';
import { PushConnection, type PushConnectionOptions } from '../net/push-connection.js';
import type { ConsentActions } from './consent-actions.js';
import type { ConnectionState, ProfileContext } from './context.js';
import { coreError, toCoreError } from './errors.js';
import type { IncomingEvents } from './incoming.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';
import type { Devices } from './devices.js';
import type { PushDevicesNotice } from '../../src-shared/provider-api.js';

export interface ConnectionParts {
  pushOptions: PushConnectionOptions;
  incoming: IncomingEvents;
  outbox: Outbox;
  consent: ConsentActions;
  membership: Membership;
  /** Records the new state where Profile shows it, before 'connection' is emitted. */
  setState(s: ConnectionState): void;
  /** The account's devices (devices.ts): their notices, the list after a reconnect, this one's removal. */
  devices?: Pick<Devices, 'notice' | 'reconnected' | 'removedHere'>;
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
    push.on('error', (e) => {
      // A refused token: another device removed this one (or the account is gone). Retrying cannot help.
      if (e.status === 401 && this.parts.devices) return this.parts.devices.removedHere();
      const err = coreError('noAccount', 'errors.background.signInAgain', { reason: e.message });
      ctx.emit('error', err.message, err);
    });
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
        .catch((e) => {
          const err = toCoreError(e, { key: 'errors.what.processIncoming' });
          ctx.emit('error', err.message, err);
        });
    });
    push.on('notice', (topic, frame) => {
      if (topic === 'consent') void consent.refresh();
      if (topic === 'devices' && frame && 'deviceId' in frame) this.parts.devices?.notice(frame as PushDevicesNotice);
    });
    push.on('caughtUp', () => {
      void consent.refresh(); // notices sent while we were away are not replayed
      void this.parts.devices?.reconnected();
      void ctx.serial.run(async () => {
        if (!this.caughtUp) {
          this.caughtUp = true;
          await membership.joinMissingRooms().catch((e) => {
            const err = toCoreError(e, { key: 'errors.what.joinAccountRooms' });
            ctx.emit('error', err.message, err);
          });
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
        this.ctx.off('deviceRemoved', removed);
        // Only what is true for every caller: this did not reach the provider. Whether anything
        // waits in the outbox is for the caller to say (the CLI's send queues first, then waits).
        reject(coreError('providerUnreachable', 'errors.account.providerTimeout', { url: this.ctx.client.baseUrl, seconds: Math.round(timeoutMs / 1000) }));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        this.ctx.off('deviceRemoved', removed);
        resolve();
      };
      // A removed device never catches up: say so at once instead of after the timeout.
      const removed = () => {
        clearTimeout(t);
        this.ctx.off('caughtUp', done);
        reject(coreError('noAccount', 'devices.errors.removedHere'));
      };
      this.ctx.once('caughtUp', done);
      this.ctx.once('deviceRemoved', removed);
    });
  }

  stop(): void {
    this.push?.stop();
  }

  /** A fresh push stream now (the computer woke up); nothing when not started. */
  reconnectNow(): void {
    this.push?.reconnectNow();
  }
}
