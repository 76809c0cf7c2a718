// `mimi interop vectors DIR` writes the project's MIMI test vectors (vectors.ts) as JSON files, one
// per structure plus index.json; `mimi interop vectors --check DIR` reads such a directory (ours,
// or one another implementation wrote in the same layout) and checks every case against our
// decoders and encoders. The layout is in docs/interop-vectors.md.

import fs from 'node:fs';
import path from 'node:path';
import { fromHex, toHex } from '../../src-shared/bytes.js';
import { createMlsEngine } from '../mls/ts-mls-engine.js';
import { canonicalJson, fromVectorJson, toVectorJson, type Json } from './vector-json.js';
import { buildCases, encodeStructure, STRUCTURES, VECTORS_FORMAT, VECTORS_VERSION, type Structure } from './vectors.js';

export interface VectorFile {
  format: string;
  version: number;
  structure: string;
  spec: string;
  cases: { name: string; value: Json; encoded: string }[];
}

export interface VectorIndex {
  format: string;
  version: number;
  description: string;
  mlsCiphersuite: number;
  files: { structure: string; file: string; cases: number }[];
}

/** Writes every structure's file and the index into `dir` (created; files already there are replaced). */
export async function writeVectors(dir: string): Promise<VectorIndex> {
  const engine = await createMlsEngine();
  const cases = await buildCases(engine);
  fs.mkdirSync(dir, { recursive: true });
  const index: VectorIndex = {
    format: VECTORS_FORMAT,
    version: VECTORS_VERSION,
    description: 'Test vectors for MIMI structures, written by mimi-desktop (docs/interop-vectors.md). Bytes are {"hex": ...}, uint64 values {"uint64": "decimal"}.',
    mlsCiphersuite: 1,
    files: [],
  };
  for (const st of STRUCTURES) {
    const list = cases.get(st.name);
    if (!list || list.length === 0) throw new Error(`no vector cases for ${st.name}`);
    const file: VectorFile = {
      format: VECTORS_FORMAT,
      version: VECTORS_VERSION,
      structure: st.name,
      spec: st.spec,
      cases: list.map((c) => {
        const encoded = encodeStructure(st, c.value);
        // The value as our decoder reads it back (embedded MLS structs with every field), so the
        // file holds exactly what the bytes say.
        return { name: c.name, value: toVectorJson(st.decode(encoded)), encoded: toHex(encoded) };
      }),
    };
    const name = `${st.name}.json`;
    writeFileAtomic(path.join(dir, name), JSON.stringify(file, null, 2) + '\n');
    index.files.push({ structure: st.name, file: name, cases: file.cases.length });
  }
  writeFileAtomic(path.join(dir, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  return index;
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export interface VectorProblem {
  file: string;
  case?: string;
  problem: string;
}

/** Every case of one file against our codec: decoding `encoded` gives `value`, encoding `value` gives `encoded`. */
export function checkVectorFile(st: Structure, file: VectorFile, fileName = `${st.name}.json`): VectorProblem[] {
  const problems: VectorProblem[] = [];
  if (file.format !== VECTORS_FORMAT || file.version !== VECTORS_VERSION) problems.push({ file: fileName, problem: `format ${file.format} v${file.version}; expected ${VECTORS_FORMAT} v${VECTORS_VERSION}` });
  if (file.structure !== st.name) problems.push({ file: fileName, problem: `structure ${file.structure}; expected ${st.name}` });
  if (!Array.isArray(file.cases) || file.cases.length === 0) return [...problems, { file: fileName, problem: 'no cases' }];
  for (const c of file.cases) {
    const where = { file: fileName, case: String(c.name) };
    let bytes: Uint8Array;
    try {
      if (typeof c.encoded !== 'string' || !/^([0-9a-f]{2})*$/.test(c.encoded)) throw new Error('"encoded" must be lower-case hex');
      bytes = fromHex(c.encoded);
    } catch (e) {
      problems.push({ ...where, problem: (e as Error).message });
      continue;
    }
    try {
      const decoded = canonicalJson(toVectorJson(st.decode(bytes)));
      if (decoded !== canonicalJson(c.value)) problems.push({ ...where, problem: `decodes to ${decoded.slice(0, 200)}…, not the value given` });
    } catch (e) {
      problems.push({ ...where, problem: `does not decode: ${(e as Error).message}` });
    }
    try {
      const encoded = toHex(encodeStructure(st, fromVectorJson(c.value)));
      if (encoded !== c.encoded) problems.push({ ...where, problem: 'the value encodes to other bytes' });
    } catch (e) {
      problems.push({ ...where, problem: `the value does not encode: ${(e as Error).message}` });
    }
  }
  return problems;
}

/** Every file an index in `dir` names; structures we know but the directory lacks are problems too. */
export function checkVectorDir(dir: string): { checked: number; cases: number; problems: VectorProblem[] } {
  const problems: VectorProblem[] = [];
  let index: VectorIndex;
  try {
    index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as VectorIndex;
  } catch (e) {
    return { checked: 0, cases: 0, problems: [{ file: 'index.json', problem: `cannot be read: ${(e as Error).message}` }] };
  }
  let checked = 0;
  let cases = 0;
  const listed = new Set(index.files.map((f) => f.structure));
  for (const st of STRUCTURES) if (!listed.has(st.name)) problems.push({ file: 'index.json', problem: `no file for ${st.name}` });
  for (const entry of index.files) {
    const st = STRUCTURES.find((x) => x.name === entry.structure);
    if (!st) {
      problems.push({ file: entry.file, problem: `unknown structure ${entry.structure}` });
      continue;
    }
    if (path.basename(entry.file) !== entry.file) {
      problems.push({ file: entry.file, problem: 'a file name in the index must not contain a path' });
      continue;
    }
    let file: VectorFile;
    try {
      file = JSON.parse(fs.readFileSync(path.join(dir, entry.file), 'utf8')) as VectorFile;
    } catch (e) {
      problems.push({ file: entry.file, problem: `cannot be read: ${(e as Error).message}` });
      continue;
    }
    checked++;
    cases += Array.isArray(file.cases) ? file.cases.length : 0;
    problems.push(...checkVectorFile(st, file, entry.file));
  }
  return { checked, cases, problems };
}

/** The CLI entry: `interop vectors DIR` or `interop vectors --check DIR`. */
export async function vectorsCommand(args: string[], flags: Record<string, string | boolean>): Promise<void> {
  const check = flags.check === true || flags.check === 'true';
  if (args.length !== 1) throw new Error(`usage: mimi interop vectors ${check ? '--check ' : ''}DIR`);
  const dir = path.resolve(args[0]);
  if (check) {
    const r = checkVectorDir(dir);
    for (const p of r.problems) process.stdout.write(`FAIL\t${p.file}${p.case ? `\t${p.case}` : ''}\t${p.problem}\n`);
    process.stdout.write(`${r.checked} file(s), ${r.cases} case(s) checked: ${r.problems.length === 0 ? 'all pass' : `${r.problems.length} problem(s)`}\n`);
    if (r.problems.length > 0) process.exitCode = 1;
    return;
  }
  const index = await writeVectors(dir);
  const total = index.files.reduce((n, f) => n + f.cases, 0);
  process.stdout.write(`${index.files.length} structures, ${total} cases written to ${dir} (index.json lists them)\n`);
}
