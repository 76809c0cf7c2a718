// The published MIMI vectors (interop-vectors/, `mimi interop vectors`): the checked-in files pass
// our decoders and encoders case by case, a fresh run writes the same structures and cases, and
// the checker notices a file that lies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkVectorDir, checkVectorFile, writeVectors, type VectorFile } from '../../src-main/interop/vectors-command.js';
import { canonicalJson, fromVectorJson, toVectorJson, VectorJsonError, type Json } from '../../src-main/interop/vector-json.js';
import { STRUCTURES } from '../../src-main/interop/vectors.js';

const PUBLISHED = path.resolve('interop-vectors');
const read = (dir: string, file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as VectorFile;
const structure = (name: string) => STRUCTURES.find((s) => s.name === name)!;

test('the published vectors: every structure has a file, every case decodes to its value and its value encodes to its bytes', () => {
  const r = checkVectorDir(PUBLISHED);
  assert.deepEqual(r.problems, []);
  assert.equal(r.checked, STRUCTURES.length);
  assert.ok(r.cases >= STRUCTURES.length, `${r.cases} cases`);
});

test('a fresh run writes the same structures and cases as the published ones (regenerate them when these change)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-vectors-'));
  try {
    const index = await writeVectors(dir);
    assert.deepEqual(checkVectorDir(dir).problems, []);
    const published = JSON.parse(fs.readFileSync(path.join(PUBLISHED, 'index.json'), 'utf8')) as typeof index;
    assert.deepEqual(index.files, published.files);
    for (const f of index.files) {
      assert.deepEqual(
        read(dir, f.file).cases.map((c) => c.name),
        read(PUBLISHED, f.file).cases.map((c) => c.name),
        f.file,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the checker catches a file whose bytes, value or length lie', () => {
  const file = read(PUBLISHED, 'UpdateRoomResponse.json');
  const st = structure('UpdateRoomResponse');
  assert.deepEqual(checkVectorFile(st, file), []);

  const flipped = structuredClone(file);
  const wrongEpoch = flipped.cases.find((c) => c.name === 'wrong epoch')!;
  wrongEpoch.encoded = wrongEpoch.encoded.slice(0, -2) + (wrongEpoch.encoded.endsWith('2a') ? '2b' : '2a'); // currentEpoch 42 → 43
  const p1 = checkVectorFile(st, flipped);
  assert.ok(p1.some((p) => p.case === 'wrong epoch' && /not the value given/.test(p.problem)), JSON.stringify(p1));
  assert.ok(p1.some((p) => p.case === 'wrong epoch' && /other bytes/.test(p.problem)));

  const cut = structuredClone(file);
  cut.cases[0].encoded = cut.cases[0].encoded.slice(0, -4);
  assert.ok(checkVectorFile(st, cut).some((p) => /does not decode/.test(p.problem)));

  const otherValue = structuredClone(file);
  (otherValue.cases[1].value as { currentEpoch: { uint64: string } }).currentEpoch = { uint64: '43' };
  const p3 = checkVectorFile(st, otherValue);
  assert.ok(p3.some((p) => /other bytes/.test(p.problem)));

  const badHex = structuredClone(file);
  badHex.cases[0].encoded = 'ABC';
  assert.ok(checkVectorFile(st, badHex).some((p) => /lower-case hex/.test(p.problem)));
});

test('a directory missing a structure, or naming one we do not know, is reported', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mimi-vectors-'));
  try {
    for (const f of fs.readdirSync(PUBLISHED)) fs.copyFileSync(path.join(PUBLISHED, f), path.join(dir, f));
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    index.files = index.files.filter((f: { structure: string }) => f.structure !== 'Frank');
    index.files.push({ structure: 'NoSuchThing', file: 'NoSuchThing.json', cases: 1 }, { structure: 'Knock', file: '../etc/passwd', cases: 1 });
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
    const problems = checkVectorDir(dir).problems.map((p) => p.problem);
    assert.ok(problems.includes('no file for Frank'));
    assert.ok(problems.includes('unknown structure NoSuchThing'));
    assert.ok(problems.some((p) => /must not contain a path/.test(p)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the JSON form: bytes and uint64 tagged, raw left out, malformed tags refused', () => {
  const v = { a: new Uint8Array([0, 255]), n: 18446744073709551615n, raw: new Uint8Array(3), list: [1, 'x', null], gone: undefined };
  const j = toVectorJson(v);
  assert.deepEqual(j, { a: { hex: '00ff' }, n: { uint64: '18446744073709551615' }, list: [1, 'x', null] });
  assert.deepEqual(fromVectorJson(j), { a: new Uint8Array([0, 255]), n: 18446744073709551615n, list: [1, 'x', null] });
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
  for (const bad of [{ hex: "abc" }, { hex: "AB" }, { uint64: "-1" }, { uint64: "18446744073709551616" }, { uint64: "01" }] as Json[]) {
    assert.throws(() => fromVectorJson(bad), VectorJsonError, JSON.stringify(bad));
  }
  assert.throws(() => toVectorJson({ f: () => 1 }), VectorJsonError);
});
