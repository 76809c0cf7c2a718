// KeyPackage requests over OHTTP (seed-001 structs, our bundle and token components) and the
// Privacy Pass tokens that guard them (src-shared/key-package-tokens.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src-shared/bytes.js';
import {
  decodeKeyPackageRequest,
  decodeKeyPackageRequests,
  decodeKeyPackageResponse,
  decodeKeyPackageResponseList,
  encodeKeyPackageResponseList,
  decodeKeyPackageResults,
  decodeKeyPackageTokenKeys,
  decodeKeyPackageTokenRequest,
  decodeKeyPackageTokenResponse,
  encodeKeyPackageRequest,
  encodeKeyPackageRequests,
  encodeKeyPackageResponse,
  encodeKeyPackageResults,
  encodeKeyPackageTokenKeys,
  encodeKeyPackageTokenRequest,
  encodeKeyPackageTokenResponse,
  MAX_KEY_PACKAGE_REQUESTS,
} from '../../src-shared/key-package-request.js';
import { requestTokens, TOKEN_BYTES, TOKEN_REQUEST_BYTES, TOKEN_RESPONSE_BYTES, TokenError, TokenIssuer } from '../../src-shared/key-package-tokens.js';
import { decodeKeyPackage, unwrapMlsMessage } from '../../src-shared/mls-structs.js';
import { MimiWireError } from '../../src-shared/tls-struct.js';

const BOB = 'mimi://b.example/u/bob';
const CAROL = 'mimi://b.example/u/carol';

test('KeyPackageRequest is the seed-001 struct byte for byte: user_id<V>, bearer_token<V>, uint16 version, uint16 cipher_suite', () => {
  const req = { userId: BOB, bearerToken: new Uint8Array([1, 2, 3]), version: 1, cipherSuite: 1 };
  const bytes = encodeKeyPackageRequest(req);
  const want = concatBytes(new Uint8Array([utf8(BOB).length]), utf8(BOB), fromHex('03010203'), fromHex('0001'), fromHex('0001'));
  assert.equal(toHex(bytes), toHex(want));
  assert.deepEqual(decodeKeyPackageRequest(bytes), req);
  for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decodeKeyPackageRequest(bytes.subarray(0, cut)), MimiWireError);
  assert.throws(() => decodeKeyPackageRequest(concatBytes(bytes, new Uint8Array(1))), MimiWireError);
  assert.throws(() => encodeKeyPackageRequest({ ...req, version: 70000 }), MimiWireError);
});

test('KeyPackageResponse carries the bare KeyPackage; the bundle answers each request in order', async () => {
  const engine = await createMlsEngine();
  const keys = await engine.newDeviceKeys('mimi://b.example/d/bob/phone');
  const [kp] = await engine.generateKeyPackages(keys, 1);
  const body = unwrapMlsMessage(kp.publicMessage).body;
  const keyPackage = decodeKeyPackage(body);
  const bytes = encodeKeyPackageResponse({ keyPackage });
  assert.equal(toHex(bytes), toHex(body), 'struct { KeyPackage key_package; } is the KeyPackage itself');
  assert.equal(toHex(decodeKeyPackageResponse(bytes).keyPackage.raw), toHex(body));

  const requests = { requests: [BOB, CAROL].map((userId) => ({ userId, bearerToken: new Uint8Array(TOKEN_BYTES), version: 1, cipherSuite: 1 })) };
  assert.deepEqual(decodeKeyPackageRequests(encodeKeyPackageRequests(requests)), requests);
  assert.throws(() => encodeKeyPackageRequests({ requests: [] }), MimiWireError);
  const tooMany = { requests: Array.from({ length: MAX_KEY_PACKAGE_REQUESTS + 1 }, () => requests.requests[0]) };
  assert.throws(() => encodeKeyPackageRequests(tooMany), MimiWireError);

  // Two clients of bob's: the single answer is their KeyPackageResponses back to back.
  const [kp2] = await engine.generateKeyPackages(await engine.newDeviceKeys('mimi://b.example/d/bob/laptop'), 1);
  const keyPackage2 = decodeKeyPackage(unwrapMlsMessage(kp2.publicMessage).body);
  const list = encodeKeyPackageResponseList([keyPackage, keyPackage2]);
  assert.equal(toHex(list), toHex(concatBytes(body, unwrapMlsMessage(kp2.publicMessage).body)));
  assert.deepEqual(decodeKeyPackageResponseList(list).map((r) => toHex(r.keyPackage.raw)), [toHex(body), toHex(keyPackage2.raw)]);
  assert.throws(() => decodeKeyPackageResponseList(new Uint8Array()), MimiWireError);
  assert.throws(() => decodeKeyPackageResponseList(list.subarray(0, list.length - 1)), MimiWireError);

  const results = encodeKeyPackageResults({ results: [{ status: 'success', keyPackages: [keyPackage, keyPackage2] }, { status: 'badToken' }, { status: 'unknownUser' }] });
  const back = decodeKeyPackageResults(results);
  assert.deepEqual(back.results.map((r) => r.status), ['success', 'badToken', 'unknownUser']);
  assert.deepEqual(back.results[0].status === 'success' && back.results[0].keyPackages.map((k) => toHex(k.raw)), [toHex(body), toHex(keyPackage2.raw)]);
  assert.throws(() => encodeKeyPackageResults({ results: [{ status: 'success', keyPackages: [] }] }), MimiWireError);
  const badStatus = results.slice();
  badStatus[results.length - 1] = 9; // the last result's status
  assert.throws(() => decodeKeyPackageResults(badStatus), MimiWireError);
});

test('the token components round-trip, and a refusal carries no tokens', () => {
  const keys = { keys: [{ user: BOB, tokenKey: new Uint8Array(49).fill(2) }] };
  assert.deepEqual(decodeKeyPackageTokenKeys(encodeKeyPackageTokenKeys(keys)), keys);
  const req = { requester: 'mimi://a.example/u/alice', target: BOB, tokenRequests: new Uint8Array(TOKEN_REQUEST_BYTES * 2) };
  assert.deepEqual(decodeKeyPackageTokenRequest(encodeKeyPackageTokenRequest(req)), req);
  const issued = { status: 'issued' as const, tokenResponses: new Uint8Array(TOKEN_RESPONSE_BYTES) };
  assert.deepEqual(decodeKeyPackageTokenResponse(encodeKeyPackageTokenResponse(issued)), issued);
  assert.throws(() => encodeKeyPackageTokenResponse({ status: 'noConsent', tokenResponses: new Uint8Array(1) }), MimiWireError);
  const refused = encodeKeyPackageTokenResponse({ status: 'noConsent', tokenResponses: new Uint8Array() });
  assert.deepEqual(decodeKeyPackageTokenResponse(refused), { status: 'noConsent', tokenResponses: new Uint8Array() });
  const sneaky = concatBytes(refused.subarray(0, 1), fromHex('0100'));
  assert.throws(() => decodeKeyPackageTokenResponse(sneaky), MimiWireError);
});

test('tokens: issued blind, valid only for their target and epoch, forged or cut ones refused, nonces distinct', async () => {
  const secret = randomBytes(32);
  const issuer = new TokenIssuer('b.example', secret, 1);
  const key = await issuer.publicKey(BOB);
  assert.equal(toHex(key), toHex(await new TokenIssuer('b.example', secret, 1).publicKey(BOB)), 'derived: the same key without storing it');
  assert.notEqual(toHex(key), toHex(await issuer.publicKey(CAROL)), 'one key per target');

  const asked = await requestTokens('b.example', BOB, key, 3);
  assert.equal(asked.requests.length, 3 * TOKEN_REQUEST_BYTES);
  const answered = await issuer.issue(BOB, asked.requests, 16);
  assert.equal(answered.length, 3 * TOKEN_RESPONSE_BYTES);
  const tokens = await asked.finalize(answered);
  assert.equal(tokens.length, 3);
  const nonces = new Set<string>();
  for (const t of tokens) {
    assert.equal(t.length, TOKEN_BYTES);
    const r = await issuer.check(BOB, t);
    assert.ok(r.ok, JSON.stringify(r));
    if (r.ok) nonces.add(toHex(r.nonce));
  }
  assert.equal(nonces.size, 3);

  // Bound to bob: not carol's, not another epoch's (invalidation), not another provider's.
  assert.deepEqual(await issuer.check(CAROL, tokens[0]), { ok: false, reason: 'made for another key (another user, or an old epoch)' });
  assert.equal((await new TokenIssuer('b.example', secret, 2).check(BOB, tokens[0])).ok, false);
  assert.equal((await new TokenIssuer('c.example', secret, 1).check(BOB, tokens[0])).ok, false);
  // Forged authenticator, cut, garbage.
  const forged = tokens[0].slice();
  forged[TOKEN_BYTES - 1] ^= 1;
  assert.deepEqual(await issuer.check(BOB, forged), { ok: false, reason: 'forged' });
  assert.equal((await issuer.check(BOB, tokens[0].subarray(0, 100))).ok, false);
  assert.equal((await issuer.check(BOB, randomBytes(TOKEN_BYTES))).ok, false);

  // Requests for carol's key are refused by bob's issuance (stale key), and the issuer's answer
  // is checked by the client: responses made with another key do not finalize.
  const forCarol = await requestTokens('b.example', CAROL, await issuer.publicKey(CAROL), 1);
  await assert.rejects(issuer.issue(BOB, forCarol.requests, 16), TokenError);
  const wrongKey = await requestTokens('b.example', BOB, await issuer.publicKey(CAROL), 1);
  const tagged = await issuer.issue(CAROL, (await requestTokens('b.example', CAROL, await issuer.publicKey(CAROL), 1)).requests, 16);
  await assert.rejects(wrongKey.finalize(tagged), TokenError);
  await assert.rejects(issuer.issue(BOB, new Uint8Array(TOKEN_REQUEST_BYTES - 1), 16), TokenError);
  await assert.rejects(issuer.issue(BOB, asked.requests, 2), /at most 2/);
});
