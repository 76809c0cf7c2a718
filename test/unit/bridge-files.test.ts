// The browser-mode bridge and files (docs/attachments.md): messages.sendFile may carry a body up to
// the contract's file limit, but only when the request announces it (X-Mimi-Method) and the body
// calls exactly that method; every other call keeps the 128 KiB limit.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startBridge, type Bridge } from '../../src-main/bridge/bridge-server.js';
import type { FileArgs, MimiApi } from '../../src-shared/contract.js';

let bridge: Bridge;
let dir: string;
const received: FileArgs[] = [];
const sent: string[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-bridge-files-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>mimi</title>');
  // Only what these calls reach; dispatch looks methods up by name.
  const core = {
    messages: {
      sendFile: async (_a: string, _r: string, file: FileArgs) => {
        received.push(file);
        return { seq: 1 };
      },
      send: async (_a: string, _r: string, text: string) => {
        sent.push(text);
        return { seq: 2 };
      },
    },
    onEvent: () => () => undefined,
  } as unknown as MimiApi;
  bridge = await startBridge({ core, rendererDir: dir, log: () => {} });
});

after(async () => {
  await bridge.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function rpc(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: bridge.port,
        method: 'POST',
        path: '/rpc',
        headers: { host: `127.0.0.1:${bridge.port}`, 'content-type': 'application/json', authorization: `Bearer ${bridge.token}`, 'content-length': String(payload.length), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const ROOM = 'mimi://a.example/r/lunch';
const bigFile = (): FileArgs => ({ name: 'big.bin', type: 'application/octet-stream', data: Buffer.alloc(3 * 1024 * 1024, 7).toString('base64') });

test('a 3 MB file passes when announced, and only then', async () => {
  const plain = await rpc({ method: 'messages.sendFile', args: ['acct1', ROOM, bigFile()] });
  assert.equal(plain.status, 413);
  assert.equal(received.length, 0);
  const announced = await rpc({ method: 'messages.sendFile', args: ['acct1', ROOM, bigFile()] }, { 'x-mimi-method': 'messages.sendFile' });
  assert.equal(announced.status, 200, announced.body);
  assert.equal(JSON.parse(announced.body).ok, true);
  assert.equal(received.length, 1);
  assert.equal(Buffer.from(received[0].data, 'base64').length, 3 * 1024 * 1024);
});

test('the announcement does not lift the limit for another method', async () => {
  const smuggled = await rpc({ method: 'messages.send', args: ['acct1', ROOM, 'x'.repeat(10)] }, { 'x-mimi-method': 'messages.sendFile' });
  assert.equal(smuggled.status, 400);
  assert.match(smuggled.body, /another method/);
  assert.deepEqual(sent, []);
});

test('a file body past the contract limit is still refused before it is parsed', async () => {
  const huge = { name: 'huge.bin', type: '', data: 'A'.repeat(40 * 1024 * 1024) };
  const r = await rpc({ method: 'messages.sendFile', args: ['acct1', ROOM, huge] }, { 'x-mimi-method': 'messages.sendFile' });
  assert.equal(r.status, 413);
  assert.equal(received.length, 1);
});
