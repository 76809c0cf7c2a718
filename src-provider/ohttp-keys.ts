// The secrets of the KeyPackage gateway (docs/ohttp-key-packages.md): the gateway's X25519 key
// (RFC 9458 key configuration) and the Privacy Pass token secret with its epoch. A new epoch
// invalidates every token issued before it (tokens are bound to the epoch's derived issuer key),
// which is how the operator withdraws tokens.
//
// They live in the Store (table ohttp_gateway_secrets, one row per domain), not in the data folder:
// the nodes of one domain on PostgreSQL (issue 17) may have folders of their own, and must still
// publish one key configuration and honour each other's tokens. The first node to start makes the
// row (INSERT OR IGNORE, then everyone reads back what won), every later start reads it.
//
// Providers from before kept them in `<dataDir>/ohttp-gateway.json`. The first start with that file
// and no row imports the file's values (so tokens issued before and the key configuration peers
// fetched keep working), then renames it to `ohttp-gateway.json.imported`.

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesEqual, fromB64 } from '../src-shared/bytes.js';
import { AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519, type GatewayKey } from '../src-shared/ohttp.js';
import type { OhttpSecretsRow, Store } from './store.js';

/** Where providers before store v18 kept the secrets; imported once, then renamed. */
export const OHTTP_KEYS_FILE = 'ohttp-gateway.json';
export const IMPORTED_SUFFIX = '.imported';
/** A legacy file whose values lost to secrets already in the database (another node's). */
export const SUPERSEDED_SUFFIX = '.superseded';

/** The legacy file's contents. */
interface LegacyFile {
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

type Values = Pick<OhttpSecretsRow, 'domain' | 'key_id' | 'token_epoch'> & { private_key: Uint8Array; token_secret: Uint8Array };

function toSecrets(r: Values): OhttpSecrets {
  if (r.private_key.length !== 32 || r.token_secret.length !== 32 || !Number.isInteger(r.key_id) || r.key_id < 0 || r.key_id > 255) {
    throw new OhttpKeysError(`the OHTTP gateway secrets of ${r.domain} in the database are damaged (a key is not 32 bytes, or the key id is not 0-255): delete that row of ohttp_gateway_secrets to make new ones (outstanding KeyPackage tokens stop working, peers fetch the new key configuration)`);
  }
  const privateKey = new Uint8Array(r.private_key);
  const config = { keyId: r.key_id, kemId: KEM_X25519, publicKey: x25519.getPublicKey(privateKey), suites: [{ kdfId: KDF_HKDF_SHA256, aeadId: AEAD_AES_128_GCM }] };
  return { gatewayKey: { config, privateKey }, tokenSecret: new Uint8Array(r.token_secret), tokenEpoch: r.token_epoch };
}

/** The legacy file's values; undefined when there is none. Throws, saying what to do, when it is not usable. */
function readLegacy(file: string, domain: string | undefined): Values | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OhttpKeysError(`${file} is unreadable: ${(e as Error).message}`);
  }
  let s: Partial<LegacyFile>;
  try {
    s = JSON.parse(text) as Partial<LegacyFile>;
  } catch (e) {
    throw new OhttpKeysError(`${file} is unreadable: ${(e as Error).message}; move it away to make new OHTTP gateway secrets (outstanding KeyPackage tokens stop working)`);
  }
  const bad = () => new OhttpKeysError(`${file} is not the OHTTP gateway file of ${domain ?? 'this provider'}: move it away to make new secrets (outstanding KeyPackage tokens stop working)`);
  if (s.version !== 1 || typeof s.domain !== 'string' || (domain !== undefined && s.domain !== domain) || !Number.isInteger(s.keyId) || !Number.isInteger(s.tokenEpoch) || typeof s.privateKey !== 'string' || typeof s.tokenSecret !== 'string') {
    throw bad();
  }
  try {
    const values = { domain: s.domain, key_id: s.keyId!, private_key: fromB64(s.privateKey), token_secret: fromB64(s.tokenSecret), token_epoch: s.tokenEpoch! };
    toSecrets(values);
    return values;
  } catch {
    throw bad();
  }
}

const sameSecrets = (a: Values, b: Values): boolean =>
  a.key_id === b.key_id && bytesEqual(a.private_key, b.private_key) && bytesEqual(a.token_secret, b.token_secret);

/**
 * Moves the legacy file out of the way once the database holds the secrets: `.imported` when they
 * are its values, `.superseded` when another node's won (tokens issued under the file's then fail).
 */
function retireLegacy(file: string, legacy: Values, stored: Values, log: (msg: string) => void): void {
  const same = sameSecrets(legacy, stored);
  const to = file + (same ? IMPORTED_SUFFIX : SUPERSEDED_SUFFIX);
  try {
    fs.renameSync(file, to);
  } catch (e) {
    // Another node sharing the folder renamed it first: nothing left to do.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new OhttpKeysError(`cannot rename ${file} to ${to}: ${(e as Error).message}`);
  }
  log(
    same
      ? `OHTTP gateway secrets of ${stored.domain} are in the database now (imported from ${file}, token epoch ${stored.token_epoch}); the file was renamed to ${to} and is no longer read`
      : `${file} differs from the OHTTP gateway secrets of ${stored.domain} already in the database (made by another node), which every node uses: renamed to ${to}; KeyPackage tokens issued under it are refused`,
  );
}

/**
 * The gateway's secrets of `domain`: read from the Store, made there on first use, or imported
 * from `<dataDir>/ohttp-gateway.json` when a provider from before left one. Safe for several
 * nodes starting at once: one set of secrets wins and everybody uses it.
 */
export function ensureOhttpSecrets(store: Store, dataDir: string, domain: string, log: (msg: string) => void = () => undefined): OhttpSecrets {
  const file = path.join(dataDir, OHTTP_KEYS_FILE);
  const legacy = readLegacy(file, domain);
  const stored = store.tx(() => {
    if (!store.ohttpSecrets(domain)) {
      const fresh: Values = legacy ?? { domain, key_id: randomBytes(1)[0], private_key: x25519.utils.randomSecretKey(), token_secret: randomBytes(32), token_epoch: 1 };
      // ON CONFLICT DO NOTHING: a node that raced us keeps its row. (On PostgreSQL a row committed
      // by a node our snapshot cannot see makes this a serialization failure: store.tx runs the
      // whole transaction again, and the first read then finds that row.)
      store.insertOhttpSecrets(fresh, Date.now());
    }
    const row = store.ohttpSecrets(domain);
    if (!row) throw new OhttpKeysError(`the OHTTP gateway secrets of ${domain} could not be stored in the database`);
    return row;
  });
  const secrets = toSecrets(stored);
  // Renamed only after the row is committed: a crash in between leaves the file, which the next
  // start finds equal to the row and renames then.
  if (legacy) retireLegacy(file, legacy, stored, log);
  return secrets;
}

/**
 * Starts a new token epoch (every outstanding token stops working) for `domain`, or for every
 * domain in the database when none is named; returns the new epochs. Running nodes read the epoch
 * before each issuance and redemption (ohttp-service.ts), so they follow at once.
 */
export function advanceTokenEpoch(store: Store, domain?: string): { domain: string; epoch: number }[] {
  const advanced = store.tx(() => store.advanceOhttpTokenEpoch(domain));
  if (advanced.length === 0) {
    throw new OhttpKeysError(`no OHTTP gateway secrets${domain ? ` of ${domain}` : ''} in the database: the provider makes them on its first start (and has issued no KeyPackage tokens before that)`);
  }
  return advanced;
}

/**
 * For provider-admin on a data folder whose provider has not started since the upgrade: the
 * legacy file's secrets into the database (as the provider's next start would), so the epoch it
 * advances is the one the provider will use. Nothing happens without a file or with a row.
 */
export function importLegacyOhttpSecrets(store: Store, dataDir: string, log: (msg: string) => void = () => undefined): void {
  const legacy = readLegacy(path.join(dataDir, OHTTP_KEYS_FILE), undefined);
  if (legacy) ensureOhttpSecrets(store, dataDir, legacy.domain, log);
}
