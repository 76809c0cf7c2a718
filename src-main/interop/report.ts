// How `mimi interop check` prints its rows: a table for people (one line per probe with what came
// back, the requirement indented under it) or JSON for scripts (an array, one object per row).
//
// Pure: no I/O.

import type { Row } from './check.js';
import type { Verdict } from './probes.js';

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** The section number of "5.3 Update Room State". */
const sectionNumber = (section: string): string => `§${section.split(' ')[0]}`;

export function tableHeader(idWidth: number): string {
  return `${pad('RESULT', 7)}${pad('PROBE', idWidth + 2)}${pad('SECTION', 9)}GOT\n`;
}

export function tableRow(r: Row, idWidth: number): string {
  const indent = ' '.repeat(7);
  return `${pad(r.result, 7)}${pad(r.id, idWidth + 2)}${pad(sectionNumber(r.section), 9)}${r.got}\n${indent}requires (${r.section}, ${r.level.toUpperCase()}): ${r.requirement}\n`;
}

export function summary(rows: Row[]): string {
  const count = (v: Verdict) => rows.filter((r) => r.result === v).length;
  return `${count('PASS')} passed, ${count('FAIL')} failed, ${count('WARN')} warned (advice, not a draft-06 MUST), ${count('SKIP')} skipped\n`;
}

export const toJson = (rows: Row[]): string => JSON.stringify(rows, null, 2) + '\n';
