// Idle connections between the app and its provider (src-shared/idle-connection.ts): the provider
// keeps one open for 75 s, so a conversation's next message after a pause goes out on the same
// connection with no new TLS handshake (Node's default closed it after 5 s); `--keep-alive` sets
// another time, and a client whose connection the provider did close just opens a new one. When the
// computer wakes (Electron's powerMonitor 'resume' -> AppCore.networkResumed), every account drops
// its pooled connections and restarts its push stream at once, losing and repeating nothing. Real
// provider processes; connections counted where the client's agents make them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { Profile } from '../../src-main/core/profile.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import type { ConnectionState } from '../../src-main/core/context.js';
import type { MessageView } from '../../src-shared/contract.js';
import { testProfile } from '../helpers/profiles.js';
import { startProviderProcess, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

/** New TLS connections this process opened, per port. */
const opened = new Map<number, number>();
const createConnection = https.Agent.prototype.createConnection;
let standard: ProviderProcess;
let short: ProviderProcess;
const profiles: Profile[] = [];

before(async () => {
  https.Agent.prototype.createConnection = function (this: https.Agent, options: { port?: number | string }, ...rest: unknown[]) {
    const port = Number(options.port);
    opened.set(port, (opened.get(port) ?? 0) + 1);
    return (createConnection as (...a: unknown[]) => unknown).call(this, options, ...rest);
  } as typeof createConnection;
  [standard, short] = await Promise.all([startProviderProcess({ domain: 'keep.example' }), startProviderProcess({ domain: 'short.example', args: ['--keep-alive', '1'] })]);
});

after(async () => {
  for (const p of profiles) await p.close().catch(() => undefined);
  https.Agent.prototype.createConnection = createConnection;
  await Promise.all([standard?.stop(), short?.stop()]);
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a request after a 6 s pause reuses the connection (Node alone would have closed it at 5 s); a provider closing sooner costs only a new connection', async () => {
  const a = new ProviderClient({ baseUrl: standard.url, caPem: standard.caPem });
  const b = new ProviderClient({ baseUrl: short.url, caPem: short.caPem });
  try {
    await Promise.all([a.health(), b.health()]);
    await pause(6_000);
    await Promise.all([a.health(), b.health()]);
    assert.equal(opened.get(standard.port), 1, 'one connection carried both requests');
    assert.equal(opened.get(short.port), 2, '--keep-alive 1: the provider closed the idle connection, the client opened another');
  } finally {
    a.close();
    b.close();
  }
});

test('--keep-alive refuses what is not a positive whole number of seconds, and the provider does not start', async () => {
  for (const bad of ['0', '1.5', 'soon', '100000']) {
    await assert.rejects(startProviderProcess({ domain: 'bad.example', args: ['--keep-alive', bad] }), (e: Error) => {
      assert.match(e.message, /--keep-alive must be a positive whole number of seconds/);
      return true;
    });
  }
});

test('woken from sleep: pooled connections are dropped, the push stream starts again at once, and no message is lost or repeated', async () => {
  const engine = await createMlsEngine();
  const o = { engine, keep: profiles, dirPrefix: 'resume' };
  const [alice, bob] = await Promise.all([testProfile(standard, 'alice', o), testProfile(standard, 'bob', o)]);
  const room = await alice.createRoom('after the nap');
  await alice.addMember(room.roomUri, 'bob');
  await waitFor(() => bob.rooms().length === 1, 'bob joins');
  const got: string[] = [];
  bob.on('message', (m: MessageView) => {
    if (m.sender.endsWith('/u/alice') && m.text) got.push(m.text);
  });
  const states: ConnectionState[] = [];
  bob.on('connection', (s: ConnectionState) => states.push(s));
  await alice.send(room.roomUri, 'before');
  await waitFor(() => got.includes('before'), 'bob reads the first message');
  const before = opened.get(standard.port) ?? 0;

  // Both computers wake; alice writes at once, while bob's stream is starting again.
  alice.networkResumed();
  bob.networkResumed();
  await alice.send(room.roomUri, 'right after waking');
  await alice.send(room.roomUri, 'and one more');
  await waitFor(() => got.includes('and one more'), 'bob reads what was sent while he reconnected');
  assert.deepEqual(got, ['before', 'right after waking', 'and one more'], 'each message once, in order');
  assert.deepEqual(states.slice(0, 2), ['connecting', 'online'], 'bob\'s stream started again at once');
  assert.equal(bob.connection, 'online');
  assert.ok((opened.get(standard.port) ?? 0) > before, 'alice\'s send went out on a new connection');
});
