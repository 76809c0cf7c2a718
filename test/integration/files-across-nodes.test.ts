// Attachments and backup chunks on a provider of several nodes sharing one PostgreSQL (issue 17):
// their contents are rows (src-provider/pg/schema.ts v3), not files in one node's folder, so what
// was uploaded through node A is served by node B, byte for byte, larger than one piece (1 MiB);
// a backup chunk rewritten through B is read back new through A; and deleting it through one node
// leaves nothing for the other. Runs on the suite's PostgreSQL server (MIMI_TEST_POSTGRES) or a
// throwaway one of its own.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { ProviderClient, ProviderError } from '../../src-main/net/provider-client.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startProviderProcess, tempDir, testDatabase, type ProviderProcess } from '../helpers/provider-process.js';

let server: PostgresServer | undefined;
const nodes: ProviderProcess[] = [];
const clients: ProviderClient[] = [];

before(async () => {
  const dataDir = tempDir('files-nodes');
  let url = await testDatabase(dataDir);
  if (!url) {
    server = await startPostgres();
    url = server.url;
  }
  // Two nodes of a.example: one data folder (so one TLS identity, as copied to each machine), one database.
  const args = ['--database', url, '--max-asset-bytes', String(4 * 1024 * 1024)];
  nodes.push(await startProviderProcess({ domain: 'a.example', dataDir, args: [...args, '--node-id', 'one'] }));
  nodes.push(await startProviderProcess({ domain: 'a.example', dataDir, args: [...args, '--node-id', 'two'] }));
});
after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) await n.stop();
  await server?.stop();
});

function client(node: ProviderProcess, token?: string): ProviderClient {
  const c = new ProviderClient({ baseUrl: node.url, caPem: node.caPem, token });
  clients.push(c);
  return c;
}

/** One HTTPS request to `node`: status and body bytes. */
function request(node: ProviderProcess, method: string, p: string, token: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body) Object.assign(headers, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    const req = https.request(new URL(node.url + p), { method, ca: node.caPem, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('an attachment uploaded through one node is served by the other, byte for byte', async () => {
  const [one, two] = nodes;
  const alice = client(one);
  await alice.register({ handle: `alice${process.pid % 1000}`, password: 'correct horse battery staple', deviceName: 'Laptop' });
  const token = alice.token!;
  // More than three pieces, the last one partial.
  const ciphertext = randomBytes(3 * 1024 * 1024 + 12_345);
  const up = await request(one, 'POST', '/v1/assets', token, ciphertext);
  assert.equal(up.status, 201, up.body.toString());
  const { url, size } = JSON.parse(up.body.toString()) as { url: string; size: number };
  assert.equal(size, ciphertext.length);
  const id = new URL(url).pathname;
  for (const node of [two, one]) {
    const got = await request(node, 'GET', id, token);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(ciphertext), `served by node ${node === one ? 'one' : 'two'} as uploaded`);
  }
  // An unknown asset is as unknown on either node.
  assert.equal((await request(two, 'GET', '/assets/AAAAAAAAAAAAAAAAAAAAAA', token)).status, 404);
});

test('a backup chunk written through one node is read, rewritten and deleted through the other', async () => {
  const [one, two] = nodes;
  const bob = client(two);
  await bob.register({ handle: `bob${process.pid % 1000}`, password: 'correct horse battery staple', deviceName: 'Laptop' });
  const onOne = client(one, bob.token);
  const id = randomBytes(16).toString('hex');
  const first = randomBytes(2 * 1024 * 1024 + 7);
  await onOne.putBackupChunk(id, 1, 0, first);
  assert.ok(Buffer.from(await bob.getBackupChunk(id, 1, 0)).equals(first), 'node two reads what node one stored');
  const second = randomBytes(1500);
  const info = await bob.putBackupChunk(id, 1, 0, second);
  assert.equal(info.size, second.length);
  assert.ok(Buffer.from(await onOne.getBackupChunk(id, 1, 0)).equals(second), 'node one reads the rewrite made through node two');
  assert.equal((await onOne.listBackup(id)).totalBytes, second.length);
  await onOne.deleteBackup(id);
  await assert.rejects(bob.getBackupChunk(id, 1, 0), (e) => e instanceof ProviderError && e.status === 404);
});
