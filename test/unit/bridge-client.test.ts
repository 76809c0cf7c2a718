// The browser-mode client against a real bridge: values and error codes come back intact, a
// stale token is reported, events arrive. Reconnecting is tested with a scripted WebSocket (the
// network edge), since a real server cannot be made to drop a socket on cue.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { CoreError, type CoreEvent, type MimiApi } from '../../src-shared/contract.js';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.js';
import { createBridgeClient } from '../../src-renderer/src/bridge-client.js';

const listeners = new Set<(e: CoreEvent) => void>();
const core = {
  app: { info: async () => ({ mode: 'browser' as const, version: '9.9.9' }) },
  accounts: {
    list: async () => [],
    register: async () => {
      throw new CoreError('handleTaken', 'That handle is taken.');
    },
  },
  rooms: { markRead: async () => undefined },
  onEvent(l: (e: CoreEvent) => void) {
    listeners.add(l);
    return () => listeners.delete(l);
  },
} as unknown as MimiApi;

let bridge: Bridge;
let dir: string;
const base = () => `http://127.0.0.1:${bridge.port}`;
const WS = WebSocket as unknown as typeof globalThis.WebSocket;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-bridge-client-'));
  bridge = await startBridge({ core, rendererDir: dir, log: () => {} });
});
after(async () => {
  await bridge.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('calls return values; core errors arrive as CoreErrors with their code', async () => {
  const client = createBridgeClient({ baseUrl: base(), token: bridge.token, WebSocketImpl: WS });
  assert.deepEqual(await client.api.app.info(), { mode: 'browser', version: '9.9.9' });
  assert.equal(await client.api.rooms.markRead('acct', 'mimi://a.example/r/x'), undefined);
  await assert.rejects(client.api.accounts.register({ handle: 'bob', password: 'hunter222' }), (e: unknown) => e instanceof CoreError && e.code === 'handleTaken');
  await assert.rejects(client.api.rooms.markRead('acct', 'not-a-room'), (e: unknown) => e instanceof CoreError && e.code === 'invalidArgument');
  client.close();
});

test('a refused token is reported, and the error says what to do', async () => {
  const client = createBridgeClient({ baseUrl: base(), token: 'f'.repeat(64), WebSocketImpl: WS });
  let told = 0;
  client.onUnauthorized(() => told++);
  await assert.rejects(client.api.app.info(), /Open the new link/);
  assert.equal(told, 1);
  client.close();
});

test('an unreachable app process gives a clear error', async () => {
  const client = createBridgeClient({ baseUrl: 'http://127.0.0.1:1', token: bridge.token, WebSocketImpl: WS });
  await assert.rejects(client.api.app.info(), /Can't reach the mimi app process/);
  client.close();
});

test('events arrive through the real bridge', async () => {
  const client = createBridgeClient({ baseUrl: base(), token: bridge.token, WebSocketImpl: WS });
  const up = new Promise<boolean>((resolve) => client.onConnectionChange(resolve));
  const got = new Promise<CoreEvent>((resolve) => client.api.onEvent(resolve));
  assert.equal(await up, true);
  const event: CoreEvent = { type: 'rooms', accountId: 'a1', rooms: [] };
  listeners.forEach((l) => l(event));
  assert.deepEqual(await got, event);
  client.close();
});

test('the event stream reconnects with backoff after a drop', async () => {
  const sockets: FakeSocket[] = [];
  class FakeSocket {
    onopen: (() => void) | null = null;
    onclose: (() => void) | null = null;
    onmessage: ((m: { data: string }) => void) | null = null;
    constructor(
      readonly url: string,
      readonly protocols: string[],
    ) {
      sockets.push(this);
    }
    close() {
      this.onclose?.();
    }
  }
  const client = createBridgeClient({ baseUrl: 'http://127.0.0.1:5555', token: 'abc', WebSocketImpl: FakeSocket as unknown as typeof globalThis.WebSocket });
  const states: boolean[] = [];
  client.onConnectionChange((s) => states.push(s));
  const events: CoreEvent[] = [];
  const off = client.api.onEvent((e) => events.push(e));
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, 'ws://127.0.0.1:5555/events');
  assert.deepEqual(sockets[0].protocols, ['mimi-events', 'token.abc']);
  sockets[0].onopen?.();
  sockets[0].onmessage?.({ data: JSON.stringify({ type: 'error', message: 'x' }) });
  sockets[0].onmessage?.({ data: 'not json' });
  assert.deepEqual(events, [{ type: 'error', message: 'x' }]);

  sockets[0].onclose?.(); // dropped by the network
  assert.deepEqual(states, [true, false]);
  await new Promise((r) => setTimeout(r, 650));
  assert.equal(sockets.length, 2, 'reconnected after the first backoff step');
  sockets[1].onopen?.();
  assert.deepEqual(states, [true, false, true]);

  off(); // the last listener leaving closes the stream, and it stays closed
  await new Promise((r) => setTimeout(r, 650));
  assert.equal(sockets.length, 2);
  client.close();
});

test('after the app restarts with a new key on the same port, the client says so instead of reconnecting forever', async () => {
  const first = await startBridge({ core, rendererDir: dir, log: () => {} });
  const port = first.port;
  const client = createBridgeClient({ baseUrl: `http://127.0.0.1:${port}`, token: first.token, WebSocketImpl: WS });
  const states: boolean[] = [];
  client.onConnectionChange((s) => states.push(s));
  let unauthorized = 0;
  const told = new Promise<void>((resolve) =>
    client.onUnauthorized(() => {
      unauthorized++;
      resolve();
    }),
  );
  const off = client.api.onEvent(() => undefined);
  await new Promise<void>((resolve) => client.onConnectionChange((s) => s && resolve()));
  await first.close();
  const second = await startBridge({ core, rendererDir: dir, port, log: () => {} });
  try {
    await Promise.race([told, new Promise((_, reject) => setTimeout(() => reject(new Error('no unauthorized signal within 5 s')), 5000))]);
    assert.equal(unauthorized, 1);
    // And it stops knocking: no further attempt brings the stream up or signals again.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(states, [true, false]);
    assert.equal(unauthorized, 1);
  } finally {
    off();
    client.close();
    await second.close();
  }
});
