// Federation configuration: which base URL reaches a peer domain, and which CAs vouch for peers.
// Peers are trusted ONLY through explicitly configured CA certificates (`--trust`): neither the
// system root store nor this provider's own dev CA is implied, so a provider started without
// --trust federates with nobody.

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { isValidDomain } from '../../src-shared/identifiers.js';

export interface FederationConfig {
  /** Peer domain -> base URL (`https://host[:port]`, no trailing slash). Unlisted domains use `https://<domain>`. */
  peers: Map<string, string>;
  /** PEM certificates of the CAs accepted for peer providers (client and server side). */
  trustPem: string[];
}

/** Federation settings as `startProvider` accepts them. */
export interface FederationOptions {
  peers?: Record<string, string> | Map<string, string>;
  trustPem?: string[];
}

export class FederationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FederationConfigError';
  }
}

/**
 * Normalises a peer base URL. Only an origin is accepted: the directory lives at the origin's
 * `/.well-known/` (RFC 8615), so a path prefix would have no meaning.
 */
export function normalizeBaseUrl(raw: string, what = 'peer URL'): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new FederationConfigError(`${what} ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.protocol !== 'https:') throw new FederationConfigError(`${what} ${JSON.stringify(raw)} must use https`);
  if (u.username || u.password) throw new FederationConfigError(`${what} ${JSON.stringify(raw)} must not carry credentials`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new FederationConfigError(`${what} ${JSON.stringify(raw)} must be an origin (https://host[:port]) without path, query or fragment`);
  }
  return u.origin;
}

/** Parses one `--peer DOMAIN=URL` argument. */
export function parsePeerSpec(spec: string): [domain: string, baseUrl: string] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new FederationConfigError(`--peer ${JSON.stringify(spec)} must have the form DOMAIN=URL`);
  const domain = spec.slice(0, eq);
  if (!isValidDomain(domain)) throw new FederationConfigError(`--peer ${JSON.stringify(spec)}: invalid domain ${JSON.stringify(domain)}`);
  return [domain, normalizeBaseUrl(spec.slice(eq + 1), `--peer ${domain}`)];
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Splits a PEM text (possibly a bundle) into single certificates, each checked to be a parseable
 * CA certificate: a leaf given as a trust anchor is almost certainly a configuration mistake.
 */
export function parseTrustPem(text: string, source = 'trust PEM'): string[] {
  const blocks = text.match(PEM_CERT_RE) ?? [];
  if (blocks.length === 0) throw new FederationConfigError(`${source} contains no PEM certificate`);
  return blocks.map((pem, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (e) {
      throw new FederationConfigError(`${source}: certificate #${i + 1} cannot be parsed: ${(e as Error).message}`);
    }
    if (!cert.ca) throw new FederationConfigError(`${source}: certificate #${i + 1} (${cert.subject}) is not a CA certificate`);
    return `${pem}\n`;
  });
}

/** Reads the `--trust` PEM files. */
export function loadTrustFiles(files: string[]): string[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new FederationConfigError(`--trust ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parseTrustPem(text, `--trust ${file}`);
  });
}

/** Validates and freezes the options into a FederationConfig. */
export function federationConfig(opts: FederationOptions = {}): FederationConfig {
  const peers = new Map<string, string>();
  const entries = opts.peers instanceof Map ? [...opts.peers] : Object.entries(opts.peers ?? {});
  for (const [domain, url] of entries) {
    if (!isValidDomain(domain)) throw new FederationConfigError(`peer domain ${JSON.stringify(domain)} is invalid`);
    peers.set(domain, normalizeBaseUrl(url, `peer ${domain}`));
  }
  const trustPem = (opts.trustPem ?? []).flatMap((pem, i) => parseTrustPem(pem, `trustPem[${i}]`));
  return { peers, trustPem };
}

/** Where the directory of `domain` is looked up. */
export function peerBaseUrl(config: FederationConfig, domain: string): string {
  return config.peers.get(domain) ?? `https://${domain}`;
}
