// What the hub's signature and tree checks (src-shared/mls-verify.ts) cost its commit acceptance,
// for `npm run bench`: a Hub in-process over a real Store, a room of `members` members, and a run
// of path-update commits by its creator. Each commit's acceptance (hub.commit, checks included) is
// timed, and on the same bundle, just before, exactly the checks the hub makes: the GroupInfo and
// tree (tree hash, parent hashes, GroupInfo signature), the Commit's signature against the stored
// epoch, and the signatures of the leaves the commit changes (the committer's). Acceptance without them is the difference, so both figures come from the same run.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MlsEngine } from '../src-main/mls/engine.js';
import { deviceUri, userUri } from '../src-shared/identifiers.js';
import { decodeRatchetTree } from '../src-shared/mls-structs.js';
import { Hub } from '../src-provider/hub.js';
import { groupInfoOf, publicMessageOf, verifyGroupInfoAndTree, verifyHandshake, verifyNewLeaves } from '../src-provider/hub/mls-input.js';
import { Store } from '../src-provider/store.js';

export interface HubVerifyFigures {
  members: number;
  commits: number;
  /** Median hub.commit time, the checks included. */
  acceptMs: number;
  /** Median time of the checks alone. */
  verifyMs: number;
  /** acceptMs - verifyMs: what accepting the commit costs without the checks. */
  withoutMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchHubVerify(engine: MlsEngine, members = 20, commits = 30): Promise<HubVerifyFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-bench-verify-'));
  const store = new Store(path.join(dir, 'provider.sqlite'));
  try {
    const domain = 'bench.example';
    const hub = new Hub({ store, domain });
    const actors = Array.from({ length: members }, (_, i) => ({ userUri: userUri(domain, `u${i}`), deviceUri: deviceUri(domain, `u${i}`, 'd1') }));
    for (const [i, a] of actors.entries()) store.insertUser(`u${i}`, a.userUri, 'x', Date.now());
    const [owner, ...others] = actors;
    const roomUri = `mimi://${domain}/r/verify-bench`;
    let session = await engine.createGroup(await engine.newDeviceKeys(owner.deviceUri), roomUri);
    hub.createRoom(owner, roomUri, await session.groupInfo());
    // Everyone else in one commit, with KeyPackages recorded as claimed for the room (what the
    // claim endpoint would have done).
    const kps = [];
    for (const a of others) {
      const [kp] = await engine.generateKeyPackages(await engine.newDeviceKeys(a.deviceUri), 1);
      store.recordClaim(kp.ref, roomUri, a.deviceUri, owner.userUri, Date.now());
      kps.push(kp.publicMessage);
    }
    const added = await session.add(kps);
    hub.commit(owner, roomUri, { ...added, addUsers: others.map((a) => a.userUri), requestId: 'bench-add' });
    session = added.pending;

    const accept: number[] = [];
    const verify: number[] = [];
    for (let i = 0; i < commits; i++) {
      const out = await session.update();
      const room = store.room(roomUri)!;
      const t0 = performance.now();
      const info = groupInfoOf(out.groupInfo, 'groupInfo');
      const tree = decodeRatchetTree(out.ratchetTree);
      verifyGroupInfoAndTree(info, tree);
      verifyHandshake(room, publicMessageOf(out.commit, 'commit'), 'commit');
      verifyNewLeaves(room.ratchet_tree, tree, info.groupContext.groupId);
      const t1 = performance.now();
      hub.commit(owner, roomUri, { ...out, requestId: `bench-${i}` });
      const t2 = performance.now();
      verify.push(t1 - t0);
      accept.push(t2 - t1);
      session = out.pending;
    }
    const acceptMs = median(accept);
    const verifyMs = median(verify);
    return { members, commits, acceptMs, verifyMs, withoutMs: acceptMs - verifyMs };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `npx tsx scripts/bench-hub-verify.ts [members] [commits]` runs it alone.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const { createMlsEngine } = await import('../src-main/mls/ts-mls-engine.js');
  const r = await benchHubVerify(await createMlsEngine(), Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 30));
  console.log(
    `${r.members}-member room, ${r.commits} path-update commits (medians): accepted with checks ${r.acceptMs.toFixed(2)} ms, ` +
      `checks alone ${r.verifyMs.toFixed(2)} ms, without ${r.withoutMs.toFixed(2)} ms; ratio with / without ${(r.acceptMs / r.withoutMs).toFixed(2)}`,
  );
}
