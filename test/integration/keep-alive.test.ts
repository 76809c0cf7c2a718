// Idle connections between the app and its provider (src-shared/idle-connection.ts): the provider
// keeps one open for 75 s, so a conversation's next message after a pause goes out on the same
// connection with no new TLS handshake (Node's default closed it after 5 s); `--keep-alive` sets
// another time, and a client whose connection the provider did close just opens a new one. A real
// provider process; connections counted where the client's agents make them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { startProviderProcess, type ProviderProcess } from '../helpers/provider-process.js';

/** New TLS connections this process opened, per port. */
const opened = new Map<number, number>();
const createConnection = https.Agent.prototype.createConnection;
let standard: ProviderProcess;
let short: ProviderProcess;

before(async () => {
  https.Agent.prototype.createConnection = function (this: https.Agent, options: { port?: number | string }, ...rest: unknown[]) {
    const port = Number(options.port);
    opened.set(port, (opened.get(port) ?? 0) + 1);
    return (createConnection as (...a: unknown[]) => unknown).call(this, options, ...rest);
  } as typeof createConnection;
  [standard, short] = await Promise.all([startProviderProcess({ domain: 'keep.example' }), startProviderProcess({ domain: 'short.example', args: ['--keep-alive', '1'] })]);
});

after(async () => {
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
