import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import { decryptWithLabel as tsDecryptWithLabel, encryptWithLabel as tsEncryptWithLabel } from 'ts-mls/crypto/hpke.js';
import { signWithLabel as tsSignWithLabel, verifyWithLabel as tsVerifyWithLabel } from 'ts-mls/crypto/signature.js';
import { ciphersuiteFor, ed25519Seed } from '../../src-main/mls/crypto-selftest.js';
import {
  decryptWithLabel,
  encryptWithLabel,
  generateHpkeKeyPair,
  generateSignatureKeyPair,
  MlsCryptoError,
  signWithLabel,
  verifyWithLabel,
} from '../../src-shared/mls-crypto.js';
import { decap, deriveKeyPair, encap } from '../../src-shared/hpke-x25519.js';
import { fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;
// ts-mls's default provider: Ed25519 and X25519 through Node's WebCrypto, HPKE through @hpke/core.
const webcrypto = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE));
const noble = await ciphersuiteFor('noble');

const LABEL = 'KeyMaterialRequestTBS';
const CONTENT = utf8('the request to be signed');
const isCryptoError = (pattern?: RegExp) => (e: unknown) => e instanceof MlsCryptoError && (!pattern || pattern.test(e.message));

test('signWithLabel verifies with ts-mls (WebCrypto and noble) and vice versa', async () => {
  const ours = generateSignatureKeyPair();
  assert.equal(ours.privateKey.length, 32);
  assert.equal(ours.publicKey.length, 32);
  const sig = signWithLabel(ours.privateKey, LABEL, CONTENT);
  assert.equal(sig.length, 64);
  for (const impl of [webcrypto, noble]) {
    assert.equal(await tsVerifyWithLabel(ours.publicKey, LABEL, CONTENT, sig, impl.signature), true);
    assert.equal(await tsVerifyWithLabel(ours.publicKey, 'OtherLabel', CONTENT, sig, impl.signature), false);
  }

  for (const impl of [webcrypto, noble]) {
    const theirs = await impl.signature.keygen();
    const theirSig = await tsSignWithLabel(theirs.signKey, LABEL, CONTENT, impl.signature);
    assert.equal(verifyWithLabel(theirs.publicKey, LABEL, CONTENT, theirSig), true);
    // Same seed, same deterministic Ed25519 signature.
    assert.equal(toHex(signWithLabel(ed25519Seed(theirs.signKey), LABEL, CONTENT)), toHex(theirSig));
  }
});

test('verifyWithLabel rejects wrong label, content, key or signature, and malformed input', () => {
  const a = generateSignatureKeyPair();
  const b = generateSignatureKeyPair();
  const sig = signWithLabel(a.privateKey, LABEL, CONTENT);
  assert.equal(verifyWithLabel(a.publicKey, LABEL, CONTENT, sig), true);
  assert.equal(verifyWithLabel(a.publicKey, 'GroupInfoRequestTBS', CONTENT, sig), false);
  assert.equal(verifyWithLabel(a.publicKey, LABEL, utf8('other'), sig), false);
  assert.equal(verifyWithLabel(b.publicKey, LABEL, CONTENT, sig), false);
  const flipped = sig.slice();
  flipped[10] ^= 1;
  assert.equal(verifyWithLabel(a.publicKey, LABEL, CONTENT, flipped), false);
  assert.equal(verifyWithLabel(a.publicKey, LABEL, CONTENT, sig.subarray(0, 63)), false);
  assert.equal(verifyWithLabel(a.publicKey.subarray(1), LABEL, CONTENT, sig), false);
  assert.equal(verifyWithLabel(new Uint8Array(32), LABEL, CONTENT, sig), false);
  assert.throws(() => signWithLabel(a.privateKey.subarray(1), LABEL, CONTENT), isCryptoError(/32 bytes/));
  assert.throws(() => signWithLabel(a.privateKey, 7 as never, CONTENT), isCryptoError(/label/));
  assert.throws(() => verifyWithLabel('key' as never, LABEL, CONTENT, sig), isCryptoError(/Uint8Array/));
});

test('encryptWithLabel decrypts with ts-mls HPKE, and ts-mls output decrypts here', async () => {
  const label = 'GroupInfo and ratchet_tree encryption';
  const context = utf8('mimi://a.example/r/clubhouse');
  const plaintext = new Uint8Array(1000).map((_, i) => i & 0xff);

  const kp = generateHpkeKeyPair();
  assert.equal(kp.privateKey.length, 32);
  const ct = encryptWithLabel(kp.publicKey, label, context, plaintext);
  assert.equal(ct.kemOutput.length, 32);
  assert.equal(ct.ciphertext.length, plaintext.length + 16);
  for (const impl of [webcrypto, noble]) {
    const sk = await impl.hpke.importPrivateKey(kp.privateKey);
    const opened = await tsDecryptWithLabel(sk, label, context, ct.kemOutput, ct.ciphertext, impl.hpke);
    assert.deepStrictEqual(opened, plaintext);
    await assert.rejects(tsDecryptWithLabel(sk, 'other', context, ct.kemOutput, ct.ciphertext, impl.hpke));
  }

  for (const impl of [webcrypto, noble]) {
    const theirs = await impl.hpke.generateKeyPair();
    const pub = await impl.hpke.exportPublicKey(theirs.publicKey);
    const priv = await impl.hpke.exportPrivateKey(theirs.privateKey);
    const sealed = await tsEncryptWithLabel(theirs.publicKey, label, context, plaintext, impl.hpke);
    assert.deepStrictEqual(decryptWithLabel(priv, label, context, sealed.enc, sealed.ct), plaintext);
    // And ours to their key.
    const back = encryptWithLabel(pub, label, context, utf8('back'));
    assert.deepStrictEqual(
      await tsDecryptWithLabel(theirs.privateKey, label, context, back.kemOutput, back.ciphertext, impl.hpke),
      utf8('back'),
    );
  }
});

test('decryptWithLabel fails cleanly on a wrong key, label, context or tampering', () => {
  const kp = generateHpkeKeyPair();
  const other = generateHpkeKeyPair();
  const context = utf8('ctx');
  const ct = encryptWithLabel(kp.publicKey, 'L', context, utf8('secret'));
  assert.deepStrictEqual(decryptWithLabel(kp.privateKey, 'L', context, ct.kemOutput, ct.ciphertext), utf8('secret'));
  assert.throws(() => decryptWithLabel(other.privateKey, 'L', context, ct.kemOutput, ct.ciphertext), isCryptoError(/decryption failed/));
  assert.throws(() => decryptWithLabel(kp.privateKey, 'M', context, ct.kemOutput, ct.ciphertext), isCryptoError(/decryption failed/));
  assert.throws(() => decryptWithLabel(kp.privateKey, 'L', utf8('ctx2'), ct.kemOutput, ct.ciphertext), isCryptoError(/decryption failed/));
  const tampered = ct.ciphertext.slice();
  tampered[0] ^= 0x80;
  assert.throws(() => decryptWithLabel(kp.privateKey, 'L', context, ct.kemOutput, tampered), isCryptoError(/decryption failed/));
  assert.throws(() => decryptWithLabel(kp.privateKey, 'L', context, ct.kemOutput.subarray(1), ct.ciphertext), isCryptoError());
  assert.throws(() => decryptWithLabel(kp.privateKey, 'L', context, ct.kemOutput, ct.ciphertext.subarray(0, 10)), isCryptoError());
  assert.throws(() => encryptWithLabel(kp.publicKey.subarray(2), 'L', context, utf8('x')), isCryptoError(/32 bytes/));
  // The all-zero point is small-order: the DH result is zero and must be refused.
  assert.throws(() => encryptWithLabel(new Uint8Array(32), 'L', context, utf8('x')), isCryptoError(/encapsulation failed/));
  // Fresh randomness each time.
  const again = encryptWithLabel(kp.publicKey, 'L', context, utf8('secret'));
  assert.notEqual(toHex(again.kemOutput), toHex(ct.kemOutput));
});

test('DHKEM(X25519): RFC 9180 A.1 DeriveKeyPair known answer, encap/decap agree', () => {
  const { publicKey } = deriveKeyPair(fromHex('7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234'));
  assert.equal(toHex(publicKey), '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431');
  const r = generateHpkeKeyPair();
  const { sharedSecret, enc } = encap(r.publicKey);
  assert.deepStrictEqual(decap(enc, r.privateKey), sharedSecret);
});
