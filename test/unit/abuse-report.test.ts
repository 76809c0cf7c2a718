// The AbuseReport body of POST /reportAbuse/{roomId} (draft-ietf-mimi-protocol-06 "Report abuse"),
// with its AbusiveMessage and Frank parts: round trips with and without messages, franks and
// extensions, the exact bytes of a report built by hand, byte-exact re-encoding, every truncation
// and a trailing byte refused, every single-byte corruption either decoding or refused with
// MimiWireError, and the bad values the codec must refuse both ways (URIs and notes that are not
// UTF-8, a reasonCode outside uint8, a frank of the wrong size, unsorted extensions).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeAbuseReport,
  decodeFrank,
  encodeAbuseReport,
  encodeAppDataDictionary,
  encodeFrank,
  MimiWireError,
  type AbuseReport,
  type AbusiveMessage,
  type Fields,
  type Frank,
} from '../../src-shared/mimi-protocol.js';
import { encodeContent, textMessage } from '../../src-shared/content.js';
import { encodeVarint } from '../../src-shared/tls.js';
import { concatBytes, fromHex, toHex, utf8 } from '../../src-shared/bytes.js';

const ROOM = 'mimi://a.example/r/clubhouse';
const REPORTER = 'mimi://b.example/u/bob';
const ALLEGED = 'mimi://a.example/u/mallory';

const isMimiError = (structure?: string, field?: string, path?: RegExp) => (e: unknown) =>
  e instanceof MimiWireError && (!structure || e.structure === structure) && (!field || e.field === field) && (!path || path.test(e.path));

/** `opaque x<V>` */
const opaque = (b: Uint8Array): Uint8Array => concatBytes(encodeVarint(b.length), b);
const u16 = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);
function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

/**
 * Byte-exact re-encoding; every truncation and a trailing byte fail with MimiWireError; every
 * single-byte corruption either decodes or fails with MimiWireError (never another error).
 */
function checkWire(bytes: Uint8Array): AbuseReport {
  const value = decodeAbuseReport(bytes);
  assert.equal(toHex(encodeAbuseReport(value)), toHex(bytes), 're-encoding is byte-exact');
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(
      () => decodeAbuseReport(bytes.subarray(0, cut)),
      (e: unknown) => e instanceof MimiWireError && e.path.startsWith('AbuseReport.'),
      `cut at ${cut}/${bytes.length}`,
    );
  }
  assert.throws(() => decodeAbuseReport(concatBytes(bytes, Uint8Array.of(0))), isMimiError('AbuseReport', '(end)'), 'a trailing byte');
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x40, 0x80, 0xff]) {
      const bad = bytes.slice();
      bad[i] ^= mask;
      try {
        decodeAbuseReport(bad);
      } catch (e) {
        assert.ok(e instanceof MimiWireError, `corrupting byte ${i} with ${mask} threw ${String(e)}`);
      }
    }
  }
  return value;
}

function frank(seed: number): Frank {
  return {
    serverFrank: new Uint8Array(32).map((_, i) => (seed + i) & 0xff),
    frankingSignatureCiphersuite: 0x0001,
    frankingIntegritySignature: new Uint8Array(64).fill(seed),
  };
}

const content = (text: string) => encodeContent(textMessage({ senderUri: ALLEGED, roomUri: ROOM, text }));

function abusive(text: string, seed: number, acceptedTimestamp: bigint): AbusiveMessage {
  return { messageContent: content(text), frank: frank(seed), acceptedTimestamp };
}

function report(over: Partial<Fields<AbuseReport>> = {}): Fields<AbuseReport> {
  return { reportingUser: REPORTER, allegedAbuserUri: ALLEGED, reasonCode: 0, note: '', messages: [], abuseExtensions: [], ...over };
}

// ---------------------------------------------------------------------------------------------

test('a note-only report (no messages, no extensions): the exact bytes, and back', () => {
  const note = 'spam links, over and over — again';
  const bytes = encodeAbuseReport(report({ note, reasonCode: 7 }));
  const byHand = concatBytes(
    opaque(utf8(REPORTER)), // IdentifierUri reportingUser
    opaque(utf8(ALLEGED)), // IdentifierUri allegedAbuserUri
    Uint8Array.of(7), // AbuseType reasonCode (uint8)
    opaque(utf8(note)), // opaque note<V>
    Uint8Array.of(0), // AbusiveMessage messages<V>: empty
    Uint8Array.of(0), // AppDataDictionary abuse_extensions: component_data<V> empty
  );
  assert.equal(toHex(bytes), toHex(byHand));
  assert.deepStrictEqual(checkWire(bytes), report({ note, reasonCode: 7 }));
});

test('a note that starts with a byte-order mark keeps it, so the report re-encodes to the same bytes', () => {
  const report = { reportingUser: 'mimi://b.example/u/bob', allegedAbuserUri: 'mimi://a.example/u/mallory', reasonCode: 0, note: '\ufeffhi', messages: [], abuseExtensions: [] };
  const bytes = encodeAbuseReport(report);
  const back = decodeAbuseReport(bytes);
  assert.equal(back.note, '\ufeffhi');
  assert.deepEqual(encodeAbuseReport(back), bytes);
});

test('the smallest report: empty note, reason 0', () => {
  const bytes = encodeAbuseReport(report());
  assert.equal(bytes.length, 1 + utf8(REPORTER).length + 1 + utf8(ALLEGED).length + 1 + 1 + 1 + 1);
  assert.deepStrictEqual(checkWire(bytes), report());
});

test('a report with messages, their franks, and extensions: the exact bytes, and back', () => {
  const messages = [abusive('buy cheap stuff at https://spam.example', 1, 1_700_000_000_123n), abusive('and again', 2, 0xffff_ffff_ffff_ffffn)];
  const abuseExtensions = [
    { componentId: 0x0001, data: Uint8Array.of(1, 2, 3) },
    { componentId: 0x8000, data: new Uint8Array(0) },
    { componentId: 0xffff, data: utf8('vendor data') },
  ];
  const value = report({ reasonCode: 255, note: 'two messages', messages, abuseExtensions });
  const bytes = encodeAbuseReport(value);

  const messageBytes = (m: AbusiveMessage) =>
    concatBytes(
      opaque(m.messageContent),
      m.frank.serverFrank, // uint8 server_frank[32]: no length prefix
      u16(m.frank.frankingSignatureCiphersuite),
      opaque(m.frank.frankingIntegritySignature),
      u64(m.acceptedTimestamp),
    );
  const byHand = concatBytes(
    opaque(utf8(REPORTER)),
    opaque(utf8(ALLEGED)),
    Uint8Array.of(255),
    opaque(utf8('two messages')),
    opaque(concatBytes(...messages.map(messageBytes))),
    encodeAppDataDictionary(abuseExtensions),
  );
  assert.equal(toHex(bytes), toHex(byHand));
  // The Frank inside is the Frank struct on its own.
  assert.equal(toHex(messageBytes(messages[0]).subarray(opaque(messages[0].messageContent).length, -8)), toHex(encodeFrank(messages[0].frank)));
  assert.deepStrictEqual(decodeFrank(encodeFrank(messages[1].frank)), messages[1].frank);

  const back = checkWire(bytes);
  assert.deepStrictEqual(back, value);
  assert.equal(back.messages[1].acceptedTimestamp, 0xffff_ffff_ffff_ffffn, 'uint64 in full');
});

test('each optional part alone: only messages, only extensions, a message with an empty content', () => {
  const onlyMessages = report({ messages: [abusive('x', 9, 1n)] });
  assert.deepStrictEqual(checkWire(encodeAbuseReport(onlyMessages)), onlyMessages);
  const onlyExtensions = report({ abuseExtensions: [{ componentId: 42, data: Uint8Array.of(0xff) }] });
  assert.deepStrictEqual(checkWire(encodeAbuseReport(onlyExtensions)), onlyExtensions);
  const emptyContent = report({ messages: [{ messageContent: new Uint8Array(0), frank: frank(0), acceptedTimestamp: 0n }] });
  assert.deepStrictEqual(checkWire(encodeAbuseReport(emptyContent)), emptyContent);
  // 16 messages (the hub's limit) and a 4 KiB note (its limit) are just data to the codec.
  const big = report({ note: 'é'.repeat(2048), messages: Array.from({ length: 17 }, (_, i) => abusive(`m${i}`, i, BigInt(i))) });
  const back = decodeAbuseReport(encodeAbuseReport(big));
  assert.equal(back.messages.length, 17);
  assert.equal(utf8(back.note).length, 4096);
});

test('notes: any UTF-8 text (empty, multi-byte, NUL, long) round-trips', () => {
  for (const note of ['', 'plain', 'emoji 😀 and ünïcödé', 'with\u0000nul', 'x'.repeat(70_000)]) {
    const bytes = encodeAbuseReport(report({ note }));
    assert.equal(decodeAbuseReport(bytes).note, note, JSON.stringify(note.slice(0, 20)));
    assert.equal(toHex(encodeAbuseReport(decodeAbuseReport(bytes))), toHex(bytes));
  }
});

test('a note that is not UTF-8 is refused (decoding), and one that is not well-formed Unicode (encoding)', () => {
  const good = encodeAbuseReport(report({ note: 'ab' }));
  const noteAt = 1 + utf8(REPORTER).length + 1 + utf8(ALLEGED).length + 1;
  assert.equal(toHex(good.subarray(noteAt, noteAt + 3)), '026162');
  for (const bad of ['c328', 'ff', 'eda080' /* a surrogate */, 'c0af' /* overlong */, 'f4908080' /* above U+10FFFF */, 'e282']) {
    const b = fromHex(bad);
    const bytes = concatBytes(good.subarray(0, noteAt), opaque(b), good.subarray(noteAt + 3));
    assert.throws(() => decodeAbuseReport(bytes), isMimiError('AbuseReport', 'note', /^AbuseReport\.note$/), bad);
  }
  assert.throws(() => encodeAbuseReport(report({ note: 'lone \ud800 surrogate' })), isMimiError('AbuseReport', 'note'));
  assert.throws(() => encodeAbuseReport(report({ note: 5 as never })), isMimiError('AbuseReport', 'note'));
  assert.throws(() => encodeAbuseReport(report({ note: undefined as never })), isMimiError('AbuseReport', 'note'));
});

test('URIs that are not UTF-8 text are refused, each attributed to its field', () => {
  const good = encodeAbuseReport(report());
  const reporterLen = 1 + utf8(REPORTER).length;
  const badUri = opaque(fromHex('6d696d69c328')); // "mimi" then an invalid sequence
  const badReporter = concatBytes(badUri, good.subarray(reporterLen));
  assert.throws(() => decodeAbuseReport(badReporter), isMimiError('IdentifierUri', 'uri', /^AbuseReport\.reportingUser > IdentifierUri\.uri$/));
  const allegedLen = 1 + utf8(ALLEGED).length;
  const badAlleged = concatBytes(good.subarray(0, reporterLen), badUri, good.subarray(reporterLen + allegedLen));
  assert.throws(() => decodeAbuseReport(badAlleged), isMimiError('IdentifierUri', 'uri', /^AbuseReport\.allegedAbuserUri > IdentifierUri\.uri$/));

  for (const field of ['reportingUser', 'allegedAbuserUri'] as const) {
    for (const v of ['mimi://b.example/u/\udc00', 5, null, undefined, utf8(REPORTER)]) {
      assert.throws(
        () => encodeAbuseReport(report({ [field]: v as never })),
        isMimiError('IdentifierUri', 'uri', new RegExp(`^AbuseReport\\.${field} > `)),
        `${field} = ${String(v)}`,
      );
    }
  }
});

test('reasonCode is a uint8: 0-255 encode, anything else is refused', () => {
  for (const ok of [0, 1, 128, 255]) assert.equal(decodeAbuseReport(encodeAbuseReport(report({ reasonCode: ok }))).reasonCode, ok);
  for (const bad of [-1, 256, 1000, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', 3n, null, undefined]) {
    assert.throws(() => encodeAbuseReport(report({ reasonCode: bad as never })), isMimiError('AbuseReport', 'reasonCode'), String(bad));
  }
  // On the wire every octet value is a reason (the draft's AbuseType has no taxonomy yet).
  const bytes = encodeAbuseReport(report());
  const at = 1 + utf8(REPORTER).length + 1 + utf8(ALLEGED).length;
  for (const v of [0x01, 0x7f, 0xfe, 0xff]) {
    const b = bytes.slice();
    b[at] = v;
    assert.equal(decodeAbuseReport(b).reasonCode, v);
  }
});

test('a Frank must be 32 bytes of server_frank; messages and timestamps must have their types', () => {
  for (const n of [0, 31, 33]) {
    const m = { ...abusive('x', 1, 1n), frank: { ...frank(1), serverFrank: new Uint8Array(n) } };
    assert.throws(() => encodeAbuseReport(report({ messages: [m] })), isMimiError('Frank', 'server_frank', /^AbuseReport\.messages\[0\] > AbusiveMessage\.frank > Frank\.server_frank$/), `${n} bytes`);
  }
  const later = [abusive('a', 1, 1n), { ...abusive('b', 2, 2n), acceptedTimestamp: 2 as never }];
  assert.throws(() => encodeAbuseReport(report({ messages: later })), isMimiError('AbusiveMessage', 'accepted_timestamp', /^AbuseReport\.messages\[1\] > /));
  assert.throws(() => encodeAbuseReport(report({ messages: [{ ...abusive('a', 1, 1n), messageContent: 'text' as never }] })), isMimiError('AbusiveMessage', 'message_content'));
  assert.throws(() => encodeAbuseReport(report({ messages: [{ ...abusive('a', 1, 1n), frank: undefined as never }] })), isMimiError('Frank'));
  assert.throws(() => encodeAbuseReport(report({ messages: [abusive('a', 1, -1n)] })), (e: unknown) => e instanceof MimiWireError && e.path.startsWith('AbuseReport.messages[0]'));
  assert.throws(() => encodeAbuseReport(report({ messages: [abusive('a', 1, 1n << 64n)] })), (e: unknown) => e instanceof MimiWireError && e.path.startsWith('AbuseReport.messages[0]'));
  assert.throws(() => encodeAbuseReport(report({ messages: 'none' as never })), isMimiError('AbuseReport', 'messages'));
  // Decoding: a message whose bytes end inside its Frank, with the messages vector's length agreeing.
  const one = encodeAbuseReport(report({ messages: [abusive('x', 1, 1n)] }));
  const vecAt = 1 + utf8(REPORTER).length + 1 + utf8(ALLEGED).length + 1 + 1;
  const inner = decodeVarintAt(one, vecAt);
  const itemStart = vecAt + inner.length;
  const shortItem = one.subarray(itemStart, itemStart + inner.value - 9); // drops 8 timestamp bytes + 1 signature byte
  const bytes = concatBytes(one.subarray(0, vecAt), opaque(shortItem), one.subarray(itemStart + inner.value));
  assert.throws(() => decodeAbuseReport(bytes), (e: unknown) => e instanceof MimiWireError && e.path.startsWith('AbuseReport.messages[0] > AbusiveMessage.'));
});

function decodeVarintAt(b: Uint8Array, at: number): { value: number; length: number } {
  const prefix = b[at] >> 6;
  const length = 1 << prefix;
  let value = b[at] & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + b[at + i];
  return { value, length };
}

test('abuse_extensions must be sorted by component_id without duplicates, both ways', () => {
  for (const exts of [
    [{ componentId: 2, data: new Uint8Array(0) }, { componentId: 1, data: new Uint8Array(0) }],
    [{ componentId: 5, data: Uint8Array.of(1) }, { componentId: 5, data: Uint8Array.of(2) }],
  ]) {
    assert.throws(() => encodeAbuseReport(report({ abuseExtensions: exts })), (e: unknown) => e instanceof MimiWireError && /sorted/.test(e.message));
    // The same dictionary put on the wire by hand.
    const entries = concatBytes(...exts.map((x) => concatBytes(u16(x.componentId), opaque(x.data))));
    const good = encodeAbuseReport(report());
    const bytes = concatBytes(good.subarray(0, good.length - 1), opaque(entries));
    assert.throws(() => decodeAbuseReport(bytes), (e: unknown) => e instanceof MimiWireError && e.path.startsWith('AbuseReport.abuse_extensions > AppDataDictionary.') && /sorted/.test(e.message));
  }
  assert.throws(() => encodeAbuseReport(report({ abuseExtensions: [{ componentId: 0x10000, data: new Uint8Array(0) }] })), (e: unknown) => e instanceof MimiWireError);
  assert.throws(() => encodeAbuseReport(report({ abuseExtensions: [{ componentId: 1, data: 'x' as never }] })), (e: unknown) => e instanceof MimiWireError);
});

test('not a report at all: wrong input types, empty input, and garbage', () => {
  assert.throws(() => decodeAbuseReport('bytes' as never), isMimiError('AbuseReport', '(input)'));
  const inReporter = isMimiError('IdentifierUri', 'uri', /^AbuseReport\.reportingUser > IdentifierUri\.uri$/);
  assert.throws(() => decodeAbuseReport(new Uint8Array(0)), inReporter);
  assert.throws(() => decodeAbuseReport(Uint8Array.of(0xc0)), inReporter); // 8-byte varint
  assert.throws(() => decodeAbuseReport(Uint8Array.of(0x40, 0x01)), inReporter); // non-minimal varint
  assert.throws(() => encodeAbuseReport(null as never), isMimiError('AbuseReport', '(value)'));
  assert.throws(() => encodeAbuseReport([] as never), isMimiError('AbuseReport', '(value)'));
  // Random bytes never escape as anything but MimiWireError.
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 300; i++) {
    const b = Uint8Array.from({ length: 1 + (i % 60) }, rand);
    try {
      decodeAbuseReport(b);
    } catch (e) {
      assert.ok(e instanceof MimiWireError, String(e));
    }
  }
});
