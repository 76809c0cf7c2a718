// KeyPackages of another provider's users: over Oblivious HTTP (docs/ohttp-key-packages.md)
// against the hub's /keyMaterial claim, in the same run, on two real provider processes.
//
// a.example (alice's provider, the relay and the room's hub) and b.example (the users' provider,
// the gateway) run as processes, `--consent open` so the figures are the fetch, not consent. Each
// seeded user of b.example has one device with KeyPackages. Per user, sequentially:
//   /keyMaterial: POST /v1/keyPackages/claim {roomUri, users: [u]} at a.example, which signs a
//     KeyMaterialRequest and asks b.example over mutual TLS;
//   OHTTP: a token already in hand, the client encapsulates a binary HTTP request to b.example's
//     gateway key, a.example relays it, b.example opens it, checks and spends the token, hands out
//     the KeyPackage with its vouch and seals the answer; the client opens it.
//   token issuance (once per contact, at discovery): the two finds that name the token key and
//     return blind-signed tokens.
// Alone: `npx tsx scripts/bench-ohttp.ts [USERS]`.

import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createMlsEngine } from '../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { ProviderClient } from '../src-main/net/provider-client.js';
import { decodeResponse, encodeRequest, header } from '../src-shared/bhttp.js';
import { fromB64, toB64 } from '../src-shared/bytes.js';
import { newRoomUri } from '../src-shared/identifiers.js';
import { decodeKeyPackageResponseList, encodeKeyPackageRequest, MLS10 } from '../src-shared/key-package-request.js';
import { requestTokens } from '../src-shared/key-package-tokens.js';
import { decodeOhttpKeysEntry, VOUCHES_HEADER } from '../src-shared/key-package-vouch.js';
import { decapsulateResponse, decodeKeyConfigs, encapsulateRequest } from '../src-shared/ohttp.js';
import { ensureDevCa } from '../src-provider/dev-ca.js';
import { seedUsers } from './bench-federation.js';
import { freePort, startProviderProcess, tempDir, type ProviderProcess } from '../test/helpers/provider-process.js';

export interface OhttpFigures {
  users: number;
  /** Median per user, ms. */
  keyMaterialMs: number;
  ohttpMs: number;
  issuanceMs: number;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

export async function benchOhttp(engine: MlsEngine, users: number): Promise<OhttpFigures> {
  const dirs = { a: tempDir('bench-ohttp-a'), b: tempDir('bench-ohttp-b') };
  const ports = { a: await freePort(), b: await freePort() };
  await ensureDevCa(dirs.a, 'a.example');
  await ensureDevCa(dirs.b, 'b.example');
  // Two users per timed fetch (one for each path) and a warm-up user for each.
  const seeded = await seedUsers(engine, dirs.b, 'b.example', 2 * users + 2);
  const url = (p: number) => `https://127.0.0.1:${p}`;
  const procs: ProviderProcess[] = [];
  let client: ProviderClient | undefined;
  try {
    procs.push(await startProviderProcess({ domain: 'b.example', dataDir: dirs.b, port: ports.b, args: ['--peer', `a.example=${url(ports.a)}`, '--trust', path.join(dirs.a, 'ca.pem'), '--consent', 'open', '--token-rate', '100000', '--search-rate', '100000'] }));
    procs.push(await startProviderProcess({ domain: 'a.example', dataDir: dirs.a, port: ports.a, args: ['--peer', `b.example=${url(ports.b)}`, '--trust', path.join(dirs.b, 'ca.pem'), '--consent', 'open', '--search-rate', '100000'] }));
    const a = procs[1];
    client = new ProviderClient({ baseUrl: a.url, caPem: a.caPem });
    await client.register({ handle: 'ohttp-alice', password: 'bench-password', deviceName: 'bench' });
    const roomUri = newRoomUri('a.example');
    await client.createRoom({ roomUri });
    const c = client;

    const entry = decodeOhttpKeysEntry(fromB64((await c.ohttpKeys('b.example')).entry));
    const [config] = decodeKeyConfigs(entry.keyConfigs);
    const issue = async (target: string): Promise<Uint8Array> => {
      const handle = target.split('/').pop()!;
      const found = await c.find({ handle: `${handle}@b.example` });
      const key = found.tokenKeys?.find((k) => k.userUri === target);
      if (!key) throw new Error(`no token key for ${target}: ${JSON.stringify(found)}`);
      const asked = await requestTokens('b.example', target, fromB64(key.tokenKey), 1);
      const answer = await c.find({ handle: `${handle}@b.example`, tokenRequest: { target, tokenRequests: toB64(asked.requests) } });
      if (answer.tokenResponse?.status !== 'issued') throw new Error(`tokens for ${target}: ${JSON.stringify(answer.tokenResponse)}`);
      return (await asked.finalize(fromB64(answer.tokenResponse.tokenResponses!)))[0];
    };
    const overOhttp = async (target: string, token: Uint8Array): Promise<void> => {
      const content = encodeKeyPackageRequest({ userId: target, bearerToken: token, version: MLS10, cipherSuite: 1 });
      const { encapsulated, context } = await encapsulateRequest(config, encodeRequest({ method: 'POST', scheme: 'https', authority: 'b.example', path: '/keyPackage', headers: [['content-type', 'application/mimi']], content, trailers: [] }));
      const res = decodeResponse(decapsulateResponse(context, fromB64((await c.ohttpRelay('b.example', { request: toB64(encapsulated) })).response)));
      if (res.status !== 200 || decodeKeyPackageResponseList(res.content).length !== 1 || !header(res.headers, VOUCHES_HEADER)) throw new Error(`OHTTP fetch of ${target}: HTTP ${res.status}`);
    };
    const claim = async (target: string): Promise<void> => {
      const r = await c.claim({ roomUri, users: [target] });
      if (r.results[0]?.status !== 'success') throw new Error(`claim of ${target}: ${JSON.stringify(r.results[0])}`);
    };

    // Warm-up, untimed: TLS sessions and directory lookups are set up once, for both paths.
    await claim(seeded.pop()!);
    const warm = seeded.pop()!;
    await overOhttp(warm, await issue(warm));

    const km: number[] = [];
    const oh: number[] = [];
    const iss: number[] = [];
    for (let i = 0; i < users; i++) {
      const [u1, u2] = [seeded[2 * i], seeded[2 * i + 1]];
      let t = performance.now();
      await claim(u1);
      km.push(performance.now() - t);
      t = performance.now();
      const token = await issue(u2);
      iss.push(performance.now() - t);
      t = performance.now();
      await overOhttp(u2, token);
      oh.push(performance.now() - t);
    }
    return { users, keyMaterialMs: median(km), ohttpMs: median(oh), issuanceMs: median(iss) };
  } finally {
    client?.close();
    for (const p of procs.reverse()) await p.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const users = Number(process.argv[2] ?? 50);
  const f = await benchOhttp(await createMlsEngine(), users);
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(`KeyPackage of a b.example user, ${f.users} users, median per user:`);
  console.log(`  /keyMaterial claim through the hub:        ${ms(f.keyMaterialMs)}`);
  console.log(`  over OHTTP (token in hand), relayed by a:  ${ms(f.ohttpMs)}  (${(f.ohttpMs / f.keyMaterialMs).toFixed(2)}× the claim)`);
  console.log(`  token issuance at discovery (two finds):   ${ms(f.issuanceMs)}`);
}
