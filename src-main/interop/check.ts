// `mimi interop check`: runs the probes of probes.ts against another provider over mutual TLS and
// turns each into a row: what draft-ietf-mimi-protocol-06 requires, what came back, and PASS /
// FAIL / WARN / SKIP. The probes are pure; this file holds the run's state (the directory it read,
// the room epoch it learned) and the one-off identities it needs.

import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDevCa, issueClientCertificate } from '../../src-provider/dev-ca.js';
import type { Exchange } from './answers.js';
import { allProbes, fillTemplate, type Context, type Probe, type Send, type Verdict } from './probes.js';
import { defaultGroupId } from './requests.js';
import { exchange, type TransportOptions } from './transport.js';

export interface CheckOptions {
  /** The target provider's base URL (where its /.well-known/mimi-protocol-directory is). */
  url: string;
  /** The target's domain (Host header, server certificate name); default: the URL's host. */
  targetDomain?: string;
  /** The domain to act as; default: the first DNS name of the client certificate. */
  asDomain?: string;
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  room?: string;
  /** The MLS group ID of --room; default: its URI as UTF-8 (this project's convention). */
  groupId?: Uint8Array;
  user?: string;
  timeoutMs?: number;
  /** Run only probes whose id starts with one of these. */
  only?: string[];
}

export interface Row {
  id: string;
  endpoint: string;
  section: string;
  requirement: string;
  level: 'must' | 'should';
  result: Verdict;
  got: string;
}

/** The DNS names a certificate is for. */
export function certificateDomains(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(', ')
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4).toLowerCase());
}

/**
 * A client certificate for `domain` from a CA made up on the spot, which no provider trusts: the
 * untrusted-client-cert probe. Made in a temporary directory that is removed again.
 */
async function untrustedIdentity(domain: string): Promise<{ certPem: string; keyPem: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-interop-untrusted-'));
  try {
    const ca = await ensureDevCa(dir, domain);
    return await issueClientCertificate(ca, domain);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function resolveUrl(base: URL, send: Send, ctx: Context): URL | string {
  if (send.path !== undefined) return new URL(send.path, base);
  const template = ctx.directory?.[send.endpoint!];
  if (template === undefined) return ctx.directory ? `the directory names no ${send.endpoint} endpoint` : 'no directory was read (see directory.present)';
  try {
    return new URL(fillTemplate(template, send.param ?? ''));
  } catch (e) {
    return `the directory's ${send.endpoint} URL is unusable: ${(e as Error).message}`;
  }
}

function row(p: Probe, result: Verdict, got: string): Row {
  return { id: p.id, endpoint: p.endpoint, section: p.section, requirement: p.requirement, level: p.level, result, got };
}

async function runProbe(p: Probe, base: URL, ctx: Context, transport: TransportOptions): Promise<Row> {
  let plan: Send[] | string;
  try {
    plan = p.plan(ctx);
  } catch (e) {
    return row(p, 'FAIL', `the kit could not build the request: ${(e as Error).message}`);
  }
  if (typeof plan === 'string') return row(p, 'SKIP', plan);
  const exchanges: Exchange[] = [];
  for (const send of plan) {
    const url = resolveUrl(base, send, ctx);
    if (typeof url === 'string') return row(p, 'SKIP', url);
    exchanges.push(await exchange(url, send, transport));
  }
  const j = p.judge(exchanges, ctx);
  if ('skip' in j) return row(p, 'SKIP', j.skip);
  return row(p, j.ok ? 'PASS' : p.level === 'must' ? 'FAIL' : 'WARN', j.got);
}

/** Runs every probe in order; `onRow` sees each row as it is decided. */
export async function runCheck(o: CheckOptions, onRow?: (r: Row) => void): Promise<Row[]> {
  const base = new URL(o.url);
  if (base.protocol !== 'https:') throw new Error(`the target URL must be https, not ${base.protocol}`);
  if ((o.certPem === undefined) !== (o.keyPem === undefined)) throw new Error('--cert and --key go together');
  const targetDomain = (o.targetDomain ?? base.hostname).toLowerCase();
  const asDomain = (o.asDomain ?? (o.certPem ? certificateDomains(o.certPem)[0] : undefined) ?? 'interop-probe.invalid').toLowerCase();
  if (o.certPem && !certificateDomains(o.certPem).includes(asDomain)) {
    throw new Error(`the client certificate is for ${certificateDomains(o.certPem).join(', ') || 'no DNS name'}, not ${asDomain} (--as)`);
  }
  const transport: TransportOptions = {
    targetDomain,
    asDomain,
    caPem: o.caPem,
    ours: o.certPem && o.keyPem ? { certPem: o.certPem, keyPem: o.keyPem } : undefined,
    untrusted: await untrustedIdentity(asDomain),
    timeoutMs: o.timeoutMs,
  };
  const ctx: Context = {
    target: targetDomain,
    as: asDomain,
    nonce: randomBytes(6).toString('hex'),
    authenticated: transport.ours !== undefined,
    room: o.room,
    groupId: o.room ? (o.groupId ?? defaultGroupId(o.room)) : undefined,
    user: o.user,
  };
  const rows: Row[] = [];
  for (const p of allProbes()) {
    const r = o.only && !o.only.some((prefix) => p.id.startsWith(prefix)) && !p.id.startsWith('directory.') ? null : await runProbe(p, base, ctx, transport);
    if (!r) continue;
    rows.push(r);
    onRow?.(r);
  }
  return rows;
}
