// The account's folder: creating it at sign-in (register or log in as a new device) and opening
// it again. A profile folder holds profile.json (ProfileConfig), the provider's CA when it is not
// the embedded provider, the secret store (token, device keys, the database key) and mimi.db.

import fs from 'node:fs';
import path from 'node:path';
import type { SessionResponse } from '../../src-shared/provider-api.js';
import { fromB64, toB64, fromUtf8, utf8 } from '../../src-shared/bytes.js';
import { parseMimiUri } from '../../src-shared/identifiers.js';
import type { DeviceKeys, MlsEngine } from '../mls/engine.js';
import { ProfileDb } from '../db/profile-db.js';
import { openSecretStore, probeSecretStore, SecretStoreError, type PassphraseSource, type SecretMode, type SecretStore, type SafeStorageLike } from '../secrets/secret-store.js';
import { Vault } from '../secrets/vault.js';
import { ProviderClient } from '../net/provider-client.js';
import type { PushConnectionOptions } from '../net/push-connection.js';
import { coreError, toCoreError } from './errors.js';

export interface ProfileConfig {
  version: 1;
  providerUrl: string;
  /** The app's embedded provider: its URL and CA are supplied at open time, not stored. */
  embedded?: boolean;
  domain: string;
  handle: string;
  userUri: string;
  deviceUri: string;
  deviceId: string;
  deviceName: string;
  createdAt: number;
}

export interface ProfileOptions {
  engine: MlsEngine;
  secretMode?: SecretMode;
  safeStorage?: SafeStorageLike;
  /** A passphrase profile's passphrase: set when creating one, needed to open one (see PassphraseStore). */
  passphrase?: PassphraseSource;
  /** Overrides for the embedded provider, whose port and CA are the app's to decide. */
  providerUrl?: string;
  caPem?: string;
  /**
   * Keep the pseudonym pool filled in the background once connected (the app). Off for the `mimi`
   * command, whose runs are short: it refills when a command needs a pseudonym or is asked to.
   */
  keepPseudonymPool?: boolean;
  /**
   * The connection flow destroys a bootstrap room after a random delay in this range (ms) once
   * the request is answered (connections.ts); default 1 to 10 minutes.
   */
  bootstrapDestroyDelayMs?: readonly [number, number];
}

export interface SignInDetails {
  providerUrl: string;
  caPem?: string;
  handle: string;
  password: string;
  deviceName: string;
  embedded?: boolean;
}

/** What an opened profile folder yields: everything a Profile is built from. */
export interface OpenedAccount {
  config: ProfileConfig;
  client: ProviderClient;
  db: ProfileDb;
  keys: DeviceKeys;
  secrets: SecretStore;
  pushOptions: Pick<PushConnectionOptions, 'baseUrl' | 'token' | 'caPem'>;
}

const CONFIG_FILE = 'profile.json';
const CA_FILE = 'ca.pem';

function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function accountExists(dir: string): boolean {
  return fs.existsSync(path.join(dir, CONFIG_FILE));
}

/**
 * Register or log in at the provider and write the new profile folder. The caller opens it
 * afterwards (and uploads the first KeyPackages).
 */
export async function createAccount(dir: string, d: SignInDetails, opts: ProfileOptions, how: 'register' | 'login'): Promise<void> {
  if (accountExists(dir)) throw coreError('invalidArgument', 'errors.account.exists', { dir });
  // Before the handle is taken at the provider: a profile that cannot keep its secrets must not
  // leave a registered account behind.
  try {
    await probeSecretStore({ profileDir: dir, preferred: opts.secretMode, safeStorage: opts.safeStorage, passphrase: opts.passphrase });
  } catch (e) {
    if (e instanceof SecretStoreError) throw coreError('secretStorage', 'errors.account.secretStorage', { reason: e.message });
    throw e;
  }
  const client = new ProviderClient({ baseUrl: d.providerUrl, caPem: d.caPem });
  let session: SessionResponse;
  try {
    const req = { handle: d.handle, password: d.password, deviceName: d.deviceName };
    session = how === 'register' ? await client.register(req) : await client.login(req);
  } catch (e) {
    throw toCoreError(e, { key: how === 'register' ? 'errors.what.createAccount' : 'errors.what.signIn' });
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (d.caPem && !d.embedded) writeFileAtomic(path.join(dir, CA_FILE), d.caPem);
  const secrets = await openSecretStore({ profileDir: dir, namespace: session.deviceUri, preferred: opts.secretMode, safeStorage: opts.safeStorage, passphrase: opts.passphrase });
  const keys = await opts.engine.newDeviceKeys(session.deviceUri);
  await secrets.set('token', utf8(session.token));
  await secrets.set('device-keys', utf8(JSON.stringify({ identity: keys.identity, pub: toB64(keys.signaturePublicKey), priv: toB64(keys.signaturePrivateKey) })));
  const handle = parseMimiUri(session.userUri).handle!;
  const config: ProfileConfig = {
    version: 1,
    providerUrl: d.providerUrl,
    embedded: d.embedded || undefined,
    domain: session.domain,
    handle,
    userUri: session.userUri,
    deviceUri: session.deviceUri,
    deviceId: session.deviceId,
    deviceName: d.deviceName,
    createdAt: Date.now(),
  };
  // Written last: a folder without profile.json is an unfinished sign-in and can be retried.
  writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(config, null, 2));
}

/** The account's profile.json (who it is, where its provider is), readable without its secrets. */
export function readAccountConfig(dir: string): ProfileConfig {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8')) as ProfileConfig;
  } catch {
    throw coreError('noAccount', 'errors.account.none', { dir });
  }
}

/** Read the config, unlock the secrets and the database, and make the provider client. */
export async function openAccount(dir: string, opts: ProfileOptions): Promise<OpenedAccount> {
  const config = readAccountConfig(dir);
  const secrets = await openSecretStore({ profileDir: dir, namespace: config.deviceUri, preferred: opts.secretMode, safeStorage: opts.safeStorage, passphrase: opts.passphrase });
  const token = await secrets.get('token');
  const rawKeys = await secrets.get('device-keys');
  if (!token || !rawKeys) throw coreError('noAccount', 'errors.account.keysMissing', { user: config.userUri, store: secrets.mode });
  const k = JSON.parse(fromUtf8(rawKeys)) as { identity: string; pub: string; priv: string };
  const keys: DeviceKeys = { identity: k.identity, signaturePublicKey: fromB64(k.pub), signaturePrivateKey: fromB64(k.priv) };
  const caFile = path.join(dir, CA_FILE);
  const caPem = opts.caPem ?? (fs.existsSync(caFile) ? fs.readFileSync(caFile, 'utf8') : undefined);
  const client = new ProviderClient({ baseUrl: opts.providerUrl ?? config.providerUrl, caPem, token: fromUtf8(token) });
  const vault = await Vault.open(secrets);
  const db = new ProfileDb(path.join(dir, 'mimi.db'), vault);
  return { config, client, db, keys, secrets, pushOptions: { baseUrl: client.baseUrl, token: fromUtf8(token), caPem } };
}
