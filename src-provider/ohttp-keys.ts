// The secrets of the KeyPackage gateway (docs/ohttp-key-packages.md), kept in
// `<dataDir>/ohttp-gateway.json` (0600, written atomically) and reused across restarts: the
// gateway's X25519 key (RFC 9458 key configuration) and the Privacy Pass token secret with its
// epoch. A new epoch invalidates every token issued before it (tokens are bound to the epoch's
// derived issuer key), which is how the operator withdraws tokens.

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { fromB64, toB64 } from '../src-shared/bytes.js';
import { AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519, type GatewayKey } from '../src-shared/ohttp.js';
import { writeAtomic } from './federation/provider-identity.js';

export const OHTTP_KEYS_FILE = 'ohttp-gateway.json';

interface Stored {
  version: 1;
  domain: string;
  keyId: number;
  privateKey: string;
  tokenSecret: string;
  tokenEpoch: number;
}

export interface OhttpSecrets {
  gatewayKey: GatewayKey;
  tokenSecret: Uint8Array;
  tokenEpoch: number;
}

export class OhttpKeysError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OhttpKeysError';
  }
}

function toSecrets(s: Stored): OhttpSecrets {
  const privateKey = fromB64(s.privateKey);
  const tokenSecret = fromB64(s.tokenSecret);
  if (privateKey.length !== 32 || tokenSecret.length !== 32) throw new OhttpKeysError('a key is not 32 bytes');
  const config = { keyId: s.keyId, kemId: KEM_X25519, publicKey: x25519.getPublicKey(privateKey), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] };
  return { gatewayKey: { config, privateKey }, tokenSecret, tokenEpoch: s.tokenEpoch };
}

function read(file: string, domain?: string): Stored {
  let s: Partial<Stored>;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Stored>;
  } catch (e) {
    throw new OhttpKeysError(`${file} is unreadable: ${(e as Error).message}`);
  }
  if (s.version !== 1 || typeof s.domain !== 'string' || (domain !== undefined && s.domain !== domain) || !Number.isInteger(s.keyId) || !Number.isInteger(s.tokenEpoch) || typeof s.privateKey !== 'string' || typeof s.tokenSecret !== 'string') {
    throw new OhttpKeysError(`${file} is not the OHTTP gateway file of ${domain}: move it away to make a new one (outstanding tokens stop working)`);
  }
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return s as Stored;
}

/** The gateway's secrets: loaded from the data dir, or made there on first use. */
export function ensureOhttpSecrets(dataDir: string, domain: string): OhttpSecrets {
  const file = path.join(dataDir, OHTTP_KEYS_FILE);
  if (fs.existsSync(file)) {
    try {
      return toSecrets(read(file, domain));
    } catch (e) {
      throw e instanceof OhttpKeysError ? e : new OhttpKeysError(`${file}: ${(e as Error).message}`);
    }
  }
  const stored: Stored = { version: 1, domain, keyId: randomBytes(1)[0], privateKey: toB64(x25519.utils.randomSecretKey()), tokenSecret: toB64(randomBytes(32)), tokenEpoch: 1 };
  fs.mkdirSync(dataDir, { recursive: true });
  writeAtomic(file, JSON.stringify(stored, null, 2) + '\n');
  return toSecrets(stored);
}

/**
 * Starts a new token epoch (every outstanding token stops working); returns it. A running provider
 * notices the file change before its next issuance or redemption (ohttp-service.ts).
 */
export function advanceTokenEpoch(dataDir: string, domain?: string): number {
  const file = path.join(dataDir, OHTTP_KEYS_FILE);
  if (!fs.existsSync(file)) throw new OhttpKeysError(`${file} does not exist: this provider has issued no KeyPackage tokens yet`);
  const stored = read(file, domain);
  stored.tokenEpoch += 1;
  writeAtomic(file, JSON.stringify(stored, null, 2) + '\n');
  return stored.tokenEpoch;
}

/** When the secrets file last changed (ms), to notice an epoch advanced by another process. */
export function ohttpSecretsChangedAt(dataDir: string): number {
  try {
    return fs.statSync(path.join(dataDir, OHTTP_KEYS_FILE)).mtimeMs;
  } catch {
    return 0;
  }
}
