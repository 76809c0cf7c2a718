// Messages sent before a device joined a room: the hub gives an application message one epoch of
// grace and delivers it to everyone in the room by then, so a member added in the newer epoch (by
// Welcome or by external commit) receives a message it has no keys for. MLS means it never to read
// it, so it is skipped without an error; the members who were there read it. A message from an
// epoch the device *was* in, whose keys it dropped since (beyond retention), is still an error.
// A real provider process and real device cores; the races are forced by holding a send at the
// client's door until the commit that makes the newer epoch has landed.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import { toB64 } from '../../src-shared/bytes.js';
import { encodeContent, textMessage } from '../../src-shared/content.js';
import type { PushEvent } from '../../src-shared/provider-api.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { GroupSession, MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import type { ProfileDb } from '../../src-main/db/profile-db.js';
import { testProfile } from '../helpers/profiles.js';
import { restartablePort, startProviderProcess, waitFor, type ProviderProcess } from '../helpers/provider-process.js';

let provider: ProviderProcess;
let engine: MlsEngine;
const open: Profile[] = [];
/** Every 'error' event of every profile, as "<handle>: <message>". */
const errors: string[] = [];

before(async () => {
  engine = await createMlsEngine();
  provider = await startProviderProcess({ domain: 'a.example', port: await restartablePort() });
});

after(async () => {
  for (const p of open) await p.close().catch(() => undefined);
  await provider?.stop();
});

function account(handle: string, how: 'register' | 'login' = 'register', deviceName = `${handle} test device`): Promise<Profile> {
  return testProfile(provider, handle, { engine, keep: open, dirPrefix: 'prejoin', how, deviceName, onError: (m) => errors.push(`${handle}: ${m}`) });
}

interface Inside {
  ctx: {
    db: ProfileDb;
    sessions: { get(roomUri: string): GroupSession; save(roomUri: string, s: GroupSession): void };
    serial: { run<T>(fn: () => Promise<T>): Promise<T> };
    client: { sendMessage: (...a: unknown[]) => Promise<unknown> };
  };
  incoming: { handleEvent(ev: PushEvent): Promise<void> };
}
const inside = (p: Profile): Inside => p as unknown as Inside;

const texts = (p: Profile, room: string) =>
  p
    .page(room, null, 500)
    .reverse()
    .map((m) => m.text);

const errorsOf = (handle: string) => errors.filter((e) => e.startsWith(`${handle}: `));

/**
 * Holds `p`'s next message post at the provider's door (after it was encrypted, so in the epoch of
 * the moment) until `release()` is called.
 */
function holdNextMessage(p: Profile): { posted: Promise<void>; release: () => void } {
  const client = inside(p).ctx.client;
  const send = client.sendMessage.bind(client);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let posted!: () => void;
  const postedP = new Promise<void>((r) => (posted = r));
  client.sendMessage = async (...a: unknown[]) => {
    client.sendMessage = send; // only the first
    posted();
    await gate;
    return send(...a);
  };
  return { posted: postedP, release };
}

/** Records the message events `p` receives from the push stream (and still handles them). */
function recordMessages(p: Profile): PushEvent[] {
  const seen: PushEvent[] = [];
  const incoming = inside(p).incoming;
  const handle = incoming.handleEvent.bind(incoming);
  incoming.handleEvent = (ev: PushEvent) => {
    if (ev.kind === 'message') seen.push(ev);
    return handle(ev);
  };
  return seen;
}

const cursorOf = (p: Profile) => Number(inside(p).ctx.db.getMeta('cursor'));

test('a message sent in the epoch before a Welcome: the newcomer skips it silently, the members read it', async () => {
  const alice = await account('alice');
  const bob = await account('bob');
  const carol = await account('carol');
  const room = (await alice.createRoom('grace')).roomUri;
  await alice.addMember(room, 'bob');
  await waitFor(() => bob.rooms().length === 1 && bob.roomView(room).epoch === '1', 'bob joins at epoch 1');
  assert.equal(inside(alice).ctx.db.getRoom(room)!.joinedEpoch, 0n, 'the creator joined at epoch 0');
  assert.equal(inside(bob).ctx.db.getRoom(room)!.joinedEpoch, 1n, 'bob joined at epoch 1');

  // bob's message is encrypted in epoch 1 and held before it reaches the hub; alice adds carol
  // meanwhile (epoch 2); then the hub takes bob's message under its one epoch of grace.
  const held = holdNextMessage(bob);
  const carolGot = recordMessages(carol);
  await bob.send(room, 'sent in epoch 1');
  await held.posted;
  await alice.addMember(room, 'carol');
  await waitFor(() => carol.rooms().length === 1, 'carol joins');
  assert.equal(carol.roomView(room).epoch, '2');
  assert.equal(inside(carol).ctx.db.getRoom(room)!.joinedEpoch, 2n, 'carol joined at epoch 2');
  held.release();
  await bob.flushOutbox();
  assert.equal(bob.page(room, null, 1)[0].status, 'sent', 'the hub accepted the epoch-1 message at epoch 2');

  await waitFor(() => texts(alice, room).includes('sent in epoch 1'), 'alice reads it with her kept epoch-1 keys');
  await waitFor(() => carolGot.some((ev) => ev.epoch === '1'), 'the hub delivers it to carol too');
  const early = carolGot.find((ev) => ev.epoch === '1')!;
  await waitFor(() => cursorOf(carol) >= early.seq, 'carol moves her cursor past it');
  assert.deepEqual(texts(carol, room), [], 'carol shows nothing of it');
  assert.deepEqual(errorsOf('carol'), [], 'and reports no error');

  // The room goes on for everyone.
  await carol.send(room, 'carol in epoch 2');
  await bob.send(room, 'bob in epoch 2');
  await waitFor(() => texts(alice, room).includes('carol in epoch 2') && texts(bob, room).includes('carol in epoch 2'), 'carol is heard');
  await waitFor(() => texts(carol, room).includes('bob in epoch 2'), 'carol reads what is sent after she joined');
  assert.deepEqual(errorsOf('carol'), []);
  assert.deepEqual(errorsOf('alice'), []);
  assert.deepEqual(errorsOf('bob'), []);
});

test('a message sent in the epoch before an external commit: the joining device skips it silently', async () => {
  const lea = await account('lea');
  const max = await account('max');
  const room = (await lea.createRoom('devices')).roomUri;
  await lea.addMember(room, 'max');
  await waitFor(() => max.rooms().length === 1 && lea.roomView(room).epoch === '1', 'max joins at epoch 1');

  // lea's message is encrypted in epoch 1 and held; max's second device joins by external commit
  // (epoch 2) as it starts; then lea's message goes out.
  const held = holdNextMessage(lea);
  await lea.send(room, 'before the laptop');
  await held.posted;
  const max2 = await account('max', 'login', 'max laptop');
  const max2Got = recordMessages(max2);
  await waitFor(() => max2.rooms().length === 1 && max2.roomView(room).epoch === '2', 'the second device joins by external commit');
  assert.equal(inside(max2).ctx.db.getRoom(room)!.joinedEpoch, 2n, 'it joined at epoch 2');
  held.release();
  await lea.flushOutbox();

  await waitFor(() => texts(max, room).includes('before the laptop'), "max's first device reads it");
  await waitFor(() => max2Got.some((ev) => ev.epoch === '1'), 'the hub delivers it to the new device too');
  const early = max2Got.find((ev) => ev.epoch === '1')!;
  await waitFor(() => cursorOf(max2) >= early.seq, 'the new device moves its cursor past it');
  assert.deepEqual(texts(max2, room), []);
  assert.deepEqual(errorsOf('max'), [], 'no error on either of max’s devices');

  await lea.send(room, 'hello both devices');
  await waitFor(() => texts(max2, room).includes('hello both devices'), 'the new device reads what comes after');
  assert.deepEqual(errorsOf('max'), []);
  assert.deepEqual(errorsOf('lea'), []);
});

test('a message from an epoch the device was in but has no keys for any more is still reported; before joining it is not', async () => {
  const ann = await account('ann');
  const ben = await account('ben');
  const cat = await account('cat');
  const room = (await ann.createRoom('retention')).roomUri;
  await ann.addMember(room, 'ben');
  await waitFor(() => ben.rooms().length === 1 && ben.roomView(room).epoch === '1', 'ben joins at epoch 1');

  // A real ciphertext of ann's from epoch 1, never posted (ann's ratchet kept in step).
  const old = await inside(ann).ctx.serial.run(async () => {
    const s = inside(ann).ctx.sessions.get(room);
    const content = encodeContent(textMessage({ senderUri: ann.config.userUri, roomUri: room, text: 'from epoch 1' }));
    const { session, message } = await s.encrypt(content);
    inside(ann).ctx.sessions.save(room, session);
    return { message, epoch: s.epoch };
  });
  assert.equal(old.epoch, 1n);

  // Six commits: ben keeps keys for a few past epochs only (retainKeysForEpochs), so epoch 1's are
  // gone by epoch 7. cat is added last (joined at epoch 7).
  for (let i = 0; i < 5; i++) await ann.setRoomMetadata(room, { description: `round ${i}` });
  await ann.addMember(room, 'cat');
  await waitFor(() => ben.roomView(room).epoch === '7' && cat.rooms().length === 1, 'ben at epoch 7, cat joined');
  assert.equal(inside(cat).ctx.db.getRoom(room)!.joinedEpoch, 7n);

  /** The old ciphertext as a push event, handled under the profile's serial queue at its current cursor (which then stays). */
  const deliver = (p: Profile) =>
    inside(p).ctx.serial.run(() =>
      inside(p).incoming.handleEvent({
        type: 'event',
        seq: cursorOf(p),
        kind: 'message',
        roomUri: room,
        epoch: '1',
        senderDevice: 'x',
        acceptedTimestamp: Date.now(),
        payload: toB64(old.message),
      }),
    );

  // ben was in epoch 1 and lost its keys since: an error, as before.
  await deliver(ben);
  assert.equal(errorsOf('ben').length, 1, `ben reports it: ${JSON.stringify(errorsOf('ben'))}`);
  assert.match(errorsOf('ben')[0], /epoch 1/);
  assert.deepEqual(texts(ben, room).filter((t) => t === 'from epoch 1'), []);

  // cat joined at epoch 7: nothing to report.
  await deliver(cat);
  assert.deepEqual(errorsOf('cat'), [], 'cat skips it silently');

  // A room from before the joined epoch was recorded (NULL: unknown) behaves as it always did.
  const raw = (inside(cat).ctx.db as unknown as { db: Database.Database }).db;
  raw.prepare('UPDATE rooms SET joined_epoch = NULL WHERE room_uri = ?').run(room);
  assert.equal(inside(cat).ctx.db.getRoom(room)!.joinedEpoch, undefined);
  await deliver(cat);
  assert.equal(errorsOf('cat').length, 1, 'unknown joined epoch: reported as before');
  assert.match(errorsOf('cat')[0], /epoch 1/);

  // Both still read the room.
  await ann.send(room, 'still here');
  await waitFor(() => texts(ben, room).includes('still here') && texts(cat, room).includes('still here'), 'ben and cat read on');
});
