// Mutual TLS between providers (draft-ietf-mimi-protocol-06, "Transport layer": the TLS connection
// MUST be mutually authenticated and the certificates authenticate the source and target domains).
//
// Server side: the provider has ONE HTTPS port for desktop clients (no client certificate) and for
// peer providers (client certificate required). Node decides `requestCert` per server, not per
// handshake, and cannot make a presented certificate fatal only when one is presented. So the server
// asks every client for a certificate with `rejectUnauthorized: false`, and on `secureConnection`
// destroys, before any HTTP byte is read, every connection whose client DID present a certificate
// that is not acceptable (not chaining to a --trust CA, expired, no DNS name, not for client auth).
// Connections without a certificate go on to the client API; the MIMI routes then demand an
// authorized certificate through `authenticatePeer`.
//
// Client side: each provider holds one client certificate for its own domain, issued by its dev CA
// and kept in the data dir, which peers accept once they list that CA in --trust.

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { isValidDomain } from '../../src-shared/identifiers.js';
import { issueClientCertificate, type DevCaFiles, type IssuedCertificate } from '../dev-ca.js';
import { ApiFailure } from '../errors.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 24 * 3600 * 1000;
/** Re-issue our federation certificate when it would expire within this many days. */
const RENEW_BEFORE_DAYS = 30;

export const federationFilePaths = (dataDir: string) => ({
  cert: path.join(dataDir, 'federation-cert.pem'),
  key: path.join(dataDir, 'federation-key.pem'),
});

/** TLS options the provider's HTTPS server adds so peers can authenticate with client certificates. */
export function peerTlsServerOptions(trustPem: string[]): { requestCert: true; rejectUnauthorized: false; ca: string[] } {
  // An empty `ca` array means "trust no CA" to Node (only an absent `ca` falls back to the root
  // store), which is exactly what a provider without --trust must do.
  return { requestCert: true, rejectUnauthorized: false, ca: [...trustPem] };
}

/** DNS names in a certificate's subjectAltName (Node renders it as `DNS:a, IP Address:b, ...`). */
export function certDnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (!san) return [];
  return san
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase())
    .filter((name) => isValidDomain(name));
}

function isForClientAuth(cert: X509Certificate): boolean {
  // No EKU extension means any usage; with one, client authentication must be listed.
  const eku = cert.keyUsage as string[] | undefined;
  return eku === undefined || eku.includes(CLIENT_AUTH_OID);
}

/**
 * Why a handshake's client certificate is unacceptable, or null when the client presented none
 * (a desktop client) or an acceptable one.
 */
export function untrustedPeerReason(socket: TLSSocket): string | null {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return null;
  if (!socket.authorized) return `client certificate ${cert.subject.replace(/\n/g, ', ')} rejected: ${socket.authorizationError ?? 'not trusted'}`;
  if (certDnsNames(cert).length === 0) return 'client certificate names no DNS domain';
  if (!isForClientAuth(cert)) return 'client certificate is not valid for TLS client authentication';
  return null;
}

/**
 * Fingerprint of the client certificate each guarded connection was vetted with. Renegotiation is
 * disabled on every connection; this is a second lock so a certificate that somehow appears after
 * the handshake check is never taken for a peer identity.
 */
const vettedPeers = new WeakMap<TLSSocket, string>();

/** Installs the post-handshake guard described at the top of this file. */
export function guardPeerConnections(server: HttpsServer, log: (msg: string) => void): void {
  // prependListener: run before the HTTP server's own listener attaches its parser to the socket.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    // A TLS 1.2 client could otherwise renegotiate and present another certificate later.
    socket.disableRenegotiation();
    const reason = untrustedPeerReason(socket);
    if (reason === null) {
      const cert = socket.getPeerX509Certificate();
      if (cert) vettedPeers.set(socket, cert.fingerprint256);
      return;
    }
    log(`refused TLS connection from ${socket.remoteAddress}:${socket.remotePort}: ${reason}`);
    socket.destroy();
  });
}

/** The host part of a Host header (`a.example:8443`, `[::1]:8443`), lowercased; port ignored per the draft. */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

const FROM_RE = /^mimi@([^\s@]+)$/;

/**
 * Authenticates a request to a MIMI server-to-server endpoint and returns the requesting provider's
 * domain. Throws ApiFailure: 401 without an authorized client certificate, 421 when the Host header
 * names another provider, 403 when From is not `mimi@<a DNS name of the client certificate>`.
 */
export function authenticatePeer(req: IncomingMessage, ownDomain: string): { domain: string } {
  // Only connections vetted by guardPeerConnections count, and only with the certificate vetted.
  const socket = req.socket as TLSSocket;
  const cert = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  if (!cert || !socket.authorized || vettedPeers.get(socket) !== cert.fingerprint256) {
    throw new ApiFailure('unauthorized', 'MIMI server-to-server endpoints require a client certificate from a trusted provider');
  }
  const host = req.headers.host;
  if (!host || hostOf(host) !== ownDomain) {
    throw new ApiFailure('notAllowed', `this provider is ${ownDomain}; the request's Host is ${JSON.stringify(host ?? '')}`, {
      status: 421,
    });
  }
  const names = certDnsNames(cert);
  const from = req.headers.from;
  const m = typeof from === 'string' ? FROM_RE.exec(from) : null;
  if (!m) {
    throw new ApiFailure('notAllowed', `the From header must be mimi@<your domain> (certificate names ${names.join(', ')}); got ${JSON.stringify(from ?? '')}`);
  }
  const domain = m[1].toLowerCase(); // domain names compare case-insensitively
  if (!names.includes(domain)) {
    throw new ApiFailure('notAllowed', `From names ${domain} but the client certificate is for ${names.join(', ')}`);
  }
  return { domain };
}

// ---- our own client certificate ----

function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function identityUsable(certPem: string, keyPem: string, caPem: string, domain: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return (
      cert.checkHost(domain, { subject: 'never', wildcards: false }) !== undefined &&
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_DAYS * DAY_MS &&
      keyPem.includes('PRIVATE KEY')
    );
  } catch {
    return false;
  }
}

/**
 * This provider's client certificate for `domain`, created once under the data dir (key 0600) and
 * reused on restart; re-issued if it no longer matches the domain or CA, or is about to expire.
 */
export async function ensureFederationIdentity(
  dataDir: string,
  ca: Pick<DevCaFiles, 'caPem' | 'caKeyPem'>,
  domain: string,
): Promise<IssuedCertificate> {
  const p = federationFilePaths(dataDir);
  if (fs.existsSync(p.cert) && fs.existsSync(p.key)) {
    const certPem = fs.readFileSync(p.cert, 'utf8');
    const keyPem = fs.readFileSync(p.key, 'utf8');
    if (identityUsable(certPem, keyPem, ca.caPem, domain)) return { certPem, keyPem };
  }
  const issued = await issueClientCertificate(ca, domain);
  writeAtomic(p.key, issued.keyPem, 0o600);
  writeAtomic(p.cert, issued.certPem, 0o600);
  return issued;
}
