// Profiles in rooms across two real provider processes: alice@a.example shares her display name and
// picture inside the encrypted rooms she is in as herself, bob@b.example sees them (and she his);
// a change reaches him with one message per room; a newcomer learns them without any change; a
// minimal-metadata room, where alice appears under a pseudonym, never receives her profile (bob's
// side sees nothing, alice's outbox never queued one there); nothing of it is a message (no
// timeline row, unread count or 'message' event); and neither provider's data dir nor log holds
// the display name or the picture's bytes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { MessageView } from '../../src-shared/contract.js';
import { PROFILE_MEDIA_TYPE, findMemberProfile, pngDataUrl } from '../../src-shared/member-profile.js';
import type { MimiContent } from '../../src-shared/content.js';
import { createMlsEngine } from '../../src-main/mls/ts-mls-engine.js';
import type { MlsEngine } from '../../src-main/mls/engine.js';
import type { Profile } from '../../src-main/core/profile.js';
import { startFederation, type FederatedProvider, type Link } from '../helpers/federation.js';
import { testProfile } from '../helpers/profiles.js';
import { tempDir, waitFor } from '../helpers/provider-process.js';
import { mimi, register } from '../helpers/mimi-cli.js';
import { providerStorageParts, tableNames, withProviderDb } from '../helpers/provider-db.js';

let engine: MlsEngine;
let A: FederatedProvider;
let B: FederatedProvider;
const links: Link[] = [];
const keep: Profile[] = [];
let alice: Profile;
let bob: Profile;
let room = '';
/** Every profile message each device queued: who, where, what. */
const sent: { who: string; roomUri: string; name?: string; avatar: boolean }[] = [];
const messageEvents: { who: string; view: MessageView }[] = [];
const profileEvents: { who: string; roomUri: string }[] = [];
const errors: string[] = [];

const NAME = `Alice Liddell ${randomBytes(4).toString('hex')}`;

/** A real PNG of random pixels (stored, not compressed), so its bytes occur nowhere by chance. */
function noisePng(side: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.concat(Array.from({ length: side }, () => Buffer.concat([Buffer.from([0]), randomBytes(side)])));
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 0 })), chunk('IEND', Buffer.alloc(0))]));
}
const PICTURE = noisePng(64);
const PICTURE_2 = noisePng(32);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const inside = (p: Profile): any => p as any;

function observe(p: Profile, who: string): void {
  p.memberProfiles.debounceMs = 100;
  p.on('message', (view) => messageEvents.push({ who, view }));
  p.on('profiles', (roomUri) => profileEvents.push({ who, roomUri }));
  p.on('error', (m) => errors.push(`${who}: ${m}`));
  const outbox = inside(p).outbox;
  const sendControl = outbox.sendControl.bind(outbox);
  outbox.sendControl = (roomUri: string, build: (me: string) => MimiContent) => {
    const probe = findMemberProfile(build('mimi://probe.example/u/probe'));
    if (probe) sent.push({ who, roomUri, name: probe.displayName, avatar: probe.avatar !== undefined });
    return sendControl(roomUri, build);
  };
}

before(async () => {
  engine = await createMlsEngine();
  const f = await startFederation(['a.example', 'b.example']);
  A = f['a.example'];
  B = f['b.example'];
  links.push(f.links['a.example'], f.links['b.example']);
  const o = { engine, keep, dirPrefix: 'mprof' };
  [alice, bob] = await Promise.all([testProfile(A, 'alice', o), testProfile(B, 'bob', o)]);
  observe(alice, 'alice');
  observe(bob, 'bob');
});

after(async () => {
  for (const p of keep) await p.close().catch(() => undefined);
  await A?.stop();
  await B?.stop();
  for (const l of links) await l.close();
});

/** What `p` shows of the room's profiles ({} while it is not in the room yet). */
const shown = (p: Profile, roomUri: string) => (p.rooms().some((r) => r.roomUri === roomUri) ? p.roomProfiles(roomUri) : {});
const aliceAt = (p: Profile, roomUri: string) => shown(p, roomUri)[alice.config.userUri];

test("alice's display name and picture reach bob on the other provider, inside the room; his reach her", async () => {
  await alice.setProfileFields({ displayName: `  ${NAME} ` });
  assert.equal((await alice.myProfile()).displayName, NAME, 'trimmed');
  assert.equal(alice.setAvatar(pngDataUrl(PICTURE)), pngDataUrl(PICTURE));
  room = (await alice.createRoom('Lunch')).roomUri;
  // Alone in the room: nobody to tell yet.
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(sent.filter((s) => s.roomUri === room), []);
  assert.deepEqual(aliceAt(alice, room), { displayName: NAME, avatar: pngDataUrl(PICTURE) }, 'her own, as others will see it');

  await alice.addMember(room, 'bob@b.example');
  await waitFor(() => aliceAt(bob, room)?.displayName === NAME, 'bob sees her name', 30000);
  assert.deepEqual(aliceAt(bob, room), { displayName: NAME, avatar: pngDataUrl(PICTURE) });
  assert.ok(profileEvents.some((e) => e.who === 'bob' && e.roomUri === room), 'bob was told');
  assert.deepEqual(
    sent.filter((s) => s.roomUri === room),
    [{ who: 'alice', roomUri: room, name: NAME, avatar: true }],
    'one message, for the newcomer',
  );

  await bob.setProfileFields({ displayName: 'Bob Builder' });
  await waitFor(() => alice.roomProfiles(room)[bob.config.userUri]?.displayName === 'Bob Builder', "alice sees bob's name", 30000);
  assert.equal(alice.roomProfiles(room)[bob.config.userUri].avatar, undefined, 'he has no picture');
});

test('a change reaches him: one message per room, however many changes in a burst', async () => {
  const second = (await alice.createRoom('Books')).roomUri;
  await alice.addMember(second, 'bob@b.example');
  await waitFor(() => aliceAt(bob, second)?.displayName === NAME, 'bob sees her in the second room', 30000);
  await waitFor(() => alice.roomProfiles(second)[bob.config.userUri]?.displayName === 'Bob Builder', 'and she him', 30000);
  const before = sent.length;
  // Three changes at once: the scan after them sends the last state, once per room.
  alice.setAvatar(pngDataUrl(noisePng(8)));
  alice.setAvatar(null);
  alice.setAvatar(pngDataUrl(PICTURE_2));
  await waitFor(() => aliceAt(bob, room)?.avatar === pngDataUrl(PICTURE_2) && aliceAt(bob, second)?.avatar === pngDataUrl(PICTURE_2), 'the new picture in both rooms', 30000);
  assert.deepEqual(
    sent.slice(before).map((s) => [s.who, s.roomUri === room ? 'Lunch' : s.roomUri === second ? 'Books' : s.roomUri]).sort(),
    [['alice', 'Books'], ['alice', 'Lunch']],
  );
  // The name removed: the picture stays, the name goes.
  await alice.setProfileFields({ displayName: null });
  await waitFor(() => aliceAt(bob, room)?.displayName === undefined, 'the name gone at bob', 30000);
  assert.deepEqual(aliceAt(bob, room), { avatar: pngDataUrl(PICTURE_2) });
  await alice.setProfileFields({ displayName: NAME });
  await waitFor(() => aliceAt(bob, room)?.displayName === NAME, 'the name back', 30000);
});

test('profile messages are no messages: no timeline row, no unread count, no message event', async () => {
  for (const p of [alice, bob]) {
    for (const r of p.rooms()) {
      assert.ok(p.page(r.roomUri, null, 200).every((m) => m.contentType !== PROFILE_MEDIA_TYPE));
      assert.equal(r.unread, 0, `${p.config.handle}: nothing unread in ${r.name}`);
    }
  }
  assert.deepEqual(messageEvents.filter((e) => e.view.contentType === PROFILE_MEDIA_TYPE), []);
  assert.deepEqual(messageEvents, [], 'nobody wrote a message yet, so no event at all');
});

test('a minimal-metadata room, where alice is a pseudonym, never receives her profile', async () => {
  await bob.refillPseudonyms(2);
  const bobAs = bob.pseudonymPool().pseudonyms.find((p) => p.state === 'unused')!;
  const quiet = (await alice.createMinimalMetadataRoom('Quiet')).roomUri;
  await alice.addMember(quiet, bobAs.userPseudonym);
  await waitFor(() => bob.rooms().some((r) => r.roomUri === quiet), 'bob in the quiet room', 30000);
  await alice.send(quiet, 'hello under a pseudonym');
  await waitFor(() => bob.page(quiet, null, 10).some((m) => m.text === 'hello under a pseudonym'), 'bob reads it', 30000);
  // A change of hers after that: every room of hers as herself gets it, the quiet one does not.
  const before = sent.length;
  alice.setAvatar(pngDataUrl(PICTURE));
  await waitFor(() => aliceAt(bob, room)?.avatar === pngDataUrl(PICTURE), 'the change in Lunch', 30000);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(sent.length > before);
  assert.deepEqual(sent.filter((s) => s.roomUri === quiet), [], 'alice queued none there');
  assert.deepEqual(bob.roomProfiles(quiet), {}, 'bob knows no profile there');
  assert.deepEqual(alice.roomProfiles(quiet), {}, 'nor does alice show hers there');
  const rows = inside(bob).ctx.db.memberProfiles(quiet);
  assert.deepEqual(rows, []);
});

test("a newcomer learns everyone's profile without any change", async () => {
  const carol = await testProfile(A, 'carol', { engine, keep, dirPrefix: 'mprof' });
  observe(carol, 'carol');
  const before = sent.length;
  await alice.addMember(room, 'carol');
  await waitFor(() => aliceAt(carol, room)?.displayName === NAME && shown(carol, room)[bob.config.userUri]?.displayName === 'Bob Builder', 'carol sees both', 30000);
  assert.deepEqual(aliceAt(carol, room), { displayName: NAME, avatar: pngDataUrl(PICTURE) });
  // One message each from alice and bob, into that room only; carol has nothing to share.
  assert.deepEqual(sent.slice(before).map((s) => `${s.who} ${s.roomUri === room}`).sort(), ['alice true', 'bob true']);
});

test('the mimi command: avatar PATH (refused when too big or not a PNG, nothing changed), avatar --remove, members ROOM with display names', async () => {
  const dir = path.join(tempDir('mprof-cli'), 'dave');
  assert.equal((await register(dir, B, 'dave')).code, 0);
  assert.equal((await mimi(['--profile', dir, 'profile', 'set', 'name', 'Dave Dangerous'])).code, 0);
  await alice.addMember(room, 'dave@b.example');
  // The Welcome may still be on its way to b.example: the command then does not know the room yet.
  let members = await mimi(['--profile', dir, 'members', room]);
  for (let i = 0; i < 20 && members.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    members = await mimi(['--profile', dir, 'members', room]);
  }
  assert.equal(members.code, 0, members.stderr);
  const lines = members.stdout.trim().split('\n').sort();
  assert.equal(lines.length, 4);
  assert.match(lines.find((l) => l.startsWith('alice@a.example\t'))!, new RegExp(`\t${NAME}$`));
  assert.match(lines.find((l) => l.startsWith('bob@b.example\t'))!, /\tBob Builder$/);
  assert.match(lines.find((l) => l.startsWith('carol@a.example\t'))!, /\t$/, 'carol shares nothing');
  assert.match(lines.find((l) => l.startsWith('dave@b.example\t'))!, /\tDave Dangerous$/);
  // That command shared dave's name with the room as it joined.
  const dave = `mimi://b.example/u/dave`;
  await waitFor(() => shown(alice, room)[dave]?.displayName === 'Dave Dangerous', "alice sees dave's name", 30000);

  const files = tempDir('mprof-pictures');
  const write = (name: string, bytes: Uint8Array) => {
    fs.writeFileSync(path.join(files, name), bytes);
    return path.join(files, name);
  };
  const tooWide = await mimi(['--profile', dir, 'avatar', write('wide.png', noisePng(120))]);
  assert.equal(tooWide.code, 1);
  assert.match(tooWide.stderr, /120×120 pixels; it may be at most 96×96\. Scale it down first/);
  const notPng = await mimi(['--profile', dir, 'avatar', write('me.jpg', new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...randomBytes(100)]))]);
  assert.equal(notPng.code, 1);
  assert.match(notPng.stderr, /not a PNG image; choose a PNG file/);
  const big = new Uint8Array(48 * 1024 + 1);
  big.set(noisePng(16));
  assert.match((await mimi(['--profile', dir, 'avatar', write('big.png', big)])).stderr, /larger than 48 KiB/);
  assert.equal((await mimi(['--profile', dir, 'avatar'])).code, 2, 'usage');
  assert.equal(shown(alice, room)[dave].avatar, undefined, 'nothing changed');

  const picture = noisePng(40);
  const set = await mimi(['--profile', dir, 'avatar', write('dave.png', picture)]);
  assert.equal(set.code, 0, set.stderr);
  await waitFor(() => shown(alice, room)[dave]?.avatar === pngDataUrl(picture), "alice sees dave's picture", 30000);
  assert.equal((await mimi(['--profile', dir, 'avatar', '--remove'])).code, 0);
  await waitFor(() => shown(alice, room)[dave]?.avatar === undefined, 'and then no more', 30000);
  assert.equal(shown(alice, room)[dave].displayName, 'Dave Dangerous');
});

test("bob's second device: learns his profile from his first, and its own first share does not undo it at alice's", async () => {
  const picture = noisePng(24);
  bob.setAvatar(pngDataUrl(picture));
  const bobAt = (p: Profile) => shown(p, room)[bob.config.userUri];
  await waitFor(() => bobAt(alice)?.avatar === pngDataUrl(picture), "alice sees bob's picture", 30000);
  const phone = await testProfile(B, 'bob', { engine, keep, dirPrefix: 'mprof-phone', how: 'login', deviceName: "bob's phone" });
  observe(phone, 'phone');
  await waitFor(() => phone.rooms().some((r) => r.roomUri === room), 'the phone in the room', 30000);
  // The laptop sees a new device and shares; the phone, whose profile is older, takes it as its own.
  await waitFor(() => phone.avatar() === pngDataUrl(picture), 'the phone has the picture', 30000);
  assert.equal(phone.memberProfiles.own().displayName, 'Bob Builder');
  assert.deepEqual(aliceAt(phone, room), { displayName: NAME, avatar: pngDataUrl(PICTURE) }, 'and learns alice’s as a newcomer');
  // Whatever the phone shared meanwhile, alice still sees bob as the laptop shared him.
  await new Promise((r) => setTimeout(r, 800));
  assert.deepEqual(bobAt(alice), { displayName: 'Bob Builder', avatar: pngDataUrl(picture) });
});

test("neither provider's files nor logs hold the picture; the name only in alice's own directory profile at her provider", () => {
  const name = Buffer.from(NAME);
  const picture = [PICTURE, PICTURE_2].flatMap((p) => [Buffer.from(p.subarray(41, 41 + 48)), Buffer.from(pngDataUrl(p).slice(80, 140))]);
  const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  let scanned = 0;
  for (const [dir, needles] of [
    [A.dataDir, picture],
    // bob's provider relays the room's messages to him: it never sees her name either.
    [B.dataDir, [name, ...picture]],
  ] as const) {
    // Every file of the data folder, and on PostgreSQL the database's rows too.
    for (const { where: f, bytes } of providerStorageParts(dir)) {
      scanned += bytes.length;
      for (const n of needles) assert.equal(bytes.includes(n), false, `${f} holds ${n.toString('utf8').slice(0, 20)}…`);
    }
  }
  assert.ok(scanned > 10_000, `scanned ${scanned} bytes`);
  for (const log of [A.output(), B.output()]) for (const n of [name, ...picture]) assert.equal(Buffer.from(log).includes(n), false, 'a log line holds it');
  // The room's hub (a.example) is also alice's provider, which keeps the name she gave it for its
  // directory (Settings says so): that row is the only one holding it, nothing of the rooms does.
  const holders = withProviderDb(A.dataDir, (db) => {
    return tableNames(db).flatMap((t) =>
      (db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[])
        .filter((row) => Object.values(row).some((v) => (typeof v === 'string' && v.toLowerCase().includes(NAME.toLowerCase())) || (Buffer.isBuffer(v) && v.includes(name))))
        .map((row) => `${t}:${Object.keys(row).filter((k) => typeof row[k] === 'string' && (row[k] as string).toLowerCase().includes(NAME.toLowerCase())).join(',')}`),
    );
  });
  assert.deepEqual(holders, ['user_profiles:display_name,name_folded']);
  // Nor does either account's own device folder (sealed like message contents).
  for (const p of [alice, bob]) for (const f of files(p.dir)) for (const n of [name, picture[0]]) assert.equal(fs.readFileSync(f).includes(n), false, `${f} holds it in plaintext`);
});

test('no device reported an error', () => {
  assert.deepEqual(errors, []);
});
