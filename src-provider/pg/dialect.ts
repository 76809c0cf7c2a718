// The provider's SQL is written for SQLite; on PostgreSQL (issue 17) the same statements run after
// this rewrite, done once per statement when it is prepared. Only what the provider's statements use
// is rewritten, and each rule is one the two engines agree on once rewritten:
//
//   ?                       → $1, $2, … (positional parameters, in order of appearance)
//   INSERT OR IGNORE INTO … → INSERT INTO … ON CONFLICT DO NOTHING (before any RETURNING)
//   x IS ? / x IS NOT ?     → IS [NOT] DISTINCT FROM (SQLite's IS compares any two values)
//   AS camelCase            → AS "camelCase" (PostgreSQL folds unquoted names to lower case)
//   rowid                   → row_order (an identity column the PostgreSQL schema adds where the
//                             provider orders by insertion: pg/schema.ts v2)
//   instr(a, b)             → strpos(a, b)
//   max(a, b) / min(a, b)   → GREATEST(a, b) / LEAST(a, b) (SQLite's scalar max/min of two or more
//                             plain arguments; PostgreSQL's max/min are aggregates only. Arguments
//                             with parentheses of their own are not matched: write those per engine)
//   group_concat(DISTINCT x)→ string_agg(DISTINCT x::text, ',')
//   json_each(?) [j]        → json_array_elements_text(?::json) WITH ORDINALITY AS j(value, key)
//                             (the provider passes JSON arrays: value and key as SQLite names them)
//   x'ABCD'                 → '\xABCD'::bytea (a blob literal)
//   x = ? COLLATE NOCASE    → lower(x) = lower(?) (the PostgreSQL index is on lower(email))
//   INSERT INTO t … (no RETURNING, no ON CONFLICT) into a table with an identity column
//                           → … RETURNING that column, read back as run()'s lastInsertRowid
//
// Quoted strings, quoted identifiers and comments are left as they are. What is not here is not
// used; statements that differ beyond these rules are written per engine where they are prepared
// (store.ts: the json_each statements; directory-search.ts: the e-mail comparison).

/** Splits SQL into code and the spans the rewrite must not touch (strings, quoted names, comments). */
function segments(sql: string): { code: boolean; text: string }[] {
  const out: { code: boolean; text: string }[] = [];
  let i = 0;
  let start = 0;
  const push = (code: boolean, end: number) => {
    if (end > start) out.push({ code, text: sql.slice(start, end) });
    start = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      push(true, i);
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw new Error(`unterminated ${c} in SQL: ${sql.slice(i, i + 40)}`);
        if (sql[j] === c) {
          if (sql[j + 1] === c) j += 2; // a doubled quote inside
          else break;
        } else j++;
      }
      i = j + 1;
      push(false, i);
    } else if (c === '-' && sql[i + 1] === '-') {
      push(true, i);
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl;
      push(false, i);
    } else if (c === '/' && sql[i + 1] === '*') {
      push(true, i);
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new Error('unterminated comment in SQL');
      i = end + 2;
      push(false, i);
    } else i++;
  }
  push(true, sql.length);
  return out;
}

const rules: [RegExp, string][] = [
  [/\bIS\s+NOT\s+\?/gi, 'IS DISTINCT FROM ?'],
  [/\bIS\s+\?/gi, 'IS NOT DISTINCT FROM ?'],
  [/\bAS\s+([a-z][a-z0-9]*[A-Z][A-Za-z0-9]*)\b/g, 'AS "$1"'],
  [/\browid\b/gi, 'row_order'],
  [/\binstr\s*\(/gi, 'strpos('],
  [/\bmax\s*\(([^(),]+(?:,[^(),]+)+)\)/gi, 'GREATEST($1)'],
  [/\bmin\s*\(([^(),]+(?:,[^(),]+)+)\)/gi, 'LEAST($1)'],
  [/\bjson_each\(\s*\?\s*\)\s+(?!WHERE\b|ORDER\b|GROUP\b|LIMIT\b)([a-z_]\w*)/gi, 'json_array_elements_text(?::json) WITH ORDINALITY AS $1(value, key)'],
  [/\bjson_each\(\s*\?\s*\)/gi, 'json_array_elements_text(?::json) WITH ORDINALITY AS je(value, key)'],
  [/\b([a-z_]\w*(?:\.[a-z_]\w*)?)\s*=\s*\?\s+COLLATE\s+NOCASE\b/gi, 'lower($1) = lower(?)'],
  [/\bgroup_concat\s*\(\s*DISTINCT\s+([\w.]+)\s*\)/gi, "string_agg(DISTINCT $1::text, ',')"],
];

export interface PgStatementText {
  text: string;
  /** How many positional parameters the statement takes. */
  params: number;
  /** An INSERT given a RETURNING of the table's identity column (its run() reports it). */
  returnsId: boolean;
}

/**
 * toPostgres with `identities`: table → its identity column (from the PostgreSQL schema, see
 * identityColumns), so an INSERT's new id comes back as SQLite's lastInsertRowid does.
 */
export function toPostgres(sql: string, identities: ReadonlyMap<string, string> = new Map()): PgStatementText {
  // Blob literals first: their quotes would otherwise make them strings to leave alone.
  const segs = segments(sql.replace(/(^|[^\w'])x'([0-9a-f]*)'/gi, "$1'\\x$2'::bytea"));
  let ignore = false;
  for (const s of segs) {
    if (!s.code) continue;
    let t = s.text;
    if (/\bINSERT\s+OR\s+IGNORE\s+INTO\b/i.test(t)) {
      ignore = true;
      t = t.replace(/\bINSERT\s+OR\s+IGNORE\s+INTO\b/i, 'INSERT INTO');
    }
    if (/\bINSERT\s+OR\s+REPLACE\b/i.test(t)) throw new Error('INSERT OR REPLACE has no PostgreSQL form here: write INSERT … ON CONFLICT (…) DO UPDATE');
    for (const [re, to] of rules) t = t.replace(re, to);
    s.text = t;
  }
  let n = 0;
  for (const s of segs) if (s.code) s.text = s.text.replace(/\?/g, () => `$${++n}`);
  let text = segs.map((s) => s.text).join('').trim();
  if (ignore) {
    if (/;\s*\S/.test(text)) throw new Error('INSERT OR IGNORE is rewritten in single statements only');
    text = text.replace(/;\s*$/, '');
    const ret = /\bRETURNING\b[^']*$/i.exec(text);
    text = ret ? `${text.slice(0, ret.index)}ON CONFLICT DO NOTHING ${text.slice(ret.index)}` : `${text} ON CONFLICT DO NOTHING`;
  }
  let returnsId = false;
  const insert = /^INSERT\s+INTO\s+([a-z_]\w*)/i.exec(text);
  const id = insert ? identities.get(insert[1].toLowerCase()) : undefined;
  if (id && !/\b(RETURNING|ON\s+CONFLICT)\b/i.test(text) && !/;\s*\S/.test(text)) {
    text = `${text.replace(/;\s*$/, '')} RETURNING ${id}`;
    returnsId = true;
  }
  return { text, params: n, returnsId };
}

/** Each table's identity column in PostgreSQL DDL (`<col> BIGINT GENERATED … AS IDENTITY`). */
export function identityColumns(ddl: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const sql of ddl) {
    for (const m of sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_]\w*)\s*\(([^;]*?)\n\s*\);/gi)) {
      const col = /^\s*([a-z_]\w*)\s+BIGINT\s+GENERATED\s+(?:BY DEFAULT|ALWAYS)\s+AS\s+IDENTITY/im.exec(m[2]);
      if (col) out.set(m[1].toLowerCase(), col[1]);
    }
  }
  return out;
}
