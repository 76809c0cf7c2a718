// Franking's pure parts (src-shared/franking.ts) against the structures of
// draft-ietf-mimi-protocol-06 "Message Franking", built byte by byte here with node:crypto, and a
// receiver's check on a real mimi-content message: each thing a forger could change (text, sender,
// room, frank, timestamp, key, cipher suite) is caught.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { concatBytes, utf8 } from '../../src-shared/bytes.js';
import { encodeContent, textMessage } from '../../src-shared/content.js';
import {
  decodeFrankingAgentData,
  decodeSafeAad,
  decodeServerFrankingContext,
  encodeFrankingAgentData,
  encodeSafeAad,
  encodeServerFrankingContext,
  frankAad,
  frankingIntegrityTbs,
  frankingTag,
  frankingTagOf,
  frankProblem,
  makeFrank,
  serverFrank,
  serverFrankValid,
  FRANK_AAD_COMPONENT_ID,
} from '../../src-shared/franking.js';
import { decodeFrank, encodeFrank } from '../../src-shared/mimi-protocol.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { basicCredential } from '../../src-shared/mls-structs.js';

const ALICE = 'mimi://b.example/u/alice';
const ROOM = 'mimi://hub.example/r/Rl33FWLCYWOwxHrYnpWDQg';
const hmac = (k: Uint8Array, d: Uint8Array) => new Uint8Array(createHmac('sha256', k).update(d).digest());
const u16 = (n: number) => new Uint8Array([n >> 8, n & 0xff]);
const u64 = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
};
const opaque = (b: Uint8Array) => concatBytes(new Uint8Array([b.length]), b); // all < 64 bytes here: a 1-byte varint

test('the franking tag is HMAC-SHA256 keyed by the salt, and travels as the frank_aad Safe AAD item', () => {
  const salt = randomBytes(16);
  const data = utf8('application data');
  const tag = frankingTag(salt, data);
  assert.deepEqual(tag, hmac(salt, data));
  const aad = frankAad(tag);
  // SafeAAD { aad_items<V> = [ { component_id 0x0020, opaque aad_item_data<V> = tag } ] }
  assert.deepEqual(aad, opaque(concatBytes(u16(0x0020), opaque(tag))));
  assert.deepEqual(frankingTagOf(aad), tag);
  assert.equal(frankingTagOf(new Uint8Array()), undefined);
  assert.throws(() => frankingTag(salt.subarray(0, 15), data), /16 bytes/);
  // Items are kept in component order; out of order or repeated ones are refused.
  const two = encodeSafeAad([{ componentId: 0x0030, data: utf8('x') }, { componentId: FRANK_AAD_COMPONENT_ID, data: tag }]);
  assert.deepEqual(decodeSafeAad(two).map((i) => i.componentId), [0x0020, 0x0030]);
  assert.throws(() => decodeSafeAad(opaque(concatBytes(u16(0x0030), opaque(utf8('x')), u16(0x0020), opaque(tag)))), /increasing component_id/);
  assert.throws(() => encodeSafeAad([{ componentId: 1, data: tag }, { componentId: 1, data: tag }]), /appears twice/);
  assert.throws(() => frankingTagOf(encodeSafeAad([{ componentId: FRANK_AAD_COMPONENT_ID, data: tag.subarray(1) }])), /not a 32-byte/);
});

test('the hub: ServerFrankingContext, server_frank, FrankingIntegrityTBS and its signature, byte for byte', () => {
  const ctx = { senderUri: ALICE, roomUri: ROOM, acceptedTimestamp: 1_700_000_000_123n };
  const encodedCtx = concatBytes(opaque(utf8(ALICE)), opaque(utf8(ROOM)), u64(ctx.acceptedTimestamp));
  assert.deepEqual(encodeServerFrankingContext(ctx), encodedCtx);
  assert.deepEqual(decodeServerFrankingContext(encodedCtx), ctx);
  const hubKey = randomBytes(32);
  const tag = randomBytes(32);
  const sf = serverFrank(hubKey, tag, ctx);
  assert.deepEqual(sf, hmac(hubKey, concatBytes(tag, encodedCtx)));
  assert.equal(serverFrankValid(hubKey, tag, ctx, sf), true);
  assert.equal(serverFrankValid(hubKey, tag, { ...ctx, acceptedTimestamp: ctx.acceptedTimestamp + 1n }, sf), false);
  assert.equal(serverFrankValid(randomBytes(32), tag, ctx, sf), false);
  assert.deepEqual(frankingIntegrityTbs(sf, 1, ctx), concatBytes(sf, u16(1), encodedCtx));
  const agent = generateSignatureKeyPair();
  const frank = makeFrank({ hubKey, frankingPrivateKey: agent.privateKey, ciphersuite: 1, tag, context: ctx });
  assert.deepEqual(frank.serverFrank, sf);
  // It is the draft's Frank struct on the wire.
  assert.deepEqual(decodeFrank(encodeFrank(frank)), frank);
  const data = encodeFrankingAgentData({ frankingSignatureKey: agent.publicKey, credential: basicCredential('mimi://hub.example') });
  const back = decodeFrankingAgentData(data);
  assert.deepEqual(back.frankingSignatureKey, agent.publicKey);
  assert.throws(() => decodeFrankingAgentData(concatBytes(data, new Uint8Array([0]))), /malformed FrankingAgentData/);
});

test('a receiver verifies a real franked message, and refuses each thing a forger could change', () => {
  const salt = randomBytes(16);
  const content = textMessage({ senderUri: ALICE, roomUri: ROOM, salt, text: 'you will regret this' });
  const applicationData = encodeContent(content);
  const tag = frankingTag(salt, applicationData);
  const authenticatedData = frankAad(tag);
  const agentKeys = generateSignatureKeyPair();
  const agent = { frankingSignatureKey: agentKeys.publicKey, credential: basicCredential('mimi://hub.example') };
  const context = { senderUri: ALICE, roomUri: ROOM, acceptedTimestamp: 1_700_000_000_000n };
  const hubKey = randomBytes(32);
  const frank = makeFrank({ hubKey, frankingPrivateKey: agentKeys.privateKey, ciphersuite: 1, tag, context });
  const good = { frank, context, groupCiphersuite: 1, agent, hubDomain: 'hub.example', authenticatedData, applicationData, salt, sender: ALICE, contentSender: ALICE, contentRoom: ROOM, roomUri: ROOM };
  assert.equal(frankProblem(good), undefined);

  const altered = encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, salt, text: 'you will like this' }));
  assert.match(frankProblem({ ...good, applicationData: altered })!, /not the HMAC of the content/);
  assert.match(frankProblem({ ...good, sender: 'mimi://b.example/u/mallory' })!, /MLS sender is mimi:\/\/b.example\/u\/mallory/);
  assert.match(frankProblem({ ...good, contentRoom: 'mimi://hub.example/r/other' })!, /franked for room/);
  assert.match(frankProblem({ ...good, context: { ...context, acceptedTimestamp: context.acceptedTimestamp + 1n } })!, /integrity signature/);
  assert.match(frankProblem({ ...good, frank: { ...frank, serverFrank: randomBytes(32) } })!, /integrity signature/);
  assert.match(frankProblem({ ...good, agent: { ...agent, frankingSignatureKey: generateSignatureKeyPair().publicKey } })!, /integrity signature/);
  assert.match(frankProblem({ ...good, agent: { ...agent, credential: basicCredential('mimi://evil.example') } })!, /not the hub hub\.example/);
  assert.match(frankProblem({ ...good, groupCiphersuite: 2 })!, /cipher suite/);
  assert.match(frankProblem({ ...good, authenticatedData: new Uint8Array() })!, /no franking_tag/);
});
