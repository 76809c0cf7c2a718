// kill -9 durability: the provider process is SIGKILLed in the middle of a burst of messages,
// restarted on the same data dir and port, and the sender retries whatever did not get a 200
// (same requestId). The recipient's push stream from cursor 0 must then hold every message exactly
// once: nothing acknowledged was lost, nothing retried was delivered twice.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fromB64, toB64, toHex, utf8 } from '../../src-shared/bytes.js';
import { welcomeRecipients } from '../../src-shared/mls-wire.js';
import type { PushEvent, PushFrame } from '../../src-shared/provider-api.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import WebSocket from 'ws';
import { PROVIDER_ENTRY, restartablePort, ROOT, startProviderProcess, tempDir, type ProviderProcess } from '../helpers/provider-process.js';

const BURST = 400;
let provider: ProviderProcess | undefined;
const dirs: string[] = [];

after(async () => {
  await provider?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Everything in a device's inbox after `cursor`, up to the caughtUp marker. */
function drainPush(p: ProviderProcess, token: string, cursor: number): Promise<PushEvent[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${p.url.replace('https', 'wss')}/v1/events?cursor=${cursor}`, {
      ca: p.caPem,
      headers: { authorization: `Bearer ${token}` },
    });
    const events: PushEvent[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as PushFrame;
      if (f.type === 'event') events.push(f);
      else {
        ws.close();
        resolve(events);
      }
    });
    ws.on('error', reject);
    setTimeout(() => reject(new Error('push stream did not catch up')), 20_000).unref();
  });
}

test('SIGKILL mid-burst, restart, retry: every message delivered exactly once', async (t) => {
  const engine = await createMlsEngine();
  const dataDir = tempDir('crash');
  dirs.push(dataDir);
  provider = await startProviderProcess({ domain: 'a.example', dataDir, port: await restartablePort() });
  const port = provider.port;
  const client = (token?: string) => new ProviderClient({ baseUrl: provider!.url, caPem: provider!.caPem, token, timeoutMs: 10_000 });

  // alice and bob share a room.
  const alice = client();
  const aSession = await alice.register({ handle: 'alice', password: 'alice password 1', deviceName: 'a' });
  const bob = client();
  const bSession = await bob.register({ handle: 'bob', password: 'bob password 12', deviceName: 'b' });
  const aKeys = await engine.newDeviceKeys(aSession.deviceUri);
  const bKeys = await engine.newDeviceKeys(bSession.deviceUri);
  const [bKp] = await engine.generateKeyPackages(bKeys, 1);
  await bob.uploadKeyPackages({ keyPackages: [toB64(bKp.publicMessage)] });
  const roomUri = 'mimi://a.example/r/crash-room';
  await alice.createRoom({ roomUri });
  let group = await engine.createGroup(aKeys, roomUri);
  const claim = await alice.claim({ roomUri, users: [bSession.userUri] });
  const add = await group.add([fromB64(claim.results[0].clients[0].keyPackage!)]);
  await alice.commit(roomUri, {
    commit: toB64(add.commit),
    welcome: toB64(add.welcome!),
    groupInfo: toB64(add.groupInfo),
    ratchetTree: toB64(add.ratchetTree),
    addUsers: [bSession.userUri],
    requestId: 'add-bob',
  });
  group = add.pending;

  // The burst: distinct messages with distinct requestIds, all in flight at once.
  const burst: { requestId: string; message: string }[] = [];
  for (let i = 0; i < BURST; i++) {
    const m = await group.encrypt(utf8(`message ${i}`));
    group = m.session;
    burst.push({ requestId: `burst-${i}`, message: toB64(m.message) });
  }
  const ok = new Set<string>();
  const sending = burst.map((r) =>
    alice.sendMessage(roomUri, r).then(
      (res) => {
        assert.equal(res.duplicate, false);
        ok.add(r.requestId);
      },
      (e: unknown) => {
        assert.ok(e instanceof ProviderError, String(e));
      },
    ),
  );
  // Kill once part of the burst is through: some requests are answered, some are in flight.
  const deadline = Date.now() + 20_000;
  while (ok.size < BURST / 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  await provider.kill9();
  await Promise.all(sending);
  alice.close();
  const answeredBeforeCrash = ok.size;
  assert.ok(answeredBeforeCrash > 0, 'some requests were answered before the kill');
  assert.ok(answeredBeforeCrash < BURST, `the kill landed mid-burst (${answeredBeforeCrash}/${BURST} answered)`);

  // Same data dir, same port.
  const caBefore = provider.caPem;
  provider = await startProviderProcess({ domain: 'a.example', dataDir, port });
  assert.equal(provider.port, port);
  assert.equal(provider.caPem, caBefore, 'same dev CA after the restart');
  const alice2 = client(aSession.token);
  let duplicates = 0;
  for (const r of burst.filter((b) => !ok.has(b.requestId))) {
    const res = await alice2.sendMessage(roomUri, r);
    if (res.duplicate) duplicates++; // accepted before the crash, answer lost with the connection
    ok.add(r.requestId);
  }
  // Retrying an answered request is harmless too.
  assert.equal((await alice2.sendMessage(roomUri, burst[0])).duplicate, ok.has(burst[0].requestId));
  assert.equal(ok.size, BURST);

  const events = await drainPush(provider, bSession.token, 0);
  const welcome = events.filter((e) => e.kind === 'welcome');
  assert.equal(welcome.length, 1);
  assert.ok(welcomeRecipients(fromB64(welcome[0].payload)).some((r) => toHex(r) === toHex(bKp.ref)));
  const messages = events.filter((e) => e.kind === 'message');
  const seen = new Map<string, number>();
  for (const e of messages) seen.set(e.payload, (seen.get(e.payload) ?? 0) + 1);
  const missing = burst.filter((b) => !seen.has(b.message)).length;
  const doubled = [...seen.values()].filter((n) => n > 1).length;
  assert.equal(missing, 0, 'no accepted message lost');
  assert.equal(doubled, 0, 'no message delivered twice');
  assert.equal(messages.length, BURST);
  const seqs = events.map((e) => e.seq);
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'seq strictly increasing');
  t.diagnostic(`${answeredBeforeCrash} answered before SIGKILL, ${duplicates} retries had already been accepted`);
  alice2.close();
  bob.close();
});

test('CLI: missing or bad options print usage on stderr and exit 2', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [PROVIDER_ENTRY, ...args], { cwd: ROOT });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const dir = tempDir('cli');
  dirs.push(dir);
  for (const args of [[], ['--domain', 'a.example', '--port', '0'], ['--domain', 'a.example', '--port', 'abc', '--data', dir], ['--domain', 'A B', '--port', '0', '--data', dir], ['--bogus']]) {
    const r = await run(args);
    assert.equal(r.code, 2, `exit code for ${args.join(' ')}`);
    assert.match(r.stderr, /usage: provider --domain/);
  }
});
