// Work that one node at a time must do, shared by provider nodes over one PostgreSQL database
// (issue 17): above all the fanout to a follower domain, whose batches must leave in the hub's
// order per room, so exactly one node sends a domain's outbox rows while it lives.
//
// A lease is a session-level advisory lock held on one dedicated connection per node. It needs no
// row and no open transaction (HTTP deliveries take seconds; a transaction held that long would
// block vacuum), and it ends with the session: a node that dies, is killed -9 or loses its
// connection frees its leases at once on the server, and another node's next try takes them. Rows
// stay claimed by nobody in between: a lease says who may work, the outbox rows say what is left.
//
// The lock's key is a 64-bit number derived from a namespace and a name (SHA-256 over the
// length-prefixed namespace and the name, first 8 bytes),
// so "fanout:b.example" on every node maps to the same lock and different purposes cannot collide
// in practice.
//
// A node that loses its connection has lost every lease even if it does not know yet: the manager
// emits 'lost' at once and workers must stop before a new connection tries again (the other nodes
// may have taken over meanwhile).

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';

/** The advisory lock key for `namespace` + `name`: a signed 64-bit integer as PostgreSQL wants it. */
export function leaseKey(namespace: string, name: string): bigint {
  // The namespace's length first, so no namespace/name pair reads as another.
  const ns = Buffer.from(namespace, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(ns.length);
  const h = createHash('sha256').update(len).update(ns).update(name, 'utf8').digest();
  return h.readBigInt64BE(0);
}

export interface LeaseEvents {
  /** The connection went away: every lease of this node is gone (names given). */
  lost: [names: string[]];
}

export class LeaseManager extends EventEmitter<LeaseEvents> {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly held = new Set<string>();
  /** One query at a time on the lease connection: keeps a try and a release in order. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly opts: { url: string; namespace: string; name?: string; log?: (line: string) => void },
  ) {
    super();
  }

  /** The names this node holds now. */
  get names(): string[] {
    return [...this.held];
  }

  holds(name: string): boolean {
    return this.held.has(name);
  }

  /** Takes the lease on `name` if no node holds it (true), without waiting. Holding it already: true. */
  tryAcquire(name: string): Promise<boolean> {
    return this.serial(async () => {
      if (this.held.has(name)) return true;
      const c = await this.connection();
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [leaseKey(this.opts.namespace, name).toString()]);
      const ok = r.rows[0]?.ok === true;
      if (ok) this.held.add(name);
      return ok;
    });
  }

  /** Gives the lease on `name` back (another node may take it at once). */
  release(name: string): Promise<void> {
    return this.serial(async () => {
      if (!this.held.delete(name) || !this.client) return;
      await this.client.query('SELECT pg_advisory_unlock($1)', [leaseKey(this.opts.namespace, name).toString()]);
    });
  }

  /** Ends the session: the server frees every lease. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    this.held.clear();
    await c?.end().catch(() => undefined);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('lease manager closed'));
    if (this.client) return Promise.resolve(this.client);
    return (this.connecting ??= (async () => {
      const c = new pg.Client({ connectionString: this.opts.url, application_name: this.opts.name ?? 'mimi-leases' });
      const gone = (why: string) => this.lost(c, why);
      c.on('error', (e) => gone(e.message));
      c.on('end', () => gone('connection ended'));
      try {
        await c.connect();
      } finally {
        this.connecting = undefined;
      }
      this.client = c;
      return c;
    })());
  }

  private lost(c: pg.Client, why: string): void {
    if (this.client !== c) return;
    this.client = undefined;
    const names = [...this.held];
    this.held.clear();
    void c.end().catch(() => undefined);
    if (names.length > 0) this.opts.log?.(`leases: connection lost (${why}); gave up ${names.join(', ')}`);
    this.emit('lost', names);
  }
}
