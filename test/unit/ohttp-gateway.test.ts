// The KeyPackage gateway (src-provider/ohttp-gateway.ts) end to end in one process: a client
// encapsulates a binary HTTP request with a real Privacy Pass token, the gateway answers through
// the same HPKE context, and every refusal leaves the source as it was.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { decodeResponse, encodeRequest } from '../../src-shared/bhttp.js';
import { fromUtf8, toHex } from '../../src-shared/bytes.js';
import { decodeKeyPackageResponseList, decodeKeyPackageResults, encodeKeyPackageRequest, encodeKeyPackageRequests, MLS10 } from '../../src-shared/key-package-request.js';
import { requestTokens, TokenIssuer } from '../../src-shared/key-package-tokens.js';
import { unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { decapsulateResponse, encapsulateRequest, type GatewayKey } from '../../src-shared/ohttp.js';
import { GatewayError, KeyPackageGateway, type KeyPackageSource, type Redemption } from '../../src-provider/ohttp-gateway.js';

const BOB = 'mimi://b.example/u/bob';
const CAROL = 'mimi://b.example/u/carol';
const engine = await createMlsEngine();
const bobKps = [
  ...(await engine.generateKeyPackages(await engine.newDeviceKeys('mimi://b.example/d/bob/phone'), 2)),
  ...(await engine.generateKeyPackages(await engine.newDeviceKeys('mimi://b.example/d/bob/laptop'), 1)),
];

/** A store stand-in with the transaction semantics the real one has: all or nothing. */
class Source implements KeyPackageSource {
  spent = new Set<string>();
  left = new Map<string, Uint8Array[][]>([[BOB, [[bobKps[0].publicMessage, bobKps[1].publicMessage], [bobKps[2].publicMessage]]], [CAROL, [[]]]]);
  redeem(user: string, nonce: Uint8Array, epoch: number): Redemption {
    const key = `${epoch}:${toHex(nonce)}`;
    const devices = this.left.get(user);
    if (!devices) return { status: 'unknownUser' };
    if (this.spent.has(key)) return { status: 'badToken' };
    if (devices.some((d) => d.length === 0)) return { status: 'noKeyPackage' };
    this.spent.add(key);
    return { status: 'success', keyPackages: devices.map((d, i) => ({ keyPackage: d.shift()!, client: `${user}#${i}` })) };
  }
  snapshot(): string {
    return JSON.stringify({ spent: [...this.spent], left: [...this.left].map(([u, d]) => [u, d.map((x) => x.length)]) });
  }
}

const sk = x25519.utils.randomSecretKey();
const key: GatewayKey = { config: { keyId: 3, kemId: 0x20, publicKey: x25519.getPublicKey(sk), suites: [{ kdfId: 1, aeadId: 1 }] }, privateKey: sk };
const tokens = new TokenIssuer('b.example', randomBytes(32), 1);
const source = new Source();
const gateway = new KeyPackageGateway({ domain: 'b.example', keys: [key], tokens, source });

async function tokensFor(user: string, n: number): Promise<Uint8Array[]> {
  const asked = await requestTokens('b.example', user, await tokens.publicKey(user), n);
  return asked.finalize(await tokens.issue(user, asked.requests, 16));
}

async function call(path: string, content: Uint8Array) {
  const { encapsulated, context } = await encapsulateRequest(key.config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'b.example', path, headers: [['content-type', 'application/mimi']], content, trailers: [] }));
  const sealed = await gateway.handle(encapsulated);
  return decodeResponse(decapsulateResponse(context, sealed));
}

test('a token for bob buys one KeyPackage of each of his clients, once', async () => {
  const [t1, t2] = await tokensFor(BOB, 2);
  const res = await call('/keyPackage', encodeKeyPackageRequest({ userId: BOB, bearerToken: t1, version: MLS10, cipherSuite: 1 }));
  assert.equal(res.status, 200, res.status === 200 ? '' : fromUtf8(res.content));
  const got = decodeKeyPackageResponseList(res.content).map((r) => toHex(r.keyPackage.raw));
  assert.deepEqual(got, [bobKps[0], bobKps[2]].map((k) => toHex(unwrapMlsMessage(k.publicMessage).body)));

  // The same token again: refused, nothing claimed.
  const before = source.snapshot();
  const replay = await call('/keyPackage', encodeKeyPackageRequest({ userId: BOB, bearerToken: t1, version: MLS10, cipherSuite: 1 }));
  assert.equal(replay.status, 401);
  assert.equal(source.snapshot(), before);

  // Bob's second token asked for carol: refused (bound to bob). A forged one: refused.
  assert.equal((await call('/keyPackage', encodeKeyPackageRequest({ userId: CAROL, bearerToken: t2, version: MLS10, cipherSuite: 1 }))).status, 401);
  const forged = t2.slice();
  forged[forged.length - 1] ^= 1;
  assert.equal((await call('/keyPackage', encodeKeyPackageRequest({ userId: BOB, bearerToken: forged, version: MLS10, cipherSuite: 1 }))).status, 401);
  assert.equal((await call('/keyPackage', encodeKeyPackageRequest({ userId: BOB, bearerToken: t2, version: MLS10, cipherSuite: 2 }))).status, 422);
  assert.equal(source.snapshot(), before, 'no refusal changed anything');

  // A bundle: bob (his laptop has run out: noKeyPackage, token not spent) and a spent token.
  const [t3] = await tokensFor(BOB, 1);
  const bundle = await call('/keyPackages', encodeKeyPackageRequests({ requests: [{ userId: BOB, bearerToken: t3, version: MLS10, cipherSuite: 1 }, { userId: BOB, bearerToken: t1, version: MLS10, cipherSuite: 1 }] }));
  assert.equal(bundle.status, 200);
  assert.deepEqual(decodeKeyPackageResults(bundle.content).results.map((r) => r.status), ['noKeyPackage', 'badToken']);
  assert.equal(source.snapshot(), before);
});

test('garbage, cut, and other-key encapsulations are refused before anything is read', async () => {
  const before = source.snapshot();
  await assert.rejects(gateway.handle(randomBytes(80)), (e: unknown) => e instanceof GatewayError && (e.status === 400 || e.status === 422));
  const [t] = await tokensFor(BOB, 1);
  const { encapsulated } = await encapsulateRequest(key.config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'b.example', path: '/keyPackage', headers: [], content: encodeKeyPackageRequest({ userId: BOB, bearerToken: t, version: MLS10, cipherSuite: 1 }), trailers: [] }));
  await assert.rejects(gateway.handle(encapsulated.subarray(0, encapsulated.length - 1)), (e: unknown) => e instanceof GatewayError && e.status === 400);
  const flipped = encapsulated.slice();
  flipped[40] ^= 1;
  await assert.rejects(gateway.handle(flipped), (e: unknown) => e instanceof GatewayError && e.status === 400);
  const otherKey = encapsulated.slice();
  otherKey[0] = 9;
  await assert.rejects(gateway.handle(otherKey), (e: unknown) => e instanceof GatewayError && e.status === 422);
  assert.equal(source.snapshot(), before);
  // The intact one still works: nothing was spent by the failures.
  assert.equal(decodeResponse((await (async () => {
    const { encapsulated: again, context } = await encapsulateRequest(key.config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'b.example', path: '/nothing', headers: [], content: new Uint8Array(), trailers: [] }));
    return decapsulateResponse(context, await gateway.handle(again));
  })())).status, 404);
});
