// The conformance kit's only network code: one HTTPS request to the target provider per call, as
// a MIMI peer makes it (draft-ietf-mimi-protocol-06 4.1): the client certificate of the --as
// domain, `From: mimi@<as>`, `Host: <target domain>`, and the server certificate checked for the
// target domain against --ca (or the system roots). Oversize bodies are either announced in
// Content-Length or streamed chunked, and sending stops as soon as the server answers.

import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { Exchange } from './answers.js';
import type { Client, Send } from './probes.js';

export interface TransportOptions {
  targetDomain: string;
  asDomain: string;
  /** Trust anchors for the target's server certificate; absent: the system roots. */
  caPem?: string;
  ours?: { certPem: string; keyPem: string };
  untrusted?: { certPem: string; keyPem: string };
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

/** Answers above this are cut off (a proxyDownload could stream a file). */
const MAX_ANSWER_BYTES = 1 << 20;
const CHUNK = 64 * 1024;

function clientIdentity(client: Client, o: TransportOptions): { cert?: string; key?: string } {
  const id = client === 'ours' ? o.ours : client === 'untrusted' ? o.untrusted : undefined;
  return id ? { cert: id.certPem, key: id.keyPem } : {};
}

function headersFor(url: URL, send: Send, o: TransportOptions): Record<string, string> {
  const defaults: Record<string, string | undefined> = {
    // The port of Host is ignored by the target (4.1); it is kept so the request is plain HTTP.
    host: url.port ? `${o.targetDomain}:${url.port}` : o.targetDomain,
    from: `mimi@${o.asDomain}`,
    ...(send.method === 'POST' ? { 'content-type': 'application/mimi' } : {}),
  };
  const merged = { ...defaults, ...send.headers };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) out[k] = v;
  const body = send.body ?? new Uint8Array(0);
  if (send.oversize?.declared) out['content-length'] = String(send.oversize.bytes);
  else if (send.oversize) out['transfer-encoding'] = 'chunked';
  else if (send.method === 'POST') out['content-length'] = String(body.length);
  return out;
}

/** One request; never throws: a transport failure is an Exchange with `error`. */
export function exchange(url: URL, send: Send, o: TransportOptions): Promise<Exchange> {
  return new Promise((resolve) => {
    let settled = false;
    let sent = 0;
    const done = (ex: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(send.oversize ? { ...ex, sent } : ex);
    };
    const timeoutMs = o.timeoutMs ?? 15_000;
    const timer = setTimeout(() => done({ body: new Uint8Array(0), error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    const request = https.request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 443,
        method: send.method,
        path: url.pathname + url.search,
        headers: headersFor(url, send, o),
        ca: o.caPem,
        // SNI and the certificate check name the target domain, whatever address the URL has.
        servername: isIP(o.targetDomain) ? undefined : o.targetDomain,
        checkServerIdentity: (_host, cert) => tlsIdentityError(o.targetDomain, cert),
        ...clientIdentity(send.client ?? 'ours', o),
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () =>
          done({ status: res.statusCode, contentType: res.headers['content-type'], body: new Uint8Array(Buffer.concat(chunks)) });
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(c);
          else finish();
        });
        res.on('end', finish);
        res.on('error', finish);
        res.on('aborted', finish);
        // An answer to an oversize body may come with the body still flowing: stop writing.
        if (send.oversize) request.off('drain', pump);
      },
    );
    request.on('error', (e: NodeJS.ErrnoException) => {
      const what = e.code ? `${e.code}: ${e.message}` : e.message;
      // Our refusal of the target's certificate must not read as the target refusing ours.
      const serverCert = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(e.code ?? '');
      done({ body: new Uint8Array(0), error: serverCert ? `the target's server certificate is not accepted (${what}); check --ca and --domain` : what });
    });

    const body = send.body ?? new Uint8Array(0);
    if (!send.oversize) {
      request.end(Buffer.from(body));
      return;
    }
    // Oversize: the valid body first (so the server sees a plausible start), then filler. A
    // declared length is followed only by a first part: a server that waits for the rest shows
    // it meant to read it all. A streamed body goes on until the server answers.
    const total = send.oversize.bytes;
    const limit = send.oversize.declared ? Math.min(total, CHUNK) : total;
    const filler = Buffer.alloc(CHUNK, 0x41);
    let first = true;
    function pump(): void {
      while (!settled && sent < limit) {
        const piece = first ? Buffer.from(body) : filler.subarray(0, Math.min(CHUNK, limit - sent));
        first = false;
        sent += piece.length;
        if (!request.write(piece)) {
          request.once('drain', pump);
          return;
        }
      }
      if (!settled && sent >= total) request.end();
    }
    pump();
  });
}

/** Node's own host check, against the target domain rather than the URL's host. */
function tlsIdentityError(domain: string, cert: tls.PeerCertificate): Error | undefined {
  return tls.checkServerIdentity(domain, cert);
}
