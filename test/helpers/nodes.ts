// A provider as several node processes on one PostgreSQL database (issue 17), and the TCP load
// balancer that clients and peers reach them through.
//
// Every node gets the same --data folder, so all of them serve the provider's one TLS and
// federation identity (its dev CA and certificates), as copies would in production; the state is in
// PostgreSQL (--database), none in the folder.

import net from 'node:net';
import { restartablePort, startProviderProcess, type ProviderProcess } from './provider-process.js';

export interface ProviderNode extends ProviderProcess {
  nodeId: string;
  /** Starts this node again (same port, data folder and arguments) after kill9 or stop. */
  restart(): Promise<ProviderNode>;
  /** False between kill9/stop and restart. */
  running: boolean;
}

/** Starts `nodeIds.length` nodes of provider `domain` on database `url`, each on its own port. */
export async function startNodes(opts: { domain: string; dataDir: string; url: string; nodeIds: string[]; args?: string[] }): Promise<ProviderNode[]> {
  const nodes: ProviderNode[] = [];
  // One at a time: the first creates the dev CA and identity in the shared folder, the others read them.
  for (const nodeId of opts.nodeIds) {
    const port = await restartablePort();
    const start = async (): Promise<ProviderProcess> =>
      startProviderProcess({ domain: opts.domain, dataDir: opts.dataDir, port, args: ['--database', opts.url, '--node-id', nodeId, ...(opts.args ?? [])] });
    let current = await start();
    const node: ProviderNode = Object.assign({}, current, {
      nodeId,
      running: true,
      async kill9() {
        node.running = false;
        await current.kill9();
      },
      async stop() {
        node.running = false;
        await current.stop();
      },
      async restart() {
        current = await start();
        Object.assign(node, { child: current.child, output: current.output, url: current.url });
        node.running = true;
        return node;
      },
    });
    nodes.push(node);
  }
  return nodes;
}

export interface Balancer {
  port: number;
  url: string;
  /** Connections forwarded to each backend port so far. */
  forwarded: Map<number, number>;
  close(): Promise<void>;
}

/**
 * A TCP load balancer on loopback: each connection goes to the first of `ports()` (tried from
 * `preferred` on, round the list) that accepts it. TLS passes through untouched, so the client
 * sees the node's own certificate, as behind a layer-4 balancer. A node killed ends its
 * connections; the client's reconnect lands on the next live node.
 */
export async function balancer(ports: () => number[], preferred = 0): Promise<Balancer> {
  const open = new Set<net.Socket>();
  const forwarded = new Map<number, number>();
  const connectFirst = (list: number[], i: number, done: (s: net.Socket | undefined) => void) => {
    if (i >= list.length) return done(undefined);
    const s = net.connect(list[i], '127.0.0.1');
    s.once('connect', () => {
      s.removeAllListeners('error');
      forwarded.set(list[i], (forwarded.get(list[i]) ?? 0) + 1);
      done(s);
    });
    s.once('error', () => connectFirst(list, i + 1, done));
  };
  const server = net.createServer((client) => {
    open.add(client);
    client.pause();
    client.on('error', () => client.destroy());
    const all = ports();
    const order = all.map((_, k) => all[(preferred + k) % all.length]);
    connectFirst(order, 0, (upstream) => {
      if (!upstream || client.destroyed) {
        upstream?.destroy();
        client.destroy();
        open.delete(client);
        return;
      }
      open.add(upstream);
      // As a layer-4 balancer would: forward each write at once. With Nagle's algorithm on both
      // hops, small TLS records wait for delayed ACKs and every round trip gains ~20-40 ms.
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      const end = () => {
        open.delete(client);
        open.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('error', end).on('close', end);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  server.unref();
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    forwarded,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}
