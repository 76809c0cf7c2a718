// Federation transport between real in-process providers on 127.0.0.1, each with its own domain,
// data dir and dev CA: mutual TLS in both directions, peer authentication (From / Host), directory
// resolution, the durable fanout outbox and the follower's seen log. The s2s handler is a recording
// test double (the endpoint logic is a true edge of the transport); FanoutMessages are opaque to the
// transport, so tests use self-delimiting stand-ins (u32 length || payload).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { MAX_BODY_BYTES } from '../../src-shared/provider-api.js';
import { ensureDevCa, type DevCaFiles } from '../../src-provider/dev-ca.js';
import { FederationConfigError, federationConfig, parsePeerSpec, parseTrustPem, peerBaseUrl } from '../../src-provider/federation/config.js';
import { OutboxError } from '../../src-provider/federation/fanout-outbox.js';
import { ensureFederationIdentity, federationFilePaths } from '../../src-provider/federation/mtls.js';
import { fillTemplate, parseRetryAfter, PeerClient, PeerError } from '../../src-provider/federation/peer-client.js';
import type { S2sFactory, S2sReply } from '../../src-provider/federation/s2s-handler.js';
import { SeenLog, SEEN_RETENTION_MS } from '../../src-provider/federation/seen-log.js';
import { ApiFailure } from '../../src-provider/errors.js';
import { startProvider, type ProviderOptions, type RunningProvider } from '../../src-provider/server.js';
import { withProviderDb } from '../helpers/provider-db.js';
import { freePort, PROVIDER_ENTRY, ROOT, testDatabase } from '../helpers/provider-process.js';
import { rawRequest as peerRawRequest, type RawResponse } from '../helpers/mimi-peer.js';
import { waitUntil } from '../helpers/provider-fixture.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

// ---- test FanoutMessage stand-ins ----

function frame(text: string): Uint8Array {
  const payload = utf8(text);
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

function unframe(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let off = 0; off < body.length; ) {
    const len = view.getUint32(off);
    out.push(body.subarray(off, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

const payloadOf = (msg: Uint8Array): string => fromUtf8(msg.subarray(4));

// ---- recording s2s handler ----

interface Call {
  peer: string;
  endpoint: string;
  param: string;
  body: Uint8Array;
  at: number;
}

class Recorder {
  calls: Call[] = [];
  /** Notify messages processed once (seen-log filtered), as [hub, room, payload]. */
  delivered: [string, string, string][] = [];
  duplicates = 0;
  /** Overrides the answer for a call (after it was recorded). */
  respond?: (call: Call, index: number) => S2sReply | undefined;

  factory: S2sFactory = (deps) => ({
    handle: async (peer, endpoint, param, body) => {
      const call = { peer, endpoint, param, body, at: Date.now() };
      const index = this.calls.push(call) - 1;
      if (endpoint === 'notify') {
        for (const msg of unframe(body)) {
          if (deps.seenLog.isDuplicate(peer, msg)) this.duplicates++;
          else this.delivered.push([peer, param, payloadOf(msg)]);
        }
      }
      if (endpoint === 'groupInfo' && param.endsWith('/unknown')) throw new ApiFailure('roomUnknown', `no room ${param}`);
      const custom = this.respond?.(call, index);
      if (custom) return custom;
      return endpoint === 'notify' ? { status: 201 } : { status: 200, body: body };
    },
  });
}

// ---- providers ----


class Node {
  p?: RunningProvider;
  logs: string[] = [];
  readonly rec = new Recorder();
  private constructor(
    readonly domain: string,
    readonly dataDir: string,
    readonly ca: DevCaFiles,
    readonly port: number,
  ) {}

  /** Data dir and CA exist before start, so peers can trust each other's CA from the outset. */
  static async prepare(domain: string): Promise<Node> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `mimi-fed-${domain}-`));
    return new Node(domain, dataDir, await ensureDevCa(dataDir, domain), await freePort());
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get running(): RunningProvider {
    assert.ok(this.p, `${this.domain} is not running`);
    return this.p;
  }

  async start(o: { trust?: Node[]; peers?: Node[]; s2s?: boolean } & Omit<Partial<ProviderOptions>, 's2s'> = {}): Promise<this> {
    const { trust = [], peers = [], s2s = true, ...rest } = o;
    this.p = await startProvider({
      database: await testDatabase(this.dataDir),
      domain: this.domain,
      port: this.port,
      dataDir: this.dataDir,
      log: (m) => this.logs.push(m),
      federation: {
        peers: Object.fromEntries(peers.map((n) => [n.domain, n.url])),
        trustPem: trust.map((n) => n.ca.caPem),
      },
      s2s: s2s ? this.rec.factory : 'off',
      fanout: { baseDelayMs: 20, maxDelayMs: 200 },
      peerTimeoutMs: 3000,
      ...rest,
    });
    return this;
  }

  async stop(): Promise<void> {
    await this.p?.close();
    this.p = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    assert.ok(!this.logs.some((l) => l.includes('internal error')), `${this.domain} logged internal errors:\n${this.logs.join('\n')}`);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** This provider's federation client certificate (the one startProvider creates or reuses). */
  async federationCert(): Promise<{ cert: string; key: string }> {
    const id = await ensureFederationIdentity(this.dataDir, this.ca, this.domain);
    return { cert: id.certPem, key: id.keyPem };
  }
}

async function withNodes(domains: string[], fn: (...nodes: Node[]) => Promise<void>): Promise<void> {
  const nodes = await Promise.all(domains.map((d) => Node.prepare(d)));
  try {
    await fn(...nodes);
  } finally {
    for (const n of nodes) await n.destroy();
  }
}

/** One HTTPS request to `target` as an arbitrary client (test/helpers/mimi-peer.ts). */
const rawRequest = (target: Node, o: Parameters<typeof peerRawRequest>[1]) =>
  peerRawRequest({ domain: target.domain, port: target.port, caPem: target.ca.caPem }, o);

const errorCode = (r: RawResponse): string => (JSON.parse(r.body.toString('utf8')) as { error: { code: string } }).error.code;
const errorMessage = (r: RawResponse): string => (JSON.parse(r.body.toString('utf8')) as { error: { message: string } }).error.message;
/**
 * Opens a TLS connection to `target` with a client certificate, sends an HTTP request right after
 * the handshake and collects whatever comes back until the connection closes.
 */
async function tlsProbe(target: Node, cert: string, key: string): Promise<{ received: Buffer; secured: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let secured = false;
    const sock = tls.connect({ host: '127.0.0.1', port: target.port, ca: target.ca.caPem, servername: target.domain, cert, key });
    sock.on('secureConnect', () => {
      secured = true;
      sock.write(`POST /mimi/v1/notify/room HTTP/1.1\r\nHost: ${target.domain}\r\nFrom: mimi@intruder.example\r\nContent-Length: 3\r\n\r\nabc`);
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => resolve({ received: Buffer.concat(chunks), secured }));
    setTimeout(() => sock.destroy(), 5000).unref();
  });
}

/** A client certificate signed by `ca` with chosen validity, names and usage (for refusal tests). */
async function craftCert(
  ca: Pick<DevCaFiles, 'caPem' | 'caKeyPem'>,
  o: { dns?: string; notBefore: Date; notAfter: Date },
): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const subtle = (webcrypto as unknown as Crypto).subtle;
  const caCert = new x509.X509Certificate(ca.caPem);
  const caKey = await subtle.importKey('pkcs8', createPrivateKey(ca.caKeyPem).export({ format: 'der', type: 'pkcs8' }), alg, false, ['sign']);
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (o.dns) extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: o.dns }], false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + Date.now().toString(16),
    subject: `CN=${o.dns ?? 'nameless'}`,
    issuer: caCert.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  const der = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { cert: cert.toString('pem'), key };
}

const ROOM1 = 'mimi://a.example/r/one';
const ROOM2 = 'mimi://a.example/r/two';

// ---- config and pure helpers ----

test('config: --peer specs, base URLs, trust anchors and template filling are validated', async () => {
  assert.deepEqual(parsePeerSpec('b.example=https://127.0.0.1:8444/'), ['b.example', 'https://127.0.0.1:8444']);
  for (const bad of ['b.example', '=https://x', 'B..example=https://x', 'b.example=http://x', 'b.example=https://x/prefix', 'b.example=nope']) {
    assert.throws(() => parsePeerSpec(bad), FederationConfigError, bad);
  }
  const cfg = federationConfig({ peers: { 'b.example': 'https://127.0.0.1:9' } });
  assert.equal(peerBaseUrl(cfg, 'b.example'), 'https://127.0.0.1:9');
  assert.equal(peerBaseUrl(cfg, 'c.example'), 'https://c.example');
  assert.deepEqual(federationConfig().trustPem, [], 'nothing is trusted unless configured');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-fed-cfg-'));
  try {
    const ca = await ensureDevCa(dir, 'x.example');
    assert.equal(parseTrustPem(ca.caPem + ca.caPem).length, 2, 'a bundle yields each certificate');
    assert.throws(() => parseTrustPem(ca.serverCertPem), /not a CA certificate/);
    assert.throws(() => parseTrustPem('hello'), /no PEM certificate/);
    assert.throws(() => federationConfig({ peers: { 'bad domain': 'https://x' } }), FederationConfigError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  assert.equal(fillTemplate('https://h/mimi/v1/keyMaterial/{targetUser}', 'mimi://b.example/u/bob'), 'https://h/mimi/v1/keyMaterial/mimi%3A%2F%2Fb.example%2Fu%2Fbob');
  assert.throws(() => fillTemplate('https://h/notify/{whatever}', 'x'), /unknown placeholder/);
  assert.throws(() => fillTemplate('https://h/notify', 'x'), /exactly one placeholder/);
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString()) !== undefined, true);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('seen log: per-hub duplicate detection, kept at least 7 days, pruned after', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-fed-seen-'));
  const db = new Database(path.join(dir, 'seen.sqlite'));
  try {
    let now = 1_000_000_000_000;
    const log = new SeenLog(db, { now: () => now, retentionMs: 1000 /* raised to the 7-day floor */ });
    assert.equal(log.isDuplicate('a.example', frame('m1')), false);
    assert.equal(log.isDuplicate('a.example', frame('m1')), true);
    assert.equal(log.isDuplicate('c.example', frame('m1')), false, 'another hub is another sender');
    assert.equal(log.isDuplicate('a.example', frame('m2')), false);
    now += SEEN_RETENTION_MS - 60_000;
    assert.equal(log.prune(), 0, 'nothing younger than 7 days is pruned');
    assert.equal(log.isDuplicate('a.example', frame('m1')), true);
    now += 2 * 60_000;
    assert.equal(log.prune(), 3);
    assert.equal(log.isDuplicate('a.example', frame('m1')), false, 'forgotten after the retention');
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- mutual TLS and peer authentication ----

test('trusted peers reach each other\'s s2s handler with the authenticated domain, via the directory', async () => {
  await withNodes(['a.example', 'b.example'], async (a, b) => {
    // b advertises `localhost` in its directory while a's --peer points at 127.0.0.1: requests must
    // follow the directory, and both must verify b's certificate against "b.example".
    await b.start({ trust: [a], peers: [a], publicUrl: `https://localhost:${b.port}` });
    await a.start({ trust: [b], peers: [b] });

    const dir = await a.running.federation.peerClient.directory('b.example');
    assert.equal(dir.keyMaterial, `https://localhost:${b.port}/mimi/v1/keyMaterial/{targetUser}`);

    const res = await a.running.federation.peerClient.post('b.example', 'keyMaterial', 'mimi://b.example/u/bob', utf8('request-bytes'));
    assert.equal(res.status, 200);
    assert.equal(fromUtf8(res.body), 'request-bytes');
    assert.equal(b.rec.calls.length, 1);
    assert.deepEqual(
      { peer: b.rec.calls[0].peer, endpoint: b.rec.calls[0].endpoint, param: b.rec.calls[0].param },
      { peer: 'a.example', endpoint: 'keyMaterial', param: 'mimi://b.example/u/bob' },
    );

    // And the other direction, plus a typed rejection carrying the peer's ApiError.
    await b.running.federation.peerClient.post('a.example', 'update', ROOM1, utf8('u'));
    assert.equal(a.rec.calls[0].peer, 'b.example');
    const err = await b.running.federation.peerClient.post('a.example', 'groupInfo', 'mimi://a.example/r/unknown', utf8('g')).catch((e) => e);
    assert.ok(err instanceof PeerError);
    assert.equal(err.code, 'rejected');
    assert.equal(err.status, 404);
    assert.match(err.message, /roomUnknown/);

    // Our client certificate is kept in the data dir, owner-only, and reused on restart.
    const f = federationFilePaths(a.dataDir);
    assert.equal(fs.statSync(f.key).mode & 0o777, 0o600);
    const before = fs.readFileSync(f.cert, 'utf8');
    assert.ok(new X509Certificate(before).checkHost('a.example'));
    await a.stop();
    await a.start({ trust: [b], peers: [b] });
    assert.equal(fs.readFileSync(f.cert, 'utf8'), before);
  });
});

test('peer client: directory TTL and refresh after failure, response cap, deadline', async () => {
  await withNodes(['a.example', 'b.example'], async (a, b) => {
    const deadPort = await freePort();
    // b first advertises endpoints where nothing listens (as if it had moved them).
    await b.start({ trust: [a], publicUrl: `https://localhost:${deadPort}` });
    const id = await a.federationCert();
    let now = 1_000_000;
    const client = new PeerClient({
      ownDomain: 'a.example',
      config: federationConfig({ peers: { 'b.example': b.url }, trustPem: [b.ca.caPem] }),
      clientCertPem: id.cert,
      clientKeyPem: id.key,
      timeoutMs: 300,
      maxResponseBytes: 1000,
      directoryTtlMs: 60_000,
      now: () => now,
    });
    try {
      const moved = await client.post('b.example', 'update', ROOM1, utf8('x')).catch((e) => e);
      assert.ok(moved instanceof PeerError && moved.code === 'unreachable', String(moved));
      assert.match(moved.message, /ECONNREFUSED/);

      await b.stop();
      await b.start({ trust: [a] });
      // The failure dropped the cached directory: the next request looks it up again and succeeds.
      assert.equal((await client.post('b.example', 'update', ROOM1, utf8('x'))).status, 200);

      // A fresh directory is served from cache until its TTL has passed.
      await b.stop();
      await b.start({ trust: [a], publicUrl: `https://localhost:${b.port}` });
      assert.ok((await client.directory('b.example')).update.startsWith(b.url));
      now += 61_000;
      assert.ok((await client.directory('b.example')).update.startsWith(`https://localhost:${b.port}/`));

      const big = await client.post('b.example', 'update', ROOM1, new Uint8Array(2000)).catch((e) => e);
      assert.ok(big instanceof PeerError && big.code === 'badResponse', String(big));

      b.rec.respond = () => undefined;
      const slow = b.rec.factory;
      b.rec.factory = (deps) => {
        const inner = slow(deps);
        return { handle: async (...args) => (await new Promise((r) => setTimeout(r, 1000)), inner.handle(...args)) };
      };
      await b.stop();
      await b.start({ trust: [a] });
      const late = await client.post('b.example', 'update', ROOM1, utf8('x')).catch((e) => e);
      assert.ok(late instanceof PeerError && late.code === 'unreachable', String(late));
      assert.match(late.message, /within 300 ms/);
      await new Promise((r) => setTimeout(r, 1000)); // let b finish the slow request before it stops
    } finally {
      client.close();
    }
  });
});

test('a provider whose CA is not trusted is cut off right after the TLS handshake', async () => {
  await withNodes(['a.example', 'b.example', 'c.example'], async (a, b, c) => {
    await a.start({ trust: [b], peers: [c] });
    await c.start({ trust: [a], peers: [a] });

    // c trusts a, but a does not trust c: c's request never gets an HTTP answer.
    const err = await c.running.federation.peerClient.post('a.example', 'notify', ROOM1, frame('x')).catch((e) => e);
    assert.ok(err instanceof PeerError, String(err));
    assert.equal(err.code, 'unreachable');

    const cc = await c.federationCert();
    const probe = await tlsProbe(a, cc.cert, cc.key);
    assert.equal(probe.received.length, 0, `no HTTP bytes, got ${probe.received.toString()}`);

    // Trusted CA but expired, or no DNS name, or a server-only certificate: also refused.
    const day = 24 * 3600 * 1000;
    const expired = await craftCert(b.ca, { dns: 'b.example', notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) });
    assert.equal((await tlsProbe(a, expired.cert, expired.key)).received.length, 0);
    const nameless = await craftCert(b.ca, { notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day) });
    assert.equal((await tlsProbe(a, nameless.cert, nameless.key)).received.length, 0);
    assert.equal((await tlsProbe(a, b.ca.serverCertPem, b.ca.serverKeyPem)).received.length, 0);
    assert.equal(a.rec.calls.length, 0, 'nothing reached the handler');
    assert.ok(a.logs.filter((l) => l.startsWith('refused TLS connection')).length >= 4, a.logs.join('\n'));

    // A valid certificate from a trusted CA passes the same probe (the probe's From is wrong: 403).
    const good = await craftCert(b.ca, { dns: 'b.example', notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + day) });
    assert.match((await tlsProbe(a, good.cert, good.key)).received.toString(), /^HTTP\/1\.1 403/);

    // Our side: a does not trust c's server certificate, and says which TLS check failed.
    const out = await a.running.federation.peerClient.post('c.example', 'notify', ROOM1, frame('x')).catch((e) => e);
    assert.ok(out instanceof PeerError);
    assert.equal(out.code, 'unreachable');
    assert.match(out.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i);
    assert.equal(c.rec.calls.length, 0);
  });
});

test('MIMI routes check the client certificate, From and Host; desktop clients share the port', async () => {
  await withNodes(['a.example', 'b.example'], async (a, b) => {
    await a.start({ trust: [b] });
    const bc = await b.federationCert();
    const path = `/mimi/v1/update/${encodeURIComponent(ROOM1)}`;
    const asB = (headers: Record<string, string>, body: Uint8Array = utf8('x'), p = path, method = 'POST') =>
      rawRequest(a, { method, path: p, headers: { 'content-type': 'application/mimi', ...headers }, body, cert: bc.cert, key: bc.key });

    const ok = await asB({ host: 'a.example:443', from: 'mimi@b.example' });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.headers['content-type'], 'application/mimi');
    assert.equal(a.rec.calls.at(-1)!.peer, 'b.example');
    assert.equal(a.rec.calls.at(-1)!.param, ROOM1);
    const handled = a.rec.calls.length;

    const wrongFrom = await asB({ host: 'a.example', from: 'mimi@c.example' });
    assert.equal(wrongFrom.status, 403);
    assert.equal(errorCode(wrongFrom), 'notAllowed');
    assert.match(errorMessage(wrongFrom), /c\.example.*b\.example/);
    assert.equal((await asB({ host: 'a.example', from: 'admin@b.example' })).status, 403);
    assert.equal((await asB({ host: 'a.example' })).status, 403);

    const wrongHost = await asB({ host: 'c.example', from: 'mimi@b.example' });
    assert.equal(wrongHost.status, 421);
    assert.match(errorMessage(wrongHost), /this provider is a\.example/);

    const noCert = await rawRequest(a, { path, headers: { host: 'a.example', from: 'mimi@b.example' }, body: utf8('x') });
    assert.equal(noCert.status, 401);
    assert.equal(errorCode(noCert), 'unauthorized');

    const big = await asB({ host: 'a.example', from: 'mimi@b.example' }, new Uint8Array(MAX_BODY_BYTES + 1));
    assert.equal(big.status, 413);
    assert.equal(errorCode(big), 'tooLarge');

    assert.equal((await asB({ host: 'a.example', from: 'mimi@b.example' }, utf8('x'), '/mimi/v1/nope/x')).status, 404);
    assert.equal((await asB({ host: 'a.example', from: 'mimi@b.example' }, utf8('x'), path, 'PUT')).status, 405);
    assert.equal((await asB({ host: 'a.example', from: 'mimi@b.example', 'content-type': 'text/plain' })).status, 415);
    assert.equal(a.rec.calls.length, handled, 'no refused request reached the handler');

    // The desktop client API on the same port, without any client certificate.
    const health = await rawRequest(a, { method: 'GET', path: '/v1/health', headers: { host: '127.0.0.1' } });
    assert.equal(health.status, 200);
    const reg = await rawRequest(a, {
      path: '/v1/accounts',
      headers: { 'content-type': 'application/json' },
      body: utf8(JSON.stringify({ handle: 'alice', password: 'correct horse battery staple', deviceName: 'laptop' })),
    });
    assert.equal(reg.status, 201, reg.body.toString());
  });
});

test('without an s2s handler the MIMI routes still answer 501', async () => {
  await withNodes(['a.example'], async (a) => {
    await a.start({ s2s: false });
    const r = await rawRequest(a, { path: '/mimi/v1/notify/x', body: utf8('x') });
    assert.equal(r.status, 501);
  });
});

// ---- fanout outbox ----

test('outbox: follower down -> backoff retries -> follower up -> delivered once, in order, batched', async () => {
  await withNodes(['a.example', 'b.example'], async (a, b) => {
    await a.start({ trust: [b], peers: [b] });
    const { outbox, db } = a.running.federation;

    // Enqueue inside a transaction: a rolled-back transaction leaves no fanout behind.
    assert.throws(() =>
      db.transaction(() => {
        outbox.enqueue('b.example', ROOM1, frame('ghost'));
        throw new Error('commit refused');
      })(),
    );
    assert.throws(() => outbox.enqueue('not a domain', ROOM1, frame('x')), OutboxError);
    assert.throws(() => outbox.enqueue('b.example', ROOM1, new Uint8Array(0)), OutboxError);
    assert.equal(outbox.stats().pending, 0);

    const expected: [string, string][] = [];
    db.transaction(() => {
      for (let i = 0; i < 12; i++) {
        const room = i < 5 || i >= 9 ? ROOM1 : ROOM2;
        outbox.enqueue('b.example', room, frame(`m${i}`));
        expected.push([room, `m${i}`]);
      }
    })();
    outbox.kick();

    await waitUntil(() => outbox.stats().retries >= 4, 'retries while the follower is down');
    const delays = a.logs.flatMap((l) => {
      const m = /retry #(\d+) in (\d+) ms/.exec(l);
      return m ? [[Number(m[1]), Number(m[2])]] : [];
    });
    for (const [n, ms] of delays) {
      const full = Math.min(200, 20 * 2 ** (n - 1));
      assert.ok(ms >= Math.floor(full / 2) && ms <= full, `retry #${n} after ${ms} ms, expected ${full / 2}..${full}`);
    }
    assert.equal(outbox.stats().sentRequests, 0);

    await b.start({ trust: [a] });
    await outbox.drained();
    assert.deepEqual(
      b.rec.delivered,
      expected.map(([room, m]) => ['a.example', room, m]),
    );
    assert.equal(b.rec.duplicates, 0);
    // Runs of one room go in one request: [m0..m4] ROOM1, [m5..m8] ROOM2, [m9..m11] ROOM1.
    assert.deepEqual(
      b.rec.calls.map((c) => [c.param, unframe(c.body).length]),
      [
        [ROOM1, 5],
        [ROOM2, 4],
        [ROOM1, 3],
      ],
    );
    assert.deepEqual({ ...outbox.stats(), retries: 0 }, { sentRequests: 3, sentMessages: 12, retries: 0, pending: 0 });
  });
});

test('outbox: a retried batch is deduplicated by the follower and Retry-After is honoured', async () => {
  await withNodes(['a.example', 'b.example'], async (a, b) => {
    await b.start({ trust: [a] });
    await a.start({ trust: [b], peers: [b], fanout: { baseDelayMs: 20, maxDelayMs: 200, maxBatchMessages: 3 } });
    const { outbox } = a.running.federation;
    // The first answer is lost after the follower processed the request (a 503 with Retry-After: 1).
    b.rec.respond = (_call, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : undefined);
    for (let i = 0; i < 5; i++) outbox.enqueue('b.example', ROOM1, frame(`d${i}`));
    outbox.kick();
    await outbox.drained();

    assert.deepEqual(b.rec.delivered.map(([, , m]) => m), ['d0', 'd1', 'd2', 'd3', 'd4']);
    assert.equal(b.rec.duplicates, 3, 'the retried first batch was recognised');
    assert.ok(b.rec.calls[1].at - b.rec.calls[0].at >= 950, `retried after ${b.rec.calls[1].at - b.rec.calls[0].at} ms`);
    assert.deepEqual(b.rec.calls.map((c) => unframe(c.body).length), [3, 3, 2]);
    assert.equal(outbox.stats().retries, 1);
  });
});

test('outbox: pending rows survive a hub restart and are resumed; batching can be turned off', async () => {
  await withNodes(['a.example', 'b.example'], async (a, b) => {
    await a.start({ trust: [b], peers: [b], fanout: { baseDelayMs: 20, maxDelayMs: 200, batching: false } });
    let outbox = a.running.federation.outbox;
    for (let i = 0; i < 4; i++) outbox.enqueue('b.example', ROOM2, frame(`r${i}`));
    outbox.kick();
    await waitUntil(() => outbox.stats().retries >= 1, 'a failed attempt');
    await a.stop();

    assert.equal(withProviderDb(a.dataDir, (db) => (db.prepare('SELECT count(*) AS n FROM fed_outbox').get() as { n: number }).n), 4);

    await b.start({ trust: [a] });
    await a.start({ trust: [b], peers: [b], fanout: { batching: false } });
    outbox = a.running.federation.outbox;
    await outbox.drained();
    assert.deepEqual(b.rec.delivered.map(([, room, m]) => [room, m]), [0, 1, 2, 3].map((i) => [ROOM2, `r${i}`]));
    assert.equal(b.rec.calls.length, 4, 'one request per message without batching');
    assert.equal(outbox.stats().sentMessages, 4);
  });
});

// ---- the CLI flags ----

test('provider CLI: --peer and --trust configure federation; bad values are usage errors', async () => {
  await withNodes(['a.example', 'b.example', 'c.example'], async (a, b, c) => {
    const run = (args: string[]) =>
      spawn(process.execPath, [PROVIDER_ENTRY, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = async (args: string[]) => {
      const child = run(args);
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      return { code, stderr };
    };
    const base = ['--domain', 'b.example', '--port', '0', '--data', b.dataDir];
    const missing = await exit([...base, '--trust', path.join(b.dataDir, 'nope.pem')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--trust .*nope\.pem: ENOENT/);
    const leaf = await exit([...base, '--trust', path.join(b.dataDir, 'server-cert.pem')]);
    assert.equal(leaf.code, 2);
    assert.match(leaf.stderr, /not a CA certificate/);
    const badPeer = await exit([...base, '--peer', 'a.example=ftp://x']);
    assert.equal(badPeer.code, 2);
    assert.match(badPeer.stderr, /must use https/);

    // A real provider process trusting only a's CA.
    const aCaFile = path.join(a.dataDir, 'ca.pem');
    const child = run(['--domain', 'b.example', '--port', String(b.port), '--data', b.dataDir, '--trust', aCaFile, '--peer', `a.example=${a.url}`]);
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('listening on')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`provider exited with ${code}`)));
      });
      await a.start({ trust: [b], peers: [b] });
      await c.start({ trust: [b], peers: [b] });
      const dir = await a.running.federation.peerClient.directory('b.example');
      assert.ok(dir.notify.startsWith(b.url), dir.notify);
      const refused = await c.running.federation.peerClient.directory('b.example').catch((e) => e);
      assert.ok(refused instanceof PeerError && refused.code === 'unreachable', String(refused));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
  });
});
