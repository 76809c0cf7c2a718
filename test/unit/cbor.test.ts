import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CborError, CborTag, MAX_CBOR_DEPTH, cborEqual, decodeCbor, encodeCbor, type CborValue } from '../../src-shared/cbor.js';
import { fromHex, toHex } from '../../src-shared/bytes.js';

const hex = (v: CborValue): string => toHex(encodeCbor(v));
const dec = (h: string): CborValue => decodeCbor(fromHex(h));
const rejects = (h: string, pattern?: RegExp): void => {
  assert.throws(() => dec(h), (e: unknown) => e instanceof CborError && (!pattern || pattern.test(e.message)), h);
};

// RFC 8949 Appendix A examples whose encoding is also the deterministic one under our data model.
const APPENDIX_A: [CborValue, string][] = [
  [0, '00'],
  [1, '01'],
  [10, '0a'],
  [23, '17'],
  [24, '1818'],
  [25, '1819'],
  [100, '1864'],
  [1000, '1903e8'],
  [1000000, '1a000f4240'],
  [1000000000000, '1b000000e8d4a51000'],
  [18446744073709551615n, '1bffffffffffffffff'],
  [18446744073709551616n, 'c249010000000000000000'],
  [-18446744073709551616n, '3bffffffffffffffff'],
  [-18446744073709551617n, 'c349010000000000000000'],
  [-1, '20'],
  [-10, '29'],
  [-100, '3863'],
  [-1000, '3903e7'],
  [-0, 'f98000'],
  [1.1, 'fb3ff199999999999a'],
  [1.5, 'f93e00'],
  [100000.5, 'fa47c35040'],
  [3.4028234663852886e38, 'fa7f7fffff'],
  [1.0e300, 'fb7e37e43c8800759c'],
  [5.960464477539063e-8, 'f90001'],
  [0.00006103515625, 'f90400'],
  [-4.1, 'fbc010666666666666'],
  [Infinity, 'f97c00'],
  [NaN, 'f97e00'],
  [-Infinity, 'f9fc00'],
  [false, 'f4'],
  [true, 'f5'],
  [null, 'f6'],
  [undefined, 'f7'],
  [new CborTag(0, '2013-03-21T20:04:00Z'), 'c074323031332d30332d32315432303a30343a30305a'],
  [new CborTag(1, 1363896240), 'c11a514b67b0'],
  [new CborTag(1, 1363896240.5), 'c1fb41d452d9ec200000'],
  [new CborTag(23, fromHex('01020304')), 'd74401020304'],
  [new CborTag(24, fromHex('6449455446')), 'd818456449455446'],
  [new CborTag(32, 'http://www.example.com'), 'd82076687474703a2f2f7777772e6578616d706c652e636f6d'],
  [new Uint8Array(0), '40'],
  [fromHex('01020304'), '4401020304'],
  ['', '60'],
  ['a', '6161'],
  ['IETF', '6449455446'],
  ['"\\', '62225c'],
  ['\u00fc', '62c3bc'],
  ['\u6c34', '63e6b0b4'],
  ['\ud800\udd51', '64f0908591'],
  [[], '80'],
  [[1, 2, 3], '83010203'],
  [[1, [2, 3], [4, 5]], '8301820203820405'],
  [
    Array.from({ length: 25 }, (_, i) => i + 1),
    '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
  ],
  [new Map(), 'a0'],
  [
    new Map<CborValue, CborValue>([
      [1, 2],
      [3, 4],
    ]),
    'a201020304',
  ],
  [
    new Map<CborValue, CborValue>([
      ['a', 1],
      ['b', [2, 3]],
    ]),
    'a26161016162820203',
  ],
  [['a', new Map([['b', 'c']])], '826161a161626163'],
];

test('encodes the RFC 8949 Appendix A examples and decodes them back to equal values', () => {
  for (const [value, expected] of APPENDIX_A) {
    assert.equal(hex(value), expected, `encode ${String(value)}`);
    const back = dec(expected);
    assert.deepStrictEqual(back, value, `decode ${expected}`);
    assert.equal(hex(back), expected);
  }
});

test('integers: numbers within the safe range, bigints outside it', () => {
  assert.equal(dec('1b001fffffffffffff'), Number.MAX_SAFE_INTEGER);
  assert.equal(dec('1b0020000000000000'), 2n ** 53n);
  assert.equal(dec('3b001ffffffffffffe'), -Number.MAX_SAFE_INTEGER);
  assert.equal(dec('3b001fffffffffffff'), -(2n ** 53n));
  // A bigint that fits is written as a plain integer, so it reads back as a number.
  assert.equal(hex(5n), '05');
  assert.equal(dec(hex(-5n)), -5);
  // Integral numbers beyond the safe range are not integers in this data model: they are floats.
  assert.equal(hex(2 ** 60), 'fa5d800000');
  assert.equal(dec('fa5d800000'), 2 ** 60);
  const huge = -(2n ** 100n) + 7n;
  assert.equal(dec(hex(huge)), huge);
});

test('map keys are sorted by bytewise order of their encodings (not length-first)', () => {
  const m = new Map<CborValue, CborValue>([
    ['aa', 0], // 626161
    ['b', 0], // 6162
    [-1, 0], // 20
    [100, 0], // 1864
    [fromHex('00'), 0], // 4100
    [10, 0], // 0a
  ]);
  assert.equal(hex(m), 'a6' + '0a00' + '186400' + '2000' + '410000' + '616200' + '62616100');
  const back = dec(hex(m)) as Map<CborValue, CborValue>;
  assert.deepStrictEqual([...back.keys()].slice(0, 4), [10, 100, -1, fromHex('00')]);
  // integer keys survive as numbers so lookups work
  assert.equal(back.get(100), 0);
});

test('encoder rejects values outside the data model', () => {
  const dupKeys = new Map<CborValue, CborValue>([
    [fromHex('01'), 1],
    [fromHex('01'), 2],
  ]);
  assert.throws(() => encodeCbor(dupKeys), /duplicate map key/);
  assert.throws(() => encodeCbor('a\ud800b'), CborError);
  assert.throws(() => encodeCbor('\udc00'), CborError);
  assert.throws(() => encodeCbor({} as unknown as CborValue), CborError);
  assert.throws(() => encodeCbor((() => 1) as unknown as CborValue), CborError);
  assert.throws(() => encodeCbor(new CborTag(2, fromHex('01'))), CborError);
  assert.throws(() => encodeCbor(new CborTag(1.5, 0)), CborError);
  assert.throws(() => encodeCbor(new CborTag(-1, 0)), CborError);
  const cyclic: CborValue[] = [];
  cyclic.push(cyclic);
  assert.throws(() => encodeCbor(cyclic), /nesting deeper/);
});

function nested(depth: number): CborValue {
  let v: CborValue = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

test('nesting: 64 levels are fine, 65 are rejected on encode and decode', () => {
  assert.equal(MAX_CBOR_DEPTH, 64);
  const ok = encodeCbor(nested(64));
  assert.deepStrictEqual(decodeCbor(ok), nested(64));
  assert.throws(() => encodeCbor(nested(65)), CborError);
  rejects('81'.repeat(65) + '00', /nesting/);
  // maps and tags count as levels too
  rejects('a100'.repeat(65) + '00', /nesting/);
  rejects('c1'.repeat(65) + '00', /nesting/);
});

test('decoder rejects truncated input at every cut point', () => {
  const full = encodeCbor([1, 'text', fromHex('abcdef'), new Map([[1, [2.5, 1000000, -70000]]]), new CborTag(99, null)]);
  for (let cut = 0; cut < full.length; cut++) {
    assert.throws(() => decodeCbor(full.subarray(0, cut)), CborError, `prefix of ${cut} bytes`);
  }
  assert.doesNotThrow(() => decodeCbor(full));
});

test('decoder rejects trailing bytes', () => {
  rejects('0000', /trailing/);
  rejects('8001', /trailing/);
});

test('decoder rejects indefinite lengths and stray breaks', () => {
  for (const h of ['5f41014102ff', '7f6161ff', '9f01ff', 'bf0101ff', 'ff', '1f', '3f']) rejects(h, /indefinite/);
  for (const h of ['1c', '3d', '5e', 'fc', 'fd', 'fe']) rejects(h, /reserved/);
});

test('decoder rejects non-shortest integers, lengths and tags', () => {
  for (const h of [
    '1817',
    '190017',
    '1900ff',
    '1a0000ffff',
    '1b00000000ffffffff',
    '3817',
    '5801ff',
    '780161',
    '9801' + '00',
    'b80100' + '00',
    'd80100',
    'd9001800',
  ]) {
    rejects(h, /non-shortest/);
  }
});

test('decoder rejects floats that are not in shortest or canonical form', () => {
  rejects('fa3fc00000', /non-shortest/); // 1.5 as f32
  rejects('fb3ff8000000000000', /non-shortest/); // 1.5 as f64
  rejects('fb47efffffe0000000', /non-shortest/); // f32 max as f64
  rejects('fb8000000000000000', /non-shortest/); // -0 as f64
  rejects('f97e01', /NaN/);
  rejects('f97c01', /NaN/);
  rejects('fa7fc00000', /NaN/);
  rejects('fb7ff8000000000000', /NaN/);
  rejects('f93c00', /integer value/); // 1.0
  rejects('f90000', /integer value/); // +0.0
  rejects('fa47c35000', /integer value/); // 100000.0
});

test('decoder enforces strict UTF-8 but keeps a leading BOM', () => {
  for (const h of ['61ff', '62c328', '62c0af', '63eda080', '64f4908080', '62e282']) rejects(h, /UTF-8/);
  const bom = dec('63efbbbf');
  assert.equal(bom, '\ufeff');
  assert.equal(hex(bom), '63efbbbf');
});

test('decoder rejects lengths beyond the input without allocating for them', () => {
  for (const h of ['5affffffff', '7bffffffffffffffff', '9bffffffffffffffff', 'bbffffffffffffffff', '9a7fffffff00']) {
    rejects(h, /truncated/);
  }
});

test('decoder rejects duplicate and unsorted map keys', () => {
  rejects('a201010102', /duplicate/);
  rejects('a2616100616100', /duplicate/);
  rejects('a202000100', /order/);
  rejects('a2616200616100', /order/);
  rejects('a22000186400', /order/); // {-1: 0, 100: 0}: length-first order, not bytewise
  rejects('a1f9800001', /-0/); // a JS Map would turn the key into +0
  assert.deepStrictEqual(
    dec('a201000200'),
    new Map([
      [1, 0],
      [2, 0],
    ]),
  );
});

test('decoder rejects simple values other than false/true/null/undefined', () => {
  for (const h of ['e0', 'f3', 'f800', 'f818', 'f820', 'f8ff']) rejects(h);
});

test('bignum tags must be minimal and out of the 64-bit range', () => {
  rejects('c240', /leading zero/);
  rejects('c24a00010000000000000000', /leading zero/);
  rejects('c2420100', /fits/);
  rejects('c348ffffffffffffffff', /fits/);
  rejects('c26161', /byte string/);
  assert.equal(dec('c349010000000000000000'), -(2n ** 64n) - 1n);
});

test('tag numbers up to 2^64-1 survive, as bigint beyond the safe range', () => {
  const t = new CborTag(2n ** 64n - 1n, null);
  assert.equal(hex(t), 'dbfffffffffffffffff6');
  assert.deepStrictEqual(dec('dbfffffffffffffffff6'), t);
  assert.deepStrictEqual(dec('d9fffff6'), new CborTag(65535, null));
});

test('cborEqual compares by deterministic encoding', () => {
  const a = new Map<CborValue, CborValue>([
    ['x', fromHex('01')],
    [1, [true]],
  ]);
  const b = new Map<CborValue, CborValue>([
    [1, [true]],
    ['x', fromHex('01')],
  ]);
  assert.equal(cborEqual(a, b), true);
  assert.equal(cborEqual(a, new Map([[1, [false]]])), false);
});

// Deterministic pseudo-random source so failures reproduce.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

test('any input the decoder accepts re-encodes to exactly the same bytes', () => {
  const rand = rng(0xc0ffee);
  const seeds = APPENDIX_A.map(([, h]) => fromHex(h));
  let accepted = 0;
  for (let i = 0; i < 30000; i++) {
    let input: Uint8Array;
    if (i % 2 === 0) {
      input = Uint8Array.from({ length: 1 + Math.floor(rand() * 12) }, () => Math.floor(rand() * 256));
    } else {
      input = seeds[Math.floor(rand() * seeds.length)].slice();
      const flips = 1 + Math.floor(rand() * 2);
      for (let f = 0; f < flips; f++) input[Math.floor(rand() * input.length)] = Math.floor(rand() * 256);
    }
    let value: CborValue;
    try {
      value = decodeCbor(input);
    } catch (e) {
      assert.ok(e instanceof CborError, `non-CborError ${String(e)} for ${toHex(input)}`);
      continue;
    }
    accepted++;
    assert.equal(toHex(encodeCbor(value)), toHex(input));
  }
  assert.ok(accepted > 1000, `only ${accepted} inputs were accepted`);
});
