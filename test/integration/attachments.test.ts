// Attachments across three real provider processes (docs/attachments.md), the draft-06 "Download
// using a hub proxy" picture exactly: a.example hosts the room (the hub), carol@c.example uploads
// to her own provider, bob@b.example downloads through b.example -> a.example's proxyDownload ->
// c.example; alice (at the hub) through a.example; carol directly from c.example. Everything through
// the `mimi` command. Then: the hub refusing a host that is no peer's asset server, the size limit
// (413) and the quota (507), and every provider's files scanned for the plaintext.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { federationFilePaths } from '../../src-provider/federation/mtls.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { mimi, register } from '../helpers/mimi-cli.js';
import { tempDir } from '../helpers/provider-process.js';
import { storedAssets } from '../helpers/provider-files.js';
import { providerStorageParts } from '../helpers/provider-db.js';

const running: FederatedProvider[] = [];
const links: Link[] = [];
after(async () => {
  for (const p of running) await p.stop();
  for (const l of links) await l.close();
});

const MAX = 300_000;
const QUOTA = 700_000;

/**
 * Whether any of a few 32-byte windows of `plain` occurs in anything the provider on `dir` keeps
 * (every file under its data folder; on PostgreSQL every value of every row too).
 */
function holdsPlaintext(dir: string, plain: Buffer): string | null {
  const windows = [0, Math.floor(plain.length / 2), plain.length - 32].map((o) => plain.subarray(o, o + 32));
  for (const f of providerStorageParts(dir)) {
    if (windows.some((w) => f.bytes.includes(w))) return f.where;
  }
  return null;
}

/** GET at `provider` as the peer `as` would (its federation identity, mutual TLS). */
function peerGet(provider: FederatedProvider, as: FederatedProvider, p: string): Promise<{ status: number; body: string }> {
  const id = federationFilePaths(as.dataDir);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: provider.port,
        path: p,
        method: 'GET',
        cert: fs.readFileSync(id.cert),
        key: fs.readFileSync(id.key),
        ca: provider.caPem,
        servername: provider.domain,
        headers: { host: provider.domain, from: `mimi@${as.domain}`, 'content-type': 'application/mimi' },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('attachments across three providers: upload to your own, download through the hub proxy', async () => {
  const f = await startFederation(['a.example', 'b.example', 'c.example'], {}, { args: ['--max-asset-bytes', String(MAX), '--asset-quota-bytes', String(QUOTA)] });
  const [a, b, c] = [f['a.example'], f['b.example'], f['c.example']];
  running.push(a, b, c);
  links.push(...Object.values(f.links));
  const dirs = { alice: path.join(tempDir('att-a'), 'p'), bob: path.join(tempDir('att-b'), 'p'), carol: path.join(tempDir('att-c'), 'p') };
  for (const [who, p] of [['alice', a], ['bob', b], ['carol', c]] as const) {
    const r = await register(dirs[who], p, who);
    assert.equal(r.code, 0, r.stderr);
  }
  const created = await mimi(['--profile', dirs.alice, 'create-room', 'photos']);
  assert.equal(created.code, 0, created.stderr);
  const room = created.stdout.trim();
  for (const u of ['bob@b.example', 'carol@c.example']) {
    const r = await mimi(['--profile', dirs.alice, 'add', room, u]);
    assert.equal(r.code, 0, r.stderr);
  }

  // The hub's directory now names proxyDownload.
  const dir = await peerGet(a, b, '/.well-known/mimi-protocol-directory');
  assert.match(JSON.parse(dir.body).proxyDownload, /\/mimi\/v1\/proxyDownload\/\{downloadUrl\}$/);

  // carol@c sends a file: encrypted on her device, uploaded to c.example.
  const work = tempDir('att-files');
  const plain = randomBytes(200_000);
  const src = path.join(work, 'holiday.png');
  fs.writeFileSync(src, plain);
  const sent = await mimi(['--profile', dirs.carol, 'send', room, '--file', src]);
  assert.equal(sent.code, 0, sent.stderr);
  // The ciphertext (16 bytes of tag longer) is stored by c.example (a file, or rows on PostgreSQL), and only there.
  const stored = [...storedAssets(c.dataDir).keys()];
  assert.deepEqual([...storedAssets(c.dataDir).values()].map((b) => b.length), [plain.length + 16]);
  assert.equal(storedAssets(a.dataDir).size, 0);

  // Everyone sees the message (the file's name) and downloads it.
  const tail = await mimi(['--profile', dirs.bob, 'tail', room, '--count', '1', '--timeout', '20', '--ids']);
  assert.equal(tail.code, 0, tail.stderr);
  const [msgId, sender, name] = tail.stdout.trim().split('\t');
  assert.equal(sender, 'carol@c.example');
  assert.equal(name, 'holiday.png');
  for (const who of ['bob', 'alice', 'carol'] as const) {
    const out = tempDir(`att-out-${who}`);
    const got = await mimi(['--profile', dirs[who], 'download', room, msgId, '--out', out]);
    assert.equal(got.code, 0, `${who}: ${got.stderr}`);
    assert.equal(got.stdout.trim(), path.join(out, 'holiday.png'));
    assert.ok(fs.readFileSync(path.join(out, 'holiday.png')).equals(plain), `${who} got the same bytes`);
    // A second download does not overwrite the first.
    const again = await mimi(['--profile', dirs[who], 'download', room, msgId, '--out', out]);
    assert.equal(again.stdout.trim(), path.join(out, 'holiday (1).png'));
  }
  // b.example asked the hub (proxyDownload), the hub asked c.example: in their logs.
  assert.match(a.output(), /proxyDownload for b\.example/);

  // An accepted file survives its provider being killed -9 (fsynced before the 201) and restarted.
  await c.kill9();
  await c.restart(); // the same handle: `running` stops what runs now
  const afterCrash = tempDir('att-out-crash');
  const again = await mimi(['--profile', dirs.bob, 'download', room, msgId, '--out', afterCrash]);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(fs.readFileSync(path.join(afterCrash, 'holiday.png')).equals(plain));

  // alice (at the hub) sends one too; bob gets it through the hub, which serves its own file.
  const plain2 = randomBytes(50_000);
  const src2 = path.join(work, 'notes.txt');
  fs.writeFileSync(src2, plain2);
  assert.equal((await mimi(['--profile', dirs.alice, 'send', room, '--file', src2])).code, 0);
  const tail2 = await mimi(['--profile', dirs.bob, 'tail', room, '--count', '2', '--timeout', '20', '--ids']);
  const id2 = tail2.stdout.trim().split('\n')[1].split('\t')[0];
  const out2 = tempDir('att-out2');
  const got2 = await mimi(['--profile', dirs.bob, 'download', room, id2, '--out', out2]);
  assert.equal(got2.code, 0, got2.stderr);
  assert.ok(fs.readFileSync(path.join(out2, 'notes.txt')).equals(plain2));

  // The hub refuses to fetch from a host that is no peer's asset server (not an open proxy) ...
  const foreign = encodeURIComponent('https://127.0.0.1:9/assets/AAAAAAAAAAAAAAAAAAAAAA');
  const refused = await peerGet(a, b, `/mimi/v1/proxyDownload/${foreign}`);
  assert.equal(refused.status, 403, refused.body);
  assert.match(JSON.parse(refused.body).error.message, /not the asset server of any provider a\.example federates with/);
  const evil = await peerGet(a, b, `/mimi/v1/proxyDownload/${encodeURIComponent('https://evil.example/x')}`);
  assert.equal(evil.status, 403);
  // ... and c.example's files are not for anyone without a token or a peer certificate.
  const direct = stored[0];
  const anon = await new Promise<number>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: c.port, path: `/assets/${direct}`, ca: c.caPem, servername: 'c.example' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
  assert.equal(anon, 401);

  // Size limit: a clear 413, nothing stored.
  const big = path.join(work, 'big.bin');
  fs.writeFileSync(big, randomBytes(MAX));
  const tooBig = await mimi(['--profile', dirs.bob, 'send', room, '--file', big]);
  assert.equal(tooBig.code, 1);
  assert.match(tooBig.stderr, /too large.*at most 300000 bytes: send a smaller one/);
  // Quota: bob's files add up to more than 700,000 bytes on b.example.
  const part = path.join(work, 'part.bin');
  fs.writeFileSync(part, randomBytes(250_000));
  assert.equal((await mimi(['--profile', dirs.bob, 'send', room, '--file', part])).code, 0);
  assert.equal((await mimi(['--profile', dirs.bob, 'send', room, '--file', part])).code, 0);
  const over = await mimi(['--profile', dirs.bob, 'send', room, '--file', part]);
  assert.equal(over.code, 1);
  assert.match(over.stderr, /No room left for files: your files on this provider take .* of your .*; this one .* does not fit\. Ask your provider's operator for more room/);
  assert.equal(storedAssets(b.dataDir).size, 2);

  // No provider holds any of the plaintexts (database, WAL, assets, logs).
  for (const p of [a, b, c]) {
    for (const pl of [plain, plain2]) assert.equal(holdsPlaintext(p.dataDir, pl), null, `${p.domain} holds plaintext`);
  }
});
