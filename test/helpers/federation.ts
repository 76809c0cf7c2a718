// Several real provider processes on loopback, each with its own domain, data dir, dev CA and
// TLS identity, configured the way an operator would: `--peer DOMAIN=URL` for every other one and
// `--trust CA.pem` only for the peers it is meant to federate with.

import net from 'node:net';
import path from 'node:path';
import { ensureDevCa } from '../../src-provider/dev-ca.js';
import { restartablePort, startProviderProcess, tempDir, type ProviderProcess } from './provider-process.js';

export interface FederatedProvider extends ProviderProcess {
  /** Start again on the same data dir, port and configuration (after stop or kill9). */
  restart(): Promise<FederatedProvider>;
}

/** A TCP relay on one provider's way to another: pausing it holds that direction's requests. */
export interface Link {
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** Forwards loopback connections to `targetPort`; while paused, nothing from the caller passes. */
async function tcpLink(targetPort: number): Promise<{ port: number; link: Link }> {
  let paused = false;
  const inbound = new Set<net.Socket>();
  const server = net.createServer((client) => {
    inbound.add(client);
    if (paused) client.pause();
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => {
      inbound.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  server.unref(); // a forgotten link must not keep a test process alive
  const link: Link = {
    pause() {
      paused = true;
      for (const s of inbound) s.pause();
    },
    resume() {
      paused = false;
      for (const s of inbound) s.resume();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of inbound) s.destroy();
        server.close(() => r());
      }),
  };
  return { port: (server.address() as net.AddressInfo).port, link };
}


export interface FederationOptions {
  /**
   * The providers' --consent. Default 'open' HERE (the provider's own default is 'required'): tests
   * that are not about consent add users across providers without asking; consent tests pass
   * 'required'.
   */
  consent?: 'required' | 'open';
  /** More provider arguments for every provider, e.g. ['--search-rate', '5']. */
  args?: string[];
}

/**
 * `trust[d]` lists the domains provider `d` accepts as peers (default: all the others). Peers
 * reach each provider only through its Link (`links['b.example']`, also its --public-url, so the
 * directory points there too); its own clients connect to it directly.
 */
export async function startFederation(
  domains: string[],
  trust: Record<string, string[]> = {},
  opts: FederationOptions = {},
): Promise<Record<string, FederatedProvider> & { links: Record<string, Link> }> {
  const nodes = await Promise.all(
    domains.map(async (domain) => {
      const dataDir = tempDir(`fed-${domain}`);
      await ensureDevCa(dataDir, domain); // the CA must exist before peers can be told to trust it
      const listenPort = await restartablePort(); // restart() reuses it
      const { port: linkPort, link } = await tcpLink(listenPort);
      return { domain, dataDir, listenPort, linkPort, link };
    }),
  );
  const links: Record<string, Link> = Object.fromEntries(nodes.map((n) => [n.domain, n.link]));
  const out = { links } as Record<string, FederatedProvider> & { links: typeof links };
  await Promise.all(
    nodes.map(async (n) => {
      const others = nodes.filter((o) => o.domain !== n.domain);
      const trusted = trust[n.domain] ?? others.map((o) => o.domain);
      const args = [
        '--public-url',
        `https://127.0.0.1:${n.linkPort}`,
        ...others.flatMap((o) => ['--peer', `${o.domain}=https://127.0.0.1:${o.linkPort}`]),
        ...others.filter((o) => trusted.includes(o.domain)).flatMap((o) => ['--trust', path.join(o.dataDir, 'ca.pem')]),
        '--consent',
        opts.consent ?? 'open',
        ...(opts.args ?? []),
      ];
      // One handle per provider: after restart() its stop/kill9/child are the new process's, so
      // whoever holds the handle stops what is running.
      let fp: FederatedProvider | undefined;
      const start = async (): Promise<FederatedProvider> => {
        const p = await startProviderProcess({ domain: n.domain, dataDir: n.dataDir, port: n.listenPort, args });
        fp = fp ? Object.assign(fp, p) : Object.assign(p, { restart: start });
        out[n.domain] = fp;
        return fp;
      };
      await start();
    }),
  );
  return out;
}
