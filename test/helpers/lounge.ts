// Four users of one provider (alice, bob, carol, dave) in alice's room "Lounge", everyone joined:
// the moderation tests' common start (reports need a room with people in it).

import type { Profile } from '../../src-main/core/profile.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { testProfile } from './profiles.js';
import { waitFor } from './provider-process.js';

export interface Lounge {
  alice: Profile;
  bob: Profile;
  carol: Profile;
  dave: Profile;
  room: string;
  /**
   * What the profiles reported as errors in the background (e.g. a commit cut short when a test
   * stops the provider), by handle: kept for the test to look at rather than thrown as unhandled.
   */
  errors: Map<string, string[]>;
}

export async function lounge(provider: { url: string; caPem: string }, o: { engine: MlsEngine; keep: Profile[]; dirPrefix: string; timeoutMs?: number }): Promise<Lounge> {
  const errors = new Map<string, string[]>();
  const user = (h: string) => {
    errors.set(h, []);
    return testProfile(provider, h, { engine: o.engine, keep: o.keep, dirPrefix: o.dirPrefix, onError: (m) => errors.get(h)!.push(m) });
  };
  const [alice, bob, carol, dave] = await Promise.all([user('alice'), user('bob'), user('carol'), user('dave')]);
  const room = (await alice.createRoom('Lounge')).roomUri;
  for (const h of ['bob', 'carol', 'dave']) await alice.addMember(room, h);
  await waitFor(() => [alice, bob, carol, dave].every((p) => p.rooms().some((r) => r.roomUri === room) && p.roomView(room).members.length === 4), 'everyone in the room', o.timeoutMs ?? 20_000);
  return { alice, bob, carol, dave, room, errors };
}
