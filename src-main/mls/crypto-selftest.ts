// Crypto provider selection for ciphersuite 0x0001 (X25519 HPKE, AES-128-GCM, SHA-256, Ed25519).
//
// Electron's Node links BoringSSL, which has had gaps (X25519, Ed25519 key formats). So at
// start-up we run a small MLS round trip on each provider in PROVIDER_ORDER (node:crypto,
// WebCrypto, pure JS) and take the first that neither throws nor produces a wrong answer.
//
// Finding (ts-mls 1.6.4): `nobleCryptoProvider` is not pure JS where it matters.
// - Its Ed25519 is the default provider's (noble/makeNobleSignatureImpl.js re-exports
//   default/...), which uses WebCrypto whenever `crypto.subtle` exists, i.e. always in Node.
// - Its HPKE KEM is @hpke/core's DhkemX25519HkdfSha256, which does X25519 through WebCrypto.
// So it would fail exactly where the default provider fails. The 'noble' provider below is
// ts-mls's nobleCryptoProvider (noble SHA-256 and AES-GCM) with Ed25519 from @noble/curves and
// the HPKE KEM replaced by DHKEM(X25519, HKDF-SHA256) (RFC 9180 section 4.1) written on
// @noble/curves + @noble/hashes. Only HMAC-SHA256 and AES-128-GCM inside @hpke/core's HPKE key
// schedule / AEAD, and the MLS HKDF, still use WebCrypto; every WebCrypto backend has those.
//
// Key formats are identical across the two providers (raw 32-byte X25519 keys; Ed25519 keys are
// normalised to the 32-byte seed by the engine), so state written with one provider can be
// restored with the other.

import {
  createApplicationMessage,
  createCommit,
  createGroup,
  emptyPskIndex,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  joinGroup,
  nobleCryptoProvider,
  defaultCryptoProvider,
  processPrivateMessage,
  type CiphersuiteImpl,
  type Credential,
  type Lifetime,
} from 'ts-mls';
import { makeGenericHpke } from 'ts-mls/crypto/implementation/hpke.js';
import { makeAead } from 'ts-mls/crypto/implementation/noble/makeAead.js';
import { Aes128Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromHex, toHex, utf8 } from '../../src-shared/bytes.js';
import { NobleX25519Kem } from '../../src-shared/hpke-x25519.js';
import { nodeCiphersuite } from './node-crypto-suite.js';
import { cooperative } from './cooperative.js';

export type ProviderName = 'node' | 'webcrypto' | 'noble';

export const SUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;

export interface SelectedProvider {
  provider: ProviderName;
  impl: CiphersuiteImpl;
  /** Why each provider tried before the chosen one was rejected (worth logging). */
  failures: Partial<Record<ProviderName, string>>;
  /** Why WebCrypto was rejected, when it was tried and was. */
  webcryptoFailure?: string;
}

/**
 * The order providers are tried in: synchronous node:crypto first (fastest: see
 * node-crypto-suite.ts), then WebCrypto, then the pure-JS provider that works wherever the other
 * two have gaps (Electron's BoringSSL has had some).
 */
export const PROVIDER_ORDER: readonly ProviderName[] = ['node', 'webcrypto', 'noble'];

/**
 * Builds the ciphersuite implementation for one provider (no self test). The synchronous ones
 * (node:crypto, pure JS) yield to the event loop between calls (cooperative.ts); WebCrypto's work
 * already runs off the thread, and it stays exactly ts-mls's provider: it is the bench's baseline.
 */
export async function ciphersuiteFor(provider: ProviderName): Promise<CiphersuiteImpl> {
  if (provider === 'node') return cooperative(nodeCiphersuite());
  const suite = getCiphersuiteFromName(SUITE_NAME);
  if (provider === 'webcrypto') return defaultCryptoProvider.getCiphersuiteImpl(suite);
  const base = await nobleCryptoProvider.getCiphersuiteImpl(suite);
  const [aead] = await makeAead(suite.hpke.aead);
  const hpkeSuite = new CipherSuite({ kem: new NobleX25519Kem(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
  return cooperative({ ...base, signature: nobleEd25519, hpke: await makeGenericHpke(suite.hpke, aead, hpkeSuite) });
}

/**
 * The first provider of `order` that passes the self test (or `force`, which must pass it too:
 * an engine that cannot do MLS is worse than an error at start-up). `build` and `order` exist so
 * tests can hand in broken backends.
 */
export async function selectProvider(
  force?: ProviderName,
  build: (p: ProviderName) => Promise<CiphersuiteImpl> = ciphersuiteFor,
  order: readonly ProviderName[] = PROVIDER_ORDER,
): Promise<SelectedProvider> {
  if (force !== undefined) {
    const impl = await build(force);
    await selfTest(impl);
    return { provider: force, impl, failures: {} };
  }
  const failures: Partial<Record<ProviderName, string>> = {};
  for (const [i, provider] of order.entries()) {
    try {
      const impl = await build(provider);
      await selfTest(impl);
      return { provider, impl, failures, webcryptoFailure: failures.webcrypto };
    } catch (err) {
      // The last one's failure is the answer: nothing is left to fall back to.
      if (i === order.length - 1) throw err;
      failures[provider] = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
  }
  throw new Error('no crypto provider to try');
}

// RFC 9180 appendix A.1 (DHKEM(X25519, HKDF-SHA256)): DeriveKeyPair(ikmE) -> pkEm. A known answer
// catches a backend that "works" but computes the wrong curve operation.
const KAT_IKM = '7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234';
const KAT_PK = '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431';

/**
 * Throws unless `impl` can do everything ciphersuite 1 needs: Ed25519 with 32-byte seeds,
 * X25519 HPKE (DeriveKeyPair, export for external joins, KeyPackage init key -> Welcome), HKDF,
 * AES-GCM (application message).
 */
export async function selfTest(impl: CiphersuiteImpl): Promise<void> {
  const kat = await impl.hpke.deriveKeyPair(fromHex(KAT_IKM));
  const katPk = toHex(await impl.hpke.exportPublicKey(kat.publicKey));
  if (katPk !== KAT_PK) throw new Error(`HPKE DeriveKeyPair known-answer mismatch: ${katPk}`);
  // HPKE export (what an external join's init secret uses): both sides must agree.
  const context = utf8('MLS 1.0 external init secret');
  const sent = await impl.hpke.exportSecret(kat.publicKey, context, 32, new Uint8Array());
  const opened = await impl.hpke.importSecret(kat.privateKey, context, sent.enc, 32, new Uint8Array());
  if (toHex(sent.secret) !== toHex(opened)) throw new Error('HPKE exported secrets differ');

  const alice = await testMember(impl, 'selftest:alice');
  const bob = await testMember(impl, 'selftest:bob');

  const msg = utf8('self-test');
  const tampered = await impl.signature.sign(alice.signKey, msg);
  tampered[0] ^= 1;
  if (await impl.signature.verify(alice.publicKey, msg, tampered)) throw new Error('Ed25519 accepted a bad signature');

  const group0 = await createGroup(utf8('selftest'), alice.kp.publicPackage, alice.kp.privatePackage, [], impl);
  const add = await createCommit(
    { state: group0, cipherSuite: impl },
    { extraProposals: [{ proposalType: 'add', add: { keyPackage: bob.kp.publicPackage } }], wireAsPublicMessage: true },
  );
  if (add.welcome === undefined) throw new Error('commit produced no Welcome');
  const bobGroup = await joinGroup(add.welcome, bob.kp.publicPackage, bob.kp.privatePackage, emptyPskIndex, impl, add.newState.ratchetTree);
  const app = await createApplicationMessage(add.newState, msg, impl);
  const received = await processPrivateMessage(bobGroup, app.privateMessage, emptyPskIndex, impl);
  if (received.kind !== 'applicationMessage' || toHex(received.message) !== toHex(msg)) {
    throw new Error('application message round trip mismatch');
  }
}

async function testMember(impl: CiphersuiteImpl, name: string) {
  const generated = await impl.signature.keygen();
  // The engine stores Ed25519 keys as 32-byte seeds; test that form, not the provider's own.
  const signKey = ed25519Seed(generated.signKey);
  const publicKey = generated.publicKey;
  const credential: Credential = { credentialType: 'basic', identity: utf8(name) };
  const now = BigInt(Math.floor(Date.now() / 1000));
  const lifetime: Lifetime = { notBefore: now - 3600n, notAfter: now + 3600n };
  const capabilities = {
    versions: ['mls10' as const],
    ciphersuites: [SUITE_NAME],
    extensions: [],
    proposals: [],
    credentials: ['basic' as const],
  };
  const kp = await generateKeyPackageWithKey(credential, capabilities, lifetime, [], { signKey, publicKey }, impl);
  return { kp, signKey, publicKey };
}

// PKCS#8 wrapping of an Ed25519 seed (RFC 8410): fixed 16-byte prefix, then the 32-byte seed.
const ED25519_PKCS8_PREFIX = '302e020100300506032b657004220420';

/** Accepts a 32-byte Ed25519 seed or its PKCS#8 form (what WebCrypto exports); returns the seed. */
export function ed25519Seed(key: Uint8Array): Uint8Array {
  if (key.length === 32) return key;
  if (key.length === 48 && toHex(key.subarray(0, 16)) === ED25519_PKCS8_PREFIX) return key.slice(16);
  throw new Error(`unsupported Ed25519 private key encoding (${key.length} bytes)`);
}

// ---------------------------------------------------------------------------------------------
// Ed25519 in pure JS. Private keys are 32-byte seeds; PKCS#8 (from WebCrypto keygen) is accepted.

const nobleEd25519: CiphersuiteImpl['signature'] = {
  async sign(signKey, message) {
    return ed25519.sign(message, ed25519Seed(signKey));
  },
  async verify(publicKey, message, signature) {
    try {
      // Strict RFC 8032 rules (not ZIP-215), like OpenSSL/BoringSSL, so every member of a group
      // accepts exactly the same signatures whichever provider it runs.
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false; // malformed key or signature bytes
    }
  },
  async keygen() {
    const signKey = ed25519.utils.randomSecretKey();
    return { signKey, publicKey: ed25519.getPublicKey(signKey) };
  },
};
