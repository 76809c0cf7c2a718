// A node:test reporter that adds up the time of each test file's top-level tests and prints the
// slowest files at the end of the run. The suite has a time budget (README, Tests): this shows where
// it goes, in every local run and in CI's log, without running each file on its own. It also lists
// each failed test with the file the runner ran: a file of the PostgreSQL pass
// (test/.postgres-pass/) runs the same tests as its SQLite original, so only the file says which
// engine failed.
/**
 * The source a test file was run from: test/.bundled/integration--x.test.mjs is
 * test/integration/x.test.ts, test/.bundled/postgres-pass--x.test.mjs its PostgreSQL copy
 * test/.postgres-pass/x.test.ts (scripts/bundle-tests.mjs).
 */
export function sourceOf(file) {
  const rel = file.replace(process.cwd() + '/', '');
  const m = /^test\/\.bundled\/([^/]+?)--(.+)\.mjs$/.exec(rel);
  if (!m) return rel;
  return `test/${m[1] === 'postgres-pass' ? '.postgres-pass' : m[1]}/${m[2]}.ts`;
}

export default async function* fileTimes(source) {
  const perFile = new Map();
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    if (event.type === 'test:fail' && data.file && !(data.details?.error?.failureType === 'subtestsFailed')) {
      failed.push(`${sourceOf(data.file)}: ${data.name}`);
    }
    // Nesting 0 is a top-level test or suite of a file; its duration includes its subtests.
    if (data.nesting !== 0 || !data.file) continue;
    const file = sourceOf(data.file);
    const entry = perFile.get(file) ?? { ms: 0, tests: 0 };
    entry.ms += data.details?.duration_ms ?? 0;
    entry.tests += 1;
    perFile.set(file, entry);
  }
  const rows = [...perFile.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((sum, [, e]) => sum + e.ms, 0);
  yield `\nTest time by file (sum of top-level tests, all files ${(total / 1000).toFixed(0)} s):\n`;
  const byDir = new Map();
  for (const [file, e] of rows) {
    const dir = file.split('/').slice(0, -1).join('/') || '.';
    byDir.set(dir, (byDir.get(dir) ?? 0) + e.ms);
  }
  yield `by folder: ${[...byDir].sort((a, b) => b[1] - a[1]).map(([d, ms]) => `${d} ${(ms / 1000).toFixed(0)} s`).join(', ')}\n`;
  for (const [file, e] of rows.slice(0, 40)) {
    yield `${(e.ms / 1000).toFixed(1).padStart(7)} s  ${String(e.tests).padStart(3)} tests  ${file}\n`;
  }
  if (failed.length > 0) {
    yield `\nFailed (${failed.length}), by the file the runner ran:\n`;
    for (const f of failed) yield `  ${f}\n`;
  }
}
