// The connection request of the pseudonym connection flow (draft-mahy-mimi-pseudonyms 4.1) and the
// "valid for initial connections only" KeyPackage marker: codec, create, verify, and every refusal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { DeviceKeys, MlsEngine } from '../../src-main/mls/engine.js';
import {
  CONNECTION_ONLY_EXTENSION_TYPE,
  CONNECTION_REQUEST_MEDIA_TYPE,
  connectionRequestContent,
  connectionRequestId,
  createConnectionRequest,
  decodeConnectionRequest,
  encodeConnectionRequest,
  encodeConnectionRequestTBS,
  findConnectionRequest,
  hasConnectionOnlyMarker,
  isConnectionOnlyKeyPackage,
  verifyConnectionRequest,
  type ConnectionRequestCheck,
} from '../../src-shared/connection-request.js';
import { decodeKeyPackage, unwrapMlsMessage, wrapMlsMessage, encodeKeyPackage, basicCredential } from '../../src-shared/mls-structs.js';
import { MlsWireError } from '../../src-shared/mls-wire.js';
import { MimiWireError } from '../../src-shared/tls-struct.js';
import { decodeContent, encodeContent } from '../../src-shared/content.js';
import { newPseudonymUri } from '../../src-shared/identifiers.js';
import { signWithLabel } from '../../src-shared/mls-crypto.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { bytesEqual, concatBytes, toHex, utf8 } from '../../src-shared/bytes.js';

const ALICE_DEVICE = 'mimi://a.example/d/alice/laptop';
const BOOTSTRAP = 'mimi://a.example/r/bootstrap1';
/** The KeyPackages are made now (their lifetimes start an hour ago), so the tests run at "now". */
const NOW = Math.floor(Date.now() / 1000) * 1000;

interface Setup {
  engine: MlsEngine;
  device: DeviceKeys;
  bootstrapPseudonym: string;
  connectionPseudonym: string;
  /** KeyPackages of two clients of the connection pseudonym. */
  keyPackages: Uint8Array[];
}

async function setup(): Promise<Setup> {
  const engine = await createMlsEngine();
  const device = await engine.newDeviceKeys(ALICE_DEVICE);
  const bootstrapPseudonym = newPseudonymUri('a.example');
  const connectionPseudonym = newPseudonymUri('a.example');
  const keyPackages: Uint8Array[] = [];
  for (const name of ['laptop', 'phone']) {
    const dev = name === 'laptop' ? device : await engine.newDeviceKeys(`mimi://a.example/d/alice/${name}`);
    const keys = await engine.newPseudonymousKeys(dev, { client: newPseudonymUri('a.example'), user: connectionPseudonym });
    keyPackages.push((await engine.generateKeyPackages(keys, 1, { connectionOnly: true }))[0].publicMessage);
  }
  return { engine, device, bootstrapPseudonym, connectionPseudonym, keyPackages };
}

const s = await setup();

function request(over: Partial<Parameters<typeof createConnectionRequest>[0]> = {}): Uint8Array {
  return createConnectionRequest({
    bootstrapRoom: BOOTSTRAP,
    bootstrapPseudonym: s.bootstrapPseudonym,
    connectionPseudonym: s.connectionPseudonym,
    device: s.device,
    keyPackages: s.keyPackages,
    timestamp: BigInt(NOW),
    ...over,
  });
}

function verify(bytes: Uint8Array, over: Partial<Parameters<typeof verifyConnectionRequest>[1]> = {}): ConnectionRequestCheck {
  return verifyConnectionRequest(bytes, { roomUri: BOOTSTRAP, senderUserPseudonym: s.bootstrapPseudonym, now: NOW + 1000, ...over });
}

function refused(check: ConnectionRequestCheck, reason: string, detail?: RegExp): void {
  assert.equal(check.ok, false, 'expected a refusal');
  assert.ok(!check.ok);
  assert.equal(check.reason, reason, check.detail);
  if (detail) assert.match(check.detail, detail);
}

test('create and verify: the real sender, her second pseudonym and its clients', () => {
  const bytes = request();
  const check = verify(bytes);
  assert.ok(check.ok, check.ok ? '' : `${check.reason}: ${check.detail}`);
  assert.equal(check.senderDevice, ALICE_DEVICE);
  assert.equal(check.senderUser, 'mimi://a.example/u/alice');
  assert.deepEqual(check.request.senderSignatureKey, s.device.signaturePublicKey);
  assert.equal(check.request.connectionPseudonym, s.connectionPseudonym);
  assert.equal(check.request.timestamp, BigInt(NOW));
  assert.equal(check.clients.length, 2);
  for (const [i, c] of check.clients.entries()) {
    assert.ok(bytesEqual(c.keyPackage, s.keyPackages[i]));
    assert.equal(c.clientPseudonym, s.engine.keyPackageIdentity(c.keyPackage));
    assert.equal(c.connectionOnly, true);
  }
  assert.deepEqual(check.id, connectionRequestId(bytes));
});

test('wire format: the TBS fields in order, then the signature; byte-exact round trip', () => {
  const bytes = request();
  const req = decodeConnectionRequest(bytes);
  assert.deepEqual(encodeConnectionRequest(req), bytes);
  const tbs = encodeConnectionRequestTBS(req);
  const expected = new TlsWriter()
    .opaqueV(utf8(BOOTSTRAP))
    .opaqueV(utf8(s.bootstrapPseudonym))
    .opaqueV(utf8(s.connectionPseudonym))
    .u64(BigInt(NOW))
    .bytes(basicCredential(ALICE_DEVICE).raw)
    .opaqueV(s.device.signaturePublicKey)
    .opaqueV(concatBytes(...s.keyPackages))
    .finish();
  assert.equal(toHex(tbs), toHex(expected));
  assert.equal(toHex(bytes), toHex(new TlsWriter().bytes(expected).opaqueV(req.signature).finish()));
  // The signature is SignWithLabel(device key, "ConnectionRequestTBS", ConnectionRequestTBS).
  assert.deepEqual(req.signature, signWithLabel(s.device.signaturePrivateKey, 'ConnectionRequestTBS', tbs));
});

test('malformed requests are refused, never thrown', () => {
  const bytes = request();
  for (let cut = 0; cut < bytes.length; cut += 7) refused(verify(bytes.subarray(0, cut)), 'malformed');
  refused(verify(concatBytes(bytes, Uint8Array.of(0))), 'malformed', /trailing/);
  for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decodeConnectionRequest(bytes.subarray(0, cut)), MimiWireError);

  /** A request with the given TBS fields and a dummy signature: the codec refuses it before any signature check. */
  const tbsWith = (f: (w: TlsWriter) => void) => {
    const w = new TlsWriter();
    f(w);
    return w.opaqueV(new Uint8Array(64)).finish();
  };
  const fields = (room: string, p1: string, p2: string, cred = basicCredential(ALICE_DEVICE).raw, kps = s.keyPackages) => (w: TlsWriter) =>
    void w.opaqueV(utf8(room)).opaqueV(utf8(p1)).opaqueV(utf8(p2)).u64(1n).bytes(cred).opaqueV(s.device.signaturePublicKey).opaqueV(concatBytes(...kps));
  refused(verify(tbsWith(fields('mimi://a.example/u/alice', s.bootstrapPseudonym, s.connectionPseudonym))), 'malformed', /bootstrap_room.*not a mimi room URI/);
  refused(verify(tbsWith(fields(BOOTSTRAP, 'mimi://a.example/u/alice', s.connectionPseudonym))), 'malformed', /bootstrap_pseudonym/);
  refused(verify(tbsWith(fields(BOOTSTRAP, s.bootstrapPseudonym, s.bootstrapPseudonym))), 'malformed', /must differ/);
  refused(verify(tbsWith(fields(BOOTSTRAP, s.bootstrapPseudonym, s.connectionPseudonym, basicCredential('mimi://a.example/u/alice').raw))), 'malformed', /sender_credential.*not a device URI/);
  refused(verify(tbsWith(fields(BOOTSTRAP, s.bootstrapPseudonym, s.connectionPseudonym, undefined, []))), 'malformed', /no KeyPackage/);
  const welcomeLike = wrapMlsMessage('welcome', new TlsWriter().u16(1).opaqueV(new Uint8Array()).opaqueV(new Uint8Array()).finish());
  refused(verify(tbsWith(fields(BOOTSTRAP, s.bootstrapPseudonym, s.connectionPseudonym, undefined, [welcomeLike]))), 'malformed', /KeyPackage/);
  assert.throws(() => request({ connectionPseudonym: s.bootstrapPseudonym }), MimiWireError);
  assert.throws(() => request({ keyPackages: [] }), /no KeyPackage/);
});

test('a forged signature, another room, another sender, an old or replayed request are refused', () => {
  const bytes = request();
  const flipped = bytes.slice();
  flipped[flipped.length - 1] ^= 1;
  refused(verify(flipped), 'badSignature');

  // Signed by another device's key while claiming alice's device: the key in the request must sign it.
  const req = decodeConnectionRequest(bytes);
  const mallory = request({ device: { ...s.device, identity: 'mimi://m.example/d/mallory/1' } });
  const swapped = encodeConnectionRequest({ ...decodeConnectionRequest(mallory), senderCredential: req.senderCredential });
  refused(verify(swapped), 'badSignature');

  refused(verify(bytes, { roomUri: 'mimi://a.example/r/other' }), 'wrongRoom', /bootstrap1/);
  refused(verify(bytes, { senderUserPseudonym: newPseudonymUri('m.example') }), 'wrongSender');
  refused(verify(bytes, { now: NOW + 8 * 24 * 3600 * 1000 }), 'expired');
  assert.ok(verify(bytes, { now: NOW + 8 * 24 * 3600 * 1000, maxAgeMs: 9 * 24 * 3600 * 1000 }).ok);
  refused(verify(bytes, { now: NOW - 3600 * 1000 }), 'fromFuture');

  const seen = new Set<string>();
  const memory = { seen: (id: Uint8Array) => seen.has(toHex(id)) };
  const first = verify(bytes, memory);
  assert.ok(first.ok);
  seen.add(toHex(first.id));
  refused(verify(bytes, memory), 'replayed');
  assert.ok(verify(request({ timestamp: BigInt(NOW + 1) }), memory).ok, 'a new request is not a replay');
});

test('KeyPackages must be valid KeyPackages of the second pseudonym', async () => {
  // A KeyPackage of another user pseudonym.
  const stranger = await s.engine.newPseudonymousKeys(s.device, { client: newPseudonymUri('a.example'), user: newPseudonymUri('a.example') });
  const [other] = await s.engine.generateKeyPackages(stranger, 1);
  refused(verify(request({ keyPackages: [s.keyPackages[0], other.publicMessage] })), 'badKeyPackage', /key_packages\[1\].*not the connection pseudonym/);
  // A real device's KeyPackage would reveal a device, not a pseudonym.
  const [basic] = await s.engine.generateKeyPackages(s.device, 1);
  refused(verify(request({ keyPackages: [basic.publicMessage] })), 'badKeyPackage', /not pseudonymous/);
  // The same client twice.
  refused(verify(request({ keyPackages: [s.keyPackages[0], s.keyPackages[0]] })), 'badKeyPackage', /appears twice/);
  // A KeyPackage whose signature does not verify (one byte of its signature changed).
  const kp = decodeKeyPackage(unwrapMlsMessage(s.keyPackages[0]).body);
  const badSig = kp.signature.slice();
  badSig[0] ^= 1;
  const tampered = wrapMlsMessage('keyPackage', encodeKeyPackage({ ...kp, signature: badSig }));
  refused(verify(request({ keyPackages: [tampered] })), 'badKeyPackage', /KeyPackage signature does not verify/);
  // A LeafNode whose signature does not verify (re-signing the KeyPackage cannot fix it).
  const leafSig = kp.leafNode.signature.slice();
  leafSig[0] ^= 1;
  const badLeaf = wrapMlsMessage('keyPackage', encodeKeyPackage({ ...kp, leafNode: { ...kp.leafNode, signature: leafSig } }));
  refused(verify(request({ keyPackages: [badLeaf] })), 'badKeyPackage', /LeafNode signature/);
  // An expired one.
  refused(verify(request({ timestamp: BigInt(NOW + 100 * 24 * 3600 * 1000) }), { now: NOW + 100 * 24 * 3600 * 1000 }), 'badKeyPackage', /expired/);
});

test('the connection-only KeyPackage marker', async () => {
  const [plain] = await s.engine.generateKeyPackages(s.device, 1);
  assert.equal(isConnectionOnlyKeyPackage(plain.publicMessage), false);
  assert.equal(isConnectionOnlyKeyPackage(s.keyPackages[0]), true);
  const [marked] = await s.engine.generateKeyPackages(s.device, 1, { connectionOnly: true });
  assert.equal(isConnectionOnlyKeyPackage(marked.publicMessage), true, 'real devices can mark theirs too');
  const kp = decodeKeyPackage(unwrapMlsMessage(marked.publicMessage).body);
  assert.deepEqual(
    kp.extensions.map((e) => [e.extensionType, e.extensionData.length]),
    [[CONNECTION_ONLY_EXTENSION_TYPE, 0]],
  );
  assert.ok(kp.leafNode.capabilities.extensions.includes(CONNECTION_ONLY_EXTENSION_TYPE), 'listed in the capabilities, as RFC 9420 10 asks');
  assert.throws(() => hasConnectionOnlyMarker({ extensions: [{ extensionType: CONNECTION_ONLY_EXTENSION_TYPE, extensionData: Uint8Array.of(1) }] }), MlsWireError);
  assert.throws(() => isConnectionOnlyKeyPackage(wrapMlsMessage('welcome', new TlsWriter().u16(1).opaqueV(new Uint8Array()).opaqueV(new Uint8Array()).finish())), /got welcome/);
  assert.throws(() => isConnectionOnlyKeyPackage(Uint8Array.of(0, 1)), MlsWireError);
});

test('as a mimi-content message', () => {
  const bytes = request();
  const content = connectionRequestContent({ senderUri: s.bootstrapPseudonym, roomUri: BOOTSTRAP, request: bytes });
  assert.equal(content.body.cardinality === 1 && content.body.contentType, CONNECTION_REQUEST_MEDIA_TYPE);
  const back = decodeContent(encodeContent(content));
  assert.deepEqual(findConnectionRequest(back), bytes);
  assert.ok(verify(findConnectionRequest(back)!).ok);
  assert.equal(findConnectionRequest({ ...back, body: { disposition: 1, language: '', cardinality: 1, contentType: 'text/plain;charset=utf-8', content: utf8('hi') } }), undefined);
});
