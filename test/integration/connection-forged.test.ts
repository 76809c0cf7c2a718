// Forged and replayed identity disclosures in the connection flow, across two real provider
// processes, on the real core: mallory (b.example) copies alice's genuine request into a bootstrap
// room of her own, and sends one that claims alice's device but is signed by another key. bob's
// app keeps each as an unverified request, with the reason, and refuses to accept it; alice's
// genuine request stays verified. The device cores run in this process; the providers do not.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { fromB64 } from '../../src-shared/bytes.js';
import { connectionRequestContent, createConnectionRequest } from '../../src-shared/connection-request.js';
import type { ConnectionsView } from '../../src-shared/contract.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { waitFor } from '../helpers/provider-process.js';
import { withProviderDb } from '../helpers/provider-db.js';
import path from 'node:path';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const links: Link[] = [];
const keep: Profile[] = [];
let alice: Profile;
let bob: Profile;
let mallory: Profile;

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example'], {}, { consent: 'required' });
  A = f['a.example'];
  B = f['b.example'];
  links.push(f.links['a.example'], f.links['b.example']);
  const o = { engine, keep, dirPrefix: 'forged' };
  [alice, bob, mallory] = await Promise.all([testProfile(A, 'alice', o), testProfile(B, 'bob', o), testProfile(A, 'mallory', o)]);
});
after(async () => {
  for (const p of keep) await p.close().catch(() => undefined);
  await A?.stop();
  await B?.stop();
  for (const l of links) await l.close();
});

/** Internals the attack needs: the core's own outbox, database and keys (a tampered client has them). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const inside = (p: Profile): any => p as any;

const incoming = (id: string) => bob.connectionList().incoming.find((c) => c.id === id);

test('a replayed and a forged disclosure show as unverified with their reason, and cannot be accepted; the genuine one is verified', async () => {
  const genuine = (await alice.connect('bob@b.example')).outgoing.at(-1)!.id;
  await waitFor(() => incoming(genuine) !== undefined, 'the genuine request at bob', 30000);
  assert.equal(incoming(genuine)!.verified, true, incoming(genuine)!.problem);
  assert.equal(incoming(genuine)!.peer, alice.config.userUri);
  const stored = inside(bob).ctx.db.connection(genuine);
  const request = fromB64(JSON.parse(Buffer.from(stored.details).toString('utf8')).request);

  // Replayed: alice's genuine bytes, sent by mallory into a bootstrap room of her own with bob in it.
  const replay = await newBootstrap();
  await inside(mallory).outbox.sendContent(replay.roomUri, (me: string) => connectionRequestContent({ senderUri: me, roomUri: replay.roomUri, request }));
  await waitFor(() => incoming(replay.roomUri) !== undefined, 'the replay at bob', 30000);
  const replayed = incoming(replay.roomUri)!;
  assert.equal(replayed.verified, false);
  assert.match(replayed.problem!, /^wrongRoom: /);
  assert.notEqual(replayed.peer, alice.config.userUri, 'a copied disclosure does not make its sender alice');
  await assert.rejects(bob.acceptConnection(replay.roomUri), /could not be verified/);

  // Forged: a fresh request that names alice's device but is signed by another key.
  const room = await newBootstrap();
  const forger = await engine.newDeviceKeys(alice.config.deviceUri);
  const second = (await inside(mallory).pool.takeOrRefill()) as { row: { userPseudonym: string; clientPseudonym: string }; keys: unknown };
  const kps = await engine.generateKeyPackages(second.keys as never, 1, { connectionOnly: true });
  const forged = createConnectionRequest({
    bootstrapRoom: room.roomUri,
    bootstrapPseudonym: room.pseudonym,
    connectionPseudonym: second.row.userPseudonym,
    device: { identity: alice.config.deviceUri, signaturePublicKey: forger.signaturePublicKey, signaturePrivateKey: forger.signaturePrivateKey },
    keyPackages: kps.map((k) => k.publicMessage),
  });
  await inside(mallory).outbox.sendContent(room.roomUri, (me: string) => connectionRequestContent({ senderUri: me, roomUri: room.roomUri, request: forged }));
  await waitFor(() => incoming(room.roomUri) !== undefined, 'the forged request at bob', 30000);
  const seen = incoming(room.roomUri)!;
  assert.equal(seen.verified, false);
  assert.match(seen.problem!, /key other than the one this device saw/);
  await assert.rejects(bob.acceptConnection(room.roomUri), /could not be verified/);
  const list: ConnectionsView = bob.connectionList();
  assert.equal(list.incoming.find((c) => c.id === genuine)!.verified, true, 'the genuine request is untouched');
  assert.equal(list.incoming.length, 3);

  /** A bootstrap room of mallory's with bob in it and no request sent (the tampered client's own). */
  async function newBootstrap(): Promise<{ roomUri: string; pseudonym: string }> {
    const { row, keys } = await inside(mallory).pool.takeOrRefill();
    const view = await inside(mallory).membership.createRoom('', 'moderated', { keys, userPseudonym: row.userPseudonym }, 'forged');
    inside(mallory).pool.noteRoom(row.userPseudonym, view.roomUri);
    await inside(mallory).membership.addMember(view.roomUri, 'bob@b.example');
    return { roomUri: view.roomUri, pseudonym: row.userPseudonym };
  }
});

test('an unanswered request expires: its bootstrap room is destroyed at its hub and the request says so', async () => {
  const id = (await alice.connect('bob@b.example')).outgoing.at(-1)!.id;
  await waitFor(() => incoming(id) !== undefined, 'the request at bob', 30000);
  const row = inside(alice).ctx.db.connection(id);
  const details = JSON.parse(Buffer.from(row.details).toString('utf8')) as { destroyAt: number };
  assert.ok(details.destroyAt > Date.now() + 6 * 24 * 3600 * 1000, 'unanswered, it lasts as long as a request is accepted (7 days)');
  // Seven days later (the stored deadline moved back instead of the clock moved forward):
  inside(alice).ctx.db.putConnection({ ...row, details: Buffer.from(JSON.stringify({ ...details, destroyAt: Date.now() - 1 })) });
  await alice.runDueWork();
  const out = alice.connectionList().outgoing.find((c) => c.id === id)!;
  assert.equal(out.state, 'failed');
  assert.match(out.problem!, /expired/);
  const left = withProviderDb(A.dataDir, (db) => db.prepare('SELECT count(*) AS n FROM rooms WHERE room_uri = ?').get(id) as { n: number });
  assert.equal(left.n, 0, 'the hub kept nothing of the bootstrap room');
});
