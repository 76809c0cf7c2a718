// Oblivious HTTP (src-shared/ohttp.ts) and binary HTTP (src-shared/bhttp.ts): RFC 9458's Appendix A
// exchange reproduced byte for byte (key configuration, binary request, Encapsulated Request with
// the example's ephemeral key, exported secret, Encapsulated Response with its nonce, response),
// then round trips, tampering and malformed input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x25519 } from '@noble/curves/ed25519.js';
import { fromHex, toHex, utf8 } from '../../src-shared/bytes.js';
import { BhttpError, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src-shared/bhttp.js';
import {
  OhttpError,
  decapsulateRequest,
  decapsulateResponse,
  decodeKeyConfig,
  decodeKeyConfigs,
  encapsulateRequest,
  encapsulateResponse,
  encodeKeyConfig,
  encodeKeyConfigs,
  type GatewayKey,
} from '../../src-shared/ohttp.js';

// RFC 9458 Appendix A.
const A = {
  gatewaySecret: '3c168975674b2fa8e465970b79c8dcf09f1c741626480bd4c6162fc5b6a98e1a',
  keyConfig: '01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003',
  request: '00034745540568747470730b6578616d706c652e636f6d012f',
  ephemeralSecret: 'bc51d5e930bda26589890ac7032f70ad12e4ecb37abb1b65b1256c9c48999c73',
  ephemeralPublic: '4b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b472',
  encapsulatedRequest:
    '010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b4726374e469135906992e1268c594d2a10c695d858c40a026e7965e7d86b83dd440b2c0185204b4d63525',
  response: '0140c8',
  exportedSecret: '62d87a6ba569ee81014c2641f52bea36',
  responseNonce: 'c789e7151fcba46158ca84b04464910d',
  encapsulatedResponse: 'c789e7151fcba46158ca84b04464910d86f9013e404feea014e7be4a441f234f857fbd',
};

const gateway = (): GatewayKey => ({ config: decodeKeyConfig(fromHex(A.keyConfig)), privateKey: fromHex(A.gatewaySecret) });

test('RFC 9458 Appendix A: key configuration and binary HTTP request, byte for byte', () => {
  const config = decodeKeyConfig(fromHex(A.keyConfig));
  assert.equal(config.keyId, 1);
  assert.equal(toHex(config.publicKey), toHex(x25519.getPublicKey(fromHex(A.gatewaySecret))));
  assert.deepEqual(config.suites, [
    { kdfId: 1, aeadId: 1 },
    { kdfId: 1, aeadId: 3 },
  ]);
  assert.equal(toHex(encodeKeyConfig(config)), A.keyConfig);
  const req = decodeRequest(fromHex(A.request));
  assert.deepEqual({ ...req, content: [...req.content] }, { method: 'GET', scheme: 'https', authority: 'example.com', path: '/', headers: [], content: [], trailers: [] });
  assert.equal(toHex(encodeRequest(req)), A.request);
  assert.equal(toHex(x25519.getPublicKey(fromHex(A.ephemeralSecret))), A.ephemeralPublic);
});

test('RFC 9458 Appendix A: the Encapsulated Request and Response, byte for byte', async () => {
  const { encapsulated, context } = await encapsulateRequest(gateway().config, fromHex(A.request), fromHex(A.ephemeralSecret));
  assert.equal(toHex(encapsulated), A.encapsulatedRequest);
  assert.equal(toHex(context.secret), A.exportedSecret);
  const opened = await decapsulateRequest([gateway()], fromHex(A.encapsulatedRequest));
  assert.equal(toHex(opened.request), A.request);
  assert.equal(toHex(opened.context.secret), A.exportedSecret);
  const response = encapsulateResponse(opened.context, fromHex(A.response), fromHex(A.responseNonce));
  assert.equal(toHex(response), A.encapsulatedResponse);
  assert.equal(toHex(decapsulateResponse(context, fromHex(A.encapsulatedResponse))), A.response);
  assert.equal(decodeResponse(fromHex(A.response)).status, 200);
  assert.equal(toHex(encodeResponse({ status: 200, headers: [], content: new Uint8Array(), trailers: [] })), A.response);
});

test('a round trip with fields, content and fresh randomness; each request is unlinkable to the next', async () => {
  const sk = x25519.utils.randomSecretKey();
  const key: GatewayKey = { config: { keyId: 7, kemId: 0x20, publicKey: x25519.getPublicKey(sk), suites: [{ kdfId: 1, aeadId: 1 }] }, privateKey: sk };
  const body = encodeRequest({ method: 'POST', scheme: 'https', authority: 'b.example', path: '/keyPackage', headers: [['content-type', 'application/mls-message'], ['authorization', 'PrivateToken token=abc']], content: utf8('KeyPackageRequest'), trailers: [] });
  const first = await encapsulateRequest(key.config, body);
  const second = await encapsulateRequest(key.config, body);
  assert.notEqual(toHex(first.encapsulated), toHex(second.encapsulated));
  const at = await decapsulateRequest([key], first.encapsulated);
  const req = decodeRequest(at.request);
  assert.equal(req.method, 'POST');
  assert.deepEqual(req.headers[1], ['authorization', 'PrivateToken token=abc']);
  const answer = encodeResponse({ status: 201, headers: [['content-type', 'application/mls-message']], content: utf8('KeyPackage'), trailers: [] });
  const res = decodeResponse(decapsulateResponse(first.context, encapsulateResponse(at.context, answer)));
  assert.equal(res.status, 201);
  assert.equal(new TextDecoder().decode(res.content), 'KeyPackage');
  // A response does not open with another request's context.
  assert.throws(() => decapsulateResponse(second.context, encapsulateResponse(at.context, answer)), (e) => e instanceof OhttpError && e.reason === 'decrypt');
  assert.deepEqual(decodeKeyConfigs(encodeKeyConfigs([key.config, gateway().config])), [key.config, gateway().config]);
});

test('tampered, truncated, unknown-key and garbage requests are refused with a reason', async () => {
  const reason = (r: OhttpError['reason']) => (e: unknown) => e instanceof OhttpError && e.reason === r;
  const good = fromHex(A.encapsulatedRequest);
  const flipped = good.slice();
  flipped[good.length - 3] ^= 1;
  await assert.rejects(decapsulateRequest([gateway()], flipped), reason('decrypt'));
  await assert.rejects(decapsulateRequest([gateway()], good.slice(0, 40)), reason('malformed'));
  const otherKey = good.slice();
  otherKey[0] = 9;
  await assert.rejects(decapsulateRequest([gateway()], otherKey), reason('unknownKey'));
  const otherAead = good.slice();
  otherAead[6] = 3;
  await assert.rejects(decapsulateRequest([gateway()], otherAead), reason('unsupportedSuite'));
  assert.throws(() => decodeKeyConfig(fromHex(A.keyConfig).slice(0, 20)), reason('malformed'));
  assert.throws(() => decodeKeyConfig(fromHex('0100100000')), reason('unsupportedSuite'));
  assert.throws(() => decapsulateResponse({ enc: new Uint8Array(32), secret: new Uint8Array(16) }, new Uint8Array(10)), reason('malformed'));
});

test('binary HTTP: truncation, padding and bad input as RFC 9292 says', () => {
  assert.throws(() => decodeRequest(fromHex('0003474554')), BhttpError); // cut inside the control data
  assert.throws(() => decodeRequest(fromHex('02')), /indeterminate/);
  assert.throws(() => decodeRequest(fromHex('01')), /not a request/);
  assert.equal(decodeRequest(fromHex(A.request + '0000')).path, '/', 'zero padding is allowed');
  assert.throws(() => decodeRequest(fromHex(A.request + '01')), BhttpError);
  // Header field names must be lowercase tokens.
  const bad = encodeRequest({ method: 'GET', scheme: 'https', authority: 'x', path: '/', headers: [['ok', 'v']], content: new Uint8Array(), trailers: [] });
  const upper = bad.slice();
  upper[upper.indexOf(0x6f)] = 0x4f; // 'o' -> 'O'
  assert.throws(() => decodeRequest(upper), /lowercase token/);
  // Informational responses are skipped.
  assert.equal(decodeResponse(fromHex('014064' + '00' + '40c8')).status, 200);
  assert.throws(() => encodeResponse({ status: 99, headers: [], content: new Uint8Array(), trailers: [] }), BhttpError);
});
