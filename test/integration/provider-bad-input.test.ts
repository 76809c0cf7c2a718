// Hostile and broken input against a real provider: every case must get a clear typed ApiError,
// store nothing (row counts unchanged) and leave the server answering /v1/health.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { toB64, utf8 } from '../../src-shared/bytes.js';
import { MAX_BODY_BYTES, MAX_MESSAGE_BYTES, roomPath, type ApiError } from '../../src-shared/provider-api.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import {
  newRoomUri,
  publishKeyPackages,
  registerDevice,
  requestId,
  startTestProvider,
  uniqueHandle,
  type TestDevice,
  type TestProvider,
} from '../helpers/provider-fixture.js';

let tp: TestProvider;
let engine: MlsEngine;
let alice: TestDevice;
let roomUri: string;
let session: GroupSession;
let counts: Record<string, number>;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ApiError & Record<string, unknown>;
}

function raw(
  method: string,
  path: string,
  opts: { body?: string | Buffer; token?: string | null; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const token = opts.token === undefined ? alice.session.token : opts.token;
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${tp.p.url}${path}`,
      {
        method,
        ca: tp.p.caPem,
        agent: false,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...opts.headers },
      },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(data) });
          } catch {
            reject(new Error(`non-JSON answer ${res.statusCode}: ${data.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function expectError(res: Promise<RawResponse>, status: number, code: string): Promise<RawResponse> {
  const r = await res;
  assert.equal(r.status, status, `status; body: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error?.code, code, `code; body: ${JSON.stringify(r.body)}`);
  assert.equal(typeof r.body.error.message, 'string');
  assert.ok(r.body.error.message.length > 0);
  assert.doesNotMatch(r.body.error.message, /\bat .*\.ts:\d+/, 'no stack trace');
  assert.deepEqual(Object.keys(r.body), ['error']);
  return r;
}

const json = (v: unknown) => JSON.stringify(v);

before(async () => {
  engine = await createMlsEngine();
  tp = await startTestProvider('a.example');
  alice = await registerDevice(tp, engine, uniqueHandle('alice'));
  roomUri = newRoomUri();
  await alice.client.createRoom({ roomUri });
  session = await engine.createGroup(alice.keys, roomUri);
  const out = await session.update();
  await alice.client.commit(roomUri, { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: requestId() });
  session = out.pending;
  const bob = await registerDevice(tp, engine, uniqueHandle('bob'));
  await publishKeyPackages(engine, bob, 1);
  counts = tp.counts();
});

after(async () => {
  await tp?.stop();
});

// The invariant of this file: after every case, nothing was stored and the server still answers.
afterEach(async () => {
  assert.deepEqual(tp.counts(), counts, 'row counts changed');
  const h = await raw('GET', '/v1/health', { token: null });
  assert.equal(h.status, 200);
  assert.deepEqual(h.body, { ok: true });
});

test('malformed JSON, non-object bodies and non-UTF-8 bodies are 400 badRequest', async () => {
  await expectError(raw('POST', '/v1/accounts', { body: '{"handle": "x", ', token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: '', token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: '[1,2]', token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: 'null', token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), token: null }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/messages'), { body: '{message:' }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages', { body: 'not json at all' }), 400, 'badRequest');
});

test('wrong field types are 400 badRequest naming the field', async () => {
  const r = await expectError(raw('POST', '/v1/accounts', { body: json({ handle: 42, password: 'long enough pw', deviceName: 'x' }), token: null }), 400, 'badRequest');
  assert.match(r.body.error.message, /handle/);
  await expectError(raw('POST', '/v1/sessions', { body: json({ handle: 'x', password: ['a'], deviceName: 'x' }), token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: json({ handle: 'newuser', password: 'long enough pw' }), token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages', { body: json({ keyPackages: 'AAAA' }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages', { body: json({ keyPackages: [1, 2] }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages', { body: json({ keyPackages: [] }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages/claim', { body: json({ roomUri, users: 'mimi://a.example/u/bob' }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages/claim', { body: json({ users: [] }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/rooms', { body: json({ roomUri: 7 }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/rooms', { body: json({}) }), 400, 'badRequest');
  const out = await session.update();
  const good = { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: requestId() };
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, requestId: 5 }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, requestId: '' }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, addUsers: 'x' }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, addUsers: ['not a uri'] }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, groupInfo: undefined }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/messages'), { body: json({ message: null, requestId: 'r' }) }), 400, 'badRequest');
});

test('bad base64url is 400 badRequest', async () => {
  const out = await session.update();
  const good = { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: requestId() };
  for (const bad of ['!!!!', 'AAAAA', 'AA==', 'AB+/', 'A A ']) {
    const r = await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, commit: bad }) }), 400, 'badRequest');
    assert.match(r.body.error.message, /commit/);
  }
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, welcome: '***' }) }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/keyPackages', { body: json({ keyPackages: ['%%%%'] }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/messages'), { body: json({ message: 'a=b', requestId: 'r1' }) }), 400, 'badRequest');
});

test('truncated, garbage and wrong-kind MLS bytes are 400 badRequest', async () => {
  const [kp] = await engine.generateKeyPackages(alice.keys, 1);
  const out = await session.update();
  const msg = (await session.encrypt(utf8('hi'))).message;
  const good = { commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: requestId() };
  const garbage = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);

  // KeyPackages
  for (const bad of [kp.publicMessage.subarray(0, 3), kp.publicMessage.subarray(0, 5), garbage, new Uint8Array(0), msg]) {
    await expectError(raw('POST', '/v1/keyPackages', { body: json({ keyPackages: [toB64(kp.publicMessage), toB64(bad)] }) }), 400, 'badRequest');
  }
  await expectError(raw('POST', '/v1/keyPackages', { body: json({ keyPackages: [], lastResort: toB64(garbage) }) }), 400, 'badRequest');
  // Commits: truncated inside the header, garbage, an application message, a key package
  for (const bad of [out.commit.subarray(0, 20), out.commit.subarray(0, 4), garbage, msg, kp.publicMessage]) {
    await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, commit: toB64(bad) }) }), 400, 'badRequest');
  }
  // GroupInfo / Welcome of the wrong kind or malformed
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, groupInfo: toB64(out.commit) }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, groupInfo: toB64(out.groupInfo.subarray(0, 10)) }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, welcome: toB64(garbage) }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, welcome: toB64(out.commit) }) }), 400, 'badRequest');
  await expectError(raw('POST', roomPath(roomUri, '/commit'), { body: json({ ...good, ratchetTree: '' }) }), 400, 'badRequest');
  // Messages: truncated private message, a commit, garbage
  for (const bad of [msg.subarray(0, msg.length - 1), msg.subarray(0, 12), out.commit, garbage, new Uint8Array([0, 1, 0, 2])]) {
    await expectError(raw('POST', roomPath(roomUri, '/messages'), { body: json({ message: toB64(bad), requestId: requestId() }) }), 400, 'badRequest');
  }
});

test('MLS objects of another group are 400 badRequest', async () => {
  const other = await engine.createGroup(alice.keys, newRoomUri());
  const out = await other.update();
  const m = await other.encrypt(utf8('wrong room'));
  await expectError(
    raw('POST', roomPath(roomUri, '/commit'), { body: json({ commit: toB64(out.commit), groupInfo: toB64(out.groupInfo), ratchetTree: toB64(out.ratchetTree), requestId: requestId() }) }),
    400,
    'badRequest',
  );
  await expectError(raw('POST', roomPath(roomUri, '/messages'), { body: json({ message: toB64(m.message), requestId: requestId() }) }), 400, 'badRequest');
});

test('oversize bodies are 413 without reading them; the server stays up', async () => {
  // Declared length over the limit: refused before any byte of the body is read.
  const r = await new Promise<{ status: number; body: ApiError }>((resolve, reject) => {
    const req = https.request(
      `${tp.p.url}/v1/keyPackages`,
      {
        method: 'POST',
        ca: tp.p.caPem,
        agent: false,
        headers: { authorization: `Bearer ${alice.session.token}`, 'content-type': 'application/json', 'content-length': String(MAX_BODY_BYTES + 1) },
      },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }));
      },
    );
    req.on('error', reject);
    req.write('{"keyPackages": ['); // and never the rest
  });
  assert.equal(r.status, 413);
  assert.equal(r.body.error.code, 'tooLarge');

  // Streamed (chunked, no length): refused once it crosses the limit, while the client is still sending.
  let sent = 0;
  const streamed = await new Promise<{ status: number; body: ApiError }>((resolve, reject) => {
    const req = https.request(
      `${tp.p.url}/v1/keyPackages`,
      { method: 'POST', ca: tp.p.caPem, agent: false, headers: { authorization: `Bearer ${alice.session.token}`, 'content-type': 'application/json' } },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }));
      },
    );
    req.on('error', () => undefined); // the server hangs up on the rest of the body
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const pump = () => {
      while (sent < 8 * MAX_BODY_BYTES) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    req.write('{"keyPackages": ["');
    pump();
    setTimeout(() => reject(new Error('no answer to an oversize streamed body')), 10_000).unref();
  });
  assert.equal(streamed.status, 413);
  assert.equal(streamed.body.error.code, 'tooLarge');

  // An application message over MAX_MESSAGE_BYTES inside an acceptable body.
  const big = await session.encrypt(new Uint8Array(MAX_MESSAGE_BYTES + 100));
  await expectError(raw('POST', roomPath(roomUri, '/messages'), { body: json({ message: toB64(big.message), requestId: requestId() }) }), 413, 'tooLarge');
});

test('unknown room is 404 roomUnknown on every room route', async () => {
  const ghost = newRoomUri();
  const out = await session.update();
  const m = await session.encrypt(utf8('x'));
  await expectError(raw('GET', roomPath(ghost)), 404, 'roomUnknown');
  await expectError(raw('GET', roomPath(ghost, '/groupInfo')), 404, 'roomUnknown');
  // The MLS group id must match the path's room, so rebuild for the ghost room.
  const g = await engine.createGroup(alice.keys, ghost);
  const gOut = await g.update();
  const gMsg = await g.encrypt(utf8('x'));
  await expectError(
    raw('POST', roomPath(ghost, '/commit'), { body: json({ commit: toB64(gOut.commit), groupInfo: toB64(gOut.groupInfo), ratchetTree: toB64(gOut.ratchetTree), requestId: requestId() }) }),
    404,
    'roomUnknown',
  );
  await expectError(raw('POST', roomPath(ghost, '/messages'), { body: json({ message: toB64(gMsg.message), requestId: requestId() }) }), 404, 'roomUnknown');
  await expectError(raw('POST', '/v1/keyPackages/claim', { body: json({ roomUri: ghost, users: [] }) }), 404, 'roomUnknown');
  void out;
  void m;
});

test('wrong epoch: a commit for a past or future epoch is 409 wrongEpoch with currentEpoch', async () => {
  const future = await (await session.update()).pending.update();
  const r = await expectError(
    raw('POST', roomPath(roomUri, '/commit'), { body: json({ commit: toB64(future.commit), groupInfo: toB64(future.groupInfo), ratchetTree: toB64(future.ratchetTree), requestId: requestId() }) }),
    409,
    'wrongEpoch',
  );
  assert.equal(r.body.error.currentEpoch, '1');
});

test('missing or bad token is 401 unauthorized on every authenticated route', async () => {
  const routes: [string, string, string?][] = [
    ['GET', '/v1/me'],
    ['POST', '/v1/keyPackages', json({ keyPackages: [] })],
    ['GET', '/v1/keyPackages'],
    ['POST', '/v1/keyPackages/claim', json({ roomUri, users: [] })],
    ['POST', '/v1/rooms', json({ roomUri: newRoomUri() })],
    ['GET', '/v1/rooms'],
    ['GET', roomPath(roomUri)],
    ['POST', roomPath(roomUri, '/commit'), json({})],
    ['POST', roomPath(roomUri, '/messages'), json({})],
    ['GET', roomPath(roomUri, '/groupInfo')],
  ];
  for (const [method, path, body] of routes) {
    for (const token of [null, 'x'.repeat(43), 'short', '']) {
      await expectError(raw(method, path, { body, token }), 401, 'unauthorized');
    }
    await expectError(raw(method, path, { body, token: null, headers: { authorization: `Basic ${alice.session.token}` } }), 401, 'unauthorized');
  }
});

test('unknown routes are 404 notFound, wrong methods 405, bad path encoding 400', async () => {
  await expectError(raw('GET', '/v1/nope'), 404, 'notFound');
  await expectError(raw('GET', '/'), 404, 'notFound');
  await expectError(raw('POST', '/v1/rooms/x/y/z'), 404, 'notFound');
  const r = await expectError(raw('DELETE', '/v1/rooms'), 405, 'notAllowed');
  assert.match(String(r.body.error.message), /GET/);
  await expectError(raw('PUT', '/v1/health'), 405, 'notAllowed');
  await expectError(raw('GET', '/v1/rooms/%E0%A4%A'), 400, 'badRequest');
  await expectError(raw('GET', '/v1/events'), 426, 'badRequest');
});

test('a register that fails validation creates no user', async () => {
  await expectError(raw('POST', '/v1/accounts', { body: json({ handle: '-bad', password: 'long enough pw', deviceName: 'x' }), token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: json({ handle: 'x'.repeat(33), password: 'long enough pw', deviceName: 'x' }), token: null }), 400, 'badRequest');
  await expectError(raw('POST', '/v1/accounts', { body: json({ handle: 'okhandle', password: '1234567', deviceName: 'x' }), token: null }), 400, 'badRequest');
});
