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
import { nodeCiphersuite } from '../../src-main/mls/node-crypto-suite.js';
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
