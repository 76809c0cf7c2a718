// The official RFC 9420 test vectors (../shared/vectors/mls) that exercise the crypto provider,
// run for every provider the engine can select (node:crypto, WebCrypto, noble): crypto-basics
// (RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel, EncryptWithLabel),
// the key schedule (every epoch's secrets, the external HPKE key, the exporter) and the secret
// tree (sender-data keys and nonces, every leaf's handshake and application keys per generation),
// ciphersuite 1 entries only. Plus seal/open across providers, so rooms mixing providers work.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CiphersuiteImpl } from 'ts-mls';
import { refhash } from 'ts-mls/crypto/hash.js';
import { deriveSecret, deriveTreeSecret, expandWithLabel } from 'ts-mls/crypto/kdf.js';
import { signWithLabel, verifyWithLabel } from 'ts-mls/crypto/signature.js';
import { decryptWithLabel, encryptWithLabel } from 'ts-mls/crypto/hpke.js';
import { createSecretTree, decodeSecretTree, ratchetToGeneration, secretTreeEncoder, type SecretTree } from 'ts-mls/secretTree.js';
import { encode } from 'ts-mls/codec/tlsEncoder.js';
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js';
import type { ReuseGuard } from 'ts-mls/sender.js';
import { ciphersuiteFor, type ProviderName } from '../../src-main/mls/crypto-selftest.js';
import { fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors/mls');
const load = <T>(name: string): T[] => (JSON.parse(readFileSync(path.join(VECTORS, name), 'utf8')) as (T & { cipher_suite: number })[]).filter((v) => v.cipher_suite === 1);
const PROVIDERS: ProviderName[] = ['node', 'webcrypto', 'noble'];
const impls = new Map<ProviderName, CiphersuiteImpl>();
async function impl(p: ProviderName): Promise<CiphersuiteImpl> {
  if (!impls.has(p)) impls.set(p, await ciphersuiteFor(p));
  return impls.get(p)!;
}

interface CryptoBasics {
  ref_hash: { label: string; value: string; out: string };
  expand_with_label: { secret: string; label: string; context: string; length: number; out: string };
  derive_secret: { secret: string; label: string; out: string };
  derive_tree_secret: { secret: string; label: string; generation: number; length: number; out: string };
  sign_with_label: { priv: string; pub: string; content: string; label: string; signature: string };
  encrypt_with_label: { priv: string; pub: string; label: string; context: string; plaintext: string; kem_output: string; ciphertext: string };
}

for (const p of PROVIDERS) {
  test(`crypto-basics (RFC 9420 vectors) on the ${p} provider`, async () => {
    const cs = await impl(p);
    const vectors = load<CryptoBasics>('crypto-basics.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      assert.equal(toHex(await refhash(v.ref_hash.label, fromHex(v.ref_hash.value), cs.hash)), v.ref_hash.out, 'RefHash');
      const e = v.expand_with_label;
      assert.equal(toHex(await expandWithLabel(fromHex(e.secret), e.label, fromHex(e.context), e.length, cs.kdf)), e.out, 'ExpandWithLabel');
      assert.equal(toHex(await deriveSecret(fromHex(v.derive_secret.secret), v.derive_secret.label, cs.kdf)), v.derive_secret.out, 'DeriveSecret');
      const t = v.derive_tree_secret;
      assert.equal(toHex(await deriveTreeSecret(fromHex(t.secret), t.label, t.generation, t.length, cs.kdf)), t.out, 'DeriveTreeSecret');
      const s = v.sign_with_label;
      assert.ok(await verifyWithLabel(fromHex(s.pub), s.label, fromHex(s.content), fromHex(s.signature), cs.signature), 'VerifyWithLabel of the vector');
      // Ed25519 is deterministic: our signature must be the vector's byte for byte.
      assert.equal(toHex(await signWithLabel(fromHex(s.priv), s.label, fromHex(s.content), cs.signature)), s.signature, 'SignWithLabel');
      const bad = fromHex(s.signature);
      bad[10] ^= 1;
      assert.equal(await verifyWithLabel(fromHex(s.pub), s.label, fromHex(s.content), bad, cs.signature), false, 'a damaged signature');
      const x = v.encrypt_with_label;
      const priv = await cs.hpke.importPrivateKey(fromHex(x.priv));
      const opened = await decryptWithLabel(priv, x.label, fromHex(x.context), fromHex(x.kem_output), fromHex(x.ciphertext), cs.hpke);
      assert.equal(toHex(opened), x.plaintext, 'DecryptWithLabel of the vector');
      const pub = await cs.hpke.importPublicKey(fromHex(x.pub));
      const sealed = await encryptWithLabel(pub, x.label, fromHex(x.context), fromHex(x.plaintext), cs.hpke);
      assert.equal(toHex(await decryptWithLabel(priv, x.label, fromHex(x.context), sealed.enc, sealed.ct, cs.hpke)), x.plaintext, 'our EncryptWithLabel opens');
    }
  });
}

// ---- key schedule (RFC 9420 §8), written from the RFC on the provider's KDF ----

interface KeyScheduleVector {
  group_id: string;
  initial_init_secret: string;
  epochs: {
    commit_secret: string;
    psk_secret: string;
    group_context: string;
    joiner_secret: string;
    welcome_secret: string;
    init_secret: string;
    sender_data_secret: string;
    encryption_secret: string;
    exporter_secret: string;
    epoch_authenticator: string;
    external_secret: string;
    confirmation_key: string;
    membership_key: string;
    resumption_psk: string;
    external_pub: string;
    exporter: { label: string; context: string; length: number; secret: string };
  }[];
}

for (const p of PROVIDERS) {
  test(`key-schedule (RFC 9420 vectors) on the ${p} provider`, async () => {
    const cs = await impl(p);
    for (const vec of load<KeyScheduleVector>('key-schedule.json')) {
      let init = fromHex(vec.initial_init_secret);
      for (const [i, e] of vec.epochs.entries()) {
        const ctx = fromHex(e.group_context);
        const joiner = await expandWithLabel(await cs.kdf.extract(init, fromHex(e.commit_secret)), 'joiner', ctx, 32, cs.kdf);
        assert.equal(toHex(joiner), e.joiner_secret, `epoch ${i} joiner_secret`);
        const member = await cs.kdf.extract(joiner, fromHex(e.psk_secret));
        assert.equal(toHex(await deriveSecret(member, 'welcome', cs.kdf)), e.welcome_secret, `epoch ${i} welcome_secret`);
        const epoch = await expandWithLabel(member, 'epoch', ctx, 32, cs.kdf);
        const derived: [keyof typeof e, string][] = [
          ['sender_data_secret', 'sender data'],
          ['encryption_secret', 'encryption'],
          ['exporter_secret', 'exporter'],
          ['external_secret', 'external'],
          ['confirmation_key', 'confirm'],
          ['membership_key', 'membership'],
          ['resumption_psk', 'resumption'],
          ['epoch_authenticator', 'authentication'],
          ['init_secret', 'init'],
        ];
        for (const [field, label] of derived) assert.equal(toHex(await deriveSecret(epoch, label, cs.kdf)), e[field], `epoch ${i} ${field}`);
        const external = await cs.hpke.deriveKeyPair(fromHex(e.external_secret));
        assert.equal(toHex(await cs.hpke.exportPublicKey(external.publicKey)), e.external_pub, `epoch ${i} external_pub`);
        // MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length)
        const x = e.exporter;
        // The vector's label is a string (hex digits as text), per test-vectors.md.
        const labelSecret = await deriveSecret(fromHex(e.exporter_secret), x.label, cs.kdf);
        const exported = await expandWithLabel(labelSecret, 'exported', await cs.hash.digest(fromHex(x.context)), x.length, cs.kdf);
        assert.equal(toHex(exported), x.secret, `epoch ${i} exporter`);
        init = fromHex(e.init_secret);
      }
    }
  });
}

// ---- secret tree (RFC 9420 §9) ----

interface SecretTreeVector {
  encryption_secret: string;
  sender_data: { sender_data_secret: string; ciphertext: string; key: string; nonce: string };
  leaves: { generation: number; application_key: string; application_nonce: string; handshake_key: string; handshake_nonce: string }[][];
}

for (const p of PROVIDERS) {
  test(`secret-tree (RFC 9420 vectors) on the ${p} provider`, async () => {
    const cs = await impl(p);
    for (const vec of load<SecretTreeVector>('secret-tree.json')) {
      const sd = vec.sender_data;
      const sample = fromHex(sd.ciphertext).slice(0, 32);
      assert.equal(toHex(await expandWithLabel(fromHex(sd.sender_data_secret), 'key', sample, 16, cs.kdf)), sd.key, 'sender data key');
      assert.equal(toHex(await expandWithLabel(fromHex(sd.sender_data_secret), 'nonce', sample, 12, cs.kdf)), sd.nonce, 'sender data nonce');
      const nLeaves = vec.leaves.length;
      // Node secrets from the root down (left = "left", right = "right"), in the array tree layout.
      const width = 2 * nLeaves - 1;
      const root = (1 << Math.floor(Math.log2(width))) - 1;
      const secrets = new Map<number, Uint8Array>([[root, fromHex(vec.encryption_secret)]]);
      const level = (x: number) => {
        let k = 0;
        while (((x >> k) & 1) === 1) k++;
        return k;
      };
      const stack = [root];
      while (stack.length) {
        const node = stack.pop()!;
        const k = level(node);
        if (k === 0) continue;
        const left = node ^ (1 << (k - 1));
        const right = node ^ (3 << (k - 1));
        secrets.set(left, await expandWithLabel(secrets.get(node)!, 'tree', utf8('left'), 32, cs.kdf));
        secrets.set(right, await expandWithLabel(secrets.get(node)!, 'tree', utf8('right'), 32, cs.kdf));
        stack.push(left, right);
      }
      for (const [leaf, gens] of vec.leaves.entries()) {
        const leafSecret = secrets.get(2 * leaf)!;
        for (const [kind, keyField, nonceField] of [
          ['application', 'application_key', 'application_nonce'],
          ['handshake', 'handshake_key', 'handshake_nonce'],
        ] as const) {
          let secret = await expandWithLabel(leafSecret, kind, new Uint8Array(), 32, cs.kdf);
          let at = 0;
          for (const g of gens) {
            while (at < g.generation) {
              secret = await deriveTreeSecret(secret, 'secret', at, 32, cs.kdf);
              at++;
            }
            assert.equal(toHex(await deriveTreeSecret(secret, 'key', g.generation, 16, cs.kdf)), g[keyField], `leaf ${leaf} ${kind} key gen ${g.generation}`);
            assert.equal(toHex(await deriveTreeSecret(secret, 'nonce', g.generation, 12, cs.kdf)), g[nonceField], `leaf ${leaf} ${kind} nonce gen ${g.generation}`);
          }
        }
      }
    }
  });
}

// The same vectors through ts-mls's own secret tree as patched (scripts/patch-ts-mls.mjs, patch 12:
// an epoch's tree starts as the encryption secret alone and a leaf's ratchets are derived when the
// leaf is first used). Leaves are asked for in a scrambled order, and the tree goes through its
// encoding halfway, so the derivation cannot depend on order or on staying in memory.
// A zero reuse guard leaves the nonce as derived (RFC 9420 section 6.3.2 XORs it in).
const NO_GUARD = new Uint8Array(4) as unknown as ReuseGuard;
const reorder = <T>(xs: T[]): T[] => xs.map((x, i) => [x, (i * 7919) % 101] as const).sort((a, b) => a[1] - b[1]).map(([x]) => x);
const secretTreeRoundTrip = (t: SecretTree): SecretTree => {
  const bytes = encode(secretTreeEncoder)(t);
  const d = decodeSecretTree(bytes, 0)!;
  assert.equal(d[1], bytes.length);
  return d[0];
};
for (const p of PROVIDERS) {
  test(`secret-tree (RFC 9420 vectors) through ts-mls's lazily derived tree on the ${p} provider`, async () => {
    const cs = await impl(p);
    const config = { ...defaultKeyRetentionConfig, maximumForwardRatchetSteps: 1 << 16 };
    for (const vec of load<SecretTreeVector>('secret-tree.json')) {
      let tree = await createSecretTree(vec.leaves.length, fromHex(vec.encryption_secret), cs.kdf);
      // Nothing is derived before it is needed: one tree secret, at the root.
      assert.equal(tree.filter((n) => n !== undefined).length, 1);
      const leaves = reorder([...vec.leaves.entries()]);
      for (const [k, [leaf, gens]] of leaves.entries()) {
        if (k === Math.floor(leaves.length / 2)) tree = secretTreeRoundTrip(tree);
        for (const [contentType, keyField, nonceField] of [
          ['application', 'application_key', 'application_nonce'],
          ['commit', 'handshake_key', 'handshake_nonce'],
        ] as const) {
          for (const g of gens) {
            const r = await ratchetToGeneration(tree, { leafIndex: leaf, generation: g.generation, reuseGuard: NO_GUARD }, contentType, config, cs);
            tree = r.newTree;
            assert.equal(toHex(r.key), g[keyField], `leaf ${leaf} ${contentType} key gen ${g.generation}`);
            assert.equal(toHex(r.nonce), g[nonceField], `leaf ${leaf} ${contentType} nonce gen ${g.generation}`);
          }
        }
      }
      // Every leaf was used: each holds its ratchets, and every tree secret above was deleted.
      for (const [i, n] of tree.entries()) {
        if (i % 2 === 0) assert.ok(n !== undefined && 'application' in n, `leaf node ${i} holds its ratchets`);
        else assert.equal(n, undefined, `parent node ${i} kept no secret`);
      }
    }
  });
}

test('a secret tree written before the lazy tree (ratchets at every node) still decodes and ratchets on', async () => {
  const cs = await impl('node');
  const vec = load<SecretTreeVector>('secret-tree.json').find((v) => v.leaves.length === 8)!;
  let tree = await createSecretTree(8, fromHex(vec.encryption_secret), cs.kdf);
  for (let leaf = 0; leaf < 8; leaf++) tree = (await ratchetToGeneration(tree, { leafIndex: leaf, generation: 0, reuseGuard: NO_GUARD }, 'application', defaultKeyRetentionConfig, cs)).newTree;
  // ts-mls 1.6.4 as published gave parent nodes ratchets too; its encoding has no tag bytes.
  const old = tree.map((n, i) => (i % 2 === 0 ? n : tree[0]));
  const bytes = encode(secretTreeEncoder)(old);
  const decoded = secretTreeRoundTrip(old);
  assert.deepEqual(decoded, old);
  const g = vec.leaves[5].find((x) => x.generation > 0)!;
  const r = await ratchetToGeneration(decoded, { leafIndex: 5, generation: g.generation, reuseGuard: NO_GUARD }, 'application', { ...defaultKeyRetentionConfig, maximumForwardRatchetSteps: 1 << 16 }, cs);
  assert.equal(toHex(r.key), g.application_key);
});

test('what one provider seals, signs or derives, every other opens, verifies and agrees on', async () => {
  for (const a of PROVIDERS) {
    for (const b of PROVIDERS) {
      const ca = await impl(a);
      const cb = await impl(b);
      const kp = await cb.hpke.generateKeyPair();
      const pubBytes = await cb.hpke.exportPublicKey(kp.publicKey);
      const sealed = await ca.hpke.seal(await ca.hpke.importPublicKey(pubBytes), utf8('across'), utf8('info'), utf8('aad'));
      const privBytes = await cb.hpke.exportPrivateKey(kp.privateKey);
      assert.equal(new TextDecoder().decode(await cb.hpke.open(await cb.hpke.importPrivateKey(privBytes), sealed.enc, sealed.ct, utf8('info'), utf8('aad'))), 'across', `${a} seals, ${b} opens`);
      const exported = await ca.hpke.exportSecret(await ca.hpke.importPublicKey(pubBytes), utf8('ctx'), 32, utf8('i'));
      assert.equal(toHex(await cb.hpke.importSecret(await cb.hpke.importPrivateKey(privBytes), utf8('ctx'), exported.enc, 32, utf8('i'))), toHex(exported.secret), `${a}/${b} export`);
      const sig = await ca.signature.keygen();
      const signature = await ca.signature.sign(sig.signKey, utf8('m'));
      assert.ok(await cb.signature.verify(sig.publicKey, utf8('m'), signature), `${a} signs, ${b} verifies`);
      // Signing keys move between providers as 32-byte seeds.
      assert.equal(toHex(await cb.signature.sign(sig.signKey.length === 32 ? sig.signKey : sig.signKey.slice(-32), utf8('m'))), toHex(signature), `${a} key signs the same on ${b}`);
    }
  }
});

test('the node provider refuses what it must: wrong key sizes, a damaged ciphertext, a low-order point', async () => {
  const cs = await impl('node');
  await assert.rejects(cs.hpke.importPublicKey(new Uint8Array(31)), /32 bytes/);
  await assert.rejects(cs.hpke.importPrivateKey(new Uint8Array(33)), /32 bytes/);
  const kp = await cs.hpke.generateKeyPair();
  const sealed = await cs.hpke.seal(kp.publicKey, utf8('x'), new Uint8Array(), new Uint8Array());
  sealed.ct[0] ^= 1;
  await assert.rejects(cs.hpke.open(kp.privateKey, sealed.enc, sealed.ct, new Uint8Array(), new Uint8Array()), /authentication/);
  await assert.rejects(cs.hpke.seal(await cs.hpke.importPublicKey(new Uint8Array(32)), utf8('x'), new Uint8Array(), new Uint8Array()), /all-zero|X25519/);
  assert.equal(await cs.signature.verify(new Uint8Array(32), utf8('m'), new Uint8Array(64)), false);
  assert.equal(await cs.signature.verify(new Uint8Array(5), utf8('m'), new Uint8Array(64)), false);
});
