// Issue 13's baseline for the MLS rows of `npm run bench`: ts-mls 1.6.4 exactly as published, with
// its default (WebCrypto) provider, driven through its own API the way its README does, with none
// of our patches and none of our engine. scripts/patch-ts-mls.mjs keeps that copy in
// node_modules/.ts-mls-as-published before it patches ts-mls; loaded from there, it is a separate
// module graph from the patched ts-mls the app uses.
//
// It does less than our engine per operation (no MIMI extensions or credential checks of ours, no
// session encoding), so ratios against it understate ours. The same steps as bench-mls.ts: a
// commit adding n members as a PublicMessage, encoded; an existing member decoding and processing
// it; the last joiner joining from the Welcome with the ratchet tree handed over out of band.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { benchResult, pairRates, timed, type MlsBench, type PairRates } from '../src-main/mls/bench-mls.js';

type TsMls = typeof import('ts-mls');

const COPY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../node_modules/.ts-mls-as-published');

export interface PublishedTsMls {
  version: string;
  bench(n: number): Promise<MlsBench>;
  messages(count: number): Promise<PairRates>;
  keyPackages(count: number): Promise<{ perSec: number }>;
}

/** The published ts-mls, or why it is not there. */
export async function loadPublishedTsMls(): Promise<PublishedTsMls | { missing: string }> {
  const entry = path.join(COPY, 'dist/src/index.js');
  if (!existsSync(entry)) return { missing: 'node_modules/.ts-mls-as-published is missing (`npm ci` makes it before patching ts-mls)' };
  const M = (await import(pathToFileURL(entry).href)) as TsMls;
  const { version } = (await import(pathToFileURL(path.join(COPY, 'package.json')).href, { with: { type: 'json' } })).default as { version: string };
  const cs = await M.getCiphersuiteImpl(M.getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'));
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const keyPackage = (name: string) => M.generateKeyPackage({ credentialType: 'basic', identity: utf8(name) }, M.defaultCapabilities(), M.defaultLifetime, [], cs);
  const bytes = (m: Parameters<typeof M.encodeMlsMessage>[0]) => M.encodeMlsMessage(m);
  const decode = (b: Uint8Array) => M.decodeMlsMessage(b, 0)![0];
  const addProposal = (kp: Awaited<ReturnType<typeof keyPackage>>) => ({ proposalType: 'add' as const, add: { keyPackage: kp.publicPackage } });

  /** A two-member group (owner and peer), as bench-mls.ts sets up. */
  async function twoMembers(tag: string) {
    const owner = await keyPackage(`${tag}-owner`);
    const peer = await keyPackage(`${tag}-peer`);
    const group = await M.createGroup(utf8(`bench-${tag}`), owner.publicPackage, owner.privatePackage, [], cs);
    const first = await M.createCommit({ state: group, cipherSuite: cs }, { extraProposals: [addProposal(peer)], wireAsPublicMessage: true });
    const peerState = await M.joinGroup(first.welcome!, peer.publicPackage, peer.privatePackage, M.emptyPskIndex, cs, first.newState.ratchetTree);
    return { ownerState: first.newState, peerState };
  }

  return {
    version,
    async bench(n) {
      const { ownerState, peerState } = await twoMembers('add');
      const joiners: Awaited<ReturnType<typeof keyPackage>>[] = [];
      for (let i = 0; i < n; i++) joiners.push(await keyPackage(`joiner-${i}`));
      const add = await timed(async () => {
        const r = await M.createCommit({ state: ownerState, cipherSuite: cs }, { extraProposals: joiners.map(addProposal), wireAsPublicMessage: true });
        return { commit: bytes(r.commit), welcome: bytes({ version: 'mls10', wireformat: 'mls_welcome', welcome: r.welcome! }), tree: r.newState.ratchetTree };
      });
      const processed = await timed(async () => {
        const r = await M.processMessage(decode(add.value.commit) as Parameters<typeof M.processMessage>[0], peerState, M.emptyPskIndex, M.acceptAll, cs);
        if (r.kind !== 'newState') throw new Error('the published ts-mls did not take the commit');
      });
      const joiner = joiners[n - 1];
      const join = await timed(async () => {
        const w = decode(add.value.welcome);
        if (w.wireformat !== 'mls_welcome') throw new Error('not a Welcome');
        await M.joinGroup(w.welcome, joiner.publicPackage, joiner.privatePackage, M.emptyPskIndex, cs, add.value.tree);
      });
      return benchResult(add, processed, join, add.value.commit.length, add.value.welcome.length);
    },
    async messages(count) {
      let { ownerState: sender, peerState: receiver } = await twoMembers('msg');
      const body = new Uint8Array(1024).fill(7);
      const pair = async () => {
        const sent = await M.createApplicationMessage(sender, body, cs);
        sender = sent.newState;
        const m = decode(bytes({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: sent.privateMessage }));
        if (m.wireformat !== 'mls_private_message') throw new Error('not a PrivateMessage');
        const r = await M.processPrivateMessage(receiver, m.privateMessage, M.emptyPskIndex, cs);
        if (r.kind !== 'applicationMessage') throw new Error('the published ts-mls did not decrypt the message');
        receiver = r.newState;
      };
      return pairRates(pair, count);
    },
    async keyPackages(count) {
      // One device's signature key for all of them, as our engine refills a device's stock.
      const signatureKeyPair = await cs.signature.keygen();
      const t = performance.now();
      for (let i = 0; i < count; i++) await M.generateKeyPackageWithKey({ credentialType: 'basic', identity: utf8('kp') }, M.defaultCapabilities(), M.defaultLifetime, [], signatureKeyPair, cs);
      return { perSec: count / ((performance.now() - t) / 1000) };
    },
  };
}
