// A pooled keep-alive connection the provider has just closed as idle (src-shared/idle-connection.ts):
// the next request on it fails before the server reads it. Every client request site sends it once
// more on a fresh connection: attachment uploads and downloads (net/asset-transfer.ts), the provider
// client's JSON calls and backup chunks (net/provider-client.ts), and a provider's requests to its
// peers (federation/peer-client.ts). A real TLS server on loopback
// closes the connection the moment a request arrives on a reused one, without answering: what a
// server whose idle timer fired a moment earlier does. Found by an e2e run on a loaded machine,
// where an upload a few seconds after the last failed with "socket hang up".

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closedWhileIdle } from '../../src-shared/idle-connection.js';
import { AssetTransfer, TransferFailure } from '../../src-main/net/asset-transfer.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { ensureDevCa, issueClientCertificate } from '../../src-provider/dev-ca.js';
import { PeerClient, PeerError } from '../../src-provider/federation/peer-client.js';
import { DIRECTORY_PATH } from '../../src-provider/directory.js';

type Mode = 'answer' | 'dropReused' | 'dropAll';

interface Seen {
  method: string;
  path: string;
  /** 1-based number of the request on its connection. */
  onConnection: number;
  dropped: boolean;
  body: Buffer;
}

let server: https.Server;
let baseUrl = '';
let caPem = '';
let ca: Awaited<ReturnType<typeof ensureDevCa>>;
let dir = '';
let mode: Mode = 'answer';
const seen: Seen[] = [];
const connections = new Set<Socket>();
const requestsOn = new WeakMap<Socket, number>();
const ASSET = Buffer.from('ciphertext of a file, as stored');

function serve(req: IncomingMessage, res: ServerResponse, continued: boolean): void {
  const socket = req.socket;
  const n = (requestsOn.get(socket) ?? 0) + 1;
  requestsOn.set(socket, n);
  const drop = mode === 'dropAll' || (mode === 'dropReused' && n > 1);
  const entry: Seen = { method: req.method ?? '', path: req.url ?? '', onConnection: n, dropped: drop, body: Buffer.alloc(0) };
  seen.push(entry);
  if (drop) {
    socket.destroy(); // no answer, no Continue: the connection is simply gone
    return;
  }
  if (continued) res.writeContinue();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    entry.body = Buffer.concat(chunks);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.method === 'POST' && req.url === '/v1/assets') json(201, { url: `${baseUrl}/assets/a${seen.length}` });
    else if (req.method === 'GET' && req.url?.startsWith('/v1/rooms/')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(ASSET.length) });
      res.end(ASSET);
    } else if (req.method === 'PUT' && req.url?.startsWith('/v1/me/backups/')) json(200, { size: entry.body.length });
    else if (req.method === 'GET' && req.url === DIRECTORY_PATH) json(200, { notify: `${baseUrl}/notify/{roomId}` });
    else if (req.method === 'POST' && req.url?.startsWith('/notify/')) {
      res.writeHead(200, { 'content-type': 'application/mimi', 'content-length': '0' });
      res.end();
    } else json(200, { keyPackages: [] });
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-idle-'));
  ca = await ensureDevCa(dir, 'localhost');
  caPem = ca.caPem;
  server = https.createServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (req, res) => serve(req, res, false));
  server.on('checkContinue', (req, res) => serve(req, res, true));
  server.on('connection', (s: Socket) => {
    connections.add(s);
    s.on('close', () => connections.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  for (const s of connections) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts each case from a server that answers and has no connection open. */
function reset(next: Mode = 'answer'): void {
  for (const s of connections) s.destroy();
  seen.length = 0;
  mode = next;
}

const transfer = () => new AssetTransfer({ baseUrl, caPem, authorization: () => 'Bearer t' });

test('closedWhileIdle: only a reset or broken pipe on a reused connection, before any answer', () => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  assert.equal(closedWhileIdle({ reusedSocket: true }, reset, false), true);
  assert.equal(closedWhileIdle({ reusedSocket: true }, pipe, false), true);
  assert.equal(closedWhileIdle({ reusedSocket: false }, reset, false), false, 'a fresh connection failing is a real failure');
  assert.equal(closedWhileIdle({ reusedSocket: true }, reset, true), false, 'after an answer began, the server acted');
  assert.equal(closedWhileIdle({ reusedSocket: true }, Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), false), false);
  assert.equal(closedWhileIdle({ reusedSocket: true }, new Error('no code'), false), false);
  assert.equal(closedWhileIdle({ reusedSocket: true }, null, false), false);
});

test('attachment upload: sent once more on a fresh connection when the pooled one was closed; the body only once', async () => {
  reset();
  const t = transfer();
  try {
    const first = await t.upload(new Uint8Array([1, 2, 3]), () => {});
    mode = 'dropReused';
    const progress: number[] = [];
    const body = new Uint8Array(200_000).map((_, i) => i % 251);
    const second = await t.upload(body, (d) => progress.push(d));
    assert.notEqual(first.url, second.url);
    assert.deepEqual(
      seen.map((s) => [s.method, s.onConnection, s.dropped]),
      [
        ['POST', 1, false],
        ['POST', 2, true],
        ['POST', 1, false],
      ],
      'the retry went out on a new connection',
    );
    assert.equal(seen[1].body.length, 0, 'nothing of the body went out on the closed connection');
    assert.ok(Buffer.from(body).equals(seen[2].body), 'the provider got the whole file once');
    assert.equal(progress.at(-1), body.length);
  } finally {
    t.close();
  }
});

test('attachment download: asked once more after a closed pooled connection', async () => {
  reset();
  const t = transfer();
  try {
    await t.download('mimi://localhost/r/room', `${baseUrl}/assets/x`, ASSET.length, () => {});
    mode = 'dropReused';
    const got = await t.download('mimi://localhost/r/room', `${baseUrl}/assets/x`, ASSET.length, () => {});
    assert.ok(Buffer.from(got).equals(ASSET));
    assert.deepEqual(
      seen.map((s) => [s.onConnection, s.dropped]),
      [
        [1, false],
        [2, true],
        [1, false],
      ],
    );
  } finally {
    t.close();
  }
});

test('a failure on a fresh connection, or a second one, is reported and not retried again', async () => {
  reset('dropAll');
  const t = transfer();
  try {
    await assert.rejects(t.upload(new Uint8Array([1]), () => {}), (e: unknown) => e instanceof TransferFailure && e.status === 0 && e.code === 'unreachable');
    assert.equal(seen.length, 1, 'a fresh connection failing is not retried');
    reset();
    await t.download('mimi://localhost/r/room', `${baseUrl}/assets/x`, ASSET.length, () => {});
    mode = 'dropAll';
    await assert.rejects(t.download('mimi://localhost/r/room', `${baseUrl}/assets/x`, ASSET.length, () => {}), (e: unknown) => e instanceof TransferFailure && e.code === 'unreachable');
    assert.deepEqual(
      seen.map((s) => [s.onConnection, s.dropped]),
      [
        [1, false],
        [2, true],
        [1, true],
      ],
      'one retry, on a fresh connection, then the failure',
    );
  } finally {
    t.close();
  }
});

test('provider client: JSON calls and backup chunks (up and down) are sent once more after a closed pooled connection', async () => {
  reset();
  const client = new ProviderClient({ baseUrl, caPem, token: 't' });
  try {
    const chunk = new Uint8Array(50_000).fill(7);
    await client.putBackupChunk('b1', 1, 0, chunk);
    for (const call of [
      () => client.putBackupChunk('b1', 1, 1, chunk),
      () => client.getBackupChunk('b1', 1, 0),
      () => client.listBackup('b1'),
    ]) {
      mode = 'dropReused';
      const before = seen.length;
      await call();
      const mine = seen.slice(before);
      assert.deepEqual(
        mine.map((s) => [s.onConnection > 1, s.dropped]),
        [
          [true, true],
          [false, false],
        ],
        `${mine[0]?.method} ${mine[0]?.path}: dropped on the pooled connection, answered on a fresh one`,
      );
    }
    assert.equal(seen.filter((s) => s.method === 'PUT' && !s.dropped).length, 2);
    assert.ok(seen.filter((s) => s.method === 'PUT' && s.dropped).every((s) => s.body.length === 0), 'no chunk went out on a closed connection');
    reset('dropAll');
    await assert.rejects(client.listBackup('b1'), (e: unknown) => e instanceof ProviderError && e.code === 'unreachable');
    assert.equal(seen.length, 1);
  } finally {
    client.close();
  }
});

test('provider to peer: a MIMI request is sent once more after a closed pooled connection, once only', async () => {
  reset();
  const client = await issueClientCertificate(ca, 'a.example');
  const peers = new PeerClient({
    ownDomain: 'a.example',
    config: { peers: new Map([['localhost', baseUrl]]), trustPem: [caPem] },
    clientCertPem: client.certPem,
    clientKeyPem: client.keyPem,
  });
  try {
    await peers.post('localhost', 'notify', 'room1', new Uint8Array([1, 2, 3]));
    mode = 'dropReused';
    await peers.post('localhost', 'notify', 'room1', new Uint8Array([4, 5, 6]));
    assert.deepEqual(
      seen.map((s) => [s.method, s.onConnection > 1, s.dropped]),
      [
        ['GET', false, false],
        ['POST', true, false],
        ['POST', true, true],
        ['POST', false, false],
      ],
    );
    assert.deepEqual([...seen[3].body], [4, 5, 6]);
    mode = 'dropAll';
    await assert.rejects(peers.post('localhost', 'notify', 'room1', new Uint8Array([7])), (e: unknown) => e instanceof PeerError && e.code === 'unreachable');
    assert.equal(seen.length, 6, 'the pooled connection, then one fresh one: no more');
  } finally {
    peers.close();
  }
});
