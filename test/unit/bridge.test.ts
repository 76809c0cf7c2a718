// The browser-mode bridge is a transport: the object behind it is a small in-test MimiApi (the
// true edge here), so every assertion is about what the bridge lets through and what it refuses.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { CoreError, type AccountView, type ConnectionRequestPolicyView, type ConnectionsView, type CoreEvent, type MimiApi, type PseudonymPoolView, type RoomView } from '../../src-shared/contract.js';
import { EVENTS_SUBPROTOCOL, startBridge, tokenMatches, type Bridge } from '../../src-main/bridge/bridge-server.js';
import { quietConsentAndPeople } from '../e2e/stub-domains.js';

interface Call {
  method: string;
  args: unknown[];
}

const pool = (accountId: string): PseudonymPoolView => ({ accountId, pseudonyms: [], unused: 0, threshold: 4, batch: 4, refilling: false });
const noConnections = (): ConnectionsView => ({ incoming: [], outgoing: [] });

function recordingCore() {
  const calls: Call[] = [];
  const listeners = new Set<(e: CoreEvent) => void>();
  const room: RoomView = { roomUri: 'mimi://a.example/r/one', name: 'one', hubDomain: 'a.example', members: [], unread: 0, epoch: '1' };
  const record =
    <T>(method: string, result: (...args: unknown[]) => T) =>
    async (...args: unknown[]): Promise<T> => {
      calls.push({ method, args });
      return result(...args);
    };
  const core: MimiApi = {
    app: { info: record('app.info', () => ({ mode: 'browser' as const, version: 'test' })) },
    accounts: {
      list: record('accounts.list', () => [] as AccountView[]),
      register: record('accounts.register', () => {
        throw new CoreError('handleTaken', 'That handle is taken.');
      }),
      login: record('accounts.login', () => {
        throw new Error('secret internal detail /home/someone/.key');
      }),
      switchTo: record('accounts.switchTo', () => [] as AccountView[]),
      signOut: record('accounts.signOut', () => [] as AccountView[]),
      secretStorage: record('accounts.secretStorage', () => ({ automatic: 'keychain' as const })),
      locked: record('accounts.locked', () => []),
      unlock: record('accounts.unlock', () => [] as AccountView[]),
      secretMode: record('accounts.secretMode', () => 'keychain' as const),
      changePassword: record('accounts.changePassword', () => undefined),
      deleteAccount: record('accounts.deleteAccount', () => [] as AccountView[]),
      changePassphrase: record('accounts.changePassphrase', () => undefined),
      privacy: record('accounts.privacy', () => ({ deliveryReceipts: true, readReceipts: false, typing: true })),
      setPrivacy: record('accounts.setPrivacy', () => ({ deliveryReceipts: true, readReceipts: false, typing: false })),
      devices: record('accounts.devices', () => [{ deviceId: 'd1', name: 'Laptop', createdAt: 1, lastSeenAt: null, current: true }]),
      renameDevice: record('accounts.renameDevice', () => []),
      removeDevice: record('accounts.removeDevice', () => []),
      removeThisDevice: record('accounts.removeThisDevice', () => [] as AccountView[]),
      verifyDevice: record('accounts.verifyDevice', () => ({ attemptId: '0'.repeat(32), otherDevice: { deviceId: 'd2', name: 'Phone' }, role: 'starter' as const, purpose: 'verify' as const, stage: 'waiting' as const })),
      answerDeviceVerification: record('accounts.answerDeviceVerification', () => ({ attemptId: '0'.repeat(32), otherDevice: { deviceId: 'd2', name: 'Phone' }, role: 'starter' as const, purpose: 'verify' as const, stage: 'failed' as const })),
      requestHistory: record('accounts.requestHistory', () => ({ attemptId: '0'.repeat(32), otherDevice: { deviceId: 'd2', name: 'Phone' }, role: 'starter' as const, purpose: 'history' as const, stage: 'waiting' as const })),
      answerHistoryRequest: record('accounts.answerHistoryRequest', () => undefined),
    },
    rooms: {
      list: record('rooms.list', () => [room]),
      create: record('rooms.create', (_a, name) => ({ ...room, name: String(name) })),
      createMinimalMetadata: record('rooms.createMinimalMetadata', (_a, name) => ({ ...room, name: String(name), members: ['mimi://a.example/p/me'] })),
      addMember: record('rooms.addMember', () => room),
      join: record('rooms.join', () => room),
      leave: record('rooms.leave', () => room),
      markRead: record('rooms.markRead', () => undefined),
      direct: record('rooms.direct', () => room),
      profiles: record('rooms.profiles', () => ({})),
      setReceiptPolicy: record('rooms.setReceiptPolicy', () => {
        throw new CoreError('notAllowed', 'Your role lacks canChangeRoomPolicy.');
      }),
      setMuted: record('rooms.setMuted', () => {
        throw new CoreError('roomUnknown', 'Unknown room.');
      }),
      settings: record('rooms.settings', () => {
        throw new CoreError('roomUnknown', 'No such room.');
      }),
      setMetadata: record('rooms.setMetadata', () => {
        throw new CoreError('notAllowed', 'Your role lacks canChangeRoomName.');
      }),
      setRole: record('rooms.setRole', () => {
        throw new CoreError('notAllowed', 'Your role lacks canChangeUserRole.');
      }),
      kick: record('rooms.kick', () => {
        throw new CoreError('notAllowed', 'Your role lacks canKick.');
      }),
      removeMember: record('rooms.removeMember', () => {
        throw new CoreError('notAllowed', 'Your role lacks canRemoveParticipant.');
      }),
      reportAbuse: record('rooms.reportAbuse', () => undefined),
      ban: record('rooms.ban', () => {
        throw new CoreError('notAllowed', 'Your role lacks canBan.');
      }),
      unban: record('rooms.unban', () => {
        throw new CoreError('notAllowed', 'Your role lacks canUnBan.');
      }),
    },
    messages: {
      page: record('messages.page', () => []),
      send: record('messages.send', () => {
        throw new CoreError('roomUnknown', 'No such room.');
      }),
      report: record('messages.report', () => undefined),
      search: record('messages.search', () => ({ results: [], pending: 0 })),
      sendFile: record('messages.sendFile', () => {
        throw new CoreError('roomUnknown', 'No such room.');
      }),
      openAttachment: record('messages.openAttachment', () => {
        throw new CoreError('invalidArgument', 'No such message.');
      }),
      reply: record('messages.reply', () => {
        throw new CoreError('invalidArgument', 'No such message.');
      }),
      react: record('messages.react', () => {
        throw new CoreError('invalidArgument', 'No such message.');
      }),
      edit: record('messages.edit', () => {
        throw new CoreError('invalidArgument', 'No such message.');
      }),
      delete: record('messages.delete', () => {
        throw new CoreError('invalidArgument', 'No such message.');
      }),
      history: record('messages.history', () => []),
      typing: record('messages.typing', () => undefined),
    },
    ...quietConsentAndPeople('mimi://localhost/u/alice', 'alice'),
    pseudonyms: {
      list: record('pseudonyms.list', (a) => pool(String(a))),
      refill: record('pseudonyms.refill', (a) => ({ ...pool(String(a)), refilling: true })),
      retire: record('pseudonyms.retire', () => {
        throw new CoreError('invalidArgument', 'That pseudonym is not in this account’s pool.');
      }),
    },
    connections: {
      list: record('connections.list', () => noConnections()),
      connect: record('connections.connect', () => {
        throw new CoreError('userUnknown', 'There is no user bob on b.example.');
      }),
      accept: record('connections.accept', () => noConnections()),
      decline: record('connections.decline', () => noConnections()),
      policy: record('connections.policy', () => ({ mode: 'anyone' as const, domains: [] })),
      setPolicy: record('connections.setPolicy', (_a, p) => p as ConnectionRequestPolicyView),
    },
    links: {
      create: record('links.create', () => {
        throw new CoreError('notAllowed', 'Your role may not make links.');
      }),
      list: record('links.list', () => []),
      revoke: record('links.revoke', () => []),
      join: record('links.join', () => room),
    },
    knocks: {
      list: record('knocks.list', () => ({ incoming: [], outgoing: [] })),
      knockRoom: record('knocks.knockRoom', () => ({ roomUri: room.roomUri, knockRoomUri: 'mimi://a.example/r/knock', link: 'mimi://a.example/r/knock?code=AAAAAAAAAAAAAAAAAAAAAA&knock=1' })),
      knock: record('knocks.knock', () => ({ incoming: [], outgoing: [] })),
      admit: record('knocks.admit', () => ({ incoming: [], outgoing: [] })),
      decline: record('knocks.decline', () => ({ incoming: [], outgoing: [] })),
    },
    providerKeys: {
      list: record('providerKeys.list', () => []),
      forget: record('providerKeys.forget', () => []),
    },
    backup: {
      status: record('backup.status', () => ({ lastBackupAt: null, messages: 0, bytes: 0, generation: null, notBackedUp: 0, unfinished: false, hasKey: false, keyPending: false, atProvider: null, running: null })),
      create: record('backup.create', () => ({ generation: 1, uploaded: 1, chunks: 1, messages: 0, bytes: 100, full: true })),
      pendingRecoveryKey: record('backup.pendingRecoveryKey', () => null),
      confirmRecoveryKeySaved: record('backup.confirmRecoveryKeySaved', () => undefined),
      restore: record('backup.restore', () => ({ rooms: 0, added: 0, present: 0, historyOnly: [] })),
      exportHistory: record('backup.exportHistory', () => ({ dir: '/tmp/x', messages: 0, attachments: 0, missing: 0 })),
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { core, calls, listeners, emit: (e: CoreEvent) => listeners.forEach((l) => l(e)) };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: { host: `127.0.0.1:${port}`, ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

let bridge: Bridge;
let harness: ReturnType<typeof recordingCore>;
let rendererDir: string;

const rpc = (body: unknown, headers: Record<string, string> = {}) =>
  request(bridge.port, {
    method: 'POST',
    path: '/rpc',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bridge.token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

before(async () => {
  rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-bridge-'));
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>mimi</title>');
  fs.writeFileSync(path.join(path.dirname(rendererDir), `${path.basename(rendererDir)}-secret.txt`), 'outside');
  harness = recordingCore();
  bridge = await startBridge({ core: harness.core, rendererDir, log: () => {} });
});

after(async () => {
  await bridge.close();
  fs.rmSync(rendererDir, { recursive: true, force: true });
  fs.rmSync(path.join(path.dirname(rendererDir), `${path.basename(rendererDir)}-secret.txt`), { force: true });
});

test('the URL is loopback and carries a 32-byte token in the fragment only', () => {
  const u = new URL(bridge.url);
  assert.equal(u.hostname, '127.0.0.1');
  assert.equal(u.search, '');
  assert.equal(u.hash, `#token=${bridge.token}`);
  assert.match(bridge.token, /^[0-9a-f]{64}$/);
});

test('a good call reaches the core and its value comes back', async () => {
  harness.calls.length = 0;
  const r = await rpc({ method: 'rooms.create', args: ['acct1', 'Lunch', null] });
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  assert.equal(body.ok, true);
  assert.equal(body.value.name, 'Lunch');
  assert.deepEqual(harness.calls, [{ method: 'rooms.create', args: ['acct1', 'Lunch', null] }]);
});

test('/rpc without a token is 401 and the core is not called', async () => {
  harness.calls.length = 0;
  const r = await request(bridge.port, { method: 'POST', path: '/rpc', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'accounts.list', args: [] }) });
  assert.equal(r.status, 401);
  assert.equal(harness.calls.length, 0);
});

test('/rpc with a wrong token (same length, or prefix) is 401', async () => {
  harness.calls.length = 0;
  const flipped = (bridge.token[0] === 'a' ? 'b' : 'a') + bridge.token.slice(1);
  for (const bad of [flipped, bridge.token.slice(0, 32), `${bridge.token}00`]) {
    const r = await rpc({ method: 'accounts.list', args: [] }, { authorization: `Bearer ${bad}` });
    assert.equal(r.status, 401, bad);
  }
  const basic = await rpc({ method: 'accounts.list', args: [] }, { authorization: `Basic ${bridge.token}` });
  assert.equal(basic.status, 401);
  assert.equal(harness.calls.length, 0);
});

test('tokenMatches compares exactly', () => {
  assert.equal(tokenMatches('abc', 'abc'), true);
  assert.equal(tokenMatches('abc', 'abd'), false);
  assert.equal(tokenMatches('abc', ''), false);
  assert.equal(tokenMatches('abc', undefined), false);
});

test('a foreign Host (DNS rebinding) is 403, even with the right token, for pages and RPC', async () => {
  harness.calls.length = 0;
  for (const host of ['evil.example', `evil.example:${bridge.port}`, `127.0.0.1:${bridge.port + 1}`, '127.0.0.1']) {
    const r = await rpc({ method: 'accounts.list', args: [] }, { host });
    assert.equal(r.status, 403, host);
    const page = await request(bridge.port, { headers: { host } });
    assert.equal(page.status, 403, host);
  }
  const ok = await request(bridge.port, { headers: { host: `localhost:${bridge.port}` } });
  assert.equal(ok.status, 200);
  assert.equal(harness.calls.length, 0);
});

test('a foreign Origin is 403; our own origin is accepted', async () => {
  harness.calls.length = 0;
  for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${bridge.port + 1}`, `https://127.0.0.1:${bridge.port}`]) {
    const r = await rpc({ method: 'accounts.list', args: [] }, { origin });
    assert.equal(r.status, 403, origin);
  }
  assert.equal(harness.calls.length, 0);
  const mine = await rpc({ method: 'accounts.list', args: [] }, { origin: `http://127.0.0.1:${bridge.port}` });
  assert.equal(mine.status, 200);
});

test('hostile arguments get invalidArgument and never reach the core', async () => {
  harness.calls.length = 0;
  const hostile: unknown[] = [
    { method: '__proto__', args: [] },
    { method: 'constructor', args: [] },
    { method: 'toString', args: [] },
    { method: 42, args: [] },
    { method: 'accounts.switchTo', args: 'acct1' },
    { method: 'accounts.switchTo', args: [{ toString: 'x' }] },
    { method: 'rooms.create', args: ['acct1', 'x'.repeat(101), null] },
    { method: 'rooms.create', args: ['acct1', 'a\u0000b', null] },
    { method: 'messages.page', args: ['acct1', 'mimi://a/r/x', -1, 10] },
    { method: 'messages.page', args: ['acct1', 'https://a/r/x', null, 10] },
    JSON.parse('{"method":"accounts.register","args":[{"handle":"bob","password":"hunter22","__proto__":{"admin":true}}]}'),
    { method: 'accounts.register', args: [{ handle: 'bob', password: 'hunter22', admin: true }] },
  ];
  for (const body of hostile) {
    const r = await rpc(body);
    assert.equal(r.status, 200, JSON.stringify(body));
    const parsed = JSON.parse(r.body);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.code, 'invalidArgument', JSON.stringify(body));
  }
  assert.equal(harness.calls.length, 0);
});

test('pseudonym and connection calls reach the core; bad pseudonyms, counts and ids do not', async () => {
  harness.calls.length = 0;
  const refill = JSON.parse((await rpc({ method: 'pseudonyms.refill', args: ['acct1', 4] })).body);
  assert.deepEqual(refill, { ok: true, value: { ...pool('acct1'), refilling: true } });
  const retire = JSON.parse((await rpc({ method: 'pseudonyms.retire', args: ['acct1', 'mimi://a.example/p/abc'] })).body);
  assert.deepEqual(retire.error, { code: 'invalidArgument', message: 'That pseudonym is not in this account’s pool.' });
  const connect = JSON.parse((await rpc({ method: 'connections.connect', args: ['acct1', 'bob@b.example'] })).body);
  assert.equal(connect.error.code, 'userUnknown');
  const accept = JSON.parse((await rpc({ method: 'connections.accept', args: ['acct1', 'mimi://a.example/r/boot'] })).body);
  assert.deepEqual(accept, { ok: true, value: noConnections() });
  const minimal = JSON.parse((await rpc({ method: 'rooms.createMinimalMetadata', args: ['acct1', 'Quiet', null] })).body);
  assert.equal(minimal.value.name, 'Quiet');
  const policy = JSON.parse((await rpc({ method: 'connections.policy', args: ['acct1'] })).body);
  assert.deepEqual(policy, { ok: true, value: { mode: 'anyone', domains: [] } });
  const set = JSON.parse((await rpc({ method: 'connections.setPolicy', args: ['acct1', { mode: 'domains', domains: ['b.example'] }] })).body);
  assert.deepEqual(set, { ok: true, value: { mode: 'domains', domains: ['b.example'] } });
  assert.deepEqual(
    harness.calls.map((c) => c.method),
    ['pseudonyms.refill', 'pseudonyms.retire', 'connections.connect', 'connections.accept', 'rooms.createMinimalMetadata', 'connections.policy', 'connections.setPolicy'],
  );

  harness.calls.length = 0;
  for (const body of [
    { method: 'pseudonyms.refill', args: ['acct1', 0] },
    { method: 'pseudonyms.refill', args: ['acct1', 1000] },
    { method: 'pseudonyms.retire', args: ['acct1', 'mimi://a.example/u/alice'] },
    { method: 'pseudonyms.retire', args: ['acct1', 'mimi://a.example/p/../../x'] },
    { method: 'connections.accept', args: ['acct1', 'https://a.example/r/boot'] },
    { method: 'connections.decline', args: ['acct1'] },
    { method: 'connections.connect', args: ['acct1', 'bob'] },
    { method: 'connections.setPolicy', args: ['acct1', { mode: 'maybe', domains: [] }] },
    { method: 'connections.setPolicy', args: ['acct1', { mode: 'domains', domains: ['B.EXAMPLE'] }] },
    { method: 'connections.setPolicy', args: ['acct1', { mode: 'nobody', domains: [], note: 'x' }] },
  ]) {
    const parsed = JSON.parse((await rpc(body)).body);
    assert.equal(parsed.ok, false, JSON.stringify(body));
    assert.equal(parsed.error.code, 'invalidArgument', JSON.stringify(body));
  }
  assert.equal(harness.calls.length, 0);
});

test('a message report reaches the core as sent; bad ids and reasons do not', async () => {
  harness.calls.length = 0;
  const ids = ['1'.repeat(64), '2'.repeat(64)];
  const ok = JSON.parse((await rpc({ method: 'messages.report', args: ['acct1', 'mimi://a.example/r/one', ids, 0xf2, 'kept at it all evening'] })).body);
  assert.deepEqual(ok, { ok: true });
  assert.deepEqual(harness.calls, [{ method: 'messages.report', args: ['acct1', 'mimi://a.example/r/one', ids, 0xf2, 'kept at it all evening'] }]);

  harness.calls.length = 0;
  for (const args of [
    ['acct1', 'mimi://a.example/r/one', [], 0xf2, ''],
    ['acct1', 'mimi://a.example/r/one', ['1'.repeat(64), '1'.repeat(64)], 0xf2, ''],
    ['acct1', 'mimi://a.example/r/one', ['xyz'], 0xf2, ''],
    ['acct1', 'mimi://a.example/r/one', ['1'.repeat(64)], 7, ''],
    ['acct1', 'mimi://a.example/r/one', ['1'.repeat(64)], 0xf2, 'n'.repeat(2001)],
  ]) {
    const parsed = JSON.parse((await rpc({ method: 'messages.report', args })).body);
    assert.equal(parsed.ok, false, JSON.stringify(args).slice(0, 120));
    assert.equal(parsed.error.code, 'invalidArgument');
  }
  assert.equal(harness.calls.length, 0);
});

test('malformed bodies are refused before the core', async () => {
  harness.calls.length = 0;
  assert.equal((await rpc('{not json')).status, 400);
  assert.equal((await rpc('[]')).status, 400);
  assert.equal((await rpc({ method: 'accounts.list', args: [], extra: 1 })).status, 400);
  assert.equal((await rpc({ method: 'accounts.list', args: [] }, { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await request(bridge.port, { path: '/rpc', headers: { authorization: `Bearer ${bridge.token}` } })).status, 405);
  assert.equal(harness.calls.length, 0);
});

test('an oversize body is 413 and never parsed', async () => {
  harness.calls.length = 0;
  const big = JSON.stringify({ method: 'messages.send', args: ['acct1', 'mimi://a/r/x', 'x'.repeat(600_000)] });
  const r = await rpc(big);
  assert.equal(r.status, 413);
  // Same with chunked encoding, where no Content-Length announces the size up front.
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: bridge.port,
        method: 'POST',
        path: '/rpc',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bridge.token}`, 'transfer-encoding': 'chunked' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write('x'.repeat(64 * 1024));
    req.end();
  });
  assert.equal(chunked, 413);
  assert.equal(harness.calls.length, 0);
});

test('core errors cross as code + message; unexpected errors leak nothing', async () => {
  const taken = JSON.parse((await rpc({ method: 'accounts.register', args: [{ handle: 'bob', password: 'hunter22' }] })).body);
  assert.deepEqual(taken, { ok: false, error: { code: 'handleTaken', message: 'That handle is taken.' } });
  const internal = JSON.parse((await rpc({ method: 'accounts.login', args: [{ handle: 'bob', password: 'hunter22' }] })).body);
  assert.equal(internal.ok, false);
  assert.equal(internal.error.code, 'internal');
  assert.doesNotMatch(internal.error.message, /secret|\.key/);
});

test('the renderer is served with the CSP header, and nothing outside its folder', async () => {
  const page = await request(bridge.port, { path: '/' });
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>mimi<\/title>/);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /object-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${bridge.port}`));
  assert.doesNotMatch(csp, /unsafe/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  const secret = `${path.basename(rendererDir)}-secret.txt`;
  for (const p of [`/../${secret}`, `/%2e%2e/${secret}`, `/..%2f${secret}`, '/%00', '/missing.js']) {
    const r = await request(bridge.port, { path: p });
    assert.ok(r.status === 404 || r.status === 400, `${p} -> ${r.status}`);
    assert.doesNotMatch(r.body, /outside/);
  }
});

function openEvents(headers: Record<string, string> = {}, protocols: string[] = [EVENTS_SUBPROTOCOL, `token.${bridge.token}`], query = '') {
  return new WebSocket(`ws://127.0.0.1:${bridge.port}/events${query}`, protocols, { headers });
}

function refusedStatus(ws: WebSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('connection was accepted')));
    ws.on('error', () => {});
  });
}

test('the events socket refuses missing/wrong tokens, foreign Origin and foreign Host', async () => {
  assert.equal(await refusedStatus(openEvents({}, [EVENTS_SUBPROTOCOL])), 401);
  assert.equal(await refusedStatus(openEvents({}, [EVENTS_SUBPROTOCOL, `token.${'0'.repeat(64)}`])), 401);
  assert.equal(await refusedStatus(openEvents({ origin: 'https://evil.example' })), 403);
  assert.equal(await refusedStatus(openEvents({ host: 'evil.example' })), 403);
  assert.equal(harness.listeners.size, 0);
});

test('core events flow over the WebSocket, and unsubscribe on close', async () => {
  const ws = openEvents({ origin: `http://127.0.0.1:${bridge.port}` });
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  assert.equal(ws.protocol, EVENTS_SUBPROTOCOL); // the token is never echoed back
  assert.equal(harness.listeners.size, 1);
  const received = new Promise<CoreEvent>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
  const event: CoreEvent = { type: 'error', accountId: 'acct1', message: 'provider unreachable' };
  harness.emit(event);
  assert.deepEqual(await received, event);
  ws.close();
  await new Promise((r) => ws.once('close', r));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(harness.listeners.size, 0);

  // The ?token= form works too.
  const viaQuery = openEvents({}, [EVENTS_SUBPROTOCOL], `?token=${bridge.token}`);
  await new Promise<void>((resolve, reject) => {
    viaQuery.on('open', () => resolve());
    viaQuery.on('error', reject);
  });
  viaQuery.close();
});
