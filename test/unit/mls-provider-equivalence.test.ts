// Issue 13's provider equivalence: one group whose members run different crypto providers
// (node:crypto, the first choice; WebCrypto; pure JS) stays in sync. Every cross-provider seam is
// crossed: a Welcome sealed by one provider and opened by another, UpdatePath secrets encrypted
// by one to the HPKE keys another made, signatures made by one and checked by another, messages
// both ways, and a member's saved state restored by a different provider, which then carries on.
// "In sync" is checked as MLS itself checks it (a commit is accepted only when the receiver's key
// schedule reproduces the committer's confirmation tag; a message decrypts only under the same
// epoch secrets), and by comparing every member's view of epoch, members and extensions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { CommitOutput, DeviceKeys, GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import type { ProviderName } from '../../src-main/mls/crypto-selftest.js';
import { fromUtf8, utf8 } from '../../src-shared/bytes.js';

const ROOM = 'mimi://a.example/r/mixed';
const PROVIDERS: readonly ProviderName[] = ['node', 'webcrypto', 'noble'];

interface Member {
  name: string;
  engine: MlsEngine;
  keys: DeviceKeys;
  session: GroupSession;
}

async function engines(): Promise<Record<ProviderName, MlsEngine>> {
  const out = {} as Record<ProviderName, MlsEngine>;
  for (const p of PROVIDERS) {
    out[p] = await createMlsEngine({ forceProvider: p });
    assert.equal(out[p].provider, p);
  }
  return out;
}

const deviceUri = (name: string) => `mimi://a.example/d/${name}/1`;

/** Every member sees the same epoch, the same members at the same leaves, the same extensions. */
function assertInSync(members: Member[]): void {
  const view = (m: Member) => ({
    epoch: m.session.epoch,
    members: m.session
      .members()
      .map((x) => `${x.leafIndex}:${x.identity}`)
      .sort(),
    extensions: m.session.extensions().map((e) => `${e.type}:${Buffer.from(e.data).toString('hex')}`),
  });
  const first = view(members[0]);
  for (const m of members.slice(1)) assert.deepEqual(view(m), first, `${m.name} (${m.engine.provider}) disagrees with ${members[0].name} (${members[0].engine.provider})`);
  assert.deepEqual(first.members.map((s) => s.slice(s.indexOf(':') + 1)).sort(), members.map((m) => deviceUri(m.name)).sort());
}

/** `from` sends one message; every other member decrypts exactly it. */
async function talk(from: Member, members: Member[], text: string): Promise<void> {
  const sent = await from.session.encrypt(utf8(text));
  from.session = sent.session;
  for (const m of members) {
    if (m === from) continue;
    const { session, result } = await m.session.process(sent.message);
    assert.equal(result.kind, 'application', `${m.name} (${m.engine.provider}) could not read ${from.name} (${from.engine.provider})`);
    if (result.kind === 'application') assert.equal(fromUtf8(result.plaintext), text);
    m.session = session;
  }
}

/** The committer adopts its commit; every other member processes it and lands in the same epoch. */
async function everyoneTakes(out: CommitOutput, committer: Member, others: Member[]): Promise<void> {
  committer.session = out.pending;
  for (const m of others) {
    const { session, result } = await m.session.process(out.commit);
    assert.equal(result.kind, 'commit', `${m.name} (${m.engine.provider}) did not take ${committer.name}'s commit`);
    if (result.kind === 'commit') assert.equal(result.epoch, out.newEpoch);
    m.session = session;
  }
}

/** New members on the given providers: fresh keys and one KeyPackage each, made by their own provider. */
async function newcomers(e: Record<ProviderName, MlsEngine>, list: [string, ProviderName][]) {
  return Promise.all(
    list.map(async ([name, p]) => {
      const keys = await e[p].newDeviceKeys(deviceUri(name));
      const [kp] = await e[p].generateKeyPackages(keys, 1);
      return { name, engine: e[p], keys, kp };
    }),
  );
}

async function join(out: CommitOutput, joiners: Awaited<ReturnType<typeof newcomers>>): Promise<Member[]> {
  assert.ok(out.welcome, 'an add makes a Welcome');
  return Promise.all(joiners.map(async (j) => ({ name: j.name, engine: j.engine, keys: j.keys, session: await j.engine.joinFromWelcome(j.keys, out.welcome!, j.kp, out.ratchetTree) })));
}

/** A group created on node:crypto by `founder`, who adds one member on WebCrypto and one on pure JS. */
async function founded(e: Record<ProviderName, MlsEngine>, founder: string, [web, js]: [string, string]): Promise<Member[]> {
  const keys = await e.node.newDeviceKeys(deviceUri(founder));
  const first: Member = { name: founder, engine: e.node, keys, session: await e.node.createGroup(keys, ROOM) };
  const joiners = await newcomers(e, [
    [web, 'webcrypto'],
    [js, 'noble'],
  ]);
  const out = await first.session.add(joiners.map((j) => j.kp.publicMessage));
  first.session = out.pending;
  return [first, ...(await join(out, joiners))];
}

test('a group of members on node:crypto, WebCrypto and pure JS stays in sync: Welcomes, path updates, adds by each provider, removes, messages every way', async () => {
  const e = await engines();
  // node seals the Welcome to KeyPackages made by WebCrypto and by pure JS.
  let members = await founded(e, 'alice', ['bob', 'carol']);
  assertInSync(members);
  for (const m of members) await talk(m, members, `hello from ${m.name} on ${m.engine.provider}`);

  // Each provider commits a path update, encrypted to the HPKE keys the other two made.
  for (const m of [...members]) {
    await everyoneTakes(await m.session.update(), m, members.filter((x) => x !== m));
    assertInSync(members);
  }

  // Each provider adds members on every provider (its own KeyPackage checks, its own seals).
  for (const [adder, tag] of [
    [members[1], 'w'],
    [members[2], 'n'],
    [members[0], 'x'],
  ] as const) {
    const joiners = await newcomers(e, [
      [`${tag}-node`, 'node'],
      [`${tag}-web`, 'webcrypto'],
      [`${tag}-js`, 'noble'],
    ]);
    const out = await adder.session.add(joiners.map((j) => j.kp.publicMessage));
    await everyoneTakes(out, adder, members.filter((x) => x !== adder));
    members = [...members, ...(await join(out, joiners))];
    assertInSync(members);
  }
  assert.equal(members.length, 12);
  for (const m of members.filter((_, i) => i % 4 === 0)) await talk(m, members, `twelve of us, says ${m.name}`);

  // Removes: pure JS removes a WebCrypto member; the group rekeys without it on every provider.
  const carol = members.find((m) => m.name === 'carol')!;
  const bob = members.find((m) => m.name === 'bob')!;
  const removal = await carol.session.remove([deviceUri('bob')]);
  const stays = members.filter((m) => m !== bob);
  await everyoneTakes(removal, carol, stays.filter((m) => m !== carol));
  const seen = await bob.session.process(removal.commit);
  assert.equal(seen.result.kind === 'commit' && seen.result.selfRemoved, true, 'the removed member learns it was removed');
  members = stays;
  assertInSync(members);
  await talk(members[members.length - 1], members, 'without bob');
});

test("a member's state saved under one provider is restored by each of the others and carries on in the group", async () => {
  const e = await engines();
  let members = await founded(e, 'dana', ['eve', 'finn']);
  await talk(members[0], members, 'before the move');

  // Rotate: each member's state goes to the next provider (node -> WebCrypto -> pure JS -> node).
  for (let round = 0; round < PROVIDERS.length; round++) {
    members = members.map((m) => {
      const next = PROVIDERS[(PROVIDERS.indexOf(m.engine.provider) + 1) % PROVIDERS.length];
      return { ...m, engine: e[next], session: e[next].restore(m.session.encode()) };
    });
    assertInSync(members);
    // The restored sessions keep their ratchets (no generation reused or skipped) and their keys:
    // messages, and a path update by each, all go through.
    for (const m of members) await talk(m, members, `${m.name} now on ${m.engine.provider}, round ${round}`);
    for (const m of [...members]) await everyoneTakes(await m.session.update(), m, members.filter((x) => x !== m));
    assertInSync(members);
  }
  assert.deepEqual(
    members.map((m) => m.engine.provider),
    ['node', 'webcrypto', 'noble'],
    'three rotations bring every state back to the provider it started on',
  );
});
