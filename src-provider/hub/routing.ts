// Where an accepted event goes. A member of another provider (its identity's domain) is that
// provider's business: one FanoutMessage per follower provider, in the durable outbox, and the
// follower delivers to its own devices. A member of ours gets an inbox row for the device behind
// it: the device itself, or the device its client pseudonym was issued to. The inbox row is the
// only place that names that device; the event names the member.

import { encodeFanoutMessage, type FanoutMessage } from '../../src-shared/mimi-protocol.js';
import type { Fields } from '../../src-shared/mls-structs.js';
import type { HubCore } from './core.js';
import { domainOf } from './mls-input.js';

/**
 * Delivers the stored event `eventId` to the members `identities`: inbox rows for ours (each device
 * once), one FanoutMessage per other provider with any of them.
 */
export function fanout(hub: HubCore, roomUri: string, eventId: number, identities: readonly string[], message: Fields<FanoutMessage>, queued: Set<string>): void {
  const domains = new Set<string>();
  const delivered = new Set<string>();
  for (const identity of identities) {
    // Ours: the device (checked to exist by the insert below), or the device behind our pseudonym.
    const device = hub.identities.deliveryCandidate(identity);
    if (device !== undefined) {
      delivered.add(device);
      continue;
    }
    const domain = domainOf(identity);
    if (domain !== hub.domain) domains.add(domain);
    // else: a pseudonym of ours whose device is gone (its account was deleted: its leaf goes soon)
  }
  // One statement for all of them, which also skips devices deleted since (their leaves go soon):
  // per-row statements were the largest store cost of a relay.
  for (const device of hub.store.enqueueExisting([...delivered], eventId)) queued.add(device);
  if (domains.size === 0) return;
  if (!hub.fanoutSink) throw new Error(`room ${roomUri} has remote members but this provider does not federate`);
  const body = encodeFanoutMessage(message);
  for (const domain of domains) hub.fanoutSink.enqueue(domain, roomUri, body);
}
