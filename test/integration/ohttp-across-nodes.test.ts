// The OHTTP KeyPackage gateway of a provider running as several nodes on one PostgreSQL (issue 17):
// its secrets are in the database (src-provider/ohttp-keys.ts), so nodes with data folders of
// their own (the TLS and provider identity copied from the first, as an operator copies them to
// each machine; nothing else) publish one key configuration and honour each other's tokens, and
// `provider-admin --database … invalidate-key-package-tokens` makes every node refuse the tokens
// issued before. The first node is an upgrade: its folder holds the ohttp-gateway.json a provider
// from before wrote, which is imported (the same key configuration, a token issued before still
// good) and renamed. Last, nodes started at once on an empty database end with one set of secrets.
// The asking provider (a.example) is played by hand over mutual TLS; b.example's nodes are real
// processes. PostgreSQL: the suite's server (MIMI_TEST_POSTGRES) or a throwaway one of its own.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import pg from 'pg';
import { decodeResponse, encodeRequest } from '../../src-shared/bhttp.js';
import { toB64, toHex } from '../../src-shared/bytes.js';
import {
  decodeKeyPackageResponseList,
  decodeKeyPackageTokenKeys,
  decodeKeyPackageTokenResponse,
  encodeKeyPackageRequest,
  encodeKeyPackageTokenRequest,
  KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID,
  KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID,
  MLS10,
} from '../../src-shared/key-package-request.js';
import { requestTokens, TokenIssuer } from '../../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry } from '../../src-shared/key-package-vouch.js';
import { decodeIdentifierResponse, encodeIdentifierRequest, type ComponentData } from '../../src-shared/mimi-protocol.js';
import { decapsulateResponse, decodeKeyConfigs, encapsulateRequest, REQUEST_MEDIA_TYPE } from '../../src-shared/ohttp.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { ProviderClient } from '../../src-main/net/provider-client.js';
import { IMPORTED_SUFFIX, OHTTP_KEYS_FILE } from '../../src-provider/ohttp-keys.js';
import { mimiPost, peerIdentity, rawRequest, type PeerIdentity, type Target } from '../helpers/mimi-peer.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { newDatabase, providerAdmin as admin, startProviderProcess, tempDir as makeTempDir, testDatabase, type ProviderProcess } from '../helpers/provider-process.js';

const DOMAIN = 'b.example';
const BOB_H = 'bobacross';
const BOB = `mimi://${DOMAIN}/u/${BOB_H}`;
const ALICE = 'mimi://a.example/u/alice';
/** The epoch the provider from before had reached (it had invalidated tokens three times). */
const OLD_EPOCH = 4;

let server: PostgresServer | undefined;
let url: string;
let asker: PeerIdentity;
let dir1: string;
let old: { file: string; keyId: number; publicKey: Uint8Array };
/** A token the provider from before issued and nobody redeemed yet. */
let outstanding: Uint8Array;
const nodes: ProviderProcess[] = [];
const clients: ProviderClient[] = [];
const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
};

/** b.example's identity files, copied as an operator copies them to another machine: not its state. */
function copyIdentity(from: string, to: string): void {
  for (const name of fs.readdirSync(from)) {
    const src = path.join(from, name);
    if (!fs.statSync(src).isFile() || name.startsWith('provider.sqlite') || name.startsWith(OHTTP_KEYS_FILE) || name === 'admin-url') continue;
    fs.copyFileSync(src, path.join(to, name));
    fs.chmodSync(path.join(to, name), fs.statSync(src).mode & 0o777);
  }
}

async function startNode(dataDir: string, nodeId: string, database = url): Promise<ProviderProcess> {
  const n = await startProviderProcess({ domain: DOMAIN, dataDir, args: ['--database', database, '--node-id', nodeId, '--trust', path.join(asker.dataDir, 'ca.pem'), '--consent', 'open'] });
  nodes.push(n);
  return n;
}

before(async () => {
  asker = await peerIdentity('a.example');
  dir1 = tempDir('ohttp-node1');
  const suite = await testDatabase(dir1);
  if (suite) url = suite;
  else {
    server = await startPostgres();
    url = server.url;
  }
  // What a provider from before left in its folder (ohttp-keys.ts wrote it so), and a token it issued.
  const privateKey = x25519.utils.randomSecretKey();
  const tokenSecret = randomBytes(32);
  old = { file: path.join(dir1, OHTTP_KEYS_FILE), keyId: 201, publicKey: x25519.getPublicKey(privateKey) };
  fs.writeFileSync(old.file, JSON.stringify({ version: 1, domain: DOMAIN, keyId: old.keyId, privateKey: toB64(privateKey), tokenSecret: toB64(tokenSecret), tokenEpoch: OLD_EPOCH }, null, 2) + '\n', { mode: 0o600 });
  const issuer = new TokenIssuer(DOMAIN, tokenSecret, OLD_EPOCH);
  const asked = await requestTokens(DOMAIN, BOB, await issuer.publicKey(BOB), 1);
  [outstanding] = await asked.finalize(await issuer.issue(BOB, asked.requests, 1));

  await startNode(dir1, 'n1');
  const dir2 = tempDir('ohttp-node2');
  copyIdentity(dir1, dir2);
  await startNode(dir2, 'n2');

  // bob, with KeyPackages for every fetch below.
  const engine = await createMlsEngine();
  const client = new ProviderClient({ baseUrl: nodes[0].url, caPem: nodes[0].caPem });
  clients.push(client);
  const s = await client.register({ handle: BOB_H, password: 'correct horse battery staple', deviceName: 'laptop' });
  const made = await engine.generateKeyPackages(await engine.newDeviceKeys(s.deviceUri), 8);
  await client.uploadKeyPackages({ keyPackages: made.map((k) => toB64(k.publicMessage)) });
});

after(async () => {
  for (const c of clients) c.close();
  for (const n of nodes) await n.stop().catch(() => undefined);
  await server?.stop();
  for (const d of [...dirs, asker?.dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

const target = (n: ProviderProcess): Target => ({ domain: DOMAIN, port: n.port, caPem: n.caPem });

/** The node's signed key configuration entry, fetched as a peer does (MIMI ohttpKeys). */
async function keysEntry(n: ProviderProcess): Promise<Uint8Array> {
  const r = await mimiPost(target(n), asker, 'ohttpKeys', DOMAIN, new Uint8Array());
  assert.equal(r.status, 200, r.body.toString());
  return new Uint8Array(r.body);
}

/** /identifierQuery for bob at node `n` as a.example, with `extra` components. */
async function query(n: ProviderProcess, extra: ComponentData[] = []): Promise<ComponentData[]> {
  const body = encodeIdentifierRequest({ queryElements: [{ searchType: 'handle', searchValue: `${BOB_H}@${DOMAIN}` }], idRequestExtensions: extra });
  const r = await mimiPost(target(n), asker, 'identifierQuery', DOMAIN, body);
  assert.equal(r.status, 200, r.body.toString());
  return decodeIdentifierResponse(new Uint8Array(r.body)).idResponseExtensions;
}

/** `count` tokens for bob issued by node `n`, as alice's provider gets them at discovery. */
async function tokens(n: ProviderProcess, count: number): Promise<Uint8Array[]> {
  const keys = decodeKeyPackageTokenKeys((await query(n)).find((c) => c.componentId === KEY_PACKAGE_TOKEN_KEYS_COMPONENT_ID)!.data).keys;
  assert.deepEqual(keys.map((k) => k.user), [BOB]);
  const asked = await requestTokens(DOMAIN, BOB, keys[0].tokenKey, count);
  const ask = encodeKeyPackageTokenRequest({ requester: ALICE, target: BOB, tokenRequests: asked.requests });
  const answer = decodeKeyPackageTokenResponse((await query(n, [{ componentId: KEY_PACKAGE_TOKEN_REQUEST_COMPONENT_ID, data: ask }])).find((c) => c.componentId === KEY_PACKAGE_TOKEN_RESPONSE_COMPONENT_ID)!.data);
  assert.equal(answer.status, 'issued');
  return asked.finalize(answer.tokenResponses);
}

/** Redeems `token` at node `n`'s gateway (encapsulated to the key configuration that node publishes): the inner HTTP status. */
async function redeem(n: ProviderProcess, token: Uint8Array): Promise<number> {
  const [config] = decodeKeyConfigs(decodeOhttpKeysEntry(await keysEntry(n)).keyConfigs);
  const content = encodeKeyPackageRequest({ userId: BOB, bearerToken: token, version: MLS10, cipherSuite: 1 });
  const inner = encodeRequest({ method: 'POST', scheme: 'https', authority: DOMAIN, path: '/keyPackage', headers: [['content-type', 'application/mimi']], content, trailers: [] });
  const { encapsulated, context } = await encapsulateRequest(config, inner);
  const r = await rawRequest(target(n), {
    path: `/mimi/v1/ohttpGateway/${DOMAIN}`,
    headers: { host: DOMAIN, from: `mimi@${asker.domain}`, 'content-type': REQUEST_MEDIA_TYPE },
    body: encapsulated,
    cert: asker.cert,
    key: asker.key,
  });
  assert.equal(r.status, 200, r.body.toString());
  const res = decodeResponse(decapsulateResponse(context, new Uint8Array(r.body)));
  if (res.status === 200) assert.equal(decodeKeyPackageResponseList(res.content).length, 1, 'one KeyPackage: bob has one device');
  return res.status;
}

test('upgrade: the first node imports ohttp-gateway.json (the key configuration peers had) and renames it; the second, with a folder of its own, publishes the same', async () => {
  const [n1, n2] = nodes;
  const e1 = await keysEntry(n1);
  const e2 = await keysEntry(n2);
  assert.equal(toHex(e2), toHex(e1), 'one signed key configuration from both nodes');
  const [config] = decodeKeyConfigs(decodeOhttpKeysEntry(e1).keyConfigs);
  assert.equal(config.keyId, old.keyId);
  assert.equal(toHex(config.publicKey), toHex(old.publicKey), 'the key configuration from before the upgrade');
  assert.ok(!fs.existsSync(old.file) && fs.existsSync(old.file + IMPORTED_SUFFIX), 'renamed');
  assert.match(n1.output(), /OHTTP gateway secrets of b\.example are in the database now \(imported from .*ohttp-gateway\.json, token epoch 4\); the file was renamed to .*ohttp-gateway\.json\.imported/);
  assert.deepEqual(fs.readdirSync(n2.dataDir).filter((f) => f.startsWith('ohttp')), [], "no secrets in the second node's folder");
  assert.doesNotMatch(n2.output(), /ohttp-gateway\.json/);
});

test('a token issued through one node redeems through the other, once; the one issued before the upgrade too', async () => {
  const [n1, n2] = nodes;
  assert.equal(await redeem(n2, outstanding), 200, 'issued by the provider from before, redeemed at the node without the file');
  const [t1, t2] = await tokens(n1, 2);
  assert.equal(await redeem(n2, t1), 200);
  assert.equal(await redeem(n1, t1), 401, 'spent through the other node');
  const [t3] = await tokens(n2, 1);
  assert.equal(await redeem(n1, t3), 200);
  assert.equal(await redeem(n2, t2), 200);
});

test('provider-admin --database … invalidate-key-package-tokens: both running nodes refuse every older token at once', async () => {
  const [n1, n2] = nodes;
  const [t1, t2] = await tokens(n1, 2);
  const [t3] = await tokens(n2, 1);
  // The operator names the database only: no data folder of any node.
  const r = await admin(['--database', url, 'invalidate-key-package-tokens']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `KeyPackage token epoch ${OLD_EPOCH + 1} for ${DOMAIN}: every earlier token is refused from now on, by every node`);
  assert.equal(await redeem(n1, t1), 401);
  assert.equal(await redeem(n2, t2), 401);
  assert.equal(await redeem(n1, t3), 401);
  // Discovery goes on: new tokens, from either node, good on the other.
  const [t4] = await tokens(n2, 1);
  assert.equal(await redeem(n1, t4), 200);
});

test('three nodes starting at once on an empty database, each with its own folder: one set of secrets', async () => {
  const database = await newDatabase(url, 'ohttp_nodes');
  const dirs = ['ohttp-race1', 'ohttp-race2', 'ohttp-race3'].map((p) => {
    const d = tempDir(p);
    copyIdentity(dir1, d);
    return d;
  });
  const racing = await Promise.all(dirs.map((d, i) => startNode(d, `race${i + 1}`, database)));
  const entries = await Promise.all(racing.map(async (n) => toHex(await keysEntry(n))));
  assert.deepEqual(new Set(entries).size, 1, 'one key configuration');
  assert.notEqual(entries[0], toHex(await keysEntry(nodes[0])), 'made anew: not the other database\'s');
  const c = new pg.Client({ connectionString: database });
  await c.connect();
  try {
    assert.deepEqual((await c.query('SELECT domain, token_epoch FROM ohttp_gateway_secrets')).rows.map((r) => [r.domain, Number(r.token_epoch)]), [[DOMAIN, 1]]);
  } finally {
    await c.end();
  }
  for (const n of racing) await n.stop();
});
