// Key generation of the node:crypto ciphersuite (src-main/mls/node-crypto-suite.ts) without
// generateKeyPair: keys are random bytes, imported. Node 20 can deadlock when the garbage collector
// destroys a key-generation job while a key it made is being exported (seen in the suite as a hung
// `mimi register`), so no source may use node:crypto's generateKeyPair(Sync); and the keys made
// instead must be right: each public key is the one an independent implementation (noble) derives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256, Aes128Gcm } from '@hpke/core';
import { hpkeSealWithEphemeral, nodeCiphersuite } from '../../src-main/mls/node-crypto-suite.js';
import { ciphersuiteFor } from '../../src-main/mls/crypto-selftest.js';
import { ROOT } from '../helpers/provider-process.js';

test('signature and HPKE key pairs: fresh each time, and each public key is the private key\'s', async () => {
  const suite = nodeCiphersuite();
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const sig = await suite.signature.keygen();
    assert.equal(sig.signKey.length, 32);
    assert.deepEqual(sig.publicKey, ed25519.getPublicKey(sig.signKey));
    const msg = new Uint8Array([i]);
    assert.ok(ed25519.verify(await suite.signature.sign(sig.signKey, msg), msg, sig.publicKey), 'noble verifies its signature');

    const kem = await suite.hpke.generateKeyPair();
    const priv = await suite.hpke.exportPrivateKey(kem.privateKey);
    assert.deepEqual(await suite.hpke.exportPublicKey(kem.publicKey), x25519.getPublicKey(priv));
    seen.add(Buffer.from(sig.signKey).toString('hex')).add(Buffer.from(priv).toString('hex'));
  }
  assert.equal(seen.size, 40, 'no key repeats');
});

test('an HPKE seal (a fresh ephemeral key each time) opens with the recipient key, and two seals differ', async () => {
  const suite = nodeCiphersuite();
  const r = await suite.hpke.generateKeyPair();
  const info = new Uint8Array([1, 2]);
  const a = await suite.hpke.seal(r.publicKey, new Uint8Array([42]), info);
  const b = await suite.hpke.seal(r.publicKey, new Uint8Array([42]), info);
  assert.notDeepEqual(a.enc, b.enc);
  assert.deepEqual(await suite.hpke.open(r.privateKey, a.enc, a.ct, info), new Uint8Array([42]));
});

test('the seals of a Welcome: the same info sealed again and again, other infos in between, each opens only under its own info, by another provider too', async () => {
  const suite = nodeCiphersuite();
  const noble = await ciphersuiteFor('noble');
  const kem = await suite.hpke.generateKeyPair();
  const nobleKey = await noble.hpke.importPrivateKey(await suite.hpke.exportPrivateKey(kem.privateKey));
  // The encrypted GroupInfo a Welcome seals under (its info hash is kept between seals), another
  // info of the same length that differs in its last byte, and a short one.
  const welcomeInfo = new Uint8Array(1500).map((_, i) => i & 0xff);
  const almost = welcomeInfo.slice();
  almost[almost.length - 1] ^= 1;
  const infos = [welcomeInfo, welcomeInfo, almost, welcomeInfo, new Uint8Array([1, 2, 3]), welcomeInfo, almost];
  const encs = new Set<string>();
  for (const [i, info] of infos.entries()) {
    const pt = new Uint8Array([i, 42]);
    const sealed = await suite.hpke.seal(kem.publicKey, pt, info, new Uint8Array());
    encs.add(Buffer.from(sealed.enc).toString('hex'));
    assert.deepEqual(await suite.hpke.open(kem.privateKey, sealed.enc, sealed.ct, info, new Uint8Array()), pt, `seal ${i} opens here`);
    assert.deepEqual(await noble.hpke.open(nobleKey, sealed.enc, sealed.ct, info, new Uint8Array()), pt, `seal ${i} opens with noble`);
    const other = info === welcomeInfo ? almost : welcomeInfo;
    await assert.rejects(suite.hpke.open(kem.privateKey, sealed.enc, sealed.ct, other, new Uint8Array()), `seal ${i} does not open under another info`);
  }
  // Ephemeral keys come from a pool of random bytes: every seal still has its own.
  assert.equal(encs.size, infos.length);
});

test('HPKE base-mode seals with a given ephemeral key are byte for byte those of @hpke/core (RFC 9180 A.1 keys), the same info again and others between', async () => {
  const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
  const core = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
  // RFC 9180 A.1: the ephemeral key from ikmE (its public key is the vector's enc).
  const ekm = await core.kem.deriveKeyPair(hex('7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234').buffer as ArrayBuffer);
  const skE = new Uint8Array(await core.kem.serializePrivateKey(ekm.privateKey));
  const recipient = await core.kem.generateKeyPair();
  const pkR = new Uint8Array(await core.kem.serializePublicKey(recipient.publicKey));
  const long = new Uint8Array(1500).map((_, i) => (i * 7) & 0xff);
  const infos = [hex('4f6465206f6e2061204772656369616e2055726e'), long, long, long.slice(0, 1499), long, new Uint8Array()];
  for (const [i, info] of infos.entries()) {
    const pt = new Uint8Array([i, 1, 2, 3]);
    const aad = hex('436f756e742d30');
    const ours = hpkeSealWithEphemeral(pkR, info, aad, pt, skE);
    const ctx = await core.createSenderContext({ recipientPublicKey: recipient.publicKey, info: info.buffer as ArrayBuffer, ekm });
    assert.equal(Buffer.from(ours.enc).toString('hex'), '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431');
    assert.equal(Buffer.from(ours.enc).toString('hex'), Buffer.from(ctx.enc).toString('hex'), `seal ${i}: enc`);
    assert.equal(Buffer.from(ours.ct).toString('hex'), Buffer.from(await ctx.seal(pt.buffer as ArrayBuffer, aad.buffer as ArrayBuffer)).toString('hex'), `seal ${i}: ciphertext`);
  }
});

test("no source makes keys with node:crypto's generateKeyPair or generateKeyPairSync", () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|vue)$/.test(e.name)) {
        const src = fs.readFileSync(p, 'utf8');
        for (const m of src.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(?:node:)?crypto'/g)) {
          if (/\bgenerateKeyPair(Sync)?\b/.test(m[1])) offenders.push(path.relative(ROOT, p));
        }
        if (/\bcrypto\.generateKeyPair(Sync)?\s*\(/.test(src)) offenders.push(path.relative(ROOT, p));
      }
    }
  };
  for (const d of ['src-main', 'src-shared', 'src-provider']) walk(path.join(ROOT, d));
  assert.deepEqual(offenders, []);
});
