// The provider's own MLS signing identity for the MIMI endpoints that carry signatures outside any
// MLS group: KeyMaterialRequest and GroupInfoRequest (which this provider sends) and
// GroupInfoResponse (which it signs as a hub, naming itself as `hub_sender`).
//
// Design decision (draft-ietf-mimi-protocol-06 leaves open whose key signs these requests):
// - The REQUESTING PROVIDER signs, on behalf of the user it authenticated on its client API. Our
//   clients never see these bodies, and the provider cannot sign with a device key it never holds.
// - Mutual TLS (mtls.ts) is what authenticates the sending provider; a receiver authorizes by the
//   authenticated peer domain. The signature binds the body's fields together under one key, so a
//   hub can forward a follower's request byte for byte and the target can still check it was not
//   altered; it is self-certifying (the key travels in the request), not a proof of who sent it.
// - The BasicCredential in a request carries the requesting user (KeyMaterialRequest) or the
//   requesting user or device (GroupInfoRequest) URI: it says on whose behalf the provider asks.
// - As a hub, the same key signs GroupInfoResponses; `externalSender` (signature key + BasicCredential
//   `mimi://<domain>`) is the hub_sender a requester verifies, and pins per room (group-info.ts).
//
// Ciphersuite 0x0001 (Ed25519). The key lives in `<dataDir>/federation-signing.json` (0600, written
// atomically) and is reused across restarts; a file for another domain or with a key pair that does
// not match is an error rather than silently replaced, since peers may have pinned the key.

import fs from 'node:fs';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesEqual, fromB64, toB64 } from '../../src-shared/bytes.js';
import { isValidDomain } from '../../src-shared/identifiers.js';
import { generateSignatureKeyPair } from '../../src-shared/mls-crypto.js';
import { basicCredential, decodeExternalSender, encodeExternalSender, type Credential, type ExternalSender } from '../../src-shared/mls-structs.js';

export const PROVIDER_IDENTITY_FILE = 'federation-signing.json';
export const PROVIDER_CIPHER_SUITE = 1;

export interface ProviderIdentity {
  domain: string;
  cipherSuite: 1;
  signaturePublicKey: Uint8Array;
  /** Ed25519 32-byte seed (the form mls-crypto's signWithLabel takes). */
  signaturePrivateKey: Uint8Array;
  /** BasicCredential `mimi://<domain>`. */
  credential: Credential;
  /** What this provider names as hub_sender: its signature key and credential. */
  externalSender: ExternalSender;
}

export class ProviderIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderIdentityError';
  }
}

interface StoredIdentity {
  version: 1;
  domain: string;
  cipherSuite: 1;
  signaturePublicKey: string; // base64url
  signaturePrivateKey: string; // base64url, 32-byte Ed25519 seed
}

/** The credential identity a provider signs under: `mimi://<domain>` (no path). */
export const providerCredentialUri = (domain: string): string => `mimi://${domain}`;

/** Writes a secret file (0600) so that a crash leaves the old one or the new one, never half. */
export function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function build(domain: string, publicKey: Uint8Array, privateKey: Uint8Array): ProviderIdentity {
  const credential = basicCredential(providerCredentialUri(domain));
  const externalSender = decodeExternalSender(encodeExternalSender({ signatureKey: publicKey, credential }));
  return { domain, cipherSuite: 1, signaturePublicKey: publicKey, signaturePrivateKey: privateKey, credential, externalSender };
}

function load(file: string, domain: string): ProviderIdentity {
  let parsed: Partial<StoredIdentity>;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StoredIdentity>;
  } catch (e) {
    throw new ProviderIdentityError(`${file} is unreadable: ${(e as Error).message}`);
  }
  if (parsed.version !== 1 || parsed.cipherSuite !== PROVIDER_CIPHER_SUITE) {
    throw new ProviderIdentityError(`${file}: unsupported version or cipher suite`);
  }
  if (parsed.domain !== domain) {
    throw new ProviderIdentityError(`${file} is the signing identity of ${JSON.stringify(parsed.domain)}, not of ${domain}`);
  }
  let publicKey: Uint8Array;
  let privateKey: Uint8Array;
  try {
    publicKey = fromB64(parsed.signaturePublicKey ?? '');
    privateKey = fromB64(parsed.signaturePrivateKey ?? '');
  } catch {
    throw new ProviderIdentityError(`${file}: keys are not base64url`);
  }
  if (privateKey.length !== 32 || !bytesEqual(ed25519.getPublicKey(privateKey), publicKey)) {
    throw new ProviderIdentityError(`${file}: the public key does not belong to the private key`);
  }
  // Keep the key private even if someone loosened the file mode.
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return build(domain, publicKey, privateKey);
}

/** This provider's signing identity: loaded from the data dir, or created there on first use. */
export function ensureProviderIdentity(dataDir: string, domain: string): ProviderIdentity {
  if (!isValidDomain(domain)) throw new ProviderIdentityError(`invalid provider domain ${JSON.stringify(domain)}`);
  const file = path.join(dataDir, PROVIDER_IDENTITY_FILE);
  if (fs.existsSync(file)) return load(file, domain);
  fs.mkdirSync(dataDir, { recursive: true });
  const pair = generateSignatureKeyPair();
  const stored: StoredIdentity = {
    version: 1,
    domain,
    cipherSuite: 1,
    signaturePublicKey: toB64(pair.publicKey),
    signaturePrivateKey: toB64(pair.privateKey),
  };
  writeAtomic(file, JSON.stringify(stored, null, 2) + '\n');
  return build(domain, pair.publicKey, pair.privateKey);
}
