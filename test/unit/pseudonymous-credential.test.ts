// PseudonymousCredential, PseudonymousCredentialTBS and IdentityLinkTBE codecs (exact bytes, strict
// decoding), the MLS Credential wrapping (credential type 0xF001, no extra length prefix, the same
// bytes from mls-structs and from patched ts-mls), and the identity link scheme: create, seal, open,
// verify, refuse forgeries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gcm } from '@noble/ciphers/aes.js';
import { expand } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeCredential as tsDecodeCredential, encodeCredential as tsEncodeCredential } from 'ts-mls/credential.js';
import {
  checkPseudonymUri,
  decodePseudonymousCredential,
  decodePseudonymousCredentialTBS,
  decodePseudonymousMlsCredential,
  encodePseudonymousCredential,
  encodePseudonymousCredentialTBS,
  encodePseudonymousMlsCredential,
  PSEUDONYMOUS_CREDENTIAL_TYPE,
  PseudonymousCredentialError,
  type PseudonymousCredential,
} from '../../src-shared/pseudonymous-credential.js';
import {
  createIdentityLink,
  decodeIdentityLinkCiphertext,
  decodeIdentityLinkKeys,
  decodeIdentityLinkPlaintext,
  decodeIdentityLinkTBE,
  encodeIdentityLinkKeys,
  encodeIdentityLinkPlaintext,
  encodeIdentityLinkTBE,
  findIdentityLinkKeys,
  IdentityLinkError,
  identityLinkKeysContent,
  linkConsistency,
  openIdentityLink,
  sealIdentityLink,
  type IdentityLinkKey,
} from '../../src-shared/identity-link.js';
import { basicCredential, decodeCredential, encodeCredential } from '../../src-shared/mls-structs.js';
import { MlsWireError } from '../../src-shared/mls-wire.js';
import { generateSignatureKeyPair, signWithLabel } from '../../src-shared/mls-crypto.js';
import { decodeContent, encodeContent } from '../../src-shared/content.js';
import { MimiWireError } from '../../src-shared/tls-struct.js';
import { TlsWriter } from '../../src-shared/tls.js';
import { bytesEqual, concatBytes, fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

const CLIENT = 'mimi://a.example/p/c1ient';
const USER = 'mimi://a.example/p/us3r';
const DEVICE = 'mimi://a.example/d/alice/laptop';
const ROOM = 'mimi://hub.example/r/mmr';

const key32 = (fill: number) => new Uint8Array(32).fill(fill);

function credential(over: Partial<PseudonymousCredential> = {}): PseudonymousCredential {
  return { clientPseudonym: CLIENT, userPseudonym: USER, signaturePublicKey: key32(7), identityLinkCiphertext: new Uint8Array(0), ...over };
}

const isPcError = (pattern?: RegExp) => (e: unknown) => e instanceof PseudonymousCredentialError && e instanceof MlsWireError && (!pattern || pattern.test(e.message));
const isMimiError = (pattern?: RegExp) => (e: unknown) => e instanceof MimiWireError && (!pattern || pattern.test(e.message));

function allTruncationsFail(bytes: Uint8Array, decode: (b: Uint8Array) => unknown, isError: (e: unknown) => boolean, label: string): void {
  for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decode(bytes.subarray(0, cut)), isError, `${label}: cut at ${cut}`);
  assert.throws(() => decode(concatBytes(bytes, Uint8Array.of(0))), isError, `${label}: trailing byte`);
}

test('PseudonymousCredential: exact bytes, <V> signature key, round trip', () => {
  const c = credential({ identityLinkCiphertext: Uint8Array.of(0xaa, 0xbb) });
  const bytes = encodePseudonymousCredential(c);
  const expected = concatBytes(
    Uint8Array.of(CLIENT.length),
    utf8(CLIENT),
    Uint8Array.of(USER.length),
    utf8(USER),
    Uint8Array.of(32), // signature_public_key<V>: the draft's missing <V>
    key32(7),
    Uint8Array.of(2, 0xaa, 0xbb),
  );
  assert.equal(toHex(bytes), toHex(expected));
  assert.deepEqual(decodePseudonymousCredential(bytes), c);
  allTruncationsFail(bytes, decodePseudonymousCredential, isPcError(), 'PseudonymousCredential');

  // The TBS is the same minus the link.
  const tbs = encodePseudonymousCredentialTBS(c);
  assert.equal(toHex(tbs), toHex(expected.subarray(0, expected.length - 3)));
  assert.deepEqual(decodePseudonymousCredentialTBS(tbs), { clientPseudonym: CLIENT, userPseudonym: USER, signaturePublicKey: key32(7) });
  allTruncationsFail(tbs, decodePseudonymousCredentialTBS, isPcError(), 'PseudonymousCredentialTBS');
});

test('PseudonymousCredential: bad pseudonyms and keys are refused with the field named', () => {
  const withUri = (uri: Uint8Array) =>
    new TlsWriter().opaqueV(uri).opaqueV(utf8(USER)).opaqueV(key32(1)).opaqueV(new Uint8Array(0)).finish();
  assert.throws(() => decodePseudonymousCredential(withUri(Uint8Array.of(0xff, 0xfe))), isPcError(/client_pseudonym: is not valid UTF-8/));
  assert.throws(() => decodePseudonymousCredential(withUri(utf8('https://a.example/p/x'))), isPcError(/client_pseudonym: not a mimi pseudonym URI/));
  assert.throws(() => decodePseudonymousCredential(withUri(utf8('mimi://a.example/u/alice'))), isPcError(/client_pseudonym/));
  assert.throws(() => decodePseudonymousCredential(withUri(utf8('mimi://A.example/p/x'))), isPcError(/client_pseudonym/));
  assert.throws(() => decodePseudonymousCredential(withUri(new Uint8Array(0))), isPcError(/client_pseudonym/));
  const noKey = new TlsWriter().opaqueV(utf8(CLIENT)).opaqueV(utf8(USER)).opaqueV(new Uint8Array(0)).opaqueV(new Uint8Array(0)).finish();
  assert.throws(() => decodePseudonymousCredential(noKey), isPcError(/signature_public_key: is empty/));
  const userBad = new TlsWriter().opaqueV(utf8(CLIENT)).opaqueV(utf8('mimi://a.example/d/alice/x')).opaqueV(key32(1)).opaqueV(new Uint8Array(0)).finish();
  assert.throws(() => decodePseudonymousCredential(userBad), isPcError(/user_pseudonym/));
  assert.throws(() => encodePseudonymousCredential(credential({ userPseudonym: 'bob' })), isPcError(/user_pseudonym/));
  assert.throws(() => encodePseudonymousCredential(credential({ signaturePublicKey: 'k' as never })), isPcError(/signature_public_key/));
  assert.throws(() => checkPseudonymUri(`mimi://a.example/p/${'x'.repeat(600)}`, 'S', 'f'), isPcError(/longer than/));
});

test('as an MLS Credential: type 0xF001 then the struct, the same bytes in mls-structs and patched ts-mls', () => {
  const c = credential({ identityLinkCiphertext: Uint8Array.of(1, 2, 3) });
  const whole = encodePseudonymousMlsCredential(c);
  assert.equal(PSEUDONYMOUS_CREDENTIAL_TYPE, 0xf001);
  assert.equal(toHex(whole), 'f001' + toHex(encodePseudonymousCredential(c)), 'no length prefix after credential_type');
  assert.deepEqual(decodePseudonymousMlsCredential(whole), c);
  assert.throws(() => decodePseudonymousMlsCredential(basicCredential(DEVICE).raw), isPcError(/not the pseudonymous credential type/));
  allTruncationsFail(whole, decodePseudonymousMlsCredential, isPcError(), 'Credential');

  // The provider's RFC 9420 decoders (mls-structs) read and write it.
  const decoded = decodeCredential(whole);
  assert.equal(decoded.credentialType, 'pseudonymous');
  assert.ok(decoded.credentialType === 'pseudonymous' && decoded.clientPseudonym === CLIENT && decoded.userPseudonym === USER);
  assert.deepEqual(decoded.raw, whole);
  assert.deepEqual(encodeCredential({ credentialType: 'pseudonymous', ...c }), whole);
  assert.throws(() => decodeCredential(fromHex('f001' + '00')), (e: unknown) => e instanceof MlsWireError);

  // ts-mls (with scripts/patch-ts-mls.mjs) writes and reads exactly these bytes.
  const ts = { credentialType: String(0xf001), data: encodePseudonymousCredential(c) } as never;
  assert.equal(toHex(tsEncodeCredential(ts)), toHex(whole));
  const back = tsDecodeCredential(whole, 0);
  assert.ok(back);
  assert.equal(back[1], whole.length);
  assert.deepEqual((back[0] as unknown as { data: Uint8Array }).data, encodePseudonymousCredential(c));
  // ts-mls refuses to write content that is not exactly the struct.
  assert.throws(() => tsEncodeCredential({ credentialType: String(0xf001), data: concatBytes(encodePseudonymousCredential(c), Uint8Array.of(0)) } as never));
});

test('IdentityLinkTBE: exact bytes (the draft struct), strict', () => {
  const sig = new Uint8Array(64).fill(5);
  const tbe = { pseudonymousCredentialSignature: sig, clientCredential: basicCredential(DEVICE) };
  const bytes = encodeIdentityLinkTBE(tbe);
  assert.equal(toHex(bytes), toHex(concatBytes(Uint8Array.of(0x40, 64), sig, basicCredential(DEVICE).raw)));
  const back = decodeIdentityLinkTBE(bytes);
  assert.deepEqual(back.pseudonymousCredentialSignature, sig);
  assert.deepEqual(back.clientCredential.raw, basicCredential(DEVICE).raw);
  allTruncationsFail(bytes, decodeIdentityLinkTBE, isMimiError(), 'IdentityLinkTBE');
  assert.throws(() => decodeIdentityLinkTBE(concatBytes(Uint8Array.of(0), basicCredential(DEVICE).raw)), isMimiError(/pseudonymous_credential_signature: is empty/));
  assert.throws(() => decodeIdentityLinkTBE(concatBytes(Uint8Array.of(1, 9), fromHex('0009'))), isMimiError(/client_credential.*credential_type 9/));
});

// ---------------------------------------------------------------------------------------------
// The identity link scheme

function realDevice() {
  const pair = generateSignatureKeyPair();
  return { identity: DEVICE, signaturePublicKey: pair.publicKey, signaturePrivateKey: pair.privateKey };
}

/**
 * The construction of docs/pseudonyms.md written out independently: AES-128-GCM under
 * ExpandWithLabel(ILK, "mimi identity link aead key", group_id || ilk_epoch, 16), AAD = group_id ||
 * ilk_epoch || PseudonymousCredentialTBS, plaintext padded with zeros to a multiple of 256. It lets
 * the tests seal what sealIdentityLink refuses to (forged links).
 */
function sealByHand(ilk: IdentityLinkKey, c: PseudonymousCredential, plaintext: Uint8Array, nonce: Uint8Array): Uint8Array {
  const gid = utf8(ROOM);
  const context = new TlsWriter().opaqueV(gid).u64(ilk.epoch).finish();
  const info = new TlsWriter().u16(16).opaqueV(utf8('MLS 1.0 mimi identity link aead key')).opaqueV(context).finish();
  const key = expand(sha256, ilk.key, info, 16);
  const aad = concatBytes(new TlsWriter().opaqueV(gid).u64(ilk.epoch).finish(), encodePseudonymousCredentialTBS(c));
  const padded = new Uint8Array(Math.ceil((plaintext.length + 1) / 256) * 256);
  padded.set(plaintext);
  const ct = gcm(key, nonce, aad).encrypt(padded);
  return new TlsWriter().u64(ilk.epoch).opaqueV(nonce).opaqueV(ct).finish();
}

test('identity link: create, seal, open and verify; the documented construction byte for byte', () => {
  const device = realDevice();
  const pseudo = generateSignatureKeyPair();
  const tbs = { clientPseudonym: CLIENT, userPseudonym: USER, signaturePublicKey: pseudo.publicKey };
  const link = createIdentityLink(device, tbs);
  const plain = decodeIdentityLinkPlaintext(link);
  assert.deepEqual(plain.clientSignatureKey, device.signaturePublicKey);
  assert.equal(plain.identityLink.clientCredential.credentialType, 'basic');
  assert.deepEqual(encodeIdentityLinkPlaintext(plain), link);

  const ilk: IdentityLinkKey = { epoch: 3n, key: key32(9) };
  const nonce = new Uint8Array(12).fill(4);
  const sealed = sealIdentityLink({ groupId: ROOM, key: ilk, credential: tbs, link, nonce });
  assert.equal(toHex(sealed), toHex(sealByHand(ilk, credential(tbs), link, nonce)));
  const parsed = decodeIdentityLinkCiphertext(sealed);
  assert.equal(parsed.ilkEpoch, 3n);
  assert.equal(parsed.ciphertext.length, 256 + 16, 'padded to 256 bytes: the length does not reveal the device URI');

  const c = credential({ ...tbs, identityLinkCiphertext: sealed });
  const opened = openIdentityLink({ groupId: ROOM, keys: [{ epoch: 1n, key: key32(1) }, ilk], credential: c });
  assert.equal(opened.status, 'verified');
  assert.ok(opened.status === 'verified');
  assert.equal(opened.deviceUri, DEVICE);
  assert.equal(opened.userUri, 'mimi://a.example/u/alice');
  assert.deepEqual(opened.deviceSignatureKey, device.signaturePublicKey);
  assert.equal(opened.ilkEpoch, 3n);

  // A fresh nonce every time.
  assert.ok(!bytesEqual(sealIdentityLink({ groupId: ROOM, key: ilk, credential: tbs, link }), sealIdentityLink({ groupId: ROOM, key: ilk, credential: tbs, link })));

  // Pending, unknown key, wrong key, other room, tampering.
  assert.deepEqual(openIdentityLink({ groupId: ROOM, keys: [ilk], credential: credential(tbs) }), { status: 'pending' });
  assert.deepEqual(openIdentityLink({ groupId: ROOM, keys: [{ epoch: 2n, key: key32(9) }], credential: c }), { status: 'unknownKey', ilkEpoch: 3n });
  const wrongKey = openIdentityLink({ groupId: ROOM, keys: [{ epoch: 3n, key: key32(8) }], credential: c });
  assert.ok(wrongKey.status === 'invalid' && /does not decrypt under the identity link key of epoch 3/.test(wrongKey.reason));
  assert.equal(openIdentityLink({ groupId: 'mimi://hub.example/r/other', keys: [ilk], credential: c }).status, 'invalid');
  const flipped = sealed.slice();
  flipped[flipped.length - 1] ^= 1;
  assert.equal(openIdentityLink({ groupId: ROOM, keys: [ilk], credential: { ...c, identityLinkCiphertext: flipped } }).status, 'invalid');
  const garbage = openIdentityLink({ groupId: ROOM, keys: [ilk], credential: { ...c, identityLinkCiphertext: Uint8Array.of(1, 2, 3) } });
  assert.ok(garbage.status === 'invalid' && /malformed identity_link_ciphertext/.test(garbage.reason));
});

test('identity link: forgeries are refused', () => {
  const device = realDevice();
  const other = realDevice();
  const pseudo = generateSignatureKeyPair();
  const tbs = { clientPseudonym: CLIENT, userPseudonym: USER, signaturePublicKey: pseudo.publicKey };
  const ilk: IdentityLinkKey = { epoch: 0n, key: key32(2) };
  const nonce = new Uint8Array(12);
  const link = createIdentityLink(device, tbs);

  // The same link moved to another leaf (other pseudonyms or key): the AAD no longer matches.
  const sealed = sealIdentityLink({ groupId: ROOM, key: ilk, credential: tbs, link });
  const moved = credential({ clientPseudonym: 'mimi://a.example/p/thief', identityLinkCiphertext: sealed });
  assert.equal(openIdentityLink({ groupId: ROOM, keys: [ilk], credential: moved }).status, 'invalid');
  // ... and the sealer refuses to seal a link for a credential it does not sign.
  assert.throws(() => sealIdentityLink({ groupId: ROOM, key: ilk, credential: { ...tbs, userPseudonym: 'mimi://a.example/p/else' }, link }), IdentityLinkError);

  // A link whose signature is not over this TBS (made for another pseudonymous key), sealed correctly.
  const elsewhere = createIdentityLink(device, { ...tbs, signaturePublicKey: generateSignatureKeyPair().publicKey });
  const forged1 = openIdentityLink({ groupId: ROOM, keys: [ilk], credential: credential({ ...tbs, identityLinkCiphertext: sealByHand(ilk, credential(tbs), elsewhere, nonce) }) });
  assert.ok(forged1.status === 'invalid' && /does not verify/.test(forged1.reason), JSON.stringify(forged1));

  // A signature by one device presented with another device's key.
  const plain = decodeIdentityLinkPlaintext(link);
  const swapped = encodeIdentityLinkPlaintext({ ...plain, clientSignatureKey: other.signaturePublicKey });
  const forged2 = openIdentityLink({ groupId: ROOM, keys: [ilk], credential: credential({ ...tbs, identityLinkCiphertext: sealByHand(ilk, credential(tbs), swapped, nonce) }) });
  assert.ok(forged2.status === 'invalid' && /does not verify/.test(forged2.reason));

  // The real credential must be a device's BasicCredential.
  const userUri = encodeIdentityLinkPlaintext({
    identityLink: { pseudonymousCredentialSignature: signWithLabel(device.signaturePrivateKey, 'PseudonymousCredentialTBS', encodePseudonymousCredentialTBS(tbs)), clientCredential: basicCredential('mimi://a.example/u/alice') },
    clientSignatureKey: device.signaturePublicKey,
  });
  const forged3 = openIdentityLink({ groupId: ROOM, keys: [ilk], credential: credential({ ...tbs, identityLinkCiphertext: sealByHand(ilk, credential(tbs), userUri, nonce) }) });
  assert.ok(forged3.status === 'invalid' && /not a device URI/.test(forged3.reason));

  // Non-zero padding is refused.
  const padded = concatBytes(link, Uint8Array.of(0, 1));
  const forged4 = openIdentityLink({ groupId: ROOM, keys: [ilk], credential: credential({ ...tbs, identityLinkCiphertext: sealByHand(ilk, credential(tbs), padded, nonce) }) });
  assert.ok(forged4.status === 'invalid' && /padding/.test(forged4.reason));

  // Creating a link needs a matching device key pair and a device URI.
  assert.throws(() => createIdentityLink({ ...device, signaturePublicKey: other.signaturePublicKey }, tbs), /does not match/);
  assert.throws(() => createIdentityLink({ ...device, identity: 'mimi://a.example/u/alice' }, tbs), /not a device URI/);
});

test('IdentityLinkKeys: codec and message form', () => {
  const keys: IdentityLinkKey[] = [
    { epoch: 0n, key: key32(1) },
    { epoch: 5n, key: key32(2) },
  ];
  const bytes = encodeIdentityLinkKeys(keys);
  assert.equal(bytes.length, 2 + 2 * (8 + 1 + 32), "two-byte vector length, then (uint64, opaque<V>) per key");
  assert.deepEqual(decodeIdentityLinkKeys(bytes), keys);
  allTruncationsFail(bytes, decodeIdentityLinkKeys, isMimiError(), 'IdentityLinkKeys');
  assert.throws(() => encodeIdentityLinkKeys([keys[1], keys[0]]), isMimiError(/strictly ascending/));
  assert.throws(() => encodeIdentityLinkKeys([keys[0], keys[0]]), isMimiError(/strictly ascending/));
  assert.throws(() => encodeIdentityLinkKeys([{ epoch: 1n, key: new Uint8Array(16) }]), isMimiError(/32 bytes/));

  const message = identityLinkKeysContent({ senderUri: CLIENT, roomUri: ROOM, keys });
  const back = decodeContent(encodeContent(message));
  assert.deepEqual(findIdentityLinkKeys(back), keys);
  assert.equal(findIdentityLinkKeys({ ...back, body: { disposition: 1, language: '', cardinality: 0 } }), undefined);
});

test('linkConsistency: one user pseudonym per user and one user per user pseudonym', () => {
  const ok = [
    { clientPseudonym: 'c1', userPseudonym: 'u1', userUri: 'alice' },
    { clientPseudonym: 'c2', userPseudonym: 'u1', userUri: 'alice' },
    { clientPseudonym: 'c3', userPseudonym: 'u2', userUri: 'bob' },
  ];
  assert.equal(linkConsistency(ok).size, 0);
  const shared = linkConsistency([...ok, { clientPseudonym: 'c4', userPseudonym: 'u2', userUri: 'mallory' }]);
  assert.deepEqual([...shared.keys()].sort(), ['c3', 'c4']);
  const split = linkConsistency([...ok, { clientPseudonym: 'c5', userPseudonym: 'u3', userUri: 'alice' }]);
  assert.deepEqual([...split.keys()].sort(), ['c1', 'c2', 'c5']);
  const twice = linkConsistency([...ok, { clientPseudonym: 'c3', userPseudonym: 'u2', userUri: 'bob' }]);
  assert.match(twice.get('c3') ?? '', /used by several leaves/);
});
