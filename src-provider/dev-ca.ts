// Development certificate authority. Each provider data dir gets its own CA (ECDSA P-256) that
// signs the provider's TLS server certificate; clients pin `ca.pem` instead of trusting the
// system store, so a dev setup needs no public CA and no trust-store changes. The federation
// task reuses `issueClientCertificate` for mutual TLS between providers.

import type * as X509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

let x509Lib: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509 (with the reflect-metadata it needs), loaded the first time a certificate is made:
 * evaluating it costs ~70 ms, and most starts of a provider (its certificates already made) and
 * every `mimi` command but `interop check` make none.
 */
function loadX509(): Promise<typeof X509> {
  return (x509Lib ??= (async () => {
    await import('reflect-metadata');
    const mod = await import('@peculiar/x509');
    // A CommonJS package: Node's loader gives its exports by name and as `default`; a bundle split
    // into chunks (the test bundles, scripts/bundle-tests.mjs) gives `default` only.
    const x509 = ((mod as { default?: typeof X509 }).default ?? mod) as typeof X509;
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })());
}

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600 * 1000;
const CA_LIFETIME_DAYS = 3650;
const LEAF_LIFETIME_DAYS = 365;
/** Re-issue the server certificate when it would expire within this many days. */
const RENEW_BEFORE_DAYS = 30;

export interface DevCaFiles {
  caPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export const caFilePaths = (dir: string) => ({
  ca: path.join(dir, 'ca.pem'),
  caKey: path.join(dir, 'ca-key.pem'),
  serverCert: path.join(dir, 'server-cert.pem'),
  serverKey: path.join(dir, 'server-key.pem'),
});

const cryptoApi = webcrypto as unknown as Crypto;

function serial(): string {
  // Positive 16-byte serial (high bit cleared so DER does not need a sign byte).
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await cryptoApi.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return cryptoApi.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await cryptoApi.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function createCa(commonName: string): Promise<{ caPem: string; caKeyPem: string }> {
  const x509 = await loadX509();
  const keys = await newKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_LIFETIME_DAYS * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { caPem: cert.toString('pem'), caKeyPem: await exportKeyPem(keys.privateKey) };
}

async function issueLeaf(
  caPem: string,
  caKeyPem: string,
  domain: string,
  usage: 'server' | 'client',
): Promise<IssuedCertificate> {
  const x509 = await loadX509();
  const ca = new x509.X509Certificate(caPem);
  const caKey = await importSigningKey(caKeyPem);
  const keys = await newKeyPair();
  const now = Date.now();
  const names: X509.JsonGeneralName[] = [{ type: 'dns', value: domain }];
  if (usage === 'server') {
    names.push({ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' });
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${domain}`,
    issuer: ca.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + LEAF_LIFETIME_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** Write via a temp file + rename so a crash during first start never leaves a torn PEM. */
function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function serverCertUsable(certPem: string, domain: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const validTo = Date.parse(cert.validTo);
    return cert.checkHost(domain) !== undefined && validTo - Date.now() > RENEW_BEFORE_DAYS * DAY_MS;
  } catch {
    return false;
  }
}

/**
 * Load the data dir's CA and server certificate, creating whatever is missing (or re-issuing a
 * server certificate that does not cover `domain` or is about to expire).
 */
export async function ensureDevCa(dataDir: string, domain: string): Promise<DevCaFiles> {
  // The data dir holds private keys and the account database: owner-only when we create it.
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const p = caFilePaths(dataDir);
  let caPem: string;
  let caKeyPem: string;
  let fresh = false;
  if (fs.existsSync(p.ca) && fs.existsSync(p.caKey)) {
    caPem = fs.readFileSync(p.ca, 'utf8');
    caKeyPem = fs.readFileSync(p.caKey, 'utf8');
  } else {
    ({ caPem, caKeyPem } = await createCa(`MIMI dev CA for ${domain}`));
    writeAtomic(p.caKey, caKeyPem, 0o600);
    writeAtomic(p.ca, caPem, 0o644);
    fresh = true;
  }
  if (!fresh && fs.existsSync(p.serverCert) && fs.existsSync(p.serverKey)) {
    const serverCertPem = fs.readFileSync(p.serverCert, 'utf8');
    if (serverCertUsable(serverCertPem, domain)) {
      return { caPem, caKeyPem, serverCertPem, serverKeyPem: fs.readFileSync(p.serverKey, 'utf8') };
    }
  }
  const leaf = await issueLeaf(caPem, caKeyPem, domain, 'server');
  writeAtomic(p.serverKey, leaf.keyPem, 0o600);
  writeAtomic(p.serverCert, leaf.certPem, 0o644);
  return { caPem, caKeyPem, serverCertPem: leaf.certPem, serverKeyPem: leaf.keyPem };
}

/** A TLS client certificate for `domain` signed by this provider's dev CA (mutual TLS between providers). */
export async function issueClientCertificate(ca: Pick<DevCaFiles, 'caPem' | 'caKeyPem'>, domain: string): Promise<IssuedCertificate> {
  return issueLeaf(ca.caPem, ca.caKeyPem, domain, 'client');
}
