// Profiles in rooms (src-shared/member-profile.ts, src-main/core/member-profiles.ts): the codec and
// its strict checks (size, PNG signature and dimensions, names without control characters), and
// what a receiver keeps in a real profile database: only from a participant of the room, never from
// a pseudonym, never an older one over a newer one, an empty profile clearing, all of it sealed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { encodeCbor } from '../../src-shared/cbor.js';
import { decodeContent, encodeContent } from '../../src-shared/content.js';
import {
  MAX_AVATAR_BYTES,
  PROFILE_MEDIA_TYPE,
  ProfileError,
  avatarProblem,
  decodeMemberProfile,
  displayNameProblem,
  encodeMemberProfile,
  findMemberProfile,
  pngDataUrl,
  pngFromDataUrl,
  profileContent,
} from '../../src-shared/member-profile.js';
import { initialRoomState } from '../../src-shared/room-state.js';
import { validateCall, MAX_AVATAR_DATA_URL } from '../../src-shared/contract.js';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import { MemberProfiles } from '../../src-main/core/member-profiles.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import type { Outbox } from '../../src-main/core/outbox.js';
import { tempDir } from '../helpers/provider-process.js';

const ROOM = 'mimi://a.example/r/lunch';
const ALICE = 'mimi://a.example/u/alice';
const BOB = 'mimi://b.example/u/bob';
const MALLORY = 'mimi://b.example/u/mallory';

/** A real PNG, w×h pixels of random grey (random so it does not compress: `w` and `h` set its size). */
function png(w: number, h: number, noise = false): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    // The CRC is not what these checks look at; a fixed one keeps the helper short.
    return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.concat(Array.from({ length: h }, () => Buffer.concat([Buffer.from([0]), noise ? Buffer.from(Array.from({ length: w }, () => Math.floor(Math.random() * 256))) : Buffer.alloc(w, 0x80)])));
  const out = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: noise ? 0 : 9 })), chunk('IEND', Buffer.alloc(0))]);
  return new Uint8Array(out);
}

const keyOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ProfileError, String(e));
    return e.key;
  }
  return 'accepted';
};

test('a profile round-trips as deterministic CBOR in a mimi-content part of its own media type', () => {
  const avatar = png(96, 96);
  const p = { displayName: 'Alice Liddell', avatar, updated: 1_700_000_000_000 };
  const bytes = encodeMemberProfile(p);
  assert.deepEqual(decodeMemberProfile(bytes), p);
  assert.deepEqual(encodeMemberProfile(decodeMemberProfile(bytes)), bytes, 'byte-exact');
  const content = decodeContent(encodeContent(profileContent({ senderUri: ALICE, roomUri: ROOM, profile: p })));
  assert.equal(content.body.cardinality === 1 && content.body.contentType, PROFILE_MEDIA_TYPE);
  assert.deepEqual(findMemberProfile(content), p);
  // Empty (clears), and keys of a later version are ignored.
  assert.deepEqual(decodeMemberProfile(encodeMemberProfile({ updated: 5 })), { updated: 5 });
  const later = encodeCbor(new Map<string, unknown>([['name', 'Al'], ['pronouns', 'she/her'], ['updated', 7]]) as never);
  assert.deepEqual(decodeMemberProfile(later), { displayName: 'Al', updated: 7 });
  // A data: URL (what the window and the contract carry) and back.
  assert.deepEqual(pngFromDataUrl(pngDataUrl(avatar)), avatar);
});

test('names: at most 100 characters, trimmed, no control, line-separator or bidi-override characters', () => {
  assert.equal(displayNameProblem('Zoë 🦄 Ångström'), undefined);
  assert.equal(displayNameProblem('x'.repeat(100)), undefined);
  assert.equal(displayNameProblem('🦄'.repeat(100)), undefined, 'characters, not UTF-16 units');
  assert.equal(displayNameProblem('x'.repeat(101))?.key, 'profiles.errors.nameTooLong');
  assert.equal(displayNameProblem('  ')?.key, 'profiles.errors.nameEmpty');
  assert.equal(displayNameProblem(' Alice')?.key, 'profiles.errors.nameSpaces');
  for (const bad of ['Ali\nce', 'Al\tice', 'bell\u0007', 'del\u007f', 'c1\u0085', 'ls\u2028', 'evil\u202eecila', 'iso\u2066x']) {
    assert.equal(displayNameProblem(bad)?.key, 'profiles.errors.nameControl', JSON.stringify(bad));
  }
  // The same checks on receipt.
  const named = (name: unknown) => encodeCbor(new Map<string, unknown>([['name', name], ['updated', 1]]) as never);
  assert.equal(keyOf(() => decodeMemberProfile(named('Ali\u0000ce'))), 'profiles.errors.nameControl');
  assert.equal(keyOf(() => decodeMemberProfile(named('y'.repeat(101)))), 'profiles.errors.nameTooLong');
  assert.equal(keyOf(() => decodeMemberProfile(named(42))), 'profiles.errors.malformed');
});

test('pictures: a PNG (signature and IHDR), at most 96×96 and 48 KiB; anything else is refused', () => {
  assert.equal(avatarProblem(png(96, 96)), undefined);
  assert.equal(avatarProblem(png(1, 1)), undefined);
  assert.equal(avatarProblem(png(97, 40))?.key, 'profiles.errors.avatarTooLarge');
  assert.deepEqual(avatarProblem(png(40, 200))?.params, { width: 40, height: 200, max: 96 });
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...new Array(60).fill(0)]);
  assert.equal(avatarProblem(jpeg)?.key, 'profiles.errors.avatarNotPng');
  const truncated = png(10, 10).slice(0, 20);
  assert.equal(avatarProblem(truncated)?.key, 'profiles.errors.avatarNotPng');
  const big = new Uint8Array(MAX_AVATAR_BYTES + 1);
  big.set(png(96, 96));
  assert.equal(avatarProblem(big)?.key, 'profiles.errors.avatarTooBig');
  const withAvatar = (a: Uint8Array) => encodeCbor(new Map<string, unknown>([['avatar', a], ['updated', 1]]) as never);
  assert.equal(keyOf(() => decodeMemberProfile(withAvatar(jpeg))), 'profiles.errors.avatarNotPng');
  assert.equal(keyOf(() => decodeMemberProfile(withAvatar(big))), 'profiles.errors.avatarTooBig');
  assert.equal(keyOf(() => decodeMemberProfile(new Uint8Array([0xff]))), 'profiles.errors.malformed');
  assert.equal(keyOf(() => decodeMemberProfile(encodeCbor(['name', 'x']))), 'profiles.errors.malformed');
  assert.equal(keyOf(() => decodeMemberProfile(encodeCbor(new Map<string, unknown>([['updated', -1]]) as never))), 'profiles.errors.malformed');
  // The contract carries the largest picture allowed, and no more.
  const largest = new Uint8Array(MAX_AVATAR_BYTES);
  largest.set(png(96, 96));
  assert.equal(pngDataUrl(largest).length, MAX_AVATAR_DATA_URL);
  assert.doesNotThrow(() => validateCall('people.setAvatar', ['acct', pngDataUrl(largest)]));
  assert.throws(() => validateCall('people.setAvatar', ['acct', pngDataUrl(new Uint8Array(MAX_AVATAR_BYTES + 3))]));
});

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

async function receiver() {
  const file = path.join(tempDir('member-profiles'), 'mimi.db');
  const db = new ProfileDb(file, await Vault.open(memoryStore()));
  db.insertRoom({ roomUri: ROOM, name: 'lunch', hubDomain: 'a.example', epoch: 0n, groupState: new Uint8Array(1) });
  const events: string[] = [];
  const ctx = {
    db,
    config: { userUri: ALICE },
    closed: false,
    // This test's device holds no group session: it shows what others shared, not its own.
    sessions: {
      get: () => {
        throw new Error('no session');
      },
    },
    emit: (event: string, roomUri: string) => events.push(`${event}:${roomUri}`),
    on: () => undefined,
    // Offline: the name another device may have set at the provider is not fetched (a scan
    // scheduled by setAvatar asks for it after the test has ended).
    client: { myProfile: () => Promise.reject(new Error('offline')) },
  } as unknown as ProfileContext;
  const profiles = new MemberProfiles(ctx, {} as Outbox);
  const state = initialRoomState({ roomUri: ROOM, creator: ALICE });
  state.participants.push({ user: BOB, roleIndex: state.participants[0].roleIndex });
  const from = (sender: string, p: Parameters<typeof encodeMemberProfile>[0], own = false) =>
    db.tx(() => profiles.receive(ROOM, sender, own, decodeContent(encodeContent(profileContent({ senderUri: sender, roomUri: ROOM, profile: p }))), state));
  return { db, file, profiles, from, events };
}

test('a receiver keeps the latest valid profile of each participant, sealed; a non-member, a pseudonym or an older one changes nothing', async () => {
  const { db, file, profiles, from } = await receiver();
  const avatar = png(48, 48);
  assert.equal(from(BOB, { displayName: 'Bob Builder', avatar, updated: 10 }), true);
  assert.deepEqual(profiles.view(ROOM), { [BOB]: { displayName: 'Bob Builder', avatar: pngDataUrl(avatar) } });

  // Not on the participant list (a knocker, say): ignored.
  assert.equal(from(MALLORY, { displayName: 'Mallory', updated: 11 }), false);
  // A pseudonym never shares a profile (ours never send one there): ignored.
  assert.equal(from('mimi://b.example/p/x7Kq2', { displayName: 'Who am I', updated: 12 }), false);
  // Older than the one kept (another of bob's devices with a stale copy): ignored.
  assert.equal(from(BOB, { displayName: 'Bob the Old', updated: 9 }), false);
  // Malformed: a part of the media type whose content is not a profile.
  const bogus = decodeContent(encodeContent(profileContent({ senderUri: BOB, roomUri: ROOM, profile: { updated: 1 } })));
  if (bogus.body.cardinality === 1) bogus.body.content = new Uint8Array([0xa1, 0x64, 0x6e, 0x61, 0x6d, 0x65, 0x01]);
  assert.equal(db.tx(() => profiles.receive(ROOM, BOB, false, bogus, undefined)), false);
  assert.deepEqual(Object.keys(profiles.view(ROOM)), [BOB]);
  assert.equal(profiles.view(ROOM)[BOB].displayName, 'Bob Builder');

  // A newer one replaces it; an empty one clears it (and keeps an older one from coming back).
  assert.equal(from(BOB, { displayName: 'Bob', updated: 20 }), true);
  assert.deepEqual(profiles.view(ROOM), { [BOB]: { displayName: 'Bob' } });
  assert.equal(from(BOB, { updated: 30 }), true);
  assert.deepEqual(profiles.view(ROOM), {});
  assert.equal(from(BOB, { displayName: 'Bob', updated: 25 }), false);

  from(BOB, { displayName: 'Robert Sealed', avatar, updated: 40 });
  db.close();
  // Sealed like message contents: neither the name nor the picture is in the file.
  const bytes = Buffer.concat([fs.readFileSync(file), ...['-wal'].filter((s) => fs.existsSync(file + s)).map((s) => fs.readFileSync(file + s))]);
  assert.equal(bytes.includes(Buffer.from('Robert Sealed')), false);
  assert.equal(bytes.includes(Buffer.from(avatar.subarray(16, 60))), false);
});

test('this account’s own picture: a PNG data: URL within the limits, kept sealed; a bad one is refused with a clear error and changes nothing', async () => {
  const { profiles, events } = await receiver();
  assert.equal(profiles.avatar(), null);
  const url = pngDataUrl(png(96, 96));
  assert.equal(profiles.setAvatar(url), url);
  assert.ok(events.includes(`profiles:${ROOM}`), 'the rooms are told');
  for (const [bad, key] of [
    ['data:image/png;base64,' + Buffer.from('GIF89a not a png at all, not even close').toString('base64'), 'profiles.errors.avatarNotPng'],
    [pngDataUrl(png(120, 120)), 'profiles.errors.avatarTooLarge'],
    ['data:image/jpeg;base64,AAAA', 'profiles.errors.avatarNotPng'],
  ] as const) {
    assert.throws(() => profiles.setAvatar(bad), (e: Error & { code?: string; key?: string }) => e.code === 'invalidArgument' && e.key === key && /choose|Scale/.test(e.message));
    assert.equal(profiles.avatar(), url, 'unchanged');
  }
  assert.equal(profiles.setAvatar(null), null);
  assert.equal(profiles.avatar(), null);
  // The display name as the provider keeps it; a name rooms would refuse is refused before it is set.
  assert.throws(() => profiles.checkDisplayName('two\nlines'), (e: Error & { code?: string }) => e.code === 'invalidArgument' && /control characters/.test(e.message));
  profiles.noteDisplayName('Alice', true);
  assert.equal(profiles.own().displayName, 'Alice');
  assert.ok(profiles.own().updated > 0);
});
