import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_VARINT, TlsError, TlsReader, TlsWriter, decodeTls, decodeVarint, encodeTls, encodeVarint } from '../../src-shared/tls.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';

test('varints use the shortest of 1, 2 or 4 bytes (RFC 9000 §A.1 style examples)', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [37, '25'],
    [63, '3f'],
    [64, '4040'],
    [15293, '7bbd'],
    [16383, '7fff'],
    [16384, '80004000'],
    [494878333, '9d7f3e7d'],
    [MAX_VARINT, 'bfffffff'],
  ];
  for (const [n, h] of cases) {
    assert.equal(toHex(encodeVarint(n)), h, `encode ${n}`);
    assert.deepStrictEqual(decodeVarint(fromHex(h)), { value: n, length: h.length / 2 });
  }
  assert.deepStrictEqual(decodeVarint(fromHex('ff7bbd'), 1), { value: 15293, length: 2 });
});

test('varint errors: out of range, 8-byte form, non-minimal, truncated', () => {
  for (const n of [-1, 1.5, MAX_VARINT + 1, NaN]) assert.throws(() => encodeVarint(n), TlsError);
  assert.throws(() => decodeVarint(fromHex('c000000000000000')), /8-byte/);
  assert.throws(() => decodeVarint(fromHex('4025')), /non-minimal/);
  assert.throws(() => decodeVarint(fromHex('80003fff')), /non-minimal/);
  assert.throws(() => decodeVarint(fromHex('80000001')), /non-minimal/);
  assert.throws(() => decodeVarint(fromHex('40')), /truncated/);
  assert.throws(() => decodeVarint(fromHex('800000')), /truncated/);
  assert.throws(() => decodeVarint(new Uint8Array(0)), /truncated/);
});

test('fixed-width integers are big-endian and range-checked', () => {
  const bytes = new TlsWriter().u8(0xab).u16(0x0102).u32(0xfffffffe).u64(0x0102030405060708n).finish();
  assert.equal(toHex(bytes), 'ab' + '0102' + 'fffffffe' + '0102030405060708');
  const r = new TlsReader(bytes);
  assert.equal(r.u8(), 0xab);
  assert.equal(r.u16(), 0x0102);
  assert.equal(r.u32(), 0xfffffffe);
  assert.equal(r.u64(), 0x0102030405060708n);
  r.done();
  const w = new TlsWriter();
  assert.throws(() => w.u8(256), TlsError);
  assert.throws(() => w.u16(-1), TlsError);
  assert.throws(() => w.u32(2 ** 32), TlsError);
  assert.throws(() => w.u64(1n << 64n), TlsError);
  assert.throws(() => w.u64(-1n), TlsError);
  assert.throws(() => w.u64(5 as unknown as bigint), TlsError);
  assert.equal(w.length, 0, 'a rejected write leaves the writer unchanged');
  assert.equal(new TlsReader(fromHex('ffffffffffffffff')).u64(), (1n << 64n) - 1n);
});

test('opaque<V> round-trips across the 1/2/4-byte prefix boundaries', () => {
  for (const n of [0, 1, 63, 64, 16383, 16384, 70000]) {
    const data = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
    const enc = encodeTls((w) => w.opaqueV(data));
    const prefix = n < 64 ? 1 : n < 16384 ? 2 : 4;
    assert.equal(enc.length, prefix + n);
    assert.deepStrictEqual(decodeTls(enc, (r) => r.opaqueV()), data);
  }
});

interface Pair {
  id: number;
  name: Uint8Array;
}
const writePair = (w: TlsWriter, p: Pair): void => {
  w.u16(p.id).opaqueV(p.name);
};
const readPair = (r: TlsReader): Pair => ({ id: r.u16(), name: r.opaqueV() });

test('vector<V> length counts bytes, items are parsed until it is used up', () => {
  const items: Pair[] = [
    { id: 1, name: fromHex('aa') },
    { id: 515, name: new Uint8Array(0) },
  ];
  const enc = encodeTls((w) => w.vector(items, writePair).u8(9));
  // 0x07 = (2+1+1) + (2+1+0) bytes of items
  assert.equal(toHex(enc), '07' + '0001' + '01aa' + '0203' + '00' + '09');
  const r = new TlsReader(enc);
  assert.deepStrictEqual(r.vector(readPair), items);
  assert.equal(r.remaining, 1);
  assert.equal(r.u8(), 9);
  r.done();
  assert.deepStrictEqual(decodeTls(fromHex('00'), (x) => x.vector(readPair)), []);
});

test('vector<V> rejects an item that overruns the declared length', () => {
  // Declared 3 bytes, but the item needs u16 + a 1-byte opaque with 1 byte of data = 4 bytes.
  assert.throws(() => decodeTls(fromHex('03' + '0001' + '01aa'), (r) => r.vector(readPair)), /truncated/);
  // Declared length longer than the input.
  assert.throws(() => decodeTls(fromHex('05' + '0001'), (r) => r.vector(readPair)), /truncated/);
  // A reader that consumes nothing would never terminate.
  assert.throws(() => decodeTls(fromHex('0100'), (r) => r.vector(() => 0)), /consumed no bytes/);
});

test('optional<T> uses a 0/1 presence octet and rejects anything else', () => {
  const some = encodeTls((w) => w.optional(7, (x, v) => x.u32(v)));
  const none = encodeTls((w) => w.optional<number>(undefined, (x, v) => x.u32(v)));
  assert.equal(toHex(some), '0100000007');
  assert.equal(toHex(none), '00');
  assert.equal(decodeTls(some, (r) => r.optional((x) => x.u32())), 7);
  assert.equal(decodeTls(none, (r) => r.optional((x) => x.u32())), undefined);
  assert.throws(() => decodeTls(fromHex('0200000007'), (r) => r.optional((x) => x.u32())), /presence/);
});

test('reader errors: truncation, trailing bytes, non-minimal length prefixes', () => {
  assert.throws(() => new TlsReader(fromHex('01')).u16(), /truncated/);
  assert.throws(() => new TlsReader(fromHex('010203')).u32(), /truncated/);
  assert.throws(() => new TlsReader(fromHex('00000000000000')).u64(), /truncated/);
  assert.throws(() => new TlsReader(fromHex('0a0102')).opaqueV(), /truncated/);
  assert.throws(() => new TlsReader(new Uint8Array(0)).opaqueV(), /truncated/);
  assert.throws(() => new TlsReader(fromHex('4001aa')).opaqueV(), /non-minimal/);
  assert.throws(() => new TlsReader(fromHex('c000000000000000')).opaqueV(), TlsError);
  assert.throws(() => decodeTls(fromHex('0102'), (r) => r.u8()), /trailing/);
  assert.throws(() => new TlsReader(fromHex('01')).bytes(2), /truncated/);
  assert.deepStrictEqual(new TlsReader(fromHex('0102')).bytes(2), fromHex('0102'));
});

test('decoded byte fields are copies, not views of the input', () => {
  const input = fromHex('02abcd');
  const out = decodeTls(input, (r) => r.opaqueV());
  input[1] = 0;
  assert.equal(toHex(out), 'abcd');
});

test('a nested structure round-trips', () => {
  interface Thing {
    version: number;
    epoch: bigint;
    groups: Pair[][];
    note?: Uint8Array;
  }
  const write = (w: TlsWriter, t: Thing): void => {
    w.u16(t.version)
      .u64(t.epoch)
      .vector(t.groups, (x, g) => x.vector(g, writePair))
      .optional(t.note, (x, n) => x.opaqueV(n));
  };
  const read = (r: TlsReader): Thing => ({
    version: r.u16(),
    epoch: r.u64(),
    groups: r.vector((x) => x.vector(readPair)),
    note: r.optional((x) => x.opaqueV()),
  });
  const t: Thing = {
    version: 1,
    epoch: 12345678901234n,
    groups: [[{ id: 1, name: new Uint8Array(100).fill(3) }], [], [{ id: 2, name: fromHex('00') }, { id: 3, name: fromHex('') }]],
    note: fromHex('beef'),
  };
  const bytes = encodeTls((w) => write(w, t));
  assert.deepStrictEqual(decodeTls(bytes, read), t);
  // Every strict prefix is rejected.
  for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decodeTls(bytes.subarray(0, cut), read), TlsError);
});
