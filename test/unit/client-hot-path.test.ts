// The client's message hot path (send -> decrypted at the recipient, issue 13's round trip): what
// was cut from it keeps its guarantees. scripts/bench-rtt.ts measures the time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import { GroupSessions, roomStateOf } from '../../src-main/core/group-sessions.js';
import { IncomingEvents } from '../../src-main/core/incoming.js';
import { Outbox } from '../../src-main/core/outbox.js';
import { Receipts } from '../../src-main/core/receipts.js';
import type { MessageView } from '../../src-shared/contract.js';
import { encodeMessageStatusReport, MessageStatus } from '../../src-shared/message-status.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';
import { Serial } from '../../src-main/core/serial.js';
import { nodeCiphersuite, syncVerifyCount, verifyingInPlace } from '../../src-main/mls/node-crypto-suite.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import type { RoomCommits } from '../../src-main/core/room-commits.js';
import type { KeyPackages } from '../../src-main/core/key-packages.js';
import { encodeContent, messageId, textMessage } from '../../src-shared/content.js';
import { frankAad, FRANKING_INTEGRITY_LABEL, frankingIntegrityTbs, frankingTag, frankProblem, makeFrank } from '../../src-shared/franking.js';
import { verifyWithLabelFast } from '../../src-shared/labelled-signature-node.js';
import { generateSignatureKeyPair, signWithLabel, verifyWithLabel } from '../../src-shared/mls-crypto.js';
import { basicCredential } from '../../src-shared/mls-structs.js';
import { encodeRoomStateExtension, initialRoomState, ROOM_STATE_EXTENSION_TYPE } from '../../src-shared/room-state.js';
import { utf8 } from '../../src-shared/bytes.js';
import { tempDir } from '../helpers/provider-process.js';

const ROOM = 'mimi://a.example/r/lunch';
const ALICE = 'mimi://a.example/u/alice';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

async function freshDb(tag: string): Promise<ProfileDb> {
  const db = new ProfileDb(path.join(tempDir(tag), 'mimi.db'), await Vault.open(memoryStore()));
  db.insertRoom({ roomUri: ROOM, name: 'Lunch', hubDomain: 'a.example', epoch: 0n, groupState: utf8('state 0') });
  return db;
}

test('the profile database prepares each statement once, not at every call', async (t) => {
  const db = await freshDb('hot-path-prep');
  t.after(() => db.close());
  const proto = Database.prototype as unknown as { prepare: (...a: unknown[]) => unknown };
  const prepare = proto.prepare;
  let prepared = 0;
  proto.prepare = function (this: unknown, ...a: unknown[]) {
    prepared++;
    return prepare.apply(this, a);
  };
  try {
    db.getRoom(ROOM);
    db.setMeta('cursor', '1');
    const first = prepared;
    for (let i = 2; i < 50; i++) {
      assert.equal(db.getRoom(ROOM)?.name, 'Lunch');
      db.setMeta('cursor', String(i));
      assert.equal(db.getMeta('cursor'), String(i));
    }
    // getMeta was new in the loop: one statement more, whatever the number of calls.
    assert.equal(prepared, first + 1, 'statements were prepared again for every call');
  } finally {
    proto.prepare = prepare;
  }
});

test('frank signatures on node:crypto: the same bytes as @noble signing, the same verdict as @noble verifying, on a good frank and every forgery', () => {
  const salt = randomBytes(16);
  const applicationData = encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, salt, text: 'lunch at noon' }));
  const tag = frankingTag(salt, applicationData);
  const agentKeys = generateSignatureKeyPair();
  const agent = { frankingSignatureKey: agentKeys.publicKey, credential: basicCredential('mimi://a.example') };
  const context = { senderUri: ALICE, roomUri: ROOM, acceptedTimestamp: 1_700_000_000_000n };
  const frank = makeFrank({ hubKey: randomBytes(32), frankingPrivateKey: agentKeys.privateKey, ciphersuite: 1, tag, context });
  const good = { frank, context, groupCiphersuite: 1, agent, hubDomain: 'a.example', authenticatedData: frankAad(tag), applicationData, salt, sender: ALICE, contentSender: ALICE, contentRoom: ROOM, roomUri: ROOM };
  // S + L: the same signature with a non-canonical scalar, which strict RFC 8032 verification refuses.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const sig = frank.frankingIntegritySignature;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  s += L;
  const malleable = sig.slice();
  for (let i = 32; i < 64; i++) {
    malleable[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  const flipped = sig.slice();
  flipped[5] ^= 1;
  const cases: [string, typeof good][] = [
    ['good', good],
    ['altered content', { ...good, applicationData: encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, salt, text: 'lunch at one' })) }],
    ['another sender', { ...good, sender: 'mimi://b.example/u/mallory' }],
    ['another room', { ...good, contentRoom: 'mimi://a.example/r/other' }],
    ['another time', { ...good, context: { ...context, acceptedTimestamp: context.acceptedTimestamp + 1n } }],
    ['another server frank', { ...good, frank: { ...frank, serverFrank: randomBytes(32) } }],
    ['a flipped signature bit', { ...good, frank: { ...frank, frankingIntegritySignature: flipped } }],
    ['a non-canonical signature', { ...good, frank: { ...frank, frankingIntegritySignature: malleable } }],
    ['a short signature', { ...good, frank: { ...frank, frankingIntegritySignature: sig.subarray(0, 63) } }],
    ['another agent key', { ...good, agent: { ...agent, frankingSignatureKey: generateSignatureKeyPair().publicKey } }],
    ['a malformed agent key', { ...good, agent: { ...agent, frankingSignatureKey: new Uint8Array(31) } }],
    ['another agent', { ...good, agent: { ...agent, credential: basicCredential('mimi://evil.example') } }],
    ['another cipher suite', { ...good, groupCiphersuite: 2 }],
    ['no tag', { ...good, authenticatedData: new Uint8Array() }],
  ];
  // Signing: Ed25519 is deterministic, so OpenSSL's signature is @noble's, byte for byte.
  const tbs = frankingIntegrityTbs(frank.serverFrank, 1, context);
  assert.deepEqual(frank.frankingIntegritySignature, signWithLabel(agentKeys.privateKey, FRANKING_INTEGRITY_LABEL, tbs));
  // Verifying: the same answer as the pure-JS check for every case (the S + L one included).
  for (const [what, p] of cases) {
    const want = verifyWithLabel(p.agent.frankingSignatureKey, FRANKING_INTEGRITY_LABEL, frankingIntegrityTbs(p.frank.serverFrank, p.frank.frankingSignatureCiphersuite, p.context), p.frank.frankingIntegritySignature);
    const got = verifyWithLabelFast(p.agent.frankingSignatureKey, FRANKING_INTEGRITY_LABEL, frankingIntegrityTbs(p.frank.serverFrank, p.frank.frankingSignatureCiphersuite, p.context), p.frank.frankingIntegritySignature);
    assert.equal(got, want, what);
  }
  assert.equal(frankProblem(good), undefined);
  assert.match(frankProblem(cases[7][1])!, /integrity signature/, 'a non-canonical signature is refused');
  assert.match(frankProblem(cases[6][1])!, /integrity signature/);
});

test('processing an application message checks its lone signature in place; other checks go to the thread pool', async () => {
  const suite = nodeCiphersuite();
  const { signKey, publicKey } = await suite.signature.keygen();
  const msg = utf8('framed content');
  const sig = await suite.signature.sign(signKey, msg);
  const bad = sig.slice();
  bad[0] ^= 1;
  let before = syncVerifyCount();
  assert.equal(await verifyingInPlace(() => suite.signature.verify(publicKey, msg, sig)), true);
  assert.equal(syncVerifyCount(), before + 1, 'the message’s verification went to the pool');
  assert.equal(await verifyingInPlace(() => suite.signature.verify(publicKey, msg, bad)), false);
  before = syncVerifyCount();
  // Started together, even while a message is processed, or outside one (a commit's checks): the pool.
  const together = await verifyingInPlace(() => Promise.all([suite.signature.verify(publicKey, msg, sig), suite.signature.verify(publicKey, msg, bad), suite.signature.verify(publicKey, utf8('other'), sig)]));
  assert.deepEqual(together, [true, false, false]);
  assert.equal(await suite.signature.verify(publicKey, msg, sig), true);
  assert.equal(syncVerifyCount(), before, 'verifications of a commit ran one after the other here');
});

test('the engine checks a received application message’s signature in place, and builds a tree’s members once', async () => {
  const engine = await createMlsEngine({ forceProvider: 'node' });
  const a = await engine.newDeviceKeys('mimi://a.example/d/alice/1');
  const b = await engine.newDeviceKeys('mimi://a.example/d/bob/1');
  const [kp] = await engine.generateKeyPackages(b, 1);
  const added = await (await engine.createGroup(a, ROOM)).add([kp.publicMessage]);
  const bob = await engine.joinFromWelcome(b, added.welcome!, kp, added.ratchetTree);
  const before = syncVerifyCount();
  const sent = await added.pending.encrypt(utf8('hello'));
  const got = await bob.process(sent.message);
  assert.equal(got.result.kind, 'application');
  assert.equal(syncVerifyCount(), before + 1);

  // The members of the next message's session are those of this one, not built again; a copy each time.
  const m1 = added.pending.members();
  const m2 = sent.session.members();
  assert.notEqual(m2, m1);
  assert.deepEqual(m2, m1);
  assert.equal(m2[1], m1[1], 'the members were built again for a session over the same tree');
  m2.sort((x, y) => y.leafIndex - x.leafIndex);
  assert.deepEqual(sent.session.members().map((m) => m.leafIndex), [0, 1]);
  // A commit changes the tree: its members are new.
  const c = await engine.newDeviceKeys('mimi://a.example/d/carol/1');
  const [ckp] = await engine.generateKeyPackages(c, 1);
  const again = await sent.session.add([ckp.publicMessage]);
  assert.deepEqual(again.pending.members().map((m) => m.identity), ['mimi://a.example/d/alice/1', 'mimi://a.example/d/bob/1', 'mimi://a.example/d/carol/1']);
  assert.equal(sent.session.members().length, 2);
});

test('sessions of one epoch share the decoded room state', () => {
  const data = encodeRoomStateExtension(initialRoomState({ roomUri: ROOM, creator: ALICE, roomName: 'Lunch' }));
  const session = (bytes: Uint8Array) => ({ extensions: () => [{ type: ROOM_STATE_EXTENSION_TYPE, data: bytes }] }) as unknown as GroupSession;
  const a = roomStateOf(session(data));
  const b = roomStateOf(session(data)); // the next message's session: same GroupContext bytes
  assert.ok(a);
  assert.equal(b, a, 'the same room state was decoded again for a new session of the same epoch');
  const c = roomStateOf(session(data.slice())); // another epoch's bytes (equal here) are decoded anew
  assert.notEqual(c, a);
  assert.deepEqual(c, a);
  assert.equal(roomStateOf({ extensions: () => [] } as unknown as GroupSession), undefined);
});

test('a received event moves the cursor once, in its own transaction; a skipped or failed one still moves it', async (t) => {
  const db = await freshDb('hot-path-cursor');
  t.after(() => db.close());
  const errors: string[] = [];
  const ctx = { db, emit: (name: string, msg: string) => name === 'error' && errors.push(msg) } as unknown as ProfileContext;
  const incoming = new IncomingEvents(ctx, {} as RoomCommits, {} as KeyPackages);
  const cursorWrites: string[] = [];
  const setMeta = db.setMeta.bind(db);
  db.setMeta = (k: string, v: string) => {
    if (k === 'cursor') cursorWrites.push(v);
    setMeta(k, v);
  };
  const ev = (seq: number) => ({ kind: 'message', seq, roomUri: ROOM, epoch: '0', payload: '', acceptedTimestamp: 1 }) as unknown as PushEvent;
  // Stored: the event's own transaction moves the cursor (as onGroupMessage does).
  incoming.onGroupMessage = async (e) => db.tx(() => db.setMeta('cursor', String(e.seq)));
  await incoming.handleEvent(ev(7));
  assert.deepEqual(cursorWrites, ['7'], 'the cursor was written a second time after the event stored it');
  // Skipped (nothing stored), or failed: handleEvent moves it.
  incoming.onGroupMessage = async () => undefined;
  await incoming.handleEvent(ev(8));
  incoming.onGroupMessage = async () => {
    throw new Error('undecryptable');
  };
  await incoming.handleEvent(ev(9));
  assert.deepEqual(cursorWrites, ['7', '8', '9']);
  assert.equal(db.getMeta('cursor'), '9');
  assert.equal(errors.length, 1);
});

test('the outbox stores the advanced ratchet and the attempt in one transaction, before the ciphertext leaves', async (t) => {
  const db = await freshDb('hot-path-outbox');
  t.after(() => db.close());
  const sessions = new GroupSessions(db, {} as MlsEngine);
  const members = () => [{ identity: 'mimi://a.example/d/alice/1', leafIndex: 0 }];
  const next = { epoch: 0n, ownLeafIndex: 0, members, extensions: () => [], encode: () => utf8('state 1') } as unknown as GroupSession;
  const current = {
    epoch: 0n,
    ownLeafIndex: 0,
    members,
    extensions: () => [],
    pendingProposals: () => 0,
    encrypt: async () => ({ session: next, message: utf8('ciphertext') }),
  } as unknown as GroupSession;
  sessions.set(ROOM, current);
  const ctx = { db, sessions, serial: new Serial(), config: { userUri: ALICE }, emit: () => undefined, closed: false } as unknown as ProfileContext;
  const outbox = new Outbox(ctx, {} as RoomCommits);
  const content = encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, text: 'hi' }));
  db.enqueue({ requestId: 'r1', roomUri: ROOM, messageSeq: 0, content });
  const [item] = db.outbox();
  let depth = 0;
  let commits = 0;
  const tx = db.tx.bind(db);
  db.tx = <T>(fn: () => T): T => {
    depth++;
    try {
      return tx(fn);
    } finally {
      if (--depth === 0) commits++;
    }
  };
  const inTx: Record<string, boolean> = {};
  for (const name of ['saveGroupState', 'bumpAttempts'] as const) {
    const f = (db[name] as (...a: unknown[]) => void).bind(db);
    (db as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
      inTx[name] = depth > 0;
      f(...a);
    };
  }
  const req = await (outbox as unknown as { prepare(i: typeof item): Promise<{ message: string; requestId: string }> }).prepare(item);
  assert.equal(req.requestId, 'r1');
  assert.deepEqual(inTx, { saveGroupState: true, bumpAttempts: true });
  assert.equal(commits, 1, 'the ratchet and the attempt count were committed separately');
  assert.equal(db.outbox()[0].attempts, 1);
  assert.equal(sessions.get(ROOM), next);
});

test('a delivery report of many messages builds their views together, one changed event each', async (t) => {
  const db = await freshDb('hot-path-receipts');
  t.after(() => db.close());
  const BOB = 'mimi://b.example/u/bob';
  const session = {
    ownLeafIndex: 0,
    members: () => [
      { identity: 'mimi://a.example/d/alice/1', leafIndex: 0 },
      { identity: 'mimi://b.example/d/bob/1', leafIndex: 1 },
    ],
    extensions: () => [],
  } as unknown as GroupSession;
  const events: MessageView[] = [];
  const ctx = { db, config: { userUri: ALICE }, sessions: { get: () => session }, closed: false, emit: (e: string, v: MessageView) => e === 'message' && events.push(v) } as unknown as ProfileContext;
  const ids = ['one', 'two', 'three'].map((text) => {
    const content = encodeContent(textMessage({ senderUri: ALICE, roomUri: ROOM, text }));
    return db.insertMessage({ roomUri: ROOM, messageId: toHex(messageId(content)), sender: ALICE, content, timestamp: Date.now(), status: 'sent' }, false)!.messageId;
  });
  const one: string[] = [];
  const batches: string[][] = [];
  const receipts = new Receipts(
    ctx,
    {} as Outbox,
    (roomUri, id) => (one.push(id), { messageId: id, roomUri }) as MessageView,
    (roomUri, list) => (batches.push(list), list.map((id) => ({ messageId: id, roomUri }) as MessageView)),
  );
  const report = encodeMessageStatusReport([...ids, ids[0]].map((id) => ({ messageId: fromHex(id), status: MessageStatus.delivered })));
  db.tx(() => receipts.onReport(ROOM, BOB, report, Date.now()))?.();
  assert.deepEqual(batches, [ids], 'the views were built one message at a time');
  assert.deepEqual(one, []);
  assert.deepEqual(events.map((v) => [v.messageId, v.changed]), ids.map((id) => [id, true]));
});
