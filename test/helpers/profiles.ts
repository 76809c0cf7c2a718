// Device cores (Profile) as test users: registered or logged in on a provider with the password
// `pw-<handle>-secret` and plaintext secrets, kept in a list the test closes, and started.

import path from 'node:path';
import { Profile } from '../../src-main/core/profile.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { tempDir } from './provider-process.js';

export interface TestProfileOptions {
  engine: MlsEngine;
  /** Every profile is pushed here (the test's `after` closes them). */
  keep: Profile[];
  /** The profile lives in `<tempDir(`${dirPrefix}-${handle}`)>/profile`, unless `dir` names another. */
  dirPrefix: string;
  dir?: string;
  how?: 'register' | 'login';
  /** Default `${handle}'s laptop`. */
  deviceName?: string;
  /** Listens to the profile's 'error' events (before it starts). */
  onError?: (message: string) => void;
  /** Default true. */
  start?: boolean;
}

export async function testProfile(provider: { url: string; caPem: string }, handle: string, o: TestProfileOptions): Promise<Profile> {
  const dir = o.dir ?? path.join(tempDir(`${o.dirPrefix}-${handle}`), 'profile');
  const details = { providerUrl: provider.url, caPem: provider.caPem, handle, password: `pw-${handle}-secret`, deviceName: o.deviceName ?? `${handle}'s laptop` };
  const p = (o.how ?? 'register') === 'register' ? await Profile.register(dir, details, { engine: o.engine, secretMode: 'plaintext' }) : await Profile.login(dir, details, { engine: o.engine, secretMode: 'plaintext' });
  if (o.onError) p.on('error', o.onError);
  o.keep.push(p);
  if (o.start ?? true) await p.start();
  return p;
}

/**
 * Holds the first Commit each of `profiles` posts until every one of them has built its own, so
 * the Commits race for one epoch: fast crypto can otherwise finish one before the other is built,
 * and then nothing races.
 */
export function holdFirstCommits(profiles: readonly Profile[]): void {
  let arrived = 0;
  let open!: () => void;
  const allBuilt = new Promise<void>((r) => (open = r));
  for (const p of profiles) {
    const client = (p as unknown as { ctx: { client: { commit: (...a: unknown[]) => Promise<unknown> } } }).ctx.client;
    const commit = client.commit.bind(client);
    let first = true;
    client.commit = async (...a: unknown[]) => {
      if (first) {
        first = false;
        if (++arrived === profiles.length) open();
        await allBuilt;
      }
      return commit(...a);
    };
  }
}
