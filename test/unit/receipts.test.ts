// Receipts and typing, the pure parts: the MessageStatusReport codec against the draft's example,
// the typing indicator codec, the status_notification_policy component, when a kind is sent or
// shown, and how kept receipts read on a message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ProfileDb } from '../../src-main/db/profile-db.js';
import { Vault } from '../../src-main/secrets/vault.js';
import type { SecretStore } from '../../src-main/secrets/secret-store.js';
import type { GroupSession } from '../../src-main/mls/engine.js';
import type { ProfileContext } from '../../src-main/core/context.js';
import type { Outbox } from '../../src-main/core/outbox.js';
import { ownReceipts, Receipts } from '../../src-main/core/receipts.js';
import { Typing } from '../../src-main/core/typing.js';
import type { MessageView } from '../../src-shared/contract.js';
import { encodeContent, messageId, textMessage } from '../../src-shared/content.js';
import { tempDir } from '../helpers/provider-process.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';
import { encodeCbor } from '../../src-shared/cbor.js';
import { decodeMessageStatusReport, encodeMessageStatusReport, MAX_REPORT_ENTRIES, MessageStatus } from '../../src-shared/message-status.js';
import { decodeTypingIndicator, encodeTypingIndicator } from '../../src-shared/typing-indicator.js';
import { mayShare, mayShow, receiptsView, SHARE_LIMIT } from '../../src-shared/receipt-rules.js';
import {
  checkRoomStateChange,
  checkStatusPolicyChange,
  decodeRoomStateExtension,
  decodeStatusNotificationPolicy,
  encodeRoomStateExtension,
  encodeStatusNotificationPolicy,
  initialRoomState,
  statusPolicyOf,
  type RoomState,
} from '../../src-shared/room-state.js';

/** The draft's example report ("Message Status Format Example"), as printed there. */
const EXAMPLE_HEX =
  '84' +
  '825820017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f402' +
  '825820015354973c2b65ca937bf1e035ae53a5ab80e947afa43d46920d4202e5cc0b2702' +
  '825820018d825adf9f6be00dcafc5704c4102f5022e74219d0b603e4ba7622654042af00' +
  '82582001e59db8173939facc2c8a4a0f0ae8d0c7a11a81239626630c9464a8d6717a0303';

const SPEC = new URL('../../../shared/specs/draft-mahy-mimi-message-status-01.txt', import.meta.url);

/** The example read from the spec text itself (hex pairs before the `#` comments), where the specs are at hand. */
function draftExampleHex(): string {
  if (!existsSync(SPEC)) return EXAMPLE_HEX;
  const spec = readFileSync(SPEC, 'utf8');
  const start = spec.indexOf('84                                      # array(4)');
  assert.ok(start > 0, 'the example is in the draft');
  const block = spec.slice(start, spec.indexOf('~~~', start));
  return block
    .split('\n')
    .map((l) => l.split('#')[0].trim().replace(/\s+/g, ''))
    .join('');
}

test('MessageStatusReport: the draft example, byte for byte, both ways', () => {
  const hex = draftExampleHex();
  assert.equal(hex, EXAMPLE_HEX);
  const entries = decodeMessageStatusReport(fromHex(hex));
  assert.deepEqual(
    entries.map((e) => [toHex(e.messageId), e.status]),
    [
      ['017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4', MessageStatus.read],
      ['015354973c2b65ca937bf1e035ae53a5ab80e947afa43d46920d4202e5cc0b27', MessageStatus.read],
      ['018d825adf9f6be00dcafc5704c4102f5022e74219d0b603e4ba7622654042af', MessageStatus.unread],
      ['01e59db8173939facc2c8a4a0f0ae8d0c7a11a81239626630c9464a8d6717a03', MessageStatus.expired],
    ],
  );
  assert.equal(toHex(encodeMessageStatusReport(entries)), hex);
  // An empty report is legal ([ * PerMessageStatus ]).
  assert.deepEqual(decodeMessageStatusReport(fromHex('80')), []);
  // Unknown statuses 7..255 are kept, not refused.
  const id = new Uint8Array(32).fill(7);
  assert.equal(decodeMessageStatusReport(encodeMessageStatusReport([{ messageId: id, status: 200 }]))[0].status, 200);
});

test('MessageStatusReport: bad input is refused with a clear error', () => {
  const id = new Uint8Array(32).fill(1);
  const bad: [Uint8Array, RegExp][] = [
    [encodeCbor(new Map([[1, 2]])), /must be a CBOR array/],
    [encodeCbor([[new Uint8Array(31), 1]]), /entry 0: messageId must be a byte string of 32 bytes/],
    [encodeCbor([[new Uint8Array(33), 1]]), /32 bytes/],
    [encodeCbor([[id]]), /entry 0 must be a 2-element array/],
    [encodeCbor([[id, 1, 2]]), /2-element array/],
    [encodeCbor([[id, 256]]), /status must be an unsigned integer 0-255/],
    [encodeCbor([[id, -1]]), /status must be an unsigned integer/],
    [encodeCbor([['x'.repeat(32), 1]]), /messageId must be a byte string/],
    [encodeCbor(Array.from({ length: MAX_REPORT_ENTRIES + 1 }, () => [id, 1])), /1025 entries; at most 1024/],
    [fromHex('8182'), /not deterministic CBOR/],
    [fromHex('80ff'), /not deterministic CBOR/],
  ];
  for (const [bytes, why] of bad) assert.throws(() => decodeMessageStatusReport(bytes), why, toHex(bytes.slice(0, 12)));
  assert.throws(() => encodeMessageStatusReport([{ messageId: new Uint8Array(5), status: 1 }]), /messageId must be 32 bytes/);
  assert.throws(() => encodeMessageStatusReport(Array.from({ length: MAX_REPORT_ENTRIES + 1 }, () => ({ messageId: id, status: 1 }))), /at most 1024/);
});

test('typing indicator: [state, lifetime], strict', () => {
  assert.equal(toHex(encodeTypingIndicator({ typing: true, lifetime: 6 })), '820106');
  assert.deepEqual(decodeTypingIndicator(fromHex('820006')), { typing: false, lifetime: 6 });
  for (const hex of ['8202' + '06', '820100', '82013d', '8101', 'a0', '83010600'])
    assert.throws(() => decodeTypingIndicator(fromHex(hex.length % 2 ? hex + '0' : hex)), /TypingIndicator/, hex);
  assert.throws(() => encodeTypingIndicator({ typing: true, lifetime: 61 }), /lifetime must be 1-60/);
});

function room(): RoomState {
  const s = initialRoomState({ roomUri: 'mimi://a.example/r/x', creator: 'mimi://a.example/u/alice', roomName: 'x', preset: 'moderated' });
  return { ...s, participants: [...s.participants, { user: 'mimi://b.example/u/bob', roleIndex: 4 }] };
}

test('status_notification_policy (0x0028): two octets, in the room state, changed only by who may change policies', () => {
  assert.deepEqual([...encodeStatusNotificationPolicy({ delivery: 'forbidden', read: 'required' })], [2, 1]);
  assert.deepEqual(decodeStatusNotificationPolicy(new Uint8Array([0, 2])), { delivery: 'optional', read: 'forbidden' });
  assert.throws(() => decodeStatusNotificationPolicy(new Uint8Array([3, 0])), /unknown Optionality 3/);
  assert.throws(() => decodeStatusNotificationPolicy(new Uint8Array([0])), /2 octets/);
  assert.throws(() => encodeStatusNotificationPolicy({ delivery: 'sometimes' as never, read: 'optional' }), /optional, required or forbidden/);

  const before = room();
  assert.deepEqual(statusPolicyOf(before), { delivery: 'optional', read: 'optional' }, 'absent: both optional');
  const after = { ...before, statusNotificationPolicy: { delivery: 'forbidden', read: 'forbidden' } } as RoomState;
  const round = decodeRoomStateExtension(encodeRoomStateExtension(after));
  assert.deepEqual(round.statusNotificationPolicy, { delivery: 'forbidden', read: 'forbidden' });
  assert.equal(decodeRoomStateExtension(encodeRoomStateExtension(before)).statusNotificationPolicy, undefined);

  // The moderated room's creator (super_admin, canChangeRoleDefinitions) may; a speaker may not.
  assert.deepEqual(checkRoomStateChange(before, after, 'mimi://a.example/u/alice'), { ok: true });
  const bob = checkRoomStateChange(before, after, 'mimi://b.example/u/bob');
  assert.equal(bob.ok, false);
  assert.equal(!bob.ok && bob.denied, 'canChangeOtherPolicyAttribute');
  assert.match(!bob.ok ? bob.reason : '', /neither canChangeOtherPolicyAttribute nor canChangeRoleDefinitions/);
  // The hub acting in its policy_enforcer role has no say in it.
  assert.throws(() => checkRoomStateChange(before, after, 'hub', { actorRole: 7 }), /may not change the status notification policy/);
  // A cooperative room's creator (group_admin) holds neither capability.
  const coop = initialRoomState({ roomUri: 'mimi://a.example/r/y', creator: 'mimi://a.example/u/alice', preset: 'cooperative' });
  assert.equal(checkStatusPolicyChange(coop, 'mimi://a.example/u/alice').ok, false);
});

test('when receipts and typing are sent and shown', () => {
  // The switch decides where the room leaves it optional, within the size limit.
  assert.equal(mayShare('delivery', 'optional', true, 2), true);
  assert.equal(mayShare('delivery', 'optional', false, 2), false);
  assert.equal(mayShare('delivery', 'optional', true, SHARE_LIMIT.delivery), true);
  assert.equal(mayShare('delivery', 'optional', true, SHARE_LIMIT.delivery + 1), false);
  assert.equal(mayShare('read', 'optional', true, SHARE_LIMIT.delivery + 1), true);
  assert.equal(mayShare('read', 'optional', true, SHARE_LIMIT.read + 1), false);
  // Required: sent whatever the switch and the size; forbidden: never.
  assert.equal(mayShare('read', 'required', false, 1000), true);
  assert.equal(mayShare('read', 'forbidden', true, 2), false);
  // Shown: reciprocity, unless the room requires them of everyone; never where forbidden.
  assert.equal(mayShow('optional', true), true);
  assert.equal(mayShow('optional', false), false);
  assert.equal(mayShow('required', false), true);
  assert.equal(mayShow('forbidden', true), false);
});

test('receipts on a message: read implies delivered, hidden kinds fold away', () => {
  const rows = [
    { reporter: 'bob', status: 2 },
    { reporter: 'carol', status: 1 },
  ];
  assert.deepEqual(receiptsView(rows, { delivery: true, read: true }, 3), { delivered: ['carol'], read: ['bob'], of: 3 });
  // Read receipts not shown here: bob's read still says the message reached him.
  assert.deepEqual(receiptsView(rows, { delivery: true, read: false }, 3), { delivered: ['bob', 'carol'], read: [], of: 3 });
  assert.deepEqual(receiptsView(rows, { delivery: false, read: true }, 3), { delivered: [], read: ['bob'], of: 3 });
  assert.equal(receiptsView(rows, { delivery: false, read: false }, 3), undefined);
});

// ---- folding incoming reports into our messages, on a real SQLite profile database ----

const ROOM = 'mimi://a.example/r/fold';
const OTHER_ROOM = 'mimi://a.example/r/other';
const ALICE_U = 'mimi://a.example/u/alice';
const BOB_U = 'mimi://b.example/u/bob';

function memoryStore(): SecretStore {
  const m = new Map<string, Uint8Array>();
  return { mode: 'plaintext', get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v), delete: async (k) => void m.delete(k) };
}

/** A profile context with a real database, alice's device and bob's in each room's group (no room state: optional policy). */
async function foldContext() {
  const db = new ProfileDb(path.join(tempDir('receipts-db'), 'mimi.db'), await Vault.open(memoryStore()));
  const session = {
    ownLeafIndex: 0,
    members: () => [
      { identity: 'mimi://a.example/d/alice/1', leafIndex: 0 },
      { identity: 'mimi://b.example/d/bob/1', leafIndex: 1 },
    ],
    extensions: () => [],
  } as unknown as GroupSession;
  const events: { event: string; args: unknown[] }[] = [];
  const ctx = {
    db,
    config: { userUri: ALICE_U },
    sessions: { get: () => session },
    closed: false,
    emit: (event: string, ...args: unknown[]) => void events.push({ event, args }),
  } as unknown as ProfileContext;
  for (const r of [ROOM, OTHER_ROOM]) db.insertRoom({ roomUri: r, name: r, hubDomain: 'a.example', epoch: 1n, groupState: new Uint8Array([1]) });
  const say = (room: string, sender: string, text: string) => {
    const content = encodeContent(textMessage({ senderUri: sender, roomUri: room, text }));
    return db.insertMessage({ roomUri: room, messageId: toHex(messageId(content)), sender, content, timestamp: Date.now(), status: sender === ALICE_U ? 'sent' : 'received' }, false)!;
  };
  const receipts = new Receipts(ctx, {} as Outbox, (roomUri, id) => ({ messageId: id, roomUri }) as MessageView);
  const report = (sender: string, room: string, entries: [string, number][]) => {
    const after = db.tx(() => receipts.onReport(room, sender, encodeMessageStatusReport(entries.map(([id, status]) => ({ messageId: fromHex(id), status }))), Date.now()));
    after?.();
  };
  const shown = (room: string, id: string) => ownReceipts(ctx, room, [db.messageById(room, id)!], ALICE_U).get(id);
  return { db, ctx, events, say, receipts, report, shown };
}

test('folding reports: only members, only our messages in that room, status never goes back', async () => {
  const { db, events, say, receipts, report, shown } = await foldContext();
  try {
    const mine = say(ROOM, ALICE_U, 'mine');
    const theirs = say(ROOM, BOB_U, 'theirs');
    const elsewhere = say(OTHER_ROOM, ALICE_U, 'elsewhere');
    assert.deepEqual(shown(ROOM, mine.messageId), { delivered: [], read: [], of: 1 });

    // Out of order: read arrives first; the later delivered changes nothing.
    report(BOB_U, ROOM, [[mine.messageId, MessageStatus.read]]);
    assert.deepEqual(shown(ROOM, mine.messageId), { delivered: [], read: [BOB_U], of: 1 });
    assert.deepEqual(events.map((e) => e.event), ['message']);
    assert.equal((events[0].args[0] as MessageView).changed, true);
    report(BOB_U, ROOM, [[mine.messageId, MessageStatus.delivered]]);
    assert.deepEqual(shown(ROOM, mine.messageId), { delivered: [], read: [BOB_U], of: 1 }, 'read stays read');
    assert.equal(events.length, 1, 'nothing changed, nothing emitted');

    // Not counted: someone not in the group, a message of someone else, a message of another room,
    // an id we do not have, statuses other than delivered and read.
    report('mimi://c.example/u/mallory', ROOM, [[mine.messageId, MessageStatus.read]]);
    report(BOB_U, ROOM, [[theirs.messageId, MessageStatus.read]]);
    report(BOB_U, ROOM, [[elsewhere.messageId, MessageStatus.read]]);
    report(BOB_U, ROOM, [['ab'.repeat(32), MessageStatus.read]]);
    report(BOB_U, OTHER_ROOM, [[elsewhere.messageId, MessageStatus.deleted]]);
    assert.deepEqual(db.receiptsOf(ROOM, [theirs.messageId, elsewhere.messageId, 'ab'.repeat(32)]).size, 0);
    assert.equal(db.receiptsOf(OTHER_ROOM, [elsewhere.messageId]).size, 0);
    assert.deepEqual(db.receiptsOf(ROOM, [mine.messageId]).get(mine.messageId), [{ reporter: BOB_U, status: 2 }]);
    assert.equal(events.length, 1);

    // Our own other device reports nothing to us; a malformed report is refused with a warning.
    report(ALICE_U, OTHER_ROOM, [[elsewhere.messageId, MessageStatus.read]]);
    assert.equal(db.receiptsOf(OTHER_ROOM, [elsewhere.messageId]).size, 0);
    const after = db.tx(() => receipts.onReport(ROOM, BOB_U, new Uint8Array([0xa0]), Date.now()));
    assert.equal(after, undefined);
    assert.match(String(events.at(-1)?.args[0]), /receipt from bob@b.example was ignored: MessageStatusReport: must be a CBOR array/);

    // Read receipts switched off here: reads arriving now count as delivered, and none is shown as read.
    receipts.setPrivacy({ readReceipts: false });
    assert.deepEqual(shown(ROOM, mine.messageId), { delivered: [BOB_U], read: [], of: 1 });
    const second = say(OTHER_ROOM, ALICE_U, 'second');
    report(BOB_U, OTHER_ROOM, [[second.messageId, MessageStatus.read]]);
    assert.deepEqual(db.receiptsOf(OTHER_ROOM, [second.messageId]).get(second.messageId), [{ reporter: BOB_U, status: 1 }]);
    // Both kinds off: nothing kept, nothing shown.
    receipts.setPrivacy({ deliveryReceipts: false });
    assert.equal(shown(ROOM, mine.messageId), undefined);
    const third = say(OTHER_ROOM, ALICE_U, 'third');
    report(BOB_U, OTHER_ROOM, [[third.messageId, MessageStatus.read]]);
    assert.equal(db.receiptsOf(OTHER_ROOM, [third.messageId]).size, 0);
    // The switches are kept in the database; a bad switch changes nothing.
    assert.deepEqual(receipts.privacy(), { deliveryReceipts: false, readReceipts: false, typing: true });
    assert.throws(() => receipts.setPrivacy({ readReceipts: true, typing: 'yes' as never }), /typing must be true \(on\) or false \(off\)/);
    assert.throws(() => receipts.setPrivacy({ loud: true } as never), /no privacy switch “loud”/);
    assert.deepEqual(receipts.privacy(), { deliveryReceipts: false, readReceipts: false, typing: true });
  } finally {
    db.close();
  }
});

test('typing: an indicator older than its lifetime on arrival is dropped; a fresh one lasts what is left of it', async () => {
  const { db, ctx, events } = await foldContext();
  try {
    let now = 1_000_000;
    const typing = new Typing(ctx, {} as Outbox, () => now);
    typing.onIndicator(ROOM, BOB_U, { typing: true, lifetime: 6 }, now - 7000); // queued somewhere for 7 s
    assert.deepEqual(typing.typingIn(ROOM), []);
    assert.equal(events.length, 0);
    typing.onIndicator(ROOM, BOB_U, { typing: true, lifetime: 6 }, now - 1000);
    assert.deepEqual(typing.typingIn(ROOM), [BOB_U]);
    assert.deepEqual(events.at(-1)?.args, [ROOM, [BOB_U]]);
    typing.onMessage(ROOM, BOB_U);
    assert.deepEqual(events.at(-1)?.args, [ROOM, []]);
    // Switched off: nothing shown.
    db.setPrivacySwitch('typing', false);
    now += 10;
    typing.onIndicator(ROOM, BOB_U, { typing: true, lifetime: 6 }, now);
    assert.deepEqual(typing.typingIn(ROOM), []);
    typing.stop();
  } finally {
    db.close();
  }
});
